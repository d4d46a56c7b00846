"""Planted bugs the rest of the suite let through: each test here pins a mathematical property.

A mutation audit planted one realistic bug at a time in the numerical core (rank and inertia
decisions, tolerances, Corollary 3.6's fit, Lemma 4.3's bounds, spectra and traces) and ran the
tests of that module. These tests kill the mutants that survived. Each one compares against a
closed form, a dense reference or a hand-computable case, never against the implementation's
internals; the planted bug each one catches is named in its docstring.
"""

import jax
import numpy as np
import pytest

from theory_lab import loss_surface as LS
from theory_lab import model
from theory_lab import spectrum as S
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Hypothesis, Verdict, conclude, converse_verdict
from theory_lab.evidence import Evidence
from theory_lab.exact_fit import exact_fit
from theory_lab.feature_maps import feature_rank, features_upto
from theory_lab.linalg import inertia_report, rank_report
from theory_lab.rank_probes import diagnose_units
from theory_lab.sampling import sample_params, with_layer
from theory_lab.witness import Witness, construct_full_rank
from theory_lab.testing import quadrature_measure


EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------- inertia (linalg)


def test_inertia_margin_is_decided_by_the_eigenvalue_nearest_below_the_tolerance():
    """Planted bug: the margin's lower side used the *smallest* |λ| at or below tol, not the largest.

    ``|λ| = tol/3`` is a factor 3 from the threshold, inside the band of 10: the zero count could
    flip, so the inertia must be inconclusive however tiny the other zero eigenvalue is.
    """
    tol = 1e-6
    r = inertia_report(np.array([-1.0, 1e-20, tol / 3, 2.0]), tol=tol)
    assert (r.negative, r.zero, r.positive) == (1, 2, 1)
    assert r.margin == pytest.approx(3.0, rel=1e-12)
    assert not r.conclusive


def test_inertia_default_tolerance_is_n_eps_times_the_largest_eigenvalue():
    """Planted bug: the default tolerance dropped the factor ``n`` (eps · max|λ| instead of n · eps · max|λ|).

    A dense symmetric eigensolver is exact only to about ``n · eps · ‖A‖₂``, so with ``n = 5`` an
    eigenvalue at ``2 eps ‖A‖₂`` is a rounding zero, not a positive eigenvalue.
    """
    w = np.array([-3.0, 2 * EPS * 3.0, 0.5, 1.0, 2.0])
    r = inertia_report(w)
    assert r.tol == pytest.approx(5 * EPS * 3.0, rel=1e-15, abs=0)  # 3.3e-15: below pytest's default abs=1e-12
    assert (r.negative, r.zero, r.positive) == (1, 1, 3)


# ----------------------------------------------------------------------------- tolerances and verdicts


def test_distinct_tol_is_sqrt_length_eps_scale():
    """Planted bug: ``distinct_tol`` used ``length`` instead of ``sqrt(length)``.

    One rounding of each of ``l`` entries of size ``≤ scale`` moves a vector by at most
    ``sqrt(l) · eps · scale`` in the 2-norm; for ``l = 10⁴`` that is ``100 eps``, not ``10⁴ eps``.
    """
    t = T.distinct_tol(2.0, 10_000)
    assert t.value == pytest.approx(100 * EPS * 2.0, rel=1e-15, abs=0)  # 4.4e-14: below pytest's default abs=1e-12
    rng = np.random.default_rng(20)
    x = rng.uniform(-2.0, 2.0, 10_000)
    rounded = x * (1 + rng.choice([-1.0, 1.0], x.size) * EPS / 2)  # one relative rounding per entry
    assert np.linalg.norm(x - rounded) <= t.value


def test_a_bound_violated_by_a_millionth_is_a_conclusive_violation():
    """Planted bug: ``BOUND``'s band widened from ``1 + 1e-9`` to ``1 + 1e-3``.

    Lemma 4.3's ratios are products of float64 norms, exact to ~1e-12 relative; a ratio 1e-6
    above 1 is a violation rounding cannot explain, and must make the check say *fails*.
    """
    ev = Evidence()
    obs = ev.at_most("lower / ‖∇‖", 1.0 + 1e-6, T.BOUND)
    assert not obs.holds and obs.conclusive
    assert ev.at_most("lower / ‖∇‖", 1.0 + 1e-13, T.BOUND).conclusive is False


def test_a_converse_is_not_applicable_when_any_hypothesis_it_claims_to_break_is_met():
    """Planted bug: a converse was *not applicable* only when *all* its broken hypotheses were met.

    A converse shows that dropping hypotheses lets the conclusion fail; if one of the hypotheses it
    says it broke actually holds on the instance, the failure is not attributable to breaking it.
    """
    ev = Evidence()
    ev.at_most("‖r‖", 3.0, T.Tolerance(1e-8, 10.0, "fit", "rounding"))  # a conclusive violation
    kept = [Hypothesis("n_1 ≥ N", True)]
    broken = [Hypothesis("σ real analytic", False), Hypothesis("Assumption 3.1", True, "patches differ")]
    assert converse_verdict(kept, broken, ev) is Verdict.NOT_APPLICABLE
    r = conclude("rank F_1 = N", kept, ev, broken=broken)
    assert r.verdict is Verdict.NOT_APPLICABLE and "Assumption 3.1 is met" in r.summary
    assert converse_verdict(kept, broken[:1], ev) is Verdict.HOLDS


def test_a_violation_inside_the_tolerance_band_is_inconclusive_not_a_failure():
    """Planted bug: ``Evidence.violations`` counted observations violated *inside* their band.

    ``‖r‖ = 3 · tol`` with band 10 could be on either side of the threshold after rounding: a theorem's
    check must say *inconclusive* (not *fails*), and a converse cannot claim it is shown.
    """
    ev = Evidence()
    obs = ev.at_most("‖r‖", 3e-8, T.Tolerance(1e-8, 10.0, "fit", "rounding"))
    assert not obs.holds and not obs.conclusive
    assert ev.violations == [] and ev.unresolved == [obs]
    hyps = [Hypothesis("n_1 ≥ N", True)]
    assert conclude("exact fit", hyps, ev).verdict is Verdict.INCONCLUSIVE
    assert converse_verdict(hyps, [Hypothesis("Assumption 3.1", False)], ev) is Verdict.INCONCLUSIVE


# ----------------------------------------------------------------------------- Corollary 3.6's fit


def test_exact_fit_of_a_rank_deficient_wide_matrix_is_the_least_squares_solution():
    """Planted bug: the QR path was taken for any wide ``F``, also when it is not of full row rank.

    ``F`` (3 × 5) with a repeated row has rank 2; a consistent ``y`` is still fitted exactly by the
    minimum-norm least-squares solution ``F⁺ y``, which is finite. A triangular solve with the
    singular ``R`` is not.
    """
    rng = np.random.default_rng(21)
    F = rng.standard_normal((3, 5))
    F[2] = F[0]
    y = F @ rng.standard_normal(5)
    fit = exact_fit(F, y)
    assert fit.report.rank == 2 and not fit.report.full_row_rank
    assert np.all(np.isfinite(fit.lam))
    np.testing.assert_allclose(fit.lam, np.linalg.pinv(F) @ y, rtol=1e-10, atol=1e-12)
    assert fit.relative_residual < 1e-12


# ----------------------------------------------------------------------------- rank of F_k (feature_maps)


def test_a_unit_varying_well_above_the_rank_tolerance_is_not_declared_saturated():
    """Planted bug: ``feature_rank``'s saturation test declared units constant up to 100× the tolerance.

    Sigmoid layer, 3 samples (``X = I``, so the pre-activations are the weights): units ``a``, ``b``
    ordinary, unit ``u = σ(G_u)`` tiny (~1e-14) and equal to a combination of ``a`` and ``b``, so
    ``F_1`` has rank 2 with ``σ_3`` ~ 1e-29. ``u``'s outputs vary by ~24× the rank tolerance:
    float64 resolves them, so the deficiency is conclusive, not "below float64 resolution".
    """
    from scipy.special import expit, logit

    arch = Architecture((3,), (Dense(3, activation="sigmoid"), Output(1)))
    Ga, Gb = np.array([0.3, -1.2, 0.8]), np.array([1.5, 0.2, -0.7])
    Gu = logit(3e-14 * (2.0 * expit(Ga) - 0.5 * expit(Gb)))
    params = with_layer(sample_params(arch, 0), 1, W=np.stack([Ga, Gb, Gu], axis=1), b=np.zeros(3))
    X = np.eye(3)
    r = feature_rank(arch, params, X, 1)
    F = features_upto(arch, params, X, 1)
    spread = np.linalg.norm(F[:, 2] - F[:, 2].mean())
    assert 10 * r.tol < spread < 100 * r.tol  # u varies, clearly above the tolerance
    assert r.rank == 2 and r.unresolved == "" and r.conclusive and r.below(3) is True


# ----------------------------------------------------------------------------- Theorem 3.4's witness


def test_a_witness_is_found_only_when_the_rank_of_F_k_is_conclusive():
    """Planted bug: ``Witness.found`` no longer asked for a conclusive rank decision on ``F_k``.

    ``F = diag(1, 2e-15)`` has rank 2 at the default tolerance (``2 eps`` ≈ 4.4e-16), but ``σ_2`` sits a
    factor 4.5 above it, inside the band: rounding could make it rank 1. That proves nothing.
    """
    F = np.diag([1.0, 2e-15])
    report = rank_report(F)
    assert report.rank == 2 and not report.conclusive
    w = Witness({}, 1, report, {1: rank_report(np.eye(2))}, F, 1, 1.0, 1.0, "test")
    assert not w.found
    assert Witness({}, 1, rank_report(np.eye(2)), {1: rank_report(np.eye(2))}, F, 1, 1.0, 1.0, "test").found


def test_construct_full_rank_never_claims_success_with_a_rank_deficient_U_1():
    """Planted bug: ``Witness.found`` checked the ``U_l`` decisions' conclusiveness, not that they are full rank.

    Filters of length 2 at stride 3 on a length-7 input leave inputs 2, 5, 6 in no patch (Assumption
    2.4 fails): ``U_1`` (7 × 8) has rank 2 · rank(W_1) = 4 for every filter. ``F_1`` still reaches
    rank ``N = 6``, but Theorem 3.4's witness needs every ``U_l`` of full rank.
    """
    arch = Architecture((7, 1), (Conv(4, (2,), stride=3, activation="relu"), Output(1)))
    X = np.random.default_rng(27).standard_normal((6, 7, 1))
    w = construct_full_rank(arch, X, 1, key=0, attempts=1)
    assert w.report.rank == 6 and w.report.conclusive
    assert w.U_reports[1].rank == 4 and w.U_reports[1].conclusive and not w.U_reports[1].full_rank
    assert not w.found


# ----------------------------------------------------------------------------- rank probes


AFFINE = {"relu": Architecture((3,), (Dense(8, activation="relu"), Output(1))),
          "leaky_relu": Architecture((3,), (Dense(8, activation="leaky_relu"), Output(1)))}


@pytest.mark.parametrize("activation, bias_mean, N, rank", [("relu", 50.0, 6, 4), ("relu", 50.0, 4, 4),
                                                            ("leaky_relu", -50.0, 6, 4)])
def test_units_in_one_linear_piece_bound_the_rank_by_rank_of_F_prev_and_1(activation, bias_mean, N, rank):
    """Planted bugs: the bound forgot ``min(#affine, rank [F_{k−1}, 1])``; ``explains_deficiency`` used
    ``≤ N``; a leaky ReLU unit negative on every sample was not counted as affine.

    With biases near +50 every ReLU unit is positive on the data (near −50, every leaky ReLU unit is
    negative: slope 0.01, still affine), so ``F_1 = (X W + 1 bᵀ) · const`` and
    ``rank F_1 ≤ rank [X, 1] = 4``. With 6 samples that forces ``rank F_1 < N``; with 4 samples it
    does not (``F_1`` has full rank 4), and the diagnosis must not claim to explain a deficiency.
    """
    arch = AFFINE[activation]
    rng = np.random.default_rng(28)
    X = rng.standard_normal((N, 3))
    params = sample_params(arch, rng, bias_mean=bias_mean)
    d = diagnose_units(arch, params, X, 1)
    side = "positive" if bias_mean > 0 else "negative"
    assert d.layers[0]["dead"] == 0 and d.layers[0][side] == 8
    assert d.bound == rank
    r = feature_rank(arch, params, X, 1)
    assert r.rank == rank and r.conclusive and r.rank <= d.bound
    assert d.explains_deficiency is (rank < N)


# ----------------------------------------------------------------------------- Assumption 4.1 (arch)


def test_assumption_4_1_asks_3_2_of_every_hidden_activation_also_after_the_wide_layer():
    """Planted bug: Assumption 4.1's "hidden activations satisfy 3.2" looked at layers ``1 … k`` only.

    tanh after the wide layer is strictly increasing and differentiable (that part holds) but has
    limits −1 and 1 (``μ₊ μ₋ ≠ 0``): it violates Assumption 3.2, which 4.1 asks of *all* hidden layers.
    """
    arch = Architecture((3,), (Dense(8, activation="sigmoid"), Dense(4, activation="tanh"), Output(1)))
    rep = arch.assumption_4_1(1, 6)
    assert not rep.holds
    assert [name for name, ok in rep.parts if not ok] == ["hidden activations satisfy 3.2"]
    sigmoid_after = Architecture((3,), (Dense(8, activation="sigmoid"), Dense(4, activation="sigmoid"), Output(1)))
    assert sigmoid_after.assumption_4_1(1, 6).holds


# ----------------------------------------------------------------------------- Lemma 4.3 (loss_surface)


NARROW = Architecture((4,), (Dense(3), Output(1)))  # n_1 = 3 < N = 6: F_1ᵀ has a null space


def _narrow_point():
    rng = np.random.default_rng(22)
    params = sample_params(NARROW, rng)
    X = rng.standard_normal((6, 4))
    return params, X, rng


def test_lemma_4_3_lower_bound_is_zero_when_F_k_is_narrower_than_N():
    """Planted bug: ``σ_min(F_k)`` of a narrow ``F_k`` (``n_k < N``) used as if ``F_kᵀ`` were injective.

    With ``n_1 < N`` a residual orthogonal to the columns of ``F_1`` has ``∇_{U_2} Φ = F_1ᵀ r = 0``
    while ``r ≠ 0``, so ``inf_{‖x‖=1} ‖F_1ᵀ x‖ = 0`` and the lower bound must be 0 (never above the
    gradient); the smallest of the ``n_1`` singular values is the "naive" reading.
    """
    params, X, rng = _narrow_point()
    F1 = np.asarray(model.features(NARROW, params, X)[1])
    Q, _ = np.linalg.qr(F1, mode="complete")
    r = Q[:, 3:] @ rng.standard_normal(3)  # orthogonal to every column of F_1
    Y = np.asarray(model.apply(NARROW, params, X)) - r[:, None]
    b = LS.gradient_bounds(NARROW, params, X, Y, 1)
    assert b.grad_norm < 1e-12 * b.residual_norm and b.residual_norm > 0.1
    assert b.lower == 0.0 and b.factors["sigma_min_F_k"] == 0.0
    assert b.lower_naive == pytest.approx(np.linalg.svd(F1, compute_uv=False)[-1] * b.residual_norm, rel=1e-12)
    assert b.lower_holds and b.holds


def test_lemma_4_3_bounds_are_checked_to_rounding_not_to_a_looser_tolerance():
    """Planted bug: the rounding allowance of ``GradientBounds`` raised from 1e3·eps to 1e6·eps.

    The bounds are products of float64 norms, exact to ~1e3·eps relative; a gradient norm 1e-11
    (relative) above the upper bound is a violation, 1e-11 below it is not.
    """
    params, X, rng = _narrow_point()
    Y = rng.standard_normal((6, 1))
    b = LS.gradient_bounds(NARROW, params, X, Y, 1)
    g = np.asarray(LS.grad_full_matrix(NARROW, params, X, Y, 2))
    over = LS.gradient_bounds(NARROW, params, X, Y, 1, grad=g * (b.upper * (1 + 1e-11) / np.linalg.norm(g)))
    assert not over.upper_holds and not over.holds
    under = LS.gradient_bounds(NARROW, params, X, Y, 1, grad=g * (b.upper * (1 - 1e-11) / np.linalg.norm(g)))
    assert under.upper_holds


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (4, 7)])
def test_operator_lower_bound_is_the_smallest_gain_of_the_map(shape):
    """Planted bug: a square matrix treated as non-injective (``rows <= cols`` instead of ``rows < cols``).

    ``inf_{‖x‖=1} ‖A x‖`` is ``σ_min(A)`` when ``A`` (rows ≥ cols) can be injective, and 0 for a
    wide ``A``, whose null space is non-trivial: checked against a null vector and a minimiser.
    """
    rng = np.random.default_rng(23)
    A = rng.standard_normal(shape)
    value = LS.operator_lower_bound(A)
    _, s, Vt = np.linalg.svd(A)
    x = Vt[-1]  # a unit vector attaining the infimum (a null vector when A is wide)
    if shape[0] >= shape[1]:
        assert value == pytest.approx(s[-1], rel=1e-12) and value > 0
        assert np.linalg.norm(A @ x) == pytest.approx(value, rel=1e-10)
    else:
        assert value == 0.0 and np.linalg.norm(A @ x) < 1e-12


def test_membership_counts_a_singular_value_below_U_ls_own_rounding_as_zero():
    """Planted bug: the ``U_l`` tolerance of ``membership`` used ``min(n_{l−1}, n_l)`` instead of ``max``.

    ``U_3`` (8 × 2) with ``σ_2 = 5 eps · σ_1`` is below the SVD rounding of an 8-row matrix
    (``8 eps · σ_1(U_3)``; ``min`` gave ``2 eps · σ_1``): numerically rank 1, so the point is not in ``S_1``.
    (Until session 32 this test put ``U_3`` at ``3 eps · max|θ|``, rounding next to the *other* parameters;
    an exactly drawn ``U_l`` is now judged at its own scale, tests/test_zero_loss_s32d.py.)
    """
    arch = Architecture((3,), (Dense(8), Dense(8), Output(2)))
    rng = np.random.default_rng(26)
    params = sample_params(arch, rng)
    X = rng.standard_normal((5, 3))
    Q, _ = np.linalg.qr(rng.standard_normal((8, 2)))
    R, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    W = Q @ np.diag([0.7, 0.7 * 5 * EPS]) @ R
    m = LS.membership(arch, with_layer(params, 3, W=W), X, 1)
    assert m.F_k.rank == 5 and m.U[3].rank == 1 and not m.member
    assert m.U[3].tol == pytest.approx(8 * EPS * 0.7, rel=1e-12, abs=0)  # ~1e-15: below pytest's default abs=1e-12
    assert LS.membership(arch, params, X, 1).member  # the drawn U_3 is full rank


# ----------------------------------------------------------------------------- spectral measures (density, spectrum)


_measure = quadrature_measure


def test_density_quantile_is_the_smallest_node_whose_mass_reaches_q():
    """Planted bug: the quantile read one node too far (``searchsorted(c, q) + 1``).

    For the uniform measure on {1, 2, 3, 4} the ``q``-quantile ``min{x : F(x) ≥ q}`` is 1 up to
    ``q = 1/4``, 2 up to ``1/2``, 3 up to ``3/4`` and 4 beyond.
    """
    d = _measure([1.0, 2.0, 3.0, 4.0], [0.25] * 4)
    assert [d.quantile(q) for q in (0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.9, 1.0)] == [1, 1, 2, 2, 3, 3, 4, 4]


def test_density_cdf_counts_the_mass_strictly_below_x_with_gauss_quadrature_bounds():
    """Planted bugs: ``F(x)`` counted nodes ``≤ x`` (not ``< x``); the lower bound set to the estimate.

    ``Density.cdf`` is ``F(x − 0)``; for a quadrature with nodes ``x_j < x ≤ x_{j+1}`` the
    Chebyshev–Markov–Stieltjes bounds are ``Σ_{i<j} w_i`` and ``Σ_{i≤j+1} w_i``.
    """
    d = _measure([1.0, 2.0, 3.0], [0.2, 0.5, 0.3])
    assert d.cdf(2.5) == pytest.approx((0.7, 0.2, 1.0), abs=1e-15)
    assert d.cdf(2.0) == pytest.approx((0.2, 0.0, 0.7), abs=1e-15)  # the node at x is not below x
    assert d.cdf(0.5) == pytest.approx((0.0, 0.0, 0.2), abs=1e-15)


def test_slq_cdf_bounds_contain_the_probe_s_true_spectral_measure():
    """Planted bug: the CMS lower bound set to the quadrature's estimate (bounds that need not hold).

    With 4 Lanczos steps on ``diag(1 … 20)`` and a Rademacher probe, the probe's spectral measure is
    uniform on the eigenvalues, so ``F_v(x − 0) = #{λ < x} / 20`` must lie within the bounds at every
    ``x``, and the bounds must be strictly wider than the estimate somewhere.
    """
    lam = np.arange(1.0, 21.0)
    d = S.slq_density(S.dense_matvec, 20, jax.random.key(24), np.diag(lam), num_probes=1, num_matvecs=4)
    widths = []
    for x in np.linspace(0.5, 20.5, 81):
        est, lo, hi = d.cdf(x)
        true = np.sum(lam < x) / 20
        assert lo - 1e-12 <= true <= hi + 1e-12, (x, lo, true, hi)
        widths.append(est - lo)
    assert max(widths) > 0.05


def test_exact_inertia_default_tolerance_is_dim_eps_norm():
    """Planted bug: ``spectrum.inertia``'s default threshold dropped ``dim`` (eps · ‖A‖ instead of dim · eps · ‖A‖).

    An eigenvalue at ``2 eps ‖A‖₂`` of a 5 × 5 symmetric matrix is within eigensolver rounding: zero.
    """
    A = np.diag([-3.0, 2 * EPS * 3.0, 0.5, 1.0, 2.0])
    r = S.inertia(S.dense_matvec, 5, A)
    assert r.tol == pytest.approx(5 * EPS * 3.0, rel=1e-12, abs=0)  # 3.3e-15: below pytest's default abs=1e-12
    assert (r.negative, r.zero, r.positive) == (1, 1, 3)


def test_slq_inertia_from_exact_quadratures_pins_every_count():
    """Planted bug: the upper bound on the positive count used ``F(−tol)`` instead of ``F(tol + 0)``.

    ``diag(−2, 0, 0, 1, 3)`` has 4 distinct eigenvalues: every Lanczos run breaks down after 4 steps and
    its quadrature is the probe's exact spectral measure (weight 1/5 per eigenvalue for a Rademacher
    probe). The counts 1 negative, 2 zero, 2 positive are then pinned by the bounds — here also the
    true counts (a diagonal matrix and Rademacher probes give the uniform measure), but an SLQ inertia
    is never conclusive (in general the bounds pin the estimate, not the counts: stop 27).
    """
    A = np.diag([-2.0, 0.0, 0.0, 1.0, 3.0])
    r = S.inertia(S.dense_matvec, 5, A, key=jax.random.key(25), exact_max=0, num_probes=2, num_matvecs=5)
    assert r.method == "slq"
    assert (r.negative, r.zero, r.positive) == pytest.approx((1.0, 2.0, 2.0), abs=1e-9)
    np.testing.assert_allclose(r.bounds, [(1.0, 1.0), (2.0, 2.0), (2.0, 2.0)], atol=1e-9)
    assert r.pinned and not r.conclusive and r.kind == "saddle"
