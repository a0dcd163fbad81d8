#!/usr/bin/env bash
# Load test of /auth against a ceiling measured in the same run.
#
# Builds mcpguard (make build) and bench/ceiling (a net/http handler that answers 200),
# starts both on loopback and runs wrk against each (-t2 -c50, wrk and the servers
# sharing the machine's cores). Cases: a valid API key, a valid cached JWT, and a
# rejected request. The ceiling receives the identical request (same headers,
# credential included). mcpguard runs as shipped: default log level, so every decision
# writes its audit line (to a file here).
#
# A second baseline, the floor (bench/ceiling -identity), answers the API key case with
# the identity headers every allow must carry and does nothing else: the ceiling/floor
# ratio is what the contract's response costs by itself, whatever the implementation.
#
# BASELINE_BIN=path/to/an/earlier/mcpguard adds that build as a third server with the
# same configuration, so a change is measured against the code it replaces in one run
# (make build BIN=/tmp/mcpguard-before on the earlier commit first).
#
# Shared machines drift by more than the differences measured, so each case is run in
# ROUNDS rounds, the servers back to back in an order that rotates every round, and the
# script prints each round's figures and the median ratios. A benchmark, not a test:
# the machine's noise decides the last digit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT_CEIL=${PORT_CEIL:-18001}
PORT_GUARD=${PORT_GUARD:-18002}
PORT_IDP=${PORT_IDP:-18003}
PORT_FLOOR=${PORT_FLOOR:-18004}
PORT_BASE=${PORT_BASE:-18005}
BASELINE_BIN=${BASELINE_BIN:-}

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
"$work/ceiling" -addr "127.0.0.1:$PORT_FLOOR" -identity & pids+=($!)

# A local issuer (discovery + JWKS) and one token it signed, for the JWT case.
"$work/benchjwt" -addr "127.0.0.1:$PORT_IDP" -audience https://mcp.example.com/mcp > "$work/token" & pids+=($!)
for _ in $(seq 50); do [ -s "$work/token" ] && break; sleep 0.1; done
token=$(cat "$work/token")

key="bench-key-0123456789abcdef"
# guard BINARY PORT NAME: one mcpguard with the benchmark's configuration.
guard() {
  LISTEN_ADDR="127.0.0.1:$2" MCP_PROXY_API_KEY="$key" RESOURCE_URL=https://mcp.example.com/mcp \
    JWT_ISSUERS="http://127.0.0.1:$PORT_IDP=https://mcp.example.com/mcp" TRUSTED_PROXIES=127.0.0.0/8 \
    "$1" > "$work/$3.out" 2> "$work/$3.log" & pids+=($!)
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$3 did not become ready" >&2; exit 1
}
guard "$work/mcpguard" "$PORT_GUARD" mcpguard
[ -n "$BASELINE_BIN" ] && guard "$BASELINE_BIN" "$PORT_BASE" baseline
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT_CEIL/" >/dev/null 2>&1 && break
  sleep 0.1
done

# wrk sends the same forwarded headers to both servers, so request sizes match.
common=(-H "X-Forwarded-Method: POST" -H "X-Forwarded-Proto: https" -H "X-Forwarded-Host: mcp.example.com"
        -H "X-Forwarded-Uri: /mcp" -H "X-Forwarded-For: 198.51.100.7")
declare -A creds=(
  [apikey]="X-API-Key: $key"
  [jwt-cached]="Authorization: Bearer $token"
  [rejected]="X-API-Key: wrong-key-0123456789"
)
cases=(apikey jwt-cached rejected)

# run NAME PORT HEADER: one wrk run; appends "rps p50_us" to $work/NAME.
run() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${common[@]}" -H "$3" "http://127.0.0.1:$2/auth")
  awk '/^Requests\/sec:/ {rps=$2}
       $1=="50%" {v=$2; u=1; if (v ~ /us$/) u=1; else if (v ~ /ms$/) u=1000; else if (v ~ /s$/) u=1e6; sub(/[a-z]+$/, "", v); p=v*u}
       END {printf "%s %.0f\n", rps, p}' <<<"$out" >> "$work/$1"
}

# servers CASE: the servers a case runs against, "name:port" each.
servers() {
  echo "ceiling:$PORT_CEIL"
  [ "$1" = apikey ] && echo "floor:$PORT_FLOOR"
  echo "mcpguard:$PORT_GUARD"
  [ -n "$BASELINE_BIN" ] && echo "baseline:$PORT_BASE"
  return 0
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, on $(nproc) cores, $(go version | awk '{print $3}')"
printf '%-6s %-11s %-9s %10s %9s %8s\n' round case server req/s p50 ratio
for round in $(seq "$ROUNDS"); do
  for c in "${cases[@]}"; do
    mapfile -t list < <(servers "$c")
    n=${#list[@]}
    for i in $(seq 0 $((n - 1))); do # rotate the order by round
      IFS=: read -r name port <<<"${list[$(( (i + round) % n ))]}"
      run "$c-$name" "$port" "${creds[$c]}"
    done
    read -r cr _ < <(tail -1 "$work/$c-ceiling")
    for entry in "${list[@]}"; do
      name=${entry%%:*}
      read -r r p < <(tail -1 "$work/$c-$name")
      awk -v rd="$round" -v c="$c" -v n="$name" -v r="$r" -v p="$p" -v cr="$cr" \
        'BEGIN {printf "%-6s %-11s %-9s %10.0f %7.0fus %8.2f\n", rd, c, n, r, p, r/cr}'
    done
  done
done

# The reject case must really be rejected, and the allowed ones allowed.
for c in "${cases[@]}"; do
  want=200; [ "$c" = rejected ] && want=401
  got=$(curl -s -o /dev/null -w '%{http_code}' "${common[@]}" -H "${creds[$c]}" "http://127.0.0.1:$PORT_GUARD/auth")
  [ "$got" = "$want" ] || { echo "$c: /auth answered $got, want $want" >&2; exit 1; }
done

echo
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
# ratio CASE A B FIELD: the median over rounds of B/A (FIELD 1: req/s; 2: p50).
ratio() { paste "$work/$1-$2" "$work/$1-$3" | awk -v f="$4" '{print $(f+2)/$f}' | median; }
echo "medians over $ROUNDS rounds (req/s ratio; p50 ratio, lower is better):"
for c in "${cases[@]}"; do
  printf '%-11s mcpguard %s of the ceiling, p50 %sx' "$c" "$(ratio "$c" ceiling mcpguard 1)" "$(ratio "$c" ceiling mcpguard 2)"
  if [ "$c" = apikey ]; then
    printf '; floor %s of the ceiling, p50 %sx; mcpguard %s of the floor' \
      "$(ratio "$c" ceiling floor 1)" "$(ratio "$c" ceiling floor 2)" "$(ratio "$c" floor mcpguard 1)"
  fi
  if [ -n "$BASELINE_BIN" ]; then
    printf '; baseline %s of the ceiling; mcpguard %s of the baseline, p50 %sx' \
      "$(ratio "$c" ceiling baseline 1)" "$(ratio "$c" baseline mcpguard 1)" "$(ratio "$c" baseline mcpguard 2)"
  fi
  echo
done
echo "audit lines written: $(grep -c '"auth decision"' "$work/mcpguard.log" || true)"
