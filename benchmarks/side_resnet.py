"""theory-lab's side of ``bench_resnet.py`` (served by ``benchmarks/protocol.py``).

The ResNet-style preset (:func:`theory_lab.presets.digits_resnet`), softmax cross-entropy
with mean reduction, float64. :func:`setup` builds it and writes its parameters to an
``.npz`` for the torch side (``side_resnet_torch.py``), so both sides hold the same numbers.
Every task blocks on its result before the clock stops.
"""

import ctypes
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402  (standard library only)

jax.config.update("jax_enable_x64", True)

from theory_lab import batching, presets  # noqa: E402
from theory_lab import derivatives as D  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402

RTOL = 1e-10
STATE: dict = {}


def _paths(tree, prefix=""):
    out = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            out.update(_paths(value, f"{prefix}{name}/"))
        else:
            out[f"{prefix}{name}"] = np.asarray(value)
    return out


def setup(n: int, widths: tuple, batch_norm: bool, batch: int, npz: str) -> dict:
    net, variables, (X, labels) = presets.digits_resnet(n, widths=tuple(widths), batch_norm=batch_norm)
    obj, theta = D.from_model(net, variables, loss="softmax-cross-entropy", reduction="mean")
    X, labels = np.asarray(X), np.asarray(labels)
    np.savez(npz, X=X, labels=labels, **_paths(jax.tree_util.tree_map(np.asarray, dict(variables))))
    STATE.clear()
    STATE.update(obj=obj, theta=theta, op=D.HessianMatvec(obj), X=X, labels=labels,
                 one=batching.as_batches(X, labels), batched=batching.batches(X, labels, batch),
                 stream=batching.Stream(lambda: ((X[i:i + batch], labels[i:i + batch]) for i in range(0, n, batch))),
                 v=jax.random.normal(jax.random.key(1), (obj.P,), jnp.float64))
    STATE["hvp"] = jax.jit(lambda v, t, d: STATE["op"](v, t, d))
    return {"P": obj.P, "N": n, "jax": jax.__version__, "backend": jax.default_backend()}


def twin_probe(names: list) -> dict:
    """Outputs, loss, gradient and ``Hv`` (``v`` = normal(key 1)), vectors in torch's parameter order."""
    s = STATE
    order = torch_order(s["obj"], names)
    loss, g = D.value_and_gradient(s["obj"], s["theta"], s["batched"])
    Hv = s["hvp"](s["v"], s["theta"], s["one"])
    return {"order": order, "outputs": np.asarray(D.outputs(s["obj"], s["theta"], s["X"])), "loss": float(loss),
            "gradient": np.asarray(g)[order], "v": np.asarray(s["v"])[order], "Hv": np.asarray(Hv)[order]}


def torch_order(obj, names: list) -> np.ndarray:
    """Indices of our θ in the order of torch's ``named_parameters()`` (``names``)."""
    tree = jax.tree_util.tree_map(np.asarray, obj.layout.unravel(jnp.arange(obj.P, dtype=jnp.float64)))
    parts = []
    for name in names:
        path = name.split(".")
        if path[0] == "stem":
            leaf = tree["Conv_0"]
        elif path[0] == "fc":
            leaf = tree["Dense_0"]
        else:
            leaf = tree[f"ResidualBlock_{path[1]}"][{"conv1": "Conv_0", "conv2": "Conv_1", "proj": "Conv_2",
                                                      "bn1": "BatchNorm_0", "bn2": "BatchNorm_1"}[path[2]]]
        if path[-1] == "weight" and "kernel" in leaf:
            a = leaf["kernel"]
            a = a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T
        else:
            a = leaf["scale"] if path[-1] == "weight" else leaf["bias"]
        parts.append(np.asarray(a).reshape(-1))
    return np.concatenate(parts).astype(int)


def hvp(mode: str) -> float:
    """One HVP over all N samples: ``mode`` "one" (one batch), "batched" (a Batches: on CPU a Python loop over
    one jitted per-batch program), "stream" (a Stream, the same loop) or "scan" (the Batches inside one jit:
    ``lax.scan``)."""
    s = STATE
    if mode in ("batched", "stream"):
        return float(jnp.linalg.norm(D.hvp(s["obj"], s["theta"], s[mode], v=s["v"])))
    return float(jnp.linalg.norm(s["hvp"](s["v"], s["theta"], s["batched" if mode == "scan" else mode])))


def hvp_memory(mode: str) -> dict:
    """Peak resident memory above the start during one warm HVP (sampled every ms), and for "one"/"batched"
    the compiled program's memory analysis (temporaries, arguments, outputs)."""
    s = STATE
    hvp(mode)  # warm
    out = protocol.peak_rss_growth(lambda: hvp(mode))
    data = s["batched"] if mode in ("stream", "scan") else s[mode]
    if mode in ("batched", "stream"):  # the per-batch program: one batch of batch_size
        data = next(s["batched"].chunks())
    m = s["hvp"].lower(s["v"], s["theta"], data).compile().memory_analysis()
    out.update(temp_bytes=int(m.temp_size_in_bytes), argument_bytes=int(m.argument_size_in_bytes),
               output_bytes=int(m.output_size_in_bytes))
    return out


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def hvp_peak(mode: str) -> dict:
    """Peak resident memory of this (fresh) worker during its first HVP of ``mode``, above its resident
    memory before: compilation and execution both counted (``VmHWM`` reset first through
    ``/proc/self/clear_refs``). Call in a worker that has run nothing but :func:`setup`."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the high-water mark to the current resident size
    base = _status_kib("VmRSS")
    hvp(mode)
    return {"peak_delta_bytes": (_status_kib("VmHWM") - base) * 1024, "base_bytes": base * 1024}


def top5(data: str = "batched") -> dict:
    """Lanczos top-5 (rtol 1e-10) on ``data`` "one", "batched" or "stream": with batches or a stream each
    product is a Python loop over one jitted per-batch HVP (``HessianMatvec.host_prepare``, the python
    driver on CPU), not ``lax.scan`` inside one program."""
    s = STATE
    r = S.lanczos(s["op"], s["obj"].P, jax.random.key(2), s["theta"], s[data], k=5, which="top", rtol=RTOL)
    return {"values": r.values.tolist(), "residuals": r.residuals.tolist(), "products": int(r.num_matvecs),
            "depth": int(r.depth), "converged": bool(np.all(r.converged)), "tol": float(r.tol)}


def reference(depth: int, data: str = "batched") -> dict:
    """Top-5 from a Lanczos run of fixed ``depth`` from another start vector (key 7)."""
    s = STATE
    r = S.lanczos(s["op"], s["obj"].P, jax.random.key(7), s["theta"], s[data], k=5, which="top", num_matvecs=depth)
    return {"values": r.values.tolist(), "residuals": r.residuals.tolist(), "depth": depth}


def hutchpp(num_matvecs: int, data: str = "batched") -> dict:
    s = STATE
    r = S.hutch_plus_plus(s["op"], s["obj"].P, jax.random.key(3), s["theta"], s[data], num_matvecs=num_matvecs)
    return {"estimate": float(r.estimate), "stderr": float(r.stderr), "products": num_matvecs}


def trace_exact(data: str = "one") -> float:
    s = STATE
    return float(S.trace_exact(s["op"], s["obj"].P, s["theta"], s[data]))


def density(probes: int, steps: int) -> dict:
    """SLQ density and the exact one (dense Hessian's eigenvalues) on the same grid and smoothing."""
    s = STATE
    lam = np.linalg.eigvalsh(np.asarray(D.hessian(s["obj"], s["theta"], s["one"])))
    dens = S.slq_density(s["op"], s["obj"].P, jax.random.key(4), s["theta"], s["batched"], num_probes=probes,
                         num_matvecs=steps)
    exact = S.exact_density(lam, sigma=dens.sigma, grid=dens.grid)
    dx = float(dens.grid[1] - dens.grid[0])
    return {"grid": np.asarray(dens.grid), "sigma": float(dens.sigma), "exact": np.asarray(exact),
            "slq_l1": float(np.sum(np.abs(np.asarray(dens.density) - exact)) * dx), "P": s["obj"].P,
            "trace_exact": float(lam.sum())}
