// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).
//!
//! A [`Family`] is a `static` built at compile time from its name, its
//! [`SmallOp`]s (one per [`Command`]) and its [`MulticastGroup`]s; the
//! genetlink core writes into it (`id`, `mcgrp_offset`) once registered,
//! hence the interior mutability. [`Family::register`] returns the
//! [`Registration`] that unregisters it when dropped.

use crate::bindings as raw;
use core::{cell::UnsafeCell, marker::PhantomData};
use kernel::{error::from_result, error::to_result, ffi::c_char, prelude::*, str::CStr};

/// Size of the name fields of families and multicast groups, with the NUL.
const NAME_SIZE: usize = 16;

/// Copies a name into a fixed C string field at compile time.
///
/// Fails the build if the name does not fit.
const fn c_name(name: &CStr) -> [c_char; NAME_SIZE] {
    let bytes = name.as_bytes_with_nul();
    assert!(
        bytes.len() <= NAME_SIZE,
        "generic netlink names have at most 15 bytes"
    );
    let mut out = [0; NAME_SIZE];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// A request handled by a generic netlink family.
pub trait Command {
    /// The command number (`genlmsghdr.cmd`).
    const CMD: u8;

    /// Whether the caller needs `CAP_NET_ADMIN` in the device's network
    /// namespace.
    const ADMIN_ONLY: bool = true;

    /// Handles one request.
    fn doit(info: &mut Info<'_>) -> Result;
}

/// The request being handled (`struct genl_info`).
pub struct Info<'a> {
    info: *mut raw::genl_info,
    _lifetime: PhantomData<&'a mut raw::genl_info>,
}

impl Info<'_> {
    /// Sets the extended ack message userspace receives with the error.
    pub fn set_error_message(&mut self, msg: &'static CStr) {
        // SAFETY: `info` is valid for the duration of the request (type
        // invariant of `Info`); `extack` is either null or valid, and the
        // message is static as NL_SET_ERR_MSG requires.
        unsafe {
            let extack = (*self.info).extack;
            if !extack.is_null() {
                (*extack)._msg = msg.as_char_ptr();
            }
        }
    }
}

/// One operation of a family (`struct genl_small_ops`).
#[repr(transparent)]
pub struct SmallOp(raw::genl_small_ops);

/// Calls `C::doit` for a request.
///
/// # Safety
///
/// Called by the genetlink core with a valid `info` for the request.
unsafe extern "C" fn doit_callback<C: Command>(
    _skb: *mut raw::sk_buff,
    info: *mut raw::genl_info,
) -> kernel::ffi::c_int {
    from_result(|| {
        // INVARIANT: `info` is valid for this call (see the safety section).
        let mut info = Info {
            info,
            _lifetime: PhantomData,
        };
        C::doit(&mut info)?;
        Ok(0)
    })
}

impl SmallOp {
    /// The operation for command `C`, with strict attribute validation.
    pub const fn new<C: Command>() -> Self {
        Self(raw::genl_small_ops {
            doit: Some(doit_callback::<C>),
            dumpit: None,
            cmd: C::CMD,
            internal_flags: 0,
            flags: if C::ADMIN_ONLY {
                raw::GENL_UNS_ADMIN_PERM as u8
            } else {
                0
            },
            validate: 0,
        })
    }
}

/// A multicast group of a family (`struct genl_multicast_group`).
#[repr(transparent)]
pub struct MulticastGroup(raw::genl_multicast_group);

impl MulticastGroup {
    /// A group that any process may join.
    pub const fn new(name: &CStr) -> Self {
        Self(raw::genl_multicast_group {
            name: c_name(name),
            flags: 0,
        })
    }
}

/// A generic netlink family.
///
/// # Invariants
///
/// `inner` holds a `genl_family` whose pointers refer to `'static` data;
/// while registered, only the genetlink core writes to it.
pub struct Family {
    inner: UnsafeCell<raw::genl_family>,
}

// SAFETY: The family is only written before registration (by
// `Family::register`, which requires exclusive registration through
// `genl_register_family`'s own locking) and by the genetlink core under its
// own locks; everything it points to is `'static` and immutable.
unsafe impl Sync for Family {}

impl Family {
    /// A family called `name` (at most 15 bytes) serving `ops` and
    /// `mcgrps`, available in every network namespace.
    pub const fn new(
        name: &CStr,
        version: u32,
        ops: &'static [SmallOp],
        mcgrps: &'static [MulticastGroup],
    ) -> Self {
        assert!(ops.len() <= u8::MAX as usize && mcgrps.len() <= u8::MAX as usize);
        // SAFETY: All-zero is a valid `genl_family`: null pointers, no ops.
        let mut f: raw::genl_family = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
        f.name = c_name(name);
        f.version = version;
        f.small_ops = ops.as_ptr().cast::<raw::genl_small_ops>();
        f.n_small_ops = ops.len() as u8;
        // 0: every command gets strict header and attribute validation,
        // as required of new families.
        f.resv_start_op = 0;
        f.mcgrps = mcgrps.as_ptr().cast::<raw::genl_multicast_group>();
        f.n_mcgrps = mcgrps.len() as u8;
        // INVARIANT: `ops` and `mcgrps` are `'static`.
        Self {
            inner: UnsafeCell::new(f),
        }
    }

    /// Registers the family on behalf of `module`.
    ///
    /// Fails with `EEXIST` if a family of that name is registered already
    /// (including this one).
    pub fn register(&'static self, module: &'static ThisModule) -> Result<Registration> {
        let f = self.inner.get();
        // SAFETY: An unregistered family is not read by the kernel, so
        // setting its owner and flags cannot race with the genetlink core.
        // If it is registered already, `genl_register_family` fails and
        // these writes stored the same values again.
        unsafe {
            (*f).module = module.as_ptr().cast::<raw::module>();
            (*f).set_netnsok(1);
        }
        // SAFETY: `f` is a valid family whose pointers are `'static`.
        to_result(unsafe { raw::genl_register_family(f) })?;
        Ok(Registration { family: self })
    }

    /// The family id the kernel assigned, valid while registered.
    pub fn id(&self) -> u16 {
        // SAFETY: `id` is written once by `genl_register_family`; reading an
        // integer field cannot observe an invalid value.
        let id = unsafe { (*self.inner.get()).id };
        id as u16
    }
}

/// A registered [`Family`]; dropping it unregisters the family.
pub struct Registration {
    family: &'static Family,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: The family was registered by `Family::register`.
        // `genl_unregister_family` waits for running operations.
        unsafe { raw::genl_unregister_family(self.family.inner.get()) };
    }
}
