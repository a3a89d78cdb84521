// types-check.ts is a typed use of @chute-dev/client as an app would
// write it, checked (never run) by `tsc --noEmit -p .` against the packed
// package installed here by scripts/pack-client.sh. It fails when
// index.d.ts is missing from the tarball or not reachable through the
// package's "exports", when a type is broken, when a declared type is too
// loose (the @ts-expect-error lines), and when index.d.ts declares a
// different API than client-api.json lists (check-exports.mjs holds
// chute.js to the same list).
import * as chute from "@chute-dev/client";
import {
  CHECKSUMS,
  ChuteClient,
  ChuteError,
  Hasher,
  b64,
  combineCRC32,
  hashBlob,
  isAbort,
  type ChuteClientOptions,
  type ClientChecksum,
  type CompleteResult,
  type ErrorCode,
  type Progress,
  type Session,
  type UploadOptions,
} from "@chute-dev/client";
import api from "./client-api.json" with { type: "json" };

// ---- index.d.ts declares exactly the API of client-api.json --------------
// A mismatch fails with the names that differ ("true is not assignable to
// type 'name'").
type Diff<A, B> = Exclude<A, B> | Exclude<B, A>;
type NoDiff<A, B> = [Diff<A, B>] extends [never] ? true : Diff<A, B>;
type Listed<K extends keyof typeof api> = Exclude<keyof (typeof api)[K], "//">;
export const sameExports: NoDiff<keyof typeof chute, Listed<"exports">> = true;
export const sameClient: NoDiff<keyof ChuteClient, Listed<"ChuteClient">> = true;
export const sameHasher: NoDiff<keyof Hasher, Listed<"Hasher">> = true;
export const sameError: NoDiff<Exclude<keyof ChuteError, keyof Error>, Listed<"ChuteError">> = true;

// ---- An app's use: create → upload with progress → result ---------------
const opts: ChuteClientOptions = {
  baseURL: "https://uploads.example.com",
  // A token from the app's backend, fetched before every request.
  token: async () => (await fetch("/api/chute-token")).text(),
  retries: 3,
  retryBaseMs: 250,
};
const client = new ChuteClient(opts);
new ChuteClient(); // every option is optional
new ChuteClient({ token: "static-token" });

export async function uploadOne(file: File, bar: HTMLProgressElement): Promise<string | undefined> {
  const pause = new AbortController();
  let sessionId: string | undefined;
  const options: UploadOptions = {
    profile: "default",
    metadata: { title: file.name },
    contentType: "video/mp4",
    filename: "clip.mp4",
    parallel: 4,
    checksum: "CRC32C",
    checksumPassMax: 16 << 20,
    signal: pause.signal,
    resumeId: sessionId,
    onSession: (s: Session) => {
      sessionId = s.id;
      if (s.strategy === "multipart" && "part_count" in s) console.log(s.part_count);
    },
    onProgress: (p: Progress) => {
      bar.value = p.loaded / p.total;
      const done: number = p.partsDone;
      const of: number = p.partCount;
      const part: number | undefined = p.part;
      console.log(p.id, done, of, part);
    },
  };
  try {
    const done: CompleteResult = await client.upload(file, options);
    const url: string = done.download.url;
    const state: "completed" = done.state;
    if (done.verified) console.log(done.verified.algorithm satisfies ClientChecksum, done.verified.value);
    else if (done.checksumNote) console.log(done.checksumNote);
    console.log(done.key, done.etag, done.size, done.content_type, done.checksum?.value, state);
    return url;
  } catch (err) {
    if (isAbort(err)) {
      const e: DOMException = err;
      console.log("paused", e.name);
      return undefined;
    }
    if (err instanceof ChuteError) {
      const status: number = err.status;
      const code: ErrorCode = err.code;
      const message: string = err.message;
      if (err.code === "checksum_mismatch" || err.code === "quota_exceeded" || err.code === "storage_503") {
        console.error(status, code, message);
      }
    }
    throw err;
  }
}

// ---- The single API calls -----------------------------------------------
export async function manual(blob: Blob): Promise<void> {
  const signal = new AbortController().signal;
  const created = await client.create({ filename: "a.bin", content_type: "application/octet-stream", size: blob.size, checksum: { algorithm: "CRC32C" } }, { signal });
  if (created.strategy === "single") {
    const put: string = created.upload.url;
    console.log(put);
  } else {
    const first: number | undefined = created.parts[0].part_number;
    const urls = await client.partURLs(created.id, [1, 2], { signal, checksums: { "1": "AAAAAA==" } });
    const headers: Record<string, string> = urls[0].headers;
    await client.reportPart(created.id, 1, "etag", 5 << 20, { signal });
    console.log(first, headers);
  }
  const st = await client.status(created.id, { sync: true });
  const parts: number = st.parts.length;
  const reason: string | undefined = st.reason;
  const res = await client.complete(created.id);
  const dl = await client.downloadURL(res.id);
  const aborted = await client.abort(created.id);
  const anything: unknown = await client.request("GET", "/v1/health");
  await client.backoff(0, signal);
  console.log(parts, reason, dl.expires_at, aborted.state, anything);
}

// ---- Checksum helpers -----------------------------------------------------
export async function sums(blob: Blob): Promise<string> {
  const algs: readonly ClientChecksum[] = CHECKSUMS;
  const h: Hasher = client.hasher();
  const offThread: boolean = h.offThread;
  const a = await h.digest(blob.slice(0, 10), "CRC32C");
  const b = await hashBlob(blob.slice(10), "CRC32C");
  const whole: Uint8Array = combineCRC32("CRC32C", [
    { digest: a, size: 10 },
    { digest: b, size: blob.size - 10 },
  ]);
  console.log(algs, offThread, new Hasher());
  return b64(whole);
}

// ---- What the types refuse ----------------------------------------------
export function refused(file: File): void {
  // @ts-expect-error: MD5 is no checksum chute.js computes
  void client.upload(file, { checksum: "MD5" });
  // @ts-expect-error: parallel is a number
  void client.upload(file, { parallel: "4" });
  // @ts-expect-error: unknown option
  void client.upload(file, { chunkSize: 5 << 20 });
  // @ts-expect-error: a progress event has no "percent"
  void client.upload(file, { onProgress: (p) => console.log(p.percent) });
  // @ts-expect-error: the token is a string or a function returning one
  new ChuteClient({ token: 42 });
  // @ts-expect-error: create needs a size
  void client.create({ filename: "a", content_type: "text/plain" });
  // @ts-expect-error: combineCRC32 combines CRCs only
  combineCRC32("SHA256", []);
  // @ts-expect-error: not a code chute.js or Chute uses
  const code: ErrorCode = "teapot";
  // @ts-expect-error: offThread is read-only
  client.hasher().offThread = true;
  console.log(code);
}
