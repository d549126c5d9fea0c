// SPDX-License-Identifier: GPL-2.0

//! One generic netlink request of family `sara` and its reply.
//!
//! The attribute policy (types, ranges, exact lengths) is enforced by the kernel before a handler
//! runs (`sara_policy` in the glue); handlers check meaning (e.g. "protocol is tcp or udp") and set
//! an extack message with [`Request::error`] before returning an errno.

use super::{ffi, NetPtr};
use crate::sara_core::genl::{A_MAX, A_PAD};
use core::marker::PhantomData;
use kernel::error::{code, to_result, Error, Result};
use kernel::ffi::c_int;
use kernel::str::CStr;

/// Typed access to a set of attributes: a request's top level ([`Request`]) or one of its nests
/// ([`NestAttrs`]). Types and ranges were checked by the policy; absent attributes are `None`.
pub(crate) trait Attrs {
    /// The attributes indexed by type, `A_MAX + 1` entries, each null or validated by the policy;
    /// valid while `self` is.
    fn table(&self) -> *mut *mut ffi::NlAttr;

    /// A `u8` attribute.
    fn u8(&self, attr: u16) -> Option<u8> {
        let mut v = 0u8;
        // SAFETY: `table()` has `A_MAX + 1` entries; the glue checks `attr` against that range and
        // each entry for null; the policy checked the attribute's type.
        (unsafe { ffi::sara_tb_u8(self.table(), c_int::from(attr), &mut v) } == 0).then_some(v)
    }

    /// A `u16` attribute.
    fn u16(&self, attr: u16) -> Option<u16> {
        let mut v = 0u16;
        // SAFETY: as in `u8`.
        (unsafe { ffi::sara_tb_u16(self.table(), c_int::from(attr), &mut v) } == 0).then_some(v)
    }

    /// A `u32` attribute.
    fn u32(&self, attr: u16) -> Option<u32> {
        let mut v = 0u32;
        // SAFETY: as in `u8`.
        (unsafe { ffi::sara_tb_u32(self.table(), c_int::from(attr), &mut v) } == 0).then_some(v)
    }

    /// A binary attribute: its length and its first `N` bytes.
    fn bytes<const N: usize>(&self, attr: u16) -> Option<(usize, [u8; N])> {
        let mut buf = [0u8; N];
        let cap = u32::try_from(N).unwrap_or(u32::MAX);
        // SAFETY: as in `u8`; `buf` is valid for `cap` bytes and the glue copies at most `cap`.
        let r =
            unsafe { ffi::sara_tb_bytes(self.table(), c_int::from(attr), buf.as_mut_ptr(), cap) };
        usize::try_from(r).ok().map(|n| (n, buf))
    }

    /// A binary attribute copied into `buf` (as much as fits): its full length.
    fn bytes_into(&self, attr: u16, buf: &mut [u8]) -> Option<usize> {
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        // SAFETY: as in `u8`; `buf` is valid for `cap` bytes and the glue copies at most `cap`.
        let r =
            unsafe { ffi::sara_tb_bytes(self.table(), c_int::from(attr), buf.as_mut_ptr(), cap) };
        usize::try_from(r).ok()
    }

    /// An IPv4 address attribute (`NLA_BE32`), as its four bytes in network order.
    fn ipv4(&self, attr: u16) -> Option<[u8; 4]> {
        self.bytes::<4>(attr)
            .and_then(|(n, b)| (n == 4).then_some(b))
    }

    /// A NUL-terminated string attribute copied into `buf` (the policy bounds its length).
    fn string<'b>(&self, attr: u16, buf: &'b mut [u8; 16]) -> Option<&'b CStr> {
        let (n, b) = self.bytes::<16>(attr)?;
        if n == 0 || n > 16 {
            return None;
        }
        *buf = b;
        CStr::from_bytes_with_nul(buf.get(..n)?).ok()
    }
}

/// A request being handled; valid for the duration of the handler.
///
/// # Invariants
/// `info` is the `genl_info` of the running doit handler (valid, with its attribute table parsed by
/// the family policy) and `net` is its namespace, for as long as the `Request` lives.
pub(crate) struct Request<'a> {
    info: *const ffi::GenlInfo,
    net: NetPtr,
    _p: PhantomData<&'a ()>,
}

impl<'a> Request<'a> {
    /// # Safety
    /// `info` is the `genl_info` of the running doit handler and `net` its namespace.
    pub(crate) unsafe fn from_raw(info: *const ffi::GenlInfo, net: NetPtr) -> Self {
        Self {
            info,
            net,
            _p: PhantomData,
        }
    }

    /// The namespace the request acts on.
    pub(crate) fn net(&self) -> NetPtr {
        self.net
    }

    /// The `idx`-th nest of type `attr` (e.g. the servers of a push), `None` after the last one.
    pub(crate) fn nest(&self, attr: u16, idx: u32) -> Result<Option<NestAttrs<'_>>> {
        let mut tb = NestAttrs {
            tb: [core::ptr::null_mut(); A_MAX as usize + 1],
            _p: PhantomData,
        };
        // SAFETY: `self.info` is valid; `tb` has room for `A_MAX + 1` pointers, as the glue expects;
        // the pointers it stores point into the request, which outlives the returned borrow.
        let r =
            unsafe { ffi::sara_attr_nest(self.info, c_int::from(attr), idx, tb.tb.as_mut_ptr()) };
        match r {
            0 => Ok(Some(tb)),
            r if r == -(kernel::bindings::ENOENT as i32) => Ok(None),
            r => Err(Error::from_errno(r)),
        }
    }

    /// Sets the extack message (and the offending attribute, when `attr` > 0) and returns `err`,
    /// for `return Err(req.error(...))`.
    pub(crate) fn error(&self, err: Error, attr: u16, msg: &'static CStr) -> Error {
        // SAFETY: `self.info` is valid; `msg` is 'static as the extack keeps the pointer.
        unsafe { ffi::sara_set_err(self.info, c_int::from(attr), msg.as_char_ptr()) };
        err
    }

    /// Starts a reply with room for `size` bytes of attributes.
    pub(crate) fn reply(&self, size: u32) -> Result<Reply<'_>> {
        // SAFETY: `self.info` is valid.
        let skb = unsafe { ffi::sara_reply_new(self.info.cast_mut(), size) };
        if skb.is_null() {
            return Err(code::ENOMEM);
        }
        Ok(Reply {
            w: Writer { skb },
            info: self.info,
            _p: PhantomData,
        })
    }
}

impl Attrs for Request<'_> {
    fn table(&self) -> *mut *mut ffi::NlAttr {
        // SAFETY: `self.info` is valid (type invariant); `info->attrs` has `A_MAX + 1` entries.
        unsafe { ffi::sara_info_attrs(self.info) }
    }
}

/// The attributes of one nest of a request (validated by the policy).
pub(crate) struct NestAttrs<'a> {
    tb: [*mut ffi::NlAttr; A_MAX as usize + 1],
    _p: PhantomData<&'a ()>,
}

impl Attrs for NestAttrs<'_> {
    fn table(&self) -> *mut *mut ffi::NlAttr {
        // The glue only reads the table; `*mut` is C's signature.
        self.tb.as_ptr().cast_mut()
    }
}

/// Appends attributes to a netlink message under construction (a reply or a dump message).
///
/// # Invariants
/// `skb` is a live netlink message buffer being built by this handler, not yet sent or freed.
pub(crate) struct Writer {
    skb: *mut ffi::SkBuff,
}

/// A reply message being built. Dropped unsent, it is freed.
pub(crate) struct Reply<'a> {
    w: Writer,
    info: *const ffi::GenlInfo,
    _p: PhantomData<&'a ()>,
}

/// An open nest in a message.
pub(crate) struct Nest(*mut kernel::ffi::c_void);

fn put_result(r: c_int) -> Result {
    to_result(r).map_err(|_| super::errno::emsgsize())
}

impl Writer {
    /// Appends a `u8` attribute.
    pub(crate) fn u8(&mut self, attr: u16, v: u8) -> Result {
        // SAFETY: `self.skb` is a live message being built (type invariant).
        put_result(unsafe { ffi::sara_put_u8(self.skb, c_int::from(attr), v) })
    }

    /// Appends a `u16` attribute.
    pub(crate) fn u16(&mut self, attr: u16, v: u16) -> Result {
        // SAFETY: as above.
        put_result(unsafe { ffi::sara_put_u16(self.skb, c_int::from(attr), v) })
    }

    /// Appends a `u32` attribute.
    pub(crate) fn u32(&mut self, attr: u16, v: u32) -> Result {
        // SAFETY: as above.
        put_result(unsafe { ffi::sara_put_u32(self.skb, c_int::from(attr), v) })
    }

    /// Appends a 64-bit attribute, aligned with an `A_PAD` attribute where needed.
    pub(crate) fn u64(&mut self, attr: u16, v: u64) -> Result {
        // SAFETY: as above.
        put_result(unsafe { ffi::sara_put_u64(self.skb, c_int::from(attr), v, c_int::from(A_PAD)) })
    }

    /// Appends counter `id` inside an `A_STATS` nest: type `id + 1`, padding of type 0 (every
    /// other type in that nest is a counter).
    pub(crate) fn counter(&mut self, id: usize, v: u64) -> Result {
        let attr = c_int::try_from(id)
            .map_err(|_| code::EINVAL)?
            .saturating_add(1);
        // SAFETY: as above.
        put_result(unsafe { ffi::sara_put_u64(self.skb, attr, v, 0) })
    }

    /// Appends a binary attribute.
    pub(crate) fn bytes(&mut self, attr: u16, v: &[u8]) -> Result {
        let len = u32::try_from(v.len()).map_err(|_| super::errno::emsgsize())?;
        // SAFETY: `v` is valid for `len` bytes.
        put_result(unsafe {
            ffi::sara_put_bytes(self.skb, c_int::from(attr), v.as_ptr().cast(), len)
        })
    }

    /// Opens a nest; close it with [`Writer::end`] or drop what it holds with [`Writer::cancel`].
    pub(crate) fn nest(&self, attr: u16) -> Result<Nest> {
        // SAFETY: as above.
        let n = unsafe { ffi::sara_nest_start(self.skb, c_int::from(attr)) };
        if n.is_null() {
            return Err(super::errno::emsgsize());
        }
        Ok(Nest(n))
    }

    /// Closes a nest opened by [`Writer::nest`] on this message.
    pub(crate) fn end(&mut self, nest: Nest) {
        // SAFETY: `nest` was returned by `sara_nest_start` on this message.
        unsafe { ffi::sara_nest_end(self.skb, nest.0) }
    }

    /// Removes a nest opened by [`Writer::nest`] on this message, and everything after it.
    pub(crate) fn cancel(&mut self, nest: Nest) {
        // SAFETY: `nest` was returned by `sara_nest_start` on this message.
        unsafe { ffi::sara_nest_cancel(self.skb, nest.0) }
    }
}

impl core::ops::Deref for Reply<'_> {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.w
    }
}

impl core::ops::DerefMut for Reply<'_> {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.w
    }
}

impl Reply<'_> {
    /// Sends the reply to the requester.
    pub(crate) fn send(self) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the message is complete; `genlmsg_reply` consumes it in every case, and
        // `ManuallyDrop` keeps our `Drop` from freeing it again.
        to_result(unsafe { ffi::sara_reply_send(this.w.skb, this.info.cast_mut()) })
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        // SAFETY: the message was not sent (send() bypasses this), so we still own it.
        unsafe { ffi::sara_reply_free(self.w.skb) }
    }
}

/// One call of a dump (`NLM_F_DUMP` request, e.g. the flow table): the kernel calls the dumpit
/// handler again and again, each time with a fresh message buffer, until it reports the end.
pub(crate) struct Dump<'a> {
    skb: *mut ffi::SkBuff,
    cb: *mut ffi::NetlinkCallback,
    _p: PhantomData<&'a ()>,
}

impl<'a> Dump<'a> {
    /// # Safety
    /// `skb` and `cb` are the arguments of the running dumpit handler.
    pub(crate) unsafe fn from_raw(skb: *mut ffi::SkBuff, cb: *mut ffi::NetlinkCallback) -> Self {
        Self {
            skb,
            cb,
            _p: PhantomData,
        }
    }

    /// The dump's state kept between calls (six words, zero at the first call).
    pub(crate) fn args(&mut self) -> &mut [kernel::ffi::c_long; 6] {
        // SAFETY: `cb->args` is `long args[6]`, owned by this dump and only touched by its handler,
        // which runs one call at a time.
        unsafe { &mut *ffi::sara_dump_args(self.cb).cast::<[kernel::ffi::c_long; 6]>() }
    }

    /// Starts one message of command `cmd` in this call's buffer; `None` if it does not fit.
    pub(crate) fn begin(&mut self, cmd: u8) -> Option<DumpMsg<'_>> {
        // SAFETY: `self.skb`/`self.cb` are valid for this call.
        let hdr = unsafe { ffi::sara_dump_begin(self.skb, self.cb, cmd) };
        (!hdr.is_null()).then(|| DumpMsg {
            w: Writer { skb: self.skb },
            hdr,
            _p: PhantomData,
        })
    }
}

impl Attrs for Dump<'_> {
    fn table(&self) -> *mut *mut ffi::NlAttr {
        // SAFETY: `self.cb` is valid; the genetlink core parsed the request's attributes (family
        // policy) into a table of `A_MAX + 1` entries that lives as long as the dump.
        unsafe { ffi::sara_dump_attrs(self.cb) }
    }
}

/// One message of a dump being built; [`DumpMsg::finish`] closes it, dropping it removes it.
pub(crate) struct DumpMsg<'a> {
    w: Writer,
    hdr: *mut kernel::ffi::c_void,
    _p: PhantomData<&'a mut ()>,
}

impl core::ops::Deref for DumpMsg<'_> {
    type Target = Writer;
    fn deref(&self) -> &Writer {
        &self.w
    }
}

impl core::ops::DerefMut for DumpMsg<'_> {
    fn deref_mut(&mut self) -> &mut Writer {
        &mut self.w
    }
}

impl DumpMsg<'_> {
    /// Flags the message `NLM_F_DUMP_INTR`: the dump overlapped a change that can make it list an
    /// entry twice or miss it, and the reader should dump again.
    pub(crate) fn mark_interrupted(&mut self) {
        // SAFETY: `hdr` was returned by `sara_dump_begin` on this buffer and not finished: its
        // netlink header lies in the buffer just before it.
        unsafe { ffi::sara_dump_mark_interrupted(self.hdr) }
    }

    /// Closes the message; returns what the dumpit handler returns to ask for another call.
    pub(crate) fn finish(self) -> c_int {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` was returned by `sara_dump_begin` on this buffer.
        unsafe { ffi::sara_dump_end(this.w.skb, this.hdr) }
    }
}

impl Drop for DumpMsg<'_> {
    fn drop(&mut self) {
        // SAFETY: `hdr` was returned by `sara_dump_begin` on this buffer and not finished.
        unsafe { ffi::sara_dump_cancel(self.w.skb, self.hdr) }
    }
}
