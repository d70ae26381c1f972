//! What to do about a row that needs attention: the one table from a row's reason to an action
//! a help-desk person can take. The HTML report groups its problem rows by these entries, and
//! the README's "Typical reasons" table uses the same wording (a test keeps the two in step).
//!
//! Reasons are sentences with particulars in them (a title, an e-mail address, the portal's own
//! message), so an entry matches a fixed part of the sentence; the first entry that matches
//! wins, the most specific first.

use crate::outcome::Status;

/// One kind of problem and what to do about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Advice {
    /// A short name for the kind of problem, as a heading.
    pub problem: &'static str,
    /// What to do.
    pub action: &'static str,
    matches: Match,
}

#[derive(Debug, PartialEq, Eq)]
enum Match {
    /// The reason contains this text.
    Contains(&'static str),
    /// The row has this status (whatever its reason says).
    Status(Status),
    /// Anything (the last entry).
    Any,
}

/// The table, most specific first; the last entry matches every row.
const ADVICE: &[Advice] = &[
    Advice {
        problem: "user does not exist or is not visible",
        action: "the account is not created yet, the roster has a display name or e-mail instead of the username, or it is a partner's account whose profile your organization cannot see (the portal shows other organizations' profiles only when they are public). The row is retried on every run.",
        matches: Match::Contains("does not exist in this portal"),
    },
    Advice {
        problem: "user is in another organization",
        action: "a partner's or a guest account (the portal showed it): it cannot be added directly; re-run with --invite-external to invite them, invite the user from the group's page, or remove the row",
        matches: Match::Contains("is in another organization"),
    },
    Advice {
        problem: "no member has this e-mail address",
        action: "the roster names the person by an e-mail address that no member of the organization has, or that several members share: put the portal username in the row instead",
        matches: Match::Contains("the e-mail"),
    },
    Advice {
        problem: "the portal refused the name",
        action: "the portal refused a whole addUsers call because of this name; the other rows of the call were sent again without it and added",
        matches: Match::Contains("; the portal said: "),
    },
    Advice {
        problem: "user exists but was not added",
        action: "check how many groups the user is in, and whether a Viewer is being added to a group with shared update capabilities",
        matches: Match::Contains("512-group limit"),
    },
    Advice {
        problem: "several groups have this title",
        action: "add a group_id column with the id of the intended group",
        matches: Match::Contains("groups are titled"),
    },
    Advice {
        problem: "group could not be created",
        action: "the portal's own message follows (for example the per-user group limit)",
        matches: Match::Contains("group could not be created"),
    },
    Advice {
        problem: "group not handed to its owner",
        action: "the portal's words follow; the group stays with the account that ran the import — reassign it in the portal, or fix the owner (an org member below the 512-group limit) and hand it over there",
        matches: Match::Contains("could not be handed to its owner"),
    },
    Advice {
        problem: "sync guard tripped",
        action: "nothing was removed: check the roster is complete, then raise --max-removals for one run if the removals are intended",
        matches: Match::Contains("sync guard:"),
    },
    Advice {
        problem: "the run stopped",
        action: "the run-wide error (exit 3 / 4); fix it and re-run",
        matches: Match::Contains("run stopped"),
    },
    Advice {
        problem: "run interrupted",
        action: "re-run; it picks up where it stopped",
        matches: Match::Status(Status::NotAttempted),
    },
    Advice {
        problem: "invalid roster row",
        action: "fix the row in the roster: the reason names the column; nothing was sent for it",
        matches: Match::Status(Status::Invalid),
    },
    Advice {
        problem: "other",
        action: "read the reason; once it is dealt with, re-run (rows that were not done are tried again)",
        matches: Match::Any,
    },
];

/// The advice for a row with `status` and `reason`.
pub fn advice_for(status: Status, reason: &str) -> &'static Advice {
    ADVICE
        .iter()
        .find(|advice| match advice.matches {
            Match::Contains(text) => reason.contains(text),
            Match::Status(s) => s == status,
            Match::Any => true,
        })
        .expect("the last entry matches everything")
}

/// Every entry, in table order (the report lists problems in this order).
pub fn all() -> impl Iterator<Item = &'static Advice> {
    ADVICE.iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_reasons_get_their_advice() {
        let cases = [
            (
                Status::NotAdded,
                "user does not exist in this portal or belongs to another organization",
                "user does not exist or is not visible",
            ),
            (
                Status::NotAdded,
                "user is in another organization",
                "user is in another organization",
            ),
            (
                Status::NotAdded,
                "no member of this organization has the e-mail 'a@b.c'",
                "no member has this e-mail address",
            ),
            (
                Status::Failed,
                "2 groups are titled 'X'; use group_id",
                "several groups have this title",
            ),
            (
                Status::NotRemoved,
                "sync guard: 15 of 31 members would be removed (limit 5)",
                "sync guard tripped",
            ),
            (
                Status::Failed,
                "run stopped: the portal kept failing: 503",
                "the run stopped",
            ),
            (Status::NotAttempted, "run interrupted", "run interrupted"),
            (
                Status::Invalid,
                "username 'a b' contains whitespace",
                "invalid roster row",
            ),
            (
                Status::Failed,
                "the group was created and its members added, but it could not be handed to its owner: no",
                "group not handed to its owner",
            ),
            (Status::Failed, "something new", "other"),
        ];
        for (status, reason, problem) in cases {
            assert_eq!(advice_for(status, reason).problem, problem, "{reason}");
        }
    }

    #[test]
    fn the_readme_uses_the_same_wording() {
        // Markdown's code spans aside, the same words.
        let readme = include_str!("../../README.md")
            .replace('\n', " ")
            .replace('`', "");
        for advice in all().filter(|a| a.matches != Match::Any) {
            assert!(
                readme.contains(advice.action),
                "README lacks the action for {:?}: {}",
                advice.problem,
                advice.action
            );
        }
    }
}
