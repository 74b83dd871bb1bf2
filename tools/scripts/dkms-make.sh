#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The build DKMS runs (see dkms.conf): make M=<this tree> against the
# kernel build tree KDIR with the toolchain that built that kernel. The
# kernel's Rust code must be built by the same rustc (and bindgen) as the
# kernel itself: on Debian 13 that is the packaged rustc and bindgen on
# PATH, for Debian's own linux-headers-*; set RUSTC and BINDGEN to
# override. A kernel built with clang (CONFIG_CC_IS_CLANG) gets LLVM=1.
#
# Usage: dkms-make.sh KDIR [make target...]
set -euo pipefail

kdir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

grep -q '^CONFIG_RUST=y' "$kdir/.config" ||
	{ echo "dkms-make: $kdir has no CONFIG_RUST" >&2; exit 1; }
flags=()
[ -n "${RUSTC:-}" ] && flags+=("RUSTC=$RUSTC")
[ -n "${BINDGEN:-}" ] && flags+=("BINDGEN=$BINDGEN")
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && flags+=(LLVM=1)

exec make -C "$kdir" M="$top" "${flags[@]}" -j"$(nproc)" "${@:-modules}"
