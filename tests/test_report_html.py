"""report.html: one self-contained page with the table, verdict colours, folded evidence and figures."""

import base64
import re

import pytest
from typer.testing import CliRunner

from theory_lab import checking, evidence_figures, report
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, run_check
from theory_lab.cli import app

RANK = {"shape": [3, 5], "rank": 3, "sigma_max": 2.0, "sigma_min": 0.5, "tol": 1e-14, "margin": 1e13,
        "smallest_singular_values": [0.5, 1.0, 2.0]}


OBS = [{"name": "rank F_1 == 3", "holds": True, "conclusive": True, "margin": 1e13, "tolerance": "SVD rank, band 10"},
       {"name": "exact count", "holds": True, "conclusive": True, "margin": "inf", "tolerance": "exact"},
       {"name": "near the band", "holds": True, "conclusive": False, "margin": 3.0, "tolerance": "x, band 10"}]


def _records():
    checks = [
        Check("html-holds", "Lemma 0", "rank <evidence> & co", lambda ctx: Result(
            Verdict.HOLDS, [Hypothesis("N ≤ n_k", True, "N = 3, n_k = 5")], 42.0,
            {"F_1": RANK, "copy": dict(RANK), "note": "<script>alert(1)</script>", "observations": OBS},
            "rank 3 of 3")),
        Check("html-fails", "Lemma 0", "fails", lambda ctx: Result(
            Verdict.FAILS, [Hypothesis("wide", True)], 0.5, {"observed": 1.0}, "deliberately fails")),
        Check("html-na", "Lemma 0", "not applicable", lambda ctx: Result(
            Verdict.NOT_APPLICABLE, [Hypothesis("wide", False, "n_k = 2 < N = 3")], None, {}, "narrow"),
              kind="converse"),
        Check("html-crash", "Lemma 0", "crashes", lambda ctx: 1 / 0),
        Check("html-converse", "Lemma 0", "a converse", lambda ctx: Result(
            Verdict.HOLDS, [Hypothesis("wide", False, "n_k = 2"), Hypothesis("3.1", True)], 3.0, {}, "fails as shown",
            broken=("wide",)), kind="converse"),
    ]
    return [run_check(c, Context(0)) for c in checks]


@pytest.fixture(scope="module")
def page():
    return report.report_html(_records(), seed=7)


def test_one_row_per_check_with_verdict_colours(page):
    rows = re.findall(r'<tr class="check" data-verdict="([^"]+)">(.*?)</tr>', page, re.S)
    assert [v for v, _ in rows] == ["holds", "fails", "not applicable", "error", "holds"]
    assert "<td>broken on purpose</td>" in rows[4][1] and "<td>no</td>" in rows[2][1]
    for verdict, row in rows:
        assert f'style="background:{report.VERDICT_COLOR[verdict]}">{verdict}</td>' in row
    assert report.VERDICT_COLOR["holds"] != report.VERDICT_COLOR["fails"]
    assert '<a href="#check-html-holds">html-holds</a>' in rows[0][1] and ">42<" in rows[0][1]


def test_each_check_has_folded_evidence(page):
    sections = re.findall(r'<details id="(check-[^"]+)" class="evidence">(.*?)</details>', page, re.S)
    assert [i for i, _ in sections] == ["check-html-holds", "check-html-fails", "check-html-na", "check-html-crash",
                                        "check-html-converse"]
    assert '<li class="broken">⊘ wide (broken on purpose: a converse) — n_k = 2</li>' in sections[4][1]
    assert all("<summary>" in body for _, body in sections)
    assert "open" not in page.split("<details", 1)[1].split(">", 1)[0]  # folded until clicked
    holds = sections[0][1]
    assert "✓ N ≤ n_k — N = 3, n_k = 5" in holds and '&quot;rank&quot;: 3' in holds
    assert "✗ wide — n_k = 2 &lt; N = 3" in sections[2][1]
    assert "ZeroDivisionError" in sections[3][1]


def test_everything_is_escaped_and_inline(page):
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "rank &lt;evidence&gt; &amp; co" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    assert "<link" not in page and not re.search(r"<script[^>]+src=", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_figures_of_checks_with_observations_and_rank_evidence(page):
    images = re.findall(r'<img alt="figure (\d) of ([^"]+)" src="data:image/png;base64,([^"]+)">', page)
    assert [(i, name) for i, name, _ in images] == [("1", "html-holds")]  # the observations' margins
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for _, _, data in images)


def test_evidence_readers():
    found = evidence_figures.rank_evidence({"a": [{"instance": "digits", **RANK}], "b": {"c": RANK}, "d": 1})
    assert [p for p, _ in found] == ["a[digits]", "b/c"]
    assert [o["name"] for o in evidence_figures.observations({"x": {"observations": OBS}})] == \
        ["rank F_1 == 3", "exact count", "near the band"]
    assert evidence_figures.evidence_figures(_records()[1]) == []  # neither kind of evidence
    only_rank = run_check(Check("r", "Lemma 0", "t", lambda ctx: Result(Verdict.HOLDS, [], 2.0, {"F": RANK})),
                          Context(0))
    pngs = evidence_figures.evidence_figures(only_rank)  # no observations: the rank report is drawn
    assert len(pngs) == 1 and pngs[0][:4] == b"\x89PNG"
    assert evidence_figures.band_of("forward error, band 1e2") == 100.0


def test_given_figures_replace_the_default():
    page = report.report_html(_records()[:1], seed=0, figures={"html-holds": [b"\x89PNGfake"]})
    assert base64.b64encode(b"\x89PNGfake").decode() in page and page.count("<img") == 1


@pytest.fixture
def local_registry(monkeypatch):
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def test_verify_writes_report_html_beside_report_md(tmp_path, local_registry):
    local_registry.append(Check("test-html-rank", "Test item", "rank evidence", lambda ctx: Result(
        Verdict.HOLDS, [Hypothesis("h", True)], 2.0, {"F": RANK}, "fine")))
    res = CliRunner().invoke(app, ["verify", "--check", "test-html-*", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "report.html").read_text()
    assert page.count('<tr class="check"') == 1 and "data:image/png;base64," in page
    assert (tmp_path / "report.md").exists() and not list(tmp_path.glob(".*.tmp"))
