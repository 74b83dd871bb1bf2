// SPDX-License-Identifier: GPL-2.0

//! The benchmark's view of the guest: emulated ports and their debugfs
//! controls (`Documentation/emulator.rst`), the firmware search path and
//! the kernel's CPU accounting.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The emulator's debugfs directory.
const EMU: &str = "/sys/kernel/debug/cmis_emu";
/// The firmware loader's extra search path.
const FIRMWARE_PATH: &str = "/sys/module/firmware_class/parameters/path";

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, value: impl Display) -> Result<()> {
    fs::write(path, value.to_string()).with_context(|| format!("writing {}", path.display()))
}

/// Checks that the emulator and cmis_fw are loaded.
pub(crate) fn check_modules() -> Result<()> {
    if !Path::new(EMU).is_dir() {
        bail!("{EMU} missing: load cmis_emu.ko (and mount debugfs)");
    }
    if !Path::new("/sys/module/cmis_fw").is_dir() {
        bail!("cmis_fw is not loaded");
    }
    Ok(())
}

/// One emulated port.
pub(crate) struct Port {
    pub(crate) index: u32,
    pub(crate) ifname: String,
    dir: PathBuf,
}

fn port_indexes() -> Result<BTreeSet<u32>> {
    read(&Path::new(EMU).join("del_port"))?
        .lines()
        .map(|l| l.trim().parse().context("del_port lists a non-number"))
        .collect()
}

/// Network interface of each emulated port, by port index (its bus-info
/// is `cmis_emu.<index>`).
fn interfaces() -> Result<HashMap<u32, String>> {
    let mut map = HashMap::new();
    for entry in fs::read_dir("/sys/class/net")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("cmis") {
            continue;
        }
        let out = Command::new("ethtool").args(["-i", &name]).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(index) = text
            .lines()
            .find_map(|l| l.strip_prefix("bus-info: cmis_emu."))
            .and_then(|i| i.trim().parse().ok())
        {
            map.insert(index, name);
        }
    }
    Ok(map)
}

/// Creates `n` ports, brought down (a module is flashed with its link
/// down) and with the module's named profile set to `profile` (one of
/// `cmis_core::emu::Profile::NAMES`).
pub(crate) fn create_ports(n: usize, profile: &str) -> Result<Vec<Port>> {
    let before = port_indexes()?;
    write(&Path::new(EMU).join("new_port"), n)?;
    let new: Vec<u32> = port_indexes()?.difference(&before).copied().collect();
    if new.len() != n {
        bail!("asked for {n} ports, got {}", new.len());
    }
    let mut names = interfaces()?;
    let ports = new
        .into_iter()
        .map(|index| {
            let ifname = names
                .remove(&index)
                .ok_or_else(|| anyhow!("no interface for port {index}"))?;
            let dir = Path::new(EMU).join(format!("port{index}"));
            Ok(Port { index, ifname, dir })
        })
        .collect::<Result<Vec<_>>>()?;
    for p in &ports {
        let status = Command::new("ip")
            .args(["link", "set", &p.ifname, "down"])
            .status()?;
        if !status.success() {
            bail!("ip link set {} down failed", p.ifname);
        }
        p.set_profile(profile)?;
    }
    Ok(ports)
}

/// Removes ports.
pub(crate) fn delete_ports(ports: Vec<Port>) -> Result<()> {
    for p in ports {
        write(&Path::new(EMU).join("del_port"), p.index)?;
    }
    Ok(())
}

/// A module's counters (`counters` file: `name: value` lines).
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters(HashMap<String, u64>);

impl Counters {
    fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(": ")?;
                    Some((k.to_string(), v.trim().parse().ok()?))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

impl Port {
    fn set(&self, name: &str, value: impl Display) -> Result<()> {
        write(&self.dir.join(name), value)
    }

    /// Applies the named profile `name` (identity, timing, quirks,
    /// driver cost: its `profile` file), and checks that the module took
    /// it.
    pub(crate) fn set_profile(&self, name: &str) -> Result<()> {
        self.set("profile", name)?;
        let now = read(&self.dir.join("profile"))?;
        if now.trim() != name {
            bail!(
                "{}: profile reads {:?} after writing {name}",
                self.ifname,
                now.trim()
            );
        }
        Ok(())
    }

    pub(crate) fn clear_counters(&self) -> Result<()> {
        self.set("counters", 0)
    }

    pub(crate) fn counters(&self) -> Result<Counters> {
        Ok(Counters::parse(&read(&self.dir.join("counters"))?))
    }

    /// The `banks` view.
    pub(crate) fn banks(&self) -> Result<String> {
        read(&self.dir.join("banks"))
    }

    /// The `banks` view and its line of the running bank.
    fn running(&self) -> Result<(String, String)> {
        let banks = self.banks()?;
        let line = banks
            .lines()
            .find(|l| l.contains(" running"))
            .ok_or_else(|| anyhow!("{}: no running bank:\n{banks}", self.ifname))?
            .to_string();
        Ok((banks, line))
    }

    /// The bank running now.
    pub(crate) fn running_bank(&self) -> Result<char> {
        Ok(self.running()?.1.chars().next().unwrap_or('?'))
    }

    /// The version of the running image (`MAJOR.MINOR.BUILD`).
    pub(crate) fn running_version(&self) -> Result<String> {
        let line = self.running()?.1;
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("version="))
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{}: no version in {line}", self.ifname))
    }

    /// Checks that the module runs, committed, a valid image of
    /// `body_len` bytes with CRC `body_crc` from the bank that did not
    /// run before (`previous`).
    pub(crate) fn check_flashed(
        &self,
        previous: char,
        body_len: usize,
        body_crc: u32,
    ) -> Result<()> {
        let (banks, running) = self.running()?;
        let want = format!("size={body_len} crc={body_crc:08x}");
        if running.starts_with(previous)
            || !running.contains(&want)
            || !running.ends_with(" committed")
        {
            bail!(
                "{}: expected the new image ({want}) running and committed in the bank \
                 other than {previous}:\n{banks}",
                self.ifname
            );
        }
        Ok(())
    }

    /// Waits until the module is settled: up, no command running and
    /// out of the boot phase of its last reset (`state` shows neither
    /// "busy" nor "booting"). A run starts from there, so that its time
    /// holds nothing of the run before it (the flash after a bootloader's
    /// final reset would otherwise wait out the rest of its boot phase,
    /// which neither run's time nor the limit counts).
    pub(crate) fn wait_settled(&self, timeout: Duration) -> Result<()> {
        self.wait_state(timeout, |state| {
            let mut words = state.split_whitespace();
            let up = words
                .next()
                .is_some_and(|s| ["ready", "lowpwr", "pwrup"].contains(&s));
            up && words.next().is_none()
        })
    }

    /// Waits until the module answers again after a reset (its `state`
    /// is `lowpwr`, `pwrup` or `ready`), polling every 5 ms.
    pub(crate) fn wait_until_up(&self, timeout: Duration) -> Result<()> {
        self.wait_state(timeout, |state| {
            ["ready", "lowpwr", "pwrup"]
                .iter()
                .any(|s| state.starts_with(s))
        })
    }

    /// Reads `state` every 5 ms until `reached` holds for it, at most
    /// `timeout`.
    fn wait_state(&self, timeout: Duration, reached: impl Fn(&str) -> bool) -> Result<()> {
        let start = Instant::now();
        loop {
            let state = read(&self.dir.join("state"))?;
            if reached(&state) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{}: module still {} after {timeout:?}",
                    self.ifname,
                    state.trim()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Points the firmware loader at `dir` until dropped.
pub(crate) struct FirmwarePath {
    saved: String,
}

impl FirmwarePath {
    pub(crate) fn set(dir: &Path) -> Result<Self> {
        let saved = read(Path::new(FIRMWARE_PATH))?.trim_end().to_string();
        write(Path::new(FIRMWARE_PATH), dir.display())?;
        Ok(Self { saved })
    }
}

impl Drop for FirmwarePath {
    fn drop(&mut self) {
        let _ = fs::write(FIRMWARE_PATH, &self.saved);
    }
}

/// Nanoseconds per clock tick of `/proc/stat` (`USER_HZ`, 100 on every
/// architecture Linux runs this on).
const NS_PER_TICK: u64 = 10_000_000;

/// How CPU time is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CpuClock {
    /// `/proc/schedstat`: each CPU's `rq_cpu_time`, the nanoseconds
    /// tasks other than the idle task ran there, from the scheduler's
    /// clock (`CONFIG_SCHEDSTATS`).
    Schedstat,
    /// `/proc/stat`: ticks sampled as busy. Work that wakes on the tick
    /// and sleeps again before the next one (`msleep` loops) is never
    /// sampled, so this undercounts it.
    ProcStat,
}

impl CpuClock {
    /// The precise clock if the kernel has it.
    pub(crate) fn pick() -> Self {
        if fs::read_to_string("/proc/schedstat").is_ok_and(|s| parse_schedstat(&s).is_some()) {
            Self::Schedstat
        } else {
            Self::ProcStat
        }
    }

    /// CPU time the guest has spent running anything but the idle task,
    /// all CPUs together.
    pub(crate) fn busy_ns(self) -> Result<u64> {
        match self {
            Self::Schedstat => parse_schedstat(&read(Path::new("/proc/schedstat"))?)
                .ok_or_else(|| anyhow!("/proc/schedstat has no cpu lines")),
            Self::ProcStat => parse_cpu_busy(&read(Path::new("/proc/stat"))?)
                .map(|ticks| ticks * NS_PER_TICK)
                .ok_or_else(|| anyhow!("/proc/stat has no cpu line")),
        }
    }
}

/// Sum of `rq_cpu_time` (the seventh number after `cpuN`) over the CPUs.
fn parse_schedstat(s: &str) -> Option<u64> {
    let mut sum = None;
    for line in s.lines().filter(|l| l.starts_with("cpu")) {
        let t: u64 = line.split_whitespace().nth(7)?.parse().ok()?;
        sum = Some(sum.unwrap_or(0) + t);
    }
    sum
}

/// user + nice + system + irq + softirq + steal ticks of `/proc/stat`.
fn parse_cpu_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    Some(get(0) + get(1) + get(2) + get(5) + get(6) + get(7))
}

/// The per-flash state cmis_fw reported when it was loaded (its
/// `pr_info` line in the kernel log).
pub(crate) fn cmis_fw_state_bytes() -> Option<u64> {
    let out = Command::new("dmesg").output().ok()?;
    let log = String::from_utf8_lossy(&out.stdout);
    log.lines().rev().find_map(|l| {
        let (_, rest) = l.split_once("cmis_fw: generic netlink family ")?;
        let (_, n) = rest.split_once("; ")?;
        n.strip_suffix(" bytes of state per flash beside the firmware image")?
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_busy_ticks() {
        let stat = "cpu  10 2 30 1000 7 4 5 1 0 0\ncpu0 5 1 15 500 3 2 2 0 0 0\n";
        assert_eq!(parse_cpu_busy(stat), Some(10 + 2 + 30 + 4 + 5 + 1));
        assert_eq!(parse_cpu_busy("intr 1\n"), None);
    }

    #[test]
    fn schedstat_cpu_time() {
        let s = "version 16\ntimestamp 4294\ncpu0 0 0 10 2 5 1 1000 50 7\ndomain0 3 1 2\n\
                 cpu1 0 0 10 2 5 1 234 50 7\n";
        assert_eq!(parse_schedstat(s), Some(1234));
        assert_eq!(parse_schedstat("version 16\n"), None);
    }

    #[test]
    fn counters_parse() {
        let c = Counters::parse("reads: 12\nwrites: 7\ncommand_0101: 1\nlog: x\n");
        assert_eq!(
            (c.get("reads"), c.get("writes"), c.get("command_0101")),
            (12, 7, 1)
        );
        assert_eq!(c.get("bytes_read"), 0);
    }
}
