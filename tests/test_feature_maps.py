"""Unit tests of theory_lab.feature_maps: features_upto, feature_rank and the numpy U_k against theory_lab.model."""

import numpy as np
import pytest

from theory_lab import model
from theory_lab.checking import Evidence
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.feature_maps import duplicate_samples, feature_rank, features_upto, full_weight_matrix
from theory_lab.linalg import rank_report
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


def test_a_narrow_layer_is_deficient_whatever_its_saturated_units_do(rng):
    """Seed 222 (sweep): n_k = 15 < N = 16 with saturated GELU units was counted inconclusive; rank F_k ≤ n_k
    < N holds in exact arithmetic, so only *which* rank up to n_k stays open, never rank < N."""
    _, params, X = _one_saturated_unit("gelu", rng)
    narrow = Architecture((3,), (Dense(5, activation="gelu"), Output(1)))
    p5 = {"layer_1": {"W": params["layer_1"]["W"][:, :5], "b": params["layer_1"]["b"][:5]},
          "layer_2": {"W": np.zeros((5, 1)), "b": np.zeros(1)}}
    r = feature_rank(narrow, p5, X, 1)  # N = 6 > n_1 = 5; unit 0 saturates
    assert r.rank == 4 and "1 unit(s) saturate" in r.unresolved and not r.conclusive  # rank 4 or 5: open
    assert r.below(6) is True and r.below(5) is None and Evidence().rank("F_1", r, 6, "<").conclusive


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
    # a duplicated sample: equal rows of F_3 in exact arithmetic, whatever the units do: rank F_3 <= 15 < 16
    params, X = _issue_9_instance(0, 2, rng, duplicate=True)
    r = feature_rank(ISSUE_9, params, X, 3)
    assert r.rank == 14 and r.rank_bound == 15 and "samples [0, 1] are identical" in r.certificate
    # the 2 saturated units may lift the exact rank from 14 to 15 (the bound), not to 16
    assert not r.conclusive and "2 unit(s) saturate" in r.unresolved and "reach rank 15 >= 15" in r.unresolved
    assert r.below(16) is True
    ev = Evidence()
    assert ev.rank("F_3", r, 16, "<").conclusive and ev.rank("F_3", r, 16, "<").holds
    assert ev.rank("F_3", r, 16).conclusive and not ev.rank("F_3", r, 16).holds  # rank 16 excluded: a violation


def test_affine_activation_units_are_never_unresolved(rng):
    arch = Architecture((1,), (Dense(6, activation="identity"), Output(1)))  # exactly affine: rank <= 2
    r = feature_rank(arch, sample_params(arch, 0), rng.standard_normal((6, 1)), 1)
    assert r.rank == 2 and r.conclusive and r.unresolved == ""


def _tiny_weights_instance(scale: float, activation: str = "tanh"):
    """Dense(10) on 2 inputs, N = 10, weights ~``scale`` and biases in [0.3, 1] (away from any asymptote)."""
    from theory_lab.sampling import with_layer

    rng = np.random.default_rng(0)
    arch = Architecture((2,), (Dense(10, activation=activation), Output(1)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((10, 2))
    return arch, with_layer(params, 1, W=rng.standard_normal((2, 10)) * scale, b=rng.uniform(0.3, 1.0, 10)), X


def test_polynomial_to_rounding_units_make_the_deficiency_unresolved():
    # pre-activations vary by ~1e-6 around each bias: tanh(b + δ) is quadratic in δ to rounding (δ³ ~ 1e-18), so
    # float64 sees only the 6 monomials of degree <= 2 in the 2 inputs, with a clear gap (margin 57 at 1e-6); the
    # exact rank is N = 10 (tanh is a polynomial on no interval): before this rule, a conclusive deficit
    for scale, rank in ((1e-6, 6), (1e-5, 6)):
        arch, params, X = _tiny_weights_instance(scale)
        r = feature_rank(arch, params, X, 1)
        assert r.rank == rank and r.margin >= r.band
        assert not r.conclusive and "10 unit(s) are polynomial to rounding" in r.unresolved
    arch, params, X = _tiny_weights_instance(1e-3)  # float64 resolves the bend: full rank, conclusive
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 10 and r.conclusive and r.unresolved == ""


def test_a_polynomial_activation_is_never_polynomial_to_rounding(monkeypatch):
    # σ(t) = t² + t is a polynomial of degree 2: F_1 spans the 6 monomials of degree <= 2 *exactly*, a true deficit
    from theory_lab import activations

    name = "square_plus_identity_test"
    act = activations.Activation(name, lambda t: t * t + t, continuous=True, analytic=True, strictly_increasing=False,
                                 positive_derivative=False, differentiable=True, assumption_3_2=False, clause=None)
    monkeypatch.setitem(activations._BASE, name, lambda: act)
    monkeypatch.setattr(activations, "_CACHE", {})
    arch, params, X = _tiny_weights_instance(1e-1, activation=name)
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 6 and r.conclusive and r.unresolved == ""


SEED_222 = Architecture((5,), (Dense(24, activation="softplus"), Output(1)))  # n_1 = N = 24


def _seed_222_instance():
    """Issue 9, seed 222: a duplicated sample with n_k = N = 24 whose exact-rank margin is about 1.4.

    Samples 0 and 23 are equal; samples 1 and 2 differ by 1e-11, which puts σ_23 of ``F_1`` at about
    1.4 × the tolerance: float64 cannot tell rank 22 from 23, but both are below N.
    """
    X = np.random.default_rng(222).standard_normal((24, 5))
    X[23] = X[0]
    X[2] = X[1] + 1e-11 * np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    return sample_params(SEED_222, 0), X


def test_duplicated_sample_certifies_the_deficiency_the_spectrum_leaves_open():
    params, X = _seed_222_instance()
    uncertified = rank_report(features_upto(SEED_222, params, X, 1))
    assert uncertified.rank == 23 and uncertified.margin < uncertified.band  # the old verdict: inconclusive
    assert uncertified.below(24) is None
    r = feature_rank(SEED_222, params, X, 1)
    assert r.rank_bound == 23 and r.certificate.startswith("samples [0, 23] are identical, so rows [0, 23]")
    assert r.below(24) is True and r.certified_deficient
    assert not r.conclusive  # which rank below 24 (22 or 23) stays open: σ_23 sits inside the band
    assert r.rank_range() == (22, 23)
    obs = Evidence().rank("F_1", r, 24)
    assert obs.conclusive and not obs.holds and "rank <= 23 in exact arithmetic: samples [0, 23]" in obs.detail
    assert r.to_dict()["rank_bound"] == 23 and "[0, 23]" in r.to_dict()["certificate"]


def test_distinct_samples_give_no_certificate(rng):
    params, X = _seed_222_instance()
    X[23] = X[23] + 1e-3  # samples 0 and 23 now differ
    r = feature_rank(SEED_222, params, X, 1)
    assert r.rank_bound is None and r.certificate == "" and r.below(24) is None  # 1e-11 apart: unresolved
    assert duplicate_samples(X) == (24, "")
    X[5] = -0.0 * X[5]  # -0.0 and 0.0 are the same real number: equal samples
    X[6] = 0.0 * X[6]
    assert duplicate_samples(X)[0] == 23 and "samples [5, 6]" in duplicate_samples(X)[1]


def _partly_saturated(rng, copy: bool):
    """Dense 3 → 6 GELU, ``N = 6``: unit 0's pre-activations are ≥ 12 on samples 0–2 (GELU(t) = t in float64)
    and moderate on samples 3–5; the other units are generic (``copy``: unit 5 repeats unit 4's weights)."""
    arch = Architecture((3,), (Dense(6, activation="gelu"), Output(1)))
    X = rng.uniform(-1, 1, (6, 3))
    X[:3, 0] += 5.0
    W, b = rng.uniform(-1, 1, (3, 6)), rng.uniform(-1, 1, 6)
    W[0, 1:] *= 0.3  # the shifted input keeps the other units moderate
    W[:, 0], b[0] = (3.0, 0.0, 0.0), 0.5
    if copy:
        W[:, 5], b[5] = W[:, 4], b[4]
    params = {"layer_1": {"W": W, "b": b}, "layer_2": {"W": np.zeros((6, 1)), "b": np.zeros(1)}}
    G = X @ W + b
    assert np.all(G[:3, 0] >= 12) and np.all(np.abs(G[3:, 0]) < 4) and np.all(np.abs(G[:, 1:]) < 6)
    return arch, params, X


def test_a_deficiency_the_saturated_entries_cannot_explain_stays_conclusive(rng):
    """Unit 0 saturates on half the samples only (its entries there are free in the entry-by-entry diagnosis),
    but units 4 and 5 are equal in exact arithmetic: no value of unit 0's entries lifts the rank to 6. Kills a
    diagnosis that frees every entry, or the entries on the wrong side of the asymptote's threshold."""
    arch, params, X = _partly_saturated(rng, copy=True)
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 5 and r.conclusive and r.unresolved == "" and r.below(6) is True
    arch, params, X = _partly_saturated(rng, copy=False)
    assert feature_rank(arch, params, X, 1).below(6) is False  # without the copy: full rank, conclusively


def _saturated_first_layer(n_2: int, copy: bool):
    """Dense 3 → 3 → ``n_2`` softplus, ``N = 10``: layer 1's weights ×1e3 and biases −1e3, so its
    pre-activations are beyond ±27 on most entries (softplus shows 0 or t there, not σ). The rows of F_1 that
    differ only there come out equal, and F_2's rank collapses to 3 in float64 although it is full in exact
    arithmetic (Theorem 3.5's hypotheses all hold). ``copy``: layer 2's units 0 and 1 share weights and bias,
    scaled so layer 2 stays moderate: rank ≤ n_2 − 1 in exact arithmetic, whatever layer 1 does."""
    arch = Architecture((3,), (Dense(3, activation="softplus"), Dense(n_2, activation="softplus"), Output(1)))
    X = np.random.default_rng(0).standard_normal((10, 3))
    params = {name: {key: np.array(a) for key, a in layer.items()} for name, layer in sample_params(arch, 0).items()}
    params["layer_1"]["W"] *= 1e3
    params["layer_1"]["b"] -= 1e3
    if copy:
        params["layer_2"]["W"] *= 1e-3
        params["layer_2"]["W"][:, 1], params["layer_2"]["b"][1] = params["layer_2"]["W"][:, 0], params["layer_2"]["b"][0]
    return arch, params, X


def test_rounding_at_an_earlier_layer_leaves_the_deficit_of_f_k_unresolved():
    """Layer 1 saturates, layer 2 does not explain the deficit on its own: an earlier layer's rounding makes rows
    of F_2 equal. Without the earlier-layer diagnosis the rank 3 of 10 is conclusive and Theorem 3.5's check
    says *fails* on a network where it holds."""
    arch, params, X = _saturated_first_layer(12, copy=False)
    r = feature_rank(arch, params, X, 2)
    assert r.rank == 3 and r.margin >= r.band  # the spectrum alone: a clear gap
    assert not r.conclusive and r.below(10) is None
    assert r.unresolved.startswith("rounding at earlier layers") and "layer 1 (softplus" in r.unresolved
    assert "reaches rank 10 >= 10" in r.unresolved
    first = feature_rank(arch, params, X, 1)  # one unit of layer 1 saturates on every sample: unresolved there too
    assert first.rank == 2 and first.below(3) is None and first.unresolved.startswith("layer 1 (softplus")


def test_a_deficit_of_f_k_that_earlier_rounding_cannot_explain_stays_conclusive():
    """The converse: same saturated layer 1, but F_2 (n_2 = N = 10) has two equal columns in exact arithmetic.
    Moving layer 1's unresolved entries cannot lift the rank to 10, so the deficit stays a conclusive *fails*."""
    arch, params, X = _saturated_first_layer(10, copy=True)
    r = feature_rank(arch, params, X, 2)
    assert r.rank < 10 and r.conclusive and r.unresolved == "" and r.below(10) is True
    arch, params, X = _saturated_first_layer(10, copy=False)
    params["layer_2"]["W"] *= 1e-3  # the same moderate layer 2 without the copy: the diagnosis applies
    assert feature_rank(arch, params, X, 2).below(10) is None
