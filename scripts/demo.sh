#!/usr/bin/env bash
# Sets up (g++, ccache, cmake, clang/libclang and a CJK font for the PDF report, if missing), builds ecomm in release
# mode and runs `ecomm demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v ccache >/dev/null 2>&1 || need+=(ccache)
# llama.cpp builds with cmake and needs libclang for its bindings.
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need+=(libclang-dev)
if ! ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1 \
   && [ "$(uname)" = Linux ]; then
  need+=(fonts-noto-cjk)
fi
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
source scripts/env.sh
cargo build --release
"$CARGO_TARGET_DIR/release/ecomm" demo "$@"
