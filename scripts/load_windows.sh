#!/bin/bash
# One server process, several SSO windows one after the other: the server's CPU per round trip in
# each (CPU ticks of the process over the generator's round trips). Shows whether a build's
# figure moves within one process or between processes (README, Performance, session 10).
# usage: scripts/load_windows.sh [IDPIPE_BIN] [WINDOWS (3)] [SECONDS (6)]
# Needs `cargo build --release --bins --example sso_load`. Loopback only, bounded in time.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-./target/release/idpipe}; windows=${2:-3}; secs=${3:-6}
port=3177; base=http://127.0.0.1:$port
mkdir -p var; rm -f var/windows.sqlite var/windows.sqlite-wal var/windows.sqlite-shm
$bin serve --config fixtures/tenant/load.toml --db var/windows.sqlite --listen 127.0.0.1:$port >/dev/null 2>var/windows-server.log &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do curl -sf $base/healthz >/dev/null 2>&1 && break; sleep 0.05; done
sleep 1
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
line=""
for _ in $(seq 1 "$windows"); do
  t0=$(ticks $srv)
  out=$(./target/release/examples/sso_load --base $base --mode sso --threads 4 --seconds "$secs")
  t1=$(ticks $srv)
  n=$(echo "$out" | sed -n 's/.*round_trips=\([0-9]*\).*/\1/p')
  line="$line $(( (t1 - t0) * 1000000 / hz / (n > 0 ? n : 1) ))"
done
echo "$(basename "$bin"): server CPU per SSO round trip, per window (us):$line"
