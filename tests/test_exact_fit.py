"""Unit tests of theory_lab.exact_fit: Corollary 3.6's fit, output layer and parameter counts."""

import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Conv, MaxPool, Output
from theory_lab.exact_fit import exact_fit, parameter_counts, with_output_layer
from theory_lab.testing import matrix_with_singular_values
from theory_lab.witness import construct_full_rank


def test_exact_fit_matches_pseudoinverse_and_gram_formula(rng):
    F = rng.standard_normal((12, 30))
    y = rng.standard_normal(12)
    fit = exact_fit(F, y)
    gram = F.T @ np.linalg.solve(F @ F.T, y)  # the paper's formula, fine when F is well conditioned
    np.testing.assert_allclose(fit.lam, gram, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.lam, np.linalg.pinv(F) @ y, rtol=1e-10, atol=1e-12)
    assert fit.relative_residual < 1e-13
    Y = rng.standard_normal((12, 3))
    assert exact_fit(F, Y).lam.shape == (30, 3)


def test_exact_fit_is_stable_where_the_gram_inverse_is_not(rng):
    s = np.logspace(0, -9, 20)
    F = matrix_with_singular_values(s, (20, 50), rng)
    y = rng.standard_normal(20)
    fit = exact_fit(F, y)
    gram = F.T @ np.linalg.solve(F @ F.T, y)
    gram_res = np.linalg.norm(F @ gram - y) / np.linalg.norm(y)
    assert fit.report.full_row_rank
    assert fit.relative_residual < 1e-6 and fit.relative_residual < gram_res / 100


def test_exact_fit_narrow_leaves_residual(rng):
    F = rng.standard_normal((12, 5))
    fit = exact_fit(F, rng.standard_normal(12))
    assert not fit.report.full_row_rank and fit.relative_residual > 0.1


def test_exact_fit_errors():
    with pytest.raises(ValueError, match=r"`y` has shape \(3,\); expected \(4,\)"):
        exact_fit(np.ones((4, 6)), np.ones(3))
    with pytest.raises(ValueError, match="`F` must be a float64 matrix"):
        exact_fit(np.ones((4, 6), np.float32), np.ones(4))


def test_with_output_layer_makes_the_network_fit(rng):
    arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    X = rng.standard_normal((15, 6, 1))
    w = construct_full_rank(arch, X, 1, key=0)
    y = rng.standard_normal(15)
    params = with_output_layer(arch, w.params, exact_fit(w.features, y).lam)
    np.testing.assert_allclose(np.asarray(model.apply(arch, params, X))[:, 0], y, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match=r"`lam` has shape \(4, 1\)"):
        with_output_layer(arch, w.params, np.ones(4))


def test_parameter_counts_formula():
    arch = Architecture((40, 1), (Conv(1, (5,)), Output(1)))  # P_0 = 36, l_0 = 5
    c = parameter_counts(arch, 100)
    assert (c["T_1"], c["cnn"], c["fully_connected"]) == (3, 2 * 100 + 3 * 5, 42 * 100)
    with pytest.raises(ValueError, match="layer 1 must be conv or fully connected"):
        parameter_counts(Architecture((4, 1), (MaxPool((2,)), Output(1))), 10)
