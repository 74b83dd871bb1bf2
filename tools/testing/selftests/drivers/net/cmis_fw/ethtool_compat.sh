#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unmodified ethtool flashing through cmis_fw: on a kernel built without
# CONFIG_ETHTOOL_NETLINK, cmis_fw loaded with family=ethtool registers its
# family as "ethtool", and `ethtool --flash-module-firmware` talks to it
# as it would to the kernel's (same messages, attributes, sequence
# numbers and notifications). Run by make test in a second VM boot of the
# no-ethtool-netlink kernel variant; skipped elsewhere.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_ethtool_flash
require_image_tool

if [ "$(cat /sys/module/cmis_fw/parameters/family 2>/dev/null)" != ethtool ]; then
	ktap_skip_all "cmis_fw is not serving the ethtool family (family=ethtool, no CONFIG_ETHTOOL_NETLINK)"
	exit "$KSFT_SKIP"
fi

ktap_print_header
ktap_set_plan 8

use_firmware_dir
make_image v2.bin --version 2.0.7 --text ethtool-compat --size 20000 --seed 7

check_output "the ethtool family is cmis_fw's (one op, the monitor group)" \
	'monitor' genl ctrl get name ethtool

# ethtool_flash DESCRIPTION PATTERN BANK_PATTERN KEY=VALUE... [-- ARGS]:
# ethtool's output, joined into one line, matches PATTERN and the banks
# BANK_PATTERN.
ethtool_flash() {
	local desc=$1 pattern=$2 banks=$3 out rc args=()
	shift 3
	new_port
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		set_knobs "$1"
		shift
	done
	[ "${1:-}" = -- ] && { shift; args=("$@"); }
	out=$(ethtool --flash-module-firmware "$port" file v2.bin "${args[@]}" 2>&1)
	rc=$?
	# ethtool's output, as one line (progress redraws with carriage returns).
	if tr '\r\n' '  ' <<<"$out" | grep -Eq -- "$pattern" && grep -Eq -- "$banks" "$dir/banks"; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "(exit $rc)" "$(sed 's/^/banks: /' "$dir/banks")"
	fi
	del_port
}

new_image='^B: valid version=2\.0\.7 .*running committed$'
old_image='^A: valid version=1\.0\.0 .*running committed$'

ethtool_flash "ethtool flashes through cmis_fw, with progress" \
	'flashing started.*Progress: [0-9]+%.*flashing completed' "$new_image"
ethtool_flash "a failure shows cmis_fw's status message" \
	'encountered an error.*Status message: Start Firmware Download \(0101h\) failed' \
	"$old_image" fail_command=0x0101 fail_code=0x42 fail_count=1
ethtool_flash "password: ethtool's pass reaches the module" 'flashing completed' "$new_image" \
	password_required=1 password=0x12345678 -- pass 305419896

refused_up() {
	new_port
	ip link set "$port" up
	local out
	out=$(ethtool --flash-module-firmware "$port" file v2.bin 2>&1)
	ip link set "$port" down
	del_port
	grep -q 'Netdevice is up, so flashing is not permitted' <<<"$out" || { echo "$out"; return 1; }
}
check "a refused request shows the extack through ethtool" refused_up

veto_up() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=200000 max_duration_write=2000
	ethtool --flash-module-firmware "$port" file v2.bin >"$fw_dir/veto.out" 2>&1 &
	local pid=$! ok=0
	wait_file "$dir/banks" '^download: bank=' 60 || { echo "no download"; ok=1; }
	ip link set "$port" up 2>"$fw_dir/up.out" && ok=1
	grep -q "Can't set port up while flashing" "$fw_dir/up.out" || { cat "$fw_dir/up.out"; ok=1; }
	wait $pid
	grep -q 'flashing completed' "$fw_dir/veto.out" || { cat "$fw_dir/veto.out"; ok=1; }
	del_port
	return $ok
}
check "bringing the port up is vetoed by cmis_fw itself" veto_up

# The veto tests the module-flash flag, not the registry of flashes: a
# CDB request holds the flag without being a flash (as a flash request
# does while it loads its image, before it joins the registry), and on
# this kernel no other veto would stop the port coming up.
rpc_vetoes_up() {
	new_port
	set_knobs busy_us_other=30000000
	local out ok=0 pid
	"${CMIS_FW_BIN_DIR:-}/cmis-fw" --family ethtool cdb "$port" 0000 >"$fw_dir/rpc.out" 2>&1 &
	pid=$!
	wait_file "$dir/state" busy 60 || { echo "the command never ran: $(cat "$fw_dir/rpc.out")"; ok=1; }
	out=$(ip link set "$port" up 2>&1) && { echo "the port came up"; ip link set "$port" down; ok=1; }
	grep -q "Can't set port up while flashing" <<<"$out" || { echo "link up: $out"; ok=1; }
	# Interrupted, the request ends and gives the flag back.
	kill -INT "$pid"
	wait "$pid"
	ip link set "$port" up && ip link set "$port" down || { echo "no link up after"; ok=1; }
	del_port
	return $ok
}
check "a CDB request holds the flag: link up vetoed by cmis_fw itself" rpc_vetoes_up

cli_ethtool_family() {
	new_port
	local out rc
	out=$("${CMIS_FW_BIN_DIR:-}/cmis-fw" --family ethtool flash "$port" v2.bin 2>&1)
	rc=$?
	local ok=0
	[ $rc -eq 0 ] && grep -q 'flashing completed' <<<"$out" || { echo "$out (exit $rc)"; ok=1; }
	del_port
	return $ok
}
check "cmis-fw --family ethtool flashes too" cli_ethtool_family

ktap_finished
