#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, as run by 'make test' and CI:
#   setup (idempotent), host unit tests (cargo test), clippy -D warnings,
#   rustfmt check, a short fuzzing run (fuzz.sh), the 7.3 test kernel
#   (cached), module builds in the Debian 13 root against Debian's stock 7.3 headers and the test kernel
#   (kernel lints + clippy, warnings are errors), DKMS build, kselftests in
#   one VM boot of the test kernel and one of Debian's stock kernel, the
#   no-ethtool-netlink kernel's, and a reduced set on the sanitizer kernel
#   where it is built (make test-sanitize builds it).
# Prints the time of each phase, and last exactly one line
# "N passed, N failed, N skipped" summing the unit tests, the checks and
# the VM results. Exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1
mkdir -p out
log=$top/out/test-logs
rm -rf "$log"
mkdir -p "$log"

passed=0 failed=0 skipped=0

phase_start() {
	phase=$1
	t0=$(date +%s)
	printf '== %s\n' "$phase"
}

phase_end() {
	printf '== %s: %s (%d s)\n' "$phase" "$1" "$(($(date +%s) - t0))"
}

# check NAME LOGFILE COMMAND...: a check counts as one test.
check() {
	local name=$1 logf=$2
	shift 2
	phase_start "$name"
	if "$@" >"$logf" 2>&1; then
		passed=$((passed + 1))
		phase_end ok
		return 0
	fi
	tail -n 40 "$logf"
	failed=$((failed + 1))
	phase_end "FAILED (log: ${logf#"$top"/})"
	return 1
}

summary() {
	printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
	[ "$failed" -eq 0 ]
	exit
}

# vm_phase NAME OUT_DIR [VAR=VALUE...]: one VM boot of vm-test.sh; its
# results count test by test.
vm_phase() {
	local name=$1 outdir=$2
	shift 2
	phase_start "$name"
	env "$@" "$here/vm-test.sh" test 2>&1 | tee "$log/${outdir##*/}.log" |
		grep -Ev '^[0-9]+ passed, [0-9]+ failed'
	if read -r p f s <"$outdir/counts" 2>/dev/null; then
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		phase_end "$p passed, $f failed, $s skipped"
	else
		failed=$((failed + 1))
		phase_end "FAILED: no results"
	fi
}

check setup "$log/setup.log" "$here/setup.sh" || summary

# sanitizer_kernel: the sanitizer test kernel (KASAN, UBSAN, reference
# trackers, fault injection) and the modules built for it.
sanitizer_kernel() {
	variant=sanitize
	check "test kernel ($variant)" "$log/kernel-$variant.log" \
		env CMIS_KERNEL=7.3 "$here/build-kernel.sh" --variant "$variant" || summary
	check "module build ($variant)" "$log/modules-$variant.log" \
		env CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" "$here/build-modules.sh" || summary
}

case "${1:-}" in
--sanitize)
	# 'make test-sanitize': the whole VM suite on the sanitizer kernel,
	# alone: under TCG it takes longer than CI's time allows beside the
	# rest.
	sanitizer_kernel
	vm_phase "VM kselftests ($variant)" "$top/out/vm-test-7.3-$variant" \
		CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" VM_TIMEOUT="${VM_TIMEOUT:-14400}" \
		CMIS_FW_TEST_TIMEOUT=3600 CMIS_FW_MATRIX="${CMIS_FW_MATRIX:-full}"
	summary
	;;
--soak)
	# 'make soak': soak.sh alone with its full counts (1000 flashes, 200
	# with faults) on the sanitizer kernel, whose reference trackers
	# report any device or namespace reference left behind.
	sanitizer_kernel
	vm_phase "soak ($variant)" "$top/out/vm-test-7.3-$variant" \
		CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" CMIS_FW_TESTS=soak.sh \
		CMIS_FW_SOAK="${CMIS_FW_SOAK:-1000 200}" CMIS_FW_TEST_TIMEOUT=14400 VM_TIMEOUT=15000
	summary
	;;
esac

phase_start "host unit tests"
cargo test --workspace --color never >"$log/cargo-test.log" 2>&1
rc=$?
read -r p f i < <(awk '/^test result:/ { p += $4; f += $6; i += $8 }
	END { print p + 0, f + 0, i + 0 }' "$log/cargo-test.log")
passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + i))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	failed=$((failed + 1)) # did not build
	tail -n 40 "$log/cargo-test.log"
fi
phase_end "$p passed, $f failed, $i ignored"

check clippy "$log/clippy.log" \
	cargo clippy --workspace --all-targets --color never -- -D warnings
check rustfmt "$log/rustfmt.log" sh -c '
	cargo fmt --all --check &&
	rustfmt --check --edition 2021 rust/cmis_fw/cmis_fw_main.rs rust/cmis_emu/cmis_emu_main.rs'
# A short fuzzing run of each core target (make fuzz runs long ones).
check "fuzz (20 s a target)" "$log/fuzz.log" "$here/fuzz.sh" --seconds 20
check "test kernel" "$log/kernel.log" env CMIS_KERNEL=7.3 "$here/build-kernel.sh" || summary
check "module build (stock headers)" "$log/modules-stock.log" \
	env CMIS_KERNEL=stock "$here/build-modules.sh" || summary
check "module build (test kernel)" "$log/modules-7.3.log" \
	env CMIS_KERNEL=7.3 "$here/build-modules.sh" || summary

check "dkms build" "$log/dkms.log" "$here/dkms-check.sh"

# The debug test kernel runs the tests of the kernel code's own paths
# (load and unload, requests, the work item against device and socket
# lifecycles, failures and their notifications, the inventory request
# beside a flash, the staged operations, soak, netlink fuzzing)
# under lockdep and kmemleak; the flasher conformance and quirk matrices
# (conformance.sh, quirks.sh: mostly the C flasher's fixed sleeps, the
# same kernel paths again), emulator.sh (the emulator's settings, which
# every other test uses too), ynl.sh, cli.sh and bench_smoke.sh
# (userspace over the same requests) run on the stock kernel only. Together that
# keeps CI on a fresh machine (which also builds both test kernels)
# within its 90 minutes; 'CMIS_FW_DEBUG_TESTS=all make test' runs
# everything on both. flash.sh (about 14 minutes on the debug kernel,
# half the debug phase) runs on the stock kernel only since session 10,
# when the suites' growth took the fresh-machine estimate past 90
# minutes. The lifetime events (unregister, namespace move, rename,
# unloads, socket close, link up) at each stage of a flash are
# matrix.sh's: its diagonal runs here, under lockdep and kmemleak, and
# not again on the stock kernel (the same kernel paths, about 3 minutes);
# every cell runs in make test-sanitize.
debug_tests=${CMIS_FW_DEBUG_TESTS-modules.sh ethtool_flash.sh failures.sh info.sh staged.sh soak.sh faults.sh netlink_fuzz.sh matrix.sh}
[ "$debug_tests" = all ] && debug_tests=
vm_phase "VM kselftests (test kernel)" "$top/out/vm-test-7.3" CMIS_KERNEL=7.3 \
	CMIS_FW_TESTS="$debug_tests"
stock_tests=$(sed -n '/^TEST_PROGS/,/end of TEST_PROGS/s/^\t\([a-z0-9_]*\.sh\).*/\1/p' \
	tools/testing/selftests/drivers/net/cmis_fw/Makefile | grep -vx matrix.sh | tr '\n' ' ')
vm_phase "VM kselftests (stock kernel)" "$top/out/vm-test-stock" CMIS_KERNEL=stock \
	CMIS_FW_TESTS="${CMIS_FW_STOCK_TESTS-$stock_tests}"

# The second kernel: no ethtool netlink family, so cmis_fw serves it and
# unmodified ethtool flashes through cmis_fw.
variant=no-ethtool-netlink
check "test kernel ($variant)" "$log/kernel-$variant.log" \
	env CMIS_KERNEL=7.3 "$here/build-kernel.sh" --variant "$variant" || summary
check "module build ($variant)" "$log/modules-$variant.log" \
	env CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" "$here/build-modules.sh" || summary
vm_phase "VM kselftests ($variant)" "$top/out/vm-test-7.3-$variant" \
	CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" CMIS_FW_PARAMS=family=ethtool \
	CMIS_FW_TESTS=ethtool_compat.sh

# The sanitizer kernel (KASAN, UBSAN, reference trackers, fault
# injection) runs a reduced set where it is built already: its first
# build (about 40 minutes) does not fit in CI's 90 minutes beside a fresh
# machine's other builds, so make test-sanitize builds it (and runs the
# whole suite there); elsewhere this phase counts as one skip. The set:
# load and unload, the failure paths, the netlink fuzzer, every 4th
# allocation failed (faults.sh, which needs this kernel) and the
# lifetime matrix's diagonal, its stages held 12 s as in the full matrix
# (KASAN under TCG can take 4 s to see a stage and act in it).
variant=sanitize
if CMIS_KERNEL=7.3 "$here/build-kernel.sh" --cached-only --variant "$variant" >/dev/null 2>&1; then
	check "module build ($variant)" "$log/modules-$variant.log" \
		env CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" "$here/build-modules.sh" || summary
	vm_phase "VM kselftests ($variant, reduced set)" "$top/out/vm-test-7.3-$variant" \
		CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT="$variant" CMIS_FW_FAULTS_STRIDE=4 CMIS_FW_MATRIX_HOLD=12 \
		CMIS_FW_TESTS="${CMIS_FW_SANITIZE_TESTS-modules.sh failures.sh netlink_fuzz.sh faults.sh matrix.sh}"
else
	printf '== VM kselftests (%s): skipped: that kernel is not built here (make test-sanitize builds it)\n' "$variant"
	skipped=$((skipped + 1))
fi

summary
