//! `bulk-groups export`: build the configuration, write the roster, say what was written on
//! stderr and turn the outcome into the exit code.

use super::{block_on, exit_for};
use crate::cli::ExportArgs;
use crate::config::{ExportConfig, OutputConfig, ProcessEnvironment};
use crate::exit::Exit;
use crate::outcome::{Cause, Verdict};
use crate::report::logging;
use tracing::Level;

/// The whole command.
pub fn main(args: &ExportArgs) -> Exit {
    let output = OutputConfig::from(&args.output_args);
    logging::init(&output.into());
    let config = match ExportConfig::from_args(args, &ProcessEnvironment) {
        Ok(config) => config,
        Err(e) => {
            logging::error(&e.to_string());
            return exit_for(&e.cause().into());
        }
    };
    let (exit, said) = match block_on(crate::import::export::run(&config)) {
        Ok(report) => {
            let mut verdict = Verdict::default();
            let mut text = format!(
                "exported {} group(s), {} membership row(s)",
                report.groups, report.rows
            );
            if !report.problems.is_empty() {
                verdict.add(Cause::RowsNeedAttention);
                text.push_str(&format!(
                    "; left out: {}",
                    crate::roster::quoted_list(&report.problems)
                ));
            }
            (exit_for(&verdict), Ok(text))
        }
        Err(e) => (exit_for(&e.cause().into()), Err(e.to_string())),
    };
    if !(output.quiet && exit == Exit::Success) {
        match said {
            Ok(text) => logging::emit(Level::INFO, &text, &text, serde_json::Map::new()),
            Err(error) => logging::error(&error),
        }
    }
    exit
}
