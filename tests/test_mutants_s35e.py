"""Session 35 mutation pass over ``zoo/enet``, ``zoo/inception`` (Inception V3, V4 and Xception),
``commands/options`` and ``commands/widths`` (``theory-lab widths``).

Each test names the ``s35e-*`` mutant of ``tools/plant_bugs.py`` it kills. References are independent of
the code under test: the layer tables and figures of the papers and of the reference releases the module
docstrings cite (ENet: Paszke et al. 2016, Table 1 and §3, Torch release ``e-lab/ENet-training``; Inception
V3/V4: tf-slim and Szegedy et al. 2017, Table 1; Xception: Chollet 2017, Fig. 5 and Keras), output sizes
worked by hand, ``lax.conv_general_dilated`` / ``lax.reduce_window`` shapes, and the commands' documented
options and output (the counting convention of :mod:`theory_lab.zoo.graph`, the paper's Table 1).
"""

from __future__ import annotations

import functools
import json
import re

import jax
import jax.numpy as jnp
import pytest
from jax import lax
from typer.testing import CliRunner

from theory_lab.cli import app
from theory_lab.commands import options
from theory_lab.zoo import network
from theory_lab.zoo.enet import enet
from theory_lab.zoo.inception import inception_v3, inception_v4
from theory_lab.zoo.ops import Conv, Pool

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _op(net, name):
    return next(node.op for node in net.nodes if node.name == name)


# ----------------------------------------------------------------------------- enet


def test_enet_every_bottleneck_projects_to_a_quarter_of_its_output():
    """Paszke et al. 2016, §3 and the Torch release: a bottleneck's projection reduces to ``output / 4``
    channels, in the decoder too. Decoder by hand: bottleneck4.0 reads 64×64×128 (bottleneck3.8) and projects to
    64 / 4 = 16; its 3×3/2 full convolution (pad 1, output padding 1) gives (64 − 1)·2 − 2 + 2 + 1 + 1 = 128;
    bottleneck5.0 reads 128×128×64 and projects to 16 / 4 = 4, upsampled to 256.
    Kills ``s35e-enet-decoder-internal-half`` (the decoder's projections at output/2: every block output the same)."""
    net = network("enet")
    blocks = ([(f"bottleneck1.{i}", 64) for i in range(5)] + [(f"bottleneck{s}.{i}", 128) for s in (2, 3)
                                                             for i in range(9) if (s, i) != (3, 0)]
              + [("bottleneck4.0", 64), ("bottleneck4.1", 64), ("bottleneck4.2", 64), ("bottleneck5.0", 16),
                 ("bottleneck5.1", 16)])
    assert len(blocks) == 5 + 9 + 8 + 3 + 2  # Table 1: 1.0–1.4, 2.0–2.8, 3.1–3.8, 4.0–4.2, 5.0–5.1
    for name, out in blocks:
        assert net.shape(f"{name}/projection")[2] == out // 4, name
        assert net.shape(name)[2] == out, name
    assert net.shape("bottleneck4.0/projection") == (64, 64, 16)
    assert net.shape("bottleneck4.0/fullconv") == (128, 128, 16)
    assert net.shape("bottleneck5.0/projection") == (128, 128, 4)
    assert net.shape("bottleneck5.0/fullconv") == (256, 256, 4)


@pytest.mark.parametrize("height, width", [(100, 512), (512, 100)])
def test_enet_refuses_a_size_not_divisible_by_8_along_either_axis(height, width):
    """Documented: both sizes must be divisible by 8 (three halvings undone by unpooling). 100 = 8·12 + 4.
    Kills ``s35e-enet-size-check-and`` (refused only when both fail; 100×512 then broke later, at an addition
    of a 24-row and a 25-row map, with a message about the add, not the input size)."""
    with pytest.raises(ValueError, match=re.escape(f"enet: input {height}×{width} must have both sizes divisible "
                                                   "by 8")):
        enet(height, width)


@pytest.mark.parametrize("kwargs, arg, shown", [
    ({"classes": 0}, "classes", "0"), ({"classes": True}, "classes", "True"), ({"height": 512.0}, "height", "512.0"),
    ({"width": -8}, "width", "-8"), ({"height": True}, "height", "True")])
def test_enet_bad_sizes_and_classes_name_the_argument(kwargs, arg, shown):
    """Library fix (s35e). Before: ``classes=0`` or ``True`` failed in the classifier as "conv transpose 'fullconv':
    `filters`=0 must be a positive int"; ``height=512.0`` and ``width=-8`` as the builder's "`input_shape`=(…)
    must be (H, W, C) with positive ints"; ``height=True`` as "input True×512 must have both sizes divisible by 8"
    (a bool read as the size 1). None named the argument of ``enet``."""
    with pytest.raises(ValueError, match=rf"enet: `{arg}`={re.escape(shown)} must be a positive int"):
        enet(**kwargs)


def test_enet_sizes_are_named_width_by_height():
    """The table's keys follow the data sets' W×H (Cityscapes at 1024×512, CamVid at 480×360): the network
    built at height 512, width 1024 is ``enet-1024x512``, as its entry (and ``widths --network``'s title).
    Kills ``s35e-enet-tag-height-first`` (named enet-512x1024: the entry's key and its network's name differ)."""
    assert enet().name == "enet"
    assert enet(512, 1024).name == "enet-1024x512" and enet(360, 480).name == "enet-480x360"
    for key in ("enet", "enet-1024x512", "enet-480x360"):
        assert network(key).name == key
    res = runner.invoke(app, ["widths", "--network", "enet-1024x512"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "ENet (enet-1024x512): input 512×1024×3 (H×W×C)" in res.output


def test_enet_final_full_convolution_is_2x2_stride_2():
    """The module docstring and the Torch release: the classifier is a 2×2/2 transposed convolution without
    padding; (256 − 1)·2 + (2 − 1) + 1 = 512. Kills ``s35e-enet-final-fullconv-3x3`` (the decoder's 3×3/2 with
    pad 1 and output padding 1 also gives 512, so no shape changed)."""
    net = network("enet")
    op = _op(net, "fullconv")
    assert (op.kernel, op.stride, op.padding, op.output_padding) == ((2, 2), (2, 2), ((0, 0), (0, 0)), (0, 0))
    assert net.shape("fullconv") == ((256 - 1) * 2 + 2, (256 - 1) * 2 + 2, 19)
    assert net.outputs == ("fullconv",)


# ----------------------------------------------------------------------------- inception v3 / v4


def test_inception_v3_branch_channels_from_tf_slim():
    """tf-slim's ``inception_v3``: Mixed_5b–5d's branch 1 is 1×1 48 → 5×5 64, branch 2 1×1 64 → 3×3 96 → 3×3 96;
    Mixed_7b/7c's branch 1 starts 1×1 384, branch 2 1×1 448 → 3×3 384, each then split 1×3 ‖ 3×1 of 384.
    Kills ``s35e-v3-mixed5-b1-64`` and ``s35e-v3-mixed7-b2-384`` (module outputs unchanged: 256/288, 2048)."""
    net = network("inception-v3")
    for m in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        assert net.shape(f"{m}/b1/0_1x1") == (35, 35, 48)
        assert net.shape(f"{m}/b1/1_5x5") == (35, 35, 64)
        assert [net.shape(f"{m}/b2/{i}")[2] for i in ("0_1x1", "1_3x3", "2_3x3")] == [64, 96, 96]
    for m in ("Mixed_7b", "Mixed_7c"):
        assert net.shape(f"{m}/b1_1x1") == (8, 8, 384)
        assert net.shape(f"{m}/b2/0_1x1") == (8, 8, 448)
        assert net.shape(f"{m}/b2/1_3x3") == (8, 8, 384)
        assert net.shape(f"{m}/b1") == net.shape(f"{m}/b2") == (8, 8, 768)
        assert net.shape(m) == (8, 8, 320 + 768 + 768 + 192)


def test_inception_v4_reduction_a_uses_table_1s_k_l_m_n():
    """Szegedy et al. 2017, Table 1: Inception-v4's Reduction-A has k, l, m, n = 192, 224, 256, 384 (Fig. 7:
    n is the 3×3/2 conv; k → l → m the 1×1, 3×3, 3×3/2 chain). 35 → (35 − 3)//2 + 1 = 17.
    Kills ``s35e-v4-reduction-a-l-192`` (l = 192: the module output is 17×17×1024 either way)."""
    net = network("inception-v4")
    assert net.shape("Mixed_6a/b0_3x3") == (17, 17, 384)
    assert [net.shape(f"Mixed_6a/b1/{i}") for i in ("0_1x1", "1_3x3", "2_3x3")] == [
        (35, 35, 192), (35, 35, 224), (17, 17, 256)]
    assert net.shape("Mixed_6a") == (17, 17, 384 + 256 + 384)


@pytest.mark.parametrize("key, modules", [("inception-v3", 3 + 4 + 2), ("inception-v4", 4 + 7 + 3)])
def test_inception_pool_branches_average_and_reductions_max_pool(key, modules):
    """Every inception module's fourth branch is a 3×3/1 SAME *average* pool then a 1×1 conv (Szegedy et al.
    2016, Figs. 5–7; 2017, Figs. 4–6; tf-slim); the reduction modules max-pool 3×3/2 VALID.
    Kills ``s35e-pool-branch-max`` (max pools: same shapes, same widths)."""
    net = network(key)
    pools = [x for x in net.layers if x.name.endswith("/b3/AvgPool")]
    assert len(pools) == modules
    for x in pools:
        op = _op(net, x.name)
        assert (x.kind, op.window, op.stride, op.padding) == ("avg pool", (3, 3), (1, 1), "same"), x.name
        assert x.shape == net.shape(x.inputs[0])
    for name in ("Mixed_6a/b2_MaxPool", "Mixed_7a/b2_MaxPool"):
        op = _op(net, name)
        assert (op.op, op.window, op.stride, op.padding) == ("max", (3, 3), (2, 2), "valid")


@pytest.mark.parametrize("build, wide_input", [(inception_v3, ("Mixed_6e", (17, 17, 768))),
                                               (inception_v4, ("Mixed_6h", (17, 17, 1024)))], ids=["v3", "v4"])
def test_inception_builds_its_auxiliary_head_by_default(build, wide_input):
    """Both functions document "with AuxLogits if ``aux``", default True (tf-slim's ``create_aux_logits``): the
    head reads the last 17×17 module; 5×5/3 VALID average pool (17 − 5)//3 + 1 = 5, 1×1 conv 128, 5×5 VALID
    conv 768 → 1×1, FC-1000 — a second output. ``aux=False`` drops it.
    Kills ``s35e-v4-aux-default-off`` (no head by default, so no width changes: outputs are excluded)."""
    source, shape = wide_input
    net = build()
    assert set(net.outputs) == {"AuxLogits/Logits", "Logits"}
    assert {x.name: x.inputs for x in net.layers}["AuxLogits/AvgPool_1a_5x5"] == (source,)
    assert net.shape(source) == shape
    assert net.shape("AuxLogits/AvgPool_1a_5x5") == (5, 5, shape[2])
    assert net.shape("AuxLogits/Conv2d_1b_1x1") == (5, 5, 128)
    assert net.shape("AuxLogits/Conv2d_2a_5x5") == (1, 1, 768)
    assert net.shape("AuxLogits/Logits") == (1, 1, 1000)
    plain = build(aux=False)
    assert plain.outputs == ("Logits",) and not [x for x in plain.layers if x.name.startswith("AuxLogits")]


# ----------------------------------------------------------------------------- xception


def test_xception_exit_flow_and_block_pools_from_fig_5():
    """Chollet 2017, Fig. 5 (Keras): the exit flow's separable convs have 1536 then 2048 filters on 10×10;
    every strided block ends in a 3×3/2 SAME max pool beside a 1×1/2 conv shortcut.
    Kills ``s35e-xception-exit-1024`` (block14_sepconv1 with 1024 filters) and ``s35e-xception-pool-2x2``
    (2×2/2 SAME pools: ⌈n/2⌉ either way, so every shape is the same)."""
    net = network("xception")
    assert net.shape("block14_sepconv1/depthwise") == (10, 10, 1024)
    assert net.shape("block14_sepconv1/pointwise") == (10, 10, 1536)
    assert net.shape("block14_sepconv2/depthwise") == (10, 10, 1536)
    assert net.shape("block14_sepconv2/pointwise") == (10, 10, 2048)
    for block, size in ((2, 74), (3, 37), (4, 19), (13, 10)):  # ⌈147/2⌉, ⌈74/2⌉, ⌈37/2⌉, ⌈19/2⌉
        pool, shortcut = _op(net, f"block{block}_pool"), _op(net, f"block{block}_shortcut")
        assert (pool.op, pool.window, pool.stride, pool.padding) == ("max", (3, 3), (2, 2), "same")
        assert (shortcut.kernel, shortcut.stride) == ((1, 1), (2, 2))
        assert net.shape(f"block{block}_pool")[:2] == net.shape(f"block{block}_shortcut")[:2] == (size, size)


# ----------------------------------------------------------------------------- all three against lax


@functools.cache
def _lax_shape(op, shape):
    """Output (H, W, C) of ``op`` on one ``shape`` map by ``lax.conv_general_dilated`` / ``lax.reduce_window``."""
    x = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    pad = op.padding.upper() if isinstance(op.padding, str) else op.padding
    if isinstance(op, Conv):
        w = jax.ShapeDtypeStruct((*op.kernel, shape[2] // op.groups, op.filters), jnp.float32)
        out = jax.eval_shape(lambda x, w: lax.conv_general_dilated(
            x, w, op.stride, pad, rhs_dilation=op.dilation, dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=op.groups), x, w)
    else:
        pads = pad if isinstance(pad, str) else ((0, 0), *pad, (0, 0))
        out = jax.eval_shape(lambda x: lax.reduce_window(x, 0.0, lax.add, (1, *op.window, 1), (1, *op.stride, 1),
                                                         pads), x)
    return tuple(out.shape[1:])


@pytest.mark.parametrize("key", ["inception-v3", "inception-v4", "xception", "enet"])
def test_every_convolution_and_pool_has_the_shape_lax_gives(key):
    """An independent shape inference: each conv (depthwise, dilated, asymmetric 1×7 / 5×1, explicit or SAME /
    VALID padding) and each floor-mode pool of the network, run through ``lax`` on its input's shape."""
    net = network(key)
    seen = 0
    for node in net.nodes:
        if isinstance(node.op, Conv) or (isinstance(node.op, Pool) and not node.op.ceil_mode):
            assert net.shape(node.name) == _lax_shape(node.op, net.shape(node.inputs[0])), node.name
            seen += 1
    assert seen > 50


# ----------------------------------------------------------------------------- commands/options


def test_an_output_several_new_folders_deep_is_accepted(tmp_path):
    """``out_dir`` / ``out_file``: a folder that "can be created" is one whose nearest existing ancestor is a
    writable folder, however many levels are missing; validating creates nothing.
    Kills ``s35e-options-parent-one-level`` (a/b/c under tmp refused: "'…/a/b' is a file, not a folder")."""
    deep = tmp_path / "a" / "b" / "c"
    assert options.out_dir(deep) == deep
    assert options.out_file(deep / "w.json", "--json") == deep / "w.json"
    assert not (tmp_path / "a").exists()
    res = runner.invoke(app, ["widths", "--network", "figure1", "--json", str(deep / "w.json")], env=WIDE)
    assert res.exit_code == 0, res.output
    assert json.loads((deep / "w.json").read_text())["network"]["name"] == "figure1"
    (tmp_path / "f").write_text("x")  # an existing file two levels up is still refused
    with pytest.raises(Exception, match=r"is a file, not a folder"):
        options.out_dir(tmp_path / "f" / "x" / "y")


# ----------------------------------------------------------------------------- commands/widths


def _row_numbers(output: str) -> list[int]:
    """The ``#`` cells of the layer table (rows whose first cell is a number)."""
    cells = [line.split("│")[1].strip() for line in output.splitlines() if line.startswith("│")]
    return [int(c) for c in cells if c.isdigit()]


def test_widths_numbers_the_layers_only(tmp_path):
    """``widths --network enet``: the ``#`` column numbers the layers 1, 2, …, K; the zero-padding rows of the
    downsampling shortcuts are not layers (graph's counting convention: constants, not neurons), shown dim
    and unnumbered. K = the JSON's layers less its ``pad channels`` ones.
    Kills ``s35e-widths-numbers-count-padding`` (the numbers skipped one after each padding row)."""
    path = tmp_path / "enet.json"
    res = runner.invoke(app, ["widths", "--network", "enet", "--json", str(path)], env=WIDE)
    assert res.exit_code == 0, res.output
    layers = json.loads(path.read_text())["network"]["layers"]
    kinds = [x["kind"] for x in layers]
    assert kinds.count("pad channels") == 2  # bottleneck1.0 (16 → 64) and 2.0 (64 → 128)
    numbers = _row_numbers(res.output)
    assert numbers == list(range(1, len(layers) - 2 + 1))


def test_widths_json_network_max_and_the_papers_rows(tmp_path):
    """``--json`` with ``--network xception``: ``n1`` = 149·149·32 = 710,432 (block1_conv1), ``max_width`` =
    147·147·128 = 2,765,952 (block2_sepconv1's pointwise conv), the largest width among the JSON's own hidden
    layers; ``paper_table1`` holds the paper's Table 1 (THEORY.md): InceptionV3 / V4 700K / 1300K, Xception
    700K / 700K. Kills ``s35e-widths-json-max-is-n1`` and ``s35e-widths-json-paper-swapped``."""
    path = tmp_path / "x.json"
    res = runner.invoke(app, ["widths", "--network", "xception", "--json", str(path)], env=WIDE)
    assert res.exit_code == 0, res.output
    data = json.loads(path.read_text())
    net = data["network"]
    assert net["n1"] == 149 * 149 * 32 == 710_432
    assert (net["max_width"], net["max_at"]) == (147 * 147 * 128, "block2_sepconv1/pointwise")
    assert net["max_width"] == max(x["width"] for x in net["layers"] if x["counted"] and not x["output"])
    paper = data["paper_table1"]
    for family, n1, mx in (("InceptionV3", 700_000, 1_300_000), ("InceptionV4", 700_000, 1_300_000),
                           ("Xception", 700_000, 700_000), ("VGG", 3_000_000, 3_000_000)):
        assert (paper[family]["n1"], paper[family]["max"]) == (n1, mx), family
    row = data["networks"][0]
    assert (row["n1"], row["max_width"], row["paper_n1"], row["paper_max"]) == (710_432, 2_765_952, 700_000, 700_000)
