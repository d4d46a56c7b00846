"""Session 32 (s32-a): every check's observations at seed 0 against a committed snapshot.

A bug that drops an observation (a loop over layers stopping one short, ``[:-1]`` on the instances, an early
``break``, one draw of three) leaves every comparison still made holding: the verdict stays *holds*. The snapshot
``tests/data/observations_seed0.json`` (written by ``python tools/observations.py --write``) keeps, per check, the
number of observations and their names; the first test compares the seed-0 run with it. The planted bugs
``s32a-*`` of tools/plant_bugs.py are each applied in memory to a copy of the module they sit in, and the record of
the check they reach must differ from the snapshot. docs/planted_bugs.md, "Session 32 — dropped observations".
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from theory_lab.checking import Context, discover, run_check

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    """``tools/{name}.py`` loaded, and left out of ``sys.modules`` again (hypothesis mixes the constants of every
    local module there into its draws: see conftest.py)."""
    spec = importlib.util.spec_from_file_location(f"_s32a_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name while they are made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


OBS = _tool("observations")
PLANT = _tool("plant_bugs")
SNAPSHOT = OBS.load()
RUNS = OBS.load_runs()  # the solver runs of the checks left out of SNAPSHOT (session 33)
BUGS = [b for b in PLANT.BUGS if b.id.startswith(("s32a-", "s33l-"))]


def test_every_check_observes_what_the_snapshot_says(seed0_records):
    """The seed-0 run of every covered check has the snapshot's observations, name for name."""
    checks = OBS.selected(discover())
    actual = OBS.from_records([seed0_records[c.id] for c in checks])
    lines = OBS.diff(SNAPSHOT, actual)
    assert not lines, OBS.message(lines)


def test_run_names_come_from_the_rows_not_from_computed_numbers():
    assert OBS._run_names({"a/minimum/0": {}, "a/any/1": {}}) == ["a/minimum/0", "a/any/1"]
    assert OBS._run_names([{"run": "identity/0", "loss": 3.0}, {"mode": "any", "loss": 1.0}, 7]) == \
        ["identity/0", "any #1", "run #2"]
    got = OBS.runs_from_results({"checks": [{"id": "narrow-critical-points", "evidence": {"runs": [{"mode": "m"}]}},
                                            {"id": "lemma-4.2", "evidence": {"runs": [{"mode": "m"}]}}]})
    assert got == {"narrow-critical-points": {"count": 1, "names": ["m #0"]}}  # only the EXCLUDED checks
    assert OBS.diff({"x": OBS.observed("x", ["a", "b"])}, {"x": OBS.observed("x", ["a"])}, what="runs")[0] \
        .startswith("x: 2 runs in the snapshot, 1 now")


def test_the_snapshot_leaves_out_only_registered_checks_with_a_reason():
    ids = {c.id for c in discover()}
    assert set(OBS.EXCLUDED) <= ids and set(OBS.PREFIX_ONLY) <= ids
    assert all(len(why) > 40 for why in {**OBS.EXCLUDED, **OBS.PREFIX_ONLY}.values())
    assert not set(OBS.EXCLUDED) & set(SNAPSHOT)
    assert not any(c.kind == "probe" for c in discover() if c.id in SNAPSHOT)
    doc = json.loads(OBS.SNAPSHOT.read_text())
    assert doc["seed"] == 0 and doc["excluded"] == OBS.EXCLUDED and OBS.REFRESH in doc["about"]
    assert all(r["count"] == len(r["names"]) > 0 for r in SNAPSHOT.values())


def test_diff_names_what_was_lost_and_gained_and_how_to_refresh():
    want = {"a": OBS.observed("a", ["x: U_1", "x: U_2", "y: U_1"]), "b": OBS.observed("b", ["n"]),
            "gone": OBS.observed("gone", ["n"])}
    got = {"a": OBS.observed("a", ["x: U_1", "y: U_1", "y: U_1"]), "b": OBS.observed("b", ["n"]),
           "new": OBS.observed("new", ["m"])}
    lines = OBS.diff(want, got)
    assert lines[0].startswith("a: 3 observations in the snapshot, 3 now")
    assert "lost: 'x: U_2'" in lines[0] and "gained: 'y: U_1'" in lines[0]  # a repeat is a gain too
    assert lines[1:] == ["gone: in the snapshot (1 observations) but not run",
                         "new: new check with 1 observations, not in the snapshot"]
    assert OBS.diff(want, {"b": got["b"]}, partial=True) == []
    assert "python tools/observations.py --write" in OBS.message(lines)


def test_prefix_only_checks_keep_the_instance_and_the_count():
    rec = OBS.observed("theorem-4.4", ["random 0: ∇_U_2 Φ = 0 with Φ = 7.615e+01", "Φ at the zero-loss point"])
    assert rec == {"count": 2, "names": ["random 0", "Φ at the zero-loss point"]}


def test_a_check_that_errors_loses_every_observation():
    results = {"checks": [{"id": "lemma-4.2", "kind": "check", "verdict": "error", "evidence": {}}]}
    lines = OBS.diff(SNAPSHOT, OBS.from_results(results), partial=True)
    assert len(lines) == 1 and lines[0].startswith(f"lemma-4.2: {SNAPSHOT['lemma-4.2']['count']} observations")
    assert lines[0].count("lost:") == SNAPSHOT["lemma-4.2"]["count"]


@pytest.mark.parametrize("argv, match", [
    (["--results", "/nonexistent/results.json"], "no such file"),
    (["--results", "x.json", "--write"], "do not pass --results"),
])
def test_bad_arguments_are_clear_errors(argv, match, capsys):
    with pytest.raises(SystemExit):
        OBS.main(argv)
    assert match in capsys.readouterr().err


def test_results_at_another_seed_are_refused(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"seed": 3, "checks": []}))
    with pytest.raises(SystemExit):
        OBS.main(["--results", str(path)])
    assert "seed 3" in capsys.readouterr().err


def _planted(module_name: str, patches, monkeypatch):
    """A copy of ``module_name`` with ``patches`` applied to its source, executed as a fresh module."""
    path = ROOT / (module_name.replace(".", "/") + ".py")
    text = path.read_text()
    for _, old, new in patches:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    package, _, leaf = module_name.rpartition(".")
    module = types.ModuleType(f"{package}._s32a_{leaf}")
    module.__file__, module.__package__ = str(path), package
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(text, str(path), "exec"), module.__dict__)
    return module


@pytest.fixture
def planted_context(seed0_records):
    """A seed-0 context that starts from what the session's run built (the instances, data sets) but keeps what a
    planted copy builds to itself: nothing of a planted check reaches the session's cache."""
    ctx = Context(seed=0)
    ctx._cache = dict(seed0_records.context._cache)
    return ctx


@pytest.mark.parametrize("bug", BUGS, ids=[b.id for b in BUGS])
def test_a_dropped_observation_differs_from_the_snapshot(bug, planted_context, monkeypatch):
    """Each ``s32a-*`` bug, planted in memory, makes the check it reaches lose an observation (its verdict may still
    be *holds*: verify alone saw 1 of the 10)."""
    expected = RUNS if bug.checks[0] in OBS.EXCLUDED else SNAPSHOT  # a solver check: its runs, not observations
    check_id = next(i for i in expected if fnmatch.fnmatch(i, bug.checks[0]))
    (path,) = {p for p, _, _ in bug.patches}
    module = _planted(path[:-3].replace("/", "."), bug.patches, monkeypatch)
    if path.startswith("theory_lab/"):  # the checks reach the library through `from theory_lab import x`
        real, leaf = sys.modules[path[:-3].replace("/", ".")], Path(path).stem
        for name, mod in list(sys.modules.items()):
            if name.startswith("proofs_checks.") and getattr(mod, leaf, None) is real:
                monkeypatch.setattr(mod, leaf, module)
        check = next(c for c in discover() if c.id == check_id)
    else:
        check = next(c for c in module.CHECKS if c.id == check_id)
    rec = run_check(check, planted_context)
    assert rec.error is None, rec.error
    if expected is RUNS:
        lines = OBS.diff({check_id: RUNS[check_id]}, OBS.runs_from_records([rec]), what="runs")
    else:
        lines = OBS.diff({check_id: SNAPSHOT[check_id]}, OBS.from_records([rec]))
    assert lines and "lost:" in lines[0], (bug.id, rec.result.summary)
