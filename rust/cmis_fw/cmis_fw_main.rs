// SPDX-License-Identifier: GPL-2.0

//! CMIS transceiver module firmware update over CDB messages.
//!
//! The Rust counterpart of the ethtool core's `net/ethtool/cmis_cdb.c`,
//! `cmis_fw_update.c` and the MODULE_FW_FLASH part of `module.c`, driven
//! over a generic netlink family of its own (see `Documentation/`).
//!
//! Layout: `cmis_core` is the kernel-independent protocol core (also built
//! and tested on the host), `glue` the only place with `unsafe` code, over
//! our own bindings; the rest is safe Rust.

use kernel::prelude::*;

#[path = "../cmis_core/src/lib.rs"]
pub mod cmis_core;

#[path = "../glue/bindings.rs"]
mod bindings;
#[path = "../glue/errno.rs"]
pub mod errno;
#[path = "../glue/genl.rs"]
pub mod genl;

mod netlink;

module! {
    type: CmisFw,
    name: "cmis_fw",
    author: "The cmis_fw developers",
    description: "CMIS transceiver module firmware update (CDB)",
    license: "GPL",
}

struct CmisFw {
    _family: genl::Registration,
}

impl kernel::Module for CmisFw {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let family = netlink::FAMILY.register(module)?;
        pr_info!(
            "generic netlink family {} registered (id {})\n",
            netlink::FAMILY_NAME,
            netlink::FAMILY.id()
        );
        Ok(Self { _family: family })
    }
}
