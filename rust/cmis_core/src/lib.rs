// SPDX-License-Identifier: GPL-2.0

//! Kernel-independent CMIS protocol core.
//!
//! Shared by the `cmis_fw` (host) and `cmis_emu` (emulated module) kernel
//! modules and tested on the host with `cargo test`. It is `no_std`, does
//! no allocation, no I/O and no sleeping: it encodes and decodes bytes and
//! tells its caller what to read, write or wait for.

#![forbid(unsafe_code)]

pub mod bank;
pub mod cdb;
pub mod emu;
pub mod fuzz;
pub mod fw_update;
pub mod image;
pub mod io;
pub mod map;
pub mod text;
pub mod uapi;
