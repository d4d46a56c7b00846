"""`theory-lab spectrum` from the shell: a cold run (empty compile cache) against the next run (the cache filled).

Each round makes a new, empty cache folder, runs the command twice with it (cold, then second) and
time-stamps every line the command prints as it arrives, so a run gives both its wall time to the
*first result* (the line ``top-k: …``: the Lanczos eigenpairs, printed as soon as that stage ends) and its
whole wall time (every stage, the figure and the two files written). The ratio second / cold is taken
within a round, its median over rounds reported with min and median of each side, the load average before
each run and the CPU time the run received (children's ``ru_utime + ru_stime``).

Run (the project venv; from the repository root)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cli.py --rounds 5 --json /tmp/bench_cli.json

With ``--floor`` each round also measures the *floor* of a cached run (``cli_floor.py``): the same
command run again inside one process, where every program is already traced and compiled, plus a fresh
interpreter importing exactly the modules the command had loaded (by its first result, and by its end).
No cache of compiled or traced programs can make a second run faster than that floor.

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
    lines = []
    with subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as proc:  # its pipe closed and the process waited for, whatever happens
        for line in proc.stdout:
            lines.append((round(time.perf_counter() - t0, 3), line.rstrip("\n")))
    rc = proc.returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {rc}:\n" + "\n".join(text for _, text in lines))
    first = next(t for t, text in lines if text.startswith(FIRST))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "first_result_s": first, "cpu_s": round(cpu, 3), "load": round(load, 2),
            "lines": lines}


def import_wall(modules: list[str]) -> float:
    """Seconds for a fresh interpreter (this Python) to start, import ``modules`` in order and exit."""
    code = ("import importlib, sys\nfor n in sys.argv[1:]:\n    try:\n        importlib.import_module(n)\n"
            "    except Exception:\n        pass\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *modules], check=True, env=env)
    return time.perf_counter() - t0


def run_floor(cmd_args: list[str], cache: Path, out: Path) -> dict:
    """The floor of a cached run of ``theory-lab cmd_args`` (see the module docstring)."""
    env = dict(os.environ, THEORY_LAB_COMPILE_CACHE=str(cache), COLUMNS="200", PYTHONUNBUFFERED="1")
    spec = out.parent / "floor.json"
    subprocess.run([sys.executable, str(Path(__file__).with_name("cli_floor.py")), "--json", str(spec), "--",
                    *cmd_args, "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL)
    got = json.loads(spec.read_text())
    warm = min(got["warm"], key=lambda r: r["wall_s"])
    imp_first, imp_all = import_wall(got["modules_first"]), import_wall(got["modules_all"])
    return {"import_first_s": round(imp_first, 3), "import_all_s": round(imp_all, 3),
            "warm_first_result_s": warm["first_result_s"], "warm_wall_s": warm["wall_s"],
            "first_result_s": round(imp_first + warm["first_result_s"], 3),
            "wall_s": round(imp_all + warm["wall_s"], 3), "load": round(protocol.load_average(), 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=Path("bench_cli.json"))
    ap.add_argument("--theory-lab", default=str(Path(sys.executable).with_name("theory-lab")),
                    help="the command (default: theory-lab beside this Python)")
    ap.add_argument("--floor", action="store_true", help="also measure the floor of a cached run (cli_floor.py)")
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
            if args.floor:
                row["floor"] = run_floor(args.args, cache, work / "out")
            results["rounds"].append(row)
            print(f"[{time.strftime('%H:%M:%S')}] round {i + 1}: " + ", ".join(
                f"{name} {r['first_result_s']:.2f} s to first result, {r['wall_s']:.2f} s in all "
                f"(CPU {r['cpu_s']:.2f} s, load {r['load']:.1f})" for name, r in row.items() if name != "floor"), file=sys.stderr, flush=True)
            if args.floor:
                f = row["floor"]
                print(f"    floor {f['first_result_s']:.2f} s to first result (imports {f['import_first_s']:.2f}), "
                      f"{f['wall_s']:.2f} s in all (imports {f['import_all_s']:.2f})", file=sys.stderr, flush=True)
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for what in ("first_result_s", "wall_s"):
        cold = [r["cold"][what] for r in results["rounds"]]
        second = [r["second"][what] for r in results["rounds"]]
        ratios = [s / c for s, c in zip(second, cold)]
        if args.floor:
            floor = [r["floor"][what] for r in results["rounds"]]
            summary[what + "_floor"] = {"floor_min": min(floor), "floor_median": statistics.median(floor),
                                         "ratio_median": round(statistics.median(f / c for f, c in zip(floor, cold)), 3),
                                         "ratios": [round(f / c, 3) for f, c in zip(floor, cold)]}
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
