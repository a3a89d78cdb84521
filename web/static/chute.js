// chute.js: a small browser client for Chute's native API (/v1).
//
// The bytes go straight from the browser to the store's presigned URLs;
// Chute only signs, tracks and finalizes. Import it as an ES module:
//
//   import { ChuteClient } from "./chute.js";
//   const chute = new ChuteClient({ baseURL: "https://uploads.example.com", token });
//   const done = await chute.upload(file, { onProgress: (p) => console.log(p.loaded / p.total) });
//   console.log(done.download.url);
//
// Pause is an AbortSignal: abort it and the in-flight part uploads stop;
// call upload(file, { resumeId }) later (even after a page reload) and only
// the parts the store does not hold yet are sent. The store must allow the
// page's origin (CORS) and expose the ETag header.

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
 * @property {"pending" | "uploading" | "completing" | "completed" | "aborted" | "expired"} state
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
 * @typedef {Object} CompleteResult
 * @property {string} id
 * @property {string} key
 * @property {"completed"} state
 * @property {number} size
 * @property {string} content_type
 * @property {string} etag
 * @property {Download} download
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
   * failures, 429 and 5xx are retried with backoff; other errors reject
   * with a ChuteError.
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
      if (retryable(resp.status) && attempt < this.retries) {
        await this.backoff(attempt, signal);
        continue;
      }
      const e = (data && data.error) || {};
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
   * partURLs presigns parts (at most 1000 per call).
   * @param {string} id
   * @param {number[]} partNumbers
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<PresignedRequest[]>}
   */
  async partURLs(id, partNumbers, opts) {
    const r = await this.request("POST", `/v1/uploads/${encodeURIComponent(id)}/part-urls`, { part_numbers: partNumbers }, opts);
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
      if (sess.strategy === "single" && sess.state !== "completed" && sess.uploaded_bytes !== sess.size && !this._single.has(sess.id)) {
        // A single PUT URL is handed out once, at create: after a reload
        // the only way on is a fresh session.
        await this.abort(sess.id).catch(() => {});
        sess = null;
      }
    }
    if (!sess) {
      sess = await this.create(
        { filename: name, content_type: contentType, size: file.size, profile: opts.profile || "default", metadata: opts.metadata },
        { signal },
      );
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
      await this._uploadParts(sess, file, opts.parallel || 4, progress, signal);
    }
    const res = await this._complete(sess.id, signal);
    this._single.delete(sess.id);
    return res;
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
   */
  async _uploadParts(sess, file, parallel, progress, signal) {
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
    for (const p of sess.parts || []) if (p.url) urls.set(p.part_number, p);
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
    /** urlFor returns a usable URL for part n, signing a batch when needed. */
    const urlFor = async (n, force) => {
      if (force) urls.delete(n);
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
        const req = await urlFor(n, resign);
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
