#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fault matrix. Part one: each event that can befall a flash from
# outside (the device unregistered, moved to another namespace or
# renamed, cmis_fw or cmis_emu unloaded, the requester's socket closed,
# a link up attempt) at each stage of the flash (Start, the download,
# Complete, the restart after Run, Commit, the final reset), each stage
# made to last seconds by the emulated module so the event lands in it
# (read from the module's counters and state, not timed). Part two: each
# host request of a flash failing in turn with EIO, ENODEV and
# ETIMEDOUT, or, a read, returning half its bytes (the emulator's
# fail_request: cmis_fw must read the rest from where the driver stopped,
# never use the rest of the buffer, which the emulator fills with wrong
# bytes; every such flash must complete). In every cell: one terminal
# outcome for the requester (or, with its socket closed, for the
# monitor group), the module running a valid image, the port flashing
# cleanly after; the runner fails on any splat, leak report or reference
# tracker report.
#
# CMIS_FW_MATRIX=full (make test-sanitize) runs every cell and fails
# every request; otherwise each event meets one stage, each stage at
# least one event, and every seventh request is failed.
# CMIS_FW_MATRIX_CELLS="EVENT@STAGE ..." runs those cells (and every
# seventh request).

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool
require_tool cmis_fw cmis-fw

stages=(start download complete run commit reset)
events=(unregister netns rename rmmod_cmis_fw rmmod_cmis_emu socket_close link_up)
errnos=(5 19 110 short)

cells=()
if [ -n "${CMIS_FW_MATRIX_CELLS:-}" ]; then
	read -ra cells <<<"$CMIS_FW_MATRIX_CELLS"
	stride=7
elif [ "${CMIS_FW_MATRIX:-}" = full ]; then
	for e in "${events[@]}"; do
		for s in "${stages[@]}"; do cells+=("$e@$s"); done
	done
	stride=1
else
	for i in "${!events[@]}"; do
		cells+=("${events[$i]}@${stages[$((i % ${#stages[@]}))]}")
	done
	stride=7
fi

ktap_print_header
ktap_set_plan $((${#cells[@]} + ${#errnos[@]}))

use_firmware_dir
make_image v2.bin --version 2.0.7 --text matrix --size 4000 --seed 31

# How long each stage lasts, in seconds: long enough for the test to see
# it and act (every poll below forks nothing, but a guest under KASAN
# and TCG can take seconds to be scheduled).
hold=${CMIS_FW_MATRIX_HOLD:-4}
[ "${CMIS_FW_MATRIX:-}" = full ] && hold=${CMIS_FW_MATRIX_HOLD:-12}

# stage_knobs STAGE: the module settings that make STAGE last $hold s.
stage_knobs() {
	local us=$((hold * 1000000)) ms=$((hold * 2000))
	case $1 in
	start) echo busy_us_start=$us max_duration_start=$ms ;;
	download) echo write_mechanism=0x01 busy_us_write=$((hold * 50000)) max_duration_write=2000 ;;
	complete) echo busy_us_complete=$us max_duration_complete=$ms ;;
	run | reset) echo reset_ms=$((hold * 1000)) ;;
	commit) echo busy_us_commit=$us max_completion_ms=$ms ;;
	esac
}

# in_stage STAGE: the current port's module is in STAGE now (read with
# bash's own I/O: no process started per poll).
in_stage() {
	local state counters banks
	read -r state <"$dir/state"
	IFS= read -r -d '' counters <"$dir/counters"
	counters=$'\n'$counters
	has() { [[ $counters == *$'\n'"$1: $2"$'\n'* ]]; }
	case $1 in
	start) has command_0101 1 && [[ $state == *busy* ]] ;;
	download)
		IFS= read -r -d '' banks <"$dir/banks"
		[[ $banks == *$'\n'"download: bank="* ]]
		;;
	complete) has command_0107 1 && [[ $state == *busy* ]] ;;
	run) has command_0109 1 && [[ $counters != *command_010a* ]] && [[ $state == resetting* ]] ;;
	commit) has command_010a 1 && [[ $state == *busy* ]] ;;
	reset) has command_010a 1 && [[ $state == resetting* ]] ;;
	esac
}

# wait_stage STAGE: waits (60 s at most) until the module is in STAGE.
wait_stage() {
	wait_for 60 in_stage "$1" || { echo "stage $1 never came: $(cat "$dir/state")"; cat "$dir/counters"; return 1; }
}

# terminal OUT PATTERN: the requester's output OUT holds exactly one
# terminal outcome, and it matches PATTERN.
terminal() {
	local ends
	ends=$(grep -E '^status=(COMPLETED|ERROR)|^error: ' "$1")
	[ "$(wc -l <<<"$ends")" -eq 1 ] && [ -n "$ends" ] && grep -Eq -- "$2" <<<"$ends" ||
		{ echo "terminal outcomes, expected one matching '$2':"; cat "$1"; return 1; }
}

# valid_image: the module runs a valid image.
valid_image() {
	grep -Eq '^[AB]: valid .*running' "$dir/banks" || { cat "$dir/banks"; return 1; }
}

# new_committed: the new image runs, committed (in bank B after the
# first flash, in A after the second).
new_committed() {
	grep -Eq '^[AB]: valid version=2\.0\.7 .*running committed$' "$dir/banks" || { cat "$dir/banks"; return 1; }
}

# flash_again: the port flashes cleanly.
flash_again() {
	local out
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1) || { echo "flash after: $out"; return 1; }
	new_committed
}

# within MS COMMAND...: runs COMMAND, which must succeed within MS ms.
within() {
	local limit=$1 t0 ms
	shift
	t0=$(date +%s%N)
	"$@" || { echo "$* failed"; return 1; }
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt "$limit" ] || { echo "$* took $ms ms"; return 1; }
}

# The events, run once the flash (requester $pid, output $out) is in the
# stage; each checks what must follow.

# landed: the module is still in the cell's stage after the event, so
# the event came in it (where the outcome alone would not tell).
landed() {
	in_stage "$stage" || { echo "the event came after the $stage stage: $(cat "$dir/state")"; return 1; }
}

event_unregister() {
	local ok=0
	within 5000 del_port || ok=1
	wait "$pid"
	terminal "$out" 'status=ERROR .*unregistered' || ok=1
	# The module left with its port; a new one flashes.
	new_port
	flash_again || ok=1
	return $ok
}

event_netns() {
	local ok=0 holder
	netns_holder || return 1
	ip link set "$port" netns "$holder" || ok=1
	landed || ok=1
	wait "$pid"
	terminal "$out" '^status=COMPLETED' || ok=1
	nsenter -t "$holder" -n ip link set "$port" netns 1 || ok=1
	kill "$holder"
	wait "$holder" 2>/dev/null
	new_committed || ok=1
	flash_again || ok=1
	return $ok
}

event_rename() {
	local ok=0 name=$port
	ip link set "$port" name mtx0 || return 1
	port=mtx0
	landed || ok=1
	wait "$pid"
	terminal "$out" '^status=COMPLETED' || ok=1
	new_committed || ok=1
	ip link set "$port" name "$name" || ok=1
	port=$name
	flash_again || ok=1
	return $ok
}

event_rmmod_cmis_fw() {
	local ok=0
	# Unloading cancels the flash, which first waits out the module's
	# command or restart in progress (the held stage, at most).
	within $(((hold + 10) * 1000)) rmmod cmis_fw || ok=1
	wait "$pid"
	terminal "$out" '^status=(COMPLETED|ERROR .*msg=.)' || ok=1
	valid_image || ok=1
	insmod_cmis_fw || return 1
	flash_again || ok=1
	return $ok
}

event_rmmod_cmis_emu() {
	local ok=0
	within 10000 rmmod cmis_emu || ok=1
	wait "$pid"
	terminal "$out" 'status=ERROR .*unregistered' || ok=1
	insmod "$CMIS_FW_MODULE_DIR/cmis_emu.ko" || return 1
	new_port
	flash_again || ok=1
	return $ok
}

event_socket_close() {
	local ok=0
	kill -KILL "$pid"
	landed || ok=1
	wait "$pid" 2>/dev/null
	# The monitor, subscribed before the flash, sees its one end.
	wait "$monitor" || { echo "monitor: $(cat "$fw_dir/monitor.out")"; ok=1; }
	[ "$(grep -cE "^$port status=(COMPLETED|ERROR)" "$fw_dir/monitor.out")" -eq 1 ] &&
		grep -q "^$port status=COMPLETED" "$fw_dir/monitor.out" ||
		{ cat "$fw_dir/monitor.out"; ok=1; }
	new_committed || ok=1
	flash_again || ok=1
	return $ok
}

event_link_up() {
	local ok=0
	ip link set "$port" up 2>/dev/null && { echo "link up accepted mid-flash"; ok=1; }
	landed || ok=1
	wait "$pid"
	terminal "$out" '^status=COMPLETED' || ok=1
	new_committed || ok=1
	ip link set "$port" up || ok=1
	ip link set "$port" down || ok=1
	flash_again || ok=1
	return $ok
}

# cell EVENT@STAGE: a new port set for STAGE, flashed, EVENT once the
# module is in STAGE; the port is removed after.
cell() {
	local event=${1%@*} stage=${1#*@} ok=0 monitor=
	new_port
	# shellcheck disable=SC2046 # one knob a word
	set_knobs $(stage_knobs "$stage") || return 1
	out=$fw_dir/cell.out
	if [ "$event" = socket_close ]; then
		fw_client_bg monitor --count 1 --timeout 120 >"$fw_dir/monitor.out" 2>&1
		monitor=$!
		wait_file "$fw_dir/monitor.out" '^monitoring' 60 || return 1
	fi
	fw_client_bg flash "$port" v2.bin --timeout 120 >"$out" 2>&1
	pid=$!
	if wait_stage "$stage"; then
		"event_$event" || ok=1
	else
		wait "$pid"
		cat "$out"
		ok=1
	fi
	[ -n "$(emu_port_by_index "${dir##*port}")" ] && del_port
	return $ok
}

for c in "${cells[@]}"; do
	check "${c%@*} during ${c#*@}: one outcome, a valid image, the port flashes after" cell "$c"
done

# Part two: each host request failing in turn, on an instant port; the
# outcomes are shown (requests<N: a flash made fewer than N).
new_port
for e in "${errnos[@]}"; do
	desc="each request of a flash failing with errno $e (every $stride): one outcome, a valid image, a clean flash after"
	must=()
	if [ "$e" = short ]; then
		desc="each read of a flash returning short (every $stride): the rest read, the flash completed, a clean flash after"
		must=(--must-complete)
	fi
	out=$(fw_client each-request "$port" v2.bin --dir "$dir" --errno "$e" --stride "$stride" "${must[@]}" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_print_msg "errno $e: $out"
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "(exit $rc)"
	fi
done
del_port

ktap_finished
