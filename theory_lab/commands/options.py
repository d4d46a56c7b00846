"""Validators for command-line options, run before any computation and before anything is written.

Each returns the (normalised) value or raises :class:`typer.BadParameter` with the option
as ``param_hint``, so typer prints ``Invalid value for --OPTION: …`` and exits 2.

Example:
    >>> from theory_lab.commands import options
    >>> options.seed(7)
    7
    >>> try:
    ...     options.seed(-1)
    ... except Exception as err:  # typer.BadParameter
    ...     print(err.format_message())
    Invalid value for --seed: -1 is not a seed; expected an integer in [0, 4294967295] (2**32 - 1).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

__all__ = ["SEED_MAX", "seed", "at_least", "non_negative", "choice", "out_dir", "out_file", "write_outputs"]

SEED_MAX = 2**32 - 1
"""Largest seed: seeds go to ``jax.random.key`` (int64), ``numpy.random.default_rng`` (non-negative) and
are folded into keys as 32-bit data; ``[0, 2**32)`` is valid for all of them."""


def _bad(message: str, option: str):
    return typer.BadParameter(message, param_hint=option)


def seed(value, option: str = "--seed") -> int:
    """A seed in ``[0, 2**32)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise _bad(f"{value!r} is not a seed; expected an integer in [0, {SEED_MAX}] (2**32 - 1).", option)
    return int(value)


def at_least(value, lower: int, option: str, what: str = "") -> int:
    """An integer ``≥ lower`` (e.g. ``--k 0`` is refused with ``lower=1``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lower:
        raise _bad(f"{value!r} is too small; expected an integer >= {lower}{f' ({what})' if what else ''}.", option)
    return int(value)


def non_negative(value, option: str, what: str = "") -> float:
    """A finite number ``≥ 0`` (e.g. a noise level; 0 allowed); a bool is not a number here."""
    try:
        number = float("nan") if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (number >= 0 and number != float("inf")):
        raise _bad(f"{value!r} is not a finite non-negative number{f' ({what})' if what else ''}.", option)
    return number


def choice(value, choices, option: str) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise _bad(f"{value!r} is not one of {', '.join(map(str, choices))}.", option)
    return value


def _writable_parent(path: Path, option: str) -> None:
    parent = path
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise _bad(f"{str(path)!r} cannot be created: {str(parent)!r} is a file, not a folder.", option)
    try:  # a probe file, gone at once: permissions alone mislead (root, read-only mounts, /proc)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise _bad(f"{str(path)!r} cannot be written: {str(parent)!r} refuses new files ({err.strerror}). "
                   "Choose another place.", option) from None


def out_dir(path, option: str = "--out", files=()) -> Path:
    """A folder that exists and is writable, or can be created; never an existing file.

    ``files``: the names the command will write there; one that is an existing folder is refused now (its
    ``os.replace`` failed after the work, with the files before it already replaced).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _bad(f"{str(path)!r} is a file; give a folder for the outputs.", option)
    taken = [name for name in files if (path / name).is_dir()]
    if taken:
        raise _bad(f"{str(path)!r} holds folder(s) named {', '.join(taken)}, where the output files go; move them "
                   "or give another folder.", option)
    _writable_parent(path, option)
    return path


def out_file(path, option: str) -> Path:
    """A file path that can be written (its folder exists or can be created); never an existing folder."""
    path = Path(path)
    if path.is_dir():
        raise _bad(f"{str(path)!r} is a folder; give a file name, e.g. {str(path / 'widths.json')!r}.", option)
    _writable_parent(path.parent if str(path.parent) else Path("."), option)
    return path


def write_outputs(files: dict) -> None:
    """Write ``{path: text or bytes}`` all or none (:func:`theory_lab.report.write_all_atomic`); an ``OSError``
    after the work (a full disk, a folder removed meanwhile) is one line and exit 1, not a traceback."""
    from theory_lab.report import write_all_atomic

    try:
        write_all_atomic(files)
    except OSError as err:
        names = ", ".join(Path(p).name for p in files)
        typer.echo(f"Error: could not write {names} in {str(Path(next(iter(files))).parent)!r}: "
                   f"{err.strerror or err}; the previous files there are unchanged.", err=True)
        raise typer.Exit(1) from None
