// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw cdb`: one CDB command on a port's module through the kernel's
//! scoped RPC (`MODULE_CDB_RPC`), and `--list`: the commands, their
//! scopes, and what the module's CDB supports (`MODULE_CDB_INFO_GET`).

use crate::info::{nested, raw, string_of, u32_of};
use crate::netlink::{Client, FlashAttr, HeaderAttr};
use crate::output;
use anyhow::{anyhow, Context, Result};
use cmis_core::cdb::advert::{
    FwFeatures, FwInfo, ModuleFeatures, FW_FEATURES_LEN, MODULE_FEATURES_LEN,
};
use cmis_core::cdb::rpc::FEATURE_QUERIES;
use cmis_core::cdb::scope::{self, Scope};
use cmis_core::cdb::CommandId;
use cmis_core::uapi::{cdb, cdb_caps, info, MSG_MODULE_CDB_INFO_GET, MSG_MODULE_CDB_RPC};
use netlink_packet_utils::nla::DefaultNla;
use serde::Serialize;
use std::fmt::Write;

/// What to run.
pub(crate) struct Request {
    pub(crate) dev: String,
    pub(crate) command: u16,
    pub(crate) lpl: Vec<u8>,
    pub(crate) epl: Vec<u8>,
    pub(crate) scope: Scope,
    pub(crate) instance: Option<u32>,
    pub(crate) timeout_ms: Option<u32>,
}

/// How it ended (the reply).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Reply {
    pub(crate) schema: u32,
    pub(crate) time: String,
    pub(crate) device: String,
    /// "0100h".
    pub(crate) command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'static str>,
    pub(crate) instance: u32,
    /// The CdbStatus byte.
    pub(crate) status: u32,
    pub(crate) status_msg: String,
    pub(crate) duration_us: u32,
    /// The reply payload, hex.
    pub(crate) reply: String,
    #[serde(skip)]
    pub(crate) payload: Vec<u8>,
    /// The reply decoded, for the commands the tool knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decoded: Option<serde_json::Value>,
}

fn header(dev: &str) -> FlashAttr {
    FlashAttr::Header(vec![HeaderAttr::DevName(dev.to_owned())])
}

fn other(kind: u16, value: Vec<u8>) -> FlashAttr {
    FlashAttr::Other(DefaultNla::new(kind, value))
}

/// The request's attributes.
pub(crate) fn attributes(r: &Request) -> Vec<FlashAttr> {
    let mut attrs = vec![
        header(&r.dev),
        other(cdb::COMMAND, u32::from(r.command).to_ne_bytes().to_vec()),
        other(cdb::SCOPE, (r.scope as u32).to_ne_bytes().to_vec()),
    ];
    if !r.lpl.is_empty() {
        attrs.push(other(cdb::LPL, r.lpl.clone()));
    }
    if !r.epl.is_empty() {
        attrs.push(other(cdb::EPL, r.epl.clone()));
    }
    if let Some(i) = r.instance {
        attrs.push(other(cdb::INSTANCE, i.to_ne_bytes().to_vec()));
    }
    if let Some(t) = r.timeout_ms {
        attrs.push(other(cdb::TIMEOUT_MS, t.to_ne_bytes().to_vec()));
    }
    attrs
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Decodes the kernel's reply.
pub(crate) fn parse_reply(dev: &str, attrs: &[FlashAttr]) -> Result<Reply> {
    let mut r = Reply {
        schema: output::SCHEMA,
        time: output::timestamp(),
        device: dev.to_owned(),
        ..Reply::default()
    };
    let mut command = None;
    for a in attrs {
        if let FlashAttr::Header(h) = a {
            for x in h {
                if let HeaderAttr::DevName(n) = x {
                    r.device.clone_from(n);
                }
            }
            continue;
        }
        let FlashAttr::Other(n) = a else {
            continue;
        };
        let (kind, v) = raw(n);
        match kind {
            cdb::COMMAND => command = Some(u32_of(&v)?),
            cdb::INSTANCE => r.instance = u32_of(&v)?,
            cdb::STATUS => r.status = u32_of(&v)?,
            cdb::STATUS_MSG => r.status_msg = string_of(&v),
            cdb::REPLY => r.payload = v,
            cdb::DURATION_US => r.duration_us = u32_of(&v)?,
            _ => {}
        }
    }
    let id = command.ok_or_else(|| anyhow!("no command in the kernel's reply"))?;
    let id = CommandId(u16::try_from(id).context("command id")?);
    r.command = format!("{:04X}h", id.0);
    r.name = scope::lookup(id).map(|k| k.name);
    r.reply = hex(&r.payload);
    r.decoded = decode(id, &r.payload);
    Ok(r)
}

/// The replies of the commands the tool knows, decoded.
fn decode(id: CommandId, p: &[u8]) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match id {
        CommandId::QUERY_STATUS if p.len() >= 2 => json!({
            "length": p[0],
            "unlocked": p[1] & 1 != 0,
        }),
        CommandId::MODULE_FEATURES if p.len() >= usize::from(MODULE_FEATURES_LEN) => {
            let f = ModuleFeatures::decode(p);
            let listed: Vec<String> = (0u16..256)
                .filter(|&i| f.commands[usize::from(i / 8)] & (1 << (i % 8)) != 0)
                .map(|i| format!("{i:04X}h"))
                .collect();
            json!({ "commands": listed, "max_completion_ms": f.max_completion_ms })
        }
        CommandId::FW_MGMT_FEATURES if p.len() >= usize::from(FW_FEATURES_LEN) => {
            let f = FwFeatures::decode(p);
            json!({
                "abort": f.abort,
                "hitless_restart": f.hitless_restart,
                "start_payload_size": f.start_payload_size,
                "write_mechanism": f.write_mechanism,
                "read_write_length_ext": f.rw_len_ext,
                "max_ms": {
                    "start": f.max_ms[0], "abort": f.max_ms[1], "write": f.max_ms[2],
                    "complete": f.max_ms[3], "copy": f.max_ms[4],
                },
            })
        }
        CommandId::GET_FW_INFO if p.len() >= 2 => {
            let info = FwInfo::decode(p);
            let banks: Vec<_> = [cmis_core::bank::BankId::A, cmis_core::bank::BankId::B]
                .into_iter()
                .map(|b| {
                    let s = info.bank(b);
                    json!({
                        "bank": if b == cmis_core::bank::BankId::A { "A" } else { "B" },
                        "running": s.running,
                        "committed": s.committed,
                        "valid": s.valid,
                        "version": info.version(b).map(|v| v.to_string()),
                    })
                })
                .collect();
            json!({ "banks": banks })
        }
        _ => return None,
    })
}

/// The reply as text.
pub(crate) fn text(r: &Reply) -> String {
    let mut s = String::new();
    let name = r.name.map(|n| format!(" ({n})")).unwrap_or_default();
    let _ = writeln!(
        s,
        "{}: {}{name} on CDB instance {}: status {:#04x}, {} ({}.{:03} ms)",
        r.device,
        r.command,
        r.instance,
        r.status,
        r.status_msg,
        r.duration_us / 1000,
        r.duration_us % 1000
    );
    match &r.decoded {
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                let _ = writeln!(s, "  {k}: {v}");
            }
        }
        _ if r.payload.is_empty() => {}
        _ => {
            for (i, chunk) in r.payload.chunks(16).enumerate() {
                let bytes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                let ascii: String = chunk
                    .iter()
                    .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                    .collect();
                let _ = writeln!(s, "  {:04x}  {:<47}  {ascii}", i * 16, bytes.join(" "));
            }
        }
    }
    s
}

/// Runs the command; exit status 0 for a success status, 1 for a
/// failure status (the command ran and the module refused it).
pub(crate) fn run(family: &str, req: &Request, json: bool) -> Result<u8> {
    let mut client = Client::connect(family)?;
    let attrs = client.query(MSG_MODULE_CDB_RPC, attributes(req))?;
    let r = parse_reply(&req.dev, &attrs)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print!("{}", text(&r));
    }
    Ok(if r.status == 1 {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}

/// What `--list` shows of a module.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Listing {
    pub(crate) schema: u32,
    pub(crate) time: String,
    pub(crate) device: String,
    pub(crate) instances: u32,
    pub(crate) background: bool,
    pub(crate) epl_pages: u32,
    /// The feature queries the module answered (0040h-0045h).
    pub(crate) groups: Vec<String>,
    /// The scopes the caller may use.
    pub(crate) scopes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) busy_status: Option<u32>,
    pub(crate) commands: Vec<ListedCommand>,
}

/// One command of the spec's table.
#[derive(Debug, Serialize)]
pub(crate) struct ListedCommand {
    pub(crate) id: String,
    pub(crate) name: &'static str,
    pub(crate) scope: &'static str,
    /// Whether the module lists it (0000h-00FFh, from 0040h) or answers
    /// its group's feature query; `None`: not known.
    pub(crate) supported: Option<bool>,
}

/// The group feature query of command `id`, if it has one.
fn group_of(id: u16) -> Option<u16> {
    match id {
        0x0000..=0x00ff => Some(0),
        0x0100..=0x01ff => Some(1),
        0x0200..=0x02ff => Some(2),
        0x0300..=0x03ff => Some(3),
        0x0400..=0x04ff => Some(4),
        _ => None,
    }
}

const GROUP_NAMES: [&str; FEATURE_QUERIES as usize] = [
    "module (0040h)",
    "firmware management (0041h)",
    "performance monitoring (0042h)",
    "BERT and diagnostics (0043h)",
    "security (0044h)",
    "externally defined (0045h)",
];

/// Decodes the CDB info reply into the listing.
pub(crate) fn parse_listing(dev: &str, attrs: &[FlashAttr]) -> Result<Listing> {
    let mut l = Listing {
        schema: output::SCHEMA,
        time: output::timestamp(),
        device: dev.to_owned(),
        ..Listing::default()
    };
    let (mut groups, mut scopes, mut listed) = (0u32, 0u32, None);
    for a in attrs {
        let FlashAttr::Other(n) = a else {
            continue;
        };
        let (kind, v) = raw(n);
        match kind {
            info::CDB => {
                for (k, v) in nested(&v)? {
                    let x = u32_of(&v)?;
                    match k {
                        cdb_caps::INSTANCES => l.instances = x,
                        cdb_caps::BACKGROUND => l.background = x != 0,
                        cdb_caps::EPL_PAGES => l.epl_pages = x,
                        _ => {}
                    }
                }
            }
            cdb::GROUPS => groups = u32_of(&v)?,
            cdb::SCOPES => scopes = u32_of(&v)?,
            cdb::BUSY_STATUS => l.busy_status = Some(u32_of(&v)?),
            cdb::COMMANDS if v.len() == 32 => listed = Some(v),
            _ => {}
        }
    }
    l.groups = (0..FEATURE_QUERIES)
        .filter(|n| groups & (1 << n) != 0)
        .map(|n| GROUP_NAMES[usize::from(n)].to_owned())
        .collect();
    l.scopes = (0..4)
        .filter(|n| scopes & (1 << n) != 0)
        .filter_map(Scope::from_code)
        .map(Scope::name)
        .collect();
    let known = l.busy_status.is_none();
    l.commands = scope::COMMANDS
        .iter()
        .chain(scope::SIGNING.iter())
        .map(|k| {
            let supported = match (&listed, group_of(k.id)) {
                (Some(bits), Some(0)) => Some(bits[usize::from(k.id / 8)] & (1 << (k.id % 8)) != 0),
                (_, Some(g)) if known => (groups & (1 << g) != 0).then_some(true),
                _ => None,
            };
            ListedCommand {
                id: format!("{:04X}h", k.id),
                name: k.name,
                scope: k.scope.name(),
                supported,
            }
        })
        .collect();
    Ok(l)
}

/// The listing as text.
pub(crate) fn listing_text(l: &Listing) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} CDB instance(s), {} mode, {} EPL page(s)",
        l.device,
        l.instances,
        if l.background {
            "background"
        } else {
            "foreground"
        },
        l.epl_pages
    );
    match l.busy_status {
        Some(st) => {
            let _ = writeln!(s, "  busy (status {st:#04x}): feature queries not asked");
        }
        None => {
            let _ = writeln!(s, "  command groups: {}", l.groups.join(", "));
        }
    }
    let _ = writeln!(s, "  your scopes: {}", l.scopes.join(", "));
    let _ = writeln!(s, "{:<6} {:<18} {:<10} COMMAND", "ID", "SCOPE", "SUPPORTED");
    for c in &l.commands {
        let sup = match c.supported {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let _ = writeln!(s, "{:<6} {:<18} {:<10} {}", c.id, c.scope, sup, c.name);
    }
    let _ = writeln!(
        s,
        "{:<6} {:<18} {:<10} any other command (vendor: 8000h-FFFFh)",
        "*", "debug-write-full", "-"
    );
    s
}

/// `cdb DEV --list`.
pub(crate) fn list(family: &str, dev: &str, json: bool) -> Result<u8> {
    let mut client = Client::connect(family)?;
    let attrs = client.query(MSG_MODULE_CDB_INFO_GET, vec![header(dev)])?;
    let l = parse_listing(dev, &attrs)?;
    if json {
        println!("{}", serde_json::to_string(&l)?);
    } else {
        print!("{}", listing_text(&l));
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_and_payloads_as_typed() {
        use crate::cli::{parse_command, parse_hex, parse_scope};
        assert_eq!(parse_command("0100h"), Ok(0x0100));
        assert_eq!(parse_command("0x8001"), Ok(0x8001));
        assert_eq!(parse_command("41"), Ok(0x41));
        assert!(parse_command("10000").is_err());
        assert_eq!(parse_hex("01 02:ff").map(|h| h.0), Ok(vec![1, 2, 0xff]));
        assert!(parse_hex("012").is_err());
        assert_eq!(parse_scope("debug-write"), Ok(Scope::DebugWrite));
        assert!(parse_scope("root").is_err());
    }

    #[test]
    fn a_request_encodes_as_the_kernel_reads_it() {
        use crate::netlink::FlashMessage;
        use netlink_packet_generic::GenlHeader;
        use netlink_packet_utils::nla::{NlasIterator, NLA_F_NESTED};
        use netlink_packet_utils::{Emitable, ParseableParametrized};
        let req = Request {
            dev: "cmis0".into(),
            command: 0x8001,
            lpl: vec![0x5a],
            epl: vec![7; 300],
            scope: Scope::DebugWriteFull,
            instance: Some(2),
            timeout_ms: Some(500),
        };
        let m = FlashMessage {
            cmd: MSG_MODULE_CDB_RPC,
            attrs: attributes(&req),
        };
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        // Walk the attributes as the kernel's policy sees them: type,
        // length, value.
        let mut seen = std::collections::BTreeMap::new();
        for nla in NlasIterator::new(&buf[..]) {
            let nla = nla.unwrap();
            seen.insert(nla.kind() & !NLA_F_NESTED, nla.value().to_vec());
        }
        let u32_at = |k: u16| u32::from_ne_bytes(seen[&k][..].try_into().unwrap());
        assert_eq!(u32_at(cdb::COMMAND), 0x8001);
        assert_eq!(u32_at(cdb::SCOPE), cmis_core::uapi::scope::DEBUG_WRITE_FULL);
        assert_eq!(u32_at(cdb::INSTANCE), 2);
        assert_eq!(u32_at(cdb::TIMEOUT_MS), 500);
        assert_eq!(seen[&cdb::LPL], [0x5a]);
        assert_eq!(seen[&cdb::EPL].len(), 300);
        assert!(seen.contains_key(&info::HEADER));
        // And the message parses back.
        let back = FlashMessage::parse_with_param(
            &buf,
            GenlHeader {
                cmd: MSG_MODULE_CDB_RPC,
                version: 1,
            },
        )
        .unwrap();
        assert_eq!(back.attrs.len(), 7);
        // Without payloads, instance or timeout: three attributes.
        let bare = Request {
            lpl: vec![],
            epl: vec![],
            instance: None,
            timeout_ms: None,
            ..req
        };
        assert_eq!(attributes(&bare).len(), 3);
    }

    #[test]
    fn a_reply_decodes() {
        let mut info = vec![0u8; 74];
        info[0] = 0x03; // A running and committed, B valid
        info[1] = 0x03;
        info[2..6].copy_from_slice(&[1, 0, 0, 0]);
        info[38..42].copy_from_slice(&[2, 0, 0, 7]);
        let attrs = vec![
            other(cdb::COMMAND, 0x0100u32.to_ne_bytes().to_vec()),
            other(cdb::INSTANCE, 1u32.to_ne_bytes().to_vec()),
            other(cdb::STATUS, 1u32.to_ne_bytes().to_vec()),
            other(cdb::STATUS_MSG, b"success\0".to_vec()),
            other(cdb::REPLY, info),
            other(cdb::DURATION_US, 1500u32.to_ne_bytes().to_vec()),
        ];
        let r = parse_reply("eth0", &attrs).unwrap();
        assert_eq!(
            (r.command.as_str(), r.name),
            ("0100h", Some("Get Firmware Info"))
        );
        let d = r.decoded.as_ref().unwrap();
        assert_eq!(d["banks"][1]["version"], "2.0.7");
        assert_eq!(d["banks"][0]["running"], true);
        let t = text(&r);
        assert!(t.starts_with("eth0: 0100h (Get Firmware Info) on CDB instance 1: status 0x01, success (1.500 ms)"), "{t}");
        // A vendor reply is shown in hex.
        let attrs = vec![
            other(cdb::COMMAND, 0x8000u32.to_ne_bytes().to_vec()),
            other(cdb::REPLY, b"EMU\x05\0\0\0\x09".to_vec()),
        ];
        let r = parse_reply("eth0", &attrs).unwrap();
        assert_eq!(r.reply, "454d550500000009");
        assert!(text(&r).contains("  0000  45 4d 55 05 00 00 00 09"));
    }

    #[test]
    fn the_listing_marks_what_the_module_supports() {
        let mut bits = vec![0u8; 32];
        bits[0] = 0x01; // 0000h
        bits[8] = 0x03; // 0040h, 0041h
        let attrs = vec![
            other(cdb::GROUPS, 0b11u32.to_ne_bytes().to_vec()),
            other(cdb::SCOPES, 0b0111u32.to_ne_bytes().to_vec()),
            other(cdb::COMMANDS, bits),
        ];
        let l = parse_listing("eth0", &attrs).unwrap();
        assert_eq!(
            l.scopes,
            ["configuration", "debug-read-only", "debug-write"]
        );
        let find = |id: &str| l.commands.iter().find(|c| c.id == id).unwrap();
        assert_eq!(find("0000h").supported, Some(true));
        assert_eq!(find("0001h").supported, Some(false));
        assert_eq!(find("0100h").supported, Some(true));
        assert_eq!(find("0200h").supported, None);
        assert_eq!(find("0101h").scope, "debug-write-full");
        assert!(listing_text(&l).contains("0100h  debug-read-only    yes        Get Firmware Info"));
    }
}
