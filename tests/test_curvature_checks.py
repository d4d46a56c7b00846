"""The curvature checks: registered, holding on the default seed, with converses."""

import pytest

from proofs_checks import curvature as C
from theory_lab import checking
from theory_lab.checking import Context, Verdict


@pytest.fixture(scope="module")
def records(seed0_records):
    return {c.id: seed0_records[c.id] for c in C.CHECKS}  # the session's one seed-0 run (conftest.py)


def test_checks_are_registered_with_converses():
    ids = {c.id for c in checking.discover()}
    mine = {c.id: c.kind for c in C.CHECKS}
    assert set(mine) <= ids
    for cid, kind in mine.items():
        if kind == "check" and cid not in ("hvp-dense", "lanczos-dense"):
            assert mine.get(f"{cid}-converse") == "converse"


@pytest.mark.parametrize("cid", [c.id for c in C.CHECKS])
def test_every_check_holds_with_evidence(records, cid):
    rec = records[cid]
    assert rec.error is None, rec.error
    assert rec.result.verdict == Verdict.HOLDS, rec.result.summary
    assert rec.result.hypotheses_met == (rec.check.kind == "check")
    assert rec.result.evidence["observations"]


def test_bad_critical_point_is_a_strict_saddle_outside_S_k(records):
    ev = records["bad-critical-point"].result.evidence
    assert ev["inertia"]["negative"] > 0 and ev["inertia"]["min_eigenvalue"] < -ev["inertia"]["tol"]
    assert not ev["membership"]["member"]


def test_bad_critical_point_without_a_negative_eigenvalue_fails(monkeypatch):
    """A Hessian with its negative eigenvalues removed makes the check fail, not inconclusive."""
    import numpy as np
    real = C.hessian_report

    def no_negative(*args):
        rep = real(*args)
        rep["eig"] = np.abs(rep["eig"])
        return rep

    monkeypatch.setattr(C, "hessian_report", no_negative)
    result = C._bad_critical(Context(seed=0))
    assert result.hypotheses_met and result.verdict == Verdict.FAILS, result.summary
