// chute.js: a small browser client for Chute's native API (/v1).
//
// The bytes go straight from the browser to the store's presigned URLs;
// Chute only signs, tracks and finalizes. It is the npm package
// @chute-dev/client (this folder, web/client; its types are index.d.ts
// beside it), and every Chute serves it at /chute.js for its demo page.
// Import it as an ES module:
//
//   import { ChuteClient } from "@chute-dev/client"; // or "./chute.js"
//   const chute = new ChuteClient({ baseURL: "https://uploads.example.com", token });
//   const done = await chute.upload(file, { onProgress: (p) => console.log(p.loaded / p.total) });
//   console.log(done.download.url);
//
// Pause is an AbortSignal: abort it and the in-flight part uploads stop;
// call upload(file, { resumeId }) later (even after a page reload) and only
// the parts the store does not hold yet are sent. The store must allow the
// page's origin (CORS) and expose the ETag header.
//
// Checksums are on by default (CRC32C): every part's checksum is computed
// in a Web Worker (off the UI thread), signed into its URL by Chute and
// sent as x-amz-checksum-crc32c, so the store refuses changed bytes. A
// file of at most checksumPassMax bytes (64 MiB) is hashed first and its
// value declared at create, so Chute checks the whole object at complete;
// for a bigger one the part CRCs are combined (no second pass) and
// compared with the value Chute reports at complete. If Chute refuses the
// algorithm, the upload goes on without and the result's checksumNote
// says why.

/**
 * @typedef {Object} ChuteClientOptions
 * @property {string} [baseURL] Where Chute answers; default: the page's origin.
 * @property {string | (() => string | Promise<string>)} [token] Bearer token,
 *   or a function returning one (called for every request, so it may refresh).
 *   Empty or absent: no Authorization header (auth.mode none).
 * @property {number} [retries] Attempts per request after the first (default 5).
 * @property {number} [retryBaseMs] First backoff delay (default 500 ms); it
 *   doubles per attempt up to 15 s, with jitter.
 */

/**
 * @typedef {Object} PresignedRequest
 * @property {number} [part_number] Part number (multipart parts only).
 * @property {string} method HTTP method, usually PUT.
 * @property {string} url The presigned URL (a bearer credential: never log it).
 * @property {Object<string, string>} headers Headers to send with exactly these values.
 * @property {number} [size] Bytes of the part.
 * @property {string} expires_at When the URL stops working (RFC 3339).
 */

/**
 * @typedef {Object} Part
 * @property {number} part_number
 * @property {string} etag
 * @property {number} size
 */

/**
 * @typedef {Object} Session
 * @property {string} id
 * @property {string} key
 * @property {"single" | "multipart"} strategy
 * @property {"pending" | "uploading" | "completing" | "completed" | "aborted" | "expired" | "rejected"} state
 * @property {string} [reason] Why the verify hook rejected the upload (state rejected).
 * @property {number} size
 * @property {string} content_type
 * @property {number} [part_size]
 * @property {number} [part_count]
 * @property {Part[]} [parts] Reported parts (status answers).
 * @property {number} [uploaded_bytes]
 * @property {string} expires_at
 */

/**
 * @typedef {Object} Download
 * @property {string} url A presigned GET.
 * @property {string} expires_at
 */

/**
 * @typedef {Object} Checksum
 * @property {string} algorithm "CRC32C", "CRC32", "SHA256", ...
 * @property {string} [value] Base64 of the big-endian digest; a COMPOSITE
 *   value of a multipart object ends in "-N".
 */

/**
 * @typedef {Object} CompleteResult
 * @property {string} id
 * @property {string} key
 * @property {"completed"} state
 * @property {number} size
 * @property {string} content_type
 * @property {string} etag
 * @property {Download} download
 * @property {Checksum} [checksum] The stored object's checksum, as Chute reports it.
 * @property {Checksum} [verified] Set by upload(): the whole object's
 *   checksum, checked end to end (declared at create and checked by Chute,
 *   or reported by Chute and equal to the one computed from the file).
 * @property {string} [checksumNote] Set by upload() when checksums were on
 *   but the whole object was not verified: why.
 */

/**
 * @typedef {Object} Progress
 * @property {string} id Session id.
 * @property {number} loaded Bytes the store holds or is receiving now.
 * @property {number} total File size.
 * @property {number} partsDone Parts stored and reported.
 * @property {number} partCount Parts in the plan (1 for a single upload).
 * @property {number} [part] The part that just finished, if one did.
 */

/**
 * @typedef {Object} UploadOptions
 * @property {"CRC32C" | "CRC32" | "SHA256" | "none"} [checksum] Checksum
 *   checked end to end (default "CRC32C"); "none" turns it off.
 * @property {number} [checksumPassMax] Largest file hashed whole before
 *   create so its value is declared (default 64 MiB; 0: never).
 * @property {string} [profile] Profile name (default "default").
 * @property {Object<string, string>} [metadata] Stored as object metadata.
 * @property {string} [contentType] Default: file.type or application/octet-stream.
 * @property {string} [filename] Default: file.name.
 * @property {number} [parallel] Parts in flight at once (default 4).
 * @property {(p: Progress) => void} [onProgress] Called as bytes go and parts finish.
 * @property {(s: Session) => void} [onSession] Called once the session is known
 *   (created or resumed), before any byte is sent: keep s.id to resume later.
 * @property {AbortSignal} [signal] Abort to pause: in-flight requests stop and
 *   upload() rejects with an AbortError; the session stays open.
 * @property {string} [resumeId] Continue this session instead of creating one.
 */

/** ChuteError is an error answer of Chute (or of the store). */
export class ChuteError extends Error {
  /**
   * @param {number} status HTTP status (0 for a network failure).
   * @param {string} code Chute's error code, e.g. "not_found".
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ChuteError";
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.code = code;
  }
}

const MAX_BATCH = 32; // part URLs asked for at once
const RESIGN_MARGIN_MS = 30_000; // a URL this close to expiry is renewed first

/**
 * @param {AbortSignal | undefined} signal
 * @returns {DOMException}
 */
function abortError(signal) {
  const r = signal && signal.reason;
  return r instanceof DOMException && r.name === "AbortError" ? r : new DOMException("upload paused or cancelled", "AbortError");
}

/**
 * isAbort reports whether err is the AbortError of a paused or cancelled upload.
 * @param {unknown} err
 * @returns {boolean}
 */
export function isAbort(err) {
  return err instanceof DOMException && err.name === "AbortError";
}

/**
 * sleep waits ms, or rejects as soon as signal aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * retryable reports whether a failed request may succeed when sent again.
 * @param {number} status
 * @returns {boolean}
 */
function retryable(status) {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * A presigned PUT through XMLHttpRequest (fetch has no upload progress).
 * @param {PresignedRequest} req
 * @param {Blob} body
 * @param {(loaded: number) => void} onLoaded
 * @param {AbortSignal} [signal]
 * @returns {Promise<{status: number, etag: string | null}>}
 */
function xhrSend(req, body, onLoaded, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError(signal));
    const xhr = new XMLHttpRequest();
    xhr.open(req.method || "PUT", req.url);
    for (const [k, v] of Object.entries(req.headers || {})) {
      const lk = k.toLowerCase();
      if (lk === "content-length" || lk === "host") continue; // the browser sets them
      xhr.setRequestHeader(k, v);
    }
    const onAbort = () => xhr.abort();
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal && signal.removeEventListener("abort", onAbort);
    xhr.upload.onprogress = (e) => onLoaded(e.loaded);
    xhr.onload = () => {
      done();
      resolve({ status: xhr.status, etag: xhr.getResponseHeader("ETag") });
    };
    xhr.onerror = () => {
      done();
      resolve({ status: 0, etag: null });
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {
      done();
      reject(abortError(signal));
    };
    xhr.send(body);
  });
}

// ---- Checksums -------------------------------------------------------------
//
// The CRC functions below run both in the Web Worker (their source is
// copied into it with Function.prototype.toString, so they must stay
// self-contained) and, if no worker can be started, on the page.

/** Reflected polynomials of the CRCs chute.js computes. */
const CRC_POLY = { CRC32C: 0x82f63b78, CRC32: 0xedb88320 };

/** Algorithms upload() can compute. */
export const CHECKSUMS = ["CRC32C", "CRC32", "SHA256"];

/**
 * crcTables builds the slicing-by-8 tables of a reflected 32-bit CRC:
 * table k (at k*256) is the CRC of a byte followed by k zero bytes.
 * @param {number} poly
 * @returns {Int32Array}
 */
function crcTables(poly) {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/**
 * crcUpdate feeds buf into a running (inverted) CRC register, 8 bytes a
 * step read as two little-endian words (every browser's byte order; a
 * big-endian machine takes the byte loop).
 * @param {number} crc
 * @param {Uint8Array} buf
 * @param {Int32Array} t
 * @returns {number}
 */
function crcUpdate(crc, buf, t) {
  const n = buf.length;
  let i = 0;
  if (buf.byteOffset % 4 === 0 && new Uint8Array(new Uint32Array([1]).buffer)[0] === 1) {
    const w = new Int32Array(buf.buffer, buf.byteOffset, (n >> 3) << 1);
    for (let j = 0; j < w.length; j += 2) {
      const a = crc ^ w[j];
      const b = w[j + 1];
      crc =
        t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
        t[768 + (b & 0xff)] ^ t[512 + ((b >>> 8) & 0xff)] ^ t[256 + ((b >>> 16) & 0xff)] ^ t[b >>> 24];
    }
    i = w.length << 2;
  }
  for (; i < n; i++) crc = t[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

/**
 * hashBlob returns the big-endian digest of blob: a CRC read in 4 MiB
 * slices, or SHA-256 through WebCrypto.
 * @param {Blob} blob
 * @param {string} alg
 * @returns {Promise<Uint8Array>}
 */
export async function hashBlob(blob, alg) {
  if (alg === "SHA256") return new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  const cache = /** @type {any} */ (hashBlob);
  cache.tables = cache.tables || {};
  const t = cache.tables[alg] || (cache.tables[alg] = crcTables(alg === "CRC32C" ? 0x82f63b78 : 0xedb88320));
  let crc = -1;
  for (let off = 0; off < blob.size; off += 4 << 20) {
    crc = crcUpdate(crc, new Uint8Array(await blob.slice(off, off + (4 << 20)).arrayBuffer()), t);
  }
  crc = ~crc >>> 0;
  return new Uint8Array([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
}

/** workerMain runs a checksum worker's message loop (chute-worker.js calls it). */
export function workerMain() {
  self.onmessage = async (e) => {
    const { id, blob, alg } = e.data;
    try {
      self.postMessage({ id, digest: await hashBlob(blob, alg) });
    } catch (err) {
      self.postMessage({ id, error: String(err && err.message ? err.message : err) });
    }
  };
}

/** A worker's whole source, for a Blob URL: the functions above and the loop. */
const WORKER_SOURCE = `"use strict";
${crcTables.toString()}
${crcUpdate.toString()}
${hashBlob.toString()}
(${workerMain.toString()})();`;

/**
 * Hasher computes digests in a Web Worker, off the UI thread. It starts
 * the worker from chute-worker.js next to chute.js when that is on the
 * page's origin (what a Content Security Policy of script-src 'self', as
 * Chute's own pages have, allows), else from a Blob URL (so a copied
 * chute.js stays one file), and where neither can start it hashes on the
 * page, saying so once in the console.
 */
export class Hasher {
  constructor() {
    /** @type {Worker | null} */
    this._worker = null;
    /** @type {Map<number, {resolve: (d: Uint8Array) => void, reject: (e: Error) => void, blob: Blob, alg: string}>} */
    this._jobs = new Map();
    this._next = 1;
    /** True while digests are computed in a worker. */
    this.offThread = false;
    /** @type {(() => Worker)[]} ways to start a worker, in order */
    this._starts = [];
    try {
      const file = new URL("./chute-worker.js", import.meta.url);
      if (typeof location !== "undefined" && file.origin === location.origin) {
        this._starts.push(() => new Worker(file, { type: "module" }));
      }
    } catch (_) {
      // no import.meta.url or no location: skip the file
    }
    this._starts.push(() => {
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      try {
        return new Worker(url);
      } finally {
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      }
    });
    /** @type {string[]} */
    this._failures = [];
    this._start();
  }

  /** _start starts the next way that works; none left: hash on the page. */
  _start() {
    while (this._starts.length > 0) {
      const start = /** @type {() => Worker} */ (this._starts.shift());
      let w;
      try {
        if (typeof Worker === "undefined") throw new Error("no Worker here");
        w = start();
      } catch (err) {
        this._failures.push(String(err && /** @type {Error} */ (err).message));
        continue;
      }
      this._worker = w;
      this.offThread = true;
      w.onmessage = (e) => {
        const job = this._jobs.get(e.data.id);
        if (!job) return;
        this._jobs.delete(e.data.id);
        if (e.data.error) job.reject(new Error(e.data.error));
        else job.resolve(e.data.digest);
      };
      // A worker the page may not load (CSP, a 404) fails after the fact:
      // move its jobs on to the next way.
      w.onerror = (e) => {
        e.preventDefault();
        if (this._worker !== w) return;
        w.terminate();
        this._worker = null;
        this.offThread = false;
        this._failures.push(e.message || "the worker failed to start");
        this._start();
        const jobs = [...this._jobs.values()];
        this._jobs.clear();
        for (const j of jobs) this.digest(j.blob, j.alg).then(j.resolve, j.reject);
      };
      return;
    }
    console.warn(`chute.js: no Web Worker for checksums (${this._failures.join("; ")}); hashing on the page`);
  }

  /**
   * digest returns the big-endian digest of blob under alg.
   * @param {Blob} blob
   * @param {string} alg
   * @returns {Promise<Uint8Array>}
   */
  digest(blob, alg) {
    if (!this._worker) return hashBlob(blob, alg);
    return new Promise((resolve, reject) => {
      const id = this._next++;
      this._jobs.set(id, { resolve, reject, blob, alg });
      /** @type {Worker} */ (this._worker).postMessage({ id, blob, alg });
    });
  }
}

/**
 * b64 is the header form of a digest.
 * @param {Uint8Array} d
 * @returns {string}
 */
export function b64(d) {
  let s = "";
  for (const c of d) s += String.fromCharCode(c);
  return btoa(s);
}

/**
 * crc32MulMod returns a·b mod P for reflected 32-bit polynomials.
 * @param {number} a
 * @param {number} b
 * @param {number} poly
 */
function crc32MulMod(a, b, poly) {
  let p = 0;
  for (let m = 0x80000000; a !== 0; m >>>= 1) {
    if (a & m) {
      p ^= b;
      a ^= m;
    }
    b = b & 1 ? (b >>> 1) ^ poly : b >>> 1;
  }
  return p >>> 0;
}

/**
 * combineCRC32 returns the CRC of the concatenation of ranges from their
 * CRCs and lengths (crc(A‖B) = crc(A)·x^(8·len(B)) mod P ⊕ crc(B)), as
 * checksum.CombineAll does in Go.
 * @param {"CRC32C" | "CRC32"} alg
 * @param {{digest: Uint8Array, size: number}[]} ranges
 * @returns {Uint8Array}
 */
export function combineCRC32(alg, ranges) {
  const poly = CRC_POLY[alg];
  const x2n = [0x40000000]; // x^(2^k) mod P; x is the second bit from the top
  for (let k = 1; k < 64; k++) x2n.push(crc32MulMod(x2n[k - 1], x2n[k - 1], poly));
  const num = (d) => ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
  let acc = ranges.length ? num(ranges[0].digest) : 0;
  for (const r of ranges.slice(1)) {
    let shift = 0x80000000; // x^0
    let n = r.size;
    for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) if (n % 2) shift = crc32MulMod(x2n[k], shift, poly);
    acc = (crc32MulMod(shift, acc, poly) ^ num(r.digest)) >>> 0;
  }
  return new Uint8Array([acc >>> 24, (acc >>> 16) & 0xff, (acc >>> 8) & 0xff, acc & 0xff]);
}

/**
 * isChecksumRefusal reports whether err is Chute refusing a checksum (a
 * 400 naming it: an algorithm the store cannot verify).
 * @param {unknown} err
 */
function isChecksumRefusal(err) {
  return err instanceof ChuteError && err.status === 400 && /checksum/i.test(err.message);
}

/** The header that carries a value of alg, e.g. x-amz-checksum-crc32c. */
const checksumHeader = (alg) => "x-amz-checksum-" + alg.toLowerCase();

/** ChuteClient talks to one Chute server. */
export class ChuteClient {
  /** @param {ChuteClientOptions} [opts] */
  constructor(opts = {}) {
    const base = opts.baseURL || (typeof location !== "undefined" ? location.origin : "");
    /** @type {string} */
    this.baseURL = base.replace(/\/+$/, "");
    /** @type {ChuteClientOptions["token"]} */
    this.token = opts.token;
    /** @type {number} */
    this.retries = opts.retries ?? 5;
    /** @type {number} */
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    /** Single-upload URLs by session id, to resume a paused single PUT. @type {Map<string, PresignedRequest>} */
    this._single = new Map();
    /** @type {Hasher | null} */
    this._hasher = null;
  }

  /** hasher returns the client's checksum worker, started on first use. */
  hasher() {
    if (!this._hasher) this._hasher = new Hasher();
    return this._hasher;
  }

  /**
   * backoff waits before retry number attempt (0-based): exponential with
   * full jitter, capped at 15 s.
   * @param {number} attempt
   * @param {AbortSignal} [signal]
   */
  backoff(attempt, signal) {
    const cap = Math.min(15_000, this.retryBaseMs * 2 ** attempt);
    return sleep(cap / 2 + Math.random() * (cap / 2), signal);
  }

  /** @returns {Promise<string>} */
  async _token() {
    const t = typeof this.token === "function" ? await this.token() : this.token;
    return t || "";
  }

  /**
   * request calls the API and returns the decoded JSON answer. Network
   * failures, 429 (but for quota_exceeded) and 5xx are retried with
   * backoff; other errors reject with a ChuteError.
   * @param {string} method
   * @param {string} path Below baseURL, e.g. "/v1/uploads".
   * @param {unknown} [body] JSON-encoded when given.
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<any>}
   */
  async request(method, path, body, opts = {}) {
    const { signal } = opts;
    for (let attempt = 0; ; attempt++) {
      if (signal && signal.aborted) throw abortError(signal);
      /** @type {Record<string, string>} */
      const headers = { Accept: "application/json" };
      const token = await this._token();
      if (token) headers.Authorization = "Bearer " + token;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let resp;
      try {
        resp = await fetch(this.baseURL + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (err) {
        if (isAbort(err) || (signal && signal.aborted)) throw abortError(signal);
        if (attempt >= this.retries) throw new ChuteError(0, "network", `cannot reach Chute: ${err && err.message}`);
        await this.backoff(attempt, signal);
        continue;
      }
      let data = null;
      try {
        data = await resp.json();
      } catch (_) {
        data = null;
      }
      if (resp.ok) return data;
      const e = (data && data.error) || {};
      // A quota frees in minutes or hours, not within the backoff: a 429
      // quota_exceeded is answered at once, as the Go client does.
      if (retryable(resp.status) && e.code !== "quota_exceeded" && attempt < this.retries) {
        await this.backoff(attempt, signal);
        continue;
      }
      throw new ChuteError(resp.status, e.code || "http_" + resp.status, e.message || resp.statusText || "request failed");
    }
  }

  /**
   * create opens an upload session (POST /v1/uploads).
   * @param {{filename: string, content_type: string, size: number, profile?: string, metadata?: Object<string,string>}} req
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<Session & {parts?: PresignedRequest[], upload?: PresignedRequest}>}
   */
  create(req, opts) {
    return this.request("POST", "/v1/uploads", req, opts);
  }

  /**
   * status returns the session; with sync, Chute first reconciles the
   * reported parts with the store's own list.
   * @param {string} id
   * @param {{sync?: boolean, signal?: AbortSignal}} [opts]
   * @returns {Promise<Session>}
   */
  status(id, opts = {}) {
    const q = opts.sync ? "?sync=true" : "";
    return this.request("GET", `/v1/uploads/${encodeURIComponent(id)}${q}`, undefined, opts);
  }

  /**
   * partURLs presigns parts (at most 1000 per call). opts.checksums maps
   * part numbers to their checksums under the session's algorithm: each is
   * signed into its part's URL, whose headers then list it.
   * @param {string} id
   * @param {number[]} partNumbers
   * @param {{signal?: AbortSignal, checksums?: Object<string, string>}} [opts]
   * @returns {Promise<PresignedRequest[]>}
   */
  async partURLs(id, partNumbers, opts = {}) {
    /** @type {any} */
    const body = { part_numbers: partNumbers };
    if (opts.checksums) body.checksums = opts.checksums;
    const r = await this.request("POST", `/v1/uploads/${encodeURIComponent(id)}/part-urls`, body, opts);
    return r.parts;
  }

  /**
   * reportPart tells Chute that part n is stored (idempotent).
   * @param {string} id
   * @param {number} n
   * @param {string} etag
   * @param {number} size
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<Session>}
   */
  reportPart(id, n, etag, size, opts) {
    return this.request("PUT", `/v1/uploads/${encodeURIComponent(id)}/parts/${n}`, { etag, size }, opts);
  }

  /**
   * complete finalizes the upload (idempotent).
   * @param {string} id
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<CompleteResult>}
   */
  complete(id, opts) {
    return this.request("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`, undefined, opts);
  }

  /**
   * abort ends the session and aborts its upload in the store.
   * @param {string} id
   * @returns {Promise<Session>}
   */
  abort(id) {
    this._single.delete(id);
    return this.request("DELETE", `/v1/uploads/${encodeURIComponent(id)}`);
  }

  /**
   * downloadURL returns a fresh presigned GET of a completed upload.
   * @param {string} id
   * @returns {Promise<Download>}
   */
  downloadURL(id) {
    return this.request("GET", `/v1/uploads/${encodeURIComponent(id)}/download-url`);
  }

  /**
   * upload sends file and resolves with the completed upload. Abort
   * opts.signal to pause (it rejects with an AbortError, see isAbort) and
   * call upload again with opts.resumeId to continue.
   * @param {File | Blob} file
   * @param {UploadOptions} [opts]
   * @returns {Promise<CompleteResult>}
   */
  async upload(file, opts = {}) {
    const { signal } = opts;
    const name = opts.filename || /** @type {File} */ (file).name || "blob";
    const contentType = opts.contentType || file.type || "application/octet-stream";
    const want = opts.checksum || "CRC32C";
    if (want !== "none" && !CHECKSUMS.includes(want)) {
      throw new ChuteError(0, "invalid_request", `chute.js cannot compute checksum ${want} (it can: ${CHECKSUMS.join(", ")}, or none)`);
    }
    /** What this upload knows of its checksums. */
    const sums = {
      /** @type {string} */ alg: want === "none" ? "" : want,
      /** @type {string} */ declared: "",
      /** @type {string} */ note: "",
      /** @type {Map<number, Uint8Array>} part digests */ parts: new Map(),
    };
    /** @type {any} */
    let sess = null;
    if (opts.resumeId) {
      sess = await this.status(opts.resumeId, { sync: true, signal });
      if (sess.size !== file.size) {
        throw new ChuteError(0, "file_mismatch", `session ${sess.id} is for ${sess.size} bytes, the file has ${file.size}`);
      }
      if (sess.state === "aborted" || sess.state === "expired") {
        throw new ChuteError(409, "conflict", `upload is ${sess.state}`);
      }
      if (sess.state === "rejected") {
        // The app's verify hook refused it: final, with its reason.
        throw new ChuteError(422, "rejected", sess.reason || "the application rejected the upload");
      }
      if (sess.checksum && sess.checksum.algorithm) {
        // The session's algorithm wins: its URLs are signed with it.
        sums.alg = sess.checksum.algorithm;
        sums.declared = sess.checksum.value || "";
        if (!CHECKSUMS.includes(sums.alg)) {
          sums.note = `the session checks ${sums.alg}, which chute.js cannot compute: parts sent without checksums`;
          sums.alg = "";
        }
      }
      if (sess.strategy === "single" && sess.state !== "completed" && sess.uploaded_bytes !== sess.size && !this._single.has(sess.id)) {
        // A single PUT URL is handed out once, at create: after a reload
        // the only way on is a fresh session.
        await this.abort(sess.id).catch(() => {});
        sess = null;
      }
    }
    if (!sess) {
      sess = await this._create(file, { filename: name, content_type: contentType, size: file.size, profile: opts.profile || "default", metadata: opts.metadata }, sums, opts);
      if (sess.strategy === "single") this._single.set(sess.id, sess.upload);
    }
    if (opts.onSession) opts.onSession(sess);
    if (sess.state === "completed" || sess.state === "completing") {
      return this._complete(sess.id, signal);
    }
    const progress = opts.onProgress || (() => {});
    if (sess.strategy === "single") {
      await this._uploadSingle(sess, file, progress, signal);
    } else {
      await this._uploadParts(sess, file, opts.parallel || 4, progress, signal, sums);
    }
    const res = await this._complete(sess.id, signal);
    this._single.delete(sess.id);
    await this._verify(res, sess, file, sums);
    return res;
  }

  /**
   * _create opens the session with sums.alg, declaring the whole file's
   * value when the file is small enough to hash first. A checksum Chute
   * refuses is dropped (create again without) and noted in sums.note.
   * @param {Blob} file
   * @param {any} req
   * @param {any} sums
   * @param {UploadOptions} opts
   */
  async _create(file, req, sums, opts) {
    const { signal } = opts;
    if (sums.alg) {
      req.checksum = { algorithm: sums.alg };
      if (file.size <= (opts.checksumPassMax ?? 64 << 20)) {
        const d = await this.hasher().digest(file, sums.alg);
        if (signal && signal.aborted) throw abortError(signal);
        req.checksum.value = b64(d);
      }
    }
    try {
      let sess = await this.create(req, { signal });
      if (req.checksum && !req.checksum.value && sess.strategy === "single") {
        // A single upload's one URL, signed at create, must carry the
        // whole value (the store wants a checksum with every part of such
        // a session): hash the file (at most single_max) and start again.
        req.checksum.value = b64(await this.hasher().digest(file, sums.alg));
        await this.abort(sess.id).catch(() => {});
        sess = await this.create(req, { signal });
      }
      if (req.checksum) sums.declared = req.checksum.value || "";
      return sess;
    } catch (err) {
      if (!req.checksum || !isChecksumRefusal(err)) throw err;
      sums.note = `uploaded without a checksum: Chute refused ${sums.alg} (${/** @type {Error} */ (err).message})`;
      console.warn("chute.js: " + sums.note);
      sums.alg = "";
      delete req.checksum;
      return this.create(req, { signal });
    }
  }

  /**
   * _verify sets res.verified (or res.checksumNote) once complete answered
   * res, and throws if the stored object's checksum differs from the file's.
   * @param {any} res
   * @param {any} sess
   * @param {Blob} file
   * @param {any} sums
   */
  async _verify(res, sess, file, sums) {
    if (!sums.alg) {
      if (sums.note) res.checksumNote = sums.note;
      return;
    }
    const stored = res.checksum;
    if (sums.declared) {
      // Chute compared the stored object with it before answering.
      res.verified = { algorithm: sums.alg, value: sums.declared };
      return;
    }
    if (!stored || !stored.value || stored.algorithm !== sums.alg) {
      res.checksumNote = `Chute reported no ${sums.alg} value for the whole object: each part was verified by the store as it arrived`;
      return;
    }
    /** @type {Uint8Array[]} */
    const digests = [];
    /** @type {{digest: Uint8Array, size: number}[]} */
    const ranges = [];
    if (sess.strategy === "single") {
      digests.push(await this.hasher().digest(file, sums.alg));
      ranges.push({ digest: digests[0], size: file.size });
    } else {
      const ps = sess.part_size;
      for (let n = 1; n <= sess.part_count; n++) {
        const blob = file.slice(ps * (n - 1), Math.min(ps * n, file.size));
        // Parts an earlier run sent (resume) are hashed now.
        const d = sums.parts.get(n) || (await this.hasher().digest(blob, sums.alg));
        digests.push(d);
        ranges.push({ digest: d, size: blob.size });
      }
    }
    let local;
    if (/-\d+$/.test(stored.value)) {
      const all = new Uint8Array(digests.reduce((a, d) => a + d.length, 0));
      let off = 0;
      for (const d of digests) {
        all.set(d, off);
        off += d.length;
      }
      local = b64(await this.hasher().digest(new Blob([all]), sums.alg)) + "-" + digests.length;
    } else if (sums.alg in CRC_POLY) {
      local = b64(digests.length === 1 ? digests[0] : combineCRC32(/** @type {any} */ (sums.alg), ranges));
    } else {
      res.checksumNote = `the stored object's ${sums.alg} cannot be compared without reading the file again; each part was verified by the store`;
      return;
    }
    if (local !== stored.value) {
      throw new ChuteError(0, "checksum_mismatch", `the stored object's ${sums.alg} is ${stored.value}, the file's is ${local}`);
    }
    res.verified = { algorithm: sums.alg, value: stored.value };
  }

  /**
   * @param {string} id
   * @param {AbortSignal} [signal]
   * @returns {Promise<CompleteResult>}
   */
  _complete(id, signal) {
    return this.request("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`, undefined, { signal });
  }

  /**
   * @param {any} sess
   * @param {Blob} file
   * @param {(p: Progress) => void} progress
   * @param {AbortSignal} [signal]
   */
  async _uploadSingle(sess, file, progress, signal) {
    const report = (loaded, done) =>
      progress({ id: sess.id, loaded, total: file.size, partsDone: done ? 1 : 0, partCount: 1, part: done ? 1 : undefined });
    if (sess.uploaded_bytes === sess.size && sess.size > 0) {
      report(file.size, true);
      return;
    }
    const req = this._single.get(sess.id) || sess.upload;
    if (Date.parse(req.expires_at) < Date.now()) {
      throw new ChuteError(403, "expired", "the upload URL expired: start the upload again");
    }
    for (let attempt = 0; ; attempt++) {
      const r = await xhrSend(req, file, (n) => report(n, false), signal);
      if (r.status >= 200 && r.status < 300) break;
      if (!retryable(r.status) || attempt >= this.retries) throw storeError(r.status);
      await this.backoff(attempt, signal);
    }
    report(file.size, true);
  }

  /**
   * _uploadParts sends every part the session lacks, `parallel` at a
   * time, asking for part URLs in batches and reporting each part.
   * @param {any} sess
   * @param {Blob} file
   * @param {number} parallel
   * @param {(p: Progress) => void} progress
   * @param {AbortSignal} [signal]
   * @param {any} sums
   */
  async _uploadParts(sess, file, parallel, progress, signal, sums) {
    const id = sess.id;
    const partSize = sess.part_size;
    const count = sess.part_count;
    const sizeOf = (n) => (n < count ? partSize : file.size - partSize * (count - 1));
    /** @type {Set<number>} */
    const done = new Set();
    for (const p of sess.parts || []) {
      // A create answer lists URLs (with "url"); a status lists stored parts.
      if (p.etag && p.size === sizeOf(p.part_number)) done.add(p.part_number);
    }
    /** @type {Map<number, PresignedRequest>} */
    const urls = new Map();
    // With checksums each part is signed with its own: the create answer's
    // URLs carry none.
    if (!sums.alg) for (const p of sess.parts || []) if (p.url) urls.set(p.part_number, p);
    /** @type {Map<number, Promise<void>>} */
    const signing = new Map();
    /** @type {number[]} */
    const queue = [];
    for (let n = 1; n <= count; n++) if (!done.has(n)) queue.push(n);
    /** @type {Map<number, number>} */
    const inflight = new Map();
    let needSync = false;

    const emit = (part) => {
      let loaded = 0;
      for (const n of done) loaded += sizeOf(n);
      for (const v of inflight.values()) loaded += v;
      progress({ id, loaded: Math.min(loaded, file.size), total: file.size, partsDone: done.size, partCount: count, part });
    };
    emit(undefined);

    const fresh = (n) => {
      const u = urls.get(n);
      return u && Date.parse(u.expires_at) - Date.now() > RESIGN_MARGIN_MS;
    };
    /**
     * urlFor returns a usable URL for part n, signing a batch when needed;
     * with checksums, n alone with its checksum.
     */
    const urlFor = async (n, force, blob) => {
      if (force) urls.delete(n);
      if (sums.alg && !fresh(n)) {
        let d = sums.parts.get(n);
        if (!d) {
          d = await this.hasher().digest(blob, sums.alg);
          sums.parts.set(n, d);
        }
        if (signal && signal.aborted) throw abortError(signal);
        try {
          const [u] = await this.partURLs(id, [n], { signal, checksums: { [n]: b64(d) } });
          urls.set(n, u);
          return u;
        } catch (err) {
          if (!isChecksumRefusal(err)) throw err;
          // A resumed session created without this algorithm.
          sums.note = `parts sent without checksums: Chute refused ${sums.alg} part checksums for this session (${/** @type {Error} */ (err).message})`;
          console.warn("chute.js: " + sums.note);
          sums.alg = "";
        }
      }
      while (!fresh(n)) {
        if (signing.has(n)) {
          await signing.get(n);
          continue;
        }
        const batch = [n];
        for (const m of queue) {
          if (batch.length >= MAX_BATCH) break;
          if (m !== n && !fresh(m) && !signing.has(m)) batch.push(m);
        }
        const p = this.partURLs(id, batch, { signal }).then((list) => {
          for (const u of list) urls.set(u.part_number, u);
        });
        const settle = p.finally(() => batch.forEach((m) => signing.delete(m)));
        for (const m of batch) signing.set(m, settle.catch(() => {}));
        await settle;
      }
      return /** @type {PresignedRequest} */ (urls.get(n));
    };

    const sendPart = async (n) => {
      const blob = file.slice(partSize * (n - 1), partSize * (n - 1) + sizeOf(n));
      let resign = false;
      for (let attempt = 0; ; attempt++) {
        const req = await urlFor(n, resign, blob);
        resign = false;
        inflight.set(n, 0);
        let r;
        try {
          r = await xhrSend(req, blob, (loaded) => {
            inflight.set(n, loaded);
            emit(undefined);
          }, signal);
        } finally {
          inflight.delete(n);
        }
        if (r.status >= 200 && r.status < 300) {
          if (r.etag) {
            await this.reportPart(id, n, r.etag, blob.size, { signal });
          } else {
            needSync = true; // ETag not exposed by the store's CORS: let Chute ask the store
          }
          done.add(n);
          emit(n);
          return;
        }
        if (attempt >= this.retries) throw storeError(r.status);
        if (r.status === 403) {
          resign = true; // expired or refused signature: sign again
        } else if (!retryable(r.status)) {
          throw storeError(r.status);
        }
        await this.backoff(attempt, signal);
      }
    };

    const worker = async () => {
      while (queue.length > 0) {
        if (signal && signal.aborted) throw abortError(signal);
        const n = /** @type {number} */ (queue.shift());
        await sendPart(n);
      }
    };
    const workers = [];
    for (let i = 0; i < Math.max(1, Math.min(parallel, queue.length)); i++) {
      // A failing part empties the queue: the other workers finish the
      // part they hold, then the first error wins.
      workers.push(
        worker().catch((e) => {
          queue.length = 0;
          throw e;
        }),
      );
    }
    const results = await Promise.allSettled(workers);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw /** @type {PromiseRejectedResult} */ (failed).reason;
    if (needSync) await this.status(id, { sync: true, signal });
  }
}

/**
 * @param {number} status
 * @returns {ChuteError}
 */
function storeError(status) {
  if (status === 0) return new ChuteError(0, "network", "the store could not be reached (network error or CORS refused)");
  return new ChuteError(status, "storage_" + status, `the store answered ${status}`);
}
