//! The request pipeline under faults, end to end against the simulator: tokens that expire
//! while requests wait or back off, cool-offs (429 or 403 "Too many requests" for everything,
//! without Retry-After), and a portal that throttles everything. Each test fails without the
//! behaviour it names.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::support::mock_portal::{MockPortal, Reply};
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::portal::{Credentials, PortalUrl, RateSetting};
use bulk_groups::sim::ThrottleStatus;
use secrecy::SecretString;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_survive_gateway_errors_and_waits_in_line() {
    // Tokens live 2 s; 32 requests queue at 20 req/s, so a request waits ~1.6 s for its turn
    // and a retry backs off on top: a token taken before the wait would be stale when sent.
    let scenario = Scenario::new(40, 30, |c| {
        c.token_ttl = Duration::from_secs(2);
        c.fail_rate = 0.03;
        c.seed = 11;
    })
    .await;
    let (sim, users) = (&scenario.sim, &scenario.users);
    let mut config = scenario.config();
    config.client.rate = RateSetting::Fixed(NonZeroU32::new(20).unwrap());
    config.client.concurrency = NonZeroUsize::new(32).unwrap();
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    let stats = sim.stats();
    assert!(stats.faults_5xx > 0, "the knob injected faults: {stats:?}");
    assert!(stats.tokens_issued >= 3, "several tokens: {stats:?}");
    for g in 1..=40 {
        assert_eq!(&members_of(sim, &format!("Course {g:03}")).0, users);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_that_throttles_everything_ends_the_run_with_exit_4_and_every_row_accounted_for() {
    // Signed in, then every group request is refused (429, Retry-After: 1) for good.
    let mock = MockPortal::start(|s, _| match s.endpoint.as_str() {
        "portals/self" => Reply::json(json!({
            "id": "ORG1", "portalName": "Mock", "portalMode": "multitenant",
            "user": {"username": "admin", "orgId": "ORG1", "role": "org_admin",
                     "privileges": ["portal:user:createGroup", "portal:admin:assignToGroups"]}
        })),
        "community/self" => Reply::json(json!({
            "username": "admin", "orgId": "ORG1", "role": "org_admin",
            "privileges": ["portal:user:createGroup", "portal:admin:assignToGroups"],
            "groups": []
        })),
        _ => Reply::status_json(
            429,
            json!({"error": {"code": 429, "message": "Too many requests.", "details": []}}),
        )
        .with_header("retry-after", "1"),
    })
    .await;
    let scenario = Scenario::new(3, 10, |_| {}).await;
    let mut config = scenario.config();
    config.portal = PortalUrl::parse(&mock.url).unwrap();
    config.credentials = Credentials::Token(SecretString::from("k"));
    // 2 s instead of 2 min; the 1 s Retry-After stretches it to 3 × 1 s.
    config.client.stall_limit = Duration::from_secs(2);
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::PortalUnavailable);
    let rows = read_results(&scenario.results);
    assert_eq!(by_line(&rows).len(), 30, "one results row per roster row");
    assert!(
        rows.iter().all(|r| r.status == "failed"),
        "{:?}",
        status_counts(&rows)
    );
    assert!(
        rows.iter()
            .all(|r| r.reason.contains("nothing has succeeded for 3 s")),
        "{:?}",
        rows[0].reason
    );
    // Throttled requests were waited out, not retried to exhaustion: none gave up on its
    // retry count, and the client kept to the portal's pauses.
    let refused = mock.count("community/groups");
    assert!(
        refused <= 4,
        "{refused} searches against a 1 s Retry-After over 3 s"
    );
}

/// An import against a portal whose limit of 20 req/s, once tripped, refuses everything for
/// 3 s with `status` (no Retry-After): the run pauses and probes instead of spending rows'
/// retries against the wall, resumes below the tripping rate, and completes.
async fn cool_off_is_waited_out(status: ThrottleStatus) {
    let scenario = Scenario::new(10, 100, |c| {
        c.rate_limit = Some(20);
        c.cool_off = Duration::from_secs(3);
        c.throttle_status = status;
    })
    .await;
    let (sim, users) = (&scenario.sim, &scenario.users);
    let mut config = scenario.config();
    // Six retries would not outlast a 3 s wall if each refusal spent one.
    config.client.retries = 2;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    for g in 1..=10 {
        assert_eq!(&members_of(sim, &format!("Course {g:03}")).0, users);
    }
    let stats = sim.stats();
    assert!(stats.throttled_429 > 0, "the limit tripped: {stats:?}");
    // Per cool-off: the requests in flight when it tripped (at most 8) and the refused probes
    // (1 s and 2 s after it: two). At most two cool-offs per run (spec §8) refuse at most 20.
    assert!(
        stats.throttled_429 <= 20,
        "requests sent against the wall: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cool_off_of_bare_429s_is_waited_out() {
    cool_off_is_waited_out(ThrottleStatus::TooManyRequests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cool_off_of_403_too_many_requests_is_waited_out_not_a_permission_failure() {
    cool_off_is_waited_out(ThrottleStatus::Forbidden).await;
}
