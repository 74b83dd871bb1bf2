// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw info`: what ports' modules are and hold, from the kernel's
//! `MODULE_INFO_GET` reply (see `cmis_core::uapi::info`), as text or JSON.

use crate::netlink::{named, FlashAttr, HeaderAttr};
use crate::output;
use anyhow::{anyhow, Result};
use cmis_core::uapi::{cdb_caps, image, info, job, last_job, no_banks, slot, source, status};
use netlink_packet_utils::nla::{Nla, NlasIterator};
use serde::Serialize;
use std::fmt::Write;

/// Version of the JSON objects' layout.
pub(crate) const SCHEMA: u32 = output::SCHEMA;

/// One port's module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ModuleInfo {
    pub(crate) schema: u32,
    /// When the reply came (RFC 3339, UTC).
    pub(crate) time: String,
    pub(crate) device: String,
    pub(crate) ifindex: u32,
    /// SFF-8024 identifier.
    pub(crate) identifier: u32,
    /// "MAJOR.MINOR".
    pub(crate) cmis_revision: String,
    pub(crate) module_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) part_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cdb: Option<CdbInfo>,
    /// "firmware_info" (banks known) or "registers".
    pub(crate) source: &'static str,
    /// Why there is no bank view (with "registers").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) no_banks: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cdb_status: Option<u32>,
    /// Banks A and B and the factory image (with "firmware_info").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) images: Vec<ImageInfo>,
    /// Running and inactive versions (with "registers").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) active_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inactive_version: Option<String>,
    /// The last job `cmis_fw` ran on the port since its device appeared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_job: Option<LastJob>,
}

/// How a port's last job ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct LastJob {
    /// "flash", "run" or "commit".
    pub(crate) job: &'static str,
    /// "completed" or "error".
    pub(crate) status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_after: Option<String>,
    pub(crate) duration_ms: u32,
    /// When it ended: seconds since the epoch, and as UTC text.
    pub(crate) ended: u64,
    pub(crate) ended_utc: String,
}

/// The CDB's capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CdbInfo {
    pub(crate) instances: u32,
    pub(crate) background: bool,
    pub(crate) epl_pages: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) abort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hitless_restart: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) write_mechanism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start_payload_size: Option<u32>,
}

/// One image: bank A, bank B or the factory image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ImageInfo {
    /// "A", "B" or "factory".
    pub(crate) slot: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) running: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) committed: Option<bool>,
    pub(crate) valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) extra: Option<String>,
}

/// An attribute's kind and payload.
pub(crate) fn raw(a: &impl Nla) -> (u16, Vec<u8>) {
    let mut v = vec![0; a.value_len()];
    a.emit_value(&mut v);
    (a.kind() & !netlink_packet_utils::nla::NLA_F_NESTED, v)
}

pub(crate) fn u32_of(v: &[u8]) -> Result<u32> {
    Ok(u32::from_ne_bytes(v.try_into().map_err(|_| {
        anyhow!("u32 attribute of {} bytes", v.len())
    })?))
}

fn uint_of(v: &[u8]) -> Result<u64> {
    match v.len() {
        8 => Ok(u64::from_ne_bytes(v.try_into()?)),
        _ => u32_of(v).map(Into::into),
    }
}

pub(crate) fn string_of(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// The (kind, payload) pairs of a nest.
pub(crate) fn nested(v: &[u8]) -> Result<Vec<(u16, Vec<u8>)>> {
    NlasIterator::new(v)
        .map(|n| {
            let n = n.map_err(|e| anyhow!("bad nested attribute: {e}"))?;
            Ok((
                n.kind() & !netlink_packet_utils::nla::NLA_F_NESTED,
                n.value().to_vec(),
            ))
        })
        .collect()
}

const STATES: [(u32, &str); 5] = [
    (1, "lowpwr"),
    (2, "pwrup"),
    (3, "ready"),
    (4, "pwrdn"),
    (5, "fault"),
];

const NO_BANKS: [(u32, &str); 6] = [
    (no_banks::NO_CDB, "no_cdb"),
    (no_banks::CDB_BUSY, "cdb_busy"),
    (no_banks::NOT_SUPPORTED, "not_supported"),
    (no_banks::FAILED, "failed"),
    (no_banks::CDB_IN_USE, "cdb_in_use"),
    (no_banks::MODULE_FAULT, "module_fault"),
];

/// Decodes a reply.
pub(crate) fn parse(attrs: &[FlashAttr]) -> Result<ModuleInfo> {
    let mut m = ModuleInfo {
        schema: SCHEMA,
        time: output::timestamp(),
        module_state: "unknown",
        source: "unknown",
        ..ModuleInfo::default()
    };
    for a in attrs {
        let (kind, v) = match a {
            FlashAttr::Header(h) => {
                for x in h {
                    match x {
                        HeaderAttr::DevIndex(i) => m.ifindex = *i,
                        HeaderAttr::DevName(n) => m.device.clone_from(n),
                        HeaderAttr::Other(_) => {}
                    }
                }
                continue;
            }
            FlashAttr::Other(n) => raw(n),
            _ => continue,
        };
        match kind {
            info::IDENTIFIER => m.identifier = u32_of(&v)?,
            info::CMIS_REVISION => {
                let r = u32_of(&v)?;
                m.cmis_revision = format!("{}.{}", r >> 4, r & 0xf);
            }
            info::MODULE_STATE => m.module_state = named(u32_of(&v)?, &STATES),
            info::VENDOR => m.vendor = Some(string_of(&v)),
            info::PART_NUMBER => m.part_number = Some(string_of(&v)),
            info::VENDOR_REVISION => m.revision = Some(string_of(&v)),
            info::SERIAL => m.serial = Some(string_of(&v)),
            info::CDB => {
                let mut c = CdbInfo::default();
                for (k, v) in nested(&v)? {
                    let x = u32_of(&v)?;
                    match k {
                        cdb_caps::INSTANCES => c.instances = x,
                        cdb_caps::BACKGROUND => c.background = x != 0,
                        cdb_caps::EPL_PAGES => c.epl_pages = x,
                        cdb_caps::ABORT => c.abort = Some(x != 0),
                        cdb_caps::HITLESS_RESTART => c.hitless_restart = Some(x != 0),
                        cdb_caps::WRITE_MECHANISM => c.write_mechanism = Some(x),
                        cdb_caps::START_PAYLOAD_SIZE => c.start_payload_size = Some(x),
                        _ => {}
                    }
                }
                m.cdb = Some(c);
            }
            info::SOURCE => {
                m.source = match u32_of(&v)? {
                    source::FIRMWARE_INFO => "firmware_info",
                    source::REGISTERS => "registers",
                    _ => "unknown",
                }
            }
            info::NO_BANKS => m.no_banks = Some(named(u32_of(&v)?, &NO_BANKS)),
            info::CDB_STATUS => m.cdb_status = Some(u32_of(&v)?),
            info::IMAGE => {
                let mut i = ImageInfo::default();
                for (k, v) in nested(&v)? {
                    match k {
                        image::SLOT => {
                            i.slot = match u32_of(&v)? {
                                slot::BANK_A => "A",
                                slot::BANK_B => "B",
                                slot::FACTORY => "factory",
                                _ => "unknown",
                            }
                        }
                        image::RUNNING => i.running = Some(u32_of(&v)? != 0),
                        image::COMMITTED => i.committed = Some(u32_of(&v)? != 0),
                        image::VALID => i.valid = u32_of(&v)? != 0,
                        image::VERSION => i.version = Some(string_of(&v)),
                        image::EXTRA => i.extra = Some(string_of(&v)),
                        _ => {}
                    }
                }
                m.images.push(i);
            }
            info::ACTIVE_VERSION => m.active_version = Some(string_of(&v)),
            info::INACTIVE_VERSION => m.inactive_version = Some(string_of(&v)),
            info::LAST_JOB => m.last_job = Some(parse_last_job(&v)?),
            _ => {}
        }
    }
    Ok(m)
}

const JOBS: [(u32, &str); 3] = [
    (job::FLASH, "flash"),
    (job::RUN, "run"),
    (job::COMMIT, "commit"),
];

const END_STATUSES: [(u32, &str); 2] = [(status::COMPLETED, "completed"), (status::ERROR, "error")];

fn parse_last_job(v: &[u8]) -> Result<LastJob> {
    let mut j = LastJob::default();
    for (k, v) in nested(v)? {
        match k {
            last_job::JOB => j.job = named(u32_of(&v)?, &JOBS),
            last_job::STATUS => j.status = named(u32_of(&v)?, &END_STATUSES),
            last_job::STATUS_MSG => j.message = Some(string_of(&v)),
            last_job::FILE_NAME => j.file = Some(string_of(&v)),
            last_job::VERSION_BEFORE => j.version_before = Some(string_of(&v)),
            last_job::VERSION_AFTER => j.version_after = Some(string_of(&v)),
            last_job::DURATION_MS => j.duration_ms = u32_of(&v)?,
            last_job::ENDED => j.ended = uint_of(&v)?,
            _ => {}
        }
    }
    j.ended_utc = output::utc(j.ended);
    Ok(j)
}

/// SFF-8024 names of the CMIS module types.
fn module_type(id: u32) -> String {
    match id {
        0x18 => "QSFP-DD".into(),
        0x19 => "OSFP".into(),
        0x1b => "DSFP".into(),
        0x1e => "QSFP+ (CMIS)".into(),
        0x1f => "SFP-DD (CMIS)".into(),
        0x20 => "SFP+ (CMIS)".into(),
        _ => format!("identifier {id:#04x}"),
    }
}

/// The module as text: identity, CDB, then one line per image (running
/// and committed marked, as `devlink dev info` shows running and stored
/// versions).
pub(crate) fn text(m: &ModuleInfo) -> String {
    let mut s = String::new();
    let field = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
    let _ = writeln!(
        s,
        "{}: {} {} rev {} serial {} ({}, CMIS {}, {})",
        m.device,
        field(&m.vendor),
        field(&m.part_number),
        field(&m.revision),
        field(&m.serial),
        module_type(m.identifier),
        m.cmis_revision,
        m.module_state
    );
    match &m.cdb {
        None => {
            let _ = writeln!(s, "  CDB: none");
        }
        Some(c) => {
            let mut caps = vec![
                format!(
                    "{} instance{}",
                    c.instances,
                    if c.instances == 1 { "" } else { "s" }
                ),
                if c.background {
                    "background"
                } else {
                    "foreground"
                }
                .to_string(),
                format!("{} EPL pages", c.epl_pages),
            ];
            if c.abort == Some(true) {
                caps.push("abort".into());
            }
            if c.hitless_restart == Some(true) {
                caps.push("hitless restart".into());
            }
            if let Some(w) = c.write_mechanism {
                caps.push(format!("write mechanism {w:#04x}"));
            }
            let _ = writeln!(s, "  CDB: {}", caps.join(", "));
        }
    }
    if m.source == "firmware_info" {
        let _ = writeln!(s, "  firmware (Get Firmware Info):");
        for i in &m.images {
            let mut marks = Vec::new();
            if i.running == Some(true) {
                marks.push("running");
            }
            if i.committed == Some(true) {
                marks.push("committed");
            }
            if !i.valid {
                marks.push("invalid");
            }
            let extra = i
                .extra
                .as_deref()
                .map(|e| format!(" \"{e}\""))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "    {:<8} {:<14} {}{}",
                if i.slot == "factory" {
                    "factory".to_string()
                } else {
                    format!("bank {}", i.slot)
                },
                i.version.as_deref().unwrap_or("-"),
                marks.join(" "),
                extra
            );
        }
    } else {
        let why = match m.no_banks {
            Some("no_cdb") => "the module has no CDB".to_string(),
            Some("cdb_busy") => format!(
                "the CDB is busy (status {:#04x})",
                m.cdb_status.unwrap_or(0)
            ),
            Some("not_supported") => "the module does not support Get Firmware Info".into(),
            Some("failed") => "Get Firmware Info failed".into(),
            Some("cdb_in_use") => "the CDB is in use by a flash".into(),
            Some("module_fault") => "the module is in ModuleFault".into(),
            _ => "no bank information".into(),
        };
        let _ = writeln!(s, "  firmware (version registers: {why}):");
        let _ = writeln!(
            s,
            "    running {}, inactive {}",
            m.active_version.as_deref().unwrap_or("-"),
            m.inactive_version.as_deref().unwrap_or("-")
        );
    }
    if let Some(j) = &m.last_job {
        let what = match &j.file {
            Some(f) => format!("{} of {f}", j.job),
            None => j.job.to_string(),
        };
        let versions = match (&j.version_before, &j.version_after) {
            (Some(b), Some(a)) => format!(": {b} -> {a}"),
            (None, Some(a)) => format!(": runs {a}"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  last job: {what}, {} {} after {}.{} s{versions}",
            j.status,
            j.ended_utc,
            j.duration_ms / 1000,
            j.duration_ms % 1000 / 100
        );
        if let Some(msg) = &j.message {
            let _ = writeln!(s, "    {msg}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_utils::nla::DefaultNla;
    use netlink_packet_utils::Emitable;

    fn u32_attr(kind: u16, v: u32) -> DefaultNla {
        DefaultNla::new(kind, v.to_ne_bytes().to_vec())
    }

    fn string_attr(kind: u16, s: &str) -> DefaultNla {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        DefaultNla::new(kind, v)
    }

    fn nest(kind: u16, attrs: &[DefaultNla]) -> DefaultNla {
        let mut v = vec![0; attrs.buffer_len()];
        attrs.emit(&mut v);
        DefaultNla::new(kind | netlink_packet_utils::nla::NLA_F_NESTED, v)
    }

    #[test]
    fn a_reply_with_banks_decodes_and_reads_well() {
        let attrs = vec![
            FlashAttr::Header(vec![
                HeaderAttr::DevIndex(7),
                HeaderAttr::DevName("eth0".into()),
            ]),
            FlashAttr::Other(u32_attr(info::IDENTIFIER, 0x18)),
            FlashAttr::Other(u32_attr(info::CMIS_REVISION, 0x52)),
            FlashAttr::Other(u32_attr(info::MODULE_STATE, 3)),
            FlashAttr::Other(string_attr(info::VENDOR, "ACME")),
            FlashAttr::Other(string_attr(info::PART_NUMBER, "QDD-400G")),
            FlashAttr::Other(nest(
                info::CDB,
                &[
                    u32_attr(cdb_caps::INSTANCES, 1),
                    u32_attr(cdb_caps::BACKGROUND, 1),
                    u32_attr(cdb_caps::EPL_PAGES, 16),
                    u32_attr(cdb_caps::ABORT, 1),
                ],
            )),
            FlashAttr::Other(u32_attr(info::SOURCE, source::FIRMWARE_INFO)),
            FlashAttr::Other(nest(
                info::IMAGE,
                &[
                    u32_attr(image::SLOT, slot::BANK_A),
                    u32_attr(image::RUNNING, 1),
                    u32_attr(image::COMMITTED, 1),
                    u32_attr(image::VALID, 1),
                    string_attr(image::VERSION, "1.0.0"),
                ],
            )),
            FlashAttr::Other(nest(
                info::IMAGE,
                &[
                    u32_attr(image::SLOT, slot::BANK_B),
                    u32_attr(image::RUNNING, 0),
                    u32_attr(image::COMMITTED, 0),
                    u32_attr(image::VALID, 0),
                ],
            )),
        ];
        let m = parse(&attrs).unwrap();
        assert_eq!((m.device.as_str(), m.ifindex), ("eth0", 7));
        assert_eq!(m.cmis_revision, "5.2");
        assert_eq!(m.module_state, "ready");
        assert_eq!(m.images.len(), 2);
        assert_eq!(m.images[0].version.as_deref(), Some("1.0.0"));
        let t = text(&m);
        assert!(t.starts_with("eth0: ACME QDD-400G rev - serial - (QSFP-DD, CMIS 5.2, ready)"));
        assert!(
            t.contains("CDB: 1 instance, background, 16 EPL pages, abort"),
            "{t}"
        );
        assert!(
            t.contains("bank A   1.0.0          running committed"),
            "{t}"
        );
        assert!(t.contains("bank B   -              invalid"), "{t}");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["images"][0]["running"], true);
    }

    #[test]
    fn the_last_job_is_told() {
        let attrs = vec![
            FlashAttr::Header(vec![HeaderAttr::DevName("eth2".into())]),
            FlashAttr::Other(nest(
                info::LAST_JOB,
                &[
                    u32_attr(last_job::JOB, job::FLASH),
                    u32_attr(last_job::STATUS, status::ERROR),
                    string_attr(
                        last_job::STATUS_MSG,
                        "Start Firmware Download (0101h) failed",
                    ),
                    string_attr(last_job::FILE_NAME, "acme/qdd-2.1.bin"),
                    string_attr(last_job::VERSION_AFTER, "1.0"),
                    u32_attr(last_job::DURATION_MS, 1_250),
                    u32_attr(last_job::ENDED, 1_796_212_800),
                ],
            )),
        ];
        let m = parse(&attrs).unwrap();
        let t = text(&m);
        assert!(
            t.contains(
                "  last job: flash of acme/qdd-2.1.bin, error 2026-12-02 12:00:00 UTC after 1.2 s: \
                 runs 1.0\n    Start Firmware Download (0101h) failed"
            ),
            "{t}"
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["last_job"]["status"], "error");
        assert_eq!(json["last_job"]["ended"], 1_796_212_800u64);
    }

    #[test]
    fn a_reply_from_the_registers_says_why() {
        let attrs = vec![
            FlashAttr::Header(vec![HeaderAttr::DevName("eth1".into())]),
            FlashAttr::Other(u32_attr(info::SOURCE, source::REGISTERS)),
            FlashAttr::Other(u32_attr(info::NO_BANKS, no_banks::CDB_BUSY)),
            FlashAttr::Other(u32_attr(info::CDB_STATUS, 0x83)),
            FlashAttr::Other(string_attr(info::ACTIVE_VERSION, "1.0")),
            FlashAttr::Other(string_attr(info::INACTIVE_VERSION, "2.1")),
        ];
        let m = parse(&attrs).unwrap();
        let t = text(&m);
        assert!(
            t.contains("version registers: the CDB is busy (status 0x83)"),
            "{t}"
        );
        assert!(t.contains("running 1.0, inactive 2.1"), "{t}");
        assert!(!t.contains("last job"), "{t}");
        // A u32 of the wrong size is an error, not a guess.
        let bad = vec![FlashAttr::Other(DefaultNla::new(info::IDENTIFIER, vec![1]))];
        assert!(parse(&bad).is_err());
    }
}
