"""The critical tolerance at every scale of the targets (:func:`theory_lab.tolerances.critical_tol` with ``outputs``).

``Φ(λ) = ½‖Fλ − Y‖²`` has ``J = F`` and ``∇Φ = Fᵀr``: an exact fit is critical (its residual is rounding) and a fit
left at a residual ``3e-9 ‖Y‖`` along ``F``'s top left singular vector is not (``‖Fᵀr‖`` is 30 times the
threshold). Both must read the same whether the targets are ~1 or ~1e-12: the rule is scale-invariant."""

from __future__ import annotations

import numpy as np
import pytest

from theory_lab import exact_fit
from theory_lab import tolerances as T
from theory_lab.checking import Evidence


def _fits(scale: float):
    rng = np.random.default_rng(0)
    F = rng.standard_normal((40, 60))
    Y = scale * rng.standard_normal((40, 3))
    lam = exact_fit.exact_fit(F, Y).lam
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    r_off = np.outer(U[:, 0], np.ones(3))
    r_off *= 3e-9 * np.linalg.norm(Y) / np.linalg.norm(r_off)
    return F, Y, lam, s[0], r_off


@pytest.mark.parametrize("scale", [1.0, 1e-12, 1e12])
def test_an_exact_fit_is_critical_and_a_3e9_residual_is_not_at_any_scale(scale):
    F, Y, lam, s1, r_off = _fits(scale)
    tol = T.critical_tol(s1, Y, outputs=F @ lam)
    at_fit = Evidence().at_most("‖Fᵀr‖ at the exact fit", float(np.linalg.norm(F.T @ (F @ lam - Y))), tol)
    off = Evidence().at_least("‖Fᵀr‖ off the fit", float(np.linalg.norm(F.T @ r_off)), tol)
    assert at_fit.holds and at_fit.conclusive and off.holds and off.conclusive


def test_without_outputs_the_floor_calls_a_tiny_non_critical_point_critical():
    """Why ``outputs`` exists: the floor ``max(‖Y‖, 1)`` makes the 3e-9 residual at targets ~1e-12 'critical'."""
    F, Y, lam, s1, r_off = _fits(1e-12)
    assert float(np.linalg.norm(F.T @ r_off)) < T.critical_tol(s1, Y).value


def test_the_scale_is_the_larger_of_targets_and_outputs():
    Y, big = np.full((2, 1), 1e-6), np.full((2, 1), 3.0)
    assert T.critical_tol(1.0, Y, outputs=big).value == pytest.approx(1e-10 * np.linalg.norm(big), rel=1e-15, abs=0)
    assert T.critical_tol(1.0, big, outputs=Y).value == pytest.approx(1e-10 * np.linalg.norm(big), rel=1e-15, abs=0)
    assert T.critical_tol(1.0, np.zeros((2, 1)), outputs=np.zeros((2, 1))).value == pytest.approx(1e-10, rel=1e-15, abs=0)
    assert T.critical_tol(1.0, Y).value == pytest.approx(1e-10, rel=1e-15, abs=0)  # no outputs: the floor of 1 stays
