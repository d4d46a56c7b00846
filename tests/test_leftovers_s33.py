"""Session 33: stop 32's left-overs (docs/planted_bugs.md "Session 33 — stop 32's left-overs").

1. The demos decide zero loss with the library's rule on ``‖F_L − Y‖`` (``tolerances.zero_residual_tol``: 1e-10 ‖Y‖,
   band 10, undecided inside the band), not on ``Φ/(½‖Y‖²) ≤ 1e-16``; a width-threshold sweep at ``2^-530`` is
   classified as at scale 1. (The width-threshold demo's exact fits are decided by ``tolerances.fit_residual_tol``
   since s33-f: its tests below encode that rule.)
2. ``critical.find_critical_point``'s scale-free stopping rule (``gtol_rtol``).
4. ``spectrum.lanczos`` flags a non-symmetric operator from the products it already has.
5. The least-squares setup shared by tests/test_norms_s32.py and tests/test_adversarial_s29_section4.py.
"""

import dataclasses
import math

import numpy as np
import pytest

from theory_lab import tolerances as T
from theory_lab.demos import common

TINY = 2.0 ** -530  # Φ ~ ‖r‖² flushes to 0 or a few subnormal digits; ‖r‖ scaled is exact
HUGE = 2.0 ** 500


# ----------------------------------------------------------------------------- 1. demos' zero loss


@pytest.mark.parametrize("scale", [1.0, TINY, HUGE])
def test_demo_zero_loss_rule_is_the_library_rule_with_its_band(scale):
    """The demo's decision is ``zero_residual_tol``'s: zero at margin ≥ 10 below, positive at ≥ 10 above, undecided
    strictly inside; the relative residual and the decision are the same at ``2^-530``, 1 and ``2^500``."""
    Y = scale * np.eye(3, 2)
    tol = T.zero_residual_tol(Y)
    assert tol.band == common.ZERO_RESIDUAL_BAND == 10.0
    assert tol.value == pytest.approx(common.ZERO_RESIDUAL_RTOL * math.sqrt(2) * scale, rel=1e-15, abs=0)
    ynorm = math.sqrt(2) * scale
    for factor, expected in ((0.0, True), (1e-3, True), (0.1 * (1 - 1e-9), True), (0.1 * (1 + 1e-6), None),
                             (1.0, None), (9.99, None), (10.0 * (1 + 1e-9), False), (1e6, False)):
        r = factor * tol.value
        rel, zero = common.zero_residual(r, Y)
        assert zero is expected, (factor, scale)
        assert rel == pytest.approx(r / ynorm, rel=1e-15, abs=0)
        assert (rel, zero) == common.zero_residual(factor * T.zero_residual_tol(np.eye(3, 2)).value, np.eye(3, 2))


def test_demo_zero_loss_rule_refuses_a_residual_that_is_not_a_norm():
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match=r"`residual_norm`=.* must be a norm, a finite number >= 0"):
            common.zero_residual(bad, [[1.0]])
    assert common.zero_residual(0.0, [[0.0]]) == (0.0, True)
    assert common.zero_residual(1e-300, [[0.0]]) == (math.inf, False)


def test_demo_residual_norm_is_exact_where_phi_underflows():
    rng = np.random.default_rng(3)
    out, Y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    one = common.residual_norm(out, Y)
    assert common.residual_norm(TINY * out, TINY * Y) == one * TINY
    assert 0.5 * float(np.sum((TINY * out - TINY * Y) ** 2)) < 1e-300  # what the old rule compared


def _tiny_digits(monkeypatch, scale):
    """``data.one_hot`` with targets times ``scale``: the width-threshold demo's two sources of targets (the digits'
    own ``Y`` is built by it too, checked)."""
    from theory_lab import data

    one_hot = data.one_hot
    monkeypatch.setattr(data, "one_hot", lambda *a, **k: one_hot(*a, **k) * scale)
    assert np.max(data.digits(5).Y) == scale


def _sweep():
    from theory_lab.demos import width_threshold

    return width_threshold(40, filters=(1, 2), draws=1, seed=0)


def test_width_threshold_at_2_minus_530_is_classified_as_at_scale_1(monkeypatch):
    """Targets (and hence ``λ`` and ``F_L``) times ``2^-530``: every point's decision, relative residual, ``‖r‖/tol``
    and error are those at scale 1, and its exact-fit tolerance ``γ(‖F_1‖‖λ‖ + ‖Y‖)`` is ``2^-530`` times that at scale
    1 (the old rule divided two underflowed ``Φ``s and called the narrow fits, ``‖r‖ = 0.17‖Y‖`` and ``0.30‖Y‖``, zero
    loss; run on main). Narrow (``n_1 = 36 < 40``): positive; wide (72): zero. (s33-f: the demo decides by
    ``fit_residual_tol``; the ratio and tolerance assertions are new.)"""
    one = _sweep()
    _tiny_digits(monkeypatch, TINY)
    tiny = _sweep()
    assert [(p.labels, p.n1) for p in one.points] == [(p.labels, p.n1) for p in tiny.points]
    for a, b in zip(one.points, tiny.points):
        assert b.zero_loss is a.zero_loss is (a.n1 >= 40), (a, b)
        assert b.relative_residual == pytest.approx(a.relative_residual, rel=1e-12, abs=0)
        assert b.residual_ratio == pytest.approx(a.residual_ratio, rel=1e-12, abs=0)
        assert b.tolerance == pytest.approx(a.tolerance * TINY, rel=1e-12, abs=0) and b.tolerance > 0
        assert b.error == a.error and b.rank == a.rank
    assert [p.relative_residual > 0.1 for p in tiny.points if p.n1 < 40] == [True, True]
    assert tiny.threshold_ok is one.threshold_ok is True


def _recorded_fits(monkeypatch, perturb=None):
    """Patch ``exact_fit`` so each call is recorded as ``(F, y, λ)``; ``perturb(y)`` (if given) is the ``off`` by which
    that fit's ``λ`` is scaled (``λ·(1 + off)``)."""
    from theory_lab import exact_fit as EF

    real, calls = EF.exact_fit, []

    def fit(F, y, **kw):
        out = real(F, y, **kw)
        if perturb is not None:
            out = dataclasses.replace(out, lam=out.lam * (1 + perturb(y)))
        calls.append((np.asarray(F), np.asarray(y), out.lam))
        return out

    monkeypatch.setattr(EF, "exact_fit", fit)
    return calls


@pytest.mark.parametrize("scale", [1.0, TINY, 2.0 ** -560])
@pytest.mark.parametrize("factor, zero, ok", [(1e-2, True, True), (1.0, None, False), (1e2, False, False)])
def test_width_threshold_off_fit_is_zero_undecided_or_positive_by_the_band(monkeypatch, factor, zero, ok, scale):
    """``λ`` times ``1 + off`` leaves ``‖r‖ ≈ off·‖Y‖`` at the wide fit (``F_L`` is linear in ``λ``). With ``off`` chosen
    per fit from that fit's own exact-fit tolerance (computed here from the recorded ``F_1``, ``λ``, ``Y``), so that
    ``‖r‖ = factor·tol``: ``tol/100`` is zero, ``tol`` is undecided and so *not* a confirmed prediction, ``100·tol`` is
    positive (``threshold_ok`` False, "NOT as predicted"); the same with the targets at ``2^-530`` and ``2^-560``.
    (s33-f: rewritten from the 1e-10‖Y‖ rule's offsets 1e-12 / 1e-10 / 1e-7.)"""
    from theory_lab.demos import width_threshold, width_threshold_explanation

    if scale != 1.0:
        _tiny_digits(monkeypatch, scale)
    base_calls = _recorded_fits(monkeypatch)
    base = width_threshold(30, filters=(1,), draws=1)
    offs, base_ratio = {}, max(p.residual_ratio for p in base.points)
    assert base_ratio < 0.01 and all(p.zero_loss is True for p in base.points)  # the unperturbed fits are exact
    for (F, y, lam), p in zip(base_calls, base.points, strict=True):  # calls in the order true, random = points
        tol = T.fit_residual_tol(F.shape, T.frobenius_norm(F), T.frobenius_norm(lam), T.frobenius_norm(y))
        assert p.tolerance == pytest.approx(tol.value, rel=1e-12, abs=0) and tol.band == 10.0
        offs[y.tobytes()] = factor * tol.value / T.frobenius_norm(y)
    _recorded_fits(monkeypatch, perturb=lambda y: offs[np.asarray(y).tobytes()])
    r = width_threshold(30, filters=(1,), draws=1)
    for p in r.points:
        # ‖r‖ = ‖r_0 + off·F_L‖ with ‖r_0‖ (and the new rounding) ≤ base_ratio·tol each
        assert abs(p.residual_ratio - factor) <= 3 * base_ratio + 1e-6 * factor, (p, factor)
        assert p.zero_loss is zero
    assert r.threshold_ok is ok and r.to_dict()["undecided"] == (2 if zero is None else 0)
    text = width_threshold_explanation(r)
    assert ("not decided: 2 fits" in text) is (zero is None)
    assert ("NOT as predicted" in text) is (zero is False)


def test_width_threshold_json_and_figure_use_the_rule_actually_applied():
    """The JSON names the rule applied (the exact-fit residual's name and error model; no 1e-10‖Y‖, no
    ``zero_residual_rtol``) and gives each point its tolerance and ``‖r‖/tol``; the left panel plots ``‖r‖/tol`` with
    the line at 1 and the undecided band 0.1..10. (s33-f: rewritten from the 1e-10‖Y‖ line and band 1e-11..1e-9.)"""
    from theory_lab.demos import width_threshold, width_threshold_figure

    r = width_threshold(30, filters=(1,), draws=1)
    d = r.to_dict()
    rule = T.fit_residual_tol((1, 1), 1.0, 1.0)
    assert "zero_residual_rtol" not in d and "zero_residual_band" not in d and "1e-10" not in d["zero_loss_rule"]
    assert d["zero_loss_rule"].startswith(f"{rule.name} ({rule.models}):") and "max(N, n_1)·eps" in d["zero_loss_rule"]
    assert d["zero_loss_tolerance"]["band"] == rule.band == 10.0 and d["zero_loss_tolerance"]["name"] == rule.name
    for p in d["points"]:
        assert p["zero_loss"] in (True, False, None) and p["tolerance"] > 0
        assert p["residual_ratio"] == pytest.approx(p["relative_residual"] * math.sqrt(30) / p["tolerance"],
                                                    rel=1e-12, abs=0)
    left = width_threshold_figure(r).axes[0]
    assert [list(line.get_ydata()) for line in left.lines if len(set(line.get_ydata())) == 1
            and line.get_linestyle() == ":"] == [[1.0, 1.0]]
    plotted = sorted(float(y) for c in left.collections for y in np.asarray(c.get_offsets())[:, 1])
    assert plotted == sorted(max(p.residual_ratio, common.LOG_FLOOR) for p in r.points)
    span = left.patches[0]  # axhspan: a Rectangle in (axes x, data y)
    assert (span.get_y(), span.get_y() + span.get_height()) == pytest.approx((0.1, 10.0), rel=1e-12, abs=0)
    assert "tol" in left.get_ylabel()


def _critical_point(network, rel, *, kind="minimum", in_S_k=True):
    from theory_lab.demos._critical_points import CriticalPoint

    return CriticalPoint(network, "minimum", 0, True, kind, 0.5 * rel * rel, rel * rel, 0.0, 0, 0, 5, True, in_S_k,
                         1, 0.0, rel)


@pytest.mark.parametrize("wide_rel, zero, agrees, style", [(1e-13, True, True, "global"),
                                                             (1e-10, None, False, "undecided"),
                                                             (1e-6, False, False, "minimum")])
def test_critical_points_undecided_wide_point_confirms_nothing(wide_rel, zero, agrees, style):
    """A wide point in ``S_1`` with ``‖r‖`` on the tolerance is undecided: neither a confirmation of Theorem 4.5 nor
    a refutation ("undecided" in the explanation, its own marker in the figure); a narrow minimum must be *decided*
    positive to count as a bad minimum."""
    from theory_lab.demos import critical_points_explanation, critical_points_figure
    from theory_lab.demos._critical_points import CriticalPoints, _style

    wide = _critical_point("wide", wide_rel)
    narrow = _critical_point("narrow", 0.3)
    r = CriticalPoints(40, {"wide": [64, 72, 10], "narrow": [64, 4, 10]}, 0, "sigmoid", 1, 0, (wide, narrow))
    assert wide.zero_loss is zero and _style(wide) == style and narrow.zero_loss is False
    assert r.agrees is agrees and r.to_dict()["points"][0]["zero_loss"] is zero
    assert ("undecided at 1 of them" in critical_points_explanation(r)) is (zero is None)
    assert ("NOT all at Φ = 0" in critical_points_explanation(r)) is (zero is False)
    r2 = CriticalPoints(40, r.widths, 0, "sigmoid", 1, 0, (wide, _critical_point("narrow", 1e-10)))
    assert r2.narrow_bad_minima == []  # undecided is not "Φ > 0"
    ax = critical_points_figure(r).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1e-10, 1e-10]]
    ys = [float(y) for c in ax.collections for y in np.asarray(c.get_offsets())[:, 1]]
    assert ys == [wide_rel]


def test_spectra_search_decides_zero_loss_on_the_residual_at_any_scale(monkeypatch):
    """``landmarks``' search report takes the finder's scaled ``residual_norm``: ``Φ`` of 0 (underflowed) with
    ``‖r‖ = 1e-6 ‖Y‖`` is positive, not zero (the old rule read ``Φ/(½‖Y‖²) = 0``)."""
    import types

    from theory_lab import critical
    from theory_lab.demos import landmarks

    def search(arch, params, X, Y, **kw):
        return types.SimpleNamespace(params=params, converged=True, loss=0.0, grad_norm=0.0, iterations=1,
                                     residual_norm=1e-6 * float(np.sqrt(np.sum(Y ** 2))), message="stub", in_S_k=True)
    monkeypatch.setattr(critical, "find_critical_point", search)
    s = landmarks(4).search
    assert s["zero_loss"] is False and s["relative_residual"] == pytest.approx(1e-6, rel=1e-12, abs=0)


# ----------------------------------------------------------------------------- 2. a scale-free stopping rule


def _net(activation):
    from theory_lab import derivatives as D
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((3,), (Dense(6, activation=activation), Output(2)))
    rng = np.random.default_rng(7)
    return arch, D.objective(arch), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def _scaled(obj, theta, s):
    """θ with the output layer ``(U_L, b_L)`` times ``s``: ``F_L`` exactly ``s`` times (a power of two)."""
    theta = np.array(theta, dtype=np.float64)
    theta[obj.layout.block(obj.layout.layers[-1])] *= s
    return theta


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_relative_gradient_is_invariant_under_exact_rescaling(activation):
    """``max_l ‖∇_l Φ‖ / (‖J_l‖₂ max(‖Y‖, ‖F_L‖))`` is bit-for-bit the same with output layer and ``Y`` times
    ``2^-250``, ``2^-100``, ``2^150``, while ``‖∇Φ‖`` itself moves by up to ``2^-500`` (what the absolute gtol saw)."""
    from theory_lab import derivatives as D
    from theory_lab import stopping

    arch, obj, X, Y = _net(activation)
    theta = np.random.default_rng(1).standard_normal(obj.P)
    ref = stopping.block_ratios(obj, theta, X, Y)
    assert all(0 < v < math.inf for v in ref.values())
    for k in (-250, -100, 150):
        s = 2.0 ** k
        assert stopping.block_ratios(obj, _scaled(obj, theta, s), X, s * Y) == ref, k
    g = T.frobenius_norm(np.asarray(D.gradient(obj, _scaled(obj, theta, 2.0 ** -250), X, 2.0 ** -250 * Y)))
    assert 0 < g < 1e-70  # "≤ gtol = 1e-10" for the old rule: a random point


def test_solver_stops_at_the_same_points_at_every_scale_with_gtol_rtol():
    """A random start at ``2^-250``: the absolute rule calls it converged after 0 steps (the defect, kept as the
    documented meaning of ``gtol``); ``gtol_rtol`` does not, as at scale 1. A point the search converged to at scale 1
    is converged at once at ``2^-250`` and ``2^150`` under ``gtol_rtol``; under the absolute rule not at ``2^150``."""
    from theory_lab import critical

    arch, obj, X, Y = _net("sigmoid")
    start = np.random.default_rng(2).standard_normal(obj.P)
    tiny = 2.0 ** -250
    old = critical.find_critical_point(arch, obj.layout.unravel(_scaled(obj, start, tiny)), X, tiny * Y, max_iter=1,
                                       classify=False)
    assert old.converged and old.iterations == 1 and "after 0 steps" in old.message and old.gtol == 1e-10
    for s in (1.0, tiny):
        res = critical.find_critical_point(arch, obj.layout.unravel(_scaled(obj, start, s)), X, s * Y, max_iter=1,
                                           classify=False, gtol_rtol=1e-11)
        assert not res.converged and res.relative_grad > 1e-3 and res.gtol is None and res.gtol_rtol == 1e-11
    found = critical.find_critical_point(arch, obj.layout.unravel(start), X, Y, gtol_rtol=1e-11, classify=False)
    assert found.converged and found.relative_grad <= 1e-11
    theta = obj.layout.ravel(found.params)
    for s in (tiny, 2.0 ** 150):
        again = critical.find_critical_point(arch, obj.layout.unravel(_scaled(obj, theta, s)), X, s * Y,
                                             max_iter=1, gtol_rtol=1e-11, classify=False)
        assert again.converged and "after 0 steps" in again.message
        assert again.relative_grad == pytest.approx(found.relative_grad, rel=1e-9, abs=0)
    big = critical.find_critical_point(arch, obj.layout.unravel(_scaled(obj, theta, 2.0 ** 150)), X, 2.0 ** 150 * Y,
                                       max_iter=1, classify=False)
    assert not big.converged  # ‖∇Φ‖ ~ 2^150 × its value at 1: the absolute rule is not scale-free


def test_solver_default_rule_is_unchanged_and_the_two_rules_are_exclusive():
    from theory_lab import critical

    arch, obj, X, Y = _net("sigmoid")
    start = obj.layout.unravel(np.random.default_rng(2).standard_normal(obj.P))
    res = critical.find_critical_point(arch, start, X, Y, max_iter=2, classify=False)
    assert res.gtol == 1e-10 and res.gtol_rtol is None and math.isnan(res.relative_grad)
    assert res.message.startswith("2 iterations without reaching gtol = 1e-10")
    with pytest.raises(ValueError, match=r"`gtol`=1e-08 and `gtol_rtol`=1e-11: pass one stopping rule"):
        critical.find_critical_point(arch, start, X, Y, gtol=1e-8, gtol_rtol=1e-11)
    for bad in (0.0, -1.0, float("nan"), "1e-10"):
        with pytest.raises(ValueError, match=r"`gtol_rtol`=.* must be a positive finite number"):
            critical.find_critical_point(arch, start, X, Y, gtol_rtol=bad)


# ----------------------------------------------------------------------------- 4. Lanczos on a non-symmetric operator


@pytest.mark.parametrize("which", ["top", "bottom", "both"])
def test_lanczos_refuses_a_non_symmetric_operator_without_extra_products(which):
    """Stop 32's example, ``triu(ones(6, 6))`` (eigenvalues all 1): main returned Ritz values 2.23 and 1.75 flagged
    only ``converged = False``. Now a ValueError names the cause, from the products already made."""
    import jax

    from theory_lab import spectrum

    A = np.triu(np.ones((6, 6)))
    with pytest.raises(ValueError, match=r"`matvec` is not symmetric: the projection Qᵀ A Q of its 6 products "
                                         r"differs from its transpose by .* relative .* Lanczos needs A = Aᵀ"):
        spectrum.lanczos(spectrum.dense_matvec, 6, jax.random.key(0), A, k=2, which=which)


def test_lanczos_asymmetry_separates_rounding_from_a_planted_skew_part():
    """A symmetric 40 × 40 matrix with eigenvalues over 1e-6..1e6: asymmetry at rounding (< 1e-13), reported, and
    the product count is the Krylov depth (no product added). The same plus a skew part 1e-6 ‖A‖: refused; plus
    1e-12 ‖A‖ (below what a pair's residual tolerance resolves): accepted and reported at ~1e-12."""
    import jax

    from theory_lab import krylov, spectrum

    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    A = (Q * np.logspace(-6, 6, 40)) @ Q.T
    A = (A + A.T) / 2
    top = spectrum.lanczos(spectrum.dense_matvec, 40, jax.random.key(1), A, k=3)
    assert top.asymmetry < 1e-13 and top.to_dict()["asymmetry"] == top.asymmetry
    assert top.num_matvecs == top.depth and top.converged.all()
    N = rng.standard_normal((40, 40))
    skew = (N - N.T) / np.linalg.norm(N - N.T, 2) * np.linalg.norm(A, 2)
    with pytest.raises(ValueError, match=r"`matvec` is not symmetric"):
        spectrum.lanczos(spectrum.dense_matvec, 40, jax.random.key(1), A + 1e-6 * skew, k=3)
    near = spectrum.lanczos(spectrum.dense_matvec, 40, jax.random.key(1), A + 1e-12 * skew, k=3)
    assert 1e-14 < near.asymmetry < 1e-10
    K = krylov.start(spectrum.dense_matvec, 40, jax.random.key(1), (A,), capacity=8)
    with pytest.raises(ValueError, match=r"keeps no products; start it with keep_products=True"):
        krylov.asymmetry(krylov.extend(K, 4))


# ----------------------------------------------------------------------------- 5. the shared least-squares set-up


def test_shared_least_squares_fit_is_the_set_up_both_tests_built(least_squares_fit):
    """tests/conftest.py's ``least_squares_fit`` factory gives what test_norms_s32.py (``_exact_fit_point``) and
    test_adversarial_s29_section4.py (``_fitted_within_zero_loss``) each built inline: X then Y the first draws of
    ``default_rng(0)``, whose stream the returned ``rng`` continues (s29 draws its direction from it); F_2 of the
    drawn parameters; the output layer replaced by a fit of ``[F_2, 1]`` to Y, the hidden layers kept."""
    import jax.numpy as jnp

    from theory_lab import model

    fit = least_squares_fit()
    arch, X, Y, rng = fit.arch, fit.X, fit.Y, np.random.default_rng(0)
    assert np.array_equal(X, rng.standard_normal((4, 3))) and np.array_equal(Y, rng.standard_normal((4, 2)))
    assert np.array_equal(fit.rng.standard_normal((4, 2)), rng.standard_normal((4, 2)))
    assert np.array_equal(fit.F, np.asarray(model.features(arch, fit.params, X)[2]))
    assert all(np.array_equal(np.asarray(fit.fitted[k][n]), np.asarray(fit.params[k][n]))
               for k in ("layer_1", "layer_2") for n in ("W", "b"))
    r = np.asarray(model.apply(arch, fit.fitted, X)) - Y
    assert T.frobenius_norm(r) < 1e-12 * T.frobenius_norm(Y)  # the "rounding level" both tests rely on
    assert isinstance(fit.fitted["layer_3"]["W"], jnp.ndarray)
    again = least_squares_fit()  # a fresh draw each call: s29's builder is called once per context
    assert np.array_equal(again.rng.standard_normal((4, 2)), least_squares_fit().rng.standard_normal((4, 2)))
