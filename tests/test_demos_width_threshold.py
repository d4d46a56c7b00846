"""width-threshold demo: the exact fit reaches zero loss and zero error from n_1 = N on, not for n_1 ≪ N."""

import numpy as np
import pytest

from theory_lab.demos import render, width_threshold, width_threshold_explanation, width_threshold_figure

N = 100  # T = 1: n_1 = 36 ≈ 0.36 N; T = 3: n_1 = 108 ≥ N


@pytest.fixture(scope="module")
def result():
    return width_threshold(N, filters=(1, 3), draws=2, seed=0)


def test_zero_loss_and_error_from_n1_equal_N(result):
    wide = [p for p in result.points if p.n1 >= N]
    assert len(wide) == 4  # two labellings, two draws
    for p in wide:
        assert p.rank == N and p.conclusive, p
        assert p.zero_loss is True and p.relative_residual <= 1e-11 and p.loss < 1e-20 and p.error == 0.0, p
    assert result.threshold_ok


def test_no_fit_of_random_labels_when_narrow(result):
    narrow = [p for p in result.select("random") if p.n1 < N]
    assert narrow and all(p.rank == p.n1 for p in narrow)
    for p in narrow:
        assert p.relative_loss > 0.1 and p.error > 0.05, p  # far from zero: not a rounding question
        assert not p.zero_loss


def test_true_labels_fit_better_than_random_below_N(result):
    """The digits' own labels are easier than random ones at the same narrow width."""
    true = [p.relative_loss for p in result.select("true") if p.n1 < N]
    rand = [p.relative_loss for p in result.select("random") if p.n1 < N]
    assert max(true) < min(rand)


def test_random_labels_depend_on_the_seed():
    a = width_threshold(20, filters=(1,), draws=1, seed=0)
    b = width_threshold(20, filters=(1,), draws=1, seed=1)
    assert a.select("random")[0].loss != b.select("random")[0].loss or \
        a.select("random")[0].sigma_min != b.select("random")[0].sigma_min


def test_figure_and_explanation(result):
    fig = width_threshold_figure(result)
    left, right = fig.get_axes()
    assert left.get_yscale() == "log" and "Φ" in left.get_ylabel() and "%" in right.get_ylabel()
    assert all("n₁ / N" in ax.get_xlabel() for ax in (left, right))
    assert all(any(np.all(np.asarray(line.get_xdata()) == 1.0) for line in ax.get_lines()) for ax in (left, right))
    assert {t.get_text() for t in left.get_legend().get_texts()} >= {"true labels (2 draws)",
                                                                      "random labels (2 draws)"}
    assert render(fig)[:4] == b"\x89PNG"
    text = width_threshold_explanation(result)
    assert text.startswith("Corollary 3.6") and "Φ = 0 from n_1/N = 1.08" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"N": 0}, r"`N`=0 must be a positive integer"),
    ({"N": 2000}, r"`N`=2000 exceeds the 1797 bundled digits"),
    ({"N": 10, "draws": 0}, r"`draws`=0 must be a positive integer"),
    ({"N": 10, "activation": "nope"}, r"`activation`='nope' is unknown; choose one of"),
    ({"N": 10, "filters": ()}, r"`filters` is empty"),
])
def test_bad_arguments(kwargs, match):
    n = kwargs.pop("N")
    with pytest.raises(ValueError, match=match):
        width_threshold(n, **kwargs)
