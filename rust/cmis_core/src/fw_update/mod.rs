// SPDX-License-Identifier: GPL-2.0

//! Firmware update of a CMIS module over CDB: the counterpart of
//! `net/ethtool/cmis_fw_update.c`.
//!
//! [`update`] runs the whole sequence over a [`ModuleIo`]: the kernel's
//! flash work item and the host tests call the same code. It is written
//! as the sequence it is, one function per stage, each handing the next
//! what it learnt:
//!
//! 1. `Session::prepare`: identity, CDB advertisement, password, Module
//!    Features (0040h), a CDB still busy with an earlier command;
//! 2. `Session::plan`: Firmware Management Features (0041h), the write
//!    mechanism and block size, Get Firmware Info (0100h, optional) and
//!    the version registers;
//! 3. `Session::download`: Start (0101h), the blocks (0103h/0104h),
//!    Complete (0107h); any failure in it is followed by Abort (0102h),
//!    sent only into an idle CDB;
//! 4. `Session::run_image`: Run (0109h) with a DelayToReset, so that its
//!    status can be read, then the wait for proof that the module
//!    restarted (a reset witness: a volatile bit of 00h:31 that only a
//!    reset clears) into the new image;
//! 5. `Session::commit`: Commit (010Ah), checked, then the driver's
//!    module reset, after which the module must come back running the
//!    committed new image.
//!
//! Success is reported only on evidence read back from the module: the
//! version registers showing the version the module gave the downloaded
//! image (different from the old one), or Get Firmware Info naming the
//! new bank as running (and then committed), or, for an image of the old
//! version, a proven reset. Without it the update fails and the old image
//! is not committed.

pub mod inventory;
#[cfg(test)]
mod tests;
pub mod version;

use super::bank::BankId;
use super::cdb::advert::{
    duration, epl_access_max, lpl_access_max, module_state, state_is_up, write_mechanism,
    CdbAdvert, FwFeatures, FwInfo, Identity, ImageVersion, ModuleFeatures, RegVersion, FAULT_CAUSE,
    FW_FEATURES_LEN, FW_INFO_MAX_LEN, FW_INFO_MIN_LEN, INACTIVE_FW_VERSION, MODULE_FEATURES_LEN,
};
use super::cdb::exchange::{
    self, module_flag, retry, AccessFailure, CdbError, Done, Expect, Link, Request, POLL_MIN,
};
use super::cdb::{
    Command, CommandId, EncodeError, Failure, Status, CDB_PAGE, CMD_ID_OFFSET, EPL_FIRST_PAGE,
    LPL_MAX_LEN,
};
use super::io::{
    Backoff, Errno, Interrupt, ModuleIo, ModuleReset, Nanos, Notice, Phase, NS_PER_MS,
};
use super::map::{lower, Access, PAGE_SIZE, UPPER_START};
use super::uapi;
use core::fmt;
use version::{Match, Version};

pub use super::io::Degraded;

/// No command is given less than this, whatever the module advertises:
/// modules are known to advertise durations shorter than they take.
pub const MIN_TIMEOUT_MS: u32 = 3_000;
/// The longest duration the 0041h fields can express (65535 x 10 ms).
pub const MAX_TIMEOUT_MS: u32 = 655_350;
/// Timeout of a command whose duration the module does not give, and of
/// the first commands after a reset (a freshly booted module may answer
/// slowly), as upstream.
pub const DEFAULT_TIMEOUT_MS: u32 = 65_535;
/// Largest LPL firmware block: the local payload less the block address.
pub const LPL_BLOCK_MAX: usize = LPL_MAX_LEN - 4;
/// Largest EPL firmware block.
pub const EPL_BLOCK_MAX: usize = super::cdb::EPL_MAX_LEN;
/// Largest start payload (vendor header) a module may ask for.
pub const START_PAYLOAD_MAX: u8 = 112;
/// DelayToReset sent with Run to a background-mode module: it resets this
/// long after it reports completion, so that the host reads the flag and
/// the status first. Twice the longest interval between two polls, plus
/// room for the two reads (a few ms even on mailbox-based drivers). Were
/// the status missed, the reset would still be seen; only a refusal of
/// Run would go unread.
pub const RUN_DELAY_MS: u16 = 2 * (exchange::POLL_MAX / NS_PER_MS) as u16 + 10;
/// DelayToReset for a foreground-mode module, polled less often.
pub const RUN_DELAY_FOREGROUND_MS: u16 =
    2 * (exchange::FOREGROUND_POLL_MAX / NS_PER_MS) as u16 + 10;
/// The module-level interrupt masks (00h:31), volatile and host-writable.
const MASKS: u8 = 31;
/// Interval of the module-state polls while waiting for a module to come
/// back from a reset: from [`POLL_MIN`] doubling up to this.
const RESET_POLL_MAX: Nanos = 20 * NS_PER_MS;
/// After a hitless Run, how often to look at what the module runs: such a
/// module may tell nothing else (no state change, no reset, its volatile
/// registers kept).
const HITLESS_PROBE: Nanos = 200 * NS_PER_MS;

/// A host password (00h:122-125): never shown, and wiped when dropped.
#[derive(PartialEq, Eq)]
pub struct Password(u32);

impl Password {
    /// A password of value `value`.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        wipe(core::slice::from_mut(&mut self.0));
    }
}

/// Zeroes `secret` so that the memory no longer holds it, not only the
/// program's view of it: the store is made observable, so the compiler
/// keeps it.
fn wipe<T: Copy + Default>(secret: &mut [T]) {
    secret.fill(T::default());
    core::hint::black_box(secret);
}

/// What the requester asks for beyond the image.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Host password, written to 00h:122-125 and checked with Query
    /// Status before any command.
    pub password: Option<Password>,
    /// How long the module may stay away after Run or the final reset.
    pub reset_timeout_ms: u32,
    /// Minimum time between two progress notices (besides the 1% step).
    pub progress_interval_ms: u32,
    /// How far to go.
    pub until: Until,
    /// The version the requester says the image is: an update does
    /// nothing if the module runs it already, runs the inactive bank
    /// without a download if that holds it, and fails (before Run where
    /// the module tells, else before Commit) if the image is another.
    pub version: Option<Version>,
    /// The port passes traffic meanwhile: only a download
    /// ([`Until::Downloaded`]), only into a module whose CDB runs
    /// commands in the background (a foreground-mode module NACKs every
    /// access while it works, the host's link management's too).
    pub link_up: bool,
    /// Run in the hitless mode (0109h mode 01h), which keeps the traffic:
    /// only on a module that advertises it (0041h HitlessRestart), else
    /// refused before Run; the update then ends without the final reset
    /// where Get Firmware Info proves the commit.
    pub hitless: bool,
}

impl Options {
    /// No password, 60 s for the module to come back, progress at most
    /// every 100 ms and every 1%, to the end (committed).
    pub const DEFAULT: Self = Self {
        password: None,
        reset_timeout_ms: 60_000,
        progress_interval_ms: 100,
        until: Until::Committed,
        version: None,
        link_up: false,
        hitless: false,
    };
}

impl Until {
    /// From its number in the netlink interface ([`uapi::until`]).
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            uapi::until::DOWNLOADED => Some(Self::Downloaded),
            uapi::until::RUNNING => Some(Self::Running),
            uapi::until::COMMITTED => Some(Self::Committed),
            _ => None,
        }
    }
}

/// How far an update goes; what a successful one reached. The operator
/// stops early to download now and switch later (`--no-run`), or to try
/// the new image before committing it (`--no-commit`): [`run`] and
/// [`commit`] take it from there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Until {
    /// The image is complete and valid in the inactive bank; the module
    /// runs its previous image, committed.
    Downloaded,
    /// The new image runs, proven, uncommitted: a module reset boots the
    /// committed previous one.
    Running,
    /// The new image runs and is committed, proven.
    #[default]
    Committed,
}

/// The part of the update that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reading the identifier, revision and state (00h:0-3).
    Identify,
    /// Reading the CDB advertisement (01h:163-167).
    Advertisement,
    /// Entering the password and checking it with Query Status (0000h).
    Password,
    /// Module Features (0040h).
    ModuleFeatures,
    /// Firmware Management Features (0041h).
    FwFeatures,
    /// Get Firmware Info (0100h).
    FwInfo,
    /// Reading the version registers.
    Versions,
    /// Checking the image against what the module asks for.
    Image,
    /// Start Firmware Download (0101h).
    Start,
    /// Write Firmware Block (0103h or 0104h) at this block address.
    Write(u32),
    /// Complete Firmware Download (0107h).
    Complete,
    /// Run Firmware Image (0109h).
    Run,
    /// Waiting for the module to restart and come back.
    Restart,
    /// Checking that the new image runs.
    Verify,
    /// Commit Firmware Image (010Ah).
    Commit,
    /// The driver's module reset and the check after it.
    Reset,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identify => f.write_str("reading the module's identity"),
            Self::Advertisement => f.write_str("reading the module's CDB advertisement"),
            Self::Password => f.write_str("entering the password"),
            Self::ModuleFeatures => f.write_str("Module Features (0040h)"),
            Self::FwFeatures => f.write_str("Firmware Management Features (0041h)"),
            Self::FwInfo => f.write_str("Get Firmware Info (0100h)"),
            Self::Versions => f.write_str("reading the firmware version registers"),
            Self::Image => f.write_str("checking the image"),
            Self::Start => f.write_str("Start Firmware Download (0101h)"),
            Self::Write(a) => write!(f, "Write Firmware Block at address {a:#x}"),
            Self::Complete => f.write_str("Complete Firmware Download (0107h)"),
            Self::Run => f.write_str("Run Firmware Image (0109h)"),
            Self::Restart => f.write_str("waiting for the module to restart"),
            Self::Verify => f.write_str("checking the running image"),
            Self::Commit => f.write_str("Commit Firmware Image (010Ah)"),
            Self::Reset => f.write_str("resetting the module"),
        }
    }
}

/// Why the update failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A command failed.
    Cdb(CdbError),
    /// A plain register access failed with this error.
    Access(Errno),
    /// The identifier is not a CMIS module type.
    NotCmis(u8),
    /// The module has flat memory: no pages, no CDB.
    FlatMemory,
    /// CMIS revision below 4.0.
    RevisionTooOld(u8),
    /// The module does not support CDB.
    NoCdb,
    /// The CDB is busy with an earlier command (its status byte).
    CdbBusy(u8),
    /// Query Status says the password was not accepted.
    PasswordRejected,
    /// Neither a usable LPL nor EPL write mechanism (0041h byte 141, and
    /// the EPL pages present).
    NoWriteMechanism(u8),
    /// StartCmdPayloadSize over 112.
    StartPayloadTooLarge(u8),
    /// The image is smaller than the start payload.
    ImageTooSmall {
        /// Image size.
        size: usize,
        /// Start payload size.
        need: usize,
    },
    /// The image does not fit the 32-bit size field.
    ImageTooLarge(usize),
    /// The module is in ModuleFault, with this fault cause (00h:41).
    ModuleFault(u8),
    /// The module did not come back within this many ms.
    NotBack(u32),
    /// No sign that the module restarted within this many ms of Run.
    NoRestart(u32),
    /// After the restart the module runs its previous bank.
    OldImageRunning(BankId),
    /// The driver does not reset modules (it left `ETH_RESET_PHY` set),
    /// so nothing proves the commit.
    ResetIgnored,
    /// No sign of the driver's module reset within this many ms, so
    /// nothing proves the commit.
    ResetNotSeen(u32),
    /// After a restart the module runs this version, not the downloaded
    /// one (`None`: the module never said which version that is).
    WrongVersion {
        /// Active version read (00h:39-40).
        running: RegVersion,
        /// The downloaded image's version, as the module gave it.
        expected: Option<RegVersion>,
    },
    /// After Complete, Get Firmware Info says the downloaded bank is not
    /// valid.
    NewImageInvalid(BankId),
    /// After Commit this (new) bank is not committed.
    NotCommitted(BankId),
    /// Run was asked for, but the inactive bank holds no valid image
    /// (by Get Firmware Info, else its version register).
    NoImageToRun,
    /// The image is not the version the requester said it is.
    VersionMismatch {
        /// The version the requester gave.
        wanted: Version,
        /// The downloaded image's, as the module shows it.
        found: Version,
    },
    /// A download with the link up was asked of a module whose CDB runs
    /// commands in the foreground, or an update with the link up was asked
    /// to go beyond the download.
    LinkUp {
        /// The module's CDB runs in the foreground.
        foreground: bool,
    },
    /// A hitless run was asked of a module that does not advertise it.
    HitlessNotSupported,
    /// The requester cancelled the update.
    Cancelled,
    /// The requester stopped the update (its device is going away).
    Stopped,
    /// A command could not be encoded (a bug: payloads are bounded).
    Encode(EncodeError),
}

impl Cause {
    /// The access error the update ended on, if it ended on one: the
    /// host driver may have said more about it.
    pub fn access_errno(&self) -> Option<Errno> {
        match self {
            Self::Access(errno) => Some(*errno),
            Self::Cdb(e) => e.access_errno(),
            _ => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cdb(e) => write!(f, "{e}"),
            Self::Access(e) => write!(f, "EEPROM access failed ({e})"),
            Self::NotCmis(id) => write!(f, "identifier {id:#04x} is not a CMIS module"),
            Self::FlatMemory => f.write_str("module has flat memory, hence no CDB"),
            Self::RevisionTooOld(r) => write!(
                f,
                "CMIS revision {}.{} does not support firmware update",
                r >> 4,
                r & 0xf
            ),
            Self::NoCdb => f.write_str("module does not support CDB"),
            Self::CdbBusy(s) => write!(
                f,
                "the CDB is still busy with an earlier command (status {s:#04x}); reset the \
                 module (ethtool --reset DEV phy) or wait, then retry"
            ),
            Self::PasswordRejected => f.write_str("password not accepted"),
            Self::NoWriteMechanism(m) => {
                write!(f, "no usable firmware write mechanism ({m:#04x})")
            }
            Self::StartPayloadTooLarge(n) => {
                write!(f, "start payload size {n} exceeds {START_PAYLOAD_MAX}")
            }
            Self::ImageTooSmall { size, need } => write!(
                f,
                "image of {size} byte{} is smaller than the {need}-byte start payload",
                if *size == 1 { "" } else { "s" }
            ),
            Self::ImageTooLarge(n) => write!(f, "image of {n} bytes is too large"),
            Self::ModuleFault(c) => write!(f, "module is in ModuleFault (fault cause {c:#04x})"),
            Self::NotBack(ms) => write!(f, "module not ready within {ms} ms"),
            Self::NoRestart(ms) => write!(
                f,
                "module did not restart into the new image within {ms} ms"
            ),
            Self::ResetIgnored => f.write_str(
                "the driver does not reset the module (ETH_RESET_PHY), so the commit cannot \
                 be proven: reset or power-cycle the module and check its version",
            ),
            Self::ResetNotSeen(ms) => write!(
                f,
                "no module reset seen within {ms} ms of the driver's reset, so the commit \
                 cannot be proven: reset or power-cycle the module and check its version"
            ),
            Self::OldImageRunning(b) => write!(
                f,
                "module still runs its previous image (bank {})",
                b.name()
            ),
            Self::WrongVersion {
                running,
                expected: Some(v),
            } => write!(f, "module runs version {running}, not the new image's {v}"),
            Self::WrongVersion {
                running,
                expected: None,
            } => write!(
                f,
                "module runs version {running} and never reported the new image's version"
            ),
            Self::NoImageToRun => f.write_str("the inactive bank holds no valid image to run"),
            Self::NewImageInvalid(b) => write!(
                f,
                "Get Firmware Info says the downloaded image (bank {}) is not valid",
                b.name()
            ),
            Self::NotCommitted(b) => write!(f, "new image (bank {}) not committed", b.name()),
            Self::VersionMismatch { wanted, found } => write!(
                f,
                "the image is version {found}, not the {wanted} asked for"
            ),
            Self::LinkUp { foreground: true } => f.write_str(
                "the module's CDB runs commands in the foreground, so it cannot download \
                 with the link up; bring the port down",
            ),
            Self::LinkUp { foreground: false } => {
                f.write_str("with the link up only a download is possible: Run resets the module")
            }
            Self::HitlessNotSupported => {
                f.write_str("the module does not advertise hitless restart (0041h HitlessRestart)")
            }
            Self::Cancelled => f.write_str("cancelled"),
            Self::Stopped => f.write_str("stopped"),
            Self::Encode(e) => write!(f, "cannot encode command: {e}"),
        }
    }
}

/// What became of the download after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortOutcome {
    /// No download was open.
    NotNeeded,
    /// The module does not support Abort Firmware Download.
    NotSupported,
    /// The CDB stayed busy, so Abort was not sent (status byte).
    CdbBusy(u8),
    /// Aborted.
    Aborted,
    /// Abort was sent and failed.
    Failed(CdbError),
    /// The requester stopped the update before Abort could be sent.
    Skipped,
}

/// Where the module stands after a failed update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// Nothing was changed: the previous image runs and stays committed.
    Unchanged,
    /// A download was begun; see the abort outcome. The previous image
    /// runs and stays committed.
    DownloadBegun(AbortOutcome),
    /// The new image is complete in the inactive bank; the previous image
    /// runs and stays committed.
    Downloaded,
    /// Run was sent: the module may run the new image, uncommitted; its
    /// next reset boots the committed previous image.
    RunSent,
    /// The new image runs, not committed: commit it, or reset the module
    /// to go back to the previous one.
    RunningUncommitted,
    /// Commit was sent and could not be confirmed.
    CommitSent,
}

impl fmt::Display for Left {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged => Ok(()),
            Self::DownloadBegun(AbortOutcome::NotNeeded | AbortOutcome::Aborted) => {
                f.write_str("; download aborted, previous image still runs")
            }
            Self::DownloadBegun(AbortOutcome::NotSupported) => f.write_str(
                "; module cannot abort downloads: the inactive bank is left incomplete, \
                 previous image still runs",
            ),
            Self::DownloadBegun(AbortOutcome::CdbBusy(s)) => write!(
                f,
                "; download not aborted, the CDB stayed busy (status {s:#04x}): reset the \
                 module; previous image still runs"
            ),
            Self::DownloadBegun(AbortOutcome::Failed(e)) => write!(
                f,
                "; abort failed ({e}): reset the module; previous image still runs"
            ),
            Self::DownloadBegun(AbortOutcome::Skipped) => {
                f.write_str("; download left open, previous image still runs")
            }
            Self::Downloaded => {
                f.write_str("; new image downloaded but not run, previous image still runs")
            }
            Self::RunSent => f.write_str(
                "; Run was sent: the module may run the new image uncommitted and boots \
                 the previous one at its next reset",
            ),
            Self::RunningUncommitted => f.write_str(
                "; the new image runs uncommitted: commit it, or reset the module to go \
                 back to the previous one",
            ),
            Self::CommitSent => f.write_str("; commit sent but not confirmed"),
        }
    }
}

/// A failed update: where, why, and where it left the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// What was being done.
    pub step: Step,
    /// What went wrong.
    pub cause: Cause,
    /// Where the module stands, as the update knows it.
    pub left: Left,
    /// What the module showed when read back after the failure (`None`:
    /// not read back, as when the device is going away).
    pub found: Option<ReadBack>,
}

impl Error {
    const fn new(step: Step, cause: Cause) -> Self {
        Self {
            step,
            cause,
            left: Left::Unchanged,
            found: None,
        }
    }

    /// What the operator should do next.
    pub fn action(&self) -> Action {
        let busy = self.found.is_some_and(|f| f.busy_command.is_some());
        match self.left {
            Left::RunSent | Left::RunningUncommitted => Action::CommitOrReset,
            Left::CommitSent => Action::ResetAndCheck,
            Left::DownloadBegun(
                AbortOutcome::NotSupported
                | AbortOutcome::CdbBusy(_)
                | AbortOutcome::Failed(_)
                | AbortOutcome::Skipped,
            ) => Action::ResetThenRetry,
            _ if busy || matches!(self.cause, Cause::CdbBusy(_)) => Action::ResetThenRetry,
            _ => Action::Retry,
        }
    }

    const fn leaving(mut self, left: Left) -> Self {
        self.left = left;
        self
    }

    /// Whether the command that failed may still run in the module (it
    /// was given up on, its trigger write failed, which the module may
    /// have received all the same, or the requester stopped): nothing can
    /// go on, not even an optional command's fallback.
    const fn command_may_still_run(&self) -> bool {
        matches!(
            self.cause,
            Cause::Stopped
                | Cause::Cdb(
                    CdbError::Timeout { .. }
                        | CdbError::Access {
                            part: exchange::Part::Trigger,
                            ..
                        }
                )
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}{}", self.step, self.cause, self.left)?;
        if let Some(found) = &self.found {
            write!(f, "{found}")?;
            if let Some(id) = found.busy_command {
                write!(f, "; the CDB is busy with command {id:04X}h")?;
                if !matches!(self.cause, Cause::CdbBusy(_)) {
                    f.write_str(": wait for it, or reset the module")?;
                }
            }
        }
        Ok(())
    }
}

/// Where the module stands after a failure, as read back from it: the
/// version registers, Get Firmware Info where the module has it and its
/// CDB was free to ask, and the CDB's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadBack {
    /// Active firmware version (00h:39-40).
    pub active: Option<RegVersion>,
    /// Inactive firmware version (01h:128-129).
    pub inactive: Option<RegVersion>,
    /// Get Firmware Info's reply: banks running, committed, valid and
    /// their versions.
    pub banks: Option<FwInfo>,
    /// The CDB status byte (00h:37).
    pub cdb_status: Option<u8>,
    /// The command the CDB is busy with (9Fh:128-129).
    pub busy_command: Option<u16>,
}

impl ReadBack {
    /// The version of `bank`: from Get Firmware Info, else from the
    /// version registers (active for the running bank, inactive for the
    /// other).
    fn bank_version(&self, info: &FwInfo, bank: BankId) -> Option<RegVersion> {
        info.version(bank)
            .map(|v| v.reg())
            .or(if info.bank(bank).running {
                self.active
            } else {
                self.inactive
            })
    }
}

/// A register version, or what its reserved values mean.
struct ShownVersion(Option<RegVersion>);

impl fmt::Display for ShownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("unknown"),
            Some(RegVersion { major: 0, minor: 0 }) => f.write_str("none"),
            Some(RegVersion {
                major: 0xff,
                minor: 0xff,
            }) => f.write_str("invalid"),
            Some(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for ReadBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.banks, self.banks.and_then(|i| i.running())) {
            (Some(info), Some(run)) => {
                let other = run.other();
                let committed = |b: BankId| {
                    if info.bank(b).committed {
                        " committed"
                    } else {
                        ""
                    }
                };
                write!(
                    f,
                    "; module now runs {} (bank {}{}",
                    ShownVersion(self.bank_version(info, run)),
                    run.name(),
                    if info.bank(run).committed {
                        ", committed"
                    } else {
                        ", uncommitted"
                    }
                )?;
                if info.bank(other).valid {
                    write!(
                        f,
                        "), bank {} holds {}{}",
                        other.name(),
                        ShownVersion(self.bank_version(info, other)),
                        committed(other)
                    )
                } else {
                    write!(f, "), bank {} invalid{}", other.name(), committed(other))
                }
            }
            _ if self.active.is_some() => write!(
                f,
                "; module now runs {}, inactive image {}",
                ShownVersion(self.active),
                ShownVersion(self.inactive)
            ),
            _ => f.write_str("; the module's state could not be read back"),
        }
    }
}

impl Left {
    /// The value of the `left` notification attribute.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Unchanged => uapi::left::UNCHANGED,
            Self::DownloadBegun(_) => uapi::left::DOWNLOAD_BEGUN,
            Self::Downloaded => uapi::left::DOWNLOADED,
            Self::RunSent => uapi::left::RUN_SENT,
            Self::RunningUncommitted => uapi::left::RUNNING_UNCOMMITTED,
            Self::CommitSent => uapi::left::COMMIT_SENT,
        }
    }
}

impl AbortOutcome {
    /// The value of the `abort` notification attribute.
    pub const fn code(&self) -> u32 {
        match self {
            Self::NotNeeded => uapi::abort::NOT_NEEDED,
            Self::NotSupported => uapi::abort::NOT_SUPPORTED,
            Self::CdbBusy(_) => uapi::abort::CDB_BUSY,
            Self::Aborted => uapi::abort::ABORTED,
            Self::Failed(_) => uapi::abort::FAILED,
            Self::Skipped => uapi::abort::SKIPPED,
        }
    }
}

impl Action {
    /// The value of the `action` notification attribute.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Retry => uapi::action::RETRY,
            Self::ResetThenRetry => uapi::action::RESET_THEN_RETRY,
            Self::CommitOrReset => uapi::action::COMMIT_OR_RESET,
            Self::ResetAndCheck => uapi::action::RESET_AND_CHECK,
        }
    }
}

/// What the operator should do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing is left half-done: retry when the cause is dealt with.
    Retry,
    /// The module holds a download or a command in progress: reset it
    /// (or wait for the command), then retry.
    ResetThenRetry,
    /// The new image may run uncommitted: commit it, or reset the module
    /// to go back to the committed previous one.
    CommitOrReset,
    /// Commit was sent and not confirmed: reset the module and check
    /// which version it boots.
    ResetAndCheck,
}

/// How the image was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mechanism {
    /// Not chosen yet.
    #[default]
    Unknown,
    /// Write Firmware Block LPL (0103h).
    Lpl,
    /// Write Firmware Block EPL (0104h).
    Epl,
}

/// What proved that the new image runs and is committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Evidence {
    /// Nothing yet.
    #[default]
    None,
    /// Get Firmware Info named the new bank as running, then committed.
    FirmwareInfo,
    /// After a restart, and again after the final reset (which boots the
    /// committed image), the version registers showed the version the
    /// module gave the downloaded image, different from the old one.
    Version,
    /// As [`Evidence::Version`], but the old image had the same version:
    /// the module restarted into an image of that version.
    SameVersion,
}

/// What a successful update with a wanted version ([`Options::version`])
/// found it need not do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shortcut {
    /// Nothing: the image was downloaded.
    #[default]
    None,
    /// The module ran that version already, committed: nothing was
    /// downloaded, run or committed.
    AlreadyRunning,
    /// The module ran that version uncommitted: it was committed, nothing
    /// downloaded or run.
    CommittedRunning,
    /// The inactive bank held that version: it was run (as far as
    /// asked) without a download.
    DownloadSkipped,
}

/// What a successful update did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// CDB commands sent.
    pub commands: u32,
    /// Firmware blocks written.
    pub blocks: u32,
    /// Erased blocks skipped.
    pub skipped_blocks: u32,
    /// Status or flag reads while waiting for commands.
    pub polls: u32,
    /// Write mechanism used.
    pub mechanism: Mechanism,
    /// Block size used.
    pub block_size: u32,
    /// What proved success.
    pub evidence: Evidence,
    /// Version running before (00h:39-40).
    pub old_version: RegVersion,
    /// Version running after.
    pub new_version: RegVersion,
    /// How far it went: [`Options::until`].
    pub reached: Until,
    /// What a wanted version spared.
    pub shortcut: Shortcut,
}

/// Runs a firmware update of `image` on the module behind `io`, as far
/// as [`Options::until`].
pub fn update(io: &mut impl ModuleIo, image: &[u8], opts: &Options) -> Result<Summary, Error> {
    let mut s = Session::new(io, opts);
    s.update(image).map_err(|e| s.read_back(e))
}

/// Runs the image of the inactive bank (one downloaded earlier, or the
/// previous image: a rollback) and proves that it runs; then, as far as
/// [`Options::until`] says, commits it as [`update`] does.
pub fn run(io: &mut impl ModuleIo, opts: &Options) -> Result<Summary, Error> {
    let mut s = Session::new(io, opts);
    s.run_inactive().map_err(|e| s.read_back(e))
}

/// Commits the image the module runs and proves it as [`update`] does
/// (Get Firmware Info, or the final reset, which boots the committed
/// image). A module whose Get Firmware Info says it runs its committed
/// image is left alone.
pub fn commit(io: &mut impl ModuleIo, opts: &Options) -> Result<Summary, Error> {
    let mut s = Session::new(io, opts);
    s.commit_running().map_err(|e| s.read_back(e))
}

/// How the image will be written, and what the module looked like before.
#[derive(Clone, Copy, Debug)]
struct Plan {
    fw: FwFeatures,
    mechanism: Mechanism,
    block: usize,
    /// Get Firmware Info before the download, if the module has it and
    /// names one running bank.
    info: Option<FwInfo>,
    /// The bank running before (from `info`).
    running: Option<BankId>,
    /// Active version before (00h:39-40).
    old_version: RegVersion,
}

/// What the module says it holds after Complete.
#[derive(Clone, Copy, Debug)]
struct Expected {
    /// The bank the download went to, by Get Firmware Info.
    bank: Option<BankId>,
    /// Its version, if the module gave a valid one.
    version: Option<RegVersion>,
    /// Its version with the build, if Get Firmware Info gave it.
    image: Option<ImageVersion>,
}

impl Expected {
    /// The image Get Firmware Info describes in `bank`.
    fn in_bank(info: &FwInfo, bank: BankId) -> Self {
        let image = info.version(bank).filter(|v| v.reg().is_valid());
        Self {
            bank: Some(bank),
            version: image.map(|v| v.reg()),
            image,
        }
    }
}

/// One update in progress.
struct Session<'a, I: ModuleIo> {
    io: &'a mut I,
    opts: &'a Options,
    link: Link,
    features: ModuleFeatures,
    summary: Summary,
    reply: [u8; LPL_MAX_LEN],
    /// The advertisement showed a CDB.
    has_cdb: bool,
}

impl<'a, I: ModuleIo> Session<'a, I> {
    fn new(io: &'a mut I, opts: &'a Options) -> Self {
        Session {
            io,
            opts,
            link: Link::MINIMAL,
            features: ModuleFeatures::default(),
            summary: Summary::default(),
            reply: [0; LPL_MAX_LEN],
            has_cdb: false,
        }
    }
}

impl<I: ModuleIo> Session<'_, I> {
    fn update(&mut self, image: &[u8]) -> Result<Summary, Error> {
        if self.opts.link_up && self.opts.until != Until::Downloaded {
            let cause = Cause::LinkUp { foreground: false };
            return Err(Error::new(Step::Identify, cause));
        }
        let advert = self.prepare(false)?;
        self.io.notify(Notice::Started);
        let plan = self.plan(&advert, image)?;
        if let Some(wanted) = self.opts.version {
            if let Some(done) = self.shortcut(&plan, wanted)? {
                return Ok(done);
            }
        }
        self.check_interrupt(Step::Start)?;
        self.download(&plan, image)?;
        let expected = self.downloaded_image(&plan)?;
        if let (Some(wanted), Some(reg)) = (self.opts.version, expected.version) {
            // Before Run: a wrong image never runs.
            let found = Version::shown(reg, expected.image);
            if wanted.matches(&found) == Match::No {
                let e = Error::new(Step::Image, Cause::VersionMismatch { wanted, found });
                return Err(e.leaving(Left::Downloaded));
            }
        }
        if self.opts.until == Until::Downloaded {
            self.summary.new_version = plan.old_version;
            self.summary.reached = Until::Downloaded;
            return Ok(self.summary);
        }
        self.run_and_commit(&plan, &expected)
    }

    /// Run, then (as far as asked) Commit and the final reset.
    fn run_and_commit(&mut self, plan: &Plan, expected: &Expected) -> Result<Summary, Error> {
        let evidence = self.run_image(plan, expected)?;
        if let Some(wanted) = self.opts.version {
            // A module that never gave the image's version is checked
            // now, before Commit: a wrong image is never committed.
            let found = Version::shown(self.summary.new_version, expected.image);
            if wanted.matches(&found) == Match::No {
                let e = Error::new(Step::Verify, Cause::VersionMismatch { wanted, found });
                return Err(e.leaving(Left::RunningUncommitted));
            }
        }
        if self.opts.until == Until::Running {
            self.summary.evidence = evidence;
            self.summary.reached = Until::Running;
            return Ok(self.summary);
        }
        self.commit(expected, evidence)?;
        self.summary.reached = Until::Committed;
        Ok(self.summary)
    }

    /// What the module runs and holds before a Run or a Commit without a
    /// download: Get Firmware Info where the module has it (one running
    /// bank named), and the active version.
    fn survey(&mut self) -> Result<Plan, Error> {
        let fw = if self.opts.hitless {
            // Whether the module can restart hitless.
            self.check_interrupt(Step::FwFeatures)?;
            let t = self.timeout(0, MIN_TIMEOUT_MS);
            let len = FW_FEATURES_LEN;
            let until = self.io.now();
            let id = CommandId::FW_MGMT_FEATURES;
            self.query_known(Step::FwFeatures, id, (len, len), t, until)?;
            FwFeatures::decode(&self.reply)
        } else {
            FwFeatures::default()
        };
        self.check_interrupt(Step::FwInfo)?;
        let t = self.timeout(0, MIN_TIMEOUT_MS);
        let info = self.firmware_info(t, false)?;
        let running = info.and_then(|i| i.running());
        let old_version = self.active_version(Step::Versions)?;
        self.summary.old_version = old_version;
        Ok(Plan {
            fw,
            mechanism: Mechanism::default(),
            block: 0,
            info: info.filter(|_| running.is_some()),
            running,
            old_version,
        })
    }

    /// [`run`]: the inactive bank's image must be valid (by Get Firmware
    /// Info, else by the inactive version register); what it is tells
    /// the restart's proof what to expect.
    fn run_inactive(&mut self) -> Result<Summary, Error> {
        self.prepare(false)?;
        self.io.notify(Notice::Started);
        let plan = self.survey()?;
        let expected = match (plan.info, plan.running) {
            (Some(info), Some(running)) => {
                let bank = running.other();
                if !info.bank(bank).valid {
                    return Err(Error::new(Step::Run, Cause::NoImageToRun));
                }
                Expected::in_bank(&info, bank)
            }
            _ => {
                let v = self.inactive_version(Step::Versions)?;
                if !v.is_valid() {
                    return Err(Error::new(Step::Run, Cause::NoImageToRun));
                }
                Expected {
                    bank: None,
                    version: Some(v),
                    image: None,
                }
            }
        };
        self.run_and_commit(&plan, &expected)
    }

    /// [`commit`]: Commit of the running image, proven as an update's.
    fn commit_running(&mut self) -> Result<Summary, Error> {
        self.prepare(false)?;
        self.io.notify(Notice::Started);
        let plan = self.survey()?;
        self.commit_surveyed(&plan)
    }

    /// Commits the running image of a module `plan` describes, unless
    /// Get Firmware Info says it is committed already.
    fn commit_surveyed(&mut self, plan: &Plan) -> Result<Summary, Error> {
        self.summary.new_version = plan.old_version;
        self.summary.reached = Until::Committed;
        if let (Some(info), Some(bank)) = (plan.info, plan.running) {
            if info.bank(bank).committed {
                self.summary.evidence = Evidence::FirmwareInfo;
                return Ok(self.summary);
            }
        }
        let expected = Expected {
            bank: plan.running,
            version: Some(plan.old_version).filter(RegVersion::is_valid),
            image: None,
        };
        // The image runs already: a commit Get Firmware Info proves needs
        // no reset (which would cut the port's traffic); otherwise the
        // reset proves it, as at the end of an update.
        if self.send_commit(&expected)? {
            self.summary.evidence = Evidence::FirmwareInfo;
            return Ok(self.summary);
        }
        self.reset_and_check(&expected, Evidence::Version, false)?;
        Ok(self.summary)
    }

    /// What an update to `wanted` need not do: nothing if the module runs
    /// it (but commit it, if asked and Get Firmware Info says it is not
    /// committed), no download if the inactive bank holds it, valid. A
    /// build the module does not show is not taken for the one asked for.
    fn shortcut(&mut self, plan: &Plan, wanted: Version) -> Result<Option<Summary>, Error> {
        let running_image = plan
            .info
            .zip(plan.running)
            .and_then(|(info, bank)| info.version(bank));
        let running = Version::shown(plan.old_version, running_image);
        if wanted.matches(&running) == Match::Yes {
            // Without Get Firmware Info nothing tells an uncommitted image:
            // left alone, as a Commit's proof would take a reset.
            let uncommitted = plan
                .info
                .zip(plan.running)
                .is_some_and(|(info, bank)| !info.bank(bank).committed);
            let done = if self.opts.until == Until::Committed && uncommitted {
                Summary {
                    shortcut: Shortcut::CommittedRunning,
                    ..self.commit_surveyed(plan)?
                }
            } else {
                self.summary.new_version = plan.old_version;
                self.summary.reached = self.opts.until;
                self.summary.shortcut = Shortcut::AlreadyRunning;
                self.summary
            };
            return Ok(Some(done));
        }
        let expected = match (plan.info, plan.running) {
            (Some(info), Some(running)) => {
                let bank = running.other();
                let e = Expected::in_bank(&info, bank);
                let shown = e.version.map(|v| Version::shown(v, e.image));
                let holds = shown.is_some_and(|v| wanted.matches(&v) == Match::Yes);
                (info.bank(bank).valid && holds).then_some(e)
            }
            _ => {
                let v = self.inactive_version(Step::Versions)?;
                let holds = v.is_valid() && wanted.matches(&Version::shown(v, None)) == Match::Yes;
                holds.then_some(Expected {
                    bank: None,
                    version: Some(v),
                    image: None,
                })
            }
        };
        let Some(expected) = expected else {
            return Ok(None);
        };
        self.summary.shortcut = Shortcut::DownloadSkipped;
        if self.opts.until == Until::Downloaded {
            self.summary.new_version = plan.old_version;
            self.summary.reached = Until::Downloaded;
            return Ok(Some(self.summary));
        }
        self.run_and_commit(plan, &expected).map(Some)
    }

    /// Reads back where the module stands after the failure `e`, changing
    /// nothing: Get Firmware Info if the module has it and its CDB is
    /// idle, then the version registers and the CDB status (and the
    /// command a busy CDB holds), so that these show the module as it is
    /// at the end. A Get Firmware Info reply whose running image is not
    /// the one the registers show then is dropped: the module changed
    /// meanwhile (a late reset). Bounded: each read is retried for at most
    /// a second, a failing version read ends it, the query gets the
    /// shortest timeout. Not done when the device is going away (the stop
    /// must be quick) or the module is no CMIS module with pages.
    fn read_back(&mut self, mut e: Error) -> Error {
        if matches!(
            e.cause,
            Cause::Stopped | Cause::NotCmis(_) | Cause::FlatMemory | Cause::RevisionTooOld(_)
        ) {
            return e;
        }
        let mut found = ReadBack::default();
        // Each read as the update's own: repeated while the module NACKs.
        let step = Step::Versions;
        let status_at = Access::new(0, lower::CDB_STATUS_1, 1);
        let mut b = [0u8; 2];
        let mut status = [0u8];
        let may_ask = self.has_cdb
            && !e.command_may_still_run()
            && e.step != Step::FwInfo
            && self.features.lists(CommandId::GET_FW_INFO) != Some(false);
        if may_ask
            && self.read(step, status_at, &mut status).is_ok()
            && !matches!(Status::from_byte(status[0]), Status::Busy(_))
        {
            let t = self.ms(MIN_TIMEOUT_MS);
            let limits = (FW_INFO_MIN_LEN, FW_INFO_MAX_LEN);
            if let Ok(len) = self.query(Step::FwInfo, CommandId::GET_FW_INFO, limits, t) {
                found.banks = Some(FwInfo::decode(&self.reply[..len]));
            }
        }
        found.active = self.active_version(step).ok();
        if found.active.is_some() {
            found.inactive = self.inactive_version(step).ok();
        }
        if found.inactive.is_some()
            && self.has_cdb
            && self.read(step, status_at, &mut status).is_ok()
        {
            found.cdb_status = Some(status[0]);
            if matches!(Status::from_byte(status[0]), Status::Busy(_)) {
                let command = Access::new(CDB_PAGE, CMD_ID_OFFSET, 2);
                if self.read(step, command, &mut b).is_ok() {
                    found.busy_command = Some(u16::from_be_bytes(b));
                }
            }
        }
        if let Some(info) = found.banks {
            let shown = info.running().and_then(|bank| info.version(bank));
            if shown.is_some_and(|v| Some(v.reg()) != found.active) {
                found.banks = None;
            }
        }
        e.found = Some(found);
        e
    }

    /// Fails with the requester's interrupt, if any.
    fn check_interrupt(&self, step: Step) -> Result<(), Error> {
        match self.io.interrupted() {
            None => Ok(()),
            Some(Interrupt::Cancel) => Err(Error::new(step, Cause::Cancelled)),
            Some(Interrupt::Stop) => Err(Error::new(step, Cause::Stopped)),
        }
    }

    /// The timeout of a command the module says takes up to
    /// `advertised_ms` (0: not said), at least `floor_ms`.
    fn timeout(&self, advertised_ms: u32, floor_ms: u32) -> Nanos {
        let ms = if advertised_ms != 0 {
            advertised_ms
        } else if self.features.max_completion_ms != 0 {
            u32::from(self.features.max_completion_ms)
        } else {
            DEFAULT_TIMEOUT_MS
        };
        Nanos::from(ms.clamp(floor_ms, MAX_TIMEOUT_MS)) * NS_PER_MS
    }

    /// Runs one command; `step` names it in errors.
    fn cdb(&mut self, step: Step, req: &Request<'_>) -> Result<Done, Error> {
        self.summary.commands += 1;
        let r = exchange::execute(self.io, &mut self.link, req, &mut self.reply);
        match r {
            Ok(done) => {
                self.summary.polls += done.polls;
                Ok(done)
            }
            Err(CdbError::Interrupted(Interrupt::Stop)) => Err(Error::new(step, Cause::Stopped)),
            Err(e) => Err(Error::new(step, Cause::Cdb(e))),
        }
    }

    /// Runs a command without payload that returns `min..=max` bytes.
    fn query(
        &mut self,
        step: Step,
        id: CommandId,
        (min, max): (u8, u8),
        timeout: Nanos,
    ) -> Result<usize, Error> {
        let cmd = Command::empty(id);
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Reply { min, max },
            timeout,
            first_wait: 0,
        };
        Ok(self.cdb(step, &req)?.reply_len)
    }

    /// Reads a plain register range, repeating what the module NACKs.
    fn read(&mut self, step: Step, a: Access, buf: &mut [u8]) -> Result<(), Error> {
        retry(self.io, |io| io.read(a, buf)).map_err(|e| self.access_error(step, e))
    }

    fn access_error(&self, step: Step, e: AccessFailure) -> Error {
        match e {
            AccessFailure::Errno(errno) => Error::new(step, Cause::Access(errno)),
            AccessFailure::Interrupted(_) => Error::new(step, Cause::Stopped),
        }
    }

    // --- 1. The module and its CDB -----------------------------------------

    /// Identity, advertisement, password and (before the download) Module
    /// Features. After a reset (`again`) the module may still be booting:
    /// the advertisement is read until it shows the CDB.
    fn prepare(&mut self, again: bool) -> Result<CdbAdvert, Error> {
        let identity = self.identify()?;
        let advert = self.advertisement(again)?;
        if self.opts.link_up && !advert.background {
            // Before any command: a foreground one would stop the module
            // answering the host for its duration.
            let cause = Cause::LinkUp { foreground: true };
            return Err(Error::new(Step::Advertisement, cause));
        }
        self.has_cdb = true;
        self.link.major = identity.major();
        self.link.background = advert.background;
        self.link.lpl_access = lpl_access_max(advert.rw_len_ext);
        self.link.flag_clear = false;
        if !again {
            // Until Firmware Management Features says otherwise.
            self.link.fw_lpl_access = self.link.lpl_access;
            self.link.epl_access = epl_access_max(advert.rw_len_ext).min(PAGE_SIZE);
            self.check_idle()?;
        }
        let floor = if again {
            DEFAULT_TIMEOUT_MS
        } else {
            MIN_TIMEOUT_MS
        };
        if let Some(pw) = &self.opts.password {
            self.password(pw, floor)?;
        }
        if !again {
            let t = self.timeout(DEFAULT_TIMEOUT_MS, floor);
            let len = MODULE_FEATURES_LEN;
            self.query(
                Step::ModuleFeatures,
                CommandId::MODULE_FEATURES,
                (len, len),
                t,
            )?;
            self.features = ModuleFeatures::decode(&self.reply);
        }
        Ok(advert)
    }

    fn identify(&mut self) -> Result<Identity, Error> {
        let mut b = [0u8; 4];
        self.read(Step::Identify, Access::new(0, lower::IDENTIFIER, 4), &mut b)?;
        let id = Identity::decode(b);
        if !id.is_cmis() {
            return Err(Error::new(Step::Identify, Cause::NotCmis(id.identifier)));
        }
        if id.flat_memory {
            return Err(Error::new(Step::Identify, Cause::FlatMemory));
        }
        if id.major() < 4 {
            return Err(Error::new(
                Step::Identify,
                Cause::RevisionTooOld(id.revision),
            ));
        }
        if id.state == module_state::FAULT {
            return Err(self.fault(Step::Identify));
        }
        Ok(id)
    }

    /// The ModuleFault error, with the fault cause if it can be read.
    fn fault(&mut self, step: Step) -> Error {
        let mut c = [0u8];
        let _ = self.read(step, Access::new(0, FAULT_CAUSE, 1), &mut c);
        Error::new(step, Cause::ModuleFault(c[0]))
    }

    fn advertisement(&mut self, again: bool) -> Result<CdbAdvert, Error> {
        let deadline = self.io.now() + self.ms(self.opts.reset_timeout_ms);
        let mut backoff = Backoff::new(POLL_MIN, RESET_POLL_MAX);
        loop {
            let mut b = [0u8; 5];
            self.read(Step::Advertisement, Access::new(1, 163, 5), &mut b)?;
            let advert = CdbAdvert::decode(b);
            if advert.instances > 0 {
                return Ok(advert);
            }
            // A module booting its new image may not show its CDB yet.
            if !again || self.io.now() >= deadline {
                return Err(Error::new(Step::Advertisement, Cause::NoCdb));
            }
            self.check_interrupt(Step::Advertisement)?;
            self.io.sleep(backoff.next_interval());
        }
    }

    /// A CDB busy with an earlier command (a hung one, or another host
    /// tool's) would take this update's commands for garbage: wait for it
    /// as long as a command may take, then tell.
    fn check_idle(&mut self) -> Result<(), Error> {
        let t = self.ms(MIN_TIMEOUT_MS);
        match self.wait_idle(Step::Identify, t)? {
            None => Ok(()),
            Some(s) => Err(Error::new(Step::Identify, Cause::CdbBusy(s))),
        }
    }

    /// Waits up to `limit` for the CDB status to leave the busy codes;
    /// `Some(status)` if it did not.
    fn wait_idle(&mut self, step: Step, limit: Nanos) -> Result<Option<u8>, Error> {
        let until = self.io.now() + limit;
        let mut backoff = Backoff::new(POLL_MIN, exchange::POLL_MAX);
        loop {
            let mut b = [0u8];
            let r = self.io.read(Access::new(0, lower::CDB_STATUS_1, 1), &mut b);
            let busy = match r {
                Ok(()) => matches!(Status::from_byte(b[0]), Status::Busy(_)),
                // A foreground module NACKs while busy.
                Err(e) if e.is_transient() => {
                    b[0] = 0x80;
                    true
                }
                Err(e) => return Err(Error::new(step, Cause::Access(e))),
            };
            if !busy {
                return Ok(None);
            }
            if self.io.now() >= until {
                return Ok(Some(b[0]));
            }
            if self.io.interrupted() == Some(Interrupt::Stop) {
                return Err(Error::new(step, Cause::Stopped));
            }
            self.io.sleep(backoff.next_interval());
        }
    }

    fn password(&mut self, pw: &Password, floor: u32) -> Result<(), Error> {
        let mut bytes = pw.0.to_be_bytes();
        let a = Access::new(0, lower::PASSWORD_ENTRY, 4);
        let written = retry(self.io, |io| io.write(a, &bytes));
        wipe(&mut bytes);
        written.map_err(|e| self.access_error(Step::Password, e))?;
        let cmd = self.encode(Step::Password, CommandId::QUERY_STATUS, &[0, 0], 0)?;
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Reply { min: 2, max: 2 },
            timeout: self.timeout(DEFAULT_TIMEOUT_MS, floor),
            first_wait: 0,
        };
        self.cdb(Step::Password, &req)?;
        // Byte 137: 00h = no password accepted.
        if self.reply[1] == 0 {
            return Err(Error::new(Step::Password, Cause::PasswordRejected));
        }
        Ok(())
    }

    fn encode(&self, step: Step, id: CommandId, lpl: &[u8], epl: usize) -> Result<Command, Error> {
        Command::new(id, lpl, epl).map_err(|e| Error::new(step, Cause::Encode(e)))
    }

    fn ms(&self, ms: u32) -> Nanos {
        Nanos::from(ms) * NS_PER_MS
    }

    // --- 2. The plan -------------------------------------------------------

    fn plan(&mut self, advert: &CdbAdvert, image: &[u8]) -> Result<Plan, Error> {
        let t = self.timeout(0, MIN_TIMEOUT_MS);
        let len = FW_FEATURES_LEN;
        // A module that lists 0041h among its commands (or lists none)
        // and does not know it yet is still booting after a reset.
        let booting = self.features.lists(CommandId::FW_MGMT_FEATURES) != Some(false);
        let until = self.io.now()
            + if booting {
                self.ms(self.opts.reset_timeout_ms)
            } else {
                0
            };
        let id = CommandId::FW_MGMT_FEATURES;
        self.query_known(Step::FwFeatures, id, (len, len), t, until)?;
        let fw = FwFeatures::decode(&self.reply);
        if fw.start_payload_size > START_PAYLOAD_MAX {
            let cause = Cause::StartPayloadTooLarge(fw.start_payload_size);
            return Err(Error::new(Step::FwFeatures, cause));
        }
        self.link.fw_lpl_access = lpl_access_max(fw.rw_len_ext);
        self.link.epl_access = epl_access_max(fw.rw_len_ext).min(PAGE_SIZE);
        let (mechanism, block) = self.mechanism(&fw, advert)?;
        self.summary.mechanism = mechanism;
        self.summary.block_size = block as u32;

        let need = fw.start_payload_size as usize;
        if image.len() < need {
            let cause = Cause::ImageTooSmall {
                size: image.len(),
                need,
            };
            return Err(Error::new(Step::Image, cause));
        }
        if u32::try_from(image.len()).is_err() {
            return Err(Error::new(Step::Image, Cause::ImageTooLarge(image.len())));
        }

        self.check_interrupt(Step::FwInfo)?;
        let info = self.firmware_info(t, false)?;
        let running = info.and_then(|i| i.running());
        let old_version = self.active_version(Step::Versions)?;
        self.summary.old_version = old_version;
        Ok(Plan {
            fw,
            mechanism,
            block,
            info: info.filter(|_| running.is_some()),
            running,
            old_version,
        })
    }

    /// EPL when the module offers it and has EPL pages, else LPL. An
    /// advertisement of no EPL pages beside an EPL-only mechanism is
    /// checked against the pages the module answers for.
    fn mechanism(
        &mut self,
        fw: &FwFeatures,
        advert: &CdbAdvert,
    ) -> Result<(Mechanism, usize), Error> {
        let wm = fw.write_mechanism;
        if write_mechanism::has_epl(wm) {
            let mut pages = advert.epl_pages;
            if pages == 0 && !write_mechanism::has_lpl(wm) {
                pages = self.probe_epl_pages();
            }
            let block = (pages * PAGE_SIZE).min(EPL_BLOCK_MAX);
            if block > 0 {
                return Ok((Mechanism::Epl, block));
            }
        }
        if write_mechanism::has_lpl(wm) {
            return Ok((Mechanism::Lpl, LPL_BLOCK_MAX));
        }
        Err(Error::new(Step::FwFeatures, Cause::NoWriteMechanism(wm)))
    }

    /// The number of EPL pages that answer a one-byte read, in order.
    fn probe_epl_pages(&mut self) -> usize {
        let mut pages = 0;
        while pages < super::cdb::EPL_MAX_PAGES {
            let a = Access::new(EPL_FIRST_PAGE + pages as u8, UPPER_START, 1);
            let mut b = [0u8];
            if retry(self.io, |io| io.read(a, &mut b)).is_err() {
                break;
            }
            pages += 1;
        }
        pages
    }

    /// Runs a query that a module still in its boot phase after a reset
    /// does not know yet: "unknown command" is asked again until `until`.
    fn query_known(
        &mut self,
        step: Step,
        id: CommandId,
        limits: (u8, u8),
        timeout: Nanos,
        until: Nanos,
    ) -> Result<usize, Error> {
        // A boot phase lasts about a second; asking every 100 ms at most
        // ends the wait soon after it (one command's bus time each).
        let mut backoff = Backoff::new(10 * NS_PER_MS, 100 * NS_PER_MS);
        loop {
            match self.query(step, id, limits, timeout) {
                Err(Error {
                    cause: Cause::Cdb(CdbError::Failed(Failure::UNKNOWN_COMMAND)),
                    ..
                }) if self.io.now() < until => {
                    self.check_interrupt(step)?;
                    self.io.sleep(backoff.next_interval());
                }
                r => return r,
            }
        }
    }

    /// Get Firmware Info, optional: a module without it (or failing it)
    /// is flashed all the same, its banks checked by the version registers
    /// instead. After a restart (`after_reset`) a module still booting may
    /// not know the command yet: asked again until the reset bound.
    fn firmware_info(
        &mut self,
        timeout: Nanos,
        after_reset: bool,
    ) -> Result<Option<FwInfo>, Error> {
        let bound = if after_reset {
            self.ms(self.opts.reset_timeout_ms)
        } else {
            0
        };
        let until = self.io.now() + bound;
        let limits = (FW_INFO_MIN_LEN, FW_INFO_MAX_LEN);
        match self.query_known(Step::FwInfo, CommandId::GET_FW_INFO, limits, timeout, until) {
            Ok(len) => Ok(Some(FwInfo::decode(&self.reply[..len]))),
            Err(e) if e.command_may_still_run() => Err(e),
            Err(_) => {
                self.io.notify(Notice::Degraded(Degraded::NoFirmwareInfo));
                Ok(None)
            }
        }
    }

    fn active_version(&mut self, step: Step) -> Result<RegVersion, Error> {
        let mut b = [0u8; 2];
        self.read(step, Access::new(0, lower::ACTIVE_FW_VERSION, 2), &mut b)?;
        Ok(RegVersion::decode(b))
    }

    /// The inactive image's version register (01h:128-129).
    fn inactive_version(&mut self, step: Step) -> Result<RegVersion, Error> {
        let mut b = [0u8; 2];
        self.read(step, Access::new(1, INACTIVE_FW_VERSION, 2), &mut b)?;
        Ok(RegVersion::decode(b))
    }

    // --- 3. The download ---------------------------------------------------

    fn download(&mut self, plan: &Plan, image: &[u8]) -> Result<(), Error> {
        match self.download_inner(plan, image) {
            Ok(()) => Ok(()),
            Err(e) if e.cause == Cause::Stopped => {
                Err(e.leaving(Left::DownloadBegun(AbortOutcome::Skipped)))
            }
            Err(e) => {
                let abort = self.abort(plan);
                Err(e.leaving(Left::DownloadBegun(abort)))
            }
        }
    }

    fn download_inner(&mut self, plan: &Plan, image: &[u8]) -> Result<(), Error> {
        let fw = &plan.fw;
        let header = fw.start_payload_size as usize;
        // Start: image size, 4 reserved bytes, the vendor header.
        let mut lpl = [0u8; 8 + START_PAYLOAD_MAX as usize];
        lpl[..4].copy_from_slice(&(image.len() as u32).to_be_bytes());
        lpl[8..8 + header].copy_from_slice(&image[..header]);
        let cmd = self.encode(
            Step::Start,
            CommandId::START_FW_DOWNLOAD,
            &lpl[..8 + header],
            0,
        )?;
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Nothing,
            timeout: self.timeout(fw.max_ms[duration::START], MIN_TIMEOUT_MS),
            first_wait: 0,
        };
        self.cdb(Step::Start, &req)?;

        let mut progress = Progress::new(image.len(), self.opts);
        progress.update(self.io, header);
        let mut estimate: Nanos = 0;
        let mut offset = header;
        while offset < image.len() {
            self.check_interrupt(Step::Write((offset - header) as u32))?;
            let len = (image.len() - offset).min(plan.block);
            let data = &image[offset..offset + len];
            let address = (offset - header) as u32;
            if fw.skip_erased && data.iter().all(|&b| b == fw.erased_byte) {
                self.summary.skipped_blocks += 1;
            } else {
                let done = self.write_block(plan, address, data, estimate)?;
                estimate = next_write_estimate(estimate, &done);
                self.summary.blocks += 1;
            }
            offset += len;
            progress.update(self.io, offset);
        }

        self.check_interrupt(Step::Complete)?;
        let cmd = Command::empty(CommandId::COMPLETE_FW_DOWNLOAD);
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Nothing,
            timeout: self.timeout(fw.max_ms[duration::COMPLETE], MIN_TIMEOUT_MS),
            first_wait: 0,
        };
        self.cdb(Step::Complete, &req)?;
        Ok(())
    }

    fn write_block(
        &mut self,
        plan: &Plan,
        address: u32,
        data: &[u8],
        estimate: Nanos,
    ) -> Result<Done, Error> {
        let step = Step::Write(address);
        let timeout = self.timeout(plan.fw.max_ms[duration::WRITE], MIN_TIMEOUT_MS);
        let mut lpl = [0u8; LPL_MAX_LEN];
        lpl[..4].copy_from_slice(&address.to_be_bytes());
        let (cmd, epl) = if plan.mechanism == Mechanism::Epl {
            let cmd = self.encode(step, CommandId::WRITE_FW_BLOCK_EPL, &lpl[..4], data.len())?;
            (cmd, data)
        } else {
            lpl[4..4 + data.len()].copy_from_slice(data);
            let id = CommandId::WRITE_FW_BLOCK_LPL;
            (self.encode(step, id, &lpl[..4 + data.len()], 0)?, &[][..])
        };
        let req = Request {
            cmd: &cmd,
            epl,
            expect: Expect::Nothing,
            timeout,
            first_wait: estimate,
        };
        self.cdb(step, &req)
    }

    /// Aborts the download after a failure, into an idle CDB only.
    fn abort(&mut self, plan: &Plan) -> AbortOutcome {
        if !plan.fw.abort {
            return AbortOutcome::NotSupported;
        }
        let limit = self.timeout(plan.fw.max_ms[duration::WRITE], MIN_TIMEOUT_MS);
        match self.wait_idle(Step::Start, limit) {
            Ok(None) => {}
            Ok(Some(s)) => return AbortOutcome::CdbBusy(s),
            Err(_) => return AbortOutcome::Skipped,
        }
        let cmd = Command::empty(CommandId::ABORT_FW_DOWNLOAD);
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Nothing,
            timeout: self.timeout(plan.fw.max_ms[duration::ABORT], MIN_TIMEOUT_MS),
            first_wait: 0,
        };
        match self.cdb(Step::Start, &req) {
            Ok(_) => AbortOutcome::Aborted,
            Err(Error {
                cause: Cause::Cdb(e),
                ..
            }) => AbortOutcome::Failed(e),
            Err(_) => AbortOutcome::Skipped,
        }
    }

    /// What the module says it now holds: by Get Firmware Info, the
    /// non-running bank, valid, with its version; else the inactive
    /// version register (01h:128-129).
    fn downloaded_image(&mut self, plan: &Plan) -> Result<Expected, Error> {
        let leave = |e: Error| e.leaving(Left::Downloaded);
        if let (Some(running), Some(before)) = (plan.running, plan.info) {
            let t = self.timeout(0, MIN_TIMEOUT_MS);
            if let Some(info) = self.firmware_info(t, false).map_err(leave)? {
                let bank = running.other();
                if info.bank(bank).valid {
                    return Ok(Expected::in_bank(&info, bank));
                }
                // A bank that held an image and is invalid after a
                // successful Complete: the module says the download is
                // bad. One that never held any may belong to a module
                // with a single bank, which stages the image elsewhere.
                if before.bank(bank).valid {
                    let e = Error::new(Step::Complete, Cause::NewImageInvalid(bank));
                    return Err(e.leaving(Left::Downloaded));
                }
            }
        }
        let v = self.inactive_version(Step::Versions).map_err(leave)?;
        Ok(Expected {
            bank: None,
            version: v.is_valid().then_some(v),
            image: None,
        })
    }

    // --- 4. Run and restart ------------------------------------------------

    fn run_image(&mut self, plan: &Plan, expected: &Expected) -> Result<Evidence, Error> {
        self.check_interrupt(Step::Run)
            .map_err(|e| e.leaving(Left::Downloaded))?;
        let hitless = self.opts.hitless;
        if hitless && !plan.fw.hitless_restart {
            let e = Error::new(Step::Run, Cause::HitlessNotSupported);
            return Err(e.leaving(Left::Downloaded));
        }
        let witness = self
            .set_reset_witness(Step::Run)
            .map_err(|e| e.leaving(Left::Downloaded))?;

        let delay = self.run_delay_ms();
        let [hi, lo] = delay.to_be_bytes();
        self.io.notify(Notice::Phase(Phase::Running));
        // Mode 00h: traffic-affecting reset to the inactive image; 01h: an
        // attempt at a hitless one (the module may still reset).
        let mode = u8::from(hitless);
        let cmd = self.encode(Step::Run, CommandId::RUN_FW_IMAGE, &[0, mode, hi, lo], 0)?;
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Reset,
            timeout: self.timeout(0, MIN_TIMEOUT_MS),
            first_wait: 0,
        };
        match self.cdb(Step::Run, &req) {
            Ok(_) => {}
            // A module that resets before its status can be read (one
            // that ignores DelayToReset) leaves Run without a result: the
            // restart, or its absence, tells.
            Err(Error {
                cause: Cause::Cdb(CdbError::Timeout { .. }),
                ..
            }) => {}
            Err(e) => {
                self.clear_reset_witness(witness);
                // Refused: the module runs the old image still.
                let left = match e.cause {
                    Cause::Cdb(CdbError::Failed(_)) => Left::Downloaded,
                    _ => Left::RunSent,
                };
                return Err(e.leaving(left));
            }
        }
        let bound_ms = self.opts.reset_timeout_ms + u32::from(delay);
        self.io.notify(Notice::Phase(Phase::Restarting(bound_ms)));
        let deadline = self.io.now() + self.ms(bound_ms);
        // A ModuleStateChanged flag seen while polling Run is in
        // `link.latched`, which the first wait takes.
        let mut hint = false;
        loop {
            // After a hitless Run the module may show nothing but what it
            // runs: it is looked at now and then.
            let probe = hitless.then(|| self.io.now() + HITLESS_PROBE);
            let proven = self
                .wait_restart(Step::Restart, deadline, bound_ms, witness, hint, probe)
                .map_err(|e| e.leaving(Left::RunSent))?;
            let last = self.io.now() >= deadline;
            if !proven && !last && witness.is_some() && !hitless {
                // The witness says the reset has not happened: a command
                // sent now could be cut off by it. Only the version
                // register is looked at; a module the driver finds gone
                // is away, as in the wait.
                let running = match self.active_version(Step::Verify) {
                    Ok(v) => v,
                    Err(e) if e.cause == Cause::Access(Errno::ENODEV) => {
                        hint = false;
                        continue;
                    }
                    Err(e) => return Err(e.leaving(Left::RunSent)),
                };
                if expected.version == Some(running) && running != plan.old_version {
                    self.summary.new_version = running;
                    self.prepare(true).map_err(|e| e.leaving(Left::RunSent))?;
                    return Ok(Evidence::Version);
                }
                hint = false;
                continue;
            }
            self.prepare(true).map_err(|e| e.leaving(Left::RunSent))?;
            match self.check_running(plan, expected, proven)? {
                Ok(evidence) => {
                    if !proven {
                        // A hitless restart keeps the volatile registers:
                        // the module's masks are left as they were found.
                        self.clear_reset_witness(witness);
                    }
                    return Ok(evidence);
                }
                Err(cause) if proven || last => {
                    let left = match cause {
                        Cause::OldImageRunning(_) => Left::Downloaded,
                        _ => Left::RunSent,
                    };
                    self.clear_reset_witness(witness);
                    return Err(Error::new(Step::Verify, cause).leaving(left));
                }
                // What changed was not the reset yet (a module may change
                // state before it resets): wait for the reset itself.
                Err(_) => hint = false,
            }
        }
    }

    fn run_delay_ms(&self) -> u16 {
        if self.link.background {
            RUN_DELAY_MS
        } else {
            RUN_DELAY_FOREGROUND_MS
        }
    }

    /// Sets a bit that only a reset clears: a CDB completion interrupt
    /// mask in 00h:31 (instance 2's, else instance 1's), which is
    /// volatile and host-writable and masks nothing this update relies
    /// on (the flags are latched whatever the masks). Finding it clear
    /// later proves a reset even on a module that latches no
    /// ModuleStateChanged flag and is not seen away. `None` if both bits
    /// are set already or the module does not keep them.
    ///
    /// First the latched flags are read and dropped, so that a
    /// ModuleStateChanged flag latched from now on is the coming reset's.
    fn set_reset_witness(&mut self, step: Step) -> Result<Option<u8>, Error> {
        retry(self.io, |io| self.link.read_flags(io)).map_err(|e| self.access_error(step, e))?;
        self.link.take_latched();
        let a = Access::new(0, MASKS, 1);
        let mut b = [0u8];
        self.read(step, a, &mut b)?;
        let Some(bit) = [0x80u8, 0x40].into_iter().find(|bit| b[0] & bit == 0) else {
            return Ok(None);
        };
        let v = [b[0] | bit];
        retry(self.io, |io| io.write(a, &v)).map_err(|e| self.access_error(step, e))?;
        self.read(step, a, &mut b)?;
        Ok((b[0] & bit != 0).then_some(bit))
    }

    /// Puts the witness bit back where no reset did (best effort).
    fn clear_reset_witness(&mut self, witness: Option<u8>) {
        let Some(bit) = witness else { return };
        let a = Access::new(0, MASKS, 1);
        let mut b = [0u8];
        if self.read(Step::Run, a, &mut b).is_ok() && b[0] & bit != 0 {
            let v = [b[0] & !bit];
            let _ = retry(self.io, |io| io.write(a, &v));
        }
    }

    /// Polls the module after Run until it takes commands again and there
    /// is a reason to look at what it runs: `Ok(true)` when the reset
    /// witness is gone (a reset is proven), `Ok(false)` on a hint (a
    /// latched ModuleStateChanged flag, or the module away and back: busy
    /// modules NACK too, and a module may change state before it resets)
    /// or once the deadline (or `probe`, if given) has passed with the
    /// module answering. A module the driver finds gone (`ENODEV`) is
    /// away, as one that NACKs: only the deadline ends that.
    fn wait_restart(
        &mut self,
        step: Step,
        deadline: Nanos,
        bound_ms: u32,
        witness: Option<u8>,
        hint: bool,
        probe: Option<Nanos>,
    ) -> Result<bool, Error> {
        let mut hint = hint || self.link.take_latched() & module_flag::STATE_CHANGED != 0;
        let mut backoff = Backoff::new(POLL_MIN, RESET_POLL_MAX);
        loop {
            if self.io.interrupted() == Some(Interrupt::Stop) {
                return Err(Error::new(step, Cause::Stopped));
            }
            // Module state (3) and the latched flags (8) in one read.
            let mut b = [0u8; 6];
            let answered = self.io.read(Access::new(0, lower::MODULE_STATE, 6), &mut b);
            match answered {
                // A driver may report a module in reset as not there, as
                // it does an empty cage: away, as when it NACKs, until
                // the deadline. What else will not get better ends it.
                Err(e) if !e.is_transient() && e != Errno::ENODEV => {
                    return Err(Error::new(step, Cause::Access(e)));
                }
                Err(_) => hint = true,
                Ok(()) => {
                    self.link.flag_clear = true;
                    if b[5] & module_flag::STATE_CHANGED != 0 {
                        hint = true;
                    }
                    let state = super::cdb::advert::module_state(b[0]);
                    // Before the reset (the witness still set) a fault is
                    // the old image's, which the reset may end: the new
                    // image's only once the reset is proven, or cannot be.
                    if state == module_state::FAULT
                        && (witness.is_none()
                            || self.io.now() >= deadline
                            || self.witness_cleared(witness))
                    {
                        return Err(self.fault(step));
                    }
                    if state_is_up(state) {
                        if self.witness_cleared(witness) {
                            return Ok(true);
                        }
                        let now = self.io.now();
                        if hint || now >= deadline || probe.is_some_and(|p| now >= p) {
                            return Ok(false);
                        }
                    }
                }
            }
            if self.io.now() >= deadline {
                return Err(Error::new(step, Cause::NotBack(bound_ms)));
            }
            self.io.sleep(backoff.next_interval());
        }
    }

    /// Whether the witness bit is gone (a failed read proves nothing).
    fn witness_cleared(&mut self, witness: Option<u8>) -> bool {
        let Some(bit) = witness else { return false };
        let mut b = [0u8];
        match self.io.read(Access::new(0, MASKS, 1), &mut b) {
            Ok(()) => b[0] & bit == 0,
            Err(_) => false,
        }
    }

    /// What the module runs after a (possible) restart: the evidence that
    /// it is the new image, or why not. The active version register is
    /// the running image's own: showing the downloaded image's version,
    /// different from the old one, proves the switch. Equal versions
    /// prove nothing unless the reset is `proven`.
    fn check_running(
        &mut self,
        plan: &Plan,
        expected: &Expected,
        proven: bool,
    ) -> Result<Result<Evidence, Cause>, Error> {
        let leave = |e: Error| e.leaving(Left::RunSent);
        let running = self.active_version(Step::Verify).map_err(leave)?;
        self.summary.new_version = running;
        // The cheapest proof first: one read, while a module still booting
        // may not know Get Firmware Info for a while.
        if expected.version == Some(running) && running != plan.old_version {
            return Ok(Ok(Evidence::Version));
        }
        let not_yet = Cause::NoRestart(self.opts.reset_timeout_ms + u32::from(self.run_delay_ms()));
        // Versions that differ decide alone: the old one still shows.
        if !proven && expected.version.is_some_and(|v| v != plan.old_version) {
            return Ok(Err(not_yet));
        }
        if plan.info.is_some() {
            // Unless the reset is proven, a command may be cut off by it:
            // a short timeout, and its loss means "not yet".
            let floor = if proven {
                DEFAULT_TIMEOUT_MS
            } else {
                MIN_TIMEOUT_MS
            };
            let t = self.timeout(0, floor).min(self.ms(floor));
            let info = match self.firmware_info(t, true) {
                Err(Error {
                    cause: Cause::Cdb(CdbError::Timeout { .. }),
                    ..
                }) if !proven => return Ok(Err(not_yet)),
                r => r.map_err(leave)?,
            };
            if let Some(info) = info {
                if let (Some(bank), Some(now_running)) = (expected.bank, info.running()) {
                    return Ok(if now_running == bank {
                        Ok(Evidence::FirmwareInfo)
                    } else {
                        Err(Cause::OldImageRunning(now_running))
                    });
                }
            }
        }
        Ok(match expected.version {
            Some(v) if v == running && v != plan.old_version => Ok(Evidence::Version),
            Some(v) if v == running && proven => Ok(Evidence::SameVersion),
            // Never told the new version, but a different valid one runs:
            // the module can only have booted the new image.
            None if running.is_valid() && running != plan.old_version => Ok(Evidence::Version),
            Some(_) | None if running == plan.old_version && !proven => Err(not_yet),
            expected => Err(Cause::WrongVersion { running, expected }),
        })
    }

    // --- 5. Commit and the final reset -------------------------------------

    fn commit(&mut self, expected: &Expected, evidence: Evidence) -> Result<(), Error> {
        let proven = self.send_commit(expected)?;
        if proven && self.opts.hitless {
            // The final reset would cut the traffic the hitless run kept;
            // Get Firmware Info proved the commit.
            let leave = |e: Error| e.leaving(Left::CommitSent);
            self.summary.new_version = self.active_version(Step::Commit).map_err(leave)?;
            self.summary.evidence = Evidence::FirmwareInfo;
            return Ok(());
        }
        self.reset_and_check(expected, evidence, proven)
    }

    /// Commit, and Get Firmware Info's word on it where the module has
    /// it: `true` if that proves it.
    fn send_commit(&mut self, expected: &Expected) -> Result<bool, Error> {
        self.check_interrupt(Step::Commit)
            .map_err(|e| e.leaving(Left::RunningUncommitted))?;
        self.io.notify(Notice::Phase(Phase::Committing));
        let cmd = Command::empty(CommandId::COMMIT_FW_IMAGE);
        let req = Request {
            cmd: &cmd,
            epl: &[],
            expect: Expect::Nothing,
            // The first command of the new image's own: as upstream.
            timeout: self.timeout(0, DEFAULT_TIMEOUT_MS),
            first_wait: 0,
        };
        self.cdb(Step::Commit, &req)
            .map_err(|e| e.leaving(Left::RunningUncommitted))?;
        let leave = |e: Error| e.leaving(Left::CommitSent);
        // Get Firmware Info, where the module has it, proves the commit;
        // otherwise the final reset below does: the module boots its
        // committed image.
        // Asked once: a module still in its boot phase may not know it.
        let mut commit_proven = false;
        if let Some(bank) = expected.bank {
            let t = self.timeout(0, MIN_TIMEOUT_MS);
            let limits = (FW_INFO_MIN_LEN, FW_INFO_MAX_LEN);
            match self.query(Step::FwInfo, CommandId::GET_FW_INFO, limits, t) {
                Ok(len) if FwInfo::decode(&self.reply[..len]).bank(bank).committed => {
                    commit_proven = true;
                }
                Ok(_) => {
                    let e = Error::new(Step::Commit, Cause::NotCommitted(bank));
                    return Err(e.leaving(Left::RunningUncommitted));
                }
                Err(e) if e.command_may_still_run() => return Err(leave(e)),
                Err(_) => {}
            }
        }
        Ok(commit_proven)
    }

    /// The driver's module reset, as upstream ends: the module must come
    /// back from a proven reset (the witness again) running its committed
    /// image, the new one. Only Get Firmware Info's word on the commit
    /// lets the update end without that reset.
    fn reset_and_check(
        &mut self,
        expected: &Expected,
        evidence: Evidence,
        commit_proven: bool,
    ) -> Result<(), Error> {
        let leave = |e: Error| e.leaving(Left::CommitSent);
        let witness = self.set_reset_witness(Step::Reset).map_err(leave)?;
        let bound_ms = self.opts.reset_timeout_ms;
        self.io.notify(Notice::Phase(Phase::Resetting(bound_ms)));
        let reset = self
            .io
            .reset_module()
            .map_err(|e| leave(Error::new(Step::Reset, Cause::Access(e))))?;
        let mut seen = reset == ModuleReset::Done;
        if seen {
            let deadline = self.io.now() + self.ms(bound_ms);
            seen = loop {
                let proven = self
                    .wait_restart(Step::Reset, deadline, bound_ms, witness, false, None)
                    .map_err(leave)?;
                let past = self.io.now() >= deadline;
                // Without a witness a hint is all the module gives.
                if proven || (witness.is_none() && !past) {
                    break true;
                }
                if past {
                    break false;
                }
            };
        }
        if !seen {
            self.clear_reset_witness(witness);
            if !commit_proven {
                let cause = match reset {
                    ModuleReset::Ignored => Cause::ResetIgnored,
                    ModuleReset::Done => Cause::ResetNotSeen(bound_ms),
                };
                return Err(leave(Error::new(Step::Reset, cause)));
            }
            self.io.notify(Notice::Degraded(Degraded::NoFinalReset));
        }
        let running = self.active_version(Step::Reset).map_err(leave)?;
        let expect = match evidence {
            Evidence::FirmwareInfo => None,
            _ => Some(self.summary.new_version),
        };
        if let Some(v) = expect {
            if running != v {
                let cause = Cause::WrongVersion {
                    running,
                    expected: expected.version,
                };
                return Err(leave(Error::new(Step::Reset, cause)));
            }
        }
        self.summary.new_version = running;
        self.summary.evidence = evidence;
        Ok(())
    }
}

/// Progress notices: at most one per 1% of the image and per
/// `progress_interval_ms`, and always the one at 100%.
struct Progress {
    total: u64,
    interval: Nanos,
    done: u64,
    at: Option<Nanos>,
}

impl Progress {
    fn new(total: usize, opts: &Options) -> Self {
        Self {
            total: total as u64,
            interval: Nanos::from(opts.progress_interval_ms) * NS_PER_MS,
            done: 0,
            at: None,
        }
    }

    fn update(&mut self, io: &mut impl ModuleIo, done: usize) {
        let done = done as u64;
        let now = io.now();
        let step = (self.total / 100).max(1);
        let due = done >= self.total
            || self.at.is_none()
            || (done >= self.done + step && self.at.is_some_and(|at| now >= at + self.interval));
        if due && (done != self.done || self.at.is_none()) {
            self.done = done;
            self.at = Some(now);
            io.notify(Notice::Progress {
                done,
                total: self.total,
            });
        }
    }
}

/// When to poll the next block write first, from the last one: aim the
/// first poll at the end of the module's busy time. The first block is
/// polled from the start; then seven eighths of its time. A first poll
/// that finds the block done moves the next one earlier by 1/128, one
/// that finds it busy later by 1/32 (never past the time the block
/// took): the first poll lands just after the module is done, and the
/// few that come too early cost one more read each.
fn next_write_estimate(estimate: Nanos, done: &Done) -> Nanos {
    if estimate == 0 {
        if done.polls <= 1 {
            // Done at the first poll, made without waiting.
            return 0;
        }
        return done.elapsed - done.elapsed / 8;
    }
    if done.polls <= 1 {
        estimate - estimate / 128
    } else {
        (estimate + estimate / 32).min(done.elapsed)
    }
}
