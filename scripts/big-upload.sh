#!/usr/bin/env bash
# big-upload.sh SIZE — uploads a random file of SIZE (default 1G, as for
# head -c) through `chute serve` with `chute upload`, against a local
# redis-server and versitygw on loopback, then checks the stored object's
# sha256 and prints the wall time, Chute's peak RSS (VmHWM) and CPU time.
# Needs redis-server and the versitygw binary that scripts/test.sh caches.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
size="${1:-1G}"
ensure_versitygw
vgw="$VERSITYGW_BIN"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rport=$(free_port) sport=$(free_port) cport=$(free_port)
secret="big-upload-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
s3secret="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
go build -o "$work/chute" ./cmd/chute
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 & pids+=($!)
mkdir -p "$work/s3/uploads"
ROOT_ACCESS_KEY_ID=bigkey ROOT_SECRET_ACCESS_KEY="$s3secret" "$vgw" --port "127.0.0.1:$sport" \
	--region us-east-1 --health /health posix "$work/s3" >"$work/vgw.log" 2>&1 & pids+=($!)
cat >"$work/chute.yaml" <<YAML
server: { listen: "127.0.0.1:$cport" }
sessions: { redis_url: "redis://127.0.0.1:$rport/0" }
auth: { mode: jwt, jwt: { secret: "$secret" } }
backends:
  main: { endpoint: "http://127.0.0.1:$sport", region: us-east-1, bucket: uploads, access_key: bigkey, path_style: true }
YAML
CHUTE_BACKENDS_MAIN_SECRET_KEY="$s3secret" "$work/chute" serve --config "$work/chute.yaml" >"$work/chute.log" 2>&1 & chute_pid=$!
pids+=("$chute_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cport/readyz" >/dev/null && break; sleep 0.1; done
head -c "$size" /dev/urandom >"$work/file.bin"
want="$(sha256sum <"$work/file.bin" | cut -d' ' -f1)"
tok="$("$work/chute" token --secret "$secret" --sub bench)"
start=$(date +%s.%N)
"$work/chute" upload "$work/file.bin" --server "http://127.0.0.1:$cport" --token "$tok" --parallel 4 >"$work/up.out"
end=$(date +%s.%N)
got="$(curl -s "$(awk '/download:/ {print $2}' "$work/up.out")" | sha256sum | cut -d' ' -f1)"
[[ "$got" == "$want" ]] || die "sha256 mismatch: stored $got, uploaded $want"
hwm="$(awk '/VmHWM/ {print $2, $3}' "/proc/$chute_pid/status")"
ticks="$(awk '{print $14 + $15}' "/proc/$chute_pid/stat")"
bytes="$(stat -c %s "$work/file.bin")"
awk -v s="$start" -v e="$end" -v b="$bytes" -v h="$hwm" -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {
	printf "uploaded %d bytes in %.2f s (%.0f MB/s); sha256 matches\nchute peak RSS %s, CPU %.2f s\n", b, e-s, b/(e-s)/1e6, h, t/hz }'
