// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families with request operations.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h).
//!
//! Linux 7.3's `kernel::net::netlink` registers families that only have
//! multicast groups; a family here also serves requests. A [`Family`] is a
//! `static` built at compile time from its name, its attribute [`Policy`],
//! its [`SmallOp`]s (one per [`Command`]) and its [`MulticastGroup`]s
//! (the kernel crate's lack the capability flags); the genetlink core
//! writes into it
//! (`id`, `mcgrp_offset`) once registered, hence the [`Opaque`].
//! [`Family::register`] hands the family a context, an [`Arc`] that every
//! request's [`Command::doit`] borrows, and returns the [`Registration`]
//! that unregisters the family, then releases the context, when dropped.
//! Requests arrive as an [`Info`] whose attributes the core has validated
//! against the policy; replies and notifications are built as
//! [`Message`]s.

use crate::bindings as raw;
use crate::notifier;
use crate::tracked::Trackable;
use core::{
    fmt,
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    error::{from_result, to_result},
    ffi::{c_char, c_int, c_void},
    prelude::*,
    sync::{
        aref::{ARef, AlwaysRefCounted},
        Arc, ArcBorrow,
    },
    types::{ForeignOwnable, Opaque},
};

/// Size of the name fields of families and multicast groups, with the NUL.
const NAME_SIZE: usize = 16;

/// Copies a name into a fixed C string field at compile time.
///
/// Fails the build if the name does not fit.
const fn c_name(name: &CStr) -> [c_char; NAME_SIZE] {
    let bytes = name.to_bytes_with_nul();
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

/// A request handled by a generic netlink family whose context is
/// `Self::Context`.
pub trait Command {
    /// The context of the family serving the command.
    type Context: Send + Sync + 'static;

    /// The command number (`genlmsghdr.cmd`).
    const CMD: u8;

    /// Whether the caller needs `CAP_NET_ADMIN` in the device's network
    /// namespace.
    const ADMIN_ONLY: bool = true;

    /// Handles one request.
    fn doit(ctx: ArcBorrow<'_, Self::Context>, info: &mut Info<'_>) -> Result;

    /// Whether the command answers dump requests too ([`Command::dumpit`]).
    const DUMP: bool = false;

    /// Adds the next part of a dump's reply to `dump`: `Ok(true)` if more
    /// follows, `Ok(false)` at the end. Called again with a fresh buffer
    /// until then; [`Dump::cursor`] keeps the place between calls.
    fn dumpit(_ctx: ArcBorrow<'_, Self::Context>, _dump: &mut Dump<'_>) -> Result<bool> {
        Err(EOPNOTSUPP)
    }
}

/// The request being handled (`struct genl_info` and its message).
///
/// # Invariants
///
/// `info` and `skb` are the genetlink core's request for the duration of
/// `'a`, the call of the operation; `maxattr` is its family's.
pub struct Info<'a> {
    skb: *mut raw::sk_buff,
    info: &'a raw::genl_info,
    maxattr: u32,
}

impl Info<'_> {
    fn raw(&self) -> &raw::genl_info {
        self.info
    }

    /// The sequence number of the request.
    pub fn sequence(&self) -> u32 {
        self.raw().snd_seq
    }

    /// Acknowledges the request now, if it asked for an ack, instead of
    /// after the operation returns; netlink then sends no second ack.
    ///
    /// Messages that other contexts send to the requester afterwards (the
    /// notifications of work the request started) then reach it after the
    /// ack, as clients such as ethtool expect. Only for requests that
    /// succeed: the operation must return `Ok` afterwards.
    pub fn ack_now(&mut self) {
        // SAFETY: `skb` and `info` are the request (type invariant), which
        // the netlink core gave us to process and does not touch while we
        // run.
        unsafe { raw::cmis_helper_genl_ack_now(self.skb, self.raw()) };
    }

    /// The netlink port of the requesting socket.
    pub fn sender_portid(&self) -> u32 {
        self.raw().snd_portid
    }

    /// The network namespace of the requesting socket (always there).
    pub fn net(&self) -> Option<ARef<Net>> {
        // SAFETY: `info` is valid for the request (type invariant); the
        // helper takes a reference on its namespace and hands it over.
        unsafe { Net::from_held(raw::cmis_helper_genl_info_get_net(self.raw())) }
    }

    /// Attribute `index` of the request, if present. The genetlink core
    /// has validated it against the family's policy.
    pub fn attr(&self, index: u16) -> Option<Attr<'_>> {
        let info = self.raw();
        if info.attrs.is_null() || u32::from(index) > self.maxattr {
            return None;
        }
        // SAFETY: With a policy, `attrs` has `maxattr + 1` entries.
        let nla = unsafe { *info.attrs.add(index.into()) };
        // SAFETY: A non-null entry is a validated attribute of the request
        // message, which lives as long as the request.
        NonNull::new(nla).map(|nla| unsafe { Attr::from_raw(nla) })
    }

    /// The request's extended ack, which operations called on its behalf
    /// (a driver's) may fill.
    pub fn extack(&self) -> ExtAck<'_> {
        // INVARIANT: The request's extack (or null) for the request.
        ExtAck {
            ptr: self.raw().extack,
            _request: PhantomData,
        }
    }

    /// Sets the extended ack message userspace receives with the error.
    pub fn set_error_message(&self, msg: &'static CStr) {
        self.extack().set_message(msg);
    }

    /// Sets an extended ack message formatted from `args` (cut to 79
    /// bytes: `NL_SET_ERR_MSG_FMT`).
    pub fn set_error_message_fmt(&self, args: fmt::Arguments<'_>) {
        self.extack().set_message_fmt(args);
    }

    /// Takes back the extended ack's message (a driver's, of an error
    /// that did not decide the outcome).
    pub fn clear_error_message(&self) {
        self.extack().clear_message();
    }

    /// Whether the extended ack has a message already (e.g. a driver's).
    pub fn has_error_message(&self) -> bool {
        self.extack().has_message()
    }

    /// Names `attr`, an attribute of this request, as the one in error
    /// (`NL_SET_BAD_ATTR`).
    pub fn set_error_attr(&self, attr: Attr<'_>) {
        self.extack().set_bad_attr(attr);
    }

    /// Reports that the request lacks top-level attribute `kind`
    /// (`NL_SET_ERR_ATTR_MISS` without a nest).
    pub fn set_missing_attr(&self, kind: u16) {
        self.extack().set_missing(kind);
    }
}

/// A dump request being answered (`struct netlink_callback`): its
/// request, its place, and the buffer the netlink core gave for this part
/// of the reply.
///
/// # Invariants
///
/// `cb` is the dump's callback and `out` this call's reply buffer, both
/// the netlink core's for `'a`; `family` is the family serving the dump.
pub struct Dump<'a> {
    request: Info<'a>,
    cb: NonNull<raw::netlink_callback>,
    out: NonNull<raw::sk_buff>,
    family: *const raw::genl_family,
}

impl Dump<'_> {
    /// The request: its attributes (validated against the family's
    /// policy), namespace, port, sequence number and extack.
    pub fn request(&self) -> &Info<'_> {
        &self.request
    }

    /// The place the dump has reached (0 at its start).
    pub fn cursor(&self) -> u64 {
        // SAFETY: `cb` is the dump's callback for this call (type
        // invariant); `args` (of the union with `ctx`) is ours to keep
        // state in, as no other user of the union exists for a genetlink
        // dump without `start`.
        let arg = unsafe { (*self.cb.as_ptr()).__bindgen_anon_1.args[0] };
        // Only `set_cursor` writes it, from a u64 that fit.
        u64::try_from(arg).unwrap_or(u64::MAX)
    }

    /// Records the place the dump has reached, for its next call (a place
    /// beyond `isize::MAX` is kept as that).
    pub fn set_cursor(&mut self, cursor: u64) {
        let arg = isize::try_from(cursor).unwrap_or(isize::MAX);
        // SAFETY: As in `cursor`.
        unsafe { (*self.cb.as_ptr()).__bindgen_anon_1.args[0] = arg };
    }

    /// A message for command `cmd` in this part of the reply
    /// (`NLM_F_MULTI`); `EMSGSIZE` if the buffer has no room left.
    pub fn message(&mut self, cmd: u8) -> Result<DumpMessage<'_>> {
        let (portid, seq) = (self.request.sender_portid(), self.request.sequence());
        let out = self.out.as_ptr();
        // SAFETY: `out` is this call's reply buffer and `family` the dump's
        // family (type invariant).
        let hdr = unsafe {
            raw::genlmsg_put(
                out,
                portid,
                seq,
                self.family,
                raw::NLM_F_MULTI as c_int,
                cmd,
            )
        };
        // INVARIANT: `hdr` is the header just put into `out`, this call's
        // buffer, which the message borrows the dump for.
        Ok(DumpMessage {
            skb: self.out,
            hdr: NonNull::new(hdr).ok_or(EMSGSIZE)?,
            _dump: PhantomData,
        })
    }
}

/// A message in a dump's reply buffer, being built: [`DumpMessage::end`]
/// keeps it; dropped before, it is taken out of the buffer again (so a
/// part that does not fit leaves the buffer as it was). Its attributes
/// are written through [`Attrs`].
///
/// # Invariants
///
/// `skb` is the reply buffer of the dump call borrowed for `'a`, `hdr` the
/// message's header in it.
pub struct DumpMessage<'a> {
    skb: NonNull<raw::sk_buff>,
    hdr: NonNull<c_void>,
    _dump: PhantomData<&'a mut ()>,
}

impl DumpMessage<'_> {
    /// Keeps the message in the reply.
    pub fn end(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` was put into this buffer by `genlmsg_put` (type
        // invariant).
        unsafe { raw::genlmsg_end(this.skb.as_ptr(), this.hdr.as_ptr()) };
    }
}

impl core::ops::Deref for DumpMessage<'_> {
    type Target = Attrs;

    fn deref(&self) -> &Attrs {
        // SAFETY: The dump's buffer, valid while the message borrows the
        // dump (type invariant).
        unsafe { Attrs::from_raw(self.skb.as_ptr()) }
    }
}

impl Drop for DumpMessage<'_> {
    fn drop(&mut self) {
        // SAFETY: `hdr` is this message's header in the dump's buffer,
        // which the core owns: the message is cut out of it again.
        unsafe { raw::cmis_helper_genlmsg_cancel(self.skb.as_ptr(), self.hdr.as_ptr()) };
    }
}

/// The extended ack of a request, for the operations called on its
/// behalf (`struct netlink_ext_ack`).
///
/// # Invariants
///
/// `ptr` is null or the extack of a request being handled for `'a`.
pub struct ExtAck<'a> {
    ptr: *mut raw::netlink_ext_ack,
    _request: PhantomData<&'a mut raw::netlink_ext_ack>,
}

impl ExtAck<'_> {
    /// The pointer to hand to an operation that takes an extack; null
    /// (allowed by such operations) if the request has none.
    pub fn as_ptr(&self) -> *mut raw::netlink_ext_ack {
        self.ptr
    }

    /// Sets the message userspace receives with the error
    /// (`NL_SET_ERR_MSG`).
    pub fn set_message(&self, msg: &'static CStr) {
        if !self.ptr.is_null() {
            // SAFETY: A non-null extack is the request's, valid for the
            // request (type invariant); the message is static, as
            // NL_SET_ERR_MSG requires.
            unsafe { (*self.ptr)._msg = msg.as_char_ptr() };
        }
    }

    /// Sets a message formatted from `args`, cut to the extack's own
    /// buffer (`NL_SET_ERR_MSG_FMT`: `NETLINK_MAX_FMTMSG_LEN` bytes, its
    /// NUL included).
    pub fn set_message_fmt(&self, args: fmt::Arguments<'_>) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: A non-null extack is valid for the request (type
        // invariant), and nothing else writes it while the request is
        // handled.
        let buf = unsafe { &mut (*self.ptr)._msg_buf };
        let mut w = MsgBuf { buf, len: 0 };
        // Longer text is cut, not lost.
        let _ = fmt::write(&mut w, args);
        let end = w.len;
        w.buf[end] = 0;
        // SAFETY: As above; `_msg` points into the extack's own buffer,
        // which lives as long as it, and the buffer is NUL-terminated.
        unsafe { (*self.ptr)._msg = (*self.ptr)._msg_buf.as_ptr() };
    }

    /// Removes the message, if any.
    pub fn clear_message(&self) {
        if !self.ptr.is_null() {
            // SAFETY: A non-null extack is valid for the request (type
            // invariant); no message is a null pointer.
            unsafe { (*self.ptr)._msg = core::ptr::null() };
        }
    }

    /// Whether a message is set already (e.g. a driver's).
    pub fn has_message(&self) -> bool {
        // SAFETY: A non-null extack is valid for the request.
        !self.ptr.is_null() && unsafe { !(*self.ptr)._msg.is_null() }
    }

    /// Names `attr`, an attribute of the request, as the one in error
    /// (`NL_SET_BAD_ATTR`).
    pub fn set_bad_attr(&self, attr: Attr<'_>) {
        if !self.ptr.is_null() {
            // SAFETY: A non-null extack is valid for the request; `attr`
            // points into the request message, as the extack requires.
            unsafe { (*self.ptr).bad_attr = attr.as_ptr() };
        }
    }

    /// Reports that the request lacks top-level attribute `kind`
    /// (`NL_SET_ERR_ATTR_MISS` without a nest).
    pub fn set_missing(&self, kind: u16) {
        if !self.ptr.is_null() {
            // SAFETY: A non-null extack is valid for the request; a null
            // nest means the top level.
            unsafe {
                (*self.ptr).miss_type = kind;
                (*self.ptr).miss_nest = core::ptr::null();
            }
        }
    }
}

/// The extack's message buffer being formatted into: room is kept for the
/// NUL.
struct MsgBuf<'a> {
    buf: &'a mut [c_char],
    len: usize,
}

impl fmt::Write for MsgBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len().saturating_sub(1 + self.len);
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        for (d, b) in self.buf[self.len..self.len + n].iter_mut().zip(s.bytes()) {
            *d = b as c_char;
        }
        self.len += n;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
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
    /// The header and the payload.
    whole: &'a [u8],
}

impl<'a> Attr<'a> {
    /// # Safety
    ///
    /// `nla` points to a well-formed attribute (its length covers its
    /// header and payload) that lives for `'a`.
    unsafe fn from_raw(nla: NonNull<raw::nlattr>) -> Self {
        // SAFETY: The caller guarantees a valid attribute header.
        let len = usize::from(unsafe { nla.as_ref() }.nla_len).max(NLA_HDRLEN);
        // SAFETY: The attribute is `nla_len` bytes long, at least its
        // header; it lives for `'a`.
        let whole = unsafe { core::slice::from_raw_parts(nla.as_ptr().cast::<u8>(), len) };
        Self { whole }
    }

    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        &self.whole[NLA_HDRLEN..]
    }

    fn as_ptr(&self) -> *const raw::nlattr {
        self.whole.as_ptr().cast()
    }

    /// The payload as a `u32` (an `NLA_U32` attribute).
    pub fn u32(&self) -> Option<u32> {
        let b = self.payload().get(..4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The payload up to its first NUL (an `NLA_NUL_STRING` attribute).
    pub fn c_str(&self) -> Option<&'a CStr> {
        let payload = self.payload();
        let end = payload.iter().position(|&b| b == 0)?;
        CStr::from_bytes_with_nul(&payload[..=end]).ok()
    }

    /// The attributes nested in this one, as (type, attribute) pairs.
    pub fn nested(&self) -> Nested<'a> {
        Nested {
            rest: self.payload(),
        }
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
        let whole = &self.rest[..len];
        let aligned = len.next_multiple_of(4).min(self.rest.len());
        self.rest = &self.rest[aligned..];
        Some((kind, Attr { whole }))
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
        Self(raw::nla_policy {
            type_: kind as u8,
            len,
            ..pin_init::zeroed()
        })
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

    /// A 32-bit unsigned integer with no bits outside `mask`
    /// (`NLA_POLICY_MASK(NLA_U32, mask)`).
    pub const fn u32_mask(mask: u32) -> Self {
        let mut p = Self::of_type(raw::NLA_U32, 0);
        p.0.validation_type = raw::nla_policy_validation_NLA_VALIDATE_MASK as u8;
        p.0.__bindgen_anon_1.mask = mask;
        p
    }

    /// A flag: present or not, no payload.
    pub const fn flag() -> Self {
        Self::of_type(raw::NLA_FLAG, 0)
    }

    /// A NUL-terminated string of at most `max_len` bytes before the NUL.
    pub const fn nul_string(max_len: u16) -> Self {
        Self::of_type(raw::NLA_NUL_STRING, max_len)
    }

    /// Bytes, at most `max_len` of them (`NLA_BINARY`).
    pub const fn binary(max_len: u16) -> Self {
        Self::of_type(raw::NLA_BINARY, max_len)
    }

    /// A nest whose attributes follow `policy` (index = attribute type).
    pub const fn nested(policy: &'static [Policy]) -> Self {
        assert!(!policy.is_empty() && policy.len() <= u16::MAX as usize);
        let mut p = Self::of_type(raw::NLA_NESTED, (policy.len() - 1) as u16);
        p.0.__bindgen_anon_1.nested_policy = policy.as_ptr().cast::<raw::nla_policy>();
        p
    }
}

/// A network namespace (`struct net`), reference counted with
/// `get_net`/`put_net`: held as an [`ARef<Net>`].
#[repr(transparent)]
pub struct Net(Opaque<raw::net>);

// SAFETY: The namespace's reference count is `get_net`/`put_net`; a
// reference keeps it alive.
unsafe impl AlwaysRefCounted for Net {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live namespace (a reference to it exists).
        unsafe { raw::cmis_helper_get_net(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller hands over one reference (`dec_ref`'s
        // contract); `Net` is a transparent wrapper of `struct net`.
        unsafe { raw::cmis_helper_put_net(obj.as_ptr().cast()) };
    }
}

// SAFETY: A counted namespace reference may be used and dropped from any
// thread.
unsafe impl Send for Net {}
// SAFETY: `&Net` only hands the pointer to thread-safe kernel functions.
unsafe impl Sync for Net {}

// SAFETY: `get_net_track` takes a reference and records it in the
// tracker, `put_net_track` gives back one so taken; the tracker is a
// pointer to the record, which holds no pointer back to it.
unsafe impl Trackable for Net {
    type Tracker = raw::netns_tracker;

    unsafe fn hold(obj: *mut Self, tracker: *mut Self::Tracker) {
        // SAFETY: The caller's contract; `Net` is a transparent wrapper of
        // `struct net`.
        unsafe { raw::cmis_helper_get_net_track(obj.cast(), tracker) }
    }

    unsafe fn put(obj: *mut Self, tracker: *mut Self::Tracker) {
        // SAFETY: As above.
        unsafe { raw::cmis_helper_put_net_track(obj.cast(), tracker) }
    }
}

impl Net {
    /// # Safety
    ///
    /// `net` is null or a namespace on which the caller hands over one
    /// reference.
    pub(crate) unsafe fn from_held(net: *mut raw::net) -> Option<ARef<Self>> {
        let net = NonNull::new(net.cast::<Self>())?;
        // SAFETY: The caller hands over a reference; `Net` is a transparent
        // wrapper of `struct net`.
        Some(unsafe { ARef::from_raw(net) })
    }

    pub(crate) fn as_ptr(&self) -> *mut raw::net {
        self.0.get()
    }
}

/// A netlink message buffer we own, not sent yet; freed when dropped.
struct Skb(NonNull<raw::sk_buff>);

impl Skb {
    fn as_ptr(&self) -> *mut raw::sk_buff {
        self.0.as_ptr()
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: The buffer is ours and was not sent (sending gives it up
        // without running this).
        unsafe { raw::nlmsg_free(self.as_ptr()) };
    }
}

// SAFETY: The buffer is exclusively ours until sent.
unsafe impl Send for Skb {}

impl Skb {
    /// A fresh buffer for a message of up to `payload` bytes after the
    /// headers.
    fn new(payload: usize) -> Result<Self> {
        // SAFETY: No preconditions; may sleep (GFP_KERNEL).
        let skb = unsafe { raw::genlmsg_new(payload, raw::GFP_KERNEL) };
        Ok(Self(NonNull::new(skb).ok_or(ENOMEM)?))
    }
}

/// A message buffer set aside for one message that must go out whatever
/// the memory is then (a flash's last notification), taken once by
/// [`Message::new_in`]; freed when dropped untaken.
///
/// # Invariants
///
/// `skb` is null or a buffer we own, not sent.
pub struct Reserve {
    skb: AtomicPtr<raw::sk_buff>,
    /// The buffer's `truesize`, read when it was set aside.
    true_size: usize,
}

impl Reserve {
    /// Sets a buffer aside for a message of up to `payload` bytes after
    /// the headers.
    pub fn new(payload: usize) -> Result<Self> {
        let skb = core::mem::ManuallyDrop::new(Skb::new(payload)?);
        // SAFETY: A fresh buffer of ours; `truesize` is set at its
        // allocation.
        let true_size = unsafe { (*skb.as_ptr()).truesize } as usize;
        // INVARIANT: A fresh buffer, now owned by the reserve.
        Ok(Self {
            skb: AtomicPtr::new(skb.as_ptr()),
            true_size,
        })
    }

    /// What the buffer set aside takes in memory (`truesize`: the data
    /// and the socket buffer's own).
    pub fn true_size(&self) -> usize {
        self.true_size
    }

    /// The buffer, once.
    fn take(&self) -> Option<Skb> {
        let skb = self.skb.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // The type invariant: ours, not sent; the swap gave up the
        // reserve's ownership.
        NonNull::new(skb).map(Skb)
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// A generic netlink message being built (an `sk_buff` with the netlink
/// and genetlink headers in place). Dropped unsent, it is freed.
///
/// # Invariants
///
/// `hdr` is the genetlink header of `skb`.
pub struct Message {
    skb: Skb,
    hdr: NonNull<c_void>,
}

// SAFETY: The buffer is exclusively ours until sent; `hdr` points into it.
unsafe impl Send for Message {}

impl Message {
    /// A message of `family` for command `cmd`, addressed from `portid`
    /// (0 for notifications) with sequence number `seq`.
    pub fn new<C>(family: &'static Family<C>, portid: u32, seq: u32, cmd: u8) -> Result<Self> {
        Self::with_buffer(
            Skb::new(raw::GENLMSG_DEFAULT_SIZE)?,
            family,
            portid,
            seq,
            cmd,
        )
    }

    /// As [`Message::new`], in the buffer `reserve` set aside (`ENOMEM`
    /// if it was taken already).
    pub fn new_in<C>(
        reserve: &Reserve,
        family: &'static Family<C>,
        portid: u32,
        seq: u32,
        cmd: u8,
    ) -> Result<Self> {
        Self::with_buffer(reserve.take().ok_or(ENOMEM)?, family, portid, seq, cmd)
    }

    fn with_buffer<C>(
        skb: Skb,
        family: &'static Family<C>,
        portid: u32,
        seq: u32,
        cmd: u8,
    ) -> Result<Self> {
        // SAFETY: `skb` is a fresh message buffer, the family is `'static`.
        let hdr = unsafe { raw::genlmsg_put(skb.as_ptr(), portid, seq, family.as_raw(), 0, cmd) };
        // INVARIANT: A fresh buffer with its header; without one, `skb` is
        // freed.
        let hdr = NonNull::new(hdr).ok_or(EMSGSIZE)?;
        Ok(Self { skb, hdr })
    }

    /// Finishes the message and hands over the buffer.
    fn finish(self) -> *mut raw::sk_buff {
        // SAFETY: `hdr` was returned by `genlmsg_put` for this `skb` (type
        // invariant).
        unsafe { raw::genlmsg_end(self.skb.as_ptr(), self.hdr.as_ptr()) };
        let skb = core::mem::ManuallyDrop::new(self.skb);
        skb.as_ptr()
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
    pub fn multicast<C>(self, family: &'static Family<C>, net: &Net, group: u32) -> Result {
        let skb = self.finish();
        // SAFETY: As above; the family is `'static` and only read.
        to_result(unsafe {
            raw::cmis_helper_genlmsg_multicast_netns(family.as_raw(), net.as_ptr(), skb, group)
        })
    }
}

impl core::ops::Deref for Message {
    type Target = Attrs;

    fn deref(&self) -> &Attrs {
        // SAFETY: The buffer is ours and not sent while the message lives
        // (type invariant).
        unsafe { Attrs::from_raw(self.skb.as_ptr()) }
    }
}

/// The attributes of a message being built: what [`Message`] and
/// [`DumpMessage`] write through. Only ever shared (`&Attrs`), so that no
/// writer can be swapped for another message's while a nest is open; the
/// socket buffer is written through its own interior mutability, one
/// attribute at a time.
#[repr(transparent)]
pub struct Attrs(Opaque<raw::sk_buff>, PhantomData<*mut ()>);

impl Attrs {
    /// # Safety
    ///
    /// `skb` is a message buffer being built (its headers put, not sent)
    /// that outlives `'a` and is written by nothing else meanwhile (`Attrs`
    /// is neither `Send` nor `Sync`: its writers stay on the builder's
    /// thread).
    unsafe fn from_raw<'a>(skb: *mut raw::sk_buff) -> &'a Self {
        // SAFETY: `Attrs` is a transparent wrapper of the buffer, which
        // the caller keeps valid for `'a`.
        unsafe { &*skb.cast::<Self>() }
    }

    fn skb(&self) -> *mut raw::sk_buff {
        self.0.get()
    }

    /// Appends an attribute with `data` as its payload.
    fn put(&self, kind: u16, data: &[u8]) -> Result {
        let len = c_int::try_from(data.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: The buffer is being built (`from_raw`'s contract); `data`
        // has `len` readable bytes, which `nla_put` copies.
        to_result(unsafe {
            raw::nla_put(self.skb(), kind.into(), len, data.as_ptr().cast::<c_void>())
        })
    }

    /// Appends a `u32` attribute.
    pub fn put_u32(&self, kind: u16, value: u32) -> Result {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a variable-size unsigned integer attribute (`NLA_UINT`): 32
    /// bits if the value fits, 64 otherwise, as `nla_put_uint`.
    pub fn put_uint(&self, kind: u16, value: u64) -> Result {
        match u32::try_from(value) {
            Ok(v) => self.put_u32(kind, v),
            Err(_) => self.put(kind, &value.to_ne_bytes()),
        }
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_string(&self, kind: u16, value: &CStr) -> Result {
        self.put(kind, value.to_bytes_with_nul())
    }

    /// Appends an attribute of bytes.
    pub fn put_bytes(&self, kind: u16, value: &[u8]) -> Result {
        self.put(kind, value)
    }

    /// Appends a nest filled by `fill`.
    pub fn put_nested(&self, kind: u16, fill: impl FnOnce(&Self) -> Result) -> Result {
        // SAFETY: The buffer is being built (`from_raw`'s contract).
        let start = unsafe { raw::cmis_helper_nla_nest_start(self.skb(), kind.into()) };
        if start.is_null() {
            return Err(EMSGSIZE);
        }
        fill(self)?;
        // SAFETY: `start` is the nest opened above in this buffer, which
        // `fill` could only append to.
        unsafe { raw::cmis_helper_nla_nest_end(self.skb(), start) };
        Ok(())
    }
}

/// A multicast group of a family (`struct genl_multicast_group`).
#[repr(transparent)]
pub struct MulticastGroup(raw::genl_multicast_group);

// SAFETY: A group is immutable once built.
unsafe impl Sync for MulticastGroup {}

/// `GENL_MCAST_CAP_NET_ADMIN` (a `BIT()` macro, which bindgen does not
/// expand; `rust/glue/helpers.c` checks the value).
const GENL_MCAST_CAP_NET_ADMIN: u8 = 1;

impl MulticastGroup {
    /// A group called `name` (at most 15 bytes) that only listeners with
    /// `CAP_NET_ADMIN` in the namespace they listen in may join.
    pub const fn admin_only(name: &CStr) -> Self {
        Self(raw::genl_multicast_group {
            name: c_name(name),
            flags: GENL_MCAST_CAP_NET_ADMIN,
        })
    }
}

/// One operation of a family with context `C` (`struct genl_small_ops`).
#[repr(transparent)]
pub struct SmallOp<C>(raw::genl_small_ops, PhantomData<fn() -> C>);

/// Calls `Cmd::doit` for a request.
///
/// # Safety
///
/// Called by the genetlink core with a valid request, for a family that
/// lists `SmallOp::new::<Cmd>()`: a registered `Family<Cmd::Context>`.
unsafe extern "C" fn doit_callback<Cmd: Command>(
    skb: *mut raw::sk_buff,
    info: *mut raw::genl_info,
) -> c_int {
    from_result(|| {
        // SAFETY: `info` is valid and unchanged for the call (see the safety
        // section).
        let info = unsafe { &*info };
        // SAFETY: Only a `Family<Cmd::Context>` takes the operations of
        // `Cmd` (`Family::new`); it is `'static`, and `repr(C)` with its
        // `genl_family` first, which the core hands back to us.
        let family = unsafe { &*info.family.cast::<Family<Cmd::Context>>() };
        // SAFETY: The family is registered while its operations run, so
        // its context is set, and it stays valid until the registration
        // is dropped, which unregisters the family first: that waits for
        // running operations.
        let ctx = unsafe { family.context() };
        // INVARIANT: `skb` and `info` are the request for this call, of
        // `family`.
        let mut info = Info {
            skb,
            info,
            maxattr: family.maxattr,
        };
        Cmd::doit(ctx, &mut info)?;
        Ok(0)
    })
}

/// Calls `Cmd::dumpit` for the next part of a dump.
///
/// # Safety
///
/// Called by the genetlink core with a dump's callback and reply buffer,
/// for a family that lists `SmallOp::new::<Cmd>()`: a registered
/// `Family<Cmd::Context>`.
unsafe extern "C" fn dumpit_callback<Cmd: Command>(
    skb: *mut raw::sk_buff,
    cb: *mut raw::netlink_callback,
) -> c_int {
    // SAFETY: `cb` is the dump's callback (see the safety section); the
    // genetlink core set up its dump information at the dump's start.
    let (family, info) = unsafe {
        (
            raw::cmis_helper_genl_dump_family(cb),
            &*raw::cmis_helper_genl_dump_info(cb),
        )
    };
    // SAFETY: Only a `Family<Cmd::Context>` takes the operations of `Cmd`
    // (`Family::new`); it is `'static`, `repr(C)` with its `genl_family`
    // first.
    let typed = unsafe { &*family.cast::<Family<Cmd::Context>>() };
    // SAFETY: The context is set while the family is registered, and a
    // dump in progress holds a reference on the family's module
    // (`netlink_dump_start`), whose exit is what unregisters the family
    // and releases the context.
    let ctx = unsafe { typed.context() };
    let (Some(cb_ptr), Some(out)) = (NonNull::new(cb), NonNull::new(skb)) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `cb` is valid for the call.
    let request_skb = unsafe { (*cb).skb };
    // INVARIANT: The dump's callback, this call's buffer, the dump's
    // family; the request is the dump's own.
    let mut dump = Dump {
        request: Info {
            skb: request_skb,
            info,
            maxattr: typed.maxattr,
        },
        cb: cb_ptr,
        out,
        family,
    };
    match Cmd::dumpit(ctx, &mut dump) {
        // More follows: the core calls again once this part is read. (A
        // part left empty ends the dump: the core takes 0 as the end.)
        // SAFETY: `skb` is this call's buffer.
        Ok(true) => unsafe { (*skb).len as c_int },
        Ok(false) => 0,
        Err(e) => e.to_errno(),
    }
}

impl<C: Send + Sync + 'static> SmallOp<C> {
    /// The operation for command `Cmd`, with strict attribute validation.
    pub const fn new<Cmd: Command<Context = C>>() -> Self {
        Self(
            raw::genl_small_ops {
                doit: Some(doit_callback::<Cmd>),
                dumpit: if Cmd::DUMP {
                    Some(dumpit_callback::<Cmd>)
                } else {
                    None
                },
                cmd: Cmd::CMD,
                internal_flags: 0,
                flags: if Cmd::ADMIN_ONLY {
                    raw::GENL_UNS_ADMIN_PERM as u8
                } else {
                    0
                },
                validate: 0,
            },
            PhantomData,
        )
    }
}

/// A generic netlink family whose operations get a context `C`.
///
/// # Invariants
///
/// `inner` holds a `genl_family` whose pointers refer to `'static` data
/// (its operations take a context `C`); while registered only the
/// genetlink core writes to it. `ctx` is null, or a pointer from
/// `Arc::<C>::into_foreign` owned by the family's one [`Registration`]:
/// set before the family is registered, cleared after it is
/// unregistered.
#[repr(C)]
pub struct Family<C> {
    inner: Opaque<raw::genl_family>,
    /// `inner.maxattr`, which only we write.
    maxattr: u32,
    ctx: AtomicPtr<c_void>,
    _ctx: PhantomData<Arc<C>>,
}

// SAFETY: The family is written before registration only (by the one
// caller of `Family::register` that claimed it) and by the genetlink core
// under its own locks; everything it points to is `'static` and
// immutable. The context is an `Arc<C>` with `C: Send + Sync`.
unsafe impl<C: Send + Sync> Sync for Family<C> {}

impl<C: Send + Sync + 'static> Family<C> {
    /// A family called `name` (at most 15 bytes) whose attributes follow
    /// `policy` (index = attribute type, so `policy.len() - 1` is the
    /// largest), serving `ops` and `mcgrps`.
    pub const fn new(
        name: &CStr,
        version: u32,
        policy: &'static [Policy],
        ops: &'static [SmallOp<C>],
        mcgrps: &'static [MulticastGroup],
    ) -> Self {
        assert!(ops.len() <= u8::MAX as usize && mcgrps.len() <= u8::MAX as usize);
        assert!(!policy.is_empty());
        let maxattr = (policy.len() - 1) as u32;
        let f = raw::genl_family {
            name: c_name(name),
            version,
            policy: policy.as_ptr().cast::<raw::nla_policy>(),
            maxattr,
            small_ops: ops.as_ptr().cast::<raw::genl_small_ops>(),
            n_small_ops: ops.len() as u8,
            // 0: every command gets strict header and attribute
            // validation, as required of new families.
            resv_start_op: 0,
            mcgrps: mcgrps.as_ptr().cast::<raw::genl_multicast_group>(),
            n_mcgrps: mcgrps.len() as u8,
            ..pin_init::zeroed()
        };
        // INVARIANT: `policy`, `ops` and `mcgrps` are `'static`; `ops` take
        // a context `C`; no context yet.
        Self {
            inner: Opaque::new(f),
            maxattr,
            ctx: AtomicPtr::new(core::ptr::null_mut()),
            _ctx: PhantomData,
        }
    }

    /// Registers the family on behalf of `module`, under `name` if given
    /// (at most 15 bytes) rather than the one it was built with, available
    /// in every network namespace; its operations get `ctx`.
    ///
    /// Fails with `EBUSY` if the family is registered already, `EEXIST` if
    /// another family of that name is, `EINVAL` if `name` is too long.
    pub fn register(
        &'static self,
        module: &'static ThisModule,
        name: Option<&CStr>,
        ctx: Arc<C>,
    ) -> Result<Registration<C>> {
        if name.is_some_and(|n| n.to_bytes_with_nul().len() > NAME_SIZE) {
            return Err(EINVAL);
        }
        let ctx = ctx.into_foreign();
        // Claims the family: from here on only this caller writes to it,
        // until it is registered.
        if let Err(ctx) = self.ctx.compare_exchange(
            core::ptr::null_mut(),
            ctx,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `ctx` came from `into_foreign` just above and was not
            // published.
            drop(unsafe { <Arc<C> as ForeignOwnable>::from_foreign(ctx) });
            return Err(EBUSY);
        }
        // SAFETY: The family is claimed and not registered: nothing else
        // reads or writes it (type invariant).
        let f = unsafe { &mut *self.inner.get() };
        f.module = module.as_ptr();
        f.set_netnsok(1);
        // Operations run concurrently, without the genetlink mutex (which
        // would block every other such family while one loads firmware);
        // they do their own locking.
        f.set_parallel_ops(1);
        if let Some(n) = name {
            // The kernel's `char` is `u8`; the length was checked above.
            f.name.fill(0);
            f.name[..n.count_bytes()].copy_from_slice(n.to_bytes());
        }
        // SAFETY: The family is valid and its pointers are `'static`.
        if let Err(e) = to_result(unsafe { raw::genl_register_family(self.as_raw()) }) {
            self.release_context();
            return Err(e);
        }
        Ok(Registration {
            family: self,
            name: f.name,
        })
    }

    /// Takes back and drops the context of an unregistered family.
    fn release_context(&self) {
        let ctx = self.ctx.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !ctx.is_null() {
            // SAFETY: A non-null context came from `Arc::into_foreign` and is
            // owned by the family (type invariant); the family is not
            // registered, so no operation borrows it any more.
            drop(unsafe { <Arc<C> as ForeignOwnable>::from_foreign(ctx) });
        }
    }

    /// The context, for an operation of the registered family.
    ///
    /// # Safety
    ///
    /// The family is registered and the caller is one of its operations.
    unsafe fn context(&self) -> ArcBorrow<'_, C> {
        let ctx = self.ctx.load(Ordering::Acquire);
        // SAFETY: A registered family has a context (type invariant), which
        // stays valid while its operations run (the function's contract).
        unsafe { <Arc<C> as ForeignOwnable>::borrow(ctx) }
    }
}

impl<C> Family<C> {
    fn as_raw(&self) -> *mut raw::genl_family {
        self.inner.get()
    }

    /// The family id the kernel assigned, valid while registered.
    pub fn id(&self) -> u16 {
        // SAFETY: The family is valid; the core writes `id` once, when it
        // registers the family, and any integer read is valid.
        let id = unsafe { (*self.as_raw()).id };
        id as u16
    }
}

/// A registered [`Family`]; dropping it unregisters the family, then
/// releases its context.
pub struct Registration<C: Send + Sync + 'static> {
    family: &'static Family<C>,
    /// The name the family is registered under.
    name: [c_char; NAME_SIZE],
}

impl<C: Send + Sync + 'static> Registration<C> {
    /// The name the family is registered under.
    pub fn name(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.name).unwrap_or(c"")
    }
}

impl<C: Send + Sync + 'static> Drop for Registration<C> {
    fn drop(&mut self) {
        // SAFETY: The family was registered by `Family::register`.
        // `genl_unregister_family` waits for running operations.
        unsafe { raw::genl_unregister_family(self.family.as_raw()) };
        self.family.release_context();
    }
}

/// What a [`ReleaseNotifier`] reports.
pub trait SocketEvents: Send + Sync {
    /// The generic netlink socket bound to `portid` in `net` is being
    /// closed: messages to that port would reach whoever binds it next.
    fn released(&self, net: &Net, portid: u32);
}

/// The netlink notifier chain, for a [`SocketEvents`] handler.
pub struct NetlinkChain;

/// A registered netlink notifier that tells `T` when generic netlink
/// sockets are closed (`NETLINK_URELEASE`).
pub type ReleaseNotifier<T> = notifier::Registration<NetlinkChain, T>;

impl<T: SocketEvents> notifier::Chain<T> for NetlinkChain {
    unsafe fn register(nb: *mut raw::notifier_block) -> c_int {
        // SAFETY: The caller passes an initialised, pinned block.
        unsafe { raw::netlink_register_notifier(nb) }
    }

    unsafe fn unregister(nb: *mut raw::notifier_block) {
        // SAFETY: The caller passes a registered block; unregistering a
        // blocking chain's block waits for running callbacks.
        unsafe { raw::netlink_unregister_notifier(nb) };
    }

    /// A blocking chain: process context.
    unsafe fn event(handler: &T, event: kernel::ffi::c_ulong, ptr: *mut c_void) -> c_int {
        if event != raw::NETLINK_URELEASE as kernel::ffi::c_ulong {
            return raw::NOTIFY_DONE as c_int;
        }
        // SAFETY: For NETLINK_URELEASE `ptr` is a `netlink_notify`.
        let n = unsafe { &*ptr.cast::<raw::netlink_notify>() };
        if n.protocol == raw::NETLINK_GENERIC as c_int {
            // SAFETY: The socket being released holds its namespace for
            // the call; `Net` is a transparent wrapper of `struct net`.
            let net = unsafe { &*n.net.cast::<Net>() };
            handler.released(net, n.portid);
        }
        raw::NOTIFY_DONE as c_int
    }
}
