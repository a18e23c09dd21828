#!/usr/bin/env bash
# The project's checks: formatting, clippy with -D warnings, and every test, in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
log=$(mktemp)
set +e
cargo test --release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test binaries.
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "ecomm: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
