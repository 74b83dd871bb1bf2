#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots a Linux 7.3 kernel once under virtme-ng (TCG: KVM guests hang on
# these machines), inserts the modules build-modules.sh built for it by
# path, runs the kselftests in tools/testing/selftests/drivers/net/cmis_fw
# and judges the run (tools/scripts/vm_results.py): the last line printed
# is "N passed, N failed, N skipped"; the exit status is non-zero on any
# failure, kernel splat or leak.
#
# CMIS_KERNEL selects the kernel, as for build-modules.sh:
#   stock  (default) Debian's unmodified linux-image-7.3.4+deb13-amd64
#          (debian13-root.sh), booted with a busybox initramfs; it has no
#          kmemleak, so leaks are not checked there
#   7.3    the project's 7.3 test kernel (CMIS_KERNEL=7.3 build-kernel.sh),
#          with its debugging aids; CMIS_FW_KERNEL_VARIANT=NAME boots one
#          of its variants
#
# Usage: vm-test.sh [test|demo|bench]
# Environment: CMIS_FW_SELFTEST_INJECT=fail|warn proves that a failing
# test or a kernel WARN fails the run; VM_TIMEOUT (seconds, default 3000);
# CMIS_FW_TESTS="a.sh b.sh" runs only those tests; CMIS_FW_SOAK,
# CMIS_FW_MATRIX[_HOLD|_CELLS], CMIS_FW_FAULTS_STRIDE and
# CMIS_FW_TEST_TIMEOUT reach the guest (see soak.sh, matrix.sh,
# faults.sh); results go to
# out/vm-<mode>-<kernel>[-<variant>]; CMIS_FW_PARAMS are cmis_fw's insmod
# parameters; CMIS_VM_APPEND is added to the guest kernel's command line
# (e.g. "mitigations=off"). Mode bench runs tools/cmis-bench in the guest (see bench.sh)
# with CMIS_BENCH_ARGS and prints its output.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

mode=${1:-test}
suite=drivers/net/cmis_fw
kernel=${CMIS_KERNEL:-stock}
variant=${CMIS_FW_KERNEL_VARIANT:-}
out=$top/out/vm-$mode-$kernel${variant:+-$variant}
mods=$(cmis_modules_dir "$kernel" "$variant")
# shellcheck source=tools/scripts/debian13-root.sh
. "$here/debian13-root.sh"
d13_load
case "$kernel" in
stock)
	[ -z "$variant" ] || { echo "vm-test: variants are test kernels (CMIS_KERNEL=7.3)" >&2; exit 1; }
	image=$D13_VMLINUZ
	# vng finds the stock modules (9p, virtio, overlay) next to the image
	# and loads them from a busybox initramfs.
	vng_args=(--busybox "$D13_BUSYBOX")
	# The 7.3 source tree in the root, only read: its selftests machinery
	# and YNL tool.
	ktree=$D13_TREE
	spare_module=$(dirname "$D13_VMLINUZ")/kernel/drivers/net/dummy.ko.xz
	;;
7.3)
	variant_args=()
	[ -n "$variant" ] && variant_args=(--variant "$variant")
	kdir=$(CMIS_KERNEL=7.3 "$here/build-kernel.sh" "${variant_args[@]}")
	image=$kdir/arch/x86/boot/bzImage
	# -S: vng leaves the kernel tree alone; the modules go in by path.
	vng_args=(-S)
	ktree=$kdir
	spare_module=$kdir/drivers/net/dummy.ko
	;;
*) echo "vm-test: unknown CMIS_KERNEL=$kernel (stock or 7.3)" >&2; exit 1 ;;
esac

for ko in cmis_fw.ko cmis_emu.ko; do
	[ -f "$mods/$ko" ] || { echo "vm-test: $mods/$ko not built (make modules)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"

# Install the suite with the kernel's own kselftest machinery, from a copy
# of it (out/ksft-tree-<kernel>, made once) where its Makefile finds
# lib.mk: the kernel trees themselves stay untouched.
if [ "$mode" = test ]; then
	ksrc=$top/out/ksft-tree-$kernel
	mkdir -p "$ksrc/tools/testing" "$ksrc/scripts"
	rsync -a --delete "$ktree/tools/testing/selftests" "$ksrc/tools/testing/"
	rsync -a --delete "$ktree/tools/scripts" "$ksrc/tools/"
	cp "$ktree/scripts/subarch.include" "$ksrc/scripts/"
	cp -r "$top/tools/testing/selftests/$suite" "$ksrc/tools/testing/selftests/$suite"
	make -s -C "$ksrc/tools/testing/selftests" TARGETS="$suite" \
		INSTALL_PATH="$out/ksft" install >"$out/ksft-install.log" 2>&1 || {
		cat "$out/ksft-install.log" >&2
		exit 1
	}
fi

# Host tools the tests run in the guest (same root file system); the
# command line tool as its Debian package installs it (package-cli.sh
# unpacks the package into out/cli-root).
cargo build --release --quiet -p cmis-emu-image -p cmis-fw -p cmis-bench
"$here/package-cli.sh" >/dev/null
bin=$top/out/tools-bin
rm -rf "$bin"
mkdir -p "$bin"
ln -s "$top/out/cli-root/usr/bin/cmis-fw" "$bin/cmis-fw"
ln -s "$top/target/release/cmis-emu-image" "$top/target/release/cmis-bench" "$bin/"

# Settings that reach the guest's tests.
{
	printf 'export CMIS_FW_SELFTEST_INJECT=%q\n' "${CMIS_FW_SELFTEST_INJECT:-}"
	printf 'export CMIS_FW_BIN_DIR=%q\n' "$bin"
	printf 'export CMIS_FW_CLI_ROOT=%q\n' "$top/out/cli-root"
	# CMIS_FW_TESTS="flash.sh emulator.sh" runs only those (for
	# development; make test runs everything).
	printf 'export CMIS_FW_TESTS=%q\n' "${CMIS_FW_TESTS:-}"
	printf 'export CMIS_FW_PARAMS=%q\n' "${CMIS_FW_PARAMS:-}"
	printf 'export CMIS_BENCH_ARGS=%q\n' "${CMIS_BENCH_ARGS:-}"
	# Tests' sizes: soak.sh's counts ("FLASHES FAULTED"), matrix.sh's
	# cells (every one in make test-sanitize, or a diagonal), faults.sh's
	# stride; and a per-test timeout in seconds instead of the suite's.
	for var in CMIS_FW_SOAK CMIS_FW_MATRIX CMIS_FW_MATRIX_HOLD CMIS_FW_MATRIX_CELLS \
		CMIS_FW_FAULTS_STRIDE CMIS_FW_TEST_TIMEOUT; do
		printf 'export %s=%q\n' "$var" "${!var:-}"
	done
	# The kernel's YNL command line tool (tools/net/ynl/pyynl/ in 7.x) and
	# our family's spec.
	ynl=$ktree/tools/net/ynl/pyynl/cli.py
	[ -f "$ynl" ] || ynl=$ktree/tools/net/ynl/cli.py
	printf 'export CMIS_FW_YNL_CLI=%q\n' "$ynl"
	# Debian's stock kernel has no kmemleak: the guest does not count its
	# absence as a failure there.
	printf 'export CMIS_FW_KMEMLEAK=%q\n' "$([ "$kernel" = stock ] && echo optional || echo required)"
	printf 'export CMIS_FW_SPEC=%q\n' "$top/Documentation/netlink/specs/cmis_fw.yaml"
	# A module of the kernel's own, loaded and unloaded by soak.sh before
	# it measures memory (a module load purges lazily freed vmalloc areas).
	printf 'export CMIS_FW_SPARE_MODULE=%q\n' "$spare_module"
} >"$out/env"

echo "vm-test: booting $image (TCG)" >&2
start=$(date +%s)
# vng's own exit status is not meaningful without udev in the guest (the
# script then runs on the console); the guest reports through $out.
timeout --kill-after=10 "${VM_TIMEOUT:-3000}" \
	vng --verbose --disable-kvm "${vng_args[@]}" -r "$image" \
		--cpus 2 --memory 2G --rwdir "$out" \
		${CMIS_VM_APPEND:+--append "$CMIS_VM_APPEND"} \
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
