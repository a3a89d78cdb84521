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
