// SPDX-License-Identifier: GPL-2.0

//! CMIS memory map: addressing rules and the byte offsets the core uses.
//!
//! CMIS 5.x section 8. The host sees 256 bytes at I2C address 50h: bytes
//! 0-127 are lower memory (always visible), bytes 128-255 show the upper
//! page selected by bytes 126 (bank) and 127 (page).

use core::fmt;

/// 7-bit I2C address of the CMIS management interface.
pub const I2C_ADDRESS: u8 = 0x50;

/// Size of one page window.
pub const PAGE_SIZE: usize = 128;

/// First byte of the upper memory window.
pub const UPPER_START: u8 = 128;

/// Lower memory (page 00h, bytes 0-127) offsets.
pub mod lower {
    /// SFF-8024 identifier.
    pub const IDENTIFIER: u8 = 0;
    /// CMIS revision, major in bits 7-4, minor in bits 3-0.
    pub const REVISION: u8 = 1;
    /// Memory model (bit 7: flat memory).
    pub const MEMORY_MODEL: u8 = 2;
    /// Module state in bits 3-1.
    pub const MODULE_STATE: u8 = 3;
    /// Latched flags; bit 6 is the CDB instance 1 completion flag.
    pub const FLAGS: u8 = 8;
    /// CdbStatus of CDB instance 1.
    pub const CDB_STATUS_1: u8 = 37;
    /// CdbStatus of CDB instance 2.
    pub const CDB_STATUS_2: u8 = 38;
    /// Active firmware major, minor (two bytes).
    pub const ACTIVE_FW_VERSION: u8 = 39;
    /// Password entry area, U32 big endian (four bytes, write only).
    pub const PASSWORD_ENTRY: u8 = 122;
    /// Bank select.
    pub const BANK_SELECT: u8 = 126;
    /// Page select.
    pub const PAGE_SELECT: u8 = 127;
}

/// Bit of [`lower::FLAGS`] latched when a CDB instance 1 command completes.
pub const FLAG_CDB_COMPLETE_1: u8 = 1 << 6;

/// SFF-8024 identifiers of modules managed with CMIS, as accepted by Linux.
pub mod identifier {
    /// QSFP-DD.
    pub const QSFP_DD: u8 = 0x18;
    /// OSFP.
    pub const OSFP: u8 = 0x19;
    /// DSFP.
    pub const DSFP: u8 = 0x1B;
    /// QSFP+ or later with CMIS.
    pub const QSFP_PLUS_CMIS: u8 = 0x1E;
    /// SFP-DD with CMIS.
    pub const SFP_DD_CMIS: u8 = 0x1F;
    /// SFP+ with CMIS.
    pub const SFP_PLUS_CMIS: u8 = 0x20;

    /// Whether `id` names a module that uses the CMIS memory map.
    pub const fn is_cmis(id: u8) -> bool {
        matches!(
            id,
            QSFP_DD | OSFP | DSFP | QSFP_PLUS_CMIS | SFP_DD_CMIS | SFP_PLUS_CMIS
        )
    }
}

/// One access to the module memory map, as passed to
/// `get_module_eeprom_by_page` / `set_module_eeprom_by_page`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// I2C address (7 bit).
    pub i2c_address: u8,
    /// Bank (only meaningful for banked upper pages).
    pub bank: u8,
    /// Page (only meaningful when the access touches upper memory).
    pub page: u8,
    /// First byte, 0-255.
    pub offset: u8,
    /// Number of bytes.
    pub len: usize,
}

/// Why an [`Access`] cannot be performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Zero-length access.
    Empty,
    /// The access runs past byte 255 (past the last page it may wrap
    /// into, with auto paging), crosses from lower into upper memory (the
    /// ethtool API forbids both), or is longer than the module accepts in
    /// one transaction.
    OutOfBounds,
    /// Not the CMIS management address.
    BadI2cAddress,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "zero-length access",
            Self::OutOfBounds => "access crosses a page boundary or runs past byte 255",
            Self::BadI2cAddress => "access to an I2C address other than 50h",
        })
    }
}

impl Access {
    /// An access to page `page`, bank 0, at the CMIS I2C address.
    pub const fn new(page: u8, offset: u8, len: usize) -> Self {
        Self {
            i2c_address: I2C_ADDRESS,
            bank: 0,
            page,
            offset,
            len,
        }
    }

    /// Checks the access against the addressing rules the ethtool core
    /// also enforces: non-empty, within one half of the 256-byte window.
    pub const fn validate(&self) -> Result<(), AccessError> {
        self.validate_wrapping(0)
    }

    /// As [`Access::validate`], except that an access to upper memory may
    /// run past byte 255 into `further_pages` following pages: CMIS auto
    /// page wrap continues at byte 128 of the next page (01h:163 bit 4,
    /// for the EPL pages).
    pub const fn validate_wrapping(&self, further_pages: usize) -> Result<(), AccessError> {
        if self.i2c_address != I2C_ADDRESS {
            return Err(AccessError::BadI2cAddress);
        }
        if self.len == 0 {
            return Err(AccessError::Empty);
        }
        let start = self.offset as usize;
        let end = start + self.len;
        let limit = if start < UPPER_START as usize {
            UPPER_START as usize
        } else {
            (2 + further_pages) * PAGE_SIZE
        };
        if end > limit {
            return Err(AccessError::OutOfBounds);
        }
        Ok(())
    }

    /// What is left of the access after its first `n` bytes (`n` at most
    /// `len`): in upper memory, past byte 255 it goes on at byte 128 of
    /// the next page, as an auto-paged access does. Only meaningful for an
    /// access that validates; it never panics.
    pub const fn skip(&self, n: usize) -> Self {
        let start = self.offset as usize;
        let (page, offset) = if start < UPPER_START as usize {
            (self.page, start + n)
        } else {
            let pos = start - UPPER_START as usize + n;
            // Truncation only happens past page FFh, which no valid
            // access reaches.
            (
                (self.page as usize + pos / PAGE_SIZE) as u8,
                UPPER_START as usize + pos % PAGE_SIZE,
            )
        };
        Self {
            page,
            offset: offset as u8,
            len: self.len.saturating_sub(n),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_bounds() {
        assert_eq!(Access::new(0, 0, 128).validate(), Ok(()));
        assert_eq!(Access::new(0x9f, 128, 128).validate(), Ok(()));
        assert_eq!(
            Access::new(0, 120, 9).validate(),
            Err(AccessError::OutOfBounds)
        );
        assert_eq!(
            Access::new(0x9f, 255, 2).validate(),
            Err(AccessError::OutOfBounds)
        );
        assert_eq!(Access::new(0, 3, 0).validate(), Err(AccessError::Empty));
        // Auto page wrap: 2 further pages make 3 pages of upper memory.
        assert_eq!(Access::new(0xA0, 200, 312).validate_wrapping(2), Ok(()));
        assert_eq!(
            Access::new(0xA0, 200, 313).validate_wrapping(2),
            Err(AccessError::OutOfBounds)
        );
        assert_eq!(
            Access::new(0, 100, 29).validate_wrapping(2),
            Err(AccessError::OutOfBounds),
            "lower memory never wraps"
        );
        let mut a = Access::new(0, 3, 1);
        a.i2c_address = 0x51;
        assert_eq!(a.validate(), Err(AccessError::BadI2cAddress));
    }

    #[test]
    fn skip_follows_the_page_wrap() {
        let a = Access::new(0xA0, 200, 300);
        assert_eq!(a.skip(0), a);
        assert_eq!(a.skip(55), Access::new(0xA0, 255, 245));
        assert_eq!(a.skip(56), Access::new(0xA1, 128, 244));
        assert_eq!(a.skip(184), Access::new(0xA2, 128, 116));
        assert_eq!(a.skip(300).len, 0);
        assert_eq!(Access::new(0, 10, 20).skip(5), Access::new(0, 15, 15));
        let mut b = Access::new(0x9F, 130, 126);
        b.bank = 1;
        assert_eq!(b.skip(80).bank, 1, "the bank is kept");
    }

    #[test]
    fn cmis_identifiers() {
        assert!(identifier::is_cmis(identifier::QSFP_DD));
        assert!(identifier::is_cmis(identifier::OSFP));
        // SFF-8636 QSFP28 (11h) is not CMIS.
        assert!(!identifier::is_cmis(0x11));
        assert!(!identifier::is_cmis(0x1C));
    }
}
