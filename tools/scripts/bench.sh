#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the side-by-side flashing benchmark (Documentation/benchmark.rst).
#
# Builds (or reuses) the benchmark kernel, the test kernel without its
# debugging aids (config-bench), and the modules for it; boots it once
# under TCG and runs tools/cmis-bench there: the kernel's C flasher through
# ethtool against cmis_fw through cmis-fw, alternately, on instant,
# realistic EPL and realistic LPL-only emulated modules, then cmis_fw on 64
# ports at once. Prints the table of medians; the last line is
# "bench: instant_speedup=X ... cpu_share=X". The JSON with every run is
# copied to out/bench.json.
#
# CMIS_BENCH_ARGS passes options to cmis-bench, e.g.
# "--runs 1 --sizes-kib 1024 --parallel 8" for a quick look.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

"$here/setup.sh"
# The 7.3 test kernel's bench variant, and the modules built for it.
export CMIS_KERNEL=7.3 CMIS_FW_KERNEL_VARIANT=bench
"$here/build-kernel.sh" --variant bench >/dev/null
"$here/build-modules.sh" >/dev/null
VM_TIMEOUT=${VM_TIMEOUT:-7200} "$here/vm-test.sh" bench
cp "$top/out/vm-bench-7.3-bench/bench/bench.json" "$top/out/bench.json"
