"""Hessian spectra at a zero-loss minimum and at the bad critical point (:func:`spectra`).

The network ``8x8x1 → Conv(⌈N/36⌉, 3x3) → Dense(N + 4) → Output(10)`` on ``N`` digits
(``1e-6`` noise) with one-hot targets is wide (``n_1, n_2 ≥ N``). Two points of it
(:func:`landmarks`):

* ``minimum``: a critical point found from a seeded random start by
  :func:`theory_lab.critical.find_critical_point` (mode ``"minimum"``), at ``Φ ≈ 0``;
* ``bad``: THEORY.md's critical point outside ``S_k``, ``U_2 = 0``, ``U_3 = 0``, ``b_3 = ȳ``
  (:func:`theory_lab.loss_surface.bad_critical_point` with ``k = 1``), at ``Φ = ½‖Y − 1ȳᵀ‖² > 0``.

At each, the Hessian ``∇²Φ (P, P)`` is seen through its matvec
(:class:`theory_lab.derivatives.HessianMatvec`): the density by stochastic Lanczos quadrature
(:func:`theory_lab.spectrum.slq_density`), the extreme eigenpairs by Lanczos
(:func:`theory_lab.spectrum.lanczos`) and, for ``P ≤ exact_max``, every eigenvalue with the
inertia (:func:`theory_lab.spectrum.inertia`).

Prediction (THEORY.md §4): at a zero-loss point ``∇²Φ = JᵀJ``, so at least ``P − Nm``
eigenvalues are zero and none is negative; a few large outliers stand out of the bulk. At
the bad point the residual term adds negative curvature: a strict saddle.

Example (the network and its size; ``spectra(20)`` runs the demo in about 15 s):
    >>> from theory_lab import derivatives as D
    >>> from theory_lab.demos import wide_architecture
    >>> arch = wide_architecture(20)
    >>> arch.widths, D.objective(arch).P
    ((64, 36, 24, 10), 1183)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory_lab.demos.common import (Progress, activation_name, digit_count, new_figure, positive_int, seed_int,
                                     slide_style, tick, zero_residual)
from theory_lab.validate import is_integer

__all__ = ["wide_architecture", "Landmarks", "landmarks", "PointSpectrum", "Spectra", "spectra", "spectra_figure",
           "spectra_explanation"]

ITEM = "THEORY.md §4 (at Φ = 0, ∇²Φ = JᵀJ) and the bad critical point outside S_k (§3)"
NOISE = 1e-6
POINTS = ("minimum", "bad")


def wide_architecture(N: int, activation: str = "sigmoid", width: int | None = None):
    """``8x8x1 → Conv(⌈N/36⌉, 3x3) → Dense(n_2) → Output(10)``: ``n_1 ≥ N``; ``n_2 = width``, default ``N + 4``."""
    from theory_lab.arch import Architecture, Conv, Dense, Output

    n2 = N + 4 if width is None else positive_int(width, "width", "e.g. 24")
    return Architecture((8, 8, 1), (Conv(-(-N // 36), (3, 3), activation=activation),
                                    Dense(n2, activation=activation), Output(10)))


@dataclass(frozen=True)
class Landmarks:
    """The wide network, its data, a zero-loss minimum and the bad critical point (``k = 1``)."""

    arch: object
    X: np.ndarray = field(repr=False)
    Y: np.ndarray = field(repr=False)
    params: dict = field(repr=False)
    search: dict
    dataset: dict = field(default_factory=dict)  # ``Dataset.provenance`` of X, Y

    @property
    def N(self) -> int:
        return int(self.X.shape[0])


def landmarks(N: int = 20, *, seed: int = 0, activation: str = "sigmoid", width: int | None = None,
              max_iter: int = 200) -> Landmarks:
    """The two points of :func:`spectra` (see the module docstring); ``search`` is the finder's report, with
    ``zero_loss`` decided on ``‖F_L − Y‖`` by :func:`~theory_lab.demos.common.zero_residual` (``None``: undecided)."""
    from theory_lab import critical, data, loss_surface
    from theory_lab.sampling import sample_params

    N = digit_count(N, "N", "e.g. 20")
    seed = seed_int(seed)
    activation = activation_name(activation)
    ds = data.digits(N, noise=NOISE, seed=seed)
    arch = wide_architecture(N, activation, width)
    res = critical.find_critical_point(arch, sample_params(arch, np.random.default_rng([seed, 0])), ds.X, ds.Y,
                                       k=1, classify=False, max_iter=max_iter)
    bad = loss_surface.bad_critical_point(arch, sample_params(arch, np.random.default_rng([seed, 1])), ds.Y, 1)
    relative, zero = zero_residual(res.residual_norm, ds.Y)  # the library's rule on ‖F_L − Y‖ (None: undecided)
    search = {"converged": res.converged, "loss": res.loss, "relative_residual": relative,
              "relative_loss": relative ** 2, "zero_loss": zero, "grad_norm": res.grad_norm,
              "iterations": res.iterations, "message": res.message, "in_S_k": res.in_S_k}
    return Landmarks(arch, ds.X, ds.Y, {"minimum": res.params, "bad": bad}, search, ds.provenance)


@dataclass(frozen=True)
class PointSpectrum:
    """The spectrum of ``∇²Φ`` at one point.

    ``negative``/``zero``/``positive`` count eigenvalues ``< −tol``, in ``[−tol, tol]``,
    ``> tol`` (exact when ``eigenvalues`` is not None, else SLQ estimates); ``margin`` is the
    exact inertia's distance to the tolerance as a factor. ``top``/``bottom`` are Lanczos'
    extreme eigenvalues with their residuals and ``converged`` flags (top first); a zero
    cluster slows the bottom pairs at a minimum, and an unconverged pair is not drawn.
    """

    point: str
    loss: float
    grad_norm: float
    negative: float
    zero: float
    positive: float
    tol: float
    margin: float | None
    method: str
    top: tuple
    bottom: tuple
    residuals: tuple
    converged: tuple
    density: object = field(repr=False)
    eigenvalues: np.ndarray | None = field(default=None, repr=False)

    @property
    def decided(self) -> bool:
        """The counts are decisions: every eigenvalue computed (``"exact"``) and none inside the band around
        ``tol`` (margin ≥ :data:`~theory_lab.linalg.DEFAULT_BAND`). SLQ counts are estimates and decide nothing."""
        from theory_lab.linalg import DEFAULT_BAND

        return self.method == "exact" and self.margin is not None and float(self.margin) >= DEFAULT_BAND

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("point", "loss", "grad_norm", "negative", "zero", "positive", "tol",
                                             "margin", "method", "decided")}
        out.update(top=list(self.top), bottom=list(self.bottom), lanczos_residuals=list(self.residuals),
                   lanczos_converged=list(self.converged),
                   slq={"nodes": self.density.nodes.tolist(), "weights": self.density.weights.tolist(),
                        "lambda_min": self.density.lambda_min, "lambda_max": self.density.lambda_max},
                   eigenvalues=None if self.eigenvalues is None else self.eigenvalues.tolist())
        if out["margin"] == float("inf"):
            out["margin"] = "inf"
        elif out["margin"] is not None and math.isnan(out["margin"]):  # SLQ: no margin; NaN is not JSON
            out["margin"] = None
        return out


@dataclass(frozen=True)
class Spectra:
    """All numbers of the spectra demo: ``P`` parameters, ``Nm`` residuals, one :class:`PointSpectrum` per point."""

    N: int
    P: int
    Nm: int
    widths: tuple
    seed: int
    activation: str
    search: dict
    spectra: tuple
    datasets: tuple = ()  # provenance of the data (``Dataset.provenance``)

    def at(self, point: str) -> PointSpectrum:
        return next(s for s in self.spectra if s.point == point)

    @property
    def decided(self) -> bool:
        """Both points' counts are exact and conclusive (:attr:`PointSpectrum.decided`), and the bad point is bad
        (``Φ > 0``; with one sample ``Y = 1ȳᵀ`` and it is a global minimum): only then can they agree."""
        return all(s.decided for s in self.spectra) and self.at("bad").loss > 0

    @property
    def agrees(self) -> bool:
        """Minimum (found, at ``Φ = 0``, where ``∇²Φ = JᵀJ``): no negative eigenvalue, at least ``P − Nm``
        zeros; bad point: some negative — all counted exactly and conclusively (:attr:`decided`). An SLQ estimate
        of 539.01 zeros against ``P − Nm = 539`` (exact: 539) is no evidence either way."""
        m, b = self.at("minimum"), self.at("bad")
        return bool(self.decided and self.search["converged"] and self.search["zero_loss"] and m.negative == 0
                    and m.zero >= self.P - self.Nm and b.negative > 0)

    def to_dict(self) -> dict:
        return {"demo": "spectra", "item": ITEM, "datasets": list(self.datasets), "N": self.N, "P": self.P, "Nm": self.Nm, "widths": list(self.widths),
                "seed": self.seed, "activation": self.activation, "noise": NOISE, "minimum_search": self.search,
                "prediction": "minimum: no negative eigenvalue and >= P - Nm zeros; bad point: negative eigenvalues",
                "decided": self.decided, "agrees": self.agrees, "points": [s.to_dict() for s in self.spectra]}


def spectra(N: int = 20, *, seed: int = 0, activation: str = "sigmoid", width: int | None = None,
            num_probes: int = 8, num_matvecs: int = 80, k: int = 5, exact_max: int = 2000,
            progress: Progress | None = None) -> Spectra:
    """Hessian spectra at the zero-loss minimum and the bad critical point of :func:`landmarks`.

    Args:
        N: number of digits (``P`` grows like ``N²``; the default 20 gives ``P = 1183``).
        seed: seeds the noise, both points' parameters and every probe.
        activation: every hidden activation.
        width: ``n_2`` of the dense layer (default ``N + 4``).
        num_probes, num_matvecs: SLQ's probes and Lanczos steps per probe (capped at ``P``).
        k: Lanczos eigenpairs at each end.
        exact_max: all eigenvalues (dense) when ``P ≤ exact_max``; else SLQ estimates only (0: always SLQ).
        progress: ``progress(done, total, message)`` after each stage.
    """
    import jax

    from theory_lab import derivatives as D
    from theory_lab import spectrum

    num_probes = positive_int(num_probes, "num_probes", "e.g. 8")
    num_matvecs = positive_int(num_matvecs, "num_matvecs", "e.g. 80")
    k = positive_int(k, "k", "e.g. 5")
    if not is_integer(exact_max) or exact_max < 0:  # before the search: a str or None failed after it, a TypeError
        raise ValueError(f"`exact_max`={exact_max!r} must be a non-negative integer (the largest P whose eigenvalues "
                         "are all computed; 0: SLQ estimates only), e.g. 2000.")
    total = 1 + 3 * len(POINTS)
    lm = landmarks(N, seed=seed, activation=activation, width=width)
    tick(progress, 1, total, "spectra: zero-loss minimum found")
    obj = D.objective(lm.arch)
    A = D.HessianMatvec(obj)
    P = obj.P
    root = jax.random.key(seed)
    out, done = [], 1
    for i, name in enumerate(POINTS):
        theta = obj.layout.ravel(lm.params[name])
        value, g = D.value_and_gradient(obj, theta, lm.X, lm.Y)
        density = spectrum.slq_density(A, P, jax.random.fold_in(root, 2 * i), theta, lm.X, lm.Y,
                                       num_probes=num_probes, num_matvecs=min(num_matvecs, P))
        done += 1
        tick(progress, done, total, f"spectra: SLQ density at the {name} point")
        top, bottom = spectrum.lanczos(A, P, jax.random.fold_in(root, 2 * i + 1), theta, lm.X, lm.Y, k=min(k, P),
                                       which="both", num_matvecs=min(max(8 * k, 128), P))
        done += 1
        tick(progress, done, total, f"spectra: Lanczos at the {name} point")
        if P <= exact_max:
            inertia = spectrum.inertia(A, P, theta, lm.X, lm.Y, exact_max=exact_max)
        else:
            inertia = spectrum.inertia(A, P, theta, lm.X, lm.Y, density=density)
        done += 1
        tick(progress, done, total, f"spectra: inertia at the {name} point ({inertia.method})")
        out.append(PointSpectrum(name, float(value), float(np.linalg.norm(np.asarray(g))), inertia.negative,
                                 inertia.zero, inertia.positive, inertia.tol, inertia.margin, inertia.method,
                                 tuple(top.values.tolist()), tuple(bottom.values.tolist()),
                                 tuple(np.r_[top.residuals, bottom.residuals].tolist()),
                                 tuple(bool(c) for c in np.r_[top.converged, bottom.converged]), density,
                                 inertia.eigenvalues))
    return Spectra(lm.N, P, lm.N * 10, tuple(lm.arch.widths), seed, activation, lm.search, tuple(out), (lm.dataset,))


def spectra_explanation(result: Spectra) -> str:
    """A few sentences for the lecturer, generated from the numbers, citing the THEORY item."""
    m, b = result.at("minimum"), result.at("bad")

    def counts(s):
        return (f"{s.negative:.0f} negative, {s.zero:.0f} zero (|λ| ≤ {s.tol:.1e}), {s.positive:.0f} positive "
                f"({s.method}); largest {s.top[0]:.3g}")

    verdict = ("As predicted" if result.agrees else "NOT as predicted (see the JSON)" if result.decided else
               "Not decided: the bad point fits the data (Φ = 0), so it is no bad point" if result.at("bad").loss <= 0
               else "Not decided: the counts are SLQ estimates or inside the tolerance band (exact_max >= P counts them)")
    return (f"{ITEM}. Wide net, P = {result.P} parameters, Nm = {result.Nm} residuals. At the minimum "
            f"(Φ = {m.loss:.1e}): {counts(m)}; at least P − Nm = {result.P - result.Nm} zeros are forced by "
            f"∇²Φ = JᵀJ. At the bad point U_2 = U_3 = 0 (Φ = {b.loss:.3g}, outside S_1): {counts(b)}, most negative "
            f"{b.bottom[0]:.3g}: {_saddle(b)}. {verdict}.")


def _saddle(b: PointSpectrum) -> str:
    if b.negative > 0:
        return "a strict saddle"
    why = " (Φ = 0 there: with so few samples the bad point fits the data)" if b.loss == 0 else ""
    return f"no conclusive negative eigenvalue, so not shown to be a strict saddle{why}"


_TITLES = {"minimum": "zero-loss minimum", "bad": "bad critical point U₂ = U₃ = 0"}


def spectra_figure(result: Spectra):
    """Figure: eigenvalue counts per bin (symlog axis), exact (bars) vs SLQ (steps), per point."""
    with slide_style():
        return _figure(result)


def _bins(tol: float, hi: float, n: int = 24) -> np.ndarray:
    pos = np.geomspace(tol, max(hi, 10 * tol) * 1.05, n)
    return np.r_[-pos[::-1], pos]


def _figure(result: Spectra):
    fig = new_figure((13, 6))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    tol = max(s.tol for s in result.spectra)
    hi = max(max(abs(s.density.lambda_min), abs(s.density.lambda_max)) for s in result.spectra)
    edges = _bins(tol, hi)
    exps = range(int(np.ceil(np.log10(hi))), int(np.ceil(np.log10(tol))), -4)
    ticks = sorted([10.0 ** e for e in exps] + [-(10.0 ** e) for e in exps] + [0.0])
    for ax, s in zip(axes, result.spectra):
        d = s.density
        slq, _ = np.histogram(d.nodes.ravel(), edges, weights=d.weights.ravel() * result.P / d.num_probes)
        if s.eigenvalues is not None:
            exact, _ = np.histogram(s.eigenvalues, edges)
            ax.bar(edges[:-1], exact, width=np.diff(edges), align="edge", color="tab:blue", alpha=0.45,
                   label=f"exact eigenvalues (all {result.P}, dense)")
        ax.stairs(np.maximum(slq, 0), edges, color="k", lw=1.4,
                  label=f"SLQ estimate ({d.num_probes} probes × {d.nodes.shape[1]} steps; smears the zero cluster)")
        ax.axvspan(-tol, tol, color="gold", alpha=0.35, label=f"zero band |λ| ≤ {tol:.0e}")
        ends = [v for v, c in zip(s.top + s.bottom, s.converged) if c]
        ax.plot(ends, [0.7] * len(ends), "v", color="k", ms=7, transform=ax.get_xaxis_transform(),
                label="Lanczos extreme eigenvalues (converged pairs)")
        ax.set_xscale("symlog", linthresh=tol, linscale=0.6)
        ax.set_xticks(ticks)
        ax.set_yscale("log")
        ax.set_ylim(0.5, result.P * 2)
        ax.set_xlabel("Hessian eigenvalue λ of ∇²Φ (symmetric log scale)")
        ax.set_title(f"{_TITLES[s.point]}, Φ = {s.loss:.2g}\neigenvalues: {s.negative:.0f} negative, "
                     f"{s.zero:.0f} zero, {s.positive:.0f} positive ({s.method})")
        marks = [(0.0, "zero\ncluster"), (s.top[0], "outliers")]
        if s.negative > 0:
            marks.append((s.bottom[0] if s.eigenvalues is None else float(s.eigenvalues[0]), "negative"))
        for x, text in marks:
            ax.text(x, 0.8, text, ha="center", va="bottom", fontsize=11, transform=ax.get_xaxis_transform())
    axes[0].set_ylabel("number of eigenvalues per bin")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=10)
    fig.suptitle(f"Hessian spectrum of a wide CNN, P = {result.P}, Nm = {result.Nm}: "
                 f"at Φ = 0 at least P − Nm = {result.P - result.Nm} zeros, none negative")
    return fig
