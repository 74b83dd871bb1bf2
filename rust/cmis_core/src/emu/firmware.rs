// SPDX-License-Identifier: GPL-2.0

//! The emulated module's firmware banks and download state machine.
//!
//! Two banks, A and B, and optionally a factory image. Contents are kept
//! as what a real module would verify them by: length and CRC-32, so the
//! model needs no storage for the image itself. A download (Start, Write
//! blocks, Complete) always targets the bank that is not running and marks
//! it invalid first, so a failed or aborted download never touches the
//! running image.
//!
//! Tests may also set the images up directly ([`Firmware::update`]),
//! within the same invariants: the running bank and the committed bank
//! hold valid images.

use super::super::cdb::Failure;
use super::super::image::{Crc32, Header, Version, MAX_HEADER_LEN, MIN_HEADER_LEN, TEXT_LEN};
use super::super::text::{key_values, parse_bool, parse_version};

pub use super::super::bank::BankId;

/// One firmware bank, or the factory image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bank {
    /// Holds a complete, verified image.
    pub valid: bool,
    /// Version of the image (meaningless when invalid).
    pub version: Version,
    /// Length of the image body (0 for an image set up by hand).
    pub size: u32,
    /// CRC-32 of the image body (0 for an image set up by hand).
    pub crc: u32,
}

impl Bank {
    /// An empty (invalid) bank.
    pub const EMPTY: Self = Self {
        valid: false,
        version: Version::new(0, 0, 0),
        size: 0,
        crc: 0,
    };

    /// A valid bank holding `version`.
    pub const fn with_version(version: Version) -> Self {
        Self {
            valid: true,
            version,
            size: 0,
            crc: 0,
        }
    }
}

/// Failure code 70h: the image is incomplete at Complete.
pub const FAILURE_IMAGE_INCOMPLETE: Failure = Failure(0x30);
/// Failure code 71h: the image's CRC does not match at Complete.
pub const FAILURE_IMAGE_CORRUPT: Failure = Failure(0x31);

/// A download in progress.
///
/// The module sees the image as one stream: the Start payload (the first
/// StartCmdPayloadSize bytes of the file), then the blocks. The image's
/// own header (56 to 112 bytes, `image.rs`) is parsed from the start of
/// that stream, so a module whose StartCmdPayloadSize is shorter than the
/// header (any size from 0 is legal) finds the rest of the header in the
/// first blocks; the body CRC covers the stream past the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Download {
    /// Bank being written.
    pub target: BankId,
    /// The image header: parsed at Start, or from the first blocks when
    /// the Start payload is shorter than it (all zero until then).
    pub header: Header,
    /// Bytes the module expects in blocks (image size minus the Start
    /// payload).
    pub expected: u32,
    /// Block bytes received so far; blocks arrive in order.
    pub received: u32,
    crc: Crc32,
    /// ImageSize from Start.
    image_size: u32,
    /// The first bytes of the stream, until the header is complete.
    head: [u8; MAX_HEADER_LEN],
    /// Bytes in `head`.
    head_len: u8,
    /// The header is parsed and checked.
    parsed: bool,
}

const NO_HEADER: Header = Header {
    header_len: 0,
    version: Version::new(0, 0, 0),
    body_len: 0,
    body_crc: 0,
};

impl Download {
    fn new(target: BankId, image_size: u32, rules: &DownloadRules) -> Self {
        Self {
            target,
            header: NO_HEADER,
            expected: image_size - u32::from(rules.header_len),
            received: 0,
            crc: Crc32::new(),
            image_size,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            parsed: false,
        }
    }

    /// Bytes of the stream still wanted in `head`: the first six (up to
    /// the header length field), then the rest of the header.
    fn head_wanted(&self) -> usize {
        let n = self.head_len as usize;
        if n < 6 {
            6 - n
        } else {
            (self.head[5] as usize).saturating_sub(n)
        }
    }

    /// Takes the next bytes of the image stream.
    fn feed(&mut self, rules: &DownloadRules, mut data: &[u8]) -> Result<(), Failure> {
        while !self.parsed && !data.is_empty() {
            let n = self.head_wanted().min(data.len());
            let at = self.head_len as usize;
            self.head[at..at + n].copy_from_slice(&data[..n]);
            self.head_len += n as u8;
            data = &data[n..];
            self.check_head(rules)?;
        }
        self.crc.update(data);
        Ok(())
    }

    /// Takes `count` bytes of `byte` (skipped erased blocks).
    fn feed_repeated(
        &mut self,
        rules: &DownloadRules,
        byte: u8,
        mut count: usize,
    ) -> Result<(), Failure> {
        // At most MAX_HEADER_LEN bytes go through the header first.
        while !self.parsed && count > 0 {
            let n = self.head_wanted().min(count);
            let at = self.head_len as usize;
            self.head[at..at + n].fill(byte);
            self.head_len += n as u8;
            count -= n;
            self.check_head(rules)?;
        }
        self.crc.update_repeated(byte, count);
        Ok(())
    }

    /// Checks the header once its length, then all of it, is known.
    fn check_head(&mut self, rules: &DownloadRules) -> Result<(), Failure> {
        let n = self.head_len as usize;
        if n < 6 {
            return Ok(());
        }
        let len = self.head[5] as usize;
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len)
            || (rules.header_len as usize >= MIN_HEADER_LEN && len != rules.header_len as usize)
        {
            // A Start payload long enough for a header must be exactly
            // the header, as before.
            return Err(Failure::PARAMETER);
        }
        if n < len {
            return Ok(());
        }
        let h = Header::parse(&self.head[..len]).map_err(|_| Failure::PARAMETER)?;
        let body = self.image_size.checked_sub(len as u32);
        if body != Some(h.body_len) || h.body_len > rules.capacity {
            return Err(Failure::PARAMETER);
        }
        self.header = h;
        self.parsed = true;
        Ok(())
    }
}

/// Firmware state of a module: banks, which one runs, which one is
/// committed, and the download in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Firmware {
    /// Banks A and B.
    pub banks: [Bank; 2],
    /// The factory (boot) image; the module has one if it is valid. It
    /// is never run nor committed: the model boots banks A and B only.
    pub factory: Bank,
    /// Bank the module runs.
    pub running: BankId,
    /// Bank the module boots after a reset.
    pub committed: BankId,
    /// Download in progress.
    pub download: Option<Download>,
}

/// Download parameters the module advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadRules {
    /// StartCmdPayloadSize: header bytes sent with Start.
    pub header_len: u8,
    /// Largest image body a bank can hold.
    pub capacity: u32,
    /// Whether gaps between blocks are allowed (filled with `erased_byte`).
    pub skip_erased: bool,
    /// Value of an erased byte.
    pub erased_byte: u8,
}

impl Firmware {
    /// A module running a valid image `version` from bank A, committed,
    /// with bank B empty.
    pub const fn new(version: Version) -> Self {
        Self {
            banks: [Bank::with_version(version), Bank::EMPTY],
            factory: Bank::EMPTY,
            running: BankId::A,
            committed: BankId::A,
            download: None,
        }
    }

    /// The bank a bank id names.
    pub fn bank(&self, id: BankId) -> &Bank {
        &self.banks[id as usize]
    }

    fn bank_mut(&mut self, id: BankId) -> &mut Bank {
        &mut self.banks[id as usize]
    }

    /// The image in `slot`.
    pub fn image(&self, slot: Slot) -> &Bank {
        match slot {
            Slot::Bank(id) => self.bank(id),
            Slot::Factory => &self.factory,
        }
    }

    fn image_mut(&mut self, slot: Slot) -> &mut Bank {
        match slot {
            Slot::Bank(id) => self.bank_mut(id),
            Slot::Factory => &mut self.factory,
        }
    }

    /// Version of the running image.
    pub fn active_version(&self) -> Version {
        self.bank(self.running).version
    }

    /// Version of the other bank, if it holds a valid image.
    pub fn inactive_version(&self) -> Option<Version> {
        let b = self.bank(self.running.other());
        b.valid.then_some(b.version)
    }

    /// 0101h Start Firmware Download with an image of `image_size` bytes
    /// (header included) whose first StartCmdPayloadSize bytes are
    /// `header`. The image header is checked here when `header` holds it,
    /// else as the first blocks bring the rest of it (see [`Download`]).
    pub fn start(
        &mut self,
        rules: &DownloadRules,
        image_size: u32,
        header: &[u8],
    ) -> Result<(), Failure> {
        let n = u32::from(rules.header_len);
        if header.len() != rules.header_len as usize || image_size < n {
            return Err(Failure::PARAMETER);
        }
        if image_size - n > rules.capacity.saturating_add(MAX_HEADER_LEN as u32) {
            return Err(Failure::PARAMETER);
        }
        // A new Start restarts any download in progress; a refused one
        // leaves it as it was.
        let target = self.running.other();
        let mut d = Download::new(target, image_size, rules);
        d.feed(rules, header)?;
        *self.bank_mut(target) = Bank::EMPTY;
        if self.committed == target {
            // The committed image is gone: boot the running one instead.
            self.committed = self.running;
        }
        self.download = Some(d);
        Ok(())
    }

    /// 0103h/0104h: a block of `data` at block address `address` (image
    /// offset minus StartCmdPayloadSize).
    pub fn write_block(
        &mut self,
        rules: &DownloadRules,
        address: u32,
        data: &[u8],
    ) -> Result<(), Failure> {
        let d = self.download.as_mut().ok_or(Failure::BAD_STATE)?;
        let len = u32::try_from(data.len()).map_err(|_| Failure::PARAMETER)?;
        let end = address.checked_add(len).ok_or(Failure::PARAMETER)?;
        if data.is_empty() || end > d.expected || address < d.received {
            return Err(Failure::PARAMETER);
        }
        // On a copy: a refused block changes nothing.
        let mut next = *d;
        if address > next.received {
            if !rules.skip_erased {
                return Err(Failure::PARAMETER);
            }
            next.feed_repeated(rules, rules.erased_byte, (address - next.received) as usize)?;
        }
        next.feed(rules, data)?;
        next.received = end;
        *d = next;
        Ok(())
    }

    /// 0107h Complete Firmware Download: verifies the image and, if it is
    /// good, makes the target bank valid.
    pub fn complete(&mut self, rules: &DownloadRules) -> Result<(), Failure> {
        let mut d = self.download.take().ok_or(Failure::BAD_STATE)?;
        if d.received < d.expected {
            if !rules.skip_erased {
                return Err(FAILURE_IMAGE_INCOMPLETE);
            }
            let rest = (d.expected - d.received) as usize;
            d.feed_repeated(rules, rules.erased_byte, rest)
                .map_err(|_| FAILURE_IMAGE_CORRUPT)?;
        }
        if !d.parsed || d.crc.value() != d.header.body_crc {
            // Shorter than its header, or a body that does not match it.
            return Err(FAILURE_IMAGE_CORRUPT);
        }
        *self.bank_mut(d.target) = Bank {
            valid: true,
            version: d.header.version,
            size: d.header.body_len,
            crc: d.header.body_crc,
        };
        Ok(())
    }

    /// 0102h Abort Firmware Download: the target bank stays invalid.
    pub fn abort(&mut self) {
        self.download = None;
    }

    /// Power lost while a block was being written: the download is gone
    /// and its target bank is invalid; the running image is untouched.
    pub fn lose_download(&mut self) {
        if let Some(d) = self.download.take() {
            *self.bank_mut(d.target) = Bank::EMPTY;
        }
    }

    /// Checks that 0109h Run Firmware Image can run in `mode` and returns
    /// the bank the module will boot.
    pub fn run_target(&self, mode: u8) -> Result<BankId, Failure> {
        match mode {
            0 | 1 => {
                let target = self.running.other();
                if self.bank(target).valid && self.download.is_none() {
                    Ok(target)
                } else {
                    Err(Failure::BAD_STATE)
                }
            }
            2 | 3 => Ok(self.running),
            _ => Err(Failure::PARAMETER),
        }
    }

    /// A reset into `bank` (Run). A download in progress is lost; if the
    /// bank is not valid the module falls back to the committed bank, then
    /// to any valid bank, so it always runs a valid image.
    pub fn boot(&mut self, bank: BankId) {
        self.lose_download();
        self.running = if self.bank(bank).valid {
            bank
        } else if self.bank(self.committed).valid {
            self.committed
        } else {
            bank.other()
        };
    }

    /// 010Ah Commit Firmware Image: the running bank becomes the one booted
    /// after a reset.
    pub fn commit(&mut self) {
        self.committed = self.running;
    }

    /// Sets up `slot` directly, for tests: validity, version, text, and
    /// for a bank whether it is committed. The running bank does not
    /// change here, as it does not on a real module without a reset:
    /// commit a bank and reset the module to run it. A download into a
    /// bank whose image is set is abandoned.
    ///
    /// Refused, with nothing changed, if the running or the committed bank
    /// would not be valid, if `running` asks for another running bank, or
    /// if the factory image is to be committed or run.
    pub fn update(&mut self, slot: Slot, u: &ImageUpdate<'_>) -> Result<(), &'static str> {
        let mut next = *self;
        let image = next.image_mut(slot);
        let contents = u.valid.is_some() || u.number.is_some() || u.text.is_some();
        if let Some(valid) = u.valid {
            image.valid = valid;
        }
        if let Some((major, minor, build)) = u.number {
            image.version = Version {
                major,
                minor,
                build,
                ..image.version
            };
        }
        if let Some(text) = u.text {
            if text.len() > TEXT_LEN {
                return Err("text has at most 32 bytes");
            }
            image.version = image.version.with_text(text);
        }
        if contents {
            // No longer the image a download left, if it was one.
            image.size = 0;
            image.crc = 0;
        }
        match slot {
            Slot::Factory => {
                if u.committed.is_some() || u.running.is_some() {
                    return Err("the factory image is never committed or running");
                }
            }
            Slot::Bank(id) => {
                if u.running.is_some_and(|r| r != (next.running == id)) {
                    return Err("the running bank changes at a reset only: commit it and reset");
                }
                match u.committed {
                    Some(true) => next.committed = id,
                    Some(false) if next.committed == id => next.committed = id.other(),
                    _ => {}
                }
                if contents && next.download.is_some_and(|d| d.target == id) {
                    next.download = None;
                }
            }
        }
        if !next.bank(next.running).valid {
            return Err("the running bank must stay valid");
        }
        if !next.bank(next.committed).valid {
            return Err("the committed bank must be valid");
        }
        *self = next;
        Ok(())
    }
}

/// A firmware image tests set up directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Bank A or B.
    Bank(BankId),
    /// The factory image.
    Factory,
}

/// Changes to one image ([`Firmware::update`]); `None` keeps a field as
/// it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageUpdate<'a> {
    /// Holds a valid image.
    pub valid: Option<bool>,
    /// Major, minor and build numbers.
    pub number: Option<(u8, u8, u16)>,
    /// Version text, at most 32 bytes.
    pub text: Option<&'a str>,
    /// Is (`true`) or is not (`false`: the other bank is) the committed
    /// bank.
    pub committed: Option<bool>,
    /// Is the running bank: only accepted when it says what is already
    /// true, so that a shown line can be written back.
    pub running: Option<bool>,
}

impl<'a> ImageUpdate<'a> {
    /// Parses `key=value` pairs separated by white space, as the debugfs
    /// image files show them: `valid=0|1`, `version=MAJOR.MINOR.BUILD`,
    /// `text=TEXT` or `text="TEXT WITH SPACES"`, `committed=0|1`,
    /// `running=0|1`.
    pub fn parse(s: &'a str) -> Result<Self, &'static str> {
        let mut u = Self::default();
        for pair in key_values(s) {
            let (key, value) = pair?;
            let flag = || parse_bool(value).ok_or("expected 0 or 1");
            match key {
                "valid" => u.valid = Some(flag()?),
                "committed" => u.committed = Some(flag()?),
                "running" => u.running = Some(flag()?),
                "version" => {
                    let v = parse_version(value).ok_or("version is MAJOR.MINOR.BUILD")?;
                    u.number = Some((v.major, v.minor, v.build));
                }
                "text" => u.text = Some(value),
                _ => return Err("unknown key"),
            }
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::image::crc32;
    use super::*;

    const RULES: DownloadRules = DownloadRules {
        header_len: 64,
        capacity: 4096,
        skip_erased: false,
        erased_byte: 0xFF,
    };

    fn image(version: Version, body: &[u8]) -> [u8; 64] {
        let mut h = [0u8; 64];
        Header::write(&mut h, 64, &version, body).unwrap();
        h
    }

    #[test]
    fn download_run_commit() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        let body = [7u8; 300];
        let v2 = Version::new(2, 0, 5);
        fw.start(&RULES, 364, &image(v2, &body)).unwrap();
        assert!(!fw.bank(BankId::B).valid);
        fw.write_block(&RULES, 0, &body[..116]).unwrap();
        fw.write_block(&RULES, 116, &body[116..]).unwrap();
        fw.complete(&RULES).unwrap();
        assert_eq!(fw.inactive_version(), Some(v2));
        assert_eq!(fw.bank(BankId::B).crc, crc32(&body));
        assert_eq!(fw.run_target(0), Ok(BankId::B));
        fw.boot(BankId::B);
        assert_eq!(fw.active_version(), v2);
        assert_eq!(fw.committed, BankId::A);
        fw.commit();
        assert_eq!(fw.committed, BankId::B);
    }

    #[test]
    fn corrupt_or_short_images_never_become_valid() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        let body = [7u8; 100];
        let hdr = image(Version::new(2, 0, 0), &body);
        fw.start(&RULES, 164, &hdr).unwrap();
        fw.write_block(&RULES, 0, &body[..50]).unwrap();
        assert_eq!(fw.complete(&RULES), Err(FAILURE_IMAGE_INCOMPLETE));
        assert!(!fw.bank(BankId::B).valid);
        assert_eq!(fw.run_target(0), Err(Failure::BAD_STATE));

        fw.start(&RULES, 164, &hdr).unwrap();
        let mut bad = body;
        bad[10] ^= 0x40;
        fw.write_block(&RULES, 0, &bad).unwrap();
        assert_eq!(fw.complete(&RULES), Err(FAILURE_IMAGE_CORRUPT));
        assert!(!fw.bank(BankId::B).valid);
        assert_eq!(fw.active_version(), Version::new(1, 0, 0));
    }

    #[test]
    fn block_rules() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        assert_eq!(fw.write_block(&RULES, 0, &[1]), Err(Failure::BAD_STATE));
        let body = [1u8; 200];
        fw.start(&RULES, 264, &image(Version::new(2, 0, 0), &body))
            .unwrap();
        // Gap, overlap, overrun, empty block.
        assert_eq!(fw.write_block(&RULES, 10, &[1]), Err(Failure::PARAMETER));
        fw.write_block(&RULES, 0, &body[..100]).unwrap();
        assert_eq!(fw.write_block(&RULES, 50, &[1]), Err(Failure::PARAMETER));
        assert_eq!(
            fw.write_block(&RULES, 100, &[1; 101]),
            Err(Failure::PARAMETER)
        );
        assert_eq!(fw.write_block(&RULES, 100, &[]), Err(Failure::PARAMETER));
        assert_eq!(
            fw.write_block(&RULES, u32::MAX, &[1]),
            Err(Failure::PARAMETER)
        );
    }

    #[test]
    fn erased_blocks_may_be_skipped_when_advertised() {
        let rules = DownloadRules {
            skip_erased: true,
            ..RULES
        };
        let mut body = [0xFFu8; 400];
        body[0..10].fill(3);
        body[390..].fill(4);
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        fw.start(&rules, 464, &image(Version::new(3, 0, 0), &body))
            .unwrap();
        fw.write_block(&rules, 0, &body[..10]).unwrap();
        fw.write_block(&rules, 390, &body[390..]).unwrap();
        fw.complete(&rules).unwrap();
        assert!(fw.bank(BankId::B).valid);
    }

    #[test]
    fn start_checks_header_and_size() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        let hdr = image(Version::new(2, 0, 0), &[0; 100]);
        assert_eq!(fw.start(&RULES, 165, &hdr), Err(Failure::PARAMETER));
        assert_eq!(fw.start(&RULES, 60, &hdr), Err(Failure::PARAMETER));
        assert_eq!(fw.start(&RULES, 164, &hdr[..63]), Err(Failure::PARAMETER));
        let mut bad = hdr;
        bad[0] = 0;
        assert_eq!(fw.start(&RULES, 164, &bad), Err(Failure::PARAMETER));
        let big = image(Version::new(2, 0, 0), &[0; 5000]);
        assert_eq!(fw.start(&RULES, 5064, &big), Err(Failure::PARAMETER));
        assert!(fw.download.is_none());
    }

    #[test]
    fn a_start_payload_shorter_than_the_header() {
        // The header comes partly with Start, the rest with the blocks,
        // however they are cut; a gap in it is filled with erased bytes.
        let body = [5u8; 300];
        let v = Version::new(2, 0, 1);
        let mut img = std::vec![0u8; 64];
        Header::write(&mut img, 64, &v, &body).unwrap();
        img.extend_from_slice(&body);
        for n in [0usize, 3, 6, 20, 55] {
            let rules = DownloadRules {
                header_len: n as u8,
                ..RULES
            };
            let mut fw = Firmware::new(Version::new(1, 0, 0));
            fw.start(&rules, img.len() as u32, &img[..n]).unwrap();
            assert!(fw.download.unwrap().header.version.major == 0, "not yet");
            let mut at = n;
            for len in [1, 5, 60, 7, 1000] {
                let end = (at + len).min(img.len());
                fw.write_block(&rules, (at - n) as u32, &img[at..end])
                    .unwrap();
                at = end;
            }
            assert_eq!(fw.download.unwrap().header.version, v);
            fw.complete(&rules).unwrap();
            assert_eq!(fw.bank(BankId::B).version, v, "{n}");
            assert_eq!(fw.bank(BankId::B).size, 300);
        }
        // Skipped erased bytes count, in the header too.
        let rules = DownloadRules {
            header_len: 0,
            skip_erased: true,
            ..RULES
        };
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        fw.start(&rules, img.len() as u32, &[]).unwrap();
        assert_eq!(
            fw.write_block(&rules, 1, &img[1..100]),
            Err(Failure::PARAMETER)
        );
        assert_eq!(
            fw.download.unwrap().received,
            0,
            "a refused block changes nothing"
        );
        fw.write_block(&rules, 0, &img[..100]).unwrap();
        fw.complete(&rules).unwrap_err();
    }

    fn update(fw: &mut Firmware, slot: Slot, s: &str) -> Result<(), &'static str> {
        fw.update(slot, &ImageUpdate::parse(s)?)
    }

    #[test]
    fn image_updates_parse() {
        assert_eq!(
            ImageUpdate::parse("valid=1 version=2.1.7 text=\"two words\" committed=0"),
            Ok(ImageUpdate {
                valid: Some(true),
                number: Some((2, 1, 7)),
                text: Some("two words"),
                committed: Some(false),
                running: None,
            })
        );
        assert_eq!(ImageUpdate::parse(""), Ok(ImageUpdate::default()));
        assert_eq!(ImageUpdate::parse("running=1").unwrap().running, Some(true));
        assert!(ImageUpdate::parse("size=3").is_err());
        assert!(ImageUpdate::parse("valid=2").is_err());
        assert!(ImageUpdate::parse("version=2.1").is_err());
        assert!(ImageUpdate::parse("valid").is_err());
    }

    #[test]
    fn banks_are_set_up_within_the_invariants() {
        let a = Slot::Bank(BankId::A);
        let b = Slot::Bank(BankId::B);
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        update(&mut fw, b, "valid=1 version=2.1.7 text=two").unwrap();
        assert_eq!(
            fw.inactive_version(),
            Some(Version::new(2, 1, 7).with_text("two"))
        );
        // Text and numbers change apart.
        update(&mut fw, b, "text=three").unwrap();
        assert_eq!(
            fw.bank(BankId::B).version,
            Version::new(2, 1, 7).with_text("three")
        );
        update(&mut fw, b, "valid=0").unwrap();
        assert_eq!(fw.inactive_version(), None);

        let before = fw;
        for (slot, s) in [
            (a, "valid=0"),     // the running bank
            (b, "committed=1"), // an invalid bank
            (b, "running=1"),   // only at a reset
            (a, "running=0"),   // likewise
            (a, "committed=0"), // B is invalid
            (b, "valid=1 committed=1 running=1"),
            (Slot::Factory, "committed=1"),
            (Slot::Factory, "running=0"),
            (b, "text=\"thirty-three bytes of version txt\""),
        ] {
            assert!(update(&mut fw, slot, s).is_err(), "{s}");
            assert_eq!(fw, before, "{s}: nothing changed");
        }

        // A shown line can be written back.
        update(&mut fw, a, "valid=1 version=1.0.0 committed=1 running=1").unwrap();
        assert_eq!(fw, before);
        update(&mut fw, b, "valid=1 committed=1").unwrap();
        assert_eq!((fw.running, fw.committed), (BankId::A, BankId::B));
        update(&mut fw, b, "committed=0").unwrap();
        assert_eq!(fw.committed, BankId::A, "the other bank");

        update(&mut fw, Slot::Factory, "valid=1 version=0.9.0").unwrap();
        assert!(fw.factory.valid);
        assert_eq!(fw.factory.version, Version::new(0, 9, 0));
        update(&mut fw, Slot::Factory, "valid=0").unwrap();
        assert!(!fw.factory.valid);
    }

    #[test]
    fn setting_up_a_download_target_abandons_the_download() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        let body = [9u8; 10];
        fw.start(&RULES, 74, &image(Version::new(2, 0, 0), &body))
            .unwrap();
        update(&mut fw, Slot::Bank(BankId::A), "text=running").unwrap();
        assert!(fw.download.is_some(), "not the target");
        update(&mut fw, Slot::Bank(BankId::B), "committed=0").unwrap();
        assert!(fw.download.is_some(), "no new contents");
        update(&mut fw, Slot::Bank(BankId::B), "valid=1 version=3.0.0").unwrap();
        assert!(fw.download.is_none());
        assert_eq!(fw.write_block(&RULES, 0, &body), Err(Failure::BAD_STATE));
    }

    #[test]
    fn lost_download_and_fallback_boot() {
        let mut fw = Firmware::new(Version::new(1, 0, 0));
        let body = [9u8; 10];
        fw.start(&RULES, 74, &image(Version::new(2, 0, 0), &body))
            .unwrap();
        fw.write_block(&RULES, 0, &body[..5]).unwrap();
        fw.lose_download();
        assert!(!fw.bank(BankId::B).valid);
        // Booting an invalid bank falls back to the committed one.
        fw.boot(BankId::B);
        assert_eq!(fw.running, BankId::A);
        assert!(fw.bank(fw.running).valid);
    }
}
