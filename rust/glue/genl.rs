// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).
//!
//! A [`Family`] is a `static` built at compile time from its name, its
//! attribute [`Policy`], its [`SmallOp`]s (one per [`Command`]) and its
//! [`MulticastGroup`]s; the genetlink core writes into it (`id`,
//! `mcgrp_offset`) once registered, hence the interior mutability.
//! [`Family::register`] returns the [`Registration`] that unregisters it
//! when dropped. Requests arrive as an [`Info`] whose attributes the core
//! has validated against the policy; replies and notifications are built
//! as [`Message`]s.

use crate::bindings as raw;
use core::{cell::UnsafeCell, marker::PhantomData, ptr::NonNull};
use kernel::{error::from_result, error::to_result, ffi::c_char, prelude::*, str::CStr};

/// Size of the name fields of families and multicast groups, with the NUL.
const NAME_SIZE: usize = 16;

/// Copies a name into a fixed C string field at compile time.
///
/// Fails the build if the name does not fit.
const fn c_name(name: &CStr) -> [c_char; NAME_SIZE] {
    let bytes = name.as_bytes_with_nul();
    assert!(
        bytes.len() <= NAME_SIZE,
        "generic netlink names have at most 15 bytes"
    );
    let mut out = [0; NAME_SIZE];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// A request handled by a generic netlink family.
pub trait Command {
    /// The command number (`genlmsghdr.cmd`).
    const CMD: u8;

    /// Whether the caller needs `CAP_NET_ADMIN` in the device's network
    /// namespace.
    const ADMIN_ONLY: bool = true;

    /// Handles one request.
    fn doit(info: &mut Info<'_>) -> Result;
}

/// The request being handled (`struct genl_info` and its message).
pub struct Info<'a> {
    skb: *mut raw::sk_buff,
    info: *mut raw::genl_info,
    _lifetime: PhantomData<&'a mut raw::genl_info>,
}

impl Info<'_> {
    /// The sequence number of the request.
    pub fn sequence(&self) -> u32 {
        // SAFETY: `info` is valid for the request (type invariant).
        unsafe { (*self.info).snd_seq }
    }

    /// Acknowledges the request now, if it asked for an ack, instead of
    /// after the operation returns; netlink then sends no second ack.
    ///
    /// Messages that other contexts send to the requester afterwards (the
    /// notifications of work the request started) then reach it after the
    /// ack, as clients such as ethtool expect. Only for requests that
    /// succeed: the operation must return `Ok` afterwards.
    pub fn ack_now(&mut self) {
        // SAFETY: `info` is valid for the request (type invariant) and its
        // `nlhdr` points into the request message, which the netlink core
        // gave us to process and does not read concurrently.
        unsafe {
            let nlh = (*self.info).nlhdr.cast_mut();
            if (*nlh).nlmsg_flags & raw::NLM_F_ACK as u16 == 0 {
                return;
            }
            raw::netlink_ack(self.skb, nlh, 0, core::ptr::null());
            // netlink_rcv_skb() acks again only if the flag is still set
            // (or the operation failed).
            (*nlh).nlmsg_flags &= !(raw::NLM_F_ACK as u16);
        }
    }

    /// The netlink port of the requesting socket.
    pub fn sender_portid(&self) -> u32 {
        // SAFETY: `info` is valid for the request (type invariant).
        unsafe { (*self.info).snd_portid }
    }

    /// The network namespace of the requesting socket.
    pub fn net(&self) -> Net {
        // SAFETY: `info` is valid for the request (type invariant), and so
        // is the namespace it refers to.
        let net = unsafe { raw::cmis_helper_genl_info_net(self.info) };
        // SAFETY: A request always comes from a socket in a namespace, so
        // `net` is non-null and live (see above).
        unsafe { Net::get(NonNull::new_unchecked(net)) }
    }

    /// Attribute `index` of the request, if present. The genetlink core
    /// has validated it against the family's policy.
    pub fn attr(&self, index: u16) -> Option<Attr<'_>> {
        // SAFETY: `info` is valid for the request (type invariant); its
        // family is the one the request came for.
        let (attrs, maxattr) = unsafe { ((*self.info).attrs, (*(*self.info).family).maxattr) };
        if attrs.is_null() || u32::from(index) > maxattr {
            return None;
        }
        // SAFETY: With a policy, `attrs` has `maxattr + 1` entries, each
        // null or pointing to an attribute of the request message.
        let nla = unsafe { *attrs.add(index.into()) };
        // SAFETY: A non-null entry is a validated attribute that lives as
        // long as the request.
        NonNull::new(nla).map(|nla| unsafe { Attr::from_raw(nla) })
    }

    /// Sets the extended ack message userspace receives with the error.
    pub fn set_error_message(&mut self, msg: &'static CStr) {
        // SAFETY: `info` is valid for the duration of the request (type
        // invariant of `Info`); `extack` is either null or valid, and the
        // message is static as NL_SET_ERR_MSG requires.
        unsafe {
            let extack = (*self.info).extack;
            if !extack.is_null() {
                (*extack)._msg = msg.as_char_ptr();
            }
        }
    }
}

/// Header length of an attribute (`NLA_HDRLEN`).
const NLA_HDRLEN: usize = 4;
/// Attribute type bits (`NLA_TYPE_MASK`).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// An attribute of a request (`struct nlattr` and its payload).
#[derive(Clone, Copy)]
pub struct Attr<'a> {
    payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// # Safety
    ///
    /// `nla` points to a well-formed attribute (its length covers its
    /// payload) that lives for `'a`.
    unsafe fn from_raw(nla: NonNull<raw::nlattr>) -> Self {
        // SAFETY: The caller guarantees a valid attribute header.
        let len = usize::from(unsafe { (*nla.as_ptr()).nla_len });
        let payload_len = len.saturating_sub(NLA_HDRLEN);
        // SAFETY: The payload follows the header and is `nla_len` minus the
        // header long; it lives for `'a`.
        let payload = unsafe {
            core::slice::from_raw_parts(nla.as_ptr().cast::<u8>().add(NLA_HDRLEN), payload_len)
        };
        Self { payload }
    }

    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload as a `u32` (an `NLA_U32` attribute).
    pub fn u32(&self) -> Option<u32> {
        let b = self.payload.get(..4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The payload up to its first NUL (an `NLA_NUL_STRING` attribute).
    pub fn c_str(&self) -> Option<&'a CStr> {
        let end = self.payload.iter().position(|&b| b == 0)?;
        CStr::from_bytes_with_nul(&self.payload[..=end]).ok()
    }

    /// The attributes nested in this one, as (type, attribute) pairs.
    pub fn nested(&self) -> Nested<'a> {
        Nested { rest: self.payload }
    }
}

/// Iterator over nested attributes; stops at the first malformed one.
pub struct Nested<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Nested<'a> {
    type Item = (u16, Attr<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let hdr = self.rest.get(..NLA_HDRLEN)?;
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        let kind = u16::from_ne_bytes([hdr[2], hdr[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let payload = &self.rest[NLA_HDRLEN..len];
        let aligned = len.next_multiple_of(4).min(self.rest.len());
        self.rest = &self.rest[aligned..];
        Some((kind, Attr { payload }))
    }
}

/// The validation rule of one attribute (`struct nla_policy`).
#[repr(transparent)]
pub struct Policy(raw::nla_policy);

// SAFETY: A policy is immutable once built; its only pointer is to another
// `'static` policy table.
unsafe impl Sync for Policy {}

impl Policy {
    const fn of_type(kind: u32, len: u16) -> Self {
        // SAFETY: All-zero is a valid `nla_policy` (NLA_UNSPEC, no
        // validation, null pointers).
        let mut p: raw::nla_policy = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
        p.type_ = kind as u8;
        p.len = len;
        Self(p)
    }

    /// An attribute number that is not used: rejected by strict
    /// validation.
    pub const fn unused() -> Self {
        Self::of_type(raw::NLA_UNSPEC, 0)
    }

    /// A 32-bit unsigned integer.
    pub const fn u32() -> Self {
        Self::of_type(raw::NLA_U32, 0)
    }

    /// A NUL-terminated string of at most `max_len` bytes before the NUL.
    pub const fn nul_string(max_len: u16) -> Self {
        Self::of_type(raw::NLA_NUL_STRING, max_len)
    }

    /// A nest whose attributes follow `policy` (index = attribute type).
    pub const fn nested(policy: &'static [Policy]) -> Self {
        assert!(!policy.is_empty() && policy.len() <= u16::MAX as usize);
        let mut p = Self::of_type(raw::NLA_NESTED, (policy.len() - 1) as u16);
        p.0.__bindgen_anon_1.nested_policy = policy.as_ptr().cast::<raw::nla_policy>();
        p
    }
}

/// A network namespace reference (`get_net`/`put_net`).
pub struct Net(NonNull<raw::net>);

// SAFETY: A counted namespace reference may be used and dropped from any
// thread.
unsafe impl Send for Net {}
// SAFETY: `&Net` only hands the pointer to thread-safe kernel functions.
unsafe impl Sync for Net {}

impl Net {
    /// Takes a reference to `net`.
    ///
    /// # Safety
    ///
    /// `net` is a live network namespace.
    pub(crate) unsafe fn get(net: NonNull<raw::net>) -> Self {
        // SAFETY: The caller guarantees `net` is live.
        unsafe { raw::cmis_helper_get_net(net.as_ptr()) };
        // INVARIANT: `get_net` took a reference.
        Self(net)
    }

    pub(crate) fn as_ptr(&self) -> *mut raw::net {
        self.0.as_ptr()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { raw::cmis_helper_put_net(self.0.as_ptr()) };
    }
}

/// A generic netlink message being built (an `sk_buff` with the netlink
/// and genetlink headers in place). Dropped unsent, it is freed.
pub struct Message {
    skb: NonNull<raw::sk_buff>,
    hdr: NonNull<kernel::ffi::c_void>,
}

impl Message {
    /// A message of `family` for command `cmd`, addressed from `portid`
    /// (0 for notifications) with sequence number `seq`.
    pub fn new(family: &'static Family, portid: u32, seq: u32, cmd: u8) -> Result<Self> {
        // SAFETY: No preconditions; may sleep (GFP_KERNEL).
        let skb = NonNull::new(unsafe { raw::cmis_helper_genlmsg_new() }).ok_or(ENOMEM)?;
        // SAFETY: `skb` is a fresh message buffer, the family is `'static`.
        let hdr =
            unsafe { raw::genlmsg_put(skb.as_ptr(), portid, seq, family.inner.get(), 0, cmd) };
        match NonNull::new(hdr) {
            Some(hdr) => Ok(Self { skb, hdr }),
            None => {
                // SAFETY: `skb` is ours and not sent.
                unsafe { raw::cmis_helper_nlmsg_free(skb.as_ptr()) };
                Err(crate::errno::emsgsize())
            }
        }
    }

    /// Appends a `u32` attribute.
    pub fn put_u32(&mut self, kind: u16, value: u32) -> Result {
        // SAFETY: `skb` is ours and not sent (type invariant).
        to_result(unsafe { raw::cmis_helper_nla_put_u32(self.skb.as_ptr(), kind.into(), value) })
    }

    /// Appends a variable-size unsigned integer attribute (`NLA_UINT`).
    pub fn put_uint(&mut self, kind: u16, value: u64) -> Result {
        // SAFETY: As above.
        to_result(unsafe { raw::cmis_helper_nla_put_uint(self.skb.as_ptr(), kind.into(), value) })
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_string(&mut self, kind: u16, value: &CStr) -> Result {
        // SAFETY: As above; `value` is NUL-terminated.
        to_result(unsafe {
            raw::cmis_helper_nla_put_string(self.skb.as_ptr(), kind.into(), value.as_char_ptr())
        })
    }

    /// Appends a nest filled by `fill`.
    pub fn put_nested(&mut self, kind: u16, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: As above.
        let start = unsafe { raw::cmis_helper_nla_nest_start(self.skb.as_ptr(), kind.into()) };
        if start.is_null() {
            return Err(crate::errno::emsgsize());
        }
        fill(self)?;
        // SAFETY: `start` is the nest opened above in this message.
        unsafe { raw::cmis_helper_nla_nest_end(self.skb.as_ptr(), start) };
        Ok(())
    }

    /// Finishes the message and hands over the buffer.
    fn finish(self) -> *mut raw::sk_buff {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` was returned by `genlmsg_put` for this `skb`.
        unsafe { raw::cmis_helper_genlmsg_end(me.skb.as_ptr(), me.hdr.as_ptr()) };
        me.skb.as_ptr()
    }

    /// Sends the message to one socket.
    pub fn unicast(self, net: &Net, portid: u32) -> Result {
        let skb = self.finish();
        // SAFETY: `skb` is a finished message; `genlmsg_unicast` consumes it
        // whatever the outcome.
        to_result(unsafe { raw::cmis_helper_genlmsg_unicast(net.as_ptr(), skb, portid) })
    }

    /// Sends the message to multicast group `group` (index in the
    /// family's groups) of `family` in `net`.
    pub fn multicast(self, family: &'static Family, net: &Net, group: u32) -> Result {
        let skb = self.finish();
        // SAFETY: As above; the family is registered while messages of it
        // are built (callers send from its operations or work they own).
        to_result(unsafe {
            raw::cmis_helper_genlmsg_multicast_netns(family.inner.get(), net.as_ptr(), skb, group)
        })
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: The message was not sent (sending consumes `self` without
        // running this).
        unsafe { raw::cmis_helper_nlmsg_free(self.skb.as_ptr()) };
    }
}

// SAFETY: The buffer is exclusively ours until sent.
unsafe impl Send for Message {}

/// One operation of a family (`struct genl_small_ops`).
#[repr(transparent)]
pub struct SmallOp(raw::genl_small_ops);

/// Calls `C::doit` for a request.
///
/// # Safety
///
/// Called by the genetlink core with a valid `info` for the request.
unsafe extern "C" fn doit_callback<C: Command>(
    skb: *mut raw::sk_buff,
    info: *mut raw::genl_info,
) -> kernel::ffi::c_int {
    from_result(|| {
        // INVARIANT: `info` is valid for this call (see the safety section).
        let mut info = Info {
            skb,
            info,
            _lifetime: PhantomData,
        };
        C::doit(&mut info)?;
        Ok(0)
    })
}

impl SmallOp {
    /// The operation for command `C`, with strict attribute validation.
    pub const fn new<C: Command>() -> Self {
        Self(raw::genl_small_ops {
            doit: Some(doit_callback::<C>),
            dumpit: None,
            cmd: C::CMD,
            internal_flags: 0,
            flags: if C::ADMIN_ONLY {
                raw::GENL_UNS_ADMIN_PERM as u8
            } else {
                0
            },
            validate: 0,
        })
    }
}

/// A multicast group of a family (`struct genl_multicast_group`).
#[repr(transparent)]
pub struct MulticastGroup(raw::genl_multicast_group);

impl MulticastGroup {
    /// A group that any process may join.
    pub const fn new(name: &CStr) -> Self {
        Self(raw::genl_multicast_group {
            name: c_name(name),
            flags: 0,
        })
    }
}

/// A generic netlink family.
///
/// # Invariants
///
/// `inner` holds a `genl_family` whose pointers refer to `'static` data;
/// while registered, only the genetlink core writes to it.
pub struct Family {
    inner: UnsafeCell<raw::genl_family>,
}

// SAFETY: The family is only written before registration (by
// `Family::register`, which requires exclusive registration through
// `genl_register_family`'s own locking) and by the genetlink core under its
// own locks; everything it points to is `'static` and immutable.
unsafe impl Sync for Family {}

impl Family {
    /// A family called `name` (at most 15 bytes) whose attributes follow
    /// `policy` (index = attribute type, so `policy.len() - 1` is the
    /// largest), serving `ops` and `mcgrps`, available in every network
    /// namespace.
    pub const fn new(
        name: &CStr,
        version: u32,
        policy: &'static [Policy],
        ops: &'static [SmallOp],
        mcgrps: &'static [MulticastGroup],
    ) -> Self {
        assert!(ops.len() <= u8::MAX as usize && mcgrps.len() <= u8::MAX as usize);
        assert!(!policy.is_empty());
        // SAFETY: All-zero is a valid `genl_family`: null pointers, no ops.
        let mut f: raw::genl_family = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
        f.name = c_name(name);
        f.version = version;
        f.policy = policy.as_ptr().cast::<raw::nla_policy>();
        f.maxattr = (policy.len() - 1) as u32;
        f.small_ops = ops.as_ptr().cast::<raw::genl_small_ops>();
        f.n_small_ops = ops.len() as u8;
        // 0: every command gets strict header and attribute validation,
        // as required of new families.
        f.resv_start_op = 0;
        f.mcgrps = mcgrps.as_ptr().cast::<raw::genl_multicast_group>();
        f.n_mcgrps = mcgrps.len() as u8;
        // INVARIANT: `policy`, `ops` and `mcgrps` are `'static`.
        Self {
            inner: UnsafeCell::new(f),
        }
    }

    /// Registers the family on behalf of `module`, under `name` if given
    /// (at most 15 bytes) rather than the one it was built with.
    ///
    /// Fails with `EEXIST` if a family of that name is registered already
    /// (including this one), `EINVAL` if `name` is too long.
    pub fn register(
        &'static self,
        module: &'static ThisModule,
        name: Option<&CStr>,
    ) -> Result<Registration> {
        let f = self.inner.get();
        let name = match name {
            Some(n) if n.as_bytes_with_nul().len() > NAME_SIZE => return Err(EINVAL),
            Some(n) => Some(n),
            None => None,
        };
        // SAFETY: An unregistered family is not read by the kernel, so
        // setting its owner, name and flags cannot race with the genetlink
        // core; a module registers its family once, from its init.
        unsafe {
            (*f).module = module.as_ptr().cast::<raw::module>();
            (*f).set_netnsok(1);
            if let Some(n) = name {
                // The kernel's `char` is `u8`; the length was checked above.
                let field = &mut (*f).name;
                field.fill(0);
                field[..n.len()].copy_from_slice(n.as_bytes());
            }
        }
        // SAFETY: `f` is a valid family whose pointers are `'static`.
        to_result(unsafe { raw::genl_register_family(f) })?;
        Ok(Registration { family: self })
    }

    /// The name the family is registered under.
    pub fn name(&self) -> &CStr {
        // SAFETY: The name is written before registration only and always
        // NUL-terminated (it holds at most 15 bytes).
        let name: &[u8; NAME_SIZE] = unsafe { &(*self.inner.get()).name };
        let end = name.iter().position(|&b| b == 0).unwrap_or(NAME_SIZE - 1);
        CStr::from_bytes_with_nul(&name[..=end]).unwrap_or(kernel::c_str!(""))
    }

    /// The family id the kernel assigned, valid while registered.
    pub fn id(&self) -> u16 {
        // SAFETY: `id` is written once by `genl_register_family`; reading an
        // integer field cannot observe an invalid value.
        let id = unsafe { (*self.inner.get()).id };
        id as u16
    }
}

/// A registered [`Family`]; dropping it unregisters the family.
pub struct Registration {
    family: &'static Family,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: The family was registered by `Family::register`.
        // `genl_unregister_family` waits for running operations.
        unsafe { raw::genl_unregister_family(self.family.inner.get()) };
    }
}
