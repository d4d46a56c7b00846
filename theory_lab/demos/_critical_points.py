"""Critical points of a wide and a narrow CNN from random starts (:func:`critical_points`; Theorem 4.5).

Two one-conv-layer CNNs on the same ``N`` digits (``1e-6`` noise: Assumption 3.1 holds) with
one-hot class targets:

* ``wide``: ``8x8x1 → Conv(T, 3x3) → Output(10)`` with ``T = ⌈N/36⌉``, so ``n_1 = 36·T ≥ N``
  (Assumption 4.1 with ``k = 1``; layer ``k + 1`` is the fully connected output);
* ``narrow``: ``8x8x1 → Conv(1, 3x3, stride 3) → Output(10)``, ``n_1 = 4 < N``.

From seeded random starts :func:`theory_lab.critical.find_critical_point` runs in mode
``"minimum"`` (descent) and in mode ``"any"`` (critical points of any index, saddles
included) until ``‖∇Φ‖ ≤ 1e-10``; each converged point is recorded as ``(Φ, number of negative
Hessian eigenvalues)`` with its ``S_1`` membership. Runs that stop earlier are counted and
never drawn: they are not critical points.

Prediction (Theorem 4.5): every critical point of the wide net *in* ``S_1`` is a global
minimum, ``Φ = 0``. Critical points with ``Φ > 0`` may exist outside ``S_1`` (THEORY.md
"outside S_k bad critical points exist"). The narrow net breaks the width hypothesis and has
local minima with ``Φ > 0``.

Example (the two networks; ``critical_points(40)`` runs the demo in about 30 s):
    >>> from theory_lab.demos import wide_and_narrow
    >>> {name: arch.widths for name, arch in wide_and_narrow(40).items()}
    {'wide': (64, 72, 10), 'narrow': (64, 4, 10)}
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory_lab.demos.common import (LOG_FLOOR, ZERO_RESIDUAL_BAND, ZERO_RESIDUAL_RTOL, Progress, activation_name,
                                     digit_count, new_figure, zero_residual,
                                     positive_int, seed_int, slide_style, tick)

from theory_lab import tolerances
from theory_lab.validate import is_integer

__all__ = ["CriticalPoint", "CriticalPoints", "critical_points", "critical_points_figure",
           "critical_points_explanation", "wide_and_narrow"]

ITEM = "Theorem 4.5 and its converse on a narrow net (THEORY.md §3)"
NOISE = 1e-6
NETWORKS = ("wide", "narrow")


def wide_and_narrow(N: int, activation: str = "sigmoid", filters: int | None = None) -> dict:
    """``{"wide": arch with n_1 = 36·T, "narrow": arch with n_1 = 4}``, both ending in ``Output(10)``.

    ``T = filters``, default ``⌈N/36⌉`` (the smallest with ``n_1 ≥ N``).
    """
    from theory_lab.arch import Architecture, Conv, Output

    T = math.ceil(N / 36) if filters is None else positive_int(filters, "filters", "e.g. 2")
    return {"wide": Architecture((8, 8, 1), (Conv(T, (3, 3), activation=activation), Output(10))),
            "narrow": Architecture((8, 8, 1), (Conv(1, (3, 3), stride=3, activation=activation), Output(10)))}


def narrow_width(N: int, narrow, name: str) -> int:
    """``n_1`` of the narrow net, which must be below ``N``: at ``N ≤ n_1`` it is wide, Theorem 4.5 covers it
    (its critical points in ``S_1`` are global minima) and the converse tests nothing."""
    n1 = narrow.widths[1]
    if N <= n1:
        raise ValueError(f"`{name}`={N}: the narrow net has n_1 = {n1} >= N, so it is not narrow (Theorem 4.5 covers "
                         f"it) and its converse tests nothing; use {name} > {n1}, e.g. 40.")
    return n1


@dataclass(frozen=True)
class CriticalPoint:
    """One search: ``network``, ``mode``, ``start`` and where it ended.

    ``negative``/``zero``/``positive`` count the Hessian's eigenvalues (None if not converged);
    ``conclusive`` is the inertia's margin verdict; ``in_S_k`` the ``S_1`` membership.
    ``relative_residual = ‖F_L − Y‖ / ‖Y‖`` (the search's scaled ``residual_norm``); ``relative_loss`` its square
    (``Φ / (½‖Y‖²)``, display). :attr:`zero_loss` is :func:`~theory_lab.demos.common.zero_residual`'s decision
    on it: ``True``, ``False`` or ``None`` (undecided, within a factor 10 of ``1e-10 ‖Y‖``).
    """

    network: str
    mode: str
    start: int
    converged: bool
    kind: str
    loss: float
    relative_loss: float
    grad_norm: float
    negative: int | None
    zero: int | None
    positive: int | None
    conclusive: bool | None
    in_S_k: bool
    iterations: int
    seconds: float
    relative_residual: float = float("nan")

    @property
    def zero_loss(self) -> bool | None:
        """Zero loss decided on ``‖F_L − Y‖/‖Y‖`` (``None``: undecided); a NaN residual decides nothing."""
        if self.relative_residual != self.relative_residual:
            return None
        return zero_residual(self.relative_residual, [[1.0]])[1]

    def to_dict(self) -> dict:
        return dict({k: getattr(self, k) for k in self.__dataclass_fields__}, zero_loss=self.zero_loss)


@dataclass(frozen=True)
class CriticalPoints:
    """All numbers of the critical-points demo."""

    N: int
    widths: dict
    seed: int
    activation: str
    starts: int
    saddle_starts: int
    points: tuple[CriticalPoint, ...]
    datasets: tuple = ()  # provenance of the data (``Dataset.provenance``)

    def select(self, network: str, *, converged: bool = True) -> list[CriticalPoint]:
        return [p for p in self.points if p.network == network and (p.converged or not converged)]

    @property
    def wide_in_S_k_zero(self) -> bool:
        """Theorem 4.5 on the wide net: every converged critical point in ``S_1`` has ``Φ = 0`` (decided; an
        undecided residual is not zero loss)."""
        return all(p.zero_loss is True for p in self.select("wide") if p.in_S_k)

    @property
    def narrow_bad_minima(self) -> list[CriticalPoint]:
        """Narrow net's strict local minima (conclusive inertia, no zero eigenvalue) with ``Φ > 0``."""
        return [p for p in self.select("narrow") if p.kind == "minimum" and p.conclusive and p.zero_loss is False]

    @property
    def agrees(self) -> bool:
        """The prediction, both halves: the wide net has critical points in ``S_1``, all with ``Φ = 0`` (none
        found tests nothing), *and* the narrow net has a bad minimum."""
        tested = any(p.in_S_k for p in self.select("wide"))
        return tested and self.wide_in_S_k_zero and bool(self.narrow_bad_minima)

    def to_dict(self) -> dict:
        return {"demo": "critical-points", "item": ITEM, "datasets": list(self.datasets), "N": self.N, "widths": self.widths, "seed": self.seed,
                "activation": self.activation, "starts": self.starts, "saddle_starts": self.saddle_starts,
                "noise": NOISE, "gtol": 1e-10,
                "zero_loss_rule": f"‖F_L − Y‖ ≤ {ZERO_RESIDUAL_RTOL:g}·‖Y‖, undecided within a factor "
                                  f"{ZERO_RESIDUAL_BAND:g}", "zero_residual_rtol": ZERO_RESIDUAL_RTOL,
                "zero_residual_band": ZERO_RESIDUAL_BAND,
                "prediction": "wide: every critical point in S_1 has Φ = 0; narrow: minima with Φ > 0 exist",
                "wide_in_S_k_zero": self.wide_in_S_k_zero, "narrow_bad_minima": len(self.narrow_bad_minima),
                "agrees": self.agrees,
                "points": [p.to_dict() for p in self.points]}


def critical_points(N: int = 40, *, starts: int = 10, saddle_starts: int = 3, seed: int = 0,
                    activation: str = "sigmoid", filters: int | None = None, max_iter: int = 200,
                    progress: Progress | None = None) -> CriticalPoints:
    """Critical points of the wide and the narrow net (:func:`wide_and_narrow`) from random starts.

    Args:
        N: number of digits, in ``[1, 1797]``.
        starts: runs in mode ``"minimum"`` per network.
        saddle_starts: runs in mode ``"any"`` per network (dense Hessians: ``P`` of the wide net
            grows with ``N``; keep ``N`` small).
        seed: seeds the noise and the starts (run ``i`` of mode ``m`` on network ``n`` from
            ``[seed, n, m, i]``, LeCun-normal weights, N(0, 0.1²) biases).
        activation: every hidden activation (default sigmoid).
        filters: ``T`` of the wide net (default ``⌈N/36⌉``; below ``N/36`` it is not wide, and the
            figure and explanation say so).
        max_iter: iteration cap per run.
        progress: ``progress(done, total, message)`` after each run.
    """
    from theory_lab import critical, data
    from theory_lab.sampling import sample_params

    N = digit_count(N, "N", "e.g. 40")
    starts = positive_int(starts, "starts", "use at least 1 random start per network")
    if not is_integer(saddle_starts) or saddle_starts < 0:
        raise ValueError(f"`saddle_starts`={saddle_starts!r} must be a non-negative integer; 0 skips mode 'any'.")
    max_iter = positive_int(max_iter, "max_iter", "e.g. 200")
    seed = seed_int(seed)
    activation = activation_name(activation)
    archs = wide_and_narrow(N, activation, filters)
    narrow_width(N, archs["narrow"], "N")
    ds = data.digits(N, noise=NOISE, seed=seed)
    y_norm = tolerances.frobenius_norm(ds.Y, "Y")
    plan = [(n, m, i) for n in NETWORKS for m, count in (("minimum", starts), ("any", saddle_starts))
            for i in range(count)]
    points = []
    for done, (net, mode, i) in enumerate(plan, 1):
        arch = archs[net]
        start = sample_params(arch, np.random.default_rng([seed, NETWORKS.index(net), mode == "any", i]))
        res = critical.find_critical_point(arch, start, ds.X, ds.Y, mode=mode, k=1, max_iter=max_iter)
        inertia = res.inertia
        rel = float(res.residual_norm) / y_norm
        points.append(CriticalPoint(net, mode, i, res.converged, res.kind, res.loss, rel ** 2,
                                    res.grad_norm, None if inertia is None else inertia.negative,
                                    None if inertia is None else inertia.zero,
                                    None if inertia is None else inertia.positive,
                                    None if inertia is None else inertia.conclusive,
                                    bool(res.in_S_k), res.iterations, round(res.seconds, 3), rel))
        tick(progress, done, len(plan), f"critical-points: {net} net, mode {mode}, start {i + 1}")
    widths = {n: list(a.widths) for n, a in archs.items()}
    return CriticalPoints(N, widths, seed, activation, starts, saddle_starts, tuple(points), (ds.provenance,))


def critical_points_explanation(result: CriticalPoints) -> str:
    """A few sentences for the lecturer, generated from the numbers, citing the THEORY item."""
    wide, narrow = result.select("wide"), result.select("narrow")
    inside = [p for p in wide if p.in_S_k]
    outside = [p for p in wide if not p.in_S_k]
    missed = sum(not p.converged for p in result.points)
    n1 = result.widths["wide"][1]
    not_wide = "" if n1 >= result.N else ", narrower than N: Theorem 4.5 does not apply and S_1 is empty"
    w = (f"wide net (n_1 = {n1} {'≥' if n1 >= result.N else '<'} N = {result.N}{not_wide}): {len(inside)} critical "
         "points in S_1, "
         + (f"all with ‖F_L − Y‖/‖Y‖ ≤ {max(p.relative_residual for p in inside):.1e} (Φ ≤ "
            f"{max(p.loss for p in inside):.1e})" if inside and result.wide_in_S_k_zero else
            "NOT all at Φ = 0, against the theorem: see the JSON" if any(p.zero_loss is False for p in inside) else
            f"zero loss undecided at {sum(p.zero_loss is None for p in inside)} of them (‖F_L − Y‖/‖Y‖ within a "
            f"factor {ZERO_RESIDUAL_BAND:g} of {ZERO_RESIDUAL_RTOL:g}), the rest at Φ = 0" if inside else "none to test"))
    if outside:
        w += (f"; {len(outside)} outside S_1 with Φ up to {max(p.loss for p in outside):.3g} "
              f"(up to {max(p.negative or 0 for p in outside)} negative eigenvalues), where the theorem is silent")
    bad = result.narrow_bad_minima
    saddles = [p for p in narrow if p.kind == "saddle"]
    rel = "<" if result.widths["narrow"][1] < result.N else "≥"
    n = (f"narrow net (n_1 = {result.widths['narrow'][1]} {rel} N): strict local minima with Φ > 0: {len(bad)}"
         + (f" (Φ from {min(p.loss for p in bad):.3g} to {max(p.loss for p in bad):.3g})" if bad else "")
         + f"; saddles: {len(saddles)}")
    return (f"{ITEM}: with a layer at least as wide as the number of samples, every critical point in S_k is a "
            f"global minimum. Found on {result.N} digits: {w}; {n}. {missed} runs did not reach ‖∇Φ‖ ≤ 1e-10 "
            "and are not drawn.")


_KIND_STYLE = {"global": ("tab:blue", "o", "global minimum Φ = 0"),
               "minimum": ("tab:green", "o", "local minimum, Φ > 0 (all eigenvalues > 0)"),
               "degenerate": ("tab:olive", "D", "degenerate, Φ > 0 (none < 0, some = 0)"),
               "saddle": ("tab:red", "^", "saddle, Φ > 0 (some < 0)"),
               "undecided": ("tab:orange", "P", "zero loss undecided (‖r‖ in the band)"),
               "maximum": ("tab:purple", "v", "maximum"),
               "unclassified": ("gray", "x", "unclassified (P too large)")}


def _style(p: CriticalPoint) -> str:
    """The marker's key: a decided zero loss is a global minimum, an undecided one is drawn as such."""
    return "global" if p.zero_loss is True else "undecided" if p.zero_loss is None else p.kind


def critical_points_figure(result: CriticalPoints):
    """Figure: ``‖F_L − Y‖/‖Y‖`` (log; the zero-loss line and its band) vs the number of negative Hessian eigenvalues, wide (left) and narrow (right)."""
    with slide_style():
        return _figure(result)


def _figure(result: CriticalPoints):
    fig = new_figure((12, 5))
    axes = fig.subplots(1, 2, sharey=True)
    rng = np.random.default_rng(0)  # horizontal jitter only, so equal points stay visible
    for ax, net in zip(axes, NETWORKS):
        pts = result.select(net)
        xmax = max([p.negative or 0 for p in pts], default=0)
        for kind, (color, marker, label) in _KIND_STYLE.items():
            for inside in (True, False):
                sel = [p for p in pts if _style(p) == kind and p.in_S_k == inside]
                if not sel:
                    continue
                x = np.array([p.negative if p.negative is not None else 0 for p in sel], float)
                x += rng.uniform(-1, 1, len(x)) * max(0.25, 0.015 * xmax)
                ax.scatter(x, [max(p.relative_residual, LOG_FLOOR) for p in sel], s=55, marker=marker, zorder=3,
                           facecolors=color if inside else "none", edgecolors=color, linewidths=1.6,
                           label=f"{label}, {'in' if inside else 'outside'} S₁ ({len(sel)})")
        ax.axhline(ZERO_RESIDUAL_RTOL, color="k", ls=":", lw=1.2,
                   label=f"zero loss: ‖F_L − Y‖ ≤ {ZERO_RESIDUAL_RTOL:g}·‖Y‖")
        ax.axhspan(ZERO_RESIDUAL_RTOL / ZERO_RESIDUAL_BAND, ZERO_RESIDUAL_RTOL * ZERO_RESIDUAL_BAND, color="0.85",
                   zorder=0, label=f"undecided (within ×{ZERO_RESIDUAL_BAND:g})")
        ax.set_yscale("log")
        ax.set_xlabel("number of negative Hessian eigenvalues (index)")
        missed = len(result.select(net, converged=False)) - len(pts)
        w = result.widths[net]
        ax.set_title(f"{net}: n₁ = {w[1]} {'≥' if w[1] >= result.N else '<'} N = {result.N}   "
                     f"({len(pts)} critical points, {missed} runs not converged)", fontsize=12)
        ax.legend(loc="lower right", fontsize=9.5)
    axes[0].set_ylabel("residual ‖F_L − Y‖ / ‖Y‖ at the critical point")
    fig.suptitle("Critical points from random starts (Theorem 4.5: in S₁ of a wide net, all have Φ = 0)")
    return fig
