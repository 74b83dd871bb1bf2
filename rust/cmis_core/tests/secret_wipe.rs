// SPDX-License-Identifier: GPL-2.0

//! A dropped host password leaves no copy in the memory that held it.
//!
//! Safe code cannot look at memory once its value is dropped, so this
//! test drops values in place inside a [`MaybeUninit`] and reads the bytes
//! left behind through the slot's own pointer.

#![allow(unsafe_code)]

use cmis_core::fw_update::{Options, Password};
use core::mem::{size_of, MaybeUninit};

const SECRET: u32 = 0x5EC2_E7A1;

/// Drops the value in `slot` in place, then returns the `N` bytes at
/// `offset` in it.
///
/// # Safety
///
/// `slot` holds an initialised value that is not used again, and the `N`
/// bytes at `offset` are initialised once it is dropped (the bytes of a
/// field that its drop leaves as plain data, not padding).
unsafe fn bytes_left<T, const N: usize>(slot: &mut MaybeUninit<T>, offset: usize) -> [u8; N] {
    assert!(offset + N <= size_of::<T>());
    // SAFETY: the caller guarantees that `slot` holds a live value, dropped
    // once here.
    unsafe { slot.as_mut_ptr().drop_in_place() };
    // SAFETY: in bounds (asserted above); the caller guarantees that these
    // bytes are initialised after the drop; read unaligned, as bytes.
    unsafe {
        slot.as_ptr()
            .cast::<u8>()
            .add(offset)
            .cast::<[u8; N]>()
            .read_unaligned()
    }
}

#[test]
fn a_dropped_password_is_wiped() {
    let mut slot = MaybeUninit::new(Password::new(SECRET));
    // The password is a single `u32`: its four bytes are the whole value.
    assert_eq!(size_of::<Password>(), 4);
    // SAFETY: `slot` holds a password, not used after this; its four bytes
    // are the `u32` that its drop writes.
    let left: [u8; 4] = unsafe { bytes_left(&mut slot, 0) };
    assert_eq!(left, [0; 4], "the dropped password's memory still holds it");
}

#[test]
fn dropped_options_wipe_their_password() {
    // The flash keeps the requester's password in its options until the
    // flash is freed.
    let mut slot = MaybeUninit::new(Options {
        password: Some(Password::new(SECRET)),
        ..Options::DEFAULT
    });
    let base = slot.as_ptr() as usize;
    // SAFETY: `slot` was initialised just above.
    let options = unsafe { slot.assume_init_ref() };
    let password = options.password.as_ref().expect("set above");
    let offset = core::ptr::from_ref(password) as usize - base;
    // SAFETY: `slot` holds options, not used after this; the four bytes at
    // `offset` are the password's `u32`, which its drop writes.
    let left: [u8; 4] = unsafe { bytes_left(&mut slot, offset) };
    assert_eq!(
        left, [0; 4],
        "the dropped options' memory still holds the password"
    );
}
