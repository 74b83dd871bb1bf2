#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark tool (tools/cmis-bench, behind make bench) works: one 1 MiB
# flash of an instant module with each flasher, one 64 KiB flash of the
# laggy quirk profile with each (cmis_fw must be ok there, the C flasher's
# outcome is only recorded), then two ports at once, and results of the
# right shape. How fast anything is, is for make bench to measure on its
# own kernel; nothing here is timed.

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
		--modules instant,laggy --quirk-sizes-kib 64 --parallel 2 --parallel-module instant \
		>"$results/stdout" 2>"$results/stderr" || { cat "$results/stderr"; return 1; }
}
check "cmis-bench flashes with both flashers, a quirk profile, and in parallel (cmis_fw ok)" \
	run_bench

# The quirk profile's 1 MiB figures are n/a: it was flashed at 64 KiB.
check_output "the last line is the summary, with the figures this run has" \
	'^bench: instant_speedup=[0-9]+\.[0-9]{2} realistic_limit_ratio=n/a realistic_speedup=n/a lpl_limit_ratio=n/a parallel64_ratio=[0-9]+\.[0-9]{3} cpu_share=n/a quirk_limit_ratio_max=n/a quirk_speedup_min=n/a c_quirk_failures=[01] c_false_successes=[01] cmis_fw_failures=0 laggy_limit_ratio=n/a$' \
	tail -n 1 "$results/stdout"

table_rows() {
	grep -Eq '^profile +size +flasher +runs +outcome .* acc/block \(min\) +waits s \(cmd\+reset\+gap\)$' "$1" &&
		grep -Eq 'instant +1 MiB +C \(ethtool\) +1 +1 ok ' "$1" &&
		grep -Eq 'instant +1 MiB +cmis_fw +1 +1 ok .*x faster' "$1" &&
		grep -Eq 'laggy +64 KiB +C \(ethtool\) +1 +[01] ok' "$1" &&
		grep -Eq 'laggy +64 KiB +cmis_fw +1 +1 ok .* [0-9]+\.[0-9]{2} \([0-9]+\.[0-9]{2}\) +[0-9]+\.[0-9]{2} \([0-9.]+\+[0-9.]+\+[0-9.]+\)$' "$1" &&
		grep -Eq 'parallel-2 +1 MiB +cmis_fw +1 +1 ok ' "$1"
}
check "the table has a row per flasher, profile and the parallel run, with outcomes" \
	table_rows "$results/stdout"

# shellcheck disable=SC2016 # Python, not shell
check "bench.json holds every run with its counters" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
assert [(r["profile"], r["flasher"], r["ports"]) for r in runs] == [
    ("instant", "c", 1), ("instant", "cmis_fw", 1), ("laggy", "c", 1),
    ("laggy", "cmis_fw", 1), ("parallel-2", "cmis_fw", 2)], runs
for r in runs:
    assert r["wall_ns"] > 0 and r["commands"] > 0 and r["writes"] > 0, r
    assert r["outcome"] in ("ok", "failed", "false_success"), r
    if r["flasher"] == "cmis_fw":
        # ok, and never a write into a busy CDB instance
        assert r["outcome"] == "ok" and r["writes_while_busy"] == 0, r
    # 64 KiB less the 64-byte header in 2 KiB blocks, 1 MiB likewise
    if r["profile"] == "laggy":
        assert r["limit_ns"] > 0 and r["limit_blocks"] == 32, r
    else:
        assert r["limit_ns"] == 0 and r["limit_blocks"] == 512, r
    assert r["limit_transactions"] > r["limit_blocks"], r
assert d["quirk_profiles"] == ["laggy"], d["quirk_profiles"]
s = d["summary"]
assert s["cmis_fw_failures"] == 0 and s["quirk_limit_ratios"] == [
    {"profile": "laggy", "limit_ratio": None}], s
assert d["cmis_fw_state_bytes_per_flash"] <= 16384, d
' "$results/bench.json"

ktap_finished
