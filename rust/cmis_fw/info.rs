// SPDX-License-Identifier: GPL-2.0

//! `MODULE_INFO_GET`: what a port's module is and holds (identity, CDB
//! capabilities, firmware banks), read by `cmis_core`'s inventory in the
//! requester's context and sent back in one reply. `devlink dev info`'s
//! counterpart for a plug-in module.
//!
//! The module's CDB is asked (Get Firmware Info) only when no flash and
//! no other request uses it ([`Flashes::claim_cdb`]); otherwise the
//! reply gives the version registers and says why.

#![forbid(unsafe_code)]

use crate::cmis_core::fw_update::inventory::{self, Ascii, Firmware, Image, Inventory, NoBanks};
use crate::cmis_core::fw_update::{Cause, Options, Password};
use crate::cmis_core::map::{identifier, lower, Access};
use crate::cmis_core::uapi::{
    attr, cdb_caps, image, info, last_job, slot, source, status, MSG_MODULE_INFO_GET,
};
use crate::ethdev::{NetDevice, Rtnl};
use crate::flash::{read_module, Flashes, LastJob, RequestIo};
use crate::genl::{Attrs, Command, Dump, Info, Message};
use crate::netlink::{
    begin_refused, put_header, request_device, require_module_eeprom, Rejection, Text, VersionText,
    FAMILY,
};
use kernel::{
    prelude::*,
    sync::{aref::ARef, ArcBorrow},
};

/// Reads what a port's module is and holds.
pub(crate) struct InfoGet;

impl Command for InfoGet {
    type Context = Flashes;

    const CMD: u8 = MSG_MODULE_INFO_GET;

    fn doit(flashes: ArcBorrow<'_, Flashes>, info: &mut Info<'_>) -> Result {
        let (net, dev) = request_device(info)?;
        require_module_eeprom(info, &dev)?;
        let inv = read(&flashes, &dev, &options(info)).map_err(|r| r.report(info))?;
        let m = Message::new(
            &FAMILY,
            info.sender_portid(),
            info.sequence(),
            MSG_MODULE_INFO_GET,
        )?;
        put_port(&m, &flashes, &dev, &inv)?;
        m.unicast(&net, info.sender_portid())
    }

    const DUMP: bool = true;

    /// Every port of the requester's namespace with a module that reads
    /// as a CMIS one, one per call (each may take seconds: the module's
    /// CDB is asked); ports without module access, or whose module is
    /// missing or not CMIS, are left out.
    fn dumpit(flashes: ArcBorrow<'_, Flashes>, dump: &mut Dump<'_>) -> Result<bool> {
        let net = dump.request().net().ok_or(EINVAL)?;
        let opts = options(dump.request());
        loop {
            let Some(dev) = NetDevice::next_from(&net, dump.cursor()) else {
                return Ok(false);
            };
            dump.set_cursor(u64::from(dev.ifindex()) + 1);
            if !dev.flash_ops().eeprom || !answers_as_cmis(&dev) {
                continue;
            }
            let Ok(inv) = read(&flashes, &dev, &opts) else {
                continue;
            };
            let m = dump.message(MSG_MODULE_INFO_GET)?;
            put_port(&m, &flashes, &dev, &inv)?;
            m.end();
            return Ok(true);
        }
    }
}

/// Whether `dev`'s module answers one read of its identifier as a CMIS
/// module: a dump passes over empty cages and other modules at the cost
/// of one access each, not the retries of an inventory.
fn answers_as_cmis(dev: &NetDevice) -> bool {
    let mut id = [0u8];
    let at = Access::new(0, lower::IDENTIFIER, 1);
    read_module(dev, at, &mut id).is_ok() && identifier::is_cmis(id[0])
}

/// The request's options: its password.
fn options(info: &Info<'_>) -> Options {
    Options {
        password: info
            .attr(attr::PASSWORD)
            .and_then(|a| a.u32())
            .map(Password::new),
        ..Options::DEFAULT
    }
}

/// Reads what `dev`'s module is and holds, asking its CDB if no flash or
/// other request uses it.
fn read<'a>(
    flashes: &Flashes,
    dev: &ARef<NetDevice>,
    opts: &Options,
) -> Result<Inventory, Rejection<'a>> {
    let claim = {
        let rtnl = Rtnl::lock();
        dev.with_ethtool_ops(&rtnl, |rtnl| flashes.claim_cdb(dev, rtnl))
            .map_err(begin_refused)?
    };
    let read = {
        let _resumed = NetDevice::keep_resumed(dev);
        let mut io = match &claim {
            Some(c) => RequestIo::under_claim(dev, None, c),
            None => RequestIo::new(dev, None),
        };
        inventory::inventory(&mut io, opts, claim.is_some())
    };
    drop(claim);
    read.map_err(|e| {
        let (msg, errno) = match e.cause {
            Cause::NotCmis(_) => (c"Module is not a CMIS module", EOPNOTSUPP),
            Cause::FlatMemory => (c"Module has flat memory: no pages, no CDB", EOPNOTSUPP),
            Cause::Access(errno) => (c"Failed to read the module", Error::from_errno(-errno.0)),
            _ => (c"Failed to read the module", EIO),
        };
        Rejection::new(msg, errno)
    })
}

/// A port's reply: its module, and its last job.
fn put_port(m: &Attrs, flashes: &Flashes, dev: &NetDevice, inv: &Inventory) -> Result {
    put_inventory(m, dev, inv)?;
    if let Some(last) = flashes.last_job(dev) {
        m.put_nested(info::LAST_JOB, |m| put_last_job(m, &last))?;
    }
    Ok(())
}

/// The reply's attributes.
fn put_inventory(m: &Attrs, dev: &NetDevice, inv: &Inventory) -> Result {
    put_header(m, dev)?;
    m.put_u32(info::IDENTIFIER, inv.identity.identifier.into())?;
    m.put_u32(info::CMIS_REVISION, inv.identity.revision.into())?;
    m.put_u32(info::MODULE_STATE, inv.identity.state.into())?;
    put_ascii(m, info::VENDOR, &inv.vendor)?;
    put_ascii(m, info::PART_NUMBER, &inv.part_number)?;
    put_ascii(m, info::VENDOR_REVISION, &inv.revision)?;
    put_ascii(m, info::SERIAL, &inv.serial)?;
    if let Some(cdb) = &inv.cdb {
        m.put_nested(info::CDB, |m| {
            let a = &cdb.advert;
            m.put_u32(cdb_caps::INSTANCES, a.instances.into())?;
            m.put_u32(cdb_caps::BACKGROUND, a.background.into())?;
            m.put_u32(cdb_caps::EPL_PAGES, a.epl_pages as u32)?;
            if let Some(fw) = &cdb.firmware {
                m.put_u32(cdb_caps::ABORT, fw.abort.into())?;
                m.put_u32(cdb_caps::HITLESS_RESTART, fw.hitless_restart.into())?;
                m.put_u32(cdb_caps::WRITE_MECHANISM, fw.write_mechanism.into())?;
                m.put_u32(cdb_caps::START_PAYLOAD_SIZE, fw.start_payload_size.into())?;
            }
            Ok(())
        })?;
    }
    match &inv.firmware {
        Firmware::Banks { a, b, factory } => {
            m.put_u32(info::SOURCE, source::FIRMWARE_INFO)?;
            for (id, bank) in [(slot::BANK_A, a), (slot::BANK_B, b)] {
                m.put_nested(info::IMAGE, |m| {
                    m.put_u32(image::SLOT, id)?;
                    m.put_u32(image::RUNNING, bank.status.running.into())?;
                    m.put_u32(image::COMMITTED, bank.status.committed.into())?;
                    m.put_u32(image::VALID, bank.status.valid.into())?;
                    put_image(m, bank.image.as_ref())
                })?;
            }
            if let Some(f) = factory {
                m.put_nested(info::IMAGE, |m| {
                    m.put_u32(image::SLOT, slot::FACTORY)?;
                    m.put_u32(image::VALID, 1)?;
                    put_image(m, Some(f))
                })?;
            }
        }
        Firmware::Registers {
            active,
            inactive,
            why,
        } => {
            m.put_u32(info::SOURCE, source::REGISTERS)?;
            m.put_u32(info::NO_BANKS, why.code())?;
            if let NoBanks::CdbBusy(status) = why {
                m.put_u32(info::CDB_STATUS, (*status).into())?;
            }
            for (kind, v) in [
                (info::ACTIVE_VERSION, active),
                (info::INACTIVE_VERSION, inactive),
            ] {
                m.put_string(kind, VersionText::new(format_args!("{v}")).as_c_str())?;
            }
        }
    }
    Ok(())
}

/// How the port's last job ended.
fn put_last_job(m: &Attrs, last: &LastJob) -> Result {
    m.put_u32(last_job::JOB, last.job)?;
    let status = if last.completed {
        status::COMPLETED
    } else {
        status::ERROR
    };
    m.put_u32(last_job::STATUS, status)?;
    if let Some(msg) = &last.msg {
        m.put_string(last_job::STATUS_MSG, msg.as_c_str())?;
    }
    if let Some(file) = &last.file {
        m.put_string(last_job::FILE_NAME, file.as_c_str())?;
    }
    for (kind, v) in [
        (last_job::VERSION_BEFORE, last.before),
        (last_job::VERSION_AFTER, last.after),
    ] {
        if let Some(v) = v {
            m.put_string(kind, VersionText::new(format_args!("{v}")).as_c_str())?;
        }
    }
    m.put_u32(last_job::DURATION_MS, last.duration_ms)?;
    m.put_uint(last_job::ENDED, last.ended_s)
}

/// An image's version and extra string.
fn put_image(m: &Attrs, img: Option<&Image>) -> Result {
    let Some(img) = img else { return Ok(()) };
    let version = VersionText::new(format_args!("{}", img.version));
    m.put_string(image::VERSION, version.as_c_str())?;
    put_ascii(m, image::EXTRA, &img.extra)
}

/// A module's text field, as shown safely ([`Ascii`]); an empty one is
/// left out.
fn put_ascii<const N: usize>(m: &Attrs, kind: u16, field: &Ascii<N>) -> Result {
    if field.is_empty() {
        return Ok(());
    }
    // Each byte shows as one character: N bytes and the NUL.
    let text = Text::<40>::new(format_args!("{field}"));
    m.put_string(kind, text.as_c_str())
}
