"""Session 34 (lead): a bool is not a layer index or a step count anywhere in the loss-surface API.

``isinstance(True, int)`` holds in Python, so ``k=True`` used to be read as layer 1 and ``steps=True`` as one
Adam step, silently. Each function now refuses it, naming the argument (``validate.is_integer``).
"""

import numpy as np
import pytest

from theory_lab import gradient_probes, loss_surface
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4, "tanh"), Dense(3, "tanh"), Output(2)))
X = np.random.default_rng(0).standard_normal((5, 3))
Y = np.random.default_rng(1).standard_normal((5, 2))
PARAMS = sample_params(ARCH, 0)


@pytest.mark.parametrize("flag", [True, np.bool_(True)])
def test_loss_surface_refuses_a_bool_layer(flag):
    U = np.zeros((ARCH.widths[0], ARCH.widths[1]))
    with pytest.raises(ValueError, match=r"`j`=.*True.* is not a layer of this network"):
        loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, flag, U)
    with pytest.raises(ValueError, match=r"`k`=.*True.* must be a hidden layer"):
        loss_surface.backprop(ARCH, PARAMS, X, Y, flag)
    with pytest.raises(ValueError, match=r"`k`=.*True.* must be a hidden layer"):
        gradient_probes.attaining_point(ARCH, PARAMS, X, flag)


def test_small_gradient_search_refuses_a_bool_step_count():
    with pytest.raises(ValueError, match=r"`steps`=True must be a positive integer"):
        gradient_probes.small_gradient_search(ARCH, PARAMS, X, Y, 1, steps=True)


def test_the_same_calls_accept_numpy_integers():
    """The refusal is of bools, not of numpy integers (which ``isinstance(.., int)`` alone would refuse)."""
    U = np.zeros((ARCH.widths[0], ARCH.widths[1]))
    F_np = loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, np.int64(1), U)
    F_py = loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, 1, U)
    np.testing.assert_array_equal(np.asarray(F_np), np.asarray(F_py))
    b_np = loss_surface.backprop(ARCH, PARAMS, X, Y, np.int32(1))
    b_py = loss_surface.backprop(ARCH, PARAMS, X, Y, 1)
    np.testing.assert_array_equal(np.asarray(b_np.grad_U[ARCH.L]), np.asarray(b_py.grad_U[ARCH.L]))


# ----------------------------------------------------------------- counts in the curvature API (same slip)

import jax  # noqa: E402

from theory_lab import density, spectrum, trace  # noqa: E402

A = np.diag([3.0, 1.0, -2.0, 0.5])
KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("call, name", [
    (lambda: trace.hutchinson(spectrum.dense_matvec, 4, KEY, A, num_matvecs=True), "num_matvecs"),
    (lambda: density.slq_density(spectrum.dense_matvec, 4, KEY, A, num_probes=True), "num_probes"),
    (lambda: density.slq_density(spectrum.dense_matvec, 4, KEY, A, num_matvecs=True), "num_matvecs"),
    (lambda: spectrum.materialize(spectrum.dense_matvec, 4, A, batch=True), "batch"),
    (lambda: spectrum.lanczos(spectrum.dense_matvec, 4, KEY, A, k=True), "k"),
])
def test_curvature_counts_refuse_a_bool(call, name):
    """``True`` was one SLQ probe, one SLQ step or a batch of one (Hutchinson's minimum of 2 and lanczos' own
    bool test refused it already; kept as regressions); it is refused, naming the argument."""
    with pytest.raises(ValueError, match=rf"`{name}`=True must be"):
        call()


def test_the_same_counts_accept_numpy_integers():
    est = trace.hutchinson(spectrum.dense_matvec, 4, KEY, A, num_matvecs=np.int64(8))
    assert est.num_matvecs == 8
    M = spectrum.materialize(spectrum.dense_matvec, 4, A, batch=np.int32(2))
    np.testing.assert_array_equal(np.asarray(M), A)


# ----------------------------------------------------------------- SLQ refuses a non-symmetric operator

def test_slq_refuses_a_non_symmetric_operator_like_lanczos():
    """SLQ's quadrature assumes A = Aᵀ; a non-symmetric operator gave a density without a word. The first
    probe's kept products now test it (no extra product), with lanczos' threshold."""
    rng = np.random.default_rng(3)
    S = rng.standard_normal((12, 12))
    sym, skewed = S + S.T, S + S.T + 1e-3 * (S - S.T)
    d = density.slq_density(spectrum.dense_matvec, 12, KEY, sym, num_probes=2, num_matvecs=6)
    assert d.num_probes == 2
    lam = np.linalg.eigvalsh(sym)
    assert lam[0] - 1e-10 <= d.lambda_min and d.lambda_max <= lam[-1] + 1e-10  # nodes within the spectrum
    with pytest.raises(ValueError, match=r"`matvec` is not symmetric: .* relative .*refused above 1e-08"):
        density.slq_density(spectrum.dense_matvec, 12, KEY, skewed, num_probes=2, num_matvecs=6)
    with pytest.raises(ValueError, match=r"`matvec` is not symmetric"):
        spectrum.lanczos(spectrum.dense_matvec, 12, KEY, skewed, k=2)
    assert spectrum.ASYMMETRY_RTOL == density.ASYMMETRY_RTOL == 1e-8
