// SPDX-License-Identifier: GPL-2.0

//! `cmis-fw`: flash CMIS transceiver module firmware through the
//! `cmis_fw` kernel module and follow flashes in progress.

mod cdb;
mod cli;
mod info;
mod jobs;
mod netlink;
mod output;
mod policy;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use jobs::Follow;
use netlink::{Client, Job, NotLoaded, Refused};
use output::{Format, Printer};
use std::process::ExitCode;
use std::time::Duration;

/// Exit statuses: each a different thing for a script to do.
pub(crate) mod exit {
    /// The job completed (on every port).
    pub(crate) const OK: u8 = 0;
    /// The job failed (on every port): the kernel's message says why.
    pub(crate) const FAILED: u8 = 1;
    /// The kernel refused the request, or netlink failed.
    pub(crate) const REFUSED: u8 = 2;
    /// The kernel said nothing for the wait limit; the job may go on.
    pub(crate) const NO_NEWS: u8 = 3;
    /// The `cmis_fw` module is not loaded (no such netlink family).
    pub(crate) const NOT_LOADED: u8 = 4;
    /// Several ports, different outcomes: see the summary.
    pub(crate) const PARTIAL: u8 = 5;
    /// The command line is wrong (`EX_USAGE`).
    pub(crate) const USAGE: u8 = 64;
    /// Ctrl-C (128 + SIGINT).
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// A staged operation with its common options.
fn staged(family: &str, dev: &str, job: &Job, c: &cli::Common) -> Result<u8> {
    let follow = Follow {
        json: c.json,
        wait_limit: Duration::from_secs(c.wait_limit),
        cancel_on_interrupt: false,
    };
    jobs::run(family, &[dev.to_owned()], job, c.password, &follow)
}

/// Shows each device's module (every port's with a CMIS module if
/// `devs` is empty); a device that cannot be read is told on standard
/// error (and, with `json`, as an object with its error), and makes the
/// exit status [`exit::REFUSED`].
fn info(family: &str, devs: &[String], password: Option<u32>, json: bool) -> Result<u8> {
    let mut client = Client::connect(family)?;
    let mut code = exit::OK;
    let mut objects = Vec::new();
    let show = |m: info::ModuleInfo, objects: &mut Vec<_>| -> Result<()> {
        if json {
            objects.push(serde_json::to_value(&m)?);
        } else {
            print!("{}", info::text(&m));
        }
        Ok(())
    };
    if devs.is_empty() {
        for reply in client.info_all(password)? {
            show(info::parse(&reply)?, &mut objects)?;
        }
    }
    for dev in devs {
        match client.info(dev, password).and_then(|a| info::parse(&a)) {
            Ok(m) => show(m, &mut objects)?,
            Err(e) => {
                code = exit::REFUSED;
                let msg = match e.downcast_ref::<Refused>() {
                    Some(r) => r.to_string(),
                    None => format!("{e:#}"),
                };
                eprintln!("error: {dev}: {msg}");
                if json {
                    objects.push(serde_json::json!({
                        "schema": info::SCHEMA,
                        "time": output::timestamp(),
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

/// `update --policy`: each port's inventory, then the flashes it needs,
/// at once; the ports left alone (or unreadable) in the summary.
fn update(
    family: &str,
    policy: &std::path::Path,
    devs: &[String],
    password: Option<u32>,
    follow: &Follow,
) -> Result<u8> {
    let text =
        std::fs::read_to_string(policy).with_context(|| format!("reading {}", policy.display()))?;
    let policy = policy::Policy::parse(&text)?;
    let mut client = Client::connect(family)?;
    let mut modules = Vec::new();
    let mut unread = Vec::new();
    if devs.is_empty() {
        for reply in client.info_all(password)? {
            modules.push(info::parse(&reply)?);
        }
    }
    for dev in devs {
        match client.info(dev, password).and_then(|a| info::parse(&a)) {
            Ok(m) => modules.push(m),
            Err(e) => unread.push(jobs::PortJob::refused(dev, format!("{e:#}"))),
        }
    }
    let mut work = policy::split(&policy, &modules);
    work.settled.extend(unread);
    jobs::run_each(family, &work.flashes, work.settled, password, follow)
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let json = cli.command.json();
    let r = match &cli.command {
        Command::Flash {
            devs,
            file,
            password,
            json,
            wait_limit,
            no_run,
            no_commit,
            version,
            link_up,
            hitless,
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
                link_up: *link_up,
                hitless: *hitless,
            };
            let follow = Follow {
                json: *json,
                wait_limit: Duration::from_secs(*wait_limit),
                cancel_on_interrupt: *cancel_on_interrupt,
            };
            jobs::run(&cli.family, devs, &job, *password, &follow)
        }
        Command::Update {
            policy,
            devs,
            password,
            json,
            wait_limit,
            cancel_on_interrupt,
        } => {
            let follow = Follow {
                json: *json,
                wait_limit: Duration::from_secs(*wait_limit),
                cancel_on_interrupt: *cancel_on_interrupt,
            };
            update(&cli.family, policy, devs, *password, &follow)
        }
        Command::Cancel { dev } => Client::connect(&cli.family)
            .and_then(|mut c| c.cancel(dev))
            .map(|()| exit::OK),
        Command::Run {
            dev,
            commit,
            hitless,
            common,
        } => {
            let job = Job::Run {
                commit: *commit,
                hitless: *hitless,
            };
            staged(&cli.family, dev, &job, common)
        }
        Command::Commit { dev, common } => staged(&cli.family, dev, &Job::Commit, common),
        Command::Rollback {
            dev,
            hitless,
            common,
        } => {
            let job = Job::Run {
                commit: true,
                hitless: *hitless,
            };
            staged(&cli.family, dev, &job, common)
        }
        Command::Info {
            devs,
            password,
            json,
        } => info(&cli.family, devs, *password, *json),
        Command::Cdb {
            dev,
            list: true,
            json,
            ..
        } => cdb::list(&cli.family, dev, *json),
        Command::Cdb {
            dev,
            command,
            payload,
            epl,
            scope,
            instance,
            timeout,
            json,
            ..
        } => epl
            .as_ref()
            .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
            .transpose()
            .and_then(|epl| {
                let req = cdb::Request {
                    dev: dev.clone(),
                    command: command.unwrap_or_default(),
                    lpl: payload.clone().map(|p| p.0).unwrap_or_default(),
                    epl: epl.unwrap_or_default(),
                    scope: *scope,
                    instance: *instance,
                    timeout_ms: *timeout,
                };
                cdb::run(&cli.family, &req, *json)
            }),
        Command::Monitor { json, count } => monitor(&cli.family, *json, *count),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "cmis-fw",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
        Command::Man { dir: None } => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|()| exit::OK)
            .map_err(Into::into),
        Command::Man { dir: Some(dir) } => clap_mangen::generate_to(Cli::command(), dir)
            .map(|()| exit::OK)
            .map_err(Into::into),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let (code, msg) = match (e.downcast_ref::<Refused>(), e.downcast_ref::<NotLoaded>()) {
                (Some(r), _) => (exit::REFUSED, format!("request refused: {r}")),
                (_, Some(n)) => (exit::NOT_LOADED, n.to_string()),
                _ => (exit::REFUSED, format!("{e:#}")),
            };
            eprintln!("error: {msg}");
            if json {
                let errno = e.downcast_ref::<Refused>().map(|r| r.errno);
                let object = serde_json::json!({
                    "schema": output::SCHEMA,
                    "time": output::timestamp(),
                    "error": msg,
                    "errno": errno,
                });
                println!("{object}");
            }
            ExitCode::from(code)
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
