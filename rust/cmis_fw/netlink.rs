// SPDX-License-Identifier: GPL-2.0

//! The `cmis_fw` generic netlink family.
//!
//! Messages, attributes and status values are numbered as ethtool's
//! MODULE_FW_FLASH (`include/uapi/linux/ethtool_netlink.h`), so that
//! userspace code can address either. Request validation follows
//! `ethnl_act_module_fw_flash` in `net/ethtool/module.c`, with the same
//! extack messages.

#![forbid(unsafe_code)]

use crate::cmis_core::map::{identifier, lower, I2C_ADDRESS};
use crate::cmis_core::uapi::{
    attr, header, status, FAMILY_VERSION, MSG_MODULE_FW_FLASH_ACT, MSG_MODULE_FW_FLASH_NTF,
};
use crate::ethdev::{ModuleAccess, NetDevice, Rtnl};
use crate::flash::{self, Flashes, Request};
use crate::genl::{Attr, Command, Family, Info, Message, Net, Policy, SmallOp};
use kernel::{
    firmware::Firmware,
    net::netlink::MulticastGroup,
    prelude::*,
    sync::{aref::ARef, ArcBorrow},
};

/// Default name of the family, as shown by `genl ctrl list` (the module
/// parameter `family` overrides it).
const FAMILY_NAME: &CStr = c"cmis_fw";

/// `ETHTOOL_MODULE_FW_FLASH_STATUS_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlashStatus {
    Started = status::STARTED as isize,
    InProgress = status::IN_PROGRESS as isize,
    Completed = status::COMPLETED as isize,
    Error = status::ERROR as isize,
}

/// Longest interface name (`ALTIFNAMSIZ - 1`, as ethtool's header policy).
const DEV_NAME_MAX: u16 = 127;
/// Longest firmware file name accepted.
const FILE_NAME_MAX: u16 = 255;

/// `ETHTOOL_A_HEADER_*`: device by index or name; flags are accepted and
/// ignored (no reply is sent to the ACT request anyway).
static HEADER_POLICY: [Policy; 4] = [
    Policy::unused(),
    Policy::u32(),
    Policy::nul_string(DEV_NAME_MAX),
    Policy::u32(),
];

/// Attributes of requests; the notification-only ones are refused in
/// requests.
static POLICY: [Policy; 4] = [
    Policy::unused(),
    Policy::nested(&HEADER_POLICY),
    Policy::nul_string(FILE_NAME_MAX),
    Policy::u32(),
];

/// Starts flashing a module's firmware.
struct FlashAct;

impl Command for FlashAct {
    type Context = Flashes;

    const CMD: u8 = MSG_MODULE_FW_FLASH_ACT;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        let req = match validate(info) {
            Ok(req) => req,
            Err((msg, e)) => {
                info.set_error_message(msg);
                return Err(e);
            }
        };
        // A second reference, to clear the flag if starting fails.
        let dev = req.dev.clone();
        // The notifications must reach the requester after the ack: ack
        // once the flash is registered, before its work is queued.
        let r = flash::start(flashes, req, || info.ack_now());
        if r.is_err() {
            let rtnl = Rtnl::lock();
            dev.set_module_flash_in_progress(&rtnl, false);
            info.set_error_message(c"Failed to start module firmware flashing");
        }
        r
    }
}

type Rejection = (&'static CStr, Error);

fn reject(msg: &'static CStr, e: Error) -> Rejection {
    (msg, e)
}

/// Finds the device the header names, by index or by name.
fn device(info: &Info<'_>, net: &Net) -> Result<ARef<NetDevice>, Rejection> {
    let header = info
        .attr(attr::HEADER)
        .ok_or_else(|| reject(c"request header missing", EINVAL))?;
    let (mut index, mut name) = (None, None);
    for (kind, a) in header.nested() {
        match kind {
            header::DEV_INDEX => index = a.u32(),
            header::DEV_NAME => name = a.c_str(),
            _ => {}
        }
    }
    let dev = match (index, name) {
        (Some(i), _) => NetDevice::by_index(net, i),
        (None, Some(n)) => NetDevice::by_name(net, n),
        (None, None) => return Err(reject(c"device not specified", EINVAL)),
    }
    .ok_or_else(|| reject(c"no device matches the request header", ENODEV))?;
    if let (Some(_), Some(n)) = (index, name) {
        if dev.name().as_c_str() != n {
            return Err(reject(c"ifindex and name do not match", ENODEV));
        }
    }
    Ok(dev)
}

fn file_name<'a>(info: &'a Info<'_>) -> Result<&'a CStr, Rejection> {
    info.attr(attr::FILE_NAME)
        .and_then(|a: Attr<'_>| a.c_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| reject(c"firmware file name missing", EINVAL))
}

/// Checks the request as the ethtool core does, sets the device's
/// in-progress flag and loads the image.
fn validate(info: &Info<'_>) -> Result<Request, Rejection> {
    let net = info
        .net()
        .ok_or_else(|| reject(c"no network namespace", EINVAL))?;
    let dev = device(info, &net)?;
    let file = file_name(info)?;
    let password = info.attr(attr::PASSWORD).and_then(|a| a.u32());

    let ops = dev.flash_ops();
    if !ops.eeprom {
        return Err(reject(
            c"Flashing module firmware is not supported by this device",
            EOPNOTSUPP,
        ));
    }
    if !ops.reset {
        return Err(reject(
            c"Reset module is not supported by this device, so flashing is not permitted",
            EOPNOTSUPP,
        ));
    }
    {
        let rtnl = Rtnl::lock();
        if dev.module_flash_in_progress(&rtnl) {
            return Err(reject(
                c"Module firmware flashing already in progress",
                EBUSY,
            ));
        }
        if dev.is_running() {
            return Err(reject(
                c"Netdevice is up, so flashing is not permitted",
                EBUSY,
            ));
        }
        // From here the core vetoes bringing the device up and user-space
        // module EEPROM access; every failure below clears the flag.
        dev.set_module_flash_in_progress(&rtnl, true);
    }
    let checked = load(&dev, file);
    match checked {
        Ok(firmware) => Ok(Request {
            dev,
            firmware,
            password,
            requester: net,
            portid: info.sender_portid(),
            seq: info.sequence(),
        }),
        Err(r) => {
            let rtnl = Rtnl::lock();
            dev.set_module_flash_in_progress(&rtnl, false);
            Err(r)
        }
    }
}

/// Loads the image and checks the module is a CMIS one.
///
/// The ethtool core loads the image with `request_firmware_direct`; the
/// kernel crate's `Firmware::request_nowarn` differs from it only where
/// `CONFIG_FW_LOADER_USER_HELPER_FALLBACK` is set (neither Debian's kernel
/// nor the test kernel sets it): there it would wait for a user-mode
/// helper when the file is missing.
fn load(dev: &NetDevice, file: &CStr) -> Result<Firmware, Rejection> {
    let firmware = Firmware::request_nowarn(file, dev.device())
        .map_err(|e| reject(c"Failed to request module firmware image", e))?;
    let mut id = [0u8; 1];
    let at = ModuleAccess {
        i2c_address: I2C_ADDRESS,
        bank: 0,
        page: 0,
        offset: lower::IDENTIFIER,
    };
    dev.read_module(at, &mut id)
        .map_err(|e| reject(c"Failed to read the module identifier", e))?;
    if !identifier::is_cmis(id[0]) {
        return Err(reject(
            c"Module type does not support firmware flashing",
            EOPNOTSUPP,
        ));
    }
    Ok(firmware)
}

/// A progress notification (`ETHTOOL_MSG_MODULE_FW_FLASH_NTF`).
pub(crate) struct Notification<'a> {
    pub(crate) dev: &'a NetDevice,
    pub(crate) status: FlashStatus,
    pub(crate) msg: Option<&'a CStr>,
    pub(crate) done: u64,
    pub(crate) total: u64,
}

impl Notification<'_> {
    fn build(&self, portid: u32, seq: u32) -> Result<Message> {
        let mut m = Message::new(&FAMILY, portid, seq, MSG_MODULE_FW_FLASH_NTF)?;
        let name = self.dev.name();
        m.put_nested(attr::HEADER, |m| {
            m.put_u32(header::DEV_INDEX, self.dev.ifindex())?;
            m.put_string(header::DEV_NAME, name.as_c_str())
        })?;
        m.put_u32(attr::STATUS, self.status as u32)?;
        if let Some(msg) = self.msg {
            m.put_string(attr::STATUS_MSG, msg)?;
        }
        m.put_uint(attr::DONE, self.done)?;
        m.put_uint(attr::TOTAL, self.total)?;
        Ok(m)
    }

    /// Sends it to the requesting socket.
    pub(crate) fn unicast(&self, net: &Net, portid: u32, seq: u32) -> Result {
        self.build(portid, seq)?.unicast(net, portid)
    }

    /// Sends it to the `monitor` group of the device's namespace.
    pub(crate) fn multicast(&self, net: &Net) -> Result {
        self.build(0, 0)?
            .multicast(&FAMILY, net, MONITOR_GROUP_INDEX)
    }
}

static OPS: [SmallOp<Flashes>; 1] = [SmallOp::new::<FlashAct>()];
/// Index of the `monitor` group in [`MCGRPS`].
const MONITOR_GROUP_INDEX: u32 = 0;
static MCGRPS: [MulticastGroup; 1] = [MulticastGroup::const_new(c"monitor")];

/// The family, registered at module load.
pub(crate) static FAMILY: Family<Flashes> =
    Family::new(FAMILY_NAME, FAMILY_VERSION as u32, &POLICY, &OPS, &MCGRPS);
