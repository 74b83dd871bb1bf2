// SPDX-License-Identifier: GPL-2.0

//! What a module says about itself: the lower-memory identity bytes and
//! version registers, the CDB advertisement in page 01h and the replies of
//! Module Features (0040h), Firmware Management Features (0041h) and Get
//! Firmware Info (0100h). Pure decoding, no policy.

use super::super::map::identifier;
use super::CommandId;

/// Lower memory bytes 0-3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// SFF-8024 identifier (00h:0).
    pub identifier: u8,
    /// CMIS revision (00h:1), major in the high nibble.
    pub revision: u8,
    /// Flat memory (00h:2 bit 7): no pages, hence no CDB.
    pub flat_memory: bool,
    /// Module state (00h:3 bits 3-1).
    pub state: u8,
}

/// ModuleLowPwr and ModuleReady (00h:3 bits 3-1), the states in which a
/// module that has come back from a reset can take commands.
pub const fn state_is_up(state: u8) -> bool {
    matches!(state, 1 | 3)
}

/// Module states (00h:3 bits 3-1).
pub mod module_state {
    /// ModuleLowPwr.
    pub const LOW_PWR: u8 = 1;
    /// ModulePwrUp.
    pub const PWR_UP: u8 = 2;
    /// ModuleReady.
    pub const READY: u8 = 3;
    /// ModulePwrDn.
    pub const PWR_DN: u8 = 4;
    /// ModuleFault.
    pub const FAULT: u8 = 5;

    /// The state's name.
    pub const fn name(state: u8) -> &'static str {
        match state {
            LOW_PWR => "ModuleLowPwr",
            PWR_UP => "ModulePwrUp",
            READY => "ModuleReady",
            PWR_DN => "ModulePwrDn",
            FAULT => "ModuleFault",
            _ => "reserved state",
        }
    }
}

/// Lower memory byte holding the module fault cause (00h:41).
pub const FAULT_CAUSE: u8 = 41;
/// Inactive firmware major, minor (01h:128-129).
pub const INACTIVE_FW_VERSION: u8 = 128;

/// A firmware version as the version registers give it (00h:39-40 for the
/// running image, 01h:128-129 for the other one): major and minor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
}

impl RegVersion {
    /// Decodes the two register bytes.
    pub const fn decode(b: [u8; 2]) -> Self {
        Self {
            major: b[0],
            minor: b[1],
        }
    }

    /// 00h.00h means "no image", FFh.FFh "image invalid".
    pub const fn is_valid(&self) -> bool {
        !matches!((self.major, self.minor), (0, 0) | (0xff, 0xff))
    }
}

impl core::fmt::Display for RegVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Identity {
    /// Decodes 00h:0-3.
    pub const fn decode(b: [u8; 4]) -> Self {
        Self {
            identifier: b[0],
            revision: b[1],
            flat_memory: b[2] & 0x80 != 0,
            state: module_state(b[3]),
        }
    }

    /// Whether the identifier is one of the CMIS module types.
    pub const fn is_cmis(&self) -> bool {
        identifier::is_cmis(self.identifier)
    }

    /// CMIS major revision.
    pub const fn major(&self) -> u8 {
        self.revision >> 4
    }
}

/// The module state field of 00h:3.
pub const fn module_state(b: u8) -> u8 {
    (b >> 1) & 7
}

/// Page 01h bytes 163-167: CDB support and limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CdbAdvert {
    /// CdbInstancesSupported (0 = no CDB).
    pub instances: u8,
    /// Background mode supported; in foreground mode the module NACKs
    /// every access while a command runs.
    pub background: bool,
    /// CdbAutoPagingSupported.
    pub auto_paging: bool,
    /// EPL pages available (CdbMaxPagesEPL decoded; reserved codes give 0).
    pub epl_pages: usize,
    /// CdbReadWriteLengthExtension for commands below 0100h.
    pub rw_len_ext: u8,
    /// T_CDBB, the maximum time the module may be busy with a command, ms.
    pub max_busy_ms: u32,
    /// Upper bound of MaxDurationModulePwrUp (01h:167 bits 3-0), ms;
    /// `None` for codes without an upper bound.
    pub power_up_ms: Option<u32>,
}

impl CdbAdvert {
    /// Decodes 01h:163-167.
    pub const fn decode(b: [u8; 5]) -> Self {
        let max_busy_ms = if b[3] & 0x80 != 0 {
            let x = (b[2] & 0x1f) as u32;
            (if x == 0 { 1 } else { x }) * 160
        } else {
            let x = (b[3] & 0x7f) as u32;
            80 - if x > 80 { 80 } else { x }
        };
        Self {
            instances: b[0] >> 6,
            background: b[0] & 0x20 != 0,
            auto_paging: b[0] & 0x10 != 0,
            epl_pages: epl_pages(b[0] & 0x0f),
            rw_len_ext: b[1],
            max_busy_ms,
            power_up_ms: duration_code_max_ms(b[4] & 0x0f),
        }
    }
}

/// Number of EPL pages for a CdbMaxPagesEPL code; reserved codes 8-15
/// give 0 so that nothing relies on them.
pub const fn epl_pages(code: u8) -> usize {
    match code {
        0..=4 => code as usize,
        5 => 8,
        6 => 12,
        7 => 16,
        _ => 0,
    }
}

/// Upper bound in ms of a 4-bit module duration code (01h:167).
pub const fn duration_code_max_ms(code: u8) -> Option<u32> {
    Some(match code {
        0 => 1,
        1 => 5,
        2 => 10,
        3 => 50,
        4 => 100,
        5 => 500,
        6 => 1_000,
        7 => 5_000,
        8 => 10_000,
        9 => 60_000,
        0xa => 300_000,
        0xb => 600_000,
        0xc => 3_000_000,
        _ => return None,
    })
}

/// Longest access allowed on page 9Fh for a read/write length extension.
pub const fn lpl_access_max(rw_len_ext: u8) -> usize {
    let i = if rw_len_ext > 15 { 15 } else { rw_len_ext };
    8 * (1 + i as usize)
}

/// Longest access allowed on an EPL page for a read/write length
/// extension (within one page unless the module auto-pages).
pub const fn epl_access_max(rw_len_ext: u8) -> usize {
    let n = 8 * (1 + rw_len_ext as usize);
    if n > 2048 {
        2048
    } else {
        n
    }
}

/// Length of the Module Features (0040h) reply this code needs.
pub const MODULE_FEATURES_LEN: u8 = 36;

/// The part of the Module Features (0040h) reply this code uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleFeatures {
    /// Bitmap of the supported commands 0000h-00FFh (bit `id % 8` of
    /// byte `id / 8`).
    pub commands: [u8; 32],
    /// MaxCompletionTime of all supported commands, ms (0 = not given).
    pub max_completion_ms: u16,
}

impl ModuleFeatures {
    /// Decodes a verified reply of at least [`MODULE_FEATURES_LEN`] bytes.
    pub fn decode(reply: &[u8]) -> Self {
        let mut commands = [0u8; 32];
        commands.copy_from_slice(&reply[2..34]);
        Self {
            commands,
            max_completion_ms: be16(&reply[34..36]),
        }
    }

    /// Whether the module lists command `id` as supported; `None` where
    /// the list says nothing: an id above 00FFh, or a list that leaves
    /// out 0040h itself (some modules leave the bitmap empty).
    pub fn lists(&self, id: CommandId) -> Option<bool> {
        let listed = |i: u16| {
            let byte = self.commands.get(usize::from(i / 8))?;
            Some(byte & (1 << (i % 8)) != 0)
        };
        if listed(CommandId::MODULE_FEATURES.0) != Some(true) {
            return None;
        }
        listed(id.0)
    }
}

/// Length of the Firmware Management Features (0041h) reply.
pub const FW_FEATURES_LEN: u8 = 18;

/// Write mechanisms (0041h byte 141).
pub mod write_mechanism {
    /// Write Firmware Block LPL (0103h) supported.
    pub const LPL: u8 = 0x01;
    /// Write Firmware Block EPL (0104h) supported.
    pub const EPL: u8 = 0x10;
    /// EPL as some modules and hosts encode it (bit 1: 02h EPL only, 03h
    /// both; SONiC's table, FBOSS accepts 03h as EPL).
    pub const EPL_ALT: u8 = 0x02;

    /// Whether `wm` offers Write Firmware Block LPL.
    pub const fn has_lpl(wm: u8) -> bool {
        wm & LPL != 0
    }

    /// Whether `wm` offers Write Firmware Block EPL, in either encoding.
    pub const fn has_epl(wm: u8) -> bool {
        wm & (EPL | EPL_ALT) != 0
    }
}

/// The Firmware Management Features (0041h) reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FwFeatures {
    /// Abort Firmware Download (0102h) supported.
    pub abort: bool,
    /// Run Firmware Image may restart without traffic impact (byte 143).
    pub hitless_restart: bool,
    /// Blocks made only of `erased_byte` may be skipped.
    pub skip_erased: bool,
    /// Unit of the durations below, 1 or 10 ms (MaxDurationCoding).
    pub unit_ms: u32,
    /// StartCmdPayloadSize: bytes of the image sent with Start.
    pub start_payload_size: u8,
    /// ErasedByte.
    pub erased_byte: u8,
    /// Read/write length extension for commands 0100h-01FFh.
    pub rw_len_ext: u8,
    /// Write mechanism bits, see [`write_mechanism`].
    pub write_mechanism: u8,
    /// MaxDurationStart, Abort, Write, Complete, Copy, in ms.
    pub max_ms: [u32; 5],
}

/// Index of each duration in [`FwFeatures::max_ms`].
pub mod duration {
    /// Start Firmware Download.
    pub const START: usize = 0;
    /// Abort Firmware Download.
    pub const ABORT: usize = 1;
    /// Write Firmware Block.
    pub const WRITE: usize = 2;
    /// Complete Firmware Download.
    pub const COMPLETE: usize = 3;
    /// Copy Firmware Image.
    pub const COPY: usize = 4;
}

impl FwFeatures {
    /// Decodes a verified reply of at least [`FW_FEATURES_LEN`] bytes.
    pub fn decode(r: &[u8]) -> Self {
        let unit_ms = if r[1] & 0x08 != 0 { 10 } else { 1 };
        let mut max_ms = [0u32; 5];
        for (i, d) in max_ms.iter_mut().enumerate() {
            *d = u32::from(be16(&r[8 + 2 * i..10 + 2 * i])) * unit_ms;
        }
        Self {
            abort: r[1] & 0x01 != 0,
            hitless_restart: r[7] != 0,
            skip_erased: r[1] & 0x04 != 0,
            unit_ms,
            start_payload_size: r[2],
            erased_byte: r[3],
            rw_len_ext: r[4],
            write_mechanism: r[5],
            max_ms,
        }
    }
}

pub use super::super::bank::BankId;

/// Minimum length of a Get Firmware Info reply: the status and the
/// information-present bytes.
pub const FW_INFO_MIN_LEN: u8 = 2;
/// Length of a Get Firmware Info reply with all three images described.
pub const FW_INFO_MAX_LEN: u8 = 110;

/// Status of one bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BankStatus {
    /// The module runs this image.
    pub running: bool,
    /// The module boots this image on reset.
    pub committed: bool,
    /// The image is valid (not empty or corrupt).
    pub valid: bool,
}

/// An image's version as Get Firmware Info gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Build.
    pub build: u16,
}

impl ImageVersion {
    /// The major and minor numbers, as the version registers show them.
    pub const fn reg(&self) -> RegVersion {
        RegVersion {
            major: self.major,
            minor: self.minor,
        }
    }
}

impl core::fmt::Display for ImageVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// The Get Firmware Info (0100h) reply: which bank runs, which is
/// committed, which are valid, and their versions where given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FwInfo {
    status: u8,
    versions: [Option<ImageVersion>; 2],
}

impl FwInfo {
    /// Decodes a verified reply of at least [`FW_INFO_MIN_LEN`] bytes.
    /// Version fields the reply is too short to hold count as not given.
    pub fn decode(r: &[u8]) -> Self {
        let mut versions = [None; 2];
        for (i, v) in versions.iter_mut().enumerate() {
            *v = fw_info_image(r, i).map(|(version, _)| version);
        }
        Self {
            status: r[0],
            versions,
        }
    }

    /// The status of `bank`.
    pub const fn bank(&self, bank: BankId) -> BankStatus {
        let s = match bank {
            BankId::A => self.status,
            BankId::B => self.status >> 4,
        };
        BankStatus {
            running: s & 1 != 0,
            committed: s & 2 != 0,
            valid: s & 4 == 0,
        }
    }

    /// The version of the image in `bank`, if the reply gives it.
    pub const fn version(&self, bank: BankId) -> Option<ImageVersion> {
        self.versions[bank as usize]
    }

    /// The bank the module runs, if exactly one says so.
    pub const fn running(&self) -> Option<BankId> {
        match (self.bank(BankId::A).running, self.bank(BankId::B).running) {
            (true, false) => Some(BankId::A),
            (false, true) => Some(BankId::B),
            _ => None,
        }
    }
}

/// Image `i` (0: bank A, 1: bank B, 2: the factory image) of a verified
/// Get Firmware Info reply of at least [`FW_INFO_MIN_LEN`] bytes, if the
/// reply describes it: its version, and as much of its 32-byte extra
/// version string as the reply holds. Each image takes 36 bytes from byte
/// 2: version (4), extra string (32).
pub fn fw_info_image(r: &[u8], i: usize) -> Option<(ImageVersion, &[u8])> {
    let at = 2 + 36 * i;
    if i > 2 || r[1] & (1 << i) == 0 || r.len() < at + 4 {
        return None;
    }
    let version = ImageVersion {
        major: r[at],
        minor: r[at + 1],
        build: be16(&r[at + 2..at + 4]),
    };
    Some((version, &r[at + 4..r.len().min(at + 36)]))
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_features_command_list() {
        let mut reply = [0u8; 36];
        reply[34..36].copy_from_slice(&3000u16.to_be_bytes());
        // An empty list says nothing.
        let f = ModuleFeatures::decode(&reply);
        assert_eq!(f.max_completion_ms, 3000);
        assert_eq!(f.lists(CommandId::FW_MGMT_FEATURES), None);
        // 0040h listed: the list is the module's word.
        reply[2 + 8] = 0x01;
        let f = ModuleFeatures::decode(&reply);
        assert_eq!(f.lists(CommandId::FW_MGMT_FEATURES), Some(false));
        reply[2 + 8] = 0x03;
        let f = ModuleFeatures::decode(&reply);
        assert_eq!(f.lists(CommandId::FW_MGMT_FEATURES), Some(true));
        assert_eq!(f.lists(CommandId::GET_FW_INFO), None);
    }

    #[test]
    fn identity() {
        let id = Identity::decode([0x18, 0x52, 0x00, 0x07]);
        assert!(id.is_cmis());
        assert_eq!(id.major(), 5);
        assert_eq!(id.state, 3);
        assert!(!id.flat_memory);
        assert!(Identity::decode([0x18, 0x40, 0x80, 0]).flat_memory);
        assert!(!Identity::decode([0x11, 0x52, 0, 0]).is_cmis());
        assert!(state_is_up(1) && state_is_up(3) && !state_is_up(2) && !state_is_up(0));
    }

    #[test]
    fn advertisement() {
        // One instance, background, auto paging, 16 EPL pages, rwle 15,
        // CdbMaxBusyTime 70 -> 10 ms, power up code 7 (1-5 s).
        let a = CdbAdvert::decode([0x40 | 0x20 | 0x10 | 7, 15, 0, 70, 0x37]);
        assert_eq!(a.instances, 1);
        assert!(a.background && a.auto_paging);
        assert_eq!(a.epl_pages, 16);
        assert_eq!(a.rw_len_ext, 15);
        assert_eq!(a.max_busy_ms, 10);
        assert_eq!(a.power_up_ms, Some(5_000));
        // Extended busy time selected: max(1, X) * 160 ms.
        assert_eq!(
            CdbAdvert::decode([0x40, 0, 0x1f, 0x80, 0]).max_busy_ms,
            4960
        );
        assert_eq!(CdbAdvert::decode([0x40, 0, 0, 0x80, 0]).max_busy_ms, 160);
        assert_eq!(CdbAdvert::decode([0x40, 0, 0, 0x7f, 0]).max_busy_ms, 0);
        assert_eq!(CdbAdvert::decode([0x8f, 0, 0, 0, 0xf]).epl_pages, 0);
        assert_eq!(CdbAdvert::decode([0x80, 0, 0, 0, 0xd]).power_up_ms, None);
    }

    #[test]
    fn access_limits() {
        assert_eq!(lpl_access_max(0), 8);
        assert_eq!(lpl_access_max(15), 128);
        assert_eq!(lpl_access_max(255), 128);
        assert!(write_mechanism::has_epl(0x02) && write_mechanism::has_epl(0x03));
        assert!(write_mechanism::has_lpl(0x03) && !write_mechanism::has_lpl(0x10));
        assert!(
            !RegVersion::decode([0xff, 0xff]).is_valid() && RegVersion::decode([1, 0]).is_valid()
        );
        assert_eq!(epl_access_max(15), 128);
        assert_eq!(epl_access_max(255), 2048);
    }

    #[test]
    fn fw_features() {
        let mut r = [0u8; 18];
        r[1] = 0x01 | 0x04 | 0x08;
        r[2] = 64;
        r[3] = 0xff;
        r[4] = 9;
        r[5] = 0x11;
        r[8..10].copy_from_slice(&300u16.to_be_bytes());
        r[12..14].copy_from_slice(&5u16.to_be_bytes());
        let f = FwFeatures::decode(&r);
        assert!(f.abort && f.skip_erased);
        assert_eq!(f.unit_ms, 10);
        assert_eq!(f.start_payload_size, 64);
        assert_eq!(f.rw_len_ext, 9);
        assert_eq!(f.write_mechanism, 0x11);
        assert_eq!(f.max_ms[duration::START], 3_000);
        assert_eq!(f.max_ms[duration::WRITE], 50);
        r[1] = 0;
        assert_eq!(FwFeatures::decode(&r).max_ms[duration::START], 300);
    }

    #[test]
    fn fw_info() {
        // A running and committed, B invalid.
        let i = FwInfo::decode(&[0x43, 0x01]);
        assert_eq!(i.running(), Some(BankId::A));
        assert_eq!(
            i.bank(BankId::A),
            BankStatus {
                running: true,
                committed: true,
                valid: true
            }
        );
        assert!(!i.bank(BankId::B).valid);
        assert_eq!(FwInfo::decode(&[0x11, 3]).running(), None);
        let mut r = [0u8; 74];
        r[0] = 0x03;
        r[1] = 0x03;
        r[2..6].copy_from_slice(&[1, 2, 0, 7]);
        r[38..42].copy_from_slice(&[2, 1, 1, 0]);
        let i = FwInfo::decode(&r);
        assert_eq!(
            i.version(BankId::A).map(|v| v.reg()),
            Some(RegVersion { major: 1, minor: 2 })
        );
        assert_eq!(i.version(BankId::B).map(|v| v.build), Some(256));
        assert_eq!(FwInfo::decode(&r[..20]).version(BankId::B), None);
        assert_eq!(FwInfo::decode(&[0x00, 3]).running(), None);
        assert_eq!(BankId::A.other(), BankId::B);
    }
}
