#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The family's YNL spec (Documentation/netlink/specs/cmis_fw.yaml) drives
# the kernel's own generic YNL tool (tools/net/ynl/cli.py from the
# linux-source tree): it lists the messages, flashes a port while a second
# instance follows the monitor group, and shows a refusal's extack; the
# staged, version and cancel requests; the CDB RPC.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

cli=${CMIS_FW_YNL_CLI:-}
spec=${CMIS_FW_SPEC:-}
if [ ! -f "$cli" ] || [ ! -f "$spec" ]; then
	ktap_skip_all "YNL cli.py or the spec not found (CMIS_FW_YNL_CLI, CMIS_FW_SPEC)"
	exit "$KSFT_SKIP"
fi

ktap_print_header
ktap_set_plan 8

use_firmware_dir
make_image v2.bin --version 2.0.7 --text ynl --size 4000 --seed 5

# The kernel tree's schema for genetlink-legacy specs (cli.py validates the
# spec against it; cli.py is tools/net/ynl/cli.py up to 6.12,
# tools/net/ynl/pyynl/cli.py since). Debian's python3 has the YAML and
# jsonschema modules.
schema=
for up in ../../.. ../../../..; do
	f=$(dirname "$cli")/$up/Documentation/netlink/genetlink-legacy.yaml
	[ -f "$f" ] && { schema=$f; break; }
done
# Unbuffered: a subscribed cli.py streams until it is killed.
ynl_cmd=(/usr/bin/python3 -u "$cli" --spec "$spec" --schema "$schema")
ynl() {
	"${ynl_cmd[@]}" "$@"
}

check_output "cli.py lists the act and notification messages" \
	'module-fw-flash-ntf' ynl --list-msgs

# monitor_subscribed: waits (300 s at most) until a generic netlink socket
# is a member of cmis_fw's monitor group (/proc/net/netlink shows the
# first 32 groups of each socket, a bit each; group ids are small).
monitor_subscribed() {
	local id
	id=$(genl ctrl get name cmis_fw | sed -n 's/.*ID-\(0x[0-9a-f]*\)  name: monitor.*/\1/p')
	[ -n "$id" ] && [ $((id)) -ge 1 ] && [ $((id)) -le 32 ] || { echo "monitor group id '$id'"; return 1; }
	# cli.py parses the spec before it subscribes: over a minute on the
	# sanitizer kernel under TCG beside another VM.
	wait_for 300 member_socket $((1 << (id - 1))) || { echo "no socket joined the monitor group"; return 1; }
}

# member_socket BIT: a generic netlink socket (protocol 16) has BIT in its
# groups.
member_socket() {
	local sk eth pid groups rest
	while read -r sk eth pid groups rest; do
		[ "$eth" = 16 ] && [ $((16#$groups & $1)) -ne 0 ] && return 0
	done < <(tail -n +2 /proc/net/netlink)
	return 1
}

flash_with_ynl() {
	new_port
	# Subscribed, cli.py prints each notification as it comes, for as
	# long as it runs (7.x; killed, not left to end). Its own python3, not
	# the function's subshell, is what $! names.
	"${ynl_cmd[@]}" --subscribe monitor >"$fw_dir/ynl-mon.out" 2>&1 &
	local mon=$! ok=0
	# cli.py says nothing once subscribed: the kernel's socket table does.
	monitor_subscribed || { kill $mon; return 1; }
	ynl --do module-fw-flash-act \
		--json "{\"header\": {\"dev-name\": \"$port\"}, \"file-name\": \"v2.bin\"}" ||
		ok=1
	# Its own reply is not what ends the flash: the monitor's COMPLETED
	# is (the same bound as the subscription: the sanitizer kernel under
	# TCG is slow to run python).
	wait_file "$fw_dir/ynl-mon.out" "'status': 'completed'" 300 || ok=1
	kill $mon
	wait $mon
	grep -q "'status': 'started'" "$fw_dir/ynl-mon.out" &&
		grep -q "'status': 'completed'" "$fw_dir/ynl-mon.out" &&
		grep -q '^B: valid version=2\.0\.7 .*running committed$' "$dir/banks" ||
		{ cat "$fw_dir/ynl-mon.out" "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "cli.py flashes a port; a second cli.py sees started and completed" flash_with_ynl

refusal() {
	new_port
	ip link set "$port" up
	local out
	out=$(ynl --do module-fw-flash-act \
		--json "{\"header\": {\"dev-name\": \"$port\"}, \"file-name\": \"v2.bin\"}" 2>&1)
	ip link set "$port" down
	del_port
	grep -q 'Netdevice is up, so flashing is not permitted' <<<"$out" || { echo "$out"; return 1; }
}
check "cli.py shows the extack of a refused request" refusal

info_with_ynl() {
	new_port
	local out ok=0
	out=$(ynl --do module-info-get --json "{\"header\": {\"dev-name\": \"$port\"}}" 2>&1) || ok=1
	grep -q "'source': 'firmware-info'" <<<"$out" &&
		grep -q "'vendor': 'CMIS EMULATOR'" <<<"$out" &&
		grep -q "'slot': 'bank-a'" <<<"$out" || { echo "$out"; ok=1; }
	del_port
	return $ok
}
check "cli.py reads a module's inventory (module-info-get)" info_with_ynl

info_dump_with_ynl() {
	new_port
	local out ok=0
	out=$(ynl --dump module-info-get 2>&1) || ok=1
	grep -q "'dev-name': '$port'" <<<"$out" && grep -q "'source': 'firmware-info'" <<<"$out" ||
		{ echo "$out"; ok=1; }
	del_port
	return $ok
}
check "cli.py dumps every port's inventory (module-info-get --dump)" info_dump_with_ynl

# module_readable: ethtool -m reads the current port's module.
module_readable() {
	ethtool -m "$port" >/dev/null 2>&1
}

staged_with_ynl() {
	new_port
	local ok=0
	ynl --do module-fw-flash-act --json "{\"header\": {\"dev-name\": \"$port\"}, \
\"file-name\": \"v2.bin\", \"until\": \"downloaded\"}" >/dev/null || ok=1
	wait_file "$dir/banks" '^B: valid version=2\.0\.7 .*crc=[0-9a-f]{8}$' || ok=1
	grep -q '^A: valid version=1\.0\.0 .* running committed$' "$dir/banks" || ok=1
	# The download's job ends just after: ethtool -m is refused (EBUSY)
	# until it has.
	wait_for 10 module_readable || ok=1
	ynl --do module-fw-run-act \
		--json "{\"header\": {\"dev-name\": \"$port\"}, \"until\": \"committed\"}" >/dev/null ||
		ok=1
	wait_file "$dir/banks" '^B: valid version=2\.0\.7 .* running committed$' || ok=1
	[ $ok -eq 0 ] || cat "$dir/banks"
	del_port
	return $ok
}
check "cli.py: a download only (until downloaded), then a run to the commit" staged_with_ynl

# The version attribute and the cancel request, as the spec spells them:
# refused with their extack where there is nothing to do.
version_and_cancel_with_ynl() {
	new_port
	local out ok=0
	out=$(ynl --do module-fw-cancel-act --json "{\"header\": {\"dev-name\": \"$port\"}}" 2>&1)
	grep -q 'No firmware flashing in progress on this device' <<<"$out" || { echo "$out"; ok=1; }
	out=$(ynl --do module-fw-flash-act --json "{\"header\": {\"dev-name\": \"$port\"}, \
\"file-name\": \"v2.bin\", \"version\": \"2.x\"}" 2>&1)
	grep -q 'version must be MAJOR.MINOR or MAJOR.MINOR.BUILD' <<<"$out" || { echo "$out"; ok=1; }
	del_port
	return $ok
}
check "cli.py: cancel with nothing to cancel, a malformed version: their extacks" version_and_cancel_with_ynl

# The CDB RPC as the spec spells it: a read in the read-only scope, the
# CDB info, and requests without a scope or above it.
rpc_with_ynl() {
	new_port
	local out ok=0 h="\"header\": {\"dev-name\": \"$port\"}"
	out=$(ynl --do module-cdb-rpc --json "{$h, \"command\": 0, \"scope\": \"debug-read-only\"}" 2>&1)
	grep -q "'status': 1" <<<"$out" && grep -qF "'reply': b'\\x02\\x00'" <<<"$out" ||
		{ echo "rpc: $out"; ok=1; }
	out=$(ynl --do module-cdb-info-get --json "{$h}" 2>&1)
	grep -q "'scopes': 15" <<<"$out" && grep -q "'groups': 3" <<<"$out" || { echo "info: $out"; ok=1; }
	out=$(ynl --do module-cdb-rpc --json "{$h, \"command\": 0}" 2>&1)
	grep -q 'scope missing' <<<"$out" || { echo "no scope: $out"; ok=1; }
	out=$(ynl --do module-cdb-rpc --json "{$h, \"command\": 257, \"scope\": \"debug-write\"}" 2>&1)
	grep -q 'command 0101h (Start Firmware Download) needs scope debug-write-full' <<<"$out" ||
		{ echo "above: $out"; ok=1; }
	del_port
	return $ok
}
check "cli.py: the CDB RPC and CDB info; no scope, and a command above it, refused" rpc_with_ynl

ktap_finished
