"""Session 34 mutation pass over layers, batching, pool_resolved, jacobians and feature_maps.

Each test holds documented behaviour to an independent reference — a numpy loop convolution,
``jax.lax.conv_general_dilated`` with its own ``"SAME"`` rule, numpy sums, ``jax.jacfwd`` /
``jax.jvp`` of the plain network, the plain (unresolved) network's Hessian products — and kills
one or more of the ``s34c-*`` mutants of ``tools/plant_bugs.py`` (named in each docstring).
Small networks, fixed seeds, float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching, jacobians, model, objective
from theory_lab import derivatives as D
from theory_lab import pool_resolved as PR
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output, PatchLayer, PatchMaxPool
from theory_lab.feature_maps import check_layer_index, features_jvp, full_weight_matrix
from theory_lab.sampling import sample_params


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    err = np.abs(a - b).max() if a.size else 0.0
    assert err <= rtol * max(np.abs(b).max(), 1e-300), err / max(np.abs(b).max(), 1e-300)


# ----------------------------------------------------------------------------- conv and pooling layers


def _loop_conv(x, W, kernel, stride, dilation, pads):
    """Naive convolution of one sample ``x (*spatial, C)`` with filters ``W (K·C, T)`` (rows: kernel offset
    row-major, channel fastest — the documented order of a patch): ``(*out, T)``. Padding reads 0."""
    spatial, C, T = x.shape[:-1], x.shape[-1], W.shape[1]
    Wk = W.reshape(tuple(kernel) + (C, T))
    outs = [(n + lo + hi - ((k - 1) * d + 1)) // s + 1
            for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, pads)]
    y = np.zeros(tuple(outs) + (T,))
    for o in np.ndindex(*outs):
        for q in np.ndindex(*kernel):
            pos = tuple(oi * s - lo + qi * d for oi, qi, s, d, (lo, _) in zip(o, q, stride, dilation, pads))
            if all(0 <= p < n for p, n in zip(pos, spatial)):
                y[o] += x[pos] @ Wk[q]
    return y


@pytest.mark.parametrize("shape, kernel, stride, dilation, pads", [
    ((9, 2), (3,), (2,), (3,), ((2, 1),)),
    ((5, 6, 2), (2, 3), (1, 2), (2, 1), ((0, 0), (0, 0))),
])
def test_conv_equals_a_numpy_loop_convolution(shape, kernel, stride, dilation, pads):
    """F_1 of an identity conv layer equals a hand-written loop over output positions and kernel offsets
    (the geometry from the numbers given, not from the spec). Kills s34c-conv-dilation-from-stride."""
    conv = Conv(3, kernel, stride=stride, dilation=dilation, padding=pads, activation="identity", bias="none")
    arch = Architecture(shape, (conv, Output(1)))
    params = sample_params(arch, 3)
    X = np.random.default_rng(4).standard_normal((2, *shape))
    F1 = np.asarray(model.features(arch, params, X)[1])
    W = np.asarray(params["layer_1"]["W"])
    ref = np.stack([_loop_conv(x, W, kernel, stride, dilation, pads).reshape(-1) for x in X])
    _close(F1, ref)


@pytest.mark.parametrize("padding", ["same", "SAME", "valid"])
def test_conv_padding_names_are_case_insensitive_and_follow_lax(padding):
    """``padding`` is 'VALID' or 'SAME' in any case: F_1 equals ``lax.conv_general_dilated`` with that padding
    name (JAX's own SAME rule, not the library's). Kills s34c-conv-padding-case-kept."""
    conv = Conv(2, (3, 2), stride=(2, 2), padding=padding, activation="identity", bias="none")
    arch = Architecture((5, 6, 1), (conv, Output(1)))
    params = sample_params(arch, 5)
    X = np.random.default_rng(6).standard_normal((3, 5, 6, 1))
    W = np.asarray(params["layer_1"]["W"]).reshape(3, 2, 1, 2)
    ref = jax.lax.conv_general_dilated(X, W, (2, 2), padding.upper(), dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                       precision=jax.lax.Precision.HIGHEST)
    _close(model.features(arch, params, X)[1], np.asarray(ref).reshape(3, -1))


def test_maxpool_default_stride_tiles_the_input():
    """MaxPool's stride defaults to its window (Def. 2.3's usual tiling): a 4×4 input pooled by (2, 2) is
    the 2×2 block maxima (numpy), and a (3,) window with stride (1,) slides. Kills s34c-maxpool-default-stride-one."""
    assert MaxPool((2, 2)).stride == (2, 2)
    arch = Architecture((4, 4, 2), (MaxPool((2, 2)), Output(1)))
    X = np.random.default_rng(7).standard_normal((3, 4, 4, 2))
    ref = X.reshape(3, 2, 2, 2, 2, 2).max(axis=(2, 4))
    _close(model.features(arch, {"layer_2": {"W": np.zeros((8, 1)), "b": np.zeros(1)}}, X)[1], ref.reshape(3, -1))
    arch = Architecture((5, 1), (MaxPool((3,), (1,)), Output(1)))
    X1 = X.reshape(3, -1)[:, :5, None]
    ref = np.stack([X1[:, i:i + 3, 0].max(axis=1) for i in range(3)], axis=1)
    _close(model.features(arch, {"layer_2": {"W": np.zeros((3, 1)), "b": np.zeros(1)}}, X1)[1], ref)


@pytest.mark.parametrize("build", [lambda: PatchLayer(((0, 1), (2, 3), (1, 0)), 2),
                                   lambda: PatchMaxPool(((0, 1), (2, 3), (1, 0)))])
def test_a_permuted_repeat_patch_is_refused(build):
    """Def. 2.1/2.3 patches are sets: (1, 0) repeats (0, 1). Kills s34c-patchlayer-distinct-as-tuples."""
    with pytest.raises(ValueError, match=r"`patches` 0 and 2 are the same set \[0, 1\].*Remove the repeat"):
        build()


# ----------------------------------------------------------------------------- batching

N, D_IN, M = 7, 3, 2


def _net(params, X):
    return jnp.tanh(X @ params["w1"]) @ params["w2"] + params["b"]


@pytest.fixture(scope="module")
def inst():
    rng = np.random.default_rng(34)
    params = {"w1": rng.standard_normal((D_IN, 3)), "w2": rng.standard_normal((3, M)), "b": rng.standard_normal(M)}
    obj, theta = objective.from_model(_net, params)
    X, Y = rng.standard_normal((N, D_IN)), rng.standard_normal((N, M))
    return obj, theta, X, Y


def _reference_jacobian(obj, theta, X):
    return np.asarray(jax.jacfwd(lambda t: obj.outputs(t, jnp.asarray(X)).reshape(-1))(theta))


def test_chunks_mask_their_own_batch_and_sum_to_the_whole():
    """A Batches' chunks carry their own batch's weight: the last chunk's padding is masked, and the masked
    sums over chunks add up to the numpy sum over the samples. Kills s34c-chunks-first-weight."""
    X = np.arange(14.0).reshape(N, 2)
    data = batching.batches(X, np.zeros((N, 1)), 3)
    chunks = list(data.chunks())
    assert [c.weight.tolist() for c in chunks] == [[[1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0]], [[1.0, 0.0, 0.0]]]
    total = sum(float((np.asarray(c.weight[0])[:, None] * np.asarray(c.X[0])).sum()) for c in chunks)
    assert total == X.sum()


def test_sum_over_in_a_trace_counts_every_sample_once():
    """Under ``jit`` several batches are summed by ``lax.scan``: the result equals numpy's sum over the N
    samples (padding masked, no batch twice). Kills s34c-sum-over-scan-starts-at-first."""
    X = np.random.default_rng(8).standard_normal((N, 2))
    data = batching.batches(X, np.zeros((N, 1)), 3)
    total = jax.jit(lambda d: batching.sum_over(lambda x, y, w: (w[:, None] * x).sum(axis=0), d))(data)
    _close(total, X.sum(axis=0))


def test_from_iterable_cuts_at_the_first_batch_size():
    """``from_iterable`` without ``batch_size`` re-cuts into the first batch's size (documented), the last
    batch padded. Kills s34c-from-iterable-last-size."""
    X, Y = np.arange(14.0).reshape(N, 2), np.arange(float(N))
    data = batching.from_iterable([(X[:3], Y[:3]), (X[3:5], Y[3:5]), (X[5:], Y[5:])])
    assert (data.batch_size, data.num_batches, data.N) == (3, 3, N)
    assert data.weight.tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


def test_stream_padding_repeats_the_last_sample_where_zero_is_not_finite():
    """A ragged chunk is padded with its last sample (documented: a zero input could make the output NaN,
    and 0·NaN is NaN). A network with log‖x‖² (−inf at 0): the streamed loss equals the numpy loss, and
    ``stream.N`` counts samples, not padding. Kills s34c-stream-pads-zeros and s34c-stream-N-counts-padding."""
    rng = np.random.default_rng(9)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))

    def net(params, X):
        return jnp.log(jnp.sum(X * X, axis=1, keepdims=True)) * params["w"]

    obj, theta = objective.from_model(net, {"w": np.array([0.5])}, reduction="mean")
    stream = batching.Stream([(X[:3], Y[:3]), (X[3:], Y[3:])], batch_size=2)  # chunks 2, 1+pad, 2
    chunks = list(stream.chunks())
    np.testing.assert_array_equal(chunks[1].X[0, 1], X[2])
    assert stream.N == 5
    r = 0.5 * np.log((X * X).sum(axis=1, keepdims=True)) - Y
    ref = np.mean(0.5 * (r * r).sum(axis=1))  # the squared loss ½‖f − y‖² per sample, mean over N
    _close(D.loss(obj, theta, stream), ref)


@pytest.mark.parametrize("size", [1, 3, 10])
def test_batched_equals_unbatched_at_sizes_that_do_not_divide_N(inst, size):
    """Loss, gradient and Jacobian over batches of 1, 3 (7 = 3 + 3 + 1) and 10 (> N) equal the arrays' and the
    Jacobian equals ``jax.jacfwd`` of the flattened outputs."""
    obj, theta, X, Y = inst
    data = batching.batches(X, Y, size)
    _close(D.loss(obj, theta, data), D.loss(obj, theta, X, Y))
    _close(D.gradient(obj, theta, data), D.gradient(obj, theta, X, Y))
    _close(jacobians.jacobian(obj, theta, data), _reference_jacobian(obj, theta, X))


# ----------------------------------------------------------------------------- jacobians


def test_jacobian_of_a_ragged_stream_with_several_outputs_equals_jacfwd(inst):
    """A Stream cut into chunks of 2 (3 + 3 + 1 → 2, 1+pad, 2, 1+pad, 1+pad) with m = 2 outputs: the padding
    rows are dropped sample by sample (row i·m + j). Kills s34c-jacobian-stream-mask-tiled."""
    obj, theta, X, Y = inst
    stream = batching.Stream([(X[i:i + 3], Y[i:i + 3]) for i in range(0, N, 3)], batch_size=2)
    _close(jacobians.jacobian(obj, theta, stream), _reference_jacobian(obj, theta, X))


def test_forward_mode_on_several_batches_is_refused(inst):
    """Forward mode needs one batch (documented); on several it would read the first batch only.
    Kills s34c-jacobian-forward-batches-unrefused."""
    obj, theta, X, Y = inst
    with pytest.raises(ValueError, match="`mode`='forward' needs the data in one batch; use mode='reverse'"):
        jacobians.jacobian(obj, theta, batching.batches(X, Y, 3), mode="forward")
    _close(jacobians.jacobian(obj, theta, batching.batches(X, Y, N), mode="forward"),
           _reference_jacobian(obj, theta, X))


# ----------------------------------------------------------------------------- pool_resolved

DEEP = Architecture((6, 6, 1), (Conv(2, (2, 2), activation="tanh", bias="filter"), Conv(2, (2, 2)), MaxPool((2, 2)),
                                Output(2)))
FIRST = Architecture((6, 6, 1), (Conv(2, (3, 3)), MaxPool((2, 2)), Output(2)))  # per-neuron bias


def _plain_objective(arch):
    obj = D.objective(arch)
    plain, _ = objective.from_model(lambda p, X: model.CNN(arch).apply({"params": p}, X).F[-1],
                                    obj.layout.unravel(np.zeros(obj.P)))
    return obj, plain


@pytest.mark.parametrize("arch", [DEEP, FIRST], ids=["pool-after-second-conv", "first-conv-neuron-bias"])
def test_pool_resolved_network_equals_the_plain_one(arch):
    """Values and Hessian products of the pool-resolved network equal the plain network's at a generic point
    (``model.apply``; ``D.hvp`` of the network as it is). Kills s34c-pool-first-path-any-depth (a pool after
    the second conv evaluated on the input's patches) and s34c-pool-neuron-bias-first-entry."""
    rng = np.random.default_rng(10)
    obj, plain = _plain_objective(arch)
    theta = jnp.asarray(rng.standard_normal(obj.P) * 0.7)
    X, Y = jnp.asarray(rng.standard_normal((4, 6, 6, 1))), jnp.asarray(rng.standard_normal((4, 2)))
    params = obj.layout.unravel(theta)
    pool = arch.L - 1
    M = PR.selection(arch, params, X)
    assert set(M) == {pool} and (M[pool][1] is None) == (arch is DEEP)  # the input-patch path: first conv only
    _close(PR.outputs(arch, params, X, M), model.apply(arch, params, X), rtol=1e-13)
    v = jnp.asarray(rng.standard_normal(obj.P))
    _close(D.linearize_hvp(obj, theta, X, Y)(v), D.hvp(plain, theta, X, Y, v), rtol=1e-11)


def test_pool_resolved_at_a_tie_point_has_the_plain_values_gradient_and_hessian_products():
    """A constant input and per-filter biases make every window's four entries tie, with identical patches, so
    equal gradients: the resolved network's values, gradient and Hessian products equal the plain network's
    (the selection averages the ties, JAX's convention for ``jnp.max``)."""
    arch = Architecture((6, 6, 1), (Conv(2, (3, 3), bias="filter"), MaxPool((2, 2)), Output(2)))
    obj, plain = _plain_objective(arch)
    rng = np.random.default_rng(11)
    theta = jnp.asarray(rng.standard_normal(obj.P) * 0.7)
    params = obj.layout.unravel(theta)
    X, Y = jnp.full((2, 6, 6, 1), 0.3), jnp.asarray(rng.standard_normal((2, 2)))
    M = PR.selection(arch, params, X)
    np.testing.assert_array_equal(np.asarray(M[2][0]), 0.25)  # four tied entries, each weight 1/4
    _close(PR.outputs(arch, params, X, M), model.apply(arch, params, X), rtol=1e-13)
    _close(D.gradient(obj, theta, X, Y), D.gradient(plain, theta, X, Y), rtol=1e-12)
    v = jnp.asarray(rng.standard_normal(obj.P))
    _close(D.linearize_hvp(obj, theta, X, Y)(v), D.hvp(plain, theta, X, Y, v), rtol=1e-11)


# ----------------------------------------------------------------------------- feature_maps

SMALL = Architecture((5, 2), (Conv(3, (2,), stride=1), Dense(4, activation="tanh"), Output(1)))


def test_features_jvp_equals_jax_jvp_of_the_plain_network():
    """``features_jvp`` is ``J_{f_k}(x_i)·d_i`` at ``X0`` along ``D``: equal to ``jax.jvp`` of
    ``model.features(...)[k]`` (the whole network), with sigmoid units and a non-zero ``X0``, for k = 1, 2.
    Kills s34c-features-jvp-swapped (the derivative at D along X0)."""
    params = sample_params(SMALL, 12)
    rng = np.random.default_rng(13)
    X0, Dir = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 2))
    for k in (1, 2):
        ref = jax.jvp(lambda Z: model.features(SMALL, params, Z)[k], (jnp.asarray(X0),), (jnp.asarray(Dir),))[1]
        _close(features_jvp(SMALL, params, X0, Dir, k), ref)


def test_full_weight_matrix_is_the_float64_map_of_a_loop_convolution():
    """``U_1 (n_0, n_1)`` is the exact float64 matrix with F_0 U_1 = the loop convolution (no bias): its column
    o·T + t holds filter t at the rows of patch o. Kills s34c-full-weight-float32."""
    params = sample_params(SMALL, 14)
    W = np.asarray(params["layer_1"]["W"])
    U = full_weight_matrix(SMALL, params, 1)
    assert U.dtype == np.float64
    ref = np.zeros((10, 12))
    for o in range(4):
        for q in range(2):
            for c in range(2):
                ref[(o + q) * 2 + c, o * 3:(o + 1) * 3] = W[q * 2 + c]
    np.testing.assert_array_equal(U, ref)
    x = np.random.default_rng(15).standard_normal((5, 2))
    _close(x.reshape(-1) @ U, _loop_conv(x, W, (2,), (1,), (1,), ((0, 0),)).reshape(-1))


def test_layer_index_refuses_the_output_and_the_input():
    """F_k is defined here for hidden layers 1 … L−1 only, named by an integer (a bool is refused).
    Kills s34c-layer-index-allows-output."""
    assert check_layer_index(SMALL, 2) == 2
    for k in (0, 3):
        with pytest.raises(ValueError, match=rf"`k`={k} is not a hidden layer; expected an integer in \[1, 2\]"):
            check_layer_index(SMALL, k)
    # a bool is not a layer index (it was read as layer 1: feature_rank(arch, params, X, True) gave F_1's rank)
    with pytest.raises(ValueError, match=r"`k`=True is not a hidden layer"):
        check_layer_index(SMALL, True)
