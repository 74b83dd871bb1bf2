#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every failure says where the module stands and what to do next: the
# ERROR notification's message and its outcome nest (as cmis-fw --json
# shows them) checked against what the emulated module holds (its banks
# file), for a block write that never completes (the CDB left busy with
# it), the next flash finding that CDB busy, a reset and a flash that
# succeeds, a new image that faults after Run (it runs uncommitted), an
# optional command failing (the flash goes on) and a refused Start.
# The kernel's C flasher meets the same faults; what it says is shown
# beside, as the oracle, not a requirement.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool
require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 6

use_firmware_dir
make_image v2.bin --version 2.1.7 --text failures --size 20000 --seed 16

# flash_json: cmis-fw flash --json of $port; its objects in $fw_dir/out.json,
# its exit status in rc.
flash_json() {
	"$cmis_fw" flash "$port" v2.bin --json >"$fw_dir/out.json" 2>&1
	rc=$?
}

# expect PYTHON: runs the assertions PYTHON with `last` (the last JSON
# object of the flash), `outcome` (its outcome nest), `rc` and `banks`
# (the module's banks file: bank -> {"valid", "version", "running",
# "committed"}); prints the flash's output and the banks on failure.
expect() {
	/usr/bin/python3 - "$fw_dir/out.json" "$dir/banks" "$rc" "$1" <<'PY' ||
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
banks = {}
for l in open(sys.argv[2]):
    m = re.match(r"^([AB]): (valid|invalid)(?: version=(\S+))?.*?( running)?( committed)?$", l)
    if m:
        banks[m[1]] = {"valid": m[2] == "valid", "version": m[3],
                       "running": bool(m[4]), "committed": bool(m[5])}
rc = int(sys.argv[3])
last = rows[-1]
outcome = last.get("outcome", {})
running = next(b for b, s in banks.items() if s["running"])
committed = next(b for b, s in banks.items() if s["committed"])
short = lambda v: ".".join(v.split(".")[:2])
exec(sys.argv[4])
PY
		{
			cat "$fw_dir/out.json"
			sed 's/^/banks: /' "$dir/banks"
			return 1
		}
}

# c_flasher KNOBS...: what the kernel's C flasher says on a new port with
# the same faults (one line), or nothing without ethtool's flashing.
c_flasher() {
	ethtool --help 2>&1 | grep -q -- --flash-module-firmware || return 0
	new_port
	set_knobs "$@"
	local out
	out=$(ethtool --flash-module-firmware "$port" file v2.bin 2>&1 | tr '\r' '\n' |
		grep -Ev '^$|Progress|started|in progress' | tr '\n' ' ' | tr -s ' ')
	echo "1" >"$dir/reset"
	del_port
	ktap_print_msg "C flasher: ${out:0:300}"
}

# A block write that never completes: no Abort into the busy CDB; the
# error names the command the CDB is busy with and says to reset.
new_port
set_knobs hang_next=1 hang_command=0x0104 max_duration_write=500
flash_json
if expect '
assert rc == 1, rc
assert last["status"] == "error", last
assert "the CDB is busy with command 0104h: wait for it, or reset the module" in last["message"]
assert outcome["left"] == "download-begun" and outcome["abort"] == "cdb-busy", outcome
assert outcome["action"] == "reset-then-retry", outcome
assert outcome["busy_command"] == 0x104, outcome
assert outcome["active_version"] == short(banks[running]["version"]), (outcome, banks)
assert 0 < last["total"] and last["done"] < last["total"], last
'; then
	ktap_test_pass "a hung block write: the CDB busy with 0104h, reset then retry"
else
	ktap_test_fail "a hung block write: the CDB busy with 0104h, reset then retry"
fi

# The next flash finds the CDB still busy and names the command.
flash_json
if expect '
assert rc == 1, rc
assert "the CDB is still busy with an earlier command" in last["message"], last
assert outcome["left"] == "unchanged" and outcome["busy_command"] == 0x104, outcome
assert outcome["action"] == "reset-then-retry", outcome
'; then
	ktap_test_pass "the next flash: the CDB still busy with 0104h, said before anything is sent"
else
	ktap_test_fail "the next flash: the CDB still busy with 0104h, said before anything is sent"
fi

# What the message says to do works: reset the module, flash again.
ethtool_reset() {
	ethtool --reset "$port" phy >/dev/null 2>&1 || echo 1 >"$dir/reset"
	wait_state '^ready$' || return 1
	flash_json
	expect '
assert rc == 0 and last["status"] == "completed", last
assert banks[running]["version"] == "2.1.7" and banks[running]["committed"], banks
'
}
check "after a module reset the flash completes" ethtool_reset
del_port
c_flasher hang_next=1 hang_command=0x0104 max_duration_write=500

# The new image faults after Run: it runs uncommitted in bank B, the
# previous one stays committed in bank A; commit it or reset.
new_port
set_knobs fault_on_reset=3
flash_json
if expect '
assert rc == 1, rc
assert "ModuleFault" in last["message"], last
assert (running, committed) == ("B", "A"), banks
assert outcome["left"] == "run-sent" and outcome["action"] == "commit-or-reset", outcome
assert (outcome["running_bank"], outcome["committed_bank"]) == (running, committed), outcome
assert outcome["bank_b_version"] == banks["B"]["version"], (outcome, banks)
assert "module now runs 2.1 (bank B, uncommitted), bank A holds 1.0 committed" in last["message"]
'; then
	ktap_test_pass "ModuleFault after Run: the new image runs uncommitted, commit or reset"
else
	ktap_test_fail "ModuleFault after Run: the new image runs uncommitted, commit or reset"
fi
echo 1 >"$dir/reset"
del_port
c_flasher fault_on_reset=3

# An optional command's generic failure degrades, with a notice: Get
# Firmware Info failing (40h) every time, the flash completes, proven by
# the version registers (the C flasher never sends it).
new_port
set_knobs fail_count=100 fail_command=0x0100 fail_code=0x40
flash_json
if expect '
assert rc == 0 and last["status"] == "completed", last
notices = [r["message"] for r in rows if r["status"] == "in_progress" and r.get("message")]
assert any("Get Firmware Info (0100h) unavailable" in m for m in notices), rows
assert (running, committed) == ("B", "B") and banks["B"]["version"] == "2.1.7", banks
'; then
	ktap_test_pass "Get Firmware Info failing (40h): the flash goes on, says so, completes"
else
	ktap_test_fail "Get Firmware Info failing (40h): the flash goes on, says so, completes"
fi
del_port

# A refusal before anything is written reads back an unchanged module.
new_port
set_knobs fail_count=1 fail_command=0x0101 fail_code=0x45
flash_json
if expect '
assert rc == 1, rc
assert outcome["left"] == "unchanged" or outcome["abort"] in ("aborted", "not-needed"), outcome
assert outcome["action"] == "retry", outcome
assert outcome["active_version"] == short(banks[running]["version"]), (outcome, banks)
assert (outcome["running_bank"], outcome["committed_bank"]) == ("A", "A"), outcome
assert "module now runs 1.0 (bank A, committed)" in last["message"], last
'; then
	ktap_test_pass "Start refused: the module unchanged, read back, retry"
else
	ktap_test_fail "Start refused: the module unchanged, read back, retry"
fi
del_port

ktap_finished
