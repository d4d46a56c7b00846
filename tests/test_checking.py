"""Verdicts, the verdict vocabulary (Evidence, theorem and converse rules, conclude), the registry and the runner."""

import json

import jax
import numpy as np
import pytest

from theory_lab import checking
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, discover, register, run_check


@pytest.fixture
def local_registry(monkeypatch):
    """A fresh in-process registry, so registered test checks never leak into other tests."""
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def test_discover_finds_the_entry_point_checks(local_registry):
    checks = discover()
    ids = [c.id for c in checks]
    assert {"lemma-2.5", "assumption-3.1", "assumption-3.1-raw", "theorem-3.5-default",
            "width-necessity"} <= set(ids)
    assert len(ids) == len(set(ids))
    assert all(isinstance(c, Check) and c.kind in ("check", "converse", "probe") for c in checks)


def test_register_and_duplicate_ids(local_registry):
    extra = register(Check("test-extra", "Example", "an extra check", lambda ctx: Result(Verdict.HOLDS)))
    assert extra in discover()
    register(Check("lemma-2.5", "Lemma 2.5", "a second lemma-2.5", lambda ctx: Result(Verdict.HOLDS)))
    with pytest.raises(ValueError, match=r"check ids \['lemma-2.5'\] are registered twice; give each check a unique"):
        discover()


def test_run_check_turns_exceptions_into_error_verdicts():
    def boom(ctx):
        raise ZeroDivisionError("division by zero in the test")

    rec = run_check(Check("boom", "Example", "crashes", boom), Context(0))
    assert rec.result.verdict is Verdict.ERROR
    assert rec.result.summary == "ZeroDivisionError: division by zero in the test"
    assert "Traceback" in rec.error and "boom" in rec.error
    assert rec.seconds >= 0 and rec.to_dict()["error"] == rec.error

    rec = run_check(Check("bad-return", "Example", "returns a string", lambda ctx: "holds"), Context(0))
    assert rec.result.verdict is Verdict.ERROR
    assert "check 'bad-return' returned str, expected Result" in rec.result.summary


def test_run_check_records_a_result():
    hyps = [Hypothesis("N = 3", True, "detail")]
    rec = run_check(Check("ok", "Example", "holds", lambda ctx: Result(Verdict.HOLDS, hyps, 12.5, {"x": 1})),
                    Context(0))
    d = rec.to_dict()
    assert d["id"] == "ok" and d["verdict"] == "holds" and d["margin"] == 12.5 and "error" not in d
    assert d["hypotheses"] == [{"name": "N = 3", "met": True, "detail": "detail"}] and d["hypotheses_met"]


def test_result_to_dict_is_json_ready():
    r = Result(Verdict.INCONCLUSIVE, [Hypothesis("h", False)], float("inf"),
               {"sv": np.array([1.0, 2.0]), "n": np.int64(3), "ok": np.bool_(True), "j": jax.numpy.ones(2),
                "nested": {1: (np.float64(np.nan),)}})
    d = r.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["evidence"] == {"sv": [1.0, 2.0], "n": 3, "ok": True, "j": [1.0, 1.0],
                                            "nested": {"1": ["nan"]}}
    assert d["margin"] == "inf" and d["verdict"] == "inconclusive" and d["hypotheses_met"] is False


def test_context_keys_are_reproducible_and_name_dependent():
    a, b, other_seed = Context(0), Context(0), Context(1)
    data = lambda k: np.asarray(jax.random.key_data(k))  # noqa: E731
    assert np.array_equal(data(a.key("x")), data(b.key("x")))
    assert not np.array_equal(data(a.key("x")), data(a.key("y")))
    assert not np.array_equal(data(a.key("x")), data(other_seed.key("x")))
    assert a.rng("x").standard_normal() == b.rng("x").standard_normal()
    assert a.rng("x").standard_normal() != a.rng("y").standard_normal()
    assert a.rng("x").standard_normal() != other_seed.rng("x").standard_normal()
    # a check's stream does not depend on which other streams were drawn before
    c = Context(0)
    c.key("something else")
    c.rng("something else").random(5)
    assert np.array_equal(data(c.key("x")), data(a.key("x")))


def test_context_cache_builds_once():
    ctx, calls = Context(0), []
    build = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert ctx.cached("k", build) == 1 and ctx.cached("k", build) == 1 and calls == [1]
    assert ctx.cached("other", build) == 2


# ----------------------------------------------------------------------------- the verdict vocabulary

from theory_lab.checking import Evidence, conclude, converse_verdict, theorem_verdict  # noqa: E402
from theory_lab.tolerances import Tolerance  # noqa: E402

TOL = Tolerance(1e-10, 10.0, "test", "rounding")


def test_band_is_symmetric_around_the_tolerance_not_the_conclusion():
    ev = Evidence()
    inside_ok, inside_bad = ev.at_most("a", 0.5e-10, TOL), ev.at_most("b", 2e-10, TOL)
    far_ok, far_bad = ev.at_most("c", 1e-12, TOL), ev.at_most("d", 1e-8, TOL)
    assert (inside_ok.holds, inside_ok.conclusive) == (True, False)
    assert (inside_bad.holds, inside_bad.conclusive) == (False, False)
    assert (far_ok.holds, far_ok.conclusive) == (True, True)
    assert (far_bad.holds, far_bad.conclusive) == (False, True)
    assert ev.at_most("nan", float("nan"), TOL).conclusive and not ev.observations[-1].holds


def test_theorem_rule():
    met, unmet = Hypothesis("h", True), Hypothesis("h", False)
    ok, bad, vague = Evidence(), Evidence(), Evidence()
    ok.at_least("gap", 1.0, TOL)
    bad.at_least("gap", 1.0, TOL), bad.at_least("gap2", 1e-13, TOL)
    vague.at_least("gap", 2e-10, TOL)
    assert theorem_verdict([met], ok) is Verdict.HOLDS
    assert theorem_verdict([met], bad) is Verdict.FAILS
    assert theorem_verdict([met], vague) is Verdict.INCONCLUSIVE
    assert theorem_verdict([unmet], bad) is Verdict.NOT_APPLICABLE  # unmet hypotheses never fail
    vague.at_least("gap3", 1e-13, TOL)  # a conclusive violation is not hidden by an inconclusive one
    assert theorem_verdict([met], vague) is Verdict.FAILS
    with pytest.raises(ValueError, match="Evidence is empty"):
        theorem_verdict([met], Evidence())
    # a check may stop before observing when a hypothesis is unmet
    assert theorem_verdict([unmet], Evidence()) is Verdict.NOT_APPLICABLE
    assert checking.applicable([met]) and not checking.applicable([unmet])
    assert not checking.applicable([met], broken=[met]) and checking.applicable([met], broken=[unmet])


def test_converse_rule():
    kept, broken, not_broken = Hypothesis("k", True), Hypothesis("n_1 ≥ N", False), Hypothesis("n_1 ≥ N", True)
    shown, unshown = Evidence(), Evidence()
    shown.at_least("σ_min", 1e-14, TOL)  # conclusion (σ_min > tol) violated
    unshown.at_least("σ_min", 1.0, TOL)
    assert converse_verdict([kept], [broken], shown) is Verdict.HOLDS
    assert converse_verdict([kept], [broken], unshown) is Verdict.FAILS
    assert converse_verdict([kept], [not_broken], shown) is Verdict.NOT_APPLICABLE
    r = conclude("rank F_1 = N", [kept], shown, broken=[broken])
    assert r.verdict is Verdict.HOLDS and r.summary.startswith("holds: converse of rank F_1 = N")
    assert r.set_up and not r.hypotheses_met and r.broken == ("n_1 ≥ N",) and r.to_dict()["broken"] == ["n_1 ≥ N"]
    r = conclude("rank F_1 = N", [kept], unshown, broken=[not_broken])
    assert r.verdict is Verdict.NOT_APPLICABLE and "holds on the instance" in r.summary
    assert not r.set_up  # the hypothesis to break is met: the converse is not set up


def test_summary_follows_the_verdict():
    ev = Evidence()
    ev.at_most("‖r‖", 5.0, TOL)
    r = conclude("exact fit", [Hypothesis("n ≥ N", True)], ev)
    assert r.verdict is Verdict.FAILS and "violated" in r.summary and r.margin < 1
    assert r.to_dict()["evidence"]["observations"][0]["holds"] is False


def test_at_least_below_zero_and_zero_thresholds_are_conclusive_violations():
    ev = Evidence()
    neg = ev.at_least("gap", -1.0, TOL)  # below a positive threshold at any scale
    assert (neg.holds, neg.conclusive, neg.margin) == (False, True, 0.0)
    zero_tol = Tolerance(0.0, 10.0, "zero", "none")
    assert ev.at_least("x", -1e-300, zero_tol).conclusive and not ev.observations[-1].holds
    assert ev.at_least("x", 0.0, zero_tol).holds and ev.observations[-1].margin == float("inf")
    pos = ev.at_most("r", 1e-300, zero_tol)  # a threshold of 0 has no band around it
    assert (pos.holds, pos.conclusive) == (False, True)
    assert ev.at_most("r", -5.0, TOL).holds and ev.observations[-1].margin == float("inf")


def _report(s, shape=None, band=10.0, unresolved=""):
    from theory_lab.linalg import RankReport
    s = np.asarray(s, dtype=np.float64)
    tol = 1e-10
    rank = int(np.sum(s > tol))
    return RankReport(shape or (s.size, s.size), s, tol, rank, 1.0, band, unresolved)


@pytest.mark.parametrize("relation, expected, holds, conclusive, margin", [
    ("==", 3, True, True, 1e4),      # σ_3 = 1e-6 (1e4·tol), σ_4 = 1e-26 (tol / 1e16)
    ("==", 4, False, True, 1e-16),
    (">=", 3, True, True, 1e4),
    (">=", 4, False, True, 1e-16),
    ("<=", 3, True, True, 1e16),
    ("<", 4, True, True, 1e16),
    (">", 2, True, True, 1e4),
    ("<=", 2, False, True, 1e-4),
])
def test_rank_relations_margins_and_bands(relation, expected, holds, conclusive, margin):
    ev = Evidence()
    obs = ev.rank("A", _report([1.0, 1e-3, 1e-6, 1e-26]), expected, relation)
    assert (obs.holds, obs.conclusive) == (holds, conclusive)
    assert obs.margin == pytest.approx(margin, rel=1e-9, abs=0)  # margins down to 1e-16: below default abs=1e-12


def test_rank_band_only_matters_where_it_can_flip_the_relation():
    ev = Evidence()
    r = _report([1.0, 1e-3, 3e-10, 1e-26])  # σ_3 inside the band: rank 2 or 3
    assert r.rank == 3
    assert not ev.rank("A", r, 3).conclusive and not ev.rank("A", r, 2).conclusive
    assert ev.rank("A", r, 4, "<").conclusive  # rank 2 or 3: both < 4
    assert ev.rank("A", r, 2, ">=").conclusive and not ev.rank("A", r, 3, ">=").conclusive
    saturated = _report([1.0, 1e-3, 1e-6, 1e-26], unresolved="a unit saturates")
    assert not ev.rank("A", saturated, 4).conclusive  # the missing rank may be rounding
    assert ev.rank("A", saturated, 2, ">=").conclusive
    with pytest.raises(ValueError, match=r"`relation`='~' is unknown; choose one of"):
        ev.rank("A", r, 3, "~")


def test_exact_observations_and_converse_margin():
    ev = Evidence()
    assert ev.exact("n_1", 216, 200, ">=").conclusive and ev.exact("n_1", 216, 216).holds
    bad = ev.exact("n_2", 100, 200, ">=")
    assert (bad.holds, bad.conclusive, bad.margin) == (False, True, 0.0)
    assert ev.violation_margin == float("inf")
    conv = Evidence()
    conv.at_least("σ_min", 1e-14, TOL)
    r = conclude("rank F_1 = N", [Hypothesis("k", True)], conv, broken=[Hypothesis("n_1 ≥ N", False)])
    assert r.verdict is Verdict.HOLDS and r.margin == pytest.approx(1e4)  # violated by a factor 1e4


def test_prefixed_hypothesis_and_not_applicable_summary_name_the_claim():
    h = Hypothesis("n_1 ≥ N", False, "n_1 = 10, N = 20").prefixed("digits")
    assert (h.name, h.met, h.detail) == ("digits: n_1 ≥ N", False, "n_1 = 10, N = 20")
    ev = Evidence()
    ev.exact("n", 1, 1)
    r = conclude("rank F_1 = N", [h], ev)
    assert r.verdict is Verdict.NOT_APPLICABLE
    assert r.summary == "not applicable: rank F_1 = N — unmet hypothesis: digits: n_1 ≥ N (n_1 = 10, N = 20)"
