"""Session 34 mutation pass over the zoo (``ops``, ``graph``, ``table1``, ``classic``) and ``arch``.

Each test names the ``s34d-*`` mutant of ``tools/plant_bugs.py`` it kills. References are independent of
the code under test: the output-size rule ``(n + 2p − k) // s + 1`` and a brute-force count of the windows
PyTorch/Caffe keep, ``lax.conv_general_dilated`` (shapes and, with one-hot filters, which input each patch
entry reads), the published tables (Iandola et al. 2016, He et al. 2016), and THEORY.md's definitions
(a layer is wide when ``n_k ≥ N``; Assumption 4.1 as stated in §2).
"""

from __future__ import annotations

import importlib
import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.zoo import IMAGENET_N, Builder, Network, Node, network
from theory_lab.zoo.classic import resnet, squeezenet
from theory_lab.zoo.ops import Conv as ZooConv
from theory_lab.zoo.ops import Pool

t1 = importlib.import_module("theory_lab.zoo.table1")  # the module (the package re-exports a function under the name)


# ----------------------------------------------------------------------------- ops: window sizes by hand


def _kept_windows(n: int, k: int, s: int, lo: int, hi: int, ceil_mode: bool) -> int:
    """Brute force over the window starts 0, s, 2s, … (padded coordinates), by the frameworks' rule.

    Floor mode: a window is kept when it fits in the padded input (``start + k ≤ lo + n + hi``). Ceil mode
    (Caffe, PyTorch's ``ceil_mode=True``): also while the padded input still has uncovered rows after the
    previous window (``start − s + k < lo + n + hi``), provided the window starts in the left padding or
    in the input (``start < lo + n``); one that would start in the right padding is ignored.
    """
    total = lo + n + hi
    kept = 0
    for start in range(0, total + s, s):
        fits = start + k <= total
        covers_rest = ceil_mode and start - s + k < total and start < lo + n
        kept += bool(fits or covers_rest)
    return kept


def test_ceil_mode_keeps_a_last_window_that_starts_in_the_input():
    """n = 4, pad 1 each side, 3×3/2 in ceil mode: ``ceil((4 + 2 − 3) / 2) + 1 = 3`` windows start at padded
    positions 0, 2, 4; the last starts at input row 3 (< pad + n = 5), so PyTorch keeps it: 3×3.
    Kills ``s34d-ceil-drop-ignores-pad`` (start 4 ≥ n = 4 dropped: 2×2)."""
    assert Pool("max", (3, 3), (2, 2), ((1, 1), (1, 1)), ceil_mode=True).infer("p", [(4, 4, 2)]) == (3, 3, 2)
    assert _kept_windows(4, 3, 2, 1, 1, True) == 3


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_sizes_against_the_brute_force_window_count(ceil_mode):
    """Every small pool (n ≤ 7, k ≤ 3, s ≤ 3, pads ≤ 1 with pad < k) against the brute-force count.
    Kills ``s34d-ceil-drop-ignores-pad``."""
    for n, k, s, lo, hi in itertools.product(range(1, 8), range(1, 4), range(1, 4), range(2), range(2)):
        if k > n + lo + hi or lo >= k or hi >= k:
            continue
        got = Pool("max", (k, 1), (s, 1), ((lo, hi), (0, 0)), ceil_mode=ceil_mode).infer("p", [(n, 1, 1)])[0]
        assert got == _kept_windows(n, k, s, lo, hi, ceil_mode), (n, k, s, lo, hi, ceil_mode)


def test_brute_force_count_reproduces_the_floor_rule():
    """The reference itself: in floor mode it is ``(n + lo + hi − k) // s + 1``."""
    for n, k, s, lo, hi in itertools.product(range(1, 8), range(1, 4), range(1, 4), range(3), range(3)):
        if k <= n + lo + hi:
            assert _kept_windows(n, k, s, lo, hi, False) == (n + lo + hi - k) // s + 1


def _lax_conv_hw(n: int, k: int, s: int, p: int) -> tuple[int, int]:
    x = jax.ShapeDtypeStruct((1, n, n, 1), jnp.float64)
    w = jax.ShapeDtypeStruct((k, k, 1, 2), jnp.float64)
    out = jax.eval_shape(lambda x, w: lax.conv_general_dilated(x, w, (s, s), [(p, p), (p, p)],
                                                              dimension_numbers=("NHWC", "HWIO", "NHWC")), x, w)
    return out.shape[1], out.shape[2]


def test_padded_conv_sizes_by_hand_and_against_lax():
    """``(n + 2p − k) // s + 1`` for n ≤ 5, k ≤ 5, s ≤ 2, p ≤ 2 whenever ``k ≤ n + 2p`` (also k > n: a 3×3
    pad-1 conv on a 2×2 or 1×1 map keeps its size), against the formula and lax.conv.
    Kills ``s34d-window-check-no-pad`` (such convs refused as "larger than its padded input")."""
    for n, k, s, p in itertools.product(range(1, 6), range(1, 6), range(1, 3), range(3)):
        if k > n + 2 * p:
            with pytest.raises(ValueError, match=r"larger than its padded input"):
                ZooConv(2, (k, k), (s, s), ((p, p), (p, p))).infer("c", [(n, n, 1)])
            continue
        want = (n + 2 * p - k) // s + 1
        assert _lax_conv_hw(n, k, s, p) == (want, want)
        assert ZooConv(2, (k, k), (s, s), ((p, p), (p, p))).infer("c", [(n, n, 1)]) == (want, want, 2)
    b = Builder("tiny", (2, 2, 3))
    assert b.shape(b.conv(b.input, 4, 3, 1, 1, name="c")) == (2, 2, 4)


def test_stride_one_same_conv_keeps_the_spatial_size():
    """Invariance: a stride-1 'same' conv or pool keeps H×W whatever the kernel (even ones too)."""
    for n, k in itertools.product(range(1, 7), range(1, 6)):
        assert ZooConv(3, (k, k), (1, 1), "same").infer("c", [(n, n + 1, 2)]) == (n, n + 1, 3)
        assert Pool("avg", (k, k), (1, 1), "same").infer("p", [(n, n + 1, 2)]) == (n, n + 1, 2)


@pytest.mark.parametrize("shape", [(0, 8, 3), (8, 0, 3), (8, 8, 0)])
def test_a_zero_input_size_is_refused(shape):
    """Kills ``s34d-input-shape-zero`` (a 0×8×3 network accepted, every width 0)."""
    with pytest.raises(ValueError, match=r"`input_shape`=\(.*\) must be \(H, W, C\) with positive ints"):
        Builder("bad", shape)


# ----------------------------------------------------------------------------- graph


def test_a_network_without_outputs_is_refused():
    """``max_k n_k`` runs over the layers that are not outputs: a graph must name its output.
    Kills ``s34d-network-empty-outputs``."""
    with pytest.raises(ValueError, match=r"`outputs`=\[\] must name at least one existing node"):
        Network("direct", (8, 8, 1), (Node("a", ZooConv(4, (3, 3)), ("input",)),), ())


def test_max_width_excludes_the_output_layer():
    """A toy net whose 1×1 output conv (8×8×50 = 3,200) is wider than every hidden layer (8×8×4 = 256):
    max_k n_k is over k ≤ L − 1 (THEORY.md's wide layer is hidden). Kills ``s34d-max-width-includes-outputs``."""
    b = Builder("toy", (8, 8, 1))
    x = b.conv(b.input, 4, 3, 1, 1, name="hidden")
    b.conv(x, 50, 1, name="logits", output=True)
    net = b.build()
    assert net.max_width == (8 * 8 * 4, "hidden")


# ----------------------------------------------------------------------------- table1: "wide" is n_k ≥ N


def test_a_layer_of_exactly_N_neurons_is_wide():
    """VGG-D's n_1 = max_k n_k = 224·224·64 = 3,211,264. With N equal to it the row is wide (n_k ≥ N), with
    N one larger it is not. Kills ``s34d-max-wide-strict``."""
    width = 224 * 224 * 64
    base = t1.entry("vgg-d")
    for N, wide in ((width, True), (width + 1, False)):
        row = t1.compare(t1.Entry(base.key, base.build, base.paper, N=N))
        assert (row.n1, row.max_width) == (width, width)
        assert row.n1_wide is wide and row.max_wide is wide
        assert row.to_dict()["n1_ge_N"] is wide and row.to_dict()["max_ge_N"] is wide


def test_n1_wide_reads_n1_not_the_widest_layer():
    """Inception V3: n_1 = 149·149·32 = 710,432 < N = 1,281,167 but Mixed_5b … are wider; Xception: n_1 the
    same, block2 sepconv 147·147·128 = 2,765,952 ≥ N. Kills ``s34d-n1-wide-reads-max``."""
    rows = {r.key: r for r in t1.table1()}
    for key in ("inception-v3", "xception"):
        assert rows[key].n1 == 149 * 149 * 32 < IMAGENET_N
        assert rows[key].n1_wide is False and rows[key].max_wide is True
    n1_wide = {r.key for r in rows.values() if r.n1_wide and r.key != "figure1"}
    # by hand: VGG's 224·224·64, and ENet at 1024×512 (initial block 256·512·16 = 2,097,152)
    assert n1_wide == {"vgg-a", "vgg-a-lrn", "vgg-b", "vgg-c", "vgg-d", "vgg-e", "enet-1024x512"}


def test_note_ratios_are_width_over_the_paper_number():
    """Each note says "W is R× the paper's BK": R must be W / (B·1000) to two places.
    Kills ``s34d-note-ratio-inverted``."""
    seen = 0
    for r in t1.table1():
        for w, ratio, bound in re.findall(r"= ([\d,]+) is ([\d.]+)× the paper's (\d+)K", r.note):
            assert float(ratio) == pytest.approx(int(w.replace(",", "")) / (int(bound) * 1000), abs=0.005)
            seen += 1
    assert seen >= 4


# ----------------------------------------------------------------------------- classic: the papers' tables


# Iandola et al. 2016, Table 1: fire module (s1×1, e1×1, e3×3) and its output size.
SQUEEZENET_TABLE1 = {2: ((16, 64, 64), 55), 3: ((16, 64, 64), 55), 4: ((32, 128, 128), 55),
                     5: ((32, 128, 128), 27), 6: ((48, 192, 192), 27), 7: ((48, 192, 192), 27),
                     8: ((64, 256, 256), 27), 9: ((64, 256, 256), 13)}


def test_squeezenet_every_fire_module_as_in_table_1():
    """Kills ``s34d-squeezenet-fire6-typo`` (fire6/expand1x1 with 128 filters: fire6 27×27×320, fire8 still
    27×27×512, the widest layer still conv1)."""
    net = squeezenet()
    for fire, ((s1, e1, e3), size) in SQUEEZENET_TABLE1.items():
        assert net.shape(f"fire{fire}/squeeze1x1") == (size, size, s1)
        assert net.shape(f"fire{fire}/expand1x1") == (size, size, e1)
        assert net.shape(f"fire{fire}/expand3x3") == (size, size, e3)
        assert net.shape(f"fire{fire}/concat") == (size, size, e1 + e3)


@pytest.mark.parametrize("depth", [18, 34])
def test_resnet_basic_blocks_downsample_in_their_first_conv(depth):
    """He et al. 2016: "downsampling is performed by conv3_1, conv4_1, and conv5_1 with a stride of 2": the
    first 3×3 of stage s's first block is (56 / 2^(s−2))² × 64·2^(s−2). Kills ``s34d-resnet-basic-stride-on-2b``."""
    net = resnet(depth)
    for stage in (3, 4, 5):
        size, width = 56 // 2 ** (stage - 2), 64 * 2 ** (stage - 2)
        assert net.shape(f"res{stage}a/branch2a") == (size, size, width)
        assert net.shape(f"res{stage}a/branch2b") == (size, size, width)
    assert network(f"resnet-{depth}").shape("res2a/branch2a") == (56, 56, 64)


# ----------------------------------------------------------------------------- arch: patches read by lax


@pytest.mark.parametrize("shape, spec", [
    ((9, 2), Conv(1, (3,), dilation=2)),
    ((9, 1), Conv(1, (2,), stride=2, padding="SAME", dilation=3)),
    ((6, 7, 2), Conv(1, (2, 3), stride=(1, 2), padding=((1, 0), (2, 1)), dilation=(2, 1))),
    ((5, 5, 1), Conv(1, (3, 3), padding="SAME", dilation=2)),
])
def test_conv_patches_are_what_lax_conv_reads(shape, spec):
    """With one-hot filters (filter q picks kernel offset/channel entry q), ``lax.conv_general_dilated`` of an
    input holding 1 … d returns, at output position p, the input each patch entry ``patches[p, q]`` names
    (0 for a padding entry, -1). Kills ``s34d-patches-no-dilation``."""
    arch = Architecture(shape, (spec, Output(1)))
    info = arch.layer(1)
    *spatial, C = shape
    l = info.l
    x = jnp.arange(1, arch.d + 1, dtype=jnp.float64).reshape(1, *shape)
    w = jnp.eye(l, dtype=jnp.float64).reshape(*spec.kernel, C, l)
    dims = len(spatial)
    dn = ("NWC", "WIO", "NWC") if dims == 1 else ("NHWC", "HWIO", "NHWC")
    padding = [tuple(p) for p in info.padding]
    out = lax.conv_general_dilated(x, w, spec.stride, padding, rhs_dilation=spec.dilation, dimension_numbers=dn)
    read = np.asarray(out).reshape(-1, l)  # (P, l), row-major positions
    want = np.where(info.patches >= 0, info.patches + 1, 0)
    np.testing.assert_array_equal(read, want)


# ----------------------------------------------------------------------------- arch: Assumption 4.1 (THEORY.md §2)


def _failed(report):
    return [name for name, ok in report.parts if not ok]


def test_4_1_pyramidal_starts_after_the_wide_layer():
    """THEORY.md: "pyramidal after the wide layer: n_{k+1} ≥ n_{k+2} ≥ … ≥ n_L" — n_{k+1} may exceed n_k.
    Widths 36, 64, 70, 10, 3 with k = 1, N = 50 meet 4.1. Kills ``s34d-4-1-pyramid-from-k``."""
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="sigmoid"), Dense(70, activation="softplus"),
                                    Dense(10, activation="sigmoid"), Output(3)))
    assert arch.widths == (36, 64, 70, 10, 3)
    report = arch.assumption_4_1(1, 50)
    assert report.holds, report.reasons
    grow = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="sigmoid"), Dense(10, activation="softplus"),
                                    Dense(70, activation="sigmoid"), Output(3)))
    assert _failed(grow.assumption_4_1(1, 50)) == ["pyramidal after layer k"]


def test_4_1_every_hidden_activation_must_satisfy_3_2():
    """"All hidden activations satisfy 3.2": tanh (limits −1, 1) at layer 3, after the wide layer 1, breaks it
    (tanh is strictly increasing and differentiable, so only this part fails). Kills ``s34d-4-1-acts-upto-k``."""
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="sigmoid"), Dense(20, activation="softplus"),
                                    Dense(10, activation="tanh"), Output(3)))
    report = arch.assumption_4_1(1, 50)
    assert not report.holds
    assert len(_failed(report)) == 1 and "hidden activations satisfy 3.2" in _failed(report)[0]
    assert "layer(s) [3]" in report.reasons[0]


def test_4_1_max_pooling_before_the_wide_layer_also_breaks_it():
    """"No max-pooling anywhere": a pool at layer 2, before the wide layer k = 3. Kills
    ``s34d-4-1-pool-after-k-only``."""
    arch = Architecture((8, 8, 1), (Conv(4, (3, 3), activation="sigmoid"), MaxPool((2, 2), stride=1),
                                    Dense(60, activation="sigmoid"), Dense(10, activation="sigmoid"), Output(3)))
    assert arch.widths == (64, 144, 100, 60, 10, 3)
    report = arch.assumption_4_1(3, 50)
    assert _failed(report) == ["no max-pooling"] and "[2]" in report.reasons[0]


def test_4_1_wide_layer_of_exactly_N():
    """n_k ≥ N: n_1 = 64 with N = 64 meets it, N = 65 does not. Kills ``s34d-4-1-wide-strict``."""
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3), activation="sigmoid"), Dense(20, activation="softplus"),
                                    Dense(10, activation="sigmoid"), Output(3)))
    assert arch.widths[1] == 64
    assert arch.assumption_4_1(1, 64).holds
    assert _failed(arch.assumption_4_1(1, 65)) == ["n_k >= N (n_1=64, N=65)"]


# ----------------------------------------------------------------------------- library fix (s34d)


@pytest.mark.parametrize("stride, output_padding", [(1, 1), (2, 2), (2, (0, 3))])
def test_transposed_conv_output_padding_must_be_below_the_stride(stride, output_padding):
    """Library fix (s34d): ``output_padding`` only chooses among the ``stride`` output sizes that a strided
    convolution maps back to one input size, so PyTorch refuses ``output_padding ≥ max(stride, dilation)``;
    the zoo accepted it and grew the map (a 2×2/1 transposed conv with output_padding 1: 9×9 from 8×8)."""
    b = Builder("t", (8, 8, 3))
    with pytest.raises(ValueError, match=r"`output_padding`=\(.*\) must be smaller than the stride"):
        b.conv_transpose(b.input, 4, 2, stride, 0, output_padding, name="up")
    assert b.shape(b.conv_transpose(b.input, 4, 3, 2, 1, 1, name="ok")) == (16, 16, 4)  # ENet's upsampling
