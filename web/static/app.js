// app.js: Chute's demo page. Pick or drop files; each gets a progress bar,
// pause, resume and cancel. Open sessions are remembered in localStorage
// (id + file name, size and lastModified) so that an upload survives a page
// reload: select the same file again and only the missing parts are sent.
import { ChuteClient, isAbort } from "./chute.js";

const TOKEN_KEY = "chute.demo.token";
const SESSIONS_KEY = "chute.demo.sessions";

const $ = (sel, root = document) => root.querySelector(sel);

const tokenInput = /** @type {HTMLInputElement} */ ($("#token"));
const profileInput = /** @type {HTMLInputElement} */ ($("#profile"));
const parallelInput = /** @type {HTMLInputElement} */ ($("#parallel"));
const fileInput = /** @type {HTMLInputElement} */ ($("#files"));
const drop = /** @type {HTMLElement} */ ($("#drop"));
const list = /** @type {HTMLElement} */ ($("#uploads"));
const template = /** @type {HTMLTemplateElement} */ ($("#upload-item"));

tokenInput.value = localStorage.getItem(TOKEN_KEY) || "";
tokenInput.addEventListener("input", () => localStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));

const client = new ChuteClient({ token: () => tokenInput.value.trim() });

/**
 * @typedef {{id: string, name: string, size: number, lastModified: number, type: string, profile: string, started: number}} Saved
 */

/** @returns {Saved[]} */
function saved() {
  try {
    const v = JSON.parse(localStorage.getItem(SESSIONS_KEY) || "[]");
    return Array.isArray(v) ? v : [];
  } catch (_) {
    return [];
  }
}

/** @param {Saved[]} v */
function save(v) {
  localStorage.setItem(SESSIONS_KEY, JSON.stringify(v));
  renderUnfinished();
}

/** @param {Saved} rec */
function remember(rec) {
  save([...saved().filter((s) => s.id !== rec.id), rec]);
}

/** @param {string} id */
function forget(id) {
  save(saved().filter((s) => s.id !== id));
}

/**
 * @param {File} f
 * @returns {Saved | undefined}
 */
function findSaved(f) {
  return saved().find((s) => s.name === f.name && s.size === f.size && s.lastModified === f.lastModified);
}

/** @param {number} n */
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function renderUnfinished() {
  const box = /** @type {HTMLElement} */ ($("#unfinished"));
  const ul = /** @type {HTMLElement} */ ($("#unfinished-list"));
  const active = new Set([...list.querySelectorAll(".upload")].map((li) => /** @type {HTMLElement} */ (li).dataset.sessionId));
  const items = saved().filter((s) => !active.has(s.id));
  ul.replaceChildren();
  for (const s of items) {
    const li = document.createElement("li");
    li.dataset.sessionId = s.id;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = s.name;
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = bytes(s.size);
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = "Discard";
    btn.setAttribute("aria-label", `Discard the unfinished upload of ${s.name}`);
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      await client.abort(s.id).catch(() => {});
      forget(s.id);
    });
    li.append(name, size, btn);
    ul.append(li);
  }
  box.hidden = items.length === 0;
}

/** One file on the page and its upload. */
class Item {
  /** @param {File} file */
  constructor(file) {
    this.file = file;
    this.prev = findSaved(file);
    /** @type {string | undefined} */
    this.id = this.prev && this.prev.id;
    this.profile = (this.prev && this.prev.profile) || profileInput.value.trim() || "default";
    /** @type {AbortController | null} */
    this.ctl = null;
    this.samples = /** @type {{t: number, b: number}[]} */ ([]);

    const li = /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true));
    this.li = li;
    li.dataset.name = file.name;
    $(".name", li).textContent = file.name;
    $(".size", li).textContent = bytes(file.size);
    this.bar = /** @type {HTMLProgressElement} */ ($("progress", li));
    this.bar.setAttribute("aria-label", `Progress of ${file.name}`);
    this.pauseBtn = /** @type {HTMLButtonElement} */ ($(".pause", li));
    this.resumeBtn = /** @type {HTMLButtonElement} */ ($(".resume", li));
    this.cancelBtn = /** @type {HTMLButtonElement} */ ($(".cancel", li));
    for (const [b, verb] of [[this.pauseBtn, "Pause"], [this.resumeBtn, "Resume"], [this.cancelBtn, "Cancel"]]) {
      b.setAttribute("aria-label", `${verb} ${file.name}`);
    }
    this.pauseBtn.addEventListener("click", () => this.pause());
    this.resumeBtn.addEventListener("click", () => this.start());
    this.cancelBtn.addEventListener("click", () => this.cancel());
    list.prepend(li);
    $("#empty").hidden = true;
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  setState(state, text) {
    this.li.dataset.state = state;
    $(".state", this.li).textContent = text;
    const open = state === "uploading" || state === "paused" || state === "starting";
    this.pauseBtn.hidden = state !== "uploading" && state !== "starting";
    this.resumeBtn.hidden = state !== "paused" && state !== "error";
    this.cancelBtn.hidden = !open && state !== "error";
  }

  /** @param {import("./chute.js").Progress} p */
  onProgress(p) {
    const pct = p.total > 0 ? (100 * p.loaded) / p.total : 100;
    this.bar.value = pct;
    this.li.dataset.partsDone = String(p.partsDone);
    this.li.dataset.partCount = String(p.partCount);
    const now = performance.now();
    this.samples.push({ t: now, b: p.loaded });
    while (this.samples.length > 2 && now - this.samples[0].t > 3000) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    const speed = dt > 0.2 ? (p.loaded - first.b) / dt : 0;
    const parts = p.partCount > 1 ? ` · parts ${p.partsDone}/${p.partCount}` : "";
    $(".detail", this.li).textContent = `${bytes(p.loaded)} of ${bytes(p.total)}${speed > 0 ? ` · ${bytes(speed)}/s` : ""}${parts}`;
  }

  async start() {
    this.ctl = new AbortController();
    this.samples = [];
    const resuming = Boolean(this.id);
    this.setState("uploading", resuming ? "Resuming…" : "Uploading…");
    try {
      const res = await client.upload(this.file, {
        profile: this.profile,
        parallel: Math.max(1, Number(parallelInput.value) || 4),
        signal: this.ctl.signal,
        resumeId: this.id,
        onSession: (s) => {
          this.id = s.id;
          this.li.dataset.sessionId = s.id;
          remember({
            id: s.id, name: this.file.name, size: this.file.size, lastModified: this.file.lastModified,
            type: this.file.type, profile: this.profile, started: Date.now(),
          });
          this.setState("uploading", "Uploading…");
        },
        onProgress: (p) => this.onProgress(p),
      });
      forget(res.id);
      this.bar.value = 100;
      this.setState("completed", "Done");
      // The whole file's checksum, checked end to end, or why not.
      const sum = res.verified ? `${res.verified.algorithm} ${res.verified.value} ✓` : res.checksumNote ? `checksum not verified: ${res.checksumNote}` : "";
      this.li.dataset.checksum = res.verified ? `${res.verified.algorithm}:${res.verified.value}` : "";
      if (sum) $(".detail", this.li).textContent += ` · ${sum}`;
      this.showResult(res.content_type, res.download.url);
    } catch (err) {
      if (isAbort(err)) return; // paused or cancelled: the buttons already tell
      if (err && err.code === "rejected") {
        // The app's verify hook refused the file: final, show its reason.
        if (this.id) forget(this.id);
        this.id = undefined;
        this.li.dataset.reason = err.message;
        this.setState("rejected", `Rejected: ${err.message}`);
        return;
      }
      this.setState("error", `Failed: ${err && err.message ? err.message : err}`);
      if (err && (err.code === "not_found" || err.code === "conflict") && this.id) {
        forget(this.id); // the session is gone: a retry starts anew
        this.id = undefined;
      }
    } finally {
      this.ctl = null;
    }
  }

  pause() {
    if (!this.ctl) return;
    this.ctl.abort();
    this.setState("paused", "Paused");
  }

  async cancel() {
    if (this.ctl) this.ctl.abort();
    this.setState("cancelling", "Cancelling…");
    this.cancelBtn.hidden = true;
    if (this.id) {
      try {
        await client.abort(this.id);
      } catch (err) {
        if (!(err && err.code === "not_found")) {
          this.setState("error", `Cancel failed: ${err && err.message ? err.message : err}`);
          return;
        }
      }
      forget(this.id);
    }
    this.setState("cancelled", "Cancelled");
  }

  /**
   * @param {string} type
   * @param {string} url
   */
  showResult(type, url) {
    const box = /** @type {HTMLElement} */ ($(".preview", this.li));
    let el;
    // SVG downloads are served as attachments (application/octet-stream):
    // an <img> could not show them, so only the link is offered.
    if (type.startsWith("image/") && !type.startsWith("image/svg")) {
      el = document.createElement("img");
      el.alt = `Uploaded ${this.file.name}`;
    } else if (type.startsWith("video/")) {
      el = document.createElement("video");
      el.controls = true;
    } else if (type.startsWith("audio/")) {
      el = document.createElement("audio");
      el.controls = true;
    }
    if (el) {
      el.src = url;
      box.append(el);
    }
    const a = document.createElement("a");
    a.href = url;
    a.textContent = `Open ${this.file.name}`;
    a.rel = "noopener";
    a.target = "_blank";
    box.append(a);
  }
}

/** @param {Iterable<File>} files */
function addFiles(files) {
  for (const f of files) {
    // A file already uploading on the page is not started twice.
    const dup = [...list.querySelectorAll(".upload")].find((li) => {
      const el = /** @type {HTMLElement} */ (li);
      return el.dataset.name === f.name && (el.dataset.state === "uploading" || el.dataset.state === "paused");
    });
    if (dup) continue;
    const item = new Item(f);
    item.start();
  }
  renderUnfinished();
}

fileInput.addEventListener("change", () => {
  addFiles(fileInput.files || []);
  fileInput.value = "";
});
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
for (const ev of ["dragleave", "drop"]) {
  drop.addEventListener(ev, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer) addFiles(e.dataTransfer.files);
});
renderUnfinished();
