// SPDX-License-Identifier: GPL-2.0

//! Other drivers' network devices, as a user of their ethtool operations.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h),
//! [`include/linux/rtnetlink.h`](srctree/include/linux/rtnetlink.h).
//!
//! A [`DeviceRef`] holds a reference on a `struct net_device` (the device
//! stays allocated, though it may be unregistered meanwhile) and calls the
//! module EEPROM and reset operations of its driver, as the ethtool core
//! does for its own firmware flashing (`net/ethtool/cmis_cdb.c`). A
//! [`NotifierRegistration`] tells when devices go away.

use crate::bindings as raw;
use crate::genl::Net;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{error::to_result, prelude::*, str::CStr, types::Opaque};

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

/// A counted reference to a network device.
///
/// # Invariants
///
/// `dev` is a `net_device` on which this object holds one reference
/// (`dev_hold`).
pub struct DeviceRef {
    dev: NonNull<raw::net_device>,
}

// SAFETY: A device reference may be used and released from any thread;
// the ethtool operations called through it are called by the ethtool core
// from any process context too.
unsafe impl Send for DeviceRef {}
// SAFETY: All methods take `&self` and only read the device or call driver
// operations, which do their own locking.
unsafe impl Sync for DeviceRef {}

impl DeviceRef {
    /// # Safety
    ///
    /// `dev` is null or a device on which the caller hands over one
    /// reference.
    unsafe fn from_held(dev: *mut raw::net_device) -> Option<Self> {
        // INVARIANT: The caller hands over the reference.
        NonNull::new(dev).map(|dev| Self { dev })
    }

    /// The device with interface index `ifindex` in `net`.
    pub fn by_index(net: &Net, ifindex: u32) -> Option<Self> {
        let ifindex = i32::try_from(ifindex).ok()?;
        // SAFETY: `net` is live; `dev_get_by_index` returns a held device
        // or null.
        unsafe { Self::from_held(raw::dev_get_by_index(net.as_ptr(), ifindex)) }
    }

    /// The device called `name` in `net`.
    pub fn by_name(net: &Net, name: &CStr) -> Option<Self> {
        // SAFETY: `net` is live, `name` NUL-terminated; `dev_get_by_name`
        // returns a held device or null.
        unsafe { Self::from_held(raw::dev_get_by_name(net.as_ptr(), name.as_char_ptr())) }
    }

    fn raw(&self) -> &raw::net_device {
        // SAFETY: We hold a reference, so the device is allocated (type
        // invariant); the fields read through this are read by the ethtool
        // core without locks too.
        unsafe { self.dev.as_ref() }
    }

    /// The device's identity.
    pub fn id(&self) -> DeviceId {
        DeviceId(self.dev.as_ptr() as usize)
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.raw().ifindex as u32
    }

    /// A copy of the interface name.
    pub fn name(&self) -> DeviceName {
        let mut name = [0u8; IFNAMSIZ];
        // The kernel's `char` is unsigned (`kernel::ffi::c_char` is `u8`).
        name.copy_from_slice(&self.raw().name[..IFNAMSIZ]);
        // Always NUL-terminated, even if the copy raced with a rename.
        name[IFNAMSIZ - 1] = 0;
        DeviceName(name)
    }

    /// The namespace the device is in.
    pub fn net(&self) -> Net {
        // SAFETY: The device is allocated; its namespace outlives it.
        let net = unsafe { raw::cmis_helper_dev_net(self.dev.as_ptr()) };
        // SAFETY: A device is always in a (live) namespace.
        unsafe { Net::get(NonNull::new_unchecked(net)) }
    }

    /// Whether the device is up (`netif_running`).
    pub fn is_running(&self) -> bool {
        // SAFETY: The device is allocated (type invariant).
        unsafe { raw::cmis_helper_netif_running(self.dev.as_ptr()) }
    }

    fn ops(&self) -> Option<&raw::ethtool_ops> {
        // SAFETY: `ethtool_ops` is null or points to the driver's static
        // operations table, which outlives its devices.
        unsafe { self.raw().ethtool_ops.as_ref() }
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
            .ok_or(crate::errno::eopnotsupp())?;
        let page = Self::module_page(at, buf.as_mut_ptr(), buf.len());
        // SAFETY: The device is allocated; `page.data` has `page.length`
        // writable bytes; a null extack is allowed.
        let ret = unsafe { op(self.dev.as_ptr(), &page, core::ptr::null_mut()) };
        to_result(ret.min(0))
    }

    /// Writes `data` to the module's memory map at `at`.
    pub fn write_module(&self, at: ModuleAccess, data: &[u8]) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.set_module_eeprom_by_page)
            .ok_or(crate::errno::eopnotsupp())?;
        // The operation only reads `data` although its pointer is mutable.
        let page = Self::module_page(at, data.as_ptr().cast_mut(), data.len());
        // SAFETY: As in `read_module`; the driver does not write `data`.
        let ret = unsafe { op(self.dev.as_ptr(), &page, core::ptr::null_mut()) };
        to_result(ret.min(0))
    }

    /// Resets the plug-in module (`ETH_RESET_PHY`), as the ethtool core
    /// does after a firmware update.
    pub fn reset_module(&self) -> Result {
        let op = self
            .ops()
            .and_then(|o| o.reset)
            .ok_or(crate::errno::eopnotsupp())?;
        let mut flags: u32 = raw::ethtool_reset_flags_ETH_RESET_PHY;
        // SAFETY: The device is allocated; `flags` is valid for writes.
        to_result(unsafe { op(self.dev.as_ptr(), &mut flags) })
    }

    /// Whether a module firmware flash is in progress (the ethtool core's
    /// flag, which vetoes module EEPROM access from user space and
    /// bringing the device up).
    pub fn module_flash_in_progress(&self, _rtnl: &Rtnl) -> bool {
        // SAFETY: The device is allocated; RTNL is held as the flag needs.
        unsafe { raw::cmis_helper_module_fw_flash_in_progress(self.dev.as_ptr()) }
    }

    /// Sets or clears the ethtool core's module flash flag.
    pub fn set_module_flash_in_progress(&self, _rtnl: &Rtnl, in_progress: bool) {
        // SAFETY: As above.
        unsafe { raw::cmis_helper_set_module_fw_flash_in_progress(self.dev.as_ptr(), in_progress) }
    }

    /// The device's `struct device`, for the firmware loader.
    pub(crate) fn device_ptr(&self) -> *mut raw::device {
        // SAFETY: The device is allocated; `dev` is an embedded field.
        unsafe { core::ptr::addr_of_mut!((*self.dev.as_ptr()).dev) }
    }
}

impl Clone for DeviceRef {
    fn clone(&self) -> Self {
        // SAFETY: The device is allocated (we hold a reference), so taking
        // another is allowed.
        unsafe { raw::cmis_helper_dev_hold(self.dev.as_ptr()) };
        // INVARIANT: The new object owns the reference just taken.
        Self { dev: self.dev }
    }
}

impl Drop for DeviceRef {
    fn drop(&mut self) {
        // SAFETY: We hold one reference (type invariant).
        unsafe { raw::cmis_helper_dev_put(self.dev.as_ptr()) };
    }
}

/// A copy of an interface name.
#[derive(Clone, Copy)]
pub struct DeviceName([u8; IFNAMSIZ]);

impl DeviceName {
    /// The name as a C string.
    pub fn as_c_str(&self) -> &CStr {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ - 1);
        CStr::from_bytes_with_nul(&self.0[..=end]).unwrap_or(kernel::c_str!(""))
    }
}

/// What a netdevice notifier reports.
pub trait DeviceEvents: Sync {
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
/// `block` is registered with the netdevice notifier chain and
/// `handler` outlives the registration.
#[pin_data(PinnedDrop)]
pub struct NotifierRegistration<T: DeviceEvents + 'static> {
    #[pin]
    block: Opaque<raw::notifier_block>,
    handler: &'static T,
}

impl<T: DeviceEvents + 'static> NotifierRegistration<T> {
    /// Registers a notifier that calls `handler`.
    pub fn register(handler: &'static T) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // First: the callback may run as soon as `block` is registered.
            handler,
            // SAFETY: `init_block` initialises the whole slot or fails
            // without registering it.
            block <- unsafe { kernel::init::pin_init_from_closure(Self::init_block) },
        })
    }

    /// Initialises and registers the notifier block at `slot`, which is
    /// pinned.
    fn init_block(slot: *mut Opaque<raw::notifier_block>) -> Result {
        let nb = Opaque::raw_get(slot);
        // SAFETY: `nb` is valid for writes; all-zero is a valid notifier
        // block before its callback is set.
        unsafe {
            nb.write(core::mem::zeroed());
            (*nb).notifier_call = Some(Self::callback);
        }
        // SAFETY: `nb` is pinned and stays registered until `drop`
        // unregisters it.
        to_result(unsafe { raw::register_netdevice_notifier(nb) })
    }

    /// Called by the netdevice notifier chain.
    ///
    /// # Safety
    ///
    /// `nb` is the block of a registered `NotifierRegistration<T>` and
    /// `ptr` the event's `netdev_notifier_info`.
    unsafe extern "C" fn callback(
        nb: *mut raw::notifier_block,
        event: kernel::ffi::c_ulong,
        ptr: *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        let unregister = event == raw::netdev_cmd_NETDEV_UNREGISTER as kernel::ffi::c_ulong;
        let pre_up = event == raw::netdev_cmd_NETDEV_PRE_UP as kernel::ffi::c_ulong;
        if !unregister && !pre_up {
            return raw::NOTIFY_DONE as kernel::ffi::c_int;
        }
        // SAFETY: `nb` is the `block` field of a registered
        // `NotifierRegistration<T>` (only those register this callback).
        let this = unsafe {
            &*nb.cast::<u8>()
                .sub(core::mem::offset_of!(Self, block))
                .cast::<Self>()
        };
        // SAFETY: For netdevice events `ptr` is a `netdev_notifier_info`.
        let dev = DeviceId(unsafe { raw::cmis_helper_netdev_notifier_info_to_dev(ptr) } as usize);
        if unregister {
            this.handler.unregistering(dev);
        } else if let Some(msg) = this.handler.pre_up(dev) {
            // SAFETY: As above; the extack is null or valid for the event.
            let extack = unsafe { raw::cmis_helper_netdev_notifier_info_to_extack(ptr) };
            if !extack.is_null() {
                // SAFETY: A valid extack; the message is static.
                unsafe { (*extack)._msg = msg.as_char_ptr() };
            }
            return raw::NOTIFY_BAD as kernel::ffi::c_int;
        }
        raw::NOTIFY_DONE as kernel::ffi::c_int
    }
}

// SAFETY: The block is only touched by the notifier chain (under its own
// lock) and by `drop`; `T` is `Sync`.
unsafe impl<T: DeviceEvents + 'static> Send for NotifierRegistration<T> {}
// SAFETY: See above; `&self` gives no access to the block.
unsafe impl<T: DeviceEvents + 'static> Sync for NotifierRegistration<T> {}

#[pinned_drop]
impl<T: DeviceEvents + 'static> PinnedDrop for NotifierRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `register` (type invariant). Unregistering
        // waits for running callbacks under RTNL.
        unsafe { raw::unregister_netdevice_notifier(self.block.get()) };
    }
}
