#!/usr/bin/env bash
# Builds the local test images FROM scratch (no registry is reachable):
#   chute-test/redis:local      the host's redis-server and its libraries
#   chute-test/versitygw:local  the static versitygw binary
#   chute-test/seaweedfs:local  the static SeaweedFS weed binary
# An image is rebuilt only when its inputs change: each carries a label with
# the hash of everything copied into it. Needs a running Docker daemon and
# /usr/bin/redis-server (apt redis-server); scripts/test.sh sets both up.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

REDIS_IMAGE=chute-test/redis:local
VERSITYGW_IMAGE=chute-test/versitygw:local
SEAWEEDFS_IMAGE=chute-test/seaweedfs:local
HASH_LABEL=dev.chute.inputs-sha256

docker version >/dev/null 2>&1 || die "Docker daemon not reachable (scripts/test.sh starts one)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# inputs_hash prints one hash over the build context (names, modes, bytes).
inputs_hash() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		xargs -0 stat -c '%n %a %F' && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# build_image TAG CONTEXT builds TAG from CONTEXT unless an image with the
# same inputs hash already exists.
build_image() {
	local tag="$1" ctx="$2" hash have
	hash="$(inputs_hash "$ctx")"
	have="$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$tag" 2>/dev/null || true)"
	if [[ "$have" == "$hash" ]]; then
		echo "$tag is up to date (inputs ${hash:0:12})"
		return
	fi
	echo "building $tag (inputs ${hash:0:12})"
	# The legacy builder's deprecation notice is noise; show output on failure only.
	if ! out="$(DOCKER_BUILDKIT=0 docker build --quiet --label "$HASH_LABEL=$hash" -t "$tag" "$ctx" 2>&1)"; then
		echo "$out" >&2
		die "docker build of $tag failed"
	fi
	# Drop the image that the new one replaced, if nothing else uses it.
	docker image prune -f --filter "label=$HASH_LABEL" >/dev/null
	echo "built $tag"
}

# Redis: the binary (a symlink to redis-check-rdb; the name decides the mode,
# so it is copied as redis-server) and every library ldd lists, same paths.
[[ -x /usr/bin/redis-server ]] || die "/usr/bin/redis-server missing: apt-get install redis-server"
ctx="$WORK/redis"
mkdir -p "$ctx/rootfs/usr/bin"
cp test/images/redis/Dockerfile "$ctx/"
cp -L /usr/bin/redis-server "$ctx/rootfs/usr/bin/redis-server"
libs="$(ldd /usr/bin/redis-server | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')"
grep -qx /lib64/ld-linux-x86-64.so.2 <<<"$libs" || die "ldd did not list /lib64/ld-linux-x86-64.so.2"
for lib in $libs; do
	mkdir -p "$ctx/rootfs$(dirname "$lib")"
	cp -L "$lib" "$ctx/rootfs$lib"
done
build_image "$REDIS_IMAGE" "$ctx"

# versitygw: static binary, CA bundle, writable /data and /tmp.
ensure_versitygw
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "/etc/ssl/certs/ca-certificates.crt missing: apt-get install ca-certificates"
ctx="$WORK/versitygw"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp test/images/versitygw/Dockerfile "$ctx/"
cp "$VERSITYGW_BIN" "$ctx/rootfs/usr/local/bin/versitygw"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
build_image "$VERSITYGW_IMAGE" "$ctx"

# SeaweedFS: static weed binary, writable /data and /tmp (the filer's local
# socket), and /etc/seaweedfs where the test helper puts s3.json.
ensure_seaweedfs
ctx="$WORK/seaweedfs"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/seaweedfs" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp test/images/seaweedfs/Dockerfile "$ctx/"
cp "$SEAWEEDFS_BIN" "$ctx/rootfs/usr/local/bin/weed"
build_image "$SEAWEEDFS_IMAGE" "$ctx"
