// SPDX-License-Identifier: GPL-2.0

//! `cmis-emu-image`: writes a firmware image in the emulated module's
//! format (see `cmis_core::image` and `Documentation/emulator.rst`).
//!
//! ```text
//! cmis-emu-image --version MAJOR.MINOR.BUILD [--text TEXT] [--header-len N]
//!                (--size BYTES [--seed S] | --body FILE) [--corrupt] OUTPUT
//! ```
//!
//! The body is either a file or `--size` pseudo-random bytes (a fixed
//! function of `--seed`). `--corrupt` flips a body bit after the CRC is
//! computed, for tests of the module's image check.

use cmis_core::image::{Header, Version, MIN_HEADER_LEN};
use cmis_core::text;
use std::process::ExitCode;

const USAGE: &str = "usage: cmis-emu-image --version MAJOR.MINOR.BUILD [--text TEXT] \
[--header-len N] (--size BYTES [--seed S] | --body FILE) [--corrupt] OUTPUT";

struct Args {
    version: Version,
    header_len: usize,
    body: Vec<u8>,
    corrupt: bool,
    output: String,
}

fn parse_version(s: &str) -> Result<Version, String> {
    text::parse_version(s)
        .ok_or_else(|| format!("version '{s}' is not MAJOR.MINOR.BUILD with numbers in range"))
}

/// Deterministic filler: xorshift64*, so that images of the same seed are
/// identical and bodies are not trivially compressible.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut version = None;
    let mut text = String::new();
    let mut header_len = 64;
    let mut size = None;
    let mut seed = 1u64;
    let mut body_file = None;
    let mut corrupt = false;
    let mut output = None;
    while let Some(a) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--version" => version = Some(parse_version(&value("--version")?)?),
            "--text" => text = value("--text")?,
            "--header-len" => {
                header_len = value("--header-len")?
                    .parse()
                    .map_err(|e| format!("--header-len: {e}"))?
            }
            "--size" => {
                size = Some(
                    value("--size")?
                        .parse::<usize>()
                        .map_err(|e| format!("--size: {e}"))?,
                )
            }
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--body" => body_file = Some(value("--body")?),
            "--corrupt" => corrupt = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s => output = Some(s.to_string()),
        }
    }
    let body = match (size, body_file) {
        (Some(n), None) => pseudo_random(n, seed),
        (None, Some(f)) => std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?,
        _ => return Err(format!("give exactly one of --size and --body\n{USAGE}")),
    };
    Ok(Args {
        version: version
            .ok_or(format!("--version is required\n{USAGE}"))?
            .with_text(&text),
        header_len,
        body,
        corrupt,
        output: output.ok_or(format!("OUTPUT is required\n{USAGE}"))?,
    })
}

fn run(args: Args) -> Result<(), String> {
    let mut image = vec![0u8; args.header_len];
    Header::write(&mut image, args.header_len, &args.version, &args.body).ok_or(format!(
        "header length must be {MIN_HEADER_LEN} to 112 and the body under 4 GiB"
    ))?;
    image.extend_from_slice(&args.body);
    if args.corrupt {
        let last = image.len() - 1;
        if last < args.header_len {
            return Err("--corrupt needs a non-empty body".into());
        }
        image[last] ^= 0x01;
    }
    std::fs::write(&args.output, &image).map_err(|e| format!("{}: {e}", args.output))
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cmis-emu-image: {e}");
            ExitCode::FAILURE
        }
    }
}
