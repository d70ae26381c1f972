//! portal-sim conformance for the fault and pacing knobs, and for the counters that record
//! them. Timing bounds are deliberately generous: the machine running these is small and shared.

use std::time::{Duration, Instant};

use crate::support::sim_client::{Sim, config, decode, start};
use bulk_groups::sim::{SeedGroup, SimConfig};
use serde_json::json;

fn with(config_change: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = config();
    c.initial_groups = vec![SeedGroup::new("Crew", "admin")];
    config_change(&mut c);
    c
}

async fn info(s: &Sim) -> crate::support::sim_client::Reply {
    decode(
        s.http
            .get(s.rest("info"))
            .query(&[("f", "json")])
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn rate_limit_accepts_about_n_per_second() {
    let s = start(with(|c| c.rate_limit = Some(20))).await;
    let started = Instant::now();
    let (mut accepted, mut throttled) = (0u64, 0u64);
    while started.elapsed() < Duration::from_millis(2500) {
        let r = info(&s).await;
        match r.status.as_u16() {
            200 => accepted += 1,
            429 => {
                throttled += 1;
                assert_eq!(r.headers["retry-after"], "1");
                assert_eq!(r.body["error"]["code"], 429);
            }
            other => panic!("unexpected status {other}"),
        }
        if throttled > 0 {
            // Don't spin: a few probes per window are enough to see the limit.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // A sliding one-second window admits at most 20 per second (+20 for the window open at
    // the end), and a steady client gets close to that.
    assert!(
        (accepted as f64) <= 20.0 * (secs + 1.0),
        "{accepted} in {secs:.1}s"
    );
    assert!(accepted >= 40, "only {accepted} accepted in {secs:.1}s");
    assert!(throttled > 0);
    let stats = s.sim.stats();
    assert_eq!(stats.throttled_429, throttled);
    assert_eq!(stats.total, accepted + throttled);
}

#[tokio::test]
async fn no_retry_after_removes_the_header() {
    let s = start(with(|c| {
        c.rate_limit = Some(1);
        c.no_retry_after = true;
    }))
    .await;
    assert_eq!(info(&s).await.status.as_u16(), 200);
    let r = info(&s).await;
    assert_eq!(r.status.as_u16(), 429);
    assert!(r.headers.get("retry-after").is_none());
    assert_eq!(r.body["error"]["code"], 429);
}

#[tokio::test]
async fn max_in_flight_is_enforced() {
    let s = start(with(|c| {
        c.max_in_flight = Some(2);
        c.latency = Duration::from_millis(1500);
    }))
    .await;
    let requests = (0..8).map(|_| info(&s));
    let replies = futures::future::join_all(requests).await;
    let ok = replies.iter().filter(|r| r.status.as_u16() == 200).count();
    let throttled = replies.iter().filter(|r| r.status.as_u16() == 429).count();
    assert_eq!(ok + throttled, 8);
    assert!(throttled >= 1, "nothing throttled");
    assert!(ok >= 1, "nothing served");
    let stats = s.sim.stats();
    assert_eq!(stats.throttled_429, throttled as u64);
    assert!(stats.max_in_flight >= 3, "{stats:?}");
}

#[tokio::test]
async fn latency_delays_responses_but_not_sim_endpoints() {
    let s = start(with(|c| {
        c.latency = Duration::from_millis(1000);
        c.jitter = Duration::from_millis(100);
    }))
    .await;
    let t0 = Instant::now();
    assert_eq!(info(&s).await.status.as_u16(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(1000));
    let t1 = Instant::now();
    let stats = s
        .http
        .get(format!("{}/__sim/stats", s.sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status().as_u16(), 200);
    // Exempt from latency (bound generous for a busy machine).
    assert!(
        t1.elapsed() < Duration::from_millis(900),
        "{:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn fail_rate_answers_5xx_without_applying() {
    let s = start(with(|c| c.fail_rate = 1.0)).await;
    let id = s.sim.state().groups[0].id.clone();
    // Every request fails, even the sign-in, so use a fake token: nothing is applied anyway.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let r = s.add_users("whatever", &id, "alice").await;
        let status = r.status.as_u16();
        assert!([500, 502, 503].contains(&status), "{status}");
        let ct = r.headers["content-type"].to_str().unwrap().to_owned();
        if status == 500 {
            assert_eq!(r.body["error"]["code"], 500);
        } else {
            assert!(ct.starts_with("text/html"), "{ct}");
            assert!(r.text.contains(&status.to_string()));
        }
        seen.insert(status);
    }
    assert_eq!(seen.len(), 3, "all of 500/502/503 appear: {seen:?}");
    assert!(s.sim.state().groups[0].users.is_empty());
    let stats = s.sim.stats();
    assert_eq!((stats.faults_5xx, stats.writes, stats.total), (30, 0, 30));
}

#[tokio::test]
async fn fail_rate_fraction_is_roughly_right() {
    let s = start(with(|c| c.fail_rate = 0.3)).await;
    let mut failed = 0;
    for _ in 0..200 {
        if info(&s).await.status.as_u16() != 200 {
            failed += 1;
        }
    }
    assert!((25..=100).contains(&failed), "{failed} of 200");
    assert_eq!(s.sim.stats().faults_5xx, failed);
}

#[tokio::test]
async fn drop_rate_applies_the_write_then_closes_the_connection() {
    let s = start(with(|c| c.drop_rate = 1.0)).await;
    let t = s.admin().await; // reads are never dropped
    let id = s.sim.state().groups[0].id.clone();
    let result = s
        .http
        .post(s.rest(&format!("community/groups/{id}/addUsers")))
        .form(&[("f", "json"), ("token", &t), ("users", "alice")])
        .send()
        .await;
    let err = result.expect_err("a dropped write must not produce a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // Applied nonetheless.
    assert_eq!(s.sim.state().groups[0].users, vec!["alice"]);
    // Reads still work on a new connection.
    assert_eq!(
        s.get("community/self", Some(&t), &[]).await.body["username"],
        "admin"
    );
    let stats = s.sim.stats();
    assert_eq!((stats.dropped, stats.writes), (1, 1));
    assert_eq!(stats.by_endpoint["addUsers"], 1);
}

#[tokio::test]
async fn drop_rate_over_tls_too() {
    let s = start(with(|c| {
        c.drop_rate = 1.0;
        c.tls = true;
    }))
    .await;
    let ca = reqwest::Certificate::from_pem(s.sim.ca_pem.as_ref().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .post(format!("{}/sharing/rest/generateToken", s.sim.url))
        .form(&[
            ("f", "json"),
            ("username", "admin"),
            ("password", "admin-password"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = token["token"].as_str().unwrap();
    let id = s.sim.state().groups[0].id.clone();
    let result = http
        .post(format!(
            "{}/sharing/rest/community/groups/{id}/addUsers",
            s.sim.url
        ))
        .form(&[("f", "json"), ("token", t), ("users", "bob")])
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(s.sim.state().groups[0].users, vec!["bob"]);
}

#[tokio::test]
async fn token_ttl_expires_tokens_with_498() {
    let s = start(with(|c| c.token_ttl = Duration::from_secs(1))).await;
    let r = s
        .post(
            "generateToken",
            None,
            &[("username", "admin"), ("password", "admin-password")],
        )
        .await;
    let t = r.body["token"].as_str().unwrap().to_owned();
    let expires = r.body["expires"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(expires <= now + 1500, "expires reflects the ttl");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = s.post("community/self", Some(&t), &[]).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":498,"message":"Invalid token.","details":[]}})
    );
}

#[tokio::test]
async fn errors_as_status_uses_498_and_499_as_statuses() {
    let s = start(with(|c| c.errors_as_status = true)).await;
    let missing = s.post("community/self", None, &[]).await;
    assert_eq!(
        (missing.status.as_u16(), missing.error_code()),
        (499, Some(499))
    );
    let bad = s.post("community/self", Some("nope"), &[]).await;
    assert_eq!((bad.status.as_u16(), bad.error_code()), (498, Some(498)));
}

#[tokio::test]
async fn concurrent_writes_are_all_counted() {
    let s = start(with(|c| c.seed_users = 200)).await;
    let t = s.admin().await;
    let id = s.sim.state().groups[0].id.clone();
    let calls = (0..8).map(|i| {
        let names = crate::support::sim_client::seed_names(1 + i * 25, 25);
        let s = &s;
        let t = t.clone();
        let id = id.clone();
        async move { s.add_users(&t, &id, &names).await }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.body, json!({"notAdded": []}));
    }
    let stats = s.sim.stats();
    assert_eq!(stats.writes, 8);
    assert_eq!(stats.total, 9);
    assert!(stats.max_in_flight >= 1);
    assert_eq!(s.sim.state().groups[0].users.len(), 200);
}
