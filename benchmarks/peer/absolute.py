#!/usr/bin/env python3
"""The indices added with PowerService (issue 13) against `powerindex` 0.3.5, where it has them.

powerindex 0.3.5 computes the normalised Banzhaf and Shapley–Shubik indices (compared by
compare.py), a "contested garment" division (not a voting-power index), and, with
`absolute=True`, "absolute" variants of both. It has no Deegan–Packel, Holler, Johnston or
Coleman index, so those have no peer here (they are checked against the public vectors and
brute force in plugins/weighted/src/power/tests.rs).

The one new index with a namesake in powerindex is the absolute Banzhaf index. They disagree
by definition, and this script shows that the disagreement is exactly that:

- accord's absolute Banzhaf is the probability that a player is decisive, eta_i / 2^(n-1)
  (Banzhaf 1965; Felsenthal and Machover 1998), from exact swing counts;
- powerindex's `absolute=True` multiplies the normalised index by the quota (the index in
  "quota units", `x * original_quota` in `calc_banzhaf`), which is not a probability.

So for every player: powerindex_absolute / quota * sum_j(eta_j) / 2^(n-1) == accord_absolute,
which this script checks on the public test vectors, with accord's swing counts.

Usage: absolute.py PYTHON_WITH_POWERINDEX POWER_CLI   (run.sh-style paths; see README.md)
"""

import json
import subprocess
import sys
from fractions import Fraction

GAMES = [
    ("EEC 1958", [4, 4, 4, 2, 2, 1], 12),
    ("EEC 1958, q = 6", [4, 4, 4, 2, 2, 1], 6),
    ("4,3,2,1 q = 6", [4, 3, 2, 1], 6),
    ("3,2,1,1 q = 4", [3, 2, 1, 1], 4),
    ("50,30,20 q = 40", [50, 30, 20], 40),
    ("60,30,10 q = 51", [60, 30, 10], 51),
    ("51,49 q = 51", [51, 49], 51),
]

PI_CODE = """
import json, sys
from powerindex import Game
out = []
for name, weights, quota in json.load(sys.stdin):
    try:
        g = Game(quota, weights, absolute=True)
        g.calc_banzhaf()
        out.append(g.banzhaf)
    except Exception as e:  # ZeroDivisionError when a weight reaches the quota
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def main():
    python, power_cli = sys.argv[1], sys.argv[2]
    pi = json.loads(subprocess.run([python, "-c", PI_CODE], input=json.dumps(GAMES),
                                   capture_output=True, text=True, check=True).stdout)
    request = {"repetitions": 1,
               "games": [{"name": n, "weights": w, "quota": q} for n, w, q in GAMES]}
    accord = json.loads(subprocess.run([power_cli], input=json.dumps(request),
                                       capture_output=True, text=True, check=True).stdout)
    print("Absolute Banzhaf: accord (eta_i / 2^(n-1)) vs powerindex 0.3.5 absolute=True "
          "(normalised x quota)")
    print(f"{'game':<18} {'player':>6} {'accord':>10} {'powerindex':>11} {'converted':>10}  agree")
    failures = 0
    for (name, weights, quota), p_abs, a in zip(GAMES, pi, accord["games"]):
        n = len(weights)
        swings = [int(s) for s in a["swings"]]
        total = sum(swings)
        if isinstance(p_abs, str):
            print(f"{name:<18} {'all':>6} {'':>10} {p_abs:>11}  (powerindex fails: a weight "
                  f"reaches the quota; see compare.py)")
            continue
        for i in range(n):
            exact = Fraction(swings[i], 2 ** (n - 1))
            converted = p_abs[i] / quota * total / 2 ** (n - 1)
            ok = abs(converted - float(exact)) < 1e-12 and abs(a["banzhaf_absolute"][i] - float(exact)) < 1e-15
            # An improper quota (q <= W/2): powerindex's swing count is wrong there (compare.py,
            # README.md: its direct Banzhaf gives 0, 1/2, 1/2 for 50,30,20 q = 40).
            known = 2 * quota <= sum(weights)
            failures += not ok and not known
            verdict = "yes" if ok else ("no: powerindex's improper-quota error" if known else "NO")
            print(f"{name:<18} {i + 1:>6} {a['banzhaf_absolute'][i]:>10.6f} {p_abs[i]:>11.6f} "
                  f"{converted:>10.6f}  {verdict}")
    print("Deegan–Packel, Holler, Johnston, Coleman: not in powerindex 0.3.5 (no peer).")
    if failures:
        print(f"{failures} disagreement(s) beyond the definitions", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
