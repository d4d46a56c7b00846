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
                                     in_S_k=False, iterations=1, seconds=0.0)
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
    """Planted bug: the width-threshold demo's ``zero_loss`` decided at ``1e3 · ZERO_LOSS_RTOL``.

    Scaling the exact fit's ``λ`` by ``1 + 1e-7`` makes ``F_L = (1 + 1e-7)·Y`` (to rounding): a
    residual ``1e-7 ‖Y‖``, relative loss ``1e-14``, above the documented ``Φ ≤ 1e-16 · ½‖Y‖²``. The
    fit is not at zero loss, and the only tested fit (``n_1 = 36 ≥ N = 30``, rank 30) refutes the prediction.
    """
    from theory_lab.demos import width_threshold

    _recording_exact_fit(monkeypatch, lambda F, y, out: dataclasses.replace(out, lam=out.lam * (1 + 1e-7)))
    r = width_threshold(30, filters=(1,), draws=1)
    for p in r.points:
        assert p.relative_loss == pytest.approx(1e-14, rel=1e-3)
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
    """Planted bug: the spectra demo's ``search["zero_loss"]`` decided at ``1e3 · ZERO_LOSS_RTOL``.

    A stub search ends at ``Φ = 1e-14 · ½‖Y‖²`` (a residual ``1e-7 ‖Y‖``): not a zero loss, so the
    demo's prediction (``∇²Φ = JᵀJ`` at ``Φ = 0``) does not rest on it. At ``1e-18 · ½‖Y‖²`` it is.
    """
    from theory_lab.demos import landmarks

    for rel, zero in ((1e-14, False), (1e-18, True)):
        def search(arch, params, X, Y, **kw):
            return types.SimpleNamespace(params=params, converged=True, loss=rel * 0.5 * float(np.sum(Y ** 2)),
                                         grad_norm=0.0, iterations=1, message="stub", in_S_k=True)
        monkeypatch.setattr(critical, "find_critical_point", search)
        s = landmarks(4).search
        assert s["relative_loss"] == pytest.approx(rel, rel=1e-12)
        assert s["zero_loss"] is zero and common.ZERO_LOSS_RTOL == 1e-16


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
