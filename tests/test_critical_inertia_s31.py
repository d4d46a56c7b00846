"""The inertia standing for a critical point: the Hessian's change measured at the Newton point (stop 31).

Stop 30 left an analytic counterexample to ``hessian_inertia(critical=True)``'s first-order rule: at 0,
``Φ = ½x² + ½εy² − y⁴ + gy`` (``ε = 1e-7``, ``g = 5e-11``) has eigenvalues 1 and 1e-7 and ``D³Φ(0) = 0``, so the
predicted change ``D∇²Φ[δ]`` is 0 and the point was a conclusive *minimum* (margin 100), while no minimum is
near: ``Φ_y > 0`` on ``(−∞, 0]`` near 0 and the critical point nearby, ``y ≈ 2.7e-4``, is a saddle.
``curvature_report.critical_inertia`` also measures ``∇²Φ(θ + δ) − ∇²Φ(θ)`` (3e-6 here) and signs nothing below it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.curvature_report import critical_inertia
from theory_lab.linalg import inertia_report

EPS, G = 1e-7, 5e-11


def _quartic(sign):
    return lambda t: 0.5 * t[0] ** 2 + 0.5 * EPS * t[1] ** 2 + sign * t[1] ** 4 + G * t[1]


def _first_order_only(phi, theta, rtol=1e-9):
    """Stop 30's rule (first-order change only): the planted bug, kept to show what it said."""
    H = np.asarray(jax.hessian(phi)(theta))
    w, Q = np.linalg.eigh(H)
    tol = rtol * np.max(np.abs(w))
    gq = Q.T @ np.asarray(jax.grad(phi)(theta))
    keep = np.abs(w) > tol
    delta = Q[:, keep] @ (-gq[keep] / w[keep])
    dH = np.asarray(jax.jvp(jax.hessian(phi), (theta,), (jnp.asarray(delta),))[1])
    return inertia_report(w, tol=max(tol, float(np.max(np.abs(np.linalg.eigvalsh(dH))))))


def test_no_conclusive_minimum_where_the_nearby_critical_point_is_a_saddle():
    phi, theta = _quartic(-1.0), jnp.zeros(2)
    assert float(jnp.linalg.norm(jax.grad(phi)(theta))) <= 1e-10  # a solver at gtol 1e-10 stops here
    # the planted rule: a conclusive minimum
    old = _first_order_only(phi, theta)
    assert (old.kind, old.conclusive) == ("minimum", True), old.summary()
    # the truth: the critical point near 0 solves ε y − 4y³ + g = 0 with y > 0 (Φ_y(0) = g > 0 and Φ_y falls
    # for y beyond sqrt(ε/12)); there Φ_yy = ε − 12 y² < 0: a saddle
    y = max(r.real for r in np.roots([-4.0, 0.0, EPS, G]) if abs(r.imag) < 1e-12 and r.real > 0)
    assert 1e-4 < y < 1e-3 and EPS - 12 * y * y < 0
    new = critical_inertia(jax.hessian(phi), jax.grad(phi), theta)
    assert new.kind != "minimum", new.summary()
    assert new.tol > EPS  # the 1e-7 eigenvalue is not signed
    assert new.positive == 1 and new.negative == 0


def test_strict_extrema_and_saddles_stay_conclusive():
    # converse: well-conditioned critical points a tiny step away keep a conclusive, correct kind
    for sign, kind in ((1.0, "minimum"), (-1.0, "saddle")):
        phi = lambda t, s=sign: 0.5 * t[0] ** 2 + s * 0.5 * t[1] ** 2 + t[1] ** 4 + 1e-11 * t[1]
        r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(2))
        assert (r.kind, r.conclusive) == (kind, True), r.summary()
        assert r.tol < 1e-8


def test_an_exact_critical_point_keeps_the_relative_tolerance():
    phi = lambda t: t[0] ** 2 - t[1] ** 2 + t[0] ** 4
    r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(2))
    assert r.tol == pytest.approx(2e-9) and (r.negative, r.positive, r.conclusive) == (1, 1, True)


def test_a_newton_point_where_the_hessian_is_not_finite_signs_nothing():
    # the Newton step from 0 lands on t₁ = −1, where log(1 + t₁) is −inf: the change there is unknown
    phi = lambda t: 0.5 * t[0] ** 2 + 0.5 * t[1] ** 2 + 1e-3 * jnp.log1p(t[1]) ** 4 + 1.0 * t[1]
    r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(2))
    assert not r.conclusive and r.tol == pytest.approx(1.0)


def test_float32_theta_is_refused():
    phi = _quartic(1.0)
    with pytest.raises(TypeError, match="`theta` has dtype float32"):
        critical_inertia(jax.hessian(phi), jax.grad(phi), np.zeros(2, np.float32))
