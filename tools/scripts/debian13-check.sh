#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Checks the Debian 13 root of debian13-root.sh end to end with a throwaway
# out-of-tree Rust module (written under a scratch directory, default
# /tmp/cmis-d13-check, never into the repository):
#
#   build   M= build in the root against Debian's headers dir (the
#           overlay) and, if built, against the 7.3 test kernel
#           (CMIS_KERNEL=7.3 build-kernel.sh --cached-only)
#   boot    vng boots Debian's stock 7.3 kernel (TCG, busybox initramfs)
#           and insmods/rmmods the module built against the headers; the
#           guest writes its results into the scratch directory (vng itself
#           exits 255 there: the script's output is what counts)
#   boot73  vng boots the 7.3 test kernel as vm-test.sh does (vng -r
#           bzImage) and insmods the module built against that tree
#
# Usage: debian13-check.sh [build] [boot] [boot73]   (default: all three)
# Exits non-zero if any requested step fails; prints one line per step.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/scripts/debian13-root.sh
. "$here/debian13-root.sh"
d13_load

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(build boot boot73)
want() { local s; for s in "${steps[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

S=${CMIS_D13_CHECK_DIR:-/tmp/cmis-d13-check}
G=/cmis/check # $S inside the root
log() { printf 'debian13-check: %s\n' "$*" >&2; }
failed=0
result() { printf 'debian13-check: %-8s %s\n' "$1" "$2"; [ "$2" = ok ] || failed=1; }

tkdir=$(CMIS_KERNEL=7.3 "$here/build-kernel.sh" --cached-only 2>/dev/null) || tkdir=

write_module() { # DIR
	mkdir -p "$1"
	cat >"$1/Kbuild" <<'EOF'
obj-m := d13_probe.o
EOF
	cat >"$1/d13_probe.rs" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
//! Throwaway probe of the Debian 13 build root (tools/scripts/debian13-check.sh).
use kernel::prelude::*;

module! {
    type: D13Probe,
    name: "d13_probe",
    authors: ["cmis_fw"],
    description: "Debian 13 build root probe",
    license: "GPL",
}

struct D13Probe {
    v: KVec<u32>,
}

impl kernel::Module for D13Probe {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut v = KVec::new();
        for i in 0..5u32 {
            v.push(i * 7, GFP_KERNEL)?;
        }
        pr_info!("init ok, v={:?}\n", &v[..]);
        Ok(D13Probe { v })
    }
}

impl Drop for D13Probe {
    fn drop(&mut self) {
        pr_info!("exit, len={}\n", self.v.len());
    }
}
EOF
}

# build_against NAME KDIR_IN_ROOT MAKEFLAGS...
build_against() {
	local name=$1 kd=$2
	shift 2
	rm -rf "${S:?}/$name"
	write_module "$S/$name"
	if d13_run --bind "$S:$G" --cwd "$G/$name" -- make -C "$kd" "$@" M="$G/$name" modules \
		>"$S/$name.log" 2>&1 && [ -f "$S/$name/d13_probe.ko" ]; then
		log "$name: $(d13_run --bind "$S:$G" -- modinfo -F vermagic "$G/$name/d13_probe.ko")"
		log "$name: undefined symbols: $(d13_run --bind "$S:$G" -- nm -u "$G/$name/d13_probe.ko" | wc -l)"
		return 0
	fi
	tail -n 20 "$S/$name.log" >&2
	return 1
}

mkdir -p "$S"
if want build; then
	t0=$(date +%s)
	if build_against headers "$D13_GUEST_KDIR"; then
		result build-headers ok
	else
		result build-headers "FAILED (log: $S/headers.log)"
	fi
	if [ -n "$tkdir" ]; then
		mapfile -t tflags <"$tkdir/.cmis-make-flags"
		if build_against testkernel "$(cat "$tkdir/.cmis-guest-path")" "${tflags[@]}"; then
			result build-7.3 ok
		else
			result build-7.3 "FAILED (log: $S/testkernel.log)"
		fi
	else
		result build-7.3 "SKIPPED (no 7.3 test kernel: CMIS_KERNEL=7.3 tools/scripts/build-kernel.sh)"
	fi
	log "builds took $(($(date +%s) - t0)) s"
fi

# boot NAME IMAGE KO [VNG ARGS...]: boots IMAGE, insmods KO, judges the
# guest's report.
boot() {
	local name=$1 img=$2 ko=$3 out=$S/vm-$1 t0
	shift 3
	rm -rf "$out"
	mkdir -p "$out"
	cat >"$out/guest.sh" <<EOF
#!/bin/sh
# Runs in the guest; writes everything into $out (an --rwdir).
exec >"$out/result.txt" 2>&1
echo "uname: \$(uname -r)"
insmod "$ko"; echo "insmod rc=\$?"
grep -q '^d13_probe ' /proc/modules && echo "loaded: yes"
rmmod d13_probe; echo "rmmod rc=\$?"
echo "tainted: \$(cat /proc/sys/kernel/tainted)"
dmesg | grep -E 'd13_probe|Unknown symbol|BTF|disagrees' | grep -v 'Invalid ELF header magic'
echo done
EOF
	chmod +x "$out/guest.sh"
	log "$name: booting $img (TCG)"
	t0=$(date +%s)
	local rc=0
	timeout --kill-after=10 600 vng --verbose --disable-kvm "$@" --rwdir "$S" \
		-r "$img" -e "$out/guest.sh" </dev/null >"$out/vng.log" 2>&1 || rc=$?
	log "$name: VM ran for $(($(date +%s) - t0)) s (vng exit $rc: not meaningful without udev in the guest); guest report $out/result.txt:"
	sed 's/^/    /' "$out/result.txt" >&2 2>/dev/null || tail -n 30 "$out/vng.log" >&2
	if grep -q '^insmod rc=0$' "$out/result.txt" 2>/dev/null &&
		grep -q '^rmmod rc=0$' "$out/result.txt" &&
		grep -q "d13_probe: init ok" "$out/result.txt" &&
		! grep -q 'Unknown symbol' "$out/result.txt"; then
		result "$name" ok
	else
		result "$name" "FAILED (logs: $out)"
	fi
}

if want boot; then
	if [ -f "$S/headers/d13_probe.ko" ]; then
		boot boot-stock "$D13_VMLINUZ" "$S/headers/d13_probe.ko" --busybox "$D13_BUSYBOX"
	else
		result boot-stock "SKIPPED (no module: run the build step)"
	fi
fi
if want boot73; then
	if [ -n "$tkdir" ] && [ -f "$S/testkernel/d13_probe.ko" ]; then
		boot boot-7.3 "$tkdir/arch/x86/boot/bzImage" "$S/testkernel/d13_probe.ko" -S --cpus 2 --memory 2G
	else
		result boot-7.3 "SKIPPED (no 7.3 test kernel or module)"
	fi
fi
exit "$failed"
