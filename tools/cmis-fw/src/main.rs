// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw`: flash CMIS transceiver module firmware through the
//! `cmis_fw` kernel module and follow flashes in progress.

mod netlink;
mod output;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use netlink::{Client, Refused, Status};
use output::{Format, Printer};
use std::process::ExitCode;

/// Exit status of a flash that ended in an error notification.
const EXIT_FLASH_FAILED: u8 = 1;
/// Exit status of a request the kernel refused, or a netlink failure.
const EXIT_REFUSED: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

#[derive(Parser)]
#[command(
    name = "cmis-fw",
    version,
    about = "Flash CMIS transceiver module firmware (QSFP-DD, OSFP, ...) through the cmis_fw \
             kernel module",
    after_help = "Exit status: 0 flash completed; 1 the flash failed (the kernel's message is \
                  printed); 2 the request was refused or netlink failed; 130 interrupted (the \
                  flash goes on in the kernel)."
)]
struct Cli {
    /// Generic netlink family to talk to ("ethtool" when cmis_fw stands in
    /// for the ethtool family).
    #[arg(long, global = true, default_value = cmis_core::uapi::FAMILY_NAME, hide = true)]
    family: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Flash DEV's module with FILE and follow the flash to its end.
    Flash {
        /// Network device whose plug-in module is flashed.
        dev: String,
        /// Firmware file, relative to the firmware search path
        /// (/lib/firmware, or the firmware_class.path parameter).
        file: String,
        /// Module password (CMIS host password, decimal or 0x hex).
        #[arg(long, value_parser = parse_u32)]
        password: Option<u32>,
        /// Print each notification as a JSON object on its own line.
        #[arg(long)]
        json: bool,
    },
    /// Follow every flash on the system (the monitor multicast group).
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
    /// Print the manual page (troff).
    Man,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

fn flash(cli_family: &str, dev: &str, file: &str, password: Option<u32>, json: bool) -> Result<u8> {
    let mut client = Client::connect(cli_family)?;
    client.flash(dev, file, password)?;
    let name = dev.to_owned();
    // Ctrl-C does not stop a flash: the kernel finishes it. Say so.
    let _ = ctrlc::set_handler(move || {
        eprintln!(
            "\ninterrupted: the flash of {name} continues in the kernel; follow it with \
             'cmis-fw monitor'"
        );
        std::process::exit(EXIT_INTERRUPTED);
    });
    let mut printer = Printer::new(Format::pick(json));
    loop {
        let n = client.next()?;
        if n.dev != dev {
            continue;
        }
        printer.show(&n);
        match n.status {
            Status::Completed => return Ok(0),
            Status::Error => {
                if json {
                    // The message is in the JSON line; repeat it for humans.
                    eprintln!(
                        "error: {}",
                        n.message.as_deref().unwrap_or("flashing failed")
                    );
                }
                return Ok(EXIT_FLASH_FAILED);
            }
            _ => {}
        }
    }
}

fn monitor(family: &str, json: bool, count: Option<u64>) -> Result<u8> {
    let mut client = Client::connect(family)?;
    client.monitor()?;
    let mut printer = Printer::new(Format::pick(json));
    let mut ended = 0;
    loop {
        let n = client.next()?;
        printer.show(&n);
        if n.status.is_terminal() {
            ended += 1;
            if count == Some(ended) {
                return Ok(0);
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Flash {
            dev,
            file,
            password,
            json,
        } => flash(&cli.family, dev, file, *password, *json),
        Command::Monitor { json, count } => monitor(&cli.family, *json, *count),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "cmis-fw",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|()| 0)
            .map_err(Into::into),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match e.downcast_ref::<Refused>() {
                Some(r) => eprintln!("error: request refused: {r}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn passwords_in_decimal_or_hex() {
        assert_eq!(parse_u32("305419896"), Ok(0x1234_5678));
        assert_eq!(parse_u32("0x12345678"), Ok(0x1234_5678));
        assert!(parse_u32("0x1_0000_0000").is_err());
        assert!(parse_u32("pw").is_err());
    }
}
