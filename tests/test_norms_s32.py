"""Session 32: norms that underflow (or overflow) at exact power-of-two scalings.

``gradient_bounds`` took ``jnp.linalg.norm`` of ``∇_{U_{k+1}} Φ`` and of ``F_L − Y``: XLA squares the entries and
flushes squares below ~1e-308 to 0, so a residual below ~1e-154 had norm 0 and both bounds with it (above ~1e154:
inf). The norms are now :func:`theory_lab.tolerances.frobenius_norm` (scaled by the largest entry), and the zero-loss
decisions that consumed ``Φ = ½‖r‖²`` compare ``‖r‖`` with :func:`theory_lab.tolerances.zero_residual_tol`
(``√(ZERO_LOSS_RTOL) ‖Y‖``, band 10): the same decision at normal scales, nothing squared at tiny ones.

Scalings are powers of two, so the scaled quantities are exact and must agree to rel 1e-12.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import loss_surface as LS
from theory_lab import model
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.evidence import Evidence
from theory_lab.sampling import sample_params

ARCH3 = Architecture((3,), (Dense(6), Dense(4), Output(2)))  # k = 1: U_3 and σ_2' enter both bounds
TINY = 2.0 ** -530  # residual ~1e-160: its squares flush to 0; Φ and ½‖Y‖² ZERO_LOSS_RTOL subnormal or 0


def _instance(seed=0, noise=1e-9):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((5, 3))
    params = sample_params(ARCH3, np.random.default_rng(seed + 1))
    Y = np.asarray(model.apply(ARCH3, params, X)) + noise * rng.standard_normal((5, 2))
    return X, params, Y


def _output_scaled(arch, params, s):
    """Output layer ``× s``: ``F_L``, ``r`` and ``U_L`` scale by ``s``, every ``F_l`` (l < L) is unchanged."""
    out = f"layer_{arch.L}"
    return dict(params, **{out: {"W": params[out]["W"] * s, "b": params[out]["b"] * s}})


# ----------------------------------------------------------------------------- the helper


@pytest.mark.parametrize("e", [-530, -500, 500, 530])
def test_frobenius_norm_scales_exactly(e):
    A = np.random.default_rng(3).standard_normal((4, 5))
    s = 2.0 ** e
    assert T.frobenius_norm(A * s) == pytest.approx(np.linalg.norm(A) * s, rel=1e-12, abs=0.0)
    assert T.frobenius_norm(jnp.asarray(A * s)) == pytest.approx(np.linalg.norm(A) * s, rel=1e-12, abs=0.0)


def test_the_unscaled_norm_is_what_failed():
    # the defect being fixed: XLA's norm of a 2^-530 residual is 0, of a 2^530 one inf
    A = np.random.default_rng(3).standard_normal((4, 5))
    assert float(jnp.linalg.norm(jnp.asarray(A * TINY))) == 0.0
    assert math.isinf(float(jnp.linalg.norm(jnp.asarray(A / TINY))))


def test_frobenius_norm_refuses_bad_input():
    with pytest.raises(ValueError, match=r"`grad` contains NaN or Inf; a tolerance is a finite number"):
        T.frobenius_norm(np.array([1.0, np.nan]), "grad")
    with pytest.raises(TypeError, match=r"`grad` is a str; expected an array of real numbers"):
        T.frobenius_norm("abc", "grad")
    with pytest.raises(ValueError, match=r"`A` has norm beyond float64 \(largest entry 1e\+308\); rescale it"):
        T.frobenius_norm(np.full(4, 1e308))
    assert T.frobenius_norm(np.zeros((0, 3))) == 0.0 and T.frobenius_norm(np.zeros(3)) == 0.0


# ----------------------------------------------------------------------------- zero loss on ‖r‖


def test_zero_residual_tol_is_the_zero_loss_rule_on_the_norm():
    Y = np.random.default_rng(4).standard_normal((6, 3))
    zl, zr = T.zero_loss_tol(Y), T.zero_residual_tol(Y)
    assert zr.value == pytest.approx(math.sqrt(2.0 * zl.value), rel=1e-12, abs=0.0)
    assert zr.band == pytest.approx(math.sqrt(zl.band), rel=1e-15)
    # same decision (holds, conclusive) on Φ = ½‖r‖² and on ‖r‖, across both band edges and the threshold
    for rel in (1e-13, 5e-12, 1.1e-11, 3e-11, 0.9e-10, 1.1e-10, 3e-10, 0.9e-9, 1.1e-9, 1e-8):
        r = rel * np.linalg.norm(Y)
        on_phi = Evidence().at_most("Φ", 0.5 * r * r, zl)
        on_r = Evidence().at_most("‖r‖", r, zr)
        assert (on_phi.holds, on_phi.conclusive) == (on_r.holds, on_r.conclusive), rel
        assert on_phi.margin == pytest.approx(on_r.margin ** 2, rel=1e-12)


@pytest.mark.parametrize("e", [-530, 500])
def test_zero_residual_tol_scales_where_the_loss_rule_cannot(e):
    Y = np.random.default_rng(4).standard_normal((6, 3))
    s = 2.0 ** e
    assert T.zero_residual_tol(Y * s).value == pytest.approx(T.zero_residual_tol(Y).value * s, rel=1e-12, abs=0.0)
    for rel in (1e-12, 1e-9):  # zero, and not zero, at both scales
        r = rel * np.linalg.norm(Y)
        a = Evidence().at_most("‖r‖", r, T.zero_residual_tol(Y))
        b = Evidence().at_most("‖r‖", r * s, T.zero_residual_tol(Y * s))
        assert (a.holds, a.conclusive) == (b.holds, b.conclusive)
        assert b.margin == pytest.approx(a.margin, rel=1e-12)
    if e < 0:  # the Φ rule's threshold is subnormal here (1e-20 · ½‖Y‖² ~ 1e-339 flushes to 0)
        assert T.zero_loss_tol(Y * s).value < np.finfo(np.float64).tiny


def test_zero_residual_tol_refuses_bad_targets():
    with pytest.raises(ValueError, match=r"`Y` contains NaN or Inf"):
        T.zero_residual_tol(np.array([[np.inf]]))


def test_a_residual_100_times_too_large_is_no_zero_loss():
    Y = np.random.default_rng(4).standard_normal((6, 3))
    r = 1e-12 * np.linalg.norm(Y)  # zero loss, conclusively (margin 100)
    assert Evidence().at_most("‖r‖", r, T.zero_residual_tol(Y)).holds
    ob = Evidence().at_most("‖r‖", 1e4 * r, T.zero_residual_tol(Y))  # 1e-8 ‖Y‖
    assert not ob.holds and ob.conclusive


# ----------------------------------------------------------------------------- gradient_bounds


@pytest.mark.parametrize("e", [-250, 280])
def test_gradient_bounds_scale_with_the_output_layer_two_layers_after_k(e):
    # output layer and targets × s = 2^-250 or 2^280: r scales by s; Δ_2 = (Δ_3 U_3ᵀ) ∘ σ_2' and ∇_{U_2} Φ = F_1ᵀ Δ_2 by s²,
    # and so do both bounds (σ(U_3) ~ s, ‖r‖ ~ s). At 2^-250, ‖∇_{U_2} Φ‖ ~ 1e-159 was 0; at 2^280 (~1e160), inf.
    X, params, Y = _instance()
    s = 2.0 ** e
    b1 = LS.gradient_bounds(ARCH3, params, X, Y, 1)
    bs = LS.gradient_bounds(ARCH3, _output_scaled(ARCH3, params, s), X, Y * s, 1)
    assert bs.residual_norm == pytest.approx(b1.residual_norm * s, rel=1e-12, abs=0.0)
    for name in ("grad_norm", "lower", "upper", "lower_naive", "tol"):
        assert getattr(bs, name) == pytest.approx(getattr(b1, name) * s * s, rel=1e-12, abs=0.0), name
    assert bs.holds and b1.holds
    assert bs.lower_tightness == pytest.approx(b1.lower_tightness, rel=1e-12)


def test_gradient_bounds_still_see_a_wrong_gradient_at_tiny_scale():
    # a gradient under-reported by 100 violates the lower bound at 2^-250 as at 1 (the bound could not fail while
    # every norm was 0)
    X, params, Y = _instance()
    s = 2.0 ** -250
    p = _output_scaled(ARCH3, params, s)
    for pp, yy in ((params, Y), (p, Y * s)):
        G = np.asarray(LS.grad_full_matrix(ARCH3, pp, X, yy, 2))
        b = LS.gradient_bounds(ARCH3, pp, X, yy, 1, grad=G / 1e4)
        assert b.lower > 0 and not b.lower_holds and b.upper_holds, (b.lower, b.grad_norm)


# ----------------------------------------------------------------------------- lemma_4_3_admits


def _lower_attaining(s=1.0):
    from theory_lab.gradient_probes import attaining_point

    X, params, _ = _instance()
    p, Y = attaining_point(ARCH3, params, X, 1, bound="lower")
    return X, _output_scaled(ARCH3, p, s), Y * s


@pytest.mark.parametrize("e", [0, -250])
def test_lemma_4_3_admits_on_the_norm(e):
    # at a point attaining the lower bound, ‖∇_U Φ‖ = c ‖r‖: the true ‖r‖ is admitted, 100 ‖r‖ is not
    from proofs_checks import s4_instances as S

    s = 2.0 ** e
    X, p, Y = _lower_attaining(s)
    b = LS.gradient_bounds(ARCH3, p, X, Y, 1)
    assert b.residual_norm > 0 and abs(b.grad_norm / b.lower - 1) < 1e-9
    assert S.lemma_4_3_admits(b, residual_norm=b.residual_norm)[0]
    assert not S.lemma_4_3_admits(b, residual_norm=100 * b.residual_norm)[0]
    if e == 0:  # the Φ form decides the same
        assert S.lemma_4_3_admits(b, 0.5 * b.residual_norm ** 2)[0]
        assert not S.lemma_4_3_admits(b, 0.5 * (100 * b.residual_norm) ** 2)[0]


def test_lemma_4_3_admits_wants_one_quantity():
    from proofs_checks import s4_instances as S

    X, p, Y = _lower_attaining()
    b = LS.gradient_bounds(ARCH3, p, X, Y, 1)
    with pytest.raises(ValueError, match=r"pass exactly one of `loss`=None and `residual_norm`=None"):
        S.lemma_4_3_admits(b)
    with pytest.raises(ValueError, match=r"pass exactly one of `loss`=1.0 and `residual_norm`=1.0"):
        S.lemma_4_3_admits(b, 1.0, residual_norm=1.0)


# ----------------------------------------------------------------------------- theorem-4.4's consumers


def _pinned_membership(monkeypatch, params, X, k):
    """``membership`` of the unscaled point. Written when the ``U_l`` rule was relative to ``max|θ|`` (a layer 2^-530
    below the others counted as rounding); an exact draw's ``U_l`` is judged at its own scale since session 32 (d)
    and a solver's point still against all of θ (tests/test_zero_loss_s32d.py). Kept: not what these tests probe."""
    real = LS.membership
    m = real(*params, X, k)
    monkeypatch.setattr(LS, "membership", lambda *a, **kw: m)


def test_theorem_4_4_reverse_decides_phi_on_the_norm_at_2_to_the_minus_530(monkeypatch):
    # the widening critical point (in S_1, Φ > 0): `∇_U Φ = 0 with Φ > 0` is observed violated at 1 and at 2^-530;
    # with Φ = ½‖r‖² from an underflowed ‖r‖ = 0 it read "Φ = 0", holds
    from proofs_checks import loss_surface as LSC
    from theory_lab.checking import Context

    arch, X, Y, params = LSC._widening_point(Context(0))
    _pinned_membership(monkeypatch, (arch, params), X, 1)
    seen = []
    for s in (1.0, TINY):
        ev = Evidence()
        row = LSC._reverse(ev, "widening", arch, _output_scaled(arch, params, s), X, Y * s, 1, False)
        (ob,) = ev.observations
        seen.append((ob.holds, ob.conclusive, row["residual_norm"] / s))
    assert seen[0][:2] == seen[1][:2] and seen[0][0] is False
    assert seen[1][2] == pytest.approx(seen[0][2], rel=1e-12)


def test_theorem_4_4_widening_verdict_unchanged_at_2_to_the_minus_530(monkeypatch):
    from proofs_checks import loss_surface as LSC
    from theory_lab.checking import Context

    arch, X, Y, params = LSC._widening_point(Context(0))
    before = LSC._theorem_4_4_widening(Context(0))
    _pinned_membership(monkeypatch, (arch, params), X, 1)
    monkeypatch.setattr(LSC, "_widening_point", lambda ctx: (arch, X, Y * TINY, _output_scaled(arch, params, TINY)))
    after = LSC._theorem_4_4_widening(Context(0))
    # a converse holds when the claim is violated: here Φ > 0 at a critical point of S_1 (‖r‖ = 1, and 2^-530)
    assert after.verdict is before.verdict and before.verdict.name == "HOLDS", (before.summary, after.summary)


def test_theorem_4_4_widening_sees_an_under_reported_residual(monkeypatch):
    # the converse's Φ > 0 rests on ‖F_L − Y‖: a residual reported 1e-12 × too small reads as zero loss, and the
    # converse (a counterexample to the claim without the pyramidal hypothesis) fails
    import dataclasses

    from proofs_checks import loss_surface as LSC
    from theory_lab.checking import Context, Verdict

    assert LSC._theorem_4_4_widening(Context(0)).verdict is Verdict.HOLDS
    real = LS.gradient_bounds
    monkeypatch.setattr(LS, "gradient_bounds", lambda *a, **kw: (lambda b: dataclasses.replace(
        b, residual_norm=1e-12 * b.residual_norm))(real(*a, **kw)))
    r = LSC._theorem_4_4_widening(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary


def test_theorem_4_4_reverse_sees_an_under_reported_gradient(monkeypatch):
    # at a random point of S_1 with Φ > 0, a ‖∇_U Φ‖ under-reported 1e12 × reads as ∇_U Φ = 0 with Φ > 0, and
    # Lemma 4.3 (checked on ‖r‖) does not admit it: a conclusive violation, at 1 and at 2^-250
    import dataclasses

    from proofs_checks import loss_surface as LSC

    X, params, Y = _instance(noise=1.0)
    _pinned_membership(monkeypatch, (ARCH3, params), X, 1)
    real = LS.gradient_bounds
    for s in (1.0, 2.0 ** -250):
        p, y = _output_scaled(ARCH3, params, s), Y * s
        ev = Evidence()
        LSC._reverse(ev, "true", ARCH3, p, X, y, 1, False)
        assert ev.observations[0].holds and ev.observations[0].conclusive
        with monkeypatch.context() as mp:
            mp.setattr(LS, "gradient_bounds", lambda *a, **kw: (lambda b: dataclasses.replace(
                b, grad_norm=1e-12 * b.grad_norm, tol=1e-12 * b.tol))(real(*a, **kw)))
            ev = Evidence()
            LSC._reverse(ev, "under-reported", ARCH3, p, X, y, 1, False)
        (ob,) = ev.observations
        assert not ob.holds and ob.conclusive, ob.detail


# ----------------------------------------------------------------------------- audit: proofs_checks/loss_surface.py


def test_lemma_4_3_independent_bounds_and_rel_at_2_to_the_minus_530():
    # lemma-4.3 compares gradient_bounds with _independent_bounds through _rel: ‖r‖ ~ 1e-169 was 0 in both
    # (np.linalg.norm squares), so "lower vs its factors recomputed" compared 0 with 0
    from proofs_checks import loss_surface as LSC

    arch = Architecture((3,), (Dense(8), Output(2)))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    params = sample_params(arch, np.random.default_rng(1))
    Y = np.asarray(model.apply(arch, params, X)) + 1e-9 * rng.standard_normal((6, 2))
    lo1, hi1 = LSC._independent_bounds(arch, params, X, Y, 1)
    p, y = _output_scaled(arch, params, TINY), Y * TINY
    lo, hi = LSC._independent_bounds(arch, p, X, y, 1)
    assert lo == pytest.approx(lo1 * TINY, rel=1e-12, abs=0.0) and hi == pytest.approx(hi1 * TINY, rel=1e-12, abs=0.0)
    b = LS.gradient_bounds(arch, p, X, y, 1)
    assert LSC._rel(b.lower, lo) <= T.IDENTITY_RTOL and LSC._rel(b.upper, hi) <= T.IDENTITY_RTOL
    # and _rel still sees a wrong factor at that scale: a lower bound 1% off
    assert LSC._rel(1.01 * b.lower, lo) == pytest.approx(0.01, rel=1e-9)


def test_rel_is_scale_free_and_nan_on_non_finite_input():
    from proofs_checks import loss_surface as LSC

    a, b = np.random.default_rng(5).standard_normal((2, 7))
    for e in (-530, 530):
        s = 2.0 ** e
        assert LSC._rel(a * s, b * s) == pytest.approx(LSC._rel(a, b), rel=1e-12)
    assert math.isnan(LSC._rel(np.array([np.nan]), np.array([1.0])))
    ob = Evidence().at_most("rel", LSC._rel(np.array([np.inf]), np.array([1.0])), T.IDENTITY)
    assert not ob.holds and ob.conclusive  # a NaN is a conclusive violation, as before


def test_widening_converse_needs_a_critical_point_at_2_to_the_minus_560(monkeypatch):
    # targets moved by 0.1 (not a critical point): ‖∇Φ‖ ~ 7e-169 at 2^-560 read 0.00e+00 ≤ 4.35e-178 through
    # np.linalg.norm, so the converse "found" a critical point in S_1 and FAILED; it is not applicable, as at 1
    from proofs_checks import loss_surface as LSC
    from theory_lab.checking import Context, Verdict

    arch, X, Y, params = LSC._widening_point(Context(0))
    _pinned_membership(monkeypatch, (arch, params), X, 1)
    for s in (1.0, 2.0 ** -560):
        monkeypatch.setattr(LSC, "_widening_point", lambda ctx, s=s: (arch, X, (Y + 0.1) * s,
                                                                      _output_scaled(arch, params, s)))
        r = LSC._theorem_4_4_widening(Context(0))
        crit = next(h for h in r.hypotheses if h.name == "∇_{U_2} Φ = 0 (critical point)")
        assert not crit.met and r.verdict is Verdict.NOT_APPLICABLE, (s, crit.detail)
        assert "‖∇Φ‖ = 0.00e+00" not in crit.detail


# ----------------------------------------------------------------------------- audit: proofs_checks/curvature.py


@pytest.mark.parametrize("e", [-530, 500])
def test_curvature_residual_decision_is_scale_free(e):
    # critical-full-row-rank's r = 0 decision at (‖r‖, ‖∇Φ‖, σ_min(J), Y) and at (s‖r‖, s‖∇Φ‖, σ_min(J), sY):
    # ‖∇Φ‖ = ‖Jᵀr‖ scales with r; the Φ form (½ r², ½ (g/σ)²) underflowed to 0 ≤ 0 at 2^-530
    from proofs_checks import curvature as C

    Y = np.random.default_rng(6).standard_normal((4, 2))
    ny, s = np.linalg.norm(Y), 2.0 ** e
    cases = [(1e-13 * ny, 1e-14, 0.5, True, True),  # zero loss, conclusively
             (1e-3 * ny, 1e-14, 0.5, False, True),  # Φ > 0 at a gradient that cannot explain it: a violation
             (1e-3 * ny, 1e-2, 0.5, False, False)]  # ‖r‖ ≤ ‖∇Φ‖/σ_min: the point may not be critical
    for r, g, sig, holds, conclusive in cases:
        for scale in (1.0, s):
            ev = Evidence()
            C._residual_is_zero(ev, r * scale, g * scale, sig, Y * scale)
            (ob,) = ev.observations
            assert (ob.holds, ob.conclusive) == (holds, conclusive), (r, g, scale, ob.detail)


def _exact_fit_point(least_squares_fit):
    """3 → 6 → 5 → 2 sigmoid net, N = 4, output layer fitted by least squares (n_2 = 5 ≥ N): r at rounding level."""
    import types

    fit = least_squares_fit()  # tests/conftest.py
    return fit.arch, fit.X, fit.Y, types.SimpleNamespace(params=fit.fitted, message="least-squares fit")


def test_critical_full_row_rank_sees_a_residual_added_to_the_fit(monkeypatch, least_squares_fit):
    from proofs_checks import curvature as C
    from theory_lab import derivatives as D
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(C, "_found_critical_point", lambda ctx: _exact_fit_point(least_squares_fit))
    r = C._critical_full_row_rank(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    real = D.residuals
    monkeypatch.setattr(D, "residuals", lambda *a, **kw: real(*a, **kw) + 1e-6)  # ‖r‖ reported 1e-6 off
    r = C._critical_full_row_rank(Context(1))
    ob = next(o for o in r.evidence["observations"] if o["name"] == "‖r‖")
    assert r.verdict is Verdict.FAILS and not ob["holds"] and ob["conclusive"], (r.summary, ob)


# ----------------------------------------------------------------------------- audit: theory_lab/critical.py


def test_search_reports_a_tiny_gradient_norm_exactly():
    # find_critical_point's res.grad_norm (what observe_critical_point compares with the critical tolerance) was
    # jnp.linalg.norm: a gradient ~1e-170 read 0, "critical" at any tolerance. Output layer and targets × 2^-560,
    # targets moved by 0.1: ∇_{W_L} Φ scales by 2^-560 exactly (the deeper blocks, ~2^-1120, are below float64)
    from theory_lab import critical
    from theory_lab import derivatives as D

    X, params, Y = _instance(noise=0.1)
    s = 2.0 ** -560
    res = critical.find_critical_point(ARCH3, _output_scaled(ARCH3, params, s), X, Y * s, max_iter=1,
                                       classify=False)
    obj = D.objective(ARCH3)
    grad = np.asarray(D.gradient(obj, obj.layout.ravel(res.params), X, Y * s))
    assert float(jnp.linalg.norm(jnp.asarray(grad))) == 0.0  # what was reported
    assert res.grad_norm == pytest.approx(T.frobenius_norm(grad), rel=1e-12, abs=0) and res.grad_norm > 1e-175


def test_curvature_fro_is_scaled_and_nan_on_non_finite():
    from proofs_checks import curvature as C

    v = np.random.default_rng(7).standard_normal(9)
    assert C._fro(v * TINY) == pytest.approx(np.linalg.norm(v) * TINY, rel=1e-12, abs=0.0)
    assert math.isnan(C._fro(np.array([1.0, np.nan])))
