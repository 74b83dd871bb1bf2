// SPDX-License-Identifier: GPL-2.0

//! Which CDB commands a caller may send, by the scope it declares: fwctl's
//! rules (`Documentation/userspace-api/fwctl/fwctl.rst`) brought to CMIS.
//!
//! fwctl classifies a device's RPCs into four scopes, from least to most
//! powerful, and lets a request run a command only if it declared a scope
//! at least the command's: configuration, read-only debug, debug that
//! writes (taints the kernel), and anything (taints, and needs
//! `CAP_SYS_RAWIO`). The device decides the classification; for a CMIS
//! module that is this table, from the commands the spec defines. A
//! command the spec does not define here, and every vendor command
//! (8000h-FFFFh), whose effect nobody but its vendor knows, needs the
//! full scope.

use super::CommandId;
use core::fmt;

/// How much a command may change, least first (fwctl's
/// `enum fwctl_rpc_scope`, same order and numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Changes the module's configuration as the spec defines it
    /// (`FWCTL_RPC_CONFIGURATION`).
    Configuration = 0,
    /// Reads only: status, capabilities, firmware information,
    /// monitoring (`FWCTL_RPC_DEBUG_READ_ONLY`).
    DebugReadOnly = 1,
    /// Changes the module's behaviour until its next reset, in ways the
    /// spec defines (`FWCTL_RPC_DEBUG_WRITE`: taints the kernel).
    DebugWrite = 2,
    /// Anything: firmware changes, passwords, vendor commands
    /// (`FWCTL_RPC_DEBUG_WRITE_FULL`: taints, needs `CAP_SYS_RAWIO`).
    DebugWriteFull = 3,
}

impl Scope {
    /// From its number (fwctl's).
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Self::Configuration),
            1 => Some(Self::DebugReadOnly),
            2 => Some(Self::DebugWrite),
            3 => Some(Self::DebugWriteFull),
            _ => None,
        }
    }

    /// Whether running a command of this scope taints the kernel.
    pub const fn taints(self) -> bool {
        matches!(self, Self::DebugWrite | Self::DebugWriteFull)
    }

    /// Whether it needs `CAP_SYS_RAWIO` beside `CAP_NET_ADMIN`.
    pub const fn needs_rawio(self) -> bool {
        matches!(self, Self::DebugWriteFull)
    }

    /// Its name, as fwctl spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Configuration => "configuration",
            Self::DebugReadOnly => "debug-read-only",
            Self::DebugWrite => "debug-write",
            Self::DebugWriteFull => "debug-write-full",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A command the spec defines: its id, name and scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// Command id.
    pub id: u16,
    /// Its name in the spec.
    pub name: &'static str,
    /// The scope a request needs to send it.
    pub scope: Scope,
}

const fn known(id: u16, name: &'static str, scope: Scope) -> Known {
    Known { id, name, scope }
}

use Scope::{Configuration, DebugReadOnly, DebugWrite, DebugWriteFull};

/// The commands of CMIS 5.x's CDB chapter, in id order.
pub const COMMANDS: [Known; 35] = [
    known(0x0000, "Query Status", DebugReadOnly),
    // Unlocks what the password guards, until the module resets.
    known(0x0001, "Enter Password", DebugWrite),
    known(0x0002, "Change Password", DebugWriteFull),
    // Stops a background command, whoever sent it.
    known(0x0004, "Abort", DebugWrite),
    known(0x0040, "Module Features", DebugReadOnly),
    known(0x0041, "Firmware Management Features", DebugReadOnly),
    known(0x0042, "Performance Monitoring Features", DebugReadOnly),
    known(0x0043, "BERT and Diagnostics Features", DebugReadOnly),
    known(0x0044, "Security Features", DebugReadOnly),
    known(0x0045, "Externally Defined Features", DebugReadOnly),
    known(0x0050, "Get Application Attributes", DebugReadOnly),
    known(0x0051, "Get Interface Code Description", DebugReadOnly),
    known(0x0100, "Get Firmware Info", DebugReadOnly),
    known(0x0101, "Start Firmware Download", DebugWriteFull),
    known(0x0102, "Abort Firmware Download", DebugWriteFull),
    known(0x0103, "Write Firmware Block LPL", DebugWriteFull),
    known(0x0104, "Write Firmware Block EPL", DebugWriteFull),
    known(0x0105, "Read Firmware Block LPL", DebugReadOnly),
    known(0x0106, "Read Firmware Block EPL", DebugReadOnly),
    known(0x0107, "Complete Firmware Download", DebugWriteFull),
    known(0x0108, "Copy Firmware Image", DebugWriteFull),
    known(0x0109, "Run Firmware Image", DebugWriteFull),
    known(0x010A, "Commit Firmware Image", DebugWriteFull),
    // Starts, stops and configures the module's monitoring.
    known(0x0200, "Control PM", Configuration),
    known(0x0201, "Get PM Feature Information", DebugReadOnly),
    known(0x0210, "Get Module PM LPL", DebugReadOnly),
    known(0x0211, "Get Module PM EPL", DebugReadOnly),
    known(0x0212, "Get PM Host Side LPL", DebugReadOnly),
    known(0x0213, "Get PM Host Side EPL", DebugReadOnly),
    known(0x0214, "Get PM Media Side LPL", DebugReadOnly),
    known(0x0215, "Get PM Media Side EPL", DebugReadOnly),
    known(0x0216, "Get Data Path PM LPL", DebugReadOnly),
    known(0x0217, "Get Data Path PM EPL", DebugReadOnly),
    known(0x0400, "Get Device Certificate LPL", DebugReadOnly),
    known(0x0401, "Get Device Certificate EPL", DebugReadOnly),
];

/// The security commands that follow [`COMMANDS`]' certificates: a
/// digest set stays in the module until the signature is read.
pub const SIGNING: [Known; 4] = [
    known(0x0402, "Set Digest to Sign LPL", DebugWrite),
    known(0x0403, "Set Digest to Sign EPL", DebugWrite),
    known(0x0404, "Get Digest Signature LPL", DebugReadOnly),
    known(0x0405, "Get Digest Signature EPL", DebugReadOnly),
];

/// What the table says of command `id`: the spec's command, if it is one.
pub fn lookup(id: CommandId) -> Option<Known> {
    let id = id.0;
    COMMANDS
        .iter()
        .chain(SIGNING.iter())
        .find(|k| k.id == id)
        .copied()
}

/// The scope a request needs to send command `id`: the table's, or the
/// full one for a vendor command or one the table does not know.
pub fn required(id: CommandId) -> Scope {
    lookup(id).map_or(DebugWriteFull, |k| k.scope)
}

/// Whether a request that declared `declared` may send command `id`.
pub fn allows(declared: Scope, id: CommandId) -> bool {
    declared >= required(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        let all: std::vec::Vec<_> = COMMANDS.iter().chain(SIGNING.iter()).collect();
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn scopes_as_fwctl_orders_them() {
        let id = |i| CommandId(i);
        assert_eq!(required(id(0x0000)), Scope::DebugReadOnly);
        assert_eq!(required(id(0x0100)), Scope::DebugReadOnly);
        assert_eq!(required(id(0x0200)), Scope::Configuration);
        assert_eq!(required(id(0x0001)), Scope::DebugWrite);
        for full in [
            0x0002, 0x0101, 0x0109, 0x010A, 0x0003, 0x0300, 0x7fff, 0x8000, 0xffff,
        ] {
            assert_eq!(required(id(full)), Scope::DebugWriteFull, "{full:#06x}");
        }
        // A request may send what its scope covers, and nothing above.
        assert!(allows(Scope::DebugReadOnly, id(0x0040)));
        assert!(allows(Scope::DebugReadOnly, id(0x0200)));
        assert!(!allows(Scope::Configuration, id(0x0040)));
        assert!(!allows(Scope::DebugWrite, id(0x0101)));
        assert!(allows(Scope::DebugWriteFull, id(0x8001)));
        assert!(Scope::DebugWrite.taints() && !Scope::DebugWrite.needs_rawio());
        assert!(Scope::DebugWriteFull.taints() && Scope::DebugWriteFull.needs_rawio());
        assert!(!Scope::DebugReadOnly.taints() && !Scope::Configuration.taints());
        for code in 0..4 {
            assert_eq!(Scope::from_code(code).map(|s| s as u32), Some(code));
        }
        assert_eq!(Scope::from_code(4), None);
        // The netlink values are fwctl's, and these.
        use crate::uapi::scope as u;
        assert_eq!(
            Scope::from_code(u::CONFIGURATION),
            Some(Scope::Configuration)
        );
        assert_eq!(
            Scope::from_code(u::DEBUG_READ_ONLY),
            Some(Scope::DebugReadOnly)
        );
        assert_eq!(Scope::from_code(u::DEBUG_WRITE), Some(Scope::DebugWrite));
        assert_eq!(
            Scope::from_code(u::DEBUG_WRITE_FULL),
            Some(Scope::DebugWriteFull)
        );
    }
}
