"""ResNet-style network: theory-lab's curvature probes vs PyTorch 2.13 + PyHessian 0.1, with ``protocol.py``.

The same network on both sides (:func:`theory_lab.presets.digits_resnet`, batch norm in
inference mode unless ``--no-bn``; its PyTorch twin in ``side_resnet_torch.py`` built from
the *same float64 parameters* and running statistics, written by ``side_resnet.py``) on
scikit-learn's digits, softmax cross-entropy with mean reduction (PyHessian's
``nn.CrossEntropyLoss()``). The twins are checked first: outputs, loss, gradient and one
Hessian-vector product agree to rounding.

Each side runs in its own warm worker (:mod:`protocol`; torch with ``OMP_WAIT_POLICY=PASSIVE``),
calls alternated in a balanced order (``protocol.round_order``) over ``--rounds`` rounds after one first call each
(reported apart); per side min and median, per-round ratio, CPU share and load:

1. ``hvp``: one HVP over the N samples — one batch, batches of ``--batch`` (``lax.scan``),
   a :class:`~theory_lab.batching.Stream` of ``--batch`` (Python loop), torch's HVP; then
   the memory of each (resident memory above the start during one warm call, sampled every
   ms after ``malloc_trim``; and XLA's ``memory_analysis`` of the compiled program);
2. ``top5``: Lanczos (full reorthogonalisation, rtol 1e-10, every residual reported) vs
   PyHessian's default ``eigenvalues(top_n=5)``; errors against a reference (a Lanczos run
   of ``--reference-depth`` products from another start; default twice our depth); our
   side's data by ``--top5-data``: one batch, or batches / a stream of ``--batch`` (on CPU
   each product a Python loop over one compiled per-batch program, ``HessianMatvec.host_prepare``);
3. ``trace``: Hutch++ (with its standard error) vs PyHessian's ``trace()`` (Hutchinson);
4. ``density``: on a network small enough for a dense Hessian (``--small-widths``), SLQ vs
   PyHessian's ``density()``, each smoothed with the same Gaussian, L1 distance to the
   same smoothing of the exact eigenvalues (untimed).

Run (baselines venv, see README): ``.venv-baselines/bin/python benchmarks/bench_resnet.py
[--n 1797] [--widths 32,64,64] [--batch 256] [--rounds 5] [--tasks hvp,top5,trace,density]
[--top5-data one|batched|stream] [--json out.json]``; prints the markdown section for ``benchmarks/RESULTS.md``. Fewer than 5
rounds (``--rounds 1``, for the full size on a shared 2-core machine) are allowed and said so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402

HERE = Path(__file__).resolve().parent
TASKS = ("hvp", "top5", "trace", "density", "top5-ours", "top5-pyhessian", "hvp-peak")


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')} load {protocol.load_average():.1f}] {msg}", file=sys.stderr, flush=True)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _timed(res: dict) -> dict:
    return {"summary": res["summary"], "cpu_share": res["cpu_share"],
            "load": {k: [round(x, 2) for x in v] for k, v in res["load"].items()},
            "first_s": {k: v["wall_s"] for k, v in res["first"].items()},
            "values": {label: reply["value"] for label, reply in res["rounds"][-1]}}


def setup(ours, theirs, n, widths, bn, batch, npz) -> dict:
    info = ours.call("setup", n, widths, bn, batch, str(npz))["value"]
    if theirs is not None:
        info["torch"] = theirs.call("setup", str(npz), widths, bn)["value"]
    return info


def run(args) -> dict:
    widths = tuple(int(w) for w in args.widths.split(","))
    tasks = args.tasks.split(",")
    bad = sorted(set(tasks) - set(TASKS))
    if bad:
        raise SystemExit(f"--tasks: unknown {bad}; choose from {TASKS}")
    r: dict = {"n": args.n, "widths": widths, "batch": args.batch, "batch_norm": not args.no_bn,
               "rounds": args.rounds, "top5_data": args.top5_data, "machine": protocol.machine(),
               "command": " ".join(sys.argv)}
    npz = Path(args.cache) / f"resnet-{args.n}-{'-'.join(map(str, widths))}-{int(not args.no_bn)}.npz"
    npz.parent.mkdir(parents=True, exist_ok=True)
    interleave = lambda calls, reference, name: protocol.interleave(  # noqa: E731
        calls, rounds=args.rounds, reference=reference, min_rounds=1, log=lambda m: log(f"{name}: {m}"))
    with protocol.Worker("theory-lab", HERE / "side_resnet.py") as ours, \
            protocol.Worker("pyhessian", HERE / "side_resnet_torch.py", env=protocol.TORCH_ENV) as theirs:
        info = setup(ours, theirs, args.n, widths, not args.no_bn, args.batch, npz)
        r.update(P=info["P"], jax=info["jax"], backend=info["backend"], torch=info["torch"]["torch"],
                 torch_threads=info["torch"]["threads"])
        log(f"P = {info['P']:,} (torch {info['torch']['P']:,}), N = {args.n}, batches of {args.batch}")
        single = {"hvp-peak", "top5-ours"}
        mine = ours.call("twin_probe", info["torch"]["names"])["value"] if set(tasks) - single else None
        theirs_ = theirs.call("twin_probe", mine["v"])["value"] if mine is not None else None
        r["twins"] = {} if mine is None else {"outputs": float(np.abs(theirs_["outputs"] - mine["outputs"]).max()
                                       / np.abs(mine["outputs"]).max()),
                      "loss": abs(theirs_["loss"] - mine["loss"]) / abs(mine["loss"]),
                      "gradient": _rel(theirs_["gradient"], mine["gradient"]), "hvp": _rel(theirs_["Hv"], mine["Hv"])}
        log(f"twins agree: {r['twins']}")
        if "hvp" in tasks:
            B = args.batch
            calls = {"one batch": (ours, "hvp", ("one",)), f"batches of {B}": (ours, "hvp", ("batched",)),
                     f"stream of {B}": (ours, "hvp", ("stream",)), "torch": (theirs, "hvp", ())}
            r["hvp"] = _timed(interleave(calls, "one batch", "hvp"))
            r["hvp"]["memory"] = {label: ours.call("hvp_memory", mode)["value"]
                                  for label, mode in (("one batch", "one"), (f"batches of {B}", "batched"),
                                                      (f"stream of {B}", "stream"))}
            r["hvp"]["memory"]["torch"] = theirs.call("hvp_memory")["value"]
            log(f"hvp memory: {r['hvp']['memory']}")
        if "top5" in tasks:
            calls = {"theory-lab": (ours, "top5", (args.top5_data,)), "pyhessian": (theirs, "pyhessian_top5", ())}
            r["top5"] = _timed(interleave(calls, "pyhessian", "top-5"))
            ours_top = r["top5"]["values"]["theory-lab"]
            depth = args.reference_depth if args.reference_depth >= 0 else 2 * ours_top["depth"]
            mine_vals = np.asarray(ours_top["values"])
            if depth:
                ref = ours.call("reference", min(depth, info["P"]), "one")["value"]
                r["top5"]["reference"] = ref
                ref_vals = np.asarray(ref["values"])
                r["top5"]["rel_err"] = float(np.max(np.abs(mine_vals - ref_vals) / np.abs(ref_vals)))
            else:  # no reference run: every Ritz value is within its residual of an eigenvalue
                ref_vals = mine_vals
                r["top5"]["rel_err_bound"] = float(np.max(np.asarray(ours_top["residuals"]) / np.abs(mine_vals)))
            ph = np.sort(np.asarray(r["top5"]["values"]["pyhessian"]["values"]))[::-1]
            r["top5"]["pyhessian_rel_err"] = float(np.max(np.abs(ph - ref_vals) / np.abs(ref_vals)))
            log(f"top-5: ours {mine_vals}, pyhessian {ph}")
        # single calls, not interleaved: for a size too slow for rounds (said so next to the numbers)
        if "top5-ours" in tasks:
            r["top5_ours_single"] = []
            for _ in range(args.single_calls):  # the first compiles
                r["top5_ours_single"].append(ours.call("top5", args.top5_data))
                log(f"top-5 ours, single call: {r['top5_ours_single'][-1]}")
        if "top5-pyhessian" in tasks:
            r["top5_pyhessian_single"] = theirs.call("pyhessian_top5", 0, True)
            log(f"top-5 pyhessian, single call: {r['top5_pyhessian_single']}")
        if "trace" in tasks:
            calls = {"hutch++": (ours, "hutchpp", (args.trace_matvecs, "one")), "pyhessian": (theirs, "pyhessian_trace", ())}
            r["trace"] = _timed(interleave(calls, "pyhessian", "trace"))
            if info["P"] <= args.exact_trace_max:
                r["trace"]["exact"] = ours.call("trace_exact")["value"]
        if "density" in tasks:
            small = tuple(int(w) for w in args.small_widths.split(","))
            spath = Path(args.cache) / f"resnet-small-{args.small_n}-{'-'.join(map(str, small))}.npz"
            sinfo = setup(ours, theirs, args.small_n, small, not args.no_bn, args.batch, spath)
            d = ours.call("density", args.probes, args.steps)["value"]
            t = theirs.call("pyhessian_density", args.steps, args.probes)["value"]
            grid, sigma = d["grid"], d["sigma"]
            nodes, weights = t["nodes"].ravel(), t["weights"].ravel() / t["nodes"].shape[0]
            z = (grid[:, None] - nodes[None, :]) / sigma
            theirs_d = np.exp(-0.5 * z * z) @ weights / (sigma * np.sqrt(2 * np.pi))
            dx = float(grid[1] - grid[0])
            r["density"] = {"P": sinfo["P"], "n": args.small_n, "widths": small, "sigma": sigma,
                            "slq_l1": d["slq_l1"], "pyhessian_l1": float(np.sum(np.abs(theirs_d - d["exact"])) * dx),
                            "pyhessian_products": t["products"], "probes": args.probes, "steps": args.steps}
            log(f"density: {r['density']}")
    if "hvp-peak" in tasks:  # each mode's first HVP in a fresh worker: peak resident memory, compile included
        r["hvp_peak"] = {}
        for label, mode in (("one batch", "one"), (f"batches of {args.batch}", "batched"),
                            (f"stream of {args.batch}", "stream")):
            with protocol.Worker("theory-lab", HERE / "side_resnet.py") as fresh:
                fresh.call("setup", args.n, widths, not args.no_bn, args.batch, str(npz) + f".{mode}.npz")
                r["hvp_peak"][label] = fresh.call("hvp_peak", mode)
            log(f"hvp peak, {label}: {r['hvp_peak'][label]}")
    r["machine_end"] = protocol.machine()
    return r


def _rows(t: dict, reference: str, extra: dict | None = None) -> list[str]:
    s = t["summary"]
    lines = ["| side | first call (s) | min (s) | median (s) | CPU share | median ratio to " + reference
             + (" | " + " | ".join(extra) if extra else "") + " |",
             "|---|---|---|---|---|---|" + ("---|" * len(extra or {}))]
    for label in s:
        lines.append(f"| {label} | {t['first_s'][label]:.2f} | {s[label]['min_s']:.3f} | {s[label]['median_s']:.3f} | "
                     f"{t['cpu_share'][label]:.2f} | {s[label]['median_ratio']:.2f} (rounds: "
                     + ", ".join(f"{x:.2f}" for x in s[label]["ratios"]) + ")"
                     + ("".join(f" | {col[label]}" for col in (extra or {}).values())) + " |")
    loads = [x for v in t["load"].values() for x in v]
    lines += ["", f"Load average before each call: {min(loads):.1f}–{max(loads):.1f}."]
    return lines


def _top5_data(r: dict) -> str:
    data = r.get("top5_data", "one")
    return {"one": "one batch", "batched": f"batches of {r['batch']}", "stream": f"a stream of {r['batch']}"}[data]


def section(r: dict) -> str:
    m = r["machine"]
    out = [f"### P = {r['P']:,}, N = {r['n']}, widths {r['widths']}, batches of {r['batch']}, "
           f"{r['rounds']} round{'s' if r['rounds'] != 1 else ''}"
           + ("" if r["rounds"] >= 5 else " (fewer than the protocol's 5: the full size is too slow for more "
              "on this shared machine)"), "",
           f"{m['date']} · {m['cpu']}, {m['cores']} cores · load average at the start "
           f"{', '.join(f'{x:.1f}' for x in m['load_average'])}, at the end "
           f"{', '.join(f'{x:.1f}' for x in r['machine_end']['load_average'])} · JAX {r['jax']} ({r['backend']}) · "
           f"torch {r['torch']} ({r['torch_threads']} threads) · pyhessian 0.1 · batch norm "
           f"{'in inference mode' if r['batch_norm'] else 'off'}", "",
           f"Command: `{r['command']}`", "",
           ("Twins agree (relative): " + ", ".join(f"{k} {v:.1e}" for k, v in r["twins"].items()) + "."
            if r["twins"] else "Twins not compared in this run."), ""]
    if "hvp" in r:
        h = r["hvp"]
        mem = h["memory"]
        one = mem["one batch"]
        cols = {"resident growth in a warm call (MiB)": {k: f"{v['rss_peak_delta_bytes'] / 2**20:.1f}"
                                                        for k, v in mem.items()},
                "XLA temporaries (MiB)": {k: (f"{v['temp_bytes'] / 2**20:.1f}" if "temp_bytes" in v else "–")
                                          for k, v in mem.items()}}
        out += ["**One HVP over all N samples.**", ""] + _rows(h, "one batch", cols) + [""]
        batched = [k for k in mem if k.startswith("batches")][0]
        out += [f"Peak memory ratio batched / one batch: resident growth "
                f"{mem[batched]['rss_peak_delta_bytes'] / max(one['rss_peak_delta_bytes'], 1):.2f} (sampled every ms "
                "after malloc_trim; near 0 when XLA reuses buffers kept from the warm-up, as on small networks), "
                f"XLA temporaries {mem[batched]['temp_bytes'] / max(one['temp_bytes'], 1):.2f} (target ≤ 0.25); "
                f"time ratio {h['summary'][batched]['median_ratio']:.2f} (target ≤ 1.3). "
                "(The batched and stream rows' XLA figure is their per-batch program, run once per batch from "
                "Python.)", ""]
    if "hvp_peak" in r:
        pk = r["hvp_peak"]
        one = pk["one batch"]["value"]["peak_delta_bytes"]
        out += ["**Peak resident memory of one HVP** (each mode's first call in a fresh worker, compilation "
                "included; `VmHWM` above the worker's resident memory after set-up):", ""]
        out += [f"- {label}: {c['value']['peak_delta_bytes'] / 2**20:.0f} MiB ({c['value']['peak_delta_bytes'] / max(one, 1):.2f}× "
                f"one batch; {c['wall_s']:.1f} s wall, load {c['load']:.1f})" for label, c in pk.items()]
        out.append("")
    if "top5" in r:
        t = r["top5"]
        ours, ph = t["values"]["theory-lab"], t["values"]["pyhessian"]
        out += [f"**Top-5 Hessian eigenvalues** (ours on {_top5_data(r)}).", ""] + _rows(
            t, "pyhessian", {"products": {"theory-lab": str(ours["products"]), "pyhessian": str(ph["products"])}}) + [""]
        out.append("- Ours (last round): " + ", ".join(f"{x:.12g}" for x in ours["values"]) + "; residuals ‖Hv − λv‖ "
                   + ", ".join(f"{x:.1e}" for x in ours["residuals"]) + f" (tolerance {ours['tol']:.1e}), converged "
                   f"{ours['converged']}, depth {ours['depth']}.")
        if "reference" in t:
            ref = t["reference"]
            out.append(f"- Reference (Lanczos, depth {ref['depth']}, key 7): " + ", ".join(
                f"{x:.12g}" for x in ref["values"]) + "; residuals " + ", ".join(f"{x:.1e}" for x in ref["residuals"])
                + f". Max relative difference ours vs reference: {t['rel_err']:.1e}.")
        else:
            out.append(f"- No reference run at this size: each Ritz value is within its residual of an eigenvalue, "
                       f"max residual / |λ| = {t['rel_err_bound']:.1e}.")
        out.append("- PyHessian `eigenvalues(top_n=5)` (maxIter=100, tol=1e-3): " + ", ".join(
            f"{x:.8g}" for x in ph["values"]) + f"; max relative error {t['pyhessian_rel_err']:.1e}"
            + (" against the reference (both in descending order, position by position)." if "reference" in t
               else " against ours (no reference run)."))
        out.append("")
    if "top5_ours_single" in r or "top5_pyhessian_single" in r:
        out += ["**Top-5, single calls** (not interleaved: one call per side is all this size allows here; ours on "
                f"{_top5_data(r)}).", ""]
        for key, label in enumerate(("theory-lab (first call, compiling)", "theory-lab (second call)")):
            if key < len(r.get("top5_ours_single", [])):
                c = r["top5_ours_single"][key]
                v = c["value"]
                out.append(f"- {label}: {c['wall_s']:.1f} s wall, {c['cpu_s']:.1f} s CPU, load {c['load']:.1f}; "
                           f"{v['products']} products, depth {v['depth']}; values " + ", ".join(
                               f"{x:.12g}" for x in v["values"]) + "; residuals ‖Hv − λv‖ " + ", ".join(
                               f"{x:.1e}" for x in v["residuals"]) + f" (tolerance {v['tol']:.1e}); max residual / |λ| "
                           f"{max(np.asarray(v['residuals']) / np.abs(v['values'])):.1e}.")
        if "top5_pyhessian_single" in r:
            c = r["top5_pyhessian_single"]
            v = c["value"]
            line = (f"- PyHessian `eigenvalues(top_n=5)`: {c['wall_s']:.1f} s wall, {c['cpu_s']:.1f} s CPU, load "
                    f"{c['load']:.1f}; {v['products']} products; values " + ", ".join(f"{x:.8g}" for x in v["values"]))
            if r.get("top5_ours_single"):
                ref = np.asarray(r["top5_ours_single"][-1]["value"]["values"])
                ph = np.sort(np.asarray(v["values"]))[::-1]
                line += f"; max relative error against ours {float(np.max(np.abs(ph - ref) / np.abs(ref))):.1e}"
            out += [line + "."]
        out.append("")
    if "trace" in r:
        t = r["trace"]
        hp, ph = t["values"]["hutch++"], t["values"]["pyhessian"]
        out += ["**Trace.**", ""] + _rows(t, "pyhessian", {"products": {"hutch++": str(hp["products"]),
                                                                        "pyhessian": str(ph["products"])}}) + [""]
        out.append(f"- Hutch++ {hp['estimate']:.6g} ± {hp['stderr']:.2g}; PyHessian (Hutchinson, tol 1e-3) "
                   f"{ph['estimate']:.6g} ± {ph['stderr']:.2g}"
                   + (f"; exact ({r['P']:,} products) {t['exact']:.6g}." if "exact" in t else "."))
        out.append("")
    if "density" in r:
        d = r["density"]
        out += [f"**Density** on widths {d['widths']} (P = {d['P']:,}, N = {d['n']}; dense Hessian exact; "
                f"{d['probes']} probes × {d['steps']} steps): smoothed (σ = {d['sigma']:.3g}) L1 distance to the exact "
                f"density: SLQ {d['slq_l1']:.2e}, PyHessian `density()` {d['pyhessian_l1']:.2e} (its `torch.eig` "
                "shimmed with `torch.linalg.eigh`).", ""]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1797)
    ap.add_argument("--widths", default="32,64,64")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--no-bn", action="store_true", help="without batch normalisation")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tasks", default="hvp,top5,trace,density", help=f"comma-separated, from {TASKS}")
    ap.add_argument("--trace-matvecs", type=int, default=48)
    ap.add_argument("--exact-trace-max", type=int, default=5000, help="exact trace (P products) up to this P")
    ap.add_argument("--reference-depth", type=int, default=-1, help="-1: twice our depth; 0: none")
    ap.add_argument("--small-n", type=int, default=256)
    ap.add_argument("--small-widths", default="4,8")
    ap.add_argument("--probes", type=int, default=8)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--single-calls", type=int, default=2, help="calls of the top5-ours task")
    ap.add_argument("--top5-data", choices=("one", "batched", "stream"), default="one",
                    help="our side's data in top5 and top5-ours: one batch, batches of --batch, or a stream of them")
    ap.add_argument("--cache", default="/tmp/theory-lab-bench-resnet")
    ap.add_argument("--json", default=None, help="write the raw results here")
    args = ap.parse_args(argv)
    r = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1, default=lambda o: np.asarray(o).tolist()))
    print(section(r))
    return r


if __name__ == "__main__":
    main()
