"""How much slower a worker's call runs after the worker sat idle: the wake-up cost behind the rotation.

In :func:`protocol.interleave` each side's worker waits while the others run (about 2.3 s per
round at the near-critical point, most of it curvlinops + ``eigsh``). On the development VM a
process that has not run for a few tenths of a second or more runs its next call markedly
slower, whatever the code (even a numpy sum over a 10 MB array that already exists). This script measures that
cost per side and task: each worker is called back-to-back, then after sleeping ``gap``
seconds, in rotating order of the gaps, ``--rounds`` times.

Usage (from the repository root, the baselines' virtual environment)::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/idle_penalty.py --point critical \\
        --json benchmarks/idle_penalty.json

The point's ``.npz`` comes from ``bench_spectrum.py`` (its cache folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import protocol

HERE = Path(__file__).resolve().parent
CACHE = Path("/tmp/theory-lab-bench-points")
TASKS = {"theory-lab top-5": ("ours", "top5"), "theory-lab gradient": ("ours", "gradient"),
         "pyhessian top-5": ("torch", "pyhessian_top5")}


def measure(workers: dict, gaps: list[float], rounds: int, log=print) -> dict:
    """``{task: {gap: [seconds of the call made after sleeping gap]}}`` (gap 0: right after the same call)."""
    out = {task: {g: [] for g in gaps} for task in TASKS}
    for r in range(rounds):
        order = gaps[r % len(gaps):] + gaps[:r % len(gaps)]
        for task, (side, fn) in TASKS.items():
            w = workers[side]
            for g in order:
                w.call(fn)  # the worker has just run this call: warm
                time.sleep(g)
                out[task][g].append(w.call(fn)["wall_s"])
        log(f"round {r + 1}: " + "; ".join(f"{t} " + ", ".join(f"{g:g}s {out[t][g][-1]:.3f}" for g in gaps)
                                          for t in TASKS))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point", default="critical")
    ap.add_argument("--gaps", type=float, nargs="*", default=[0.0, 0.3, 1.0, 2.3])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path, default=HERE / "idle_penalty.json")
    args = ap.parse_args(argv)
    path = args.cache / f"{args.point}.npz"
    if not path.exists():
        raise SystemExit(f"{path} is missing; run benchmarks/bench_spectrum.py first (it makes the points).")
    with protocol.Worker("theory-lab", HERE / "side_theory_lab.py") as ours, \
            protocol.Worker("torch", HERE / "side_torch.py", env=protocol.TORCH_ENV) as torch_w:
        workers = {"ours": ours, "torch": torch_w}
        ours.call("setup", str(path))
        torch_w.call("setup", str(path))
        for side, fn in TASKS.values():  # compile, caches
            workers[side].call(fn)
        times = measure(workers, list(args.gaps), args.rounds)
    summary = {t: {f"{g:g}": {"min_s": min(v), "median_s": statistics.median(v)} for g, v in d.items()}
               for t, d in times.items()}
    result = {"machine": protocol.machine(), "point": args.point, "rounds": args.rounds,
              "times_s": {t: {f"{g:g}": v for g, v in d.items()} for t, d in times.items()}, "summary": summary}
    args.json.write_text(json.dumps(result, indent=1))
    for t, d in summary.items():
        print(t, " ".join(f"gap {g}s: median {s['median_s'] * 1e3:.0f} ms" for g, s in d.items()))
    return result


if __name__ == "__main__":
    main()
