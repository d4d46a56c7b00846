"""Spectra of a symmetric operator given only ``v -> A v``: eigenpairs, density, trace, inertia.

An *operator* is a hashable callable ``matvec(v, *params) -> A v`` on flat float64
vectors of length ``dim`` (for example :class:`theory_lab.derivatives.HessianMatvec`,
or :func:`dense_matvec` with ``params = (A,)``). It is a static argument of the
jitted routines here and ``params`` are their arguments. If the operator has a
``prepare(*params) -> (v -> A v)`` method, it is called once per run, inside the
jit, before any product (the Hessian linearises its gradient there).

* :func:`lanczos` — top-``k`` / bottom-``k`` eigenpairs by Lanczos with full
  reorthogonalisation (:mod:`theory_lab.krylov`), each with its residual
  ``‖Av − λv‖`` and a ``converged`` flag; the Krylov basis is extended (never
  restarted) until the requested pairs converge or ``max_matvecs`` is reached, and
  survives the Krylov space running out (an operator of low rank).
* :func:`slq_density` — stochastic Lanczos quadrature over several probes: nodes,
  weights, a Gaussian-smoothed density, the extreme Ritz values (:class:`Density`).
* :func:`hutchinson`, :func:`hutch_plus_plus`, :func:`xtrace` — trace estimates with
  standard errors (:class:`TraceEstimate`); :func:`trace_exact` for small ``dim``.
* :func:`inertia` — counts of negative, near-zero and positive eigenvalues, exact
  (dense ``eigvalsh``) for small ``dim`` and estimated from a :class:`Density` otherwise.
* :func:`wasserstein1` — W1 distance between a density's quadrature measure and
  exact eigenvalues.

Every random probe comes from the explicit ``key`` argument.

A caveat of all single-vector Krylov methods: a repeated eigenvalue is found once
per Krylov space (which sees one direction of its eigenspace). :func:`lanczos` finds
further copies only when the space runs out and it continues from a fresh vector
(an operator of low rank, see :mod:`theory_lab.krylov`); in general multiplicities —
a null space, say — are counted by :func:`inertia`, not by :func:`lanczos`.

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import spectrum
    >>> A = np.diag(np.arange(1.0, 51.0))
    >>> top = spectrum.lanczos(spectrum.dense_matvec, 50, jax.random.key(0), A, k=3)
    >>> np.round(top.values, 8).tolist(), bool(top.converged.all())
    ([50.0, 49.0, 48.0], True)
    >>> est = spectrum.hutchinson(spectrum.dense_matvec, 50, jax.random.key(1), A, num_matvecs=20)
    >>> est.estimate, est.stderr  # Rademacher probes are exact on a diagonal matrix
    (1275.0, 0.0)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from matfree import stochtrace

from theory_lab import krylov

from theory_lab.linalg import Inertia, inertia_report

__all__ = ["Eigenpairs", "Density", "TraceEstimate", "Inertia", "dense_matvec", "materialize", "lanczos",
           "slq_density", "hutchinson", "hutch_plus_plus", "xtrace", "trace_exact", "trace_estimates",
           "inertia", "wasserstein1", "exact_density"]

EPS = float(np.finfo(np.float64).eps)


def dense_matvec(v, A):
    """``A @ v`` — the operator of an explicit symmetric matrix ``A`` (pass ``A`` as the param)."""
    return A @ v


def _bind(matvec, params) -> Callable:
    prepare = getattr(matvec, "prepare", None)
    if prepare is not None:
        return prepare(*params)
    return lambda v: matvec(v, *params)


@functools.lru_cache(maxsize=64)
def _output_shape(matvec, dim, tree, specs):
    # tracing a Hessian's preparation costs ~0.3 s: once per operator and parameter shapes
    v = jax.ShapeDtypeStruct((dim,), jnp.float64)
    params = jax.tree_util.tree_unflatten(tree, [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in specs])
    return jax.eval_shape(lambda u, *p: _bind(matvec, p)(u), v, *params)


def _check_operator(matvec, dim, params, name="matvec"):
    if not callable(matvec):
        raise TypeError(f"`{name}` must be a callable matvec(v, *params) -> A v, got {type(matvec).__name__}.")
    try:
        hash(matvec)
    except TypeError:
        raise TypeError(f"`{name}` must be hashable (it is a static argument of jit); use a module-level function "
                        "or a frozen dataclass such as derivatives.HessianMatvec, and pass arrays as params.") from None
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"`dim`={dim!r} must be a positive integer (the operator's size).")
    leaves, tree = jax.tree_util.tree_flatten(params)
    out = _output_shape(matvec, int(dim), tree, tuple((np.shape(x), jnp.result_type(x)) for x in leaves))
    if out.shape != (dim,) or out.dtype != jnp.float64:
        raise ValueError(f"`{name}` maps a float64 ({dim},) vector to {out.dtype}{tuple(out.shape)}; expected "
                         f"float64 ({dim},). Check `dim` and `params`.")


def _key(key, name="key"):
    if not isinstance(key, jax.Array) or not (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape == (2,)):
        raise TypeError(f"`{name}` must be a jax.random key (jax.random.key(seed)), got {type(key).__name__}; "
                        "every random probe comes from an explicit key.")
    return key


def _cols(apply, dim, batch):
    def col(i):
        return apply(jax.nn.one_hot(i, dim, dtype=jnp.float64))
    return jax.lax.map(col, jnp.arange(dim), batch_size=min(batch, dim))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _materialize(matvec, dim, batch, params):
    A = _cols(_bind(matvec, params), dim, batch)
    return 0.5 * (A + A.T)


def materialize(matvec, dim: int, *params, batch: int | None = None) -> jax.Array:
    """The dense symmetric matrix ``(dim, dim)`` of an operator, ``(A + Aᵀ)/2``, from ``dim`` products.

    ``batch=None`` picks per backend: on CPU one product per jitted call driven from
    Python (:func:`theory_lab.krylov.dense`; inside ``lax.map`` each product ran ~4x
    slower, vmapped batches slower still), elsewhere ``lax.map`` with 64 products at a
    time. An explicit ``batch`` always uses ``lax.map`` with that batch.
    """
    _check_operator(matvec, dim, params)
    if batch is None:
        if krylov.driver_for() == "python":
            return krylov.dense(matvec, int(dim), params)
        batch = 64
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"`batch`={batch!r} must be a positive integer (products at once), or None for auto.")
    return _materialize(matvec, int(dim), int(batch), params)


# ----------------------------------------------------------------------------- eigenpairs


@dataclass(frozen=True)
class Eigenpairs:
    """Ritz pairs from Lanczos with their evidence.

    Attributes:
        values: eigenvalue estimates ``(k,)`` (descending for ``"top"``, ascending for ``"bottom"``).
        vectors: unit Ritz vectors ``(k, dim)``.
        residuals: ``‖A v − λ v‖`` for each pair, computed with one fresh product per pair ``(k,)``.
        converged: ``residuals ≤ tol`` ``(k,)``. A converged pair has an eigenvalue of
            ``A`` within its residual (Weyl), so ``|λ − λ_true| ≤ tol``.
        tol: ``rtol · norm``.
        norm: the largest ``|Ritz value|``, a lower bound on ``‖A‖₂``.
        num_matvecs: operator applications of the whole run: Krylov steps plus the residual
            products (for ``which="both"`` the same shared total on both ends).
        which: ``"top"`` or ``"bottom"``.
        depth: Krylov depth of the final basis.
        breakdowns: times the Krylov space ran out (see :mod:`theory_lab.krylov`); after each
            the basis continued from a random vector orthogonal to it.
    """

    values: np.ndarray
    vectors: np.ndarray = field(repr=False)
    residuals: np.ndarray
    converged: np.ndarray
    tol: float
    norm: float
    num_matvecs: int
    which: str
    depth: int = 0
    breakdowns: int = 0

    def to_dict(self) -> dict:
        return {"which": self.which, "values": self.values.tolist(), "residuals": self.residuals.tolist(),
                "converged": self.converged.tolist(), "tol": self.tol, "norm": self.norm,
                "num_matvecs": self.num_matvecs, "depth": self.depth, "breakdowns": self.breakdowns}


GROWTH = 0.05  # the basis is extended by 5 % between convergence checks


def _ends(m: int, k: int, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ascending Ritz values) of the top and bottom pairs; disjoint for ``"both"``."""
    kt = min(k, m) if which in ("top", "both") else 0
    kb = min(k, m - kt) if which in ("bottom", "both") else 0
    return np.arange(m - 1, m - 1 - kt, -1), np.arange(kb)


def _blocks_settled(K, k: int, which: str, tol: float) -> bool:
    """After a breakdown: has the latest restart block run out without improving the wanted ends?

    Once the Krylov space has run out, ``span Q`` is invariant and the remaining spectrum
    (further copies of repeated eigenvalues, more of a null space) lives in its complement.
    A restart block that itself runs out has seen every eigenvalue of the complement its
    start vector touches (all, with probability 1); if none of them beats the ``k``-th value
    of the earlier blocks (ties within ``tol`` allowed), the ends are complete.
    """
    alpha, beta, b_last = K.tridiagonal()
    cuts = np.flatnonzero(beta == 0.0)
    if b_last != 0.0 or cuts.size == 0:
        return False
    s = int(cuts[-1]) + 1
    prev = scipy.linalg.eigvalsh_tridiagonal(alpha[:s], beta[:s - 1]) if s > 1 else alpha[:1]
    new = scipy.linalg.eigvalsh_tridiagonal(alpha[s:], beta[s:]) if alpha.size - s > 1 else alpha[s:]
    if prev.size < k:
        return False
    ok = True
    if which in ("top", "both"):
        ok &= bool(new.max() <= np.sort(prev)[-k] + tol)
    if which in ("bottom", "both"):
        ok &= bool(new.min() >= np.sort(prev)[k - 1] - tol)
    return ok


def lanczos(matvec, dim: int, key, *params, k: int = 5, which: str = "top", num_matvecs: int | None = None,
            max_matvecs: int | None = None, rtol: float = 1e-10, driver: str | None = None):
    """Top-``k`` and/or bottom-``k`` eigenpairs of a symmetric operator by Lanczos.

    Lanczos with full reorthogonalisation (:mod:`theory_lab.krylov`) from the start vector
    ``normal(key, (dim,))``. Without ``num_matvecs`` the Krylov basis is *extended*, never
    restarted: after each extension by 5 % the free residual estimates ``|β_m s_m|`` of the
    requested pairs (last components of the eigenvectors of ``T``) are compared with
    ``tol = rtol · max|θ|``; once all are below it, each requested pair gets one fresh
    product to confirm its residual ``‖Av − θv‖`` (if one fails, the basis is extended
    further). So the run costs at most ≈ 1.05 × the smallest converging depth, plus ``k``
    products per end asked for. When the Krylov space runs out (an operator of low rank)
    the basis continues from a random vector orthogonal to it, which also finds
    multiplicities: the run then ends only once a restart block has run out without
    adding a value to the requested ends. After ``dim`` steps every Ritz value is exact.

    Args:
        matvec: hashable ``matvec(v, *params) -> A v`` (see the module docstring).
        dim: size of ``A``.
        key: ``jax.random`` key for the start vector (and the restart vectors).
        *params: arrays passed to ``matvec`` (e.g. ``θ, X, Y``).
        k: pairs per end.
        which: ``"top"`` (largest), ``"bottom"`` (smallest, i.e. most negative) or ``"both"``
            (disjoint ends: when ``2k > dim`` the bottom end has the ``dim − k`` remaining pairs).
        num_matvecs: fixed Krylov depth (no convergence checks).
        max_matvecs: cap on the depth when extending (default ``dim``).
        rtol: convergence tolerance relative to ``max|θ|``.
        driver: ``"python"`` or ``"loop"`` (default per backend, :func:`theory_lab.krylov.driver_for`).

    Returns:
        :class:`Eigenpairs`, or ``(top, bottom)`` for ``which="both"``.
    """
    key = _key(key)
    if which not in ("top", "bottom", "both"):
        raise ValueError(f"`which`={which!r} is unknown; expected 'top', 'bottom' or 'both'.")
    _check_operator(matvec, dim, params)
    dim = int(dim)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= dim:
        raise ValueError(f"`k`={k!r} must be an integer in [1, dim={dim}].")
    if not rtol > 0:
        raise ValueError(f"`rtol`={rtol!r} must be positive, e.g. 1e-10.")
    k = int(k)
    need = min(2 * k, dim) if which == "both" else k
    cap = dim if max_matvecs is None else int(max_matvecs)
    if num_matvecs is not None:
        if not k <= num_matvecs <= dim:
            raise ValueError(f"`num_matvecs`={num_matvecs} must lie in [k={k}, dim={dim}].")
        target = cap = int(num_matvecs)
    else:
        if not k <= cap <= dim:
            raise ValueError(f"`max_matvecs`={max_matvecs} must lie in [k={k}, dim={dim}].")
        target = min(cap, need)
    K = krylov.start(matvec, dim, key, params, capacity=max(target, 2 * need) + 1, driver=driver)
    confirmations = 0
    while True:
        K = krylov.extend(K, target)
        theta, S, est = krylov.ritz(K)
        if not np.all(np.isfinite(theta)):
            raise FloatingPointError(f"Lanczos produced non-finite Ritz values at depth {K.depth}; the operator "
                                     "returned NaN/Inf. Check the inputs.")
        m = theta.size
        top_i, bot_i = _ends(m, k, which)
        sel = np.r_[top_i, bot_i].astype(int)
        norm = float(max(abs(theta[0]), abs(theta[-1])))
        tol = rtol * norm
        last = K.depth >= cap or K.done
        ready = m >= min(need, cap) and np.all(est[sel] <= tol)
        if ready and K.breakdowns:  # multiplicities: wait until a restart block adds nothing to the ends
            ready = _blocks_settled(K, k, which, tol)
        if last or ready:
            vecs = krylov.ritz_vectors(K, S[:, sel])
            res = np.linalg.norm(np.asarray(krylov.apply_many(K, vecs)) - theta[sel][:, None] * np.asarray(vecs),
                                 axis=1)
            confirmations += sel.size
            if last or np.all(res <= tol):
                break
        target = min(cap, max(K.depth + 1, math.ceil(K.depth * (1 + GROWTH))))
    vecs, lam, total = np.asarray(vecs), theta[sel], K.num_matvecs + confirmations
    nt = top_i.size

    def pairs(sl, name):
        return Eigenpairs(lam[sl], vecs[sl], res[sl], res[sl] <= tol, tol, norm, total, name, K.depth, K.breakdowns)

    top, bottom = pairs(slice(0, nt), "top"), pairs(slice(nt, None), "bottom")
    return {"top": top, "bottom": bottom, "both": (top, bottom)}[which]


# ----------------------------------------------------------------------------- density


@dataclass(frozen=True)
class Density:
    """Stochastic Lanczos quadrature estimate of the spectral measure ``μ = (1/dim) Σ δ_{λ_i}``.

    Attributes:
        nodes: Ritz values ``(num_probes, K)``.
        weights: quadrature weights ``(num_probes, K)``, each row summing to 1; ``μ`` is
            estimated by ``(1/num_probes) Σ_p Σ_j weights[p, j] δ_{nodes[p, j]}``.
        dim: size of the operator.
        grid: evaluation points of the smoothed density ``(G,)``.
        density: Gaussian-smoothed density on ``grid`` (integrates to ≈ 1).
        sigma: kernel width.
        lambda_min, lambda_max: the extreme Ritz values over all probes.
        depths: Lanczos steps taken per probe ``(num_probes,)``; a probe with fewer than
            ``K`` steps broke down, its quadrature is exact (padding nodes have weight 0).
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    lambda_min: float
    lambda_max: float
    depths: np.ndarray | None = None

    @property
    def num_probes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def num_matvecs(self) -> int:
        """Operator applications: the Lanczos steps of every probe."""
        return int(self.nodes.size if self.depths is None else np.sum(self.depths))

    @property
    def exact(self) -> np.ndarray:
        """Per probe: did its Krylov space run out (so its quadrature is its spectral measure)? ``(num_probes,)``"""
        if self.depths is None:
            return np.zeros(self.num_probes, bool)
        return np.asarray(self.depths) < self.nodes.shape[1]

    def mass(self, lo: float = -np.inf, hi: float = np.inf, *, closed: bool = True) -> tuple[float, float]:
        """Estimated fraction of eigenvalues in ``[lo, hi]`` and its standard error over probes."""
        inside = (self.nodes >= lo) & (self.nodes <= hi) if closed else (self.nodes > lo) & (self.nodes < hi)
        per_probe = np.sum(self.weights * inside, axis=1)
        sem = float(np.std(per_probe, ddof=1) / math.sqrt(len(per_probe))) if len(per_probe) > 1 else float("nan")
        return float(np.mean(per_probe)), sem

    def cdf(self, x: float) -> tuple[float, float, float]:
        """``F(x−0)``, the fraction of eigenvalues ``< x``: ``(estimate, lower, upper)``, averaged over probes.

        The estimate is the quadrature's mass below ``x``; the bounds are the
        Chebyshev–Markov–Stieltjes inequalities of Gauss quadrature, which hold for each
        probe's spectral measure: with nodes ``x_1 < … < x_K`` and ``x_j < x ≤ x_{j+1}``,
        ``Σ_{i<j} w_i ≤ F_v(x−0) ≤ Σ_{i≤j+1} w_i``. A probe whose Krylov space ran out
        (:attr:`exact`) has ``F_v`` itself, so its bounds are its estimate, unless a node lies
        within ``1e-10 · max|node|`` of ``x`` (rounding could put it on either side). (The
        probes' average estimates ``F`` itself only up to the sampling error, see :meth:`mass`.)
        """
        order = np.argsort(self.nodes, axis=1)
        x_sorted = np.take_along_axis(self.nodes, order, axis=1)
        c = np.cumsum(np.take_along_axis(self.weights, order, axis=1), axis=1)
        c = np.concatenate([np.zeros((c.shape[0], 1)), c], axis=1)  # c[:, j] = Σ_{i<=j} w_i (1-based)
        j = np.sum(x_sorted < x, axis=1)
        K = self.nodes.shape[1]
        rows = np.arange(c.shape[0])
        est = c[rows, j]
        lo = c[rows, np.maximum(j - 1, 0)]
        hi = c[rows, np.minimum(j + 1, K)]
        scale = np.max(np.abs(self.nodes), axis=1)
        sure = self.exact & (np.min(np.abs(self.nodes - x), axis=1) > 1e-10 * scale)
        lo, hi = np.where(sure, est, lo), np.where(sure, est, hi)
        return float(est.mean()), float(lo.mean()), float(min(hi.mean(), 1.0))

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the quadrature measure."""
        x = self.nodes.ravel()
        w = self.weights.ravel() / self.num_probes
        order = np.argsort(x)
        c = np.cumsum(w[order])
        return float(x[order][min(np.searchsorted(c, q), len(x) - 1)])

    def to_dict(self) -> dict:
        return {"dim": self.dim, "num_probes": self.num_probes, "num_matvecs_per_probe": int(self.nodes.shape[1]),
                "num_matvecs": self.num_matvecs,
                "depths": None if self.depths is None else np.asarray(self.depths).tolist(),
                "lambda_min": self.lambda_min, "lambda_max": self.lambda_max, "sigma": self.sigma,
                "nodes": self.nodes.tolist(), "weights": self.weights.tolist(),
                "grid": self.grid.tolist(), "density": self.density.tolist()}


def _probe_quadrature(K, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature ``(nodes, weights)`` of one probe, padded to ``steps`` points.

    After a breakdown (depth ``m < steps``) the ``m`` nodes are eigenvalues and the
    quadrature is the probe's spectral measure itself; the padding repeats the largest
    node with weight 0, so every node lies in the spectrum's range.
    """
    theta, S, _ = krylov.ritz(K)
    w = S[0, :] ** 2
    pad = steps - theta.size
    return np.r_[theta, np.full(pad, theta[-1])], np.r_[w, np.zeros(pad)]


def _slq_run(matvec, dim, num_probes, num_matvecs, key, params, driver):
    probes = jax.random.rademacher(key, (num_probes, dim), jnp.float64)
    linear = krylov.prepare(matvec, dim, params)
    nodes, weights, depths = [], [], []
    for p in range(num_probes):
        K = krylov.start(matvec, dim, jax.random.fold_in(key, p), params, probes[p], restart=False,
                         capacity=num_matvecs + 1, driver=driver, linear=linear)
        K = krylov.extend(K, num_matvecs)
        x, w = _probe_quadrature(K, num_matvecs)
        nodes.append(x)
        weights.append(w)
        depths.append(K.depth)
    return np.stack(nodes), np.stack(weights), np.array(depths)


def _smooth(nodes, weights, grid, sigma):
    w = weights.ravel() / nodes.shape[0]
    z = (grid[:, None] - nodes.ravel()[None, :]) / sigma
    return np.exp(-0.5 * z * z) @ w / (sigma * math.sqrt(2 * math.pi))


def slq_density(matvec, dim: int, key, *params, num_probes: int = 8, num_matvecs: int = 64,
                sigma: float | None = None, grid_size: int = 512, driver: str | None = None) -> Density:
    """Spectral density by stochastic Lanczos quadrature.

    For each of ``num_probes`` Rademacher probes (from ``key``), ``num_matvecs`` Lanczos
    steps with full reorthogonalisation give a ``K``-point Gauss quadrature of the
    probe's spectral measure: nodes = eigenvalues of the tridiagonal ``T``, weights =
    squared first components of its eigenvectors. When a probe's Krylov space runs out
    (breakdown, see :mod:`theory_lab.krylov`) its Lanczos stops there: its nodes are then
    eigenvalues and its quadrature is exact (``Density.depths`` records the steps taken).
    Every node lies in ``[λ_min(A), λ_max(A)]`` (to rounding).

    Args:
        sigma: width of the Gaussian smoothing; default ``(λ_max − λ_min) / 200``.
        grid_size: points of the smoothed density on ``[λ_min − 3σ, λ_max + 3σ]``.
    """
    key = _key(key)
    _check_operator(matvec, dim, params)
    dim = int(dim)
    if not isinstance(num_probes, (int, np.integer)) or num_probes < 1:
        raise ValueError(f"`num_probes`={num_probes!r} must be a positive integer.")
    if not isinstance(num_matvecs, (int, np.integer)) or not 1 <= num_matvecs <= dim:
        raise ValueError(f"`num_matvecs`={num_matvecs!r} must be an integer in [1, dim={dim}].")
    nodes, weights, depths = _slq_run(matvec, dim, int(num_probes), int(num_matvecs), key, params, driver)
    if not (np.all(np.isfinite(nodes)) and np.all(np.isfinite(weights))):
        raise FloatingPointError("SLQ produced non-finite nodes; the operator returned NaN/Inf or broke down.")
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        sigma = max(hi - lo, abs(hi), 1e-300) / 200.0
    if not sigma > 0:
        raise ValueError(f"`sigma`={sigma!r} must be positive.")
    grid = np.linspace(lo - 3 * sigma, hi + 3 * sigma, int(grid_size))
    return Density(nodes, weights, dim, grid, _smooth(nodes, weights, grid, sigma), float(sigma), lo, hi, depths)


def exact_density(eigenvalues, *, sigma: float, grid) -> np.ndarray:
    """The same Gaussian smoothing applied to exact eigenvalues (a reference for plots and tests)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return _smooth(lam[None, :], np.full((1, lam.size), 1.0 / lam.size), np.asarray(grid), sigma)


def wasserstein1(density: Density, eigenvalues) -> float:
    """W1 distance between the quadrature measure and ``(1/n) Σ δ_{λ_i}``: ``∫ |F_SLQ − F_exact| dx``."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())
    x = density.nodes.ravel()
    w = density.weights.ravel() / density.num_probes
    pts = np.concatenate([x, lam])
    mass = np.concatenate([w, -np.full(lam.size, 1.0 / lam.size)])
    order = np.argsort(pts, kind="stable")
    cdf_diff = np.cumsum(mass[order])[:-1]
    return float(np.sum(np.abs(cdf_diff) * np.diff(pts[order])))


# ----------------------------------------------------------------------------- trace


@dataclass(frozen=True)
class TraceEstimate:
    """A trace estimate, its standard error and its cost in products."""

    method: str
    estimate: float
    stderr: float
    num_matvecs: int

    def to_dict(self) -> dict:
        return {"method": self.method, "estimate": self.estimate, "stderr": self.stderr,
                "num_matvecs": self.num_matvecs}


def _check_budget(num_matvecs, dim, minimum, name):
    if not isinstance(num_matvecs, (int, np.integer)) or num_matvecs < minimum:
        raise ValueError(f"`num_matvecs`={num_matvecs!r} must be an integer >= {minimum} for {name}.")


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _hutchinson_run(matvec, dim, num, key, params):
    apply = _bind(matvec, params)
    V = jax.random.rademacher(key, (num, dim), jnp.float64)
    q = jnp.sum(V * jax.vmap(apply)(V), axis=1)
    return jnp.mean(q), jnp.std(q, ddof=1) / jnp.sqrt(num)


def hutchinson(matvec, dim: int, key, *params, num_matvecs: int = 32) -> TraceEstimate:
    """Hutchinson's estimator ``mean_i v_iᵀ A v_i`` with Rademacher ``v_i``; stderr = sample std / √n."""
    key = _key(key)
    _check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 2, "Hutchinson (two probes give a standard error)")
    est, se = _hutchinson_run(matvec, int(dim), int(num_matvecs), key, params)
    return TraceEstimate("hutchinson", float(est), float(se), int(num_matvecs))


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _hutchpp_run(matvec, dim, s, g, key, params):
    apply = _bind(matvec, params)
    ks, kg = jax.random.split(key)
    S = jax.random.rademacher(ks, (s, dim), jnp.float64)
    G = jax.random.rademacher(kg, (g, dim), jnp.float64)
    Q, _ = jnp.linalg.qr(jax.vmap(apply)(S).T)  # (dim, s)
    low = jnp.sum(Q * jax.vmap(apply, in_axes=1, out_axes=1)(Q))
    Gp = G - (G @ Q) @ Q.T
    q = jnp.sum(Gp * jax.vmap(apply)(Gp), axis=1)
    return low + jnp.mean(q), jnp.std(q, ddof=1) / jnp.sqrt(g)


def hutch_plus_plus(matvec, dim: int, key, *params, num_matvecs: int = 48) -> TraceEstimate:
    """Hutch++ (Meyer, Musco, Musco, Woodruff 2021) with ``num_matvecs`` products.

    A third of the budget sketches the range (``Q = qr(A S)``), a third computes
    ``tr(QᵀAQ)`` exactly, the last third is Hutchinson on ``(I − QQᵀ)A(I − QQᵀ)``.
    Unbiased; the standard error is that of the Hutchinson part (the rest is exact given ``Q``).
    """
    key = _key(key)
    _check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 6, "Hutch++ (at least 2 probes in each third)")
    s = min(num_matvecs // 3, int(dim))
    g = num_matvecs - 2 * s
    est, se = _hutchpp_run(matvec, int(dim), s, g, key, params)
    return TraceEstimate("hutch++", float(est), float(se), int(2 * s + g))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _xtrace_run(matvec, dim, num, key, params):
    apply = _bind(matvec, params)
    sampler = stochtrace.sampler_sphere(jnp.zeros(dim, jnp.float64), num=num)
    est = stochtrace.estimator_leave_one_out_mean_and_sem(stochtrace.leave_one_out_xtrace(), sampler)
    return est(lambda v: apply(v), key)


def xtrace(matvec, dim: int, key, *params, num_matvecs: int = 48) -> TraceEstimate:
    """XTrace (Epperly, Tropp, Webber 2024) via ``matfree.stochtrace`` with ``num_matvecs/2`` sphere samples.

    The standard error is matfree's: the spread of the leave-one-out estimates / √(samples).
    """
    key = _key(key)
    _check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 4, "XTrace (two samples, two products each)")
    num = min(num_matvecs // 2, int(dim))
    est, se = _xtrace_run(matvec, int(dim), num, key, params)
    return TraceEstimate("xtrace", float(est), float(se), 2 * num)


def trace_exact(matvec, dim: int, *params, batch: int | None = None) -> float:
    """``Σ_i e_iᵀ A e_i`` with ``dim`` products (the reference for small operators)."""
    return float(jnp.trace(materialize(matvec, dim, *params, batch=batch)))


def trace_estimates(matvec, dim: int, key, *params, num_matvecs: int = 48) -> dict:
    """Hutchinson, Hutch++ and XTrace with the same budget and independent keys."""
    k1, k2, k3 = jax.random.split(_key(key), 3)
    return {"hutchinson": hutchinson(matvec, dim, k1, *params, num_matvecs=num_matvecs),
            "hutch++": hutch_plus_plus(matvec, dim, k2, *params, num_matvecs=num_matvecs),
            "xtrace": xtrace(matvec, dim, k3, *params, num_matvecs=num_matvecs)}


# ----------------------------------------------------------------------------- inertia


def _exact_inertia(lam: np.ndarray, tol: float) -> Inertia:
    return inertia_report(lam, tol=tol)


def inertia(matvec, dim: int, *params, key=None, tol: float | None = None, rtol: float | None = None,
            exact_max: int = 2000, density: Density | None = None, **slq) -> Inertia:
    """Inertia of a symmetric operator: exact for ``dim ≤ exact_max``, else estimated by SLQ.

    Args:
        tol: absolute threshold for "zero". Default ``dim · eps · ‖A‖₂`` (exact) or
            ``rtol · max|λ|`` with ``rtol=1e-8`` (estimate).
        key: needed for the estimate unless ``density`` is given.
        density: a :class:`Density` already computed for this operator.
        **slq: passed to :func:`slq_density`.
    """
    _check_operator(matvec, dim, params)
    if tol is not None and rtol is not None:
        raise ValueError("give `tol` or `rtol`, not both.")
    if tol is not None and not tol >= 0:
        raise ValueError(f"`tol`={tol!r} must be non-negative.")
    if density is None and dim <= exact_max:
        lam = np.linalg.eigvalsh(np.asarray(materialize(matvec, dim, *params)))
        norm = float(np.max(np.abs(lam)))
        if tol is None:
            tol = norm * (rtol if rtol is not None else dim * EPS)
        return _exact_inertia(lam, tol)
    if density is None:
        if key is None:
            raise ValueError(f"`key` is needed to estimate the inertia of a dim={dim} operator by SLQ "
                             f"(dim > exact_max={exact_max}); pass key=jax.random.key(seed).")
        density = slq_density(matvec, dim, key, *params, **slq)
    norm = max(abs(density.lambda_min), abs(density.lambda_max))
    if tol is None:
        tol = norm * (rtol if rtol is not None else 1e-8)
    # each count from its own mass (sums of non-negative weights): never negative, unlike 1 − neg − pos
    (neg, se_n), (zero, se_z), (pos, se_p) = (density.mass(-np.inf, -tol, closed=False), density.mass(-tol, tol),
                                              density.mass(tol, np.inf, closed=False))
    _, n_lo, n_hi = density.cdf(-tol)  # fraction < −tol
    _, le_lo, le_hi = density.cdf(np.nextafter(tol, np.inf))  # fraction <= tol
    bounds = ((dim * n_lo, dim * n_hi), (dim * max(le_lo - n_hi, 0.0), dim * min(le_hi - n_lo, 1.0)),
              (dim * max(1.0 - le_hi, 0.0), dim * (1.0 - le_lo)))
    return Inertia(dim * neg, dim * zero, dim * pos, float(tol), math.nan, method="slq",
                   min_eigenvalue=float(density.lambda_min), max_eigenvalue=float(density.lambda_max),
                   stderr=(dim * se_n, dim * se_z, dim * se_p), bounds=bounds)
