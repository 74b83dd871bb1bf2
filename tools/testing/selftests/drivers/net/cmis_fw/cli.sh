#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cmis-fw command line tool (tools/cmis-fw): plain lines when not on a
# terminal, JSON lines, exit status 0/1/2/3 for completed/failed/refused/no
# word, Ctrl-C leaving the flash to the kernel, a rename mid-flash,
# monitor, completions and man page.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 10

use_firmware_dir
make_image v2.bin --version 2.0.7 --text cli --size 4000 --seed 6

lines() {
	new_port
	local out rc ok=0
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1)
	rc=$?
	[ $rc -eq 0 ] && grep -q "^$port: flashing started$" <<<"$out" &&
		grep -Eq "^$port: [0-9]+/[0-9]+ bytes \([0-9]+%\)$" <<<"$out" &&
		grep -q "^$port: flashing completed$" <<<"$out" &&
		grep -q '^B: valid version=2\.0\.7 .*running committed$' "$dir/banks" ||
		{ echo "$out (exit $rc)"; ok=1; }
	del_port
	return $ok
}
check "flash: plain lines when not on a terminal, exit 0" lines

json() {
	new_port
	local rc ok=0
	"$cmis_fw" flash "$port" v2.bin --json >"$fw_dir/json.out" 2>&1
	rc=$?
	del_port
	[ $rc -eq 0 ] || ok=1
	/usr/bin/python3 - "$fw_dir/json.out" <<'PY' || ok=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["status"] == "started", rows[0]
assert rows[-1]["status"] == "completed", rows[-1]
prog = [r for r in rows if r["status"] == "in_progress"]
assert prog and prog[-1]["done"] == prog[-1]["total"] > 0, prog
base = {"dev", "ifindex", "status", "message", "done", "total", "schema", "time"}
extra = {"timeout_ms", "version_before", "version_after"}
assert all(base <= set(r) <= base | extra and r["schema"] == 1 for r in rows), rows
assert rows[-1]["version_before"] == "1.0" and rows[-1]["version_after"] == "2.0", rows[-1]
assert any("timeout_ms" in r for r in prog), prog
PY
	[ $ok -eq 0 ] || cat "$fw_dir/json.out"
	return $ok
}
check "flash --json: one JSON object per notification" json

failed() {
	new_port
	set_knobs fail_command=0x0101 fail_code=0x42 fail_count=1
	local out rc
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1)
	rc=$?
	del_port
	[ $rc -eq 1 ] && grep -q "^$port: flashing failed: Start Firmware Download" <<<"$out" ||
		{ echo "$out (exit $rc)"; return 1; }
}
check "a failed flash exits 1 with the kernel's message" failed

refused() {
	new_port
	ip link set "$port" up
	local out rc
	out=$("$cmis_fw" flash "$port" v2.bin 2>&1)
	rc=$?
	ip link set "$port" down
	del_port
	[ $rc -eq 2 ] && grep -q 'request refused: Netdevice is up, so flashing is not permitted' <<<"$out" ||
		{ echo "$out (exit $rc)"; return 1; }
}
check "a refused request exits 2 with the extack message" refused

interrupted() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=200000 max_duration_write=2000
	"$cmis_fw" flash "$port" v2.bin >"$fw_dir/int.out" 2>&1 &
	local pid=$! rc ok=0
	wait_file "$fw_dir/int.out" 'bytes' 60 || ok=1
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc -eq 130 ] && grep -q 'continues in the kernel' "$fw_dir/int.out" || ok=1
	wait_file "$dir/banks" '^B: valid version=2\.0\.7 .*running committed$' || ok=1
	[ $ok -eq 0 ] || { cat "$fw_dir/int.out"; echo "exit $rc"; cat "$dir/banks"; }
	del_port
	return $ok
}
check "Ctrl-C exits 130 and the flash completes in the kernel" interrupted

# The device renamed mid-flash: the tool follows its flash by interface
# index, not by the name it was given.
renamed() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=100000 max_duration_write=2000
	"$cmis_fw" flash "$port" v2.bin >"$fw_dir/ren.out" 2>&1 &
	local pid=$! rc ok=0 renamed=cmisren$$
	wait_file "$fw_dir/ren.out" 'bytes' 60 || ok=1
	ip link set "$port" name "$renamed" || ok=1
	wait $pid
	rc=$?
	[ $rc -eq 0 ] && grep -q "^$renamed: flashing completed$" "$fw_dir/ren.out" ||
		{ cat "$fw_dir/ren.out"; echo "exit $rc"; ok=1; }
	ip link set "$renamed" name "$port"
	del_port
	return $ok
}
check "device renamed mid-flash: the tool follows it to COMPLETED" renamed

# The device named by an alternative name: the tool follows the flash by
# the index the name resolves to, whatever name the kernel reports.
altname() {
	new_port
	local alt=cmisalt$$ out rc ok=0
	ip link property add dev "$port" altname "$alt" || { echo "no altnames here"; return 1; }
	out=$("$cmis_fw" flash "$alt" v2.bin 2>&1)
	rc=$?
	[ $rc -eq 0 ] && grep -q "^$port: flashing completed$" <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	del_port
	return $ok
}
check "device named by an altname: the flash followed to COMPLETED" altname

# A flash that goes silent for longer than --wait-limit: exit 3, and the
# flash goes on in the kernel.
silent() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=4000000 max_duration_write=10000
	local out rc ok=0
	out=$("$cmis_fw" flash "$port" v2.bin --wait-limit 2 2>&1)
	rc=$?
	[ $rc -eq 3 ] && grep -q 'no word from the kernel for 2 s' <<<"$out" ||
		{ echo "$out (exit $rc)"; ok=1; }
	# The flash is the kernel's: it is still running.
	grep -q '^download: bank=' "$dir/banks" || { cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "no notification within --wait-limit: exit 3, the flash goes on" silent

monitor() {
	new_port
	"$cmis_fw" monitor --json --count 1 >"$fw_dir/mon.out" 2>&1 &
	local mpid=$! ok=0
	# It says "monitoring" on stderr once it has joined the group.
	wait_file "$fw_dir/mon.out" '^monitoring' || ok=1
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 || ok=1
	wait $mpid || ok=1
	grep -q "\"dev\":\"$port\",.*\"status\":\"completed\"" "$fw_dir/mon.out" ||
		{ cat "$fw_dir/mon.out"; ok=1; }
	del_port
	return $ok
}
check "monitor --json sees a flash to its end" monitor

docs() {
	"$cmis_fw" completions bash | grep -q 'cmis-fw' &&
		"$cmis_fw" man | grep -q '^\.TH cmis-fw 1' || return 1
	# The package's manual pages (one per command) and completions.
	local root=${CMIS_FW_CLI_ROOT:-} page
	[ -n "$root" ] || return 0
	for page in cmis-fw cmis-fw-flash cmis-fw-monitor cmis-fw-completions cmis-fw-man; do
		zcat "$root/usr/share/man/man1/$page.1.gz" | grep -q "^\.TH $page 1" ||
			{ echo "no manual page $page"; return 1; }
	done
	grep -q 'cmis-fw' "$root/usr/share/bash-completion/completions/cmis-fw" &&
		[ -s "$root/usr/share/zsh/vendor-completions/_cmis-fw" ] &&
		[ -s "$root/usr/share/fish/vendor_completions.d/cmis-fw.fish" ]
}
check "shell completions and manual pages (and the package's)" docs

ktap_finished
