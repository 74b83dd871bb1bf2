// SPDX-License-Identifier: GPL-2.0

//! Module state reachable from C callbacks that carry no context.
//!
//! A generic netlink operation gets the request and nothing of ours, so
//! the state it needs (owned by the module object) is published here for
//! the time the callbacks that read it are registered.

use core::sync::atomic::{AtomicPtr, Ordering};

/// A pointer to state owned elsewhere, published while it is valid.
pub struct Global<T> {
    ptr: AtomicPtr<T>,
}

impl<T: Sync> Global<T> {
    /// Nothing published.
    pub const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Publishes `value`.
    ///
    /// # Safety
    ///
    /// `value` stays valid (not moved or dropped) until [`Global::clear`]
    /// has been called and every caller of [`Global::get`] that may have
    /// seen it has returned: in practice, publish before registering the
    /// callbacks that call `get`, and clear after unregistering them.
    pub unsafe fn set(&self, value: &T) {
        self.ptr
            .store(core::ptr::from_ref(value).cast_mut(), Ordering::Release);
    }

    /// Withdraws the published value.
    pub fn clear(&self) {
        self.ptr.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// The published value, if any.
    pub fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: A published value is valid for every caller that can see
        // it (the contract of `set`); only shared references are handed
        // out, and `T: Sync`.
        unsafe { p.as_ref() }
    }
}

impl<T: Sync> Default for Global<T> {
    fn default() -> Self {
        Self::new()
    }
}
