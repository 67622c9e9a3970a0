#!/usr/bin/env python3
"""Peer comparison: accord's exact power indices against the PyPI package `powerindex`.

Run through `benchmarks/peer/run.sh`, which prepares the venv and the Rust example. This script
builds the same games for both (NATO's 32 allies weighted by 2024 defence spending at a 2/3 quota
in three granularities, and the public test vectors), times both, prints a table, and then every
disagreement between the two, settled by the known values of the vectors and by brute-force
enumeration written here.

The same game for both: `powerindex.Game(quota, weights)` takes the quota as an absolute integer
(it calls math.gcd on it, so a fraction is rejected) and a coalition S wins when w(S) >= quota
(a player's swings are the coalitions without it of weight in [quota - w, quota - 1]). accord's
example takes the same integer quota: `Game::weighted(weights, quota)`, w(S) >= quota.
"""

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction as F
from pathlib import Path

TOL = 1e-9
REPO = Path(__file__).resolve().parents[2]

# name, weights, quota, expected Banzhaf (normalised), expected Shapley–Shubik (None: not given)
# From shared/notes/decision-models.md ("Public vectors").
EEC_B = [F(5, 21)] * 3 + [F(1, 7)] * 2 + [F(0)]
EEC_SS = [F(7, 30)] * 3 + [F(3, 20)] * 2 + [F(0)]
VECTORS = [
    ("EEC 1958 q=12", [4, 4, 4, 2, 2, 1], 12, EEC_B, EEC_SS),
    ("EEC 1958 q=6 (dual)", [4, 4, 4, 2, 2, 1], 6, EEC_B, EEC_SS),
    ("4,3,2,1 q=6", [4, 3, 2, 1], 6, [F(5, 12), F(1, 4), F(1, 4), F(1, 12)],
     [F(5, 12), F(1, 4), F(1, 4), F(1, 12)]),
    ("3,2,1,1 q=4", [3, 2, 1, 1], 4, None, [F(1, 2), F(1, 6), F(1, 6), F(1, 6)]),
    ("50,30,20 q=40 (improper)", [50, 30, 20], 40, [F(3, 5), F(1, 5), F(1, 5)],
     [F(2, 3), F(1, 6), F(1, 6)]),
    ("60,30,10 q=51 (dictator)", [60, 30, 10], 51, [F(1), F(0), F(0)], [F(1), F(0), F(0)]),
    ("51,49 q=51", [51, 49], 51, [F(1), F(0)], [F(1), F(0)]),
    ("50,50 q=51", [50, 50], 51, [F(1, 2), F(1, 2)], [F(1, 2), F(1, 2)]),
    # Not a public vector: 4,3,2,1 with a player of weight 0, as Iceland has no spending figure.
    # A zero-weight player is a dummy and changes nobody else's normalised index.
    ("extra: 4,3,2,1,0 q=6 (a zero weight)", [4, 3, 2, 1, 0], 6, None, None),
]

# (label, unit in US$ million)
GRANULARITIES = [("$1 bn", 1000), ("$100 m", 100), ("$1 m", 1)]
TARGET_CASE = "NATO ⅔, $100 m"
TARGET_RATIO = 100


# ---------------------------------------------------------------------------------------------
# powerindex worker: runs in a subprocess with a time limit and a memory cap.
# ---------------------------------------------------------------------------------------------

def pi_worker():
    job = json.load(sys.stdin)
    try:
        import resource
        cap = int(job["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        pass
    import powerindex as px

    weights, quota, entry = job["weights"], job["quota"], job["entry"]
    times, out = [], {}
    t_start = time.perf_counter()
    try:
        while len(times) < job["max_reps"] and sum(times) < job["budget_s"]:
            game = px.Game(quota, weights=list(weights))
            t_start = time.perf_counter()
            if entry == "banzhaf":
                t0 = time.perf_counter()
                game.calc_banzhaf()
                times.append(time.perf_counter() - t0)
                out = {"banzhaf": game.banzhaf}
            elif entry == "shapley_shubik":
                t0 = time.perf_counter()
                game.calc_shapley_shubik()
                times.append(time.perf_counter() - t0)
                out = {"shapley_shubik": game.shapley_shubik}
            elif entry == "calc":
                t0 = time.perf_counter()
                game.calc()
                times.append(time.perf_counter() - t0)
                out = {"banzhaf": game.banzhaf, "shapley_shubik": game.shapley_shubik}
            else:
                raise ValueError(entry)
    except MemoryError:
        game = None
        out = {"error": f"MemoryError (memory capped at {job['memory_bytes'] / 2**30:.0f} GiB)",
               "failed_after_s": time.perf_counter() - t_start}
    except Exception as e:  # noqa: BLE001 - report whatever powerindex raises
        out = {"error": f"{type(e).__name__}: {e}"}
    out["times_s"] = times
    json.dump(out, sys.stdout)


def run_pi(weights, quota, entry, args):
    """Runs one powerindex entry point in a subprocess; returns its dict (maybe with 'error')."""
    job = {
        "weights": weights, "quota": quota, "entry": entry, "max_reps": args.pi_reps,
        "budget_s": 2.0, "memory_bytes": args.pi_memory_gib * 2**30,
    }
    try:
        p = subprocess.run(
            [sys.executable, __file__, "--pi-worker"], input=json.dumps(job),
            capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout:g} s", "timeout": True}
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"worker exited {p.returncode}: {last}"}
    return json.loads(p.stdout)


# ---------------------------------------------------------------------------------------------
# Brute force: every coalition, exact fractions (fine up to ~20 players).
# ---------------------------------------------------------------------------------------------

BRUTE_MAX = 20


def brute_force(weights, quota):
    n = len(weights)
    swings = [[0] * n for _ in range(n)]  # swings[i][k]: losing S ∌ i, |S| = k, S ∪ {i} wins
    for mask in range(1 << n):
        w = 0
        k = 0
        for j in range(n):
            if mask >> j & 1:
                w += weights[j]
                k += 1
        if w >= quota:
            continue
        for i in range(n):
            if not mask >> i & 1 and w + weights[i] >= quota:
                swings[i][k] += 1
    eta = [sum(s) for s in swings]
    total = sum(eta)
    banzhaf = [F(e, total) if total else F(0) for e in eta]
    nf = math.factorial(n)
    ss = [sum(F(c * math.factorial(k) * math.factorial(n - k - 1), nf) for k, c in enumerate(s))
          for s in swings]
    return {"banzhaf": banzhaf, "shapley_shubik": ss, "swings": eta}


# ---------------------------------------------------------------------------------------------
# Exact DP referee for games too large to enumerate: for each player i, the product of
# (1 + y·x^{w_j}) over the others, built directly (no deconvolution as in powerindex and accord),
# with polynomials in x packed into Python big integers, 64 bits a coefficient (exact for n <= 63).
# ---------------------------------------------------------------------------------------------

SLOT = 64
REFEREE_BUDGET = 2e10  # coefficient-updates (slots × shift-adds) we are willing to spend


def _slot_sum(poly, lo, hi):
    """Σ of the coefficients of x^lo … x^(hi-1) of a packed polynomial."""
    if hi <= lo:
        return 0
    data = (poly >> (SLOT * lo)).to_bytes((hi - lo) * SLOT // 8 + 8, "little")
    return sum(memoryview(data).cast("Q")[: hi - lo])


def referee_cost(weights, quota, shapley):
    n = len(weights)
    return n * n * quota * (n if shapley else 1)


def referee(weights, quota, shapley):
    """Exact Shapley–Shubik, or (normalised Banzhaf, swings), for S wins iff w(S) >= quota."""
    n = len(weights)
    mask = (1 << (SLOT * quota)) - 1  # keep weights 0 … quota-1: nothing above is looked up
    cache = {}
    per_player = []
    for i in range(n):
        wi = weights[i]
        key = (wi, shapley)
        if key not in cache:
            others = weights[:i] + weights[i + 1:]
            lo = max(quota - wi, 0)
            if not shapley:
                poly = 1
                for w in others:
                    poly = (poly + (poly << (SLOT * w))) & mask
                cache[key] = _slot_sum(poly, lo, quota)
            else:
                by_size = [1] + [0] * (n - 1)  # by_size[k]: coalitions of k others, by weight
                for j, w in enumerate(others):
                    for k in range(j + 1, 0, -1):
                        if by_size[k - 1]:
                            by_size[k] = (by_size[k] + (by_size[k - 1] << (SLOT * w))) & mask
                nf = math.factorial(n)
                cache[key] = sum(F(_slot_sum(t, lo, quota) * math.factorial(k)
                                   * math.factorial(n - k - 1), nf)
                                 for k, t in enumerate(by_size))
        per_player.append(cache[key])
    if shapley:
        return per_player
    total = sum(per_player)
    return [F(e, total) if total else F(0) for e in per_player], per_player


# ---------------------------------------------------------------------------------------------
# Games
# ---------------------------------------------------------------------------------------------

def nato_games():
    path = REPO / "data" / "nato" / "members.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    spending = [Decimal(r["defence_expenditure_usd_mn"] or "0") for r in rows]  # Iceland: 0
    names = [r["iso3"] for r in rows]
    games = []
    for label, unit in GRANULARITIES:
        # round half away from zero, as the policy does (values are non-negative)
        weights = [int((s / unit).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for s in spending]
        total = sum(weights)
        quota = -(-2 * total // 3)  # ⌈2W/3⌉, exact in integers
        games.append({"name": f"NATO ⅔, {label}", "weights": weights, "quota": quota,
                      "players": names, "expected": None})
    return games


def vector_games():
    return [{"name": name, "weights": w, "quota": q, "players": [f"p{i + 1}" for i in range(len(w))],
             "expected": {"banzhaf": b, "shapley_shubik": ss}}
            for name, w, q, b, ss in VECTORS]


# ---------------------------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------------------------

def fmt_time(s):
    if s is None:
        return "—"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_frac(x):
    if x is None:
        return "—"
    if x.denominator == 1:
        return str(x.numerator)
    return f"{x.numerator}/{x.denominator}" if x.denominator < 10**4 else f"{float(x):.12g}"


def table(header, rows, right=()):
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]

    def line(r):
        return "  ".join(str(v).rjust(widths[c]) if c in right else str(v).ljust(widths[c])
                         for c, v in enumerate(r)).rstrip()
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def median(xs):
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the built power_cli example")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds for each powerindex computation (default 120)")
    ap.add_argument("--pi-memory-gib", type=int, default=8,
                    help="address-space cap for each powerindex subprocess (default 8 GiB)")
    ap.add_argument("--pi-reps", type=int, default=5,
                    help="powerindex repetitions where one takes well under 2 s (default 5)")
    ap.add_argument("--reps", type=int, default=7, help="accord repetitions (default 7)")
    args = ap.parse_args()

    import importlib.metadata
    pi_version = importlib.metadata.version("powerindex")
    games = nato_games() + vector_games()
    print(f"powerindex {pi_version} (Python {sys.version.split()[0]}) vs accord_weighted::power "
          f"(Rust, release). Quota: absolute integer, S wins iff w(S) >= q, for both.")
    print(f"Timing: powerindex = time.perf_counter() around Game.calc_banzhaf() and "
          f"Game.calc_shapley_shubik(), median of up to {args.pi_reps} runs (fewer when slow), "
          f"each index in its own subprocess with a {args.timeout:g} s limit and a "
          f"{args.pi_memory_gib} GiB memory cap; accord = power_indices() (both indices in one "
          f"call) timed inside the example, median of {args.reps} runs after a warm-up.")
    print()

    # accord: one process for all games
    doc = {"repetitions": args.reps,
           "games": [{"name": g["name"], "weights": g["weights"], "quota": g["quota"]} for g in games]}
    p = subprocess.run([args.cli], input=json.dumps(doc), capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"power_cli failed ({p.returncode}): {p.stderr.strip()}")
    for g, r in zip(games, json.loads(p.stdout)["games"]):
        g["accord"] = r

    # powerindex: each case and index in its own subprocess
    for g in games:
        w, q = g["weights"], g["quota"]
        t0 = time.perf_counter()
        print(f"  powerindex: {g['name']} …", end="", flush=True, file=sys.stderr)
        g["pi_b"] = run_pi(w, q, "banzhaf", args)
        g["pi_ss"] = run_pi(w, q, "shapley_shubik", args)
        if max(w) >= q:
            g["pi_calc"] = run_pi(w, q, "calc", args)
        else:
            # Game.calc() runs exactly calc_banzhaf() and calc_shapley_shubik() (plus the
            # contested-garment rule) when no weight reaches the quota: the same results.
            g["pi_calc"] = {"banzhaf": g["pi_b"].get("banzhaf"),
                            "shapley_shubik": g["pi_ss"].get("shapley_shubik"),
                            "same_path": True}
            errs = [x["error"] for x in (g["pi_b"], g["pi_ss"]) if "error" in x]
            if errs:
                g["pi_calc"]["error"] = "; ".join(errs)
        print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    # ---- the table ----
    print("TIMING (powerindex total = Banzhaf + Shapley–Shubik; ratio = powerindex / accord)")
    rows = []
    ratios = {}
    for g in games:
        a = g["accord"]
        a_s = a["time_ns"] / 1e9 if "time_ns" in a else None
        cells, total, lower, unknown = [], 0.0, False, False
        for key in ("pi_b", "pi_ss"):
            r = g[key]
            if r.get("timeout"):
                cells.append(f"> {args.timeout:g} s (timeout)")
                total += args.timeout
                lower = True
            elif "error" in r and "MemoryError" in r["error"]:
                t = r.get("failed_after_s", 0.0)
                cells.append(f"> {fmt_time(t)} (out of memory)")
                total += t
                lower = True
            elif "error" in r:
                cells.append(f"error ({r['error'].split(':')[0]})")
                unknown = True
            else:
                t = median(r["times_s"])
                cells.append(fmt_time(t))
                total += t
        if a_s and not unknown:
            ratio = total / a_s
            ratios[g["name"]] = (ratio, lower)
            ratio_s = (f"> {ratio:,.0f}×" if lower else f"{ratio:,.0f}×") if ratio >= 10 \
                else (f"> {ratio:.1f}×" if lower else f"{ratio:.1f}×")
        else:
            ratio_s = "—"
        total_s = "—" if unknown else (f"> {fmt_time(total)}" if lower else fmt_time(total))
        rows.append([g["name"], len(g["weights"]), f"{int(a['total_weight']):,}", f"{g['quota']:,}",
                     cells[0], cells[1], total_s,
                     fmt_time(a_s) if a_s is not None else f"error: {a.get('error')}", ratio_s])
    table(["case", "n", "total weight", "quota", "powerindex Banzhaf", "powerindex S-S",
           "powerindex total", "accord (both)", "ratio"], rows, right={1, 2, 3, 8})
    print()
    target = ratios.get(TARGET_CASE)
    if target is None:
        print(f"Target: accord at least {TARGET_RATIO}× faster at $100 m granularity: NOT MET "
              f"(no ratio measured)")
    else:
        ratio, lower = target
        verdict = "MET" if ratio >= TARGET_RATIO else ("NOT MET" if not lower else "UNDECIDED")
        print(f"Target: accord at least {TARGET_RATIO}× faster than powerindex at $100 m "
              f"granularity ({TARGET_CASE}): {verdict} ({'> ' if lower else ''}{ratio:,.0f}×)")
    for g in games:
        for key, what in (("pi_b", "Banzhaf"), ("pi_ss", "Shapley–Shubik")):
            if "error" in g[key]:
                print(f"  note: powerindex {what} on {g['name']}: {g[key]['error']}")
    print()

    # ---- correctness ----
    print(f"DISAGREEMENTS (|difference| > {TOL:g}). References: the public vectors where given; "
          f"brute force over all 2^n coalitions (n <= {BRUTE_MAX}); above that an exact DP "
          f"written here (big integers, each player's table built without it, no deconvolution) "
          f"where affordable.")
    separate = [g["name"] for g in games if not g["pi_calc"].get("same_path")]
    print("powerindex has two entry points: Game.calc() (its Python API) and Game.calc_banzhaf() / "
          "calc_shapley_shubik() (used by its px CLI). They run the same code unless a weight "
          "reaches the quota, where calc() gives all power to those players; calc() was run "
          "separately on those cases: " + ", ".join(separate) + ".")
    small = [g for g in games if len(g["weights"]) <= BRUTE_MAX]
    dp_ok = all(referee(g["weights"], g["quota"], False)[0] == bf["banzhaf"]
                and referee(g["weights"], g["quota"], True) == bf["shapley_shubik"]
                for g in small for bf in [brute_force(g["weights"], g["quota"])])
    print(f"The exact DP itself {'agrees' if dp_ok else 'DISAGREES'} with brute force, exactly, "
          f"on the {len(small)} small cases.")
    n_dis = 0
    accord_checked = []
    not_compared = []
    agree = []
    for g in games:
        n = len(g["weights"])
        exp = g["expected"] or {}
        a = g["accord"]
        if "error" in a:
            n_dis += 1
            print(f"\n{g['name']}: accord failed: {a['error']}")
            continue
        refs = reference(g)
        # accord against every reference, whether or not powerindex disagrees
        for idx in ("banzhaf", "shapley_shubik"):
            for vals, src in ((refs.get(idx, (None, None))), (exp.get(idx), "vector")):
                if vals is not None:
                    accord_checked.append((g["name"], idx, src, close_rel(vals, a[idx])))
        if g.get("ref_swings") is not None:
            accord_checked.append((g["name"], "swings (exact integers)", refs["banzhaf"][1],
                                   [int(x) for x in a["swings"]] == g["ref_swings"]))
        # how close powerindex and accord are where they agree
        for idx in ("banzhaf", "shapley_shubik"):
            pv = (g["pi_b"] if idx == "banzhaf" else g["pi_ss"]).get(idx)
            if pv is not None and close(a[idx], pv):
                agree.append((g["name"], idx, max(abs(x - y) for x, y in zip(a[idx], pv)),
                              max(rel(x, y) for x, y in zip(a[idx], pv))))
        for entry, key in (("Game.calc()", "pi_calc"),
                           ("Game.calc_banzhaf() / calc_shapley_shubik() (= the px CLI)", None)):
            for idx, idx_name in (("banzhaf", "Banzhaf"), ("shapley_shubik", "Shapley–Shubik")):
                if key is None:
                    r = g["pi_b"] if idx == "banzhaf" else g["pi_ss"]
                else:
                    r = g[key]
                    if r.get("same_path"):
                        continue  # no weight reaches the quota: the same code as the direct calls
                pi_vals = r.get(idx)
                truth, truth_src = refs.get(idx, (None, None))
                if truth is None and exp.get(idx) is not None:
                    truth, truth_src = exp[idx], "vector"
                header = (f"\n{g['name']} (weights {short(g['weights'])}, q = {g['quota']:,}) — "
                          f"{idx_name}, powerindex {entry}:")
                if pi_vals is None:
                    if r.get("timeout") or "MemoryError" in r.get("error", ""):
                        not_compared.append(f"{g['name']} {idx_name} ({r['error']})")
                        continue
                    n_dis += 1
                    print(f"{header} no result: {r.get('error', 'none returned')}")
                    if truth is not None:
                        print(f"  → accord {'right' if close(truth, a[idx]) else 'WRONG'} "
                              f"(per {truth_src})"
                              + (f": {fmt_vals(a[idx])}" if n <= MAX_ROWS else ""))
                    continue
                diff = [i for i in range(n) if abs(pi_vals[i] - a[idx][i]) > TOL]
                if not diff:
                    continue
                n_dis += 1
                shown = sorted(diff, key=lambda i: -abs(pi_vals[i] - a[idx][i]))[:MAX_ROWS]
                shown.sort()
                print(f"{header} {len(diff)} of {n} players differ"
                      + (f" (the {len(shown)} largest differences shown)"
                         if len(shown) < len(diff) else ""))
                ref_vals = refs.get(idx, (None, None))[0]
                rows = [[g["players"][i], f"{g['weights'][i]:,}", f"{a[idx][i]:.12g}",
                         f"{pi_vals[i]:.12g}", fmt_frac(exp[idx][i]) if exp.get(idx) else "—",
                         fmt_frac(ref_vals[i]) if ref_vals else "—"] for i in shown]
                ref_head = refs.get(idx, (None, "reference"))[1] or "reference"
                table(["player", "weight", "accord", "powerindex", "vector", ref_head], rows,
                      right={1})
                if truth is not None:
                    print(f"  → accord {'right' if close(truth, a[idx]) else 'WRONG'}, "
                          f"powerindex {'right' if close(truth, pi_vals) else 'WRONG'} "
                          f"(per {truth_src})")
                else:
                    print("  → no reference (too large for brute force and for the exact DP)")
    if n_dis == 0:
        print("none: powerindex and accord agree on every case and index.")
    if not_compared:
        print("\nnot compared, powerindex gave no result in its budget: " + "; ".join(not_compared))
    print(f"\n{n_dis} disagreement(s), counting a case × index × powerindex entry point once.")
    if agree:
        print("\nWithin tolerance (powerindex's direct calls vs accord: max |Δ|, max relative Δ):")
        table(["case", "index", "max |Δ|", "max rel Δ"],
              [[c, "Banzhaf" if i == "banzhaf" else "Shapley–Shubik", f"{d:.1e}", f"{r:.1e}"]
               for c, i, d, r in agree], right={2, 3})
    print()
    bad = [c for c in accord_checked if not c[3]]
    print(f"accord against the references (indices to a relative {REL_TOL:g}, swing counts "
          f"exactly): {len(accord_checked) - len(bad)} of {len(accord_checked)} checks "
          f"(case × index × reference) agree"
          + ("." if not bad else "; MISMATCHES: " + ", ".join(f"{c[0]} {c[1]} vs {c[2]}"
                                                                for c in bad)))
    unchecked = [f"{g['name']} {idx}" for g in games for idx in ("banzhaf", "shapley_shubik")
                 if idx not in g.get("refs", {}) and not (g["expected"] or {}).get(idx)]
    if unchecked:
        print("  no reference (too costly): " + ", ".join(unchecked))


MAX_ROWS = 8


def reference(g):
    """{index: (exact values, source)} by brute force or, for larger games, the exact DP."""
    w, q = g["weights"], g["quota"]
    refs = {}
    if len(w) <= BRUTE_MAX:
        bf = brute_force(w, q)
        refs = {idx: (bf[idx], "brute force") for idx in ("banzhaf", "shapley_shubik")}
        g["ref_swings"] = bf["swings"]
    elif len(w) <= 63:
        if referee_cost(w, q, False) <= REFEREE_BUDGET:
            values, g["ref_swings"] = referee(w, q, False)
            refs["banzhaf"] = (values, "exact DP")
        if referee_cost(w, q, True) <= REFEREE_BUDGET:
            refs["shapley_shubik"] = (referee(w, q, True), "exact DP")
    g["refs"] = refs
    return refs


def fmt_vals(xs):
    return "[" + ", ".join(f"{x:.6g}" for x in xs) + "]"


REL_TOL = 1e-9


def rel(x, y):
    """Relative difference |x − y| / max(|x|, |y|) (0 when both are 0)."""
    d = abs(x - y)
    return 0.0 if d == 0 else d / max(abs(x), abs(y))


def close_rel(truth, xs):
    return all(rel(float(t), x) <= REL_TOL for t, x in zip(truth, xs, strict=True))


def close(truth, xs):
    return all(abs(float(t) - x) <= TOL for t, x in zip(truth, xs, strict=True))


def short(ws):
    return ",".join(str(w) for w in ws) if len(ws) <= 8 else f"{len(ws)} players"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pi-worker"]:
        pi_worker()
    else:
        main()
