//! Errors that name the host (product spec §7): a host name that does not resolve, and a
//! TLS handshake answered in plain HTTP — each says which host, is not retried for a minute,
//! and stops the run with exit 4 before anything is written.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::bulk_groups_cmd;
use crate::support::*;
use bulk_groups::sim::SimConfig;

/// `bulk-groups import` of a one-row roster against `portal`, with a static token.
fn import_at(portal: &str, dir: &Workdir, extra: &[&str]) -> Output {
    let roster = dir.write("r.csv", "group,username\nLab,amy\n");
    import_cmd(portal, &roster, &dir.path("r.results.csv"))
        .args(extra)
        .output()
        .unwrap()
}

fn import_cmd(portal: &str, roster: &Path, results: &Path) -> Command {
    let mut cmd = bulk_groups_cmd();
    cmd.arg("import")
        .arg(roster)
        .args(["--portal", portal, "--progress", "never"])
        .arg("--results")
        .arg(results)
        .env("ARCGIS_TOKEN", "a-static-token");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_host_name_that_does_not_resolve_is_named_and_tried_twice_at_most() {
    // `.invalid` never resolves (RFC 2606): the lookup fails without any traffic to a portal.
    let dir = Workdir::new();
    let out = import_at("https://arcgsi.invalid", &dir, &[]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("the host name arcgsi.invalid could not be resolved"),
        "{text}"
    );
    assert!(
        text.contains("check the spelling of the portal URL"),
        "{text}"
    );
    assert!(
        text.contains("after 2 attempts"),
        "one retry, not six: {text}"
    );
    let rows = read_results(&dir.path("r.results.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "failed");
    assert!(rows[0].reason.contains("arcgsi.invalid"), "{:?}", rows[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_server_says_so_and_suggests_http_for_loopback() {
    let sim = start_sim(sim_config(&["amy"])).await;
    let server = sim.addr.to_string();
    // Given as https://…, and without a scheme (which means https://): both are understood,
    // and both get the same answer at once.
    for portal in [format!("https://{server}"), server.clone()] {
        let dir = Workdir::new();
        let out = import_at(&portal, &dir, &[]);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{portal}: {text}");
        assert!(
            text.contains(&format!("the server at {server} speaks plain HTTP")),
            "{portal}: {text}"
        );
        assert!(text.contains(&format!("give http://{server}")), "{text}");
        assert!(!text.contains("kept failing"), "not retried: {text}");
        assert!(!text.contains("InvalidContentType"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_without_a_scheme_is_https() {
    let sim = start_sim(SimConfig {
        tls: true,
        ..sim_config(&["amy"])
    })
    .await;
    let dir = Workdir::new();
    let ca = dir.write("ca.pem", sim.ca_pem.as_deref().unwrap());
    let roster = dir.write("r.csv", "group,username\nLab,amy\n");
    let out = import_cmd(&sim.addr.to_string(), &roster, &dir.path("r.results.csv"))
        .env_remove("ARCGIS_TOKEN")
        .args(["--username", "admin"])
        .env("ARCGIS_PASSWORD", "admin-password")
        .arg("--ca-cert")
        .arg(&ca)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(members_of(&sim, "Lab").0, ["amy"]);
}

#[test]
fn a_refused_connection_names_the_server() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = Workdir::new();
    let out = import_at(
        &format!("http://127.0.0.1:{port}"),
        &dir,
        &["--retries", "0"],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{text}"
    );
}
