#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Allocation failures at each allocation site of a flash request: with
# the kernel's fault injection filtered to stacks that hold cmis_fw's
# code (failslab and fail_page_alloc), the requester's thread fails its
# n-th such allocation (/proc/thread-self/fail-nth) for n = 1, 2, ...
# until a request makes no more. Each request must end with exactly one
# terminal outcome (refused with a message, failed with one, or
# completed), leave a valid image running, and the port must then flash
# cleanly; the runner checks for splats and, at the end, kmemleak. (The
# flash's work item, in a kernel worker, allocates only its
# notifications: they are failed all at once.) Then the same for the
# family's other requests (inventory, its dump, a CDB command, CDB info):
# each answered, nothing left claimed. Needs the fault injection stack
# filter (the sanitizer kernel); skipped elsewhere.
# CMIS_FW_FAULTS_STRIDE=K fails only every K-th allocation (1, 1+K, ...;
# 1 by default, as in make test-sanitize).

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

ktap_print_header
if [ ! -w /sys/kernel/debug/failslab/require-start ] || [ ! -w /proc/thread-self/fail-nth ]; then
	ktap_skip_all "no failslab with a stack filter in this kernel"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 4

use_firmware_dir
make_image v2.bin --version 2.0.7 --text faults --size 4000 --seed 21

# The address range of cmis_fw's code, from its symbols (sorted: the
# addresses have the same width).
syms=$(awk '$4 == "[cmis_fw]" && $2 ~ /^[tT]$/ { print $1 }' /proc/kallsyms | sort)
text_start=0x$(head -n1 <<<"$syms")
text_end=$(printf '0x%x' $((16#$(tail -n1 <<<"$syms") + 4096)))

# Fault injection for the allocations made with cmis_fw's code on the
# stack, blocking ones included, counted per task (fail-nth).
for attr in failslab fail_page_alloc; do
	d=/sys/kernel/debug/$attr
	echo "$text_start" >"$d/require-start"
	echo "$text_end" >"$d/require-end"
	echo 32 >"$d/stacktrace-depth"
	echo N >"$d/ignore-gfp-wait"
	echo 0 >"$d/verbose"
done
echo N >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem
echo 0 >/sys/kernel/debug/fail_page_alloc/min-order

new_port
dir_port=$dir

stride=${CMIS_FW_FAULTS_STRIDE:-1}

# Each site in turn (every stride-th), until a request makes fewer
# allocations than n (at most 100: a request allocates a few dozen
# times).
each_site() {
	local n out rc terminal left
	for n in $(seq 1 "$stride" 100); do
		out=$(fw_client flash "$port" v2.bin --timeout 120 --fail-nth "$n" 2>&1)
		rc=$?
		left=$(sed -n 's/^fail-nth left=//p' <<<"$out")
		# Shown as it goes: a run cut short by its timeout still tells
		# how far it got.
		ktap_print_msg "allocation $n: exit $rc, $(grep -E '^status=(COMPLETED|ERROR)|^error: ' <<<"$out" | head -n1)"
		# One terminal outcome: completed (0), failed with a message
		# (1) or refused with one (2); never silence (3: timeout).
		terminal=$(grep -cE '^status=(COMPLETED|ERROR)|^error: E[A-Z]+: .' <<<"$out")
		if [ "$rc" -gt 2 ] || [ "$terminal" -ne 1 ] || [ -z "$left" ]; then
			failure="allocation $n: exit $rc: $out"
			return 1
		fi
		if ! grep -Eq '^[AB]: valid .*running' "$dir_port/banks"; then
			failure="allocation $n: no valid image runs: $(cat "$dir_port/banks")"
			return 1
		fi
		# The port still flashes.
		out=$(fw_client flash "$port" v2.bin --timeout 120 2>&1) ||
			{ failure="after allocation $n: $out"; return 1; }
		# Nothing was failed: every site has been tried. fail-nth
		# counts down at each allocation: n - left were made.
		if [ "$left" -gt 0 ]; then
			sites=$((n - left))
			return 0
		fi
	done
	failure="more than 100 allocations in one request"
	return 1
}
failure=
if each_site; then
	which="each of the $sites allocations"
	[ "$stride" -eq 1 ] || which="every ${stride}th of the $sites allocations"
	ktap_test_pass "$which of a flash request failed in turn: one clean outcome, a valid image, the port usable"
else
	fail_with "each allocation of a flash request failed in turn" "$failure"
fi

# The flash's work item runs in an unbound kernel worker: with every
# allocation made there with cmis_fw's code on the stack failing, no
# progress notification can be built, and the requester must still hear
# the end, in the buffer set aside for it at the request.
# mark_workers 0|1: the unbound workers' make-it-fail.
mark_workers() {
	local p
	for p in $(pgrep '^kworker/u'); do
		echo "$1" >"/proc/$p/make-it-fail" 2>/dev/null
	done
}

worker_without_memory() {
	local try out rc left d
	for try in 1 2 3; do
		mark_workers 1
		for d in failslab fail_page_alloc; do
			echo Y >"/sys/kernel/debug/$d/task-filter"
			echo 1 >"/sys/kernel/debug/$d/interval"
			echo 100000 >"/sys/kernel/debug/$d/times"
			echo 100 >"/sys/kernel/debug/$d/probability"
		done
		out=$(fw_client flash "$port" v2.bin --timeout 120 2>&1)
		rc=$?
		left=$(cat /sys/kernel/debug/failslab/times)
		for d in failslab fail_page_alloc; do
			echo 0 >"/sys/kernel/debug/$d/probability"
			echo N >"/sys/kernel/debug/$d/task-filter"
		done
		mark_workers 0
		# The flash ran on a worker marked above (a new one may have
		# been started for it): the test holds only if allocations
		# did fail.
		[ "$left" -lt 100000 ] || continue
		if [ "$rc" -gt 1 ] || [ "$(grep -cE '^status=(COMPLETED|ERROR)' <<<"$out")" -ne 1 ]; then
			echo "exit $rc, $((100000 - left)) allocations failed: $out"
			return 1
		fi
		grep -Eq '^[AB]: valid .*running' "$dir_port/banks" || { cat "$dir_port/banks"; return 1; }
		out=$(fw_client flash "$port" v2.bin --timeout 120 2>&1) || { echo "after: $out"; return 1; }
		return 0
	done
	echo "no allocation of the flash's worker could be failed in 3 tries"
	return 1
}
check "the worker's allocations all failing: the requester still gets its one last notification" \
	worker_without_memory

# le32 N: N as a u32 attribute's payload, in hex.
le32() {
	printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'
}

# request_sites NAME COMMAND ARGS...: each allocation (every stride-th)
# of a request of the family's COMMAND failed in turn, in one client
# process: it must be answered (a reply, or an error), and release what
# it claimed (the module's CDB, the module-flash flag): the same request
# then answers cleanly.
request_sites() {
	local name=$1 cmd=$2 out
	shift 2
	out=$(fw_client request "$port" "$cmd" "$@" --each-allocation --stride "$stride" 2>&1) ||
		{ echo "$name: $out"; return 1; }
	echo "$name: ${out#allocations=} allocations"
}

# The other requests: an inventory (one port, and the dump of all), a CDB
# command (Query Status, read-only: it holds the CDB and the flag) and
# the CDB info request; then a flash completes.
other_requests() {
	request_sites "inventory" 100 &&
		request_sites "inventory dump" 100 --dump &&
		request_sites "CDB command" 104 --attr "31:$(le32 0)" --attr "34:$(le32 1)" &&
		request_sites "CDB info" 105 &&
		fw_client flash "$port" v2.bin --timeout 120 >/dev/null
}
desc="each allocation of an inventory, a CDB command and a CDB info request failed in turn: each answered, the port usable"
if out=$(other_requests 2>&1); then
	ktap_print_msg "$(tr '\n' ';' <<<"$out")"
	ktap_test_pass "$desc"
else
	fail_with "$desc" "$out"
fi

removed() {
	del_port
	[ -z "$(emu_port_by_index "${dir##*port}")" ]
}
check "the port is removed" removed

ktap_finished
