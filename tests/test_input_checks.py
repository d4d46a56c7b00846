"""Issue 9.10: small bad inputs refused with a clear error before any work."""

import jax
import numpy as np
import pytest

from theory_lab import critical, data, model
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.linalg import rank_report
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4), Output(1)))


@pytest.mark.parametrize("make, match", [
    (lambda: Conv(2.5, (2,)), r"Conv: `filters`=2.5 must be an integer \(got float\)"),
    (lambda: Conv(True, (2,)), r"Conv: `filters`=True must be an integer \(got bool\)"),
    (lambda: Conv(2, (2.5,)), r"Conv: `kernel`=2.5 must be an integer"),
    (lambda: Conv(2, 2, stride=True), r"Conv: `stride`=True must be an integer"),
    (lambda: Dense(4.0), r"Dense: `width`=4.0 must be an integer"),
    (lambda: Output(True), r"Output: `width`=True must be an integer"),
])
def test_layer_sizes_must_be_integers(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    assert Conv(np.int64(2), (np.int64(2),)).filters == 2  # numpy ints are integers


def test_digits_refuses_a_bool_sample_count():
    with pytest.raises(ValueError, match=r"`n`=True for digits: expected an integer in \[1, 1797\]"):
        data.digits(True)


@pytest.mark.parametrize("band", [-1, 0.5, float("inf"), float("nan"), True])
def test_rank_report_refuses_a_meaningless_band(band):
    with pytest.raises(ValueError, match=r"`band`=.* must be a finite factor >= 1"):
        rank_report(np.eye(2), band=band)


def test_float32_params_to_model_features_name_the_argument():
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), sample_params(ARCH, 0))
    with pytest.raises(TypeError, match=r"`params` has leaves that are not float64: \['layer_1'\]\['W'\] "
                                        r"\(float32\)"):
        model.features(ARCH, params, np.zeros((2, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_find_critical_point_refuses_non_finite_parameters_up_front(bad):
    params = sample_params(ARCH, 0)
    W = np.array(params["layer_1"]["W"])
    W[1, 2] = bad
    params["layer_1"]["W"] = W
    X, Y = np.zeros((3, 3)), np.zeros((3, 1))
    with pytest.raises(ValueError, match=rf"`params`: θ\[6\] = layer_1/W\[1, 2\] is {bad}"):
        critical.find_critical_point(ARCH, params, X, Y, max_iter=1)
    with pytest.raises(ValueError, match=r"`Y` contains NaN or Inf"):
        critical.find_critical_point(ARCH, sample_params(ARCH, 0), X, np.full((3, 1), bad), max_iter=1)


def test_find_critical_point_max_iter_message_reports_the_final_gradient():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    res = critical.find_critical_point(ARCH, sample_params(ARCH, 0), X, Y, max_iter=2, gtol=1e-300, classify=False)
    assert not res.converged and res.message.startswith("2 iterations without reaching gtol")
    assert f"(‖∇Φ‖ = {res.grad_norm:.3e})" in res.message  # the gradient at the returned point
