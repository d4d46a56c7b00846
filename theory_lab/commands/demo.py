"""`theory-lab demo NAME`: teaching demos that reproduce a result as a figure and a short report.

Demos (library functions in :mod:`theory_lab.demos`; each writes ``NAME.png``, ``NAME.svg`` and
``NAME.json`` into ``--out``, atomically, prints a summary table and an explanation that cites
the THEORY item, and shows a progress bar while it works):

* ``rank-jump`` — rank ``F_1`` vs ``n_1 = 36·T`` on ``--n`` digits (Theorem 3.5);
* ``width-threshold`` — exact fits of true and random labels vs ``n_1/N`` (Corollary 3.6);
* ``critical-points`` — critical points of a wide and a narrow net from random starts (Theorem 4.5);
* ``spectra`` — the Hessian spectrum at a zero-loss minimum vs the bad critical point;
* ``slices`` — loss slices around those points and a narrow net's local minimum.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

__all__ = ["demo", "register", "DEFAULT_N", "MAX_N", "MIN_N", "MAX_REPEATS"]

#: ``--n`` when not given, and its largest allowed value (P grows like N² for spectra and slices).
DEFAULT_N = {"rank-jump": 200, "width-threshold": 360, "critical-points": 40, "spectra": 20, "slices": 20}
MAX_N = {"rank-jump": 1797, "width-threshold": 1797, "critical-points": 200, "spectra": 100, "slices": 100}
#: Smallest ``--n`` where it is not 1: critical-points' narrow net (n_1 = 4) must be narrower than N.
MIN_N = {"critical-points": 5}
#: Largest ``--draws`` and ``--starts``: each draw is a dozen SVDs, each start a critical-point search, so a count
#: in the millions (a typo) ran for days instead of being refused.
MAX_REPEATS = 1000


def _rank_range(points) -> str:
    ranks = sorted({p.rank for p in points})
    return str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}–{ranks[-1]}"


def _rank_jump_table(result):
    from rich.table import Table

    from theory_lab.report import format_margin

    title = f"Rank jump: rank F_1 vs n_1 on {result.N} digits ({result.draws} draws per width, seed {result.seed})"
    table = Table(title=title, caption="prediction: rank F_1 = min(n_1, distinct samples); "
                  "σ ratio and margin are the worst over draws")
    for col in ("T", "n_1", "n_1/N", "min(n_1,N)"):
        table.add_column(col, justify="right")
    for name in result.series:
        table.add_column(f"rank {name}", justify="right")
    table.add_column("σ_min/σ_max noisy", justify="right")
    table.add_column("margin", justify="right")
    table.add_column("agrees", justify="center")
    for T in result.filters:
        at = [p for p in result.points if p.T == T]
        n1 = at[0].n1
        noisy = [p for p in at if p.series == "noisy"]
        ok = all(result.point_agrees(p) for p in at)
        table.add_row(str(T), str(n1), f"{n1 / result.N:.2f}", str(min(n1, result.N)),
                      *(_rank_range([p for p in at if p.series == s]) for s in result.series),
                      f"{min(p.ratio for p in noisy):.2e}", format_margin(min(p.margin for p in at)),
                      "[green]yes[/]" if ok else "[bold red]no[/]")
    return table


def _width_threshold_table(result):
    from rich.table import Table

    table = Table(title=f"Width threshold: exact fit of the output layer on {result.N} digits "
                        f"({result.draws} draws per width, seed {result.seed})",
                  caption="‖r‖ = ‖F_L − Y‖, ratios and error: the worst over draws; zero loss: ‖r‖ ≤ tol = "
                          "γ(‖F_1‖‖λ‖ + ‖Y‖), γ = max(N, n_1)·eps, the exact solve's rounding (green), undecided "
                          "within a factor 10 (yellow)")
    for col in ("n_1", "n_1/N", "rank F_1", "‖r‖/‖Y‖ true", "‖r‖/tol true", "error true", "‖r‖/‖Y‖ random",
                "‖r‖/tol random", "error random"):
        table.add_column(col, justify="right")
    for T in result.filters:
        at = [p for p in result.points if p.T == T]
        cells = []
        for name in ("true", "random"):
            pts = [p for p in at if p.labels == name]
            style = ("green" if all(p.zero_loss is True for p in pts) else
                     "red" if any(p.zero_loss is False for p in pts) else "yellow")
            cells += [f"{max(p.relative_residual for p in pts):.1e}",
                      f"[{style}]{max(p.residual_ratio for p in pts):.1e}[/]", f"{100 * max(p.error for p in pts):.1f}%"]
        table.add_row(str(at[0].n1), f"{at[0].n1 / result.N:.2f}", _rank_range(at), *cells)
    return table


def _critical_points_table(result):
    from rich.table import Table

    table = Table(title=f"Critical points from random starts on {result.N} digits (seed {result.seed})",
                  caption="Φ range over converged points of each kind; S_1 membership by rank evidence")
    for col in ("network", "n_1", "mode", "kind", "in S_1", "count", "Φ min", "Φ max", "negative eigenvalues"):
        table.add_column(col, justify="left" if col in ("network", "mode", "kind") else "right")
    groups = {}
    for p in result.points:
        groups.setdefault((p.network, p.mode, p.kind, p.in_S_k if p.converged else None), []).append(p)
    for (net, mode, kind, inside), pts in groups.items():
        conv = [p for p in pts if p.converged]
        neg = sorted({p.negative for p in conv if p.negative is not None})
        table.add_row(net, str(result.widths[net][1]), mode, kind, "–" if inside is None else ("yes" if inside else "no"),
                      str(len(pts)), f"{min(p.loss for p in pts):.2e}" if conv else "–",
                      f"{max(p.loss for p in pts):.2e}" if conv else "–", ", ".join(map(str, neg)) or "–")
    return table


def _spectra_table(result):
    from rich.table import Table

    table = Table(title=f"Hessian spectra of a wide CNN (P = {result.P}, Nm = {result.Nm}, seed {result.seed})",
                  caption=f"zero: |λ| ≤ tol; at Φ = 0 at least P − Nm = {result.P - result.Nm} zeros")
    for col in ("point", "Φ", "negative", "zero", "positive", "tol", "λ_min", "λ_max", "method"):
        table.add_column(col, justify="left" if col in ("point", "method") else "right")
    for s in result.spectra:
        low = s.bottom[0] if s.eigenvalues is None else float(s.eigenvalues[0])
        table.add_row(s.point, f"{s.loss:.2e}", f"{s.negative:.0f}", f"{s.zero:.0f}", f"{s.positive:.0f}",
                      f"{s.tol:.1e}", f"{low:.3g}", f"{s.top[0]:.3g}", s.method)
    return table


def _slices_table(result):
    from rich.table import Table

    table = Table(title=f"Loss slices of radius {result.radius:g} (seed {result.seed})",
                  caption="curvature vᵀ∇²Φv along each unit direction; 'rises' means no grid value below Φ(θ) − tol")
    for col in ("point", "Φ(θ)", "top", "bottom", "random", "rises along every slice"):
        table.add_column(col, justify="left" if col == "point" else "right")
    for p in result.points:
        table.add_row(p.point, f"{p.loss:.3g}", *(f"{s.curvature:.3g}" for s in p.slices),
                      "[green]yes[/]" if p.rises_everywhere else "no")
    return table


def _run(name: str, n: int, seed: int, draws: int | None, starts: int | None, duplicates: int | None, progress):
    from theory_lab import demos

    if name == "rank-jump":
        result = demos.rank_jump(n, draws=3 if draws is None else draws, seed=seed, duplicates=duplicates,
                                 progress=progress)
        return result, _rank_jump_table(result), demos.rank_jump_figure, demos.rank_jump_explanation, result.agrees
    if name == "width-threshold":
        result = demos.width_threshold(n, draws=3 if draws is None else draws, seed=seed, progress=progress)
        return (result, _width_threshold_table(result), demos.width_threshold_figure,
                demos.width_threshold_explanation, result.threshold_ok)
    if name == "critical-points":
        result = demos.critical_points(n, starts=10 if starts is None else starts, seed=seed, progress=progress)
        return (result, _critical_points_table(result), demos.critical_points_figure,
                demos.critical_points_explanation, result.agrees)
    if name == "spectra":
        result = demos.spectra(n, seed=seed, progress=progress)
        return result, _spectra_table(result), demos.spectra_figure, demos.spectra_explanation, result.agrees
    result = demos.slices(n, seed=seed, starts=12 if starts is None else starts, progress=progress)
    return result, _slices_table(result), demos.slices_figure, demos.slices_explanation, result.agrees


def _validate(name, n, draws, starts, seed, duplicates, out):
    from theory_lab.commands import options
    from theory_lab.commands.options import SEED_MAX
    from theory_lab.demos import DEMOS

    if name not in DEMOS:
        raise typer.BadParameter(f"unknown demo {name!r}; valid names: {', '.join(DEMOS)}.", param_hint="NAME")
    low = MIN_N.get(name, 1)
    if n is not None and not low <= n <= MAX_N[name]:
        unit = "a number of digits" if MAX_N[name] == 1797 else "a number of samples"
        why = " (the narrow net has n_1 = 4: it must be narrower than N)" if low > 1 else ""
        raise typer.BadParameter(f"--n={n} must be {unit} in [{low}, {MAX_N[name]}] for {name}{why}, e.g. --n "
                                 f"{DEFAULT_N[name]}.", param_hint="--n")
    if draws is not None and draws <= 0:
        raise typer.BadParameter(f"--draws={draws} must be at least 1, e.g. --draws 3.", param_hint="--draws")
    if draws is not None and draws > MAX_REPEATS:
        raise typer.BadParameter(f"--draws={draws} is more than {MAX_REPEATS} draws per width; use fewer, e.g. "
                                 "--draws 3.", param_hint="--draws")
    if draws is not None and name not in ("rank-jump", "width-threshold"):
        raise typer.BadParameter(f"--draws applies to rank-jump and width-threshold, not {name}; drop it.",
                                 param_hint="--draws")
    if starts is not None and starts <= 0:
        raise typer.BadParameter(f"--starts={starts} must be at least 1, e.g. --starts 10.", param_hint="--starts")
    if starts is not None and starts > MAX_REPEATS:
        raise typer.BadParameter(f"--starts={starts} is more than {MAX_REPEATS} starts per network; use fewer, e.g. "
                                 "--starts 10.", param_hint="--starts")
    if starts is not None and name not in ("critical-points", "slices"):
        raise typer.BadParameter(f"--starts applies to critical-points and slices, not {name}; drop it.",
                                 param_hint="--starts")
    if not 0 <= seed <= SEED_MAX:
        raise typer.BadParameter(f"--seed={seed} must be a non-negative integer at most {SEED_MAX} (2**32 - 1).",
                                 param_hint="--seed")
    N = DEFAULT_N[name] if n is None else n
    if duplicates is not None and (name != "rank-jump" or not 0 <= duplicates <= N // 2):
        raise typer.BadParameter(f"--duplicates={duplicates} must be in [0, N/2] = [0, {N // 2}] and applies to "
                                 "rank-jump only; 0 omits the duplicates series.", param_hint="--duplicates")
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file; give a folder for the figure and the JSON.", param_hint="--out")
    options.out_dir(out, files=[f"{name}.{ext}" for ext in ("json", "png", "svg")])  # before the demo runs
    return N


def demo(
    name: str = typer.Argument(..., metavar="NAME",
                               help="Which demo: rank-jump, width-threshold, critical-points, spectra, slices."),
    n: Optional[int] = typer.Option(None, "--n", help="Number of digits N (default: rank-jump 200, width-threshold "
                                                      "360, critical-points 40, spectra 20, slices 20)."),
    draws: Optional[int] = typer.Option(None, "--draws", help="Seeded draws per width (rank-jump, width-threshold)."),
    starts: Optional[int] = typer.Option(None, "--starts",
                                         help="Random starts per network (critical-points, slices)."),
    seed: int = typer.Option(0, "--seed", help="Seeds every random draw; the same seed gives the same numbers."),
    duplicates: Optional[int] = typer.Option(None, "--duplicates",
                                   help="rank-jump: copies of early digits in the duplicates series (default N // 10; "
                                        "0 omits it)."),
    out: Path = typer.Option(Path("theory-lab-demo"), "--out", "-o", help="Folder for the figures and the JSON."),
):
    """Teaching demos: reproduce a result of the paper as a figure and a short report."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from threadpoolctl import threadpool_limits

    from theory_lab.demos import render
    from theory_lab.commands.options import write_outputs
    from theory_lab.report import environment

    N = _validate(name, n, draws, starts, seed, duplicates, out)
    console = Console()
    console = console if console.is_terminal else Console(width=max(console.width, 140))
    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{name}: starting", total=None)

        def progress(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message)

        # many small SVDs and eigendecompositions: BLAS threads only contend on a shared machine
        with threadpool_limits(limits=1, user_api="blas"):
            result, table, figure, explanation, ok = _run(name, N, seed, draws, starts, duplicates, progress)
    seconds = time.perf_counter() - start
    console.print(table)
    text = explanation(result)
    console.print(text, highlight=False)
    payload = dict(result.to_dict(), explanation=text, seconds=round(seconds, 2), environment=environment())
    fig = figure(result)
    files = {f"{name}.json": json.dumps(payload, indent=2, ensure_ascii=False), f"{name}.png": render(fig, "png"),
             f"{name}.svg": render(fig, "svg")}
    write_outputs({out / file_name: content for file_name, content in files.items()})  # the old set whole, or all new
    console.print("[green]the numbers agree with the prediction[/]" if ok else
                  "[yellow]the numbers do not decide the prediction (estimates, or inside the tolerance band); see "
                  "the JSON[/]" if getattr(result, "decided", True) is False else
                  "[bold red]the numbers do NOT agree with the prediction; see the JSON[/]")
    console.print(f"wrote {out / name}.png, .svg and .json in {seconds:.1f} s", highlight=False)


def register(app) -> None:
    """Attach ``demo`` to the ``theory-lab`` Typer app."""
    app.command("demo")(demo)
