//! `bulk-groups demo`: run the demonstration and report whether its outcome is what the
//! samples call for.

use super::import::conclude;
use super::{block_on, exit_for, interrupt_token};
use crate::cli::DemoArgs;
use crate::config::OutputConfig;
use crate::exit::Exit;
use crate::outcome::{Cause, Verdict};
use crate::report::logging;

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
            eprintln!("error: demo failed: {e}");
            return exit_for(&Cause::Unusable.into());
        }
    };
    let interrupted = demo.report.verdict.has(Cause::Interrupted);
    let outcome = conclude(demo.report, None);
    outcome.summary.print(outcome.results.as_deref());
    eprintln!("groups in the simulated portal afterwards:");
    for line in &demo.groups {
        eprintln!("{line}");
    }
    println!("results: {}", demo.results.display());
    let verdict = if interrupted {
        Cause::Interrupted.into()
    } else if demo.mismatches.is_empty() {
        eprintln!(
            "demo outcome as expected (the invalid row, the duplicate and the two refused users are deliberate)"
        );
        Verdict::default()
    } else {
        eprintln!(
            "demo outcome differs from the samples' expectations: {}",
            demo.mismatches.join("; ")
        );
        Cause::RowsNeedAttention.into()
    };
    exit_for(&verdict)
}
