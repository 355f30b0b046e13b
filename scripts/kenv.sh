# Sourced by the build scripts: where things live and how the compiler runs.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${GMEM_CACHE:-/var/cache/gmem-inplace}
tree="$top/build/linux"
# GMEM_ARCH picks the lane: x86 (default; build/obj, config/gmem.config) or
# arm64 (cross-compiled; build/obj-arm64, config/arm64.config).
arch=${GMEM_ARCH:-x86}
case "$arch" in
x86)	obj="$top/build/obj" frag="$top/config/gmem.config" image=bzImage
	kimage="$obj/arch/x86/boot/bzImage" kcc=gcc kargs=() ;;
arm64)	obj="$top/build/obj-arm64" frag="$top/config/arm64.config" image=Image
	kimage="$obj/arch/arm64/boot/Image" kcc=aarch64-linux-gnu-gcc
	kargs=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) ;;
*)	echo "GMEM_ARCH=$arch: x86 or arm64" >&2; exit 2 ;;
esac
jobs=$(nproc)
# ccache lives outside the repo; paths are made relative to the repo so that a
# clone elsewhere (CI) still hits it.
export CCACHE_DIR="$cache/ccache"
export CCACHE_BASEDIR="$top"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=8G
export KBUILD_BUILD_TIMESTAMP="2026-01-01"
export KBUILD_BUILD_USER=gmem KBUILD_BUILD_HOST=gmem-inplace
kmake() {
	make -s -C "$tree" O="$obj" "${kargs[@]}" CC="ccache $kcc" HOSTCC="ccache gcc" \
		-j"$jobs" "$@"
}
phase_start() { _t0=$(date +%s); echo "$(basename "$0"): $*" >&2; }
phase_end() { echo "$(basename "$0"): $* ($(($(date +%s) - _t0)) s)" >&2; }
