//! The run summary (product spec §3): a few lines on stderr for people, and with
//! `--summary-json` a stable JSON object for schedulers and dashboards, written atomically (a
//! temporary file renamed into place) on every exit path.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tracing::Level;

use crate::outcome::{GroupStatus, Status};
use crate::report::logging;
use crate::report::outputs::{self, OutputError};
use crate::report::tally::{GroupSummary, Tally};
use crate::roster::Dialect;

/// Version of the JSON summary's shape; bumped only on incompatible changes.
pub const SUMMARY_VERSION: u32 = 1;

/// What the roster was.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RosterInfo {
    /// Path as given, or `-` for stdin.
    pub path: String,
    /// sha256 of the file's bytes (`null` for stdin).
    pub sha256: Option<String>,
    /// Data rows read.
    pub rows: u64,
    /// Whether it started with a UTF-8 BOM.
    pub bom: bool,
    /// The field delimiter (`,`, `;`, `|` or `\t`).
    pub delimiter: String,
    /// `utf-8` or `windows-1252`.
    pub encoding: String,
}

impl RosterInfo {
    /// Record the detected dialect.
    pub fn set_dialect(&mut self, dialect: &Dialect) {
        self.bom = dialect.bom;
        self.delimiter = (dialect.delimiter as char).to_string();
        self.encoding = dialect.encoding.as_str().to_owned();
    }
}

/// The whole run, as the JSON summary shows it. Field names are a public contract.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// [`SUMMARY_VERSION`].
    pub version: u32,
    /// bulk-groups' own version.
    pub tool_version: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// The run-wide error, if one decided the exit code.
    pub error: Option<String>,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// Wall time.
    pub elapsed_seconds: f64,
    /// Portal URL.
    pub portal: String,
    /// The caller's organization id (once known).
    pub org_id: Option<String>,
    /// The signed-in username (once known).
    pub caller: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The roster.
    pub roster: RosterInfo,
    /// Results rows per status (every status present, zeros included).
    pub counts: BTreeMap<&'static str, u64>,
    /// Distinct groups per group status.
    pub group_counts: BTreeMap<&'static str, u64>,
    /// Groups this run created.
    pub groups_created: u64,
    /// HTTP requests sent, by kind (retries included).
    pub requests: BTreeMap<String, u64>,
    /// Retried requests.
    pub retries: u64,
    /// Responses that said "slow down" (HTTP 429 or equivalent).
    pub throttled: u64,
    /// Memberships settled (added or already member) per second of wall time.
    pub memberships_per_second: f64,
    /// Groups whose removals exceeded `--max-removals`.
    pub guard_tripped: Vec<String>,
    /// For a stdin roster cut short by an interrupt: the last line read.
    pub input_not_read_after_line: Option<u64>,
    /// One entry per roster group: title, id, status and rows per status.
    pub groups: Vec<GroupSummary>,
}

impl Summary {
    /// An empty summary for a run starting now.
    pub fn new(portal: String, roster_path: String, dry_run: bool) -> Self {
        Summary {
            version: SUMMARY_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            exit_code: 0,
            error: None,
            started: now_rfc3339(),
            elapsed_seconds: 0.0,
            portal,
            org_id: None,
            caller: None,
            dry_run,
            roster: RosterInfo {
                path: roster_path,
                ..RosterInfo::default()
            },
            counts: Status::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            group_counts: GroupStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            groups_created: 0,
            requests: BTreeMap::new(),
            retries: 0,
            throttled: 0,
            memberships_per_second: 0.0,
            guard_tripped: Vec::new(),
            input_not_read_after_line: None,
            groups: Vec::new(),
        }
    }

    /// Take the counts of the rows written, in all and per group.
    pub fn set_tally(&mut self, tally: &Tally) {
        let counts = &tally.counts;
        self.groups = tally.groups();
        for status in Status::ALL {
            self.counts.insert(status.as_str(), counts.get(status));
        }
        for group_status in GroupStatus::ALL {
            self.group_counts
                .insert(group_status.as_str(), counts.groups(group_status));
        }
        self.groups_created = counts.groups(GroupStatus::Created);
        self.roster.rows = counts.total()
            - self.counts[Status::Removed.as_str()]
            - self.counts[Status::NotRemoved.as_str()]
            - self.counts[Status::WouldRemove.as_str()];
        let settled = counts.get(Status::Added) + counts.get(Status::AlreadyMember);
        if self.elapsed_seconds > 0.0 {
            self.memberships_per_second =
                (settled as f64 / self.elapsed_seconds * 10.0).round() / 10.0;
        }
    }

    /// Write the JSON summary atomically: a sibling temporary file renamed over `path`. A
    /// symbolic link at `path` is refused, not replaced.
    pub fn write_json(&self, path: &Path) -> Result<(), OutputError> {
        let mut json = serde_json::to_vec_pretty(self).expect("a summary serialises");
        json.push(b'\n');
        outputs::write_atomically("summary file", path, &json)
    }

    /// Print the summary on stderr in the log style ([`logging::emit`]): its text lines, or
    /// with JSON logs one `run summary` event carrying every field of the JSON summary and
    /// `results`.
    pub fn print(&self, results: Option<&str>) {
        let mut fields = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        fields.insert("results".to_owned(), results.into());
        let level = if self.exit_code == 0 {
            Level::INFO
        } else {
            Level::WARN
        };
        logging::emit(level, "run summary", &self.to_text(results), fields);
    }

    /// The human summary for stderr.
    /// `results` is where the results file went, `None` when the run stopped before writing one.
    pub fn to_text(&self, results: Option<&str>) -> String {
        let mut out = String::new();
        let Some(results) = results else {
            if let Some(error) = &self.error {
                out.push_str(&format!("error: {error}\n"));
            }
            out.push_str(&format!(
                "nothing was done; no results file was written; exit code {}\n",
                self.exit_code
            ));
            return out;
        };
        let nonzero: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let groups: Vec<String> = self
            .group_counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        out.push_str(&format!(
            "{} rows in {:.1} s: {}\n",
            self.roster.rows,
            self.elapsed_seconds,
            if nonzero.is_empty() {
                "nothing to do".to_owned()
            } else {
                nonzero.join(", ")
            }
        ));
        if !groups.is_empty() {
            out.push_str(&format!("groups: {}\n", groups.join(", ")));
        }
        let total: u64 = self.requests.values().sum();
        // A dry run settles nothing: a speed of 0.0 would read as a failure.
        let speed = if self.dry_run {
            String::new()
        } else {
            format!("; {:.1} memberships/s", self.memberships_per_second)
        };
        out.push_str(&format!(
            "requests: {total} ({} retried, {} throttled){speed}\n",
            self.retries, self.throttled
        ));
        if !self.guard_tripped.is_empty() {
            out.push_str(&format!(
                "sync guard tripped, nothing removed: {}\n",
                self.guard_tripped.join(", ")
            ));
        }
        if let Some(line) = self.input_not_read_after_line {
            out.push_str(&format!("stdin was not read after line {line}\n"));
        }
        if let Some(error) = &self.error {
            out.push_str(&format!("error: {error}\n"));
        }
        out.push_str(&format!("results: {results}\n"));
        out.push_str(&format!("exit code {}\n", self.exit_code));
        out
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_says_nothing_about_speed() {
        let mut summary = Summary::new("https://example.com".into(), "r.csv".into(), true);
        summary.elapsed_seconds = 2.0;
        let text = summary.to_text(Some("r.results.csv"));
        assert!(
            text.contains("requests: 0 (0 retried, 0 throttled)\n"),
            "{text}"
        );
        assert!(!text.contains("memberships/s"), "{text}");
        summary.dry_run = false;
        let text = summary.to_text(Some("r.results.csv"));
        assert!(text.contains("; 0.0 memberships/s"), "{text}");
    }

    #[test]
    fn json_has_every_documented_key_and_is_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, "old").unwrap();
        let summary = Summary::new("https://example.com".into(), "r.csv".into(), false);
        summary.write_json(&path).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for key in [
            "version",
            "exit_code",
            "error",
            "started",
            "elapsed_seconds",
            "portal",
            "org_id",
            "caller",
            "roster",
            "counts",
            "group_counts",
            "requests",
            "retries",
            "throttled",
            "memberships_per_second",
            "guard_tripped",
            "input_not_read_after_line",
            "groups",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        for key in ["path", "sha256", "rows", "bom", "delimiter", "encoding"] {
            assert!(v["roster"].get(key).is_some(), "missing roster.{key}");
        }
        assert_eq!(v["counts"].as_object().unwrap().len(), Status::ALL.len());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }
}
