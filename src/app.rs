//! The binary's edge: turn a parsed command line into work and an [`Exit`]. Owns the runtime,
//! logging, signal handling and printing of one-line errors; the library below it never prints
//! to stdout and never exits the process.

use std::io::Write;

use clap::CommandFactory;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ImportArgs, ValidateArgs};
use crate::config::{self, ImportConfig, OutputConfig, ProcessEnvironment};
use crate::exit::Exit;
use crate::portal::url::redact;
use crate::report::{Summary, logging};

/// Run one command to completion.
pub fn main(cli: Cli) -> Exit {
    match cli.command {
        Command::Import(args) => import(&args),
        Command::Validate(args) => validate(&args),
        Command::Demo(args) => {
            let output = OutputConfig::from(&args.output);
            logging::init(&output.into());
            block_on(crate::demo::run(
                args.results.clone(),
                output,
                interrupt_token(),
            ))
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "bulk-groups",
                &mut std::io::stdout(),
            );
            Exit::Success
        }
        Command::Man { command } => man(command.as_deref()),
    }
}

/// The top-level man page, or `bulk-groups-<command>(1)` for a subcommand.
fn man(command: Option<&str>) -> Exit {
    let top = Cli::command();
    let page_for = match command {
        None => top,
        Some(name) => match top.find_subcommand(name) {
            // clap names are 'static; this runs once per process.
            Some(sub) => sub.clone().name(&*format!("bulk-groups-{name}").leak()),
            None => {
                eprintln!(
                    "error: no subcommand {name:?}; try import, validate, demo or completions"
                );
                return Exit::Usage;
            }
        },
    };
    let mut page = Vec::new();
    match clap_mangen::Man::new(page_for).render(&mut page) {
        Ok(()) if std::io::stdout().write_all(&page).is_ok() => Exit::Success,
        _ => Exit::Usage,
    }
}

fn import(args: &ImportArgs) -> Exit {
    let output = OutputConfig::from(&args.output);
    logging::init(&output.into());
    let config = match ImportConfig::from_args(args, &ProcessEnvironment) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            // The JSON summary is written on every exit path, usage errors included.
            if let Some(path) = &args.summary_json {
                let mut summary =
                    Summary::new(redact(&args.portal), args.roster.clone(), args.dry_run);
                summary.exit_code = Exit::Usage.code();
                summary.error = Some(e.to_string());
                if let Err(write_error) = summary.write_json(path) {
                    eprintln!("error: {write_error}");
                }
            }
            return Exit::Usage;
        }
    };
    let quiet = output.quiet;
    let outcome = block_on(crate::import::run(config, interrupt_token()));
    if !(quiet && outcome.exit == Exit::Success) {
        eprint!("{}", outcome.summary.to_text(outcome.results.as_deref()));
    }
    outcome.exit
}

fn validate(args: &ValidateArgs) -> Exit {
    let output = OutputConfig::from(&args.output);
    logging::init(&output.into());
    match config::roster_options(&args.roster_args) {
        Ok(options) => crate::validate::cli(&config::roster_source(&args.roster), &options, 0),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}

/// Run `work` on a fresh runtime. The runtime is then dropped without waiting for blocking
/// threads: after an interrupt, one may still be stuck reading a stdin that never ends.
fn block_on<F: std::future::Future>(work: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the async runtime");
    let output = runtime.block_on(work);
    runtime.shutdown_background();
    output
}

/// A token cancelled by the first SIGINT or SIGTERM; a second one ends the process at once.
fn interrupt_token() -> CancellationToken {
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
                    if count == 1 {
                        handle.cancel();
                    } else {
                        eprintln!("interrupted again: stopping now");
                        std::process::exit(i32::from(Exit::Interrupted.code()));
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
