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
use crate::genl::Net;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    device::Device,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    sync::{
        aref::{ARef, AlwaysRefCounted},
        Arc,
    },
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

    /// The namespace the device is in (always there).
    pub fn net(&self) -> Option<ARef<Net>> {
        // SAFETY: The device is allocated; the helper takes a reference on
        // its namespace (a device is always in one) and hands it over.
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
    /// Fails with the driver's error, or `EOPNOTSUPP` without the
    /// operation.
    pub fn read_module(&self, at: ModuleAccess, buf: &mut [u8]) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.get_module_eeprom_by_page)
            .ok_or(EOPNOTSUPP)?;
        let page = Self::module_page(at, buf.as_mut_ptr(), buf.len());
        // SAFETY: The device is allocated; `page.data` has `page.length`
        // writable bytes; a null extack is allowed.
        let ret = unsafe { op(self.as_raw(), &page, core::ptr::null_mut()) };
        to_result(ret.min(0))
    }

    /// Writes `data` to the module's memory map at `at`.
    pub fn write_module(&self, at: ModuleAccess, data: &[u8]) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.set_module_eeprom_by_page)
            .ok_or(EOPNOTSUPP)?;
        // The operation only reads `data` although its pointer is mutable.
        let page = Self::module_page(at, data.as_ptr().cast_mut(), data.len());
        // SAFETY: As in `read_module`; the driver does not write `data`.
        let ret = unsafe { op(self.as_raw(), &page, core::ptr::null_mut()) };
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
    /// `dev` is being unregistered (called under RTNL). References to it
    /// must be dropped soon: unregistration waits for them.
    fn unregistering(&self, dev: DeviceId);

    /// `dev` is about to be brought up (under RTNL); a message vetoes it.
    fn pre_up(&self, dev: DeviceId) -> Option<&'static CStr>;
}

/// A registered netdevice notifier calling `T`.
///
/// # Invariants
///
/// `block` is registered with the netdevice notifier chain, with
/// `Self::callback` as its function, for as long as `self` lives.
#[pin_data(PinnedDrop)]
pub struct NotifierRegistration<T: DeviceEvents> {
    #[pin]
    block: Opaque<raw::notifier_block>,
    handler: Arc<T>,
}

impl<T: DeviceEvents> NotifierRegistration<T> {
    /// Registers a notifier that calls `handler`.
    pub fn register(handler: Arc<T>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // First: the callback may run as soon as `block` is registered.
            handler,
            block <- Opaque::try_ffi_init(|nb: *mut raw::notifier_block| {
                let block = raw::notifier_block {
                    notifier_call: Some(Self::callback),
                    ..pin_init::zeroed()
                };
                // SAFETY: `nb` is valid for writes (`try_ffi_init`).
                unsafe { nb.write(block) };
                // SAFETY: `nb` is an initialised block, pinned, which stays
                // registered until `drop` unregisters it.
                to_result(unsafe { raw::register_netdevice_notifier(nb) })
            }),
        })
    }

    /// Called by the netdevice notifier chain.
    ///
    /// # Safety
    ///
    /// `nb` is the block of a registered `NotifierRegistration<T>` and
    /// `ptr` the event's `netdev_notifier_info`.
    unsafe extern "C" fn callback(
        nb: *mut raw::notifier_block,
        event: c_ulong,
        ptr: *mut c_void,
    ) -> c_int {
        let unregister = event == raw::netdev_cmd_NETDEV_UNREGISTER as c_ulong;
        let pre_up = event == raw::netdev_cmd_NETDEV_PRE_UP as c_ulong;
        if !unregister && !pre_up {
            return raw::NOTIFY_DONE as c_int;
        }
        let this = nb
            .cast::<u8>()
            .wrapping_sub(core::mem::offset_of!(Self, block))
            .cast::<Self>();
        // SAFETY: `nb` is the `block` field of a registered
        // `NotifierRegistration<T>` (only those register this callback),
        // which lives until it is unregistered.
        let this = unsafe { &*this };
        // SAFETY: For netdevice events `ptr` is a `netdev_notifier_info`.
        let dev = unsafe { raw::cmis_helper_netdev_notifier_info_to_dev(ptr) };
        let dev = DeviceId(dev as usize);
        if unregister {
            this.handler.unregistering(dev);
        } else if let Some(msg) = this.handler.pre_up(dev) {
            // SAFETY: As above; the message is static, as NL_SET_ERR_MSG
            // requires.
            unsafe { raw::cmis_helper_netdev_notifier_set_err_msg(ptr, msg.as_char_ptr()) };
            return raw::NOTIFY_BAD as c_int;
        }
        raw::NOTIFY_DONE as c_int
    }
}

// SAFETY: The block is only touched by the notifier chain (under its own
// lock) and by `drop`; `T` is `Send + Sync`.
unsafe impl<T: DeviceEvents> Send for NotifierRegistration<T> {}
// SAFETY: See above; `&self` gives no access to the block.
unsafe impl<T: DeviceEvents> Sync for NotifierRegistration<T> {}

#[pinned_drop]
impl<T: DeviceEvents> PinnedDrop for NotifierRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `register` (type invariant). Unregistering
        // waits for running callbacks under RTNL.
        unsafe { raw::unregister_netdevice_notifier(self.block.get()) };
    }
}
