"""Planted bugs in the rank side of the numerical core, second pass (s23-audit-rank).

Audited: ``linalg``, ``tolerances``, ``exact_fit``, ``feature_maps``, ``rank_probes``, ``witness``,
``loss_surface``, ``evidence``, ``checking`` and the rank side of ``proofs_checks`` (Theorem 3.4's
``U_l``, Corollary 3.6's residual, the class-targets check's solver tolerances); ``expressivity`` only
re-exports. 97 bugs planted one at a time (none a repeat of the earlier passes), the module's doctests
and direct test files run with ``-x``: 60 killed, 37 survived. 32 survivors are now killed by the
tests below; 3 are equivalent (a square full-rank fit through ``lstsq`` instead of QR; ``+ 0.0`` in
``duplicate_samples``, which numpy 2.4's ``np.unique(axis=0)`` does not need; the tie guard of
``Evidence.rank``, which a report built by ``rank_report`` never triggers); 2 are left
(``_saturation``'s ``rest`` at its sub-matrix's own default tolerance, and ``_saturated_entries``
not freeing the units found unresolved as a whole: each needs a unit affine to rounding away from
the asymptote, not built here).

Each test checks a mathematical property (a closed form, a dense reference, a hand-built
instance whose answer is known) and names in its docstring the planted bug it catches; each
was run with its bug planted (and failed) and without it (and passed).
"""

import math

import numpy as np
import pytest

from theory_lab import exact_fit, feature_maps, linalg, rank_probes, witness
from theory_lab import tolerances as T
from theory_lab.checking import Check, Context, conclude, run_check
from theory_lab.evidence import Evidence
from theory_lab.linalg import certify_rank_bound, inertia_report, rank_report


# ----------------------------------------------------------------------------- linalg


def test_a_certified_bound_equal_to_n_does_not_decide_rank_below_n():
    """``rank ≤ n`` certified is not ``rank < n``: with a clear rank-2 gap and the bound 2,
    ``below(2)`` is False (rank exactly 2), ``below(3)`` True.

    Catches ``RankReport.below`` testing ``rank_bound <= n`` (a certificate of ``rank ≤ 2``
    read as a proof of ``rank < 2``)."""
    rep = certify_rank_bound(rank_report(np.diag([2.0, 1.0, 0.0])), 2, "row 2 is zero")
    assert rep.rank == 2 and rep.conclusive
    assert rep.below(2) is False
    assert rep.below(3) is True


def test_only_singular_values_strictly_above_tol_count():
    """``rank`` counts ``σ > tol`` (RankReport's documented rule): a singular value equal to an
    explicit ``tol`` does not count, and at ``tol = 0`` an exact zero does not either.

    Catches ``rank = sum(s >= tol)`` (exact zeros counted at ``tol=0``: a singular matrix reads
    as full rank)."""
    A = np.diag([1.0, 0.5, 0.0])
    assert rank_report(A, tol=0.0).rank == 2
    assert rank_report(A, tol=0.5).rank == 1
    assert rank_report(A, tol=0.0).below(3) is True


def test_an_eigenvalue_exactly_at_the_tolerance_is_undecided():
    """An eigenvalue with ``|λ| = tol`` sits on the threshold: the margin is 1 (as the rank rule
    gives for ``σ = tol``) and the inertia is inconclusive; one 100 × below it is decided.

    Catches ``_band_margin`` taking the values "below" as ``|λ| < tol`` (a value on the
    threshold then never enters the margin and the inertia reads as conclusive)."""
    on = inertia_report(np.array([-1.0, 1e-3, 1.0]), tol=1e-3)
    assert (on.negative, on.zero, on.positive) == (1, 1, 1)
    assert on.margin == pytest.approx(1.0) and not on.conclusive
    assert rank_report(np.diag([1.0, 1e-3]), tol=1e-3).margin == pytest.approx(1.0)
    off = inertia_report(np.array([-1.0, 1e-5, 1.0]), tol=1e-3)
    assert off.margin == pytest.approx(100.0) and off.conclusive


def test_inertia_kind_with_negative_and_zero_eigenvalues_is_degenerate():
    """Negative and zero eigenvalues, none positive: second order cannot decide (``"degenerate"``);
    only all-negative is a maximum.

    Catches ``Inertia.kind`` returning ``"maximum"`` whenever some eigenvalue is negative and none
    positive, ignoring the zero ones."""
    assert inertia_report(np.array([-2.0, -1.0, 0.0])).kind == "degenerate"
    assert inertia_report(np.array([-2.0, -1.0])).kind == "maximum"
    assert inertia_report(np.array([0.0, 1.0])).kind == "degenerate"
    assert inertia_report(np.array([-1.0, 1.0])).kind == "saddle"


def test_slq_inertia_is_pinned_only_when_each_count_is_pinned_to_one_integer():
    """Chebyshev–Markov–Stieltjes bounds that allow two integers (``[0.5, 2.5]`` holds 1 and 2) leave
    an SLQ count unpinned; ``[0.6, 1.4]`` pins it to 1. Pinned or not, an SLQ inertia is never
    conclusive: the bounds hold for the probes' measure, not the eigenvalues (stop 27).

    Catches ``Inertia.pinned`` testing ``ceil(lo) <= floor(hi)`` (any interval holding an
    integer, instead of exactly one)."""
    def slq(bounds):
        return linalg.Inertia(1.0, 1.0, 1.0, 1e-8, method="slq", bounds=bounds)

    assert slq(((0.6, 1.4), (0.9, 1.1), (1.0, 1.0))).pinned
    assert not slq(((0.5, 2.5), (0.9, 1.1), (1.0, 1.0))).pinned
    assert not slq(((1.2, 1.8), (0.9, 1.1), (1.0, 1.0))).pinned
    assert not any(slq(b).conclusive for b in (((0.6, 1.4), (0.9, 1.1), (1.0, 1.0)), ((1.0, 1.0),) * 3))


def test_reports_list_the_smallest_values_smallest_first():
    """``Inertia.smallest_abs`` holds the six smallest ``|λ|`` ascending; ``RankReport.to_dict``'s
    ``smallest_singular_values`` the ``max_values`` smallest σ, smallest first.

    Catches the six *largest* ``|λ|`` kept, and ``to_dict`` listing the largest singular values."""
    w = np.array([-9.0, -3.0, 1e-17, 2.0, 4.0, 5.0, 7.0, 11.0])
    assert inertia_report(w).smallest_abs == (1e-17, 2.0, 3.0, 4.0, 5.0, 7.0)
    d = rank_report(np.diag([10.0, 8.0, 6.0, 4.0, 2.0])).to_dict(max_values=3)
    assert d["smallest_singular_values"] == pytest.approx([2.0, 4.0, 6.0])
    assert d["sigma_min"] == pytest.approx(2.0) and d["ratio"] == pytest.approx(0.2)


def test_an_eigenvalue_exactly_at_plus_or_minus_tol_counts_as_zero():
    """Counts are of ``λ < −tol``, ``[−tol, tol]`` and ``λ > tol`` (closed zero band).

    Catches ``λ <= −tol`` / ``λ >= tol`` counted as negative / positive."""
    r = inertia_report(np.array([-0.5, -1e-3, 1e-3, 0.5]), tol=1e-3)
    assert (r.negative, r.zero, r.positive) == (1, 2, 1)


def test_inertia_rtol_is_relative_to_the_largest_absolute_eigenvalue():
    """``rtol`` means ``tol = rtol · max|λ|``: with ``max|λ| = 100`` and ``rtol = 1e-3``, ``tol = 0.1``,
    so ``λ = 0.05`` is zero and ``λ = 0.5`` positive; ``λ(c A) = c λ(A)`` scales ``tol`` with ``c``.

    Catches ``rtol`` used as an absolute threshold."""
    w = np.array([-100.0, 0.05, 0.5])
    r = inertia_report(w, rtol=1e-3)
    assert r.tol == pytest.approx(0.1)
    assert (r.negative, r.zero, r.positive) == (1, 1, 1)
    r10 = inertia_report(10.0 * w, rtol=1e-3)
    assert r10.tol == pytest.approx(1.0) and (r10.negative, r10.zero, r10.positive) == (1, 1, 1)


# ----------------------------------------------------------------------------- tolerances


def test_tolerances_follow_their_documented_formulas():
    """Each rule against its formula on numbers where every factor shows (tolerances' docstring):
    critical ``1e-10 ‖J‖₂ ‖Y‖`` (``‖Y‖ = 5``), eigen ``n eps ‖A‖``, distinct ``√l eps scale``,
    solver rank ``σ_1 · 1e-8`` by default, identity band 100, fit residual
    ``max(N, n) eps (‖F‖‖λ‖ + ‖y‖)``.

    Catches ``solver_rank_tol`` defaulting to ``GTOL_RTOL``, the identity band 10 and
    ``fit_residual_tol`` dropping ``‖y‖`` (none seen by the suite before); also ``critical_tol`` with
    ``‖Y‖²``, ``eigen_tol`` without ``n`` and ``distinct_tol`` with ``l`` for ``√l``."""
    eps = np.finfo(np.float64).eps
    Y = np.array([[3.0, 0.0], [0.0, 4.0]])  # ‖Y‖_F = 5
    assert T.critical_tol(2.0, Y).value == pytest.approx(1e-10 * 2.0 * 5.0, rel=1e-12, abs=0)
    assert T.eigen_tol(7, 3.0).value == pytest.approx(7 * eps * 3.0, rel=1e-12, abs=0)
    assert T.distinct_tol(2.0, 16).value == pytest.approx(4.0 * eps * 2.0, rel=1e-12, abs=0)
    assert T.solver_rank_tol(3.0).value == pytest.approx(3e-8, rel=1e-12, abs=0)
    assert T.identity_tol(2.0).value == pytest.approx(2e-10, rel=1e-12, abs=0) and T.identity_tol(2.0).band == 100.0
    t = T.fit_residual_tol((5, 8), 2.0, 3.0, 4.0)
    assert t.value == pytest.approx(8 * eps * (2.0 * 3.0 + 4.0), rel=1e-12, abs=0) and t.band == 10.0


# ----------------------------------------------------------------------------- exact_fit


def test_exact_fit_residual_of_a_narrow_fit_is_the_frobenius_norm_of_the_least_squares_residual():
    """A narrow ``F`` (N > n) leaves a residual; for several target columns ``‖Fλ − Y‖_F`` is the
    least-squares residual ``‖(I − F F⁺) Y‖_F`` and ``relative_residual`` divides it by ``‖Y‖_F``.

    Catches the residual taken in the spectral norm for matrix targets, and the relative residual
    divided by ``‖λ‖`` instead of ``‖y‖``."""
    rng = np.random.default_rng(0)
    F = rng.standard_normal((6, 3))
    Y = rng.standard_normal((6, 2))
    fit = exact_fit.exact_fit(F, Y)
    Q, _ = np.linalg.qr(F)
    expected = np.linalg.norm(Y - Q @ (Q.T @ Y))
    assert fit.residual == pytest.approx(expected, rel=1e-10)
    assert fit.relative_residual == pytest.approx(expected / np.linalg.norm(Y), rel=1e-10)


def test_exact_fit_passes_its_band_to_the_rank_decision():
    """``band`` decides the rank evidence of ``F``: ``σ_min`` 100 × the tolerance is conclusive at the
    default band 10 and not at band 1000.

    Catches ``exact_fit`` calling ``rank_report`` without ``band``."""
    N, n = 3, 5
    tol = max(N, n) * np.finfo(np.float64).eps  # σ_1 = 1
    F = np.zeros((N, n))
    F[0, 0], F[1, 1], F[2, 2] = 1.0, 0.5, 100 * tol
    y = np.ones(N)
    assert exact_fit.exact_fit(F, y).report.conclusive
    wide = exact_fit.exact_fit(F, y, band=1e3).report
    assert wide.band == 1e3 and not wide.conclusive and wide.rank == N


# ----------------------------------------------------------------------------- feature_maps


def _sigmoid_net(W, b, X, W1=None):
    """``F_k`` rank evidence of a hand-set sigmoid layer (after an identity-ReLU layer when ``W1`` is given)."""
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.sampling import sample_params, with_layer

    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d, n = W.shape
    if W1 is None:
        arch = Architecture((d,), (Dense(n, activation="sigmoid"), Output(1)))
        params = with_layer(sample_params(arch, 0), 1, W=W, b=b)
        return feature_maps.feature_rank(arch, params, np.asarray(X, dtype=np.float64), 1)
    W1 = np.asarray(W1, dtype=np.float64)
    arch = Architecture((W1.shape[0],), (Dense(W1.shape[1], activation="relu"), Dense(n, activation="sigmoid"),
                                         Output(1)))
    params = with_layer(sample_params(arch, 0), 1, W=W1, b=np.zeros(W1.shape[1]))
    params = with_layer(params, 2, W=W, b=b)
    return feature_maps.feature_rank(arch, params, np.asarray(X, dtype=np.float64), 2)


def test_a_unit_with_constant_pre_activation_is_constant_in_exact_arithmetic():
    """Two sigmoid units with zero weights have the same pre-activation on every sample: their
    columns are constant in exact arithmetic, so ``rank F_1 ≤ 2 < N = 3`` conclusively (not a
    float64 resolution limit).

    Catches ``_saturation`` counting a unit as saturated when its outputs are constant without
    asking whether its pre-activation varies."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    W = np.array([[0.7, 0.0, 0.0], [-0.4, 0.0, 0.0]])
    rep = _sigmoid_net(W, [0.1, 0.5, -0.3], X)
    assert rep.rank == 2 and rep.unresolved == ""
    assert rep.below(3) is True


def test_saturation_cannot_lift_the_rank_above_the_distinct_pre_activation_rows():
    """Samples 0 and 1 differ only where layer 1's ReLU cuts them off, so their pre-activations at
    layer 2 are equal: ``F_2`` has two equal rows in exact arithmetic. Two saturated sigmoid units
    (pre-activations ±100…±300) could otherwise lift the rank, but never above 2 distinct rows, so
    ``rank F_2 < 3`` stays conclusive.

    Catches ``_saturation`` (unit by unit) and ``_saturated_entries`` (entry by entry) not capping
    the rank they can reach at the number of distinct rows of ``G_k``."""
    X = np.array([[-1.0, 1.0], [-2.0, 1.0], [1.0, 2.0]])
    W = np.array([[100.0, -100.0, 0.0], [100.0, -100.0, 1.0]])
    rep = _sigmoid_net(W, [0.0, 0.0, 0.0], X, W1=np.eye(2))
    assert rep.rank == 2 and rep.unresolved == ""
    assert rep.below(3) is True


def test_entries_saturated_on_the_negative_side_are_freed():
    """Two sigmoid units whose pre-activations are ≤ −100 on samples 0 and 1 and small on sample 2:
    float64 shows both columns as multiples of ``e_3`` (rank 2 of 3), while the exact entries are
    ``σ(−100…−202) > 0``. Freed, they reach rank 3: the deficiency is below float64 resolution.

    Catches ``_saturated_entries`` freeing ``G ≥ start`` on the left side (the sign of the side
    dropped), so left-saturated entries are never freed and the deficiency reads as conclusive."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    W = np.array([[-101.0, -102.0, 0.4], [-201.0, -202.0, -0.4]])
    rep = _sigmoid_net(W, [1.0, 2.0, 0.1], X)
    assert rep.rank == 2
    assert "entries" in rep.unresolved
    assert rep.below(3) is None


def test_distinct_samples_certify_no_rank_bound():
    """Without repeated samples there is no certificate: ``rank_bound`` is None and the certificate
    empty, also for a wide ``F_k`` (``n_k > N``).

    Catches ``feature_rank`` certifying the bound whenever it is below ``n_k`` (so ``N`` itself
    is recorded as a proved bound on a wide layer)."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    W = np.array([[0.7, -0.2, 0.3, 1.1], [-0.4, 0.9, 0.5, -0.6]])
    rep = _sigmoid_net(W, [0.1, 0.5, -0.3, 0.2], X)
    assert rep.rank == 3 and rep.rank_bound is None and rep.certificate == ""


# ----------------------------------------------------------------------------- rank_probes


def _dense(width, activation, d):
    from theory_lab.arch import Architecture, Dense, Output

    return Architecture((d,), (Dense(width, activation=activation), Output(1)))


def test_diagnose_units_counts_each_cause_on_a_hand_set_relu_layer():
    """Four ReLU units on four samples, one of each kind: dead (``G < 0`` everywhere), zero on some
    samples only (its pre-activation changes sign), positive everywhere, constant positive. So 1
    dead, 1 constant, 2 without a sign change (the dead one is not counted), and the bound is
    ``1 + min(2 affine, rank [X, 1] = 3) = 3 < N``.

    Catches ``constant`` counting the dead unit (also ``dead`` as "zero on any sample" and
    ``no_sign_change`` counting a dead ReLU unit, which other tests see)."""
    from theory_lab.sampling import sample_params, with_layer

    arch = _dense(4, "relu", 2)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    W = np.array([[-1.0, 1.0, 1.0, 0.0], [-1.0, -1.0, 1.0, 0.0]])
    params = with_layer(sample_params(arch, 0), 1, W=W, b=np.array([-5.0, 0.0, 1.0, 0.5]))
    d = rank_probes.diagnose_units(arch, params, X, 1)
    row = d.layers[0]
    assert (row["dead"], row["constant"], row["no_sign_change"], row["positive"], row["negative"]) == (1, 1, 2, 2, 0)
    assert d.bound == 3 and d.explains_deficiency


def test_rank_frequency_reports_the_minimum_over_independent_draws():
    """``rank_frequency`` draws each parameter set from one stream seeded by ``key``: replaying the
    stream with ``feature_rank`` gives the same counts, the smallest margin and the smallest rank
    (here the draws differ: margins 2.8e14, 8.5e13, 7.6e3, 129; ranks 3, 3, 4, 3).

    Catches ``min_margin`` taken as the largest margin, and every draw made from ``key`` itself
    (the same parameters ``draws`` times)."""
    from theory_lab.sampling import as_generator, sample_params

    arch = _dense(5, "relu", 3)
    X = np.random.default_rng(1).standard_normal((5, 3))
    r = rank_probes.rank_frequency(arch, X, 1, draws=4, key=0, bias_mean=-0.5, bias_scale=1.0)
    rng = as_generator(0)
    reps = [feature_maps.feature_rank(arch, sample_params(arch, rng, bias_mean=-0.5, bias_scale=1.0), X, 1)
            for _ in range(4)]
    assert len({rep.margin for rep in reps}) == 4  # the instance separates the draws
    assert r.min_margin == min(rep.margin for rep in reps)
    assert r.min_rank == min(rep.rank for rep in reps)
    assert r.deficient == sum(rep.below(5) is True for rep in reps)


# ----------------------------------------------------------------------------- witness


def _relu_witness():
    from theory_lab.arch import Architecture, Conv, Output

    arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))  # n_1 = 15 > N = 12
    X = np.random.default_rng(0).standard_normal((12, 6, 1))
    return witness.construct_full_rank(arch, X, 1, key=0)


def test_relu_witness_thresholds_sit_in_the_middle_of_each_gap():
    """For ReLU (α = 1) the triangular submatrix's diagonal is each assigned sample's value minus its
    threshold, half its gap; the smallest is ``min_gap / 2``. The unassigned neurons sit at their
    median value, so each is on for some samples and off for others (alive, not affine).

    Catches the threshold put at the next value (diagonal = the whole gap), ``min_gap`` reported as
    the largest gap, and unassigned neurons thresholded at their maximum (dead)."""
    w = _relu_witness()
    assert w.found
    T = w.features[w.order][:, w.neurons]
    assert np.min(np.diag(T)) == pytest.approx(w.min_gap / 2, rel=1e-9, abs=0)
    rest = np.setdiff1d(np.arange(w.features.shape[1]), w.neurons)
    assert rest.size == 3
    Fr = w.features[:, rest]
    assert np.all((Fr > 0).any(axis=0)) and np.all((Fr == 0).any(axis=0))


def test_witness_layers_before_k_have_positive_pre_activations():
    """Layers ``1 … k−1`` with ReLU get biases shifted so that every pre-activation is ``≥ 0.1`` on
    the data (nothing dies before the wide layer), including layer ``k − 1``.

    Catches the shift loop stopping one layer early, and the shift computed from the largest
    pre-activation instead of the smallest."""
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((4,), (Dense(6, activation="relu"), Dense(10, activation="relu"), Output(1)))
    X = np.random.default_rng(2).standard_normal((8, 4))
    w = witness.construct_full_rank(arch, X, 2, key=0)
    G1 = np.asarray(feature_maps.forward_upto(arch, w.params, X, 2).G[1])
    assert G1.min() == pytest.approx(0.1, rel=1e-9, abs=0)


def test_saturating_witness_weight_scale_is_a_multiple_of_the_inverse_half_gap():
    """For a saturating σ, ``α`` is one of ``alphas`` times ``1 / (min_gap / 2)`` (the documented
    meaning of ``alphas``).

    Catches ``α = c · half`` for ``c / half``."""
    arch = _dense(8, "sigmoid", 3)
    X = np.random.default_rng(0).standard_normal((6, 3))
    w = witness.construct_full_rank(arch, X, 1, key=0, alphas=(10.0, 40.0))
    assert w.found
    assert min(abs(w.alpha * w.min_gap / 2 - c) for c in (10.0, 40.0)) < 1e-9 * w.alpha * w.min_gap


def test_a_witness_with_an_inconclusive_U_is_not_found():
    """``found`` needs every ``U_l`` full rank *conclusively*: ``σ_2 = 5e-16`` sits inside the band of
    the SVD tolerance ``2 eps`` (margin ≈ 1.1), so full rank is not established.

    Catches ``Witness.found`` asking ``full_rank`` of each ``U_l`` without ``conclusive``."""
    F = rank_report(np.eye(3))
    U = rank_report(np.diag([1.0, 5e-16]))
    assert U.full_rank and not U.conclusive
    w = witness.Witness({}, 1, F, {1: U}, np.eye(3), 1, 1.0, 1.0, "test")
    assert not w.found
    assert witness.Witness({}, 1, F, {1: rank_report(np.eye(2))}, np.eye(3), 1, 1.0, 1.0, "test").found


# ----------------------------------------------------------------------------- evidence and checking


def test_rank_margins_read_the_singular_value_that_decides_each_relation():
    """Margins of rank relations on ``diag(1, 1e-3, 1e-20)`` (rank 2, tol = 3 eps): ``rank > 1`` is
    decided by ``σ_2 / tol``, ``rank < 3`` by ``tol / σ_3``; past a certified bound the singular values
    are exact zeros (margin ∞); at ``tol = 0`` a zero ``σ_r`` gives ``rank ≥ r`` the margin 0.

    Catches ``σ_r / 0`` taken as ∞ for a zero ``σ_r`` at ``tol = 0`` (a violated ``rank ≥ 2`` then
    reported at margin 1, on the threshold); the other three margins (``>`` read at ``σ_r``, ``<`` at
    ``σ_{r+1}``, the bound ignored) are caught by tests/test_checking.py and
    tests/test_planted_bugs_s22b.py too."""
    rep = rank_report(np.diag([1.0, 1e-3, 1e-20]))
    tol = rep.tol
    ev = Evidence()
    assert ev.rank("A", rep, 1, ">").margin == pytest.approx(1e-3 / tol)
    assert ev.rank("A", rep, 3, "<").margin == pytest.approx(tol / 1e-20)
    cert = certify_rank_bound(rank_report(np.diag([1.0, 1.0, 1e-14])), 2, "row 2 is a rounding of zero")
    assert Evidence().rank("B", cert, 2, "<=").margin == math.inf
    zero = rank_report(np.diag([1.0, 0.0]), tol=0.0)
    obs = Evidence().rank("C", zero, 2, ">=")
    assert not obs.holds and obs.margin == 0.0


def test_each_record_lists_the_data_sets_its_check_used_once():
    """``Context.cached`` notes a data set once however often a check asks for it, and ``run_check``
    starts each record's list afresh.

    Catches the provenance appended at every lookup, and ``ctx.datasets`` not reset between checks."""
    import types

    ctx = Context(seed=0)
    data = types.SimpleNamespace(provenance={"name": "toy", "N": 3})
    other = types.SimpleNamespace(provenance={"name": "other", "N": 4})

    def first(ctx):
        ctx.cached("toy", lambda: data)
        ctx.cached("toy", lambda: data)
        ev = Evidence()
        ev.exact("n", 1, 1)
        return conclude("c", [], ev)

    def second(ctx):
        ctx.cached("other", lambda: other)
        ev = Evidence()
        ev.exact("n", 1, 1)
        return conclude("c", [], ev)

    r1 = run_check(Check("a", "A", "a", first), ctx)
    r2 = run_check(Check("b", "B", "b", second), ctx)
    assert r1.datasets == [{"name": "toy", "N": 3}]
    assert r2.datasets == [{"name": "other", "N": 4}]


# ----------------------------------------------------------------------------- loss_surface


def _deep_net():
    """Dense 3 → 5 → 5 → 5 → 2 on N = 5 samples (``U_4`` is 5 × 2)."""
    import jax

    from theory_lab import model
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((3,), (Dense(5), Dense(5), Dense(5), Output(2)))
    params = model.init(arch, jax.random.key(0))
    X = np.random.default_rng(0).standard_normal((5, 3))
    Y = np.random.default_rng(1).standard_normal((5, 2))
    return arch, params, X, Y


def test_membership_tolerances_follow_the_documented_rules():
    """``U_l``'s threshold is ``max(n_{l-1}, n_l) · eps · σ_1(U_l)`` for drawn parameters (its own SVD rounding,
    since session 32; ``max(σ_1(U_l), max|θ|)`` before) and
    ``forward_rtol · max(σ_1(U_l), max|θ|)`` for a solver's point; ``F_k``'s at a solver's point is
    ``forward_rtol · σ_1(F_k)`` (the spectral norm).

    Catches ``forward_rtol`` ignored for ``U_l`` and ``σ_1(F_k)`` replaced by the Frobenius norm (also
    ``min`` for ``max`` of the shape, which tests/test_planted_bugs_s20.py sees)."""
    import jax

    from theory_lab import loss_surface, model

    arch, params, X, Y = _deep_net()
    eps = np.finfo(np.float64).eps
    scale = max(float(np.max(np.abs(np.asarray(a)))) for a in jax.tree_util.tree_leaves(params))
    U4 = np.asarray(model.full_weight_matrix(arch, params, 4))  # 5 × 2
    ref = max(float(np.linalg.norm(U4, 2)), scale)
    m = loss_surface.membership(arch, params, X, 1)
    assert m.U[4].tol == pytest.approx(5 * eps * float(np.linalg.norm(U4, 2)), rel=1e-12, abs=0)
    s = loss_surface.membership(arch, params, X, 1, forward_rtol=1e-8)
    assert s.U[4].tol == pytest.approx(1e-8 * ref, rel=1e-12, abs=0)
    F1 = np.asarray(model.features(arch, params, X)[1])
    assert s.F_k.tol == pytest.approx(1e-8 * np.linalg.norm(F1, 2), rel=1e-12, abs=0)
