"""Session 22's fuzzing of the public entry points: bad input refused up front, naming the argument and value.

Each test holds one defect found by feeding wrong shapes, NaN/Inf, wrong dtypes, bools, negative or
non-finite numbers to an entry point that used to answer with a bare numpy/jax/flax error, a late
crash, or a silent wrong result.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab import batching, critical, data, derivatives as D, feature_maps, loss_surface as LS, model
from theory_lab import spectrum as S, trace
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.cli import app
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4), Output(1)))
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 1))
OBJ = D.objective(ARCH)
THETA = D.flatten(sample_params(ARCH, 0))[0]


def _with(a, index, value):
    a = np.array(a)
    a[index] = value
    return a


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_theta_is_refused_before_any_product(bad):
    """Before: Lanczos compiled, then numpy's "array must not contain infs or NaNs"; trace estimates were NaN."""
    theta = _with(THETA, 6, bad)
    match = rf"`theta`: θ\[6\] is {bad}; 1 of {OBJ.P} parameters are NaN or Inf"
    with pytest.raises(ValueError, match=match):
        S.lanczos(D.HessianMatvec(OBJ), OBJ.P, jax.random.key(0), theta, X, Y, k=1)
    with pytest.raises(ValueError, match=match):
        trace.trace_estimates(D.HessianMatvec(OBJ), OBJ.P, jax.random.key(0), theta, X, Y, num_matvecs=6)
    with pytest.raises(ValueError, match=match):
        D.gradient(OBJ, theta, X, Y)


def test_non_finite_targets_are_refused_in_every_batch():
    """Before: NaN gradients and products, or numpy's bare error inside Lanczos after compiling."""
    bad_Y = _with(Y, (3, 0), np.nan)
    match = r"`Y` contains NaN or Inf \(1 entries\); clean the data first"
    with pytest.raises(ValueError, match=match):
        D.gradient(OBJ, THETA, X, bad_Y)
    with pytest.raises(ValueError, match=match):  # the NaN is in the second batch, not the first
        S.lanczos(D.HessianMatvec(OBJ), OBJ.P, jax.random.key(0), THETA, batching.batches(X, bad_Y, 2), k=1)
    stream = batching.Stream(lambda: iter([(X[:2], Y[:2]), (X[2:], bad_Y[2:])]))
    with pytest.raises(ValueError, match=match):
        D.loss(OBJ, THETA, stream)
    assert np.isfinite(float(D.loss(OBJ, jnp.asarray(THETA), X, Y)))


def test_spectrum_trace_matvecs_below_hutch_plus_plus_minimum_is_refused_up_front(tmp_path):
    """Before: `--trace-matvecs 5` passed the option check, and Hutch++ crashed with a traceback after Lanczos."""
    result = CliRunner().invoke(app, ["spectrum", "--trace-matvecs", "5", "--out", str(tmp_path / "out")],
                                env={"COLUMNS": "200"})
    text = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2, result.output
    assert "Invalid value for --trace-matvecs: 5 is too small; expected an integer >= 6" in text
    assert not (tmp_path / "out").exists()


def test_loss_surface_loss_checks_its_targets():
    """Before: Y of width 2 for a 1-output net broadcast to a wrong Φ; Y of 3 rows gave jax's broadcasting error."""
    params = sample_params(ARCH, 0)
    with pytest.raises(ValueError, match=r"`Y` has shape \(4, 2\); expected \(N, m\) = \(4, 1\)"):
        LS.loss(ARCH, params, X, np.hstack([Y, Y]))
    with pytest.raises(ValueError, match=r"`Y` has shape \(3, 1\); expected \(N, m\) = \(4, 1\)"):
        LS.loss(ARCH, params, X, Y[:3])
    with pytest.raises(ValueError, match=r"`Y` contains NaN or Inf; clean the targets first"):
        LS.loss(ARCH, params, X, _with(Y, (0, 0), np.inf))
    assert float(LS.loss(ARCH, params, X, Y.tolist())) == pytest.approx(float(LS.loss(ARCH, params, X, Y)))


def test_gradient_bounds_refuses_a_gradient_of_another_shape():
    """Before: any array's norm was taken as ‖∇_{U_2} Φ‖ and compared with the bounds."""
    with pytest.raises(ValueError, match=r"`grad` has shape \(3,\); expected ∇_U_2 Φ of shape \(n_1, n_2\) = "
                                         r"\(4, 1\)"):
        LS.gradient_bounds(ARCH, sample_params(ARCH, 0), X, Y, 1, grad=np.ones(3))


@pytest.mark.parametrize("kwargs, match", [
    ({"max_iter": True}, r"`max_iter`=True must be a positive integer"),
    ({"warm_start": True}, r"`warm_start`=True must be a non-negative number of Adam steps"),
    ({"max_seconds": -1.0}, r"`max_seconds`=-1.0 must be a finite number >= 0, or None"),
    ({"max_seconds": float("nan")}, r"`max_seconds`=nan must be a finite number >= 0"),
    ({"warm_start": 2, "warm_lr": float("nan")}, r"`warm_lr`=nan must be a positive finite Adam step size"),
    ({"warm_start": 2, "warm_lr": -0.01}, r"`warm_lr`=-0.01 must be a positive finite Adam step size"),
    ({"gtol": True}, r"`gtol`=True must be a positive finite number"),
    ({"dense_limit": -1}, r"`dense_limit`=-1 must be a non-negative integer"),
    ({"dense_limit": 1e3}, r"`dense_limit`=1000.0 must be a non-negative integer"),
])
def test_find_critical_point_refuses_meaningless_budgets(kwargs, match):
    """Before: True ran one iteration, a negative or NaN time limit was ignored, a negative Adam rate climbed Φ
    and a NaN one ended in "SVD did not converge"."""
    with pytest.raises(ValueError, match=match):
        critical.find_critical_point(ARCH, sample_params(ARCH, 0), X, Y, **kwargs)


def _edited(params, layer, leaf, value):
    out = {name: dict(d) for name, d in params.items()}
    if value is None:
        del out[layer][leaf]
    else:
        out[layer][leaf] = value
    return out


@pytest.mark.parametrize("edit, error, match", [
    (("layer_2", "b", None), ValueError, r"`params` lacks layer_2/b; expected the pytree of model.init\(arch, key\): "
                                         r"layer_1/W \(3, 4\), layer_1/b \(4,\), layer_2/W \(4, 1\), layer_2/b \(1,\)"),
    (("layer_1", "W", np.zeros((4, 3))), ValueError, r"`params`: layer_1/W has shape \(4, 3\); expected \(3, 4\)"),
    (("layer_1", "W", np.zeros((3, 4)).tolist()), ValueError, r"`params` has a list, not an array, at layer_1/W"),
    (("layer_1", "b", np.full(4, np.nan)), ValueError, r"`params`: layer_1/b contains NaN or Inf"),
])
def test_model_forward_checks_the_parameter_pytree_against_the_architecture(edit, error, match):
    """Before: flax's ScopeParamNotFoundError / ScopeParamShapeError, or NaN outputs for a NaN leaf."""
    params = _edited(sample_params(ARCH, 0), *edit)
    with pytest.raises(error, match=match):
        model.apply(ARCH, params, X)
    if edit[0] == "layer_1":  # F_1 from layers 1 … 1 only: the same check
        with pytest.raises(error, match=match):
            feature_maps.features_upto(ARCH, params, X, 1)
    with pytest.raises(TypeError, match=r"`params` is a NoneType; expected the dict"):
        model.apply(ARCH, None, X)


def test_float32_parameters_to_features_upto_name_the_leaf():
    """Before: lax's "dot_general requires arguments to have the same dtypes" from inside the compiled forward."""
    params = _edited(sample_params(ARCH, 0), "layer_1", "W", np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match=r"`params` has leaves that are not float64: \['layer_1'\]\['W'\] \(float32\)"):
        feature_maps.features_upto(ARCH, params, X, 1)


@pytest.mark.parametrize("make, match", [
    (lambda: data.digits(5, seed=-1, shuffle=True), r"`seed`=-1 for digits: expected an integer in \[0, 2\*\*32 - 1\]"),
    (lambda: data.digits(5, seed=None), r"`seed`=None for digits"),
    (lambda: data.mnist1d(5, seed=1.5), r"`seed`=1.5 for mnist1d"),
    (lambda: data.digits(5, noise="x"), r"`noise`='x' must be a finite non-negative standard deviation"),
    (lambda: data.gaussian(3, (3,), seed=-1), r"`seed`=-1 for gaussian"),
    (lambda: data.gaussian(3, ()), r"`shape`=\(\) for gaussian: expected a non-empty tuple of positive integer"),
    (lambda: data.gaussian(3, (0,)), r"`shape`=\(0,\) for gaussian"),
    (lambda: data.gaussian(3, 3), r"`shape`=3 for gaussian"),
    (lambda: data.one_hot([0, -1]), r"`labels` lie in \[-1, 0\]; expected classes 0 … 0 for m = 1"),
    (lambda: data.one_hot([0, 5], m=3), r"`labels` lie in \[0, 5\]; expected classes 0 … 2 for m = 3"),
    (lambda: data.one_hot([0.5, 1.0]), r"`labels` has shape \(2,\) and dtype float64; expected a non-empty 1-D"),
    (lambda: data.one_hot([]), r"`labels` has shape \(0,\)"),
    (lambda: data.one_hot([0], m=0), r"`m`=0 must be a positive integer number of classes"),
])
def test_data_loaders_refuse_bad_seeds_shapes_and_labels(make, match):
    """Before: numpy's "expected non-negative integer" / "negative dimensions", an IndexError, a silent empty or
    scalar-sample data set, or a silent wrong one-hot row (-1 became the last class, 0.5 became class 0)."""
    with pytest.raises(ValueError, match=match):
        make()


def test_check_distinct_patches_refuses_no_samples():
    """Before: IndexError from X[0]."""
    with pytest.raises(ValueError, match=r"`X` has shape \(0, 3\); expected \(N, \*\(3,\)\)"):
        data.check_distinct_patches(ARCH, np.zeros((0, 3)))


def test_class_targets_bound_with_a_singular_A_is_infinite_not_a_crash():
    """The class-targets check reports ‖(F_L − Y)Z⁻¹1‖ / σ_min(A); σ_min exactly 0 raised ZeroDivisionError."""
    from proofs_checks.loss_surface import _ratio

    assert _ratio(2.0, 0.0) == float("inf") and _ratio(0.0, 0.0) == 0.0 and _ratio(3.0, 2.0) == 1.5
