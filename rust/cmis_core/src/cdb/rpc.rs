// SPDX-License-Identifier: GPL-2.0

//! One CDB command on a caller's behalf: the scoped RPC (fwctl's
//! `FWCTL_RPC` brought to CMIS, see [`super::scope`]), and what a caller
//! may ask of a module's CDB (`FWCTL_INFO`'s counterpart).
//!
//! The command goes through the same exchange as the flasher's
//! ([`super::exchange::execute`]): captured-status checks, bounded
//! retries, the module's access limits. The request is checked first
//! against its declared scope (before the module is touched), then
//! against what the module advertises (CDB present, its instances, its
//! EPL pages), and the chosen instance's status byte is read: the CDB
//! pages of a busy instance are never written.

use super::super::io::{Errno, Interrupt, ModuleIo, Nanos, NS_PER_MS};
use super::super::map::{lower, Access, PAGE_SIZE};
use super::advert::{epl_access_max, lpl_access_max, CdbAdvert, Identity, ModuleFeatures};
use super::exchange::{self, retry, AccessFailure, CdbError, Expect, Link, Request};
use super::scope::{self, Scope};
use super::{Command, CommandId, Failure, Status, LPL_MAX_LEN};
use core::fmt;

/// Timeout of a command when the caller gives none: the longest
/// MaxCompletionTime a module can advertise (0040h, 16 bits of ms).
pub const DEFAULT_TIMEOUT_MS: u32 = 65_535;
/// Longest timeout a caller may ask for.
pub const MAX_TIMEOUT_MS: u32 = 655_350;
/// Timeout of each of [`probe`]'s queries: they only read.
pub const PROBE_TIMEOUT_MS: u32 = 3_000;

/// A command a caller wants run.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The command id.
    pub id: CommandId,
    /// Its local payload (at most [`LPL_MAX_LEN`] bytes).
    pub lpl: &'a [u8],
    /// Its extended payload (at most what the module's EPL pages hold).
    pub epl: &'a [u8],
    /// The scope the caller declared.
    pub scope: Scope,
    /// The CDB instance asked for (1 or 2); `None`: the first not busy.
    pub instance: Option<u8>,
    /// Give up this long after the trigger, in ms; `None`:
    /// [`DEFAULT_TIMEOUT_MS`].
    pub timeout_ms: Option<u32>,
}

/// Why a call is not run: nothing was written to the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The command needs a wider scope than the one declared.
    AboveScope {
        /// The scope it needs.
        needs: Scope,
    },
    /// The local payload is longer than page 9Fh holds.
    LplTooLong,
    /// The timeout is 0 or above [`MAX_TIMEOUT_MS`].
    BadTimeout,
    /// Not a CMIS module (its SFF-8024 identifier).
    NotCmis(u8),
    /// A flat-memory module, or one older than CMIS 4: no CDB.
    NoCdb,
    /// The extended payload is longer than the module's EPL pages hold
    /// (0 where it has none).
    EplTooLong {
        /// The most it takes, in bytes.
        max: usize,
    },
    /// The module has no such CDB instance.
    NoSuchInstance {
        /// How many it has.
        instances: u8,
    },
    /// The instance asked for, or every instance, is busy with a command.
    Busy {
        /// The (first) busy instance, from 1.
        instance: u8,
        /// Its status byte.
        status: u8,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AboveScope { needs } => write!(f, "the command needs scope {needs}"),
            Self::LplTooLong => write!(f, "the local payload is longer than {LPL_MAX_LEN} bytes"),
            Self::BadTimeout => write!(f, "the timeout must be 1 to {MAX_TIMEOUT_MS} ms"),
            Self::NotCmis(id) => write!(f, "not a CMIS module (identifier {id:#04x})"),
            Self::NoCdb => f.write_str("the module has no CDB"),
            Self::EplTooLong { max: 0 } => f.write_str("the module has no EPL pages"),
            Self::EplTooLong { max } => {
                write!(f, "the module's EPL pages hold at most {max} bytes")
            }
            Self::NoSuchInstance { instances } => {
                write!(f, "the module has {instances} CDB instance(s)")
            }
            Self::Busy { instance, status } => {
                write!(f, "CDB instance {instance} is busy (status {status:#04x})")
            }
        }
    }
}

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcError {
    /// Not run (nothing written).
    Refused(Refusal),
    /// The module could not be read before the command.
    Access(Errno),
    /// The command did not run to a verified end: not taken, timed out,
    /// its reply bad, or stopped. (A command the module failed is not an
    /// error of the call: its [`Outcome`] says so.)
    Cdb(CdbError),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "{r}"),
            Self::Access(e) => write!(f, "reading the module failed ({e})"),
            Self::Cdb(e) => write!(f, "{e}"),
        }
    }
}

impl From<AccessFailure> for RpcError {
    fn from(e: AccessFailure) -> Self {
        match e {
            AccessFailure::Errno(e) => Self::Access(e),
            AccessFailure::Interrupted(i) => Self::Cdb(CdbError::Interrupted(i)),
        }
    }
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The instance it ran on, from 1.
    pub instance: u8,
    /// Its final CdbStatus byte: 01h, or a failure (40h-7Fh).
    pub status: u8,
    /// Length of its verified reply, in the caller's buffer.
    pub reply_len: usize,
    /// From the trigger to the poll that saw it done.
    pub elapsed: Nanos,
}

impl Outcome {
    /// Whether the module reports success.
    pub fn succeeded(&self) -> bool {
        self.status == super::STATUS_SUCCESS
    }

    /// What the status byte means.
    pub fn meaning(&self) -> &'static str {
        match Status::from_byte(self.status) {
            Status::Success => "success",
            Status::Failed(f) => f.message(),
            Status::Busy(_) | Status::Idle(_) => "unexpected status",
        }
    }
}

/// Checks what needs no module: the scope, the payload, the timeout.
pub fn check(call: &Call<'_>) -> Result<(), Refusal> {
    if !scope::allows(call.scope, call.id) {
        return Err(Refusal::AboveScope {
            needs: scope::required(call.id),
        });
    }
    if call.lpl.len() > LPL_MAX_LEN {
        return Err(Refusal::LplTooLong);
    }
    if call
        .timeout_ms
        .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
    {
        return Err(Refusal::BadTimeout);
    }
    Ok(())
}

/// What the module says of its CDB before any command: identity and
/// advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cdb {
    /// 00h:0-3.
    pub identity: Identity,
    /// 01h:163-167.
    pub advert: CdbAdvert,
}

impl Cdb {
    /// Reads them: fails with [`Refusal::NotCmis`] or [`Refusal::NoCdb`]
    /// for a module without a CDB.
    pub fn read(io: &mut impl ModuleIo) -> Result<Self, RpcError> {
        let mut b = [0u8; 4];
        let at = Access::new(0, lower::IDENTIFIER, 4);
        retry(io, |io| io.read(at, &mut b))?;
        let identity = Identity::decode(b);
        if !identity.is_cmis() {
            return Err(RpcError::Refused(Refusal::NotCmis(identity.identifier)));
        }
        if identity.flat_memory || identity.major() < 4 {
            return Err(RpcError::Refused(Refusal::NoCdb));
        }
        let mut a = [0u8; 5];
        let at = Access::new(1, 163, 5);
        retry(io, |io| io.read(at, &mut a))?;
        let advert = CdbAdvert::decode(a);
        if advert.instances == 0 {
            return Err(RpcError::Refused(Refusal::NoCdb));
        }
        Ok(Self { identity, advert })
    }

    /// Most extended payload a command may carry, in bytes.
    pub fn epl_max(&self) -> usize {
        self.advert.epl_pages * PAGE_SIZE
    }

    /// The link to instance `instance` (from 0). Firmware management
    /// commands (0100h-01FFh) have their own access limit, in 0041h's
    /// reply, not read here: they get the smallest access every module
    /// takes.
    fn link(&self, instance: u8, id: CommandId) -> Link {
        let ext = self.advert.rw_len_ext;
        let firmware = (0x0100..=0x01ff).contains(&id.0);
        Link {
            major: self.identity.major(),
            background: self.advert.background,
            lpl_access: lpl_access_max(ext),
            epl_access: if firmware {
                Link::MINIMAL.epl_access
            } else {
                epl_access_max(ext)
            },
            ..Link::MINIMAL
        }
        .on_instance(instance)
    }

    /// The instance to use (from 0): the one asked for (from 1) if it
    /// exists and is not busy, else the first one not busy.
    fn instance(&self, io: &mut impl ModuleIo, asked: Option<u8>) -> Result<u8, RpcError> {
        let instances = self.advert.instances.min(2);
        let candidates = match asked {
            Some(n) if (1..=instances).contains(&n) => (n - 1)..n,
            Some(_) => return Err(RpcError::Refused(Refusal::NoSuchInstance { instances })),
            None => 0..instances,
        };
        let mut first_busy = None;
        for i in candidates {
            let mut b = [0u8];
            let at = Access::new(0, lower::CDB_STATUS_1 + i, 1);
            retry(io, |io| io.read(at, &mut b))?;
            if !matches!(Status::from_byte(b[0]), Status::Busy(_)) {
                return Ok(i);
            }
            first_busy.get_or_insert(Refusal::Busy {
                instance: i + 1,
                status: b[0],
            });
        }
        // At least one candidate was read, and busy.
        Err(RpcError::Refused(first_busy.unwrap_or(Refusal::NoCdb)))
    }
}

/// Runs `call` on the module behind `io`; `reply` receives the reply
/// payload ([`Outcome::reply_len`] bytes, length and check code
/// verified).
pub fn run(
    io: &mut impl ModuleIo,
    call: &Call<'_>,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<Outcome, RpcError> {
    check(call).map_err(RpcError::Refused)?;
    let cdb = Cdb::read(io)?;
    run_on(io, &cdb, call, reply)
}

/// [`run`] on a module whose CDB was read, the call checked.
fn run_on(
    io: &mut impl ModuleIo,
    cdb: &Cdb,
    call: &Call<'_>,
    reply: &mut [u8; LPL_MAX_LEN],
) -> Result<Outcome, RpcError> {
    if call.epl.len() > cdb.epl_max() {
        return Err(RpcError::Refused(Refusal::EplTooLong {
            max: cdb.epl_max(),
        }));
    }
    let instance = cdb.instance(io, call.instance)?;
    let mut link = cdb.link(instance, call.id);
    let cmd = Command::new(call.id, call.lpl, call.epl.len())
        .map_err(|_| RpcError::Refused(Refusal::LplTooLong))?;
    let timeout_ms = call.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    let expect = if call.id == CommandId::RUN_FW_IMAGE {
        // No reply, and the module resets after its status: reading one
        // would meet the reset.
        Expect::Reset
    } else {
        Expect::Reply {
            min: 0,
            max: LPL_MAX_LEN as u8,
        }
    };
    let req = Request {
        cmd: &cmd,
        epl: call.epl,
        expect,
        timeout: Nanos::from(timeout_ms) * NS_PER_MS,
        first_wait: 0,
    };
    let started = io.now();
    let (status, reply_len, elapsed) = match exchange::execute(io, &mut link, &req, reply) {
        Ok(done) => (super::STATUS_SUCCESS, done.reply_len, done.elapsed),
        Err(CdbError::Failed(f)) => (f.status_byte(), 0, io.now().saturating_sub(started)),
        Err(e) => return Err(RpcError::Cdb(e)),
    };
    Ok(Outcome {
        instance: instance + 1,
        status,
        reply_len,
        elapsed,
    })
}

/// Feature queries, 0040h to 0045h: bit `n` of [`Probe::groups`] is
/// command 0040h + `n`.
pub const FEATURE_QUERIES: u16 = 6;

/// What a module's CDB supports, as its feature queries tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Identity and advertisement.
    pub cdb: Cdb,
    /// Module Features (0040h), if answered: the commands 0000h-00FFh it
    /// lists, its MaxCompletionTime.
    pub features: Option<ModuleFeatures>,
    /// The feature queries the module answered with success (bit `n`:
    /// 0040h + `n`): the command groups it implements (module,
    /// firmware management, performance monitoring, BERT and
    /// diagnostics, security, externally defined).
    pub groups: u8,
    /// The instance was busy (its status byte): nothing, or nothing
    /// more, was asked.
    pub busy: Option<u8>,
}

/// Reads the module's CDB advertisement and asks its feature queries on
/// instance 1 (each read-only), unless it is busy.
pub fn probe(io: &mut impl ModuleIo) -> Result<Probe, RpcError> {
    let cdb = Cdb::read(io)?;
    let mut probe = Probe {
        cdb,
        features: None,
        groups: 0,
        busy: None,
    };
    match cdb.instance(io, Some(1)) {
        Ok(_) => {}
        Err(RpcError::Refused(Refusal::Busy { status, .. })) => {
            probe.busy = Some(status);
            return Ok(probe);
        }
        Err(e) => return Err(e),
    }
    let mut reply = [0u8; LPL_MAX_LEN];
    for n in 0..FEATURE_QUERIES {
        let id = CommandId(CommandId::MODULE_FEATURES.0 + n);
        let call = Call {
            id,
            lpl: &[],
            epl: &[],
            scope: Scope::DebugReadOnly,
            instance: Some(1),
            timeout_ms: Some(PROBE_TIMEOUT_MS),
        };
        match run_on(io, &cdb, &call, &mut reply) {
            Ok(o) if o.succeeded() => {
                probe.groups |= 1 << n;
                if id == CommandId::MODULE_FEATURES
                    && o.reply_len >= usize::from(super::advert::MODULE_FEATURES_LEN)
                {
                    probe.features = Some(ModuleFeatures::decode(&reply[..o.reply_len]));
                }
            }
            // Not implemented (41h), or another failure: not supported.
            Ok(_) => {}
            Err(RpcError::Cdb(CdbError::Interrupted(i))) => {
                return Err(RpcError::Cdb(CdbError::Interrupted(i)))
            }
            // A query that went wrong (timed out, bad reply) says nothing
            // of its group.
            Err(RpcError::Cdb(_)) => {}
            // One that timed out left the instance busy: what was learnt
            // so far, and why the rest was not asked.
            Err(RpcError::Refused(Refusal::Busy { status, .. })) => {
                probe.busy = Some(status);
                return Ok(probe);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(probe)
}

/// The scopes a caller may use: every scope but the full one, which needs
/// `CAP_SYS_RAWIO` (`rawio`); bit `n` is scope `n`.
pub const fn scopes_for(rawio: bool) -> u32 {
    let mut bits = 0;
    let all = [
        Scope::Configuration,
        Scope::DebugReadOnly,
        Scope::DebugWrite,
        Scope::DebugWriteFull,
    ];
    let mut i = 0;
    while i < all.len() {
        if rawio || !all[i].needs_rawio() {
            bits |= 1 << all[i] as u32;
        }
        i += 1;
    }
    bits
}

/// The failure code of a refused or failed call, for callers that map it
/// to an errno.
pub fn errno(e: &RpcError) -> Errno {
    match e {
        RpcError::Refused(Refusal::AboveScope { .. }) => Errno::EPERM,
        RpcError::Refused(Refusal::Busy { .. }) => Errno::EBUSY,
        RpcError::Refused(Refusal::NotCmis(_) | Refusal::NoCdb) => Errno::EOPNOTSUPP,
        RpcError::Refused(_) => Errno::EINVAL,
        RpcError::Access(e) => *e,
        RpcError::Cdb(CdbError::Timeout { .. }) => Errno::ETIMEDOUT,
        RpcError::Cdb(CdbError::Busy(_)) => Errno::EBUSY,
        RpcError::Cdb(CdbError::Interrupted(Interrupt::Cancel)) => Errno::ECANCELED,
        RpcError::Cdb(CdbError::Interrupted(Interrupt::Stop)) => Errno::ENODEV,
        RpcError::Cdb(CdbError::Access { errno, .. }) => *errno,
        RpcError::Cdb(CdbError::NotCaptured(e)) => *e,
        RpcError::Cdb(CdbError::Failed(Failure(_)) | CdbError::Reply(_)) => Errno::EREMOTEIO,
    }
}

#[cfg(test)]
mod tests;
