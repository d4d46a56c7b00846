"""Where the VM's idle penalty comes from: a per-page cost after the process sat idle.

``benchmarks/idle_penalty.py`` measured that a worker idle for a few tenths of a second runs
its next call much slower. This script shows that the cost is paid per memory page touched:

* **numpy**: the sum of a 10 MB float64 array that already exists, right after the same sum
  (hot) and after sleeping ``--gap`` seconds, once on ordinary 4 KB pages and once on 2 MB
  transparent huge pages (``madvise(MADV_HUGEPAGE)`` on an aligned anonymous mapping; the
  script checks ``AnonHugePages`` and says when the kernel gave none);
* **theory-lab** (with ``--point``): the time of each of 39 chained linearised Hessian products at a
  benchmark point (``operators.apply_one``, as inside ``spectrum.lanczos``), hot and after the
  same sleep, product by product.

Usage (from the repository root; the point comes from ``bench_spectrum.py``'s cache)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/page_penalty.py \\
        --point /tmp/theory-lab-bench-points/critical.npz --json benchmarks/page_penalty.json

Nothing here is asserted: the numbers describe the machine, and the script writes them as JSON.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import statistics
import time
from pathlib import Path

import numpy as np

import protocol

MADV_HUGEPAGE = 14
HUGE = 2 << 20


def _huge_pages_kb() -> int:
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return -1
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("AnonHugePages")), -1)


def huge_page_array(nbytes: int):
    """A float64 array of ``nbytes`` on an anonymous mapping advised to use 2 MB pages, and its mapping."""
    size = -(-nbytes // HUGE) * HUGE + HUGE
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    raw = np.frombuffer(region, dtype=np.uint8)
    offset = (-raw.ctypes.data) % HUGE
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.madvise(ctypes.c_void_p(raw.ctypes.data + offset), ctypes.c_size_t(size - HUGE), MADV_HUGEPAGE) != 0:
        raise OSError(ctypes.get_errno(), "madvise(MADV_HUGEPAGE) failed")
    arr = raw[offset:offset + nbytes].view(np.float64)
    arr[:] = 1.0
    return arr, region


def numpy_sums(gap: float, rounds: int, megabytes: int = 10) -> dict:
    n = megabytes << 20
    before = _huge_pages_kb()
    arrays = {"4 KB pages": np.ones(n // 8)}
    arrays["2 MB pages"], region = huge_page_array(n)
    out = {"megabytes": megabytes, "anon_huge_pages_kb_added": _huge_pages_kb() - before}
    for name, a in arrays.items():
        hot, idle = [], []
        a.sum()
        for _ in range(rounds):
            t = time.perf_counter()
            a.sum()
            hot.append(time.perf_counter() - t)
            time.sleep(gap)
            t = time.perf_counter()
            a.sum()
            idle.append(time.perf_counter() - t)
        out[name] = {"hot_ms": 1e3 * statistics.median(hot), "after_idle_ms": 1e3 * statistics.median(idle)}
    del arrays, region
    return out


MADV_COLLAPSE = 25


def collapse_heap() -> dict:
    """Advise every writable anonymous mapping (and the heap) of 2 MB or more to use huge pages, and ask
    the kernel to collapse them now (``MADV_HUGEPAGE`` then ``MADV_COLLAPSE``, Linux ≥ 6.1): the
    arrays a product reads, wherever XLA put them, then sit on 2 MB pages if the kernel agrees."""
    libc = ctypes.CDLL(None, use_errno=True)
    done = refused = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        a, b = -(-lo // HUGE) * HUGE, hi // HUGE * HUGE
        if "w" not in parts[1] or path not in ("", "[heap]") or b <= a:
            continue
        libc.madvise(ctypes.c_void_p(a), ctypes.c_size_t(b - a), MADV_HUGEPAGE)
        ok = libc.madvise(ctypes.c_void_p(a), ctypes.c_size_t(b - a), MADV_COLLAPSE) == 0
        done, refused = done + ok, refused + (not ok)
    return {"collapsed": done, "refused": refused, "anon_huge_pages_kb": _huge_pages_kb()}


def product_chain(point: Path, gap: float, rounds: int, n: int = 39, huge: bool = False) -> dict:
    import side_theory_lab as side  # the benchmark's own loading of a point (x64 on at import)

    from theory_lab import krylov, operators

    side.setup(str(point))
    s = side.STATE
    op, P = s["op"], s["obj"].P
    lin = krylov.prepare(op, P, (s["theta"], s["X"], s["Y"]), driver="host")
    q0 = np.random.default_rng(0).standard_normal(P)

    def chain():
        times, v = [], q0 / np.linalg.norm(q0)
        for _ in range(n):
            t = time.perf_counter()
            v = np.asarray(operators.apply_one(op, lin, (), v))
            v = v / np.linalg.norm(v)
            times.append(time.perf_counter() - t)
        return times

    for _ in range(3):
        chain()
    collapsed = collapse_heap() if huge else None
    hot = [chain() for _ in range(rounds)]
    idle = []
    for _ in range(rounds):
        time.sleep(gap)
        idle.append(chain())
    med = lambda rows: [1e3 * statistics.median(col) for col in zip(*rows)]  # noqa: E731
    h, i = med(hot), med(idle)
    return {"products": n, "hot_ms": h, "after_idle_ms": i, "hot_total_ms": sum(h), "after_idle_total_ms": sum(i),
            "huge_pages": collapsed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gap", type=float, default=1.0, help="seconds asleep before the timed call")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--point", type=Path, default=None, help="a bench_spectrum.py point (.npz) for the product chain")
    ap.add_argument("--huge", action="store_true",
                    help="after the warm-up, collapse the process's anonymous memory onto 2 MB pages (collapse_heap)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    out = {"machine": protocol.machine(), "gap_s": args.gap, "rounds": args.rounds,
           "numpy_sum": numpy_sums(args.gap, args.rounds)}
    s = out["numpy_sum"]
    print(f"sum of {s['megabytes']} MB (huge pages granted: {s['anon_huge_pages_kb_added']} kB):")
    for name in ("4 KB pages", "2 MB pages"):
        print(f"  {name}: hot {s[name]['hot_ms']:.2f} ms, after {args.gap:g} s asleep {s[name]['after_idle_ms']:.2f} ms")
    if args.point is not None:
        c = out["product_chain"] = product_chain(args.point, args.gap, args.rounds, huge=args.huge)
        pick = [0, 1, 2, 5, 10, 20, c["products"] - 1]
        print(f"{c['products']} chained products at {args.point.name}, ms per product at positions {pick}:")
        print("  hot:        " + ", ".join(f"{c['hot_ms'][i]:.2f}" for i in pick) + f"  (total {c['hot_total_ms']:.1f})")
        print("  after idle: " + ", ".join(f"{c['after_idle_ms'][i]:.2f}" for i in pick)
              + f"  (total {c['after_idle_total_ms']:.1f})")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
