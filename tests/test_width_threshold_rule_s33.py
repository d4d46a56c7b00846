"""Session 33 (s33-f): the width-threshold demo decides each exact fit's zero loss by the solve's rounding.

Its points are exact fits (Corollary 3.6's ``λ`` from a backward-stable solve), so ``‖F_L − Y‖`` is compared with
``tolerances.fit_residual_tol`` on that fit (``γ(‖F_1‖_F‖λ‖_F + ‖Y‖_F)``, ``γ = max(N, n_1)·eps``, band 10), as the
``corollary-3.6`` check does, not with the solver points' ``1e-10‖Y‖``. docs/planted_bugs.md "Session 33 — the
width-threshold demo decides exact fits by the solve's rounding".
"""

import dataclasses
import math

import numpy as np
import pytest

from theory_lab import tolerances as T
from theory_lab.demos import common
from theory_lab.demos._width_threshold import (FitPoint, WidthThreshold, exact_fit_zero, fit_tolerance,
                                               width_threshold, width_threshold_explanation)

TINY = 2.0 ** -530


def _tol(value):
    return T.Tolerance(value, 10.0, "exact-fit residual", "test")


@pytest.mark.parametrize("value", [10 * 2.0 ** -40, 10 * 2.0 ** -570, 10.0])
def test_decision_is_the_band_around_the_fit_tolerance(value):
    """Zero at margin ≥ 10 below the tolerance (exactly 10 decides), positive at ≥ 10 above, undecided strictly
    inside; the ratio ``‖r‖/tol`` is returned. The same at a tolerance of 1e-171 (targets at ``2^-560``). The
    tolerances are ``10·2^k`` so that ``tol/10`` and ``10·tol`` are exact."""
    t = _tol(value)
    for r, expected in ((0.0, True), (value * 1e-3, True), (value / 10, True), (value / 10 * (1 + 1e-9), None),
                        (value, None), (value * 9.99, None), (value * 10, False), (value * 1e6, False)):
        ratio, zero = exact_fit_zero(r, t)
        assert zero is expected, (r / value, value)
        assert ratio == pytest.approx(r / value, rel=1e-15, abs=0)


def test_decision_edge_cases_and_bad_residuals():
    assert exact_fit_zero(0.0, _tol(0.0)) == (0.0, True)
    assert exact_fit_zero(1e-300, _tol(0.0)) == (math.inf, False)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match=r"`residual_norm`=.* must be a norm, a finite number >= 0"):
            exact_fit_zero(bad, _tol(1.0))


def test_fit_tolerance_is_fit_residual_tol_with_scaled_norms():
    """``fit_tolerance(F_1, λ, Y)`` is ``fit_residual_tol(F_1.shape, ‖F_1‖, ‖λ‖, ‖Y‖)``; with ``(λ, Y)`` at ``2^-530``
    (``‖λ‖²`` subnormal) it is exactly ``2^-530`` times the tolerance at scale 1, and the Tolerance accepts it."""
    rng = np.random.default_rng(7)
    F, lam, Y = rng.standard_normal((6, 8)), rng.standard_normal((8, 3)), rng.standard_normal((6, 3))
    t = fit_tolerance(F, lam, Y)
    gamma = 8 * T.EPS
    expected = gamma * (np.linalg.norm(F) * np.linalg.norm(lam) + np.linalg.norm(Y))
    assert t.value == pytest.approx(expected, rel=1e-13, abs=0) and t.band == 10.0 and t.name == "exact-fit residual"
    tiny = fit_tolerance(F, TINY * lam, TINY * Y)
    assert tiny.value == t.value * TINY and 0 < tiny.value < 1e-170
    with pytest.raises(ValueError, match=r"`F_1` contains NaN or Inf"):
        fit_tolerance(np.full((2, 3), np.nan), lam[:3], Y[:2])


def _recording(monkeypatch):
    from theory_lab import exact_fit as EF

    real, calls = EF.exact_fit, []

    def fit(F, y, **kw):
        out = real(F, y, **kw)
        calls.append((np.asarray(F), np.asarray(y), out.lam))
        return out

    monkeypatch.setattr(EF, "exact_fit", fit)
    return calls


def test_each_point_is_decided_on_its_own_fit(monkeypatch):
    """Every point's ``tolerance`` is ``fit_residual_tol`` of the ``F_1``, ``λ`` and ``Y`` its fit used (recorded
    here), ``residual_ratio = ‖F_L − Y‖/tol`` and ``zero_loss`` that ratio's decision: narrow (``n_1 = 36 < 40``)
    positive by ~10¹⁰, wide (72) zero by more than 10² (the solve's residual is ~10³ below its tolerance)."""
    calls = _recording(monkeypatch)
    r = width_threshold(40, filters=(1, 2), draws=1, seed=0)
    # calls run per width, then per labelling (true, random); points are sorted by labelling, then width
    fits = {(F.shape[1], ("true", "random")[i % 2]): (F, y, lam) for i, (F, y, lam) in enumerate(calls)}
    assert len(fits) == len(calls) == len(r.points) == 4
    for p in r.points:
        F, y, lam = fits[(p.n1, p.labels)]
        tol = T.fit_residual_tol(F.shape, T.frobenius_norm(F), T.frobenius_norm(lam), T.frobenius_norm(y))
        assert p.tolerance == pytest.approx(tol.value, rel=1e-12, abs=0)
        assert p.residual_ratio == pytest.approx(p.relative_residual * T.frobenius_norm(y) / p.tolerance,
                                                 rel=1e-12, abs=0)
        assert p.zero_loss is exact_fit_zero(p.residual_ratio * p.tolerance, tol)[1]
        if p.n1 < 40:
            assert p.zero_loss is False and p.residual_ratio > 1e9
        else:
            assert p.zero_loss is True and p.residual_ratio < 1e-2
    assert r.threshold_ok


def test_square_ill_conditioned_fit_is_zero_because_the_tolerance_carries_lambda(monkeypatch):
    """At ``n_1 = N = 360`` (``F_1`` square, ``σ_min ~ 1e-5``) the random-label fit leaves ``‖r‖ ≈ 6e-11‖Y‖``: inside
    the 1e-10‖Y‖ rule's band (undecided; the default demo was "not decided" after s33-b), while its exact-fit
    tolerance, dominated by ``‖F_1‖‖λ‖`` (``‖λ‖`` large), puts it ~10³ below: zero loss, ``threshold_ok``. Without the
    ``‖λ‖`` term (``γ‖Y‖`` alone) the same residual would be 10²–10³ *above*: the term is what models this error."""
    calls = _recording(monkeypatch)
    r = width_threshold(360, filters=(10,), draws=1, seed=0)
    assert [p.n1 for p in r.points] == [360, 360] and all(p.rank == 360 and p.conclusive for p in r.points)
    for p, (F, y, lam) in zip(r.points, calls, strict=True):
        assert p.zero_loss is True and p.residual_ratio < 1e-2 and p.error == 0
        ynorm = T.frobenius_norm(y)
        without_lam = T.fit_residual_tol(F.shape, T.frobenius_norm(F), 0.0, ynorm)
        assert p.relative_residual * ynorm > 10 * without_lam.value  # positive under a tolerance without ‖λ‖
    rnd = r.select("random")[0]
    assert common.zero_residual(rnd.relative_residual, [[1.0]])[1] is None  # the solver points' rule: undecided
    assert r.threshold_ok and r.undecided() == []


def _point(n1, ratio, zero, labels="random", error=0.0):
    return FitPoint(labels, n1 // 36, n1, 0, 0.0, 0.0, error, 20, 0.1, True, zero, 0.0, 1e-12, ratio)


def test_explanation_and_table_name_the_rule_applied():
    """The explanation gives the worst ``‖r‖/tol`` against "the solve's rounding" (decided, undecided), and the
    command's table caption states ``tol = γ(‖F_1‖‖λ‖ + ‖Y‖)``, not 1e-10·‖Y‖, with a ``‖r‖/tol`` column."""
    from rich.console import Console

    from theory_lab.commands.demo import _width_threshold_table

    ok = WidthThreshold(20, (1,), 1, 0, "sigmoid", (_point(36, 3e-4, True), _point(36, 2e-3, True, "true")))
    assert ok.threshold_ok and "at most 0.002 times the solve's rounding" in width_threshold_explanation(ok)
    open_ = WidthThreshold(20, (1,), 1, 0, "sigmoid", (_point(36, 2.5, None), _point(36, 2e-3, True, "true")))
    text = width_threshold_explanation(open_)
    assert not open_.threshold_ok and "not decided: 1 fits" in text and "up to 2.5 times the solve's rounding" in text
    assert "1e-10" not in text
    console = Console(width=200, record=True)
    console.print(_width_threshold_table(ok))
    shown = console.export_text()
    assert "γ(‖F_1‖‖λ‖ + ‖Y‖)" in shown and "‖r‖/tol random" in shown and "1e-10" not in shown
    assert "3.0e-04" in shown


def test_the_other_demos_keep_the_solver_points_rule():
    """Only the exact fits moved: the critical-points and spectra demos' solver points still use
    ``common.zero_residual`` (1e-10‖Y‖, band 10), whose numbers are unchanged."""
    from theory_lab.demos import _critical_points, _spectra

    assert "zero_residual(" in _source(_critical_points) and "zero_residual(" in _source(_spectra)
    assert common.zero_residual(5e-10, [[0.0, 1.0]]) == (5e-10, None)


def _source(module):
    import inspect

    return inspect.getsource(module)


def test_fit_point_defaults_keep_old_positional_construction():
    """Hand-built points (older tests construct ``FitPoint`` positionally) get NaN tolerance and ratio, not 0."""
    p = FitPoint("true", 1, 36, 0, 0.0, 0.0, 0.0, 20, 0.1, True, True)
    assert math.isnan(p.tolerance) and math.isnan(p.residual_ratio)
    assert dataclasses.asdict(p).keys() == p.to_dict().keys()
