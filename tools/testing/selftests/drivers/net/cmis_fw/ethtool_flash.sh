#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-kernel C flasher (net/ethtool/cmis_fw_update.c), driven by an
# unmodified `ethtool --flash-module-firmware`, flashes an emulated module:
# the oracle for the emulator's CDB and firmware behaviour.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_ethtool_flash
require_image_tool

ktap_print_header
ktap_set_plan 9

port=$(emu_ports | head -n1)
use_firmware_dir

before=$(module_fw_version "$port" Active)
check "ethtool -m shows an active firmware version ($before)" test -n "$before"

make_image good.bin --version 7.3.12 --text "selftest good" --size 20000 --seed 7
check_output "ethtool flashes a good image" 'flashing completed' \
	ethtool --flash-module-firmware "$port" file good.bin
check_output "the new image runs" '^7\.3$' module_fw_version "$port" Active
check_output "the old image is the inactive one" "^${before//./\\.}$" module_fw_version "$port" Inactive
check_output "ethtool -i reports the full new version" '^firmware-version: 7\.3\.12$' ethtool -i "$port"

make_image corrupt.bin --version 9.9.9 --size 5000 --corrupt
check_output "a corrupted image is refused at Complete" \
	'Complete FW download command failed' \
	ethtool --flash-module-firmware "$port" file corrupt.bin
check_output "the module still runs the good image" '^7\.3$' module_fw_version "$port" Active

check_output "a missing file is refused" 'Failed to request module firmware image|No such file' \
	sh -c "ethtool --flash-module-firmware $port file missing.bin 2>&1; true"

ip link set "$port" up
check_output "flashing is refused while the port is up" 'Netdevice is up' \
	sh -c "ethtool --flash-module-firmware $port file good.bin 2>&1; true"
ip link set "$port" down

ktap_finished
