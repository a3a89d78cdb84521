// retry.mjs checks the packed @chute-dev/client's retries against a fetch
// that answers from a script: a 429 rate_limited and a 503 are retried
// until the answer comes, a 429 quota_exceeded and a 400 are not (one
// request, the error at once, with its code). Prints one line; exits 1 on
// a difference. Run by scripts/pack-client.sh.
import { ChuteClient, ChuteError } from "@chute-dev/client";

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const refusal = (status, code) => json(status, { error: { code, message: code } });

let calls = 0;
function serve(answers) {
  calls = 0;
  globalThis.fetch = async () => answers[Math.min(calls++, answers.length - 1)]();
}

const client = new ChuteClient({ baseURL: "http://chute.invalid", token: "t", retries: 5, retryBaseMs: 1 });
const ok = () => json(200, { id: "upl_x", state: "pending" });
const failures = [];

for (const [name, answers, wantCalls, wantCode] of [
  ["429 rate_limited, then 200", [() => refusal(429, "rate_limited"), () => refusal(429, "rate_limited"), ok], 3, null],
  ["503, then 200", [() => refusal(503, "storage_unavailable"), ok], 2, null],
  ["429 quota_exceeded", [() => refusal(429, "quota_exceeded"), ok], 1, "quota_exceeded"],
  ["400 invalid_request", [() => refusal(400, "invalid_request"), ok], 1, "invalid_request"],
]) {
  serve(answers);
  let code = null;
  try {
    await client.status("upl_x");
  } catch (err) {
    code = err instanceof ChuteError ? err.code : `not a ChuteError: ${err}`;
  }
  if (calls !== wantCalls || code !== wantCode) {
    failures.push(`${name}: ${calls} requests and error ${code}, want ${wantCalls} and ${wantCode}`);
  }
}
if (failures.length) {
  console.error("retry.mjs:\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("retry.mjs: 429 rate_limited and 503 retried, 429 quota_exceeded and 400 answered at once");
