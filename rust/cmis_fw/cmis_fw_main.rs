// SPDX-License-Identifier: GPL-2.0

//! CMIS transceiver module firmware update over CDB messages.
//!
//! The Rust counterpart of the ethtool core's `net/ethtool/cmis_cdb.c`,
//! `cmis_fw_update.c` and the MODULE_FW_FLASH part of `module.c`, driven
//! over a generic netlink family of its own (see `Documentation/`).
//!
//! Layout: `cmis_core` is the kernel-independent protocol core (also built
//! and tested on the host), `glue` the only place with `unsafe` code, over
//! Linux 7.3's kernel crate and our own bindings; the rest (`netlink`,
//! `flash`) is safe Rust.

use kernel::{prelude::*, sync::Arc};

/// The parts of the protocol core (`rust/cmis_core`) this module uses: not the
/// emulator's model.
#[path = "../cmis_core/src"]
pub mod cmis_core {
    #![forbid(unsafe_code)]

    pub mod bank;
    pub mod cdb;
    pub mod fw_update;
    pub mod io;
    pub mod map;
    pub mod uapi;
}

#[path = "../glue/bindings.rs"]
mod bindings;
#[path = "../glue/ethdev.rs"]
pub mod ethdev;
#[path = "../glue/genl.rs"]
pub mod genl;
#[path = "../glue/notifier.rs"]
pub mod notifier;
#[path = "../glue/params.rs"]
pub mod params;
#[path = "../glue/queue.rs"]
pub mod queue;
#[path = "../glue/security.rs"]
pub mod security;
#[path = "../glue/time.rs"]
pub mod time;
#[path = "../glue/tracked.rs"]
pub mod tracked;

mod flash;
mod info;
mod netlink;
mod rpc;

module! {
    type: CmisFw,
    name: "cmis_fw",
    authors: ["The cmis_fw developers"],
    description: "CMIS transceiver module firmware update (CDB)",
    license: "GPL",
}

/// The module: its flashes, the notifier that stops them when their device
/// goes away, the one that tells them their requester's socket closed, and
/// the netlink family that starts them; all hold a reference to the
/// flashes.
///
/// Fields drop in declaration order, after [`Drop::drop`] has stopped
/// every flash: the family (no new requests, running ones finished), the
/// notifiers, then the flashes' state.
struct CmisFw {
    _family: genl::Registration<flash::Flashes>,
    _notifier: Pin<KBox<ethdev::NotifierRegistration<flash::Flashes>>>,
    _sockets: Pin<KBox<genl::ReleaseNotifier<flash::Flashes>>>,
    flashes: Arc<flash::Flashes>,
}

impl kernel::Module for CmisFw {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let flashes = Arc::pin_init(flash::Flashes::new(), GFP_KERNEL)?;
        let notifier = KBox::pin_init(
            ethdev::NotifierRegistration::register(flashes.clone()),
            GFP_KERNEL,
        )?;
        let sockets = KBox::pin_init(genl::ReleaseNotifier::register(flashes.clone()), GFP_KERNEL)?;
        let name = params::family();
        let family = netlink::FAMILY
            .register(module, Some(name), flashes.clone())
            .inspect_err(|e| {
                let why = if name.to_bytes() == b"ethtool" {
                    ": the kernel's ethtool family exists (CONFIG_ETHTOOL_NETLINK)"
                } else {
                    ""
                };
                pr_err!("cannot register generic netlink family {name} ({e:?}){why}\n")
            })?;
        pr_info!(
            "generic netlink family {} registered (id {}); {} bytes of state per flash beside \
             the firmware image\n",
            family.name(),
            netlink::FAMILY.id(),
            flash::state_bytes()?
        );
        Ok(Self {
            _family: family,
            _notifier: notifier,
            _sockets: sockets,
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
