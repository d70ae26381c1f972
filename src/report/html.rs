//! `--report FILE.html`: one self-contained page about a run, for the person who reads runs
//! rather than CSV (product spec §7). Inline CSS and SVG only — no scripts, fonts, images or
//! links to fetch — so it reads the same when mailed as an attachment or opened offline.
//!
//! It shows the outcome in one sentence and the exit code, a table per group, the rows that
//! need attention grouped by what to do (the [`advice`](super::advice) table), a chart of
//! requests/s and throttled requests over the run, and the run's metadata. Every piece of text
//! that came from the roster or the portal goes through [`escape`].

use std::fmt::Write as _;
use std::path::Path;

use crate::outcome::Status;
use crate::report::outputs::{self, OutputError};
use crate::report::summary::Summary;
use crate::report::tally::{GroupSummary, Problem};
use crate::report::timeline::Sample;
use crate::text::escape_html;

/// Statuses that always have a column in the group table; the others get one when some row
/// has them.
const ALWAYS_SHOWN: [Status; 5] = [
    Status::Added,
    Status::AlreadyMember,
    Status::NotAdded,
    Status::Removed,
    Status::Failed,
];
/// Groups listed at most (those needing attention first); the summary JSON has them all.
const MAX_GROUPS: usize = 500;
/// Points on the chart at most; a longer run is averaged into this many.
const MAX_POINTS: usize = 300;

/// What the page is made from.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The run's summary, exit code included.
    pub summary: &'a Summary,
    /// Rows that need attention, by kind of problem.
    pub problems: &'a [Problem],
    /// The request counters over the run.
    pub timeline: &'a [Sample],
}

impl Page<'_> {
    /// Write the page atomically to `path` (a sibling temporary file renamed into place).
    pub fn write(&self, path: &Path) -> Result<(), OutputError> {
        outputs::write_atomically("report file", path, self.render().as_bytes())
    }

    /// The whole HTML document.
    pub fn render(&self) -> String {
        let s = self.summary;
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>bulk-groups run: {} — exit {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            escape_html(&s.roster.path),
            s.exit_code
        );
        let _ = write!(
            out,
            "<h1>bulk-groups run report</h1>\n<p class=\"outcome {}\">{}</p>\n\
             <p class=\"exit\">Exit code <b>{}</b>: {}</p>\n",
            if s.exit_code == 0 { "ok" } else { "attention" },
            escape_html(&outcome_sentence(s)),
            s.exit_code,
            exit_meaning(s.exit_code)
        );
        if let Some(error) = &s.error {
            let _ = writeln!(out, "<p class=\"error\">{}</p>", escape_html(error));
        }
        self.groups_section(&mut out);
        self.problems_section(&mut out);
        out.push_str("<h2>Requests over the run</h2>\n");
        out.push_str(&chart(self.timeline));
        metadata_section(s, &mut out);
        let _ = write!(
            out,
            "<footer>Written by bulk-groups {} at the end of the run.</footer>\n</body>\n</html>\n",
            escape_html(s.tool_version)
        );
        out
    }

    fn groups_section(&self, out: &mut String) {
        let groups = &self.summary.groups;
        let _ = writeln!(out, "<h2>Groups ({})</h2>", groups.len());
        if groups.is_empty() {
            out.push_str("<p>No group was reached.</p>\n");
            return;
        }
        let columns: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| ALWAYS_SHOWN.contains(s) || groups.iter().any(|g| g.count(*s) > 0))
            .collect();
        let attention = |g: &GroupSummary| {
            Status::ALL
                .iter()
                .any(|s| s.needs_attention() && g.count(*s) > 0)
        };
        let mut shown: Vec<&GroupSummary> = groups.iter().collect();
        shown.sort_by_key(|g| !attention(g));
        out.push_str("<table class=\"groups\">\n<thead><tr><th>group</th><th>status</th>");
        for status in &columns {
            let _ = write!(out, "<th>{}</th>", status.as_str().replace('_', " "));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for group in shown.iter().take(MAX_GROUPS) {
            let _ = write!(
                out,
                "<tr{}><td>{}<br><small>{}</small></td><td>{}</td>",
                if attention(group) {
                    " class=\"attention\""
                } else {
                    ""
                },
                escape_html(&group.title),
                escape_html(group.id.as_deref().unwrap_or("no id")),
                group.status.map(|s| s.as_str()).unwrap_or("not resolved")
            );
            for status in &columns {
                let n = group.count(*status);
                if n == 0 {
                    out.push_str("<td class=\"n zero\">0</td>");
                } else {
                    let _ = write!(out, "<td class=\"n\">{n}</td>");
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        if groups.len() > MAX_GROUPS {
            let _ = writeln!(
                out,
                "<p>… and {} more groups (every group is in the JSON summary).</p>",
                groups.len() - MAX_GROUPS
            );
        }
    }

    fn problems_section(&self, out: &mut String) {
        let total: u64 = self.problems.iter().map(|p| p.rows).sum();
        let _ = writeln!(out, "<h2>Rows that need attention ({total})</h2>");
        if self.problems.is_empty() {
            out.push_str("<p>None.</p>\n");
            return;
        }
        for problem in self.problems {
            let _ = write!(
                out,
                "<section class=\"problem\">\n<h3>{} — {} row{}</h3>\n<p class=\"todo\"><b>What to do:</b> {}</p>\n\
                 <table>\n<thead><tr><th>line</th><th>group</th><th>username</th><th>status</th><th>reason</th></tr></thead>\n<tbody>\n",
                escape_html(problem.advice.problem),
                problem.rows,
                if problem.rows == 1 { "" } else { "s" },
                escape_html(problem.advice.action)
            );
            for row in &problem.samples {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    row.line.map(|l| l.to_string()).unwrap_or_default(),
                    escape_html(&row.group),
                    escape_html(&row.username),
                    row.status.as_str(),
                    escape_html(&row.reason)
                );
            }
            out.push_str("</tbody>\n</table>\n");
            let more = problem.rows - problem.samples.len() as u64;
            if more > 0 {
                let _ = writeln!(out, "<p>… and {more} more in the results file.</p>");
            }
            out.push_str("</section>\n");
        }
    }
}

/// The outcome in one sentence.
fn outcome_sentence(s: &Summary) -> String {
    let rows = s.roster.rows;
    let attention: u64 = Status::ALL
        .iter()
        .filter(|st| st.needs_attention())
        .map(|st| s.counts.get(st.as_str()).copied().unwrap_or(0))
        .sum();
    let changed = |status: Status| s.counts.get(status.as_str()).copied().unwrap_or(0);
    let elapsed = format!("{:.1} s", s.elapsed_seconds);
    match s.exit_code {
        0 if s.dry_run => format!(
            "Dry run of {rows} rows in {elapsed}: nothing was changed; {} would be added, {} would be removed.",
            changed(Status::WouldAdd),
            changed(Status::WouldRemove)
        ),
        0 => format!(
            "All {rows} rows are in place after {elapsed}: {} added, {} already members, {} removed.",
            changed(Status::Added),
            changed(Status::AlreadyMember),
            changed(Status::Removed)
        ),
        1 if !s.guard_tripped.is_empty() => format!(
            "The sync guard stopped every removal in {} group(s), so nothing was removed; {attention} rows need attention.",
            s.guard_tripped.len()
        ),
        1 if attention > 0 => format!(
            "{attention} of {rows} rows need attention after {elapsed}; the others are in place."
        ),
        1 => "Every row is in place, but the run reported a problem (below).".to_owned(),
        130 => format!(
            "The run was interrupted after {elapsed}; {attention} rows were not done — run it again to finish."
        ),
        2 => "Nothing was written to the portal; the error below says why.".to_owned(),
        5 => "Nothing was done: another run holds the lock.".to_owned(),
        _ => format!("The run stopped after {elapsed}; {attention} of {rows} rows were not done."),
    }
}

/// What an exit code means (product spec §6).
fn exit_meaning(code: u8) -> &'static str {
    match code {
        0 => "every row is fine",
        1 => "some rows need attention",
        2 => "usage or input error; nothing was written to the portal",
        3 => "authentication or permission failure",
        4 => "the portal could not be reached or kept failing",
        5 => "another run holds the lock; nothing was done",
        130 => "interrupted",
        _ => "unknown",
    }
}

fn metadata_section(s: &Summary, out: &mut String) {
    let total_requests: u64 = s.requests.values().sum();
    let dialect = format!(
        "{}, delimiter {}, {}",
        if s.roster.bom { "BOM" } else { "no BOM" },
        match s.roster.delimiter.as_str() {
            "\t" => "TAB".to_owned(),
            other => format!("'{other}'"),
        },
        s.roster.encoding
    );
    let requests = s
        .requests
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let items: [(&str, String); 13] = [
        ("portal", s.portal.clone()),
        (
            "organization",
            s.org_id.clone().unwrap_or_else(|| "—".into()),
        ),
        ("caller", s.caller.clone().unwrap_or_else(|| "—".into())),
        ("roster", s.roster.path.clone()),
        (
            "roster sha256",
            s.roster
                .sha256
                .clone()
                .unwrap_or_else(|| "— (stdin)".into()),
        ),
        ("roster rows", s.roster.rows.to_string()),
        ("roster dialect", dialect),
        ("dry run", if s.dry_run { "yes" } else { "no" }.into()),
        ("started", s.started.clone()),
        ("elapsed", format!("{:.1} s", s.elapsed_seconds)),
        (
            "requests",
            format!(
                "{total_requests} ({} retried, {} throttled){}",
                s.retries,
                s.throttled,
                if requests.is_empty() {
                    String::new()
                } else {
                    format!(": {requests}")
                }
            ),
        ),
        (
            "memberships per second",
            format!("{:.1}", s.memberships_per_second),
        ),
        (
            "sync guard tripped",
            if s.guard_tripped.is_empty() {
                "no".into()
            } else {
                s.guard_tripped.join(", ")
            },
        ),
    ];
    out.push_str("<h2>Run</h2>\n<table class=\"meta\">\n<tbody>\n");
    for (name, value) in items {
        let _ = writeln!(
            out,
            "<tr><th>{name}</th><td>{}</td></tr>",
            escape_html(&value)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Requests per second and throttled replies per second between consecutive samples, averaged
/// into at most [`MAX_POINTS`] points: (seconds into the run, req/s, throttled/s).
fn rates(samples: &[Sample]) -> Vec<(f64, f64, f64)> {
    let step = samples.len().saturating_sub(1).div_ceil(MAX_POINTS).max(1);
    let picked: Vec<&Sample> = samples
        .iter()
        .step_by(step)
        .chain(
            samples
                .last()
                .filter(|_| !(samples.len() - 1).is_multiple_of(step)),
        )
        .collect();
    picked
        .windows(2)
        .filter_map(|pair| {
            let (a, b) = (pair[0], pair[1]);
            let dt = b.at - a.at;
            (dt > 0.0).then(|| {
                (
                    b.at,
                    b.requests.saturating_sub(a.requests) as f64 / dt,
                    b.throttled.saturating_sub(a.throttled) as f64 / dt,
                )
            })
        })
        .collect()
}

/// The inline SVG chart: requests/s as a line, throttled/s as red bars, with axes and a legend.
fn chart(samples: &[Sample]) -> String {
    let points = rates(samples);
    if points.len() < 2 {
        return "<p>The run was too short for a chart (requests are sampled once a second).</p>\n"
            .to_owned();
    }
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 12.0;
    let t0 = points[0].0 - 1.0_f64.min(points[0].0);
    let t_end = points.last().map(|p| p.0).unwrap_or(1.0);
    let span = (t_end - t0).max(1.0);
    let peak = points.iter().map(|p| p.1.max(p.2)).fold(0.0_f64, f64::max);
    let y_max = nice_ceiling(peak.max(1.0));
    let x = |t: f64| LEFT + (t - t0) / span * (W - LEFT - 10.0);
    let y = |v: f64| TOP + (1.0 - v / y_max) * (H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"requests per second and throttled requests over the run\">"
    );
    // Grid and y labels.
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"></line>\
             <text class=\"label\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - 10.0,
            LEFT - 6.0,
            y(v) + 4.0,
            trim_number(v),
            y = y(v)
        );
    }
    // X labels: start, middle, end (anchored so none runs off the chart).
    for (t, anchor) in [(t0, "start"), (t0 + span / 2.0, "middle"), (t_end, "end")] {
        let _ = writeln!(
            svg,
            "<text class=\"label\" x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{} s</text>",
            x(t),
            H - 10.0,
            trim_number(t - t0)
        );
    }
    // Throttled as bars, requests as a line over them.
    let bar = ((W - LEFT - 10.0) / points.len() as f64).max(1.0);
    for &(t, _, throttled) in points.iter().filter(|p| p.2 > 0.0) {
        let _ = writeln!(
            svg,
            "<rect class=\"throttled\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"></rect>",
            x(t) - bar,
            y(throttled),
            y(0.0) - y(throttled)
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|&(t, r, _)| format!("{:.1},{:.1}", x(t), y(r)))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline class=\"requests\" points=\"{}\"></polyline>",
        line.join(" ")
    );
    let _ = write!(
        svg,
        "<rect class=\"requests-key\" x=\"{}\" y=\"{TOP}\" width=\"14\" height=\"3\"></rect>\
         <text class=\"label\" x=\"{}\" y=\"{}\">requests/s</text>\
         <rect class=\"throttled\" x=\"{}\" y=\"{TOP}\" width=\"14\" height=\"8\"></rect>\
         <text class=\"label\" x=\"{}\" y=\"{}\">throttled/s</text>\n</svg>\n",
        LEFT + 10.0,
        LEFT + 28.0,
        TOP + 6.0,
        LEFT + 120.0,
        LEFT + 138.0,
        TOP + 8.0
    );
    svg
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// `v` with at most two decimals, without trailing zeros (`2`, `1.25`, `7.5`).
fn trim_number(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#1b1f24;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.3em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}h3{margin-bottom:.2em}
.outcome{font-size:1.2em;padding:.6em .8em;border-radius:6px}.outcome.ok{background:#dafbe1}.outcome.attention{background:#fff1d6}
.exit b{font-size:1.1em}.error{color:#a40e26;white-space:pre-wrap}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}td.zero{color:#8c959f}
tr.attention td:first-child{border-left:4px solid #d4a72c}small{color:#57606a}
.todo{background:#f6f8fa;padding:.4em .6em;border-left:4px solid #0969da}
.meta th{background:#f6f8fa;width:14em}
.chart{max-width:100%;height:auto;background:#fff;border:1px solid #d0d7de}
.chart .grid{stroke:#eaeef2;stroke-width:1}.chart .label{font-size:11px;fill:#57606a}
.chart .requests{fill:none;stroke:#0969da;stroke-width:2}.chart .requests-key{fill:#0969da}.chart .throttled{fill:#cf222e;opacity:.7}
footer{margin-top:2em;color:#57606a;font-size:.85em}
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{GroupStatus, ResultRow};
    use crate::report::advice::advice_for;
    use std::collections::BTreeMap;

    const HOSTILE: &str = "<script>alert('x')</script> \"Q\" & <b>bold</b>";

    fn summary() -> Summary {
        let mut s = Summary::new("https://org.example.com".into(), "roster.csv".into(), false);
        s.exit_code = 1;
        s.roster.rows = 3;
        s.caller = Some(HOSTILE.into());
        s.counts.insert("added", 2);
        s.counts.insert("not_added", 1);
        s.requests = BTreeMap::from([("addUsers".to_owned(), 3)]);
        s.groups = vec![GroupSummary {
            title: HOSTILE.into(),
            id: Some("0123456789abcdef0123456789abcdef".into()),
            status: Some(GroupStatus::Created),
            counts: Status::ALL
                .iter()
                .map(|st| (st.as_str(), u64::from(*st == Status::NotAdded)))
                .collect(),
        }];
        s
    }

    fn problem() -> Problem {
        let reason = "user is in another organization";
        Problem {
            advice: advice_for(Status::NotAdded, reason),
            rows: 1,
            samples: vec![ResultRow {
                line: Some(3),
                group: HOSTILE.into(),
                group_id: None,
                group_status: None,
                username: "<img src=x onerror=alert(1)>".into(),
                role: None,
                status: Status::NotAdded,
                reason: reason.into(),
                portal_username: None,
            }],
        }
    }

    fn timeline() -> Vec<Sample> {
        (0u32..20)
            .map(|i| Sample {
                at: f64::from(i),
                requests: u64::from(i * i),
                throttled: u64::from(i / 10),
            })
            .collect()
    }

    /// A strict structure check: every tag is well formed, void elements are the HTML ones,
    /// and every other element is closed in order.
    fn check_structure(html: &str) -> Vec<String> {
        const VOID: [&str; 3] = ["meta", "br", "!DOCTYPE"];
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("a tag is closed by '>'") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            names.push(name.clone());
            if let Some(closing) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(closing.trim()), "at {tag}");
            } else if !VOID.contains(&name.as_str()) {
                open.push(name);
            }
            // Quotes in attributes are balanced; nothing is fetched from anywhere.
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
            for fetch in ["src=", "href=", "xlink:"] {
                assert!(!tag.contains(fetch), "{fetch} in {tag}");
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        names
    }

    /// The page for the sample summary, one problem and a timeline; and its problems.
    fn sample_page() -> (String, [Problem; 1]) {
        let (s, problems, samples) = (summary(), [problem()], timeline());
        let html = Page {
            summary: &s,
            problems: &problems,
            timeline: &samples,
        }
        .render();
        (html, problems)
    }

    #[test]
    fn the_page_is_well_formed_and_self_contained() {
        let (html, problems) = sample_page();
        let tags = check_structure(&html);
        for needed in [
            "html", "head", "style", "body", "h1", "table", "svg", "polyline", "rect",
        ] {
            assert!(tags.iter().any(|t| t == needed), "no <{needed}>");
        }
        for forbidden in ["script", "img", "link", "iframe", "object"] {
            assert!(
                !tags.iter().any(|t| t == forbidden),
                "<{forbidden}> in the page"
            );
        }
        for fetch in ["url(", "@import", "@font-face"] {
            assert!(!STYLE.contains(fetch), "{fetch} in the style");
        }
        assert!(html.contains("Exit code <b>1</b>"));
        assert!(html.contains("1 of 3 rows need attention"));
        assert!(html.contains(problems[0].advice.action.split('\'').next().unwrap()));
    }

    #[test]
    fn hostile_titles_and_usernames_are_escaped() {
        let html = sample_page().0;
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>bold"));
        assert!(html.contains(
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;Q&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"
        ));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn every_status_a_group_has_gets_a_column() {
        let mut s = summary();
        let mut counts = s.groups[0].counts.clone();
        counts.insert(Status::NotAttempted.as_str(), 4);
        s.groups[0].counts = counts;
        let html = Page {
            summary: &s,
            problems: &[],
            timeline: &[],
        }
        .render();
        assert!(html.contains("<th>not attempted</th>"));
        assert!(
            !html.contains("<th>would add</th>"),
            "empty optional columns are left out"
        );
        assert!(
            html.contains("<th>already member</th>"),
            "core columns always shown"
        );
        assert!(html.contains("too short for a chart"));
    }

    #[test]
    fn the_chart_shows_the_rate_between_samples() {
        let samples: Vec<Sample> = (0u32..=10)
            .map(|i| Sample {
                at: f64::from(i),
                requests: u64::from(i) * 20,
                throttled: 0,
            })
            .collect();
        let points = rates(&samples);
        assert_eq!(points.len(), 10);
        assert!(
            points
                .iter()
                .all(|p| (p.1 - 20.0).abs() < 1e-9 && p.2 == 0.0)
        );
        // A long run is averaged into at most MAX_POINTS points, the end kept.
        let long: Vec<Sample> = (0u32..=3000)
            .map(|i| Sample {
                at: f64::from(i),
                requests: u64::from(i) * 5,
                throttled: u64::from(i),
            })
            .collect();
        let points = rates(&long);
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert_eq!(points.last().unwrap().0, 3000.0);
        assert!(
            points
                .iter()
                .all(|p| (p.1 - 5.0).abs() < 1e-9 && (p.2 - 1.0).abs() < 1e-9)
        );
        assert_eq!(nice_ceiling(37.0), 50.0);
        assert_eq!(
            [0.0, 1.25, 7.5, 20.0].map(trim_number),
            ["0", "1.25", "7.5", "20"]
        );
        assert_eq!(nice_ceiling(100.0), 100.0);
    }
}
