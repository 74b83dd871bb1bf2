// SPDX-License-Identifier: GPL-2.0

//! Tests of the module model, driven like a host driver would, with a
//! virtual clock.

use super::super::cdb::{check_code, Command, CommandId, Failure, Status, CDB_PAGE};
use super::super::image::{Header, Version};
use super::super::map::{Access, AccessError};
use super::firmware::BankId;
use super::*;
use proptest::prelude::*;

const MS: Nanos = 1_000_000;

/// A minimal host: runs commands against the model, advancing a virtual
/// clock while it polls.
struct Host {
    m: Module,
    now: Nanos,
    /// Bank of the CDB pages (9Fh, A0h-AFh) it uses: the CDB instance,
    /// 0 for the first.
    cdb_bank: u8,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok(std::vec::Vec<u8>),
    Failed(u8),
    Timeout,
    Bus(BusError),
}

impl Host {
    fn new(profile: Profile) -> Self {
        Self {
            m: Module::new(profile, Version::new(1, 0, 0), 1),
            now: 1,
            cdb_bank: 0,
        }
    }

    /// An access to `page`, in the host's CDB bank for the CDB pages.
    fn at(&self, page: u8, offset: u8, len: usize) -> Access {
        Access {
            bank: if page >= CDB_PAGE { self.cdb_bank } else { 0 },
            ..Access::new(page, offset, len)
        }
    }

    fn read(&mut self, page: u8, offset: u8, len: usize) -> Result<std::vec::Vec<u8>, BusError> {
        let mut buf = std::vec![0u8; len];
        let cost = self
            .m
            .read(self.now, &self.at(page, offset, len), &mut buf)?;
        self.now += cost;
        Ok(buf)
    }

    fn write(&mut self, page: u8, offset: u8, data: &[u8]) -> Result<(), BusError> {
        let cost = self
            .m
            .write(self.now, &self.at(page, offset, data.len()), data)?;
        self.now += cost;
        Ok(())
    }

    /// Performs a request of any length as the kernel port does: split
    /// into the transactions the module accepts.
    fn request(&mut self, request: &Access, buf: &mut [u8], write: bool) -> Result<(), BusError> {
        for (a, r) in self.m.transactions(request)? {
            self.now += if write {
                self.m.write(self.now, &a, &buf[r])?
            } else {
                self.m.read(self.now, &a, &mut buf[r])?
            };
        }
        Ok(())
    }

    /// CdbStatus offset of the host's CDB instance.
    fn status_offset(&self) -> u8 {
        37 + self.cdb_bank
    }

    fn byte(&mut self, offset: u8) -> u8 {
        self.read(0, offset, 1).unwrap()[0]
    }

    /// Sends `cmd` (with `epl` in pages A0h...), polls until done and
    /// returns the reply payload.
    fn run(&mut self, cmd: &Command, epl: &[u8]) -> Outcome {
        if let Err(e) = self.write(CDB_PAGE, Command::BODY_OFFSET, cmd.body()) {
            return Outcome::Bus(e);
        }
        for (i, chunk) in epl.chunks(128).enumerate() {
            if let Err(e) = self.write(0xA0 + i as u8, 128, chunk) {
                return Outcome::Bus(e);
            }
        }
        if let Err(e) = self.write(CDB_PAGE, 128, cmd.trigger()) {
            return Outcome::Bus(e);
        }
        for _ in 0..100_000 {
            match self.read(0, self.status_offset(), 1) {
                Ok(s) => match Status::from_byte(s[0]) {
                    Status::Success => {
                        let hdr = self.read(CDB_PAGE, 134, 2).unwrap();
                        let len = hdr[0] as usize;
                        let payload = if len > 0 {
                            self.read(CDB_PAGE, 136, len.min(120)).unwrap()
                        } else {
                            std::vec::Vec::new()
                        };
                        return Outcome::Ok(payload);
                    }
                    Status::Failed(f) => return Outcome::Failed(f.status_byte()),
                    _ => {}
                },
                Err(BusError::Nack) => {}
                Err(e) => return Outcome::Bus(e),
            }
            self.now += MS / 10;
        }
        Outcome::Timeout
    }

    fn cmd(&mut self, id: CommandId, lpl: &[u8]) -> Outcome {
        self.run(&Command::new(id, lpl, 0).unwrap(), &[])
    }

    /// Flashes `body` as version `v` with LPL or EPL blocks: the first
    /// StartCmdPayloadSize bytes of the image go with Start, the rest in
    /// blocks (the header too, past a Start payload shorter than it).
    fn flash(&mut self, v: Version, body: &[u8], epl: bool) -> Result<(), Outcome> {
        let n = self.m.profile().start_payload_size as usize;
        let img = image_file(n, v, body);
        let mut start = std::vec::Vec::new();
        start.extend_from_slice(&(img.len() as u32).to_be_bytes());
        start.extend_from_slice(&[0; 4]);
        start.extend_from_slice(&img[..n]);
        expect_ok(self.cmd(CommandId::START_FW_DOWNLOAD, &start))?;
        let step = if epl {
            self.m.profile().epl_pages() * 128
        } else {
            116
        };
        for (i, block) in img[n..].chunks(step).enumerate() {
            let addr = ((i * step) as u32).to_be_bytes();
            let r = if epl {
                let c = Command::new(CommandId::WRITE_FW_BLOCK_EPL, &addr, block.len()).unwrap();
                self.run(&c, block)
            } else {
                let mut lpl = addr.to_vec();
                lpl.extend_from_slice(block);
                self.cmd(CommandId::WRITE_FW_BLOCK_LPL, &lpl)
            };
            expect_ok(r)?;
        }
        expect_ok(self.cmd(CommandId::COMPLETE_FW_DOWNLOAD, &[]))
    }

    /// Run Image as Linux sends it (mode 0, no delay): the module may
    /// reset before its status can be read, so wait for it to come back
    /// instead, and report the status it left if it did not reset.
    fn run_image(&mut self) -> Outcome {
        self.run_mode(0)
    }

    fn run_mode(&mut self, mode: u8) -> Outcome {
        let c = Command::new(CommandId::RUN_FW_IMAGE, &[0, mode, 0, 0], 0).unwrap();
        let resets = self.m.counters().resets;
        self.write(CDB_PAGE, 130, c.body()).unwrap();
        self.write(CDB_PAGE, 128, c.trigger()).unwrap();
        if !self.wait_ready() {
            return Outcome::Timeout;
        }
        if self.m.counters().resets > resets {
            return Outcome::Ok(std::vec::Vec::new());
        }
        match Status::from_byte(self.byte(self.status_offset())) {
            Status::Failed(f) => Outcome::Failed(f.status_byte()),
            other => panic!("Run neither reset nor failed: {other:?}"),
        }
    }

    /// Waits (virtual time) until the module answers and is Ready.
    fn wait_ready(&mut self) -> bool {
        for _ in 0..100_000 {
            if let Ok(b) = self.read(0, 3, 1) {
                if (b[0] >> 1) & 7 == ModuleState::Ready as u8 {
                    return true;
                }
            }
            self.now += MS;
        }
        false
    }
}

fn expect_ok(o: Outcome) -> Result<(), Outcome> {
    match o {
        Outcome::Ok(_) => Ok(()),
        other => Err(other),
    }
}

/// An image file for a module whose Start payload is `n` bytes: its
/// header is as long (64 bytes if `n` is shorter than a header).
fn image_file(n: usize, v: Version, body: &[u8]) -> std::vec::Vec<u8> {
    let h = if n < 56 { 64 } else { n };
    let mut img = std::vec![0u8; h];
    Header::write(&mut img, h, &v, body).unwrap();
    img.extend_from_slice(body);
    img
}

fn body(len: usize, seed: u8) -> std::vec::Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn identity_and_advertisement() {
    let mut h = Host::new(Profile::DEFAULT);
    assert_eq!(h.byte(0), 0x18);
    assert_eq!(h.byte(1), 0x52);
    assert_eq!(h.byte(2), 0x00);
    assert_eq!(h.byte(3), 0x07, "Ready, IntL deasserted");
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0]);
    let adv = h.read(1, 163, 4).unwrap();
    assert_eq!(adv, [0x67, 0x0F, 0x00, 0x00]);
    let p01 = h.read(1, 128, 128).unwrap();
    let sum = p01[2..127].iter().fold(0u8, |s, b| s.wrapping_add(*b));
    assert_eq!(p01[127], sum, "page 01h checksum");
    let p00 = h.read(0, 128, 128).unwrap();
    assert_eq!(&p00[1..14], b"CMIS EMULATOR");
}

#[test]
fn feature_replies_match_the_spec_defaults() {
    let mut h = Host::new(Profile::DEFAULT);
    let Outcome::Ok(r) = h.cmd(CommandId::FW_MGMT_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(
        r,
        [
            0x00, 0x01, 0x40, 0xFF, 0x0F, 0x11, 0x00, 0x00, 0x03, 0xE8, 0x00, 0x64, 0x00, 0x64,
            0x0B, 0xB8, 0x00, 0x00
        ]
    );
    assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap()[0], 0x29, "RPLChkCode");
    let Outcome::Ok(r) = h.cmd(CommandId::MODULE_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r.len(), 36);
    assert_eq!(r[2], 0x07, "0000h-0002h supported");
    assert_eq!(r[10], 0x03, "0040h, 0041h supported");
    assert_eq!(&r[34..36], &[0x0B, 0xB8]);
    assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap()[0], check_code(&r));
}

#[test]
fn completion_flag_is_latched_and_clear_on_read() {
    let mut h = Host::new(Profile::DEFAULT);
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    assert_eq!(h.byte(8) & 0x40, 0x40);
    assert_eq!(h.byte(8) & 0x40, 0, "cleared by the previous read");
    // Set on failure too.
    assert_eq!(h.cmd(CommandId(0x7777), &[]), Outcome::Failed(0x41));
    assert_eq!(h.byte(8) & 0x40, 0x40);
}

/// The host's waits are counted from what the module last did: the
/// previous transaction's end, a command's end, a reset's end; never
/// while a command runs or the module resets, nor before the first
/// transaction after the counters were cleared.
#[test]
fn host_waits_are_counted_from_what_the_module_last_did() {
    let mut h = Host::new(Profile::REALISTIC_EPL);
    h.m.clear_counters();
    h.now += 7 * MS;
    h.read(0, 3, 1).unwrap();
    let c = *h.m.counters();
    assert_eq!(
        c.wait_between_accesses_ns, 0,
        "before the first transaction"
    );

    h.now += MS;
    h.read(0, 3, 1).unwrap();
    assert_eq!(h.m.counters().wait_between_accesses_ns, MS);

    // A command of 1 ms: polled 3 ms after its trigger, 2 ms late.
    let cmd = Command::new(CommandId::QUERY_STATUS, &[0, 0], 0).unwrap();
    h.write(CDB_PAGE, Command::BODY_OFFSET, cmd.body()).unwrap();
    h.write(CDB_PAGE, 128, cmd.trigger()).unwrap();
    let triggered = h.now;
    h.now = triggered + 3 * MS;
    assert_eq!(h.read(0, 37, 1).unwrap()[0], crate::cdb::STATUS_SUCCESS);
    let c = *h.m.counters();
    assert_eq!(c.wait_between_accesses_ns, MS);
    assert_eq!(c.wait_after_command_ns, 2 * MS);

    // A reset, polled through: the module is working until it
    // acknowledges again, then waits 5 ms.
    h.m.hard_reset(h.now);
    let before = *h.m.counters();
    let mut polls = 0;
    while h.read(0, 3, 1).is_err() {
        h.now += 7 * MS;
        polls += 1;
    }
    assert!(polls > 100, "the reset took {polls} polls");
    let after = *h.m.counters();
    let reset_wait = after.wait_after_reset_ns - before.wait_after_reset_ns;
    assert!(reset_wait > 0 && reset_wait < 7 * MS, "{reset_wait} ns");
    assert_eq!(
        after.wait_between_accesses_ns,
        before.wait_between_accesses_ns
    );
    assert_eq!(after.wait_after_command_ns, before.wait_after_command_ns);
    h.now += 5 * MS;
    h.read(0, 3, 1).unwrap();
    let c = *h.m.counters();
    assert_eq!(
        c.wait_between_accesses_ns,
        after.wait_between_accesses_ns + 5 * MS
    );
    assert_eq!(c.wait_after_command_ns, after.wait_after_command_ns);
}

#[test]
fn status_codes_for_bad_commands() {
    let mut h = Host::new(Profile::DEFAULT);
    assert_eq!(h.cmd(CommandId(0x0050), &[]), Outcome::Failed(0x41));
    // Bad check code.
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    let mut body = c.body().to_vec();
    body[3] ^= 1;
    h.write(CDB_PAGE, 130, &body).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.byte(37), 0x45);
    // LPLLength beyond 120.
    let mut raw = [0u8; 8];
    raw[0..2].copy_from_slice(&[0x00, 0x40]);
    raw[4] = 121;
    raw[5] = check_code(&raw);
    h.write(CDB_PAGE, 128, &raw).unwrap();
    assert_eq!(h.byte(37), 0x42);
    // EPLLength beyond the advertised pages.
    let mut p = Profile::DEFAULT;
    p.epl_pages_code = 1;
    let mut h = Host::new(p);
    let c = Command::new(CommandId::WRITE_FW_BLOCK_EPL, &[0; 4], 256).unwrap();
    assert_eq!(h.run(&c, &[]), Outcome::Failed(0x42));
    // Write block before Start.
    assert_eq!(
        h.cmd(CommandId::WRITE_FW_BLOCK_LPL, &[0, 0, 0, 0, 1]),
        Outcome::Failed(0x47)
    );
    assert_eq!(
        h.cmd(CommandId::COMPLETE_FW_DOWNLOAD, &[]),
        Outcome::Failed(0x47)
    );
    // Run with nothing to run, and a bad mode.
    assert_eq!(h.run_image(), Outcome::Failed(0x47));
    assert_eq!(h.run_mode(9), Outcome::Failed(0x42));
}

#[test]
fn flash_lpl_and_epl_then_run_and_commit() {
    for epl in [false, true] {
        let mut h = Host::new(Profile::DEFAULT);
        let v2 = Version::new(2, 3, 44).with_text("two");
        h.flash(v2, &body(5000, 1), epl).unwrap();
        assert_eq!(h.read(1, 128, 2).unwrap(), [2, 3], "inactive version");
        assert_eq!(h.run_image(), Outcome::Ok(std::vec::Vec::new()));
        assert!(h.wait_ready());
        assert_eq!(h.read(0, 39, 2).unwrap(), [2, 3], "active version");
        assert_eq!(h.read(1, 128, 2).unwrap(), [1, 0]);
        assert_eq!(h.m.firmware().committed, BankId::A);
        assert!(matches!(
            h.cmd(CommandId::COMMIT_FW_IMAGE, &[]),
            Outcome::Ok(_)
        ));
        assert_eq!(h.m.firmware().committed, BankId::B);
        // A driver reset boots the committed image.
        h.m.hard_reset(h.now);
        assert!(h.wait_ready());
        assert_eq!(h.read(0, 39, 2).unwrap(), [2, 3]);
        let Outcome::Ok(info) = h.cmd(CommandId::GET_FW_INFO, &[]) else {
            panic!()
        };
        assert_eq!(info.len(), 110);
        assert_eq!(info[0], 0x30, "B running + committed; A valid, neither");
        assert_eq!(info[1], 0x03);
        assert_eq!(&info[38..42], &[2, 3, 0, 44]);
        assert_eq!(&info[42..45], b"two");
    }
}

#[test]
fn uncommitted_image_is_dropped_by_a_reset() {
    let mut h = Host::new(Profile::DEFAULT);
    h.flash(Version::new(2, 0, 0), &body(300, 2), false)
        .unwrap();
    assert!(matches!(h.run_image(), Outcome::Ok(_)));
    assert!(h.wait_ready());
    h.m.hard_reset(h.now);
    assert!(h.wait_ready());
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0]);
}

#[test]
fn corrupted_download_keeps_the_running_image() {
    let mut h = Host::new(Profile::DEFAULT);
    let b = body(1000, 3);
    let n = 64;
    let mut hdr = std::vec![0u8; n];
    Header::write(&mut hdr, n, &Version::new(9, 9, 9), &b).unwrap();
    let mut start = ((n + b.len()) as u32).to_be_bytes().to_vec();
    start.extend_from_slice(&[0; 4]);
    start.extend_from_slice(&hdr);
    assert!(matches!(
        h.cmd(CommandId::START_FW_DOWNLOAD, &start),
        Outcome::Ok(_)
    ));
    let mut bad = b.clone();
    bad[500] ^= 0xFF;
    for (i, chunk) in bad.chunks(116).enumerate() {
        let mut lpl = ((i * 116) as u32).to_be_bytes().to_vec();
        lpl.extend_from_slice(chunk);
        assert!(matches!(
            h.cmd(CommandId::WRITE_FW_BLOCK_LPL, &lpl),
            Outcome::Ok(_)
        ));
    }
    assert_eq!(
        h.cmd(CommandId::COMPLETE_FW_DOWNLOAD, &[]),
        Outcome::Failed(0x71)
    );
    assert_eq!(h.run_image(), Outcome::Failed(0x47));
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0]);
    assert_eq!(h.read(1, 128, 2).unwrap(), [0, 0], "no inactive image");
}

#[test]
fn abort_leaves_target_invalid() {
    let mut h = Host::new(Profile::DEFAULT);
    h.flash(Version::new(2, 0, 0), &body(200, 4), false)
        .unwrap();
    let n = 64;
    let mut hdr = std::vec![0u8; n];
    Header::write(&mut hdr, n, &Version::new(3, 0, 0), &[1; 10]).unwrap();
    let mut start = ((n + 10) as u32).to_be_bytes().to_vec();
    start.extend_from_slice(&[0; 4]);
    start.extend_from_slice(&hdr);
    assert!(matches!(
        h.cmd(CommandId::START_FW_DOWNLOAD, &start),
        Outcome::Ok(_)
    ));
    assert!(matches!(
        h.cmd(CommandId::ABORT_FW_DOWNLOAD, &[]),
        Outcome::Ok(_)
    ));
    assert!(!h.m.firmware().bank(BankId::B).valid);
    let mut p = Profile::DEFAULT;
    p.abort_supported = false;
    let mut h = Host::new(p);
    assert_eq!(
        h.cmd(CommandId::ABORT_FW_DOWNLOAD, &[]),
        Outcome::Failed(0x41)
    );
}

#[test]
fn password_gates_firmware_commands() {
    let mut p = Profile::DEFAULT;
    p.password_required = true;
    p.password = 0x1234_5678;
    let mut h = Host::new(p);
    assert_eq!(
        h.cmd(CommandId::QUERY_STATUS, &[0, 0]),
        Outcome::Ok(std::vec![2, 0])
    );
    assert_eq!(
        h.flash(Version::new(2, 0, 0), &body(10, 0), false),
        Err(Outcome::Failed(0x46))
    );
    h.write(0, 122, &0x1111_1111u32.to_be_bytes()).unwrap();
    assert_eq!(h.read(0, 122, 4).unwrap(), [0; 4], "write-only");
    assert_eq!(
        h.cmd(CommandId::QUERY_STATUS, &[0, 0]),
        Outcome::Ok(std::vec![2, 0])
    );
    h.write(0, 122, &0x1234_5678u32.to_be_bytes()).unwrap();
    assert_eq!(
        h.cmd(CommandId::QUERY_STATUS, &[0, 0]),
        Outcome::Ok(std::vec![2, 1])
    );
    h.flash(Version::new(2, 0, 0), &body(10, 0), false).unwrap();
    // Enter Password (0001h) is the other way in.
    let mut h = Host::new(p);
    assert_eq!(
        h.cmd(CommandId::ENTER_PASSWORD, &[0, 0, 0, 1]),
        Outcome::Failed(0x46)
    );
    assert!(matches!(
        h.cmd(CommandId::ENTER_PASSWORD, &0x1234_5678u32.to_be_bytes()),
        Outcome::Ok(_)
    ));
    h.flash(Version::new(2, 0, 0), &body(10, 0), false).unwrap();
    assert_eq!(
        h.cmd(CommandId::CHANGE_PASSWORD, &[0x80, 0, 0, 0]),
        Outcome::Failed(0x42)
    );
}

#[test]
fn write_mechanism_limits_commands() {
    let mut p = Profile::DEFAULT;
    p.write_mechanism = write_mechanism::LPL;
    let mut h = Host::new(p);
    assert_eq!(
        h.flash(Version::new(2, 0, 0), &body(10, 0), true),
        Err(Outcome::Failed(0x41))
    );
    p.write_mechanism = write_mechanism::EPL;
    let mut h = Host::new(p);
    assert_eq!(
        h.flash(Version::new(2, 0, 0), &body(10, 0), false),
        Err(Outcome::Failed(0x41))
    );
    h.flash(Version::new(2, 0, 0), &body(10, 0), true).unwrap();
}

#[test]
fn busy_phases_and_foreground_nack() {
    let mut p = Profile::DEFAULT;
    p.busy_us.other = 10_000;
    let mut h = Host::new(p);
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.byte(37), 0x81);
    h.now += 1_500_000;
    assert_eq!(h.byte(37), 0x82);
    h.now += 3_000_000;
    assert_eq!(h.byte(37), 0x83);
    // Stored (the default), no second command.
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.m.counters().writes_while_busy, 1);
    assert_eq!(h.m.counters().commands, 1);
    h.now += 6_000_000;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.m.counters().busy_ns, 10_000_000);

    p.background = false;
    let mut h = Host::new(p);
    assert_eq!(h.read(1, 163, 1).unwrap()[0] & 0x20, 0);
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.read(0, 37, 1), Err(BusError::Nack));
    h.now += 10 * MS;
    assert_eq!(h.byte(37), 0x01);
}

#[test]
fn profile_changes_keep_the_running_state() {
    let mut h = Host::new(Profile::DEFAULT);
    h.flash(Version::new(2, 0, 0), &body(100, 0), false)
        .unwrap();
    let mut p = Profile::DEFAULT;
    p.revision = 0x40;
    p.identifier = 0x19;
    p.epl_pages_code = 3;
    h.m.set_profile(p).unwrap();
    assert_eq!(h.read(0, 0, 2).unwrap(), [0x19, 0x40]);
    assert_eq!(h.read(1, 163, 1).unwrap()[0], 0x63);
    assert_eq!(h.read(1, 128, 2).unwrap(), [2, 0], "inactive version kept");
    assert_eq!(h.byte(3), 0x07);
    p.epl_pages_code = 9;
    assert!(h.m.set_profile(p).is_err());
}

#[test]
fn bus_time_follows_the_rate() {
    let mut p = Profile::DEFAULT;
    p.bus_hz = 400_000;
    let mut m = Module::new(p, Version::new(1, 0, 0), 0);
    let mut buf = [0u8; 126];
    // Write: device address, offset, 126 data bytes: 128 bytes * 9 bits
    // / 400 kHz = 2.88 ms.
    let cost = m.write(0, &Access::new(0x9F, 130, 126), &buf).unwrap();
    assert_eq!(cost, 2_880_000);
    // Random read: device address, offset, device address again after
    // the repeated start, 126 data bytes: 129 * 9 / 400 kHz = 2.9025 ms.
    let cost = m.read(0, &Access::new(0x9F, 130, 126), &mut buf).unwrap();
    assert_eq!(cost, 2_902_500);
    // One byte: 4 * 9 / 400 kHz = 90 us.
    let cost = m.read(0, &Access::new(0, 37, 1), &mut buf[..1]).unwrap();
    assert_eq!(cost, 90_000);
    assert_eq!(m.counters().bus_ns, 2_880_000 + 2_902_500 + 90_000);
    // A refused access costs nothing and is not counted.
    assert!(m
        .read(0, &Access::new(0x9F, 255, 2), &mut buf[..2])
        .is_err());
    assert_eq!(m.counters().bus_ns, 2_880_000 + 2_902_500 + 90_000);

    p.bus_hz = 0;
    m.set_profile(p).unwrap();
    assert_eq!(
        m.read(0, &Access::new(0, 37, 1), &mut buf[..1]),
        Ok(0),
        "instant"
    );
}

#[test]
fn request_counters_add_up_and_clear() {
    let mut h = Host::new(Profile::DEFAULT);
    h.m.count_request(1_500);
    h.m.count_request(500);
    assert_eq!(
        (h.m.counters().requests, h.m.counters().request_ns),
        (2, 2_000)
    );
    h.read(0, 0, 1).unwrap();
    assert_eq!(h.m.counters().requests, 2, "the model counts transactions");
    h.m.clear_counters();
    assert_eq!((h.m.counters().requests, h.m.counters().request_ns), (0, 0));
}

#[test]
fn a_picked_request_fails_once_with_its_errno() {
    for (kind, errno) in RequestFault::ALL.into_iter().zip([
        Some(Errno::EIO),
        Some(Errno::ENODEV),
        Some(Errno::ETIMEDOUT),
        None,
    ]) {
        let mut h = Host::new(Profile::DEFAULT);
        h.m.faults.fail_request = 3;
        h.m.faults.fail_request_error = kind;
        assert_eq!(h.m.take_request_fault(), None);
        assert_eq!(h.m.take_request_fault(), None);
        let fault = h.m.take_request_fault().expect("the third request fails");
        assert_eq!(fault, kind);
        assert_eq!(fault.bus_error().map(BusError::errno), errno);
        if let Some(errno) = errno {
            assert_eq!(RequestFault::from_errno(errno), Some(kind));
        }
        assert_eq!(h.m.faults.fail_request, 0, "nothing left: the flash made 3");
        assert_eq!(h.m.take_request_fault(), None, "once");
        assert_eq!(h.m.counters().errors, 1);
    }
    assert_eq!(RequestFault::from_errno(Errno::EINVAL), None);
    assert_eq!(RequestFault::short_read_len(1), 0);
    assert_eq!(RequestFault::short_read_len(8), 4);
}

#[test]
fn run_resets_with_downtime_and_ready_delay() {
    let mut p = Profile::DEFAULT;
    p.reset_ms = 500;
    p.ready_ms = 200;
    let mut h = Host::new(p);
    h.flash(Version::new(2, 0, 0), &body(100, 0), false)
        .unwrap();
    let c = Command::new(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 100], 0).unwrap();
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.byte(37), 0x01, "success before the delayed reset");
    assert!(h.m.reset_pending(), "the reset waits its delay");
    h.now += 100 * MS;
    assert_eq!(h.read(0, 3, 1), Err(BusError::Nack));
    assert!(!h.m.reset_pending(), "resetting");
    h.now += 499 * MS;
    assert_eq!(h.read(0, 3, 1), Err(BusError::Nack));
    h.now += MS;
    assert_eq!(h.byte(3), 0x03, "LowPwr");
    assert_eq!(h.byte(37), 0x00, "volatile registers reset");
    h.now += 200 * MS;
    assert_eq!(h.byte(3), 0x07);
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0]);
}

#[test]
fn hitless_run_keeps_management_up() {
    let mut p = Profile::DEFAULT;
    p.reset_ms = 500;
    p.hitless_restart = true;
    let mut h = Host::new(p);
    h.flash(Version::new(2, 0, 0), &body(100, 0), false)
        .unwrap();
    assert!(matches!(h.run_mode(1), Outcome::Ok(_)));
    assert_eq!(h.m.counters().errors, 0, "never unavailable");
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0]);
}

#[test]
fn injected_faults() {
    // Fail only a given command, N times, with a given code.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.faults.fail_count = 2;
    h.m.faults.fail_command = Some(0x0103);
    h.m.faults.fail_code = 0x02;
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    assert_eq!(
        h.flash(Version::new(2, 0, 0), &body(300, 0), false),
        Err(Outcome::Failed(0x42))
    );
    assert_eq!(h.m.faults.fail_count, 1);

    // A command that never completes.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.faults.hang_next = true;
    h.m.faults.hang_command = Some(0x0040);
    assert!(matches!(
        h.cmd(CommandId::FW_MGMT_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    assert_eq!(h.cmd(CommandId::MODULE_FEATURES, &[]), Outcome::Timeout);
    h.m.hard_reset(h.now);
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));

    // Corrupt reply length and check code, once each.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.faults.corrupt_reply_len = 1;
    h.m.faults.corrupt_reply_chk = 1;
    let Outcome::Ok(r) = h.cmd(CommandId::FW_MGMT_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r.len(), 19);
    assert_ne!(h.read(CDB_PAGE, 135, 1).unwrap()[0], 0x29);
    let Outcome::Ok(r) = h.cmd(CommandId::FW_MGMT_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r.len(), 18);
    assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap()[0], 0x29);

    // NACK for a while.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.faults.nack_until = h.now + 5 * MS;
    assert_eq!(h.read(0, 0, 1), Err(BusError::Nack));
    h.now += 5 * MS;
    assert_eq!(h.byte(0), 0x18);

    // Unplugged mid-download, plugged back: committed image runs.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.unplug();
    assert_eq!(h.read(0, 0, 1), Err(BusError::Unplugged));
    h.m.plug(h.now);
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0]);

    // Slow Ready after Run.
    let mut h = Host::new(Profile::DEFAULT);
    h.flash(Version::new(2, 0, 0), &body(100, 0), false)
        .unwrap();
    h.m.faults.slow_ready_ms = 3000;
    let start = h.now;
    assert!(matches!(h.run_image(), Outcome::Ok(_)));
    assert!(h.now - start >= 3000 * MS);

    // Power loss during a block write.
    let mut h = Host::new(Profile::DEFAULT);
    h.m.faults.power_loss_on_write = true;
    let r = h.flash(Version::new(2, 0, 0), &body(300, 0), false);
    assert!(r.is_err());
    assert!(h.wait_ready());
    assert!(!h.m.firmware().bank(BankId::B).valid);
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0]);
    assert_eq!(h.m.counters().resets, 1, "the power loss");
}

#[test]
fn accesses_are_validated() {
    let mut h = Host::new(Profile::DEFAULT);
    assert_eq!(h.read(0x02, 128, 1), Ok(std::vec![0]));
    assert_eq!(h.read(0x03, 128, 1), Err(BusError::UnsupportedPage));
    assert_eq!(h.read(0x12, 128, 1), Err(BusError::UnsupportedPage));
    let mut buf = [0u8; 1];
    assert_eq!(
        h.m.read(
            h.now,
            &Access {
                bank: 1,
                ..Access::new(0x9F, 128, 1)
            },
            &mut buf
        ),
        Err(BusError::UnsupportedPage),
        "one CDB instance"
    );
    assert!(matches!(h.read(0, 127, 2), Err(BusError::Invalid(_))));
    let mut p = Profile::DEFAULT;
    p.rw_len_ext = 0;
    let mut h = Host::new(p);
    assert!(matches!(
        h.write(0xA0, 128, &[0; 9]),
        Err(BusError::Invalid(_))
    ));
    assert!(h.write(0xA0, 128, &[0; 8]).is_ok());
    assert_eq!(h.m.counters().errors, 1);
}

#[test]
fn command_log_keeps_the_last_commands() {
    let mut h = Host::new(Profile::DEFAULT);
    assert_eq!(h.m.log().count(), 0);
    for _ in 0..3 {
        h.cmd(CommandId::MODULE_FEATURES, &[]);
    }
    assert_eq!(h.m.log().count(), 3, "a ring not yet full");
    for _ in 3..40 {
        h.cmd(CommandId::MODULE_FEATURES, &[]);
    }
    h.cmd(CommandId(0x0050), &[]);
    let log: std::vec::Vec<_> = h.m.log().collect();
    assert_eq!(log.len(), LOG_LEN);
    assert_eq!(log.last().unwrap().id, 0x0050);
    assert_eq!(log.last().unwrap().status, 0x41);
    assert_eq!(h.m.counters().commands, 41);
    assert_eq!(h.m.counters().commands_failed, 1);
    assert_eq!(h.m.counters().by_command[4], 40, "0040h");
    assert_eq!(
        h.m.counters().by_command[COUNTED_COMMANDS.len()],
        1,
        "other"
    );
    assert_eq!(h.m.counters().by_status[0], 40);
    assert_eq!(h.m.counters().by_status[2], 1, "41h");
}

/// What an access past the end of its page (or pages) gets.
const TOO_LONG: BusError = BusError::Invalid(AccessError::OutOfBounds);

/// A profile with auto paging and the longest EPL transactions (2048
/// bytes).
fn auto_paged() -> Profile {
    Profile {
        auto_paging: true,
        rw_len_ext: 255,
        ..Profile::DEFAULT
    }
}

#[test]
fn auto_paging_is_advertised() {
    let mut h = Host::new(auto_paged());
    assert_eq!(h.read(1, 163, 2).unwrap(), [0x77, 0xFF]);
    let mut h = Host::new(Profile::DEFAULT);
    assert_eq!(h.read(1, 163, 1).unwrap()[0] & 0x10, 0);
}

#[test]
fn one_long_epl_access_wraps_across_pages() {
    let mut h = Host::new(auto_paged());
    let data = body(2048, 5);
    // One write transaction of all 16 pages, one read back.
    h.write(0xA0, 128, &data).unwrap();
    assert_eq!(h.read(0xA0, 128, 2048).unwrap(), data);
    assert_eq!(h.m.counters().writes, 1);
    // Each page holds its share: byte 128 of A1h follows byte 255 of A0h.
    assert_eq!(h.read(0xA1, 128, 128).unwrap(), data[128..256]);
    assert_eq!(h.read(0xAF, 128, 128).unwrap(), data[1920..]);
    // From the middle of a page, on into the next ones.
    let more = body(300, 9);
    h.write(0xA3, 200, &more).unwrap();
    assert_eq!(h.read(0xA3, 200, 56).unwrap(), more[..56]);
    assert_eq!(h.read(0xA4, 128, 128).unwrap(), more[56..184]);
    assert_eq!(h.read(0xA5, 128, 116).unwrap(), more[184..]);
    assert_eq!(h.read(0xA5, 244, 12).unwrap(), data[5 * 128 + 116..6 * 128]);
    // Up to the last byte of AFh.
    h.write(0xAF, 255, &[7]).unwrap();
    assert_eq!(h.read(0xAE, 250, 134).unwrap()[133], 7);
}

#[test]
fn epl_page_wrap_needs_auto_paging() {
    let mut p = auto_paged();
    p.auto_paging = false;
    let mut h = Host::new(p);
    let data = body(2048, 5);
    assert_eq!(h.write(0xA0, 128, &data), Err(TOO_LONG));
    assert_eq!(h.write(0xA0, 200, &data[..57]), Err(TOO_LONG));
    assert_eq!(h.read(0xA0, 128, 129), Err(TOO_LONG));
    assert_eq!(h.read(0xA1, 128, 128).unwrap(), [0; 128], "nothing written");
    // Within a page all is as before.
    h.write(0xA0, 200, &data[..56]).unwrap();
    assert_eq!(h.read(0xA0, 200, 56).unwrap(), data[..56]);
}

#[test]
fn auto_paging_stops_at_afh_and_at_the_length_limit() {
    let mut h = Host::new(auto_paged());
    assert_eq!(h.write(0xAF, 200, &[1; 57]), Err(TOO_LONG), "past AFh");
    assert_eq!(h.write(0xA8, 128, &[1; 1025]), Err(TOO_LONG), "past AFh");
    h.write(0xA8, 128, &[1; 1024]).unwrap();
    // The other pages keep the 256-byte bound.
    assert_eq!(h.read(0x01, 200, 57), Err(TOO_LONG));
    assert_eq!(h.read(0x9F, 200, 57), Err(TOO_LONG));
    assert_eq!(h.read(0x00, 100, 29), Err(TOO_LONG), "lower memory");
    // 8 * (1 + 15) = 128 bytes per transaction.
    let mut p = auto_paged();
    p.rw_len_ext = 15;
    let mut h = Host::new(p);
    assert_eq!(h.write(0xA0, 200, &[1; 129]), Err(TOO_LONG));
    h.write(0xA0, 200, &[1; 128]).unwrap();
    assert_eq!(h.read(0xA0, 200, 129), Err(TOO_LONG));
    assert_eq!(h.read(0xA1, 128, 72).unwrap(), [1; 72]);
    // Only the pages the module has: A0h-A3h with CdbMaxPagesEPL 4.
    let mut p = auto_paged();
    p.epl_pages_code = 4;
    let mut h = Host::new(p);
    h.write(0xA2, 128, &[1; 256]).unwrap();
    assert_eq!(h.write(0xA3, 200, &[1; 57]), Err(BusError::UnsupportedPage));
    assert_eq!(h.m.counters().errors, 1);
}

#[test]
fn requests_split_into_transactions() {
    // 8 * (1 + 9) = 80-byte transactions.
    let mut p = auto_paged();
    p.rw_len_ext = 9;
    let mut h = Host::new(p);
    let chunks: std::vec::Vec<_> =
        h.m.transactions(&Access::new(0xA0, 128, 2048))
            .unwrap()
            .collect();
    assert_eq!(chunks.len(), 26);
    assert_eq!(chunks[0], (Access::new(0xA0, 128, 80), 0..80));
    assert_eq!(chunks[1], (Access::new(0xA0, 208, 80), 80..160), "wraps");
    assert_eq!(chunks[2], (Access::new(0xA1, 160, 80), 160..240));
    assert_eq!(chunks[25], (Access::new(0xAF, 208, 48), 2000..2048));
    let mut data = body(2048, 3);
    h.request(&Access::new(0xA0, 128, 2048), &mut data, true)
        .unwrap();
    let mut back = std::vec![0u8; 2048];
    h.request(&Access::new(0xA0, 128, 2048), &mut back, false)
        .unwrap();
    assert_eq!(back, data);

    // 9Fh by the LPL limit; lower memory and other pages whole.
    let split = |m: &Module, a: Access| -> std::vec::Vec<usize> {
        m.transactions(&a).unwrap().map(|(t, _)| t.len).collect()
    };
    assert_eq!(split(&h.m, Access::new(0x9F, 130, 126)), [80, 46]);
    assert_eq!(split(&h.m, Access::new(0x00, 0, 128)), [128]);
    assert_eq!(split(&h.m, Access::new(0x01, 128, 128)), [128]);

    // A request the module can never take is refused whole, before any
    // transaction: no partial write.
    p.auto_paging = false;
    let h = Host::new(p);
    let whole = h.m.transactions(&Access::new(0xA0, 128, 2048));
    assert_eq!(whole.err(), Some(TOO_LONG));
    assert_eq!(
        h.m.transactions(&Access::new(0x03, 128, 8)).err(),
        Some(BusError::UnsupportedPage)
    );
    let mut p = auto_paged();
    p.epl_pages_code = 4;
    let h = Host::new(p);
    assert_eq!(
        h.m.transactions(&Access::new(0xA0, 128, 640)).err(),
        Some(BusError::UnsupportedPage),
        "A4h is missing"
    );
}

#[test]
fn second_cdb_instance_runs_commands_in_bank_1() {
    let mut p = Profile::DEFAULT;
    p.cdb_instances = 2;
    let mut h = Host::new(p);
    assert_eq!(h.read(1, 163, 1).unwrap()[0] >> 6, 2, "two instances");
    h.cdb_bank = 1;
    let Outcome::Ok(r) = h.cmd(CommandId::MODULE_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r.len(), 36);
    assert_eq!(h.byte(38), 0x01, "instance 2 status");
    assert_eq!(h.byte(37), 0x00, "instance 1 untouched");
    assert_eq!(h.byte(8) & 0xC0, 0x80, "instance 2 completion flag");
    assert_eq!(h.m.log().last().unwrap().id, 0x0040);
    // The reply is in bank 1 of 9Fh only.
    h.cdb_bank = 0;
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 0);
    h.cdb_bank = 1;
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 36);
    // Firmware download through instance 2, EPL pages of bank 1.
    h.flash(Version::new(4, 0, 1), &body(5000, 6), true)
        .unwrap();
    assert_eq!(
        h.m.firmware().bank(BankId::B).version,
        Version::new(4, 0, 1)
    );
    assert_eq!(h.byte(37), 0x00, "instance 1 never used");
}

#[test]
fn cdb_instances_work_independently() {
    let mut p = Profile::DEFAULT;
    p.cdb_instances = 2;
    p.busy_us.other = 10_000;
    let mut h = Host::new(p);
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    let d = Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap();
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    h.now += 4 * MS;
    h.cdb_bank = 1;
    h.write(CDB_PAGE, 130, d.body()).unwrap();
    h.write(CDB_PAGE, 128, d.trigger()).unwrap();
    assert_eq!(h.read(0, 37, 2).unwrap(), [0x83, 0x81], "both busy");
    h.write(CDB_PAGE, 128, d.trigger()).unwrap();
    assert_eq!(h.m.counters().writes_while_busy, 1, "instance 2 busy");
    assert_eq!(h.m.counters().commands, 2);
    h.now += 7 * MS;
    assert_eq!(h.read(0, 37, 2).unwrap(), [0x01, 0x83]);
    assert_eq!(h.byte(8) & 0xC0, 0x40);
    h.now += 4 * MS;
    assert_eq!(h.read(0, 37, 2).unwrap(), [0x01, 0x01]);
    assert_eq!(h.byte(8) & 0xC0, 0x80);
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 18, "0041h reply");
    h.cdb_bank = 0;
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 36, "0040h reply");
    let ids: std::vec::Vec<_> = h.m.log().map(|e| e.id).collect();
    assert_eq!(ids, [0x0040, 0x0041]);
    // A reset ends both.
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert!(h.m.busy());
    h.m.hard_reset(h.now);
    assert!(!h.m.busy());
}

#[test]
fn a_command_finishing_before_a_pending_reset_reports_its_status() {
    let mut p = Profile::DEFAULT;
    p.cdb_instances = 2;
    p.busy_us.other = 10_000;
    p.reset_ms = 100;
    let mut h = Host::new(p);
    h.flash(Version::new(2, 0, 0), &body(100, 0), false)
        .unwrap();
    // Run with a 50 ms DelayToReset on instance 1; a 10 ms command on
    // instance 2 meanwhile. The host looks again only after the reset.
    let run = Command::new(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 50], 0).unwrap();
    h.write(CDB_PAGE, 130, run.body()).unwrap();
    h.write(CDB_PAGE, 128, run.trigger()).unwrap();
    h.cdb_bank = 1;
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    h.now += 200 * MS;
    assert!(h.wait_ready());
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0], "the Run happened");
    assert_eq!(h.m.counters().commands_ok, 5, "0040h finished first");
}

#[test]
fn images_are_set_up_directly() {
    use firmware::{ImageUpdate, Slot};
    let mut h = Host::new(Profile::DEFAULT);
    let set = |h: &mut Host, slot, s| h.m.update_image(slot, &ImageUpdate::parse(s).unwrap());
    set(
        &mut h,
        Slot::Bank(BankId::B),
        "valid=1 version=2.1.7 text=two",
    )
    .unwrap();
    assert_eq!(h.read(1, 128, 2).unwrap(), [2, 1], "inactive version");
    set(
        &mut h,
        Slot::Factory,
        "valid=1 version=0.9.3 text=\"the factory\"",
    )
    .unwrap();
    let Outcome::Ok(info) = h.cmd(CommandId::GET_FW_INFO, &[]) else {
        panic!()
    };
    assert_eq!(info[0], 0x03, "A running and committed, B valid");
    assert_eq!(info[1], 0x07, "A, B and factory valid");
    assert_eq!(&info[38..45], &[2, 1, 0, 7, b't', b'w', b'o']);
    assert_eq!(&info[74..89], b"\x00\x09\x00\x03the factory");

    // The running bank changes at a reset only.
    assert!(set(&mut h, Slot::Bank(BankId::B), "running=1").is_err());
    assert!(set(&mut h, Slot::Bank(BankId::A), "valid=0").is_err());
    set(&mut h, Slot::Bank(BankId::A), "version=1.5.0").unwrap();
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 5], "active version");
    set(&mut h, Slot::Bank(BankId::B), "committed=1").unwrap();
    assert_eq!(h.read(0, 39, 2).unwrap(), [1, 5], "still running A");
    h.m.hard_reset(h.now);
    assert!(h.wait_ready());
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 1], "B runs after the reset");
    assert_eq!(h.read(1, 128, 2).unwrap(), [1, 5]);

    // An invalid inactive bank is no inactive version.
    set(&mut h, Slot::Bank(BankId::A), "valid=0").unwrap();
    assert_eq!(h.read(1, 128, 2).unwrap(), [0, 0]);
    let Outcome::Ok(info) = h.cmd(CommandId::GET_FW_INFO, &[]) else {
        panic!()
    };
    assert_eq!(info[0], 0x34, "A invalid; B running and committed");
    assert_eq!(info[1], 0x06);
}

#[derive(Clone, Debug)]
enum Op {
    Read {
        page: u8,
        bank: u8,
        offset: u8,
        len: usize,
    },
    Write {
        page: u8,
        bank: u8,
        offset: u8,
        data: std::vec::Vec<u8>,
    },
    Wait(u32),
    HardReset,
    Unplug,
    Plug,
}

fn page() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![Just(0u8), Just(1), Just(0x9F), 0xA0u8..=0xAF, any::<u8>()]
}

/// Mostly within a page, sometimes up to the longest EPL access and more.
fn length() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![3 => 0usize..300, 1 => 0usize..2100]
}

/// Default profiles with and without auto paging and a second CDB
/// instance, with a random length extension.
fn profile() -> impl Strategy<Value = Profile> {
    (
        any::<bool>(),
        1u8..=2,
        prop_oneof![Just(15u8), Just(255), any::<u8>()],
    )
        .prop_map(|(auto_paging, cdb_instances, rw_len_ext)| Profile {
            auto_paging,
            cdb_instances,
            rw_len_ext,
            ..Profile::DEFAULT
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (page(), 0u8..3, any::<u8>(), length()).prop_map(|(page, bank, offset, len)| Op::Read {
            page,
            bank,
            offset,
            len
        }),
        (
            page(),
            0u8..3,
            any::<u8>(),
            length().prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
        )
            .prop_map(|(page, bank, offset, data)| Op::Write {
                page,
                bank,
                offset,
                data
            }),
        (0u32..5_000_000).prop_map(Op::Wait),
        Just(Op::HardReset),
        Just(Op::Unplug),
        Just(Op::Plug),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a host writes, the model never panics, never reads or
    /// writes out of bounds, and always runs a valid image.
    #[test]
    fn random_host_traffic_is_harmless(
        p in profile(),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let mut p = p;
        p.busy_us.write = 300;
        p.reset_ms = 2;
        let mut m = Module::new(p, Version::new(1, 0, 0), 0);
        let mut now: Nanos = 0;
        for op in ops {
            match op {
                Op::Read { page, bank, offset, len } => {
                    let mut buf = std::vec![0u8; len];
                    let a = Access { bank, ..Access::new(page, offset, len) };
                    let _ = m.read(now, &a, &mut buf);
                }
                Op::Write { page, bank, offset, data } => {
                    let a = Access { bank, ..Access::new(page, offset, data.len()) };
                    let _ = m.write(now, &a, &data);
                }
                Op::Wait(ns) => now += u64::from(ns),
                Op::HardReset => m.hard_reset(now),
                Op::Unplug => m.unplug(),
                Op::Plug => m.plug(now),
            }
            let fw = m.firmware();
            prop_assert!(fw.bank(fw.running).valid);
        }
    }

    /// Every request the module takes is split into transactions that
    /// cover it exactly, in order, each short enough and accepted by an
    /// idle module; what is written to the EPL pages reads back.
    #[test]
    fn accepted_requests_are_carried_out_whole(
        p in profile(),
        page in page(),
        bank in 0u8..3,
        offset in any::<u8>(),
        len in length(),
    ) {
        let mut h = Host::new(p);
        let request = Access { bank, ..Access::new(page, offset, len) };
        let Ok(transactions) = h.m.transactions(&request) else {
            // Refused whole: then no single transaction is accepted either.
            let mut buf = std::vec![0u8; len];
            prop_assert!(h.m.read(h.now, &request, &mut buf).is_err());
            return Ok(());
        };
        let mut next = 0;
        for (a, r) in transactions {
            prop_assert_eq!(r.start, next);
            prop_assert_eq!(a.len, r.len());
            prop_assert!(a.len <= h.m.max_access_len(a.page) || a.offset < 128);
            next = r.end;
        }
        prop_assert_eq!(next, len);
        let mut data = body(len, offset);
        h.request(&request, &mut data, true).unwrap();
        let mut back = std::vec![0u8; len];
        h.request(&request, &mut back, false).unwrap();
        if offset >= 128 && is_epl_page(page) {
            prop_assert_eq!(back, data);
        }
    }

    /// Random command messages with valid check codes: every one ends in
    /// a status, and the running image stays valid.
    #[test]
    fn random_commands_complete(cmds in proptest::collection::vec(
        (prop_oneof![0u16..0x50, 0x0100u16..0x0110, any::<u16>()],
         proptest::collection::vec(any::<u8>(), 0..120), 0usize..=2048), 1..60)) {
        let mut h = Host::new(Profile::DEFAULT);
        for (id, lpl, epl) in cmds {
            let c = Command::new(CommandId(id), &lpl, epl).unwrap();
            let o = h.run(&c, &[]);
            prop_assert!(!matches!(o, Outcome::Timeout | Outcome::Bus(BusError::Invalid(_))), "{:?}", o);
            h.wait_ready();
            let fw = h.m.firmware();
            prop_assert!(fw.bank(fw.running).valid);
        }
    }
}

/// The named profiles, with a random number of instances, busy-write
/// policy, seed and one-shot faults.
fn quirky_profile() -> impl Strategy<Value = (Profile, Faults)> {
    (
        0..Profile::NAMES.len(),
        1u8..=2,
        any::<bool>(),
        any::<u32>(),
        (0u8..2, 0u32..3, 0u32..3),
    )
        .prop_map(
            |(i, cdb_instances, refused, seed, (fault, triggers, glitches))| {
                let mut p = Profile::by_name(Profile::NAMES[i]).unwrap();
                p.cdb_instances = cdb_instances;
                p.quirks.seed = seed;
                if refused {
                    p.quirks.busy_writes = BusyWrites::Refused;
                }
                p.busy_us.start = 1_000;
                p.reset_ms = 2;
                let faults = Faults {
                    fault_on_reset: fault,
                    trigger_nacks: triggers,
                    glitch_reply_chk: glitches,
                    ..Faults::default()
                };
                (p, faults)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The quirks keep the model's promises: whatever a host does, no
    /// panic, a valid running image, counters that add up.
    #[test]
    fn random_traffic_on_quirky_modules_is_harmless(
        (p, faults) in quirky_profile(),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let mut m = Module::new(p, Version::new(1, 0, 0), 0);
        m.faults = faults;
        let mut now: Nanos = 0;
        for op in ops {
            match op {
                Op::Read { page, bank, offset, len } => {
                    let mut buf = std::vec![0u8; len];
                    let a = Access { bank, ..Access::new(page, offset, len) };
                    if let Ok(cost) = m.read(now, &a, &mut buf) {
                        now += cost;
                    }
                }
                Op::Write { page, bank, offset, data } => {
                    let a = Access { bank, ..Access::new(page, offset, data.len()) };
                    if let Ok(cost) = m.write(now, &a, &data) {
                        now += cost;
                    }
                }
                Op::Wait(ns) => now += u64::from(ns),
                Op::HardReset => m.hard_reset(now),
                Op::Unplug => m.unplug(),
                Op::Plug => m.plug(now),
            }
            let fw = m.firmware();
            prop_assert!(fw.bank(fw.running).valid);
            prop_assert!(fw.bank(fw.committed).valid);
            let c = m.counters();
            prop_assert!(c.nacks <= c.errors);
            prop_assert!(c.commands_ok + c.commands_failed <= c.commands);
        }
    }
}

#[test]
fn failure_codes_are_described() {
    assert_eq!(firmware::FAILURE_IMAGE_CORRUPT.status_byte(), 0x71);
    assert_eq!(
        Failure(0x31).message(),
        "command failed (vendor specific code)"
    );
}

#[test]
fn hang_only_the_chosen_command() {
    let mut p = Profile::DEFAULT;
    p.max_completion_ms = 500;
    let mut h = Host::new(p);
    h.m.faults.hang_command = Some(0x0041);
    h.m.faults.hang_next = true;
    let Outcome::Ok(r) = h.cmd(CommandId::MODULE_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r.len(), 36);
    assert_eq!(h.cmd(CommandId::FW_MGMT_FEATURES, &[]), Outcome::Timeout);
}

// Quirks: behaviours the specification allows that hosts find
// inconvenient (see `Documentation/emulator.rst`, "Quirks").

const US: Nanos = 1_000;

impl Host {
    /// Writes `c` (body, then trigger) without waiting.
    fn send(&mut self, c: &Command) {
        self.write(CDB_PAGE, 130, c.body()).unwrap();
        self.write(CDB_PAGE, 128, c.trigger()).unwrap();
    }
}

/// [`Profile::DEFAULT`] (instant bus) with `quirks` and 1 ms commands.
fn quirky(quirks: Quirks) -> Profile {
    let mut p = Profile {
        quirks,
        ..Profile::DEFAULT
    };
    p.busy_us.other = 1_000;
    p
}

#[test]
fn named_profiles_are_valid_and_found_by_name() {
    for (i, name) in Profile::NAMES.iter().enumerate() {
        let p = Profile::by_name(name).unwrap_or_else(|| panic!("{name}"));
        p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!Profile::NAMES[..i].contains(name), "{name} twice");
    }
    assert_eq!(Profile::by_name("default"), Some(Profile::DEFAULT));
    assert_eq!(Profile::by_name("hostile"), Some(Profile::HOSTILE));
    assert_eq!(Profile::by_name("Hostile"), None);
    assert_eq!(Profile::by_name(""), None);
    // The values the documentation gives.
    assert_eq!(Profile::LAGGY.revision, 0x40);
    assert_eq!(Profile::LAGGY.quirks.status_lag_us, 300);
    assert_eq!(Profile::LAGGY_5MS.quirks.status_lag_us, 5_000);
    assert_eq!(Profile::LATE_RESET.quirks.reset_extra_ms, 200);
    assert_eq!(Profile::LATE_RESET_1S.quirks.reset_extra_ms, 1_000);
    assert_eq!(Profile::LATE_RESET_1S.quirks, {
        let mut q = Profile::LATE_RESET.quirks;
        q.reset_extra_ms = 1_000;
        q
    });
    assert_eq!(Profile::MAILBOX_DRIVER.driver.max_transfer, 48);
    assert_eq!(Profile::MAILBOX_DRIVER.driver.transfer_us, 1_000);
    // The quirks are the DEFAULT's but for the stored busy writes, which
    // are the default too.
    assert_eq!(Quirks::default(), Quirks::NONE);
    assert_eq!(Profile::DEFAULT.quirks.busy_writes, BusyWrites::Stored);
    let mut bad = Profile::NACK_BUSY;
    bad.quirks.nack_busy_permille = 1001;
    assert!(bad.validate().is_err());
}

#[test]
fn status_lag_shows_what_was_there_before() {
    let mut h = Host::new(quirky(Quirks {
        status_lag_us: 300,
        ..Quirks::NONE
    }));
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    // The host leaves the flag latched; then sends an unknown command.
    h.send(&Command::new(CommandId(0x7777), &[], 0).unwrap());
    let t0 = h.now;
    h.now = t0 + 299 * US;
    assert_eq!(h.byte(37), 0x01, "the previous command's status");
    assert_eq!(h.byte(8) & 0x40, 0x40, "the flag as it was");
    h.now = t0 + 300 * US;
    assert_eq!(h.byte(37), 0x83, "busy, 30% into its 1 ms");
    h.now = t0 + 999 * US;
    assert_eq!(h.byte(8) & 0x40, 0, "cleared when the command showed");
    h.now = t0 + 1_000 * US;
    assert_eq!(h.byte(37), 0x41);
    assert_eq!(h.byte(8) & 0x40, 0x40);

    // A command shorter than the lag is reported when the status shows
    // it at all: the host never sees it busy.
    let mut p = h.m.profile;
    p.busy_us.other = 0;
    h.m.set_profile(p).unwrap();
    h.send(&Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap());
    let t0 = h.now;
    h.now = t0 + 299 * US;
    assert_eq!(h.byte(37), 0x41, "still the previous status");
    h.now = t0 + 300 * US;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.m.counters().busy_ns, (1_000 + 1_000 + 300) * US);
}

#[test]
fn reports_and_flags_may_come_late() {
    let mut h = Host::new(quirky(Quirks {
        report_delay_us: 500,
        flag_delay_us: 700,
        ..Quirks::NONE
    }));
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    let t0 = h.now;
    h.now = t0 + 1_000 * US;
    assert_eq!(h.byte(37), 0x83, "the engine is done...");
    assert_eq!(
        h.read(CDB_PAGE, 134, 2).unwrap(),
        [18, 0x29],
        "...its reply in place"
    );
    h.now = t0 + 1_499 * US;
    assert_eq!(h.byte(37), 0x83);
    h.now = t0 + 1_500 * US;
    assert_eq!(h.byte(37), 0x01, "reported");
    assert_eq!(h.byte(8) & 0x40, 0, "the flag follows");
    h.now = t0 + 2_199 * US;
    assert_eq!(h.byte(8) & 0x40, 0);
    h.now = t0 + 2_200 * US;
    assert_eq!(h.byte(8) & 0x40, 0x40);

    // A host that goes on at the status gets the next command's flag
    // only: the late one is dropped by the new trigger.
    h.send(&Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap());
    let t1 = h.now;
    h.now = t1 + 1_500 * US;
    assert_eq!(h.byte(37), 0x01);
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.now = t1 + 2_300 * US;
    assert_eq!(h.byte(8) & 0x40, 0, "not the previous command's flag");
    h.now = t1 + 1_500 * US + 2_200 * US;
    assert_eq!(h.byte(8) & 0x40, 0x40);
    assert_eq!(h.m.counters().writes_while_busy, 0);
}

#[test]
fn writes_into_a_busy_instance_are_stored_and_change_the_command() {
    let mut p = quirky(Quirks::NONE);
    p.busy_us.other = 10_000;
    p.cdb_instances = 2;
    let mut h = Host::new(p);
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.now += MS;
    // The host sends another command while the first one runs: stored,
    // and executed instead of the first, as the engine reads its message
    // area when it executes.
    let other = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    h.send(&other);
    assert_eq!(h.m.counters().writes_while_busy, 2);
    assert_eq!(h.m.counters().commands, 1, "no second command");
    h.now += 10 * MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 36, "0040h's reply");
    assert_eq!(h.m.log().last().unwrap().id, 0x0040, "what it executed");
    // A changed length breaks the check code.
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.write(CDB_PAGE, 132, &[1]).unwrap();
    h.now += 10 * MS;
    assert_eq!(h.byte(37), 0x45);
    assert_eq!(h.m.counters().writes_while_busy, 3);
    // Not counted: the other instance's pages, other pages.
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.cdb_bank = 1;
    h.write(CDB_PAGE, 130, other.body()).unwrap();
    h.write(0xA0, 128, &[1; 8]).unwrap();
    h.write(0, 122, &[0; 4]).unwrap();
    h.cdb_bank = 0;
    assert_eq!(h.m.counters().writes_while_busy, 3);
    h.write(0xA3, 128, &[1; 8]).unwrap();
    assert_eq!(h.m.counters().writes_while_busy, 4, "EPL pages too");

    // Refused: not acknowledged, counted all the same.
    p.quirks.busy_writes = BusyWrites::Refused;
    let mut h = Host::new(p);
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    assert_eq!(h.write(CDB_PAGE, 130, other.body()), Err(BusError::Nack));
    assert_eq!(h.write(0xA0, 128, &[1; 8]), Err(BusError::Nack));
    assert_eq!(h.read(CDB_PAGE, 130, 4).unwrap(), [0, 0, 0, 0xBE]);
    let c = h.m.counters();
    assert_eq!((c.writes_while_busy, c.nacks, c.errors), (2, 2, 2));
    h.now += 10 * MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.read(CDB_PAGE, 134, 1).unwrap()[0], 18, "0041h's reply");
}

#[test]
fn run_may_report_success_and_reset_late() {
    for (p, extra) in [(Profile::LATE_RESET, 200), (Profile::LATE_RESET_1S, 1_000)] {
        let mut h = Host::new(p);
        assert!(h.wait_ready());
        h.flash(Version::new(2, 0, 0), &body(3000, 1), true)
            .unwrap();
        let nacks = h.m.counters().nacks;
        h.byte(8);
        h.send(&Command::new(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 100], 0).unwrap());
        // The flag 10 ms (Run's busy time) after the trigger; the reset
        // DelayToReset (100 ms) and the extra delay later.
        let reset = h.now + (10 + 100 + extra) * MS;
        h.now = reset - MS;
        assert_eq!(h.byte(37), 0x01, "success");
        assert_eq!(h.byte(8) & 0x41, 0x40, "the flag, no state change");
        assert_eq!(h.byte(3), 0x07, "Ready as before");
        assert_eq!(h.read(0, 39, 2).unwrap(), [1, 0], "the old image");
        assert_eq!(h.m.counters().nacks, nacks, "no NACK");
        assert_eq!(h.m.counters().resets, 0);
        h.now = reset;
        assert_eq!(h.read(0, 3, 1), Err(BusError::Nack), "resetting");
        h.now = reset + 1_500 * MS;
        assert_eq!(h.byte(3), 0x03, "back, LowPwr");
        assert_eq!(h.byte(8) & 0x01, 0x01, "ModuleStateChanged");
        assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0]);
    }

    // Without `ready_until_reset` the module shows LowPwr while the reset
    // is pending.
    let mut p = Profile::LATE_RESET;
    p.quirks.ready_until_reset = false;
    let mut h = Host::new(p);
    assert!(h.wait_ready());
    h.flash(Version::new(2, 0, 0), &body(300, 1), true).unwrap();
    h.send(&Command::new(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 0], 0).unwrap());
    h.now += 100 * MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.byte(3), 0x03);
    assert_eq!(h.m.state(h.now), Some(ModuleState::LowPwr));
    h.now += 110 * MS;
    assert_eq!(h.read(0, 3, 1), Err(BusError::Nack));
}

#[test]
fn nack_windows_and_chances() {
    // The first 2 ms of every command.
    let mut h = Host::new(quirky(Quirks {
        nack_first_us: 2_000,
        ..Quirks::NONE
    }));
    let mut p = h.m.profile;
    p.busy_us.other = 10_000;
    h.m.set_profile(p).unwrap();
    h.send(&Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap());
    let t0 = h.now;
    assert_eq!(h.read(0, 37, 1), Err(BusError::Nack));
    h.now = t0 + 1_999 * US;
    assert_eq!(h.read(0, 0, 1), Err(BusError::Nack), "every access");
    h.now = t0 + 2_000 * US;
    assert_eq!(h.byte(37), 0x83);
    assert_eq!(h.m.counters().nacks, 2);

    // A chance per access while a command runs, repeatable by seed.
    let pattern = |seed: u32| {
        let mut h = Host::new(quirky(Quirks {
            nack_busy_permille: 300,
            seed,
            ..Quirks::NONE
        }));
        let idle: std::vec::Vec<bool> = (0..100).map(|_| h.read(0, 37, 1).is_err()).collect();
        assert!(!idle.contains(&true), "idle: never");
        let mut p = h.m.profile;
        p.busy_us.other = 1_000_000;
        h.m.set_profile(p).unwrap();
        h.send(&Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap());
        (0..1000)
            .map(|_| h.read(0, 37, 1).is_err())
            .collect::<std::vec::Vec<bool>>()
    };
    let a = pattern(7);
    let nacks = a.iter().filter(|&&n| n).count();
    assert!((200..400).contains(&nacks), "{nacks} NACKs in 1000");
    assert_eq!(a, pattern(7), "same seed, same NACKs");
    assert_ne!(a, pattern(8));

    // For a while after every reset, and at power-up.
    let mut p = quirky(Quirks {
        nack_after_reset_ms: 50,
        ..Quirks::NONE
    });
    p.reset_ms = 10;
    let mut h = Host::new(p);
    assert_eq!(h.read(0, 0, 1), Err(BusError::Nack), "power-up");
    h.now += 50 * MS;
    assert_eq!(h.byte(0), 0x18);
    h.m.hard_reset(h.now);
    let t0 = h.now;
    h.now = t0 + 59 * MS + 999 * US;
    assert_eq!(h.read(0, 0, 1), Err(BusError::Nack));
    h.now = t0 + 60 * MS;
    assert_eq!(h.byte(0), 0x18);
}

#[test]
fn trigger_nacks_drop_or_capture_the_command() {
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    // Dropped: no command.
    let mut h = Host::new(quirky(Quirks {
        trigger_nack: TriggerNack::Dropped,
        trigger_nack_permille: 1000,
        ..Quirks::NONE
    }));
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    assert_eq!(h.write(CDB_PAGE, 128, c.trigger()), Err(BusError::Nack));
    h.now += 2 * MS;
    assert_eq!(h.byte(37), 0x00);
    assert_eq!(h.m.counters().commands, 0);
    assert_eq!(h.read(CDB_PAGE, 128, 2).unwrap(), [0, 0], "not stored");

    // Captured: the command runs although the host saw a NACK; trying
    // again writes into a busy instance.
    let mut h = Host::new(quirky(Quirks {
        trigger_nack: TriggerNack::Captured,
        trigger_nack_permille: 1000,
        ..Quirks::NONE
    }));
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    assert_eq!(h.write(CDB_PAGE, 128, c.trigger()), Err(BusError::Nack));
    assert_eq!(h.byte(37), 0x81);
    assert_eq!(h.m.counters().commands, 1);
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.m.counters().writes_while_busy, 1);
    h.now += MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.m.counters().commands, 1);

    // One-shot, as a fault: dropped unless the quirk says how.
    let mut h = Host::new(quirky(Quirks::NONE));
    h.m.faults.trigger_nacks = 1;
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    assert_eq!(h.write(CDB_PAGE, 128, c.trigger()), Err(BusError::Nack));
    assert_eq!(h.m.counters().commands, 0);
    h.write(CDB_PAGE, 128, c.trigger()).unwrap();
    assert_eq!(h.m.counters().commands, 1);
}

#[test]
fn reply_reads_may_be_nacked() {
    let mut h = Host::new(quirky(Quirks {
        reply_nack_reads: 2,
        ..Quirks::NONE
    }));
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.now += MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(
        h.read(CDB_PAGE, 128, 6).unwrap()[..2],
        [0x00, 0x41],
        "not the reply"
    );
    assert_eq!(h.read(CDB_PAGE, 134, 2), Err(BusError::Nack));
    assert_eq!(h.read(CDB_PAGE, 200, 1), Err(BusError::Nack));
    assert_eq!(h.read(CDB_PAGE, 134, 2).unwrap(), [18, 0x29]);
    assert_eq!(h.read(CDB_PAGE, 134, 2).unwrap(), [18, 0x29]);

    let mut h = Host::new(quirky(Quirks {
        reply_nack_permille: 1000,
        ..Quirks::NONE
    }));
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.now += MS;
    assert_eq!(h.byte(37), 0x01);
    assert_eq!(h.read(CDB_PAGE, 130, 4).unwrap(), [0, 0, 0, 0xBE]);
    assert_eq!(h.read(CDB_PAGE, 255, 1), Err(BusError::Nack));
}

#[test]
fn the_reset_walks_the_module_states() {
    let mut p = quirky(Quirks {
        mgmt_init_ms: 10,
        pwr_up_ms: 30,
        state_changed_flag: true,
        ..Quirks::NONE
    });
    p.reset_ms = 5;
    p.ready_ms = 20;
    let mut h = Host::new(p);
    let t0 = h.now;
    for (at, state, code) in [
        (0, MsmState::MgmtInit, 0x01),
        (10, MsmState::LowPwr, 0x03),
        (30, MsmState::PwrUp, 0x05),
        (60, MsmState::Ready, 0x07),
    ] {
        h.now = t0 + at * MS;
        assert_eq!(h.byte(3), code, "{state:?}");
        assert_eq!(h.m.msm_state(h.now), Some(state));
        assert_eq!(h.byte(8), 0x01, "{state:?}: ModuleStateChanged");
        assert_eq!(h.byte(8), 0x00, "clear on read");
    }
    assert_eq!(h.m.state(t0), None, "MgmtInit is no ModuleState");
    h.m.hard_reset(h.now);
    h.now += 4 * MS;
    assert_eq!(h.read(0, 3, 1), Err(BusError::Nack));
    h.now += MS;
    assert_eq!(h.read(0, 3, 1).unwrap(), [0x01]);
    assert_eq!(h.byte(8), 0x01);

    // The plain module: Ready at once, no flag.
    let mut p = Profile::DEFAULT;
    p.reset_ms = 5;
    let mut h = Host::new(p);
    h.m.hard_reset(h.now);
    h.now += 5 * MS;
    assert_eq!(h.byte(3), 0x07);
    assert_eq!(h.byte(8), 0x00);
}

#[test]
fn a_reset_may_end_in_module_fault() {
    let mut p = Profile::DEFAULT;
    p.reset_ms = 5;
    let mut h = Host::new(p);
    h.m.faults.fault_on_reset = 3;
    h.m.hard_reset(h.now);
    h.now += 5 * MS;
    assert_eq!(h.byte(3), 0x0B, "ModuleFault");
    assert_eq!(h.byte(41), 3, "program memory corrupted");
    assert_eq!(h.m.msm_state(h.now), Some(MsmState::Fault));
    assert_eq!(h.m.state(h.now), None);
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    // One shot: the next reset is a good one.
    h.m.hard_reset(h.now);
    h.now += 5 * MS;
    assert_eq!(h.byte(3), 0x07);
    assert_eq!(h.byte(41), 0);
}

#[test]
fn a_bootloader_offers_less_for_a_while_after_reset() {
    let booting = |boot_cdb| {
        let mut p = quirky(Quirks {
            boot_ms: 100,
            boot_cdb,
            ..Quirks::NONE
        });
        p.reset_ms = 10;
        Host::new(p)
    };
    let mut h = booting(BootCdb::NoFirmwareInfo);
    assert_eq!(h.cmd(CommandId::GET_FW_INFO, &[]), Outcome::Failed(0x41));
    assert!(matches!(
        h.cmd(CommandId::FW_MGMT_FEATURES, &[]),
        Outcome::Ok(_)
    ));
    h.now = 1 + 100 * MS;
    assert!(matches!(h.cmd(CommandId::GET_FW_INFO, &[]), Outcome::Ok(_)));
    // Again after a reset.
    h.m.hard_reset(h.now);
    h.now += 10 * MS;
    assert_eq!(h.cmd(CommandId::GET_FW_INFO, &[]), Outcome::Failed(0x41));

    let mut h = booting(BootCdb::NoFeatures);
    assert_eq!(
        h.cmd(CommandId::FW_MGMT_FEATURES, &[]),
        Outcome::Failed(0x41)
    );
    assert_eq!(h.cmd(CommandId::GET_FW_INFO, &[]), Outcome::Failed(0x41));
    // Downloads work: the host knows the parameters.
    h.flash(Version::new(2, 0, 0), &body(500, 1), true).unwrap();

    let mut h = booting(BootCdb::NoCdb);
    assert_eq!(h.read(1, 163, 4).unwrap(), [0; 4], "no CDB advertised");
    let p01 = h.read(1, 128, 128).unwrap();
    let sum = p01[2..127].iter().fold(0u8, |s, b| s.wrapping_add(*b));
    assert_eq!(p01[127], sum, "page 01h checksum matches");
    h.send(&Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap());
    h.now += 2 * MS;
    assert_eq!(h.byte(37), 0x00, "not captured");
    assert_eq!(h.m.counters().commands, 0);
    h.now = 1 + 100 * MS;
    assert_eq!(h.read(1, 163, 4).unwrap(), [0x67, 0x0F, 0x00, 0x00]);
    assert!(matches!(
        h.cmd(CommandId::MODULE_FEATURES, &[]),
        Outcome::Ok(_)
    ));

    // The named profile: 0041h is unknown for 1.5 s.
    let mut h = Host::new(Profile::BOOTLOADER);
    assert_eq!(
        h.cmd(CommandId::FW_MGMT_FEATURES, &[]),
        Outcome::Failed(0x41)
    );
    h.now = 1 + 1_500 * MS;
    assert!(matches!(
        h.cmd(CommandId::FW_MGMT_FEATURES, &[]),
        Outcome::Ok(_)
    ));
}

#[test]
fn any_start_payload_size_up_to_112() {
    let v = Version::new(2, 5, 9);
    for n in [0u8, 1, 5, 6, 8, 40, 55, 56, 64, 100, 112] {
        for epl in [false, true] {
            let mut p = Profile::DEFAULT;
            p.start_payload_size = n;
            let mut h = Host::new(p);
            let b = body(3000, n);
            h.flash(v, &b, epl)
                .unwrap_or_else(|e| panic!("{n} {epl}: {e:?}"));
            let bank = *h.m.firmware().bank(BankId::B);
            assert!(bank.valid);
            assert_eq!((bank.version, bank.size), (v, 3000), "{n}");
            assert_eq!(bank.crc, super::super::image::crc32(&b));
        }
    }

    let mut p = Profile::DEFAULT;
    p.start_payload_size = 8;
    let start = |h: &mut Host, img: &[u8], n: usize| {
        let mut lpl = (img.len() as u32).to_be_bytes().to_vec();
        lpl.extend_from_slice(&[0; 4]);
        lpl.extend_from_slice(&img[..n]);
        h.cmd(CommandId::START_FW_DOWNLOAD, &lpl)
    };
    let block = |h: &mut Host, img: &[u8], n: usize| {
        let mut lpl = 0u32.to_be_bytes().to_vec();
        lpl.extend_from_slice(&img[n..n + 116]);
        h.cmd(CommandId::WRITE_FW_BLOCK_LPL, &lpl)
    };
    let good = image_file(8, v, &body(1000, 1));
    // A bad header found in the first block: that block fails, and may
    // be sent again once right.
    let mut h = Host::new(p);
    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(start(&mut h, &bad, 8), Outcome::Ok(_)));
    assert_eq!(block(&mut h, &bad, 8), Outcome::Failed(0x42));
    assert_eq!(h.m.firmware().download.unwrap().received, 0);
    // A header length out of range is seen as soon as its byte comes.
    let mut bad = good.clone();
    bad[5] = 200;
    assert_eq!(start(&mut h, &bad, 8), Outcome::Failed(0x42));
    // An image size that does not match the header.
    let mut h = Host::new(p);
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(start(&mut h, &longer, 8), Outcome::Ok(_)));
    assert_eq!(block(&mut h, &longer, 8), Outcome::Failed(0x42));
    // An image shorter than its header never becomes valid.
    let mut h = Host::new(p);
    assert!(matches!(start(&mut h, &good[..40], 8), Outcome::Ok(_)));
    let mut lpl = 0u32.to_be_bytes().to_vec();
    lpl.extend_from_slice(&good[8..40]);
    assert!(matches!(
        h.cmd(CommandId::WRITE_FW_BLOCK_LPL, &lpl),
        Outcome::Ok(_)
    ));
    assert_eq!(
        h.cmd(CommandId::COMPLETE_FW_DOWNLOAD, &[]),
        Outcome::Failed(0x71)
    );
    assert!(!h.m.firmware().bank(BankId::B).valid);
    // From 56 bytes on, the Start payload is the whole header, as before.
    let mut p = Profile::DEFAULT;
    p.start_payload_size = 64;
    let mut h = Host::new(p);
    let other = image_file(80, v, &body(1000, 1));
    assert_eq!(start(&mut h, &other, 64), Outcome::Failed(0x42));
}

#[test]
fn write_mechanisms_02h_and_03h() {
    let v = Version::new(2, 0, 0);
    let mut p = Profile::DEFAULT;
    p.write_mechanism = write_mechanism::EPL_ALT;
    p.validate().unwrap();
    let mut h = Host::new(p);
    let Outcome::Ok(r) = h.cmd(CommandId::FW_MGMT_FEATURES, &[]) else {
        panic!()
    };
    assert_eq!(r[5], 0x02);
    assert_eq!(h.flash(v, &body(300, 1), false), Err(Outcome::Failed(0x41)));
    h.flash(v, &body(300, 1), true).unwrap();
    assert_eq!(p.flash_limit(5000).unwrap().path, limit::BlockPath::Epl);

    p.write_mechanism = write_mechanism::BOTH_ALT;
    for epl in [false, true] {
        let mut h = Host::new(p);
        h.flash(v, &body(300, 1), epl).unwrap();
    }
    assert!(write_mechanism::has_lpl(0x03) && write_mechanism::has_epl(0x03));
    assert!(!write_mechanism::has_lpl(0x02) && !write_mechanism::has_epl(0x01));
    for bad in [0x04, 0x12, 0x20, 0xFF] {
        p.write_mechanism = bad;
        assert!(p.validate().is_err(), "{bad:#x}");
    }
}

#[test]
fn a_single_bank_module() {
    let mut p = quirky(Quirks {
        single_bank: true,
        ..Quirks::NONE
    });
    p.reset_ms = 10;
    let mut h = Host::new(p);
    let info = |h: &mut Host| {
        let Outcome::Ok(r) = h.cmd(CommandId::GET_FW_INFO, &[]) else {
            panic!()
        };
        r
    };
    let r = info(&mut h);
    assert_eq!(&r[..4], &[0x43, 0x01, 1, 0], "A runs, committed; no B");
    assert_eq!(h.run_image(), Outcome::Failed(0x47), "nothing new to run");
    h.flash(Version::new(2, 0, 0), &body(500, 1), true).unwrap();
    assert_eq!(
        h.read(1, 128, 2).unwrap(),
        [0, 0],
        "never an inactive image"
    );
    assert_eq!(&info(&mut h)[..4], &[0x43, 0x01, 1, 0], "still running 1.0");
    // Any reset boots what the bank holds now.
    h.m.hard_reset(h.now);
    assert!(h.wait_ready());
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0]);
    assert_eq!(&info(&mut h)[..4], &[0x43, 0x01, 2, 0]);
    // Commit does nothing; Run restarts (2) or needs a new image (0).
    assert!(matches!(
        h.cmd(CommandId::COMMIT_FW_IMAGE, &[]),
        Outcome::Ok(_)
    ));
    assert_eq!(h.run_image(), Outcome::Failed(0x47));
    assert!(matches!(h.run_mode(2), Outcome::Ok(_)));
    assert_eq!(h.read(0, 39, 2).unwrap(), [2, 0]);
    // Run, then Commit: as on two banks.
    h.flash(Version::new(3, 0, 0), &body(500, 2), false)
        .unwrap();
    assert!(matches!(h.run_image(), Outcome::Ok(_)));
    assert_eq!(h.read(0, 39, 2).unwrap(), [3, 0]);
    assert!(matches!(
        h.cmd(CommandId::COMMIT_FW_IMAGE, &[]),
        Outcome::Ok(_)
    ));
    // A failed download leaves the image it had.
    let img = image_file(64, Version::new(4, 0, 0), &body(500, 3));
    let mut start = (img.len() as u32).to_be_bytes().to_vec();
    start.extend_from_slice(&[0; 4]);
    start.extend_from_slice(&img[..64]);
    assert!(matches!(
        h.cmd(CommandId::START_FW_DOWNLOAD, &start),
        Outcome::Ok(_)
    ));
    assert_eq!(
        h.cmd(CommandId::COMPLETE_FW_DOWNLOAD, &[]),
        Outcome::Failed(0x70)
    );
    h.m.hard_reset(h.now);
    assert!(h.wait_ready());
    assert_eq!(h.read(0, 39, 2).unwrap(), [3, 0]);
}

#[test]
fn reply_check_codes_may_glitch_once() {
    let mut h = Host::new(quirky(Quirks {
        chk_glitch_reads: 1,
        ..Quirks::NONE
    }));
    for _ in 0..2 {
        h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
        h.now += MS;
        assert_eq!(h.byte(37), 0x01);
        assert_eq!(h.read(CDB_PAGE, 134, 2).unwrap(), [18, !0x29], "wrong once");
        assert_eq!(
            h.read(CDB_PAGE, 135, 1).unwrap(),
            [0x29],
            "a re-read is right"
        );
        assert_eq!(h.read(CDB_PAGE, 134, 2).unwrap(), [18, 0x29]);
    }
    // As a fault, for the next reply only.
    let mut h = Host::new(quirky(Quirks::NONE));
    h.m.faults.glitch_reply_chk = 1;
    for wrong in [true, false] {
        h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
        h.now += MS;
        let chk = h.read(CDB_PAGE, 135, 1).unwrap()[0];
        assert_eq!(chk != 0x29, wrong);
        assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap(), [0x29]);
    }
    // Unlike corrupt_reply_chk, which stays wrong.
    h.m.faults.corrupt_reply_chk = 1;
    h.send(&Command::new(CommandId::FW_MGMT_FEATURES, &[], 0).unwrap());
    h.now += MS;
    assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap(), [!0x29]);
    assert_eq!(h.read(CDB_PAGE, 135, 1).unwrap(), [!0x29]);
}

#[test]
fn the_driver_splits_and_charges_transfers() {
    let mut h = Host::new(Profile::MAILBOX_DRIVER);
    let split = |m: &Module, a: Access| -> std::vec::Vec<usize> {
        m.transactions(&a).unwrap().map(|(t, _)| t.len).collect()
    };
    assert_eq!(split(&h.m, Access::new(0x9F, 130, 126)), [48, 48, 30]);
    assert_eq!(split(&h.m, Access::new(0xA0, 128, 128)), [48, 48, 32]);
    assert_eq!(split(&h.m, Access::new(0x00, 0, 128)), [48, 48, 32]);
    assert_eq!(split(&h.m, Access::new(0x00, 37, 1)), [1]);
    assert_eq!(h.m.max_access_len(0x9F), 128, "the module's limit");
    assert_eq!(h.m.transfer_len(0x9F), 48);
    // 9 bits a byte at 400 kHz, 22.5 us, addressing included; 1 ms a
    // transfer.
    assert_eq!(h.m.bus_cost(1, true), MS + 4 * 22_500);
    let three = MS * 3 + (50 + 50 + 32) * 22_500;
    assert_eq!(h.m.bus_cost(126, false), three);
    // One longer access costs as the transfers it takes.
    h.now = 10 * MS;
    let cost =
        h.m.write(h.now, &Access::new(0x9F, 130, 126), &[0; 126])
            .unwrap();
    assert_eq!(cost, three);
    let c = h.m.counters();
    assert_eq!((c.driver_ns, c.bus_ns), (3 * MS, three - 3 * MS));
    let mut buf = [0u8; 126];
    let mut request = |h: &mut Host| {
        let start = h.now;
        h.request(&Access::new(0x9F, 130, 126), &mut buf, false)
            .unwrap();
        h.now - start
    };
    assert_eq!(request(&mut h), MS * 3 + (51 + 51 + 33) * 22_500);
    // No driver cost by default.
    let h = Host::new(Profile::REALISTIC_EPL);
    assert_eq!(h.m.bus_cost(1, true), 4 * 22_500);
    assert_eq!(split(&h.m, Access::new(0x9F, 130, 126)), [126]);
}

/// A host that knows the module's timing model: each request in the
/// longest transfers, the status read once when it shows the result, the
/// next access as soon as the module takes it. It takes exactly the
/// physical limit.
struct IdealHost {
    m: Module,
    now: Nanos,
}

impl IdealHost {
    fn request(&mut self, page: u8, offset: u8, data: &[u8]) {
        let request = Access::new(page, offset, data.len());
        for (a, r) in self.m.transactions(&request).unwrap() {
            self.now += self.m.write(self.now, &a, &data[r]).unwrap();
        }
    }

    /// Sends a command and waits for its flag and status (not for Run).
    fn command(&mut self, id: CommandId, lpl: &[u8], epl: &[u8], busy_us: u32) {
        let c = Command::new(id, lpl, epl.len()).unwrap();
        // Bytes 134-135 only with a payload behind them.
        let body = if lpl.is_empty() {
            &c.body()[..4]
        } else {
            c.body()
        };
        self.request(CDB_PAGE, 130, body);
        if self.m.profile.auto_paging && !epl.is_empty() {
            self.request(0xA0, 128, epl);
        } else {
            for (i, page) in epl.chunks(128).enumerate() {
                self.request(0xA0 + i as u8, 128, page);
            }
        }
        self.request(CDB_PAGE, 128, c.trigger());
        let q = self.m.profile.quirks;
        let reported = Nanos::from(busy_us.max(q.status_lag_us)) + Nanos::from(q.report_delay_us);
        if id == CommandId::RUN_FW_IMAGE {
            // The reset begins after the flag, late by the extra delay.
            self.now +=
                (reported + Nanos::from(q.flag_delay_us)) * US + Nanos::from(q.reset_extra_ms) * MS;
            return;
        }
        let flagged = reported + Nanos::from(q.flag_delay_us);
        self.now += flagged.max(Nanos::from(q.nack_first_us)) * US;
        // The flag proves this command is done, the status how.
        let mut flags = [0u8];
        self.now += self
            .m
            .read(self.now, &Access::new(0, 8, 1), &mut flags)
            .unwrap();
        assert_ne!(flags[0] & 0x40, 0, "{id:?}");
        let mut status = [0u8];
        self.now += self
            .m
            .read(self.now, &Access::new(0, 37, 1), &mut status)
            .unwrap();
        assert_eq!(status[0], 0x01, "{id:?}");
    }

    /// Waits while the module is away after a reset at the current time.
    fn reset_gap(&mut self, before_commit: bool) {
        let p = self.m.profile;
        let q = p.quirks;
        let mut away = Nanos::from(p.reset_ms) + Nanos::from(q.nack_after_reset_ms);
        if before_commit && q.boot_cdb == BootCdb::NoCdb {
            away = away.max(Nanos::from(p.reset_ms) + Nanos::from(q.boot_ms));
        }
        self.now += away * MS;
    }

    /// Flashes `img` (LPL or EPL blocks, as the limit chooses) and returns
    /// the time it took, from the first access to the module answering
    /// after the final reset.
    fn flash(p: Profile, img: &[u8]) -> Nanos {
        let limit = p.flash_limit(img.len()).unwrap();
        let mut h = Self {
            m: Module::new(p, Version::new(1, 0, 0), 0),
            now: 0,
        };
        // From when the module first answers.
        h.reset_gap(true);
        h.now -= Nanos::from(p.reset_ms) * MS;
        let t0 = h.now;
        let b = &p.busy_us;
        let n = p.start_payload_size as usize;
        let mut start = (img.len() as u32).to_be_bytes().to_vec();
        start.extend_from_slice(&[0; 4]);
        start.extend_from_slice(&img[..n]);
        h.command(CommandId::START_FW_DOWNLOAD, &start, &[], b.start);
        for (i, block) in img[n..].chunks(limit.block_len).enumerate() {
            let address = ((i * limit.block_len) as u32).to_be_bytes();
            match limit.path {
                limit::BlockPath::Epl => {
                    h.command(CommandId::WRITE_FW_BLOCK_EPL, &address, block, b.write)
                }
                limit::BlockPath::Lpl => {
                    let mut lpl = address.to_vec();
                    lpl.extend_from_slice(block);
                    h.command(CommandId::WRITE_FW_BLOCK_LPL, &lpl, &[], b.write)
                }
            }
        }
        h.command(CommandId::COMPLETE_FW_DOWNLOAD, &[], &[], b.complete);
        h.command(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 0], &[], b.run);
        h.reset_gap(true);
        h.command(CommandId::COMMIT_FW_IMAGE, &[], &[], b.commit);
        h.m.hard_reset(h.now);
        h.reset_gap(false);
        let mut id = [0u8];
        h.m.read(h.now, &Access::new(0, 0, 1), &mut id).unwrap();
        let fw = h.m.firmware();
        assert_eq!((fw.running, fw.committed), (BankId::B, BankId::B));
        assert_eq!(fw.bank(BankId::B).version, Version::new(2, 0, 0));
        let c = h.m.counters();
        assert_eq!((c.commands_ok, c.nacks), (c.commands, 0));
        h.now - t0
    }
}

/// The physical limit (`limit.rs`) is exactly what a host that wastes
/// nothing takes, for every profile without chances: the driver's cost,
/// the status lag, late reports and resets, the NACK windows and the boot
/// phase included.
#[test]
fn the_limit_is_what_an_ideal_host_takes() {
    let no_chances = |mut p: Profile| {
        let q = &mut p.quirks;
        q.nack_busy_permille = 0;
        q.trigger_nack_permille = 0;
        q.reply_nack_permille = 0;
        p
    };
    let mut cases = std::vec![
        ("realistic epl", Profile::REALISTIC_EPL),
        ("realistic lpl", Profile::REALISTIC_LPL),
        ("mailbox", Profile::MAILBOX_DRIVER),
        (
            "mailbox lpl",
            Profile {
                driver: Profile::MAILBOX_DRIVER.driver,
                ..Profile::REALISTIC_LPL
            },
        ),
        (
            "mailbox auto paging",
            Profile {
                auto_paging: true,
                rw_len_ext: 255,
                ..Profile::MAILBOX_DRIVER
            },
        ),
    ];
    for name in Profile::NAMES {
        cases.push((name, no_chances(Profile::by_name(name).unwrap())));
    }
    let mut no_cdb = Profile::BOOTLOADER;
    no_cdb.quirks.boot_cdb = BootCdb::NoCdb;
    no_cdb.quirks.boot_ms = 4_000;
    cases.push(("bootloader without cdb", no_cdb));
    for (name, p) in cases {
        if p.bus_hz == 0 {
            continue; // instant: nothing to compare
        }
        let n = p.start_payload_size as usize;
        let img = image_file(n, Version::new(2, 0, 0), &body(20_000, 3));
        let took = IdealHost::flash(p, &img);
        let limit = p.flash_limit(img.len()).unwrap();
        assert_eq!(took, limit.total_ns(), "{name}: {limit:?}");
    }
    // The driver's cost shows in the limit.
    let img_len = 64 + (1 << 20);
    let plain = Profile::REALISTIC_EPL.flash_limit(img_len).unwrap();
    let mailbox = Profile::MAILBOX_DRIVER.flash_limit(img_len).unwrap();
    assert_eq!(plain.driver_ns, 0);
    assert_eq!(mailbox.driver_ns, mailbox.transactions * MS);
    assert!(mailbox.transactions > 2 * plain.transactions);
}

/// A host that copes with everything the quirks do, the way the
/// reference notes say a careful host should: it clears the flags before
/// a trigger, waits for the completion flag (not the status), retries
/// NACKed accesses but never a trigger it cannot tell was lost, re-reads
/// a check code that does not match, waits for the new image after Run,
/// and retries a query a booting module does not know yet.
struct CarefulHost {
    m: Module,
    now: Nanos,
    /// Triggers not acknowledged.
    trigger_nacks: u32,
}

const CAREFUL_POLL: Nanos = 500 * US;

impl CarefulHost {
    fn new(p: Profile) -> Self {
        Self {
            m: Module::new(p, Version::new(1, 0, 0), 0),
            now: 0,
            trigger_nacks: 0,
        }
    }

    fn try_request(
        &mut self,
        request: &Access,
        buf: &mut [u8],
        write: bool,
    ) -> Result<(), BusError> {
        for (a, r) in self.m.transactions(request)? {
            self.now += if write {
                self.m.write(self.now, &a, &buf[r])?
            } else {
                self.m.read(self.now, &a, &mut buf[r])?
            };
        }
        Ok(())
    }

    /// A request, again until it is acknowledged.
    fn request(&mut self, page: u8, offset: u8, buf: &mut [u8], write: bool) {
        let a = Access::new(page, offset, buf.len());
        for _ in 0..1_000_000 {
            match self.try_request(&a, buf, write) {
                Ok(()) => return,
                Err(BusError::Nack) => self.now += 100 * US,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("never acknowledged");
    }

    fn read(&mut self, page: u8, offset: u8, len: usize) -> std::vec::Vec<u8> {
        let mut buf = std::vec![0u8; len];
        self.request(page, offset, &mut buf, false);
        buf
    }

    fn write(&mut self, page: u8, offset: u8, data: &[u8]) {
        let mut buf = data.to_vec();
        self.request(page, offset, &mut buf, true);
    }

    fn flag(&mut self) -> bool {
        self.read(0, 8, 1)[0] & 0x40 != 0
    }

    /// Triggers `c`; a NACKed trigger is sent again only once it is
    /// clear that the module did not take it. Returns whether the
    /// completion flag was already seen.
    fn trigger(&mut self, c: &Command) -> bool {
        for _ in 0..100 {
            match self
                .m
                .write(self.now, &Access::new(CDB_PAGE, 128, 2), c.trigger())
            {
                Ok(cost) => {
                    self.now += cost;
                    return false;
                }
                Err(BusError::Nack) => self.trigger_nacks += 1,
                Err(e) => panic!("{e}"),
            }
            // Taken if it shows (busy, or done) within the longest a
            // command may take; else lost.
            let give_up = self.now + 6_000 * MS;
            while self.now < give_up {
                self.now += CAREFUL_POLL;
                if self.flag() {
                    return true;
                }
                if self.read(0, 37, 1)[0] & 0x80 != 0 {
                    return false;
                }
            }
        }
        panic!("trigger never taken");
    }

    /// Runs a command; returns its reply or its failure status.
    fn command(&mut self, id: CommandId, lpl: &[u8], epl: &[u8]) -> Result<std::vec::Vec<u8>, u8> {
        let c = Command::new(id, lpl, epl.len()).unwrap();
        self.flag(); // clears a stale flag
        self.write(CDB_PAGE, 130, c.body());
        for (i, page) in epl.chunks(128).enumerate() {
            self.write(0xA0 + i as u8, 128, page);
        }
        if !self.trigger(&c) {
            let mut polls = 0;
            while !self.flag() {
                self.now += CAREFUL_POLL;
                polls += 1;
                assert!(polls < 100_000, "{id:?} never completes");
            }
        }
        let status = self.read(0, 37, 1)[0];
        if status != 0x01 {
            assert_eq!(status & 0xC0, 0x40, "{id:?}: final at the flag");
            return Err(status);
        }
        let head = self.read(CDB_PAGE, 134, 2);
        let len = head[0] as usize;
        let mut chk = head[1];
        if len == 0 {
            return Ok(std::vec::Vec::new());
        }
        let payload = self.read(CDB_PAGE, 136, len);
        for _ in 0..3 {
            if check_code(&payload) == chk {
                return Ok(payload);
            }
            chk = self.read(CDB_PAGE, 135, 1)[0];
        }
        panic!("{id:?}: RPLChkCode never matches");
    }

    /// A query, retried while a booting module does not know it yet.
    fn query(&mut self, id: CommandId) -> std::vec::Vec<u8> {
        for _ in 0..100 {
            match self.command(id, &[], &[]) {
                Ok(r) => return r,
                Err(0x41) => self.now += 100 * MS,
                Err(s) => panic!("{id:?}: {s:#x}"),
            }
        }
        panic!("{id:?} never known");
    }

    fn active(&mut self) -> (u8, u8) {
        let v = self.read(0, 39, 2);
        (v[0], v[1])
    }

    /// Waits until the module runs `v` and is Ready.
    fn wait_running(&mut self, v: Version) {
        for _ in 0..100_000 {
            if self.active() == (v.major, v.minor) && self.read(0, 3, 1)[0] == 0x07 {
                return;
            }
            self.now += MS;
        }
        panic!("{v} never runs");
    }

    fn flash(&mut self, img: &[u8], v: Version) {
        let p = self.m.profile;
        self.wait_running(Version::new(1, 0, 0));
        let n = p.start_payload_size as usize;
        let mut start = (img.len() as u32).to_be_bytes().to_vec();
        start.extend_from_slice(&[0; 4]);
        start.extend_from_slice(&img[..n]);
        self.command(CommandId::START_FW_DOWNLOAD, &start, &[])
            .unwrap();
        let epl = write_mechanism::has_epl(p.write_mechanism) && p.epl_pages() > 0;
        let step = if epl { p.epl_pages() * 128 } else { 116 };
        for (i, block) in img[n..].chunks(step).enumerate() {
            let address = ((i * step) as u32).to_be_bytes();
            if epl {
                self.command(CommandId::WRITE_FW_BLOCK_EPL, &address, block)
            } else {
                let mut lpl = address.to_vec();
                lpl.extend_from_slice(block);
                self.command(CommandId::WRITE_FW_BLOCK_LPL, &lpl, &[])
            }
            .unwrap();
        }
        self.command(CommandId::COMPLETE_FW_DOWNLOAD, &[], &[])
            .unwrap();
        // Run: done when its flag shows or the new image runs (the
        // module may reset before the flag can be read).
        let run = Command::new(CommandId::RUN_FW_IMAGE, &[0, 0, 0, 0], 0).unwrap();
        self.flag();
        self.write(CDB_PAGE, 130, run.body());
        if !self.trigger(&run) {
            while !self.flag() && self.active() != (v.major, v.minor) {
                self.now += CAREFUL_POLL;
            }
        }
        self.wait_running(v);
        self.command(CommandId::COMMIT_FW_IMAGE, &[], &[]).unwrap();
        let info = self.query(CommandId::GET_FW_INFO);
        // The bank that runs and is committed holds `v`.
        let at = if info[0] & 0x03 == 0x03 {
            2
        } else {
            assert_eq!(info[0] & 0x30, 0x30, "{:#x}", info[0]);
            38
        };
        assert_eq!(&info[at..at + 4], &[v.major, v.minor, 0, v.build as u8]);
        self.m.hard_reset(self.now);
        self.wait_running(v);
    }
}

#[test]
fn a_careful_host_flashes_every_named_profile() {
    let v = Version::new(2, 1, 5);
    let mut cases: std::vec::Vec<(&str, Profile)> = Profile::NAMES
        .iter()
        .map(|&name| (name, Profile::by_name(name).unwrap()))
        .collect();
    // Make the chances come up in a short flash.
    let mut often = Profile::HOSTILE;
    often.quirks.trigger_nack_permille = 300;
    often.quirks.nack_busy_permille = 300;
    cases.push(("hostile, often", often));
    let mut dropped = often;
    dropped.quirks.trigger_nack = TriggerNack::Dropped;
    cases.push(("hostile, dropped triggers", dropped));
    let mut single = often;
    single.quirks.single_bank = true;
    single.quirks.boot_cdb = BootCdb::NoFeatures;
    cases.push(("hostile, single bank", single));
    for (name, p) in cases {
        let mut h = CarefulHost::new(p);
        let img = image_file(p.start_payload_size as usize, v, &body(6_000, 7));
        h.flash(&img, v);
        let fw = h.m.firmware();
        assert!(fw.bank(fw.running).valid);
        assert_eq!(fw.bank(fw.running).version, v, "{name}");
        assert_eq!(fw.committed, fw.running, "{name}");
        let c = *h.m.counters();
        assert_eq!(c.writes_while_busy, 0, "{name}");
        // Only the queries a booting module did not know yet.
        assert_eq!(c.commands_failed as u32, c.by_status[2], "{name}");
        // The limit is a lower bound whatever happens.
        let limit = p.flash_limit(img.len()).unwrap();
        assert!(h.now >= limit.total_ns(), "{name}: {} < {limit:?}", h.now);
        if name.starts_with("hostile") || name == "nack_busy" {
            assert!(c.nacks > 0, "{name}: no NACK seen");
        }
        if name.starts_with("hostile, ") {
            assert!(h.trigger_nacks > 0, "{name}: no trigger NACKed");
        }
        std::println!(
            "{name}: {} ms (limit {} ms), {} NACKs, {} commands",
            h.now / MS,
            limit.total_ns() / MS,
            c.nacks,
            c.commands
        );
    }
}

#[test]
fn a_host_may_look_again_before_a_refused_trigger_ends() {
    // A captured but NACKed trigger starts at its STOP; the host, told
    // it failed, spent no time and reads at once.
    let mut p = Profile::HOSTILE;
    p.quirks.trigger_nack_permille = 1000;
    p.quirks.status_lag_us = 0;
    p.quirks.nack_first_us = 0;
    p.quirks.nack_busy_permille = 0;
    let mut h = Host::new(p);
    h.now += 2 * 1_000 * MS;
    let c = Command::new(CommandId::MODULE_FEATURES, &[], 0).unwrap();
    h.write(CDB_PAGE, 130, c.body()).unwrap();
    assert_eq!(h.write(CDB_PAGE, 128, c.trigger()), Err(BusError::Nack));
    assert_eq!(h.byte(37), 0x81);
}

#[test]
fn named_profiles_by_name_and_custom() {
    let mut m = Module::new(Profile::DEFAULT, Version::new(1, 0, 0), 0);
    assert_eq!(m.profile_name(), "default");
    m.set_named_profile("laggy_5ms").unwrap();
    assert_eq!(m.profile_name(), "laggy_5ms");
    assert_eq!(*m.profile(), Profile::LAGGY_5MS);
    assert!(m.set_named_profile("no_such").is_err());
    assert_eq!(m.profile_name(), "laggy_5ms");
    let mut p = *m.profile();
    p.reset_ms += 1;
    m.set_profile(p).unwrap();
    assert_eq!(m.profile_name(), "custom");
    for name in Profile::NAMES {
        m.set_named_profile(name).unwrap();
        assert_eq!(m.profile_name(), name);
    }
}

#[test]
fn ethtool_begin_fails_or_takes_the_drivers_time() {
    let mut p = Profile::DEFAULT;
    p.driver.begin_ms = 250;
    let mut m = Module::new(p, Version::new(1, 0, 0), 0);
    assert_eq!(m.ethtool_begin(), Some(250));
    m.faults.ethtool_begin_fails = true;
    assert_eq!(m.ethtool_begin(), None);
    assert_eq!(m.counters().ethtool_begins, 1);
}
