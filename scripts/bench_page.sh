#!/usr/bin/env bash
# Measures the dashboard's first page load in headless Chromium on an existing DB (needs Debian's
# chromium and chromium-driver): 3 rounds, each with a fresh server (cold: nothing memoized) and a
# second load of the same server (warm). Times are the browser's own, from navigation start.
# Usage: bash scripts/bench_page.sh DB.duckdb
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
db=$(realpath "${1:?usage: bash scripts/bench_page.sh DB.duckdb}")
ECOMM_PAGE_DB="$db" cargo test --release --test browser -- --ignored --nocapture first_page_load_on_a_big_db 2>&1 | grep -E '^round|test result'
