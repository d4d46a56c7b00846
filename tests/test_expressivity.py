"""Unit tests of theory_lab.expressivity: samplers, rank helpers, Theorem 3.4's construction, Corollary 3.6's fit."""

import jax
import numpy as np
import pytest

from theory_lab import expressivity as ex
from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.linalg import rank_report
from theory_lab.testing import matrix_with_singular_values

MIXED = Architecture((6, 6, 2), (Conv(3, (3, 3), padding="SAME", bias="neuron"), Conv(2, (2, 2), bias="filter"),
                                 MaxPool((2, 2)), Conv(2, (1, 1), bias="none"), Dense(5), Output(3)))


# ----------------------------------------------------------------------------- sample_params

def test_sample_params_has_model_init_tree(key):
    ours = ex.sample_params(MIXED, key)
    ref = model.init(MIXED, key)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(ref)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ref)):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64


def test_sample_params_same_key_same_values_other_key_other_values(key):
    a, b = ex.sample_params(MIXED, key), ex.sample_params(MIXED, key)
    c = ex.sample_params(MIXED, jax.random.fold_in(key, 1))
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
    assert not np.array_equal(a["layer_1"]["W"], c["layer_1"]["W"])
    assert np.array_equal(ex.sample_params(MIXED, 7)["layer_1"]["W"], ex.sample_params(MIXED, 7)["layer_1"]["W"])


@pytest.mark.parametrize("law, std, bound", [
    ("lecun_normal", 1 / np.sqrt(400), 2 / np.sqrt(400) / 0.87962566103423978),
    ("he_normal", np.sqrt(2 / 400), 2 * np.sqrt(2 / 400) / 0.87962566103423978),
    ("glorot_normal", np.sqrt(2 / 500), 2 * np.sqrt(2 / 500) / 0.87962566103423978),
    ("lecun_uniform", 1 / np.sqrt(400), np.sqrt(3 / 400)),
    ("normal", 0.5, np.inf),
    ("uniform", 0.5 / np.sqrt(3), 0.5),
])
def test_sample_params_laws_match_flax(law, std, bound):
    arch = Architecture((400,), (Dense(100), Output(1)))
    W = np.asarray(ex.sample_params(arch, 3, law=law, scale=0.5)["layer_1"]["W"])
    assert abs(W.std() / std - 1) < 0.03
    assert np.abs(W).max() <= bound
    ref = np.asarray(model.init(arch, jax.random.key(3), law=law, scale=0.5)["layer_1"]["W"])
    assert abs(W.std() / ref.std() - 1) < 0.04


def test_sample_params_bias_laws_and_mean():
    arch = Architecture((3,), (Dense(4000), Output(1)))
    b = np.asarray(ex.sample_params(arch, 0, bias_law="uniform", bias_scale=2.0, bias_mean=-3.0)["layer_1"]["b"])
    assert b.min() >= -5.0 and b.max() <= -1.0 and abs(b.mean() + 3.0) < 0.1
    b = np.asarray(ex.sample_params(arch, 0, bias_law="normal", bias_scale=0.5)["layer_1"]["b"])
    assert abs(b.std() - 0.5) < 0.03
    assert np.all(np.asarray(ex.sample_params(arch, 0, bias_law="zeros")["layer_1"]["b"]) == 0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"law": "xavier"}, r"`law`='xavier' is unknown"),
    ({"bias_law": "cauchy"}, r"`bias_law`='cauchy' is unknown"),
    ({"scale": -1.0}, r"`scale`=-1.0 must be a finite non-negative"),
    ({"bias_mean": float("nan")}, r"`bias_mean`=nan must be a finite"),
])
def test_sample_params_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.sample_params(MIXED, 0, **kwargs)


def test_as_generator_inputs():
    assert isinstance(ex.as_generator(jax.random.key(0)), np.random.Generator)
    assert isinstance(ex.as_generator(jax.random.PRNGKey(0)), np.random.Generator)
    g = np.random.default_rng(0)
    assert ex.as_generator(g) is g
    with pytest.raises(TypeError, match="`key` has type str"):
        ex.as_generator("seed")
    with pytest.raises(ValueError, match="`key`=-1 must be a non-negative"):
        ex.as_generator(-1)


# ----------------------------------------------------------------------------- features and U_k

def test_features_upto_equals_model_features(key, rng):
    X = rng.standard_normal((7, 6, 6, 2))
    params = ex.sample_params(MIXED, key)
    ref = model.features(MIXED, params, X)
    for k in (1, 2, 3, 5):
        np.testing.assert_allclose(ex.features_upto(MIXED, params, X, k), np.asarray(ref[k]), rtol=1e-12, atol=1e-13)
    assert ex.feature_rank(MIXED, params, X, 1).shape == (7, MIXED.widths[1])


@pytest.mark.parametrize("arch", [
    MIXED,
    Architecture((9, 2), (Conv(3, (3,), stride=2, padding="SAME", dilation=1), Conv(2, (2,), dilation=2), Output(1))),
])
def test_full_weight_matrix_matches_model(arch, key):
    params = ex.sample_params(arch, key)
    for info in arch.info:
        if info.has_weights:
            np.testing.assert_array_equal(ex.full_weight_matrix(arch, params, info.k),
                                          np.asarray(model.full_weight_matrix(arch, params, info.k)))
    with pytest.raises(ValueError, match="has no weights"):
        ex.full_weight_matrix(MIXED, ex.sample_params(MIXED, 0), 3)


def test_feature_rank_rejects_output_layer():
    with pytest.raises(ValueError, match=r"`k`=6 is not a hidden layer"):
        ex.feature_rank(MIXED, ex.sample_params(MIXED, 0), np.zeros((2, 6, 6, 2)), 6)


# ----------------------------------------------------------------------------- diagnose_units

def test_diagnose_units_counts_dead_and_affine_units():
    arch = Architecture((1,), (Dense(4, activation="relu"), Output(1)))
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    # unit 0 dead (always < 0), unit 1 always positive (affine), units 2, 3 change sign
    params = {"layer_1": {"W": np.array([[-1.0, 1.0, 1.0, -1.0]]), "b": np.array([-1.0, 1.0, -2.5, 3.5])},
              "layer_2": {"W": np.zeros((4, 1)), "b": np.zeros(1)}}
    d = ex.diagnose_units(arch, params, X, 1)
    row = d.layers[0]
    assert (row["dead"], row["no_sign_change"], row["positive"], row["negative"]) == (1, 1, 1, 0)
    assert d.causes == ("dead units", "units whose pre-activation never changes sign")
    # 2 sign-changing units + min(1 affine unit, rank [F_0, 1] = 2) = 3 < N = 5
    assert d.bound == 3 and d.explains_deficiency
    assert rank_report(ex.features_upto(arch, params, X, 1)).rank <= d.bound


def test_diagnose_units_bound_is_an_upper_bound(rng):
    arch = Architecture((8, 1), (Conv(2, (3,), activation="relu"), Conv(3, (2,), activation="leaky_relu(0.1)"),
                                 Output(1)))
    X = rng.standard_normal((20, 8, 1))
    for seed in range(6):
        params = ex.sample_params(arch, seed, bias_mean=-0.3 * seed)
        d = ex.diagnose_units(arch, params, X, 2)
        assert ex.feature_rank(arch, params, X, 2).rank <= d.bound
        assert [r["layer"] for r in d.layers] == [1, 2]


def test_diagnose_units_no_bound_for_analytic():
    arch = Architecture((3,), (Dense(5), Output(1)))
    d = ex.diagnose_units(arch, ex.sample_params(arch, 0), np.eye(3), 1)
    assert d.bound is None and not d.explains_deficiency


# ----------------------------------------------------------------------------- Theorem 3.4's construction

@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softplus", "gelu", "silu"])
def test_construction_reaches_full_rank(activation, rng):
    arch = Architecture((10, 1), (Conv(2, (3,), activation=activation), Conv(4, (2,), activation=activation),
                                  Output(1)))  # n_2 = 28
    X = rng.standard_normal((28, 10, 1))
    w = ex.construct_full_rank(arch, X, 2, key=1)
    assert w.found, w.log
    assert w.report.rank == 28 and w.report.conclusive
    assert set(w.U_reports) == {1, 2} and all(r.full_rank for r in w.U_reports.values())
    np.testing.assert_allclose(w.features, ex.features_upto(arch, w.params, X, 2))


def test_construction_relu_submatrix_is_triangular(rng):
    arch = Architecture((7, 2), (Conv(3, (3,), activation="relu"), Output(1)))  # n_1 = 15
    X = rng.standard_normal((12, 7, 2))
    w = ex.construct_full_rank(arch, X, 1, key=3)
    T = w.features[w.order][:, w.neurons]
    assert sorted(w.order.tolist()) == list(range(12)) and len(set(w.neurons.tolist())) == 12
    assert np.all(np.tril(T, -1) == 0.0) and np.all(np.diag(T) > 0)


def test_construction_with_pooling_and_dense_wide_layer(rng):
    arch = Architecture((6, 6, 1), (Conv(3, (3, 3), activation="relu"), MaxPool((2, 2), 1),
                                    Dense(40, activation="relu"), Output(1)))
    X = rng.standard_normal((40, 6, 6, 1))
    w = ex.construct_full_rank(arch, X, 3, key=0)
    assert w.found and w.report.rank == 40


def test_construction_succeeds_where_random_relu_fails(rng):
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="relu"), Output(1)))  # n_1 = 64
    X = np.abs(rng.standard_normal((64, 6, 6, 1)))
    freq = ex.rank_frequency(arch, X, 1, draws=5, key=0)
    assert freq.deficient >= 1  # random parameters often lose rank here
    assert ex.construct_full_rank(arch, X, 1, key=0).found


def test_construction_identity_cannot_pass_d_plus_1(rng):
    arch = Architecture((3, 1), (Conv(6, (2,), activation="identity"), Output(1)))  # d = 3, n_1 = 12
    X = rng.standard_normal((10, 3, 1))
    w = ex.construct_full_rank(arch, X, 1, key=0, attempts=2)
    assert not w.found and w.report.rank <= 4 and w.attempts == 2


def test_construction_duplicate_samples_is_refused(rng):
    arch = Architecture((5, 1), (Conv(4, (2,), activation="relu"), Output(1)))
    X = rng.standard_normal((8, 5, 1))
    X[3] = X[5]
    with pytest.raises(RuntimeError, match="Assumption 3.1"):
        ex.construct_full_rank(arch, X, 1, key=0, attempts=2)


@pytest.mark.parametrize("arch, k, match", [
    (Architecture((5, 1), (Conv(1, (2,), activation="relu"), Output(1))), 1, r"n_1 = 4 < N = 8"),
    (Architecture((5, 1), (Conv(4, (2,), activation="relu", bias="filter"), Output(1))), 1, r"bias='filter'"),
    (Architecture((5, 1), (Conv(4, (2,)), MaxPool((2,)), Dense(9), Output(1))), 2, r"layer 2 is maxpool"),
    (Architecture((5, 1), (Conv(4, (2,)), Output(1))), 2, r"`k`=2 is not a hidden layer"),
])
def test_construction_errors(arch, k, match):
    with pytest.raises(ValueError, match=match):
        ex.construct_full_rank(arch, np.random.default_rng(0).standard_normal((8, 5, 1)), k)


# ----------------------------------------------------------------------------- Corollary 3.6

def test_exact_fit_matches_pseudoinverse_and_gram_formula(rng):
    F = rng.standard_normal((12, 30))
    y = rng.standard_normal(12)
    fit = ex.exact_fit(F, y)
    gram = F.T @ np.linalg.solve(F @ F.T, y)  # the paper's formula, fine when F is well conditioned
    np.testing.assert_allclose(fit.lam, gram, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.lam, np.linalg.pinv(F) @ y, rtol=1e-10, atol=1e-12)
    assert fit.relative_residual < 1e-13
    Y = rng.standard_normal((12, 3))
    assert ex.exact_fit(F, Y).lam.shape == (30, 3)


def test_exact_fit_is_stable_where_the_gram_inverse_is_not(rng):
    s = np.logspace(0, -9, 20)
    F = matrix_with_singular_values(s, (20, 50), rng)
    y = rng.standard_normal(20)
    fit = ex.exact_fit(F, y)
    gram = F.T @ np.linalg.solve(F @ F.T, y)
    gram_res = np.linalg.norm(F @ gram - y) / np.linalg.norm(y)
    assert fit.report.full_row_rank
    assert fit.relative_residual < 1e-6 and fit.relative_residual < gram_res / 100


def test_exact_fit_narrow_leaves_residual(rng):
    F = rng.standard_normal((12, 5))
    fit = ex.exact_fit(F, rng.standard_normal(12))
    assert not fit.report.full_row_rank and fit.relative_residual > 0.1


def test_exact_fit_errors():
    with pytest.raises(ValueError, match=r"`y` has shape \(3,\); expected \(4,\)"):
        ex.exact_fit(np.ones((4, 6)), np.ones(3))
    with pytest.raises(ValueError, match="`F` must be a float64 matrix"):
        ex.exact_fit(np.ones((4, 6), np.float32), np.ones(4))


def test_with_output_layer_makes_the_network_fit(rng):
    arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    X = rng.standard_normal((15, 6, 1))
    w = ex.construct_full_rank(arch, X, 1, key=0)
    y = rng.standard_normal(15)
    params = ex.with_output_layer(arch, w.params, ex.exact_fit(w.features, y).lam)
    np.testing.assert_allclose(np.asarray(model.apply(arch, params, X))[:, 0], y, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match=r"`lam` has shape \(4, 1\)"):
        ex.with_output_layer(arch, w.params, np.ones(4))


def test_parameter_counts_formula():
    arch = Architecture((40, 1), (Conv(1, (5,)), Output(1)))  # P_0 = 36, l_0 = 5
    c = ex.parameter_counts(arch, 100)
    assert (c["T_1"], c["cnn"], c["fully_connected"]) == (3, 2 * 100 + 3 * 5, 42 * 100)
    with pytest.raises(ValueError, match="layer 1 must be conv or fully connected"):
        ex.parameter_counts(Architecture((4, 1), (MaxPool((2,)), Output(1))), 10)


# ----------------------------------------------------------------------------- frequencies

def test_wilson_interval_known_values():
    lo, hi = ex.wilson_interval(5, 10)
    assert abs(lo - 0.2366) < 1e-4 and abs(hi - 0.7634) < 1e-4
    assert ex.wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="successes=11, trials=10"):
        ex.wilson_interval(11, 10)


def test_rank_frequency_counts(rng):
    arch = Architecture((4,), (Dense(12, activation="relu"), Output(1)))
    X = rng.standard_normal((10, 4))
    dead = ex.rank_frequency(arch, X, 1, draws=3, bias_mean=-40.0, key=1)
    assert (dead.deficient, dead.with_dead, dead.explained, dead.min_rank) == (3, 3, 3, 0)
    assert dead.to_dict()["frequency_deficient"] == 1.0
    wide = ex.rank_frequency(arch.replace(layers=(Dense(12, activation="sigmoid"), Output(1))), X, 1, draws=3, key=1)
    assert (wide.full, wide.deficient, wide.inconclusive) == (3, 0, 0)
    with pytest.raises(ValueError, match="`draws`=0 must be a positive int"):
        ex.rank_frequency(arch, X, 1, draws=0)


# ----------------------------------------------------------------------------- the registered checks

def test_checks_registered_with_kinds():
    from proofs_checks.expressivity import CHECKS
    from theory_lab.checking import discover

    ids = {c.id for c in discover()}
    assert {c.id for c in CHECKS} <= ids
    assert {c.kind for c in CHECKS} == {"check", "converse", "probe"}
    assert all(c.id.startswith("probe-") == (c.kind == "probe") for c in CHECKS)


def test_cheap_checks_verdicts():
    from proofs_checks.expressivity import CHECKS
    from theory_lab.checking import Context, Verdict

    by_id = {c.id: c for c in CHECKS}
    ctx = Context(seed=0)
    for cid, verdict in (("corollary-3.6", Verdict.HOLDS), ("corollary-3.6-narrow", Verdict.HOLDS),
                         ("theorem-3.4-converse", Verdict.HOLDS), ("probe-tanh", Verdict.MEASURED)):
        result = by_id[cid].run(ctx)
        assert result.verdict == verdict, (cid, result.summary)
    tanh = by_id["probe-tanh"].run(ctx).evidence["rows"][0]
    assert tanh["draws"] == tanh["full_rank"] + tanh["deficient"] + tanh["inconclusive"]
    assert 0.0 <= tanh["ci95"][0] <= tanh["frequency_deficient"] <= tanh["ci95"][1] <= 1.0


def test_theorem_3_5_check_is_inconclusive_inside_the_band(monkeypatch):
    """A draw whose smallest singular value sits inside the tolerance band never gives 'holds'."""
    import proofs_checks.expressivity as pe
    from theory_lab.checking import Context, Verdict

    real = ex.feature_rank
    monkeypatch.setattr(pe.ex, "feature_rank", lambda *a, **kw: real(*a, band=1e30))
    result = pe._theorem_3_5(Context(seed=0), draws=1)
    assert result.verdict == Verdict.INCONCLUSIVE
    assert all(not row["conclusive"] for row in result.evidence["digits-200 sigmoid"]["draws"])
