#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds cmis_fw.ko and cmis_emu.ko against the cached test kernel, with
# the kernel's Rust lints and its clippy lint set (CLIPPY=1) and warnings
# as errors (see Kbuild). Extra arguments go to make (e.g. "clean").
#
# With CMIS_FW_KERNEL_VARIANT=NAME, builds against that kernel variant
# (see build-kernel.sh --variant) in out/modules-NAME, a copy of the
# sources: an M= build writes next to its sources, and the two kernels'
# objects must not mix.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

target=${1:-modules}
[ $# -gt 0 ] && shift
variant=${CMIS_FW_KERNEL_VARIANT:-}
variant_args=()
[ -n "$variant" ] && variant_args=(--variant "$variant")
if [ "$target" = clean ]; then
	# Cleaning never starts a kernel build.
	kdir=$("$here/build-kernel.sh" --cached-only "${variant_args[@]}") || exit 0
else
	kdir=$("$here/build-kernel.sh" "${variant_args[@]}")
fi
src=$top
if [ -n "$variant" ]; then
	src=$top/out/modules-$variant
	mkdir -p "$src"
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude 'bindings_generated.rs' \
		"$top/Kbuild" "$top/include" "$top/rust" "$src/"
fi
exec make -C "$kdir" M="$src" "${KMAKE_FLAGS[@]}" \
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver -j"$(nproc)" "$target" "$@"
