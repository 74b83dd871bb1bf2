#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark tool (tools/cmis-bench, behind make bench) works: one 1 MiB
# flash of an instant module with each flasher, then two ports at once,
# and results of the right shape. How fast anything is, is for make bench
# to measure on its own kernel; nothing here is timed.

source "$(dirname "$(readlink -f "$0")")/cmis_lib.sh"

require_module cmis_emu
require_module cmis_fw
require_ethtool_flash
require_image_tool

require_tool bench cmis-bench

ktap_print_header
ktap_set_plan 4

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# What it prints goes to files, its progress shown if it fails. (Not
# "$out": check() has a local of that name, which bash would see here.)
run_bench() {
	"$bench" --bin-dir "$CMIS_FW_BIN_DIR" --out "$results" --runs 1 --sizes-kib 1024 \
		--modules instant --parallel 2 --parallel-module instant \
		>"$results/stdout" 2>"$results/stderr" || { cat "$results/stderr"; return 1; }
}
check "cmis-bench flashes with both flashers and in parallel" run_bench

check_output "the last line is the summary, with the figures this run has" \
	'^bench: instant_speedup=[0-9]+\.[0-9]{2} realistic_limit_ratio=n/a realistic_speedup=n/a lpl_limit_ratio=n/a parallel64_ratio=[0-9]+\.[0-9]{3} cpu_share=n/a$' \
	tail -n 1 "$results/stdout"

table_rows() {
	grep -Eq 'instant +1 MiB +C \(ethtool\) ' "$1" &&
		grep -Eq 'instant +1 MiB +cmis_fw .*x faster' "$1" &&
		grep -Eq 'parallel-2 +1 MiB +cmis_fw ' "$1"
}
check "the table has a row per flasher and the parallel run" table_rows "$results/stdout"

# shellcheck disable=SC2016 # Python, not shell
check "bench.json holds every run with its counters" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
assert [(r["flasher"], r["ports"]) for r in runs] == [("c", 1), ("cmis_fw", 1), ("cmis_fw", 2)], runs
for r in runs:
    assert r["wall_ns"] > 0 and r["commands"] > 0 and r["writes"] > 0, r
    assert r["limit_ns"] == 0, r
assert d["cmis_fw_state_bytes_per_flash"] <= 16384, d
' "$results/bench.json"

ktap_finished
