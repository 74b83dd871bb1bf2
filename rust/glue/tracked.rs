// SPDX-License-Identifier: GPL-2.0

//! References known to the kernel's reference trackers.
//!
//! C header: [`include/linux/ref_tracker.h`](srctree/include/linux/ref_tracker.h).
//!
//! A [`Tracked<T>`] holds a reference on a network device or namespace
//! with its own tracker (`netdev_hold`/`netdev_put`,
//! `get_net_track`/`put_net_track`): under
//! `CONFIG_NET_DEV_REFCNT_TRACKER` or `CONFIG_NET_NS_REFCNT_TRACKER`, one
//! never given back is reported with the stack that took it when the
//! object goes away. For references held long (a flash's); short-lived
//! ones are plain [`ARef<T>`]s. Without the trackers configured, a
//! tracker is empty and this is an ordinary reference.

use core::{cell::UnsafeCell, mem::MaybeUninit, ptr::NonNull};
use kernel::sync::aref::{ARef, AlwaysRefCounted};

/// An object whose references can be tracked.
///
/// # Safety
///
/// `hold` takes a reference on a live object and records it in the
/// tracker, `put` gives back one taken by `hold` with that tracker;
/// neither keeps a pointer to the tracker's place (it may move between
/// the two).
pub unsafe trait Trackable: AlwaysRefCounted + Send + Sync {
    /// The C tracker (`netdevice_tracker`, `netns_tracker`).
    type Tracker;

    /// Takes a tracked reference.
    ///
    /// # Safety
    ///
    /// `obj` is live; `tracker` is writable and not tracking anything.
    unsafe fn hold(obj: *mut Self, tracker: *mut Self::Tracker);

    /// Gives back a reference `hold` took with `tracker`.
    ///
    /// # Safety
    ///
    /// As said.
    unsafe fn put(obj: *mut Self, tracker: *mut Self::Tracker);
}

/// A tracked reference on a `T`.
///
/// # Invariants
///
/// `obj` is held with `tracker`, which nothing else uses.
pub struct Tracked<T: Trackable> {
    obj: NonNull<T>,
    /// Written by C, and movable: nothing points to it (`Trackable`'s
    /// contract), so unlike `Opaque` it does not pin the reference.
    tracker: UnsafeCell<MaybeUninit<T::Tracker>>,
}

// SAFETY: As an `ARef<T>` of a `Send + Sync` `T`; the tracker is only
// touched when the reference is taken and given back.
unsafe impl<T: Trackable> Send for Tracked<T> {}
// SAFETY: `&Tracked<T>` only gives `&T`, and `T` is `Sync`.
unsafe impl<T: Trackable> Sync for Tracked<T> {}

impl<T: Trackable> Tracked<T> {
    /// A tracked reference on `obj`, in place of the plain one.
    pub fn new(obj: ARef<T>) -> Self {
        let tracked = Self {
            obj: NonNull::from(&*obj),
            tracker: UnsafeCell::new(MaybeUninit::uninit()),
        };
        // SAFETY: `obj` holds the object alive; the tracker is fresh and
        // ours.
        unsafe { T::hold(tracked.obj.as_ptr(), tracked.tracker.get().cast()) };
        // INVARIANT: Held with `tracker`; the plain reference goes.
        drop(obj);
        tracked
    }
}

impl<T: Trackable> core::ops::Deref for Tracked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: Held (type invariant), so alive.
        unsafe { self.obj.as_ref() }
    }
}

impl<T: Trackable> Drop for Tracked<T> {
    fn drop(&mut self) {
        // SAFETY: Held with `tracker` (type invariant); given back once.
        unsafe { T::put(self.obj.as_ptr(), self.tracker.get().cast()) };
    }
}
