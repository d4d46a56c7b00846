"""Spectra of a symmetric operator given only ``v -> A v``: eigenpairs, density, trace, inertia.

An *operator* is a hashable callable ``matvec(v, *params) -> A v`` on flat float64
vectors of length ``dim`` (for example :class:`theory_lab.derivatives.HessianMatvec`,
or :func:`dense_matvec` with ``params = (A,)``). It is a static argument of the
jitted routines here and ``params`` are their arguments. If the operator has a
``prepare(*params) -> (v -> A v)`` method, it is called once per run, inside the
jit, before any product (the Hessian linearises its gradient there). On CPU an operator's
``host_prepare(*params)`` comes first when it gives a Python callable (the Hessian does for
data in several batches or a :class:`~theory_lab.batching.Stream`: each product a Python
loop over one jitted per-batch program; see :mod:`theory_lab.krylov`).

* :func:`lanczos` — top-``k`` / bottom-``k`` eigenpairs by Lanczos with full
  reorthogonalisation (:mod:`theory_lab.krylov`), each with its residual
  ``‖Av − λv‖`` and a ``converged`` flag; the Krylov basis is extended (never
  restarted) until the requested pairs converge or ``max_matvecs`` is reached, and
  survives the Krylov space running out (an operator of low rank).
* :func:`slq_density` — stochastic Lanczos quadrature over several probes: nodes,
  weights, a Gaussian-smoothed density, the extreme Ritz values (:class:`Density`;
  defined in :mod:`theory_lab.density`, re-exported here).
* :func:`hutchinson`, :func:`hutch_plus_plus`, :func:`xtrace` — trace estimates with
  standard errors (:class:`TraceEstimate`; defined in :mod:`theory_lab.trace`);
  :func:`trace_exact` for small ``dim``.
* :func:`inertia` — counts of negative, near-zero and positive eigenvalues, exact
  (dense ``eigvalsh``) for small ``dim`` and estimated from a :class:`Density` otherwise.
* :func:`wasserstein1` — W1 distance between a density's quadrature measure and
  exact eigenvalues (:mod:`theory_lab.density`).

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
    >>> est.estimate, est.stderr == est.rounding  # exact on a diagonal matrix: the bar is rounding only
    (1275.0, True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from theory_lab import batching, krylov
from theory_lab.density import ASYMMETRY_RTOL, Density, check_finite, check_symmetric, exact_density, slq_density, wasserstein1
from theory_lab.linalg import Inertia, inertia_report
from theory_lab.trace import TraceEstimate, hutch_plus_plus, hutchinson, trace_estimates, xtrace
from theory_lab.validate import is_integer, is_real

__all__ = ["Eigenpairs", "Density", "TraceEstimate", "Inertia", "dense_matvec", "materialize", "lanczos",
           "slq_density", "hutchinson", "hutch_plus_plus", "xtrace", "trace_exact", "trace_estimates",
           "inertia", "wasserstein1", "exact_density"]

EPS = float(np.finfo(np.float64).eps)


def dense_matvec(v, A):
    """``A @ v`` — the operator of an explicit symmetric matrix ``A`` (pass ``A`` as the param)."""
    return A @ v


def _cols(apply, dim, batch):
    def col(i):
        return apply(jax.nn.one_hot(i, dim, dtype=jnp.float64))
    return jax.lax.map(col, jnp.arange(dim), batch_size=min(batch, dim))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _materialize(matvec, dim, batch, params):
    A = _cols(krylov.bind(matvec, params), dim, batch)
    return 0.5 * (A + A.T)


def materialize(matvec, dim: int, *params, batch: int | None = None) -> jax.Array:
    """The dense symmetric matrix ``(dim, dim)`` of an operator, ``(A + Aᵀ)/2``, from ``dim`` products.

    ``batch=None`` picks per backend: on CPU one product per jitted call driven from
    Python (:func:`theory_lab.krylov.dense`; inside ``lax.map`` each product ran ~4x
    slower, vmapped batches slower still; an operator with looped data makes each product
    on the host, see :mod:`theory_lab.krylov`), elsewhere ``lax.map`` with 64 products at a
    time. An explicit ``batch`` always uses ``lax.map`` with that batch (a
    :class:`~theory_lab.batching.Stream` is then a clear error).
    """
    krylov.check_operator(matvec, dim, params)
    if batch is None:
        traced = any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(params))
        if krylov.one_at_a_time() and not traced:
            return _finite(krylov.dense(matvec, int(dim), params), dim)
        batch = 64
    if not is_integer(batch) or batch < 1:
        raise ValueError(f"`batch`={batch!r} must be a positive integer (products at once), or None for auto.")
    batching.refuse_stream(params, f"materialize with `batch`={batch} (lax.map over products) or off CPU")
    return _finite(_materialize(matvec, int(dim), int(batch), params), dim)


def _finite(M, dim):
    """``M``, or a ValueError when its entries are not finite: a trace or inertia of NaN was NaN or a LinAlgError."""
    if not isinstance(M, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(M))):
        raise ValueError(f"`matvec` gave NaN or Inf in {int(jnp.sum(~jnp.isfinite(M)))} of {int(dim) ** 2} entries "
                         "of the dense operator; check its params (the matrix, θ, the data) for NaN/Inf.")
    return M


# ----------------------------------------------------------------------------- eigenpairs


@dataclass(frozen=True)
class Eigenpairs:
    """Ritz pairs from Lanczos with their evidence.

    Attributes:
        values: eigenvalue estimates ``(k,)`` (descending for ``"top"``, ascending for ``"bottom"``).
        vectors: unit Ritz vectors ``(k, dim)``.
        residuals: ``‖A v − λ v‖`` for each pair ``(k,)``, with ``A v`` assembled from the Krylov
            steps' own products (``A Q s``, :func:`theory_lab.krylov.ritz_residuals`): a true
            residual to the rounding of one product, at no extra product.
        converged: ``residuals ≤ tol`` ``(k,)``. A converged pair has an eigenvalue of
            ``A`` within its residual (Weyl), so ``|λ − λ_true| ≤ tol``.
        tol: ``rtol · norm``.
        norm: the largest ``|Ritz value|``, a lower bound on ``‖A‖₂``.
        num_matvecs: operator applications of the whole run, one per Krylov step (for
            ``which="both"`` the same shared total on both ends).
        which: ``"top"`` or ``"bottom"``.
        depth: Krylov depth of the final basis.
        breakdowns: times the Krylov space ran out (see :mod:`theory_lab.krylov`); after each
            the basis continued from a random vector orthogonal to it.
        asymmetry: :func:`theory_lab.krylov.asymmetry` of the final basis (``‖QAQᵀ − (QAQᵀ)ᵀ‖/‖AQ‖``, from the
            products already made); above :data:`ASYMMETRY_RTOL` :func:`lanczos` refuses the operator.
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
    asymmetry: float = float("nan")

    def to_dict(self) -> dict:
        return {"which": self.which, "values": self.values.tolist(), "residuals": self.residuals.tolist(),
                "converged": self.converged.tolist(), "tol": self.tol, "norm": self.norm,
                "num_matvecs": self.num_matvecs, "depth": self.depth, "breakdowns": self.breakdowns,
                "asymmetry": self.asymmetry}


GROWTH = 0.05  # the basis is extended by 5 % between convergence checks
# ASYMMETRY_RTOL (from density): ``krylov.asymmetry`` above it refuses the operator (lanczos, slq_density).


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
    ``tol = rtol · max|θ|``; once all are below it, each requested pair's true residual
    ``‖Av − θv‖`` is confirmed from the products already made (``Av = (AQ)s``; if one
    fails, the basis is extended further). So the run costs at most ≈ 1.05 × the smallest
    converging depth, and no product beyond the Krylov steps. When the Krylov space runs out (an operator of low rank)
    the basis continues from a random vector orthogonal to it, which also finds
    multiplicities: the run then ends only once a restart block has run out without
    adding a value to the requested ends. After ``dim`` steps every Ritz value is exact.
    A non-symmetric operator is refused (``ValueError``) once the run ends, from the products already made
    (:func:`theory_lab.krylov.asymmetry` above :data:`ASYMMETRY_RTOL`): no extra product.

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
        driver: ``"host"``, ``"python"`` or ``"loop"`` (default per backend, :func:`theory_lab.krylov.driver_for`).

    Returns:
        :class:`Eigenpairs`, or ``(top, bottom)`` for ``which="both"``.
    """
    key = krylov.check_key(key)
    if which not in ("top", "bottom", "both"):
        raise ValueError(f"`which`={which!r} is unknown; expected 'top', 'bottom' or 'both'.")
    krylov.check_operator(matvec, dim, params)
    dim = int(dim)
    if not is_integer(k) or not 1 <= k <= dim:
        raise ValueError(f"`k`={k!r} must be an integer in [1, dim={dim}].")
    if not is_real(rtol) \
            or not 0 < rtol < math.inf:
        raise ValueError(f"`rtol`={rtol!r} must be a positive finite number (residuals are compared with "
                         "rtol · max|θ|; an infinite one marks every pair converged), e.g. 1e-10.")
    k = int(k)
    need = min(2 * k, dim) if which == "both" else k
    for arg, value in (("num_matvecs", num_matvecs), ("max_matvecs", max_matvecs)):  # 4.0 and 5.5 were truncated
        if value is not None and not is_integer(value):
            raise ValueError(f"`{arg}`={value!r} must be an integer in [k={k}, dim={dim}], or None.")
    cap = dim if max_matvecs is None else int(max_matvecs)
    if num_matvecs is not None:
        if not k <= num_matvecs <= dim:
            raise ValueError(f"`num_matvecs`={num_matvecs} must lie in [k={k}, dim={dim}].")
        target = cap = int(num_matvecs)
    else:
        if not k <= cap <= dim:
            raise ValueError(f"`max_matvecs`={max_matvecs} must lie in [k={k}, dim={dim}].")
        target = min(cap, need)
    K = krylov.start(matvec, dim, key, params, capacity=max(target, 2 * need) + 1, driver=driver,
                     keep_products=True)
    while True:
        K = krylov.extend(K, target)
        check_finite(K, "lanczos")  # its Ritz values' own check came after scipy's bare "infs or NaNs" error
        theta, S, est = krylov.ritz(K)
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
            vecs, res = krylov.ritz_residuals(K, S[:, sel], theta[sel])
            res = np.asarray(res)
            if last or np.all(res <= tol):
                break
        target = min(cap, max(K.depth + 1, math.ceil(K.depth * (1 + GROWTH))))
    vecs, lam, total = np.asarray(vecs), theta[sel], K.num_matvecs
    nt = top_i.size
    asym = check_symmetric(K, "Lanczos needs A = Aᵀ: pass (A v + Aᵀ v)/2, or use a non-symmetric eigensolver.")

    def pairs(sl, name):
        return Eigenpairs(lam[sl], vecs[sl], res[sl], res[sl] <= tol, tol, norm, total, name, K.depth, K.breakdowns,
                          asym)

    top, bottom = pairs(slice(0, nt), "top"), pairs(slice(nt, None), "bottom")
    return {"top": top, "bottom": bottom, "both": (top, bottom)}[which]


# ----------------------------------------------------------------------------- trace


def trace_exact(matvec, dim: int, *params, batch: int | None = None) -> float:
    """``Σ_i e_iᵀ A e_i`` with ``dim`` products (the reference for small operators)."""
    return float(jnp.trace(materialize(matvec, dim, *params, batch=batch)))


# ----------------------------------------------------------------------------- inertia


def _exact_inertia(lam: np.ndarray, tol: float) -> Inertia:
    return inertia_report(lam, tol=tol)


def inertia(matvec, dim: int, *params, key=None, tol: float | None = None, rtol: float | None = None,
            exact_max: int = 2000, density: Density | None = None, **slq) -> Inertia:
    """Inertia of a symmetric operator: exact for ``dim ≤ exact_max``, else estimated by SLQ.

    Args:
        tol: absolute threshold for "zero". Default ``dim · eps · ‖A‖₂`` (exact) or
            ``rtol · max|λ|`` with ``rtol=1e-8`` (estimate).
        rtol: relative threshold instead, ``tol = rtol · max|λ|``. ``tol`` and ``rtol`` are finite and
            non-negative (else a ValueError naming the one given).
        key: needed for the estimate unless ``density`` is given.
        density: a :class:`Density` already computed for this operator.
        **slq: passed to :func:`slq_density`.
    """
    krylov.check_operator(matvec, dim, params)
    if tol is not None and rtol is not None:
        raise ValueError("give `tol` or `rtol`, not both.")
    for arg, value in (("tol", tol), ("rtol", rtol)):  # an unchecked rtol=-0.5 gave SLQ counts summing to 1.5·dim
        if value is not None and not (is_real(value) and 0 <= value < math.inf):
            kind = "absolute" if arg == "tol" else "relative to max|λ|"
            raise ValueError(f"`{arg}`={value!r} must be a finite non-negative threshold ({kind}); omit it for "
                             "the default.")
    if not is_integer(exact_max) or exact_max < 0:  # "5" failed comparing, True and 2.5 were read as numbers
        raise ValueError(f"`exact_max`={exact_max!r} must be a non-negative integer (the largest dim computed "
                         "exactly; 0 always estimates by SLQ).")
    if density is not None and not isinstance(density, Density):
        raise TypeError(f"`density` is a {type(density).__name__}; expected the Density of slq_density for this "
                        "operator, or None.")
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
