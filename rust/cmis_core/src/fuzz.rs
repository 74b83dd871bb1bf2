// SPDX-License-Identifier: GPL-2.0

//! Fuzz targets: entry points that take arbitrary bytes and panic when a
//! promise is broken.
//!
//! The coverage-guided fuzzer (`tools/fuzz`, `make fuzz`) calls them with
//! what it generates; `cargo test` replays the corpus kept under
//! `tools/fuzz/corpus/<target>/`. Host only: no kernel module includes
//! this file. Like the rest of the core it allocates nothing.
//!
//! - [`flash`]: the firmware update against the emulator's model, whose
//!   settings, image and faults come from the input, and whose replies the
//!   input may alter at any read. The update always ends within bounded
//!   accesses and time, with a printable outcome. While the module's
//!   replies are true (faults and errors are fine: a real module has
//!   them), it also never writes into a busy CDB, never commits the image
//!   that ran before Run, reports success only with the new image running
//!   and committed, and leaves the module running a valid image.
//! - [`image_header`]: the image header parser, and its writer's output
//!   read back.
//! - [`control_text`]: the parsers of the emulator's control files.
//! - [`emulator`]: arbitrary host accesses to the emulated module, with
//!   settings from the input: the model never panics and stays coherent.

use super::cdb::CDB_PAGE;
use super::emu::firmware::BankId;
use super::emu::{BootCdb, BusError, Module, Profile, TriggerNack};
use super::fw_update::{update, Error, Options, Summary};
use super::image::{crc32, Header, Version, FORMAT_VERSION, MAGIC, MAX_HEADER_LEN, MIN_HEADER_LEN};
use super::io::{Errno, Interrupt, ModuleIo, ModuleReset, Nanos, Notice, NS_PER_MS};
use super::map::Access;
use super::text;
use core::fmt::{self, Write};

/// Bound on the accesses of one flash of at most [`MAX_BODY`] bytes.
pub const FLASH_ACCESS_LIMIT: u64 = 2_000_000;
/// Bound on one flash's (virtual) time: a few clamped command timeouts
/// and reset waits.
pub const FLASH_TIME_LIMIT: Nanos = 1_800_000 * NS_PER_MS;
/// Largest image body the [`flash`] target builds.
pub const MAX_BODY: usize = 6_000;

const OLD: Version = Version::new(1, 0, 0);
const NEW: Version = Version::new(2, 1, 7);

/// The input, read front to back; zeros once it is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 != 0
    }

    /// One of `choices`.
    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.byte() as usize % choices.len()]
    }

    /// Up to `n` bytes.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Counts what is written, so that formatting can be checked without
/// allocating.
struct Sink(usize);

impl Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// The length of `v`'s `Display` output.
fn shown_len(v: &impl fmt::Display) -> usize {
    let mut s = Sink(0);
    write!(s, "{v}").unwrap();
    s.0
}

/// What the next event of the fault plan does.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// The access fails with this error, the module untouched.
    Error(Errno),
    /// A write reaches the module but the driver reports an error (a NACK
    /// of its last byte).
    ErrorAfterWrite(Errno),
    /// A read returns one byte altered (its index and the XOR mask).
    Alter(u8, u8),
    /// A read returns the input's bytes instead of the module's.
    Replace,
    /// The module NACKs everything for this many ms.
    Nack(u16),
    /// The module is unplugged, and plugged back this many accesses later
    /// (0: never).
    Unplug(u16),
    /// The requester asks for this.
    Interrupt(Interrupt),
    /// The module's next command (of any id) fails with this status code.
    FailCommand(u8),
    /// The module's next command hangs.
    Hang,
    /// Power is lost during the next block write.
    PowerLoss,
    /// The next reset ends in ModuleFault.
    FaultOnReset,
}

const ERRORS: [Errno; 6] = [
    Errno::EIO,
    Errno::EREMOTEIO,
    Errno::ETIMEDOUT,
    Errno::EAGAIN,
    Errno::EBUSY,
    Errno::ENODEV,
];

impl Action {
    fn decode(input: &mut Input<'_>) -> Self {
        match input.byte() % 11 {
            0 => Self::Error(input.pick(&ERRORS)),
            1 => Self::ErrorAfterWrite(input.pick(&ERRORS)),
            2 => Self::Alter(input.byte(), input.byte()),
            3 => Self::Replace,
            4 => Self::Nack(input.u16() % 2_000),
            5 => Self::Unplug(input.u16()),
            6 => Self::Interrupt(if input.flag() {
                Interrupt::Cancel
            } else {
                Interrupt::Stop
            }),
            7 => Self::FailCommand(input.byte() & 0x3f),
            8 => Self::Hang,
            9 => Self::PowerLoss,
            _ => Self::FaultOnReset,
        }
    }
}

/// What the host driver's reset operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DriverReset {
    Resets,
    Ignores,
    Lies,
}

/// The host side of the [`flash`] target: the model, a virtual clock and
/// the fault plan.
struct Bed<'a> {
    m: Module,
    now: Nanos,
    plan: Input<'a>,
    /// Accesses until the next event of the plan, and the event.
    next: Option<(u16, Action)>,
    accesses: u64,
    lied: bool,
    interrupt: Option<Interrupt>,
    plug_back_after: Option<u16>,
    driver_reset: DriverReset,
    /// Commit written while the module ran the image it ran before.
    commits_on_old: u32,
}

impl Bed<'_> {
    /// The plan's action for this access, if its turn has come; actions
    /// on the module itself are applied here.
    fn before_access(&mut self) -> Option<Action> {
        self.accesses += 1;
        assert!(self.accesses < FLASH_ACCESS_LIMIT, "the flash does not end");
        if let Some(n) = self.plug_back_after.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.plug_back_after = None;
                self.m.plug(self.now);
            }
        }
        if self.next.is_none() && !self.plan.is_empty() {
            let gap = self.plan.u16() % 4_096;
            self.next = Some((gap, Action::decode(&mut self.plan)));
        }
        let (gap, action) = self.next.as_mut()?;
        if *gap > 0 {
            *gap -= 1;
            return None;
        }
        let action = *action;
        self.next = None;
        let f = &mut self.m.faults;
        match action {
            Action::Nack(ms) => f.nack_until = self.now + Nanos::from(ms) * NS_PER_MS,
            Action::Unplug(after) => {
                self.m.unplug();
                self.plug_back_after = (after > 0).then_some(after);
            }
            Action::Interrupt(i) => self.interrupt = Some(i),
            Action::FailCommand(code) => {
                f.fail_count = 1;
                f.fail_command = None;
                f.fail_code = code;
            }
            Action::Hang => {
                f.hang_next = true;
                f.hang_command = None;
            }
            Action::PowerLoss => f.power_loss_on_write = true,
            Action::FaultOnReset => f.fault_on_reset = 0x03,
            _ => return Some(action),
        }
        None
    }

    /// One request, served by the module; the clock moves by its time.
    fn transfer(
        &mut self,
        a: Access,
        op: impl FnMut(&mut Module, Nanos, &Access, core::ops::Range<usize>) -> Result<Nanos, BusError>,
    ) -> Result<(), Errno> {
        self.m.serve(&mut self.now, &a, op).map_err(BusError::errno)
    }
}

impl ModuleIo for Bed<'_> {
    fn now(&self) -> Nanos {
        self.now
    }

    fn read(&mut self, a: Access, buf: &mut [u8]) -> Result<(), Errno> {
        assert_eq!(a.len, buf.len());
        let action = self.before_access();
        if let Some(Action::Error(e) | Action::ErrorAfterWrite(e)) = action {
            self.now += 10_000;
            return Err(e);
        }
        self.transfer(a, |m, now, t, range| m.read(now, t, &mut buf[range]))?;
        match action {
            Some(Action::Alter(at, mask)) if !buf.is_empty() => {
                buf[at as usize % buf.len()] ^= mask;
                self.lied |= mask != 0;
            }
            Some(Action::Replace) => {
                for b in buf.iter_mut() {
                    *b = self.plan.byte();
                }
                self.lied = true;
            }
            _ => {}
        }
        Ok(())
    }

    fn write(&mut self, a: Access, data: &[u8]) -> Result<(), Errno> {
        assert_eq!(a.len, data.len());
        let action = self.before_access();
        if let Some(Action::Error(e)) = action {
            self.now += 10_000;
            return Err(e);
        }
        if a.page == CDB_PAGE && a.offset == 128 && data.len() >= 2 {
            let id = u16::from_be_bytes([data[0], data[1]]);
            if id == 0x010A && self.m.firmware().running == BankId::A {
                self.commits_on_old += 1;
            }
        }
        self.transfer(a, |m, now, t, range| m.write(now, t, &data[range]))?;
        match action {
            Some(Action::ErrorAfterWrite(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn sleep(&mut self, ns: Nanos) {
        assert!(ns > 0, "a zero sleep would spin");
        self.now += ns;
    }

    fn reset_module(&mut self) -> Result<ModuleReset, Errno> {
        match self.driver_reset {
            DriverReset::Resets => {
                self.m.hard_reset(self.now);
                Ok(ModuleReset::Done)
            }
            DriverReset::Ignores => Ok(ModuleReset::Ignored),
            DriverReset::Lies => Ok(ModuleReset::Done),
        }
    }

    fn notify(&mut self, notice: Notice) {
        if let Notice::Progress { done, total } = notice {
            assert!(done <= total, "progress past the end: {done} of {total}");
        }
    }

    fn interrupted(&self) -> Option<Interrupt> {
        self.interrupt
    }
}

/// A module whose settings come from `input`: a named profile, its
/// revision and mode, and any combination of the spec-legal quirks, with
/// quick busy times so that a run takes microseconds.
fn module_profile(input: &mut Input<'_>) -> Profile {
    let mut p = Profile::by_name(input.pick(&Profile::NAMES)).unwrap_or_default();
    p.revision = input.pick(&[0x40, 0x45, 0x50, 0x52, 0x53]);
    p.background = input.flag();
    p.start_payload_size = input.pick(&[0, 8, 32, 56, 64, 112, p.start_payload_size]);
    p.write_mechanism = input.pick(&[0x01, 0x02, 0x03, 0x10, 0x11, p.write_mechanism]);
    p.epl_pages_code = input.byte() % 8;
    p.rw_len_ext = input.byte() % 8;
    p.durations_10x = input.flag();
    let q = &mut p.quirks;
    q.status_lag_us = input.pick(&[0, 300, 2_000, 6_000]);
    q.report_delay_us = input.pick(&[0, 100, 1_000]);
    q.flag_delay_us = input.pick(&[0, 500, 2_000]);
    q.reset_extra_ms = input.pick(&[0, 200, 1_000]);
    q.ready_until_reset = input.flag();
    q.nack_first_us = input.pick(&[0, 1_000, 5_000]);
    q.nack_busy_permille = input.pick(&[0, 100, 400]);
    q.trigger_nack = input.pick(&[
        TriggerNack::Off,
        TriggerNack::Dropped,
        TriggerNack::Captured,
    ]);
    q.trigger_nack_permille = input.pick(&[0, 100, 300]);
    q.reply_nack_reads = input.byte() % 3;
    q.nack_after_reset_ms = input.pick(&[0, 300]);
    q.state_changed_flag = input.flag();
    q.mgmt_init_ms = input.pick(&[0, 20]);
    q.pwr_up_ms = input.pick(&[0, 30]);
    q.boot_cdb = input.pick(&[
        BootCdb::Full,
        BootCdb::NoFirmwareInfo,
        BootCdb::NoFeatures,
        BootCdb::NoCdb,
    ]);
    q.boot_ms = if q.boot_cdb == BootCdb::Full { 0 } else { 800 };
    q.chk_glitch_reads = input.byte() % 3;
    q.single_bank = input.flag();
    q.seed = input.u32();
    p.busy_us.write = 500;
    p.busy_us.start = 20_000;
    p.busy_us.complete = 20_000;
    p.busy_us.run = 1_000;
    p.busy_us.commit = 5_000;
    p.busy_us.other = 100;
    p.busy_us.abort = 1_000;
    p.reset_ms = 200;
    p.ready_ms = 50;
    p.bus_hz = 0;
    p.driver.transfer_us = 0;
    p
}

/// Builds the image to flash into `out`: the emulator's format with a
/// body of the input's length, or (rarely) raw bytes from the input.
fn flash_image<'b>(input: &mut Input<'_>, header_len: usize, out: &'b mut [u8]) -> &'b [u8] {
    let body_len = usize::from(input.u16()) % MAX_BODY + 1;
    if input.byte() == 0xff {
        let raw = input.take(body_len);
        out[..raw.len()].copy_from_slice(raw);
        return &out[..raw.len()];
    }
    // A start payload shorter than the header format gets the 64-byte
    // header the emulator's images have then.
    let header_len = if header_len < MIN_HEADER_LEN {
        64
    } else {
        header_len.min(MAX_HEADER_LEN)
    };
    let (head, body) = out.split_at_mut(header_len);
    for (i, b) in body[..body_len].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8;
    }
    let written = Header::write(head, header_len, &NEW, &body[..body_len]);
    assert_eq!(written, Some(header_len));
    &out[..header_len + body_len]
}

/// Buffer size [`flash`] needs for its image.
pub const FLASH_IMAGE_BUF: usize = MAX_HEADER_LEN + MAX_BODY;

/// The firmware update against a module built from `data` (see the
/// module documentation for what is checked).
pub fn flash(data: &[u8]) {
    let _ = flash_outcome(data);
}

/// [`flash`], telling whether the update succeeded (`None`: the input
/// makes no valid module).
fn flash_outcome(data: &[u8]) -> Option<bool> {
    let mut input = Input { data };
    let p = module_profile(&mut input);
    p.validate().ok()?;
    let driver_reset = input.pick(&[
        DriverReset::Resets,
        DriverReset::Resets,
        DriverReset::Ignores,
        DriverReset::Lies,
    ]);
    let start_after_reset_ms = input.pick(&[None, Some(0u64), Some(100), Some(400)]);
    let mut image_buf = [0u8; FLASH_IMAGE_BUF];
    let image = flash_image(
        &mut input,
        usize::from(p.start_payload_size),
        &mut image_buf,
    );
    let opts = Options::DEFAULT;
    let now = 5_000 * NS_PER_MS;
    let mut bed = Bed {
        m: Module::new(p, OLD, 0),
        now,
        plan: input,
        next: None,
        accesses: 0,
        lied: false,
        interrupt: None,
        plug_back_after: None,
        driver_reset,
        commits_on_old: 0,
    };
    bed.m.advance(now);
    if let Some(ms) = start_after_reset_ms {
        bed.m.hard_reset(bed.now);
        bed.now += ms * NS_PER_MS;
        bed.m.advance(bed.now);
    }
    let t0 = bed.now;
    let r = update(&mut bed, image, &opts);
    assert!(
        bed.now - t0 < FLASH_TIME_LIMIT,
        "the flash took {} s",
        (bed.now - t0) / 1_000_000_000
    );
    check_outcome(&mut bed, &r);
    Some(r.is_ok())
}

/// The promises of [`flash`] about its outcome.
fn check_outcome(bed: &mut Bed<'_>, r: &Result<Summary, Error>) {
    if let Err(e) = r {
        assert!(shown_len(e) > 0, "an error without a message: {e:?}");
    }
    if !bed.m.is_plugged() {
        bed.m.plug(bed.now);
    }
    // Whatever was left running finishes, and any reset completes.
    bed.m.advance(bed.now + 100_000 * NS_PER_MS);
    let fw = bed.m.firmware();
    assert!(
        fw.bank(fw.running).valid,
        "the module runs an invalid image"
    );
    if bed.lied {
        return;
    }
    assert_eq!(
        bed.m.counters().writes_while_busy,
        0,
        "wrote into a busy CDB"
    );
    assert_eq!(bed.commits_on_old, 0, "committed the image that ran before");
    match r {
        Ok(_) => {
            let b = fw.bank(fw.running);
            assert_eq!(b.version, NEW, "success without the new image running");
            assert_eq!(fw.committed, fw.running, "success without the commit");
        }
        Err(e) => assert!(
            fw.committed == BankId::A || fw.bank(fw.committed).version == NEW,
            "{e}: committed bank {:?} holds neither image",
            fw.committed
        ),
    }
}

/// The image header parser: never panics, and what it accepts the writer
/// reproduces byte for byte. The input is parsed as it is, then sealed
/// (magic, format, a length in range, its CRC computed), so that the
/// fuzzer's bytes reach the fields behind the CRC check, which random
/// bytes almost never pass.
pub fn image_header(data: &[u8]) {
    check_header(data);
    let mut sealed = [0u8; MAX_HEADER_LEN];
    let n = data.len().min(MAX_HEADER_LEN);
    sealed[..n].copy_from_slice(&data[..n]);
    sealed[..4].copy_from_slice(&MAGIC);
    sealed[4] = FORMAT_VERSION;
    let span = (MAX_HEADER_LEN - MIN_HEADER_LEN + 1) as u8;
    sealed[5] = MIN_HEADER_LEN as u8 + sealed[5] % span;
    let crc = crc32(&sealed[..52]);
    sealed[52..56].copy_from_slice(&crc.to_be_bytes());
    let len = usize::from(sealed[5]);
    assert!(
        Header::parse(&sealed[..len]).is_ok(),
        "a sealed header is refused"
    );
    check_header(&sealed[..len]);
}

fn check_header(data: &[u8]) {
    let Ok(h) = Header::parse(data) else {
        return;
    };
    let len = usize::from(h.header_len);
    assert!((MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len));
    assert!(shown_len(&h.version) > 0);
    let _ = h.version.text();
    // The writer's header for a body of this CRC and length is what was
    // parsed, up to the reserved bytes the parser does not keep.
    let mut out = [0u8; MAX_HEADER_LEN];
    let fields = 56;
    if data.len() >= fields {
        let mut again = [0u8; MAX_HEADER_LEN];
        again[..fields].copy_from_slice(&data[..fields]);
        let parsed = Header::parse(&again[..len.max(fields)]);
        assert_eq!(parsed, Ok(h), "parse depends on bytes past the fields");
    }
    let _ = Header::write(&mut out, len, &h.version, &[]);
    let back = Header::parse(&out[..len]).expect("the writer's header parses");
    assert_eq!((back.header_len, back.version), (h.header_len, h.version));
}

/// The control file parsers: never panic, and a parsed value printed and
/// parsed again is the same.
pub fn control_text(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    if let Some(v) = text::parse_u32(s) {
        let mut buf = Buf::<16>::new();
        write!(buf, "{v}").unwrap();
        assert_eq!(text::parse_u32(buf.as_str()), Some(v));
        let mut buf = Buf::<16>::new();
        write!(buf, "{v:#x}").unwrap();
        assert_eq!(text::parse_u32(buf.as_str()), Some(v));
    }
    let _ = text::parse_uint::<u8>(s);
    let _ = text::parse_uint::<u16>(s);
    let _ = text::parse_bool(s);
    if let Some(v) = text::parse_version(s) {
        let mut buf = Buf::<32>::new();
        write!(buf, "{}.{}.{}", v.major, v.minor, v.build).unwrap();
        assert_eq!(text::parse_version(buf.as_str()), Some(v));
    }
    for (key, _) in text::key_values(s).flatten() {
        assert!(!key.contains(char::is_whitespace), "key {key:?}");
    }
}

/// A fixed-size text buffer.
struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Arbitrary host accesses (any page, bank, offset and length, any data,
/// any pause) to a module with settings from the input: the model never
/// panics, a refused access changes nothing the host can see, and the
/// module always runs a valid image.
pub fn emulator(data: &[u8]) {
    let mut input = Input { data };
    let p = module_profile(&mut input);
    if p.validate().is_err() {
        return;
    }
    let mut m = Module::new(p, OLD, 0);
    let mut now: Nanos = 0;
    let mut buf = [0u8; 256];
    let mut steps = 0u32;
    while !input.is_empty() && steps < 10_000 {
        steps += 1;
        let op = input.byte();
        let a = Access {
            i2c_address: 0x50,
            bank: input.byte() % 4,
            page: input.byte(),
            offset: input.byte(),
            len: usize::from(input.byte()),
        };
        match op % 5 {
            0 => {
                let _ = m.read(now, &a, &mut buf[..a.len]);
            }
            1 => {
                let data = input.take(a.len);
                let a = Access {
                    len: data.len(),
                    ..a
                };
                let _ = m.write(now, &a, data);
            }
            2 => now += Nanos::from(input.u16()) * 1_000,
            3 => m.hard_reset(now),
            _ => {
                if let Ok(chunks) = m.transactions(&a) {
                    let mut total = 0;
                    for (t, range) in chunks {
                        assert_eq!(t.len, range.len());
                        total += t.len;
                    }
                    assert_eq!(total, a.len, "transactions do not cover the request");
                }
            }
        }
        m.advance(now);
        let fw = m.firmware();
        assert!(
            fw.bank(fw.running).valid,
            "the module runs an invalid image"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, path::PathBuf, vec::Vec};

    /// A fuzz target.
    type Target = fn(&[u8]);

    /// The targets, by the names of their corpus directories.
    const TARGETS: [(&str, Target); 4] = [
        ("flash", super::flash),
        ("image_header", super::image_header),
        ("control_text", super::control_text),
        ("emulator", super::emulator),
    ];

    /// Every input the fuzzer kept (`tools/fuzz/corpus/<target>/`) passes
    /// again: what it once found stays fixed.
    #[test]
    fn the_kept_corpus_passes() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/fuzz/corpus");
        for (name, target) in TARGETS {
            let mut inputs: Vec<_> = fs::read_dir(root.join(name))
                .unwrap_or_else(|e| panic!("corpus of {name}: {e}"))
                .map(|e| e.unwrap().path())
                .collect();
            inputs.sort();
            assert!(!inputs.is_empty(), "no corpus for {name}");
            for path in inputs {
                let data = fs::read(&path).unwrap();
                if std::panic::catch_unwind(|| target(&data)).is_err() {
                    panic!("{name}: {} fails", path.display());
                }
            }
        }
    }

    /// The seeds of the flash corpus with no fault plan are flashed: the
    /// fuzzer starts from complete updates.
    #[test]
    fn the_profile_seeds_flash() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/fuzz/corpus/flash");
        for i in 0..super::Profile::NAMES.len() {
            let data = fs::read(dir.join(std::format!("profile-{i:02}"))).unwrap();
            assert_eq!(super::flash_outcome(&data), Some(true), "profile-{i:02}");
        }
    }

    /// Pseudo-random inputs, for a quick check that does not need the
    /// fuzzer.
    #[test]
    fn random_inputs_pass() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut data = [0u8; 512];
        for (name, target) in TARGETS {
            for round in 0..300 {
                for b in data.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                let len = (round * 7) % data.len();
                if std::panic::catch_unwind(|| target(&data[..len])).is_err() {
                    panic!("{name}: input {:02x?} fails", &data[..len]);
                }
            }
        }
    }
}
