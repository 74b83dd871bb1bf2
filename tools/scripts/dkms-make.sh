#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The build DKMS runs (see dkms.conf): make M=<this tree> against the
# kernel build tree KDIR with the toolchain a Rust kernel needs. The
# kernel's Rust code must be built by the same rustc and bindgen as the
# kernel itself: set RUSTC and BINDGEN to override the defaults (Debian's
# rustc-web and the bindgen this project's setup installs, if present).
#
# Usage: dkms-make.sh KDIR [make target...]
set -euo pipefail

kdir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

rustc=${RUSTC:-/usr/bin/rustc}
bindgen=${BINDGEN:-}
if [ -z "$bindgen" ]; then
	for b in "${CMIS_CACHE:-$HOME/.cache/cmis-fw}"/tools/bin/bindgen "$(command -v bindgen || true)"; do
		[ -x "$b" ] && { bindgen=$b; break; }
	done
fi
[ -n "$bindgen" ] || { echo "dkms-make: no bindgen (set BINDGEN)" >&2; exit 1; }
grep -q '^CONFIG_RUST=y' "$kdir/.config" ||
	{ echo "dkms-make: $kdir has no CONFIG_RUST" >&2; exit 1; }

exec make -C "$kdir" M="$top" LLVM=1 RUSTC="$rustc" BINDGEN="$bindgen" \
	-j"$(nproc)" "${@:-modules}"
