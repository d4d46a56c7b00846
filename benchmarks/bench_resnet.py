"""ResNet-style network: theory-lab's curvature probes vs PyTorch 2.13 + PyHessian 0.1, float64, CPU or GPU.

The same network in both frameworks (:class:`theory_lab.resnet.ResNet`, batch norm in
inference mode, and its PyTorch twin built here with the *same float64 parameters* and
running statistics) on scikit-learn's digits, softmax cross-entropy with mean reduction
(PyHessian's ``nn.CrossEntropyLoss()``). The twins are checked first: outputs, loss,
gradient and one Hessian-vector product agree to rounding.

Measured, ours and theirs interleaved in one run (``--repeat`` rounds; best of each):

1. one HVP over N samples: one batch vs batches of ``--batch`` (time, and the compiled
   program's temporary memory from XLA's ``memory_analysis``);
2. top-5 eigenvalues: Lanczos (full reorthogonalisation, rtol 1e-10, every residual
   reported) vs PyHessian's default ``eigenvalues(top_n=5)``; both against a reference
   Lanczos run of twice our depth;
3. trace: Hutch++ (with its standard error) vs PyHessian's ``trace()`` (Hutchinson);
4. density on a network small enough for a dense Hessian (``--small-widths``): SLQ vs
   PyHessian's ``density()``, each smoothed with the same Gaussian, L1 distance to the
   same smoothing of the exact eigenvalues.

Run: ``.venv-baselines/bin/python benchmarks/bench_resnet.py [--n 1797] [--widths 32,64,64]
[--batch 256] [--repeat 2] [--record]`` (``requirements-baselines.lock``; without torch the
baselines are skipped). ``--record`` appends the section to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

from theory_lab import batching, presets  # noqa: E402
from theory_lab import derivatives as D  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402

RTOL = 1e-10


def log(message: str):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _block(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)


def timed(fn):
    t0 = time.perf_counter()
    out = _block(fn())
    return time.perf_counter() - t0, out


# ----------------------------------------------------------------------------- the torch twin


def torch_twin(variables, widths, batch_norm):
    """The ResNet in PyTorch with the same float64 parameters (NCHW; padding 1 = our explicit padding)."""
    import torch

    torch.set_default_dtype(torch.float64)
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not batch_norm)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not batch_norm)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-5) if batch_norm else nn.Identity()
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5) if batch_norm else nn.Identity()
            self.proj = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if (cin != cout or stride != 1) else None

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            h = self.bn2(self.conv2(h))
            return torch.relu((x if self.proj is None else self.proj(x)) + h)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, widths[0], 3, 1, 1)
            blocks, cin = [], widths[0]
            for w in widths:
                blocks.append(Block(cin, w, 2 if w > cin else 1))
                cin = w
            self.blocks = nn.ModuleList(blocks)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            h = torch.relu(self.stem(x))
            for b in self.blocks:
                h = b(h)
            return self.fc(h.mean(dim=(2, 3)))

    net = Net().eval()
    p = jax.tree_util.tree_map(np.asarray, variables["params"])
    stats = jax.tree_util.tree_map(np.asarray, variables.get("batch_stats", {}))

    def conv(module, leaf):
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(leaf["kernel"].transpose(3, 2, 0, 1).copy()))
            if "bias" in leaf:
                module.bias.copy_(torch.from_numpy(leaf["bias"].copy()))

    def bn(module, leaf, stat):
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(leaf["scale"].copy()))
            module.bias.copy_(torch.from_numpy(leaf["bias"].copy()))
            module.running_mean.copy_(torch.from_numpy(stat["mean"].copy()))
            module.running_var.copy_(torch.from_numpy(stat["var"].copy()))

    conv(net.stem, p["Conv_0"])
    for i, b in enumerate(net.blocks):
        leaf = p[f"ResidualBlock_{i}"]
        conv(b.conv1, leaf["Conv_0"])
        conv(b.conv2, leaf["Conv_1"])
        if b.proj is not None:
            conv(b.proj, leaf["Conv_2"])
        if batch_norm:
            bn(b.bn1, leaf["BatchNorm_0"], stats[f"ResidualBlock_{i}"]["BatchNorm_0"])
            bn(b.bn2, leaf["BatchNorm_1"], stats[f"ResidualBlock_{i}"]["BatchNorm_1"])
    with torch.no_grad():
        net.fc.weight.copy_(torch.from_numpy(p["Dense_0"]["kernel"].T.copy()))
        net.fc.bias.copy_(torch.from_numpy(p["Dense_0"]["bias"].copy()))
    return torch, net


def torch_flat_hvp(torch, net, xt, yt):
    criterion = torch.nn.CrossEntropyLoss()
    params = [q for q in net.parameters()]

    def hvp(v):
        loss = criterion(net(xt), yt)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        vs, i = [], 0
        for q in params:
            vs.append(v[i:i + q.numel()].reshape(q.shape))
            i += q.numel()
        hv = torch.autograd.grad(grads, params, vs)
        return torch.cat([h.reshape(-1) for h in hv])

    def loss_grad():
        loss = criterion(net(xt), yt)
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    return hvp, loss_grad, criterion


def flat_torch_order(obj, theta, net):
    """Our θ re-ordered as torch's ``net.parameters()`` (to compare gradients and products)."""
    tree = jax.tree_util.tree_map(np.asarray, obj.layout.unravel(theta))
    parts = []
    for name, q in net.named_parameters():
        path = name.split(".")
        if path[0] == "stem":
            leaf = tree["Conv_0"]
        elif path[0] == "fc":
            leaf = tree["Dense_0"]
        else:
            blk = tree[f"ResidualBlock_{path[1]}"]
            leaf = blk[{"conv1": "Conv_0", "conv2": "Conv_1", "proj": "Conv_2", "bn1": "BatchNorm_0",
                        "bn2": "BatchNorm_1"}[path[2]]]
        kind = path[-1]
        if kind == "weight" and "kernel" in leaf:
            a = leaf["kernel"]
            a = a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T
        elif kind == "weight":
            a = leaf["scale"]
        else:
            a = leaf["bias"]
        parts.append(np.asarray(a).reshape(-1))
    return np.concatenate(parts)


# ----------------------------------------------------------------------------- the runs


def build(n, widths, batch_norm, batch):
    net, variables, (X, labels) = presets.digits_resnet(n, widths=widths, batch_norm=batch_norm)
    obj, theta = D.from_model(net, variables, loss="softmax-cross-entropy", reduction="mean")
    return net, variables, X, labels, obj, theta, batching.batches(X, labels, batch), batching.as_batches(X, labels)


def compiled_temp_bytes(op, v, theta, data) -> int:
    compiled = jax.jit(lambda v, t, d: op(v, t, d)).lower(v, theta, data).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def run(args) -> dict:
    widths = tuple(int(w) for w in args.widths.split(","))
    r: dict = {"n": args.n, "widths": widths, "batch": args.batch, "batch_norm": not args.no_bn}
    net, variables, X, labels, obj, theta, data, whole = build(args.n, widths, not args.no_bn, args.batch)
    P = obj.P
    r["P"] = P
    op = D.HessianMatvec(obj)
    v = jax.random.normal(jax.random.key(1), (P,), jnp.float64)
    hvp_b = jax.jit(lambda v, t, d: op(v, t, d))
    log(f"P = {P:,}, N = {args.n}, batches of {args.batch}: compiling")
    r["hvp_one_batch_first_s"], Hv1 = timed(lambda: hvp_b(v, theta, whole))
    r["hvp_batched_first_s"], Hvb = timed(lambda: hvp_b(v, theta, data))
    r["hvp_batched_vs_one_rel"] = float(jnp.linalg.norm(Hvb - Hv1) / jnp.linalg.norm(Hv1))
    r["temp_bytes_one"] = compiled_temp_bytes(op, v, theta, whole)
    r["temp_bytes_batched"] = compiled_temp_bytes(op, v, theta, data)

    have_torch = not args.no_baseline
    if have_torch:
        try:
            import pyhessian  # noqa: F401
            import torch  # noqa: F401
        except ImportError as err:
            log(f"baselines skipped: {err}")
            have_torch = False
    if have_torch:
        torch, tnet = torch_twin(variables, widths, not args.no_bn)
        xt = torch.from_numpy(np.ascontiguousarray(np.asarray(X).transpose(0, 3, 1, 2)))
        yt = torch.from_numpy(np.asarray(labels))
        t_hvp, t_loss_grad, criterion = torch_flat_hvp(torch, tnet, xt, yt)
        with torch.no_grad():
            out_t = tnet(xt).numpy()
        out_j = np.asarray(D.outputs(obj, theta, X))
        r["twin_outputs_rel"] = float(np.abs(out_t - out_j).max() / np.abs(out_j).max())
        loss_t, g_t = t_loss_grad()
        loss_j, g_j = D.value_and_gradient(obj, theta, data)
        order = flat_torch_order(obj, np.arange(P, dtype=np.float64), tnet).astype(int)
        r["twin_loss_rel"] = abs(loss_t - float(loss_j)) / abs(float(loss_j))
        r["twin_grad_rel"] = float(np.linalg.norm(g_t.numpy() - np.asarray(g_j)[order]) / np.linalg.norm(g_j))
        hv_t = t_hvp(torch.from_numpy(np.asarray(v)[order].copy())).detach().numpy()
        r["twin_hvp_rel"] = float(np.linalg.norm(hv_t - np.asarray(Hv1)[order]) / np.linalg.norm(Hv1))
        log(f"twins agree: outputs {r['twin_outputs_rel']:.1e}, grad {r['twin_grad_rel']:.1e}, "
            f"hvp {r['twin_hvp_rel']:.1e}")

    # interleaved rounds: ours then theirs, each round
    best = {}

    def keep(name, seconds):
        best[name] = min(best.get(name, np.inf), seconds)

    if args.hvp_only:
        for _ in range(args.repeat):
            keep("hvp_one_batch_s", timed(lambda: hvp_b(v, theta, whole))[0])
            keep("hvp_batched_s", timed(lambda: hvp_b(v, theta, data))[0])
            if have_torch:
                keep("torch_hvp_s", timed(lambda: t_hvp(torch.from_numpy(np.asarray(v)[order].copy())))[0])
        r.update(best)
        return r

    def lanczos():
        return S.lanczos(op, P, jax.random.key(2), theta, data, k=5, which="top", rtol=RTOL)

    def hutchpp():
        return S.hutch_plus_plus(op, P, jax.random.key(3), theta, data, num_matvecs=args.trace_matvecs)

    # first calls (compilation included), then interleaved warm rounds
    r["top5_first_s"], top = timed(lanczos)
    r["trace_first_s"], hpp = timed(hutchpp)
    log(f"first calls: top-5 {r['top5_first_s']:.1f} s, trace {r['trace_first_s']:.1f} s")
    ph_vals = ph_trace = None
    for rnd in range(args.repeat):
        keep("hvp_one_batch_s", timed(lambda: hvp_b(v, theta, whole))[0])
        keep("hvp_batched_s", timed(lambda: hvp_b(v, theta, data))[0])
        s, top = timed(lanczos)
        keep("top5_s", s)
        s, hpp = timed(hutchpp)
        keep("trace_s", s)
        if have_torch:
            s, _ = timed(lambda: t_hvp(torch.from_numpy(np.asarray(v)[order].copy())))
            keep("torch_hvp_s", s)
            ph = importlib.import_module("pyhessian.hessian")  # the module; the package re-exports the class

            counter = {"n": 0}
            original = ph.hessian_vector_product

            def counted(*a, **k):
                counter["n"] += 1
                return original(*a, **k)

            ph.hessian_vector_product = counted
            torch.manual_seed(rnd)
            t0 = time.perf_counter()
            comp = ph.hessian(tnet, criterion, data=(xt, yt), cuda=False)
            ph_vals, _ = comp.eigenvalues(top_n=5)
            keep("pyhessian_top5_s", time.perf_counter() - t0)
            r["pyhessian_top5_products"] = counter["n"]
            counter["n"] = 0
            t0 = time.perf_counter()
            ph_trace = comp.trace()
            keep("pyhessian_trace_s", time.perf_counter() - t0)
            r["pyhessian_trace_products"] = counter["n"]
            ph.hessian_vector_product = original
        log(f"round {rnd + 1}: " + ", ".join(f"{k} {t:.2f}" for k, t in best.items()))
    r.update(best)
    r.update(top5=top.values.tolist(), top5_residuals=top.residuals.tolist(), top5_converged=top.converged.tolist(),
             top5_products=int(top.num_matvecs), top5_tol=top.tol)
    r.update(trace=hpp.estimate, trace_stderr=hpp.stderr, trace_products=args.trace_matvecs)
    if P <= args.exact_trace_max:
        r["trace_exact"] = S.trace_exact(op, P, theta, data)

    # reference: Lanczos at twice our depth from another start vector
    depth = min(P, 2 * int(top.depth or top.num_matvecs))
    ref = S.lanczos(op, P, jax.random.key(7), theta, data, k=5, which="top", num_matvecs=depth)
    r.update(ref_top5=ref.values.tolist(), ref_residuals=ref.residuals.tolist(), ref_depth=depth)
    r["top5_rel_err"] = float(np.max(np.abs(top.values - ref.values) / np.abs(ref.values)))
    if have_torch:
        vals = np.sort(np.asarray(ph_vals))[::-1]
        r["pyhessian_top5"] = vals.tolist()
        r["pyhessian_top5_rel_err"] = float(np.max(np.abs(vals - ref.values) / np.abs(ref.values)))
        r["pyhessian_trace"] = float(np.mean(ph_trace))
        r["pyhessian_trace_stderr"] = float(np.std(ph_trace) / np.sqrt(max(len(ph_trace) - 1, 1)))
        r["torch_version"] = torch.__version__
    density(args, r, have_torch)
    return r


def density(args, r, have_torch):
    """SLQ and PyHessian densities vs the exact one on a small network (dense Hessian)."""
    widths = tuple(int(w) for w in args.small_widths.split(","))
    net, variables, X, labels, obj, theta, data, whole = build(args.small_n, widths, not args.no_bn, args.batch)
    op = D.HessianMatvec(obj)
    lam = np.linalg.eigvalsh(np.asarray(D.hessian(obj, theta, whole)))
    dens = S.slq_density(op, obj.P, jax.random.key(4), theta, data, num_probes=args.probes, num_matvecs=args.steps)
    sigma, grid = dens.sigma, dens.grid
    exact = S.exact_density(lam, sigma=sigma, grid=grid)
    dx = grid[1] - grid[0]
    r.update(small_P=obj.P, small_n=args.small_n, small_widths=widths, density_sigma=sigma,
             slq_l1=float(np.sum(np.abs(dens.density - exact)) * dx))
    if have_torch:
        import torch

        ph = importlib.import_module("pyhessian.hessian")
        tnet = torch_twin(variables, widths, not args.no_bn)[1]
        xt = torch.from_numpy(np.ascontiguousarray(np.asarray(X).transpose(0, 3, 1, 2)))
        torch.manual_seed(0)
        comp = ph.hessian(tnet, torch.nn.CrossEntropyLoss(), data=(xt, torch.from_numpy(np.asarray(labels))),
                          cuda=False)
        # PyHessian 0.1's density() calls torch.eig, removed from torch since 1.9: shim it with eigh
        # (its T is the symmetric Lanczos tridiagonal), returning the old (values, 0) pairs
        def eig(T, eigenvectors=True):
            w, V = torch.linalg.eigh(T)
            return torch.stack([w, torch.zeros_like(w)], dim=1), V

        torch.eig = eig
        nodes, weights = comp.density(iter=args.steps, n_v=args.probes)
        nodes, weights = np.asarray(nodes), np.asarray(weights)
        z = (grid[:, None] - nodes.ravel()[None, :]) / sigma
        theirs = np.exp(-0.5 * z * z) @ (weights.ravel() / nodes.shape[0]) / (sigma * np.sqrt(2 * np.pi))
        r["pyhessian_density_l1"] = float(np.sum(np.abs(theirs - exact)) * dx)
    log(f"density L1: ours {r['slq_l1']:.2e}" + (f", PyHessian {r['pyhessian_density_l1']:.2e}" if have_torch else ""))


def section_hvp(r: dict) -> str:
    d = jax.devices()[0]
    return "\n".join([
        f"### One HVP at full size (`--hvp-only`): P = {r['P']:,}, N = {r['n']}, widths {r['widths']}", "",
        f"{_dt.date.today().isoformat()} · JAX {jax.__version__} on {d.platform} · best of {r.get('repeat', 1)}", "",
        "| quantity | one batch | batches of " + str(r["batch"]) + " | ratio (target) |", "|---|---|---|---|",
        f"| one HVP (s) | {r['hvp_one_batch_s']:.2f} | {r['hvp_batched_s']:.2f} | "
        f"{r['hvp_batched_s'] / r['hvp_one_batch_s']:.2f} (≤ 1.3) |",
        f"| temporary memory of the compiled HVP (MiB) | {r['temp_bytes_one'] / 2**20:.1f} | "
        f"{r['temp_bytes_batched'] / 2**20:.1f} | {r['temp_bytes_batched'] / max(r['temp_bytes_one'], 1):.2f} (≤ 0.25) |",
        "", f"Batched = one batch to {r['hvp_batched_vs_one_rel']:.1e}"
        + (f"; torch's HVP {r['torch_hvp_s']:.2f} s; twins agree to {r['twin_hvp_rel']:.1e} (HVP)."
           if "torch_hvp_s" in r else "."), ""])


def section(r: dict) -> str:
    if "top5_s" not in r:
        return section_hvp(r)
    has = "pyhessian_top5_s" in r
    d = jax.devices()[0]
    lines = ["## Any-model curvature (issue 11): `benchmarks/bench_resnet.py`", "",
             f"{_dt.date.today().isoformat()} · {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
             f"visible · JAX {jax.__version__} on {d.platform}"
             + (f" · torch {r['torch_version']} (CPU) · pyhessian 0.1" if has else " · baselines skipped"), "",
             f"ResNet-style network (`theory_lab.resnet.ResNet`, widths {r['widths']}, batch norm "
             f"{'in inference mode' if r['batch_norm'] else 'off'}), P = {r['P']:,}, N = {r['n']} digits, softmax "
             f"cross-entropy (mean), float64, batches of {r['batch']}. Best of {r.get('repeat', 1)} interleaved rounds.", ""]
    if has:
        lines.append(f"Twins agree: outputs {r['twin_outputs_rel']:.1e}, loss {r['twin_loss_rel']:.1e}, gradient "
                     f"{r['twin_grad_rel']:.1e}, one HVP {r['twin_hvp_rel']:.1e} (relative).")
        lines.append("")
    lines += ["| quantity | ours | PyHessian / torch | ratio |", "|---|---|---|---|",
              f"| one HVP, one batch (s) | {r['hvp_one_batch_s']:.3f} | "
              + (f"torch {r['torch_hvp_s']:.3f}" if has else "–") + " | – |",
              f"| one HVP, batches of {r['batch']} (s) | {r['hvp_batched_s']:.3f} | – | "
              f"{r['hvp_batched_s'] / r['hvp_one_batch_s']:.2f}× one batch (target ≤ 1.3×) |",
              f"| HVP temporary memory (XLA) | {r['temp_bytes_batched'] / 2**20:.1f} MiB batched, "
              f"{r['temp_bytes_one'] / 2**20:.1f} MiB one batch | – | "
              f"{r['temp_bytes_batched'] / max(r['temp_bytes_one'], 1):.2f} (target ≤ 0.25) |",
              f"| top-5 eigenvalues (s; first call {r['top5_first_s']:.1f}) | {r['top5_s']:.2f} "
              f"({r['top5_products']} products) | "
              + (f"{r['pyhessian_top5_s']:.2f} ({r['pyhessian_top5_products']} products)" if has else "–") + " | "
              + (f"{r['top5_s'] / r['pyhessian_top5_s']:.2f} (target ≤ 0.3)" if has else "–") + " |",
              f"| trace (s; first call {r['trace_first_s']:.1f}) | Hutch++ {r['trace_s']:.2f} "
              f"({r['trace_products']} products) | "
              + (f"{r['pyhessian_trace_s']:.2f} ({r['pyhessian_trace_products']} products)" if has else "–")
              + " | – |", "",
              f"- Batched HVP = one-batch HVP to {r['hvp_batched_vs_one_rel']:.1e} (relative).",
              "- Top-5 (ours): " + ", ".join(f"{x:.10g}" for x in r["top5"]) + "; residuals ‖Hv − λv‖ "
              + ", ".join(f"{x:.1e}" for x in r["top5_residuals"]) + f" (tolerance {r['top5_tol']:.1e}); max relative "
              f"difference to the reference (Lanczos, depth {r['ref_depth']}, residuals "
              + ", ".join(f"{x:.1e}" for x in r["ref_residuals"]) + f"): {r['top5_rel_err']:.1e}."]
    if has:
        lines += ["- PyHessian `eigenvalues(top_n=5)` (maxIter=100, tol=1e-3): " + ", ".join(
            f"{x:.8g}" for x in r["pyhessian_top5"]) + f"; max relative error {r['pyhessian_top5_rel_err']:.1e}."]
    lines.append(f"- Trace: Hutch++ {r['trace']:.6g} ± {r['trace_stderr']:.2g}"
                 + (f" (exact, from {r['P']:,} products: {r['trace_exact']:.6g})" if "trace_exact" in r else "")
                 + (f"; PyHessian {r['pyhessian_trace']:.6g} ± {r['pyhessian_trace_stderr']:.2g} (Hutchinson, "
                    "tol 1e-3)." if has else "."))
    lines.append(f"- Density on widths {r['small_widths']} (P = {r['small_P']:,}, N = {r['small_n']}; dense Hessian "
                 f"exact): smoothed (σ = {r['density_sigma']:.3g}) L1 distance to the exact density: SLQ "
                 f"{r['slq_l1']:.2e}" + (f", PyHessian `density()` {r['pyhessian_density_l1']:.2e}" if has else "")
                 + " (same probes and steps; PyHessian 0.1's `density()` calls `torch.eig`, removed from torch, "
                 "so the benchmark shims it with `torch.linalg.eigh`).")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1797)
    ap.add_argument("--widths", default="32,64,64")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--no-bn", action="store_true", help="without batch normalisation")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--trace-matvecs", type=int, default=48)
    ap.add_argument("--exact-trace-max", type=int, default=20000, help="exact trace (P products) up to this P")
    ap.add_argument("--small-n", type=int, default=256)
    ap.add_argument("--small-widths", default="4,8")
    ap.add_argument("--probes", type=int, default=8)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--hvp-only", action="store_true", help="only section 1 (HVP time and memory)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)
    r = run(args)
    r["repeat"] = args.repeat
    text = section(r)
    print(text)
    if args.record:
        path = Path(__file__).with_name("RESULTS.md")
        path.write_text(path.read_text().rstrip("\n") + "\n\n" + text)
    return r


if __name__ == "__main__":
    main()
