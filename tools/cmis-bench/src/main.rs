// SPDX-License-Identifier: GPL-2.0

//! `cmis-bench`: flashes emulated CMIS modules with the kernel's C
//! flasher (`net/ethtool/cmis_fw_update.c`, through unmodified
//! `ethtool --flash-module-firmware`) and with `cmis_fw` (through
//! `cmis-fw flash`), alternately, on identical emulator settings, and
//! compares their times with each other and with the physical limit of
//! the emulated module (`cmis_core::emu::limit`). Besides the plain
//! modules it flashes the emulator's named quirk profiles (status lag,
//! late reset, NACK windows, ...), and records each flash's outcome (ok,
//! failed, false success) instead of stopping at the first failure.
//!
//! It runs inside the test VM with both kernel modules loaded: `make
//! bench` boots the VM and runs it there (`Documentation/benchmark.rst`).
//! It writes every run and the medians to `OUT/bench.json`, prints the
//! table, and ends with the summary line; it exits non-zero if cmis_fw
//! was not ok in any run.

mod guest;
mod report;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use cmis_core::emu::limit::FlashLimit;
use cmis_core::emu::Profile;
use cmis_core::image::crc32;
use guest::{CpuClock, Port};
use report::{Flasher, Outcome, Run};
use serde::Serialize;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The emulated modules flashed: each is one of the emulator's named
/// profiles (`Profile::NAMES`), set on the port through its `profile`
/// file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Module {
    /// `default`: timing model off, measures the host side alone.
    #[value(name = "instant")]
    Instant,
    /// `realistic_epl`: 400 kHz bus, 2 KiB EPL blocks, realistic busy
    /// and reset times.
    #[value(name = "epl")]
    Epl,
    /// `realistic_lpl`: the same module with LPL writes only (116-byte
    /// blocks).
    #[value(name = "lpl")]
    Lpl,
    /// `laggy`: realistic EPL on CMIS 4.0, status 300 µs late, reports
    /// 100 µs late.
    #[value(name = "laggy")]
    Laggy,
    /// `laggy_5ms`: status lag 5 ms, report delay 1 ms, flag 2 ms after
    /// the status.
    #[value(name = "laggy-5ms")]
    Laggy5ms,
    /// `late_reset`: Run answers as before until it resets 200 ms late.
    #[value(name = "late-reset")]
    LateReset,
    /// `late_reset_1s`: the same, 1000 ms late.
    #[value(name = "late-reset-1s")]
    LateReset1s,
    /// `nack_busy`: NACK windows and chances while commands run, after
    /// replies and after a reset.
    #[value(name = "nack-busy")]
    NackBusy,
    /// `mailbox_driver`: behind a driver of 48 bytes and 1 ms a
    /// transfer.
    #[value(name = "mailbox")]
    Mailbox,
    /// `bootloader`: 0041h and 0100h unknown for 1.5 s after a reset,
    /// MgmtInit and PwrUp.
    #[value(name = "bootloader")]
    Bootloader,
    /// `hostile`: everything legal at once, 1 KiB EPL blocks.
    #[value(name = "hostile")]
    Hostile,
}

impl Module {
    /// Every module, in the default order of `--modules`.
    #[cfg(test)]
    const ALL: [Self; 11] = [
        Self::Instant,
        Self::Epl,
        Self::Lpl,
        Self::Laggy,
        Self::Laggy5ms,
        Self::LateReset,
        Self::LateReset1s,
        Self::NackBusy,
        Self::Mailbox,
        Self::Bootloader,
        Self::Hostile,
    ];

    /// The named profile (`Profile::NAMES`) written to `profile`.
    const fn profile_name(self) -> &'static str {
        match self {
            Self::Instant => "default",
            Self::Epl => "realistic_epl",
            Self::Lpl => "realistic_lpl",
            Self::Laggy => "laggy",
            Self::Laggy5ms => "laggy_5ms",
            Self::LateReset => "late_reset",
            Self::LateReset1s => "late_reset_1s",
            Self::NackBusy => "nack_busy",
            Self::Mailbox => "mailbox_driver",
            Self::Bootloader => "bootloader",
            Self::Hostile => "hostile",
        }
    }

    /// Whether this is one of the quirk profiles.
    const fn is_quirk(self) -> bool {
        !matches!(self, Self::Instant | Self::Epl | Self::Lpl)
    }

    /// Its name in the table, the JSON and the summary line: the plain
    /// modules keep the names of the recorded results, the quirk
    /// profiles are called by their profile's name.
    const fn label(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Epl => "realistic-epl",
            Self::Lpl => "realistic-lpl",
            _ => self.profile_name(),
        }
    }

    /// The emulated module's model, for the limit.
    fn profile(self) -> Profile {
        Profile::by_name(self.profile_name()).expect("a name of Profile::NAMES")
    }
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Side-by-side CMIS firmware flashing benchmark (runs in the test VM)"
)]
struct Args {
    /// Flashes of each kind per module with the 1 MiB image, which the
    /// summary line is about, and batches of the parallel run; figures
    /// are the medians of the ok ones.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Flashes of each kind per module with the other image sizes
    /// (default: as many as --runs).
    #[arg(long)]
    runs_other_sizes: Option<usize>,
    /// Image sizes in KiB.
    #[arg(long, value_delimiter = ',', default_values_t = [256, 1024, 2048])]
    sizes_kib: Vec<usize>,
    /// Image sizes in KiB for the quirk profiles (laggy to hostile).
    #[arg(long, value_delimiter = ',', default_values_t = [1024])]
    quirk_sizes_kib: Vec<usize>,
    /// Emulated modules to flash (default: all of them).
    #[arg(long, value_delimiter = ',', default_values = [
        "instant", "epl", "lpl", "laggy", "laggy-5ms", "late-reset", "late-reset-1s",
        "nack-busy", "mailbox", "bootloader", "hostile",
    ])]
    modules: Vec<Module>,
    /// Ports flashed at once by cmis_fw in the parallel run (1 MiB
    /// image); 0 skips it.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// The emulated module of the parallel run.
    #[arg(long, default_value = "epl")]
    parallel_module: Module,
    /// Seconds a flasher may take before it is killed (its flash then
    /// counts as failed).
    #[arg(long, default_value_t = 1200)]
    flash_timeout_s: u64,
    /// Directory holding `cmis-fw` and `cmis-emu-image`.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Where to write `bench.json`, the images and the flashers' output.
    #[arg(long)]
    out: PathBuf,
}

/// An image file in the firmware directory.
struct Image {
    /// The two versions of the image, 3.2S.0 and 3.2S+1.0.
    versions: [String; 2],
    /// Names relative to the firmware search path of its two versions,
    /// flashed in turns: each flash is an upgrade that the module's
    /// version registers (MAJOR.MINOR) can prove, as in the field. Two
    /// versions that differ in their build number only look the same
    /// there, as does a re-flash of the version the module runs: only Get
    /// Firmware Info tells them apart, which a bootloader's boot phase
    /// delays.
    names: [String; 2],
    size: usize,
    body_len: usize,
    body_crc: u32,
}

/// Header length of the images: the modules' StartCmdPayloadSize, but for
/// `hostile`'s 40 bytes (the rest of the header then goes with the first
/// blocks, which its limit counts).
const HEADER_LEN: usize = Profile::DEFAULT.start_payload_size as usize;

fn make_image(args: &Args, dir: &Path, size: usize, seed: usize) -> Result<Image> {
    let names = [0, 1].map(|i| format!("bench-{}k-{i}.bin", size >> 10));
    let versions = [0, 1].map(|i| format!("3.{}.0", 2 * seed + i));
    let mut body_crc = 0;
    for (name, version) in names.iter().zip(&versions) {
        let path = dir.join(name);
        let status = Command::new(args.bin_dir.join("cmis-emu-image"))
            .args(["--version", version, "--text", "cmis-bench"])
            .args(["--header-len", &HEADER_LEN.to_string()])
            .args(["--size", &(size - HEADER_LEN).to_string()])
            .args(["--seed", &seed.to_string()])
            .arg(&path)
            .status()
            .context("running cmis-emu-image")?;
        if !status.success() {
            bail!("cmis-emu-image failed for {name}");
        }
        let bytes = fs::read(&path)?;
        if bytes.len() != size {
            bail!("{name}: {} bytes, expected {size}", bytes.len());
        }
        // The same body (same seed) under both versions.
        body_crc = crc32(&bytes[HEADER_LEN..]);
    }
    Ok(Image {
        versions,
        names,
        size,
        body_len: size - HEADER_LEN,
        body_crc,
    })
}

/// Starts one flash of `port`, its output going to `log`, killed after
/// `--flash-timeout-s` (by `timeout`, so that waiting for it costs
/// nothing).
fn spawn(args: &Args, flasher: Flasher, port: &Port, image: &Image, log: &Path) -> Result<Child> {
    // The version the module does not run.
    let running = port.running_version()?;
    let name = &image.names[usize::from(running == image.versions[0])];
    let out = File::create(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new("timeout");
    cmd.arg(args.flash_timeout_s.to_string());
    match flasher {
        Flasher::C => {
            cmd.arg("ethtool")
                .args(["--flash-module-firmware", &port.ifname, "file", name]);
        }
        Flasher::CmisFw => {
            cmd.arg(args.bin_dir.join("cmis-fw"))
                .args(["flash", &port.ifname, name]);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting the {} flash of {}", flasher.name(), port.ifname))
}

/// What one measured batch is about.
struct Batch<'a> {
    cpu: CpuClock,
    label: &'a str,
    flasher: Flasher,
    image: &'a Image,
    run: usize,
    limit: FlashLimit,
}

/// `timeout`'s exit status when it had to stop the command.
const TIMED_OUT: i32 = 124;

/// Why a flash was not ok, for the log.
fn explain(outcome: Outcome, status: ExitStatus, log: &str, checked: &Result<()>) -> String {
    match (outcome, checked) {
        (Outcome::FalseSuccess, Err(e)) => format!("it reported completion, but {e:#}"),
        _ if status.code() == Some(TIMED_OUT) => "killed after --flash-timeout-s".to_string(),
        _ => format!(
            "{} ({status})",
            report::error_message(log).unwrap_or("no completion reported")
        ),
    }
}

/// Flashes every port at once with one flasher, measures it and tells
/// each flash's outcome; a flash that fails does not stop the benchmark.
fn measure(args: &Args, ports: &[Port], b: &Batch<'_>) -> Result<Run> {
    let logs = args.out.join("logs");
    fs::create_dir_all(&logs)?;
    let mut previous = Vec::with_capacity(ports.len());
    for p in ports {
        p.wait_settled(Duration::from_secs(60))?;
        previous.push(p.running_bank()?);
        p.clear_counters()?;
    }
    let log_of = |p: &Port| {
        logs.join(format!(
            "{}-{}k-{:?}-{}-{}.txt",
            b.label,
            b.image.size >> 10,
            b.flasher,
            b.run,
            p.index
        ))
    };
    let cpu_before = b.cpu.busy_ns()?;
    let start = Instant::now();
    let children = ports
        .iter()
        .map(|p| spawn(args, b.flasher, p, b.image, &log_of(p)))
        .collect::<Result<Vec<_>>>()?;
    let mut statuses = Vec::with_capacity(children.len());
    for mut c in children {
        statuses.push(c.wait()?);
    }
    // The flash is over when the module answers again: cmis_fw waits for
    // that after the final module reset, the C flasher returns right
    // after asking for the reset.
    let up: Vec<Result<()>> = ports
        .iter()
        .map(|p| p.wait_until_up(Duration::from_secs(60)))
        .collect();
    let wall_ns = start.elapsed().as_nanos() as u64;
    let cpu_ns = b.cpu.busy_ns()?.saturating_sub(cpu_before);
    let mut run = Run {
        profile: b.label.to_string(),
        flasher: b.flasher,
        outcome: Outcome::Ok,
        size: b.image.size,
        run: b.run,
        ports: ports.len(),
        wall_ns,
        cpu_ns,
        reads: 0,
        writes: 0,
        bytes_read: 0,
        bytes_written: 0,
        commands: 0,
        bus_ns: 0,
        busy_ns: 0,
        handler_ns: 0,
        writes_while_busy: 0,
        nacks: 0,
        driver_ns: 0,
        wait_after_command_ns: 0,
        wait_after_reset_ns: 0,
        wait_between_accesses_ns: 0,
        limit_ns: b.limit.total_ns(),
        limit_blocks: b.limit.blocks,
        limit_transactions: b.limit.transactions,
    };
    for (((p, status), before), up) in ports.iter().zip(statuses).zip(previous).zip(up) {
        let log = fs::read_to_string(log_of(p)).unwrap_or_default();
        // ethtool exits 0 whatever the outcome; the module tells.
        let checked = up.and_then(|()| p.check_flashed(before, b.image.body_len, b.image.body_crc));
        let outcome = report::outcome(b.flasher, status.success(), &log, checked.is_ok());
        run.outcome = run.outcome.worst(outcome);
        if outcome != Outcome::Ok {
            let why = explain(outcome, status, &log, &checked);
            let what = format!(
                "{} on {} {} KiB run {}, {}",
                outcome.name(),
                b.label,
                b.image.size >> 10,
                b.run,
                p.ifname
            );
            match b.flasher {
                Flasher::CmisFw => eprintln!(
                    "cmis-bench: ERROR: cmis_fw {what}: {why}\n\
                     cmis-bench: its output:\n{log}cmis-bench: the module's banks:\n{}",
                    p.banks().unwrap_or_default()
                ),
                Flasher::C => eprintln!("cmis-bench: C (ethtool) {what}: {why}"),
            }
        }
        let c = p.counters()?;
        run.reads += c.get("reads");
        run.writes += c.get("writes");
        run.bytes_read += c.get("bytes_read");
        run.bytes_written += c.get("bytes_written");
        run.commands += c.get("commands");
        run.bus_ns += c.get("bus_ns");
        run.busy_ns += c.get("busy_ns");
        run.handler_ns += c.get("request_ns");
        run.writes_while_busy += c.get("writes_while_busy");
        run.nacks += c.get("nacks");
        run.driver_ns += c.get("driver_ns");
        run.wait_after_command_ns += c.get("wait_after_command_ns");
        run.wait_after_reset_ns += c.get("wait_after_reset_ns");
        run.wait_between_accesses_ns += c.get("wait_between_accesses_ns");
    }
    eprintln!(
        "cmis-bench: {} {} KiB {} run {}{}: {:.2} s, {}",
        b.label,
        b.image.size >> 10,
        b.flasher.name(),
        b.run,
        if ports.len() > 1 {
            format!(" ({} ports)", ports.len())
        } else {
            String::new()
        },
        wall_ns as f64 / 1e9,
        run.outcome.name()
    );
    Ok(run)
}

/// The physical limit of flashing `image` into a module of `profile`.
fn limit_of(profile: &Profile, image: &Image) -> Result<FlashLimit> {
    profile
        .flash_limit(image.size)
        .context("the module offers no way to write blocks")
}

/// Replaces `ports` with as many fresh ones (fresh modules) after a flash
/// that was not ok.
fn recreate(ports: Vec<Port>, profile: &str) -> Result<Vec<Port>> {
    let n = ports.len();
    guest::delete_ports(ports)?;
    guest::create_ports(n, profile)
}

/// How many runs of each kind to make with `image`.
fn runs_of_size(args: &Args, image: &Image) -> usize {
    if image.size == report::SUMMARY_SIZE {
        args.runs
    } else {
        args.runs_other_sizes.unwrap_or(args.runs)
    }
}

/// The side-by-side runs on one kind of module: C and cmis_fw in turns
/// (C first in even runs, cmis_fw first in odd ones).
fn side_by_side(
    args: &Args,
    cpu: CpuClock,
    module: Module,
    images: &[&Image],
    runs: &mut Vec<Run>,
) -> Result<()> {
    let profile = module.profile();
    let mut ports = guest::create_ports(1, module.profile_name())?;
    for image in images {
        let limit = limit_of(&profile, image)?;
        for run in 0..runs_of_size(args, image) {
            let order = if run % 2 == 0 {
                [Flasher::C, Flasher::CmisFw]
            } else {
                [Flasher::CmisFw, Flasher::C]
            };
            for flasher in order {
                let batch = Batch {
                    cpu,
                    label: module.label(),
                    flasher,
                    image,
                    run,
                    limit,
                };
                ports = measure_and_recover(args, ports, &batch, module, runs)?;
            }
        }
    }
    guest::delete_ports(ports)
}

/// Measures one batch, records its run, and gives fresh ports of
/// `module` for the next one if this one was not ok.
fn measure_and_recover(
    args: &Args,
    ports: Vec<Port>,
    batch: &Batch<'_>,
    module: Module,
    runs: &mut Vec<Run>,
) -> Result<Vec<Port>> {
    let r = measure(args, &ports, batch)?;
    let ok = r.outcome == Outcome::Ok;
    runs.push(r);
    if ok {
        Ok(ports)
    } else {
        recreate(ports, module.profile_name())
    }
}

/// Label of the parallel runs.
fn parallel_label(args: &Args) -> String {
    format!("parallel-{}", args.parallel)
}

/// cmis_fw flashing `args.parallel` ports at once.
fn parallel(args: &Args, cpu: CpuClock, image: &Image, runs: &mut Vec<Run>) -> Result<()> {
    let module = args.parallel_module;
    let mut ports = guest::create_ports(args.parallel, module.profile_name())?;
    let label = parallel_label(args);
    let limit = limit_of(&module.profile(), image)?;
    for run in 0..args.runs {
        let batch = Batch {
            cpu,
            label: &label,
            flasher: Flasher::CmisFw,
            image,
            run,
            limit,
        };
        ports = measure_and_recover(args, ports, &batch, module, runs)?;
    }
    guest::delete_ports(ports)
}

/// `bench.json`.
#[derive(Serialize)]
struct Results<'a> {
    date: String,
    kernel: String,
    note: &'static str,
    cpu_clock: CpuClock,
    cmis_fw_state_bytes_per_flash: Option<u64>,
    /// Labels of the quirk profiles flashed.
    quirk_profiles: &'a [&'a str],
    summary: &'a report::Summary,
    cells: &'a [report::Cell],
    runs: &'a [Run],
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() -> Result<()> {
    let args = Args::parse();
    guest::check_modules()?;
    fs::create_dir_all(&args.out)?;
    let fw_dir = args.out.join("firmware");
    fs::create_dir_all(&fw_dir)?;
    let _firmware_path = guest::FirmwarePath::set(&fw_dir)?;

    let quirks: Vec<Module> = args
        .modules
        .iter()
        .copied()
        .filter(|m| m.is_quirk())
        .collect();
    let mut sizes = args.sizes_kib.clone();
    if !quirks.is_empty() {
        sizes.extend(&args.quirk_sizes_kib);
    }
    if args.parallel > 0 {
        sizes.push(report::SUMMARY_SIZE >> 10);
    }
    let mut seen = Vec::new();
    sizes.retain(|s| {
        let new = !seen.contains(s);
        seen.push(*s);
        new
    });
    let images = sizes
        .iter()
        .enumerate()
        .map(|(seed, kib)| make_image(&args, &fw_dir, kib << 10, seed + 1))
        .collect::<Result<Vec<_>>>()?;
    let of_sizes = |kib: &[usize]| -> Vec<&Image> {
        images
            .iter()
            .filter(|i| kib.contains(&(i.size >> 10)))
            .collect()
    };
    let (plain_images, quirk_images) = (of_sizes(&args.sizes_kib), of_sizes(&args.quirk_sizes_kib));

    let cpu = CpuClock::pick();
    let mut runs = Vec::new();
    for &module in &args.modules {
        let images = if module.is_quirk() {
            &quirk_images
        } else {
            &plain_images
        };
        side_by_side(&args, cpu, module, images, &mut runs)?;
    }
    if args.parallel > 0 {
        let one_mib = images
            .iter()
            .find(|i| i.size == report::SUMMARY_SIZE)
            .context("no 1 MiB image")?;
        parallel(&args, cpu, one_mib, &mut runs)?;
    }

    let cells = report::cells(&runs);
    let quirk_labels: Vec<&str> = quirks.iter().map(|m| m.label()).collect();
    let summary = report::summary(
        &cells,
        &parallel_label(&args),
        args.parallel_module.label(),
        &quirk_labels,
    );
    let state_bytes = guest::cmis_fw_state_bytes();
    let results = Results {
        date: command_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        kernel: command_line("uname", &["-r"]),
        note: "QEMU guest under TCG (no KVM): compare only figures of the same run",
        cpu_clock: cpu,
        cmis_fw_state_bytes_per_flash: state_bytes,
        quirk_profiles: &quirk_labels,
        summary: &summary,
        cells: &cells,
        runs: &runs,
    };
    let json = args.out.join("bench.json");
    fs::write(&json, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", json.display()))?;

    println!(
        "{} (medians of the ok runs; {}; kernel {})",
        results.date, results.note, results.kernel
    );
    print!("{}", report::table(&cells));
    match state_bytes {
        Some(n) => {
            println!("cmis_fw state per flash in flight, beside the firmware image: {n} bytes")
        }
        None => println!("cmis_fw state per flash: not found in the kernel log"),
    }
    println!("{}", report::summary_line(&summary));
    if summary.cmis_fw_failures > 0 {
        let bad: Vec<String> = runs
            .iter()
            .filter(|r| r.flasher == Flasher::CmisFw && r.outcome != Outcome::Ok)
            .map(|r| {
                format!(
                    "{} {} KiB run {} ({})",
                    r.profile,
                    r.size >> 10,
                    r.run,
                    r.outcome.name()
                )
            })
            .collect();
        return Err(anyhow!(
            "cmis_fw was not ok in {} run(s): {} (the flashers' output is in {})",
            bad.len(),
            bad.join(", "),
            args.out.join("logs").display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_is_a_named_profile() {
        for m in Module::ALL {
            assert!(
                Profile::NAMES.contains(&m.profile_name()),
                "{m:?}: {}",
                m.profile_name()
            );
            assert_eq!(Profile::by_name(m.profile_name()), Some(m.profile()));
            // Every one can be flashed, so every one has a limit.
            assert!(
                m.profile().flash_limit(report::SUMMARY_SIZE).is_some(),
                "{m:?}"
            );
        }
    }

    #[test]
    fn the_quirk_profiles_are_all_but_the_plain_and_single_bank() {
        let quirks: Vec<&str> = Module::ALL
            .iter()
            .filter(|m| m.is_quirk())
            .map(|m| m.profile_name())
            .collect();
        let expected: Vec<&str> = Profile::NAMES
            .iter()
            .copied()
            .filter(|n| !["default", "realistic_epl", "realistic_lpl", "single_bank"].contains(n))
            .collect();
        assert_eq!(quirks, expected);
    }

    #[test]
    fn the_default_modules_are_all_of_them() {
        let args = Args::parse_from(["cmis-bench", "--bin-dir", "b", "--out", "o"]);
        assert_eq!(args.modules, Module::ALL);
        assert_eq!(args.quirk_sizes_kib, [1024]);
        let args = Args::parse_from([
            "cmis-bench",
            "--bin-dir",
            "b",
            "--out",
            "o",
            "--modules",
            "instant,laggy-5ms,late-reset-1s,mailbox,nack-busy",
        ]);
        assert_eq!(
            args.modules.iter().map(|m| m.label()).collect::<Vec<_>>(),
            [
                "instant",
                "laggy_5ms",
                "late_reset_1s",
                "mailbox_driver",
                "nack_busy"
            ]
        );
    }
}
