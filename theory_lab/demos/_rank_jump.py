"""The rank jump at ``n_1 = N`` (:func:`rank_jump`; Theorem 3.5 and ``rank F_k ≤ min(N, n_k)``).

 A one-conv-layer sigmoid CNN
(``8x8x1 → Conv 3x3 VALID, T filters → Output 10``, so ``n_1 = 36·T``) on ``N`` digits.
For each width and a few seeded parameter draws it records :func:`~theory_lab.linalg.rank_report`
of ``F_1 (N, n_1)``. Three data series:

* ``noisy``: digits plus ``1e-6`` Gaussian noise; Assumption 3.1 holds, so Theorem 3.5 and
  ``rank F_1 ≤ min(n_1, N)`` predict ``rank F_1 = min(n_1, N)``: linear growth, then the
  jump to full row rank exactly when ``n_1 ≥ N``.
* ``raw``: the digits as shipped. They violate Assumption 3.1 (blank patches repeat
  across samples), yet no two of scikit-learn's 1,797 digits are equal, and the rank
  still reaches ``N``: 3.1 is sufficient, not necessary.
* ``duplicates``: the raw digits with the last ``D`` samples replaced by copies of the
  first ``D``. Equal samples give equal rows of ``F_1``, so the rank saturates at the
  number of distinct samples ``N − D`` however wide the layer.

Example:
    >>> from theory_lab.demos import rank_jump
    >>> r = rank_jump(20, filters=(1,), draws=1, seed=0, duplicates=2)
    >>> [(p.series, p.n1, p.rank) for p in r.points]
    [('noisy', 36, 20), ('raw', 36, 20), ('duplicates', 36, 18)]
    >>> r.agrees
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory_lab.demos.common import (Progress, activation_name, digit_count, new_figure, positive_int, seed_int,
                                     slide_style, tick)

from theory_lab.validate import is_integer

__all__ = [
    "ITEM",
    "PATCHES",
    "RankJump",
    "RankPoint",
    "default_filters",
    "duplicate_digits",
    "rank_jump",
    "rank_jump_explanation",
    "rank_jump_figure",
]

ITEM = "Theorem 3.5 and rank F_k ≤ min(N, n_k) (THEORY.md §3)"
PATCHES = 36  # 3x3 VALID on 8x8: 6x6 patch positions, so n_1 = 36·T
NOISE = 1e-6


def default_filters(N: int, *, max_ratio: float = 2.0, count: int = 12) -> tuple[int, ...]:
    """Filter counts ``T`` with ``n_1 = 36·T`` from ``36`` to about ``max_ratio·N``, crossing ``N``.

    At most ``count`` values, spread evenly; the last ``T`` below ``N/36`` and the first
    at or above it are always included, so the sweep shows both sides of the jump.

    >>> default_filters(200)
    (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    >>> default_filters(60)
    (1, 2, 3, 4)
    """
    N = positive_int(N, "N", "give the number of samples, e.g. 200")
    top = max(2, math.ceil(max_ratio * N / PATCHES))
    Ts = set(np.unique(np.round(np.linspace(1, top, min(count, top))).astype(int)).tolist())
    at = math.ceil(N / PATCHES)  # first T with n_1 >= N
    Ts |= {t for t in (at - 1, at) if t >= 1}
    return tuple(sorted(Ts))


def duplicate_digits(X: np.ndarray, duplicates: int) -> np.ndarray:
    """``X (N, ...)`` with its last ``duplicates`` samples replaced by copies of its first ones.

    >>> duplicate_digits(np.arange(5.0)[:, None], 2)[:, 0].tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0]
    """
    N = X.shape[0]
    if not is_integer(duplicates) \
            or not 0 <= duplicates <= N // 2:
        raise ValueError(f"`duplicates`={duplicates!r} must be an integer in [0, N/2] = [0, {N // 2}] "
                         f"for N={N}; use 0 to leave the duplicates series out.")
    out = np.array(X, dtype=np.float64, copy=True)
    if duplicates:
        out[N - duplicates:] = X[:duplicates]
    return out


@dataclass(frozen=True)
class RankPoint:
    """One rank decision: ``series``, ``T`` filters, ``n1 = 36·T``, ``draw``, and the report's numbers."""

    series: str
    T: int
    n1: int
    draw: int
    rank: int
    expected: int
    sigma_max: float
    sigma_min: float
    ratio: float
    tol: float
    margin: float
    conclusive: bool

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["margin"] = "inf" if d["margin"] == float("inf") else d["margin"]
        return d


@dataclass(frozen=True)
class RankJump:
    """All numbers of the rank-jump demo.

    Attributes:
        N: number of samples.
        filters: the swept ``T`` values.
        draws, seed, duplicates, activation: the settings.
        assumption_3_1: ``{series: bool}``, Assumption 3.1 tested on each series' data.
        distinct: ``{series: number of distinct samples}``.
        points: every :class:`RankPoint`, in order series, ``T``, draw.
        datasets: ``{series: provenance}`` of each series' data (``Dataset.provenance``; the duplicates
            series is the raw digits with its last samples overwritten).
    """

    N: int
    filters: tuple[int, ...]
    draws: int
    seed: int
    duplicates: int
    activation: str
    assumption_3_1: dict
    distinct: dict
    points: tuple[RankPoint, ...]
    datasets: dict = field(default_factory=dict)

    @property
    def series(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.series for p in self.points))

    def select(self, series: str) -> list[RankPoint]:
        return [p for p in self.points if p.series == series]

    @property
    def theorem_3_5(self) -> bool:
        """Whether ``σ_1`` meets Theorem 3.5's hypotheses on the activation: real analytic and Assumption 3.2."""
        from theory_lab import activations

        act = activations.get(self.activation)
        return bool(act.analytic and act.assumption_3_2)

    def point_agrees(self, p: RankPoint) -> bool:
        """``rank = expected``, conclusively, where Theorem 3.5 speaks (:attr:`theorem_3_5`); otherwise only the
        linear-algebra bound ``rank ≤ min(n_1, distinct samples)`` is a prediction."""
        if not self.theorem_3_5:
            return p.rank <= p.expected
        return p.rank == p.expected and p.conclusive

    @property
    def agrees(self) -> bool:
        """Every point agrees with its prediction (:meth:`point_agrees`): for an analytic σ meeting Assumption 3.2,
        every rank equals ``min(n_1, distinct samples)`` and every decision is conclusive."""
        return all(self.point_agrees(p) for p in self.points)

    def to_dict(self) -> dict:
        return {"demo": "rank-jump", "datasets": dict(self.datasets), "N": self.N, "filters": list(self.filters),
                "n1": [PATCHES * t for t in self.filters], "draws": self.draws, "seed": self.seed,
                "duplicates": self.duplicates, "noise": NOISE,
                "activation": self.activation,
                "architecture": f"8x8x1 -> Conv(T, 3x3, VALID, {self.activation}, bias per neuron) -> Output(10)",
                "theorem_3_5_applies": self.theorem_3_5,
                "prediction": ("rank F_1 = min(n_1, number of distinct samples)" if self.theorem_3_5 else
                               f"rank F_1 <= min(n_1, number of distinct samples) only: σ = {self.activation} is "
                               "not real analytic with Assumption 3.2, so Theorem 3.5 does not apply"),
                "assumption_3_1": self.assumption_3_1, "distinct_samples": self.distinct,
                "agrees": self.agrees, "points": [p.to_dict() for p in self.points]}


def _series_data(N: int, seed: int, duplicates: int) -> tuple[dict, dict]:
    """``({series: X}, {series: provenance})``."""
    from theory_lab import data

    raw, noisy = data.digits(N), data.digits(N, noise=NOISE, seed=seed)
    out = {"noisy": noisy.X, "raw": raw.X}
    origin = {"noisy": noisy.provenance, "raw": raw.provenance}
    if duplicates:
        out["duplicates"] = duplicate_digits(raw.X, duplicates)
        origin["duplicates"] = dict(raw.provenance, duplicated=f"last {duplicates} samples = first {duplicates}")
    return out, origin


def rank_jump(N: int = 200, *, filters=None, draws: int = 3, seed: int = 0, duplicates: int | None = None,
              band: float | None = None, activation: str = "sigmoid", progress: Progress | None = None) -> RankJump:
    """Rank of ``F_1`` against the width ``n_1 = 36·T`` for noisy, raw and duplicated digits.

    Args:
        N: number of digits, in ``[1, 1797]``.
        filters: the ``T`` values (default :func:`default_filters` ``(N)``).
        draws: seeded parameter draws per width (weights LeCun normal, biases normal, std 0.1).
        seed: seeds the noise and every draw (draw ``j`` at width ``T`` uses
            ``fold_in(fold_in(key(seed), T), j)``; the same parameters serve every series).
        duplicates: ``D`` for the duplicates series (default ``N // 10``; ``0`` leaves it out).
        band: conclusiveness band for :func:`~theory_lab.linalg.rank_report` (its default if None).
        activation: ``σ_1`` (default sigmoid: analytic, so Theorem 3.5 applies; ReLU is covered by
            Theorem 3.4's existence only). For a σ that is not real analytic with Assumption 3.2
            (ReLU, identity, tanh, …) :attr:`RankJump.agrees` checks only ``rank ≤ min(n_1, distinct)``.
        progress: ``progress(done, total, message)`` after each width.

    Returns:
        :class:`RankJump`; the prediction for each point is ``min(n_1, distinct samples)``.
    """
    import jax

    from theory_lab import data, model
    from theory_lab.arch import Architecture, Conv, Output
    from theory_lab.linalg import DEFAULT_BAND, rank_report
    from theory_lab.sampling import sample_params

    N = digit_count(N, "N", "e.g. 200")
    draws = positive_int(draws, "draws", "use at least 1 parameter draw per width")
    seed = seed_int(seed)
    activation = activation_name(activation)
    filters = default_filters(N) if filters is None else tuple(
        positive_int(t, "filters", "every T must be a positive number of filters") for t in filters)
    if not filters:
        raise ValueError("`filters` is empty; give at least one filter count T, or None for the default sweep.")
    duplicates = N // 10 if duplicates is None else duplicates
    band = DEFAULT_BAND if band is None else band
    Xs, origin = _series_data(N, seed, duplicates)
    probe = Architecture((8, 8, 1), (Conv(1, (3, 3)), Output(10)))
    a31 = {name: data.check_distinct_patches(probe, X).holds for name, X in Xs.items()}
    distinct = {name: int(np.unique(X.reshape(N, -1), axis=0).shape[0]) for name, X in Xs.items()}
    Xd = {name: jax.device_put(X) for name, X in Xs.items()}
    root = jax.random.key(seed)
    points = []
    for done, T in enumerate(filters, 1):
        arch = Architecture((8, 8, 1), (Conv(T, (3, 3), activation=activation), Output(10)))
        n1 = arch.widths[1]
        params = [sample_params(arch, jax.random.fold_in(jax.random.fold_in(root, T), j)) for j in range(draws)]
        for name, X in Xd.items():
            for j, p in enumerate(params):
                r = rank_report(np.asarray(model.features(arch, p, X)[1]), band=band, name="F_1")
                points.append(RankPoint(name, T, n1, j, r.rank, min(n1, distinct[name]), r.sigma_max, r.sigma_min,
                                        r.ratio, r.tol, r.margin, r.conclusive))
        tick(progress, done, len(filters), f"rank-jump: n_1 = {n1}")
    points.sort(key=lambda p: (list(Xs).index(p.series), p.T, p.draw))
    return RankJump(N, filters, draws, seed, duplicates, activation, a31, distinct, tuple(points), origin)


_COLORS = {"noisy": "tab:blue", "raw": "tab:orange", "duplicates": "tab:red"}
_MARKERS = {"noisy": "o", "raw": "s", "duplicates": "^"}
_FLOOR = 1e-20  # a σ_min/σ_max of exactly 0 cannot sit on a log axis


def rank_jump_explanation(result: RankJump) -> str:
    """A few sentences for the lecturer, generated from the numbers, citing the THEORY item."""
    jump = [p.n1 for p in result.select("noisy") if p.rank == result.N]
    where = f"from n_1 = {min(jump)} on (N = {result.N})" if jump else "at no width of the sweep"
    dup = (f" With {result.duplicates} repeated digits the rank stops at {result.distinct['duplicates']} distinct "
           "samples however wide the layer: Assumption 3.1 is violated in the way that matters."
           if "duplicates" in result.series else "")
    if not result.theorem_3_5:
        verdict = ("Every rank is at most min(n_1, distinct samples), the only prediction here." if result.agrees
                   else "Some rank exceeds min(n_1, distinct samples), which no network can do: see the JSON.")
        return (f"{ITEM}: σ = {result.activation} is not a real analytic activation satisfying Assumption 3.2, so "
                f"Theorem 3.5 makes no prediction for it; only rank F_1 ≤ min(n_1, N) holds. Here rank F_1 = N "
                f"{where}.{dup} {verdict}")
    verdict = "Every rank equals min(n_1, distinct samples), conclusively." if result.agrees else \
        "Some rank differs from min(n_1, distinct samples) or is inconclusive: see the JSON."
    return (f"{ITEM}: random weights of an analytic conv layer (here σ = {result.activation}) give rank F_1 = min(n_1, N), so the "
            f"features of the N samples become linearly independent exactly when n_1 ≥ N. Here rank F_1 = N "
            f"{where}.{dup} {verdict}")


def rank_jump_figure(result: RankJump):
    """Figure: rank ``F_1`` vs ``n_1`` (left) and ``σ_min/σ_max`` vs ``n_1`` with the tolerance (right)."""
    with slide_style():
        return _figure(result)


def _figure(result: RankJump):
    N = result.N
    n1 = np.array([PATCHES * t for t in result.filters])
    fig = new_figure((12, 4.8))
    left, right = fig.subplots(1, 2)
    grid = np.linspace(0, n1.max(), 200)
    left.plot(grid, np.minimum(grid, N), "k--", lw=1, label="min(n₁, N)")
    if "duplicates" in result.series:
        left.axhline(result.distinct["duplicates"], color=_COLORS["duplicates"], ls=":", lw=1,
                     label=f"distinct samples = {result.distinct['duplicates']}")
    for ax in (left, right):
        ax.axvline(N, color="gray", lw=1)
        ax.set_xlabel("width n₁ = 36·T")
    left.text(N, 0.5, " n₁ = N", color="gray", transform=left.get_xaxis_transform())
    right.text(N, 0.5, " n₁ = N", color="gray", transform=right.get_xaxis_transform())
    offsets = dict(zip(result.series, np.linspace(-0.012, 0.012, len(result.series)) * n1.max()))
    for name in result.series:
        pts = result.select(name)
        a31 = "3.1 holds" if result.assumption_3_1[name] else "3.1 violated"
        label = f"{name} ({a31})"
        x = np.array([p.n1 for p in pts]) + offsets[name]
        left.scatter(x, [p.rank for p in pts], s=18, marker=_MARKERS[name], color=_COLORS[name], label=label,
                     zorder=3)
        right.scatter(x, [max(p.ratio, _FLOOR) for p in pts], s=18, marker=_MARKERS[name], color=_COLORS[name],
                      label=label, zorder=3)
    tol = {}
    for p in result.points:  # the relative tolerance tol/σ_max = max(N, n_1)·eps is the same for every series
        tol.setdefault(p.n1, p.tol / p.sigma_max if p.sigma_max > 0 else np.nan)
    xs = sorted(tol)
    right.plot(xs, [tol[x] for x in xs], "k:", lw=1.2, label="tolerance / σ_max")
    right.set_yscale("log")
    left.set_ylabel("rank F₁")
    right.set_ylabel("σ_min / σ_max of F₁")
    left.set_title(f"Rank of F₁ on {N} digits ({result.draws} draw{'s' if result.draws != 1 else ''} per width)")
    right.set_title("Smallest singular value, relative")
    left.legend(loc="lower right")
    right.legend(loc="lower left")
    return fig
