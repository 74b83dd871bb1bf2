#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds cmis_fw.ko and cmis_emu.ko for Linux 7.3, in the Debian 13 root of
# debian13-root.sh (GCC 14, rustc 1.85.1, bindgen 0.71.1: the toolchain
# Debian built its kernel with), with the kernel's Rust lints and its
# clippy lint set (CLIPPY=1) and warnings as errors (see Kbuild). Extra
# arguments go to make (e.g. "clean").
#
# CMIS_KERNEL selects what to build against:
#   stock  (default) Debian's stock linux-headers-7.3.4+deb13-amd64 with the
#          rebuilt Rust metadata; modpost checks every symbol against
#          Debian's Module.symvers; the modules load into the stock
#          linux-image-7.3.4+deb13-amd64
#   7.3    the project's 7.3 test kernel (CMIS_KERNEL=7.3 build-kernel.sh);
#          CMIS_FW_KERNEL_VARIANT=NAME selects one of its variants
#
# An M= build writes next to its sources, so each kernel gets its own copy
# of the sources, out/modules-<kernel>[-<variant>] (printed by
# `build-modules.sh dir`); the repository stays clean and two kernels'
# objects never mix. The .ko files land there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"
# shellcheck source=tools/scripts/debian13-root.sh
. "$here/debian13-root.sh"

target=${1:-modules}
[ $# -gt 0 ] && shift
kernel=${CMIS_KERNEL:-stock}
variant=${CMIS_FW_KERNEL_VARIANT:-}
src=$(cmis_modules_dir "$kernel" "$variant")
if [ "$target" = dir ]; then
	echo "$src"
	exit 0
fi

die() { echo "build-modules: $*" >&2; exit 1; }

make_flags=()
case "$kernel" in
stock)
	[ -z "$variant" ] || die "CMIS_FW_KERNEL_VARIANT is for test kernels (CMIS_KERNEL=7.3), not the stock headers"
	if [ "$target" != clean ]; then
		[ -f "$D13_TOP/current.env" ] ||
			echo "build-modules: preparing the Debian 13 root (the first time only: about 15 minutes)" >&2
		# Reused when ready (a second); checks the rustc identity. Its
		# log is shown when it did some work or failed.
		if ! d13log=$("$here/debian13-root.sh" prepare 2>&1 >/dev/null); then
			echo "$d13log" >&2
			die "the Debian 13 root is not ready"
		fi
		grep -q '^debian13: stage .* \.\.\.$' <<<"$d13log" && echo "$d13log" >&2
	fi
	d13_load
	guest_kdir=$D13_GUEST_KDIR
	;;
7.3)
	variant_args=()
	[ -n "$variant" ] && variant_args=(--variant "$variant")
	if [ "$target" = clean ]; then
		# Cleaning never starts a kernel build.
		kdir=$(CMIS_KERNEL=7.3 "$here/build-kernel.sh" --cached-only "${variant_args[@]}") || exit 0
	else
		kdir=$(CMIS_KERNEL=7.3 "$here/build-kernel.sh" "${variant_args[@]}")
	fi
	d13_load
	guest_kdir=$(cat "$kdir/.cmis-guest-path")
	mapfile -t make_flags <"$kdir/.cmis-make-flags"
	;;
*) die "unknown CMIS_KERNEL=$kernel (stock or 7.3)" ;;
esac

mkdir -p "$src"
rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude 'bindings_generated.rs' --exclude 'proptest-regressions' \
	"$top/Kbuild" "$top/include" "$top/rust" "$src/"
guest_src=$D13_GUEST_SRC/${src#"$top"/}
d13_run --cwd "$guest_src" -- make -C "$guest_kdir" M="$guest_src" "${make_flags[@]}" \
	CLIPPY=1 -j"$(nproc)" "$target" "$@"
