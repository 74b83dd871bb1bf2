// SPDX-License-Identifier: GPL-2.0

//! CMIS protocol core, host build.
//!
//! The kernel modules include `lib.rs` as an ordinary module (Kbuild gives
//! each `.ko` a single crate), so the crate-level attributes live here and
//! the core's own modules refer to each other with `super::` paths only.

#![cfg_attr(not(test), no_std)]
// The lints of the kernel's CLIPPY=1 set that the workspace's does not
// have, so that the host build catches what the module builds would.
#![warn(
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ignored_unit_patterns,
    clippy::mut_mut,
    clippy::needless_bitwise_bool,
    clippy::needless_continue,
    clippy::ptr_as_ptr,
    clippy::ptr_cast_constness,
    clippy::ref_as_ptr,
    clippy::unnecessary_map_or
)]

#[path = "lib.rs"]
mod core_modules;

pub use core_modules::*;
