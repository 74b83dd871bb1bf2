// SPDX-License-Identifier: GPL-2.0

//! A simulated port: a network device whose ethtool operations are
//! answered by the emulated module plugged into it.

#![forbid(unsafe_code)]

use crate::netdev::{DrvInfo, Operations, Registration};
use kernel::{c_str, prelude::*};

/// Driver name reported by `ethtool -i`.
const DRIVER_NAME: &str = "cmis_emu";

/// State of one port, shared with its ethtool callbacks.
pub(crate) struct PortData {
    index: u32,
}

#[vtable]
impl Operations for PortData {
    fn get_drvinfo(data: &Self, info: &mut DrvInfo) {
        info.set_driver(DRIVER_NAME);
        info.set_bus_info(format_args!("{DRIVER_NAME}.{}", data.index));
    }
}

/// A registered port.
pub(crate) struct Port {
    netdev: Registration<PortData>,
}

impl Port {
    /// Creates port number `index` and registers its network device.
    pub(crate) fn new(index: u32) -> Result<Self> {
        let data = KBox::new(PortData { index }, GFP_KERNEL)?;
        let netdev = Registration::register(c_str!("cmis%d"), data)?;
        pr_info!(
            "port {} registered as {}\n",
            netdev.data().index,
            netdev.name()
        );
        Ok(Self { netdev })
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        pr_info!(
            "port {} ({}) removed\n",
            self.netdev.data().index,
            self.netdev.name()
        );
    }
}
