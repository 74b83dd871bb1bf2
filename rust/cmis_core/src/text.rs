// SPDX-License-Identifier: GPL-2.0

//! Parsing of the values written to the emulator's control files.

use super::image::Version;

/// Parses an unsigned integer, decimal or hexadecimal with `0x`.
pub fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses an unsigned integer that must fit in `T`.
pub fn parse_uint<T: TryFrom<u32>>(s: &str) -> Option<T> {
    parse_u32(s).and_then(|v| T::try_from(v).ok())
}

/// Parses a boolean: `1`/`0`, `y`/`n`, `yes`/`no`, `on`/`off`,
/// `true`/`false`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "y" | "Y" | "yes" | "on" | "true" => Some(true),
        "0" | "n" | "N" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// Parses a firmware version, `MAJOR.MINOR.BUILD`.
pub fn parse_version(s: &str) -> Option<Version> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let build = parts.next()?.parse().ok()?;
    parts
        .next()
        .is_none()
        .then_some(Version::new(major, minor, build))
}

/// Splits `s` into `key=value` pairs separated by white space. A value
/// in double quotes may hold white space; no value holds a double quote,
/// so that a value shown in quotes always reads back. See [`KeyValues`].
pub fn key_values(s: &str) -> KeyValues<'_> {
    KeyValues { rest: s }
}

/// The pairs of [`key_values`]: each `(key, value)`, or an error for a
/// malformed one, after which the iterator ends.
#[derive(Clone, Debug)]
pub struct KeyValues<'a> {
    rest: &'a str,
}

impl<'a> Iterator for KeyValues<'a> {
    type Item = Result<(&'a str, &'a str), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start();
        self.rest = "";
        if s.is_empty() {
            return None;
        }
        let malformed = Some(Err("expected key=value pairs"));
        let Some((key, after)) = s.split_once('=') else {
            return malformed;
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return malformed;
        }
        let (value, rest) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some(split) => split,
                None => return malformed,
            },
            None => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
        };
        if value.contains('"') || (!rest.is_empty() && !rest.starts_with(char::is_whitespace)) {
            return malformed;
        }
        self.rest = rest;
        Some(Ok((key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32("42"), Some(42));
        assert_eq!(parse_u32(" 0x1F\n"), Some(31));
        assert_eq!(parse_u32("0X10"), Some(16));
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32(""), None);
        assert_eq!(parse_uint::<u8>("255"), Some(255));
        assert_eq!(parse_uint::<u8>("256"), None);
        assert_eq!(parse_uint::<u16>("0xffff"), Some(0xffff));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.1.700"), Some(Version::new(2, 1, 700)));
        assert_eq!(parse_version("2.1"), None);
        assert_eq!(parse_version("2.1.7.1"), None);
        assert_eq!(parse_version("256.0.0"), None);
        assert_eq!(parse_version("1..2"), None);
    }

    #[test]
    fn key_value_pairs() {
        let pairs: std::vec::Vec<_> =
            key_values(" valid=1  version=2.1.7 text=\"a b\" empty= x=\"\"\n").collect();
        assert_eq!(
            pairs,
            [
                Ok(("valid", "1")),
                Ok(("version", "2.1.7")),
                Ok(("text", "a b")),
                Ok(("empty", "")),
                Ok(("x", "")),
            ]
        );
        assert_eq!(key_values("").count(), 0);
        for bad in [
            "valid",
            "=1",
            "text=\"open",
            "text=\"a\"b",
            "text=a\"b",
            "a b=1",
        ] {
            let last = key_values(bad).last();
            assert!(matches!(last, Some(Err(_))), "{bad}: {last:?}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("2"), None);
    }
}
