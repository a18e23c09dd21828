#!/usr/bin/env bash
# The project's checks: formatting, clippy with -D warnings, and every test, in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release "$@"
