#!/usr/bin/env bash
# Sets up (g++ and ccache if missing), builds ecomm in release mode and runs `ecomm demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v g++ >/dev/null 2>&1 || ! command -v ccache >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq g++ ccache
  fi
fi
source scripts/env.sh
cargo build --release
"$CARGO_TARGET_DIR/release/ecomm" demo "$@"
