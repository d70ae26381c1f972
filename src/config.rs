//! The validated configuration, built once from the command line and the environment before any
//! I/O against the portal. Every rule about what a flag may hold lives here; the core never sees
//! clap types, and a bad value is a usage error (exit 2) before a single request.

use std::io::BufRead;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::cli::{self, ConnectionArgs, ImportArgs, OutputArgs, PacingArgs, RosterArgs};
use crate::outcome::Cause;
use crate::portal::{ClientOptions, Credentials, MAX_USERS_PER_CALL, PortalUrl, RateSetting};
use crate::report::{OutputOptions, ProgressWhen, ResultsStyle, ResultsTarget};
use crate::roster::{
    ColumnMapping, Encoding, MatchBy, RoleMap, RosterOptions, Source, TitleTemplate,
};

/// A configuration error: the user asked for something impossible, so the run is unusable
/// (exit 2) before any file or portal is touched.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
}

/// What kind of configuration problem it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// An option's value is malformed or out of range.
    BadValue,
    /// Options that cannot be used together.
    Conflict,
    /// No credentials, conflicting ones, or a secret that cannot be read.
    Credentials,
    /// A file an option names (`--ca-cert`) cannot be read or used.
    File,
}

impl ConfigError {
    fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        ConfigError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of problem it is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// Every configuration problem makes the run unusable.
    pub fn cause(&self) -> Cause {
        Cause::Unusable
    }
}

fn bad_value(message: impl Into<String>) -> ConfigError {
    ConfigError::new(ConfigErrorKind::BadValue, message)
}

fn credentials_error(message: impl Into<String>) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Credentials, message)
}

/// Everything `bulk-groups import` needs, validated.
#[derive(Debug)]
pub struct ImportConfig {
    /// Where the roster comes from.
    pub roster: Source,
    /// How to parse it.
    pub roster_options: RosterOptions,
    /// Where the results go.
    pub results: ResultsTarget,
    /// The portal.
    pub portal: PortalUrl,
    /// How to sign in.
    pub credentials: Credentials,
    /// HTTP, retry and pacing settings.
    pub client: ClientOptions,
    /// What the run does.
    pub plan: PlanOptions,
    /// Stop as on SIGTERM after this long.
    pub max_duration: Option<Duration>,
    /// Write a JSON summary here.
    pub summary_json: Option<PathBuf>,
    /// `--results-format`; `None`: like the roster.
    pub results_format: Option<ResultsStyle>,
    /// Write the HTML report here.
    pub report: Option<PathBuf>,
    /// stderr output.
    pub output: OutputConfig,
}

/// What an import does with the roster.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Read only; write the plan as results.
    pub dry_run: bool,
    /// Remove plain members not in the roster.
    pub sync: bool,
    /// With `sync`, remove managers not in the roster too.
    pub sync_admins: bool,
    /// The removal guard.
    pub max_removals: RemovalLimit,
    /// Fewer data rows than this → exit 2 before any portal contact.
    pub min_rows: u64,
    /// Usernames per addUsers/removeUsers call.
    pub chunk_size: usize,
    /// Groups a user may belong to, owned ones included.
    pub group_limit: u32,
    /// Invite users of other organizations instead of reporting them `not_added`.
    pub invite_external: bool,
    /// With `sync`: write the current memberships of every group the run removes members
    /// from to this file (a roster `import` reads back) before the first removal.
    pub backup: Option<PathBuf>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            dry_run: false,
            sync: false,
            sync_admins: false,
            max_removals: RemovalLimit::Percent(10),
            min_rows: 1,
            chunk_size: MAX_USERS_PER_CALL,
            group_limit: 512,
            invite_external: false,
            backup: None,
        }
    }
}

/// `--max-removals`: how many removals one group may take in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalLimit {
    /// At most this many.
    Count(u32),
    /// At most this percentage of the group's current members, but never fewer than
    /// [`RemovalLimit::PERCENT_FLOOR`] — except `0%`, which means none.
    Percent(u32),
}

impl RemovalLimit {
    /// The floor of a percentage limit: small groups may always lose this many.
    pub const PERCENT_FLOOR: u64 = 5;

    /// The most removals allowed from a group that currently has `members` members.
    pub fn allowed(self, members: u64) -> u64 {
        match self {
            RemovalLimit::Count(n) => u64::from(n),
            // `0%` is an operator saying "no removals": the floor is for positive percentages.
            RemovalLimit::Percent(0) => 0,
            RemovalLimit::Percent(p) => (members * u64::from(p) / 100).max(Self::PERCENT_FLOOR),
        }
    }
}

impl std::str::FromStr for RemovalLimit {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            bad_value(format!(
                "--max-removals {s:?}: expected a count like 20 or a percentage like 10%"
            ))
        };
        match s.strip_suffix('%') {
            Some(p) => {
                let p: u32 = p.trim().parse().map_err(|_| bad())?;
                if p > 100 {
                    return Err(bad());
                }
                Ok(RemovalLimit::Percent(p))
            }
            None => Ok(RemovalLimit::Count(s.parse().map_err(|_| bad())?)),
        }
    }
}

/// How much goes to stderr, and how.
#[derive(Debug, Clone, Copy)]
pub struct OutputConfig {
    /// Progress display.
    pub progress: cli::ProgressWhen,
    /// Print nothing when the exit code is 0.
    pub quiet: bool,
    /// 0 = info, 1 = debug, 2+ = trace.
    pub verbosity: u8,
    /// One JSON object per log line.
    pub json_logs: bool,
}

impl From<&OutputArgs> for OutputConfig {
    fn from(args: &OutputArgs) -> Self {
        OutputConfig {
            progress: args.progress,
            quiet: args.quiet,
            verbosity: args.verbose,
            json_logs: args.log_format == cli::LogFormat::Json,
        }
    }
}

impl From<OutputConfig> for OutputOptions {
    fn from(output: OutputConfig) -> Self {
        OutputOptions {
            progress: match output.progress {
                cli::ProgressWhen::Auto => ProgressWhen::Auto,
                cli::ProgressWhen::Always => ProgressWhen::Always,
                cli::ProgressWhen::Never => ProgressWhen::Never,
            },
            quiet: output.quiet,
            verbosity: output.verbosity,
            json_logs: output.json_logs,
        }
    }
}

/// Where configuration reads the environment and stdin from (injectable for tests).
pub trait Environment {
    /// The value of an environment variable, if set and non-empty.
    fn var(&self, name: &str) -> Option<String>;
    /// The first line of stdin (for `--password-stdin`).
    fn stdin_line(&self) -> std::io::Result<String>;
}

/// The real process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    fn stdin_line(&self) -> std::io::Result<String> {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    }
}

/// Build the roster source from the positional argument.
pub fn roster_source(arg: &str) -> Source {
    if arg == "-" {
        Source::Stdin
    } else {
        Source::Path(PathBuf::from(arg))
    }
}

/// `--profile FILE.toml`: the roster settings of [`RosterArgs`], kept in a file so that a cron
/// line stays short (product spec §2.4). Unknown keys are refused, naming the key.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    /// `[column]` FIELD = "HEADER"
    #[serde(default)]
    column: std::collections::BTreeMap<String, String>,
    group_title: Option<String>,
    /// `[role_map]` VALUE = "ROLE"
    #[serde(default)]
    role_map: std::collections::BTreeMap<String, String>,
    match_by: Option<String>,
    delimiter: Option<String>,
    encoding: Option<String>,
    sheet: Option<String>,
    /// Relative to the profile's directory.
    groups: Option<PathBuf>,
}

impl Profile {
    fn load(path: &Path) -> Result<Profile, ConfigError> {
        let file = |why: String| {
            ConfigError::new(
                ConfigErrorKind::File,
                format!(
                    "--profile {}: {why}",
                    crate::roster::escape_controls(&path.display().to_string())
                ),
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        let mut profile: Profile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().trim_end();
            file(match line {
                Some(line) => format!("line {line}: {message}"),
                None => message.to_owned(),
            })
        })?;
        if let (Some(groups), Some(dir)) = (&mut profile.groups, path.parent()) {
            *groups = dir.join(&*groups);
        }
        Ok(profile)
    }
}

/// Build the roster parsing options: the flags, then `--profile`, then the defaults.
pub fn roster_options(args: &RosterArgs) -> Result<RosterOptions, ConfigError> {
    let profile = match &args.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let delimiter = match args.delimiter.as_ref().or(profile.delimiter.as_ref()) {
        None => None,
        Some(d) => Some(parse_delimiter(d)?),
    };
    let encoding = args.encoding.as_ref().or(profile.encoding.as_ref());
    let encoding: Encoding = match encoding {
        None => Encoding::default(),
        Some(e) => e
            .parse()
            .map_err(|_| bad_value(format!("unknown --encoding {e:?}")))?,
    };
    let match_by = match args.match_by.as_ref().or(profile.match_by.as_ref()) {
        None => MatchBy::default(),
        Some(m) => m.parse().map_err(|_| {
            bad_value(format!(
                "unknown --match-by {m:?}: use one of {}",
                MatchBy::NAMES.join(", ")
            ))
        })?,
    };
    Ok(RosterOptions {
        delimiter,
        encoding,
        groups_file: args.groups.clone().or(profile.groups),
        match_by,
        columns: column_mappings(&args.columns, &profile.column)?,
        group_title: args
            .group_title
            .as_ref()
            .or(profile.group_title.as_ref())
            .map(|t| TitleTemplate::parse(t))
            .transpose()
            .map_err(bad_value)?,
        role_map: role_map(&args.role_map, &profile.role_map)?,
        sheet: args.sheet.clone().or(profile.sheet),
    })
}

/// `--column` flags over the profile's `[column]` table, field by field. One field mapped twice
/// by flags is a usage error; `--column group=…` and `--group-title` are not, the title wins.
fn column_mappings(
    flags: &[String],
    profile: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<ColumnMapping>, ConfigError> {
    let mut from_flags: Vec<ColumnMapping> = Vec::new();
    for spec in flags {
        let mapping = ColumnMapping::parse(spec).map_err(bad_value)?;
        if from_flags.iter().any(|m| m.field == mapping.field) {
            return Err(ConfigError::new(
                ConfigErrorKind::Conflict,
                format!("--column {} is given twice", mapping.field),
            ));
        }
        from_flags.push(mapping);
    }
    let mut mappings = Vec::new();
    for (field, header) in profile {
        let mapping = ColumnMapping::new(field, header).map_err(bad_value)?;
        if !from_flags.iter().any(|m| m.field == mapping.field) {
            mappings.push(mapping);
        }
    }
    mappings.extend(from_flags);
    Ok(mappings)
}

/// The profile's `[role_map]` table, then every `--role-map` flag over it, value by value.
fn role_map(
    flags: &[String],
    profile: &std::collections::BTreeMap<String, String>,
) -> Result<RoleMap, ConfigError> {
    let mut map = RoleMap::default();
    for (value, role) in profile {
        map.insert(value, role).map_err(bad_value)?;
    }
    for spec in flags {
        map.overlay(&RoleMap::parse(spec).map_err(bad_value)?);
    }
    Ok(map)
}

fn parse_delimiter(d: &str) -> Result<u8, ConfigError> {
    match d {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "\t" | "tab" | "TAB" | "\\t" => Ok(b'\t'),
        other => Err(bad_value(format!(
            "--delimiter {other:?}: expected one of , ; | tab"
        ))),
    }
}

impl ImportConfig {
    /// Validate the `import` arguments against the environment.
    pub fn from_args(
        args: &ImportArgs,
        env: &dyn Environment,
    ) -> Result<ImportConfig, ConfigError> {
        let roster = roster_source(&args.roster);
        let roster_options = roster_options(&args.roster_args)?;
        let portal = portal_url(&args.connection)?;

        if args.connection.password_stdin && roster == Source::Stdin {
            return Err(ConfigError::new(
                ConfigErrorKind::Conflict,
                "--password-stdin cannot be used with a roster read from stdin (-); use ARCGIS_PASSWORD or --password-file",
            ));
        }
        let credentials = credentials(&args.connection, env)?;

        if !(1..=MAX_USERS_PER_CALL).contains(&args.chunk_size) {
            return Err(bad_value(format!(
                "--chunk-size must be between 1 and {MAX_USERS_PER_CALL} (the portal's limit per call)"
            )));
        }
        let results = results_target(args.results.as_deref(), &roster);

        Ok(ImportConfig {
            roster,
            roster_options,
            results,
            portal,
            credentials,
            client: client_options(&args.connection, &args.pacing)?,
            plan: PlanOptions {
                dry_run: args.dry_run,
                sync: args.sync,
                sync_admins: args.sync_admins,
                max_removals: args.max_removals.parse()?,
                min_rows: args.min_rows,
                chunk_size: args.chunk_size,
                group_limit: args.group_limit,
                invite_external: args.invite_external,
                backup: args.backup.clone(),
            },
            max_duration: args.max_duration,
            summary_json: args.summary_json.clone(),
            results_format: args.results_format.map(|format| match format {
                cli::ResultsFormat::Csv => ResultsStyle::Csv,
                cli::ResultsFormat::Excel => ResultsStyle::Excel,
            }),
            report: args.report.clone(),
            output: OutputConfig::from(&args.output),
        })
    }
}

/// Which groups `bulk-groups export` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSelection {
    /// The groups a roster file names.
    Roster(PathBuf),
    /// The groups with these exact titles.
    Titles(Vec<String>),
    /// The groups this user owns.
    Owner(String),
    /// The groups with this tag.
    Tag(String),
    /// Every group of the organization.
    All,
}

/// Everything `bulk-groups export` needs, validated.
#[derive(Debug)]
pub struct ExportConfig {
    /// Which groups.
    pub selection: ExportSelection,
    /// Where the roster goes (`None`: stdout).
    pub output: Option<PathBuf>,
    /// The portal.
    pub portal: PortalUrl,
    /// How to sign in.
    pub credentials: Credentials,
    /// HTTP, retry and pacing settings.
    pub client: ClientOptions,
    /// stderr output.
    pub output_config: OutputConfig,
}

impl ExportConfig {
    /// Validate the `export` arguments against the environment.
    pub fn from_args(
        args: &cli::ExportArgs,
        env: &dyn Environment,
    ) -> Result<ExportConfig, ConfigError> {
        let selection = match (&args.roster, &args.owner, &args.tag) {
            (Some(path), _, _) => ExportSelection::Roster(path.clone()),
            (_, Some(owner), _) => ExportSelection::Owner(owner.trim().to_owned()),
            (_, _, Some(tag)) => ExportSelection::Tag(tag.trim().to_owned()),
            _ if !args.title.is_empty() => ExportSelection::Titles(args.title.clone()),
            _ => ExportSelection::All,
        };
        Ok(ExportConfig {
            selection,
            output: (args.output != "-").then(|| PathBuf::from(&args.output)),
            portal: portal_url(&args.connection)?,
            credentials: credentials(&args.connection, env)?,
            client: client_options(&args.connection, &args.pacing)?,
            output_config: OutputConfig::from(&args.output_args),
        })
    }
}

/// The HTTP client's settings from the shared connection and pacing options.
pub fn client_options(
    connection: &ConnectionArgs,
    pacing: &PacingArgs,
) -> Result<ClientOptions, ConfigError> {
    let concurrency = NonZeroUsize::new(pacing.concurrency)
        .ok_or_else(|| bad_value("--concurrency must be at least 1"))?;
    for (flag, value) in [
        ("--timeout", pacing.timeout),
        ("--connect-timeout", pacing.connect_timeout),
    ] {
        if value.is_zero() {
            return Err(bad_value(format!(
                "{flag} must be longer than 0s (every request would time out)"
            )));
        }
    }
    Ok(ClientOptions {
        timeout: pacing.timeout,
        connect_timeout: pacing.connect_timeout,
        retries: pacing.retries,
        concurrency,
        rate: parse_rate(&pacing.rate)?,
        ca_cert: connection
            .ca_cert
            .as_deref()
            .map(read_ca_cert)
            .transpose()?,
        ..ClientOptions::default()
    })
}

/// `--portal`, validated.
pub fn portal_url(connection: &ConnectionArgs) -> Result<PortalUrl, ConfigError> {
    PortalUrl::parse(&connection.portal).map_err(|e| {
        bad_value(format!(
            "--portal {:?}: {e}",
            crate::portal::url::redact(&connection.portal)
        ))
    })
}

/// `--ca-cert`: read and checked now, so a file that is unreadable or holds no usable
/// certificate is a usage error before any portal contact rather than a connection failure.
/// The check builds a throwaway HTTP client with the certificates, the same step
/// `PortalClient::connect` takes, so whatever it would refuse is refused here.
fn read_ca_cert(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bad = |why: String| {
        ConfigError::new(
            ConfigErrorKind::File,
            format!("--ca-cert {}: {why}", path.display()),
        )
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("not valid PEM ({})", causes(&e))))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    reqwest::Client::builder()
        .tls_certs_merge(certs)
        .build()
        .map_err(|e| bad(format!("not a usable CA certificate ({})", causes(&e))))?;
    Ok(pem)
}

/// An error and its sources on one line: reqwest's own text is only "builder error".
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn parse_rate(rate: &str) -> Result<RateSetting, ConfigError> {
    if rate.eq_ignore_ascii_case("auto") {
        return Ok(RateSetting::Auto);
    }
    rate.trim()
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .map(RateSetting::Fixed)
        .ok_or_else(|| {
            bad_value(format!(
                "--rate {rate:?}: expected a number of requests per second (≥ 1) or auto"
            ))
        })
}

/// `--results`, or `<roster stem>.results.csv` in the current directory.
fn results_target(arg: Option<&str>, roster: &Source) -> ResultsTarget {
    match arg {
        Some("-") => ResultsTarget::Stdout,
        Some(path) => ResultsTarget::Path(PathBuf::from(path)),
        None => {
            let stem = match roster {
                Source::Path(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()),
                Source::Stdin => None,
            };
            ResultsTarget::Path(PathBuf::from(format!(
                "{}.results.csv",
                stem.as_deref().unwrap_or("roster")
            )))
        }
    }
}

/// Where the sign-in secret comes from: a ready token, or a username and its password.
pub fn credentials(
    args: &ConnectionArgs,
    env: &dyn Environment,
) -> Result<Credentials, ConfigError> {
    let token = match (
        env.var("ARCGIS_API_KEY"),
        env.var("ARCGIS_TOKEN"),
        env.var("ARCGIS_TOKEN_FILE"),
    ) {
        (Some(key), _, _) | (None, Some(key), _) => Some(SecretString::from(key.trim().to_owned())),
        (None, None, Some(file)) => Some(read_secret_file(Path::new(&file), "ARCGIS_TOKEN_FILE")?),
        (None, None, None) => None,
    };
    let username = args
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match (token, username) {
        (Some(_), Some(_)) => Err(credentials_error(
            "both a token (ARCGIS_API_KEY/ARCGIS_TOKEN/ARCGIS_TOKEN_FILE) and a username are configured; unset one",
        )),
        (Some(token), None) => {
            if args.password_file.is_some() || args.password_stdin {
                return Err(credentials_error(
                    "a password was given without --username / ARCGIS_USERNAME",
                ));
            }
            Ok(Credentials::Token(token))
        }
        (None, Some(username)) => {
            let password = if let Some(file) = &args.password_file {
                read_secret_file(file, "--password-file")?
            } else if args.password_stdin {
                let line = env
                    .stdin_line()
                    .map_err(|e| credentials_error(format!("--password-stdin: {e}")))?;
                secret_from_line(&line, "--password-stdin")?
            } else if let Some(p) = env.var("ARCGIS_PASSWORD") {
                SecretString::from(p)
            } else {
                return Err(credentials_error(format!(
                    "no password for {username}: set ARCGIS_PASSWORD, or use --password-file FILE or --password-stdin"
                )));
            };
            Ok(Credentials::Password {
                username: username.to_owned(),
                password,
            })
        }
        (None, None) => Err(credentials_error(
            "no credentials: set ARCGIS_API_KEY (or ARCGIS_TOKEN / ARCGIS_TOKEN_FILE), or give --username with ARCGIS_PASSWORD, --password-file or --password-stdin",
        )),
    }
}

fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| credentials_error(format!("{what} {}: {e}", path.display())))?;
    secret_from_line(text.lines().next().unwrap_or(""), what)
}

fn secret_from_line(line: &str, what: &str) -> Result<SecretString, ConfigError> {
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.trim().is_empty() {
        return Err(credentials_error(format!("{what}: empty")));
    }
    Ok(SecretString::from(secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::cli::{Cli, Command};

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
        fn stdin_line(&self) -> std::io::Result<String> {
            Ok("from-stdin\n".into())
        }
    }

    fn config(
        args: &[&str],
        env: &[(&'static str, &'static str)],
    ) -> Result<ImportConfig, ConfigError> {
        let cli =
            Cli::try_parse_from(["bulk-groups", "import"].iter().chain(args)).expect("parses");
        let Command::Import(import) = cli.command else {
            unreachable!()
        };
        ImportConfig::from_args(&import, &FakeEnv(env.iter().copied().collect()))
    }

    #[test]
    fn removal_limits() {
        assert_eq!(
            "10%".parse::<RemovalLimit>().unwrap(),
            RemovalLimit::Percent(10)
        );
        assert_eq!("7".parse::<RemovalLimit>().unwrap(), RemovalLimit::Count(7));
        assert!("x%".parse::<RemovalLimit>().is_err());
        assert!("101%".parse::<RemovalLimit>().is_err());
        // floor of 5 for small groups; rounded down for large ones
        assert_eq!(RemovalLimit::Percent(10).allowed(31), 5);
        assert_eq!(RemovalLimit::Percent(10).allowed(99), 9);
        assert_eq!(RemovalLimit::Count(3).allowed(1000), 3);
        assert_eq!(
            RemovalLimit::Percent(0).allowed(31),
            0,
            "0% means no removals"
        );
        assert_eq!(RemovalLimit::Count(0).allowed(31), 0, "0 means no removals");
        assert_eq!(
            RemovalLimit::Percent(1).allowed(31),
            5,
            "the floor applies to positive percentages"
        );
    }

    #[test]
    fn token_from_environment() {
        let c = config(&["r.csv"], &[("ARCGIS_API_KEY", "k1")]).unwrap();
        assert!(matches!(c.credentials, Credentials::Token(ref t) if t.expose_secret() == "k1"));
        assert_eq!(c.results, ResultsTarget::Path("r.results.csv".into()));
    }

    #[test]
    fn password_sources() {
        let c = config(
            &["r.csv", "--username", "amy"],
            &[("ARCGIS_PASSWORD", "pw")],
        )
        .unwrap();
        assert!(
            matches!(c.credentials, Credentials::Password { ref password, .. } if password.expose_secret() == "pw")
        );
        let c = config(&["r.csv", "--username", "amy", "--password-stdin"], &[]).unwrap();
        assert!(
            matches!(c.credentials, Credentials::Password { ref password, .. } if password.expose_secret() == "from-stdin")
        );
    }

    #[test]
    fn usage_errors_have_a_kind_and_their_message() {
        use ConfigErrorKind::*;
        let err = |args: &[&str], env: &[(&'static str, &'static str)]| {
            let e = config(args, env).unwrap_err();
            (e.kind(), e.to_string())
        };
        let is = |(kind, text): (ConfigErrorKind, String), want: ConfigErrorKind, part: &str| {
            assert_eq!(kind, want, "{text}");
            assert!(text.contains(part), "{text}");
        };
        is(err(&["r.csv"], &[]), Credentials, "no credentials");
        is(
            err(&["r.csv", "--username", "amy"], &[]),
            Credentials,
            "no password",
        );
        is(
            err(&["-", "--username", "amy", "--password-stdin"], &[]),
            Conflict,
            "--password-stdin",
        );
        is(
            err(&["r.csv", "--username", "amy"], &[("ARCGIS_TOKEN", "t")]),
            Credentials,
            "both",
        );
        let key = [("ARCGIS_API_KEY", "k")];
        is(
            err(&["r.csv", "--chunk-size", "26"], &key),
            BadValue,
            "--chunk-size",
        );
        is(
            err(&["r.csv", "--concurrency", "0"], &key),
            BadValue,
            "--concurrency",
        );
        is(err(&["r.csv", "--rate", "fast"], &key), BadValue, "--rate");
        is(
            err(&["r.csv", "--portal", "http://example.com"], &key),
            BadValue,
            "--portal",
        );
        is(
            err(&["r.csv", "--max-removals", "lots"], &key),
            BadValue,
            "--max-removals",
        );
        is(
            err(&["r.csv", "--ca-cert", "/no/such.pem"], &key),
            File,
            "--ca-cert",
        );
    }

    #[test]
    fn export_takes_exactly_one_selection_and_backup_needs_sync() {
        let parse = |args: &[&str]| Cli::try_parse_from(["bulk-groups"].iter().chain(args));
        assert!(parse(&["export"]).is_err(), "a selection is required");
        assert!(parse(&["export", "--owner", "a", "--tag", "t"]).is_err());
        assert!(parse(&["import", "r.csv", "--backup", "b.csv"]).is_err());
        let Command::Export(args) = parse(&["export", "--title", "A", "--title", "B"])
            .unwrap()
            .command
        else {
            unreachable!()
        };
        let env = FakeEnv([("ARCGIS_API_KEY", "k")].into_iter().collect());
        let c = ExportConfig::from_args(&args, &env).unwrap();
        assert_eq!(
            c.selection,
            ExportSelection::Titles(vec!["A".into(), "B".into()])
        );
        assert_eq!(c.output, None, "stdout by default");
        let Command::Export(args) = parse(&["export", "--all", "--output", "x.csv"])
            .unwrap()
            .command
        else {
            unreachable!()
        };
        let c = ExportConfig::from_args(&args, &env).unwrap();
        assert_eq!(
            (c.selection, c.output),
            (ExportSelection::All, Some(PathBuf::from("x.csv")))
        );
    }

    #[test]
    fn stdin_roster_results_default() {
        let c = config(&["-"], &[("ARCGIS_API_KEY", "k")]).unwrap();
        assert_eq!(c.results, ResultsTarget::Path("roster.results.csv".into()));
        let c = config(&["x.csv", "--results", "-"], &[("ARCGIS_API_KEY", "k")]).unwrap();
        assert_eq!(c.results, ResultsTarget::Stdout);
    }

    fn validate_options(args: &[&str]) -> Result<RosterOptions, ConfigError> {
        let cli =
            Cli::try_parse_from(["bulk-groups", "validate"].iter().chain(args)).expect("parses");
        let Command::Validate(validate) = cli.command else {
            unreachable!()
        };
        roster_options(&validate.roster_args)
    }

    #[test]
    fn a_profile_holds_roster_settings_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("sis.toml");
        std::fs::write(
            &profile,
            "group_title = '{Course} {Section}'\nmatch_by = 'email'\nencoding = 'windows-1252'\n\
             sheet = 'Roster'\ngroups = 'groups.csv'\n\
             [column]\nusername = 'Student Email'\nrole = 'Enrollment Role'\n\
             [role_map]\nStudent = 'member'\nTA = 'member'\n",
        )
        .unwrap();
        let path = profile.to_str().unwrap();
        let o = validate_options(&["r.csv", "--profile", path]).unwrap();
        assert_eq!(o.match_by, MatchBy::Email);
        assert_eq!(o.encoding, Encoding::Windows1252);
        assert_eq!(o.sheet.as_deref(), Some("Roster"));
        assert_eq!(o.groups_file, Some(dir.path().join("groups.csv")));
        assert_eq!(
            o.group_title.as_ref().map(TitleTemplate::as_str),
            Some("{Course} {Section}")
        );
        assert_eq!(o.role_map.get("ta"), Some(crate::roster::Role::Member));
        let header = |o: &RosterOptions, f: crate::roster::Field| {
            o.columns
                .iter()
                .find(|m| m.field == f)
                .map(|m| m.header.clone())
        };
        assert_eq!(
            header(&o, crate::roster::Field::Username).as_deref(),
            Some("Student Email")
        );

        let o = validate_options(&[
            "r.csv",
            "--profile",
            path,
            "--match-by",
            "auto",
            "--encoding",
            "utf-8",
            "--column",
            "username=Login",
            "--role-map",
            "TA=admin",
            "--group-title",
            "{Course}",
        ])
        .unwrap();
        assert_eq!(o.match_by, MatchBy::Auto);
        assert_eq!(o.encoding, Encoding::Utf8);
        assert_eq!(
            header(&o, crate::roster::Field::Username).as_deref(),
            Some("Login")
        );
        assert_eq!(
            header(&o, crate::roster::Field::Role).as_deref(),
            Some("Enrollment Role"),
            "the profile's other columns stay"
        );
        assert_eq!(o.role_map.get("TA"), Some(crate::roster::Role::Admin));
        assert_eq!(o.role_map.get("Student"), Some(crate::roster::Role::Member));
        assert_eq!(
            o.group_title.as_ref().map(TitleTemplate::as_str),
            Some("{Course}")
        );
    }

    #[test]
    fn profile_and_mapping_mistakes_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("p.toml");
        std::fs::write(&profile, "match_by = 'email'\ngroup-title = '{Course}'\n").unwrap();
        let e = validate_options(&["r.csv", "--profile", profile.to_str().unwrap()]).unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::File);
        assert!(
            e.to_string()
                .contains("line 2: unknown field `group-title`"),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = validate_options(&["r.csv", "--profile", "/no/such.toml"]).unwrap_err();
        assert!(
            e.to_string().starts_with("--profile /no/such.toml: "),
            "{e}"
        );
        for (args, part) in [
            (&["r.csv", "--column", "username"][..], "FIELD=HEADER"),
            (
                &["r.csv", "--column", "user=A", "--column", "username=B"],
                "given twice",
            ),
            (&["r.csv", "--group-title", "Spring"], "names no column"),
            (&["r.csv", "--role-map", "Student=boss"], "member or admin"),
        ] {
            let e = validate_options(args).unwrap_err();
            assert!(e.to_string().contains(part), "{args:?}: {e}");
        }
    }
}
