#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Coverage-guided fuzzing of the protocol core with AFL++ through
# cargo-afl (stable Rust): the targets of rust/cmis_core/src/fuzz.rs,
# built by tools/fuzz, each started from its kept corpus
# (tools/fuzz/corpus/<target>/).
#
#   fuzz.sh [--seconds N] [--keep] [TARGET...]
#
#   --seconds N  fuzzing time per target (default 600: 'make fuzz';
#                'make test' runs 20)
#   --keep       add the inputs that found new coverage to the kept
#                corpus (minimised with afl-cmin), to be committed
#   TARGET       flash, image_header, control_text, emulator (default all)
#
# cargo-afl (pinned) is installed into the cache, and AFL++ built there
# for the host's rustc, once per machine (about 2 minutes). Prints one
# line per target, then "N passed, N failed"; exits non-zero if a
# target crashed or hung: the inputs are kept under
# out/fuzz/<target>/default/{crashes,hangs}, and
# 'cargo test -p cmis_core fuzz' replays them once copied into the corpus.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

AFL_VERSION=0.17.1
seconds=600
keep=
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift ;;
	--keep) keep=1 ;;
	-*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
[ ${#targets[@]} -gt 0 ] || targets=(flash image_header control_text emulator)

log() { printf 'fuzz: %s\n' "$*" >&2; }

# cargo-afl and its AFL++ build, keyed by the versions that go into them.
key=$(printf 'cargo-afl %s\n%s\n' "$AFL_VERSION" "$(rustc -vV)" | sha256sum | cut -c1-16)
afl_root=$CMIS_CACHE/cargo-afl-$key
export PATH=$afl_root/bin:$PATH
# AFL++ is built under XDG_DATA_HOME/afl.rs.
export XDG_DATA_HOME=$afl_root/share
if [ ! -f "$afl_root/.ready" ]; then
	log "installing cargo-afl $AFL_VERSION and building AFL++ into $afl_root"
	rm -rf "$afl_root"
	cargo install --quiet --locked --root "$afl_root" --version "$AFL_VERSION" cargo-afl >&2
	# --force: a build left by another user of this machine may not match.
	cargo afl config --build --force >&2
	touch "$afl_root/.ready"
fi

out=$top/out/fuzz
mkdir -p "$out"
export CARGO_TARGET_DIR=$out/target
log "building the targets"
(cd "$top/tools/fuzz" && cargo afl build --release --locked --quiet) >&2

# No UI, no questions: CI has no terminal, and the machine's core
# pattern and CPU governor are not ours to change.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1 AFL_QUIET=1

passed=0 failed=0
for t in "${targets[@]}"; do
	corpus=$top/tools/fuzz/corpus/$t
	[ -d "$corpus" ] || { log "no target $t"; exit 2; }
	rm -rf "${out:?}/$t"
	# -V: stop after that long; -c -: no CMPLOG binary (cargo-afl builds
	# one only with its LLVM plugins).
	if ! cargo afl fuzz -V "$seconds" -c - -i "$corpus" -o "$out/$t" \
		"$CARGO_TARGET_DIR/release/$t" >"$out/$t.log" 2>&1; then
		tail -n 20 "$out/$t.log" >&2
		log "$t: afl-fuzz failed (log: ${out#"$top"/}/$t.log)"
		failed=$((failed + 1))
		continue
	fi
	stats=$out/$t/default/fuzzer_stats
	execs=$(awk -F': *' '$1 ~ /^execs_done/ { print $2 }' "$stats")
	paths=$(awk -F': *' '$1 ~ /^corpus_count/ { print $2 }' "$stats")
	crashes=$(find "$out/$t/default/crashes" -type f -name 'id:*' | wc -l)
	hangs=$(find "$out/$t/default/hangs" -type f -name 'id:*' | wc -l)
	printf 'fuzz: %-13s %4d s  %9d execs  %5d inputs  %d crashes  %d hangs\n' \
		"$t" "$seconds" "$execs" "$paths" "$crashes" "$hangs"
	if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
		log "$t: see ${out#"$top"/}/$t/default/crashes and hangs"
		failed=$((failed + 1))
		continue
	fi
	passed=$((passed + 1))
	if [ -n "$keep" ]; then
		tmp=$out/$t.cmin
		rm -rf "$tmp"
		cargo afl cmin -i "$out/$t/default/queue" -o "$tmp" -- \
			"$CARGO_TARGET_DIR/release/$t" >"$out/$t.cmin.log" 2>&1
		# The hand-written seeds (named) stay; the fuzzer's finds are
		# named by their hash and replaced.
		find "$corpus" -type f -regextype posix-extended -regex '.*/[0-9a-f]{16}' -delete
		seeds=$(find "$corpus" -type f -exec sha256sum {} + | cut -c1-16)
		n=0
		for f in "$tmp"/*; do
			h=$(sha256sum "$f" | cut -c1-16)
			grep -qx "$h" <<<"$seeds" && continue
			cp "$f" "$corpus/$h"
			n=$((n + 1))
		done
		log "$t: kept $n inputs in ${corpus#"$top"/}"
	fi
done
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
