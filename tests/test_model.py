"""Float64 Flax layers: F_k = σ(F_{k-1} U_k + 1 b_kᵀ), fast path = patch path, the paper's neuron order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from theory_lab import activations, model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output, PatchLayer, PatchMaxPool
from theory_lab.testing import assert_tree_allclose, finite_difference_grad

ARCHS = {
    # 1-D: SAME + stride with per-neuron bias, dilation with per-filter bias
    "conv1d": Architecture((7, 2), (Conv(3, (3,), stride=2, padding="SAME"),
                                    Conv(2, (2,), dilation=2, bias="filter", activation="softplus(2)"),
                                    Dense(4, "tanh"), Output(2))),
    # 2-D: SAME + stride, overlapping max-pool, explicit padding + dilation without bias
    "conv2d": Architecture((6, 5, 2), (Conv(3, (3, 2), stride=(2, 1), padding="SAME"),
                                       MaxPool((2, 2), stride=1),
                                       Conv(2, (2, 2), dilation=(1, 2), padding=((1, 0), (0, 2)), bias="none",
                                            activation="relu"),
                                       Output(2))),
    # Def. 2.1 / 2.3 with explicit patches
    "patch": Architecture((5, 1), (PatchLayer(((0, 1), (1, 2), (3, 4), (4, 0)), 2, activation="silu"),
                                   PatchMaxPool(((0, 1), (2, 3), (5, 6), (6, 7))), Dense(3, "gelu"), Output(1))),
}
N = 4


@pytest.fixture(scope="module")
def instances():
    out = {}
    for i, (name, arch) in enumerate(ARCHS.items()):
        params = model.init(arch, jax.random.key(100 + i), bias_scale=0.5)
        X = np.random.default_rng(i).standard_normal((N, *arch.input_shape))
        out[name] = (arch, params, X)
    return out


@pytest.mark.parametrize("name", ARCHS)
def test_params_are_float64_with_the_paper_shapes(instances, name):
    arch, params, _ = instances[name]
    for info in arch.info:
        if not info.has_weights:
            assert f"layer_{info.k}" not in params
            continue
        p = params[f"layer_{info.k}"]
        assert p["W"].shape == (info.l, info.T) and p["W"].dtype == jnp.float64
        bias = getattr(info.spec, "bias", "neuron")
        expected = {"neuron": (info.n,), "filter": (info.T,)}.get(bias)
        assert (p["b"].shape if "b" in p else None) == expected
        if "b" in p:
            assert p["b"].dtype == jnp.float64


@pytest.mark.parametrize("name", ARCHS)
def test_features_satisfy_the_recursion(instances, name):
    """F_k = σ_k(F_{k-1} U_k + 1 b_kᵀ) for conv/dense, F_k = max over patches for pooling, F_L linear."""
    arch, params, X = instances[name]
    out = model.forward(arch, params, X)
    F = [np.asarray(f) for f in out.F]
    assert np.array_equal(F[0], X.reshape(N, -1))
    for info in arch.info:
        k = info.k
        assert F[k].shape == (N, info.n) and F[k].dtype == np.float64
        if info.kind == "maxpool":
            assert out.G[k] is None
            expected = F[k - 1][:, info.patches].max(axis=-1)
        else:
            U = np.asarray(model.full_weight_matrix(arch, params, k))
            b = np.asarray(model.bias_vector(arch, params, k))
            assert U.shape == (arch.widths[k - 1], info.n) and b.shape == (info.n,)
            G = F[k - 1] @ U + np.ones((N, 1)) * b[None, :]
            np.testing.assert_allclose(np.asarray(out.G[k]), G, rtol=0, atol=1e-12)
            expected = G if info.kind == "output" else np.asarray(activations.get(info.activation)(G))
        np.testing.assert_allclose(F[k], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ARCHS)
def test_fast_path_equals_patch_path(instances, name):
    arch, params, X = instances[name]
    fast = model.forward(arch, params, X, path="fast")
    slow = model.forward(arch, params, X, path="patch")
    assert_tree_allclose(fast, slow, rtol=0.0, atol=1e-12)


@settings(max_examples=8)
@given(st.data())
def test_fast_equals_patch_on_random_geometry(data):
    """Random 1-D/2-D conv (padding, stride, dilation) followed by a random max-pool window."""
    dims = data.draw(st.sampled_from([1, 2]), label="dims")
    ints = lambda lo, hi: tuple(data.draw(st.integers(lo, hi)) for _ in range(dims))  # noqa: E731
    spatial = ints(3, 6)
    padding = data.draw(st.sampled_from(["VALID", "SAME", "explicit"]), label="padding")
    if padding == "explicit":
        padding = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(dims))
    try:
        conv = Conv(2, ints(1, 3), stride=ints(1, 2), padding=padding, dilation=ints(1, 2), bias="filter")
        first = Architecture((*spatial, 2), (conv, Output(1)))
        window = tuple(data.draw(st.integers(1, n)) for n in first.layer(1).out_shape[:-1])
        arch = Architecture((*spatial, 2), (conv, MaxPool(window, stride=ints(1, 2)), Output(1)))
    except ValueError:
        assume(False)
    rng = np.random.default_rng(0)
    params = {f"layer_{i.k}": {"W": jnp.asarray(rng.standard_normal((i.l, i.T))),
                               "b": jnp.asarray(rng.standard_normal(i.T if i.kind == "conv" else i.n))}
              for i in arch.info if i.has_weights}
    X = rng.standard_normal((3, *spatial, 2))
    fast = model.forward(arch, params, X, path="fast")
    assert_tree_allclose(fast, model.forward(arch, params, X, path="patch"), rtol=0.0, atol=1e-12)
    U1, b1 = model.full_weight_matrix(arch, params, 1), model.bias_vector(arch, params, 1)
    np.testing.assert_allclose(np.asarray(fast.G[1]), X.reshape(3, -1) @ np.asarray(U1) + np.asarray(b1),
                               rtol=0, atol=1e-12)


def _tiny(bias="none", shape=(3, 1), kernel=(2,)):
    arch = Architecture(shape, (Conv(2, kernel, activation="identity", bias=bias), Output(1)))
    params = model.init(arch, jax.random.key(0))
    params["layer_1"]["W"] = jnp.array([[1.0, 2.0], [3.0, 4.0]])  # W = [w^1 w^2], l = 2 rows
    return arch, params


def test_neuron_order_by_hand_1d():
    """h = (p−1)T + t: neurons (patch 1, filter 1), (patch 1, filter 2), (patch 2, filter 1), …"""
    arch, params = _tiny()
    X = np.array([[[1.0], [10.0], [100.0]]])  # x = (a, b, c); patches (a, b), (b, c)
    F1 = np.asarray(model.features(arch, params, X)[1])
    assert F1.tolist() == [[1 + 30, 2 + 40, 10 + 300, 20 + 400]]
    U1 = np.asarray(model.full_weight_matrix(arch, params, 1))
    assert U1.tolist() == [[1, 2, 0, 0], [3, 4, 1, 2], [0, 0, 3, 4]]


def test_neuron_order_by_hand_2d_and_filter_bias():
    arch, params = _tiny(bias="filter", shape=(2, 2, 1), kernel=(1, 2))
    params["layer_1"]["b"] = jnp.array([0.5, 0.25])
    X = np.array([[[[1.0], [10.0]], [[100.0], [1000.0]]]])  # patches: row 0 (1, 10), row 1 (100, 1000)
    F1 = np.asarray(model.features(arch, params, X)[1])
    assert F1.tolist() == [[31.5, 42.25, 3100.5, 4200.25]]
    assert np.asarray(model.bias_vector(arch, params, 1)).tolist() == [0.5, 0.25, 0.5, 0.25]


def test_weight_map_is_linear(instances, rng):
    arch, _, _ = instances["conv2d"]
    info = arch.layer(3)
    W1, W2 = rng.standard_normal((2, info.l, info.T))
    lhs = model.weight_map(arch, 3, 2.0 * W1 - 3.0 * W2)
    rhs = 2.0 * model.weight_map(arch, 3, W1) - 3.0 * model.weight_map(arch, 3, W2)
    np.testing.assert_allclose(np.asarray(lhs), np.asarray(rhs), rtol=0, atol=1e-12)
    # padding entries never enter U_k: each column holds at most l non-zeros
    U = np.asarray(model.weight_map(arch, 3, W1))
    assert np.all((U != 0).sum(axis=0) <= info.l)


def test_apply_shape_flat_input_and_jit(instances):
    arch, params, X = instances["conv1d"]
    Y = model.apply(arch, params, X)
    assert Y.shape == (N, 2) and Y.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(model.apply(arch, params, X.reshape(N, -1))), np.asarray(Y))
    jitted = jax.jit(lambda p, x: model.apply(arch, p, x))
    np.testing.assert_allclose(np.asarray(jitted(params, jnp.asarray(X))), np.asarray(Y), rtol=0, atol=1e-14)
    G = model.preactivations(arch, params, X)
    assert G[0] is None and len(G) == arch.L + 1
    np.testing.assert_array_equal(np.asarray(G[-1]), np.asarray(Y))


def test_gradient_matches_finite_differences(instances):
    arch, params, X = instances["conv1d"]
    b = np.asarray(params["layer_2"]["b"])

    def loss(bias):
        p = {**params, "layer_2": {**params["layer_2"], "b": jnp.asarray(bias)}}
        return 0.5 * jnp.sum(model.apply(arch, p, X) ** 2)

    auto = np.asarray(jax.grad(loss)(jnp.asarray(b)))
    np.testing.assert_allclose(auto, finite_difference_grad(loss, b, h=1e-5), rtol=1e-6, atol=1e-9)


# ---- initialisation ------------------------------------------------------------------------------------

SMALL = Architecture((50,), (Dense(400), Output(1)))


@pytest.mark.parametrize("law", model.LAWS)
def test_init_laws_float64_and_reproducible(law):
    k1, k2 = jax.random.key(1), jax.random.key(2)
    scale = 2.0 if law in ("normal", "uniform") else 1.0
    p1, p1b, p2 = (model.init(SMALL, k, law=law, scale=scale) for k in (k1, k1, k2))
    for leaf in jax.tree_util.tree_leaves(p1):
        assert leaf.dtype == jnp.float64
    assert_tree_allclose(p1, p1b, rtol=0.0, atol=0.0)
    assert not np.allclose(np.asarray(p1["layer_1"]["W"]), np.asarray(p2["layer_1"]["W"]))
    W = np.asarray(p1["layer_1"]["W"])  # (l, T) = (50, 400): fan_in 50, fan_out 400
    expected_std = {"lecun_normal": np.sqrt(1 / 50), "lecun_uniform": np.sqrt(1 / 50),
                    "glorot_normal": np.sqrt(2 / 450), "he_normal": np.sqrt(2 / 50), "normal": 2.0,
                    "uniform": 2.0 / np.sqrt(3)}[law]
    assert abs(W.std() / expected_std - 1) < 0.03, (law, W.std(), expected_std)
    if law == "uniform":
        assert W.min() >= -2.0 and W.max() <= 2.0


@pytest.mark.parametrize("bias_law", ["normal", "uniform", "zeros"])
def test_bias_laws(bias_law):
    p = model.init(SMALL, jax.random.key(3), bias_law=bias_law)  # bias_scale 0.1
    b = np.asarray(p["layer_1"]["b"])
    assert b.dtype == np.float64 and b.shape == (400,)
    if bias_law == "zeros":
        assert not b.any()
    elif bias_law == "uniform":
        assert b.min() >= -0.1 and b.max() <= 0.1 and abs(b.std() / (0.1 / np.sqrt(3)) - 1) < 0.15
    else:
        assert abs(b.std() / 0.1 - 1) < 0.15


def test_float32_params_are_refused(key):
    """Flax's param_dtype defaults to float32; theory-lab's layers refuse anything but float64."""
    arch, _ = _tiny()
    with pytest.raises(TypeError, match=r"`param_dtype`=.*float32.* must be float64.*silently create float32"):
        model._WeightLayer(arch.layer(1), param_dtype=jnp.float32).init(key, jnp.zeros((1, 3)))
    with pytest.raises(TypeError, match=r"`param_dtype`=.*float32.* must be float64"):
        model.CNN(arch, param_dtype=jnp.float32).init(key, jnp.zeros((1, 3, 1)))
    shapes = jax.eval_shape(model.CNN(arch).init, key, jnp.zeros((1, 3, 1)))["params"]
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(shapes)} == {jnp.dtype(jnp.float64)}


# ---- errors ---------------------------------------------------------------------------------------------


def test_input_errors(instances):
    arch, params, X = instances["conv1d"]
    with pytest.raises(TypeError, match=r"`X` has dtype float32; theory-lab computes in float64\. Pass X\.astype"):
        model.apply(arch, params, X.astype(np.float32))
    with pytest.raises(TypeError, match=r"`X` has dtype float32"):
        model.features(arch, params, jnp.asarray(X, jnp.float32))
    with pytest.raises(TypeError, match=r"`X` has dtype int64"):
        model.apply(arch, params, np.zeros((N, 7, 2), np.int64).tolist())
    with pytest.raises(ValueError, match=r"`X` has shape \(4, 5, 2\); expected \(N, 7, 2\) or \(N, 14\)"):
        model.apply(arch, params, X[:, :5])
    with pytest.raises(ValueError, match=r"`X` has shape \(7, 2\)"):
        model.apply(arch, params, X[0])
    with pytest.raises(ValueError, match=r"`X` has no samples"):
        model.apply(arch, params, X[:0])
    bad = X.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"`X` contains NaN or Inf; clean the data first"):
        model.apply(arch, params, bad)
    with pytest.raises(ValueError, match=r"`path`='slow' is unknown; choose 'fast' or 'patch'"):
        model.forward(arch, params, X, path="slow")


def test_init_and_weight_errors(instances, key):
    arch, params, _ = instances["conv2d"]
    with pytest.raises(ValueError, match=r"`law`='xavier' is unknown; choose one of \('lecun_normal'"):
        model.init(arch, key, law="xavier")
    with pytest.raises(ValueError, match=r"`bias_law`='ones' is unknown; choose 'normal', 'uniform' or 'zeros'"):
        model.init(arch, key, bias_law="ones")
    with pytest.raises(ValueError, match=r"`k`=2: layer 2 is maxpool and has no weights"):
        model.weight_map(arch, 2, np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"`k`=2: layer 2 \(maxpool\) has no weights; choose a conv or dense"):
        model.full_weight_matrix(arch, params, 2)
    with pytest.raises(ValueError, match=r"`W` has shape \(3, 2\); layer 3 expects \(l_2, T_3\) = \(12, 2\)"):
        model.weight_map(arch, 3, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"`k`=9 is not a layer"):
        model.full_weight_matrix(arch, params, 9)
    b = model.bias_vector(arch, params, 3)  # bias="none"
    assert b.shape == (arch.widths[3],) and b.dtype == jnp.float64 and not np.asarray(b).any()
