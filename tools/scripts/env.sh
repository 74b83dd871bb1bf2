# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and test scripts; sourced, not run.

# Pinned host tools.
VNG_VERSION=1.42

# Everything built or installed by the project lives here, outside the
# repository, and is reused by later runs on the same machine.
CMIS_CACHE=${CMIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmis-fw}

# Kernel-side code is built in the Debian 13 root (debian13-root.sh) by
# the exact rustc Debian built its kernel with; the host's rustup
# toolchain builds only the host crates (CLI, tests, benchmark).
export CMIS_CACHE

# cmis_modules_dir KERNEL [VARIANT]: where build-modules.sh builds the
# modules for KERNEL (stock or 7.3, see build-modules.sh): a copy of the
# sources under out/, one per kernel, so that their objects never mix.
cmis_modules_dir() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	echo "$top/out/modules-$1${2:+-$2}"
}
