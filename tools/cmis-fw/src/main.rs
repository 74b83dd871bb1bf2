// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw`: flash CMIS transceiver module firmware through the
//! `cmis_fw` kernel module and follow flashes in progress.

mod cli;
mod info;
mod netlink;
mod output;

use anyhow::Result;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use netlink::{Client, Event, Job, Refused, Status};
use output::{Format, Printer};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Exit status of a flash that ended in an error notification.
const EXIT_FLASH_FAILED: u8 = 1;
/// Exit status of a request the kernel refused, or a netlink failure.
const EXIT_REFUSED: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

/// Exit status when the kernel said nothing for the wait limit.
const EXIT_NO_NEWS: u8 = 3;

/// How a job is followed.
struct Follow {
    json: bool,
    /// Longest wait for a notification.
    wait_limit: Duration,
    /// Ctrl-C cancels the job (else it goes on in the kernel).
    cancel_on_interrupt: bool,
}

/// What Ctrl-C does: by default, leave the job to the kernel and say so;
/// with `cancel`, ask the kernel to cancel it and wait for its end (a
/// second Ctrl-C leaves at once).
fn on_interrupt(family: &str, dev: &str, cancel: bool) -> Arc<AtomicBool> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let (family, name, flag) = (family.to_owned(), dev.to_owned(), cancelled.clone());
    let _ = ctrlc::set_handler(move || {
        if !cancel || flag.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\ninterrupted: the work on {name} continues in the kernel; follow it with \
                 'cmis-fw monitor'"
            );
            std::process::exit(EXIT_INTERRUPTED);
        }
        eprintln!("\ncancelling the work on {name} (Ctrl-C again leaves it to the kernel)");
        if let Err(e) = Client::connect(&family).and_then(|mut c| c.cancel(&name)) {
            eprintln!("error: cannot cancel: {e:#}");
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    cancelled
}

/// Asks for `job` on `dev` and follows it to its end.
fn act(
    cli_family: &str,
    dev: &str,
    job: &Job,
    password: Option<u32>,
    follow: &Follow,
) -> Result<u8> {
    let (json, wait_limit) = (follow.json, follow.wait_limit);
    let mut client = Client::connect(cli_family)?;
    client.act(dev, job, password)?;
    let cancelled = on_interrupt(cli_family, dev, follow.cancel_on_interrupt);
    let mut printer = Printer::new(Format::pick(json));
    // Only this flash's notifications reach this socket (it joined no
    // group); they name the device by index, which a rename or an
    // altname leaves alone.
    let mut ifindex = None;
    let mut lost_told = false;
    let reader = client.into_reader();
    loop {
        let n = match reader.next_within(wait_limit)? {
            Some(Event::Notification(n)) => n,
            Some(Event::Lost) => {
                if !lost_told {
                    eprintln!("warning: some notifications were lost (socket buffer full)");
                    lost_told = true;
                }
                continue;
            }
            None => {
                eprintln!(
                    "error: no word from the kernel for {} s; the flash of {dev} may go on: \
                     follow it with 'cmis-fw monitor'",
                    wait_limit.as_secs()
                );
                return Ok(EXIT_NO_NEWS);
            }
        };
        if *ifindex.get_or_insert(n.ifindex) != n.ifindex {
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
                if cancelled.load(Ordering::SeqCst) {
                    return Ok(EXIT_INTERRUPTED as u8);
                }
                return Ok(EXIT_FLASH_FAILED);
            }
            _ => {}
        }
    }
}

/// A staged operation with its common options.
fn staged(family: &str, dev: &str, job: &Job, c: &cli::Common) -> Result<u8> {
    let follow = Follow {
        json: c.json,
        wait_limit: Duration::from_secs(c.wait_limit),
        cancel_on_interrupt: false,
    };
    act(family, dev, job, c.password, &follow)
}

/// Shows each device's module; a device that cannot be read is told on
/// standard error (and, with `json`, as an object with its error), and
/// makes the exit status [`EXIT_REFUSED`].
fn info(family: &str, devs: &[String], password: Option<u32>, json: bool) -> Result<u8> {
    let mut client = Client::connect(family)?;
    let mut code = 0;
    let mut objects = Vec::new();
    for dev in devs {
        match client.info(dev, password).and_then(|a| info::parse(&a)) {
            Ok(m) if json => objects.push(serde_json::to_value(&m)?),
            Ok(m) => print!("{}", info::text(&m)),
            Err(e) => {
                code = EXIT_REFUSED;
                let msg = match e.downcast_ref::<Refused>() {
                    Some(r) => r.to_string(),
                    None => format!("{e:#}"),
                };
                eprintln!("error: {dev}: {msg}");
                if json {
                    objects.push(serde_json::json!({
                        "schema": info::SCHEMA,
                        "device": dev,
                        "error": msg,
                    }));
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&objects)?);
    }
    Ok(code)
}

fn monitor(family: &str, json: bool, count: Option<u64>) -> Result<u8> {
    let mut client = Client::connect(family)?;
    client.monitor()?;
    // On stderr, so that --json output stays JSON: scripts wait for it
    // before they start a flash they want to see.
    eprintln!("monitoring flashes (Ctrl-C stops)");
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
            wait_limit,
            no_run,
            no_commit,
            version,
            cancel_on_interrupt,
        } => {
            let until = if *no_run {
                Some(cmis_core::uapi::until::DOWNLOADED)
            } else if *no_commit {
                Some(cmis_core::uapi::until::RUNNING)
            } else {
                None
            };
            let job = Job::Flash {
                file: file.clone(),
                until,
                version: version.clone(),
            };
            let follow = Follow {
                json: *json,
                wait_limit: Duration::from_secs(*wait_limit),
                cancel_on_interrupt: *cancel_on_interrupt,
            };
            act(&cli.family, dev, &job, *password, &follow)
        }
        Command::Cancel { dev } => Client::connect(&cli.family)
            .and_then(|mut c| c.cancel(dev))
            .map(|()| 0),
        Command::Run {
            dev,
            commit,
            common,
        } => staged(&cli.family, dev, &Job::Run { commit: *commit }, common),
        Command::Commit { dev, common } => staged(&cli.family, dev, &Job::Commit, common),
        Command::Rollback { dev, common } => {
            staged(&cli.family, dev, &Job::Run { commit: true }, common)
        }
        Command::Info {
            devs,
            password,
            json,
        } => info(&cli.family, devs, *password, *json),
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
        Command::Man { dir: None } => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|()| 0)
            .map_err(Into::into),
        Command::Man { dir: Some(dir) } => clap_mangen::generate_to(Cli::command(), dir)
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
        use cli::parse_u32;
        assert_eq!(parse_u32("305419896"), Ok(0x1234_5678));
        assert_eq!(parse_u32("0x12345678"), Ok(0x1234_5678));
        assert!(parse_u32("0x1_0000_0000").is_err());
        assert!(parse_u32("pw").is_err());
    }
}
