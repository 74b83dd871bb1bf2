#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# One-time, idempotent machine setup for building and testing cmis_fw on
# Debian 12 (bookworm), run as root. A second run checks and returns in
# seconds: nothing is fetched when everything is already present.
#
#   - the few host packages the scripts use (kernel and module builds
#     run in the Debian 13 root, with Debian's own toolchain, not here),
#   - qemu-system-x86 from bookworm-backports (bookworm's 7.2 conflicts
#     with the preinstalled backports qemu-utils),
#   - ethtool >= 6.11 from trixie, pinned low so nothing else comes from it,
#   - virtme-ng from PyPI, pinned,
#   - the Debian 13 build root for Debian's stock CONFIG_RUST 7.3 kernel
#     (debian13-root.sh; in the cache, the host's packages untouched;
#     about 5 GiB and 5-10 minutes the first time). CMIS_DEBIAN13=0 skips it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/scripts/env.sh
. "$here/env.sh"

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Packages from the default suites.
debs=(cpio xz-utils make kmod iproute2 rsync python3-yaml python3-jsonschema)

missing_debs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s\n' "$p"
	done
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	as_root apt-get update -qq
	apt_updated=1
}

add_suite_sources() {
	local f=/etc/apt/sources.list.d/cmis-fw.sources
	local pin=/etc/apt/preferences.d/cmis-fw-trixie
	if [ ! -f "$f" ]; then
		log "adding bookworm-backports and trixie apt sources"
		as_root tee "$f" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		apt_updated=
	fi
	if [ ! -f "$pin" ]; then
		# Priority 100 < 500: trixie is never chosen unless asked for
		# by name (ethtool/trixie below).
		as_root tee "$pin" >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
	fi
}

install_debs() {
	local todo
	todo=$(missing_debs "${debs[@]}")
	if [ -n "$todo" ]; then
		apt_update
		log "installing: $(echo $todo)"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
			--no-install-recommends $todo
	fi

	if ! command -v qemu-system-x86_64 >/dev/null; then
		add_suite_sources
		apt_update
		log "installing qemu-system-x86 from bookworm-backports"
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
			--no-install-recommends -t bookworm-backports qemu-system-x86
	fi

	if ! ethtool_new_enough; then
		add_suite_sources
		apt_update
		log "installing ethtool from trixie"
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
			--no-install-recommends ethtool/trixie
		ethtool_new_enough || { log "ethtool still too old"; exit 1; }
	fi
}

ethtool_new_enough() {
	command -v ethtool >/dev/null || return 1
	local v
	v=$(ethtool --version | awk '{print $3}')
	# --flash-module-firmware appeared in ethtool 6.11.
	printf '6.11\n%s\n' "$v" | sort -V -C
}

install_vng() {
	if ! vng --version 2>/dev/null | grep -q "$VNG_VERSION"; then
		log "installing virtme-ng $VNG_VERSION from PyPI"
		python3 -m pip install -q --disable-pip-version-check \
			"virtme-ng==$VNG_VERSION"
	fi
	command -v vng >/dev/null || { log "vng not on PATH after install"; exit 1; }
}

install_debian13_root() {
	[ "${CMIS_DEBIAN13:-1}" = 0 ] && return
	"$here/debian13-root.sh" prepare >/dev/null
}

install_debs
install_vng
install_debian13_root
log "ok: $(ethtool --version), $(qemu-system-x86_64 --version | head -n1), vng $(vng --version 2>/dev/null | awk '{print $NF}')"
