"""Adversarial review of the loss-surface side (stop 27): S_k membership and the critical tolerance.

Expected values come from references independent of the code under test: mpmath (60 and 100 digits) for the
exact rank of F_1, and a dense Jacobian from ``jax.jacfwd`` of the plain forward pass for the gradient.
"""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from proofs_checks import s4_instances as S
from theory_lab import critical, loss_surface, model
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Evidence

X4 = np.array([[0.1, 0.2], [0.3, -0.4], [-0.5, 0.6], [0.7, 0.8]])
W4 = np.array([[1.0, -0.5, 0.3, -0.2], [0.5, 1.0, 0.1, 0.4]])


def _net(activation, b):
    arch = Architecture((2,), (Dense(4, activation=activation), Output(1)))
    params = {"layer_1": {"W": jnp.asarray(W4), "b": jnp.asarray(b)},
              "layer_2": {"W": jnp.ones((4, 1)), "b": jnp.zeros(1)}}
    return arch, params


def test_saturated_units_do_not_put_a_draw_conclusively_outside_S_k():
    """tanh units 2, 3 at pre-activation ~25 read exactly 1.0 in float64 (two equal columns: rank 3), but the
    exact F_1 has rank 4: mpmath at 60 and 100 digits gives σ = 2.8982, 0.889715, 0.655969, 3.44538e-23
    (det 5.83e-23). N = n_1 = 4 (the width threshold); no U_l with l in [k+2, L], so exactly the point is in S_1.
    The old code said *outside S_1*, conclusive, margin 1.3e4."""
    arch, params = _net("tanh", [0.1, -0.2, 25.0, 25.0])
    m = loss_surface.membership(arch, params, X4, 1)
    assert not m.conclusive and m.margin <= 1.0


@pytest.mark.parametrize("activation, b, rank", [
    ("relu", [0.1, -0.2, -25.0, -25.0], 2),  # dead ReLU units: zero columns in exact arithmetic too
    ("tanh", [0.1, -0.2, 0.3, 0.1], 4),       # generic: full rank, conclusive inside
])
def test_membership_stays_conclusive_where_float64_is_exact(activation, b, rank):
    arch, params = _net(activation, b)
    m = loss_surface.membership(arch, params, X4, 1)
    assert m.conclusive and m.F_k.rank == rank and m.member == (rank == 4)


def test_tiny_class_targets_do_not_make_a_random_start_critical():
    arch = Architecture((3,), (Dense(8), Output(2)))
    X = np.random.default_rng(0).standard_normal((5, 3))
    s = 1e-12
    Y = s * np.eye(2)[[0, 1, 0, 1, 1]]  # rows of the full-rank Z = 1e-12 I: class targets
    p = model.init(arch, jax.random.key(0))
    p["layer_2"] = {"W": p["layer_2"]["W"] * s, "b": p["layer_2"]["b"] * s}
    assert S.class_targets(Y, s * np.eye(2)).met and arch.assumption_4_1(1, 5).holds
    # reference: dense J of the plain forward pass; ‖Jᵀr‖ / (‖J‖‖r‖) ~ 0.8, not a critical point at any scale
    flat, unravel = jax.flatten_util.ravel_pytree(p)
    J = np.asarray(jax.jacfwd(lambda t: model.apply(arch, unravel(t), X).ravel())(flat))
    r = np.asarray(model.apply(arch, p, X)).ravel() - Y.ravel()
    assert np.linalg.norm(J.T @ r) > 0.1 * np.linalg.norm(J, 2) * np.linalg.norm(r)
    res = critical.find_critical_point(arch, p, X, Y, k=1, classify=False, max_iter=1)
    row = S.observe_critical_point(Evidence(), "tiny", arch, res, X, Y, 1)
    assert not row["critical"]
