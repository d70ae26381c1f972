//! `portal-sim`: the simulated ArcGIS portal as a program. Parses the flags of
//! `spec/portal-sim.md`, binds, prints `portal-sim listening on <URL>` as the first stdout line,
//! and serves until SIGINT/SIGTERM (then writes `--state-out`). Everything else lives in
//! `bulk_groups::sim`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bulk_groups::sim::{
    DEFAULT_SEED, PrivilegesIn, SimConfig, SimServer, ThrottleStatus, parse_users_csv,
};
use clap::Parser;

/// A simulated ArcGIS portal for tests, benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "portal-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a freshly generated CA and server certificate.
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate (PEM) clients should trust to FILE.
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    /// Extra subject alternative name for the server certificate (repeatable).
    #[arg(long = "tls-name", value_name = "NAME")]
    tls_names: Vec<String>,
    /// The org administrator account.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        default_value = "admin:admin-password"
    )]
    admin: String,
    /// Extra accounts: CSV with a header
    /// (username[,org,role,password,groups,email,idp_username,access]).
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Also create user000001 … userN in the home org (role org_user).
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed_users: u32,
    /// Groups a user may belong to, owned ones included.
    #[arg(long, value_name = "N", default_value_t = 512)]
    group_limit: u32,
    /// Added to every response (e.g. 50ms).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    latency: Duration,
    /// Uniformly random extra latency, up to this much.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    jitter: Duration,
    /// Requests accepted per sliding one-second window; beyond it HTTP 429.
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Concurrent requests accepted; beyond it HTTP 429.
    #[arg(long, value_name = "N")]
    max_in_flight: Option<u32>,
    /// 429 replies carry no Retry-After header.
    #[arg(long)]
    no_retry_after: bool,
    /// Fraction of requests answered 500/502/503 without applying them.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = fraction)]
    fail_rate: f64,
    /// Fraction of write requests applied, then the connection closed with no response.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = fraction)]
    drop_rate: f64,
    /// Lifetime of issued tokens; expired → error 498.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h")]
    token_ttl: Duration,
    /// A new or changed group is invisible to search for this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    search_lag: Duration,
    /// Also set the HTTP status to the error code (default: errors in HTTP 200 bodies).
    #[arg(long)]
    errors_as_status: bool,
    /// Write the final state as JSON to FILE on shutdown.
    #[arg(long, value_name = "FILE")]
    state_out: Option<PathBuf>,
    /// RNG seed for the fault knobs.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// All realism switches at once, each at its harder variant (--legacy-members-cap 100,
    /// --strict-chunks, --exact-case, --privileges-in portals-self, --throttle-status 403,
    /// --reassign-drops-owner, --no-group-invitations); flags given explicitly still win.
    /// --cool-off is separate.
    #[arg(long, help_heading = "Realism switches")]
    realistic: bool,
    /// groups/{id}/users lists at most N names per role, silently.
    #[arg(long, value_name = "N", help_heading = "Realism switches")]
    legacy_members_cap: Option<u32>,
    /// One unknown username fails the whole addUsers call with an error reply.
    #[arg(long, help_heading = "Realism switches")]
    strict_chunks: bool,
    /// addUsers/removeUsers accept only the portal's own spelling of a username.
    #[arg(long, help_heading = "Realism switches")]
    exact_case: bool,
    /// Where the caller's privileges are listed: portals-self, community-self, both or none
    /// [default: both].
    #[arg(long, value_name = "WHERE", value_parser = PrivilegesIn::parse, help_heading = "Realism switches")]
    privileges_in: Option<PrivilegesIn>,
    /// When --rate-limit trips, refuse every request for this long (no Retry-After).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Realism switches")]
    cool_off: Option<Duration>,
    /// Status (and JSON code) of throttled replies: 429, or 403 with "Too many requests" in
    /// its message [default: 429].
    #[arg(long, value_name = "STATUS", value_parser = ThrottleStatus::parse, help_heading = "Realism switches")]
    throttle_status: Option<ThrottleStatus>,
    /// After reassign, the old owner is no longer a member (default: stays a manager).
    #[arg(long, help_heading = "Realism switches")]
    reassign_drops_owner: bool,
    /// Do not serve a group's pending invitations (community/groups/{id}/invitations, an
    /// undocumented listing).
    #[arg(long, help_heading = "Realism switches")]
    no_group_invitations: bool,
}

fn fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err("must be between 0 and 1".to_owned())
    }
}

impl Args {
    fn into_config(self) -> Result<SimConfig, String> {
        let (admin_username, admin_password) = self
            .admin
            .split_once(':')
            .ok_or_else(|| "--admin must be USER:PASSWORD".to_owned())?;
        let users = match &self.users {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--users {}: {e}", path.display()))?;
                parse_users_csv(&text)?
            }
            None => Vec::new(),
        };
        let config = SimConfig {
            listen: self.listen,
            tls: self.tls,
            cert_out: self.cert_out,
            tls_names: self.tls_names,
            admin_username: admin_username.to_owned(),
            admin_password: admin_password.to_owned(),
            users,
            seed_users: self.seed_users,
            group_limit: self.group_limit,
            latency: self.latency,
            jitter: self.jitter,
            rate_limit: self.rate_limit,
            max_in_flight: self.max_in_flight,
            no_retry_after: self.no_retry_after,
            fail_rate: self.fail_rate,
            drop_rate: self.drop_rate,
            token_ttl: self.token_ttl,
            search_lag: self.search_lag,
            errors_as_status: self.errors_as_status,
            state_out: self.state_out,
            seed: self.seed,
            ..SimConfig::default()
        };
        let config = if self.realistic {
            config.realistic()
        } else {
            config
        };
        // Explicit switches on top of --realistic (or of the defaults).
        Ok(SimConfig {
            legacy_members_cap: self.legacy_members_cap.or(config.legacy_members_cap),
            strict_chunks: self.strict_chunks || config.strict_chunks,
            exact_case: self.exact_case || config.exact_case,
            privileges_in: self.privileges_in.unwrap_or(config.privileges_in),
            cool_off: self.cool_off.unwrap_or(config.cool_off),
            throttle_status: self.throttle_status.unwrap_or(config.throttle_status),
            reassign_drops_owner: self.reassign_drops_owner || config.reassign_drops_owner,
            no_group_invitations: self.no_group_invitations || config.no_group_invitations,
            ..config
        })
    }
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(args: Args) -> Result<(), String> {
    let config = args.into_config()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let server = SimServer::new(listener, config)
        .await
        .map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "portal-sim listening on {}", server.url());
        let _ = out.flush();
    }
    server.run(stop_signal()).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> SimConfig {
        let argv = std::iter::once("portal-sim").chain(args.iter().copied());
        Args::try_parse_from(argv).unwrap().into_config().unwrap()
    }

    #[test]
    fn realistic_sets_the_switches_and_explicit_flags_win() {
        let plain = config(&[]);
        assert!(!plain.strict_chunks && plain.legacy_members_cap.is_none());
        assert_eq!(plain.throttle_status, ThrottleStatus::TooManyRequests);

        let realistic = config(&["--realistic", "--cool-off", "1m"]);
        assert!(realistic.strict_chunks && realistic.exact_case && realistic.reassign_drops_owner);
        assert!(realistic.no_group_invitations);
        assert_eq!(realistic.legacy_members_cap, Some(100));
        assert_eq!(realistic.privileges_in, PrivilegesIn::PortalsSelf);
        assert_eq!(realistic.throttle_status, ThrottleStatus::Forbidden);
        assert_eq!(realistic.cool_off, Duration::from_secs(60));

        let mixed = config(&[
            "--realistic",
            "--throttle-status",
            "429",
            "--privileges-in",
            "none",
            "--legacy-members-cap",
            "7",
        ]);
        assert_eq!(mixed.throttle_status, ThrottleStatus::TooManyRequests);
        assert_eq!(mixed.privileges_in, PrivilegesIn::None);
        assert_eq!(mixed.legacy_members_cap, Some(7));
        assert!(mixed.strict_chunks);

        let single = config(&["--exact-case", "--privileges-in", "community-self"]);
        assert!(single.exact_case && !single.strict_chunks);
        assert_eq!(single.privileges_in, PrivilegesIn::CommunitySelf);
        let wrong = Args::try_parse_from(["portal-sim", "--throttle-status", "500"]);
        assert!(wrong.is_err());
    }
}
