//! The portal's in-memory state — orgs, users, groups, invitations — and every rule that
//! changes or reveals it: permissions, the group limit, title uniqueness, the 25-name cap,
//! visibility, search lag, the realism switches that change a rule.
//!
//! By concern, each file depending only on those above it in this list:
//!
//! | module | role |
//! |---|---|
//! | `model` | the data and its invariants (membership counts, the title index) |
//! | `access` | who may see and change what: groups, accounts, invitations |
//! | `views` | the JSON shapes the API returns, and the `/__sim/state` document |
//! | `reads` | queries: every endpoint that changes nothing |
//! | `writes` | mutations with their rules |
//!
//! Everything here is synchronous and runs under one short `std::sync::Mutex` lock held by the
//! caller (`app`); nothing awaits while holding it. Operations return the JSON
//! document of the response or an [`ApiError`](super::wire::ApiError), so the HTTP layer only
//! formats.

mod access;
mod model;
mod reads;
mod views;
mod writes;

pub use model::{HOME_ORG_ID, MAX_NAMES_PER_CALL, Portal};
pub use reads::Listing;
pub use views::{GroupState, StateSnapshot, UserState};
pub use writes::Answer;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sim::config::{SimConfig, SimUser};
    use crate::sim::wire::Params;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn portal(users: &[&str], limit: u32) -> Portal {
        Portal::new(&SimConfig {
            users: users.iter().map(|u| SimUser::new(*u)).collect(),
            group_limit: limit,
            ..SimConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn create_add_remove_delete_keep_counts() {
        let mut p = portal(&["a", "b"], 2);
        let v = p
            .create_group(
                Some("admin"),
                &params(&[("title", "G1 "), ("access", "org")]),
            )
            .unwrap();
        let id = v["group"]["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        assert_eq!(v["group"]["title"], "G1");
        let dup = p.create_group(Some("admin"), &params(&[("title", "g1")]));
        assert_eq!(dup.unwrap_err().message_code, Some("COM_0044"));
        let v = p
            .add_users(
                Some("admin"),
                &id,
                &params(&[("users", "a,A,zz"), ("admins", "b")]),
            )
            .unwrap();
        assert_eq!(v["notAdded"], json!(["A", "zz"]));
        assert_eq!(p.user("a").unwrap().groups, 1);
        let v = p
            .remove_users(Some("admin"), &id, &params(&[("users", "a,admin,zz")]))
            .unwrap();
        assert_eq!(v["notRemoved"], json!(["admin", "zz"]));
        assert_eq!(p.user("a").unwrap().groups, 0);
        p.delete_group(Some("admin"), &id).unwrap();
        assert_eq!(p.user("b").unwrap().groups, 0);
        assert_eq!(p.user("admin").unwrap().groups, 0);
        assert!(p.snapshot().groups.is_empty());
    }
}
