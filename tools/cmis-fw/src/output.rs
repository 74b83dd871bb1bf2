// SPDX-License-Identifier: GPL-2.0

//! How notifications are shown: a live progress bar on a terminal, plain
//! lines otherwise, or JSON lines.

use crate::netlink::{Notification, Status};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};

/// Version of the layout of the JSON objects the tool prints.
pub(crate) const SCHEMA: u32 = 1;

/// Days since the epoch as (year, month, day) of the proleptic Gregorian
/// calendar (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the epoch as "YYYY-MM-DD hh:mm:ss UTC".
pub(crate) fn utc(secs: u64) -> String {
    let (y, mo, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

/// The time now, RFC 3339 in UTC to the millisecond, for JSON objects.
pub(crate) fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_millis())
}

fn rfc3339(secs: u64, millis: u32) -> String {
    let (y, mo, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

/// A notification as a JSON line: its fields, the layout's version, when
/// it was received.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    #[serde(flatten)]
    notification: &'a Notification,
    schema: u32,
    time: String,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Progress bars (bytes, percent, rate, ETA) on the terminal.
    Bars,
    /// One line per notification.
    Lines,
    /// One JSON object per notification.
    Json,
}

impl Format {
    /// Bars when standard error is a terminal, lines otherwise, JSON on
    /// request.
    pub(crate) fn pick(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Lines
        }
    }
}

/// A notification as one line of text.
pub(crate) fn line(n: &Notification) -> String {
    match n.status {
        Status::Started => format!("{}: flashing started", n.dev),
        // A phase after the download, or a degraded part.
        Status::InProgress if n.message.is_some() => {
            let msg = n.message.as_deref().unwrap_or_default();
            match n.timeout_ms {
                Some(ms) => format!("{}: {msg} (timeout {} s)", n.dev, ms.div_ceil(1000)),
                None => format!("{}: {msg}", n.dev),
            }
        }
        Status::InProgress => {
            let pct = (n.done * 100).checked_div(n.total).unwrap_or(0);
            format!("{}: {}/{} bytes ({pct}%)", n.dev, n.done, n.total)
        }
        Status::Completed => match &n.message {
            // Where a staged job stopped.
            Some(m) => format!("{}: completed: {m}", n.dev),
            None => format!("{}: flashing completed", n.dev),
        },
        Status::Error => format!(
            "{}: flashing failed: {}",
            n.dev,
            n.message.as_deref().unwrap_or("no reason given")
        ),
        Status::Unknown => format!("{}: unknown status", n.dev),
    }
}

/// Shows notifications of one or more flashes.
pub(crate) struct Printer {
    format: Format,
    bars: MultiProgress,
    by_dev: HashMap<String, ProgressBar>,
}

impl Printer {
    /// A printer in `format`.
    pub(crate) fn new(format: Format) -> Self {
        Self {
            format,
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            by_dev: HashMap::new(),
        }
    }

    /// The bar of `dev`, made at `done` of `total` bytes if new: a bar
    /// drawn before its length is known would show 0 of 0 bytes as 100%.
    fn bar(&mut self, dev: &str, done: u64, total: u64) -> &ProgressBar {
        let bars = &self.bars;
        self.by_dev.entry(dev.to_owned()).or_insert_with(|| {
            let style = ProgressStyle::with_template(
                "{prefix}: [{bar:40}] {bytes}/{total_bytes} ({percent}%) {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(total)
                .with_position(done)
                .with_style(style)
                .with_prefix(dev.to_owned());
            bars.add(bar)
        })
    }

    /// Shows one notification.
    pub(crate) fn show(&mut self, n: &Notification) {
        match self.format {
            Format::Json => {
                let mut out = std::io::stdout().lock();
                // A closed pipe is the reader's business.
                let line = JsonLine {
                    notification: n,
                    schema: SCHEMA,
                    time: timestamp(),
                };
                let _ = serde_json::to_writer(&mut out, &line);
                let _ = writeln!(out);
                let _ = out.flush();
            }
            Format::Lines => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", line(n));
                let _ = out.flush();
            }
            Format::Bars => match n.status {
                // The bar appears with the first progress, when its length
                // is known.
                Status::Started => {
                    let _ = self.bars.println(line(n));
                }
                Status::InProgress if n.message.is_some() => {
                    let _ = self.bars.println(line(n));
                }
                Status::InProgress => {
                    let bar = self.bar(&n.dev, n.done, n.total);
                    bar.set_length(n.total);
                    bar.set_position(n.done);
                }
                Status::Completed | Status::Error | Status::Unknown => {
                    if let Some(bar) = self.by_dev.remove(&n.dev) {
                        if n.status == Status::Completed {
                            bar.finish();
                        } else {
                            bar.abandon();
                        }
                    }
                    let _ = self.bars.println(line(n));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(status: Status, done: u64, total: u64, message: Option<&str>) -> Notification {
        Notification {
            dev: "cmis0".into(),
            ifindex: 2,
            status,
            message: message.map(Into::into),
            done,
            total,
            timeout_ms: None,
            version_before: None,
            version_after: None,
            outcome: None,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59 UTC");
        assert_eq!(utc(1_796_212_800), "2026-12-02 12:00:00 UTC");
        assert_eq!(rfc3339(1_796_212_800, 7), "2026-12-02T12:00:00.007Z");
    }

    #[test]
    fn a_json_line_keeps_the_notification_first() {
        let line = JsonLine {
            notification: &n(Status::Completed, 9, 9, None),
            schema: SCHEMA,
            time: rfc3339(0, 0),
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"dev":"cmis0","ifindex":2,"status":"completed","message":null,"done":9,"total":9,"schema":1,"time":"1970-01-01T00:00:00.000Z"}"#
        );
    }

    #[test]
    fn lines() {
        assert_eq!(
            line(&n(Status::Started, 0, 0, None)),
            "cmis0: flashing started"
        );
        assert_eq!(
            line(&n(Status::InProgress, 2048, 4096, None)),
            "cmis0: 2048/4096 bytes (50%)"
        );
        assert_eq!(
            line(&n(Status::InProgress, 0, 0, None)),
            "cmis0: 0/0 bytes (0%)"
        );
        let mut phase = n(
            Status::InProgress,
            9,
            9,
            Some("Waiting for the module to restart"),
        );
        assert_eq!(line(&phase), "cmis0: Waiting for the module to restart");
        phase.timeout_ms = Some(60_150);
        assert_eq!(
            line(&phase),
            "cmis0: Waiting for the module to restart (timeout 61 s)"
        );
        assert_eq!(
            line(&n(Status::Completed, 9, 9, None)),
            "cmis0: flashing completed"
        );
        assert_eq!(
            line(&n(Status::Error, 0, 0, Some("Start failed"))),
            "cmis0: flashing failed: Start failed"
        );
    }
}
