// SPDX-License-Identifier: GPL-2.0

//! CDB (Command Data Block) messages: command encoding, check codes,
//! status decoding and reply verification.
//!
//! CMIS 5.x section 8.4.7 (page 9Fh) and 9.x (CDB commands). A command is
//! written to page 9Fh of the CDB instance's bank:
//!
//! ```text
//!   128-129  CMDID (U16 BE)      writing byte 129 triggers execution
//!   130-131  EPLLength (U16 BE)  extended payload in pages A0h-AFh
//!   132      LPLLength           local payload at 136.., at most 120
//!   133      CdbChkCode          see [`check_code`]
//!   134      RPLLength           reply length, written by the module
//!   135      RPLChkCode          reply check code, written by the module
//!   136-255  LPL                 command payload, then reply payload
//! ```

pub mod advert;
pub mod exchange;
pub mod rpc;
pub mod scope;

use core::fmt;

/// Page holding the CDB message of each instance.
pub const CDB_PAGE: u8 = 0x9F;
/// First extended payload (EPL) page.
pub const EPL_FIRST_PAGE: u8 = 0xA0;
/// Number of EPL pages (A0h-AFh).
pub const EPL_MAX_PAGES: usize = 16;
/// Largest extended payload.
pub const EPL_MAX_LEN: usize = EPL_MAX_PAGES * super::map::PAGE_SIZE;

/// Offset of CMDID in page 9Fh.
pub const CMD_ID_OFFSET: u8 = 128;
/// Offset of EPLLength in page 9Fh.
pub const EPL_LEN_OFFSET: u8 = 130;
/// Offset of LPLLength in page 9Fh.
pub const LPL_LEN_OFFSET: u8 = 132;
/// Offset of CdbChkCode in page 9Fh.
pub const CHECK_CODE_OFFSET: u8 = 133;
/// Offset of RPLLength in page 9Fh.
pub const RPL_LEN_OFFSET: u8 = 134;
/// Offset of RPLChkCode in page 9Fh.
pub const RPL_CHECK_CODE_OFFSET: u8 = 135;
/// Offset of the local payload (command and reply) in page 9Fh.
pub const LPL_OFFSET: u8 = 136;
/// Largest local payload.
pub const LPL_MAX_LEN: usize = 120;

/// A CDB command identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u16);

impl CommandId {
    /// 0000h Query Status.
    pub const QUERY_STATUS: Self = Self(0x0000);
    /// 0001h Enter Password.
    pub const ENTER_PASSWORD: Self = Self(0x0001);
    /// 0002h Change Password.
    pub const CHANGE_PASSWORD: Self = Self(0x0002);
    /// 0004h Abort (a command running in background mode).
    pub const ABORT: Self = Self(0x0004);
    /// 0040h Module Features.
    pub const MODULE_FEATURES: Self = Self(0x0040);
    /// 0041h Firmware Management Features.
    pub const FW_MGMT_FEATURES: Self = Self(0x0041);
    /// 0100h Get Firmware Info.
    pub const GET_FW_INFO: Self = Self(0x0100);
    /// 0101h Start Firmware Download.
    pub const START_FW_DOWNLOAD: Self = Self(0x0101);
    /// 0102h Abort Firmware Download.
    pub const ABORT_FW_DOWNLOAD: Self = Self(0x0102);
    /// 0103h Write Firmware Block LPL.
    pub const WRITE_FW_BLOCK_LPL: Self = Self(0x0103);
    /// 0104h Write Firmware Block EPL.
    pub const WRITE_FW_BLOCK_EPL: Self = Self(0x0104);
    /// 0107h Complete Firmware Download.
    pub const COMPLETE_FW_DOWNLOAD: Self = Self(0x0107);
    /// 0108h Copy Firmware Image.
    pub const COPY_FW_IMAGE: Self = Self(0x0108);
    /// 0109h Run Firmware Image.
    pub const RUN_FW_IMAGE: Self = Self(0x0109);
    /// 010Ah Commit Firmware Image.
    pub const COMMIT_FW_IMAGE: Self = Self(0x010A);

    /// The identifier as it is written to bytes 128-129.
    pub const fn to_be_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

/// Ones' complement of the byte sum: the CMIS check code (CdbChkCode and
/// RPLChkCode).
pub fn check_code(bytes: &[u8]) -> u8 {
    !bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b))
}

/// Why a command cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The local payload is longer than [`LPL_MAX_LEN`].
    LplTooLong(usize),
    /// The extended payload is longer than [`EPL_MAX_LEN`].
    EplTooLong(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LplTooLong(n) => {
                write!(f, "local payload of {n} bytes exceeds {LPL_MAX_LEN}")
            }
            Self::EplTooLong(n) => {
                write!(f, "extended payload of {n} bytes exceeds {EPL_MAX_LEN}")
            }
        }
    }
}

/// A CDB command ready to be written to page 9Fh.
///
/// Holds bytes 128 to 135 + LPLLength of the page. The host writes
/// [`Command::body`] first (at [`Command::BODY_OFFSET`]), then the EPL pages
/// if any, and the trigger [`Command::trigger`] last at [`CMD_ID_OFFSET`]:
/// the module starts processing when byte 129 is written, so everything it
/// reads must be in place by then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    msg: [u8; 8 + LPL_MAX_LEN],
}

impl Command {
    /// Page 9Fh offset at which [`Command::body`] is written.
    pub const BODY_OFFSET: u8 = EPL_LEN_OFFSET;

    /// Encodes command `id` with local payload `lpl` and `epl_len` bytes of
    /// extended payload (written separately to pages A0h-AFh, not covered by
    /// the check code).
    pub fn new(id: CommandId, lpl: &[u8], epl_len: usize) -> Result<Self, EncodeError> {
        if lpl.len() > LPL_MAX_LEN {
            return Err(EncodeError::LplTooLong(lpl.len()));
        }
        if epl_len > EPL_MAX_LEN {
            return Err(EncodeError::EplTooLong(epl_len));
        }
        let mut msg = [0u8; 8 + LPL_MAX_LEN];
        msg[0..2].copy_from_slice(&id.to_be_bytes());
        // Both bounded above, so the narrowing casts are exact.
        msg[2..4].copy_from_slice(&(epl_len as u16).to_be_bytes());
        msg[4] = lpl.len() as u8;
        msg[8..8 + lpl.len()].copy_from_slice(lpl);
        // Bytes 133-135 count as zero in the sum; they are zero here.
        msg[5] = check_code(&msg[..8 + lpl.len()]);
        Ok(Self { msg })
    }

    /// A command without payload (cannot fail, unlike [`Command::new`]).
    pub const fn empty(id: CommandId) -> Self {
        let mut msg = [0u8; 8 + LPL_MAX_LEN];
        let [hi, lo] = id.to_be_bytes();
        msg[0] = hi;
        msg[1] = lo;
        msg[5] = !(hi.wrapping_add(lo));
        Self { msg }
    }

    /// The command identifier.
    pub fn id(&self) -> CommandId {
        CommandId(u16::from_be_bytes([self.msg[0], self.msg[1]]))
    }

    /// Length of the local payload.
    pub fn lpl_len(&self) -> usize {
        self.msg[4] as usize
    }

    /// Length of the extended payload.
    pub fn epl_len(&self) -> usize {
        u16::from_be_bytes([self.msg[2], self.msg[3]]) as usize
    }

    /// The CdbChkCode of this command.
    pub fn check_code(&self) -> u8 {
        self.msg[5]
    }

    /// Bytes 130 to 135 + LPLLength: lengths, check code, the zeroed reply
    /// header and the local payload. Only what the command needs, so a
    /// short command costs a short write.
    pub fn body(&self) -> &[u8] {
        &self.msg[2..8 + self.lpl_len()]
    }

    /// Bytes 128-129, written last to start the command.
    pub fn trigger(&self) -> &[u8] {
        &self.msg[0..2]
    }
}

/// Coarse state of a CDB instance, decoded from its CdbStatus byte
/// (00h:37 for instance 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Bit 7 set: the module is still working on the command.
    Busy(BusyPhase),
    /// `01h`: the last command completed successfully.
    Success,
    /// Bit 6 set with bit 7 clear: the last command failed.
    Failed(Failure),
    /// Idle codes that are not a completion of the last command (00h,
    /// 02h-3Fh, e.g. 03h "previous command aborted"); a host keeps polling.
    Idle(u8),
}

/// What a busy module reports it is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyPhase {
    /// 81h: command captured, not yet processed.
    Captured,
    /// 82h: checking the command.
    Checking,
    /// 83h: executing the command.
    Executing,
    /// Any other busy code (reserved or custom).
    Other(u8),
}

/// A failed command's result code (CdbStatus bits 5-0 with bit 6 set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure(pub u8);

impl Failure {
    /// 40h, no specific failure.
    pub const UNSPECIFIED: Self = Self(0x00);
    /// 41h, CMDID unknown.
    pub const UNKNOWN_COMMAND: Self = Self(0x01);
    /// 42h, parameter range error or not supported.
    pub const PARAMETER: Self = Self(0x02);
    /// 43h, previous command not properly aborted.
    pub const NOT_ABORTED: Self = Self(0x03);
    /// 44h, command checking time out.
    pub const CHECK_TIMEOUT: Self = Self(0x04);
    /// 45h, CdbChkCode error.
    pub const CHECK_CODE: Self = Self(0x05);
    /// 46h, password related error.
    pub const PASSWORD: Self = Self(0x06);
    /// 47h, command not compatible with the operating status.
    pub const BAD_STATE: Self = Self(0x07);

    /// The full CdbStatus byte reporting this failure.
    pub const fn status_byte(self) -> u8 {
        0x40 | (self.0 & 0x3f)
    }

    /// A human-readable explanation, following the CMIS status table.
    pub const fn message(self) -> &'static str {
        match self.0 & 0x3f {
            0x00 => "command failed, no specific failure",
            0x01 => "command id unknown to the module",
            0x02 => "parameter range error or parameter not supported",
            0x03 => "previous command was not properly aborted",
            0x04 => "command checking timed out",
            0x05 => "command check code (CdbChkCode) error",
            0x06 => "password related error",
            0x07 => "command not compatible with the module's operating status",
            0x08..=0x1f => "command checking error (reserved code)",
            0x20..=0x2f => "command failed (individual command or task error)",
            0x30..=0x3f => "command failed (vendor specific code)",
            _ => "command failed",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (status {:#04x})", self.message(), self.status_byte())
    }
}

/// CdbStatus: the command completed successfully.
pub const STATUS_SUCCESS: u8 = 0x01;
const STATUS_BUSY: u8 = 0x80;
const STATUS_FAILED: u8 = 0x40;

impl Status {
    /// Decodes a CdbStatus byte.
    ///
    /// Only `01h` is success, as in Linux's `cmis_cdb.c`: the other idle
    /// codes do not say the last command finished.
    pub const fn from_byte(b: u8) -> Self {
        if b & STATUS_BUSY != 0 {
            Self::Busy(match b {
                0x81 => BusyPhase::Captured,
                0x82 => BusyPhase::Checking,
                0x83 => BusyPhase::Executing,
                _ => BusyPhase::Other(b),
            })
        } else if b & STATUS_FAILED != 0 {
            Self::Failed(Failure(b & 0x3f))
        } else if b == STATUS_SUCCESS {
            Self::Success
        } else {
            Self::Idle(b)
        }
    }

    /// The CdbStatus byte encoding this status.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::Busy(BusyPhase::Captured) => 0x81,
            Self::Busy(BusyPhase::Checking) => 0x82,
            Self::Busy(BusyPhase::Executing) => 0x83,
            Self::Busy(BusyPhase::Other(b)) => b | STATUS_BUSY,
            Self::Success => STATUS_SUCCESS,
            Self::Failed(f) => f.status_byte(),
            Self::Idle(b) => b & 0x3f,
        }
    }
}

/// Why a reply was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// RPLLength is not what the command's reply must have.
    BadLength {
        /// RPLLength read from the module.
        got: u8,
        /// Smallest acceptable length.
        min: u8,
        /// Largest acceptable length.
        max: u8,
    },
    /// RPLChkCode does not match the payload.
    BadCheckCode {
        /// RPLChkCode read from the module.
        got: u8,
        /// Check code computed over the payload.
        expected: u8,
    },
    /// The caller passed fewer payload bytes than RPLLength says.
    Truncated,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength { got, min, max } if min == max => {
                write!(f, "reply length {got}, expected {min}")
            }
            Self::BadLength { got, min, max } => {
                write!(f, "reply length {got}, expected {min} to {max}")
            }
            Self::BadCheckCode { got, expected } => write!(
                f,
                "reply check code {got:#04x}, payload sums to {expected:#04x}"
            ),
            Self::Truncated => f.write_str("reply payload shorter than its length"),
        }
    }
}

/// Verifies a reply read from page 9Fh.
///
/// `header` is bytes 134-135 (RPLLength, RPLChkCode) and `payload` the
/// bytes from 136 on (at least RPLLength of them). The length must lie in
/// `min..=max` and the check code must match: unlike Linux 6.12, which only
/// rejects a zero check code, a corrupted reply is never acted upon.
/// Returns the payload, cut to RPLLength.
pub fn verify_reply(
    header: [u8; 2],
    payload: &[u8],
    min: u8,
    max: u8,
) -> Result<&[u8], ReplyError> {
    let [len, chk] = header;
    if len < min || len > max || len as usize > LPL_MAX_LEN {
        return Err(ReplyError::BadLength { got: len, min, max });
    }
    let payload = payload.get(..len as usize).ok_or(ReplyError::Truncated)?;
    let expected = check_code(payload);
    if chk != expected {
        return Err(ReplyError::BadCheckCode { got: chk, expected });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_payload(id: u16) -> Command {
        Command::new(CommandId(id), &[], 0).unwrap()
    }

    #[test]
    fn check_codes_match_spec_worked_values() {
        // CMIS 5.x examples: commands without payload.
        for (id, chk) in [
            (0x0040, 0xBF),
            (0x0041, 0xBE),
            (0x0042, 0xBD),
            (0x0100, 0xFE),
            (0x0102, 0xFC),
            (0x0107, 0xF7),
            (0x010A, 0xF4),
            // CMIS 5.0 printed FCh here, an erratum fixed in 5.1.
            (0x0004, 0xFB),
        ] {
            assert_eq!(no_payload(id).check_code(), chk, "command {id:#06x}");
        }
        // Query Status, ResponseDelay 0.
        let q = Command::new(CommandId::QUERY_STATUS, &[0, 0], 0).unwrap();
        assert_eq!(q.check_code(), 0xFD);
        // Run image as Linux sends it: mode 0, no delay.
        let run = Command::new(CommandId::RUN_FW_IMAGE, &[0; 4], 0).unwrap();
        assert_eq!(run.check_code(), 0xF1);
        // Write Block EPL, address 0, 2048 bytes of EPL (not summed).
        let w = Command::new(CommandId::WRITE_FW_BLOCK_EPL, &[0; 4], 2048).unwrap();
        assert_eq!(w.check_code(), 0xEE);
    }

    #[test]
    fn check_code_counts_payload_and_matches_full_page_sum() {
        let lpl = [0x12, 0x34, 0x56, 0x78, 0x9a];
        let c = Command::new(CommandId::WRITE_FW_BLOCK_LPL, &lpl, 0).unwrap();
        // Linux sums all of 128-255 with 133-135 and unused bytes zero.
        let mut page = [0u8; 128];
        page[..2].copy_from_slice(c.trigger());
        page[2..2 + c.body().len()].copy_from_slice(c.body());
        page[5] = 0;
        assert_eq!(check_code(&page), c.check_code());
    }

    #[test]
    fn layout_of_body_and_trigger() {
        let c = Command::new(CommandId::START_FW_DOWNLOAD, &[1, 2, 3], 300).unwrap();
        assert_eq!(c.trigger(), &[0x01, 0x01]);
        assert_eq!(c.id(), CommandId::START_FW_DOWNLOAD);
        assert_eq!(c.epl_len(), 300);
        assert_eq!(c.lpl_len(), 3);
        // 130..=138: EPLLength, LPLLength, CdbChkCode, RPL header, payload.
        assert_eq!(c.body(), &[0x01, 0x2c, 3, c.check_code(), 0, 0, 1, 2, 3]);
        assert_eq!(Command::BODY_OFFSET as usize + c.body().len(), 136 + 3);
    }

    #[test]
    fn payload_limits() {
        assert!(Command::new(CommandId(1), &[0; LPL_MAX_LEN], EPL_MAX_LEN).is_ok());
        assert_eq!(
            Command::new(CommandId(1), &[0; LPL_MAX_LEN + 1], 0),
            Err(EncodeError::LplTooLong(121))
        );
        assert_eq!(
            Command::new(CommandId(1), &[], EPL_MAX_LEN + 1),
            Err(EncodeError::EplTooLong(2049))
        );
    }

    #[test]
    fn status_bytes_decode_like_linux() {
        assert_eq!(Status::from_byte(0x01), Status::Success);
        assert_eq!(Status::from_byte(0x81), Status::Busy(BusyPhase::Captured));
        assert_eq!(Status::from_byte(0x82), Status::Busy(BusyPhase::Checking));
        assert_eq!(Status::from_byte(0x83), Status::Busy(BusyPhase::Executing));
        // Busy wins over the failed bit.
        assert_eq!(
            Status::from_byte(0xC5),
            Status::Busy(BusyPhase::Other(0xC5))
        );
        assert_eq!(Status::from_byte(0x45), Status::Failed(Failure::CHECK_CODE));
        assert_eq!(Status::from_byte(0x00), Status::Idle(0));
        assert_eq!(Status::from_byte(0x03), Status::Idle(3));
        for b in 0..=255u8 {
            assert_eq!(Status::from_byte(b).to_byte(), b, "byte {b:#04x}");
        }
    }

    #[test]
    fn failure_messages() {
        assert_eq!(Failure::PASSWORD.status_byte(), 0x46);
        assert_eq!(
            Failure(0x05).message(),
            "command check code (CdbChkCode) error"
        );
        let mut buf = [0u8; 80];
        let mut w = Buf(&mut buf, 0);
        fmt::write(&mut w, format_args!("{}", Failure::BAD_STATE)).unwrap();
        let n = w.1;
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            "command not compatible with the module's operating status (status 0x47)"
        );
    }

    struct Buf<'a>(&'a mut [u8], usize);
    impl fmt::Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    #[test]
    fn replies_are_verified() {
        // Spec example: reply 02 01 has check code FCh.
        assert_eq!(
            verify_reply([2, 0xFC], &[2, 1, 9, 9], 2, 2),
            Ok(&[2u8, 1][..])
        );
        assert_eq!(
            verify_reply([2, 0xFD], &[2, 1], 2, 2),
            Err(ReplyError::BadCheckCode {
                got: 0xFD,
                expected: 0xFC
            })
        );
        assert_eq!(
            verify_reply([3, 0], &[0; 3], 36, 36),
            Err(ReplyError::BadLength {
                got: 3,
                min: 36,
                max: 36
            })
        );
        assert_eq!(
            verify_reply([4, 0xFF], &[0; 3], 0, 120),
            Err(ReplyError::Truncated)
        );
        // RPLLength beyond the LPL area is never read past the page.
        assert!(matches!(
            verify_reply([200, 0], &[0; 200], 0, 255),
            Err(ReplyError::BadLength { .. })
        ));
        // A valid reply whose check code is 00h (Linux 6.12 rejects it).
        assert_eq!(verify_reply([1, 0x00], &[0xFF], 1, 1), Ok(&[0xFFu8][..]));
    }
}
