"""Top-5 of the full-size ResNet preset in single calls, with a reference from another start.

For a size too slow for ``bench_resnet.py``'s interleaved rounds (P = 150,794, N = 1,797:
minutes per call): our ``spectrum.lanczos(k=5, which="top", rtol=1e-10)`` twice (the first
compiles), then a fixed-depth Lanczos run from another start vector (key 7) as the reference.
Each call's wall time, the CPU time it received and the 1-minute load average are recorded;
PyHessian's side is ``bench_resnet.py --no-bn --tasks top5-pyhessian --rounds 1``.

Run (theory-lab venv): ``python benchmarks/resnet_top5_single.py [--data one|batched|stream]
[--reference-depth 70] [--json out.json]``.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import side_resnet


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1797)
    ap.add_argument("--widths", default="32,64,64")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--data", default="one", choices=("one", "batched", "stream"))
    ap.add_argument("--reference-depth", type=int, default=70)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    widths = tuple(int(w) for w in args.widths.split(","))
    npz = Path(tempfile.mkdtemp()) / "resnet.npz"
    out = {"info": side_resnet.setup(args.n, widths, False, args.batch, str(npz)), "data": args.data, "calls": []}
    print(out["info"], flush=True)

    def timed(name, fn, *a):
        w0, c0, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        value = fn(*a)
        out["calls"].append({"name": name, "value": value, "wall_s": time.perf_counter() - w0,
                             "cpu_s": time.process_time() - c0, "load": load})
        print(json.dumps(out["calls"][-1]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1))

    timed("top5 (first call, compiles)", side_resnet.top5, args.data)
    timed("top5 (warm)", side_resnet.top5, args.data)
    if args.reference_depth:
        timed(f"reference depth {args.reference_depth}, key 7", side_resnet.reference, args.reference_depth, args.data)


if __name__ == "__main__":
    main()
