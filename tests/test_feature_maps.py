"""Unit tests of theory_lab.feature_maps: features_upto, feature_rank and the numpy U_k against theory_lab.model."""

import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.feature_maps import feature_rank, features_upto, full_weight_matrix
from theory_lab.sampling import sample_params

MIXED = Architecture((6, 6, 2), (Conv(3, (3, 3), padding="SAME", bias="neuron"), Conv(2, (2, 2), bias="filter"),
                                 MaxPool((2, 2)), Conv(2, (1, 1), bias="none"), Dense(5), Output(3)))


def test_features_upto_equals_model_features(key, rng):
    X = rng.standard_normal((7, 6, 6, 2))
    params = sample_params(MIXED, key)
    ref = model.features(MIXED, params, X)
    for k in (1, 2, 3, 5):
        np.testing.assert_allclose(features_upto(MIXED, params, X, k), np.asarray(ref[k]), rtol=1e-12, atol=1e-13)
    assert feature_rank(MIXED, params, X, 1).shape == (7, MIXED.widths[1])


@pytest.mark.parametrize("arch", [
    MIXED,
    Architecture((9, 2), (Conv(3, (3,), stride=2, padding="SAME", dilation=1), Conv(2, (2,), dilation=2), Output(1))),
])
def test_full_weight_matrix_matches_model(arch, key):
    params = sample_params(arch, key)
    for info in arch.info:
        if info.has_weights:
            np.testing.assert_array_equal(full_weight_matrix(arch, params, info.k),
                                          np.asarray(model.full_weight_matrix(arch, params, info.k)))
    with pytest.raises(ValueError, match="has no weights"):
        full_weight_matrix(MIXED, sample_params(MIXED, 0), 3)


def test_feature_rank_rejects_output_layer():
    with pytest.raises(ValueError, match=r"`k`=6 is not a hidden layer"):
        feature_rank(MIXED, sample_params(MIXED, 0), np.zeros((2, 6, 6, 2)), 6)


def _one_saturated_unit(activation: str, rng):
    """A dense net with n_1 = N = 6 whose unit 0 has pre-activations in [-9.5, -8.5] on every sample."""
    arch = Architecture((3,), (Dense(6, activation=activation), Output(1)))
    X = rng.uniform(-1, 1, (6, 3))
    W = rng.standard_normal((3, 6))
    b = rng.standard_normal(6)
    W[:, 0] = 0.1 * np.array([1.0, 1.0, 1.0]) / 3
    b[0] = -9.0
    params = {"layer_1": {"W": W, "b": b}, "layer_2": {"W": np.zeros((6, 1)), "b": np.zeros(1)}}
    return arch, params, X


def test_saturated_analytic_unit_makes_the_deficiency_inconclusive(rng):
    arch, params, X = _one_saturated_unit("gelu", rng)  # gelu(-9) ~ 1e-18: constant to rounding
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 5 and r.margin >= r.band          # float64 sees rank 5, far below tolerance ...
    assert not r.conclusive and "saturate" in r.unresolved and "[0]" in r.unresolved  # ... but cannot decide


def test_dead_relu_unit_is_a_conclusive_deficiency(rng):
    arch, params, X = _one_saturated_unit("relu", rng)  # relu is exactly 0 there, in exact arithmetic too
    r = feature_rank(arch, params, X, 1)
    assert r.rank < 6 and r.conclusive and r.unresolved == ""


ISSUE_9 = Architecture((5,), (Dense(8, activation="softplus"), Dense(4, activation="softplus"),
                              Dense(16, activation="gelu"), Output(1)))


def _issue_9_instance(n_affine: int, n_saturated: int, rng, duplicate: bool = False):
    """Issue 9.2: ``ISSUE_9`` at k = 3, N = 16; GELU units 0 … n_affine−1 have every pre-activation > 8.3
    (GELU(x) = x in float64), the next ``n_saturated`` sit in [−45, −11] (outputs ~1e-27), the rest are generic."""
    X = rng.standard_normal((16, 5))
    if duplicate:
        X[1] = X[0]
    params = sample_params(ISSUE_9, 7)
    F2 = features_upto(ISSUE_9, params, X, 2)
    W, b = rng.standard_normal((4, 16)), 0.1 * rng.standard_normal(16)
    for j in range(n_affine + n_saturated):
        g = F2 @ W[:, j]
        if j < n_affine:
            b[j] = 8.3 + rng.uniform(0.5, 3.0) - g.min()
        else:
            W[:, j] *= rng.uniform(5.0, 30.0) / max(np.ptp(g), 1e-12)
            b[j] = -11.0 - rng.uniform(0.0, 2.0) - (F2 @ W[:, j]).max()
    params["layer_3"] = {"W": W, "b": b}
    G = F2 @ W + b
    assert np.all(G[:, :n_affine] > 8.3)
    assert np.all(G[:, n_affine:n_affine + n_saturated] < -11) and np.all(G[:, n_affine:n_affine + n_saturated] > -45)
    return params, X


def test_issue_9_gelu_affine_and_saturated_units_make_the_deficiency_inconclusive(rng):
    params, X = _issue_9_instance(5, 7, rng)
    r = feature_rank(ISSUE_9, params, X, 3)
    assert r.rank < 16 and r.margin >= r.band        # float64 alone would call this a counterexample
    assert not r.conclusive
    assert "7 unit(s) saturate" in r.unresolved and "5 unit(s) are affine to rounding" in r.unresolved


def test_affine_to_rounding_units_alone_make_the_deficiency_inconclusive(rng):
    params, X = _issue_9_instance(8, 0, rng)  # 8 affine units span at most rank [F_2, 1] = 5: rank <= 13
    r = feature_rank(ISSUE_9, params, X, 3)
    assert r.rank <= 13 and r.margin >= r.band
    assert not r.conclusive and "8 unit(s) are affine to rounding" in r.unresolved and "saturate" not in r.unresolved


def test_a_deficiency_the_unresolved_units_cannot_explain_stays_conclusive(rng):
    # a duplicated sample: equal rows of G_3 give equal rows of F_3 in exact arithmetic, whatever the units do
    params, X = _issue_9_instance(0, 2, rng, duplicate=True)
    r = feature_rank(ISSUE_9, params, X, 3)
    assert r.rank == 14 and r.conclusive and r.unresolved == ""  # 14 generic units, 15 distinct rows


def test_affine_activation_units_are_never_unresolved(rng):
    arch = Architecture((1,), (Dense(6, activation="identity"), Output(1)))  # exactly affine: rank <= 2
    r = feature_rank(arch, sample_params(arch, 0), rng.standard_normal((6, 1)), 1)
    assert r.rank == 2 and r.conclusive and r.unresolved == ""
