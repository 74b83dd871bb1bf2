// SPDX-License-Identifier: GPL-2.0

//! Firmware files from the firmware search path.
//!
//! C header: [`include/linux/firmware.h`](srctree/include/linux/firmware.h).
//!
//! The 6.12 `kernel::firmware` abstraction needs a `kernel::device::Device`
//! and has no `request_firmware_direct`, which firmware flashing uses (no
//! user-mode helper fallback, no warning when the file is missing).

use crate::bindings as raw;
use crate::ethdev::DeviceRef;
use core::ptr::NonNull;
use kernel::{error::to_result, prelude::*, str::CStr};

/// A loaded firmware file, released when dropped.
///
/// # Invariants
///
/// `fw` was returned by `request_firmware_direct` and not released.
pub struct Firmware {
    fw: NonNull<raw::firmware>,
}

// SAFETY: A loaded firmware is immutable until released, from any thread.
unsafe impl Send for Firmware {}
// SAFETY: See above.
unsafe impl Sync for Firmware {}

impl Firmware {
    /// Loads `name` (relative to the firmware search path) for `dev`,
    /// without falling back to a user-mode helper.
    pub fn request_direct(name: &CStr, dev: &DeviceRef) -> Result<Self> {
        let mut fw: *const raw::firmware = core::ptr::null();
        // SAFETY: `fw` is valid for writes, `name` NUL-terminated, the
        // device allocated (we hold a reference).
        to_result(unsafe {
            raw::request_firmware_direct(&mut fw, name.as_char_ptr(), dev.device_ptr())
        })?;
        // INVARIANT: Success returns a loaded firmware.
        NonNull::new(fw.cast_mut())
            .map(|fw| Self { fw })
            .ok_or(EINVAL)
    }

    /// The file's contents.
    pub fn data(&self) -> &[u8] {
        // SAFETY: A loaded firmware's `data` has `size` bytes until it is
        // released (type invariant).
        unsafe {
            let fw = self.fw.as_ref();
            if fw.size == 0 {
                return &[];
            }
            core::slice::from_raw_parts(fw.data, fw.size)
        }
    }
}

impl Drop for Firmware {
    fn drop(&mut self) {
        // SAFETY: Loaded and not yet released (type invariant).
        unsafe { raw::release_firmware(self.fw.as_ptr()) };
    }
}
