"""Session 38 (helper a): bad input to the spectral, batching, Jacobian and rank-explanation routines is refused at
the entry, naming the argument.

Before: ``check_operator(dim=True)`` traced the operator on a (1,) vector; ``lanczos(num_matvecs=4.0)`` and
``inertia(exact_max=2.5)`` ran; ``Density.quantile(1.5)`` and ``Density.mass(True)`` answered; a NaN-producing
operator gave NaN traces without a word or scipy's bare "array must not contain infs or NaNs" from Lanczos;
``exact_density`` read None as NaN and bools as 1/0; ``batch_size(memory="x")`` passed on CPU; ``sum_over`` of an
array raised AttributeError; an Architecture for ``obj`` raised AttributeError; ``sample_jacobian`` with a float32
θ returned a float32 J; ``attaining_point(level=True)``, ``wilson_interval(True, 10)`` and ``decide(T=True)`` read
True as 1; ``construct_full_rank(attempts=np.int64(2))`` was refused; ``full_weight_matrix`` turned a float32 W into
a float32 U_k; ``forward_error_note(target=True)`` printed ``σ_True``.
"""

import re

import jax
import numpy as np
import pytest

from theory_lab import batching, density, forward_error, generic_rank, jacobians, near_duplicates, operators
from theory_lab import saturation, spectrum, stopping, trace, witness
from theory_lab import derivatives as D
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.feature_maps import duplicate_samples, feature_rank, forward_upto, full_weight_matrix
from theory_lab.gradient_probes import attaining_point, small_gradient_search
from theory_lab.rank_probes import rank_frequency, wilson_interval
from theory_lab.sampling import sample_params
from theory_lab.validate import float64_values

A = np.diag(np.arange(1.0, 7.0))
A[0, 1] = A[1, 0] = 0.5
KEY = jax.random.key(0)
ARCH = Architecture((3,), (Dense(4), Output(2)))
DEEP = Architecture((3,), (Dense(6), Dense(4), Output(2)))
PARAMS = sample_params(ARCH, 0)
X = np.linspace(-1.0, 1.0, 15).reshape(5, 3)
Y = np.linspace(0.0, 1.0, 10).reshape(5, 2)
OBJ = D.objective(ARCH)
THETA = np.linspace(-1.0, 1.0, OBJ.P)


def nan_matvec(v):
    return v * np.nan


def _m(text):
    return "^" + re.escape(text)


# ----------------------------------------------------------------------------- operators


@pytest.mark.parametrize("dim", [True, np.True_, 6.0, "6", None, 0])
def test_check_operator_refuses_a_bool_or_non_integer_dim(dim):
    with pytest.raises(ValueError, match=_m(f"`dim`={dim!r} must be a positive integer (the operator's size).")):
        operators.check_operator(spectrum.dense_matvec, dim, (A,))


@pytest.mark.parametrize("dim", [True, 2.5, "6", None, 0])
def test_products_and_dense_refuse_a_bad_dim(dim):
    with pytest.raises(ValueError, match=_m(f"`dim`={dim!r} must be a positive integer")):
        operators.products(spectrum.dense_matvec, dim, (A,), np.eye(6)[:2])
    with pytest.raises(ValueError, match=_m(f"`dim`={dim!r} must be a positive integer")):
        operators.dense(spectrum.dense_matvec, dim, (A,))


@pytest.mark.parametrize("V, error, match", [
    (np.eye(6, dtype=np.float32)[:2], TypeError, "`V` has dtype float32; expected float64 vectors (n, 6)"),
    (np.eye(6, dtype=bool)[:2], TypeError, "`V` has dtype bool; expected float64"),
    (None, TypeError, "`V`=None is a NoneType, not an array of numbers"),
    (np.zeros((0, 6)), ValueError, "`V` has no rows; expected a finite (n, 6) array with n >= 1"),
    (np.full((2, 6), np.nan), ValueError, "`V` has NaN or Inf entries; expected a finite (n, 6) array"),
])
def test_products_refuses_a_float32_empty_or_nan_V(V, error, match):
    with pytest.raises(error, match=_m(match)):
        operators.products(spectrum.dense_matvec, 6, (A,), V)


def test_products_and_dense_still_work():
    np.testing.assert_allclose(operators.products(spectrum.dense_matvec, 6, (A,), np.eye(6)[:2]), A[:2])
    np.testing.assert_allclose(operators.dense(spectrum.dense_matvec, np.int64(6), (A,)), A)
    assert operators.check_operator(spectrum.dense_matvec, np.int64(6), (A,)) is None


# ----------------------------------------------------------------------------- spectrum


@pytest.mark.parametrize("arg, value", [("num_matvecs", 4.0), ("num_matvecs", True), ("max_matvecs", 5.5),
                                        ("max_matvecs", "5")])
def test_lanczos_refuses_a_non_integer_depth(arg, value):
    with pytest.raises(ValueError, match=_m(f"`{arg}`={value!r} must be an integer in [k=2, dim=6], or None.")):
        spectrum.lanczos(spectrum.dense_matvec, 6, KEY, A, k=2, **{arg: value})


@pytest.mark.parametrize("exact_max", [True, 2.5, -1, "5"])
def test_inertia_refuses_a_bad_exact_max(exact_max):
    with pytest.raises(ValueError, match=_m(f"`exact_max`={exact_max!r} must be a non-negative integer")):
        spectrum.inertia(spectrum.dense_matvec, 6, A, exact_max=exact_max)


def test_inertia_refuses_a_density_that_is_not_one():
    with pytest.raises(TypeError, match=_m("`density` is a int; expected the Density of slq_density")):
        spectrum.inertia(spectrum.dense_matvec, 6, A, density=3)


def test_lanczos_and_inertia_still_work():
    top = spectrum.lanczos(spectrum.dense_matvec, 6, KEY, A, k=2, num_matvecs=np.int64(6))
    np.testing.assert_allclose(top.values, np.linalg.eigvalsh(A)[::-1][:2], rtol=1e-12)
    assert spectrum.inertia(spectrum.dense_matvec, 6, A, exact_max=np.int64(6)).positive == 6
    d = density.slq_density(spectrum.dense_matvec, 6, KEY, A, num_probes=2, num_matvecs=6)
    assert spectrum.inertia(spectrum.dense_matvec, 6, A, exact_max=0, density=d).positive == pytest.approx(6.0)


# ----------------------------------------------------------------------------- NaN products


def test_a_nan_operator_is_named_by_lanczos_and_slq():
    with pytest.raises(FloatingPointError, match=_m("lanczos: `matvec` returned NaN or Inf (the Lanczos coefficients")):
        spectrum.lanczos(nan_matvec, 6, KEY, k=2)
    with pytest.raises(FloatingPointError, match=_m("slq_density: `matvec` returned NaN or Inf")):
        density.slq_density(nan_matvec, 6, KEY, num_probes=2, num_matvecs=4)


@pytest.mark.parametrize("estimator, name", [(trace.hutchinson, "hutchinson"), (trace.hutch_plus_plus, "hutch++"),
                                             (trace.xtrace, "xtrace")])
@pytest.mark.parametrize("dim", [6, 20])
def test_a_nan_operator_is_named_by_the_trace_estimators(estimator, name, dim):
    with pytest.raises(FloatingPointError, match=_m(f"{name}: `matvec` returned NaN or Inf although its inputs")):
        estimator(nan_matvec, dim, KEY, num_matvecs=6)


def test_trace_estimators_still_work():
    for est in trace.trace_estimates(spectrum.dense_matvec, 6, KEY, A, num_matvecs=6).values():
        assert abs(est.estimate - 21.0) <= 6 * est.stderr + 1e-9


def test_check_symmetric_refuses_what_is_not_a_basis():
    with pytest.raises(TypeError, match=_m("`K` is a NoneType; expected a krylov.Krylov basis")):
        density.check_symmetric(None)


# ----------------------------------------------------------------------------- Density


@pytest.fixture(scope="module")
def slq():
    return density.slq_density(spectrum.dense_matvec, 6, KEY, A, num_probes=2, num_matvecs=4)


@pytest.mark.parametrize("x, error", [(True, TypeError), ("1", TypeError), (None, TypeError), (np.nan, ValueError)])
def test_density_refuses_a_point_that_is_not_a_number(slq, x, error):
    with pytest.raises(error, match=_m(f"`lo`={x!r} must be a real number (±inf allowed)")):
        slq.mass(x, 3.0)
    with pytest.raises(error, match=_m(f"`hi`={x!r} must be a real number")):
        slq.mass(0.0, x)
    with pytest.raises(error, match=_m(f"`x`={x!r} must be a real number, a point on the eigenvalue axis.")):
        slq.cdf(x)
    with pytest.raises(error, match=_m(f"`x`={x!r} must be a real number")):
        slq.fraction_below(x)


def test_density_mass_refuses_a_closed_that_is_not_a_bool(slq):
    with pytest.raises(TypeError, match=_m("`closed`='no' must be a bool")):
        slq.mass(0.0, 3.0, closed="no")


@pytest.mark.parametrize("q, error", [(1.5, ValueError), (-0.1, ValueError), (np.nan, ValueError), (True, TypeError),
                                      ("0.5", TypeError)])
def test_density_quantile_refuses_q_outside_zero_one(slq, q, error):
    with pytest.raises(error, match=_m(f"`q`={q!r} must be a probability in [0, 1]")):
        slq.quantile(q)


def test_density_methods_still_work(slq):
    assert slq.mass()[0] == pytest.approx(1.0) and slq.mass(-np.inf, np.float64(3.5), closed=False)[0] > 0
    est, lo, hi = slq.cdf(np.float64(3.5))
    assert lo <= est <= hi and slq.fraction_below(3.5)[0] <= est
    assert slq.quantile(0) == slq.nodes.min() and slq.quantile(1) == slq.nodes.max()


@pytest.mark.parametrize("eigenvalues, match", [
    (None, "`eigenvalues`=None is a NoneType, not an array of numbers"),
    ("x", "`eigenvalues`='x' is a str, not an array of numbers"),
    (np.ones(3, np.float32), "`eigenvalues` has dtype float32; expected real numbers in float64"),
    (np.array([True, False]), "`eigenvalues` has dtype bool; expected real numbers in float64"),
])
def test_exact_density_and_wasserstein_refuse_none_text_bool_and_float32(slq, eigenvalues, match):
    with pytest.raises(TypeError, match=_m(match)):
        density.exact_density(eigenvalues, sigma=0.1, grid=np.linspace(0, 7, 5))
    with pytest.raises(TypeError, match=_m(match)):
        density.wasserstein1(slq, eigenvalues)
    with pytest.raises(TypeError, match=_m(match.replace("eigenvalues", "grid"))):
        density.exact_density(np.ones(3), sigma=0.1, grid=eigenvalues)


def test_exact_density_still_works(slq):
    lam = np.linalg.eigvalsh(A)
    assert density.exact_density(lam[:, None], sigma=0.1, grid=np.linspace(0, 7, 5)).shape == (5,)
    assert density.exact_density([1, 2], sigma=0.1, grid=[1.0]).shape == (1,)
    assert density.wasserstein1(slq, lam) >= 0.0


# ----------------------------------------------------------------------------- batching


@pytest.mark.parametrize("X_, Y_, name, value", [(None, Y, "X", None), ("x", Y, "X", "x"), (X, None, "Y", None),
                                                  (X, "y", "Y", "y")])
def test_batches_refuse_none_or_text_naming_it(X_, Y_, name, value):
    with pytest.raises(TypeError, match=_m(f"`{name}`={value!r} is a {type(value).__name__}, not an array")):
        batching.batches(X_, Y_, 2)


@pytest.mark.parametrize("X_", [None, "x"])
def test_as_batches_refuses_none_or_text_X(X_):
    with pytest.raises(TypeError, match=_m(f"`X`={X_!r} is a {type(X_).__name__}, not an array")):
        batching.as_batches(X_, Y)


def test_from_iterable_refuses_none():
    with pytest.raises(TypeError, match=_m("`pairs` is a NoneType; expected an iterable of (x, y) batches.")):
        batching.from_iterable(None)


@pytest.mark.parametrize("fn", [batching.sum_over, batching.map_over])
def test_sum_and_map_over_refuse_an_array(fn):
    with pytest.raises(TypeError, match=_m("`data` is a ndarray; expected a batching.Batches")):
        fn(lambda *a: 0.0, X)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
@pytest.mark.parametrize("kw, match", [
    (dict(memory=True), "`memory`=True must be a non-negative integer (bytes)."),
    (dict(memory="x"), "`memory`='x' must be a non-negative integer (bytes)."),
    (dict(memory=2.5), "`memory`=2.5 must be a non-negative"),
    (dict(factor=0), "`factor`=0 must be a positive integer."),
    (dict(N=True), "`N`=True must be a positive integer."),
])
def test_batch_size_checks_its_arguments_on_every_backend(backend, kw, match):
    with pytest.raises(ValueError, match=_m(match)):
        batching.batch_size(OBJ, **{"N": 5, **kw}, backend=backend)


@pytest.mark.parametrize("size, batch, bad", [(3, True, "batch"), (3, 0, "batch"), (3, 2.0, "batch"),
                                              (2.0, 1, "size"), (True, 1, "size")])
def test_map_basis_refuses_bool_float_or_zero_counts(size, batch, bad):
    value = batch if bad == "batch" else size
    with pytest.raises(ValueError, match=_m(f"`{bad}`={value!r} must be a positive integer.")):
        batching.map_basis(lambda v: v, size, batch)


def test_batching_still_works():
    b = batching.batches(X.tolist(), Y, 2)
    assert b.num_batches == 3 and batching.as_batches(X, Y).N == 5
    assert float(batching.sum_over(lambda x, y, w: w.sum(), b)) == 5.0
    assert batching.map_over(lambda x: x, b).shape == (5, 3)
    assert batching.from_iterable([(X, Y)]).N == 5
    assert batching.batch_size(OBJ, 5, 0, backend="gpu") == 1 and batching.batch_size(OBJ, 5, backend="cpu") == 1
    np.testing.assert_array_equal(batching.map_basis(lambda v: 2 * v, 3, 2), 2 * np.eye(3))


# ----------------------------------------------------------------------------- Jacobians, stopping


@pytest.mark.parametrize("call", [
    lambda o: jacobians.jacobian(o, THETA, X), lambda o: jacobians.sample_jacobian(o, THETA, X),
    lambda o: stopping.block_ratios(o, THETA, X, Y), lambda o: stopping.relative_gradient(o, THETA, X, Y)])
@pytest.mark.parametrize("obj", [ARCH, None])
def test_an_architecture_or_none_for_obj_is_refused(call, obj):
    with pytest.raises(TypeError, match=_m(f"`obj` is a {type(obj).__name__}; expected an Objective")):
        call(obj)


@pytest.mark.parametrize("fn", [jacobians.jacobian, jacobians.sample_jacobian])
def test_jacobians_refuse_none_or_text_X(fn):
    with pytest.raises(TypeError, match=_m("`X`=None is a NoneType, not an array of numbers")):
        fn(OBJ, THETA, None)
    with pytest.raises(TypeError, match=_m("`X`='x' is a str, not an array of numbers")):
        fn(OBJ, THETA, "x")


def test_sample_jacobian_refuses_a_float32_theta_and_a_misshapen_X():
    with pytest.raises(TypeError, match=_m("`theta` has dtype float32")):
        jacobians.sample_jacobian(OBJ, THETA.astype(np.float32), X)
    with pytest.raises(ValueError, match=_m("`X` has shape (5, 2); expected (N, 3)")):
        jacobians.sample_jacobian(OBJ, THETA, X[:, :2])


def test_jacobian_memory_is_checked():
    with pytest.raises(ValueError, match=_m("`memory`='x' must be a non-negative integer (bytes).")):
        jacobians.jacobian(OBJ, THETA, X, memory="x")


def test_jacobians_and_stopping_still_work():
    J = jacobians.jacobian(OBJ, THETA, X)
    np.testing.assert_allclose(jacobians.sample_jacobian(OBJ, THETA, X), J, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jacobians.jacobian(OBJ, THETA, X, mode="reverse", memory=0), J, rtol=1e-12, atol=1e-14)
    assert set(stopping.block_ratios(OBJ, THETA, X, Y)) == {1, 2} and stopping.relative_gradient(OBJ, THETA, X, Y) > 0


# ----------------------------------------------------------------------------- gradient probes, intervals, witness


@pytest.mark.parametrize("kw", [dict(level=True), dict(level="0.5"), dict(scale=True), dict(scale="1")])
def test_attaining_point_refuses_a_bool_or_text_level_or_scale(kw):
    with pytest.raises(ValueError, match=r"^`level`=.* must be a finite real number and `scale`=.* a finite positive"):
        attaining_point(DEEP, sample_params(DEEP, 0), X, 1, **kw)


@pytest.mark.parametrize("lr", [True, "0.01", None])
def test_small_gradient_search_refuses_a_bool_or_text_lr(lr):
    with pytest.raises(ValueError, match=_m(f"`lr`={lr!r} must be a positive finite learning rate")):
        small_gradient_search(DEEP, sample_params(DEEP, 0), X, Y, 1, steps=1, lr=lr)


def test_gradient_probes_still_work():
    p, Y_ = attaining_point(DEEP, sample_params(DEEP, 0), X, 1, level=np.float64(0.5), scale=2)
    assert Y_.shape == (5, 2)
    assert small_gradient_search(DEEP, p, X, Y_, 1, steps=1, lr=np.float64(1e-2)).steps == 1


@pytest.mark.parametrize("successes, trials", [(True, 10), (1, True), (2.5, 10), (1, 10.0), ("1", 10)])
def test_wilson_interval_refuses_counts_that_are_not_ints(successes, trials):
    with pytest.raises(ValueError, match=_m(f"need 0 <= successes <= trials and trials > 0, both ints; got "
                                            f"successes={successes!r}, trials={trials!r}.")):
        wilson_interval(successes, trials)


def test_rank_frequency_refuses_none_X():
    with pytest.raises(TypeError, match=_m("`X`=None is a NoneType, not an array of numbers")):
        rank_frequency(ARCH, None, 1, draws=1)


def test_wilson_and_rank_frequency_still_work():
    assert wilson_interval(np.int64(0), 20) == pytest.approx((0.0, 0.16113), abs=1e-4)
    assert rank_frequency(ARCH, X, 1, draws=1).draws == 1


@pytest.mark.parametrize("alphas", [("10", "40"), (np.True_,)])
def test_construct_full_rank_refuses_text_or_bool_alphas(alphas):
    with pytest.raises(ValueError, match=_m(f"`alphas`={alphas!r} must be a non-empty tuple of positive finite")):
        witness.construct_full_rank(Architecture((3,), (Dense(6), Output(1))), X, 1, alphas=alphas)


def test_construct_full_rank_takes_a_numpy_int_attempts():
    w = witness.construct_full_rank(Architecture((3,), (Dense(6), Output(1))), X, 1, attempts=np.int64(2))
    assert w.attempts in (1, 2)


# ----------------------------------------------------------------------------- generic rank


PATCHES = np.arange(3)[None]


@pytest.mark.parametrize("n_in", [True, 3.0, 0])
def test_weight_matrix_and_decide_refuse_a_bad_n_in(n_in):
    match = _m(f"`n_in`={n_in!r} must be a positive integer, n_(k-1)")
    with pytest.raises(ValueError, match=match):
        generic_rank.weight_matrix(PATCHES, n_in, np.ones((3, 2)))
    with pytest.raises(ValueError, match=match):
        generic_rank.decide(1, PATCHES, n_in, 2, True)


@pytest.mark.parametrize("patches, match", [
    (None, "`patches`=None is a NoneType"),
    (np.array([[0.0, 1.0, 2.0]]), "`patches` must be an int array (P, l) of indices in [-1, n_in) = [-1, 3)"),
    (np.array([[0, 1, 3]]), "`patches` must be an int array (P, l)"),
])
def test_weight_matrix_refuses_bad_patches(patches, match):
    with pytest.raises((TypeError, ValueError), match=_m(match)):
        generic_rank.weight_matrix(patches, 3, np.ones((3, 2)))


def test_weight_matrix_refuses_a_misshapen_W():
    with pytest.raises(ValueError, match=_m("`W` has shape (2, 2); expected filters (l, T) with l = 3")):
        generic_rank.weight_matrix(PATCHES, 3, np.ones((2, 2)))


@pytest.mark.parametrize("kw", [dict(k=True), dict(T=True), dict(T=2.0), dict(T=0), dict(covers="yes"),
                                dict(covers=1)])
def test_decide_refuses_bool_float_or_non_bool_arguments(kw):
    args = {**dict(k=1, T=2, covers=True), **kw}
    with pytest.raises(ValueError, match=_m(f"`k`={args['k']!r} and `T`={args['T']!r} must be positive integers")):
        generic_rank.decide(args["k"], PATCHES, 3, args["T"], args["covers"])


@pytest.mark.parametrize("U, b", [(np.ones((3, 4)), np.ones(3)), (np.full((3, 4), np.nan), np.ones(4))])
def test_identical_units_refuses_misshapen_or_nan_input(U, b):
    with pytest.raises(ValueError, match=_m(f"`U` {U.shape} and `b` {b.shape}: expected a finite U_k")):
        generic_rank.identical_units(U, b)


def test_identical_units_refuses_float32():
    with pytest.raises(TypeError, match=_m("`U` has dtype float32")):
        generic_rank.identical_units(np.ones((3, 4), np.float32), np.ones(4))


def test_generic_rank_still_works():
    U = generic_rank.weight_matrix(PATCHES, np.int64(3), np.arange(6).reshape(3, 2))
    assert U.dtype == np.int64 and U.shape == (3, 2)
    assert generic_rank.decide(1, PATCHES, 3, 2, np.True_).holds
    assert generic_rank.identical_units([[1.0, 2.0, 1.0]], [0.5, 0.5, 0.5]).tolist() == [0, 1, 0]


# ----------------------------------------------------------------------------- rank explanations, feature maps


@pytest.fixture(scope="module")
def ranked():
    fw = forward_upto(ARCH, PARAMS, X, 1)
    return fw, feature_rank(ARCH, PARAMS, X, 1), np.asarray(fw.F[1])


EXPLAIN = {
    "explain_deficit": lambda fw, rep, F, **kw: saturation.explain_deficit(
        **{**dict(arch=ARCH, params=PARAMS, fw=fw, k=1, report=rep, target=4), **kw}),
    "near_duplicate_rows": lambda fw, rep, F, **kw: near_duplicates.near_duplicate_rows(
        **{**dict(arch=ARCH, params=PARAMS, X=X, F=F, k=1, report=rep, target=4), **{a: v for a, v in kw.items()
                                                                                      if a != "fw"}}),
    "certify_full_rank": lambda fw, rep, F, **kw: forward_error.certify_full_rank(
        **{**dict(report=rep, arch=ARCH, params=PARAMS, fw=fw, k=1, target=4), **kw}),
}


@pytest.mark.parametrize("name", list(EXPLAIN))
@pytest.mark.parametrize("kw, error, match", [
    (dict(k=True), ValueError, "`k`=True is not a hidden layer; expected an integer in [1, 1]."),
    (dict(k=1.0), ValueError, "`k`=1.0 is not a hidden layer"),
    (dict(target=True), ValueError, "`target`=True must be a non-negative integer rank"),
    (dict(target=2.5), ValueError, "`target`=2.5 must be a non-negative integer rank"),
    (dict(report=None), TypeError, "`report` is a NoneType; expected the RankReport of F_1"),
])
def test_the_rank_explanations_refuse_bad_k_target_or_report(ranked, name, kw, error, match):
    with pytest.raises(error, match=_m(match)):
        EXPLAIN[name](*ranked, **kw)


@pytest.mark.parametrize("name", ["explain_deficit", "certify_full_rank"])
def test_the_rank_explanations_refuse_a_missing_forward_pass(ranked, name):
    with pytest.raises(TypeError, match=_m("`fw` is a NoneType; expected feature_maps.forward_upto(arch, params, X, k)")):
        EXPLAIN[name](None, *ranked[1:])


def test_feature_error_bound_refuses_a_bool_k(ranked):
    with pytest.raises(ValueError, match=_m("`k`=True is not a hidden layer")):
        forward_error.feature_error_bound(ARCH, PARAMS, ranked[0], True)


@pytest.mark.parametrize("kw, match", [
    (dict(bound=True), "`bound`=True must be a finite non-negative number"),
    (dict(bound="1"), "`bound`='1' must be a finite non-negative number"),
    (dict(bound=np.nan), "`bound`=nan must be a finite non-negative number"),
    (dict(target=True), "`k`=1, `target`=True, `report` a RankReport: expected a layer k >= 1"),
    (dict(target=0), "`k`=1, `target`=0, `report` a RankReport"),
    (dict(k=True), "`k`=True, `target`=4, `report` a RankReport"),
])
def test_forward_error_note_refuses_bad_arguments(ranked, kw, match):
    with pytest.raises(ValueError, match=_m(match)):
        forward_error.forward_error_note(**{**dict(k=1, report=ranked[1], bound=1e-16, target=4), **kw})


def test_the_rank_explanations_still_work(ranked):
    fw, rep, F = ranked
    assert EXPLAIN["explain_deficit"](fw, rep, F, k=np.int64(1)) == ""
    assert EXPLAIN["near_duplicate_rows"](fw, rep, F, target=np.int64(4)) == ""
    assert EXPLAIN["certify_full_rank"](fw, rep, F, target=5).rank == rep.rank  # target above min(N, n_k): as is
    assert forward_error.feature_error_bound(ARCH, PARAMS, fw, 1) > 0
    assert forward_error.forward_error_note(1, rep, np.float64(1e-16), 4).startswith("forward rounding of F_1")


@pytest.mark.parametrize("F, error, match", [
    (np.ones((5, 4), np.float32), TypeError, "`F` has dtype float32; expected real numbers in float64"),
    (None, TypeError, "`F`=None is a NoneType"),
])
def test_near_duplicate_pairs_refuses_float32_or_none_F(F, error, match):
    with pytest.raises(error, match=_m(match)):
        near_duplicates.near_duplicate_pairs(F, X, 0.1)


def test_near_duplicate_pairs_refuses_no_samples():
    with pytest.raises(ValueError, match=_m("`F` has shape (0, 4) and `X` (0, 3); expected F (N, n) and X (N, ...) "
                                            "for the same N samples (N >= 1).")):
        near_duplicates.near_duplicate_pairs(np.zeros((0, 4)), np.zeros((0, 3)), 0.1)


@pytest.mark.parametrize("X_, error, match", [
    (None, TypeError, "`X`=None is a NoneType"),
    (np.ones((2, 3), np.float32), TypeError, "`X` has dtype float32; expected real numbers in float64"),
    (np.ones((2, 3), bool), TypeError, "`X` has dtype bool"),
    (np.zeros((0, 3)), ValueError, "`X` has shape (0, 3); expected samples (N, ...) with N >= 1."),
])
def test_duplicate_samples_refuses_none_float32_bool_or_no_samples(X_, error, match):
    with pytest.raises(error, match=_m(match)):
        duplicate_samples(X_)


def test_full_weight_matrix_refuses_none_params_and_a_float32_W():
    with pytest.raises(TypeError, match=_m("`params` is a NoneType; expected the dict")):
        full_weight_matrix(ARCH, None, 1)
    p32 = {name: {leaf: np.asarray(a, np.float32) for leaf, a in layer.items()} for name, layer in PARAMS.items()}
    with pytest.raises(TypeError, match=_m("`params['layer_1']['W']` has dtype float32")):
        full_weight_matrix(ARCH, p32, 1)


@pytest.mark.parametrize("k, match", [(True, "`k`=True is not a hidden layer"), (1.0, "`k`=1.0 is not a hidden layer"),
                                      (2, "`k`=2 is not a hidden layer")])
def test_forward_upto_refuses_a_bool_float_or_output_k(k, match):
    with pytest.raises(ValueError, match=_m(match)):
        forward_upto(ARCH, PARAMS, X, k)


def test_forward_upto_refuses_none_X():
    with pytest.raises(TypeError, match=_m("`X`=None is a NoneType, not an array of numbers")):
        forward_upto(ARCH, PARAMS, None, 1)


def test_feature_maps_still_work():
    assert duplicate_samples(X.tolist()) == (5, "") and duplicate_samples(np.arange(6).reshape(3, 2))[0] == 3
    np.testing.assert_array_equal(full_weight_matrix(ARCH, PARAMS, 1), np.asarray(PARAMS["layer_1"]["W"]))
    int_params = {"layer_1": {"W": np.arange(8).reshape(2, 4), "b": np.zeros(4)}}
    assert full_weight_matrix(Architecture((2,), (Dense(4), Output(1))), int_params, 1).dtype.kind == "i"
    assert np.asarray(forward_upto(ARCH, PARAMS, X, np.int64(1)).F[1]).shape == (5, 4)


def test_float64_values():
    assert float64_values([1, 2], "x").dtype == np.float64
    with pytest.raises(TypeError, match=_m("`F` has dtype float32; expected real numbers in float64. Pass "
                                           "numpy.asarray(F, numpy.float64).")):
        float64_values(np.ones(2, np.float32), "F")
