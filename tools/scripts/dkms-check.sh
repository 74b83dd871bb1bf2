#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging check: 'dkms add' and 'dkms build' of this tree (through
# dkms.conf) against the cached test kernel's build directory, in a private
# DKMS tree (nothing is installed on the machine), then checks both
# modules were built for that kernel.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

kdir=$("$here/build-kernel.sh" --cached-only) || { echo "dkms-check: no test kernel" >&2; exit 1; }
kver=$(make -s -C "$kdir" kernelrelease)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src/cmis_fw-$version
mkdir -p "$src/tools/scripts" "$tmp/tree"
# What a source package would ship: no build products.
rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod' \
	--exclude '*.mod.c' --exclude 'bindings_generated.rs' --exclude '*.long-type-*' \
	"$top/dkms.conf" "$top/Kbuild" "$top/include" "$top/rust" "$src/"
cp "$here/dkms-make.sh" "$src/tools/scripts/"

dkms=(dkms --sourcetree "$tmp/src" --dkmstree "$tmp/tree")
"${dkms[@]}" add -m cmis_fw -v "$version"
RUSTC=$RUSTC BINDGEN=$BINDGEN "${dkms[@]}" build -m cmis_fw -v "$version" \
	-k "$kver" --kernelsourcedir "$kdir" || {
	cat "$tmp/tree/cmis_fw/$version/build/make.log" >&2 || true
	exit 1
}
for m in cmis_fw cmis_emu; do
	ko=$(find "$tmp/tree/cmis_fw/$version/$kver" -name "$m.ko" | head -n1)
	[ -n "$ko" ] || { echo "dkms-check: $m.ko not built" >&2; exit 1; }
	magic=$(modinfo -F vermagic "$ko")
	[ "${magic%% *}" = "$kver" ] || { echo "dkms-check: $m.ko is for ${magic%% *}, not $kver" >&2; exit 1; }
	echo "dkms-check: $m.ko built for $kver"
done
