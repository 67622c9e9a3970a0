#!/usr/bin/env python3
"""The server under an external load generator: h2load against accord bench, in one run.

For each round this starts a release `accord-server` on a fresh SQLite database, creates the
same proposal `accord bench` uses (a motion under the silence procedure, decided by unanimity, so
support ballots never settle it), and drives it with:

1. h2load (Debian's nghttp2-client) over one HTTP/2 connection with 64 concurrent streams:
   `grpc.health.v1.Health/Check`, then `accord.v1.ProposalService/CastBallot` (a durable ballot:
   acknowledged once fsynced), each for the same time after a warm-up; latencies from h2load's
   per-request log;
2. `accord bench --streams 64 --workloads health,ballot` against the same server.

It prints one Markdown table per round and the two target ratios (ballot / health throughput
>= 0.7, ballot p99 / health p99 <= 3), and checks that every ballot h2load counted as answered
was stored (gRPC errors travel in trailers, which h2load does not read).

Run from the repository root after `cargo build --release --workspace`:
    python3 benchmarks/load/h2load.py [--rounds 3] [--seconds 10] [--streams 64]
"""
import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE = os.path.join(ROOT, "target", "release")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def grpc_frame(message):
    return b"\x00" + len(message).to_bytes(4, "big") + message


def ballot_request(proposal, member):
    # CastBallotRequest { proposal = 1; ballot = 2 { member = 2; choice = 3 (SUPPORT = 1) } }
    ballot = field_bytes(2, member.encode()) + field_varint(3, 1)
    return field_bytes(1, proposal.encode()) + field_bytes(2, ballot)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def h2load(url, body, streams, seconds, warmup, log):
    cmd = [
        "h2load", "-c", "1", "-m", str(streams), "-t", "1",
        "-D", str(seconds), "--warm-up-time", str(warmup),
        "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers",
        "--log-file", log, url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"finished in [^,]+, ([\d.]+) req/s", out).group(1))
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    latencies = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000.0)  # µs → ms
    return {
        "rps": rate,
        "succeeded": int(done.group(4)),
        "failed": int(done.group(5)) + int(done.group(6)),
        "ok_2xx": int(codes.group(1)) if codes else 0,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "p999": percentile(latencies, 99.9),
        "logged": len(latencies),
    }


def wait_ready(accord, addr, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run([accord, "--addr", addr, "health"], capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit(f"the server at {addr} did not answer within {timeout} s")


def one_round(args, n):
    server_bin = os.path.join(RELEASE, "accord-server")
    accord = os.path.join(RELEASE, "accord")
    tmp = tempfile.mkdtemp(prefix="accord-h2load-")
    db = os.path.join(tmp, "accord.db")
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [server_bin, "--database-url", f"sqlite://{db}", "--listen", f"127.0.0.1:{port}",
         "--plugin-dir", RELEASE],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "server.log"), "w"))
    try:
        wait_ready(accord, addr)
        created = subprocess.run(
            [accord, "--addr", addr, "--json", "proposals", "create", "motion",
             "--text", "Hold the line", "--title", "h2load ballots", "--sponsor", "USA",
             "--procedure", "silence", "--deadline-in", "1d", "--policy", "unanimity"],
            capture_output=True, text=True, check=True).stdout
        proposal = json.loads(created)["proposal"]["name"]
        health = os.path.join(tmp, "health.bin")
        ballot = os.path.join(tmp, "ballot.bin")
        with open(health, "wb") as f:
            f.write(grpc_frame(b""))
        with open(ballot, "wb") as f:
            f.write(grpc_frame(ballot_request(proposal, "members/DEU")))
        results = {}
        results["health"] = h2load(f"{addr}/grpc.health.v1.Health/Check", health, args.streams,
                                   args.seconds, args.warmup, os.path.join(tmp, "health.log"))
        stored_before = sqlite3.connect(db).execute("select count(*) from ballots").fetchone()[0]
        results["ballot"] = h2load(f"{addr}/accord.v1.ProposalService/CastBallot", ballot,
                                   args.streams, args.seconds, args.warmup,
                                   os.path.join(tmp, "ballot.log"))
        stored = sqlite3.connect(db).execute("select count(*) from ballots").fetchone()[0]
        # Every ballot h2load saw answered (warm-up included) is stored: none failed in a trailer.
        if stored - stored_before < results["ballot"]["succeeded"]:
            raise SystemExit(f"round {n}: h2load counted {results['ballot']['succeeded']} "
                             f"ballots answered but {stored - stored_before} were stored")
        results["ballot"]["stored"] = stored - stored_before
        bench = subprocess.run(
            [accord, "--addr", addr, "bench", "--streams", str(args.streams), "--seconds",
             str(args.seconds), "--warmup", str(args.warmup), "--workloads", "health,ballot",
             "--json"], capture_output=True, text=True, check=True).stdout
        results["accord-bench"] = json.loads(bench)
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        raise SystemExit("h2load is missing: apt-get install nghttp2-client")
    for binary in ("accord-server", "accord"):
        if not os.path.exists(os.path.join(RELEASE, binary)):
            raise SystemExit(f"target/release/{binary} is missing: cargo build --release --workspace")
    rounds = []
    for n in range(1, args.rounds + 1):
        print(f"round {n} of {args.rounds}…", file=sys.stderr)
        rounds.append(one_round(args, n))
    if args.json:
        print(json.dumps(rounds, indent=2))
        return
    print(f"{args.streams} streams on one HTTP/2 connection, {args.seconds} s per workload after "
          f"a {args.warmup} s warm-up; load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| round | generator | health req/s | health p50 / p99 ms | ballot req/s | ballot p50 / p99 ms | throughput ratio (≥ 0.7) | p99 ratio (≤ 3) |")
    print("|---|---|---:|---|---:|---|---:|---:|")
    ratios = {"h2load": [], "accord bench": []}
    for n, r in enumerate(rounds, 1):
        h, b = r["health"], r["ballot"]
        rows = [("h2load", h["rps"], h["p50"], h["p99"], b["rps"], b["p50"], b["p99"])]
        bench = {w["workload"]: w for w in r["accord-bench"]["workloads"]}
        bh, bb = bench["health"], bench["ballot"]
        rows.append(("accord bench", bh["throughput"], bh["latencyMs"]["p50"],
                     bh["latencyMs"]["p99"], bb["throughput"], bb["latencyMs"]["p50"],
                     bb["latencyMs"]["p99"]))
        for gen, hr, h50, h99, br, b50, b99 in rows:
            tr, pr = br / hr, b99 / h99
            ratios[gen].append((tr, pr))
            print(f"| {n} | {gen} | {hr:,.0f} | {h50:.2f} / {h99:.2f} | {br:,.0f} | "
                  f"{b50:.2f} / {b99:.2f} | {tr:.2f} {'MET' if tr >= 0.7 else 'NOT MET'} | "
                  f"{pr:.2f} {'MET' if pr <= 3 else 'NOT MET'} |")
    print()
    for gen, rs in ratios.items():
        tr = statistics.median(x for x, _ in rs)
        pr = statistics.median(y for _, y in rs)
        print(f"- {gen}: median throughput ratio {tr:.2f} ({'MET' if tr >= 0.7 else 'NOT MET'}), "
              f"median p99 ratio {pr:.2f} ({'MET' if pr <= 3 else 'NOT MET'})")


if __name__ == "__main__":
    main()
