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
use crate::report::{OutputError, Page, Summary, logging};

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

/// Run one import to the end and write its report and JSON summary. `cancel` is the interrupt
/// (SIGINT/SIGTERM); `--max-duration` triggers it too.
pub async fn run(config: ImportConfig, cancel: CancellationToken) -> RunOutcome {
    let summary_json = config.summary_json.clone();
    let report_html = config.report.clone();
    let report = crate::import::run(config, cancel).await;
    conclude(report, report_html.as_deref(), summary_json.as_deref())
}

/// The exit code for a finished run, set in its summary, then the HTML report and the JSON
/// summary written. Writing them is part of the job: if one fails, the exit code is at least 1
/// and the error says why. The summary is written last, so the file monitors read carries the
/// final exit code. A run stopped by another run's lock writes no report: that run owns it.
pub(crate) fn conclude(
    report: RunReport,
    report_html: Option<&Path>,
    summary_json: Option<&Path>,
) -> RunOutcome {
    let RunReport {
        mut verdict,
        mut summary,
        results,
        problems,
        timeline,
    } = report;
    let mut exit = exit_for(&verdict);
    summary.exit_code = exit.code();
    if let Some(path) = report_html
        && !verdict.has(Cause::Locked)
    {
        let page = Page {
            summary: &summary,
            problems: &problems,
            timeline: &timeline,
        };
        if let Err(e) = page.write(path) {
            output_failed(&mut verdict, &mut summary, &e);
            exit = exit_for(&verdict);
        }
    }
    if let Some(path) = summary_json
        && let Err(e) = summary.write_json(path)
    {
        output_failed(&mut verdict, &mut summary, &e);
        exit = exit_for(&verdict);
    }
    RunOutcome {
        exit,
        summary,
        results,
    }
}

/// An output file could not be written at the end: the exit code says something is wrong (a
/// monitor must not take the previous run's file for this one's) and the error says what.
fn output_failed(verdict: &mut Verdict, summary: &mut Summary, e: &OutputError) {
    verdict.add(Cause::RowsNeedAttention);
    summary.exit_code = exit_for(verdict).code();
    let message = e.to_string();
    // The run may have stopped on this very problem (found before it started).
    summary.error = match summary.error.take() {
        Some(error) if error.contains(&message) => Some(error),
        Some(error) => Some(format!("{error}; {message}")),
        None => Some(message),
    };
}
