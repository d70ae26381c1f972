//! `bulk-groups import`: build the configuration, run the import, and turn its verdict into
//! the exit code, the JSON summary (written on every path, usage errors included) and the text
//! summary on stderr.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{block_on, exit_for, interrupt_token};
use crate::cli::ImportArgs;
use crate::config::{ImportConfig, OutputConfig, ProcessEnvironment};
use crate::exit::Exit;
use crate::import::RunReport;
use crate::outcome::{Cause, Verdict};
use crate::portal::url::redact;
use crate::report::{Summary, logging};

/// How an import ended, exit code included.
#[derive(Debug)]
pub struct RunOutcome {
    /// The exit code.
    pub exit: Exit,
    /// What happened, as the JSON summary shows it.
    pub summary: Summary,
    /// Where the results went (`-` for stdout); `None` when the run stopped before writing any
    /// (lock held, unusable roster, `--min-rows`).
    pub results: Option<String>,
}

/// The whole command: configuration, run, summaries.
pub fn main(args: &ImportArgs) -> Exit {
    let output = OutputConfig::from(&args.output);
    logging::init(&output.into());
    let config = match ImportConfig::from_args(args, &ProcessEnvironment) {
        Ok(config) => config,
        Err(e) => {
            logging::error(&e.to_string());
            let mut summary = Summary::new(
                redact(&args.connection.portal),
                args.roster.clone(),
                args.dry_run,
            );
            summary.error = Some(e.to_string());
            let verdict = Verdict::from(e.cause());
            let exit = exit_for(&verdict);
            summary.exit_code = exit.code();
            if let Some(path) = &args.summary_json
                && let Err(write_error) = summary.write_json(path)
            {
                logging::error(&write_error.to_string());
            }
            return exit;
        }
    };
    let quiet = output.quiet;
    let outcome = block_on(run(config, interrupt_token()));
    if !(quiet && outcome.exit == Exit::Success) {
        outcome.summary.print(outcome.results.as_deref());
    }
    outcome.exit
}

/// Run one import to the end and write its JSON summary. `cancel` is the interrupt
/// (SIGINT/SIGTERM); `--max-duration` triggers it too.
pub async fn run(config: ImportConfig, cancel: CancellationToken) -> RunOutcome {
    let summary_json = config.summary_json.clone();
    let report = crate::import::run(config, cancel).await;
    conclude(report, summary_json.as_deref())
}

/// The exit code for a finished run, set in its summary, and the JSON summary written.
pub(crate) fn conclude(report: RunReport, summary_json: Option<&Path>) -> RunOutcome {
    let RunReport {
        mut verdict,
        mut summary,
        results,
    } = report;
    let mut exit = exit_for(&verdict);
    summary.exit_code = exit.code();
    if let Some(path) = summary_json
        && let Err(e) = summary.write_json(path)
    {
        // Writing the summary is part of the job: a monitor must not take the previous run's
        // file for this one's, so the exit code says something is wrong.
        verdict.add(Cause::RowsNeedAttention);
        exit = exit_for(&verdict);
        summary.exit_code = exit.code();
        let message = e.to_string();
        // The run may have stopped on this very problem (found before it started).
        summary.error = match summary.error.take() {
            Some(error) if error.contains(&message) => Some(error),
            Some(error) => Some(format!("{error}; {message}")),
            None => Some(message),
        };
    }
    RunOutcome {
        exit,
        summary,
        results,
    }
}
