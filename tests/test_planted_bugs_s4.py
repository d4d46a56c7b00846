"""Every section-4 check can fail: each is fed a wrong quantity (a monkeypatched library function).

One planted bug per registered check of the entry points ``s4-curvature`` and
``s4-loss-surface``; a converse is fed a quantity that hides the violation it must show,
so it *fails* too. Unmet hypotheses give *not applicable*, never *fails*.
"""

from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from proofs_checks import curvature as C
from proofs_checks import loss_surface as LSC
from proofs_checks import s4_instances as S
from theory_lab import derivatives as D
from theory_lab import loss_surface as LS
from theory_lab.checking import Context, Verdict, run_check


@pytest.fixture(scope="module", autouse=True)
def _compiled_programs_on_disk(tmp_path_factory):
    """JAX's persistent compilation cache in a fresh folder, for this module only (keeps the file fast).

    Each planted run ends with ``jax.clear_caches()``, so every test traced and compiled the same section-4
    instances again (about 60 % of the file's time was XLA compiling). The persistent cache is keyed by the
    lowered program itself: a trace through a planted function lowers to a different program and compiles
    afresh, so clearing the in-memory caches still drops every planted trace; only the XLA compilation of an
    unchanged program is read back from disk. Restored (cache off) when the module ends."""
    from jax.experimental.compilation_cache import compilation_cache as cc

    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    saved = {name: getattr(jax.config, name) for name in names}
    cc.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("s4_compiled")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    try:
        yield
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
        cc.reset_cache()


@pytest.fixture(autouse=True)
def _small_workloads(monkeypatch):
    """Fewer random starts: each planted bug shows on the first ones (keeps the file fast)."""
    monkeypatch.setattr(LSC, "STARTS", 1)
    monkeypatch.setattr(LSC, "SEARCH_STARTS", 1)
    monkeypatch.setattr(LSC, "NARROW_STARTS", (("any", 1),))


def _s4_checks():
    eps = [ep for ep in metadata.entry_points(group="theory_lab.checks") if ep.name in ("s4-curvature",
                                                                                      "s4-loss-surface")]
    assert len(eps) == 2, eps
    return {c.id: c for ep in eps for c in ep.load()}


# --- the planted bugs (each returns nothing; it monkeypatches) -------------------------------------


def _gauss_newton_hvp(mp):
    """HVP returns the Gauss–Newton product (the residual term dropped)."""
    mp.setattr(D, "hvp", lambda obj, theta, X, Y, v, block=None: D.gauss_newton_vp(obj, theta, X, v, block=block))
    mp.setattr(D, "linearize_hvp", lambda obj, theta, X, Y, block=None:
               (lambda v: D.gauss_newton_vp(obj, theta, X, v, block=block)))


def _lanczos_without_reorthogonalisation(mp):
    """Plain Lanczos: each new vector orthogonalised against the last two basis vectors only."""
    from theory_lab import krylov

    def local(Q, w):
        # numpy for the host driver's numpy rows (a growing Q: eager jnp would compile every op for every
        # shape), jnp inside the device drivers' traces
        xp = np if isinstance(Q, np.ndarray) and isinstance(w, np.ndarray) else jnp
        rows = xp.arange(Q.shape[0])
        filled = xp.linalg.norm(Q, axis=1) > 0
        last = xp.max(xp.where(filled, rows, -1))
        h = xp.where(filled & (rows >= last - 1), Q @ w, 0.0)
        w1 = w - Q.T @ h
        return w1, h, w1
    mp.setattr(krylov, "_cgs2", local)
    jax.clear_caches()


def _wrong_lower_factor(mp):
    """Lemma 4.3's lower bound with ‖σ'‖_max where the lemma has ‖σ'‖_min."""
    real = LS.gradient_bounds

    def wrong(arch, params, X, Y, k, **kw):
        b = real(arch, params, X, Y, k, **kw)
        f = np.prod([r["dsigma_max"] / r["dsigma_min"] for r in b.factors["layers"]]) if b.factors["layers"] else 2.0
        return LS.GradientBounds(b.k, b.grad_norm, b.residual_norm, b.lower * f, b.upper, b.lower_naive * f, b.tol,
                                 b.factors)
    mp.setattr(LS, "gradient_bounds", wrong)


def _dropped_sigma_prime(mp):
    """The backprop recursion without σ'(G_l)."""
    mp.setattr(LS, "_act_and_derivative", lambda name, G: (G, jnp.ones_like(G)))
    jax.clear_caches()


def _lost_gradient_block(mp):
    """∇_{U_j} Φ lost (returns zeros): every point looks critical in U_{k+1}."""
    real = LS.grad_full_matrix
    mp.setattr(LS, "grad_full_matrix", lambda *a, **kw: 0.0 * real(*a, **kw))

    def bounds(arch, params, X, Y, k, grad=None):
        return _REAL_BOUNDS(arch, params, X, Y, k, grad=0.0 * real(arch, params, X, Y, k + 1))
    mp.setattr(LS, "gradient_bounds", bounds)


_REAL_BOUNDS = LS.gradient_bounds
_REAL_MEMBERSHIP = LS.membership


def _membership_ignores_weights(mp):
    """S_k membership that forgets the U_l (l ≥ k+2) rank condition."""
    def member(arch, params, X, k, **kw):
        m = _REAL_MEMBERSHIP(arch, params, X, k, **kw)
        return LS.Membership(m.k, m.N, m.F_k, {})
    mp.setattr(LS, "membership", member)


def _membership_too_strict(mp):
    """S_k membership with a rank tolerance far above rounding (rtol 0.5)."""
    def member(arch, params, X, k, **kw):
        m = _REAL_MEMBERSHIP(arch, params, X, k, **kw)
        from theory_lab.linalg import rank_report
        F = np.asarray(LS.model.features(arch, params, X)[k])
        return LS.Membership(m.k, m.N, rank_report(F, rtol=0.5), m.U)
    mp.setattr(LS, "membership", member)


def _membership_tol_zero(mp):
    """S_k membership with rank tolerance 0: rounding-level singular values count as rank."""
    from theory_lab.linalg import rank_report

    def member(arch, params, X, k, **kw):
        m = _REAL_MEMBERSHIP(arch, params, X, k, **kw)
        F = np.asarray(LS.model.features(arch, params, X)[k])
        U = {l: rank_report(np.asarray(LS.model.full_weight_matrix(arch, params, l)), tol=0.0) for l in m.U}
        return LS.Membership(m.k, m.N, rank_report(F, tol=0.0), U)
    mp.setattr(LS, "membership", member)


def _loose_critical(mp):
    """A Jacobian 1e6 times too large: the critical tolerance admits points that are not critical."""
    real = D.jacobian
    mp.setattr(D, "jacobian", lambda *a, **kw: 1e6 * real(*a, **kw))


def _bad_point_without_mean(mp):
    """The bad critical point built with b_L = 0 instead of ȳ."""
    real = LS.bad_critical_point

    def wrong(arch, params, Y, k):
        p = real(arch, params, Y, k)
        p[f"layer_{arch.L}"] = dict(p[f"layer_{arch.L}"], b=jnp.zeros_like(p[f"layer_{arch.L}"]["b"]))
        return p
    mp.setattr(LS, "bad_critical_point", wrong)


def _hessian_with_a_shift(mp):
    """A dense Hessian with a spurious 1e-6 ‖H‖ I (curvature that is not there)."""
    real = D.hessian

    def wrong(obj, theta, X, Y, **kw):
        H = real(obj, theta, X, Y, **kw)
        return H + 1e-6 * jnp.max(jnp.abs(H)) * jnp.eye(H.shape[0])
    mp.setattr(D, "hessian", wrong)


def _gradient_of_the_mean_loss(mp):
    """∇Φ of the mean loss (1/N) where the check needs the sum loss."""
    real = D.gradient
    mp.setattr(D, "gradient", lambda obj, theta, X, Y, **kw: real(obj, theta, X, Y, **kw) / (1e3 * np.shape(X)[0]))


def _residual_term_dropped_everywhere(mp):
    """The dense Hessian is the Gauss–Newton matrix (so H = JᵀJ at every point)."""
    mp.setattr(D, "hessian", lambda obj, theta, X, Y, **kw: D.gauss_newton(obj, theta, X))


def _widening_lower_bound_as_operator(mp):
    """The σ_min reading replaced by the operator lower bound (0): the violation is hidden."""
    real = LS.gradient_bounds

    def hidden(arch, params, X, Y, k, **kw):
        b = real(arch, params, X, Y, k, **kw)
        return LS.GradientBounds(b.k, b.grad_norm, b.residual_norm, b.lower, b.upper, b.lower, b.tol, b.factors)
    mp.setattr(LS, "gradient_bounds", hidden)


def _widening_targets_fitted(mp):
    """Targets equal to the network's output: the converse point loses its Φ > 0."""
    real = LS.widening_critical_targets

    def fitted(arch, params, X, **kw):
        return np.asarray(LS.model.apply(arch, params, X)) + 0.0 * real(arch, params, X, **kw)
    mp.setattr(LS, "widening_critical_targets", fitted)


def _finder_reports_zero_loss(mp):
    """A critical-point finder whose reported loss is always 0 (hides Φ > 0): ``loss`` and, since session 32 (zero
    loss decided on ``‖F_L − Y‖``), ``residual_norm``."""
    from theory_lab import critical
    real = critical.find_critical_point

    def wrong(*a, **kw):
        res = real(*a, **kw)
        res.loss = res.residual_norm = 0.0
        return res
    mp.setattr(critical, "find_critical_point", wrong)


def _finder_underreports_gradient(mp):
    """A critical-point finder that stops at a gtol a million times too large and reports ‖∇Φ‖ a million times
    too small (so its early stops pass for critical points).

    Replaced the loose-tolerance plants of Theorem 4.5 / Corollary 4.6 in stop 29: a point whose small gradient
    Lemma 4.3 explains (tiny c) is no counterexample, so those give *inconclusive* now (test below); a reported
    gradient below Lemma 4.3's bound ``c ‖F_L − Y‖`` contradicts the lemma: *fails*."""
    from theory_lab import critical
    real = critical.find_critical_point

    def wrong(*a, gtol=1e-10, **kw):
        res = real(*a, gtol=1e6 * gtol, **kw)
        res.grad_norm *= 1e-6
        return res
    mp.setattr(critical, "find_critical_point", wrong)


def _bad_point_loss_zero(mp):
    """Loss and residuals computed against the network's own output (Φ = 0 everywhere)."""
    mp.setattr(D, "residuals", lambda obj, theta, X, Y: 0.0 * D.outputs(obj, theta, X).reshape(-1))
    mp.setattr(D, "loss", lambda obj, theta, X, Y=None: 0.0 * jnp.sum(D.outputs(obj, theta, X)))


PLANTS = {
    "hessian-zero-loss": _hessian_with_a_shift,
    "hessian-zero-loss-converse": _residual_term_dropped_everywhere,
    "bad-critical-point": _bad_point_without_mean,
    "bad-critical-point-converse": _bad_point_without_mean,
    "critical-full-row-rank": _gradient_of_the_mean_loss,
    "critical-full-row-rank-converse": _bad_point_loss_zero,
    "hvp-dense": _gauss_newton_hvp,
    "lanczos-dense": _lanczos_without_reorthogonalisation,
    "backprop-recursion": _dropped_sigma_prime,
    "lemma-4.2": _membership_too_strict,
    "lemma-4.3": _wrong_lower_factor,
    "lemma-4.3-widening": _widening_lower_bound_as_operator,
    "theorem-4.4": _lost_gradient_block,
    "theorem-4.4-widening": _widening_targets_fitted,
    "theorem-4.5": _finder_underreports_gradient,
    "corollary-4.6": _finder_underreports_gradient,
    "class-targets-outside-S_k": _membership_ignores_weights,
    "narrow-critical-points": _finder_reports_zero_loss,
}


def test_every_registered_section_4_check_has_a_planted_bug():
    assert set(_s4_checks()) == set(PLANTS)


def _run_planted(cid, plant, monkeypatch):
    """``(check, record)`` of check ``cid`` at seed 0 with ``plant`` applied, undone (and jax's caches cleared) after."""
    check = _s4_checks()[cid]
    plant(monkeypatch)
    try:
        rec = run_check(check, Context(seed=0))
    finally:
        monkeypatch.undo()
        jax.clear_caches()
    assert rec.error is None, rec.error
    return check, rec


@pytest.mark.parametrize("cid", sorted(PLANTS))
def test_planted_bug_makes_the_check_fail(cid, monkeypatch):
    check, rec = _run_planted(cid, PLANTS[cid], monkeypatch)
    assert rec.result.hypotheses_met or check.kind == "converse", rec.result.summary
    assert rec.result.verdict == Verdict.FAILS, (cid, rec.result.summary)


def test_unmet_hypotheses_give_not_applicable_never_fails(monkeypatch):
    """Assumption 4.1 broken on the instances (a widening layer): not applicable, even with a planted bug."""
    monkeypatch.setattr(S, "pyramidal", lambda: S.Architecture((8, 8, 1), (S.Conv(2, (3, 3)), S.Dense(8),
                                                                             S.Output(10))))
    monkeypatch.setattr(S, "wide_last", lambda: S.Architecture((8, 8, 1), (S.Conv(1, (3, 3)), S.Dense(8),
                                                                             S.Output(10))))
    for fn in (LSC._lemma_4_2, LSC._theorem_4_4, LSC._theorem_4_5, LSC._class_targets_outside):
        assert fn(Context(seed=0)).verdict == Verdict.NOT_APPLICABLE
    _wrong_lower_factor(monkeypatch)
    assert LSC._lemma_4_3(Context(seed=0)).verdict == Verdict.NOT_APPLICABLE


def test_constant_targets_make_the_bad_critical_point_not_applicable(monkeypatch):
    real = C.bad_critical_point
    monkeypatch.setattr(C, "bad_critical_point", lambda ctx, constant_targets=False: real(ctx, constant_targets=True))
    assert C._bad_critical(Context(seed=0)).verdict == Verdict.NOT_APPLICABLE


def test_an_upper_bound_violated_71_times_fails(monkeypatch):
    """Lemma 4.3's upper bound computed 71× too small: a conclusive violation, never inconclusive."""
    real = LS.gradient_bounds

    def small_upper(arch, params, X, Y, k, **kw):
        b = real(arch, params, X, Y, k, **kw)
        return LS.GradientBounds(b.k, b.grad_norm, b.residual_norm, b.lower, b.upper / 71, b.lower_naive, b.tol,
                                 b.factors)
    monkeypatch.setattr(LS, "gradient_bounds", small_upper)
    result = LSC._lemma_4_3(Context(seed=0))
    assert result.hypotheses_met and result.verdict == Verdict.FAILS, result.summary


@pytest.mark.parametrize("fn", [LSC._lemma_4_3_widening, LSC._theorem_4_4_widening])
def test_a_converse_with_a_kept_hypothesis_unmet_is_not_applicable(fn, monkeypatch):
    """tanh in the widening network breaks Assumption 3.2, which the converses keep: not applicable."""
    monkeypatch.setattr(S, "widening", lambda: S.Architecture((6,), (S.Dense(12, activation="tanh"), S.Dense(3),
                                                                      S.Output(6))))
    result = fn(Context(seed=0))
    assert result.verdict == Verdict.NOT_APPLICABLE, result.summary


@pytest.mark.parametrize("cid, plant", [("theorem-4.5", _membership_tol_zero), ("corollary-4.6", _loose_critical)])
def test_plants_that_lemma_4_3_cannot_refute_are_inconclusive(cid, plant, monkeypatch):
    """A lax membership (rank tolerance 0) or a critical tolerance 1e6 too loose lets points with ``Φ > 0`` count as
    critical points in ``S_k``; their small gradients are what Lemma 4.3 allows at their tiny ``c`` (``σ_min(F_k)``
    at rounding, or a far-from-critical point), so nothing refutes Φ > 0 conclusively: *inconclusive* (which
    ``verify --strict`` rejects), never *holds*."""
    _, rec = _run_planted(cid, plant, monkeypatch)
    assert rec.result.verdict == Verdict.INCONCLUSIVE, rec.result.summary
    assert "Lemma 4.3 admits" in str(rec.result.evidence), rec.result.summary
