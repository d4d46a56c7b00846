"""Session 38 (helper b): bad input to layer constructors, data, exact fit, saved points, reports, the critical-point
search and the objective's data checks is refused at the entry, naming the argument.

Before: ``Conv(2, None)`` raised ``'NoneType' object is not iterable`` and ``Conv(2, {3: 1})`` built a 3-kernel;
``gaussian(None, shape)`` drew 10**9 samples; ``check_distinct_patches`` read a ``(N, 2, 8, 1)`` X for a
``(4, 4, 1)`` network; ``exact_fit`` of an empty ``F`` reported an exact fit; an ``Architecture`` or ``None``
where a layout or an architecture goes raised ``AttributeError``; ``check_finite(None)`` failed inside numpy;
``report_html`` showed seed 1.5 as 1; ``classify="no"`` classified; ``check_data`` and friends raised
``AttributeError`` on lists and jax's own error on text.
"""

import jax
import numpy as np
import pytest

from theory_lab import critical, data, exact_fit, model, objective, params_io, report
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.derivatives import layout

ARCH = Architecture((3,), (Dense(4), Output(2)))
CONV = Architecture((4, 4, 1), (Conv(2, (3, 3)), Output(2)))
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((3, 3)), np.eye(3)[:, :2].copy()


# ----------------------------------------------------------------------------- layer constructors


@pytest.mark.parametrize("make, name", [(lambda v: Conv(2, v), "kernel"), (lambda v: Conv(2, (3, 3), stride=v), "stride"),
                                        (lambda v: Conv(2, (3, 3), dilation=v), "dilation"),
                                        (lambda v: MaxPool(v), "window")])
@pytest.mark.parametrize("value", [None, {3: 1}, {3}])
def test_a_size_that_is_not_an_int_or_tuple_is_refused_naming_it(make, name, value):
    layer = "MaxPool" if name == "window" else "Conv"
    with pytest.raises(ValueError, match=rf"^{layer}: `{name}`=.* is a {type(value).__name__}; expected an integer or a "
                                         r"tuple of integers, one per spatial dimension"):
        make(value)


def test_valid_sizes_still_build():
    assert Conv(2, np.array([3, 3])).kernel == (3, 3) and Conv(2, 3, stride=[2]).stride == (2,)
    assert MaxPool((2, 2)).stride == (2, 2)


# ----------------------------------------------------------------------------- data


def test_gaussian_refuses_n_none():
    with pytest.raises(ValueError, match=r"^`n`=None for gaussian: expected the number of samples"):
        data.gaussian(None, (10**6,))  # without the guard: numpy's MemoryError at once (10**15 entries), no OOM
    assert data.gaussian(4, (3,)).X.shape == (4, 3)


def test_check_distinct_patches_refuses_a_shape_of_the_right_size():
    with pytest.raises(ValueError, match=r"^`X` has shape \(5, 2, 8, 1\); expected \(N, \*\(4, 4, 1\)\) or \(N, 16\)"):
        data.check_distinct_patches(CONV, RNG.standard_normal((5, 2, 8, 1)))
    for shape in ((5, 4, 4, 1), (5, 16)):  # the input shape, or flattened
        assert data.check_distinct_patches(CONV, np.random.default_rng(1).standard_normal(shape)).holds


# ----------------------------------------------------------------------------- exact fit


@pytest.mark.parametrize("shape", [(0, 5), (3, 0)])
def test_exact_fit_refuses_an_empty_F(shape):
    with pytest.raises(ValueError, match=rf"^`F` has shape \({shape[0]}, {shape[1]}\); expected at least one sample"):
        exact_fit.exact_fit(np.zeros(shape), np.ones(shape[0]))


@pytest.mark.parametrize("call", [lambda a: exact_fit.parameter_counts(a, 2),
                                  lambda a: exact_fit.with_output_layer(a, {}, np.ones((4, 2))),
                                  lambda a: critical.default_k(a, 3)])
@pytest.mark.parametrize("arch", [None, "digits-small"])
def test_an_arch_that_is_not_an_architecture_is_refused_naming_it(call, arch):
    with pytest.raises(TypeError, match=rf"^`arch`={arch!r} is a {type(arch).__name__}; expected a "
                                        r"theory_lab\.arch\.Architecture"):
        call(arch)


def test_exact_fit_valid_input_unchanged():
    F = np.random.default_rng(0).standard_normal((3, 5))
    assert exact_fit.exact_fit(F, np.ones(3)).relative_residual < 1e-12
    assert exact_fit.parameter_counts(CONV, 2)["T_1"] == 1 and critical.default_k(ARCH, 3) == 1


# ----------------------------------------------------------------------------- saved points


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "point.npz"
    np.savez(path, theta=np.zeros(layout(ARCH).P))
    return path


@pytest.mark.parametrize("lay", [None, ARCH])
def test_load_theta_refuses_a_layout_that_is_not_one(saved, lay):
    with pytest.raises(TypeError, match=rf"^`layout` is a {type(lay).__name__}; expected the parameter layout .* "
                                        r"pass theory_lab\.derivatives\.layout\(arch\)\.$"):
        params_io.load_theta(saved, lay)
    assert params_io.load_theta(saved, layout(ARCH)).theta.shape == (layout(ARCH).P,)


@pytest.mark.parametrize("theta", [None, "abc"])
def test_check_finite_refuses_text_or_none(theta):
    with pytest.raises(TypeError, match=r"^`theta`=.* not an array of numbers"):
        params_io.check_finite(theta, layout(ARCH))


def test_check_finite_refuses_a_misshapen_theta():
    lay = layout(ARCH)
    with pytest.raises(ValueError, match=rf"^`params`: θ has shape \(1, {lay.P}\); this architecture needs "
                                         rf"\({lay.P},\)\.$"):
        params_io.check_finite(np.zeros((1, lay.P)), lay)
    params_io.check_finite(np.zeros(lay.P), lay)
    with pytest.raises(ValueError, match=r"^`params`: θ\[0\] = layer_1/W\[0, 0\] is nan"):
        params_io.check_finite(np.r_[np.nan, np.zeros(lay.P - 1)], lay)


# ----------------------------------------------------------------------------- reports


@pytest.mark.parametrize("files", [None, [("a.txt", "x")]])
def test_write_all_atomic_refuses_a_non_dict(files, tmp_path):
    with pytest.raises(TypeError, match=rf"^`files` is a {type(files).__name__}; expected a dict"):
        report.write_all_atomic(files)
    report.write_all_atomic({tmp_path / "a.txt": "x"})
    assert (tmp_path / "a.txt").read_text() == "x"


@pytest.mark.parametrize("render", [report.results_json, report.report_markdown,
                                    lambda records, seed: report.report_html(records, seed, figures={})])
@pytest.mark.parametrize("seed", [1.5, None, "a", True])
def test_reports_refuse_a_seed_that_is_not_an_integer(render, seed):
    with pytest.raises(TypeError, match=rf"^`seed`={seed!r} is a {type(seed).__name__}; expected the run's integer"):
        render([], seed)


def test_reports_show_an_integer_seed():
    assert '"seed": 7' in report.results_json([], 7) and "seed 7" in report.report_html([], np.int64(7), figures={})


# ----------------------------------------------------------------------------- critical-point search


@pytest.mark.parametrize("classify", ["no", 1, 0.0])
def test_find_critical_point_refuses_a_classify_that_is_not_a_bool(classify):
    params = model.init(ARCH, jax.random.key(0))
    with pytest.raises(ValueError, match=rf"^`classify`={classify!r} must be True, False or None"):
        critical.find_critical_point(ARCH, params, X, Y, max_iter=1, classify=classify)


# ----------------------------------------------------------------------------- objective data checks


OBJ = objective.objective(ARCH)


def test_check_data_refuses_an_obj_that_is_not_an_objective():
    with pytest.raises(TypeError, match=r"^`obj` must be an Objective \(derivatives\.objective\(arch\)\), got "
                                        r"NoneType\.$"):
        objective.check_data(None, X, Y)


def test_check_data_reads_lists_and_refuses_text():
    assert objective.check_data(OBJ, X.tolist(), Y.tolist()) == (3, 2)
    with pytest.raises(TypeError, match=r"^`X`='abc' is a str, not an array of numbers"):
        objective.check_data(OBJ, "abc", Y)
    with pytest.raises(TypeError, match=r"^`Y`='abc' is a str, not an array of numbers"):
        objective.check_data(OBJ, X, "abc")


def test_check_finite_data_reads_lists():
    with pytest.raises(ValueError, match=r"^`X` contains NaN or Inf \(1 entries\)"):
        objective.check_finite_data([1.0, np.nan])
    with pytest.raises(ValueError, match=r"^`Y` contains NaN or Inf \(1 entries\)"):
        objective.check_finite_data(X, [1.0, np.nan])
    objective.check_finite_data(X.tolist(), Y.tolist())


def test_check_vector_and_residual_targets_refuse_text():
    with pytest.raises(TypeError, match=r"^`v`='abc' is a str, not an array of numbers"):
        OBJ.check_vector("abc", None)
    with pytest.raises(TypeError, match=r"^`Y`='abc' is a str, not an array of numbers"):
        OBJ.residual_targets("abc")
    assert OBJ.check_vector(np.zeros(OBJ.P), None).shape == (OBJ.P,)
    assert OBJ.residual_targets(Y, (3, 2)).shape == (3, 2)
