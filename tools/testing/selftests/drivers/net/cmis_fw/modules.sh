#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The modules load, the emulated port answers ethtool, the cmis_fw generic
# netlink family is registered, and both modules unload and reload cleanly.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw

ktap_print_header
plan=8
case "${CMIS_FW_SELFTEST_INJECT:-}" in
fail|warn) plan=$((plan + 1)) ;;
esac
ktap_set_plan "$plan"

port=$(emu_ports | head -n1)
check "emulated port registered (${port:-none})" test -n "$port"
check_output "ethtool -i names the cmis_emu driver" '^driver: cmis_emu$' ethtool -i "$port"
check_output "ethtool -i reports the port's bus address" '^bus-info: cmis_emu\.[0-9]+$' ethtool -i "$port"
check_output "genl lists the cmis_fw family" '^Name: cmis_fw$' genl ctrl get name cmis_fw
check_output "the family has a monitor multicast group" 'monitor' genl ctrl get name cmis_fw

reload() {
	rmmod cmis_fw && rmmod cmis_emu || return 1
	[ -z "$(emu_ports)" ] || { echo "ports left after rmmod"; return 1; }
	genl ctrl get name cmis_fw >/dev/null 2>&1 && { echo "family left after rmmod"; return 1; }
	insmod "$CMIS_FW_MODULE_DIR/cmis_emu.ko" && insmod_cmis_fw
}
check "rmmod and insmod both modules" reload

# An open debugfs file pins cmis_emu: its release runs the module's file
# operations, which must not be unloaded under it (a use-after-free).
debugfs_pins_module() {
	local f ok=0
	f=$(ls -d /sys/kernel/debug/cmis_emu/port*/state | head -n1)
	[ -n "$f" ] || { echo "no port state file"; return 1; }
	exec 3<"$f"
	rmmod cmis_fw || ok=1
	rmmod cmis_emu 2>/dev/null && { echo "cmis_emu unloaded under an open file"; ok=1; }
	exec 3<&-
	if [ -d /sys/module/cmis_emu ]; then
		rmmod cmis_emu || ok=1
	fi
	insmod "$CMIS_FW_MODULE_DIR/cmis_emu.ko" && insmod_cmis_fw || ok=1
	return $ok
}
check "an open debugfs file pins cmis_emu" debugfs_pins_module
check_output "port back after reload" '^driver: cmis_emu$' ethtool -i "$(emu_ports | head -n1)"

# Proof that the runner notices failures (see README): a failing test
# point, or a kernel WARN from LKDTM that the runner finds in dmesg.
case "${CMIS_FW_SELFTEST_INJECT:-}" in
fail)
	check "injected failure (CMIS_FW_SELFTEST_INJECT=fail)" false
	;;
warn)
	check "trigger a kernel WARN (CMIS_FW_SELFTEST_INJECT=warn)" \
		sh -c 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT'
	;;
esac

ktap_finished
