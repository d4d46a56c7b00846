"""Both sides of the rank-evidence comparison (served by ``benchmarks/protocol.py``): ``F_k`` from an ``.npz``."""

import numpy as np

import theory_lab  # noqa: F401  (float64 on)
from theory_lab.linalg import rank_report as _rank_report

STATE: dict = {}


def setup(path: str) -> dict:
    STATE["F"] = np.load(path)["F"]
    _rank_report(STATE["F"][:50, :80])  # warm numpy/LAPACK
    np.linalg.matrix_rank(STATE["F"][:50, :80])
    return {"shape": list(STATE["F"].shape), "numpy": np.__version__}


def rank_report() -> dict:
    r = _rank_report(STATE["F"])
    return {"rank": r.rank, "margin": r.margin}


def matrix_rank() -> dict:
    return {"rank": int(np.linalg.matrix_rank(STATE["F"]))}
