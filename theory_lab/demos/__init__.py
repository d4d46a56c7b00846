"""Teaching demos: the numbers behind ``theory-lab demo NAME``, as pure functions, and their figures.

Each demo is ``demo(..., seed=…, progress=None) -> result`` (a frozen dataclass with
``to_dict()``), ``demo_figure(result) -> matplotlib Figure`` and
``demo_explanation(result) -> str`` (generated from the numbers, citing the THEORY item):

* ``rank-jump`` — :func:`rank_jump`: ``rank F_1 = min(n_1, N)`` (Theorem 3.5).
* ``width-threshold`` — :func:`width_threshold`: zero training loss from ``n_1 = N`` on (Corollary 3.6).
* ``critical-points`` — :func:`critical_points`: wide nets' critical points in ``S_k`` are global
  minima (Theorem 4.5); narrow nets have minima with ``Φ > 0``.
* ``spectra`` — :func:`spectra`: the Hessian spectrum at a zero-loss minimum vs the bad critical point.
* ``slices`` — :func:`slices`: the loss along eigen- and random directions around those points.

:func:`~theory_lab.demos.common.render` gives PNG or SVG bytes of a figure.

Example:
    >>> from theory_lab import demos
    >>> demos.DEMOS[0], demos.rank_jump(20, filters=(1,), draws=1, duplicates=0).agrees
    ('rank-jump', True)
"""

from theory_lab.demos._critical_points import (CriticalPoint, CriticalPoints, critical_points,
                                               critical_points_explanation, critical_points_figure, wide_and_narrow)
from theory_lab.demos._rank_jump import (PATCHES, RankJump, RankPoint, default_filters, duplicate_digits, rank_jump,
                                         rank_jump_explanation, rank_jump_figure)
from theory_lab.demos._slices import (PointSlices, Slice, Slices, loss_on_grid, slices, slices_explanation,
                                      slices_figure)
from theory_lab.demos._spectra import (Landmarks, PointSpectrum, Spectra, landmarks, spectra, spectra_explanation,
                                       spectra_figure, wide_architecture)
from theory_lab.demos._width_threshold import (FitPoint, WidthThreshold, width_threshold,
                                               width_threshold_explanation, width_threshold_figure)
from theory_lab.demos.common import render

__all__ = [
    "DEMOS", "render",
    # rank-jump
    "PATCHES", "RankJump", "RankPoint", "default_filters", "duplicate_digits", "rank_jump", "rank_jump_explanation",
    "rank_jump_figure",
    # width-threshold
    "FitPoint", "WidthThreshold", "width_threshold", "width_threshold_explanation", "width_threshold_figure",
    # critical-points
    "CriticalPoint", "CriticalPoints", "critical_points", "critical_points_explanation", "critical_points_figure",
    "wide_and_narrow",
    # spectra
    "Landmarks", "PointSpectrum", "Spectra", "landmarks", "spectra", "spectra_explanation", "spectra_figure",
    "wide_architecture",
    # slices
    "PointSlices", "Slice", "Slices", "loss_on_grid", "slices", "slices_explanation", "slices_figure",
]

DEMOS = ("rank-jump", "width-threshold", "critical-points", "spectra", "slices")
