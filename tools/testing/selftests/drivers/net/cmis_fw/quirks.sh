#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Both flashers against the emulator's spec-legal quirks (status lag, late
# reset, NACK windows, bootloader phase, mailbox driver cost, one bank,
# everything at once): every named profile but default (flash.sh and
# conformance.sh cover it), set through the port's profile file, and a
# few single quirks over realistic_epl (the profile, then one of the
# port's settings). Each case flashes a small image with cmis_fw (the
# cmis-fw tool) and with the kernel's C flasher (unmodified ethtool), each
# on a fresh port of its own; the cases of a wave (CMIS_QUIRKS_WAVE, 8 by
# default) run at once, so that the whole should take a minute or two
# under TCG (not measured yet: the profile file is new) where one case
# after the other would take over five (the C flasher sleeps about 15 s
# per flash).
#
# cmis_fw must succeed: it reports completion, the module runs the new
# image (version, size and CRC) committed from the other bank, and it
# never wrote into a busy CDB instance (writes_while_busy: 0). The C
# flasher is the oracle, not the requirement: its outcome is ok, failed
# (it reported an error) or false success (it reported completion, but
# the module's bank view after the flash says otherwise), told in the
# description of the case's test point, which it never fails.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_ethtool_flash
require_image_tool
require_tool cli cmis-fw

# The cases: NAME PROFILE [SETTING=VALUE...]. The named profiles are
# Profile::NAMES (rust/cmis_core/src/emu/mod.rs) less default.
cases=(
	"realistic_epl realistic_epl"
	"realistic_lpl realistic_lpl"
	"laggy laggy"
	"laggy_5ms laggy_5ms"
	"late_reset late_reset"
	"late_reset_1s late_reset_1s"
	"nack_busy nack_busy"
	"mailbox_driver mailbox_driver"
	"bootloader bootloader"
	"single_bank single_bank"
	"hostile hostile"
	# Pieces of hostile, one at a time. Foreground mode: nothing is
	# acknowledged while a command runs.
	"realistic_epl+foreground realistic_epl background_mode=0"
	"realistic_epl+durations_in_10ms realistic_epl durations_10x=1 max_duration_start=500 max_duration_abort=100 max_duration_write=10 max_duration_complete=500"
	"realistic_epl+start_payload_40 realistic_epl start_payload_size=40"
	"realistic_epl+write_mechanism_03h realistic_epl write_mechanism=0x03"
	"realistic_epl+1k_epl_blocks realistic_epl epl_pages_code=5"
	# Run reports success and the module keeps running its old image for
	# 2.5 s more: later than the C flasher's fixed 2 s wait.
	"realistic_epl+reset_2500ms_late realistic_epl quirk_reset_extra_ms=2500 quirk_ready_until_reset=1 quirk_state_changed_flag=1"
	# The same, and the module never latches ModuleStateChanged: only the
	# reset itself (the witness) or the versions tell.
	"realistic_epl+reset_2500ms_late_no_flag realistic_epl quirk_reset_extra_ms=2500 quirk_ready_until_reset=1"
	# Status lag longer than a block takes, on CMIS 4.0.
	"laggy+lag_6ms laggy quirk_status_lag_us=6000"
)
names=(default realistic_epl realistic_lpl laggy laggy_5ms late_reset late_reset_1s
	nack_busy mailbox_driver bootloader single_bank hostile)

# Cases flashed at once (two flashes and two ports each).
wave=${CMIS_QUIRKS_WAVE:-8}
# Seconds either flasher may take; the realistic timing makes a flash of
# the image below take 7 to 20 s.
flash_timeout=150

ktap_print_header
ktap_set_plan $((1 + ${#cases[@]}))

use_firmware_dir
make_image v2.bin --version 2.0.7 --text quirks --header-len 64 --size 4000 --seed 7
crc=$(python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()[64:]))' \
	"$fw_dir/v2.bin")
new_image="^B: valid version=2\\.0\\.7 text=\"quirks\" size=4000 crc=$crc running committed\$"

# expect FILE VALUE: FILE of the current port reads VALUE.
expect() {
	local got
	got=$(cat "$dir/$1")
	[ "$got" = "$2" ] || { echo "$1 reads '$got', expected '$2'"; return 1; }
}

# The profile file: every name applies the whole profile and reads back,
# a single setting written after it makes it custom, an unknown name is
# refused.
profile_file() {
	local ok=0 name
	new_port
	if [ ! -e "$dir/profile" ]; then
		echo "$dir/profile does not exist"
		del_port
		return 1
	fi
	for name in "${names[@]}"; do
		echo "$name" >"$dir/profile" || { echo "writing $name failed"; ok=1; continue; }
		expect profile "$name" || ok=1
	done
	# The whole profile, not only what differs from the current one.
	echo hostile >"$dir/profile"
	expect write_mechanism 0x03 && expect epl_pages_code 5 && expect rw_len_ext 7 &&
		expect start_payload_size 40 && expect durations_10x 1 && expect bus_hz 400000 || ok=1
	echo laggy >"$dir/profile"
	expect revision 0x40 && expect write_mechanism 0x10 && expect epl_pages_code 7 &&
		expect start_payload_size 64 && expect durations_10x 0 || ok=1
	echo realistic_lpl >"$dir/profile"
	expect revision 0x52 && expect write_mechanism 0x01 && expect busy_us_write 1000 &&
		expect reset_ms 1500 || ok=1
	echo default >"$dir/profile"
	expect write_mechanism 0x11 && expect bus_hz 0 && expect reset_ms 0 || ok=1
	echo realistic_epl >"$dir/profile"
	echo 1000 >"$dir/reset_ms"
	expect profile custom && expect reset_ms 1000 || ok=1
	if echo no_such_profile >"$dir/profile" 2>/dev/null; then
		echo "an unknown profile name was accepted"
		ok=1
	fi
	del_port
	return $ok
}
check "the profile file applies each named profile, custom after a setting" profile_file
new_port
has_profile=$([ -e "$dir/profile" ] && echo yes)
del_port
[ -n "$has_profile" ] ||
	ktap_exit_fail_msg "the emulator's ports have no profile file: no case can be set up"

# Per flash of the current wave, keyed CASE.FLASHER (FLASHER: c or rust).
declare -A port_of dir_of setup_err

# run_flash KEY COMMAND...: in the background, output in KEY.out, exit
# status in KEY.rc, seconds taken in KEY.s.
run_flash() {
	local key=$1
	shift
	(
		t0=$(date +%s%N)
		timeout "$flash_timeout" "$@" >"$fw_dir/$key.out" 2>&1
		echo $? >"$fw_dir/$key.rc"
		t1=$(date +%s%N)
		printf '%d.%d\n' $(((t1 - t0) / 1000000000)) $(((t1 - t0) / 100000000 % 10)) \
			>"$fw_dir/$key.s"
	) &
}

# start_case I: two fresh ports with case I's profile and settings, and a
# flash of each.
start_case() {
	local i=$1 f kv
	# shellcheck disable=SC2206 # the case's words
	local c=(${cases[$i]})
	for f in rust c; do
		new_port
		port_of[$i.$f]=$port
		dir_of[$i.$f]=$dir
		setup_err[$i.$f]=
		if ! echo "${c[1]}" >"$dir/profile"; then
			setup_err[$i.$f]="cannot apply profile ${c[1]}"
			continue
		fi
		for kv in "${c[@]:2}"; do
			echo "${kv#*=}" >"$dir/${kv%%=*}" ||
				{ setup_err[$i.$f]="cannot set $kv"; continue 2; }
		done
		if [ $f = rust ]; then
			run_flash "$i.$f" "$cli" flash "$port" v2.bin
		else
			run_flash "$i.$f" ethtool --flash-module-firmware "$port" file v2.bin
		fi
	done
}

# up DIR: waits (up to 30 s) until the module answers again, no reset
# pending (Run's late reset, late_reset_1s: 1 s after its success).
up() {
	wait_file "$1/state" '^(ready|lowpwr|pwrup)( busy)?( booting)?$'
}

# counter_of DIR NAME: a counter, empty if the counters have no such line.
counter_of() {
	sed -n "s/^$2: //p" "$1/counters"
}

# The running and the committed bank and their versions, from banks.
bank_view() {
	awk '/^[AB]: / {
		b = substr($1, 1, 1); v = "invalid"
		for (i = 2; i <= NF; i++) if ($i ~ /^version=/) v = substr($i, 9)
		if ($0 ~ / running( committed)?$/) run = b " " v
		if ($0 ~ / committed$/) com = b " " v
	} END { printf "running %s, committed %s", run, com }' "$1/banks"
}

# Why the module of DIR does not run the new image committed.
why_not_new() {
	local banks=$1/banks
	if grep -q '^A: valid version=1\.0\.0 .* running committed$' "$banks"; then
		echo "the old image runs, committed"
	elif grep -q '^B: valid version=2\.0\.7 .* running$' "$banks"; then
		echo "the new image runs uncommitted"
	elif grep -q '^B: valid version=2\.0\.7 .* running committed$' "$banks"; then
		echo "the new image is not intact"
	elif grep -q '^B: valid version=2\.0\.7 .* committed$' "$banks"; then
		echo "the new image is committed but does not run"
	else
		echo "no new image"
	fi
}

# KTAP descriptions are echoed unquoted: no directives, no globs.
clean() {
	local s=${1//[#*?\[\]]/}
	echo "${s//$'\n'/ }"
}

c_ok=0 c_failed=0 c_false=0

# judge I: the test point of case I, from both flashes.
judge() {
	local i=$1
	local name r=$i.rust k=$i.c rc out msg c_outcome desc ok=0 diag=() wwb
	# shellcheck disable=SC2206 # the case's words
	local c=(${cases[$i]})
	name=${c[0]}

	# The C flasher: the oracle.
	if [ -n "${setup_err[$k]}" ]; then
		c_outcome="not run (${setup_err[$k]})"
	else
		out=$(cat "$fw_dir/$k.out")
		up "${dir_of[$k]}"
		if grep -q 'flashing completed' <<<"$out" && ! grep -q 'encountered an error' <<<"$out" &&
			[ "$(cat "$fw_dir/$k.rc")" = 0 ]; then
			if grep -q "$new_image" "${dir_of[$k]}/banks"; then
				c_outcome=ok
				c_ok=$((c_ok + 1))
			else
				c_outcome="false success ($(why_not_new "${dir_of[$k]}"); $(bank_view "${dir_of[$k]}"))"
				c_false=$((c_false + 1))
			fi
		else
			rc=$(cat "$fw_dir/$k.rc")
			if [ "$rc" = 124 ]; then
				c_outcome="failed (no result in ${flash_timeout} s)"
			else
				msg=$(sed -n 's/^Status message: //p' <<<"$out" | tail -n1)
				c_outcome="failed${msg:+ ($msg)}"
			fi
			c_failed=$((c_failed + 1))
		fi
		wwb=$(counter_of "${dir_of[$k]}" writes_while_busy)
		[ "${wwb:-0}" -eq 0 ] || c_outcome+=", $wwb writes into a busy CDB instance"
	fi

	# cmis_fw: the requirement.
	if [ -n "${setup_err[$r]}" ]; then
		diag+=("${setup_err[$r]}")
		ok=1
	else
		out=$(cat "$fw_dir/$r.out")
		rc=$(cat "$fw_dir/$r.rc")
		up "${dir_of[$r]}" || { diag+=("the module does not answer 30 s after the flash"); ok=1; }
		if [ "$rc" != 0 ] || ! grep -q "^${port_of[$r]}: flashing completed$" <<<"$out"; then
			diag+=("cmis-fw exited $rc" "$out")
			ok=1
		fi
		grep -q "$new_image" "${dir_of[$r]}/banks" ||
			{ diag+=("not the new image, committed: $(why_not_new "${dir_of[$r]}")"); ok=1; }
		wwb=$(counter_of "${dir_of[$r]}" writes_while_busy)
		[ "$wwb" = 0 ] || { diag+=("writes_while_busy: '${wwb}', expected 0"); ok=1; }
		ktap_print_msg "$name: cmis_fw $(cat "$fw_dir/$r.s") s," \
			"nacks $(counter_of "${dir_of[$r]}" nacks), C $(cat "$fw_dir/$k.s" 2>/dev/null) s"
	fi

	desc=$(clean "quirks: $name: cmis_fw $([ $ok -eq 0 ] && echo ok || echo failed); C flasher: $c_outcome")
	if [ $ok -eq 0 ]; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "${diag[@]}" "$(sed 's/^/banks: /' "${dir_of[$r]}/banks")" \
			"$(sed 's/^/counters: /' "${dir_of[$r]}/counters")"
	fi
}

for ((first = 0; first < ${#cases[@]}; first += wave)); do
	last=$((first + wave < ${#cases[@]} ? first + wave : ${#cases[@]}))
	for ((i = first; i < last; i++)); do
		start_case "$i"
	done
	wait
	for ((i = first; i < last; i++)); do
		judge "$i"
	done
	for key in "${!dir_of[@]}"; do
		echo "${dir_of[$key]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	port_of=() dir_of=() setup_err=()
done

ktap_print_msg "C flasher: $c_ok ok, $c_failed failed, $c_false false successes" \
	"of ${#cases[@]} cases"
ktap_finished
