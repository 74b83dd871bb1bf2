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

    /// Flashes `body` as version `v` with LPL or EPL blocks.
    fn flash(&mut self, v: Version, body: &[u8], epl: bool) -> Result<(), Outcome> {
        let n = self.m.profile().start_payload_size as usize;
        let mut hdr = std::vec![0u8; n];
        Header::write(&mut hdr, n, &v, body).unwrap();
        let mut start = std::vec::Vec::new();
        start.extend_from_slice(&((n + body.len()) as u32).to_be_bytes());
        start.extend_from_slice(&[0; 4]);
        start.extend_from_slice(&hdr);
        expect_ok(self.cmd(CommandId::START_FW_DOWNLOAD, &start))?;
        let step = if epl { 2048 } else { 116 };
        for (i, block) in body.chunks(step).enumerate() {
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
    assert_eq!(
        h.write(CDB_PAGE, 128, c.trigger()),
        Err(BusError::Nack),
        "busy instance"
    );
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
    h.now += 100 * MS;
    assert_eq!(h.read(0, 3, 1), Err(BusError::Nack));
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
    assert_eq!(
        h.write(CDB_PAGE, 128, d.trigger()),
        Err(BusError::Nack),
        "instance 2 busy"
    );
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
                Op::Wait(ns) => now += ns as u64,
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
