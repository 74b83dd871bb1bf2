// SPDX-License-Identifier: GPL-2.0

//! Notifier blocks on the kernel's notifier chains.
//!
//! C header: [`include/linux/notifier.h`](srctree/include/linux/notifier.h).
//!
//! A [`Registration`] is a `struct notifier_block` registered on the chain
//! a [`Chain`] names, calling its handler for every event until dropped.
//! The chain-specific glue (netdevice events in `ethdev.rs`, netlink socket
//! releases in `genl.rs`) implements [`Chain`]: how to register on the
//! chain and how to decode its events for its handler.

use crate::bindings as raw;
use core::marker::PhantomData;
use kernel::{
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    sync::Arc,
    types::Opaque,
};

/// A notifier chain and what its events mean to a handler `H`.
pub trait Chain<H: Send + Sync>: Send + Sync + 'static {
    /// Registers `nb` on the chain.
    ///
    /// # Safety
    ///
    /// `nb` is an initialised block, pinned, not registered anywhere.
    unsafe fn register(nb: *mut raw::notifier_block) -> c_int;

    /// Unregisters `nb` from the chain; waits for running callbacks.
    ///
    /// # Safety
    ///
    /// `nb` was registered by [`Chain::register`].
    unsafe fn unregister(nb: *mut raw::notifier_block);

    /// Handles one event: `NOTIFY_*`.
    ///
    /// # Safety
    ///
    /// `ptr` is the data the chain passes with `event`.
    unsafe fn event(handler: &H, event: c_ulong, ptr: *mut c_void) -> c_int;
}

/// A notifier block registered on chain `C`, calling `handler`.
///
/// # Invariants
///
/// `block` is registered on `C`, with `Self::callback` as its function,
/// for as long as `self` lives.
#[pin_data(PinnedDrop)]
pub struct Registration<C: Chain<H>, H: Send + Sync> {
    #[pin]
    block: Opaque<raw::notifier_block>,
    handler: Arc<H>,
    _chain: PhantomData<C>,
}

impl<C: Chain<H>, H: Send + Sync> Registration<C, H> {
    /// Registers a notifier that calls `handler`.
    pub fn register(handler: Arc<H>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // First: the callback may run as soon as `block` is registered.
            handler,
            _chain: PhantomData,
            block <- Opaque::try_ffi_init(|nb: *mut raw::notifier_block| {
                let block = raw::notifier_block {
                    notifier_call: Some(Self::callback),
                    ..pin_init::zeroed()
                };
                // SAFETY: `nb` is valid for writes (`try_ffi_init`).
                unsafe { nb.write(block) };
                // SAFETY: `nb` is an initialised block, pinned, which stays
                // registered until `drop` unregisters it.
                to_result(unsafe { C::register(nb) })
            }),
        })
    }

    /// Called by the chain.
    ///
    /// # Safety
    ///
    /// `nb` is the block of a registered `Registration<C, H>` and `ptr`
    /// the event's data.
    unsafe extern "C" fn callback(
        nb: *mut raw::notifier_block,
        event: c_ulong,
        ptr: *mut c_void,
    ) -> c_int {
        let this = nb
            .cast::<u8>()
            .wrapping_sub(core::mem::offset_of!(Self, block))
            .cast::<Self>();
        // SAFETY: `nb` is the `block` field of a registered
        // `Registration<C, H>` (only those register this callback), which
        // lives until it is unregistered.
        let this = unsafe { &*this };
        // SAFETY: `ptr` is the event's data (the function's contract).
        unsafe { C::event(&this.handler, event, ptr) }
    }
}

// SAFETY: The block is only touched by the chain (under its own lock) and
// by `drop`; the handler is `Send + Sync`.
unsafe impl<C: Chain<H>, H: Send + Sync> Send for Registration<C, H> {}
// SAFETY: See above; `&self` gives no access to the block.
unsafe impl<C: Chain<H>, H: Send + Sync> Sync for Registration<C, H> {}

#[pinned_drop]
impl<C: Chain<H>, H: Send + Sync> PinnedDrop for Registration<C, H> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `register` (type invariant).
        unsafe { C::unregister(self.block.get()) };
    }
}
