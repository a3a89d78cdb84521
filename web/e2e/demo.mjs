// demo.mjs drives Chute's demo page in headless Chromium and prints one
// JSON line with what it saw; test/browser_demo_test.go starts `chute dev`,
// runs this script and checks the bytes in the store.
//
// Environment: CHUTE_URL (the page), CHUTE_TOKEN (put into the token
// field), FILES_DIR (image.png, big.bin, pause.bin, cancel.bin,
// reload.bin), SHOT_DIR (screenshots, optional), CHROMIUM (default
// /usr/bin/chromium).
//
// To make the in-between states observable without timing, the script
// holds one part's PUT (Playwright route) while it pauses, cancels or
// reloads, and answers one PUT with 403 (re-sign) and one with 503
// (retry). The first scenario runs with no interception of the store at
// all, so the store's own CORS answers are tested. Presigned URLs are
// never printed.
//
// chute.js and chute-worker.js come from the packed npm package in
// node_modules (packed.mjs), not from Chute: "packed" in the output says
// which package and how often the page loaded each file.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { servePacked } from "./packed.mjs";

const base = must("CHUTE_URL");
const token = must("CHUTE_TOKEN");
const files = must("FILES_DIR");
const shots = process.env.SHOT_DIR || "";
const file = (n) => join(files, n);

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}
const t0 = Date.now();
const log = (...a) => console.error(`[demo ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

const userDir = mkdtempSync(join(tmpdir(), "chute-chromium-"));
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1000, height: 1100 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const out = {};
try {
  await run(ctx, out);
  console.log(JSON.stringify(out));
} finally {
  await ctx.close();
  rmSync(userDir, { recursive: true, force: true });
}

async function run(ctx, out) {
  out.packed = await servePacked(ctx, base);
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("pageerror", (e) => log("page error:", e.message));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log("console", m.type(), m.text().replace(/\?\S*/g, "?…"));
  });

  // Every part PUT to the store, in order (part numbers only).
  /** @type {number[]} */
  const puts = [];
  const isPart = (u) => u.searchParams.has("uploadId") && u.searchParams.has("partNumber");
  page.on("request", (r) => {
    if (r.method() !== "PUT") return;
    const u = new URL(r.url());
    if (isPart(u)) puts.push(Number(u.searchParams.get("partNumber")));
  });
  // Checksum headers on the PUTs to the store (part 0: a plain PUT), and
  // the checksums the page asked Chute to sign.
  const sumHeader = "x-amz-checksum-crc32c";
  /** @type {{part: number, sum: string}[]} */
  const sent = [];
  page.on("request", (r) => {
    if (r.method() !== "PUT") return;
    const u = new URL(r.url());
    if (u.pathname.startsWith("/v1/")) return;
    sent.push({ part: isPart(u) ? Number(u.searchParams.get("partNumber")) : 0, sum: r.headers()[sumHeader] || "" });
  });
  /** @type {Record<string, string>[]} */
  const signedSums = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname.endsWith("/part-urls")) {
      const b = r.postDataJSON();
      signedSums.push((b && b.checksums) || {});
    }
  });
  /** Checksum workers the page started, by kind. */
  const workers = [];
  page.on("worker", (w) => workers.push(w.url().startsWith("blob:") ? "blob" : new URL(w.url()).pathname));
  // API calls the page makes: sync statuses and part-url batches.
  let syncs = 0;
  let signs = 0;
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith("/v1/uploads/")) return;
    if (u.searchParams.get("sync") === "true") syncs++;
    if (u.pathname.endsWith("/part-urls")) signs++;
  });
  /** @type {{part: number, routes: import("playwright-core").Route[]} | null} */
  let hold = null;
  /** The next PUT of part `part` gets this status from the "store". @type {{part: number, status: number} | null} */
  let fault = null;
  const intercept = async (route) => {
    const req = route.request();
    const n = Number(new URL(req.url()).searchParams.get("partNumber"));
    if (req.method() === "PUT" && fault && n === fault.part) {
      const status = fault.status;
      fault = null;
      await route.fulfill({ status, headers: { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag" }, body: "" }).catch(() => {});
      return;
    }
    if (hold && req.method() === "PUT" && n === hold.part) {
      hold.routes.push(route); // never answered: the page pauses, cancels or reloads meanwhile
      return;
    }
    await route.continue().catch(() => {});
  };
  const release = async () => {
    const h = hold;
    hold = null;
    for (const r of h ? h.routes : []) await r.abort().catch(() => {});
  };

  const sel = (name) => `li.upload[data-name="${name}"]`;
  const waitState = async (name, want) => {
    const h = await page.waitForFunction(
      ([s, w]) => {
        const li = document.querySelector(s);
        if (!li) return null;
        const st = li.dataset.state;
        return st === w || st === "error" ? { st, text: li.querySelector(".state").textContent } : null;
      },
      [sel(name), want],
      { timeout: 120_000, polling: 100 },
    );
    const v = await h.jsonValue();
    if (v.st !== want) throw new Error(`${name}: wanted ${want}, page says ${v.text}`);
  };
  const waitParts = (name, done) =>
    page.waitForFunction(
      ([s, d]) => {
        const li = document.querySelector(s);
        return li && Number(li.dataset.partsDone) >= d;
      },
      [sel(name), done],
      { timeout: 120_000, polling: 50 },
    );
  const waitHeld = () => poll(() => hold && hold.routes.length > 0);
  const sessionId = (name) => page.locator(sel(name)).getAttribute("data-session-id");
  const shot = async (n) => {
    if (shots) await page.screenshot({ path: join(shots, n), fullPage: true });
  };

  await page.goto(base + "/");
  await page.getByLabel("Token").fill(token);

  // 1. An image and a 40 MiB file, both to the end; the image is shown.
  // Nothing is intercepted yet: the store's own CORS answers (preflight,
  // exposed ETag) are what the page gets.
  log("upload image.png and big.bin");
  await page.setInputFiles("#files", [file("image.png"), file("big.bin")]);
  await waitState("image.png", "completed");
  await waitState("big.bin", "completed");
  const img = page.locator(`${sel("image.png")} .preview img`);
  await img.waitFor();
  await page.waitForFunction((s) => {
    const el = document.querySelector(s);
    return el && el.complete && el.naturalWidth > 0;
  }, `${sel("image.png")} .preview img`);
  out.image = { id: await sessionId("image.png"), width: await img.evaluate((el) => el.naturalWidth) };
  out.big = { id: await sessionId("big.bin"), link: await page.locator(`${sel("big.bin")} .preview a`).count(), syncs };
  // What the page checked: the checksum it shows, the headers it sent,
  // and that the hashing ran in a worker.
  const shown = (name) => page.locator(sel(name)).getAttribute("data-checksum");
  out.sums = {
    image: await shown("image.png"),
    big: await shown("big.bin"),
    puts: sent.slice(),
    signed: signedSums.slice(),
    workers: workers.slice(),
  };
  // CRC32C speed in this Chromium, in the page's checksum worker; and
  // part CRCs combined on the page equal the whole file's, for random cuts.
  Object.assign(out.sums, await page.evaluate(async () => {
    const { Hasher, combineCRC32, b64 } = await import("/chute.js");
    const h = new Hasher();
    const data = new Uint8Array(64 << 20);
    for (let i = 0; i < data.length; i += 4096) crypto.getRandomValues(data.subarray(i, i + 4096));
    const blob = new Blob([data]);
    await h.digest(blob.slice(0, 1 << 20), "CRC32C"); // warm up
    const t0 = performance.now();
    const whole = await h.digest(blob, "CRC32C");
    const mbps = Math.round((data.length / 1e6) / ((performance.now() - t0) / 1000));
    const combined = [];
    for (const alg of ["CRC32C", "CRC32"]) {
      for (let round = 0; round < 5; round++) {
        const small = blob.slice(0, 3_000_000 + round);
        const cuts = [0, small.size];
        for (let k = 0; k < 1 + round * 2; k++) cuts.push(Math.floor(Math.random() * small.size));
        cuts.sort((a, b) => a - b);
        const ranges = [];
        for (let i = 1; i < cuts.length; i++) {
          const part = small.slice(cuts[i - 1], cuts[i]);
          ranges.push({ digest: await h.digest(part, alg), size: part.size });
        }
        combined.push(b64(combineCRC32(alg, ranges)) === b64(await h.digest(small, alg)));
      }
    }
    return { mbps, whole: b64(whole).length, combined, offThread: h.offThread };
  }));
  await shot("1-done.png");
  await page.route(isPart, intercept);

  // 2. Pause while part 2 is on its way, resume: only part 2 is sent again.
  log("pause and resume pause.bin");
  hold = { part: 2, routes: [] };
  await page.setInputFiles("#files", file("pause.bin"));
  await waitHeld();
  await waitParts("pause.bin", 1); // part 1 is stored and reported
  await page.getByRole("button", { name: "Pause pause.bin" }).click();
  await waitState("pause.bin", "paused");
  await shot("2-paused.png");
  await release();
  // The first PUT after resuming is refused as if its signature had
  // expired: the page signs the part again and retries.
  let mark = puts.length;
  let signMark = signs;
  fault = { part: 2, status: 403 };
  await page.getByRole("button", { name: "Resume pause.bin" }).click();
  await waitState("pause.bin", "completed");
  out.pause = { id: await sessionId("pause.bin"), resent: puts.slice(mark), signs: signs - signMark };

  // 3. Cancel mid-way: the session is aborted.
  log("cancel cancel.bin");
  hold = { part: 2, routes: [] };
  await page.setInputFiles("#files", file("cancel.bin"));
  await waitHeld();
  await page.getByRole("button", { name: "Cancel cancel.bin" }).click();
  await waitState("cancel.bin", "cancelled");
  await release();
  out.cancel = { id: await sessionId("cancel.bin") };

  // 4. Reload mid-way, select the same file again: the page resumes the
  // same session and sends only the missing part.
  log("reload during reload.bin");
  hold = { part: 2, routes: [] };
  await page.setInputFiles("#files", file("reload.bin"));
  await waitHeld();
  await waitParts("reload.bin", 1);
  const before = await sessionId("reload.bin");
  await page.reload();
  await release();
  const listed = await page.locator("#unfinished-list li .name").allTextContents();
  const tokenKept = (await page.getByLabel("Token").inputValue()) === token;
  await shot("3-after-reload.png");
  // The store fails the first PUT after the reload (503): retried with backoff.
  mark = puts.length;
  signMark = signs;
  fault = { part: 2, status: 503 };
  await page.setInputFiles("#files", file("reload.bin"));
  await waitState("reload.bin", "completed");
  out.reload = { before, id: await sessionId("reload.bin"), resent: puts.slice(mark), signs: signs - signMark, listed, tokenKept };
  await shot("4-final.png");
  log("done");
}

/** poll resolves once f() is true (checked every 50 ms, up to 2 minutes). */
async function poll(f) {
  for (let i = 0; i < 2400; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting for a held part request");
}
