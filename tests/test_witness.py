"""Unit tests of theory_lab.witness: Theorem 3.4's construction, its successes, limits and errors."""

import numpy as np
import pytest

from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.feature_maps import features_upto
from theory_lab.rank_probes import rank_frequency
from theory_lab.witness import construct_full_rank


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softplus", "gelu", "silu"])
def test_construction_reaches_full_rank(activation, rng):
    arch = Architecture((10, 1), (Conv(2, (3,), activation=activation), Conv(4, (2,), activation=activation),
                                  Output(1)))  # n_2 = 28
    X = rng.standard_normal((28, 10, 1))
    w = construct_full_rank(arch, X, 2, key=1)
    assert w.found, w.log
    assert w.report.rank == 28 and w.report.conclusive
    assert set(w.U_reports) == {1, 2} and all(r.full_rank for r in w.U_reports.values())
    np.testing.assert_allclose(w.features, features_upto(arch, w.params, X, 2))


def test_construction_relu_submatrix_is_triangular(rng):
    arch = Architecture((7, 2), (Conv(3, (3,), activation="relu"), Output(1)))  # n_1 = 15
    X = rng.standard_normal((12, 7, 2))
    w = construct_full_rank(arch, X, 1, key=3)
    T = w.features[w.order][:, w.neurons]
    assert sorted(w.order.tolist()) == list(range(12)) and len(set(w.neurons.tolist())) == 12
    assert np.all(np.tril(T, -1) == 0.0) and np.all(np.diag(T) > 0)


def test_construction_with_pooling_and_dense_wide_layer(rng):
    arch = Architecture((6, 6, 1), (Conv(3, (3, 3), activation="relu"), MaxPool((2, 2), 1),
                                    Dense(40, activation="relu"), Output(1)))
    X = rng.standard_normal((40, 6, 6, 1))
    w = construct_full_rank(arch, X, 3, key=0)
    assert w.found and w.report.rank == 40


def test_construction_succeeds_where_random_relu_fails(rng):
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="relu"), Output(1)))  # n_1 = 64
    X = np.abs(rng.standard_normal((64, 6, 6, 1)))
    freq = rank_frequency(arch, X, 1, draws=5, key=0)
    assert freq.deficient >= 1  # random parameters often lose rank here
    assert construct_full_rank(arch, X, 1, key=0).found


def test_construction_identity_cannot_pass_d_plus_1(rng):
    arch = Architecture((3, 1), (Conv(6, (2,), activation="identity"), Output(1)))  # d = 3, n_1 = 12
    X = rng.standard_normal((10, 3, 1))
    w = construct_full_rank(arch, X, 1, key=0, attempts=2)
    assert not w.found and w.report.rank <= 4 and w.attempts == 2


def test_construction_duplicate_samples_is_refused(rng):
    arch = Architecture((5, 1), (Conv(4, (2,), activation="relu"), Output(1)))
    X = rng.standard_normal((8, 5, 1))
    X[3] = X[5]
    with pytest.raises(RuntimeError, match="Assumption 3.1"):
        construct_full_rank(arch, X, 1, key=0, attempts=2)


@pytest.mark.parametrize("arch, k, match", [
    (Architecture((5, 1), (Conv(1, (2,), activation="relu"), Output(1))), 1, r"n_1 = 4 < N = 8"),
    (Architecture((5, 1), (Conv(4, (2,), activation="relu", bias="filter"), Output(1))), 1, r"bias='filter'"),
    (Architecture((5, 1), (Conv(4, (2,)), MaxPool((2,)), Dense(9), Output(1))), 2, r"layer 2 is maxpool"),
    (Architecture((5, 1), (Conv(4, (2,)), Output(1))), 2, r"`k`=2 is not a hidden layer"),
])
def test_construction_errors(arch, k, match):
    with pytest.raises(ValueError, match=match):
        construct_full_rank(arch, np.random.default_rng(0).standard_normal((8, 5, 1)), k)
