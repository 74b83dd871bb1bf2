// SPDX-License-Identifier: GPL-2.0

//! Error codes the 6.12 `kernel::error::code` module does not name.

#![forbid(unsafe_code)]

use kernel::{bindings, error::Error};

fn errno(e: u32) -> Error {
    // The constants are small positive errno values, so the negation is
    // exact and in `Error`'s range.
    Error::from_errno(-(e as i32))
}

/// `EOPNOTSUPP`: operation not supported.
pub fn eopnotsupp() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// `ETIMEDOUT`: timed out.
pub fn etimedout() -> Error {
    errno(bindings::ETIMEDOUT)
}

/// `ECANCELED`: operation canceled.
pub fn ecanceled() -> Error {
    errno(bindings::ECANCELED)
}

/// `EMSGSIZE`: message too long.
pub fn emsgsize() -> Error {
    errno(bindings::EMSGSIZE)
}

/// `ESHUTDOWN`: shutting down.
pub fn eshutdown() -> Error {
    errno(bindings::ESHUTDOWN)
}
