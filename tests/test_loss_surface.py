"""Gradients in U_k, the backprop recursion, Lemma 4.3 (and its converse), S_k membership."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, note, settings

from theory_lab import derivatives as D
from theory_lab import gradient_probes as GP
from theory_lab import loss_surface as LS
from theory_lab import model
from theory_lab import strategies as tls
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.sampling import sample_params

RTOL = 1e-12


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@functools.partial(jax.jit, static_argnums=0)
def _param_grad(arch, params, X, Y):
    """Autodiff's gradient of ``LS.loss`` in every parameter: one compiled program per architecture (``params``, ``X``
    and ``Y`` are arguments). Run eagerly, ``jax.grad`` compiled each primitive for each new shape on its own (session
    35: most of ``test_backprop_recursion_matches_autodiff``'s time)."""
    return jax.grad(lambda p: LS.loss(arch, p, X, Y))(params)


CONV_ARCHS = [
    Architecture((6, 6, 1), (Conv(2, (3, 3)), Dense(5), Output(2))),
    Architecture((6, 6, 2), (Conv(2, (3, 3), stride=2, padding="SAME", bias="filter"), Conv(3, (2, 2)), Output(2))),
    Architecture((9, 1), (Conv(2, (3,), dilation=2, bias="none"), Conv(2, (2,), stride=2), Output(3))),
]


@pytest.mark.parametrize("arch", CONV_ARCHS, ids=["conv2d", "conv2d-same-filterbias", "conv1d-dilated"])
def test_forward_with_full_matrix_is_the_network(arch, rng):
    params = sample_params(arch, rng)
    X = rng.standard_normal((4, *arch.input_shape))
    out = np.asarray(model.apply(arch, params, X))
    for j in range(1, arch.L + 1):
        U = model.full_weight_matrix(arch, params, j)
        assert _rel(LS.forward_with_full_matrix(arch, params, X, j, U), out) <= RTOL


@pytest.mark.parametrize("arch", CONV_ARCHS, ids=["conv2d", "conv2d-same-filterbias", "conv1d-dilated"])
def test_filter_gradient_is_pullback_of_full_matrix_gradient(arch, rng):
    params = sample_params(arch, rng)
    X = rng.standard_normal((5, *arch.input_shape))
    Y = rng.standard_normal((5, arch.widths[-1]))
    true = _param_grad(arch, params, X, Y)
    for j in range(1, arch.L + 1):
        G_U = LS.grad_full_matrix(arch, params, X, Y, j)
        assert G_U.shape == (arch.widths[j - 1], arch.widths[j])
        W_grad = true[f"layer_{j}"]["W"]
        assert _rel(LS.pullback(arch, j, G_U), W_grad) <= RTOL
        if arch.layer(j).kind in ("dense", "output"):  # U_j = W_j
            assert _rel(G_U, W_grad) <= RTOL


def test_full_matrix_gradient_is_not_a_filter_gradient(rng):
    """∇_U Φ of a conv layer is not of the form M(W): it carries more than the filters do."""
    arch = CONV_ARCHS[0]
    params = sample_params(arch, rng)
    X, Y = rng.standard_normal((5, 6, 6, 1)), rng.standard_normal((5, 2))
    G_U = LS.grad_full_matrix(arch, params, X, Y, 1)
    W = LS.pullback(arch, 1, G_U)
    # a conv U has zeros off the patches; the gradient in U does not
    mask = np.asarray(model.weight_map(arch, 1, jnp.ones_like(W))) == 0
    assert np.abs(np.asarray(G_U)[mask]).max() > 1e-6


@settings(max_examples=12)
@given(setup=tls.setups(activations=("sigmoid", "softplus"), after=2, outputs=2, max_depth=2))
def test_backprop_recursion_matches_autodiff(setup):
    net, X, params = setup
    Y = np.random.default_rng(0).standard_normal((net.N, 2))
    bp = LS.backprop(net.arch, params, X, Y, net.k)
    true = _param_grad(net.arch, params, X, Y)
    for l in range(net.k + 1, net.arch.L + 1):
        auto = LS.grad_full_matrix(net.arch, params, X, Y, l)
        assert _rel(bp.grad_U[l], auto) <= RTOL, f"layer {l}"
        b = true[f"layer_{l}"].get("b")
        if b is not None and b.shape == bp.grad_b[l].shape:
            assert _rel(bp.grad_b[l], b) <= RTOL, f"bias of layer {l}"
    assert _rel(bp.delta[net.arch.L], model.apply(net.arch, params, X) - Y) == 0.0


@settings(max_examples=20)
@given(setup=tls.setups(activations=("sigmoid", "softplus"), after=2, outputs=2, max_depth=2, min_ratio=1.0))
def test_lemma_4_3_bounds_hold_under_assumption_4_1(setup):
    net, X, params = setup
    assert net.arch.assumption_4_1(net.k, net.N), net.arch.assumption_4_1(net.k, net.N).reasons
    Y = np.random.default_rng(1).standard_normal((net.N, 2))
    b = LS.gradient_bounds(net.arch, params, X, Y, net.k)
    note(f"tightness: lower/‖∇‖ = {b.lower_tightness:.3e}, ‖∇‖/upper = {b.upper_tightness:.3e}")
    assert b.lower_holds and b.upper_holds, b.to_dict()
    assert b.lower == b.lower_naive  # under the pyramidal condition both readings agree
    assert 0 <= b.lower <= b.grad_norm * (1 + 1e-12) and b.grad_norm <= b.upper * (1 + 1e-12)
    # the lower bound is positive unless some σ'(G_l) underflows to 0 in float64 (a saturated unit)
    assert (b.lower > 0) == all(r["dsigma_min"] > 0 for r in b.factors["layers"]), b.factors


def test_lemma_4_3_bound_factors_are_the_paper_s(rng):
    arch = Architecture((4,), (Dense(10), Dense(5), Dense(3), Output(2)))
    params = sample_params(arch, rng)
    X, Y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    b = LS.gradient_bounds(arch, params, X, Y, 1)
    F1 = np.asarray(model.features(arch, params, X)[1])
    G = model.preactivations(arch, params, X)
    expected = np.linalg.svd(F1, compute_uv=False)[-1]
    for l in (2, 3):
        s = jax.nn.sigmoid(np.asarray(G[l]))
        expected *= np.linalg.svd(np.asarray(params[f"layer_{l + 1}"]["W"]), compute_uv=False)[-1] * \
            float(np.min(s * (1 - s)))
    expected *= np.linalg.norm(np.asarray(model.apply(arch, params, X)) - Y)
    assert b.lower == pytest.approx(expected, rel=1e-10, abs=0)


def test_lemma_4_3_converse_widening_makes_lower_bound_vacuous(rng):
    arch = Architecture((6,), (Dense(12), Dense(3), Output(6)))
    rep = arch.assumption_4_1(1, 8)
    assert not rep and [name for name, ok in rep.parts if not ok] == ["pyramidal after layer k"]
    X = rng.standard_normal((8, 6))
    params = sample_params(arch, rng)
    b = LS.gradient_bounds(arch, params, X, rng.standard_normal((8, 6)), 1)
    assert b.lower == 0.0 and b.lower_naive > 0  # vacuous at every point
    Y = LS.widening_critical_targets(arch, params, X, scale=2.0, seed=3)
    b = LS.gradient_bounds(arch, params, X, Y, 1)
    assert b.residual_norm == pytest.approx(2.0, rel=1e-12)
    assert b.grad_norm < 1e-12 < b.lower_naive  # the naive reading is false: Φ = 2 but ∇_U Φ = 0
    obj = D.objective(arch)
    g = D.gradient(obj, obj.layout.ravel(params), X, Y)
    assert float(jnp.linalg.norm(g)) < 1e-12  # the whole gradient vanishes: a critical point
    member = LS.membership(arch, params, X, 1)
    assert member.member and member.conclusive  # ... inside S_1: Theorem 4.4 fails without 4.1


def test_membership_reports_each_rank(rng):
    arch = Architecture((4,), (Dense(12), Dense(5), Output(3)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((10, 4))
    m = LS.membership(arch, params, X, 1)
    assert m.member and m.conclusive and set(m.U) == {3}
    assert m.F_k.rank == 10 and m.to_dict()["member"]
    params["layer_3"] = dict(params["layer_3"], W=jnp.zeros((5, 3)))
    m = LS.membership(arch, params, X, 1)
    assert not m.member and any("U_3" in r for r in m.reasons)
    narrow = LS.membership(arch, params, X, 2)  # n_2 = 5 < N = 10
    assert not narrow.member and narrow.reasons[0].startswith("rank F_2 = 5 < N = 10")


def test_bad_critical_point_has_zero_gradient_and_positive_loss(rng):
    arch = Architecture((6, 6, 1), (Conv(2, (3, 3)), Dense(4), Output(3)))
    X = rng.standard_normal((9, 6, 6, 1))
    Y = np.eye(3)[rng.integers(0, 3, 9)]
    params = LS.bad_critical_point(arch, sample_params(arch, rng), Y, 1)
    obj = D.objective(arch)
    value, g = D.value_and_gradient(obj, obj.layout.ravel(params), X, Y)
    assert float(jnp.linalg.norm(g)) < 1e-13
    assert float(value) == pytest.approx(0.5 * np.sum((Y - Y.mean(0)) ** 2), rel=1e-13)
    assert not LS.membership(arch, params, X, 1).member


def test_errors_name_the_argument(rng):
    arch = Architecture((6, 6, 1), (Conv(2, (3, 3)), MaxPool((2, 2)), Dense(4), Output(2)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((3, 6, 6, 1))
    Y = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"`Y` has shape \(3, 3\); expected \(N, m\) = \(3, 2\)"):
        LS.check_targets(arch, X, np.zeros((3, 3)))
    with pytest.raises(TypeError, match="`Y` has dtype float32"):
        LS.check_targets(arch, X, Y.astype(np.float32))
    with pytest.raises(ValueError, match="`j`=2: layer 2 is maxpool"):
        LS.grad_full_matrix(arch, params, X, Y, 2)
    with pytest.raises(ValueError, match=r"`k`=1: layers \[2\] after k are max-pooling"):
        LS.backprop(arch, params, X, Y, 1)
    with pytest.raises(ValueError, match=r"`U` has shape \(2, 2\); layer 1 needs"):
        LS.forward_with_full_matrix(arch, params, X, 1, jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"`G_U` has shape"):
        LS.pullback(arch, 1, jnp.zeros((2, 2)))
    dense = Architecture((4,), (Dense(6), Output(2)))
    with pytest.raises(ValueError, match="needs a hidden layer between k and L"):
        LS.bad_critical_point(dense, sample_params(dense, rng), Y, 1)
    with pytest.raises(ValueError, match="does not widen"):
        LS.widening_critical_targets(dense, sample_params(dense, rng), rng.standard_normal((8, 4)))


@pytest.mark.parametrize("arch", CONV_ARCHS[1:], ids=["conv-after-k", "conv1d-after-k"])
def test_backprop_recursion_through_conv_layers(arch, rng):
    params = sample_params(arch, rng)
    X = rng.standard_normal((5, *arch.input_shape))
    Y = rng.standard_normal((5, arch.widths[-1]))
    bp = LS.backprop(arch, params, X, Y, 1)
    for l in (2, 3):
        assert _rel(bp.grad_U[l], LS.grad_full_matrix(arch, params, X, Y, l)) <= RTOL


@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_attaining_point_attains_each_bound_exactly(bound, rng):
    """Each of Lemma 4.3's bounds holds with equality at the constructed point (so a wrong factor shows)."""
    arch = Architecture((4,), (Dense(10), Dense(5), Output(3)))
    X = rng.standard_normal((8, 4))
    p, Y = GP.attaining_point(arch, sample_params(arch, rng), X, 1, bound=bound, level=0.3, scale=2.0)
    b = LS.gradient_bounds(arch, p, X, Y, 1)
    assert b.residual_norm == pytest.approx(2.0, rel=1e-12)
    assert b.grad_norm == pytest.approx(getattr(b, bound), rel=1e-12, abs=0)
    assert getattr(b, bound) > 1e-8  # attained and non-trivial
    # the other bound is strict there: the construction singles out one
    other = b.lower if bound == "upper" else b.upper
    assert abs(other - b.grad_norm) > 1e-3 * b.grad_norm


def test_attaining_point_refuses_deeper_tails(rng):
    arch = Architecture((4,), (Dense(10), Dense(5), Dense(4), Output(3)))
    with pytest.raises(ValueError, match="exactly one fully connected hidden layer after k"):
        GP.attaining_point(arch, sample_params(arch, rng), rng.standard_normal((8, 4)), 1)
    with pytest.raises(ValueError, match="`bound`='middle' is unknown"):
        GP.attaining_point(arch, sample_params(arch, rng), rng.standard_normal((8, 4)), 2, bound="middle")


def test_small_gradient_search_lowers_the_ratio_but_not_below_lemma_4_3(rng):
    arch = Architecture((4,), (Dense(10), Dense(5), Output(3)))
    X, Y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    s = GP.small_gradient_search(arch, sample_params(arch, rng), X, Y, 1, steps=50)
    assert s.ratio < s.ratio_start and len(s.history) == 10
    b = LS.gradient_bounds(arch, s.params, X, Y, 1)
    assert s.ratio == pytest.approx(b.grad_norm / b.residual_norm, rel=1e-10, abs=0)
    assert b.lower <= b.grad_norm * (1 + 1e-12)
    with pytest.raises(ValueError, match="`steps`=0 must be a positive integer"):
        GP.small_gradient_search(arch, s.params, X, Y, 1, steps=0)


def test_membership_at_the_solver_tolerance(rng):
    """A singular value at 1e-10 of σ_1 is rank under SVD rounding, not at the solver's forward error."""
    arch = Architecture((4,), (Dense(12), Dense(5), Output(3)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((10, 4))
    F = np.asarray(model.features(arch, params, X)[1])
    u, s, vt = np.linalg.svd(F, full_matrices=False)
    s[-1] = 1e-10 * s[0]
    F_low = (u * s) @ vt
    assert LS.membership(arch, params, X, 1, F_k=F_low).member
    solver = LS.membership(arch, params, X, 1, F_k=F_low, forward_rtol=1e-8)
    assert not solver.member and solver.conclusive
    with pytest.raises(ValueError, match="`forward_rtol`=2 must lie in"):
        LS.membership(arch, params, X, 1, forward_rtol=2)


def test_membership_is_decided_by_the_singular_value_that_settles_each_condition():
    """``S_k`` needs every condition: one conclusive failure decides membership, whatever the others do.

    Before, ``Membership.conclusive`` asked every rank report to be conclusive about its *exact* rank. A
    solver's point whose ``F_k`` collapses to rank 1 (``σ_2`` inside the band, ``σ_N`` far below it) was then
    "inconclusive" although ``rank F_k < N`` is certain (``theorem-4.5`` at seed 107). Converse: a condition
    whose deciding singular value sits inside the band keeps membership undecided, and a member needs every
    condition decided.
    """
    from theory_lab.linalg import rank_report
    from theory_lab.loss_surface import Membership

    tol = 1e-8
    collapsed = rank_report(np.diag([3.0, 2.7e-7, 2e-9, 7e-10]), tol=tol)  # rank 2 or 3: σ_3 in the band
    assert not collapsed.conclusive and collapsed.at_least(4) == (False, pytest.approx(tol / 7e-10))
    full_U = {3: rank_report(np.eye(3), tol=tol)}
    m = Membership(1, 4, collapsed, full_U)
    assert not m.member and m.conclusive and m.margin == pytest.approx(tol / 7e-10)
    # a U_l inside its band does not make a conclusive failure of F_k undecided
    m = Membership(1, 4, collapsed, {3: rank_report(np.diag([1.0, 1.0, 3e-8]), tol=tol)})
    assert not m.member and m.conclusive
    # converse: σ_N of F_k inside the band (no conclusive failure anywhere): undecided
    edge = rank_report(np.diag([3.0, 2.0, 1.0, 3e-8]), tol=tol)
    m = Membership(1, 4, edge, full_U)
    assert m.member and not m.conclusive and m.margin == pytest.approx(3.0)
    # a member needs every condition decided: F_k far above, one U_l inside its band
    m = Membership(1, 4, rank_report(np.eye(4), tol=tol), {3: rank_report(np.diag([1.0, 1.0, 3e-8]), tol=tol)})
    assert m.member and not m.conclusive
    m = Membership(1, 4, rank_report(np.eye(4), tol=tol), full_U)
    assert m.member and m.conclusive and m.margin == pytest.approx(1 / tol)
    # a deficiency float64 cannot resolve (``unresolved``) is never a conclusive failure
    from dataclasses import replace
    m = Membership(1, 4, replace(collapsed, unresolved="saturated units"), full_U)
    assert not m.member and not m.conclusive
