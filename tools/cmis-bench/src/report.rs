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

/// One flash, or one batch of flashes started together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Run {
    /// `instant`, `realistic-epl`, `realistic-lpl` or `parallel-<N>`.
    pub(crate) profile: String,
    pub(crate) flasher: Flasher,
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
    /// The physical limit of one port's flash (`cmis_core::emu::limit`).
    pub(crate) limit_ns: u64,
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

/// Medians of the runs of one flasher on one profile and size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Cell {
    pub(crate) profile: String,
    pub(crate) flasher: Flasher,
    pub(crate) size: usize,
    pub(crate) runs: usize,
    pub(crate) wall_ns: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) bytes: u64,
    pub(crate) commands: u64,
    pub(crate) limit_ns: u64,
}

impl Cell {
    /// Wall time over the physical limit; `None` for an instant module.
    pub(crate) fn limit_ratio(&self) -> Option<f64> {
        (self.limit_ns > 0).then(|| self.wall_ns as f64 / self.limit_ns as f64)
    }

    /// CPU time over wall time, in cores.
    pub(crate) fn cpu_share(&self) -> f64 {
        self.cpu_ns as f64 / self.wall_ns.max(1) as f64
    }
}

/// Groups the runs by profile, flasher and size, in order of first
/// appearance, and takes the medians.
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
            let med = |f: fn(&Run) -> u64| {
                median(&group.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(0)
            };
            Cell {
                runs: group.len(),
                wall_ns: med(|r| r.wall_ns),
                cpu_ns: med(|r| r.cpu_ns),
                reads: med(|r| r.reads),
                writes: med(|r| r.writes),
                bytes: med(|r| r.bytes_read + r.bytes_written),
                commands: med(|r| r.commands),
                limit_ns: med(|r| r.limit_ns),
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

/// The figures of the summary line, from the 1 MiB medians.
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
}

/// Image size the summary is about.
pub(crate) const SUMMARY_SIZE: usize = 1 << 20;

/// The summary; the parallel run, labelled `parallel`, is compared with
/// the one-port runs of the module labelled `parallel_base`.
pub(crate) fn summary(cells: &[Cell], parallel: &str, parallel_base: &str) -> Summary {
    let s = SUMMARY_SIZE;
    let speedup = |profile: &str| {
        let c = find(cells, profile, Flasher::C, s)?;
        let r = find(cells, profile, Flasher::CmisFw, s)?;
        Some(c.wall_ns as f64 / r.wall_ns.max(1) as f64)
    };
    let ours = |profile: &str| find(cells, profile, Flasher::CmisFw, s);
    let one = ours("realistic-epl");
    Summary {
        instant_speedup: speedup("instant"),
        realistic_limit_ratio: one.and_then(Cell::limit_ratio),
        realistic_speedup: speedup("realistic-epl"),
        lpl_limit_ratio: ours("realistic-lpl").and_then(Cell::limit_ratio),
        parallel64_ratio: ours(parallel)
            .zip(ours(parallel_base))
            .map(|(p, o)| p.wall_ns as f64 / o.wall_ns.max(1) as f64),
        cpu_share: one.map(Cell::cpu_share),
    }
}

fn figure(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "n/a".to_string(), |x| format!("{x:.decimals$}"))
}

/// The last line `make bench` prints.
pub(crate) fn summary_line(s: &Summary) -> String {
    format!(
        "bench: instant_speedup={} realistic_limit_ratio={} realistic_speedup={} \
         lpl_limit_ratio={} parallel64_ratio={} cpu_share={}",
        figure(s.instant_speedup, 2),
        figure(s.realistic_limit_ratio, 3),
        figure(s.realistic_speedup, 2),
        figure(s.lpl_limit_ratio, 3),
        figure(s.parallel64_ratio, 3),
        figure(s.cpu_share, 4),
    )
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

/// The human table: one row per profile, size and flasher (medians),
/// with the ratios to C and to the limit; reStructuredText simple table.
pub(crate) fn table(cells: &[Cell]) -> String {
    let header = [
        "profile",
        "size",
        "flasher",
        "runs",
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
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in cells {
        let vs_c = match c.flasher {
            Flasher::C => "1.00".to_string(),
            Flasher::CmisFw => find(cells, &c.profile, Flasher::C, c.size).map_or_else(
                || "-".to_string(),
                |base| {
                    format!(
                        "{:.2}x faster",
                        base.wall_ns as f64 / c.wall_ns.max(1) as f64
                    )
                },
            ),
        };
        rows.push(vec![
            c.profile.clone(),
            size_name(c.size),
            c.flasher.name().to_string(),
            c.runs.to_string(),
            secs(c.wall_ns),
            vs_c,
            if c.limit_ns > 0 {
                secs(c.limit_ns)
            } else {
                "-".to_string()
            },
            c.limit_ratio()
                .map_or("-".to_string(), |r| format!("{r:.3}")),
            secs(c.cpu_ns),
            format!("{:.1}%", 100.0 * c.cpu_share()),
            c.reads.to_string(),
            c.writes.to_string(),
            c.bytes.to_string(),
            c.commands.to_string(),
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

    fn run(profile: &str, flasher: Flasher, size: usize, wall_s: f64, limit_s: f64) -> Run {
        Run {
            profile: profile.into(),
            flasher,
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
            limit_ns: (limit_s * 1e9) as u64,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[9, 1, 5]), Some(5));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn summary_from_the_1_mib_medians() {
        const M: usize = 1 << 20;
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
        let cells = cells(&runs);
        assert_eq!(cells.len(), 7);
        assert_eq!(cells[1].runs, 3);
        assert_eq!(cells[1].wall_ns, 1_500_000_000);
        let s = summary(&cells, "parallel-64", "realistic-epl");
        assert_eq!(
            summary_line(&s),
            "bench: instant_speedup=10.00 realistic_limit_ratio=1.050 realistic_speedup=1.90 \
             lpl_limit_ratio=1.100 parallel64_ratio=1.050 cpu_share=0.0100"
        );
        let t = table(&cells);
        assert!(t.contains("10.00x faster"), "{t}");
        assert!(t.lines().all(|l| l.len() < 200));
    }

    #[test]
    fn missing_figures_say_so() {
        let s = summary(&[], "parallel-64", "realistic-epl");
        assert_eq!(
            summary_line(&s),
            "bench: instant_speedup=n/a realistic_limit_ratio=n/a realistic_speedup=n/a \
             lpl_limit_ratio=n/a parallel64_ratio=n/a cpu_share=n/a"
        );
    }
}
