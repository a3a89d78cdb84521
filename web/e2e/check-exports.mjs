// check-exports.mjs imports the packed @chute-dev/client as an ES module,
// by its package name (so through package.json's "exports"), and checks
// that chute.js exports exactly the values client-api.json lists, and
// that its classes have exactly the public members listed there (names
// starting with "_" are internal). types-check.ts holds index.d.ts to the
// same list, so the types cover the runtime API exactly. Prints one line
// and exits 1 on a difference. Run by scripts/pack-client.sh.
import { readFileSync } from "node:fs";

const api = JSON.parse(readFileSync(new URL("./client-api.json", import.meta.url), "utf8"));
const entry = import.meta.resolve("@chute-dev/client");
if (!entry.includes("/node_modules/@chute-dev/client/")) {
  throw new Error(`@chute-dev/client resolves to ${entry}, not to the installed package`);
}
const mod = await import("@chute-dev/client");
// The worker module is reachable by its exported path too.
const workerEntry = import.meta.resolve("@chute-dev/client/chute-worker.js");
readFileSync(new URL(workerEntry));

const listed = (k) => Object.keys(api[k]).filter((n) => n !== "//").sort();
const publicNames = (names) => [...new Set(names)].filter((n) => !n.startsWith("_") && n !== "constructor").sort();
const members = (obj) => publicNames([...Object.getOwnPropertyNames(obj), ...Object.getOwnPropertyNames(Object.getPrototypeOf(obj))]);

// A Hasher in Node has no Worker: it says so on the console; keep that quiet.
const warn = console.warn;
console.warn = () => {};
let hasher;
try {
  hasher = new mod.Hasher();
} finally {
  console.warn = warn;
}
const errorOwn = new Set([...Object.getOwnPropertyNames(new Error("m")), "name"]);
const got = {
  exports: Object.keys(mod).sort(),
  ChuteClient: members(new mod.ChuteClient({ baseURL: "http://127.0.0.1:1" })),
  Hasher: members(hasher),
  ChuteError: members(new mod.ChuteError(0, "network", "m")).filter((n) => !errorOwn.has(n)),
};
const problems = [];
for (const [k, names] of Object.entries(got)) {
  const want = listed(k);
  const extra = names.filter((n) => !want.includes(n));
  const missing = want.filter((n) => !names.includes(n));
  if (extra.length) problems.push(`${k}: chute.js has ${extra.join(", ")}, which client-api.json (and so index.d.ts) lacks`);
  if (missing.length) problems.push(`${k}: chute.js lacks ${missing.join(", ")}, which client-api.json lists`);
}
if (problems.length) {
  console.error("check-exports: " + problems.join("; "));
  process.exit(1);
}
console.log(`check-exports: ${entry.replace(/^.*\/node_modules\//, "")} exports ${got.exports.length} values, as index.d.ts declares`);
