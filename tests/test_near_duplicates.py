"""Near-duplicate samples (:mod:`theory_lab.near_duplicates`): distinct samples closer than float64 resolves
leave a rank deficit of ``F_k`` unresolved; samples whose exact rows are equal (an unread pixel, dead ReLU
units) or a deficit with another cause keep it conclusive."""

from __future__ import annotations

import numpy as np
import pytest

from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.feature_maps import feature_rank
from theory_lab.near_duplicates import near_duplicate_pairs
from theory_lab.sampling import sample_params, with_layer

N = 10


def _dense(activation: str = "sigmoid", n: int = 12, d: int = 3, seed: int = 1):
    arch = Architecture((d,), (Dense(n, activation=activation), Output(1)))
    return arch, sample_params(arch, seed), np.random.default_rng(0).standard_normal((N, d))


def _nudge(X, i: int, j: int, coord, steps: int = 1):
    """Sample ``j`` becomes sample ``i`` with coordinate ``coord`` moved up by ``steps`` ulps."""
    X = X.copy()
    X[j] = X[i]
    for _ in range(steps):
        X[j][coord] = np.nextafter(X[j][coord], np.inf)
    return X


def test_pairs_are_distinct_samples_with_close_rows():
    F = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0 + 2.3e-16], [3.0, 0.0], [3.0, 1e-3]])
    X = np.array([[0.0], [0.0], [1e-16], [1.0], [2.0]])
    assert near_duplicate_pairs(F, X, 1e-14) == [(0, 2)]  # (0, 1) are the same sample; 1 joins through it
    assert near_duplicate_pairs(F, X, 1e-2) == [(0, 2), (3, 4)]
    assert near_duplicate_pairs(F, X, 0.0) == []


def test_equal_rows_of_distinct_samples_are_linked_in_a_star_not_all_pairs():
    """Dead ReLU units can make hundreds of rows zero: linking each to the first keeps the pairs O(N)."""
    F = np.zeros((300, 4))
    F[:5] = np.arange(20.0).reshape(5, 4)
    X = np.arange(300.0)[:, None]
    pairs = near_duplicate_pairs(F, X, 1e-12)
    assert pairs == [(5, j) for j in range(6, 300)]
    X[7] = X[5]  # the same sample as the leader: rows equal in exact arithmetic, no pair
    assert (5, 7) not in near_duplicate_pairs(F, X, 1e-12)


def test_pairs_do_not_depend_on_the_order_of_the_samples():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((40, 5))
    F[17] = F[4] + 1e-15
    F[30] = F[4] - 1e-15
    X = rng.standard_normal((40, 2))
    perm = rng.permutation(40)
    found = {tuple(sorted((perm[a], perm[b]))) for a, b in near_duplicate_pairs(F[perm], X[perm], 1e-13)}
    assert found == set(near_duplicate_pairs(F, X, 1e-13)) == {(4, 17), (4, 30), (17, 30)}  # distinct rows: all


@pytest.mark.parametrize("steps", [1, 1000])
def test_a_sample_ulps_from_another_leaves_the_deficit_unresolved(steps):
    arch, params, X = _dense()
    r = feature_rank(arch, params, _nudge(X, 3, 7, 0, steps), 1)
    assert r.rank == 9 and r.margin >= r.band  # float64 alone would call it a deficit
    assert not r.conclusive and r.below(10) is None
    assert "samples [3, 7] are distinct" in r.unresolved and "reaches rank 10 >= 10" in r.unresolved


def test_far_samples_stay_full_rank_and_conclusive():
    arch, params, X = _dense()
    X[7] = X[3] + 1e-4
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 10 and r.conclusive and r.unresolved == ""


def test_a_deeper_layer_sees_the_difference_through_the_jvp():
    arch = Architecture((3,), (Dense(12, activation="tanh"), Dense(11, activation="sigmoid"), Output(1)))
    X = _nudge(np.random.default_rng(0).standard_normal((N, 3)), 0, 5, 2)
    r = feature_rank(arch, sample_params(arch, 2), X, 2)
    assert r.rank == 9 and not r.conclusive and "samples [0, 5]" in r.unresolved


def test_an_unread_coordinate_gives_equal_rows_in_exact_arithmetic():
    """Converse: coordinate 2 has zero weights, so the two samples give equal rows of F_1 exactly: rank 9 < 10 is
    a true deficit and stays conclusive (the pair is found, but ``Δ U_1 = 0`` exactly)."""
    arch, params, X = _dense()
    W = np.asarray(params["layer_1"]["W"]).copy()
    W[2] = 0.0
    params = with_layer(params, 1, W=W)
    Xn = _nudge(X, 3, 7, 2, 1000)
    assert near_duplicate_pairs(np.tanh(Xn @ W), Xn, 1e-12) == [(3, 7)]
    r = feature_rank(arch, params, Xn, 1)
    assert r.rank == 9 and r.conclusive and r.unresolved == "" and r.below(10) is True


def test_dead_relu_units_pass_no_difference_on():
    """Converse: coordinate 2 feeds only unit 0, dead on every sample (bias −100); ``G_1`` rows differ exactly
    but the ReLU rows do not, and the JVP is exactly zero: the deficit stays conclusive."""
    arch, params, X = _dense("relu")
    W = np.asarray(params["layer_1"]["W"]).copy()
    W[2, 1:] = 0.0
    b = np.asarray(params["layer_1"]["b"]).copy()
    b[0] = -100.0
    params = with_layer(params, 1, W=W, b=b)
    r = feature_rank(arch, params, _nudge(X, 3, 7, 2, 1000), 1)
    X[7] = X[3]  # the same rows as exact duplicates give, whose bound is certified
    exact = feature_rank(arch, params, X, 1)
    assert r.rank == exact.rank < 10 and r.conclusive and r.unresolved == ""


def test_a_deficit_with_another_cause_survives_the_near_duplicates():
    """Converse: four dead ReLU units cap rank F_1 at 8 < 10 in exact arithmetic; freeing the near-duplicate
    rows cannot lift it to 10, so the deficit stays conclusive (a rule that frees whenever a pair exists fails)."""
    arch, params, X = _dense("relu")
    b = np.asarray(params["layer_1"]["b"]).copy()
    b[:4] = -100.0
    params = with_layer(params, 1, b=b)
    Xn = _nudge(X, 3, 7, 0, 10)
    F = np.maximum(Xn @ np.asarray(params["layer_1"]["W"]) + b, 0.0)
    assert near_duplicate_pairs(F, Xn, 1e-14) == [(3, 7)]  # the rule is asked, and answers no
    r = feature_rank(arch, params, Xn, 1)
    assert r.rank == 8 and r.conclusive and r.unresolved == "" and r.below(10) is True


def test_an_exact_duplicate_caps_the_target_and_a_near_one_is_freed():
    arch, params, X = _dense()
    X[5] = X[2]  # exact: rows equal in exact arithmetic, target 9
    r = feature_rank(arch, params, _nudge(X, 2, 8, 1), 1)
    assert r.rank_bound == 9 and r.rank == 8 and not r.conclusive
    assert "samples [2, 8] are distinct" in r.unresolved and "[2, 5]" not in r.unresolved


@pytest.mark.parametrize("coord, resolved", [(2, False), (1, True)], ids=["read-pixel", "unread-pixel"])
def test_conv_layers_use_the_full_weight_matrix(coord, resolved):
    """Conv(3, (1,), stride 2) on (8, 1) reads pixels 0, 2, 4, 6 only (n_1 = 12 >= N = 10): a pixel it reads
    makes the pair unresolved, one it skips gives equal rows exactly (conclusive rank 9)."""
    arch = Architecture((8, 1), (Conv(3, (1,), stride=(2,), activation="sigmoid"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 8, 1))
    X = _nudge(X, 0, 4, (coord, 0), 10)
    r = feature_rank(arch, sample_params(arch, 4), X, 1)
    assert r.rank == 9 and r.conclusive == resolved and (r.unresolved == "") == resolved


def test_the_verdict_is_reproducible():
    arch, params, X = _dense()
    Xn = _nudge(X, 3, 7, 0)
    assert feature_rank(arch, params, Xn, 1).unresolved == feature_rank(arch, params, Xn, 1).unresolved


def test_a_difference_that_cancels_exactly_in_the_first_layer_is_not_freed():
    """Converse: ``Δ = x_7 − x_3 = (3 ulp, 5 ulp, 0)`` and rows 0, 1 of ``W`` proportional to ``(Δ_1, −Δ_0)``, so
    ``Δ U_1 = 0`` in exact arithmetic (equal rows of F_1: a true deficit), while float64 leaves ~1e-31 of
    rounding in ``Δ U_1`` and in the JVP. The rounding bound on ``Δ U_1`` keeps the deficit conclusive; a rule
    that trusted any non-zero JVP would free the pair and call it unresolved."""
    arch, params, X = _dense()
    X[7] = X[3]
    X[7, 0] += 3 * np.spacing(X[3, 0])
    X[7, 1] += 5 * np.spacing(X[3, 1])
    d = X[7] - X[3]
    c = np.random.default_rng(0).standard_normal(12) * 1e15
    W = np.asarray(params["layer_1"]["W"]).copy()
    W[0], W[1] = d[1] * c, -d[0] * c
    r = feature_rank(arch, with_layer(params, 1, W=W), X, 1)
    assert 0 < np.abs(d @ W).max() < 1e-30  # float64's rounding, not the exact value 0
    assert r.rank == 9 and r.conclusive and r.unresolved == "" and r.below(10) is True


def test_the_difference_row_is_the_jvp_not_any_direction():
    """Converse: identity units (an affine network) keep every row of F_1 in a (d + 1) = 4-dimensional affine
    image, so 5 samples give rank 4 < 5 in exact arithmetic; the near-duplicate pair's difference ``Δ W`` lies
    in that image too, so replacing the row by it leaves rank 4 (conclusive). A random row would reach 5."""
    arch = Architecture((3,), (Dense(12, activation="identity"), Output(1)))
    X = _nudge(np.random.default_rng(0).standard_normal((5, 3)), 3, 4, 0, 10)
    r = feature_rank(arch, sample_params(arch, 1), X, 1)
    assert r.rank == 4 and r.conclusive and r.unresolved == "" and r.below(5) is True


def test_features_jvp_refuses_bad_directions_by_name():
    from theory_lab.feature_maps import features_jvp

    arch, params, X = _dense()
    with pytest.raises(ValueError, match=r"`D` has shape \(2, 3\); expected the shape of `X0`, \(10, 3\)"):
        features_jvp(arch, params, X, X[:2], 1)
    with pytest.raises(ValueError, match="`D` contains NaN or Inf"):
        features_jvp(arch, params, X, np.full_like(X, np.nan), 1)
    with pytest.raises(TypeError, match="`X0` has dtype float32"):
        features_jvp(arch, params, X.astype(np.float32), X, 1)
    with pytest.raises(ValueError, match="`D` has shape \\(10, 4\\)"):
        features_jvp(arch, params, X, np.zeros((10, 4)), 1)


def _cluster(activation: str):
    """N = 10 distinct samples within a few ulps of one point: a cluster, not pairs."""
    rng = np.random.default_rng(0)
    arch = Architecture((3,), (Dense(12, activation=activation), Output(1)))
    X = np.repeat(rng.standard_normal(3)[None], N, axis=0)
    for i in range(1, N):
        for c in range(3):
            n = int(rng.integers(-4, 5))
            for _ in range(abs(n)):
                X[i, c] = np.nextafter(X[i, c], np.inf if n > 0 else -np.inf)
    assert len(np.unique(X, axis=0)) == N
    return arch, sample_params(arch, 1), X


def test_a_cluster_of_ulp_close_samples_leaves_the_deficit_unresolved():
    """Ten distinct samples within 4 ulps of one point, sigmoid units: float64 gives rank 1 (margin 21); the
    first-order rows ``J Δ_i`` span at most 3 directions (rank 4 < 10), but the exact rows differ at second and
    higher order too (sigmoid is not affine), so the deficit is below float64 resolution. Before session 28's
    higher-order step it was a conclusive rank 1: a false *fails*."""
    arch, params, X = _cluster("sigmoid")
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 1 and r.margin >= r.band and not r.conclusive and r.below(N) is None
    assert "second and higher order" in r.unresolved


def test_a_cluster_in_an_affine_network_stays_a_conclusive_deficit():
    """Converse: identity units make every row ``x W + b`` exactly affine in ``x`` (rank ≤ d + 1 = 4 < 10): no
    higher-order terms exist, the first-order rows are exact, and the deficit stays conclusive."""
    arch, params, X = _cluster("identity")
    r = feature_rank(arch, params, X, 1)
    assert r.rank <= 4 and r.conclusive and r.unresolved == "" and r.below(N) is True


def test_tiny_features_keep_their_scale_when_rows_are_replaced():
    """F_2 ~ 1e-20 (layer 2's weights scaled down): the JVP rows are scaled to the other rows' size, not to 1, or
    the other rows would fall below the rank tolerance and the deficit would stay (falsely) conclusive."""
    arch = Architecture((3,), (Dense(12, activation="sigmoid"), Dense(11, activation="identity"), Output(1)))
    params = sample_params(arch, 2)
    params = with_layer(params, 2, W=np.asarray(params["layer_2"]["W"]) * 1e-20,
                        b=np.asarray(params["layer_2"]["b"]) * 1e-20)
    X = _nudge(np.random.default_rng(0).standard_normal((N, 3)), 0, 5, 2)
    r = feature_rank(arch, params, X, 2)
    assert r.rank == 9 and r.margin >= r.band and not r.conclusive and "samples [0, 5]" in r.unresolved
