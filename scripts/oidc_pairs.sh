#!/bin/bash
# Alternated pairs of server processes on the OIDC round trip: builds A and B (or one build with
# two environments) take turns, one fresh server (load tenant, fresh SQLite file) per window, so
# both see the same machine moments (README, Performance, session 11). Per window: round trips per
# second (examples/sso_load --mode oidc, 4 threads; its 4 browsers log in with their password
# first) and the server's CPU per round trip (its CPU ticks over the window's round trips).
# usage: scripts/oidc_pairs.sh BIN_A BIN_B [PAIRS (3)] [SECONDS (8)]
# ENV_A / ENV_B: extra environment of A's / B's server (e.g. ENV_B=TOKIO_WORKER_THREADS=2).
# Needs `cargo build --release --bins --example sso_load`. Loopback only, bounded in time.
set -eu
cd "$(dirname "$0")/.."
a=$1; b=$2; pairs=${3:-3}; secs=${4:-8}
port=3178; base=http://127.0.0.1:$port
hz=$(getconf CLK_TCK)
mkdir -p var
window() {
  local bin=$1 envx=$2
  rm -f var/pairs.sqlite var/pairs.sqlite-wal var/pairs.sqlite-shm
  env ${envx:-IDPIPE_PAIRS=1} "$bin" serve --config fixtures/tenant/load.toml --db var/pairs.sqlite --listen 127.0.0.1:$port >/dev/null 2>var/pairs-server.log &
  local srv=$!
  for _ in $(seq 1 100); do curl -sf $base/healthz >/dev/null 2>&1 && break; sleep 0.05; done
  local t0 t1 out n rps
  t0=$(awk '{print $14 + $15}' /proc/$srv/stat)
  out=$(./target/release/examples/sso_load --base $base --mode oidc --threads 4 --seconds "$secs")
  t1=$(awk '{print $14 + $15}' /proc/$srv/stat)
  kill $srv; wait $srv 2>/dev/null || true
  n=$(echo "$out" | sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' | tail -1)
  rps=$(echo "$out" | sed -n 's/.*throughput=\([0-9.]*\).*/\1/p' | tail -1)
  echo "$rps/s $(( (t1 - t0) * 1000000 / hz / (n > 0 ? n : 1) ))us"
}
for i in $(seq 1 "$pairs"); do
  echo "pair $i: A $(window "$a" "${ENV_A:-}")  B $(window "$b" "${ENV_B:-}")"
done
