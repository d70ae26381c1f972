//! Progress on a real terminal (product spec §7): the binary runs with its stderr on a
//! pseudo-terminal of 80 columns, and a terminal emulator (`vt100`) replays what it drew. The
//! bar must show rows done of the roster's total with the percentage, and never wrap.

use std::io::Read;
use std::num::NonZeroU16;
use std::os::fd::OwnedFd;
use std::process::Stdio;

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

use crate::support::bulk_groups_cmd;
use crate::support::*;

const COLUMNS: u16 = 80;
const LINES: u16 = 24;

/// A pseudo-terminal of `COLUMNS`×`LINES`: the controlling side, and the terminal side a child
/// gets as its stderr.
fn open_terminal() -> (std::fs::File, OwnedFd) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pty");
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    tcsetwinsize(
        &master,
        Winsize {
            ws_row: LINES,
            ws_col: COLUMNS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .expect("open the terminal side");
    (std::fs::File::from(master), OwnedFd::from(terminal))
}

/// A screen line that shows progress, as the emulator has it after some output.
#[derive(Debug)]
struct Seen {
    text: String,
    wrapped: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bar_shows_rows_of_the_total_and_fits_80_columns() {
    const ROWS: usize = 40;
    let users: Vec<String> = (0..ROWS).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let sim = start_sim(sim_config(&names)).await;
    let dir = Workdir::new();
    let roster: String = std::iter::once("group,username\n".to_owned())
        .chain(users.iter().map(|u| format!("Field Crew,{u}\n")))
        .collect();
    let roster = dir.write("crew.csv", &roster);

    let (mut screen_side, terminal) = open_terminal();
    // One membership per request at 10 requests/s: a run of about four seconds, long enough
    // for the bar to be drawn many times.
    let mut child = bulk_groups_cmd()
        .arg("import")
        .arg(&roster)
        .args(["--portal", &sim.url, "--username", "admin"])
        .args(["--chunk-size", "1", "--rate", "10", "--concurrency", "2"])
        .arg("--results")
        .arg(dir.path("crew.results.csv"))
        .env("ARCGIS_PASSWORD", "admin-password")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(terminal)
        .spawn()
        .unwrap();

    let reader = std::thread::spawn(move || {
        let mut parser = vt100::Parser::new(
            NonZeroU16::new(LINES).unwrap(),
            NonZeroU16::new(COLUMNS).unwrap(),
            0,
        );
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child (the last holder of the terminal side) has exited.
        while let Ok(n @ 1..) = screen_side.read(&mut buf) {
            parser.process(&buf[..n]);
            let screen = parser.screen();
            for (row, text) in screen.rows(0, COLUMNS).enumerate() {
                if text.contains(&format!("/{ROWS} rows")) {
                    let wrapped = screen.row_wrapped(row as u16);
                    seen.push(Seen { text, wrapped });
                }
            }
        }
        (seen, parser.screen().contents())
    });
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let (seen, last_screen) = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{last_screen}");

    assert!(
        !seen.is_empty(),
        "no progress line was drawn:\n{last_screen}"
    );
    let mut progressed = false;
    for line in &seen {
        assert!(!line.wrapped, "the progress line wrapped: {line:?}");
        assert!(line.text.trim_end().chars().count() <= COLUMNS as usize);
        // `[###---] 12/40 rows (30 %), ETA 3 s, 9.8 req/s, 0 throttled`
        let (done, rest) = line
            .text
            .split_once(&format!("/{ROWS} rows ("))
            .unwrap_or_else(|| panic!("{line:?}"));
        let done: usize = done.rsplit(' ').next().unwrap().parse().unwrap();
        let percent: usize = rest.split(" %)").next().unwrap().parse().unwrap();
        assert_eq!(percent, done * 100 / ROWS, "{line:?}");
        assert!(
            rest.contains(", ETA ") && rest.contains(" req/s, "),
            "{line:?}"
        );
        assert!(rest.trim_end().ends_with(" throttled"), "{line:?}");
        assert!(
            line.text.contains('[') && line.text.contains(']'),
            "a bar: {line:?}"
        );
        progressed |= done > 0 && done < ROWS;
    }
    assert!(progressed, "the bar never showed work under way: {seen:?}");
    // The bar is cleared at the end; the summary follows on the screen.
    assert!(last_screen.contains("exit code 0"), "{last_screen}");
}
