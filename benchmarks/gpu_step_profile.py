"""Issue 10: where one host-driver Lanczos step goes on an accelerator (digits CNN at a saved point).

Usage: ``python benchmarks/gpu_step_profile.py POINT.npz OUT.json``. In one warm process, medians over 50 calls (ms):

* ``product_device``: ``operators.apply_one`` on a device vector, blocked (the product alone);
* ``product_host``: the same on a numpy vector, read back with ``np.asarray`` (what a host step does);
* ``cgs2``: the step's numpy orthogonalisation against 40 basis rows;
* ``ritz``: ``krylov.ritz`` of a depth-40 basis (one convergence check);
* ``step``: the whole top-5 run (``driver="host"``) divided by its products;

and the 15 functions with the largest own time in a cProfile of 5 whole runs. Not a test.
"""

import cProfile
import io
import json
import pstats
import statistics
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


def median_ms(fn, n=50):
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(path, out):
    z = np.load(path)
    obj = D.objective(architecture("digits-cnn"))
    params = (jnp.asarray(z["theta"]), jnp.asarray(z["X"]), jnp.asarray(z["Y"]))
    op, P, key = D.HessianMatvec(obj), obj.P, jax.random.key(2)
    linear = operators.prepare(op, P, params, driver="host")
    v_dev = jax.random.normal(key, (P,), jnp.float64)
    v_np = np.asarray(v_dev)
    K = krylov.extend(krylov.start(op, P, key, params, capacity=64, driver="host", keep_products=True), 40)
    Q = K.state[0][:40]
    Aq = np.asarray(operators.apply_one(op, linear, params, v_np))
    run = lambda: S.lanczos(op, P, key, *params, k=5, which="top", rtol=1e-10, driver="host")  # noqa: E731
    r = run()
    res = {
        "backend": jax.default_backend(), "jax": jax.__version__, "products": int(r.num_matvecs),
        "product_device": median_ms(lambda: operators.apply_one(op, linear, params, v_dev).block_until_ready()),
        "product_host": median_ms(lambda: np.asarray(operators.apply_one(op, linear, params, v_np))),
        "cgs2": median_ms(lambda: krylov._cgs2(Q, Aq)),
        "ritz": median_ms(lambda: krylov.ritz(K)),
        "step": median_ms(run, 10) / r.num_matvecs,
    }
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        run()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
    res["profile"] = buf.getvalue()
    print(json.dumps({k: v for k, v in res.items() if k != "profile"}, indent=1))
    print(res["profile"])
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
