#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cmis_fw family fed 10,000 random and mutated requests
# (cmis_fw_client.py fuzz: a valid request with bytes changed, random
# attribute trees with lying lengths, random bytes, now and then another
# command, version or NLM_F_DUMP): each must be answered, the port must
# flash cleanly afterwards, and the runner checks for splats and leaks.
# CMIS_FW_NL_FUZZ_COUNT changes the count.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

ktap_print_header
ktap_set_plan 2

use_firmware_dir
make_image v2.bin --version 2.0.7 --text nl-fuzz --size 2000 --seed 31

new_port
count=${CMIS_FW_NL_FUZZ_COUNT:-10000}
out=$(fw_client fuzz "$port" v2.bin --count "$count" --seed 1 2>&1)
if [ $? -eq 0 ]; then
	ktap_print_msg "outcomes: $out"
	ktap_test_pass "$count random and mutated requests, each answered"
else
	fail_with "$count random and mutated requests, each answered" "$out"
fi

# A flash one of the requests started may still run: asked again while
# the answer is EBUSY.
clean_flash() {
	local i rc
	for i in $(seq 300); do
		out=$(fw_client flash "$port" v2.bin --timeout 120 2>&1)
		rc=$?
		[ "$rc" -eq 2 ] && grep -q EBUSY <<<"$out" || break
		sleep 0.2
	done
	[ "$rc" -eq 0 ] && grep -Eq '^[AB]: valid version=2\.0\.7 .*running committed$' "$dir/banks" ||
		{ echo "$out"; cat "$dir/banks"; return 1; }
}
check "the port flashes cleanly afterwards" clean_flash
del_port

ktap_finished
