#!/usr/bin/env bash
# Installs the real peers the end-to-end tests run: Dex (built from source), and nginx
# (with auth_request) and Caddy from Debian's packages when they are not on the PATH.
set -euo pipefail

# Dex, the real OIDC provider of the JWT end-to-end test, built from the Go module proxy
# into a cache outside the repository (about 2 minutes cold, instant afterwards).
"$(dirname "$0")/build-dex.sh" >/dev/null
# Traefik v3.7.12, the proxy of the Traefik end-to-end tests, built from the Go module proxy
# into a cache outside the repository (about 12 minutes cold on 2 CPUs, seconds afterwards).
"$(dirname "$0")/build-traefik.sh" >/dev/null
# Headless Chromium for the browser test of the login and consent pages.
"$(dirname "$0")/install-browser.sh"

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian starts the packaged services; the tests run their own instances on loopback.
$sudo service nginx stop >/dev/null 2>&1 || true
$sudo service caddy stop >/dev/null 2>&1 || true
