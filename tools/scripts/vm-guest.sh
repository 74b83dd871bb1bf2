#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (see vm-test.sh): inserts the modules, runs the
# installed kselftests, unloads the modules, forces a kmemleak scan and
# leaves everything the host needs in the shared output directory:
#   ktap.txt     run_kselftest.sh output (KTAP)
#   dmesg.txt    the kernel log of the whole boot
#   kmemleak.txt leaks reported after the modules were unloaded
#   steps.txt    "<step> <exit status>" for the runner's own steps
#   done         written last; its absence means the guest died
#
# Usage: vm-guest.sh OUT_DIR KSELFTEST_INSTALL_DIR MODULE_DIR [MODE]
# MODE "demo" loads the modules and shows the emulated port instead;
# MODE "bench" runs the benchmark (tools/cmis-bench): bench.txt is what it
# prints, bench.log its progress, bench/ its JSON and the flashers' output.
set -u
out=$1 ksft=$2 mods=$3 mode=${4:-test}

step() {
	local name=$1
	shift
	"$@"
	echo "$name $?" >>"$out/steps.txt"
}

kmemleak=/sys/kernel/debug/kmemleak
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
# Forget what boot itself leaked: only leaks from here on count.
if [ -w "$kmemleak" ]; then
	echo scan >"$kmemleak"
	echo clear >"$kmemleak"
fi

[ -f "$out/env" ] && . "$out/env"
export CMIS_FW_MODULE_DIR=$mods

step insmod_cmis_emu insmod "$mods/cmis_emu.ko"
# shellcheck disable=SC2086 # parameters are separate words
step insmod_cmis_fw insmod "$mods/cmis_fw.ko" ${CMIS_FW_PARAMS:-}

if [ "$mode" = demo ]; then
	# Show the emulated port, flash it with the kernel's own flasher
	# through unmodified ethtool, and show the version change.
	run() {
		echo "# $*"
		"$@" 2>&1
		echo
	}
	{
		port=
		for d in /sys/class/net/*; do
			ethtool -i "${d##*/}" 2>/dev/null | grep -qx 'driver: cmis_emu' &&
				{ port=${d##*/}; break; }
		done
		run ip -br link show "$port"
		run ethtool -i "$port"
		run genl ctrl get name cmis_fw
		fw=$(mktemp -d)
		printf '%s' "$fw" >/sys/module/firmware_class/parameters/path
		run "$CMIS_FW_BIN_DIR/cmis-emu-image" --version 2.1.0 --text demo \
			--size 65536 "$fw/demo-2.1.0.bin"
		echo "# ethtool -m $port | grep 'firmware version'"
		ethtool -m "$port" | grep 'firmware version'
		echo
		run ethtool --flash-module-firmware "$port" file demo-2.1.0.bin
		echo "# ethtool -m $port | grep 'firmware version'"
		ethtool -m "$port" | grep 'firmware version'
		echo
		# The same with cmis_fw and its command line tool, on a
		# pseudo-terminal so that it draws its progress bar; each redraw
		# is shown as a line.
		"$CMIS_FW_BIN_DIR/cmis-emu-image" --version 2.2.0 --text demo \
			--size 262144 "$fw/demo-2.2.0.bin" >/dev/null
		echo "# cmis-fw flash $port demo-2.2.0.bin"
		TERM=xterm script -qfec "$CMIS_FW_BIN_DIR/cmis-fw flash $port demo-2.2.0.bin" \
			/dev/null | tr '\r' '\n' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' |
			grep -v '^[[:space:]]*$' | awk 'NR % 4 == 1 || /completed|failed/'
		echo "# exit status: ${PIPESTATUS[0]}"
		echo
		echo "# ethtool -m $port | grep 'firmware version'"
		ethtool -m "$port" | grep 'firmware version'
		echo
		run ethtool -i "$port"
		# What operators do beyond a flash (Documentation/admin-guide.rst
		# shows this output): inventory, staged steps, a stated version,
		# several ports at once, a policy file, the kernel log.
		cf=$CMIS_FW_BIN_DIR/cmis-fw
		run "$cf" info "$port"
		run "$cf" flash "$port" demo-2.1.0.bin --no-run
		run "$cf" run "$port"
		run "$cf" commit "$port"
		run "$cf" flash "$port" demo-2.1.0.bin --version 2.1.0
		ports=()
		for _ in 1 2 3; do
			echo 1 >/sys/kernel/debug/cmis_emu/new_port
			idx=$(sort -n /sys/kernel/debug/cmis_emu/del_port | tail -n1)
			for d in /sys/class/net/*; do
				ethtool -i "${d##*/}" 2>/dev/null | grep -qx "bus-info: cmis_emu\.$idx" &&
					ports+=("${d##*/}")
			done
		done
		ip link set "${ports[2]}" up
		run "$cf" flash "${ports[@]}" demo-2.2.0.bin
		ip link set "${ports[2]}" down
		printf '%s\n' '{"schema": 1, "modules": [' \
			'  {"part_number": "CMIS-EMU-QSFPDD", "version": "2.2.0", "file": "demo-2.2.0.bin"}' \
			']}' >"$fw/policy.json"
		run cat "$fw/policy.json"
		run "$cf" update --policy "$fw/policy.json"
		run "$cf" info "$port"
		echo "# dmesg | grep 'module firmware'"
		dmesg | grep 'module firmware' | sed 's/^\[[ 0-9.]*\] //'
	} >"$out/demo.txt" 2>&1
elif [ "$mode" = bench ]; then
	# shellcheck disable=SC2086 # arguments are separate words
	"$CMIS_FW_BIN_DIR/cmis-bench" --bin-dir "$CMIS_FW_BIN_DIR" --out "$out/bench" \
		${CMIS_BENCH_ARGS:-} >"$out/bench.txt" 2>"$out/bench.log"
	echo "bench $?" >>"$out/steps.txt"
else
	# Append mode: the kselftest runner reopens /dev/stdout (as its
	# logfile) for the tests' output, and only O_APPEND keeps the two
	# writers from overwriting each other.
	: >"$out/ktap.txt"
	only=()
	for t in ${CMIS_FW_TESTS:-}; do
		only+=(-t "drivers/net/cmis_fw:$t")
	done
	[ -n "${CMIS_FW_TEST_TIMEOUT:-}" ] && only+=(-o "$CMIS_FW_TEST_TIMEOUT")
	(cd "$ksft" && ./run_kselftest.sh "${only[@]}") >>"$out/ktap.txt" 2>&1
	echo "run_kselftest $?" >>"$out/steps.txt"
	echo "cmis_fw selftest: end" >/dev/kmsg
fi

step rmmod_cmis_fw rmmod cmis_fw
step rmmod_cmis_emu rmmod cmis_emu

if [ -w "$kmemleak" ]; then
	# kmemleak only reports objects older than 5 s that two scans in a
	# row found unreferenced.
	sleep 6
	echo scan >"$kmemleak"
	echo scan >"$kmemleak"
	cat "$kmemleak" >"$out/kmemleak.txt"
elif [ "${CMIS_FW_KMEMLEAK:-required}" = optional ]; then
	echo "kmemleak unavailable (not built into this kernel)" >"$out/kmemleak.txt"
else
	echo "kmemleak unavailable" >"$out/kmemleak.txt"
	echo "kmemleak 1" >>"$out/steps.txt"
fi

dmesg >"$out/dmesg.txt"
sync
touch "$out/done"
