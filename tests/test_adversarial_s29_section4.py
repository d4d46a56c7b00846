"""Section 4 and the curvature checks, second adversarial pass (stop 29): each test failed on the code before it.

**The inertia of a solver's point is not the inertia of the critical point it approximates.** ``hessian_inertia``
decided signs at ``1e-9 · max|λ|``. A point with ``‖∇Φ‖ ≤ gtol`` can lie ``~t`` away from the critical point it
approximates along a flat direction, and there the Hessian's eigenvalues that vanish at the critical point are
``O(t²)``, far above ``1e-9 · max|λ|``. ``Φ(w₁, b₁, w₂, b₂) = (w₁w₂)² + (w₂b₁ + b₂)²`` (a linear 1 → 1 → 1 net on
``x = ±1``, ``y = 0``) has only global minima as critical points, yet at ``w₁ = w₂ = 2e-4`` (``‖∇Φ‖ = 2.3e-11``)
the search reported a *conclusive* saddle (eigenvalue ``−8e-8`` against the tolerance ``2e-9``, margin 40).

**Below a tolerance is not yet exact.** ``critical-full-row-rank`` took a point half the critical tolerance from
critical (``∇Φ ≠ 0`` exactly) as a counterexample; ``hessian-zero-loss`` decided ranks at rounding at a point that
is zero-loss only to tolerance (``H = JᵀJ + R``). Also: ``_reverse`` at an exact fit, and (strict xfail) norms
that underflow below ~1e-154. See docs/planted_bugs.md, "Section 4 and curvature checks, second adversarial pass".
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import numpy as np

from theory_lab import critical
from theory_lab.arch import Architecture, Dense, Output

_LINEAR = Architecture((1,), (Dense(1, "identity"), Output(1)))
_X = np.array([[1.0], [-1.0]])


def _point(w1, b1, w2, b2):
    return {"layer_1": {"W": jnp.array([[w1]]), "b": jnp.array([b1])},
            "layer_2": {"W": jnp.array([[w2]]), "b": jnp.array([b2])}}


def test_no_conclusive_saddle_next_to_a_manifold_of_global_minima():
    # Φ = (w₁w₂)² + (w₂b₁ + b₂)²: ∇Φ = 0 forces w₂b₁ + b₂ = 0 and w₁w₂ = 0, so every critical point has Φ = 0
    for t in (2e-4, 3e-4):
        res = critical.find_critical_point(_LINEAR, _point(t, 0.0, t, 0.0), _X, np.zeros((2, 1)), max_iter=1)
        assert res.converged and res.grad_norm <= 1e-10
        # the point's own Hessian has eigenvalue −2t² (−8e-8 at t = 2e-4), 40× the old tolerance 2e-9 ...
        assert min(res.inertia.eigenvalues) < -1e-8
        # ... but it vanishes at the critical points nearby: a second-order classification is not decided here
        assert res.kind == "degenerate" or not res.inertia.conclusive, (t, res.inertia.summary())


def test_a_strict_saddle_stays_conclusive():
    # converse: y = x gives Φ = (w₁w₂ − 1)² + (w₂b₁ + b₂)²; at the origin a strict saddle (eigenvalues ±2, 2, 0)
    Y = _X.copy()
    for start in (_point(0.0, 0.0, 0.0, 0.0), _point(1e-12, 0.0, -1e-12, 0.0)):
        res = critical.find_critical_point(_LINEAR, start, _X, Y, max_iter=1)
        assert res.converged
        assert (res.kind, res.inertia.conclusive) == ("saddle", True), res.inertia.summary()
        assert (res.inertia.negative, res.inertia.positive) == (1, 2)


def test_an_exact_degenerate_minimum_keeps_its_exact_zeros():
    # converse: at the origin with y = 0, Φ = 0 and ∇²Φ = 2 e_{b₂} e_{b₂}ᵀ exactly: three zeros, one positive
    res = critical.find_critical_point(_LINEAR, _point(0.0, 0.0, 0.0, 0.0), _X, np.zeros((2, 1)), max_iter=1)
    assert res.converged and res.grad_norm == 0.0
    assert (res.inertia.negative, res.inertia.zero, res.inertia.positive) == (0, 3, 1)
    assert (res.kind, res.inertia.conclusive) == ("degenerate", True), res.inertia.summary()


def test_theorem_4_4_reverse_at_an_exact_fit():
    # F_L = Y to the last bit: ‖F_L − Y‖ = 0. `_reverse` divided by it (ZeroDivisionError); ∇_U Φ = 0 and Φ = 0 agree
    from proofs_checks import loss_surface as LSC
    from theory_lab import model
    from theory_lab.checking import Evidence
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(8), Output(2)))
    X = np.random.default_rng(0).standard_normal((6, 3))
    params = sample_params(arch, np.random.default_rng(1))
    ev = Evidence()
    row = LSC._reverse(ev, "exact fit", arch, params, X, np.asarray(model.apply(arch, params, X)), 1, False)
    assert row["loss"] == 0.0 and row["grad_U_norm"] == 0.0 and row["lower_factor"] == 0.0
    (ob,) = ev.observations
    assert ob.holds and ob.conclusive


def _near_critical_point(ctx):
    """A point of a 3 → 6 → 5 → 2 sigmoid net whose residual lies along ``J``'s weakest left singular vector,
    scaled so that ``‖∇Φ‖ = σ_min(J) ‖r‖`` sits at half the critical tolerance: ``Φ`` is 400× the zero-loss
    tolerance, ``J`` has full row rank (cond 41), and in exact arithmetic ``∇Φ ≠ 0``: no critical point."""
    import types

    from theory_lab import derivatives as D
    from theory_lab import model
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(6), Dense(5), Output(2)))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3))
    params = sample_params(arch, np.random.default_rng(1))
    obj = D.objective(arch)
    J = np.asarray(D.jacobian(obj, obj.layout.ravel(params), X))
    U, s, _ = np.linalg.svd(J)
    FL = np.asarray(model.apply(arch, params, X))
    eps = 0.5 * 1e-10 * s[0] * np.linalg.norm(FL) / s[-1]
    Y = FL - eps * U[:, -1].reshape(FL.shape)
    return arch, X, Y, types.SimpleNamespace(params=params, message="built")


def test_full_row_rank_check_below_the_critical_tolerance_is_not_a_counterexample(monkeypatch):
    from proofs_checks import curvature as C
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(C, "_found_critical_point", _near_critical_point)
    r = C._critical_full_row_rank(Context(0))
    # ‖r‖ = ‖∇Φ‖ / σ_min(J) exactly as the bound says: Φ > 0 is explained by ∇Φ ≠ 0, not a counterexample
    assert r.verdict is not Verdict.FAILS, r.summary
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary


def test_full_row_rank_check_fails_where_the_gradient_is_below_the_bound(monkeypatch):
    # converse: the same point with ‖∇Φ‖ under-reported 100× (below σ_min(J)‖r‖): Lemma-free linear algebra is
    # contradicted, and Φ > 0 is no longer admitted: a conclusive violation
    from proofs_checks import curvature as C
    from theory_lab import derivatives as D
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(C, "_found_critical_point", _near_critical_point)
    real = D.gradient
    monkeypatch.setattr(D, "gradient", lambda *a, **kw: real(*a, **kw) / 100)
    r = C._critical_full_row_rank(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "Φ = " in r.summary or "‖r‖ σ_min(J)" in r.summary


def test_gradient_bounds_scale_with_the_output_layer():
    # output weights and targets × 2^-500 (exact): r, ∇_{U_2} Φ and both bounds scale by 2^-500, F_1 is unchanged
    # (was a strict xfail: the norms underflowed to 0; scaled norms since session 32, zero loss compared on ‖r‖)
    from theory_lab import loss_surface, model
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(8), Output(2)))
    X = np.random.default_rng(0).standard_normal((6, 3))
    params = sample_params(arch, np.random.default_rng(1))
    Y = np.asarray(model.apply(arch, params, X)) + 1e-9 * np.random.default_rng(2).standard_normal((6, 2))
    s = 2.0 ** -500
    small = dict(params, layer_2={"W": params["layer_2"]["W"] * s, "b": params["layer_2"]["b"] * s})
    b1, bs = (loss_surface.gradient_bounds(arch, p, X, y, 1) for p, y in ((params, Y), (small, Y * s)))
    for name in ("grad_norm", "residual_norm", "lower", "upper"):
        assert getattr(bs, name) == pytest.approx(getattr(b1, name) * s, rel=1e-12, abs=0.0), name


def _fitted_within_zero_loss(rel, least_squares_fit):
    """3 → 6 → 5 → 2 sigmoid net, ``N = 4``, output layer fitted by least squares, then the targets moved by
    ``rel · ‖F_L‖`` (seeded direction): ``Φ = ½ rel² ‖F_L‖²`` meets "zero loss" (``≤ 1e-20 · ½‖Y‖²``) for
    ``rel < 1e-10``, while ``∇²Φ = JᵀJ + Σ r_a ∇²f_a`` keeps a residual term of size ``rel``."""
    import types

    from theory_lab import model
    from theory_lab.linalg import rank_report

    def build(ctx):
        fit = least_squares_fit()  # tests/conftest.py; fitted to its own Y0; d continues fit's rng after X and Y0
        FL = np.asarray(model.apply(fit.arch, fit.fitted, fit.X))
        d = fit.rng.standard_normal(FL.shape)
        Y = FL + rel * np.linalg.norm(FL) * d / np.linalg.norm(d)
        return fit.arch, types.SimpleNamespace(X=fit.X, Y=Y, N=4), fit.params, fit.fitted, rank_report(fit.F, name="F_2")
    return build


def test_zero_loss_hessian_check_at_a_point_inside_the_zero_loss_tolerance(monkeypatch, least_squares_fit):
    # Φ = 0.25 × the zero-loss tolerance: H = JᵀJ + R with ‖R‖ ≈ 5e-11 ‖H‖. The exact zero-loss Hessian has ≥ P − Nm
    # zeros; H's eigenvalues lie within ‖R‖ of JᵀJ's (Weyl), so rank H = 33 ≠ 8 at rounding is no counterexample
    from proofs_checks import curvature as C
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(C, "zero_loss_point", _fitted_within_zero_loss(5e-11, least_squares_fit))
    r = C._zero_loss(Context(0))
    assert next(h for h in r.hypotheses if h.name == "zero loss").met
    assert r.verdict is not Verdict.FAILS, r.summary


def test_zero_loss_hessian_check_still_sees_a_shifted_hessian(monkeypatch, least_squares_fit):
    # converse: at the exact fit it holds, and a spurious 1e-6 ‖H‖ I in the Hessian is still a conclusive failure
    from proofs_checks import curvature as C
    from theory_lab import derivatives as D
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(C, "zero_loss_point", _fitted_within_zero_loss(0.0, least_squares_fit))
    assert C._zero_loss(Context(0)).verdict is Verdict.HOLDS
    real = D.hessian
    monkeypatch.setattr(D, "hessian", lambda *a, **kw: (lambda H: H + 1e-6 * jnp.max(jnp.abs(H)) * jnp.eye(H.shape[0]))(
        real(*a, **kw)))
    r = C._zero_loss(Context(1))
    assert r.verdict is Verdict.FAILS, r.summary
