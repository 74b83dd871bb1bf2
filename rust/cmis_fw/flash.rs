// SPDX-License-Identifier: GPL-2.0

//! Flashes in progress: one work item per device, on a queue of our own.
//!
//! The work item runs the `cmis_core` firmware update over [`FlashIo`]:
//! the device driver's ethtool operations, hrtimer sleeps, and progress
//! reports over netlink. Upstream's counterpart is
//! `module_flash_fw_work` in `net/ethtool/module.c`.
//!
//! Locking: RTNL, then the registry lock: the registry lock is never
//! held while taking RTNL; the netdevice notifier and a starting flash
//! take it under RTNL. The ethtool core's in-progress flag of the device
//! is set and cleared under RTNL.
//!
//! Ownership: the module, its netlink family and its netdevice notifier
//! each hold a reference to the [`Flashes`]; so does every flash while it
//! is registered, which the registry holds in turn until the flash ends.

#![forbid(unsafe_code)]

use crate::cmis_core::cdb::advert::RegVersion;
use crate::cmis_core::fw_update::version::Version;
use crate::cmis_core::fw_update::{self, Cause, Options, Password, Shortcut, Summary, Until};
use crate::cmis_core::io::{Errno, Interrupt, ModuleIo, ModuleReset, Nanos, Notice};
use crate::cmis_core::map::Access;
use crate::cmis_core::uapi;
use crate::ethdev::{
    DeviceEvents, DeviceId, DriverMessage, ModuleAccess, NetDevice, Resumed, Rtnl,
};
use crate::genl::{ExtAck, Net, Reserve, SocketEvents};
use crate::netlink::{self, FileText, FlashStatus, StatusText};
use crate::queue::OwnedQueue;
use crate::time;
use crate::tracked::Tracked;
use core::{
    fmt,
    mem::size_of,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    firmware::Firmware,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{aref::ARef, Arc, ArcBorrow, Mutex},
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

/// What one flash in flight allocates beside the firmware image (which
/// the firmware loader holds) and the buffer of its last notification
/// (set aside at the request; its true size is the kernel's to say, see
/// [`state_bytes`]): its reference-counted work item, its registry slot,
/// the image's file name, and its device's last-job record (the update's
/// own state lives on the worker's stack).
const STATE_BYTES: usize = size_of::<Flash>()
    // The reference count in front of the work item, padded.
    + size_of::<usize>()
    + size_of::<Option<Arc<Flash>>>()
    + netlink::FILE_NAME_MAX as usize + 1
    + size_of::<LastJob>();

// The budget: 16 KiB per flash, so that hundreds of ports can flash at once.
const _: () = assert!(STATE_BYTES + 2 * netlink::NOTIFICATION_SIZE <= 16 * 1024);

/// What one flash in flight allocates beside the firmware image, the
/// notification buffer it sets aside counted at its true size (the socket
/// buffer's, with its overhead): the benchmark reports it.
pub(crate) fn state_bytes() -> Result<usize> {
    Ok(STATE_BYTES + Reserve::new(netlink::NOTIFICATION_SIZE)?.true_size())
}

/// The netdevice notifier's handler: stops flashes of devices going away,
/// vetoes bringing flashed devices up.
impl DeviceEvents for Flashes {
    fn unregistering(&self, dev: DeviceId) {
        self.stop_device(dev);
    }

    /// The ethtool core vetoes bringing a device up while its module is
    /// flashed, but only when built with `CONFIG_ETHTOOL_NETLINK`; this
    /// veto holds without it. It tests the flag, which a request sets
    /// before it loads the image, not the registry, which the flash joins
    /// only after.
    fn pre_up(&self, dev: &NetDevice, rtnl: &Rtnl) -> Option<&'static CStr> {
        dev.module_flash_in_progress(rtnl)
            .then_some(c"Can't set port up while flashing module firmware")
    }
}

/// The netlink notifier's handler: a requester's socket closing ends the
/// notifications to its port, which a later socket may bind. The flash
/// goes on (as when the requester is killed; the monitor group still
/// hears it).
impl SocketEvents for Flashes {
    fn released(&self, net: &Net, portid: u32) {
        let slots = self.slots.lock();
        for f in slots.jobs.iter().flatten() {
            let mut requester = f.requester.lock();
            let same = |n: &Tracked<Net>| core::ptr::eq(n.as_ptr(), net.as_ptr());
            if f.portid == portid && requester.as_ref().is_some_and(same) {
                // Its namespace is no longer pinned by the flash either.
                *requester = None;
            }
        }
    }
}

/// Registry slots; a freed slot is reused.
struct Slots {
    /// The module is going away: no new flashes.
    closing: bool,
    jobs: KVec<Option<Arc<Flash>>>,
    /// Devices whose module's CDB a request other than a flash (an
    /// inventory, an RPC) is using: a flash of one is refused, and so is a
    /// second such request's use of it. Two users of one CDB would each
    /// overwrite the other's commands.
    cdb_users: KVec<CdbUser>,
    /// The last job of each registered device that had one.
    history: KVec<LastJob>,
}

/// A request using a device's module CDB.
struct CdbUser {
    dev: DeviceId,
    /// The device is going away: the request is to end at once.
    stopped: bool,
}

/// Every flash in progress and the queue they run on.
#[pin_data]
pub(crate) struct Flashes {
    #[pin]
    slots: Mutex<Slots>,
    queue: OwnedQueue,
}

impl Flashes {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            slots <- new_mutex!(Slots {
                closing: false,
                jobs: KVec::new(),
                cdb_users: KVec::new(),
                history: KVec::new(),
            }),
            queue: OwnedQueue::new_unbound(c"cmis_fw")?,
        })
    }

    /// Registers `flash`, calls `registered`, and queues it. Fails with
    /// `ENODEV` if its device is being unregistered, `EBUSY` if it is
    /// being flashed already, `ESHUTDOWN` if the module is unloading.
    ///
    /// Under RTNL, which the unregistration notifier runs under: a device
    /// still registered here will find its flash in the registry when it
    /// goes away.
    fn start(&self, flash: Arc<Flash>, registered: impl FnOnce()) -> Result {
        let rtnl = Rtnl::lock();
        if !flash.dev.is_registered(&rtnl) {
            return Err(ENODEV);
        }
        let mut slots = self.slots.lock();
        if slots.closing {
            return Err(ESHUTDOWN);
        }
        let dev = flash.dev.id();
        if slots.jobs.iter().flatten().any(|f| f.dev.id() == dev) {
            return Err(EBUSY);
        }
        match slots.jobs.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(flash.clone()),
            None => slots.jobs.push(Some(flash.clone()), GFP_KERNEL)?,
        }
        registered();
        // A new work item is not queued yet, so this cannot fail.
        let _ = self.queue.queue().enqueue(flash);
        Ok(())
    }

    /// Claims `dev`'s module CDB for a request other than a flash, until
    /// the claim is dropped; `None` if a flash or another request has it
    /// (or the claim cannot be recorded). Under RTNL, as a flash's claim
    /// (the in-progress flag) is made.
    pub(crate) fn claim_cdb<'a>(&'a self, dev: &NetDevice, rtnl: &Rtnl) -> Option<CdbClaim<'a>> {
        if dev.module_flash_in_progress(rtnl) {
            return None;
        }
        let id = dev.id();
        let mut slots = self.slots.lock();
        if slots.closing
            || slots.cdb_users.iter().any(|u| u.dev == id)
            || slots.jobs.iter().flatten().any(|f| f.dev.id() == id)
        {
            return None;
        }
        let user = CdbUser {
            dev: id,
            stopped: false,
        };
        slots.cdb_users.push(user, GFP_KERNEL).ok()?;
        Some(CdbClaim {
            flashes: self,
            dev: id,
        })
    }

    /// Whether a request other than a flash uses `dev`'s module CDB.
    pub(crate) fn cdb_claimed(&self, dev: &NetDevice) -> bool {
        let id = dev.id();
        self.slots.lock().cdb_users.iter().any(|u| u.dev == id)
    }

    /// Forgets a finished flash; keeps `last` as its device's last job
    /// (replacing the one before). Under RTNL, with the device registered.
    fn finished(&self, flash: &Arc<Flash>, last: Option<LastJob>) {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots
            .jobs
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|f| Arc::ptr_eq(f, flash)))
        {
            *slot = None;
        }
        let Some(last) = last else { return };
        match slots.history.iter_mut().find(|j| j.dev == last.dev) {
            Some(j) => *j = last,
            // Without memory for it the record is lost, not the job.
            None => {
                let _ = slots.history.push(last, GFP_KERNEL);
            }
        }
    }

    /// The last job run on `dev` since it was registered.
    pub(crate) fn last_job(&self, dev: &NetDevice) -> Option<LastJob> {
        let id = dev.id();
        self.slots
            .lock()
            .history
            .iter()
            .find(|j| j.dev == id)
            .copied()
    }

    /// Stops the flash of a device that is being unregistered: it ends at
    /// once (unregistration waits for its device reference). Its last
    /// job's record goes: the device's identity may be another's later.
    fn stop_device(&self, dev: DeviceId) {
        let mut slots = self.slots.lock();
        for f in slots.jobs.iter().flatten().filter(|f| f.dev.id() == dev) {
            f.stop.store(true, Ordering::Relaxed);
        }
        for u in slots.cdb_users.iter_mut().filter(|u| u.dev == dev) {
            u.stopped = true;
        }
        slots.history.retain(|j| j.dev != dev);
    }

    /// Cancels the job running on `dev`, if there is one: it aborts a
    /// download in progress and tells its requester.
    pub(crate) fn cancel(&self, dev: &NetDevice) -> bool {
        let id = dev.id();
        let slots = self.slots.lock();
        let mut found = false;
        for f in slots.jobs.iter().flatten().filter(|f| f.dev.id() == id) {
            f.cancel.store(true, Ordering::Relaxed);
            found = true;
        }
        found
    }

    /// Refuses new flashes, cancels the running ones (each aborts its
    /// download if it can and sends its final notification) and waits for
    /// them.
    pub(crate) fn shutdown(&self) {
        {
            let mut slots = self.slots.lock();
            slots.closing = true;
            for f in slots.jobs.iter().flatten() {
                f.cancel.store(true, Ordering::Relaxed);
            }
            // Requests using a CDB end too: unregistering the family
            // waits for them.
            for u in slots.cdb_users.iter_mut() {
                u.stopped = true;
            }
        }
        self.queue.drain();
    }
}

/// A request's use of a module's CDB ([`Flashes::claim_cdb`]), given up
/// when dropped.
pub(crate) struct CdbClaim<'a> {
    flashes: &'a Flashes,
    dev: DeviceId,
}

impl CdbClaim<'_> {
    /// Whether the device is going away or the module unloading (both
    /// wait for the request).
    pub(crate) fn stopped(&self) -> bool {
        let slots = self.flashes.slots.lock();
        slots
            .cdb_users
            .iter()
            .any(|u| u.dev == self.dev && u.stopped)
    }
}

impl Drop for CdbClaim<'_> {
    fn drop(&mut self) {
        let mut slots = self.flashes.slots.lock();
        slots.cdb_users.retain(|u| u.dev != self.dev);
    }
}

/// How a port's last job ended, kept for the inventory: what happened to
/// a port while nobody watched.
#[derive(Clone, Copy)]
pub(crate) struct LastJob {
    dev: DeviceId,
    /// [`uapi::job`].
    pub(crate) job: u32,
    pub(crate) completed: bool,
    /// Its last notification's message.
    pub(crate) msg: Option<StatusText>,
    /// The image file, for a flash.
    pub(crate) file: Option<FileText>,
    pub(crate) before: Option<RegVersion>,
    /// The version running after, as the job or the read-back saw it.
    pub(crate) after: Option<RegVersion>,
    pub(crate) duration_ms: u32,
    /// When it ended, in seconds since the epoch.
    pub(crate) ended_s: u64,
}

impl LastJob {
    fn new(
        flash: &Flash,
        result: &Result<Summary, fw_update::Error>,
        msg: Option<StatusText>,
        took_ns: Nanos,
    ) -> Self {
        let (job, file) = match &flash.job {
            Job::Update { .. } => (
                uapi::job::FLASH,
                Some(FileText::new(format_args!("{}", JobName(&flash.job)))),
            ),
            Job::Run => (uapi::job::RUN, None),
            Job::Commit => (uapi::job::COMMIT, None),
        };
        let (before, after) = match result {
            Ok(s) => (Some(s.old_version), Some(s.new_version)),
            Err(e) => (None, e.found.and_then(|f| f.active)),
        };
        Self {
            dev: flash.dev.id(),
            job,
            completed: result.is_ok(),
            msg,
            file,
            before,
            after,
            duration_ms: u32::try_from(took_ns / 1_000_000).unwrap_or(u32::MAX),
            ended_s: time::real_s(),
        }
    }
}

/// What a request asks the module to do.
pub(crate) enum Job {
    /// Download this image, then (as far as asked) run and commit it.
    Update {
        image: Firmware,
        /// Its file name, for the kernel log.
        name: CString,
    },
    /// Run the inactive bank's image, then (if asked) commit it.
    Run,
    /// Commit the running image.
    Commit,
}

/// What a flash request asks for, validated.
pub(crate) struct Request {
    pub(crate) dev: ARef<NetDevice>,
    /// The device's parent kept runtime-resumed for the whole flash.
    pub(crate) resumed: Resumed,
    pub(crate) job: Job,
    pub(crate) until: Until,
    pub(crate) version: Option<Version>,
    pub(crate) link_up: bool,
    pub(crate) hitless: bool,
    pub(crate) password: Option<Password>,
    /// Namespace and port of the requesting socket.
    pub(crate) requester: ARef<Net>,
    pub(crate) portid: u32,
    /// Sequence number of the request; notifications to the requester
    /// follow it (request + 1, + 2, ...), as ethtool expects.
    pub(crate) seq: u32,
}

/// One flash: a work item that owns the device reference and the image.
#[pin_data]
pub(crate) struct Flash {
    #[pin]
    work: Work<Flash>,
    /// The registry, to leave it when done.
    flashes: Arc<Flashes>,
    dev: Tracked<NetDevice>,
    _resumed: Resumed,
    job: Job,
    /// The requester's options (its password, how far to go).
    options: Options,
    /// The requesting socket's namespace, until that socket closes: no
    /// more notifications to its port then, and the namespace is not
    /// kept alive for the rest of the flash.
    #[pin]
    requester: Mutex<Option<Tracked<Net>>>,
    portid: u32,
    /// Sequence number of the last notification (initially the
    /// request's).
    seq: AtomicU32,
    /// The buffer of the requester's last notification (COMPLETED or
    /// ERROR), set aside at the request: the end of a flash is told
    /// whatever the memory is then.
    last_notice: Reserve,
    /// Stop politely: abort the download, then end (a cancel request,
    /// module unload).
    cancel: AtomicBool,
    /// Stop now: the device is going away.
    stop: AtomicBool,
}

impl_has_work! {
    impl HasWork<Self> for Flash { self.work }
}

/// Starts flashing: registers the flash, calls `registered` (which may no
/// longer fail the request) and queues its work. The caller has set the
/// device's in-progress flag; on error it clears it.
pub(crate) fn start(
    flashes: ArcBorrow<'_, Flashes>,
    req: Request,
    registered: impl FnOnce(),
) -> Result {
    let last_notice = Reserve::new(netlink::NOTIFICATION_SIZE)?;
    let flash = Arc::pin_init(
        pin_init!(Flash {
            work <- new_work!("cmis_fw::Flash::work"),
            flashes: flashes.into(),
            dev: Tracked::new(req.dev),
            _resumed: req.resumed,
            job: req.job,
            options: Options {
                password: req.password,
                until: req.until,
                version: req.version,
                link_up: req.link_up,
                hitless: req.hitless,
                ..Options::DEFAULT
            },
            requester <- new_mutex!(Some(Tracked::new(req.requester))),
            portid: req.portid,
            seq: AtomicU32::new(req.seq),
            last_notice,
            cancel: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }),
        GFP_KERNEL,
    )?;
    flashes.start(flash, registered)
}

/// How a job ended: its result, the last progress reported (bytes done,
/// in all) and what the driver said about the last access it explained.
struct Ended {
    result: Result<Summary, fw_update::Error>,
    progress: (u64, u64),
    driver_said: Option<(Errno, DriverMessage)>,
}

impl WorkItem for Flash {
    type Pointer = Arc<Flash>;

    fn run(this: Arc<Flash>) {
        let began = time::now_ns();
        this.log_start();
        let Ended {
            result,
            progress,
            driver_said,
        } = this.flash();
        let took = time::now_ns().saturating_sub(began);
        this.log_end(&result, took);
        let msg = match &result {
            Ok(s) => this.end_message(s),
            Err(e) if e.cause == Cause::Stopped => Some(StatusText::new(format_args!(
                "device unregistered during flashing{}",
                e.left
            ))),
            // The driver's reason for the access the update ended on.
            Err(e) => match driver_said {
                Some((errno, said)) if e.cause.access_errno() == Some(errno) => {
                    Some(StatusText::new(format_args!("{e} (the driver: {said})")))
                }
                _ => Some(StatusText::new(format_args!("{e}"))),
            },
        };
        let last = LastJob::new(&this, &result, msg, took);
        // The device is free before the requester hears the end: one that
        // starts again at once must not find it busy. The record of the
        // job is kept only for a device still registered (under RTNL, as
        // the unregistration that drops it runs).
        {
            let rtnl = Rtnl::lock();
            this.dev.set_module_flash_in_progress(&rtnl, false);
            let kept = this.dev.is_registered(&rtnl).then_some(last);
            this.flashes.finished(&this, kept);
        }
        this.notify_end(&result, msg.as_ref(), progress);
    }
}

impl Flash {
    /// Runs the job to its end.
    fn flash(&self) -> Ended {
        let mut io = FlashIo {
            flash: self,
            done: 0,
            total: 0,
            driver_said: None,
        };
        let r = match &self.job {
            Job::Update { image, .. } => fw_update::update(&mut io, image.data(), &self.options),
            Job::Run => fw_update::run(&mut io, &self.options),
            Job::Commit => fw_update::commit(&mut io, &self.options),
        };
        Ended {
            result: r,
            progress: (io.done, io.total),
            driver_said: io.driver_said,
        }
    }

    /// Bytes of the image, 0 for a job without one.
    fn image_len(&self) -> u64 {
        match &self.job {
            Job::Update { image, .. } => image.data().len() as u64,
            Job::Run | Job::Commit => 0,
        }
    }

    /// Sends a progress notification.
    fn notify(&self, status: FlashStatus, msg: Option<&CStr>, done: u64, total: u64) {
        self.send(&netlink::Notification {
            dev: &self.dev,
            status,
            msg,
            done,
            total,
            timeout_ms: None,
            versions: None,
            outcome: None,
        });
    }

    /// One kernel log line as the job begins.
    fn log_start(&self) {
        if LOG_LIMIT.allow() {
            let dev = self.dev.name();
            let job = JobName(&self.job);
            // The kernel's formatting takes core's Display through Arguments.
            pr_info!(
                "{}: {}\n",
                dev.as_c_str(),
                format_args!("module firmware {job}: begins")
            );
        }
    }

    /// One kernel log line as the job ends: versions before and after,
    /// how long it took, the result.
    fn log_end(&self, result: &Result<Summary, fw_update::Error>, took_ns: Nanos) {
        if !LOG_LIMIT.allow() {
            return;
        }
        let dev = self.dev.name();
        let dev = dev.as_c_str();
        let (job, took) = (JobName(&self.job), Seconds(took_ns));
        match result {
            Ok(s) => pr_info!(
                "{dev}: {}\n",
                format_args!(
                    "module firmware {job}: done in {took}: {} -> {}, {}",
                    s.old_version,
                    s.new_version,
                    Outcome(&self.options, s)
                )
            ),
            Err(e) => pr_warn!(
                "{dev}: {}\n",
                format_args!("module firmware {job}: failed after {took}: {e}")
            ),
        }
    }

    /// Sends the last notification: COMPLETED (with the versions before
    /// and after, and `msg` saying where a staged job stopped), or ERROR
    /// with its message `msg`, how far the download got and where the
    /// failure left the module.
    fn notify_end(
        &self,
        result: &Result<Summary, fw_update::Error>,
        msg: Option<&StatusText>,
        (done, total): (u64, u64),
    ) {
        let msg = msg.map(StatusText::as_c_str);
        self.send(&match result {
            Ok(s) => netlink::Notification {
                dev: &self.dev,
                status: FlashStatus::Completed,
                msg,
                done: self.image_len(),
                total: self.image_len(),
                timeout_ms: None,
                versions: Some((s.old_version, s.new_version)),
                outcome: None,
            },
            Err(e) => netlink::Notification {
                dev: &self.dev,
                status: FlashStatus::Error,
                msg,
                done,
                total,
                timeout_ms: None,
                versions: None,
                outcome: Some(e),
            },
        });
    }

    /// What COMPLETED says of a job that stopped early or found less to
    /// do; `None` for a full update, which ends as ethtool's does.
    fn end_message(&self, s: &Summary) -> Option<StatusText> {
        if matches!(self.job, Job::Commit) {
            return Some(StatusText::new(format_args!(
                "the running image is committed"
            )));
        }
        let full = matches!(self.job, Job::Update { .. })
            && s.reached == Until::Committed
            && s.shortcut == Shortcut::None;
        (!full).then(|| StatusText::new(format_args!("{}", Outcome(&self.options, s))))
    }

    /// Sends `ntf` to the requester and to the monitor group; the
    /// requester's last one goes in the buffer set aside for it. Errors
    /// (requester gone, nobody listening) are not the flash's business.
    fn send(&self, ntf: &netlink::Notification<'_>) {
        let last = matches!(ntf.status, FlashStatus::Completed | FlashStatus::Error);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if let Some(requester) = self.requester.lock().as_ref() {
            let reserve = last.then_some(&self.last_notice);
            let _ = ntf.unicast(requester, self.portid, seq, reserve);
        }
        if let Some(net) = self.dev.net() {
            let _ = ntf.multicast(&net);
        }
    }
}

/// Where a successful job left the module, in words: what a staged stop
/// or a wanted version's shortcut means.
struct Outcome<'a>(&'a Options, &'a Summary);

impl fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (opts, s) = (self.0, self.1);
        match (opts.version, s.shortcut) {
            (Some(v), Shortcut::AlreadyRunning) => {
                return write!(f, "already running {v}: nothing downloaded");
            }
            (Some(v), Shortcut::CommittedRunning) => {
                return write!(
                    f,
                    "already running {v}, uncommitted: committed, nothing downloaded"
                );
            }
            _ => {}
        }
        if let (Some(v), Shortcut::DownloadSkipped) = (opts.version, s.shortcut) {
            write!(f, "the inactive bank held {v}, not downloaded again; ")?;
        }
        f.write_str(match s.reached {
            Until::Downloaded => "downloaded into the inactive bank, not run",
            Until::Running => "the new image runs, uncommitted",
            Until::Committed => "the image runs, committed",
        })
    }
}

/// A job as the log names it: the image file's name (non-printable bytes
/// escaped: the name is the requester's), or the staged step.
struct JobName<'a>(&'a Job);

impl fmt::Display for JobName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Job::Update { name, .. } => name.to_bytes(),
            Job::Run => return f.write_str("run of the inactive image"),
            Job::Commit => return f.write_str("commit of the running image"),
        };
        for &b in name {
            if b == b' ' || b.is_ascii_graphic() {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// A duration in seconds, to the tenth.
struct Seconds(Nanos);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0 / 100_000_000;
        write!(f, "{}.{} s", tenths / 10, tenths % 10)
    }
}

/// Whether a log line of a job or request may be printed now
/// ([`LogLimit`]).
pub(crate) fn log_allowed() -> bool {
    LOG_LIMIT.allow()
}

/// The log lines of all jobs: at most [`LogLimit::BURST`] in each
/// [`LogLimit::INTERVAL_NS`], so that a script that starts jobs in a loop
/// cannot flood the log, while a fleet of 32 ports flashed at once is
/// logged whole (`printk_ratelimited`'s 10 lines would keep 5 of them).
struct LogLimit {
    window: AtomicU64,
    lines: AtomicU32,
}

impl LogLimit {
    const INTERVAL_NS: Nanos = 5_000_000_000;
    const BURST: u32 = 64;

    /// Whether a line may be printed now. Racy at a window's turn, where
    /// a line more or less does not matter.
    fn allow(&self) -> bool {
        let now = time::now_ns();
        let start = self.window.load(Ordering::Relaxed);
        if now.saturating_sub(start) >= Self::INTERVAL_NS
            && self
                .window
                .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.lines.store(0, Ordering::Relaxed);
        }
        self.lines.fetch_add(1, Ordering::Relaxed) < Self::BURST
    }
}

static LOG_LIMIT: LogLimit = LogLimit {
    window: AtomicU64::new(0),
    lines: AtomicU32::new(0),
};

/// Longest sleep between two looks at the stop and cancel requests.
const STOP_LATENCY_NS: Nanos = 20_000_000;

/// The update's view of the world: the flash's device and requester.
struct FlashIo<'a> {
    flash: &'a Flash,
    /// The last progress reported, repeated with other notices.
    done: u64,
    total: u64,
    /// What the driver said about the last failed access that it
    /// explained, and that access's error.
    driver_said: Option<(Errno, DriverMessage)>,
}

impl FlashIo<'_> {
    /// Runs a module access on the flash's device, keeping what the
    /// driver said about it if it failed.
    fn access(
        &mut self,
        access: impl FnOnce(&NetDevice, &mut Option<DriverMessage>) -> Result,
    ) -> Result<(), Errno> {
        let mut said = None;
        access(&self.flash.dev, &mut said).map_err(|e| {
            let errno = Errno::from_kernel(e.to_errno());
            if let Some(msg) = said {
                self.driver_said = Some((errno, msg));
            }
            errno
        })
    }
}

impl ModuleIo for FlashIo<'_> {
    fn now(&self) -> Nanos {
        time::now_ns()
    }

    fn read(&mut self, access: Access, buf: &mut [u8]) -> Result<(), Errno> {
        self.access(|dev, said| dev.read_module_said(module_access(&access), buf, said))
    }

    fn write(&mut self, access: Access, data: &[u8]) -> Result<(), Errno> {
        self.access(|dev, said| dev.write_module_said(module_access(&access), data, said))
    }

    /// Sleeps in slices of at most [`STOP_LATENCY_NS`], so that a stop or
    /// cancel is seen within one however long the module makes the wait
    /// (a block's first poll waits its learnt busy time); each slice late
    /// by at most 1/32 (the first poll of a block is aimed at the end of
    /// the module's busy time).
    fn sleep(&mut self, ns: Nanos) {
        let end = time::now_ns().saturating_add(ns);
        loop {
            let left = end.saturating_sub(time::now_ns());
            if left == 0 {
                return;
            }
            let slice = left.min(STOP_LATENCY_NS);
            time::sleep_ns(slice, slice / 32);
            if self.interrupted().is_some() {
                return;
            }
        }
    }

    fn reset_module(&mut self) -> Result<ModuleReset, Errno> {
        match self.flash.dev.reset_module() {
            Ok(true) => Ok(ModuleReset::Done),
            Ok(false) => Ok(ModuleReset::Ignored),
            Err(e) => Err(Errno::from_kernel(e.to_errno())),
        }
    }

    fn notify(&mut self, notice: Notice) {
        match notice {
            Notice::Started => self.flash.notify(FlashStatus::Started, None, 0, 0),
            Notice::Progress { done, total } => {
                (self.done, self.total) = (done, total);
                self.flash
                    .notify(FlashStatus::InProgress, None, done, total);
            }
            Notice::Degraded(d) => {
                let msg = StatusText::new(format_args!("{d}"));
                let (done, total) = (self.done, self.total);
                self.flash
                    .notify(FlashStatus::InProgress, Some(msg.as_c_str()), done, total);
            }
            Notice::Phase(phase) => {
                let msg = StatusText::new(format_args!("{phase}"));
                self.flash.send(&netlink::Notification {
                    dev: &self.flash.dev,
                    status: FlashStatus::InProgress,
                    msg: Some(msg.as_c_str()),
                    done: self.done,
                    total: self.total,
                    timeout_ms: phase.timeout_ms(),
                    versions: None,
                    outcome: None,
                });
            }
        }
    }

    fn interrupted(&self) -> Option<Interrupt> {
        if self.flash.stop.load(Ordering::Relaxed) {
            Some(Interrupt::Stop)
        } else if self.flash.cancel.load(Ordering::Relaxed) {
            Some(Interrupt::Cancel)
        } else {
            None
        }
    }
}

/// A request's view of the world, for work done in the requester's
/// context (an inventory, an RPC, the identifier check): the device's
/// module, the driver's messages to the request's extack where there is
/// one; nothing to report, nothing to reset. Work under a claim of the
/// CDB ends when the device goes away or the requester is signalled;
/// other work is bounded by its own timeouts.
pub(crate) struct RequestIo<'a> {
    dev: &'a NetDevice,
    extack: Option<ExtAck<'a>>,
    claim: Option<&'a CdbClaim<'a>>,
}

impl<'a> RequestIo<'a> {
    pub(crate) fn new(dev: &'a NetDevice, extack: Option<ExtAck<'a>>) -> Self {
        Self {
            dev,
            extack,
            claim: None,
        }
    }

    /// Work under `claim`, which ends when the device goes away or the
    /// requester is signalled (a Ctrl-C).
    pub(crate) fn under_claim(
        dev: &'a NetDevice,
        extack: Option<ExtAck<'a>>,
        claim: &'a CdbClaim<'a>,
    ) -> Self {
        Self {
            dev,
            extack,
            claim: Some(claim),
        }
    }
}

impl ModuleIo for RequestIo<'_> {
    fn now(&self) -> Nanos {
        time::now_ns()
    }

    fn read(&mut self, access: Access, buf: &mut [u8]) -> Result<(), Errno> {
        match &self.extack {
            Some(extack) => self
                .dev
                .read_module_for(module_access(&access), buf, extack)
                .map_err(|e| Errno::from_kernel(e.to_errno())),
            None => read_module(self.dev, access, buf),
        }
    }

    fn write(&mut self, access: Access, data: &[u8]) -> Result<(), Errno> {
        write_module(self.dev, access, data)
    }

    fn sleep(&mut self, ns: Nanos) {
        time::sleep_ns(ns, ns / 32);
    }

    fn reset_module(&mut self) -> Result<ModuleReset, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn notify(&mut self, _notice: Notice) {}

    fn interrupted(&self) -> Option<Interrupt> {
        let claim = self.claim?;
        (claim.stopped() || kernel::current!().signal_pending()).then_some(Interrupt::Stop)
    }
}

/// Reads `dev`'s module at `access` for the core: its errors as errno.
pub(crate) fn read_module(dev: &NetDevice, access: Access, buf: &mut [u8]) -> Result<(), Errno> {
    dev.read_module(module_access(&access), buf)
        .map_err(|e| Errno::from_kernel(e.to_errno()))
}

/// Writes `dev`'s module at `access` for the core.
pub(crate) fn write_module(dev: &NetDevice, access: Access, data: &[u8]) -> Result<(), Errno> {
    dev.write_module(module_access(&access), data)
        .map_err(|e| Errno::from_kernel(e.to_errno()))
}

/// The glue's view of an access the core asks for.
fn module_access(a: &Access) -> ModuleAccess {
    ModuleAccess {
        i2c_address: a.i2c_address,
        bank: a.bank,
        page: a.page,
        offset: a.offset,
    }
}
