#!/usr/bin/env bash
# Ballots per second through the release accord-server on SQLite, and through 1 and 3 replicas
# on one PostgreSQL database, in the same run, with the existing load generator (`accord bench
# --workloads ballot`). With 3 replicas, one `accord bench` runs against each replica at the same
# time (each on its own proposal) and their throughputs are summed.
#
# Needs PostgreSQL's initdb/pg_ctl (/usr/lib/postgresql/*/bin, or ACCORD_PG_BIN) and builds the
# release binaries first. As root, PostgreSQL runs as the `postgres` user.
#   benchmarks/replicas/run.sh [SECONDS] [STREAMS per bench]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-10}"
streams="${2:-64}"

cargo build --release --locked -p accord-server -p accord-cli \
  -p accord-unanimity -p accord-weighted -p accord-pressure
bin=target/release
pg_bin="${ACCORD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}"

work="$(mktemp -d /tmp/accord-bench-replicas.XXXXXX)"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -U accord -A trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on" start >/dev/null

# Starts a server on database $1; sets `addr` to its address.
start_server() {
  local log="$work/server-${#pids[@]}.log"
  "$bin/accord-server" --listen 127.0.0.1:0 --database-url "$1" --plugin-dir "$bin" \
    --log-format json >"$log.out" 2>"$log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    if grep -q "listening on" "$log.out" 2>/dev/null; then
      addr="$(sed -n 's/.*listening on //p' "$log.out")"
      return
    fi
    sleep 0.1
  done
  echo "server did not start: $(cat "$log")" >&2
  exit 1
}

# Runs the ballot workload against each address given, at the same time; prints the summed
# ballots per second and the worst p99 latency.
bench() {
  local i=0 files=() benches=()
  for addr in "$@"; do
    "$bin/accord" --addr "http://$addr" --json bench --workloads ballot \
      --seconds "$seconds" --warmup 2 --streams "$streams" >"$work/bench-$i.json" &
    benches+=($!)
    files+=("$work/bench-$i.json")
    i=$((i + 1))
  done
  for pid in "${benches[@]}"; do wait "$pid"; done
  python3 - "${files[@]}" <<'EOF'
import json, sys
runs = [json.load(open(f))["workloads"][0] for f in sys.argv[1:]]
total = sum(r["throughput"] for r in runs)
errors = sum(r["errors"] for r in runs)
p99 = max(r["latencyMs"]["p99"] for r in runs)
print(f"{total:.0f} ballots/s  (errors {errors}, worst p99 {p99:.1f} ms)")
EOF
}

echo "==> SQLite, 1 server"
start_server "sqlite://$work/accord.db"
bench "$addr"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U accord one
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U accord three
echo "==> PostgreSQL, 1 replica"
start_server "postgres://accord@127.0.0.1:$port/one"
bench "$addr"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

echo "==> PostgreSQL, 3 replicas (one bench per replica, at once)"
addrs=()
for _ in 1 2 3; do
  start_server "postgres://accord@127.0.0.1:$port/three"
  addrs+=("$addr")
done
bench "${addrs[@]}"
