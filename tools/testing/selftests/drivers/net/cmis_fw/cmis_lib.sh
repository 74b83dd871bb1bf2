# SPDX-License-Identifier: GPL-2.0
#
# Common helpers for the cmis_fw selftests. Tests run as root in a guest
# that has cmis_emu.ko and cmis_fw.ko loaded (tools/scripts/vm-test.sh
# inserts them); CMIS_FW_MODULE_DIR names the directory holding the .ko
# files for tests that unload and reload them.

lib_dir=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=/dev/null
source "$lib_dir/../../../kselftest/ktap_helpers.sh"

# check DESCRIPTION COMMAND...: one KTAP test point from a command's
# status; the command's output is shown as diagnostics when it fails.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ktap_test_pass "$desc"
	else
		while IFS= read -r l; do ktap_print_msg "  $l"; done <<<"$out"
		ktap_print_msg "  ($* exited $rc)"
		ktap_test_fail "$desc"
	fi
}

# check_output DESCRIPTION PATTERN COMMAND...: passes when the command
# succeeds and its output matches the extended regular expression.
check_output() {
	local desc=$1 pattern=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && grep -Eq -- "$pattern" <<<"$out"; then
		ktap_test_pass "$desc"
	else
		while IFS= read -r l; do ktap_print_msg "  $l"; done <<<"$out"
		ktap_print_msg "  ($* exited $rc, expected output matching '$pattern')"
		ktap_test_fail "$desc"
	fi
}

# The network interfaces of emulated ports, one per line.
emu_ports() {
	local d
	for d in /sys/class/net/*; do
		ethtool -i "${d##*/}" 2>/dev/null | grep -qx 'driver: cmis_emu' &&
			echo "${d##*/}"
	done
}

# Skips the whole test when a module it needs is not loaded.
require_module() {
	if [ ! -d "/sys/module/$1" ]; then
		ktap_skip_all "module $1 not loaded"
		exit "$KSFT_SKIP"
	fi
}
