"""The loss-surface checks registered with `theory-lab verify`: verdicts, evidence and membership."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from proofs_checks import loss_surface as checks
from theory_lab.checking import Context, Verdict, discover, run_check


def _observations_tool():
    """``tools/observations.py``, loaded without entering ``sys.modules`` (see tests/test_observations_s32.py)."""
    spec = importlib.util.spec_from_file_location("_s33_observations", Path(__file__).parents[1] / "tools" /
                                                  "observations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def records(seed0_records):
    return {c.id: seed0_records[c.id] for c in checks.CHECKS}  # the session's one seed-0 run (conftest.py)


def test_every_check_is_registered():
    ids = {c.id for c in discover()}
    assert {c.id for c in checks.CHECKS} <= ids


@pytest.mark.parametrize("cid", [c.id for c in checks.CHECKS])
def test_every_check_holds_at_seed_0_with_its_hypotheses(records, cid):
    rec = records[cid]
    assert rec.error is None, rec.error
    assert rec.result.verdict == Verdict.HOLDS, rec.result.summary
    if rec.check.kind == "check":
        assert rec.result.hypotheses_met and rec.result.margin > 1
    else:  # a converse lists the broken hypothesis as unmet
        assert not rec.result.hypotheses_met


def test_summaries_are_generated_from_the_verdict(records):
    for rec in records.values():
        assert rec.result.summary.startswith(rec.result.verdict.value)


def test_theorem_4_5_reports_every_start(records):
    ev = records["theorem-4.5"].result.evidence
    assert len(ev["runs"]) == 2 * checks.STARTS + checks.ANY_STARTS
    assert sum(ev["counts"].values()) == len(ev["runs"])
    tiny = [r for name, r in ev["runs"].items() if "/tiny/" in name]
    assert tiny and all(r["status"] in ("outside S_k", "in S_k", "not converged (not a critical point)") for r in tiny)
    # the any-index search finds saddles with Φ > 0, all outside S_k
    assert any(r["critical"] and r["loss"] > 1 and not r["in_S_k"] for r in tiny)


def test_corollary_4_6_reports_non_converged_starts(records):
    ev = records["corollary-4.6"].result.evidence
    assert len(ev["runs"]) == 2 * checks.ANY_STARTS
    assert all("status" in r for r in ev["runs"].values())


def test_lemma_4_3_bounds_are_attained(records):
    points = records["lemma-4.3"].result.evidence["points"]
    attained = [p for p in points if "attaining" in p["point"]]
    assert len(attained) == 4
    for p in attained:
        bound = p.get("upper", p.get("lower"))
        assert p["grad_norm"] == pytest.approx(bound, rel=1e-10)


def test_theorem_4_4_search_reaches_small_ratios_only_where_allowed(records):
    rows = records["theorem-4.4"].result.evidence["points"]
    searches = [r for r in rows if "search" in r]
    assert len(searches) == checks.SEARCH_STARTS
    assert all(r["search"]["ratio"] < r["search"]["ratio_start"] for r in searches)
    bad = next(r for r in rows if r["point"] == "bad critical point")
    assert bad["grad_U_norm"] == 0 and bad["loss"] > 1 and not bad["in_S_k"]


def test_class_targets_count_zero_loss_points_by_membership(records):
    ev = records["class-targets-outside-S_k"].result.evidence
    c = ev["counts"]
    assert c["zero_loss"] == c["inside_S_k"] + c["outside_S_k"] > 0
    for run in ev["runs"]:
        if run.get("status") == "outside S_k":
            assert not run["in_S_k"] and run["S_k_conclusive"]


def test_class_targets_at_seed_2_one_zero_loss_point_is_inside_S_1():
    """At seed 2 a zero-loss point lies conclusively inside S_1, reached because [F_{L-1}, 1] lost rank."""
    check = next(c for c in checks.CHECKS if c.id == "class-targets-outside-S_k")
    rec = run_check(check, Context(seed=2))
    assert rec.result.verdict == Verdict.HOLDS, rec.result.summary
    inside = [r for r in rec.result.evidence["runs"] if r.get("status", "").startswith("inside S_k")]
    assert inside, rec.result.summary
    for r in inside:
        assert r["in_S_k"] and r["S_k_conclusive"] and r["A_rank"] < 11 and r["sigma_min_U_L"] > 1e-3
    assert rec.result.evidence["counts"]["inside_S_k"] == len(inside)


def test_narrow_converse_finds_critical_points_with_positive_loss(records):
    ev = records["narrow-critical-points"].result.evidence
    found = [r for r in ev["runs"] if r["critical"] and r["loss"] > 1]
    assert found and ev["not_converged"] == sum(not r["critical"] for r in ev["runs"])
    assert np.isfinite([r["loss"] for r in found]).all()


def test_every_solver_check_starts_the_runs_the_snapshot_says(records):
    """The checks left out of the observation snapshot (their observations depend on which solver runs converge)
    still start a fixed set of runs, ended or not: each reports one row per run, name for name (session 33). Here,
    not in test_observations_s32.py, because this file's worker has already run these checks."""
    obs = _observations_tool()
    expected = obs.load_runs()
    actual = obs.runs_from_records([records[cid] for cid in obs.EXCLUDED])
    lines = obs.diff(expected, actual, what="runs")
    assert not lines, obs.message(lines)
    assert set(expected) == set(obs.EXCLUDED) and all(r["count"] == len(r["names"]) > 0 for r in expected.values())
