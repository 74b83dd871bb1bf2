#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The scoped CDB RPC (MODULE_CDB_RPC, MODULE_CDB_INFO_GET) through
# 'cmis-fw cdb': replies as the emulated module's model computes them, a
# command above its declared scope refused before the module is touched,
# fwctl's permission matrix (root; every capability but CAP_SYS_RAWIO;
# CAP_NET_ADMIN alone; no capability; a user namespace that does not own
# the port's network namespace) x the four scopes, the taint and the log
# line of the write scopes, malformed requests refused with a message, and
# the RPC and a flash excluding each other. TAINT_FWCTL is sticky: the
# checks that nothing taints run before the first write scope.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool
require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 14

use_firmware_dir
make_image big.bin --version 2.0.7 --size 400000 --seed 31
make_image v2.bin --version 2.0.7 --size 4000 --seed 32

# TAINT_FWCTL (include/linux/panic.h).
taint_bit=$((1 << 19))
tainted() {
	[ $(($(cat /proc/sys/kernel/tainted) & taint_bit)) -ne 0 ]
}

# cdb ARGS...: the CLI's cdb command on the current port, JSON out.
cdb() {
	"$cmis_fw" cdb "$port" "$@" --json
}

# json_field JSON EXPR: a Python expression over the object j.
json_field() {
	/usr/bin/python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

new_port

listed() {
	local out ok=0
	out=$("$cmis_fw" cdb "$port" --list 2>&1) || { echo "$out"; return 1; }
	grep -q "^$port: 1 CDB instance(s), background mode, 16 EPL page(s)$" <<<"$out" &&
		grep -q '^  command groups: module (0040h), firmware management (0041h)$' <<<"$out" &&
		grep -q '^  your scopes: configuration, debug-read-only, debug-write, debug-write-full$' <<<"$out" &&
		grep -Eq '^0100h +debug-read-only +yes +Get Firmware Info$' <<<"$out" &&
		grep -Eq '^0101h +debug-write-full +yes +Start Firmware Download$' <<<"$out" &&
		grep -Eq '^0042h +debug-read-only +no +Performance Monitoring Features$' <<<"$out" ||
		{ echo "$out"; ok=1; }
	return $ok
}
check "cdb --list: the module's CDB, its command groups, the caller's scopes" listed

read_only() {
	local out ok=0
	out=$(cdb 0000) &&
		[ "$(json_field "$out" 'j["status"], j["decoded"]["unlocked"], j["instance"]')" = "(1, False, 1)" ] ||
		{ echo "0000h: $out"; ok=1; }
	out=$(cdb 0100h) &&
		[ "$(json_field "$out" '[(b["bank"], b["running"], b["version"]) for b in j["decoded"]["banks"]]')" = \
			"[('A', True, '1.0.0'), ('B', False, None)]" ] || { echo "0100h: $out"; cat "$dir/banks"; ok=1; }
	return $ok
}

# The read-only scope leaves the kernel untainted (checked before any
# write scope of this test taints it; skipped if something else did).
untainted() {
	local out
	if tainted; then
		echo "already tainted by an earlier test"
		return 4
	fi
	out=$(cdb 0000 && cdb 0041 && cdb 0100) || { echo "$out"; return 1; }
	! tainted || { echo "tainted after read-only commands"; return 1; }
}
out=$(untainted 2>&1)
case $? in
0) ktap_test_pass "read-only commands leave the kernel untainted" ;;
4) ktap_test_skip "read-only commands leave the kernel untainted ($out)" ;;
*) fail_with "read-only commands leave the kernel untainted" "$out" ;;
esac

check "0000h and 0100h: replies as the module's model computes them" read_only

above_scope() {
	local out rc ok=0 before
	before=$(counter commands)
	out=$("$cmis_fw" cdb "$port" 8001 --payload 5a --scope debug-write 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'command 8001h (vendor) needs scope debug-write-full' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	out=$("$cmis_fw" cdb "$port" 0101 --payload 00000000 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'command 0101h (Start Firmware Download) needs scope debug-write-full' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	out=$("$cmis_fw" cdb "$port" 0100 --scope configuration 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'command 0100h (Get Firmware Info) needs scope debug-read-only' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	[ "$(counter commands)" = "$before" ] || { echo "the module was sent a command"; ok=1; }
	return $ok
}
check "a command above its declared scope: refused, the module untouched" above_scope

write_scopes() {
	local out ok=0 was_tainted=0 mark="cdb.sh: write scopes $$"
	tainted && was_tainted=1
	echo "$mark" >/dev/kmsg
	# Enter Password (debug-write), a wrong one: the module's status; the
	# kernel tainted from then on (unless something tainted it before).
	out=$("$cmis_fw" cdb "$port" 0001 --payload 00001234 --scope debug-write --json)
	[ $? -eq 1 ] && [ "$(json_field "$out" 'j["status"]')" = 70 ] ||
		{ echo "0001h: $out"; ok=1; }
	[ $was_tainted = 1 ] || tainted || { echo "debug-write did not taint"; ok=1; }
	out=$(cdb 8001 --payload 5a --scope debug-write-full) &&
		[ "$(json_field "$out" 'j["status"]')" = 1 ] || { echo "8001h: $out"; ok=1; }
	[ "$(cat "$dir/vendor_setting")" = 0x5a ] || { echo "setting $(cat "$dir/vendor_setting")"; ok=1; }
	tainted || { echo "not tainted"; ok=1; }
	# The log lines of these two, after the mark.
	local log
	log=$(dmesg | sed -n "/$mark/,\$p")
	grep -Eq "$port: CDB command 0001h \(Enter Password\) in scope debug-write by cmis-fw\[[0-9]+\]: tainting the kernel" <<<"$log" &&
		grep -Eq "$port: CDB command 8001h \(vendor\) in scope debug-write-full by cmis-fw\[[0-9]+\]: tainting the kernel" <<<"$log" ||
		{ echo "$log"; ok=1; }
	# Volatile: a reset clears it.
	echo 1 >"$dir/reset"
	[ "$(cat "$dir/vendor_setting")" = 0x00 ] || { echo "setting kept over a reset"; ok=1; }
	return $ok
}
check "write scopes: run, TAINT_FWCTL, one log line naming port, command and caller" write_scopes
wait_file "$dir/state" '^ready$' 60 || true

# The vendor's harmless read (full scope): its command counter is the
# model's.
vendor_read() {
	local out reply commands
	out=$(cdb 8000 --scope debug-write-full) || { echo "8000h: $out"; return 1; }
	reply=$(json_field "$out" 'j["reply"]')
	commands=$(counter commands)
	[ "${reply:0:8}" = 454d5500 ] && [ $((16#${reply:8:8})) -eq "$commands" ] ||
		{ echo "8000h replied $reply, the module counts $commands commands"; return 1; }
}
check "vendor 8000h: its reply as the module's model computes it" vendor_read

# as IDENTITY COMMAND...: COMMAND run as IDENTITY: root; norawio (root
# without CAP_SYS_RAWIO); netadmin (uid 65534 with CAP_NET_ADMIN alone);
# nobody (uid 65534, no capability); userns (root of a new user
# namespace, which does not own the port's network namespace).
as() {
	local who=$1
	shift
	case $who in
	root) "$@" ;;
	norawio) setpriv --bounding-set -sys_rawio --inh-caps -sys_rawio -- "$@" ;;
	netadmin) setpriv --reuid 65534 --regid 65534 --clear-groups \
		--inh-caps -all,+net_admin --ambient-caps -all,+net_admin -- "$@" ;;
	nobody) setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps -all -- "$@" ;;
	userns) unshare --user --map-root-user -- "$@" ;;
	esac
}

# The matrix: each identity x each scope's command; "ran" where the
# command reached the module (the reply carries the module's status),
# else the errno the request was refused with. The user namespace row
# needs CONFIG_USER_NS (the stock kernel has it; the debug test kernel
# not).
matrix() {
	local who scope cmd payload out got ok=0 want identities=(root norawio netadmin nobody)
	local -A expect=(
		[root]="ran ran ran ran"
		[norawio]="ran ran ran 1"
		[netadmin]="ran ran ran 1"
		[nobody]="1 1 1 1"
		[userns]="1 1 1 1"
	)
	[ "$userns" = 1 ] && identities+=(userns)
	for who in "${identities[@]}"; do
		got=
		for scope in configuration debug-read-only debug-write debug-write-full; do
			case $scope in
			configuration) cmd=0200 payload=00 ;;
			debug-read-only) cmd=0000 payload=0000 ;;
			debug-write) cmd=0001 payload=00000000 ;;
			debug-write-full) cmd=8000 payload=00 ;;
			esac
			out=$(as "$who" "$cmis_fw" cdb "$port" "$cmd" --payload "$payload" --scope "$scope" --json 2>/dev/null)
			got+=" $(json_field "$(tail -n1 <<<"$out")" '"ran" if "status" in j else j.get("errno")' 2>/dev/null ||
				echo "no-json")"
		done
		want=${expect[$who]}
		[ "${got# }" = "$want" ] || { echo "$who: got '${got# }', expected '$want'"; ok=1; }
	done
	return $ok
}
if command -v setpriv >/dev/null && command -v unshare >/dev/null; then
	userns=0
	if unshare --user --map-root-user true 2>/dev/null; then
		userns=1
	else
		ktap_print_msg "no user namespaces in this kernel: the matrix leaves that row out"
	fi
	check "permissions: identity x scope as fwctl's rules (EPERM = 1)" matrix
else
	ktap_test_skip "permissions: setpriv or unshare missing"
fi

malformed() {
	local out rc ok=0
	# 121 bytes of LPL: the policy's limit.
	out=$("$cmis_fw" cdb "$port" 8001 --payload "$(printf '00%.0s' $(seq 121))" --scope debug-write-full 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'Attribute failed policy validation' <<<"$out" || { echo "lpl: $out (exit $rc)"; ok=1; }
	# An EPL longer than the module's pages (one page here).
	set_knobs epl_pages_code=1
	head -c 200 /dev/zero >"$fw_dir/epl.bin"
	out=$("$cmis_fw" cdb "$port" 8001 --payload 01 --epl "$fw_dir/epl.bin" --scope debug-write-full 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "the module's EPL pages hold at most 128 bytes" <<<"$out" ||
		{ echo "epl: $out (exit $rc)"; ok=1; }
	set_knobs epl_pages_code=0
	out=$("$cmis_fw" cdb "$port" 8001 --payload 01 --epl "$fw_dir/epl.bin" --scope debug-write-full 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "the module has no EPL pages" <<<"$out" || { echo "no epl: $out (exit $rc)"; ok=1; }
	set_knobs epl_pages_code=7
	out=$("$cmis_fw" cdb "$port" 0000 --instance 2 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'the module has 1 CDB instance(s)' <<<"$out" || { echo "instance: $out (exit $rc)"; ok=1; }
	set_knobs cdb_instances=0
	out=$("$cmis_fw" cdb "$port" 0000 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'the module has no CDB' <<<"$out" || { echo "no cdb: $out (exit $rc)"; ok=1; }
	set_knobs cdb_instances=1
	return $ok
}
check "malformed requests: payloads beyond the module, unknown instance, no CDB" malformed

second_instance() {
	local out ok=0
	set_knobs cdb_instances=2
	out=$(cdb 0000 --instance 2) && [ "$(json_field "$out" 'j["instance"], j["status"]')" = "(2, 1)" ] ||
		{ echo "$out"; ok=1; }
	set_knobs cdb_instances=1
	return $ok
}
check "CDB instance 2 where the module has two" second_instance

# Each check runs in a subshell: a test that needs a port of its own
# makes one and removes it.

# A flash holds the CDB: the RPC is refused (EBUSY) and the flash goes on.
flash_excludes_rpc() {
	slow_port
	local out rc ok=0 pid
	"$cmis_fw" flash "$port" big.bin >"$fw_dir/flash.out" 2>&1 &
	pid=$!
	wait_download || ok=1
	out=$(cdb 0000 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "The module's CDB is in use" <<<"$out" &&
		[ "$(json_field "$(tail -n1 <<<"$out")" 'j["errno"]')" = 16 ] || { echo "$out (exit $rc)"; ok=1; }
	"$cmis_fw" cancel "$port" >/dev/null 2>&1
	wait $pid
	del_port
	return $ok
}
check "a flash in progress: the RPC refused with EBUSY" flash_excludes_rpc

# A long RPC holds the CDB and the module-flash flag: a flash and bringing
# the port up are refused meanwhile.
rpc_excludes_flash() {
	new_port
	set_knobs busy_us_other=30000000
	local out rc ok=0 pid
	"$cmis_fw" cdb "$port" 8001 --payload 07 --scope debug-write-full >"$fw_dir/rpc.out" 2>&1 &
	pid=$!
	wait_file "$dir/state" busy 60 || { echo "the command never ran"; ok=1; }
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "CDB is in use by another request" <<<"$out" || { echo "flash: $out (exit $rc)"; ok=1; }
	out=$(ip link set "$port" up 2>&1) && { echo "the port came up"; ip link set "$port" down; ok=1; }
	grep -q "flashing module firmware" <<<"$out" || { echo "link up: $out"; ok=1; }
	wait $pid || { cat "$fw_dir/rpc.out"; ok=1; }
	[ "$(cat "$dir/vendor_setting")" = 0x07 ] || ok=1
	# Afterwards both work again.
	ip link set "$port" up && ip link set "$port" down || ok=1
	set_knobs busy_us_other=0
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 || { echo "flash after the RPC failed"; ok=1; }
	del_port
	return $ok
}
check "an RPC in a write scope: a flash and link up refused meanwhile" rpc_excludes_flash

# The family's requests run in parallel (parallel_ops: no genetlink
# mutex): while a 30 s command runs on one port, the inventory of another
# answers.
parallel() {
	local other_dir out ok=0 pid
	set_knobs busy_us_other=30000000
	"$cmis_fw" cdb "$port" 0000 >"$fw_dir/long.out" 2>&1 &
	pid=$!
	wait_file "$dir/state" busy 60 || ok=1
	other_dir=$dir
	new_port
	out=$("$cmis_fw" info "$port" 2>&1) || { echo "$out"; ok=1; }
	grep -q ' busy' "$other_dir/state" || { echo "the long command ended first"; ok=1; }
	del_port
	dir=$other_dir
	wait $pid || { cat "$fw_dir/long.out"; ok=1; }
	set_knobs busy_us_other=0
	return $ok
}
check "requests in parallel: an inventory answers while another port's command runs" parallel

# The port goes away while a command runs: the request ends at once and
# the unregistration does not wait for the command's timeout.
unplugged() {
	new_port
	set_knobs busy_us_other=30000000
	local out rc ok=0 pid start
	"$cmis_fw" cdb "$port" 0000 >"$fw_dir/gone.out" 2>&1 &
	pid=$!
	wait_file "$dir/state" busy 60 || ok=1
	start=$(date +%s)
	del_port
	wait $pid
	rc=$?
	[ $rc -eq 2 ] && grep -q 'stopped: the device is going away' "$fw_dir/gone.out" ||
		{ cat "$fw_dir/gone.out"; echo "exit $rc"; ok=1; }
	[ $(($(date +%s) - start)) -lt 20 ] || { echo "took $(($(date +%s) - start)) s"; ok=1; }
	return $ok
}
check "port removed mid-command: the request stops, removal does not wait" unplugged

# A port split from a wider one is refused, as flashing it is (flash.sh):
# the module is the whole cage's. Needs devlink (the stock kernel).
split_port_refused() {
	local out rc
	out=$("$cmis_fw" cdb "$1" 0000 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q "Can't run CDB commands on a split port" <<<"$out" ||
		{ echo "$1: $out (exit $rc)"; return 1; }
}
check_split_ports "a port split from a wider one: refused (EOPNOTSUPP)" split_port_refused

del_port
ktap_finished
