"""The critical-point finder: convergence to 1e-10, honest failure, saddles, classification."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import critical
from theory_lab import derivatives as D
from theory_lab import loss_surface as LS
from theory_lab import data
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.linalg import inertia_report
from theory_lab.sampling import sample_params

WIDE = Architecture((6, 6, 1), (Conv(2, (3, 3)), Dense(8), Output(2)))  # n_1 = 32 >= N = 12


@pytest.fixture
def wide_data(rng):
    X = rng.standard_normal((12, 6, 6, 1))
    Y = rng.standard_normal((12, 2))
    return X, Y


def test_finds_a_zero_loss_minimum_to_1e_10(wide_data, rng):
    X, Y = wide_data
    seen = []
    res = critical.find_critical_point(WIDE, sample_params(WIDE, rng), X, Y, callback=seen.append)
    assert res.converged and res.grad_norm <= 1e-10, res.message
    assert res.loss < 1e-20 and res.in_S_k and res.membership.k == 1
    # the point is a solver's output: ranks decided at the forward error FORWARD_RTOL · σ_1, not at SVD rounding
    F_1 = res.membership.F_k
    assert F_1.tol == pytest.approx(T.FORWARD_RTOL * F_1.singular_values[0], rel=1e-12, abs=0)
    assert res.kind == "degenerate"  # zero loss, P > Nm: the Hessian JᵀJ has P − Nm zero eigenvalues
    assert res.inertia.negative == 0 and res.inertia.zero >= D.objective(WIDE).P - Y.size
    assert len(seen) == res.iterations == len(res.history)
    assert seen[-1]["grad_norm"] <= 1e-10 and {"loss", "lambda", "method", "seconds"} <= set(seen[0])
    obj = D.objective(WIDE)
    g = D.gradient(obj, obj.layout.ravel(res.params), X, Y)
    # ‖∇Φ‖ ≈ 9e-15 here, below pytest's default abs=1e-12; the same residual r enters every evaluation order
    # (Jᵀr, a reversed batch and value_and_gradient agreed bitwise), so abs=0
    assert float(jnp.linalg.norm(g)) == pytest.approx(res.grad_norm, rel=1e-6, abs=0)
    assert res.to_dict()["kind"] == "degenerate"


def test_a_run_that_stops_early_is_not_a_critical_point(wide_data, rng):
    X, Y = wide_data
    res = critical.find_critical_point(WIDE, sample_params(WIDE, rng), X, Y, max_iter=2)
    assert not res.converged and res.kind == "not converged" and res.inertia is None
    assert "2 iterations without reaching gtol" in res.message and res.grad_norm > 1e-10
    res = critical.find_critical_point(WIDE, sample_params(WIDE, rng), X, Y, max_seconds=0.0)
    assert not res.converged and "time limit" in res.message


def test_warm_start(wide_data, rng):
    X, Y = wide_data
    res = critical.find_critical_point(WIDE, sample_params(WIDE, rng), X, Y, warm_start=25)
    assert res.converged and res.method[0] == "adam x25"


def test_any_mode_finds_the_saddle_outside_S_k(rng):
    arch = Architecture((4,), (Dense(10), Dense(3), Output(2)))
    X = rng.standard_normal((8, 4))
    Y = np.eye(2)[rng.integers(0, 2, 8)]
    start = LS.bad_critical_point(arch, sample_params(arch, rng), Y, 1)
    start["layer_2"]["W"] = start["layer_2"]["W"] + 1e-4 * rng.standard_normal((10, 3))
    res = critical.find_critical_point(arch, start, X, Y, mode="any")
    assert res.converged and res.kind == "saddle" and res.inertia.conclusive
    assert res.loss == pytest.approx(0.5 * np.sum((Y - Y.mean(0)) ** 2), rel=1e-6)
    assert not res.in_S_k


def test_newton_phase_reaches_a_strict_local_minimum_on_a_narrow_net():
    ds = data.digits(40, noise=1e-6, seed=0)
    arch = Architecture((8, 8, 1), (Conv(1, (3, 3), stride=3), Output(10)))  # n_1 = 4 < N
    res = critical.find_critical_point(arch, sample_params(arch, 14), ds.X, ds.Y, max_iter=60)
    assert res.converged and res.method == ("gauss-newton", "newton"), res.message
    assert res.kind == "minimum" and res.inertia.conclusive and res.loss > 10
    assert not res.in_S_k and "rank F_1 = 4 < N = 40" in res.membership.reasons


def test_sample_jacobian_equals_derivatives_jacobian(wide_data, rng):
    X, _ = wide_data
    obj = D.objective(WIDE)
    theta = obj.layout.ravel(sample_params(WIDE, rng))
    # jitted, as inside the iteration it serves (eagerly every primitive would compile on its own)
    J = jax.jit(lambda t, X: critical._sample_jacobian(obj, t, X))(theta, jnp.asarray(X))
    ref = D.jacobian(obj, theta, X)
    assert float(jnp.linalg.norm(J - ref) / jnp.linalg.norm(ref)) <= 1e-12


@pytest.mark.parametrize("values, kind", [
    ([1.0, 2.0, 3.0], "minimum"),
    ([-1.0, 2.0, 3.0], "saddle"),
    ([-1.0, -2.0], "maximum"),
    ([0.0, 2.0, 3.0], "degenerate"),
    ([-1e-13, 1.0], "degenerate"),
])
def test_inertia_classifies_by_sign_with_a_tolerance(values, kind):
    inertia = inertia_report(np.asarray(values, dtype=np.float64), rtol=1e-9)
    assert inertia.kind == kind
    assert inertia.positive + inertia.negative + inertia.zero == len(values)


def test_inertia_margin_flags_eigenvalues_near_the_tolerance():
    assert inertia_report(np.array([1e-9 * 1.5, 1.0]), rtol=1e-9).conclusive is False  # 1.5 x the 1e-9 tolerance
    assert inertia_report(np.array([1e-3, 1.0]), rtol=1e-9).conclusive is True


def test_default_k_prefers_a_wide_layer_meeting_assumption_4_1():
    arch = Architecture((4,), (Dense(20), Dense(12), Output(2)))
    assert critical.default_k(arch, 10) == 2
    assert critical.default_k(arch, 15) == 1
    assert critical.default_k(arch, 50) == 1  # no wide layer: the widest


def test_errors_name_the_argument(wide_data, rng):
    X, Y = wide_data
    params = sample_params(WIDE, rng)
    with pytest.raises(ValueError, match="`mode`='saddle' is unknown"):
        critical.find_critical_point(WIDE, params, X, Y, mode="saddle")
    with pytest.raises(ValueError, match="`gtol`=0 must be a positive finite number"):
        critical.find_critical_point(WIDE, params, X, Y, gtol=0)
    with pytest.raises(ValueError, match="`max_iter`=0 must be a positive integer"):
        critical.find_critical_point(WIDE, params, X, Y, max_iter=0)
    with pytest.raises(ValueError, match="`warm_start`=-1 must be a non-negative"):
        critical.find_critical_point(WIDE, params, X, Y, warm_start=-1)
    with pytest.raises(ValueError, match=r"`mode`='any' forms the dense Hessian, but P = 332 > `dense_limit`=100"):
        critical.find_critical_point(WIDE, params, X, Y, mode="any", dense_limit=100)
    with pytest.raises(ValueError, match=r"`Y` has shape \(12, 3\)"):
        critical.find_critical_point(WIDE, params, X, np.zeros((12, 3)))
    other = Architecture((6, 6, 1), (Conv(3, (3, 3)), Dense(8), Output(2)))
    with pytest.raises(ValueError, match="Were the parameters made for another architecture"):
        critical.find_critical_point(WIDE, sample_params(other, rng), X, Y)
