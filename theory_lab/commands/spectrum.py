"""`theory-lab spectrum`: Hessian (or Gauss–Newton) spectrum of a small CNN on real data.

For a named architecture, a data set and a parameter point (random from a seed, or
a saved ``.npz``) it computes the loss and gradient, the top-``k`` and bottom-``k``
eigenpairs by Lanczos (with residuals and converged flags), the spectral density by
stochastic Lanczos quadrature, trace estimates (Hutchinson, Hutch++, XTrace) and the
inertia (exact for ``P ≤ --exact-max``, else estimated), shows progress, and writes
``spectrum.json`` and ``spectrum.png`` (density, bulk edges, outliers marked) into
``--out``, atomically.

Outliers: converged Lanczos eigenvalues outside the *bulk*, the interval around the
smoothed density's highest peak on which the density stays above ``BULK_LEVEL`` (1e-4)
times that peak.

A saved point is an ``.npz`` holding either ``theta`` (the flat vector of
:func:`theory_lab.derivatives.flatten`) or one array per leaf named ``layer_k/W``,
``layer_k/b``.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

__all__ = ["register", "PRESETS", "preset", "load_point", "spectrum_report", "bulk_interval", "BULK_LEVEL"]

BULK_LEVEL = 1e-4


def bulk_interval(grid, density, level: float = BULK_LEVEL) -> tuple[float, float]:
    """The interval around the density's highest peak where ``density ≥ level · peak``."""
    grid, density = np.asarray(grid), np.asarray(density)
    i = int(np.argmax(density))
    above = density >= level * density[i]
    lo, hi = i, i
    while lo > 0 and above[lo - 1]:
        lo -= 1
    while hi < len(grid) - 1 and above[hi + 1]:
        hi += 1
    return float(grid[lo]), float(grid[hi])


def _presets():
    from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output

    return {
        # the benchmark network: P = 5,130
        "digits-cnn": Architecture((8, 8, 1), (Conv(16, (3, 3), bias="filter"), MaxPool((2, 2)), Dense(32),
                                               Output(10))),
        # a quick one: P = 362
        "digits-small": Architecture((8, 8, 1), (Conv(2, (3, 3), bias="filter"), Dense(4), Output(10))),
        # the verify instance's network (per-neuron conv bias, wide at layer 1): P = 10,154
        "digits-wide": Architecture((8, 8, 1), (Conv(8, (3, 3)), Dense(32), Output(10))),
        # MNIST-1D: P = 9,914
        "mnist1d-cnn": Architecture((40, 1), (Conv(8, (5,), bias="filter"), Dense(32), Output(10))),
    }


PRESETS = ("digits-cnn", "digits-small", "digits-wide", "mnist1d-cnn")
DATASETS = ("digits", "mnist1d", "gaussian")
OPERATORS = {"hessian": "hessian", "gauss-newton": "gauss_newton", "residual": "residual"}


def preset(name: str):
    """The :class:`~theory_lab.arch.Architecture` of a named preset."""
    table = _presets()
    if name not in table:
        raise ValueError(f"`--arch`={name!r} is not a preset; choose one of {', '.join(PRESETS)}.")
    return table[name]


DEFAULT_NOISE = {"digits": 1e-6, "mnist1d": 0.0, "gaussian": 0.0}
"""Default ``--noise`` per data set (1e-6 on digits restores Assumption 3.1 on their blank patches)."""


def _dataset(name: str, n: int, arch, seed: int, noise: float | None = None):
    from theory_lab import data

    if name not in DATASETS:
        raise ValueError(f"`--data`={name!r} is unknown; choose one of {', '.join(DATASETS)}.")
    if name == "gaussian":
        return data.gaussian(n, arch.input_shape, m=arch.widths[-1], seed=seed)
    noise = DEFAULT_NOISE[name] if noise is None else noise
    ds = (data.digits(n, noise=noise, seed=seed) if name == "digits"
          else data.mnist1d(n, noise=noise, seed=42))
    if ds.X.shape[1:] != arch.input_shape:
        raise ValueError(f"`--data`={name!r} has inputs of shape {ds.X.shape[1:]} but the architecture expects "
                         f"{arch.input_shape}; use --data gaussian, or an architecture made for {name}.")
    if ds.Y.shape[1] != arch.widths[-1]:
        raise ValueError(f"`--data`={name!r} has {ds.Y.shape[1]} outputs but the architecture has m = "
                         f"{arch.widths[-1]}.")
    return ds


def load_point(path: Path, arch, notes: list | None = None) -> np.ndarray:
    """θ from a saved ``.npz`` (``theta``, or ``layer_k/W`` and ``layer_k/b`` arrays), checked against ``arch``.

    Validation (keys, shapes, dtypes, NaN/Inf) is :func:`theory_lab.params_io.load_theta`'s; its notes
    (casts, ignored keys) are appended to ``notes``.
    """
    from theory_lab import derivatives as D
    from theory_lab.params_io import load_theta

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"`--params`={str(path)!r} is neither 'random' nor an existing .npz file.")
    loaded = load_theta(path, D.layout(arch), name="--params")
    if notes is not None:
        notes.extend(loaded.notes)
    return loaded.theta


def _density_figure(rep: dict, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = rep["density"]
    grid, dens = np.asarray(d["grid"]), np.asarray(d["density"])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    floor = max(float(dens.max()) * 1e-8, 1e-300)
    ax.semilogy(grid, np.maximum(dens, floor), color="C0", lw=1.2, label=f"SLQ density (σ = {d['sigma']:.2g})")
    lo, hi = rep["bulk"]
    ax.axvspan(lo, hi, color="C0", alpha=0.08, label=f"bulk (density ≥ {BULK_LEVEL:g} · peak)")
    for i, lam in enumerate(rep["outliers"]):
        ax.axvline(lam, color="C3", lw=0.9, ls="--", label="outliers (Lanczos)" if i == 0 else None)
    ax.set_xlabel("eigenvalue λ")
    ax.set_ylabel("density")
    ax.set_ylim(bottom=floor)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def spectrum_report(arch, theta, X, Y, *, seed: int = 0, operator: str = "hessian", reduction: str = "sum",
                    block: int | None = None, k: int = 5, probes: int = 8, steps: int = 64,
                    trace_matvecs: int = 48, exact_max: int = 2000, progress=None) -> dict:
    """All numbers of the command as a JSON-ready dict (``progress(stage)`` is called before each stage)."""
    import jax

    from theory_lab import derivatives as D
    from theory_lab import spectrum as S

    step = progress or (lambda stage: None)
    obj = D.objective(arch, reduction=reduction)
    op = D.HessianMatvec(obj, OPERATORS[operator], block)
    dim = op.dim()
    keys = jax.random.split(jax.random.key(seed), 4)
    args = (theta, X, Y)
    timings = {}

    def timed(name, fn):
        step(name)
        t0 = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t0, 3)
        return out

    loss, grad = timed("loss and gradient", lambda: D.value_and_gradient(obj, *args))
    k = min(k, dim)
    top, bottom = timed("Lanczos eigenpairs", lambda: S.lanczos(op, dim, keys[0], *args, k=k, which="both"))
    steps = min(steps, dim)
    dens = timed("SLQ density", lambda: S.slq_density(op, dim, keys[1], *args, num_probes=probes,
                                                      num_matvecs=steps))
    traces = timed("trace estimates", lambda: S.trace_estimates(op, dim, keys[2], *args,
                                                                num_matvecs=min(trace_matvecs, dim)))
    inert = timed("inertia", lambda: S.inertia(op, dim, *args, exact_max=exact_max, density=None
                                               if dim <= exact_max else dens))
    bulk = list(bulk_interval(dens.grid, dens.density))
    outliers = [float(v) for pairs in (top, bottom) for v, ok in zip(pairs.values, pairs.converged)
                if ok and not bulk[0] <= v <= bulk[1]]
    return {"architecture": arch.describe(), "P": obj.P, "dim": dim, "operator": operator, "block": block,
            "reduction": reduction, "N": int(X.shape[0]), "m": int(Y.shape[1]), "seed": seed,
            "loss": float(loss), "gradient_norm": float(np.linalg.norm(np.asarray(grad))),
            "top": top.to_dict(), "bottom": bottom.to_dict(), "density": dens.to_dict(),
            "trace": {name: t.to_dict() for name, t in traces.items()}, "inertia": inert.to_dict(),
            "bulk": bulk, "outliers": sorted(outliers), "seconds": timings}


def spectrum(
    arch: str = typer.Option("digits-small", "--arch", "-a", help=f"Architecture preset: {', '.join(PRESETS)}."),
    data_name: str = typer.Option("digits", "--data", "-d", help=f"Data set: {', '.join(DATASETS)}."),
    n: int = typer.Option(256, "--n", "-n", help="Number of training samples N."),
    noise: Optional[float] = typer.Option(None, "--noise", help="Std of Gaussian noise on digits/MNIST-1D pixels "
                                          "(default 1e-6 on digits, 0 on mnist1d; 0: the raw data, which "
                                          "violate Assumption 3.1)."),
    params: str = typer.Option("random", "--params", "-p", help="'random' (from --seed) or a saved point .npz."),
    seed: int = typer.Option(0, help="Seed for parameters, data noise and every probe."),
    operator: str = typer.Option("hessian", help="hessian, gauss-newton or residual (H − JᵀJ)."),
    reduction: str = typer.Option("sum", help="Loss reduction: sum (the paper's Φ) or mean (divided by N)."),
    block: Optional[int] = typer.Option(None, help="Restrict to layer k's parameters (a diagonal block)."),
    k: int = typer.Option(5, "--k", "-k", help="Eigenpairs at each end."),
    probes: int = typer.Option(8, help="SLQ probes."),
    steps: int = typer.Option(64, help="Lanczos steps per SLQ probe."),
    trace_matvecs: int = typer.Option(48, help="Products per trace estimator."),
    exact_max: int = typer.Option(2000, help="Exact inertia (dense eigvalsh) up to this size."),
    out: Path = typer.Option(Path("theory-lab-spectrum"), "--out", "-o", help="Folder for spectrum.json/.png."),
):
    """Eigenpairs, spectral density, trace and inertia of the Hessian at a point; JSON and a figure."""
    import jax
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from theory_lab import derivatives as D
    from theory_lab import model
    from theory_lab.report import environment, write_atomic

    from theory_lab.commands import options

    console = Console()
    # every option, before any computation and before anything is written
    seed = options.seed(seed)
    n = options.at_least(n, 1, "--n", "number of samples N")
    if noise is not None:
        noise = options.non_negative(noise, "--noise", "standard deviation of the pixel noise")
        if data_name == "gaussian" and noise > 0:
            raise typer.BadParameter("--data gaussian takes no noise; drop --noise or use --data digits/mnist1d.",
                                     param_hint="--noise")
    options.choice(operator, tuple(OPERATORS), "--operator")
    options.choice(reduction, ("sum", "mean"), "--reduction")
    for value, name in ((k, "--k"), (probes, "--probes"), (steps, "--steps"), (trace_matvecs, "--trace-matvecs")):
        options.at_least(value, 1, name)
    options.at_least(exact_max, 0, "--exact-max")
    out = options.out_dir(out)
    try:
        network = preset(arch)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--arch") from None
    if block is not None:
        try:
            D.layout(network).block(block)
        except ValueError as err:
            raise typer.BadParameter(str(err).replace("`block`", "`--block`"), param_hint="--block") from None
    try:
        ds = _dataset(data_name, n, network, seed, noise)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--data") from None
    notes: list = []
    try:
        theta = (np.asarray(D.flatten(model.init(network, jax.random.key(seed)))[0]) if params == "random"
                 else load_point(Path(params), network, notes))
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--params") from None
    for note in notes:
        console.print(f"[yellow]note:[/] --params: {note}")
    stages = ("loss and gradient", "Lanczos eigenpairs", "SLQ density", "trace estimates", "inertia")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("spectrum", total=len(stages))
        seen = []

        def progress(stage):
            if seen:
                bar.advance(task)
            seen.append(stage)
            bar.update(task, description=stage)

        rep = spectrum_report(network, theta, ds.X, ds.Y, seed=seed, operator=operator, reduction=reduction,
                              block=block, k=k, probes=probes, steps=steps, trace_matvecs=trace_matvecs,
                              exact_max=exact_max, progress=progress)
        bar.advance(task)
    rep.update({"arch": arch, "data": data_name, "params": params, "environment": environment(),
                "dataset": {"name": data_name, "N": ds.N, "noise": ds.meta.get("noise", 0.0),
                            "seed": ds.meta.get("seed", seed)},
                "params_notes": notes})
    title = (f"{arch} on {data_name} (N = {rep['N']}), {operator}{'' if block is None else f' block {block}'}, "
             f"P = {rep['P']}, Φ = {rep['loss']:.4g}")
    text, figure = json.dumps(rep, indent=2, ensure_ascii=False), _density_figure(rep, title)
    write_atomic(out / "spectrum.json", text)  # both built first: a failure leaves the previous pair whole
    write_atomic(out / "spectrum.png", figure)
    top, bottom, inert = rep["top"], rep["bottom"], rep["inertia"]
    console.print(title)
    console.print(f"top-{len(top['values'])}: " + ", ".join(f"{v:.6g}" for v in top["values"])
                  + f"  (converged {sum(top['converged'])}/{len(top['converged'])}, {top['num_matvecs']} steps)")
    console.print(f"bottom-{len(bottom['values'])}: " + ", ".join(f"{v:.6g}" for v in bottom["values"])
                  + f"  (converged {sum(bottom['converged'])}/{len(bottom['converged'])})")
    for name, t in rep["trace"].items():
        console.print(f"trace ({name}): {t['estimate']:.6g} ± {t['stderr']:.2g}")
    console.print(f"inertia ({inert['method']}, tol {inert['tol']:.2g}): {inert['negative']:.6g} negative, "
                  f"{inert['zero']:.6g} zero, {inert['positive']:.6g} positive")
    console.print(f"outliers: {', '.join(f'{v:.6g}' for v in rep['outliers']) or 'none'}; wrote {out}/spectrum.json "
                  f"and {out}/spectrum.png")


def register(app) -> None:
    """Attach ``spectrum`` to the ``theory-lab`` Typer app."""
    app.command("spectrum")(spectrum)
