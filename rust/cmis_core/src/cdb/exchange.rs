// SPDX-License-Identifier: GPL-2.0

//! One CDB command, from the first byte written to the verified reply: the
//! counterpart of `ethtool_cmis_cdb_execute_cmd()` in
//! `net/ethtool/cmis_cdb.c`.
//!
//! The host writes the command body (page 9Fh from byte 130: lengths,
//! check code, a zeroed reply header, the local payload) in accesses no
//! longer than the module allows, then the extended payload into pages
//! A0h-AFh, then CMDID (128-129), which triggers the command. Then it
//! waits and polls until it can prove that the module has finished *this*
//! command, and reads and verifies the reply.
//!
//! # Proof of completion
//!
//! A module may update its status byte (00h:37) some time after the
//! trigger; until then it still shows the previous command's final code,
//! 01h most often. A status byte alone therefore proves nothing, and a
//! host that takes it for completion goes on to write the CDB pages of a
//! busy module. A completion is accepted only with evidence that the
//! module captured the command:
//!
//! - [`PollMode::Flag`]: the completion flag (00h:8 bit 6, latched, clear
//!   on read) is known clear before the trigger (the read that found the
//!   previous command's flag cleared it; otherwise one read clears it), so
//!   finding it set afterwards means this command is done; the status byte
//!   read after it tells how it ended. This is how Linux polls every
//!   command but 0040h/0041h on CMIS 4.x modules, and how every command is
//!   polled on CMIS 5.x modules.
//! - [`PollMode::Status`] (0040h and 0041h on CMIS 4.x, whose completion
//!   flag CMIS 4 does not require): a busy code seen since the trigger; or,
//!   for a command with a reply, a reply in the area whose length byte the
//!   body write zeroed; or [`CAPTURE_WINDOW`] since the trigger. Commands
//!   sent this way only read, so running one twice is harmless. Their
//!   completion flag, if the module sets it (after the status, as the spec
//!   orders), is waited for up to [`FLAG_SETTLE`], so that it cannot be
//!   taken for the next command's.
//!
//! # Errors the module may legally cause
//!
//! Modules NACK (or clock-stretch until the driver gives up) while busy,
//! right after reset and while changing pages. Every access that can be
//! repeated is repeated for up to [`ACCESS_RETRY`]; a poll that is not
//! acknowledged counts as "busy". A failed trigger is not simply
//! repeated: the CDB is polled first to tell a command the module took
//! (whose CDB pages must not be written again while it runs) from one it
//! did not. A reply whose check code does not match is read again, as the
//! module may have been caught writing it.

use super::super::io::{Backoff, Errno, Interrupt, ModuleIo, Nanos, NS_PER_MS};
use super::super::map::{lower, Access, PAGE_SIZE, UPPER_START};
use super::{
    check_code, Command, CommandId, Failure, ReplyError, Status, CDB_PAGE, CMD_ID_OFFSET,
    EPL_FIRST_PAGE, LPL_MAX_LEN, LPL_OFFSET, RPL_LEN_OFFSET,
};
use core::fmt;

/// Shortest poll interval.
pub const POLL_MIN: Nanos = 200_000;
/// Longest poll interval of a background-mode module.
pub const POLL_MAX: Nanos = 20 * NS_PER_MS;
/// Longest poll interval of a foreground-mode module, which NACKs every
/// poll until it is done: each poll costs a bus error (a firmware call
/// on mailbox-based drivers) and tells nothing but "still busy".
pub const FOREGROUND_POLL_MAX: Nanos = 100 * NS_PER_MS;
/// Shortest interval between the first poll of a command whose duration
/// the caller estimated and the second: the estimate was a little short.
pub const REPOLL_MIN: Nanos = 50_000;
/// How long an access that failed with a transient error is repeated.
pub const ACCESS_RETRY: Nanos = 1_000 * NS_PER_MS;
/// Time after which a module has captured a command it was triggered
/// with, whatever its status byte says (SONiC's `CDB_MAX_CAPTURE_TIME`).
/// Only waited for when nothing else proves capture.
pub const CAPTURE_WINDOW: Nanos = 100 * NS_PER_MS;
/// How long after a status-polled command the host waits for its
/// completion flag. The spec has the module set the flag after the status;
/// a flag still to come when the next command is triggered would be
/// taken for that command's. A module that never sets it for these
/// commands (CMIS 4 does not require it) costs this wait once.
pub const FLAG_SETTLE: Nanos = 50 * NS_PER_MS;
/// How often a trigger the module did not take is written (each attempt
/// costs a [`CAPTURE_WINDOW`] when the module shows nothing).
pub const TRIGGER_ATTEMPTS: u32 = 10;
/// How often a reply whose check code does not match is read again.
pub const REPLY_REREADS: u32 = 2;
/// Most lateness of a sleep taken for the timer's: beyond it the host
/// was busy elsewhere, which says nothing of the next sleep.
pub const SLEEP_LATE_MAX: Nanos = 500_000;

/// Bits of 00h:8 besides the completion flags.
pub mod module_flag {
    /// ModuleStateChangedFlag.
    pub const STATE_CHANGED: u8 = 0x01;
    /// ModuleFirmwareErrorFlag.
    pub const MODULE_FIRMWARE_ERROR: u8 = 0x02;
    /// DataPathFirmwareErrorFlag.
    pub const DATAPATH_FIRMWARE_ERROR: u8 = 0x04;
    /// CdbCmdCompleteFlag1 (instance 1).
    pub const CDB_COMPLETE_1: u8 = 0x40;
}

/// How completion of a command is detected; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// Completion flag, then status byte.
    Flag,
    /// Status byte, with capture evidence.
    Status,
}

/// What the host knows about the module's CDB interface; learnt from the
/// advertisement and the features replies, updated as commands run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// CMIS major revision (00h:1 bits 7-4).
    pub major: u8,
    /// CdbBackgroundModeSupported: without it the module NACKs every
    /// access while a command runs.
    pub background: bool,
    /// Longest access on page 9Fh for commands below 0100h.
    pub lpl_access: usize,
    /// Longest access on page 9Fh for commands 0100h-01FFh.
    pub fw_lpl_access: usize,
    /// Longest access on an EPL page (never more than the page).
    pub epl_access: usize,
    /// The completion flag is known to be clear.
    pub flag_clear: bool,
    /// The last command was given up on (timed out, never shown to be
    /// taken, or its trigger write failed for good, which the module may
    /// still have received): the CDB may still be busy with it.
    pub unsettled: bool,
    /// When the last trigger write was made: until [`CAPTURE_WINDOW`]
    /// after it, an idle status byte may be the previous command's.
    pub triggered_at: Nanos,
    /// Whether the module sets the completion flag for status-polled
    /// commands, once known.
    pub status_mode_flag: Option<bool>,
    /// The CDB instance used, from 0 (instance 1): the bank of its pages
    /// 9Fh and A0h-AFh, its status byte and its completion flag.
    pub instance: u8,
    /// Latched bits of 00h:8 seen (and so cleared) since the caller last
    /// took them: reading byte 8 for the completion flag clears the
    /// module's other flags too, which must not be lost.
    pub latched: u8,
    /// How late the host's sleeps between polls wake, on average (at most
    /// [`SLEEP_LATE_MAX`]): the timer's and the scheduler's share of a
    /// wait, asked for that much less (see `nap`).
    pub sleep_late: Nanos,
}

impl Link {
    /// What every CMIS module allows before it says more.
    pub const MINIMAL: Self = Self {
        major: 4,
        background: true,
        lpl_access: 8,
        fw_lpl_access: 8,
        epl_access: 8,
        flag_clear: false,
        unsettled: false,
        triggered_at: 0,
        status_mode_flag: None,
        instance: 0,
        latched: 0,
        sleep_late: 0,
    };

    /// How command `id` is polled: the completion flag on CMIS 5.x; on
    /// CMIS 4.x for all but Module Features and Firmware Management
    /// Features, as Linux does (the modules in the field are the ones
    /// that work with it).
    pub fn poll_mode(&self, id: CommandId) -> PollMode {
        let features = matches!(id, CommandId::MODULE_FEATURES | CommandId::FW_MGMT_FEATURES);
        if self.major >= 5 || !features {
            PollMode::Flag
        } else {
            PollMode::Status
        }
    }

    fn lpl_access(&self, id: CommandId) -> usize {
        if (0x0100..=0x01ff).contains(&id.0) {
            self.fw_lpl_access
        } else {
            self.lpl_access
        }
    }

    /// The same link on CDB instance `instance` (from 0), its state not
    /// known yet.
    pub const fn on_instance(self, instance: u8) -> Self {
        Self {
            instance,
            flag_clear: false,
            unsettled: false,
            status_mode_flag: None,
            ..self
        }
    }

    /// An access to the instance's page `page` (9Fh or an EPL page).
    pub const fn cdb_access(&self, page: u8, offset: u8, len: usize) -> Access {
        let mut a = Access::new(page, offset, len);
        a.bank = self.instance;
        a
    }

    /// The instance's CdbStatus byte (00h:37 or 38).
    pub const fn status_access(&self) -> Access {
        Access::new(0, lower::CDB_STATUS_1 + self.instance, 1)
    }

    /// The instance's completion flag in 00h:8 (CdbCmdCompleteFlag1 or 2).
    pub const fn complete_flag(&self) -> u8 {
        module_flag::CDB_COMPLETE_1 << self.instance
    }

    /// Reads 00h:8, keeping what it clears in [`Link::latched`].
    pub fn read_flags(&mut self, io: &mut impl ModuleIo) -> Result<u8, Errno> {
        let mut b = [0u8];
        io.read(Access::new(0, lower::FLAGS, 1), &mut b)?;
        self.latched |= b[0];
        self.flag_clear = true;
        Ok(b[0])
    }

    /// Takes the latched flags seen so far.
    pub fn take_latched(&mut self) -> u8 {
        core::mem::take(&mut self.latched)
    }
}

/// The part of an exchange an access error hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Clearing the completion flag before the command.
    Flags,
    /// The command body in page 9Fh.
    Body,
    /// The extended payload.
    Epl,
    /// The CMDID write.
    Trigger,
    /// The reply.
    Reply,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flags => "reading the CDB completion flag",
            Self::Body => "writing the command",
            Self::Epl => "writing the extended payload",
            Self::Trigger => "writing the command id",
            Self::Reply => "reading the reply",
        })
    }
}

/// Why a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdbError {
    /// An access kept failing (for [`ACCESS_RETRY`]) or failed for good.
    Access {
        /// Where.
        part: Part,
        /// The last error.
        errno: Errno,
    },
    /// The CMDID write failed and the module never showed that it took
    /// the command, [`TRIGGER_ATTEMPTS`] times.
    NotCaptured(Errno),
    /// The module did not finish in time. Carries the last status byte
    /// read, if any, and the last access error while polling, if any.
    Timeout {
        /// Last CdbStatus byte read.
        status: Option<u8>,
        /// Last access error while polling.
        errno: Option<Errno>,
    },
    /// The module finished the command with a failure status.
    Failed(Failure),
    /// The reply did not verify.
    Reply(ReplyError),
    /// The CDB is still busy with an earlier command that was given up
    /// on (its status byte): nothing was written.
    Busy(u8),
    /// The requester asked to stop.
    Interrupted(Interrupt),
}

impl CdbError {
    /// The access error the command ended on, if it ended on one.
    pub fn access_errno(&self) -> Option<Errno> {
        match *self {
            Self::Access { errno, .. } | Self::NotCaptured(errno) => Some(errno),
            Self::Timeout { errno, .. } => errno,
            _ => None,
        }
    }

    /// Whether the module did not know or accept the command itself (as
    /// opposed to failing while doing it).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Self::Failed(Failure::UNKNOWN_COMMAND | Failure::PARAMETER)
        )
    }
}

impl fmt::Display for CdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Access { part, errno } => write!(f, "{part} failed ({errno})"),
            Self::NotCaptured(e) => write!(
                f,
                "the module did not take the command ({e} on every attempt)"
            ),
            Self::Timeout { status, errno } => {
                f.write_str("command did not complete in time")?;
                if let Some(s) = status {
                    write!(f, ", last status {s:#04x}")?;
                }
                if let Some(e) = errno {
                    write!(f, ", last access error {e}")?;
                }
                Ok(())
            }
            Self::Failed(failure) => write!(f, "{failure}"),
            Self::Reply(r) => write!(f, "bad reply: {r}"),
            Self::Busy(s) => write!(
                f,
                "the CDB is still busy with an earlier command (status {s:#04x})"
            ),
            Self::Interrupted(Interrupt::Cancel) => f.write_str("cancelled"),
            Self::Interrupted(Interrupt::Stop) => f.write_str("stopped"),
        }
    }
}

/// What the command returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Nothing but a success status.
    Nothing,
    /// A reply of `min..=max` bytes.
    Reply {
        /// Shortest acceptable reply.
        min: u8,
        /// Longest acceptable reply.
        max: u8,
    },
    /// Run Firmware Image: the module resets some time after it reports
    /// success (DelayToReset after the completion flag). Polled to its
    /// completion flag like any command, so that the flag cannot come
    /// later and be taken for the next command's; a ModuleStateChanged
    /// flag seen meanwhile stays in [`Link::latched`] for the caller.
    Reset,
}

/// One command to run.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The encoded command.
    pub cmd: &'a Command,
    /// Its extended payload (`cmd.epl_len()` bytes).
    pub epl: &'a [u8],
    /// What it returns.
    pub expect: Expect,
    /// Give up this long after the trigger.
    pub timeout: Nanos,
    /// First poll this long after the trigger (the caller's estimate of
    /// the command's duration; 0 polls at once).
    pub first_wait: Nanos,
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    /// Length of the verified reply in the caller's buffer.
    pub reply_len: usize,
    /// Reads issued while waiting for completion.
    pub polls: u32,
    /// Time from the trigger to the read that saw the command done.
    pub elapsed: Nanos,
}

/// What one poll found.
enum Poll {
    /// Still busy (or not acknowledged): poll again.
    Busy,
    /// A final status byte, and whether it is proven to be this
    /// command's.
    Final(u8),
    /// A reply proven to be this command's, already verified.
    Reply(usize),
}

/// Per-command polling state.
struct Poller {
    mode: PollMode,
    triggered: Nanos,
    interval: Nanos,
    /// The module showed it took the command (busy code or flag).
    captured: bool,
    /// This command's completion flag was seen (and so cleared).
    flag_seen: bool,
    /// The last poll read an idle status, at least [`CAPTURE_WINDOW`]
    /// after the trigger: the module answered and was not busy (a NACK
    /// may be a busy module's), and the byte is not a late module's
    /// earlier one.
    idle_seen: bool,
    /// The trigger write failed: evidence of capture is needed before the
    /// command is considered running at all.
    trigger_failed: bool,
    /// A poll failed for good (the module was away, as when unplugged):
    /// it may have restarted since the trigger, in another state.
    away: bool,
    /// A flag read failed: the module may have sent the byte all the same
    /// (a bus error after the data), which cleared the latched flag, so
    /// it may never be seen. Past [`CAPTURE_WINDOW`] the status byte
    /// tells the command's end instead.
    flag_lost: bool,
    polls: u32,
    last_status: Option<u8>,
    last_errno: Option<Errno>,
}

/// Runs one command. `reply` receives the reply payload; its first
/// [`Done::reply_len`] bytes are the verified reply.
pub fn execute(
    io: &mut impl ModuleIo,
    link: &mut Link,
    req: &Request<'_>,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<Done, CdbError> {
    let mode = link.poll_mode(req.cmd.id());
    if link.unsettled {
        // Writing into the pages of a busy instance would corrupt the
        // command it runs. Its status byte says so only once the module
        // has had time to capture it.
        let captured_by = link.triggered_at + CAPTURE_WINDOW;
        let now = io.now();
        if now < captured_by {
            nap(io, link, captured_by - now)?;
        }
        let mut b = [0u8];
        let a = link.status_access();
        retry(io, |io| io.read(a, &mut b)).map_err(|e| access(Part::Flags, e))?;
        if let Status::Busy(_) = Status::from_byte(b[0]) {
            return Err(CdbError::Busy(b[0]));
        }
        // Done meanwhile: its completion flag, set after the status, may
        // still be on its way.
        settle_flag(io, link, false)?;
        link.unsettled = false;
    }
    if mode == PollMode::Flag && !link.flag_clear {
        retry(io, |io| link.read_flags(io)).map_err(|e| access(Part::Flags, e))?;
    }
    write_body(io, link, req)?;
    write_epl(io, link, req)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = io.now();
        link.triggered_at = before;
        let trigger = io.write(
            link.cdb_access(CDB_PAGE, CMD_ID_OFFSET, 2),
            req.cmd.trigger(),
        );
        // The module latches the flag when it is done, polled or not.
        link.flag_clear = false;
        let mut p = Poller {
            mode,
            triggered: before,
            interval: first_interval(req.first_wait),
            captured: false,
            flag_seen: false,
            idle_seen: false,
            trigger_failed: false,
            away: false,
            flag_lost: false,
            polls: 0,
            last_status: None,
            last_errno: None,
        };
        match trigger {
            Ok(()) => p.triggered = io.now(),
            Err(errno) if !errno.is_transient() => {
                // The driver's error may come after the module took the
                // command (a NACK of the last byte, a lost answer).
                link.unsettled = true;
                return Err(CdbError::Access {
                    part: Part::Trigger,
                    errno,
                });
            }
            Err(e) => {
                p.trigger_failed = true;
                p.last_errno = Some(e);
                p.interval = POLL_MIN;
            }
        }
        let wait = if p.trigger_failed {
            POLL_MIN
        } else {
            req.first_wait
        };
        match poll_until_done(io, link, req, &mut p, wait, reply) {
            // Triggered again only into the module that was triggered: one
            // that was away may have restarted (running another image, or
            // out of its download), where the command means something
            // else.
            Err(CdbError::NotCaptured(_)) if attempts < TRIGGER_ATTEMPTS && !p.away => {}
            r => {
                // Given up on, or left when the requester stopped: the
                // command may run on.
                link.unsettled = matches!(
                    r,
                    Err(CdbError::Timeout { .. }
                        | CdbError::NotCaptured(_)
                        | CdbError::Interrupted(_))
                );
                // Over, as its status said (a reply read after it may
                // still have failed): its flag may be late.
                let ended = matches!(
                    r,
                    Ok(_)
                        | Err(CdbError::Failed(_)
                            | CdbError::Reply(_)
                            | CdbError::Access {
                                part: Part::Reply,
                                ..
                            })
                );
                let settled = if ended && mode == PollMode::Status {
                    settle_flag(io, link, true)
                } else if ended && !p.flag_seen {
                    // Its end was read from the status (after a busy code):
                    // its flag is still to come.
                    settle_flag(io, link, false)
                } else {
                    Ok(())
                };
                if let Err(e) = settled {
                    // Its flag may still come, and be taken for the next
                    // command's: that one waits for it first.
                    link.unsettled = true;
                    return Err(e);
                }
                return r;
            }
        }
    }
}

/// Waits up to [`FLAG_SETTLE`] for the completion flag of a command that
/// is over without its flag seen (a status-polled one, or one given up
/// on that has finished since), so that the flag cannot come later and be
/// taken for the next command's. For status-polled commands the wait is
/// skipped once the module is known not to set the flag for them.
fn settle_flag(
    io: &mut impl ModuleIo,
    link: &mut Link,
    status_polled: bool,
) -> Result<(), CdbError> {
    if status_polled && link.status_mode_flag == Some(false) {
        return Ok(());
    }
    let until = io.now() + FLAG_SETTLE;
    let mut backoff = Backoff::new(POLL_MIN, POLL_MAX);
    loop {
        let b = retry(io, |io| link.read_flags(io)).map_err(|e| access(Part::Flags, e))?;
        let seen = b & link.complete_flag() != 0;
        if seen || io.now() >= until {
            if status_polled {
                link.status_mode_flag = Some(seen);
            }
            return Ok(());
        }
        nap(io, link, backoff.next_interval())?;
    }
}

fn first_interval(first_wait: Nanos) -> Nanos {
    if first_wait > 0 {
        (first_wait / 64).clamp(REPOLL_MIN, POLL_MIN)
    } else {
        POLL_MIN
    }
}

fn access(part: Part, e: AccessFailure) -> CdbError {
    match e {
        AccessFailure::Errno(errno) => CdbError::Access { part, errno },
        AccessFailure::Interrupted(i) => CdbError::Interrupted(i),
    }
}

/// Why [`retry`] gave up.
#[derive(Clone, Copy, Debug)]
pub enum AccessFailure {
    /// The access failed with this error, for good or for too long.
    Errno(Errno),
    /// The requester asked to stop.
    Interrupted(Interrupt),
}

/// Performs `op` until it succeeds, fails with a permanent error, keeps
/// failing for [`ACCESS_RETRY`], or the requester stops. Only for
/// accesses that may be repeated (the same bytes written again, a read
/// without side effects or whose side effects are kept).
pub fn retry<T, I: ModuleIo>(
    io: &mut I,
    mut op: impl FnMut(&mut I) -> Result<T, Errno>,
) -> Result<T, AccessFailure> {
    let mut until = None;
    let mut backoff = Backoff::new(POLL_MIN, POLL_MAX);
    loop {
        let e = match op(io) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let now = io.now();
        let until = *until.get_or_insert(now + ACCESS_RETRY);
        if !e.is_transient() || now >= until {
            return Err(AccessFailure::Errno(e));
        }
        if io.interrupted() == Some(Interrupt::Stop) {
            return Err(AccessFailure::Interrupted(Interrupt::Stop));
        }
        io.sleep(backoff.next_interval().min(until - now));
    }
}

/// Writes bytes 130.. of page 9Fh: lengths, check code, zeroed reply
/// header, local payload.
fn write_body(io: &mut impl ModuleIo, link: &Link, req: &Request<'_>) -> Result<(), CdbError> {
    let body = req.cmd.body();
    let step = link.lpl_access(req.cmd.id()).max(1);
    let mut pos = 0;
    while pos < body.len() {
        let len = (body.len() - pos).min(step);
        let a = link.cdb_access(CDB_PAGE, Command::BODY_OFFSET + pos as u8, len);
        let chunk = &body[pos..pos + len];
        retry(io, |io| io.write(a, chunk)).map_err(|e| access(Part::Body, e))?;
        pos += len;
    }
    Ok(())
}

/// Writes the extended payload into pages A0h.., page by page.
fn write_epl(io: &mut impl ModuleIo, link: &Link, req: &Request<'_>) -> Result<(), CdbError> {
    let total = req.cmd.epl_len().min(req.epl.len());
    let step = link.epl_access.clamp(1, PAGE_SIZE);
    let mut pos = 0;
    while pos < total {
        let in_page = pos % PAGE_SIZE;
        let len = (total - pos).min(PAGE_SIZE - in_page).min(step);
        let a = link.cdb_access(
            EPL_FIRST_PAGE + (pos / PAGE_SIZE) as u8,
            UPPER_START + in_page as u8,
            len,
        );
        let chunk = &req.epl[pos..pos + len];
        retry(io, |io| io.write(a, chunk)).map_err(|e| access(Part::Epl, e))?;
        pos += len;
    }
    Ok(())
}

/// Waits about `ns` unless the requester stops. With a background-mode
/// module it sleeps `ns` less the lateness the host's sleeps show (learnt
/// here), so that the poll after it comes when it is meant to; a wait no
/// longer than that lateness is not slept at all, the next access taking
/// about as long. Once the wait grows past the lateness (intervals
/// double, up to an eighth of the time waited), sleeping resumes. A
/// foreground-mode module NACKs every poll until it is done: it gets the
/// whole sleep.
fn nap(io: &mut impl ModuleIo, link: &mut Link, ns: Nanos) -> Result<(), CdbError> {
    let ask = if link.background {
        ns.saturating_sub(link.sleep_late)
    } else {
        ns
    };
    if ask > 0 {
        let start = io.now();
        io.sleep(ask);
        let late = io
            .now()
            .saturating_sub(start)
            .saturating_sub(ask)
            .min(SLEEP_LATE_MAX);
        link.sleep_late = link.sleep_late - link.sleep_late / 8 + late / 8;
    }
    match io.interrupted() {
        Some(Interrupt::Stop) => Err(CdbError::Interrupted(Interrupt::Stop)),
        _ => Ok(()),
    }
}

fn poll_until_done(
    io: &mut impl ModuleIo,
    link: &mut Link,
    req: &Request<'_>,
    p: &mut Poller,
    first_wait: Nanos,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<Done, CdbError> {
    nap(io, link, first_wait)?;
    loop {
        let found = poll_once(io, link, req, p, reply)?;
        let now = io.now();
        let elapsed = now.saturating_sub(p.triggered);
        let done = |reply_len| Done {
            reply_len,
            polls: p.polls,
            elapsed,
        };
        match found {
            Poll::Reply(len) => return Ok(done(len)),
            Poll::Final(status) => match Status::from_byte(status) {
                Status::Success => {
                    let len = match req.expect {
                        Expect::Reply { min, max } => read_reply(io, link, req, min, max, reply)?,
                        Expect::Nothing | Expect::Reset => 0,
                    };
                    return Ok(done(len));
                }
                Status::Failed(f) => return Err(CdbError::Failed(f)),
                Status::Busy(_) | Status::Idle(_) => {}
            },
            Poll::Busy => {}
        }
        if p.trigger_failed && !p.captured && p.idle_seen && elapsed >= CAPTURE_WINDOW {
            return Err(CdbError::NotCaptured(p.last_errno.unwrap_or(Errno::EIO)));
        }
        if elapsed >= req.timeout {
            return Err(CdbError::Timeout {
                status: p.last_status,
                errno: p.last_errno,
            });
        }
        let sleep = p.interval.min(req.timeout - elapsed);
        p.interval = next_interval(p.interval, elapsed, link.background);
        nap(io, link, sleep)?;
    }
}

/// The interval after `interval`, `waited` after the trigger: doubling,
/// capped at an eighth of the time waited (a late poll overshoots by at
/// most about 12%) and [`POLL_MAX`]; for foreground modules, whose polls
/// are all NACKed until they are done, growing by a quarter of the time
/// waited up to [`FOREGROUND_POLL_MAX`].
fn next_interval(interval: Nanos, waited: Nanos, background: bool) -> Nanos {
    if background {
        (interval * 2).min((waited / 8).clamp(POLL_MIN, POLL_MAX))
    } else {
        (interval * 2).min((waited / 4).clamp(NS_PER_MS, FOREGROUND_POLL_MAX))
    }
}

/// One poll: the flag and then the status, or the status alone.
fn poll_once(
    io: &mut impl ModuleIo,
    link: &mut Link,
    req: &Request<'_>,
    p: &mut Poller,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<Poll, CdbError> {
    p.polls += 1;
    if p.mode == PollMode::Flag && !p.captured {
        match link.read_flags(io) {
            Ok(b) if b & link.complete_flag() != 0 => {
                // Cleared before the trigger, set now: this command's.
                p.captured = true;
                p.flag_seen = true;
            }
            // Not done. After a failed trigger the status may show that
            // the module took the command (a busy code): then it must not
            // be triggered again.
            Ok(_) if p.trigger_failed || p.flag_lost => {}
            Ok(_) => return Ok(Poll::Busy),
            Err(e) => {
                p.flag_lost = true;
                return Ok(poll_error(p, e));
            }
        }
    }
    let status = match read_status(io, link, p) {
        Ok(s) => s,
        Err(e) => return Ok(poll_error(p, e)),
    };
    // What the byte can prove depends on when it was read: reading a
    // reply below may take long (NACKs), and a byte read inside the
    // capture window may be the previous command's still.
    let read_at = io.now();
    if let Status::Busy(_) = Status::from_byte(status) {
        p.captured = true;
        return Ok(Poll::Busy);
    }
    p.idle_seen = read_at.saturating_sub(p.triggered) >= CAPTURE_WINDOW;
    if p.captured {
        return Ok(Poll::Final(status));
    }
    if p.mode == PollMode::Flag && !p.flag_lost {
        // Only the flag tells this command's end.
        return Ok(Poll::Busy);
    }
    // Status mode (or a flag possibly lost), and nothing yet says the
    // module took the command: the byte may be the previous command's.
    if let (Status::Success, Expect::Reply { min, max }) = (Status::from_byte(status), req.expect) {
        if min > 0 {
            // The body write zeroed RPLLength: a reply there now was put
            // by the module after that, for this command.
            let len = read_reply(io, link, req, min, max, reply);
            match len {
                Err(CdbError::Reply(ReplyError::BadLength { got: 0, .. })) => {}
                // A failed read proves nothing: the byte may still be the
                // previous command's, this one running.
                Err(CdbError::Access { errno, .. }) => return Ok(poll_error(p, errno)),
                Err(e) => return Err(e),
                Ok(len) => {
                    p.captured = true;
                    return Ok(Poll::Reply(len));
                }
            }
        }
    }
    let waited = read_at.saturating_sub(p.triggered);
    if !p.trigger_failed && waited >= CAPTURE_WINDOW {
        return Ok(Poll::Final(status));
    }
    Ok(Poll::Busy)
}

/// Busy modules NACK; a driver error counts the same way: the timeout
/// bounds it.
fn poll_error(p: &mut Poller, e: Errno) -> Poll {
    p.last_errno = Some(e);
    p.away |= !e.is_transient();
    p.idle_seen = false;
    Poll::Busy
}

fn read_status(io: &mut impl ModuleIo, link: &Link, p: &mut Poller) -> Result<u8, Errno> {
    let mut b = [0u8];
    io.read(link.status_access(), &mut b)?;
    p.last_status = Some(b[0]);
    Ok(b[0])
}

/// Reads RPLLength, RPLChkCode and the payload, in as few accesses as the
/// module allows, and verifies them; reads again when the check code does
/// not match (a module may be caught writing the reply).
fn read_reply(
    io: &mut impl ModuleIo,
    link: &Link,
    req: &Request<'_>,
    min: u8,
    max: u8,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<usize, CdbError> {
    let step = link.lpl_access(req.cmd.id()).max(2);
    let mut rereads = 0;
    loop {
        // Header and as much of the longest reply as one access takes.
        let mut first = [0u8; 2 + LPL_MAX_LEN];
        let n = (2 + max as usize).min(step).min(first.len());
        let a = link.cdb_access(CDB_PAGE, RPL_LEN_OFFSET, n);
        retry(io, |io| io.read(a, &mut first[..n])).map_err(|e| access(Part::Reply, e))?;
        let (len, chk) = (first[0], first[1]);
        if len < min || len > max || len as usize > LPL_MAX_LEN {
            return Err(CdbError::Reply(ReplyError::BadLength {
                got: len,
                min,
                max,
            }));
        }
        if len == 0 {
            // RPLChkCode of an empty reply is not specified (modules
            // write 00h or FFh): nothing to verify.
            return Ok(0);
        }
        let len = len as usize;
        let have = (n - 2).min(len);
        reply[..have].copy_from_slice(&first[2..2 + have]);
        let mut pos = have;
        while pos < len {
            let chunk = (len - pos).min(step);
            let a = link.cdb_access(CDB_PAGE, LPL_OFFSET + pos as u8, chunk);
            let dst = &mut reply[pos..pos + chunk];
            retry(io, |io| io.read(a, dst)).map_err(|e| access(Part::Reply, e))?;
            pos += chunk;
        }
        let expected = check_code(&reply[..len]);
        if chk == expected {
            return Ok(len);
        }
        if rereads == REPLY_REREADS {
            return Err(CdbError::Reply(ReplyError::BadCheckCode {
                got: chk,
                expected,
            }));
        }
        rereads += 1;
    }
}
