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
    /// Where a failed update left the module, as read back from it, and
    /// what to do next (nest of [`super::outcome`]): `cmis_fw`'s own, in
    /// ERROR notifications only; ethtool skips it.
    pub const OUTCOME: u16 = 8;
}

/// Attributes of [`attr::OUTCOME`].
pub mod outcome {
    /// What the update left behind (u32, [`super::left`]).
    pub const LEFT: u16 = 1;
    /// What became of the open download (u32, [`super::abort`]); with
    /// [`super::left::DOWNLOAD_BEGUN`] only.
    pub const ABORT: u16 = 2;
    /// What to do next (u32, [`super::action`]).
    pub const ACTION: u16 = 3;
    /// Active firmware version read back, 00h:39-40 (string
    /// "MAJOR.MINOR"; "0.0": no image, "255.255": invalid).
    pub const ACTIVE_VERSION: u16 = 4;
    /// Inactive firmware version read back, 01h:128-129 (string).
    pub const INACTIVE_VERSION: u16 = 5;
    /// The running bank by Get Firmware Info (u32: 0 A, 1 B).
    pub const RUNNING_BANK: u16 = 6;
    /// The committed bank by Get Firmware Info (u32: 0 A, 1 B).
    pub const COMMITTED_BANK: u16 = 7;
    /// Banks holding a valid image by Get Firmware Info (u32: bit 0 A,
    /// bit 1 B).
    pub const VALID_BANKS: u16 = 8;
    /// Bank A's image version by Get Firmware Info (string
    /// "MAJOR.MINOR.BUILD").
    pub const BANK_A_VERSION: u16 = 9;
    /// Bank B's image version by Get Firmware Info (string).
    pub const BANK_B_VERSION: u16 = 10;
    /// The CDB status byte read back, 00h:37 (u32).
    pub const CDB_STATUS: u16 = 11;
    /// The command a busy CDB holds, 9Fh:128-129 (u32).
    pub const BUSY_COMMAND: u16 = 12;
}

/// Values of [`outcome::LEFT`].
pub mod left {
    /// Nothing changed: the previous image runs, committed.
    pub const UNCHANGED: u32 = 1;
    /// A download was begun (see [`super::outcome::ABORT`]); the
    /// previous image runs, committed.
    pub const DOWNLOAD_BEGUN: u32 = 2;
    /// The new image is complete in the inactive bank, not run.
    pub const DOWNLOADED: u32 = 3;
    /// Run was sent: the module may run the new image, uncommitted.
    pub const RUN_SENT: u32 = 4;
    /// The new image runs, uncommitted.
    pub const RUNNING_UNCOMMITTED: u32 = 5;
    /// Commit was sent and not confirmed.
    pub const COMMIT_SENT: u32 = 6;
}

/// Values of [`outcome::ABORT`].
pub mod abort {
    /// No download was open.
    pub const NOT_NEEDED: u32 = 1;
    /// The module cannot abort downloads.
    pub const NOT_SUPPORTED: u32 = 2;
    /// The CDB stayed busy, so Abort was not sent.
    pub const CDB_BUSY: u32 = 3;
    /// Aborted.
    pub const ABORTED: u32 = 4;
    /// Abort was sent and failed.
    pub const FAILED: u32 = 5;
    /// The update was stopped before Abort could be sent.
    pub const SKIPPED: u32 = 6;
}

/// Values of [`outcome::ACTION`].
pub mod action {
    /// Nothing is half done: retry once the cause is dealt with.
    pub const RETRY: u32 = 1;
    /// A download or command is left in the module: reset it (or wait
    /// for the command), then retry.
    pub const RESET_THEN_RETRY: u32 = 2;
    /// The new image may run uncommitted: commit it, or reset the module
    /// to boot the committed previous one.
    pub const COMMIT_OR_RESET: u32 = 3;
    /// Commit was not confirmed: reset the module and check its version.
    pub const RESET_AND_CHECK: u32 = 4;
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
