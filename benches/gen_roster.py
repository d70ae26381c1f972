#!/usr/bin/env python3
"""Deterministic roster generator for the import benchmarks.

    benches/gen_roster.py [--email] GROUPS MEMBERS USERS > roster.csv

Writes `group,username` (no admins, no duplicates, no invalid rows): GROUPS groups titled
`Bench Group 00001` …, each with exactly MEMBERS distinct members, rows grouped by group (as
an HR export sorted by course would be). Member j of group g (both 0-based) is
`user{(g*MEMBERS + j) % USERS + 1:06}`, i.e. one of portal-sim's `--seed-users USERS` accounts,
so every user exists; each user ends up in about GROUPS*MEMBERS/USERS groups (keep that well
under the portal's per-user group limit, 512). MEMBERS must be <= USERS (members of a group
are distinct). Same arguments, same bytes — there is no randomness at all.

With `--email` the cells are those users' e-mail addresses instead (`user000001@example.edu`,
as portal-sim gives its seeded users), for importers that resolve people through the
organization's user directory.
"""

import sys


def title(g: int) -> str:
    """The title of group g (0-based)."""
    return f"Bench Group {g + 1:05d}"


def username(g: int, j: int, members: int, users: int) -> str:
    """The username of member j of group g (0-based)."""
    return f"user{(g * members + j) % users + 1:06d}"


EMAIL_DOMAIN = "@example.edu"


def write(out, groups: int, members: int, users: int, email: bool = False) -> None:
    if not (groups >= 1 and members >= 1 and 1 <= members <= users <= 999_999):
        raise SystemExit("need GROUPS >= 1, 1 <= MEMBERS <= USERS <= 999999")
    suffix = EMAIL_DOMAIN if email else ""
    out.write("group,username\n")
    for g in range(groups):
        t = title(g)
        base = g * members
        out.write(
            "".join(f"{t},user{(base + j) % users + 1:06d}{suffix}\n" for j in range(members))
        )


def main(argv: list[str]) -> None:
    email = "--email" in argv
    args = [a for a in argv if a != "--email"]
    if len(args) != 3:
        raise SystemExit(__doc__)
    groups, members, users = (int(a) for a in args)
    write(sys.stdout, groups, members, users, email)


if __name__ == "__main__":
    main(sys.argv[1:])
