"""Planted bugs in the zoo (real CNNs as layer graphs), ``validate`` and ``data_strategies`` (s27 audit).

Audited: ``zoo/graph``, ``zoo/ops``, ``zoo/classic``, ``zoo/inception``, ``zoo/enet``, ``zoo/table1``,
``validate``, ``data_strategies``, ``commands/widths``, ``commands/options``. One realistic bug at a time was
planted in a worktree and the tests exercising that module ran (``-x``, one worker, with the module's
doctests; for the zoo also the ``table-1`` / ``figure-1`` checks' tests). 54 mutants: 30 killed by the
existing suite, 24 survived, all 24 killed by the tests below, each run with its bug planted (fails) and
without it (passes); none left, none judged equivalent. Expected values come from the papers and reference
models (layer shapes, channel counts, dilation rates) or from the output-size formulas worked by hand,
never from the code under test.

Two library bugs were found and fixed, with the tests at the end: the zoo's builder raised a bare
ZeroDivisionError for ``groups=0`` and accepted negative groups, ``filters=0`` for a transposed
convolution, bools as sizes (``True`` as 1) and a non-integer channel count; and ``agreement`` decided the
10 % bound in floats, so a width exactly 10 % above the paper's 700K "matched".
"""

import numpy as np
import pytest
from hypothesis import given, settings

from theory_lab import validate
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.data_strategies import datasets
from theory_lab.zoo import Builder, Network, Node, network
from theory_lab.zoo.ops import Conv as ZooConv
from theory_lab.zoo.ops import ConvTranspose
from theory_lab.zoo.table1 import agreement


def _op(net, name):
    return next(node.op for node in net.nodes if node.name == name)


# ----------------------------------------------------------------------------- ops


@pytest.mark.parametrize("padding", [-1, (0, -1), ((1, 0), (0, -2))])
def test_negative_padding_is_refused(padding):
    """Catches ``check_padding`` accepting negative pads (only the type was tested)."""
    b = Builder("t", (8, 8, 3))
    with pytest.raises(ValueError, match=r"`padding`=.* must be non-negative"):
        b.conv(b.input, 4, 3, padding=padding, name="c")


def test_transposed_convolution_output_size_with_dilation_by_hand():
    """PyTorch's ConvTranspose2d: ``out = (n − 1)s − pad_lo − pad_hi + d(k − 1) + output_padding + 1``.

    n = 5, s = 1, no padding, k = 3, d = 2: 4 + 4 + 1 = 9. n = 4, s = 2, pads 1, k = 3, d = 2: 6 − 2 + 4 + 1 = 9.
    Catches the dilation ignored (``k − 1`` for ``d(k − 1)``: 7 and 7)."""
    t = ConvTranspose(1, (3, 3), (1, 1), ((0, 0), (0, 0)), (0, 0), (2, 2))
    assert t.infer("t", [(5, 5, 1)]) == (9, 9, 1)
    t = ConvTranspose(2, (3, 3), (2, 2), ((1, 1), (1, 1)), (0, 0), (2, 2))
    assert t.infer("t", [(4, 4, 1)]) == (9, 9, 2)


def test_transposed_convolution_with_an_empty_output_is_refused():
    """1×1 input, 1×1 kernel, stride 1, top padding 1: ``0 − 1 − 0 + 0 + 0 + 1 = 0`` rows.

    Catches ``size < 0`` for ``size <= 0`` (a 0×1 map accepted)."""
    with pytest.raises(ValueError, match=r"output size 0 along H is not positive"):
        ConvTranspose(1, (1, 1), (1, 1), ((1, 0), (0, 0))).infer("t", [(1, 1, 1)])


def test_max_unpool_refuses_a_map_of_another_spatial_size():
    """Unpooling reuses the pool's indices, so ``x`` must have the pooled map's shape (4×4×4 here).

    Catches only the channels compared (an 8×8×4 map accepted)."""
    b = Builder("t", (8, 8, 4))
    pool = b.max_pool(b.input, 2, name="pool")
    full = b.conv(b.input, 4, 1, name="full")  # 8×8×4
    with pytest.raises(ValueError, match=r"must have the shape of the pooled map \(4, 4, 4\)"):
        b.max_unpool(full, pool, name="unpool")
    assert b.shape(b.max_unpool(b.conv(pool, 4, 1, name="proj"), pool, name="ok")) == (8, 8, 4)


def test_groups_must_divide_the_filters_too():
    """4 input channels, groups 2, 3 filters: each group would need 1.5 filters.

    Catches the check on ``filters % groups`` dropped (only the input channels checked)."""
    b = Builder("t", (8, 8, 4))
    with pytest.raises(ValueError, match=r"`groups`=2 must divide .* `filters` \(3\)"):
        b.conv(b.input, 3, 1, groups=2, name="c")
    assert b.shape(b.conv(b.input, 6, 1, groups=2, name="ok")) == (8, 8, 6)


# ----------------------------------------------------------------------------- graph


def test_depth_is_the_longest_path_so_a_dense_style_concat_is_not_layer_1():
    """input 8×8×3 → a (conv, 8×8×4) → b (conv, 8×8×4); cat = concat(input, b) is 8×8×11 at depth 3.

    Layer 1 is ``a`` alone: ``n_1 = 8·8·4 = 256``. Catches ``min`` for ``max`` over the inputs' depths (the
    concat then sits at depth 1 and ``n_1`` becomes 256 + 704)."""
    b = Builder("t", (8, 8, 3))
    a = b.conv(b.input, 4, 3, padding=1, name="a")
    c = b.concat(b.input, b.conv(a, 4, 3, padding=1, name="b"), name="cat")
    b.dense(b.global_pool(c, name="gap"), 2, name="fc", output=True)
    net = b.build()
    assert [(x.name, x.depth) for x in net.layers] == [("a", 1), ("b", 2), ("cat", 3), ("gap", 4), ("fc", 5)]
    assert net.n1 == 256 and [x.name for x in net.first_layer] == ["a"]


def test_element_wise_nodes_add_no_depth():
    """An input normalisation before the first conv, and a ReLU between two convs, are not layers.

    Catches ``+ 1`` for every node (the first conv then sits at depth 2, layer 1 is empty and ``n_1 = 0``)."""
    b = Builder("t", (6, 6, 1))
    x = b.conv(b.elementwise(b.input, "normalise", name="norm"), 2, 3, name="c1")  # 4×4×2
    x = b.conv(b.elementwise(x, "ReLU", name="relu"), 3, 3, name="c2")  # 2×2×3
    b.dense(x, 2, name="fc", output=True)
    net = b.build()
    assert {x.name: x.depth for x in net.layers} == {"norm": 0, "c1": 1, "relu": 1, "c2": 2, "fc": 3}
    assert net.n1 == 32 and net.max_width == (32, "c1")


def test_a_network_built_directly_refuses_a_repeated_name():
    """Catches ``Network`` (not the builder) letting a second node ``a`` overwrite the first's shape."""
    conv = ZooConv(4, (3, 3))
    with pytest.raises(ValueError, match=r"the name 'a' is already used"):
        Network("direct", (8, 8, 1), (Node("a", conv, ("input",)), Node("a", conv, ("a",))), ("a",))


def test_pooling_stride_defaults_to_the_window():
    """PyTorch and Caffe: a pool's stride defaults to its window. 8×8 with 2×2 → 4×4; 9×9 with 3×3 → 3×3.

    Catches a default stride of 1 (7×7 and 7×7)."""
    b = Builder("t", (9, 9, 2))
    assert b.shape(b.max_pool(b.input, 3, name="p3")) == (3, 3, 2)
    b = Builder("t", (8, 8, 2))
    assert b.shape(b.avg_pool(b.input, 2, name="p2")) == (4, 4, 2)


def test_dense_with_zero_units_is_refused():
    """Catches ``units < 0`` for ``units < 1``."""
    b = Builder("t", (4, 4, 1))
    with pytest.raises(ValueError, match=r"dense 'fc': `units`=0 must be a positive int"):
        b.dense(b.input, 0, name="fc")


# ----------------------------------------------------------------------------- classic


def test_resnet_bottleneck_strides_its_first_1x1_as_the_caffe_release():
    """He et al.'s Caffe ResNet-50: ``res3a_branch2a`` is the 1×1/2 (28×28×128), ``res3a_branch2b`` 3×3/1.

    Catches the stride moved to the 3×3 (torchvision's "v1.5": branch2a would be 56×56×128)."""
    net = network("resnet-50")
    assert net.shape("res2a/branch2a") == (56, 56, 64)
    assert net.shape("res3a/branch2a") == (28, 28, 128) and _op(net, "res3a/branch2a").stride == (2, 2)
    assert net.shape("res4a/branch2a") == (14, 14, 256) and _op(net, "res4a/branch2b").stride == (1, 1)
    assert net.shape("res5a/branch2a") == (7, 7, 512)


def test_vgg_c_has_its_three_1x1_convolutions():
    """Simonyan & Zisserman, Table 1: config C ends blocks 3, 4 and 5 with conv1-256, conv1-512, conv1-512.

    Catches conv3_3 of C typed as a 3×3 (the same widths, so only the kernel shows it)."""
    c, d = network("vgg-c"), network("vgg-d")
    ones = [x.name for x in c.counted_layers if x.kind == "conv" and _op(c, x.name).kernel == (1, 1)]
    assert ones == ["conv3_3", "conv4_3", "conv5_3"]
    assert all(_op(d, x.name).kernel == (3, 3) for x in d.counted_layers if x.kind == "conv")


# Szegedy et al. 2015, Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
_GOOGLENET_TABLE_1 = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def test_googlenet_branch_widths_are_those_of_table_1():
    """Every branch of every inception module at its published size (28, 14, 7) and channel count.

    Catches a typo in a reduce column (4c's #5×5 reduce 24 typed 32), which no module output shows."""
    net = network("googlenet")
    suffixes = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
    for module, channels in _GOOGLENET_TABLE_1.items():
        size = {"3": 28, "4": 14, "5": 7}[module[0]]
        got = tuple(net.shape(f"inception_{module}/{s}") for s in suffixes)
        assert got == tuple((size, size, c) for c in channels), module


def test_googlenet_auxiliary_classifiers_sit_on_4a_and_4d():
    """Szegedy et al. 2015, Fig. 3: the two auxiliary classifiers read inception (4a) and (4d).

    Catches them moved to 4b and 4e (every shape is the same)."""
    net = network("googlenet")
    inputs = {x.name: x.inputs for x in net.layers}
    assert inputs["loss1/ave_pool"] == ("inception_4a/output",)
    assert inputs["loss2/ave_pool"] == ("inception_4d/output",)


# ----------------------------------------------------------------------------- inception


def test_inception_v3_aux_head_shapes_from_tf_slim():
    """tf-slim: a 5×5/3 VALID average pool on 17×17×768 gives 5×5 ((17 − 5)/3 + 1); 1×1 conv 128; a 5×5
    VALID conv 768 gives 1×1. Catches the pool made SAME (6×6)."""
    net = network("inception-v3")
    assert net.shape("AuxLogits/AvgPool_1a_5x5") == (5, 5, 768)
    assert net.shape("AuxLogits/Conv2d_1b_1x1") == (5, 5, 128)
    assert net.shape("AuxLogits/Conv2d_2a_5x5") == (1, 1, 768)


def test_inception_v3_factorised_7x7_widths_from_tf_slim():
    """tf-slim's Mixed_6b–6e: the 7×7 branches start with 128, 160, 160, 192 channels.

    Catches Mixed_6b's 128 typed 160 (the module output is 17×17×768 either way)."""
    net = network("inception-v3")
    for module, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        assert net.shape(f"{module}/b1/0_1x1") == (17, 17, c7)
        assert net.shape(f"{module}/b2/3_7x1") == (17, 17, c7)


def test_xception_exit_block_widths_from_keras():
    """Keras' Xception: block13_sepconv1 has 728 filters, block13_sepconv2 1024 (19×19 before the pool).

    Catches the exit block's first separable conv given 1024 filters."""
    net = network("xception")
    assert net.shape("block13_sepconv1/pointwise") == (19, 19, 728)
    assert net.shape("block13_sepconv2/pointwise") == (19, 19, 1024)


# ----------------------------------------------------------------------------- enet


def test_enet_downsampling_projection_is_a_2x2_stride_2_convolution():
    """Paszke et al. 2016, §3: when downsampling, "the first 1×1 projection is replaced with a 2×2
    convolution with stride 2". Catches it kept 1×1 with stride 2 (same shapes)."""
    net = network("enet")
    for name, shape in (("bottleneck1.0/projection", (128, 128, 16)), ("bottleneck2.0/projection", (64, 64, 32))):
        op = _op(net, name)
        assert (op.kernel, op.stride, net.shape(name)) == ((2, 2), (2, 2), shape)
    assert _op(net, "bottleneck1.1/projection").kernel == (1, 1)


def test_enet_dilation_rates_are_those_of_table_1():
    """ENet's Table 1: bottlenecks x.2, x.4, x.6, x.8 (x = 2, 3) are dilated 2, 4, 8, 16.

    Catches x.8 dilated 8 (padding follows the rate, so every shape is the same)."""
    net = network("enet")
    for stage in (2, 3):
        assert [_op(net, f"bottleneck{stage}.{i}/conv").dilation for i in (2, 4, 6, 8)] == [
            (2, 2), (4, 4), (8, 8), (16, 16)]


def test_enet_asymmetric_convolutions_keep_the_grid():
    """A 5×1 conv padded 2 along H keeps a 64×64 map: 64 + 4 − 5 + 1 = 64 along H, 64 along W.

    Catches the padding put on the wrong axis: 60×68 after the 5×1, back to 64×64 after the 1×5."""
    net = network("enet")
    for stage in (2, 3):
        for i in (3, 7):
            assert net.shape(f"bottleneck{stage}.{i}/conv_5x1") == (64, 64, 32)


# ----------------------------------------------------------------------------- table1


def test_enet_cityscapes_entry_is_512_high_and_1024_wide():
    """Cityscapes is 2048×1024 (width × height), ENet runs it at 1024×512: input (H, W, C) = (512, 1024, 3).

    Catches the builder's (height, width) arguments swapped (every width is the same)."""
    net = network("enet-1024x512")
    assert net.input_shape == (512, 1024, 3) and net.shape("fullconv") == (512, 1024, 19)
    assert network("enet-480x360").input_shape == (360, 480, 3)


def test_aliases_name_the_right_configurations():
    """VGG-11/13/16/19 are configs A, B, D, E (Simonyan & Zisserman, Table 1). Catches vgg19 → D."""
    assert [network(a).name for a in ("vgg11", "vgg13", "vgg16", "vgg19")] == ["vgg-a", "vgg-b", "vgg-d", "vgg-e"]
    assert network("InceptionV1").name == "googlenet" and network("SqueezeNet").name == "squeezenet-1.0"


# ----------------------------------------------------------------------------- validate


def test_is_real_accepts_every_numpy_float():
    """Catches ``np.floating`` dropped: ``np.float64`` subclasses ``float`` and still passes, ``float32`` not."""
    assert validate.is_real(np.float32(0.5)) and validate.is_real(np.float16(2)) and validate.is_real(np.float64(1))
    assert validate.is_integer(np.int32(3)) and not validate.is_integer(np.float32(3))


# ----------------------------------------------------------------------------- data_strategies

_ARCH = Architecture((6, 1), (Conv(2, (3,)), Output(1)))  # layer-1 patches {0,1,2} … {3,4,5}: S, M, S'


def _violation(X) -> str:
    """Which violation made ``X``: a repeated row, or how many rows share an exact value with another."""
    flat = X.reshape(len(X), -1)
    if len({row.tobytes() for row in flat}) < len(flat):
        return "duplicate_sample"
    sharing = {i for i in range(len(flat)) for j in range(len(flat)) if i != j and np.isin(flat[i], flat[j]).any()}
    return {2: "shared_patch", 4: "patchwork"}.get(len(sharing), f"{len(sharing)} rows")


def test_every_violation_is_drawn():
    """Default ``violations``: each of the three appears in 40 derandomised draws (on a Gaussian or uniform
    law no two entries coincide by chance). Catches ``violations[0]`` used instead of a draw."""
    seen = set()

    @settings(max_examples=40, derandomize=True, database=None, deadline=None)
    @given(X=datasets(_ARCH, 6, assumption_3_1=False, laws=("normal", "uniform")))
    def draw(X):
        seen.add(_violation(X))

    draw()
    assert seen == {"duplicate_sample", "shared_patch", "patchwork"}


def _law(X) -> str:
    if X.min() > -1e-4:
        return "digits"  # crops of images in [0, 1] plus 1e-6 noise
    return "uniform" if np.abs(X).max() <= 1 else "normal"


def test_every_law_is_drawn():
    """Default ``laws``: Gaussian, uniform and digit crops all appear in 30 derandomised draws.

    Catches ``laws[0]`` used instead of a draw (every draw Gaussian)."""
    seen = set()

    @settings(max_examples=30, derandomize=True, database=None, deadline=None)
    @given(X=datasets(_ARCH, 8))
    def draw(X):
        seen.add(_law(X))

    draw()
    assert seen == {"normal", "uniform", "digits"}


# ----------------------------------------------------------------------------- library fixes


@pytest.mark.parametrize("make, match", [
    (lambda b: b.conv(b.input, 4, 3, groups=0), r"`groups`=0 must be a positive int"),  # was ZeroDivisionError
    (lambda b: b.conv(b.input, 4, 3, groups=-1), r"`groups`=-1 must be a positive int"),  # was accepted
    (lambda b: b.conv_transpose(b.input, 0, 2, 2), r"`filters`=0 must be a positive int"),  # was (16, 16, 0)
    (lambda b: b.conv(b.input, True, 3), r"`filters`=True must be a positive int"),  # was (6, 6, True)
    (lambda b: b.conv(b.input, 4, True), r"`kernel`=True must be an int >= 1"),
    (lambda b: b.max_pool(b.input, 2, padding=True), r"`padding`=True must be non-negative"),
    (lambda b: b.dense(b.input, True), r"`units`=True must be a positive int"),
    (lambda b: b.pad_channels(b.input, 5.5), r"`channels`=5.5 must be an int"),  # was (8, 8, 5.5)
])
def test_builder_refuses_bad_counts_and_bools(make, match):
    """Library fix (s27): sizes are ints that are not bools (``validate.is_integer``), groups are positive."""
    with pytest.raises(ValueError, match=match):
        make(Builder("bad", (8, 8, 4)))


def test_input_shape_refuses_bools_and_accepts_numpy_ints():
    """Library fix (s27): ``(True, 8, 3)`` was a 1×8×3 network; numpy ints become Python ints."""
    with pytest.raises(ValueError, match=r"must be \(H, W, C\) with positive ints"):
        Builder("bad", (True, 8, 3))
    b = Builder("ok", (np.int64(8), 8, 3))
    assert b.shape(b.conv(b.input, np.int64(4), np.int64(3), name="c")) == (6, 6, 4)
    assert all(type(v) is int for v in b.shape("c"))


def test_agreement_bound_is_exact_at_ten_percent():
    """Library fix (s27): "matches" means ``paper ≤ computed < 1.1·paper``. In floats ``1.1 · 700,000`` is
    770,000.0000000001, so 770,000 (exactly 10 % above the paper's 700K) matched; it is loose.
    Also catches ``<=`` for ``<`` at the bound (1,100,000 against 1,000,000)."""
    assert agreement(770_000, 700_000) == "loose" and agreement(769_999, 700_000) == "matches"
    assert agreement(1_100_000, 1_000_000) == "loose" and agreement(1_099_999, 1_000_000) == "matches"
    assert agreement(700_000, 700_000) == "matches" and agreement(699_999, 700_000) == "below"
