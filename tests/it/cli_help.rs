//! The help a newcomer reads: `--help` of every command (snapshot-tested with insta, so a
//! change to a flag or its wording shows up in review), shell completions, the man page, and
//! the promise that `--help` never prints a secret from the environment.
//!
//! Snapshots live in `tests/it/snapshots/`. After an intended change, regenerate them with
//! `INSTA_UPDATE=always cargo test --test it cli_help` and review the diff before committing.

use std::process::{Command, Output};

/// Environment variables that would change the help output (clap prints the value of `env`
/// options) or that carry credentials.
const ARCGIS_VARS: [&str; 7] = [
    "ARCGIS_PORTAL",
    "ARCGIS_USERNAME",
    "ARCGIS_PASSWORD",
    "ARCGIS_API_KEY",
    "ARCGIS_TOKEN",
    "ARCGIS_TOKEN_FILE",
    "RUST_LOG",
];

fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for var in ARCGIS_VARS {
        cmd.env_remove(var);
    }
    cmd.env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

fn bulk_groups() -> Command {
    command(env!("CARGO_BIN_EXE_bulk-groups"))
}

fn portal_sim() -> Command {
    command(env!("CARGO_BIN_EXE_portal-sim"))
}

/// Run to completion; assert exit 0 and an empty stderr; return stdout.
fn stdout_of(mut cmd: Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run the binary");
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        status.success(),
        "{cmd:?} exited with {status}; stderr:\n{stderr}"
    );
    assert!(stderr.is_empty(), "{cmd:?} wrote to stderr:\n{stderr}");
    String::from_utf8(stdout).expect("help is UTF-8")
}

fn help(args: &[&str]) -> String {
    let mut cmd = bulk_groups();
    cmd.args(args).arg("--help");
    stdout_of(cmd)
}

#[test]
fn top_level_help() {
    let text = help(&[]);
    insta::assert_snapshot!("help", text);
}

#[test]
fn import_help() {
    let text = help(&["import"]);
    insta::assert_snapshot!("import_help", text);
}

#[test]
fn export_help() {
    let text = help(&["export"]);
    insta::assert_snapshot!("export_help", text);
}

#[test]
fn validate_help() {
    let text = help(&["validate"]);
    insta::assert_snapshot!("validate_help", text);
}

#[test]
fn demo_help() {
    let text = help(&["demo"]);
    insta::assert_snapshot!("demo_help", text);
}

#[test]
fn completions_help() {
    let text = help(&["completions"]);
    insta::assert_snapshot!("completions_help", text);
}

#[test]
fn man_help() {
    let text = help(&["man"]);
    insta::assert_snapshot!("man_help", text);
}

#[test]
fn portal_sim_help() {
    let mut cmd = portal_sim();
    cmd.arg("--help");
    let text = stdout_of(cmd);
    insta::assert_snapshot!("portal_sim_help", text);
}

/// Every subcommand says what it is for in one line, and shows at least one example.
#[test]
fn every_subcommand_has_a_purpose_and_an_example() {
    let top = help(&[]);
    for sub in ["import", "validate", "export", "demo", "completions", "man"] {
        let line = top
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{sub} ")))
            .unwrap_or_else(|| panic!("`{sub}` is not listed in the top-level help:\n{top}"));
        assert!(
            line.len() > sub.len() + 10,
            "`{sub}` has no one-line purpose: {line:?}"
        );
        let text = help(&[sub]);
        assert!(
            text.contains(&format!("bulk-groups {sub}")),
            "`{sub} --help` shows no example:\n{text}"
        );
    }
}

/// `import --help` groups its options under headings a newcomer can scan.
#[test]
fn import_options_are_grouped() {
    let text = help(&["import"]);
    for heading in ["Connection:", "Import:", "Pacing:", "Roster:", "Output:"] {
        assert!(
            text.lines().any(|l| l == heading),
            "no {heading} heading in import --help:\n{text}"
        );
    }
}

#[test]
fn completions_for_every_common_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let mut cmd = bulk_groups();
        cmd.args(["completions", shell]);
        let script = stdout_of(cmd);
        assert!(
            script.len() > 200,
            "{shell}: suspiciously short script:\n{script}"
        );
        assert!(
            script.contains("bulk-groups"),
            "{shell}: the script does not mention bulk-groups"
        );
        assert!(
            script.contains("dry-run"),
            "{shell}: the script does not complete import's options"
        );
    }
}

/// What bash offers for `words` with the cursor on the last one, through the script
/// `bulk-groups completions bash` prints, loaded in a real bash as a user's shell loads it.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let mut cmd = bulk_groups();
    cmd.args(["completions", "bash"]);
    let script = stdout_of(cmd);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk-groups.bash");
    std::fs::write(&path, script).unwrap();
    // The function the script registers for `bulk-groups`, called as bash calls it: the
    // command, the word being completed and the one before it, COMP_WORDS/COMP_CWORD set.
    let driver = r#"
        source "$1"; shift
        spec=$(complete -p bulk-groups) || exit 3
        fn=${spec#*-F }; fn=${fn%% *}
        COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
        "$fn" bulk-groups "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", driver, "bash"])
        .arg(&path)
        .args(words)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// clap-rs/clap#6421: with a hyphenated binary name, nothing completed after a subcommand.
#[test]
fn bash_completes_subcommands_and_their_flags() {
    assert_eq!(bash_completes(&["bulk-groups", "imp"]), ["import"]);
    assert_eq!(
        bash_completes(&["bulk-groups", "import", "--dry"]),
        ["--dry-run"]
    );
    assert_eq!(
        bash_completes(&["bulk-groups", "import", "r.csv", "--log-f"]),
        ["--log-format"]
    );
    let mut formats = bash_completes(&["bulk-groups", "import", "--log-format", ""]);
    formats.sort();
    assert_eq!(formats, ["json", "text"]);
    assert_eq!(
        bash_completes(&["bulk-groups", "validate", "--enc"]),
        ["--encoding"]
    );
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = bulk_groups()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn each_subcommand_has_its_own_man_page() {
    let mut cmd = bulk_groups();
    cmd.args(["man", "import"]);
    let page = stdout_of(cmd);
    assert!(
        page.contains("bulk-groups-import"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(
        page.contains("max\\-removals"),
        "the import page documents its options"
    );
    let out = bulk_groups().args(["man", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_is_roff() {
    let mut cmd = bulk_groups();
    cmd.arg("man");
    let page = stdout_of(cmd);
    assert!(
        page.starts_with(".TH") || page.starts_with(".ie"),
        "not roff:\n{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("bulk-groups"));
    assert!(
        page.contains("import"),
        "the man page does not list the import command"
    );
}

/// Secrets in the environment never show up in any help text (clap prints the values of
/// options bound to environment variables; no secret may be such an option).
#[test]
fn help_never_shows_secret_values() {
    let secrets = [
        ("ARCGIS_PASSWORD", "supersecret"),
        ("ARCGIS_API_KEY", "supersecret-api-key"),
        ("ARCGIS_TOKEN", "supersecret-token"),
        ("ARCGIS_TOKEN_FILE", "/run/secrets/supersecret-token-file"),
    ];
    for args in [
        &[][..],
        &["import"],
        &["validate"],
        &["export"],
        &["demo"],
        &["completions"],
        &["man"],
    ] {
        let mut cmd = bulk_groups();
        cmd.args(args).arg("--help");
        for (var, value) in secrets {
            cmd.env(var, value);
        }
        let text = stdout_of(cmd);
        assert!(
            !text.contains("supersecret"),
            "`{args:?} --help` shows a secret:\n{text}"
        );
    }
    // The short help too.
    let mut cmd = bulk_groups();
    cmd.args(["import", "-h"])
        .env("ARCGIS_PASSWORD", "supersecret");
    assert!(!stdout_of(cmd).contains("supersecret"));
}

/// The credential rules are in `import --help`, so nobody has to guess how to sign in.
#[test]
fn import_help_explains_credentials_and_exit_codes() {
    let text = help(&["import"]);
    for needle in [
        "ARCGIS_API_KEY",
        "ARCGIS_TOKEN",
        "ARCGIS_TOKEN_FILE",
        "ARCGIS_PASSWORD",
        "--password-file",
        "--password-stdin",
        "Exit codes:",
        "--dry-run",
    ] {
        assert!(
            text.contains(needle),
            "import --help does not mention {needle}"
        );
    }
}
