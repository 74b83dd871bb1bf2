// SPDX-License-Identifier: GPL-2.0

//! The version the operator says an image is (`--version X.Y[.B]`), and
//! whether what a module shows is that version: the devlink update
//! agent's rule, "do not flash what already runs", made safe by CMIS's
//! two sources of versions (the registers give major.minor only, Get
//! Firmware Info adds the build).

use super::super::cdb::advert::{ImageVersion, RegVersion};
use core::fmt;

/// A firmware version: major.minor, and the build where known or asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Build (Get Firmware Info's; the version registers have none).
    pub build: Option<u16>,
}

/// Whether a module's image is the version asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// It is.
    Yes,
    /// It is not.
    No,
    /// Major and minor agree, but the build was asked for and the module
    /// does not give it.
    Unknown,
}

/// Longest text [`Version::parse`] takes: `255.255.65535`.
pub const TEXT_MAX: usize = 13;

impl Version {
    /// Parses `major.minor` or `major.minor.build` (decimal, no sign, no
    /// spaces); `None` for anything else, or numbers out of range. A
    /// valid version is neither 0.0 nor 255.255 (the registers' "no
    /// image" and "invalid image").
    pub fn parse(text: &[u8]) -> Option<Self> {
        if text.len() > TEXT_MAX {
            return None;
        }
        let mut parts = text.split(|&b| b == b'.');
        let major = u8::try_from(decimal(parts.next()?)?).ok()?;
        let minor = u8::try_from(decimal(parts.next()?)?).ok()?;
        let build = match parts.next() {
            None => None,
            Some(b) => Some(u16::try_from(decimal(b)?).ok()?),
        };
        if parts.next().is_some() {
            return None;
        }
        let v = Self {
            major,
            minor,
            build,
        };
        v.reg().is_valid().then_some(v)
    }

    /// The major and minor numbers, as the version registers show them.
    pub const fn reg(&self) -> RegVersion {
        RegVersion {
            major: self.major,
            minor: self.minor,
        }
    }

    /// What a module shows: its version registers, and Get Firmware
    /// Info's version of the same image where the module gave one.
    pub fn shown(reg: RegVersion, image: Option<ImageVersion>) -> Self {
        Self {
            major: reg.major,
            minor: reg.minor,
            build: image.filter(|i| i.reg() == reg).map(|i| i.build),
        }
    }

    /// Whether `shown` (from [`Version::shown`]) is this version.
    pub fn matches(&self, shown: &Self) -> Match {
        if self.reg() != shown.reg() {
            return Match::No;
        }
        match (self.build, shown.build) {
            (None, _) => Match::Yes,
            (Some(_), None) => Match::Unknown,
            (Some(a), Some(b)) if a == b => Match::Yes,
            (Some(_), Some(_)) => Match::No,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(b) = self.build {
            write!(f, ".{b}")?;
        }
        Ok(())
    }
}

/// A decimal number of 1 to 5 digits.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_operators_write() {
        let v = |major, minor, build| Version {
            major,
            minor,
            build,
        };
        assert_eq!(Version::parse(b"3.2"), Some(v(3, 2, None)));
        assert_eq!(Version::parse(b"3.2.17"), Some(v(3, 2, Some(17))));
        assert_eq!(
            Version::parse(b"255.254.65535"),
            Some(v(255, 254, Some(65535)))
        );
        assert_eq!(Version::parse(b"0.1"), Some(v(0, 1, None)));
        for bad in [
            &b""[..],
            b"3",
            b"3.",
            b".2",
            b"3.2.",
            b"3.2.1.0",
            b"256.0",
            b"1.256",
            b"1.2.65536",
            b"-1.2",
            b"+1.2",
            b"1 .2",
            b"0.0",
            b"255.255",
            b"255.255.1",
            b"00000000000001.2",
        ] {
            assert_eq!(Version::parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn a_build_counts_only_where_both_sides_have_it() {
        let want = Version::parse(b"3.2.17").unwrap();
        let reg = RegVersion { major: 3, minor: 2 };
        let image = |build| ImageVersion {
            major: 3,
            minor: 2,
            build,
        };
        assert_eq!(
            want.matches(&Version::shown(reg, Some(image(17)))),
            Match::Yes
        );
        assert_eq!(
            want.matches(&Version::shown(reg, Some(image(18)))),
            Match::No
        );
        assert_eq!(want.matches(&Version::shown(reg, None)), Match::Unknown);
        // Get Firmware Info's version of another image says nothing.
        let other = ImageVersion {
            major: 3,
            minor: 1,
            build: 17,
        };
        assert_eq!(
            want.matches(&Version::shown(reg, Some(other))),
            Match::Unknown
        );
        let no_build = Version::parse(b"3.2").unwrap();
        assert_eq!(
            no_build.matches(&Version::shown(reg, Some(image(18)))),
            Match::Yes
        );
        let other_reg = RegVersion { major: 3, minor: 3 };
        assert_eq!(
            no_build.matches(&Version::shown(other_reg, None)),
            Match::No
        );
        assert_eq!(format!("{want}"), "3.2.17");
        assert_eq!(format!("{no_build}"), "3.2");
    }
}
