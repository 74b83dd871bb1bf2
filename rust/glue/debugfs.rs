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
//! The file operations name this module as their `owner`, so that an open
//! file pins the module: debugfs's proxy keeps a removed file's operations
//! from reaching its owner, but still reads the operations table (ours,
//! in the module's memory) when the file is closed. Linux 7.3's
//! `kernel::debugfs` would express these files (callback files in a
//! `Scope`), but its tables leave `owner` null, so closing a file after
//! the module is gone would read freed memory; hence this module.
//!
//! As is the debugfs convention, creation failures are not reported: the
//! files are a debugging and test interface, and the C functions accept
//! the error pointers they return.

use core::{fmt, marker::PhantomData, ptr};
use kernel::{
    bindings as raw,
    error::from_result,
    ffi::{c_char, c_void},
    prelude::*,
    sync::Arc,
    uaccess::UserSlice,
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

/// A file's context, whatever its owner's type.
trait Context: Send + Sync {}

impl<T: Send + Sync + 'static> Context for FileCtx<T> {}

struct DirInner {
    dentry: *mut raw::dentry,
    /// Contexts of the files, each holding an `Arc` of its owner; freed
    /// after the files are removed (fields drop after `Drop::drop`).
    files: KVec<KBox<dyn Context>>,
    _parent: Option<Arc<DirInner>>,
}

// SAFETY: `dentry` is only passed to debugfs functions, which may be
// called from any thread; the file contexts are `Send + Sync`.
unsafe impl Send for DirInner {}
// SAFETY: As above; `&DirInner` allows nothing but reading the pointer.
unsafe impl Sync for DirInner {}

impl Drop for DirInner {
    fn drop(&mut self) {
        // SAFETY: `dentry` came from `debugfs_create_dir` (or is an error
        // pointer, which `debugfs_remove` ignores). Children hold a
        // reference to us, so they are gone already.
        unsafe { raw::debugfs_remove(self.dentry) };
        // The files are removed: no file operation runs or will run, so
        // the contexts can be freed, with `self.files`.
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
        // The context stays where it is while its box moves into the list.
        let data = ptr::from_ref::<FileCtx<T>>(&ctx)
            .cast_mut()
            .cast::<c_void>();
        // Cannot fail: reserved above. Recorded before the file exists, so
        // the context is freed whatever happens next.
        inner.files.push(ctx, GFP_KERNEL)?;
        let mode: u16 = if attr.store.is_some() { 0o644 } else { 0o444 };
        // SAFETY: `name` is NUL-terminated, `dentry` a live directory,
        // `data` valid until the file is removed (it is freed only after
        // `debugfs_remove` in `DirInner::drop`), and `FOPS` static.
        unsafe {
            raw::debugfs_create_file_full(
                attr.name.as_char_ptr(),
                mode,
                inner.dentry,
                data,
                ptr::null(),
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

struct Fops<T>(PhantomData<T>);

impl<T: Send + Sync + 'static> Fops<T> {
    /// The context of an open file.
    ///
    /// # Safety
    ///
    /// `file` is an open file created by [`DirBuilder::file`] for an owner
    /// of type `T`, whose `private_data` `simple_open` set to its
    /// `FileCtx<T>`, and it stays open for `'a`.
    unsafe fn ctx<'a>(file: *mut raw::file) -> &'a FileCtx<T> {
        // SAFETY: `file` is valid (the function's contract).
        let ctx = unsafe { (*file).private_data };
        // SAFETY: `private_data` is the file's context, which is freed only
        // after the file is removed, when debugfs no longer calls us.
        unsafe { &*ctx.cast::<FileCtx<T>>() }
    }

    /// # Safety
    ///
    /// Called by the VFS (through debugfs) for a file created by
    /// [`DirBuilder::file`], whose `private_data` `simple_open` set to its
    /// `FileCtx<T>`, with a user buffer of `count` bytes.
    unsafe extern "C" fn read(
        file: *mut raw::file,
        ubuf: *mut c_char,
        count: usize,
        ppos: *mut raw::loff_t,
    ) -> isize {
        from_result(|| {
            // SAFETY: See the function's safety section.
            let ctx = unsafe { Self::ctx(file) };
            let mut w = Writer {
                buf: KVec::with_capacity(SHOW_MAX, GFP_KERNEL)?,
            };
            // A truncated show still returns what fit.
            let _ = (ctx.attr.show)(&ctx.owner, &mut w);
            // SAFETY: `ppos` is valid and ours for the call (see the
            // function's safety section).
            let pos = unsafe { &mut *ppos };
            let mut user = UserSlice::new(UserPtr::from_ptr(ubuf.cast()), count).writer();
            let n = user.write_slice_file(&w.buf, pos)?;
            isize::try_from(n).map_err(|_| EINVAL)
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
            let ctx = unsafe { Self::ctx(file) };
            // SAFETY: `ppos` is valid and ours for the call (see the
            // function's safety section).
            let pos = unsafe { &mut *ppos };
            let store = ctx.attr.store.ok_or(EPERM)?;
            // One value per write, from the start of the file.
            if *pos != 0 || count > STORE_MAX {
                return Err(EINVAL);
            }
            let mut kbuf = [0u8; STORE_MAX];
            let mut user =
                UserSlice::new(UserPtr::from_ptr(ubuf.cast_mut().cast()), count).reader();
            let n = user.read_slice_file(&mut kbuf, pos)?;
            let text = core::str::from_utf8(&kbuf[..n]).map_err(|_| EINVAL)?;
            store(&ctx.owner, text.trim())?;
            Ok(count as isize)
        })
    }

    const FOPS: raw::file_operations = raw::file_operations {
        // An open file pins the module (see the module documentation).
        owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
        open: Some(raw::simple_open),
        read: Some(Self::read),
        write: Some(Self::write),
        llseek: Some(raw::default_llseek),
        // Null function pointers mean "not supported".
        ..pin_init::zeroed()
    };
}
