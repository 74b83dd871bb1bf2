#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the side-by-side flashing benchmark (Documentation/benchmark.rst).
#
# Builds (or reuses) the benchmark kernel, the 7.3 test kernel without its
# debugging aids (config-bench + config-bench-7.3: Debian's timers and
# preemption model), and the modules for it; boots it once under TCG and
# runs tools/cmis-bench there: the kernel's C flasher through ethtool
# against cmis_fw through cmis-fw, alternately, on instant, realistic EPL
# and realistic LPL-only emulated modules and the quirk profiles, then
# cmis_fw on 64 ports at once. Prints the table of medians; the last line
# is "bench: instant_speedup=X ... cpu_share=X ...". The JSON with every
# run is copied to out/bench.json.
#
# CMIS_BENCH_ARGS passes options to cmis-bench, e.g.
# "--runs 1 --sizes-kib 1024 --parallel 8" for a quick look.
# CMIS_KERNEL=stock runs it on Debian's unmodified stock kernel instead.
# Under TCG that kernel makes every EEPROM access several times as
# expensive in emulated CPU (mitigations=off changes nothing), for both
# flashers and the emulated module alike, which then weighs on
# the comparison with the physical limit (Documentation/benchmark.rst has
# the figures): hence the bench kernel by default.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

"$here/setup.sh"
kernel=${CMIS_KERNEL:-stock}
case "$kernel" in
stock) export CMIS_KERNEL=stock; unset CMIS_FW_KERNEL_VARIANT ;;
7.3)
	export CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT=bench
	"$here/build-kernel.sh" --variant bench >/dev/null
	;;
*) echo "bench: unknown CMIS_KERNEL=$kernel (stock or 7.3)" >&2; exit 2 ;;
esac
"$here/build-modules.sh" >/dev/null
VM_TIMEOUT=${VM_TIMEOUT:-7200} "$here/vm-test.sh" bench
cp "$top/out/vm-bench-$CMIS_KERNEL${CMIS_FW_KERNEL_VARIANT:+-$CMIS_FW_KERNEL_VARIANT}/bench/bench.json" "$top/out/bench.json"
