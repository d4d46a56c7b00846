"""The benchmark protocol under test (session 33): ``benchmarks/protocol.py`` and the scripts' pure parts.

Every performance claim in ``benchmarks/RESULTS.md`` comes from :mod:`protocol` (warm workers, rotating
rounds, min/median, per-round ratios, CPU time and load per call) and the ``bench_*.py`` scripts that use
it (errors against a dense reference, product counts, the rendered tables). These tests drive the real
protocol with a trivial side module (``tests/data/bench_side_s33.py``: known sleeps, known CPU burns,
known product counts, eigenvalues off by known relative errors) and check the scripts' arithmetic with
hand-computed numbers. No wall time is bounded from above: a sleeping side's time is at least its sleep,
a burning side's CPU time at least its burn (``time.process_time`` of the worker, which the load cannot
lower), nothing more.
"""

from __future__ import annotations

import importlib
import os
import statistics
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SIDE = Path(__file__).resolve().parent / "data" / "bench_side_s33.py"
sys.path.insert(0, str(BENCH))
protocol = importlib.import_module("protocol")
bench_spectrum = importlib.import_module("bench_spectrum")
bench_cli = importlib.import_module("bench_cli")
bench_resnet = importlib.import_module("bench_resnet")


@pytest.fixture
def workers():
    """Start workers on the test side module; every one is closed (and checked gone) at the end."""
    made = []

    def make(name, **kw):
        w = protocol.Worker(name, SIDE, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close(timeout=10)
        assert w.proc.poll() is not None, f"worker {w.name} still running"


def _log_lines(path):
    return [line.split() for line in Path(path).read_text().splitlines()]


# ---------------------------------------------------------------- summarize: hand-computed


def test_summarize_median_of_per_round_ratios_not_ratio_of_medians():
    # per round 1/4, 2/1, 9/3 = 0.25, 2, 3 -> median 2; the ratio of the medians would be 2/3
    r = protocol.summarize({"ours": [1.0, 2.0, 9.0], "base": [4.0, 1.0, 3.0]}, reference="base")
    ours = r["ours"]
    assert ours["times_s"] == [1.0, 2.0, 9.0]
    assert ours["min_s"] == 1.0 and ours["median_s"] == 2.0
    assert ours["ratios"] == [0.25, 2.0, 3.0]
    assert ours["median_ratio"] == 2.0
    assert ours["min_ratio_of_mins"] == 1.0
    assert r["base"]["ratios"] == [1.0, 1.0, 1.0] and r["base"]["median_ratio"] == 1.0
    assert r["base"]["min_s"] == 1.0 and r["base"]["median_s"] == 3.0


def test_summarize_pairs_rounds_in_order():
    # the same times paired in another order give other ratios: ratios are per round, not sorted
    r = protocol.summarize({"a": [3.0, 1.0, 2.0, 8.0], "b": [1.0, 2.0, 4.0, 2.0]}, reference="b")
    assert r["a"]["ratios"] == [3.0, 0.5, 0.5, 4.0]
    assert r["a"]["median_ratio"] == pytest.approx(1.75, rel=1e-15)  # even count: mean of 0.5 and 3
    assert r["a"]["median_s"] == 2.5 and r["a"]["min_ratio_of_mins"] == 1.0


# ---------------------------------------------------------------- interleave with real workers


def test_rotation_puts_every_side_in_every_position(workers, tmp_path):
    log = tmp_path / "calls.log"
    labels = ["a", "b", "c"]
    calls = {lab: (workers(lab), "task", (lab, str(log))) for lab in labels}
    res = protocol.interleave(calls, rounds=6, reference="a")
    orders = [[lab for lab, _ in row] for row in res["rounds"]]
    assert orders == [["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"], ["a", "c", "b"], ["c", "a", "b"],
                      ["b", "a", "c"]]
    for pos in range(3):
        assert {o[pos] for o in orders} == set(labels)
    for x in labels:  # each side runs before each other side in half of the rounds
        for y in set(labels) - {x}:
            assert sum(o.index(x) < o.index(y) for o in orders) == 3
    # the recorded order is the order the workers really ran in: 3 untimed first calls, then the rounds
    real = [tag for tag, _ in _log_lines(log)]
    assert real[:3] == labels
    assert real[3:] == [lab for o in orders for lab in o]


@pytest.mark.parametrize("n", range(1, 9))
def test_round_order_is_a_williams_design(n):
    """Over a full cycle (n rounds for even n, 2n for odd): every round a permutation, every side in every
    position equally often, before every other side in exactly half of the rounds, and immediately before
    every other side equally often (the first-order carry-over a cyclic shift leaves unbalanced)."""
    cycle = n if n % 2 == 0 else 2 * n
    rows = [protocol.round_order(n, r) for r in range(cycle)]
    assert all(sorted(row) == list(range(n)) for row in rows)
    for i in range(n):
        assert {sum(row[k] == i for row in rows) for k in range(n)} == {cycle // n}
        for j in set(range(n)) - {i}:
            assert sum(row.index(i) < row.index(j) for row in rows) * 2 == cycle
            assert sum((a, b) == (i, j) for row in rows for a, b in zip(row, row[1:])) == cycle // n
    # the design repeats with its cycle
    assert [protocol.round_order(n, r + cycle) for r in range(cycle)] == rows


def test_round_order_refuses_nonsense():
    with pytest.raises(ValueError, match=r"`n`=0 sides"):
        protocol.round_order(0, 0)
    with pytest.raises(ValueError, match=r"round `r`=-1"):
        protocol.round_order(3, -1)


def test_a_cyclic_shift_is_not_pair_balanced_with_three_sides():
    """Why the design is needed: the old cyclic rotation ran a before b in 2 of every 3 rounds."""
    labels = ["a", "b", "c"]
    cyclic = [labels[r % 3:] + labels[:r % 3] for r in range(6)]
    assert sum(o.index("a") < o.index("b") for o in cyclic) == 4  # of 6
    williams = [[labels[i] for i in protocol.round_order(3, r)] for r in range(6)]
    assert sum(o.index("a") < o.index("b") for o in williams) == 3


def test_rotation_two_sides_alternates_who_goes_first(workers, tmp_path):
    calls = {lab: (workers(lab), "task", (lab,)) for lab in ("x", "y")}
    res = protocol.interleave(calls, rounds=5, reference="y")
    assert [row[0][0] for row in res["rounds"]] == ["x", "y", "x", "y", "x"]


def test_first_call_is_not_timed_with_the_rounds(workers):
    # the first call sleeps 0.4 s more: it must show in "first" and in no round
    calls = {"slow-start": (workers("s"), "task", ("s", None, 0.0, 0.0, 0.4)), "ref": (workers("r"), "task", ("r",))}
    res = protocol.interleave(calls, rounds=5, reference="ref")
    assert res["first"]["slow-start"]["value"]["index"] == 1
    assert res["first"]["slow-start"]["wall_s"] >= 0.4
    timed = [reply for row in res["rounds"] for lab, reply in row if lab == "slow-start"]
    assert [reply["value"]["index"] for reply in timed] == [2, 3, 4, 5, 6]
    s = res["summary"]["slow-start"]
    assert len(s["times_s"]) == 5
    assert s["times_s"] == [reply["wall_s"] for reply in timed]  # the summary is made of exactly the timed replies
    assert res["first"]["slow-start"]["wall_s"] not in s["times_s"]
    assert res["warmups"] is None


def test_warm_each_precedes_each_timed_call_by_an_untimed_one(workers, tmp_path):
    log = tmp_path / "calls.log"
    calls = {lab: (workers(lab), "task", (lab, str(log))) for lab in ("a", "b")}
    res = protocol.interleave(calls, rounds=5, reference="b", warm_each=True)
    for lab in ("a", "b"):
        timed = [reply["value"]["index"] for row in res["rounds"] for la, reply in row if la == lab]
        assert timed == [3, 5, 7, 9, 11]  # 1 first call, then (untimed, timed) pairs
        assert len(res["warmups"][lab]) == 5 and all(t >= 0 for t in res["warmups"][lab])
    # in the real call order, each timed call comes right after its own warm-up, in the rotation's slot
    real = _log_lines(log)[2:]
    assert [tag for tag, _ in real] == ["a", "a", "b", "b", "b", "b", "a", "a", "a", "a", "b", "b", "b", "b", "a",
                                        "a", "a", "a", "b", "b"]


def test_times_min_median_and_ratios_from_known_sleeps(workers):
    calls = {"long": (workers("l"), "task", ("l", None, 0.12)), "short": (workers("s"), "task", ("s", None, 0.03))}
    res = protocol.interleave(calls, rounds=5, reference="short")
    s = res["summary"]
    for lab, sleep in (("long", 0.12), ("short", 0.03)):
        ts = s[lab]["times_s"]
        assert len(ts) == 5 and min(ts) >= sleep
        assert s[lab]["min_s"] == min(ts) and s[lab]["median_s"] == statistics.median(ts)
    rows = {lab: [reply["wall_s"] for row in res["rounds"] for la, reply in row if la == lab] for lab in calls}
    assert s["long"]["ratios"] == [a / b for a, b in zip(rows["long"], rows["short"])]
    assert s["long"]["median_ratio"] == statistics.median(s["long"]["ratios"])
    assert s["short"]["ratios"] == [1.0] * 5


def test_cpu_time_is_the_workers_and_load_is_recorded(workers):
    # the burning side's worker receives ≥ 0.15 s of CPU per call (its own process_time); the parent, which only
    # waits on a pipe, receives nearly none. The sleeping side receives next to no CPU.
    calls = {"burn": (workers("b"), "task", ("b", None, 0.0, 0.15)), "sleep": (workers("s"), "task", ("s", None, 0.15))}
    res = protocol.interleave(calls, rounds=5, reference="sleep")
    burn = [reply for row in res["rounds"] for lab, reply in row if lab == "burn"]
    sleep = [reply for row in res["rounds"] for lab, reply in row if lab == "sleep"]
    assert all(r["cpu_s"] >= 0.15 for r in burn)
    assert all(r["cpu_s"] < 0.075 for r in sleep)  # a CPU bound, not a time bound: sleeping costs no CPU
    assert res["cpu_share"]["burn"] == statistics.median(r["cpu_s"] / r["wall_s"] for r in burn)
    assert res["cpu_share"]["sleep"] < 0.5
    assert {r["value"]["pid"] for r in burn} != {os.getpid()}
    for lab in calls:
        assert len(res["load"][lab]) == 5
        assert all(isinstance(x, float) and x >= 0 for x in res["load"][lab])
        assert len(res["idle"][lab]) == 5 and all(x is not None and x >= 0 for x in res["idle"][lab])


def test_worker_environment(workers):
    base = workers("base").call("task", "e")["value"]
    assert base["openblas"] == "1" and base["omp"] == "1"
    torch2 = workers("t2", env=protocol.torch_env(2)).call("task", "e")["value"]
    assert torch2["omp"] == "2" and torch2["wait_policy"] == "PASSIVE" and torch2["openblas"] == "1"
    torch1 = workers("t1", env=protocol.torch_env(1)).call("task", "e")["value"]
    assert torch1["omp"] == "1"
    with pytest.raises(ValueError, match=r"`threads`=3: choose 1 or 2"):
        protocol.torch_env(3)


def test_idle_gap_first_call_none_then_measured(workers):
    w = workers("w")
    assert w.call("task", "w")["idle_s"] is None
    assert w.call("task", "w")["idle_s"] >= 0


# ---------------------------------------------------------------- failures: clear errors, no hang, no leftovers


def test_side_exception_is_a_clear_error_and_the_worker_lives_on(workers):
    w = workers("w")
    with pytest.raises(RuntimeError, match=r"(?s)worker w: fail failed:.*ValueError: planted failure in the side"):
        w.call("fail")
    assert w.call("task", "w")["value"]["index"] == 1


def test_unpicklable_value_is_an_error_reply_not_a_dead_worker(workers):
    w = workers("w")
    with pytest.raises(RuntimeError, match=r"(?s)worker w: unpicklable failed:.*(pickle|Pickl)"):
        w.call("unpicklable")
    assert w.call("task", "w")["value"]["index"] == 1


def test_worker_that_dies_gives_an_error_with_its_exit_code(workers):
    w = workers("w")
    with pytest.raises(RuntimeError, match=r"worker w died during die \(exit code 3"):
        w.call("die")
    with pytest.raises(RuntimeError, match=r"worker w had died before task \(exit code 3"):
        w.call("task", "w")


def test_side_module_that_fails_to_import(tmp_path):
    bad = tmp_path / "bad_side.py"
    bad.write_text("raise ImportError('planted: this side cannot import')\n")
    w = protocol.Worker("bad", bad)
    try:
        w.proc.wait(timeout=60)  # it has died; the next call must say so, whichever way the pipe breaks
        with pytest.raises(RuntimeError, match=r"worker bad (had died before|died during) task \(exit code 1"):
            w.call("task", "x")
    finally:
        w.close(timeout=10)
    assert w.proc.poll() == 1


def test_missing_side_module_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`path`=.*nope\.py.*no such side module"):
        protocol.Worker("x", tmp_path / "nope.py")


def test_close_ends_the_worker_and_kills_one_that_will_not_exit(tmp_path):
    with protocol.Worker("w", SIDE) as w:
        w.call("task", "w")
    assert w.proc.poll() == 0
    assert w.close() == 0  # twice is fine
    with pytest.raises(RuntimeError, match=r"called task after close\(\)"):
        w.call("task", "w")
    stuck = tmp_path / "stuck_side.py"  # a side whose non-daemon thread keeps the interpreter alive after EOF
    stuck.write_text("import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n"
                     "def ping():\n    return 1\n")
    w = protocol.Worker("stuck", stuck)
    assert w.call("ping")["value"] == 1
    assert w.close(timeout=0.5) < 0  # killed, not waited for for ten minutes
    assert w.proc.poll() is not None


def test_worker_closed_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with protocol.Worker("w", SIDE) as w:
            w.call("fail")
    assert w.proc.poll() == 0


def test_interleave_refuses_bad_rounds_and_reference_before_any_call(workers, tmp_path):
    log = tmp_path / "calls.log"
    calls = {"a": (workers("a"), "task", ("a", str(log)))}
    with pytest.raises(ValueError, match=r"`rounds`=4 must be at least 5"):
        protocol.interleave(calls, rounds=4, reference="a")
    with pytest.raises(ValueError, match=r"`rounds`=0 must be at least 1"):
        protocol.interleave(calls, rounds=0, reference="a", min_rounds=1)
    with pytest.raises(ValueError, match=r"`reference`='torch' is not one of the calls \['a'\]"):
        protocol.interleave(calls, rounds=5, reference="torch")
    assert not log.exists()  # no call was made
    res = protocol.interleave(calls, rounds=2, reference="a", min_rounds=2)  # a run too slow for 5, said so
    assert len(res["summary"]["a"]["times_s"]) == 2


# ---------------------------------------------------------------- bench_spectrum: errors, products, tables


@pytest.fixture
def spectrum_run(workers, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_spectrum, "CACHE", tmp_path)
    monkeypatch.setattr(bench_spectrum, "log", lambda msg: None)
    path = tmp_path / "init.npz"
    np.savez(path, theta=np.zeros(3), X=np.arange(12.0).reshape(4, 3), Y=np.ones((4, 2)))
    ours, theirs = workers("ours"), workers("torch")
    return bench_spectrum.run_point("init", path, ours, theirs, 5, 2)


def test_spectrum_errors_against_the_dense_reference(spectrum_run):
    out = spectrum_run
    assert out["reference"]["top5"] == [10.0, 8.0, 6.0, 4.0, 2.0]
    t = out["top5"]
    # ours: the k-th call off by (10 - k)e-9; the timed calls are k = 2..6, so the max over rounds is 8e-9
    assert t["theory-lab"]["max_rel_error"] == pytest.approx(8e-9, rel=1e-6, abs=0)
    assert t["pyhessian"]["max_rel_error"] == pytest.approx(1e-2, rel=1e-9)
    assert t["curvlinops+eigsh"]["max_rel_error"] == pytest.approx(1e-6, rel=1e-6)
    assert t["pyhessian"]["values"][0] == pytest.approx(9.9, rel=1e-15)


def test_spectrum_products_passed_through_per_side(spectrum_run):
    t = spectrum_run["top5"]
    assert t["theory-lab"]["products"] == [31] * 5
    assert t["pyhessian"]["products"] == [211] * 5
    assert t["curvlinops+eigsh"]["products"] == [47] * 5
    assert set(t["summary"]) == {"theory-lab", "pyhessian", "curvlinops+eigsh", "theory-lab gradient"}
    assert all(r == 1.0 for r in t["summary"]["pyhessian"]["ratios"])  # the reference is PyHessian


def test_spectrum_dense_agreement(spectrum_run):
    out = spectrum_run
    assert out["dense_N"] == 2
    a = out["dense"]["agreement"]
    assert a["trace_rel"] == pytest.approx(0.5 / 100, rel=1e-12)
    assert a["frobenius_rel"] == pytest.approx(0.1 / 50, rel=1e-9)
    assert a["torch_asymmetry_rel"] == pytest.approx(1e-3 / 50.1, rel=1e-12)
    assert set(out["dense"]["summary"]) == {"theory-lab", "torch"}
    assert out["dense"]["summary"]["torch"]["ratios"] == [1.0] * 5


def test_spectrum_cached_reference_is_used_only_for_its_own_point(workers, tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(bench_spectrum, "CACHE", tmp_path)
    monkeypatch.setattr(bench_spectrum, "log", lambda msg: None)
    path = tmp_path / "init.npz"
    np.savez(path, theta=np.zeros(3), X=np.ones((4, 3)), Y=np.ones((4, 2)))
    digest = bench_spectrum.point_digest(path)
    np.savez(tmp_path / "other.npz", theta=np.zeros(3) + 1e-12, X=np.ones((4, 3)), Y=np.ones((4, 2)))
    assert bench_spectrum.point_digest(tmp_path / "other.npz") != digest
    ours, theirs = workers("ours"), workers("torch")
    cached = tmp_path / "init-reference.json"
    stale = {"top5": [20.0, 8.0, 6.0, 4.0, 2.0], "min": 0.0, "trace": 0.0, "frobenius": 0.0}
    for key, expect in ((None, 10.0), ("0" * 64, 10.0), (digest, 20.0)):  # no digest / another point's / this one's
        cached.write_text(json.dumps(dict(stale, point_sha256=key) if key else stale))
        out = bench_spectrum.run_point("init", path, ours, theirs, 5, 0)
        assert out["reference"]["top5"][0] == expect
        assert json.loads(cached.read_text())["point_sha256"] == digest
        err = out["top5"]["curvlinops+eigsh"]["max_rel_error"]
        assert err == (pytest.approx(0.5, rel=1e-12) if expect == 20.0 else pytest.approx(1e-6, rel=1e-6))


def test_spectrum_rel_err_hand_values():
    assert bench_spectrum.rel_err([10.0, 4.2], [10.0, 4.0]) == pytest.approx(0.05, rel=1e-12)
    assert bench_spectrum.rel_err([-2.2, 1.0], [-2.0, 1.0]) == pytest.approx(0.1, rel=1e-12)


def _hand_results():
    """A results dict with hand-chosen times: 3 rounds, ours 1, 2, 9 s against PyHessian 4, 1, 3 s."""
    times = {"theory-lab": [1.0, 2.0, 9.0], "pyhessian": [4.0, 1.0, 3.0], "curvlinops+eigsh": [2.0, 4.0, 3.0],
             "theory-lab gradient": [0.05, 0.4, 0.3]}
    top5 = {"summary": protocol.summarize(times, "pyhessian"), "cpu_share": {k: 1.0 for k in times},
            "load": {k: [0.5, 0.7, 0.6] for k in times}}
    for label, prods, err in (("theory-lab", 10, 1e-15), ("pyhessian", 200, 1e-2), ("curvlinops+eigsh", 40, 2e-15)):
        top5[label] = {"products": [prods] * 3, "max_rel_error": err, "values": [1.0] * 5}
    machine = {"date": "2026-12-03T12:00+00:00", "cpu": "test", "cores": 2, "platform": "linux", "python": "3",
               "load_average": [0.5, 0.5, 0.5]}
    return {"machine": machine, "rounds": 3, "points": {"init": {"loss": 1.0, "gradient_norm": 2.0, "how": "hand"}},
            "init": {"top5": top5, "reference": {"top5": [1.0] * 5, "min": -1.0}}}


def test_spectrum_section_reports_median_of_per_round_ratios():
    text = bench_spectrum.section(_hand_results(), "versions")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    # ours / PyHessian per round 0.25, 2, 3: median 2.00 (ratio of medians would be 0.67)
    assert "**2.00** (0.25, 2.00, 3.00)" in rows["pyhessian"]
    # ours / curvlinops per round 0.5, 0.5, 3: median 0.50 (ratio of medians 0.67)
    assert "**0.50** (0.50, 0.50, 3.00)" in rows["curvlinops+eigsh"]
    assert "| 200 | 1.0e-02 | 1.000 | 3.000 |" in rows["pyhessian"]
    assert "| 10 | 1.0e-15 | 1.000 | 2.000 |" in rows["theory-lab"]
    # one product = ours / products / gradient per round: 2, 0.5, 3 -> median 2.00 (ratio of medians 0.67)
    assert "took 2.00× our gradient (median over rounds; per round 2.00, 0.50, 3.00)" in text
    assert "then 3 rounds" in text and "Load during the rounds 0.5–0.7" in text


# ---------------------------------------------------------------- bench_resnet: the tables' numbers


def test_resnet_timed_and_rows():
    times = {"hutch++": [1.0, 2.0, 9.0], "pyhessian": [4.0, 1.0, 3.0]}
    res = {"summary": protocol.summarize(times, "pyhessian"), "cpu_share": {"hutch++": 0.9, "pyhessian": 1.8},
           "load": {"hutch++": [1.234, 1.5], "pyhessian": [0.25, 2.0]},
           "first": {"hutch++": {"wall_s": 7.5}, "pyhessian": {"wall_s": 0.5}},
           "rounds": [[("hutch++", {"value": "old"}), ("pyhessian", {"value": "old"})],
                      [("pyhessian", {"value": {"products": 3}}), ("hutch++", {"value": {"products": 40}})]]}
    t = bench_resnet._timed(res)
    assert t["values"] == {"hutch++": {"products": 40}, "pyhessian": {"products": 3}}  # the last round's
    assert t["first_s"] == {"hutch++": 7.5, "pyhessian": 0.5} and t["load"]["hutch++"] == [1.23, 1.5]
    rows = bench_resnet._rows(t, "pyhessian", {"products": {"hutch++": "40", "pyhessian": "3"}})
    assert rows[2] == "| hutch++ | 7.50 | 1.000 | 2.000 | 0.90 | 2.00 (rounds: 0.25, 2.00, 3.00) | 40 |"
    assert rows[3] == "| pyhessian | 0.50 | 1.000 | 3.000 | 1.80 | 1.00 (rounds: 1.00, 1.00, 1.00) | 3 |"
    assert rows[-1] == "Load average before each call: 0.2–2.0."


def _resnet_results(reference: bool) -> dict:
    machine = {"date": "d", "cpu": "c", "cores": 2, "load_average": [1.0, 1.0, 1.0]}
    times = {"theory-lab": [1.0, 2.0, 9.0], "pyhessian": [4.0, 1.0, 3.0]}
    ours = {"values": [3.0, 2.0], "residuals": [1e-12, 1e-12], "tol": 1e-9, "converged": True, "depth": 9,
            "products": 9}
    top5 = {"summary": protocol.summarize(times, "pyhessian"), "cpu_share": {"theory-lab": 1.0, "pyhessian": 1.0},
            "load": {"theory-lab": [1.0], "pyhessian": [1.0]}, "first_s": {"theory-lab": 5.0, "pyhessian": 1.0},
            "values": {"theory-lab": ours, "pyhessian": {"values": [3.3, 2.0], "products": 60}},
            "pyhessian_rel_err": 0.1}
    if reference:
        top5.update(reference={"depth": 18, "values": [3.0, 2.0], "residuals": [0.0, 0.0]}, rel_err=0.0)
    else:
        top5.update(rel_err_bound=5e-13)
    return {"P": 1000, "n": 10, "widths": (4,), "batch": 5, "rounds": 3, "machine": machine, "machine_end": machine,
            "jax": "j", "backend": "cpu", "torch": "t", "torch_threads": 2, "batch_norm": True, "command": "cmd",
            "twins": {}, "top5": top5}


def test_resnet_section_top5_says_what_the_pyhessian_error_is_against():
    with_ref = bench_resnet.section(_resnet_results(True))
    assert "| theory-lab | 5.00 | 1.000 | 2.000 | 1.00 | 2.00 (rounds: 0.25, 2.00, 3.00) | 9 |" in with_ref
    assert "(fewer than the protocol's 5" in with_ref
    assert "max relative error 1.0e-01 against the reference (both in descending order" in with_ref
    without = bench_resnet.section(_resnet_results(False))
    assert "No reference run at this size" in without
    assert "max relative error 1.0e-01 against ours (no reference run)." in without


def test_resnet_rel():
    assert bench_resnet._rel([3.0, 4.0], [0.0, 5.0]) == pytest.approx(np.sqrt(10.0) / 5.0, rel=1e-15)


# ---------------------------------------------------------------- bench_cli: cold vs second, children's CPU

FAKE_CLI = """#!{python}
import os, sys, time
cache = os.environ["THEORY_LAB_COMPILE_CACHE"]
cold = not os.path.exists(os.path.join(cache, "filled"))
print("out", sys.argv[sys.argv.index("--out") + 1], flush=True)
c0 = time.process_time()
while time.process_time() - c0 < (0.2 if cold else 0.02):
    pass
print(f"top-5: cold={{cold}}", flush=True)
os.makedirs(cache, exist_ok=True)
open(os.path.join(cache, "filled"), "w").close()
print("done", flush=True)
sys.exit(int(os.environ.get("FAKE_CLI_RC", "0")))
"""


@pytest.fixture
def fake_cli(tmp_path):
    script = tmp_path / "fake-theory-lab"
    script.write_text(FAKE_CLI.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_cli_run_once_children_cpu_and_first_result(fake_cli, tmp_path, monkeypatch):
    r = bench_cli.run_once([str(fake_cli)], tmp_path / "cache", tmp_path / "out")
    texts = [text for _, text in r["lines"]]
    assert texts == [f"out {tmp_path / 'out'}", "top-5: cold=True", "done"]
    assert r["cpu_s"] >= 0.2  # the child's CPU (its burn), not this process's
    assert 0 <= r["lines"][0][0] <= r["first_result_s"] <= r["wall_s"]
    assert r["first_result_s"] == r["lines"][1][0]
    assert isinstance(r["load"], float)
    monkeypatch.setenv("FAKE_CLI_RC", "4")
    with pytest.raises(RuntimeError, match=r"(?s)fake-theory-lab exited 4:.*top-5: cold=False"):
        bench_cli.run_once([str(fake_cli)], tmp_path / "cache", tmp_path / "out")


def test_cli_main_cold_then_second_and_per_round_ratios(fake_cli, tmp_path, capsys):
    res = bench_cli.main(["--rounds", "2", "--json", str(tmp_path / "cli.json"), "--theory-lab", str(fake_cli)])
    assert len(res["rounds"]) == 2
    for row in res["rounds"]:  # each round: a new, empty cache, then the same one filled
        assert "top-5: cold=True" in [t for _, t in row["cold"]["lines"]]
        assert "top-5: cold=False" in [t for _, t in row["second"]["lines"]]
        assert row["cold"]["cpu_s"] >= 0.2
    for what in ("first_result_s", "wall_s"):
        ratios = [r["second"][what] / r["cold"][what] for r in res["rounds"]]
        s = res["summary"][what]
        assert s["ratios"] == [round(x, 3) for x in ratios]
        assert s["ratio_median"] == round(statistics.median(ratios), 3)
        assert s["cold_min"] == min(r["cold"][what] for r in res["rounds"])
        assert s["second_median"] == statistics.median(r["second"][what] for r in res["rounds"])


# ---------------------------------------------------------------- bench_critical: the table's ratio


def test_critical_section_ratio_is_baseline_time_over_ours():
    bench_critical = importlib.import_module("bench_critical")
    ours = {"seconds": 10.0, "converged": True, "iterations": 40, "grad_norm": 5e-11, "loss": 1e-20, "in_S_k": True}
    base = {"adam_seconds": 3.0, "adam_grad_norm": 1e-3, "best_grad_norm": 8e-11, "best_at_seconds": 25.0,
            "seconds": 25.0, "trace": []}
    results = {"part1": {50: {"ours": ours, "baseline": dict(base, reached_seconds=25.0)},
                         100: {"ours": dict(ours, seconds=40.0, converged=False),
                               "baseline": dict(base, reached_seconds=None, best_grad_norm=1e-6, seconds=60.0)}},
               "theorem_4_5": {}, "narrow": {"minimum": {"counts": {}, "critical_losses": []},
                                             "any": {"counts": {}, "critical_losses": []}},
               "outside": {"counts": {}, "loss_max": 0.0, "max ‖U_L 1‖ (full rank A)": None,
                           "max ‖U_L 1‖ (deficient A)": None, "bound_holds": True}}
    rows = [line for line in bench_critical.section(results, "1.0", ["cmd"]).splitlines() if line.startswith("| 50 |")
            or line.startswith("| 100 |")]
    assert rows[0] == "| 50 | 10.0 s | 40 | 5.0e-11 | 1.0e-20 | True | 8.0e-11 | 25.0 s | 25.0 s | 2.50 |"
    assert rows[1] == ("| 100 | 40.0 s (NOT converged) | 40 | 5.0e-11 | 1.0e-20 | True | 1.0e-06 | 25.0 s | "
                       "no (budget 60 s) | baseline never reached 1e-10 |")

