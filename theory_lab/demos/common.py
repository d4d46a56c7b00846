"""What every teaching demo shares: argument checks, the progress callback and figure output.

A demo is a pure function ``demo(..., seed=…, progress=None) -> Result`` plus
``demo_figure(result) -> matplotlib.figure.Figure``. ``progress``, if given, is called as
``progress(done, total, message)`` after each unit of work; only the command layer draws a
bar. :func:`render` turns a figure into PNG or SVG bytes (SVG without a date, so the same
numbers give the same file).

Example:
    >>> from theory_lab.demos.common import new_figure, render
    >>> fig = new_figure((3, 2))
    >>> ax = fig.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> render(fig, "png")[:4], render(fig, "svg")[:5]
    (b'\\x89PNG', b'<?xml')
"""

from __future__ import annotations

import io
import math
from contextlib import contextmanager
from typing import Callable

import numpy as np

from theory_lab import tolerances
from theory_lab.validate import is_integer

__all__ = ["Progress", "FORMATS", "ZERO_RESIDUAL_RTOL", "ZERO_RESIDUAL_BAND", "zero_residual", "residual_norm",
           "zero_loss_label", "LOG_FLOOR", "TOTAL_DIGITS", "positive_int", "digit_count", "seed_int",
           "activation_name",
           "tick", "new_figure", "slide_style", "render"]

#: ``progress(done, total, message)``.
Progress = Callable[[int, int, str], None]
FORMATS = ("png", "svg")
#: Zero loss is decided as the library's checks decide it (:func:`theory_lab.tolerances.zero_residual_tol`):
#: ``‖F_L − Y‖ ≤ 1e-10 ‖Y‖``, undecided within a factor ``ZERO_RESIDUAL_BAND`` of it. On the norm, never on
#: ``Φ = ½‖r‖²``, whose square underflows at small scales (``Φ`` and ``½‖Y‖²`` are both 0 at ``2^-530``).
ZERO_RESIDUAL_RTOL = math.sqrt(tolerances.ZERO_LOSS_RTOL)
ZERO_RESIDUAL_BAND = tolerances.zero_residual_tol([[1.0]]).band
#: Values of exactly 0 are drawn at this floor on log axes (and said so in the legend).
LOG_FLOOR = 1e-32


def zero_residual(residual_norm: float, Y) -> tuple[float, bool | None]:
    """``(‖r‖/‖Y‖, decision)``: is the residual ``r = F_L − Y`` (its norm given, scaled) zero?

    ``decision`` is :func:`theory_lab.tolerances.zero_residual_tol`'s rule: ``True`` (zero loss) when
    ``‖r‖ · band ≤ tol``, ``False`` (``Φ > 0``) when ``‖r‖ ≥ tol · band``, ``None`` (undecided: the residual is within
    a factor ``band`` = 10 of ``tol = 1e-10 ‖Y‖`` and cannot be told apart from it). ``‖Y‖`` is the scaled
    Frobenius norm, so both numbers are the same for ``(r, Y)`` and ``(2^k r, 2^k Y)`` over float64's range.
    ``Y = 0``: only ``r = 0`` is zero loss (relative ``0``; else ``inf``).

    >>> zero_residual(1e-12, [[1.0]]), zero_residual(1e-7, [[1.0]])[1], zero_residual(5e-10, [[0.0, 1.0]])[1]
    ((1e-12, True), False, None)
    """
    tol = tolerances.zero_residual_tol(Y)
    r = float(residual_norm)
    if not r >= 0:  # NaN or negative: a bug upstream, not a decision
        raise ValueError(f"`residual_norm`={residual_norm!r} must be a norm, a finite number >= 0.")
    y = tolerances.frobenius_norm(Y, "Y")
    relative = r / y if y > 0 else (0.0 if r == 0 else math.inf)
    if r == 0 or r * tol.band <= tol.value:
        return relative, True
    return relative, (False if r >= tol.value * tol.band else None)


def residual_norm(outputs, Y) -> float:
    """``‖F_L − Y‖_F``, scaled (:func:`theory_lab.tolerances.frobenius_norm`): exact where ``Φ`` underflows."""
    return tolerances.frobenius_norm(np.asarray(outputs, np.float64) - np.asarray(Y, np.float64), "F_L − Y")


def zero_loss_label(decision: bool | None) -> str:
    """``"zero"``, ``"positive"`` or ``"undecided"`` for a :func:`zero_residual` decision."""
    return {True: "zero", False: "positive", None: "undecided"}[decision]


def positive_int(value, name: str, fix: str) -> int:
    """``value`` as an ``int`` if it is a positive integer, else a ``ValueError`` naming ``name``.

    >>> positive_int(3, "N", "e.g. 40")
    3
    """
    if not is_integer(value) or value <= 0:
        raise ValueError(f"`{name}`={value!r} must be a positive integer; {fix}.")
    return int(value)


#: Samples in scikit-learn's bundled digits.
TOTAL_DIGITS = 1797


def digit_count(value, name: str, example: str) -> int:
    """``value`` as a number of bundled digits, in ``[1, TOTAL_DIGITS]``, else a ``ValueError`` naming ``name``.

    >>> digit_count(40, "N", "e.g. 40")
    40
    """
    n = positive_int(value, name, f"give the number of digits, {example}")
    if n > TOTAL_DIGITS:
        raise ValueError(f"`{name}`={n} exceeds the {TOTAL_DIGITS} bundled digits; choose {name} <= {TOTAL_DIGITS}.")
    return n


def seed_int(seed) -> int:
    """A non-negative integer seed, else a ``ValueError``."""
    if not is_integer(seed) or seed < 0:
        raise ValueError(f"`seed`={seed!r} must be a non-negative integer.")
    return int(seed)


def activation_name(activation: str) -> str:
    """``activation`` if the activation registry knows it, else a ``ValueError`` listing the known names."""
    from theory_lab import activations

    try:
        activations.get(activation)
    except (KeyError, ValueError):
        raise ValueError(f"`activation`={activation!r} is unknown; choose one of "
                         f"{', '.join(activations.names())}.") from None
    return activation


def tick(progress: Progress | None, done: int, total: int, message: str) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(int(done), int(total), message)


@contextmanager
def slide_style():
    """Font sizes readable on a projected slide (artists take them when they are created)."""
    import matplotlib

    with matplotlib.rc_context({"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 13,
                                "legend.fontsize": 10.5, "xtick.labelsize": 11, "ytick.labelsize": 11,
                                "svg.hashsalt": "theory-lab"}):
        yield


def new_figure(figsize) -> "matplotlib.figure.Figure":  # noqa: F821
    """A figure with its own Agg canvas (no pyplot, no global state), constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def render(fig, fmt: str = "png", *, dpi: int = 110) -> bytes:
    """The figure as ``"png"`` or ``"svg"`` bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"`fmt`={fmt!r} is unknown; choose one of {FORMATS}.")
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "theory-lab"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()
