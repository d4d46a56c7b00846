"""Session 22's second bad-input sweep: the defects the first fuzzing pass found and left, each refused up front.

Each test holds one defect: an entry point that answered wrong types, NaN/Inf, impossible sizes or tolerances
with a bare numpy/jax/flax error, a late crash, or a silent wrong result.
"""

import jax
import numpy as np
import pytest

from theory_lab import derivatives as D, exact_fit as EF, expressivity as ex, linalg, loss_surface as LS, model
from theory_lab import curvature_report, demos, presets, resnet, sampling, spectrum as S
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4), Output(1)))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"key": 0}, TypeError, r"`key`=0 is not a jax.random key; expected jax.random.key\(seed\)"),
    ({"key": None}, TypeError, r"`key`=None is not a jax.random key"),
    ({"scale": float("nan")}, ValueError, r"`scale`=nan must be a finite non-negative number"),
    ({"scale": -1.0}, ValueError, r"`scale`=-1.0 must be a finite non-negative number"),
    ({"scale": float("inf")}, ValueError, r"`scale`=inf must be a finite non-negative number"),
    ({"bias_scale": float("nan")}, ValueError, r"`bias_scale`=nan must be a finite non-negative number .* "
                                               r"the default is bias_scale=0.1"),
])
def test_model_init_refuses_seeds_and_meaningless_spreads(kwargs, error, match):
    """Before: flax's InvalidRngError for an int or None key; NaN, negative or infinite spreads accepted (NaN/Inf
    biases, or a spread silently ignored by the default LeCun law)."""
    kwargs = {"key": jax.random.key(0), **kwargs}
    with pytest.raises(error, match=match):
        model.init(ARCH, kwargs.pop("key"), **kwargs)


F_WIDE = np.random.default_rng(2).standard_normal((4, 6))


@pytest.mark.parametrize("make, error, match", [
    (lambda: EF.exact_fit(F_WIDE, [1.0, np.nan, 0.0, 0.0]), ValueError,
     r"`y` contains NaN or Inf \(1 entries\); no finite λ fits them"),
    (lambda: EF.exact_fit(F_WIDE, np.full((4, 1), np.inf)), ValueError, r"`y` contains NaN or Inf \(4 entries\)"),
    (lambda: EF.exact_fit(F_WIDE, np.ones(4) * (1 + 1j)), TypeError,
     r"`y` has dtype complex128; expected real numbers"),
    (lambda: EF.with_output_layer(ARCH, sample_params(ARCH, 0), np.full(4, np.nan)), ValueError,
     r"`lam` contains NaN or Inf \(4 entries\)"),
    (lambda: EF.parameter_counts(ARCH, 0), ValueError, r"`N`=0 is not a number of samples; expected an integer >= 1"),
    (lambda: EF.parameter_counts(ARCH, -1), ValueError, r"`N`=-1 is not a number of samples"),
    (lambda: EF.parameter_counts(ARCH, 1.5), ValueError, r"`N`=1.5 is not a number of samples"),
])
def test_exact_fit_refuses_non_finite_complex_targets_and_impossible_sample_counts(make, error, match):
    """Before: numpy's "array must not contain infs or NaNs" from lstsq; a complex y cast to its real part with
    only a ComplexWarning; a NaN λ installed as U_L; N=0 a ZeroDivisionError, N=-1 or 1.5 silent nonsense."""
    with pytest.raises(error, match=match):
        make()
    assert EF.parameter_counts(ARCH, 5)["cnn"] == 25


A_DIAG = np.diag(np.arange(1.0, 11.0))


@pytest.mark.parametrize("make, match", [
    (lambda: S.lanczos(S.dense_matvec, 10, jax.random.key(0), A_DIAG, k=2, rtol=np.inf),
     r"`rtol`=inf must be a positive finite number .* an infinite one marks every pair converged"),
    (lambda: S.lanczos(S.dense_matvec, 10, jax.random.key(0), A_DIAG, k=2, rtol=np.nan), r"`rtol`=nan must be"),
    (lambda: S.slq_density(S.dense_matvec, 10, jax.random.key(0), A_DIAG, num_matvecs=4, grid_size=0),
     r"`grid_size`=0 must be an integer >= 2"),
    (lambda: S.slq_density(S.dense_matvec, 10, jax.random.key(0), A_DIAG, num_matvecs=4, grid_size=1),
     r"`grid_size`=1 must be an integer >= 2"),
    (lambda: S.slq_density(S.dense_matvec, 10, jax.random.key(0), A_DIAG, num_matvecs=4, sigma=np.inf),
     r"`sigma`=inf must be a positive finite kernel width"),
    (lambda: S.exact_density(np.arange(3.0), sigma=0.0, grid=np.linspace(0, 2, 5)),
     r"`sigma`=0.0 must be a positive finite kernel width"),
    (lambda: S.exact_density(np.arange(3.0), sigma=0.1, grid=np.zeros((2, 3))),
     r"`grid` has shape \(2, 3\); expected a non-empty 1-D array of finite numbers .* grid.ravel\(\)"),
    (lambda: S.exact_density([], sigma=0.1, grid=np.zeros(3)), r"`eigenvalues` has shape \(0,\)"),
])
def test_spectrum_refuses_infinite_tolerances_degenerate_grids_and_kernel_widths(make, match):
    """Before: rtol=inf marked every pair converged (residual 1.6); grid_size 0 or 1 gave an empty or one-point
    density; sigma=0 a NaN density; a 2-D grid numpy's broadcast error."""
    with pytest.raises(ValueError, match=match):
        make()
    assert S.exact_density(np.arange(3.0), sigma=0.1, grid=[0.0, 1.0]).shape == (2,)


def _custom_matvec(v, M):
    return M @ v


def test_custom_matvec_whose_params_do_not_fit_dim_names_matvec_dim_and_shapes():
    """Before: jax's bare "dot_general requires contracting dimensions …" from the abstract trace."""
    with pytest.raises(ValueError, match=r"`matvec` cannot be applied to a float64 \(12,\) vector with params of "
                                         r"shapes \(\(10, 10\)\) \(dot_general .*\); check that `dim`=12 is the "
                                         r"operator's size"):
        S.lanczos(_custom_matvec, 12, jax.random.key(0), A_DIAG, k=2)


@pytest.mark.parametrize("position, name", [(0, "theta"), (1, "X"), (2, "Y")])
def test_hessian_matvec_refuses_python_lists_by_name(position, name):
    """Before: AttributeError ('list' object has no attribute 'shape' / 'dtype' / 'reshape') deep in the checks."""
    arch = Architecture((3,), (Dense(2), Output(1)))
    obj = D.objective(arch)
    args = [np.zeros(obj.P), np.ones((4, 3)), np.ones((4, 1))]
    args[position] = args[position].tolist()
    with pytest.raises(TypeError, match=rf"`{name}` is a Python list; HessianMatvec takes arrays. "
                                        rf"Pass numpy.asarray\({name}, dtype=numpy.float64\)"):
        S.lanczos(D.HessianMatvec(obj), obj.P, jax.random.key(0), *args, k=1)


TANH_ARCH = Architecture((3,), (Dense(6, activation="tanh"), Output(1)))
X5 = np.random.default_rng(0).standard_normal((5, 3))


@pytest.mark.parametrize("make, match", [
    (lambda: ex.rank_frequency(TANH_ARCH, X5, 1, draws=True), r"`draws`=True must be a positive int"),
    (lambda: ex.wilson_interval(3, 10, z=-1.0), r"`z`=-1.0 must be a positive finite normal quantile"),
    (lambda: ex.wilson_interval(3, 10, z=np.nan), r"`z`=nan must be a positive finite normal quantile"),
    (lambda: ex.construct_full_rank(TANH_ARCH, X5, 1, alphas=()),
     r"`alphas`=\(\) must be a non-empty tuple of positive finite weight scales"),
    (lambda: ex.construct_full_rank(TANH_ARCH, X5, 1, alphas=(-1.0,)), r"`alphas`=\(-1.0,\) must be a non-empty"),
])
def test_expressivity_helpers_refuse_bool_draws_bad_quantiles_and_weight_scales(make, match):
    """Before: draws=True ran one draw; z=-1 or NaN gave a silently wrong interval; alphas=() a misleading
    RuntimeError about ties between samples, alphas=(-1,) a negated weight scale."""
    with pytest.raises(ValueError, match=match):
        make()
    assert ex.wilson_interval(0, 20) == pytest.approx((0.0, 0.16113), abs=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, r"`k`=0 is not the index of a layer with parameters; `params` has \['layer_1', 'layer_2'\]"),
    ({"W": np.ones((4, 3))}, r"`W` has shape \(4, 3\); expected \(3, 4\), the shape of layer_1/W it replaces"),
    ({"W": np.full((3, 4), np.nan)}, r"`W` contains NaN or Inf \(12 entries\); layer_1/W must be finite"),
    ({"b": np.zeros(3)}, r"`b` has shape \(3,\); expected \(4,\)"),
])
def test_with_layer_checks_the_layer_index_and_the_replacement_against_the_leaf(kwargs, match):
    """Before: k=0 a bare KeyError; a W of the wrong shape or with NaN installed silently."""
    kwargs = {"k": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        sampling.with_layer(sample_params(ARCH, 0), kwargs.pop("k"), **kwargs)


@pytest.mark.parametrize("make, error, match", [
    (lambda: Architecture((3,), None), TypeError, r"Architecture: `layers`=None is not a sequence of layers"),
    (lambda: Architecture((3,), (Dense(10**12), Output(1))), MemoryError,
     r"Architecture: the layer sizes \[1000000000000, 1\] on input \(3,\) cannot be represented on this machine"),
    (lambda: LS.operator_lower_bound(np.ones(3)), ValueError,
     r"`A` has shape \(3,\); expected a non-empty finite matrix \(rows, cols\)"),
    (lambda: LS.operator_lower_bound(np.array([[np.nan, 1.0], [0.0, 1.0]])), ValueError, r"`A` has NaN or Inf"),
    (lambda: linalg.rank_report(np.eye(2), tol="a"), ValueError, r"`tol`='a' must be a finite non-negative"),
])
def test_bare_errors_of_architecture_operator_lower_bound_and_rank_report_are_named(make, error, match):
    """Before: TypeError "'NoneType' object is not iterable"; numpy's bare MemoryError (7.28 TiB) while the
    architecture was built; IndexError / LinAlgError from the SVD; TypeError comparing 'a' with 0."""
    with pytest.raises(error, match=match):
        make()
    assert LS.operator_lower_bound(np.eye(3)) == 1.0


def test_spectrum_report_of_a_block_with_fewer_than_six_parameters_runs_hutch_plus_plus():
    """Before: the trace budget min(trace_matvecs, dim) fell below Hutch++'s 6 for a block of P_k < 6, and the
    report crashed with Hutch++'s error after Lanczos and SLQ had run; a library trace_matvecs=5 did the same."""
    arch = Architecture((3,), (Dense(1), Output(1)))  # block 2: U_2 (1,) and b_2 (1,), P_2 = 2
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    theta = D.flatten(sample_params(arch, 0))[0]
    stages = []
    with pytest.raises(ValueError, match=r"`trace_matvecs`=5 must be an integer >= 6 \(Hutch\+\+ spends a third"):
        curvature_report.spectrum_report(arch, theta, X, Y, k=1, probes=2, steps=2, trace_matvecs=5,
                                         progress=lambda stage, *_: stages.append(stage))
    assert stages == []  # refused before any product
    rep = curvature_report.spectrum_report(arch, theta, X, Y, block=2, k=1, probes=2, steps=2)
    assert rep["dim"] == 2 and rep["trace"]["hutch++"]["num_matvecs"] == 6
    exact = float(np.trace(D.hessian(D.objective(arch), theta, X, Y)[-2:, -2:]))
    assert rep["trace"]["hutch++"]["estimate"] == pytest.approx(exact, rel=1e-8)  # the sketch spans the block


def test_spectra_demo_with_one_digit_does_not_call_a_point_without_negative_curvature_a_strict_saddle():
    """Found by fuzzing `theory-lab demo spectra --n 1`: the bad point U_2 = U_3 = 0 fits one sample (Φ = 0) and
    has no negative eigenvalue, yet the explanation said "most negative -1.09e-33: a strict saddle"."""
    result = demos.spectra(1, seed=0)
    assert result.at("bad").negative == 0 and not result.agrees  # the hypothesis Φ > 0 fails: not an error
    text = demos.spectra_explanation(result)
    assert "a strict saddle." not in text
    # session 30: with Φ = 0 at the "bad" point the premise fails, so the demo decides nothing (was "NOT as predicted")
    assert "Not decided: the bad point fits the data (Φ = 0)" in text and "NOT as predicted" not in text


@pytest.mark.parametrize("make, match", [
    (lambda: resnet.ResNet(widths=()).init(jax.random.key(0), np.zeros((1, 8, 8, 1))),
     r"ResNet: `widths`=\(\) must be a non-empty tuple of positive integers"),
    (lambda: resnet.ResNet(widths=(0,)).init(jax.random.key(0), np.zeros((1, 8, 8, 1))), r"`widths`=\(0,\)"),
    (lambda: resnet.ResNet(num_classes=0).init(jax.random.key(0), np.zeros((1, 8, 8, 1))), r"`num_classes`=0"),
    (lambda: presets.architecture(["digits-small"]), r"`--arch`=\['digits-small'\] is not a preset"),
])
def test_resnet_widths_and_preset_names_are_checked(make, match):
    """Found by fuzzing the presets: widths () an IndexError, (0,) a ZeroDivisionError in jax's initializer,
    (-1, 2) jax's broadcasting TypeError; a list as a preset name "unhashable type: 'list'"."""
    with pytest.raises(ValueError, match=match):
        make()
