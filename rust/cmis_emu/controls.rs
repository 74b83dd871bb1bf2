// SPDX-License-Identifier: GPL-2.0

//! The emulator's debugfs interface, `/sys/kernel/debug/cmis_emu/`:
//! port creation and removal, and per port (`port<N>/`) every setting of
//! the emulated module, its firmware images, fault injection, and
//! read-only views of its firmware banks, counters and command log.
//! Documented in `Documentation/emulator.rst`.

#![forbid(unsafe_code)]

use crate::cmis_core::emu::firmware::{BankId, ImageUpdate, Slot};
use crate::cmis_core::emu::{
    BootCdb, BusyWrites, Module, MsmState, RequestFault, TriggerNack, COUNTED_COMMANDS,
};
use crate::cmis_core::io::Errno;
use crate::cmis_core::text::{parse_bool, parse_u32, parse_uint};
use crate::debugfs::{Attribute, Dir, DirBuilder, Writer};
use crate::netdev::Parent;
use crate::port::{ModuleCell, Port};
use crate::time::now_ns;
use core::fmt::Write;
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Most ports one emulator instance creates.
const MAX_PORTS: usize = 1024;

/// The set of ports, behind the `new_port` and `del_port` files.
#[pin_data]
pub(crate) struct Ports {
    #[pin]
    inner: Mutex<PortsInner>,
    /// The ports' parent device; outlives them (they are removed first).
    parent: Parent,
}

struct PortsInner {
    /// Slots of removed ports are `None` and reused.
    ports: KVec<Option<Port>>,
    next_index: u32,
    /// Where port directories go; `None` once shut down.
    root: Option<Dir>,
}

impl Ports {
    /// An empty set of ports, children of `parent`, whose directories go
    /// under `root` (given later, once its own files exist: see
    /// [`Ports::attach`]).
    pub(crate) fn new(parent: Parent) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                parent,
                inner <- new_mutex!(
                    PortsInner {
                        ports: KVec::new(),
                        next_index: 0,
                        root: None,
                    },
                    "cmis_emu::Ports::inner"
                ),
            }),
            GFP_KERNEL,
        )
    }

    /// Starts creating ports, their directories under `root`.
    pub(crate) fn attach(&self, root: Dir) {
        self.inner.lock().root = Some(root);
    }

    /// Creates `count` ports; with `split`, ports split from one front
    /// panel port (its subports 0 to `count - 1`), the first one's index
    /// its number.
    pub(crate) fn add(&self, count: u32, split: bool) -> Result {
        let mut inner = self.inner.lock();
        let front_panel = inner.next_index;
        for subport in 0..count {
            let free = inner.ports.iter().position(|p| p.is_none());
            if free.is_none() && inner.ports.len() >= MAX_PORTS {
                return Err(ENOSPC);
            }
            let root = inner.root.as_ref().ok_or(ENODEV)?;
            let index = inner.next_index;
            let devlink_port = if split {
                Some(self.parent.split_port(index, front_panel, subport)?)
            } else {
                None
            };
            let port = Port::new(index, root, &self.parent, devlink_port)?;
            match free {
                Some(slot) => inner.ports[slot] = Some(port),
                None => inner.ports.push(Some(port), GFP_KERNEL)?,
            }
            inner.next_index += 1;
        }
        Ok(())
    }

    /// Removes the port numbered `index`.
    pub(crate) fn remove(&self, index: u32) -> Result {
        let port = Self::slot(&mut self.inner.lock(), index)?.take();
        // Unregistering may wait for users of the device: not under the
        // lock of the whole set.
        drop(port);
        Ok(())
    }

    /// Marks port number `index`'s device present or not.
    fn set_present(&self, index: u32, present: bool) -> Result {
        let mut inner = self.inner.lock();
        let port = Self::slot(&mut inner, index)?.as_ref().ok_or(ENOENT)?;
        port.set_present(present);
        Ok(())
    }

    /// The slot of port number `index`, which holds it.
    fn slot(inner: &mut PortsInner, index: u32) -> Result<&mut Option<Port>> {
        inner
            .ports
            .iter_mut()
            .find(|p| p.as_ref().is_some_and(|p| p.index() == index))
            .ok_or(ENOENT)
    }

    /// Removes every port and stops creating new ones.
    pub(crate) fn shutdown(&self) {
        let (ports, root) = {
            let mut inner = self.inner.lock();
            (core::mem::take(&mut inner.ports), inner.root.take())
        };
        // Ports (and their directories) go before the root directory.
        drop(ports);
        drop(root);
    }
}

/// Files of the emulator's root directory.
pub(crate) static ROOT_FILES: [Attribute<Ports>; 6] = [
    Attribute {
        name: c"new_port",
        show: |ports, w| {
            let inner = ports.inner.lock();
            writeln!(w, "{}", inner.ports.iter().flatten().count())
        },
        store: Some(|ports, s| {
            let count = if s.is_empty() {
                1
            } else {
                parse_u32(s).ok_or(EINVAL)?
            };
            ports.add(count, false)
        }),
    },
    // Ports split from one wider front panel port (devlink port
    // attributes; EOPNOTSUPP on kernels without devlink): writing N
    // creates N of them, reading lists the split ports.
    Attribute {
        name: c"new_split_ports",
        show: |ports, w| {
            let inner = ports.inner.lock();
            for p in inner.ports.iter().flatten().filter(|p| p.is_split()) {
                writeln!(w, "{}", p.index())?;
            }
            Ok(())
        },
        store: Some(|ports, s| match parse_u32(s) {
            Some(count @ 2..=8) => ports.add(count, true),
            _ => Err(EINVAL),
        }),
    },
    Attribute {
        name: c"del_port",
        show: |ports, w| {
            let inner = ports.inner.lock();
            for p in inner.ports.iter().flatten() {
                writeln!(w, "{}", p.index())?;
            }
            Ok(())
        },
        store: Some(|ports, s| ports.remove(parse_u32(s).ok_or(EINVAL)?)),
    },
    // A port's device detached by its driver (not present: the ethtool
    // core refuses requests to it), and attached again.
    Attribute {
        name: c"detach_port",
        show: |ports, w| {
            let inner = ports.inner.lock();
            for p in inner.ports.iter().flatten().filter(|p| !p.is_present()) {
                writeln!(w, "{}", p.index())?;
            }
            Ok(())
        },
        store: Some(|ports, s| ports.set_present(parse_u32(s).ok_or(EINVAL)?, false)),
    },
    Attribute {
        name: c"attach_port",
        show: |_, w| writeln!(w, "0"),
        store: Some(|ports, s| ports.set_present(parse_u32(s).ok_or(EINVAL)?, true)),
    },
    // The ports' parent device's runtime PM: who keeps it resumed.
    Attribute {
        name: c"parent_pm",
        show: |ports, w| match ports.parent.runtime_pm() {
            Some((usage, active)) => {
                let state = if active { "active" } else { "suspended" };
                writeln!(w, "usage={usage} {state}")
            }
            None => writeln!(w, "none"),
        },
        store: None,
    },
];

/// Changes the module's profile through `f`; the new profile must be
/// valid.
fn update_profile(
    cell: &ModuleCell,
    f: impl FnOnce(&mut crate::cmis_core::emu::Profile),
) -> Result {
    let mut m = cell.lock();
    let mut p = *m.profile();
    f(&mut p);
    m.set_profile(p).map_err(|e| {
        pr_warn!("rejected setting: {}\n", e);
        EINVAL
    })
}

/// A numeric setting, shown with `$fmt` (decimal or hexadecimal), read in
/// either.
macro_rules! profile_num {
    ($name:literal, $fmt:literal, $ty:ty, $($field:tt)+) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| writeln!(w, $fmt, cell.lock().profile().$($field)+),
            store: Some(|cell, s| {
                let v: $ty = parse_uint(s).ok_or(EINVAL)?;
                update_profile(cell, |p| p.$($field)+ = v)
            }),
        }
    };
}

macro_rules! profile_uint {
    ($name:literal, $ty:ty, $($field:tt)+) => {
        profile_num!($name, "{}", $ty, $($field)+)
    };
}

macro_rules! profile_hex {
    ($name:literal, $ty:ty, $($field:tt)+) => {
        profile_num!($name, "{:#04x}", $ty, $($field)+)
    };
}

macro_rules! profile_bool {
    ($name:literal, $($field:tt)+) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| writeln!(w, "{}", u8::from(cell.lock().profile().$($field)+)),
            store: Some(|cell, s| {
                let v = parse_bool(s).ok_or(EINVAL)?;
                update_profile(cell, |p| p.$($field)+ = v)
            }),
        }
    };
}

macro_rules! fault_uint {
    ($name:literal, $ty:ty, $field:ident) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| writeln!(w, "{}", cell.lock().faults.$field),
            store: Some(|cell, s| {
                cell.lock().faults.$field = parse_uint::<$ty>(s).ok_or(EINVAL)?;
                Ok(())
            }),
        }
    };
}

macro_rules! fault_bool {
    ($name:literal, $field:ident) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| writeln!(w, "{}", u8::from(cell.lock().faults.$field)),
            store: Some(|cell, s| {
                cell.lock().faults.$field = parse_bool(s).ok_or(EINVAL)?;
                Ok(())
            }),
        }
    };
}

/// A one-byte fault shown in hexadecimal (0: off).
macro_rules! profile_hex_fault {
    ($name:literal, $field:ident) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| writeln!(w, "{:#04x}", cell.lock().faults.$field),
            store: Some(|cell, s| {
                cell.lock().faults.$field = parse_uint::<u8>(s).ok_or(EINVAL)?;
                Ok(())
            }),
        }
    };
}

/// Shows a fault's command filter: an id, or "any".
fn show_command_filter(filter: Option<u16>, w: &mut Writer) -> core::fmt::Result {
    match filter {
        Some(id) => writeln!(w, "{id:#06x}"),
        None => writeln!(w, "any"),
    }
}

/// Parses a command filter: an id, or "any" (or nothing).
fn parse_command_filter(s: &str) -> Result<Option<u16>> {
    match s {
        "" | "any" => Ok(None),
        s => Ok(Some(parse_uint::<u16>(s).ok_or(EINVAL)?)),
    }
}

fn show_state(m: &mut Module, w: &mut Writer) -> core::fmt::Result {
    let now = now_ns();
    let state = if !m.is_plugged() {
        "unplugged"
    } else {
        match m.msm_state(now) {
            Some(MsmState::Ready) => "ready",
            Some(MsmState::LowPwr) => "lowpwr",
            Some(MsmState::PwrUp) => "pwrup",
            Some(MsmState::MgmtInit) => "mgmtinit",
            Some(MsmState::Fault) => "fault",
            None => "resetting",
        }
    };
    writeln!(
        w,
        "{state}{}{}{}",
        if m.busy() { " busy" } else { "" },
        if m.is_plugged() && m.booting(now) {
            " booting"
        } else {
            ""
        },
        if m.reset_pending() {
            " reset-pending"
        } else {
            ""
        }
    )
}

/// A setting whose values are names (an enum of the model), read and
/// written by name; `$table` pairs each value with its name.
macro_rules! profile_named {
    ($name:literal, $table:expr, $($field:tt)+) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| {
                let v = cell.lock().profile().$($field)+;
                let name = $table.iter().find(|(x, _)| *x == v).map_or("?", |(_, n)| *n);
                writeln!(w, "{name}")
            },
            store: Some(|cell, s| {
                let (v, _) = $table.iter().find(|(_, n)| *n == s).ok_or(EINVAL)?;
                update_profile(cell, |p| p.$($field)+ = *v)
            }),
        }
    };
}

const BUSY_WRITES: [(BusyWrites, &str); 2] = [
    (BusyWrites::Stored, "stored"),
    (BusyWrites::Refused, "refused"),
];
const TRIGGER_NACK: [(TriggerNack, &str); 3] = [
    (TriggerNack::Off, "off"),
    (TriggerNack::Dropped, "dropped"),
    (TriggerNack::Captured, "captured"),
];
const BOOT_CDB: [(BootCdb, &str); 4] = [
    (BootCdb::Full, "full"),
    (BootCdb::NoFirmwareInfo, "no_firmware_info"),
    (BootCdb::NoFeatures, "no_features"),
    (BootCdb::NoCdb, "no_cdb"),
];

fn show_banks(m: &Module, w: &mut Writer) -> core::fmt::Result {
    let fw = m.firmware();
    for id in [BankId::A, BankId::B] {
        let b = fw.bank(id);
        write!(w, "{}:", id.name())?;
        if b.valid {
            write!(
                w,
                " valid version={} text=\"{}\" size={} crc={:08x}",
                b.version,
                b.version.text(),
                b.size,
                b.crc
            )?;
        } else {
            write!(w, " invalid")?;
        }
        if fw.running == id {
            write!(w, " running")?;
        }
        if fw.committed == id {
            write!(w, " committed")?;
        }
        writeln!(w)?;
    }
    if fw.factory.valid {
        let v = &fw.factory.version;
        writeln!(w, "factory: valid version={v} text=\"{}\"", v.text())?;
    } else {
        writeln!(w, "factory: invalid")?;
    }
    match &fw.download {
        Some(d) => writeln!(
            w,
            "download: bank={} received={} expected={} version={}",
            d.target.name(),
            d.received,
            d.expected,
            d.header.version
        ),
        None => writeln!(w, "download: none"),
    }
}

fn show_counters(m: &Module, w: &mut Writer) -> core::fmt::Result {
    let c = m.counters();
    writeln!(w, "reads: {}", c.reads)?;
    writeln!(w, "writes: {}", c.writes)?;
    writeln!(w, "bytes_read: {}", c.bytes_read)?;
    writeln!(w, "bytes_written: {}", c.bytes_written)?;
    writeln!(w, "errors: {}", c.errors)?;
    writeln!(w, "commands: {}", c.commands)?;
    writeln!(w, "commands_ok: {}", c.commands_ok)?;
    writeln!(w, "commands_failed: {}", c.commands_failed)?;
    writeln!(w, "busy_ns: {}", c.busy_ns)?;
    writeln!(w, "bus_ns: {}", c.bus_ns)?;
    writeln!(w, "resets: {}", c.resets)?;
    writeln!(w, "requests: {}", c.requests)?;
    writeln!(w, "request_ns: {}", c.request_ns)?;
    writeln!(w, "writes_while_busy: {}", c.writes_while_busy)?;
    writeln!(w, "nacks: {}", c.nacks)?;
    writeln!(w, "driver_ns: {}", c.driver_ns)?;
    writeln!(w, "ethtool_begins: {}", c.ethtool_begins)?;
    writeln!(w, "ethtool_completes: {}", c.ethtool_completes)?;
    writeln!(w, "wait_after_command_ns: {}", c.wait_after_command_ns)?;
    writeln!(w, "wait_after_reset_ns: {}", c.wait_after_reset_ns)?;
    writeln!(
        w,
        "wait_between_accesses_ns: {}",
        c.wait_between_accesses_ns
    )?;
    for (i, &n) in c.by_command.iter().enumerate().filter(|(_, &n)| n > 0) {
        match COUNTED_COMMANDS.get(i) {
            Some(id) => writeln!(w, "command_{id:04x}: {n}")?,
            None => writeln!(w, "command_other: {n}")?,
        }
    }
    for (i, &n) in c.by_status.iter().enumerate().filter(|(_, &n)| n > 0) {
        let status = if i == 0 { 0x01 } else { 0x40 + i - 1 };
        writeln!(w, "status_{status:02x}: {n}")?;
    }
    Ok(())
}

fn show_log(m: &Module, w: &mut Writer) -> core::fmt::Result {
    writeln!(w, "time_ns cmd status lpl epl busy_ns")?;
    for e in m.log() {
        writeln!(
            w,
            "{} {:04x} {:02x} {} {} {}",
            e.triggered, e.id, e.status, e.lpl_len, e.epl_len, e.busy_ns
        )?;
    }
    Ok(())
}

/// Shows one firmware image as the `key=value` line its file takes.
fn show_image(m: &Module, slot: Slot, w: &mut Writer) -> core::fmt::Result {
    let fw = m.firmware();
    let image = fw.image(slot);
    write!(
        w,
        "valid={} version={} text=\"{}\"",
        u8::from(image.valid),
        image.version,
        image.version.text()
    )?;
    if let Slot::Bank(id) = slot {
        write!(
            w,
            " committed={} running={}",
            u8::from(fw.committed == id),
            u8::from(fw.running == id)
        )?;
    }
    writeln!(w)
}

/// Sets up one firmware image from a `key=value` line; the model checks
/// it keeps a valid running and committed bank.
fn store_image(cell: &ModuleCell, slot: Slot, s: &str) -> Result {
    let rejected = |e| {
        pr_warn!("rejected image setting: {}\n", e);
        EINVAL
    };
    let update = ImageUpdate::parse(s).map_err(rejected)?;
    cell.lock().update_image(slot, &update).map_err(rejected)
}

macro_rules! image_file {
    ($name:literal, $slot:expr) => {
        Attribute {
            name: c_str!($name),
            show: |cell, w| show_image(&cell.lock(), $slot, w),
            store: Some(|cell, s| store_image(cell, $slot, s)),
        }
    };
}

/// Files of each `port<N>` directory.
pub(crate) static PORT_FILES: [Attribute<ModuleCell>; 84] = [
    // A whole named profile (`Profile::NAMES`).
    Attribute {
        name: c"profile",
        show: |cell, w| writeln!(w, "{}", cell.lock().profile_name()),
        store: Some(|cell, s| {
            cell.lock().set_named_profile(s).map_err(|e| {
                pr_warn!("rejected profile: {}\n", e);
                EINVAL
            })
        }),
    },
    // Identity and CDB advertisement.
    profile_hex!("identifier", u8, identifier),
    profile_hex!("revision", u8, revision),
    profile_uint!("cdb_instances", u8, cdb_instances),
    profile_bool!("background_mode", background),
    profile_bool!("auto_paging", auto_paging),
    profile_uint!("epl_pages_code", u8, epl_pages_code),
    profile_uint!("rw_len_ext", u8, rw_len_ext),
    profile_hex!("write_mechanism", u8, write_mechanism),
    profile_uint!("start_payload_size", u8, start_payload_size),
    profile_hex!("erased_byte", u8, erased_byte),
    profile_bool!("skip_erased", skip_erased),
    profile_bool!("abort_supported", abort_supported),
    profile_bool!("durations_10x", durations_10x),
    profile_bool!("hitless_restart", hitless_restart),
    profile_uint!("max_duration_start", u16, max_durations[0]),
    profile_uint!("max_duration_abort", u16, max_durations[1]),
    profile_uint!("max_duration_write", u16, max_durations[2]),
    profile_uint!("max_duration_complete", u16, max_durations[3]),
    profile_uint!("max_duration_copy", u16, max_durations[4]),
    profile_uint!("max_completion_ms", u16, max_completion_ms),
    profile_uint!("max_busy_field", u8, max_busy_field),
    // Timing model.
    profile_uint!("busy_us_start", u32, busy_us.start),
    profile_uint!("busy_us_write", u32, busy_us.write),
    profile_uint!("busy_us_complete", u32, busy_us.complete),
    profile_uint!("busy_us_abort", u32, busy_us.abort),
    profile_uint!("busy_us_run", u32, busy_us.run),
    profile_uint!("busy_us_commit", u32, busy_us.commit),
    profile_uint!("busy_us_other", u32, busy_us.other),
    profile_uint!("reset_ms", u32, reset_ms),
    profile_uint!("ready_ms", u32, ready_ms),
    profile_uint!("bus_hz", u32, bus_hz),
    profile_uint!("bank_capacity", u32, bank_capacity),
    // Quirks: legal behaviour that hosts find inconvenient.
    profile_named!("quirk_busy_writes", BUSY_WRITES, quirks.busy_writes),
    profile_uint!("quirk_status_lag_us", u32, quirks.status_lag_us),
    profile_uint!("quirk_report_delay_us", u32, quirks.report_delay_us),
    profile_uint!("quirk_flag_delay_us", u32, quirks.flag_delay_us),
    profile_uint!("quirk_reset_extra_ms", u32, quirks.reset_extra_ms),
    profile_bool!("quirk_ready_until_reset", quirks.ready_until_reset),
    profile_uint!("quirk_nack_first_us", u32, quirks.nack_first_us),
    profile_uint!("quirk_nack_busy_permille", u16, quirks.nack_busy_permille),
    profile_named!("quirk_trigger_nack", TRIGGER_NACK, quirks.trigger_nack),
    profile_uint!(
        "quirk_trigger_nack_permille",
        u16,
        quirks.trigger_nack_permille
    ),
    profile_uint!("quirk_reply_nack_reads", u8, quirks.reply_nack_reads),
    profile_uint!("quirk_reply_nack_permille", u16, quirks.reply_nack_permille),
    profile_uint!("quirk_nack_after_reset_ms", u32, quirks.nack_after_reset_ms),
    profile_bool!("quirk_state_changed_flag", quirks.state_changed_flag),
    profile_uint!("quirk_mgmt_init_ms", u32, quirks.mgmt_init_ms),
    profile_uint!("quirk_pwr_up_ms", u32, quirks.pwr_up_ms),
    profile_uint!("quirk_boot_ms", u32, quirks.boot_ms),
    profile_named!("quirk_boot_cdb", BOOT_CDB, quirks.boot_cdb),
    profile_uint!("quirk_chk_glitch_reads", u8, quirks.chk_glitch_reads),
    profile_bool!("quirk_single_bank", quirks.single_bank),
    profile_hex!("quirk_seed", u32, quirks.seed),
    // The host driver's cost model.
    profile_uint!("driver_max_transfer", u16, driver.max_transfer),
    profile_uint!("driver_transfer_us", u32, driver.transfer_us),
    profile_bool!("driver_ignores_reset", driver.ignores_reset),
    profile_uint!("driver_begin_ms", u32, driver.begin_ms),
    // Password.
    profile_bool!("password_required", password_required),
    profile_hex!("password", u32, password),
    // Fault injection.
    fault_uint!("fail_count", u32, fail_count),
    Attribute {
        name: c"fail_command",
        show: |cell, w| show_command_filter(cell.lock().faults.fail_command, w),
        store: Some(|cell, s| {
            cell.lock().faults.fail_command = parse_command_filter(s)?;
            Ok(())
        }),
    },
    Attribute {
        name: c"fail_code",
        show: |cell, w| writeln!(w, "{:#04x}", 0x40 | cell.lock().faults.fail_code),
        store: Some(|cell, s| {
            // The CdbStatus byte (40h-7Fh) or its result code (00h-3Fh).
            let v: u8 = parse_uint(s).ok_or(EINVAL)?;
            if v >= 0x80 {
                return Err(EINVAL);
            }
            cell.lock().faults.fail_code = v & 0x3f;
            Ok(())
        }),
    },
    Attribute {
        name: c"nack_ms",
        show: |cell, w| {
            let left = cell.lock().faults.nack_until.saturating_sub(now_ns());
            writeln!(w, "{}", left / 1_000_000)
        },
        store: Some(|cell, s| {
            let ms = parse_u32(s).ok_or(EINVAL)?;
            cell.lock().faults.nack_until = now_ns() + u64::from(ms) * 1_000_000;
            Ok(())
        }),
    },
    fault_bool!("hang_next", hang_next),
    Attribute {
        name: c"hang_command",
        show: |cell, w| show_command_filter(cell.lock().faults.hang_command, w),
        store: Some(|cell, s| {
            cell.lock().faults.hang_command = parse_command_filter(s)?;
            Ok(())
        }),
    },
    fault_uint!("corrupt_reply_len", u32, corrupt_reply_len),
    fault_uint!("corrupt_reply_chk", u32, corrupt_reply_chk),
    fault_uint!("slow_ready_ms", u32, slow_ready_ms),
    fault_bool!("power_loss_on_write", power_loss_on_write),
    profile_hex_fault!("fault_on_reset", fault_on_reset),
    fault_uint!("trigger_nacks", u32, trigger_nacks),
    fault_uint!("glitch_reply_chk", u32, glitch_reply_chk),
    fault_bool!("ethtool_begin_fails", ethtool_begin_fails),
    fault_uint!("fail_request", u32, fail_request),
    // How the picked request fails: the errno 5 (EIO), 19 (ENODEV) or
    // 110 (ETIMEDOUT), or "short" (a read returns half its bytes).
    Attribute {
        name: c"fail_request_errno",
        show: |cell, w| match cell.lock().faults.fail_request_error.bus_error() {
            Some(e) => writeln!(w, "{}", e.errno().0),
            None => writeln!(w, "short"),
        },
        store: Some(|cell, s| {
            let kind = if s.trim() == "short" {
                Some(RequestFault::ShortRead)
            } else {
                let errno = parse_u32(s).and_then(|n| i32::try_from(n).ok());
                errno.and_then(|n| RequestFault::from_errno(Errno(n)))
            };
            cell.lock().faults.fail_request_error = kind.ok_or(EINVAL)?;
            Ok(())
        }),
    },
    Attribute {
        name: c"plugged",
        show: |cell, w| writeln!(w, "{}", u8::from(cell.lock().is_plugged())),
        store: Some(|cell, s| {
            let mut m = cell.lock();
            if parse_bool(s).ok_or(EINVAL)? {
                m.plug(now_ns());
            } else {
                m.unplug();
            }
            Ok(())
        }),
    },
    // Firmware images.
    image_file!("bank_a", Slot::Bank(BankId::A)),
    image_file!("bank_b", Slot::Bank(BankId::B)),
    image_file!("factory", Slot::Factory),
    // Views.
    Attribute {
        name: c"state",
        show: |cell, w| show_state(&mut cell.lock(), w),
        store: None,
    },
    Attribute {
        name: c"banks",
        show: |cell, w| show_banks(&cell.lock(), w),
        store: None,
    },
    // The setting vendor command 8001h changes (volatile).
    Attribute {
        name: c"vendor_setting",
        show: |cell, w| writeln!(w, "{:#04x}", cell.lock().vendor_setting()),
        store: None,
    },
    Attribute {
        name: c"counters",
        show: |cell, w| show_counters(&cell.lock(), w),
        store: Some(|cell, s| {
            if parse_u32(s) != Some(0) {
                return Err(EINVAL);
            }
            cell.lock().clear_counters();
            Ok(())
        }),
    },
];

/// The command log, apart: it is long.
pub(crate) static LOG_FILE: Attribute<ModuleCell> = Attribute {
    name: c"log",
    show: |cell, w| show_log(&cell.lock(), w),
    store: None,
};

/// Hard reset of the module into its committed image, as the host
/// driver's ethtool reset does.
pub(crate) static RESET_FILE: Attribute<ModuleCell> = Attribute {
    name: c"reset",
    show: |_, w| writeln!(w, "0"),
    store: Some(|cell, s| {
        if !parse_bool(s).ok_or(EINVAL)? {
            return Ok(());
        }
        cell.lock().hard_reset(now_ns());
        Ok(())
    }),
};

/// Adds every per-port file to `dir`.
pub(crate) fn add_port_files(dir: &mut DirBuilder, cell: &Arc<ModuleCell>) -> Result {
    for attr in PORT_FILES.iter() {
        dir.file(cell, attr)?;
    }
    dir.file(cell, &LOG_FILE)?;
    dir.file(cell, &RESET_FILE)
}
