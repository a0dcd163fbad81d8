#!/usr/bin/env bash
# Load test of /auth against a ceiling measured in the same run.
#
# Builds mcpguard (make build) and bench/ceiling (a net/http handler that answers 200),
# starts both on loopback, runs wrk against each (the same -t2 -c50 -d10s load, wrk and
# server sharing the machine's cores) and prints requests/s, p50 latency and the ratio of
# each mcpguard case to the ceiling, which receives the identical request (same headers,
# credential included). Cases: a valid API key, a valid cached JWT, and a rejected request. A benchmark, not a test: the machine's noise decides the last digit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT_CEIL=${PORT_CEIL:-18001}
PORT_GUARD=${PORT_GUARD:-18002}

if ! command -v wrk >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q wrk >/dev/null || {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q wrk >/dev/null; }
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

make -s build BIN="$work/mcpguard" VERSION=bench
go build -o "$work/ceiling" ./bench/ceiling
go build -o "$work/benchjwt" ./bench/benchjwt

"$work/ceiling" -addr "127.0.0.1:$PORT_CEIL" & pids+=($!)

# A local issuer (discovery + JWKS) and one token it signed, for the JWT case.
"$work/benchjwt" -addr 127.0.0.1:18003 -audience https://mcp.example.com/mcp > "$work/token" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/token" ] && break; sleep 0.1; done
token=$(cat "$work/token")

key="bench-key-0123456789abcdef"
LISTEN_ADDR="127.0.0.1:$PORT_GUARD" MCP_PROXY_API_KEY="$key" RESOURCE_URL=https://mcp.example.com/mcp \
  JWT_ISSUERS="http://127.0.0.1:18003=https://mcp.example.com/mcp" LOG_LEVEL=warn \
  "$work/mcpguard" > "$work/mcpguard.out" 2> "$work/mcpguard.log" & pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT_GUARD/readyz" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$PORT_CEIL/" >/dev/null 2>&1 && break
  sleep 0.1
done

# wrk sends the same forwarded headers to both servers, so request sizes match.
common=(-H "X-Forwarded-Method: POST" -H "X-Forwarded-Proto: https" -H "X-Forwarded-Host: mcp.example.com"
        -H "X-Forwarded-Uri: /mcp" -H "X-Forwarded-For: 198.51.100.7")

# run NAME URL [headers...]: prints "NAME req/s p50"
run() {
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${common[@]}" "$@" "$url")
  local rps p50 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-22s %12s req/s   p50 %8s   non-2xx %s\n' "$name" "$rps" "$p50" "${non2xx:-0}"
  echo "$rps" > "$work/$name.rps"
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION on $(nproc) cores, $(go version | awk '{print $3}')"
echo "each case: the same request to the ceiling, then to mcpguard's /auth"
# pair NAME [headers...]: the identical request to both servers, one after the other.
pair() {
  local name=$1; shift
  run "$name-ceiling" "http://127.0.0.1:$PORT_CEIL/auth" "$@"
  run "$name" "http://127.0.0.1:$PORT_GUARD/auth" "$@"
}
pair apikey     -H "X-API-Key: $key"
pair jwt-cached -H "Authorization: Bearer $token"
pair rejected   -H "X-API-Key: wrong-key-0123456789"

echo
for c in apikey jwt-cached rejected; do
  awk -v c="$c" -v r="$(cat "$work/$c.rps")" -v k="$(cat "$work/$c-ceiling.rps")" \
    'BEGIN {printf "%-12s %.2f of the ceiling (%.0f of %.0f req/s)\n", c, r/k, r, k}'
done
