// Types of @chute-dev/client (chute.js), written by hand for its public
// API. web/e2e/types-check.ts uses every part of it, and
// web/e2e/check-exports.mjs checks that chute.js exports exactly what this
// file declares (CI runs both against the packed package).

/** The algorithms chute.js can compute in the browser. */
export type ClientChecksum = "CRC32C" | "CRC32" | "SHA256";

/** S3 checksum algorithms Chute knows (a session may use one chute.js cannot compute). */
export type ChecksumAlgorithm = ClientChecksum | "CRC64NVME" | "SHA1";

/** Session states. */
export type State = "pending" | "uploading" | "completing" | "completed" | "aborted" | "expired" | "rejected";

/** single: one presigned PUT; multipart: presigned parts. */
export type Strategy = "single" | "multipart";

/** Codes of Chute's error answers (its API's error table). */
export type APIErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "unsupported_type"
  | "incomplete"
  | "rejected"
  | "rate_limited"
  | "quota_exceeded"
  | "storage_unavailable"
  | "internal";

/**
 * Codes chute.js sets itself: "network" (Chute or the store could not be
 * reached; status 0), "file_mismatch" (resumeId names a session of another
 * size), "expired" (a single upload's URL expired), "checksum_mismatch"
 * (the stored object's checksum differs from the file's), `storage_<status>`
 * (the store answered a part PUT with that status) and `http_<status>` (an
 * error answer without a JSON body).
 */
export type ClientErrorCode =
  | "network"
  | "file_mismatch"
  | "expired"
  | "checksum_mismatch"
  | `storage_${number}`
  | `http_${number}`;

export type ErrorCode = APIErrorCode | ClientErrorCode;

/** Options of new ChuteClient(). */
export interface ChuteClientOptions {
  /** Where Chute answers; default: the page's origin. */
  baseURL?: string;
  /**
   * Bearer token, or a function returning one (called before every
   * request, so it may refresh). Empty or absent: no Authorization header.
   */
  token?: string | (() => string | Promise<string>);
  /** Attempts per request after the first (default 5). */
  retries?: number;
  /** First backoff delay in ms (default 500); it doubles per attempt up to 15 s, with jitter. */
  retryBaseMs?: number;
}

/** A presigned request: send exactly these headers (except Content-Length). */
export interface PresignedRequest {
  /** Part number (multipart parts only). */
  part_number?: number;
  method: string;
  /** The presigned URL: a bearer credential, never log it. */
  url: string;
  headers: Record<string, string>;
  /** Bytes of the part. */
  size?: number;
  /** RFC 3339. */
  expires_at: string;
}

/** A part Chute holds as reported. */
export interface Part {
  part_number: number;
  etag: string;
  size: number;
  /** The part's checksum as the store lists it, when it keeps one. */
  checksum?: string;
}

/** The whole object's checksum. */
export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 of the big-endian digest; a COMPOSITE multipart value ends in "-N". */
  value?: string;
}

/** A presigned GET. */
export interface Download {
  url: string;
  expires_at: string;
}

/** Fields every session answer has. */
interface SessionBase {
  id: string;
  key: string;
  size: number;
  content_type: string;
  expires_at: string;
}

/** The answer of create for a single upload. */
export interface CreatedSingle extends SessionBase {
  strategy: "single";
  state: "pending";
  upload: PresignedRequest;
}

/** The answer of create for a multipart upload: URLs of the first parts. */
export interface CreatedMultipart extends SessionBase {
  strategy: "multipart";
  state: "pending";
  part_size: number;
  part_count: number;
  parts: PresignedRequest[];
}

export type Created = CreatedSingle | CreatedMultipart;

/** GET /v1/uploads/{id}. */
export interface Status extends SessionBase {
  strategy: Strategy;
  state: State;
  /** Absent for single uploads. */
  part_size?: number;
  part_count?: number;
  /** The reported parts. */
  parts: Part[];
  uploaded_bytes: number;
  created_at: string;
  updated_at: string;
  checksum?: Checksum;
  /** Why the verify hook rejected the upload (state rejected). */
  reason?: string;
}

/** What onSession receives: the create answer, or the status of a resumed session. */
export type Session = Created | Status;

/** The body of create(). */
export interface CreateRequest {
  filename: string;
  content_type: string;
  size: number;
  /** Default "default". */
  profile?: string;
  metadata?: Record<string, string>;
  checksum?: { algorithm: ChecksumAlgorithm; value?: string };
}

/** A completed upload. */
export interface CompleteResult {
  id: string;
  key: string;
  state: "completed";
  size: number;
  content_type: string;
  /** The object's ETag, unquoted. */
  etag: string;
  download: Download;
  /** The stored object's checksum, as Chute reports it. */
  checksum?: Checksum;
  /**
   * Set by upload(): the whole object's checksum, checked end to end
   * (declared at create and checked by Chute, or reported by Chute and
   * equal to the one computed from the file).
   */
  verified?: { algorithm: ClientChecksum; value: string };
  /** Set by upload() when checksums were on but the whole object was not verified: why. */
  checksumNote?: string;
}

/** A progress event of upload(). */
export interface Progress {
  /** Session id. */
  id: string;
  /** Bytes the store holds or is receiving now. */
  loaded: number;
  /** File size. */
  total: number;
  /** Parts stored and reported. */
  partsDone: number;
  /** Parts in the plan (1 for a single upload). */
  partCount: number;
  /** The part that just finished, if one did. */
  part?: number;
}

/** Options of upload(). */
export interface UploadOptions {
  /** Checksum checked end to end (default "CRC32C"); "none" turns it off. */
  checksum?: ClientChecksum | "none";
  /** Largest file hashed whole before create so its value is declared (default 64 MiB; 0: never). */
  checksumPassMax?: number;
  /** Profile name (default "default"). */
  profile?: string;
  /** Stored as object metadata. */
  metadata?: Record<string, string>;
  /** Default: file.type, else application/octet-stream. */
  contentType?: string;
  /** Default: file.name, else "blob". */
  filename?: string;
  /** Parts in flight at once (default 4). */
  parallel?: number;
  /** Called as bytes go and parts finish. */
  onProgress?: (p: Progress) => void;
  /** Called once the session is known, before any byte is sent: keep s.id to resume later. */
  onSession?: (s: Session) => void;
  /** Abort to pause: in-flight requests stop and upload() rejects with an AbortError (see isAbort). */
  signal?: AbortSignal;
  /** Continue this session instead of creating one. */
  resumeId?: string;
}

/** Options of the single API calls. */
export interface RequestOptions {
  signal?: AbortSignal;
}

/** An error answer of Chute or of the store, or a failure chute.js detected. */
export class ChuteError extends Error {
  constructor(status: number, code: ErrorCode, message: string);
  readonly name: "ChuteError";
  /** HTTP status; 0 for a network failure or a check of chute.js. */
  status: number;
  code: ErrorCode;
}

/** isAbort reports whether err is the AbortError of a paused or cancelled upload. */
export function isAbort(err: unknown): err is DOMException;

/** The algorithms upload() can compute. */
export const CHECKSUMS: readonly ClientChecksum[];

/** hashBlob returns the big-endian digest of blob, on the calling thread. */
export function hashBlob(blob: Blob, alg: ClientChecksum): Promise<Uint8Array>;

/** workerMain runs a checksum worker's message loop (chute-worker.js calls it). */
export function workerMain(): void;

/**
 * Hasher computes digests in a Web Worker: chute-worker.js next to
 * chute.js when it is on the page's origin, else a Blob URL worker, else
 * on the page (with a console warning).
 */
export class Hasher {
  constructor();
  /** True while digests are computed in a worker. */
  readonly offThread: boolean;
  digest(blob: Blob, alg: ClientChecksum): Promise<Uint8Array>;
}

/** b64 is the header form (base64) of a digest. */
export function b64(digest: Uint8Array): string;

/** combineCRC32 returns the CRC of the concatenation of ranges from their CRCs and lengths. */
export function combineCRC32(alg: "CRC32C" | "CRC32", ranges: { digest: Uint8Array; size: number }[]): Uint8Array;

/** ChuteClient talks to one Chute server. */
export class ChuteClient {
  constructor(opts?: ChuteClientOptions);
  /** baseURL without a trailing slash. */
  baseURL: string;
  token: ChuteClientOptions["token"];
  retries: number;
  retryBaseMs: number;

  /**
   * upload sends file and resolves with the completed upload. Abort
   * opts.signal to pause (it rejects with an AbortError) and call upload
   * again with opts.resumeId to continue.
   */
  upload(file: Blob, opts?: UploadOptions): Promise<CompleteResult>;

  /** POST /v1/uploads: opens an upload session. */
  create(req: CreateRequest, opts?: RequestOptions): Promise<Created>;
  /** GET /v1/uploads/{id}; with sync, Chute first reconciles the reported parts with the store. */
  status(id: string, opts?: RequestOptions & { sync?: boolean }): Promise<Status>;
  /** Presigns parts (at most 1000 a call); checksums maps part numbers to base64 values. */
  partURLs(
    id: string,
    partNumbers: number[],
    opts?: RequestOptions & { checksums?: Record<string, string> },
  ): Promise<PresignedRequest[]>;
  /** Tells Chute part n is stored (idempotent). */
  reportPart(id: string, n: number, etag: string, size: number, opts?: RequestOptions): Promise<Status>;
  /** Finalizes the upload (idempotent). */
  complete(id: string, opts?: RequestOptions): Promise<CompleteResult>;
  /** Ends the session and aborts its upload in the store. */
  abort(id: string): Promise<Status>;
  /** A fresh presigned GET of a completed upload. */
  downloadURL(id: string): Promise<Download>;
  /**
   * request calls the API (path below baseURL, e.g. "/v1/uploads") and
   * resolves with the decoded JSON answer; network failures, 408, 429 and
   * 5xx are retried with backoff, other errors reject with a ChuteError.
   */
  request(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<any>;
  /** The client's checksum worker, started on first use. */
  hasher(): Hasher;
  /** Waits before retry number attempt (0-based): exponential with full jitter, capped at 15 s. */
  backoff(attempt: number, signal?: AbortSignal): Promise<void>;
}
