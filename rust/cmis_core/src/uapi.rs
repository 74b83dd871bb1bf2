// SPDX-License-Identifier: GPL-2.0

//! The numbers of the `cmis_fw` generic netlink family, shared by the
//! kernel module and its user-space tools.
//!
//! They are ethtool's MODULE_FW_FLASH numbers
//! (`include/uapi/linux/ethtool_netlink.h`, `include/uapi/linux/ethtool.h`)
//! so that the same client code can address either family; see also
//! `Documentation/netlink/specs/cmis_fw.yaml`.

/// Default family name.
pub const FAMILY_NAME: &str = "cmis_fw";
/// Family version.
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group of every flash's notifications.
pub const MCGRP_MONITOR: &str = "monitor";

/// `ETHTOOL_MSG_MODULE_FW_FLASH_ACT` (user to kernel).
pub const MSG_MODULE_FW_FLASH_ACT: u8 = 44;
/// `ETHTOOL_MSG_MODULE_FW_FLASH_NTF` (kernel to user).
pub const MSG_MODULE_FW_FLASH_NTF: u8 = 44;

/// `ETHTOOL_A_MODULE_FW_FLASH_*`.
pub mod attr {
    /// Device (nest of [`super::header`]).
    pub const HEADER: u16 = 1;
    /// Firmware file name (string).
    pub const FILE_NAME: u16 = 2;
    /// Module password (u32).
    pub const PASSWORD: u16 = 3;
    /// [`super::status`] (u32).
    pub const STATUS: u16 = 4;
    /// Error message (string).
    pub const STATUS_MSG: u16 = 5;
    /// Bytes done (uint).
    pub const DONE: u16 = 6;
    /// Bytes in all (uint).
    pub const TOTAL: u16 = 7;
}

/// `ETHTOOL_A_HEADER_*`.
pub mod header {
    /// Interface index (u32).
    pub const DEV_INDEX: u16 = 1;
    /// Interface name (string).
    pub const DEV_NAME: u16 = 2;
    /// Request flags (u32), ignored.
    pub const FLAGS: u16 = 3;
}

/// `ETHTOOL_MODULE_FW_FLASH_STATUS_*`.
pub mod status {
    /// The update began.
    pub const STARTED: u32 = 1;
    /// Bytes are being written.
    pub const IN_PROGRESS: u32 = 2;
    /// The new image runs and is committed.
    pub const COMPLETED: u32 = 3;
    /// The update failed.
    pub const ERROR: u32 = 4;
}
