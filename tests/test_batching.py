"""Batched sums over samples equal the one-batch computation to 1e-12 (relative); padding adds nothing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab.arch import Architecture, Dense, Output

N, D_IN, M, B = 7, 3, 3, 3  # batches of 3, 3, 1 + 2 padded


def net(params, X):
    return jnp.tanh(X @ params["w1"]) @ params["w2"] + params["b"]


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rtol * max(np.abs(b).max(), 1e-300), np.abs(a - b).max() / np.abs(b).max()


@pytest.fixture(scope="module")
def inst():
    rng = np.random.default_rng(11)
    params = {"w1": rng.standard_normal((D_IN, 4)), "w2": rng.standard_normal((4, M)), "b": rng.standard_normal(M)}
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy", reduction="mean")
    X, Y = rng.standard_normal((N, D_IN)), rng.integers(0, M, N)
    return obj, theta, X, Y, batching.batches(X, Y, B), rng


def test_batches_are_padded_with_the_last_sample_and_masked(inst):
    _, _, X, Y, data, _ = inst
    assert data.X.shape == (3, B, D_IN) and data.N == N and data.num_batches == 3
    np.testing.assert_array_equal(data.weight, [[1, 1, 1], [1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(data.X[2, 1:], np.repeat(X[-1:], 2, axis=0))
    again = batching.from_iterable(((X[i:i + 2], Y[i:i + 2]) for i in range(0, N, 2)), batch_size=B)
    for a, b in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(data)):
        np.testing.assert_array_equal(a, b)


def test_every_product_batched_equals_unbatched(inst):
    obj, theta, X, Y, data, rng = inst
    V = rng.standard_normal((2, obj.P))
    _close(D.loss(obj, theta, data), D.loss(obj, theta, X, Y))
    _close(D.gradient(obj, theta, data), D.gradient(obj, theta, X, Y))
    _close(D.hvp(obj, theta, data, v=V), D.hvp(obj, theta, X, Y, V))
    _close(D.linearize_hvp(obj, theta, data)(V[0]), D.hvp(obj, theta, X, Y, V[0]))
    _close(D.gauss_newton_vp(obj, theta, data, V[1]), D.gauss_newton_vp(obj, theta, X, V[1]))
    _close(D.residual_vp(obj, theta, data, v=V[0]), D.residual_vp(obj, theta, X, Y, V[0]))
    _close(D.hessian(obj, theta, data), D.hessian(obj, theta, X, Y))
    _close(D.jacobian(obj, theta, data), D.jacobian(obj, theta, X, mode="reverse"))
    _close(D.outputs(obj, theta, data), D.outputs(obj, theta, X))
    op = D.HessianMatvec(obj, "gauss_newton", block="w2")
    u = jnp.asarray(rng.standard_normal(op.dim()))
    _close(jax.jit(lambda u, t, d: op.prepare(t, d)(u))(u, theta, data), op(u, theta, X, Y))


def test_padding_adds_nothing_and_no_sample_is_dropped(inst):
    obj, theta, X, Y, data, _ = inst
    # a batch size that divides N (no padding) and one that does not give the same sum
    _close(D.loss(obj, theta, batching.batches(X, Y, 7)), D.loss(obj, theta, data))
    # converse: dropping the last sample changes the loss (it is counted)
    short = D.objective(net, {"w1": np.zeros((D_IN, 4)), "w2": np.zeros((4, M)), "b": np.zeros(M)},
                        loss="softmax-cross-entropy", reduction="sum")
    full = float(D.loss(short, theta, batching.batches(X, Y, B)))
    assert abs(full - float(D.loss(short, theta, X[:-1], Y[:-1]))) > 1e-3


def test_chain_network_batched_equals_unbatched():
    arch = Architecture((3,), (Dense(4), Output(2)))
    rng = np.random.default_rng(2)
    obj = D.objective(arch)
    theta = rng.standard_normal(obj.P)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    data = batching.batches(X, Y, 2)
    _close(D.value_and_gradient(obj, theta, data)[1], D.gradient(obj, theta, X, Y))
    _close(D.hessian(obj, theta, data, block=2), D.hessian(obj, theta, X, Y, block=2))


def test_bad_batches_are_clear_errors(inst):
    obj, theta, X, Y, data, _ = inst
    with pytest.raises(ValueError, match="`batch_size`=0 must be a positive integer"):
        batching.batches(X, Y, 0)
    with pytest.raises(ValueError, match=r"`X` has shape \(7, 3\) and `Y` has shape \(6,\)"):
        batching.batches(X, Y[:6], 3)
    with pytest.raises(ValueError, match=r"`pairs` item 1: sample shapes \(2,\)"):
        batching.from_iterable([(X[:2], Y[:2]), (X[2:4, :2], Y[2:4])])
    with pytest.raises(ValueError, match="`pairs` yielded no batches"):
        batching.from_iterable([])
    with pytest.raises(ValueError, match="`Y` must be None when `X` is a Batches"):
        D.loss(obj, theta, data, Y)
