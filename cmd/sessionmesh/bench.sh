#!/usr/bin/env bash
# Sidecar vs redis-server, side by side in one run (docs/performance.md):
# starts a 3-member sidecar cluster and a redis-server on loopback, runs
# redis-benchmark -t set,get -d 200 at -c 1 and -c 50 against a sidecar and
# against redis-server, and prints ops/s and the ratios.
#
#   cmd/sessionmesh/bench.sh [requests]     (default 100000 per test)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

go build -o "$dir/sessionmesh" ./cmd/sessionmesh
export SESSIONMESH_SECRET=$(head -c 32 /dev/urandom | base64)
join=""
for i in 1 2 3; do
  "$dir/sessionmesh" sidecar -name "bench-$i" -gossip 127.0.0.1:0 -data 127.0.0.1:0 -resp 127.0.0.1:0 \
    -timing local ${join:+-join "$join"} >"$dir/sidecar-$i.out" 2>"$dir/sidecar-$i.err" &
  pids+=($!)
  until [ -s "$dir/sidecar-$i.out" ]; do sleep 0.1; done
  line=$(head -1 "$dir/sidecar-$i.out")
  [ -z "$join" ] && join=$(sed 's/.* gossip=\([^ ]*\).*/\1/' <<<"$line")
  [ "$i" = 1 ] && sidecar_port=$(sed 's/.* resp=[^ ]*:\([0-9]*\) .*/\1/' <<<"$line")
done
redis_port=$((20000 + RANDOM % 20000))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >/dev/null &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

ops() { # port clients test -> requests per second
  # (against a sidecar it warns that it cannot fetch CONFIG: there is none)
  redis-benchmark -p "$1" -c "$2" -n "$n" -d 200 -t "$3" -r 100000 --csv 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"'
}
printf '%-6s %-4s %14s %14s %7s\n' test c sidecar redis ratio
for c in 1 50; do
  for t in set get; do
    s=$(ops "$sidecar_port" "$c" "$t")
    r=$(ops "$redis_port" "$c" "$t")
    printf '%-6s %-4s %14s %14s %7.2f\n' "$t" "$c" "$s" "$r" "$(echo "$s / $r" | bc -l)"
  done
done
