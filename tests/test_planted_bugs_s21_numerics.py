"""Planted bugs the rest of the suite let through in the numerical modules.

A mutation audit planted one realistic bug at a time in :mod:`theory_lab.activations`,
:mod:`theory_lab.layout`, :mod:`theory_lab.keys`, :mod:`theory_lab.resnet`,
:mod:`theory_lab.sharding`, :mod:`theory_lab.model`, :mod:`theory_lab.sampling` and
:mod:`theory_lab.data` and ran the tests of that module. These tests kill the mutants that
survived. Each compares against a closed form written out here, a dense reference computed
in numpy, a documented invariant, or a rejected bad input; the planted bug each one catches
is named in its docstring.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from theory_lab import activations, data, keys, model, resnet, sampling, sharding
from theory_lab import layout as L
from theory_lab import pool_resolved as PR
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output, PatchLayer, PatchMaxPool

# ----------------------------------------------------------------------------- pool_resolved

SECOND_CONV_POOL = Architecture((6, 6, 1), (Conv(2, (3, 3)), Conv(2, (1, 1), activation="softplus"), MaxPool((2, 2)),
                                            Output(2)))


def test_a_pool_after_a_second_conv_is_not_evaluated_on_input_patches():
    """Planted bug: the selected-input-patch path taken for any conv before a pool (``k >= 2`` for ``k == 2``):
    layer 2's patches then index the input ``X`` instead of ``F_1``, silently (gathers clamp indices).

    Documented: ``X_k`` is ``None`` unless the pool follows a *first* conv layer. Here a 1×1 second conv
    (small patches, so the size test would let it through) precedes a tiling pool; the resolved network
    must still equal ``model.apply``.
    """
    arch = SECOND_CONV_POOL
    params = sampling.sample_params(arch, 3)
    X = np.random.default_rng(3).standard_normal((3, 6, 6, 1))
    M = PR.selection(arch, params, X)
    assert sorted(M) == [3] and M[3][1] is None
    np.testing.assert_allclose(PR.outputs(arch, params, X, M), model.apply(arch, params, X), rtol=1e-13, atol=1e-14)


PATCH_POOL_ONE_FILTER = Architecture((5, 1), (PatchLayer(((0, 1), (1, 2), (2, 3), (3, 4)), 2, activation="softplus"),
                                               PatchMaxPool(((0, 2), (3, 7), (4, 6))), Output(1)))


def test_a_first_layer_pool_over_explicit_windows_of_one_filter():
    """Planted bug: on the selected-input-patch path for windows that are not channel-wise (explicit
    PatchMaxPool windows, each within one filter), every window entry weighted by ``M_0``.

    Windows (unit = 2·patch + filter): {p0 f0, p1 f0}, {p1 f1, p3 f1}, {p2 f0, p3 f0}. The pool follows the
    first (patch) layer, so the conv is evaluated at the selected units only: ``X_k`` is
    ``(l_0, N, n_k) = (2, N, 3)``; the resolved network equals ``model.apply``.
    """
    arch = PATCH_POOL_ONE_FILTER
    params = sampling.sample_params(arch, 4)
    X = np.random.default_rng(4).standard_normal((3, 5, 1))
    M = PR.selection(arch, params, X)
    assert M[2][1].shape == (2, 3, 3)
    np.testing.assert_allclose(PR.outputs(arch, params, X, M), model.apply(arch, params, X), rtol=1e-13, atol=1e-14)


# ----------------------------------------------------------------------------- activations


def test_softplus_and_gelu_and_silu_are_their_closed_forms():
    """Planted bugs: softplus(α) without α inside the log (``ln(1+e^t)/α``, right at t = 0 only),
    the tanh approximation of GELU in place of the exact erf form, silu registered as gelu.

    ``ln(1+e^{αt})/α``, ``t Φ(t)`` and ``t/(1+e^{-t})`` in numpy at points away from 0.
    """
    t = np.array([-3.0, -0.7, 0.5, 2.0, 4.0])
    for alpha in (2.0, 0.5):
        want = np.log1p(np.exp(alpha * t)) / alpha
        np.testing.assert_allclose(activations.get(f"softplus({alpha:g})")(t), want, rtol=1e-14)
    np.testing.assert_allclose(activations.get("gelu")(t), t * 0.5 * (1 + special.erf(t / np.sqrt(2))), rtol=1e-14)
    np.testing.assert_allclose(activations.get("silu")(t), t / (1 + np.exp(-t)), rtol=1e-14)


def test_leaky_relu_with_slope_zero_is_refused():
    """Planted bug: the slope check ``not slope > 0`` loosened to ``slope < 0``.

    ``leaky_relu(0)`` is relu, which is not strictly increasing; accepted, it would be declared so.
    """
    with pytest.raises(ValueError, match=r"'leaky_relu\(0\)' has invalid parameters .*`slope`=0.0 must be positive "
                                         r"\(slope 0 is relu\)"):
        activations.get("leaky_relu(0)")


def test_properties_lists_every_declared_property():
    """Planted bug: ``Activation.properties`` drops a key (``differentiable``)."""
    act = activations.get("elu")
    assert act.properties() == {"continuous": True, "analytic": False, "strictly_increasing": True,
                                "positive_derivative": True, "differentiable": True, "assumption_3_2": False,
                                "clause": None}


# ----------------------------------------------------------------------------- layers


def test_layer_sizes_must_be_integers_not_bools_or_floats():
    """Planted bugs: ``_integer`` accepting ``True`` (``int(True)`` is 1 filter), a float kernel size
    skipping the integer check (then iterated: a raw TypeError instead of the message), ``Output``
    truncating its width with ``int()`` (2.5 outputs taken as 2)."""
    with pytest.raises(ValueError, match=r"Conv: `filters`=True must be an integer \(got bool\); e.g. filters=2"):
        Conv(True, (3,))
    with pytest.raises(ValueError, match=r"Conv: `kernel`=3.0 must be an integer \(got float\)"):
        Conv(2, 3.0)
    with pytest.raises(ValueError, match=r"Output: `width`=2.5 must be an integer \(got float\)"):
        Output(2.5)


# ----------------------------------------------------------------------------- layout

PATCH_FILTER = Architecture((5, 1), (PatchLayer(((0, 1), (1, 2), (3, 4)), 2, bias="filter"), Output(1)))
DEEP = Architecture((2,), tuple(Dense(1) for _ in range(10)) + (Output(1),))  # layers 1 … 11


def test_a_patch_layer_with_filter_bias_has_one_bias_per_filter_in_the_layout():
    """Planted bugs: ``layout`` giving a per-filter bias to conv layers only (a PatchLayer's ``b`` then gets
    ``n_k`` entries, and θ disagrees with ``model.init``'s pytree); ``Layout.block`` ending at ``W_k``
    (the slice of a layer must hold ``W_k`` then ``b_k``)."""
    lay = L.layout(PATCH_FILTER)
    assert [(leaf.k, leaf.name, leaf.shape) for leaf in lay.leaves] == [(1, "W", (2, 2)), (1, "b", (2,)),
                                                                          (2, "W", (6, 1)), (2, "b", (1,))]
    assert lay.P == PATCH_FILTER.num_params == 13
    assert lay.blocks() == ((1, slice(0, 6)), (2, slice(6, 13)))  # W_k then b_k
    params = sampling.sample_params(PATCH_FILTER, 0)
    np.testing.assert_array_equal(lay.ravel(params), np.concatenate([np.ravel(params[f"layer_{k}"][n])
                                                                     for k in (1, 2) for n in ("W", "b")]))


def test_flatten_orders_layers_by_number_not_by_name():
    """Planted bug: ``flatten`` sorts the ``layer_k`` keys as strings (layer_10 before layer_2).

    The documented flat order is layers by ``k`` ascending, the order of ``layout(arch)``; with eleven
    layers the two orders differ.
    """
    params = sampling.sample_params(DEEP, 1)
    theta, unravel = L.flatten(params)
    np.testing.assert_array_equal(theta, L.layout(DEEP).ravel(params))
    assert theta[-2] == params["layer_11"]["W"][0, 0]
    with pytest.raises(ValueError, match=r"`params` must be a non-empty dict"):
        L.flatten({})


def test_layout_ravel_and_block_refuse_what_does_not_fit():
    """Planted bugs: ``Layout.ravel`` without its shape or float64 check, ``Layout.block`` of a layer
    without parameters crashing (IndexError) instead of naming the layers that have them."""
    lay = L.layout(PATCH_FILTER)
    params = sampling.sample_params(PATCH_FILTER, 0)
    bad = {**params, "layer_1": {**params["layer_1"], "W": np.zeros((2, 3))}}
    with pytest.raises(ValueError, match=r"`params` layer_1/W has shape \(2, 3\); expected \(2, 2\)"):
        lay.ravel(bad)
    f32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    with pytest.raises(TypeError, match=r"`params\['layer_1'\]\['W'\]` has dtype float32; derivatives are computed "
                                        r"in float64"):  # session 38: each leaf is checked, named
        lay.ravel(f32)
    with pytest.raises(ValueError, match=r"`block`=3 is not a layer with parameters; expected one of \(1, 2\)"):
        lay.block(3)


def test_tree_layout_blocks_are_whole_subtrees_and_inputs_are_checked():
    """Planted bugs: ``TreeLayout.block("dense")`` matching every path that merely starts with ``dense``
    (``dense_1`` too); ``ravel`` without its structure or shape check; ``tree_layout`` without its
    float64 check."""
    tree = {"dense": {"w": np.zeros((2, 2))}, "dense_1": {"w": np.zeros(3)}, "out": {"b": np.zeros(1)}}
    lay = L.tree_layout(tree)
    assert lay.block("dense") == slice(0, 4) and lay.block("dense_1") == slice(4, 7)
    with pytest.raises(ValueError, match=r"`params` has structure .*; expected .*another model"):
        lay.ravel({"dense": {"w": np.zeros((2, 2))}})
    with pytest.raises(ValueError, match=r"`params` leaf dense_1/w has shape \(4,\); expected \(3,\)"):
        lay.ravel({**tree, "dense_1": {"w": np.zeros(4)}})
    with pytest.raises(TypeError, match=r"`params\['out/b'\]` has dtype float32"):
        L.tree_layout({**tree, "out": {"b": np.zeros(1, np.float32)}})


def test_nnx_parameter_paths_omit_the_variable_payload():
    """Planted bug: ``_key_name`` keeping nnx's ``.value`` attribute, so an nnx block is named
    ``"kernel/value"`` and the documented path ``"kernel"`` (as for linen) is not found."""
    from flax import nnx

    state = nnx.state(nnx.Linear(2, 3, rngs=nnx.Rngs(0), param_dtype=jnp.float64), nnx.Param)
    lay = L.tree_layout(state)
    assert lay.paths == ("bias", "kernel") and lay.block("kernel") == slice(3, 9)


# ----------------------------------------------------------------------------- keys


def test_check_key_refuses_plain_arrays_and_names_the_argument():
    """Planted bugs: ``check_key`` accepting any jax array (a float vector as a key), and its message
    naming ``key`` whatever the argument is called."""
    with pytest.raises(TypeError, match=r"`probe_key` must be a jax.random key"):
        keys.check_key(jnp.zeros(3), name="probe_key")
    with pytest.raises(TypeError, match=r"`key` must be a jax.random key .*got int"):
        keys.check_key(3)


def test_split_key_follows_its_documented_derivation_and_keeps_the_implementation():
    """Planted bugs: ``split_key`` drawing key ``i`` from ``key_rng(key, i)`` (dropping ``num``, so its keys
    reuse the streams of tagged probes), and re-wrapping a typed key with the default implementation.

    Documented: each new key's raw data is drawn from ``key_rng(key, num, i)``; an ``rbg`` key stays ``rbg``.
    """
    key = jax.random.key(5)
    for i, k in enumerate(keys.split_key(key, 3)):
        want = keys.key_rng(key, 3, i).integers(0, 2**32, (2,), dtype=np.uint32)
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(k)), want)
    rbg = jax.random.key(0, impl="rbg")
    a, b = keys.split_key(rbg, 2)
    assert str(jax.random.key_impl(a)) == str(jax.random.key_impl(rbg)) and a.shape == rbg.shape
    assert not np.array_equal(np.asarray(jax.random.key_data(a)), np.asarray(jax.random.key_data(b)))


# ----------------------------------------------------------------------------- resnet


def _conv(x, kernel, stride, pad, bias=None):
    """Cross-correlation in numpy: ``x (N, H, W, C)``, ``kernel (kh, kw, C, O)``, ``pad`` on every side."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw = kernel.shape[:2]
    H, W = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], H, W, kernel.shape[-1]))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nhwc,co->nhwo", x[:, a:a + stride * H:stride, b:b + stride * W:stride], kernel[a, b])
    return out if bias is None else out + bias


def _resnet_reference(p, X, stats=None):
    """Stem, two residual blocks, global average, dense; with ``stats``, inference batch normalisation
    ``(h − μ)/√(σ² + 10⁻⁵) · γ + β`` right after each block convolution (which then has no bias)."""
    relu = lambda t: np.maximum(t, 0.0)  # noqa: E731

    def norm(h, name, i):
        if stats is None:
            return h
        s, q = stats[name][f"BatchNorm_{i}"], p[name][f"BatchNorm_{i}"]
        return (h - s["mean"]) / np.sqrt(s["var"] + 1e-5) * q["scale"] + q["bias"]

    h = relu(_conv(X, p["Conv_0"]["kernel"], 1, 1, p["Conv_0"]["bias"]))
    for name, stride in (("ResidualBlock_0", 1), ("ResidualBlock_1", 2)):
        q = p[name]
        g = relu(norm(_conv(h, q["Conv_0"]["kernel"], stride, 1, q["Conv_0"].get("bias")), name, 0))
        g = norm(_conv(g, q["Conv_1"]["kernel"], 1, 1, q["Conv_1"].get("bias")), name, 1)
        skip = _conv(h, q["Conv_2"]["kernel"], stride, 0) if "Conv_2" in q else h
        h = relu(skip + g)
    return h.mean(axis=(1, 2)) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]


def _variables(module, x, seed):
    """Float64 variables of ``module`` drawn with numpy on ``jax.eval_shape``'s shapes (flax's jitted
    initialisers take ~10 s to compile), batch statistics too (means near 0, variances in [0.5, 1.5))."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(module.init, jax.random.key(0), x)
    params = jax.tree_util.tree_map(lambda a: 0.5 * rng.standard_normal(a.shape), shapes["params"])
    out = {"params": params}
    if "batch_stats" in shapes:
        out["batch_stats"] = jax.tree_util.tree_map_with_path(
            lambda path, a: 0.3 * rng.standard_normal(a.shape) if "mean" in jax.tree_util.keystr(path)
            else 0.5 + rng.random(a.shape),
            shapes["batch_stats"])
    return out


def test_resnet_equals_a_numpy_reference_with_padding_one():
    """Planted bugs: ``"SAME"`` in place of the explicit padding 1 (PyTorch's ``padding=1``; SAME pads
    (0, 1) under stride 2), no ReLU after the residual sum, the ReLU before the (identity) norm,
    global max pooling in place of the average, no 1×1 projection for a block narrower than its input
    (``and`` for ``or``: tensors of different widths added).

    Widths (2, 4) on 6×6 inputs: a same-width block, then a block of stride 2 with a 1×1 projection;
    then a lone block narrowing 3 channels to 2 at stride 1.
    """
    net = resnet.ResNet(widths=(2, 4), num_classes=3)
    X = np.random.default_rng(0).standard_normal((3, 6, 6, 1))
    variables = _variables(net, X[:1], 0)
    params = variables["params"]
    assert "Conv_2" not in params["ResidualBlock_0"] and "Conv_2" in params["ResidualBlock_1"]
    np.testing.assert_allclose(jax.jit(net.apply)(variables, X), _resnet_reference(params, X), rtol=1e-12, atol=1e-13)
    shapes = jax.eval_shape(resnet.ResidualBlock(2).init, jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
    assert shapes["params"]["Conv_2"]["kernel"].shape == (1, 1, 3, 2)


def test_resnet_batch_norm_holds_the_statistics_of_one_training_pass():
    """Planted bugs: a BatchNorm momentum other than 0 (the running statistics then keep part of their
    initial value), ``use_running_average`` inverted, the ReLU before the norm (the class docstring puts
    BN right after each convolution: the numpy reference above, with drawn statistics).

    Documented: ``train`` only computes the running statistics once; in inference mode the network is
    a fixed function of its parameters. So inference with the statistics of a training pass on ``X``
    gives that pass's output on ``X``, and a sample's output does not depend on the rest of the batch.
    """
    net = resnet.ResNet(widths=(2, 4), num_classes=3, batch_norm=True)
    X = np.random.default_rng(1).standard_normal((4, 6, 6, 1))
    variables = _variables(net, X[:1], 1)
    want = _resnet_reference(variables["params"], X, variables["batch_stats"])
    np.testing.assert_allclose(jax.jit(net.apply)(variables, X), want, rtol=1e-12, atol=1e-13)
    # under the tests' strict dtype promotion: the statistics are float64 (flax's own BatchNorm keeps float32)
    trained, stats = jax.jit(lambda v, X: net.clone(train=True).apply(v, X, mutable=["batch_stats"]))(variables, X)
    assert {a.dtype for a in jax.tree_util.tree_leaves(stats)} == {np.dtype(np.float64)}
    fixed = {"params": variables["params"], "batch_stats": stats["batch_stats"]}
    inference = jax.jit(net.apply)
    np.testing.assert_allclose(inference(fixed, X), trained, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(inference(fixed, X[:2]), inference(fixed, X)[:2], rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------- sharding

TWO_DEVICES = textwrap.dedent("""
    import jax, numpy as np
    import theory_lab
    from theory_lab.sharding import replicate, shard_samples
    assert len(jax.devices()) == 2, jax.devices()
    X = np.arange(12.0).reshape(6, 2)
    Xs = shard_samples(X)
    assert sorted(s.data.shape for s in Xs.addressable_shards) == [(3, 2), (3, 2)], Xs.sharding
    assert np.array_equal(np.asarray(Xs), X)
    assert replicate({"w": np.ones((4, 3))})["w"].sharding.is_fully_replicated
    try:
        shard_samples(np.zeros((7, 2)))
    except ValueError as exc:
        assert "N = 7 samples, not a multiple of the 2 devices in the mesh. Use N = 6 or 8 samples" in str(exc), exc
    else:
        raise AssertionError("7 samples on 2 devices were accepted")
    print("ok")
""")


def test_samples_are_split_and_parameters_replicated_on_two_devices():
    """Planted bugs: ``shard_samples`` placing ``X`` replicated (the sample axis not split: same numbers,
    no data parallelism), ``replicate`` splitting the first axis, the error suggesting a wrong ``N``.

    Two forced host devices in a subprocess; the shards of a 6-sample ``X`` hold 3 samples each.
    """
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", TWO_DEVICES], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_an_empty_device_list_is_refused():
    """Planted bug: ``sample_mesh([])`` without its check (numpy/jax then fail with an unrelated message)."""
    with pytest.raises(ValueError, match=r"`devices` is empty; pass at least one jax device"):
        sharding.sample_mesh([])


# ----------------------------------------------------------------------------- model

POOL_FIRST = Architecture((5, 1), (MaxPool((2,), stride=1), Output(1)))
WIDE = Architecture((50,), (Dense(400), Output(1)))


def test_overlapping_max_pool_of_negative_inputs():
    """Planted bug: ``reduce_window`` started from 0 instead of −∞, so every window max is at least 0.

    Overlapping windows (stride 1) take the reduce_window path; the reference is the numpy max of each
    window of a negative input.
    """
    X = -1.0 - np.random.default_rng(3).random((2, 5, 1))
    F1 = np.asarray(model.features(POOL_FIRST, model.init(POOL_FIRST, jax.random.key(0)), X)[1])
    np.testing.assert_array_equal(F1, np.maximum(X[:, :-1, 0], X[:, 1:, 0]))


def test_inputs_with_inf_and_float32_parameters_are_refused():
    """Planted bugs: the input check testing NaN only (an Inf passes), ``check_params`` not testing float32."""
    params = model.init(POOL_FIRST, jax.random.key(0))
    X = np.ones((2, 5, 1))
    X[1, 2, 0] = np.inf
    with pytest.raises(ValueError, match=r"`X` contains NaN or Inf"):
        model.apply(POOL_FIRST, params, X)
    f32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    with pytest.raises(TypeError, match=r"`params` has leaves that are not float64: .*float32"):
        model.apply(POOL_FIRST, f32, np.ones((2, 5, 1)))


@pytest.mark.parametrize("law, truncated_normal", [("he_normal", True), ("glorot_normal", True),
                                                  ("lecun_uniform", False)])
def test_init_laws_are_the_named_families(law, truncated_normal):
    """Planted bugs: ``he_normal`` drawn from flax's ``he_uniform`` (or ``lecun_uniform`` from
    ``lecun_normal``): the same variance, so the variance test of ``model.init`` passes.

    A uniform law of std s lies in ``±√3 s``; flax's truncated normal reaches ``2 s / 0.8796 ≈ 2.27 s``,
    and among 20,000 draws about 1,900 lie beyond ``1.9 s``.
    """
    W = np.asarray(model.init(WIDE, jax.random.key(4), law=law)["layer_1"]["W"])
    s = W.std()
    beyond = int(np.sum(np.abs(W) > 1.9 * s))
    assert (beyond > 1000) if truncated_normal else (beyond == 0 and np.abs(W).max() <= np.sqrt(3 / 50))


# ----------------------------------------------------------------------------- sampling


def test_bias_mean_shifts_every_bias_law():
    """Planted bugs: ``bias_mean`` ignored by the normal or the zeros bias law (it was tested for uniform only),
    and the uniform bias law narrower than ``±bias_scale``."""
    arch = Architecture((3,), (Dense(4000), Output(1)))
    b = np.asarray(sampling.sample_params(arch, 0, bias_law="zeros", bias_mean=-3.0)["layer_1"]["b"])
    assert np.all(b == -3.0)
    b = np.asarray(sampling.sample_params(arch, 0, bias_law="normal", bias_scale=0.5, bias_mean=-3.0)["layer_1"]["b"])
    assert abs(b.mean() + 3.0) < 0.05 and abs(b.std() - 0.5) < 0.03
    b = np.asarray(sampling.sample_params(arch, 0, bias_law="uniform", bias_scale=2.0)["layer_1"]["b"])
    assert b.min() < -1.95 and b.max() > 1.95


def test_as_generator_distinguishes_keys_and_refuses_bools():
    """Planted bugs: only the first word of a key's raw data seeding the stream (``key(0)`` and ``key(1)``,
    raw data ``[0, 0]`` and ``[0, 1]``, then give the same parameters), and ``True`` taken as seed 1."""
    a = sampling.as_generator(jax.random.key(0)).standard_normal(3)
    b = sampling.as_generator(jax.random.key(1)).standard_normal(3)
    assert not np.array_equal(a, b)
    with pytest.raises(TypeError, match=r"`key` has type bool"):
        sampling.as_generator(True)


def test_with_layer_leaves_its_input_unchanged():
    """Planted bug: ``with_layer`` writing into the caller's pytree (the outer or the layer's dict not copied)."""
    arch = Architecture((3,), (Dense(2), Output(1)))
    params = sampling.sample_params(arch, 0)
    W_before, b_before = params["layer_1"]["W"], params["layer_1"]["b"]
    new = sampling.with_layer(params, 1, W=np.ones((3, 2)))
    assert params["layer_1"]["W"] is W_before and params["layer_1"]["b"] is b_before
    assert np.all(np.asarray(new["layer_1"]["W"]) == 1.0) and new["layer_1"]["b"] is b_before


# ----------------------------------------------------------------------------- data


def test_one_hot_width_digits_size_and_provenance():
    """Planted bugs: ``one_hot`` ignoring ``m``, ``digits`` refusing ``n`` = all 1,797 samples
    (``1 <= n < total``), ``provenance`` reporting ``shuffle`` whenever the key is present (also when False)."""
    assert data.one_hot([1], 4).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert data.digits(1797).N == 1797
    assert "shuffle" not in data.digits(5).provenance and data.digits(5, shuffle=True).provenance["shuffle"] is True


def test_infinite_noise_is_refused():
    """Planted bug: the noise check testing NaN only, so ``noise=inf`` fills ``X`` with ±Inf."""
    with pytest.raises(ValueError, match=r"`noise`=inf must be a finite non-negative standard deviation"):
        data.digits(5, noise=float("inf"))


def test_mnist1d_returns_n_samples_when_n_is_not_a_multiple_of_eight():
    """Planted bug: the generator asked for ``10 · ⌊n/8⌋`` samples instead of ``10 · ⌈n/8⌉``; its train split
    (80 %) then holds fewer than ``n`` (121 → 150 generated, 120 in the split)."""
    ds = data.mnist1d(121)
    assert ds.X.shape == (121, 40, 1) and ds.labels.shape == (121,)


def test_min_distance_finds_pairs_hidden_behind_own_sample_neighbours():
    """Planted bug: the nearest-neighbour search pruning the wrong points (``far > min_dist`` for
    ``far < min_dist``): points whose nearest neighbours are their own sample's are then dropped
    before a closer pair of different samples is reached.

    Patches of length 1 (a 1×1 conv): sample 0 holds 0, 0.001, 0.002, 10; sample 1 holds 0.010,
    0.011, 0.012, 10.5. The pair (10, 10.5) is found at once (distance 0.5); the closest pair
    (0.002, 0.010), at distance 0.008, only past each point's own cluster.
    """
    arch = Architecture((4, 1), (Conv(1, (1,)), Output(1)))
    X = np.array([[0.0, 0.001, 0.002, 10.0], [0.010, 0.011, 0.012, 10.5]])[:, :, None]
    r = data.check_distinct_patches(arch, X)
    assert r.holds and r.min_distance == pytest.approx(0.008, rel=1e-12)
