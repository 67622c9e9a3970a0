#!/usr/bin/env bash
# The web interface under load: ballot throughput and latency (`accord bench --workloads ballot`)
# without and with N open proposal pages (Server-Sent Events streams following the bench's own
# proposal), against one release server, interleaved in the same run.
#
#   cargo build --release -p accord-web -p accord-cli -p accord-unanimity -p accord-weighted -p accord-pressure
#   benchmarks/web/run.sh            # CLIENTS=200 STREAMS=64 SECONDS=10 ROUNDS=3
#
# Each `accord bench` run creates one proposal on a fresh database, so run k votes on
# proposals/k; the page streams of a "with" run wait for their proposal to exist, then follow
# it (sse_clients.py). Prints one line per run and a summary table (medians).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${BIN:-target/release}"
clients="${CLIENTS:-200}"
streams="${STREAMS:-64}"
seconds="${SECONDS_PER_RUN:-10}"
rounds="${ROUNDS:-3}"
dir="$(mktemp -d -t accord-web-bench.XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$bin/accord-server" --listen 127.0.0.1:0 --web-listen 127.0.0.1:0 \
  --database-url "sqlite://$dir/bench.db" >"$dir/stdout" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "^accord-server listening on" "$dir/stdout" 2>/dev/null && break
  sleep 0.1
done
grpc="$(sed -n 's/^accord-server listening on //p' "$dir/stdout")"
web="$(sed -n 's/^accord-server web listening on //p' "$dir/stdout")"
echo "server: gRPC $grpc, web $web; $clients pages, $streams ballot streams, ${seconds}s per run, $rounds rounds" >&2

run=0
for round in $(seq 1 "$rounds"); do
  for mode in without with; do
    run=$((run + 1))
    sse=""
    if [[ "$mode" == with ]]; then
      python3 benchmarks/web/sse_clients.py --url "$web" --proposal "$run" --clients "$clients" \
        --seconds "$((seconds + 8))" >"$dir/sse-$run.json" &
      sse=$!
    fi
    "$bin/accord" --addr "http://$grpc" --json bench --workloads ballot --streams "$streams" \
      --seconds "$seconds" >"$dir/bench-$run.json"
    if [[ -n "$sse" ]]; then wait "$sse"; fi
    echo "$mode" >"$dir/mode-$run"
  done
done

python3 - "$dir" "$run" <<'PY'
import json, statistics, sys, pathlib
d, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rows = {"without": [], "with": []}
for k in range(1, runs + 1):
    mode = (d / f"mode-{k}").read_text().strip()
    bench = json.loads((d / f"bench-{k}.json").read_text())
    w = next(w for w in bench["workloads"] if w["workload"] == "ballot")
    sse = json.loads((d / f"sse-{k}.json").read_text()) if (d / f"sse-{k}.json").exists() else None
    rows[mode].append((w, sse))
    print(json.dumps({"run": k, "mode": mode, "ballot": w, "pages": sse}))
def med(xs): return statistics.median(xs) if xs else float("nan")
print()
print("| ballots | req/s, median (range) | p50 ms | p99 ms | p99.9 ms | errors | page events per page (min–max) |")
print("|---|---:|---:|---:|---:|---:|---|")
for mode in ("without", "with"):
    ws = [w for w, _ in rows[mode]]
    tp = [w["throughput"] for w in ws]
    pages = [s for _, s in rows[mode] if s]
    ev = "—" if not pages else ", ".join(f'{p["ballot_events_min"]}–{p["ballot_events_max"]}' + (f' (ended early: {p["ended_early"]})' if p["ended_early"] else "") for p in pages)
    print(f'| {mode} pages | {med(tp):,.0f} ({min(tp):,.0f}–{max(tp):,.0f}) | {med([w["latencyMs"]["p50"] for w in ws]):.1f} | {med([w["latencyMs"]["p99"] for w in ws]):.1f} | {med([w["latencyMs"]["p999"] for w in ws]):.1f} | {sum(w["errors"] for w in ws)} | {ev} |')
PY
