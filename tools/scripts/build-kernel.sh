#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the test kernel: Debian's linux-source-6.12, configured
# from 'make tinyconfig' plus the selftests' config fragment, built with
# LLVM=1 and Debian's rustc-web. The tree lives in the cache, keyed by
# everything that goes into it, so later runs on this machine reuse it.
#
# Prints the kernel build directory on stdout; logs go to stderr.
# With --cached-only, prints it only if it is built already and otherwise
# fails without building.
#
# --variant NAME builds the variant whose extra fragment is
# tools/testing/selftests/drivers/net/cmis_fw/config-NAME (e.g.
# no-ethtool-netlink) from a copy of the base tree: Kbuild's per-option
# dependencies (fixdep) rebuild only what the changed options touch.
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

log() { printf 'build-kernel: %s\n' "$*" >&2; }

# prune_cache KEEP: keeps the cache bounded (each tree is about 2 GiB).
# Drops interrupted builds but KEEP, and of each kind of kernel (the base,
# 6.12-<key>, and each variant, 6.12-<key>-<name>) all but the two most
# recently built: a changed fragment leaves its predecessors behind, and
# many builds of one variant must not push out the base the others are
# copied from.
prune_cache() {
	local d kind
	for d in "$CMIS_CACHE"/kernel/6.12-*; do
		[ "$d" = "$1" ] || [ -f "$d/.cmis-fw-built" ] || rm -rf "$d"
	done
	for d in "$CMIS_CACHE"/kernel/6.12-*; do
		[ -d "$d" ] || continue
		kind=${d##*/6.12-}
		kind=${kind#????????????????}
		echo "$kind"
	done | sort -u | while IFS= read -r kind; do
		ls -1dt "$CMIS_CACHE"/kernel/6.12-????????????????"$kind"/.cmis-fw-built 2>/dev/null |
			tail -n +3 | while IFS= read -r s; do rm -rf "$(dirname "$s")"; done
	done
}
die() { log "error: $*"; exit 1; }

[ -r "$KERNEL_SRC_TARBALL" ] || die "$KERNEL_SRC_TARBALL missing: run tools/scripts/setup.sh"
[ -x "$BINDGEN" ] || die "$BINDGEN missing: run tools/scripts/setup.sh"

key_input() {
	echo "recipe $recipe"
	dpkg-query -W -f='${Package} ${Version}\n' linux-source-6.12
	"$RUSTC" --version
	"$BINDGEN" --version
	clang --version | head -n1
	ld.lld --version | head -n1
	cat "$fragment"
}
base_key=$(key_input | sha256sum | cut -c1-16)
key=$base_key
kdir=$CMIS_CACHE/kernel/6.12-$key
if [ -n "$variant" ]; then
	variant_fragment=$fragment-$variant
	[ -r "$variant_fragment" ] || die "no fragment $variant_fragment"
	base_kdir=$kdir
	key=$({ key_input; echo "variant $variant"; cat "$variant_fragment"; } | sha256sum | cut -c1-16)
	kdir=$CMIS_CACHE/kernel/6.12-$key-$variant
fi
stamp=$kdir/.cmis-fw-built

if [ -n "$cached_only" ]; then
	[ -f "$stamp" ] && echo "$kdir"
	[ -f "$stamp" ]
	exit
fi

if [ -n "$variant" ] && [ ! -f "$stamp" ]; then
	# The base first (it takes the lock itself).
	"$0" >/dev/null
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
kmake() { make -C "$kdir" "${KMAKE_FLAGS[@]}" "$@"; }

if [ -n "$variant" ]; then
	log "copying $base_kdir into $kdir"
	cp -a "$base_kdir" "$kdir"
	rm -f "$stamp"
	log "configuring: base + $(basename "$variant_fragment")"
	(cd "$kdir" && ./scripts/kconfig/merge_config.sh -m .config "$variant_fragment") >"$kdir/.cmis-merge.log" 2>&1 || { cat "$kdir/.cmis-merge.log" >&2; exit 1; }
	kmake -s olddefconfig >&2
	fragments=("$fragment" "$variant_fragment")
else
	mkdir -p "$kdir"
	log "unpacking $KERNEL_SRC_TARBALL into $kdir"
	tar -xf "$KERNEL_SRC_TARBALL" -C "$kdir" --strip-components=1
	log "configuring: tinyconfig + $(basename "$(dirname "$fragment")")/config"
	kmake -s tinyconfig >&2
	(cd "$kdir" && ./scripts/kconfig/merge_config.sh -m .config "$fragment") >"$kdir/.cmis-merge.log" 2>&1 || { cat "$kdir/.cmis-merge.log" >&2; exit 1; }
	kmake -s olddefconfig >&2
	fragments=("$fragment")
fi

# merge_config only warns when an option does not survive olddefconfig
# (an unmet dependency); here it is fatal. The variant's lines override
# the base's.
lost=0
overridden() {
	[ -n "$variant" ] && grep -q -- "${1}[= ]" "$variant_fragment" && [ "$2" = "$fragment" ]
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
if [ -n "$variant" ]; then
	log "building (make -j$jobs, incremental from the base tree)"
else
	log "building (make -j$jobs, about 10-15 minutes on 2 cores)"
fi
start=$(date +%s)
kmake -j"$jobs" -s >&2
log "built in $(($(date +%s) - start)) s"
touch "$stamp"

prune_cache "$kdir"

echo "$kdir"
