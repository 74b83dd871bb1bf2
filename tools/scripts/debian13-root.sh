#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian 13 (trixie) build root for out-of-tree Rust modules on Debian's
# stock CONFIG_RUST kernel (linux-image-7.3.4+deb13-amd64 from
# trixie-backports), made unattended from the verified recipe in
# shared/reference/distro_kernel.md. Debian 12's glibc is too old for
# trixie's rustc 1.85.1 and bindgen 0.71.1, the exact toolchain Debian
# built that kernel with, so they run in a debootstrapped trixie root; the
# host's packages and apt sources are never changed by this script.
#
# Everything lives in the cache ($CMIS_CACHE/debian13, see env.sh), keyed
# by the pinned and resolved package versions, the root's package list and
# the recipe version below; each stage leaves a stamp (NAME.N when the
# stage alone changed: it then reruns alone), so a second run only checks
# and returns in seconds:
#
#   index     private apt configuration (trixie-backports + trixie), its own
#             lists and cache; resolves the pinned kernel version, or falls
#             back (loudly) to the newest CONFIG_RUST=y one
#   debs      apt-get download of the kernel packages
#   tools     bookworm's debootstrap and busybox-static, extracted only
#   root      debootstrap --variant=minbase trixie + the build packages;
#             rustc pinned and checked
#   stock     the stock image + modules, extracted (for vng -r)
#   headers   linux-headers-<kver>, -common and linux-kbuild into the root
#   source    linux-source-<series> into the root (/build) and the cache
#   identity  one-line 'kernel' crate compiled by the root's rustc: its v0
#             crate hash must be the one in Debian's Module.symvers
#             (run every time: it is cheap and guards every kernel build)
#   prepare   Debian's .config, olddefconfig + modules_prepare in the root
#   overlay   rust/*.rmeta, rust/*.so, scripts/target.json (and
#             rust/bindgen_parameters) into Debian's headers dirs, so that
#             M= builds against them work
#
# Usage:
#   debian13-root.sh [prepare]   prepare (or reuse) everything, print the paths
#   debian13-root.sh paths       print the paths as shell assignments (no work)
#   debian13-root.sh identity    the rustc identity check alone
#   debian13-root.sh run [--bind HOST:GUEST]... [--env K=V]... [--cwd DIR] [--] CMD...
#                                run CMD in the root: /dev, /proc, the repository
#                                (at /cmis/src) and $CMIS_CACHE/kernel (at
#                                /cmis/kernel) mounted in a private mount
#                                namespace, unmounted when CMD ends
# Sourced, it only defines the d13_* functions and variables.
#
# Environment: D13_REFRESH=1 re-reads the package index (otherwise the
# first resolution is reused); D13_MIRROR (default deb.debian.org).

# --- Pins (part of the cache key) -------------------------------------------
D13_RECIPE=1                       # bump when the recipe below changes
D13_SERIES=7.3                     # linux-source-$D13_SERIES
D13_ABI=7.3.4+deb13                # Debian's ABI name
D13_FLAVOUR=amd64
D13_DEBVER=7.3.4-1~bpo13+1         # exact Debian version of all kernel packages
D13_RUSTC_DEBVER=1.85.1+dfsg1-1+deb13u1
D13_SUITE=trixie
D13_BACKPORTS=trixie-backports
D13_MIRROR=${D13_MIRROR:-http://deb.debian.org/debian}
# What the root gets besides minbase: a GCC 14 + rustc 1.85.1 + bindgen
# 0.71.1 kernel build (bindgen needs libclang, the crates need rust-src),
# clippy for CLIPPY=1 module builds, and dkms for the DKMS tests. No
# rustfmt: Debian's crates were matched without it.
D13_INCLUDE=(gcc-14 gcc libc6-dev make bc bison flex libelf-dev libssl-dev
	openssl python3 perl cpio kmod dwarves xz-utils rustc rust-src rust-clippy
	bindgen libclang-dev rsync zstd dkms)
# The kernel's own make flags, as Debian built it (recipe).
D13_CC=x86_64-linux-gnu-gcc-14
D13_MAKE_FLAGS=(ARCH=x86 CROSS_COMPILE=x86_64-linux-gnu- "CC=$D13_CC")

d13_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D13_REPO=$(cd "$d13_here/../.." && pwd)
# shellcheck source=tools/scripts/env.sh
. "$d13_here/env.sh"

D13_TOP=$CMIS_CACHE/debian13
D13_APT=$D13_TOP/apt
D13_TOOLS=$D13_TOP/tools
D13_BUSYBOX=$D13_TOOLS/busybox/bin/busybox
# Stable paths inside the root.
D13_GUEST_SRC=/cmis/src
D13_GUEST_KERNEL=/cmis/kernel

d13_log() { printf 'debian13: %s\n' "$*" >&2; }
d13_die() { d13_log "error: $*"; exit 1; }
d13_warn() {
	local l
	printf '\n' >&2
	printf 'debian13: %s\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
	for l in "$@"; do printf 'debian13: !!! WARNING: %s\n' "$l" >&2; done
	printf 'debian13: %s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
}

# --- Private apt ------------------------------------------------------------
D13_APT_OPTS=(
	-o "Dir::Etc::sourcelist=$D13_APT/sources.list"
	-o Dir::Etc::sourceparts=/dev/null
	-o Dir::Etc::preferences=/dev/null
	-o Dir::Etc::preferencesparts=/dev/null
	-o "Dir::State::Lists=$D13_APT/lists"
	-o "Dir::Cache=$D13_APT/cache"
	-o APT::Architecture=amd64
	-o APT::Architectures::=amd64
	-o APT::Sandbox::User=root
	-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
	-o Acquire::Languages=none
	-o Acquire::Retries=3
)
d13_apt_get() { apt-get -q "${D13_APT_OPTS[@]}" "$@"; }
d13_apt_cache() { apt-cache "${D13_APT_OPTS[@]}" "$@"; }

d13_apt_update() {
	mkdir -p "$D13_APT/lists/partial" "$D13_APT/cache/archives/partial"
	cat >"$D13_APT/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $D13_MIRROR $D13_BACKPORTS main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $D13_MIRROR $D13_SUITE main
EOF
	d13_log "reading the $D13_BACKPORTS + $D13_SUITE index (private apt in $D13_APT)"
	d13_apt_get -qq update >&2 || d13_die "apt-get update of the private index failed"
}

# d13_has_version PKG VERSION [SUITE]: the index lists PKG at VERSION.
d13_has_version() {
	d13_apt_cache madison "$1" 2>/dev/null |
		awk -F'|' -v v="$2" -v s="${3:-}" \
			'{ gsub(/ /, "", $2) } $2 == v && (s == "" || index($3, " " s "/")) { f = 1 } END { exit !f }'
}

# The kernel packages of one ABI; the optional ones do not exist in every
# Debian kernel (linux-binary/-modules/-base split the image in 7.x).
d13_kernel_pkgs() { # ABI FLAVOUR SERIES
	echo "linux-image-$1-$2 linux-headers-$1-$2 linux-headers-$1-common linux-kbuild-$1 linux-source-$3"
}
d13_kernel_opt_pkgs() { echo "linux-binary-$1-$2 linux-modules-$1-$2 linux-base-$1-$2"; }

# d13_config_has_rust ABI FLAVOUR VERSION: the kernel's config (in
# linux-base or linux-image) says CONFIG_RUST=y.
d13_config_has_rust() {
	local tmp p kver=$1-$2 ok=1
	tmp=$(mktemp -d)
	for p in linux-base-$kver linux-image-$kver-unsigned linux-image-$kver; do
		d13_has_version "$p" "$3" || continue
		(cd "$tmp" && d13_apt_get -qq download "$p=$3" >/dev/null 2>&1) || continue
		dpkg-deb -x "$tmp"/"${p}"_*.deb "$tmp/x" || continue
		# -q: a match wins even if one of the two files is missing.
		if grep -qsx 'CONFIG_RUST=y' "$tmp/x/usr/lib/modules/$kver/config" "$tmp/x/boot/config-$kver"; then
			ok=0
		fi
		break
	done
	rm -rf "$tmp"
	return $ok
}

# Loud, on every run that uses a fallback kernel (not only the first).
d13_warn_fallback() {
	[ "$D13_R_DEBVER" = "$D13_DEBVER" ] && [ "$D13_R_ABI" = "$D13_ABI" ] && return
	d13_warn "PINNED KERNEL $D13_ABI-$D13_FLAVOUR $D13_DEBVER IS NO LONGER IN $D13_BACKPORTS." \
		"USING THE FALLBACK linux-image-$D13_R_ABI-$D13_R_FLAVOUR $D13_R_DEBVER (CONFIG_RUST=y)." \
		"It may need another rustc than the pinned $D13_RUSTC_DEBVER: the identity check tells." \
		"Update the pins at the top of tools/scripts/debian13-root.sh."
}

# Stage "index": sets D13_R_ABI, D13_R_FLAVOUR, D13_R_SERIES, D13_R_DEBVER
# (the resolved kernel). Cached in a file named after the pins, so a second
# run reads no index (D13_REFRESH=1 reads it again).
d13_resolve() {
	local pins f
	pins=$(printf '%s\n' "$D13_SERIES" "$D13_ABI" "$D13_FLAVOUR" "$D13_DEBVER" "$D13_MIRROR" | sha256sum | cut -c1-12)
	f=$D13_TOP/resolved-$pins.env
	if [ -f "$f" ] && [ -z "${D13_REFRESH:-}" ]; then
		# shellcheck disable=SC1090
		. "$f"
		d13_warn_fallback
		return
	fi
	mkdir -p "$D13_TOP"
	d13_apt_update
	local p missing=
	for p in $(d13_kernel_pkgs "$D13_ABI" "$D13_FLAVOUR" "$D13_SERIES"); do
		d13_has_version "$p" "$D13_DEBVER" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		D13_R_ABI=$D13_ABI D13_R_FLAVOUR=$D13_FLAVOUR D13_R_SERIES=$D13_SERIES D13_R_DEBVER=$D13_DEBVER
		d13_log "index has the pinned kernel $D13_ABI-$D13_FLAVOUR $D13_DEBVER"
	else
		d13_log "the pinned $D13_DEBVER is gone from the index (missing:$missing); looking for the newest CONFIG_RUST=y kernel in $D13_BACKPORTS"
		local name abi ver series found=
		for name in $(d13_apt_cache pkgnames linux-image- |
			grep -E "^linux-image-[0-9]+\.[0-9]+\.[0-9]+\+deb[0-9]+-$D13_FLAVOUR\$" |
			sort -V -r); do
			abi=${name#linux-image-}
			abi=${abi%-"$D13_FLAVOUR"}
			series=$(echo "$abi" | cut -d. -f1-2)
			ver=$(d13_apt_cache madison "$name" | awk -F'|' -v s=" $D13_BACKPORTS/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
			[ -n "$ver" ] || continue
			missing=
			for p in $(d13_kernel_pkgs "$abi" "$D13_FLAVOUR" "$series"); do
				d13_has_version "$p" "$ver" || missing="$missing $p"
			done
			[ -z "$missing" ] || { d13_log "  $name $ver: lacks$missing"; continue; }
			if d13_config_has_rust "$abi" "$D13_FLAVOUR" "$ver"; then
				found=1
				break
			fi
			d13_log "  $name $ver: no CONFIG_RUST=y"
		done
		[ -n "$found" ] || d13_die "no linux-image-*-$D13_FLAVOUR with CONFIG_RUST=y and its linux-source in $D13_BACKPORTS"
		D13_R_ABI=$abi D13_R_FLAVOUR=$D13_FLAVOUR D13_R_SERIES=$series D13_R_DEBVER=$ver
		d13_warn_fallback
	fi
	printf 'D13_R_ABI=%q\nD13_R_FLAVOUR=%q\nD13_R_SERIES=%q\nD13_R_DEBVER=%q\n' \
		"$D13_R_ABI" "$D13_R_FLAVOUR" "$D13_R_SERIES" "$D13_R_DEBVER" >"$f.tmp"
	mv "$f.tmp" "$f"
}

# Sets the derived paths (after d13_resolve).
d13_paths() {
	D13_KVER=$D13_R_ABI-$D13_R_FLAVOUR
	D13_KEY=$({
		echo "recipe $D13_RECIPE"
		echo "kernel $D13_R_ABI $D13_R_FLAVOUR $D13_R_SERIES $D13_R_DEBVER"
		echo "suite $D13_SUITE rustc $D13_RUSTC_DEBVER"
		echo "include ${D13_INCLUDE[*]}"
		echo "make ${D13_MAKE_FLAGS[*]}"
	} | sha256sum | cut -c1-16)
	D13_DIR=$D13_TOP/$D13_R_ABI-$D13_KEY
	D13_ROOT=$D13_DIR/root
	D13_DEBS=$D13_DIR/debs
	D13_STOCK=$D13_DIR/stock
	D13_STOCK_MODULES=$D13_STOCK/usr/lib/modules/$D13_KVER
	D13_VMLINUZ=$D13_STOCK_MODULES/vmlinuz
	D13_SRC_TARBALL=$D13_DIR/src/linux-source-$D13_R_SERIES.tar.xz
	# Paths inside the root.
	D13_GUEST_KDIR=/usr/src/linux-headers-$D13_KVER
	D13_GUEST_TREE=/build/linux-source-$D13_R_SERIES
	D13_KDIR=$D13_ROOT$D13_GUEST_KDIR
	D13_TREE=$D13_ROOT$D13_GUEST_TREE
	D13_STAMPS=$D13_DIR/stamps
	D13_LOGS=$D13_DIR/logs
}

# --- Mounts -----------------------------------------------------------------
# Removes a directory tree that may still have something mounted in it (an
# interrupted debootstrap), without crossing into other file systems.
d13_rmtree() {
	local d=$1 m
	[ -e "$d" ] || return 0
	findmnt -rn -o TARGET | awk -v d="$d" 'index($0, d "/") == 1' | sort -r |
		while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$d"
}

# The body of d13_run, in a private mount namespace: every mount made here
# disappears with the namespace whatever happens; the trap unmounts them in
# order first anyway, so nothing is ever left behind for the next caller.
# shellcheck disable=SC2016
d13_run_inner='
set -u
root=$1 cwd=$2 nb=$3
shift 3
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP
mnt() { mount "$@" && mounted+=("${@: -1}"); }
mkdir -p "$root/dev" "$root/proc" || exit 1
mnt --rbind /dev "$root/dev" || exit 1
mnt -t proc proc "$root/proc" || exit 1
for ((i = 0; i < nb; i++)); do
	h=${1%%:*} g=${1#*:}
	shift
	mkdir -p "$h" "$root$g" && mnt --bind "$h" "$root$g" || exit 1
done
envs=()
while [ "$1" != -- ]; do envs+=("$1"); shift; done
shift
chroot "$root" /usr/bin/env -i -C "$cwd" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" "$@"
'

# d13_run [--bind HOST:GUEST]... [--env K=V]... [--cwd DIR] [--] CMD...
# Runs CMD in the root (default $D13_ROOT; D13_RUN_ROOT overrides) with
# /dev and /proc, the repository at /cmis/src and $CMIS_CACHE/kernel at
# /cmis/kernel; a clean environment (nothing of the host's, e.g. its
# RUSTC/BINDGEN, leaks in). Two callers, one after the other or at once,
# never see each other's mounts.
d13_run() {
	local root=${D13_RUN_ROOT:-$D13_ROOT} cwd=/ binds=() envs=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--bind) binds+=("$2"); shift 2 ;;
		--env) envs+=("$2"); shift 2 ;;
		--cwd) cwd=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	[ -x "$root/usr/bin/env" ] || d13_die "no root at $root (run tools/scripts/debian13-root.sh)"
	mkdir -p "$CMIS_CACHE/kernel"
	binds=("$D13_REPO:$D13_GUEST_SRC" "$CMIS_CACHE/kernel:$D13_GUEST_KERNEL" "${binds[@]}")
	unshare --mount --propagation private -- bash -c "$d13_run_inner" d13-run \
		"$root" "$cwd" "${#binds[@]}" "${binds[@]}" "${envs[@]}" -- "$@"
}

# d13_kmake DIR ARGS...: the kernel's make in the root, with Debian's flags.
d13_kmake() {
	local dir=$1
	shift
	d13_run --cwd "$dir" -- make "${D13_MAKE_FLAGS[@]}" "$@"
}

# --- Lock, stamps, timing ---------------------------------------------------
d13_lock() {
	mkdir -p "$D13_TOP"
	exec 8>"$D13_TOP/.lock"
	if ! flock -n 8; then
		d13_log "waiting for another run to finish with the root ($D13_TOP/.lock)"
		flock 8
	fi
}

d13_times=()
d13_now_ms() { echo $(($(date +%s%N) / 1000000)); }
d13_fmt_ms() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
# d13_stage NAME FUNCTION: runs FUNCTION unless NAME's stamp exists.
d13_stage() {
	local name=$1 fn=$2 t0 dt
	t0=$(d13_now_ms)
	if [ -f "$D13_STAMPS/$name" ]; then
		dt=$(($(d13_now_ms) - t0))
		d13_times+=("$(printf '%-9s %7s s  (cached)' "$name" "$(d13_fmt_ms "$dt")")")
		return
	fi
	d13_log "stage $name ..."
	"$fn"
	mkdir -p "$D13_STAMPS"
	touch "$D13_STAMPS/$name"
	dt=$(($(d13_now_ms) - t0))
	d13_log "stage $name: $(d13_fmt_ms "$dt") s"
	d13_times+=("$(printf '%-9s %7s s' "$name" "$(d13_fmt_ms "$dt")")")
}
# d13_timed NAME FUNCTION: runs FUNCTION every time, timed.
d13_timed() {
	local name=$1 fn=$2 t0 dt
	t0=$(d13_now_ms)
	"$fn"
	dt=$(($(d13_now_ms) - t0))
	d13_times+=("$(printf '%-9s %7s s' "$name" "$(d13_fmt_ms "$dt")")")
}

d13_deb_version() { dpkg-deb -f "$1" Version; }
d13_root_version() { # PKG: its version installed in the root
	dpkg-query --admindir="$D13_ROOT/var/lib/dpkg" -W -f='${Version}' "$1" 2>/dev/null
}

# --- Stages -----------------------------------------------------------------
d13_stage_debs() {
	local tmp=$D13_DEBS.tmp p pkgs=()
	d13_rmtree "$tmp"
	mkdir -p "$tmp"
	[ -f "$D13_APT/sources.list" ] && [ -d "$D13_APT/lists" ] || d13_apt_update
	for p in $(d13_kernel_pkgs "$D13_R_ABI" "$D13_R_FLAVOUR" "$D13_R_SERIES") \
		$(d13_kernel_opt_pkgs "$D13_R_ABI" "$D13_R_FLAVOUR"); do
		if ! d13_has_version "$p" "$D13_R_DEBVER"; then
			d13_apt_update
			d13_has_version "$p" "$D13_R_DEBVER" || { d13_log "  ($p $D13_R_DEBVER not in the index, skipped)"; continue; }
		fi
		pkgs+=("$p=$D13_R_DEBVER")
	done
	d13_log "downloading ${pkgs[*]}"
	(cd "$tmp" && d13_apt_get -qq download "${pkgs[@]}") >&2 || d13_die "apt-get download failed"
	for p in "$tmp"/*.deb; do
		[ "$(d13_deb_version "$p")" = "$D13_R_DEBVER" ] || d13_die "$p: not version $D13_R_DEBVER"
	done
	d13_rmtree "$D13_DEBS"
	mv "$tmp" "$D13_DEBS"
}

# bookworm's debootstrap and busybox-static, from the host's own (bookworm)
# apt sources, extracted and never installed. Shared by all keys.
d13_stage_tools() {
	local tmp=$D13_TOOLS.tmp
	[ -x "$D13_TOOLS/debootstrap/usr/sbin/debootstrap" ] && [ -x "$D13_BUSYBOX" ] && return
	d13_rmtree "$tmp"
	mkdir -p "$tmp/debs"
	if ! (cd "$tmp/debs" && apt-get -q -o APT::Sandbox::User=root download debootstrap/bookworm busybox-static/bookworm) >&2; then
		apt-get -qq update >&2
		(cd "$tmp/debs" && apt-get -q -o APT::Sandbox::User=root download debootstrap/bookworm busybox-static/bookworm) >&2 ||
			d13_die "cannot download bookworm's debootstrap and busybox-static"
	fi
	dpkg-deb -x "$tmp"/debs/debootstrap_*.deb "$tmp/debootstrap"
	dpkg-deb -x "$tmp"/debs/busybox-static_*.deb "$tmp/busybox"
	d13_rmtree "$D13_TOOLS"
	mv "$tmp" "$D13_TOOLS"
}

d13_stage_root() {
	local tmp=$D13_ROOT.tmp dbs=$D13_TOOLS/debootstrap inc v
	d13_rmtree "$tmp"
	d13_rmtree "$D13_ROOT"
	mkdir -p "$D13_LOGS"
	inc=$(IFS=,; echo "${D13_INCLUDE[*]}")
	d13_log "debootstrap $D13_SUITE minbase into $tmp (about 2-5 minutes; log: $D13_LOGS/debootstrap.log)"
	# In a private mount namespace: whatever debootstrap mounts in the
	# target goes away with it, even when it fails.
	if ! DEBOOTSTRAP_DIR=$dbs/usr/share/debootstrap unshare --mount --propagation private -- \
		nice -n 10 "$dbs/usr/sbin/debootstrap" --variant=minbase --include="$inc" \
		"$D13_SUITE" "$tmp" "$D13_MIRROR" >"$D13_LOGS/debootstrap.log" 2>&1; then
		tail -n 30 "$D13_LOGS/debootstrap.log" >&2
		d13_die "debootstrap failed (log: $D13_LOGS/debootstrap.log)"
	fi
	# Pin rustc: the kernel's Rust symbols carry a hash of the exact rustc.
	v=$(dpkg-query --admindir="$tmp/var/lib/dpkg" -W -f='${Version}' rustc)
	if [ "$v" != "$D13_RUSTC_DEBVER" ]; then
		d13_log "the root got rustc $v; installing the pinned $D13_RUSTC_DEBVER"
		D13_RUN_ROOT=$tmp d13_run --env DEBIAN_FRONTEND=noninteractive -- sh -c '
			apt-get -qq update && apt-get install -y -qq --allow-downgrades --no-install-recommends \
				rustc=$0 libstd-rust-dev=$0 libstd-rust-1.85=$0 rust-src=$0 rust-clippy=$0' \
			"$D13_RUSTC_DEBVER" >&2 ||
			d13_die "trixie's index no longer has rustc $D13_RUSTC_DEBVER (Debian's kernel needs exactly it)"
	fi
	D13_RUN_ROOT=$tmp d13_run -- sh -c 'rm -f /var/cache/apt/archives/*.deb'
	mv "$tmp" "$D13_ROOT"
}

d13_stage_stock() {
	local tmp=$D13_STOCK.tmp d p
	d13_rmtree "$tmp"
	mkdir -p "$tmp"
	for p in linux-image-$D13_KVER linux-binary-$D13_KVER linux-modules-$D13_KVER linux-base-$D13_KVER; do
		for d in "$D13_DEBS/${p}_"*.deb; do
			[ -f "$d" ] && dpkg-deb -x "$d" "$tmp"
		done
	done
	# Before the 7.x split the image was /boot/vmlinuz-<kver>; vng finds the
	# modules next to the image, so it goes where 7.x has it.
	if [ ! -f "$tmp/usr/lib/modules/$D13_KVER/vmlinuz" ] && [ -f "$tmp/boot/vmlinuz-$D13_KVER" ]; then
		cp "$tmp/boot/vmlinuz-$D13_KVER" "$tmp/usr/lib/modules/$D13_KVER/vmlinuz"
	fi
	[ -f "$tmp/usr/lib/modules/$D13_KVER/vmlinuz" ] || d13_die "no vmlinuz in the stock packages"
	d13_rmtree "$D13_STOCK"
	mv "$tmp" "$D13_STOCK"
}

d13_stage_headers() {
	local d
	for d in "$D13_DEBS"/linux-headers-"$D13_KVER"_*.deb "$D13_DEBS"/linux-headers-"$D13_R_ABI"-common_*.deb \
		"$D13_DEBS"/linux-kbuild-"$D13_R_ABI"_*.deb; do
		[ -f "$d" ] || d13_die "missing $d"
		dpkg-deb -x "$d" "$D13_ROOT"
	done
	[ -f "$D13_KDIR/Module.symvers" ] || d13_die "no Module.symvers in $D13_KDIR"
}

d13_stage_source() {
	local deb
	deb=$(echo "$D13_DEBS"/linux-source-"$D13_R_SERIES"_*.deb)
	[ -f "$deb" ] || d13_die "missing linux-source-$D13_R_SERIES"
	mkdir -p "$(dirname "$D13_SRC_TARBALL")"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/linux-source-$D13_R_SERIES.tar.xz" >"$D13_SRC_TARBALL.tmp"
	mv "$D13_SRC_TARBALL.tmp" "$D13_SRC_TARBALL"
	d13_rmtree "$D13_TREE"
	mkdir -p "$(dirname "$D13_TREE")"
	tar -xJf "$D13_SRC_TARBALL" -C "$(dirname "$D13_TREE")"
	[ -f "$D13_TREE/Makefile" ] || d13_die "linux-source-$D13_R_SERIES did not unpack to $D13_TREE"
}

# The rustc identity check: Rust symbols carry a hash of the crate name and
# the exact rustc (kbuild passes no -Cmetadata), so a one-line crate named
# 'kernel' tells whether this rustc makes the symbols Debian's vmlinux
# exports. Any other rustc gives "undefined symbol" for every Rust export.
d13_identity() {
	local ours theirs n rustc_v cfg_v
	[ -f "$D13_KDIR/Module.symvers" ] || d13_die "identity check: no $D13_KDIR/Module.symvers yet"
	rustc_v=$(d13_run -- rustc --version)
	ours=$(d13_run --cwd /tmp -- sh -c '
		d=$(mktemp -d) && cd "$d" && echo "pub fn f() {}" >kernel.rs &&
		rustc --edition=2021 --crate-type=lib --crate-name=kernel -Csymbol-mangling-version=v0 \
			--emit=obj -o kernel.o kernel.rs && nm kernel.o; rc=$?; rm -rf "$d"; exit $rc' |
		grep -o 'Cs[0-9A-Za-z]*_6kernel' | head -n1)
	[ -n "$ours" ] || d13_die "identity check: the root's rustc made no v0 'kernel' symbol"
	theirs=$(grep -o 'Cs[0-9A-Za-z]*_6kernel' "$D13_KDIR/Module.symvers" | sort | uniq -c | sort -rn | head -n1 | awk '{print $2}')
	n=$(grep -c "$ours" "$D13_KDIR/Module.symvers" || true)
	cfg_v=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$D13_KDIR/.config")
	d13_log "identity: root's $rustc_v -> $ours"
	d13_log "identity: Debian's Module.symvers ($D13_KVER, built by $cfg_v) -> ${theirs:-no Rust symbols}"
	if [ -z "$theirs" ] || [ "$n" -eq 0 ]; then
		d13_die "rustc identity check FAILED: the root's rustc ($rustc_v) mangles the kernel crate as $ours, Debian's kernel exports ${theirs:-no Rust symbols} (built by $cfg_v). Modules built here would have every Rust symbol undefined; the root needs exactly that rustc."
	fi
	d13_log "identity: ok, $n of Debian's exports carry $ours"
}

d13_stage_prepare() {
	local mk=("${D13_MAKE_FLAGS[@]}" "KERNELRELEASE=$D13_KVER")
	cp "$D13_KDIR/.config" "$D13_TREE/.config"
	d13_log "olddefconfig + modules_prepare with Debian's .config in $D13_GUEST_TREE (about 2 minutes; log: $D13_LOGS/modules_prepare.log)"
	if ! d13_run --cwd "$D13_GUEST_TREE" -- sh -c \
		'make "$@" olddefconfig && nice -n 10 make -j"$(nproc)" "$@" modules_prepare' \
		make "${mk[@]}" >"$D13_LOGS/modules_prepare.log" 2>&1; then
		tail -n 30 "$D13_LOGS/modules_prepare.log" >&2
		d13_die "modules_prepare failed (log: $D13_LOGS/modules_prepare.log)"
	fi
	# The tree is a KDIR too: Debian's symbol list and its BTF-only vmlinux
	# (for module BTF).
	cp "$D13_KDIR/Module.symvers" "$D13_TREE/"
	[ -f "$D13_KDIR/vmlinux" ] && cp "$D13_KDIR/vmlinux" "$D13_TREE/"
	ls "$D13_TREE"/rust/*.rmeta >/dev/null 2>&1 || d13_die "modules_prepare made no rust/*.rmeta"
}

d13_stage_overlay() {
	local scripts
	mkdir -p "$D13_KDIR/rust"
	cp "$D13_TREE"/rust/lib*.rmeta "$D13_TREE"/rust/lib*.so "$D13_KDIR/rust/"
	# The headers' scripts/ is a symlink into linux-kbuild-<abi>.
	scripts=$(d13_run -- readlink -f "$D13_GUEST_KDIR/scripts")
	cp "$D13_TREE/scripts/target.json" "$D13_ROOT$scripts/"
	# The kernel's bindgen options, for modules that run bindgen themselves
	# (our Kbuild reads $(srctree)/rust/bindgen_parameters); srctree is
	# the -common dir.
	mkdir -p "$D13_ROOT/usr/src/linux-headers-$D13_R_ABI-common/rust"
	cp "$D13_TREE/rust/bindgen_parameters" "$D13_ROOT/usr/src/linux-headers-$D13_R_ABI-common/rust/"
	d13_log "overlay: $(ls "$D13_KDIR"/rust | wc -l) files into $D13_GUEST_KDIR/rust, target.json into $scripts, bindgen_parameters into linux-headers-$D13_R_ABI-common/rust"
}

d13_print_versions() {
	d13_log "versions in the root: $(d13_run -- sh -c 'rustc --version; bindgen --version 2>&1 | head -n1; x86_64-linux-gnu-gcc-14 --version | head -n1' | paste -sd ';' | sed 's/;/; /g')"
	d13_log "packages: rustc $(d13_root_version rustc), bindgen $(d13_root_version bindgen), gcc-14 $(d13_root_version gcc-14), kernel $D13_KVER $D13_R_DEBVER"
}

d13_write_paths() {
	{
		printf '# Written by tools/scripts/debian13-root.sh\n'
		printf 'D13_DIR=%q\nD13_ROOT=%q\nD13_KVER=%q\nD13_DEBVER=%q\nD13_SERIES=%q\n' \
			"$D13_DIR" "$D13_ROOT" "$D13_KVER" "$D13_R_DEBVER" "$D13_R_SERIES"
		printf 'D13_KDIR=%q\nD13_GUEST_KDIR=%q\nD13_TREE=%q\nD13_GUEST_TREE=%q\n' \
			"$D13_KDIR" "$D13_GUEST_KDIR" "$D13_TREE" "$D13_GUEST_TREE"
		printf 'D13_VMLINUZ=%q\nD13_BUSYBOX=%q\nD13_SRC_TARBALL=%q\n' \
			"$D13_VMLINUZ" "$D13_BUSYBOX" "$D13_SRC_TARBALL"
	} >"$D13_TOP/current.env.tmp"
	mv "$D13_TOP/current.env.tmp" "$D13_TOP/current.env"
}

# Keeps this key's directory and the most recent other one (a root is
# about 5 GiB).
d13_prune() {
	local d
	{ ls -1dt "$D13_TOP"/*-????????????????/stamps/overlay* 2>/dev/null || true; } | while IFS= read -r d; do
		d=$(dirname "$(dirname "$d")")
		[ "$d" = "$D13_DIR" ] || echo "$d"
	done | tail -n +2 | while IFS= read -r d; do
		d13_log "pruning $d"
		d13_rmtree "$d"
	done
	for d in "$D13_TOP"/*-????????????????; do
		[ -d "$d" ] && [ "$d" != "$D13_DIR" ] && ! ls "$d"/stamps/overlay* >/dev/null 2>&1 && { d13_log "pruning unfinished $d"; d13_rmtree "$d"; }
	done
	return 0
}

# d13_prepare: all stages; then the paths are set and current.env written.
d13_prepare() {
	local t0
	t0=$(date +%s)
	[ "$(id -u)" -eq 0 ] || d13_die "must run as root (debootstrap, chroot, mounts)"
	d13_lock
	d13_timed index d13_resolve
	d13_paths
	mkdir -p "$D13_DIR" "$D13_LOGS"
	d13_log "root for $D13_KVER ($D13_R_DEBVER): $D13_DIR"
	d13_stage debs d13_stage_debs
	d13_stage tools d13_stage_tools
	d13_stage root d13_stage_root
	d13_stage stock d13_stage_stock
	d13_stage headers d13_stage_headers
	d13_stage source d13_stage_source
	d13_timed identity d13_identity
	d13_stage prepare d13_stage_prepare
	d13_stage overlay.2 d13_stage_overlay
	d13_timed versions d13_print_versions
	d13_write_paths
	d13_prune
	flock -u 8
	d13_log "stage times:"
	printf 'debian13:   %s\n' "${d13_times[@]}" >&2
	d13_log "total: $(($(date +%s) - t0)) s"
}

# d13_load: the paths of the prepared root, without doing any work.
d13_load() {
	[ -f "$D13_TOP/current.env" ] || d13_die "no Debian 13 root yet: run tools/scripts/debian13-root.sh"
	# shellcheck disable=SC1091
	. "$D13_TOP/current.env"
}

# d13_install PKG...: adds packages to the prepared root (for test kernel
# variants built by another toolchain, build-kernel.sh), from the root's
# own trixie sources; a no-op when they are there. rustc stays pinned:
# apt only adds what PKG needs.
d13_install() {
	local p missing=()
	d13_load
	for p in "$@"; do
		dpkg-query --admindir="$D13_ROOT/var/lib/dpkg" -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	d13_lock
	d13_log "installing ${missing[*]} into the root"
	d13_run --env DEBIAN_FRONTEND=noninteractive -- sh -c '
		apt-get -qq update && apt-get install -y -qq --no-install-recommends "$@" &&
		rm -f /var/cache/apt/archives/*.deb' sh "${missing[@]}" >&2 ||
		d13_die "apt-get install ${missing[*]} in the root failed"
	[ "$(d13_root_version rustc)" = "$D13_RUSTC_DEBVER" ] ||
		d13_die "installing ${missing[*]} changed the root's rustc"
	flock -u 8
}

d13_main() {
	local cmd=${1:-prepare}
	[ $# -gt 0 ] && shift
	case "$cmd" in
	prepare)
		d13_prepare
		cat "$D13_TOP/current.env"
		;;
	paths) d13_load; cat "$D13_TOP/current.env" ;;
	identity)
		d13_resolve
		d13_paths
		d13_identity
		;;
	run)
		d13_load
		d13_run "$@"
		;;
	install) d13_install "$@" ;;
	*) d13_die "unknown command $cmd (prepare, paths, identity, run, install)" ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	d13_main "$@"
fi
