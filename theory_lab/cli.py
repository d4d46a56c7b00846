"""The ``theory-lab`` command line.

``theory-lab verify`` runs every registered check on the embedded default and
exits non-zero only if a check fails (or crashes); with ``--strict`` (CI) also if a
check or converse says anything but *holds* (*not applicable*, *inconclusive*, or a
probe's *measured*), which on the built-in default instances means a bug: a converse
is *not applicable* only when its instance does not break the hypothesis it is built
to break. Probes measure: they fail CI only by failing or crashing. Other commands live in
:mod:`theory_lab.commands` and are attached here.
"""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from threadpoolctl import threadpool_limits

from theory_lab import checking
from theory_lab_launcher import INTERRUPTED, install as install_interrupt_handler  # noqa: F401 (INTERRUPTED: re-exported)
from theory_lab.report import VERDICT_STYLE, format_margin, report_html, report_markdown, results_json

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Executable checks of Nguyen & Hein's theorems on deep CNNs.")


def _console() -> Console:
    """A console; when output is not a terminal, wide enough that tables do not fold."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 140))


@app.callback()
def _root(compile_cache: Optional[str] = typer.Option(
        None, "--compile-cache", metavar="PATH|off",
        help="Folder for JAX's compiled programs, reused by the next run (or 'off'). Default: "
             "$THEORY_LAB_COMPILE_CACHE, else ~/.cache/theory-lab/jax.")):
    """Executable checks of Nguyen & Hein's theorems on deep CNNs."""
    from theory_lab import compile_cache as cache

    try:
        cache.enable(compile_cache)
    except ValueError as err:
        source = "" if compile_cache is not None else f" (from ${cache.ENV} or the default)"
        raise typer.BadParameter(f"{err}{source}", param_hint="--compile-cache") from None


def _select(checks, patterns: list[str] | None, kinds: list[str] | None):
    out = checks
    if patterns:
        out = [c for c in out if any(fnmatch.fnmatch(c.id, p) or p == c.item for p in patterns)]
        if not out:
            ids = ", ".join(c.id for c in checks)
            raise typer.BadParameter(f"no check matches {patterns}; known ids: {ids}", param_hint="--check")
    if kinds:
        unknown = sorted(set(kinds) - {"check", "converse", "probe"})
        if unknown:
            raise typer.BadParameter(f"unknown kind(s) {unknown}; choose check, converse or probe", param_hint="--kind")
        out = [c for c in out if c.kind in kinds]
        if not out:
            raise typer.BadParameter(f"no selected check has kind {kinds}; drop --kind or widen --check",
                                     param_hint="--kind")
    return out


@app.command()
def verify(
    seed: int = typer.Option(0, help="Seed for every random draw; the same seed gives the same numbers."),
    out: Path = typer.Option(Path("theory-lab-report"), "--out", "-o", help="Folder for report.md and results.json."),
    check: Optional[list[str]] = typer.Option(None, "--check", "-c",
                                              help="Run only checks whose id matches (glob, repeatable)."),
    kind: Optional[list[str]] = typer.Option(None, "--kind", help="Only this kind: check, converse or probe."),
    list_only: bool = typer.Option(False, "--list", help="List the registered checks and exit."),
    strict: bool = typer.Option(False, "--strict", help="Also exit 1 when a check or converse (not a probe) says "
                                "anything but 'holds' ('not applicable', 'inconclusive'): on the built-in instances "
                                "that is a bug."),
):
    """Run every registered check on the embedded default and write a report."""
    from theory_lab.commands import options

    console = _console()
    seed = options.seed(seed)  # before any check runs and before anything is written
    if out.exists() and not out.is_dir():  # refuse before the checks run, not after
        raise typer.BadParameter(f"{out} is a file; give a folder for report.md and results.json", param_hint="--out")
    out = options.out_dir(out, files=("results.json", "report.md", "report.html"))
    checks = _select(checking.discover(), check, kind)
    if list_only:
        table = Table("id", "item", "kind", "title")
        for c in checks:
            table.add_row(c.id, c.item, c.kind, c.title)
        console.print(table)
        return
    records = []
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("checks", total=len(checks))
        ctx = checking.Context(seed, progress=lambda msg: progress.update(task, description=msg))
        # Checks take many SVDs of a few hundred rows: BLAS threads gain nothing there and,
        # on a busy machine, spinning OpenBLAS threads made them ~10x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            for c in checks:
                progress.update(task, description=f"{c.id}")
                records.append(checking.run_check(c, ctx))
                progress.advance(task)
    table = Table(title=f"theory-lab verify (seed {seed})")
    # "set up": every hypothesis met, except those a converse breaks on purpose, which are unmet
    for col in ("check", "item", "set up", "verdict", "margin", "time (s)"):
        table.add_column(col, justify="right" if col in ("margin", "time (s)") else "left",
                         no_wrap=col in ("check", "verdict"))
    for r in records:
        v = r.result.verdict.value
        table.add_row(r.check.id, r.check.item, "yes" if r.result.set_up else "no",
                      f"[{VERDICT_STYLE[v]}]{v}[/]", format_margin(r.result.margin), f"{r.seconds:.2f}")
    console.print(table)
    texts = {"results.json": results_json(records, seed), "report.md": report_markdown(records, seed),
             "report.html": report_html(records, seed)}
    options.write_outputs({out / name: text for name, text in texts.items()})  # all or none: the old report whole
    hard = (checking.Verdict.FAILS, checking.Verdict.ERROR)
    bad = [r for r in records if r.result.verdict in hard
           or strict and r.check.kind != "probe" and r.result.verdict is not checking.Verdict.HOLDS]
    console.print(f"{len(records)} checks in {time.perf_counter() - start:.1f} s; report in {out}/")
    for r in bad:
        strict_note = "" if r.result.verdict in hard else " (--strict)"
        console.print(f"[bold red]{r.result.verdict.value}[/]{strict_note}: {r.check.id}: {r.result.summary}")
    if bad:
        raise typer.Exit(1)


def _attach_commands():
    from theory_lab.commands import register_all

    register_all(app)


_attach_commands()


def main():  # pragma: no cover
    """The Typer app, with Ctrl-C handled by :func:`theory_lab_launcher.interrupted` (one line, exit 130).

    The ``theory-lab`` script runs :func:`theory_lab_launcher.main`, which installs the handler before
    importing JAX and this module and then calls this function; called directly (``python -m
    theory_lab.cli``), a Ctrl-C during the imports before this still ends in Python's own traceback.
    """
    install_interrupt_handler()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
