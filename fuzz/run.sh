#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 600): its corpus starts from the committed seeds in
# fuzz/seeds/TARGET plus, for parse_rows, small slices of the real samples in ../shared/data/real
# (copied into the git-ignored fuzz/corpus/, never committed).
# Usage: bash fuzz/run.sh parse_rows|query_params [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
unset CARGO_TARGET_DIR   # cargo fuzz builds with sanitizer flags into fuzz/target
target=${1:?usage: bash fuzz/run.sh parse_rows|query_params [SECONDS]}
secs=${2:-600}
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
cp -n fuzz/seeds/"$target"/* "$corpus"/
if [ "$target" = parse_rows ] && [ -d ../shared/data/real ]; then
  for f in ../shared/data/real/*.csv; do
    n=$(basename "$f" .csv | tr -c 'a-zA-Z0-9\n' _ | cut -c1-40)
    for k in 0 1 2 3; do sed -n "$((k * 50 + 1)),$((k * 50 + 20))p" "$f" >"$corpus/real_${n}_$k.csv"; done
  done
fi
dict=()
[ "$target" = parse_rows ] && dict=(-dict=fuzz/rows.dict)
cargo +nightly fuzz run --fuzz-dir fuzz -s none "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=4096 "${dict[@]}"
