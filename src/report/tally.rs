//! What the end of a run reports about its rows, gathered by the results writer as each row is
//! written: the counts, one tally per roster group (the summary's `groups`, the report's group
//! table) and the rows that need attention grouped by what to do (the report).
//!
//! Memory stays bounded whatever the roster's size: per group a few counters, per kind of
//! problem a count and the first [`SAMPLES_PER_PROBLEM`] rows.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::outcome::{Counts, GroupStatus, ResultRow, Status};
use crate::report::advice::{self, Advice};
use crate::roster::TitleKey;

/// Rows kept per kind of problem, for the report; the rest are counted.
pub const SAMPLES_PER_PROBLEM: usize = 50;

/// Everything gathered from the rows written.
#[derive(Debug, Default)]
pub struct Tally {
    /// Rows per status and group status.
    pub counts: Counts,
    groups: HashMap<GroupKey, GroupTally>,
    problems: BTreeMap<usize, Problem>,
}

/// A group is known by its id once a row carries one, else by its title.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Id(String),
    Title(String),
}

#[derive(Debug, Default)]
struct GroupTally {
    title: String,
    id: Option<String>,
    status: Option<GroupStatus>,
    counts: [u64; Status::ALL.len()],
}

/// One roster group as the summary's `groups` array shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    /// The group's title (or the id as the roster wrote it, for a group that never resolved).
    pub title: String,
    /// The portal's id, once known.
    pub id: Option<String>,
    /// `created`, `existing`, `would_create` or `failed`; `null` when never resolved.
    pub status: Option<GroupStatus>,
    /// Rows per status, every status present.
    pub counts: BTreeMap<&'static str, u64>,
}

impl GroupSummary {
    /// Rows of this group with `status`.
    pub fn count(&self, status: Status) -> u64 {
        self.counts.get(status.as_str()).copied().unwrap_or(0)
    }
}

/// Rows that need attention for one reason, with what to do.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The kind of problem and what to do about it.
    pub advice: &'static Advice,
    /// Rows of this kind.
    pub rows: u64,
    /// The first rows of this kind, at most [`SAMPLES_PER_PROBLEM`].
    pub samples: Vec<ResultRow>,
}

impl Tally {
    /// Take one written row into account.
    pub fn add(&mut self, row: &ResultRow) {
        self.counts.add(row);
        self.add_to_group(row);
        if row.status.needs_attention() {
            let advice = advice::advice_for(row.status, &row.reason);
            let rank = advice::all()
                .position(|a| std::ptr::eq(a, advice))
                .unwrap_or(usize::MAX);
            let problem = self.problems.entry(rank).or_insert_with(|| Problem {
                advice,
                rows: 0,
                samples: Vec::new(),
            });
            problem.rows += 1;
            if problem.samples.len() < SAMPLES_PER_PROBLEM {
                problem.samples.push(row.clone());
            }
        }
    }

    fn add_to_group(&mut self, row: &ResultRow) {
        if row.group.is_empty() && row.group_id.is_none() {
            return;
        }
        let key = match row.group_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => GroupKey::Id(id.to_ascii_lowercase()),
            None => GroupKey::Title(TitleKey::new(&row.group).as_str().to_owned()),
        };
        let group = self.groups.entry(key).or_insert_with(|| GroupTally {
            title: row.group.clone(),
            id: row.group_id.clone(),
            ..GroupTally::default()
        });
        group.status = group.status.or(row.group_status);
        group.counts[index(row.status)] += 1;
    }

    /// One entry per roster group, by title. Rows that named a group only by title before it
    /// resolved (invalid rows, for example) are counted with the resolved group of that title.
    pub fn groups(&self) -> Vec<GroupSummary> {
        let resolved: HashMap<String, &GroupKey> = self
            .groups
            .iter()
            .filter(|(key, _)| matches!(key, GroupKey::Id(_)))
            .map(|(key, group)| (TitleKey::new(&group.title).as_str().to_owned(), key))
            .collect();
        let mut merged: HashMap<&GroupKey, GroupTally> = HashMap::new();
        for (key, tally) in &self.groups {
            let target = match key {
                GroupKey::Title(title) => resolved.get(title).copied().unwrap_or(key),
                GroupKey::Id(_) => key,
            };
            let entry = merged.entry(target).or_insert_with(|| GroupTally {
                title: self.groups[target].title.clone(),
                id: self.groups[target].id.clone(),
                ..GroupTally::default()
            });
            entry.status = entry.status.or(tally.status);
            for (sum, n) in entry.counts.iter_mut().zip(tally.counts) {
                *sum += n;
            }
        }
        let mut groups: Vec<GroupSummary> = merged
            .into_values()
            .map(|g| GroupSummary {
                title: g.title,
                id: g.id,
                status: g.status,
                counts: Status::ALL
                    .iter()
                    .map(|s| (s.as_str(), g.counts[index(*s)]))
                    .collect(),
            })
            .collect();
        groups.sort_by(|a, b| (&a.title, &a.id).cmp(&(&b.title, &b.id)));
        groups
    }

    /// The rows that need attention, by kind of problem, in the advice table's order.
    pub fn problems(&self) -> Vec<Problem> {
        self.problems.values().cloned().collect()
    }
}

fn index(status: Status) -> usize {
    Status::ALL
        .iter()
        .position(|s| *s == status)
        .expect("every status is in ALL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, group: &str, id: Option<&str>, status: Status, reason: &str) -> ResultRow {
        ResultRow {
            line: Some(line),
            group: group.to_owned(),
            group_id: id.map(str::to_owned),
            group_status: id.map(|_| GroupStatus::Existing),
            username: format!("u{line}"),
            role: None,
            status,
            reason: reason.to_owned(),
            portal_username: None,
        }
    }

    #[test]
    fn one_entry_per_group_with_its_unresolved_rows_counted_in() {
        let id = "0123456789ABCDEF0123456789abcdef";
        let mut tally = Tally::default();
        // An invalid row names the group by title before any row of it resolved.
        tally.add(&row(2, "GIS  101", None, Status::Invalid, "bad username"));
        tally.add(&row(3, "GIS 101", Some(id), Status::Added, ""));
        tally.add(&row(
            4,
            "gis 101",
            Some(&id.to_lowercase()),
            Status::NotAdded,
            "x",
        ));
        tally.add(&row(
            5,
            "Other",
            None,
            Status::NotAttempted,
            "run interrupted",
        ));
        tally.add(&row(6, "", None, Status::Invalid, "group is empty"));
        let groups = tally.groups();
        assert_eq!(groups.len(), 2, "{groups:#?}");
        let gis = &groups[0];
        assert_eq!(
            (gis.title.as_str(), gis.id.as_deref()),
            ("GIS 101", Some(id))
        );
        assert_eq!(gis.status, Some(GroupStatus::Existing));
        assert_eq!(
            [Status::Invalid, Status::Added, Status::NotAdded].map(|s| gis.count(s)),
            [1, 1, 1]
        );
        assert_eq!(gis.counts.len(), Status::ALL.len());
        assert_eq!(
            (groups[1].title.as_str(), groups[1].status),
            ("Other", None)
        );
        assert_eq!(tally.counts.total(), 5);
    }

    #[test]
    fn problems_are_grouped_by_advice_and_bounded() {
        let mut tally = Tally::default();
        for line in 0..(SAMPLES_PER_PROBLEM as u64 + 10) {
            let reason = format!("no member of this organization has the e-mail 'u{line}@x'");
            tally.add(&row(line, "G", None, Status::NotAdded, &reason));
        }
        tally.add(&row(1000, "G", None, Status::Invalid, "username is empty"));
        tally.add(&row(1001, "G", None, Status::Added, ""));
        let problems = tally.problems();
        let summary: Vec<(&str, u64, usize)> = problems
            .iter()
            .map(|p| (p.advice.problem, p.rows, p.samples.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("no member has this e-mail address", 60, SAMPLES_PER_PROBLEM),
                ("invalid roster row", 1, 1)
            ]
        );
    }
}
