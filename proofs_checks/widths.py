"""Checks of the paper's width numbers: Table 1 (real CNNs) and Figure 1 (an MNIST CNN).

* ``table-1``: the widths that :mod:`theory_lab.zoo` infers from each network's published
  layout, against THEORY.md's Table 1 under the conventions of ``docs/table1.md``: the
  paper's numbers are lower bounds rounded down, so at the published input size every
  ``n_1`` and ``max_k n_k`` is at least the paper's number, and is within the rounding
  (``paper ≤ width < 1.1 · paper``) unless the disagreement is documented
  (:attr:`theory_lab.zoo.table1.Entry.why`); VGG's first layer is ``224·224·64``.
  The zoo's copy of the paper's numbers must equal THEORY.md's.
* ``figure-1``: :func:`theory_lab.arch.figure1` has THEORY.md's widths
  ``784, 67600, 16900, 2880, 720, 100, 10`` (and the zoo's independent shape inference
  agrees), is wide at layer 1 for MNIST's ``N = 60,000`` and pyramidal after it.

Widths are integers: every observation is exact (:meth:`~theory_lab.checking.Evidence.exact`).
"""

from __future__ import annotations

import importlib

from theory_lab import arch as _arch
from theory_lab.checking import Check, Context, Evidence, Result, conclude

# the module, not the function ``theory_lab.zoo.table1`` that the package re-exports under its name
_table1 = importlib.import_module("theory_lab.zoo.table1")

__all__ = ["CHECKS", "THEORY_TABLE1", "THEORY_FIGURE1", "EXTRA_INPUT_SIZES"]

#: THEORY.md §3, Table 1: per family, lower bounds on (n_1, max_k n_k).
THEORY_TABLE1 = {"VGG": (3_000_000, 3_000_000), "InceptionV3": (700_000, 1_300_000),
                 "InceptionV4": (700_000, 1_300_000), "SqueezeNet": (1_180_000, 1_180_000),
                 "ENet": (1_000_000, 1_000_000), "GoogLeNet": (800_000, 800_000), "ResNet": (800_000, 800_000),
                 "Xception": (700_000, 700_000)}
#: THEORY.md §3: VGG's first conv layer, 224·224·64.
THEORY_VGG_N1 = 224 * 224 * 64
#: THEORY.md §3, Figure 1: the widths n_0 … n_L and the data set size it is wide for.
THEORY_FIGURE1 = (784, 67_600, 16_900, 2_880, 720, 100, 10)
MNIST_N = 60_000
#: docs/table1.md, "Input sizes": rows at sizes other than the published model's (not the paper's setting).
EXTRA_INPUT_SIZES = ("squeezenet-1.0-224", "enet-1024x512", "enet-480x360")


def _table_1(ctx: Context) -> Result:
    ev = Evidence()
    for family, (n1, mx) in THEORY_TABLE1.items():
        zoo_row = _table1.PAPER_TABLE1[family]
        ev.exact(f"zoo's copy of the paper's {family} row", (zoo_row.n1, zoo_row.max_width), (n1, mx),
                 detail=f"{family}: zoo has {zoo_row.n1:,} / {zoo_row.max_width:,}, THEORY.md {n1:,} / {mx:,}")
    rows = {}
    for entry in _table1.entries():
        if entry.paper not in THEORY_TABLE1 or entry.key in EXTRA_INPUT_SIZES:
            continue
        row = _table1.compare(entry)
        rows[entry.key] = row.to_dict()
        bounds = dict(zip(("n1", "max"), THEORY_TABLE1[entry.paper]))
        values = {"n1": row.n1, "max": row.max_width}
        documented = dict(entry.why)
        for q, label in (("n1", "n_1"), ("max", "max_k n_k")):
            ev.exact(f"{entry.key}: {label} ≥ the paper's lower bound", values[q], bounds[q], ">=",
                     detail=f"{entry.key}: {label} = {values[q]:,} vs the paper's {bounds[q]:,}")
            status = _table1.agreement(values[q], bounds[q])
            ok = status == "matches" or q in documented
            ev.observe(f"{entry.key}: {label} within the paper's rounding, or documented", ok,
                       margin=float("inf") if ok else 0.0, conclusive=True,
                       detail=f"{entry.key}: {label} = {values[q]:,} {status} the paper's {bounds[q]:,}"
                              + (f" (documented: {documented[q]})" if q in documented else ""))
        if entry.paper == "VGG":
            ev.exact(f"{entry.key}: n_1 = 224·224·64", row.n1, THEORY_VGG_N1)
    ev.facts["rows"] = rows
    return conclude("Table 1: real CNNs' widths are at least the paper's numbers, as rounded", [], ev)


def _figure_1(ctx: Context) -> Result:
    ev = Evidence()
    net = _arch.figure1()
    widths = net.widths
    ev.exact("number of layers L", net.L, len(THEORY_FIGURE1) - 1)
    for k, (have, want) in enumerate(zip(widths, THEORY_FIGURE1)):
        ev.exact(f"n_{k}", have, want)
    zoo_widths = tuple(layer.width for layer in _table1.from_architecture(net, "figure1").counted_layers)
    ev.exact("zoo's shape inference agrees", zoo_widths, tuple(widths[1:]),
             detail=f"zoo widths {zoo_widths} vs arch {tuple(widths[1:])}")
    ev.exact("n_1 ≥ N (MNIST)", widths[1], MNIST_N, ">=")
    for k in range(1, net.L):
        ev.exact(f"pyramidal: n_{k} ≥ n_{k + 1}", widths[k], widths[k + 1], ">=")
    ev.facts.update({"widths": list(widths), "theory": list(THEORY_FIGURE1), "N": MNIST_N})
    return conclude("Figure 1's CNN has the paper's widths, wide at layer 1 and pyramidal after", [], ev)


CHECKS = [
    Check("table-1", "Table 1", "widths of real CNNs (shape inference) against the paper's lower bounds",
          _table_1),
    Check("figure-1", "Figure 1", "the MNIST CNN's widths 784, 67600, 16900, 2880, 720, 100, 10", _figure_1),
]
