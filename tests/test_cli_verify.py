"""`theory-lab verify` end to end through typer's CliRunner."""

import json

import pytest
from typer.testing import CliRunner

from theory_lab import checking
from theory_lab.checking import Check, Hypothesis, Result, Verdict
from theory_lab.cli import app

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})  # no wrapping inside asserted phrases


@pytest.fixture
def local_registry(monkeypatch):
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def test_verify_assumption_3_1_writes_both_files(tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["verify", "--check", "assumption-3.1*", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "theory-lab verify (seed 0)" in result.output
    report = (out / "report.md").read_text()
    assert "| `assumption-3.1` | Assumption 3.1 |" in report and "`assumption-3.1-raw`" in report
    results = json.loads((out / "results.json").read_text())
    assert results["seed"] == 0 and "jax" in results["environment"]
    # issue 9.11: the data each check ran on (name, N, noise, seed), per check and for the run
    digits = {"name": "digits", "N": 200, "noise": 1e-6, "seed": 0}
    mnist1d = {"name": "mnist1d", "N": 200, "noise": 0.0, "seed": 42}
    assert digits in results["datasets"] and mnist1d in results["datasets"]
    by_id = {c["id"]: c for c in results["checks"]}
    assert by_id["assumption-3.1"]["datasets"] == [digits, mnist1d]
    assert {"name": "digits", "N": 200, "noise": 0.0, "seed": 0} in by_id["assumption-3.1-raw"]["datasets"]
    assert {"assumption-3.1", "assumption-3.1-raw"} <= set(by_id)
    assert all(i.startswith("assumption-3.1") for i in by_id) and f"{len(by_id)} checks in" in result.output
    main = by_id["assumption-3.1"]
    assert main["verdict"] == "holds" and main["kind"] == "check" and main["hypotheses_met"] is True
    assert all(set(h) == {"name", "met", "detail"} and h["met"] is True for h in main["hypotheses"])
    # the numbers behind the verdict: per instance, the patch report and the observations decided from it
    ev = main["evidence"]
    for name in ("digits-200", "mnist1d-200"):
        assert ev[name]["holds"] is True and ev[name]["min_distance"] > 0 and ev[name]["shared_patch_values"] == 0
    distances = [o for o in ev["observations"] if "smallest distance" in o["name"]]
    assert len(distances) == 2 and all(o["conclusive"] and o["tolerance"] == "distinct float64 vectors"
                                       for o in distances)
    assert main["summary"].startswith("holds: Assumption 3.1 on the default data")
    raw = by_id["assumption-3.1-raw"]
    assert raw["verdict"] == "holds" and raw["kind"] == "check"
    assert raw["evidence"]["raw"]["holds"] is False and raw["evidence"]["raw"]["shared_patch_values"] > 0
    assert raw["evidence"]["noise_1e-6"]["holds"] is True
    converse = by_id["assumption-3.1-converse"]
    assert converse["verdict"] == "holds" and converse["kind"] == "converse"
    broken = [h for h in converse["hypotheses"] if h["name"].startswith("Assumption 3.1")]
    assert len(broken) == 1 and broken[0]["met"] is False  # computed on the data with a duplicated sample


def _register(local_registry, check_id, verdict, raise_error=False):
    def run(ctx):
        if raise_error:
            raise RuntimeError("crashed on purpose")
        hyps = [Hypothesis("test hypothesis", True, "always met")]
        return Result(verdict, hyps, 0.5, {"observed": 1.0, "tolerance": 2.0}, f"deliberately {verdict.value}")

    local_registry.append(Check(check_id, "Test item", "a check registered by the test", run))


def test_a_failing_check_gives_exit_code_1(tmp_path, local_registry):
    _register(local_registry, "test-deliberately-fails", Verdict.FAILS)
    result = runner.invoke(app, ["verify", "--check", "test-deliberately-*", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "fails: test-deliberately-fails: deliberately fails" in result.output
    record = json.loads((tmp_path / "results.json").read_text())["checks"][0]
    assert record["verdict"] == "fails" and record["margin"] == 0.5
    assert record["evidence"] == {"observed": 1.0, "tolerance": 2.0}
    assert "**fails.** deliberately fails" in (tmp_path / "report.md").read_text()


def test_a_converse_breaking_its_hypothesis_is_set_up_and_the_report_says_its_verdict_once(tmp_path,
                                                                                           local_registry):
    def run(ctx):
        ev = checking.Evidence()
        ev.exact("rank F_1", 150, 200)  # the conclusion fails, as the converse means to show
        return checking.conclude("rank F_1 = N", [Hypothesis("n_1 >= N", True)], ev,
                                 broken=[Hypothesis("Assumption 3.1", False, "a duplicated sample")])
    local_registry.append(Check("test-converse", "Test item", "a converse", run, kind="converse"))
    result = runner.invoke(app, ["verify", "--check", "test-converse", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "test-converse" in line)
    assert "│ yes " in row and "│ no " not in row, row  # broken on purpose: set up as the rule needs
    assert "set up" in result.output and "hypotheses met" not in result.output
    report = (tmp_path / "report.md").read_text()
    assert "**holds.** converse of rank F_1 = N — violated" in report
    assert "**holds.** holds" not in report and "holds: converse" not in report


def test_crashing_check_gives_exit_code_1_with_traceback(tmp_path, local_registry):
    _register(local_registry, "test-crashes", None, raise_error=True)
    result = runner.invoke(app, ["verify", "--check", "test-crashes", "-o", str(tmp_path)])
    assert result.exit_code == 1
    record = json.loads((tmp_path / "results.json").read_text())["checks"][0]
    assert record["verdict"] == "error" and "RuntimeError: crashed on purpose" in record["error"]


@pytest.mark.parametrize("verdict", [Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE, Verdict.MEASURED])
def test_only_fails_and_errors_change_the_exit_code(tmp_path, local_registry, verdict):
    _register(local_registry, "test-soft", verdict)
    result = runner.invoke(app, ["verify", "--check", "test-soft", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_list_shows_registered_checks(tmp_path):
    result = runner.invoke(app, ["verify", "--list", "-o", str(tmp_path)])
    assert result.exit_code == 0
    for check_id in ("lemma-2.5", "assumption-3.1", "width-necessity"):
        assert check_id in result.output
    assert not (tmp_path / "results.json").exists()  # listing runs nothing
    result = runner.invoke(app, ["verify", "--list", "--kind", "converse"])
    assert result.exit_code == 0 and "assumption-3.1-converse" in result.output
    assert "lemma-2.5-converse" in result.output and "lemma-2.5 " not in result.output


def test_unknown_check_pattern_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["verify", "--check", "theorem-9.9*", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "no check matches ['theorem-9.9*']" in result.output and "known ids:" in result.output
    assert "lemma-2.5" in result.output
    assert not (tmp_path / "results.json").exists()


def test_bad_kind_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["verify", "--kind", "cheque", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "unknown kind(s) ['cheque']; choose check, converse or probe" in result.output
    result = runner.invoke(app, ["verify", "--check", "lemma-2.5", "--kind", "converse", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "no selected check has kind ['converse']" in result.output
    assert not (tmp_path / "results.json").exists()  # nothing ran, no empty report claims success


def test_output_path_that_is_a_file_is_refused_before_running(tmp_path, local_registry):
    ran = []
    local_registry.append(Check("test-records-run", "Test item", "records that it ran",
                                lambda ctx: ran.append(1) or Result(Verdict.HOLDS)))
    target = tmp_path / "taken"
    target.write_text("a file")
    result = runner.invoke(app, ["verify", "--check", "test-records-run", "-o", str(target)])
    assert result.exit_code == 2 and "is a file; give a folder" in result.output and ran == []


def test_select_by_item_name(tmp_path):
    result = runner.invoke(app, ["verify", "--list", "--check", "Assumption 3.1"])
    assert result.exit_code == 0 and "assumption-3.1-raw" in result.output and "lemma-2.5" not in result.output


@pytest.mark.parametrize("verdict", [Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE])
def test_strict_turns_not_applicable_and_inconclusive_into_exit_1(tmp_path, local_registry, verdict):
    _register(local_registry, "test-soft", verdict)
    result = runner.invoke(app, ["verify", "--strict", "--check", "test-soft", "-o", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert f"{verdict.value} (--strict): test-soft: deliberately {verdict.value}" in result.output


def test_strict_leaves_probes_and_holds_alone(tmp_path, local_registry):
    _register(local_registry, "test-holds", Verdict.HOLDS)
    local_registry.append(Check("test-probe", "Test item", "a probe", kind="probe",
                                run=lambda ctx: Result(Verdict.MEASURED, [Hypothesis("h", False)], None, {}, "m")))
    result = runner.invoke(app, ["verify", "--strict", "--check", "test-*", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
