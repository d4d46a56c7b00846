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
    # on CPU the calls above drive the batches from Python; under a trace they run in lax.scan
    assert batching.looped(data, theta) == (jax.default_backend() == "cpu")
    _close(jax.jit(lambda t: D.gradient(obj, t, data))(theta), D.gradient(obj, theta, X, Y))
    _close(jax.jit(lambda t, u: D.hvp(obj, t, data, v=u))(theta, V[0]), D.hvp(obj, theta, X, Y, V[0]))
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


# ----------------------------------------------------------------------------- streamed data


def _pairs(X, Y, size):
    return [(X[i:i + size], Y[i:i + size]) for i in range(0, len(X), size)]


def _every_product(obj, theta, data, Y, V):
    return {"loss": D.loss(obj, theta, data, Y), "gradient": D.gradient(obj, theta, data, Y),
            "value": D.value_and_gradient(obj, theta, data, Y, block="w2")[1],
            "hvp": D.hvp(obj, theta, data, Y, V), "hvp1": D.linearize_hvp(obj, theta, data, Y)(V[0]),
            "gn": D.gauss_newton_vp(obj, theta, data, V[1], Y=Y),
            "residual": D.residual_vp(obj, theta, data, Y, V[0]), "outputs": D.outputs(obj, theta, data)}


@pytest.mark.parametrize("kind", ["callable", "list", "generator"])
def test_streamed_products_equal_one_batch(inst, kind):
    obj, theta, X, Y, _, rng = inst
    V = rng.standard_normal((2, obj.P))
    whole = _every_product(obj, theta, X, Y, V)
    # batches of 3, 3, 1 (ragged last) cut into chunks of 2: 2, 1+pad, 2, 1+pad, 1+pad
    if kind == "callable":
        stream = batching.Stream(lambda: (pair for pair in _pairs(X, Y, 3)), batch_size=2)
    elif kind == "list":
        stream = batching.Stream(_pairs(X, Y, 3), batch_size=2)
    if kind == "generator":  # one pass only: each product from its own generator
        def fresh():
            return batching.Stream((pair for pair in _pairs(X, Y, 3)), batch_size=2)
        streamed = {"loss": D.loss(obj, theta, fresh()), "hvp": D.hvp(obj, theta, fresh(), v=V),
                    "gn": D.gauss_newton_vp(obj, theta, fresh(), V[1])}
    else:
        streamed = _every_product(obj, theta, stream, None, V)
        assert stream.N == N and stream.batch_size == 2
    for name, value in streamed.items():
        _close(value, whole[name])


def test_stream_padding_counts_every_sample_once(inst):
    obj, theta, X, Y, _, _ = inst
    chunks = list(batching.Stream(_pairs(X, Y, 3), batch_size=2).chunks())
    assert [c.X.shape for c in chunks] == [(1, 2, D_IN)] * 5
    assert [c.weight.tolist() for c in chunks] == [[[1, 1]], [[1, 0]], [[1, 1]], [[1, 0]], [[1, 0]]]
    # converse: a source that loses its ragged last batch gives another loss
    short = batching.Stream(_pairs(X, Y, 3)[:-1], batch_size=2)
    assert abs(float(D.loss(obj, theta, short)) - float(D.loss(obj, theta, X, Y))) > 1e-3


def test_stream_sum_mean_reduction_uses_the_total_N():
    rng = np.random.default_rng(3)
    params = {"w1": rng.standard_normal((D_IN, 4)), "w2": rng.standard_normal((4, M)), "b": rng.standard_normal(M)}
    X, Y = rng.standard_normal((N, D_IN)), rng.standard_normal((N, M))
    for reduction in ("sum", "mean"):
        obj, theta = O.from_model(net, params, reduction=reduction)
        _close(D.gradient(obj, theta, batching.Stream(_pairs(X, Y, 4))), D.gradient(obj, theta, X, Y))


def test_bad_streams_are_clear_errors(inst):
    obj, theta, X, Y, data, _ = inst
    once = batching.Stream(pair for pair in _pairs(X, Y, 3))
    D.loss(obj, theta, once)
    with pytest.raises(ValueError, match="`source` is a one-shot iterator .* consumed by an earlier pass"):
        D.loss(obj, theta, once)
    with pytest.raises(ValueError, match=r"`source` item 1: samples of shape \(2,\) \(float64\)"):
        D.loss(obj, theta, batching.Stream([(X[:2], Y[:2]), (X[2:4, :2], Y[2:4])]))
    with pytest.raises(ValueError, match=r"`source` item 1: samples .* targets \(\) \(int32\)"):
        D.loss(obj, theta, batching.Stream([(X[:2], Y[:2]), (X[2:4], Y[2:4].astype(np.int32))]))
    with pytest.raises(ValueError, match=r"`source` item 0: x has shape \(2, 3\) and y has shape \(3,\)"):
        D.loss(obj, theta, batching.Stream([(X[:2], Y[:3])]))
    with pytest.raises(ValueError, match="`source` item 0 is a ndarray; expected an \\(x, y\\) pair"):
        D.loss(obj, theta, batching.Stream([X]))
    with pytest.raises(ValueError, match="`source` yielded no batches"):
        D.loss(obj, theta, batching.Stream(list))
    with pytest.raises(TypeError, match="`source` is a ndarray; expected a callable"):
        batching.Stream(X)
    with pytest.raises(ValueError, match="`batch_size`=0 must be a positive integer"):
        batching.Stream(_pairs(X, Y, 3), batch_size=0)
    with pytest.raises(ValueError, match="`Y` must be None when `X` is a Stream"):
        D.hvp(obj, theta, batching.Stream(_pairs(X, Y, 3)), Y, np.ones(obj.P))
    with pytest.raises(TypeError, match="the data are a batching.Stream, visited from Python"):
        D.hessian(obj, theta, batching.Stream(_pairs(X, Y, 3)), batch=2)  # lax.map over products: needs them whole
    with pytest.raises(ValueError, match=r"`X` of shape \(3, 2\) does not fit the network"):  # the network's own check, per batch
        D.loss(obj, theta, batching.Stream([(X[:3, :2], Y[:3])]))
    changing = iter([_pairs(X, Y, 3), _pairs(X, Y, 3)[:-1]])
    stream = batching.Stream(lambda: next(changing))
    D.loss(obj, theta, stream)
    with pytest.raises(ValueError, match="yielded N = 6 samples in this pass and N = 7 in an earlier one"):
        D.loss(obj, theta, stream)


def test_stream_compiles_one_program_for_every_chunk(inst):
    obj, theta, X, Y, _, rng = inst
    v = rng.standard_normal(obj.P)
    D.hvp(obj, theta, batching.Stream(_pairs(X, Y, 3), batch_size=2), v=v)
    compiled = D._product_jit._cache_size()
    # other cuts, other ragged tails (7 = 4 + 3, 7 = 1 + 6): the same chunk shape, nothing recompiled
    for size in (4, 1):
        D.hvp(obj, theta, batching.Stream(_pairs(X, Y, size), batch_size=2), v=v)
    assert D._product_jit._cache_size() == compiled
    # converse: another chunk size is another program (the count above does see compiles)
    D.hvp(obj, theta, batching.Stream(_pairs(X, Y, 3), batch_size=5), v=v)  # a size no other test uses
    assert D._product_jit._cache_size() == compiled + 1
