"""Full-rank claims of computed feature matrices outside ``feature_rank`` (stop 29, left-overs): each must clear
the forward pass's own error bound (:func:`theory_lab.forward_error.feature_error_bound`), as ``feature_rank`` does.

Truth by construction: unit 9 is unit 8 plus ``big`` on a pixel that is 1 on every sample and minus ``big`` in its
bias (dyadic numbers), so the two pre-activations agree in exact arithmetic and ``rank F_1 ≤ 9 < N``, while
float64 computes unit 9's with an error of about ``eps · big``. docs/planted_bugs.md, "Expressivity left-overs
(stop 29)".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import proofs_checks.expressivity as pe
from proofs_checks import hypotheses as hyp
from theory_lab import activations, loss_surface, tolerances
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Verdict, conclude
from theory_lab.evidence import Evidence
from theory_lab.feature_maps import feature_rank
from theory_lab.linalg import rank_report, with_forward_error
from theory_lab.sampling import sample_params

N = 10


def _cancelling(big: float, activation: str = "sigmoid"):
    """Dense 3 → 10 → 1 (``activation``); see the module docstring. ``big = 0``: plainly equal units."""
    arch = Architecture((3,), (Dense(N, activation=activation), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3))
    X[:, 2] = 1.0
    p = {name: {key: np.array(a) for key, a in layer.items()} for name, layer in sample_params(arch, 1).items()}
    W, b = p["layer_1"]["W"], p["layer_1"]["b"]
    W[2, 8], b[8] = 0.375, -0.125
    W[:, 9] = W[:, 8]
    W[2, 9], b[9] = big + 0.375, -big - 0.125
    assert W[2, 9] - big == W[2, 8] and b[9] + big == b[8]
    return arch, p, X


def test_corollary_3_6_reads_rank_f_with_the_forward_error():
    """Was: ``linalg.rank_report`` on F_{L−1}: rank 10, conclusive (margin 7.3e4), so the check's premise
    'rank F_{L−1} = N' held for two units equal in exact arithmetic."""
    arch, p, X = _cancelling(1e8)
    F = np.asarray(pe.feature_maps.features_upto(arch, p, X, 1))
    plain = rank_report(F, name="F_1")
    assert plain.rank == N and plain.conclusive and plain.margin > 1e4  # the old reading
    ev = Evidence()
    pe._observe_corollary_3_6(ev, arch, p, X, 1, {"gaussian": np.random.default_rng(1).standard_normal(N)})
    obs = ev.observations[0]
    assert obs.name == "F_1 (Theorem 3.4's construction)" and not obs.conclusive, obs.detail
    hs, _ = hyp.theorem_3_4(arch, X, 1)
    assert all(h.met for h in hs)
    assert conclude("fit", hs, ev).verdict is not Verdict.HOLDS


def test_corollary_3_6_premise_still_holds_without_cancellation():
    """Converse: a generic draw of the same network keeps a conclusive rank N there (the bound is small)."""
    arch, _, X = _cancelling(0.0)
    ev = Evidence()
    pe._observe_corollary_3_6(ev, arch, sample_params(arch, 3), X, 1, {"gaussian": np.ones(N)})
    assert ev.observations[0].conclusive and ev.observations[0].holds
    arch, p, X = _cancelling(0.0)  # equal units without cancellation: a conclusive deficit
    ev = Evidence()
    pe._observe_corollary_3_6(ev, arch, p, X, 1, {"gaussian": np.ones(N)})
    assert ev.observations[0].conclusive and not ev.observations[0].holds


@pytest.mark.parametrize("big", [1e11])
def test_membership_at_solver_tolerance_clears_the_forward_error(big):
    """``membership(..., forward_rtol=1e-8)`` (solver outputs) decided rank F_k at ``1e-8 σ_1`` only. With
    ``big = 1e11`` the cancellation error (~1e-5) is far above that: rank 10, conclusive, 'in S_1', for a
    point whose exact F_1 has rank ≤ 9."""
    arch, p, X = _cancelling(big)
    m = loss_surface.membership(arch, p, X, 1, forward_rtol=tolerances.FORWARD_RTOL)
    assert m.F_k.rank == N and m.F_k.forward_error > m.F_k.singular_values[-1]
    assert not m.F_k.conclusive and "forward rounding" in m.F_k.unresolved
    assert Evidence().rank("F_1", m.F_k, N).conclusive is False


def test_membership_at_solver_tolerance_keeps_a_generic_point():
    arch, _, X = _cancelling(0.0)
    m = loss_surface.membership(arch, sample_params(arch, 3), X, 1, forward_rtol=tolerances.FORWARD_RTOL)
    assert m.F_k.rank == N and m.F_k.conclusive and 0 < m.F_k.forward_error < m.F_k.tol


# ----------------------------------------------------------------------------- the final review's mends (stop 29)

def test_declared_slope_bounds_reach_where_the_sampled_grid_did_not():
    """softplus(α)'s slope sigmoid(αt) approaches 1 only far out for small α: the old sampled constant was 0.53."""
    from theory_lab.forward_error import lipschitz

    assert lipschitz("softplus(1e-7)") == 1.0
    assert lipschitz("leaky_relu(5)") == 5.0 and lipschitz("leaky_relu(0.1)") == 1.0
    for name in ("sigmoid", "tanh", "relu", "elu", "gelu", "silu", "identity", "arctan", "softplus(3)"):
        t = jnp.linspace(-40.0, 40.0, 160001)
        fn = activations.get(name)
        sampled = float(jnp.max(jnp.abs(jax.vmap(jax.grad(lambda s: fn(s)))(t))))
        assert sampled <= lipschitz(name), (name, sampled, lipschitz(name))


def test_a_reading_below_the_forward_error_without_a_reason_is_not_conclusive():
    r = with_forward_error(rank_report(np.diag([1.0, 1e-9])), 1e-9)
    assert not r.conclusive and "forward error" in r.unresolved
    clear = with_forward_error(rank_report(np.diag([1.0, 1e-3])), 1e-9)
    assert clear.conclusive and not clear.unresolved


def test_an_activation_without_a_finite_slope_bound_leaves_full_rank_unresolved(monkeypatch):
    # registered for this test only (a setitem undone afterwards: other tests list every registered name)
    monkeypatch.setitem(activations._BASE, "exp_unbounded", lambda: activations.Activation(
        "exp_unbounded", jnp.exp, continuous=True, analytic=True, strictly_increasing=True, positive_derivative=True,
        differentiable=True, assumption_3_2=False, clause=None))
    arch = Architecture((3,), (Dense(6, activation="exp_unbounded"), Output(1)))
    X = np.random.default_rng(0).standard_normal((4, 3))
    r = feature_rank(arch, sample_params(arch, 0), X, 1)  # exp' sampled at 1e3 overflows: no finite bound
    assert r.rank == 4 and not r.conclusive and "no finite bound" in r.unresolved
