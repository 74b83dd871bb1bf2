// SPDX-License-Identifier: GPL-2.0

//! Network devices with ethtool operations.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h).
//!
//! A [`Registration`] owns a registered `struct net_device` whose private
//! area points to the driver's data `T`; the device's `ethtool_ops` are
//! built at compile time from `T`'s [`Operations`] (the pattern of
//! `kernel::net::phy`). The device is a sink: it drops every packet, which
//! is all a port that only carries a transceiver module needs.

use crate::bindings as raw;
use core::{fmt, marker::PhantomData, mem::size_of, ptr::NonNull};
use kernel::{
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::c_char,
    prelude::*,
    str::CStr,
};

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
    fn read_module_page(_data: &Self, _page: &ModulePage, _buf: &mut [u8]) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes `buf` to the plug-in module's memory map at `page`
    /// (`set_module_eeprom_by_page`; only kernel code writes, calling the
    /// operation directly: the driver checks offset and length).
    fn write_module_page(_data: &Self, _page: &ModulePage, _buf: &[u8]) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Resets the components in `flags` (`ETH_RESET_*`); clears the bits
    /// of the components it did reset.
    fn reset(_data: &Self, _flags: &mut u32) -> Result {
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
    unsafe fn data<'a>(dev: *const raw::net_device) -> &'a T {
        // SAFETY: By the function's contract the private area of `dev` holds
        // the pointer `Registration::register` stored there, from
        // `KBox::into_raw`, which stays valid until the registration is
        // dropped, after `unregister_netdev` has waited for every callback.
        unsafe { &**raw::cmis_helper_netdev_priv(dev).cast::<*const T>() }
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a device registered with
    /// `ETHTOOL_OPS` (hence by [`Registration::register`]) and a valid
    /// `info` it owns for the duration of the call.
    unsafe extern "C" fn get_drvinfo_callback(
        dev: *mut raw::net_device,
        info: *mut raw::ethtool_drvinfo,
    ) {
        // SAFETY: `dev` comes from `Registration::register` (see above).
        let data = unsafe { Self::data(dev) };
        // SAFETY: `info` is valid and exclusively ours for the call, and
        // `DrvInfo` is a transparent wrapper of `ethtool_drvinfo`.
        let info = unsafe { &mut *info.cast::<DrvInfo>() };
        T::get_drvinfo(data, info);
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a device registered by
    /// [`Registration::register`] and a valid request whose `data` points
    /// to `length` writable bytes.
    unsafe extern "C" fn get_module_eeprom_by_page_callback(
        dev: *mut raw::net_device,
        req: *const raw::ethtool_module_eeprom,
        _extack: *mut raw::netlink_ext_ack,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (data, req) = unsafe { (Self::data(dev), &*req) };
            let page = ModulePage::of(req);
            // SAFETY: `data` has `length` writable bytes owned by the
            // caller for the duration of the call.
            let buf = unsafe { core::slice::from_raw_parts_mut(req.data, req.length as usize) };
            T::read_module_page(data, &page, buf)?;
            c_int_of(buf.len())
        })
    }

    /// # Safety
    ///
    /// As for `get_module_eeprom_by_page_callback`, with `length` readable
    /// bytes at `data`.
    unsafe extern "C" fn set_module_eeprom_by_page_callback(
        dev: *mut raw::net_device,
        req: *const raw::ethtool_module_eeprom,
        _extack: *mut raw::netlink_ext_ack,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (data, req) = unsafe { (Self::data(dev), &*req) };
            let page = ModulePage::of(req);
            // SAFETY: `data` has `length` readable bytes.
            let buf = unsafe { core::slice::from_raw_parts(req.data, req.length as usize) };
            T::write_module_page(data, &page, buf)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device and a valid
    /// `flags`.
    unsafe extern "C" fn reset_callback(
        dev: *mut raw::net_device,
        flags: *mut u32,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (data, flags) = unsafe { (Self::data(dev), &mut *flags) };
            T::reset(data, flags)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core with a registered device and a valid
    /// `modinfo`.
    unsafe extern "C" fn get_module_info_callback(
        dev: *mut raw::net_device,
        modinfo: *mut raw::ethtool_modinfo,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (data, modinfo) = unsafe { (Self::data(dev), &mut *modinfo) };
            let info = T::module_info(data)?;
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
        dev: *mut raw::net_device,
        eeprom: *mut raw::ethtool_eeprom,
        buf: *mut u8,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (data, eeprom) = unsafe { (Self::data(dev), &*eeprom) };
            // SAFETY: `buf` has `eeprom.len` writable bytes.
            let buf = unsafe { core::slice::from_raw_parts_mut(buf, eeprom.len as usize) };
            T::read_module_eeprom(data, eeprom.offset, buf)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core with a valid `skb` it hands over to us.
    unsafe extern "C" fn start_xmit_callback(
        skb: *mut raw::sk_buff,
        _dev: *mut raw::net_device,
    ) -> raw::netdev_tx_t {
        // SAFETY: We own `skb` (see above) and do not use it afterwards.
        unsafe { raw::cmis_helper_dev_kfree_skb_any(skb) };
        raw::netdev_tx_NETDEV_TX_OK
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
        // SAFETY: `ethtool_ops` is plain data for which all zeroes is
        // valid: null function pointers mean "not supported".
        ..unsafe { core::mem::MaybeUninit::<raw::ethtool_ops>::zeroed().assume_init() }
    };

    const NETDEV_OPS: raw::net_device_ops = raw::net_device_ops {
        ndo_start_xmit: Some(Self::start_xmit_callback),
        // SAFETY: As above, all-zero `net_device_ops` means "not supported"
        // for every other operation.
        ..unsafe { core::mem::MaybeUninit::<raw::net_device_ops>::zeroed().assume_init() }
    };
}

/// A registered network device carrying driver data `T`.
///
/// # Invariants
///
/// `dev` points to a device allocated by `alloc_netdev_mqs` and registered
/// with `register_netdev`, whose private area holds a pointer obtained from
/// `KBox::<T>::into_raw`, and whose ops tables are `Adapter::<T>`'s.
pub struct Registration<T: Operations> {
    dev: NonNull<raw::net_device>,
    _data: PhantomData<T>,
}

// SAFETY: The registration only hands out shared references to `T`, which
// is `Send + Sync`, and the net_device may be unregistered from any thread.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: As above; `&Registration` gives no mutable access.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    /// Allocates an Ethernet device named after `name` (a `%d` in it is
    /// replaced by the first free number), attaches the driver data
    /// initialised by `init` (pinned: it may hold locks) and registers it.
    pub fn register(name: &CStr, init: impl PinInit<T, Error>) -> Result<Self> {
        let data = KBox::pin_init(init, GFP_KERNEL)?;
        let priv_size = c_int_of(size_of::<*const T>())?;
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
        // SAFETY: The data is only ever used pinned, through shared
        // references, until `Drop` frees it in place.
        let data = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
        // SAFETY: `dev` is a freshly allocated, unregistered device nobody
        // else sees yet, with a private area of `priv_size` bytes (suitably
        // aligned for a pointer: NETDEV_ALIGN). The ops tables are
        // `'static` constants.
        unsafe {
            let d = dev.as_ptr();
            raw::cmis_helper_netdev_priv(d)
                .cast::<*const T>()
                .write(data);
            (*d).netdev_ops = &Adapter::<T>::NETDEV_OPS;
            (*d).ethtool_ops = &Adapter::<T>::ETHTOOL_OPS;
            (*d).flags |= raw::net_device_flags_IFF_NOARP;
            raw::cmis_helper_eth_hw_addr_random(d);
        }
        // SAFETY: `dev` is fully set up; `register_netdev` takes RTNL.
        if let Err(e) = to_result(unsafe { raw::register_netdev(dev.as_ptr()) }) {
            // SAFETY: Registration failed, so no callback can run: we
            // still own both the device and `data`.
            unsafe {
                raw::free_netdev(dev.as_ptr());
                drop(KBox::from_raw(data));
            }
            return Err(e);
        }
        // INVARIANT: allocated, set up and registered above.
        Ok(Self {
            dev,
            _data: PhantomData,
        })
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &CStr {
        // SAFETY: By the type invariant `dev` is valid; `name` is a
        // NUL-terminated array that only changes under RTNL on rename,
        // which keeps it NUL-terminated.
        unsafe { CStr::from_char_ptr((*self.dev.as_ptr()).name.as_ptr()) }
    }

    /// The driver data.
    pub fn data(&self) -> &T {
        // SAFETY: By the type invariant the device is registered with
        // data type `T`.
        unsafe { Adapter::<T>::data(self.dev.as_ptr()) }
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        let dev = self.dev.as_ptr();
        // SAFETY: By the type invariant `dev` is registered. Once
        // `unregister_netdev` returns no callback runs any more, so the
        // data can be freed, then the device.
        unsafe {
            let data = *raw::cmis_helper_netdev_priv(dev).cast::<*mut T>();
            raw::unregister_netdev(dev);
            drop(KBox::from_raw(data));
            raw::free_netdev(dev);
        }
    }
}

fn c_int_of(n: usize) -> Result<kernel::ffi::c_int> {
    kernel::ffi::c_int::try_from(n).map_err(|_| EINVAL)
}
