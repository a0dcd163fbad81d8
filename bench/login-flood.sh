#!/usr/bin/env bash
# /auth latency under a wrong-password flood at the login form, in one run.
#
# Starts mcpguard with the local provider (the demo users, bcrypt cost 12) and an API key,
# and measures /auth p50 and p99 with wrk (-t1 -c20) three times: alone; while a second
# wrk floods /login with wrong passwords for one account from one address (the lockouts
# turn it away after a few attempts); and while the flood claims a new address and
# account on every request (each attempt then costs a bcrypt check, which runs in at
# most half the CPUs' worth of slots). A benchmark, not a test: the figures depend on
# the machine. MCPGUARD_BIN=path measures that build instead of a fresh one (an earlier
# commit's, for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
PORT=${PORT:-18011}
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q wrk >/dev/null || {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q wrk >/dev/null; }
fi

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bin=${MCPGUARD_BIN:-$work/mcpguard}
[ -n "${MCPGUARD_BIN:-}" ] || make -s build BIN="$bin" VERSION=bench

key="bench-key-0123456789abcdef"
base="http://127.0.0.1:$PORT"
LISTEN_ADDR="127.0.0.1:$PORT" ISSUER_URL="$base" DEV_MODE=true PROVIDER=local \
  LOCAL_USERS_FILE=examples/demo-users.yaml STORE="bolt://$work/mcpguard.db" MCP_PROXY_API_KEY="$key" \
  RESOURCE_URL=https://mcp.example.com/mcp TRUSTED_PROXIES=127.0.0.0/8 LOG_LEVEL=warn \
  "$bin" > "$work/out" 2> "$work/log" & pid=$!
for _ in $(seq 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# A login form: its CSRF token and the session cookie it is bound to.
page=$(curl -sS -c "$work/jar" "$base/login")
export FLOOD_CSRF
FLOOD_CSRF=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$page" | head -1)
export FLOOD_COOKIE
FLOOD_COOKIE=$(sed 's/^#HttpOnly_//' "$work/jar" | awk '!/^#/ && NF >= 7 {printf "%s=%s", $6, $7}')
[ -n "$FLOOD_CSRF" ] && [ -n "$FLOOD_COOKIE" ] || { echo "no login form at $base/login" >&2; exit 1; }

auth() {
  wrk -t1 -c20 -d"$DURATION" --latency -H "X-Forwarded-Method: POST" -H "X-Forwarded-Proto: https" \
    -H "X-Forwarded-Host: mcp.example.com" -H "X-Forwarded-Uri: /mcp" -H "X-API-Key: $key" "$base/auth" |
    awk '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf "%8.0f req/s  p50 %-8s p99 %s", rps, p50, p99}'
}
flood() { # SPREAD: the /login answers of a flood running as long as the /auth run
  FLOOD_SPREAD=$1 wrk -t1 -c4 -d"$DURATION" -s bench/login-flood.lua "$base/login" |
    awk '/^Requests\/sec:/ {printf "%.1f logins/s", $2}'
}

echo "wrk -t1 -c20 -d$DURATION against /auth, on $(nproc) cores, $(go version | awk '{print $3}')"
printf '%-34s %s\n' "alone" "$(auth)"
f="$work/flood"; flood 0 > "$f" & fp=$!; a=$(auth); wait $fp
printf '%-34s %s  (flood: %s)\n' "flood, one account and address" "$a" "$(cat "$f")"
flood 1 > "$f" & fp=$!; a=$(auth); wait $fp
printf '%-34s %s  (flood: %s)\n' "flood, a new address every try" "$a" "$(cat "$f")"
