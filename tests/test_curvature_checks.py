"""The curvature checks: registered, holding on the default seed, and able to fail."""

import numpy as np
import pytest

from proofs_checks import curvature as C
from theory_lab import checking
from theory_lab.checking import Context, Verdict


@pytest.fixture(scope="module")
def records():
    ctx = Context(seed=0)
    return {c.id: checking.run_check(c, ctx) for c in C.CHECKS}


def test_checks_are_registered_with_converses():
    ids = {c.id for c in checking.discover()}
    mine = {c.id: c.kind for c in C.CHECKS}
    assert set(mine) <= ids
    for cid, kind in mine.items():
        if kind == "check":
            assert mine.get(f"{cid}-converse") == "converse"


def test_every_check_holds_with_evidence(records):
    for cid, rec in records.items():
        assert rec.result.verdict == Verdict.HOLDS, (cid, rec.result.summary, rec.error)
        assert rec.result.hypotheses_met and rec.result.evidence
    zl = records["hessian-zero-loss"].result.evidence
    assert zl["relative_gap_H_minus_JtJ"] <= zl["tolerance"]
    assert zl["zero_eigenvalues"] >= zl["required_zero_eigenvalues"] == zl["P"] - zl["Nm"]
    bad = records["bad-critical-point"].result.evidence
    assert bad["lambda_min"] < -bad["negative_tol"] and bad["grad_norm"] <= bad["grad_tol"]
    assert bad["loss"] == pytest.approx(bad["loss_predicted"], rel=1e-12)


def test_zero_loss_check_fails_on_a_wrong_hessian(monkeypatch):
    """A Hessian routine that dropped part of the curvature is caught (the check can fail)."""
    real = C.hessian_report

    def broken(*args):
        rep = real(*args)
        rep["H"] = rep["H"] + 1e-6 * np.abs(rep["H"]).max() * np.eye(rep["P"])
        rep["eig"] = np.linalg.eigvalsh(rep["H"])
        return rep

    monkeypatch.setattr(C, "hessian_report", broken)
    result = C._zero_loss(Context(seed=0))
    assert result.hypotheses_met and result.verdict == Verdict.FAILS


def test_bad_critical_point_check_is_not_applicable_with_constant_targets(monkeypatch):
    """Breaking a hypothesis gives 'not applicable', never 'holds'."""
    real = C.bad_critical_point
    monkeypatch.setattr(C, "bad_critical_point", lambda ctx, constant_targets=False: real(ctx, constant_targets=True))
    result = C._bad_critical(Context(seed=0))
    assert result.verdict == Verdict.NOT_APPLICABLE
