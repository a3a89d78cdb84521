// reject.mjs uploads one file through Chute's demo page in headless
// Chromium, against a Chute whose verify hook rejects it, and prints one
// JSON line with what the page shows: {state, text, reason, resumeHidden,
// cancelHidden}. test/verify_test.go starts `chute serve` with the hook
// and checks the page shows the application's reason. chute.js comes
// from the packed npm package (packed.mjs); the script fails if the page
// did not load it.
//
// Environment: CHUTE_URL (the page), CHUTE_TOKEN, FILE (the file to
// upload), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { servePacked } from "./packed.mjs";

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}
const base = must("CHUTE_URL");
const token = must("CHUTE_TOKEN");
const file = must("FILE");

const userDir = mkdtempSync(join(tmpdir(), "chute-chromium-"));
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const packed = await servePacked(ctx, base);
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(base + "/");
  await page.fill("#token", token);
  await page.setInputFiles("#files", file);
  const sel = `li.upload[data-name="${basename(file)}"]`;
  const h = await page.waitForFunction(
    (s) => {
      const li = document.querySelector(s);
      if (!li) return null;
      const st = li.dataset.state;
      if (st !== "rejected" && st !== "completed" && st !== "error") return null;
      const hidden = (c) => /** @type {HTMLElement} */ (li.querySelector(c)).hidden;
      return {
        state: st, text: li.querySelector(".state").textContent, reason: li.dataset.reason || "",
        resumeHidden: hidden(".resume"), cancelHidden: hidden(".cancel"),
      };
    },
    sel,
    { timeout: 60_000, polling: 100 },
  );
  if (packed.served["/chute.js"] === 0) throw new Error("the page did not load the packed chute.js");
  console.log(JSON.stringify(await h.jsonValue()));
} finally {
  await ctx.close();
  rmSync(userDir, { recursive: true, force: true });
}
