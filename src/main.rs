//! `bulk-groups`: parse the command line, run, map the outcome to an exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bulk_groups::cli::Cli::parse();
    bulk_groups::app::main(cli).into()
}
