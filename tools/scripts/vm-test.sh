#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the cached test kernel once under virtme-ng (TCG: KVM guests hang
# on these machines), inserts the freshly built modules by path, runs the
# kselftests in tools/testing/selftests/drivers/net/cmis_fw and judges the
# run (tools/scripts/vm_results.py): the last line printed is
# "N passed, N failed, N skipped"; the exit status is non-zero on any
# failure, kernel splat or leak.
#
# Usage: vm-test.sh [test|demo|bench]
# Environment: CMIS_FW_SELFTEST_INJECT=fail|warn proves that a failing
# test or a kernel WARN fails the run; VM_TIMEOUT (seconds, default 3000);
# CMIS_FW_TESTS="a.sh b.sh" runs only those tests;
# CMIS_FW_KERNEL_VARIANT=NAME boots that kernel variant (see
# build-kernel.sh) with modules built for it (build-modules.sh), results
# in out/vm-test-NAME; CMIS_FW_PARAMS are cmis_fw's insmod parameters.
# Mode bench runs tools/cmis-bench in the guest (see bench.sh) with
# CMIS_BENCH_ARGS and prints its output.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

mode=${1:-test}
suite=drivers/net/cmis_fw
variant=${CMIS_FW_KERNEL_VARIANT:-}
if [ -n "$variant" ]; then
	kdir=$("$here/build-kernel.sh" --variant "$variant")
	out=$top/out/vm-$mode-$variant
	mods=$top/out/modules-$variant
else
	kdir=$("$here/build-kernel.sh")
	out=$top/out/vm-$mode
	mods=$top
fi

for ko in cmis_fw.ko cmis_emu.ko; do
	[ -f "$mods/$ko" ] || { echo "vm-test: $mods/$ko not built (make modules)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"

# Install the suite with the kernel's own kselftest machinery, from a copy
# inside the kernel tree where its Makefile finds lib.mk.
if [ "$mode" = test ]; then
	intree=$kdir/tools/testing/selftests/$suite
	rm -rf "$intree"
	cp -r "$top/tools/testing/selftests/$suite" "$intree"
	make -s -C "$kdir/tools/testing/selftests" TARGETS="$suite" \
		INSTALL_PATH="$out/ksft" install >"$out/ksft-install.log" 2>&1 || {
		cat "$out/ksft-install.log" >&2
		exit 1
	}
fi

# Host tools the tests run in the guest (same root file system).
cargo build --release --quiet -p cmis-emu-image -p cmis-fw -p cmis-bench

# Settings that reach the guest's tests.
{
	printf 'export CMIS_FW_SELFTEST_INJECT=%q\n' "${CMIS_FW_SELFTEST_INJECT:-}"
	printf 'export CMIS_FW_BIN_DIR=%q\n' "$top/target/release"
	# CMIS_FW_TESTS="flash.sh emulator.sh" runs only those (for
	# development; make test runs everything).
	printf 'export CMIS_FW_TESTS=%q\n' "${CMIS_FW_TESTS:-}"
	printf 'export CMIS_FW_PARAMS=%q\n' "${CMIS_FW_PARAMS:-}"
	printf 'export CMIS_BENCH_ARGS=%q\n' "${CMIS_BENCH_ARGS:-}"
	# The kernel's YNL command line tool and our family's spec.
	printf 'export CMIS_FW_YNL_CLI=%q\n' "$kdir/tools/net/ynl/cli.py"
	printf 'export CMIS_FW_SPEC=%q\n' "$top/Documentation/netlink/specs/cmis_fw.yaml"
} >"$out/env"

echo "vm-test: booting $kdir/arch/x86/boot/bzImage (TCG)" >&2
start=$(date +%s)
# vng's own exit status is not meaningful without udev in the guest (the
# script then runs on the console); the guest reports through $out.
timeout --kill-after=10 "${VM_TIMEOUT:-3000}" \
	vng --verbose --disable-kvm -S -r "$kdir/arch/x86/boot/bzImage" \
		--cpus 2 --memory 2G --rwdir "$out" \
		--exec "$here/vm-guest.sh $out $out/ksft $mods $mode" \
		</dev/null >"$out/vng.log" 2>&1 || true
echo "vm-test: VM ran for $(($(date +%s) - start)) s" >&2

if [ "$mode" = demo ]; then
	cat "$out/demo.txt" 2>/dev/null || { tail -n 50 "$out/vng.log"; exit 1; }
	[ -f "$out/done" ]
	exit
fi

if [ "$mode" = bench ]; then
	cat "$out/bench.txt" 2>/dev/null
	if ! tail -n 1 "$out/bench.txt" 2>/dev/null | grep -q '^bench: ' || [ ! -f "$out/done" ]; then
		echo "vm-test: the benchmark did not finish; its log:" >&2
		tail -n 30 "$out/bench.log" "$out/vng.log" >&2 2>/dev/null
		exit 1
	fi
	exit
fi

python3 "$here/vm_results.py" "$out"
