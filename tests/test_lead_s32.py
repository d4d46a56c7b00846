"""Session 32 (lead): the weight layer reads its parameters without Flax's initializer re-trace.

Flax's ``Module.param`` re-traces the initializer under ``eval_shape`` on every ``apply`` just to compare
shapes; ``_WeightLayer`` now compares the shapes itself. These tests pin that the shape check still
refuses a wrong leaf with a clear message, and that ``init`` still draws through Flax.
"""

import jax
import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, Output

jax.config.update("jax_enable_x64", True)

ARCH = Architecture((4, 4, 1), (Conv(2, (2, 2)), Dense(3), Output(2)))
X = np.random.default_rng(0).standard_normal((5, 4, 4, 1))


def test_module_apply_refuses_a_wrong_shape_with_the_leaf_named():
    params = model.init(ARCH, jax.random.key(0))
    bad = dict(params, layer_2=dict(params["layer_2"], W=np.zeros((3, 18))))  # transposed
    with pytest.raises(ValueError, match=r"`params`: layer_2/W has shape \(3, 18\); expected \(18, 3\)"):
        model.CNN(ARCH).apply({"params": bad}, X)


def test_module_apply_uses_the_given_parameters_and_init_still_draws():
    params = model.init(ARCH, jax.random.key(0))
    again = model.init(ARCH, jax.random.key(0))
    other = model.init(ARCH, jax.random.key(1))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(again)))
    assert not np.array_equal(params["layer_1"]["W"], other["layer_1"]["W"])
    doubled = jax.tree_util.tree_map(lambda a: 2 * a, params)
    G = model.CNN(ARCH).apply({"params": doubled}, X).G[3]
    F2 = model.CNN(ARCH).apply({"params": doubled}, X).F[2]
    np.testing.assert_allclose(G, F2 @ doubled["layer_3"]["W"] + doubled["layer_3"]["b"], rtol=1e-14, atol=0)


def test_apply_no_longer_traces_the_initializers():
    # every trace of a network used to call jax.eval_shape once per parameter leaf (6 here)
    params = model.init(ARCH, jax.random.key(0))
    calls = []
    real = jax.eval_shape
    try:
        jax.eval_shape = lambda *a, **k: calls.append(1) or real(*a, **k)
        jax.make_jaxpr(lambda p: model.CNN(ARCH).apply({"params": p}, X).F[-1])(params)
    finally:
        jax.eval_shape = real
    assert calls == []


def test_approx_refuses_the_silent_absolute_floor():
    # pytest.approx's default abs=1e-12 made comparisons of tiny numbers vacuous (tests/conftest.py guards it)
    with pytest.raises(AssertionError, match=r"without abs=: its default abs=1e-12 accepts any value near 7e-170"):
        assert 1e-200 == pytest.approx(7e-170, rel=1e-12)
    assert 7e-170 == pytest.approx(7e-170, rel=1e-12, abs=0)
    assert 1e-200 != pytest.approx(7e-170, rel=1e-12, abs=0)
    assert 1.0 == pytest.approx(1.0 + 1e-13, rel=1e-12)  # ordinary sizes are untouched
