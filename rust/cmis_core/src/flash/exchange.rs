// SPDX-License-Identifier: GPL-2.0

//! One CDB command, from the first byte written to the verified reply.
//!
//! The sequence is the one the spec asks for and hosts use: write the
//! command body (page 9Fh bytes 130 up to the end of the local payload)
//! in accesses no longer than the module allows, then the extended
//! payload into pages A0h-AFh, then the two CMDID bytes (128-129), which
//! trigger the command. Then wait, poll until the module is done, and read
//! and verify the reply.
//!
//! Polling: modules of CMIS 5 and later latch the CDB completion flag
//! (00h:8 bit 6) on every completion, so the flag is polled (after one
//! read that clears a stale flag) and the status byte is read once it is
//! set; CMIS 4 modules are polled on the status byte itself. So are
//! commands whose first poll comes at least [`STATUS_POLL_AFTER`] after
//! the trigger (block writes once their duration is known): the module
//! has long captured the command then, so the status byte cannot still
//! show the previous command's, and one read a poll is saved, thousands
//! in a flash (most hosts but Linux poll the status byte alone). A NACK while
//! polling means "busy" (foreground modules hold off the bus). The first
//! wait is the caller's estimate of the command's duration; after it the
//! interval starts at [`POLL_MIN`] (a sixteenth of the estimate, at least
//! [`REPOLL_MIN`], when there is one: it was nearly right) and doubles,
//! capped at an eighth of the time already waited (so a late poll
//! overshoots by at most about 12%) and at [`POLL_MAX`].

use super::super::cdb::{
    verify_reply, Command, Failure, ReplyError, Status, CDB_PAGE, EPL_FIRST_PAGE, LPL_MAX_LEN,
    RPL_LEN_OFFSET,
};
use super::super::map::{lower, Access, PAGE_SIZE, UPPER_START};
use super::{Io, Nanos, Outcome, Src};

/// Shortest poll interval.
pub const POLL_MIN: Nanos = 200_000;
/// Longest poll interval.
pub const POLL_MAX: Nanos = 20_000_000;
/// The least first wait after which the status byte is polled directly,
/// without the completion flag.
pub(super) const STATUS_POLL_AFTER: Nanos = 500_000;
/// Shortest interval between the first poll of a command whose duration
/// the caller estimated and the second: the estimate was a little short.
pub(super) const REPOLL_MIN: Nanos = 50_000;
/// How long a failed write of the command body or extended payload is
/// retried: a module may NACK for a moment (a page change, a busy
/// internal bus). The bytes are the same each time, so a retry is
/// harmless; the CMDID write that triggers the command is not retried.
pub const WRITE_RETRY: Nanos = 1_000_000_000;

/// How the module's CDB interface is accessed; learnt from the
/// advertisement and updated as the flash goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Link {
    /// Longest access on page 9Fh for commands below 0100h.
    pub(super) lpl_access: usize,
    /// Longest access on page 9Fh for firmware commands (0100h-01FFh).
    pub(super) fw_lpl_access: usize,
    /// Longest access on an EPL page (never more than the page).
    pub(super) epl_access: usize,
    /// Poll the completion flag (CMIS 5+) rather than the status byte.
    pub(super) flag_polling: bool,
    /// The completion flag is known to be clear.
    pub(super) flag_clear: bool,
}

impl Link {
    /// What every CMIS module allows before it says more.
    pub(super) const MINIMAL: Self = Self {
        lpl_access: 8,
        fw_lpl_access: 8,
        epl_access: 8,
        flag_polling: false,
        flag_clear: false,
    };

    fn lpl_access(&self, cmd: &Command) -> usize {
        if (0x0100..=0x01ff).contains(&cmd.id().0) {
            self.fw_lpl_access
        } else {
            self.lpl_access
        }
    }
}

/// Why a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdbError {
    /// An EEPROM access failed with this error code (negative errno in
    /// the kernel).
    Bus(i32),
    /// The module did not finish in time. Carries the last status byte
    /// read, if any, and the last bus error, if any.
    Timeout {
        /// Last CdbStatus byte read.
        status: Option<u8>,
        /// Last access error while polling.
        bus: Option<i32>,
    },
    /// The module finished the command with a failure status.
    Failed(Failure),
    /// The reply did not verify.
    Reply(ReplyError),
}

/// What the command expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// Nothing but a success status.
    Nothing,
    /// A reply of `min..=max` bytes.
    Reply { min: u8, max: u8 },
    /// Run Firmware Image: the module may reset before its status can be
    /// read; losing the bus or finding the status register cleared means
    /// the reset has begun.
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ClearFlag,
    Body,
    Epl,
    Trigger,
    Sleep,
    PollFlag,
    PollStatus,
    ReplyHeader,
    ReplyPayload,
}

/// What follows a sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// The next poll.
    Poll,
    /// Writing the body chunk again.
    Body,
    /// Writing the EPL chunk again.
    Epl,
}

/// What [`Exchange::advance`] asks for next.
pub(super) enum Next {
    /// Perform this and report the outcome.
    Io(Io),
    /// The command is over.
    Done(Result<(), CdbError>),
}

/// One command in flight.
#[derive(Clone, Copy, Debug)]
pub(super) struct Exchange {
    /// The encoded command.
    pub(super) cmd: Command,
    /// Where its extended payload starts in the image.
    epl_start: usize,
    expect: Expect,
    timeout: Nanos,
    first_wait: Nanos,
    phase: Phase,
    /// Bytes of the current phase done so far.
    pos: usize,
    /// Length of the access in flight.
    len: usize,
    /// Poll the flag (from the link) rather than the status.
    flag: bool,
    triggered: Nanos,
    interval: Nanos,
    /// Until when a failed body or EPL write is retried (0: no failure).
    retry_until: Nanos,
    /// What follows the sleep in progress.
    resume: Resume,
    last_status: Option<u8>,
    last_bus: Option<i32>,
    reply_len: u8,
    reply_chk: u8,
    /// The reply payload, `reply_len` bytes.
    pub(super) reply: [u8; LPL_MAX_LEN],
    /// Reads issued while waiting for completion.
    pub(super) polls: u32,
    /// Time from the trigger to the read that saw the command done.
    pub(super) elapsed: Nanos,
}

impl Exchange {
    /// Prepares `cmd`, whose extended payload (if any) starts at
    /// `epl_start` in the image; gives up `timeout` after the trigger and
    /// makes the first poll `first_wait` after it.
    pub(super) fn new(
        cmd: Command,
        epl_start: usize,
        expect: Expect,
        timeout: Nanos,
        first_wait: Nanos,
    ) -> Self {
        Self {
            cmd,
            epl_start,
            expect,
            timeout,
            first_wait,
            phase: Phase::ClearFlag,
            pos: 0,
            len: 0,
            flag: false,
            triggered: 0,
            interval: if first_wait > 0 {
                (first_wait / 16).clamp(REPOLL_MIN, POLL_MIN)
            } else {
                POLL_MIN
            },
            retry_until: 0,
            resume: Resume::Poll,
            last_status: None,
            last_bus: None,
            reply_len: 0,
            reply_chk: 0,
            reply: [0; LPL_MAX_LEN],
            polls: 0,
            elapsed: 0,
        }
    }

    /// The verified reply payload.
    pub(super) fn reply(&self) -> &[u8] {
        &self.reply[..self.reply_len as usize]
    }

    /// The first step: nothing has been done yet.
    pub(super) fn begin(&mut self, link: &Link) -> Next {
        self.flag = link.flag_polling
            && self.expect != Expect::Reset
            && self.first_wait < STATUS_POLL_AFTER;
        if self.flag && !link.flag_clear {
            self.phase = Phase::ClearFlag;
            return Next::Io(Io::Read(Access::new(0, lower::FLAGS, 1)));
        }
        self.start_body(link)
    }

    /// Takes the outcome of the last access or sleep asked for and says
    /// what comes next.
    pub(super) fn advance(&mut self, link: &mut Link, now: Nanos, outcome: Outcome<'_>) -> Next {
        match self.phase {
            Phase::ClearFlag => match outcome {
                Outcome::Failed(e) => Next::Done(Err(CdbError::Bus(e))),
                _ => {
                    link.flag_clear = true;
                    self.start_body(link)
                }
            },
            Phase::Body | Phase::Epl | Phase::Trigger => {
                if let Outcome::Failed(e) = outcome {
                    if self.phase == Phase::Trigger {
                        return Next::Done(Err(CdbError::Bus(e)));
                    }
                    return self.retry_write(now, e);
                }
                self.retry_until = 0;
                self.pos += self.len;
                match self.phase {
                    Phase::Body => self.body(link),
                    Phase::Epl => self.epl(link),
                    _ => {
                        self.triggered = now;
                        // The module latches the flag when it is done,
                        // whether it is polled or not.
                        link.flag_clear = false;
                        self.wait(self.first_wait)
                    }
                }
            }
            Phase::Sleep => match self.resume {
                Resume::Poll => self.poll(),
                Resume::Body => self.body(link),
                Resume::Epl => self.epl(link),
            },
            Phase::PollFlag => match outcome {
                Outcome::Data(&[b, ..]) if b & super::super::map::FLAG_CDB_COMPLETE_1 != 0 => {
                    // Reading the flag cleared it: from now on only the
                    // status byte can tell.
                    link.flag_clear = true;
                    self.flag = false;
                    self.phase = Phase::PollStatus;
                    Next::Io(Io::Read(Access::new(0, lower::CDB_STATUS_1, 1)))
                }
                Outcome::Failed(e) => {
                    self.last_bus = Some(e);
                    self.next_poll(now)
                }
                _ => self.next_poll(now),
            },
            Phase::PollStatus => self.on_status(now, outcome),
            Phase::ReplyHeader => match outcome {
                Outcome::Data(&[len, chk, ..]) => {
                    let Expect::Reply { min, max } = self.expect else {
                        return Next::Done(Ok(()));
                    };
                    if len < min || len > max || len as usize > LPL_MAX_LEN {
                        return Next::Done(Err(CdbError::Reply(ReplyError::BadLength {
                            got: len,
                            min,
                            max,
                        })));
                    }
                    self.reply_len = len;
                    self.reply_chk = chk;
                    self.pos = 0;
                    self.reply_payload(link)
                }
                Outcome::Failed(e) => Next::Done(Err(CdbError::Bus(e))),
                _ => Next::Done(Err(CdbError::Reply(ReplyError::Truncated))),
            },
            Phase::ReplyPayload => match outcome {
                Outcome::Data(d) if d.len() >= self.len => {
                    self.reply[self.pos..self.pos + self.len].copy_from_slice(&d[..self.len]);
                    self.pos += self.len;
                    self.reply_payload(link)
                }
                Outcome::Failed(e) => Next::Done(Err(CdbError::Bus(e))),
                _ => Next::Done(Err(CdbError::Reply(ReplyError::Truncated))),
            },
        }
    }

    fn start_body(&mut self, link: &Link) -> Next {
        self.pos = 0;
        self.body(link)
    }

    /// Writes the next chunk of the body from `pos`, or moves on.
    fn body(&mut self, link: &Link) -> Next {
        self.phase = Phase::Body;
        let body = self.cmd.body().len();
        if self.pos < body {
            self.len = (body - self.pos).min(link.lpl_access(&self.cmd));
            let access = Access::new(CDB_PAGE, Command::BODY_OFFSET + self.pos as u8, self.len);
            return Next::Io(Io::Write(access, Src::Body(self.pos, self.len)));
        }
        self.pos = 0;
        self.epl(link)
    }

    /// Writes the next chunk of the extended payload from `pos`, then the
    /// trigger.
    fn epl(&mut self, link: &Link) -> Next {
        self.phase = Phase::Epl;
        let total = self.cmd.epl_len();
        if self.pos < total {
            let in_page = self.pos % PAGE_SIZE;
            self.len = (total - self.pos)
                .min(PAGE_SIZE - in_page)
                .min(link.epl_access);
            let access = Access::new(
                EPL_FIRST_PAGE + (self.pos / PAGE_SIZE) as u8,
                UPPER_START + in_page as u8,
                self.len,
            );
            let src = Src::Image(self.epl_start + self.pos, self.len);
            return Next::Io(Io::Write(access, src));
        }
        self.phase = Phase::Trigger;
        self.pos = 0;
        self.len = 2;
        Next::Io(Io::Write(
            Access::new(CDB_PAGE, super::super::cdb::CMD_ID_OFFSET, 2),
            Src::Trigger,
        ))
    }

    fn wait(&mut self, ns: Nanos) -> Next {
        if ns == 0 {
            return self.poll();
        }
        self.phase = Phase::Sleep;
        self.resume = Resume::Poll;
        Next::Io(Io::Sleep(ns))
    }

    /// Sleeps, then writes the same chunk again, for up to
    /// [`WRITE_RETRY`] after the first failure.
    fn retry_write(&mut self, now: Nanos, error: i32) -> Next {
        if self.retry_until == 0 {
            self.retry_until = now + WRITE_RETRY;
            self.interval = POLL_MIN;
        }
        if now >= self.retry_until {
            return Next::Done(Err(CdbError::Bus(error)));
        }
        self.resume = if self.phase == Phase::Body {
            Resume::Body
        } else {
            Resume::Epl
        };
        self.phase = Phase::Sleep;
        let sleep = self.interval;
        self.interval = (self.interval * 2).min(POLL_MAX);
        Next::Io(Io::Sleep(sleep))
    }

    fn poll(&mut self) -> Next {
        self.polls += 1;
        let (phase, offset) = if self.flag {
            (Phase::PollFlag, lower::FLAGS)
        } else {
            (Phase::PollStatus, lower::CDB_STATUS_1)
        };
        self.phase = phase;
        Next::Io(Io::Read(Access::new(0, offset, 1)))
    }

    fn next_poll(&mut self, now: Nanos) -> Next {
        let waited = now.saturating_sub(self.triggered);
        if waited >= self.timeout {
            return Next::Done(Err(CdbError::Timeout {
                status: self.last_status,
                bus: self.last_bus,
            }));
        }
        let sleep = self.interval.min(self.timeout - waited);
        let cap = (waited / 8).clamp(POLL_MIN, POLL_MAX);
        self.interval = (self.interval * 2).min(cap);
        self.wait(sleep)
    }

    fn on_status(&mut self, now: Nanos, outcome: Outcome<'_>) -> Next {
        let b = match outcome {
            Outcome::Data(&[b, ..]) => b,
            Outcome::Failed(_) if self.expect == Expect::Reset => return self.done(now),
            Outcome::Failed(e) => {
                self.last_bus = Some(e);
                return self.next_poll(now);
            }
            _ => return self.next_poll(now),
        };
        self.last_status = Some(b);
        match Status::from_byte(b) {
            Status::Success => {
                self.elapsed = now - self.triggered;
                match self.expect {
                    Expect::Reply { .. } => {
                        self.phase = Phase::ReplyHeader;
                        Next::Io(Io::Read(Access::new(CDB_PAGE, RPL_LEN_OFFSET, 2)))
                    }
                    Expect::Nothing | Expect::Reset => self.done(now),
                }
            }
            Status::Failed(f) => Next::Done(Err(CdbError::Failed(f))),
            // A module that resets clears its status register.
            Status::Idle(_) if self.expect == Expect::Reset => self.done(now),
            Status::Busy(_) | Status::Idle(_) => self.next_poll(now),
        }
    }

    fn done(&mut self, now: Nanos) -> Next {
        self.elapsed = now - self.triggered;
        Next::Done(Ok(()))
    }

    fn reply_payload(&mut self, link: &Link) -> Next {
        let len = self.reply_len as usize;
        if self.pos < len {
            self.phase = Phase::ReplyPayload;
            self.len = (len - self.pos).min(link.lpl_access(&self.cmd));
            let offset = super::super::cdb::LPL_OFFSET + self.pos as u8;
            return Next::Io(Io::Read(Access::new(CDB_PAGE, offset, self.len)));
        }
        let header = [self.reply_len, self.reply_chk];
        let (min, max) = match self.expect {
            Expect::Reply { min, max } => (min, max),
            _ => (0, LPL_MAX_LEN as u8),
        };
        match verify_reply(header, &self.reply[..len], min, max) {
            Ok(_) => Next::Done(Ok(())),
            Err(e) => Next::Done(Err(CdbError::Reply(e))),
        }
    }
}
