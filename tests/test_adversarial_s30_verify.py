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


def test_theorem_3_5_default_fails_on_one_instance_though_the_other_is_not_applicable(monkeypatch):
    from proofs_checks import foundations
    from proofs_checks.instances import Instance, digits_instance

    inst = digits_instance(Context(0))
    dup = inst.data.X.copy()
    dup[1] = dup[0]
    broken = Instance("digits-dup", inst.arch, SimpleNamespace(X=dup, N=inst.N), inst.k)
    monkeypatch.setattr(foundations, "default_instances", lambda ctx: [inst, broken])
    monkeypatch.setattr(foundations, "feature_maps", SimpleNamespace(  # a planted rank bug: F_k of rank 1
        feature_rank=lambda arch, p, X, k: linalg.rank_report(np.ones((X.shape[0], arch.widths[k])))))
    r = foundations._theorem_3_5_default(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary  # was *not applicable*
    assert "violated: digits-200: F_1" in r.summary and "digits-dup: Assumption 3.1" in r.summary


# ----------------------------------------------------------------------------- what results.json can hold

def _good(ctx):
    ev = Evidence()
    ev.exact("n_1", 216, 200, ">=")
    return conclude("wide", [Hypothesis("h", True)], ev)


def test_a_result_json_cannot_hold_is_an_error_and_the_report_is_still_written(tmp_path, local_registry):
    # a Fraction (generic_rank sums in exact rationals) or a complex number in the evidence made json.dumps
    # raise after every check had run: no report at all, a traceback, every other verdict lost
    local_registry += [Check("t-good", "T", "fine", _good),
                       Check("t-fraction", "T", "bad", lambda ctx: Result(
                           Verdict.HOLDS, [Hypothesis("h", True)], 2.0, {"ratio": Fraction(1, 3)}, "holds: x")),
                       Check("t-complex", "T", "bad", lambda ctx: Result(
                           Verdict.HOLDS, [Hypothesis("h", True)], 2.0, {"z": [1.0, 1 + 2j]}, "holds: x"))]
    result = runner.invoke(app, ["verify", "--check", "t-*", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    by_id = {c["id"]: c for c in _strict_json(tmp_path / "results.json")["checks"]}
    assert by_id["t-good"]["verdict"] == "holds"
    assert by_id["t-fraction"]["verdict"] == "error" and "result['evidence']['ratio'] is Fraction" in \
        by_id["t-fraction"]["summary"]
    assert by_id["t-complex"]["verdict"] == "error" and "result['evidence']['z'][1] is complex" in \
        by_id["t-complex"]["summary"]
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.md").exists()


def test_data_provenance_with_numpy_numbers_and_nan_is_written_as_json(tmp_path, local_registry):
    def run(ctx):
        ctx.cached("data", lambda: SimpleNamespace(provenance={"name": "x", "N": np.int64(5), "noise": math.nan}))
        return _good(ctx)
    local_registry.append(Check("t-prov", "T", "provenance", run))
    result = runner.invoke(app, ["verify", "--check", "t-prov", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output  # was a TypeError (np.int64) after the run, nothing written
    data = _strict_json(tmp_path / "results.json")  # and a NaN was written as a bare NaN token
    assert data["datasets"] == [{"name": "x", "N": 5, "noise": "nan"}] == data["checks"][0]["datasets"]


def test_extreme_evidence_numbers_are_strict_json_and_reach_the_report(tmp_path, local_registry):
    def run(ctx):
        ev = Evidence()
        ev.at_most("big", 1e308, TOL)
        ev.at_most("subnormal", 5e-324, TOL)
        ev.at_least("inf", math.inf, TOL)
        ev.at_most("nan", np.float32(np.nan), TOL)
        ev.facts["s"] = np.array([np.inf, -np.inf, np.nan, 1e308, -0.0])
        return conclude("extreme", [Hypothesis("h", True)], ev)
    local_registry.append(Check("t-extreme", "T", "extreme numbers", run))
    result = runner.invoke(app, ["verify", "--check", "t-extreme", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output  # a NaN / Inf conclusion fails the theorem's rule
    rec = _strict_json(tmp_path / "results.json")["checks"][0]
    assert rec["verdict"] == "fails" and rec["margin"] == 0.0
    obs = {o["name"]: o for o in rec["evidence"]["observations"]}
    assert obs["big"]["value"] == 1e308 and obs["big"]["conclusive"] and not obs["big"]["holds"]
    assert obs["subnormal"]["value"] == 5e-324 and obs["subnormal"]["holds"] and obs["subnormal"]["margin"] == "inf"
    assert obs["inf"]["value"] == "inf" and obs["nan"]["value"] == "nan"
    assert rec["evidence"]["s"] == ["inf", "-inf", "nan", 1e308, -0.0]
    assert "t-extreme" in (tmp_path / "report.html").read_text()


def test_results_json_is_kept_whole_when_the_run_is_interrupted_or_the_report_fails(tmp_path, local_registry,
                                                                                    monkeypatch):
    local_registry.append(Check("t-good", "T", "fine", _good))
    assert runner.invoke(app, ["verify", "--check", "t-good", "-o", str(tmp_path)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def interrupted(ctx):
        raise KeyboardInterrupt  # Ctrl-C inside a check: not an error verdict, the run stops
    local_registry.append(Check("t-interrupted", "T", "interrupted", interrupted))
    runner.invoke(app, ["verify", "--check", "t-*", "-o", str(tmp_path)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no partial or temporary file
    local_registry.pop()
    monkeypatch.setattr("theory_lab.cli.report_html", lambda *a, **k: 1 / 0)  # the last report to build fails
    assert runner.invoke(app, ["verify", "--check", "t-*", "-o", str(tmp_path)]).exit_code != 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ----------------------------------------------------------------------------- results that contradict themselves

@pytest.mark.parametrize("result, why", [
    (Result(Verdict.HOLDS, [Hypothesis("n_1 ≥ N", False)], 2.0, {}, "holds: x"), "hypotheses not as the rule"),
    (Result(Verdict.FAILS, [Hypothesis("kept", True), Hypothesis("broken", True)], 0.5, {}, "fails: x",
            ("broken",)), "hypotheses not as the rule"),
    (Result(Verdict.INCONCLUSIVE, [Hypothesis("h", True)], 2.0, {}, "holds: rank F_1 = N"), "the summary says"),
])
def test_a_result_that_contradicts_itself_is_an_error(result, why):
    record = run_check(Check("t", "T", "t", lambda ctx: result), Context(0))
    assert record.result.verdict is Verdict.ERROR and why in record.result.summary


def test_consistent_results_pass_unchanged():
    probe = Result(Verdict.MEASURED, [Hypothesis("h", False)], None, {"rows": []}, "rank F_1 < N in 3/15")
    converse = Result(Verdict.HOLDS, [Hypothesis("kept", True), Hypothesis("broken", False)], 4.0, {},
                      "holds: converse of x", ("broken",))
    for result in (probe, converse, Result(Verdict.NOT_APPLICABLE, [Hypothesis("h", False)], None, {}, "n/a")):
        assert run_check(Check("t", "T", "t", lambda ctx: result), Context(0)).result is result


# ----------------------------------------------------------------------------- --strict

def test_strict_fails_a_check_or_converse_that_says_measured(tmp_path, local_registry):
    for kind in ("check", "converse"):
        local_registry.append(Check(f"t-{kind}", "T", "t", kind=kind, run=lambda ctx: Result(
            Verdict.MEASURED, [Hypothesis("h", True)], None, {}, "3/15")))
    result = runner.invoke(app, ["verify", "--strict", "--check", "t-*", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output  # was 0: only *not applicable* and *inconclusive* were refused
    assert "measured (--strict): t-check" in result.output and "measured (--strict): t-converse" in result.output
    assert runner.invoke(app, ["verify", "--check", "t-*", "-o", str(tmp_path)]).exit_code == 0


# ----------------------------------------------------------------------------- hypotheses are computed

def _literal_hypotheses(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Hypothesis":
            met = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "met"), None)
            if isinstance(met, ast.Constant) and isinstance(met.value, bool):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_hypothesis_is_typed_as_a_literal_boolean():
    files = sorted((ROOT / "proofs_checks").glob("*.py")) + sorted((ROOT / "theory_lab").rglob("*.py"))
    assert [f for path in files for f in _literal_hypotheses(path)] == []


def test_assumption_3_1_on_non_finite_data_is_unmet_from_the_data_check():
    arch = Architecture((8, 8, 1), (Conv(3, (3, 3)), Output(1)))
    X = np.zeros((4, 64))
    X[2, 5] = np.nan
    h, report = hyp.assumption_3_1(arch, X)
    assert h.met is False and report["evaluated"] is False and "1 non-finite entries" in h.detail


# ----------------------------------------------------------------------------- probes

def test_a_probe_interval_spans_its_inconclusive_draws(monkeypatch):
    # σ_N = 2·tol sits inside the band 10: every draw is inconclusive, so the frequency may be anything
    def unsure(arch, params, X, k, band=10.0):
        N = np.shape(X)[0]
        return linalg.rank_report(np.diag(np.r_[np.ones(N - 1), 2e-3]), tol=1e-3, band=band)
    monkeypatch.setattr(rank_probes, "feature_rank", unsure)
    r = expressivity._probe_tanh(Context(0), draws=6)
    row = r.evidence["rows"][0]
    assert (row["deficient"], row["inconclusive"]) == (0, 6)
    assert row["ci95"][0] == 0.0 and row["ci95"][1] == pytest.approx(1.0, abs=1e-12)  # was [0, 0.39]
    assert "0/6 (+6 inconclusive) [0.00, 1.00]" in r.summary


def test_a_probe_row_inside_theorem_3_5_that_loses_rank_fails_the_probe(monkeypatch):
    # a planted rank bug (every F_k of rank 1) was *measured* as 15/15 for per-neuron sigmoid on noisy digits,
    # a network and data that meet every hypothesis of Theorem 3.5: a counterexample no probe could report
    monkeypatch.setattr(rank_probes, "feature_rank",
                        lambda arch, p, X, k, band=10.0: linalg.rank_report(np.ones((np.shape(X)[0], arch.widths[k]))))
    r = expressivity._probe_tied_bias(Context(0), draws=2)
    assert r.verdict is Verdict.FAILS, r.summary
    assert r.summary.startswith("fails: a row meeting every hypothesis of Theorem 3.5 lost rank conclusively — "
                                "sigmoid neuron bias, n_k/N=1.08, b̄=0: rank F_k < N in 2/2")
    assert r.hypotheses and all(h.met for h in r.hypotheses)
    assert r.evidence["inside_theorem_3_5"] == [{"row": "sigmoid neuron bias, n_k/N=1.08, b̄=0", "deficient": 2,
                                                 "draws": 2}]
    # outside the theorem the same numbers are a measurement
    assert expressivity._probe_tanh(Context(0), draws=2).verdict is Verdict.MEASURED


def test_a_decided_probe_keeps_the_exact_interval():
    arch = Architecture((8, 8, 1), (Conv(3, (3, 3), activation="relu"), Output(1)))
    X = np.random.default_rng(0).standard_normal((20, 64))
    r = rank_probes.rank_frequency(arch, X, 1, draws=4, key=0, bias_mean=-30.0)
    assert r.inconclusive == 0 and r.ci == rank_probes.clopper_pearson_interval(r.deficient, 4)
    assert "(+" not in expressivity._fmt(r)


# ----------------------------------------------------------------------------- reproducibility

FAST = ("theorem-3.4-converse", "theorem-3.5-converse", "corollary-3.6-narrow", "probe-tanh")


def _numbers(seed, order):
    checks = {c.id: c for c in expressivity.CHECKS}
    ctx = Context(seed)
    return {i: json.dumps(run_check(checks[i], ctx).to_dict() | {"seconds": 0}, sort_keys=True) for i in order}


def test_the_same_seed_gives_byte_identical_verdicts_and_evidence():
    first = _numbers(3, FAST)
    again = _numbers(3, FAST[::-1])  # another order and a fresh context: each check's streams are its own
    assert first == again
    assert all(json.loads(v)["verdict"] == ("measured" if k.startswith("probe") else "holds") for k, v in first.items())
    assert _numbers(4, FAST[-1:]) != {k: v for k, v in first.items() if k == FAST[-1]}  # the seed matters


# ----------------------------------------------------------------------------- a decision made elsewhere

@pytest.mark.parametrize("holds, margin", [(True, 0.3), (False, 4.0), (True, math.nan), (False, math.nan)])
def test_an_observation_whose_margin_contradicts_it_is_refused(holds, margin):
    # holds=True with margin 0.3 gave a conclusive *holds* whose reported margin said violated
    with pytest.raises(ValueError, match=f"holds={holds} with margin=nan|holds={holds} with margin={margin}"):
        Evidence().observe("inertia", holds, margin=margin, conclusive=True)
    for ok in ((True, 1.0), (True, math.inf), (False, 1.0), (False, 0.0)):
        assert Evidence().observe("inertia", ok[0], margin=ok[1], conclusive=True).margin == ok[1]


# ----------------------------------------------------------------------------- a not-applicable summary

def test_a_converse_not_set_up_for_two_reasons_names_both():
    # the summary named only the broken hypothesis that holds, not the kept one that is unmet
    ev = Evidence()
    ev.exact("rank F_1", 150, 200)
    r = conclude("rank F_1 = N", [Hypothesis("n_1 ≥ N", False, "n_1 = 10")], ev,
                 broken=[Hypothesis("Assumption 3.1", True, "no shared patch")])
    assert r.verdict is Verdict.NOT_APPLICABLE
    assert r.summary == ("not applicable: converse of rank F_1 = N — the hypothesis to break holds on the instance: "
                         "Assumption 3.1 is met (no shared patch); and unmet hypothesis: n_1 ≥ N (n_1 = 10)")


# ----------------------------------------------------------------------------- corollary 3.6's hypotheses

def test_corollary_3_6_computes_that_the_wide_layer_is_the_last_hidden_one(monkeypatch):
    # the claim "through the wide last hidden layer" was quoted, not computed: a hidden layer after the wide one
    # (k = 1 < L − 1 = 2) met every listed hypothesis, and the fit through F_1 then crashed in the output layer
    from theory_lab.arch import Dense
    deeper = lambda shape, layers: Architecture(shape, (*layers[:-1], Dense(20, activation="relu"), layers[-1]))
    monkeypatch.setattr(expressivity, "Architecture", deeper)
    r = expressivity._corollary_3_6(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "unmet hypothesis: layer 1 is the last hidden layer (k = L−1) (k = 1, L = 3)" in r.summary


# ----------------------------------------------------------------------------- exit codes

@pytest.mark.parametrize("code", [0, None, 3])
def test_a_check_that_calls_sys_exit_is_an_error_not_the_runs_exit_code(tmp_path, local_registry, code):
    # SystemExit is not an Exception: sys.exit(0) inside a check ended verify with exit 0 and no report
    def run(ctx):
        raise SystemExit(code)
    local_registry += [Check("t-good", "T", "fine", _good), Check("t-exits", "T", "exits", run)]
    result = runner.invoke(app, ["verify", "--check", "t-*", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    by_id = {c["id"]: c for c in _strict_json(tmp_path / "results.json")["checks"]}
    assert by_id["t-good"]["verdict"] == "holds" and by_id["t-exits"]["verdict"] == "error"
    assert by_id["t-exits"]["summary"] == f"SystemExit: the check called sys.exit({code!r})"
