"""Session 34 (s34h): mutation pass over layout, resnet, presets, evidence, evidence_figures, near_duplicates.

Each test checks documented behaviour against an independent reference (hand-counted offsets, a
closed form, the documented widths, numpy statistics, an affine map written out by hand, the data a
figure's matplotlib artists hold) and kills one or more ``s34h-*`` mutants of ``tools/plant_bugs.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import evidence_figures, layout as L, near_duplicates, presets, resnet
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.evidence import Evidence
from theory_lab.linalg import rank_report
from theory_lab.tolerances import Tolerance

# ----------------------------------------------------------------------------- layout

# JAX flattens dict keys in sorted order: a/b (3), a/w (2×2), c/w (1) → offsets 0, 3, 7, P = 8
TREE = {"a": {"w": np.zeros((2, 2)), "b": np.zeros(3)}, "c": {"w": np.zeros(1)}}


def test_tree_layout_blocks_and_round_trip_match_hand_counted_offsets():
    """Kills ``s34h-tree-blocks-drop-last-leaf``: subtree ``a`` holds both of its leaves (θ[0:7]), ``c``
    θ[7:8]; ``unravel`` puts θ's entries at those offsets and ``ravel`` inverts it exactly."""
    lay = L.tree_layout(TREE)
    assert lay.P == 8 and lay.paths == ("a/b", "a/w", "c/w")
    assert lay.blocks() == (("a", slice(0, 7)), ("c", slice(7, 8)))
    assert lay.block("a") == slice(0, 7) and lay.block("a/w") == slice(3, 7)
    theta = np.arange(8.0)
    tree = lay.unravel(theta)
    np.testing.assert_array_equal(tree["a"]["b"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(tree["a"]["w"], [[3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(tree["c"]["w"], [7.0])
    np.testing.assert_array_equal(lay.ravel(tree), theta)
    for name, sl in lay.blocks():  # each block's slice is exactly its subtree's entries
        want = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(tree[name])])
        np.testing.assert_array_equal(theta[sl], want)


def test_tree_layout_ravel_refuses_float32_leaves():
    """Kills ``s34h-tree-ravel-no-float64``: ``TreeLayout.ravel`` documents a dtype check; a float32 leaf
    would give a float32 θ (derivatives in single precision)."""
    lay = L.tree_layout(TREE)
    f32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), TREE)
    with pytest.raises(TypeError, match=r"`params\['a/b'\]` has dtype float32; derivatives are computed in float64"):
        lay.ravel(f32)


# ----------------------------------------------------------------------------- resnet


def test_batch_norm_statistics_are_per_channel_and_inference_is_the_affine_map():
    """Kills ``s34h-bn-stats-per-position``: a training pass stores the mean and (biased) variance over every
    axis but the last, shape ``(C,)``; inference is ``(x − μ)/√(σ² + 1e-5)·γ + β`` written out by hand."""
    rng = np.random.default_rng(3)
    x = 2.0 + 1.5 * rng.standard_normal((5, 3, 2, 4))
    bn = resnet.BatchNorm(use_running_average=False)
    variables = bn.init(jax.random.key(0), x)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    variables = {"params": {"scale": gamma, "bias": beta}, "batch_stats": variables["batch_stats"]}
    y, upd = bn.apply(variables, x, mutable=["batch_stats"])
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    stats = upd["batch_stats"]
    assert np.shape(stats["mean"]) == (4,) and np.shape(stats["var"]) == (4,)
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-13)
    np.testing.assert_allclose(stats["var"], var, rtol=1e-12)
    affine = lambda z: (z - mean) / np.sqrt(var + 1e-5) * gamma + beta  # noqa: E731
    np.testing.assert_allclose(y, affine(x), rtol=1e-12, atol=1e-12)
    fixed = {"params": variables["params"], "batch_stats": stats}
    x2 = rng.standard_normal((2, 3, 2, 4))  # other samples: the stored statistics, not theirs
    np.testing.assert_allclose(resnet.BatchNorm().apply(fixed, x2), affine(x2), rtol=1e-12, atol=1e-12)


def test_resnet_convolution_biases_are_drawn_with_standard_deviation_0_1():
    """Kills ``s34h-resnet-bias-init-zero``: convolution biases are ``N(0, 0.1²)`` (documented in
    ``presets.digits_resnet``: no ReLU sits exactly on its kink at the blank pixels). A residual block's
    two 3×3 convolutions of 8 filters hold 16 biases: every one non-zero, and their root mean square within
    the chi-square(16) bounds of probability 1e-7 on either side of 0.1 (factors 0.258 and 2.004)."""
    params = resnet.ResidualBlock(8).init(jax.random.key(0), jnp.zeros((1, 3, 3, 8)))["params"]
    assert sorted(params) == ["Conv_0", "Conv_1"]  # same width, stride 1: no projection
    b = np.concatenate([np.ravel(params[c]["bias"]) for c in ("Conv_0", "Conv_1")])
    assert b.size == 16 and np.all(b != 0)
    rms = float(np.sqrt(np.mean(b ** 2)))
    assert 0.1 * 0.258 < rms < 0.1 * 2.004, rms


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_verify_presets_apply_their_knobs_to_every_hidden_layer(activation):
    """Kills ``s34h-mnist1d-dense-activation``: the documented networks (8×8×1 → conv 3×3 → dense 32 → linear
    10; 40×1 → conv 5 → dense 32 → linear 10) with ``activation`` on every hidden layer and ``bias`` on the
    convolution, built by hand from the docstrings."""
    assert presets.verify_mnist1d(4, activation=activation) == Architecture(
        (40, 1), (Conv(4, (5,), activation=activation), Dense(32, activation=activation), Output(10)))
    assert presets.verify_digits(3, activation=activation, bias="filter") == Architecture(
        (8, 8, 1), (Conv(3, (3, 3), activation=activation, bias="filter"), Dense(32, activation=activation),
                    Output(10)))
    arch = presets.verify_mnist1d(activation=activation)
    assert [info.activation for info in arch.info[:-1]] == [activation, activation]


# ----------------------------------------------------------------------------- evidence

TOL = Tolerance(1e-10, 10.0, "gap", "rounding")


@pytest.mark.parametrize("value", [-1e-3, -1e-300, 0.0, -5.0])
def test_at_least_of_a_non_positive_value_is_a_conclusive_violation(value):
    """Kills ``s34h-at-least-negative-margin``: ``value ≤ 0 < threshold`` is violated at any scale: margin
    0 (the documented range of a violated margin is [0, 1)), conclusive."""
    obs = Evidence().at_least("gap", value, TOL)
    assert (obs.holds, obs.conclusive, obs.margin) == (False, True, 0.0)


def test_rank_is_inconclusive_when_the_highest_allowed_rank_disagrees():
    """Kills ``s34h-rank-range-short``: σ = (1, 0.5, 5e-4), tol 1e-3, band 10: rank 2, and σ_3 lies within the
    band (1e-4 < 5e-4 < 1e-2), so the evidence allows ranks 2 and 3. ``rank == 2`` and ``rank == 3`` are
    then undecided; ``rank >= 2`` holds for both, conclusively."""
    rep = rank_report(np.diag([1.0, 0.5, 5e-4]), tol=1e-3, band=10.0)
    assert rep.rank == 2 and rep.rank_range() == (2, 3)
    ev = Evidence()
    eq2, eq3 = ev.rank("F", rep, 2), ev.rank("F", rep, 3)
    le2, ge2 = ev.rank("F", rep, 2, "<="), ev.rank("F", rep, 2, ">=")
    assert (eq2.holds, eq2.conclusive) == (True, False)
    assert (eq3.holds, eq3.conclusive) == (False, False)
    assert (le2.holds, le2.conclusive) == (True, False)
    assert (ge2.holds, ge2.conclusive) == (True, True)
    assert le2.margin == pytest.approx(2.0, rel=1e-12)  # tol / σ_3 = 1e-3 / 5e-4


def test_observe_accepts_a_tie_on_either_side():
    """Kills ``s34h-observe-tie-refused``: the margin is ``1`` at a tie, which may hold or not."""
    ev = Evidence()
    assert ev.observe("tie", True, margin=1.0, conclusive=False).margin == 1.0
    assert ev.observe("tie-", False, margin=1.0, conclusive=False).margin == 1.0
    with pytest.raises(ValueError, match=r"observation 'x': holds=True with margin=0.5"):
        ev.observe("x", True, margin=0.5, conclusive=True)


# ----------------------------------------------------------------------------- evidence_figures


def test_rank_figure_puts_the_i_th_smallest_singular_value_at_x_equal_i(drawn):
    """Kills ``s34h-rank-figure-x-from-0``: the x axis is labelled "i-th smallest singular value (1 = σ_min)";
    the JSON lists the smallest first, so the points are (1, σ_min/σ_max), (2, …), …"""
    rep = {"shape": [3, 5], "rank": 3, "sigma_max": 4.0, "tol": 1e-3, "smallest_singular_values": [0.5, 1.0, 4.0]}
    evidence_figures.rank_figure("c", {"F": rep})
    ax = drawn[-1].axes[0]
    curve = [line for line in ax.get_lines() if line.get_marker() == "o"][0]
    np.testing.assert_array_equal(curve.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(curve.get_ydata(), [0.125, 0.25, 1.0])
    assert "1 = σ_min" in ax.get_xlabel()


def test_band_lines_read_bands_written_in_exponent_form(drawn):
    """Kills ``s34h-band-of-no-exponent``: ``Evidence.rank`` writes its band with ``:g`` ("band 1e+06" for
    a band of a million); the figure's dotted line sits at that band."""
    assert evidence_figures.band_of("SVD rank, band 1e+06") == 1e6
    assert evidence_figures.band_of("x, band 2.5e-1") == 0.25
    rep = rank_report(np.diag([1.0, 0.5]), tol=1e-3, band=1e6)
    obs = Evidence().rank("F", rep, 2)
    assert obs.to_dict()["tolerance"] == "SVD rank, band 1e+06"
    evidence_figures.observation_figure("c", {"observations": [obs.to_dict()]})
    dotted = [line.get_xdata()[0] for line in drawn[-1].axes[0].get_lines() if line.get_linestyle() == ":"]
    assert dotted == [1e6]


# ----------------------------------------------------------------------------- near_duplicates


def test_row_norms_do_not_underflow():
    """Kills ``s34h-norms-underflow``: rows of size 1e-170 (their squares underflow to 0) keep their
    Euclidean norms: ‖(3, 4)·1e-170‖ = 5e-170, ‖(1e-170, 0)‖ = 1e-170; a zero row has norm 0."""
    A = np.array([[3e-170, 4e-170], [1e-170, 0.0], [0.0, 0.0], [-3.0, 4.0]])
    np.testing.assert_allclose(near_duplicates._norms(A), [5e-170, 1e-170, 0.0, 5.0], rtol=1e-15)


def test_each_group_is_represented_by_its_smallest_sample():
    """Kills ``s34h-components-root-not-smallest``: pairs (0, 3), (1, 2), (2, 3) join {0, 1, 2, 3}; pair
    (4, 6) joins {4, 6}; 5 is alone. Representatives are the smallest index of each group."""
    assert near_duplicates._components(7, [(0, 3), (1, 2), (2, 3), (4, 6)]) == [0, 0, 0, 0, 4, 5, 4]


def test_equal_samples_are_not_near_duplicate_pairs():
    """Kills ``s34h-pairs-equal-samples``: only *distinct* samples are near duplicates; equal samples give
    equal rows in exact arithmetic too. Rows 0, 1, 3 are equal; samples 0 and 1 are equal, 3 differs."""
    F = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 0.0], [1.0, 2.0]])
    X = np.array([[0.0], [0.0], [1.0], [2.0]])
    assert near_duplicates.near_duplicate_pairs(F, X, 0.0) == [(0, 3)]
    assert near_duplicates.near_duplicate_pairs(F[:2], X[:2], 1.0) == []


def test_each_bar_ends_at_its_margin(drawn):
    """Library fix (s34h): a bar was drawn from the axis' left end ``lo`` with width ``m``, so it ended at
    ``m + lo``, up to a factor 1 + 1/30 past its margin: a violated margin of 0.999 crossed the threshold line
    at 1 (here ``lo = 0.1 / 30``: its bar ended at 1.0023). Each bar now ends at its margin."""
    margins = {"violated": 0.999, "holds": 5.0, "far": 1e3}
    obs = [{"name": k, "holds": m > 1, "conclusive": True, "margin": m, "tolerance": "x, band 10"}
           for k, m in margins.items()]
    evidence_figures.observation_figure("c", {"observations": obs})
    ax = drawn[-1].axes[0]
    ends = {lab.get_text(): None for lab in ax.get_yticklabels()}
    by_y = {round(t, 6): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    for p in ax.patches:
        ends[by_y[round(p.get_y() + p.get_height() / 2, 6)]] = p.get_x() + p.get_width()
    assert set(ends) == set(margins)
    for name, m in margins.items():
        assert ends[name] == pytest.approx(m, rel=1e-12)
    assert ends["violated"] < 1.0
