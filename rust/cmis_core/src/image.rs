// SPDX-License-Identifier: GPL-2.0

//! The emulated module's firmware image format.
//!
//! CMIS leaves the image format to the vendor: the host only sends the
//! first StartCmdPayloadSize bytes of the file with Start Firmware Download
//! (0101h) and the rest in blocks. This is ours, small and checkable:
//!
//! ```text
//!   offset  size  field
//!   0       4     magic "CMFW"
//!   4       1     format version (1)
//!   5       1     header length N, = the module's StartCmdPayloadSize
//!   6       2     reserved, 0
//!   8       1     firmware major
//!   9       1     firmware minor
//!   10      2     firmware build (big endian)
//!   12      4     body length (big endian)
//!   16      4     CRC-32 (IEEE) of the body (big endian)
//!   20      32    version text, NUL padded
//!   52      4     CRC-32 of bytes 0-51 (big endian)
//!   56      N-56  reserved, 0
//!   N       ...   body
//! ```
//!
//! The module checks the header at Start and the body's length and CRC at
//! Complete; a corrupted or truncated download never becomes a valid bank.

use core::fmt;

/// Magic at the start of every image.
pub const MAGIC: [u8; 4] = *b"CMFW";
/// Format version this code reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Smallest header: the fields above, up to the header CRC.
pub const MIN_HEADER_LEN: usize = 56;
/// Largest header: the most a Start command can carry (120 - 8 bytes).
pub const MAX_HEADER_LEN: usize = 112;
/// Length of the version text field.
pub const TEXT_LEN: usize = 32;

/// A firmware version as CMIS reports it (0100h Get Firmware Info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major number (00h:39, 01h:128).
    pub major: u8,
    /// Minor number (00h:40, 01h:129).
    pub minor: u8,
    /// Build number.
    pub build: u16,
    /// Free text, NUL padded.
    pub text: [u8; TEXT_LEN],
}

impl Version {
    /// A version with an empty text.
    pub const fn new(major: u8, minor: u8, build: u16) -> Self {
        Self {
            major,
            minor,
            build,
            text: [0; TEXT_LEN],
        }
    }

    /// The text up to its first NUL, if it is UTF-8.
    pub fn text(&self) -> &str {
        let len = self.text.iter().position(|&b| b == 0).unwrap_or(TEXT_LEN);
        core::str::from_utf8(&self.text[..len]).unwrap_or("")
    }

    /// Sets the text, truncated to [`TEXT_LEN`] bytes (at a character
    /// boundary).
    pub fn with_text(mut self, text: &str) -> Self {
        let mut len = text.len().min(TEXT_LEN);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        self.text = [0; TEXT_LEN];
        self.text[..len].copy_from_slice(&text.as_bytes()[..len]);
        self
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// A parsed image header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header length, also the Start command's vendor payload size.
    pub header_len: u8,
    /// Version of the firmware in the body.
    pub version: Version,
    /// Length of the body.
    pub body_len: u32,
    /// CRC-32 of the body.
    pub body_crc: u32,
}

/// Why an image header is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the header needs.
    Truncated,
    /// Not an image of this format.
    BadMagic,
    /// A format version this code does not know.
    UnsupportedFormat(u8),
    /// The header length is outside 56..=112 or differs from what the
    /// module expects.
    BadHeaderLength(u8),
    /// The header's own CRC does not match.
    BadHeaderCrc,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("image shorter than its header"),
            Self::BadMagic => f.write_str("not a CMFW image (bad magic)"),
            Self::UnsupportedFormat(v) => write!(f, "unsupported image format version {v}"),
            Self::BadHeaderLength(n) => write!(f, "bad image header length {n}"),
            Self::BadHeaderCrc => f.write_str("image header CRC mismatch"),
        }
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Header {
    /// Parses and checks the first bytes of an image (at least
    /// [`MIN_HEADER_LEN`]; the header length field says how many more
    /// belong to the header).
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        if bytes.len() < MIN_HEADER_LEN {
            return Err(HeaderError::Truncated);
        }
        if bytes[0..4] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedFormat(bytes[4]));
        }
        let header_len = bytes[5];
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&(header_len as usize)) {
            return Err(HeaderError::BadHeaderLength(header_len));
        }
        if crc32(&bytes[0..52]) != be32(&bytes[52..56]) {
            return Err(HeaderError::BadHeaderCrc);
        }
        let mut text = [0; TEXT_LEN];
        text.copy_from_slice(&bytes[20..20 + TEXT_LEN]);
        Ok(Self {
            header_len,
            version: Version {
                major: bytes[8],
                minor: bytes[9],
                build: u16::from_be_bytes([bytes[10], bytes[11]]),
                text,
            },
            body_len: be32(&bytes[12..16]),
            body_crc: be32(&bytes[16..20]),
        })
    }

    /// Writes the header for `body` into `out[..header_len]`.
    ///
    /// Returns the header length, or `None` if `out` is too short or the
    /// length is out of range.
    pub fn write(
        out: &mut [u8],
        header_len: usize,
        version: &Version,
        body: &[u8],
    ) -> Option<usize> {
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&header_len) || out.len() < header_len {
            return None;
        }
        let body_len = u32::try_from(body.len()).ok()?;
        let h = &mut out[..header_len];
        h.fill(0);
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_VERSION;
        h[5] = header_len as u8;
        h[8] = version.major;
        h[9] = version.minor;
        h[10..12].copy_from_slice(&version.build.to_be_bytes());
        h[12..16].copy_from_slice(&body_len.to_be_bytes());
        h[16..20].copy_from_slice(&crc32(body).to_be_bytes());
        h[20..20 + TEXT_LEN].copy_from_slice(&version.text);
        let crc = crc32(&h[0..52]);
        h[52..56].copy_from_slice(&crc.to_be_bytes());
        Some(header_len)
    }
}

/// Incremental CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    /// The CRC of nothing.
    pub const fn new() -> Self {
        Self(0xFFFF_FFFF)
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// Feeds `count` copies of `byte`.
    pub fn update_repeated(&mut self, byte: u8, count: usize) {
        for _ in 0..count {
            self.update(&[byte]);
        }
    }

    /// The CRC of everything fed so far.
    pub const fn value(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0xCBF4_3926);
        let mut z = Crc32::new();
        z.update_repeated(0xFF, 3);
        assert_eq!(z.value(), crc32(&[0xFF; 3]));
    }

    #[test]
    fn header_round_trip() {
        let body = [0xA5u8; 1000];
        let v = Version::new(2, 7, 300).with_text("release 2.7");
        let mut buf = [0u8; 64];
        assert_eq!(Header::write(&mut buf, 64, &v, &body), Some(64));
        let h = Header::parse(&buf).unwrap();
        assert_eq!(h.header_len, 64);
        assert_eq!(h.version, v);
        assert_eq!(h.version.text(), "release 2.7");
        assert_eq!(h.body_len, 1000);
        assert_eq!(h.body_crc, crc32(&body));
    }

    #[test]
    fn header_rejections() {
        let v = Version::new(1, 0, 0);
        let mut buf = [0u8; 112];
        Header::write(&mut buf, 112, &v, &[]).unwrap();
        assert!(Header::parse(&buf).is_ok());
        assert_eq!(Header::parse(&buf[..55]), Err(HeaderError::Truncated));
        let mut bad = buf;
        bad[0] = b'X';
        assert_eq!(Header::parse(&bad), Err(HeaderError::BadMagic));
        let mut bad = buf;
        bad[4] = 9;
        assert_eq!(Header::parse(&bad), Err(HeaderError::UnsupportedFormat(9)));
        let mut bad = buf;
        bad[30] ^= 1;
        assert_eq!(Header::parse(&bad), Err(HeaderError::BadHeaderCrc));
        let mut bad = buf;
        bad[5] = 113;
        assert_eq!(Header::parse(&bad), Err(HeaderError::BadHeaderLength(113)));
        assert_eq!(Header::write(&mut buf, 55, &v, &[]), None);
        assert_eq!(Header::write(&mut buf[..60], 64, &v, &[]), None);
    }

    #[test]
    fn version_text_truncates_at_char_boundary() {
        let long = "é".repeat(20); // 40 bytes
        let v = Version::new(0, 0, 0).with_text(&long);
        assert_eq!(v.text().len(), 32);
        assert_eq!(v.text(), &long[..32]);
    }
}
