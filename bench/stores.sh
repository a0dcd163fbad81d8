#!/usr/bin/env bash
# The cost of the store behind the authorization server, backend by backend, in one run.
#
# Starts redis-server and PostgreSQL (default durability settings) on loopback ports and
# runs the oauth package's store benchmarks on memory, a bolt file, Redis and PostgreSQL:
# /auth's check of one of mcpguard's own access tokens, cached and first-seen (one store
# round trip), and the store's share of a login (an authorization code stored and
# exchanged at /token). A benchmark, not a test: the figures depend on the machine, and
# only ratios of one run are compared. COUNT (3) and BENCHTIME (2s) override the settings.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-2s}
REDIS_PORT=${REDIS_PORT:-16399}
PG_PORT=${PG_PORT:-15499}
for bin in redis-server initdb postgres; do
  command -v "$bin" >/dev/null 2>&1 || { echo "bench/stores.sh: $bin is missing: apt-get install redis-server postgresql" >&2; exit 1; }
done

work=$(mktemp -d /tmp/mcpguard-bench-XXXXXX)
redis_pid="" pg_pid=""
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  [ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!

as=()
if [ "$(id -u)" -eq 0 ]; then # PostgreSQL refuses to run as root
  chown postgres "$work"
  as=(runuser -u postgres --)
fi
"${as[@]}" initdb -D "$work/pg" -U postgres -A trust -E UTF8 >"$work/initdb.log" 2>&1
"${as[@]}" postgres -D "$work/pg" -k "$work" -h 127.0.0.1 -p "$PG_PORT" >"$work/pg.log" 2>&1 &
pg_pid=$!

for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.1
done

MCPGUARD_BENCH_REDIS="redis://127.0.0.1:$REDIS_PORT/0" \
MCPGUARD_BENCH_POSTGRES="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
  go test ./oauth -run '^$' -bench '^BenchmarkStore' -benchtime "$BENCHTIME" -count "$COUNT"
