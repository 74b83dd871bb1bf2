// SPDX-License-Identifier: GPL-2.0

//! Raw kernel bindings: Linux 7.3's `kernel::bindings`, plus what it lacks.
//!
//! `bindings_generated.rs` is our own bindgen run over
//! `include/cmis_bindings.h` (see `Kbuild`): the netdev, RTNL and
//! netdevice notifier functions, a few constants, and our C helpers. It is
//! generated with `--no-recursive-allowlist`, so every type it mentions is
//! the kernel crate's, brought into scope by the glob import below: each C
//! type has one Rust definition. `struct net_device` is opaque there, so
//! the glue reaches the few fields it needs through C helpers.
//!
//! Only the glue modules next to this file use these bindings.

#![allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks
)]

pub use kernel::bindings::*;

include!("bindings_generated.rs");
