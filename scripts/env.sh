# Shared build environment: one release profile and one persistent target dir, so every checkout
# (and CI's fresh clone) reuses the same DuckDB build. Sourced by the other scripts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecomm/target}"
if command -v ccache >/dev/null 2>&1; then
  export CC="ccache gcc" CXX="ccache g++"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ecomm/ccache}" CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
fi
export OMP_WAIT_POLICY=passive
