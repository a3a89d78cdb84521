#!/usr/bin/env bash
# Packs the npm package @chute-dev/client (web/client) with `npm pack`,
# installs the tarball into the browser test harness (web/e2e, after its
# `npm ci`) and checks the packed package there: its types with
# `tsc --noEmit` over web/e2e/types-check.ts, that chute.js exports
# exactly what index.d.ts declares, and its retries (retry.mjs). The
# browser tests in ./test then load chute.js from
# web/e2e/node_modules/@chute-dev/client, so a file left out of
# package.json's "files" fails them.
#
# Environment: CHUTE_PACK_DIR keeps the tarball (default: a temporary
# folder, removed at exit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v npm >/dev/null || { echo "pack-client: npm is missing (install Node.js 18+ with npm)" >&2; exit 1; }
[[ -x web/e2e/node_modules/.bin/tsc ]] || { echo "pack-client: run npm ci in web/e2e first (typescript is missing)" >&2; exit 1; }

out="${CHUTE_PACK_DIR:-}"
if [[ -z "$out" ]]; then
	out="$(mktemp -d)"
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

json="$(cd web/client && npm pack --json --pack-destination "$out")"
tgz="$out/$(node -e 'const [p] = JSON.parse(process.argv[1]); process.stdout.write(p.filename)' "$json")"
node -e '
const [p] = JSON.parse(process.argv[1]);
console.log(`packed ${p.id}: ${p.filename}, ${p.size} bytes (${p.unpackedSize} unpacked), ${p.files.length} files:`);
for (const f of p.files) console.log(`  ${String(f.size).padStart(7)}  ${f.path}`);
' "$json"

# --no-save: the harness's package.json and lockfile stay as committed;
# the tarball has no dependencies, so nothing else is fetched.
(cd web/e2e && npm install --no-save --no-audit --no-fund "$tgz")
(cd web/e2e && ./node_modules/.bin/tsc --noEmit -p tsconfig.json)
(cd web/e2e && node check-exports.mjs)
(cd web/e2e && node retry.mjs)
echo "pack-client: $(basename "$tgz") installed into web/e2e, types and exports checked"
