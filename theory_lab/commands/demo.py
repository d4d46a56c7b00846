"""`theory-lab demo NAME`: teaching demos that reproduce a result as a figure and a short report.

``rank-jump``: rank of ``F_1`` against the width ``n_1 = 36·T`` of a one-conv-layer sigmoid
CNN on ``--n`` digits (:func:`theory_lab.demos.rank_jump`); writes ``rank-jump.png`` and
``rank-jump.json`` into ``--out``, atomically, and prints a summary table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

__all__ = ["demo", "register"]


def _rank_range(points) -> str:
    ranks = sorted({p.rank for p in points})
    return str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}–{ranks[-1]}"


def _table(result):
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
        ok = all(p.rank == p.expected and p.conclusive for p in at)
        table.add_row(str(T), str(n1), f"{n1 / result.N:.2f}", str(min(n1, result.N)),
                      *(_rank_range([p for p in at if p.series == s]) for s in result.series),
                      f"{min(p.ratio for p in noisy):.2e}", format_margin(min(p.margin for p in at)),
                      "[green]yes[/]" if ok else "[bold red]no[/]")
    return table


def _rank_jump(n: int, draws: int, seed: int, duplicates: int | None, out: Path, console) -> None:
    from theory_lab.demos import rank_jump, rank_jump_figure
    from theory_lab.report import environment, write_atomic

    result = rank_jump(n, draws=draws, seed=seed, duplicates=duplicates)
    console.print(_table(result))
    for name in result.series:
        state = "holds" if result.assumption_3_1[name] else "violated"
        console.print(f"{name}: Assumption 3.1 {state}; {result.distinct[name]} distinct samples", highlight=False)
    payload = dict(result.to_dict(), environment=environment())
    write_atomic(out / "rank-jump.json", json.dumps(payload, indent=2, ensure_ascii=False))
    write_atomic(out / "rank-jump.png", rank_jump_figure(result))
    verdict = "[green]every rank equals min(n_1, distinct samples), conclusively[/]" if result.agrees \
        else "[bold red]some rank differs from min(n_1, distinct samples) or is inconclusive; see the JSON[/]"
    console.print(verdict)
    console.print(f"wrote {out / 'rank-jump.png'} and {out / 'rank-jump.json'}", highlight=False)


def demo(
    name: str = typer.Argument(..., metavar="NAME", help="Which demo: rank-jump."),
    n: int = typer.Option(200, "--n", help="Number of digits N (1 to 1797)."),
    draws: int = typer.Option(3, "--draws", help="Seeded parameter draws per width."),
    seed: int = typer.Option(0, "--seed", help="Seeds the noise and every draw."),
    duplicates: Optional[int] = typer.Option(None, "--duplicates",
                                   help="Copies of early digits in the duplicates series (default N // 10; 0 omits it)."),
    out: Path = typer.Option(Path("theory-lab-demo"), "--out", "-o", help="Folder for the figure and the JSON."),
):
    """Teaching demos: reproduce a result of the paper as a figure and a short report."""
    from rich.console import Console
    from threadpoolctl import threadpool_limits

    from theory_lab.demos import DEMOS

    if name not in DEMOS:
        raise typer.BadParameter(f"unknown demo {name!r}; valid names: {', '.join(DEMOS)}.", param_hint="NAME")
    if n <= 0 or n > 1797:
        raise typer.BadParameter(f"--n={n} must be a number of digits in [1, 1797], e.g. --n 200.",
                                 param_hint="--n")
    if draws <= 0:
        raise typer.BadParameter(f"--draws={draws} must be at least 1, e.g. --draws 3.", param_hint="--draws")
    if seed < 0:
        raise typer.BadParameter(f"--seed={seed} must be a non-negative integer.", param_hint="--seed")
    if duplicates is not None and not 0 <= duplicates <= n // 2:
        raise typer.BadParameter(f"--duplicates={duplicates} must be in [0, N/2] = [0, {n // 2}]; 0 omits "
                                 "the duplicates series.", param_hint="--duplicates")
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file; give a folder for the figure and the JSON.", param_hint="--out")
    console = Console()
    console = console if console.is_terminal else Console(width=max(console.width, 140))
    # many small SVDs: BLAS threads only contend on a shared machine
    with threadpool_limits(limits=1, user_api="blas"):
        _rank_jump(n, draws, seed, duplicates, out, console)


def register(app) -> None:
    """Attach ``demo`` to the ``theory-lab`` Typer app."""
    app.command("demo")(demo)
