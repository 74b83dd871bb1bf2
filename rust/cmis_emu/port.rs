// SPDX-License-Identifier: GPL-2.0

//! A simulated port: a network device whose ethtool operations reach the
//! emulated CMIS module plugged into it.

#![forbid(unsafe_code)]

use crate::cmis_core::emu::{BusError, Module, Profile, RequestFault};
use crate::cmis_core::image::Version;
use crate::cmis_core::map::{identifier, Access, AccessError};
use crate::controls::add_port_files;
use crate::debugfs::Dir;
use crate::emu_model::new_module;
use crate::netdev::{
    DrvInfo, ErrorReport, ModuleInfo, ModulePage, Operations, Parent, Registration, SplitPort,
};
use crate::time::{now_ns, sleep_ns};
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
};

/// Driver name reported by `ethtool -i`.
const DRIVER_NAME: &str = "cmis_emu";

/// `ETH_RESET_PHY` (include/uapi/linux/ethtool.h): the transceiver.
const ETH_RESET_PHY: u32 = 1 << 6;
/// `ETH_MODULE_SFF_8636`: the legacy EEPROM layout closest to CMIS
/// (lower memory and page 00h), as mlxsw reports for QSFP-DD.
const ETH_MODULE_SFF_8636: u32 = 0x3;
/// Size of that legacy view.
const LEGACY_EEPROM_LEN: u32 = 256;

/// Most emulation overhead carried over to later accesses (see
/// [`PortData::access`]): the emulated bus is never more than this ahead
/// of its model, and the overhead of an instant module (no bus time to
/// take it from) is not paid by a later profile's accesses.
const OVERHEAD_CARRY_MAX_NS: u64 = 5_000_000;

/// Version of the image every emulated module starts with.
const INITIAL_VERSION: Version = Version::new(1, 0, 0);

/// The emulated module of a port; the lock is the management bus: one
/// access at a time.
pub(crate) type ModuleCell = Mutex<KBox<Module>>;

/// State of one port, shared with its ethtool callbacks.
pub(crate) struct PortData {
    index: u32,
    module: Arc<ModuleCell>,
    /// Time the access path has taken beyond the bus time of the model,
    /// not yet taken back from a sleep; changed under the module's lock.
    overhead_ns: AtomicU64,
}

impl PortData {
    fn new(index: u32) -> Result<Self> {
        let module = new_module(Profile::DEFAULT, INITIAL_VERSION, now_ns())?;
        Ok(Self {
            index,
            module: Arc::pin_init(new_mutex!(module, "cmis_emu::PortData::module"), GFP_KERNEL)?,
            overhead_ns: AtomicU64::new(0),
        })
    }

    /// Runs a read or write request of `at.len` bytes against the module,
    /// as a host driver does: split into the transactions the module
    /// accepts ([`Module::transactions`]: the length extension of the CDB
    /// pages, auto paging across EPL pages), with the bus (the lock) held
    /// throughout and its time spent. `f` performs one transaction on
    /// `range` of the caller's buffer.
    ///
    /// With `since` (when the handler was entered), the request and the
    /// time from `since` to its end are counted in the module's
    /// `requests` and `request_ns` counters, under the lock already held.
    /// Returns the bytes done: all, but for a `read` that fault injection
    /// cut short.
    ///
    /// A request takes, from the handler's entry, the bus time its
    /// transactions take in the model. What the emulation itself costs
    /// beyond that (the handler's CPU time and the timer's lateness,
    /// large under TCG) is taken back from the sleeps of this and later
    /// requests, up to [`OVERHEAD_CARRY_MAX_NS`]: so the emulated bus
    /// keeps its model's speed on average, and a host's accesses cost
    /// what they would on the modelled bus, not what the emulation costs.
    /// The host's own overhead, before the handler, is not touched.
    fn access(
        &self,
        at: &Access,
        since: Option<u64>,
        read: bool,
        mut f: impl FnMut(&mut Module, u64, &Access, Range<usize>) -> Result<u64, BusError>,
    ) -> Result<usize> {
        let entry = since.unwrap_or_else(now_ns);
        let mut module = self.module.lock();
        // A host request picked by fault injection fails whole, as a
        // driver's would, before any transaction; or, a read, stops
        // short: only its first bytes are read from the module.
        let fault = since.and_then(|_| module.take_request_fault());
        if let Some(e) = fault.and_then(RequestFault::bus_error) {
            module.count_request(now_ns().saturating_sub(entry));
            return Err(bus_errno(e));
        }
        let done = match fault {
            Some(RequestFault::ShortRead) if read => RequestFault::short_read_len(at.len),
            _ => at.len,
        };
        let at = &Access { len: done, ..*at };
        let bus_ns = if done == 0 {
            Ok(0)
        } else {
            transfer(&mut module, at, &mut f)
        };
        if let Ok(bus_ns) = bus_ns {
            self.take_bus_time(entry, bus_ns);
        }
        if let Some(t0) = since {
            module.count_request(now_ns().saturating_sub(t0));
        }
        bus_ns.map(|_| done)
    }

    /// Sleeps until `bus_ns` after `entry`, less the overhead carried
    /// over; then carries over what this request took beyond `bus_ns`.
    /// Called with the module's lock (the bus) held.
    fn take_bus_time(&self, entry: u64, bus_ns: u64) {
        if bus_ns == 0 {
            return;
        }
        let carried = self.overhead_ns.load(Ordering::Relaxed);
        let spent = now_ns().saturating_sub(entry);
        // The bus time as the timing model says, give or take a
        // microsecond.
        sleep_ns(bus_ns.saturating_sub(spent + carried), 0);
        let spent = now_ns().saturating_sub(entry);
        let over = (carried + spent).saturating_sub(bus_ns);
        self.overhead_ns
            .store(over.min(OVERHEAD_CARRY_MAX_NS), Ordering::Relaxed);
    }
}

/// The transactions of one request; the bus time they take in the model.
fn transfer(
    module: &mut Module,
    at: &Access,
    f: &mut impl FnMut(&mut Module, u64, &Access, Range<usize>) -> Result<u64, BusError>,
) -> Result<u64> {
    let mut bus_ns = 0;
    for (chunk, range) in module.transactions(at).map_err(bus_errno)? {
        bus_ns += f(module, now_ns(), &chunk, range).map_err(bus_errno)?;
    }
    Ok(bus_ns)
}

/// The errno a host driver would see for a refused access.
fn bus_errno(e: BusError) -> Error {
    match e {
        BusError::Invalid(_) | BusError::UnsupportedPage => EINVAL,
        BusError::Nack => EIO,
        BusError::Unplugged => ENODEV,
        BusError::Timeout => ETIMEDOUT,
    }
}

/// Says why an access failed where a driver can tell (as drivers do for
/// an empty cage).
fn explain<T>(r: Result<T>, report: &mut ErrorReport<'_>) -> Result<T> {
    match r {
        Err(e) if e == ENODEV => report.set_message(c"cmis_emu: no module in the cage"),
        Err(e) if e == ETIMEDOUT => {
            report.set_message(c"cmis_emu: the module did not answer in time")
        }
        _ => {}
    }
    r
}

fn access_of(page: &ModulePage, len: usize) -> Result<Access> {
    Ok(Access {
        i2c_address: page.i2c_address,
        bank: page.bank,
        page: page.page,
        offset: u8::try_from(page.offset)
            .map_err(|_| bus_errno(BusError::Invalid(AccessError::OutOfBounds)))?,
        len,
    })
}

#[vtable]
impl Operations for PortData {
    fn get_drvinfo(data: &Self, info: &mut DrvInfo) {
        info.set_driver(DRIVER_NAME);
        info.set_bus_info(format_args!("{DRIVER_NAME}.{}", data.index));
        let v = data.module.lock().firmware().active_version();
        info.set_fw_version(format_args!("{v}"));
    }

    // The module EEPROM handlers time themselves from entry (see
    // `PortData::access`): the cost of the access path, documented in
    // Documentation/emulator.rst.
    fn read_module_page(
        data: &Self,
        page: &ModulePage,
        buf: &mut [u8],
        report: &mut ErrorReport<'_>,
    ) -> Result<usize> {
        let since = now_ns();
        let access = access_of(page, buf.len())?;
        let r = data.access(&access, Some(since), true, |m, now, a, r| {
            m.read(now, a, &mut buf[r])
        });
        let done = explain(r, report)?;
        // Cut short: what follows was not read, and is changed so that a
        // host using it reads neither the module's bytes nor its own.
        for b in &mut buf[done..] {
            *b = !*b;
        }
        Ok(done)
    }

    fn write_module_page(
        data: &Self,
        page: &ModulePage,
        buf: &[u8],
        report: &mut ErrorReport<'_>,
    ) -> Result {
        let since = now_ns();
        let access = access_of(page, buf.len())?;
        let r = data.access(&access, Some(since), false, |m, now, a, r| {
            m.write(now, a, &buf[r])
        });
        explain(r, report).map(|_| ())
    }

    fn reset(data: &Self, flags: &mut u32) -> Result {
        let mut module = data.module.lock();
        // A driver that ignores the request says so by leaving the flag.
        if *flags & ETH_RESET_PHY != 0 && !module.profile().driver.ignores_reset {
            module.hard_reset(now_ns());
            *flags &= !ETH_RESET_PHY;
        }
        Ok(())
    }

    fn begin(data: &Self) -> Result {
        let takes_ms = data.module.lock().ethtool_begin().ok_or(EBUSY)?;
        // A slow driver's begin, not under the module's lock: the
        // caller's RTNL is what it holds up.
        sleep_ns(u64::from(takes_ms) * 1_000_000, 0);
        Ok(())
    }

    fn complete(data: &Self) {
        data.module.lock().ethtool_complete();
    }

    fn module_info(data: &Self) -> Result<ModuleInfo> {
        let mut id = [0u8; 1];
        data.access(&Access::new(0, 0, 1), None, true, |m, now, a, r| {
            m.read(now, a, &mut id[r])
        })?;
        if !identifier::is_cmis(id[0]) {
            return Err(EOPNOTSUPP);
        }
        Ok(ModuleInfo {
            kind: ETH_MODULE_SFF_8636,
            eeprom_len: LEGACY_EEPROM_LEN,
        })
    }

    fn read_module_eeprom(data: &Self, offset: u32, buf: &mut [u8]) -> Result {
        // The legacy view is lower memory followed by page 00h's upper
        // half: offsets map one to one onto the 256-byte window.
        let end = offset
            .checked_add(buf.len() as u32)
            .filter(|&e| e <= LEGACY_EEPROM_LEN)
            .ok_or(EINVAL)?;
        let mut at = offset;
        let mut rest = buf;
        while at < end {
            let half_end = if at < 128 { 128.min(end) } else { end };
            let (chunk, tail) = rest.split_at_mut((half_end - at) as usize);
            let access = Access::new(0, at as u8, chunk.len());
            data.access(&access, None, true, |m, now, a, r| {
                m.read(now, a, &mut chunk[r])
            })?;
            at = half_end;
            rest = tail;
        }
        Ok(())
    }
}

/// A registered port.
pub(crate) struct Port {
    // Declared first, dropped first: no control file reaches the module
    // while the device goes away.
    _dir: Dir,
    netdev: Registration<PortData>,
    split: bool,
}

impl Port {
    /// Creates port number `index`, its control directory `port<index>`
    /// in `parent`, and registers its network device, split from a wider
    /// port if given `split`'s devlink port.
    pub(crate) fn new(
        index: u32,
        parent: &Dir,
        device: &Parent,
        split: Option<SplitPort>,
    ) -> Result<Self> {
        let data = PortData::new(index)?;
        let name = CString::try_from_fmt(fmt!("port{index}"))?;
        let mut dir = parent.subdir(&name);
        add_port_files(&mut dir, &data.module)?;
        let dir = dir.finish()?;
        let is_split = split.is_some();
        let netdev = Registration::register(c"cmis%d", device, split, Ok::<_, Error>(data))?;
        pr_info!(
            "port {} registered as {}\n",
            netdev.data().index,
            netdev.name()
        );
        Ok(Self {
            _dir: dir,
            netdev,
            split: is_split,
        })
    }

    /// Whether the port is split from a wider one.
    pub(crate) fn is_split(&self) -> bool {
        self.split
    }

    /// The port's number.
    pub(crate) fn index(&self) -> u32 {
        self.netdev.data().index
    }

    /// Marks the port's device present or not, as its driver would.
    pub(crate) fn set_present(&self, present: bool) {
        self.netdev.set_present(present);
    }

    /// Whether the port's device is present.
    pub(crate) fn is_present(&self) -> bool {
        self.netdev.is_present()
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        pr_info!(
            "port {} ({}) removed\n",
            self.netdev.data().index,
            self.netdev.name()
        );
    }
}
