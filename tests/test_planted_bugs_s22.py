"""Planted bugs that earlier audits left alive, and a third pass over the §4 verdicts.

The eighth and ninth sessions' audits (``docs/planted_bugs.md``) left five mutants untested: the
``"minimum"`` search's Newton step without its negative-curvature shift, and four in the teaching
demos (random labels equal across draws, the ``"minimum"`` and ``"any"`` starts sharing a seed,
``zero_loss`` decided 1e3× too loosely, ``conclusive`` typed as ``True``). A further pass planted
bugs in :mod:`theory_lab.critical`, :mod:`theory_lab.loss_surface` and the §4 checks. Each test
here checks a mathematical property or a documented behaviour on a hand-built instance (or a tiny
demo run whose library seam is monkeypatched to a known value) and names in its docstring the
planted bug it catches.
"""

import dataclasses
import types

import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import critical
from theory_lab import derivatives as D
from theory_lab.demos import common


# ----------------------------------------------------------------------------- critical: Newton near a saddle


def _saddle_net(params, X):
    """Residuals ``r = (x, y² − 1)`` (times the single input 1): ``Φ = ½x² + ½(y² − 1)²``.

    Critical points: the minima ``(0, ±1)`` with ``Φ = 0`` and the strict saddle ``(0, 0)`` with
    ``Φ = ½``, where ``∇²Φ = diag(1, −2)``.
    """
    t = params["t"]
    return jnp.stack([t[0], t[1] ** 2 - 1.0])[None, :] * X


def test_minimum_mode_newton_steps_descend_along_negative_curvature_and_leave_the_saddle():
    """Planted bug: the ``"minimum"`` Newton step without its negative-curvature shift (``shift = 0``).

    At ``θ = (1, 0.01)`` the Hessian is ``diag(1, 6y² − 2)``: its second eigenvalue is ``≈ −2``. The
    shift makes ``∇²Φ + shift·I + λI`` positive definite, so the step descends along *every*
    eigenvector: ``Δy`` has the sign of ``−∂Φ/∂y`` (``y`` grows, away from the saddle at ``y = 0``),
    and the search leaves the saddle's level ``Φ = ½`` for the minimum ``(0, 1)``. Unshifted, the
    Newton step jumps to the saddle of the quadratic model (``Δy ≈ −y``): an accepted step (``Φ``
    falls from 1 to ½ through ``x``) that sits at a strict saddle with ``∇Φ ≈ 0`` from then on.
    """
    obj, theta = D.from_model(_saddle_net, {"t": jnp.array([1.0, 0.01])})
    X, Y = jnp.ones((1, 1)), jnp.zeros((1, 2))
    H = np.asarray(D.hessian(obj, theta, X, Y))
    g = np.asarray(D.gradient(obj, theta, X, Y))
    assert np.allclose(H, np.diag([1.0, 6e-4 - 2.0]), atol=1e-12) and g[1] < 0  # negative curvature along y
    losses = []
    for it in range(4):
        out = critical._newton_iteration(obj, "minimum", theta, jnp.zeros(()), X, Y)
        assert bool(out["accepted"])
        step = np.asarray(out["theta"]) - np.asarray(theta)
        if it == 0:
            assert step[1] * g[1] < 0 and step[0] * g[0] < 0  # descent along each Hessian eigenvector
        theta = out["theta"]
        losses.append(float(D.loss(obj, theta, X, Y)))
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.1 and abs(float(theta[1])) > 0.5, (losses, theta)  # near (0, ±1), far below Φ = ½


# ----------------------------------------------------------------------------- demos: seeds and seams


def _recording_exact_fit(monkeypatch, transform=None):
    """Monkeypatch :func:`theory_lab.exact_fit.exact_fit` to record its ``(F, y)`` and optionally alter the fit."""
    from theory_lab import exact_fit as EF

    real, calls = EF.exact_fit, []

    def fit(F, y, **kw):
        calls.append((np.asarray(F), np.asarray(y)))
        out = real(F, y, **kw)
        return out if transform is None else transform(F, y, out)
    monkeypatch.setattr(EF, "exact_fit", fit)
    return calls


def test_width_threshold_draws_new_random_labels_per_draw_the_same_at_every_width(monkeypatch):
    """Planted bug: the random labels of every draw from one seed (``[seed, 0]``), equal across draws.

    Documented: random labels "one per draw", draw ``j`` from ``[seed, j]``, "the same at every width".
    The targets handed to the exact fit are recorded (order: widths, draws, then true/random labels).
    """
    from theory_lab.demos import width_threshold

    calls = _recording_exact_fit(monkeypatch)
    r = width_threshold(30, filters=(1, 2), draws=2, seed=3)
    assert len(calls) == 2 * 2 * 2
    Ys = [y for _, y in calls]
    true = Ys[0::2]
    rand = {(T, j): Ys[4 * T + 2 * j + 1] for T in range(2) for j in range(2)}
    assert all(np.array_equal(y, true[0]) for y in true)
    for y in rand.values():  # one-hot labels over the 10 classes
        assert set(np.unique(y)) == {0.0, 1.0} and np.all(y.sum(1) == 1)
    assert not np.array_equal(rand[0, 0], rand[0, 1])  # two draws, two labellings
    assert np.array_equal(rand[0, 0], rand[1, 0]) and np.array_equal(rand[0, 1], rand[1, 1])
    assert not np.array_equal(rand[0, 0], true[0])
    assert [p.labels for p in r.points].count("random") == 4


def test_critical_points_starts_are_distinct_for_every_network_mode_and_run(monkeypatch):
    """Planted bug: the ``"minimum"`` and ``"any"`` starts drawn from one seed (``[seed, n, i]``, mode dropped).

    Documented: run ``i`` of mode ``m`` on network ``n`` starts from ``[seed, n, m, i]``. The starts
    handed to the search are recorded (the search itself is a stub): every one differs from every other.
    """
    from theory_lab.demos import critical_points

    starts = []

    def search(arch, params, X, Y, *, mode, **kw):
        starts.append((arch.widths[1], mode, np.concatenate([np.ravel(a) for a in _leaves(params)])))
        return types.SimpleNamespace(converged=False, kind="not converged", loss=1.0, grad_norm=1.0, inertia=None,
                                     in_S_k=False, iterations=1, seconds=0.0, residual_norm=2.0 ** 0.5)
    monkeypatch.setattr(critical, "find_critical_point", search)
    r = critical_points(40, starts=2, saddle_starts=2, seed=5)
    assert len(r.points) == len(starts) == 8
    assert sorted((w, m) for w, m, _ in starts) == sorted([(72, "minimum")] * 2 + [(72, "any")] * 2
                                                          + [(4, "minimum")] * 2 + [(4, "any")] * 2)
    for i, (wa, ma, a) in enumerate(starts):
        for wb, mb, b in starts[i + 1:]:
            assert wa != wb or not np.array_equal(a, b), (wa, ma, mb)


def _leaves(params):
    import jax

    return jax.tree_util.tree_leaves(params)


def test_width_threshold_a_fit_off_by_1e_minus_7_is_not_zero_loss(monkeypatch):
    """Planted bug: the width-threshold demo's ``zero_loss`` decided at 1e3 times its documented threshold.

    Scaling the exact fit's ``λ`` by ``1 + 1e-7`` makes ``F_L = (1 + 1e-7)·Y`` (to rounding): a
    residual ``1e-7 ‖Y‖``, relative loss ``1e-14``, above the documented exact-fit tolerance (``γ(‖F_1‖‖λ‖ + ‖Y‖)``,
    ~1e-11 here, and its band; s33-f). The fit is not at zero loss, and the only tested fit (``n_1 = 36 ≥ N = 30``,
    rank 30) refutes the prediction.
    """
    from theory_lab.demos import width_threshold

    _recording_exact_fit(monkeypatch, lambda F, y, out: dataclasses.replace(out, lam=out.lam * (1 + 1e-7)))
    r = width_threshold(30, filters=(1,), draws=1)
    for p in r.points:
        # measured within 5e-8 (relative) of 1e-14; abs=0: pytest's default abs=1e-12 accepted 0 or 1e-13
        assert p.relative_loss == pytest.approx(1e-14, rel=1e-3, abs=0)
        assert p.rank == 30 and p.conclusive and p.error == 0.0
        assert p.zero_loss is False
    assert r.threshold_ok is False


def test_width_threshold_reports_an_inconclusive_rank_as_inconclusive(monkeypatch):
    """Planted bug: ``FitPoint.conclusive`` typed as ``True`` instead of taken from the fit's rank report.

    The exact fit is asked for a band of 1e300, so no rank decision of ``F_1`` can be conclusive: every
    point must say so, none is a tested fit (``n_1 ≥ N``, rank ``N``, conclusive), and ``threshold_ok``
    is False (nothing was tested).
    """
    from theory_lab import exact_fit as EF
    from theory_lab.demos import width_threshold

    real = EF.exact_fit
    monkeypatch.setattr(EF, "exact_fit", lambda F, y, **kw: real(F, y, band=1e300))
    r = width_threshold(30, filters=(1,), draws=1)
    assert [p.conclusive for p in r.points] == [False, False]
    assert r.tested() == [] and r.threshold_ok is False


def test_spectra_search_decides_zero_loss_at_the_documented_threshold(monkeypatch):
    """Planted bug: the spectra demo's ``search["zero_loss"]`` decided at 100 times the documented threshold.

    A stub search ends at a residual ``1e-7 ‖Y‖`` (``Φ = 1e-14 · ½‖Y‖²``): not a zero loss, so the
    demo's prediction (``∇²Φ = JᵀJ`` at ``Φ = 0``) does not rest on it. At ``1e-12 ‖Y‖`` it is; at ``1e-10 ‖Y‖``
    (on the library's tolerance, session 33) it is undecided (``None``).
    """
    from theory_lab.demos import landmarks

    for rel, zero in ((1e-7, False), (1e-12, True), (1e-10, None)):
        def search(arch, params, X, Y, **kw):
            r = rel * float(np.sqrt(np.sum(Y ** 2)))
            return types.SimpleNamespace(params=params, converged=True, loss=0.5 * r * r, residual_norm=r,
                                         grad_norm=0.0, iterations=1, message="stub", in_S_k=True)
        monkeypatch.setattr(critical, "find_critical_point", search)
        s = landmarks(4).search
        assert s["relative_residual"] == pytest.approx(rel, rel=1e-12, abs=0)  # below pytest's default abs
        assert s["zero_loss"] is zero and common.ZERO_RESIDUAL_RTOL == pytest.approx(1e-10, rel=1e-12, abs=0)


# ----------------------------------------------------------------------------- critical: documented boundaries


def test_default_k_without_a_wide_layer_takes_the_last_of_the_widest():
    """Planted bug: ``default_k``'s fallback took the *first* of equally wide hidden layers.

    Documented: "else the widest hidden layer (last among equals)". With ``N = 10`` no layer of
    ``4 → 6 → 6 → 2`` is wide; layers 1 and 2 are both widest (6), so ``k = 2``.
    """
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((4,), (Dense(6), Dense(6), Output(2)))
    assert not arch.wide_layers(10)
    assert critical.default_k(arch, 10) == 2
    assert critical.default_k(Architecture((4,), (Dense(6), Dense(5), Output(2))), 10) == 1


def _tiny_search_instance():
    import jax

    from theory_lab import model
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((3,), (Dense(8), Output(1)))  # P = 3·8 + 8 + 8 + 1 = 41
    X = np.random.default_rng(0).standard_normal((4, 3))
    return arch, model.init(arch, jax.random.key(0)), X, np.ones((4, 1))


def test_dense_limit_is_inclusive_for_classification_and_for_mode_any():
    """Planted bugs: ``classify`` defaulting to ``P < dense_limit`` and mode ``"any"`` refused at
    ``P ≥ dense_limit``. Documented: ``dense_limit`` is the *largest* ``P`` for which dense Hessians
    are formed, so ``P = dense_limit`` is classified and allowed in mode ``"any"``; ``P = dense_limit + 1`` is not.
    """
    arch, params, X, Y = _tiny_search_instance()
    P = D.objective(arch).P
    assert P == 41
    res = critical.find_critical_point(arch, params, X, Y, dense_limit=P)
    assert res.converged and res.inertia is not None and res.kind != "unclassified"
    assert critical.find_critical_point(arch, params, X, Y, dense_limit=P - 1).kind == "unclassified"
    critical.find_critical_point(arch, params, X, Y, mode="any", dense_limit=P, max_iter=1)  # no error
    with pytest.raises(ValueError, match=rf"P = {P} > `dense_limit`={P - 1}"):
        critical.find_critical_point(arch, params, X, Y, mode="any", dense_limit=P - 1, max_iter=1)


# ----------------------------------------------------------------------------- critical: acceptance, convergence


def test_a_flat_step_is_accepted_only_when_it_lowers_the_gradient():
    """Planted bug: the gain-ratio test accepting every step whose merit change is at rounding level.

    Documented (``_accept``): "when the merit change is at rounding level, a smaller gradient decides".
    A flat step that doubles ``‖∇Φ‖`` is refused; one that halves it is accepted; a real decrease is
    accepted whatever the gradient does.
    """
    ok = lambda merit_c, gnorm_c: bool(critical._accept(1.0, 1.0, jnp.asarray(merit_c), 1e-3, jnp.asarray(gnorm_c))[0])
    assert ok(1.0, 0.5) and not ok(1.0, 2.0)
    assert ok(0.5, 2.0) and not ok(1.5, 0.5)


def test_convergence_is_decided_at_the_returned_point_not_by_the_iteration(monkeypatch):
    """Planted bug: ``find_critical_point`` without its final check ``converged and ‖∇Φ(θ)‖ ≤ gtol``.

    Documented: ``converged`` means ``‖∇Φ‖ ≤ gtol`` at the returned point. An iteration that reports
    ``‖∇Φ‖ = 0`` (here a stub; in practice ``Jᵀr`` rounding below ``gtol`` while autodiff's gradient is
    above it) must not make a point with a large gradient a critical point.
    """
    arch, params, X, Y = _tiny_search_instance()

    def lying(obj, kernel_form, theta, lam, X, Y):
        return {"theta": theta, "lam": lam, "accepted": True, "trials": 1, "value": 1.0, "grad_norm": 0.0}
    monkeypatch.setattr(critical, "_lm_iteration", lying)
    res = critical.find_critical_point(arch, params, X, Y, classify=False)
    assert res.grad_norm > 1e-3 and not res.converged and res.kind == "not converged"


# ----------------------------------------------------------------------------- loss_surface: S_k and Lemma 4.3


def _membership(*U, F=None, N=4):
    from theory_lab.linalg import rank_report
    from theory_lab.loss_surface import Membership

    F = rank_report(np.eye(N, 6), name="F_1") if F is None else F
    return Membership(1, N, F, {3 + i: u for i, u in enumerate(U)})


def test_membership_needs_every_U_l_full_rank_and_every_decision_conclusive():
    """Planted bugs: ``Membership.weights_ok`` with ``any`` for ``all``; ``conclusive`` reading ``F_k`` only.

    ``S_k`` asks ``rank F_k = N`` *and* every ``U_l`` (``l ∈ [k+2, L]``) of full rank: one deficient
    ``U_l`` puts the point outside. A decision inside its band anywhere leaves membership undecided.
    """
    from theory_lab.linalg import rank_report

    full, deficient = rank_report(np.eye(3)), rank_report(np.diag([1.0, 1.0, 0.0]))
    undecided = rank_report(np.diag([1.0, 2e-10]), tol=1e-10)  # σ_2 twice the tolerance: inside the band
    assert not undecided.conclusive
    assert _membership(full, full).member and _membership(full, full).conclusive
    m = _membership(full, deficient)
    assert not m.weights_ok and not m.member and m.reasons == ("U_4 rank 2 < 3",)
    u = _membership(full, undecided)
    assert u.member and not u.conclusive and u.to_dict()["conclusive"] is False and "[inconclusive]" in str(u)


def test_lemma_4_3_bounds_hold_up_to_their_rounding_allowance():
    """Planted bug: ``lower_holds`` without the rounding allowance ``tol`` (``lower ≤ ‖∇‖``).

    Where the lower bound is attained with equality, the two sides differ by rounding only: a bound
    ``1e-14`` relatively above the norm holds (tol = ``ROUNDING · upper``); one ``1e-9`` above does not.
    """
    from theory_lab.loss_surface import ROUNDING, GradientBounds

    def bounds(lower, grad, upper=2.0):
        return GradientBounds(1, grad, 1.0, lower, upper, lower, ROUNDING * max(upper, grad), {})

    assert bounds(1.0 + 1e-14, 1.0).lower_holds and bounds(1.0 + 1e-14, 1.0).holds
    assert not bounds(1.0 + 1e-9, 1.0).lower_holds
    assert bounds(0.5, 2.0 + 1e-14).upper_holds and not bounds(0.5, 2.0 + 1e-9).upper_holds


def test_widening_targets_need_more_than_n_plus_1_samples():
    """Planted bug: ``widening_critical_targets`` accepting ``N = n_{L-1} + 1`` (``<`` for ``≤``).

    The residual ``R = A B`` needs a column space of ``A`` orthogonal to ``[F_{L-1}, 1]`` (``n_{L-1} + 1``
    columns): with ``N = n_{L-1} + 1`` there is none. The documented error must say so instead of
    returning NaN targets; with one sample more the point is critical with ``Φ = ½`` (``scale = 1``).
    """
    from theory_lab import loss_surface as LS
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.sampling import sample_params

    arch = Architecture((6,), (Dense(12), Dense(3), Output(6)))
    params = sample_params(arch, np.random.default_rng(4))
    X = np.random.default_rng(5).standard_normal((5, 6))
    with pytest.raises(ValueError, match=r"N = 4 samples; the construction needs N > n_2 \+ 1 = 4"):
        LS.widening_critical_targets(arch, params, X[:4])
    Y = LS.widening_critical_targets(arch, params, X)
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    assert float(D.loss(obj, theta, X, Y)) == pytest.approx(0.5, rel=1e-12)
    assert float(jnp.linalg.norm(D.gradient(obj, theta, X, Y))) < 1e-12




# ----------------------------------------------------------------------------- §4 checks: hypotheses and verdicts


def _no_search(*args, **kwargs):
    raise AssertionError("a search ran on an instance whose hypotheses are not met")


def _hypothesis(result, name):
    return next(h for h in result.hypotheses if h.name == name)


def test_corollary_4_6_with_a_repeated_sample_is_not_applicable(monkeypatch):
    """Planted bug: ``corollary-4.6``'s "distinct samples" computed as ``gap ≥ 0`` (always met).

    With ``x_2 = x_1`` the corollary's hypothesis fails: *not applicable*, and no search runs.
    """
    from proofs_checks import loss_surface as LSC
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Context, Verdict

    real = S.tiny_data

    def repeated(ctx, arch):
        X, Y = real(ctx, arch)
        X = X.copy()
        X[1] = X[0]
        return X, Y
    monkeypatch.setattr(S, "tiny_data", repeated)
    monkeypatch.setattr(critical, "find_critical_point", _no_search)
    r = LSC._corollary_4_6(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    h = _hypothesis(r, "distinct samples")
    assert not h.met and h.detail == "smallest distance between samples 0"


def test_corollary_4_6_on_a_conv_network_is_not_applicable(monkeypatch):
    """Planted bug: ``corollary-4.6``'s "fully connected network" with ``any`` for ``all``.

    Given the conv net ``4x4x1 → Conv → Dense → Output`` (Theorem 4.5's tiny instance) the corollary
    does not apply, although every other hypothesis (4.1 at ``k = 2``, class targets) is met.
    """
    from proofs_checks import loss_surface as LSC
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(S, "tiny_fc", S.tiny_conv)
    monkeypatch.setattr(critical, "find_critical_point", _no_search)
    r = LSC._corollary_4_6(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert [h.name for h in r.hypotheses if not h.met] == ["fully connected network"]


def test_theorem_4_5_needs_layer_k_plus_1_fully_connected(monkeypatch):
    """Planted bug: ``theorem-4.5``'s "layer k+1 fully connected" computed as "not max-pooling" (a conv
    layer accepted). Theorem 4.5 asks for a fully connected layer ``k + 1``; with a conv layer 2 on the
    tiny instance (``k = 1``; Assumption 4.1 still met) the check is *not applicable* and searches nothing.
    """
    from proofs_checks import loss_surface as LSC
    from proofs_checks import s4_instances as S
    from theory_lab.arch import Architecture, Conv, Output
    from theory_lab.checking import Context, Verdict

    conv2 = Architecture((4, 4, 1), (Conv(1, (2, 2)), Conv(1, (2, 2)), Output(3)))  # n = 16, 9, 4, 3
    assert conv2.assumption_4_1(1, S.N_TINY).holds
    monkeypatch.setattr(S, "tiny_conv", lambda: conv2)
    monkeypatch.setattr(critical, "find_critical_point", _no_search)
    r = LSC._theorem_4_5(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert [h.name for h in r.hypotheses if not h.met] == ["tiny-conv: layer k+1 = 2 fully connected"]


def _claimed(loss_of):
    """A stub search that ends at its start and reports ``Φ = loss_of(Y)`` (and ``‖F_L − Y‖ = √(2Φ)``, on which the
    checks decide zero loss since session 32)."""
    def search(arch, params, X, Y, **kw):
        loss = loss_of(Y)
        return types.SimpleNamespace(params=params, loss=loss, residual_norm=float(np.sqrt(2.0 * loss)), grad_norm=0.0)
    return search


def test_class_targets_count_only_conclusive_zero_loss(monkeypatch):
    """Planted bug: the class-targets check counted a loss inside the zero-loss band as zero loss.

    ``Φ`` at half the zero-loss tolerance is within the band (100): undecided, so no point is
    classified and the check says *inconclusive* (it said *fails* from these undecided points).
    """
    from proofs_checks import loss_surface as LSC
    from theory_lab import tolerances as T
    from theory_lab.checking import Context, Verdict

    monkeypatch.setattr(critical, "find_critical_point", _claimed(lambda Y: 0.5 * T.zero_loss_tol(Y).value))
    r = LSC._class_targets_outside(Context(0))
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary
    assert "0/4 at zero loss" in r.summary


def _undecided_membership(monkeypatch):
    """``loss_surface.membership`` with every rank decision (``F_k`` and each ``U_l``) marked unresolved (member
    as computed): one conclusive failure would decide membership on its own (``U_L = 0`` at the bad point)."""
    from theory_lab import loss_surface as LS

    real = LS.membership

    def undecided(*args, **kwargs):
        m = real(*args, **kwargs)
        planted = "planted: below float64's reach"
        return dataclasses.replace(m, F_k=dataclasses.replace(m.F_k, unresolved=planted),
                                   U={l: dataclasses.replace(r, unresolved=planted) for l, r in m.U.items()})
    monkeypatch.setattr(LS, "membership", undecided)


def test_widening_converse_with_undecided_membership_is_not_applicable(monkeypatch):
    """Planted bug: ``theorem-4.4-widening``'s kept hypothesis "the point lies in S_1" without ``m.conclusive``.

    The converse needs a critical point *in* ``S_1``; with its rank decisions undecided it is not
    known to be there: *not applicable*.
    """
    from proofs_checks import loss_surface as LSC
    from theory_lab.checking import Context, Verdict

    _undecided_membership(monkeypatch)
    r = LSC._theorem_4_4_widening(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "unmet hypothesis: the point lies in S_1" in r.summary
    assert not _hypothesis(r, "the point lies in S_1").met


def test_bad_critical_point_with_undecided_membership_is_inconclusive(monkeypatch):
    """Planted bug: ``bad-critical-point`` declared "outside S_k" conclusive whatever the membership's
    own conclusiveness. With every rank decision undecided the point is not shown outside ``S_1``."""
    from proofs_checks import curvature as C
    from theory_lab.checking import Context, Verdict

    _undecided_membership(monkeypatch)
    r = C._bad_critical(Context(0))
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary
    obs = next(o for o in r.evidence["observations"] if o["name"] == "outside S_1")
    assert obs["holds"] and not obs["conclusive"]


def test_full_row_rank_hypothesis_needs_a_conclusive_rank(monkeypatch):
    """Planted bug: ``critical-full-row-rank``'s hypothesis "J has full row rank" without ``rJ.conclusive``.

    Every rank decision of the check is given a band of 1e300, so none is conclusive: the hypothesis is
    unmet (the point here is a random one; its "critical point" hypothesis is unmet too).
    """
    from proofs_checks import curvature as C
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Context

    def random_point(ctx):
        ds, arch = S.digits(ctx, S.N_SMALL), S.small_arch()
        return arch, ds.X, ds.Y, types.SimpleNamespace(params=S.params(arch, ctx, "s22/random"), message="random")
    real = C.rank_report
    monkeypatch.setattr(C, "_found_critical_point", random_point)
    monkeypatch.setattr(C, "rank_report", lambda A, **kw: real(A, **dict(kw, band=1e300)))
    r = C._critical_full_row_rank(Context(0))
    h = _hypothesis(r, "J has full row rank (solver forward-error tolerance)")
    assert not h.met, h.detail


def test_lanczos_check_needs_a_gap_after_the_k_th_eigenvalue(monkeypatch):
    """Planted bug: ``lanczos-dense``'s hypothesis "top and bottom eigenvalues distinct" took the gaps
    of ``λ_1..λ_k`` only, not the one between ``λ_k`` and ``λ_{k+1}`` (``k = 4``).

    With ``λ_5 = λ_4`` the 4th Ritz value has no unique eigenvector to match: *not applicable*.
    """
    from proofs_checks import curvature as C
    from theory_lab.checking import Context, Verdict

    real = C.reference_hessian

    def tied(ctx):
        arch, X, Y, theta, H, GN = real(ctx)
        w, V = np.linalg.eigh(H)
        w[4] = w[3]
        return arch, X, Y, theta, (V * w) @ V.T, GN
    monkeypatch.setattr(C, "reference_hessian", tied)
    r = C._lanczos_dense(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert not _hypothesis(r, "top and bottom eigenvalues distinct (gap > 1e-6 ‖H‖)").met


def test_targets_constant_to_rounding_do_not_make_a_bad_critical_point():
    """Planted bug: ``bad-critical-point``'s hypothesis "targets not constant" computed as
    ``½‖Y − 1ȳᵀ‖² > 0``.

    At ``U_{k+1} = 0, U_L = 0, b_L = ȳ`` the loss *is* ``½‖Y − 1ȳᵀ‖²``: targets that differ from their
    mean by 1e-10 give ``Φ`` at zero-loss level, no bad critical point. The hypothesis must be unmet
    there (decided at the zero-loss tolerance) and met for targets with a real spread.
    """
    from proofs_checks import curvature as C
    from proofs_checks import s4_instances as S

    arch = S.small_arch()
    rng = np.random.default_rng(6)
    Y = np.repeat(rng.standard_normal((1, 10)), 12, axis=0) + 1e-10 * rng.standard_normal((12, 10))
    X = np.zeros((12, *arch.input_shape))
    (h, _), spread = C._bad_hypotheses(arch, X, Y, 1)
    assert 0 < spread < 1e-17 and not h.met, h.detail
    (h, _), spread = C._bad_hypotheses(arch, X, Y + np.eye(12, 10), 1)
    assert spread > 1 and h.met
