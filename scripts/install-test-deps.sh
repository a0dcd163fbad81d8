#!/usr/bin/env bash
# Installs the real peers the end-to-end tests run: Dex and Traefik (built from source),
# headless Chromium, the Express and Flask upstreams of the differential path test, the
# official MCP TypeScript SDK, the MCP conformance suite, nginx (with auth_request) and
# Caddy from Debian's packages when they are not on the PATH, and redis-server and
# PostgreSQL, the servers the store tests start. Each step prints a line with its usual
# duration first.
set -euo pipefail

# step says what is about to run and how long it usually takes, before it runs.
step() { echo "test-deps: $*"; }

# Dex, the real OIDC provider of the JWT end-to-end test, built from the Go module proxy
# into a cache outside the repository.
step "building Dex v2.45.1 from source (about 2 minutes cold on 2 CPUs, instant when cached)…"
"$(dirname "$0")/build-dex.sh" >/dev/null
# Traefik v3.7.12, the proxy of the Traefik end-to-end tests, built from the Go module proxy
# into a cache outside the repository.
step "building Traefik v3.7.12 from source (about 12 minutes cold on 2 CPUs, seconds when cached)…"
"$(dirname "$0")/build-traefik.sh" >/dev/null
# Headless Chromium for the browser test of the login and consent pages.
step "installing headless Chromium from Debian when missing (about a minute, instant when installed)…"
"$(dirname "$0")/install-browser.sh"
# The upstream routers of the differential path test: Flask from Debian, Express from npm.
step "installing the Express and Flask upstreams when missing (under a minute, instant when cached)…"
"$(dirname "$0")/install-routers.sh"
# The official MCP TypeScript SDK, whose client-credentials providers the TSSDK test runs.
step "installing the MCP TypeScript SDK from npm when missing (about 10 seconds, instant when cached)…"
"$(dirname "$0")/install-tsclient.sh"
# mcp-remote and the MCP Inspector (with the Node.js 22 it needs), the npm clients the
# MCPRemote and MCPInspector tests run.
step "installing mcp-remote and the MCP Inspector from npm when missing (about a minute, instant when cached)…"
"$(dirname "$0")/install-npmclients.sh"
# The official MCP conformance suite, the SDK's everything server and the Node.js 22 the
# suite requires, for the Conformance tests.
step "installing the MCP conformance suite, the everything server and Node.js 22 from npm when missing (about 30 seconds, instant when cached)…"
"$(dirname "$0")/install-conformance.sh"

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
    step "nginx, Caddy, redis-server and PostgreSQL are installed"
    exit 0
fi

step "installing ${need[*]} from Debian (about a minute)…"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian starts the packaged services; the tests run their own instances on loopback.
$sudo service nginx stop >/dev/null 2>&1 || true
$sudo service caddy stop >/dev/null 2>&1 || true
$sudo service redis-server stop >/dev/null 2>&1 || true
$sudo service postgresql stop >/dev/null 2>&1 || true
