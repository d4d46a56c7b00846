"""Architecture specs: the paper's quantities n_k, P_{k-1}, l_{k-1}, T_k, parameter counts, 4.1, errors."""

import dataclasses
import pickle
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import lax

from theory_lab.arch import (
    Architecture,
    Conv,
    Dense,
    MaxPool,
    Output,
    PatchLayer,
    PatchMaxPool,
    figure1,
    named,
)

# ---- convolution geometry against lax.conv ------------------------------------------------------


def _lax_out_spatial(spatial, channels, spec):
    dims = len(spatial)
    dn = ("NWC", "WIO", "NWC") if dims == 1 else ("NHWC", "HWIO", "NHWC")
    x = jax.ShapeDtypeStruct((1, *spatial, channels), jnp.float64)
    w = jax.ShapeDtypeStruct((*spec.kernel, channels, spec.filters), jnp.float64)
    padding = spec.padding if isinstance(spec.padding, str) else list(spec.padding)
    out = jax.eval_shape(lambda x, w: lax.conv_general_dilated(x, w, spec.stride, padding, rhs_dilation=spec.dilation,
                                                              dimension_numbers=dn), x, w)
    return out.shape[1:-1]


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2]))
    ints = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(dims))  # noqa: E731
    spatial = ints(1, 9)
    padding = draw(st.sampled_from(["VALID", "SAME", "explicit"]))
    if padding == "explicit":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(dims))
    spec = Conv(draw(st.integers(1, 3)), ints(1, 4), stride=ints(1, 3), padding=padding, dilation=ints(1, 3),
                bias=draw(st.sampled_from(["neuron", "filter", "none"])))
    return spatial, draw(st.integers(1, 3)), spec


@settings(max_examples=80)
@given(conv_cases())
def test_conv_widths_match_lax_conv(case):
    """n_k, P_{k-1}, l_{k-1}, T_k and the parameter count for 1-D/2-D convs, any padding, stride, dilation."""
    spatial, channels, spec = case
    out = _lax_out_spatial(spatial, channels, spec)
    if min(out) <= 0:
        with pytest.raises(ValueError, match=r"layer 1 \(Conv\): `kernel`=.* is larger than its padded input"):
            Architecture((*spatial, channels), (spec, Output(2)))
        return
    arch = Architecture((*spatial, channels), (spec, Output(2)))
    info = arch.layer(1)
    P = int(np.prod(out))
    l = int(np.prod(spec.kernel)) * channels
    n = P * spec.filters
    assert info.out_shape == (*out, spec.filters)
    assert (info.n, info.P, info.l, info.T) == (n, P, l, spec.filters)
    assert arch.widths == (int(np.prod(spatial)) * channels, n, 2)
    bias = {"neuron": n, "filter": spec.filters, "none": 0}[spec.bias]
    assert info.num_params == l * spec.filters + bias
    assert arch.num_params == info.num_params + n * 2 + 2
    assert info.patches.shape == (P, l)
    # every patch entry is a neuron of layer 0 or a zero-padding marker
    assert info.patches.min() >= -1 and info.patches.max() < arch.d


def test_hand_computed_network():
    arch = Architecture((10, 3), (Conv(4, (3,), stride=2, padding="SAME", bias="filter"),
                                  Conv(6, (2,), dilation=2), Dense(7, "softplus"), Output(2)))
    # layer 1: SAME with stride 2 on 10 → 5 positions; l_0 = 3·3 = 9
    # layer 2: dilation 2 → extent 3 on 5 positions → 3 positions; l_1 = 2·4 = 8
    assert arch.widths == (30, 20, 18, 7, 2)
    rows = [(i.P, i.l, i.T, i.num_params) for i in arch.info]
    assert rows == [(5, 9, 4, 9 * 4 + 4), (3, 8, 6, 8 * 6 + 18), (1, 18, 7, 18 * 7 + 7), (1, 7, 2, 7 * 2 + 2)]
    assert [i.kind for i in arch.info] == ["conv", "conv", "dense", "output"]
    assert arch.L == 4 and arch.d == 30 and arch.width(0) == 30 and arch.width(2) == 18
    # SAME, stride 2, kernel 3 on 10: total padding 1, put on the high side as in lax
    assert arch.layer(1).padding == ((0, 1),)
    assert arch.layer(1).patches[-1].tolist() == [24, 25, 26, 27, 28, 29, -1, -1, -1]


def test_conv_2d_patch_order_is_row_major_position_then_channel():
    arch = Architecture((3, 3, 2), (Conv(1, (2, 2)), Output(1)))
    info = arch.layer(1)
    # patch p = output position (row-major); entries (kernel row, kernel col, channel)
    assert info.patches[0].tolist() == [0, 1, 2, 3, 6, 7, 8, 9]
    assert info.patches[3].tolist() == [8, 9, 10, 11, 14, 15, 16, 17]


def test_patch_layer_def_2_1():
    patches = ((0, 1), (1, 2), (3, 0))
    for bias, extra in (("neuron", 6), ("filter", 2), ("none", 0)):
        arch = Architecture((4, 1), (PatchLayer(patches, 2, bias=bias), Output(1)))
        info = arch.layer(1)
        assert (info.kind, info.n, info.P, info.l, info.T) == ("patch", 6, 3, 2, 2)
        assert info.num_params == 2 * 2 + extra
        assert info.patches.tolist() == [[0, 1], [1, 2], [3, 0]]
        assert arch.flags == ()
    uncovered = Architecture((4, 1), (PatchLayer(((0, 1), (1, 2)), 2), Output(1)))
    assert uncovered.flags == ("layer 1: patches do not cover layer 0; Assumption 2.4 depends on "
                               "U_1's generic rank",)


def test_maxpool_windows_def_2_3():
    arch = Architecture((4, 4, 2), (MaxPool((2, 2)), Output(1)))
    info = arch.layer(1)
    assert info.out_shape == (2, 2, 2) and (info.n, info.P, info.l, info.T, info.num_params) == (8, 8, 4, 0, 0)
    # patch (position 0, channel 1) is the top-left window of channel 1
    assert info.patches[1].tolist() == [1, 3, 9, 11]
    overlapping = Architecture((5, 1), (MaxPool((3,), stride=1), Output(1)))
    assert overlapping.widths == (5, 3, 1)
    assert overlapping.layer(1).patches.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_patch_maxpool_def_2_3():
    arch = Architecture((5, 1), (PatchMaxPool(((0, 1), (2, 3), (3, 4))), Output(1)))
    info = arch.layer(1)
    assert (info.kind, info.n, info.P, info.l, info.num_params) == ("maxpool", 3, 3, 2, 0)


def test_dense_and_output():
    arch = Architecture((3, 2), (Dense(5, "relu"), Output(4)))
    d, o = arch.info
    assert (d.n, d.P, d.l, d.T, d.num_params, d.activation) == (5, 1, 6, 5, 6 * 5 + 5, "relu")
    assert (o.n, o.P, o.l, o.T, o.num_params, o.activation) == (4, 1, 5, 4, 5 * 4 + 4, None)
    assert d.has_weights and o.has_weights and not Architecture((4, 1), (MaxPool((2,)), Output(1))).layer(1).has_weights


# ---- Figure 1, wide layers, Assumption 4.1 ---------------------------------------------------------


def test_figure1_widths_are_computed():
    arch = figure1()
    assert arch.widths == (784, 67600, 16900, 2880, 720, 100, 10)
    assert named("figure1") == arch
    # computed from the spec (filters, kernels, pools), not typed: no width appears as a number in it
    numbers = {v for layer in arch.layers for v in jax.tree_util.tree_leaves(dataclasses.astuple(layer))
               if isinstance(v, int)}
    assert not numbers & {67600, 16900, 2880, 720}
    assert arch.wide_layers(60000) == (1,)
    assert arch.wide_layers(67601) == ()
    assert not arch.assumption_4_1(1, 60000)  # it has max-pooling
    assert figure1("softplus(2)").layer(1).activation == "softplus(2)"


def test_wide_layers():
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3)), Dense(20), Dense(70), Output(3)))
    assert arch.widths == (36, 64, 20, 70, 3)
    assert arch.wide_layers(20) == (1, 2, 3)
    assert arch.wide_layers(21) == (1, 3)
    assert arch.wide_layers(65) == (3,)
    assert arch.wide_layers(71) == ()  # the output layer is never "wide"


def _net(act1="sigmoid", act2="softplus", widths=(20, 10), pool=False):
    layers = [Conv(4, (3, 3), activation=act1)] + ([MaxPool((2, 2), stride=1)] if pool else [])
    layers += [Dense(w, activation=act2 if i == 0 else "sigmoid") for i, w in enumerate(widths)]
    return Architecture((6, 6, 1), (*layers, Output(3)))


def _failed(report):
    return [name for name, ok in report.parts if not ok]


def test_assumption_4_1_holds():
    report = _net().assumption_4_1(1, 50)
    assert report.holds and bool(report) and report.reasons == ()
    assert report.to_dict()["holds"] is True and all(report.to_dict()["parts"].values())


@pytest.mark.parametrize("arch, N, part, reason", [
    (_net(pool=True), 30, "no max-pooling", r"max-pooling at layer\(s\) \[2\]"),
    (_net(), 65, "n_k >= N", "n_1 = 64 < N = 65"),
    (_net(act1="tanh"), 50, "hidden activations satisfy 3.2", r"layer\(s\) \[1\] violates Assumption 3.2"),
    (_net(act2="gelu"), 50, "strictly monotone", r"layer\(s\) \[2\] is not strictly monotone and differentiable"),
    (_net(act2="relu"), 50, "strictly monotone", r"layer\(s\) \[2\] is not strictly monotone"),
    (_net(widths=(5, 10)), 50, "pyramidal after layer k", "widths grow after the wide layer at layer\\(s\\) 2→3"),
], ids=["maxpool", "narrow", "tanh", "gelu-after-wide", "relu-after-wide", "not-pyramidal"])
def test_assumption_4_1_each_part_broken_once(arch, N, part, reason):
    report = arch.assumption_4_1(1, N)
    assert not report.holds
    failed = _failed(report)
    assert len(failed) == 1 and part in failed[0], failed
    assert len(report.reasons) == 1
    assert re.search(reason, report.reasons[0]), report.reasons


def test_assumption_4_1_k_and_activation_before_wide_layer():
    # a non-monotone activation before (or at) the wide layer is allowed: only σ_{k+1..L-1} must be monotone
    assert _net(act1="gelu").assumption_4_1(1, 50).holds
    arch = _net()
    assert "k is hidden" in _failed(arch.assumption_4_1(arch.L, 2))[0]
    with pytest.raises(ValueError, match=r"`k`=0 is not a layer of this network; expected an integer in \[1, 4\]"):
        arch.assumption_4_1(0, 2)


# ---- errors: layer, field, value and fix -------------------------------------------------------------


@pytest.mark.parametrize("build, match", [
    (lambda: Conv(0, (3,)), r"Conv: `filters` must be positive, got 0\. Use filters >= 1"),
    (lambda: Conv(2, (0, 3)), r"Conv: `kernel` must be positive, got \(0, 3\)\. Use sizes >= 1"),
    (lambda: Conv(2, (3,), stride=-1), r"Conv: `stride` must be positive, got \(-1,\)"),
    (lambda: Conv(2, (3,), dilation=0), r"Conv: `dilation` must be positive, got \(0,\)"),
    (lambda: Conv(2, (3, 3, 3)), r"Conv: `kernel` must have 1 or 2 entries"),
    (lambda: Conv(2, (3, 3), stride=(1,)), r"Conv: `stride`=\(1,\) has 1 entries but `kernel` has 2; .*stride=\(1, 1\)"),
    (lambda: Conv(2, (3,), dilation=(1, 2)), r"Conv: `dilation`=\(1, 2\) has 2 entries but `kernel` has 1"),
    (lambda: Conv(2, (3,), padding="FULL"), r"Conv: `padding`='FULL' is unknown; expected 'VALID', 'SAME' or explicit"),
    (lambda: Conv(2, (3,), padding=((1, -1),)), r"Conv: explicit `padding`=\(\(1, -1\),\) needs one non-negative"),
    (lambda: Conv(2, (3, 3), padding=((1, 1),)), r"explicit `padding`=.* pair per spatial dimension \(2\)"),
    (lambda: Conv(2, (3,), padding=1), r"Conv: explicit `padding`=1 needs one non-negative \(lo, hi\) pair"),
    (lambda: Conv(2, (3,), bias="channel"), r"Conv: `bias`='channel' is unknown; expected 'neuron'"),
    (lambda: Conv(2, (3,), activation="swish"), r"Conv: `activation`='swish' is unknown\. Known activations: .*gelu"),
    (lambda: Dense(3, activation="swish"), r"Dense: `activation`='swish' is unknown"),
    (lambda: PatchLayer(((0, 1),), 1, activation="swish"), r"PatchLayer: `activation`='swish' is unknown"),
    (lambda: Dense(0), r"Dense: `width` must be positive, got 0\. Use width >= 1"),
    (lambda: Output(-2), r"Output: `width` must be positive, got -2\. Use width >= 1"),
    (lambda: MaxPool((0, 2)), r"MaxPool: `window` must be positive, got \(0, 2\)"),
    (lambda: MaxPool((2, 2), stride=(1,)), r"MaxPool: `stride`=\(1,\) has 1 entries but `window` has 2"),
    (lambda: PatchLayer(((0, 1), (2, 3), (1, 0)), 2),
     r"PatchLayer: `patches` 0 and 2 are the same set \[0, 1\]; Def\. 2\.1 needs distinct patches\. Remove"),
    (lambda: PatchLayer(((0, 1), (2,)), 2), r"PatchLayer: `patches` must be .* one common non-zero length, got lengths \[1, 2\]"),
    (lambda: PatchLayer(((0, 1),), 0), r"PatchLayer: `filters` must be positive, got 0\. Use filters >= 1"),
    (lambda: PatchLayer(((0, 1),), 1, bias="x"), r"PatchLayer: `bias`='x' is unknown"),
    (lambda: PatchMaxPool(((2, 3), (3, 2))), r"PatchMaxPool: `patches` 0 and 1 are the same set \[2, 3\]; .*Remove"),
    (lambda: PatchMaxPool(()), r"PatchMaxPool: `patches` must be non-empty"),
])
def test_impossible_layer_specs(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("input_shape, layers, match", [
    ((4, 1), (Conv(2, (5,)), Output(1)),
     r"layer 1 \(Conv\): `kernel`=\(5,\) \(extent 5 with dilation 1\) is larger than its padded input 4 .*"
     r"Use a smaller kernel, padding='SAME'"),
    ((5, 1), (Conv(2, (3,), dilation=3), Output(1)), r"layer 1 \(Conv\): `kernel`=\(3,\) \(extent 7 with dilation 3\)"),
    ((6, 6, 1), (Conv(2, (3, 3)), Conv(2, (5, 1)), Output(1)), r"layer 2 \(Conv\): .* along dim 0 \(input shape \(4, 4, 2\)\)"),
    ((4, 1), (Output(2), Dense(3), Output(1)),
     r"layer 1 \(Output\): the linear output layer must be last, but 2 layer\(s\) follow it\. Move Output"),
    ((4, 1), (Dense(3),), r"the last layer must be Output .* got Dense\. Append Output\(m\)"),
    ((4, 1), (), r"`layers` is empty; add at least an Output layer"),
    ((0, 1), (Output(1),), r"`input_shape` must be non-empty positive sizes, got \(0, 1\)"),
    ((4, 1), (Conv(2, (3, 3)), Output(1)), r"layer 1 \(Conv\): `kernel`=\(3, 3\) is 2-D but its input has shape \(4, 1\)"),
    ((4,), (Conv(2, (3,)), Output(1)), r"layer 1 \(Conv\): input shape \(4,\) has no channel axis"),
    ((4, 1), (Dense(3), Conv(2, (2,)), Output(1)), r"layer 2 \(Conv\): input shape \(3,\) has no channel axis"),
    ((4, 1), (PatchLayer(((0, 4),), 1), Output(1)),
     r"layer 1 \(PatchLayer\): `patches` index 4 is outside layer 0, which has 4 neurons\. Use indices in \[0, 3\]"),
    ((4, 1), (PatchLayer(((0, -1),), 1), Output(1)), r"`patches` index -1 is outside layer 0"),
    ((4, 1), (PatchMaxPool(((0, 9),)), Output(1)), r"layer 1 \(PatchMaxPool\): `patches` index 9 is outside"),
    ((3, 1), (MaxPool((4,)), Output(1)), r"layer 1 \(MaxPool\): `window`=\(4,\) is larger than its input"),
    ((3, 3, 1), (MaxPool((2,)), Output(1)), r"layer 1 \(MaxPool\): `window`=\(2,\) does not match input shape"),
    ((3, 1), ("conv", Output(1)), r"layer 1: unknown layer spec 'conv'; use Conv, PatchLayer"),
], ids=lambda x: None)
def test_impossible_architectures(input_shape, layers, match):
    with pytest.raises(ValueError, match=match):
        Architecture(input_shape, layers)


def test_layer_index_and_name_errors():
    arch = _net()
    with pytest.raises(ValueError, match=r"`k`=5 is not a layer of this network; expected an integer in \[1, 4\]"):
        arch.layer(5)
    with pytest.raises(ValueError, match=r"`k`=1.0 is not a layer"):
        arch.width(1.0)
    with pytest.raises(ValueError, match=r"`name`='vgg99' is not a named architecture; choose one of .*figure1"):
        named("vgg99")


# ---- flags, normalisation, frozen and hashable -------------------------------------------------------


def test_strided_conv_that_misses_inputs_is_allowed_and_flagged():
    arch = Architecture((7, 1), (Conv(2, (2,), stride=3), Output(1)))
    assert arch.widths == (7, 4, 1)
    assert arch.layer(1).patches.tolist() == [[0, 1], [3, 4]]  # neurons 2, 5, 6 unread
    assert not arch.layer(1).covers_input
    assert arch.flags == ("layer 1: patches do not cover layer 0; Assumption 2.4 depends on "
                          "U_1's generic rank",)
    # the same stride with a covering kernel is not flagged
    assert Architecture((7, 1), (Conv(2, (3,), stride=3, padding="SAME"), Output(1))).flags == ()
    # zero padding can make two patches read the same neurons
    twin = Architecture((1, 1), (Conv(1, (2,), padding=((1, 1),)), Output(1)))
    assert twin.flags == ("layer 1: two patches read the same neurons; Assumption 2.4 depends on "
                          "U_1's generic rank",)


def test_spec_normalisation():
    c = Conv(2, 3, stride=2, padding="same")
    assert (c.kernel, c.stride, c.dilation, c.padding) == ((3,), (2,), (1,), "SAME")
    c2 = Conv(2, (3, 3), stride=2, padding=[[1, 0], [0, 1]])
    assert (c2.stride, c2.padding) == ((2, 2), ((1, 0), (0, 1)))
    assert MaxPool((2, 3)).stride == (2, 3)
    assert PatchLayer([[0, 1], [1, 2]], 1).patches == ((0, 1), (1, 2))
    assert Architecture([6, 1], [Conv(1, (2,)), Output(1)]).input_shape == (6, 1)


def test_specs_are_frozen_hashable_and_picklable():
    c = Conv(2, (3,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.filters = 3
    a1 = Architecture((6, 1), (Conv(2, (3,)), PatchMaxPool(((0, 1), (2, 3))), Dense(3), Output(1)))
    a2 = Architecture((6, 1), (Conv(2, (3,)), PatchMaxPool(((0, 1), (2, 3))), Dense(3), Output(1)))
    assert a1 == a2 and hash(a1) == hash(a2) and len({a1, a2}) == 1
    assert a1 != a1.replace(input_shape=(7, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a1.layers = ()
    hash(a1.layer(1))
    b = pickle.loads(pickle.dumps(a1))
    assert b == a1 and b.widths == a1.widths
    # hashable means usable as a static jit argument
    f = jax.jit(lambda arch, x: x * arch.d, static_argnums=0)
    assert float(f(a1, jnp.float64(2.0))) == 12.0


def test_describe_lists_every_layer():
    text = figure1().describe()
    assert text.splitlines()[0] == "input (28, 28, 1): n_0 = 784"
    assert "layer 1 conv    out (26, 26, 100): n_1 = 67600, P=676, l=9, T=100, params 68500" in text
    assert len(text.splitlines()) == 7
