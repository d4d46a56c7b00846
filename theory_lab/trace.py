"""Trace estimates of a symmetric operator given ``v -> A v``, each with its standard error.

:func:`hutchinson`, :func:`hutch_plus_plus` (products through :func:`theory_lab.krylov.products`:
prepared once, one jitted product per vector on CPU) and :func:`xtrace` (``matfree.stochtrace``'s algorithm, products driven the same way);
:func:`trace_estimates` runs all three with independent keys (:class:`TraceEstimate`).

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import trace
    >>> from theory_lab.spectrum import dense_matvec
    >>> est = trace.hutchinson(dense_matvec, 50, jax.random.key(1), np.diag(np.arange(1.0, 51.0)), num_matvecs=20)
    >>> est.estimate, est.stderr == est.rounding  # exact on a diagonal matrix: the bar is rounding only
    (1275.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.stats

from theory_lab import krylov
from theory_lab.keys import check_probe_block
from theory_lab.validate import is_integer, is_real

__all__ = ["TraceEstimate", "HUTCH_PP_MIN", "hutchinson", "hutch_plus_plus", "xtrace", "trace_estimates", "sphere"]

HUTCH_PP_MIN = 6  # Hutch++ spends a third of its products on each of its 3 parts, 2 at least


@dataclass(frozen=True)
class TraceEstimate:
    """A trace estimate, its error bar and its cost in products.

    ``stderr`` is the sampling standard error plus ``rounding``, an allowance for the estimator's own
    float64 arithmetic (the standard bound ``γ_n |v|ᵀ|Av|`` of each quadratic form it sums, and the
    orthogonality loss of its sketch), the products ``A v`` taken as given. Where the sampling error is 0
    (a low-rank operator inside the sketch, XTrace's materialised diagonal) the bar is ``rounding`` alone,
    so an estimate that is exact to rounding says so and its bar still contains the trace: before, Hutch++
    on a rank-5 operator reported 9 ± 3.8e-16 for a trace 1.8e-15 away, XTrace 9 ± 0.

    The sampling part is ``s/√n`` with ``s`` the sample standard deviation (ddof = 1) of ``n`` estimates
    averaged; ``dof = n − 1`` (0 when the bar is rounding only). It is a standard error, not a
    95 % half-width: with few samples ``s`` is itself noisy and ``estimate ± 1.96·stderr`` covers the trace
    far less often than 95 % (Hutchinson, 4 probes: 75–85 %, session 33). :meth:`interval` uses the
    Student-t quantile with ``dof`` degrees of freedom instead.
    """

    method: str
    estimate: float
    stderr: float
    num_matvecs: int
    rounding: float = 0.0
    dof: int = 0

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """``estimate ± (t_{dof, (1+level)/2} · (stderr − rounding) + rounding)``, ``(low, high)``.

        The Student-t interval of a mean of ``dof + 1`` independent estimates, widened by the rounding
        allowance (a bound, not a random error). It is exact for normal estimates; quadratic forms are not
        normal. Measured at 95 % (2000 keys, dim 24, 4–16 products): Hutchinson and Hutch++ 93–96 % on spectra
        with no dominant eigenvalue (flat PSD, Gaussian, Wishart); Hutchinson 84–93 % on a rank-3 or
        heavy-tailed one, Hutch++ 83–86 % on a rank-3 operator its sketch does not hold. XTrace's leave-one-out
        estimates are not independent: less (see :func:`xtrace`). Table: docs/planted_bugs.md, "Session 33 —
        calibration of reported uncertainty".
        """
        if not is_real(level) or not 0.0 < level < 1.0:
            raise ValueError(f"`level`={level!r} must be a probability in (0, 1), e.g. 0.95 for a 95 % interval.")
        sampling = self.stderr - self.rounding
        q = float(scipy.stats.t.ppf(0.5 + 0.5 * float(level), self.dof)) if self.dof >= 1 and sampling > 0 else 0.0
        half = q * sampling + self.rounding
        return self.estimate - half, self.estimate + half

    def to_dict(self) -> dict:
        return {"method": self.method, "estimate": self.estimate, "stderr": self.stderr,
                "num_matvecs": self.num_matvecs, "rounding": self.rounding, "dof": self.dof,
                "interval95": list(self.interval())}


_EPS = float(np.finfo(np.float64).eps)


def _gamma(n: int) -> float:
    """Higham's ``γ_n = n·u/(1 − n·u)`` with ``u = eps`` (a generous unit roundoff)."""
    return n * _EPS / (1.0 - n * _EPS)


def _abs_dots(V, W) -> np.ndarray:
    """``|v_i|ᵀ|w_i|`` per row ``(num,)``: no squares, so nothing underflows at tiny scales."""
    return np.sum(np.abs(V) * np.abs(W), axis=1)


def _sem(q, ddof: int) -> float:
    """``std(q, ddof)/√len(q)`` taken on ``q`` scaled by a power of two near ``max|q|`` (exact): the plain
    ``np.std`` squares its deviations, which underflow to 0 for an operator of norm 1e-170 (a sampling error
    of 0, i.e. "exact") and overflow to inf at 1e200."""
    m = float(np.max(np.abs(q))) if np.size(q) else 0.0
    c = math.ldexp(1.0, math.frexp(m)[1]) if 0.0 < m < math.inf else 1.0
    return float(np.std(np.asarray(q) / c, ddof=ddof) / math.sqrt(np.size(q))) * c


def _sketch_rounding(Q, Z, dim) -> float:
    """Rounding allowance of ``tr(QᵀZ)``, ``Z = AQ``: ``γ_{dim+s} Σ_j |q_j|ᵀ|z_j|`` for the sums, and
    ``Σ |QᵀZ| ∘ |QᵀQ − I|`` for ``Q``'s loss of orthogonality (``tr(QᵀAQ) + tr(A(I − QQᵀ)²)`` is ``tr A``
    plus ``tr(QᵀAQ E)``, ``E = QᵀQ − I``)."""
    s = Q.shape[1]
    E = Q.T @ Q - np.eye(s)
    return float(_gamma(dim + s) * np.sum(_abs_dots(Q.T, Z.T)) + np.sum(np.abs(Q.T @ Z) * np.abs(E)))


def _check_budget(num_matvecs, dim, minimum, name, probes=True):
    if not is_integer(num_matvecs) or num_matvecs < minimum:  # True is not one product
        raise ValueError(f"`num_matvecs`={num_matvecs!r} must be an integer >= {minimum} for {name}.")
    if probes:  # Hutchinson and Hutch++ draw up to num_matvecs probes at once; XTrace at most dim
        check_probe_block(num_matvecs, dim, "num_matvecs", example=48)


def _finite(est, method: str = ""):
    """``est`` (a TraceEstimate, or the products ``A S`` a sketch is built from) if finite, else a FloatingPointError:
    NaN products gave a NaN estimate without a word (or a sketch of NaN vectors to multiply)."""
    if isinstance(est, TraceEstimate) and math.isfinite(est.estimate) and math.isfinite(est.stderr) \
            or not isinstance(est, TraceEstimate) and np.all(np.isfinite(est)):
        return est
    raise FloatingPointError(f"{getattr(est, 'method', method)}: `matvec` returned NaN or Inf although its inputs "
                             "were finite; check the operator.")


def _hutchinson_run(matvec, dim, num, key, params):
    V = krylov.rademacher(key, (num, dim))  # probes drawn on the host: no compiled draw
    W = np.asarray(krylov.products(matvec, dim, params, V))
    q = np.sum(V * W, axis=1)
    return np.mean(q), _sem(q, 1), _gamma(dim + num) * float(np.mean(_abs_dots(V, W)))


def hutchinson(matvec, dim: int, key, *params, num_matvecs: int = 32) -> TraceEstimate:
    """Hutchinson's estimator ``mean_i v_iᵀ A v_i`` with Rademacher ``v_i``; stderr = sample std / √n."""
    key = krylov.check_key(key)
    krylov.check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 2, "Hutchinson (two probes give a standard error)")
    est, se, rnd = _hutchinson_run(matvec, int(dim), int(num_matvecs), key, params)
    return _finite(TraceEstimate("hutchinson", float(est), float(se) + rnd, int(num_matvecs), rnd, int(num_matvecs) - 1 if se > 0 else 0))


def _hutchpp_run(matvec, dim, s, g, key, params):
    # products through krylov.products: prepared once, one jitted product per vector on CPU
    SG = krylov.rademacher(key, (s + g, dim))  # sketch and Hutchinson probes, independent rows
    S, G = SG[:s], SG[s:]
    linear = krylov.prepare(matvec, dim, params)
    Q, _ = np.linalg.qr(_finite(np.asarray(krylov.products(matvec, dim, params, S, linear=linear)), "hutch++").T)
    Zt = np.asarray(krylov.products(matvec, dim, params, jnp.asarray(Q.T), linear=linear))  # (s, dim)
    low = np.sum(Q.T * Zt)
    Gp = G - (G @ Q) @ Q.T
    W = np.asarray(krylov.products(matvec, dim, params, jnp.asarray(Gp), linear=linear))
    q = np.sum(Gp * W, axis=1)
    # the deflated probes' quadratic forms, and the rounding δ of Gp itself (|δ| ≤ γ(|g| + |Q||Qᵀg|)) in 2δᵀAp
    spread = np.abs(G) + np.abs(G @ Q) @ np.abs(Q.T)
    rnd = _sketch_rounding(Q, Zt.T, dim) + _gamma(dim + s + g) * float(np.mean(_abs_dots(Gp, W) + 2 * _abs_dots(spread, W)))
    return low + np.mean(q), _sem(q, 1), rnd


def hutch_plus_plus(matvec, dim: int, key, *params, num_matvecs: int = 48) -> TraceEstimate:
    """Hutch++ (Meyer, Musco, Musco, Woodruff 2021) with ``num_matvecs`` products.

    A third of the budget sketches the range (``Q = qr(A S)``), a third computes
    ``tr(QᵀAQ)`` exactly, the last third is Hutchinson on ``(I − QQᵀ)A(I − QQᵀ)``.
    Unbiased; the standard error is that of the Hutchinson part (the rest is exact given ``Q``).
    """
    key = krylov.check_key(key)
    krylov.check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, HUTCH_PP_MIN, "Hutch++ (at least 2 probes in each third)")
    s = min(num_matvecs // 3, int(dim))
    g = num_matvecs - 2 * s
    est, se, rnd = _hutchpp_run(matvec, int(dim), s, g, key, params)
    return _finite(TraceEstimate("hutch++", float(est), float(se) + rnd, int(2 * s + g), rnd, g - 1 if se > 0 else 0))


def sphere(key, num: int, dim: int) -> np.ndarray:
    """``(num, dim)`` rows uniform on the sphere of radius √dim (matfree's ``sampler_sphere`` law), drawn on the
    host from :func:`theory_lab.krylov.key_rng` ``(key)``: no compiled draw."""
    for arg, value in (("num", num), ("dim", dim)):  # dim=0 divided 0 by 0 (NaN rows with a RuntimeWarning)
        if not is_integer(value) or value < 1:
            raise ValueError(f"`{arg}`={value!r} must be an integer >= 1 ({'rows' if arg == 'num' else 'length'} "
                             "of the probe block).")
    x = krylov.key_rng(key).standard_normal((num, dim))
    return x * (math.sqrt(dim) / np.linalg.norm(x, axis=1, keepdims=True))


def _xtrace_run(matvec, dim, num, key, params):
    """``(mean, sem, products)`` of XTrace's leave-one-out estimates, as ``matfree.stochtrace.leave_one_out_xtrace``
    (with resphering) computes them, but with the ``2·num`` products made one jitted product at a time
    (:func:`theory_lab.krylov.products`): inside one jitted estimator they ran as a vmapped batch, several
    times slower per product on CPU, and compiled for seconds."""
    Omega = sphere(key, num, dim).T  # (dim, num)
    linear = krylov.prepare(matvec, dim, params)
    if 2 * num >= dim:  # matfree: exact (and cheaper) on the materialised operator
        diag = np.diag(np.asarray(krylov.products(matvec, dim, params, np.eye(dim), linear=linear)))
        return float(np.sum(diag)), 0.0, dim, _gamma(dim) * float(np.sum(np.abs(diag)))
    Y = _finite(np.asarray(krylov.products(matvec, dim, params, Omega.T, linear=linear)), "xtrace").T
    Q, R = np.linalg.qr(Y)
    Z = np.asarray(krylov.products(matvec, dim, params, Q.T, linear=linear)).T
    # rank-deficient: tr(QᵀAQ) is exact. matfree's test |R_ii| > eps is absolute: an operator below ~1e-16 then
    # looked rank-deficient and tr(QᵀAQ) of a full-rank one came back with stderr 0; relative to max |R_ii| it
    # is the same test at unit scale and invariant under scaling (the zero operator: every R_ii is 0).
    d = np.abs(np.diag(R))
    rnd = _sketch_rounding(Q, Z, dim)
    if np.sum(d > np.finfo(R.dtype).eps * d.max(initial=0.0)) < num:
        est = np.full(num, np.vdot(Q, Z))
    else:
        # R scaled by a power of two first (S's columns are normalised): at norms 1e200 or 1e-300 the
        # columns of R⁻ᵀ had norms whose squares under- or overflowed, and every estimate was NaN
        S = scipy.linalg.solve_triangular(R / math.ldexp(1.0, math.frexp(float(d.max()))[1]), np.eye(num), trans=2)
        S = S / np.linalg.norm(S, axis=0)  # downdate: Q_i Q_iᵀ = Q (I − s_i s_iᵀ) Qᵀ leaving out sample i
        H, W, T = Q.T @ Z, Q.T @ Omega, Z.T @ Omega
        W_S = np.sum(W * S, axis=0)
        X = W - S * W_S
        T_X, X_HX, S_R = np.sum(T * X, axis=0), np.sum(X * (H @ X), axis=0), np.sum(S * R, axis=0)
        projected = np.sum(Omega**2, axis=0) - np.sum(X**2, axis=0)
        scale = (dim - num + 1) / np.where(projected == 0.0, 1.0, projected)  # resphering
        est = np.trace(H) - np.sum(S * (H @ S), axis=0) + scale * (-T_X + X_HX + S_R * W_S)
        # the samples' quadratic forms ω_iᵀAω_i, resphered, enter each leave-one-out estimate
        rnd += _gamma(dim + num) * float(np.max(np.abs(scale)) * np.mean(_abs_dots(Omega.T, Y.T)))
    # ddof = 1 as XTrace's authors (MATLAB's std); matfree's ddof = 0 made the bar √(num/(num − 1)) too small
    return float(np.mean(est)), _sem(est, 1), 2 * num, rnd


def xtrace(matvec, dim: int, key, *params, num_matvecs: int = 48) -> TraceEstimate:
    """XTrace (Epperly, Tropp, Webber 2024) as ``matfree.stochtrace`` computes it, with ``num_matvecs/2``
    sphere samples (the tests hold the two equal to rounding, the bar up to ddof, below).

    The sampling error is the spread of the ``num`` leave-one-out estimates / √num, with ddof = 1 as in the
    authors' code (``std(ests)/sqrt(m)`` in MATLAB); matfree uses ddof = 0, √(num/(num − 1)) smaller (√2 at two
    samples), the only departure from matfree. It is a heuristic: the leave-one-out estimates share their
    samples and are not independent, and on full-rank operators the bar still runs small, more so with more
    samples. Measured over 2000 keys (dim 24) and 400 (dim 100): rms error / rms bar 1.03–1.27 at 2–4 samples,
    1.07–1.57 at 8–24; :meth:`TraceEstimate.interval` (Student-t, ``num − 1`` dof) covered 90–96 % at 2–4
    samples (76 % on a rank-3 operator at 3 samples) and 78–94 % at 8–24 (a Wishart spectrum worst), where a
    95 % claim needs 95 %. Read its 95 % interval as roughly 80 %. With
    ``2 · samples ≥ dim`` the trace is exact from the ``dim`` products ``A e_i`` (as matfree does), and
    ``num_matvecs`` counts those; the bar is then the rounding of the diagonal's sum. See
    :class:`TraceEstimate` for the rounding part of the bar.
    """
    key = krylov.check_key(key)
    krylov.check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 4, "XTrace (two samples, two products each)", probes=False)
    num = min(num_matvecs // 2, int(dim))
    est, se, used, rnd = _xtrace_run(matvec, int(dim), num, key, params)
    return _finite(TraceEstimate("xtrace", float(est), float(se) + rnd, int(used), rnd, num - 1 if se > 0 else 0))


def trace_estimates(matvec, dim: int, key, *params, num_matvecs: int = 48) -> dict:
    """Hutchinson, Hutch++ and XTrace with the same budget and independent keys."""
    k1, k2, k3 = krylov.split_key(key, 3)
    return {"hutchinson": hutchinson(matvec, dim, k1, *params, num_matvecs=num_matvecs),
            "hutch++": hutch_plus_plus(matvec, dim, k2, *params, num_matvecs=num_matvecs),
            "xtrace": xtrace(matvec, dim, k3, *params, num_matvecs=num_matvecs)}
