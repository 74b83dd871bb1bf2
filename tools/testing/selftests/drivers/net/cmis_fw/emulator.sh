#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The emulator's debugfs controls: ports are created and removed at run
# time (hundreds of them), settings reach the module's memory map, faults
# are injected, firmware images are set up by hand, and the views report
# banks, counters and the command log. Also measures the cost of the
# module EEPROM access path.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_ethtool_flash
require_image_tool

ktap_print_header
ktap_set_plan 28

root=$EMU_DEBUGFS
check "debugfs control directory exists" test -w "$root/new_port"

before=$(emu_ports | wc -l)
echo 1 >"$root/new_port"
port=$(emu_port_by_index "$(tail -n1 "$root/del_port")")
check "new_port creates a port ($port)" test "$(emu_ports | wc -l)" -eq $((before + 1))
dir=$(emu_port_dir "$port")
check_output "its directory shows a running, committed bank A" \
	'^A: valid version=1\.0\.0 .*running committed$' cat "$dir/banks"

echo 0x40 >"$dir/revision"
check_output "revision setting reaches byte 1 of the memory map" '0x0001:[[:space:]]+40' \
	ethtool -m "$port" page 0 offset 1 length 1
check "an invalid setting is refused" sh -c "! echo 9 >'$dir/epl_pages_code' 2>/dev/null"
echo 0x52 >"$dir/revision"

use_firmware_dir
make_image img.bin --version 3.1.4 --size 3000

echo 0x0101 >"$dir/fail_command"
echo 0x46 >"$dir/fail_code"
echo 1 >"$dir/fail_count"
check_output "an injected Start failure (46h) fails the flash" \
	'Start FW download command failed' \
	ethtool --flash-module-firmware "$port" file img.bin
check_output "the failure is in the command log" '^[0-9]+ 0101 46 ' cat "$dir/log"
check_output "after the failure bank A still runs" '^A: valid .*running' cat "$dir/banks"

check_output "the same flash succeeds once the fault is spent" 'flashing completed' \
	ethtool --flash-module-firmware "$port" file img.bin
check_output "bank B runs 3.1.4, committed" '^B: valid version=3\.1\.4 .*running committed$' \
	cat "$dir/banks"
check_output "counters count the commands" '^commands_ok: [1-9]' cat "$dir/counters"
check_output "counters count by command and by status" '^status_46: 1$' \
	sh -c "grep -q '^command_0101: 2$' '$dir/counters' && cat '$dir/counters'"

echo 1 >"$dir/auto_paging"
check_output "auto_paging sets 01h:163 bit 4 (77h)" '0x00a3:[[:space:]]+77' \
	ethtool -m "$port" page 1 offset 163 length 1
echo 0 >"$dir/auto_paging"

# The cost of the module EEPROM access path with the timing model off:
# the port's get/set_module_eeprom_by_page handlers time themselves
# (counters: requests, request_ns) over many ethtool -m dumps. Under TCG
# the figure says little about real hardware, so it is printed, and only
# checked to be there and sane, not held to a tight bound.
echo 0 >"$dir/bus_hz"
echo 0 >"$dir/counters"
dumps=200
for _ in $(seq $dumps); do
	ethtool -m "$port" >/dev/null || break
done
requests=$(sed -n 's/^requests: //p' "$dir/counters")
request_ns=$(sed -n 's/^request_ns: //p' "$dir/counters")
mean_ns=$((request_ns / (requests > 0 ? requests : 1)))
ktap_print_msg "EEPROM access path: $requests requests in $dumps ethtool -m dumps," \
	"$request_ns ns in the handlers, mean $mean_ns ns per request"
check "the access-path counters move (>= 1 request per dump, mean 1 ns to 1 ms)" \
	test "$requests" -ge $dumps -a "$mean_ns" -ge 1 -a "$mean_ns" -lt 1000000

echo 0 >"$dir/plugged"
check "an unplugged module does not answer" sh -c "! ethtool -m '$port' >/dev/null 2>&1"
echo 1 >"$dir/plugged"

index=${dir##*port}
echo "$index" >"$root/del_port"
check "del_port removes the port" sh -c "! ip link show '$port' >/dev/null 2>&1"

# Firmware images set up by hand, on a fresh port (bank A runs 1.0.0).
echo 1 >"$root/new_port"
port=$(emu_port_by_index "$(tail -n1 "$root/del_port")")
dir=$(emu_port_dir "$port")

# set_image FILE LINE: writes LINE to the port's image FILE; the error
# message (with the errno's text), if any, is the output.
set_image() {
	echo "$2" 2>&1 >"$dir/$1"
}

# refused FILE LINE: the write fails.
refused() {
	! set_image "$1" "$2"
}

# No inactive image: ethtool -m works and shows none (or 0.0).
no_inactive_image() {
	local v
	ethtool -m "$port" >/dev/null || return 1
	v=$(module_fw_version "$port" Inactive)
	[ -z "$v" ] || [ "$v" = 0.0 ] || { echo "inactive $v"; return 1; }
}

check_output "bank_a shows the running, committed bank as key=value" \
	'^valid=1 version=1\.0\.0 text="" committed=1 running=1$' cat "$dir/bank_a"
check "bank B is set up as a valid image" \
	set_image bank_b 'valid=1 version=2.1.7 text="by hand"'
check_output "ethtool -m shows it as the inactive image" '^2\.1$' module_fw_version "$port" Inactive
check_output "the banks view shows it" '^B: valid version=2\.1\.7 text="by hand" size=0 crc=00000000$' \
	cat "$dir/banks"
check "bank B is set to an invalid image" set_image bank_b valid=0
check "ethtool -m shows no inactive image" no_inactive_image
check_output "the banks view shows bank B invalid, bank A still running" \
	'^A: valid version=1\.0\.0 .*running committed$' sh -c "grep -qx 'B: invalid' '$dir/banks' && cat '$dir/banks'"
check_output "the running bank cannot be made invalid (EINVAL)" 'Invalid argument' \
	refused bank_a valid=0
check_output "the running bank does not change without a reset (EINVAL)" 'Invalid argument' \
	refused bank_b 'valid=1 version=2.1.7 running=1'
set_image bank_b 'valid=1 version=2.1.7 committed=1'
echo 1 >"$dir/reset"
check_output "a committed bank B runs after a reset" '^2\.1$' module_fw_version "$port" Active
set_image factory 'valid=1 version=0.9.1 text=factory'
check_output "the factory image is set up" '^factory: valid version=0\.9\.1 text="factory"$' \
	cat "$dir/banks"
echo "${dir##*port}" >"$root/del_port"

many() {
	local n=200 start count
	start=$(wc -l <"$root/del_port")
	echo $n >"$root/new_port" || return 1
	count=$(emu_ports | wc -l)
	[ "$count" -ge $((start + n)) ] || { echo "$count ports"; return 1; }
	for i in $(tail -n $n "$root/del_port"); do
		echo "$i" >"$root/del_port" || return 1
	done
	[ "$(wc -l <"$root/del_port")" -eq "$start" ]
}
check "200 ports are created and removed" many

ktap_finished
