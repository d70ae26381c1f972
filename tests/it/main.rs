//! The integration tests, one crate so the whole stack is compiled and linked once. Each module
//! was a test crate of its own; `support` holds the helpers they share.

mod cli_help;
mod cli_process;
mod connection_errors;
mod hardening;
mod import_basics;
mod import_faults;
mod import_hostile;
mod import_identity;
mod import_nothing_lost;
mod import_realistic;
mod import_sync;
mod lifecycle_export;
mod lifecycle_invite;
mod lifecycle_owner;
mod logs;
mod outputs_files;
mod pipeline_faults;
mod portal_client;
mod portal_members;
mod portal_pacing_bench;
mod portal_sim;
mod progress_terminal;
mod report_html;
mod roster_fixtures;
mod roster_mapping;
mod roster_props;
mod roster_results_writer;
mod roster_spreadsheets;
mod sim_binary;
mod sim_endpoints;
mod sim_faults;
mod sim_load;
mod sim_realism;
mod support;
mod validate_samples;
