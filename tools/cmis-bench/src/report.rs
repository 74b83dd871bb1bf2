// SPDX-License-Identifier: GPL-2.0

//! What the benchmark measured, its medians and ratios, the table and the
//! summary line. No I/O: `main` gathers the runs, this turns them into
//! figures.

use serde::Serialize;
use std::fmt::Write as _;

/// The two implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Flasher {
    /// Linux's `net/ethtool/cmis_fw_update.c`, driven by
    /// `ethtool --flash-module-firmware`.
    C,
    /// This project's module, driven by `cmis-fw flash`.
    CmisFw,
}

impl Flasher {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::C => "C (ethtool)",
            Self::CmisFw => "cmis_fw",
        }
    }
}

/// How a flash ended, from the flasher's own report and the module's
/// bank view afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The flasher reported completion and the module runs the new
    /// image, committed, from the bank that did not run before.
    Ok,
    /// The flasher reported an error (or nothing, or was killed).
    Failed,
    /// The flasher reported completion, but the module does not run the
    /// new image committed.
    FalseSuccess,
}

impl Outcome {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::FalseSuccess => "false success",
        }
    }

    /// The outcome of a batch: the worst of its flashes (a false success
    /// is worse than a reported failure).
    pub(crate) fn worst(self, other: Self) -> Self {
        match (self, other) {
            (Self::FalseSuccess, _) | (_, Self::FalseSuccess) => Self::FalseSuccess,
            (Self::Failed, _) | (_, Self::Failed) => Self::Failed,
            _ => Self::Ok,
        }
    }
}

/// The outcome of one flash: `exited_ok` is the flasher's exit status,
/// `log` what it printed, `module_ok` whether the module runs the new
/// image committed from the other bank afterwards. `cmis-fw` exits 0
/// only when it reports completion; ethtool exits 0 whatever the
/// outcome, so its words tell: "flashing completed" or "encountered an
/// error".
pub(crate) fn outcome(flasher: Flasher, exited_ok: bool, log: &str, module_ok: bool) -> Outcome {
    let reported = exited_ok
        && match flasher {
            Flasher::C => {
                log.contains("flashing completed") && !log.contains("encountered an error")
            }
            Flasher::CmisFw => true,
        };
    match (reported, module_ok) {
        (false, _) => Outcome::Failed,
        (true, true) => Outcome::Ok,
        (true, false) => Outcome::FalseSuccess,
    }
}

/// The error a flasher printed: ethtool's "Status message: ..." or
/// cmis-fw's "DEV: flashing failed: ..." or "error: ...".
pub(crate) fn error_message(log: &str) -> Option<&str> {
    log.lines().rev().find_map(|l| {
        l.strip_prefix("Status message: ")
            .or_else(|| l.split_once(": flashing failed: ").map(|(_, m)| m))
            .or_else(|| l.strip_prefix("error: "))
    })
}

/// One flash, or one batch of flashes started together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Run {
    /// `instant`, `realistic-epl`, `realistic-lpl`, a quirk profile's
    /// name (`laggy`, ...) or `parallel-<N>`.
    pub(crate) profile: String,
    pub(crate) flasher: Flasher,
    /// The worst outcome of the batch's flashes.
    pub(crate) outcome: Outcome,
    /// Image size in bytes.
    pub(crate) size: usize,
    /// Run number, from 0.
    pub(crate) run: usize,
    /// Ports flashed at once.
    pub(crate) ports: usize,
    /// From the request to the flasher's exit (the last one's).
    pub(crate) wall_ns: u64,
    /// Guest CPU time (all CPUs, everything but idle) during the flash.
    pub(crate) cpu_ns: u64,
    /// Module EEPROM transactions and bytes, summed over the ports.
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    /// CDB commands the modules ran.
    pub(crate) commands: u64,
    /// Bus time and busy time of the timing model, and the time spent
    /// in the emulated module's EEPROM handlers (bus time slept
    /// included), summed over the ports: what is left of the wall time
    /// is the flasher's.
    pub(crate) bus_ns: u64,
    pub(crate) busy_ns: u64,
    pub(crate) handler_ns: u64,
    /// Host writes into a busy CDB instance's pages, accesses the module
    /// did not acknowledge, and the host driver's modelled cost per
    /// transfer, summed over the ports.
    pub(crate) writes_while_busy: u64,
    pub(crate) nacks: u64,
    pub(crate) driver_ns: u64,
    /// Time the modules, up and idle, waited for the flasher's next
    /// access, summed over the ports: after a command's end, after a
    /// reset, after the flasher's previous access (the emulator's
    /// `wait_*_ns` counters). What keeps a flash from its limit.
    pub(crate) wait_after_command_ns: u64,
    pub(crate) wait_after_reset_ns: u64,
    pub(crate) wait_between_accesses_ns: u64,
    /// The physical limit of one port's flash (`cmis_core::emu::limit`),
    /// its block writes and its bus transactions.
    pub(crate) limit_ns: u64,
    pub(crate) limit_blocks: u64,
    pub(crate) limit_transactions: u64,
}

/// The median of `values`: the middle one, or the mean of the two
/// middle ones. `None` for no values.
pub(crate) fn median(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

/// Medians of the runs of one flasher on one profile and size. The
/// figures are medians of the runs whose outcome is ok (a failed flash's
/// time means nothing); with none, they are 0 and the methods say `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Cell {
    pub(crate) profile: String,
    pub(crate) flasher: Flasher,
    pub(crate) size: usize,
    pub(crate) runs: usize,
    /// Runs by outcome.
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) false_success: usize,
    /// Ports flashed at once.
    pub(crate) ports: usize,
    pub(crate) wall_ns: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) bytes: u64,
    pub(crate) commands: u64,
    /// The modules' waits for the flasher (see [`Run`]).
    pub(crate) wait_after_command_ns: u64,
    pub(crate) wait_after_reset_ns: u64,
    pub(crate) wait_between_accesses_ns: u64,
    pub(crate) limit_ns: u64,
    /// Block writes and bus transactions of one port's limit.
    pub(crate) limit_blocks: u64,
    pub(crate) limit_transactions: u64,
}

impl Cell {
    /// Whether any run was ok, so that the figures mean something.
    pub(crate) const fn has_figures(&self) -> bool {
        self.ok > 0
    }

    /// Wall time over the physical limit; `None` for an instant module.
    pub(crate) fn limit_ratio(&self) -> Option<f64> {
        (self.has_figures() && self.limit_ns > 0)
            .then(|| self.wall_ns as f64 / self.limit_ns as f64)
    }

    /// CPU time over wall time, in cores.
    pub(crate) fn cpu_share(&self) -> Option<f64> {
        self.has_figures()
            .then(|| self.cpu_ns as f64 / self.wall_ns.max(1) as f64)
    }

    /// Module accesses (bus transactions, reads and writes) per block
    /// written, per port.
    pub(crate) fn accesses_per_block(&self) -> Option<f64> {
        let blocks = self.limit_blocks * self.ports as u64;
        (self.has_figures() && blocks > 0)
            .then(|| (self.reads + self.writes) as f64 / blocks as f64)
    }

    /// The least accesses per block any host makes: the limit's
    /// transactions per block.
    pub(crate) fn min_accesses_per_block(&self) -> Option<f64> {
        (self.limit_blocks > 0).then(|| self.limit_transactions as f64 / self.limit_blocks as f64)
    }
}

/// Groups the runs by profile, flasher and size, in order of first
/// appearance, counts their outcomes and takes the medians of the ok ones.
pub(crate) fn cells(runs: &[Run]) -> Vec<Cell> {
    let mut keys: Vec<(String, Flasher, usize)> = Vec::new();
    for r in runs {
        let k = (r.profile.clone(), r.flasher, r.size);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(profile, flasher, size)| {
            let group: Vec<&Run> = runs
                .iter()
                .filter(|r| r.profile == profile && r.flasher == flasher && r.size == size)
                .collect();
            let count = |o: Outcome| group.iter().filter(|r| r.outcome == o).count();
            let ok: Vec<&Run> = group
                .iter()
                .copied()
                .filter(|r| r.outcome == Outcome::Ok)
                .collect();
            let med = |f: fn(&Run) -> u64| {
                median(&ok.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(0)
            };
            // The same for every run of the group.
            let all = |f: fn(&Run) -> u64| group.iter().map(|r| f(r)).max().unwrap_or(0);
            Cell {
                runs: group.len(),
                ok: ok.len(),
                failed: count(Outcome::Failed),
                false_success: count(Outcome::FalseSuccess),
                ports: group.iter().map(|r| r.ports).max().unwrap_or(1),
                wall_ns: med(|r| r.wall_ns),
                cpu_ns: med(|r| r.cpu_ns),
                reads: med(|r| r.reads),
                writes: med(|r| r.writes),
                bytes: med(|r| r.bytes_read + r.bytes_written),
                commands: med(|r| r.commands),
                wait_after_command_ns: med(|r| r.wait_after_command_ns),
                wait_after_reset_ns: med(|r| r.wait_after_reset_ns),
                wait_between_accesses_ns: med(|r| r.wait_between_accesses_ns),
                limit_ns: all(|r| r.limit_ns),
                limit_blocks: all(|r| r.limit_blocks),
                limit_transactions: all(|r| r.limit_transactions),
                profile,
                flasher,
                size,
            }
        })
        .collect()
}

fn find<'a>(cells: &'a [Cell], profile: &str, flasher: Flasher, size: usize) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.profile == profile && c.flasher == flasher && c.size == size)
}

/// The cell's figures, if it has any.
fn measured<'a>(
    cells: &'a [Cell],
    profile: &str,
    flasher: Flasher,
    size: usize,
) -> Option<&'a Cell> {
    find(cells, profile, flasher, size).filter(|c| c.has_figures())
}

/// One quirk profile's figure in the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ProfileRatio {
    /// The profile's name (`Profile::NAMES`).
    pub(crate) profile: String,
    /// cmis_fw time / physical limit.
    pub(crate) limit_ratio: Option<f64>,
}

/// The figures of the summary line, from the 1 MiB medians, and the
/// outcome counts of every run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// C time / cmis_fw time, instant module.
    pub(crate) instant_speedup: Option<f64>,
    /// cmis_fw time / physical limit, realistic EPL module.
    pub(crate) realistic_limit_ratio: Option<f64>,
    /// C time / cmis_fw time, realistic EPL module.
    pub(crate) realistic_speedup: Option<f64>,
    /// cmis_fw time / physical limit, realistic LPL-only module.
    pub(crate) lpl_limit_ratio: Option<f64>,
    /// Time to flash N ports at once / time to flash one (cmis_fw, the
    /// parallel run's module: realistic EPL by default).
    pub(crate) parallel64_ratio: Option<f64>,
    /// cmis_fw CPU time / its wall time, realistic EPL module.
    pub(crate) cpu_share: Option<f64>,
    /// The worst cmis_fw time / physical limit over the quirk profiles.
    pub(crate) quirk_limit_ratio_max: Option<f64>,
    /// The smallest C time / cmis_fw time over the quirk profiles on
    /// which both had ok runs.
    pub(crate) quirk_speedup_min: Option<f64>,
    /// C runs that failed on the quirk profiles (any size).
    pub(crate) c_quirk_failures: usize,
    /// C runs that reported success falsely (any profile and size).
    pub(crate) c_false_successes: usize,
    /// cmis_fw runs that were not ok, failed or falsely successful (any
    /// profile and size, the parallel run included).
    pub(crate) cmis_fw_failures: usize,
    /// cmis_fw time / physical limit on each quirk profile flashed, in
    /// the order flashed.
    pub(crate) quirk_limit_ratios: Vec<ProfileRatio>,
}

/// Image size the summary is about.
pub(crate) const SUMMARY_SIZE: usize = 1 << 20;

/// The summary; the parallel run, labelled `parallel`, is compared with
/// the one-port runs of the module labelled `parallel_base`; `quirks`
/// are the labels of the quirk profiles flashed, in order.
pub(crate) fn summary(
    cells: &[Cell],
    parallel: &str,
    parallel_base: &str,
    quirks: &[&str],
) -> Summary {
    let s = SUMMARY_SIZE;
    let speedup = |profile: &str| {
        let c = measured(cells, profile, Flasher::C, s)?;
        let r = measured(cells, profile, Flasher::CmisFw, s)?;
        Some(c.wall_ns as f64 / r.wall_ns.max(1) as f64)
    };
    let ours = |profile: &str| measured(cells, profile, Flasher::CmisFw, s);
    let one = ours("realistic-epl");
    let quirk_limit_ratios: Vec<ProfileRatio> = quirks
        .iter()
        .map(|q| ProfileRatio {
            profile: (*q).to_string(),
            limit_ratio: ours(q).and_then(Cell::limit_ratio),
        })
        .collect();
    let is_quirk = |c: &&Cell| quirks.contains(&c.profile.as_str());
    let of = |flasher: Flasher| cells.iter().filter(move |c| c.flasher == flasher);
    Summary {
        instant_speedup: speedup("instant"),
        realistic_limit_ratio: one.and_then(Cell::limit_ratio),
        realistic_speedup: speedup("realistic-epl"),
        lpl_limit_ratio: ours("realistic-lpl").and_then(Cell::limit_ratio),
        parallel64_ratio: ours(parallel)
            .zip(ours(parallel_base))
            .map(|(p, o)| p.wall_ns as f64 / o.wall_ns.max(1) as f64),
        cpu_share: one.and_then(Cell::cpu_share),
        quirk_limit_ratio_max: quirk_limit_ratios
            .iter()
            .filter_map(|r| r.limit_ratio)
            .reduce(f64::max),
        quirk_speedup_min: quirks.iter().filter_map(|q| speedup(q)).reduce(f64::min),
        c_quirk_failures: of(Flasher::C).filter(is_quirk).map(|c| c.failed).sum(),
        c_false_successes: of(Flasher::C).map(|c| c.false_success).sum(),
        cmis_fw_failures: of(Flasher::CmisFw)
            .map(|c| c.failed + c.false_success)
            .sum(),
        quirk_limit_ratios,
    }
}

fn figure(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "n/a".to_string(), |x| format!("{x:.decimals$}"))
}

/// The last line `make bench` prints.
pub(crate) fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "bench: instant_speedup={} realistic_limit_ratio={} realistic_speedup={} \
         lpl_limit_ratio={} parallel64_ratio={} cpu_share={} quirk_limit_ratio_max={} \
         quirk_speedup_min={} c_quirk_failures={} c_false_successes={} cmis_fw_failures={}",
        figure(s.instant_speedup, 2),
        figure(s.realistic_limit_ratio, 3),
        figure(s.realistic_speedup, 2),
        figure(s.lpl_limit_ratio, 3),
        figure(s.parallel64_ratio, 3),
        figure(s.cpu_share, 4),
        figure(s.quirk_limit_ratio_max, 3),
        figure(s.quirk_speedup_min, 2),
        s.c_quirk_failures,
        s.c_false_successes,
        s.cmis_fw_failures,
    );
    for r in &s.quirk_limit_ratios {
        let _ = write!(
            line,
            " {}_limit_ratio={}",
            r.profile,
            figure(r.limit_ratio, 3)
        );
    }
    line
}

fn secs(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e9)
}

fn size_name(size: usize) -> String {
    if size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}

/// The modules' waits for the flasher: their sum, then after commands,
/// after resets and between accesses.
fn waits(c: &Cell) -> String {
    let (cmd, reset, gap) = (
        c.wait_after_command_ns,
        c.wait_after_reset_ns,
        c.wait_between_accesses_ns,
    );
    format!(
        "{} ({}+{}+{})",
        secs(cmd + reset + gap),
        secs(cmd),
        secs(reset),
        secs(gap)
    )
}

/// The outcome counts of a cell: `3 ok`, `1 ok 2 failed`, ...
fn outcomes(c: &Cell) -> String {
    let mut parts = vec![format!("{} ok", c.ok)];
    if c.failed > 0 {
        parts.push(format!("{} failed", c.failed));
    }
    if c.false_success > 0 {
        parts.push(format!("{} false-success", c.false_success));
    }
    parts.join(" ")
}

/// The human table: one row per profile, size and flasher (medians of
/// the ok runs), with the outcomes, the ratios to C and to the limit and
/// the accesses per block against the least any host makes;
/// reStructuredText simple table.
pub(crate) fn table(cells: &[Cell]) -> String {
    let header = [
        "profile",
        "size",
        "flasher",
        "runs",
        "outcome",
        "wall s",
        "vs C",
        "limit s",
        "vs limit",
        "CPU s",
        "CPU share",
        "reads",
        "writes",
        "bytes",
        "commands",
        "acc/block (min)",
        "waits s (cmd+reset+gap)",
    ];
    let dash = || "-".to_string();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in cells {
        let vs_c = match (c.flasher, c.has_figures()) {
            (_, false) => dash(),
            (Flasher::C, true) => "1.00".to_string(),
            (Flasher::CmisFw, true) => {
                measured(cells, &c.profile, Flasher::C, c.size).map_or_else(dash, |base| {
                    format!(
                        "{:.2}x faster",
                        base.wall_ns as f64 / c.wall_ns.max(1) as f64
                    )
                })
            }
        };
        let figure_or_dash = |x: u64, f: fn(u64) -> String| {
            if c.has_figures() {
                f(x)
            } else {
                dash()
            }
        };
        let accesses = match (c.accesses_per_block(), c.min_accesses_per_block()) {
            (Some(a), Some(m)) => format!("{a:.2} ({m:.2})"),
            (None, Some(m)) => format!("- ({m:.2})"),
            _ => dash(),
        };
        rows.push(vec![
            c.profile.clone(),
            size_name(c.size),
            c.flasher.name().to_string(),
            c.runs.to_string(),
            outcomes(c),
            figure_or_dash(c.wall_ns, secs),
            vs_c,
            if c.limit_ns > 0 {
                secs(c.limit_ns)
            } else {
                dash()
            },
            c.limit_ratio().map_or_else(dash, |r| format!("{r:.3}")),
            figure_or_dash(c.cpu_ns, secs),
            c.cpu_share()
                .map_or_else(dash, |s| format!("{:.1}%", 100.0 * s)),
            figure_or_dash(c.reads, |x| x.to_string()),
            figure_or_dash(c.writes, |x| x.to_string()),
            figure_or_dash(c.bytes, |x| x.to_string()),
            figure_or_dash(c.commands, |x| x.to_string()),
            accesses,
            if c.has_figures() { waits(c) } else { dash() },
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = widths
        .iter()
        .map(|w| "=".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let l = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(std::slice::from_ref(&rule));
    line(&header.map(String::from));
    line(std::slice::from_ref(&rule));
    for r in &rows {
        line(r);
    }
    line(&[rule]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: usize = 1 << 20;

    fn run(profile: &str, flasher: Flasher, size: usize, wall_s: f64, limit_s: f64) -> Run {
        Run {
            profile: profile.into(),
            flasher,
            outcome: Outcome::Ok,
            size,
            run: 0,
            ports: 1,
            wall_ns: (wall_s * 1e9) as u64,
            cpu_ns: (wall_s * 1e7) as u64,
            reads: 10,
            writes: 20,
            bytes_read: 100,
            bytes_written: 200,
            commands: 7,
            bus_ns: 0,
            busy_ns: 0,
            handler_ns: 0,
            writes_while_busy: 0,
            nacks: 0,
            driver_ns: 0,
            wait_after_command_ns: 0,
            wait_after_reset_ns: 0,
            wait_between_accesses_ns: 0,
            limit_ns: (limit_s * 1e9) as u64,
            limit_blocks: 3,
            limit_transactions: 24,
        }
    }

    fn with(outcome: Outcome, r: Run) -> Run {
        Run { outcome, ..r }
    }

    /// The summary line's fields before the quirk profiles'.
    const PLAIN: &str = "bench: instant_speedup=10.00 realistic_limit_ratio=1.050 \
                         realistic_speedup=1.90 lpl_limit_ratio=1.100 parallel64_ratio=1.050 \
                         cpu_share=0.0100";

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[9, 1, 5]), Some(5));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2));
    }

    fn plain_runs() -> Vec<Run> {
        let mut runs = vec![
            run("instant", Flasher::C, M, 15.0, 0.0),
            run("instant", Flasher::CmisFw, M, 1.0, 0.0),
            run("instant", Flasher::CmisFw, M, 2.0, 0.0),
            run("instant", Flasher::CmisFw, M, 1.5, 0.0),
            run("realistic-epl", Flasher::C, M, 60.0, 30.0),
            run("realistic-epl", Flasher::CmisFw, M, 31.5, 30.0),
            run("realistic-lpl", Flasher::CmisFw, M, 44.0, 40.0),
            run("parallel-64", Flasher::CmisFw, M, 33.075, 30.0),
            // Another size does not count.
            run("instant", Flasher::C, 256 << 10, 99.0, 0.0),
        ];
        runs[7].ports = 64;
        runs
    }

    #[test]
    fn summary_from_the_1_mib_medians() {
        let cells = cells(&plain_runs());
        assert_eq!(cells.len(), 7);
        assert_eq!(cells[1].runs, 3);
        assert_eq!(cells[1].wall_ns, 1_500_000_000);
        let s = summary(&cells, "parallel-64", "realistic-epl", &[]);
        assert_eq!(
            summary_line(&s),
            format!(
                "{PLAIN} quirk_limit_ratio_max=n/a quirk_speedup_min=n/a c_quirk_failures=0 \
                 c_false_successes=0 cmis_fw_failures=0"
            )
        );
        let t = table(&cells);
        assert!(t.contains("10.00x faster"), "{t}");
        assert!(t.lines().all(|l| l.len() < 200), "{t}");
    }

    #[test]
    fn missing_figures_say_so() {
        let s = summary(&[], "parallel-64", "realistic-epl", &["laggy"]);
        assert_eq!(
            summary_line(&s),
            "bench: instant_speedup=n/a realistic_limit_ratio=n/a realistic_speedup=n/a \
             lpl_limit_ratio=n/a parallel64_ratio=n/a cpu_share=n/a quirk_limit_ratio_max=n/a \
             quirk_speedup_min=n/a c_quirk_failures=0 c_false_successes=0 cmis_fw_failures=0 \
             laggy_limit_ratio=n/a"
        );
    }

    #[test]
    fn outcomes_from_the_flashers_words_and_the_module() {
        let done = "Transceiver module firmware flashing completed for device cmis0\n";
        let error = "Transceiver module firmware flashing encountered an error for device \
                     cmis0\nStatus message: Write FW block EPL command failed\n";
        // ethtool exits 0 whatever happened: its words count.
        assert_eq!(outcome(Flasher::C, true, done, true), Outcome::Ok);
        assert_eq!(
            outcome(Flasher::C, true, done, false),
            Outcome::FalseSuccess
        );
        assert_eq!(outcome(Flasher::C, true, error, false), Outcome::Failed);
        // An error reported is a failure even if the module ended well.
        assert_eq!(outcome(Flasher::C, true, error, true), Outcome::Failed);
        assert_eq!(outcome(Flasher::C, true, "", true), Outcome::Failed);
        // Killed (timeout) or refused.
        assert_eq!(outcome(Flasher::C, false, done, true), Outcome::Failed);
        // cmis-fw exits 0 only on completion.
        assert_eq!(outcome(Flasher::CmisFw, true, "", true), Outcome::Ok);
        assert_eq!(
            outcome(Flasher::CmisFw, true, "", false),
            Outcome::FalseSuccess
        );
        assert_eq!(outcome(Flasher::CmisFw, false, "", true), Outcome::Failed);
        assert_eq!(
            error_message(error),
            Some("Write FW block EPL command failed")
        );
        assert_eq!(
            error_message("cmis0: flashing started\ncmis0: flashing failed: Start failed\n"),
            Some("Start failed")
        );
        assert_eq!(
            error_message("error: request refused: EBUSY\n"),
            Some("request refused: EBUSY")
        );
        assert_eq!(error_message(done), None);
        assert_eq!(Outcome::Ok.worst(Outcome::Failed), Outcome::Failed);
        assert_eq!(
            Outcome::FalseSuccess.worst(Outcome::Failed),
            Outcome::FalseSuccess
        );
        assert_eq!(Outcome::Ok.worst(Outcome::Ok), Outcome::Ok);
    }

    #[test]
    fn cells_count_outcomes_and_take_medians_of_the_ok_runs() {
        let runs = vec![
            run("hostile", Flasher::C, M, 5.0, 30.0),
            with(Outcome::Failed, run("hostile", Flasher::C, M, 1.0, 30.0)),
            with(
                Outcome::FalseSuccess,
                run("hostile", Flasher::C, M, 2.0, 30.0),
            ),
            with(Outcome::Failed, run("late_reset", Flasher::C, M, 3.0, 30.0)),
        ];
        let cells = cells(&runs);
        let h = &cells[0];
        assert_eq!((h.runs, h.ok, h.failed, h.false_success), (3, 1, 1, 1));
        // The ok run's time alone.
        assert_eq!(h.wall_ns, 5_000_000_000);
        assert_eq!(h.limit_ratio(), Some(5.0 / 30.0));
        // No ok run: no figures, but the limit is known.
        let l = &cells[1];
        assert_eq!((l.ok, l.failed), (0, 1));
        assert_eq!((l.limit_ratio(), l.cpu_share()), (None, None));
        assert_eq!(l.accesses_per_block(), None);
        assert_eq!(l.min_accesses_per_block(), Some(8.0));
        let t = table(&cells);
        assert!(t.contains("1 ok 1 failed 1 false-success"), "{t}");
        let row = t.lines().find(|l| l.starts_with("late_reset")).unwrap();
        assert!(row.contains("0 ok 1 failed"), "{t}");
        assert!(!row.contains("0.000"), "a failed run has no figures: {t}");
        assert!(row.contains("- (8.00)"), "{t}");
    }

    #[test]
    fn accesses_per_block_per_port() {
        let mut one = run("realistic-epl", Flasher::CmisFw, M, 31.5, 30.0);
        // 10 reads and 20 writes over 3 blocks; the limit: 24 over 3.
        let c = &cells(std::slice::from_ref(&one))[0];
        assert_eq!(c.accesses_per_block(), Some(10.0));
        assert_eq!(c.min_accesses_per_block(), Some(8.0));
        assert!(table(std::slice::from_ref(c)).contains("10.00 (8.00)"));
        // Two ports: the counters are summed over them.
        one.ports = 2;
        one.reads = 20;
        one.writes = 40;
        assert_eq!(cells(&[one])[0].accesses_per_block(), Some(10.0));
    }

    #[test]
    fn waits_are_medians_and_shown_with_their_parts() {
        let mut runs: Vec<Run> = [(0.3, 0.1, 1.0), (0.2, 0.1, 0.6), (0.9, 0.3, 2.0)]
            .into_iter()
            .map(|(cmd, reset, gap)| Run {
                wait_after_command_ns: (cmd * 1e9) as u64,
                wait_after_reset_ns: (reset * 1e9) as u64,
                wait_between_accesses_ns: (gap * 1e9) as u64,
                ..run("realistic-epl", Flasher::CmisFw, M, 31.5, 30.0)
            })
            .collect();
        // A failed run's figures do not count.
        runs.push(with(
            Outcome::Failed,
            Run {
                wait_between_accesses_ns: 100_000_000_000,
                ..runs[0].clone()
            },
        ));
        let c = &cells(&runs)[0];
        assert_eq!(c.wait_after_command_ns, 300_000_000);
        assert_eq!(c.wait_between_accesses_ns, 1_000_000_000);
        assert!(table(std::slice::from_ref(c)).contains("1.40 (0.30+0.10+1.00)"));
    }

    #[test]
    fn quirk_figures() {
        let mut runs = plain_runs();
        runs.extend([
            // laggy: C 1.5x cmis_fw, which is 1.2 of the limit.
            run("laggy", Flasher::C, M, 54.0, 30.0),
            run("laggy", Flasher::CmisFw, M, 36.0, 30.0),
            // late_reset: C falsely successful once, ok once: 2x.
            with(
                Outcome::FalseSuccess,
                run("late_reset", Flasher::C, M, 20.0, 31.0),
            ),
            run("late_reset", Flasher::C, M, 62.0, 31.0),
            run("late_reset", Flasher::CmisFw, M, 31.0, 31.0),
            // hostile: C always fails, cmis_fw 1.3 of the limit.
            with(Outcome::Failed, run("hostile", Flasher::C, M, 3.0, 40.0)),
            with(Outcome::Failed, run("hostile", Flasher::C, M, 3.0, 40.0)),
            run("hostile", Flasher::CmisFw, M, 52.0, 40.0),
            // mailbox_driver: cmis_fw failed once: counted, the ok run
            // gives the figure.
            run("mailbox_driver", Flasher::C, M, 90.0, 50.0),
            with(
                Outcome::Failed,
                run("mailbox_driver", Flasher::CmisFw, M, 9.0, 50.0),
            ),
            run("mailbox_driver", Flasher::CmisFw, M, 55.0, 50.0),
            // Another size: counted, not in the ratios.
            with(
                Outcome::Failed,
                run("laggy", Flasher::C, 64 << 10, 1.0, 5.0),
            ),
        ]);
        let cells = cells(&runs);
        let quirks = [
            "laggy",
            "late_reset",
            "hostile",
            "mailbox_driver",
            "bootloader",
        ];
        let s = summary(&cells, "parallel-64", "realistic-epl", &quirks);
        assert_eq!(s.c_quirk_failures, 3);
        assert_eq!(s.c_false_successes, 1);
        assert_eq!(s.cmis_fw_failures, 1);
        assert_eq!(
            summary_line(&s),
            format!(
                "{PLAIN} quirk_limit_ratio_max=1.300 quirk_speedup_min=1.50 \
                 c_quirk_failures=3 c_false_successes=1 cmis_fw_failures=1 \
                 laggy_limit_ratio=1.200 late_reset_limit_ratio=1.000 \
                 hostile_limit_ratio=1.300 mailbox_driver_limit_ratio=1.100 \
                 bootloader_limit_ratio=n/a"
            )
        );
        let t = table(&cells);
        assert!(t.lines().all(|l| l.len() < 200), "{t}");
        let hostile_c = t
            .lines()
            .find(|l| l.starts_with("hostile") && l.contains("C (ethtool)"))
            .unwrap();
        assert!(hostile_c.contains("0 ok 2 failed"), "{t}");
        // cmis_fw against a C without ok runs: no speed-up.
        let hostile_ours = t
            .lines()
            .find(|l| l.starts_with("hostile") && l.contains("cmis_fw"))
            .unwrap();
        assert!(!hostile_ours.contains("faster"), "{t}");
        assert!(t.contains("2.00x faster"), "late_reset: {t}");
    }

    #[test]
    fn a_failure_on_a_plain_module_counts_for_cmis_fw_not_for_c_quirks() {
        let runs = vec![
            with(
                Outcome::Failed,
                run("realistic-epl", Flasher::C, M, 60.0, 30.0),
            ),
            with(
                Outcome::FalseSuccess,
                run("realistic-epl", Flasher::CmisFw, M, 31.0, 30.0),
            ),
            with(
                Outcome::Failed,
                run("parallel-64", Flasher::CmisFw, M, 31.0, 30.0),
            ),
        ];
        let s = summary(&cells(&runs), "parallel-64", "realistic-epl", &[]);
        assert_eq!(
            (s.c_quirk_failures, s.c_false_successes, s.cmis_fw_failures),
            (0, 0, 2)
        );
        assert_eq!(
            (
                s.realistic_limit_ratio,
                s.realistic_speedup,
                s.parallel64_ratio
            ),
            (None, None, None)
        );
    }
}
