#!/usr/bin/env bash
# Installs the upstream routers of the differential path test (TestRouters*): Flask from
# Debian's python3-flask for the system python3, and Express from the npm registry at the
# version the committed package-lock.json pins, into a cache outside the repository
# ($XDG_CACHE_HOME/mcpguard/routers-<lock hash>/node_modules, XDG_CACHE_HOME defaulting to
# ~/.cache; the test reads the same path). Quiet and idempotent: seconds when cached.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

if ! /usr/bin/python3 -c 'import flask' 2>/dev/null; then
	apt_install() { $sudo apt-get install -y -qq --no-install-recommends python3-flask >/dev/null; }
	apt_install 2>/dev/null || { $sudo apt-get update -qq >/dev/null; apt_install; }
fi

scripts/install-npm-testdata.sh routers express
