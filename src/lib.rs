//! bulk-groups: keep ArcGIS portal groups in step with a roster CSV.
//!
//! Data flows one way: roster rows → engine → portal client → report.
//!
//! - [`roster`]: input — dialect and encoding detection, header aliases, row validation, group
//!   definitions. Pure, synchronous, streaming.
//! - [`outcome`]: the result rows and their counts, and the typed [`outcome::Verdict`] every
//!   command ends with; below both `import` and `report`.
//! - [`report`]: the results CSV writer (single owner, fed by a channel), summary, progress.
//! - [`cli`] → [`config`]: raw command line → validated configuration (the core never sees clap).
//! - [`cmd`]: one thin file per command (runtime, logging, signals, printing) and the one
//!   mapping from what happened to an exit code; `main.rs` only calls it.
//! - [`import`]: the engine — whom each row names (the org directory), group resolution,
//!   membership diff, chunked additions, sync; owners, invitations, and the export
//!   (`bulk-groups export`, `--backup`).
//! - [`portal`]: the REST client — URL forms, auth, errors, retries, pacing.
//! - [`validate`]: the offline roster check. [`demo`]: the built-in end-to-end demonstration.
//! - [`exit`]: the exit codes and their precedence. [`text`]: HTML escaping, shared.
//! - [`sim`]: the simulated portal (`portal-sim`), independent of the client code.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod demo;
pub mod exit;
pub mod import;
pub mod outcome;
pub mod portal;
pub mod report;
pub mod roster;
pub mod sim;
pub mod text;
pub mod validate;
