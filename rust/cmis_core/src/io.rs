// SPDX-License-Identifier: GPL-2.0

//! The one boundary between the protocol code and the world.
//!
//! The CDB layer and the firmware update are written against
//! [`ModuleIo`]: the kernel's flash work item implements it over the
//! device driver's ethtool module EEPROM operations and hrtimer sleeps,
//! the host tests over the emulator's model and a virtual clock. Nothing
//! else reaches hardware, time or the requester.

use super::map::Access;
use core::fmt;

/// Time in nanoseconds, from any fixed origin.
pub type Nanos = u64;

/// Nanoseconds in a millisecond.
pub const NS_PER_MS: Nanos = 1_000_000;

/// A kernel error number (positive), shown by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Self = Self(1);
    /// No such device or address: nothing answers at the address.
    pub const ENXIO: Self = Self(6);
    /// I/O error: the module did not acknowledge (NACK).
    pub const EIO: Self = Self(5);
    /// Try again.
    pub const EAGAIN: Self = Self(11);
    /// Out of memory.
    pub const ENOMEM: Self = Self(12);
    /// Device or resource busy.
    pub const EBUSY: Self = Self(16);
    /// No such device: no module plugged in.
    pub const ENODEV: Self = Self(19);
    /// Invalid argument: the driver refused the access.
    pub const EINVAL: Self = Self(22);
    /// Operation not supported by the driver.
    pub const EOPNOTSUPP: Self = Self(95);
    /// Connection timed out (a driver's mailbox, say).
    pub const ETIMEDOUT: Self = Self(110);
    /// Remote I/O error (I2C: no acknowledge).
    pub const EREMOTEIO: Self = Self(121);
    /// Operation cancelled.
    pub const ECANCELED: Self = Self(125);

    const NAMES: [(Self, &'static str); 12] = [
        (Self::EPERM, "EPERM"),
        (Self::EIO, "EIO"),
        (Self::ENXIO, "ENXIO"),
        (Self::EAGAIN, "EAGAIN"),
        (Self::ENOMEM, "ENOMEM"),
        (Self::EBUSY, "EBUSY"),
        (Self::ENODEV, "ENODEV"),
        (Self::EINVAL, "EINVAL"),
        (Self::EOPNOTSUPP, "EOPNOTSUPP"),
        (Self::ETIMEDOUT, "ETIMEDOUT"),
        (Self::EREMOTEIO, "EREMOTEIO"),
        (Self::ECANCELED, "ECANCELED"),
    ];

    /// From a kernel return value (negative errno) or an errno.
    pub const fn from_kernel(rc: i32) -> Self {
        Self(rc.saturating_abs())
    }

    /// The symbolic name, if this is one of the errors an EEPROM access
    /// commonly returns.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(e, _)| *e == self)
            .map(|(_, n)| *n)
    }

    /// Whether the same access may succeed if repeated: the module did
    /// not acknowledge or the driver's path to it was busy. An invalid
    /// access, a missing module or a driver without the operation will
    /// not get better.
    pub fn is_transient(self) -> bool {
        !matches!(
            self,
            Self::EINVAL | Self::ENODEV | Self::EOPNOTSUPP | Self::EPERM | Self::ENOMEM
        )
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "error {}", self.0),
        }
    }
}

/// Why the requester wants the work to end early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// Stop politely: abort a download in progress, then end.
    Cancel,
    /// End at once, without touching the module again (its device is
    /// going away).
    Stop,
}

/// A progress report for the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The module takes CDB commands; the update begins.
    Started,
    /// `done` of `total` bytes of the image are in the module.
    Progress {
        /// Bytes the module has accepted.
        done: u64,
        /// Image size.
        total: u64,
    },
    /// Something optional did not work and the update goes on without it.
    Degraded(Degraded),
    /// What the update does after the download (devlink's status message
    /// and timeout).
    Phase(Phase),
}

/// A stage after the download, which shows no bytes moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Run (0109h) is sent; the module will restart into the image.
    Running,
    /// Waiting for the module to restart into the new image, for at most
    /// this many ms.
    Restarting(u32),
    /// Commit (010Ah) is sent.
    Committing,
    /// The driver resets the module, which boots its committed image;
    /// waiting for it, for at most this many ms.
    Resetting(u32),
}

impl Phase {
    /// How long the phase may take, in ms (`None`: one command's time).
    pub const fn timeout_ms(self) -> Option<u32> {
        match self {
            Self::Restarting(ms) | Self::Resetting(ms) => Some(ms),
            Self::Running | Self::Committing => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Running => f.write_str("Running the new image"),
            Self::Restarting(_) => f.write_str("Waiting for the module to restart"),
            Self::Committing => f.write_str("Committing the new image"),
            Self::Resetting(_) => f.write_str("Resetting the module to boot the committed image"),
        }
    }
}

/// An optional part of the update that was left out, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Degraded {
    /// Get Firmware Info (0100h) failed or is not supported: banks are
    /// checked by the version registers instead.
    NoFirmwareInfo,
    /// The driver does not reset modules: the update ends without its
    /// final reset (the commit is proven by Get Firmware Info instead).
    NoFinalReset,
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFirmwareInfo => f.write_str(
                "Get Firmware Info (0100h) unavailable; the new image is checked by its version",
            ),
            Self::NoFinalReset => f.write_str(
                "the driver does not reset the module; the new image runs and is committed \
                 (Get Firmware Info)",
            ),
        }
    }
}

/// What the driver did with a module reset request (`ETH_RESET_PHY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleReset {
    /// The driver reset the module, or began to.
    Done,
    /// The driver returned success but left the module alone: it did not
    /// clear `ETH_RESET_PHY` (bnxt does so in Linux 7.3).
    Ignored,
}

/// Poll intervals that start at `first` and double up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    next: Nanos,
    max: Nanos,
}

impl Backoff {
    /// Intervals from `first` doubling up to `max`.
    pub const fn new(first: Nanos, max: Nanos) -> Self {
        Self { next: first, max }
    }

    /// The interval to sleep now; the one after it is twice as long.
    pub fn next_interval(&mut self) -> Nanos {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }
}

/// What the protocol code needs from its environment.
///
/// Accesses are one request each to the module EEPROM driver operation
/// (the driver may split it into bus transactions). `access.len` is the
/// length of `buf` or `data`.
pub trait ModuleIo {
    /// The time now (monotonic).
    fn now(&self) -> Nanos;
    /// Reads `buf.len()` bytes at `access`.
    fn read(&mut self, access: Access, buf: &mut [u8]) -> Result<(), Errno>;
    /// Writes `data` at `access`.
    fn write(&mut self, access: Access, data: &[u8]) -> Result<(), Errno>;
    /// Sleeps about `ns` (it may return early when interrupted; callers
    /// look at [`ModuleIo::interrupted`] after sleeping).
    fn sleep(&mut self, ns: Nanos);
    /// Resets the module through the driver (`ETH_RESET_PHY`).
    fn reset_module(&mut self) -> Result<ModuleReset, Errno>;
    /// Passes a progress report on to the requester.
    fn notify(&mut self, notice: Notice);
    /// Whether the requester wants the work to end.
    fn interrupted(&self) -> Option<Interrupt>;
}
