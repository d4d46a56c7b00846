"""The width threshold for zero training loss (:func:`width_threshold`; Corollary 3.6).

A one-conv-layer CNN ``8x8x1 → Conv(T, 3x3, VALID) → Output(10)`` (``n_1 = 36·T``) on ``N``
digits (plus ``1e-6`` noise, so Assumption 3.1 holds). For each width and seeded draw of the
conv layer, the output layer is fitted by Corollary 3.6's ``U_L = λ = F_1ᵀ(F_1F_1ᵀ)^{−1}Y``
(:func:`theory_lab.exact_fit.exact_fit`; least squares when ``rank F_1 < N``, the best any
output layer can do on those features), installed in the network, and the network's own
loss ``Φ = ½‖F_L − Y‖²``, its residual ``‖F_L − Y‖ / ‖Y‖`` and training error (argmax of ``F_L`` vs the
label) are recorded. Zero loss is decided on ``‖F_L − Y‖`` as the ``corollary-3.6`` check decides it, against the
rounding a backward-stable solve leaves (:func:`theory_lab.tolerances.fit_residual_tol`, "exact-fit residual"):
``tol = γ (‖F_1‖_F ‖λ‖_F + ‖Y‖_F)``, ``γ = max(N, n_1)·eps``, computed on each fit with scaled norms; zero when
``‖F_L − Y‖ · 10 ≤ tol``, positive when ``‖F_L − Y‖ ≥ 10 · tol``, undecided between (band 10). These points are
exact fits, not solver points: a fixed fraction of ``‖Y‖`` (the other demos' rule) would not model their error,
which grows with ``‖λ‖`` where ``F_1`` is ill-conditioned (``n_1`` near ``N``). Two labellings: the digits' true labels and uniformly random labels (one per draw).

Prediction: with ``rank F_1 = N`` (``n_1 ≥ N``, Theorem 3.5) *any* labelling is fitted,
so ``Φ = 0`` to rounding and the training error is 0; below ``N`` a random labelling
leaves ``Φ > 0``. The error can reach 0 before ``n_1 = N``: width ``N`` is sufficient, not
necessary, for separability.

Example:
    >>> from theory_lab.demos import width_threshold
    >>> r = width_threshold(30, filters=(1,), draws=1)
    >>> [(p.labels, p.n1, p.zero_loss, p.error) for p in r.points]
    [('true', 36, True, 0.0), ('random', 36, True, 0.0)]
    >>> all(p.residual_ratio * 10 <= 1 for p in r.points), r.threshold_ok  # ‖F_L − Y‖ / tol, band 10
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory_lab import tolerances
from theory_lab.demos._rank_jump import PATCHES, default_filters
from theory_lab.demos.common import (LOG_FLOOR, Progress, activation_name, digit_count, new_figure, positive_int,
                                     residual_norm, seed_int, slide_style, tick)

__all__ = ["FitPoint", "WidthThreshold", "width_threshold", "width_threshold_figure", "width_threshold_explanation",
           "fit_tolerance", "exact_fit_zero", "RULE"]

ITEM = "Corollary 3.6 with Theorem 3.5 (THEORY.md §3)"
NOISE = 1e-6
LABELS = ("true", "random")
#: The zero-loss rule applied to every fit (:func:`theory_lab.tolerances.fit_residual_tol`), in words.
RULE = ("‖F_L − Y‖ ≤ tol = γ (‖F_1‖_F ‖λ‖_F + ‖Y‖_F), γ = max(N, n_1)·eps, per fit; zero when ‖F_L − Y‖·band ≤ tol, "
        "positive when ‖F_L − Y‖ ≥ tol·band, undecided between")
#: Name, error model and band of that rule (its value is per fit).
_RULE_TOL = tolerances.fit_residual_tol((1, 1), 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class FitPoint:
    """One exact fit: ``labels`` (``"true"``/``"random"``), ``T``, ``n1``, ``draw`` and what it achieved.

    ``loss`` is the network's ``Φ`` with ``U_L = λ`` (display; it underflows at small scales);
    ``relative_residual = ‖F_L − Y‖ / ‖Y‖`` (scaled norms) and ``relative_loss = relative_residual²``
    (``= Φ / (½‖Y‖²)``); ``error`` the fraction of misclassified training samples; ``rank``, ``sigma_min``,
    ``conclusive`` the rank evidence of ``F_1``; ``tolerance`` the absolute ``tol`` of
    :func:`~theory_lab.tolerances.fit_residual_tol` on this fit (``γ (‖F_1‖_F ‖λ‖_F + ‖Y‖_F)``), ``residual_ratio``
    ``= ‖F_L − Y‖ / tol`` and ``zero_loss`` its decision: ``True`` (ratio ``≤ 1/10``), ``False`` (``≥ 10``), or
    ``None`` (undecided: within the band 10 of the tolerance).
    """

    labels: str
    T: int
    n1: int
    draw: int
    loss: float
    relative_loss: float
    error: float
    rank: int
    sigma_min: float
    conclusive: bool
    zero_loss: bool | None
    relative_residual: float = float("nan")
    tolerance: float = float("nan")
    residual_ratio: float = float("nan")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class WidthThreshold:
    """All numbers of the width-threshold demo (``points`` in order labels, ``T``, draw)."""

    N: int
    filters: tuple[int, ...]
    draws: int
    seed: int
    activation: str
    points: tuple[FitPoint, ...]
    datasets: tuple = ()  # provenance of the data (``Dataset.provenance``)

    def select(self, labels: str) -> list[FitPoint]:
        return [p for p in self.points if p.labels == labels]

    def undecided(self) -> list:
        """Tested fits (:meth:`tested`) whose zero loss is undecided: residual within the band around the tolerance."""
        return [p for p in self.tested() if p.zero_loss is None]

    def tested(self) -> list:
        """The fits the prediction speaks about: ``n_1 ≥ N`` and ``rank F_1 = N`` (conclusive)."""
        return [p for p in self.points if p.n1 >= self.N and p.rank == self.N and p.conclusive]

    @property
    def threshold_ok(self) -> bool:
        """Some fit with ``n_1 ≥ N`` and ``rank F_1 = N`` (conclusive) exists, and each has zero loss (decided:
        an undecided residual is not zero loss, see :meth:`undecided`) and zero error."""
        tested = self.tested()
        return bool(tested) and all(p.zero_loss is True and p.error == 0 for p in tested)

    def to_dict(self) -> dict:
        return {"demo": "width-threshold", "item": ITEM, "datasets": list(self.datasets), "N": self.N, "filters": list(self.filters),
                "n1": [PATCHES * t for t in self.filters], "draws": self.draws, "seed": self.seed,
                "activation": self.activation, "noise": NOISE,
                "zero_loss_rule": f"{_RULE_TOL.name} ({_RULE_TOL.models}): {RULE}",
                "zero_loss_tolerance": {"name": _RULE_TOL.name, "models": _RULE_TOL.models, "band": _RULE_TOL.band,
                                        "per_point": "tolerance (absolute), residual_ratio = ‖F_L − Y‖ / tolerance"},
                "undecided": len(self.undecided()),
                "architecture": f"8x8x1 -> Conv(T, 3x3, VALID, {self.activation}) -> Output(10), U_L = exact fit",
                "prediction": "n_1 >= N with rank F_1 = N: Φ = 0 and training error 0 for any labels",
                "threshold_ok": self.threshold_ok, "points": [p.to_dict() for p in self.points]}


def fit_tolerance(F1, lam, Y) -> tolerances.Tolerance:
    """The exact-fit residual's tolerance on one fit: :func:`theory_lab.tolerances.fit_residual_tol` of ``F1``'s
    shape ``(N, n_1)``, ``‖F1‖_F``, ``‖λ‖_F`` (``lam`` ``(n_1, m)``) and ``‖Y‖_F`` (``Y`` ``(N, m)``), the norms scaled
    (:func:`~theory_lab.tolerances.frobenius_norm`) so that it scales exactly with ``(λ, Y)`` where squares underflow."""
    F1 = np.asarray(F1, np.float64)
    return tolerances.fit_residual_tol(F1.shape, tolerances.frobenius_norm(F1, "F_1"),
                                       tolerances.frobenius_norm(lam, "λ"), tolerances.frobenius_norm(Y, "Y"))


def exact_fit_zero(residual_norm: float, tol: tolerances.Tolerance) -> tuple[float, bool | None]:
    """``(‖r‖ / tol, decision)``: ``True`` when ``‖r‖ · band ≤ tol`` (or ``r = 0``), ``False`` when
    ``‖r‖ ≥ tol · band``, ``None`` (undecided) strictly between.

    >>> t = tolerances.Tolerance(1e-12, 10.0, "exact-fit residual", "rounding")
    >>> exact_fit_zero(1e-14, t), exact_fit_zero(1e-12, t)[1], exact_fit_zero(1e-10, t)[1]
    ((0.01, True), None, False)
    """
    r = float(residual_norm)
    if not r >= 0:  # NaN or negative: a bug upstream, not a decision
        raise ValueError(f"`residual_norm`={residual_norm!r} must be a norm, a finite number >= 0.")
    ratio = r / tol.value if tol.value > 0 else (0.0 if r == 0 else math.inf)
    if r == 0 or r * tol.band <= tol.value:
        return ratio, True
    return ratio, (False if r >= tol.value * tol.band else None)


def width_threshold(N: int = 360, *, filters=None, draws: int = 3, seed: int = 0, activation: str = "sigmoid",
                    progress: Progress | None = None) -> WidthThreshold:
    """Exact fits of true and random labels on ``N`` digits for widths ``n_1 = 36·T`` around ``N``.

    Args:
        N: number of digits, in ``[1, 1797]``.
        filters: the ``T`` values (default :func:`default_filters` ``(N)``: ``n_1/N`` up to about 2).
        draws: seeded draws per width of the conv layer (LeCun normal weights, N(0, 0.1²) biases)
            and of the random labels.
        seed: seeds the noise, the weights (draw ``j`` at width ``T`` from ``[seed, T, j]``) and
            the random labels (draw ``j`` from ``[seed, j]``, the same at every width).
        activation: ``σ_1`` (default sigmoid: analytic, so Theorem 3.5 applies).
        progress: ``progress(done, total, message)`` after each width.

    Returns:
        :class:`WidthThreshold`.
    """
    from theory_lab import data, model
    from theory_lab.arch import Architecture, Conv, Output
    from theory_lab.exact_fit import exact_fit, with_output_layer
    from theory_lab.sampling import sample_params

    N = digit_count(N, "N", "e.g. 360")
    draws = positive_int(draws, "draws", "use at least 1 draw per width")
    seed = seed_int(seed)
    activation = activation_name(activation)
    filters = default_filters(N) if filters is None else tuple(
        positive_int(t, "filters", "every T must be a positive number of filters") for t in filters)
    if not filters:
        raise ValueError("`filters` is empty; give at least one filter count T, or None for the default sweep.")
    ds = data.digits(N, noise=NOISE, seed=seed)
    random_labels = [np.random.default_rng([seed, j]).integers(0, 10, N) for j in range(draws)]
    targets = {"true": [(ds.labels, ds.Y)] * draws,
               "random": [(lab, data.one_hot(lab, 10)) for lab in random_labels]}
    points = []
    for done, T in enumerate(filters, 1):
        arch = Architecture((8, 8, 1), (Conv(T, (3, 3), activation=activation), Output(10)))
        for j in range(draws):
            params = sample_params(arch, np.random.default_rng([seed, T, j]))
            F1 = np.asarray(model.features(arch, params, ds.X)[1])
            for name in LABELS:
                labels, Y = targets[name][j]
                fit = exact_fit(F1, Y)
                out = np.asarray(model.apply(arch, with_output_layer(arch, params, fit.lam), ds.X))
                rnorm, ynorm = residual_norm(out, Y), tolerances.frobenius_norm(Y, "Y")
                tol = fit_tolerance(F1, fit.lam, Y)
                ratio, zero = exact_fit_zero(rnorm, tol)
                rel = rnorm / ynorm if ynorm > 0 else (0.0 if rnorm == 0 else math.inf)
                points.append(FitPoint(name, T, arch.widths[1], j, 0.5 * rnorm ** 2, rel ** 2,
                                       float(np.mean(out.argmax(1) != labels)), fit.report.rank,
                                       fit.report.sigma_min, fit.report.conclusive, zero, rel, tol.value, ratio))
        tick(progress, done, len(filters), f"width-threshold: n_1 = {PATCHES * T}")
    points.sort(key=lambda p: (LABELS.index(p.labels), p.T, p.draw))
    return WidthThreshold(N, filters, draws, seed, activation, tuple(points), (ds.provenance,))


def width_threshold_explanation(result: WidthThreshold) -> str:
    """A few sentences for the lecturer, generated from the numbers, citing the THEORY item."""
    N = result.N
    parts = []
    for name in LABELS:
        pts = result.select(name)
        zero = sorted({p.n1 for p in pts if all(q.zero_loss is True for q in pts if q.n1 == p.n1)})
        err0 = sorted({p.n1 for p in pts if all(q.error == 0 for q in pts if q.n1 == p.n1)})
        z = f"Φ = 0 from n_1/N = {zero[0] / N:.2f}" if zero else "Φ = 0 (decided) at no width"
        e = f"training error 0 from n_1/N = {err0[0] / N:.2f}" if err0 else "training error > 0 at every width"
        parts.append(f"{name} labels: {z}, {e}")
    undecided = result.undecided()
    wrong = [p for p in result.tested() if p.zero_loss is False or p.error != 0]
    tested = result.tested()
    verdict = (f"as predicted, every fit with n_1 ≥ N is exact (‖F_L − Y‖ at most "
               f"{max(p.residual_ratio for p in tested):.2g} times the solve's rounding γ(‖F_1‖‖λ‖ + ‖Y‖))"
               if result.threshold_ok else
               "NOT as predicted: some fit with n_1 ≥ N and rank F_1 = N left Φ > 0 or errors; see the JSON"
               if wrong else
               f"not decided: {len(undecided)} fits with n_1 ≥ N and rank F_1 = N have ‖F_L − Y‖ up to "
               f"{max(p.residual_ratio for p in undecided):.2g} times the solve's rounding γ(‖F_1‖‖λ‖ + ‖Y‖), "
               f"within its band {_RULE_TOL.band:g}, the rest exact"
               if undecided else "the prediction was NOT tested: no fit had n_1 ≥ N and rank F_1 = N")
    return (f"{ITEM}: once the wide layer has n_1 ≥ N features of full rank N, the output layer "
            f"λ = F_1ᵀ(F_1F_1ᵀ)⁻¹Y fits any labels exactly. On {N} digits ({result.draws} draws per width): "
            f"{'; '.join(parts)} — {verdict}. The error can vanish below n_1 = N: width N is sufficient, "
            "not necessary, for separability; the loss shows the threshold.")


_COLORS = {"true": "tab:blue", "random": "tab:red"}
_MARKERS = {"true": "o", "random": "s"}


def width_threshold_figure(result: WidthThreshold):
    """Figure: ``‖F_L − Y‖ / tol`` (log; ``tol`` the exact-fit residual tolerance of each fit) with the rule's line
    at 1 and its undecided band ``[1/10, 10]``, and training error vs ``n_1/N``, both labellings, the line
    ``n_1 = N``."""
    with slide_style():
        return _figure(result)


def _figure(result: WidthThreshold):
    N = result.N
    fig = new_figure((12, 4.8))
    left, right = fig.subplots(1, 2)
    for name in LABELS:
        pts = result.select(name)
        x = np.array([p.n1 / N for p in pts])
        rel = np.array([max(p.residual_ratio, LOG_FLOOR) for p in pts])
        err = np.array([100 * p.error for p in pts])
        ratios = sorted(set(x))
        left.scatter(x, rel, s=22, marker=_MARKERS[name], color=_COLORS[name], alpha=0.7, zorder=3,
                     label=f"{name} labels ({result.draws} draws)")
        left.plot(ratios, [np.median(rel[x == r]) for r in ratios], color=_COLORS[name], lw=1.2)
        right.scatter(x, err, s=22, marker=_MARKERS[name], color=_COLORS[name], alpha=0.7, zorder=3,
                      label=f"{name} labels")
        right.plot(ratios, [np.median(err[x == r]) for r in ratios], color=_COLORS[name], lw=1.2)
    band = _RULE_TOL.band
    left.axhline(1.0, color="k", ls=":", lw=1.2, label="zero loss: ‖F_L − Y‖ ≤ tol")
    left.axhspan(1.0 / band, band, color="0.85", zorder=0, label=f"undecided (within ×{band:g})")
    left.set_yscale("log")
    for ax in (left, right):
        ax.axvline(1.0, color="gray", lw=1.2)
        ax.text(1.0, 0.93, " n₁ = N", color="gray", transform=ax.get_xaxis_transform())
        ax.set_xlabel(f"width ratio n₁ / N   (n₁ = 36·T, N = {N})")
    left.set_ylabel("‖F_L − Y‖ / tol (Φ = ½‖F_L − Y‖²)")
    right.set_ylabel("training error (%)")
    right.set_ylim(-2, max(5.0, 108 * max(p.error for p in result.points)))
    left.set_title(f"Exact fit (Cor. 3.6), σ = {result.activation}; tol = γ(‖F₁‖‖λ‖ + ‖Y‖), γ = max(N, n₁)·eps",
                   fontsize=10.5)
    right.set_title("Training error (argmax of F_L vs label)")
    left.legend(loc="center left")
    right.legend(loc="upper right")
    return fig
