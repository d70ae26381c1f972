//! portal-sim as a program and over TLS: the first stdout line, `--cert-out` trust, and
//! `--state-out` written on SIGTERM (subprocess tests on the built binary).

use std::process::Stdio;
use std::time::Duration;

use crate::support::sim_client::SimAt;
use bulk_groups::sim::SimConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the binary with `args` and returns it with its portal URL (from the first line).
async fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn portal-sim");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("first line in time")
        .unwrap()
        .expect("a first line");
    let url = first
        .strip_prefix("portal-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (child, url)
}

async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap()
}

#[tokio::test]
async fn binary_prints_url_and_writes_state_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "username,role\nmember_username1,\nboss,org_admin\n").unwrap();
    let state_out = dir.path().join("state.json");
    let (child, url) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "root:pw",
        "--users",
        users.to_str().unwrap(),
        "--state-out",
        state_out.to_str().unwrap(),
    ])
    .await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);

    let portal = SimAt {
        url: url.clone(),
        http: crate::support::sim_client::client(),
    };
    let token = portal.token("root", "pw").await;
    let id = portal.create_group(&token, "From Binary", "private").await;
    portal.add_users(&token, &id, "member_username1").await;
    drop(portal); // close keep-alive connections

    let status = terminate(child).await;
    assert!(status.success(), "{status:?}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_out).expect("state written")).unwrap();
    assert_eq!(state["groups"][0]["title"], "From Binary");
    assert_eq!(
        state["groups"][0]["users"],
        serde_json::json!(["member_username1"])
    );
    assert_eq!(state["users"][0]["username"], "root");
    assert_eq!(state["users"][2]["role"], "org_admin");
}

#[tokio::test]
async fn binary_tls_with_cert_out() {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    let (child, url) = spawn(&[
        "--tls",
        "--cert-out",
        ca_file.to_str().unwrap(),
        "--tls-name",
        "portal.test",
    ])
    .await;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_file).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let info: serde_json::Value = http
        .get(format!("{url}/sharing/rest/info?f=json"))
        .send()
        .await
        .expect("TLS handshake with the --cert-out CA")
        .json()
        .await
        .unwrap();
    assert_eq!(info["authInfo"]["isTokenBasedSecurity"], true);
    // The same name via localhost works too (SAN).
    let port = url.rsplit(':').next().unwrap();
    let via_localhost = http
        .get(format!("https://localhost:{port}/sharing/rest/info?f=json"))
        .send()
        .await;
    assert!(via_localhost.is_ok(), "{via_localhost:?}");
    drop(http);
    assert!(terminate(child).await.success());
}

#[tokio::test]
async fn in_process_tls_trusts_only_its_ca() {
    let s = crate::support::sim_client::start(SimConfig {
        tls: true,
        ..crate::support::sim_client::config()
    })
    .await;
    assert!(s.sim.url.starts_with("https://127.0.0.1:"));
    let pem = s.sim.ca_pem.clone().expect("CA PEM");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = trusting
        .post(format!("{}/sharing/rest/generateToken", s.sim.url))
        .form(&[
            ("f", "json"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ])
        .send()
        .await
        .expect("trusted connection");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ssl"], true);
    // A client with the default roots refuses the certificate.
    let default = crate::support::sim_client::client();
    let refused = default
        .get(format!("{}/sharing/rest/info?f=json", s.sim.url))
        .send()
        .await;
    assert!(refused.is_err());
    // Plain HTTP to the TLS port is no portal.
    let plain = default
        .get(s.sim.url.replace("https://", "http://").to_string() + "/sharing/rest/info?f=json")
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
}
