#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What operators do beyond a plain flash, through cmis-fw: a stated
# version (--version: nothing done when the module runs it, no download
# when its inactive bank holds it, a wrong image never committed);
# cancel (cmis-fw cancel, and Ctrl-C with --cancel-on-interrupt) with
# the download aborted and the previous image running; the phases after
# the download told with their timeouts; a download with the link up; one kernel log line at the
# start and one at the end of each job; several ports in one command;
# exit statuses. Each checked against the emulated module's banks and
# command counters.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 15

use_firmware_dir
make_image v2.bin --version 2.0.7 --text operator --size 4000 --seed 12
make_image big.bin --version 2.0.7 --size 400000 --seed 13

v1='valid version=1\.0\.0 .* crc=[0-9a-f]{8}'
v2='valid version=2\.0\.7 .* crc=[0-9a-f]{8}'

# commands ID: how many times the port's module was sent command ID.
commands() {
	local n
	n=$(counter "command_$1")
	echo "${n:-0}"
}

version_already_running() {
	new_port
	local out ok=0
	"$cmis_fw" flash "$port" v2.bin --version 2.0.7 >/dev/null 2>&1 &&
		expect_banks "$v1" "$v2 running committed" || ok=1
	local starts runs resets
	starts=$(commands 0101) runs=$(commands 0109) resets=$(counter resets)
	out=$("$cmis_fw" flash "$port" v2.bin --version 2.0.7 2>&1) &&
		grep -q "^$port: completed: already running 2\.0\.7: nothing downloaded\$" <<<"$out" ||
		{ echo "$out"; ok=1; }
	[ "$(commands 0101)" = "$starts" ] && [ "$(commands 0109)" = "$runs" ] &&
		[ "$(counter resets)" = "$resets" ] ||
		{ echo "Start, Run or reset sent"; cat "$dir/counters"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	del_port
	return $ok
}
check "flash --version of the running version: nothing sent but queries" version_already_running

version_in_inactive_bank() {
	new_port
	local out ok=0
	"$cmis_fw" flash "$port" v2.bin --no-run >/dev/null 2>&1 &&
		expect_banks "$v1 running committed" "$v2" || ok=1
	out=$("$cmis_fw" flash "$port" v2.bin --version 2.0 2>&1) &&
		grep -q "^$port: completed: the inactive bank held 2\.0, not downloaded again; the image runs, committed\$" <<<"$out" ||
		{ echo "$out"; ok=1; }
	[ "$(commands 0101)" = 1 ] || { echo "downloaded again"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	del_port
	return $ok
}
check "flash --version held by the inactive bank: run and committed, no download" version_in_inactive_bank

version_mismatch() {
	new_port
	local out rc ok=0
	out=$("$cmis_fw" flash "$port" v2.bin --version 2.1 2>&1)
	rc=$?
	[ $rc -eq 1 ] && grep -q 'the image is version 2\.0\.7, not the 2\.1 asked for' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	[ "$(commands 0109)" = 0 ] || { echo "Run sent"; ok=1; }
	expect_banks "$v1 running committed" "$v2" || ok=1
	# A malformed version is a usage error (the kernel's own refusal is
	# ynl.sh's).
	out=$("$cmis_fw" flash "$port" v2.bin --version 2.x 2>&1)
	rc=$?
	[ $rc -eq 64 ] && grep -q 'MAJOR.MINOR' <<<"$out" || { echo "$out (exit $rc)"; ok=1; }
	del_port
	return $ok
}
check "flash --version of another version: never run, the previous image runs" version_mismatch

cancelled() {
	slow_port
	local out rc pid ok=0
	"$cmis_fw" flash "$port" big.bin >"$fw_dir/cancel.out" 2>&1 &
	pid=$!
	wait_download || ok=1
	out=$("$cmis_fw" cancel "$port" 2>&1) || { echo "cancel: $out"; ok=1; }
	wait $pid
	rc=$?
	[ $rc -eq 1 ] && grep -q 'cancelled; download aborted, previous image still runs' "$fw_dir/cancel.out" ||
		{ cat "$fw_dir/cancel.out"; echo "exit $rc"; ok=1; }
	[ "$(commands 0102)" = 1 ] || { echo "no Abort"; cat "$dir/counters"; ok=1; }
	grep -Eq "^A: $v1 running committed\$" "$dir/banks" && grep -q '^download: none$' "$dir/banks" ||
		{ cat "$dir/banks"; ok=1; }
	# Nothing to cancel now.
	out=$("$cmis_fw" cancel "$port" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'No firmware flashing in progress on this device' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	# The port flashes again.
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 && expect_banks "$v1" "$v2 running committed" ||
		ok=1
	del_port
	return $ok
}
check "cancel mid-download: aborted, the requester told, the port flashes again" cancelled

# cancel_in_phase "KNOB=VALUE..." PHASE: a new port, set so, flashed in the
# background and cancelled once the CLI tells PHASE; the flash's output
# is left in $fw_dir/phase.out, its exit status in $rc. Fails if PHASE
# never came or the cancel was refused. The phases are held 10 s: the
# cancel must land in them, and starting the CLI takes seconds on the
# sanitizer kernel under load.
cancel_in_phase() {
	new_port
	# shellcheck disable=SC2086 # one knob a word
	set_knobs $1
	local pid ok=0 out
	"$cmis_fw" flash "$port" v2.bin >"$fw_dir/phase.out" 2>&1 &
	pid=$!
	wait_file "$fw_dir/phase.out" "$2" 120 || { echo "no phase '$2'"; ok=1; }
	out=$("$cmis_fw" cancel "$port" 2>&1) || { echo "cancel: $out"; ok=1; }
	wait $pid
	rc=$?
	return $ok
}

# Cancelled while the module restarts into the new image: the flash ends
# before Commit, the new image running uncommitted (a reset goes back).
cancelled_after_run() {
	local rc ok=0
	cancel_in_phase reset_ms=10000 'Waiting for the module to restart' || ok=1
	[ $rc -eq 1 ] && grep -q 'cancelled; the new image runs uncommitted' "$fw_dir/phase.out" ||
		{ cat "$fw_dir/phase.out"; echo "exit $rc"; ok=1; }
	[ "$(commands 010a)" = 0 ] || { echo "Commit sent"; ok=1; }
	expect_banks "$v1 committed" "$v2 running" || ok=1
	del_port
	return $ok
}
check "cancel while the module restarts: no Commit, the new image runs uncommitted" cancelled_after_run

# Cancelled while the module commits (a Commit that takes 10 s): the
# command cannot be taken back, so the flash waits for it and completes,
# the new image committed.
cancelled_during_commit() {
	local rc ok=0
	cancel_in_phase "busy_us_commit=10000000 max_completion_ms=15000" 'Committing' || ok=1
	[ $rc -eq 0 ] && grep -q "^$port: flashing completed$" "$fw_dir/phase.out" ||
		{ cat "$fw_dir/phase.out"; echo "exit $rc"; ok=1; }
	[ "$(commands 010a)" = 1 ] || { echo "Commit sent $(commands 010a) times"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	del_port
	return $ok
}
check "cancel while the module commits: too late, the flash completes committed" cancelled_during_commit

# Cancelled after Commit, during the final reset: too late, the flash
# completes (the image is committed; nothing could be undone).
cancelled_after_commit() {
	local rc ok=0
	cancel_in_phase reset_ms=10000 'Resetting the module' || ok=1
	[ $rc -eq 0 ] && grep -q "^$port: flashing completed$" "$fw_dir/phase.out" ||
		{ cat "$fw_dir/phase.out"; echo "exit $rc"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	del_port
	return $ok
}
check "cancel during the final reset: too late, the flash completes committed" cancelled_after_commit

interrupt_cancels() {
	slow_port
	local rc pid ok=0
	"$cmis_fw" flash "$port" big.bin --cancel-on-interrupt >"$fw_dir/int.out" 2>&1 &
	pid=$!
	wait_download || ok=1
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc -eq 130 ] && grep -q 'cancelling the work on' "$fw_dir/int.out" &&
		grep -q 'cancelled; download aborted' "$fw_dir/int.out" ||
		{ cat "$fw_dir/int.out"; echo "exit $rc"; ok=1; }
	grep -Eq "^A: $v1 running committed\$" "$dir/banks" || { cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "flash --cancel-on-interrupt: Ctrl-C aborts the download, exits 130" interrupt_cancels

phases_told() {
	new_port
	local out seq ok=0
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1) || ok=1
	# Every line but the progress ones, in order.
	seq=$(grep -v ' bytes (' <<<"$out" | sed -e "s/^$port: //" -e 's/(timeout [0-9]* s)/(timeout N s)/')
	[ "$seq" = "flashing started
Running the new image
Waiting for the module to restart (timeout N s)
Committing the new image
Resetting the module to boot the committed image (timeout N s)
flashing completed" ] || { echo "$out"; ok=1; }
	# The reset's bound is the request's 60 s.
	grep -q '"message":"Resetting the module to boot the committed image".*"timeout_ms":60000' \
		<<<"$("$cmis_fw" flash "$port" v2.bin --json 2>&1)" || ok=1
	del_port
	return $ok
}
check "the phases after the download are told, with their timeouts" phases_told

logged() {
	new_port
	local log ok=0
	# The log is not cleared: the runner looks for splats in it.
	echo "cmis_fw selftest: operator.sh: log lines of $port" >/dev/kmsg
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 || ok=1
	"$cmis_fw" flash "$port" v2.bin --version 2.1 >/dev/null 2>&1 && ok=1
	log=$(dmesg | sed -n "/operator.sh: log lines of $port\$/,\$p")
	grep -q "cmis_fw: $port: module firmware v2\.bin: begins" <<<"$log" &&
		grep -Eq "cmis_fw: $port: module firmware v2\.bin: done in [0-9]+\.[0-9] s: 1\.0 -> 2\.0, the image runs, committed" <<<"$log" &&
		grep -Eq "cmis_fw: $port: module firmware v2\.bin: failed after [0-9]+\.[0-9] s: checking the image failed: the image is version 2\.0\.7, not the 2\.1 asked for" <<<"$log" &&
		[ "$(grep -c "cmis_fw: $port: module firmware" <<<"$log")" = 4 ] ||
		{ echo "$log"; ok=1; }
	del_port
	return $ok
}
check "one kernel log line at the start and one at the end of each job" logged

# A download with the link up: the port stays up and the module runs its
# image; a foreground-mode module is left alone before any command.
link_up() {
	new_port
	local out rc commands resets ok=0
	resets=$(counter resets)
	ip link set "$port" up
	out=$("$cmis_fw" flash "$port" v2.bin --no-run --link-up 2>&1) &&
		grep -q "^$port: completed: downloaded into the inactive bank, not run\$" <<<"$out" ||
		{ echo "$out"; ok=1; }
	# Nothing but the download: no Run, no reset.
	[ "$(commands 0109)" = 0 ] && [ "$(counter resets)" = "$resets" ] ||
		{ echo "Run or reset with the link up"; cat "$dir/counters"; ok=1; }
	expect_banks "$v1 running committed" "$v2" || ok=1
	# Run resets the module: refused with the link up.
	out=$("$cmis_fw" flash "$port" v2.bin --link-up 2>&1)
	rc=$?
	[ $rc -eq 64 ] || { echo "--link-up without --no-run: $out (exit $rc)"; ok=1; }
	set_knobs background_mode=0
	commands=$(counter commands)
	out=$("$cmis_fw" flash "$port" v2.bin --no-run --link-up 2>&1)
	rc=$?
	[ $rc -eq 1 ] && grep -q 'runs commands in the foreground, so it cannot download with the link up' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	[ "$(counter commands)" = "$commands" ] || { echo "a command was sent"; ok=1; }
	ip link set "$port" down
	del_port
	return $ok
}
check "flash --no-run --link-up: downloaded with the port up; refused for a foreground module" link_up

# A hitless run on a module that advertises it: no module reset by the
# driver (the emulator counts resets), the new image committed, proven by
# Get Firmware Info; refused before Run on one that does not.
hitless() {
	new_port
	set_knobs hitless_restart=1
	local out rc resets ok=0
	resets=$(counter resets)
	out=$("$cmis_fw" flash "$port" v2.bin --hitless 2>&1) || { echo "$out"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	# The Run's own restart only: no reset by the driver after the commit.
	[ "$(counter resets)" = $((resets + 1)) ] || { echo "resets: $resets -> $(counter resets)"; ok=1; }
	grep -q 'Resetting the module' <<<"$out" && { echo "$out"; ok=1; }
	set_knobs hitless_restart=0
	out=$("$cmis_fw" rollback "$port" --hitless 2>&1)
	rc=$?
	[ $rc -eq 1 ] && grep -q 'does not advertise hitless restart' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	expect_banks "$v1" "$v2 running committed" || ok=1
	del_port
	return $ok
}
check "flash --hitless: no module reset after the commit; refused where not advertised" hitless

# Several ports in one command: flashed at once (the kernel runs them in
# parallel), a summary table, the exit status from the outcomes. Sixteen
# ports: one refused (its link is up), one whose module fails Start, the
# others completed; five of those play the inconvenient modules (late
# resets, NACKs while busy, a slow driver, status lag) with their
# realistic timing.
fleet() {
	local ports=() dirs=() i out rc ok=0 done=0
	local profiles=(late_reset late_reset_1s nack_busy mailbox_driver laggy_5ms)
	for i in $(seq 16); do
		new_port
		ports+=("$port")
		dirs+=("$dir")
	done
	for i in "${!profiles[@]}"; do
		echo "${profiles[$i]}" >"${dirs[$i]}/profile" || ok=1
	done
	ip link set "${ports[14]}" up
	dir=${dirs[15]} set_knobs fail_command=0x0101 fail_count=1
	out=$("$cmis_fw" flash "${ports[@]}" v2.bin 2>&1)
	rc=$?
	ip link set "${ports[14]}" down
	[ $rc -eq 5 ] && grep -Eq "^PORT +BEFORE +AFTER +TIME +RESULT\$" <<<"$out" &&
		grep -Eq "^${ports[14]} +- +- +- +refused: Netdevice is up, so flashing is not permitted" <<<"$out" &&
		grep -Eq "^${ports[15]} +- +1\.0 +[0-9]+\.[0-9] s +failed: Start Firmware Download \(0101h\) failed" <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	for i in $(seq 0 13); do
		grep -Eq "^${ports[$i]} +1\.0 +2\.0 +[0-9]+\.[0-9] s +completed\$" <<<"$out" &&
			grep -Eq "^B: $v2 running committed\$" "${dirs[$i]}/banks" && done=$((done + 1))
	done
	[ $done -eq 14 ] || { echo "$done of 14 completed"; echo "$out"; ok=1; }
	grep -Eq "^A: $v1 running committed\$" "${dirs[15]}/banks" || { cat "${dirs[15]}/banks"; ok=1; }
	# Two again, stating the version: nothing to do; JSON.
	out=$("$cmis_fw" flash "${ports[0]}" "${ports[1]}" v2.bin --version 2.0 --json 2>&1)
	rc=$?
	[ $rc -eq 0 ] && /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read().splitlines()[-1])
assert s["schema"] == 1 and "time" in s, s
assert [p["outcome"] for p in s["summary"]] == ["completed"] * 2, s
assert all("already running 2.0" in p["message"] for p in s["summary"]), s
' <<<"$out" || { echo "$out (exit $rc)"; ok=1; }
	for i in $(seq 15 -1 0); do
		echo "${dirs[$i]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	return $ok
}
check "flash of 16 ports: at once, a summary table, exit 5 for mixed outcomes" fleet

# update --policy: the port that runs the wanted version is left alone
# (its link stays up), the other flashed.
policy() {
	local ports=() dirs=() i out rc ok=0
	for i in 1 2; do
		new_port
		ports+=("$port")
		dirs+=("$dir")
	done
	"$cmis_fw" flash "${ports[0]}" v2.bin >/dev/null 2>&1 || ok=1
	ip link set "${ports[0]}" up
	cat >"$fw_dir/policy.json" <<-EOF
	{"schema": 1, "modules": [
	  {"part_number": "CMIS-EMU-QSFPDD", "version": "2.0.7", "file": "v2.bin"},
	  {"part_number": "OTHER", "version": "9.9", "file": "other.bin"}
	]}
	EOF
	out=$("$cmis_fw" update --policy "$fw_dir/policy.json" "${ports[@]}" 2>&1)
	rc=$?
	[ $rc -eq 0 ] &&
		grep -Eq "^${ports[0]} +2\.0\.7 +2\.0\.7 +- +skipped: up to date \(2\.0\.7\)\$" <<<"$out" &&
		grep -Eq "^${ports[1]} +1\.0 +2\.0 +[0-9]+\.[0-9] s +completed\$" <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	grep -Eq "^B: $v2 running committed\$" "${dirs[1]}/banks" || { cat "${dirs[1]}/banks"; ok=1; }
	ip link set "${ports[0]}" down
	for i in 1 0; do
		echo "${dirs[$i]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	return $ok
}
check "update --policy: the port at the wanted version left alone, the other flashed" policy

# Exit statuses a script can tell apart: usage, module not loaded.
exit_statuses() {
	local out rc ok=0
	out=$("$cmis_fw" flash 2>&1)
	rc=$?
	[ $rc -eq 64 ] || { echo "usage: $out (exit $rc)"; ok=1; }
	out=$("$cmis_fw" --family nosuchfamily flash cmis0 v2.bin --json 2>&1)
	rc=$?
	[ $rc -eq 4 ] && grep -q 'is the cmis_fw module loaded' <<<"$out" &&
		grep '^{' <<<"$out" | /usr/bin/python3 -c '
import json, sys
e = json.loads(sys.stdin.read())
assert e["schema"] == 1 and "time" in e and "is the cmis_fw module loaded" in e["error"], e
' || { echo "not loaded: $out (exit $rc)"; ok=1; }
	return $ok
}
check "exit statuses: 64 for usage, 4 when the family is missing (in JSON too)" exit_statuses

ktap_finished
