// SPDX-License-Identifier: GPL-2.0

//! Clock and precise sleeps.
//!
//! C headers: [`include/linux/delay.h`](srctree/include/linux/delay.h),
//! [`include/linux/timekeeping.h`](srctree/include/linux/timekeeping.h).
//!
//! The clock is `kernel::time`'s monotonic clock. The sleeps are not
//! `kernel::time::delay::fsleep`: that one busy-waits up to 10 µs, adds a
//! quarter of the sleep as slack up to 20 ms and rounds longer sleeps up to
//! jiffies (4 ms at 250 Hz), while both callers need their sleeps close to
//! what they ask for (the flasher aims its polls at the end of the module's
//! busy time, the emulated module sleeps its bus time).

use kernel::{
    bindings,
    time::{ClockSource, Monotonic, RealTime},
};

/// Monotonic time in nanoseconds (`ktime_get_ns`).
pub fn now_ns() -> u64 {
    // The monotonic clock is within `0..=KTIME_MAX` (`ClockSource`'s
    // contract), so the conversion is exact.
    Monotonic::ktime_get().unsigned_abs()
}

/// Wall-clock time in seconds since the epoch (the real time clock, which
/// may be set back: for telling people when, not for measuring).
pub fn real_s() -> u64 {
    // Before the epoch (a clock set wrong) reads as the epoch.
    u64::try_from(RealTime::ktime_get()).unwrap_or(0) / 1_000_000_000
}

/// Sleeps for `ns` nanoseconds, rounded up to a microsecond, and at most
/// `late_ns` (at least 1 µs) more: the hrtimer may fire anywhere in that
/// window, so that it can be coalesced with others. Does not spin and does
/// not return early on signals.
///
/// Must be called from a context that may sleep.
pub fn sleep_ns(ns: u64, late_ns: u64) {
    if ns == 0 {
        return;
    }
    let min = ns.div_ceil(1_000);
    let max = min.saturating_add((late_ns / 1_000).max(1));
    // `unsigned long` is 64 bits wide on the 64-bit kernels Rust supports.
    let (min, max) = (
        usize::try_from(min).unwrap_or(usize::MAX),
        usize::try_from(max).unwrap_or(usize::MAX),
    );
    // SAFETY: `usleep_range_state` has no preconditions beyond a sleepable
    // context, which the caller provides; any range is valid.
    unsafe { bindings::usleep_range_state(min, max, bindings::TASK_UNINTERRUPTIBLE) };
}
