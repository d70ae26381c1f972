//! bulk-groups: keep ArcGIS portal groups in step with a roster CSV.
//!
//! Data flows one way: roster rows → engine → portal client → report.
//!
//! - [`roster`]: input — dialect and encoding detection, header aliases, row validation, group
//!   definitions. Pure, synchronous, streaming.
//! - [`report`]: the results CSV writer (single owner, fed by a channel), summary, progress.
//! - [`exit`]: the exit codes and their precedence.
//! - [`sim`]: the simulated portal (`portal-sim`), independent of the client code.

pub mod exit;
pub mod portal;
pub mod report;
pub mod roster;
pub mod sim;
pub mod validate;
