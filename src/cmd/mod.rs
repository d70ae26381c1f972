//! The commands: turn a parsed command line into work and an [`Exit`], one thin file per
//! command. Owns the runtime, logging, signal handling and printing of one-line errors; the
//! library below it never prints to stdout and never exits the process. [`exit_for`] is the one
//! place where what happened becomes an exit code.

use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::outcome::{Cause, Verdict};

pub mod demo;
pub mod docs;
pub mod export;
pub mod import;
pub mod validate;

/// Parse the command line. Clap prints its own help and errors, except that under
/// `--log-format json` everything on stderr must be JSON (§7): a usage error is then one JSON
/// event. `Err` is the exit code to leave with.
pub fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, Exit> {
    use clap::Parser;
    use clap::error::ErrorKind;

    let json = asks_for_json_logs(&args);
    let error = match Cli::try_parse_from(args) {
        Ok(cli) => return Ok(cli),
        Err(error) => error,
    };
    if !json
        || matches!(
            error.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        )
    {
        error.exit();
    }
    crate::report::logging::init(&crate::report::OutputOptions {
        progress: crate::report::ProgressWhen::Never,
        quiet: false,
        verbosity: 0,
        json_logs: true,
    });
    let text = error.render().to_string();
    let message = text.trim().trim_start_matches("error: ");
    crate::report::logging::error(message);
    Err(Exit::Usage)
}

/// Whether the raw arguments ask for `--log-format json`, read before clap could refuse them.
fn asks_for_json_logs(args: &[std::ffi::OsString]) -> bool {
    args.windows(2)
        .any(|pair| pair[0] == "--log-format" && pair[1] == "json")
        || args.iter().any(|arg| arg == "--log-format=json")
}

/// Run one command to completion.
pub fn main(cli: Cli) -> Exit {
    match cli.command {
        Command::Import(args) => import::main(&args),
        Command::Validate(args) => validate::main(&args),
        Command::Export(args) => export::main(&args),
        Command::Demo(args) => demo::main(&args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { command } => docs::man(command.as_deref()),
    }
}

/// The exit code for what happened: each cause's code, and when several hold, the one the
/// precedence in [`Exit::worst`] picks. A clean verdict is success.
pub fn exit_for(verdict: &Verdict) -> Exit {
    verdict
        .causes()
        .map(|cause| match cause {
            Cause::Interrupted => Exit::Interrupted,
            Cause::Locked => Exit::Locked,
            Cause::Unusable => Exit::Usage,
            Cause::Auth => Exit::Auth,
            Cause::PortalUnavailable => Exit::PortalUnavailable,
            Cause::RowsNeedAttention => Exit::RowsNeedAttention,
        })
        .fold(Exit::Success, Exit::worst)
}

/// Run `work` on a fresh runtime. The runtime is then dropped without waiting for blocking
/// threads: after an interrupt, one may still be stuck reading a stdin that never ends.
pub(crate) fn block_on<F: std::future::Future>(work: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the async runtime");
    let output = runtime.block_on(work);
    runtime.shutdown_background();
    output
}

/// A token cancelled by the first SIGINT or SIGTERM. A second one only says the run is
/// stopping: the stop is bounded already (requests in flight get a few seconds), and exiting
/// then would lose every row not yet written — the results file could hold only its header.
/// A third ends the process at once, for a run that seems stuck (the file then holds the rows
/// written so far, as after `kill -9`).
pub(crate) fn interrupt_token() -> CancellationToken {
    let token = CancellationToken::new();
    let handle = token.clone();
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("signal runtime");
            rt.block_on(async move {
                let mut count = 0;
                loop {
                    wait_for_signal().await;
                    count += 1;
                    match count {
                        1 => handle.cancel(),
                        2 => crate::report::logging::error(
                            "interrupted again: already stopping — requests in flight get a few seconds, then every row is written; interrupt once more to quit at once, leaving the results file incomplete"
                        ),
                        _ => {
                            crate::report::logging::error("interrupted a third time: quitting now");
                            std::process::exit(i32::from(
                                exit_for(&Cause::Interrupted.into()).code(),
                            ));
                        }
                    }
                }
            });
        })
        .expect("spawn the signal thread");
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_logs_are_recognised_in_both_spellings() {
        let args = |a: &[&str]| {
            a.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert!(asks_for_json_logs(&args(&[
            "bg",
            "import",
            "--log-format",
            "json"
        ])));
        assert!(asks_for_json_logs(&args(&["bg", "--log-format=json", "x"])));
        assert!(!asks_for_json_logs(&args(&[
            "bg",
            "--log-format",
            "text",
            "json"
        ])));
    }

    #[test]
    fn each_cause_has_its_code_and_the_precedence_picks_among_several() {
        assert_eq!(exit_for(&Verdict::default()), Exit::Success);
        let one = |cause: Cause| exit_for(&cause.into()).code();
        let codes: Vec<u8> = [
            Cause::Interrupted,
            Cause::Locked,
            Cause::Unusable,
            Cause::Auth,
            Cause::PortalUnavailable,
            Cause::RowsNeedAttention,
        ]
        .into_iter()
        .map(one)
        .collect();
        assert_eq!(codes, [130, 5, 2, 3, 4, 1]);
        let several: Verdict = [Cause::RowsNeedAttention, Cause::Auth, Cause::Unusable]
            .into_iter()
            .collect();
        assert_eq!(exit_for(&several), Exit::Usage);
    }
}
