// SPDX-License-Identifier: GPL-2.0

//! The `cmis_fw` generic netlink family.
//!
//! Messages, attributes and status values are numbered as ethtool's
//! MODULE_FW_FLASH (`include/uapi/linux/ethtool_netlink.h`), so that
//! userspace code can address either. Request validation follows
//! `ethnl_act_module_fw_flash` in `net/ethtool/module.c`, with the same
//! extack messages.

#![forbid(unsafe_code)]

use crate::cmis_core::bank::BankId;
use crate::cmis_core::cdb::advert::RegVersion;
use crate::cmis_core::cdb::exchange::{retry, AccessFailure};
use crate::cmis_core::fw_update::version::{self, Version};
use crate::cmis_core::fw_update::{self, Left, Password, Until};
use crate::cmis_core::io::ModuleIo;
use crate::cmis_core::map::{identifier, lower, Access};
use crate::cmis_core::uapi::{
    attr, cdb, header, outcome, status, FAMILY_VERSION, MSG_MODULE_FW_CANCEL_ACT,
    MSG_MODULE_FW_COMMIT_ACT, MSG_MODULE_FW_FLASH_ACT, MSG_MODULE_FW_FLASH_NTF,
    MSG_MODULE_FW_RUN_ACT,
};
use crate::ethdev::{NetDevice, Rtnl};
use crate::flash::{self, Flashes, Job, Request, RequestIo};
use crate::genl::{
    Attr, Attrs, Command, Family, Info, Message, MulticastGroup, Net, Policy, Reserve, SmallOp,
};
use crate::info::InfoGet;
use crate::rpc::{self, CdbInfoGet, CdbRpc};
use core::fmt;
use kernel::{
    firmware::Firmware,
    prelude::*,
    str::CString,
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
pub(crate) const FILE_NAME_MAX: u16 = 255;

/// `ETHTOOL_FLAGS_BASIC` (`net/ethtool/netlink.c`): COMPACT_BITSETS and
/// OMIT_REPLY, the header flags an action request may carry.
const HEADER_FLAGS_BASIC: u32 = 0x3;

/// `ETHTOOL_A_HEADER_*`: device by index or name; flags as ethtool's
/// (no reply is sent to the ACT request, so they change nothing).
static HEADER_POLICY: [Policy; 4] = [
    Policy::unused(),
    Policy::u32(),
    Policy::nul_string(DEV_NAME_MAX),
    Policy::u32_mask(HEADER_FLAGS_BASIC),
];

/// Longest version text, its NUL not counted (as `NLA_NUL_STRING`'s
/// length).
const VERSION_MAX: u16 = version::TEXT_MAX as u16;

/// Attributes of requests, by number; the notification- and reply-only
/// ones (4-8, 11-13, 16-30, 37-45) are refused in requests.
static POLICY: [Policy; cdb::BUSY_STATUS as usize + 1] = {
    let mut p = [const { Policy::unused() }; cdb::BUSY_STATUS as usize + 1];
    p[attr::HEADER as usize] = Policy::nested(&HEADER_POLICY);
    p[attr::FILE_NAME as usize] = Policy::nul_string(FILE_NAME_MAX);
    p[attr::PASSWORD as usize] = Policy::u32();
    p[attr::UNTIL as usize] = Policy::u32();
    p[attr::VERSION as usize] = Policy::nul_string(VERSION_MAX);
    p[attr::LINK_UP as usize] = Policy::flag();
    p[attr::HITLESS as usize] = Policy::flag();
    // A CDB RPC request.
    p[cdb::COMMAND as usize] = Policy::u32();
    p[cdb::LPL as usize] = Policy::binary(rpc::LPL_POLICY_MAX);
    p[cdb::EPL as usize] = Policy::binary(rpc::EPL_POLICY_MAX);
    p[cdb::SCOPE as usize] = Policy::u32();
    p[cdb::INSTANCE as usize] = Policy::u32();
    p[cdb::TIMEOUT_MS as usize] = Policy::u32();
    p
};

/// What a request asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Download an image (then run and commit it).
    Flash,
    /// Run the inactive bank's image (then commit it).
    Run,
    /// Commit the running image.
    Commit,
}

impl Kind {
    /// The job a request command asks for.
    const fn of(cmd: u8) -> Self {
        match cmd {
            MSG_MODULE_FW_RUN_ACT => Self::Run,
            MSG_MODULE_FW_COMMIT_ACT => Self::Commit,
            _ => Self::Flash,
        }
    }
}

/// A request that starts a job on a module: flashing its firmware
/// ([`MSG_MODULE_FW_FLASH_ACT`]), running the image of its inactive bank
/// (a staged update's second step, or a rollback:
/// [`MSG_MODULE_FW_RUN_ACT`]), committing the image it runs
/// ([`MSG_MODULE_FW_COMMIT_ACT`]).
struct Act<const CMD: u8>;

impl<const CMD: u8> Command for Act<CMD> {
    type Context = Flashes;

    const CMD: u8 = CMD;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        act(flashes, info, Kind::of(CMD))
    }
}

/// Cancels the job running on the device the header names: it aborts a
/// download in progress and tells its requester (ERROR, "cancelled").
struct Cancel;

impl Command for Cancel {
    type Context = Flashes;

    const CMD: u8 = MSG_MODULE_FW_CANCEL_ACT;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        let net = info.net().ok_or(EINVAL)?;
        let dev = match device(info, &net) {
            Ok(dev) => dev,
            Err(r) => return Err(r.report(info)),
        };
        if flashes.cancel(&dev) {
            Ok(())
        } else {
            let r = Rejection::new(c"No firmware flashing in progress on this device", ENOENT);
            Err(r.report(info))
        }
    }
}

/// Validates a request and starts its job; its notifications follow.
fn act(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>, kind: Kind) -> Result {
    let req = match validate(&flashes, info, kind) {
        Ok(req) => req,
        Err(r) => return Err(r.report(info)),
    };
    // A second reference, to clear the flag if starting fails.
    let dev = req.dev.clone();
    // The notifications must reach the requester after the ack: ack once
    // the flash is registered, before its work is queued.
    let r = flash::start(flashes, req, || info.ack_now());
    if let Err(e) = r {
        let rtnl = Rtnl::lock();
        dev.set_module_flash_in_progress(&rtnl, false);
        let msg = if e == ENODEV {
            c"Netdevice is being unregistered"
        } else {
            c"Failed to start module firmware flashing"
        };
        info.set_error_message(msg);
    }
    r
}

/// Why a request is refused: the extack message, the error, and what in
/// the request is to blame.
pub(crate) struct Rejection<'a> {
    msg: &'static CStr,
    errno: Error,
    blame: Blame<'a>,
}

enum Blame<'a> {
    Nothing,
    /// This attribute of the request.
    Attr(Attr<'a>),
    /// The request lacks this top-level attribute.
    Missing(u16),
}

impl<'a> Rejection<'a> {
    pub(crate) fn new(msg: &'static CStr, errno: Error) -> Self {
        Self {
            msg,
            errno,
            blame: Blame::Nothing,
        }
    }

    pub(crate) fn at(msg: &'static CStr, errno: Error, attr: Attr<'a>) -> Self {
        Self {
            msg,
            errno,
            blame: Blame::Attr(attr),
        }
    }

    pub(crate) fn missing(msg: &'static CStr, kind: u16) -> Self {
        Self {
            msg,
            errno: EINVAL,
            blame: Blame::Missing(kind),
        }
    }

    /// Fills the request's extack; a driver's own message, if it gave
    /// one, stays: it knows better.
    pub(crate) fn report(self, info: &Info<'_>) -> Error {
        if !info.has_error_message() {
            info.set_error_message(self.msg);
        }
        match self.blame {
            Blame::Nothing => {}
            Blame::Attr(a) => info.set_error_attr(a),
            Blame::Missing(kind) => info.set_missing_attr(kind),
        }
        self.errno
    }
}

/// Why a request cannot use a device's ethtool operations
/// (`ethtool_ops->begin` failed, or the device is going away).
pub(crate) fn begin_refused<'a>(e: Error) -> Rejection<'a> {
    let msg = if e == ENODEV {
        c"Netdevice is not present or going away"
    } else {
        c"The driver refused module access (ethtool begin)"
    };
    Rejection::new(msg, e)
}

/// The requester's namespace and the device its header names, for the
/// requests that read or write a module; refusals reported.
pub(crate) fn request_device(info: &Info<'_>) -> Result<(ARef<Net>, ARef<NetDevice>)> {
    let net = info
        .net()
        .ok_or(Rejection::new(c"no network namespace", EINVAL))
        .map_err(|r| r.report(info))?;
    let dev = device(info, &net).map_err(|r| r.report(info))?;
    Ok((net, dev))
}

/// Refuses a device whose driver cannot read its module's EEPROM.
pub(crate) fn require_module_eeprom(info: &Info<'_>, dev: &NetDevice) -> Result {
    if dev.flash_ops().eeprom {
        return Ok(());
    }
    Err(Rejection::new(
        c"Module EEPROM access is not supported by this device",
        EOPNOTSUPP,
    )
    .report(info))
}

/// The device header of a reply or notification: index and name.
pub(crate) fn put_header(m: &Attrs, dev: &NetDevice) -> Result {
    let name = dev.name();
    m.put_nested(attr::HEADER, |m| {
        m.put_u32(header::DEV_INDEX, dev.ifindex())?;
        m.put_string(header::DEV_NAME, name.as_c_str())
    })
}

/// Finds the device the header names, by index or by name.
pub(crate) fn device<'a>(info: &'a Info<'_>, net: &Net) -> Result<ARef<NetDevice>, Rejection<'a>> {
    let header = info
        .attr(attr::HEADER)
        .ok_or(Rejection::missing(c"request header missing", attr::HEADER))?;
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
        (None, None) => return Err(Rejection::at(c"device not specified", EINVAL, header)),
    }
    .ok_or(Rejection::at(
        c"no device matches the request header",
        ENODEV,
        header,
    ))?;
    if let (Some(_), Some(n)) = (index, name) {
        if dev.name().as_c_str() != n {
            return Err(Rejection::at(
                c"ifindex and name do not match",
                ENODEV,
                header,
            ));
        }
    }
    Ok(dev)
}

/// The firmware file name: a path below the firmware directories. The
/// firmware loaders of some kernels refuse `..` and absolute names
/// themselves; not all do.
fn file_name<'a>(info: &'a Info<'_>) -> Result<&'a CStr, Rejection<'a>> {
    let a = info.attr(attr::FILE_NAME).ok_or(Rejection::missing(
        c"firmware file name missing",
        attr::FILE_NAME,
    ))?;
    let name = a.c_str().filter(|n| !n.is_empty()).ok_or(Rejection::at(
        c"firmware file name empty",
        EINVAL,
        a,
    ))?;
    if !is_relative_without_dotdot(name.to_bytes()) {
        return Err(Rejection::at(
            c"firmware file name must be relative, without '..'",
            EINVAL,
            a,
        ));
    }
    Ok(name)
}

/// Whether `path` stays below the directory it is looked up in.
fn is_relative_without_dotdot(path: &[u8]) -> bool {
    !path.starts_with(b"/") && !path.split(|&b| b == b'/').any(|c| c == b"..")
}

/// How far the request asks to go: to the end, or as [`attr::UNTIL`]
/// says where the job allows it.
fn until<'a>(info: &'a Info<'_>, kind: Kind) -> Result<Until, Rejection<'a>> {
    let Some(a) = info.attr(attr::UNTIL) else {
        return Ok(match kind {
            Kind::Run => Until::Running,
            Kind::Flash | Kind::Commit => Until::Committed,
        });
    };
    match (kind, a.u32().and_then(Until::from_code)) {
        (Kind::Flash, Some(u)) => Ok(u),
        (Kind::Run, Some(u @ (Until::Running | Until::Committed))) => Ok(u),
        (Kind::Commit, Some(Until::Committed)) => Ok(Until::Committed),
        _ => Err(Rejection::at(c"this request cannot stop there", EINVAL, a)),
    }
}

/// The version the request says the image is ([`attr::VERSION`]), for
/// a flash only.
fn wanted_version<'a>(info: &'a Info<'_>, kind: Kind) -> Result<Option<Version>, Rejection<'a>> {
    let Some(a) = info.attr(attr::VERSION) else {
        return Ok(None);
    };
    if kind != Kind::Flash {
        return Err(Rejection::at(
            c"only a flash request takes a version",
            EINVAL,
            a,
        ));
    }
    a.c_str()
        .and_then(|v| Version::parse(v.to_bytes()))
        .map(Some)
        .ok_or(Rejection::at(
            c"version must be MAJOR.MINOR or MAJOR.MINOR.BUILD",
            EINVAL,
            a,
        ))
}

/// Checks the request as the ethtool core does, sets the device's
/// in-progress flag and loads the image.
fn validate<'a>(
    flashes: &Flashes,
    info: &'a Info<'_>,
    kind: Kind,
) -> Result<Request, Rejection<'a>> {
    let net = info
        .net()
        .ok_or(Rejection::new(c"no network namespace", EINVAL))?;
    let dev = device(info, &net)?;
    // The image's name, checked before anything is claimed.
    let file = match kind {
        Kind::Flash => Some(file_name(info)?),
        Kind::Run | Kind::Commit => None,
    };
    let until = until(info, kind)?;
    let version = wanted_version(info, kind)?;
    let link_up = info.attr(attr::LINK_UP);
    if let Some(a) = link_up {
        if kind != Kind::Flash || until != Until::Downloaded {
            return Err(Rejection::at(
                c"with the link up only a download is possible (until downloaded)",
                EINVAL,
                a,
            ));
        }
    }
    let link_up = link_up.is_some();
    let hitless = info.attr(attr::HITLESS);
    if let Some(a) = hitless {
        if kind == Kind::Commit || until == Until::Downloaded {
            return Err(Rejection::at(
                c"only a request that runs an image can run it hitless",
                EINVAL,
                a,
            ));
        }
    }
    let hitless = hitless.is_some();
    let password = info
        .attr(attr::PASSWORD)
        .and_then(|a| a.u32())
        .map(Password::new);

    let ops = dev.flash_ops();
    if !ops.eeprom {
        return Err(Rejection::new(
            c"Flashing module firmware is not supported by this device",
            EOPNOTSUPP,
        ));
    }
    if !ops.reset {
        return Err(Rejection::new(
            c"Reset module is not supported by this device, so flashing is not permitted",
            EOPNOTSUPP,
        ));
    }
    {
        let rtnl = Rtnl::lock();
        dev.with_ethtool_ops(&rtnl, |rtnl| claim(flashes, &dev, link_up, rtnl))
            .map_err(begin_refused)??;
    }
    // The image is loaded and the module read without RTNL, with the
    // device kept resumed for as long as the flash lasts.
    let resumed = NetDevice::keep_resumed(&dev);
    let checked = load(&dev, file, kind, info);
    match checked {
        Ok(job) => Ok(Request {
            dev,
            resumed,
            job,
            until,
            version,
            link_up,
            hitless,
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

/// Reads the module's identifier (00h:0). A module may NACK while busy or
/// right after a reset, so a transient error is retried as the flash
/// retries its register reads (`retry`: with back-off, for at most
/// `ACCESS_RETRY`; upstream fails the request at once). The driver's
/// messages go to the request's extack.
fn read_identifier(dev: &NetDevice, info: &Info<'_>) -> Result<u8> {
    let mut io = RequestIo::new(dev, Some(info.extack()));
    let mut id = [0u8; 1];
    let at = Access::new(0, lower::IDENTIFIER, 1);
    match retry(&mut io, |io| io.read(at, &mut id)) {
        Ok(()) => Ok(id[0]),
        Err(AccessFailure::Errno(e)) => Err(Error::from_errno(-e.0)),
        // A request's work is never interrupted.
        Err(AccessFailure::Interrupted(_)) => Err(EINTR),
    }
}

/// The checks the ethtool core makes under RTNL; then sets the device's
/// in-progress flag. From there the core vetoes bringing the device up
/// and user-space module EEPROM access (so does our notifier, on kernels
/// without the ethtool netlink core); every later failure clears it. A
/// download with the link up (`link_up`) keeps the link up; the flag
/// still keeps userspace module EEPROM access off the module meanwhile.
fn claim<'a>(
    flashes: &Flashes,
    dev: &NetDevice,
    link_up: bool,
    rtnl: &Rtnl,
) -> Result<(), Rejection<'a>> {
    // First: a write-scope RPC sets the in-progress flag too, and says
    // better what holds the module.
    if flashes.cdb_claimed(dev) {
        return Err(Rejection::new(
            c"The module's CDB is in use by another request",
            EBUSY,
        ));
    }
    if dev.module_flash_in_progress(rtnl) {
        return Err(Rejection::new(
            c"Module firmware flashing already in progress",
            EBUSY,
        ));
    }
    if dev.is_running() && !link_up {
        return Err(Rejection::new(
            c"Netdevice is up, so flashing is not permitted",
            EBUSY,
        ));
    }
    if dev.is_split_port(rtnl) {
        return Err(Rejection::new(
            c"Can't perform firmware flashing on a split port",
            EOPNOTSUPP,
        ));
    }
    dev.set_module_flash_in_progress(rtnl, true);
    Ok(())
}

/// Loads the image, if the request names one (else the job is `kind`'s),
/// and checks the module is a CMIS one.
///
/// The ethtool core loads the image with `request_firmware_direct`; the
/// kernel crate's `Firmware::request_nowarn` differs from it only where
/// `CONFIG_FW_LOADER_USER_HELPER_FALLBACK` is set (neither Debian's kernel
/// nor the test kernel sets it): there it would wait for a user-mode
/// helper when the file is missing.
fn load<'a>(
    dev: &NetDevice,
    file: Option<&CStr>,
    kind: Kind,
    info: &Info<'_>,
) -> Result<Job, Rejection<'a>> {
    let job = match file {
        Some(file) => Job::Update {
            image: Firmware::request_nowarn(file, dev.device())
                .map_err(|e| Rejection::new(c"Failed to request module firmware image", e))?,
            name: CString::try_from(file).map_err(|_| Rejection::new(c"Out of memory", ENOMEM))?,
        },
        None if kind == Kind::Run => Job::Run,
        None => Job::Commit,
    };
    let id = read_identifier(dev, info)
        .map_err(|e| Rejection::new(c"Failed to read the module identifier", e))?;
    if !identifier::is_cmis(id) {
        return Err(Rejection::new(
            c"Module type does not support firmware flashing",
            EOPNOTSUPP,
        ));
    }
    Ok(job)
}

/// A progress notification (`ETHTOOL_MSG_MODULE_FW_FLASH_NTF`).
pub(crate) struct Notification<'a> {
    pub(crate) dev: &'a NetDevice,
    pub(crate) status: FlashStatus,
    pub(crate) msg: Option<&'a CStr>,
    pub(crate) done: u64,
    pub(crate) total: u64,
    /// How long the phase the message announces may last, in ms.
    pub(crate) timeout_ms: Option<u32>,
    /// The versions before and after a job that completed.
    pub(crate) versions: Option<(RegVersion, RegVersion)>,
    /// A failure, told in the outcome nest: where the update left the
    /// module, as read back, and what to do.
    pub(crate) outcome: Option<&'a fw_update::Error>,
}

/// Room a notification needs after the headers: the device header (index
/// and a name of up to 16 bytes, 32 bytes), the status (8), a message of
/// up to [`Notification::MSG_MAX`] bytes (324), the two counters (24), a
/// timeout (8), two versions (40), the outcome nest (8 u32 attributes and 4 version strings
/// of up to 16 bytes: 148), with some to spare.
pub(crate) const NOTIFICATION_SIZE: usize = 640;

impl Notification<'_> {
    /// Longest status message, its NUL included.
    pub(crate) const MSG_MAX: usize = 320;

    fn build(&self, portid: u32, seq: u32, reserve: Option<&Reserve>) -> Result<Message> {
        let cmd = MSG_MODULE_FW_FLASH_NTF;
        let m = match reserve {
            Some(r) => Message::new_in(r, &FAMILY, portid, seq, cmd)?,
            None => Message::new(&FAMILY, portid, seq, cmd)?,
        };
        put_header(&m, self.dev)?;
        m.put_u32(attr::STATUS, self.status as u32)?;
        if let Some(msg) = self.msg {
            m.put_string(attr::STATUS_MSG, msg)?;
        }
        m.put_uint(attr::DONE, self.done)?;
        m.put_uint(attr::TOTAL, self.total)?;
        if let Some(ms) = self.timeout_ms {
            m.put_u32(attr::TIMEOUT, ms)?;
        }
        if let Some((before, after)) = self.versions {
            for (kind, v) in [(attr::VERSION_BEFORE, before), (attr::VERSION_AFTER, after)] {
                m.put_string(kind, VersionText::new(format_args!("{v}")).as_c_str())?;
            }
        }
        if let Some(e) = self.outcome {
            m.put_nested(attr::OUTCOME, |m| put_outcome(m, e))?;
        }
        Ok(m)
    }

    /// Sends it to the requesting socket, in the buffer `reserve` set
    /// aside if there is one.
    pub(crate) fn unicast(
        &self,
        net: &Net,
        portid: u32,
        seq: u32,
        reserve: Option<&Reserve>,
    ) -> Result {
        self.build(portid, seq, reserve)?.unicast(net, portid)
    }

    /// Sends it to the `monitor` group of the device's namespace.
    pub(crate) fn multicast(&self, net: &Net) -> Result {
        self.build(0, 0, None)?
            .multicast(&FAMILY, net, MONITOR_GROUP_INDEX)
    }
}

/// The outcome nest of a failure: what the update left behind and what
/// to do (known to the update), then what was read back from the module.
fn put_outcome(m: &Attrs, e: &fw_update::Error) -> Result {
    m.put_u32(outcome::LEFT, e.left.code())?;
    if let Left::DownloadBegun(abort) = e.left {
        m.put_u32(outcome::ABORT, abort.code())?;
    }
    m.put_u32(outcome::ACTION, e.action().code())?;
    let Some(found) = &e.found else {
        return Ok(());
    };
    for (kind, version) in [
        (outcome::ACTIVE_VERSION, found.active),
        (outcome::INACTIVE_VERSION, found.inactive),
    ] {
        if let Some(v) = version {
            m.put_string(kind, VersionText::new(format_args!("{v}")).as_c_str())?;
        }
    }
    if let Some(info) = &found.banks {
        let mut valid = 0;
        for (bank, version_attr) in [
            (BankId::A, outcome::BANK_A_VERSION),
            (BankId::B, outcome::BANK_B_VERSION),
        ] {
            let b = info.bank(bank);
            if b.running {
                m.put_u32(outcome::RUNNING_BANK, bank as u32)?;
            }
            if b.committed {
                m.put_u32(outcome::COMMITTED_BANK, bank as u32)?;
            }
            if b.valid {
                valid |= 1 << bank as u32;
            }
            if let Some(v) = info.version(bank) {
                let text = VersionText::new(format_args!("{v}"));
                m.put_string(version_attr, text.as_c_str())?;
            }
        }
        m.put_u32(outcome::VALID_BANKS, valid)?;
    }
    if let Some(s) = found.cdb_status {
        m.put_u32(outcome::CDB_STATUS, s.into())?;
    }
    if let Some(id) = found.busy_command {
        m.put_u32(outcome::BUSY_COMMAND, id.into())?;
    }
    Ok(())
}

/// Text formatted on the stack into `N` bytes, its NUL included: what a
/// notification says is told without allocating (the end of a flash is
/// told whatever the memory is then). Longer text is cut.
#[derive(Clone, Copy)]
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    /// Bytes written, before the NUL.
    len: usize,
}

/// A status message.
pub(crate) type StatusText = Text<{ Notification::MSG_MAX }>;
/// A version: "255.255.65535" at the longest.
pub(crate) type VersionText = Text<16>;
/// A firmware file name, as the log shows it.
pub(crate) type FileText = Text<{ FILE_NAME_MAX as usize + 1 }>;

impl<const N: usize> Text<N> {
    pub(crate) fn new(args: fmt::Arguments<'_>) -> Self {
        let mut f = Self {
            buf: [0; N],
            len: 0,
        };
        // A message too long for the buffer is cut, not lost.
        let _ = fmt::write(&mut f, args);
        f
    }

    pub(crate) fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"(unprintable message)")
    }
}

impl<const N: usize> fmt::Write for Text<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Room for the NUL; a cut falls between characters.
        let mut n = s.len().min(self.buf.len() - 1 - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

static OPS: [SmallOp<Flashes>; 7] = [
    SmallOp::new::<Act<MSG_MODULE_FW_FLASH_ACT>>(),
    SmallOp::new::<Act<MSG_MODULE_FW_RUN_ACT>>(),
    SmallOp::new::<Act<MSG_MODULE_FW_COMMIT_ACT>>(),
    SmallOp::new::<InfoGet>(),
    SmallOp::new::<Cancel>(),
    SmallOp::new::<CdbRpc>(),
    SmallOp::new::<CdbInfoGet>(),
];
/// Index of the `monitor` group in [`MCGRPS`].
const MONITOR_GROUP_INDEX: u32 = 0;
/// Notifications name devices and firmware files: only administrators of
/// the namespace listen, as only they may flash.
static MCGRPS: [MulticastGroup; 1] = [MulticastGroup::admin_only(c"monitor")];

/// The family, registered at module load.
pub(crate) static FAMILY: Family<Flashes> =
    Family::new(FAMILY_NAME, FAMILY_VERSION as u32, &POLICY, &OPS, &MCGRPS);
