"""Trace estimates of a symmetric operator given ``v -> A v``, each with its standard error.

:func:`hutchinson`, :func:`hutch_plus_plus` (products through :func:`theory_lab.krylov.products`:
prepared once, one jitted product per vector on CPU) and :func:`xtrace` (``matfree.stochtrace``'s algorithm, products driven the same way);
:func:`trace_estimates` runs all three with independent keys (:class:`TraceEstimate`).

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import trace
    >>> from theory_lab.spectrum import dense_matvec
    >>> est = trace.hutchinson(dense_matvec, 50, jax.random.key(1), np.diag(np.arange(1.0, 51.0)), num_matvecs=20)
    >>> est.estimate, est.stderr  # Rademacher probes are exact on a diagonal matrix
    (1275.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import scipy.linalg

from theory_lab import krylov
from theory_lab.keys import check_probe_block

__all__ = ["TraceEstimate", "HUTCH_PP_MIN", "hutchinson", "hutch_plus_plus", "xtrace", "trace_estimates", "sphere"]

HUTCH_PP_MIN = 6  # Hutch++ spends a third of its products on each of its 3 parts, 2 at least


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


def _check_budget(num_matvecs, dim, minimum, name, probes=True):
    if not isinstance(num_matvecs, (int, np.integer)) or num_matvecs < minimum:
        raise ValueError(f"`num_matvecs`={num_matvecs!r} must be an integer >= {minimum} for {name}.")
    if probes:  # Hutchinson and Hutch++ draw up to num_matvecs probes at once; XTrace at most dim
        check_probe_block(num_matvecs, dim, "num_matvecs", example=48)


def _hutchinson_run(matvec, dim, num, key, params):
    V = krylov.rademacher(key, (num, dim))  # probes drawn on the host: no compiled draw
    q = np.sum(V * np.asarray(krylov.products(matvec, dim, params, V)), axis=1)
    return np.mean(q), np.std(q, ddof=1) / math.sqrt(num)


def hutchinson(matvec, dim: int, key, *params, num_matvecs: int = 32) -> TraceEstimate:
    """Hutchinson's estimator ``mean_i v_iᵀ A v_i`` with Rademacher ``v_i``; stderr = sample std / √n."""
    key = krylov.check_key(key)
    krylov.check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 2, "Hutchinson (two probes give a standard error)")
    est, se = _hutchinson_run(matvec, int(dim), int(num_matvecs), key, params)
    return TraceEstimate("hutchinson", float(est), float(se), int(num_matvecs))


def _hutchpp_run(matvec, dim, s, g, key, params):
    # products through krylov.products: prepared once, one jitted product per vector on CPU
    SG = krylov.rademacher(key, (s + g, dim))  # sketch and Hutchinson probes, independent rows
    S, G = SG[:s], SG[s:]
    linear = krylov.prepare(matvec, dim, params)
    Q, _ = np.linalg.qr(np.asarray(krylov.products(matvec, dim, params, S, linear=linear)).T)  # (dim, s)
    low = np.sum(Q.T * np.asarray(krylov.products(matvec, dim, params, jnp.asarray(Q.T), linear=linear)))
    Gp = G - (G @ Q) @ Q.T
    q = np.sum(Gp * np.asarray(krylov.products(matvec, dim, params, jnp.asarray(Gp), linear=linear)), axis=1)
    return low + np.mean(q), np.std(q, ddof=1) / math.sqrt(g)


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
    est, se = _hutchpp_run(matvec, int(dim), s, g, key, params)
    return TraceEstimate("hutch++", float(est), float(se), int(2 * s + g))


def sphere(key, num: int, dim: int) -> np.ndarray:
    """``(num, dim)`` rows uniform on the sphere of radius √dim (matfree's ``sampler_sphere`` law), drawn on the
    host from :func:`theory_lab.krylov.key_rng` ``(key)``: no compiled draw."""
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
        tr = float(np.trace(np.asarray(krylov.products(matvec, dim, params, np.eye(dim), linear=linear))))
        return tr, 0.0, dim
    Y = np.asarray(krylov.products(matvec, dim, params, Omega.T, linear=linear)).T
    Q, R = np.linalg.qr(Y)
    Z = np.asarray(krylov.products(matvec, dim, params, Q.T, linear=linear)).T
    # rank-deficient: tr(QᵀAQ) is exact. matfree's test |R_ii| > eps is absolute: an operator below ~1e-16 then
    # looked rank-deficient and tr(QᵀAQ) of a full-rank one came back with stderr 0; relative to max |R_ii| it
    # is the same test at unit scale and invariant under scaling (the zero operator: every R_ii is 0).
    d = np.abs(np.diag(R))
    if np.sum(d > np.finfo(R.dtype).eps * d.max(initial=0.0)) < num:
        est = np.full(num, np.vdot(Q, Z))
    else:
        S = scipy.linalg.solve_triangular(R, np.eye(num), trans=2)
        S = S / np.linalg.norm(S, axis=0)  # downdate: Q_i Q_iᵀ = Q (I − s_i s_iᵀ) Qᵀ leaving out sample i
        H, W, T = Q.T @ Z, Q.T @ Omega, Z.T @ Omega
        W_S = np.sum(W * S, axis=0)
        X = W - S * W_S
        T_X, X_HX, S_R = np.sum(T * X, axis=0), np.sum(X * (H @ X), axis=0), np.sum(S * R, axis=0)
        projected = np.sum(Omega**2, axis=0) - np.sum(X**2, axis=0)
        scale = (dim - num + 1) / np.where(projected == 0.0, 1.0, projected)  # resphering
        est = np.trace(H) - np.sum(S * (H @ S), axis=0) + scale * (-T_X + X_HX + S_R * W_S)
    return float(np.mean(est)), float(np.std(est) / math.sqrt(num)), 2 * num


def xtrace(matvec, dim: int, key, *params, num_matvecs: int = 48) -> TraceEstimate:
    """XTrace (Epperly, Tropp, Webber 2024) as ``matfree.stochtrace`` computes it, with ``num_matvecs/2``
    sphere samples (the tests hold the two equal to rounding).

    The standard error is matfree's: the spread of the leave-one-out estimates / √(samples). With
    ``2 · samples ≥ dim`` the trace is exact from the ``dim`` products ``A e_i`` (as matfree does), and
    ``num_matvecs`` counts those.
    """
    key = krylov.check_key(key)
    krylov.check_operator(matvec, dim, params)
    _check_budget(num_matvecs, dim, 4, "XTrace (two samples, two products each)", probes=False)
    num = min(num_matvecs // 2, int(dim))
    est, se, used = _xtrace_run(matvec, int(dim), num, key, params)
    return TraceEstimate("xtrace", float(est), float(se), int(used))


def trace_estimates(matvec, dim: int, key, *params, num_matvecs: int = 48) -> dict:
    """Hutchinson, Hutch++ and XTrace with the same budget and independent keys."""
    k1, k2, k3 = krylov.split_key(key, 3)
    return {"hutchinson": hutchinson(matvec, dim, k1, *params, num_matvecs=num_matvecs),
            "hutch++": hutch_plus_plus(matvec, dim, k2, *params, num_matvecs=num_matvecs),
            "xtrace": xtrace(matvec, dim, k3, *params, num_matvecs=num_matvecs)}
