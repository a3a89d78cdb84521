#!/usr/bin/env bash
# Builds the Chute image (Dockerfile at the repository root, FROM scratch):
# a static bin/chute built on the host, the host's CA bundle and an empty
# data folder staged under bin/image/, then the legacy builder (no registry
# is needed). Repeated runs are quick: Go's build cache makes the same
# binary again and Docker's layer cache reuses every unchanged layer.
#
# Environment: IMAGE (default chute:local), VERSION (default: git describe).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

IMAGE="${IMAGE:-chute:local}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"

docker version >/dev/null 2>&1 || die "Docker daemon not reachable (scripts/test.sh starts one)"
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "/etc/ssl/certs/ca-certificates.crt missing: apt-get install ca-certificates"

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o bin/chute ./cmd/chute
mkdir -p bin/image/data bin/image/tmp
chmod 1777 bin/image/tmp
cp /etc/ssl/certs/ca-certificates.crt bin/image/ca-certificates.crt
# The legacy builder's deprecation notice is noise; show output on failure only.
if ! out="$(DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" . 2>&1)"; then
	echo "$out" >&2
	die "docker build of $IMAGE failed"
fi
# Drop the image the new one replaced (untagged now), if nothing uses it.
docker image prune -f --filter "dangling=true" --filter "label=dev.chute.image=chute" >/dev/null
echo "built $IMAGE (chute $VERSION)"
