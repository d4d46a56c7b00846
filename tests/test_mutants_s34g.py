"""Session 34 (g), mutation pass: the critical-point search, the scale-free stopping rule, Theorem 3.4's witness,
the exact fit and the saturation rules, each against an independent reference.

The references: a two-layer dense network written out here in ``jax.numpy`` (``F_1 = σ(X W_1 + b_1)``,
``F_2 = F_1 W_2 + b_2``, ``Φ = ½‖F_2 − Y‖²``), its gradient by ``jax.grad`` and its per-layer Jacobians by
``jax.jacfwd`` with spectral norms from numpy's SVD; Adam written out from its definition; the witness's
triangular structure and the positivity of its shifted layers recomputed by a numpy forward pass; the exact
fit's residual recomputed and compared with ``pinv``. Tiny networks, one shape each (every shape recompiles).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.arch import Architecture, Dense, Output

# ----------------------------------------------------------------------------- a reference network


def _ref_forward(params, X, act):
    """``F_2 (N, m)`` of a Dense-Dense(output) network, written out here (not the library's forward)."""
    F1 = act(X @ params["layer_1"]["W"] + params["layer_1"]["b"])
    return F1 @ params["layer_2"]["W"] + params["layer_2"]["b"]


def _ref_loss(params, X, Y, act):
    r = _ref_forward(params, X, act) - Y
    return 0.5 * jnp.sum(r * r)


def _tiny(seed=3, y_scale=5.0):
    """(3,) → Dense(4, tanh) → Output(2), N = 5, random float64 parameters and data; ``‖Y‖ ≫ ‖F_L‖``."""
    arch = Architecture((3,), (Dense(4, activation="tanh"), Output(2)))
    rng = np.random.default_rng(seed)
    params = {"layer_1": {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)},
              "layer_2": {"W": 0.3 * rng.standard_normal((4, 2)), "b": 0.1 * rng.standard_normal(2)}}
    X, Y = rng.standard_normal((5, 3)), y_scale * rng.standard_normal((5, 2))
    return arch, params, X, Y


def _ref_block_ratios(params, X, Y):
    """``{l: ‖∇_l Φ‖ / (σ_max(J_l) · max(‖Y‖, ‖F_L‖))}`` by jax.grad / jax.jacfwd and numpy's SVD."""
    p = jax.tree_util.tree_map(jnp.asarray, params)
    grad = jax.grad(_ref_loss)(p, X, Y, jnp.tanh)
    jac = jax.jacfwd(lambda q: _ref_forward(q, X, jnp.tanh).ravel())(p)
    F = np.asarray(_ref_forward(p, X, jnp.tanh))
    scale = max(np.linalg.norm(Y), np.linalg.norm(F))
    out = {}
    for l in (1, 2):
        g = np.concatenate([np.ravel(grad[f"layer_{l}"][n]) for n in ("W", "b")])
        J = np.concatenate([np.asarray(jac[f"layer_{l}"][n]).reshape(F.size, -1) for n in ("W", "b")], axis=1)
        out[l] = float(np.linalg.norm(g) / (np.linalg.svd(J, compute_uv=False)[0] * scale))
    return out


def test_block_ratios_match_jax_grad_and_the_spectral_norm_of_each_layer_jacobian():
    """Kills s34g-stop-frobenius (‖J_l‖_F for ‖J_l‖₂), s34g-stop-min-scale (min(‖Y‖, ‖F_L‖)) and
    s34g-stop-min-block (relative_gradient the smallest ratio): on this instance ‖J_l‖_F / ‖J_l‖₂ is 1.28 and 1.87,
    ‖Y‖ / ‖F_L‖ is 10.8, and the two layers' ratios are 0.30 and 0.47."""
    from theory_lab import derivatives as D
    from theory_lab import stopping

    arch, params, X, Y = _tiny()
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    np.testing.assert_allclose(np.asarray(D.outputs(obj, theta, X)), _ref_forward(params, X, np.tanh), rtol=1e-13)
    ref = _ref_block_ratios(params, X, Y)
    F = _ref_forward(params, X, np.tanh)
    assert np.linalg.norm(Y) > 2 * np.linalg.norm(F)  # the max and the min of the two scales differ
    assert max(ref.values()) > 1.2 * min(ref.values())  # the largest block ratio is not the smallest
    got = stopping.block_ratios(obj, theta, X, Y)
    assert sorted(got) == [1, 2]
    for l in (1, 2):
        assert got[l] == pytest.approx(ref[l], rel=1e-10), (l, got, ref)
    assert stopping.relative_gradient(obj, theta, X, Y) == pytest.approx(max(ref.values()), rel=1e-10)


# ----------------------------------------------------------------------------- the critical-point search


def _ref_adam(params, X, Y, steps, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Adam from its definition (Kingma & Ba; optax's defaults), on the reference loss."""
    p = jax.tree_util.tree_map(jnp.asarray, params)
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    grad = jax.jit(jax.grad(_ref_loss), static_argnums=3)
    for t in range(1, steps + 1):
        g = grad(p, X, Y, jnp.tanh)
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        p = jax.tree_util.tree_map(lambda q, a, b: q - lr * (a / (1 - b1 ** t)) / (jnp.sqrt(b / (1 - b2 ** t)) + eps),
                                   p, m, v)
    return p


def test_warm_start_is_adam_descent_on_phi():
    """The search's first recorded loss is ``Φ`` after ``warm_start`` Adam steps: the same as Adam written out
    here (to 1e-9), and below ``Φ`` at the start. Kills s34g-crit-adam-ascent (the update subtracted: Φ climbs
    from 71.6 to 86.8 instead of falling to 61.0)."""
    from theory_lab import critical

    arch, params, X, Y = _tiny()
    start = float(_ref_loss(params, X, Y, np.tanh))
    res = critical.find_critical_point(arch, params, X, Y, warm_start=20, warm_lr=1e-2, max_iter=1, classify=False)
    expect = float(_ref_loss(_ref_adam(params, X, Y, 20, 1e-2), X, Y, jnp.tanh))
    assert res.method[0] == "adam x20"
    assert res.history[0]["loss"] == pytest.approx(expect, rel=1e-9)
    assert expect < start


def test_any_mode_reaches_a_point_whose_jax_gradient_vanishes():
    """``mode="any"`` (LM on the gradient map) from a start near the data: converged, and the gradient recomputed
    by ``jax.grad`` of the reference loss at the returned parameters is below 1e-9 (it starts at 4.2). Kills
    s34g-crit-any-step-sign (the step climbs ‖∇Φ‖: every damping trial is refused and the search stalls)."""
    from theory_lab import critical

    arch, params, X, Y = _tiny(y_scale=1.0)
    g0 = jax.grad(_ref_loss)(jax.tree_util.tree_map(jnp.asarray, params), X, Y, jnp.tanh)
    assert math.sqrt(sum(float(jnp.sum(a * a)) for a in jax.tree_util.tree_leaves(g0))) > 1.0
    res = critical.find_critical_point(arch, params, X, Y, mode="any", max_iter=100, classify=False)
    assert res.converged, res.message
    p = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), res.params)
    g = jax.grad(_ref_loss)(p, X, Y, jnp.tanh)
    gnorm = math.sqrt(sum(float(jnp.sum(a * a)) for a in jax.tree_util.tree_leaves(g)))
    assert gnorm <= 1e-9
    assert res.grad_norm == pytest.approx(gnorm, rel=1e-3, abs=1e-12)


def test_default_k_without_a_wide_layer_is_the_last_of_the_widest():
    """No hidden layer is wide (4, 4 and 3 units for N = 10): ``default_k`` is the widest, the last among equals
    (layer 2), as documented. Kills s34g-crit-widest-first (layer 1)."""
    from theory_lab import critical

    arch = Architecture((3,), (Dense(4), Dense(4), Dense(3), Output(1)))
    assert arch.wide_layers(10) == ()
    assert critical.default_k(arch, 10) == 2
    arch = Architecture((3,), (Dense(3), Dense(5), Dense(5), Output(1)))
    assert critical.default_k(arch, 10) == 3


def test_default_k_with_wide_layers_none_meeting_assumption_4_1_is_the_last_wide_one():
    """Two wide layers (12 ≥ N = 10) followed by widths 3 → 5 (not pyramidal), so neither meets Assumption 4.1,
    and ``default_k`` is the last wide layer (2), as documented. Kills s34g-crit-wide-first (layer 1)."""
    from theory_lab import critical

    arch = Architecture((3,), (Dense(12), Dense(12), Dense(3), Dense(5), Output(1)))
    assert arch.wide_layers(10) == (1, 2)
    assert not arch.assumption_4_1(1, 10) and not arch.assumption_4_1(2, 10)
    assert critical.default_k(arch, 10) == 2


# ----------------------------------------------------------------------------- Theorem 3.4's witness


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def test_witness_shifts_relu_layers_below_k_positive_and_reports_every_U_up_to_k():
    """ReLU layer 1 below the wide layer k = 2: every pre-activation ``X W_1 + b_1`` (numpy, from the returned
    parameters) is positive on the data, as documented (nothing dies); ``U_reports`` covers layers 1 and 2 and
    numpy's SVD finds ``F_2`` of rank N and ``U_1``, ``U_2`` of full rank. Kills s34g-wit-shift-from-max (biases
    shifted by ``delta − max G``: no shift at all, some pre-activations negative) and s34g-wit-U-below-k."""
    from theory_lab.witness import construct_full_rank

    arch = Architecture((4,), (Dense(6, activation="relu"), Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(5).standard_normal((12, 4))
    w = construct_full_rank(arch, X, 2, key=2)
    assert w.found, w.log
    p = {k: {n: np.asarray(a) for n, a in v.items()} for k, v in w.params.items()}
    G1 = X @ p["layer_1"]["W"] + p["layer_1"]["b"]
    assert G1.min() > 0.0, G1.min()
    F2 = np.maximum(np.maximum(G1, 0.0) @ p["layer_2"]["W"] + p["layer_2"]["b"], 0.0)
    s = np.linalg.svd(F2, compute_uv=False)
    assert s[-1] > 1e-8 * s[0]  # rank 12 = N by numpy's SVD, with room
    assert sorted(w.U_reports) == [1, 2]
    for l, shape in ((1, (4, 6)), (2, (6, 12))):
        W = p[f"layer_{l}"]["W"]
        assert W.shape == shape and np.linalg.matrix_rank(W) == min(shape)
        assert w.U_reports[l].rank == min(shape)


def test_witness_sigmoid_submatrix_is_triangular_at_the_documented_weight_scale():
    """Sigmoid wide layer: α is ``c / (smallest half-gap)`` with ``c`` in ``alphas``, so in the ``N × N`` submatrix
    ``F_1[order][:, neurons]`` (numpy forward from the parameters) every entry below the diagonal is at most
    ``σ(−10)`` ≈ 4.5e-5 (the sample is beyond ``c`` on the off side) and every diagonal entry at least ``σ(10)``;
    numpy's SVD gives rank N. Kills s34g-wit-alpha-times-half (α = c · half-gap: entries near σ(0) = 0.5)."""
    from theory_lab.witness import construct_full_rank

    arch = Architecture((4,), (Dense(12, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(6).standard_normal((10, 4))
    w = construct_full_rank(arch, X, 1, key=4, alphas=(10.0, 40.0))
    assert w.found, w.log
    W, b = np.asarray(w.params["layer_1"]["W"]), np.asarray(w.params["layer_1"]["b"])
    F = _sigmoid(X @ W + b)
    T = F[w.order][:, w.neurons]
    assert sorted(w.order.tolist()) == list(range(10)) and len(set(w.neurons.tolist())) == 10
    below = T[np.tril_indices(10, -1)]
    assert below.max() <= _sigmoid(-10.0) * (1 + 1e-9), below.max()
    assert np.diag(T).min() >= _sigmoid(10.0) * (1 - 1e-9), np.diag(T).min()
    s = np.linalg.svd(F, compute_uv=False)
    assert s[9] > 1e-8 * s[0]


# ----------------------------------------------------------------------------- the exact fit


@pytest.mark.parametrize("m", [None, 2])
def test_exact_fit_is_the_minimum_norm_solution_with_its_residual_recomputed(m):
    """``λ`` equals numpy's ``pinv(F) y`` (the minimum-norm solution ``Fᵀ(FFᵀ)⁻¹y``) and ``‖Fλ − y‖``, recomputed,
    is at rounding level and is what ``residual`` says. Kills s34g-fit-solve-untransposed (``Q R⁻¹ y``: residual
    of the order of ‖y‖)."""
    from theory_lab.exact_fit import exact_fit

    rng = np.random.default_rng(8)
    F = rng.standard_normal((4, 9))
    y = rng.standard_normal(4 if m is None else (4, m))
    fit = exact_fit(F, y)
    np.testing.assert_allclose(fit.lam, np.linalg.pinv(F) @ y, rtol=1e-10, atol=1e-12)
    res = float(np.linalg.norm(F @ fit.lam - y))
    assert res <= 1e-12 * np.linalg.norm(y)
    assert fit.residual == pytest.approx(res, abs=1e-13)
    assert fit.relative_residual == pytest.approx(res / np.linalg.norm(y), abs=1e-13)


def test_exact_fit_refuses_targets_of_three_dimensions():
    """Kills s34g-fit-y-ndim-unchecked: ``y (4, 1, 1)`` was fitted as a stack of targets."""
    from theory_lab.exact_fit import exact_fit

    F = np.random.default_rng(9).standard_normal((4, 9))
    with pytest.raises(ValueError, match=r"`y` has shape \(4, 1, 1\); expected \(4,\) or \(4, m\) to match F's 4 rows"):
        exact_fit(F, np.ones((4, 1, 1)))


def test_exact_fit_of_a_rank_deficient_F_is_the_least_squares_solution():
    """``F (4, 9)`` of rank 3 (row 3 = row 0 + row 1): no exact fit exists; ``λ`` is numpy's ``pinv(F) y`` and the
    residual, recomputed, is ``‖(I − F F⁺) y‖ > 0``, as documented. Kills s34g-fit-qr-when-deficient (the QR
    solve divides by ``R``'s rounding-level last diagonal entry: ``‖λ‖`` ~ 1e15)."""
    from theory_lab.exact_fit import exact_fit

    rng = np.random.default_rng(10)
    F = rng.standard_normal((4, 9))
    F[3] = F[0] + F[1]
    y = rng.standard_normal(4)
    fit = exact_fit(F, y)
    assert fit.report.rank == 3 == np.linalg.matrix_rank(F)
    lam = np.linalg.pinv(F) @ y
    np.testing.assert_allclose(fit.lam, lam, rtol=1e-9, atol=1e-12)
    res = float(np.linalg.norm(F @ lam - y))
    assert res > 0.1 * np.linalg.norm(y)
    assert fit.residual == pytest.approx(res, rel=1e-9)


# ----------------------------------------------------------------------------- saturation


def _gelu_far_right(twins: bool):
    """(3,) → Dense(6, gelu) → Output(1), N = 6, pre-activations in [10, 14]: float64 GELU is the identity there
    (``Φ(10) = 1 − 7.6e-24``), so ``F_1 = G_1`` bit for bit and ``rank F_1 ≤ rank [X 1] = 4`` in float64, while the
    exact GELU bends. ``twins``: units 3, 4, 5 copy units 0, 1, 2 (then rank ≤ 3 in exact arithmetic too)."""
    from theory_lab.feature_maps import forward_upto
    from theory_lab.linalg import rank_report

    arch = Architecture((3,), (Dense(6, activation="gelu"), Output(1)))
    rng = np.random.default_rng(11)
    X, W, b = rng.uniform(-1, 1, (6, 3)), 0.5 * rng.standard_normal((3, 6)), np.full(6, 12.0)
    if twins:
        W[:, 3:] = W[:, :3]
    params = {"layer_1": {"W": W, "b": b}, "layer_2": {"W": np.zeros((6, 1)), "b": np.zeros(1)}}
    fw = forward_upto(arch, params, X, 1)
    F, G = np.asarray(fw.F[1]), np.asarray(fw.G[1])
    assert np.array_equal(F, G) and G.min() > 10.0
    assert np.linalg.matrix_rank(F) == (3 if twins else 4)
    return arch, params, fw, rank_report(F, name="F_1")


def test_gelu_units_affine_to_rounding_explain_the_deficit_only_without_twins():
    """Six GELU units on their right asymptote: the missing rank 2 is below float64 resolution and the reason
    names the affine rule for all six units. With units 3–5 copies of 0–2, ``F_1`` has at most 3 distinct
    columns in exact arithmetic, so rank 6 is impossible and the deficit is explained by nothing (``""``).
    Kills s34g-sat-affine-uncentred-G (the units then count as polynomial, not affine) and
    s34g-sat-lift-per-unit (the twins lift the rank 6 times: "explained")."""
    from theory_lab.saturation import explain_deficit

    arch, params, fw, report = _gelu_far_right(twins=False)
    assert report.rank == 4
    why = explain_deficit(arch, params, fw, 1, report, 6)
    assert "6 unit(s) are affine to rounding" in why and "reach rank 6 >= 6" in why, why
    assert "polynomial" not in why
    arch, params, fw, report = _gelu_far_right(twins=True)
    assert report.rank == 3
    assert explain_deficit(arch, params, fw, 1, report, 6) == ""
