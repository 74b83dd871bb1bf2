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
    /// How far to go (u32, [`super::until`]): `cmis_fw`'s own, in
    /// requests; without it a flash goes to the end (committed), a run
    /// stops once the image runs.
    pub const UNTIL: u16 = 9;
    /// The version the image is, "MAJOR.MINOR[.BUILD]" (string):
    /// `cmis_fw`'s own, in flash requests. What the module runs or holds
    /// already is not downloaded again, and an image of another version
    /// is never committed ([`crate::fw_update::Options::version`]).
    pub const VERSION: u16 = 10;
    /// How long the phase a notification announces may last, in ms
    /// (u32): `cmis_fw`'s own, in IN_PROGRESS notifications after the
    /// download, beside the phase's status message (devlink's status
    /// timeout).
    pub const TIMEOUT: u16 = 11;
    /// The version the module ran before the job, "MAJOR.MINOR" (string,
    /// the version registers'): `cmis_fw`'s own, in COMPLETED.
    pub const VERSION_BEFORE: u16 = 12;
    /// The version the module runs after the job (string), in COMPLETED.
    pub const VERSION_AFTER: u16 = 13;
    /// Download with the link up (flag): `cmis_fw`'s own, in flash
    /// requests that stop after the download ([`until::DOWNLOADED`]), for
    /// modules whose CDB runs in the background.
    pub const LINK_UP: u16 = 14;
    /// Run in the hitless mode (flag): `cmis_fw`'s own, in flash and run
    /// requests, for modules that advertise hitless restart.
    pub const HITLESS: u16 = 15;
}

/// Values of [`attr::UNTIL`].
pub mod until {
    /// The image downloaded into the inactive bank, not run.
    pub const DOWNLOADED: u32 = 1;
    /// The new image runs, uncommitted.
    pub const RUNNING: u32 = 2;
    /// The new image runs, committed.
    pub const COMMITTED: u32 = 3;
}

/// `cmis_fw`'s own: run the inactive bank's image (request: header,
/// password, until: [`until::RUNNING`] or [`until::COMMITTED`]); progress
/// as [`MSG_MODULE_FW_FLASH_NTF`] notifications.
pub const MSG_MODULE_FW_RUN_ACT: u8 = 101;
/// `cmis_fw`'s own: commit the running image (request: header,
/// password); progress as [`MSG_MODULE_FW_FLASH_NTF`] notifications.
pub const MSG_MODULE_FW_COMMIT_ACT: u8 = 102;
/// `cmis_fw`'s own: cancel the job running on a device (request:
/// header). The job aborts a download in progress and ends with an ERROR
/// notification ("cancelled"); the request fails with `ENOENT` if no job
/// runs there.
pub const MSG_MODULE_FW_CANCEL_ACT: u8 = 103;

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

/// `cmis_fw`'s own: what a port's module is and holds (request and
/// reply; the request takes [`attr::HEADER`] and [`attr::PASSWORD`]).
pub const MSG_MODULE_INFO_GET: u8 = 100;

/// Attributes of the [`MSG_MODULE_INFO_GET`] reply, after the request's
/// (1-3: header, unused, password).
pub mod info {
    /// Device (nest of [`super::header`]).
    pub const HEADER: u16 = 1;
    /// SFF-8024 identifier, 00h:0 (u32).
    pub const IDENTIFIER: u16 = 16;
    /// CMIS revision, 00h:1 (u32: major in bits 7-4).
    pub const CMIS_REVISION: u16 = 17;
    /// Module state, 00h:3 bits 3-1 (u32).
    pub const MODULE_STATE: u16 = 18;
    /// Vendor name (string).
    pub const VENDOR: u16 = 19;
    /// Vendor part number (string).
    pub const PART_NUMBER: u16 = 20;
    /// Vendor revision (string).
    pub const VENDOR_REVISION: u16 = 21;
    /// Vendor serial number (string).
    pub const SERIAL: u16 = 22;
    /// The CDB's capabilities (nest of [`super::cdb_caps`]); absent for a
    /// module without a CDB.
    pub const CDB: u16 = 23;
    /// Where the firmware view comes from (u32, [`super::source`]).
    pub const SOURCE: u16 = 24;
    /// Why there is no bank view (u32, [`super::no_banks`]); with
    /// [`super::source::REGISTERS`] only.
    pub const NO_BANKS: u16 = 25;
    /// One image (nest of [`super::image`], repeated: bank A, bank B, the
    /// factory image); with [`super::source::FIRMWARE_INFO`] only.
    pub const IMAGE: u16 = 26;
    /// Active firmware version, 00h:39-40 (string "MAJOR.MINOR"); with
    /// [`super::source::REGISTERS`] only.
    pub const ACTIVE_VERSION: u16 = 27;
    /// Inactive firmware version, 01h:128-129 (string).
    pub const INACTIVE_VERSION: u16 = 28;
    /// The status byte of a busy CDB, 00h:37 (u32), with
    /// [`super::no_banks::CDB_BUSY`].
    pub const CDB_STATUS: u16 = 29;
    /// The last job `cmis_fw` ran on the port since the device was
    /// registered (nest of [`super::last_job`]); absent if none.
    pub const LAST_JOB: u16 = 30;
}

/// Attributes of [`info::LAST_JOB`].
pub mod last_job {
    /// What it was (u32, [`super::job`]).
    pub const JOB: u16 = 1;
    /// How it ended (u32, [`super::status`]: COMPLETED or ERROR).
    pub const STATUS: u16 = 2;
    /// Its last notification's message (string), if it had one.
    pub const STATUS_MSG: u16 = 3;
    /// Image file name (string), for a flash.
    pub const FILE_NAME: u16 = 4;
    /// Version running before, "MAJOR.MINOR" (string), if known.
    pub const VERSION_BEFORE: u16 = 5;
    /// Version running after (string): a failure's, as read back.
    pub const VERSION_AFTER: u16 = 6;
    /// How long it took, in ms (u32).
    pub const DURATION_MS: u16 = 7;
    /// When it ended, in seconds since the epoch (uint, the kernel's real
    /// time clock).
    pub const ENDED: u16 = 8;
}

/// Values of [`last_job::JOB`].
pub mod job {
    /// A flash (download, then as far as asked).
    pub const FLASH: u32 = 1;
    /// A run of the inactive image.
    pub const RUN: u32 = 2;
    /// A commit of the running image.
    pub const COMMIT: u32 = 3;
}

/// Attributes of [`info::CDB`].
pub mod cdb_caps {
    /// CdbInstancesSupported (u32).
    pub const INSTANCES: u16 = 1;
    /// Background mode supported (u32, 0 or 1).
    pub const BACKGROUND: u16 = 2;
    /// EPL pages (u32).
    pub const EPL_PAGES: u16 = 3;
    /// Abort Firmware Download supported (u32, 0 or 1); this and the
    /// following from Firmware Management Features (0041h), if answered.
    pub const ABORT: u16 = 4;
    /// Hitless restart possible (u32, 0 or 1).
    pub const HITLESS_RESTART: u16 = 5;
    /// Write mechanism bits, 0041h byte 5 (u32).
    pub const WRITE_MECHANISM: u16 = 6;
    /// StartCmdPayloadSize (u32).
    pub const START_PAYLOAD_SIZE: u16 = 7;
}

/// Values of [`info::SOURCE`].
pub mod source {
    /// Get Firmware Info (0100h): banks, running, committed, valid.
    pub const FIRMWARE_INFO: u32 = 1;
    /// The version registers: running and inactive versions only.
    pub const REGISTERS: u32 = 2;
}

/// Values of [`info::NO_BANKS`].
pub mod no_banks {
    /// The module has no CDB.
    pub const NO_CDB: u32 = 1;
    /// The CDB is busy with a command ([`super::info::CDB_STATUS`]).
    pub const CDB_BUSY: u32 = 2;
    /// The module does not list Get Firmware Info among its commands.
    pub const NOT_SUPPORTED: u32 = 3;
    /// Get Firmware Info (or a command before it) failed.
    pub const FAILED: u32 = 4;
    /// The CDB was not asked: a flash or another request uses it.
    pub const CDB_IN_USE: u32 = 5;
    /// The module is in ModuleFault.
    pub const MODULE_FAULT: u32 = 6;
}

/// Attributes of [`info::IMAGE`].
pub mod image {
    /// Which image (u32, [`super::slot`]).
    pub const SLOT: u16 = 1;
    /// Running (u32, 0 or 1; banks only).
    pub const RUNNING: u16 = 2;
    /// Committed (u32, 0 or 1; banks only).
    pub const COMMITTED: u16 = 3;
    /// Holds a valid image (u32, 0 or 1).
    pub const VALID: u16 = 4;
    /// Version (string "MAJOR.MINOR.BUILD"), if described.
    pub const VERSION: u16 = 5;
    /// The vendor's extra version string (string), if not empty.
    pub const EXTRA: u16 = 6;
}

/// Values of [`image::SLOT`].
pub mod slot {
    /// Bank A.
    pub const BANK_A: u32 = 0;
    /// Bank B.
    pub const BANK_B: u32 = 1;
    /// The factory image.
    pub const FACTORY: u32 = 2;
}

/// `cmis_fw`'s own: run one CDB command on a port's module (request:
/// header, [`cdb::COMMAND`], [`cdb::SCOPE`], optionally [`cdb::LPL`],
/// [`cdb::EPL`], [`cdb::INSTANCE`], [`cdb::TIMEOUT_MS`]; the reply
/// carries the outcome). The scope rules are fwctl's
/// (`cmis_core::cdb::scope`).
pub const MSG_MODULE_CDB_RPC: u8 = 104;
/// `cmis_fw`'s own: what a port's module CDB supports and which scopes
/// the caller may use (request: header; reply: [`info::CDB`] and the
/// [`cdb`] attributes from [`cdb::GROUPS`] on), `FWCTL_INFO`'s
/// counterpart.
pub const MSG_MODULE_CDB_INFO_GET: u8 = 105;

/// Attributes of [`MSG_MODULE_CDB_RPC`] and [`MSG_MODULE_CDB_INFO_GET`],
/// after [`info`]'s (the family has one attribute space).
pub mod cdb {
    /// Command id (u32, 0-FFFFh), in the request and the reply.
    pub const COMMAND: u16 = 31;
    /// Local payload (binary, at most 120 bytes).
    pub const LPL: u16 = 32;
    /// Extended payload (binary, at most what the module's EPL pages
    /// hold).
    pub const EPL: u16 = 33;
    /// The scope the caller declares (u32, [`super::scope`]).
    pub const SCOPE: u16 = 34;
    /// CDB instance (u32, 1 or 2): in the request the one to use (default:
    /// the first not busy), in the reply the one used.
    pub const INSTANCE: u16 = 35;
    /// Give up this long after the trigger (u32, ms; default 65535).
    pub const TIMEOUT_MS: u16 = 36;
    /// The command's final CdbStatus byte (u32): 01h success, 40h-7Fh
    /// failure.
    pub const STATUS: u16 = 37;
    /// What the status byte means (string).
    pub const STATUS_MSG: u16 = 38;
    /// The reply payload, its length and check code verified (binary;
    /// absent when empty).
    pub const REPLY: u16 = 39;
    /// From the trigger to the poll that saw the command done (u32, µs).
    pub const DURATION_US: u16 = 40;
    /// Command groups the module answered (u32: bit `n` for feature
    /// query 0040h + `n`: module, firmware management, performance
    /// monitoring, BERT and diagnostics, security, externally defined).
    pub const GROUPS: u16 = 41;
    /// Commands 0000h-00FFh Module Features (0040h) lists (binary, 32
    /// bytes: bit `id % 8` of byte `id / 8`).
    pub const COMMANDS: u16 = 42;
    /// MaxCompletionTime of 0040h (u32, ms).
    pub const MAX_COMPLETION_MS: u16 = 43;
    /// The scopes the caller may use (u32: bit `n` for scope `n`).
    pub const SCOPES: u16 = 44;
    /// Instance 1 was busy, so no feature query was asked: its status
    /// byte (u32).
    pub const BUSY_STATUS: u16 = 45;
}

/// Values of [`cdb::SCOPE`]: fwctl's `enum fwctl_rpc_scope`.
pub mod scope {
    /// Configuration the spec defines.
    pub const CONFIGURATION: u32 = 0;
    /// Reads only.
    pub const DEBUG_READ_ONLY: u32 = 1;
    /// Changes behaviour until reset; taints the kernel.
    pub const DEBUG_WRITE: u32 = 2;
    /// Anything; taints, needs `CAP_SYS_RAWIO`.
    pub const DEBUG_WRITE_FULL: u32 = 3;
}
