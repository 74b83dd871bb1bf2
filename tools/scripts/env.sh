# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and test scripts; sourced, not run.

# Pinned host tools.
VNG_VERSION=1.42
BINDGEN_VERSION=0.73.2

# Everything built or installed by the project lives here, outside the
# repository, and is reused by later runs on the same machine.
CMIS_CACHE=${CMIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmis-fw}
CMIS_TOOLS=$CMIS_CACHE/tools

# The kernel's Rust must be built by Debian's rustc-web, never by the
# rustup rustc that comes first on PATH (.rmeta files are rustc-version
# specific).
RUSTC=/usr/bin/rustc
BINDGEN=$CMIS_TOOLS/bin/bindgen
KERNEL_SRC_TARBALL=/usr/src/linux-source-6.12.tar.xz

KMAKE_FLAGS=(LLVM=1 "RUSTC=$RUSTC" "BINDGEN=$BINDGEN")

export CMIS_CACHE CMIS_TOOLS RUSTC BINDGEN

# cmis_modules_dir KERNEL [VARIANT]: where build-modules.sh builds the
# modules for KERNEL (stock or 7.3, see build-modules.sh): a copy of the
# sources under out/, one per kernel, so that their objects never mix.
cmis_modules_dir() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	echo "$top/out/modules-$1${2:+-$2}"
}
