# SPDX-License-Identifier: GPL-2.0
#
# Common helpers for the cmis_fw selftests. Tests run as root in a guest
# that has cmis_emu.ko and cmis_fw.ko loaded (tools/scripts/vm-test.sh
# inserts them); CMIS_FW_MODULE_DIR names the directory holding the .ko
# files for tests that unload and reload them.

lib_dir=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=/dev/null
source "$lib_dir/../../../kselftest/ktap_helpers.sh"

# Marks the test's start in the kernel log: the runner's report gives each
# test's time from these (and they place any splat within a test).
echo "cmis_fw selftest: ${0##*/}" >/dev/kmsg 2>/dev/null || true

# fail_with DESCRIPTION TEXT...: a failing KTAP test point, with each
# TEXT (multi-line output) shown as diagnostics first.
fail_with() {
	local desc=$1 t l
	shift
	for t in "$@"; do
		while IFS= read -r l; do ktap_print_msg "  $l"; done <<<"$t"
	done
	ktap_test_fail "$desc"
}

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
		fail_with "$desc" "$out" "($* exited $rc)"
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
		fail_with "$desc" "$out" "($* exited $rc, expected output matching '$pattern')"
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

# Loads cmis_fw again with the parameters the runner gave it.
insmod_cmis_fw() {
	# shellcheck disable=SC2086 # parameters are separate words
	insmod "$CMIS_FW_MODULE_DIR/cmis_fw.ko" ${CMIS_FW_PARAMS:-}
}

# Skips the whole test when a module it needs is not loaded.
require_module() {
	if [ ! -d "/sys/module/$1" ]; then
		ktap_skip_all "module $1 not loaded"
		exit "$KSFT_SKIP"
	fi
}

# Skips the test unless ethtool can flash module firmware (>= 6.11).
require_ethtool_flash() {
	if ! ethtool --help 2>&1 | grep -q -- --flash-module-firmware; then
		ktap_skip_all "ethtool lacks --flash-module-firmware"
		exit "$KSFT_SKIP"
	fi
}

# require_tool VAR NAME: sets VAR to the path of the host tool NAME (one
# of tools/, built on the host; CMIS_FW_BIN_DIR names their directory),
# or skips the whole test if it is missing.
require_tool() {
	local path=${CMIS_FW_BIN_DIR:-}/$2
	if [ ! -x "$path" ]; then
		ktap_skip_all "$2 not found (set CMIS_FW_BIN_DIR)"
		exit "$KSFT_SKIP"
	fi
	printf -v "$1" '%s' "$path"
}

# The image tool, tools/cmis-emu-image, as image_tool.
require_image_tool() {
	require_tool image_tool cmis-emu-image
}

# Points the firmware loader at a private directory (removed on exit);
# make_image writes there and firmware names are relative to it.
use_firmware_dir() {
	fw_dir=$(mktemp -d)
	fw_path_param=/sys/module/firmware_class/parameters/path
	fw_path_saved=$(cat "$fw_path_param")
	printf '%s' "$fw_dir" >"$fw_path_param"
	trap 'printf "%s" "$fw_path_saved" >"$fw_path_param"; rm -rf "$fw_dir"' EXIT
}

# make_image NAME ARGS...: an image in the firmware directory.
make_image() {
	local name=$1
	shift
	"$image_tool" "$@" "$fw_dir/$name"
}

# module_fw_version PORT Active|Inactive: MAJOR.MINOR as ethtool -m shows.
module_fw_version() {
	ethtool -m "$1" | sed -n "s/^[[:space:]]*$2 firmware version[[:space:]]*: *//p"
}

EMU_DEBUGFS=/sys/kernel/debug/cmis_emu

# The port numbered INDEX (its bus-info is cmis_emu.INDEX).
emu_port_by_index() {
	local d
	for d in /sys/class/net/*; do
		ethtool -i "${d##*/}" 2>/dev/null | grep -qx "bus-info: cmis_emu\.$1" &&
			{ echo "${d##*/}"; return; }
	done
}

# The debugfs directory of PORT.
emu_port_dir() {
	local bus
	bus=$(ethtool -i "$1" | sed -n 's/^bus-info: cmis_emu\.//p')
	echo "$EMU_DEBUGFS/port$bus"
}

# new_port: creates a port, sets $port and $dir. (del_port lists the ports
# by slot, and a new port may take a freed slot: the newest one is the
# highest index.)
new_port() {
	echo 1 >"$EMU_DEBUGFS/new_port"
	port=$(emu_port_by_index "$(sort -n "$EMU_DEBUGFS/del_port" | tail -n1)")
	dir=$(emu_port_dir "$port")
}

# new_split_ports N: creates N ports split from one wider port (their
# devlink ports say so), sets $split_ports to their names and
# $split_indexes to their indexes; fails on kernels without devlink.
new_split_ports() {
	local before index
	before=$(cat "$EMU_DEBUGFS/new_split_ports")
	echo "$1" 2>/dev/null >"$EMU_DEBUGFS/new_split_ports" || return 1
	split_indexes=$(grep -vxF -f <(printf '%s\n' $before) "$EMU_DEBUGFS/new_split_ports")
	split_ports=
	for index in $split_indexes; do
		split_ports+=" $(emu_port_by_index "$index")"
	done
}

# del_split_ports: removes the ports new_split_ports created.
del_split_ports() {
	local index
	for index in $split_indexes; do
		echo "$index" >"$EMU_DEBUGFS/del_port"
	done
}

# check_split_ports DESCRIPTION COMMAND...: the check DESCRIPTION, passed
# when COMMAND PORT succeeds for each of two ports split from a wider one
# (removed after); a ktap skip on kernels without devlink (the project's
# test kernels).
check_split_ports() {
	local desc=$1
	shift
	if ! new_split_ports 2; then
		ktap_test_skip "split ports: the kernel has no devlink (CONFIG_NET_DEVLINK)"
		return
	fi
	check "$desc" on_each_split_port "$@"
	del_split_ports
}

# on_each_split_port COMMAND...: COMMAND PORT for every split port; fails
# if any one does.
on_each_split_port() {
	local ok=0 p
	for p in $split_ports; do
		"$@" "$p" || ok=1
	done
	return $ok
}

# del_port: removes the port new_port created last.
del_port() {
	echo "${dir##*port}" >"$EMU_DEBUGFS/del_port"
}

# set_knobs KEY=VALUE...: writes the port's debugfs settings.
set_knobs() {
	local kv
	for kv in "$@"; do
		echo "${kv#*=}" >"$dir/${kv%%=*}" || return 1
	done
}

# wait_file FILE PATTERN [SECONDS]: polls FILE (every 10 ms, for at most
# SECONDS of wall time, 30 by default: under TCG a poll itself can take
# longer than its sleep) until a line matches the extended regular
# expression.
wait_file() {
	wait_for "${3:-30}" grep -Eq "$2" "$1"
}

# wait_for SECONDS COMMAND...: runs COMMAND every 10 ms until it succeeds,
# for at most SECONDS of wall time (it is run once more at the end).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || { "$@"; return; }
		sleep 0.01
	done
}

# wait_state PATTERN: waits as wait_file for the current port's state.
wait_state() {
	wait_file "$dir/state" "$1"
}

# slow_port: a new port whose downloads take a while (200 ms per LPL
# block), for what must happen in the middle of one. (Under TCG a client
# takes a few seconds to start.)
slow_port() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=200000 max_duration_write=2000
}

# wait_download [DIR]: waits (up to 60 s) until the module of DIR (the
# current port's by default) is in the middle of a download.
wait_download() {
	wait_file "${1:-$dir}/banks" '^download: bank=' 60 || { echo "no download started"; return 1; }
}

# netns_holder: a process in a network namespace of its own, its pid in
# $holder, once the namespace exists (before unshare has made it, a
# device moved to the process's namespace would stay in ours).
netns_holder() {
	unshare -n sleep 600 >/dev/null 2>&1 &
	holder=$!
	wait_for 30 other_netns "$holder" || { echo "no namespace for the holder"; kill "$holder"; return 1; }
}

# other_netns PID: PID is in another network namespace than ours.
other_netns() {
	[ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}

# The selftests' netlink client of the cmis_fw family.
fw_client() {
	python3 "$lib_dir/cmis_fw_client.py" "$@"
}

# fw_client_bg ARGS...: the test client in the background, $! its own pid
# ("fw_client ... &" would run it under a subshell whose pid $! is: a
# signal sent there kills the shell and leaves the client running).
fw_client_bg() {
	python3 "$lib_dir/cmis_fw_client.py" "$@" &
}

# expect_banks A_LINE_REGEX B_LINE_REGEX: the current port's banks view,
# each line whole.
expect_banks() {
	grep -Eq "^A: $1\$" "$dir/banks" && grep -Eq "^B: $2\$" "$dir/banks" ||
		{ cat "$dir/banks"; return 1; }
}

# counter NAME: a counter of the current port's emulated module.
counter() {
	sed -n "s/^$1: //p" "$dir/counters"
}

# parallel_flash N FLASH: flashes N new ports with v2.bin at once, FLASH
# PORT OUTFILE doing one flash; each must succeed and leave bank B running
# 2.0.7, committed.
parallel_flash() {
	local n=$1 flash=$2 i pids=() dirs=() ports=() rc=0
	for i in $(seq "$n"); do
		new_port
		ports+=("$port")
		dirs+=("$dir")
	done
	for i in "${!ports[@]}"; do
		"$flash" "${ports[$i]}" "$fw_dir/p$i.out" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$fw_dir/p$i.out"; rc=1; }
		grep -q '^B: valid version=2\.0\.7 .*running committed$' "${dirs[$i]}/banks" ||
			{ cat "${dirs[$i]}/banks"; rc=1; }
	done
	for i in "${!dirs[@]}"; do
		echo "${dirs[$i]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	return $rc
}
