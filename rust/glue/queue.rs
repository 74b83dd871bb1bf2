// SPDX-License-Identifier: GPL-2.0

//! A work queue of our own, destroyed (after its work is done) on drop.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h).
//!
//! Linux 7.3's `kernel::workqueue` has work items, the system queues and
//! [`Queue::from_raw`], but nothing that allocates and owns a queue.

use core::ptr::NonNull;
use kernel::{bindings, prelude::*, workqueue::Queue};

/// An unbound work queue for long-running work.
///
/// # Invariants
///
/// `wq` was allocated by `alloc_workqueue` and is destroyed only by drop.
pub struct OwnedQueue {
    wq: NonNull<bindings::workqueue_struct>,
}

// SAFETY: Work queues are used and destroyed from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: All methods take `&self` and call work queue functions that do
// their own locking.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// An unbound queue called `name` (shown in `/sys/devices/virtual/workqueue`
    /// and in worker names). Unbound: each work item sleeps for most of its
    /// life; `max_active` 0 takes the default, far above the number of
    /// items queued at once.
    pub fn new_unbound(name: &'static CStr) -> Result<Self> {
        // SAFETY: The format is a NUL-terminated "%s" and its one argument
        // `name` a NUL-terminated string (the queue copies the formatted
        // name); the flags are valid.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                c"%s".as_char_ptr(),
                bindings::wq_flags_WQ_UNBOUND,
                0,
                name.as_char_ptr(),
            )
        };
        // INVARIANT: Non-null means allocated.
        NonNull::new(wq).map(|wq| Self { wq }).ok_or(ENOMEM)
    }

    /// The queue, to enqueue work items.
    pub fn queue(&self) -> &Queue {
        // SAFETY: The queue is valid until `self` is dropped, which outlives
        // the returned reference.
        unsafe { Queue::from_raw(self.wq.as_ptr()) }
    }

    /// Waits until the queue is empty and its work items have finished,
    /// including work queued meanwhile by those items.
    pub fn drain(&self) {
        // SAFETY: The queue is valid (type invariant); draining may sleep,
        // which callers of this method allow.
        unsafe { bindings::drain_workqueue(self.wq.as_ptr()) };
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: Allocated and not destroyed yet (type invariant);
        // `destroy_workqueue` drains the queue first.
        unsafe { bindings::destroy_workqueue(self.wq.as_ptr()) };
    }
}
