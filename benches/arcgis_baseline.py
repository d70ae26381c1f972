#!/usr/bin/env python3
"""The baseline: the seed tutorial's way, with the official ArcGIS API for Python.

    arcgis_baseline.py URL CA_PEM ROSTER > result.json

Signs in with `GIS(url, "admin", "admin-password", ca_bundles=CA_PEM)`, then for every group
of ROSTER (a `group,username` CSV as written by gen_roster.py, rows grouped by group), in
order and sequentially: `gis.groups.create_from_dict({...})` and `group.add_users(members)`
(the client splits the list into addUsers calls of 25 itself). This is exactly the tutorial's
code in a loop; nothing is parallelised.

Prints one JSON object: `import_seconds` (interpreter start → `import arcgis` done),
`signin_seconds` (the `GIS(...)` call), `loop_seconds` (the create+add loop only),
`groups`, `members`, `not_added` (sum of `notAdded`), and `/__sim/stats` snapshots taken right
before and right after the loop (`stats_before_loop`, `stats_after_loop`) so the harness can
count the requests of the sign-in and of the loop separately.
"""

import time

T0 = time.monotonic()

import csv  # noqa: E402
import json  # noqa: E402
import ssl  # noqa: E402
import sys  # noqa: E402
import urllib.request  # noqa: E402
from itertools import groupby  # noqa: E402

from arcgis.gis import GIS  # noqa: E402

T_IMPORTED = time.monotonic()


def sim_stats(url: str, ca: str) -> dict:
    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(url.rstrip("/") + "/__sim/stats", context=ctx, timeout=30) as r:
        return json.load(r)


def main() -> None:
    url, ca, roster = sys.argv[1:4]
    with open(roster, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    plan = [(t, [r["username"] for r in rs]) for t, rs in groupby(rows, key=lambda r: r["group"])]

    t = time.monotonic()
    gis = GIS(url, "admin", "admin-password", ca_bundles=ca)
    signin = time.monotonic() - t

    before = sim_stats(url, ca)
    not_added = 0
    t = time.monotonic()
    for title, members in plan:
        group = gis.groups.create_from_dict(
            {
                "title": title,
                "description": "benchmark group",
                "tags": "bulk-groups",
                "snippet": "benchmark group",
                "access": "private",
            }
        )
        result = group.add_users(members)
        not_added += len(result.get("notAdded") or [])
    loop = time.monotonic() - t
    after = sim_stats(url, ca)

    json.dump(
        {
            "import_seconds": T_IMPORTED - T0,
            "signin_seconds": signin,
            "loop_seconds": loop,
            "groups": len(plan),
            "members": sum(len(m) for _, m in plan),
            "not_added": not_added,
            "stats_before_loop": before,
            "stats_after_loop": after,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
