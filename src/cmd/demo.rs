//! `bulk-groups demo`: run the demonstration and report whether its outcome is what the
//! samples call for.

use super::import::conclude;
use super::{block_on, exit_for, interrupt_token};
use crate::cli::DemoArgs;
use crate::config::OutputConfig;
use crate::exit::Exit;
use crate::outcome::{Cause, Verdict};
use crate::report::logging;
use tracing::Level;

/// The whole command.
pub fn main(args: &DemoArgs) -> Exit {
    let output = OutputConfig::from(&args.output);
    logging::init(&output.into());
    let demo = match block_on(crate::demo::run(
        args.results.clone(),
        output,
        interrupt_token(),
    )) {
        Ok(demo) => demo,
        Err(e) => {
            logging::error(&format!("demo failed: {e}"));
            return exit_for(&Cause::Unusable.into());
        }
    };
    let interrupted = demo.report.verdict.has(Cause::Interrupted);
    let outcome = conclude(demo.report, None, None);
    outcome.summary.print(outcome.results.as_deref());
    let heading = "groups in the simulated portal afterwards";
    let text = std::iter::once(format!("{heading}:"))
        .chain(demo.groups.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields = serde_json::Map::new();
    fields.insert("groups".to_owned(), demo.groups.clone().into());
    logging::emit(Level::INFO, heading, &text, fields);
    println!("results: {}", demo.results.display());
    let verdict = if interrupted {
        Cause::Interrupted.into()
    } else if demo.mismatches.is_empty() {
        let message = "demo outcome as expected (the invalid row, the duplicate and the two refused users are deliberate)";
        logging::emit(Level::INFO, message, message, serde_json::Map::new());
        Verdict::default()
    } else {
        logging::error(&format!(
            "demo outcome differs from the samples' expectations: {}",
            demo.mismatches.join("; ")
        ));
        Cause::RowsNeedAttention.into()
    };
    exit_for(&verdict)
}
