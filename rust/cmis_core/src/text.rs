// SPDX-License-Identifier: GPL-2.0

//! Parsing of the values written to the emulator's control files.

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
    fn booleans() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("2"), None);
    }
}
