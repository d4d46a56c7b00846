"""slices demo: each minimum is a minimum along every slice; the bad point descends along its bottom eigenvector."""

import numpy as np
import pytest

from theory_lab.demos import render, slices, slices_explanation, slices_figure

N = 10


@pytest.fixture(scope="module")
def result():
    # grid 13 = 2 · 6 + 1: every other point of a 1-D slice is a point of the 7 × 7 plane (see
    # test_slices_plane_axes_and_tolerance_on_a_small_run, which ran the demo a second time until session 35)
    return slices(N, seed=0, grid=13, grid2d=7, radius=0.5)


@pytest.mark.parametrize("point", ["wide minimum", "narrow minimum"])
def test_minima_are_minima_along_each_slice(result, point):
    p = result.at(point)
    assert p.grad_norm <= 1e-10
    for s in p.slices:
        centre = s.values[len(s.t) // 2]
        assert s.t[len(s.t) // 2] == 0.0 and abs(centre - p.loss) <= p.tol
        assert np.all(s.values >= p.loss - p.tol), (point, s.direction)
        assert s.curvature >= -1e-8 * abs(p.slices[0].curvature)
    assert p.rises_everywhere and np.all(p.plane >= p.loss - p.tol)


def test_narrow_minimum_is_above_zero_and_wide_minimum_at_zero(result):
    assert result.at("narrow minimum").loss > 1.0
    assert result.at("wide minimum").loss < 1e-20


def test_bad_point_is_a_saddle_along_the_slices(result):
    p = result.at("bad point")
    assert p.along("bottom").curvature < 0 and p.descends("bottom")
    assert p.along("top").curvature > 0 and not p.descends("top")
    assert not p.rises_everywhere and p.plane.min() < p.loss - p.tol
    assert result.agrees


def test_slices_follow_the_quadratic_model_near_the_point(result):
    """Φ(θ + t v) − Φ(θ) ≈ ½ t² vᵀ∇²Φv for small t (the gradient vanishes)."""
    p = result.at("narrow minimum")
    s = p.along("top")
    i = len(s.t) // 2 + 1
    model = 0.5 * s.curvature * s.t[i] ** 2
    assert abs((s.values[i] - p.loss) - model) <= 0.2 * model


def test_figure_and_explanation(result):
    fig = slices_figure(result)
    axes = [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>"]
    assert len(axes) == 12
    assert axes[0].get_xlabel() == "step t along the unit direction v"
    assert "WIDE MINIMUM" in axes[0].get_ylabel() and axes[0].get_legend() is not None
    assert render(fig)[:4] == b"\x89PNG"
    assert "As predicted" in slices_explanation(result)


@pytest.mark.parametrize("kwargs, match", [
    ({"grid": 10}, r"`grid`=10 and `grid2d`=31 must be odd and at least 3"),
    ({"radius": -1.0}, r"`radius`=-1.0 must be a positive finite number"),
    ({"starts": 0}, r"`starts`=0 must be a positive integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        slices(10, **kwargs)


def test_json_records_the_data(result):
    """Issue 9.11: both nets' data (wide: N digits, narrow: narrow_N digits) are in the demo's JSON."""
    assert result.to_dict()["datasets"] == [{"name": "digits", "N": N, "noise": 1e-6, "seed": 0},
                                            {"name": "digits", "N": result.narrow_N, "noise": 1e-6, "seed": 0}]


def test_slices_plane_axes_and_tolerance_on_a_small_run(result):
    """Planted bugs: the 2-D plane built with its axes swapped (documented ``plane[i, j] = Φ(θ + a_i v_random
    + b_j v_bottom)``); the tolerance ``tol`` far above the rounding level of ``Φ`` (a factor ``1e13·eps``
    instead of ``1e3·eps``), which would call real descents "rounding".

    The 1-D grid (13 points) holds the plane's 7 coordinates at every other point, so the plane's middle row is
    the bottom slice and its middle column the random slice there. (From tests/test_planted_bugs_s21_demos.py,
    which ran the demo again with ``grid=7``; session 35.)
    """
    assert result.grid == 2 * (result.grid2d - 1) + 1
    for p in result.points:
        mid = result.grid2d // 2
        np.testing.assert_allclose(p.along("bottom").t[::2], np.linspace(-result.radius, result.radius, result.grid2d),
                                   rtol=0, atol=1e-15)
        # equal to rounding: the 1-D and 2-D grids are different vmapped batches
        np.testing.assert_allclose(p.plane[mid, :], p.along("bottom").values[::2], rtol=1e-9, atol=p.tol)
        np.testing.assert_allclose(p.plane[:, mid], p.along("random").values[::2], rtol=1e-9, atol=p.tol)
        scale = max(p.loss, 0.5 * N)  # one-hot targets of the wide net: ½‖Y‖² = N/2
        if p.network == "narrow":
            scale = max(p.loss, 0.5 * result.narrow_N)
        assert 0 < p.tol <= 1e-10 * scale
