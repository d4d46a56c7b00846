"""Rank-loss probes: why, and how often, random parameters give ``rank F_k < N``.

* :func:`diagnose_units` — the known causes of rank loss: dead units (a column of
  ``F_l`` identically zero) and units whose pre-activation never changes sign over the
  data (for a piecewise linear ``σ`` such a unit is affine on the data).
* :func:`rank_frequency` — how often random parameters lose rank, with the causes seen;
  :func:`clopper_pearson_interval` — the exact confidence interval of such a frequency (coverage ≥ the
  level at every true frequency); :func:`wilson_interval` — the approximate one (kept as API).

Measurements, not verdicts: they serve the probes outside a theorem's hypotheses (ReLU,
tanh, tied biases, data violating Assumption 3.1, pooling).

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.rank_probes import clopper_pearson_interval, diagnose_units, rank_frequency
    >>> from theory_lab.sampling import sample_params
    >>> arch = Architecture((3,), (Dense(6, activation="relu"), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> r = rank_frequency(arch, X, 1, draws=4, bias_mean=-30.0)  # biases far below: units die
    >>> r.deficient, r.ci == clopper_pearson_interval(4, 4), r.ci_method
    (4, True, 'Clopper-Pearson (exact)')
    >>> diagnose_units(arch, sample_params(arch, 0, bias_mean=-30.0), X, 1).causes
    ('dead units',)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory_lab.arch import Architecture
from theory_lab.feature_maps import check_layer_index, forward_upto, feature_rank
from theory_lab.linalg import DEFAULT_BAND, rank_report
from theory_lab.model import check_inputs
from theory_lab.sampling import as_generator, sample_params
from theory_lab.validate import is_integer, is_real, numeric_array

__all__ = ["UnitDiagnosis", "diagnose_units", "FrequencyReport", "rank_frequency", "clopper_pearson_interval",
           "wilson_interval", "CI_METHOD"]

CI_METHOD = "Clopper-Pearson (exact)"
"""The name of the interval :attr:`FrequencyReport.ci` is, as the probes' evidence reports it."""

@dataclass(frozen=True)
class UnitDiagnosis:
    """Dead units and units whose pre-activation never changes sign, layer by layer.

    Attributes:
        layers: per layer ``l ≤ k`` with an activation: ``{"layer", "activation", "n", "dead",
            "constant", "no_sign_change", "positive", "negative", "piecewise_linear"}`` — ``dead``:
            column of ``F_l`` identically zero; ``constant``: a non-zero constant column;
            ``no_sign_change``: ``G_l`` strictly positive or strictly negative on all samples
            (``positive`` / ``negative`` split it; ReLU units with ``G_l ≤ 0`` count as dead).
        bound: for a piecewise linear ``σ_k``, the rank bound these causes imply:
            (units of layer ``k`` that are neither dead nor affine on the data) +
            ``min(#affine units, rank [F_{k−1}, 1])``; ``None`` otherwise.
        N: number of samples.
    """

    layers: tuple
    bound: int | None
    N: int

    @property
    def causes(self) -> tuple[str, ...]:
        """Which causes occurred anywhere in layers ``1 … k``."""
        out = []
        if any(r["dead"] for r in self.layers):
            out.append("dead units")
        if any(r["no_sign_change"] for r in self.layers):
            out.append("units whose pre-activation never changes sign")
        return tuple(out)

    @property
    def explains_deficiency(self) -> bool:
        """True when dead and affine units alone force ``rank F_k < N``."""
        return self.bound is not None and self.bound < self.N

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "bound": self.bound, "N": self.N, "causes": list(self.causes),
                "explains_deficiency": self.explains_deficiency}


_PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")


def _is_piecewise_linear(name: str) -> bool:
    return name.split("(")[0].strip() in _PIECEWISE_LINEAR


def diagnose_units(arch: Architecture, params, X, k: int) -> UnitDiagnosis:
    """Count the causes of rank loss in layers ``1 … k`` at ``params`` on ``X``.

    Returns:
        :class:`UnitDiagnosis`.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(8, activation="relu"), Output(1)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> d = diagnose_units(arch, sample_params(arch, 1, bias_mean=-50.0), X, 1)
        >>> d.layers[0]["dead"], d.bound, d.explains_deficiency
        (8, 0, True)
    """
    k = check_layer_index(arch, k, need_weights=False)
    fwd = forward_upto(arch, params, X, k)
    N = int(np.shape(X)[0])
    rows = []
    for info in arch.info[:k]:
        if info.activation is None:
            continue
        G, F = np.asarray(fwd.G[info.k]), np.asarray(fwd.F[info.k])
        dead = np.all(F == 0.0, axis=0)
        constant = np.all(F == F[:1], axis=0) & ~dead
        pos, neg = np.all(G > 0, axis=0), np.all(G < 0, axis=0)
        relu_like = info.activation == "relu"
        nsc = (pos | neg) & ~dead if relu_like else (pos | neg)
        rows.append({"layer": info.k, "activation": info.activation, "n": info.n, "dead": int(dead.sum()),
                     "constant": int(constant.sum()), "no_sign_change": int(nsc.sum()),
                     "positive": int((pos & ~dead).sum()), "negative": int((neg & ~dead).sum()),
                     "piecewise_linear": _is_piecewise_linear(info.activation)})
    bound = None
    last = arch.layer(k)
    if last.activation is not None and _is_piecewise_linear(last.activation):
        G, F = np.asarray(fwd.G[k]), np.asarray(fwd.F[k])
        dead = np.all(F == 0.0, axis=0)
        if last.activation == "identity":
            affine = np.ones(G.shape[1], bool)
        else:
            affine = (np.all(G >= 0, axis=0) | np.all(G <= 0, axis=0)) & ~dead
        prev = np.asarray(fwd.F[k - 1])
        r_prev = rank_report(np.concatenate([prev, np.ones((N, 1))], axis=1), name=f"[F_{k - 1}, 1]").rank
        bound = int((~dead & ~affine).sum() + min(int(affine.sum()), r_prev))
    return UnitDiagnosis(tuple(rows), bound, N)


@dataclass(frozen=True)
class FrequencyReport:
    """How often random parameters give ``rank F_k < N``, with the causes seen.

    Attributes:
        draws: parameter draws made.
        full: draws with ``rank F_k = N``, conclusively.
        deficient: draws with ``rank F_k < N``, conclusively (:meth:`~theory_lab.linalg.RankReport.below`:
            a clear gap at the tolerance, or a certificate such as duplicate samples).
        inconclusive: draws whose rank decision sat inside the tolerance band.
        ci: 95 % interval of the frequency of ``rank F_k < N``: from the Clopper–Pearson lower end of
            ``deficient / draws`` to the Clopper–Pearson upper end of ``(deficient + inconclusive) / draws``
            (an inconclusive draw may be either); the Clopper–Pearson interval when every draw is decided.
            Its coverage is ≥ 95 % at every true frequency (:func:`clopper_pearson_interval`; the span over
            the inconclusive draws only widens it). Until session 33 it was Wilson's, which covers 0.83 at
            worst, near ``0.18/draws``, where "0 of n" is decided.
        ci_method: which interval ``ci`` is (:data:`CI_METHOD`).
        min_margin: smallest rank margin over the draws.
        min_rank: smallest rank seen.
        with_dead: draws with at least one dead unit in layers ``1 … k``.
        with_no_sign_change: draws with a unit whose pre-activation never changed sign.
        explained: deficient draws whose dead / affine units alone force ``rank < N``.
        setting: the law and architecture facts, for the report.
    """

    draws: int
    full: int
    deficient: int
    inconclusive: int
    ci: tuple
    min_margin: float
    min_rank: int
    with_dead: int
    with_no_sign_change: int
    explained: int
    setting: dict
    ci_method: str = CI_METHOD

    @property
    def frequency(self) -> float:
        return self.deficient / self.draws

    def to_dict(self) -> dict:
        return {**self.setting, "draws": self.draws, "full_rank": self.full, "deficient": self.deficient,
                "inconclusive": self.inconclusive, "frequency_deficient": self.frequency,
                "ci95": list(self.ci), "ci95_method": self.ci_method, "min_margin": self.min_margin, "min_rank": self.min_rank,
                "draws_with_dead_units": self.with_dead, "draws_with_no_sign_change": self.with_no_sign_change,
                "deficient_explained_by_dead_or_affine_units": self.explained}


def rank_frequency(arch: Architecture, X, k: int, *, draws: int, key=0, law: str = "lecun_normal",
                   bias_law: str = "normal", scale: float = 1.0, bias_scale: float = 0.1,
                   bias_mean: float = 0.0, band: float = DEFAULT_BAND) -> FrequencyReport:
    """Draw ``draws`` parameters (:func:`sample_params`) and count ``rank F_k < N``.

    A measurement, not a verdict: use it outside a theorem's hypotheses (ReLU, tanh,
    tied biases, data violating 3.1, pooling). Each draw is also run through
    :func:`diagnose_units`.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(6, activation="relu"), Output(1)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> r = rank_frequency(arch, X, 1, draws=4, bias_mean=-30.0)
        >>> r.deficient, r.with_dead, r.explained
        (4, 4, 4)
    """
    if not is_integer(draws) or draws < 1:
        raise ValueError(f"`draws`={draws!r} must be a positive int (the number of parameter draws), e.g. 20.")
    k = check_layer_index(arch, k, need_weights=False)
    check_inputs(arch, numeric_array(X, "X"))  # X=None failed as "tuple index out of range"
    rng = as_generator(key)
    N = int(np.shape(X)[0])
    full = deficient = inconclusive = dead = nsc = explained = 0
    margins, ranks = [], []
    for _ in range(draws):
        params = sample_params(arch, rng, law=law, bias_law=bias_law, scale=scale, bias_scale=bias_scale,
                               bias_mean=bias_mean)
        rep = feature_rank(arch, params, X, k, band=band)
        diag = diagnose_units(arch, params, X, k)
        margins.append(rep.margin)
        ranks.append(rep.rank)
        dead += any(row["dead"] for row in diag.layers)
        nsc += any(row["no_sign_change"] for row in diag.layers)
        below = rep.below(N)  # a certified bound (duplicate samples) decides even without a clear gap
        if below is None:
            inconclusive += 1
        elif not below:
            full += 1
        else:
            deficient += 1
            explained += diag.explains_deficiency
    info = arch.layer(k)
    setting = {"activation": info.activation, "bias": getattr(info.spec, "bias", "neuron"), "N": N, "n_k": info.n,
               "n_k_over_N": info.n / N, "law": law, "bias_law": bias_law, "bias_scale": bias_scale,
               "bias_mean": bias_mean}
    ci = (clopper_pearson_interval(deficient, draws)[0], clopper_pearson_interval(deficient + inconclusive, draws)[1])
    return FrequencyReport(draws, full, deficient, inconclusive, ci,
                           float(min(margins)), int(min(ranks)), dead, nsc, explained, setting)


def clopper_pearson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson (exact) interval for a binomial frequency ``successes / trials``.

    With ``α = 1 − level``: lower ``= B⁻¹(α/2; x, n − x + 1)``, upper ``= B⁻¹(1 − α/2; x + 1, n − x)``
    (``B⁻¹`` the beta quantile), the inversion of two one-sided binomial tests of size ``α/2``. Its coverage is
    ≥ ``level`` at every true frequency ``p`` (conservative: exact sums give 0.965–0.990 on average over ``p``
    at 5–100 trials), where Wilson's (:func:`wilson_interval`) dips to 0.83. Edges: ``0 of n`` gives
    ``(0, 1 − (α/2)^{1/n})``; ``n of n`` gives ``((α/2)^{1/n}, 1)``.

    Args:
        successes: int in ``[0, trials]``.
        trials: int ``≥ 1``.
        level: confidence level in ``(0, 1)``.

    Returns:
        ``(lower, upper)``, floats in ``[0, 1]``.

    Example:
        >>> lo, hi = clopper_pearson_interval(0, 20)
        >>> lo, round(hi, 4)
        (0.0, 0.1684)
    """
    if not is_real(level) or not 0 < level < 1:
        raise ValueError(f"`level`={level!r} must be a confidence level strictly between 0 and 1; e.g. level=0.95.")
    if not is_integer(trials) or trials <= 0 or not is_integer(successes) or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, both ints; got successes={successes!r}, "
                         f"trials={trials!r}. Pass the counts of a binomial experiment, e.g. (3, 20).")
    from scipy.stats import beta  # here, not at module level: keeps scipy.stats off the CLI's import path

    x, n, tail = int(successes), int(trials), 0.5 * (1.0 - float(level))
    lo = 0.0 if x == 0 else float(beta.ppf(tail, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1.0 - tail, x + 1, n - x))
    return lo, hi


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial frequency (default ``z = 1.96``: nominally 95 %).

    Kept as public API; the probes report :func:`clopper_pearson_interval` since session 33.

    An approximate interval, not a guaranteed one: its coverage averaged over the true frequency ``p``
    is 95 %, but at a fixed ``p`` near 0 or 1 it is less. Exact binomial sums (session 33, ``p`` on a grid of
    4000): at 5, 10, 20, 40, 100 trials the coverage is at least 0.83 everywhere, dips below 0.93 on 15, 14, 7,
    2, 1 % of the grid, and the worst ``p`` is about ``0.18/trials`` (or 1 minus that), where a deficient
    frequency of "0 of n" or "1 of n" is decided. :func:`clopper_pearson_interval` guarantees ≥ 95 % at every
    ``p``.

    Example:
        >>> lo, hi = wilson_interval(0, 20)
        >>> lo, round(hi, 3)
        (0.0, 0.161)
    """
    if not is_real(z) \
            or not 0 < z < math.inf:
        raise ValueError(f"`z`={z!r} must be a positive finite normal quantile (a negative or NaN one gives a "
                         "wrong interval); e.g. z=1.96 for 95 %.")
    if not is_integer(trials) or trials <= 0 or not is_integer(successes) or not 0 <= successes <= trials:  # True: 1
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, both ints; got successes={successes!r}, "
                         f"trials={trials!r}. Pass the counts of a binomial experiment, e.g. (3, 20).")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
