#!/usr/bin/env bash
# Installs the official MCP TypeScript SDK (@modelcontextprotocol/sdk) that the TSSDK
# end-to-end test runs, from the npm registry at the version the committed
# package-lock.json pins, into a cache outside the repository
# ($XDG_CACHE_HOME/mcpguard/tsclient-<lock hash>/node_modules, XDG_CACHE_HOME defaulting to
# ~/.cache; the test reads the same path). Quiet and idempotent: instant when cached.
set -euo pipefail
exec "$(dirname "$0")/install-npm-testdata.sh" tsclient @modelcontextprotocol/sdk
