"""Issue 10, item 2 on an accelerator: which Lanczos driver and which dense-Hessian batch is fastest there.

Usage: ``python benchmarks/gpu_drivers.py POINTS_DIR OUT.json [--rounds 7] [--no-dense] [--resnet]`` where ``POINTS_DIR`` holds
``init.npz``, ``trained.npz`` and ``critical.npz`` from ``bench_spectrum.make_points`` (digits CNN,
P = 5,130, N = 512). In one warm process, on JAX's default backend:

* top-5 (``spectrum.lanczos(k=5, which="top", rtol=1e-10, driver=D)``) for each driver ``host``,
  ``python``, ``loop``, the calls rotating in a balanced order (``protocol.round_order``) over the rounds;
  products, depth and the largest relative difference to ``eigvalsh`` of the dense Hessian;
* one gradient and one prepared Hessian product dispatched alone (the in-loop product's yardstick);
* the dense Hessian with ``batch=None`` (the automatic choice), the Python-driven ``krylov.dense`` and
  ``lax.map`` batches 1, 16, 64, 256, rotating likewise, with the Frobenius difference between them.

``--resnet`` instead times top-5 per driver on the ResNet-style preset (P = 150,794, N = 1,797). Writes min /
median wall seconds per task and the backend's automatic choices; not a test.
"""

import json
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol  # noqa: E402

from theory_lab import derivatives as D  # noqa: E402
from theory_lab import krylov, operators  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402
from theory_lab.presets import architecture  # noqa: E402

DRIVERS = ("host", "python", "loop")
BATCHES = (1, 16, 64, 256)


def _block(x):
    jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)
    return x


def rotate(tasks: dict, rounds: int) -> dict:
    names = list(tasks)
    times = {n: [] for n in names}
    for r in range(rounds):
        for i in protocol.round_order(len(names), r):
            t0 = time.perf_counter()
            _block(tasks[names[i]]())
            times[names[i]].append(time.perf_counter() - t0)
    return {n: {"min": min(t), "median": statistics.median(t), "all": t} for n, t in times.items()}


def point(path: Path, rounds: int) -> dict:
    z = np.load(path)
    obj = D.objective(architecture("digits-cnn"))
    params = (jnp.asarray(z["theta"]), jnp.asarray(z["X"]), jnp.asarray(z["Y"]))
    op, P, key = D.HessianMatvec(obj), obj.P, jax.random.key(2)
    out = {"loss": float(D.loss(obj, *params))}
    t0 = time.perf_counter()
    H = np.asarray(S.materialize(op, P, *params))
    out["dense_first_s"] = time.perf_counter() - t0
    lam = np.linalg.eigvalsh(H)[::-1][:5]
    out["reference_top5"] = lam.tolist()
    runs = {}
    for d in DRIVERS:
        t0 = time.perf_counter()
        r = S.lanczos(op, P, key, *params, k=5, which="top", rtol=1e-10, driver=d)
        runs[d] = {"first_s": time.perf_counter() - t0, "products": int(r.num_matvecs), "depth": int(r.depth),
                   "max_rel_error": float(np.max(np.abs(r.values - lam) / np.abs(lam)))}
    top5 = rotate({d: (lambda d=d: S.lanczos(op, P, key, *params, k=5, which="top", rtol=1e-10, driver=d).values)
                   for d in DRIVERS}, rounds)
    for d in DRIVERS:
        runs[d].update(top5[d])
        runs[d]["per_product_ms"] = 1e3 * top5[d]["median"] / runs[d]["products"]
    out["top5"] = runs
    grad = jax.jit(lambda t, X, Y: D.gradient(obj, t, X, Y))
    linear = operators.prepare(op, P, params, driver="python")
    v = jax.random.normal(key, (P,), jnp.float64)
    _block(grad(*params)), _block(operators.apply_one(op, linear, params, v))
    alone = rotate({"gradient": lambda: grad(*params),
                    "product": lambda: operators.apply_one(op, linear, params, v)}, max(rounds, 20))
    out["alone_ms"] = {n: 1e3 * t["median"] for n, t in alone.items()}
    return out, op, P, params, H


def dense(op, P, params, H, rounds: int) -> dict:
    tasks = {"auto": lambda: S.materialize(op, P, *params),
             "python": lambda: krylov.dense(op, P, params)}
    tasks.update({f"batch{b}": (lambda b=b: S.materialize(op, P, *params, batch=b)) for b in BATCHES})
    diff = {}
    for name, f in tasks.items():
        t0 = time.perf_counter()
        M = np.asarray(_block(f()))
        M = 0.5 * (M + M.T)
        diff[name] = {"first_s": time.perf_counter() - t0,
                      "rel_frobenius_to_auto": float(np.linalg.norm(M - H) / np.linalg.norm(H))}
    times = rotate(tasks, rounds)
    return {n: {**diff[n], **times[n]} for n in tasks}


def resnet(rounds: int, n: int = 1797) -> dict:
    """Top-5 per driver on the ResNet-style preset (P = 150,794, N = 1,797, one batch): a larger P."""
    from theory_lab import batching, presets

    net, variables, (X, labels) = presets.digits_resnet(n)
    obj, theta = D.from_model(net, variables, loss="softmax-cross-entropy", reduction="mean")
    data = batching.as_batches(np.asarray(X), np.asarray(labels))
    op, key = D.HessianMatvec(obj), jax.random.key(2)
    out = {"P": obj.P, "N": n, "top5": {}}
    ref = None
    for d in DRIVERS:
        t0 = time.perf_counter()
        r = S.lanczos(op, obj.P, key, theta, data, k=5, which="top", rtol=1e-10, driver=d)
        ref = r.values if ref is None else ref
        out["top5"][d] = {"first_s": time.perf_counter() - t0, "products": int(r.num_matvecs),
                          "max_rel_diff_to_host": float(np.max(np.abs(r.values - ref) / np.abs(ref)))}
    times = rotate({d: (lambda d=d: S.lanczos(op, obj.P, key, theta, data, k=5, which="top", rtol=1e-10,
                                              driver=d).values) for d in DRIVERS}, rounds)
    for d in DRIVERS:
        out["top5"][d].update(times[d])
        out["top5"][d]["per_product_ms"] = 1e3 * times[d]["median"] / out["top5"][d]["products"]
    return out


def main(argv):
    folder, out_path = Path(argv[0]), Path(argv[1])
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 7
    dev = jax.devices()[0]
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "backend": jax.default_backend(),
              "device": getattr(dev, "device_kind", str(dev)), "jax": jax.__version__,
              "python": platform.python_version(), "auto_driver": operators.driver_for(), "rounds": rounds,
              "points": {}}
    if "--resnet" in argv:
        t0 = time.perf_counter()
        n = int(argv[argv.index("--resnet-n") + 1]) if "--resnet-n" in argv else 1797
        result["resnet"] = resnet(max(3, rounds // 2), n)
        out_path.with_name("resnet_" + out_path.name).write_text(json.dumps(result, indent=1))
        print(f"resnet: {time.perf_counter() - t0:.1f} s", {d: (r["products"], round(r["median"] * 1e3, 1))
                                                           for d, r in result["resnet"]["top5"].items()}, flush=True)
        return result
    for name in ("init", "trained", "critical"):
        t0 = time.perf_counter()
        res, op, P, params, H = point(folder / f"{name}.npz", rounds)
        result["points"][name] = res
        print(f"{name}: {time.perf_counter() - t0:.1f} s", {d: (r['products'], round(r['median'] * 1e3, 2))
                                                           for d, r in res["top5"].items()}, res["alone_ms"],
              flush=True)
        if name == "init" and "--no-dense" not in argv:
            t0 = time.perf_counter()
            result["dense_init"] = dense(op, P, params, H, max(3, rounds // 2))
            print(f"dense: {time.perf_counter() - t0:.1f} s",
                  {n: round(r["median"], 3) for n, r in result["dense_init"].items()}, flush=True)
        out_path.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
