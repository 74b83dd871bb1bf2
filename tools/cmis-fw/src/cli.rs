// SPDX-License-Identifier: GPL-2.0

//! The command line, apart so that the build script can render the manual
//! pages and shell completions from it (`build.rs`).

use clap::{Parser, Subcommand};

/// The command line.
#[derive(Parser)]
#[command(
    name = "cmis-fw",
    version,
    about = "Flash CMIS transceiver module firmware (QSFP-DD, OSFP, ...) through the cmis_fw \
             kernel module",
    after_help = "Exit status: 0 the job completed (on every port); 1 it failed (the kernel's \
                  message is printed); 2 the request was refused or netlink failed; 3 no word \
                  from the kernel within --wait-limit; 4 the cmis_fw module is not loaded; 5 \
                  several ports ended differently (see the summary); 64 usage error; 130 \
                  interrupted (the job goes on in the kernel, unless --cancel-on-interrupt)."
)]
pub(crate) struct Cli {
    /// Generic netlink family to talk to ("ethtool" when cmis_fw stands in
    /// for the ethtool family).
    #[arg(long, global = true, default_value = cmis_core::uapi::FAMILY_NAME, hide = true)]
    pub(crate) family: String,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Flash the module of each DEV with FILE and follow the flashes to
    /// their ends (several ports: flashed at once, a summary table at the
    /// end, exit status 5 if they ended differently).
    Flash {
        /// Network devices whose plug-in modules are flashed, all at once
        /// (a summary table at the end when there are several).
        #[arg(required = true, value_name = "DEV")]
        devs: Vec<String>,
        /// Firmware file, relative to the firmware search path
        /// (/lib/firmware, or the firmware_class.path parameter).
        file: String,
        /// Module password (CMIS host password, decimal or 0x hex).
        #[arg(long, value_parser = parse_u32)]
        password: Option<u32>,
        /// Print each notification as a JSON object on its own line.
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds without a notification (the
        /// flash goes on in the kernel). A module may legally stay silent
        /// for a command timeout of up to 655 s plus a 60 s reset.
        #[arg(long, default_value_t = 900, value_name = "SECS")]
        wait_limit: u64,
        /// Stop once the image is in the inactive bank: the module goes
        /// on running its image (switch later with 'cmis-fw run').
        #[arg(long, conflicts_with = "no_commit")]
        no_run: bool,
        /// Stop once the new image runs, uncommitted: a module reset boots
        /// the previous one (keep it with 'cmis-fw commit').
        #[arg(long)]
        no_commit: bool,
        /// The version the file holds (MAJOR.MINOR or MAJOR.MINOR.BUILD):
        /// nothing is done if the module runs it already, the download is
        /// skipped if its inactive bank holds it, and an image of another
        /// version is never committed.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        version: Option<String>,
        /// Download with the port up, passing traffic (with --no-run only:
        /// Run resets the module; only modules whose CDB runs in the
        /// background, which the kernel checks before sending anything).
        #[arg(long, requires = "no_run")]
        link_up: bool,
        /// Run the new image hitless (modules that advertise it), keeping
        /// the traffic; no final reset where the module proves the commit.
        #[arg(long, conflicts_with = "no_run")]
        hitless: bool,
        /// Ctrl-C cancels the flash (a download in progress is aborted)
        /// instead of leaving it to go on in the kernel.
        #[arg(long)]
        cancel_on_interrupt: bool,
    },
    /// Bring each DEV (none: every port with a CMIS module) to the
    /// firmware its module's part number calls for in a policy file
    /// (JSON: {"schema": 1, "modules": [{"part_number": ..., "vendor":
    /// ... (optional), "version": "2.1.7", "file": "acme/qdd-2.1.7.bin"}]}):
    /// ports that run it are left alone, the others flashed at once,
    /// stating the version.
    Update {
        /// The policy file.
        #[arg(long, value_name = "FILE")]
        policy: std::path::PathBuf,
        /// Network devices to bring up to date.
        devs: Vec<String>,
        /// Module password (CMIS host password, decimal or 0x hex).
        #[arg(long, value_parser = parse_u32)]
        password: Option<u32>,
        /// Print each notification as a JSON object on its own line, then
        /// the summary.
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds without a notification.
        #[arg(long, default_value_t = 900, value_name = "SECS")]
        wait_limit: u64,
        /// Ctrl-C cancels the flashes.
        #[arg(long)]
        cancel_on_interrupt: bool,
    },
    /// Cancel the flash (or run, or commit) in progress on DEV: a
    /// download is aborted, the module keeps its running image.
    Cancel {
        /// Network device whose module's flash is cancelled.
        dev: String,
    },
    /// Run the image of DEV's inactive bank (one downloaded with
    /// 'flash --no-run'), proven to run, uncommitted.
    Run {
        /// Network device whose plug-in module runs its inactive image.
        dev: String,
        /// Commit it too, once it runs.
        #[arg(long)]
        commit: bool,
        /// Restart hitless (modules that advertise it), keeping the
        /// traffic; the commit is then kept without the final reset where
        /// the module proves it.
        #[arg(long)]
        hitless: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Commit the image DEV's module runs (after 'run' or
    /// 'flash --no-commit'): the module boots it from now on.
    Commit {
        /// Network device whose plug-in module commits its image.
        dev: String,
        #[command(flatten)]
        common: Common,
    },
    /// Go back to the image of DEV's other bank: run it and commit it.
    Rollback {
        /// Network device whose plug-in module goes back.
        dev: String,
        /// Restart hitless (modules that advertise it).
        #[arg(long)]
        hitless: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Show what each DEV's module is and holds: identity, CDB
    /// capabilities, and per bank the image's version, running, committed
    /// and valid (from Get Firmware Info, else the version registers).
    /// Needs CAP_NET_ADMIN (the module's CDB is asked).
    Info {
        /// Network devices whose plug-in modules are shown (none: every
        /// port of the namespace with a CMIS module).
        devs: Vec<String>,
        /// Module password (CMIS host password, decimal or 0x hex).
        #[arg(long, value_parser = parse_u32)]
        password: Option<u32>,
        /// Print a JSON array, one object per device.
        #[arg(long)]
        json: bool,
    },
    /// Run one CDB command on DEV's module (the kernel's scoped RPC,
    /// fwctl's rules): a command above the declared scope is refused;
    /// debug-write and debug-write-full taint the kernel, and
    /// debug-write-full needs CAP_SYS_RAWIO. Replies of 0000h, 0040h,
    /// 0041h and 0100h are decoded, others shown in hex. Exit status 1 if
    /// the module reports a failure status. With --list: the commands,
    /// their scopes, and what the module supports.
    Cdb {
        /// Network device whose plug-in module runs the command.
        dev: String,
        /// Command id, hexadecimal (0100h, 0x8001).
        #[arg(value_parser = parse_command, required_unless_present = "list")]
        command: Option<u16>,
        /// Local payload, hexadecimal bytes (at most 120).
        #[arg(long, value_name = "HEX", value_parser = parse_hex)]
        payload: Option<HexBytes>,
        /// Extended payload, read from a file (at most what the module's
        /// EPL pages hold).
        #[arg(long, value_name = "FILE")]
        epl: Option<std::path::PathBuf>,
        /// The scope declared: configuration, debug-read-only,
        /// debug-write or debug-write-full.
        #[arg(long, default_value = "debug-read-only", value_parser = parse_scope)]
        scope: cmis_core::cdb::scope::Scope,
        /// CDB instance (1 or 2; default: the first not busy).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
        instance: Option<u32>,
        /// Give up this many ms after the trigger (default 65535).
        #[arg(long, value_name = "MS")]
        timeout: Option<u32>,
        /// List the commands, their scopes and what the module supports.
        #[arg(long, conflicts_with_all = ["command", "payload", "epl", "instance", "timeout"])]
        list: bool,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Follow every flash in the namespace (the monitor multicast group;
    /// needs CAP_NET_ADMIN).
    Monitor {
        /// Print each notification as a JSON object on its own line.
        #[arg(long)]
        json: bool,
        /// Stop after this many flashes have ended.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (troff), or write one per command into DIR.
    Man {
        /// Write cmis-fw.1, cmis-fw-flash.1, ... into this directory.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

impl Command {
    /// Whether the command was asked for JSON (errors are told in JSON
    /// too then).
    pub(crate) fn json(&self) -> bool {
        match self {
            Self::Flash { json, .. }
            | Self::Update { json, .. }
            | Self::Info { json, .. }
            | Self::Cdb { json, .. }
            | Self::Monitor { json, .. } => *json,
            Self::Run { common, .. }
            | Self::Commit { common, .. }
            | Self::Rollback { common, .. } => common.json,
            Self::Cancel { .. } | Self::Completions { .. } | Self::Man { .. } => false,
        }
    }
}

/// Options of the staged operations, as `flash` has them.
#[derive(clap::Args)]
pub(crate) struct Common {
    /// Module password (CMIS host password, decimal or 0x hex).
    #[arg(long, value_parser = parse_u32)]
    pub(crate) password: Option<u32>,
    /// Print each notification as a JSON object on its own line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Give up after this many seconds without a notification (the job
    /// goes on in the kernel).
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub(crate) wait_limit: u64,
}

/// A version as `--version` takes it, checked as the kernel checks it.
pub(crate) fn parse_version(s: &str) -> Result<String, String> {
    cmis_core::fw_update::version::Version::parse(s.as_bytes())
        .map(|_| s.to_owned())
        .ok_or_else(|| "expected MAJOR.MINOR or MAJOR.MINOR.BUILD (e.g. 3.2 or 3.2.17)".into())
}

/// A u32 in decimal or 0x hexadecimal.
pub(crate) fn parse_u32(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

/// A scope by its fwctl name.
pub(crate) fn parse_scope(s: &str) -> Result<cmis_core::cdb::scope::Scope, String> {
    (0..4)
        .filter_map(cmis_core::cdb::scope::Scope::from_code)
        .find(|sc| sc.name() == s)
        .ok_or_else(|| {
            "expected configuration, debug-read-only, debug-write or debug-write-full".into()
        })
}

/// A command id: hex, with or without 0x or a trailing h (0100h, 0x8001).
pub(crate) fn parse_command(s: &str) -> Result<u16, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .or_else(|| s.strip_suffix('h'))
        .or_else(|| s.strip_suffix('H'))
        .unwrap_or(s);
    u16::from_str_radix(hex, 16).map_err(|e| format!("{s}: {e} (a hexadecimal command id)"))
}

/// Bytes given in hex on the command line (one value, not a list of
/// bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HexBytes(pub(crate) Vec<u8>);

/// Bytes written as hex, spaces and colons allowed ("01 02", "0102").
pub(crate) fn parse_hex(s: &str) -> Result<HexBytes, String> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err("an odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| format!("{s}: {e}")))
        .collect::<Result<_, _>>()
        .map(HexBytes)
}
