"""Curvature probes vs PyTorch 2.13 + PyHessian 0.1 on the digits CNN, float64, CPU.

Network (both frameworks, identical weights): 8x8x1 → conv 3x3, 16 filters, sigmoid →
2x2 max-pool → dense 32, sigmoid → linear 10; P = 5,130; N = 512 digits; Φ = ½‖F_L − Y‖².

Timed, each with its baseline from the same run:

1. one Hessian-vector product vs one gradient (ours: forward-over-reverse from scratch,
   and the linearised product used inside Lanczos); torch's for context;
2. top-5 eigenvalues: Lanczos with full reorthogonalisation (relative error ≤ 1e-10) vs
   PyHessian's default ``eigenvalues(top_n=5)`` (power iteration, tol 1e-3);
3. the dense Hessian: batched HVPs vs ``torch.autograd.functional.hessian``.

"First" is the time to the first result in this process (compilation included);
"warm" the best of several calls after it. The reference eigenvalues come from
``numpy.linalg.eigvalsh`` of our dense Hessian, which is checked against torch's.

Run: ``python benchmarks/bench_curvature.py [--no-baseline] [--record]``. The baselines
need the optional extra (``pip install torch==2.13.0 pyhessian==0.1``); without torch they
are skipped. ``--record`` appends the section to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # torch's OpenMP threads must not spin against XLA's

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

from theory_lab import data  # noqa: E402
from theory_lab import derivatives as D  # noqa: E402
from theory_lab import model  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402
from theory_lab.presets import architecture as preset  # noqa: E402

N = 512
RTOL = 1e-10


def _block(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)


def log(message: str):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def first_and_warm(fn, repeat: int = 5, name: str = ""):
    """(seconds of the first call, best of ``repeat`` later calls, result)."""
    t0 = time.perf_counter()
    out = _block(fn())
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        best = min(best, time.perf_counter() - t0)
    log(f"{name}: first {first:.3f} s, warm {best:.4f} s")
    return first, best, out


def warm(fn, repeat: int = 5):
    _block(fn())
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block(fn())
        best = min(best, time.perf_counter() - t0)
    return best


# ----------------------------------------------------------------------------- torch side


def torch_setup(params, X, Y):
    import torch

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 16, 3)
            self.pool = torch.nn.MaxPool2d(2)
            self.fc = torch.nn.Linear(144, 32)
            self.out = torch.nn.Linear(32, 10)

        def forward(self, x):
            h = self.pool(torch.sigmoid(self.conv(x)))
            h = h.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (H, W, C) row-major, as theory_lab flattens
            return self.out(torch.sigmoid(self.fc(h)))

    net = Net()
    p = {k: {n: np.array(a) for n, a in v.items()} for k, v in params.items()}
    with torch.no_grad():
        net.conv.weight.copy_(torch.from_numpy(p["layer_1"]["W"].reshape(3, 3, 1, 16).transpose(3, 2, 0, 1).copy()))
        net.conv.bias.copy_(torch.from_numpy(p["layer_1"]["b"]))
        net.fc.weight.copy_(torch.from_numpy(p["layer_3"]["W"].T.copy()))
        net.fc.bias.copy_(torch.from_numpy(p["layer_3"]["b"]))
        net.out.weight.copy_(torch.from_numpy(p["layer_4"]["W"].T.copy()))
        net.out.bias.copy_(torch.from_numpy(p["layer_4"]["b"]))
    xt = torch.from_numpy(np.array(np.asarray(X).transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(np.array(Y))
    return torch, net, xt, yt


def criterion(out, target):
    return 0.5 * ((out - target) ** 2).sum()


def torch_benchmarks(params, X, Y, lam_ref, H_ours, results):
    torch, net, xt, yt = torch_setup(params, X, Y)
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss_of(flat):
        parts = torch.split(flat, sizes)
        ps = {n: t.reshape(s) for n, t, s in zip(names, parts, shapes)}
        return criterion(torch.func.functional_call(net, ps, (xt,)), yt)

    results["torch_loss"] = float(loss_of(flat0))

    def grad():
        flat = flat0.clone().requires_grad_(True)
        return torch.autograd.grad(loss_of(flat), flat)[0]

    v = torch.randn(flat0.shape[0])

    def hvp():
        flat = flat0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_of(flat), flat, create_graph=True)
        return torch.autograd.grad(g, flat, v)[0]

    results["torch_grad_s"] = warm(grad, repeat=20)
    results["torch_hvp_s"] = warm(hvp, repeat=20)
    log(f"torch grad {results['torch_grad_s']:.4f} s, hvp {results['torch_hvp_s']:.4f} s")

    # PyHessian's default top-5: power iteration with deflation, maxIter=100, tol=1e-3
    import importlib

    ph = importlib.import_module("pyhessian.hessian")  # the module (the package re-exports the class by that name)

    counter = {"n": 0}
    original = ph.hessian_vector_product

    def counted(*a, **k):
        counter["n"] += 1
        return original(*a, **k)

    ph.hessian_vector_product = counted
    torch.manual_seed(0)
    t0 = time.perf_counter()
    comp = ph.hessian(net, criterion, data=(xt, yt), cuda=False)
    vals, _ = comp.eigenvalues(top_n=5)
    results["pyhessian_top5_s"] = time.perf_counter() - t0
    ph.hessian_vector_product = original
    vals = np.sort(np.asarray(vals))[::-1]
    results["pyhessian_top5"] = vals.tolist()
    results["pyhessian_top5_rel_err"] = float(np.max(np.abs(vals - lam_ref[::-1][:5]) / np.abs(lam_ref[::-1][:5])))
    results["pyhessian_hvps"] = counter["n"]
    log(f"pyhessian top-5 {results['pyhessian_top5_s']:.3f} s, {counter['n']} products")

    # dense Hessian, torch.autograd.functional.hessian (defaults)
    t0 = time.perf_counter()
    Ht = torch.autograd.functional.hessian(loss_of, flat0).numpy()
    results["torch_hessian_s"] = time.perf_counter() - t0
    log(f"torch hessian {results['torch_hessian_s']:.1f} s")
    norm = np.abs(lam_ref).max()
    results["torch_vs_ours_trace_rel"] = float(abs(np.trace(Ht) - np.trace(H_ours)) / np.abs(np.trace(H_ours)))
    results["torch_vs_ours_frobenius_rel"] = float(abs(np.linalg.norm(Ht) - np.linalg.norm(H_ours))
                                                   / np.linalg.norm(H_ours))
    results["torch_hessian_asymmetry"] = float(np.abs(Ht - Ht.T).max() / norm)
    results["torch_version"] = torch.__version__
    results["torch_threads"] = torch.get_num_threads()


# ----------------------------------------------------------------------------- ours


def ours(results):
    arch = preset("digits-cnn")
    ds = data.digits(N, noise=1e-6, seed=0)
    X, Y = jnp.asarray(ds.X), jnp.asarray(ds.Y)
    t0 = time.perf_counter()
    params = model.init(arch, jax.random.key(0))
    theta, _ = D.flatten(params)
    obj = D.objective(arch)
    P = obj.P
    results.update(P=P, N=N)

    # gradient and HVPs: first calls, then warm times measured interleaved (best of 30 each),
    # so that load from other processes hits all three alike
    v = jax.random.normal(jax.random.key(1), (P,), jnp.float64)
    t0 = time.perf_counter()
    lin = D.linearize_hvp(obj, theta, X, Y)
    linearize_s = time.perf_counter() - t0
    calls = {"grad": lambda: D.gradient(obj, theta, X, Y), "hvp": lambda: D.hvp(obj, theta, X, Y, v),
             "hvp_linearized": lambda: lin(v)}
    best = {}
    for name, fn in calls.items():
        t0 = time.perf_counter()
        _block(fn())
        results[f"{name}_first_s"] = time.perf_counter() - t0
        best[name] = np.inf
    for _ in range(30):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            _block(fn())
            best[name] = min(best[name], time.perf_counter() - t0)
    results.update({f"{name}_s": t for name, t in best.items()})
    results["hvp_linearized_first_s"] += linearize_s  # the linearisation (compile and run) is part of the first
    log("warm: " + ", ".join(f"{name} {t * 1e3:.2f} ms" for name, t in best.items()))

    # dense Hessian and the reference spectrum
    H_first, H_warm, H = first_and_warm(lambda: D.hessian(obj, theta, X, Y), repeat=1, name='lambda: D.hessian(obj')
    H = np.asarray(H)
    results.update(hessian_first_s=H_first, hessian_s=H_warm)
    t0 = time.perf_counter()
    lam = np.linalg.eigvalsh(H)
    results["eigvalsh_s"] = time.perf_counter() - t0
    log(f"eigvalsh {results['eigvalsh_s']:.1f} s")
    results["lambda_top5_ref"] = lam[::-1][:5].tolist()
    results["lambda_min_ref"] = float(lam[0])

    # top-5 by Lanczos
    op = D.HessianMatvec(obj)
    run = lambda: S.lanczos(op, P, jax.random.key(2), theta, X, Y, k=5, which="top", rtol=RTOL)  # noqa: E731
    t_first, t_warm, top = first_and_warm(run, repeat=3, name='run')
    rel = np.abs(top.values - lam[::-1][:5]) / np.abs(lam[::-1][:5])
    results.update(top5_first_s=t_first, top5_s=t_warm, top5=top.values.tolist(), top5_rel_err=float(rel.max()),
                   top5_converged=bool(top.converged.all()), top5_matvecs=top.num_matvecs,
                   top5_residual_max=float(top.residuals.max()))
    return params, ds.X, ds.Y, lam, H


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, {platform.platform()}"


def section(r: dict) -> str:
    from matfree import _version as matfree_version

    has = "pyhessian_top5_s" in r
    lines = ["## Curvature probes (issue 4): `benchmarks/bench_curvature.py`", "",
             f"{_dt.date.today().isoformat()} · {machine()} · JAX device {device()} · Python {platform.python_version()} · "
             f"jax {jax.__version__} · matfree {matfree_version.__version__}"
             + (f" · torch {r['torch_version']} (CPU, {r['torch_threads']} threads, OMP_WAIT_POLICY=PASSIVE) · "
                "pyhessian 0.1" if has else " · baselines skipped (torch absent)"), "",
             f"Digits CNN (conv 3×3×16, sigmoid, max-pool 2×2, dense 32, sigmoid, linear 10), P = {r['P']:,}, "
             f"N = {r['N']}, float64, Φ = ½‖F_L − Y‖². One run; shared 2-core machine, so times are noisy. "
             "*First* = first call in the process (compilation included); *warm* = best of repeats.", "",
             "| quantity | ours first (s) | ours warm (s) | baseline (s) | ratio | target |",
             "|---|---|---|---|---|---|"]
    lines.append(f"| one gradient | {r['grad_first_s']:.3f} | {r['grad_s'] * 1e3:.2f} ms | "
                 + (f"torch {r['torch_grad_s'] * 1e3:.2f} ms" if has else "–") + " | – | – |")
    lines.append(f"| one HVP (fwd-over-rev, from scratch) | {r['hvp_first_s']:.3f} | {r['hvp_s'] * 1e3:.2f} ms | "
                 + (f"torch {r['torch_hvp_s'] * 1e3:.2f} ms" if has else "–")
                 + f" | {r['hvp_s'] / r['grad_s']:.2f}× our gradient | ≤ 1.5× |")
    lines.append(f"| one HVP (linearised once, as in Lanczos; first includes linearising) | {r['hvp_linearized_first_s']:.3f} | "
                 f"{r['hvp_linearized_s'] * 1e3:.2f} ms | – | {r['hvp_linearized_s'] / r['grad_s']:.2f}× our gradient "
                 "| ≤ 1.5× |")
    if has:
        lines.append(f"| top-5 eigenvalues | {r['top5_first_s']:.2f} | {r['top5_s']:.3f} | PyHessian "
                     f"{r['pyhessian_top5_s']:.3f} | {r['top5_s'] / r['pyhessian_top5_s']:.2f} (first: "
                     f"{r['top5_first_s'] / r['pyhessian_top5_s']:.2f}) | ≤ 0.4× |")
        lines.append(f"| dense Hessian | {r['hessian_first_s']:.2f} | {r['hessian_s']:.2f} | "
                     f"torch.autograd.functional.hessian {r['torch_hessian_s']:.2f} | "
                     f"{r['hessian_s'] / r['torch_hessian_s']:.3f} (first: "
                     f"{r['hessian_first_s'] / r['torch_hessian_s']:.3f}) | ≤ 0.5× |")
    else:
        lines.append(f"| top-5 eigenvalues | {r['top5_first_s']:.2f} | {r['top5_s']:.3f} | – | – | – |")
        lines.append(f"| dense Hessian | {r['hessian_first_s']:.2f} | {r['hessian_s']:.2f} | – | – | – |")
    lines += ["", "Accuracy (reference: `numpy.linalg.eigvalsh` of our dense Hessian; top-5 = "
              + ", ".join(f"{x:.6g}" for x in r["lambda_top5_ref"]) + f", λ_min = {r['lambda_min_ref']:.4g}):", "",
              f"- ours: Lanczos, full reorthogonalisation, depth {r['top5_matvecs']} (doubling from 32) + 5 products "
              f"for the residuals; max relative error {r['top5_rel_err']:.1e}, all converged: {r['top5_converged']} "
              f"(max residual {r['top5_residual_max']:.1e}, tolerance {RTOL:g}·max|θ|)."]
    if has:
        lines += [f"- PyHessian `eigenvalues(top_n=5)` (defaults maxIter=100, tol=1e-3): {r['pyhessian_hvps']} "
                  f"products, max relative error {r['pyhessian_top5_rel_err']:.1e} (values "
                  + ", ".join(f"{x:.6g}" for x in r["pyhessian_top5"]) + ").",
                  f"- Dense Hessians agree: trace differs by {r['torch_vs_ours_trace_rel']:.1e} (relative), "
                  f"Frobenius norm by {r['torch_vs_ours_frobenius_rel']:.1e}; torch's asymmetry "
                  f"{r['torch_hessian_asymmetry']:.1e}·‖H‖₂. Loss: ours {r['loss']:.12g}, torch "
                  f"{r['torch_loss']:.12g}.", f"- `eigvalsh` of the 5,130² reference took {r['eigvalsh_s']:.1f} s."]
    return "\n".join(lines) + "\n"


def device() -> str:
    d = jax.devices()[0]
    return f"{d.platform}: {getattr(d, 'device_kind', d)}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-baseline", action="store_true", help="skip torch/PyHessian even if installed")
    ap.add_argument("--record", action="store_true", help="append the section to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    results: dict = {}
    params, X, Y, lam, H = ours(results)
    obj = D.objective(preset("digits-cnn"))
    results["loss"] = float(D.loss(obj, D.flatten(params)[0], X, Y))
    if not args.no_baseline:
        try:
            import pyhessian  # noqa: F401
            import torch  # noqa: F401
        except ImportError as err:
            print(f"baselines skipped: {err}", file=sys.stderr)
        else:
            torch_benchmarks(params, X, Y, lam, H, results)
    text = section(results)
    print(text)
    if args.record:
        path = Path(__file__).with_name("RESULTS.md")
        old = path.read_text() if path.exists() else "# Benchmark results\n\n"
        path.write_text(old.rstrip("\n") + "\n\n" + text)
    return results


if __name__ == "__main__":
    main()
