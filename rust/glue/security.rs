// SPDX-License-Identifier: GPL-2.0

//! The caller's privileges and the kernel's taint, for requests that reach
//! a module's firmware: fwctl's rules (`drivers/fwctl/main.c`).

use crate::bindings as raw;
use kernel::ffi::{c_char, c_int};

/// Whether the current task has `CAP_SYS_RAWIO` in the initial user
/// namespace (`capable()`), which fwctl requires for its full scope.
pub fn capable_rawio() -> bool {
    // SAFETY: `capable` may be called from any task context with any
    // capability number.
    unsafe { raw::capable(raw::CAP_SYS_RAWIO as c_int) }
}

/// The same, without an audit record or `PF_SUPERPRIV`: for telling the
/// caller what it may do, not for deciding.
pub fn capable_rawio_noaudit() -> bool {
    // SAFETY: `init_user_ns` is a static the kernel never frees;
    // `ns_capable_noaudit` may be called from any task context.
    unsafe {
        raw::ns_capable_noaudit(
            core::ptr::addr_of_mut!(raw::init_user_ns),
            raw::CAP_SYS_RAWIO as c_int,
        )
    }
}

/// Taints the kernel as fwctl does for an RPC that may change device
/// firmware's behaviour (`TAINT_FWCTL`); lockdep stays reliable.
pub fn taint_firmware_access() {
    // SAFETY: `add_taint` accepts any taint flag below `TAINT_FLAGS_COUNT`,
    // which `TAINT_FWCTL` is.
    unsafe { raw::add_taint(raw::TAINT_FWCTL, raw::lockdep_ok_LOCKDEP_STILL_OK) };
}

/// Length of a task's name, its NUL included (`TASK_COMM_LEN`).
const COMM_LEN: usize = 16;

/// The current task's name (`comm`).
pub struct Comm([u8; COMM_LEN]);

impl Comm {
    /// The current task's.
    pub fn current() -> Self {
        let mut buf = [0u8; COMM_LEN];
        // SAFETY: `buf` has the `TASK_COMM_LEN` bytes the helper writes
        // (NUL-padded).
        unsafe { raw::cmis_helper_current_comm(buf.as_mut_ptr().cast::<c_char>()) };
        Self(buf)
    }

    /// As text (without the NUL; a name is not always UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.0[..end]
    }
}
