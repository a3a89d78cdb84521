# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/build-images.sh. Source it;
# it does not run anything by itself.

VERSITYGW_VERSION=v1.8.0

# CHUTE_CACHE holds build outputs kept across runs (the versitygw binary).
if [[ -z "${CHUTE_CACHE:-}" ]]; then
	if [[ "$(id -u)" -eq 0 ]]; then
		CHUTE_CACHE=/var/cache/chute
	else
		CHUTE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chute"
	fi
fi
VERSITYGW_BIN="$CHUTE_CACHE/versitygw-$VERSITYGW_VERSION/bin/versitygw"

# step prints a banner for the next step and records when it started.
step() {
	STEP_NAME="$1"
	STEP_START=$SECONDS
	echo
	echo "==> $STEP_NAME"
}

# step_done reports how long the current step took.
step_done() {
	echo "    ($STEP_NAME: $((SECONDS - STEP_START))s)"
	STEP_TIMES+=("$(printf '%5ss  %s' "$((SECONDS - STEP_START))" "$STEP_NAME")")
}
STEP_TIMES=()

die() {
	echo "error: $*" >&2
	exit 1
}

# Background jobs. The slow cold builds (SeaweedFS, promtool, the Compose
# plugin) take minutes of CPU each on a fresh machine but are needed only
# later in the run, so test.sh starts them early, at a lower priority, and
# waits for each where it is needed; on a warm machine they find their
# binary cached and end at once.
#
# bg_start NAME SNIPPET runs SNIPPET (bash, with scripts/lib.sh sourced) in
# a process group of its own at nice 10, its output in $LOG_DIR/bg-NAME.log.
# bg_wait NAME waits for it, prints its output and dies if it failed.
# bg_stop_all ends the jobs still running (test.sh calls it on exit).
declare -A BG_PIDS=()
bg_start() {
	local name="$1" snippet="$2"
	echo "started in the background: $name (log: $LOG_DIR/bg-$name.log)"
	CHUTE_CACHE="$CHUTE_CACHE" setsid nice -n 10 bash -c \
		"set -euo pipefail; source scripts/lib.sh; $snippet" >"$LOG_DIR/bg-$name.log" 2>&1 &
	BG_PIDS[$name]=$!
}
bg_wait() {
	local name="$1" pid="${BG_PIDS[$1]:-}" rc=0 start=$SECONDS
	[[ -n "$pid" ]] || die "no background job named $name"
	wait "$pid" || rc=$?
	unset 'BG_PIDS[$name]'
	sed 's/^/    | /' "$LOG_DIR/bg-$name.log"
	echo "    (waited $((SECONDS - start))s for $name)"
	((rc == 0)) || die "$name failed in the background (exit $rc; log: $LOG_DIR/bg-$name.log)"
}
bg_stop_all() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -- "-$pid" 2>/dev/null || true
	done
}

# ensure_versitygw builds the static versitygw binary into the cache once.
ensure_versitygw() {
	if [[ -x "$VERSITYGW_BIN" ]]; then
		echo "versitygw $VERSITYGW_VERSION cached at $VERSITYGW_BIN"
		return
	fi
	command -v go >/dev/null || die "go is not on PATH"
	echo "building versitygw $VERSITYGW_VERSION (about 2 minutes cold) into $VERSITYGW_BIN"
	mkdir -p "$(dirname "$VERSITYGW_BIN")"
	CGO_ENABLED=0 GOBIN="$(dirname "$VERSITYGW_BIN")" \
		go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}

# SeaweedFS (Apache-2.0) is the second store the integration suite runs
# against. It has no tagged module release, so it is pinned by pseudo-version.
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
SEAWEEDFS_BIN="$CHUTE_CACHE/seaweedfs-$SEAWEEDFS_VERSION/bin/weed"

# ensure_seaweedfs builds the static weed binary into the cache once (about
# 14 minutes and 2.6 GB of memory cold, under 30 s with a warm Go build
# cache). `go install module@version` refuses modules whose go.mod has replace
# directives, so it builds from a throwaway wrapper module in a temporary
# directory that requires SeaweedFS and repeats its replace lines. No
# SeaweedFS code is kept in this repository.
ensure_seaweedfs() {
	if [[ -x "$SEAWEEDFS_BIN" ]]; then
		echo "seaweedfs $SEAWEEDFS_VERSION cached at $SEAWEEDFS_BIN"
		return
	fi
	command -v go >/dev/null || die "go is not on PATH"
	echo "building seaweedfs $SEAWEEDFS_VERSION (about 14 minutes cold) into $SEAWEEDFS_BIN"
	local mod="github.com/seaweedfs/seaweedfs" wrap gomod
	wrap="$(mktemp -d)"
	(
		set -euo pipefail
		cd "$wrap"
		gomod="$(go mod download -json "$mod@$SEAWEEDFS_VERSION" |
			sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
		[[ -f "$gomod" ]] || die "go mod download did not give SeaweedFS's go.mod"
		{
			echo "module chute.invalid/seaweedfs-build"
			echo
			sed -n 's/^go \([0-9.]*\)$/go \1/p' "$gomod"
			echo
			echo "require $mod $SEAWEEDFS_VERSION"
			echo
			# Replace lines (single-line form and replace blocks), comments dropped.
			awk '/^replace[[:space:]]*\($/ { blk = 1; print; next }
			     blk && /^\)/ { blk = 0; print; next }
			     blk || /^replace[[:space:]]/ { print }' "$gomod"
		} >go.mod
		GOFLAGS=-mod=mod go get "$mod/weed@$SEAWEEDFS_VERSION"
		mkdir -p "$(dirname "$SEAWEEDFS_BIN")"
		# Build to a temporary name so an interrupted build leaves no binary.
		CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' \
			-o "$SEAWEEDFS_BIN.tmp" "$mod/weed"
		mv "$SEAWEEDFS_BIN.tmp" "$SEAWEEDFS_BIN"
	)
	local rc=$?
	rm -rf "$wrap"
	[[ $rc -eq 0 ]] || die "building seaweedfs failed"
}

# promtool checks and unit-tests the alert rules of deploy/monitoring. It
# comes from the Prometheus module (v0.316.0 is Prometheus 3.16.0), built
# with the remove_all_sd tag: promtool's own code stays whole, only the
# service-discovery plugins it registers (AWS, Azure, GCE, ...) are left
# out, which the rule checks never use and which are most of the build.
PROMETHEUS_VERSION=v0.316.0
PROMTOOL_BIN="$CHUTE_CACHE/promtool-$PROMETHEUS_VERSION/bin/promtool"

# ensure_promtool builds the static promtool binary into the cache once.
# The module has no replace directives, so `go install module@version`
# builds it in a module context of its own (no wrapper module needed) and
# nothing of it enters Chute's go.mod.
ensure_promtool() {
	if [[ -x "$PROMTOOL_BIN" ]]; then
		echo "promtool $PROMETHEUS_VERSION cached at $PROMTOOL_BIN"
		return
	fi
	command -v go >/dev/null || die "go is not on PATH"
	echo "building promtool $PROMETHEUS_VERSION (a few minutes cold) into $PROMTOOL_BIN"
	local tmp
	tmp="$(mktemp -d)"
	# Build into a temporary directory so an interrupted build leaves no binary.
	if ! CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags='-s -w' -tags remove_all_sd \
		"github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"; then
		rm -rf "$tmp"
		die "building promtool failed"
	fi
	mkdir -p "$(dirname "$PROMTOOL_BIN")"
	mv "$tmp/promtool" "$PROMTOOL_BIN"
	rm -rf "$tmp"
}
