// SPDX-License-Identifier: GPL-2.0

//! Renders the manual pages (one per command) and the shell completions
//! from the command line definition at build time, into
//! `$OUT_DIR/{man,completions}`, where the packaging script
//! (`tools/scripts/package-cli.sh`) takes them from.

#[allow(dead_code, unreachable_pub)]
#[path = "src/cli.rs"]
mod cli;

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(cli::Cli::command(), &man)?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cli::Cli::command(), "cmis-fw", &completions)?;
    }
    Ok(())
}
