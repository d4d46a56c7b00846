"""Session 35 (s35a): mutation pass over the teaching demos ``rank-jump``, ``critical-points`` and ``demos.common``.

Each test checks documented behaviour against an independent reference and kills one or more ``s35a-*``
mutants of ``tools/plant_bugs.py``: ``F_1`` rebuilt by hand in numpy from the documented keys and layout (a
3x3 VALID correlation, bias per neuron, sigmoid) and its singular values from ``numpy.linalg.svd``; the
tolerance ``max(N, n_1)·eps``; the linear-algebra bound ``rank ≤ min(n_1, distinct samples)``; the smallest
``T`` with ``36·T ≥ N`` found by counting; ``‖Y‖ = √N`` for one-hot targets; the PNG header's pixel size
``figsize · dpi``; the numbers a figure's matplotlib artists hold. One small ``rank_jump`` run is shared by the
rank tests; the critical-point search is a stub where only the demo's bookkeeping is under test.
"""

from __future__ import annotations

import math
import struct
import types

import jax
import numpy as np
import pytest

from theory_lab import critical, data
from theory_lab.demos import (critical_points, critical_points_explanation, critical_points_figure, rank_jump,
                              rank_jump_figure, wide_and_narrow)
from theory_lab.demos import common
from theory_lab.demos._critical_points import CriticalPoint, CriticalPoints
from theory_lab.demos._rank_jump import RankJump, RankPoint
from theory_lab.sampling import sample_params

EPS = np.finfo(np.float64).eps

# ----------------------------------------------------------------------------- common


def test_digit_count_accepts_every_bundled_digit():
    """Kills ``s35a-digit-count-off-by-one``: ``N`` may be every one of scikit-learn's bundled digits (counted on
    the data set itself), and one more is refused with the argument named."""
    n_all = data.digits().X.shape[0]
    assert n_all == common.TOTAL_DIGITS == 1797
    assert common.digit_count(n_all, "N", "e.g. 40") == n_all
    with pytest.raises(ValueError, match=rf"`N`={n_all + 1} exceeds the {n_all} bundled digits; choose N <= {n_all}"):
        common.digit_count(n_all + 1, "N", "e.g. 40")


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_render_png_has_figsize_times_dpi_pixels():
    """Kills ``s35a-render-dpi-dropped``: the PNG is ``figsize · dpi`` pixels (read from its IHDR header), at the
    default ``dpi=110`` and at a given one, not the figure's own 100 dpi."""
    fig = common.new_figure((3, 2))
    fig.subplots().plot([0, 1], [0, 1])
    assert _png_size(common.render(fig, "png")) == (330, 220)
    assert _png_size(common.render(fig, "png", dpi=50)) == (150, 100)


def test_render_svg_is_undated():
    """Kills ``s35a-render-svg-dated``: "SVG without a date, so the same numbers give the same file". A dated SVG
    (matplotlib's default, ``datetime.today()``) differs from render to render; the metadata is read directly."""
    fig = common.new_figure((3, 2))
    fig.subplots().plot([0, 1], [0, 1])
    svg = common.render(fig, "svg")
    assert svg[:5] == b"<?xml" and b"<dc:format>image/svg+xml</dc:format>" in svg and b"<dc:date>" not in svg


def test_residual_norm_keeps_float64_digits():
    """Kills ``s35a-residual-norm-float32``: a residual of ``1e-12`` per entry on outputs of size 1 (below float32's
    resolution) is measured to float64 accuracy; the reference is numpy's float64 norm."""
    Y = np.eye(4, 3)
    out = Y + 1e-12 * np.arange(1.0, 13.0).reshape(4, 3)
    ref = float(np.linalg.norm(out - Y))
    assert common.residual_norm(out, Y) == pytest.approx(ref, rel=1e-9, abs=0)


# ----------------------------------------------------------------------------- rank-jump

N, T, DRAWS, SEED, D = 20, 2, 2, 1, 2  # n_1 = 72 ≥ N: rank N (noisy, raw), N - D (duplicates)


@pytest.fixture(scope="module")
def jump():
    return rank_jump(N, filters=(T,), draws=DRAWS, seed=SEED, duplicates=D)


@pytest.mark.parametrize("n, ratio", [(20, 2.0), (60, 2.0), (200, 2.0), (500, 2.0), (100, 3.5)])
def test_default_filters_sweep_reaches_max_ratio_times_N(n, ratio):
    """Kills ``s35a-rj-top-floor``: the sweep runs "from 36 to about max_ratio·N": its widest layer is the first
    multiple of 36 at or past ``max_ratio·N`` (counted up here), so the rank's plateau beyond ``N`` is shown."""
    from theory_lab.demos import default_filters

    t = 1
    while 36 * t < ratio * n:
        t += 1
    Ts = default_filters(n, max_ratio=ratio)
    assert Ts[0] == 1 and max(Ts) == t


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _F1_by_hand(X, params) -> np.ndarray:
    """``F_1 (N, 36·T)`` of ``Conv(T, 3x3, VALID, sigmoid)`` with a bias per neuron, in numpy: neuron
    ``(i·6 + j)·T + t`` is ``σ(⟨X[i:i+3, j:j+3], w^t⟩ + b)``, the patch read row by row (``W`` is ``(9, T)``)."""
    W, b = np.asarray(params["layer_1"]["W"]), np.asarray(params["layer_1"]["b"])
    X = np.asarray(X, np.float64)[..., 0]
    patches = np.stack([X[:, i:i + 3, j:j + 3].reshape(len(X), 9) for i in range(6) for j in range(6)], axis=1)
    return _sigmoid((patches @ W).reshape(len(X), -1) + b)


def test_rank_jump_numbers_are_the_svd_of_F1_rebuilt_from_the_documented_keys_and_data(jump):
    """Kills ``s35a-rj-key-by-position`` (draws keyed by the width's position in the sweep, not by ``T``) and
    ``s35a-rj-duplicates-from-noisy`` (the duplicates series built from the noisy digits, not the raw ones).

    Documented: draw ``j`` at width ``T`` uses ``fold_in(fold_in(key(seed), T), j)``, the same parameters for every
    series; the duplicates series is the raw digits with the last ``D`` samples copies of the first ``D``. ``F_1``
    is rebuilt in numpy; ``σ_max`` and the rank (tolerance ``σ_max·max(N, n_1)·eps``) come from numpy's SVD."""
    raw = np.asarray(data.digits(N).X)
    dup = raw.copy()
    dup[N - D:] = raw[:D]
    Xs = {"noisy": np.asarray(data.digits(N, noise=1e-6, seed=SEED).X), "raw": raw, "duplicates": dup}
    assert jump.series == tuple(Xs) and len(jump.points) == 3 * DRAWS
    root = jax.random.key(SEED)
    from theory_lab.arch import Architecture, Conv, Output

    arch = Architecture((8, 8, 1), (Conv(T, (3, 3)), Output(10)))
    for p in jump.points:
        params = sample_params(arch, jax.random.fold_in(jax.random.fold_in(root, T), p.draw))
        F = _F1_by_hand(Xs[p.series], params)
        assert F.shape == (N, 36 * T) == (N, p.n1)
        s = np.linalg.svd(F, compute_uv=False)
        assert p.sigma_max == pytest.approx(s[0], rel=1e-10, abs=0), p
        rank = int(np.sum(s > s[0] * max(F.shape) * EPS))
        assert p.rank == rank == min(p.n1, N - (D if p.series == "duplicates" else 0)), p
        assert p.expected == rank and p.conclusive
    assert jump.select("noisy")[0].sigma_max != jump.select("noisy")[1].sigma_max  # two draws, two parameter sets


def test_rank_jump_figure_draws_the_relative_tolerance(jump):
    """Kills ``s35a-rj-tolerance-line-absolute``: the right panel's dotted line is ``tol/σ_max = max(N, n_1)·eps``
    (rank_report's default tolerance, relative), on the same axis as ``σ_min/σ_max``, not the absolute ``tol``."""
    right = rank_jump_figure(jump).axes[1]
    (line,) = [ln for ln in right.get_lines() if ln.get_label() == "tolerance / σ_max"]
    np.testing.assert_array_equal(line.get_xdata(), [36 * T])
    assert list(line.get_ydata()) == pytest.approx([max(N, 36 * T) * EPS], rel=1e-12, abs=0)


def _relu_point(n1, rank, expected, draw=0):
    return RankPoint("noisy", n1 // 36, n1, draw, rank, expected, 1.0, 0.0, 0.0, 1e-14, 0.0, False)


def test_rank_jump_bound_holds_with_equality_where_theorem_3_5_is_silent():
    """Kills ``s35a-rj-bound-strict``: for σ = ReLU only ``rank ≤ min(n_1, distinct samples)`` is predicted, and a
    rank equal to the bound obeys it (a strict ``<`` refused every full-rank ReLU layer)."""
    at, below, above = _relu_point(36, 36, 36), _relu_point(72, 30, 40), _relu_point(72, 41, 40, draw=1)
    r = RankJump(40, (1, 2), 1, 0, 0, "relu", {"noisy": True}, {"noisy": 40}, (at, below))
    assert not r.theorem_3_5 and r.point_agrees(at) and r.point_agrees(below) and r.agrees
    assert not r.point_agrees(above)


def test_rank_jump_figure_plots_the_measured_ranks_not_the_prediction():
    """Kills ``s35a-rj-figure-plots-expected``: the left panel's markers sit at the measured ranks. With ReLU the
    ranks 30 and 33 lie below their prediction ``min(n_1, N)`` = 36, 40; the markers must show 30 and 33."""
    pts = (_relu_point(36, 30, 36), _relu_point(72, 33, 40))
    r = RankJump(40, (1, 2), 1, 0, 0, "relu", {"noisy": True}, {"noisy": 40}, pts)
    left = rank_jump_figure(r).axes[0]
    (markers,) = left.collections
    assert list(np.asarray(markers.get_offsets())[:, 1]) == [30.0, 33.0]


# ----------------------------------------------------------------------------- critical-points


@pytest.mark.parametrize("n", [1, 35, 36, 37, 40, 72, 73, 200])
def test_wide_net_is_the_smallest_conv_with_n1_at_least_N(n):
    """Kills ``s35a-cp-wide-T-off-by-one``: the default ``T`` is the smallest with ``n_1 = 36·T ≥ N`` (Assumption 4.1
    with ``k = 1`` and no wider), found here by counting up; at ``N = 36, 72`` it is ``N/36`` exactly."""
    t = 1
    while 36 * t < n:
        t += 1
    nets = wide_and_narrow(n)
    assert nets["wide"].widths == (64, 36 * t, 10) and nets["narrow"].widths == (64, 4, 10)


def _cp(network, rel, *, kind="minimum", in_S_k=True, negative=0):
    return CriticalPoint(network, "minimum", 0, True, kind, 0.5 * rel * rel, rel * rel, 0.0, negative, 0, 5, True,
                         in_S_k, 1, 0.0, rel)


def _cps(*points, N=40, wide_n1=72):
    return CriticalPoints(N, {"wide": [64, wide_n1, 10], "narrow": [64, 4, 10]}, 0, "sigmoid", 1, 0, points)


def test_critical_points_explanation_quotes_the_largest_wide_residual():
    """Kills ``s35a-cp-explanation-min-residual``: "all with ‖F_L − Y‖/‖Y‖ ≤ x" is a bound on every point in
    ``S_1``, so ``x`` is their largest residual (1e-12 here, not the smallest 1e-13), and ``Φ ≤`` their largest loss."""
    r = _cps(_cp("wide", 1e-13), _cp("wide", 1e-12), _cp("narrow", 0.3))
    text = critical_points_explanation(r)
    assert f"all with ‖F_L − Y‖/‖Y‖ ≤ {1e-12:.1e} (Φ ≤ {0.5e-24:.1e})" in text, text


def test_critical_points_figure_band_and_fill():
    """Kills ``s35a-cp-band-top-dropped`` and ``s35a-cp-fill-swapped``: the grey band is the undecided interval
    ``[1e-10/10, 1e-10·10]`` around the zero-loss line ``1e-10`` (the documented rule, written out); a point in
    ``S_1`` is a filled marker, one outside ``S_1`` a hollow one."""
    r = _cps(_cp("wide", 1e-13), _cp("wide", 0.3, kind="saddle", in_S_k=False, negative=2), _cp("narrow", 0.3))
    wide_ax = critical_points_figure(r).axes[0]
    (span,) = wide_ax.patches
    assert (span.get_y(), span.get_y() + span.get_height()) == pytest.approx((1e-11, 1e-9), rel=1e-12, abs=0)
    assert [list(ln.get_ydata()) for ln in wide_ax.lines] == [[1e-10, 1e-10]]
    by_label = {c.get_label(): c for c in wide_ax.collections}
    inside = by_label["global minimum Φ = 0, in S₁ (1)"]
    outside = by_label["saddle, Φ > 0 (some < 0), outside S₁ (1)"]
    assert len(inside.get_facecolor()) == 1 and inside.get_facecolor()[0][3] == 1.0  # filled
    assert len(outside.get_facecolor()) == 0 or outside.get_facecolor()[0][3] == 0.0  # hollow
    assert len(outside.get_edgecolor()) == 1 and outside.get_edgecolor()[0][3] == 1.0


def test_critical_points_figure_calls_n1_equal_N_wide():
    """Kills ``s35a-cp-title-strict``: Assumption 4.1 asks ``n_1 ≥ N``, so a layer with ``n_1 = N = 36`` is wide and
    the panel's title says ``≥``; the narrow panel says ``<``."""
    r = _cps(_cp("wide", 1e-13), _cp("narrow", 0.3), N=36, wide_n1=36)
    wide_ax, narrow_ax = critical_points_figure(r).axes
    assert "wide: n₁ = 36 ≥ N = 36" in wide_ax.get_title()
    assert "narrow: n₁ = 4 < N = 36" in narrow_ax.get_title()


def test_critical_points_records_each_search_and_reports_progress_per_run(monkeypatch):
    """Kills ``s35a-cp-progress-from-zero``: ``progress(done, total, message)`` after each run, ``done`` from 1 to
    ``total`` (the last call says the work is complete). The search is a stub returning known numbers, so the
    record is checked field by field: ``relative_residual = ‖r‖/‖Y‖`` with ``‖Y‖ = √N`` for one-hot targets,
    ``relative_loss`` its square, the inertia's counts in their own fields."""
    n, starts, saddle_starts = 10, 2, 1
    total = 2 * (starts + saddle_starts)
    calls, found = [], []

    def search(arch, params, X, Y, *, mode, **kw):
        i = len(found)
        res = types.SimpleNamespace(converged=True, kind="saddle", loss=0.5 * (i + 1.0) ** 2, grad_norm=1e-11 * (i + 1),
                                    inertia=types.SimpleNamespace(negative=1 + i, zero=20 + i, positive=300 + i,
                                                                  conclusive=i % 2 == 0),
                                    in_S_k=i % 2 == 1, iterations=7 + i, seconds=0.25, residual_norm=i + 1.0)
        found.append((arch.widths[1], mode))
        return res

    monkeypatch.setattr(critical, "find_critical_point", search)
    r = critical_points(n, starts=starts, saddle_starts=saddle_starts, seed=0,
                        progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(d, total) for d in range(1, total + 1)]
    assert calls[-1][2] == "critical-points: narrow net, mode any, start 1"
    assert [(p.network, p.mode, p.start) for p in r.points] == [
        (net, m, i) for net in ("wide", "narrow") for m, c in (("minimum", starts), ("any", saddle_starts))
        for i in range(c)]
    assert [w for w, _ in found] == [36] * 3 + [4] * 3
    for i, p in enumerate(r.points):
        rel = (i + 1.0) / math.sqrt(n)
        assert p.relative_residual == pytest.approx(rel, rel=1e-14, abs=0)
        assert p.relative_loss == pytest.approx(rel * rel, rel=1e-14, abs=0)
        assert (p.loss, p.grad_norm, p.iterations) == (0.5 * (i + 1.0) ** 2, 1e-11 * (i + 1), 7 + i)
        assert (p.negative, p.zero, p.positive, p.conclusive, p.in_S_k) == (1 + i, 20 + i, 300 + i, i % 2 == 0,
                                                                           i % 2 == 1)


def test_critical_points_explanation_says_when_the_wide_net_is_not_wide():
    """Library fix (session 35): with ``filters`` below ``N/36`` (the notebook's slider allows ``T = 1`` at
    ``N = 40``) the "wide" net has ``n_1 = 36 < N``; the explanation printed "n_1 = 36 ≥ N = 40" whatever the
    widths. ``rank F_1 ≤ n_1 < N`` leaves ``S_1`` empty, so Theorem 4.5 says nothing and the demo cannot agree."""
    assert wide_and_narrow(40, filters=1)["wide"].widths[1] == 36
    r = _cps(_cp("wide", 0.3, kind="saddle", in_S_k=False, negative=1), _cp("narrow", 0.3), N=40, wide_n1=36)
    text = critical_points_explanation(r)
    assert "wide net (n_1 = 36 < N = 40, narrower than N: Theorem 4.5 does not apply" in text, text
    assert "36 ≥ N" not in text and r.agrees is False
    wide = critical_points_explanation(_cps(_cp("wide", 1e-13), _cp("narrow", 0.3), N=40, wide_n1=72))
    assert "wide net (n_1 = 72 ≥ N = 40): 1 critical points in S_1, all with" in wide, wide
