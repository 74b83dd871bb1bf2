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
# Debian's headers packages ship no Rust metadata of the kernel crate
# (rust/*.rmeta). When KDIR has none, it is rebuilt once from the same
# kernel's sources (linux-source-<series>, Debian's package) with KDIR's
# .config and this rustc (`make modules_prepare`, a few minutes), cached
# in $CMIS_FW_RUST_CACHE (default /var/cache/cmis-fw/<kernelrelease>), and
# the modules are built against that tree with KDIR's Module.symvers, so
# that modpost checks every symbol against the running kernel's.
#
# Usage: dkms-make.sh KDIR [make target...]
set -euo pipefail

kdir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

die() { echo "cmis_fw (dkms-make): $*" >&2; exit 1; }

grep -q '^CONFIG_RUST=y' "$kdir/.config" || die "$kdir has no CONFIG_RUST"
flags=()
[ -n "${RUSTC:-}" ] && flags+=("RUSTC=$RUSTC")
[ -n "${BINDGEN:-}" ] && flags+=("BINDGEN=$BINDGEN")
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && flags+=(LLVM=1)

# rust_tree KDIR: a full tree with KDIR's configuration and the kernel
# crate's metadata, made once and cached; prints its path.
rust_tree() {
	local kdir=$1 kver series cache tarball cc
	kver=$(make -s -C "$kdir" kernelrelease)
	series=$(echo "$kver" | cut -d. -f1-2)
	cache=${CMIS_FW_RUST_CACHE:-/var/cache/cmis-fw}/$kver
	if [ -f "$cache/.prepared" ]; then
		echo "$cache/linux"
		return
	fi
	tarball=/usr/src/linux-source-$series.tar.xz
	[ -r "$tarball" ] || die "$kdir carries no Rust metadata of the kernel crate \
(rust/libkernel.rmeta), which Debian's headers packages do not ship. Install the \
same kernel's sources (apt install linux-source-$series) so that it can be rebuilt \
once, with this rustc ($(rustc --version 2>/dev/null || echo 'not found')), into $cache."
	echo "cmis_fw: rebuilding the kernel crate's Rust metadata for $kver from $tarball into $cache (once; a few minutes)" >&2
	rm -rf "$cache"
	mkdir -p "$cache/linux"
	tar -xJf "$tarball" -C "$cache/linux" --strip-components=1
	cp "$kdir/.config" "$cache/linux/.config"
	# The compiler the kernel was built with, as its .config names it.
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$kdir/.config")
	local mk=(make -C "$cache/linux" "KERNELRELEASE=$kver" "${flags[@]}")
	[ -n "$cc" ] && command -v "$cc" >/dev/null && mk+=("CC=$cc")
	"${mk[@]}" -s olddefconfig >&2
	"${mk[@]}" -s -j"$(nproc)" modules_prepare >&2
	cp "$kdir/Module.symvers" "$cache/linux/"
	[ -f "$kdir/vmlinux" ] && cp "$kdir/vmlinux" "$cache/linux/"
	touch "$cache/.prepared"
	echo "$cache/linux"
}

if [ ! -f "$kdir/rust/libkernel.rmeta" ]; then
	kdir=$(rust_tree "$kdir")
fi

exec make -C "$kdir" M="$top" "${flags[@]}" -j"$(nproc)" "${@:-modules}"
