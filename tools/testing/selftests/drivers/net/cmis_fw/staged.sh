#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Staged updates through cmis-fw: flash --no-run (the image waits in the
# inactive bank), run (it runs, uncommitted), commit (committed), rollback
# (the previous image run and committed); flash --no-commit; a run with
# nothing to run refused with the module unchanged (ynl.sh drives the
# same requests through the YNL tool). Each step checked against the
# emulated module's banks.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

require_tool cmis_fw cmis-fw

ktap_print_header
ktap_set_plan 3

use_firmware_dir
make_image v2.bin --version 2.0.7 --text staged --size 4000 --seed 10

# The banks view's lines of the two images, up to their CRC; running and
# committed follow.
v1='valid version=1\.0\.0 .* crc=[0-9a-f]{8}'
v2='valid version=2\.0\.7 text="staged" .* crc=[0-9a-f]{8}'

# step WHAT ARGS...: runs cmis-fw ARGS..., which must succeed saying WHAT.
step() {
	local what=$1 out
	shift
	out=$("$cmis_fw" "$@" 2>&1) &&
		grep -q "^$port: $what\$" <<<"$out" || { echo "cmis-fw $*: $out"; return 1; }
}

download_run_commit_rollback() {
	new_port
	local ok=0
	step "completed: downloaded into the inactive bank, not run" flash "$port" v2.bin --no-run &&
		expect_banks "$v1 running committed" "$v2" &&
		step "completed: the new image runs, uncommitted" run "$port" &&
		expect_banks "$v1 committed" "$v2 running" &&
		step "completed: the running image is committed" commit "$port" &&
		expect_banks "$v1" "$v2 running committed" &&
		step "completed: the image runs, committed" rollback "$port" &&
		expect_banks "$v1 running committed" "$v2" ||
		ok=1
	[ "$(counter writes_while_busy)" = 0 ] || ok=1
	del_port
	return $ok
}
check "flash --no-run, run, commit, rollback: each step as the banks show it" download_run_commit_rollback

no_commit() {
	new_port
	local ok=0
	step "completed: the new image runs, uncommitted" flash "$port" v2.bin --no-commit &&
		expect_banks "$v1 committed" "$v2 running" ||
		ok=1
	# A module reset boots the committed image again.
	echo 1 >"$dir/reset"
	wait_state '^(ready|lowpwr)' &&
		expect_banks "$v1 running committed" "$v2" ||
		ok=1
	del_port
	return $ok
}
check "flash --no-commit: the new image runs; a reset boots the previous one" no_commit

nothing_to_run() {
	new_port
	local out rc ok=0
	out=$("$cmis_fw" run "$port" 2>&1)
	rc=$?
	[ $rc -eq 1 ] && grep -q 'the inactive bank holds no valid image to run' <<<"$out" &&
		expect_banks "$v1 running committed" 'invalid' &&
		[ "$(sed -n 's/^command_0109: //p' "$dir/counters")" = "" ] ||
		{ echo "$out (exit $rc)"; ok=1; }
	del_port
	return $ok
}
check "run with an empty inactive bank: refused before Run, the module unchanged (exit 1)" nothing_to_run

ktap_finished
