#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Conformance matrix: the in-kernel C flasher (net/ethtool/cmis_fw_update.c)
# driven by unmodified ethtool flashes emulated modules of many profiles,
# and every injected fault ends in ethtool's error status with the module
# still running a valid image. Each case gets a fresh port.
#
# Known limitations of the Linux 6.12 C flasher, checked as they are:
# - it does not verify the reply check code (RPLChkCode), so a corrupted
#   check code goes unnoticed, while it rejects a correct check code of 00h;
# - it needs CdbReadWriteLengthExtension large enough for Start's payload
#   (8 + StartCmdPayloadSize bytes), so i = 0 cannot flash at all;
# - it waits a fixed 2 s + 1 s for the module after Run.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_ethtool_flash
require_image_tool

ktap_print_header
ktap_set_plan 31

use_firmware_dir
make_image v2.bin --version 2.0.7 --text conformance --size 4000 --seed 2

# Extra arguments for ethtool --flash-module-firmware.
extra=

# flash_ok DESCRIPTION KEY=VALUE...: a profile that must flash: ethtool
# completes, bank B runs 2.0.7 and is committed.
flash_ok() {
	local desc=$1 out
	shift
	new_port
	set_knobs "$@"
	out=$(ethtool --flash-module-firmware "$port" file v2.bin $extra 2>&1)
	if grep -q 'flashing completed' <<<"$out" &&
		grep -q '^B: valid version=2\.0\.7 .*running committed$' "$dir/banks"; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "$(sed 's/^/banks: /' "$dir/banks")"
	fi
	del_port
}

# flash_fails DESCRIPTION PATTERN KEY=VALUE...: a flash that must fail
# with a status message matching PATTERN, leaving bank A running.
flash_fails() {
	local desc=$1 pattern=$2 out
	shift 2
	new_port
	set_knobs "$@"
	out=$(ethtool --flash-module-firmware "$port" file v2.bin $extra 2>&1)
	if grep -q 'encountered an error' <<<"$out" && grep -Eq -- "$pattern" <<<"$out" &&
		grep -q '^A: valid version=1\.0\.0 .*running' "$dir/banks"; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "$(sed 's/^/banks: /' "$dir/banks")"
	fi
	echo 1 >"$dir/plugged"
	del_port
}

# Write mechanisms.
flash_ok "LPL only (write_mechanism 01h)" write_mechanism=0x01
flash_ok "EPL only (write_mechanism 10h)" write_mechanism=0x10
flash_ok "LPL and EPL (11h: Linux uses EPL)" write_mechanism=0x11
flash_fails "EPL with 4 pages: Linux still writes 2048-byte blocks (limitation)" \
	'Write FW block EPL command failed' write_mechanism=0x10 epl_pages_code=4
flash_fails "no write mechanism (00h)" 'CDB write mechanism is not supported' \
	write_mechanism=0x00
# Linux writes the EPL pages one at a time: auto paging changes nothing.
flash_ok "EPL with auto paging advertised" write_mechanism=0x10 auto_paging=1

# Read/write length extension classes (LPL blocks of 8*(1+i)-4 bytes).
flash_ok "rw_len_ext 15 (128-byte accesses, 116-byte blocks)" write_mechanism=0x01 rw_len_ext=15
flash_ok "rw_len_ext 9 (80-byte accesses, 76-byte blocks)" write_mechanism=0x01 rw_len_ext=9
flash_fails "rw_len_ext 0 cannot carry Start's payload (Linux limitation)" \
	'LPL length is longer than CDB read write length extension allows' rw_len_ext=0

# Revisions and identifiers.
flash_ok "CMIS 4.0 module" revision=0x40
flash_ok "OSFP module (19h)" identifier=0x19

# Two CDB instances: 01h:163 = A7h (bits 7-6 = 10b, background mode, 16
# EPL pages). Linux uses instance 1 (bank 0 of 9Fh, status 00h:37) only.
new_port
set_knobs cdb_instances=2
check_output "two CDB instances are advertised (01h:163 = A7h)" '0x00a3:[[:space:]]+a7' \
	ethtool -m "$port" page 1 offset 163 length 1
del_port
flash_ok "a module with two CDB instances flashes through instance 1" cdb_instances=2
flash_ok "foreground CDB mode with busy times" background_mode=0 busy_us_write=2000 \
	busy_us_start=50000 busy_us_complete=50000

# Passwords (0x12345678 = 305419896).
extra="pass 305419896"
flash_ok "right password flashes a protected module" password_required=1 password=0x12345678
extra="pass 1"
flash_fails "wrong password is not accepted" 'Password was not accepted' \
	password_required=1 password=0x12345678
extra=
flash_fails "no password on a protected module" 'Password error' \
	password_required=1 password=0x12345678

# Injected command failures, one per step of the sequence.
flash_fails "Module Features (0040h) fails" 'Module Features command failed' \
	fail_command=0x0040 fail_code=0x40 fail_count=1
flash_fails "Firmware Management Features (0041h) fails" 'FW Management Features command failed' \
	fail_command=0x0041 fail_code=0x40 fail_count=1
flash_fails "Start (0101h) fails with 42h" 'Start FW download command failed' \
	fail_command=0x0101 fail_code=0x42 fail_count=1
flash_fails "a block write (0103h) fails" 'Write FW block LPL command failed' \
	write_mechanism=0x01 fail_command=0x0103 fail_code=0x42 fail_count=1
flash_fails "Complete (0107h) fails" 'Complete FW download command failed' \
	fail_command=0x0107 fail_code=0x40 fail_count=1
flash_fails "a command never completes (0041h)" 'FW Management Features command failed' \
	max_completion_ms=400 hang_command=0x0041 hang_next=1
# Known limitation: a reply whose bytes sum to FFh has check code 00h,
# which Linux 6.12 takes for "no check code". MaxCompletionTime 500 ms
# (01F4h) makes the 0040h reply sum to FFh.
flash_fails "a valid reply with check code 00h is rejected by Linux 6.12" \
	'Module Features command failed' max_completion_ms=500
flash_fails "corrupted reply length" 'Features command failed' corrupt_reply_len=1
flash_ok "slow Ready after Run: Linux accepts LowPwr" slow_ready_ms=5000

# Down for longer than Linux waits after Run: the flash fails, the new
# image runs uncommitted, and a reset boots the old committed one.
long_reset() {
	new_port
	set_knobs reset_ms=5000
	local out rc=0
	out=$(ethtool --flash-module-firmware "$port" file v2.bin 2>&1)
	grep -q 'Module is not ready on time after reset' <<<"$out" || rc=1
	# The module comes back (5 s after Run) running the new image; a
	# reset (5 s again) boots the committed old one.
	wait_state '^ready' || rc=1
	grep -q '^B: valid version=2\.0\.7 .*running$' "$dir/banks" || rc=1
	echo 1 >"$dir/reset"
	wait_file "$dir/banks" '^A: valid version=1\.0\.0 .*running committed$' || rc=1
	wait_state '^ready' || rc=1
	[ $rc -eq 0 ] || { echo "$out"; cat "$dir/banks"; }
	del_port
	return $rc
}
check "module down 5 s after Run: error, reset boots the committed image" long_reset
flash_fails "power lost during a block write" 'Write FW block (LPL|EPL) command failed' \
	power_loss_on_write=1

# Known limitation: RPLChkCode is not verified by Linux 6.12.
new_port
set_knobs corrupt_reply_chk=10
check_output "corrupted reply check codes go unnoticed by Linux 6.12" 'flashing completed' \
	ethtool --flash-module-firmware "$port" file v2.bin
del_port

# Unplugged in the middle of the download.
unplugged_mid_flash() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=100000 max_duration_write=1000
	ethtool --flash-module-firmware "$port" file v2.bin >"$fw_dir/unplug.out" 2>&1 &
	local pid=$!
	# Unplugged once blocks are being written.
	wait_file "$dir/banks" '^download: .* received=[1-9]' 30
	echo 0 >"$dir/plugged"
	wait $pid
	echo 1 >"$dir/plugged"
	local ok=0
	grep -q 'encountered an error' "$fw_dir/unplug.out" &&
		grep -q '^A: valid version=1\.0\.0 .*running' "$dir/banks" || ok=1
	[ $ok -eq 0 ] || { cat "$fw_dir/unplug.out"; cat "$dir/banks"; }
	del_port
	return $ok
}
check "module unplugged mid-flash: error, old image runs after replug" unplugged_mid_flash

# Eight ports at once.
ethtool_flash_to() {
	ethtool --flash-module-firmware "$1" file v2.bin >"$2" 2>&1 &&
		grep -q 'flashing completed' "$2"
}
check "8 ports flashed in parallel" parallel_flash 8 ethtool_flash_to

ktap_finished
