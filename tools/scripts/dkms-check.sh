#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging check, inside the Debian 13 root of debian13-root.sh (its
# dkms, rustc and bindgen), as a Debian 13 user meets it, in private DKMS
# source, build and install trees under out/ (nothing is installed on the
# machine or in the root's /lib/modules):
#   1. 'dkms add', 'dkms install' of this tree (dkms.conf) against Debian's
#      stock linux-headers-7.3.4+deb13-amd64: cmis_fw.ko is installed for
#      that kernel, the test emulator is not (it is opt-in);
#   2. the same against a pristine copy of those headers, without the Rust
#      metadata Debian does not ship: dkms-make.sh rebuilds it once from
#      linux-source-7.3 (installed into the root from its package, as
#      'apt install linux-source-7.3' would), cached under
#      $CMIS_CACHE/kernel/dkms-rust, and the module builds against it.
# The modules' modinfo and the install log are left in out/dkms-check.log.
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
mkdir -p "$src/tools/scripts" "$tmp/tree" "$tmp/install/$kver"
rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod' \
	--exclude '*.mod.c' --exclude 'bindings_generated.rs' --exclude '*.long-type-*' \
	--exclude 'proptest-regressions' \
	"$top/dkms.conf" "$top/Kbuild" "$top/include" "$top/rust" "$src/"
cp "$here/dkms-make.sh" "$src/tools/scripts/"
report=$top/out/dkms-check.log

g=$D13_GUEST_SRC/${tmp#"$top"/}
dkms=(dkms --sourcetree "$g/src" --dkmstree "$g/tree" --installtree "$g/install")

# 1. Install against the stock headers.
{
	d13_run -- "${dkms[@]}" add -m cmis_fw -v "$version"
	d13_run -- "${dkms[@]}" install -m cmis_fw -v "$version" \
		-k "$kver" --kernelsourcedir "$D13_GUEST_KDIR" --force
} >"$report" 2>&1 || {
	cat "$report" "$tmp/tree/cmis_fw/$version/build/make.log" >&2 || true
	exit 1
}
ko=$(find "$tmp/install" -name 'cmis_fw.ko*' | head -n1)
[ -n "$ko" ] || { cat "$report" >&2; echo "dkms-check: cmis_fw.ko not installed" >&2; exit 1; }
if find "$tmp/install" -name 'cmis_emu.ko*' | grep -q .; then
	echo "dkms-check: the test emulator was installed without being asked for" >&2
	exit 1
fi
magic=$(modinfo -F vermagic "$ko")
[ "${magic%% *}" = "$kver" ] || { echo "dkms-check: cmis_fw.ko is for ${magic%% *}, not $kver" >&2; exit 1; }
{ echo "== modinfo ${ko#"$tmp"/}"; modinfo "$ko"; } >>"$report"
echo "dkms-check: cmis_fw.ko installed for $kver (${ko#"$tmp"/})"

# 2. Headers without the Rust metadata: dkms-make.sh provides it.
pristine=$D13_ROOT/usr/src/cmis-pristine-headers-$kver
if [ ! -f "$pristine/.cmis-made" ]; then
	rm -rf "$pristine"
	cp -a "$D13_ROOT$D13_GUEST_KDIR" "$pristine"
	rm -f "$pristine"/rust/lib*.rmeta "$pristine"/rust/lib*.so
	touch "$pristine/.cmis-made"
fi
if [ ! -f "$D13_ROOT/usr/src/linux-source-$D13_SERIES.tar.xz" ]; then
	dpkg-deb -x "$D13_DIR"/debs/linux-source-"$D13_SERIES"_*.deb "$D13_ROOT"
fi
mkdir -p "$CMIS_CACHE/kernel/dkms-rust"
{
	echo "== build against headers without Rust metadata"
	d13_run --env CMIS_FW_RUST_CACHE=/cmis/kernel/dkms-rust -- "${dkms[@]}" build \
		-m cmis_fw -v "$version" -k "$kver" --force \
		--kernelsourcedir "/usr/src/cmis-pristine-headers-$kver"
} >>"$report" 2>&1 || {
	tail -n 40 "$report" >&2
	exit 1
}
grep -q 'rebuilding the kernel crate' "$report" || [ -f "$CMIS_CACHE/kernel/dkms-rust/$kver/.prepared" ] || {
	echo "dkms-check: the Rust metadata was not rebuilt" >&2
	exit 1
}
echo "dkms-check: built against headers without Rust metadata (metadata rebuilt from linux-source-$D13_SERIES, cached)"
