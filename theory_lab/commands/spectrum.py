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
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from theory_lab.presets import ARCHITECTURES, architecture

__all__ = ["register", "load_point", "random_point", "PARAMS_STREAM"]



DATASETS = ("digits", "mnist1d", "gaussian")


#: Salt of ``--params random``'s stream (``zlib.crc32(b"spectrum --params random") & 0x7FFFFFFF``, as
#: ``checking.Context.rng`` salts a purpose): independent of ``default_rng(seed)``, which the data use.
PARAMS_STREAM = 0x65A5649C

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


def random_point(arch, seed: int) -> np.ndarray:
    """θ ``(P,)`` of ``--params random``: :func:`theory_lab.sampling.sample_params` from the stream
    ``default_rng([seed, PARAMS_STREAM])``, flattened.

    The law of :func:`theory_lab.model.init` (LeCun-normal weights, normal biases of std 0.1),
    drawn with numpy, so a first run compiles no initialiser (flax's cost ~4 s on 2 cores); the
    values are not ``model.init(arch, key(seed))``'s. Not ``default_rng(seed)`` itself: the data
    (digits noise, gaussian inputs and labels) draw from that stream, and θ's first-layer weights
    were functions of the same 64-bit words as sample 0's first pixels.

    Example:
        >>> from theory_lab.presets import architecture
        >>> theta = random_point(architecture("digits-cnn"), 0)
        >>> theta.shape, theta.dtype, bool((random_point(architecture("digits-cnn"), 0) == theta).all())
        ((5130,), dtype('float64'), True)
    """
    from theory_lab import derivatives as D
    from theory_lab.sampling import sample_params

    drawn = sample_params(arch, np.random.default_rng([int(seed), PARAMS_STREAM]))
    return np.concatenate([np.ravel(np.asarray(drawn[f"layer_{leaf.k}"][leaf.name]))
                           for leaf in D.layout(arch).leaves])


def _density_figure(rep: dict, title: str) -> bytes:
    # a Figure on the Agg canvas, without pyplot: no backend machinery to import, no global state
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from theory_lab.curvature_report import BULK_LEVEL

    d = rep["density"]
    grid, dens = np.asarray(d["grid"]), np.asarray(d["density"])
    fig = Figure(figsize=(7, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
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
    # fixed margins: `tight_layout` measured every label with a full extra draw (0.35 s of a 0.78 s figure)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.12, top=0.92)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def spectrum(
    arch: str = typer.Option("digits-small", "--arch", "-a", help=f"Architecture preset: {', '.join(ARCHITECTURES)}."),
    data_name: str = typer.Option("digits", "--data", "-d", help=f"Data set: {', '.join(DATASETS)}."),
    n: int = typer.Option(256, "--n", "-n", help="Number of training samples N."),
    noise: Optional[float] = typer.Option(None, "--noise", help="Std of Gaussian noise on digits/MNIST-1D pixels "
                                          "(default 1e-6 on digits, 0 on mnist1d; 0: the raw data, which "
                                          "violate Assumption 3.1)."),
    params: str = typer.Option("random", "--params", "-p", help="'random' (from --seed) or a saved point .npz."),
    model_spec: Optional[str] = typer.Option(
        None, "--model", "-M", help="Your own model instead of --arch/--data/--params: a factory PKG.MODULE:FACTORY "
        "or path/file.py:FACTORY returning (model, params, data), or a preset: digits-resnet, digits-resnet-bn."),
    loss: Optional[str] = typer.Option(None, "--loss", help="squared or softmax-cross-entropy (default: squared for "
                                       "--arch; for --model cross-entropy with integer labels, else squared)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per batch (default: all in one)."),
    seed: int = typer.Option(0, help="Seed for parameters, every probe, the digits noise and the gaussian data "
                                  "(MNIST-1D is always generated with its seed 42, as in verify)."),
    operator: str = typer.Option("hessian", help="hessian, gauss-newton or residual (H − JᵀJ)."),
    reduction: str = typer.Option("sum", help="Loss reduction: sum (the paper's Φ) or mean (divided by N)."),
    block: Optional[str] = typer.Option(None, help="Restrict to a diagonal block: layer k (--arch) or a parameter "
                                        "subtree's path such as Dense_0 (--model)."),
    k: int = typer.Option(5, "--k", "-k", help="Eigenpairs at each end."),
    probes: int = typer.Option(8, help="SLQ probes."),
    steps: int = typer.Option(64, help="Lanczos steps per SLQ probe."),
    trace_matvecs: int = typer.Option(48, help="Products per trace estimator."),
    exact_max: int = typer.Option(2000, help="Exact inertia (dense eigvalsh) up to this size."),
    out: Path = typer.Option(Path("theory-lab-spectrum"), "--out", "-o", help="Folder for spectrum.json/.png."),
):
    """Eigenpairs, spectral density, trace and inertia of the Hessian at a point; JSON and a figure."""
    from rich.console import Console

    from theory_lab.curvature_report import OPERATORS
    from theory_lab.keys import check_probe_block
    from theory_lab.objective import LOSSES
    from theory_lab.trace import HUTCH_PP_MIN

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
    if loss is not None:
        options.choice(loss, tuple(LOSSES), "--loss")
    if batch_size is not None:
        options.at_least(batch_size, 1, "--batch-size", "samples per batch")
    for value, name in ((k, "--k"), (probes, "--probes"), (steps, "--steps")):
        options.at_least(value, 1, name)
    options.at_least(trace_matvecs, HUTCH_PP_MIN, "--trace-matvecs",
                     "Hutch++ spends a third on each of its 3 parts, 2 at least")
    options.at_least(exact_max, 0, "--exact-max")
    out = options.out_dir(out, files=("spectrum.json", "spectrum.png"))
    if model_spec is not None:
        obj, theta, data, block, labels = _model_point(model_spec, loss, reduction, batch_size, block)
    else:
        obj, theta, data, block, labels = _arch_point(console, arch, data_name, n, noise, params, seed, loss,
                                                      reduction, batch_size, block)
    try:  # SLQ draws its probes at once: refused here, not as numpy's MemoryError after Lanczos
        check_probe_block(probes, obj.block_size(block), "--probes")
    except MemoryError as err:
        raise typer.BadParameter(str(err), param_hint="--probes") from None
    name = labels.get("model") or f"{labels['arch']} on {labels['data']}"
    rep = _run(console, obj, theta, data, name=name, seed=seed, operator=operator, block=block, k=k, probes=probes,
               steps=steps, trace_matvecs=trace_matvecs, exact_max=exact_max)
    _write(console, rep, labels, out)


def _model_point(spec, loss, reduction, batch_size, block):
    from theory_lab import factories

    try:
        obj, theta, data = factories.load(spec, loss=loss, reduction=reduction, batch_size=batch_size)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--model") from None
    try:
        obj.block_size(block)
    except ValueError as err:
        raise typer.BadParameter(str(err).replace("`block`", "`--block`"), param_hint="--block") from None
    return obj, theta, data, block, {"model": spec, "data": "from the factory", "params": "from the factory"}


def _arch_point(console, arch, data_name, n, noise, params, seed, loss, reduction, batch_size, block):
    from theory_lab import batching
    from theory_lab import derivatives as D

    try:
        network = architecture(arch)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--arch") from None
    if block is not None:
        try:
            block = int(block)
        except ValueError:
            raise typer.BadParameter(f"`--block`={block!r} is not a layer index; with --arch give a layer k "
                                     "(subtree paths are for --model).", param_hint="--block") from None
        try:
            D.layout(network).block(block)
        except ValueError as err:
            raise typer.BadParameter(str(err).replace("`block`", "`--block`"), param_hint="--block") from None
    try:
        ds = _dataset(data_name, n, network, seed, noise)
    except ValueError as err:  # the data set's own limits are about --n or --noise, the rest about --data
        about = next((name for name in ("n", "noise") if str(err).startswith(f"`{name}`=")), None)
        raise typer.BadParameter(str(err).replace(f"`{about}`=", f"`--{about}`=", 1) if about else str(err),
                                 param_hint=f"--{about}" if about else "--data") from None
    if not params.strip():  # Path('') is '.', which the message below would show
        raise typer.BadParameter(f"`--params`={params!r} is empty; give 'random' or the path of a saved .npz.",
                                 param_hint="--params")
    notes: list = []
    try:
        theta = random_point(network, seed) if params == "random" else load_point(Path(params), network, notes)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--params") from None
    for note in notes:
        console.print(f"[yellow]note:[/] --params: {note}")
    obj = D.objective(network, loss=loss or "squared", reduction=reduction)
    data = batching.batches(ds.X, ds.Y, batch_size or ds.N)
    return obj, theta, data, block, {
        "arch": arch, "data": data_name, "params": params, "params_notes": notes,
        "dataset": ds.provenance}


def _header(name: str, N: int | None, operator: str, block, P: int) -> str:
    """The run's first line (and, with Φ, the figure's title); a Stream knows N after its first pass."""
    size = "streamed" if N is None else f"N = {N}"
    return f"{name} ({size}), {operator}{'' if block is None else f' block {block}'}, P = {P}"


def _trace_line(name: str, t: dict) -> str:
    """``estimate ± stderr`` and the Student-t 95 % interval (``TraceEstimate.interval``) with its degrees of
    freedom: a bar from 2–4 samples is far wider at 95 % than ``± 1.96·stderr``, and the line says so."""
    low, high = t["interval95"]
    if t["dof"] < 1:  # an exact method: the bar is rounding only, no sampling to take a quantile of
        return f"trace ({name}): {t['estimate']:.6g} ± {t['stderr']:.2g} (rounding only)"
    return (f"trace ({name}): {t['estimate']:.6g} ± {t['stderr']:.2g} (standard error; 95 %: "
            f"[{low:.6g}, {high:.6g}], Student-t, {t['dof']} dof"
            + ("; XTrace's bar runs small: read it as ≈ 80 %, see trace.xtrace)" if name == "xtrace" else ")"))


def _result_lines(stage: str, entries: dict) -> list[str]:
    """The lines ``spectrum`` prints for one stage's results, as soon as the stage ends."""
    if stage == "loss and gradient":
        return [f"Φ = {entries['loss']:.6g}, ‖∇Φ‖ = {entries['gradient_norm']:.3g}"]
    if stage == "Lanczos eigenpairs":
        top, bottom = entries["top"], entries["bottom"]
        return [f"top-{len(top['values'])}: " + ", ".join(f"{v:.6g}" for v in top["values"])
                + f"  (converged {sum(top['converged'])}/{len(top['converged'])}, {top['num_matvecs']} products)",
                f"bottom-{len(bottom['values'])}: " + ", ".join(f"{v:.6g}" for v in bottom["values"])
                + f"  (converged {sum(bottom['converged'])}/{len(bottom['converged'])})"]
    if stage == "trace estimates":
        return [_trace_line(trace_name, t) for trace_name, t in entries["trace"].items()]
    if stage == "inertia":
        return [f"inertia ({entries['inertia']['method']}): {entries['inertia']['summary']}"]
    return []  # the density is drawn, not printed


def _run(console, obj, theta, data, name: str, **kwargs) -> dict:
    """The library report, with a progress bar of operator products done / planned; each stage's results
    are printed (above the bar) as soon as the stage ends, the eigenpairs before the density is computed."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from theory_lab.curvature_report import spectrum_report

    console.print(_header(name, data.N, kwargs.get("operator", "hessian"), kwargs.get("block"), obj.P))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} products"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("spectrum", total=None)

        def progress(stage, done, planned):
            bar.update(task, description=stage, completed=done, total=planned)

        def on_result(stage, entries):
            for line in _result_lines(stage, entries):
                bar.console.print(line)

        return spectrum_report(obj, theta, data, progress=progress, on_result=on_result, **kwargs)


def _write(console, rep, labels, out):
    from theory_lab.commands.options import write_outputs
    from theory_lab.report import environment

    rep.update(labels)
    rep["environment"] = environment()
    name = labels.get("model") or f"{labels['arch']} on {labels['data']}"
    title = f"{_header(name, rep['N'], rep['operator'], rep['block'], rep['P'])}, Φ = {rep['loss']:.4g}"
    text, figure = json.dumps(rep, indent=2, ensure_ascii=False), _density_figure(rep, title)
    write_outputs({out / "spectrum.json": text, out / "spectrum.png": figure})  # the previous pair whole, or both new
    console.print(f"outliers: {', '.join(f'{v:.6g}' for v in rep['outliers']) or 'none'}; wrote {out}/spectrum.json "
                  f"and {out}/spectrum.png")


def register(app) -> None:
    """Attach ``spectrum`` to the ``theory-lab`` Typer app."""
    app.command("spectrum")(spectrum)
