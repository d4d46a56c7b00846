"""Helpers for tests: tolerant comparison, finite differences, prescribed spectra, activation probes.

Every helper here is itself tested (``tests/test_testing.py``): a comparison that
ignored its ``rtol`` would make every test that uses it meaningless.

* :func:`tolerances` — default ``(rtol, atol)`` for a dtype (float64 tight, float32 loose).
* :func:`tree_allclose` / :func:`assert_tree_allclose` — leafwise comparison of pytrees.
* :func:`finite_difference_grad` — central differences of a scalar function.
* :func:`matrix_with_singular_values` — ``U diag(s) Vᵀ`` with Haar-random ``U, V``.
* :func:`probe_activation` / :func:`declaration_disagreements` — measure an
  activation's properties on grids and compare them with what it declares.

Example:
    >>> import numpy as np
    >>> from theory_lab.testing import tree_allclose, matrix_with_singular_values
    >>> tree_allclose({"a": np.ones(2)}, {"a": np.ones(2) + 1e-14})
    True
    >>> A = matrix_with_singular_values([3.0, 1e-9], (2, 4), np.random.default_rng(0))
    >>> np.allclose(np.linalg.svd(A, compute_uv=False), [3.0, 1e-9], rtol=1e-6, atol=0)
    True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["quadrature_measure", "tolerances", "tree_allclose", "assert_tree_allclose", "finite_difference_grad",
           "matrix_with_singular_values", "probe_activation", "declaration_disagreements", "CountingMatvec"]

_TOLS = {
    np.dtype(np.float64): (1e-12, 1e-12),
    np.dtype(np.float32): (1e-5, 1e-6),
    np.dtype(np.float16): (1e-2, 1e-3),
}


def tolerances(dtype) -> tuple[float, float]:
    """Default ``(rtol, atol)`` for comparing arrays of ``dtype`` (integers and bools: exact).

    Another float gets those of the first of float64, float32 whose precision it reaches, else float16's
    (bfloat16: float16's, a long double: float64's); a complex dtype those of its parts.
    """
    dtype = np.dtype(dtype)
    if dtype in _TOLS:
        return _TOLS[dtype]
    if np.issubdtype(dtype, np.complexfloating):
        return _TOLS[np.dtype(np.float64 if dtype.itemsize >= 16 else np.float32)]
    if jnp.issubdtype(dtype, jnp.floating):  # numpy's issubdtype calls bfloat16 (an ml_dtypes kind 'V') no float
        eps = float(jnp.finfo(dtype).eps)
        return next((_TOLS[np.dtype(r)] for r in (np.float64, np.float32) if eps <= np.finfo(r).eps),
                    _TOLS[np.dtype(np.float16)])
    return 0.0, 0.0


def _leaf_report(a, b, rtol, atol) -> str | None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    if a.dtype != b.dtype:
        return f"dtypes differ: {a.dtype} vs {b.dtype}"
    r_default, a_default = tolerances(a.dtype)
    rtol = r_default if rtol is None else rtol
    atol = a_default if atol is None else atol
    if a.size == 0:
        return None
    if jnp.issubdtype(a.dtype, jnp.inexact):
        if not np.issubdtype(a.dtype, np.inexact):  # bfloat16 & co: widened exactly to float64, then tolerances
            a, b = a.astype(np.float64), b.astype(np.float64)
        err = np.abs(a - b)
        bound = atol + rtol * np.abs(b)
        bad = ~(err <= bound)  # NaN anywhere is a mismatch
    else:
        err = (a != b).astype(np.float64)
        bad = a != b
    if not bad.any():
        return None
    i = tuple(int(j) for j in np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1.0))),
                                                a.shape))
    return (f"{int(bad.sum())} of {a.size} entries differ (rtol={rtol:g}, atol={atol:g}); worst at {i}: "
            f"{a[i].item()!r} vs {b[i].item()!r}")


def _compare(a, b, rtol, atol) -> list[str]:
    la, ta = jax.tree_util.tree_flatten_with_path(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb:
        return [f"tree structures differ: {ta} vs {tb}"]
    out = []
    for (path, x), y in zip(la, lb):
        msg = _leaf_report(x, y, rtol, atol)
        if msg:
            out.append(f"leaf {jax.tree_util.keystr(path) or '<root>'}: {msg}")
    return out


def tree_allclose(a, b, *, rtol: float | None = None, atol: float | None = None) -> bool:
    """True when ``a`` and ``b`` have the same structure, shapes and dtypes and every entry has
    ``|a − b| ≤ atol + rtol·|b|``; defaults from :func:`tolerances` of each leaf's dtype. NaN never matches.
    """
    return not _compare(a, b, rtol, atol)


def assert_tree_allclose(a, b, *, rtol: float | None = None, atol: float | None = None, err_msg: str = ""):
    """Like :func:`tree_allclose`, but raise ``AssertionError`` naming each differing leaf."""
    problems = _compare(a, b, rtol, atol)
    if problems:
        raise AssertionError("\n".join(([err_msg] if err_msg else []) + problems))


def finite_difference_grad(f, x, *, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of scalar ``f`` at float64 ``x`` (any shape): error ``O(h²)``.

    Args:
        f: ``f(x) -> scalar``.
        x: point, float64 array.
        h: step.

    Returns:
        ``(x.shape)`` float64 array.
    """
    if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, float, np.integer, np.floating)) \
            or not 0 < h < np.inf:  # h = 0 divided by zero, NaN gave a NaN gradient
        raise ValueError(f"`h`={h!r} must be a positive finite step, e.g. 1e-6.")
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return g


def quadrature_measure(nodes, weights, depths=None):
    """A hand-built :class:`~theory_lab.density.Density` of quadrature ``nodes``/``weights`` ``(probes, m)``
    (one row per probe; a 1-D input is one probe), for tests of its ``mass``/``cdf``/``quantile``/``exact``.

    The smoothed curve is a placeholder (5 zeros on ``[min − 1, max + 1]``, σ = 1); ``depths`` (one per
    probe) is ``None`` unless given.

    Example:
        >>> m = quadrature_measure([1.0, 2.0, 3.0, 4.0], [0.25, 0.25, 0.25, 0.25])
        >>> m.quantile(0.5), m.num_probes
        (2.0, 1)
    """
    from theory_lab.density import Density

    nodes, weights = np.atleast_2d(np.asarray(nodes, float)), np.atleast_2d(np.asarray(weights, float))
    grid = np.linspace(nodes.min() - 1, nodes.max() + 1, 5)
    return Density(nodes, weights, nodes.shape[1], grid, np.zeros(5), 1.0, float(nodes.min()), float(nodes.max()),
                   None if depths is None else np.asarray(depths))


def matrix_with_singular_values(s, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``A = U diag(s) Vᵀ`` of ``shape`` with Haar-random orthonormal ``U, V`` (float64).

    ``s`` has at most ``min(shape)`` entries; missing ones are exact zeros, so
    ``rank A = number of non-zero s``.
    """
    m, n = shape
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or s.size > min(m, n) or np.any(s < 0):
        raise ValueError(f"`s` must be at most min{shape} = {min(m, n)} non-negative values, got {s!r}.")

    def haar(k):
        q, r = np.linalg.qr(rng.standard_normal((k, k)))
        return q * np.sign(np.diag(r))

    U, V = haar(m)[:, :s.size], haar(n)[:, :s.size]
    return (U * s) @ V.T


# ---- activation probes -------------------------------------------------------------------------

_GRID = np.concatenate([np.linspace(-8.0, 8.0, 401), [-3.7, -0.3, 0.25, 2.9]])  # includes 0
_FINE = np.union1d(np.linspace(-8.0, 8.0, 16001), [0.0])
_FAR = np.array([-2e8, -1e8, 1e8, 2e8])
_LEFT = -np.concatenate([np.linspace(0.0, 100.0, 2001)[1:], np.geomspace(100.0, 1e4, 200)[1:]])
_RIGHT = np.concatenate([np.linspace(0.0, 1e4, 2001), np.geomspace(1e4, 1e8, 200)[1:]])
_WIDE = np.linspace(-30.0, 30.0, 61)
_DELTA, _H, _JUMP = 1e-9, 1e-6, 1e-6
_SMOOTH_ORDERS = 3


def _points() -> tuple[np.ndarray, dict]:
    parts = {"t-delta": _GRID - _DELTA, "t+delta": _GRID + _DELTA, "t": _GRID, "t-h": _GRID - _H,
             "t+h": _GRID + _H, "t-jump": _GRID - _JUMP, "t+jump": _GRID + _JUMP, "fine": _FINE,
             "far": _FAR, "left": _LEFT, "right": _RIGHT, "wide": _WIDE}
    cuts, start = {}, 0
    for name, v in parts.items():
        cuts[name] = slice(start, start + v.size)
        start += v.size
    return np.concatenate(list(parts.values())), cuts


def _derivatives(act, points: np.ndarray, orders: int) -> list[np.ndarray]:
    """``[σ, σ', …, σ^(orders)]`` at ``points``, in one jitted, vectorised call (one compile)."""
    fs = [act.fn]
    for _ in range(orders):
        fs.append(jax.grad(fs[-1]))
    values = jax.jit(jax.vmap(lambda t: tuple(f(t) for f in fs)))(jnp.asarray(points))
    return [np.asarray(d, dtype=np.float64) for d in values]


def _tail_bounded(values: np.ndarray, far: np.ndarray, slack: float = 1.0) -> bool:
    """A sampled function is bounded toward its tail: no NaN or +inf, and its far part at most ``slack`` above
    the rest (values on a log scale: a factor ``e^slack``)."""
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        return False
    return bool(np.max(values[far], initial=-np.inf) <= np.max(values[~far]) + slack)


def probe_activation(act) -> dict:
    """Measure an activation's properties on grids (numerical witnesses, not proofs).

    * ``continuous``: ``|σ(t+δ) − σ(t−δ)| ≤ 1e-6`` at every grid point of ``[−8, 8]`` (``δ = 1e-9``).
    * ``smooth``: derivatives of order 0–3 (``jax.grad``) finite on ``[−30, 30]`` and without
      jumps across each grid point of ``[−8, 8]`` (``±1e-6``); necessary for real analyticity.
    * ``differentiable``: left and right difference quotients agree (``h = 1e-6``).
    * ``strictly_increasing``: every difference on a fine grid of ``[−8, 8]`` is positive.
    * ``positive_derivative``: ``σ'(t) > 0`` on that grid.
    * ``non_constant``.
    * ``clause_a``: ``σ(±10⁸)`` and ``σ(±2·10⁸)`` agree (finite limits) and one limit is zero:
      ``|σ(±2·10⁸)| ≤ 64 eps · max(1, |σ(±2·10⁸)|) + 2 |σ(±2·10⁸) − σ(±10⁸)|`` (rounding, and what the
      samples say is still to come) at one end.
    * ``clause_b``: for some ``ρ₂ ∈ {1, 0.1, 0.01}``, ``log|σ(t)| − ρ₂ t`` stays bounded on
      ``t ∈ [−10⁴, 0)`` and ``|σ(t)|/(1+t)`` stays bounded on ``t ∈ [0, 10⁸]`` (its largest value on
      ``(10⁴, 10⁸]`` at most 1.5× its largest on ``[0, 10⁴]``; ``t·log t`` grows 2×, ``t^1.05`` 1.6×).
    * ``assumption_3_2``: continuous, non-constant, and clause (a) or (b).
    * ``lipschitz``: the largest finite ``|σ'(t)|`` over every sampled ``t`` (a lower bound on ``sup |σ'|``).

    Every property is unchanged when ``σ`` is multiplied by a positive constant, so ``σ`` is probed
    divided by ``max |σ|`` on ``[−8, 8]``: the absolute thresholds above are relative to its size
    (``10⁶·sigmoid`` was measured discontinuous, ``10⁻¹³·tanh`` as meeting clause (a)).
    """
    points, cut = _points()
    with np.errstate(all="ignore"):
        ders = _derivatives(act, points, _SMOOTH_ORDERS)
        slopes = np.abs(ders[1])
        lipschitz = float(np.max(slopes[np.isfinite(slopes)], initial=0.0))
        size = float(np.max(np.abs(ders[0][cut["t"]]), initial=0.0))
        if 0 < size < np.inf:  # every derivative is linear in σ
            ders = [d / size for d in ders]
        v = ders[0]
        out = {"continuous": bool(np.all(np.abs(v[cut["t+delta"]] - v[cut["t-delta"]]) <= 1e-6))}
        out["smooth"] = all(
            np.all(np.isfinite(d[cut["t-jump"]])) and np.all(np.isfinite(d[cut["t+jump"]]))
            and np.all(np.abs(d[cut["t+jump"]] - d[cut["t-jump"]]) <= 1e-3) and np.all(np.isfinite(d[cut["wide"]]))
            for d in ders)
        f0, fp, fm = v[cut["t"]], v[cut["t+h"]], v[cut["t-h"]]
        out["differentiable"] = bool(np.all(np.abs((fp - f0) / _H - (f0 - fm) / _H) <= 1e-3))
        out["strictly_increasing"] = bool(np.all(np.diff(v[cut["fine"]]) > 0))
        out["positive_derivative"] = bool(np.all(ders[1][cut["fine"]] > 0))
        out["non_constant"] = bool(np.ptp(f0) > 0)

        far = v[cut["far"]]
        finite_limits = bool(np.all(np.isfinite(far)) and np.all(
            np.abs(far[[0, 3]] - far[[1, 2]]) <= 1e-6 * (1.0 + np.abs(far[[1, 2]]))))
        gap = np.abs(far[[0, 3]] - far[[1, 2]])
        zero = np.abs(far[[0, 3]]) <= 64 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(far)))) + 2 * gap
        out["clause_a"] = finite_limits and bool(zero.any())

        log_abs = np.log(np.abs(v[cut["left"]]))
        left_ok = any(_tail_bounded(log_abs - rho2 * _LEFT, _LEFT <= -100.0) for rho2 in (1.0, 0.1, 0.01))
        # log |σ(t)|/(1+t): a growth by more than 1.5× from [0, 1e4] to [1e4, 1e8] (t·log t: 2×) is not linear
        ratio = np.log(np.abs(v[cut["right"]]) / (1.0 + _RIGHT))
        out["clause_b"] = bool(left_ok and _tail_bounded(ratio, _RIGHT > 1e4, np.log(1.5)))
    out["assumption_3_2"] = out["continuous"] and out["non_constant"] and (out["clause_a"] or out["clause_b"])
    out["lipschitz"] = lipschitz
    return out


def declaration_disagreements(act, probe: dict | None = None) -> list[str]:
    """Declared properties of ``act`` that the numerical probe contradicts (empty when all agree).

    ``analytic`` is compared with the probe's ``smooth``: analytic declared ⇒ smooth measured, and
    not analytic declared ⇒ a jump in some derivative of order ≤ 3 found (a witness). A declared
    ``lipschitz`` (``sup |σ'|``) below a sampled ``|σ'|`` is a disagreement.
    """
    p = probe_activation(act) if probe is None else probe
    out = []

    def same(name, declared, measured):
        if bool(declared) != bool(measured):
            out.append(f"{act.name}: `{name}` declared {declared}, measured {measured}")

    same("continuous", act.continuous, p["continuous"])
    same("analytic", act.analytic, p["smooth"])
    same("differentiable", act.differentiable, p["differentiable"])
    same("strictly_increasing", act.strictly_increasing, p["strictly_increasing"])
    same("positive_derivative", act.positive_derivative, p["positive_derivative"])
    same("assumption_3_2", act.assumption_3_2, p["assumption_3_2"])
    if act.clause is not None and not p[f"clause_{act.clause}"]:
        out.append(f"{act.name}: clause ({act.clause}) declared, but the probe finds it fails")
    if act.clause is None and act.assumption_3_2:
        out.append(f"{act.name}: Assumption 3.2 declared without a clause")
    if act.clause is not None and not act.assumption_3_2:
        out.append(f"{act.name}: clause ({act.clause}) declared but Assumption 3.2 declared False")
    declared = getattr(act, "lipschitz", None)
    # sup |σ'| bounds the forward error, so it must bound every slope (a larger one is only conservative, and a
    # slope may reach its sup far beyond the samples: softplus(1e-300)'s slope is 1/2 on every sampled t)
    if declared is not None and "lipschitz" in p and p["lipschitz"] > declared * (1 + 1e-9):
        out.append(f"{act.name}: `lipschitz` declared {declared:g}, but |σ'| reaches {p['lipschitz']:.6g}")
    return out


class CountingMatvec:
    """``matvec(v, A) = A @ v`` that counts the products actually executed in :attr:`n`: a host callback
    runs once per product, inside jitted loops too (a vmapped batch counts its rows). The evidence for product-count claims.

    Example:
        >>> import jax, numpy as np
        >>> from theory_lab import spectrum
        >>> from theory_lab.testing import CountingMatvec
        >>> count = CountingMatvec()
        >>> r = spectrum.lanczos(count, 8, jax.random.key(0), np.diag(np.arange(1.0, 9.0)), k=2)
        >>> count.n == r.num_matvecs
        True
    """

    def __init__(self):
        self.n = 0

    def _tick(self, v):
        self.n += 1 if np.ndim(v) == 1 else np.shape(v)[0]  # under vmap the callback sees the whole batch

    def __call__(self, v, A):
        jax.debug.callback(self._tick, v)
        return A @ v
