// SPDX-License-Identifier: GPL-2.0

//! `MODULE_CDB_RPC` and `MODULE_CDB_INFO_GET`: one CDB command on a
//! port's module on the caller's behalf, under fwctl's rules
//! (`Documentation/userspace-api/fwctl/fwctl.rst`), and what the caller
//! may ask of it.
//!
//! Every scope needs `CAP_NET_ADMIN` in the port's namespace (the
//! family's admin flag); a command above the declared scope is refused
//! before the module is touched ([`scope`]); the two write scopes taint
//! the kernel (`TAINT_FWCTL`) with a log line naming the port, the
//! command and the caller, and the full one needs `CAP_SYS_RAWIO`. The
//! command runs in the requester's context on the module's CDB, claimed
//! as an inventory claims it: refused while a flash or another request
//! has it, and a flash is refused meanwhile. The request also sets the
//! device's module-flash flag for the command's length, so that nothing
//! else writes the CDB pages (ethtool's own flash tests only the flag)
//! or the module (user-space EEPROM access, bringing the device up).

#![forbid(unsafe_code)]

use crate::cmis_core::cdb::exchange::CdbError;
use crate::cmis_core::cdb::rpc::{self, Call, Outcome, Probe, RpcError};
use crate::cmis_core::cdb::scope::{self, Scope};
use crate::cmis_core::cdb::{CommandId, EPL_MAX_LEN, LPL_MAX_LEN};
use crate::cmis_core::io::Interrupt;
use crate::cmis_core::uapi::{cdb, cdb_caps, info, MSG_MODULE_CDB_INFO_GET, MSG_MODULE_CDB_RPC};
use crate::ethdev::{NetDevice, Rtnl};
use crate::flash::{self, CdbClaim, Flashes, RequestIo};
use crate::genl::{Attrs, Command, Info, Message};
use crate::netlink::{
    begin_refused, put_header, request_device, require_module_eeprom, Rejection, FAMILY,
};
use crate::security::{self, Comm};
use core::fmt;
use kernel::{
    prelude::*,
    str::BStr,
    sync::{aref::ARef, ArcBorrow},
};

/// Longest local payload a request may carry (the policy's limit).
pub(crate) const LPL_POLICY_MAX: u16 = LPL_MAX_LEN as u16;
/// Longest extended payload a request may carry (the policy's limit).
pub(crate) const EPL_POLICY_MAX: u16 = EPL_MAX_LEN as u16;

/// Runs one CDB command.
pub(crate) struct CdbRpc;

impl Command for CdbRpc {
    type Context = Flashes;

    const CMD: u8 = MSG_MODULE_CDB_RPC;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        let (net, dev) = request_device(info)?;
        let call = parse(info)?;
        if let Err(r) = rpc::check(&call) {
            let at = match r {
                rpc::Refusal::AboveScope { .. } => cdb::SCOPE,
                rpc::Refusal::BadTimeout => cdb::TIMEOUT_MS,
                _ => cdb::LPL,
            };
            if let Some(a) = info.attr(at) {
                info.set_error_attr(a);
            }
            info.set_error_message_fmt(format_args!("{}", Refused(&call, r)));
            return Err(Error::from_errno(-rpc::errno(&RpcError::Refused(r)).0));
        }
        if call.scope.needs_rawio() && !security::capable_rawio() {
            if let Some(a) = info.attr(cdb::SCOPE) {
                info.set_error_attr(a);
            }
            info.set_error_message(c"scope debug-write-full needs CAP_SYS_RAWIO");
            return Err(EPERM);
        }
        require_module_eeprom(info, &dev)?;
        let claim = claim(&flashes, &dev).map_err(|r| r.report(info))?;
        if call.scope.taints() {
            log_write(&dev, &call);
            security::taint_firmware_access();
        }
        let mut reply = [0u8; LPL_MAX_LEN];
        let result = {
            let _resumed = NetDevice::keep_resumed(&dev);
            let mut io = RequestIo::under_claim(&dev, Some(info.extack()), &claim);
            rpc::run(&mut io, &call, &mut reply)
        };
        let gone = claim.stopped();
        release(claim, &dev);
        let outcome = match result {
            Ok(o) => {
                // A driver's message of a transient error the exchange
                // retried past is not the outcome's.
                info.clear_error_message();
                o
            }
            Err(e) => return Err(report_failure(info, &call, &e, gone)),
        };
        let m = Message::new(
            &FAMILY,
            info.sender_portid(),
            info.sequence(),
            MSG_MODULE_CDB_RPC,
        )?;
        put_header(&m, &dev)?;
        put_outcome(&m, &call, &outcome, &reply[..outcome.reply_len])?;
        m.unicast(&net, info.sender_portid())
    }
}

/// The request's command, from its attributes (the policy checked their
/// types and lengths).
fn parse<'a>(info: &'a Info<'_>) -> Result<Call<'a>> {
    let missing = |kind, msg| Err(Rejection::missing(msg, kind).report(info));
    let Some(command) = info.attr(cdb::COMMAND) else {
        return missing(cdb::COMMAND, c"CDB command id missing");
    };
    let Some(id) = command.u32().and_then(|v| u16::try_from(v).ok()) else {
        return Err(
            Rejection::at(c"CDB command id must be at most FFFFh", EINVAL, command).report(info),
        );
    };
    let Some(scope_attr) = info.attr(cdb::SCOPE) else {
        return missing(cdb::SCOPE, c"scope missing");
    };
    let Some(scope) = scope_attr.u32().and_then(Scope::from_code) else {
        return Err(Rejection::at(c"unknown scope", EOPNOTSUPP, scope_attr).report(info));
    };
    let instance = match info.attr(cdb::INSTANCE) {
        None => None,
        Some(a) => match a.u32() {
            Some(n @ 1..=2) => Some(n as u8),
            _ => return Err(Rejection::at(c"CDB instance must be 1 or 2", EINVAL, a).report(info)),
        },
    };
    Ok(Call {
        id: CommandId(id),
        lpl: info.attr(cdb::LPL).map_or(&[], |a| a.payload()),
        epl: info.attr(cdb::EPL).map_or(&[], |a| a.payload()),
        scope,
        instance,
        timeout_ms: info.attr(cdb::TIMEOUT_MS).and_then(|a| a.u32()),
    })
}

/// Claims the module's CDB and sets the device's module-flash flag, so
/// that nothing else writes its CDB pages meanwhile: the ethtool core's
/// own flash tests only the flag (released by [`release`]). Under RTNL,
/// between the driver's `begin` and `complete`, as a flash's claim is
/// made. Split ports are refused, as a flash is: their siblings share the
/// module, and a claim is a device's.
fn claim<'a, 'b>(
    flashes: &'a Flashes,
    dev: &ARef<NetDevice>,
) -> Result<CdbClaim<'a>, Rejection<'b>> {
    let rtnl = Rtnl::lock();
    if !dev.is_registered(&rtnl) {
        return Err(Rejection::new(
            c"Netdevice is not present or going away",
            ENODEV,
        ));
    }
    if dev.is_split_port(&rtnl) {
        return Err(Rejection::new(
            c"Can't run CDB commands on a split port",
            EOPNOTSUPP,
        ));
    }
    let claim = dev
        .with_ethtool_ops(&rtnl, |rtnl| {
            let claim = flashes.claim_cdb(dev, rtnl)?;
            dev.set_module_flash_in_progress(rtnl, true);
            Some(claim)
        })
        .map_err(begin_refused)?;
    claim.ok_or(Rejection::new(
        c"The module's CDB is in use (a firmware flash or another request)",
        EBUSY,
    ))
}

/// Gives the claim up: the flag first, under RTNL, so that a request
/// that finds the claim gone does not find the flag still set.
fn release(claim: CdbClaim<'_>, dev: &NetDevice) {
    let rtnl = Rtnl::lock();
    dev.set_module_flash_in_progress(&rtnl, false);
    drop(claim);
}

/// Reports a failed command: the request's own message, not a driver's
/// message of an access the exchange retried past (a failure to read the
/// module keeps the driver's word). A stop is told as what it was: the
/// device going away, or a signal.
fn report_failure(info: &Info<'_>, call: &Call<'_>, e: &RpcError, gone: bool) -> Error {
    let stopped = matches!(e, RpcError::Cdb(CdbError::Interrupted(Interrupt::Stop)));
    if stopped && !gone {
        info.set_error_message(c"interrupted by a signal");
        return EINTR;
    }
    if !matches!(e, RpcError::Access(_)) || !info.has_error_message() {
        info.set_error_message_fmt(format_args!("{}", Failed(call, e)));
    }
    Error::from_errno(-rpc::errno(e).0)
}

/// The log line of a command in a write scope: port, command, scope,
/// caller (fwctl logs its first such request; every one is logged here,
/// within the jobs' rate limit).
fn log_write(dev: &NetDevice, call: &Call<'_>) {
    if !flash::log_allowed() {
        return;
    }
    let name = dev.name();
    let comm = Comm::current();
    let task = kernel::current!();
    pr_warn!(
        "{}: {} by {}[{}]: tainting the kernel\n",
        name.as_c_str(),
        format_args!(
            "CDB command {} in scope {}",
            CommandName(call.id),
            call.scope
        ),
        BStr::from_bytes(comm.as_bytes()),
        task.pid()
    );
}

/// A command as the log and messages name it: "0101h (Start Firmware
/// Download)", "8001h (vendor)", "0300h".
struct CommandName(CommandId);

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}h", self.0 .0)?;
        match scope::lookup(self.0) {
            Some(k) => write!(f, " ({})", k.name),
            None if self.0 .0 >= 0x8000 => f.write_str(" (vendor)"),
            None => Ok(()),
        }
    }
}

/// A refusal's extack message.
struct Refused<'a>(&'a Call<'a>, rpc::Refusal);

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            rpc::Refusal::AboveScope { needs } => {
                write!(f, "command {} needs scope {needs}", CommandName(self.0.id))
            }
            r => write!(f, "{r}"),
        }
    }
}

/// A failed command's extack message.
struct Failed<'a>(&'a Call<'a>, &'a RpcError);

impl fmt::Display for Failed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            RpcError::Refused(r) => write!(f, "{}", Refused(self.0, *r)),
            RpcError::Cdb(CdbError::Interrupted(Interrupt::Stop)) => {
                f.write_str("stopped: the device is going away")
            }
            e => write!(f, "{}: {e}", CommandName(self.0.id)),
        }
    }
}

/// The reply: command, instance, status and its meaning, reply payload,
/// duration.
fn put_outcome(m: &Attrs, call: &Call<'_>, o: &Outcome, reply: &[u8]) -> Result {
    m.put_u32(cdb::COMMAND, call.id.0.into())?;
    m.put_u32(cdb::INSTANCE, o.instance.into())?;
    m.put_u32(cdb::STATUS, o.status.into())?;
    let meaning = crate::netlink::Text::<80>::new(format_args!("{}", o.meaning()));
    m.put_string(cdb::STATUS_MSG, meaning.as_c_str())?;
    if !reply.is_empty() {
        m.put_bytes(cdb::REPLY, reply)?;
    }
    let us = u32::try_from(o.elapsed / 1_000).unwrap_or(u32::MAX);
    m.put_u32(cdb::DURATION_US, us)
}

/// What a port's module CDB supports, and the scopes the caller may use.
pub(crate) struct CdbInfoGet;

impl Command for CdbInfoGet {
    type Context = Flashes;

    const CMD: u8 = MSG_MODULE_CDB_INFO_GET;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        let (net, dev) = request_device(info)?;
        require_module_eeprom(info, &dev)?;
        let claim = claim(&flashes, &dev).map_err(|r| r.report(info))?;
        let result = {
            let _resumed = NetDevice::keep_resumed(&dev);
            let mut io = RequestIo::under_claim(&dev, Some(info.extack()), &claim);
            rpc::probe(&mut io)
        };
        let gone = claim.stopped();
        release(claim, &dev);
        let probe = match result {
            Ok(p) => {
                info.clear_error_message();
                p
            }
            Err(e) => {
                let call = Call {
                    id: CommandId::MODULE_FEATURES,
                    lpl: &[],
                    epl: &[],
                    scope: Scope::DebugReadOnly,
                    instance: Some(1),
                    timeout_ms: None,
                };
                return Err(report_failure(info, &call, &e, gone));
            }
        };
        let m = Message::new(
            &FAMILY,
            info.sender_portid(),
            info.sequence(),
            MSG_MODULE_CDB_INFO_GET,
        )?;
        put_header(&m, &dev)?;
        put_probe(&m, &probe, security::capable_rawio_noaudit())?;
        m.unicast(&net, info.sender_portid())
    }
}

fn put_probe(m: &Attrs, p: &Probe, rawio: bool) -> Result {
    let a = &p.cdb.advert;
    m.put_nested(info::CDB, |m| {
        m.put_u32(cdb_caps::INSTANCES, a.instances.into())?;
        m.put_u32(cdb_caps::BACKGROUND, a.background.into())?;
        m.put_u32(cdb_caps::EPL_PAGES, a.epl_pages as u32)
    })?;
    m.put_u32(cdb::GROUPS, p.groups.into())?;
    if let Some(f) = &p.features {
        m.put_bytes(cdb::COMMANDS, &f.commands)?;
        m.put_u32(cdb::MAX_COMPLETION_MS, f.max_completion_ms.into())?;
    }
    if let Some(status) = p.busy {
        m.put_u32(cdb::BUSY_STATUS, status.into())?;
    }
    m.put_u32(cdb::SCOPES, rpc::scopes_for(rawio))
}
