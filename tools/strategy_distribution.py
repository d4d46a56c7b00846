"""Print what :func:`theory_lab.strategies.setups` draws: histograms of N, n_k/N, kinds, data laws.

    python tools/strategy_distribution.py [--examples 400] [--seed 0] [--ranks]

``--ranks`` also decides ``rank F_k`` on every draw (Theorem 3.5's setting) and counts
conclusive, inconclusive and deficient results per data law. Seeded: the same seed gives
the same table.
"""

from __future__ import annotations

import argparse
import collections
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import theory_lab  # noqa: E402,F401  (float64 on)
from theory_lab import strategies as tls  # noqa: E402
from theory_lab.feature_maps import feature_rank  # noqa: E402


def _hist(title: str, counter: collections.Counter, total: int) -> None:
    print(f"\n{title}")
    for key in sorted(counter, key=lambda k: (isinstance(k, str), k)):
        print(f"  {str(key):>14}  {counter[key]:5d}  {100 * counter[key] / total:5.1f} %  "
              + "#" * round(40 * counter[key] / total))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ranks", action="store_true")
    args = parser.parse_args()
    c = collections.defaultdict(collections.Counter)
    archs, shapes, inconclusive = set(), set(), []

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(law=st.sampled_from(tls.DATA_LAWS), data=st.data())
    def sample(law, data):
        net, X, params = data.draw(tls.setups(data_laws=(law,)))
        info = net.arch.layer(net.k)
        c["N"][net.N] += 1
        c["kind"][{1: "dense", 2: "conv1d", 3: "conv2d"}[len(net.arch.input_shape)]] += 1
        c["k"][net.k] += 1
        c["wide layer"][info.kind] += 1
        ratio = net.n_k / net.N
        c["n_k / N"]["= 1" if net.n_k == net.N else f"<= {min(b for b in (1.25, 1.5, 2, 3, 4, 8) if ratio <= b)}"] += 1
        c["data law"][law] += 1
        archs.add(net.arch)
        shapes.add((net.arch, net.N))
        if args.ranks:
            r = feature_rank(net.arch, params, X, net.k)
            verdict = {None: "inconclusive", False: "full", True: "DEFICIENT"}[r.below(net.N)]
            c[f"rank F_k ({law})"][verdict] += 1
            if verdict != "full":
                inconclusive.append(f"{verdict}: {net.arch.layers} k={net.k} N={net.N} {law}: {r} {r.unresolved}")

    sample()
    total = sum(c["N"].values())
    print(f"{total} draws, seed {args.seed}: {len(archs)} distinct architectures, {len(shapes)} distinct "
          f"(architecture, N) pairs = compilations of the forward pass")
    ratios = collections.Counter()
    for title, counter in c.items():
        _hist(title, counter, sum(counter.values()))
    del ratios
    for line in inconclusive:
        print(line)


if __name__ == "__main__":
    main()
