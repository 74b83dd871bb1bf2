// SPDX-License-Identifier: GPL-2.0

//! The `cmis_fw` generic netlink family, as a client.
//!
//! Numbered as ethtool's MODULE_FW_FLASH (see
//! `Documentation/netlink/specs/cmis_fw.yaml`), so that the same code can
//! talk to a family registered under the name `ethtool`.

use anyhow::{anyhow, bail, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_generic::{
    ctrl::{
        nlas::{GenlCtrlAttrs, McastGrpAttrs},
        GenlCtrl, GenlCtrlCmd,
    },
    GenlFamily, GenlHeader, GenlMessage,
};
use netlink_packet_utils::{
    nla::{DefaultNla, Nla, NlaBuffer, NlasIterator, NLA_F_NESTED},
    parsers::{parse_string, parse_u32},
    DecodeError, Emitable, Parseable, ParseableParametrized,
};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::Duration;

use cmis_core::uapi::{
    abort, action, attr, header, left, outcome, status, FAMILY_NAME, FAMILY_VERSION, MCGRP_MONITOR,
};

/// `ETHTOOL_MSG_MODULE_FW_FLASH_ACT` and `_NTF` have the same number.
pub(crate) const MSG_FLASH: u8 = cmis_core::uapi::MSG_MODULE_FW_FLASH_ACT;
const _: () = assert!(MSG_FLASH == cmis_core::uapi::MSG_MODULE_FW_FLASH_NTF);

/// `MODULE_INFO_GET`, request and reply.
pub(crate) const MSG_INFO: u8 = cmis_core::uapi::MSG_MODULE_INFO_GET;

/// `NLMSGERR_ATTR_MSG`: the extack message of an error.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Size of a netlink message header.
const NLMSG_HDRLEN: usize = 16;

/// An attribute of the device header nest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderAttr {
    /// Interface index.
    DevIndex(u32),
    /// Interface name.
    DevName(String),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for HeaderAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::DevIndex(_) => 4,
            Self::DevName(s) => s.len() + 1,
            Self::Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::DevIndex(_) => header::DEV_INDEX,
            Self::DevName(_) => header::DEV_NAME,
            Self::Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::DevIndex(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Self::DevName(s) => emit_string(s, buf),
            Self::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for HeaderAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        Ok(match buf.kind() {
            header::DEV_INDEX => Self::DevIndex(parse_u32(payload)?),
            header::DEV_NAME => Self::DevName(parse_string(payload)?),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// An attribute of the outcome nest: a number or a version string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutcomeAttr {
    /// A u32 attribute of this kind.
    Number(u16, u32),
    /// A version string attribute of this kind.
    Version(u16, String),
}

impl OutcomeAttr {
    const fn is_version(kind: u16) -> bool {
        matches!(
            kind,
            outcome::ACTIVE_VERSION
                | outcome::INACTIVE_VERSION
                | outcome::BANK_A_VERSION
                | outcome::BANK_B_VERSION
        )
    }
}

impl Nla for OutcomeAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Number(..) => 4,
            Self::Version(_, s) => s.len() + 1,
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Number(k, _) | Self::Version(k, _) => *k,
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::Number(_, v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Self::Version(_, s) => emit_string(s, buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for OutcomeAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let (kind, payload) = (buf.kind(), buf.value());
        Ok(if Self::is_version(kind) {
            Self::Version(kind, parse_string(payload)?)
        } else {
            Self::Number(kind, parse_u32(payload)?)
        })
    }
}

/// An attribute of the flash messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FlashAttr {
    /// The device (nest).
    Header(Vec<HeaderAttr>),
    /// Firmware file, relative to the firmware search path.
    FileName(String),
    /// Module password.
    Password(u32),
    /// `ETHTOOL_MODULE_FW_FLASH_STATUS_*`.
    Status(u32),
    /// Error message.
    StatusMsg(String),
    /// Bytes done.
    Done(u64),
    /// Bytes in all.
    Total(u64),
    /// Where a failure left the module (nest).
    Outcome(Vec<OutcomeAttr>),
    /// How far to go (`cmis_core::uapi::until`).
    Until(u32),
    /// The version the image is, "MAJOR.MINOR[.BUILD]".
    Version(String),
    /// How long the announced phase may last, in ms.
    Timeout(u32),
    /// The version running before a completed job.
    VersionBefore(String),
    /// The version running after it.
    VersionAfter(String),
    /// Download with the link up.
    LinkUp,
    /// Run hitless.
    Hitless,
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for FlashAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Header(h) => h.as_slice().buffer_len(),
            Self::Outcome(o) => o.as_slice().buffer_len(),
            Self::FileName(s)
            | Self::StatusMsg(s)
            | Self::Version(s)
            | Self::VersionBefore(s)
            | Self::VersionAfter(s) => s.len() + 1,
            Self::Password(_) | Self::Status(_) | Self::Until(_) | Self::Timeout(_) => 4,
            Self::Done(_) | Self::Total(_) => 8,
            Self::LinkUp | Self::Hitless => 0,
            Self::Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Header(_) => attr::HEADER | NLA_F_NESTED,
            Self::Outcome(_) => attr::OUTCOME | NLA_F_NESTED,
            Self::FileName(_) => attr::FILE_NAME,
            Self::Password(_) => attr::PASSWORD,
            Self::Status(_) => attr::STATUS,
            Self::StatusMsg(_) => attr::STATUS_MSG,
            Self::Done(_) => attr::DONE,
            Self::Total(_) => attr::TOTAL,
            Self::Until(_) => attr::UNTIL,
            Self::Version(_) => attr::VERSION,
            Self::Timeout(_) => attr::TIMEOUT,
            Self::VersionBefore(_) => attr::VERSION_BEFORE,
            Self::VersionAfter(_) => attr::VERSION_AFTER,
            Self::LinkUp => attr::LINK_UP,
            Self::Hitless => attr::HITLESS,
            Self::Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::Header(h) => h.as_slice().emit(buf),
            Self::Outcome(o) => o.as_slice().emit(buf),
            Self::FileName(s)
            | Self::StatusMsg(s)
            | Self::Version(s)
            | Self::VersionBefore(s)
            | Self::VersionAfter(s) => emit_string(s, buf),
            Self::Password(v) | Self::Status(v) | Self::Until(v) | Self::Timeout(v) => {
                buf[..4].copy_from_slice(&v.to_ne_bytes())
            }
            Self::Done(v) | Self::Total(v) => buf[..8].copy_from_slice(&v.to_ne_bytes()),
            Self::LinkUp | Self::Hitless => {}
            Self::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for FlashAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let payload = buf.value();
        Ok(match buf.kind() & !NLA_F_NESTED {
            attr::HEADER => Self::Header(
                NlasIterator::new(payload)
                    .map(|n| n.and_then(|n| HeaderAttr::parse(&n)))
                    .collect::<Result<_, _>>()?,
            ),
            attr::FILE_NAME => Self::FileName(parse_string(payload)?),
            attr::PASSWORD => Self::Password(parse_u32(payload)?),
            attr::STATUS => Self::Status(parse_u32(payload)?),
            attr::STATUS_MSG => Self::StatusMsg(parse_string(payload)?),
            attr::DONE => Self::Done(parse_uint(payload)?),
            attr::TOTAL => Self::Total(parse_uint(payload)?),
            attr::UNTIL => Self::Until(parse_u32(payload)?),
            attr::VERSION => Self::Version(parse_string(payload)?),
            attr::TIMEOUT => Self::Timeout(parse_u32(payload)?),
            attr::VERSION_BEFORE => Self::VersionBefore(parse_string(payload)?),
            attr::VERSION_AFTER => Self::VersionAfter(parse_string(payload)?),
            attr::LINK_UP => Self::LinkUp,
            attr::HITLESS => Self::Hitless,
            attr::OUTCOME => Self::Outcome(
                NlasIterator::new(payload)
                    .map(|n| n.and_then(|n| OutcomeAttr::parse(&n)))
                    .collect::<Result<_, _>>()?,
            ),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

fn emit_string(s: &str, buf: &mut [u8]) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

/// An `NLA_UINT`: 4 or 8 bytes.
fn parse_uint(payload: &[u8]) -> Result<u64, DecodeError> {
    match payload.len() {
        4 => Ok(parse_u32(payload)?.into()),
        8 => Ok(u64::from_ne_bytes(
            payload.try_into().map_err(|_| "bad uint")?,
        )),
        n => Err(format!("uint attribute of {n} bytes").into()),
    }
}

/// A message of the family: a command and its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FlashMessage {
    /// Command (`MSG_FLASH`).
    pub(crate) cmd: u8,
    /// Attributes.
    pub(crate) attrs: Vec<FlashAttr>,
}

impl GenlFamily for FlashMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for FlashMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buf: &mut [u8]) {
        self.attrs.as_slice().emit(buf)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for FlashMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            attrs: NlasIterator::new(buf)
                .map(|n| n.and_then(|n| FlashAttr::parse(&n)))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The status of a flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// The module takes commands; the update begins.
    Started,
    /// Bytes are being written.
    InProgress,
    /// Done: the new image runs and is committed.
    Completed,
    /// Failed; the message says why.
    Error,
    /// A value this tool does not know.
    Unknown,
}

impl Status {
    fn from_u32(v: u32) -> Self {
        match v {
            status::STARTED => Self::Started,
            status::IN_PROGRESS => Self::InProgress,
            status::COMPLETED => Self::Completed,
            status::ERROR => Self::Error,
            _ => Self::Unknown,
        }
    }

    /// Whether the flash is over.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Error)
    }
}

/// A progress notification, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Notification {
    /// Interface name.
    pub(crate) dev: String,
    /// Interface index.
    pub(crate) ifindex: u32,
    /// Status.
    pub(crate) status: Status,
    /// Error message, if any.
    pub(crate) message: Option<String>,
    /// Bytes of the image the module has accepted.
    pub(crate) done: u64,
    /// Image size.
    pub(crate) total: u64,
    /// How long the phase the message announces may last, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u32>,
    /// The versions running before and after a completed job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_after: Option<String>,
    /// Where a failure left the module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) outcome: Option<Box<Outcome>>,
}

/// Where a failed flash left the module, as read back from it, and what
/// to do next (the outcome nest); what the module did not show is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Outcome {
    /// What the update left behind: unchanged, download-begun,
    /// downloaded, run-sent, running-uncommitted, commit-sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) left: Option<&'static str>,
    /// What became of an open download: not-needed, not-supported,
    /// cdb-busy, aborted, failed, skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) abort: Option<&'static str>,
    /// What to do: retry, reset-then-retry, commit-or-reset,
    /// reset-and-check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) action: Option<&'static str>,
    /// Active firmware version (00h:39-40).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) active_version: Option<String>,
    /// Inactive firmware version (01h:128-129).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inactive_version: Option<String>,
    /// Running bank, by Get Firmware Info: "A" or "B".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) running_bank: Option<&'static str>,
    /// Committed bank, by Get Firmware Info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) committed_bank: Option<&'static str>,
    /// Banks holding a valid image, by Get Firmware Info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) valid_banks: Option<Vec<&'static str>>,
    /// Bank A's image version, by Get Firmware Info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bank_a_version: Option<String>,
    /// Bank B's image version, by Get Firmware Info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bank_b_version: Option<String>,
    /// The CDB status byte (00h:37).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cdb_status: Option<u32>,
    /// The command a busy CDB holds (9Fh:128-129).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) busy_command: Option<u32>,
}

/// Bank 0 or 1 as its letter.
fn bank_name(v: u32) -> &'static str {
    match v {
        0 => "A",
        1 => "B",
        _ => "?",
    }
}

/// The names of [`outcome::LEFT`]'s values, as in the YNL spec.
const LEFT_NAMES: [(u32, &str); 6] = [
    (left::UNCHANGED, "unchanged"),
    (left::DOWNLOAD_BEGUN, "download-begun"),
    (left::DOWNLOADED, "downloaded"),
    (left::RUN_SENT, "run-sent"),
    (left::RUNNING_UNCOMMITTED, "running-uncommitted"),
    (left::COMMIT_SENT, "commit-sent"),
];
/// The names of [`outcome::ABORT`]'s values.
const ABORT_NAMES: [(u32, &str); 6] = [
    (abort::NOT_NEEDED, "not-needed"),
    (abort::NOT_SUPPORTED, "not-supported"),
    (abort::CDB_BUSY, "cdb-busy"),
    (abort::ABORTED, "aborted"),
    (abort::FAILED, "failed"),
    (abort::SKIPPED, "skipped"),
];
/// The names of [`outcome::ACTION`]'s values.
const ACTION_NAMES: [(u32, &str); 4] = [
    (action::RETRY, "retry"),
    (action::RESET_THEN_RETRY, "reset-then-retry"),
    (action::COMMIT_OR_RESET, "commit-or-reset"),
    (action::RESET_AND_CHECK, "reset-and-check"),
];

/// The name of `v` in `names`, or "unknown".
pub(crate) fn named(v: u32, names: &[(u32, &'static str)]) -> &'static str {
    names
        .iter()
        .find(|(value, _)| *value == v)
        .map_or("unknown", |(_, name)| name)
}

impl Outcome {
    fn from_attrs(attrs: &[OutcomeAttr]) -> Self {
        let mut o = Self::default();
        for a in attrs {
            match a {
                OutcomeAttr::Number(outcome::LEFT, v) => o.left = Some(named(*v, &LEFT_NAMES)),
                OutcomeAttr::Number(outcome::ABORT, v) => o.abort = Some(named(*v, &ABORT_NAMES)),
                OutcomeAttr::Number(outcome::ACTION, v) => {
                    o.action = Some(named(*v, &ACTION_NAMES))
                }
                OutcomeAttr::Number(outcome::RUNNING_BANK, v) => {
                    o.running_bank = Some(bank_name(*v))
                }
                OutcomeAttr::Number(outcome::COMMITTED_BANK, v) => {
                    o.committed_bank = Some(bank_name(*v))
                }
                OutcomeAttr::Number(outcome::VALID_BANKS, v) => {
                    o.valid_banks = Some(
                        [(1, "A"), (2, "B")]
                            .into_iter()
                            .filter(|(bit, _)| v & bit != 0)
                            .map(|(_, name)| name)
                            .collect(),
                    )
                }
                OutcomeAttr::Number(outcome::CDB_STATUS, v) => o.cdb_status = Some(*v),
                OutcomeAttr::Number(outcome::BUSY_COMMAND, v) => o.busy_command = Some(*v),
                OutcomeAttr::Version(outcome::ACTIVE_VERSION, s) => {
                    o.active_version = Some(s.clone())
                }
                OutcomeAttr::Version(outcome::INACTIVE_VERSION, s) => {
                    o.inactive_version = Some(s.clone())
                }
                OutcomeAttr::Version(outcome::BANK_A_VERSION, s) => {
                    o.bank_a_version = Some(s.clone())
                }
                OutcomeAttr::Version(outcome::BANK_B_VERSION, s) => {
                    o.bank_b_version = Some(s.clone())
                }
                _ => {}
            }
        }
        o
    }
}

impl Notification {
    /// Decodes the attributes of a notification.
    pub(crate) fn from_attrs(attrs: &[FlashAttr]) -> Self {
        let mut n = Self {
            dev: String::new(),
            ifindex: 0,
            status: Status::Unknown,
            message: None,
            done: 0,
            total: 0,
            timeout_ms: None,
            version_before: None,
            version_after: None,
            outcome: None,
        };
        for a in attrs {
            match a {
                FlashAttr::Header(h) => {
                    for h in h {
                        match h {
                            HeaderAttr::DevIndex(i) => n.ifindex = *i,
                            HeaderAttr::DevName(s) => n.dev.clone_from(s),
                            HeaderAttr::Other(_) => {}
                        }
                    }
                }
                FlashAttr::Status(s) => n.status = Status::from_u32(*s),
                FlashAttr::StatusMsg(m) => n.message = Some(m.clone()),
                FlashAttr::Done(d) => n.done = *d,
                FlashAttr::Total(t) => n.total = *t,
                FlashAttr::Timeout(ms) => n.timeout_ms = Some(*ms),
                FlashAttr::VersionBefore(v) => n.version_before = Some(v.clone()),
                FlashAttr::VersionAfter(v) => n.version_after = Some(v.clone()),
                FlashAttr::Outcome(o) => n.outcome = Some(Box::new(Outcome::from_attrs(o))),
                _ => {}
            }
        }
        n
    }
}

/// What a request asks of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Job {
    /// Flash `file`, as far as `until` (`None`: to the end); the image
    /// is `version`, if given.
    Flash {
        file: String,
        until: Option<u32>,
        version: Option<String>,
        link_up: bool,
        hitless: bool,
    },
    /// Run the inactive bank's image (hitless if asked); commit it too if
    /// `commit`.
    Run { commit: bool, hitless: bool },
    /// Commit the running image.
    Commit,
}

impl Job {
    fn command(&self) -> u8 {
        match self {
            Self::Flash { .. } => MSG_FLASH,
            Self::Run { .. } => cmis_core::uapi::MSG_MODULE_FW_RUN_ACT,
            Self::Commit => cmis_core::uapi::MSG_MODULE_FW_COMMIT_ACT,
        }
    }

    fn until(&self) -> Option<u32> {
        match self {
            Self::Flash { until, .. } => *until,
            Self::Run { commit: true, .. } => Some(cmis_core::uapi::until::COMMITTED),
            Self::Run { commit: false, .. } | Self::Commit => None,
        }
    }
}

/// A refused request: the errno and the kernel's extack message.
#[derive(Debug)]
pub(crate) struct Refused {
    /// Positive errno.
    pub(crate) errno: i32,
    /// Extended ack message, if the kernel gave one.
    pub(crate) message: Option<String>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let err = std::io::Error::from_raw_os_error(self.errno);
        match &self.message {
            Some(m) => write!(f, "{m} ({err})"),
            None => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for Refused {}

/// The family is not registered: the `cmis_fw` module is not loaded (or
/// serves another family name).
#[derive(Debug)]
pub(crate) struct NotLoaded {
    family: String,
    /// Positive errno of the controller's answer.
    errno: i32,
}

impl std::fmt::Display for NotLoaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "generic netlink family {} not found ({}); is the cmis_fw module loaded?",
            self.family,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for NotLoaded {}

/// Extracts the extack message from an error's trailing bytes (the
/// original header, capped, then TLVs).
fn extack_message(flags: u16, rest: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let tlvs = rest.get(NLMSG_HDRLEN..)?;
    NlasIterator::new(tlvs)
        .filter_map(Result::ok)
        .find(|n| n.kind() == NLMSGERR_ATTR_MSG)
        .and_then(|n| parse_string(n.value()).ok())
}

/// A generic netlink socket talking to the family.
pub(crate) struct Client {
    socket: Socket,
    family: u16,
    monitor_group: Option<u32>,
    seq: u32,
    buf: Vec<u8>,
    /// Messages of the family received but not yet handed out.
    pending: VecDeque<FlashMessage>,
}

impl Client {
    /// Opens a socket and looks the family up by `name`.
    pub(crate) fn connect(name: &str) -> Result<Self> {
        let mut socket = Socket::new(NETLINK_GENERIC).context("netlink socket")?;
        socket.bind_auto().context("binding the netlink socket")?;
        socket.set_ext_ack(true)?;
        socket.set_cap_ack(true)?;
        let mut c = Self {
            socket,
            family: 0,
            monitor_group: None,
            seq: 0,
            buf: vec![0; 65536],
            pending: VecDeque::new(),
        };
        c.resolve(name)?;
        Ok(c)
    }

    fn send<F>(&mut self, msg: GenlMessage<F>, flags: u16) -> Result<u32>
    where
        F: GenlFamily + Emitable + std::fmt::Debug,
    {
        self.seq += 1;
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        nl.header.flags = flags;
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .context("sending a netlink request")?;
        Ok(self.seq)
    }

    /// Receives one datagram, returns its messages' (header flags,
    /// payload bytes) split.
    fn recv(&mut self) -> Result<Vec<Vec<u8>>> {
        let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
        let mut out = Vec::new();
        let mut data = &self.buf[..n];
        while data.len() >= NLMSG_HDRLEN {
            let len = u32::from_ne_bytes(data[..4].try_into()?) as usize;
            if len < NLMSG_HDRLEN || len > data.len() {
                break;
            }
            out.push(data[..len].to_vec());
            data = &data[len.next_multiple_of(4).min(data.len())..];
        }
        Ok(out)
    }

    fn resolve(&mut self, name: &str) -> Result<()> {
        let msg = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
        });
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK)?;
        loop {
            for raw in self.recv()? {
                let msg = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&raw)
                    .map_err(|e| anyhow!("bad controller reply: {e}"))?;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => {
                        for a in m.payload.nlas {
                            match a {
                                GenlCtrlAttrs::FamilyId(id) => self.family = id,
                                GenlCtrlAttrs::McastGroups(groups) => {
                                    for g in groups {
                                        let named = g.contains(&McastGrpAttrs::Name(
                                            MCGRP_MONITOR.to_owned(),
                                        ));
                                        for a in g {
                                            if let (true, McastGrpAttrs::Id(id)) = (named, a) {
                                                self.monitor_group = Some(id);
                                            }
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            return Err(NotLoaded {
                                family: name.to_owned(),
                                errno: -code.get(),
                            }
                            .into());
                        }
                        if self.family == 0 {
                            bail!("no id for generic netlink family {name}");
                        }
                        return Ok(());
                    }
                    _ => {}
                }
            }
        }
    }

    /// Asks the kernel for `job` on `dev`. Returns once the request is
    /// accepted; notifications follow.
    pub(crate) fn act(&mut self, dev: &str, job: &Job, password: Option<u32>) -> Result<()> {
        let mut attrs = vec![FlashAttr::Header(vec![HeaderAttr::DevName(dev.to_owned())])];
        if let Job::Flash {
            file,
            version,
            link_up,
            ..
        } = job
        {
            attrs.push(FlashAttr::FileName(file.clone()));
            if let Some(v) = version {
                attrs.push(FlashAttr::Version(v.clone()));
            }
            if *link_up {
                attrs.push(FlashAttr::LinkUp);
            }
        }
        if let Job::Flash { hitless: true, .. } | Job::Run { hitless: true, .. } = job {
            attrs.push(FlashAttr::Hitless);
        }
        if let Some(p) = password {
            attrs.push(FlashAttr::Password(p));
        }
        if let Some(u) = job.until() {
            attrs.push(FlashAttr::Until(u));
        }
        // The ack may come after the first notifications: keep those.
        let mut pending = Vec::new();
        let r = self.request(job.command(), attrs, |m| pending.push(m));
        self.pending.extend(pending);
        r
    }

    /// Cancels the job running on `dev`: it aborts a download in progress
    /// and ends with an error notification to its requester.
    pub(crate) fn cancel(&mut self, dev: &str) -> Result<()> {
        let attrs = vec![FlashAttr::Header(vec![HeaderAttr::DevName(dev.to_owned())])];
        self.request(cmis_core::uapi::MSG_MODULE_FW_CANCEL_ACT, attrs, |_| {})
    }

    /// Asks what `dev`'s module is and holds; returns the reply's
    /// attributes (see [`crate::info`]).
    pub(crate) fn info(&mut self, dev: &str, password: Option<u32>) -> Result<Vec<FlashAttr>> {
        let mut attrs = vec![FlashAttr::Header(vec![HeaderAttr::DevName(dev.to_owned())])];
        if let Some(p) = password {
            attrs.push(FlashAttr::Password(p));
        }
        self.query(MSG_INFO, attrs)
    }

    /// Sends a request of command `cmd` that the kernel answers with a
    /// message of the same command; returns its attributes.
    pub(crate) fn query(&mut self, cmd: u8, attrs: Vec<FlashAttr>) -> Result<Vec<FlashAttr>> {
        let mut reply = None;
        self.request(cmd, attrs, |m| {
            if m.cmd == cmd {
                reply = Some(m.attrs);
            }
        })?;
        reply.ok_or_else(|| anyhow!("no reply from the kernel"))
    }

    /// Asks what the module of every port of the namespace is and holds
    /// (a dump: the ports with a CMIS module), one reply's attributes
    /// each, in interface index order.
    pub(crate) fn info_all(&mut self, password: Option<u32>) -> Result<Vec<Vec<FlashAttr>>> {
        let attrs = password.map(FlashAttr::Password).into_iter().collect();
        let mut msg = GenlMessage::from_payload(FlashMessage {
            cmd: MSG_INFO,
            attrs,
        });
        msg.set_resolved_family_id(self.family);
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut replies = Vec::new();
        loop {
            for raw in self.recv()? {
                let msg = NetlinkMessage::<GenlMessage<FlashMessage>>::deserialize(&raw)
                    .map_err(|e| anyhow!("bad reply: {e}"))?;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) if m.payload.cmd == MSG_INFO => {
                        replies.push(m.payload.attrs);
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(code) => Err(Refused {
                                errno: -code.get(),
                                message: extack_message(msg.header.flags, &e.header),
                            }
                            .into()),
                            None => Ok(replies),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a request of command `cmd` and waits for its ack; the
    /// family's messages that come meanwhile (its reply, notifications)
    /// go to `received`. A refusal is a [`Refused`] error.
    fn request(
        &mut self,
        cmd: u8,
        attrs: Vec<FlashAttr>,
        mut received: impl FnMut(FlashMessage),
    ) -> Result<()> {
        let mut msg = GenlMessage::from_payload(FlashMessage { cmd, attrs });
        msg.set_resolved_family_id(self.family);
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK)?;
        loop {
            for raw in self.recv()? {
                let msg = NetlinkMessage::<GenlMessage<FlashMessage>>::deserialize(&raw)
                    .map_err(|e| anyhow!("bad reply: {e}"))?;
                match msg.payload {
                    NetlinkPayload::Error(e) if msg.header.sequence_number == seq => {
                        return match e.code {
                            Some(code) => Err(Refused {
                                errno: -code.get(),
                                message: extack_message(msg.header.flags, &e.header),
                            }
                            .into()),
                            None => Ok(()),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => received(m.payload),
                    _ => {}
                }
            }
        }
    }

    /// Joins the monitor group, to see every flash.
    pub(crate) fn monitor(&mut self) -> Result<()> {
        let group = self
            .monitor_group
            .ok_or_else(|| anyhow!("the family has no monitor group"))?;
        self.socket
            .add_membership(group)
            .context("joining the monitor group (needs CAP_NET_ADMIN)")
    }

    /// Waits for the next notification.
    pub(crate) fn next(&mut self) -> Result<Notification> {
        loop {
            if let Event::Notification(n) = self.next_event()? {
                return Ok(n);
            }
        }
    }

    /// Waits for the next notification, or for the news that some were
    /// lost: the socket's buffer had no room for them (`ENOBUFS`).
    fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                if m.cmd == MSG_FLASH {
                    return Ok(Event::Notification(Notification::from_attrs(&m.attrs)));
                }
                continue;
            }
            let datagram = match self.recv() {
                Ok(d) => d,
                Err(e) if is_enobufs(&e) => return Ok(Event::Lost),
                Err(e) => return Err(e),
            };
            for raw in datagram {
                if let Ok(msg) = NetlinkMessage::<GenlMessage<FlashMessage>>::deserialize(&raw) {
                    if msg.header.message_type == self.family {
                        if let NetlinkPayload::InnerMessage(m) = msg.payload {
                            self.pending.push_back(m.payload);
                        }
                    }
                }
            }
        }
    }

    /// Hands the socket to a thread that reads it, so that the waits for
    /// what it receives can be bounded ([`Reader::next_within`]).
    pub(crate) fn into_reader(mut self) -> Reader {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let event = self.next_event();
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                return;
            }
        });
        Reader { rx }
    }
}

/// `ENOBUFS` (Linux): a netlink socket's receive buffer overflowed.
const ENOBUFS: i32 = 105;

fn is_enobufs(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
        == Some(ENOBUFS)
}

/// What a socket receives for a flash.
pub(crate) enum Event {
    /// A notification.
    Notification(Notification),
    /// Notifications were lost: the socket had no room for them.
    Lost,
}

/// The receiving end of a socket read by its own thread.
pub(crate) struct Reader {
    rx: mpsc::Receiver<Result<Event>>,
}

impl Reader {
    /// The next event within `limit`; `None` if nothing came in time.
    pub(crate) fn next_within(&self, limit: Duration) -> Result<Option<Event>> {
        match self.rx.recv_timeout(limit) {
            Ok(event) => event.map(Some),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the netlink reader ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(attrs: Vec<FlashAttr>) -> Vec<FlashAttr> {
        let m = FlashMessage {
            cmd: MSG_FLASH,
            attrs,
        };
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        FlashMessage::parse_with_param(
            &buf,
            GenlHeader {
                cmd: MSG_FLASH,
                version: 1,
            },
        )
        .unwrap()
        .attrs
    }

    #[test]
    fn request_attributes_round_trip() {
        let attrs = vec![
            FlashAttr::Header(vec![HeaderAttr::DevName("cmis0".into())]),
            FlashAttr::FileName("fw/v2.bin".into()),
            FlashAttr::Password(0x1234_5678),
            FlashAttr::Until(cmis_core::uapi::until::RUNNING),
            FlashAttr::Version("3.2.17".into()),
            FlashAttr::LinkUp,
            FlashAttr::Hitless,
        ];
        assert_eq!(roundtrip(attrs.clone()), attrs);
    }

    #[test]
    fn notifications_decode() {
        let n = Notification::from_attrs(&roundtrip(vec![
            FlashAttr::Header(vec![
                HeaderAttr::DevIndex(3),
                HeaderAttr::DevName("cmis1".into()),
            ]),
            FlashAttr::Status(4),
            FlashAttr::StatusMsg("Start failed".into()),
            FlashAttr::Done(10),
            FlashAttr::Total(20),
        ]));
        assert_eq!(
            n,
            Notification {
                dev: "cmis1".into(),
                ifindex: 3,
                status: Status::Error,
                message: Some("Start failed".into()),
                done: 10,
                total: 20,
                timeout_ms: None,
                version_before: None,
                version_after: None,
                outcome: None,
            }
        );
        assert!(n.status.is_terminal());
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r#"{"dev":"cmis1","ifindex":3,"status":"error","message":"Start failed","done":10,"total":20}"#
        );
    }

    #[test]
    fn a_phase_carries_its_timeout() {
        let n = Notification::from_attrs(&roundtrip(vec![
            FlashAttr::Status(2),
            FlashAttr::StatusMsg("Waiting for the module to restart".into()),
            FlashAttr::Timeout(60_150),
        ]));
        assert_eq!(n.timeout_ms, Some(60_150));
        let done = Notification::from_attrs(&roundtrip(vec![
            FlashAttr::Status(3),
            FlashAttr::VersionBefore("1.0".into()),
            FlashAttr::VersionAfter("2.1".into()),
        ]));
        assert_eq!(
            (
                done.version_before.as_deref(),
                done.version_after.as_deref()
            ),
            (Some("1.0"), Some("2.1"))
        );
        assert!(serde_json::to_string(&n)
            .unwrap()
            .contains(r#""timeout_ms":60150"#));
    }

    #[test]
    fn the_outcome_nest_decodes() {
        let n = Notification::from_attrs(&roundtrip(vec![
            FlashAttr::Status(4),
            FlashAttr::Outcome(vec![
                OutcomeAttr::Number(outcome::LEFT, left::RUN_SENT),
                OutcomeAttr::Number(outcome::ACTION, action::COMMIT_OR_RESET),
                OutcomeAttr::Version(outcome::ACTIVE_VERSION, "2.1".into()),
                OutcomeAttr::Version(outcome::INACTIVE_VERSION, "1.0".into()),
                OutcomeAttr::Number(outcome::RUNNING_BANK, 1),
                OutcomeAttr::Number(outcome::COMMITTED_BANK, 0),
                OutcomeAttr::Number(outcome::VALID_BANKS, 3),
                OutcomeAttr::Version(outcome::BANK_B_VERSION, "2.1.7".into()),
                OutcomeAttr::Number(outcome::CDB_STATUS, 1),
            ]),
        ]));
        assert_eq!(
            serde_json::to_string(&n.outcome).unwrap(),
            r#"{"left":"run-sent","action":"commit-or-reset","active_version":"2.1","inactive_version":"1.0","running_bank":"B","committed_bank":"A","valid_banks":["A","B"],"bank_b_version":"2.1.7","cdb_status":1}"#
        );
    }

    #[test]
    fn uint_is_four_or_eight_bytes() {
        assert_eq!(parse_uint(&7u32.to_ne_bytes()).unwrap(), 7);
        assert_eq!(parse_uint(&(1u64 << 40).to_ne_bytes()).unwrap(), 1 << 40);
        assert!(parse_uint(&[1, 2]).is_err());
    }

    #[test]
    fn extack_is_found_after_the_capped_header() {
        let mut rest = vec![0u8; NLMSG_HDRLEN];
        let m = HeaderAttr::Other(DefaultNla::new(
            NLMSGERR_ATTR_MSG,
            b"Netdevice is up\0".to_vec(),
        ));
        let mut tlv2 = vec![0; m.buffer_len()];
        m.emit(&mut tlv2);
        rest.extend_from_slice(&tlv2);
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS, &rest).as_deref(),
            Some("Netdevice is up")
        );
        assert_eq!(extack_message(0, &rest), None);
    }
}
