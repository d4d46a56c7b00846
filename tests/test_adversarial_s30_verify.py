"""Adversarial review of the `verify` pipeline and the verdict vocabulary (session 30).

Each test feeds the rule, a check or the command a case whose right answer is known and asserts it:
a converse "shown" by a NaN, a counterexample hidden behind another instance's *not applicable*, a
result JSON cannot hold, a check saying *measured* under ``--strict``, a probe interval that ignores
its inconclusive draws, hypotheses typed as literals, and the same seed giving the same numbers.
"""

import ast
import json
import math
import pathlib
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from proofs_checks import expressivity, hypotheses as hyp
from theory_lab import checking, linalg, rank_probes
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, Verdict, conclude, run_check
from theory_lab.cli import app
from theory_lab.tolerances import Tolerance

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
TOL = Tolerance(1e-8, 10.0, "fit", "rounding")
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def local_registry(monkeypatch):
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def _strict_json(path):
    """results.json read by a strict reader: a bare NaN or Infinity token is an error."""
    def refuse(token):
        raise ValueError(f"bare {token} in results.json")
    return json.loads(path.read_text(), parse_constant=refuse)


# ----------------------------------------------------------------------------- non-finite numbers in a converse

@pytest.mark.parametrize("observe", [lambda ev: ev.at_most("‖r‖", math.nan, TOL),
                                     lambda ev: ev.at_least("Φ", math.inf, TOL),
                                     lambda ev: ev.at_most("‖r‖", -math.inf, TOL)])
def test_a_non_finite_number_never_shows_a_converse(observe):
    # NaN / Inf were conclusive violations, so a converse whose conclusion came out NaN said *holds*
    ev = Evidence()
    ev.at_most("‖s‖", 1.0, TOL)  # a finite, violated observation beside it shows nothing either
    observe(ev)
    r = conclude("exact fit", [Hypothesis("m = 1", True)], ev, broken=[Hypothesis("n_1 ≥ N", False)])
    assert r.verdict is Verdict.FAILS and r.margin == 0.0
    assert r.summary.startswith("fails: converse of exact fit — not shown: a number that is not finite")
    # the theorem's rule is unchanged: a NaN conclusion is a conclusive *fails* (a bug is never hidden)
    assert conclude("exact fit", [Hypothesis("m = 1", True)], ev).verdict is Verdict.FAILS


def test_a_finite_violation_still_shows_a_converse():
    ev = Evidence()
    ev.at_most("‖r‖", 1.0, TOL)
    r = conclude("exact fit", [], ev, broken=[Hypothesis("n_1 ≥ N", False)])
    assert r.verdict is Verdict.HOLDS and r.margin == pytest.approx(1e8)


def test_corollary_3_6_narrow_is_not_shown_by_a_nan_network_output(monkeypatch):
    nan_model = SimpleNamespace(apply=lambda arch, params, X: np.full((np.shape(X)[0], 1), np.nan))
    monkeypatch.setattr(expressivity, "model", nan_model)  # a planted bug: the fitted network outputs NaN
    r = expressivity._corollary_3_6_narrow(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary  # was *holds*: "cannot fit random targets", shown by NaN
    assert "not finite" in r.summary


# ----------------------------------------------------------------------------- several instances in one check

def _two_instances(violation_on: str):
    ev = Evidence()
    ev.exact(f"{violation_on}: rank F_1", 150, 200)
    ev.exact("B: rank F_1" if violation_on == "A" else "A: rank F_1", 200, 200)
    hyps = [Hypothesis("float64", True), Hypothesis("A: Assumption 3.1", True), Hypothesis("B: Assumption 3.1", False)]
    return conclude("rank F_1 = N", hyps, ev, instances=["A", "B"])


def test_a_counterexample_is_not_hidden_by_another_instances_not_applicable():
    r = _two_instances("A")
    assert r.verdict is Verdict.FAILS
    assert "violated: A: rank F_1 = 150 == 200: no" in r.summary
    assert "not applicable to the other instances: unmet B: Assumption 3.1" in r.summary
    # a violation on the instance that breaks a hypothesis proves nothing: still *not applicable*
    assert _two_instances("B").verdict is Verdict.NOT_APPLICABLE
    # without `instances` the rule cannot attribute observations: *not applicable*, as before
    ev = Evidence()
    ev.exact("A: rank F_1", 150, 200)
    assert conclude("c", [Hypothesis("A: h", True), Hypothesis("B: h", False)], ev).verdict is Verdict.NOT_APPLICABLE


def test_theorem_3_5_fails_on_one_instance_though_the_other_breaks_assumption_3_1(monkeypatch):
    X = expressivity._digits(Context(0), 200).X
    dup = X.copy()
    dup[1] = dup[0]  # Assumption 3.1 broken on the second instance only
    arch = expressivity.presets.verify_digits()
    monkeypatch.setattr(expressivity, "_theorem_3_5_cases",
                        lambda ctx: [("clean", arch, X, 1), ("duplicated", arch, dup, 1)])
    # a planted rank bug: every F_k of rank 1
    deficient = SimpleNamespace(feature_rank=lambda arch, p, X, k: linalg.rank_report(np.ones((X.shape[0], 288))))
    monkeypatch.setattr(expressivity, "feature_maps", deficient)
    r = expressivity._theorem_3_5(Context(0), draws=1)
    assert r.verdict is Verdict.FAILS, r.summary  # was *not applicable*: exit 0 without --strict
    assert "duplicated: Assumption 3.1" in r.summary and "violated: clean: F_1" in r.summary
