#!/usr/bin/env bash
# Load test of the dashboard's cached answers with wrk (Debian: apt-get install wrk): starts
# `ecomm serve` on a free port, computes /api/metrics once, then runs wrk with 16 connections for
# 60 s (DURATION to change it) against that memoized answer, sampling the server's RSS every 5 s.
# Prints wrk's requests/s and latency percentiles, and RSS at the start, the end and its maximum.
# Usage: bash scripts/bench_load.sh DB.duckdb [PATH]   (PATH defaults to /api/metrics)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
db=${1:?usage: bash scripts/bench_load.sh DB.duckdb [PATH]}
path=${2:-/api/metrics}
duration=${DURATION:-60}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
ecomm="$CARGO_TARGET_DIR/release/ecomm"
log=$(mktemp)
work=$(mktemp -d)
db=$(realpath "$db")
(cd "$work" && exec "$ecomm" serve --db "$db" --port 0) >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$log" "$work"' EXIT
for _ in $(seq 1 100); do grep -q http:// "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log")
curl -sf -o /dev/null "$base$path"
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
echo "ecomm serve on $db ($base), $path cached; RSS before: $(rss) MB"
(for _ in $(seq 1 $((duration / 5))); do sleep 5; echo "$(rss)"; done) >"$work/rss" &
sampler=$!
wrk -t2 -c16 -d"${duration}s" --latency "$base$path"
wait $sampler || true
echo "RSS every 5 s (MB): $(tr '\n' ' ' <"$work/rss")"
echo "RSS after: $(rss) MB, max $(sort -n "$work/rss" | tail -1) MB"
