//! Deterministic roster generator for the `validate` / import benchmarks.
//!
//! `cargo run --release --example gen_roster -- ROWS GROUPS [SEED] > roster.csv`
//!
//! Rows are spread round-robin over GROUPS course groups (each group's first row carries a
//! description, access and tags, as real onboarding exports do); usernames are `user000001`…
//! (the simulator's `--seed-users` names), about 5 % admins. Same arguments, same bytes.

use std::io::{self, BufWriter, Write};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map(|s| s.parse().expect("numbers: ROWS GROUPS [SEED]"))
            .unwrap_or(default)
    };
    let rows = parse(0, 1_000_000);
    let groups = parse(1, 2_000).max(1);
    let mut state = parse(2, 42) | 1;
    let mut next = move || {
        // xorshift64*: small, deterministic, good enough for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let users = rows.div_ceil(2).max(1);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    writeln!(out, "group,username,role,description,access,tags")?;
    for i in 0..rows {
        let g = i % groups;
        let user = 1 + next() % users;
        let role = if next() % 20 == 0 { "admin" } else { "member" };
        if i < groups {
            writeln!(
                out,
                "Course {g:05} - Spatial Analysis,user{user:06},{role},\"Onboarding group {g}, generated\",org,\"course,generated\""
            )?;
        } else {
            writeln!(
                out,
                "Course {g:05} - Spatial Analysis,user{user:06},{role},,,"
            )?;
        }
    }
    out.flush()
}
