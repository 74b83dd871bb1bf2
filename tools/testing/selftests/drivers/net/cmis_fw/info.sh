#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# MODULE_INFO_GET through cmis-fw info: a module's identity, CDB and banks
# as the emulated module's own views (banks, counters) have them, before
# and after a flash; the version registers only while a flash owns the
# CDB (which the request leaves alone); refusals; several devices in one
# call; the port's last job.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 8

use_firmware_dir
make_image v2.bin --version 2.0.7 --text info --size 4000 --seed 8
make_image big.bin --version 2.0.8 --size 200000 --seed 9

fresh_module() {
	new_port
	local ok=0
	"$cmis_fw" info "$port" --json >"$fw_dir/info.json" || ok=1
	/usr/bin/python3 - "$fw_dir/info.json" "$dir/banks" <<'PY' || ok=1
import json, re, sys
[m] = json.load(open(sys.argv[1]))
banks = open(sys.argv[2]).read()
assert m["schema"] == 1 and m["source"] == "firmware_info", m
assert m["vendor"] == "CMIS EMULATOR" and m["serial"].startswith("EMU"), m
assert m["module_state"] in ("ready", "lowpwr") and m["cdb"]["instances"] >= 1, m
a, b = (next(i for i in m["images"] if i["slot"] == s) for s in "AB")
version = re.search(r"^A: valid version=(\S+)", banks, re.M).group(1)
assert a["version"] == version and a["running"] and a["committed"] and a["valid"], (a, banks)
assert not b["valid"] and not b["running"] and not b["committed"], (b, banks)
PY
	[ $ok -eq 0 ] || cat "$fw_dir/info.json" "$dir/banks"
	del_port
	return $ok
}
check "info --json: identity, CDB and banks of a new port, as its banks view" fresh_module

after_flash() {
	new_port
	local out ok=0
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 || ok=1
	out=$("$cmis_fw" info "$port") || ok=1
	grep -Eq "^    bank B +2\.0\.7 +running committed \"info\"$" <<<"$out" &&
		grep -Eq "^    bank A +1\.0\.0 *$" <<<"$out" &&
		grep -q "^$port: CMIS EMULATOR CMIS-EMU-QSFPDD rev 01 serial " <<<"$out" ||
		{ echo "$out"; cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "info after a flash: bank B runs the new image, committed" after_flash

# A module whose Get Firmware Info fails: the version registers, said so.
without_fw_info() {
	new_port
	set_knobs fail_command=0x0100 fail_count=1000
	local out ok=0
	out=$("$cmis_fw" info "$port") || ok=1
	grep -q '^  firmware (version registers: Get Firmware Info failed):$' <<<"$out" &&
		grep -q '^    running 1\.0, inactive 0\.0$' <<<"$out" || { echo "$out"; ok=1; }
	del_port
	return $ok
}
check "info of a module whose Get Firmware Info fails: the version registers, said so" without_fw_info

# The port's last job, kept by cmis_fw: a completed flash, then a failed
# one replacing it; a fresh port has none.
last_job() {
	new_port
	local out ok=0
	out=$("$cmis_fw" info "$port") || ok=1
	grep -q 'last job' <<<"$out" && { echo "$out"; ok=1; }
	"$cmis_fw" flash "$port" v2.bin >/dev/null 2>&1 || ok=1
	out=$("$cmis_fw" info "$port") || ok=1
	grep -Eq "^  last job: flash of v2\.bin, completed [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC after [0-9]+\.[0-9] s: 1\.0 -> 2\.0\$" <<<"$out" ||
		{ echo "$out"; ok=1; }
	"$cmis_fw" flash "$port" v2.bin --version 3.0 >/dev/null 2>&1 && ok=1
	"$cmis_fw" info "$port" --json >"$fw_dir/last.json" || ok=1
	/usr/bin/python3 - "$fw_dir/last.json" <<'PY' || { cat "$fw_dir/last.json"; ok=1; }
import json, sys, time
[m] = json.load(open(sys.argv[1]))
j = m["last_job"]
assert j["job"] == "flash" and j["status"] == "error" and j["file"] == "v2.bin", j
assert "the image is version 2.0.7, not the 3.0 asked for" in j["message"], j
assert j["version_after"] == "2.0" and "version_before" not in j, j
# (The emulated module of this test is instant: a job may take under 1 ms.)
assert abs(j["ended"] - time.time()) < 600 and isinstance(j["duration_ms"], int), j
PY
	del_port
	return $ok
}
check "info tells the port's last job: none, a completed flash, then a failed one" last_job

# No device named: the dump, every port of the namespace with a CMIS
# module (here the emulated ones; not lo, nor a module that is not CMIS).
every_port() {
	local ports=() dirs=() i ok=0
	for i in 1 2 3; do
		new_port
		ports+=("$port")
		dirs+=("$dir")
	done
	echo 0x11 >"${dirs[2]}/identifier"
	"$cmis_fw" info --json >"$fw_dir/all.json" || ok=1
	/usr/bin/python3 - "$fw_dir/all.json" "${ports[@]}" <<'PY' || { cat "$fw_dir/all.json"; ok=1; }
import json, sys
mods = json.load(open(sys.argv[1]))
names = [m["device"] for m in mods]
a, b, not_cmis = sys.argv[2:]
assert a in names and b in names and not_cmis not in names and "lo" not in names, names
assert [m["ifindex"] for m in mods] == sorted(m["ifindex"] for m in mods), mods
assert all(m["source"] == "firmware_info" for m in mods if m["device"] in (a, b)), mods
PY
	for i in 2 1 0; do
		echo "${dirs[$i]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	return $ok
}
check "info without a device: every port with a CMIS module (the dump), in index order" every_port

# A flash owns the CDB: the request reads the version registers only and
# says why; the flash is not disturbed (no write into a busy CDB, the
# flash completes).
during_flash() {
	new_port
	set_knobs profile=realistic_epl
	local ok=0 flash
	"$cmis_fw" flash "$port" big.bin >"$fw_dir/flash.out" 2>&1 &
	flash=$!
	wait_state busy 30 || ok=1
	"$cmis_fw" info "$port" --json >"$fw_dir/info.json" || ok=1
	wait $flash || ok=1
	/usr/bin/python3 - "$fw_dir/info.json" <<'PY' || ok=1
import json, sys
[m] = json.load(open(sys.argv[1]))
assert m["source"] == "registers" and m["no_banks"] == "cdb_in_use", m
assert m["active_version"] == "1.0", m
PY
	[ "$(counter writes_while_busy)" = 0 ] || ok=1
	grep -q '^B: valid version=2\.0\.8 .*running committed$' "$dir/banks" || ok=1
	[ $ok -eq 0 ] || cat "$fw_dir/info.json" "$fw_dir/flash.out" "$dir/banks" "$dir/counters"
	del_port
	return $ok
}
check "info during a flash: the version registers, the CDB left to the flash" during_flash

refusals() {
	local out rc ok=0
	out=$("$cmis_fw" info lo 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'Module EEPROM access is not supported by this device' <<<"$out" ||
		{ echo "lo: $out (exit $rc)"; ok=1; }
	out=$("$cmis_fw" info no-such-dev0 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'no device matches the request header' <<<"$out" ||
		{ echo "no-such-dev0: $out (exit $rc)"; ok=1; }
	return $ok
}
check "info refuses a device without module access and an unknown one (exit 2)" refusals

several() {
	new_port
	local first=$port first_dir=$dir ok=0
	new_port
	"$cmis_fw" info "$first" "$port" lo --json >"$fw_dir/info.json" 2>/dev/null
	[ $? -eq 2 ] || ok=1
	/usr/bin/python3 - "$fw_dir/info.json" "$first" "$port" <<'PY' || ok=1
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["device"] for r in rows] == [sys.argv[2], sys.argv[3], "lo"], rows
assert rows[0]["source"] == rows[1]["source"] == "firmware_info", rows
assert "error" in rows[2] and "images" not in rows[2], rows
PY
	[ $ok -eq 0 ] || cat "$fw_dir/info.json"
	del_port
	dir=$first_dir
	del_port
	return $ok
}
check "info of several devices: a JSON array, an error object for the one that fails" several

ktap_finished
