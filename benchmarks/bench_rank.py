"""Benchmark: rank evidence of F_k against bare LAPACK rank, and Theorem 3.5 architectures per minute.

1. ``rank_report(F_k)`` against ``numpy.linalg.matrix_rank(F_k)`` on the same float64 matrix,
   timed in one run: the full digits (N = 1,797, conv 3x3 with 100 filters, n_1 = 3,600 ≈ 2N)
   and MNIST-1D (N = 4,000, conv 5 with 222 filters, n_1 = 7,992 ≈ 2N). Both call LAPACK's
   divide-and-conquer SVD without vectors; the ratio is the price of the evidence
   (finiteness check, tolerance, margin). Target: ratio <= 1.2.
2. The Theorem 3.5 property test's body (draw a network, data and parameters with
   ``theory_lab.strategies.setups()``, compute F_k, decide its rank with margin) run by
   hypothesis with the CI settings: examples and *distinct* architectures per minute.
   Every new architecture is a new jit compilation. Target: >= 300 architectures / minute.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_rank.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import theory_lab  # noqa: F401  (float64 on)
from theory_lab import data as _data
from theory_lab import expressivity as ex
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.linalg import rank_report


def _time(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def rank_case(name: str, arch: Architecture, X, repeats: int) -> dict:
    params = ex.sample_params(arch, 0)
    ex.features_upto(arch, params, X, 1)  # compile once before timing
    start = time.perf_counter()
    F = ex.features_upto(arch, params, X, 1)
    t_features = time.perf_counter() - start
    rank_report(F[:50, :80])  # warm numpy/LAPACK
    np.linalg.matrix_rank(F[:50, :80])
    times = {"rank_report": [], "matrix_rank": []}
    rep = rank_np = None
    for i in range(repeats):  # interleaved, alternating which goes first, so load changes hit both alike
        order = ("rank_report", "matrix_rank") if i % 2 == 0 else ("matrix_rank", "rank_report")
        for which in order:
            if which == "rank_report":
                t, rep = _time(lambda: rank_report(F), 1)
            else:
                t, rank_np = _time(lambda: np.linalg.matrix_rank(F), 1)
            times[which].append(t)
    t_ours, t_np = min(times["rank_report"]), min(times["matrix_rank"])
    assert rep.rank == int(rank_np), (rep.rank, rank_np)
    return {"case": name, "shape": F.shape, "rank": rep.rank, "margin": rep.margin, "features_s": t_features,
            "rank_report_s": t_ours, "matrix_rank_s": t_np, "ratio": t_ours / t_np, "repeats": repeats,
            "all_rank_report_s": times["rank_report"], "all_matrix_rank_s": times["matrix_rank"]}


def architectures_per_minute(examples: int) -> dict:
    from hypothesis import HealthCheck, given, settings

    from theory_lab import strategies as tls

    seen, counts = set(), {"examples": 0, "holds": 0}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(setup=tls.setups())
    def body(setup):
        net, X, params = setup
        r = ex.feature_rank(net.arch, params, X, net.k)
        counts["examples"] += 1
        counts["holds"] += r.conclusive and r.rank == net.N
        seen.add(net.arch)

    start = time.perf_counter()
    body()
    elapsed = time.perf_counter() - start
    return {"examples": counts["examples"], "distinct_architectures": len(seen), "holds": counts["holds"],
            "seconds": elapsed, "examples_per_minute": 60 * counts["examples"] / elapsed,
            "architectures_per_minute": 60 * len(seen) / elapsed}


def rank_case_protocol(name: str, arch: Architecture, X, rounds: int = 5) -> dict:
    """The same comparison with ``benchmarks/protocol.py``: each side in its own warm worker, rotating rounds."""
    import json
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import protocol

    F = np.asarray(ex.features_upto(arch, ex.sample_params(arch, 0), X, 1))
    side = Path(__file__).resolve().parent / "side_rank.py"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "F.npz"
        np.savez(path, F=F)
        with protocol.Worker("rank_report", side) as a, protocol.Worker("matrix_rank", side) as b:
            a.call("setup", str(path))
            b.call("setup", str(path))
            res = protocol.interleave({"rank_report": (a, "rank_report", ()), "matrix_rank": (b, "matrix_rank", ())},
                                      rounds=rounds, reference="matrix_rank", log=print)
    ranks = {lab: reply["value"]["rank"] for row in res["rounds"] for lab, reply in row}
    out = {"case": name, "shape": list(F.shape), "ranks": ranks, "summary": res["summary"],
           "cpu_share": res["cpu_share"], "load": res["load"], "machine": protocol.machine()}
    print(json.dumps(out, indent=1))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", action="store_true",
                        help="the digits case only, with benchmarks/protocol.py (warm workers, rotating rounds)")
    parser.add_argument("--quick", action="store_true", help="digits only, fewer repeats (a smoke run)")
    parser.add_argument("--examples", type=int, default=300, help="hypothesis examples for the throughput part")
    args = parser.parse_args()

    import jax
    import scipy

    print(f"# bench_rank  {time.strftime('%Y-%m-%d %H:%M:%S')}  python {platform.python_version()}  "
          f"numpy {np.__version__}  scipy {scipy.__version__}  jax {jax.__version__}  {platform.platform()}  "
          f"cpus {os.cpu_count()}  OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}  "
          f"load {os.getloadavg()[0]:.1f}")
    digits = _data.digits(noise=1e-6, seed=0)
    if args.protocol:
        rank_case_protocol("digits N=1797, n_1=3600", Architecture((8, 8, 1), (Conv(100, (3, 3)), Output(10))),
                           digits.X)
        return
    cases = [("digits N=1797, n_1=3600", Architecture((8, 8, 1), (Conv(100, (3, 3)), Output(10))), digits.X,
              2 if args.quick else 3)]
    if not args.quick:
        mnist = _data.mnist1d(4000, seed=42)
        cases.append(("mnist1d N=4000, n_1=7992", Architecture((40, 1), (Conv(222, (5,)), Output(10))), mnist.X, 2))
    for name, arch, X, repeats in cases:
        r = rank_case(name, arch, X, repeats)
        print(f"{r['case']}: F {r['shape'][0]}x{r['shape'][1]} rank {r['rank']} (margin {r['margin']:.3g}); "
              f"rank_report {r['rank_report_s']:.2f} s, matrix_rank {r['matrix_rank_s']:.2f} s, "
              f"ratio {r['ratio']:.3f} (best of {r['repeats']}; all: {['%.2f' % t for t in r['all_rank_report_s']]} "
              f"vs {['%.2f' % t for t in r['all_matrix_rank_s']]}); features {r['features_s']:.2f} s")
    t = architectures_per_minute(60 if args.quick else args.examples)
    print(f"Theorem 3.5 property body: {t['examples']} examples, {t['distinct_architectures']} distinct "
          f"architectures, {t['holds']} conclusive rank F_k = N, in {t['seconds']:.1f} s: "
          f"{t['examples_per_minute']:.0f} examples/min, {t['architectures_per_minute']:.0f} architectures/min "
          f"(load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
