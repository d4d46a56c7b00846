"""Session 31 (s31-a): regression tests for planted bugs that neither ``verify --strict`` nor the module's tests saw.

Each test feeds a quantity whose right value is known independently (an exact rational forward pass, a brute-force
search, a hand-made tie) and checks the library's answer against it. docs/planted_bugs.md, "Session 31 — a new
planted-bug pass (mutants nobody has tried)"; the bugs are in tools/plant_bugs.py (ids ``s31-*``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from theory_lab.arch import Architecture
from theory_lab.evidence import Evidence
from theory_lab.feature_maps import forward_upto
from theory_lab.forward_error import feature_error_bound
from theory_lab.layers import Dense, Output, PatchMaxPool
from theory_lab.tolerances import Tolerance


# ----------------------------------------------------------------------------- Evidence at the band's edge

@pytest.mark.parametrize("at_most", [True, False])
def test_a_margin_of_exactly_the_band_decides(at_most):
    """s31-band-strict (``ratio > band``): the documented rule is ``margin >= band`` decides (tolerances.py:
    "a margin of exactly ``band`` decides"). Powers of two make the margin exactly 8."""
    tol = Tolerance(1.0, 8.0, "t", "test")
    ev = Evidence()
    obs = ev.at_most("x", 0.125, tol) if at_most else ev.at_least("x", 8.0, tol)
    assert obs.holds and obs.margin == 8.0 and obs.conclusive
    obs = ev.at_most("x", 8.0, tol) if at_most else ev.at_least("x", 0.125, tol)  # violated by exactly the band
    assert not obs.holds and obs.margin == 0.125 and obs.conclusive
    obs = ev.at_most("x", 0.25, tol) if at_most else ev.at_least("x", 4.0, tol)  # inside the band
    assert obs.holds and not obs.conclusive


# ----------------------------------------------------------------------------- the forward error bound, exactly

def _exact_forward(arch, params, X):
    """``F_l`` of every layer in exact rational arithmetic (dense layers with identity σ, max-pooling): lists of
    rows of Fractions, from the float64 inputs and parameters as stored."""
    F = [[[Fraction(float(v)) for v in row] for row in np.asarray(X, dtype=np.float64)]]
    for info in arch.info:
        prev = F[-1]
        if info.kind == "maxpool":
            F.append([[max(row[j] for j in patch) for patch in info.patches] for row in prev])
            continue
        assert info.activation in (None, "identity")
        W = [[Fraction(float(v)) for v in r] for r in np.asarray(params[f"layer_{info.k}"]["W"])]
        b = [Fraction(float(v)) for v in np.asarray(params[f"layer_{info.k}"]["b"])]
        F.append([[sum((row[i] * W[i][j] for i in range(len(row))), Fraction(0)) + b[j] for j in range(len(b))]
                  for row in prev])
    return F


def _actual_error(F_hat, F_exact) -> float:
    diff = [float(Fraction(float(a)) - e) for ra, re in zip(np.asarray(F_hat), F_exact) for a, e in zip(ra, re)]
    return float(np.linalg.norm(diff))


def _cancelling_net(big: float = 2.0**27):
    """Dense 2 → 2 (identity) → max-pool over both units → dense 1 → 1 → output. Unit 0 of layer 1 is
    ``w x_0 + big · x_1 − big`` with ``x_1 = 1``: exactly ``w x_0``, computed with an error of about ``eps · big``;
    unit 1 is far below it, so the pool passes unit 0 (and its error) on; layer 3 copies it."""
    arch = Architecture((2,), (Dense(2, activation="identity"), PatchMaxPool(((0, 1),)),
                               Dense(1, activation="identity"), Output(1)))
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(1.0, 2.0, 6), np.ones(6)])
    params = {"layer_1": {"W": np.array([[0.7 + rng.uniform(), 0.25], [big, 0.0]]), "b": np.array([-big, -64.0])},
              "layer_3": {"W": np.array([[1.0]]), "b": np.array([0.0])},
              "layer_4": {"W": np.array([[1.0]]), "b": np.array([0.0])}}
    return arch, params, X


def test_the_forward_error_bound_covers_the_actual_error_at_every_layer():
    """s31-fe-no-propagation (``e_{l−1}|U_l|`` dropped) and s31-fe-maxpool-min (the window's smallest error):
    at layers 2 and 3 the bound fell to ~1e-16 while the exact rational forward pass shows an error of ~1e-9
    (the cancellation at layer 1, passed on by the pool and the copy)."""
    arch, params, X = _cancelling_net()
    exact = _exact_forward(arch, params, X)
    fw = forward_upto(arch, params, X, 3)
    errors = [_actual_error(fw.F[k], exact[k]) for k in (1, 2, 3)]
    assert errors[0] > 1e-12  # the instance does cancel: float64 is off by far more than eps · |F|
    for k, err in zip((1, 2, 3), errors):
        bound = feature_error_bound(arch, params, fw, k)
        assert err <= bound, f"layer {k}: actual error {err:.2e} above the bound {bound:.2e}"
        assert bound < 1e3 * errors[0]  # and the bound is not vacuous


def test_a_rank_observation_holds_a_full_rank_reading_to_the_forward_error():
    """s31-rank-no-forward-error (``Evidence.rank`` divides by ``tol`` only): the margin of ``rank ≥ 2`` of a
    matrix whose entries carry an error up to 1e-4 is ``σ_2 / 1e-4 = 10``, not ``σ_2 / tol ≈ 2e12`` (the report
    itself says 10; an observation must not claim more than its report)."""
    from theory_lab.linalg import rank_report, with_forward_error

    report = with_forward_error(rank_report(np.diag([1.0, 1e-3])), 1e-4, "test")
    obs = Evidence().rank("A", report, 2, ">=")
    assert obs.holds and obs.margin == pytest.approx(10.0) and obs.margin == pytest.approx(report.margin)
    obs = Evidence().rank("A", report, 2, "==")
    assert obs.margin == pytest.approx(10.0)


# ----------------------------------------------------------------------------- several-instance checks

def test_an_unmet_shared_hypothesis_makes_every_instance_not_applicable():
    """s31-instance-own-only (``instance_violations`` ignores the unprefixed hypotheses): an instance whose own
    hypotheses hold but which breaks a hypothesis every instance is held to shows no counterexample; the bug
    turned its violation into *fails*."""
    from theory_lab.checking import Hypothesis, Verdict, conclude, instance_violations

    tol = Tolerance(1.0, 10.0, "t", "test")
    ev = Evidence()
    ev.at_most("a: residual", 100.0, tol)  # conclusively violated on instance a
    ev.at_most("b: residual", 0.01, tol)
    hyps = [Hypothesis("float64 data", False), Hypothesis("a: n_1 >= N", True), Hypothesis("b: n_1 >= N", True)]
    assert instance_violations(hyps, ev, ("a", "b")) == []
    assert conclude("fit", hyps, ev, instances=("a", "b")).verdict is Verdict.NOT_APPLICABLE
    hyps[0] = Hypothesis("float64 data", True)  # the shared one met: instance a's violation is a counterexample
    assert [o.name for o in instance_violations(hyps, ev, ("a", "b"))] == ["a: residual"]
    hyps[2] = Hypothesis("b: n_1 >= N", False)  # another instance's own unmet hypothesis does not hide it
    assert conclude("fit", hyps, ev, instances=("a", "b")).verdict is Verdict.FAILS


# ----------------------------------------------------------------------------- Assumption 3.1 on data

def _patch_arch(length: int = 20):
    from theory_lab.layers import Conv

    return Architecture((length, 1), (Conv(1, (2,), stride=2), Output(1)))  # 10 disjoint patches of length 2


def _brute_min_cross(arch, X) -> float:
    idx = arch.layer(1).patches
    P = X.reshape(X.shape[0], -1)[:, idx]  # (N, P, l)
    owner = np.repeat(np.arange(X.shape[0]), idx.shape[0])
    rows = P.reshape(-1, idx.shape[1])
    D = np.linalg.norm(rows[:, None, :] - rows[None, :, :], axis=2)
    return float(D[owner[:, None] != owner[None, :]].min())


def test_a_patch_repeated_inside_one_sample_does_not_break_assumption_3_1():
    """s31-patches-repeats-count (pairs (value, sample) not made unique): a blank sample repeats one patch value
    10 times; that is no pair of *different* samples, so 3.1 holds. The bug reported 1 shared value."""
    from theory_lab.data import check_distinct_patches

    arch = _patch_arch()
    X = np.random.default_rng(0).standard_normal((4, 20, 1))
    X[0] = 0.5  # one constant sample: its 10 patches are equal
    rep = check_distinct_patches(arch, X)
    assert rep.holds and rep.shared_patch_values == 0 and rep.samples_affected == 0, str(rep)
    assert rep.min_distance == pytest.approx(_brute_min_cross(arch, X), rel=1e-12)
    X[1, :2, 0] = 0.5  # now sample 1 shares that value: 3.1 fails, samples 0 and 1
    rep = check_distinct_patches(arch, X)
    assert not rep.holds and rep.shared_patch_values == 1 and rep.samples_affected == 2 and rep.example == (0, 1)


def test_the_nearest_cross_sample_patches_are_found_inside_clusters():
    """s31-patches-prune-inverted (``todo[far > best]``): two samples whose patches form tight clusters 0.05
    apart hold the nearest pair of different samples; an easier pair 0.1 apart (samples 2, 3) is found first.
    The search must keep the cluster points whose own neighbours are nearer than 0.1 (the bug dropped exactly
    those and reported 0.1). Checked against the brute-force minimum over all cross-sample pairs."""
    from theory_lab.data import check_distinct_patches

    arch = _patch_arch()
    rng = np.random.default_rng(1)
    X = np.zeros((4, 10, 2))
    X[0] = 1e-3 * rng.standard_normal((10, 2))
    X[1] = [0.05, 0.0] + 1e-3 * rng.standard_normal((10, 2))
    X[2] = np.column_stack([5.0 + np.arange(10), np.full(10, 5.0)])
    X[3] = X[2] + [0.0, 0.1]
    X = X.reshape(4, 20, 1)
    expected = _brute_min_cross(arch, X)
    assert 0.04 < expected < 0.06
    rep = check_distinct_patches(arch, X)
    assert rep.holds and rep.min_distance == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- saturation

def test_saturated_units_of_a_non_analytic_activation_are_constant_after_centring():
    """s31-saturation-uncentered (a unit counted as constant when ``‖F[:, u]‖``, not ``‖F[:, u] − mean‖``, is
    below the tolerance): ELU (not analytic, so no affine rule) at pre-activations −45 … −40 outputs −1 to
    rounding (``e^{−40} ≈ 4e-18``) while the pre-activations vary; the 3 units saturate and their exact outputs
    differ, so ``rank F_1 = 1 < 3`` is below float64 resolution. The bug saw ``‖F[:, u]‖ ≈ 2.4`` and explained
    nothing."""
    from theory_lab.linalg import rank_report
    from theory_lab.saturation import explain_deficit

    arch = Architecture((2,), (Dense(3, activation="elu"), Output(1)))
    X = np.column_stack([np.linspace(0.0, 1.0, 6), np.ones(6)])
    params = {"layer_1": {"W": np.array([[5.0, 4.0, 3.0], [-45.0, -44.0, -43.0]]), "b": np.zeros(3)},
              "layer_2": {"W": np.ones((3, 1)), "b": np.zeros(1)}}
    fw = forward_upto(arch, params, X, 1)
    report = rank_report(np.asarray(fw.F[1]), name="F_1")
    assert report.rank < 3
    why = explain_deficit(arch, params, fw, 1, report, 3)
    assert "3 unit(s) saturate" in why, why


# ----------------------------------------------------------------------------- rank frequencies

def test_the_frequency_interval_counts_inconclusive_draws_as_possibly_deficient(monkeypatch):
    """s31-wilson-drops-inconclusive (the interval's upper end from the deficient draws only): three draws whose
    rank evidence is unresolved may each be deficient, so the 95 % interval of the deficiency frequency runs
    from 0 to 1 (Clopper–Pearson at 0/3 and 3/3, Wilson's until session 33); the bug gave (0, 0.71) (Wilson's:
    (0, 0.56)), as if the three draws were full rank."""
    import dataclasses

    from theory_lab import rank_probes
    from theory_lab.feature_maps import feature_rank

    def unresolved(*args, **kwargs):
        return dataclasses.replace(feature_rank(*args, **kwargs), unresolved="test: float64 cannot resolve it")

    monkeypatch.setattr(rank_probes, "feature_rank", unresolved)
    arch = Architecture((4,), (Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(28).standard_normal((10, 4))
    r = rank_probes.rank_frequency(arch, X, 1, draws=3, key=1)
    assert (r.full, r.deficient, r.inconclusive) == (0, 0, 3)
    assert r.ci == (rank_probes.clopper_pearson_interval(0, 3)[0], rank_probes.clopper_pearson_interval(3, 3)[1]) \
        == (0.0, 1.0)


def test_the_affine_unit_bound_counts_the_bias_column():
    """s31-diagnose-no-ones (affine units bounded by ``rank F_{k−1}``, the bias column dropped): ReLU units that
    are positive on every sample give ``F_1 = X U_1 + 1 b_1ᵀ``, of rank ``rank [X, 1] = 5`` for ``d = 4``;
    the bug's bound 4 sat below the rank the features actually have."""
    from theory_lab.feature_maps import features_upto
    from theory_lab.linalg import rank_report
    from theory_lab.rank_probes import diagnose_units
    from theory_lab.sampling import sample_params, with_layer

    arch = Architecture((4,), (Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(5).standard_normal((10, 4))
    params = with_layer(sample_params(arch, 0), 1, b=np.full(12, 40.0))  # every unit on for every sample
    diag = diagnose_units(arch, params, X, 1)
    rank = rank_report(np.asarray(features_upto(arch, params, X, 1))).rank
    assert rank == 5 and diag.bound == 5 and diag.explains_deficiency


def test_tolerance_rules_fail_when_the_forward_error_bound_misses_the_actual_error(monkeypatch):
    """The check that now sees s31-fe-no-propagation / s31-fe-maxpool-min in ``verify``: ``tolerance-rules`` holds
    the bound to the exact rational error of a cancelling pass; a bound 100× too small fails it."""
    from proofs_checks import definitions
    from theory_lab import forward_error
    from theory_lab.checking import Context, Verdict

    assert definitions._tolerance_rules(Context(0)).verdict is Verdict.HOLDS
    real = forward_error.feature_error_bound
    monkeypatch.setattr(forward_error, "feature_error_bound", lambda *a, **kw: real(*a, **kw) / 100)
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS and "actual forward error" in r.summary, r.summary


@pytest.mark.parametrize("wrong", ["distance", "repeats"])
def test_the_assumption_3_1_predicate_check_fails_on_a_wrong_distance_or_in_sample_repeats(monkeypatch, wrong):
    """The check that now sees s31-patches-prune-inverted and s31-patches-repeats-count in ``verify``:
    ``assumption-3.1-predicate`` compares the smallest cross-sample distance with brute force and feeds constant
    samples (repeats inside each sample only); a predicate off on either fails it."""
    import dataclasses

    from proofs_checks import definitions
    from theory_lab import data
    from theory_lab.checking import Context, Verdict

    real = data.check_distinct_patches

    def off(arch, X):
        rep = real(arch, X)
        if wrong == "distance":
            return dataclasses.replace(rep, min_distance=1.5 * rep.min_distance)
        constant = np.all(np.asarray(X).reshape(len(X), -1) == np.asarray(X).reshape(len(X), -1)[:, :1])
        return dataclasses.replace(rep, holds=False, shared_patch_values=1) if constant else rep

    monkeypatch.setattr(data, "check_distinct_patches", off)
    r = definitions._assumption_3_1_predicate(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary


def test_tolerance_rules_fail_on_a_zero_loss_rule_that_is_not_scale_free(monkeypatch):
    """s31-zero-loss-no-square (``zero_loss_tol`` from ``‖Y‖``, not ``‖Y‖²``): at the targets' own scale (‖Y‖ ≈ 11)
    every observation still held; ``tolerance-rules`` now repeats them at targets scaled by 2^-30, where the
    fit left at relative residual 3e-9 read as zero loss."""
    from proofs_checks import definitions
    from theory_lab import tolerances
    from theory_lab.checking import Context, Verdict

    def linear_in_Y(Y):
        return Tolerance(tolerances.ZERO_LOSS_RTOL * 0.5 * float(np.linalg.norm(Y)), 100.0, "zero loss", "test")

    monkeypatch.setattr(tolerances, "zero_loss_tol", linear_in_Y)
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS and "scaled by 2^-30" in r.summary, r.summary


def test_tolerance_rules_fail_on_a_critical_rule_scaled_by_the_smaller_of_targets_and_outputs(monkeypatch):
    """s31-critical-tol-min-scale (``critical_tol`` scaled by ``min(‖Y‖, ‖F_L‖)``): at the exact fit outputs and
    targets agree, so no observation saw it; ``tolerance-rules`` now also holds a least-squares minimum whose
    outputs are 1e-9 of the targets to the rule, and the bug called it not critical."""
    from proofs_checks import definitions
    from theory_lab import tolerances
    from theory_lab.checking import Context, Verdict

    real = tolerances.critical_tol

    def smaller(jacobian_norm, Y, outputs=None):
        if outputs is None:
            return real(jacobian_norm, Y)
        scale = min(float(np.linalg.norm(Y)), float(np.linalg.norm(outputs))) or 1.0
        return Tolerance(tolerances.GTOL_RTOL * jacobian_norm * scale, 10.0, "critical point", "test")

    monkeypatch.setattr(tolerances, "critical_tol", smaller)
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS and "least-squares minimum" in r.summary, r.summary


def test_lanczos_dense_fails_on_wrong_reported_residuals(monkeypatch):
    """s31-ritz-residual-sign (``‖A v + θ v‖``): the Ritz values and vectors stay right, so ``lanczos-dense`` held;
    it now compares the residuals ``spectrum.lanczos`` reports with ``‖H v − λ v‖`` from the dense Hessian."""
    from proofs_checks import curvature
    from theory_lab import krylov
    from theory_lab.checking import Context, Verdict

    real = krylov.ritz_residuals

    def off(K, S_cols, theta):
        V, res = real(K, S_cols, theta)
        return V, np.asarray(res) + 1e-6 * np.max(np.abs(theta))

    monkeypatch.setattr(krylov, "ritz_residuals", off)
    r = curvature._lanczos_dense(Context(0))
    assert r.verdict is Verdict.FAILS and "Ritz residual" in r.summary, r.summary


def test_corollary_3_6_fails_on_a_filter_count_rounded_down(monkeypatch):
    """s31-fit-T1-floor (``T_1 = ⌊N / P_0⌋``): verify's N = 216 is a multiple of P_0 = 36, so nothing changed there;
    ``corollary-3.6`` now also reads T_1 at N − 1 against the fewest filters with ``P_0 T_1 ≥ N``."""
    from proofs_checks import expressivity
    from theory_lab import exact_fit
    from theory_lab.checking import Context, Verdict

    real = exact_fit.parameter_counts

    def floor(arch, N):
        return dict(real(arch, N), T_1=int(N) // arch.layer(1).P)

    monkeypatch.setattr(exact_fit, "parameter_counts", floor)
    r = expressivity._corollary_3_6(Context(0))
    assert r.verdict is Verdict.FAILS and "T_1 = 5 for N = 215" in r.summary, r.summary
