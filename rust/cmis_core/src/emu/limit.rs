// SPDX-License-Identifier: GPL-2.0

//! The physical limit of a firmware update: the least time any host needs
//! to flash an image into a module of a given [`Profile`], from its timing
//! model alone (bus rate, busy times, reset time), with no software cost.
//!
//! The benchmark (`tools/cmis-bench`) divides measured flash times by it;
//! the host tests check that it is a true lower bound of the emulated
//! module and that `cmis_fw`'s state machine comes close to it.
//!
//! What a flash must at least do, whatever the host:
//!
//! - the commands that change the module's state: Start (with the image
//!   header), one Write per block of the largest size the module takes
//!   (EPL if it has EPL pages, else LPL), Complete, Run, Commit. Queries
//!   (features, firmware info, password checks) are left out: a host
//!   could know their answers;
//! - for each: the command body from byte 130 (EPL and LPL lengths and
//!   the check code; with a local payload also the two reply bytes before
//!   it at 134-135, cheaper to write than to skip), the extended payload,
//!   and the two CMDID bytes that trigger it, each written in the longest
//!   transactions the module allows, then two one-byte reads to learn that
//!   it has finished and how: the completion flag, then the status (not
//!   for Run, which ends in a reset). The status byte alone proves
//!   nothing: a module may show the previous command's status for a while
//!   after a trigger (status lag is legal), and only the latched flag,
//!   cleared by the read that saw the previous one, tells this command's
//!   completion apart;
//! - the module's busy time of each command, or longer if the status
//!   shows it late (quirks: status lag, report delay, a NACK window at the
//!   start of each command);
//! - the time the module is away after the reset that Run starts (late
//!   by the quirks' extra delay, and the completion flag's), and after the
//!   final module reset: the flash is over when the module answers again,
//!   running the new image (the benchmark measures both flashers up to
//!   then); with the quirks, also the time it NACKs after a reset and, for
//!   a bootloader without CDB, the boot phase before Commit;
//! - the host driver's fixed cost of each transfer ([`HostDriver`]), the
//!   transfers being at most as long as the driver allows.
//!
//! The chances of a NACK are left out: a host may be lucky.

use super::super::cdb::LPL_MAX_LEN;
use super::super::map::PAGE_SIZE;
use super::{write_mechanism, BootCdb, HostDriver, Nanos, Profile};

const NS_PER_US: Nanos = 1_000;
const NS_PER_MS: Nanos = 1_000_000;

/// Bytes a write transaction sends besides its data: the device address
/// and the register offset.
pub const WRITE_ADDRESSING: usize = 2;
/// Bytes a random read sends besides the data it reads: device address,
/// register offset, device address again after the repeated start.
pub const READ_ADDRESSING: usize = 3;

/// Bus time of one transaction moving `len` data bytes at `bus_hz`: 9
/// bits a byte (8 data bits and the acknowledge), the addressing bytes
/// included. 0 Hz is an instant bus.
pub const fn transaction_ns(bus_hz: u32, len: usize, read: bool) -> Nanos {
    if bus_hz == 0 {
        return 0;
    }
    (len + addressing(read)) as Nanos * 9 * 1_000_000_000 / bus_hz as Nanos
}

/// Time of one access of `len` data bytes through `driver`: the bus time
/// and the driver's fixed cost, in that order. An access longer than the
/// driver's transfers costs as the transfers it takes, each with its own
/// addressing.
pub const fn access_ns(bus_hz: u32, driver: &HostDriver, len: usize, read: bool) -> (Nanos, Nanos) {
    // Never 0; saying so spares the kernel build a division-by-zero
    // panic path.
    let max = match driver.transfer_len(usize::MAX) {
        0 => 1,
        n => n,
    };
    let (full, rest) = if max == usize::MAX || len <= max {
        (0, len)
    } else if len % max == 0 {
        (len / max - 1, max)
    } else {
        (len / max, len % max)
    };
    let mut bus = transaction_ns(bus_hz, rest, read);
    if full > 0 {
        bus += full as Nanos * transaction_ns(bus_hz, max, read);
    }
    let driver_ns = (full as Nanos + 1) * driver.transfer_us as Nanos * NS_PER_US;
    (bus, driver_ns)
}

const fn addressing(read: bool) -> usize {
    if read {
        READ_ADDRESSING
    } else {
        WRITE_ADDRESSING
    }
}

/// How firmware blocks go to the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockPath {
    /// Write Firmware Block LPL (0103h): the data in page 9Fh.
    Lpl,
    /// Write Firmware Block EPL (0104h): the data in pages A0h-AFh.
    Epl,
}

/// The least a flash costs, part by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashLimit {
    /// How the blocks are written.
    pub path: BlockPath,
    /// Bytes in a full block.
    pub block_len: usize,
    /// Write commands.
    pub blocks: u64,
    /// All the commands: Start, the blocks, Complete, Run, Commit.
    pub commands: u64,
    /// Bus transactions.
    pub transactions: u64,
    /// Bytes on the bus, addressing included.
    pub bus_bytes: u64,
    /// Time on the bus.
    pub bus_ns: Nanos,
    /// Time the module is busy with the commands.
    pub busy_ns: Nanos,
    /// Time the module does not answer after its two resets.
    pub reset_ns: Nanos,
    /// The host driver's fixed cost of the transactions.
    pub driver_ns: Nanos,
}

impl FlashLimit {
    /// The limit itself.
    pub const fn total_ns(&self) -> Nanos {
        self.bus_ns + self.busy_ns + self.reset_ns + self.driver_ns
    }

    /// Adds `len` bytes written in transactions of at most `max` bytes
    /// (and the driver's transfer length), none crossing a multiple of
    /// `boundary` bytes from the start.
    fn write(&mut self, p: &Profile, len: usize, max: usize, boundary: usize) {
        // Neither is ever 0; saying so spares the kernel build a
        // division-by-zero panic path.
        let (max, boundary) = (p.driver.transfer_len(max).max(1), boundary.max(1));
        let mut pos = 0;
        while pos < len {
            let n = (len - pos).min(max).min(boundary - pos % boundary);
            self.transaction(p, n, false);
            pos += n;
        }
    }

    fn transaction(&mut self, p: &Profile, len: usize, read: bool) {
        self.transactions += 1;
        self.bus_bytes += (len + addressing(read)) as u64;
        self.bus_ns += transaction_ns(p.bus_hz, len, read);
        self.driver_ns += Nanos::from(p.driver.transfer_us) * NS_PER_US;
    }

    /// Adds one command: its body (header bytes and `lpl` bytes of local
    /// payload), `epl` bytes of extended payload, the trigger, the flag
    /// and status reads if `ends_in_status`, and `busy_us` of module time
    /// (or as long as the quirks keep the flag from showing the result).
    fn command(&mut self, p: &Profile, lpl: usize, epl: usize, busy_us: u32, ends_in_status: bool) {
        // Bytes 130-133, then 134-135 and the payload from 136.
        let body = if lpl == 0 { 4 } else { 6 + lpl };
        self.write(p, body, p.lpl_access_max(), usize::MAX);
        let page_run = if p.auto_paging { usize::MAX } else { PAGE_SIZE };
        self.write(p, epl, p.epl_access_max(), page_run);
        self.transaction(p, 2, false);
        let q = &p.quirks;
        // The status shows the result this long after the trigger (see
        // `Pending::report_at`), and can be read no earlier than the
        // NACK window at the start of the command allows.
        let reported = Nanos::from(busy_us.max(q.status_lag_us)) + Nanos::from(q.report_delay_us);
        if ends_in_status {
            self.transaction(p, 1, true);
            self.transaction(p, 1, true);
            let flagged = reported + Nanos::from(q.flag_delay_us);
            self.busy_ns += flagged.max(Nanos::from(q.nack_first_us)) * NS_PER_US;
        } else {
            // Run: its reset begins DelayToReset (0) after the flag,
            // late by the quirk's extra delay.
            self.busy_ns += (reported + Nanos::from(q.flag_delay_us)) * NS_PER_US
                + Nanos::from(q.reset_extra_ms) * NS_PER_MS;
        }
        self.commands += 1;
    }
}

impl Profile {
    /// The physical limit of flashing an image of `image_len` bytes (its
    /// first `start_payload_size` bytes go with Start), along the faster
    /// of the block paths the module offers; `None` if it offers none or
    /// the image is shorter than the Start payload.
    pub fn flash_limit(&self, image_len: usize) -> Option<FlashLimit> {
        let epl = (write_mechanism::has_epl(self.write_mechanism) && self.epl_pages() > 0)
            .then(|| self.flash_limit_via(BlockPath::Epl, image_len))
            .flatten();
        let lpl = write_mechanism::has_lpl(self.write_mechanism)
            .then(|| self.flash_limit_via(BlockPath::Lpl, image_len))
            .flatten();
        match (epl, lpl) {
            (Some(e), Some(l)) => Some(if e.total_ns() <= l.total_ns() { e } else { l }),
            (e, l) => e.or(l),
        }
    }

    /// The limit along one block path.
    pub fn flash_limit_via(&self, path: BlockPath, image_len: usize) -> Option<FlashLimit> {
        let header = self.start_payload_size as usize;
        let body_len = image_len.checked_sub(header)?;
        let block_len = match path {
            // The block address takes 4 of the LPL's bytes.
            BlockPath::Lpl => LPL_MAX_LEN - 4,
            BlockPath::Epl => self.epl_pages() * PAGE_SIZE,
        };
        if block_len == 0 {
            return None;
        }
        let mut l = FlashLimit {
            path,
            block_len,
            blocks: 0,
            commands: 0,
            transactions: 0,
            bus_bytes: 0,
            bus_ns: 0,
            busy_ns: 0,
            reset_ns: 0,
            driver_ns: 0,
        };
        let b = &self.busy_us;
        // Start: image size, 4 reserved bytes, then the vendor header.
        l.command(self, 8 + header, 0, b.start, true);
        let mut left = body_len;
        while left > 0 {
            let n = left.min(block_len);
            match path {
                BlockPath::Lpl => l.command(self, 4 + n, 0, b.write, true),
                BlockPath::Epl => l.command(self, 4, n, b.write, true),
            }
            l.blocks += 1;
            left -= n;
        }
        l.command(self, 0, 0, b.complete, true);
        // Run: reserved byte, image to run, DelayToReset.
        l.command(self, 4, 0, b.run, false);
        l.command(self, 0, 0, b.commit, true);
        // Away during both resets, then not acknowledging; Commit waits
        // for a bootloader without CDB to end its boot phase.
        let q = &self.quirks;
        let reset = Nanos::from(self.reset_ms) + Nanos::from(q.nack_after_reset_ms);
        let before_commit = if q.boot_cdb == BootCdb::NoCdb {
            reset.max(Nanos::from(self.reset_ms) + Nanos::from(q.boot_ms))
        } else {
            reset
        };
        l.reset_ns = (before_commit + reset) * NS_PER_MS;
        Some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_epl_blocks_by_hand() {
        let p = Profile::REALISTIC_EPL;
        let l = p.flash_limit(64 + 4096).unwrap();
        assert_eq!(
            (l.path, l.block_len, l.blocks, l.commands),
            (BlockPath::Epl, 2048, 2, 6)
        );
        // Start: body 6 + 8 + 64 in one transaction, trigger, flag,
        // status. Each block: body 6 + 4, 16 page writes of 128, trigger,
        // flag, status. Complete and Commit: body 4, trigger, flag,
        // status. Run: body 6 + 4, trigger.
        let start = (78 + 2) + 4 + 2 * 4;
        let block = (10 + 2) + 16 * 130 + 4 + 2 * 4;
        let complete = (4 + 2) + 4 + 2 * 4;
        let run = (10 + 2) + 4;
        assert_eq!(l.bus_bytes, start + 2 * block + complete + run + complete);
        assert_eq!(l.transactions, 4 + 2 * 20 + 4 + 2 + 4);
        // 9 bits a byte at 400 kHz: 22.5 µs.
        assert_eq!(l.bus_ns, l.bus_bytes * 22_500);
        assert_eq!(
            l.busy_ns,
            (2_000_000 + 2 * 4_000 + 1_000_000 + 10_000 + 100_000) * 1_000
        );
        assert_eq!(l.reset_ns, 3_000_000_000);
        assert_eq!(l.total_ns(), l.bus_ns + l.busy_ns + l.reset_ns);
    }

    #[test]
    fn lpl_blocks_carry_116_bytes() {
        let p = Profile::REALISTIC_LPL;
        let l = p.flash_limit(64 + 1000).unwrap();
        assert_eq!((l.path, l.block_len, l.blocks), (BlockPath::Lpl, 116, 9));
        // A full block: body 6 + 4 + 116 = 126 bytes in one transaction.
        let full = p.flash_limit(64 + 116).unwrap();
        assert_eq!(
            full.bus_bytes - p.flash_limit(64).unwrap().bus_bytes,
            128 + 4 + 2 * 4
        );
    }

    #[test]
    fn the_faster_path_and_no_path() {
        let both = Profile {
            write_mechanism: write_mechanism::BOTH,
            ..Profile::REALISTIC_EPL
        };
        assert_eq!(both.flash_limit(1 << 20).unwrap().path, BlockPath::Epl);
        let auto = Profile {
            auto_paging: true,
            rw_len_ext: 255,
            ..Profile::REALISTIC_EPL
        };
        // One transaction a block instead of sixteen.
        let a = auto.flash_limit(1 << 20).unwrap();
        let b = Profile::REALISTIC_EPL.flash_limit(1 << 20).unwrap();
        assert_eq!(b.transactions - a.transactions, 15 * a.blocks);
        let none = Profile {
            write_mechanism: write_mechanism::NONE,
            ..Profile::REALISTIC_EPL
        };
        assert_eq!(none.flash_limit(1 << 20), None);
        assert_eq!(Profile::REALISTIC_EPL.flash_limit(10), None);
        // An instant module has no limit but its work.
        let instant = Profile::DEFAULT.flash_limit(1 << 20).unwrap();
        assert_eq!(instant.total_ns(), 0);
        assert!(instant.transactions > 0);
    }
}
