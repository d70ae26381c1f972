//! `bulk-groups validate`: the offline roster check, printed to stdout, errors to stderr.

use std::io;

use super::exit_for;
use crate::cli::ValidateArgs;
use crate::config::{self, OutputConfig};
use crate::exit::Exit;
use crate::outcome::Cause;
use crate::report::logging;
use crate::roster::{RosterOptions, Source};

/// The whole command.
pub fn main(args: &ValidateArgs) -> Exit {
    let output = OutputConfig::from(&args.output);
    logging::init(&output.into());
    match config::roster_options(&args.roster_args) {
        Ok(options) => run(
            &config::roster_source(&args.roster),
            &options,
            args.min_rows,
        ),
        Err(e) => {
            logging::error(&e.to_string());
            exit_for(&e.cause().into())
        }
    }
}

/// Check `source`, report to stdout, errors to stderr, and the exit code (`--min-rows`
/// included: fewer data rows than `min_rows` is a usage error).
pub fn run(source: &Source, options: &RosterOptions, min_rows: u64) -> Exit {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    let verdict = match crate::validate::run(source, options, min_rows, &mut lock) {
        Ok(report) if report.too_few_rows() => {
            logging::error(&format!(
                "{} has {} data row(s), fewer than --min-rows {min_rows} (a truncated or empty export?)",
                report.source, report.stats.rows
            ));
            report.verdict()
        }
        Ok(report) => report.verdict(),
        Err(error) => {
            logging::error(&error.to_string());
            Cause::Unusable.into()
        }
    };
    exit_for(&verdict)
}
