// SPDX-License-Identifier: GPL-2.0

//! Emulated CMIS transceiver modules behind simulated network ports.
//!
//! A netdevsim-like test bed for CMIS firmware update: each port is a
//! `net_device` whose ethtool operations reach an emulated module. The
//! module model itself lives in the kernel-independent `cmis_core`.

use kernel::prelude::*;

#[path = "../cmis_core/src/lib.rs"]
pub mod cmis_core;

#[path = "../glue/bindings.rs"]
mod bindings;
#[path = "../glue/emu_model.rs"]
pub mod emu_model;
#[path = "../glue/errno.rs"]
pub mod errno;
#[path = "../glue/netdev.rs"]
pub mod netdev;
#[path = "../glue/time.rs"]
pub mod time;

mod port;

module! {
    type: CmisEmu,
    name: "cmis_emu",
    author: "The cmis_fw developers",
    description: "Emulated CMIS transceiver modules on simulated ports",
    license: "GPL",
}

struct CmisEmu {
    _ports: KVec<port::Port>,
}

impl kernel::Module for CmisEmu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut ports = KVec::new();
        ports.push(port::Port::new(0)?, GFP_KERNEL)?;
        Ok(Self { _ports: ports })
    }
}
