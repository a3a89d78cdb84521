#!/usr/bin/env bash
# The one test command: installs and starts what the tests need (Docker,
# redis-server, the local images), then runs the checks, unit tests,
# integration tests against real containers and a benchmark smoke run.
# Idempotent; run it from anywhere. CI runs it through .ci/run.
#
# Environment: CHUTE_CACHE (default /var/cache/chute for root) keeps the
# versitygw, SeaweedFS and promtool builds between runs. CHUTE_TEST_STORES (default
# "versitygw seaweedfs") lists the stores the integration tests run against,
# one full pass each.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

MODULE="$(go list -m)"
LOG_DIR="${CHUTE_LOG_DIR:-$(mktemp -d)}"
mkdir -p "$LOG_DIR"

# CHUTE_TEST_STORES narrows the stores of the integration passes (e.g.
# CHUTE_TEST_STORES=seaweedfs). It is checked first, so that a mistake
# fails now rather than after the slow steps. Set but empty or blank is an
# error, not "no store": that would run no integration test and pass.
read -r -a stores <<<"${CHUTE_TEST_STORES-versitygw seaweedfs}"
((${#stores[@]})) || die "CHUTE_TEST_STORES is set but names no store (${CHUTE_TEST_STORES@Q}); name versitygw, seaweedfs or both, or unset it for both"
for store in "${stores[@]}"; do
	case "$store" in
	versitygw | seaweedfs) ;;
	*) die "CHUTE_TEST_STORES: unknown store ${store@Q} (known: versitygw seaweedfs)" ;;
	esac
done

# remove_orphans removes containers and networks that earlier test runs left
# behind (there is no Ryuk reaper). Only those older than the integration
# tests' timeout go, so a run in progress on the same daemon keeps its own.
remove_orphans() {
	local cutoff=$(($(date +%s) - 35 * 60)) id created n=0
	while read -r id created; do
		if (($(date -d "$created" +%s) < cutoff)); then
			docker rm -f "$id" >/dev/null && n=$((n + 1))
		fi
	done < <(docker ps -aq --filter label=org.testcontainers=true |
		xargs -r docker inspect -f '{{.Id}} {{.Created}}')
	while read -r id created; do
		if (($(date -d "$created" +%s) < cutoff)); then
			# A network still in use by a live container stays.
			docker network rm "$id" >/dev/null 2>&1 && n=$((n + 1))
		fi
	done < <(docker network ls -q --filter label=org.testcontainers=true |
		xargs -r docker network inspect -f '{{.Id}} {{.Created}}')
	echo "removed $n leftover test containers/networks"
}

step "system packages (docker.io, redis-server)"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
[[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
if ((${#missing[@]})); then
	[[ "$(id -u)" -eq 0 ]] || die "missing ${missing[*]}: install with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Refresh the package lists only when the install cannot find something.
	if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
		apt-get update
		apt-get install -y --no-install-recommends "${missing[@]}"
	fi
else
	echo "docker.io and redis-server already installed"
fi
step_done

step "docker daemon"
if docker version >/dev/null 2>&1; then
	echo "daemon answers"
else
	# One daemon only: if a dockerd is already starting, just wait for it.
	if ! pgrep -x dockerd >/dev/null; then
		[[ "$(id -u)" -eq 0 ]] || die "Docker daemon not running: start it (sudo dockerd) or add yourself to the docker group"
		echo "starting dockerd (log: /var/log/chute-dockerd.log)"
		nohup dockerd --storage-driver=overlay2 >/var/log/chute-dockerd.log 2>&1 &
	fi
	for _ in $(seq 60); do
		docker version >/dev/null 2>&1 && break
		sleep 0.5
	done
	docker version >/dev/null 2>&1 || die "dockerd did not answer within 30 s; see /var/log/chute-dockerd.log"
	echo "daemon answers"
fi
remove_orphans
step_done

# The SeaweedFS binary (about 10 minutes of compiling cold) is needed only
# for the test images, just before the integration tests: it builds in the
# background while versitygw, the browser tooling, the checks and the unit
# tests run. The jobs still running when the script ends are stopped.
trap bg_stop_all EXIT
bg_start seaweedfs ensure_seaweedfs

step "versitygw binary"
ensure_versitygw
step_done

step "browser tooling (chromium, npm ci for the browser tests)"
if [[ ! -x /usr/bin/chromium ]]; then
	[[ "$(id -u)" -eq 0 ]] || die "missing chromium: install with: sudo apt-get install -y chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
# npm runs the browser tests' locked packages. Node.js from NodeSource
# (the "nodejs" package of deb.nodesource.com) ships npm inside it and
# conflicts with Debian's separate "npm" package; Debian's own nodejs needs
# that package. So: install nodejs when there is no node at all, then add
# Debian's npm only when the nodejs installed is Debian's.
if ! command -v npm >/dev/null; then
	[[ "$(id -u)" -eq 0 ]] || die "npm is needed for the browser tests: install Node.js 18 or newer with npm (sudo apt-get install -y nodejs npm)"
	export DEBIAN_FRONTEND=noninteractive
	if ! command -v node >/dev/null; then
		echo "installing nodejs (node and npm for the browser tests)"
		apt-get install -y --no-install-recommends nodejs ||
			{ apt-get update && apt-get install -y --no-install-recommends nodejs; }
	fi
	if ! command -v npm >/dev/null; then
		if dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
			die "node comes from NodeSource's nodejs package, which includes npm, but npm is missing: reinstall it (apt-get install --reinstall nodejs); Debian's npm package conflicts with it"
		fi
		echo "installing Debian's npm (it goes with Debian's nodejs)"
		apt-get install -y --no-install-recommends npm ||
			{ apt-get update && apt-get install -y --no-install-recommends npm; }
	fi
	command -v npm >/dev/null || die "npm is still missing after installing nodejs and npm"
fi
echo "node $(node --version), npm $(npm --version)"
# Every browser-test folder with a lockfile gets exactly its locked packages.
for dir in web/e2e web/uppytest; do
	if [[ -f "$dir/package-lock.json" ]]; then
		(cd "$dir" && npm ci --no-audit --no-fund)
	fi
done
step_done

# The npm package @chute-dev/client (web/client): packed, its tarball
# installed into web/e2e (after the npm ci above, which would remove it),
# its types checked with tsc; the browser tests load chute.js from there.
step "npm client (npm pack, install into web/e2e, tsc --noEmit, exports)"
CHUTE_PACK_DIR="$LOG_DIR/npm-client" scripts/pack-client.sh
step_done

export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
export CHUTE_REQUIRE_DOCKER=1

step "gofmt, go vet, staticcheck"
unformatted="$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)"
[[ -z "$unformatted" ]] || die "gofmt needed on: $unformatted"
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
step_done

# Every package except the container-backed ones under ./test.
mapfile -t unit_pkgs < <(go list ./... | grep -v "^$MODULE/test\(/\|$\)")
mapfile -t integ_pkgs < <(go list ./test/...)
((${#integ_pkgs[@]})) || die "go list ./test/... found no package"

step "unit tests (race detector)"
go test -race -count=1 "${unit_pkgs[@]}"
step_done

step "seaweedfs binary (built in the background since the start)"
bg_wait seaweedfs
step_done

step "test images"
scripts/build-images.sh
step_done

# promtool and the Compose plugin are needed after the integration tests,
# which mostly wait on containers: their cold builds (3-7 minutes of CPU
# each) use that idle time.
bg_start promtool ensure_promtool
bg_start compose "scripts/compose-kit.sh --build-only"


# run_integration STORE runs ./test/... with CHUTE_TEST_STORE=STORE (every
# test that starts "the store" gets that one) and records its counts in
# INTEG_SUMMARY. A skip fails the step: it is not a pass here.
INTEG_SUMMARY=()
run_integration() {
	local store="$1" log passed failed skipped status
	step "integration tests against $store (./test/..., real containers)"
	log="$LOG_DIR/integration-$store.log"
	: >"$log"
	status=0
	# One package per go test: go test buffers a package's -v output until
	# the package ends when it runs several packages at once, and the main
	# ./test package takes minutes. One at a time, each test's --- PASS
	# line appears as the test ends. The test binary builds first (silent,
	# up to a few minutes cold).
	for pkg in "${integ_pkgs[@]}"; do
		echo "--- $store: go test -v $pkg (building the test binary, then a line per test as it ends)"
		set +e
		CHUTE_TEST_STORE="$store" go test -count=1 -v -timeout 30m "$pkg" 2>&1 | tee -a "$log"
		((PIPESTATUS[0] == 0)) || status=1
		set -e
	done
	passed="$(grep -cE '^\s*--- PASS' "$log" || true)"
	failed="$(grep -cE '^\s*--- FAIL' "$log" || true)"
	skipped="$(grep -cE '^\s*--- SKIP' "$log" || true)"
	echo "integration ($store): $passed passed, $failed failed, $skipped skipped (log: $log)"
	((status == 0)) || die "integration tests against $store failed"
	((skipped == 0)) || die "integration tests against $store were skipped; a skip is not a pass here"
	if ((passed == 0)) || ! grep -qE '^(ok|PASS)' "$log"; then
		die "no integration test ran against $store"
	fi
	INTEG_SUMMARY+=("integration-$store: $passed passed, $failed failed, $skipped skipped")
	step_done
}

# The same tests against both stores (CHUTE_TEST_STORES, checked above).
for store in "${stores[@]}"; do
	run_integration "$store"
done

# The dashboard and alert rules of deploy/monitoring: promtool checks the
# rules, fires each alert from the synthetic series of its unit tests, and
# parses every dashboard query (TestDashboardQueriesParse); the unit tests
# above already checked that they name only metrics Chute exports.
step "monitoring rules and dashboard (promtool)"
bg_wait promtool
"$PROMTOOL_BIN" --version 2>&1 | sed -n 1p
"$PROMTOOL_BIN" check rules deploy/monitoring/chute-alerts.yml
(cd deploy/monitoring && "$PROMTOOL_BIN" test rules chute-alerts.test.yml)
CHUTE_PROMTOOL="$PROMTOOL_BIN" go test -count=1 -v -run '^TestDashboardQueriesParse$' ./metrics/ |
	tee "$LOG_DIR/dashboard-queries.log"
grep -q -- '--- PASS: TestDashboardQueriesParse' "$LOG_DIR/dashboard-queries.log" ||
	die "TestDashboardQueriesParse did not pass (a skip is not a pass here)"
step_done

step "chute image and the chutetest example (examples/uploadtest)"
scripts/build-image.sh
log="$LOG_DIR/example.log"
set +e
(cd examples/uploadtest && go vet ./... && go test -count=1 -v ./...) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
ex_passed="$(grep -cE '^\s*--- PASS' "$log" || true)"
ex_skipped="$(grep -cE '^\s*--- SKIP' "$log" || true)"
((status == 0)) || die "examples/uploadtest failed (log: $log); after a change to the root go.mod, run: (cd examples/uploadtest && go mod tidy)"
((ex_skipped == 0)) || die "examples/uploadtest was skipped; a skip is not a pass here"
((ex_passed > 0)) || die "examples/uploadtest ran no test"
echo "example: $ex_passed passed"
step_done

# The compose kit (deploy/) on the images built above, with the Compose
# plugin built from source and cached (scripts/compose-kit.sh).
step "compose kit (deploy/compose.yaml, compose.external.yaml)"
bg_wait compose
scripts/compose-kit.sh
step_done

step "fuzzing (${CHUTE_FUZZTIME:-8s} per target)"
# -fuzz takes one target per run. A failing input fails this step, and Go
# saves it under the package's testdata/fuzz/<Target>/: commit it, so the
# unit tests replay it from then on. 8s each keeps the step near 90s with
# the instrumented builds.
for target in ./broker/httpapi:FuzzDecode ./broker/httpapi:FuzzCreate ./broker:FuzzRenderKey \
	./broker:FuzzExtension ./backends:FuzzDisposition ./multipart:FuzzNormalizeETag; do
	for try in 1 2 3; do
		set +e
		out="$(go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "${CHUTE_FUZZTIME:-8s}" "${target%%:*}" 2>&1)"
		status=$?
		set -e
		echo "$out"
		((status == 0)) && break
		# Go's fuzzer sometimes ends a time-bounded run on a loaded machine
		# with "context deadline exceeded" and no failing input: that is the
		# harness, not a finding, so run that target again (at most three runs).
		if ((try < 3)) && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
			echo "fuzz harness timed out without a finding; running ${target#*:} again"
			continue
		fi
		die "fuzzing ${target#*:} failed"
	done
done
step_done

step "benchmarks (one iteration each)"
go test -run '^$' -bench . -benchtime=1x "${unit_pkgs[@]}"
step_done

echo
echo "==> all steps passed; time per step:"
printf '    %s\n' "${STEP_TIMES[@]}"
printf '%s\n' "${INTEG_SUMMARY[@]}"
