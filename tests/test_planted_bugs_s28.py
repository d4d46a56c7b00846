"""Planted bugs in the verdict core and the probes (s28 pass).

Audited: ``checking`` and ``evidence`` (how hypotheses, observations, margins, bands and converses make a
verdict), ``exact_fit``, ``witness``, ``gradient_probes``, ``rank_probes`` and ``near_duplicates``. One
realistic bug at a time was planted in a worktree and the tests exercising that module ran (``-x``, one
worker, with the module's doctests); a survivor was rerun against a wider set of test files (the checks,
the CLI, the curvature and loss-surface suites) before it counted as one. 80 mutants: 64 killed by the
existing suite (two of them, ``level`` ignored and the pool check one layer late in ``gradient_probes``,
repeat s23 plants), 16 survived. 3 survivors are equivalent: ``_off_sign``'s tie case flipped and the sign
dropped from ``W_k`` in ``witness`` (every built-in activation has its off side at −∞, sign +1, and the
sign could not change the pre-activation before the fix, see the last test), and ``continue`` for ``break`` in the
sorted window of ``near_duplicate_pairs`` (same pairs, more work). The other 13 are killed by the tests
below, each run with its bug planted (fails) and without it (passes).

Two library bugs were found (strict xfails at first; the lead fixed both in stop 28, the tests at the end pass): the near-duplicate
rescue scales the replaced rows to ``max(‖row‖, 1)``, so the verdict on ``F_k`` changes under an exact
power-of-two scale of the features (a false conclusive deficit at ``2^-50``); and ``construct_full_rank``
sets the pre-activation to ``α(A − θ)`` whatever the off side of ``σ``, so for an activation that vanishes
at ``+∞`` the construction is the reverse of the documented triangle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory_lab.checking import Evidence, Hypothesis, Verdict, conclude, converse_verdict
from theory_lab.exact_fit import exact_fit, parameter_counts
from theory_lab.feature_maps import features_upto
from theory_lab.linalg import rank_report
from theory_lab.tolerances import Tolerance

# ----------------------------------------------------------------------------- evidence


def test_a_value_exactly_band_away_from_its_threshold_is_conclusive():
    """Planted bug: ``ratio >= tol.band`` loosened to ``ratio > tol.band``. ``Tolerance`` documents that at
    either end of the band the margin equals ``band`` and decides (``margin >= band`` is conclusive); with
    powers of two the ratio is exactly the band."""
    tol = Tolerance(1.0, 4.0, "pow2", "rounding")
    ev = Evidence()
    cases = [ev.at_most("r", 0.25, tol), ev.at_most("r", 4.0, tol), ev.at_least("g", 4.0, tol),
             ev.at_least("g", 0.25, tol)]
    assert [(o.holds, o.conclusive, o.margin) for o in cases] == [
        (True, True, 4.0), (False, True, 0.25), (True, True, 4.0), (False, True, 0.25)]
    inside = ev.at_most("r", 0.5, tol)
    assert (inside.holds, inside.conclusive) == (True, False)


def test_a_rank_margin_is_above_one_only_when_the_relation_holds():
    """Planted bug: the tie clamp of ``Evidence.rank`` dropped. Any report from ``rank_report`` keeps margin and
    truth consistent by itself, except a relation no rank can meet (``rank < 0``, ``rank <= -1``), whose
    margin came out ``inf`` on a violated observation: a converse would read it as not violated at all."""
    r = rank_report(np.diag([1.0, 1e-3, 1e-20]))
    ev = Evidence()
    for relation in ("==", "<=", ">=", "<", ">"):
        for expected in range(-1, 5):
            o = ev.rank("A", r, expected, relation)
            assert (o.margin >= 1) if o.holds else (o.margin <= 1), (relation, expected, o)
    impossible = ev.rank("A", r, 0, "<")
    assert (impossible.holds, impossible.margin) == (False, 1.0)


# ----------------------------------------------------------------------------- checking


def test_a_converse_holds_on_one_conclusive_violation_even_beside_an_inconclusive_one():
    """Planted bug: ``converse_verdict`` tested the unresolved observations before the violations, so a
    converse shown conclusively on one instance read *inconclusive* when another sat inside its band."""
    tol = Tolerance(1e-10, 10.0, "test", "rounding")
    ev = Evidence()
    ev.at_least("σ_min (instance a)", 1e-14, tol)  # conclusion violated by 1e4
    ev.at_least("σ_min (instance b)", 2e-10, tol)  # inside the band
    kept, broken = [Hypothesis("k", True)], [Hypothesis("n_1 ≥ N", False)]
    assert converse_verdict(kept, broken, ev) is Verdict.HOLDS
    r = conclude("rank F_1 = N", kept, ev, broken=broken)
    assert r.verdict is Verdict.HOLDS and r.margin == pytest.approx(1e4)
    assert r.summary.startswith("holds: converse of rank F_1 = N — violated: ")


# ----------------------------------------------------------------------------- exact_fit


def test_the_relative_residual_is_divided_by_the_norm_of_y_at_any_scale():
    """Planted bug: ``res / max(‖y‖, 1)``: targets smaller than 1 reported their absolute residual as the
    relative one. A narrow ``F`` leaves a residual; scaling ``y`` scales it and keeps the ratio."""
    rng = np.random.default_rng(28)
    F, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    big, small = exact_fit(F, y), exact_fit(F, 1e-3 * y)
    assert big.relative_residual > 0.1
    assert small.residual == pytest.approx(1e-3 * big.residual, rel=1e-12)
    assert small.relative_residual == pytest.approx(small.residual / np.linalg.norm(1e-3 * y), rel=1e-12)
    assert small.relative_residual == pytest.approx(big.relative_residual, rel=1e-12)


def test_a_narrow_ill_conditioned_fit_is_the_least_squares_solution():
    """Planted bug: the fallback for ``F`` without full row rank was a truncated pseudo-inverse
    (``pinv(F, rcond=1e-3)``) instead of ``lstsq``: the residual then "shows what is left" of a truncation,
    not of the fit. ``F`` (6 × 3) has full column rank with singular values 1, 1e-5, 1e-8 (all far above
    the rank tolerance): the least-squares residual is ``‖(I − QQᵀ) y‖``."""
    from theory_lab.testing import matrix_with_singular_values

    rng = np.random.default_rng(28)
    F = matrix_with_singular_values(np.array([1.0, 1e-5, 1e-8]), (6, 3), rng)
    y = rng.standard_normal(6)
    Q = np.linalg.qr(F)[0]
    fit = exact_fit(F, y)
    assert fit.report.rank == 3 and not fit.report.full_row_rank
    assert fit.residual == pytest.approx(np.linalg.norm(y - Q @ (Q.T @ y)), rel=1e-6)


def test_the_fc_over_cnn_ratio_uses_the_filter_length():
    """Planted bug: ``ratio_fc_over_cnn`` divided by ``2N + T_1·P_0`` (patches) instead of ``2N + T_1·l_0``
    (filter length, the count next to it). Conv(1, (5,)) on 40 pixels: ``P_0 = 36``, ``l_0 = 5``."""
    from theory_lab.arch import Architecture, Conv, Output

    c = parameter_counts(Architecture((40, 1), (Conv(1, (5,)), Output(1))), 100)
    assert (c["P_0"], c["l_0"], c["T_1"]) == (36, 5, 3)
    assert c["ratio_fc_over_cnn"] == (42 * 100) / (2 * 100 + 3 * 5) == c["fully_connected"] / c["cnn"]


# ----------------------------------------------------------------------------- gradient probes


def test_the_gradient_probes_refuse_the_output_layer_as_k():
    """Planted bug: ``_check_k`` accepted ``k = L`` (``1 <= k <= L``). Lemma 4.3 and Theorem 4.4 are about
    ``∇_{U_{k+1}} Φ`` for a hidden ``k``; at ``k = L`` there is no layer ``k + 1`` and the search must say so
    in the argument's words, not fail somewhere inside."""
    from theory_lab import gradient_probes as GP
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
    X = np.random.default_rng(28).standard_normal((5, 3))
    Y = np.zeros((5, 2))
    params = sample_params(arch, 28)
    for k in (0, arch.L):
        with pytest.raises(ValueError, match=rf"`k`={k} must be a hidden layer, an integer in \[1, 2\]"):
            GP.small_gradient_search(arch, params, X, Y, k, steps=1)
        with pytest.raises(ValueError, match=rf"`k`={k} must be a hidden layer, an integer in \[1, 2\]"):
            GP.attaining_point(arch, params, X, k)


# ----------------------------------------------------------------------------- rank probes


def test_a_relu_unit_that_touches_zero_changes_sign_in_the_diagnosis():
    """Planted bug: ``G > 0`` / ``G < 0`` loosened to ``>=`` / ``<=``. ``no_sign_change`` means strictly positive
    or strictly negative on every sample (the docstring): a unit whose pre-activation is exactly 0 on one sample
    and positive on the others is not counted, nor in ``positive``."""
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.rank_probes import diagnose_units

    arch = Architecture((1,), (Dense(3, activation="relu"), Output(1)))
    X = np.array([[0.0], [1.0], [2.0]])
    # unit 0: G = 0, 1, 2 (touches 0); unit 1: G = 0, -1, -2 (dead); unit 2: G = -1, 0, 1 (changes sign)
    params = {"layer_1": {"W": np.array([[1.0, -1.0, 1.0]]), "b": np.array([0.0, 0.0, -1.0])},
              "layer_2": {"W": np.zeros((3, 1)), "b": np.zeros(1)}}
    row = diagnose_units(arch, params, X, 1).layers[0]
    assert (row["dead"], row["no_sign_change"], row["positive"], row["negative"]) == (1, 0, 0, 0)


def test_units_in_one_linear_piece_are_capped_by_the_rank_of_the_previous_layer():
    """Planted bug: the cap ``min(#affine units, rank [F_{k−1}, 1])`` read ``rank [F_k, 1]``. Three ReLU units
    positive on every sample are affine in the scalar input (``rank [F_0, 1] = 2``) and one changes sign:
    ``rank F_1 ≤ 1 + min(3, 2) = 3``, while ``rank [F_1, 1] = 3`` would give 4."""
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.rank_probes import diagnose_units

    arch = Architecture((1,), (Dense(4, activation="relu"), Output(1)))
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    params = {"layer_1": {"W": np.array([[1.0, 2.0, -1.0, 1.0]]), "b": np.array([1.0, 0.5, 10.0, -2.5])},
              "layer_2": {"W": np.zeros((4, 1)), "b": np.zeros(1)}}
    d = diagnose_units(arch, params, X, 1)
    assert d.layers[0]["no_sign_change"] == 3 and d.layers[0]["positive"] == 3
    assert d.bound == 3 and d.explains_deficiency
    assert rank_report(np.asarray(features_upto(arch, params, X, 1))).rank == 3


def test_an_inconclusive_draw_is_neither_full_nor_explained(monkeypatch):
    """Planted bugs: an inconclusive draw counted as full rank (``below is None`` → ``full``), and
    ``explained`` counted on every draw instead of the deficient ones only. With every unit dead the causes
    alone force rank 0 < N, but here each draw's rank evidence is marked unresolved (as feature_rank marks
    saturated units or near-duplicate samples): no draw is full, deficient or explained."""
    import dataclasses

    from theory_lab import rank_probes
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.feature_maps import feature_rank

    def unresolved(*args, **kwargs):
        return dataclasses.replace(feature_rank(*args, **kwargs), unresolved="test: float64 cannot resolve it")

    monkeypatch.setattr(rank_probes, "feature_rank", unresolved)
    arch = Architecture((4,), (Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(28).standard_normal((10, 4))
    r = rank_probes.rank_frequency(arch, X, 1, draws=3, bias_mean=-40.0, key=1)
    assert (r.full, r.deficient, r.inconclusive, r.explained, r.with_dead) == (0, 0, 3, 0, 3)
    assert r.explained <= r.deficient


# ----------------------------------------------------------------------------- near-duplicate samples


def test_pairs_whose_projections_round_apart_are_still_found():
    """Planted bug: the window of the sorted projection was ``radius`` alone, without the rounding of ``F @ u``.
    Rows of size ~1e4 whose last entries differ by one ulp (``‖f_i − f_j‖ = radius``) project to values one or
    more ulps of 1e4 apart (~1.8e-12 ≫ radius) for about a third of the 40 pairs: all must be found."""
    from theory_lab.near_duplicates import near_duplicate_pairs

    rng = np.random.default_rng(28)
    F = np.empty((80, 3))
    F[0::2, :2] = rng.uniform(-2e4, 2e4, (40, 2))
    F[0::2, 2] = rng.uniform(1024.0, 2048.0, 40)  # one binade: every ulp is spacing(1024)
    F[1::2] = F[0::2]
    F[1::2, 2] = np.nextafter(F[0::2, 2], np.inf)
    radius = float(np.spacing(1024.0))
    assert near_duplicate_pairs(F, np.arange(80.0)[:, None], radius) == [(2 * i, 2 * i + 1) for i in range(40)]


def test_a_near_duplicate_behind_a_max_pooling_first_layer_is_freed_only_through_its_maximum():
    """Planted bug: ``_first_layer_moves`` said "no" for every pair when layer 1 is max-pooling (no weights), so
    samples one ulp apart in the pixel that wins its pool stayed a conclusive false deficit of ``F_2``. The
    converse: one ulp in the pixel that loses its pool leaves the exact rows equal, a true conclusive deficit."""
    from theory_lab.arch import Architecture, Dense, MaxPool, Output
    from theory_lab.feature_maps import feature_rank
    from theory_lab.sampling import sample_params

    arch = Architecture((6, 1), (MaxPool((2,)), Dense(12, activation="sigmoid"), Output(1)))
    params = sample_params(arch, 1)
    X = np.random.default_rng(0).standard_normal((10, 6, 1))
    assert feature_rank(arch, params, X, 2).rank == 10
    wins = int(np.argmax(X[3, 0:2, 0]))
    for pixel, freed in ((wins, True), (1 - wins, False)):
        Y = X.copy()
        Y[7] = Y[3]
        Y[7, pixel, 0] = np.nextafter(Y[3, pixel, 0], np.inf)
        r = feature_rank(arch, params, Y, 2)
        assert r.rank == 9 and r.margin >= r.band
        assert r.conclusive is (not freed) and ("samples [3, 7] are distinct" in r.unresolved) is freed


# ----------------------------------------------------------------------------- real bugs found (fixed by the lead, stop 28)


def test_a_near_duplicate_verdict_does_not_depend_on_a_power_of_two_scale_of_the_features():
    """Real bug. ReLU is positively homogeneous, so scaling layer 1's weights and biases by ``2^-50`` scales
    ``F_1`` by exactly ``2^-50`` in float64: every singular value, tolerance and margin scales with it and the
    rank evidence is the same (rank 9, margin 130). At scale 1 the near-duplicate pair [3, 7] leaves the deficit
    unresolved; at ``2^-50`` the replaced rows are scaled to 1 instead of to the rows' size (~1e-15), the
    re-read rank loses the other rows under the inflated tolerance, and the deficit becomes conclusive: a false
    *fails* of Theorem 3.5 in exact arithmetic. Fixed: ``scale = max row norm, or 1 when F = 0``."""
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.feature_maps import feature_rank
    from theory_lab.sampling import sample_params, with_layer

    arch = Architecture((3,), (Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(0).standard_normal((10, 3))
    X[7] = X[3]
    X[7, 0] = np.nextafter(X[3, 0], np.inf)
    params = sample_params(arch, 1)
    reports = []
    for c in (1.0, 2.0 ** -50):
        scaled = with_layer(params, 1, W=c * np.asarray(params["layer_1"]["W"]),
                            b=c * np.asarray(params["layer_1"]["b"]))
        reports.append(feature_rank(arch, scaled, X, 1))
    one, tiny = reports
    assert one.rank == tiny.rank == 9 and tiny.margin == pytest.approx(one.margin, rel=1e-12)
    assert not one.conclusive and "samples [3, 7] are distinct" in one.unresolved
    assert not tiny.conclusive and "samples [3, 7] are distinct" in tiny.unresolved


def test_the_witness_is_triangular_for_an_activation_that_vanishes_at_plus_infinity(monkeypatch):
    """Real bug. ``σ(t) = sigmoid(−t)`` meets Assumption 3.2 (a) (limits 1 and 0) and is analytic, so Theorem
    3.4 applies; ``_off_sign`` finds its off side at ``+∞`` (−1). The construction should make each assigned
    neuron off for every later sample, as the module docstring says (``features[order][:, neurons]`` triangular
    in the limit of large α). It is the reverse: diagonal ≈ 0, below it ≈ 1; the witness is still verified by
    its rank, so no false verdict, only the documented construction is not the one run. Fixed:
    ``W = α·W, b = −sign·α·θ`` (pre-activation ``sign·α·(A − θ)``)."""
    import jax

    from theory_lab import activations
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.witness import construct_full_rank

    name = "test_sigmoid_of_minus_t"
    monkeypatch.setitem(activations._BASE, name, lambda: activations.Activation(
        name, lambda t: jax.nn.sigmoid(-t), continuous=True, analytic=True, strictly_increasing=False,
        positive_derivative=False, differentiable=True, assumption_3_2=True, clause="a"))
    monkeypatch.setattr(activations, "_CACHE", dict(activations._CACHE))
    arch = Architecture((3,), (Dense(14, activation=name), Output(1)))
    X = np.random.default_rng(0).standard_normal((12, 3))
    w = construct_full_rank(arch, X, 1, key=0, attempts=1)
    assert w.found
    T = w.features[w.order][:, w.neurons]
    assert np.abs(np.tril(T, -1)).max() < 1e-3 and np.diag(T).min() > 0.5
