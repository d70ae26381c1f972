//! Command-line definitions (clap derive) — raw values only. Validation and the meaning of each
//! option live in [`crate::config`]; the core never sees these types.
//!
//! Conventions: long options only, except `-q`/`-v`; an uppercase `value_name` on every option
//! that takes a value; secrets are never options (they come from the environment, a file or
//! stdin — see `CREDENTIALS_HELP`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const CREDENTIALS_HELP: &str = "\
Credentials (never on the command line):
  ARCGIS_API_KEY or ARCGIS_TOKEN     a ready API key / token (SAML, enterprise logins, MFA accounts)
  ARCGIS_TOKEN_FILE                  a file holding such a token
  --username / ARCGIS_USERNAME       a built-in account, with its password from
                                     ARCGIS_PASSWORD, --password-file FILE or --password-stdin";

const IMPORT_NOTES: &str = "\
The account or API key needs the administrative privileges to create groups and to assign members
to groups; without them the run stops before any write (exit 3).

Exit codes: 0 all rows fine, 1 some rows need attention (see the results file), 2 usage or input
error, 3 authentication or permission failure, 4 portal unreachable or kept failing, 5 another run
holds the lock for this results file, 130 interrupted.";

const IMPORT_EXAMPLES: &str = "\
Examples:
  # 1. see what would happen, without writing anything (results in plan.csv)
  export ARCGIS_PORTAL=https://myorg.maps.arcgis.com ARCGIS_API_KEY=...
  bulk-groups import roster.csv --dry-run --results plan.csv
  # 2. the real run; results in roster.results.csv
  bulk-groups import roster.csv
  # nightly, from an HR export: also remove members no longer listed (guarded)
  bulk-groups import /data/hr/groups.csv --sync --max-removals 10% --min-rows 500 \\
      --results /var/lib/bulk-groups/groups.results.csv \\
      --summary-json /var/lib/bulk-groups/summary.json";

const TOP_EXAMPLES: &str = "\
Start here:
  bulk-groups demo                       a full import against a built-in simulated portal
  bulk-groups validate roster.csv        check a roster offline
  bulk-groups import roster.csv --dry-run
  bulk-groups import roster.csv

See 'bulk-groups help <COMMAND>' for each command's options, examples and exit codes.";

const VALIDATE_HELP: &str = "\
Examples:
  bulk-groups validate roster.csv
  bulk-groups validate --encoding windows-1252 --delimiter ';' export.csv
  bulk-groups validate --groups groups.csv roster.csv
  bulk-groups validate sis-export.csv --column username=\"Student Email\" \\
      --group-title '{Course} {Section} - Spring 2026' --role-map Student=member,Instructor=admin
  bulk-groups validate roster.xlsx --sheet Roster
  bulk-groups validate sis-export.csv --profile sis.toml

Exit codes: 0 clean, 1 some rows are invalid, 2 the file is unusable (unreadable, not a CSV or
spreadsheet, a required column missing or ambiguous, fewer rows than --min-rows).";

const EXPORT_HELP: &str = "\
The roster has the columns group,group_id,username,role,owner and the group definition columns;
every member is a row, the owner's row has role admin, and the owner column names each group's
owner. Importing it into the same portal changes nothing; into another portal it recreates the
groups (by title when their ids are unknown there) and hands each to its owner.

Examples:
  bulk-groups export --all --output all-groups.csv
  bulk-groups export --roster roster.csv --output before.csv
  bulk-groups export --owner jsmith > jsmith.csv
  bulk-groups export --tag course --output courses.csv
  bulk-groups export --title 'GIS 101' --title 'GIS 102'

Exit codes: 0 written, 1 a --roster or --title group does not exist or a group's members could
not be read (the others are written), 2 usage error or the output cannot be written, 3 authentication or permission failure, 4 portal
unreachable or kept failing.";

const DEMO_HELP: &str = "\
Starts a simulated portal on a loopback port inside the process and imports the bundled samples
into it through the same code as `import`: no account, no network, a few seconds. The samples
contain an invalid row, a duplicate row and two users the portal refuses, on purpose, so the import
summary says 'exit code 1'; the demo itself exits 0 when that outcome is exactly the expected one.
The last line on stdout is `results: <path of the results CSV>` (kept).

Example:
  bulk-groups demo";

const COMPLETIONS_HELP: &str = "\
Examples:
  bulk-groups completions bash > /etc/bash_completion.d/bulk-groups
  bulk-groups completions zsh > \"${fpath[1]}/_bulk-groups\"
  bulk-groups completions fish > ~/.config/fish/completions/bulk-groups.fish
  bulk-groups completions powershell >> $PROFILE";

const MAN_HELP: &str = "\
Examples:
  bulk-groups man > bulk-groups.1 && man ./bulk-groups.1
  bulk-groups man | gzip > /usr/local/share/man/man1/bulk-groups.1.gz";

/// Keep ArcGIS portal groups in step with a roster CSV.
#[derive(Debug, Parser)]
#[command(name = "bulk-groups", version, about, propagate_version = true, after_help = TOP_EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create missing groups and add the roster's members; write a results CSV.
    #[command(after_help = format!("{IMPORT_EXAMPLES}\n\n{CREDENTIALS_HELP}\n{IMPORT_NOTES}"))]
    Import(Box<ImportArgs>),
    /// Check a roster offline (no portal contact): report invalid and duplicate rows.
    #[command(after_help = VALIDATE_HELP)]
    Validate(Box<ValidateArgs>),
    /// Write the current members of selected groups as a roster that import reads back.
    #[command(after_help = format!("{CREDENTIALS_HELP}\nAn organization administrator sees every group of the organization; another account only\nthe groups visible to it.\n\n{EXPORT_HELP}"))]
    Export(Box<ExportArgs>),
    /// Import the bundled sample roster into a built-in simulated portal, end to end.
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    #[command(after_help = MAN_HELP)]
    Man {
        /// The subcommand whose page to print (import, validate, export, demo, completions); the
        /// top-level page when omitted.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// Roster parsing and mapping options, shared by `import` and `validate`. Every one of them may
/// also come from `--profile`; a flag given here wins over the profile.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Roster")]
pub struct RosterArgs {
    /// Field delimiter (`,` `;` `|` or `tab`); detected from the header line when not given.
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// Text encoding of the roster, `utf-8` (the default) or `windows-1252`; never guessed.
    #[arg(long, value_name = "ENCODING", value_parser = ["utf-8", "windows-1252"])]
    pub encoding: Option<String>,
    /// CSV of group definitions, one row per group; its values win over the roster's.
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// How the username column names people: `auto` (the default) reads portal usernames, and
    /// resolves cells that look like e-mail addresses through the organization's user directory
    /// when no such user exists; `email` and `idp` always resolve through the directory;
    /// `username` never does.
    #[arg(long, value_name = "HOW", value_parser = crate::roster::MatchBy::NAMES)]
    pub match_by: Option<String>,
    /// Read FIELD (group, group_id, username, role or a group-definition column) from the column
    /// whose header is HEADER (exact text, case aside), e.g. --column username="Student Email".
    /// Repeatable.
    #[arg(long = "column", value_name = "FIELD=HEADER")]
    pub columns: Vec<String>,
    /// Build each group's title from other columns: `{Header}` placeholders, e.g.
    /// '{Course} {Section} - Spring 2026'. A row whose placeholder cell is empty is invalid.
    #[arg(long, value_name = "TEMPLATE")]
    pub group_title: Option<String>,
    /// Map the roster's role values (case aside) to member or admin, e.g.
    /// Student=member,Instructor=admin,TA=admin. Other values must be member or admin.
    #[arg(long, value_name = "VALUE=ROLE,…")]
    pub role_map: Vec<String>,
    /// The worksheet of an .xlsx/.xlsm/.xls/.ods roster, by name or number (1 = first); the first
    /// sheet when not given.
    #[arg(long, value_name = "NAME|N")]
    pub sheet: Option<String>,
    /// A TOML file holding any of these roster settings (column, group_title, role_map, match_by,
    /// delimiter, encoding, sheet, groups), so a cron line stays short; flags win over it.
    #[arg(long, value_name = "FILE.toml")]
    pub profile: Option<PathBuf>,
}

/// stderr output options.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Progress display on stderr.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ProgressWhen::Auto)]
    pub progress: ProgressWhen,
    /// Print nothing at all when the exit code is 0.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More log detail (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressWhen {
    /// A bar on a terminal, a plain line every ~10 s otherwise; none with -q.
    Auto,
    /// As auto, even with -q.
    Always,
    /// No progress output.
    Never,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `--results-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultsFormat {
    /// RFC 4180 CSV: UTF-8 without BOM, comma-separated.
    Csv,
    /// For Excel: UTF-8 with BOM, the roster's delimiter.
    Excel,
}

/// Where the portal is and how to sign in, shared by every command that talks to it.
#[derive(Debug, Args, Clone)]
pub struct ConnectionArgs {
    /// Portal URL, as pasted from the browser: https://www.arcgis.com, https://myorg.maps.arcgis.com or
    /// https://host/webadaptor, with or without /sharing/rest. Plain http:// only for localhost.
    #[arg(
        long,
        env = "ARCGIS_PORTAL",
        // A pasted URL may carry a user:password part; --help must not echo it.
        hide_env_values = true,
        value_name = "URL",
        default_value = "https://www.arcgis.com",
        help_heading = "Connection"
    )]
    pub portal: String,
    /// Built-in account name; its password comes from ARCGIS_PASSWORD, --password-file or --password-stdin.
    #[arg(
        long,
        env = "ARCGIS_USERNAME",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub username: Option<String>,
    /// Read the password from this file (first line).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Connection",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,
    /// Read the password from the first line of stdin.
    #[arg(long, help_heading = "Connection")]
    pub password_stdin: bool,
    /// Extra trusted CA certificate (PEM), for portals behind a private CA.
    #[arg(long, value_name = "FILE", help_heading = "Connection")]
    pub ca_cert: Option<PathBuf>,
}

/// HTTP timeouts, retries and the request budget, shared by every command that talks to the
/// portal.
#[derive(Debug, Args, Clone)]
pub struct PacingArgs {
    /// Requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 16, help_heading = "Pacing")]
    pub concurrency: usize,
    /// Requests per second ceiling, or `auto` to adapt to the portal.
    #[arg(
        long,
        value_name = "N|auto",
        default_value = "auto",
        help_heading = "Pacing"
    )]
    pub rate: String,
    /// Per-request timeout.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration, help_heading = "Pacing")]
    pub timeout: std::time::Duration,
    /// Connection timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration, help_heading = "Pacing")]
    pub connect_timeout: std::time::Duration,
    /// Attempts after the first for a retryable failure.
    #[arg(long, value_name = "N", default_value_t = 6, help_heading = "Pacing")]
    pub retries: u32,
}

/// `bulk-groups import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The roster CSV (`-` for stdin).
    #[arg(value_name = "ROSTER|-")]
    pub roster: String,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Results CSV (`-` for stdout); default `<roster stem>.results.csv` in the current directory. A
    /// lock on `<FILE>.lock` lets only one run at a time use a results file.
    #[arg(long, value_name = "FILE|-", help_heading = "Import")]
    pub results: Option<String>,
    /// Read the portal and write the plan as results (`would_*` statuses); make no write calls. The
    /// sync guard is still checked and gives the same exit code as a real run.
    #[arg(long, help_heading = "Import")]
    pub dry_run: bool,
    /// Look every user up before any write: unknown users are `not_added` without a write, and a
    /// group none of whose rows can be added is not created. On in --dry-run once the
    /// organization's directory is read anyway.
    #[arg(long, help_heading = "Import")]
    pub check_users: bool,
    /// Also remove plain members of the roster's groups who are not in the roster.
    #[arg(long, help_heading = "Import")]
    pub sync: bool,
    /// With --sync, remove group managers who are not in the roster too.
    #[arg(long, requires = "sync", help_heading = "Import")]
    pub sync_admins: bool,
    /// Removal guard for --sync, per group: a count (N) or a percentage of the group's members (P%,
    /// never fewer than 5). If any group would exceed it, nothing at all is removed in this run.
    #[arg(
        long,
        value_name = "N|P%",
        default_value = "10%",
        help_heading = "Import"
    )]
    pub max_removals: String,
    /// With --sync: before the first removal, write the current memberships of every group the
    /// run removes members from to FILE, as a roster; `import FILE --sync --max-removals 100%`
    /// undoes the sync.
    #[arg(long, value_name = "FILE", requires = "sync", help_heading = "Import")]
    pub backup: Option<PathBuf>,
    /// Invite users of another organization (partners, guests) to the group instead of
    /// reporting them not_added; they join once they accept.
    #[arg(long, help_heading = "Import")]
    pub invite_external: bool,
    /// Fewer data rows than this is an error before any portal contact (a truncated export).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Import")]
    pub min_rows: u64,
    /// Groups the caller may belong to, owned ones included (the portal's limit).
    #[arg(long, value_name = "N", default_value_t = 512, help_heading = "Import")]
    pub group_limit: u32,
    /// Stop after this long, as on SIGTERM (e.g. 45m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Import")]
    pub max_duration: Option<std::time::Duration>,
    /// Write a machine-readable run summary (JSON) to this file.
    #[arg(long, value_name = "FILE", help_heading = "Import")]
    pub summary_json: Option<PathBuf>,
    /// Results file format; default `excel` when the roster has a BOM or `;` delimiter or is a
    /// spreadsheet (it came from Excel), else `csv`. Both end lines with CRLF.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Import")]
    pub results_format: Option<ResultsFormat>,
    /// Write a self-contained HTML report of the run to this file (outcome, groups, problems
    /// with what to do, request rate over time).
    #[arg(long, value_name = "FILE.html", help_heading = "Import")]
    pub report: Option<PathBuf>,

    #[command(flatten)]
    pub pacing: PacingArgs,
    /// Usernames per addUsers/removeUsers call (1..=25).
    #[arg(long, value_name = "N", default_value_t = 25, help_heading = "Pacing")]
    pub chunk_size: usize,

    #[command(flatten)]
    pub roster_args: RosterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `bulk-groups export`: one selection, an output, the connection.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("selection")
        .required(true)
        .args(["roster", "title", "owner", "tag", "all"])
))]
pub struct ExportArgs {
    /// The groups a roster names (its group and group_id columns).
    #[arg(long, value_name = "FILE", help_heading = "Selection")]
    pub roster: Option<PathBuf>,
    /// The group with this exact title (repeatable).
    #[arg(long, value_name = "TEXT", help_heading = "Selection")]
    pub title: Vec<String>,
    /// Every group this user owns.
    #[arg(long, value_name = "USER", help_heading = "Selection")]
    pub owner: Option<String>,
    /// Every group with this tag.
    #[arg(long, value_name = "TAG", help_heading = "Selection")]
    pub tag: Option<String>,
    /// Every group of the organization.
    #[arg(long, help_heading = "Selection")]
    pub all: bool,
    /// Where to write the roster (`-` for stdout); a file is replaced atomically.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: String,

    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub output_args: OutputArgs,
}

/// `bulk-groups validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The roster CSV (`-` for stdin).
    #[arg(value_name = "ROSTER|-")]
    pub roster: String,
    /// Fewer data rows than this is an error (exit 2), as `import --min-rows` refuses it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_rows: u64,
    #[command(flatten)]
    pub roster_args: RosterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `bulk-groups demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the results CSV (default: a fresh temporary directory, kept).
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
