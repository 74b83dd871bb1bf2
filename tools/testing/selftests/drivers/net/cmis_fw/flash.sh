#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cmis_fw, the Rust flasher, driven over its generic netlink family: the
# conformance matrix of conformance.sh with the same outcomes except where
# cmis_fw is deliberately better than the kernel's C flasher (marked
# "better" below: EPL blocks sized from CdbMaxPagesEPL, accesses split to
# the read/write length extension, reply check codes verified, a reply
# check code of 00h accepted, the module waited for after Run until it is
# back), then request validation, notifications, and the lifecycle: busy
# device, requester gone, device unregistered and module unloaded
# mid-flash. Each case gets a fresh port.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool

ktap_print_header
ktap_set_plan 50

use_firmware_dir
make_image v2.bin --version 2.0.7 --text rust-flasher --size 4000 --seed 3
make_image big.bin --version 2.0.7 --text rust-flasher --size 60000 --seed 4

# Extra arguments for the client.
extra=()
out=

# run_flash FILE: flashes the current port, output in $out, status in $rc.
run_flash() {
	out=$(fw_client flash "$port" "$1" "${extra[@]}" 2>&1)
	rc=$?
}

new_runs() {
	grep -q '^B: valid version=2\.0\.7 .*running committed$' "$dir/banks"
}

old_runs() {
	grep -q '^A: valid version=1\.0\.0 .*running' "$dir/banks"
}

# flash_ok DESCRIPTION KEY=VALUE...: completes, bank B runs 2.0.7 and
# is committed.
flash_ok() {
	local desc=$1
	shift
	new_port
	set_knobs "$@"
	run_flash v2.bin
	if [ "$rc" -eq 0 ] && grep -q 'status=COMPLETED' <<<"$out" && new_runs; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "(exit $rc)" "$(sed 's/^/banks: /' "$dir/banks")"
	fi
	del_port
}

# flash_fails DESCRIPTION PATTERN KEY=VALUE...: exits 1 with an ERROR
# notification whose message matches PATTERN; bank A still runs.
flash_fails() {
	local desc=$1 pattern=$2
	shift 2
	new_port
	set_knobs "$@"
	run_flash v2.bin
	if [ "$rc" -eq 1 ] && grep -Eq -- "status=ERROR .*msg=.*$pattern" <<<"$out" && old_runs; then
		ktap_test_pass "$desc"
	else
		fail_with "$desc" "$out" "(exit $rc)" "$(sed 's/^/banks: /' "$dir/banks")"
	fi
	echo 1 >"$dir/plugged"
	del_port
}

# Write mechanisms.
flash_ok "LPL only (write_mechanism 01h)" write_mechanism=0x01
flash_ok "EPL only (write_mechanism 10h)" write_mechanism=0x10
flash_ok "LPL and EPL (11h: EPL)" write_mechanism=0x11
flash_ok "better: EPL with 4 pages, 512-byte blocks" write_mechanism=0x10 epl_pages_code=4
flash_fails "no write mechanism (00h)" 'no usable firmware write mechanism' write_mechanism=0x00

# Read/write length extension classes.
flash_ok "rw_len_ext 15 (128-byte accesses)" write_mechanism=0x01 rw_len_ext=15
flash_ok "rw_len_ext 9 (80-byte accesses)" write_mechanism=0x01 rw_len_ext=9
flash_ok "better: rw_len_ext 0 (8-byte accesses)" rw_len_ext=0

# Revisions, identifiers, modes.
flash_ok "CMIS 4.0 module (status polling)" revision=0x40
flash_ok "OSFP module (19h)" identifier=0x19
flash_ok "foreground CDB mode with busy times" background_mode=0 busy_us_write=2000 \
	busy_us_start=50000 busy_us_complete=50000

# Passwords (0x12345678).
extra=(--password 0x12345678)
flash_ok "right password flashes a protected module" password_required=1 password=0x12345678
extra=(--password 1)
flash_fails "wrong password is not accepted" 'password not accepted' \
	password_required=1 password=0x12345678
extra=()
flash_fails "no password on a protected module" 'password related error' \
	password_required=1 password=0x12345678

# Injected command failures, one per step; a download that fails is
# aborted (0102h).
flash_fails "Module Features (0040h) fails" 'Module Features \(0040h\) failed' \
	fail_command=0x0040 fail_code=0x40 fail_count=1
flash_fails "Firmware Management Features (0041h) fails" \
	'Firmware Management Features \(0041h\) failed' \
	fail_command=0x0041 fail_code=0x40 fail_count=1
flash_fails "Start (0101h) fails with 42h" \
	'Start Firmware Download \(0101h\) failed: parameter range error' \
	fail_command=0x0101 fail_code=0x42 fail_count=1

aborted_after() {
	new_port
	set_knobs "$@"
	run_flash v2.bin
	local ok=0
	[ "$rc" -eq 1 ] && grep -q 'msg=.*download aborted' <<<"$out" &&
		[ "$(counter command_0102)" = 1 ] && old_runs &&
		grep -q '^download: none' "$dir/banks" || ok=1
	[ $ok -eq 0 ] || { echo "$out"; cat "$dir/banks" "$dir/counters"; }
	del_port
	return $ok
}
check "a block write (0103h) fails: download aborted" aborted_after \
	write_mechanism=0x01 fail_command=0x0103 fail_code=0x42 fail_count=1
check "Complete (0107h) fails: download aborted" aborted_after \
	fail_command=0x0107 fail_code=0x40 fail_count=1
flash_fails "a command never completes (0041h)" 'did not complete in time' \
	max_completion_ms=400 hang_command=0x0041 hang_next=1
flash_ok "better: a valid reply with check code 00h is accepted" max_completion_ms=500
flash_fails "corrupted reply length" 'bad reply' corrupt_reply_len=1
flash_fails "better: corrupted reply check code is caught" 'bad reply: reply check code' \
	corrupt_reply_chk=1
flash_ok "slow Ready after Run" slow_ready_ms=5000
flash_ok "better: module down 5 s after Run is waited for" reset_ms=5000
flash_fails "power lost during a block write" 'Write Firmware Block at address' \
	power_loss_on_write=1

# A driver whose reset leaves the module alone (bnxt's ignores
# ETH_RESET_PHY): only Get Firmware Info can prove the commit then.
new_port
set_knobs driver_ignores_reset=1
run_flash v2.bin
if [ "$rc" -eq 0 ] && grep -q 'status=COMPLETED' <<<"$out" &&
	grep -q 'the driver does not reset the module' <<<"$out" && new_runs; then
	ktap_test_pass "better: driver ignoring the module reset: commit proven by 0100h, said"
else
	fail_with "driver ignoring the module reset, 0100h" "$out" "(exit $rc)" \
		"$(sed 's/^/banks: /' "$dir/banks")"
fi
del_port
# Without Get Firmware Info nothing proves the commit: an error that says
# so, while the new image runs, committed (what the message tells).
new_port
set_knobs driver_ignores_reset=1 fail_command=0x0100 fail_count=20 fail_code=0x01
run_flash v2.bin
if [ "$rc" -eq 1 ] && grep -Eq 'status=ERROR .*msg=.*commit cannot be proven' <<<"$out" &&
	new_runs; then
	ktap_test_pass "better: driver ignoring the module reset, no 0100h: unproven commit told"
else
	fail_with "driver ignoring the module reset, no 0100h" "$out" "(exit $rc)" \
		"$(sed 's/^/banks: /' "$dir/banks")"
fi
del_port

# Unplugged in the middle of the download.
unplugged_mid_flash() {
	slow_port
	fw_client_bg flash "$port" v2.bin >"$fw_dir/unplug.out" 2>&1
	local pid=$! ok=0
	wait_download || ok=1
	echo 0 >"$dir/plugged"
	wait $pid
	local crc=$?
	echo 1 >"$dir/plugged"
	# The driver's reason reaches the requester (the work item passes
	# the driver an extended ack of its own).
	[ $crc -eq 1 ] && grep -q 'status=ERROR .*(the driver: cmis_emu: no module in the cage)' "$fw_dir/unplug.out" &&
		old_runs || ok=1
	[ $ok -eq 0 ] || { cat "$fw_dir/unplug.out"; cat "$dir/banks"; }
	del_port
	return $ok
}
check "module unplugged mid-flash: error with the driver's reason, old image runs after replug" unplugged_mid_flash

client_flash_to() {
	fw_client flash "$1" v2.bin >"$2" 2>&1
}
check "8 ports flashed in parallel" parallel_flash 8 client_flash_to

# Notifications: STARTED, increasing IN_PROGRESS at most every 1%, the
# last at 100% (then the phases after the download, with messages),
# exactly one terminal COMPLETED.
progress() {
	new_port
	set_knobs write_mechanism=0x01
	run_flash big.bin
	del_port
	awk -v rc="$rc" '
		NR == 1 && $1 != "status=STARTED" { bad = "first is not STARTED" }
		# The phases after the download say what happens, at 100%.
		$1 == "status=IN_PROGRESS" && !/ msg=/ {
			split($2, d, "="); split($3, t, "=")
			if (d[2] + 0 <= last) bad = "progress not increasing"
			last = d[2] + 0; total = t[2] + 0; n++
		}
		$1 == "status=COMPLETED" || $1 == "status=ERROR" { terminal++ }
		END {
			if (rc != 0) bad = "exit " rc
			if (n < 2 || n > 101) bad = n " progress notifications"
			if (last != total) bad = "last progress " last " of " total
			if (terminal != 1) bad = terminal " terminal notifications"
			if (bad) { print bad; exit 1 }
		}' <<<"$out" || { echo "$out"; return 1; }
}
check "progress: STARTED, at most 101 increasing steps ending at 100%, one COMPLETED" progress

monitor() {
	new_port
	fw_client_bg monitor --count 1 --timeout 60 >"$fw_dir/mon.out" 2>&1
	local mpid=$! ok=0
	# It prints "monitoring" once subscribed.
	wait_file "$fw_dir/mon.out" '^monitoring' || ok=1
	run_flash v2.bin
	wait $mpid || ok=1
	# One COMPLETED: the monitor settles after it (a second would show).
	grep -q "^$port status=STARTED" "$fw_dir/mon.out" &&
		[ "$(grep -cE "^$port status=(COMPLETED|ERROR)" "$fw_dir/mon.out")" -eq 1 ] &&
		grep -q "^$port status=COMPLETED" "$fw_dir/mon.out" || ok=1
	[ $ok -eq 0 ] || cat "$fw_dir/mon.out"
	del_port
	return $ok
}
check "the monitor group sees the flash" monitor

# The driver's ethtool begin/complete frame the request, as the ethtool
# core's own requests; a failing begin refuses it and leaves nothing set.
ethtool_begin_complete() {
	new_port
	local ok=0 c begins completes
	echo 1 >"$dir/ethtool_begin_fails"
	rejected 'EBUSY: The driver refused module access \(ethtool begin\)' "$port" v2.bin || ok=1
	echo 0 >"$dir/ethtool_begin_fails"
	run_flash v2.bin
	[ "$rc" -eq 0 ] && new_runs || { echo "$out"; cat "$dir/banks"; ok=1; }
	c=$(cat "$dir/counters")
	begins=$(sed -n 's/^ethtool_begins: //p' <<<"$c")
	completes=$(sed -n 's/^ethtool_completes: //p' <<<"$c")
	[ "$begins" -ge 1 ] && [ "$begins" = "$completes" ] || { echo "$c"; ok=1; }
	del_port
	return $ok
}

# Without CAP_NET_ADMIN: no flash, no monitoring.
unprivileged() {
	new_port
	local ok=0 as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups) tmp
	# The test tree may lie where nobody cannot read it.
	tmp=$(mktemp -d)
	cp "$lib_dir/cmis_fw_client.py" "$tmp/"
	chmod -R a+rX "$tmp"
	out=$("${as_nobody[@]}" python3 "$tmp/cmis_fw_client.py" monitor --timeout 1 2>&1)
	[ $? -eq 2 ] && grep -q 'Operation not permitted' <<<"$out" || { echo "monitor: $out"; ok=1; }
	out=$("${as_nobody[@]}" python3 "$tmp/cmis_fw_client.py" flash "$port" v2.bin 2>&1)
	[ $? -eq 2 ] && grep -q 'EPERM' <<<"$out" || { echo "flash: $out"; ok=1; }
	# Root of a user namespace that does not own the device's network
	# namespace (CAP_NET_ADMIN only over its own): refused; with a
	# network namespace of its own, it does not see the device at all.
	if unshare -Ur true 2>/dev/null; then
		out=$(unshare -Ur python3 "$tmp/cmis_fw_client.py" flash "$port" v2.bin 2>&1)
		[ $? -eq 2 ] && grep -q 'EPERM' <<<"$out" || { echo "user ns: $out"; ok=1; }
		out=$(unshare -Urn python3 "$tmp/cmis_fw_client.py" flash "$port" v2.bin 2>&1)
		[ $? -eq 2 ] && grep -q 'ENODEV' <<<"$out" || { echo "user+net ns: $out"; ok=1; }
	else
		ktap_print_msg "no user namespaces in this kernel: that part not run"
	fi
	old_runs || { cat "$dir/banks"; ok=1; }
	rm -rf "$tmp"
	del_port
	return $ok
}
check "unprivileged, or root of a user namespace not owning the device's: flash and monitor refused (EPERM)" unprivileged

# Request validation.
refused() {
	local pattern=$1
	shift
	run_flash "$@"
	[ "$rc" -eq 2 ] && grep -Eq -- "$pattern" <<<"$out" || { echo "$out"; return 1; }
}

busy() {
	slow_port
	# 1.5 s a block, about 50 s in all: the checks below run during the
	# flash however slow the machine is; then the blocks speed up.
	set_knobs busy_us_write=1500000 max_duration_write=3000
	fw_client_bg flash "$port" v2.bin >"$fw_dir/busy.out" 2>&1
	local pid=$! ok=0
	wait_download || ok=1
	# The ethtool core's own vetoes apply.
	ip link set "$port" up 2>"$fw_dir/up.out" && { echo "link went up"; ok=1; }
	grep -q "Can't set port up while flashing" "$fw_dir/up.out" || { cat "$fw_dir/up.out"; ok=1; }
	ethtool -m "$port" >"$fw_dir/m.out" 2>&1 && { echo "ethtool -m worked"; ok=1; }
	grep -q 'flashing is in progress' "$fw_dir/m.out" || { head -n 3 "$fw_dir/m.out"; ok=1; }
	refused 'EBUSY: Module firmware flashing already in progress' v2.bin || ok=1
	grep -q '^download: bank=' "$dir/banks" || { echo "the flash ended before the checks"; ok=1; }
	set_knobs busy_us_write=1000
	wait $pid || ok=1
	ethtool -m "$port" >/dev/null || ok=1
	del_port
	return $ok
}
check "flashing: second request EBUSY, ethtool -m and link up vetoed" busy

validation() {
	new_port
	local ok=0
	ip link set "$port" up
	refused 'EBUSY: Netdevice is up, so flashing is not permitted' v2.bin || ok=1
	ip link set "$port" down
	refused 'Failed to request module firmware image' missing.bin || ok=1
	echo 0x11 >"$dir/identifier"
	refused 'EOPNOTSUPP: Module type does not support firmware flashing' v2.bin || ok=1
	out=$(fw_client flash nosuchdev v2.bin 2>&1)
	[ $? -eq 2 ] && grep -q 'ENODEV' <<<"$out" || { echo "$out"; ok=1; }
	del_port
	return $ok
}
check "refused: device up, missing file, not CMIS, no such device" validation

# rejected PATTERN CLIENT-ARGS...: the request is refused with an extack
# matching PATTERN (the client appends the attribute the extack names).
rejected() {
	local pattern=$1
	shift
	out=$(fw_client flash "$@" 2>&1)
	[ $? -eq 2 ] && grep -Eq -- "$pattern" <<<"$out" || { echo "$* -> $out"; return 1; }
}

malformed() {
	new_port
	local ok=0
	rejected 'EINVAL: request header missing \[missing attribute 1\]' "$port" v2.bin --no-header || ok=1
	rejected 'EINVAL: firmware file name missing \[missing attribute 2\]' "$port" v2.bin --no-file || ok=1
	rejected 'EINVAL: device not specified \[bad attribute' - v2.bin || ok=1
	rejected 'ENODEV: ifindex and name do not match \[bad attribute' "$port" v2.bin --index 1 || ok=1
	# Header flags other than ethtool's basic ones (the policy's message).
	rejected 'EINVAL: reserved bit set \[bad attribute' "$port" v2.bin --flags 0x4 || ok=1
	# Names that leave the firmware directories, whatever the loader does.
	local name
	for name in ../v2.bin /lib/firmware/v2.bin a/../../v2.bin ..; do
		rejected "EINVAL: firmware file name must be relative, without '..' \\[bad attribute" \
			"$port" "$name" || ok=1
	done
	# Attributes the policy does not know: type 0, above the last one, in
	# the header too; the notification attributes (4-8) are the kernel's
	# to send, below the request-only one (9: until).
	rejected 'EINVAL: Unknown attribute type \[bad attribute' "$port" v2.bin --attr 0:00000000 || ok=1
	rejected 'EINVAL: Unsupported attribute \[bad attribute' "$port" v2.bin --attr 4:01000000 || ok=1
	rejected 'EINVAL: Unsupported attribute \[bad attribute' "$port" v2.bin --attr 8:01000000 || ok=1
	rejected 'EINVAL: Unsupported attribute \[bad attribute' "$port" v2.bin --attr 12:01000000 || ok=1
	# 16-30 and 37-45: the replies' (inventory, CDB RPC); 46: past the last.
	rejected 'EINVAL: Unsupported attribute \[bad attribute' "$port" v2.bin --attr 16:00000000 || ok=1
	rejected 'EINVAL: Unsupported attribute \[bad attribute' "$port" v2.bin --attr 37:01000000 || ok=1
	rejected 'EINVAL: Unknown attribute type \[bad attribute' "$port" v2.bin --attr 46:00000000 || ok=1
	rejected 'EINVAL: version must be MAJOR.MINOR or MAJOR.MINOR.BUILD \[bad attribute' \
		"$port" v2.bin --attr 10:322e7800 || ok=1
	rejected 'EINVAL: Unknown attribute type \[bad attribute' "$port" v2.bin --attr 60:00000000 || ok=1
	# How far to go: a value no job knows.
	rejected 'EINVAL: this request cannot stop there \[bad attribute' "$port" v2.bin \
		--attr 9:07000000 || ok=1
	rejected 'EINVAL: Unknown attribute type \[bad attribute' "$port" v2.bin --header-attr 9:00000000 || ok=1
	# Strings longer than the policy allows: a 256-byte file name, a
	# 128-byte device name; a name without its NUL.
	rejected 'EINVAL: Attribute failed policy validation \[bad attribute' \
		"$port" "$(printf 'a%.0s' $(seq 256))" || ok=1
	rejected 'EINVAL: Attribute failed policy validation \[bad attribute' \
		- v2.bin --header-attr "2:$(printf '61%.0s' $(seq 128))00" || ok=1
	rejected 'EINVAL: Attribute failed policy validation \[bad attribute' \
		"$port" v2.bin --no-file --attr 2:763262696e || ok=1
	# A password of the wrong size.
	rejected 'EINVAL: .*\[bad attribute' "$port" v2.bin --attr 3:0102 || ok=1
	# Images the module cannot take: empty, and larger than any bank
	# (the loader's limit aside): refused or failed with a message, the
	# module untouched.
	: >"$fw_dir/empty.bin"
	head -c $((17 << 20)) /dev/zero >"$fw_dir/huge.bin"
	for name in empty.bin huge.bin; do
		out=$(fw_client flash "$port" "$name" 2>&1)
		case $? in
		1 | 2) grep -Eq 'error: E[A-Z]+: .+|status=ERROR .*msg=.+' <<<"$out" ||
			{ echo "$name -> $out"; ok=1; } ;;
		*) echo "$name -> $out"; ok=1 ;;
		esac
		old_runs || { echo "$name:"; cat "$dir/banks"; ok=1; }
	done
	rm -f "$fw_dir/empty.bin" "$fw_dir/huge.bin"
	# The driver's own reason reaches the requester.
	echo 0 >"$dir/plugged"
	rejected 'ENODEV: cmis_emu: no module in the cage' "$port" v2.bin || ok=1
	echo 1 >"$dir/plugged"
	# ethtool's flags are accepted; nothing was left in progress.
	out=$(fw_client flash "$port" v2.bin --flags 0x3 2>&1) || { echo "$out"; ok=1; }
	new_runs || { cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
# A requester that starts again the moment COMPLETED arrives finds the
# device free: the flag is cleared before the notification goes out.
again_at_once() {
	new_port
	local ok=0
	out=$(fw_client flash "$port" v2.bin --repeat 5 2>&1) || { echo "$out"; ok=1; }
	[ "$(grep -c '^status=COMPLETED' <<<"$out")" -eq 5 ] || { echo "$out"; ok=1; }
	del_port
	return $ok
}
check "flash again at once after COMPLETED, 5 times: never busy" again_at_once

# The same, made certain: the flash's end frees the device (the
# in-progress flag, cleared under RTNL) before it sends COMPLETED. Another
# port's slow ethtool begin holds RTNL while the flash ends; once the
# flash's worker waits for RTNL, the requester makes a round trip to the
# genetlink controller: no COMPLETED may come before its answer (it would
# have been sent with the device still flagged), and it comes once RTNL
# is free.
flash_worker_waits_lock() {
	local p comm wchan
	for p in /proc/[0-9]*; do
		read -r comm <"$p/comm" || continue
		[[ $comm == *+cmis_fw ]] || continue
		# Blocked in the work item's own function (its one lock, RTNL:
		# mutexes and rtnl_lock's tail call leave no frame of their own),
		# not in the update it calls (whose sleeps show there).
		read -r wchan <"$p/wchan"
		[[ $wchan == *WorkItem3run ]] && return 0
	done 2>/dev/null
	return 1
}

completed_once_free() {
	local holder holder_dir pid eth ok=0 out=$fw_dir/free.out
	new_port
	holder=$port holder_dir=$dir
	set_knobs driver_begin_ms=20000
	new_port
	# Commit held 6 s: time to take RTNL before the flash ends.
	set_knobs busy_us_commit=6000000 max_completion_ms=15000
	fw_client_bg flash "$port" v2.bin --probe-on-signal >"$out" 2>&1
	pid=$!
	wait_file "$dir/counters" '^command_010a: 1$' 120 || { cat "$out"; ok=1; }
	ethtool -i "$holder" >/dev/null 2>&1 &
	eth=$!
	# In the holder's begin, under RTNL.
	wait_file "$holder_dir/counters" '^ethtool_begins: [1-9]' 30 || ok=1
	# The flash's work done, its worker waiting for RTNL.
	wait_file "$dir/banks" 'version=2\.0\.7 .*running committed$' 60 || ok=1
	wait_for 30 flash_worker_waits_lock || { echo "the flash's worker never waited for RTNL"; ok=1; }
	kill -USR1 "$pid"
	wait_file "$out" '^probe answered$' 30 || ok=1
	wait "$eth" || { echo "ethtool -i $holder failed"; ok=1; }
	wait "$pid" || ok=1
	# The probe's answer first, then the one COMPLETED.
	[ "$(grep -oE '^(probe answered$|status=(COMPLETED|ERROR))' "$out" | tr '\n' ' ')" = \
		"probe answered status=COMPLETED " ] || { cat "$out"; ok=1; }
	del_port
	dir=$holder_dir
	del_port
	return $ok
}
check "COMPLETED only once the device is free (RTNL held as the flash ends)" completed_once_free

check "malformed requests: extack names the attribute; unknown attributes, over-long strings, '..', absolute names, bad flags, empty and huge images refused; driver's reason kept" malformed
check "ethtool begin/complete frame the request; a failing begin refuses it" ethtool_begin_complete

# A device its driver has detached (not present) is refused, as the
# ethtool core refuses it, and flashes once attached again.
not_present() {
	new_port
	local ok=0 out index=${dir##*port}
	echo "$index" >"$EMU_DEBUGFS/detach_port"
	rejected '^error: ENODEV: Netdevice is not present or going away$' "$port" v2.bin || ok=1
	echo "$index" >"$EMU_DEBUGFS/attach_port"
	out=$(fw_client flash "$port" v2.bin 2>&1) && grep -q '^status=COMPLETED' <<<"$out" ||
		{ echo "attached: $out"; ok=1; }
	del_port
	return $ok
}
check "a device not present (detached by its driver): refused (ENODEV), flashes once attached" not_present

# A port split from a wider one (its devlink port says so) is refused, as
# the ethtool core refuses it: the module is the whole cage's. The
# emulator's split ports need devlink (the stock kernel has it, the test
# kernels do not).
split_port_refused() {
	rejected "^error: EOPNOTSUPP: Can't perform firmware flashing on a split port$" "$1" v2.bin
}
check_split_ports "a port split from a wider one: refused (EOPNOTSUPP)" split_port_refused

# The port's parent device (the emulator's faux device, a real port's PCI
# function) is kept runtime-resumed for the whole flash, as the ethtool
# core keeps it for each of its requests, and let go after (its driver
# has no power callbacks: it suspends as soon as nobody holds it). The
# emulator's parent_pm file shows it ("none" without CONFIG_PM: the test
# kernels).
parent_pm() {
	grep -Eqx "$1" "$EMU_DEBUGFS/parent_pm"
}

runtime_pm() {
	slow_port
	local ok=0 pid
	wait_for 30 parent_pm 'usage=0 suspended' || { echo "before: $(cat "$EMU_DEBUGFS/parent_pm")"; ok=1; }
	fw_client_bg flash "$port" v2.bin >"$fw_dir/pm.out" 2>&1
	pid=$!
	wait_download || ok=1
	parent_pm 'usage=[1-9][0-9]* active' || { echo "mid-flash: $(cat "$EMU_DEBUGFS/parent_pm")"; ok=1; }
	wait "$pid" || { cat "$fw_dir/pm.out"; ok=1; }
	wait_for 30 parent_pm 'usage=0 suspended' || { echo "after: $(cat "$EMU_DEBUGFS/parent_pm")"; ok=1; }
	del_port
	return $ok
}
if ! parent_pm none; then
	check "the port's parent device kept runtime-resumed for the flash, let go after" runtime_pm
else
	ktap_test_skip "runtime PM: the kernel has none (CONFIG_PM)"
fi

requester_gone() {
	slow_port
	fw_client_bg flash "$port" v2.bin >/dev/null 2>&1
	local pid=$! ok=0
	wait_download
	kill $pid
	wait $pid 2>/dev/null
	wait_for 30 new_runs || { cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "requester killed: the flash completes silently" requester_gone

# The requester's port, bound again by another socket once the requester
# closed, hears nothing of the flash.
port_rebound() {
	slow_port
	local ok=0
	out=$(fw_client handover "$port" v2.bin 2>&1) || ok=1
	grep -q 'ended=True stolen=0' <<<"$out" || ok=1
	[ $ok -eq 0 ] || echo "$out"
	new_runs || { cat "$dir/banks"; ok=1; }
	del_port
	return $ok
}
check "requester closed, its port rebound: no notification reaches the new socket" port_rebound

# unregistered_within MS PID OUT: removes the port while the client PID
# flashes it (output in OUT): unregistration returns within MS ms and the
# requester gets ERROR "device unregistered".
unregistered_within() {
	local limit=$1 pid=$2 out=$3 t0 t1 ok=0
	t0=$(date +%s%N)
	del_port
	t1=$(date +%s%N)
	wait "$pid"
	[ $(((t1 - t0) / 1000000)) -lt "$limit" ] || { echo "del_port took $(((t1 - t0) / 1000000)) ms"; ok=1; }
	grep -q 'status=ERROR .*unregistered' "$out" || { cat "$out"; ok=1; }
	return $ok
}

unregister() {
	slow_port
	fw_client_bg flash "$port" v2.bin >"$fw_dir/unreg.out" 2>&1
	local pid=$! ok=0
	wait_download || ok=1
	unregistered_within 5000 $pid "$fw_dir/unreg.out" || ok=1
	return $ok
}
check "device unregistered mid-flash: stops promptly, ERROR" unregister

# The same while the flasher waits out a block the module says takes 20 s
# (the learnt first poll of the second block): the wait is cut short. The
# flasher looks every 20 ms; the bound is the unregistration's whole
# time, seconds on the sanitizer kernel under TCG, far below the 20 s.
unregister_in_long_wait() {
	new_port
	set_knobs write_mechanism=0x01 busy_us_write=20000000 max_duration_write=30000
	fw_client_bg flash "$port" v2.bin >"$fw_dir/unreg2.out" 2>&1
	local pid=$! ok=0
	# The second block written: the flasher now sleeps toward its end.
	wait_file "$dir/counters" '^command_0103: 2$' 120 || { cat "$dir/counters"; ok=1; }
	unregistered_within 5000 $pid "$fw_dir/unreg2.out" || ok=1
	return $ok
}
check "device unregistered in a 20 s wait for the module: stops within 5 s" unregister_in_long_wait

# The start window: the request sets the in-progress flag, loads the
# image and reads the module's identifier, and only then registers the
# flash. A device unregistered in that window must refuse the request
# ("being unregistered"): no flash may start on a device whose
# unregistration notice has passed (it would run to its end unseen, the
# unregistration waiting for it). The module NACKs for 900 ms from just
# before the request (the client sets it), which holds the identifier
# read, retried for up to 1 s, in the window; the port is removed as soon
# as a NACK is counted. An attempt whose removal came after the window
# (the flash started and was stopped) is made again, 3 times at most.
nacked() {
	local counters
	IFS= read -r -d '' counters <"$dir/counters"
	[[ $counters =~ (^|$'\n')nacks:\ [1-9] ]]
}

unregister_in_start_window() {
	local attempt pid out=$fw_dir/window.out end
	for attempt in 1 2 3; do
		new_port
		fw_client_bg flash "$port" v2.bin --write-first "$dir/nack_ms=900" >"$out" 2>&1
		pid=$!
		# A poll starts no process: the window is short.
		end=$((SECONDS + 60))
		until nacked; do
			[ $SECONDS -lt $end ] || { echo "no NACK counted"; cat "$dir/counters"; break; }
		done
		del_port
		wait "$pid"
		grep -q '^error: ENODEV: Netdevice is being unregistered$' "$out" && return 0
		grep -q 'status=ERROR .*unregistered' "$out" || { cat "$out"; return 1; }
		echo "# attempt $attempt: the port went after the window: $(tail -n1 "$out")"
	done
	return 1
}
check "device unregistered before its flash starts: the request refused, no flash on it" unregister_in_start_window

# Moving the device to another namespace sends it NETDEV_UNREGISTER but
# does not take it away: the flash goes on and completes.
netns_move() {
	slow_port
	local ok=0 holder pid
	netns_holder || return 1
	fw_client_bg flash "$port" v2.bin >"$fw_dir/ns.out" 2>&1
	pid=$!
	wait_download || ok=1
	ip link set "$port" netns "$holder" || ok=1
	wait $pid || ok=1
	grep -q '^status=COMPLETED' "$fw_dir/ns.out" || { cat "$fw_dir/ns.out"; ok=1; }
	new_runs || { cat "$dir/banks"; ok=1; }
	nsenter -t "$holder" -n ip link set "$port" netns 1 || ok=1
	kill "$holder"
	wait "$holder" 2>/dev/null
	del_port
	return $ok
}
check "device moved to another namespace mid-flash: the flash completes" netns_move

# port_here: the current port is in our namespace.
port_here() {
	ip link show dev "$port" >/dev/null 2>&1
}

# No namespace reference is kept: a flash asked from another namespace,
# of a device moved there (the requester's namespace is held for the
# notifications, the device's for the flash), and then that namespace's
# last process gone. The kernel dismantles a namespace only once its last
# reference goes, and then moves its physical devices back to the
# initial one: a reference kept would leave the port there for good (no
# tracker would tell: the namespace is never freed).
netns_released() {
	new_port
	local ok=0 holder out
	netns_holder || return 1
	ip link set "$port" netns "$holder" || ok=1
	out=$(nsenter -t "$holder" -n python3 "$lib_dir/cmis_fw_client.py" flash "$port" v2.bin 2>&1)
	grep -q '^status=COMPLETED' <<<"$out" || { echo "$out"; ok=1; }
	new_runs || { cat "$dir/banks"; ok=1; }
	port_here && { echo "the port never left"; ok=1; }
	kill "$holder"
	wait "$holder" 2>/dev/null
	wait_for 60 port_here || { echo "the namespace was not dismantled in 60 s: a reference is kept"; ok=1; }
	del_port
	return $ok
}
check "a flash from another namespace keeps no reference: the namespace goes, the port comes back" netns_released

unload() {
	local i pids=() dirs=() ok=0
	for i in 1 2; do
		slow_port
		set_knobs busy_us_write=500000
		dirs+=("$dir")
		fw_client_bg flash "$port" v2.bin >"$fw_dir/rm$i.out" 2>&1
		pids+=($!)
	done
	for i in 0 1; do
		wait_download "${dirs[$i]}" || ok=1
	done
	rmmod cmis_fw || ok=1
	for i in 0 1; do
		wait "${pids[$i]}"
		grep -q 'status=ERROR .*cancelled.*download aborted' "$fw_dir/rm$((i + 1)).out" ||
			{ cat "$fw_dir/rm$((i + 1)).out"; ok=1; }
		grep -q '^A: valid version=1\.0\.0 .*running committed$' "${dirs[$i]}/banks" ||
			{ cat "${dirs[$i]}/banks"; ok=1; }
		echo "${dirs[$i]##*port}" >"$EMU_DEBUGFS/del_port"
	done
	insmod_cmis_fw || ok=1
	return $ok
}
check "rmmod cmis_fw mid-flash: flashes cancelled and aborted, reload works" unload

ktap_finished
