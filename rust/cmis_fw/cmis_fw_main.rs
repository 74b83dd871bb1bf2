// SPDX-License-Identifier: GPL-2.0

//! CMIS transceiver module firmware update over CDB messages.
//!
//! The Rust counterpart of the ethtool core's `net/ethtool/cmis_cdb.c`,
//! `cmis_fw_update.c` and the MODULE_FW_FLASH part of `module.c`, driven
//! over a generic netlink family of its own (see `Documentation/`).
//!
//! Layout: `cmis_core` is the kernel-independent protocol core (also built
//! and tested on the host), `glue` the only place with `unsafe` code, over
//! our own bindings; the rest (`netlink`, `flash`) is safe Rust.

use kernel::prelude::*;

/// The parts of the protocol core (`rust/cmis_core`) this module uses: not the
/// emulator's model.
pub mod cmis_core {
    #![forbid(unsafe_code)]

    #[path = "../../cmis_core/src/bank.rs"]
    pub mod bank;
    #[path = "../../cmis_core/src/cdb/mod.rs"]
    pub mod cdb;
    #[path = "../../cmis_core/src/fw_update/mod.rs"]
    pub mod fw_update;
    #[path = "../../cmis_core/src/io.rs"]
    pub mod io;
    #[path = "../../cmis_core/src/map.rs"]
    pub mod map;
    #[path = "../../cmis_core/src/uapi.rs"]
    pub mod uapi;
}

#[path = "../glue/bindings.rs"]
mod bindings;
#[path = "../glue/errno.rs"]
pub mod errno;
#[path = "../glue/ethdev.rs"]
pub mod ethdev;
#[path = "../glue/firmware.rs"]
pub mod firmware;
#[path = "../glue/genl.rs"]
pub mod genl;
#[path = "../glue/global.rs"]
pub mod global;
#[path = "../glue/params.rs"]
pub mod params;
#[path = "../glue/queue.rs"]
pub mod queue;
#[path = "../glue/time.rs"]
pub mod time;

mod flash;
mod netlink;

module! {
    type: CmisFw,
    name: "cmis_fw",
    author: "The cmis_fw developers",
    description: "CMIS transceiver module firmware update (CDB)",
    license: "GPL",
}

/// The module: its flashes, the notifier that stops them when their device
/// goes away, and the netlink family that starts them.
///
/// Fields drop in declaration order, after [`Drop::drop`] has stopped
/// every flash: the family (no new requests, running ones finished), the
/// notifier, then the flashes' state.
struct CmisFw {
    _family: genl::Registration,
    _notifier: Pin<KBox<ethdev::NotifierRegistration<flash::DeviceWatch>>>,
    flashes: Pin<KBox<flash::Flashes>>,
}

impl kernel::Module for CmisFw {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let flashes = KBox::pin_init(flash::Flashes::new(), GFP_KERNEL)?;
        // SAFETY: `flashes` is pinned in its box, which `CmisFw` owns;
        // `Flashes::drop` withdraws it after the family and the notifier,
        // the only callers of `get`, are unregistered.
        unsafe { flash::FLASHES.set(&flashes) };
        let notifier = KBox::pin_init(
            ethdev::NotifierRegistration::register(&flash::DEVICE_WATCH),
            GFP_KERNEL,
        )?;
        let name = params::family();
        let family = netlink::FAMILY
            .register(module, Some(name))
            .inspect_err(|e| {
                pr_err!(
                    "cannot register generic netlink family {} ({:?}){}\n",
                    name,
                    e,
                    if name.as_bytes() == b"ethtool" {
                        ": the kernel's ethtool family exists (CONFIG_ETHTOOL_NETLINK)"
                    } else {
                        ""
                    }
                )
            })?;
        pr_info!(
            "generic netlink family {} registered (id {}); {} bytes of state per flash beside \
             the firmware image\n",
            netlink::FAMILY.name(),
            netlink::FAMILY.id(),
            flash::STATE_BYTES
        );
        Ok(Self {
            _family: family,
            _notifier: notifier,
            flashes,
        })
    }
}

impl Drop for CmisFw {
    fn drop(&mut self) {
        // Cancel every flash and wait for them while the family is still
        // registered, so that each requester gets its final notification.
        self.flashes.shutdown();
    }
}
