//! Pacing benchmark against the simulator (ignored by default: it runs for about a minute).
//! Measures the product targets of spec §8: with the portal's limit known (`--rate` at the
//! limit) ≥ 95 % utilisation and < 1 % throttled; with `--rate auto` and an unknown limit
//! ≥ 85 % and < 5 %, and ≥ 80 % (< 5 % throttled) when 3 % of replies are 5xx and 1 % of
//! writes are dropped. Utilisation: calls that succeeded within the measured window, per second,
//! over the limit (retries are the cost of faults).
//!
//! `cargo test --release --test it portal_pacing_bench -- --ignored --nocapture`
//! (`BENCH_SECONDS` changes the length of each run, default 20).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use bulk_groups::portal::{ClientOptions, Credentials, PortalClient, PortalUrl, RateSetting};
use bulk_groups::portal::{NewGroup, Role};
use bulk_groups::sim::{RunningSim, SimConfig};
use secrecy::SecretString;

struct Outcome {
    utilisation: f64,
    throttled_share: f64,
    final_rate: f64,
}

/// Server faults: the share of replies that are 5xx, of writes whose connection is dropped.
#[derive(Clone, Copy)]
struct Faults {
    fail_rate: f64,
    drop_rate: f64,
}

const CLEAN: Faults = Faults {
    fail_rate: 0.0,
    drop_rate: 0.0,
};

async fn run(
    limit: u32,
    latency: Duration,
    rate: RateSetting,
    faults: Faults,
    seconds: u64,
) -> Outcome {
    let sim = RunningSim::start(SimConfig {
        rate_limit: Some(limit),
        latency,
        fail_rate: faults.fail_rate,
        drop_rate: faults.drop_rate,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = PortalClient::connect(
        PortalUrl::parse(&sim.url).unwrap(),
        Credentials::Password {
            username: "admin".into(),
            password: SecretString::from("admin-password"),
        },
        ClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 6,
            concurrency: NonZeroUsize::new(16).unwrap(),
            rate,
            ca_cert: None,
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    // Half reads, half writes (addUsers of the owner: idempotent, and subject to drops).
    let group = client
        .create_group("Bench", &NewGroup::default())
        .await
        .unwrap()
        .id;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, group) = (client.clone(), group.clone());
        workers.push(tokio::spawn(async move {
            let (mut ok, mut sent) = (0u64, 0u64);
            while Instant::now() < deadline {
                sent += 1;
                let done = if sent.is_multiple_of(2) {
                    client.portal_self().await.map(drop)
                } else {
                    client
                        .add_users(&group, Role::Member, &["admin".to_owned()])
                        .await
                        .map(drop)
                };
                // Counted when it succeeded within the measured window: a call that ends
                // later (held by a pause at the very end) is outside it. A call can still fail
                // after its retries (a write dropped every time); it simply does not count.
                ok += u64::from(done.is_ok() && Instant::now() <= deadline);
            }
            ok
        }));
    }
    if std::env::var_os("BENCH_TRACE").is_some() {
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let c = client.stats();
            println!(
                "{:6.2}s rate {:6.1} sent {:6} throttled {:4}",
                started.elapsed().as_secs_f64(),
                c.current_rate.unwrap_or(0.0),
                c.total_requests(),
                c.throttled
            );
        }
    }
    let mut ok = 0;
    for w in workers {
        ok += w.await.unwrap();
    }
    let elapsed = seconds as f64;
    let stats = sim.stats();
    Outcome {
        utilisation: ok as f64 / (elapsed * f64::from(limit)),
        throttled_share: stats.throttled_429 as f64 / stats.total as f64,
        final_rate: client.stats().current_rate.unwrap_or(0.0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; about a minute"]
async fn pacing_meets_the_utilisation_targets() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let latency = Duration::from_millis(50);
    let fixed = RateSetting::Fixed(NonZeroU32::new(100).unwrap());
    let faulty = Faults {
        fail_rate: 0.03,
        drop_rate: 0.01,
    };
    let mut results = Vec::new();
    for (name, rate, faults) in [
        ("fixed 100", fixed, CLEAN),
        ("auto", RateSetting::Auto, CLEAN),
        ("auto, 3 % 5xx + 1 % dropped", RateSetting::Auto, faulty),
    ] {
        let outcome = run(100, latency, rate, faults, seconds).await;
        println!(
            "{name} vs limit 100: utilisation {:.1} %, throttled {:.2} %, final rate {:.1}",
            outcome.utilisation * 100.0,
            outcome.throttled_share * 100.0,
            outcome.final_rate
        );
        results.push(outcome);
    }
    let [fixed, auto, auto_faults] = &results[..] else {
        unreachable!("three cases")
    };
    assert!(fixed.utilisation >= 0.95 && fixed.throttled_share < 0.01);
    assert!(auto.utilisation >= 0.85 && auto.throttled_share < 0.05);
    assert!(auto_faults.utilisation >= 0.8 && auto_faults.throttled_share < 0.05);
}
