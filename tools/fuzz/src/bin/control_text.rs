// SPDX-License-Identifier: GPL-2.0

//! AFL++ entry point of `cmis_core::fuzz::control_text`.

fn main() {
    afl::fuzz!(|data: &[u8]| cmis_core::fuzz::control_text(data));
}
