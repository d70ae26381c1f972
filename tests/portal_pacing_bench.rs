//! Pacing benchmark against the simulator (ignored by default: it runs for about a minute).
//! Measures the product targets of spec §8: with the portal's limit known (`--rate` at the
//! limit) ≥ 90 % utilisation and < 1 % throttled; with `--rate auto` and an unknown limit
//! ≥ 80 % and < 5 %.
//!
//! `cargo test --release --test portal_pacing_bench -- --ignored --nocapture`
//! (`BENCH_SECONDS` changes the length of each run, default 20).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use bulk_groups::portal::{ClientOptions, Credentials, PortalClient, PortalUrl, RateSetting};
use bulk_groups::sim::{RunningSim, SimConfig};
use secrecy::SecretString;

struct Outcome {
    utilisation: f64,
    throttled_share: f64,
    final_rate: f64,
}

async fn run(limit: u32, latency: Duration, rate: RateSetting, seconds: u64) -> Outcome {
    let sim = RunningSim::start(SimConfig {
        rate_limit: Some(limit),
        latency,
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
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..16 {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            let mut ok = 0u64;
            while Instant::now() < deadline {
                client.portal_self().await.unwrap();
                ok += 1;
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
    let elapsed = started.elapsed().as_secs_f64();
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
    let fixed = run(
        100,
        latency,
        RateSetting::Fixed(NonZeroU32::new(100).unwrap()),
        seconds,
    )
    .await;
    println!(
        "fixed 100 vs limit 100: utilisation {:.1} %, throttled {:.2} %",
        fixed.utilisation * 100.0,
        fixed.throttled_share * 100.0
    );
    let auto = run(100, latency, RateSetting::Auto, seconds).await;
    println!(
        "auto vs limit 100: utilisation {:.1} %, throttled {:.2} %, final rate {:.1}",
        auto.utilisation * 100.0,
        auto.throttled_share * 100.0,
        auto.final_rate
    );
    assert!(fixed.utilisation >= 0.9 && fixed.throttled_share < 0.01);
    assert!(auto.utilisation >= 0.8 && auto.throttled_share < 0.05);
}
