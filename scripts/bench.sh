#!/usr/bin/env bash
# The benchmark command: builds chute and the suite (bench/cmd/chutebench),
# starts redis-server, versitygw and `chute serve` on 127.0.0.1, runs every
# measurement side by side in one run and writes the results into
# BENCHMARKS.md between its results markers (the only writer of that block),
# with the top functions of a CPU profile of sign-part. Takes 3-6 minutes (longer on a busy machine); leaves nothing running.
#
# Environment: BENCH_DURATION (default 8s) is each load run, BENCH_ROUNDS
# (default 2) the rounds of each, BENCH_SIZE (default 1073741824, 1 GiB) the bytes
# of the end-to-end upload, BENCH_OUT (default a temporary folder) keeps
# the logs, binaries and the CPU profile. Go benchmarks are apart:
# go test -run '^$' -bench . ./backends/ ./broker/ ./multipart/ ./sessions/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

OUT="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

step "tools (redis-server, versitygw)"
if [[ ! -x /usr/bin/redis-server ]]; then
	[[ "$(id -u)" -eq 0 ]] || die "redis-server missing: sudo apt-get install -y --no-install-recommends redis-server"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
fi
ensure_versitygw
step_done

step "build chute and chutebench"
go build -o "$OUT/chute" ./cmd/chute
go build -o "$OUT/chutebench" ./bench/cmd/chutebench
step_done

step "benchmark suite (results: $OUT/results.md)"
"$OUT/chutebench" suite \
	-chute "$OUT/chute" -versitygw "$VERSITYGW_BIN" -redis-server /usr/bin/redis-server \
	-d "${BENCH_DURATION:-8s}" -rounds "${BENCH_ROUNDS:-2}" -size "${BENCH_SIZE:-1073741824}" \
	-cpuprofile "$OUT/sign-part.pprof" -e2e-cpuprofile "$OUT/e2e.pprof" -out "$OUT/results.md"
{
	echo
	echo '#### CPU profile of sign-part (top 25 by cumulative time)'
	echo
	echo '```'
	go tool pprof -top -cum -nodecount=25 "$OUT/chutebench" "$OUT/sign-part.pprof" 2>/dev/null | sed -n '4,$p'
	echo '```'
	echo
	echo '#### CPU profile of sign-part (top 15 by own time)'
	echo
	echo '```'
	go tool pprof -top -nodecount=15 "$OUT/chutebench" "$OUT/sign-part.pprof" 2>/dev/null | sed -n '6,$p'
	echo '```'
	if [[ -s "$OUT/e2e.pprof" ]]; then
		echo
		echo "#### CPU profile of the broker during one $((${BENCH_SIZE:-1073741824} / 1048576)) MiB upload (top 20 by cumulative time, Chute code only)"
		echo
		echo '```'
		go tool pprof -top -cum -nodecount=20 -focus 'chute-dev/chute' "$OUT/chutebench" "$OUT/e2e.pprof" 2>/dev/null | sed -n '4,$p'
		echo '```'
	fi
} >>"$OUT/results.md"
step_done

step "BENCHMARKS.md"
# Only this step writes the results block of BENCHMARKS.md, whole: the
# suite's output of this run (every "met" / "NOT met" in it is computed by
# chutebench from this run's figures), the tree it measured, and a SHA-256
# of the block in its start marker, so that a hand edit inside the block
# fails the unit tests (bench/cmd/chutebench: TestResultsBlockUntouched).
# Hand-written notes go in the History section below the block.
tree="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- . ':!BENCHMARKS.md' 2>/dev/null || tree+=" with uncommitted changes"
python3 - "$OUT/results.md" BENCHMARKS.md "$tree" <<'PY'
import hashlib, re, sys
results, target, tree = sys.argv[1], sys.argv[2], sys.argv[3]
start_re, end = re.compile(r"<!-- results:start[^>]*-->\n"), "<!-- results:end -->"
doc = open(target).read()
m = start_re.search(doc)
if not m or end not in doc[m.end():]:
    sys.exit(f"{target} lacks the <!-- results:start --> / {end} markers")
body = open(results).read().rstrip("\n") + "\n"
if not body.startswith("## Results\n") or "\n- date: " not in body:
    sys.exit(f"{results} is not a complete suite output; {target} left as it was")
body = body.replace("\n- date: ", f"\n- tree: {tree}\n- date: ", 1)
digest = hashlib.sha256(body.encode()).hexdigest()
tail = doc[m.end():].split(end, 1)[1]
open(target, "w").write(doc[:m.start()] + f"<!-- results:start sha256={digest} -->\n" + body + end + tail)
PY
echo "results written into BENCHMARKS.md (logs, binaries and profile in $OUT)"
step_done
