"""Loss slices around critical points (:func:`slices`; Theorem 4.5, its converses, THEORY.md §4).

Three points: the wide net's zero-loss minimum and its bad critical point ``U_2 = U_3 = 0``
(:func:`~theory_lab.demos.landmarks`), and a local minimum with ``Φ > 0`` of the narrow net of
:func:`~theory_lab.demos.wide_and_narrow` (first start, of ``starts``, that
:func:`theory_lab.critical.find_critical_point` certifies as a strict minimum). At each
point ``θ``, three unit directions: the Hessian's top and bottom eigenvectors (Lanczos,
:func:`theory_lab.spectrum.lanczos` on :class:`theory_lab.derivatives.HessianMatvec`) and a
seeded random one. The loss ``Φ(θ + t v)`` on ``t ∈ [−radius, radius]`` (1-D) and
``Φ(θ + a v_random + b v_bottom)`` on a square (2-D) are evaluated on vmapped grids, beside the
quadratic model ``Φ(θ) + ½ t² vᵀ∇²Φ v``.

What to see: at a minimum every slice rises; at the bad point the bottom direction goes
down (negative curvature), a saddle; the narrow minimum sits at ``Φ > 0``.

Example (the vmapped grid; ``slices(20)`` runs the demo in about 30 s):
    >>> import numpy as np
    >>> from theory_lab import derivatives as D
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.demos import loss_on_grid
    >>> obj = D.objective(Architecture((2,), (Dense(3), Output(1))))
    >>> X, Y = np.ones((4, 2)), np.zeros((4, 1))
    >>> V = np.eye(obj.P)[:1]  # one direction: the first weight
    >>> loss_on_grid(obj, np.zeros(obj.P), V, np.array([[0.0], [1.0]]), X, Y).shape
    (2,)
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from theory_lab.demos.common import (Progress, digit_count, new_figure, positive_int, seed_int, slide_style, tick,
                                     zero_loss_label)

__all__ = ["Slice", "PointSlices", "Slices", "slices", "slices_figure", "slices_explanation", "loss_on_grid"]

ITEM = "Theorem 4.5, the bad critical point outside S_k (§3) and the Hessian at Φ = 0 (§4)"
DIRECTIONS = ("top", "bottom", "random")
POINTS = ("wide minimum", "bad point", "narrow minimum")


def loss_on_grid(obj, theta, V, coords, X, Y):
    """``Φ(θ + coords @ V)`` for every row of ``coords (G, d)``, directions ``V (d, P)``: ``(G,)``, vmapped."""
    import jax.numpy as jnp

    return _loss_on_grid(obj, jnp.asarray(theta), jnp.asarray(V), jnp.asarray(coords), jnp.asarray(X),
                         jnp.asarray(Y))


@functools.lru_cache(maxsize=None)
def _grid_fn(obj):
    import jax

    from theory_lab import derivatives as D

    return jax.jit(jax.vmap(lambda c, theta, V, X, Y: D.loss(obj, theta + c @ V, X, Y),
                            in_axes=(0, None, None, None, None)))


def _loss_on_grid(obj, theta, V, coords, X, Y):
    return _grid_fn(obj)(coords, theta, V, X, Y)


@dataclass(frozen=True)
class Slice:
    """``Φ(θ + t v)`` along one unit direction: ``t (G,)``, ``values (G,)``, curvature ``vᵀ∇²Φ v``."""

    direction: str
    t: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    curvature: float

    def to_dict(self) -> dict:
        return {"direction": self.direction, "t": self.t.tolist(), "values": self.values.tolist(),
                "curvature": self.curvature}


@dataclass(frozen=True)
class PointSlices:
    """The slices at one point; ``plane[i, j] = Φ(θ + a_i v_random + b_j v_bottom)``; ``tol`` is the
    rounding level of ``Φ`` there."""

    point: str
    network: str
    loss: float
    grad_norm: float
    kind: str
    slices: tuple
    plane: np.ndarray = field(repr=False)
    tol: float

    def along(self, direction: str) -> Slice:
        return next(s for s in self.slices if s.direction == direction)

    @property
    def rises_everywhere(self) -> bool:
        """Every 1-D and 2-D grid value is ``≥ Φ(θ) − tol``: a minimum along each slice."""
        low = min(min(float(s.values.min()) for s in self.slices), float(self.plane.min()))
        return low >= self.loss - self.tol

    def descends(self, direction: str) -> bool:
        """Some value along ``direction`` lies below ``Φ(θ) − tol``."""
        return float(self.along(direction).values.min()) < self.loss - self.tol

    def to_dict(self) -> dict:
        return {"point": self.point, "network": self.network, "loss": self.loss, "grad_norm": self.grad_norm,
                "kind": self.kind, "tol": self.tol, "rises_everywhere": self.rises_everywhere,
                "slices": [s.to_dict() for s in self.slices], "plane_random_bottom": self.plane.tolist()}


@dataclass(frozen=True)
class Slices:
    """All numbers of the slices demo."""

    N: int
    narrow_N: int
    seed: int
    radius: float
    grid: int
    grid2d: int
    points: tuple
    datasets: tuple = ()  # provenance of the wide and the narrow net's data (``Dataset.provenance``)
    search: dict = field(default_factory=dict)  # the wide minimum's finder report (``Landmarks.search``)

    def at(self, point: str) -> PointSlices:
        return next(p for p in self.points if p.point == point)

    @property
    def wide_minimum_found(self) -> bool:
        """The wide net's point is what the prediction speaks about: the search converged, at ``Φ = 0``."""
        return bool(self.search.get("converged") and self.search.get("zero_loss"))

    @property
    def decided(self) -> bool:
        """The prediction's premises hold: the wide minimum was found (converged, ``Φ = 0``) and the bad point is
        bad (``Φ > tol``; with one sample ``Y = 1ȳᵀ`` and it is a global minimum, with nothing to descend to)."""
        bad = self.at("bad point")
        return self.wide_minimum_found and bad.loss > bad.tol

    @property
    def agrees(self) -> bool:
        """Premises met (:attr:`decided`); minima rise along every slice; the bad point descends along its
        bottom eigenvector."""
        mins = [p for p in self.points if p.point != "bad point"]
        return self.decided and all(p.rises_everywhere for p in mins) and self.at("bad point").descends("bottom")

    def to_dict(self) -> dict:
        return {"demo": "slices", "item": ITEM, "datasets": list(self.datasets), "N": self.N, "narrow_N": self.narrow_N, "seed": self.seed, "radius": self.radius,
                "grid": self.grid, "grid2d": self.grid2d, "wide_minimum_search": self.search, "decided": self.decided,
                "agrees": self.agrees,
                "prediction": "minima rise along every slice; the bad point descends along its bottom eigenvector",
                "points": [p.to_dict() for p in self.points]}


def _narrow_minimum(N: int, seed: int, activation: str, starts: int):
    from theory_lab import critical, data
    from theory_lab.demos._critical_points import NOISE, wide_and_narrow
    from theory_lab.sampling import sample_params

    arch = wide_and_narrow(N, activation)["narrow"]
    ds = data.digits(N, noise=NOISE, seed=seed)
    for i in range(starts):
        res = critical.find_critical_point(arch, sample_params(arch, np.random.default_rng([seed, 1, 0, i])),
                                           ds.X, ds.Y, k=1, max_iter=200)
        if res.kind == "minimum" and res.inertia.conclusive:
            return arch, ds, res
    raise RuntimeError(f"none of {starts} starts on the narrow net reached a strict local minimum "
                       "(‖∇Φ‖ ≤ 1e-10, all Hessian eigenvalues conclusively > 0); raise `starts` or change `seed`.")


def slices(N: int = 20, *, narrow_N: int = 40, seed: int = 0, activation: str = "sigmoid", width: int | None = None,
           radius: float = 1.0, grid: int = 41, grid2d: int = 31, starts: int = 12,
           progress: Progress | None = None) -> Slices:
    """1-D and 2-D loss slices around the three points (see the module docstring).

    Args:
        N: number of digits for the wide network (its ``P`` grows like ``N²``).
        narrow_N: number of digits for the narrow network (``n_1 = 4``; with too few samples its
            critical points are degenerate, units saturating at ``‖θ‖ → ∞``, rather than strict minima).
        seed: seeds the data noise, the points, the Lanczos starts and the random direction.
        activation: every hidden activation.
        width: ``n_2`` of the wide net's dense layer (default ``N + 4``).
        radius: half-width of the slices in parameter space (directions have unit norm).
        grid: points per 1-D slice (odd, so ``t = 0`` is on it); grid2d: points per side of the 2-D square.
        starts: random starts tried for the narrow net's strict local minimum.
        progress: ``progress(done, total, message)`` after each stage.
    """
    import jax

    from theory_lab import derivatives as D
    from theory_lab import spectrum
    from theory_lab.demos._critical_points import narrow_width, wide_and_narrow
    from theory_lab.demos._spectra import landmarks

    seed = seed_int(seed)
    grid = positive_int(grid, "grid", "e.g. 41")
    grid2d = positive_int(grid2d, "grid2d", "e.g. 31")
    starts = positive_int(starts, "starts", "e.g. 12")
    if grid % 2 == 0 or grid2d % 2 == 0 or grid < 3 or grid2d < 3:
        raise ValueError(f"`grid`={grid} and `grid2d`={grid2d} must be odd and at least 3, so that t = 0 is a "
                         "grid point; e.g. grid=41, grid2d=31.")
    if not (isinstance(radius, (int, float)) and np.isfinite(radius) and radius > 0):
        raise ValueError(f"`radius`={radius!r} must be a positive finite number, e.g. 1.0.")
    narrow_N = digit_count(narrow_N, "narrow_N", "e.g. 40")  # checked before the wide net's search
    narrow_width(narrow_N, wide_and_narrow(narrow_N, activation)["narrow"], "narrow_N")
    total = 2 + len(POINTS)
    lm = landmarks(N, seed=seed, activation=activation, width=width)
    tick(progress, 1, total, "slices: wide net's zero-loss minimum found")
    narrow_arch, nds, nres = _narrow_minimum(narrow_N, seed, activation, starts)
    tick(progress, 2, total, "slices: narrow net's local minimum found")
    cases = [("wide minimum", "wide", lm.arch, lm.params["minimum"], lm.X, lm.Y),
             ("bad point", "wide", lm.arch, lm.params["bad"], lm.X, lm.Y),
             ("narrow minimum", "narrow", narrow_arch, nres.params, nds.X, nds.Y)]
    t = np.linspace(-radius, radius, grid)
    a = np.linspace(-radius, radius, grid2d)
    plane = np.stack(np.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)
    root = jax.random.key(seed)
    out = []
    for i, (name, net, arch, params, X, Y) in enumerate(cases):
        obj = D.objective(arch)
        A = D.HessianMatvec(obj)
        theta = obj.layout.ravel(params)
        value, g = D.value_and_gradient(obj, theta, X, Y)
        top, bottom = spectrum.lanczos(A, obj.P, jax.random.fold_in(root, i), theta, X, Y, k=1, which="both",
                                       num_matvecs=min(128, obj.P))
        rnd = np.random.default_rng([seed, 7, i]).standard_normal(obj.P)
        V = np.stack([top.vectors[0], bottom.vectors[0], rnd / np.linalg.norm(rnd)])
        curv = [float(np.dot(v, np.asarray(A(v, theta, X, Y)))) for v in V]
        rows = []
        for d, name_d in enumerate(DIRECTIONS):
            coords = np.zeros((grid, 3))
            coords[:, d] = t
            rows.append(Slice(name_d, t, np.asarray(loss_on_grid(obj, theta, V, coords, X, Y)), curv[d]))
        coords = np.zeros((plane.shape[0], 3))
        coords[:, 2], coords[:, 1] = plane[:, 0], plane[:, 1]
        values2 = np.asarray(loss_on_grid(obj, theta, V, coords, X, Y)).reshape(grid2d, grid2d)
        # Φ is a sum of N·m squares each computed to a few ulps of ½‖Y‖²-sized terms
        tol = 1e3 * np.finfo(np.float64).eps * max(float(value), 0.5 * float(np.sum(np.asarray(Y) ** 2)))
        point = PointSlices(name, net, float(value), float(np.linalg.norm(np.asarray(g))), nres.kind, tuple(rows),
                            values2, float(tol))
        out.append(dataclasses.replace(point, kind=_kind(point, lm.search)) if net == "wide" else point)
        tick(progress, 3 + i, total, f"slices: {name}")
    return Slices(lm.N, narrow_N, seed, float(radius), grid, grid2d, tuple(out), (lm.dataset, nds.provenance),
                  dict(lm.search))


def _kind(point: PointSlices, search: dict) -> str:
    """The wide net's points named from the evidence, not assumed: the search's report, the bottom slice."""
    if point.point == "bad point":
        if point.loss <= point.tol:
            return "U_2 = U_3 = 0 fits the data (Φ = 0): not a bad point"
        return "saddle (bad point)" if point.descends("bottom") else "bad critical point, no descent seen"
    if search.get("converged") and search.get("zero_loss"):
        return "minimum (Φ = 0)"
    return (f"search point, not a verified zero-loss minimum (converged: {bool(search.get('converged'))}, "
            f"zero loss: {zero_loss_label(search.get('zero_loss'))}, "
            f"‖F_L − Y‖/‖Y‖ = {search.get('relative_residual', float('nan')):.1e})")


def slices_explanation(result: Slices) -> str:
    """A few sentences for the lecturer, generated from the numbers, citing the THEORY item."""
    parts = []
    for p in result.points:
        c = ", ".join(f"{s.direction} {s.curvature:.3g}" for s in p.slices)
        shape = "rises along every slice" if p.rises_everywhere else \
            "descends along " + ", ".join(s.direction for s in p.slices if p.descends(s.direction))
        parts.append(f"{p.point} (Φ = {p.loss:.3g}): {shape}; curvatures vᵀ∇²Φv: {c}")
    verdict = ("As predicted: the wide net's minimum is global (Φ = 0), the bad point is a saddle one can roll off, "
               "the narrow net's minimum is a true local minimum above zero." if result.agrees else
               "NOT as predicted (see the JSON): " + "; ".join(f"{p.point}: {p.kind}" for p in result.points) + ".")
    return (f"{ITEM}. Slices of radius {result.radius:g} along the top and bottom Hessian eigenvectors and a random "
            f"direction: " + "; ".join(parts) + f". {verdict}")


_COLORS = {"top": "tab:blue", "bottom": "tab:red", "random": "tab:gray"}


def slices_figure(result: Slices):
    """Figure: per point (rows), the three 1-D slices of ``Φ(θ+tv) − Φ(θ)`` and the 2-D (random, bottom) contour."""
    with slide_style():
        return _figure(result)


def _figure(result: Slices):
    n = len(result.points)
    fig = new_figure((15, 4.1 * n))
    axes = fig.subplots(n, 4)
    for row, p in zip(axes, result.points):
        for ax, s in zip(row[:3], p.slices):
            ax.plot(s.t, s.values - p.loss, color=_COLORS[s.direction], lw=2, label="Φ(θ + t v) − Φ(θ)")
            ax.plot(s.t, 0.5 * s.curvature * s.t ** 2, "k--", lw=1.2, label=f"½ t² vᵀ∇²Φv  (vᵀ∇²Φv = {s.curvature:.3g})")
            ax.axhline(0, color="0.6", lw=0.8)
            ax.set_title(f"{s.direction} {'eigenvector' if s.direction != 'random' else 'direction'}", pad=12)
            ax.set_xlabel("step t along the unit direction v")
            ax.legend(loc="best", fontsize=9)
        row[0].set_ylabel(f"{p.point.upper()}, Φ(θ) = {p.loss:.2g}\nΦ(θ + t v) − Φ(θ)")
        ax = row[3]
        a = np.linspace(-result.radius, result.radius, result.grid2d)
        cs = ax.contourf(a, a, (p.plane - p.loss).T, levels=20, cmap="viridis")
        fig.colorbar(cs, ax=ax, label="Φ − Φ(θ)")
        ax.plot([0], [0], "w*", ms=12)
        ax.set_xlabel("a (random direction)")
        ax.set_ylabel("b (bottom eigenvector)")
        ax.set_title("Φ(θ + a v_random + b v_bottom) − Φ(θ)")
    fig.suptitle(f"Loss slices (radius {result.radius:g}; wide net N = {result.N}, narrow net N = {result.narrow_N}): "
                 "minima rise in every direction, "
                 "the bad point is a saddle")
    return fig
