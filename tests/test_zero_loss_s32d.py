"""Session 32 (d): zero loss decided on ‖F_L − Y‖ everywhere, and S_k membership at any scale of a layer.

Every power of two below is exact: scaling the output layer (and the targets) by ``2^-530`` scales ``F_L``,
``F_L − Y`` and ``U_L`` exactly, so a rule that is right at scale 1 must decide the same there. ``Φ = ½‖r‖²``
at that scale (~1e-320) is flushed to 0 and so is ``zero_loss_tol`` (~1e-340): the old comparisons read
``0 ≤ 0``. Each moved comparison also gets a wrong quantity that turns its verdict to *fails*.
"""

from __future__ import annotations

import types

import jax
import numpy as np
import pytest

from proofs_checks import curvature as C
from proofs_checks import loss_surface as LSC
from proofs_checks import s4_instances as S
from theory_lab import critical, model
from theory_lab import derivatives as D
from theory_lab import loss_surface as LS
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Context, Hypothesis, Verdict, conclude
from theory_lab.evidence import Evidence
from theory_lab.sampling import sample_params, with_layer

TINY = 2.0 ** -530
HUGE = 2.0 ** 500
ARCH2 = Architecture((5,), (Dense(8), Output(3)))  # k = 1 = L − 1: S_1 is rank F_1 = N, no U_l to judge


def _scaled_output(arch, params, s):
    L = arch.L
    return with_layer(params, L, W=np.asarray(params[f"layer_{L}"]["W"]) * s, b=np.asarray(params[f"layer_{L}"]["b"]) * s)


def _two_layer(s=1.0):
    """A random point of ``ARCH2`` on N = 6 samples (rank F_1 = 6 ≤ n_1 = 8), output layer and targets × ``s``."""
    rng = np.random.default_rng(3)
    p = sample_params(ARCH2, rng)
    X, Y = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    return _scaled_output(ARCH2, p, s), X, s * Y


def _stub(params, X, Y, **over):
    """A search result at ``params`` reporting what is true there (``loss``, ``residual_norm``, ``grad_norm``)."""
    obj = D.objective(ARCH2)
    theta = obj.layout.ravel(params)
    out = dict(params=params, loss=float(D.loss(obj, theta, X, Y)), iterations=0, converged=True, kind="unclassified",
               residual_norm=T.frobenius_norm(D.residuals(obj, theta, X, Y)),
               grad_norm=T.frobenius_norm(D.gradient(obj, theta, X, Y)))
    out.update(over)
    return types.SimpleNamespace(**out)


def _verdict(ev):
    return conclude("claim", [Hypothesis("h", True)], ev).verdict


# ----------------------------------------------------------------------------- the search's residual norm


def test_search_reports_the_residual_norm_where_the_loss_underflows():
    p, X, Y = _two_layer(TINY)
    res = critical.find_critical_point(ARCH2, p, X, Y, k=1, classify=False, max_iter=1)
    r = np.asarray(model.apply(ARCH2, res.params, X)) - Y
    assert res.residual_norm == pytest.approx(T.frobenius_norm(r), rel=1e-14, abs=0)  # ~1e-160: abs=0
    assert 1e-162 < res.residual_norm < 1e-158 and res.loss < 1e-300  # Φ is (nearly) 0: no use for a decision
    assert res.to_dict()["residual_norm"] == res.residual_norm
    q, X1, Y1 = _two_layer(1.0)
    one = critical.find_critical_point(ARCH2, q, X1, Y1, k=1, classify=False, max_iter=1)
    assert one.residual_norm == pytest.approx(np.sqrt(2 * one.loss), rel=1e-12)


# ----------------------------------------------------------------------------- observe_critical_point


@pytest.mark.parametrize("s", [1.0, TINY])
def test_a_reported_zero_gradient_at_positive_loss_fails_at_every_scale(s):
    """A point of S_1 with ‖r‖ ~ 3 (× s) reported critical (‖∇Φ‖ = 0): Lemma 4.3 (c = σ_min(F_1)) refutes it.

    At 2^-530 the old comparison ``Φ ≤ zero_loss_tol`` read 0 ≤ 0 and the observation *held*."""
    p, X, Y = _two_layer(s)
    res = _stub(p, X, Y, grad_norm=0.0)
    ev = Evidence()
    row = S.observe_critical_point(ev, "misreported", ARCH2, res, X, Y, 1)
    assert row["critical"] and row["in_S_k"] and row["S_k_conclusive"]
    assert row["residual_norm"] > 1e3 * row["lemma_4_3_r_max"]
    assert _verdict(ev) is Verdict.FAILS
    if s == TINY:
        assert res.loss <= T.zero_loss_tol(Y).value  # the old decision: "zero loss", wrongly


def _fitted(s=1.0):
    """``ARCH2`` with the output layer fitted exactly (N = 6 ≤ n_1, least squares): a zero-loss critical point."""
    p, X, Y = _two_layer(1.0)
    F = np.asarray(model.features(ARCH2, p, X)[1])
    lam, *_ = np.linalg.lstsq(np.concatenate([F, np.ones((6, 1))], 1), Y, rcond=None)
    q = with_layer(p, 2, W=lam[:-1] * s, b=lam[-1] * s)
    return q, X, Y * s


@pytest.mark.parametrize("s", [1.0, TINY])
def test_a_zero_loss_point_holds_and_an_over_reported_residual_fails(s):
    q, X, Y = _fitted(s)
    res = _stub(q, X, Y)
    ev = Evidence()
    row = S.observe_critical_point(ev, "fit", ARCH2, res, X, Y, 1)
    assert row["critical"] and row["in_S_k"] and _verdict(ev) is Verdict.HOLDS
    assert row["residual_norm"] < 1e-3 * row["zero_residual_tol"]
    wrong = _stub(q, X, Y, residual_norm=res.residual_norm + 1e-6 * T.frobenius_norm(Y))  # a residual 1e-6 ‖Y‖ more
    ev = Evidence()
    row = S.observe_critical_point(ev, "fit", ARCH2, wrong, X, Y, 1)
    assert row["lemma_4_3_r_max"] < 1e-3 * row["residual_norm"]
    assert _verdict(ev) is Verdict.FAILS


# ----------------------------------------------------------------------------- class targets, narrow


def test_class_targets_a_residual_reported_zero_at_random_starts_fails(monkeypatch):
    """The search reporting ‖F_L − Y‖ = 0 where it stopped (its start): random points of S_1 with [F_{L-1}, 1] of
    full column rank would be zero-loss points inside S_1, which the premise forbids: *fails*."""
    monkeypatch.setattr(critical, "find_critical_point",
                        lambda arch, params, X, Y, **kw: types.SimpleNamespace(params=params, loss=0.0,
                                                                              residual_norm=0.0, grad_norm=0.0))
    r = LSC._class_targets_outside(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary


def test_narrow_a_residual_under_reported_1e12_times_fails(monkeypatch):
    """narrow-critical-points (a converse: critical points of a narrow net with Φ > 0) with the search's
    ‖F_L − Y‖ under-reported 1e12×: every critical point then reads as a zero-loss minimum, the converse *fails*."""
    real = critical.find_critical_point

    def under(*a, **kw):
        res = real(*a, **kw)
        res.residual_norm *= 1e-12
        return res
    monkeypatch.setattr(LSC, "NARROW_STARTS", (("minimum", 2),))
    monkeypatch.setattr(critical, "find_critical_point", under)
    r = LSC._narrow_check(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    monkeypatch.setattr(critical, "find_critical_point", real)
    assert LSC._narrow_check(Context(0)).verdict is Verdict.HOLDS


# ----------------------------------------------------------------------------- curvature


def _scaled_bad_point(monkeypatch, s):
    real = C.bad_critical_point

    def scaled(ctx, *, constant_targets=False):
        arch, X, Y, p, k = real(ctx, constant_targets=constant_targets)
        return arch, X, Y * s, _scaled_output(arch, p, s), k  # U_L = 0, b_L = ȳ s: the bad point of Y s
    monkeypatch.setattr(C, "bad_critical_point", scaled)


@pytest.mark.parametrize("s", [1.0, TINY])
def test_critical_full_row_rank_converse_holds_at_every_scale(monkeypatch, s):
    """At the bad critical point ‖r‖ = ‖Y − 1ȳᵀ‖ > 0 with J rank deficient: the converse holds. At 2^-530 the old
    ``Φ ≤ zero_loss_tol`` read 0 ≤ 0, "r = 0", and the converse *failed*."""
    _scaled_bad_point(monkeypatch, s)
    r = C._critical_converse(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    arch, X, Y, p, _ = C.bad_critical_point(Context(0))
    rep = C.hessian_report(arch, p, X, Y)
    if s == TINY:
        assert rep["loss"] <= T.zero_loss_tol(Y).value  # the old decision, wrong
    assert T.frobenius_norm(rep["r"]) > 1e6 * T.zero_residual_tol(Y).value


def test_critical_full_row_rank_converse_fails_on_residuals_under_reported(monkeypatch):
    real = D.residuals
    monkeypatch.setattr(D, "residuals", lambda obj, theta, X, Y: 1e-12 * real(obj, theta, X, Y))
    assert C._critical_converse(Context(0)).verdict is Verdict.FAILS


@pytest.mark.parametrize("s", [1.0, TINY, 2.0 ** -560, HUGE])
def test_bad_point_hypotheses_see_non_constant_targets_at_every_scale(s):
    """``targets not constant``: ‖Y − 1ȳᵀ‖ > zero_residual_tol. At 2^-560 the old ½‖Y − 1ȳᵀ‖² > zero_loss_tol
    read 0 > 0 (numpy keeps ~1e-320 at 2^-530, loses it below): "constant", bad-critical-point *not applicable*.
    Constant targets stay constant."""
    arch = Architecture((3,), (Dense(4), Dense(3), Output(2)))
    Y = s * np.random.default_rng(0).standard_normal((5, 2))
    hyps, _ = C._bad_hypotheses(arch, None, Y, 1)
    assert hyps[0].met
    flat = np.repeat(Y[:1], 5, axis=0)
    assert not C._bad_hypotheses(arch, None, flat, 1)[0][0].met


def test_bad_critical_converse_fails_when_a_residual_is_invented(monkeypatch):
    """Constant targets: the bad point fits them, r = 0 (the converse holds). Residuals reported 1e-6 off make
    ``‖r‖ > 0`` hold where the hypothesis is broken: the converse *fails*."""
    assert C._bad_critical_converse(Context(0)).verdict is Verdict.HOLDS
    real = D.residuals
    monkeypatch.setattr(D, "residuals", lambda obj, theta, X, Y: real(obj, theta, X, Y) + 1e-6)
    assert C._bad_critical_converse(Context(0)).verdict is Verdict.FAILS


# ----------------------------------------------------------------------------- S_k membership at any scale


def _net(hidden=5, m=4):
    arch = Architecture((3,), (Dense(6), Dense(hidden), Output(m)))
    rng = np.random.default_rng(0)
    return arch, sample_params(arch, rng), rng.standard_normal((5, 3))


@pytest.mark.parametrize("s", [TINY, HUGE])
def test_an_exactly_scaled_output_layer_keeps_its_membership(s):
    """U_3 × 2^-530 (or 2^500) is exactly as full rank as unscaled: each U_l is judged at its own SVD rounding.
    Before session 32 the tolerance was relative to max|θ| and U_3 at 2^-530 had rank 0 (outside S_1)."""
    arch, p, X = _net()
    one, scaled = LS.membership(arch, p, X, 1), LS.membership(arch, _scaled_output(arch, p, s), X, 1)
    assert one.member and one.conclusive
    assert scaled.member == one.member and scaled.conclusive
    assert scaled.U[3].rank == one.U[3].rank == 4
    assert scaled.U[3].tol == pytest.approx(s * one.U[3].tol, rel=1e-12, abs=0)
    assert scaled.U[3].margin == pytest.approx(one.U[3].margin, rel=1e-9)


@pytest.mark.parametrize("s", [TINY, 1.0, HUGE])
def test_a_truly_rank_deficient_U_l_is_reported_at_every_scale(s):
    """A duplicated column of U_3 (5 × 4: rank 3) and a duplicated row of U_3 (3 × 4, wide: rank 2) are not full
    rank, conclusively, at every scale: the per-matrix rule does not lose a real deficit."""
    arch, p, X = _net()
    W = np.asarray(p["layer_3"]["W"]).copy()
    W[:, 3] = W[:, 1]
    m = LS.membership(arch, with_layer(p, 3, W=s * W, b=s * np.asarray(p["layer_3"]["b"])), X, 1)
    assert m.U[3].rank == 3 and not m.member and m.conclusive
    arch, p, X = _net(hidden=3)
    W = np.asarray(p["layer_3"]["W"]).copy()
    W[2] = W[0]
    m = LS.membership(arch, with_layer(p, 3, W=s * W), X, 1)
    assert m.U[3].rank == 2 and not m.member and m.conclusive


def test_a_solver_point_still_judges_U_l_against_all_of_theta():
    """At a solver's output (``forward_rtol``) the forward error perturbs all of θ: U_3 at 2^-530 next to O(1)
    hidden layers is within it of 0, rank 0 (outside S_1), while the exactly drawn point is inside."""
    arch, p, X = _net()
    q = _scaled_output(arch, p, TINY)
    assert LS.membership(arch, p, X, 1, forward_rtol=T.FORWARD_RTOL).member
    m = LS.membership(arch, q, X, 1, forward_rtol=T.FORWARD_RTOL)
    assert m.U[3].rank == 0 and not m.member and m.conclusive
    assert LS.membership(arch, q, X, 1).member


def test_the_zero_output_layer_of_the_bad_point_is_rank_zero():
    """U_L = 0 exactly (THEORY.md §3's bad point): rank 0 under the per-matrix rule too (σ_1 = 0)."""
    arch, p, X = _net()
    bad = LS.bad_critical_point(arch, p, np.random.default_rng(1).standard_normal((5, 4)), 1)
    m = LS.membership(arch, bad, X, 1)
    assert m.U[3].rank == 0 and not m.member and m.conclusive


def test_jax_scaling_of_a_layer_is_exact():
    """The premise of the scaled tests: a power-of-two scaling of U_L commutes with the forward pass exactly."""
    arch, p, X = _net()
    a = np.asarray(model.apply(arch, _scaled_output(arch, p, TINY), X))
    assert np.array_equal(a, TINY * np.asarray(model.apply(arch, p, X)))
    assert jax.config.jax_enable_x64
