"""Curvature of the digits CNN vs PyHessian, curvlinops + scipy and torch, with ``benchmarks/protocol.py``.

Network: ``theory-lab spectrum --arch digits-cnn`` (conv 3×3×16, sigmoid, max-pool 2×2,
dense 32, sigmoid, linear 10; P = 5,130), N = 512 digits (1e-6 noise, seed 0), float64,
Φ = ½‖F_L − Y‖² summed. Three parameter points:

* ``init``: ``model.init(key(0))``;
* ``trained``: Adam (lr 1e-2) from ``init`` until Φ ≤ Φ(init)/10;
* ``critical``: L-BFGS (scipy, float64) from ``trained`` for up to 3,000 iterations
  (a near-critical point; its gradient norm is recorded).

At each point, interleaved over ``--rounds`` rounds in warm workers (theory-lab in one,
torch in another with ``OMP_WAIT_POLICY=PASSIVE`` and 2 threads, or ``--torch-threads 1``):

* top-5 Hessian eigenvalues: ``spectrum.lanczos(k=5, which="top", rtol=1e-10)`` vs PyHessian
  ``eigenvalues(top_n=5)`` (defaults) vs curvlinops ``HessianLinearOperator`` + ``eigsh(k=5)``;
  our gradient is timed in the same rounds (HVP inside Lanczos / gradient);
* with ``--dense``: the dense Hessian, ``derivatives.hessian`` vs ``torch.autograd.functional.hessian``.

The reference eigenvalues are ``numpy.linalg.eigvalsh`` of our dense Hessian at each point (cached next to
the points with the SHA-256 of the point, recomputed when the points are remade); every error is the
max over the rounds of :func:`rel_err` against it.

Run (baselines venv, see README): ``python benchmarks/bench_spectrum.py [--rounds 5] [--dense init]``;
it writes ``--json`` (default ``benchmarks/bench_spectrum.json``, the recorded file: give another path for
a trial run), and :func:`section` renders the RESULTS.md section from it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = Path("/tmp/theory-lab-bench-points")
POINTS = ("init", "trained", "critical")


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')} load {protocol.load_average():.1f}] {msg}", file=sys.stderr, flush=True)


def make_points(folder: Path, seed: int = 0) -> dict:
    """Save the three points (θ, the per-leaf arrays torch needs, X, Y) as ``.npz``; return their stats.

    ``seed`` draws the initialisation (``key(seed)``) and the 1e-6 pixel noise of the first 512 digits;
    0 is the recorded set.
    """
    import jax
    import jax.numpy as jnp
    import optax
    import scipy.optimize

    jax.config.update("jax_enable_x64", True)
    from theory_lab import data, model
    from theory_lab import derivatives as D
    from theory_lab.presets import architecture

    folder.mkdir(parents=True, exist_ok=True)
    arch = architecture("digits-cnn")
    ds = data.digits(512, noise=1e-6, seed=seed)
    X, Y = jnp.asarray(ds.X), jnp.asarray(ds.Y)
    obj = D.objective(arch)
    params = model.init(arch, jax.random.key(seed))
    theta0, unravel = D.flatten(params)
    vg = jax.jit(lambda t: D.value_and_gradient(obj, t, X, Y))
    stats = {}

    def save(name, theta, how):
        leaves = {f"{layer}/{leaf}": np.asarray(a) for layer, d in unravel(theta).items() for leaf, a in d.items()}
        np.savez(folder / f"{name}.npz", theta=np.asarray(theta), X=np.asarray(X), Y=np.asarray(Y), **leaves)
        loss, g = vg(theta)
        stats[name] = {"loss": float(loss), "gradient_norm": float(jnp.linalg.norm(g)), "how": how}
        log(f"point {name}: Φ = {float(loss):.6g}, ‖∇Φ‖ = {float(jnp.linalg.norm(g)):.3g} ({how})")

    save("init", theta0, f"model.init(key({seed})), pixel noise seed {seed}")
    loss0 = float(vg(theta0)[0])
    opt = optax.adam(1e-2)

    @jax.jit
    def step(t, s):
        loss, g = vg(t)
        u, s = opt.update(g, s, t)
        return optax.apply_updates(t, u), s, loss

    theta, state, steps = theta0, opt.init(theta0), 0
    while float(vg(theta)[0]) > loss0 / 10 and steps < 20000:
        for _ in range(50):
            theta, state, _ = step(theta, state)
        steps += 50
    save("trained", theta, f"Adam lr 1e-2, {steps} steps from init, Φ(init) = {loss0:.6g}")

    def fun(t):
        loss, g = vg(jnp.asarray(t))
        return float(loss), np.asarray(g)

    res = scipy.optimize.minimize(fun, np.asarray(theta), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 3000, "gtol": 1e-12, "ftol": 0.0, "maxcor": 30})
    save("critical", jnp.asarray(res.x), f"scipy L-BFGS-B from trained, {res.nit} iterations ({res.message})")
    (folder / "points.json").write_text(json.dumps(stats, indent=1))
    return stats


def rel_err(values, ref):
    """max_i |values_i − ref_i| / |ref_i|, position by position (both in descending order)."""
    v, r = np.asarray(values), np.asarray(ref)
    return float(np.max(np.abs(v - r) / np.abs(r)))


def point_digest(path) -> str:
    """SHA-256 of a saved point's ``theta``, ``X`` and ``Y``: a cached reference belongs to the point it names."""
    import hashlib

    z = np.load(path)
    h = hashlib.sha256()
    for key in ("theta", "X", "Y"):
        h.update(np.ascontiguousarray(z[key], dtype=np.float64).tobytes())
    return h.hexdigest()


def run_point(name, path, ours, torch_w, rounds, dense, top5=True, warm_each=False):
    out = {"setup_ours": ours.call("setup", str(path))["value"], "setup_torch": torch_w.call("setup", str(path))["value"]}
    if top5:
        out.update(_top5(name, ours, torch_w, rounds, warm_each, digest=point_digest(path)))
    if dense:
        out.update(_dense(name, path, ours, torch_w, rounds, dense, warm_each))
    return out


def _top5(name, ours, torch_w, rounds, warm_each=False, digest=None):
    out = {}
    cached = CACHE / f"{name}-reference.json"
    ref = json.loads(cached.read_text()) if cached.exists() else None
    if ref is not None and ref.get("point_sha256") != digest:  # remade points leave their old reference behind
        log(f"{name}: the cached reference is of another point; recomputing it")
        ref = None
    if ref is None:
        log(f"{name}: computing the dense reference")
        ref = dict(ours.call("dense")["value"], **ours.call("reference")["value"], point_sha256=digest)
        cached.write_text(json.dumps(ref))
    out["reference"] = ref
    calls = {"theory-lab": (ours, "top5", ()), "pyhessian": (torch_w, "pyhessian_top5", ()),
             "curvlinops+eigsh": (torch_w, "curvlinops_top5", ()), "theory-lab gradient": (ours, "gradient", ())}
    res = protocol.interleave(calls, rounds=rounds, reference="pyhessian", log=lambda m: log(f"{name} top-5: {m}"),
                             warm_each=warm_each)
    out["top5"] = _strip(res)
    for label in ("theory-lab", "pyhessian", "curvlinops+eigsh"):
        vals = [reply["value"] for row in res["rounds"] for lab, reply in row if lab == label]
        out["top5"][label] = {"products": [v["products"] for v in vals],
                              "max_rel_error": max(rel_err(v["values"], ref["top5"]) for v in vals),
                              "values": vals[-1]["values"]}
    return out


def _dense(name, path, ours, torch_w, rounds, dense, warm_each=False):
    out = {}
    z = dict(np.load(path))
    z["X"], z["Y"] = z["X"][:dense], z["Y"][:dense]
    small = path.with_name(f"{name}-N{dense}.npz")
    np.savez(small, **z)
    out["dense_N"] = dense
    ours.call("setup", str(small))
    torch_w.call("setup", str(small))
    calls = {"theory-lab": (ours, "dense", ()), "torch": (torch_w, "hessian", ())}
    res = protocol.interleave(calls, rounds=rounds, reference="torch", log=lambda m: log(f"{name} dense: {m}"),
                             warm_each=warm_each)
    out["dense"] = _strip(res)
    t = [reply["value"] for row in res["rounds"] for lab, reply in row if lab == "torch"][-1]
    o = [reply["value"] for row in res["rounds"] for lab, reply in row if lab == "theory-lab"][-1]
    out["dense"]["agreement"] = {"trace_rel": abs(t["trace"] - o["trace"]) / abs(o["trace"]),
                                 "frobenius_rel": abs(t["frobenius"] - o["frobenius"]) / o["frobenius"],
                                 "torch_asymmetry_rel": t["asymmetry"] / t["frobenius"]}
    return out


def _strip(res):
    return {"summary": res["summary"], "cpu_share": res["cpu_share"],
            "load": {k: [round(x, 2) for x in v] for k, v in res["load"].items()},
            "first_s": {k: v["wall_s"] for k, v in res["first"].items()},
            "idle_s": {k: [None if x is None else round(x, 3) for x in v] for k, v in res["idle"].items()},
            "warmups_s": res["warmups"]}


def main(argv=None):
    global CACHE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--points", nargs="*", default=list(POINTS), choices=POINTS)
    ap.add_argument("--dense", nargs="*", default=[], choices=POINTS, help="points at which to time the dense Hessian")
    ap.add_argument("--dense-n", type=int, default=64, help="samples for the dense-Hessian rounds (first N)")
    ap.add_argument("--top5", action=argparse.BooleanOptionalAction, default=True, help="time the top-5 rounds")
    ap.add_argument("--warm-each", action=argparse.BooleanOptionalAction, default=False,
                    help="precede every timed call by the same call untimed (protocol.interleave(warm_each=True))")
    ap.add_argument("--cache", type=Path, default=None,
                    help=f"folder of the points (default {CACHE}, or {CACHE}-seedN for --seed N)")
    ap.add_argument("--seed", type=int, default=0,
                    help="initialisation and pixel-noise seed of the points (made in the cache folder if missing; 0 is the "
                         "recorded set)")
    ap.add_argument("--torch-threads", type=int, default=2, choices=(1, 2),
                    help="torch's intra-op threads: 2 (OMP_WAIT_POLICY=PASSIVE, the recorded setting) or 1 "
                         "(protocol.TORCH_ENV_ONE_THREAD; faster where waking a sleeping thread is slow)")
    ap.add_argument("--json", type=Path, default=HERE / "bench_spectrum.json")
    args = ap.parse_args(argv)
    if args.cache is None:  # a seed of its own never reuses another seed's points
        args.cache = CACHE if args.seed == 0 else CACHE.with_name(f"{CACHE.name}-seed{args.seed}")
    CACHE = args.cache
    results = {"machine": protocol.machine(), "rounds": args.rounds, "warm_each": args.warm_each, "seed": args.seed,
               "torch_threads": args.torch_threads}
    if not (args.cache / "points.json").exists():
        make_points(args.cache, args.seed)
    results["points"] = json.loads((args.cache / "points.json").read_text())
    with protocol.Worker("theory-lab", HERE / "side_theory_lab.py") as ours, \
            protocol.Worker("torch", HERE / "side_torch.py", env=protocol.torch_env(args.torch_threads)) as torch_w:
        for name in args.points:
            results[name] = run_point(name, args.cache / f"{name}.npz", ours, torch_w, args.rounds,
                                      args.dense_n if name in args.dense else 0, args.top5, args.warm_each)
            args.json.write_text(json.dumps(results, indent=1))
    results["machine_end"] = protocol.machine()
    args.json.write_text(json.dumps(results, indent=1))
    log(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()


def section(r: dict, versions: str) -> str:
    """The RESULTS.md section for one results dict (all numbers from it)."""
    m = r["machine"]
    lines = ["## Curvature: top-5 eigenvalues and the dense Hessian (issue 10): `benchmarks/bench_spectrum.py`", "",
             f"{m['date']} · {m['cpu']}, {m['cores']} cores visible, {m['platform']} · Python {m['python']} · "
             f"{versions}. Load average (1, 5, 15 min) at the start {', '.join(f'{x:.1f}' for x in m['load_average'])}"
             + (f", at the end {', '.join(f'{x:.1f}' for x in r['machine_end']['load_average'])}"
                if "machine_end" in r else "") + ".", "",
             "Protocol (`benchmarks/protocol.py`): each side in its own warm worker process (theory-lab: "
             "`OPENBLAS_NUM_THREADS=1`; torch: "
             + ("`OMP_WAIT_POLICY=PASSIVE`, 2 threads" if r.get("torch_threads", 2) == 2 else "`OMP_NUM_THREADS=1`")
             + "), one untimed first call per "
             f"task, then {r['rounds']} rounds calling every side once in a balanced order changing from round to round (`protocol.round_order`, a Williams design). "
             "Times are wall-clock per call; *ratio* = ours / baseline within a round, its median over rounds; "
             "*CPU share* = CPU time the worker received / wall time (2.0 = both cores); load = 1-min load average "
             "before the calls. Digits CNN (`--arch digits-cnn`, P = 5,130), N = 512, float64, Φ = ½‖F_L − Y‖² "
             "summed. Reference: `numpy.linalg.eigvalsh` of our dense Hessian at each point.", ""]
    for name in POINTS:
        if name not in r:
            continue
        p, pt = r[name], r["points"][name]
        t = p["top5"]
        s = t["summary"]
        lines += [f"**Point `{name}`** — Φ = {pt['loss']:.6g}, ‖∇Φ‖ = {pt['gradient_norm']:.3g} ({pt['how']}); "
                  f"reference top-5 = " + ", ".join(f"{x:.10g}" for x in p["reference"]["top5"])
                  + f", λ_min = {p['reference']['min']:.4g}. Load during the rounds "
                  f"{min(min(v) for v in t['load'].values()):.1f}–{max(max(v) for v in t['load'].values()):.1f}.", "",
                  "| top-5 eigenvalues | products | max rel. error | min (s) | median (s) | CPU share | "
                  "median ratio theory-lab / this (per round) |", "|---|---|---|---|---|---|---|"]
        ours = s["theory-lab"]
        for label in ("theory-lab", "pyhessian", "curvlinops+eigsh"):
            prod = sorted(set(t[label]["products"]))
            ratio = "–" if label == "theory-lab" else (
                f"**{statistics.median(o / b for o, b in zip(ours['times_s'], s[label]['times_s'])):.2f}** ("
                + ", ".join(f"{o / b:.2f}" for o, b in zip(ours["times_s"], s[label]["times_s"])) + ")")
            lines.append(f"| {label} | {', '.join(map(str, prod))} | {t[label]['max_rel_error']:.1e} | "
                         f"{s[label]['min_s']:.3f} | {s[label]['median_s']:.3f} | {t['cpu_share'][label]:.2f} | {ratio} |")
        g = s["theory-lab gradient"]
        per = [o / n / gr for o, n, gr in zip(ours["times_s"], t["theory-lab"]["products"], g["times_s"])]
        lines += ["", f"Inside Lanczos one product (HVP plus reorthogonalisation, the run's wall time / its "
                  f"products) took {statistics.median(per):.2f}× our gradient (median over rounds; per round "
                  + ", ".join(f"{x:.2f}" for x in per) + f"); gradient median {g['median_s'] * 1e3:.2f} ms.", ""]
        if "dense" in p:
            d = p["dense"]
            ds = d["summary"]
            lines += [f"Dense Hessian at N = {p['dense_N']} (the first {p['dense_N']} of the 512 samples; P = 5,130 "
                      "columns either way):", "",
                      "| dense Hessian | min (s) | median (s) | CPU share | median ratio (per round) |",
                      "|---|---|---|---|---|",
                      f"| theory-lab `derivatives.hessian` | {ds['theory-lab']['min_s']:.2f} | "
                      f"{ds['theory-lab']['median_s']:.2f} | {d['cpu_share']['theory-lab']:.2f} | "
                      f"**{ds['theory-lab']['median_ratio']:.2f}** ("
                      + ", ".join(f"{x:.2f}" for x in ds["theory-lab"]["ratios"]) + ") |",
                      f"| `torch.autograd.functional.hessian` | {ds['torch']['min_s']:.2f} | {ds['torch']['median_s']:.2f} | "
                      f"{d['cpu_share']['torch']:.2f} | 1 |", "",
                      f"Dense Hessians agree: trace {d['agreement']['trace_rel']:.1e} relative, Frobenius norm "
                      f"{d['agreement']['frobenius_rel']:.1e}; torch's asymmetry max|H − Hᵀ| = "
                      f"{d['agreement']['torch_asymmetry_rel']:.1e}·‖H‖_F. Load during the dense rounds {min(min(v) for v in d['load'].values()):.1f}–"
                      f"{max(max(v) for v in d['load'].values()):.1f}.", ""]
    return "\n".join(lines)
