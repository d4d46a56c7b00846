"""critical-points demo: wide critical points in S_1 are global minima; the narrow net has minima with Φ > 0."""

import pytest

from theory_lab.demos import critical_points, critical_points_explanation, critical_points_figure, render

N = 40


@pytest.fixture(scope="module")
def result():
    return critical_points(N, starts=10, saddle_starts=1, seed=0)


def test_wide_critical_points_in_S_k_have_zero_loss(result):
    wide = result.select("wide")
    inside = [p for p in wide if p.in_S_k]
    assert len(inside) >= 5  # descent from random starts lands in S_1
    for p in inside:
        assert p.converged and p.grad_norm <= 1e-10
        assert p.loss < 1e-20, p  # Theorem 4.5
        assert p.negative == 0, p
    assert result.wide_in_S_k_zero


def test_wide_points_with_positive_loss_lie_outside_S_k(result):
    """Theorem 4.5 is silent outside S_k: the any-index search finds saddles there, never inside."""
    for p in result.select("wide"):
        if p.loss > 1e-20:
            assert not p.in_S_k, p


def test_narrow_net_has_a_local_minimum_above_zero(result):
    bad = result.narrow_bad_minima
    assert bad, [p.to_dict() for p in result.select("narrow")]
    for p in bad:
        assert p.loss > 1.0 and p.negative == 0 and p.zero == 0 and p.conclusive
        assert p.grad_norm <= 1e-10
    saddles = [p for p in result.select("narrow") if p.kind == "saddle"]
    assert all(p.negative > 0 for p in saddles)


def test_critical_points_relative_loss_is_over_half_the_target_norm(result):
    """Planted bug: ``relative_loss`` divided by ``‖Y‖²`` instead of ``½‖Y‖²`` (then ``zero_loss`` and the
    wide half of the verdict use a threshold twice too loose). One-hot targets: ``½‖Y‖² = N/2``. (From
    tests/test_planted_bugs_s21_demos.py, which ran the demo again at ``N = 10``; session 35.)"""
    assert any(p.loss > 1.0 for p in result.points)  # a factor of 2 shows on these (not only on Φ = 0)
    for p in result.points:
        assert p.relative_loss == pytest.approx(p.loss / (N / 2), rel=1e-12, abs=0)


def test_unconverged_runs_are_not_critical_points(result):
    for p in result.points:
        if not p.converged:
            assert p.kind == "not converged" and p.negative is None


def test_figure_and_explanation(result):
    fig = critical_points_figure(result)
    axes = fig.get_axes()
    assert len(axes) == 2 and all(ax.get_yscale() == "log" for ax in axes)
    assert all("negative Hessian eigenvalues" in ax.get_xlabel() for ax in axes)
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert any(label.startswith("global minimum Φ = 0, in S₁") for label in labels)
    assert "≥ N = 40" in axes[0].get_title() and "< N = 40" in axes[1].get_title()
    assert render(fig)[:4] == b"\x89PNG"
    text = critical_points_explanation(result)
    assert text.startswith("Theorem 4.5") and "strict local minima with Φ > 0: " in text


@pytest.mark.parametrize("kwargs, match", [
    ({"starts": 0}, r"`starts`=0 must be a positive integer"),
    ({"saddle_starts": -1}, r"`saddle_starts`=-1 must be a non-negative integer"),
    ({"seed": -2}, r"`seed`=-2 must be a non-negative integer"),
    ({"max_iter": 0}, r"`max_iter`=0 must be a positive integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        critical_points(10, **kwargs)


def test_json_records_the_data(result):
    """Issue 9.11: the data set, N, noise and seed are in the demo's JSON."""
    assert result.to_dict()["datasets"] == [{"name": "digits", "N": N, "noise": 1e-6, "seed": 0}]


def _point(network, *, kind="minimum", relative_loss=0.0, in_S_k=True, conclusive=True):
    from theory_lab.demos._critical_points import CriticalPoint

    return CriticalPoint(network, "minimum", 0, True, kind, relative_loss, relative_loss, 0.0, 0, 0, 5, conclusive,
                         in_S_k, 1, 0.0, relative_loss ** 0.5)


@pytest.mark.parametrize("wide_loss, narrow_loss, agrees", [(0.0, 0.3, True), (0.2, 0.3, False), (0.0, 0.0, False)])
def test_the_demo_agrees_only_when_both_halves_of_the_prediction_hold(wide_loss, narrow_loss, agrees):
    """Both halves are needed (a planted ``or`` for ``and`` in the verdict passed every other test): a wide point in
    ``S_1`` with ``Φ > 0`` refutes Theorem 4.5, and no bad narrow minimum leaves the converse unshown."""
    from theory_lab.demos._critical_points import CriticalPoints

    result = CriticalPoints(4, {}, 0, "sigmoid", 1, 0, (_point("wide", relative_loss=wide_loss),
                                                      _point("narrow", relative_loss=narrow_loss)))
    assert result.agrees is agrees and result.to_dict()["agrees"] is agrees
