// SPDX-License-Identifier: GPL-2.0

//! A work queue of our own, destroyed (after its work is done) on drop.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h).
//!
//! The 6.12 `kernel::workqueue` module has work items and the system
//! queues but cannot allocate a queue.

use crate::bindings as raw;
use core::ptr::NonNull;
use kernel::{prelude::*, str::CStr, workqueue::Queue};

/// An unbound work queue for long-running work.
///
/// # Invariants
///
/// `wq` was allocated by `alloc_workqueue` and is destroyed only by drop.
pub struct OwnedQueue {
    wq: NonNull<raw::workqueue_struct>,
}

// SAFETY: Work queues are used from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: See above.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// An unbound queue called `name` (shown in `/sys/devices/virtual/workqueue`
    /// and in worker names).
    pub fn new_unbound(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated and `'static` (the queue keeps
        // a copy anyway).
        let wq = unsafe { raw::cmis_helper_alloc_unbound_workqueue(name.as_char_ptr()) };
        // INVARIANT: Non-null means allocated.
        NonNull::new(wq).map(|wq| Self { wq }).ok_or(ENOMEM)
    }

    /// The queue, to enqueue work items.
    pub fn queue(&self) -> &Queue {
        // SAFETY: The queue is valid until `self` is dropped, which outlives
        // the returned reference; the types are the same C struct.
        unsafe { Queue::from_raw(self.wq.as_ptr().cast()) }
    }
}

impl OwnedQueue {
    /// Waits until the queue is empty and its work items have finished,
    /// including work queued meanwhile by those items.
    pub fn drain(&self) {
        // SAFETY: The queue is valid (type invariant); draining may sleep,
        // which callers of this method allow.
        unsafe { raw::drain_workqueue(self.wq.as_ptr()) };
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: Allocated and not destroyed yet (type invariant);
        // `destroy_workqueue` drains the queue first.
        unsafe { raw::destroy_workqueue(self.wq.as_ptr()) };
    }
}
