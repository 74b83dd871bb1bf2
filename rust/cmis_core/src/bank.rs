// SPDX-License-Identifier: GPL-2.0

//! Firmware banks (CMIS image A and image B), as Get Firmware Info (0100h)
//! reports them and as the emulated module keeps them.

/// Firmware bank index (usable as an array index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankId {
    /// Bank A.
    A = 0,
    /// Bank B.
    B = 1,
}

impl BankId {
    /// The other bank.
    pub const fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    /// "A" or "B".
    pub const fn name(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
        }
    }
}
