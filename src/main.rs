//! `bulk-groups`: parse the command line, run the command, exit with its code. Nothing else.

use std::process::ExitCode;

fn main() -> ExitCode {
    match bulk_groups::cmd::parse(std::env::args_os().collect()) {
        Ok(cli) => bulk_groups::cmd::main(cli).into(),
        Err(exit) => exit.into(),
    }
}
