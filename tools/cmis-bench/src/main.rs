// SPDX-License-Identifier: GPL-2.0

//! `cmis-bench`: flashes emulated CMIS modules with the kernel's C
//! flasher (`net/ethtool/cmis_fw_update.c`, through unmodified
//! `ethtool --flash-module-firmware`) and with `cmis_fw` (through
//! `cmis-fw flash`), alternately, on identical emulator settings, and
//! compares their times with each other and with the physical limit of
//! the emulated module (`cmis_core::emu::limit`).
//!
//! It runs inside the test VM with both kernel modules loaded: `make
//! bench` boots the VM and runs it there (`Documentation/benchmark.rst`).
//! It writes every run and the medians to `OUT/bench.json`, prints the
//! table, and ends with the summary line.

mod guest;
mod report;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use cmis_core::emu::Profile;
use cmis_core::image::crc32;
use guest::{CpuClock, Port};
use report::{Flasher, Run};
use serde::Serialize;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The emulated modules flashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Module {
    /// Timing model off: measures the host side alone.
    Instant,
    /// 400 kHz bus, 2 KiB EPL blocks, realistic busy and reset times.
    Epl,
    /// The same module with LPL writes only (116-byte blocks).
    Lpl,
}

impl Module {
    const fn label(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Epl => "realistic-epl",
            Self::Lpl => "realistic-lpl",
        }
    }

    const fn profile(self) -> Profile {
        match self {
            Self::Instant => Profile::DEFAULT,
            Self::Epl => Profile::REALISTIC_EPL,
            Self::Lpl => Profile::REALISTIC_LPL,
        }
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
    /// are their medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Flashes of each kind per module with the other image sizes
    /// (default: as many as --runs).
    #[arg(long)]
    runs_other_sizes: Option<usize>,
    /// Image sizes in KiB.
    #[arg(long, value_delimiter = ',', default_values_t = [256, 1024, 2048])]
    sizes_kib: Vec<usize>,
    /// Emulated modules to flash.
    #[arg(long, value_delimiter = ',', default_values = ["instant", "epl", "lpl"])]
    modules: Vec<Module>,
    /// Ports flashed at once by cmis_fw in the parallel run (1 MiB
    /// image); 0 skips it.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// The emulated module of the parallel run.
    #[arg(long, default_value = "epl")]
    parallel_module: Module,
    /// Directory holding `cmis-fw` and `cmis-emu-image`.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Where to write `bench.json`, the images and the flashers' output.
    #[arg(long)]
    out: PathBuf,
}

/// An image file in the firmware directory.
struct Image {
    /// Name relative to the firmware search path.
    name: String,
    size: usize,
    body_len: usize,
    body_crc: u32,
}

/// Header length of the images: the modules' StartCmdPayloadSize.
const HEADER_LEN: usize = Profile::DEFAULT.start_payload_size as usize;

fn make_image(args: &Args, dir: &Path, size: usize, seed: usize) -> Result<Image> {
    let name = format!("bench-{}k.bin", size >> 10);
    let path = dir.join(&name);
    let status = Command::new(args.bin_dir.join("cmis-emu-image"))
        .args(["--version", &format!("3.{seed}.0"), "--text", "cmis-bench"])
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
    Ok(Image {
        name,
        size,
        body_len: size - HEADER_LEN,
        body_crc: crc32(&bytes[HEADER_LEN..]),
    })
}

/// Starts one flash of `port`, its output going to `log`.
fn spawn(args: &Args, flasher: Flasher, port: &Port, image: &Image, log: &Path) -> Result<Child> {
    let out = File::create(log)?;
    let err = out.try_clone()?;
    let mut cmd = match flasher {
        Flasher::C => {
            let mut c = Command::new("ethtool");
            c.args(["--flash-module-firmware", &port.ifname, "file", &image.name]);
            c
        }
        Flasher::CmisFw => {
            let mut c = Command::new(args.bin_dir.join("cmis-fw"));
            c.args(["flash", &port.ifname, &image.name]);
            c
        }
    };
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
    limit_ns: u64,
}

/// Flashes every port at once with one flasher and measures it.
fn measure(args: &Args, ports: &[Port], b: &Batch<'_>) -> Result<Run> {
    let logs = args.out.join("logs");
    fs::create_dir_all(&logs)?;
    let mut previous = Vec::with_capacity(ports.len());
    for p in ports {
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
    for p in ports {
        p.wait_until_up(Duration::from_secs(60))?;
    }
    let wall_ns = start.elapsed().as_nanos() as u64;
    let cpu_ns = b.cpu.busy_ns()?.saturating_sub(cpu_before);
    let mut run = Run {
        profile: b.label.to_string(),
        flasher: b.flasher,
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
        limit_ns: b.limit_ns,
    };
    for ((p, status), before) in ports.iter().zip(statuses).zip(previous) {
        let log = fs::read_to_string(log_of(p)).unwrap_or_default();
        // ethtool exits 0 whatever the outcome; the module tells.
        let checked = if status.success() {
            p.check_flashed(before, b.image.body_len, b.image.body_crc)
        } else {
            Err(anyhow::anyhow!("{status}"))
        };
        checked.with_context(|| {
            format!(
                "{} flash of {} failed; its output:\n{log}",
                b.flasher.name(),
                p.ifname
            )
        })?;
        let c = p.counters()?;
        run.reads += c.get("reads");
        run.writes += c.get("writes");
        run.bytes_read += c.get("bytes_read");
        run.bytes_written += c.get("bytes_written");
        run.commands += c.get("commands");
        run.bus_ns += c.get("bus_ns");
        run.busy_ns += c.get("busy_ns");
        run.handler_ns += c.get("request_ns");
    }
    eprintln!(
        "cmis-bench: {} {} KiB {} run {}{}: {:.2} s",
        b.label,
        b.image.size >> 10,
        b.flasher.name(),
        b.run,
        if ports.len() > 1 {
            format!(" ({} ports)", ports.len())
        } else {
            String::new()
        },
        wall_ns as f64 / 1e9
    );
    Ok(run)
}

fn limit_ns(profile: &Profile, image: &Image) -> Result<u64> {
    profile
        .flash_limit(image.size)
        .map(|l| l.total_ns())
        .context("the module offers no way to write blocks")
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
    let ports = guest::create_ports(1, &profile)?;
    for image in images {
        let limit_ns = limit_ns(&profile, image)?;
        let runs_of_size = if image.size == report::SUMMARY_SIZE {
            args.runs
        } else {
            args.runs_other_sizes.unwrap_or(args.runs)
        };
        for run in 0..runs_of_size {
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
                    limit_ns,
                };
                runs.push(measure(args, &ports, &batch)?);
            }
        }
    }
    guest::delete_ports(ports)
}

/// Label of the parallel runs.
fn parallel_label(args: &Args) -> String {
    format!("parallel-{}", args.parallel)
}

/// cmis_fw flashing `args.parallel` ports at once.
fn parallel(args: &Args, cpu: CpuClock, image: &Image, runs: &mut Vec<Run>) -> Result<()> {
    let profile = args.parallel_module.profile();
    let ports = guest::create_ports(args.parallel, &profile)?;
    let label = parallel_label(args);
    let limit_ns = limit_ns(&profile, image)?;
    for run in 0..args.runs {
        let batch = Batch {
            cpu,
            label: &label,
            flasher: Flasher::CmisFw,
            image,
            run,
            limit_ns,
        };
        runs.push(measure(args, &ports, &batch)?);
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

    let mut sizes = args.sizes_kib.clone();
    if args.parallel > 0 && !sizes.contains(&1024) {
        sizes.push(1024);
    }
    let images = sizes
        .iter()
        .enumerate()
        .map(|(seed, kib)| make_image(&args, &fw_dir, kib << 10, seed + 1))
        .collect::<Result<Vec<_>>>()?;
    let chosen: Vec<&Image> = images
        .iter()
        .filter(|i| args.sizes_kib.contains(&(i.size >> 10)))
        .collect();

    let cpu = CpuClock::pick();
    let mut runs = Vec::new();
    for &module in &args.modules {
        side_by_side(&args, cpu, module, &chosen, &mut runs)?;
    }
    if args.parallel > 0 {
        let one_mib = images
            .iter()
            .find(|i| i.size == report::SUMMARY_SIZE)
            .context("no 1 MiB image")?;
        parallel(&args, cpu, one_mib, &mut runs)?;
    }

    let cells = report::cells(&runs);
    let summary = report::summary(&cells, &parallel_label(&args), args.parallel_module.label());
    let state_bytes = guest::cmis_fw_state_bytes();
    let results = Results {
        date: command_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        kernel: command_line("uname", &["-r"]),
        note: "QEMU guest under TCG (no KVM): compare only figures of the same run",
        cpu_clock: cpu,
        cmis_fw_state_bytes_per_flash: state_bytes,
        summary: &summary,
        cells: &cells,
        runs: &runs,
    };
    let json = args.out.join("bench.json");
    fs::write(&json, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", json.display()))?;

    println!(
        "{} (medians; {}; kernel {})",
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
    Ok(())
}
