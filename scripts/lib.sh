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
