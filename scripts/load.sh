#!/bin/bash
# `make load`: the server and the load generator (examples/sso_load) on this machine over loopback,
# one fresh server process (and SQLite file) per phase, printing in one run: SSO round trips with
# and without the tenant's JS actions, OIDC round trips, password logins, the server's CPU per
# round trip against one RSA-2048 signature, its peak and idle memory, and an OIDC soak
# (throughput per interval against the number of codes issued so far).
# Environment: THREADS (4), SECONDS_PER_MODE (10), LOGIN_SECONDS (60), SOAK_SECONDS (100),
# PHASES ("sso oidc login soak": a subset runs only those). IDPIPE_BIN (another build to compare).
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
# server CPU per round trip (and as RSA signatures), and the server's peak RSS.
run_phase() {
  local name=$1 cfg=$2 mode=$3 s=$4; shift 4
  rm -f var/load.sqlite var/load.sqlite-wal var/load.sqlite-shm
  $bin serve --config "$cfg" --db var/load.sqlite --listen 127.0.0.1:$port >/dev/null 2>var/load-server.log &
  srv=$!
  for _ in $(seq 1 100); do curl -sf $base/healthz >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 1
  local t0; t0=$(ticks $srv)
  out=$($gen --base $base --mode "$mode" --threads "$threads" --seconds "$s" "$@")
  local t1; t1=$(ticks $srv)
  echo "$out" | sed "s/^mode=/[$name] mode=/"
  local n; n=$(echo "$out" | sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' | tail -1)
  awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" -v rsa="$rsa" -v name="$name" \
    'BEGIN { us = t / hz * 1e6 / (n > 0 ? n : 1); printf "[%s] server CPU per round trip: %.0f us = %.1f RSA-2048 signatures\n", name, us, us / (1e6 / rsa) }'
  echo "[$name] server memory: $(grep VmHWM /proc/$srv/status | tr -s ' \t' ' ')"
}

stop() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; }
trap 'kill $srv 2>/dev/null || true' EXIT INT TERM

phases=" ${PHASES:-sso oidc login soak} "
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
