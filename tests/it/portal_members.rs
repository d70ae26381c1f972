//! A group's members through the paged `community/groups/{id}/userList` (reference §9): every
//! page is read, 100 at a time, following `nextStart`; the deprecated `…/users` listing, which
//! some portals silently cap, is never asked; a list that does not advance is an error, not an
//! endless loop.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::support::mock_portal::{MockPortal, Reply};
use bulk_groups::portal::{ClientOptions, Credentials, PortalClient, PortalUrl, RateSetting};
use secrecy::SecretString;
use serde_json::json;

async fn client_for(mock: &MockPortal) -> PortalClient {
    let options = ClientOptions {
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retries: 0,
        concurrency: NonZeroUsize::new(4).unwrap(),
        rate: RateSetting::Fixed(NonZeroU32::new(1000).unwrap()),
        ..ClientOptions::default()
    };
    let key = Credentials::Token(SecretString::from("key"));
    PortalClient::connect(PortalUrl::parse(&mock.url).unwrap(), key, options)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_page_of_the_user_list_is_read() {
    // An owner, 9 managers and 240 members: three pages of at most 100.
    let all: Vec<(String, &str)> = std::iter::once(("boss".to_owned(), "owner"))
        .chain((1..10).map(|i| (format!("adm{i}"), "admin")))
        .chain((1..=240).map(|i| (format!("m{i:03}"), "member")))
        .collect();
    let mock = MockPortal::start(move |s, _| {
        if !s.endpoint.ends_with("/userList") {
            return Reply::html(404, "<html>not here</html>");
        }
        let start: usize = s.param("start").unwrap().parse().unwrap();
        let num: usize = s.param("num").unwrap().parse().unwrap();
        let page: Vec<_> = all
            .iter()
            .skip(start - 1)
            .take(num)
            .map(|(u, t)| json!({"username": u, "memberType": t, "joined": 1}))
            .collect();
        let next = if start - 1 + num < all.len() {
            (start + num) as i64
        } else {
            -1
        };
        Reply::json(
            json!({"owner": "boss", "total": all.len(), "start": start, "num": num,
            "nextStart": next, "users": page}),
        )
    })
    .await;
    let members = client_for(&mock).await.group_members("g1").await.unwrap();
    assert_eq!(members.owner, "boss");
    assert_eq!(members.admins.len(), 9);
    assert_eq!(members.users.len(), 240);
    let pages: Vec<(String, String)> = mock
        .seen()
        .iter()
        .map(|s| {
            assert_eq!(s.endpoint, "community/groups/g1/userList");
            (
                s.param("start").unwrap().into(),
                s.param("num").unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = ["1", "101", "201"]
        .iter()
        .map(|start| ((*start).to_owned(), "100".to_owned()))
        .collect();
    assert_eq!(pages, expected);
}

#[tokio::test]
async fn a_member_list_that_does_not_advance_is_an_error() {
    let mock = MockPortal::start(|_, _| {
        Reply::json(json!({"owner": "boss", "nextStart": 1,
            "users": [{"username": "boss", "memberType": "owner"}]}))
    })
    .await;
    let error = client_for(&mock)
        .await
        .group_members("g1")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("does not advance"), "{error}");
    assert_eq!(mock.seen().len(), 1);
}
