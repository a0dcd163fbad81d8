#!/usr/bin/env bash
# Installs the official MCP TypeScript SDK (@modelcontextprotocol/sdk) that the TSSDK
# end-to-end test runs, from the npm registry at the version the committed
# package-lock.json pins, into a cache outside the repository
# ($XDG_CACHE_HOME/mcpguard/tsclient-<lock hash>/node_modules, XDG_CACHE_HOME defaulting to
# ~/.cache; the test reads the same path). Quiet and idempotent: instant when cached.
set -euo pipefail
cd "$(dirname "$0")/.."

src=cmd/mcpguard/internal/e2e/testdata/tsclient
if ! command -v npm >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() { $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	apt_install 2>/dev/null || { $sudo apt-get update -qq >/dev/null; apt_install; }
fi
hash=$(sha256sum "$src/package-lock.json" | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/tsclient-$hash"
[ -f "$dir/node_modules/@modelcontextprotocol/sdk/package.json" ] && exit 0
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
npm ci --prefix "$dir" --no-audit --no-fund --silent >/dev/null
