"""slices demo: each minimum is a minimum along every slice; the bad point descends along its bottom eigenvector."""

import numpy as np
import pytest

from theory_lab.demos import render, slices, slices_explanation, slices_figure

N = 10


@pytest.fixture(scope="module")
def result():
    return slices(N, seed=0, grid=11, grid2d=7, radius=0.5)


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
