//! Load generator for portal-sim's addUsers throughput (ignored by default; a measurement,
//! not a check). Target: ≥ 5,000 addUsers requests/s with no latency or faults.
//!
//! ```text
//! # in-process simulator (client and server share the machine and the runtime):
//! cargo test --release --test it sim_load -- --ignored --nocapture
//! # against a running binary (see scripts/bench-sim.sh):
//! PORTAL_SIM_URL=http://127.0.0.1:PORT cargo test --release --test it sim_load -- --ignored --nocapture
//! ```
//! Knobs: `LOAD_SECS` (default 5), `LOAD_CONCURRENCY` (default 64), `LOAD_BATCH` (names per
//! call, default 25). Users `user000001…` must exist (`--seed-users 5000` for the binary).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bulk_groups::sim::SimConfig;

use crate::support::sim_client::{SimAt, client_builder};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load measurement; run explicitly with --release"]
async fn add_users_throughput() {
    let secs = env_num("LOAD_SECS", 5);
    let concurrency = env_num("LOAD_CONCURRENCY", 64) as usize;
    let batch = env_num("LOAD_BATCH", 25) as usize;
    let (_sim, url) = match std::env::var("PORTAL_SIM_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let s = crate::support::sim_client::start(SimConfig {
                seed_users: 5000,
                group_limit: 100_000,
                ..SimConfig::default()
            })
            .await;
            let url = s.sim.url.clone();
            (Some(s), url)
        }
    };
    let portal = SimAt {
        url,
        http: client_builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .unwrap(),
    };
    let token = portal.admin().await;
    let mut groups = Vec::new();
    for i in 0..20 {
        let title = format!("Load {i} {}", std::process::id());
        groups.push(portal.create_group(&token, &title, "private").await);
    }
    let (http, rest) = (portal.http.clone(), format!("{}/sharing/rest", portal.url));
    let batches: Vec<String> = (0..200)
        .map(|b| crate::support::sim_client::seed_names(1 + b * batch % 4975, batch))
        .collect();

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, rest, token) = (http.clone(), rest.clone(), token.clone());
        let (groups, batches) = (groups.clone(), batches.clone());
        let (ok, failed) = (ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let group = &groups[i % groups.len()];
                let users = &batches[i % batches.len()];
                i += concurrency;
                let r = http
                    .post(format!("{rest}/community/groups/{group}/addUsers"))
                    .form(&[("f", "json"), ("token", &token), ("users", users)])
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        if body.starts_with(b"{\"notAdded\"") {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "addUsers: {ok} ok, {failed} failed in {elapsed:.2}s = {:.0} req/s \
         (concurrency {concurrency}, {batch} names per call, {})",
        ok as f64 / elapsed,
        if _sim.is_some() {
            "in-process simulator"
        } else {
            "external simulator"
        }
    );
    assert_eq!(failed, 0);
}
