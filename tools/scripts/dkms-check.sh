#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging check: 'dkms add' and 'dkms build' of this tree (through
# dkms.conf) against Debian's stock linux-headers-7.3.4+deb13-amd64, as a
# Debian 13 user would, inside the Debian 13 root of debian13-root.sh (its
# dkms, rustc and bindgen), in a private DKMS tree under out/ (nothing is
# installed anywhere), then checks both modules were built for that kernel.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"
# shellcheck source=tools/scripts/debian13-root.sh
. "$here/debian13-root.sh"
d13_load

kver=$D13_KVER
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

tmp=$top/out/dkms-check
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src/cmis_fw-$version
mkdir -p "$src/tools/scripts" "$tmp/tree"
rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod' \
	--exclude '*.mod.c' --exclude 'bindings_generated.rs' --exclude '*.long-type-*' \
	--exclude 'proptest-regressions' \
	"$top/dkms.conf" "$top/Kbuild" "$top/include" "$top/rust" "$src/"
cp "$here/dkms-make.sh" "$src/tools/scripts/"

g=$D13_GUEST_SRC/${tmp#"$top"/}
dkms=(dkms --sourcetree "$g/src" --dkmstree "$g/tree")
d13_run -- "${dkms[@]}" add -m cmis_fw -v "$version"
d13_run -- "${dkms[@]}" build -m cmis_fw -v "$version" \
	-k "$kver" --kernelsourcedir "$D13_GUEST_KDIR" || {
	cat "$tmp/tree/cmis_fw/$version/build/make.log" >&2 || true
	exit 1
}
for m in cmis_fw cmis_emu; do
	ko=$(find "$tmp/tree/cmis_fw/$version/$kver" -name "$m.ko*" | head -n1)
	[ -n "$ko" ] || { echo "dkms-check: $m.ko not built" >&2; exit 1; }
	magic=$(modinfo -F vermagic "$ko")
	[ "${magic%% *}" = "$kver" ] || { echo "dkms-check: $m.ko is for ${magic%% *}, not $kver" >&2; exit 1; }
	echo "dkms-check: $m.ko built for $kver"
done
