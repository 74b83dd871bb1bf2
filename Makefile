# SPDX-License-Identifier: GPL-2.0
#
# Entry points. The kernel modules themselves are described in Kbuild and
# built by the kernel's build system (tools/scripts/build-modules.sh runs
# make -C <test kernel> M=$(CURDIR)).
#
#   make demo     set up the machine, build, boot a VM and show the port
#   make test     everything: host tests, lints, module build, VM selftests
#   make bench    the C flasher against cmis_fw on emulated modules, in a VM
#   make modules  build cmis_fw.ko and cmis_emu.ko against the test kernel
#   make kernel   build (or reuse) the cached test kernel
#   make setup    install the toolchain (idempotent)

SCRIPTS := tools/scripts

.PHONY: all setup kernel modules host-test test demo bench clean

all: modules

setup:
	@$(SCRIPTS)/setup.sh

kernel: setup
	@$(SCRIPTS)/build-kernel.sh >/dev/null

modules: kernel
	@$(SCRIPTS)/build-modules.sh

host-test:
	cargo test --workspace

test:
	@$(SCRIPTS)/test.sh

demo: modules
	@$(SCRIPTS)/vm-test.sh demo

bench:
	@$(SCRIPTS)/bench.sh

clean:
	@$(SCRIPTS)/build-modules.sh clean
	cargo clean
	rm -rf out
