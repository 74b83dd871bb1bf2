// SPDX-License-Identifier: GPL-2.0

//! Model of a CMIS module with CDB firmware update, for the emulator.
//!
//! [`Module`] is the whole module as its host sees it over the management
//! interface: a paged memory map, a CDB engine, firmware banks, a timing
//! model and fault injection. It is sans-IO like the rest of the core: the
//! caller passes the current time (nanoseconds from any fixed origin) with
//! every access and sleeps for the bus time the access returns; nothing
//! here blocks or allocates. The kernel module (`cmis_emu`) wraps one per
//! port; host tests drive it with a virtual clock.
//!
//! References are to CMIS 5.x as summarised in the project's reference
//! notes; where the specification leaves behaviour open the choice is
//! documented here and in `Documentation/emulator.rst`.

mod engine;
pub mod firmware;
pub mod limit;

use super::cdb::{CDB_PAGE, EPL_FIRST_PAGE, EPL_MAX_PAGES};
use super::image::Version;
use super::map::{lower, Access, AccessError, PAGE_SIZE, UPPER_START};
use core::{fmt, ops::Range};
use firmware::{BankId, DownloadRules, Firmware, ImageUpdate, Slot};

/// Time in nanoseconds, from an origin the caller chooses.
pub type Nanos = u64;

const NS_PER_MS: u64 = 1_000_000;

/// How the module reacts to one access, when it does not complete it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusError {
    /// The access itself is malformed (page, bank, offset, length or I2C
    /// address). The kernel adapter answers `EINVAL`.
    Invalid(AccessError),
    /// The page is not implemented by this module.
    UnsupportedPage,
    /// The module does not acknowledge: it is resetting, busy in
    /// foreground mode, or told to by fault injection (`EIO`).
    Nack,
    /// No module is plugged in (`ENODEV`).
    Unplugged,
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid access: {e}"),
            Self::UnsupportedPage => f.write_str("page not implemented by the module"),
            Self::Nack => f.write_str("module did not acknowledge"),
            Self::Unplugged => f.write_str("no module plugged in"),
        }
    }
}

/// CDB write mechanisms (0041h byte 141).
pub mod write_mechanism {
    /// No firmware download.
    pub const NONE: u8 = 0x00;
    /// Write Firmware Block LPL (0103h) only.
    pub const LPL: u8 = 0x01;
    /// Write Firmware Block EPL (0104h) only.
    pub const EPL: u8 = 0x10;
    /// Both.
    pub const BOTH: u8 = 0x11;
}

/// Module state (00h:3 bits 3-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleState {
    /// ModuleLowPwr.
    LowPwr = 1,
    /// ModulePwrUp.
    PwrUp = 2,
    /// ModuleReady.
    Ready = 3,
}

/// Everything about a module that a test may want to vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// SFF-8024 identifier (00h:0).
    pub identifier: u8,
    /// CMIS revision (00h:1), e.g. 52h for 5.2.
    pub revision: u8,
    /// CDB instances, 1 or 2 (01h:163 bits 7-6); 0 = no CDB.
    pub cdb_instances: u8,
    /// Background mode (01h:163 bit 5). In foreground mode the module
    /// does not acknowledge any access while a command runs.
    pub background: bool,
    /// Auto paging across EPL pages (01h:163 bit 4): one access to an EPL
    /// page may run past byte 255 into the following EPL pages.
    pub auto_paging: bool,
    /// CdbMaxPagesEPL code (01h:163 bits 3-0), 0-7.
    pub epl_pages_code: u8,
    /// CdbReadWriteLengthExtension (01h:164, 0041h byte 140).
    pub rw_len_ext: u8,
    /// 0041h byte 141, see [`write_mechanism`].
    pub write_mechanism: u8,
    /// StartCmdPayloadSize (0041h byte 138), at most 112.
    pub start_payload_size: u8,
    /// ErasedByte (0041h byte 139).
    pub erased_byte: u8,
    /// Erased blocks may be skipped (0041h byte 137 bit 2).
    pub skip_erased: bool,
    /// Abort Firmware Download supported (0041h byte 137 bit 0).
    pub abort_supported: bool,
    /// MaxDurationCoding (0041h byte 137 bit 3): durations in 10 ms units.
    pub durations_10x: bool,
    /// HitlessRestart (0041h byte 143).
    pub hitless_restart: bool,
    /// Advertised MaxDurationStart, Abort, Write, Complete, Copy (0041h
    /// bytes 144-153) in the unit of `durations_10x`.
    pub max_durations: [u16; 5],
    /// Advertised MaxCompletionTime in ms (0040h bytes 170-171).
    pub max_completion_ms: u16,
    /// CdbMaxBusyTime field (01h:166 bits 6-0).
    pub max_busy_field: u8,
    /// Busy time in microseconds of Start, Write (per block), Complete,
    /// Abort, Run, Commit and every other command.
    pub busy_us: BusyTimes,
    /// Management interface unavailable after Run/reset, in ms.
    pub reset_ms: u32,
    /// Time spent in LowPwr after a reset before Ready, in ms.
    pub ready_ms: u32,
    /// Firmware commands need the host password first.
    pub password_required: bool,
    /// The host password (00h:122-125 or 0001h).
    pub password: u32,
    /// I2C bus rate in Hz; each transaction costs 9 bits per byte, the
    /// addressing bytes included (see [`Module::bus_cost`]). 0 = instant.
    pub bus_hz: u32,
    /// Largest image body a bank holds.
    pub bank_capacity: u32,
}

/// Busy time of each kind of command, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusyTimes {
    /// 0101h.
    pub start: u32,
    /// 0103h/0104h, per block.
    pub write: u32,
    /// 0107h.
    pub complete: u32,
    /// 0102h.
    pub abort: u32,
    /// 0109h (until the reset begins).
    pub run: u32,
    /// 010Ah.
    pub commit: u32,
    /// Everything else.
    pub other: u32,
}

impl Profile {
    /// A QSFP-DD CMIS 5.2 module with one background CDB instance,
    /// 16 EPL pages, LPL and EPL writes and instant timing: what Linux 6.12
    /// needs (see the reference notes, section 5.4) and no more.
    pub const DEFAULT: Self = Self {
        identifier: super::map::identifier::QSFP_DD,
        revision: 0x52,
        cdb_instances: 1,
        background: true,
        auto_paging: false,
        epl_pages_code: 7,
        rw_len_ext: 15,
        write_mechanism: write_mechanism::BOTH,
        start_payload_size: 64,
        erased_byte: 0xFF,
        skip_erased: false,
        abort_supported: true,
        durations_10x: false,
        hitless_restart: false,
        max_durations: [1000, 100, 100, 3000, 0],
        max_completion_ms: 3000,
        max_busy_field: 0,
        busy_us: BusyTimes {
            start: 0,
            write: 0,
            complete: 0,
            abort: 0,
            run: 0,
            commit: 0,
            other: 0,
        },
        reset_ms: 0,
        ready_ms: 0,
        password_required: false,
        password: 0x0000_1011,
        bus_hz: 0,
        bank_capacity: 16 << 20,
    };

    /// A module with realistic timing that takes 2 KiB EPL blocks, the
    /// benchmark's `realistic EPL` profile (`Documentation/benchmark.rst`
    /// says where the figures come from): a 400 kHz bus (the fastest rate
    /// every CMIS module must support), 128-byte transactions, 2 s to
    /// erase the target bank at Start, 4 ms to program a block, 1 s to
    /// check the image at Complete, 100 ms to commit, 1.5 s away and
    /// 0.5 s in LowPwr after a reset, 1 ms for anything else.
    pub const REALISTIC_EPL: Self = Self {
        write_mechanism: write_mechanism::EPL,
        epl_pages_code: 7,
        rw_len_ext: 15,
        max_durations: [5000, 1000, 100, 5000, 0],
        busy_us: BusyTimes {
            start: 2_000_000,
            write: 4_000,
            complete: 1_000_000,
            abort: 100_000,
            run: 10_000,
            commit: 100_000,
            other: 1_000,
        },
        reset_ms: 1_500,
        ready_ms: 500,
        bus_hz: 400_000,
        ..Self::DEFAULT
    };

    /// [`Self::REALISTIC_EPL`] without EPL pages: blocks of 116 bytes in
    /// page 9Fh, 1 ms to program each.
    pub const REALISTIC_LPL: Self = Self {
        write_mechanism: write_mechanism::LPL,
        epl_pages_code: 0,
        busy_us: BusyTimes {
            write: 1_000,
            ..Self::REALISTIC_EPL.busy_us
        },
        ..Self::REALISTIC_EPL
    };

    /// Number of EPL pages the module advertises.
    pub const fn epl_pages(&self) -> usize {
        match self.epl_pages_code {
            0..=4 => self.epl_pages_code as usize,
            5 => 8,
            6 => 12,
            _ => 16,
        }
    }

    /// Largest READ/WRITE on an EPL page: 8 * (1 + i), capped at a page
    /// run of 2048 bytes.
    pub const fn epl_access_max(&self) -> usize {
        let n = 8 * (1 + self.rw_len_ext as usize);
        if n > 2048 {
            2048
        } else {
            n
        }
    }

    /// Largest READ/WRITE on page 9Fh: 8 * (1 + min(i, 15)) = 128 at most.
    pub const fn lpl_access_max(&self) -> usize {
        let i = if self.rw_len_ext > 15 {
            15
        } else {
            self.rw_len_ext
        };
        8 * (1 + i as usize)
    }

    fn rules(&self) -> DownloadRules {
        DownloadRules {
            header_len: self.start_payload_size,
            capacity: self.bank_capacity,
            skip_erased: self.skip_erased,
            erased_byte: self.erased_byte,
        }
    }

    /// Checks that the profile describes a module the model can emulate.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.cdb_instances > 2 {
            return Err("cdb_instances must be 0, 1 or 2");
        }
        if self.epl_pages_code > 7 {
            return Err("epl_pages_code must be 0 to 7");
        }
        if self.start_payload_size as usize > super::image::MAX_HEADER_LEN {
            return Err("start_payload_size must be at most 112");
        }
        if !matches!(
            self.write_mechanism,
            write_mechanism::NONE
                | write_mechanism::LPL
                | write_mechanism::EPL
                | write_mechanism::BOTH
        ) {
            return Err("write_mechanism must be 00h, 01h, 10h or 11h");
        }
        if self.max_busy_field > 0x7f {
            return Err("max_busy_field has 7 bits");
        }
        Ok(())
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Faults to inject; see `Documentation/emulator.rst`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Fail this many of the next commands (matching `fail_command`).
    pub fail_count: u32,
    /// Only fail this command id; `None` fails any command.
    pub fail_command: Option<u16>,
    /// Result code to fail with (CdbStatus bits 5-0, e.g. 02h for 42h).
    pub fail_code: u8,
    /// NACK every access until this time.
    pub nack_until: Nanos,
    /// The next command (matching `hang_command`) never completes, until
    /// a reset or an unplug.
    pub hang_next: bool,
    /// Only hang this command id; `None` hangs any command.
    pub hang_command: Option<u16>,
    /// Corrupt RPLLength of the next this-many replies.
    pub corrupt_reply_len: u32,
    /// Corrupt RPLChkCode of the next this-many replies.
    pub corrupt_reply_chk: u32,
    /// Extra time in ms before the module is Ready after a reset.
    pub slow_ready_ms: u32,
    /// Lose power during the next firmware block write: the block's bank
    /// stays invalid and the module reboots its running image.
    pub power_loss_on_write: bool,
}

/// Command ids counted one by one in [`Counters::by_command`]; the last
/// slot counts every other id.
pub const COUNTED_COMMANDS: [u16; 15] = [
    0x0000, 0x0001, 0x0002, 0x0004, 0x0040, 0x0041, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0107,
    0x0108, 0x0109, 0x010A,
];

/// Counters, for debugfs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Commands by id: [`COUNTED_COMMANDS`], then all others.
    pub by_command: [u32; COUNTED_COMMANDS.len() + 1],
    /// Completed commands by final status: index 0 counts 01h, index
    /// 1 + n counts failure 40h + n.
    pub by_status: [u32; 65],
    /// Completed reads.
    pub reads: u64,
    /// Completed writes.
    pub writes: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Accesses refused (NACK, unplugged, invalid).
    pub errors: u64,
    /// Commands triggered.
    pub commands: u64,
    /// Commands that completed with success.
    pub commands_ok: u64,
    /// Commands that failed.
    pub commands_failed: u64,
    /// Total time commands spent busy, in ns.
    pub busy_ns: u64,
    /// Total bus time of all accesses, in ns.
    pub bus_ns: u64,
    /// Resets (Run, driver reset, replug).
    pub resets: u64,
    /// Host requests served by the port's module EEPROM handlers (one
    /// request may be several transactions); see [`Module::count_request`].
    pub requests: u64,
    /// Time spent in those handlers, in ns, as the kernel port measures
    /// it.
    pub request_ns: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            by_command: [0; COUNTED_COMMANDS.len() + 1],
            by_status: [0; 65],
            reads: 0,
            writes: 0,
            bytes_read: 0,
            bytes_written: 0,
            errors: 0,
            commands: 0,
            commands_ok: 0,
            commands_failed: 0,
            busy_ns: 0,
            bus_ns: 0,
            resets: 0,
            requests: 0,
            request_ns: 0,
        }
    }
}

impl Counters {
    fn count_command(&mut self, id: u16) {
        let i = COUNTED_COMMANDS
            .iter()
            .position(|&c| c == id)
            .unwrap_or(COUNTED_COMMANDS.len());
        self.by_command[i] += 1;
    }

    fn count_status(&mut self, status: u8) {
        let i = if status & 0x40 != 0 {
            1 + (status & 0x3f) as usize
        } else {
            0
        };
        self.by_status[i] += 1;
    }
}

/// One entry of the command log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// When the command was triggered.
    pub triggered: Nanos,
    /// How long it was busy.
    pub busy_ns: u64,
    /// Command id.
    pub id: u16,
    /// Final CdbStatus.
    pub status: u8,
    /// LPLLength.
    pub lpl_len: u8,
    /// EPLLength.
    pub epl_len: u16,
}

/// Number of commands the log keeps.
pub const LOG_LEN: usize = 32;

/// Where the module is in its reset sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Power {
    /// Running; `ready_at` is when LowPwr turns into Ready.
    Up { ready_at: Nanos },
    /// Reset scheduled (Run's DelayToReset) into `bank`.
    ResetPending { at: Nanos, bank: BankId },
    /// Resetting: nothing is acknowledged until `until`.
    Resetting { until: Nanos },
    /// Unplugged.
    Unplugged,
}

/// A command being executed by the CDB engine, one per instance at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    instance: usize,
    id: u16,
    triggered: Nanos,
    /// `None`: never completes (fault).
    done_at: Option<Nanos>,
}

/// The emulated module.
#[derive(Clone, Debug)]
pub struct Module {
    profile: Profile,
    lower: [u8; PAGE_SIZE],
    page00: [u8; PAGE_SIZE],
    page01: [u8; PAGE_SIZE],
    /// Page 9Fh of each CDB instance.
    cdb: [[u8; PAGE_SIZE]; 2],
    /// Pages A0h-AFh of each CDB instance.
    epl: [[u8; 16 * PAGE_SIZE]; 2],
    firmware: Firmware,
    power: Power,
    /// The command each CDB instance is executing: instances work
    /// independently of each other.
    pending: [Option<Pending>; 2],
    /// The host password entered (00h:122-125 or 0001h) matches.
    unlocked: bool,
    /// Last value written to the password entry area.
    entered_password: u32,
    /// The pending reset (Run in a hitless mode on a module that supports
    /// it) keeps the management interface up.
    hitless_pending: bool,
    /// Faults to inject.
    pub faults: Faults,
    counters: Counters,
    log: [LogEntry; LOG_LEN],
    log_next: usize,
    /// Entries in use, up to [`LOG_LEN`].
    log_len: usize,
}

impl Module {
    /// A module with `profile`, running a valid image `version` from bank
    /// A, powered up and Ready at time `now`.
    ///
    /// The module is several kilobytes, too much for a kernel stack: the
    /// kernel build leaves this out and allocates the module zeroed, then
    /// calls [`Module::reinit`].
    #[cfg(not(MODULE))]
    pub fn new(profile: Profile, version: Version, now: Nanos) -> Self {
        let mut m = Self {
            profile,
            lower: [0; PAGE_SIZE],
            page00: [0; PAGE_SIZE],
            page01: [0; PAGE_SIZE],
            cdb: [[0; PAGE_SIZE]; 2],
            epl: [[0; 16 * PAGE_SIZE]; 2],
            firmware: Firmware::new(version),
            power: Power::Up { ready_at: now },
            pending: [None; 2],
            unlocked: false,
            entered_password: 0,
            hitless_pending: false,
            faults: Faults::default(),
            counters: Counters::default(),
            log: [LogEntry::default(); LOG_LEN],
            log_next: 0,
            log_len: 0,
        };
        m.reinit(profile, version, now);
        m
    }

    /// Turns `self`, whatever its state (all zeroes included), into what
    /// [`Module::new`] returns, in place and without large temporaries.
    pub fn reinit(&mut self, profile: Profile, version: Version, now: Nanos) {
        self.profile = profile;
        self.lower.fill(0);
        self.cdb.iter_mut().for_each(|p| p.fill(0));
        self.epl.iter_mut().for_each(|p| p.fill(0));
        self.firmware = Firmware::new(version);
        self.pending = [None; 2];
        self.unlocked = false;
        self.entered_password = 0;
        self.hitless_pending = false;
        self.faults = Faults::default();
        self.clear_counters();
        self.init_static_pages();
        self.power_on(now);
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Replaces the profile at once, as if the module had always had it:
    /// the identity and advertisement pages change, the firmware, the
    /// power state and a command in progress do not.
    pub fn set_profile(&mut self, profile: Profile) -> Result<(), &'static str> {
        profile.validate()?;
        self.profile = profile;
        self.init_static_pages();
        self.update_versions();
        Ok(())
    }

    /// The firmware banks.
    pub fn firmware(&self) -> &Firmware {
        &self.firmware
    }

    /// Replaces the firmware state (for tests); takes effect as a power
    /// cycle at `now`.
    pub fn set_firmware(&mut self, firmware: Firmware, now: Nanos) {
        self.firmware = firmware;
        self.reset_now(now, self.firmware.committed);
    }

    /// Sets up one firmware image directly (debugfs `bank_a`, `bank_b`,
    /// `factory`); see [`Firmware::update`] for what may change. The
    /// version registers (00h:39-40, 01h:128-129) follow at once, as if
    /// the module had always held these images; the running bank changes
    /// at the next reset only.
    pub fn update_image(
        &mut self,
        slot: Slot,
        update: &ImageUpdate<'_>,
    ) -> Result<(), &'static str> {
        self.firmware.update(slot, update)?;
        self.update_versions();
        Ok(())
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Clears the counters and the log.
    pub fn clear_counters(&mut self) {
        self.counters = Counters::default();
        self.log.fill(LogEntry::default());
        self.log_next = 0;
        self.log_len = 0;
    }

    /// The last [`LOG_LEN`] commands, oldest first.
    pub fn log(&self) -> impl Iterator<Item = &LogEntry> {
        let (newer, older) = self.log.split_at(self.log_next);
        // Until the ring is full, the slots after `log_next` are unused.
        let older = &older[..self.log_len - newer.len()];
        older.iter().chain(newer.iter())
    }

    /// Counts one host request served in `ns` by the kernel port's
    /// module EEPROM handlers. The model does not measure it; it keeps the
    /// count beside its own counters, under the same lock, and clears it
    /// with them.
    pub fn count_request(&mut self, ns: Nanos) {
        self.counters.requests += 1;
        self.counters.request_ns += ns;
    }

    /// Whether the module is in the middle of a command (on any CDB
    /// instance).
    pub fn busy(&self) -> bool {
        self.pending.iter().any(Option::is_some)
    }

    /// The module state at `now`, or `None` while resetting or unplugged.
    pub fn state(&mut self, now: Nanos) -> Option<ModuleState> {
        self.advance(now);
        self.state_at(now)
    }

    /// The module state at `now`, time already brought forward.
    fn state_at(&self, now: Nanos) -> Option<ModuleState> {
        match self.power {
            Power::Up { ready_at } if now >= ready_at => Some(ModuleState::Ready),
            Power::Up { .. } | Power::ResetPending { .. } => Some(ModuleState::LowPwr),
            Power::Resetting { .. } | Power::Unplugged => None,
        }
    }

    /// Whether a module is plugged in.
    pub fn is_plugged(&self) -> bool {
        self.power != Power::Unplugged
    }

    /// Unplugs the module: every access fails until [`Module::plug`].
    pub fn unplug(&mut self) {
        self.pending = [None; 2];
        self.firmware.lose_download();
        self.power = Power::Unplugged;
    }

    /// Plugs the module back in at `now`; it boots its committed image.
    pub fn plug(&mut self, now: Nanos) {
        if self.power == Power::Unplugged {
            self.reset_now(now, self.firmware.committed);
        }
    }

    /// A hard reset by the host driver (ethtool ETH_RESET_PHY) at `now`:
    /// the module boots its committed image.
    pub fn hard_reset(&mut self, now: Nanos) {
        if self.power != Power::Unplugged {
            self.reset_now(now, self.firmware.committed);
        }
    }

    /// Reads `buf.len()` bytes at `access` at time `now`, in one bus
    /// transaction. Returns the bus time it takes, for the caller to
    /// spend.
    pub fn read(&mut self, now: Nanos, access: &Access, buf: &mut [u8]) -> Result<Nanos, BusError> {
        let cost = self.bus_cost(access.len, true);
        let r = self.check_access(now, access, buf.len(), false);
        if let Err(e) = r {
            self.counters.errors += 1;
            return Err(e);
        }
        self.refresh(now);
        let start = access.offset as usize;
        if start < UPPER_START as usize {
            buf.copy_from_slice(&self.lower[start..start + buf.len()]);
            self.patch_lower_read(start, buf);
        } else {
            buf.copy_from_slice(self.upper(access)?);
        }
        self.counters.reads += 1;
        self.counters.bytes_read += buf.len() as u64;
        self.counters.bus_ns += cost;
        Ok(cost)
    }

    /// Writes `data` at `access` at time `now`, in one bus transaction.
    /// Returns the bus time it takes.
    pub fn write(&mut self, now: Nanos, access: &Access, data: &[u8]) -> Result<Nanos, BusError> {
        let cost = self.bus_cost(access.len, false);
        let r = self.check_access(now, access, data.len(), true);
        if let Err(e) = r {
            self.counters.errors += 1;
            return Err(e);
        }
        let start = access.offset as usize;
        if start < UPPER_START as usize {
            self.write_lower(start, data);
        } else {
            if let Some(dst) = self.upper_mut(access)? {
                dst.copy_from_slice(data);
            }
            // A write covering CMDID's low byte (129) triggers the command
            // (trigger method 0 and 1 alike), at the STOP that ends the
            // transaction.
            let end = start + data.len();
            if access.page == CDB_PAGE && start <= 129 && end > 129 {
                self.trigger(now + cost, access.bank as usize);
            }
        }
        self.counters.writes += 1;
        self.counters.bytes_written += data.len() as u64;
        self.counters.bus_ns += cost;
        Ok(cost)
    }

    /// Splits a host request into the transactions a driver puts on the
    /// bus: each at most [`Module::max_access_len`] bytes, an auto-paged
    /// request carrying on into the following EPL pages.
    ///
    /// The request's addressing is checked as a whole first, so that a
    /// request the module can never accept (a bad address, a missing page,
    /// running past byte 255 without auto paging) has no partial effect.
    /// Each transaction is checked again by [`Module::read`] or
    /// [`Module::write`], against the module's state at its time.
    pub fn transactions(&self, request: &Access) -> Result<Transactions, BusError> {
        request
            .validate_wrapping(self.wrap_pages(request))
            .map_err(BusError::Invalid)?;
        let step = if request.offset >= UPPER_START {
            self.upper(request)?;
            self.max_access_len(request.page)
        } else {
            request.len
        };
        Ok(Transactions {
            rest: *request,
            step: step.max(1),
            done: 0,
        })
    }

    /// Brings time forward to `now`: completes commands and goes through
    /// reset phases, in the order they fall due (a command that finished
    /// before a pending reset reports its status first).
    pub fn advance(&mut self, now: Nanos) {
        // Bounded: each step ends a reset phase (two per reset) or a
        // command (two at most, one per instance), and only a finishing
        // command schedules a reset.
        for _ in 0..8 {
            let power_due = match self.power {
                Power::ResetPending { at, .. } => Some(at),
                Power::Resetting { until } => Some(until),
                Power::Up { .. } | Power::Unplugged => None,
            }
            .filter(|&t| t <= now);
            let command_due = self
                .pending
                .iter()
                .flatten()
                .filter_map(|p| p.done_at.filter(|&t| t <= now).map(|t| (t, *p)))
                .min_by_key(|&(t, _)| t);
            match (power_due, command_due) {
                (Some(t), Some((c, p))) if c < t => self.finish_command(p),
                (Some(_), _) => self.next_power_phase(),
                (None, Some((_, p))) => self.finish_command(p),
                (None, None) => break,
            }
        }
    }

    /// Ends the current reset phase: a pending reset begins, a reset ends.
    fn next_power_phase(&mut self) {
        match self.power {
            Power::ResetPending { at, bank } => self.begin_reset(at, bank),
            Power::Resetting { until } => self.power_on(until),
            Power::Up { .. } | Power::Unplugged => {}
        }
    }

    /// Bus time of one transaction of `len` data bytes at the profile's
    /// rate ([`limit::transaction_ns`]). Selecting the page (a write to
    /// 00h:126-127) is a transaction of its own, which the host pays for.
    pub fn bus_cost(&self, len: usize, read: bool) -> Nanos {
        limit::transaction_ns(self.profile.bus_hz, len, read)
    }

    fn check_access(
        &mut self,
        now: Nanos,
        access: &Access,
        len: usize,
        write: bool,
    ) -> Result<(), BusError> {
        access
            .validate_wrapping(self.wrap_pages(access))
            .map_err(BusError::Invalid)?;
        if len != access.len {
            return Err(BusError::Invalid(AccessError::OutOfBounds));
        }
        self.advance(now);
        match self.power {
            Power::Unplugged => return Err(BusError::Unplugged),
            Power::Resetting { .. } => return Err(BusError::Nack),
            _ => {}
        }
        if now < self.faults.nack_until {
            return Err(BusError::Nack);
        }
        if self.busy() && !self.profile.background {
            // Foreground CDB: the module holds off every access.
            return Err(BusError::Nack);
        }
        if access.offset >= UPPER_START {
            self.upper(access)?;
            if is_cdb_page(access.page) {
                if len > self.max_access_len(access.page) {
                    return Err(BusError::Invalid(AccessError::OutOfBounds));
                }
                let instance_busy = self
                    .pending
                    .get(access.bank as usize)
                    .is_some_and(Option::is_some);
                if write && instance_busy {
                    // The instance's message area is the engine's while
                    // it works.
                    return Err(BusError::Nack);
                }
            }
        }
        Ok(())
    }

    /// How many pages after its own an access may run into: with auto
    /// paging (01h:163 bit 4), an access to an EPL page goes on past byte
    /// 255 at byte 128 of the next EPL page, up to AFh. Whether those pages
    /// exist is checked with the page itself ([`Module::upper`]).
    fn wrap_pages(&self, access: &Access) -> usize {
        if self.profile.auto_paging && access.offset >= UPPER_START && is_epl_page(access.page) {
            EPL_FIRST_PAGE as usize + EPL_MAX_PAGES - 1 - access.page as usize
        } else {
            0
        }
    }

    /// Longest single READ or WRITE the module accepts on upper page
    /// `page`: CdbReadWriteLengthExtension governs the CDB pages; any
    /// length within the window elsewhere. A host driver splits longer
    /// requests, as real drivers split them into bus transactions (see
    /// [`Module::transactions`]).
    pub fn max_access_len(&self, page: u8) -> usize {
        if page == CDB_PAGE {
            self.profile.lpl_access_max()
        } else if is_cdb_page(page) {
            self.profile.epl_access_max()
        } else {
            PAGE_SIZE
        }
    }

    /// The bytes of upper memory a validated `access` covers: within its
    /// page, or for an auto-paged access to the EPL pages on through the
    /// following ones (contiguous in `epl`). Refuses pages and banks the
    /// module does not implement, the EPL pages an access would run into
    /// included.
    fn upper(&self, access: &Access) -> Result<&[u8], BusError> {
        let s = (access.offset as usize).saturating_sub(UPPER_START as usize);
        let bank = access.bank as usize;
        let cdb_bank = bank < self.profile.cdb_instances as usize;
        let page: &[u8] = match access.page {
            0x00 if bank == 0 => &self.page00,
            0x01 if bank == 0 => &self.page01,
            // Thresholds and lane status pages: present (ethtool -m reads
            // them) but not modelled, all zero.
            0x02 | 0x10 | 0x11 if bank == 0 => &ZERO_PAGE,
            CDB_PAGE if cdb_bank => &self.cdb[bank],
            p if cdb_bank && is_epl_page(p) => {
                let first = (p - EPL_FIRST_PAGE) as usize;
                let last = first + (s + access.len.max(1) - 1) / PAGE_SIZE;
                if last >= self.profile.epl_pages() {
                    return Err(BusError::UnsupportedPage);
                }
                &self.epl[bank][first * PAGE_SIZE..]
            }
            _ => return Err(BusError::UnsupportedPage),
        };
        page.get(s..s + access.len)
            .ok_or(BusError::Invalid(AccessError::OutOfBounds))
    }

    /// The writable storage [`Module::upper`] finds for `access`, `None`
    /// for pages whose writes are ignored.
    fn upper_mut(&mut self, access: &Access) -> Result<Option<&mut [u8]>, BusError> {
        self.upper(access)?;
        let s = (access.offset as usize).saturating_sub(UPPER_START as usize);
        let bank = access.bank as usize;
        let page: &mut [u8] = match access.page {
            0x02 | 0x10 | 0x11 => return Ok(None),
            0x00 => &mut self.page00,
            0x01 => &mut self.page01,
            CDB_PAGE => &mut self.cdb[bank],
            p => &mut self.epl[bank][(p - EPL_FIRST_PAGE) as usize * PAGE_SIZE..],
        };
        page.get_mut(s..s + access.len)
            .map(Some)
            .ok_or(BusError::Invalid(AccessError::OutOfBounds))
    }

    /// Read side effects of lower memory: byte 8's flags are latched and
    /// clear on read; the password areas read as zero.
    fn patch_lower_read(&mut self, start: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            match start + i {
                o if o == lower::FLAGS as usize => self.lower[o] &= !0xC7,
                118..=125 => *b = 0,
                _ => {}
            }
        }
    }

    fn write_lower(&mut self, start: usize, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            let o = start + i;
            // The interrupt masks (31), the password entry area (U32 BE)
            // and bank/page select are the only host-writable lower bytes
            // the model keeps; other writes, the password change area's
            // included, are accepted and ignored, as writes to read-only
            // registers are.
            if matches!(o, 31 | 122..=127) {
                self.lower[o] = b;
            }
        }
        if start <= 125 && start + data.len() > 122 {
            self.entered_password = u32::from_be_bytes([
                self.lower[122],
                self.lower[123],
                self.lower[124],
                self.lower[125],
            ]);
            self.unlocked = self.entered_password == self.profile.password;
        }
    }

    /// Identity and advertisement pages, which change only with the
    /// profile.
    fn init_static_pages(&mut self) {
        let p = self.profile;
        self.lower[lower::IDENTIFIER as usize] = p.identifier;
        self.lower[lower::REVISION as usize] = p.revision;
        self.lower[lower::MEMORY_MODEL as usize] = 0; // paged

        let u = &mut self.page00;
        u.fill(0);
        u[0] = p.identifier;
        copy_padded(&mut u[1..17], b"CMIS EMULATOR");
        u[17..20].copy_from_slice(&[0x00, 0x00, 0x00]);
        copy_padded(&mut u[20..36], b"CMIS-EMU-QSFPDD");
        copy_padded(&mut u[36..38], b"01");
        copy_padded(&mut u[38..54], b"EMU0000000000001");
        copy_padded(&mut u[54..62], b"26010100");
        let sum = u[0..94].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        u[94] = sum; // byte 222: checksum of 128-221

        let a = &mut self.page01;
        a.fill(0);
        a[163 - 128] = (p.cdb_instances << 6)
            | (u8::from(p.background) << 5)
            | (u8::from(p.auto_paging) << 4)
            | (p.epl_pages_code & 0x0f);
        a[164 - 128] = p.rw_len_ext;
        a[165 - 128] = 0; // trigger method 0, CdbExtMaxBusyTime 0
        a[166 - 128] = p.max_busy_field & 0x7f;
        self.update_page01_checksum();
    }

    fn update_page01_checksum(&mut self) {
        let a = &mut self.page01;
        a[127] = a[2..127].iter().fold(0u8, |s, b| s.wrapping_add(*b));
    }

    /// Volatile registers after a reset, and the version fields of the
    /// image now running.
    fn power_on(&mut self, now: Nanos) {
        self.pending = [None; 2];
        self.unlocked = false;
        self.entered_password = 0;
        for o in [8usize, 31, 37, 38, 122, 123, 124, 125, 126, 127] {
            self.lower[o] = 0;
        }
        self.cdb.iter_mut().for_each(|p| p.fill(0));
        self.update_versions();
        let ready = now
            + self.profile.ready_ms as u64 * NS_PER_MS
            + self.faults.slow_ready_ms as u64 * NS_PER_MS;
        self.faults.slow_ready_ms = 0;
        self.power = Power::Up { ready_at: ready };
        self.set_state_byte(now);
    }

    fn set_state_byte(&mut self, now: Nanos) {
        // Only called while the module answers.
        let state = self.state_at(now).unwrap_or(ModuleState::LowPwr);
        // Bit 0: IntL deasserted.
        self.lower[lower::MODULE_STATE as usize] = ((state as u8) << 1) | 1;
    }

    fn update_versions(&mut self) {
        let active = self.firmware.active_version();
        self.lower[39] = active.major;
        self.lower[40] = active.minor;
        let (maj, min) = match self.firmware.inactive_version() {
            Some(v) => (v.major, v.minor),
            None => (0, 0),
        };
        self.page01[0] = maj;
        self.page01[1] = min;
        // 128-129 are outside the page 01h checksum (130-254).
    }

    fn reset_now(&mut self, now: Nanos, bank: BankId) {
        self.begin_reset(now, bank);
        self.advance(now);
    }

    fn begin_reset(&mut self, at: Nanos, bank: BankId) {
        self.counters.resets += 1;
        self.pending = [None; 2];
        self.firmware.boot(bank);
        let downtime = if core::mem::take(&mut self.hitless_pending) {
            0
        } else {
            self.profile.reset_ms as u64 * NS_PER_MS
        };
        self.power = Power::Resetting {
            until: at + downtime,
        };
    }

    fn log_command(&mut self, entry: LogEntry) {
        self.log[self.log_next] = entry;
        self.log_next = (self.log_next + 1) % LOG_LEN;
        self.log_len = (self.log_len + 1).min(LOG_LEN);
    }

    /// Registers that follow time (module state, CDB busy phase) are
    /// brought up to date before each read.
    fn refresh(&mut self, now: Nanos) {
        if let Power::Up { .. } = self.power {
            self.set_state_byte(now);
        }
        self.refresh_busy_status(now);
    }
}

static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// Page 9Fh or an EPL page (A0h-AFh): the pages of the CDB instances,
/// banked by instance.
fn is_cdb_page(page: u8) -> bool {
    page == CDB_PAGE || is_epl_page(page)
}

fn is_epl_page(page: u8) -> bool {
    (EPL_FIRST_PAGE as usize..EPL_FIRST_PAGE as usize + EPL_MAX_PAGES).contains(&(page as usize))
}

/// The transactions of one host request, in order: each the access to
/// perform and the range of the request's buffer it covers. See
/// [`Module::transactions`].
#[derive(Clone, Debug)]
pub struct Transactions {
    /// What is left of the request.
    rest: Access,
    /// Longest transaction.
    step: usize,
    /// Bytes of the request already handed out.
    done: usize,
}

impl Iterator for Transactions {
    type Item = (Access, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.step.min(self.rest.len);
        if n == 0 {
            return None;
        }
        let access = Access {
            len: n,
            ..self.rest
        };
        self.rest = self.rest.skip(n);
        self.done += n;
        Some((access, self.done - n..self.done))
    }
}

fn copy_padded(dst: &mut [u8], src: &[u8]) {
    dst.fill(b' ');
    dst[..src.len()].copy_from_slice(src);
}

#[cfg(test)]
mod tests;
