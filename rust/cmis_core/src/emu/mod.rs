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
use super::io::Errno;
use super::map::{lower, Access, AccessError, PAGE_SIZE, UPPER_START};
use core::{fmt, ops::Range};
use firmware::{BankId, DownloadRules, Firmware, ImageUpdate, Slot};

/// Time in nanoseconds, from an origin the caller chooses.
pub type Nanos = u64;

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_US: u64 = 1_000;

/// ModuleStateChanged: 00h:8 bit 0, latched.
const FLAG_STATE_CHANGED: u8 = 1 << 0;

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
    /// The host driver's transaction timed out (`ETIMEDOUT`): the model
    /// never answers so by itself; fault injection says it
    /// ([`Faults::fail_request`]).
    Timeout,
}

impl BusError {
    /// The error number a driver returns for it.
    pub const fn errno(self) -> Errno {
        match self {
            Self::Invalid(_) | Self::UnsupportedPage => Errno::EINVAL,
            Self::Nack => Errno::EIO,
            Self::Unplugged => Errno::ENODEV,
            Self::Timeout => Errno::ETIMEDOUT,
        }
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid access: {e}"),
            Self::UnsupportedPage => f.write_str("page not implemented by the module"),
            Self::Nack => f.write_str("module did not acknowledge"),
            Self::Unplugged => f.write_str("no module plugged in"),
            Self::Timeout => f.write_str("the transaction timed out"),
        }
    }
}

/// The emulated module's vendor-specific commands (8000h-FFFFh is the
/// vendors' range): enough to exercise every scope of the CDB RPC.
pub mod vendor {
    /// Read Vendor Status: a harmless read. Reply (8 bytes): "EMU", the
    /// vendor setting, then the number of commands the module has taken
    /// since its counters were cleared, this one included (u32 BE).
    pub const READ_STATUS: u16 = 0x8000;
    /// Set Vendor Setting: LPL byte 0 becomes the setting, until the next
    /// reset. No reply; 42h without a payload.
    pub const SET_SETTING: u16 = 0x8001;
    /// Length of [`READ_STATUS`]'s reply.
    pub const STATUS_LEN: usize = 8;
}

/// CDB write mechanisms (0041h byte 141).
///
/// CMIS encodes LPL in bit 0 and EPL in bit 4 (01h, 10h, 11h); some
/// modules use bit 1 for EPL instead (02h, 03h: a 400G module FBOSS
/// knows, SONiC's code table). The model takes both encodings: 02h means
/// what 10h means, 03h what 11h means.
pub mod write_mechanism {
    /// No firmware download.
    pub const NONE: u8 = 0x00;
    /// Write Firmware Block LPL (0103h) only.
    pub const LPL: u8 = 0x01;
    /// Write Firmware Block EPL (0104h) only.
    pub const EPL: u8 = 0x10;
    /// Both.
    pub const BOTH: u8 = 0x11;
    /// EPL only, in the other encoding.
    pub const EPL_ALT: u8 = 0x02;
    /// Both, in the other encoding.
    pub const BOTH_ALT: u8 = 0x03;

    /// Whether `m` is one of the values above.
    pub const fn is_valid(m: u8) -> bool {
        matches!(m, NONE | LPL | EPL | BOTH | EPL_ALT | BOTH_ALT)
    }

    /// Whether a module advertising `m` takes Write Firmware Block LPL.
    pub const fn has_lpl(m: u8) -> bool {
        m & LPL != 0
    }

    /// Whether a module advertising `m` takes Write Firmware Block EPL.
    pub const fn has_epl(m: u8) -> bool {
        m & (EPL | EPL_ALT) != 0
    }
}

/// Module state (00h:3 bits 3-1), as far as [`Module::state`] reports it;
/// [`MsmState`] has every state the model shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleState {
    /// ModuleLowPwr.
    LowPwr = 1,
    /// ModulePwrUp.
    PwrUp = 2,
    /// ModuleReady.
    Ready = 3,
}

/// A state of the CMIS module state machine as 00h:3 bits 3-1 show it,
/// the value being the code. MgmtInit has no code (000b is reserved): a
/// real module does not answer then, but it may, and the model does when
/// [`Quirks::mgmt_init_ms`] is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsmState {
    /// MgmtInit, shown as 000b.
    MgmtInit = 0,
    /// ModuleLowPwr.
    LowPwr = 1,
    /// ModulePwrUp.
    PwrUp = 2,
    /// ModuleReady.
    Ready = 3,
    /// ModuleFault; the cause is in 00h:41.
    Fault = 5,
}

/// What writes into the CDB pages of a busy instance (its page 9Fh and
/// EPL pages) do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BusyWrites {
    /// Stored like plain RAM: the engine reads its message area when the
    /// command completes, so such a write changes what it executes or
    /// replies. A host that does it is caught by the outcome (and by
    /// [`Counters::writes_while_busy`]), not saved by a retry. A write
    /// covering byte 129 does not start another command.
    #[default]
    Stored,
    /// Not acknowledged.
    Refused,
}

/// How a trigger write (to 9Fh, covering byte 129, idle instance) is
/// not acknowledged when [`Quirks::trigger_nack`] or
/// [`Faults::trigger_nacks`] says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TriggerNack {
    /// Never ([`Faults::trigger_nacks`] then NACKs as `Dropped`).
    #[default]
    Off,
    /// The write is not taken: nothing stored, no command.
    Dropped,
    /// The write is stored and the command starts, but the host sees a
    /// NACK: a retry of the trigger writes into a busy instance.
    Captured,
}

/// What the CDB offers during the boot phase after a reset
/// ([`Quirks::boot_ms`]), as a module still in its bootloader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BootCdb {
    /// Everything: no boot phase.
    #[default]
    Full,
    /// Get Firmware Info (0100h) fails with 41h (unknown command).
    NoFirmwareInfo,
    /// Firmware Management Features (0041h) and Get Firmware Info fail
    /// with 41h: the host has to know the download parameters (FBOSS
    /// falls back to its image metadata then).
    NoFeatures,
    /// No CDB: 01h:163-166 read as zero (01h:255 matching) and writes of
    /// byte 129 start no command.
    NoCdb,
}

/// Behaviours the specification allows that hosts find inconvenient.
/// All zero (and [`Quirks::NONE`]) is the plain module of
/// [`Profile::DEFAULT`]. Times are counted on the caller's clock; the
/// probabilities use a small generator seeded with `seed`, so a run is
/// repeatable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Writes into a busy instance's CDB pages; stored by default.
    pub busy_writes: BusyWrites,
    /// The CdbStatus byte and the completion flag show a new command
    /// this long after its trigger; until then they show what they
    /// showed before (the previous command's status, the flag as it was).
    pub status_lag_us: u32,
    /// The status and the completion flag report a command this long
    /// after the engine is done (its reply already in place).
    pub report_delay_us: u32,
    /// The completion flag is latched this long after the status shows
    /// the result; a new trigger on the instance drops it.
    pub flag_delay_us: u32,
    /// Run (0109h) resets this much later than its DelayToReset says
    /// (which counts from the completion flag).
    pub reset_extra_ms: u32,
    /// Between Run's success and its reset the module goes on as before
    /// (state Ready, old image); without it 00h:3 shows LowPwr then.
    pub ready_until_reset: bool,
    /// NACK every access during the first this-many µs of every command.
    pub nack_first_us: u32,
    /// NACK each access with this probability (per mille) while a
    /// command runs on any instance.
    pub nack_busy_permille: u16,
    /// How a trigger write is not acknowledged ([`TriggerNack`])...
    pub trigger_nack: TriggerNack,
    /// ...and how often, per mille of the triggers.
    pub trigger_nack_permille: u16,
    /// NACK the first this-many reads of 9Fh:134-255 after each
    /// completion of the instance.
    pub reply_nack_reads: u8,
    /// NACK reads of 9Fh:134-255 with this probability (per mille).
    pub reply_nack_permille: u16,
    /// NACK everything for this long once the module answers again after
    /// a reset (and after power-up).
    pub nack_after_reset_ms: u32,
    /// Latch ModuleStateChanged (00h:8 bit 0, clear on read) on every
    /// change of 00h:3 and every reset exit.
    pub state_changed_flag: bool,
    /// After the reset's silence (`reset_ms`), answer in MgmtInit (000b)
    /// this long before LowPwr.
    pub mgmt_init_ms: u32,
    /// Time in ModulePwrUp between LowPwr (`ready_ms`) and Ready.
    pub pwr_up_ms: u32,
    /// For this long after every reset (and power-up)...
    pub boot_ms: u32,
    /// ...the CDB offers only this ([`BootCdb`]).
    pub boot_cdb: BootCdb,
    /// The first this-many reads of RPLChkCode (9Fh:135) after each
    /// reply read wrong (complemented); a re-read is right.
    pub chk_glitch_reads: u8,
    /// One firmware bank (see `Documentation/emulator.rst`): 0100h shows
    /// no bank B, 01h:128-129 no inactive image, a completed download is
    /// what the next reset boots, Commit does nothing.
    pub single_bank: bool,
    /// Seed of the generator behind the probabilities.
    pub seed: u32,
}

impl Quirks {
    /// No quirk: the module of [`Profile::DEFAULT`].
    pub const NONE: Self = Self {
        busy_writes: BusyWrites::Stored,
        status_lag_us: 0,
        report_delay_us: 0,
        flag_delay_us: 0,
        reset_extra_ms: 0,
        ready_until_reset: false,
        nack_first_us: 0,
        nack_busy_permille: 0,
        trigger_nack: TriggerNack::Off,
        trigger_nack_permille: 0,
        reply_nack_reads: 0,
        reply_nack_permille: 0,
        nack_after_reset_ms: 0,
        state_changed_flag: false,
        mgmt_init_ms: 0,
        pwr_up_ms: 0,
        boot_ms: 0,
        boot_cdb: BootCdb::Full,
        chk_glitch_reads: 0,
        single_bank: false,
        seed: 0,
    };
}

/// The host driver in front of the module. Its cost per transfer is
/// charged with the bus time ([`Module::bus_cost`]) so that the number of
/// accesses shows in time, not only the bytes: a driver that goes through
/// a mailbox (a switch ASIC's register interface, a management
/// controller) moves a few dozen bytes a transfer and pays a fixed
/// latency each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostDriver {
    /// Most data bytes a transfer carries; 0: no limit but the module's.
    pub max_transfer: u16,
    /// Fixed cost of each transfer, in µs, on top of its bus time.
    pub transfer_us: u32,
    /// Its ethtool `reset` leaves `ETH_RESET_PHY` set and the module
    /// alone, as bnxt's does in Linux 7.3 (the kernel port plays it; the
    /// model itself has no reset operation).
    pub ignores_reset: bool,
    /// Its ethtool `begin` takes this long, in ms (a driver resuming its
    /// device): the ethtool core calls it with RTNL held, which every
    /// other user of RTNL then waits for.
    pub begin_ms: u32,
}

impl HostDriver {
    /// A driver that costs nothing but the bus and resets modules (the
    /// default).
    pub const NONE: Self = Self {
        max_transfer: 0,
        transfer_us: 0,
        ignores_reset: false,
        begin_ms: 0,
    };

    /// Longest transfer of at most `module_max` bytes.
    pub const fn transfer_len(&self, module_max: usize) -> usize {
        if self.max_transfer != 0 && (self.max_transfer as usize) < module_max {
            self.max_transfer as usize
        } else {
            module_max
        }
    }
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
    /// Inconvenient behaviours the specification allows.
    pub quirks: Quirks,
    /// The host driver's cost per transfer (not the module's: modelled
    /// here so that the tests and the kernel port charge it).
    pub driver: HostDriver,
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
        quirks: Quirks::NONE,
        driver: HostDriver::NONE,
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

    /// [`Self::REALISTIC_EPL`] on CMIS 4.0 whose CdbStatus and completion
    /// flag show a new command 300 µs after its trigger and report its
    /// end 100 µs after the engine is done.
    pub const LAGGY: Self = Self {
        revision: 0x40,
        quirks: Quirks {
            status_lag_us: 300,
            report_delay_us: 100,
            ..Quirks::NONE
        },
        ..Self::REALISTIC_EPL
    };

    /// [`Self::LAGGY`] with 5 ms of status lag, 1 ms of report delay and
    /// the completion flag 2 ms after the status, on CMIS 5.2.
    pub const LAGGY_5MS: Self = Self {
        revision: 0x52,
        quirks: Quirks {
            status_lag_us: 5_000,
            report_delay_us: 1_000,
            flag_delay_us: 2_000,
            ..Quirks::NONE
        },
        ..Self::LAGGY
    };

    /// [`Self::REALISTIC_EPL`] whose Run reports success and goes on
    /// answering as before (Ready, the old image, no NACK) until it resets
    /// 200 ms after its DelayToReset; ModuleStateChanged is latched.
    pub const LATE_RESET: Self = Self {
        quirks: Quirks {
            reset_extra_ms: 200,
            ready_until_reset: true,
            state_changed_flag: true,
            ..Quirks::NONE
        },
        ..Self::REALISTIC_EPL
    };

    /// [`Self::LATE_RESET`] resetting 1000 ms late.
    pub const LATE_RESET_1S: Self = Self {
        quirks: Quirks {
            reset_extra_ms: 1_000,
            ..Self::LATE_RESET.quirks
        },
        ..Self::LATE_RESET
    };

    /// [`Self::REALISTIC_EPL`] that does not acknowledge anything during
    /// the first 2 ms of a command, one access in five while a command
    /// runs, the first read of each reply, and anything for 500 ms after a
    /// reset.
    pub const NACK_BUSY: Self = Self {
        quirks: Quirks {
            nack_first_us: 2_000,
            nack_busy_permille: 200,
            reply_nack_reads: 1,
            nack_after_reset_ms: 500,
            seed: 0x4e41_434b,
            ..Quirks::NONE
        },
        ..Self::REALISTIC_EPL
    };

    /// [`Self::REALISTIC_EPL`] behind a mailbox driver: 48 bytes a
    /// transfer, 1 ms each.
    pub const MAILBOX_DRIVER: Self = Self {
        driver: HostDriver {
            max_transfer: 48,
            transfer_us: 1_000,
            ignores_reset: false,
            begin_ms: 0,
        },
        ..Self::REALISTIC_EPL
    };

    /// [`Self::REALISTIC_EPL`] that boots through a bootloader: for 1.5 s
    /// after a reset 0041h and 0100h are unknown commands (41h); it walks
    /// MgmtInit (50 ms), LowPwr and PwrUp (100 ms) and latches
    /// ModuleStateChanged.
    pub const BOOTLOADER: Self = Self {
        quirks: Quirks {
            boot_ms: 1_500,
            boot_cdb: BootCdb::NoFeatures,
            mgmt_init_ms: 50,
            pwr_up_ms: 100,
            state_changed_flag: true,
            ..Quirks::NONE
        },
        ..Self::REALISTIC_EPL
    };

    /// [`Self::REALISTIC_EPL`] with one firmware bank.
    pub const SINGLE_BANK: Self = Self {
        quirks: Quirks {
            single_bank: true,
            ..Quirks::NONE
        },
        ..Self::REALISTIC_EPL
    };

    /// Everything legal at once, on realistic timing: status lag, late
    /// reports and flags, a late reset that keeps answering, NACK windows
    /// and chances (the trigger one capturing the command), the reset walk
    /// through MgmtInit and PwrUp, a boot phase without 0100h, glitching
    /// reply check codes, a 40-byte Start payload (shorter than the image
    /// header), write mechanism 03h, 1 KiB EPL blocks in 64-byte
    /// transactions, durations in 10 ms units.
    pub const HOSTILE: Self = Self {
        write_mechanism: write_mechanism::BOTH_ALT,
        start_payload_size: 40,
        epl_pages_code: 5,
        rw_len_ext: 7,
        durations_10x: true,
        max_durations: [500, 100, 10, 500, 0],
        quirks: Quirks {
            busy_writes: BusyWrites::Stored,
            status_lag_us: 2_000,
            report_delay_us: 500,
            flag_delay_us: 1_000,
            reset_extra_ms: 300,
            ready_until_reset: true,
            nack_first_us: 1_000,
            nack_busy_permille: 100,
            trigger_nack: TriggerNack::Captured,
            trigger_nack_permille: 20,
            reply_nack_reads: 1,
            reply_nack_permille: 50,
            nack_after_reset_ms: 300,
            state_changed_flag: true,
            mgmt_init_ms: 50,
            pwr_up_ms: 100,
            boot_ms: 1_000,
            boot_cdb: BootCdb::NoFirmwareInfo,
            chk_glitch_reads: 1,
            single_bank: false,
            seed: 0x0bad_5eed,
        },
        ..Self::REALISTIC_EPL
    };

    /// Names of the named profiles, for [`Self::by_name`].
    pub const NAMES: [&'static str; 12] = [
        "default",
        "realistic_epl",
        "realistic_lpl",
        "laggy",
        "laggy_5ms",
        "late_reset",
        "late_reset_1s",
        "nack_busy",
        "mailbox_driver",
        "bootloader",
        "single_bank",
        "hostile",
    ];

    /// The named profile `name` (one of [`Self::NAMES`]).
    pub fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "default" => Self::DEFAULT,
            "realistic_epl" => Self::REALISTIC_EPL,
            "realistic_lpl" => Self::REALISTIC_LPL,
            "laggy" => Self::LAGGY,
            "laggy_5ms" => Self::LAGGY_5MS,
            "late_reset" => Self::LATE_RESET,
            "late_reset_1s" => Self::LATE_RESET_1S,
            "nack_busy" => Self::NACK_BUSY,
            "mailbox_driver" => Self::MAILBOX_DRIVER,
            "bootloader" => Self::BOOTLOADER,
            "single_bank" => Self::SINGLE_BANK,
            "hostile" => Self::HOSTILE,
            _ => return None,
        })
    }

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
        if !write_mechanism::is_valid(self.write_mechanism) {
            return Err("write_mechanism must be 00h, 01h, 02h, 03h, 10h or 11h");
        }
        if self.max_busy_field > 0x7f {
            return Err("max_busy_field has 7 bits");
        }
        let q = &self.quirks;
        if q.nack_busy_permille > 1000
            || q.trigger_nack_permille > 1000
            || q.reply_nack_permille > 1000
        {
            return Err("probabilities are per mille, at most 1000");
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
    /// The next reset ends in ModuleFault (00h:3 state 5) instead of
    /// Ready, with this ModuleFaultCause in 00h:41 (e.g. 3: program
    /// memory corrupted); 0: no fault. The module keeps answering, CDB
    /// included; the following reset clears it.
    pub fault_on_reset: u8,
    /// NACK the next this-many trigger writes, as
    /// [`Quirks::trigger_nack`] says ([`TriggerNack::Dropped`] if off).
    pub trigger_nacks: u32,
    /// The first read of RPLChkCode of the next this-many replies reads
    /// wrong (complemented); a re-read is right.
    pub glitch_reply_chk: u32,
    /// The host driver's ethtool `begin` operation fails (a driver that
    /// cannot reach its device now), so the ethtool core's requests are
    /// refused.
    pub ethtool_begin_fails: bool,
    /// The host request this many from now (1: the next) fails whole, with
    /// `fail_request_error`, before it reaches the module; 0: none. Counts
    /// down with each request ([`Module::take_request_fault`]), so what is
    /// left after a flash tells whether the flash made that many.
    pub fail_request: u32,
    /// How the request `fail_request` picks fails: [`BusError::Nack`]
    /// (`EIO`), [`BusError::Unplugged`] (`ENODEV`),
    /// [`BusError::Timeout`] (`ETIMEDOUT`), or a short read.
    pub fail_request_error: RequestFault,
}

/// How a host request picked by [`Faults::fail_request`] fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestFault {
    /// `EIO`: the module did not acknowledge.
    #[default]
    Io,
    /// `ENODEV`: the driver found no module.
    NoDevice,
    /// `ETIMEDOUT`: the driver's transaction timed out.
    TimedOut,
    /// A read succeeds with fewer bytes than asked
    /// ([`RequestFault::short_read_len`]), as a driver's operation may
    /// return: only those are read from the module (clear-on-read bytes
    /// after them keep their value), and the rest of the caller's buffer
    /// is not the module's (the host driver changes it: its complement).
    /// A write has no count to return short: it is done whole.
    ShortRead,
}

impl RequestFault {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Io, Self::NoDevice, Self::TimedOut, Self::ShortRead];

    /// The kind failing with `errno`, if any.
    pub fn from_errno(errno: Errno) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.bus_error().map(BusError::errno) == Some(errno))
    }

    /// The access error a driver reports for it; none for a short read.
    pub const fn bus_error(self) -> Option<BusError> {
        match self {
            Self::Io => Some(BusError::Nack),
            Self::NoDevice => Some(BusError::Unplugged),
            Self::TimedOut => Some(BusError::Timeout),
            Self::ShortRead => None,
        }
    }

    /// The bytes a short read of `len` bytes returns: the first half.
    pub const fn short_read_len(len: usize) -> usize {
        len / 2
    }
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
    /// Writes into the CDB pages (9Fh, A0h-AFh) of a busy instance,
    /// stored or refused: a correct host never makes one.
    pub writes_while_busy: u64,
    /// Accesses not acknowledged (also counted in `errors`).
    pub nacks: u64,
    /// The driver's fixed cost of the accesses ([`HostDriver`]), in ns;
    /// not in `bus_ns`.
    pub driver_ns: u64,
    /// The host driver's ethtool `begin` operations that succeeded.
    pub ethtool_begins: u64,
    /// Its ethtool `complete` operations: as many as `begin`s once every
    /// request is over.
    pub ethtool_completes: u64,
    /// Time the module, up and with no command running, waited for the
    /// host's next transaction after a command's end showed (status and
    /// completion flag): the host looked late. See [`HostWait`].
    pub wait_after_command_ns: u64,
    /// The same after a reset, from when the module acknowledges again.
    pub wait_after_reset_ns: u64,
    /// The same after the host's previous transaction: the host's own
    /// time between two accesses (its software, its sleeps).
    pub wait_between_accesses_ns: u64,
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
            writes_while_busy: 0,
            nacks: 0,
            driver_ns: 0,
            ethtool_begins: 0,
            ethtool_completes: 0,
            wait_after_command_ns: 0,
            wait_after_reset_ns: 0,
            wait_between_accesses_ns: 0,
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

/// When the module last stopped doing something the host waits for, so
/// that the time until the host's next transaction can be counted: the
/// host's share of a flash beyond the module's bus, busy and reset times,
/// which is what keeps a flasher from the physical limit
/// ([`Counters::wait_after_command_ns`] and the two after it). The
/// module works while a command is pending (shown late, running, reported
/// late, its flag still to come) and while it resets; waits are counted
/// only outside those.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HostWait {
    /// End of the last transaction: the bus carries one at a time, so
    /// a transaction that starts before the previous one's end (the
    /// kernel port runs a request's transactions, then spends their bus
    /// time) ends its time after it. Refused transactions take none.
    bus_free_at: Nanos,
    /// When the last command's end showed: its status and completion flag.
    command_end_at: Nanos,
    /// When the module last acknowledged again after a reset.
    up_at: Nanos,
    /// A transaction was seen since the counters were cleared: the time
    /// before the first one is not counted.
    started: bool,
}

/// Where the module is in its reset sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Power {
    /// Running, in the state [`Module::walk`] says.
    Up,
    /// Reset scheduled (Run's DelayToReset) into `bank`.
    ResetPending { at: Nanos, bank: BankId },
    /// Resetting: nothing is acknowledged until `until`.
    Resetting { until: Nanos },
    /// Unplugged.
    Unplugged,
}

/// The states a module walks through after a reset, by time: MgmtInit
/// until `init_end`, LowPwr until `low_pwr_end`, PwrUp until `ready_at`,
/// then Ready, or ModuleFault with cause `fault`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Walk {
    init_end: Nanos,
    low_pwr_end: Nanos,
    ready_at: Nanos,
    fault: u8,
}

impl Walk {
    fn state(&self, now: Nanos) -> MsmState {
        if now < self.init_end {
            MsmState::MgmtInit
        } else if now < self.low_pwr_end {
            MsmState::LowPwr
        } else if now < self.ready_at {
            MsmState::PwrUp
        } else if self.fault != 0 {
            MsmState::Fault
        } else {
            MsmState::Ready
        }
    }
}

/// A command being executed by the CDB engine, one per instance at most.
/// Its life: triggered; shown in the status register and flag at
/// `shown_at` (status lag); executed at `done_at`; reported (final status,
/// then the completion flag) at [`Pending::report_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    instance: usize,
    /// The command id: captured at the trigger, read again at execution.
    id: u16,
    triggered: Nanos,
    shown_at: Nanos,
    /// The status register shows it.
    shown: bool,
    /// `None`: never completes (fault).
    done_at: Option<Nanos>,
    /// Executed, waiting to be reported.
    result: Option<Executed>,
}

/// What an executed command leaves to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Executed {
    /// Final CdbStatus.
    status: u8,
    /// Run: the bank to reset into, DelayToReset in ms, hitless.
    reset: Option<(BankId, u16, bool)>,
}

impl Pending {
    /// When its next step falls due.
    fn next_event(&self, report_delay: Nanos) -> Option<Nanos> {
        if !self.shown {
            Some(self.shown_at)
        } else if self.result.is_none() {
            self.done_at
        } else {
            self.report_at(report_delay)
        }
    }

    /// When the status and the flag report it: not before the status
    /// shows it at all.
    fn report_at(&self, report_delay: Nanos) -> Option<Nanos> {
        self.done_at.map(|d| d.max(self.shown_at) + report_delay)
    }
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
    /// The state walk since the last reset.
    walk: Walk,
    /// The state code 00h:3 showed last (ModuleStateChanged).
    shown_state: u8,
    /// The command each CDB instance is executing: instances work
    /// independently of each other.
    pending: [Option<Pending>; 2],
    /// Completion flags to latch later (`Quirks::flag_delay_us`).
    late_flag: [Option<Nanos>; 2],
    /// Reads of the reply area left to NACK, per instance.
    reply_nacks: [u8; 2],
    /// Reads of RPLChkCode left to corrupt, per instance.
    chk_glitches: [u8; 2],
    /// NACK everything until then (`Quirks::nack_after_reset_ms`).
    reset_nack_until: Nanos,
    /// End of the boot phase (`Quirks::boot_ms`).
    boot_until: Nanos,
    /// State of the generator behind the quirks' probabilities.
    rng: u32,
    /// The host password entered (00h:122-125 or 0001h) matches.
    unlocked: bool,
    /// Last value written to the password entry area.
    entered_password: u32,
    /// The setting of [`vendor::SET_SETTING`], volatile (0 after a
    /// reset).
    vendor_setting: u8,
    /// The pending reset (Run in a hitless mode on a module that supports
    /// it) keeps the management interface up.
    hitless_pending: bool,
    /// The named profile last applied, as 1 + its index in
    /// [`Profile::NAMES`]; 0 once a setting was changed after it.
    profile_name: u8,
    /// Faults to inject.
    pub faults: Faults,
    counters: Counters,
    log: [LogEntry; LOG_LEN],
    log_next: usize,
    /// Entries in use, up to [`LOG_LEN`].
    log_len: usize,
    host_wait: HostWait,
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
            power: Power::Up,
            walk: Walk::default(),
            shown_state: 0,
            pending: [None; 2],
            late_flag: [None; 2],
            reply_nacks: [0; 2],
            chk_glitches: [0; 2],
            reset_nack_until: 0,
            boot_until: 0,
            rng: 0,
            unlocked: false,
            entered_password: 0,
            vendor_setting: 0,
            hitless_pending: false,
            profile_name: 0,
            faults: Faults::default(),
            counters: Counters::default(),
            log: [LogEntry::default(); LOG_LEN],
            log_next: 0,
            log_len: 0,
            host_wait: HostWait::default(),
        };
        m.reinit(profile, version, now);
        m
    }

    /// Turns `self`, whatever its state (all zeroes included), into what
    /// [`Module::new`] returns, in place and without large temporaries.
    pub fn reinit(&mut self, profile: Profile, version: Version, now: Nanos) {
        self.profile = profile;
        self.profile_name = Profile::NAMES
            .iter()
            .position(|n| Profile::by_name(n) == Some(profile))
            .map_or(0, |i| i as u8 + 1);
        self.lower.fill(0);
        self.cdb.iter_mut().for_each(|p| p.fill(0));
        self.epl.iter_mut().for_each(|p| p.fill(0));
        self.firmware = Firmware::new(version);
        self.pending = [None; 2];
        self.walk = Walk::default();
        self.shown_state = 0;
        self.late_flag = [None; 2];
        self.reply_nacks = [0; 2];
        self.chk_glitches = [0; 2];
        self.reset_nack_until = 0;
        self.boot_until = 0;
        self.rng = seed(profile.quirks.seed);
        self.unlocked = false;
        self.entered_password = 0;
        self.vendor_setting = 0;
        self.hitless_pending = false;
        self.faults = Faults::default();
        self.host_wait = HostWait::default();
        self.clear_counters();
        self.init_static_pages();
        self.power = Power::Up;
        self.power_on(now);
    }

    /// The vendor setting ([`vendor::SET_SETTING`]).
    pub fn vendor_setting(&self) -> u8 {
        self.vendor_setting
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
        if profile.quirks.seed != self.profile.quirks.seed {
            self.rng = seed(profile.quirks.seed);
        }
        self.profile = profile;
        self.profile_name = 0;
        self.init_static_pages();
        self.update_versions();
        Ok(())
    }

    /// Applies the named profile `name` (one of [`Profile::NAMES`]) as
    /// [`Module::set_profile`] does.
    pub fn set_named_profile(&mut self, name: &str) -> Result<(), &'static str> {
        let i = Profile::NAMES
            .iter()
            .position(|n| *n == name)
            .ok_or("no profile of that name")?;
        let p = Profile::by_name(name).ok_or("no profile of that name")?;
        self.set_profile(p)?;
        self.profile_name = i as u8 + 1;
        Ok(())
    }

    /// The named profile last applied, or `custom` once a setting changed
    /// after it.
    pub fn profile_name(&self) -> &'static str {
        match (self.profile_name as usize).checked_sub(1) {
            Some(i) => Profile::NAMES.get(i).copied().unwrap_or("custom"),
            None => "custom",
        }
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
        self.host_wait.started = false;
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

    /// Called by the host driver as a request starts: how it must fail if
    /// fault injection picked this one ([`Faults::fail_request`]);
    /// counted as a refused access.
    pub fn take_request_fault(&mut self) -> Option<RequestFault> {
        let f = &mut self.faults;
        if f.fail_request == 0 {
            return None;
        }
        f.fail_request -= 1;
        if f.fail_request > 0 {
            return None;
        }
        self.counters.errors += 1;
        Some(f.fail_request_error)
    }

    /// The host driver's ethtool `begin`, counted beside the module's
    /// counters: `None` if it fails ([`Faults::ethtool_begin_fails`]),
    /// else how long it takes, in ms ([`HostDriver::begin_ms`]: the
    /// driver sleeps that long before it returns).
    pub fn ethtool_begin(&mut self) -> Option<u32> {
        if self.faults.ethtool_begin_fails {
            return None;
        }
        self.counters.ethtool_begins += 1;
        Some(self.profile.driver.begin_ms)
    }

    /// The host driver's ethtool `complete`.
    pub fn ethtool_complete(&mut self) {
        self.counters.ethtool_completes += 1;
    }

    /// Whether the module is in the middle of a command (on any CDB
    /// instance).
    pub fn busy(&self) -> bool {
        self.pending.iter().any(Option::is_some)
    }

    /// The module state at `now`, or `None` while resetting or unplugged,
    /// and in the states [`ModuleState`] does not name (MgmtInit,
    /// ModuleFault: see [`Module::msm_state`]).
    pub fn state(&mut self, now: Nanos) -> Option<ModuleState> {
        match self.msm_state(now)? {
            MsmState::LowPwr => Some(ModuleState::LowPwr),
            MsmState::PwrUp => Some(ModuleState::PwrUp),
            MsmState::Ready => Some(ModuleState::Ready),
            MsmState::MgmtInit | MsmState::Fault => None,
        }
    }

    /// The state 00h:3 shows at `now`, or `None` while resetting or
    /// unplugged.
    pub fn msm_state(&mut self, now: Nanos) -> Option<MsmState> {
        self.advance(now);
        self.state_at(now)
    }

    /// The module state at `now`, time already brought forward.
    fn state_at(&self, now: Nanos) -> Option<MsmState> {
        match self.power {
            Power::Up => Some(self.walk.state(now)),
            Power::ResetPending { .. } if self.profile.quirks.ready_until_reset => {
                Some(self.walk.state(now))
            }
            Power::ResetPending { .. } => Some(MsmState::LowPwr),
            Power::Resetting { .. } | Power::Unplugged => None,
        }
    }

    /// Whether the reset Run asked for waits its DelayToReset, time
    /// already brought forward (by [`Module::msm_state`]). The module shows
    /// no sign of it: for test benches, which wait it out.
    pub fn reset_pending(&self) -> bool {
        matches!(self.power, Power::ResetPending { .. })
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
    /// transaction. Returns the time it takes (bus and driver, see
    /// [`Module::bus_cost`]), for the caller to spend. What it reads is
    /// the module at `now`.
    pub fn read(&mut self, now: Nanos, access: &Access, buf: &mut [u8]) -> Result<Nanos, BusError> {
        let r = self
            .check_access(now, access, buf.len(), false)
            .and_then(|()| self.check_reply_read(access));
        if let Err(e) = r {
            return Err(self.refused(e));
        }
        self.refresh(now);
        let start = access.offset as usize;
        if start < UPPER_START as usize {
            buf.copy_from_slice(&self.lower[start..start + buf.len()]);
            self.patch_lower_read(start, buf);
        } else {
            buf.copy_from_slice(self.upper(access)?);
            self.patch_upper_read(now, access, buf);
        }
        self.counters.reads += 1;
        self.counters.bytes_read += buf.len() as u64;
        Ok(self.charge(now, access.len, true))
    }

    /// Writes `data` at `access` at time `now`, in one bus transaction.
    /// Returns the time it takes (bus and driver).
    pub fn write(&mut self, now: Nanos, access: &Access, data: &[u8]) -> Result<Nanos, BusError> {
        if let Err(e) = self.check_access(now, access, data.len(), true) {
            return Err(self.refused(e));
        }
        let start = access.offset as usize;
        // The STOP that ends the transaction, when a command triggers.
        let stop = now + self.bus_cost(access.len, false);
        let mut nack = false;
        if start < UPPER_START as usize {
            self.write_lower(start, data);
        } else {
            let instance = access.bank as usize;
            let busy = is_cdb_page(access.page) && self.pending[instance].is_some();
            if busy && self.profile.quirks.busy_writes == BusyWrites::Refused {
                // The instance's pages are the engine's while it works.
                return Err(self.refused(BusError::Nack));
            }
            // A write covering CMDID's low byte (129) triggers the
            // command (trigger method 0 and 1 alike), at the STOP that
            // ends the transaction; not on a busy instance, not while a
            // bootloader has no CDB.
            let end = start + data.len();
            let trigger = access.page == CDB_PAGE
                && start <= 129
                && end > 129
                && !busy
                && !(self.booting(now) && self.profile.quirks.boot_cdb == BootCdb::NoCdb);
            if trigger {
                match self.trigger_nack() {
                    TriggerNack::Off => {}
                    TriggerNack::Dropped => return Err(self.refused(BusError::Nack)),
                    TriggerNack::Captured => nack = true,
                }
            }
            if let Some(dst) = self.upper_mut(access)? {
                dst.copy_from_slice(data);
            }
            if trigger {
                self.trigger(stop, instance);
            }
        }
        if nack {
            return Err(self.refused(BusError::Nack));
        }
        self.counters.writes += 1;
        self.counters.bytes_written += data.len() as u64;
        Ok(self.charge(now, access.len, false))
    }

    /// Counts a refused access.
    fn refused(&mut self, e: BusError) -> BusError {
        self.counters.errors += 1;
        if e == BusError::Nack {
            self.counters.nacks += 1;
        }
        e
    }

    /// Counts the time of an access completed from `now` and returns it.
    fn charge(&mut self, now: Nanos, len: usize, read: bool) -> Nanos {
        let (bus, driver) = limit::access_ns(self.profile.bus_hz, &self.profile.driver, len, read);
        self.counters.bus_ns += bus;
        self.counters.driver_ns += driver;
        let w = &mut self.host_wait;
        w.bus_free_at = w.bus_free_at.max(now) + bus + driver;
        bus + driver
    }

    /// Counts how long the module, idle, waited for a transaction that
    /// starts at `now` ([`HostWait`]).
    fn count_host_wait(&mut self, now: Nanos) {
        let w = &mut self.host_wait;
        let working = self.pending.iter().any(Option::is_some)
            || self.late_flag.iter().any(Option::is_some)
            || self.power != Power::Up;
        if w.started && !working {
            let since = w.bus_free_at.max(w.command_end_at).max(w.up_at);
            let wait = now.saturating_sub(since);
            let c = &mut self.counters;
            if since == w.bus_free_at {
                c.wait_between_accesses_ns += wait;
            } else if since == w.command_end_at {
                c.wait_after_command_ns += wait;
            } else {
                c.wait_after_reset_ns += wait;
            }
        }
        w.started = true;
    }

    /// Splits a host request into the transactions a driver puts on the
    /// bus: each at most [`Module::transfer_len`] bytes, an auto-paged
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
            self.transfer_len(request.page)
        } else {
            self.profile.driver.transfer_len(request.len)
        };
        Ok(Transactions {
            rest: *request,
            step: step.max(1),
            done: 0,
        })
    }

    /// Serves one host request as a driver does: split into the
    /// transactions the module takes ([`Module::transactions`]), each
    /// done by `op` at `*now`, which moves on by the bus time `op`
    /// returns (and 10 µs for a refused transaction). The first error
    /// ends the request.
    pub fn serve(
        &mut self,
        now: &mut Nanos,
        request: &Access,
        mut op: impl FnMut(&mut Module, Nanos, &Access, Range<usize>) -> Result<Nanos, BusError>,
    ) -> Result<(), BusError> {
        const REFUSED_NS: Nanos = 10_000;
        let chunks = self
            .transactions(request)
            .inspect_err(|_| *now += REFUSED_NS)?;
        for (t, range) in chunks {
            *now += op(self, *now, &t, range).inspect_err(|_| *now += REFUSED_NS)?;
        }
        Ok(())
    }

    /// Longest transaction on upper page `page`: the module's limit
    /// ([`Module::max_access_len`]) or the driver's
    /// ([`HostDriver::max_transfer`]), the shorter.
    pub fn transfer_len(&self, page: u8) -> usize {
        self.profile.driver.transfer_len(self.max_access_len(page))
    }

    /// Brings time forward to `now`: shows, executes and reports commands,
    /// latches late flags and goes through reset phases, in the order
    /// they fall due (a command that finished before a pending reset
    /// reports its status first; on a tie the reset wins).
    pub fn advance(&mut self, now: Nanos) {
        let report_delay = Nanos::from(self.profile.quirks.report_delay_us) * NS_PER_US;
        // Bounded: each step is one event, and there are at most three
        // per command (shown, executed, reported), one late flag per
        // instance and two per reset; only a reported Run or a power loss
        // schedules a reset.
        for _ in 0..32 {
            let mut next: Option<(Nanos, Event)> = None;
            let mut consider = |t: Option<Nanos>, e: Event| {
                if let Some(t) = t.filter(|&t| t <= now) {
                    if !matches!(next, Some((n, _)) if t >= n) {
                        next = Some((t, e));
                    }
                }
            };
            // The power phase first, so that it wins ties.
            consider(
                match self.power {
                    Power::ResetPending { at, .. } => Some(at),
                    Power::Resetting { until } => Some(until),
                    Power::Up | Power::Unplugged => None,
                },
                Event::Power,
            );
            for i in 0..2 {
                let p = self.pending[i];
                consider(
                    p.and_then(|p| p.next_event(report_delay)),
                    Event::Command(i),
                );
                consider(self.late_flag[i], Event::Flag(i));
            }
            match next {
                None => break,
                Some((_, Event::Power)) => self.next_power_phase(),
                Some((_, Event::Command(i))) => self.command_step(i, report_delay),
                Some((_, Event::Flag(i))) => {
                    self.late_flag[i] = None;
                    self.lower[8] |= Self::completion_flag(i);
                }
            }
        }
    }

    /// Ends the current reset phase: a pending reset begins, a reset ends.
    fn next_power_phase(&mut self) {
        match self.power {
            Power::ResetPending { at, bank } => self.begin_reset(at, bank),
            Power::Resetting { until } => self.power_on(until),
            Power::Up | Power::Unplugged => {}
        }
    }

    /// Time of one transaction of `len` data bytes: its bus time at the
    /// profile's rate ([`limit::transaction_ns`]) plus the driver's fixed
    /// cost ([`HostDriver`]); a transaction longer than the driver's
    /// transfers costs as the transfers it takes. Selecting the page (a
    /// write to 00h:126-127) is a transaction of its own, which the host
    /// pays for.
    pub fn bus_cost(&self, len: usize, read: bool) -> Nanos {
        let (bus, driver) = limit::access_ns(self.profile.bus_hz, &self.profile.driver, len, read);
        bus + driver
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
        self.count_host_wait(now);
        match self.power {
            Power::Unplugged => return Err(BusError::Unplugged),
            Power::Resetting { .. } => return Err(BusError::Nack),
            _ => {}
        }
        let bank = access.bank as usize;
        if write
            && access.offset >= UPPER_START
            && is_cdb_page(access.page)
            && bank < self.profile.cdb_instances as usize
            && self.pending[bank].is_some()
        {
            // Whatever becomes of it: a correct host never tries.
            self.counters.writes_while_busy += 1;
        }
        if now < self.faults.nack_until || now < self.reset_nack_until {
            return Err(BusError::Nack);
        }
        if self.busy() && !self.profile.background {
            // Foreground CDB: the module holds off every access.
            return Err(BusError::Nack);
        }
        let q = self.profile.quirks;
        if q.nack_first_us > 0 {
            let window = Nanos::from(q.nack_first_us) * NS_PER_US;
            if self
                .pending
                .iter()
                .flatten()
                .any(|p| now < p.triggered + window)
            {
                return Err(BusError::Nack);
            }
        }
        if self.busy() && self.chance(q.nack_busy_permille) {
            return Err(BusError::Nack);
        }
        if access.offset >= UPPER_START {
            self.upper(access)?;
            if is_cdb_page(access.page) && len > self.max_access_len(access.page) {
                return Err(BusError::Invalid(AccessError::OutOfBounds));
            }
        }
        Ok(())
    }

    /// NACKs for reads of a reply (9Fh:134-255): the first after a
    /// completion, or by chance.
    fn check_reply_read(&mut self, access: &Access) -> Result<(), BusError> {
        if access.page != CDB_PAGE
            || access.offset < UPPER_START
            || access.offset as usize + access.len <= 134
        {
            return Ok(());
        }
        let i = access.bank as usize;
        if self.reply_nacks[i] > 0 {
            self.reply_nacks[i] -= 1;
            return Err(BusError::Nack);
        }
        if self.chance(self.profile.quirks.reply_nack_permille) {
            return Err(BusError::Nack);
        }
        Ok(())
    }

    /// Read side effects of upper memory: a glitching RPLChkCode, the
    /// CDB advertisement of a bootloader without CDB.
    fn patch_upper_read(&mut self, now: Nanos, access: &Access, buf: &mut [u8]) {
        let start = access.offset as usize;
        let end = start + buf.len();
        let covers = |o: usize| start <= o && o < end;
        match access.page {
            CDB_PAGE if covers(135) => {
                let i = access.bank as usize;
                if self.chk_glitches[i] > 0 {
                    self.chk_glitches[i] -= 1;
                    buf[135 - start] = !buf[135 - start];
                }
            }
            0x01 if self.booting(now) && self.profile.quirks.boot_cdb == BootCdb::NoCdb => {
                let mut sum = self.page01[255 - 128];
                for o in 163..=166 {
                    sum = sum.wrapping_sub(self.page01[o - 128]);
                    if covers(o) {
                        buf[o - start] = 0;
                    }
                }
                if covers(255) {
                    buf[255 - start] = sum;
                }
            }
            _ => {}
        }
    }

    /// Whether the module is in its boot phase at `now`.
    pub fn booting(&self, now: Nanos) -> bool {
        now < self.boot_until
    }

    /// How the next trigger write is refused, if it is.
    fn trigger_nack(&mut self) -> TriggerNack {
        let mode = self.profile.quirks.trigger_nack;
        if self.faults.trigger_nacks > 0 {
            self.faults.trigger_nacks -= 1;
            return if mode == TriggerNack::Off {
                TriggerNack::Dropped
            } else {
                mode
            };
        }
        if mode != TriggerNack::Off && self.chance(self.profile.quirks.trigger_nack_permille) {
            mode
        } else {
            TriggerNack::Off
        }
    }

    /// True with probability `permille` / 1000. Draws only when it is
    /// not 0, so that a profile without probabilities never moves the
    /// generator.
    fn chance(&mut self, permille: u16) -> bool {
        if permille == 0 {
            return false;
        }
        // xorshift32: small, integer only, never stuck at 0 once seeded.
        let mut x = if self.rng == 0 { seed(0) } else { self.rng };
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x % 1000 < u32::from(permille)
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
    /// image now running; the state walk starts at `now`.
    fn power_on(&mut self, now: Nanos) {
        self.pending = [None; 2];
        self.late_flag = [None; 2];
        self.reply_nacks = [0; 2];
        self.chk_glitches = [0; 2];
        self.unlocked = false;
        self.entered_password = 0;
        self.vendor_setting = 0;
        for o in [8usize, 31, 37, 38, 41, 122, 123, 124, 125, 126, 127] {
            self.lower[o] = 0;
        }
        self.cdb.iter_mut().for_each(|p| p.fill(0));
        self.update_versions();
        let p = self.profile;
        let q = p.quirks;
        let init_end = now + u64::from(q.mgmt_init_ms) * NS_PER_MS;
        let low_pwr_end = init_end
            + u64::from(p.ready_ms) * NS_PER_MS
            + u64::from(core::mem::take(&mut self.faults.slow_ready_ms)) * NS_PER_MS;
        self.walk = Walk {
            init_end,
            low_pwr_end,
            ready_at: low_pwr_end + u64::from(q.pwr_up_ms) * NS_PER_MS,
            fault: core::mem::take(&mut self.faults.fault_on_reset),
        };
        self.reset_nack_until = now + u64::from(q.nack_after_reset_ms) * NS_PER_MS;
        self.host_wait.up_at = self.reset_nack_until;
        self.boot_until = now + u64::from(q.boot_ms) * NS_PER_MS;
        self.power = Power::Up;
        if q.state_changed_flag {
            // Every exit from reset is a state change.
            self.lower[8] |= FLAG_STATE_CHANGED;
        }
        self.set_state_byte(now);
    }

    fn set_state_byte(&mut self, now: Nanos) {
        // Only called while the module answers.
        let state = self.state_at(now).unwrap_or(MsmState::LowPwr);
        let code = state as u8;
        if code != self.shown_state && self.profile.quirks.state_changed_flag {
            self.lower[8] |= FLAG_STATE_CHANGED;
        }
        self.shown_state = code;
        self.lower[41] = if state == MsmState::Fault {
            self.walk.fault
        } else {
            0
        };
        // Bit 0: IntL deasserted.
        self.lower[lower::MODULE_STATE as usize] = (code << 1) | 1;
    }

    fn update_versions(&mut self) {
        let active = self.firmware.active_version();
        self.lower[39] = active.major;
        self.lower[40] = active.minor;
        let (maj, min) = match self.firmware.inactive_version() {
            Some(v) if !self.profile.quirks.single_bank => (v.major, v.minor),
            _ => (0, 0),
        };
        self.page01[0] = maj;
        self.page01[1] = min;
        // 128-129 are outside the page 01h checksum (130-254).
    }

    fn reset_now(&mut self, now: Nanos, bank: BankId) {
        // A reset from outside is never the hitless one a Run asked for.
        self.hitless_pending = false;
        self.begin_reset(now, bank);
        self.advance(now);
    }

    fn begin_reset(&mut self, at: Nanos, bank: BankId) {
        self.counters.resets += 1;
        // A command the old image was running is lost with it: its
        // instance shows no status, as after a reset (a hitless restart
        // keeps the registers, not a command engine that no longer runs).
        for p in self.pending.into_iter().flatten() {
            self.lower[Self::status_offset(p.instance)] = 0;
        }
        self.pending = [None; 2];
        self.late_flag = [None; 2];
        if self.profile.quirks.single_bank {
            // The one bank holds what was last written into it: the
            // committed image (a completed download commits itself), and
            // nothing else survives.
            self.firmware.boot(self.firmware.committed);
            let other = self.firmware.running.other();
            self.firmware.banks[other as usize] = firmware::Bank::EMPTY;
        } else {
            self.firmware.boot(bank);
        }
        if core::mem::take(&mut self.hitless_pending) {
            self.restart_hitless();
            return;
        }
        self.power = Power::Resetting {
            until: at + u64::from(self.profile.reset_ms) * NS_PER_MS,
        };
    }

    /// A hitless restart (Run in a hitless mode, on a module that
    /// advertises it): the image takes over with the management interface
    /// kept as it is, as the spec has the module try to keep "traffic and
    /// management state": the module stays Ready, its volatile registers
    /// (masks, the entered password) and latched flags are kept, no state
    /// change is flagged. Only the versions (and Get Firmware Info) tell.
    fn restart_hitless(&mut self) {
        self.late_flag = [None; 2];
        self.update_versions();
        self.power = Power::Up;
    }

    fn log_command(&mut self, entry: LogEntry) {
        self.log[self.log_next] = entry;
        self.log_next = (self.log_next + 1) % LOG_LEN;
        self.log_len = (self.log_len + 1).min(LOG_LEN);
    }

    /// Registers that follow time (module state, CDB busy phase) are
    /// brought up to date before each read.
    fn refresh(&mut self, now: Nanos) {
        if let Power::Up | Power::ResetPending { .. } = self.power {
            self.set_state_byte(now);
        }
        self.refresh_busy_status(now);
    }
}

static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// Something [`Module::advance`] does at its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// The next reset phase.
    Power,
    /// The next step of instance `i`'s command.
    Command(usize),
    /// Instance `i`'s late completion flag.
    Flag(usize),
}

/// The generator's state for `seed` (never 0: xorshift stays there).
const fn seed(seed: u32) -> u32 {
    if seed == 0 {
        0x9E37_79B9
    } else {
        seed
    }
}

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
