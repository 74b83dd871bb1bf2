// SPDX-License-Identifier: GPL-2.0

//! debugfs directories and attribute files.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h).
//!
//! A [`Dir`] owns a debugfs directory and the files created in it; each
//! file shows (and optionally parses) one [`Attribute`] of an owner `T`
//! kept alive by an [`Arc`]. Dropping the [`Dir`] removes the directory
//! and its files: `debugfs_remove` waits for running file operations and
//! makes later ones fail, so the owners can then be released. A
//! subdirectory keeps its parent alive, so a parent is never removed
//! before its children.
//!
//! As is the debugfs convention, creation failures are not reported: the
//! files are a debugging and test interface, and the C functions accept
//! the error pointers they return.

use crate::bindings as raw;
use core::{fmt, marker::PhantomData, ptr};
use kernel::{
    error::from_result,
    ffi::{c_char, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
};

/// One file: how to show an owner's value and how to set it.
pub struct Attribute<T> {
    /// File name.
    pub name: &'static CStr,
    /// Writes the current value (usually one line).
    pub show: fn(&T, &mut Writer) -> fmt::Result,
    /// Parses a written value (trimmed); `None` makes the file read-only.
    pub store: Option<fn(&T, &str) -> Result>,
}

/// Largest text a file shows.
const SHOW_MAX: usize = 8192;
/// Largest text a file accepts.
const STORE_MAX: usize = 256;

/// The output buffer of [`Attribute::show`]; output beyond its capacity
/// is cut off.
pub struct Writer {
    buf: KVec<u8>,
}

impl fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = SHOW_MAX - self.buf.len();
        let n = s.len().min(room);
        // Cannot fail: capacity for SHOW_MAX bytes was reserved.
        self.buf
            .extend_from_slice(&s.as_bytes()[..n], GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

struct FileCtx<T: 'static> {
    owner: Arc<T>,
    attr: &'static Attribute<T>,
}

/// A file's context and the function that frees it.
type ErasedCtx = (*mut c_void, unsafe fn(*mut c_void));

struct DirInner {
    dentry: *mut raw::dentry,
    /// Contexts of the files, freed after the files are removed. Each
    /// holds an `Arc` of its owner, type-erased by a drop function.
    files: KVec<ErasedCtx>,
    _parent: Option<Arc<DirInner>>,
}

// SAFETY: `dentry` is only passed to debugfs functions, which may be
// called from any thread; the file contexts are `Send + Sync` owners
// behind type-erased pointers (see `Dir::file`).
unsafe impl Send for DirInner {}
// SAFETY: As above; `&DirInner` allows nothing but reading the pointer.
unsafe impl Sync for DirInner {}

impl Drop for DirInner {
    fn drop(&mut self) {
        // SAFETY: `dentry` came from `debugfs_create_dir` (or is an error
        // pointer, which `debugfs_remove` ignores). Children hold a
        // reference to us, so they are gone already.
        unsafe { raw::debugfs_remove(self.dentry) };
        for &(ctx, drop_ctx) in self.files.iter() {
            // SAFETY: The files are removed: no file operation runs or
            // will run, so the contexts can be freed, each by the drop
            // function matching its type.
            unsafe { drop_ctx(ctx) };
        }
    }
}

/// A debugfs directory. Clones refer to the same directory, which is
/// removed when the last one is dropped.
#[derive(Clone)]
pub struct Dir(Arc<DirInner>);

/// A debugfs directory being set up: files are added before it is shared
/// as a [`Dir`].
pub struct DirBuilder(DirInner);

impl Dir {
    /// Creates directory `name` at the debugfs root.
    pub fn create(name: &CStr) -> DirBuilder {
        DirBuilder::create(name, None)
    }

    /// Creates directory `name` inside `self`.
    pub fn subdir(&self, name: &CStr) -> DirBuilder {
        DirBuilder::create(name, Some(self.0.clone()))
    }
}

impl DirBuilder {
    fn create(name: &CStr, parent: Option<Arc<DirInner>>) -> Self {
        let parent_dentry = parent.as_ref().map_or(ptr::null_mut(), |p| p.dentry);
        // SAFETY: `name` is NUL-terminated; `parent_dentry` is null (the
        // root) or a directory kept alive by the `Arc` in `parent`.
        let dentry = unsafe { raw::debugfs_create_dir(name.as_char_ptr(), parent_dentry) };
        Self(DirInner {
            dentry,
            files: KVec::new(),
            _parent: parent,
        })
    }

    /// Adds file `attr.name` showing `attr` of `owner`.
    pub fn file<T: Send + Sync + 'static>(
        &mut self,
        owner: &Arc<T>,
        attr: &'static Attribute<T>,
    ) -> Result {
        let inner = &mut self.0;
        inner.files.reserve(1, GFP_KERNEL)?;
        let ctx = KBox::new(
            FileCtx {
                owner: owner.clone(),
                attr,
            },
            GFP_KERNEL,
        )?;
        let ctx = KBox::into_raw(ctx);
        // Cannot fail: reserved above. Recorded before the file exists, so
        // the context is freed whatever happens next.
        inner
            .files
            .push((ctx.cast::<c_void>(), drop_ctx::<T>), GFP_KERNEL)?;
        let mode: u16 = if attr.store.is_some() { 0o644 } else { 0o444 };
        // SAFETY: `name` is NUL-terminated, `dentry` a live directory,
        // `ctx` valid until the file is removed (it is freed only after
        // `debugfs_remove` in `DirInner::drop`), and `FOPS` static.
        unsafe {
            raw::debugfs_create_file(
                attr.name.as_char_ptr(),
                mode,
                inner.dentry,
                ctx.cast::<c_void>(),
                &Fops::<T>::FOPS,
            )
        };
        Ok(())
    }

    /// Done adding files: the directory can be shared.
    pub fn finish(self) -> Result<Dir> {
        Ok(Dir(Arc::new(self.0, GFP_KERNEL)?))
    }
}

/// Frees a file context.
///
/// # Safety
///
/// `ctx` must come from `KBox::<FileCtx<T>>::into_raw` and not be used
/// afterwards.
unsafe fn drop_ctx<T: 'static>(ctx: *mut c_void) {
    // SAFETY: By the function's contract.
    drop(unsafe { KBox::from_raw(ctx.cast::<FileCtx<T>>()) });
}

struct Fops<T>(PhantomData<T>);

impl<T: Send + Sync + 'static> Fops<T> {
    /// # Safety
    ///
    /// Called by the VFS (through debugfs) for a file created by
    /// [`Dir::file`], whose `private_data` `simple_open` set to its
    /// `FileCtx<T>`, with a user buffer of `count` bytes.
    unsafe extern "C" fn read(
        file: *mut raw::file,
        ubuf: *mut c_char,
        count: usize,
        ppos: *mut raw::loff_t,
    ) -> isize {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let ctx = unsafe { &*(*file).private_data.cast::<FileCtx<T>>() };
            let mut w = Writer {
                buf: KVec::with_capacity(SHOW_MAX, GFP_KERNEL)?,
            };
            // A truncated show still returns what fit.
            let _ = (ctx.attr.show)(&ctx.owner, &mut w);
            // SAFETY: `ubuf` is a user pointer for `count` bytes and
            // `ppos` valid, as the VFS guarantees; the source is our
            // buffer of `len` bytes.
            let n = unsafe {
                raw::simple_read_from_buffer(
                    ubuf.cast::<c_void>(),
                    count,
                    ppos,
                    w.buf.as_ptr().cast::<c_void>(),
                    w.buf.len(),
                )
            };
            Ok(n)
        })
    }

    /// # Safety
    ///
    /// As for `read`, with a user buffer of `count` readable bytes.
    unsafe extern "C" fn write(
        file: *mut raw::file,
        ubuf: *const c_char,
        count: usize,
        ppos: *mut raw::loff_t,
    ) -> isize {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let (ctx, pos) = unsafe { (&*(*file).private_data.cast::<FileCtx<T>>(), *ppos) };
            let store = ctx.attr.store.ok_or(EPERM)?;
            // One value per write, from the start of the file.
            if pos != 0 || count > STORE_MAX {
                return Err(EINVAL);
            }
            let mut kbuf = [0u8; STORE_MAX];
            // SAFETY: `kbuf` has `STORE_MAX` >= `count` bytes; `ubuf` is a
            // user pointer for `count` bytes; `ppos` is valid.
            let n = unsafe {
                raw::simple_write_to_buffer(
                    kbuf.as_mut_ptr().cast::<c_void>(),
                    STORE_MAX,
                    ppos,
                    ubuf.cast::<c_void>(),
                    count,
                )
            };
            let n = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
            let text = core::str::from_utf8(&kbuf[..n]).map_err(|_| EINVAL)?;
            store(&ctx.owner, text.trim())?;
            Ok(count as isize)
        })
    }

    const FOPS: raw::file_operations = raw::file_operations {
        open: Some(raw::simple_open),
        read: Some(Self::read),
        write: Some(Self::write),
        llseek: Some(raw::default_llseek),
        // SAFETY: All-zero `file_operations` means "not supported" for
        // every other operation. `owner` stays null: debugfs's proxy keeps
        // operations from reaching us once the file is removed, which
        // happens before the module is unloaded.
        ..unsafe { core::mem::MaybeUninit::<raw::file_operations>::zeroed().assume_init() }
    };
}
