//! The process exit codes of `bulk-groups` (product spec §6) and the rule that picks one when
//! several conditions hold at once.

use std::fmt;

/// How a run ended, as a scheduler sees it. The numeric values are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Exit {
    /// Every row is `added`, `already_member`, `duplicate`, `removed` or `would_*`.
    Success,
    /// The run finished, but some rows need attention (or the sync guard tripped).
    RowsNeedAttention,
    /// Usage error, unreadable roster, missing credentials: nothing was written to the portal.
    Usage,
    /// Authentication or permission failure of the run as a whole.
    Auth,
    /// The portal could not be reached or kept failing; the run stopped early.
    PortalUnavailable,
    /// Another run holds the lock for this results file.
    Locked,
    /// Interrupted by SIGINT, SIGTERM or `--max-duration`.
    Interrupted,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::RowsNeedAttention => 1,
            Exit::Usage => 2,
            Exit::Auth => 3,
            Exit::PortalUnavailable => 4,
            Exit::Locked => 5,
            Exit::Interrupted => 130,
        }
    }

    /// Rank in "when several apply, the first in this order wins: 130, 5, 2, 3, 4, 1" (lower wins).
    fn precedence(self) -> u8 {
        match self {
            Exit::Interrupted => 0,
            Exit::Locked => 1,
            Exit::Usage => 2,
            Exit::Auth => 3,
            Exit::PortalUnavailable => 4,
            Exit::RowsNeedAttention => 5,
            Exit::Success => 6,
        }
    }

    /// The exit that wins when both `self` and `other` apply.
    pub fn worst(self, other: Exit) -> Exit {
        if other.precedence() < self.precedence() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit::*;

    #[test]
    fn precedence_follows_the_spec_order() {
        let order = [
            Interrupted,
            Locked,
            Usage,
            Auth,
            PortalUnavailable,
            RowsNeedAttention,
            Success,
        ];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(a.worst(*b), *a, "{a:?} vs {b:?}");
                assert_eq!(b.worst(*a), *a, "{b:?} vs {a:?}");
            }
        }
    }

    #[test]
    fn codes_are_the_documented_numbers() {
        let codes: Vec<u8> = [
            Success,
            RowsNeedAttention,
            Usage,
            Auth,
            PortalUnavailable,
            Locked,
            Interrupted,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 130]);
    }
}
