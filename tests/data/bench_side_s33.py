"""A trivial side module for tests/test_bench_protocol_s33.py, served by ``benchmarks/protocol.py``.

Every task appends ``"<tag> <call index>"`` to the log file it is given (the true order of the calls, across
workers), and returns what it was asked to: a known sleep, a known CPU burn, a known product count, eigenvalues
perturbed by a known relative error. The same functions stand in for both sides of ``bench_spectrum.py``.
"""

import os
import time

CALLS = {"n": 0}


def _count(tag, log):
    CALLS["n"] += 1
    if log:
        with open(log, "a") as fh:
            fh.write(f"{tag} {CALLS['n']}\n")
    return CALLS["n"]


def task(tag, log=None, sleep=0.0, burn=0.0, first_sleep=0.0):
    """Sleep ``sleep`` s (``first_sleep`` more on the worker's first call), then burn ``burn`` s of its own CPU."""
    n = _count(tag, log)
    time.sleep(sleep + (first_sleep if n == 1 else 0.0))
    c0 = time.process_time()
    while time.process_time() - c0 < burn:
        pass
    return {"index": n, "pid": os.getpid(), "openblas": os.environ.get("OPENBLAS_NUM_THREADS"),
            "omp": os.environ.get("OMP_NUM_THREADS"), "wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def fail():
    raise ValueError("planted failure in the side")


def die():
    os._exit(3)


def unpicklable():
    return lambda: 0


# ---- bench_spectrum's tasks: reference top-5 = 10, 8, 6, 4, 2; each side off by a known relative error

REF = [10.0, 8.0, 6.0, 4.0, 2.0]


def setup(path):
    return {"path": path}


def dense():
    return {"trace": 100.0, "frobenius": 50.0}


def reference():
    return {"top5": list(REF), "min": -1.0, "max_abs": 10.0}


def top5():
    """Ours: the k-th call of this worker is off by (10 - k)·1e-9 in its last value; 31 products."""
    n = _count("top5", None)
    values = REF[:4] + [REF[4] * (1 + (10 - n) * 1e-9)]
    return {"values": values, "products": 31, "depth": 12, "converged": True, "max_residual": 1e-12}


def pyhessian_top5():
    return {"values": [REF[0] * (1 - 1e-2)] + REF[1:], "products": 211}


def curvlinops_top5():
    return {"values": REF[:3] + [REF[3] * (1 + 1e-6), REF[4]], "products": 47}


def gradient():
    return None


def hessian():
    return {"trace": 100.5, "frobenius": 50.1, "asymmetry": 1e-3}
