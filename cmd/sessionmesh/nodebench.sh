#!/usr/bin/env bash
# Node.js cache servers on sidecars vs the same servers on redis-server, side
# by side in one run (docs/performance.md): starts a 3-member sidecar cluster
# and a redis-server on loopback, two examples/node/cache-server.js on
# sidecars 1 and 2 and two more both on the redis-server, then
# examples/node/resumebench.js makes a TLS 1.2 session on the first server
# of each pair and resumes it on the second, N times, the pairs taking
# turns, and prints p50/p90/mean of the resuming handshake, how many
# resumed, and the ratios.
#
#   cmd/sessionmesh/nodebench.sh [N]     (default 500)
#
# Needs go, node (examples/node/node_modules: npm ci), redis-server, openssl.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-500}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

[ -d examples/node/node_modules ] || (cd examples/node && npm ci --silent)
go build -o "$dir/sessionmesh" ./cmd/sessionmesh
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
export SESSIONMESH_SECRET=$(head -c 32 /dev/urandom | base64)
# One password for the sidecars and redis-server; the cache servers read it too.
export SESSIONMESH_REQUIREPASS=$(head -c 18 /dev/urandom | base64) REDISCLI_AUTH
REDISCLI_AUTH=$SESSIONMESH_REQUIREPASS
join=""
sidecars=()
for i in 1 2 3; do
  "$dir/sessionmesh" sidecar -name "bench-$i" -gossip 127.0.0.1:0 -data 127.0.0.1:0 -resp 127.0.0.1:0 \
    -timing local ${join:+-join "$join"} >"$dir/sidecar-$i.out" 2>"$dir/sidecar-$i.err" &
  pids+=($!)
  until [ -s "$dir/sidecar-$i.out" ]; do sleep 0.1; done
  line=$(head -1 "$dir/sidecar-$i.out")
  [ -z "$join" ] && join=$(sed 's/.* gossip=\([^ ]*\).*/\1/' <<<"$line")
  sidecars+=("127.0.0.1:$(sed 's/.* resp=[^ ]*:\([0-9]*\) .*/\1/' <<<"$line")")
done
redis_port=$((20000 + RANDOM % 20000))
printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
  "$redis_port" "$dir" "$SESSIONMESH_REQUIREPASS" >"$dir/redis.conf"
redis-server "$dir/redis.conf" >/dev/null &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

cache() { # name redis-address: a cache-server.js on it; its host:port in $addr
  node examples/node/cache-server.js --name "$1" --host 127.0.0.1 --port 0 --sidecar "$2" \
    --cert "$dir/cert.pem" --key "$dir/key.pem" >"$dir/$1.out" 2>"$dir/$1.err" &
  pids+=($!)
  until grep -q port= "$dir/$1.out" 2>/dev/null; do sleep 0.1; done
  addr="127.0.0.1:$(sed 's/.* port=\([0-9]*\).*/\1/' "$dir/$1.out")"
}
cache sidecar-a "${sidecars[0]}"; sa=$addr
cache sidecar-b "${sidecars[1]}"; sb=$addr
cache redis-a "127.0.0.1:$redis_port"; ra=$addr
cache redis-b "127.0.0.1:$redis_port"; rb=$addr

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
node examples/node/resumebench.js --n "$n" --pairs "sidecar=$sa,$sb+redis=$ra,$rb" || status=$?
for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -5 "$f"; }; done
exit $status
