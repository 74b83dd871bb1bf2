// SPDX-License-Identifier: GPL-2.0

//! Clock and sleeping.
//!
//! C headers: [`include/linux/delay.h`](srctree/include/linux/delay.h),
//! [`include/linux/timekeeping.h`](srctree/include/linux/timekeeping.h).
//!
//! The 6.12 `kernel` crate has `Ktime` but no sleeping functions.

use kernel::bindings;

/// Monotonic time in nanoseconds (`ktime_get_ns`).
pub fn now_ns() -> u64 {
    // The monotonic clock starts at boot and never goes negative.
    kernel::time::Ktime::ktime_get().to_ns() as u64
}

/// Sleeps for `ns` nanoseconds, rounded up to a microsecond, and at most
/// `late_ns` (at least 1 µs) more: the timer may fire anywhere in that
/// window, so that it can be coalesced with others. Does not spin and does
/// not return early on signals.
///
/// Always an hrtimer, whatever the length: `msleep` would round up to
/// jiffies (4 ms at 250 Hz), and both callers need their sleeps close to
/// what they ask for: the flasher aims its polls at the end of the
/// module's busy time, the emulated module sleeps its bus time.
///
/// Must be called from a context that may sleep.
pub fn sleep_ns(ns: u64, late_ns: u64) {
    if ns == 0 {
        return;
    }
    let min = ns.div_ceil(1_000);
    let max = min.saturating_add((late_ns / 1_000).max(1));
    // SAFETY: `usleep_range_state` has no preconditions beyond a
    // sleepable context, which the caller provides.
    unsafe { bindings::usleep_range_state(min as _, max as _, bindings::TASK_UNINTERRUPTIBLE) };
}
