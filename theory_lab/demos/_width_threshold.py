"""The width threshold for zero training loss (:func:`width_threshold`; Corollary 3.6).

A one-conv-layer CNN ``8x8x1 → Conv(T, 3x3, VALID) → Output(10)`` (``n_1 = 36·T``) on ``N``
digits (plus ``1e-6`` noise, so Assumption 3.1 holds). For each width and seeded draw of the
conv layer, the output layer is fitted by Corollary 3.6's ``U_L = λ = F_1ᵀ(F_1F_1ᵀ)^{−1}Y``
(:func:`theory_lab.exact_fit.exact_fit`; least squares when ``rank F_1 < N``, the best any
output layer can do on those features), installed in the network, and the network's own
loss ``Φ = ½‖F_L − Y‖²``, its residual ``‖F_L − Y‖ / ‖Y‖`` and training error (argmax of ``F_L`` vs the
label) are recorded. Zero loss is decided on the residual with the library's rule
(:func:`theory_lab.demos.common.zero_residual`: ``‖F_L − Y‖ ≤ 1e-10 ‖Y‖``, undecided within a factor 10).
Two labellings: the digits' true labels and uniformly random labels (one per draw).

Prediction: with ``rank F_1 = N`` (``n_1 ≥ N``, Theorem 3.5) *any* labelling is fitted,
so ``Φ = 0`` to rounding and the training error is 0; below ``N`` a random labelling
leaves ``Φ > 0``. The error can reach 0 before ``n_1 = N``: width ``N`` is sufficient, not
necessary, for separability.

Example:
    >>> from theory_lab.demos import width_threshold
    >>> r = width_threshold(30, filters=(1,), draws=1)
    >>> [(p.labels, p.n1, p.zero_loss, p.error) for p in r.points]
    [('true', 36, True, 0.0), ('random', 36, True, 0.0)]
    >>> r.threshold_ok
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory_lab.demos._rank_jump import PATCHES, default_filters
from theory_lab.demos.common import (LOG_FLOOR, ZERO_RESIDUAL_BAND, ZERO_RESIDUAL_RTOL, Progress, activation_name,
                                     digit_count, new_figure, positive_int, residual_norm, seed_int, slide_style, tick,
                                     zero_residual)

__all__ = ["FitPoint", "WidthThreshold", "width_threshold", "width_threshold_figure", "width_threshold_explanation"]

ITEM = "Corollary 3.6 with Theorem 3.5 (THEORY.md §3)"
NOISE = 1e-6
LABELS = ("true", "random")


@dataclass(frozen=True)
class FitPoint:
    """One exact fit: ``labels`` (``"true"``/``"random"``), ``T``, ``n1``, ``draw`` and what it achieved.

    ``loss`` is the network's ``Φ`` with ``U_L = λ`` (display; it underflows at small scales);
    ``relative_residual = ‖F_L − Y‖ / ‖Y‖`` (scaled norms) and ``relative_loss = relative_residual²``
    (``= Φ / (½‖Y‖²)``); ``error`` the fraction of misclassified training samples; ``rank``, ``sigma_min``,
    ``conclusive`` the rank evidence of ``F_1``; ``zero_loss`` the decision of
    :func:`~theory_lab.demos.common.zero_residual`: ``True``, ``False``, or ``None`` (undecided: the residual is
    within a factor 10 of ``1e-10 ‖Y‖``).
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
                "zero_loss_rule": f"‖F_L − Y‖ ≤ {ZERO_RESIDUAL_RTOL:g}·‖Y‖, undecided within a factor "
                                  f"{ZERO_RESIDUAL_BAND:g}", "zero_residual_rtol": ZERO_RESIDUAL_RTOL,
                "zero_residual_band": ZERO_RESIDUAL_BAND, "undecided": len(self.undecided()),
                "architecture": f"8x8x1 -> Conv(T, 3x3, VALID, {self.activation}) -> Output(10), U_L = exact fit",
                "prediction": "n_1 >= N with rank F_1 = N: Φ = 0 and training error 0 for any labels",
                "threshold_ok": self.threshold_ok, "points": [p.to_dict() for p in self.points]}


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
                rnorm = residual_norm(out, Y)
                rel, zero = zero_residual(rnorm, Y)
                points.append(FitPoint(name, T, arch.widths[1], j, 0.5 * rnorm ** 2, rel ** 2,
                                       float(np.mean(out.argmax(1) != labels)), fit.report.rank,
                                       fit.report.sigma_min, fit.report.conclusive, zero, rel))
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
    verdict = ("as predicted, every fit with n_1 ≥ N is exact" if result.threshold_ok else
               "NOT as predicted: some fit with n_1 ≥ N and rank F_1 = N left Φ > 0 or errors; see the JSON"
               if wrong else
               f"not decided: {len(undecided)} fits with n_1 ≥ N and rank F_1 = N have ‖F_L − Y‖/‖Y‖ up to "
               f"{max(p.relative_residual for p in undecided):.1e}, within a factor {ZERO_RESIDUAL_BAND:g} of the "
               f"zero-loss tolerance {ZERO_RESIDUAL_RTOL:g} (ill-conditioned F_1 near n_1 = N), the rest exact"
               if undecided else "the prediction was NOT tested: no fit had n_1 ≥ N and rank F_1 = N")
    return (f"{ITEM}: once the wide layer has n_1 ≥ N features of full rank N, the output layer "
            f"λ = F_1ᵀ(F_1F_1ᵀ)⁻¹Y fits any labels exactly. On {N} digits ({result.draws} draws per width): "
            f"{'; '.join(parts)} — {verdict}. The error can vanish below n_1 = N: width N is sufficient, "
            "not necessary, for separability; the loss shows the threshold.")


_COLORS = {"true": "tab:blue", "random": "tab:red"}
_MARKERS = {"true": "o", "random": "s"}


def width_threshold_figure(result: WidthThreshold):
    """Figure: ``‖F_L − Y‖/‖Y‖`` (log) with the zero-loss rule's line and undecided band, and training error
    vs ``n_1/N``, both labellings, the line ``n_1 = N``."""
    with slide_style():
        return _figure(result)


def _figure(result: WidthThreshold):
    N = result.N
    fig = new_figure((12, 4.8))
    left, right = fig.subplots(1, 2)
    for name in LABELS:
        pts = result.select(name)
        x = np.array([p.n1 / N for p in pts])
        rel = np.array([max(p.relative_residual, LOG_FLOOR) for p in pts])
        err = np.array([100 * p.error for p in pts])
        ratios = sorted(set(x))
        left.scatter(x, rel, s=22, marker=_MARKERS[name], color=_COLORS[name], alpha=0.7, zorder=3,
                     label=f"{name} labels ({result.draws} draws)")
        left.plot(ratios, [np.median(rel[x == r]) for r in ratios], color=_COLORS[name], lw=1.2)
        right.scatter(x, err, s=22, marker=_MARKERS[name], color=_COLORS[name], alpha=0.7, zorder=3,
                      label=f"{name} labels")
        right.plot(ratios, [np.median(err[x == r]) for r in ratios], color=_COLORS[name], lw=1.2)
    left.axhline(ZERO_RESIDUAL_RTOL, color="k", ls=":", lw=1.2, label=f"zero loss: ‖F_L − Y‖ ≤ {ZERO_RESIDUAL_RTOL:g}·‖Y‖")
    left.axhspan(ZERO_RESIDUAL_RTOL / ZERO_RESIDUAL_BAND, ZERO_RESIDUAL_RTOL * ZERO_RESIDUAL_BAND, color="0.85",
                 zorder=0, label=f"undecided (within ×{ZERO_RESIDUAL_BAND:g})")
    left.set_yscale("log")
    for ax in (left, right):
        ax.axvline(1.0, color="gray", lw=1.2)
        ax.text(1.0, 0.93, " n₁ = N", color="gray", transform=ax.get_xaxis_transform())
        ax.set_xlabel(f"width ratio n₁ / N   (n₁ = 36·T, N = {N})")
    left.set_ylabel("residual ‖F_L − Y‖ / ‖Y‖ (Φ = ½‖F_L − Y‖²)")
    right.set_ylabel("training error (%)")
    right.set_ylim(-2, max(5.0, 108 * max(p.error for p in result.points)))
    left.set_title(f"Exact fit of the output layer (Cor. 3.6), σ = {result.activation}")
    right.set_title("Training error (argmax of F_L vs label)")
    left.legend(loc="center left")
    right.legend(loc="upper right")
    return fig
