// The arcgis-rest-js peer: the same roster the way a Node user would write it with Esri's
// JavaScript client (@esri/arcgis-rest-request + @esri/arcgis-rest-portal 4.10.x).
//
//     node baseline.mjs URL ROSTER > result.json
//
// Signs in with `ArcGISIdentityManager.signIn({username, password, portal})`, then for every
// group of ROSTER (a `group,username` CSV as written by gen_roster.py, rows grouped by group),
// in order: `await createGroup(...)` then `await addGroupUsers({id, users})`. addGroupUsers
// splits the list into addUsers calls of 25 itself and sends all of a group's calls at once
// (Promise.all); a failed call comes back in `errors`, not as an exception. The client does not
// retry anything; a group whose createGroup throws is logged and skipped, as a script meant to
// get through a roster would. Nothing else is parallelised.
//
// Run from the directory that holds node_modules (benches/run.sh installs it into
// benches/out/restjs and benches/bench.py copies this file there). Prints one JSON object:
// `import_seconds` (process start → modules loaded), `signin_seconds`, `loop_seconds` (the
// create+add loop only), `groups`, `members`, `not_added` (sum of `notAdded`), `add_errors`
// (addUsers calls that failed), `failed_groups` (createGroup threw), `first_error`, and
// `/__sim/stats` snapshots right before and after the loop.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { ArcGISIdentityManager } from "@esri/arcgis-rest-request";
import { createGroup, addGroupUsers } from "@esri/arcgis-rest-portal";

const importSeconds = performance.now() / 1000;

const [url, rosterPath] = process.argv.slice(2);
if (!url || !rosterPath) {
  console.error("usage: node baseline.mjs URL ROSTER");
  process.exit(2);
}
const root = url.replace(/\/+$/, "");

// The roster in order of first appearance: title → usernames (gen_roster.py never quotes).
const plan = new Map();
for (const line of readFileSync(rosterPath, "utf8").split("\n").slice(1)) {
  if (!line) continue;
  const [title, username] = line.split(",");
  if (!plan.has(title)) plan.set(title, []);
  plan.get(title).push(username);
}

const simStats = async () => (await fetch(`${root}/__sim/stats`)).json();

let t = performance.now();
const authentication = await ArcGISIdentityManager.signIn({
  username: "admin",
  password: "admin-password",
  portal: `${root}/sharing/rest`,
});
const signinSeconds = (performance.now() - t) / 1000;

const before = await simStats();
let notAdded = 0;
let addErrors = 0;
let failedGroups = 0;
let firstError = null;
t = performance.now();
for (const [title, users] of plan) {
  try {
    const { group } = await createGroup({
      group: {
        title,
        description: "benchmark group",
        tags: ["bulk-groups"],
        snippet: "benchmark group",
        access: "private",
      },
      authentication,
    });
    const result = await addGroupUsers({ id: group.id, users, authentication });
    notAdded += result.notAdded.length;
    if (result.errors) {
      addErrors += result.errors.length;
      firstError ??= `addGroupUsers: ${result.errors[0].message}`;
    }
  } catch (e) {
    failedGroups += 1;
    firstError ??= `createGroup ${title}: ${e.message}`;
  }
}
const loopSeconds = (performance.now() - t) / 1000;
const after = await simStats();

console.log(
  JSON.stringify({
    import_seconds: importSeconds,
    signin_seconds: signinSeconds,
    loop_seconds: loopSeconds,
    groups: plan.size,
    members: [...plan.values()].reduce((n, u) => n + u.length, 0),
    not_added: notAdded,
    add_errors: addErrors,
    failed_groups: failedGroups,
    first_error: firstError,
    stats_before_loop: before,
    stats_after_loop: after,
  }),
);
