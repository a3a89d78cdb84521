#!/usr/bin/env bash
# The compose kit end to end (deploy/compose.yaml and compose.external.yaml)
# on the local images, with the Docker Compose plugin built from source:
#
#   1. the plugin: github.com/docker/compose/v5 at COMPOSE_VERSION, built
#      once into CHUTE_CACHE (about 7 minutes cold on a loaded machine,
#      seconds with Go's build cache warm) and installed as a Docker CLI
#      plugin;
#   2. the kit: `docker compose up`, then deploy/kitcheck uploads through
#      it (a multipart and a single upload, read back byte for byte, and a
#      browser-style PUT: CORS preflight, ETag exposed, left open), and
#      checks after each restart that the completed uploads and the open
#      session are still there:
#        - Redis killed with SIGKILL and started again (only the append-only
#          file keeps the sessions then);
#        - docker compose restart;
#        - docker compose down and up, keeping the volumes; then the open
#          session is completed;
#   3. the external variant: compose.external.yaml against a versitygw
#      started apart (standing for an existing MinIO or S3), with `run
#      setup`; upload, restart, check.
#
# Everything is removed again (compose down -v), on failure too. Ports are
# on 127.0.0.1 only: KIT_API_PORT (28080), KIT_S3_PORT (27070) and the next
# port of each for the external variant; projects chute-ci-kit and
# chute-ci-kit-ext. Needs the images chute:local (scripts/build-image.sh)
# and chute-test/{redis,versitygw}:local (scripts/build-images.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

COMPOSE_VERSION=v5.6.0
COMPOSE_BIN="$CHUTE_CACHE/docker-compose-$COMPOSE_VERSION/docker-compose"
if [[ "$(id -u)" -eq 0 ]]; then
	PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
else
	PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
fi

KIT_API_PORT="${KIT_API_PORT:-28080}"
KIT_S3_PORT="${KIT_S3_PORT:-27070}"
EXT_API_PORT=$((KIT_API_PORT + 1))
EXT_S3_PORT=$((KIT_S3_PORT + 1))
PROJECT=chute-ci-kit
EXT_PROJECT=chute-ci-kit-ext
EXT_STORE="$EXT_PROJECT-store"
ORIGIN=https://app.example.com

# ensure_compose builds the plugin into the cache once (a throwaway wrapper
# module: `go install` refuses the module, whose go.mod has exclude
# directives) and installs it.
ensure_compose() {
	if [[ -x "$COMPOSE_BIN" ]]; then
		echo "docker compose $COMPOSE_VERSION cached at $COMPOSE_BIN"
	else
		command -v go >/dev/null || die "go is not on PATH"
		echo "building docker compose $COMPOSE_VERSION (about 7 minutes cold) into $COMPOSE_BIN"
		local wrap rc=0
		wrap="$(mktemp -d)"
		(
			set -euo pipefail
			cd "$wrap"
			go mod init chute.invalid/compose-build >/dev/null 2>&1
			go get "github.com/docker/compose/v5@$COMPOSE_VERSION"
			mkdir -p "$(dirname "$COMPOSE_BIN")"
			# A temporary name, so that an interrupted build leaves no binary.
			GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
				-ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
				-o "$COMPOSE_BIN.tmp" github.com/docker/compose/v5/cmd
			mv "$COMPOSE_BIN.tmp" "$COMPOSE_BIN"
		) || rc=$?
		rm -rf "$wrap"
		((rc == 0)) || die "building docker compose $COMPOSE_VERSION failed"
	fi
	mkdir -p "$PLUGIN_DIR"
	if ! cmp -s "$COMPOSE_BIN" "$PLUGIN_DIR/docker-compose"; then
		install -m 0755 "$COMPOSE_BIN" "$PLUGIN_DIR/docker-compose"
		echo "installed $PLUGIN_DIR/docker-compose"
	fi
	local v
	v="$(docker compose version --short 2>&1)" || die "docker compose does not run: $v"
	[[ "$v" == "${COMPOSE_VERSION#v}" || "$v" == "$COMPOSE_VERSION" ]] ||
		die "docker compose reports version $v, want $COMPOSE_VERSION (another plugin earlier on the search path?)"
	echo "docker compose $v"
}

# port_free fails when something answers on 127.0.0.1:$1.
port_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		die "127.0.0.1:$1 is taken; pick other ports with KIT_API_PORT and KIT_S3_PORT"
	fi
}

# remove_project removes every container, network and volume of compose
# project $1 (by compose's labels, so it works whatever the files say).
remove_project() {
	local p="$1"
	docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null
	docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm >/dev/null
	docker volume ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker volume rm >/dev/null
}

WORK="$(mktemp -d)"
cleanup() {
	local rc=$?
	if ((rc != 0)); then
		echo "--- compose kit failed; the last log lines of each service:"
		kit logs --no-color --tail 30 2>&1 || true
		ext logs --no-color --tail 30 2>&1 || true
		docker logs --tail 30 "$EXT_STORE" 2>&1 || true
	fi
	kit down -v --remove-orphans >/dev/null 2>&1 || true
	ext --profile setup down -v --remove-orphans >/dev/null 2>&1 || true
	docker rm -f "$EXT_STORE" >/dev/null 2>&1 || true
	remove_project "$PROJECT"
	remove_project "$EXT_PROJECT"
	rm -rf "$WORK"
	if ((rc == 0)); then
		echo "compose kit: removed the stacks and their volumes"
	fi
	exit "$rc"
}

# timed NAME CMD... runs CMD and prints how long it took.
timed() {
	local name="$1" start=$SECONDS
	shift
	"$@"
	echo "    [$name: $((SECONDS - start))s]"
}

section_start=$SECONDS
ensure_compose
echo "    [plugin: $((SECONDS - section_start))s]"
# --build-only: the plugin only (test.sh builds it in the background while
# the integration tests run).
[[ "${1:-}" != "--build-only" ]] || exit 0

for img in chute:local chute-test/redis:local chute-test/versitygw:local; do
	docker image inspect "$img" >/dev/null 2>&1 ||
		die "image $img missing: run scripts/build-image.sh (chute:local) and scripts/build-images.sh"
done
for p in "$KIT_API_PORT" "$KIT_S3_PORT" "$EXT_API_PORT" "$EXT_S3_PORT"; do
	port_free "$p"
done

# Fresh secrets per run; the rest comes from deploy/.env.example, so the
# example file is checked too. Variables set here win over the file.
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export JWT_SECRET REDIS_PASSWORD S3_ACCESS_KEY S3_SECRET_KEY
JWT_SECRET="$(hex 32)"
REDIS_PASSWORD="$(hex 16)"
S3_ACCESS_KEY="ci$(hex 8)"
S3_SECRET_KEY="$(hex 20)"
export IMAGE_CHUTE=chute:local IMAGE_REDIS=chute-test/redis:local IMAGE_S3=chute-test/versitygw:local
export BIND_ADDRESS=127.0.0.1 CORS_ORIGINS="$ORIGIN"

kit() {
	API_PORT="$KIT_API_PORT" S3_PORT="$KIT_S3_PORT" \
		PUBLIC_URL="http://127.0.0.1:$KIT_API_PORT" S3_PUBLIC_URL="http://127.0.0.1:$KIT_S3_PORT" \
		docker compose --progress quiet --project-directory deploy -f deploy/compose.yaml --env-file deploy/.env.example -p "$PROJECT" "$@"
}
ext() {
	API_PORT="$EXT_API_PORT" PUBLIC_URL="http://127.0.0.1:$EXT_API_PORT" \
		S3_PROVIDER=versitygw S3_ENDPOINT=http://store:7070 S3_PUBLIC_URL="http://127.0.0.1:$EXT_S3_PORT" \
		docker compose --progress quiet --project-directory deploy -f deploy/compose.external.yaml --env-file deploy/.env.example -p "$EXT_PROJECT" "$@"
}
trap cleanup EXIT
remove_project "$PROJECT" # a run killed earlier
remove_project "$EXT_PROJECT"
docker rm -f "$EXT_STORE" >/dev/null 2>&1 || true

timed "build deploy/kitcheck" go build -o "$WORK/kitcheck" ./deploy/kitcheck
# check API_PORT PHASE STATE runs one phase of deploy/kitcheck.
check() {
	KIT_API="http://127.0.0.1:$1" KIT_PHASE="$2" KIT_STATE="$3" KIT_JWT_SECRET="$JWT_SECRET" KIT_ORIGIN="$ORIGIN" \
		"$WORK/kitcheck" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}

echo "--- deploy/compose.yaml"
timed "up (cold)" kit up -d --quiet-pull
kit ps -a --format '{{.Service}}: {{.Status}}'
timed "upload" check "$KIT_API_PORT" upload "$WORK/kit.json"
# A crash right after the writes: only what Redis wrote to its append-only
# file survives (a graceful stop would also write a snapshot where save
# points are configured, as in the official image, so the crash comes
# first).
crash_redis() { kit kill -s SIGKILL redis && kit up -d; }
timed "redis SIGKILL + up" crash_redis
timed "check after redis crash" check "$KIT_API_PORT" check "$WORK/kit.json"
timed "compose restart" kit restart
timed "check after restart" check "$KIT_API_PORT" check "$WORK/kit.json"
timed "compose down (volumes kept)" kit down
timed "compose up" kit up -d
timed "check after down/up, complete the open session" check "$KIT_API_PORT" finish "$WORK/kit.json"
timed "compose down -v" kit down -v

echo "--- deploy/compose.external.yaml (a versitygw started apart stands for your MinIO or S3)"
timed "create" ext up --no-start
docker run -d --name "$EXT_STORE" --network "${EXT_PROJECT}_default" --network-alias store \
	-p "127.0.0.1:$EXT_S3_PORT:7070" -e ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" -e ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
	chute-test/versitygw:local >/dev/null
timed "run setup" ext run --rm setup
timed "up" ext up -d
timed "upload" check "$EXT_API_PORT" upload "$WORK/ext.json"
timed "compose restart" ext restart
timed "check after restart" check "$EXT_API_PORT" check "$WORK/ext.json"
echo "compose kit: both variants passed"
