# Sourced by the build scripts: where things live and how the compiler runs.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${GMEM_CACHE:-/var/cache/gmem-inplace}
tree="$top/build/linux"
obj="$top/build/obj"
jobs=$(nproc)
# ccache lives outside the repo; paths are made relative to the repo so that a
# clone elsewhere (CI) still hits it.
export CCACHE_DIR="$cache/ccache"
export CCACHE_BASEDIR="$top"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=8G
export KBUILD_BUILD_TIMESTAMP="2026-01-01"
export KBUILD_BUILD_USER=gmem KBUILD_BUILD_HOST=gmem-inplace
kmake() { make -s -C "$tree" O="$obj" CC="ccache gcc" HOSTCC="ccache gcc" -j"$jobs" "$@"; }
phase_start() { _t0=$(date +%s); echo "$(basename "$0"): $*" >&2; }
phase_end() { echo "$(basename "$0"): $* ($(($(date +%s) - _t0)) s)" >&2; }
