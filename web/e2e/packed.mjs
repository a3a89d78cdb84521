// packed.mjs makes a browser context load chute.js from the packed npm
// package instead of the copy the Chute under test serves: the demo page
// imports ./chute.js and its checksum worker is ./chute-worker.js, and
// both are answered from node_modules/@chute-dev/client (the tarball
// scripts/pack-client.sh installs), resolved through the package's
// "exports" like an app's bundler would. So the browser tests exercise
// the package as published: a file missing from its "files" fails them.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/**
 * servePacked routes base/chute.js and base/chute-worker.js of ctx to the
 * packed package's files, with the headers Chute serves them with (its
 * CSP included; the ETag dropped). It returns what it serves; its served
 * counts grow as the page loads the files.
 * @param {import("playwright-core").BrowserContext} ctx
 * @param {string} base Chute's origin, e.g. http://127.0.0.1:8080
 */
export async function servePacked(ctx, base) {
  const entry = import.meta.resolve("@chute-dev/client");
  if (!entry.includes("/node_modules/@chute-dev/client/")) {
    throw new Error(`@chute-dev/client resolves to ${entry}, not to the installed package (run scripts/pack-client.sh)`);
  }
  const pkg = JSON.parse(readFileSync(new URL("./package.json", entry), "utf8"));
  const files = {
    "/chute.js": readFileSync(new URL(entry)),
    "/chute-worker.js": readFileSync(new URL(import.meta.resolve("@chute-dev/client/chute-worker.js"))),
  };
  const out = { name: pkg.name, version: pkg.version, sha256: {}, served: {} };
  const origin = new URL(base).origin;
  for (const [path, body] of Object.entries(files)) {
    const resp = await fetch(origin + path);
    if (!resp.ok) throw new Error(`GET ${path} from Chute: ${resp.status}`);
    const headers = {};
    for (const [k, v] of resp.headers) {
      if (!["etag", "content-length", "content-encoding", "date", "connection", "keep-alive"].includes(k)) headers[k] = v;
    }
    headers["cache-control"] = "no-store";
    out.sha256[path] = createHash("sha256").update(body).digest("hex");
    out.served[path] = 0;
    await ctx.route(
      (u) => u.origin === origin && u.pathname === path,
      async (route) => {
        out.served[path]++;
        await route.fulfill({ status: 200, headers, body });
      },
    );
  }
  return out;
}
