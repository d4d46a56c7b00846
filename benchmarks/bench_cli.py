"""`theory-lab spectrum` from the shell: a cold run (empty compile cache) against the next run (the cache filled).

Each round makes a new, empty cache folder, runs the command twice with it (cold, then second) and
time-stamps every line the command prints as it arrives, so a run gives both its wall time to the
*first result* (the line ``top-k: …``: the Lanczos eigenpairs, printed as soon as that stage ends) and its
whole wall time (every stage, the figure and the two files written). The ratio second / cold is taken
within a round, its median over rounds reported with min and median of each side, the load average before
each run and the CPU time the run received (children's ``ru_utime + ru_stime``).

Run (the project venv; from the repository root)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cli.py --rounds 5 --json /tmp/bench_cli.json

Nothing is asserted: the numbers go to RESULTS.md by hand, with the machine and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402

FIRST = "top-"  # the first result: the Lanczos eigenpairs


def run_once(cmd: list[str], cache: Path, out: Path) -> dict:
    """Run ``cmd`` once with ``cache`` as its compile cache; seconds to each line, to the first result, to exit."""
    env = dict(os.environ, THEORY_LAB_COMPILE_CACHE=str(cache), COLUMNS="200", PYTHONUNBUFFERED="1")
    load = protocol.load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    lines = []
    for line in proc.stdout:
        lines.append((round(time.perf_counter() - t0, 3), line.rstrip("\n")))
    rc = proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {rc}:\n" + "\n".join(text for _, text in lines))
    first = next(t for t, text in lines if text.startswith(FIRST))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "first_result_s": first, "cpu_s": round(cpu, 3), "load": round(load, 2),
            "lines": lines}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=Path("bench_cli.json"))
    ap.add_argument("--theory-lab", default=str(Path(sys.executable).with_name("theory-lab")),
                    help="the command (default: theory-lab beside this Python)")
    ap.add_argument("args", nargs="*", default=["spectrum", "--arch", "digits-cnn"],
                    help="the command's arguments (default: spectrum --arch digits-cnn)")
    args = ap.parse_args(argv)
    cmd = [args.theory_lab, *args.args]
    results = {"machine": protocol.machine(), "command": cmd, "rounds": []}
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        for i in range(args.rounds):
            cache = work / f"cache{i}"  # new and empty: the first run of the round is cold
            row = {name: run_once(cmd, cache, work / "out") for name in ("cold", "second")}
            results["rounds"].append(row)
            print(f"[{time.strftime('%H:%M:%S')}] round {i + 1}: " + ", ".join(
                f"{name} {r['first_result_s']:.2f} s to first result, {r['wall_s']:.2f} s in all "
                f"(CPU {r['cpu_s']:.2f} s, load {r['load']:.1f})" for name, r in row.items()), file=sys.stderr, flush=True)
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for what in ("first_result_s", "wall_s"):
        cold = [r["cold"][what] for r in results["rounds"]]
        second = [r["second"][what] for r in results["rounds"]]
        ratios = [s / c for s, c in zip(second, cold)]
        summary[what] = {"cold_min": min(cold), "cold_median": statistics.median(cold), "second_min": min(second),
                         "second_median": statistics.median(second), "ratio_median": round(statistics.median(ratios), 3),
                         "ratios": [round(x, 3) for x in ratios]}
    results["summary"] = summary
    results["machine_end"] = protocol.machine()
    args.json.write_text(json.dumps(results, indent=1))
    print(json.dumps(summary, indent=1))
    return results


if __name__ == "__main__":
    main()
