#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak: many consecutive flashes of one instant-profile port with the
# cmis-fw tool, alternating two images, then flashes with a fault
# injected into the module (each followed by a recovery and a clean
# flash), and nothing may pile up: every outcome is the expected one, the
# kernel's slab objects stay flat (measured with the caches shrunk,
# KASAN's quarantine included), and the port's removal finds no
# reference left (the runner fails on the reference trackers' report and
# on kmemleak's). CMIS_FW_SOAK="FLASHES FAULTED" sets the counts: 40 and
# 11 (each fault once) in make test, "1000 200" in make soak.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_image_tool
require_tool cmis_fw cmis-fw

read -r flashes faulted <<<"${CMIS_FW_SOAK:-40 11}"

ktap_print_header
ktap_set_plan 4

use_firmware_dir
make_image a.bin --version 2.0.7 --text soak-a --size 8000 --seed 11
make_image b.bin --version 3.1.2 --text soak-b --size 8000 --seed 12

# purge_lazy_vmalloc: unmaps the vmalloc areas freed lazily. The
# firmware loader vmallocs each image; a freed area keeps its vmap_area
# (and, on a debug kernel, its kmemleak and debug objects) until a purge,
# which comes only once tens of MiB wait: a thousand flashes never get
# there. Loading a module purges them (its set_memory_ro calls
# vm_unmap_aliases): a spare module of the kernel's is loaded, with no
# device, and unloaded.
purge_lazy_vmalloc() {
	local m=${CMIS_FW_SPARE_MODULE:-}
	[ -r "$m" ] || return 1
	m=$(basename "$m")
	insmod "$CMIS_FW_SPARE_MODULE" numdummies=0 2>/dev/null && rmmod "${m%%.*}"
}

# Unreclaimable slab, in KiB, with the lazily freed vmalloc areas purged
# and every cache's empty slabs given back: shrinking a cache
# (kmem_cache_shrink) first frees its objects held in KASAN's
# quarantine, which would otherwise count as allocated (up to 1/32 of
# memory).
slab_kib() {
	local cache
	$purge && { purge_lazy_vmalloc || echo "# the spare module did not load and unload" >&2; }
	for cache in /sys/kernel/slab/*/shrink; do
		echo 1 >"$cache"
	done 2>/dev/null
	sed -n 's/^SUnreclaim: *\([0-9]*\) kB$/\1/p' /proc/meminfo
}

# vmalloc in use, in KiB (the firmware loader vmallocs each image).
vmalloc_kib() {
	sed -n 's/^VmallocUsed: *\([0-9]*\) kB$/\1/p' /proc/meminfo
}

# Each cache's bytes in use, by name: which caches grew, if slab did
# (nothing where SLUB_TINY leaves /proc/slabinfo out).
slab_caches() {
	[ -r /proc/slabinfo ] || return 0
	awk 'NR > 2 { print $1, $2 * $4 }' /proc/slabinfo | LC_ALL=C sort
}

# runs VERSION: the module runs VERSION, committed.
runs() {
	grep -Eq "^[AB]: valid version=${1//./\\.} .*running committed$" "$dir/banks"
}

# runs_valid: the module runs a valid image.
runs_valid() {
	grep -Eq '^[AB]: valid .*running' "$dir/banks"
}

# wait_up: waits (30 s at most) until the module answers and no command
# runs.
wait_up() {
	wait_state '^(ready|lowpwr)$'
}

out=
# flash_other: flashes the image the module does not run (checks call
# their functions in subshells: the module's banks are the state);
# sets $out, $rc and $want, the version it should run after.
flash_other() {
	local image=a.bin
	want=2.0.7
	if runs 2.0.7; then
		image=b.bin
		want=3.1.2
	fi
	out=$("$cmis_fw" flash "$port" "$image" 2>&1)
	rc=$?
}

# flash_clean: flash_other must complete with the new image running.
flash_clean() {
	flash_other
	[ "$rc" -eq 0 ] && runs "$want" || {
		echo "# flash of $want: exit $rc: $out"
		sed 's/^/# banks: /' "$dir/banks"
		return 1
	}
}

new_port

purge=false
if purge_lazy_vmalloc; then
	purge=true
else
	ktap_print_msg "no spare module to load (${CMIS_FW_SPARE_MODULE:-none}): lazily freed vmalloc areas count in the slab figures"
fi

# Warm-up: the first flashes allocate what later ones reuse.
for i in $(seq 5); do flash_clean || break; done
slab_before=$(slab_kib)
caches_before=$(slab_caches)
vmalloc_before=$(vmalloc_kib)

consecutive() {
	local i
	for i in $(seq "$flashes"); do
		flash_clean || { echo "# flash $i of $flashes"; return 1; }
	done
}
check "$flashes consecutive flashes, each with the new image running" consecutive

# Each fault: knobs to set, the outcome it must have (ok, fail or any),
# and what brings the module back afterwards (none, reset or plug).
faults=(
	"fail_count=1 fail_command=0x0101 fail_code=0x45|fail|none"
	"fail_count=1 fail_command=0x0107 fail_code=0x46|fail|none"
	"nack_ms=300|ok|none"
	"hang_next=1 hang_command=0x0101|fail|reset"
	"power_loss_on_write=1|fail|none"
	"glitch_reply_chk=1|ok|none"
	"trigger_nacks=1|ok|none"
	"slow_ready_ms=1500|ok|none"
	"fault_on_reset=3|fail|reset"
	"corrupt_reply_chk=1|any|none"
	"plugged=0|fail|plug"
)

with_faults() {
	local i f knobs expect recover
	for i in $(seq 0 $((faulted - 1))); do
		f=${faults[$((i % ${#faults[@]}))]}
		IFS='|' read -r knobs expect recover <<<"$f"
		# shellcheck disable=SC2086 # one knob a word
		set_knobs $knobs || { echo "# cannot set $knobs"; return 1; }
		flash_other
		case "$expect/$rc" in
		fail/0 | ok/[1-9]*)
			echo "# $knobs: exit $rc, expected $expect: $out"
			return 1
			;;
		esac
		case "$recover" in
		reset) echo 1 >"$dir/reset" ;;
		plug) echo 1 >"$dir/plugged" ;;
		esac
		if ! wait_up || ! runs_valid; then
			echo "# $knobs: module not back with a valid image: $(cat "$dir/state")"
			sed 's/^/# banks: /' "$dir/banks"
			return 1
		fi
		# The port is usable: a clean flash completes.
		flash_clean || { echo "# after $knobs"; return 1; }
	done
}
check "$faulted flashes with a fault injected, each leaving a valid image and a usable port" with_faults

slab_after=$(slab_kib)
caches_after=$(slab_caches)
vmalloc_after=$(vmalloc_kib)
# A leak of half a KiB a flash shows over a thousand flashes; below 1 MiB
# the figure is noise (per-CPU slabs, the tests' own processes: 72 to
# 236 KiB over 62 flashes here).
total=$((flashes + 2 * faulted))
ktap_print_msg "unreclaimable slab: $slab_before KiB before, $slab_after KiB after $total flashes; vmalloc used: $vmalloc_before KiB, $vmalloc_after KiB"
# The caches that grew most, in bytes, shown whatever the outcome: the
# figures say what a long soak on a debug kernel accumulates.
if [ -n "$caches_after" ]; then
	ktap_print_msg "the caches that grew most (bytes of live objects):"
	LC_ALL=C join <(echo "$caches_before") <(echo "$caches_after") |
		awk '{ print $3 - $2, $1 }' | sort -rn | head -n 8 |
		while read -r line; do ktap_print_msg "  $line"; done
fi
# What is judged: the bytes of live slab objects, where /proc/slabinfo
# shows them; else the unreclaimable slab pages. Pages also count partly
# used slabs, which a long run on a debug kernel fragments: on the
# sanitizer kernel 748 KiB of pages against 145 KiB of live objects over
# 122 flashes, most of those the debug-objects pool filling up to its
# bound. So pages are shown, and judged only where objects cannot be.
sum_kib() {
	awk '{ sum += $2 } END { print int(sum / 1024) }'
}
if [ -n "$caches_after" ]; then
	measure="live slab objects"
	before=$(sum_kib <<<"$caches_before")
	after=$(sum_kib <<<"$caches_after")
else
	measure="unreclaimable slab"
	before=$slab_before after=$slab_after
fi
ktap_print_msg "$measure: $before KiB before, $after KiB after"
slab_flat() {
	local grew=$((after - before))
	[ "$grew" -lt 1024 ] || [ $((grew * 1024 / total)) -lt 512 ] || {
		echo "# grew by $grew KiB"
		return 1
	}
}
check "slab flat ($measure)" slab_flat

# The runner checks the rest at the end: no reference tracker report at
# unregister, no kmemleak report.
remove() {
	del_port
	[ -z "$(emu_port_by_index "${dir##*port}")" ]
}
check "the port is removed" remove

ktap_finished
