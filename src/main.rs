//! `bulk-groups`: parse the command line, run the command, exit with its code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bulk_groups::cli::Cli::parse();
    bulk_groups::cmd::main(cli).into()
}
