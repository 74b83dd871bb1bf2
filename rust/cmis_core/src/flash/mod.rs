// SPDX-License-Identifier: GPL-2.0

//! Firmware update of a CMIS module over CDB, without I/O.
//!
//! [`Flasher`] is the logic of `net/ethtool/cmis_cdb.c` and
//! `cmis_fw_update.c` as a state machine: the caller (a kernel work item,
//! or a test driving the emulator model) asks it for the next
//! [`Action`] — read or write some bytes of the module's memory map,
//! sleep, report progress, reset the module — performs it and hands back
//! the [`Outcome`], until it says [`Action::Finished`]. Nothing here
//! sleeps, allocates or touches hardware, so every path is testable on
//! the host with a virtual clock.
//!
//! The sequence is upstream's (identify, CDB advertisement, password,
//! Module Features, Firmware Management Features, Start, write blocks,
//! Complete, Run, wait, identify again, Commit, driver reset) with these
//! differences:
//!
//! - every reply's length and check code are verified;
//! - durations honour the 10x coding bit and are clamped to
//!   [`MIN_TIMEOUT_MS`]..=[`MAX_TIMEOUT_MS`];
//! - no fixed sleeps: polls start after an estimate of the command's
//!   duration and back off (see [`exchange`]);
//! - writes of page 9Fh cover only the bytes a command needs and respect
//!   the module's read/write length extension; EPL blocks are sized from
//!   CdbMaxPagesEPL;
//! - Get Firmware Info (0100h), when the module has it, confirms after Run
//!   that the new image runs and after Commit that it is committed;
//! - a download that fails after Start is aborted (0102h) when the module
//!   supports it, so the module never keeps a half-written bank marked as
//!   in progress;
//! - the wait for the module after Run is bounded by
//!   [`Options::reset_timeout_ms`] rather than a fixed 3 s;
//! - erased blocks are skipped when the module allows it.

mod exchange;
pub mod features;
#[cfg(test)]
mod tests;

use super::cdb::{Command, CommandId, Failure, LPL_MAX_LEN};
use super::map::{lower, Access};
use core::fmt;
pub use exchange::{CdbError, POLL_MAX, POLL_MIN, WRITE_RETRY};
use exchange::{Exchange, Expect, Link, Next};
use features::{
    duration, epl_access_max, lpl_access_max, state_is_up, write_mechanism, BankId, CdbAdvert,
    FwFeatures, FwInfo, Identity, ModuleFeatures, FW_FEATURES_LEN, FW_INFO_MAX_LEN,
    FW_INFO_MIN_LEN, MODULE_FEATURES_LEN,
};

/// Time in nanoseconds, from any fixed origin.
pub type Nanos = u64;

const NS_PER_MS: Nanos = 1_000_000;

/// No command is given less than this, whatever the module advertises:
/// modules are known to advertise durations shorter than they take.
pub const MIN_TIMEOUT_MS: u32 = 3_000;
/// No command is waited for longer than this, whatever the module
/// advertises (a duration field can say up to 655 s).
pub const MAX_TIMEOUT_MS: u32 = 120_000;
/// Timeout of a command whose duration the module does not give, as
/// upstream (before clamping).
const DEFAULT_TIMEOUT_MS: u32 = 65_535;
/// Largest LPL firmware block: the local payload less the block address.
pub const LPL_BLOCK_MAX: usize = LPL_MAX_LEN - 4;
/// Largest EPL firmware block.
pub const EPL_BLOCK_MAX: usize = super::cdb::EPL_MAX_LEN;
/// Largest start payload (vendor header) a module may ask for.
pub const START_PAYLOAD_MAX: u8 = 112;

/// Interval of the module-state polls while waiting for a module to come
/// back from a reset: from [`POLL_MIN`] doubling up to this.
const RESET_POLL_MAX: Nanos = 20 * NS_PER_MS;

/// What the requester asks for beyond the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Host password, written to 00h:122-125 and checked with Query
    /// Status before any command.
    pub password: Option<u32>,
    /// How long the module may stay away after Run or the final reset.
    pub reset_timeout_ms: u32,
    /// Minimum time between two progress notices (besides the 1% step).
    pub progress_interval_ms: u32,
}

impl Options {
    /// No password, 60 s for the module to come back, progress at most
    /// every 100 ms and every 1%.
    pub const DEFAULT: Self = Self {
        password: None,
        reset_timeout_ms: 60_000,
        progress_interval_ms: 100,
    };
}

/// A progress report for the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The module takes CDB commands; the update begins.
    Started,
    /// `done` of `total` bytes of the image are in the module.
    Progress {
        /// Bytes the module has accepted.
        done: u64,
        /// Image size.
        total: u64,
    },
}

/// What the caller must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read `len` bytes at the access and report [`Outcome::Data`].
    Read(Access),
    /// Write these bytes at the access and report [`Outcome::None`].
    Write(Access, &'a [u8]),
    /// Sleep at least this long, then report [`Outcome::None`].
    Sleep(Nanos),
    /// Pass the notice on, then report [`Outcome::None`].
    Notify(Notice),
    /// Reset the module through the driver (ETH_RESET_PHY), report
    /// [`Outcome::None`] or [`Outcome::Failed`].
    ResetModule,
    /// Over: stop calling.
    Finished(Result<Summary, Error>),
}

/// How the last action went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'d> {
    /// Done (or nothing was asked yet).
    None,
    /// The bytes read.
    Data(&'d [u8]),
    /// The access or reset failed with this error code.
    Failed(i32),
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
    /// Waiting for the module to come back from a reset.
    Ready,
    /// Checking that the new image runs.
    Verify,
    /// Commit Firmware Image (010Ah).
    Commit,
    /// The driver's module reset.
    Reset,
    /// Stopped on request.
    Cancel,
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
            Self::Image => f.write_str("checking the image"),
            Self::Start => f.write_str("Start Firmware Download (0101h)"),
            Self::Write(a) => write!(f, "Write Firmware Block at address {a:#x}"),
            Self::Complete => f.write_str("Complete Firmware Download (0107h)"),
            Self::Run => f.write_str("Run Firmware Image (0109h)"),
            Self::Ready => f.write_str("waiting for the module after reset"),
            Self::Verify => f.write_str("checking the running image"),
            Self::Commit => f.write_str("Commit Firmware Image (010Ah)"),
            Self::Reset => f.write_str("resetting the module"),
            Self::Cancel => f.write_str("flashing"),
        }
    }
}

/// Why the update failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A command failed.
    Cdb(CdbError),
    /// A plain register access failed with this error code.
    Bus(i32),
    /// The identifier is not a CMIS module type.
    NotCmis(u8),
    /// The module has flat memory: no pages, no CDB.
    FlatMemory,
    /// CMIS revision below 4.0.
    RevisionTooOld(u8),
    /// The module does not support CDB.
    NoCdb,
    /// Query Status says the password was not accepted.
    PasswordRejected,
    /// Neither a usable LPL nor EPL write mechanism (0041h byte 141).
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
    /// The image changed size between calls.
    ImageChanged,
    /// The module did not come back within this many ms.
    NotBack(u32),
    /// After Run the module still runs this (old) bank.
    OldImageRunning(BankId),
    /// After Commit this (new) bank is not committed.
    NotCommitted(BankId),
    /// The caller cancelled the update.
    Cancelled,
    /// A command could not be encoded (a bug: payloads are bounded).
    Encode(super::cdb::EncodeError),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cdb(CdbError::Bus(e)) | Self::Bus(e) => {
                write!(f, "EEPROM access failed (error {e})")
            }
            Self::Cdb(CdbError::Timeout { status, bus }) => {
                f.write_str("command did not complete in time")?;
                if let Some(s) = status {
                    write!(f, ", last status {s:#04x}")?;
                }
                if let Some(e) = bus {
                    write!(f, ", last access error {e}")?;
                }
                Ok(())
            }
            Self::Cdb(CdbError::Failed(failure)) => write!(f, "{failure}"),
            Self::Cdb(CdbError::Reply(r)) => write!(f, "bad reply: {r}"),
            Self::NotCmis(id) => write!(f, "identifier {id:#04x} is not a CMIS module"),
            Self::FlatMemory => f.write_str("module has flat memory, hence no CDB"),
            Self::RevisionTooOld(r) => write!(
                f,
                "CMIS revision {}.{} does not support firmware update",
                r >> 4,
                r & 0xf
            ),
            Self::NoCdb => f.write_str("module does not support CDB"),
            Self::PasswordRejected => f.write_str("password not accepted"),
            Self::NoWriteMechanism(m) => {
                write!(f, "no usable firmware write mechanism ({m:#04x})")
            }
            Self::StartPayloadTooLarge(n) => {
                write!(f, "start payload size {n} exceeds {START_PAYLOAD_MAX}")
            }
            Self::ImageTooSmall { size, need } => write!(
                f,
                "image of {size} bytes is smaller than the {need}-byte start payload"
            ),
            Self::ImageTooLarge(n) => write!(f, "image of {n} bytes is too large"),
            Self::ImageChanged => f.write_str("image changed during the update"),
            Self::NotBack(ms) => write!(f, "module not ready within {ms} ms"),
            Self::OldImageRunning(b) => write!(
                f,
                "module still runs its previous image (bank {}); new image not committed",
                b.name()
            ),
            Self::NotCommitted(b) => write!(f, "new image (bank {}) not committed", b.name()),
            Self::Cancelled => f.write_str("cancelled"),
            Self::Encode(e) => write!(f, "cannot encode command: {e}"),
        }
    }
}

/// A failed update: where, why, and whether the download was aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// What was being done.
    pub step: Step,
    /// What went wrong.
    pub cause: Cause,
    /// The download was aborted with 0102h after the failure.
    pub aborted: bool,
}

impl Error {
    const fn new(step: Step, cause: Cause) -> Self {
        Self {
            step,
            cause,
            aborted: false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.step, self.cause)?;
        if self.aborted {
            f.write_str("; download aborted")?;
        }
        Ok(())
    }
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

/// What a successful (or failed) update did.
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
    /// EEPROM reads.
    pub reads: u32,
    /// EEPROM writes.
    pub writes: u32,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Write mechanism used.
    pub mechanism: Mechanism,
    /// Block size used.
    pub block_size: u32,
    /// Get Firmware Info confirmed the new image runs and is committed.
    pub verified: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Identify,
    Advert,
    PasswordWrite,
    QueryStatus,
    ModuleFeatures,
    FwFeatures,
    FwInfoBefore,
    Start,
    Write,
    Complete,
    Run,
    WaitBack,
    FwInfoAfterRun,
    Commit,
    FwInfoAfterCommit,
    Reset,
    WaitAfterReset,
    Abort,
    Done,
}

/// What the last action handed out was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    Nothing,
    /// A plain access, sleep or reset of the current stage.
    Io,
    /// A step of the current command.
    Cdb,
    /// A notice.
    Notice,
    Finished,
}

/// An action without the borrowed data (see [`Src`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Io {
    Read(Access),
    Write(Access, Src),
    Sleep(Nanos),
    Notify(Notice),
    Reset,
    Finished,
}

/// Where the bytes of a write come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    /// The current command's body, from this offset, this many bytes.
    Body(usize, usize),
    /// The current command's CMDID.
    Trigger,
    /// The image, from this offset, this many bytes.
    Image(usize, usize),
    /// The password.
    Password,
}

/// Sub-step of a wait for the module after a reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitPhase {
    Sleep,
    Read,
}

/// A firmware update in progress. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Flasher {
    opts: Options,
    image_len: usize,
    stage: Stage,
    in_flight: InFlight,
    ex: Exchange,
    link: Link,
    identity: Identity,
    advert: CdbAdvert,
    module_features: ModuleFeatures,
    fw: FwFeatures,
    block: usize,
    /// Next byte of the image to write.
    offset: usize,
    /// Length of the block in flight.
    block_len: usize,
    /// The bank the new image goes to, if Get Firmware Info told.
    target: Option<BankId>,
    fw_info: bool,
    download_active: bool,
    after_run: bool,
    went_away: bool,
    wait_phase: WaitPhase,
    wait_deadline: Nanos,
    wait_interval: Nanos,
    /// When to poll a block write first, learnt from the previous ones.
    write_estimate: Nanos,
    notice: Option<Notice>,
    progress_done: u64,
    progress_at: Nanos,
    failure: Option<Error>,
    result: Option<Result<Summary, Error>>,
    cancel: bool,
    summary: Summary,
    password: [u8; 4],
}

impl Flasher {
    /// An update of an image of `image_len` bytes.
    pub fn new(image_len: usize, opts: Options) -> Self {
        Self {
            opts,
            image_len,
            stage: Stage::Identify,
            in_flight: InFlight::Nothing,
            ex: Exchange::new(
                Command::empty(CommandId::QUERY_STATUS),
                0,
                Expect::Nothing,
                0,
                0,
            ),
            link: Link::MINIMAL,
            identity: Identity::default(),
            advert: CdbAdvert::default(),
            module_features: ModuleFeatures::default(),
            fw: FwFeatures::default(),
            block: 0,
            offset: 0,
            block_len: 0,
            target: None,
            fw_info: false,
            download_active: false,
            after_run: false,
            went_away: false,
            wait_phase: WaitPhase::Sleep,
            wait_deadline: 0,
            wait_interval: POLL_MIN,
            write_estimate: 0,
            notice: None,
            progress_done: 0,
            progress_at: 0,
            failure: None,
            result: None,
            cancel: false,
            summary: Summary::default(),
            password: opts.password.unwrap_or(0).to_be_bytes(),
        }
    }

    /// Asks the update to stop: a command in flight is let finish, a
    /// started download is aborted, then the update ends with
    /// [`Cause::Cancelled`]. After Complete nothing is left to undo, so a
    /// cancel then stops before the next command (the module may run the
    /// new image uncommitted; it boots its committed one on reset).
    pub fn cancel(&mut self) {
        self.cancel = true;
    }

    /// What has been done so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Takes the outcome of the previous action (at the first call,
    /// [`Outcome::None`]) at time `now` and returns the next action.
    /// `image` must be the same bytes at every call.
    pub fn step<'a>(&'a mut self, image: &'a [u8], now: Nanos, outcome: Outcome<'_>) -> Action<'a> {
        if image.len() != self.image_len && self.result.is_none() {
            self.result = Some(Err(Error::new(Step::Image, Cause::ImageChanged)));
            self.stage = Stage::Done;
            self.in_flight = InFlight::Nothing;
        }
        let io = self.next_io(image, now, outcome);
        self.materialize(image, io)
    }

    fn next_io(&mut self, image: &[u8], now: Nanos, outcome: Outcome<'_>) -> Io {
        let mut outcome = outcome;
        loop {
            match core::mem::replace(&mut self.in_flight, InFlight::Nothing) {
                InFlight::Nothing | InFlight::Notice => {}
                InFlight::Finished => {
                    self.in_flight = InFlight::Finished;
                    return Io::Finished;
                }
                InFlight::Io => {
                    if let Err(e) = self.on_io(now, outcome) {
                        self.fail(e);
                    }
                }
                InFlight::Cdb => match self.ex.advance(&mut self.link, now, outcome) {
                    Next::Io(io) => {
                        self.in_flight = InFlight::Cdb;
                        return io;
                    }
                    Next::Done(r) => self.cdb_done(now, r),
                },
            }
            outcome = Outcome::None;
            if let Some(n) = self.notice.take() {
                self.in_flight = InFlight::Notice;
                return Io::Notify(n);
            }
            if self.cancel && self.stage != Stage::Done && self.stage != Stage::Abort {
                self.cancel = false;
                self.fail(Error::new(Step::Cancel, Cause::Cancelled));
                continue;
            }
            match self.begin(image, now) {
                Begin::Io(io) => {
                    self.in_flight = InFlight::Io;
                    return io;
                }
                Begin::Cdb => {
                    self.summary.commands += 1;
                    match self.ex.begin(&self.link) {
                        Next::Io(io) => {
                            self.in_flight = InFlight::Cdb;
                            return io;
                        }
                        Next::Done(r) => self.cdb_done(now, r),
                    }
                }
                Begin::Again => {}
                Begin::Finished => {
                    self.in_flight = InFlight::Finished;
                    return Io::Finished;
                }
            }
        }
    }

    fn materialize<'a>(&'a mut self, image: &'a [u8], io: Io) -> Action<'a> {
        match io {
            Io::Read(a) => {
                self.summary.reads += 1;
                self.summary.bytes_read += a.len as u64;
                Action::Read(a)
            }
            Io::Write(a, src) => {
                let data: &[u8] = match src {
                    Src::Body(from, len) => self.ex.cmd.body().get(from..from + len),
                    Src::Trigger => Some(self.ex.cmd.trigger()),
                    Src::Image(from, len) => image.get(from..from + len),
                    Src::Password => Some(&self.password[..]),
                }
                .unwrap_or(&[]);
                self.summary.writes += 1;
                self.summary.bytes_written += data.len() as u64;
                Action::Write(a, data)
            }
            Io::Sleep(ns) => Action::Sleep(ns),
            Io::Notify(n) => Action::Notify(n),
            Io::Reset => Action::ResetModule,
            Io::Finished => Action::Finished(
                self.result
                    .unwrap_or(Err(Error::new(Step::Cancel, Cause::Cancelled))),
            ),
        }
    }

    /// The timeout of a command the module says takes up to
    /// `advertised_ms` (0: not said).
    fn timeout(&self, advertised_ms: u32) -> Nanos {
        let ms = if advertised_ms != 0 {
            advertised_ms
        } else if self.module_features.max_completion_ms != 0 {
            u32::from(self.module_features.max_completion_ms)
        } else if self.advert.max_busy_ms != 0 {
            self.advert.max_busy_ms
        } else {
            DEFAULT_TIMEOUT_MS
        };
        Nanos::from(ms.clamp(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)) * NS_PER_MS
    }

    /// Encodes a command; every caller passes payloads within the limits,
    /// so a failure here would be a bug, reported as a failed step.
    fn command(&mut self, id: CommandId, lpl: &[u8], epl: usize) -> Option<Command> {
        match Command::new(id, lpl, epl) {
            Ok(cmd) => Some(cmd),
            Err(e) => {
                self.fail(Error::new(self.step_name(), Cause::Encode(e)));
                None
            }
        }
    }

    /// Starts a command without payload.
    fn cdb(&mut self, id: CommandId, expect: Expect, advertised_ms: u32) -> Begin {
        let timeout = self.timeout(advertised_ms);
        self.ex = Exchange::new(Command::empty(id), 0, expect, timeout, 0);
        Begin::Cdb
    }

    /// Starts a command with a payload, or moves on if it cannot be
    /// encoded.
    fn cdb_with(
        &mut self,
        id: CommandId,
        payload: Payload<'_>,
        expect: Expect,
        timeout: Nanos,
        first_wait: Nanos,
    ) -> Begin {
        match self.command(id, payload.lpl, payload.epl_len) {
            Some(cmd) => {
                self.ex = Exchange::new(cmd, payload.epl_start, expect, timeout, first_wait);
                Begin::Cdb
            }
            None => Begin::Again,
        }
    }

    /// Starts the current stage.
    fn begin(&mut self, image: &[u8], now: Nanos) -> Begin {
        match self.stage {
            Stage::Identify => Begin::Io(Io::Read(Access::new(0, lower::IDENTIFIER, 4))),
            Stage::Advert => Begin::Io(Io::Read(Access::new(1, 163, 5))),
            Stage::PasswordWrite => {
                if self.opts.password.is_none() {
                    self.stage = Stage::ModuleFeatures;
                    return Begin::Again;
                }
                let a = Access::new(0, lower::PASSWORD_ENTRY, 4);
                Begin::Io(Io::Write(a, Src::Password))
            }
            Stage::QueryStatus => {
                let expect = Expect::Reply { min: 2, max: 2 };
                let timeout = self.timeout(0);
                let payload = Payload::lpl(&[0, 0]);
                self.cdb_with(CommandId::QUERY_STATUS, payload, expect, timeout, 0)
            }
            Stage::ModuleFeatures => self.cdb(
                CommandId::MODULE_FEATURES,
                Expect::Reply {
                    min: MODULE_FEATURES_LEN,
                    max: MODULE_FEATURES_LEN,
                },
                0,
            ),
            Stage::FwFeatures => self.cdb(
                CommandId::FW_MGMT_FEATURES,
                Expect::Reply {
                    min: FW_FEATURES_LEN,
                    max: FW_FEATURES_LEN,
                },
                0,
            ),
            Stage::FwInfoBefore | Stage::FwInfoAfterRun | Stage::FwInfoAfterCommit => self.cdb(
                CommandId::GET_FW_INFO,
                Expect::Reply {
                    min: FW_INFO_MIN_LEN,
                    max: FW_INFO_MAX_LEN,
                },
                0,
            ),
            Stage::Start => self.begin_start(image),
            Stage::Write => self.begin_write(image, now),
            Stage::Complete => self.cdb(
                CommandId::COMPLETE_FW_DOWNLOAD,
                Expect::Nothing,
                self.fw.max_ms[duration::COMPLETE],
            ),
            Stage::Run => {
                // Mode 00h (reset to the inactive image, as upstream),
                // no delay: the reset is detected by the module going
                // away or clearing its status.
                let timeout = self.timeout(0);
                let lpl = [0, 0, 0, 0];
                let payload = Payload::lpl(&lpl);
                self.cdb_with(CommandId::RUN_FW_IMAGE, payload, Expect::Reset, timeout, 0)
            }
            Stage::WaitBack | Stage::WaitAfterReset => match self.wait_phase {
                WaitPhase::Sleep => Begin::Io(Io::Sleep(self.wait_interval)),
                WaitPhase::Read => Begin::Io(Io::Read(Access::new(0, lower::MODULE_STATE, 1))),
            },
            Stage::Commit => self.cdb(CommandId::COMMIT_FW_IMAGE, Expect::Nothing, 0),
            Stage::Reset => Begin::Io(Io::Reset),
            Stage::Abort => self.cdb(
                CommandId::ABORT_FW_DOWNLOAD,
                Expect::Nothing,
                self.fw.max_ms[duration::ABORT],
            ),
            Stage::Done => {
                if self.result.is_none() {
                    self.result = Some(Ok(self.summary));
                }
                Begin::Finished
            }
        }
    }

    fn begin_start(&mut self, image: &[u8]) -> Begin {
        let need = self.fw.start_payload_size as usize;
        let size = match u32::try_from(image.len()) {
            Ok(s) => s,
            Err(_) => {
                self.fail(Error::new(Step::Image, Cause::ImageTooLarge(image.len())));
                return Begin::Again;
            }
        };
        if image.len() < need {
            let cause = Cause::ImageTooSmall {
                size: image.len(),
                need,
            };
            self.fail(Error::new(Step::Image, cause));
            return Begin::Again;
        }
        let mut lpl = [0u8; 8 + START_PAYLOAD_MAX as usize];
        lpl[0..4].copy_from_slice(&size.to_be_bytes());
        lpl[8..8 + need].copy_from_slice(&image[..need]);
        let timeout = self.timeout(self.fw.max_ms[duration::START]);
        let lpl = &lpl[..8 + need];
        let payload = Payload::lpl(lpl);
        self.cdb_with(
            CommandId::START_FW_DOWNLOAD,
            payload,
            Expect::Nothing,
            timeout,
            0,
        )
    }

    fn begin_write(&mut self, image: &[u8], now: Nanos) -> Begin {
        let start = self.fw.start_payload_size as usize;
        while self.offset < image.len() {
            let len = (image.len() - self.offset).min(self.block);
            let data = &image[self.offset..self.offset + len];
            if self.fw.skip_erased && data.iter().all(|&b| b == self.fw.erased_byte) {
                self.summary.skipped_blocks += 1;
                self.offset += len;
                self.progress(now);
                continue;
            }
            self.block_len = len;
            let address = (self.offset - start) as u32;
            let timeout = self.timeout(self.fw.max_ms[duration::WRITE]);
            let (offset, wait) = (self.offset, self.write_estimate);
            let expect = Expect::Nothing;
            if self.summary.mechanism == Mechanism::Epl {
                let lpl = address.to_be_bytes();
                let id = CommandId::WRITE_FW_BLOCK_EPL;
                let payload = Payload {
                    lpl: &lpl,
                    epl_start: offset,
                    epl_len: len,
                };
                return self.cdb_with(id, payload, expect, timeout, wait);
            }
            let mut lpl = [0u8; LPL_MAX_LEN];
            let lpl_len = (4 + len).min(LPL_MAX_LEN);
            lpl[..4].copy_from_slice(&address.to_be_bytes());
            lpl[4..lpl_len].copy_from_slice(&data[..lpl_len - 4]);
            let id = CommandId::WRITE_FW_BLOCK_LPL;
            let payload = Payload::lpl(&lpl[..lpl_len]);
            return self.cdb_with(id, payload, expect, timeout, wait);
        }
        self.stage = Stage::Complete;
        Begin::Again
    }

    /// Queues a progress notice if due: at most one per 1% of the image
    /// and per `progress_interval_ms`, and always the one at 100%.
    fn progress(&mut self, now: Nanos) {
        let done = self.offset as u64;
        let total = self.image_len as u64;
        let step = (total / 100).max(1);
        let interval = Nanos::from(self.opts.progress_interval_ms) * NS_PER_MS;
        let due = done >= total
            || (done >= self.progress_done + step && now >= self.progress_at + interval);
        if due && done != self.progress_done {
            self.progress_done = done;
            self.progress_at = now;
            self.notice = Some(Notice::Progress { done, total });
        }
    }

    /// Moves to the wait for the module after a reset.
    fn start_wait(&mut self, stage: Stage, now: Nanos) {
        self.stage = stage;
        self.wait_phase = WaitPhase::Sleep;
        self.wait_interval = POLL_MIN;
        self.wait_deadline = now + Nanos::from(self.opts.reset_timeout_ms) * NS_PER_MS;
        self.went_away = false;
        self.link.flag_clear = false;
    }

    /// Handles the outcome of a plain access, sleep or reset.
    fn on_io(&mut self, now: Nanos, outcome: Outcome<'_>) -> Result<(), Error> {
        match self.stage {
            Stage::Identify => {
                let b = read4(outcome, Step::Identify)?;
                let id = Identity::decode(b);
                if !id.is_cmis() {
                    return Err(Error::new(Step::Identify, Cause::NotCmis(id.identifier)));
                }
                if id.flat_memory {
                    return Err(Error::new(Step::Identify, Cause::FlatMemory));
                }
                if id.major() < 4 {
                    let cause = Cause::RevisionTooOld(id.revision);
                    return Err(Error::new(Step::Identify, cause));
                }
                self.identity = id;
                self.link.flag_polling = id.major() >= 5;
                self.stage = Stage::Advert;
            }
            Stage::Advert => {
                let b = match outcome {
                    Outcome::Data(&[a, b, c, d, e, ..]) => [a, b, c, d, e],
                    Outcome::Failed(e) => {
                        return Err(Error::new(Step::Advertisement, Cause::Bus(e)))
                    }
                    _ => return Err(Error::new(Step::Advertisement, Cause::Bus(-5))),
                };
                let advert = CdbAdvert::decode(b);
                if advert.instances == 0 {
                    return Err(Error::new(Step::Advertisement, Cause::NoCdb));
                }
                self.advert = advert;
                self.link.lpl_access = lpl_access_max(advert.rw_len_ext);
                if !self.after_run {
                    // Until Firmware Management Features says otherwise.
                    self.link.fw_lpl_access = self.link.lpl_access;
                    self.link.epl_access = epl_access_max(advert.rw_len_ext).min(128);
                }
                self.stage = Stage::PasswordWrite;
            }
            Stage::PasswordWrite => {
                if let Outcome::Failed(e) = outcome {
                    return Err(Error::new(Step::Password, Cause::Bus(e)));
                }
                self.stage = Stage::QueryStatus;
            }
            Stage::Reset => {
                if let Outcome::Failed(e) = outcome {
                    return Err(Error::new(Step::Reset, Cause::Bus(e)));
                }
                self.start_wait(Stage::WaitAfterReset, now);
            }
            Stage::WaitBack | Stage::WaitAfterReset => return self.on_wait(now, outcome),
            _ => {}
        }
        Ok(())
    }

    fn on_wait(&mut self, now: Nanos, outcome: Outcome<'_>) -> Result<(), Error> {
        if self.wait_phase == WaitPhase::Sleep {
            self.wait_phase = WaitPhase::Read;
            return Ok(());
        }
        match outcome {
            Outcome::Data(&[b, ..]) if state_is_up(features::module_state(b)) => {
                self.stage = if self.stage == Stage::WaitBack {
                    Stage::Identify
                } else {
                    Stage::Done
                };
                return Ok(());
            }
            Outcome::Failed(_) => self.went_away = true,
            _ => {}
        }
        if now >= self.wait_deadline {
            return Err(Error::new(
                Step::Ready,
                Cause::NotBack(self.opts.reset_timeout_ms),
            ));
        }
        self.wait_phase = WaitPhase::Sleep;
        self.wait_interval = (self.wait_interval * 2)
            .min(RESET_POLL_MAX)
            .min(self.wait_deadline - now);
        Ok(())
    }

    fn cdb_done(&mut self, now: Nanos, r: Result<(), CdbError>) {
        self.summary.polls += self.ex.polls;
        if let Err(e) = self.on_cdb(now, r) {
            self.fail(e);
        }
    }

    /// Handles the end of the current stage's command.
    fn on_cdb(&mut self, now: Nanos, r: Result<(), CdbError>) -> Result<(), Error> {
        let step = self.step_name();
        if let Err(e) = r {
            let unsupported = matches!(
                e,
                CdbError::Failed(Failure::UNKNOWN_COMMAND | Failure::PARAMETER)
            );
            if self.stage == Stage::FwInfoBefore && unsupported {
                // No Get Firmware Info: flash without the bank checks.
                self.stage = Stage::Start;
                return Ok(());
            }
            if self.stage == Stage::Abort {
                // The abort failed too: report the first failure.
                self.result = self.failure.take().map(Err);
                self.stage = Stage::Done;
                return Ok(());
            }
            if matches!(self.stage, Stage::Write | Stage::Start | Stage::Complete) {
                // The target bank may be half written (or a failed Start
                // may have begun a download): abort.
                self.download_active = true;
            }
            return Err(Error::new(step, Cause::Cdb(e)));
        }
        let reply = self.ex.reply();
        match self.stage {
            Stage::QueryStatus => {
                // Byte 137: 00h = no password accepted.
                if reply[1] == 0 {
                    return Err(Error::new(Step::Password, Cause::PasswordRejected));
                }
                self.stage = Stage::ModuleFeatures;
            }
            Stage::ModuleFeatures => {
                self.module_features = ModuleFeatures::decode(reply);
                if self.after_run {
                    self.stage = if self.fw_info {
                        Stage::FwInfoAfterRun
                    } else {
                        Stage::Commit
                    };
                } else {
                    self.notice = Some(Notice::Started);
                    self.stage = Stage::FwFeatures;
                }
            }
            Stage::FwFeatures => self.on_fw_features(FwFeatures::decode(reply))?,
            Stage::FwInfoBefore => {
                let info = FwInfo::decode(reply);
                self.fw_info = true;
                self.target = info.running().map(BankId::other);
                self.stage = Stage::Start;
            }
            Stage::Start => {
                self.download_active = true;
                self.offset = self.fw.start_payload_size as usize;
                self.progress(now);
                self.stage = Stage::Write;
            }
            Stage::Write => {
                self.summary.blocks += 1;
                self.offset += self.block_len;
                self.write_estimate = next_write_estimate(self.write_estimate, &self.ex);
                self.progress(now);
            }
            Stage::Complete => {
                self.download_active = false;
                self.stage = Stage::Run;
            }
            Stage::Run => {
                self.after_run = true;
                self.start_wait(Stage::WaitBack, now);
            }
            Stage::FwInfoAfterRun => {
                let info = FwInfo::decode(reply);
                if let Some(target) = self.target {
                    if !info.bank(target).running {
                        if !self.went_away && now < self.wait_deadline {
                            // The reset has not begun yet: what answered
                            // was the old image. Keep waiting, backing off.
                            self.stage = Stage::WaitBack;
                            self.wait_phase = WaitPhase::Sleep;
                            self.wait_interval = (self.wait_interval * 2)
                                .min(RESET_POLL_MAX)
                                .min(self.wait_deadline - now);
                            return Ok(());
                        }
                        let cause = Cause::OldImageRunning(target.other());
                        return Err(Error::new(Step::Verify, cause));
                    }
                }
                self.stage = Stage::Commit;
            }
            Stage::Commit => {
                self.stage = if self.fw_info {
                    Stage::FwInfoAfterCommit
                } else {
                    Stage::Reset
                };
            }
            Stage::FwInfoAfterCommit => {
                let info = FwInfo::decode(reply);
                if let Some(target) = self.target {
                    if !info.bank(target).committed {
                        return Err(Error::new(Step::Commit, Cause::NotCommitted(target)));
                    }
                    self.summary.verified = true;
                }
                self.stage = Stage::Reset;
            }
            Stage::Abort => {
                self.result = self.failure.take().map(|mut e| {
                    e.aborted = true;
                    Err(e)
                });
                self.stage = Stage::Done;
            }
            _ => {}
        }
        Ok(())
    }

    fn on_fw_features(&mut self, fw: FwFeatures) -> Result<(), Error> {
        if fw.start_payload_size > START_PAYLOAD_MAX {
            let cause = Cause::StartPayloadTooLarge(fw.start_payload_size);
            return Err(Error::new(Step::FwFeatures, cause));
        }
        let epl_block = (self.advert.epl_pages * super::map::PAGE_SIZE).min(EPL_BLOCK_MAX);
        if fw.write_mechanism & write_mechanism::EPL != 0 && epl_block > 0 {
            self.summary.mechanism = Mechanism::Epl;
            self.block = epl_block;
        } else if fw.write_mechanism & write_mechanism::LPL != 0 {
            self.summary.mechanism = Mechanism::Lpl;
            self.block = LPL_BLOCK_MAX;
        } else {
            let cause = Cause::NoWriteMechanism(fw.write_mechanism);
            return Err(Error::new(Step::FwFeatures, cause));
        }
        self.summary.block_size = self.block as u32;
        self.link.fw_lpl_access = lpl_access_max(fw.rw_len_ext);
        self.link.epl_access = epl_access_max(fw.rw_len_ext).min(super::map::PAGE_SIZE);
        self.fw = fw;
        self.stage = Stage::FwInfoBefore;
        Ok(())
    }

    fn step_name(&self) -> Step {
        match self.stage {
            Stage::Identify | Stage::WaitBack | Stage::WaitAfterReset => Step::Identify,
            Stage::Advert => Step::Advertisement,
            Stage::PasswordWrite | Stage::QueryStatus => Step::Password,
            Stage::ModuleFeatures => Step::ModuleFeatures,
            Stage::FwFeatures => Step::FwFeatures,
            Stage::FwInfoBefore | Stage::FwInfoAfterRun | Stage::FwInfoAfterCommit => Step::FwInfo,
            Stage::Start => Step::Start,
            Stage::Write => {
                let start = self.fw.start_payload_size as usize;
                Step::Write(self.offset.saturating_sub(start) as u32)
            }
            Stage::Complete => Step::Complete,
            Stage::Run => Step::Run,
            Stage::Commit => Step::Commit,
            Stage::Reset => Step::Reset,
            Stage::Abort | Stage::Done => Step::Cancel,
        }
    }

    /// Ends the update with `e`, aborting a started download first.
    fn fail(&mut self, e: Error) {
        if self.stage == Stage::Abort || self.stage == Stage::Done {
            if self.result.is_none() {
                self.result = Some(Err(self.failure.take().unwrap_or(e)));
            }
            self.stage = Stage::Done;
            return;
        }
        if self.download_active && self.fw.abort {
            self.download_active = false;
            self.failure = Some(e);
            self.stage = Stage::Abort;
        } else {
            self.result = Some(Err(e));
            self.stage = Stage::Done;
        }
    }
}

/// The payload of a command: local, and extended from the image.
struct Payload<'p> {
    lpl: &'p [u8],
    epl_start: usize,
    epl_len: usize,
}

impl<'p> Payload<'p> {
    const fn lpl(lpl: &'p [u8]) -> Self {
        Self {
            lpl,
            epl_start: 0,
            epl_len: 0,
        }
    }
}

/// What starting a stage needs.
enum Begin {
    Io(Io),
    /// The command in `Flasher::ex`.
    Cdb,
    /// The stage moved on without I/O: start the next one.
    Again,
    Finished,
}

/// Reads the four bytes of an identity read.
/// When to poll the next block write first, from the last one: aim the
/// first poll at the end of the module's busy time. The first block is
/// polled from the start; then seven eighths of its time. A first poll
/// that finds the block done moves the next one earlier by 1/64, one that
/// finds it busy later by 1/16 (never past the time the block took): the
/// first poll lands just after the module is done, and the few that come
/// too early cost one more read each.
fn next_write_estimate(estimate: Nanos, ex: &Exchange) -> Nanos {
    if estimate == 0 {
        if ex.polls <= 1 {
            // Done at the first poll, made without waiting.
            return 0;
        }
        return ex.elapsed - ex.elapsed / 8;
    }
    if ex.polls <= 1 {
        estimate - estimate / 64
    } else {
        (estimate + estimate / 16).min(ex.elapsed)
    }
}

fn read4(outcome: Outcome<'_>, step: Step) -> Result<[u8; 4], Error> {
    match outcome {
        Outcome::Data(&[a, b, c, d, ..]) => Ok([a, b, c, d]),
        Outcome::Failed(e) => Err(Error::new(step, Cause::Bus(e))),
        _ => Err(Error::new(step, Cause::Bus(-5))),
    }
}
