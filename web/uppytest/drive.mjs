// drive.mjs opens the Uppy test page in headless Chromium, chooses the
// files given, waits for Uppy to finish and prints one JSON line with
// window.uppyResult. test/browser_uppy_test.go runs it.
//
// Environment: PAGE_URL (the page, with ?endpoint=), FILES (paths joined
// by ":"), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pageURL = process.env.PAGE_URL;
const files = (process.env.FILES || "").split(":").filter(Boolean);
if (!pageURL || files.length === 0) throw new Error("PAGE_URL and FILES must be set");
const log = (...a) => console.error("[uppy]", ...a);

const userDir = mkdtempSync(join(tmpdir(), "chute-uppy-chromium-"));
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("pageerror", (e) => log("page error:", e.message));
  page.on("console", (m) => log("console", m.type(), m.text().replace(/\?\S*/g, "?…")));
  page.on("requestfailed", (r) => log("request failed:", r.method(), r.url().replace(/\?.*/, "?…"), r.failure()?.errorText));
  await page.goto(pageURL);
  await page.waitForFunction(() => window.uppyReady === true);
  await page.setInputFiles("#files", files);
  // No timing assertion: the Go test's own deadline bounds the run.
  await page.waitForFunction(() => window.uppyResult !== undefined, null, { timeout: 0, polling: 200 });
  console.log(JSON.stringify(await page.evaluate(() => window.uppyResult)));
} finally {
  await ctx.close();
  rmSync(userDir, { recursive: true, force: true });
}
