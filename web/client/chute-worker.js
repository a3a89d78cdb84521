// chute-worker.js: the Web Worker in which chute.js computes checksums,
// off the page's thread. chute.js starts it when it sits on the page's
// origin (a Content Security Policy of script-src 'self' allows it) and
// falls back to a Blob URL worker with the same code otherwise.
import { workerMain } from "./chute.js";

workerMain();
