// SPDX-License-Identifier: GPL-2.0

//! CMIS protocol core, host build.
//!
//! The kernel modules include `lib.rs` as an ordinary module (Kbuild gives
//! each `.ko` a single crate), so the crate-level attributes live here and
//! the core's own modules refer to each other with `super::` paths only.

#![cfg_attr(not(test), no_std)]

#[path = "lib.rs"]
mod core_modules;

pub use core_modules::*;
