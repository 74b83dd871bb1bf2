# SPDX-License-Identifier: GPL-2.0
#
# Entry points. The kernel modules themselves are described in Kbuild and
# built by the kernel's build system, in the Debian 13 build root
# (tools/scripts/build-modules.sh runs make -C <kernel> M=<copy of the
# sources under out/> there).
#
#   make demo     set up the machine, build, boot Debian's stock 7.3 kernel
#                 in a VM, load the modules and show the port
#   make test     everything: host tests, lints, module builds, VM selftests
#   make bench    the C flasher against cmis_fw on emulated modules, in a VM
#   make test-sanitize  the VM suite on the sanitizer kernel (KASAN, UBSAN,
#                 reference trackers, fault injection): a few hours
#   make soak     1000 flashes and 200 with faults on one port, on the
#                 sanitizer kernel (soak.sh)
#   make fuzz     coverage-guided fuzzing of the protocol core (AFL++, 10
#                 minutes a target); FUZZ_ARGS="--keep" keeps new inputs
#   make modules  build cmis_fw.ko and cmis_emu.ko for Debian's stock
#                 linux-image-7.3.4+deb13-amd64 (out/modules-stock)
#   make kernel   build (or reuse) the cached 7.3 test kernel
#   make setup    install the toolchain and the Debian 13 root (idempotent)

SCRIPTS := tools/scripts

.PHONY: all setup kernel modules host-test test test-sanitize soak demo bench fuzz clean

all: modules

setup:
	@$(SCRIPTS)/setup.sh

kernel: setup
	@CMIS_KERNEL=7.3 $(SCRIPTS)/build-kernel.sh >/dev/null

modules: setup
	@$(SCRIPTS)/build-modules.sh

host-test:
	cargo test --workspace

test:
	@$(SCRIPTS)/test.sh

test-sanitize:
	@$(SCRIPTS)/test.sh --sanitize

soak:
	@$(SCRIPTS)/test.sh --soak

demo: modules
	@$(SCRIPTS)/vm-test.sh demo

bench:
	@$(SCRIPTS)/bench.sh

fuzz:
	@$(SCRIPTS)/fuzz.sh $(FUZZ_ARGS)

# The modules are built in copies of the sources under out/.
clean:
	cargo clean
	rm -rf out
