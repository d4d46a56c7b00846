"""Shape inference of real CNNs (theory_lab.zoo): published shapes, the paper's Table 1, clear errors."""

import re

import pytest

from theory_lab import arch
from theory_lab.zoo import IMAGENET_N, Builder, Network, Node, entries, from_architecture, network, table1
from theory_lab.zoo.classic import RESNET_BLOCKS, resnet, squeezenet, vgg
from theory_lab.zoo.enet import enet
from theory_lab.zoo.ops import Conv, ConvTranspose, Pool
from theory_lab.zoo.table1 import agreement


# --- widths every reader can check by hand -------------------------------------------------------

def test_first_layer_widths_by_hand():
    assert network("vgg-d").n1 == 224 * 224 * 64 == 3_211_264
    assert network("resnet-50").width("conv1") == 112 * 112 * 64 == 802_816
    assert network("googlenet").width("conv1/7x7_s2") == 802_816
    assert network("inception-v3").n1 == network("inception-v4").n1 == network("xception").n1 == 149 * 149 * 32
    assert network("squeezenet-1.0").n1 == 111 * 111 * 96 == 1_182_816


@pytest.mark.parametrize("name, node, shape", [
    # He et al. 2016, Table 1 (output sizes 56, 28, 14, 7; 4× expansion in bottlenecks)
    ("resnet-50", "res2c", (56, 56, 256)), ("resnet-50", "res3d", (28, 28, 512)),
    ("resnet-50", "res4f", (14, 14, 1024)), ("resnet-50", "res5c", (7, 7, 2048)),
    ("resnet-18", "res5b", (7, 7, 512)), ("resnet-34", "res4f", (14, 14, 256)),
    ("resnet-101", "res4b22", (14, 14, 1024)), ("resnet-152", "res4b35", (14, 14, 1024)),
    # Szegedy et al. 2015, Table 1
    ("googlenet", "pool1/3x3_s2", (56, 56, 64)), ("googlenet", "conv2/3x3", (56, 56, 192)),
    ("googlenet", "inception_3a/output", (28, 28, 256)), ("googlenet", "inception_3b/output", (28, 28, 480)),
    ("googlenet", "inception_4a/output", (14, 14, 512)), ("googlenet", "inception_4e/output", (14, 14, 832)),
    ("googlenet", "inception_5b/output", (7, 7, 1024)), ("googlenet", "pool5/7x7_s1", (1, 1, 1024)),
    ("googlenet", "loss1/conv", (4, 4, 128)),
    # Inception V3 (tf-slim's documented end points)
    ("inception-v3", "Conv2d_2b_3x3", (147, 147, 64)), ("inception-v3", "Conv2d_4a_3x3", (71, 71, 192)),
    ("inception-v3", "Mixed_5b", (35, 35, 256)), ("inception-v3", "Mixed_5d", (35, 35, 288)),
    ("inception-v3", "Mixed_6e", (17, 17, 768)), ("inception-v3", "Mixed_7a", (8, 8, 1280)),
    ("inception-v3", "Mixed_7c", (8, 8, 2048)),
    # Inception V4 (Szegedy et al. 2017, Figs. 3–9)
    ("inception-v4", "Mixed_3a", (73, 73, 160)), ("inception-v4", "Mixed_4a", (71, 71, 192)),
    ("inception-v4", "Mixed_5e", (35, 35, 384)), ("inception-v4", "Mixed_6h", (17, 17, 1024)),
    ("inception-v4", "Mixed_7d", (8, 8, 1536)),
    # Xception (Chollet 2017, Fig. 5; Keras)
    ("xception", "block1_conv2", (147, 147, 64)), ("xception", "block2_add", (74, 74, 128)),
    ("xception", "block3_add", (37, 37, 256)), ("xception", "block12_add", (19, 19, 728)),
    ("xception", "block13_add", (10, 10, 1024)), ("xception", "block14_sepconv2/pointwise", (10, 10, 2048)),
    # SqueezeNet v1.0 (Iandola et al. 2016, Table 1)
    ("squeezenet-1.0", "pool1", (55, 55, 96)), ("squeezenet-1.0", "fire4/concat", (55, 55, 256)),
    ("squeezenet-1.0", "fire8/concat", (27, 27, 512)), ("squeezenet-1.0", "fire9/concat", (13, 13, 512)),
    ("squeezenet-1.0-224", "fire9/concat", (13, 13, 512)), ("squeezenet-1.0-224", "conv10", (13, 13, 1000)),
    # ENet (Paszke et al. 2016, Table 1, 512×512 input, C = 19)
    ("enet", "initial", (256, 256, 16)), ("enet", "bottleneck1.4", (128, 128, 64)),
    ("enet", "bottleneck2.0", (64, 64, 128)), ("enet", "bottleneck3.8", (64, 64, 128)),
    ("enet", "bottleneck4.2", (128, 128, 64)), ("enet", "bottleneck5.1", (256, 256, 16)),
    ("enet", "fullconv", (512, 512, 19)),
])
def test_published_shapes(name, node, shape):
    assert network(name).shape(node) == shape


@pytest.mark.parametrize("config, depth", [("A", 11), ("B", 13), ("C", 16), ("D", 16), ("E", 19)])
def test_vgg_depth_and_final_maps(config, depth):
    net = vgg(config)
    weighted = [layer for layer in net.counted_layers if layer.kind in ("conv", "dense")]
    assert len(weighted) == depth  # "VGG-16" counts its weight layers
    assert net.shape("pool5") == (7, 7, 512) and net.shape("fc6") == (1, 1, 4096)
    assert net.max_width == (3_211_264, "conv1_1")


def test_vgg_a_lrn_has_the_widths_of_a():
    plain, lrn = vgg("A"), vgg("A", lrn=True)
    assert [x.width for x in lrn.counted_layers] == [x.width for x in plain.counted_layers]
    assert [x.kind for x in lrn.layers if not x.counted] == ["elementwise"]


@pytest.mark.parametrize("depth", sorted(RESNET_BLOCKS))
def test_resnet_depth_counts_weight_layers(depth):
    net = resnet(depth)
    weighted = [x for x in net.counted_layers if x.kind in ("conv", "dense") and not x.name.endswith("/branch1")]
    assert len(weighted) == depth
    assert net.n1 == 802_816 and net.max_width[0] == 802_816


def test_xception_uses_depthwise_convolutions():
    net = network("xception")
    depthwise = [x for x in net.layers if "depthwise" in x.detail]
    assert len(depthwise) == 2 * 3 + 8 * 3 + 2 + 2  # entry 3 blocks × 2, middle 8 × 3, exit 2 + 2
    assert all(x.shape == net.shape(x.inputs[0]) for x in depthwise)  # depthwise keeps the channels
    assert net.max_width == (147 * 147 * 128, "block2_sepconv1/pointwise")


def _weighted_depth(net) -> int:
    """Longest input-to-output path counted in layers with weights (conv, dense)."""
    depth = {"input": 0}
    for layer in net.layers:
        depth[layer.name] = max(depth[i] for i in layer.inputs) + (layer.kind in ("conv", "dense"))
    return max(depth[name] for name in net.outputs)


def test_googlenet_is_22_layers_deep():
    assert _weighted_depth(network("googlenet")) == 22  # Szegedy et al.: "22 layers deep" with parameters


def test_xception_has_36_convolutional_layers():
    # Chollet: "36 convolutional layers forming the feature extraction base"; a separable conv counts once
    net = network("xception")
    convs = [x for x in net.layers if x.kind == "conv" and "depthwise" not in x.detail and "shortcut" not in x.name]
    assert len(convs) == 36


def test_enet_first_layer_is_the_parallel_initial_block():
    net = network("enet")
    assert [x.name for x in net.first_layer] == ["initial/conv", "initial/pool"]
    assert net.first_conv == (256 * 256 * 13, "initial/conv")
    assert net.n1 == net.width("initial") == 1_048_576
    assert net.width("fullconv") > net.max_width[0]  # the per-pixel output is excluded from max_k n_k
    assert not [x for x in net.layers if x.kind == "pad channels" and x.counted]


def test_enet_other_sizes():
    assert enet(360, 480).shape("initial") == (180, 240, 16)
    assert enet(360, 480).shape("fullconv") == (360, 480, 19)
    assert enet(512, 1024, classes=12).shape("fullconv") == (512, 1024, 12)


def test_squeezenet_227_vs_224():
    assert squeezenet().shape("conv10") == (15, 15, 1000)  # Caffe's conv10 has pad: 1
    assert squeezenet(224, conv10_pad=0).n1 == 109 * 109 * 96


# --- two independent shape inferences agree ------------------------------------------------------

@pytest.mark.parametrize("architecture", [
    arch.figure1(),
    arch.Architecture((13, 11, 2), (arch.Conv(3, (3, 2), stride=(2, 1), padding="SAME"), arch.MaxPool((2, 2)),
                                   arch.Conv(4, (2, 2), dilation=2), arch.Dense(5), arch.Output(3))),
    arch.Architecture((7, 7, 1), (arch.Conv(2, (3, 3), padding=((1, 0), (2, 1))), arch.MaxPool((3, 2), stride=1),
                                  arch.Output(2))),
])
def test_from_architecture_matches_arch_widths(architecture):
    net = from_architecture(architecture)
    assert (net.d, *[x.width for x in net.counted_layers]) == architecture.widths


def test_figure1_widths():
    assert [x.width for x in network("figure1").counted_layers] == [67600, 16900, 2880, 720, 100, 10]


def test_from_architecture_rejects_patch_layers():
    a = arch.Architecture((4, 1), (arch.PatchLayer(((0, 1), (2, 3)), 2), arch.Output(2)))
    with pytest.raises(ValueError, match="only 2-D networks convert"):
        from_architecture(a)


# --- window arithmetic of the reference frameworks -----------------------------------------------

def test_ceil_mode_pooling():
    assert Pool("max", (3, 3), (2, 2), ceil_mode=True).infer("p", [(112, 112, 64)])[:2] == (56, 56)
    assert Pool("max", (3, 3), (2, 2)).infer("p", [(112, 112, 64)])[:2] == (55, 55)
    # Caffe/PyTorch drop a last window that would start in the padding: 5 → 3, not 4
    assert Pool("max", (2, 2), (2, 2), ((1, 1), (1, 1)), ceil_mode=True).infer("p", [(5, 5, 1)])[:2] == (3, 3)


def test_tensorflow_same_and_transposed():
    assert Conv(8, (3, 3), (2, 2), "same").infer("c", [(149, 149, 3)]) == (75, 75, 8)
    assert Pool("max", (3, 3), (2, 2), "same").infer("p", [(19, 19, 728)]) == (10, 10, 728)
    assert Conv(8, (1, 7), (1, 1), "same").infer("c", [(17, 17, 3)]) == (17, 17, 8)
    assert ConvTranspose(4, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)).infer("t", [(64, 64, 16)]) == (128, 128, 4)


def test_agreement_rule():
    assert agreement(3_211_264, 3_000_000) == "matches"
    assert agreement(1_182_816, 1_180_000) == "matches"
    assert agreement(1_382_976, 1_300_000) == "matches"
    assert agreement(1_382_976, 1_000_000) == "loose"
    assert agreement(2_765_952, 700_000) == "loose"
    assert agreement(699_999, 700_000) == "below"


# --- the recomputed Table 1 ----------------------------------------------------------------------

def test_table1_covers_every_family_and_flags_each_disagreement():
    rows = table1()
    assert {r.paper for r in rows} == {"VGG(A–E)", "InceptionV3", "InceptionV4", "SqueezeNet", "ENet", "GoogLeNet",
                                       "ResNet", "Xception", "Figure 1"}
    flagged = {r.key: r.status for r in rows if not r.agrees}
    assert flagged == {"squeezenet-1.0-224": "below", "xception": "loose", "enet-1024x512": "loose",
                       "enet-480x360": "below"}
    for r in rows:
        assert (r.note == "") == r.agrees
        assert "unexplained" not in r.note
        assert r.N == (60_000 if r.key == "figure1" else IMAGENET_N)


def test_numbers_quoted_in_notes_are_computed_widths():
    known = {x.width for e in entries() for x in network(e.key).layers} | {network(e.key).n1 for e in entries()}
    for r in table1():
        quoted = {int(m.replace(",", "")) for m in re.findall(r"\d{1,3}(?:,\d{3})+", r.note)}
        assert quoted <= known, (r.key, quoted - known)


def test_which_networks_have_a_layer_wider_than_imagenet():
    wide = {r.key for r in table1() if r.max_wide and r.key != "figure1"}
    assert wide == {"vgg-a", "vgg-a-lrn", "vgg-b", "vgg-c", "vgg-d", "vgg-e", "inception-v3", "inception-v4",
                    "xception", "enet-1024x512"}


def test_network_lookup_is_forgiving_and_errors_are_clear():
    assert network("ResNet50") is network("resnet-50")
    assert network("VGG16").name == "vgg-d"
    with pytest.raises(ValueError, match=r"`network`='alexnet' is unknown; choose one of vgg-a"):
        network("alexnet")


# --- impossible graphs ---------------------------------------------------------------------------

def test_add_with_channel_mismatch():
    b = Builder("bad", (8, 8, 3))
    x = b.conv(b.input, 4, 3, 1, 1, name="a")
    y = b.conv(b.input, 5, 3, 1, 1, name="b")
    with pytest.raises(ValueError, match=r"add 'sum': inputs must have equal shapes.*\(channel mismatch\).*1×1 conv"):
        b.add(x, y, name="sum")


def test_add_with_spatial_mismatch():
    b = Builder("bad", (8, 8, 3))
    x = b.conv(b.input, 4, 3, name="a")
    with pytest.raises(ValueError, match=r"\(shape mismatch\)"):
        b.add(x, b.conv(b.input, 4, 1, name="b"))


def test_concat_with_spatial_mismatch():
    b = Builder("bad", (8, 8, 3))
    x = b.conv(b.input, 4, 3, name="a")  # 6×6
    y = b.conv(b.input, 4, 1, name="b")  # 8×8
    with pytest.raises(ValueError, match=r"concat 'cat': inputs must share their spatial size \(H, W\).*\(6, 6, 4\)"):
        b.concat(x, y, name="cat")


def test_kernel_larger_than_input():
    b = Builder("bad", (5, 5, 3))
    with pytest.raises(ValueError, match=r"conv 'big': `kernel`=\(7, 7\) \(extent 7 along H.*larger than its padded "
                                         r"input 5.*smaller kernel"):
        b.conv(b.input, 8, 7, name="big")
    with pytest.raises(ValueError, match=r"extent 9 along H, dilation 4"):
        b.conv(b.input, 8, 3, dilation=4, name="dilated")
    with pytest.raises(ValueError, match=r"max pool 'p': `kernel`=\(6, 6\)"):
        b.max_pool(b.input, 6, name="p")


@pytest.mark.parametrize("make, match", [
    (lambda b: b.conv("nowhere", 4, 3), r"input\(s\) \['nowhere'\] do not exist yet"),
    (lambda b: b.conv(b.conv(b.input, 4, 1, name="a"), 4, 1, name="a"), r"the name 'a' is already used"),
    (lambda b: b.conv(b.input, 4, 3, padding="full"), r"`padding`='full' is unknown"),
    (lambda b: b.conv(b.input, 0, 3), r"`filters`=0 must be a positive int"),
    (lambda b: b.conv(b.input, 4, 3, groups=2), r"`groups`=2 must divide the input channels \(3\)"),
    (lambda b: b.conv(b.input, 4, (3, 3, 3)), r"`kernel`=\(3, 3, 3\) must be an int >= 1 or a pair"),
    (lambda b: b.concat(b.input), r"concatenation needs at least two inputs"),
    (lambda b: b.max_unpool(b.input, b.avg_pool(b.input, 2)), r"must name a max pool node"),
    (lambda b: b.pad_channels(b.input, 2), r"`channels`=2 is below the input's 3 channels"),
    (lambda b: b.build(), r"no output node; pass output=True"),
])
def test_builder_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make(Builder("bad", (8, 8, 3)))


@pytest.mark.parametrize("make, match", [
    (lambda: Builder("bad", (8, 8)), r"`input_shape`=\(8, 8\) must be \(H, W, C\)"),
    (lambda: vgg("F"), r"`config`='F' is unknown"),
    (lambda: vgg("B", lrn=True), r"`lrn`=True exists only for config 'A'"),
    (lambda: resnet(20), r"`depth`=20 is not a published ResNet"),
    (lambda: enet(100, 100), r"input 100×100 must have both sizes divisible by 8"),
])
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_network_built_directly_is_validated():
    conv = Conv(4, (3, 3))
    net = Network("direct", (8, 8, 1), (Node("a", conv, ("input",)),), ("a",))
    assert net.shape("a") == (6, 6, 4) and net.d == 64
    with pytest.raises(ValueError, match=r"conv 'a': input\(s\) \['b'\] are not defined before it"):
        Network("direct", (8, 8, 1), (Node("a", conv, ("b",)),), ("a",))
    with pytest.raises(ValueError, match=r"`outputs`=\['z'\] must name at least one existing node"):
        Network("direct", (8, 8, 1), (Node("a", conv, ("input",)),), ("z",))
    with pytest.raises(ValueError, match=r"no node named 'q'"):
        net.shape("q")
