// SPDX-License-Identifier: GPL-2.0

//! Following jobs on one or more ports to their ends: progress shown as it
//! comes (one bar per port on a terminal), then, for several ports, a
//! summary table; the exit status from the worst outcome. The kernel runs
//! the jobs in parallel: they are all requested first, then followed
//! together on one socket, told apart by interface index (which a rename
//! or an altname leaves alone).

use crate::exit;
use crate::netlink::{Client, Event, Job, Notification, Refused, Status};
use crate::output::{self, Format, Printer};
use anyhow::Result;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How jobs are followed.
pub(crate) struct Follow {
    pub(crate) json: bool,
    /// Longest wait for a notification.
    pub(crate) wait_limit: Duration,
    /// Ctrl-C cancels the jobs (else they go on in the kernel).
    pub(crate) cancel_on_interrupt: bool,
}

/// How one port's job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Completed,
    /// Nothing to do (`update`: the port runs the wanted version, or no
    /// policy rule names its module).
    Skipped,
    Failed,
    /// Cancelled on request (Ctrl-C with `--cancel-on-interrupt`).
    Cancelled,
    /// The kernel refused the request.
    Refused,
    /// No word from the kernel within the wait limit.
    NoNews,
}

impl Outcome {
    /// The exit status of a command whose ports all ended so.
    const fn exit_status(self) -> u8 {
        match self {
            Self::Completed | Self::Skipped => exit::OK,
            Self::Failed => exit::FAILED,
            Self::Cancelled => exit::INTERRUPTED,
            Self::Refused => exit::REFUSED,
            Self::NoNews => exit::NO_NEWS,
        }
    }
}

/// One port's job, as followed.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PortJob {
    pub(crate) device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ifindex: Option<u32>,
    /// `None` while it runs.
    pub(crate) outcome: Option<Outcome>,
    /// The kernel's last word: an error, a refusal, where a staged job
    /// stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_before: Option<String>,
    /// A failure's: the version read back from the module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) duration_ms: Option<u64>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl PortJob {
    /// A port left alone, and why.
    pub(crate) fn skipped(device: &str, why: String, version: Option<String>) -> Self {
        let mut p = Self::new(device);
        p.outcome = Some(Outcome::Skipped);
        p.message = Some(why);
        p.version_before.clone_from(&version);
        p.version_after = version;
        p
    }

    /// A port whose request could not be made, and why.
    pub(crate) fn refused(device: &str, why: String) -> Self {
        let mut p = Self::new(device);
        p.outcome = Some(Outcome::Refused);
        p.message = Some(why);
        p
    }

    fn new(device: &str) -> Self {
        Self {
            device: device.to_owned(),
            // A name the system does not know is the kernel's to refuse.
            ifindex: nix::net::if_::if_nametoindex(device).ok(),
            outcome: None,
            message: None,
            version_before: None,
            version_after: None,
            duration_ms: None,
            started: None,
        }
    }

    fn end(&mut self, outcome: Outcome, n: Option<&Notification>) {
        self.outcome = Some(outcome);
        self.duration_ms = self.started.map(|t| t.elapsed().as_millis() as u64);
        if let Some(n) = n {
            self.message.clone_from(&n.message);
            self.version_before.clone_from(&n.version_before);
            self.version_after = n
                .version_after
                .clone()
                .or_else(|| n.outcome.as_ref().and_then(|o| o.active_version.clone()));
        }
    }
}

/// The exit status of a command on `ports`: theirs if they all ended
/// alike, else [`exit::PARTIAL`].
pub(crate) fn exit_status(ports: &[PortJob]) -> u8 {
    // Nothing to do is as good as done.
    let mut outcomes = ports.iter().map(|p| match p.outcome {
        Some(Outcome::Skipped) => Outcome::Completed,
        o => o.unwrap_or(Outcome::NoNews),
    });
    let Some(first) = outcomes.next() else {
        return exit::OK;
    };
    if outcomes.all(|o| o == first) {
        first.exit_status()
    } else {
        exit::PARTIAL
    }
}

/// What Ctrl-C does: by default, leave the jobs to the kernel and say so;
/// with `cancel`, ask the kernel to cancel the jobs started so far
/// (`started`, which grows as they are requested) and wait for their ends
/// (a second Ctrl-C leaves at once). Installed before the first request,
/// so that no Ctrl-C falls between a start and its handler.
fn on_interrupt(family: &str, started: Arc<Mutex<Vec<String>>>, cancel: bool) -> Arc<AtomicBool> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let (family, flag) = (family.to_owned(), cancelled.clone());
    let _ = ctrlc::set_handler(move || {
        let devs = started.lock().map(|d| d.clone()).unwrap_or_default();
        let names = devs.join(", ");
        if !cancel || flag.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\ninterrupted: the work on {names} continues in the kernel; follow it with \
                 'cmis-fw monitor'"
            );
            std::process::exit(exit::INTERRUPTED.into());
        }
        eprintln!("\ncancelling the work on {names} (Ctrl-C again leaves it to the kernel)");
        let sent = Client::connect(&family).and_then(|mut c| {
            for dev in &devs {
                // A job that has ended meanwhile has nothing to cancel.
                if let Err(e) = c.cancel(dev) {
                    if e.downcast_ref::<Refused>().is_none() {
                        return Err(e);
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = sent {
            eprintln!("error: cannot cancel: {e:#}");
            std::process::exit(exit::INTERRUPTED.into());
        }
    });
    cancelled
}

/// Asks for `job` on each of `devs` and follows them to their ends.
pub(crate) fn run(
    family: &str,
    devs: &[String],
    job: &Job,
    password: Option<u32>,
    follow: &Follow,
) -> Result<u8> {
    let requests: Vec<_> = devs.iter().map(|d| (d.clone(), job.clone())).collect();
    run_each(family, &requests, Vec::new(), password, follow)
}

/// Asks for each (device, job) of `requests` and follows them to their
/// ends; `settled` are ports decided already. The summary is shown when
/// there are several ports or any settled one.
pub(crate) fn run_each(
    family: &str,
    requests: &[(String, Job)],
    settled: Vec<PortJob>,
    password: Option<u32>,
    follow: &Follow,
) -> Result<u8> {
    let summary = requests.len() + settled.len() > 1 || !settled.is_empty();
    let mut client = Client::connect(family)?;
    let started = Arc::new(Mutex::new(Vec::new()));
    let cancelled = on_interrupt(family, started.clone(), follow.cancel_on_interrupt);
    let mut ports: Vec<PortJob> = requests.iter().map(|(d, _)| PortJob::new(d)).collect();
    for (p, (_, job)) in ports.iter_mut().zip(requests) {
        match client.act(&p.device, job, password) {
            Ok(()) => {
                p.started = Some(Instant::now());
                if let Ok(mut s) = started.lock() {
                    s.push(p.device.clone());
                }
            }
            // A refusal, or a failure to ask (the jobs started go on and
            // are followed).
            Err(e) => {
                let msg = match e.downcast_ref::<Refused>() {
                    Some(r) => format!("request refused: {r}"),
                    None => format!("{e:#}"),
                };
                eprintln!("error: {}: {msg}", p.device);
                p.outcome = Some(Outcome::Refused);
                p.message = Some(msg.trim_start_matches("request refused: ").to_owned());
            }
        }
    }
    let running = ports.iter().any(|p| p.outcome.is_none());
    ports.extend(settled);
    if running {
        follow_all(client, &mut ports, follow)?;
        if cancelled.load(Ordering::SeqCst) {
            // The ones the cancel ended, not those that failed before.
            for p in &mut ports {
                let by_cancel = p
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("cancelled"));
                if p.outcome == Some(Outcome::Failed) && by_cancel {
                    p.outcome = Some(Outcome::Cancelled);
                }
            }
        }
    }
    match &ports[..] {
        // One port: its notifications told it all, but a refusal in JSON.
        [p] if follow.json && p.outcome == Some(Outcome::Refused) => {
            let object = serde_json::json!({
                "schema": output::SCHEMA,
                "time": output::timestamp(),
                "device": p.device,
                "error": p.message,
            });
            println!("{object}");
        }
        _ if summary => summarize(&ports, follow.json),
        _ => {}
    }
    Ok(exit_status(&ports))
}

/// Shows the notifications of the running jobs until each has ended, or
/// the kernel has said nothing for the wait limit.
fn follow_all(client: Client, ports: &mut [PortJob], follow: &Follow) -> Result<()> {
    let mut printer = Printer::new(Format::pick(follow.json));
    let mut lost_told = false;
    let reader = client.into_reader();
    while ports.iter().any(|p| p.outcome.is_none()) {
        let n = match reader.next_within(follow.wait_limit)? {
            Some(Event::Notification(n)) => n,
            Some(Event::Lost) => {
                if !lost_told {
                    eprintln!("warning: some notifications were lost (socket buffer full)");
                    lost_told = true;
                }
                continue;
            }
            None => {
                for p in ports.iter_mut().filter(|p| p.outcome.is_none()) {
                    eprintln!(
                        "error: no word from the kernel for {} s; the work on {} may go on: \
                         follow it with 'cmis-fw monitor'",
                        follow.wait_limit.as_secs(),
                        p.device
                    );
                    p.end(Outcome::NoNews, None);
                }
                return Ok(());
            }
        };
        // Only this command's jobs notify this socket (it joined no group).
        // A port whose index was not known takes the first unmatched
        // notification of its name, or, alone, the first one.
        let alone = ports.len() == 1;
        let at = ports
            .iter()
            .position(|p| p.ifindex == Some(n.ifindex))
            .or_else(|| {
                ports
                    .iter()
                    .position(|p| p.ifindex.is_none() && (alone || p.device == n.dev))
            });
        let Some(p) = at.map(|i| &mut ports[i]) else {
            continue;
        };
        p.ifindex = Some(n.ifindex);
        if p.outcome.is_some() {
            continue;
        }
        printer.show(&n);
        match n.status {
            Status::Completed => p.end(Outcome::Completed, Some(&n)),
            Status::Error => {
                if follow.json {
                    // The message is in the JSON line; repeat it for humans.
                    eprintln!(
                        "error: {}: {}",
                        p.device,
                        n.message.as_deref().unwrap_or("failed")
                    );
                }
                p.end(Outcome::Failed, Some(&n));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The end of a command on several ports (or with ports left alone): a
/// table, or one JSON object with the ports' outcomes.
fn summarize(ports: &[PortJob], json: bool) {
    if json {
        let summary = serde_json::json!({
            "schema": output::SCHEMA,
            "time": output::timestamp(),
            "summary": ports,
        });
        println!("{summary}");
        return;
    }
    print!("{}", table(ports));
}

/// The summary table: port, versions before and after, duration, result.
pub(crate) fn table(ports: &[PortJob]) -> String {
    let width = ports
        .iter()
        .map(|p| p.device.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut s = format!(
        "{:<width$}  {:<7}  {:<7}  {:>8}  RESULT\n",
        "PORT", "BEFORE", "AFTER", "TIME"
    );
    for p in ports {
        let time = p
            .duration_ms
            .map(|ms| format!("{}.{} s", ms / 1000, ms % 1000 / 100))
            .unwrap_or_else(|| "-".into());
        let result = match (p.outcome, &p.message) {
            (Some(o), Some(m)) => format!("{}: {m}", outcome_word(o)),
            (Some(o), None) => outcome_word(o).to_string(),
            (None, _) => "running".into(),
        };
        s += &format!(
            "{:<width$}  {:<7}  {:<7}  {:>8}  {result}\n",
            p.device,
            p.version_before.as_deref().unwrap_or("-"),
            p.version_after.as_deref().unwrap_or("-"),
            time
        );
    }
    s
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "completed",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::Refused => "refused",
        Outcome::NoNews => "no news",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(device: &str, outcome: Option<Outcome>) -> PortJob {
        PortJob {
            device: device.into(),
            ifindex: None,
            outcome,
            message: None,
            version_before: None,
            version_after: None,
            duration_ms: None,
            started: None,
        }
    }

    #[test]
    fn the_worst_outcome_decides_unless_they_differ() {
        let ok = port("a", Some(Outcome::Completed));
        let failed = port("b", Some(Outcome::Failed));
        let refused = port("c", Some(Outcome::Refused));
        assert_eq!(exit_status(std::slice::from_ref(&ok)), exit::OK);
        assert_eq!(exit_status(std::slice::from_ref(&failed)), exit::FAILED);
        assert_eq!(exit_status(std::slice::from_ref(&refused)), exit::REFUSED);
        assert_eq!(exit_status(&[ok.clone(), ok.clone()]), exit::OK);
        assert_eq!(exit_status(&[failed.clone(), failed.clone()]), exit::FAILED);
        assert_eq!(exit_status(&[ok.clone(), failed]), exit::PARTIAL);
        assert_eq!(exit_status(&[ok, refused]), exit::PARTIAL);
        assert_eq!(exit_status(&[port("d", None)]), exit::NO_NEWS);
        let skipped = port("e", Some(Outcome::Skipped));
        assert_eq!(
            exit_status(&[skipped, port("a", Some(Outcome::Completed))]),
            exit::OK
        );
    }

    #[test]
    fn the_table_reads_well() {
        let mut a = port("eth3", Some(Outcome::Completed));
        a.version_before = Some("1.0".into());
        a.version_after = Some("2.1".into());
        a.duration_ms = Some(33_250);
        let mut b = port("swp17", Some(Outcome::Failed));
        b.version_after = Some("1.0".into());
        b.message = Some("Start Firmware Download (0101h) failed".into());
        b.duration_ms = Some(900);
        let c = port("eth5", Some(Outcome::Refused));
        assert_eq!(
            table(&[a, b, c]),
            "PORT   BEFORE   AFTER        TIME  RESULT\n\
             eth3   1.0      2.1        33.2 s  completed\n\
             swp17  -        1.0         0.9 s  failed: Start Firmware Download (0101h) failed\n\
             eth5   -        -               -  refused\n"
        );
        let json = serde_json::to_value([port("eth3", Some(Outcome::NoNews))]).unwrap();
        assert_eq!(json[0]["outcome"], "no_news");
    }
}
