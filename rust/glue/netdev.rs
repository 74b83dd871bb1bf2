// SPDX-License-Identifier: GPL-2.0

//! Network devices with ethtool operations.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h).
//!
//! A [`Registration`] owns a registered `struct net_device` whose private
//! area points to the driver's data `T`; the device's `ethtool_ops` (the
//! kernel crate's bindings type) are built at compile time from `T`'s
//! [`Operations`] (the pattern of `kernel::net::phy`). Linux 7.3's kernel
//! crate has no network device abstraction: allocation, set-up (a C helper,
//! with the device's `net_device_ops`) and registration go through our own
//! bindings. The device is a sink: it drops every packet, which
//! is all a port that only carries a transceiver module needs.

use crate::bindings as raw;
use core::{fmt, marker::PhantomData, ptr::NonNull};
use kernel::{
    device::{Bound, Device},
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    faux,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    sync::Arc,
    types::ForeignOwnable,
};

/// `struct net_device`, opaque in the kernel crate's bindings.
type EthtoolDev = raw::net_device;

/// The ethtool operations of a device whose driver data is `Self`.
///
/// Unimplemented methods are left out of the `ethtool_ops` table, so the
/// ethtool core reports them as not supported.
#[vtable]
pub trait Operations: Sized + Send + Sync {
    /// Fills the driver information shown by `ethtool -i`. The ethtool core
    /// has filled the driver version with the kernel release already.
    fn get_drvinfo(_data: &Self, _info: &mut DrvInfo) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads `buf.len()` bytes of the plug-in module's memory map at
    /// `page` (`get_module_eeprom_by_page`). Requests from user space stay
    /// within one half of the 256-byte window (the ethtool core checks);
    /// kernel callers such as the CMIS flashers call the operation
    /// directly, with any offset and length: the driver checks them.
    /// Returns the bytes read: all of `buf`, or the first that many (the
    /// operation may stop short; the rest of `buf` is then not the
    /// module's). A failure may be explained in `report`.
    fn read_module_page(
        _data: &Self,
        _page: &ModulePage,
        _buf: &mut [u8],
        _report: &mut ErrorReport<'_>,
    ) -> Result<usize> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes `buf` to the plug-in module's memory map at `page`
    /// (`set_module_eeprom_by_page`; only kernel code writes, calling the
    /// operation directly: the driver checks offset and length).
    fn write_module_page(
        _data: &Self,
        _page: &ModulePage,
        _buf: &[u8],
        _report: &mut ErrorReport<'_>,
    ) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Resets the components in `flags` (`ETH_RESET_*`); clears the bits
    /// of the components it did reset.
    fn reset(_data: &Self, _flags: &mut u32) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Prepares the device for an ethtool request (`begin`); an error
    /// refuses the request.
    fn begin(_data: &Self) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Ends an ethtool request whose `begin` succeeded (`complete`).
    fn complete(_data: &Self) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Type and size of the module EEPROM for the legacy ioctl interface
    /// (`get_module_info`).
    fn module_info(_data: &Self) -> Result<ModuleInfo> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads the legacy flat module EEPROM view at `offset`
    /// (`get_module_eeprom`).
    fn read_module_eeprom(_data: &Self, _offset: u32, _buf: &mut [u8]) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Where an operation explains its failure to the requester: the extended
/// ack of the netlink request it serves (`struct netlink_ext_ack`), if
/// any.
///
/// # Invariants
///
/// `extack` is null or valid for writes for `'a`.
pub struct ErrorReport<'a> {
    extack: *mut raw::netlink_ext_ack,
    _request: PhantomData<&'a mut raw::netlink_ext_ack>,
}

impl ErrorReport<'_> {
    /// Sets the message the requester receives with the error.
    pub fn set_message(&mut self, msg: &'static CStr) {
        if !self.extack.is_null() {
            // SAFETY: A non-null extack is valid for writes (type
            // invariant); the message is static, as NL_SET_ERR_MSG
            // requires.
            unsafe { (*self.extack)._msg = msg.as_char_ptr() };
        }
    }
}

/// Where a module memory access goes (`struct ethtool_module_eeprom`
/// without the buffer).
#[derive(Clone, Copy, Debug)]
pub struct ModulePage {
    /// First byte, 0-255.
    pub offset: u32,
    /// Page (for offsets 128 and up).
    pub page: u8,
    /// Bank (for banked pages).
    pub bank: u8,
    /// 7-bit I2C address.
    pub i2c_address: u8,
}

/// Answer to `get_module_info` (`struct ethtool_modinfo`).
#[derive(Clone, Copy, Debug)]
pub struct ModuleInfo {
    /// `ETH_MODULE_*` type.
    pub kind: u32,
    /// Size of the legacy EEPROM view.
    pub eeprom_len: u32,
}

/// The answer to `ethtool -i` (`struct ethtool_drvinfo`).
#[repr(transparent)]
pub struct DrvInfo(raw::ethtool_drvinfo);

/// Writes formatted text into a fixed C string field, truncating it and
/// always leaving a NUL terminator.
fn write_c_string<const N: usize>(field: &mut [c_char; N], args: fmt::Arguments<'_>) {
    struct Cursor<'a> {
        buf: &'a mut [c_char],
        len: usize,
    }
    impl fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            // Keep one byte for the terminator; drop what does not fit.
            let room = self.buf.len().saturating_sub(self.len + 1);
            let n = s.len().min(room);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut cursor = Cursor {
        buf: &mut field[..],
        len: 0,
    };
    // `Cursor` never fails; truncation is silent, as with strscpy.
    let _ = fmt::write(&mut cursor, args);
    let len = cursor.len;
    field[len..].fill(0);
}

impl DrvInfo {
    /// Sets the driver name.
    pub fn set_driver(&mut self, s: &str) {
        write_c_string(&mut self.0.driver, format_args!("{s}"));
    }

    /// Sets the firmware version.
    pub fn set_fw_version(&mut self, args: fmt::Arguments<'_>) {
        write_c_string(&mut self.0.fw_version, args);
    }

    /// Sets the bus address.
    pub fn set_bus_info(&mut self, args: fmt::Arguments<'_>) {
        write_c_string(&mut self.0.bus_info, args);
    }
}

impl ModulePage {
    fn of(req: &raw::ethtool_module_eeprom) -> Self {
        Self {
            offset: req.offset,
            page: req.page,
            bank: req.bank,
            i2c_address: req.i2c_address,
        }
    }
}

/// The C callbacks and ops tables for driver data `T`.
struct Adapter<T: Operations>(PhantomData<T>);

impl<T: Operations> Adapter<T> {
    /// # Safety
    ///
    /// `dev` must be a device created by [`Registration::register`] with
    /// data type `T` that is still registered.
    unsafe fn data<'a>(dev: *const EthtoolDev) -> Pin<&'a T> {
        // SAFETY: By the function's contract `dev` is one of our devices.
        let data = unsafe { raw::cmis_helper_netdev_data(dev) };
        // SAFETY: The private area holds the pointer `Registration::register`
        // stored there, from `into_foreign`, which stays valid until the
        // registration is dropped, after `unregister_netdev` has waited for
        // every callback.
        unsafe { <Pin<KBox<T>> as ForeignOwnable>::borrow(data) }
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a device registered with
    /// `ETHTOOL_OPS` (hence by [`Registration::register`]) and a valid
    /// `info` it owns for the duration of the call.
    unsafe extern "C" fn get_drvinfo_callback(
        dev: *mut EthtoolDev,
        info: *mut raw::ethtool_drvinfo,
    ) {
        // SAFETY: `dev` comes from `Registration::register` (see above).
        let data = unsafe { Self::data(dev) };
        // SAFETY: `info` is valid and exclusively ours for the call, and
        // `DrvInfo` is a transparent wrapper of `ethtool_drvinfo`.
        let info = unsafe { &mut *info.cast::<DrvInfo>() };
        T::get_drvinfo(data.get_ref(), info);
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a device registered by
    /// [`Registration::register`] and a valid request whose `data` points
    /// to `length` writable bytes.
    unsafe extern "C" fn get_module_eeprom_by_page_callback(
        dev: *mut EthtoolDev,
        req: *const raw::ethtool_module_eeprom,
        extack: *mut raw::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            // SAFETY: See the function's safety section.
            let req = unsafe { &*req };
            let page = ModulePage::of(req);
            // SAFETY: `data` has `length` writable bytes owned by the
            // caller for the duration of the call.
            let buf = unsafe { core::slice::from_raw_parts_mut(req.data, req.length as usize) };
            // INVARIANT: The caller's extack (or null), valid for the call.
            let mut report = ErrorReport {
                extack,
                _request: PhantomData,
            };
            let read = T::read_module_page(data.get_ref(), &page, buf, &mut report)?;
            c_int_of(read.min(buf.len()))
        })
    }

    /// # Safety
    ///
    /// As for `get_module_eeprom_by_page_callback`, with `length` readable
    /// bytes at `data`.
    unsafe extern "C" fn set_module_eeprom_by_page_callback(
        dev: *mut EthtoolDev,
        req: *const raw::ethtool_module_eeprom,
        extack: *mut raw::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            // SAFETY: See the function's safety section.
            let req = unsafe { &*req };
            let page = ModulePage::of(req);
            // SAFETY: `data` has `length` readable bytes.
            let buf = unsafe { core::slice::from_raw_parts(req.data, req.length as usize) };
            // INVARIANT: As for reads.
            let mut report = ErrorReport {
                extack,
                _request: PhantomData,
            };
            T::write_module_page(data.get_ref(), &page, buf, &mut report)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device.
    unsafe extern "C" fn begin_callback(dev: *mut EthtoolDev) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            T::begin(data.get_ref())?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device.
    unsafe extern "C" fn complete_callback(dev: *mut EthtoolDev) {
        // SAFETY: See the function's safety section.
        let data = unsafe { Self::data(dev) };
        T::complete(data.get_ref());
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device and a valid
    /// `flags`.
    unsafe extern "C" fn reset_callback(dev: *mut EthtoolDev, flags: *mut u32) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            // SAFETY: See the function's safety section.
            let flags = unsafe { &mut *flags };
            T::reset(data.get_ref(), flags)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device and a valid
    /// `modinfo`.
    unsafe extern "C" fn get_module_info_callback(
        dev: *mut EthtoolDev,
        modinfo: *mut raw::ethtool_modinfo,
    ) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            // SAFETY: See the function's safety section.
            let modinfo = unsafe { &mut *modinfo };
            let info = T::module_info(&data)?;
            modinfo.type_ = info.kind;
            modinfo.eeprom_len = info.eeprom_len;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device, a valid
    /// `eeprom` request and `eeprom.len` writable bytes at `buf`.
    unsafe extern "C" fn get_module_eeprom_callback(
        dev: *mut EthtoolDev,
        eeprom: *mut raw::ethtool_eeprom,
        buf: *mut u8,
    ) -> c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let data = unsafe { Self::data(dev) };
            // SAFETY: See the function's safety section.
            let eeprom = unsafe { &*eeprom };
            // SAFETY: `buf` has `eeprom.len` writable bytes.
            let buf = unsafe { core::slice::from_raw_parts_mut(buf, eeprom.len as usize) };
            T::read_module_eeprom(data.get_ref(), eeprom.offset, buf)?;
            Ok(0)
        })
    }

    const ETHTOOL_OPS: raw::ethtool_ops = raw::ethtool_ops {
        get_drvinfo: if T::HAS_GET_DRVINFO {
            Some(Self::get_drvinfo_callback)
        } else {
            None
        },
        get_module_eeprom_by_page: if T::HAS_READ_MODULE_PAGE {
            Some(Self::get_module_eeprom_by_page_callback)
        } else {
            None
        },
        set_module_eeprom_by_page: if T::HAS_WRITE_MODULE_PAGE {
            Some(Self::set_module_eeprom_by_page_callback)
        } else {
            None
        },
        reset: if T::HAS_RESET {
            Some(Self::reset_callback)
        } else {
            None
        },
        begin: if T::HAS_BEGIN {
            Some(Self::begin_callback)
        } else {
            None
        },
        complete: if T::HAS_COMPLETE {
            Some(Self::complete_callback)
        } else {
            None
        },
        get_module_info: if T::HAS_MODULE_INFO {
            Some(Self::get_module_info_callback)
        } else {
            None
        },
        get_module_eeprom: if T::HAS_READ_MODULE_EEPROM {
            Some(Self::get_module_eeprom_callback)
        } else {
            None
        },
        // Null function pointers mean "not supported".
        ..pin_init::zeroed()
    };
}

/// A registered network device carrying driver data `T`.
///
/// # Invariants
///
/// `dev` points to a device allocated by `alloc_netdev_mqs`, set up by
/// `cmis_helper_netdev_setup` and registered with `register_netdev`, whose
/// private area holds `data`, a pointer obtained from
/// `Pin<KBox<T>>::into_foreign`, and whose ethtool ops table is
/// `Adapter::<T>`'s; `_devlink_port`, if any, is the device's devlink port.
pub struct Registration<T: Operations> {
    dev: NonNull<raw::net_device>,
    data: *mut c_void,
    _data: PhantomData<Pin<KBox<T>>>,
    /// The device's devlink port: freed after the device (fields drop
    /// after `drop`'s body).
    _devlink_port: Option<SplitPort>,
}

// SAFETY: The registration only hands out shared references to `T`, which
// is `Send + Sync`, and the net_device may be unregistered from any thread.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: As above; `&Registration` gives no mutable access.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations + 'static> Registration<T> {
    /// Allocates an Ethernet device named after `name` (a `%d` in it is
    /// replaced by the first free number), attaches the driver data
    /// initialised by `init` (pinned: it may hold locks) and registers it,
    /// a child of `parent`. The device holds a reference to its parent
    /// until it is freed; the parent's driver unregisters its children
    /// before it goes. A device given `devlink_port` is that devlink port's
    /// (a port split from a wider one).
    pub fn register(
        name: &CStr,
        parent: &Parent,
        devlink_port: Option<SplitPort>,
        init: impl PinInit<T, Error>,
    ) -> Result<Self> {
        let data = KBox::pin_init(init, GFP_KERNEL)?;
        let priv_size = c_int_of(size_of::<*mut c_void>())?;
        // SAFETY: `name` is a valid NUL-terminated string, `ether_setup` a
        // valid setup function; one TX and one RX queue.
        let dev = unsafe {
            raw::alloc_netdev_mqs(
                priv_size,
                name.as_char_ptr(),
                raw::NET_NAME_ENUM as u8,
                Some(raw::ether_setup),
                1,
                1,
            )
        };
        let dev = NonNull::new(dev).ok_or(ENOMEM)?;
        let data = data.into_foreign();
        let port = devlink_port
            .as_ref()
            .map_or(core::ptr::null_mut(), |p| p.port.as_ptr());
        // SAFETY: `dev` is a freshly allocated device nobody else sees yet,
        // with a private area for a pointer; the ops table is a `'static`
        // constant; the parent is a registered device; the devlink port,
        // if any, is registered and outlives the device (it is freed after
        // it, in `drop`).
        unsafe {
            raw::cmis_helper_netdev_setup(
                dev.as_ptr(),
                data,
                &Adapter::<T>::ETHTOOL_OPS,
                parent.as_raw(),
                port,
            )
        };
        // SAFETY: `dev` is fully set up; `register_netdev` takes RTNL.
        if let Err(e) = to_result(unsafe { raw::register_netdev(dev.as_ptr()) }) {
            // SAFETY: Registration failed, so no callback can run: we own
            // the device.
            unsafe { raw::free_netdev(dev.as_ptr()) };
            // SAFETY: From `into_foreign` above, and no longer used.
            drop(unsafe { <Pin<KBox<T>> as ForeignOwnable>::from_foreign(data) });
            return Err(e);
        }
        // INVARIANT: allocated, set up and registered above.
        Ok(Self {
            dev,
            data,
            _data: PhantomData,
            _devlink_port: devlink_port,
        })
    }

    /// A copy of the interface name the kernel gave the device.
    pub fn name(&self) -> Name {
        let mut name = [0u8; IFNAMSIZ];
        // SAFETY: By the type invariant `dev` is valid; `name` has
        // `IFNAMSIZ` writable bytes.
        unsafe { raw::cmis_helper_netdev_name(self.dev.as_ptr(), name.as_mut_ptr()) };
        Name(name)
    }

    /// Marks the device present or not (`netif_device_attach` and
    /// `netif_device_detach`), as a driver does while its hardware is
    /// suspended or has stopped answering: the ethtool core then refuses
    /// requests to the device (`ENODEV`).
    pub fn set_present(&self, present: bool) {
        let dev = self.dev.as_ptr();
        if present {
            // SAFETY: By the type invariant `dev` is registered; attaching
            // needs no lock.
            unsafe { raw::netif_device_attach(dev) };
        } else {
            // SAFETY: As above, for detaching.
            unsafe { raw::netif_device_detach(dev) };
        }
    }

    /// Whether the device is present (`netif_device_present`).
    pub fn is_present(&self) -> bool {
        // SAFETY: By the type invariant `dev` is valid.
        unsafe { raw::cmis_helper_netif_device_present(self.dev.as_ptr()) }
    }

    /// The driver data.
    pub fn data(&self) -> Pin<&T> {
        // SAFETY: By the type invariant the device is registered with data
        // type `T`.
        unsafe { Adapter::<T>::data(self.dev.as_ptr()) }
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        let dev = self.dev.as_ptr();
        // SAFETY: By the type invariant `dev` is registered. Once
        // `unregister_netdev` returns no callback runs any more.
        unsafe { raw::unregister_netdev(dev) };
        // SAFETY: `data` came from `into_foreign` (type invariant) and no
        // callback uses it any more.
        drop(unsafe { <Pin<KBox<T>> as ForeignOwnable>::from_foreign(self.data) });
        // SAFETY: Unregistered; nothing refers to the device any more.
        unsafe { raw::free_netdev(dev) };
    }
}

/// The device network devices hang from, with runtime PM enabled: a faux
/// device, the test bed's stand-in for the PCI function of a real port.
/// Its driver has no power callbacks, so runtime PM only counts: it is
/// active while someone (the ethtool core, a flash) keeps it resumed.
/// Sysfs shows no runtime PM of a device without callbacks:
/// [`Parent::runtime_pm`] tells it. On kernels with devlink it has a
/// devlink instance, whose ports a device may be given
/// ([`Parent::split_port`]).
pub struct Parent {
    /// Released before the faux device (fields drop in order), unless a
    /// devlink port still holds it.
    devlink: Option<Arc<Devlink>>,
    faux: faux::Registration,
}

impl Parent {
    /// Creates and registers the faux device `name`, runtime PM enabled
    /// (suspended until used), and its devlink instance where the kernel
    /// has devlink.
    pub fn new(name: &CStr) -> Result<Self> {
        let faux = faux::Registration::new(name, None)?;
        let dev = Self::raw_device(&faux);
        // SAFETY: `dev` is a registered device bound to the faux driver.
        let devlink = NonNull::new(unsafe { raw::cmis_helper_devlink_new(dev) })
            .map(|d| Arc::new(Devlink(d), GFP_KERNEL))
            .transpose()?;
        // SAFETY: The device is registered; runtime PM may be enabled on
        // any device, once (disabled again in `drop`).
        unsafe { raw::cmis_helper_runtime_pm_enable(dev) };
        Ok(Self { devlink, faux })
    }

    /// Port `index` of the parent's devlink instance: subport `subport`
    /// of front panel port `number`, split from it. `EOPNOTSUPP` where the
    /// kernel has no devlink.
    pub fn split_port(&self, index: u32, number: u32, subport: u32) -> Result<SplitPort> {
        let devlink = self.devlink.as_ref().ok_or(EOPNOTSUPP)?;
        let mut port = core::ptr::null_mut();
        // SAFETY: `devlink` is a registered instance (type invariant of
        // `Devlink`); `port` is writable.
        to_result(unsafe {
            raw::cmis_helper_devlink_split_port_new(
                devlink.0.as_ptr(),
                index,
                number,
                subport,
                &mut port,
            )
        })?;
        let port = NonNull::new(port).ok_or(EINVAL)?;
        // INVARIANT: registered just above, in `devlink`, which the port
        // keeps.
        Ok(SplitPort {
            port,
            _devlink: devlink.clone(),
        })
    }

    /// How many keep the device runtime-resumed, and whether it is
    /// active; `None` on kernels without runtime PM (`CONFIG_PM`).
    pub fn runtime_pm(&self) -> Option<(u32, bool)> {
        // SAFETY: The device is registered (type invariant of the faux
        // registration); both only read its power state.
        let usage = unsafe { raw::cmis_helper_runtime_pm_usage(self.as_raw()) };
        // SAFETY: As above.
        let active = unsafe { raw::cmis_helper_runtime_pm_active(self.as_raw()) };
        u32::try_from(usage).ok().map(|usage| (usage, active))
    }

    fn as_raw(&self) -> *mut raw::device {
        Self::raw_device(&self.faux)
    }

    fn raw_device(faux: &faux::Registration) -> *mut raw::device {
        let dev: &Device<Bound> = faux.as_ref().as_ref();
        // `Device` is a transparent wrapper of `struct device` (the kernel
        // crate keeps its own accessor private).
        core::ptr::from_ref(dev).cast::<raw::device>().cast_mut()
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        // SAFETY: Enabled in `new`; the device is still registered (the
        // faux registration is dropped after this).
        unsafe { raw::cmis_helper_runtime_pm_disable(self.as_raw()) };
    }
}

/// A registered devlink instance with no operations.
///
/// # Invariants
///
/// The pointer came from `cmis_helper_devlink_new`.
pub struct Devlink(NonNull<c_void>);

// SAFETY: A devlink instance may be used and freed from any thread; the
// devlink core locks what it changes.
unsafe impl Send for Devlink {}
// SAFETY: As above; `&Devlink` only registers ports, under the devlink lock.
unsafe impl Sync for Devlink {}

impl Drop for Devlink {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant), and no port is: each port
        // holds a reference to this instance.
        unsafe { raw::cmis_helper_devlink_free(self.0.as_ptr()) };
    }
}

/// A devlink port split from a wider front panel port, for one network
/// device ([`Registration::register`]).
///
/// # Invariants
///
/// `port` is registered in the instance `_devlink` holds.
pub struct SplitPort {
    port: NonNull<c_void>,
    _devlink: Arc<Devlink>,
}

// SAFETY: A devlink port may be unregistered from any thread (under the
// devlink lock).
unsafe impl Send for SplitPort {}
// SAFETY: `&SplitPort` gives no access to the port.
unsafe impl Sync for SplitPort {}

impl Drop for SplitPort {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant); the device that was the
        // port's is unregistered (`Registration` frees its port after it),
        // or there never was one. The instance is released after this.
        unsafe { raw::cmis_helper_devlink_port_free(self.port.as_ptr()) };
    }
}

/// Size of `net_device.name`, with the NUL.
const IFNAMSIZ: usize = raw::IFNAMSIZ as usize;

/// A copy of an interface name.
#[derive(Clone, Copy)]
pub struct Name([u8; IFNAMSIZ]);

impl Name {
    /// The name as a C string.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }
}

impl kernel::fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_c_str().to_str() {
            Ok(s) => f.write_str(s),
            Err(_) => f.write_str("?"),
        }
    }
}

fn c_int_of(n: usize) -> Result<c_int> {
    c_int::try_from(n).map_err(|_| EINVAL)
}
