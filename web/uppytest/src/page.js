// page.js is the browser side of Chute's Uppy test: real @uppy/core and
// @uppy/aws-s3 in companionEndpoint mode, pointed at Chute's /s3 routes.
// esbuild bundles it into one script (test/browser_uppy_test.go does).
//
// The page reads its Companion endpoint from ?endpoint= (Chute's base URL
// plus /t/<token>, since Uppy's fetch sends no auth header). Files chosen
// in #files are uploaded at once; window.uppyResult holds the outcome.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

const MiB = 1024 * 1024;
const endpoint = new URLSearchParams(location.search).get("endpoint");

const uppy = new Uppy({ autoProceed: false });
uppy.use(AwsS3, {
  companionEndpoint: endpoint,
  // Multipart above 16 MiB (Uppy's default is 100 MiB), in 8 MiB parts.
  shouldUseMultipart: (file) => file.size > 16 * MiB,
  getChunkSize: () => 8 * MiB,
});

/** What the test reads: one entry per file, never a URL. */
const successes = [];
const failures = [];
uppy.on("upload-success", (file, response) => {
  successes.push({ name: file.name, size: file.size, key: response.body.key, multipart: file.size > 16 * MiB });
});
uppy.on("upload-error", (file, error) => {
  failures.push({ name: file.name, error: String(error && error.message).replace(/\?\S*/g, "?…") });
});

document.getElementById("files").addEventListener("change", async (ev) => {
  for (const f of ev.target.files) {
    uppy.addFile({ name: f.name, type: f.type, data: f, source: "test" });
  }
  const result = await uppy.upload();
  window.uppyResult = {
    successes,
    failures,
    successful: result ? result.successful.length : 0,
    failed: result ? result.failed.length : 0,
  };
});
window.uppyReady = true;
