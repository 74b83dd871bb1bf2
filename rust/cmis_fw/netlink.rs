// SPDX-License-Identifier: GPL-2.0

//! The `cmis_fw` generic netlink family.
//!
//! Messages, attributes and status values are numbered as ethtool's
//! MODULE_FW_FLASH (`include/uapi/linux/ethtool_netlink.h`), so that
//! userspace code can address either.

#![forbid(unsafe_code)]

use crate::genl::{Command, Family, Info, MulticastGroup, SmallOp};
use kernel::{c_str, prelude::*, str::CStr};

/// Name of the family, as shown by `genl ctrl list`.
pub(crate) const FAMILY_NAME: &CStr = c_str!("cmis_fw");
/// Version of the family's protocol.
const FAMILY_VERSION: u32 = 1;

/// `ETHTOOL_MSG_MODULE_FW_FLASH_ACT`.
const MSG_MODULE_FW_FLASH_ACT: u8 = 44;

/// Starts flashing a module's firmware.
struct FlashAct;

impl Command for FlashAct {
    const CMD: u8 = MSG_MODULE_FW_FLASH_ACT;

    fn doit(info: &mut Info<'_>) -> Result {
        info.set_error_message(c_str!("cmis_fw: firmware flashing is not implemented yet"));
        Err(crate::errno::eopnotsupp())
    }
}

static OPS: [SmallOp; 1] = [SmallOp::new::<FlashAct>()];
static MCGRPS: [MulticastGroup; 1] = [MulticastGroup::new(c_str!("monitor"))];

/// The family, registered at module load.
pub(crate) static FAMILY: Family = Family::new(FAMILY_NAME, FAMILY_VERSION, &OPS, &MCGRPS);
