// SPDX-License-Identifier: GPL-2.0

//! Emulated CMIS transceiver modules behind simulated network ports.
//!
//! A netdevsim-like test bed for CMIS firmware update: each port is a
//! `net_device` whose ethtool operations reach an emulated module. The
//! module model itself lives in the kernel-independent `cmis_core`.

use kernel::{prelude::*, sync::Arc};

/// The parts of the protocol core (`rust/cmis_core`) this module uses: not the
/// firmware update.
#[path = "../cmis_core/src"]
pub mod cmis_core {
    #![forbid(unsafe_code)]

    pub mod bank;
    pub mod cdb;
    pub mod emu;
    pub mod image;
    pub mod io;
    pub mod map;
    pub mod text;
}

#[path = "../glue/bindings.rs"]
mod bindings;
#[path = "../glue/debugfs.rs"]
pub mod debugfs;
#[path = "../glue/emu_model.rs"]
pub mod emu_model;
#[path = "../glue/netdev.rs"]
pub mod netdev;
#[path = "../glue/time.rs"]
pub mod time;

mod controls;
mod port;

module! {
    type: CmisEmu,
    name: "cmis_emu",
    authors: ["The cmis_fw developers"],
    description: "Emulated CMIS transceiver modules on simulated ports",
    license: "GPL",
}

struct CmisEmu {
    ports: Arc<controls::Ports>,
}

impl kernel::Module for CmisEmu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The ports' parent device, as a real port's PCI function: runtime
        // PM that the ethtool core and cmis_fw keep resumed while they use
        // a module.
        let ports = controls::Ports::new(netdev::Parent::new(c"cmis_emu")?)?;
        let mut root = debugfs::Dir::create(c"cmis_emu");
        for attr in controls::ROOT_FILES.iter() {
            root.file(&ports, attr)?;
        }
        ports.attach(root.finish()?);
        // One port to start with; more through debugfs.
        if let Err(e) = ports.add(1, false) {
            ports.shutdown();
            return Err(e);
        }
        Ok(Self { ports })
    }
}

impl Drop for CmisEmu {
    fn drop(&mut self) {
        // Breaks the cycle root directory -> file -> ports -> root.
        self.ports.shutdown();
    }
}
