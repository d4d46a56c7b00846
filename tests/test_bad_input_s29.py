"""Stop 29's systematic bad-input audit: every defect it found, each refused at the entry point, naming the argument.

A throwaway fuzzer walked every public function of ``theory_lab`` (the modules' ``__all__``) and every CLI command and
option with wrong shapes, NaN/Inf, wrong dtypes, bools, huge and negative counts, unknown names, malformed files and
unwritable folders. Each test below holds one defect it found: a bare numpy/jax/Python error, a late crash, a hang or
a silent wrong result (NaN propagated, an overflowing data set, a hidden m × m allocation).
"""

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab import activations, curvature_report, data, derivatives as D, factories, keys, loss_surface as LS
from theory_lab import feature_maps, model, near_duplicates, params_io, spectrum as S, testing, tolerances as T, trace
from theory_lab import zoo
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.cli import app
from theory_lab.critical import find_critical_point
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4), Output(1)))
CONV = Architecture((6, 6, 1), (Conv(3, (3, 3)), Dense(5), Output(2)))
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 1))
OBJ = D.objective(ARCH)
THETA = np.asarray(D.flatten(sample_params(ARCH, 0))[0])
A10 = np.diag(np.arange(1.0, 11.0))
HUGE = 10**12  # probes of any dimension: 8 TB per dimension, beyond any machine's memory


def _cli(args, tmp_path):
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    return result, " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("noise, match", [
    (1e308, r"`noise`=1e\+308 overflows float64: the noisy pixels are not finite"),
    (True, r"`noise`=True must be a finite non-negative standard deviation"),
])
def test_digits_noise_that_overflows_or_is_a_bool_is_refused(noise, match):
    """Before: noise=1e308 gave pixels of ±inf with only a RuntimeWarning (spectrum then failed deep with "`X` contains
    NaN or Inf"); noise=True was taken as a standard deviation of 1."""
    with pytest.raises(ValueError, match=match):
        data.digits(5, noise=noise)
    with pytest.raises(ValueError, match=match):
        data.mnist1d(5, noise=noise)


def test_spectrum_noise_that_overflows_is_an_option_error(tmp_path):
    """Before: a traceback (exit 1) from the objective's data check after the data set was built."""
    result, text = _cli(["spectrum", "--noise", "1e308", "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2, text
    assert "Invalid value for --noise: `--noise`=1e+308 overflows float64" in text
    assert not (tmp_path / "out").exists()


def test_one_hot_does_not_build_an_m_by_m_identity():
    """Before: np.eye(m)[labels] allocated m × m (8 GB at m = 32768) for a few labels; a huge m was numpy's
    "array is too big"."""
    assert data.one_hot([2, 0], m=40000).shape == (2, 40000)
    np.testing.assert_array_equal(data.one_hot([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    with pytest.raises(MemoryError, match=r"`m`=1000000000000: 1 one-hot rows of 1000000000000 classes do not fit"):
        data.one_hot([0], m=HUGE)


@pytest.mark.parametrize("make, name", [
    (lambda: S.slq_density(S.dense_matvec, 10, jax.random.key(0), A10, num_probes=HUGE, num_matvecs=2), "num_probes"),
    (lambda: trace.hutchinson(S.dense_matvec, 10, jax.random.key(0), A10, num_matvecs=HUGE), "num_matvecs"),
    (lambda: trace.hutch_plus_plus(S.dense_matvec, 10, jax.random.key(0), A10, num_matvecs=HUGE), "num_matvecs"),
    (lambda: curvature_report.spectrum_report(ARCH, THETA, X, Y, k=1, probes=HUGE, steps=2), "probes"),
])
def test_probe_counts_beyond_the_machines_memory_are_refused_by_name(make, name):
    """Before: numpy's bare MemoryError ("Unable to allocate 74.5 GiB …") from the Rademacher draw, after Lanczos."""
    with pytest.raises(MemoryError, match=rf"`{name}`={HUGE}: {HUGE} probes of dimension \d+ take .* GiB as float64, "
                                          r"more than this machine's .* GiB of memory; use fewer"):
        make()
    keys.check_probe_block(8, 10**6, "num_probes")  # 61 MiB: fits


def test_spectrum_probes_beyond_memory_is_an_option_error(tmp_path):
    """Before: `--probes 100000000` passed the option checks, ran Lanczos, then died in numpy's MemoryError."""
    result, text = _cli(["spectrum", "--n", "8", "--probes", str(HUGE), "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2, text
    assert f"Invalid value for --probes: `--probes`={HUGE}: {HUGE} probes of dimension 362" in text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": 1.5}, r"`seed`=1.5 must be an integer in \[0, 2\*\*32 - 1\]"),
    ({"seed": -1}, r"`seed`=-1 must be an integer in \[0, 2\*\*32 - 1\]"),
    ({"exact_max": -1}, r"`exact_max`=-1 must be an integer >= 0"),
])
def test_spectrum_report_checks_its_seed_and_exact_max(kwargs, match):
    """Before: seed=1.5 was jax's "PRNG key seed must be an integer; got JitTracer" from inside a compiled split;
    seed=-1 and exact_max=-1 were accepted."""
    with pytest.raises(ValueError, match=match):
        curvature_report.spectrum_report(ARCH, THETA, X, Y, k=1, probes=2, steps=2, **kwargs)


@pytest.mark.parametrize("product", [
    lambda v: D.hvp(OBJ, THETA, X, Y, v),
    lambda v: D.residual_vp(OBJ, THETA, X, Y, v),
    lambda v: D.gauss_newton_vp(OBJ, THETA, X, v, Y=Y),
])
def test_products_of_a_non_finite_vector_are_refused(product):
    """Before: θ, X and Y were checked for NaN/Inf, but a NaN ``v`` gave an all-NaN product silently."""
    v = np.ones(OBJ.P)
    v[3] = np.nan
    with pytest.raises(ValueError, match=r"`v` contains NaN or Inf \(1 entries\)"):
        product(v)
    assert np.all(np.isfinite(np.asarray(product(np.ones(OBJ.P)))))


def test_dense_operator_with_non_finite_entries_is_refused():
    """Before: trace_exact of a NaN operator returned nan; the exact inertia raised numpy's LinAlgError
    "Eigenvalues did not converge"."""
    bad = A10.copy()
    bad[2, 2] = np.nan
    # session 32: refused before any product now (operators.check_operator reads the params); an operator that makes
    # NaN from finite params still meets the dense check (test_bad_input_s32.py)
    match = r"`params\[0\]` \(passed to `matvec`\) contains NaN or Inf \(1 of 100 entries\)"
    with pytest.raises(ValueError, match=match):
        S.trace_exact(S.dense_matvec, 10, bad)
    with pytest.raises(ValueError, match=match):
        S.inertia(S.dense_matvec, 10, bad)
    assert S.trace_exact(S.dense_matvec, 10, A10) == pytest.approx(55.0)


@pytest.mark.parametrize("make, error, match", [
    (lambda d: S.wasserstein1(d, []), ValueError, r"`eigenvalues` has shape \(0,\); expected a non-empty 1-D array"),
    (lambda d: S.wasserstein1(d, [np.nan, 1.0]), ValueError, r"`eigenvalues` has shape \(2,\) with NaN/Inf"),
    (lambda d: S.wasserstein1(None, [1.0]), TypeError, r"`density` is a NoneType; expected the Density"),
    (lambda d: curvature_report.bulk_interval(d.grid, d.density[:-1]), ValueError,
     r"`grid` \(512,\) and `density` \(511,\): expected two non-empty 1-D arrays of one length"),
    (lambda d: curvature_report.bulk_interval([], []), ValueError, r"`grid` \(0,\) and `density` \(0,\)"),
    (lambda d: curvature_report.bulk_interval(d.grid, d.density, level=-1.0), ValueError,
     r"`level`=-1.0 must be a fraction of the peak in \[0, 1\]"),
])
def test_density_comparisons_check_their_inputs(make, error, match):
    """Before: no eigenvalues was a ZeroDivisionError, NaN ones a NaN distance; mismatched grids an IndexError, an
    empty one numpy's argmax error, a negative level a silent whole-grid interval."""
    dens = S.slq_density(S.dense_matvec, 10, jax.random.key(0), A10, num_matvecs=4)
    with pytest.raises(error, match=match):
        make(dens)


@pytest.mark.parametrize("make, match", [
    (lambda: LS.forward_with_full_matrix(ARCH, sample_params(ARCH, 0), X, 1, np.full((3, 4), np.nan)),
     r"`U` has shape \(3, 4\) and NaN/Inf entries; layer 1 needs finite \(n_0, n_1\) = \(3, 4\)"),
    (lambda: LS.gradient_bounds(ARCH, sample_params(ARCH, 0), X, Y, 1, grad=np.full((4, 1), np.nan)),
     r"`grad` has shape \(4, 1\) and NaN/Inf; expected ∇_U_2 Φ of shape \(n_1, n_2\) = \(4, 1\), finite"),
    (lambda: model.weight_map(CONV, 1, np.full((9, 3), np.nan)), r"`W` \(layer 1\) contains NaN or Inf \(27 entries\)"),
])
def test_weights_and_gradients_given_by_hand_must_be_finite(make, match):
    """Before: a NaN U gave a NaN F_L, a NaN grad a NaN ‖∇Φ‖ beside finite bounds, a NaN W a NaN U_k: all silent."""
    with pytest.raises(ValueError, match=match):
        make()


def test_weight_map_refuses_float32_filters():
    """Before: a float32 W gave a float32 U_k silently, while the rest of theory-lab computes in float64."""
    with pytest.raises(TypeError, match=r"`W` has dtype float32; derivatives are computed in float64"):
        model.weight_map(CONV, 1, np.ones((9, 3), np.float32))
    assert model.weight_map(CONV, 1, np.ones((9, 3))).dtype == np.float64


def test_model_init_refuses_a_batch_of_keys():
    """Before: flax's InvalidRngError ("RNGs should be of shape (2,) or PRNGKey …") for jax.random.split's output."""
    with pytest.raises(TypeError, match=r"(?s)`key`=.* is not a jax.random key; .* of jax.random.split\(key, n\), pass "
                                        r"one key"):
        model.init(ARCH, jax.random.split(jax.random.key(0), 2))


def test_find_critical_point_refuses_a_callback_that_is_not_callable():
    """Before: TypeError "'int' object is not callable" after the first iteration's work."""
    with pytest.raises(TypeError, match=r"`callback`=3 is not callable"):
        find_critical_point(ARCH, sample_params(ARCH, 0), X, Y, callback=3)


@pytest.mark.parametrize("make, error, match", [
    (lambda: activations.get("nope"), KeyError, r"`activation`='nope' is unknown. Known activations: .*sigmoid"),
    (lambda: activations.get(None), TypeError, r"`activation`=None is a NoneType; expected a name such as 'sigmoid'"),
    (lambda: activations.register("My-Act", lambda: None), ValueError,
     r"`name`='My-Act' must be lower-case letters and underscores"),
    (lambda: activations.register("my_act", 3), TypeError, r"`factory`=3 is not callable"),
    (lambda: zoo.network(None), TypeError, r"`name`=None is a NoneType; expected a network name such as 'resnet-50'"),
    (lambda: zoo.from_architecture(None), TypeError, r"`architecture` is a NoneType; expected a theory_lab.arch"),
])
def test_names_and_registrations_are_checked(make, error, match):
    """Before: an unknown activation's KeyError listed the known ones but not the name given; None or 3 gave the
    same KeyError; a non-callable factory or an unreadable name registered silently (failing at first use);
    zoo.network(None) and from_architecture(None) were AttributeErrors."""
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: T.svd_rank_tol((3, 3), float("nan")), r"`sigma_max`=nan must be a finite non-negative number"),
    (lambda: T.svd_rank_tol((3, 3), -1.0), r"`sigma_max`=-1.0 must be a finite non-negative number"),
    (lambda: T.svd_rank_tol(3, 1.0), r"`shape`=3 must be the matrix's shape, a tuple \(m, n\)"),
    (lambda: T.solver_rank_tol(1.0, -1.0), r"`forward_rtol`=-1.0 must be a finite non-negative number"),
    (lambda: T.zero_loss_tol(np.full(3, np.nan)), r"`Y` contains NaN or Inf; a tolerance is a finite number"),
    (lambda: T.critical_tol(-1.0, np.ones(3)), r"`jacobian_norm`=-1.0 must be a finite non-negative number"),
    (lambda: T.eigen_tol(-1, 1.0), r"`n`=-1 must be a non-negative integer"),
    (lambda: T.identity_tol(float("nan")), r"`scale`=nan must be a finite non-negative number"),
    (lambda: T.fit_residual_tol((3, 3), float("inf"), 1.0), r"`F_norm`=inf must be a finite non-negative number"),
    (lambda: T.distinct_tol(1.0, -2), r"`length`=-2 must be a non-negative integer"),
])
def test_tolerance_rules_name_the_argument_that_is_wrong(make, match):
    """Before: "Tolerance 'SVD rank': value=-6.66e-16 must be finite and non-negative" (the product, not the
    argument), or "'int' object is not iterable" for a shape given as a number."""
    with pytest.raises(ValueError, match=match):
        make()
    assert T.svd_rank_tol((3, 4), np.float64(2.0)).value == pytest.approx(2.0 * 4 * T.EPS, abs=0)


@pytest.mark.parametrize("h", [0.0, float("nan"), -1e-6, True])
def test_finite_difference_grad_refuses_meaningless_steps(h):
    """Before: h=0 a ZeroDivisionError, h=NaN a NaN gradient, h<0 and True accepted."""
    with pytest.raises(ValueError, match=rf"`h`={h!r} must be a positive finite step"):
        testing.finite_difference_grad(lambda x: (x**2).sum(), np.ones(3), h=h)


def test_an_empty_npz_archive_is_called_empty(tmp_path):
    """Before: numpy.savez(path) with no arrays was reported as "not a zip archive"."""
    path = tmp_path / "empty.npz"
    np.savez(path)
    with pytest.raises(ValueError, match=r"`params`='.*empty.npz' is not an .npz archive \(an empty archive: it holds "
                                         r"no arrays\)"):
        params_io.load_theta(path, D.layout(ARCH))


FACTORIES = {
    "syntax.py": "def factory(:\n",
    "raises.py": "raise RuntimeError('boom at import')\n",
    "needs.py": "def factory(a):\n    return a\n",
    "fails.py": "def factory():\n    raise KeyError('x')\n",
}


@pytest.mark.parametrize("file, match", [
    ("syntax.py", r"importing '.*syntax.py' raised SyntaxError: invalid syntax"),
    ("raises.py", r"importing '.*raises.py' raised RuntimeError: boom at import. Fix the module"),
    ("needs.py", r"the factory needs arguments \(a\); a factory is called with none"),
    ("fails.py", r"the factory raised KeyError: 'x'. Call it in Python to see the traceback"),
])
def test_model_factories_that_fail_are_option_errors(tmp_path, file, match):
    """Before: a SyntaxError, the module's own exception, "factory() missing 1 required positional argument" or the
    factory's KeyError came out of `spectrum --model` as a traceback (exit 1)."""
    path = tmp_path / file
    path.write_text(FACTORIES[file])
    with pytest.raises(ValueError, match=rf"`--model`='.*{file}:factory': " + match):
        factories.load(f"{path}:factory")
    result, text = _cli(["spectrum", "--model", f"{path}:factory", "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2 and "Invalid value for --model" in text, text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, match", [
    (["rank-jump", "--draws", "1000000000"], r"--draws=1000000000 is more than 1000 draws per width"),
    (["critical-points", "--starts", "1000000000"], r"--starts=1000000000 is more than 1000 starts per network"),
])
def test_demo_refuses_counts_that_cannot_finish(tmp_path, args, match):
    """Before: `demo rank-jump --draws 1000000000` passed the checks and ran until killed."""
    result, text = _cli(["demo", *args, "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2, text
    assert "Invalid value for" in text and __import__("re").search(match, text), text


@pytest.mark.parametrize("make, match", [
    (lambda: feature_maps.full_weight_matrix(CONV, {**sample_params(CONV, 0), "layer_1": {
        "W": np.full((9, 3), np.nan), "b": np.zeros(48)}}, 1),
     r"`params`: layer_1/W contains NaN or Inf \(27 entries\); U_k is built from finite filters only"),
    (lambda: near_duplicates.near_duplicate_pairs(X[:3], X, 0.1),
     r"`F` has shape \(3, 3\) and `X` \(5, 3\); expected F \(N, n\) and X \(N, ...\) for the same N samples"),
    (lambda: near_duplicates.near_duplicate_pairs(X, X, float("nan")), r"`radius`=nan must be a finite distance >= 0"),
    (lambda: keys.split_key(jax.random.key(0), -1), r"`num`=-1 must be a non-negative integer number of keys"),
])
def test_internal_builders_refuse_nan_filters_mismatched_rows_and_negative_counts(make, match):
    """Before: NaN filters gave NaN columns of the numpy U_k; an X of 5 rows beside an F of 3 was reshaped to 3 rows
    of 5 (pairing the wrong samples); a NaN radius and split_key(num=-1) returned silently."""
    with pytest.raises(ValueError, match=match):
        make()


def test_spectrum_empty_params_is_called_empty(tmp_path):
    """Before: `--params ''` was reported as "`--params`='.' is neither 'random' nor an existing .npz file"."""
    result, text = _cli(["spectrum", "--n", "8", "--params", "", "--out", str(tmp_path / "out")], tmp_path)
    assert result.exit_code == 2, text
    assert "Invalid value for --params: `--params`='' is empty; give 'random' or the path of a saved .npz." in text


@pytest.mark.parametrize("shape", [5, (5, 6, 7), None])
def test_fit_residual_tol_names_a_shape_that_is_not_a_pair(shape):
    from theory_lab import tolerances

    with pytest.raises(ValueError, match=r"`shape`=.* must be F's shape, a pair \(N, n\)"):
        tolerances.fit_residual_tol(shape, 1.0, 1.0)
