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

/// Sleeps for about `ns` nanoseconds, rounded up to a microsecond, without
/// spinning: hrtimer-based below 20 ms, `msleep` above, as
/// `Documentation/timers/delay_sleep_functions.rst` recommends. Does not
/// return early on signals.
///
/// Must be called from a context that may sleep.
pub fn sleep_ns(ns: u64) {
    if ns == 0 {
        return;
    }
    let us = ns.div_ceil(1_000);
    if us < 20_000 {
        // Allow 25% slack (at least 1 µs) so timers can be coalesced.
        let max = us + (us / 4).max(1);
        // SAFETY: `usleep_range_state` has no preconditions beyond a
        // sleepable context, which the caller provides.
        unsafe { bindings::usleep_range_state(us as _, max as _, bindings::TASK_UNINTERRUPTIBLE) };
    } else {
        let ms = us.div_ceil(1_000).min(u32::MAX as u64);
        // SAFETY: As above; `msleep` may sleep.
        unsafe { bindings::msleep(ms as _) };
    }
}
