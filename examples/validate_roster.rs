//! Runs the `validate` library function on a roster file, for benchmarking it without the CLI:
//! `cargo run --release --example validate_roster -- roster.csv`
//! (prints the validate report; exit code as `bulk-groups validate` would give).

use bulk_groups::roster::{RosterOptions, Source};

fn main() -> std::process::ExitCode {
    let path = std::env::args()
        .nth(1)
        .expect("usage: validate_roster ROSTER");
    bulk_groups::cmd::validate::run(&Source::from_arg(&path), &RosterOptions::default(), 1).into()
}
