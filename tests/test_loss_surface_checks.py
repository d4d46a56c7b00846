"""The loss-surface checks registered with `theory-lab verify`: verdicts and evidence."""

import pytest

from proofs_checks import loss_surface as checks
from theory_lab.checking import Context, Verdict, discover, run_check


@pytest.fixture(scope="module")
def records():
    ctx = Context(seed=0)
    return {c.id: run_check(c, ctx) for c in checks.CHECKS}


def test_every_check_is_registered():
    ids = {c.id for c in discover()}
    assert {c.id for c in checks.CHECKS} <= ids


def test_every_check_runs_without_error(records):
    for cid, rec in records.items():
        assert rec.error is None, f"{cid}: {rec.error}"


@pytest.mark.parametrize("cid", ["lemma-4.3", "theorem-4.4", "theorem-4.5"])
def test_theorems_hold_with_their_hypotheses_met(records, cid):
    res = records[cid].result
    assert res.hypotheses_met and res.verdict == Verdict.HOLDS, res.summary
    assert res.margin is not None and res.margin > 1


@pytest.mark.parametrize("cid", ["lemma-4.3-widening", "theorem-4.4-widening", "bad-critical-point-outside-S_k",
                                 "narrow-critical-points"])
def test_converses_are_shown(records, cid):
    rec = records[cid]
    assert rec.check.kind == "converse"
    assert rec.result.verdict == Verdict.HOLDS, rec.result.summary


def test_theorem_4_5_reports_the_distribution_of_final_losses(records):
    ev = records["theorem-4.5"].result.evidence
    counts = ev["counts"]
    assert counts["runs"] == 2 * checks.STARTS
    assert counts["converged"] == counts["in_S_2"] == counts["zero_loss"] == counts["runs"]
    assert ev["final_losses"]["max"] <= checks.ZERO_LOSS_RTOL


def test_class_targets_zero_loss_points_lie_outside_S_k(records):
    ev = records["class-targets-outside-S_k"].result.evidence
    assert ev["converged"] > 0 and ev["bound_holds"] and ev["largest_bound"] < 1e-6
    for run in ev["runs"]:
        if run["converged"]:
            assert run["zero_loss"] and run["‖U_L Z⁻¹1‖"] <= run["bound ‖(F_L−Y)Z⁻¹1‖/σ_min(A)"] * (1 + 1e-6)


def test_probes_measure(records):
    rec = records["lemma-4.2"]
    assert rec.result.verdict == Verdict.MEASURED and rec.result.evidence["outside"] == 0


def test_narrow_network_reports_classified_critical_points(records):
    ev = records["narrow-critical-points"].result.evidence
    found = ev["critical_points_with_positive_loss"]
    assert found and all(p["loss"] > 1 and p["kind"] in ("minimum", "saddle") for p in found)
    assert sum(ev["counts"].values()) == len(ev["runs"])


def test_widening_converse_locates_the_failing_step(records):
    ev = records["theorem-4.4-widening"].result.evidence
    step = ev["where_it_fails"]
    assert step["‖Δ_L U_Lᵀ‖"] < 1e-12 < step["σ_min_naive(U_L)·‖Δ_L‖"]
    assert ev["loss"] == pytest.approx(0.5)
