//! The request pipeline under faults, end to end against the simulator: tokens that expire
//! while requests wait or back off, and a portal that throttles everything. Each test fails
//! without the behaviour it names.

mod support;

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use bulk_groups::exit::Exit;
use bulk_groups::portal::RateSetting;
use support::*;

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
