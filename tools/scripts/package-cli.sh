#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package of the command line tool, cmis-fw_<version>_<arch>.deb
# in out/: the release binary, the manual pages (one per command) and the
# bash, zsh and fish completions that its build script renders from the
# command line definition (tools/cmis-fw/build.rs), built with dpkg-deb.
# Also unpacks it into out/cli-root, the install the VM tests use.
#
# Prints the package's path on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"

log() { printf 'package-cli: %s\n' "$*" >&2; }

# The build script's output directory, from cargo's own report.
out_dir=$(cargo build --release --quiet -p cmis-fw --message-format=json |
	python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "build-script-executed" and "/tools/cmis-fw#" in m["package_id"]:
        print(m["out_dir"])
')
[ -d "$out_dir/man" ] || { log "no generated manual pages in '$out_dir'"; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' tools/cmis-fw/Cargo.toml)
arch=$(dpkg --print-architecture)
stage=$top/out/cli-stage
rm -rf "$stage"
install -D -m 0755 target/release/cmis-fw "$stage/usr/bin/cmis-fw"
install -d "$stage/usr/share/man/man1"
for page in "$out_dir"/man/*.1; do
	gzip -9n <"$page" >"$stage/usr/share/man/man1/$(basename "$page").gz"
done
install -D -m 0644 "$out_dir/completions/cmis-fw.bash" \
	"$stage/usr/share/bash-completion/completions/cmis-fw"
install -D -m 0644 "$out_dir/completions/_cmis-fw" \
	"$stage/usr/share/zsh/vendor-completions/_cmis-fw"
install -D -m 0644 "$out_dir/completions/cmis-fw.fish" \
	"$stage/usr/share/fish/vendor_completions.d/cmis-fw.fish"
install -D -m 0644 LICENSE "$stage/usr/share/doc/cmis-fw/copyright"

size=$(du -sk "$stage/usr" | cut -f1)
install -d "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<EOF
Package: cmis-fw
Version: $version
Architecture: $arch
Maintainer: The cmis_fw developers <cmis-fw@localhost>
Installed-Size: $size
Depends: libc6
Recommends: cmis-fw-dkms
Section: net
Priority: optional
Homepage: https://example.invalid/cmis_fw
Description: flash CMIS transceiver module firmware through cmis_fw
 cmis-fw asks the cmis_fw kernel module to update the firmware of a CMIS
 transceiver module (QSFP-DD, OSFP, ...) over CDB and follows the flash
 with a progress bar, plain lines or JSON; 'cmis-fw monitor' follows every
 flash on the system.
EOF
deb=$top/out/cmis-fw_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
rm -rf "$top/out/cli-root"
dpkg-deb -x "$deb" "$top/out/cli-root"
log "built $(basename "$deb") ($(dpkg-deb -c "$deb" | wc -l) entries)"
echo "$deb"
