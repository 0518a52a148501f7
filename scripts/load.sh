#!/bin/bash
# `make load`: the server and the load generator (examples/sso_load) on this machine over loopback,
# one fresh server process (and SQLite file) per phase, printing in one run: SSO round trips with
# and without the tenant's JS actions, OIDC round trips, password logins, the server's CPU per
# round trip against one RSA-2048 signature, its peak and idle memory, and an OIDC soak
# (throughput per interval against the number of codes issued so far).
# The `nodes` phase compares, in one run, SSO and OIDC round trips on one node on SQLite, one
# node on PostgreSQL and two nodes on one PostgreSQL (a private server started here: initdb
# into a temporary folder, a Unix socket, default durability settings; stopped at the end), the
# generator spreading requests over the nodes.
# Environment: THREADS (4), SECONDS_PER_MODE (10), LOGIN_SECONDS (60), SOAK_SECONDS (100),
# PHASES ("sso oidc login soak nodes": a subset runs only those). IDPIPE_BIN (another build).
set -eu
cd "$(dirname "$0")/.."
bin=${IDPIPE_BIN:-./target/release/idpipe}
gen=./target/release/examples/sso_load
threads=${THREADS:-4}
secs=${SECONDS_PER_MODE:-10}
port=3100
base=http://127.0.0.1:$port
mkdir -p var
noactions=var/load-noactions.toml
sed '/^post-login = /d' fixtures/tenant/load.toml > "$noactions"

rsa=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
echo "openssl speed rsa2048: ${rsa} signatures/s (one core)"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run_phase NAME CONFIG MODE SECONDS [extra generator args]: prints the generator's line, the
# server CPU per round trip (and as RSA signatures), and the server's peak RSS. The generator's
# browsers log in with their password first (argon2id: 19 MiB each, two at a time on 2 cores):
# in the SSO and OIDC modes, whose round trips reuse those sessions, the peak is also reset one
# second in (`/proc/PID/clear_refs`, after the logins) and printed for the round trips alone.
run_phase() {
  local name=$1 cfg=$2 mode=$3 s=$4; shift 4
  rm -f var/load.sqlite var/load.sqlite-wal var/load.sqlite-shm
  $bin serve --config "$cfg" --db var/load.sqlite --listen 127.0.0.1:$port >/dev/null 2>var/load-server.log &
  srv=$!
  for _ in $(seq 1 100); do curl -sf $base/healthz >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 1
  local t0; t0=$(ticks $srv)
  local warm=var/load-hwm-warmup resetter=
  rm -f "$warm"
  if [ "$mode" != login ]; then
    (sleep 1; h=$(grep VmHWM "/proc/$srv/status"); echo 5 2>/dev/null > "/proc/$srv/clear_refs" && echo "$h" > "$warm") &
    resetter=$!
  fi
  out=$($gen --base $base --mode "$mode" --threads "$threads" --seconds "$s" "$@")
  local t1; t1=$(ticks $srv)
  if [ -n "$resetter" ]; then wait "$resetter" || true; fi
  echo "$out" | sed "s/^mode=/[$name] mode=/"
  local n; n=$(echo "$out" | sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' | tail -1)
  awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" -v rsa="$rsa" -v name="$name" \
    'BEGIN { us = t / hz * 1e6 / (n > 0 ? n : 1); printf "[%s] server CPU per round trip: %.0f us = %.1f RSA-2048 signatures\n", name, us, us / (1e6 / rsa) }'
  if [ -s "$warm" ]; then
    echo "[$name] server memory: peak with the warm-up logins $(tr -s ' \t' ' ' < "$warm"); peak of the round trips after them $(grep VmHWM /proc/$srv/status | tr -s ' \t' ' ')"
  else
    echo "[$name] server memory: $(grep VmHWM /proc/$srv/status | tr -s ' \t' ' ')"
  fi
}

stop() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; }
srv=
nodes=()
pgdir=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; fi
  for p in "${nodes[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_stop
}
trap cleanup EXIT INT TERM

# A private PostgreSQL (as the `postgres` user when run as root: it refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  pgbin=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")
  pgdir=$(mktemp -d /tmp/idpipe-load-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$pgdir"; fi
  as_pg "$pgbin/initdb" -D "$pgdir/data" -U idpipe --auth=trust -E UTF8 >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-c listen_addresses= -k $pgdir -c max_connections=100" start >/dev/null
  pghost=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$pgdir")
}
pg_stop() {
  if [ -n "$pgdir" ]; then
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
    pgdir=
  fi
}
# The PostgreSQL server's processes (the postmaster and its backends).
pg_ticks() {
  local pm t=0 p; pm=$(head -1 "$pgdir/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo $t
}

# run_nodes NAME N DB MODE: N nodes (ports 3100...) on DB (`sqlite` or a PostgreSQL database
# name, created fresh), the generator spreading MODE round trips over them; prints throughput,
# the nodes' CPU (and the database server's) per round trip, and each node's peak RSS.
run_nodes() {
  local name=$1 n=$2 db=$3 mode=$4 i cfg=var/load-nodes.toml url= bases=
  sed '/^\[server\]/a secret = "load-test-secret-shared-by-the-nodes-0123456789"' fixtures/tenant/load.toml > $cfg
  rm -f var/load.sqlite var/load.sqlite-wal var/load.sqlite-shm
  if [ "$db" != sqlite ]; then
    as_pg "$pgbin/psql" -h "$pgdir" -U idpipe -d postgres -qc "CREATE DATABASE $db" >/dev/null
    url="postgresql://idpipe@$pghost/$db"
    # Migrate once before the nodes start (as an operator would with several nodes).
    IDPIPE_DATABASE_URL=$url $bin migrate --config $cfg >/dev/null 2>var/load-migrate.log
  fi
  nodes=()
  for i in $(seq 0 $((n - 1))); do
    if [ -n "$url" ]; then
      IDPIPE_DATABASE_URL=$url $bin serve --config $cfg --listen 127.0.0.1:$((port + i)) >/dev/null 2>var/load-node$i.log &
    else
      $bin serve --config $cfg --db var/load.sqlite --listen 127.0.0.1:$((port + i)) >/dev/null 2>var/load-node$i.log &
    fi
    nodes+=($!)
    bases="$bases${bases:+,}http://127.0.0.1:$((port + i))"
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((port + i))/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  done
  sleep 1
  local t0=0 t1=0 d0=0 d1=0 p
  for p in "${nodes[@]}"; do t0=$((t0 + $(ticks "$p"))); done
  if [ -n "$url" ]; then d0=$(pg_ticks); fi
  out=$($gen --base "$bases" --mode "$mode" --threads "$threads" --seconds "$secs")
  for p in "${nodes[@]}"; do t1=$((t1 + $(ticks "$p"))); done
  if [ -n "$url" ]; then d1=$(pg_ticks); fi
  echo "$out" | sed "s/^mode=/[$name] mode=/"
  local rt; rt=$(echo "$out" | sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' | tail -1)
  awk -v t=$((t1 - t0)) -v d=$((d1 - d0)) -v hz="$hz" -v n="$rt" -v rsa="$rsa" -v name="$name" \
    'BEGIN { k = 1e6 / hz / (n > 0 ? n : 1); printf "[%s] CPU per round trip: nodes %.0f us = %.1f RSA-2048 signatures, database %.0f us\n", name, t * k, t * k / (1e6 / rsa), d * k }'
  for p in "${nodes[@]}"; do echo "[$name] node memory: $(grep VmHWM /proc/$p/status | tr -s ' \t' ' ')"; done
  for p in "${nodes[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  nodes=()
}

phases=" ${PHASES:-sso oidc login soak nodes} "
want() { case "$phases" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if want sso; then
  run_phase sso fixtures/tenant/load.toml sso "$secs"; a=$(echo "$out" | sed -n 's/.*throughput=\([0-9]*\).*/\1/p'); stop
  run_phase sso-noactions "$noactions" sso "$secs"; b=$(echo "$out" | sed -n 's/.*throughput=\([0-9]*\).*/\1/p'); stop
  awk -v a="$a" -v b="$b" 'BEGIN { printf "SSO with the 3 JS actions / without: %.2f\n", a / b }'
fi
if want oidc; then run_phase oidc fixtures/tenant/load.toml oidc "$secs"; stop; fi
if want login; then
  run_phase login fixtures/tenant/load.toml login "${LOGIN_SECONDS:-60}"
  sleep 15
  echo "[login] after 15 s idle: $(grep VmRSS /proc/$srv/status | tr -s ' \t' ' ')"
  stop
fi
if want soak; then run_phase oidc-soak fixtures/tenant/load.toml oidc "${SOAK_SECONDS:-100}" --interval 10; stop; fi
if want nodes; then
  pg_start
  k=0
  for mode in sso oidc; do
    run_nodes "$mode-sqlite-1" 1 sqlite $mode
    k=$((k + 1)); run_nodes "$mode-postgres-1" 1 load_$k $mode
    k=$((k + 1)); run_nodes "$mode-postgres-2" 2 load_$k $mode
  done
  pg_stop
fi
