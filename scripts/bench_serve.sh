#!/usr/bin/env bash
# Times the dashboard's endpoints on an existing DB: starts `ecomm serve` on a free port, requests each
# endpoint 5 times with curl and prints the median and worst wall time per endpoint.
# Usage: bash scripts/bench_serve.sh DB.duckdb [FROM TO]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
db=${1:?usage: bash scripts/bench_serve.sh DB.duckdb [FROM TO]}
from=${2:-2017-12-01}
to=${3:-2017-12-03}
ecomm="$CARGO_TARGET_DIR/release/ecomm"
log=$(mktemp)
"$ecomm" serve --db "$db" --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q http:// "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log")
echo "ecomm serve on $db ($base)"
printf '%-44s %10s %10s\n' endpoint median_ms max_ms
for path in / /assets/app.js /api/meta /api/metrics "/api/metrics?from=$from&to=$to" "/api/metrics?from=$to&to=$to" "/api/insights?lang=zh"; do
  times=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' "$base$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="$path" '{a[NR]=$1} END {printf "%-44s %10.1f %10.1f\n", p, a[3]*1000, a[5]*1000}'
done
