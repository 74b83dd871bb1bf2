// SPDX-License-Identifier: GPL-2.0

//! Allocation of the emulated module model.
//!
//! The model is several kilobytes, too big to build on the kernel stack
//! and move: it is allocated zeroed on the heap and initialised in place.

use crate::cmis_core::emu::{Module, Nanos, Profile};
use crate::cmis_core::image::Version;
use kernel::prelude::*;

// SAFETY: `Module` holds only integers, booleans, arrays of them, and
// enums and `Option`s of those whose all-zero bit pattern is a valid value
// (the first variant, or `None`): no references, pointers or `NonZero`.
// All zero is a valid, if meaningless, module, which `Module::reinit`
// turns into a real one.
unsafe impl Zeroable for Module {}

/// A heap-allocated module with `profile`, running `version`, Ready at
/// `now`.
pub fn new_module(profile: Profile, version: Version, now: Nanos) -> Result<KBox<Module>> {
    let mut m = KBox::init(pin_init::init_zeroed::<Module>(), GFP_KERNEL)?;
    m.reinit(profile, version, now);
    Ok(m)
}
