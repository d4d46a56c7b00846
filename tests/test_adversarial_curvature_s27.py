"""Adversarial inputs to the curvature side (session 27): each test's expectation comes from a dense
``numpy.linalg.eigh`` reference or from mathematics, never from the code under test."""

import jax
import numpy as np
import pytest

from theory_lab import spectrum as S
from theory_lab import trace as T


def _orthogonal(n, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return Q


def _with_eigenvalues(lam, seed=0):
    Q = _orthogonal(len(lam), seed)
    A = Q @ np.diag(lam) @ Q.T
    return 0.5 * (A + A.T)


@pytest.mark.parametrize("scale", [1e-170, 1e-300])
def test_lanczos_on_a_tiny_operator_flags_no_pair_converged_whose_true_residual_exceeds_tol(scale):
    """``A = scale · Q diag(linspace(−1, 2, 30)) Qᵀ``: the spectrum scaled by a power of ten. Lanczos is
    scale-invariant in exact arithmetic, so the top pair must be 2·scale to the reported tolerance, and every
    pair flagged converged must have a true residual ``‖Av − λv‖`` (dense) at most ``tol``.

    Before the fix ``‖·‖ = sqrt(Σ x²)`` underflowed to 0 for vectors below ~1e-154: every step "broke down"
    (β = 0 ≤ 1e-12 · 0), the residuals came out as exactly 0 and the pairs were flagged converged, the top
    value 0.667·scale instead of 2·scale."""
    n = 30
    B = _with_eigenvalues(np.linspace(-1.0, 2.0, n), seed=1)
    A = scale * B
    lam = np.linalg.eigvalsh(B) * scale
    top = S.lanczos(S.dense_matvec, n, jax.random.key(0), A, k=3, which="top")
    for v, value, ok in zip(top.vectors, top.values, top.converged):
        true_residual = np.linalg.norm(B @ v - (value / scale) * v)  # at unit scale: sqrt(Σ x²) would underflow
        assert not ok or true_residual <= (top.tol / scale) * (1 + 1e-6)
    assert top.converged.all()
    np.testing.assert_allclose(top.values / scale, lam[::-1][:3] / scale, rtol=0, atol=1e-8)


def test_lanczos_on_a_huge_operator_gives_finite_residuals_and_the_top_eigenvalues():
    """``1e200 ·`` a matrix with eigenvalues linspace(−1, 2, 30): squares of its products' entries overflow.
    Before the fix every norm was inf, every step a "breakdown", the residuals inf (vectors fine, values the
    Rayleigh quotients of random vectors: 0.85e200 instead of 2e200), none converged."""
    n, scale = 30, 1e200
    B = _with_eigenvalues(np.linspace(-1.0, 2.0, n), seed=1)
    lam = np.linalg.eigvalsh(B) * scale
    top = S.lanczos(S.dense_matvec, n, jax.random.key(0), scale * B, k=3, which="top")
    assert np.all(np.isfinite(top.residuals))
    assert top.converged.all()
    np.testing.assert_allclose(top.values / scale, lam[::-1][:3] / scale, rtol=0, atol=1e-8)


@pytest.mark.parametrize("scale", [1e-20, 1e-100])
def test_xtrace_of_a_small_operator_is_not_declared_exact(scale):
    """XTrace on ``scale · B`` (B symmetric positive definite, eigenvalues in [0.5, 2], dim 60, 12 samples):
    the estimator is homogeneous, so estimate/scale and stderr/scale must not depend on ``scale``; in
    particular the estimate must lie within a few standard errors of the true trace (75·scale).

    Before the fix the rank test ``|R_ii| > eps`` was absolute: at ``scale = 1e-20`` every ``R_ii`` was
    below eps, ``Y = AΩ`` was declared rank-deficient and ``tr(QᵀAQ)`` (17.7·scale) returned as exact
    with stderr 1.4e-35."""
    n = 60
    B = _with_eigenvalues(np.linspace(0.5, 2.0, n), seed=3)
    ref = T.xtrace(S.dense_matvec, n, jax.random.key(0), B, num_matvecs=24)
    est = T.xtrace(S.dense_matvec, n, jax.random.key(0), scale * B, num_matvecs=24)
    assert abs(ref.estimate - np.trace(B)) <= 5 * ref.stderr  # the unit-scale run is a sane estimate
    assert est.estimate / scale == pytest.approx(ref.estimate, rel=1e-10)
    assert est.stderr / scale == pytest.approx(ref.stderr, rel=1e-6)


def test_slq_inertia_is_never_conclusive_even_when_its_bounds_pin_a_wrong_count():
    """``A = I_10 ⊗ [[0, 1], [1, 0]]``: eigenvalues ±1, ten each (dense: 10 negative, 0 zero, 10 positive).
    A Rademacher probe lies in span of the +1 eigenvectors on each block where its two entries agree and
    in the −1 span where they differ, so every probe's Krylov space runs out after 2 steps and its exact
    quadrature has mass (#agreeing blocks)/10 on +1: a binomial draw, not 1/2. With two probes
    ``dim · mass`` is always an integer and the bounds collapse onto it. Seed 0 gives 9 negative /
    11 positive, which were reported conclusive before stop 27; now pinned (a fact about the probes'
    measure) and not conclusive."""
    A = np.kron(np.eye(10), np.array([[0.0, 1.0], [1.0, 0.0]]))
    lam = np.linalg.eigvalsh(A)
    ref = (int(np.sum(lam < 0)), int(np.sum(lam == 0)), int(np.sum(lam > 0)))
    assert ref == (10, 0, 10)
    r = S.inertia(S.dense_matvec, 20, A, key=jax.random.key(0), exact_max=0, num_probes=2, num_matvecs=10)
    assert r.method == "slq"
    assert r.pinned and (round(r.negative), round(r.zero), round(r.positive)) != ref  # the bounds pin a wrong count
    assert not r.conclusive and r.to_dict()["conclusive"] is False
