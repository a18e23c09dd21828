#!/usr/bin/env bash
# Times the dashboard's endpoints on an existing DB: starts `ecomm serve` on a free port, requests each
# endpoint 5 times with curl and prints the first (cold: computed) time, and the median and worst
# of the 5 (repeats are memoized per data version).
# Usage: bash scripts/bench_serve.sh DB.duckdb [FROM TO]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
db=${1:?usage: bash scripts/bench_serve.sh DB.duckdb [FROM TO]}
from=${2:-2017-12-01}
to=${3:-2017-12-03}
ecomm="$CARGO_TARGET_DIR/release/ecomm"
log=$(mktemp)
# The server runs in an empty folder, so no models/*.gguf is found and /api/insights measures the API
# with rule-based insights (a model's own time is what `ecomm insights` reports). BENCH_MODEL=PATH serves
# with that model instead.
work=$(mktemp -d)
db=$(realpath "$db")
(cd "$work" && ECOMM_SERVE_NO_WARM=1 ECOMM_MODEL="${BENCH_MODEL:-}" exec "$ecomm" serve --db "$db" --port 0) >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$log" "$work"' EXIT
for _ in $(seq 1 100); do grep -q http:// "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log")
echo "ecomm serve on $db ($base)"
# The busiest category, and a mid-sized one (the 100th busiest of the 200 that /api/categories lists).
cats=$(curl -s "$base/api/categories" | grep -o '"category_id":[0-9]*' | cut -d: -f2)
cat=$(echo "$cats" | head -1)
small=$(echo "$cats" | sed -n 100p)
[ -n "$small" ] || small=$(echo "$cats" | tail -1)
printf '%-70s %8s %10s %8s\n' endpoint cold_ms median_ms max_ms
for path in / /assets/app.js /api/meta /api/categories /api/metrics "/api/metrics?from=$from&to=$to" "/api/metrics?from=$to&to=$to" \
  "/api/metrics?behavior=pv,buy" "/api/metrics?behavior=cart&from=$from&to=$to" "/api/metrics?category=$cat" "/api/metrics?category=$small" \
  "/api/metrics?category=$cat&behavior=pv,buy&from=$from&to=$to" "/api/insights?lang=zh" "/api/insights?lang=zh&category=$cat" \
  "/api/report.pdf?lang=zh" "/api/report.pdf?lang=zh&category=$cat"; do
  times=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' "$base$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="$path" -v c="${times[0]}" '{a[NR]=$1} END {printf "%-70s %8.1f %10.1f %8.1f\n", p, c*1000, a[3]*1000, a[5]*1000}'
done
