"""Session 35 (f), mutation pass: the critical-point search's damping ladder and gain-ratio test, its Newton
phase and the settle rule that starts it, the Newton step of ``critical_inertia``, and ``validate``'s predicates.

References, never the code's own output:

* the damping search (``critical._search``) is fed trial steps whose merit, predicted decrease and gradient are
  set by hand, so the gain ratio of each trial is known; what it must return follows from its documented rule
  (rungs ``λ · (1e-3, 1e-1, 1)``, ``×1e3`` between rungs, ten rungs, the lowest merit among a rung's accepted
  steps, ``λ/3`` / ``λ`` / ``2λ`` after ``ρ > 0.75`` / ``ρ > 0.25`` / otherwise);
* a narrow Dense-tanh-Output network written out in ``jax.numpy``: its gradient by ``jax.grad`` and its
  Hessian's eigenvalues by ``jax.hessian`` and numpy, and the settle rule recomputed from the recorded losses;
* two-variable polynomials whose nearby critical points are roots of a cubic (``numpy.roots``);
* Python's own types for the predicates.
"""

from __future__ import annotations

import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import critical
from theory_lab import validate as V
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.curvature_report import critical_inertia

# ----------------------------------------------------------------------------- the damping search

THETA0 = jnp.array([1.0])  # merit ½θ² = 0.5 at the start, gradient 1
MERIT0, GNORM0 = 0.5, 1.0


def _search(trial, lam=1.0):
    out = critical._search(THETA0, jnp.asarray(MERIT0), jnp.asarray(GNORM0), trial, jnp.asarray(lam))
    return {k: (bool(v) if k == "accepted" else int(v) if k == "trials" else np.asarray(v)) for k, v in out.items()}


def _lm_trial(rho=1.0, refuse_below=0.0, gnorm_c=None):
    """The exact Levenberg–Marquardt step on ``½θ²``: ``θ_c = θ·λ/(1+λ)``; its predicted decrease is set so that
    the gain ratio is ``rho``; λ below ``refuse_below`` gives a non-finite merit (a refused step); ``gnorm_c``
    replaces the gradient norm at ``θ_c`` (``|θ_c|``)."""

    def trial(lam):
        theta_c = THETA0 * lam / (1.0 + lam)
        merit_c = 0.5 * jnp.sum(theta_c * theta_c)
        pred = (MERIT0 - merit_c) / rho
        merit_c = jnp.where(lam < refuse_below, jnp.inf, merit_c)
        return theta_c, merit_c, pred, jnp.linalg.norm(theta_c) if gnorm_c is None else jnp.asarray(gnorm_c)

    return trial


def test_an_exact_model_takes_the_smallest_damping_of_the_first_rung_and_divides_it_by_three():
    """ρ = 1 on every trial: all three of rung 0 (λ = 1e-3, 0.1, 1) are accepted and λ = 1e-3 has the lowest
    merit; the next λ is 1e-3 / 3."""
    out = _search(_lm_trial())
    assert out["accepted"] and out["trials"] == 3
    np.testing.assert_allclose(out["theta"], [1e-3 / 1.001], rtol=1e-14)
    assert float(out["lam"]) == pytest.approx(1e-3 / 3, rel=1e-14)


@pytest.mark.parametrize("rho, factor", [(0.9, 1.0 / 3.0), (0.5, 1.0), (0.1, 2.0), (1e-3, 2.0)])
def test_the_next_damping_follows_the_gain_ratio_band(rho, factor):
    """The documented update: λ/3 after ρ > 0.75, λ after 0.25 < ρ ≤ 0.75, 2λ after 1e-4 < ρ ≤ 0.25 (accepted)."""
    out = _search(_lm_trial(rho=rho))
    assert out["accepted"] and out["trials"] == 3
    assert float(out["lam"]) == pytest.approx(1e-3 * factor, rel=1e-12)


def test_no_accepted_step_in_ten_rungs_stalls_with_the_start_unchanged():
    """ρ = 1e-5 ≤ 1e-4 everywhere, and no smaller gradient where the merit change reaches rounding level (large
    λ): 30 trials (ten rungs, λ up to 1e27 times the start), nothing accepted, θ unchanged, and the λ handed back
    is the next rung's base, 1e30 times the start."""
    out = _search(_lm_trial(rho=1e-5, gnorm_c=2.0), lam=2.0)
    assert not out["accepted"] and out["trials"] == 30
    np.testing.assert_array_equal(out["theta"], np.asarray(THETA0))
    assert float(out["lam"]) == pytest.approx(2.0 * 1e30, rel=1e-12)


def test_the_search_climbs_rungs_by_1e3_until_a_step_is_accepted():
    """Steps refused below λ = 50 (start 1): rung 0 (1e-3, 0.1, 1) refuses all, rung 1 (1, 100, 1000) accepts
    100 and 1000, and 100 (the lower merit) wins: 6 trials, next λ 100/3."""
    out = _search(_lm_trial(refuse_below=50.0))
    assert out["accepted"] and out["trials"] == 6
    np.testing.assert_allclose(out["theta"], [100.0 / 101.0], rtol=1e-14)
    assert float(out["lam"]) == pytest.approx(100.0 / 3.0, rel=1e-12)


def test_the_lowest_merit_among_a_rungs_accepted_steps_wins():
    """Merits 0.4, 0.1 and 0.3 at λ = 1e-3, 0.1, 1, all with ρ = 1: the middle step (θ_c = 0.1, λ = 0.1) is taken,
    not the first accepted one. Then λ = 1e-3 gets merit 0.01 but a negative prediction (refused): still the middle."""
    def trial(lam, first_merit=0.4, first_pred=None):
        merit_c = jnp.where(lam < 0.01, first_merit, jnp.where(lam < 0.5, 0.1, 0.3))
        pred = MERIT0 - merit_c
        if first_pred is not None:
            pred = jnp.where(lam < 0.01, first_pred, pred)
        return jnp.reshape(lam, (1,)), merit_c, pred, jnp.asarray(0.5)

    out = _search(trial)
    assert out["accepted"] and float(out["theta"][0]) == pytest.approx(0.1, rel=1e-14)
    assert float(out["lam"]) == pytest.approx(0.1 / 3, rel=1e-12)
    out = _search(lambda lam: trial(lam, first_merit=0.01, first_pred=-0.49))
    assert out["accepted"] and float(out["theta"][0]) == pytest.approx(0.1, rel=1e-14)


def test_a_step_that_raises_the_merit_is_refused_even_with_a_smaller_gradient():
    """The gain-ratio test: a merit that rises (ρ < 0) is refused although the gradient halves; a rise with a
    negative prediction (ρ > 0 from two negatives) is refused too. Only a change at rounding level lets a smaller
    gradient decide (then λ is kept: ρ counts as 0.5)."""

    def rising(lam):
        return THETA0 * 0.5, jnp.asarray(MERIT0 * (1 + 1e-3)) + 0 * lam, jnp.asarray(0.1), jnp.asarray(0.5)

    out = _search(rising)
    assert not out["accepted"] and out["trials"] == 30

    def rising_predicted(lam):
        return THETA0 * 0.5, jnp.asarray(MERIT0 + 0.1) + 0 * lam, jnp.asarray(-0.1), jnp.asarray(0.5)

    assert not _search(rising_predicted)["accepted"]

    def flat(lam, gnorm_c):
        return THETA0 * 0.5, jnp.asarray(MERIT0) + 0 * lam, jnp.asarray(1e-20), jnp.asarray(gnorm_c)

    out = _search(lambda lam: flat(lam, 0.5))
    assert out["accepted"] and out["trials"] == 3 and float(out["lam"]) == pytest.approx(1e-3, rel=1e-14)
    assert not _search(lambda lam: flat(lam, 2.0))["accepted"]


# ----------------------------------------------------------------------------- the Newton phase on a narrow net


def _ref_loss(params, X, Y):
    F1 = jnp.tanh(X @ params["layer_1"]["W"] + params["layer_1"]["b"])
    r = F1 @ params["layer_2"]["W"] + params["layer_2"]["b"] - Y
    return 0.5 * jnp.sum(r * r)


def _narrow(seed=5):
    """(3,) → Dense(1, tanh) → Output(2), N = 8: n_1 = 1 < N, so Φ keeps a residual and Gauss–Newton is linear."""
    arch = Architecture((3,), (Dense(1, activation="tanh"), Output(2)))
    rng = np.random.default_rng(seed)
    params = {"layer_1": {"W": rng.standard_normal((3, 1)), "b": rng.standard_normal(1)},
              "layer_2": {"W": rng.standard_normal((1, 2)), "b": rng.standard_normal(2)}}
    return arch, params, rng.standard_normal((8, 3)), rng.standard_normal((8, 2))


def _settle_switch(losses):
    """The documented switch: the first iteration t ≥ 6 after which the last five loss ratios l_s / l_{s-1}
    (s = t-4 … t) all exceed 0.95; iteration t + 1 is Newton's."""
    for t in range(6, len(losses) + 1):
        if all(losses[s - 1] / losses[s - 2] > 0.95 for s in range(t - 4, t + 1)):
            return t
    return None


def test_the_switch_to_newton_follows_the_settle_rule_from_the_first_possible_iteration():
    """From a point where Gauss–Newton has already slowed down (seed 3 after six of its steps) every loss ratio
    exceeds 0.95 from the start: by the documented rule the sixth iteration is the last Gauss–Newton one (five
    ratios need six losses), and the seventh is Newton's."""
    arch, params, X, Y = _narrow(seed=3)
    first = critical.find_critical_point(arch, params, X, Y, max_iter=6, k=1, classify=False)
    assert not first.converged and first.method == ("gauss-newton",)
    res = critical.find_critical_point(arch, first.params, X, Y, max_iter=40, k=1, classify=False)
    losses = [h["loss"] for h in res.history]
    methods = [h["method"] for h in res.history]
    assert res.converged and _settle_switch(losses) == 6, (losses, methods)
    assert methods[:6] == ["gauss-newton"] * 6 and set(methods[6:]) == {"newton"}, methods


def test_the_newton_phase_reaches_a_strict_minimum_by_descent_after_the_documented_settle():
    arch, params, X, Y = _narrow()
    res = critical.find_critical_point(arch, params, X, Y, max_iter=80, k=1)
    assert res.converged and res.method == ("gauss-newton", "newton"), res.message
    losses = [h["loss"] for h in res.history]
    methods = [h["method"] for h in res.history]
    t = _settle_switch(losses)
    assert t is not None and methods[:t] == ["gauss-newton"] * t and set(methods[t:]) == {"newton"}, (t, methods)
    # every accepted step lowers Φ (the merit of both phases), up to rounding
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), losses
    assert res.loss <= losses[-1] * (1 + 1e-12) and res.loss > 0.1  # a residual: not an exact fit
    p = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), res.params)
    g = jax.grad(_ref_loss)(p, X, Y)
    assert math.sqrt(sum(float(jnp.sum(a * a)) for a in jax.tree_util.tree_leaves(g))) <= 1e-9
    flat, unravel = jax.flatten_util.ravel_pytree(p)
    eig = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda f: _ref_loss(unravel(f), X, Y))(flat)))
    assert eig[0] > 1e-8 * eig[-1], eig  # a strict minimum (4e-7 · λ_max here; hessian_inertia's rtol is 1e-9)
    assert res.kind == "minimum" and res.inertia.conclusive


def _ref_loss_of_theta(obj, X, Y):
    """``θ (P,) -> Φ`` with the network written out here (the library's layout only unravels θ)."""
    return lambda t: _ref_loss(obj.layout.unravel(t), X, Y)


def test_a_newton_step_at_an_indefinite_hessian_descends_along_every_eigenvector():
    """At the start of ``_narrow`` the Hessian (jax.hessian of the reference loss) has a negative eigenvalue. The
    Newton phase shifts the eigenvalues to keep its model convex, so every trial step is ``−g_i / d_i`` with
    ``d_i > 0`` in the Hessian's eigenbasis: the accepted step moves against the gradient along *every*
    eigenvector (a step toward the saddle along the negative one is what an unshifted Hessian gives), and Φ falls."""
    from theory_lab import derivatives as D

    arch, params, X, Y = _narrow()
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    phi = _ref_loss_of_theta(obj, X, Y)
    w, Q = np.linalg.eigh(np.asarray(jax.hessian(phi)(theta)))
    gq = Q.T @ np.asarray(jax.grad(phi)(theta))
    assert w[0] < -1e-3 * w[-1] and abs(gq[0]) > 1e-3 * np.linalg.norm(gq), (w, gq)
    out = critical._newton_iteration(obj, "minimum", theta, jnp.zeros(()), jnp.asarray(X), jnp.asarray(Y))
    assert bool(out["accepted"])
    step = Q.T @ np.asarray(out["theta"] - theta)
    big = np.abs(gq) > 1e-6 * np.linalg.norm(gq)
    assert np.all(step[big] * gq[big] < 0), (step, gq)
    assert float(phi(out["theta"])) < float(phi(theta))


# ----------------------------------------------------------------------------- critical_inertia's Newton step


def test_the_newton_step_through_a_small_negative_eigenvalue_unsigns_it():
    """``Φ = ½x² − ½εy² + y³ + gy`` (ε = 1e-6, g = −1e-10) at 0: ‖∇Φ‖ = 1e-10, eigenvalues −1e-6 and 1. Two
    critical points lie within 6e-6 of 0, ``y = ±5.8e-6`` (roots of 3y² − εy + g): a minimum and a saddle, so 0
    cannot stand for either with a conclusive kind. The Newton step runs along the *negative* eigenvector
    (δ_y = g/ε = −1e-4), where ∇²Φ changes by 6e-4 > ε: the −1e-6 eigenvalue is not signed. A pseudo-inverse
    that kept only positive eigenvalues had δ = 0 and called 0 a conclusive saddle (margin 1000)."""
    eps, g = 1e-6, -1e-10
    phi = lambda t: 0.5 * t[0] ** 2 - 0.5 * eps * t[1] ** 2 + t[1] ** 3 + g * t[1]
    roots = [r.real for r in np.roots([3.0, -eps, g]) if abs(r.imag) < 1e-20]
    kinds = sorted("minimum" if 6 * y - eps > 0 else "saddle" for y in roots)
    assert kinds == ["minimum", "saddle"] and max(abs(y) for y in roots) < 1e-5
    r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(2))
    assert not (r.kind == "saddle" and r.conclusive), r.summary()
    assert r.tol >= 5e-4 and r.positive == 1 and r.negative == 0


def test_the_change_is_measured_at_the_newton_point_on_its_own_side():
    """``Φ = ½x² + ½εy² + gy + ½z²(e − b y² − c y³)`` (ε = 1e-6, g = −1e-10, e = 1e-5, b = 1e3, c = 1e7). Along
    ``z = 0`` the Hessian is ``diag(1, ε, e − b y² − c y³)``, and the critical point is exactly ``y* = −g/ε = 1e-4``
    (the Newton point), where ``Φ_zz = 1e-5 − 1e-5 − 1e-5 < 0``: a saddle. At 0 the Hessian is positive definite
    and its first-order change is 0; the measured change at the Newton point is 2e-5 > e, so 0 is no conclusive
    minimum. At the mirrored point ``−y*`` the change is 0 (1e-5 − 1e-5): a step of the wrong sign called 0 a
    conclusive minimum (margin 1000)."""
    eps, g, e, b, c = 1e-6, -1e-10, 1e-5, 1e3, 1e7
    def phi(t):
        return 0.5 * t[0] ** 2 + 0.5 * eps * t[1] ** 2 + g * t[1] + 0.5 * t[2] ** 2 * (e - b * t[1] ** 2 - c * t[1] ** 3)

    star = jnp.array([0.0, 1e-4, 0.0])
    assert float(jnp.linalg.norm(jax.grad(phi)(star))) <= 1e-20
    assert np.linalg.eigvalsh(np.asarray(jax.hessian(phi)(star)))[0] < -5e-6  # the critical point is a saddle
    r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(3))
    assert not (r.kind == "minimum" and r.conclusive), r.summary()
    assert r.tol >= 1.5e-5 and r.positive == 1 and r.negative == 0


# ----------------------------------------------------------------------------- validate's predicates


@pytest.mark.parametrize("value, expected", [
    (3, True), (np.int64(3), True), (np.int8(-2), True), (np.uint32(7), True),
    (3.0, False), (np.float64(3.0), False), (True, False), (np.True_, False), ("3", False), (None, False),
    (3 + 0j, False),
])
def test_is_integer_is_a_python_or_numpy_integer_and_not_a_bool(value, expected):
    assert V.is_integer(value) is expected


@pytest.mark.parametrize("value, expected", [
    (0.5, True), (2, True), (np.float64(1.0), True), (np.float32(0.5), True), (np.int16(4), True),
    (True, False), (False, False), (np.True_, False), (1 + 2j, False), (np.complex128(1.0), False),
    ("1", False), (None, False), (np.array(1.0), False),
])
def test_is_real_is_a_real_number_and_not_a_bool_or_complex(value, expected):
    assert V.is_real(value) is expected


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_refuses_nan_and_both_infinities(bad):
    a = np.ones((2, 3))
    assert V.all_finite(a) and V.all_finite([1.0, -2.0]) and V.all_finite(np.arange(3))
    a[1, 2] = bad
    assert not V.all_finite(a) and not V.all_finite([bad]) and not V.all_finite(jnp.asarray(a))


def test_a_bool_tolerance_is_refused_by_the_callers_of_is_real():
    """``True`` is not a tolerance of 1.0: find_critical_point names `gtol` (its is_real test), before any work."""
    arch, params, X, Y = _narrow()
    with pytest.raises(ValueError, match=r"`gtol`=True must be a positive finite number"):
        critical.find_critical_point(arch, params, X, Y, gtol=True)
    with pytest.raises(ValueError, match=r"`max_seconds`=\(1\+0j\) must be a finite number"):
        critical.find_critical_point(arch, params, X, Y, max_seconds=1 + 0j)
    with pytest.raises(ValueError, match=r"`max_iter`=5\.0 must be a positive integer"):
        critical.find_critical_point(arch, params, X, Y, max_iter=5.0)


# ----------------------------------------------------------------------------- bool arrays as data


def test_bool_targets_are_0_1_data_for_a_custom_loss_and_refused_where_float64_is_needed():
    """``numeric_array`` passes bool arrays: a custom loss may take binary targets (as ``exact_fit`` takes a bool
    ``y``), and its loss is then the loss of the 0/1 targets, recomputed here in numpy. Every library consumer that
    computes with the array itself refuses bool, naming the argument: θ, X of an Architecture, Y of the squared
    and softmax-cross-entropy losses."""
    from theory_lab import derivatives as D

    arch, params, X, Y = _narrow()
    B = Y > 0
    logistic = D.objective(arch, loss=lambda F, T: jnp.sum(jax.nn.softplus(F) - F * T.astype(F.dtype), axis=-1))
    theta = logistic.layout.ravel(params)
    F = np.tanh(X @ params["layer_1"]["W"] + params["layer_1"]["b"]) @ params["layer_2"]["W"] + params["layer_2"]["b"]
    expect = float(np.sum(np.logaddexp(0.0, F) - F * B))
    assert float(D.loss(logistic, theta, X, B)) == pytest.approx(expect, rel=1e-13)
    assert float(D.loss(logistic, theta, X, jnp.asarray(B))) == pytest.approx(expect, rel=1e-13)
    squared = D.objective(arch)
    with pytest.raises(TypeError, match=r"`Y` has dtype bool; derivatives are computed in float64"):
        D.loss(squared, theta, X, B)
    with pytest.raises(TypeError, match=r"`X` has dtype bool; theory-lab computes in float64"):
        D.loss(squared, theta, X > 0, Y)
    with pytest.raises(TypeError, match=r"`theta` has dtype bool"):
        D.loss(squared, np.asarray(theta) > 0, X, Y)
    with pytest.raises(ValueError, match=r"`Y` has shape \(8,\) and dtype bool; softmax-cross-entropy needs"):
        D.loss(D.objective(arch, loss="softmax-cross-entropy"), theta, X, B[:, 0])
