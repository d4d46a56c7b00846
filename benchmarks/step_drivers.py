"""Issue 10: the CPU Lanczos drivers per step, against the product alone, in one warm process.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/step_drivers.py POINT.npz [ROUNDS] [DRIVER ...]``
(default 7 rounds, drivers ``host python``). Network and operator as ``side_theory_lab.py``
(digits CNN, ``HessianMatvec``, key 2). Each round times, in rotating order:

* ``lanczos/D``: the whole ``spectrum.lanczos(k=5, which="top", rtol=1e-10, driver=D)``;
* ``steps/D``: ``krylov.extend`` to the same depth (no convergence checks), blocked at the end;
* ``steps/python-noread``: the python driver's programs with no per-step read (a lower bound, see below);
* ``products``: as many chained products ``v ← A v`` alone (no host read until the end);
* ``products+read``: the same with ``np.asarray`` of each product (a host round trip per product);
* ``prepare``: the operator's preparation alone (its linearisation; part of every ``lanczos`` and ``steps``
  call), also ÷ depth.

Prints min and median wall ms per step (÷ depth), the median over rounds of each task's difference to
``products`` in the same round, the median CPU ms per step of the process (all its threads), and the load
average before and after; not a test.
"""

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from theory_lab import derivatives as D  # noqa: E402
from theory_lab import krylov, operators  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402
from theory_lab.presets import architecture  # noqa: E402


def main(path, rounds=7, drivers=("host", "python")):
    z = np.load(path)
    obj = D.objective(architecture("digits-cnn"))
    params = (jnp.asarray(z["theta"]), jnp.asarray(z["X"]), jnp.asarray(z["Y"]))
    op, P, key = D.HessianMatvec(obj), obj.P, jax.random.key(2)
    runs = {d: S.lanczos(op, P, key, *params, k=5, which="top", rtol=1e-10, driver=d) for d in drivers}  # warm-up
    ref = runs[drivers[0]]
    for d, r in runs.items():
        rel = np.max(np.abs(r.values - ref.values) / np.abs(ref.values))
        print(f"{d}: products {r.num_matvecs}, depth {r.depth}, values {np.array2string(r.values, precision=15)}, "
              f"max rel. difference to {drivers[0]} {rel:.1e}")
    depth = ref.depth
    linear = operators.prepare(op, P, params, driver="python")
    v0 = np.array(jax.random.normal(key, (P,), jnp.float64))
    v0 /= np.linalg.norm(v0)

    def lanczos(d):
        return lambda: S.lanczos(op, P, key, *params, k=5, which="top", rtol=1e-10, driver=d)

    def steps(d):
        def run():
            K = krylov.extend(krylov.start(op, P, key, params, capacity=64, driver=d, keep_products=True), depth)
            np.asarray(K.state[1])
        return run

    def python_noread():
        # the "python" driver's two programs per step with no read at all: the lower bound of any pipelined
        # variant that keeps the state on the device (reading each flag one step behind, say); unsafe at a
        # breakdown (the next product would be made before the restart), fine for timing at a point without
        K = krylov.start(op, P, key, params, capacity=64, driver="python", keep_products=True)
        st, restart = K.state, jax.device_put(np.bool_(True))
        for _ in range(depth):
            Aq = operators.apply_one(op, K.linear, (), st[9])
            AQ = st[8]
            st, _flag = krylov._update_jit(K.key, restart, st[:8] + (None, st[9]), Aq)
            st = st[:8] + (krylov._keep(AQ, st[3], Aq), st[9])
        np.asarray(st[1])

    def prepare():
        jax.block_until_ready(operators.prepare(op, P, params, driver="python"))

    def products():
        v = v0
        for _ in range(depth):
            v = operators.apply_one(op, linear, (), v)
        np.asarray(v)

    def products_read():
        v = v0
        for _ in range(depth):
            v = np.asarray(operators.apply_one(op, linear, (), v))

    tasks = {**{f"lanczos/{d}": lanczos(d) for d in drivers}, **{f"steps/{d}": steps(d) for d in drivers},
             "steps/python-noread": python_noread,
             "products": products, "products+read": products_read, "prepare": prepare}
    for f in tasks.values():
        f()
    names, times, cpu = list(tasks), {n: [] for n in tasks}, {n: [] for n in tasks}
    load0 = os.getloadavg()
    for r in range(rounds):
        for n in names[r % len(names):] + names[: r % len(names)]:
            t, c = time.perf_counter(), time.process_time()
            tasks[n]()
            times[n].append(time.perf_counter() - t)
            cpu[n].append(time.process_time() - c)
    load1 = os.getloadavg()
    print(f"{path}: depth {depth}, {rounds} rounds, load {load0[0]:.2f} -> {load1[0]:.2f} (1-min average)")
    base = np.array(times["products"])
    print(f"  {'':20s} wall ms/step: min  median | median of per-round (task - products) | CPU ms/step median")
    for n in names:
        t = np.array(times[n]) * 1e3 / depth
        d = (np.array(times[n]) - base) * 1e3 / depth
        print(f"  {n:20s} {t.min():5.2f} {np.median(t):5.2f} | {np.median(d):+5.2f} | "
              f"{np.median(cpu[n]) * 1e3 / depth:5.2f}   all {np.round(t, 2).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7, tuple(sys.argv[3:]) or ("host", "python"))
