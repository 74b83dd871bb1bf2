#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds cmis_fw.ko and cmis_emu.ko against the cached test kernel, with
# the kernel's Rust lints and its clippy lint set (CLIPPY=1) and warnings
# as errors (see Kbuild). Extra arguments go to make (e.g. "clean").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

target=${1:-modules}
[ $# -gt 0 ] && shift
if [ "$target" = clean ]; then
	# Cleaning never starts a kernel build.
	kdir=$("$here/build-kernel.sh" --cached-only) || exit 0
else
	kdir=$("$here/build-kernel.sh")
fi
exec make -C "$kdir" M="$top" "${KMAKE_FLAGS[@]}" \
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver -j"$(nproc)" "$target" "$@"
