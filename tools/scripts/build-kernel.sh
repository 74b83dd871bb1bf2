#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the test kernel: Debian 13's linux-source-7.3
# (trixie-backports), built inside the Debian 13 root of debian13-root.sh
# with the toolchain Debian builds its stock 7.3 kernel with (GCC 14, rustc
# 1.85.1, bindgen 0.71.1), from 'make tinyconfig' plus the selftests'
# config fragment and config-7.3 (options renamed or dropped in 7.3, if
# any; a variant NAME also gets config-NAME-7.3). The tree lives in the
# cache, keyed by everything that goes into it, so later runs on this
# machine reuse it: $CMIS_CACHE/kernel/7.3-<key>, seen as
# /cmis/kernel/7.3-<key> inside the root. M= module builds run there
# (debian13-root.sh run --cwd ... make <flags in .cmis-make-flags> M=...),
# and vng -r <tree>/arch/x86/boot/bzImage boots it from the host.
#
# CMIS_KERNEL names the series; 7.3 is the only one (the root's).
#
# Prints the kernel build directory on stdout; logs go to stderr.
# With --cached-only, prints it only if it is built already and otherwise
# fails without building.
#
# --variant NAME builds the variant whose extra fragment is
# tools/testing/selftests/drivers/net/cmis_fw/config-NAME (e.g.
# no-ethtool-netlink) from a copy of the base tree: Kbuild's per-option
# dependencies (fixdep) rebuild only what the changed options touch. The
# sanitize variant is built by clang/LLVM 19 instead (KASAN with Rust
# needs clang), from scratch, after adding them to the root.
set -euo pipefail

cached_only=
variant=
while [ $# -gt 0 ]; do
	case "$1" in
	--cached-only) cached_only=1 ;;
	--variant) variant=$2; shift ;;
	*) echo "build-kernel: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

fragment=$top/tools/testing/selftests/drivers/net/cmis_fw/config
# Bump when the way the kernel is built below changes.
recipe=1
series=${CMIS_KERNEL:-7.3}
[ "$series" = 7.3 ] || { echo "build-kernel: unknown CMIS_KERNEL=$series (7.3 is the only test kernel series)" >&2; exit 2; }
# shellcheck source=tools/scripts/debian13-root.sh
. "$here/debian13-root.sh"
# Bump when the way the 7.3 kernel is built below changes.
recipe=7.3-1
# Options the series renamed or dropped, applied after the fragment
# (config-<series>) and after a variant's (config-<variant>-<series>).
series_fragments=()
[ -r "$fragment-$series" ] && series_fragments=("$fragment-$series")

log() { printf 'build-kernel: %s\n' "$*" >&2; }

# Variants built by another compiler than Debian's GCC: their make flags
# and the packages of the Debian 13 root they need. A compiler change
# rebuilds everything, so these are built from scratch, not from a copy
# of the base tree.
variant_make_flags=()
variant_packages=()
case "$variant" in
sanitize)
	# KASAN with Rust needs clang; LLVM 19 is rustc 1.85's.
	variant_make_flags=(ARCH=x86 LLVM=-19)
	variant_packages=(clang-19 lld-19 llvm-19)
	;;
esac

# prune_cache KEEP: keeps the cache bounded (each tree is about 2 GiB).
# Drops interrupted builds but KEEP, and of each kind of kernel (the base,
# 7.3-<key>, and each variant, 7.3-<key>-<name>) all but the two most
# recently built: a changed fragment leaves its predecessors behind, and
# many builds of one variant must not push out the base the others are
# copied from.
prune_cache() {
	local d kind
	for d in "$CMIS_CACHE"/kernel/"$series"-*; do
		[ "$d" = "$1" ] || [ -f "$d/.cmis-fw-built" ] || rm -rf "$d"
	done
	for d in "$CMIS_CACHE"/kernel/"$series"-*; do
		[ -d "$d" ] || continue
		kind=${d##*/"$series"-}
		kind=${kind#????????????????}
		echo "$kind"
	done | sort -u | while IFS= read -r kind; do
		ls -1dt "$CMIS_CACHE"/kernel/"$series"-????????????????"$kind"/.cmis-fw-built 2>/dev/null |
			tail -n +3 | while IFS= read -r s; do rm -rf "$(dirname "$s")"; done
	done
}
die() { log "error: $*"; exit 1; }

# The Debian 13 root (reused when ready; it runs the rustc identity check
# every time, which is cheap).
if [ -z "$cached_only" ]; then
	"$here/debian13-root.sh" prepare >/dev/null
fi
[ -f "$D13_TOP/current.env" ] || die "no Debian 13 root: run tools/scripts/debian13-root.sh"
d13_load
[ "$D13_SERIES" = "$series" ] || die "the Debian 13 root has linux-source-$D13_SERIES, not $series"

key_input() {
	echo "recipe $recipe"
	echo "linux-source-$D13_SERIES $D13_DEBVER"
	dpkg-query --admindir="$D13_ROOT/var/lib/dpkg" -W -f='${Package} ${Version}\n' \
		rustc bindgen gcc-14 binutils libclang-dev rust-src
	echo "${D13_MAKE_FLAGS[*]}"
	cat "$fragment" "${series_fragments[@]}"
}
base_key=$(key_input | sha256sum | cut -c1-16)
key=$base_key
kdir=$CMIS_CACHE/kernel/$series-$key
if [ -n "$variant" ]; then
	variant_fragment=$fragment-$variant
	[ -r "$variant_fragment" ] || die "no fragment $variant_fragment"
	base_kdir=$kdir
	variant_fragments=("$variant_fragment")
	[ -r "$variant_fragment-$series" ] && variant_fragments+=("$variant_fragment-$series")
	key=$({
		key_input
		echo "variant $variant ${variant_make_flags[*]} ${variant_packages[*]}"
		cat "${variant_fragments[@]}"
	} | sha256sum | cut -c1-16)
	kdir=$CMIS_CACHE/kernel/$series-$key-$variant
fi
stamp=$kdir/.cmis-fw-built

if [ -n "$cached_only" ]; then
	[ -f "$stamp" ] && echo "$kdir"
	[ -f "$stamp" ]
	exit
fi

if [ -n "$variant" ] && [ ! -f "$stamp" ] && [ ${#variant_make_flags[@]} -eq 0 ]; then
	# The base first (it takes the lock itself).
	"$0" >/dev/null
fi
make_flags=("${D13_MAKE_FLAGS[@]}")
if [ ${#variant_make_flags[@]} -gt 0 ]; then
	make_flags=("${variant_make_flags[@]}")
	[ -f "$stamp" ] || "$here/debian13-root.sh" install "${variant_packages[@]}" >&2
fi

mkdir -p "$CMIS_CACHE/kernel"
# One build at a time per cache; a second caller waits and then reuses.
exec 9>"$CMIS_CACHE/kernel/.lock"
flock 9

if [ -f "$stamp" ]; then
	log "reusing $kdir"
	echo "$kdir"
	exit 0
fi

# Everything is recomputed from scratch when the stamp is missing: a
# half-built tree from an interrupted run is not trusted.
rm -rf "$kdir"
# In the Debian 13 root, where $CMIS_CACHE/kernel is /cmis/kernel.
guest_kdir=$D13_GUEST_KERNEL/${kdir#"$CMIS_CACHE"/kernel/}
kmake() { d13_run --cwd "$guest_kdir" -- make "${make_flags[@]}" "$@"; }

if [ -n "$variant" ] && [ ${#variant_make_flags[@]} -eq 0 ]; then
	log "copying $base_kdir into $kdir"
	cp -a "$base_kdir" "$kdir"
	rm -f "$stamp"
	log "configuring: base + ${variant_fragments[*]##*/}"
	(cd "$kdir" && ./scripts/kconfig/merge_config.sh -m .config "${variant_fragments[@]}") >"$kdir/.cmis-merge.log" 2>&1 || { cat "$kdir/.cmis-merge.log" >&2; exit 1; }
	kmake -s olddefconfig >&2
	fragments=("$fragment" "${series_fragments[@]}" "${variant_fragments[@]}")
else
	mkdir -p "$kdir"
	log "unpacking $D13_SRC_TARBALL into $kdir"
	tar -xf "$D13_SRC_TARBALL" -C "$kdir" --strip-components=1
	log "configuring: tinyconfig + $(basename "$(dirname "$fragment")")/config${series_fragments[*]:+ + ${series_fragments[*]##*/}}${variant:+ + ${variant_fragments[*]##*/} (${make_flags[*]})}"
	kmake -s tinyconfig >&2
	(cd "$kdir" && ./scripts/kconfig/merge_config.sh -m .config "$fragment" "${series_fragments[@]}" \
		${variant:+"${variant_fragments[@]}"}) >"$kdir/.cmis-merge.log" 2>&1 || { cat "$kdir/.cmis-merge.log" >&2; exit 1; }
	kmake -s olddefconfig >&2
	fragments=("$fragment" "${series_fragments[@]}" ${variant:+"${variant_fragments[@]}"})
fi

# merge_config only warns when an option does not survive olddefconfig
# (an unmet dependency); here it is fatal. A later fragment's lines (the
# series', then the variant's) override the earlier ones'.
lost=0
overridden() {
	local f later=
	for f in "${fragments[@]}"; do
		if [ -n "$later" ] && grep -q -- "${1}[= ]" "$f"; then return 0; fi
		[ "$f" = "$2" ] && later=1
	done
	return 1
}
for frag in "${fragments[@]}"; do
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		overridden "${line%%=*}" "$frag" && continue
		grep -qxF "$line" "$kdir/.config" || {
			log "option did not stick: $line (have: $(grep -E "^(# )?${line%%=*}[= ]" "$kdir/.config" || echo unset))"
			lost=1
		}
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		overridden "$opt" "$frag" && continue
		if grep -qE "^$opt=[ym]" "$kdir/.config"; then
			log "option should be unset: $opt"
			lost=1
		fi
		;;
	esac
done <"$frag"
done
[ "$lost" -eq 0 ] || die "config fragment not applied; see above"

jobs=$(($(nproc) + 1))
if [ -n "$variant" ] && [ ${#variant_make_flags[@]} -eq 0 ]; then
	log "building (make -j$jobs, incremental from the base tree)"
else
	log "building (make -j$jobs, about 10-15 minutes on 2 cores)"
fi
start=$(date +%s)
kmake -j"$jobs" -s >&2
log "built in $(($(date +%s) - start)) s"
# How to build modules against this tree inside the root.
printf '%s\n' "${make_flags[@]}" >"$kdir/.cmis-make-flags"
echo "$guest_kdir" >"$kdir/.cmis-guest-path"
touch "$stamp"

prune_cache "$kdir"

echo "$kdir"
