// SPDX-License-Identifier: GPL-2.0

//! Other drivers' network devices, as a user of their ethtool operations.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h),
//! [`include/linux/rtnetlink.h`](srctree/include/linux/rtnetlink.h).
//!
//! A [`NetDevice`] is a `struct net_device`, reference counted with
//! `dev_hold`/`dev_put`: an [`ARef<NetDevice>`] keeps the device allocated
//! (though it may be unregistered meanwhile). It calls the module EEPROM
//! and reset operations of its driver, as the ethtool core does for its
//! own firmware flashing (`net/ethtool/cmis_cdb.c`). A
//! [`NotifierRegistration`] tells when devices go away.

use crate::bindings as raw;
use crate::genl::{ExtAck, Net};
use crate::notifier;
use crate::tracked::{Trackable, Tracked};
use core::{fmt, marker::PhantomData, ptr::NonNull};
use kernel::{
    device::Device,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    str::BStr,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

/// Size of `net_device.name`, with the NUL.
const IFNAMSIZ: usize = raw::IFNAMSIZ as usize;

/// Where a module memory access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleAccess {
    /// 7-bit I2C address.
    pub i2c_address: u8,
    /// Bank (for banked pages).
    pub bank: u8,
    /// Page (for offsets 128 and up).
    pub page: u8,
    /// First byte, 0-255.
    pub offset: u8,
}

/// What a driver said about a module access that failed outside a
/// netlink request (a flash's work item, which has no extended ack to
/// pass on): the message it set in an extended ack of our own, copied out
/// as the access returns, cut to an extended ack's own message buffer.
pub struct DriverMessage {
    text: [u8; DriverMessage::CAPACITY],
    len: usize,
}

impl DriverMessage {
    /// `NETLINK_MAX_FMTMSG_LEN` less its NUL.
    const CAPACITY: usize = 79;

    fn copy_of(msg: &CStr) -> Self {
        let bytes = msg.to_bytes();
        let len = bytes.len().min(Self::CAPACITY);
        let mut text = [0; Self::CAPACITY];
        text[..len].copy_from_slice(&bytes[..len]);
        Self { text, len }
    }

    /// Runs `access`, a driver's operation given an extended ack of our
    /// own; keeps what the driver said in `said` if it failed and said
    /// something.
    fn collect(
        said: &mut Option<Self>,
        access: impl FnOnce(*mut raw::netlink_ext_ack) -> Result,
    ) -> Result {
        let mut ack = raw::netlink_ext_ack::default();
        let r = access(&mut ack);
        if r.is_err() && !ack._msg.is_null() {
            // SAFETY: A driver points `_msg` at a NUL-terminated string
            // that outlives the call: a literal of its module (which
            // cannot finish unloading while our caller holds the device:
            // its unregistration waits for that reference) or `ack`'s own
            // `_msg_buf`.
            let msg = unsafe { CStr::from_char_ptr(ack._msg) };
            *said = Some(Self::copy_of(msg));
        }
        r
    }
}

impl fmt::Display for DriverMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printable ASCII as is, the rest escaped (the kernel's own
        // Display).
        kernel::fmt::Display::fmt(BStr::from_bytes(&self.text[..self.len]), f)
    }
}

/// Which of the operations firmware flashing needs the driver has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashOps {
    /// `get_module_eeprom_by_page` and `set_module_eeprom_by_page`.
    pub eeprom: bool,
    /// `reset`.
    pub reset: bool,
}

/// Identity of a device, to compare without holding a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId(usize);

/// The RTNL lock, held while this guard lives.
pub struct Rtnl(PhantomData<*mut ()>);

impl Rtnl {
    /// Takes the RTNL lock (may sleep).
    pub fn lock() -> Self {
        // SAFETY: No preconditions beyond a sleepable context.
        unsafe { raw::rtnl_lock() };
        Self(PhantomData)
    }
}

impl Rtnl {
    /// A guard for the RTNL lock the caller's caller holds, for the
    /// duration of a callback; it never unlocks.
    ///
    /// # Safety
    ///
    /// RTNL is held for as long as the guard lives.
    unsafe fn held() -> core::mem::ManuallyDrop<Self> {
        core::mem::ManuallyDrop::new(Self(PhantomData))
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: Taken in `lock`.
        unsafe { raw::rtnl_unlock() };
    }
}

/// A network device (`struct net_device`), possibly another driver's.
///
/// Reference counted with `dev_hold`/`dev_put`: a reference keeps the
/// device allocated, not registered.
#[repr(transparent)]
pub struct NetDevice(Opaque<raw::net_device>);

// SAFETY: `dev_hold` and `dev_put` are the device's reference count; a
// reference keeps it allocated.
unsafe impl AlwaysRefCounted for NetDevice {
    fn inc_ref(&self) {
        // SAFETY: The device is allocated (a reference to it exists).
        unsafe { raw::cmis_helper_dev_hold(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller hands over one reference (`dec_ref`'s
        // contract); `NetDevice` is a transparent wrapper of the device.
        unsafe { raw::cmis_helper_dev_put(obj.as_ptr().cast()) };
    }
}

// SAFETY: A device reference may be used and released from any thread; the
// ethtool operations called through it are called by the ethtool core
// from any process context too.
unsafe impl Send for NetDevice {}
// SAFETY: All methods take `&self` and only read the device or call driver
// operations, which do their own locking.
unsafe impl Sync for NetDevice {}

// SAFETY: `netdev_hold` takes a reference and records it in the tracker,
// `netdev_put` gives back one so taken; the tracker is a pointer to the
// record, which holds no pointer back to it.
unsafe impl Trackable for NetDevice {
    type Tracker = raw::netdevice_tracker;

    unsafe fn hold(obj: *mut Self, tracker: *mut Self::Tracker) {
        // SAFETY: The caller's contract; `NetDevice` is a transparent
        // wrapper of the device.
        unsafe { raw::cmis_helper_netdev_hold(obj.cast(), tracker) }
    }

    unsafe fn put(obj: *mut Self, tracker: *mut Self::Tracker) {
        // SAFETY: As above.
        unsafe { raw::cmis_helper_netdev_put(obj.cast(), tracker) }
    }
}

impl NetDevice {
    /// The device with interface index `ifindex` in `net`.
    pub fn by_index(net: &Net, ifindex: u32) -> Option<ARef<Self>> {
        let ifindex = c_int::try_from(ifindex).ok()?;
        // SAFETY: `net` is live; `dev_get_by_index` returns a held device
        // or null.
        let dev = unsafe { raw::dev_get_by_index(net.as_ptr(), ifindex) };
        let dev = NonNull::new(dev.cast::<Self>())?;
        // SAFETY: We own the reference `dev_get_by_index` took; `NetDevice`
        // is a transparent wrapper of the device.
        Some(unsafe { ARef::from_raw(dev) })
    }

    /// The device of `net` with the lowest interface index at least
    /// `ifindex`, if any (for walking every device of a namespace: the
    /// next one from its index + 1).
    pub fn next_from(net: &Net, ifindex: u64) -> Option<ARef<Self>> {
        let mut index = kernel::ffi::c_ulong::try_from(ifindex).ok()?;
        // SAFETY: `net` is live; the helper returns a held device or null
        // and writes only `index`.
        let dev = unsafe { raw::cmis_helper_dev_get_next(net.as_ptr(), &mut index) };
        let dev = NonNull::new(dev.cast::<Self>())?;
        // SAFETY: As in `by_index`.
        Some(unsafe { ARef::from_raw(dev) })
    }

    /// The device called `name` in `net`.
    pub fn by_name(net: &Net, name: &CStr) -> Option<ARef<Self>> {
        // SAFETY: `net` is live, `name` NUL-terminated; `dev_get_by_name`
        // returns a held device or null.
        let dev = unsafe { raw::dev_get_by_name(net.as_ptr(), name.as_char_ptr()) };
        let dev = NonNull::new(dev.cast::<Self>())?;
        // SAFETY: As in `by_index`.
        Some(unsafe { ARef::from_raw(dev) })
    }

    fn as_raw(&self) -> *mut raw::net_device {
        self.0.get()
    }

    /// The device's identity.
    pub fn id(&self) -> DeviceId {
        DeviceId(self.as_raw() as usize)
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        // SAFETY: The device is allocated (a reference to it exists).
        let ifindex = unsafe { raw::cmis_helper_netdev_ifindex(self.as_raw()) };
        ifindex.unsigned_abs()
    }

    /// A copy of the interface name.
    pub fn name(&self) -> DeviceName {
        let mut name = [0u8; IFNAMSIZ];
        // SAFETY: The device is allocated; `name` has `IFNAMSIZ` writable
        // bytes, which the helper fills with a NUL-terminated copy (a
        // rename may race with it, as with the ethtool core's own reads).
        unsafe { raw::cmis_helper_netdev_name(self.as_raw(), name.as_mut_ptr()) };
        DeviceName(name)
    }

    /// The namespace the device is in, unless it is being dismantled.
    pub fn net(&self) -> Option<ARef<Net>> {
        // SAFETY: The device is allocated; the helper takes a reference on
        // its namespace unless it is dying (null then) and hands it over.
        unsafe { Net::from_held(raw::cmis_helper_dev_get_net(self.as_raw())) }
    }

    /// The device's `struct device`, for the firmware loader.
    pub fn device(&self) -> &Device {
        // SAFETY: The device is allocated; the helper returns its embedded
        // `struct device`.
        let dev = unsafe { raw::cmis_helper_netdev_device(self.as_raw()) };
        // SAFETY: The embedded `struct device` lives as long as the
        // `net_device`, which a reference keeps allocated for as long as
        // `self` is borrowed.
        unsafe { Device::from_raw(dev) }
    }

    /// Whether the device is up (`netif_running`).
    pub fn is_running(&self) -> bool {
        // SAFETY: The device is allocated.
        unsafe { raw::cmis_helper_netif_running(self.as_raw()) }
    }

    fn ops(&self) -> Option<&raw::ethtool_ops> {
        // SAFETY: The device is allocated; drivers set `ethtool_ops` before
        // registering the device.
        let ops = unsafe { raw::cmis_helper_netdev_ethtool_ops(self.as_raw()) };
        // SAFETY: `ethtool_ops` is null or points to the driver's static
        // operations table, which outlives its devices.
        unsafe { ops.as_ref() }
    }

    /// Which operations firmware flashing needs the driver has.
    pub fn flash_ops(&self) -> FlashOps {
        let ops = self.ops();
        FlashOps {
            eeprom: ops.is_some_and(|o| {
                o.get_module_eeprom_by_page.is_some() && o.set_module_eeprom_by_page.is_some()
            }),
            reset: ops.is_some_and(|o| o.reset.is_some()),
        }
    }

    fn module_page(at: ModuleAccess, data: *mut u8, len: usize) -> raw::ethtool_module_eeprom {
        raw::ethtool_module_eeprom {
            offset: at.offset.into(),
            length: len as u32,
            page: at.page,
            bank: at.bank,
            i2c_address: at.i2c_address,
            data,
        }
    }

    /// Reads `buf.len()` bytes of the module's memory map at `at`.
    /// Fails with the driver's error, `EOPNOTSUPP` without the operation,
    /// or `EIO` if the driver reads nothing (a short read goes on from
    /// where it stopped).
    pub fn read_module(&self, at: ModuleAccess, buf: &mut [u8]) -> Result {
        self.read_module_reporting(at, buf, core::ptr::null_mut())
    }

    /// As [`Self::read_module`], keeping what the driver says about a
    /// failure in `said`.
    pub fn read_module_said(
        &self,
        at: ModuleAccess,
        buf: &mut [u8],
        said: &mut Option<DriverMessage>,
    ) -> Result {
        DriverMessage::collect(said, |ack| self.read_module_reporting(at, buf, ack))
    }

    /// As [`Self::read_module`], on behalf of a netlink request: the driver
    /// may explain a failure in the request's `extack`.
    pub fn read_module_for(&self, at: ModuleAccess, buf: &mut [u8], extack: &ExtAck<'_>) -> Result {
        self.read_module_reporting(at, buf, extack.as_ptr())
    }

    fn read_module_reporting(
        &self,
        at: ModuleAccess,
        buf: &mut [u8],
        extack: *mut raw::netlink_ext_ack,
    ) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.get_module_eeprom_by_page)
            .ok_or(EOPNOTSUPP)?;
        // The operation returns the bytes it read, which may be fewer than
        // asked: the rest is read from where it stopped (what it did read
        // may have cleared latched flags: it is kept, not read again). No
        // progress is an error.
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            let from = ModuleAccess {
                offset: u8::try_from(usize::from(at.offset) + done).map_err(|_| EIO)?,
                ..at
            };
            let page = Self::module_page(from, rest.as_mut_ptr(), rest.len());
            // SAFETY: The device is allocated; `page.data` has
            // `page.length` writable bytes; `extack` is null or a
            // request's, as the operation allows.
            let ret = unsafe { op(self.as_raw(), &page, extack) };
            to_result(ret.min(0))?;
            match usize::try_from(ret) {
                Ok(0) | Err(_) => return Err(EIO),
                Ok(n) => done += n.min(rest.len()),
            }
        }
        Ok(())
    }

    /// Writes `data` to the module's memory map at `at`.
    pub fn write_module(&self, at: ModuleAccess, data: &[u8]) -> Result {
        self.write_module_reporting(at, data, core::ptr::null_mut())
    }

    /// As [`Self::write_module`], keeping what the driver says about a
    /// failure in `said`.
    pub fn write_module_said(
        &self,
        at: ModuleAccess,
        data: &[u8],
        said: &mut Option<DriverMessage>,
    ) -> Result {
        DriverMessage::collect(said, |ack| self.write_module_reporting(at, data, ack))
    }

    fn write_module_reporting(
        &self,
        at: ModuleAccess,
        data: &[u8],
        extack: *mut raw::netlink_ext_ack,
    ) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.set_module_eeprom_by_page)
            .ok_or(EOPNOTSUPP)?;
        // The operation only reads `data` although its pointer is mutable.
        let page = Self::module_page(at, data.as_ptr().cast_mut(), data.len());
        // SAFETY: As in `read_module_reporting`; the driver does not write
        // `data`.
        let ret = unsafe { op(self.as_raw(), &page, extack) };
        to_result(ret.min(0))
    }

    /// Resets the plug-in module (`ETH_RESET_PHY`), as the ethtool core
    /// does after a firmware update. `Ok(false)` if the driver returned
    /// success without resetting it: drivers clear the flags of what
    /// they reset, and some (bnxt) leave this one set.
    pub fn reset_module(&self) -> Result<bool> {
        let op = self.ops().and_then(|o| o.reset).ok_or(EOPNOTSUPP)?;
        let phy: u32 = raw::ethtool_reset_flags_ETH_RESET_PHY;
        let mut flags = phy;
        // SAFETY: The device is allocated; `flags` is valid for writes.
        to_result(unsafe { op(self.as_raw(), &mut flags) })?;
        Ok(flags & phy == 0)
    }

    /// Whether the device is registered and not being unregistered.
    pub fn is_registered(&self, _rtnl: &Rtnl) -> bool {
        // SAFETY: The device is allocated; RTNL is held, under which the
        // registration state changes.
        unsafe { raw::cmis_helper_netdev_is_registered(self.as_raw()) }
    }

    /// Runs `f` between the driver's `begin` and `complete` ethtool
    /// operations, as the ethtool core runs its requests: the device's
    /// parent runtime-resumed, the device present and not going away.
    /// Fails with `ENODEV` or the driver's `begin` error without calling
    /// `f`.
    pub fn with_ethtool_ops<R>(&self, rtnl: &Rtnl, f: impl FnOnce(&Rtnl) -> R) -> Result<R> {
        // SAFETY: The device is allocated; RTNL is held.
        to_result(unsafe { raw::cmis_helper_ethtool_ops_begin(self.as_raw()) })?;
        let r = f(rtnl);
        // SAFETY: `begin` succeeded above; RTNL is still held.
        unsafe { raw::cmis_helper_ethtool_ops_complete(self.as_raw()) };
        Ok(r)
    }

    /// Keeps the device's parent runtime-resumed while the returned guard
    /// lives, so that module accesses reach a powered device.
    pub fn keep_resumed(this: &ARef<Self>) -> Resumed {
        // SAFETY: The device is allocated (a reference to it exists).
        unsafe { raw::cmis_helper_netdev_pm_get(this.as_raw()) };
        // INVARIANT: One runtime PM reference taken above.
        Resumed {
            dev: Tracked::new(this.clone()),
        }
    }

    /// Whether the device is a port split from a wider one.
    pub fn is_split_port(&self, _rtnl: &Rtnl) -> bool {
        // SAFETY: The device is allocated; RTNL is held, as its devlink
        // port needs.
        unsafe { raw::cmis_helper_netdev_is_split_port(self.as_raw()) }
    }

    /// Whether a module firmware flash is in progress (the ethtool core's
    /// flag, which vetoes module EEPROM access from user space and
    /// bringing the device up).
    pub fn module_flash_in_progress(&self, _rtnl: &Rtnl) -> bool {
        // SAFETY: The device is allocated; RTNL is held as the flag needs.
        unsafe { raw::cmis_helper_module_fw_flash_in_progress(self.as_raw()) }
    }

    /// Sets or clears the ethtool core's module flash flag.
    pub fn set_module_flash_in_progress(&self, _rtnl: &Rtnl, in_progress: bool) {
        // SAFETY: As above.
        unsafe { raw::cmis_helper_set_module_fw_flash_in_progress(self.as_raw(), in_progress) }
    }
}

/// A runtime PM reference on a device's parent, dropped with the guard.
///
/// # Invariants
///
/// Holds one reference taken by `cmis_helper_netdev_pm_get` on `dev`.
pub struct Resumed {
    dev: Tracked<NetDevice>,
}

impl Drop for Resumed {
    fn drop(&mut self) {
        // SAFETY: The reference taken when the guard was made (type
        // invariant); the device is allocated (`dev` holds it).
        unsafe { raw::cmis_helper_netdev_pm_put(self.dev.as_raw()) };
    }
}

/// A copy of an interface name.
#[derive(Clone, Copy)]
pub struct DeviceName([u8; IFNAMSIZ]);

impl DeviceName {
    /// The name as a C string.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

/// What a netdevice notifier reports.
pub trait DeviceEvents: Send + Sync {
    /// `dev` is being unregistered (called under RTNL; not when it only
    /// moves to another namespace). References to it must be dropped
    /// soon: unregistration waits for them.
    fn unregistering(&self, dev: DeviceId);

    /// `dev` is about to be brought up; a message vetoes it.
    fn pre_up(&self, dev: &NetDevice, rtnl: &Rtnl) -> Option<&'static CStr>;
}

/// The netdevice notifier chain, for a [`DeviceEvents`] handler.
pub struct NetdevChain;

/// A registered netdevice notifier calling `T`.
pub type NotifierRegistration<T> = notifier::Registration<NetdevChain, T>;

impl<T: DeviceEvents> notifier::Chain<T> for NetdevChain {
    unsafe fn register(nb: *mut raw::notifier_block) -> c_int {
        // SAFETY: The caller passes an initialised, pinned block.
        unsafe { raw::register_netdevice_notifier(nb) }
    }

    unsafe fn unregister(nb: *mut raw::notifier_block) {
        // SAFETY: The caller passes a registered block. Unregistering
        // waits for running callbacks under RTNL.
        unsafe { raw::unregister_netdevice_notifier(nb) };
    }

    unsafe fn event(handler: &T, event: c_ulong, ptr: *mut c_void) -> c_int {
        let unregister = event == raw::netdev_cmd_NETDEV_UNREGISTER as c_ulong;
        let pre_up = event == raw::netdev_cmd_NETDEV_PRE_UP as c_ulong;
        if !unregister && !pre_up {
            return raw::NOTIFY_DONE as c_int;
        }
        // SAFETY: For netdevice events `ptr` is a `netdev_notifier_info`.
        let dev = unsafe { raw::cmis_helper_netdev_notifier_info_to_dev(ptr) };
        if unregister {
            // SAFETY: The device of an event is allocated for the callback,
            // under RTNL.
            let moving = unsafe { raw::cmis_helper_netdev_moving_ns(dev) };
            // A device moving to another namespace stays.
            if !moving {
                handler.unregistering(DeviceId(dev as usize));
            }
            return raw::NOTIFY_DONE as c_int;
        }
        // SAFETY: The device of an event is allocated for the callback;
        // `NetDevice` is a transparent wrapper of it.
        let dev = unsafe { &*dev.cast::<NetDevice>() };
        // SAFETY: Netdevice notifiers run under RTNL.
        let rtnl = unsafe { Rtnl::held() };
        if let Some(msg) = handler.pre_up(dev, &rtnl) {
            // SAFETY: As above; the message is static, as NL_SET_ERR_MSG
            // requires.
            unsafe { raw::cmis_helper_netdev_notifier_set_err_msg(ptr, msg.as_char_ptr()) };
            return raw::NOTIFY_BAD as c_int;
        }
        raw::NOTIFY_DONE as c_int
    }
}
