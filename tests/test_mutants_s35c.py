"""Session 35 mutation pass (s35c-*): the hypothesis strategies and the test helpers keep their documented promises.

A slip in a strategy usually NARROWS what is drawn (a bound off by one, a branch never taken, one draw reused for
two choices), and every property test built on it still passes, now over a smaller family. So these tests check
*coverage*: each documented family or bound is reached in a fixed (derandomized) run of draws, and each draw meets
its contract. The references are the docstrings and hand counts (THEORY.md's "wide: n_k ≥ N", the capacity rule of
``strategies.resolvable`` worked out by hand, closed-form derivatives), never the strategies' own output.

No JAX compilation happens in the strategy tests (the draws are numpy and ``Architecture``); the two activation
probes compile once each.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from theory_lab import activations
from theory_lab import strategies as tls
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.data import check_distinct_patches
from theory_lab.testing import (
    declaration_disagreements,
    matrix_with_singular_values,
    probe_activation,
    tolerances,
    tree_allclose,
)


def _draws(strategy, n: int) -> list:
    """``n`` draws of ``strategy`` from hypothesis' derandomized stream (the same at every hypothesis seed)."""
    out = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(x=strategy)
    def collect(x):
        out.append(x)

    collect()
    return out


def _after_k(net) -> list[int]:
    """Widths of the dense layers between layer ``k`` and the output."""
    return [i.n for i in net.arch.info[net.k:-1]]


# ----------------------------------------------------------------------------- networks: widths


@pytest.mark.parametrize("c", [1.0, 1.5])
def test_the_width_edge_n_k_equals_ceil_cN_is_drawn(c):
    """``WIDTH_STEPS``: "0 is the edge n_k = ⌈c·N⌉ (exactly N for a dense layer at c = 1)". Every draw is wide
    (``n_k ≥ c·N``), and the edge itself is drawn: the boundary case of Theorem 3.4's width condition.
    Catches ``⌊c·N⌋ + 1`` for ``⌈c·N⌉`` (``>`` for ``≥``), which never draws ``n_k = c·N`` when it is an integer."""
    N = 16
    widths = [net.n_k for net in _draws(tls.networks(kinds=("dense",), n_samples=(N,), max_depth=1, min_ratio=c), 40)]
    assert all(w >= c * N for w in widths), widths
    assert min(widths) == math.ceil(c * N), sorted(set(widths))
    # the documented span: with c = 1, n_k / N runs from 1 to about 4 (the largest step, 3, plus up to N / 8)
    assert max(widths) <= math.ceil(c * N) + 3 * N + N // 8, sorted(set(widths))
    assert max(widths) >= math.ceil(c * N) + 2 * N, sorted(set(widths))


@pytest.mark.parametrize("after", [0, 2])
def test_up_to_after_dense_layers_follow_layer_k(after):
    """``after``: "up to this many dense layers between k and the output (pyramidal)". Every count from 0 to
    ``after`` is drawn, each layer at least ``m`` wide and at most the layer before it.
    Catches ``integers(0, after − 1)`` (``after = 2`` never drew two layers; ``after = 0`` crashed)."""
    nets = _draws(tls.networks(kinds=("dense",), n_samples=(16,), max_depth=1, after=after, outputs=2), 40)
    counts = {len(_after_k(net)) for net in nets}
    assert counts == set(range(after + 1)), counts
    for net in nets:
        widths = [net.n_k] + _after_k(net) + [2]
        assert all(a >= b for a, b in zip(widths, widths[1:])), widths


# ----------------------------------------------------------------------------- networks: conv layers and kinds


def _conv_specs(net):
    return [i.spec for i in net.arch.info if i.kind == "conv"]


def test_conv2d_draws_cover_strides_kernels_dilations_and_paddings_per_axis():
    """``networks``: "1-D or 2-D convolutions (kernel, stride, padding, dilation)", each drawn per axis. On a
    6×6 input, layer 1 reaches the strides (1, 1) and an anisotropic (1, 2) or (2, 1); kernels 1, 2
    and 3; dilation 2; both paddings. Every drawn conv keeps Assumption 2.4 and THEORY.md §1's patches (no flags).
    Catches one stride drawn for both axes (a key reused: only (1, 1) and (2, 2))."""
    nets = _draws(tls.networks(kinds=("conv2d",), input_shapes={"conv2d": ((6, 6, 1),)}, max_depth=2,
                               n_samples=(16,)), 100)
    specs = [s for net in nets for s in _conv_specs(net)]
    # layer 1 reads the 6×6 input, where both axes may be strided (a later 2-wide axis is never: anisotropic there
    # whatever the draw); a stride 2 survives only where its windows still cover the input (Assumption 2.4), so
    # it is the rarer one: 18 of 94 layer-1 convs here (the fallbacks reset the rest to 1)
    strides = {tuple(net.arch.layer(1).spec.stride) for net in nets if net.arch.layer(1).kind == "conv"}
    assert {(1, 2), (2, 1)} & strides and (1, 1) in strides, strides
    assert {k for s in specs for k in s.kernel} == {1, 2, 3}
    assert any(d == 2 for s in specs for d in s.dilation)
    assert {s.padding for s in specs} == {"SAME", "VALID"}
    for net in nets:
        assert not net.arch.flags and net.arch.assumption_2_4().holds


def test_conv_networks_also_draw_a_dense_layer_before_k():
    """``networks``' layer ``k`` "is conv wherever the shape allows it (dense otherwise …)": a conv-kind network
    may flatten into a dense layer before ``k``, and then layer ``k`` is dense. Both families (conv → conv and
    dense → dense on a conv input) are reached. Catches the dense option dropped before ``k`` (conv inputs would
    only ever have conv layers up to ``k``)."""
    nets = _draws(tls.networks(kinds=("conv1d",), n_samples=(16,), max_depth=2), 100)  # ~1 in 12 draws
    deep = [net for net in nets if net.k == 2]
    shapes = {(net.arch.layer(1).kind, net.arch.layer(2).kind) for net in deep}
    assert ("dense", "dense") in shapes and ("conv", "conv") in shapes, shapes
    assert ("dense", "conv") not in shapes  # a dense output has no spatial axis left for a conv


# ----------------------------------------------------------------------------- resolvable: hand counts


def test_resolvable_caps_a_patch_by_its_length():
    """``resolvable``'s rule: patch ``p`` carries ``e_p = min(l, receptive field, narrowest earlier layer)``
    directions and the capacity is ``Σ_p C(e_p + 3, 3)``, kept when ``≥ 2N``.

    Two 3-wide 1-channel convs on 12 inputs: layer 2 has 8 patches of length ``l = 3``, each reading 5 inputs
    (two overlapping 3-windows), the narrowest earlier layer has 10 units: ``e_p = 3``, capacity
    ``8 · C(6, 3) = 160``, so ``N = 80`` is resolvable and ``N = 81`` is not. Catches ``l`` dropped
    (``e_p = 5``, capacity 448)."""
    arch = Architecture((12, 1), (Conv(1, (3,)), Conv(1, (3,)), Output(1)))
    assert arch.layer(2).patches.shape == (8, 3) and arch.widths[:2] == (12, 10)
    assert 8 * math.comb(3 + 3, 3) == 160
    assert tls.resolvable(tls.Network(arch, 2, 80)) and not tls.resolvable(tls.Network(arch, 2, 81))


def test_resolvable_after_1x1_convs_counts_one_pixel_however_many_channels():
    """``resolvable``: "after 1×1 convs, one pixel however many channels". A 1×1 conv with 3 filters then a 1×1
    conv: each of the 12 layer-2 patches reads the 3 channels of one pixel (neurons ``(p−1)·3 + t``), so
    ``e_p = 1`` and the capacity is ``12 · C(4, 3) = 48``: ``N = 24`` is resolvable, ``N = 25`` is not.
    Catches the receptive fields laid out channel-major (``np.tile``): each patch would then see 3 pixels
    (capacity 240)."""
    arch = Architecture((12, 1), (Conv(3, (1,)), Conv(1, (1,)), Output(1)))
    assert arch.layer(2).patches[1].tolist() == [3, 4, 5]  # position-major neurons: pixel 1's three channels
    assert tls.resolvable(tls.Network(arch, 2, 24)) and not tls.resolvable(tls.Network(arch, 2, 25))


# ----------------------------------------------------------------------------- parameters and setups

SMALL = Architecture((5,), (Dense(3), Output(1)))


def _biases(params) -> np.ndarray:
    return np.concatenate([np.asarray(layer["b"]).ravel() for layer in params.values() if "b" in layer])


def test_every_bias_scale_and_mean_of_the_menus_is_drawn():
    """``parameters``: ``bias_scales`` and ``bias_mean`` are menus, one entry drawn per draw (uniform biases on
    ``mean ± scale``, ``sample_params``' law). Catches the first scale always used."""
    spreads = [float(np.abs(_biases(p)).max()) for p in
               _draws(tls.parameters(SMALL, bias_laws=("uniform",), bias_scales=(0.1, 5.0)), 30)]
    assert max(spreads) <= 5.0
    assert min(spreads) <= 0.1 and max(spreads) > 1.0, spreads
    centres = set()
    for p in _draws(tls.parameters(SMALL, bias_laws=("uniform",), bias_scales=0.1, bias_mean=(-3.0, 3.0)), 30):
        b = _biases(p)
        centre = -3.0 if b.mean() < 0 else 3.0
        assert np.all(np.abs(b - centre) <= 0.1), b  # one mean for the whole draw
        centres.add(centre)
    assert centres == {-3.0, 3.0}


def test_setups_passes_its_arguments_through():
    """``setups``: ``params`` from ``parameters(laws, bias_laws, bias_mean)`` and ``X`` from
    ``datasets(data_laws)``; every draw float64 of shape ``(N, *input_shape)`` meeting Assumption 3.1 and
    ``n_k ≥ N``. With uniform biases (scales 0.1 or 1) around 3 every bias lies in [2, 4]; with uniform data every
    entry in [−1, 1]. Catches ``bias_mean`` not passed on (biases around 0)."""
    for net, X, params in _draws(tls.setups(n_samples=16, kinds=("dense",), max_depth=1, laws=("uniform",),
                                            bias_laws=("uniform",), bias_mean=3.0, data_laws=("uniform",)), 12):
        b = _biases(params)
        assert np.all((2.0 <= b) & (b <= 4.0)), b
        assert all(np.abs(np.asarray(layer["W"])).max() <= 1.0 for layer in params.values())
        assert X.shape == (16,) + net.arch.input_shape and X.dtype == np.float64
        assert np.abs(X).max() <= 1.0 and check_distinct_patches(net.arch, X).holds
        assert net.n_k >= net.N


# ----------------------------------------------------------------------------- datasets and digit crops

SIX = Architecture((6, 1), (Conv(2, (3,)), Output(1)))  # four full patches {0,1,2} … {3,4,5}


def _repeated_patches(arch, X) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs ``((i, p), (j, q))`` of equal layer-1 patches (padding-free ones), by exact comparison."""
    idx = arch.layer(1).patches
    flat = X.reshape(len(X), -1)
    first, pairs = {}, []
    for i in range(len(X)):
        for p in range(idx.shape[0]):
            key = flat[i, idx[p]].tobytes()
            if key in first:
                pairs.append((first[key], (i, p)))
            else:
                first[key] = (i, p)
    return pairs


def test_shared_patch_copies_one_patch_between_two_samples_also_across_positions():
    """``datasets(violations="shared_patch")``: ``x_j^q = x_i^p`` for one pair of patches of two samples. On
    Gaussian data exactly one pair repeats, between two different samples, and the copy to another position
    (``p ≠ q``) is drawn. Catches one draw used for both positions (``p = q`` always)."""
    positions = set()
    for X in _draws(tls.datasets(SIX, 6, assumption_3_1=False, violations="shared_patch", laws="normal"), 20):
        assert X.shape == (6, 6, 1) and X.dtype == np.float64
        pairs = _repeated_patches(SIX, X)
        assert len(pairs) == 1, pairs
        (i, p), (j, q) = pairs[0]
        assert i != j
        positions.add("same" if p == q else "across")
        assert not check_distinct_patches(SIX, X).holds
    assert "across" in positions, positions


@pytest.mark.parametrize("shape", [(9, 9, 1), (10, 10, 2), (12, 7, 1)])
def test_digit_crops_of_any_2d_size(shape):
    """``digit_crops``: "2-D shapes: a h × w window" of an upscaled digit, for any size (the 8×8 images are
    upscaled by ``⌈max(h, w) / 8⌉``). Image-like: entries in [0, 1] up to the 1e-6 noise, blank regions kept,
    samples at least ``separation`` apart. Catches ``⌊·⌋`` for ``⌈·⌉`` (a 9- to 15-wide crop of an 8×8 image)."""
    X = tls.digit_crops(shape, 8, np.random.default_rng(3))
    assert X.shape == (8, *shape) and X.dtype == np.float64
    assert X.min() > -1e-4 and X.max() < 1 + 1e-4
    assert np.mean(np.abs(X) < 1e-4) > 0.05  # blank background
    d = np.linalg.norm(X.reshape(8, 1, -1) - X.reshape(1, 8, -1), axis=-1) + 10 * np.eye(8)
    assert d.min() >= 0.1 - 1e-4


# ----------------------------------------------------------------------------- testing helpers


def test_matrix_with_singular_values_refuses_negative_values(rng):
    """Singular values are non-negative: ``s = (1, −1)`` would silently give singular values ``(1, 1)``."""
    with pytest.raises(ValueError, match=r"non-negative values, got array\(\[ 1\., -1\.\]\)"):
        matrix_with_singular_values([1.0, -1.0], (3, 3), rng)


def test_tree_allclose_is_relative_to_b():
    """Documented: ``|a − b| ≤ atol + rtol·|b|`` (numpy's convention: ``b`` is the reference). At ``rtol = 0.6``,
    ``a = 2, b = 1`` is off by ``1 > 0.6·1``; ``a = 1, b = 2`` is within ``0.6·2``. Catches ``rtol·|a|``."""
    two, one = np.array([2.0]), np.array([1.0])
    assert not tree_allclose(two, one, rtol=0.6, atol=0.0)
    assert tree_allclose(one, two, rtol=0.6, atol=0.0)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_tolerances_follow_the_precision_of_their_parts(dtype):
    """A complex array is compared like floats of its parts' precision (``np.finfo(dtype).dtype``): complex64
    like float32, complex128 like float64. Catches ``itemsize ≥ 8`` (bytes of the pair) for ``≥ 16``."""
    assert tolerances(dtype) == tolerances(np.finfo(dtype).dtype)


def _cubic_spline(analytic: bool) -> activations.Activation:
    """``σ(t) = t + max(t, 0)³ / 6``: C², strictly increasing, ``σ'''`` jumps from 0 to 1 at 0 (not analytic)."""
    return activations.Activation("cubic spline", lambda t: t + jnp.maximum(t, 0.0) ** 3 / 6, continuous=True,
                                  analytic=analytic, strictly_increasing=True, positive_derivative=True,
                                  differentiable=True, assumption_3_2=False, clause=None)


def test_probe_finds_a_jump_in_the_third_derivative():
    """``probe_activation``: ``smooth`` needs derivatives of order 0–3 without jumps. A C² spline whose third
    derivative jumps by 1 (``1 / max|σ| ≈ 0.011 > 1e-3`` after the normalisation) is not smooth, so declaring it
    analytic is a disagreement, and nothing else is. Catches the derivatives stopped at order 2."""
    probe = probe_activation(_cubic_spline(True))
    assert probe["smooth"] is False and probe["continuous"] and probe["differentiable"]
    assert declaration_disagreements(_cubic_spline(True), probe) == [
        "cubic spline: `analytic` declared True, measured False"]
    assert declaration_disagreements(_cubic_spline(False), probe) == []


@functools.lru_cache(maxsize=1)
def _sigmoid_probe() -> dict:
    return probe_activation(activations.get("sigmoid"))


def test_assumption_3_2_and_its_clause_are_declared_together():
    """``declaration_disagreements``: Assumption 3.2 holds through clause (a) or (b), so declaring it without a
    clause, or a clause with 3.2 declared False, is a disagreement (sigmoid: clause (a), measured).
    Catches the "without a clause" report dropped."""
    sigmoid = activations.get("sigmoid")
    assert declaration_disagreements(sigmoid, _sigmoid_probe()) == []
    no_clause = dataclasses.replace(sigmoid, name="misdeclared sigmoid", clause=None)
    assert declaration_disagreements(no_clause, _sigmoid_probe()) == [
        "misdeclared sigmoid: Assumption 3.2 declared without a clause"]
    no_3_2 = dataclasses.replace(sigmoid, name="misdeclared sigmoid", assumption_3_2=False)
    problems = declaration_disagreements(no_3_2, _sigmoid_probe())
    assert "misdeclared sigmoid: clause (a) declared but Assumption 3.2 declared False" in problems, problems


def test_bfloat16_and_long_double_get_the_tolerances_of_their_precision():
    """Library fix (s35c): ``tolerances`` meant "e.g. bfloat16" to get float16's loose tolerances, but numpy's
    ``issubdtype`` does not count ml_dtypes' bfloat16 as a float, so it got ``(0, 0)`` and ``tree_allclose``
    compared bfloat16 leaves exactly (1 + 2⁻⁷, bfloat16's next number after 1, "differed" from 1); a long double
    (more precise than float64) got float16's ``rtol = 1e-2``. By precision (``finfo.eps``): bfloat16's 2⁻⁷ is
    coarser than float32's 2⁻²³, a long double's at most float64's 2⁻⁵²."""
    assert tolerances(jnp.bfloat16) == tolerances(np.float16)
    assert tolerances(np.longdouble) == tolerances(np.float64)
    ones = np.ones(2, dtype=jnp.bfloat16)
    assert tree_allclose(np.array([1.0, 1.0 + 2.0**-7], dtype=jnp.bfloat16), ones)  # one ulp
    assert not tree_allclose(np.array([1.0, 1.0 + 2.0**-4], dtype=jnp.bfloat16), ones)  # 0.0625 > 1e-3 + 1e-2
    assert not tree_allclose(np.array([np.nan, 1.0], dtype=jnp.bfloat16), ones)
