"""Unit tests of theory_lab.sampling: sample_params against model.init's laws, as_generator."""

import jax
import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.sampling import as_generator, sample_params

MIXED = Architecture((6, 6, 2), (Conv(3, (3, 3), padding="SAME", bias="neuron"), Conv(2, (2, 2), bias="filter"),
                                 MaxPool((2, 2)), Conv(2, (1, 1), bias="none"), Dense(5), Output(3)))


def test_sample_params_has_model_init_tree(key):
    ours = sample_params(MIXED, key)
    ref = model.init(MIXED, key)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(ref)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ref)):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64


def test_sample_params_same_key_same_values_other_key_other_values(key):
    a, b = sample_params(MIXED, key), sample_params(MIXED, key)
    c = sample_params(MIXED, jax.random.fold_in(key, 1))
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
    assert not np.array_equal(a["layer_1"]["W"], c["layer_1"]["W"])
    assert np.array_equal(sample_params(MIXED, 7)["layer_1"]["W"], sample_params(MIXED, 7)["layer_1"]["W"])


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
    W = np.asarray(sample_params(arch, 3, law=law, scale=0.5)["layer_1"]["W"])
    assert abs(W.std() / std - 1) < 0.03
    assert np.abs(W).max() <= bound
    ref = np.asarray(model.init(arch, jax.random.key(3), law=law, scale=0.5)["layer_1"]["W"])
    assert abs(W.std() / ref.std() - 1) < 0.04


def test_sample_params_bias_laws_and_mean():
    arch = Architecture((3,), (Dense(4000), Output(1)))
    b = np.asarray(sample_params(arch, 0, bias_law="uniform", bias_scale=2.0, bias_mean=-3.0)["layer_1"]["b"])
    assert b.min() >= -5.0 and b.max() <= -1.0 and abs(b.mean() + 3.0) < 0.1
    b = np.asarray(sample_params(arch, 0, bias_law="normal", bias_scale=0.5)["layer_1"]["b"])
    assert abs(b.std() - 0.5) < 0.03
    assert np.all(np.asarray(sample_params(arch, 0, bias_law="zeros")["layer_1"]["b"]) == 0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"law": "xavier"}, r"`law`='xavier' is unknown"),
    ({"bias_law": "cauchy"}, r"`bias_law`='cauchy' is unknown"),
    ({"scale": -1.0}, r"`scale`=-1.0 must be a finite non-negative"),
    ({"bias_mean": float("nan")}, r"`bias_mean`=nan must be a finite"),
])
def test_sample_params_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_params(MIXED, 0, **kwargs)


def test_as_generator_inputs():
    assert isinstance(as_generator(jax.random.key(0)), np.random.Generator)
    assert isinstance(as_generator(jax.random.PRNGKey(0)), np.random.Generator)
    g = np.random.default_rng(0)
    assert as_generator(g) is g
    with pytest.raises(TypeError, match="`key` has type str"):
        as_generator("seed")
    with pytest.raises(ValueError, match="`key`=-1 must be a non-negative"):
        as_generator(-1)
