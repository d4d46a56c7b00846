"""Adversarial review of the loss-surface and curvature side (stop 29): each test failed on the code before it.

**Below the critical tolerance is not yet critical.** ``critical_tol`` is relative (``‖∇Φ‖ ≤ 1e-10 ‖J‖₂ s``), and
Lemma 4.3's factor ``c`` (``‖∇_{U_{k+1}} Φ‖ ≥ c ‖F_L − Y‖``) can be tiny inside ``S_k``: saturated units (``σ'``
~ 2e-9) or two samples 1e-9 apart (``σ_N(F_1)`` ~ 7e-11, still resolved by the SVD). A point there can have
``Φ`` of order 1, lie conclusively in ``S_k`` and have a gradient below the tolerance while being, in exact
arithmetic and in float64, *not* critical (its ``‖∇_{U_{k+1}} Φ‖`` sits above Lemma 4.3's lower bound ``c‖r‖ > 0``).
Theorem 4.5's observation and Theorem 4.4's (⇐) direction called such points conclusive counterexamples.
"""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np

from proofs_checks import loss_surface as LSC
from proofs_checks import s4_instances as S
from theory_lab import derivatives as D
from theory_lab import loss_surface, model
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Evidence, Hypothesis, Verdict, conclude
from theory_lab.sampling import sample_params

_ARCH = Architecture((5,), (Dense(8), Dense(4), Output(3)))  # n_1 = N = 8 ≥ 4 ≥ 3: Assumption 4.1 at k = 1


def _saturated_point(sat: float = 20.0):
    """Units 2-4 of layer 2 at pre-activation ~20 (σ' ~ 2e-9); the residual ``R`` orthogonal to ``[F_2, 1]``
    (so ``∇_{U_3} Φ = ∇_{b_3} Φ = 0``) and to unit 1's output weights (so only saturated units pass a gradient
    down). ``Φ = ½‖R‖²`` ≈ 3.7; ``‖∇Φ‖`` ≈ 5e-10, below the critical tolerance ≈ 3.7e-9, but not zero:
    Lemma 4.3 bounds ``‖∇_{U_2} Φ‖`` below by ``c ‖R‖`` ≈ 1.3e-12 > 0 at this point of ``S_1``."""
    X = np.random.default_rng(0).standard_normal((8, 5))
    p = sample_params(_ARCH, np.random.default_rng(1))
    p["layer_2"] = dict(p["layer_2"], b=jnp.asarray([0.0, sat, sat, sat]))
    F = model.features(_ARCH, p, X)
    Q, _ = np.linalg.qr(np.concatenate([np.asarray(F[2]), np.ones((8, 1))], 1), mode="complete")
    u = np.asarray(p["layer_3"]["W"])[0]
    B = np.random.default_rng(2).standard_normal((3, 3))
    B -= np.outer(B @ u, u) / (u @ u)
    Y = np.asarray(F[3]) - Q[:, 5:] @ B
    obj = D.objective(_ARCH)
    theta = obj.layout.ravel(p)
    res = types.SimpleNamespace(params=p, loss=float(D.loss(obj, theta, X, Y)), iterations=0, converged=True,
                                residual_norm=float(np.linalg.norm(D.residuals(obj, theta, X, Y))),
                                grad_norm=float(np.linalg.norm(D.gradient(obj, theta, X, Y))), kind="unclassified")
    return X, Y, p, res


def _verdict(ev):
    return conclude("claim", [Hypothesis("h", True)], ev).verdict


def test_saturated_units_make_no_false_counterexample_to_theorem_4_5():
    X, Y, p, res = _saturated_point()
    b = loss_surface.gradient_bounds(_ARCH, p, X, Y, 1)
    assert b.lower > 0 and b.lower_holds  # exact truth: ∇_{U_2} Φ ≠ 0, the point is not critical
    assert res.loss > 1 and 0 < res.grad_norm < S.critical_tol(_ARCH, p, X, Y).value
    ev = Evidence()
    row = S.observe_critical_point(ev, "saturated", _ARCH, res, X, Y, 1)
    assert row["critical"] and row["in_S_k"] and row["S_k_conclusive"]
    assert _verdict(ev) is Verdict.INCONCLUSIVE  # was a conclusive FAILS
    assert row["lemma_4_3_phi_max"] >= res.loss


def test_saturated_units_make_no_false_counterexample_to_theorem_4_4():
    X, Y, p, _ = _saturated_point()
    ev = Evidence()
    row = LSC._reverse(ev, "saturated", _ARCH, p, X, Y, 1, False)
    assert row["grad_U_norm"] <= row["zero_tol"] and row["in_S_k"] and row["S_k_conclusive"] and row["loss"] > 1
    assert _verdict(ev) is Verdict.INCONCLUSIVE  # was a conclusive FAILS


def test_near_duplicate_samples_make_no_false_counterexample_to_theorem_4_4():
    """A random draw with samples 3 and 4 1e-9 apart: σ_4(F_1) = 6.6e-11 (SVD tolerance 1.7e-15: conclusively in
    S_1). Targets put Δ_2 along F_1's last left singular vector, so ‖∇_{U_2} Φ‖ = 8.0e-11 ≥ c‖r‖ = 4.7e-11
    (Lemma 4.3: not zero) while Φ = 240."""
    arch = Architecture((3,), (Dense(4), Dense(2), Output(2)))
    p = sample_params(arch, np.random.default_rng(1))
    X = np.random.default_rng(2).standard_normal((4, 3))
    X[3] = X[2] + 1e-9 * np.array([1.0, -1.0, 0.5])
    fw = model.forward(arch, p, X)
    u = np.linalg.svd(np.asarray(fw.F[1]))[0][:, -1]
    dsig = np.asarray(jax.vmap(jax.vmap(jax.grad(jax.nn.sigmoid)))(fw.G[2]))
    R = (np.outer(u, [1.0, -0.7]) / dsig) @ np.linalg.inv(np.asarray(p["layer_3"]["W"]).T)
    Y = np.asarray(fw.F[3]) - R
    b = loss_surface.gradient_bounds(arch, p, X, Y, 1)
    assert 0 < b.lower <= b.grad_norm
    ev = Evidence()
    row = LSC._reverse(ev, "near-duplicates", arch, p, X, Y, 1, False)
    assert row["grad_U_norm"] <= row["zero_tol"] and row["in_S_k"] and row["S_k_conclusive"] and row["loss"] > 100
    assert _verdict(ev) is Verdict.INCONCLUSIVE  # was a conclusive FAILS


def test_a_reported_gradient_below_lemma_4_3s_bound_still_fails():
    """Converse: at an unsaturated point of S_1 with Φ ≈ 3.7, a search reporting ‖∇Φ‖ = 0 contradicts Lemma 4.3
    (‖∇_{U_2} Φ‖ ≥ c‖r‖ with c moderate): a conclusive FAILS, as is the lemma's bound violated in _reverse."""
    X, Y, p, res = _saturated_point(sat=0.5)
    assert res.grad_norm > 1e-3
    res.grad_norm = 0.0
    ev = Evidence()
    row = S.observe_critical_point(ev, "misreported", _ARCH, res, X, Y, 1)
    assert row["critical"] and row["in_S_k"] and row["lemma_4_3_phi_max"] < res.loss
    assert _verdict(ev) is Verdict.FAILS
    real = loss_surface.gradient_bounds
    b = real(_ARCH, p, X, Y, 1, grad=np.zeros((8, 4)))  # a lost gradient block: Lemma 4.3 violated
    admits, phi_max = S.lemma_4_3_admits(b, 0.5 * b.residual_norm ** 2)
    assert not admits and phi_max < 0.5 * b.residual_norm ** 2
