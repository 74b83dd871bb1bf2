// SPDX-License-Identifier: GPL-2.0

//! Module parameters.
//!
//! Linux 7.3's `module!` macro declares integer and `bool` parameters
//! only; cmis_fw's one parameter is a string, so it is declared in the
//! module's C object (`rust/cmis_fw/cmis_fw_helpers.c`) and read here.

use crate::bindings as raw;
use kernel::prelude::*;

/// The `family` parameter: the name to register the generic netlink
/// family under.
pub fn family() -> &'static CStr {
    // SAFETY: The parameter is a `charp` set at load time only (mode 0444),
    // so the string stays valid and unchanged while the module is loaded,
    // which is as long as any code of the module can hold the reference;
    // the kernel's parameter parsing keeps it NUL-terminated and non-null
    // (it defaults to a string literal).
    unsafe { CStr::from_char_ptr(raw::cmis_helper_param_family()) }
}
