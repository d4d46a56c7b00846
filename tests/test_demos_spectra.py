"""spectra demo: no negative eigenvalue and P − Nm zeros at the minimum; negative ones at the bad point."""

import numpy as np
import pytest

from theory_lab.demos import render, spectra, spectra_explanation, spectra_figure

N = 10  # P = 713, the same size as the CLI test (compiled once per session)


@pytest.fixture(scope="module")
def result():
    return spectra(N, seed=0)


def test_minimum_has_no_negative_eigenvalue_beyond_tolerance(result):
    m = result.at("minimum")
    assert result.search["converged"] and m.loss < 1e-20
    assert m.method == "exact" and m.negative == 0
    assert m.eigenvalues.min() >= -m.tol  # every eigenvalue above −tol
    assert m.zero >= result.P - result.Nm  # ∇²Φ = JᵀJ has rank ≤ Nm
    assert m.margin >= 10


def test_bad_point_is_a_strict_saddle(result):
    b = result.at("bad")
    assert b.loss > 1 and b.grad_norm < 1e-12
    assert b.negative > 0 and b.positive > 0 and b.margin >= 10
    assert b.eigenvalues.min() < -1e3 * b.tol
    neg_mass, _ = b.density.mass(-np.inf, -b.tol, closed=False)
    assert neg_mass > 0  # SLQ sees the negative part too
    assert result.agrees


def test_lanczos_extremes_match_the_exact_eigenvalues(result):
    for s in result.spectra:
        assert s.converged[0]  # the top pair
        assert abs(s.top[0] - s.eigenvalues.max()) <= 1e-8 * abs(s.eigenvalues.max())
        assert abs(s.density.lambda_max - s.eigenvalues.max()) <= 1e-6 * abs(s.eigenvalues.max())


def test_figure_and_explanation(result):
    fig = spectra_figure(result)
    axes = fig.get_axes()
    assert len(axes) == 2 and all(ax.get_xscale() == "symlog" for ax in axes)
    assert all("eigenvalue λ" in ax.get_xlabel() for ax in axes)
    assert "zero-loss minimum" in axes[0].get_title() and "0 negative" in axes[0].get_title()
    assert fig.legends and render(fig)[:4] == b"\x89PNG"
    text = spectra_explanation(result)
    assert "a strict saddle" in text and "As predicted" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"num_probes": 0}, r"`num_probes`=0 must be a positive integer"),
    ({"k": 0}, r"`k`=0 must be a positive integer"),
    ({"N": 0}, r"`N`=0 must be a positive integer"),
])
def test_bad_arguments(kwargs, match):
    n = kwargs.pop("N", 10)
    with pytest.raises(ValueError, match=match):
        spectra(n, **kwargs)
