"""report.md / results.json and atomic writes."""

import json
import os

import pytest

from theory_lab import report
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, run_check


def _records():
    ok = Check("demo-holds", "Lemma 0", "a demo", lambda ctx: Result(
        Verdict.HOLDS, [Hypothesis("N ≤ n_k", True, "N = 3, n_k = 8"), Hypothesis("3.1", True)], 42.0,
        {"rank": 3}, "rank 3 of 3"))
    na = Check("demo-na", "Lemma 0", "not applicable", lambda ctx: Result(
        Verdict.NOT_APPLICABLE, [Hypothesis("wide", False, "n_k = 2 < N = 3")], None, {}, "narrow"), kind="converse")
    crash = Check("demo-crash", "Lemma 0", "crashes", lambda ctx: 1 / 0)
    return [run_check(c, Context(0)) for c in (ok, na, crash)]


def test_report_markdown():
    text = report.report_markdown(_records(), seed=7)
    assert text.startswith("# theory-lab verify\n\nseed 7 · jax ")
    assert "| `demo-holds` | Lemma 0 | check | yes | **holds** | 42 |" in text
    assert "| `demo-na` | Lemma 0 | converse | no | **not applicable** | – |" in text
    assert "- [x] N ≤ n_k — N = 3, n_k = 8" in text and "- [ ] wide — n_k = 2 < N = 3" in text
    assert "ZeroDivisionError" in text and "```" in text  # the traceback of a crashing check


def test_results_json():
    data = json.loads(report.results_json(_records(), seed=7))
    assert data["seed"] == 7
    assert set(data["environment"]) >= {"theory_lab", "jax", "numpy", "python", "platform", "devices", "date"}
    first = data["checks"][0]
    assert first["verdict"] == "holds" and first["margin"] == 42.0 and first["evidence"] == {"rank": 3}
    assert [h["met"] for h in first["hypotheses"]] == [True, True]
    assert data["checks"][2]["verdict"] == "error" and "ZeroDivisionError" in data["checks"][2]["error"]


def test_format_margin():
    assert report.format_margin(None) == "–"
    assert report.format_margin(float("inf")) == "∞" and report.format_margin("inf") == "∞"
    assert report.format_margin(12345.678) == "1.23e+04" and report.format_margin(2.5) == "2.5"


def test_write_atomic_text_bytes_and_replace(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    report.write_atomic(path, "first")
    assert path.read_text() == "first"
    report.write_atomic(path, b"\x00second")
    assert path.read_bytes() == b"\x00second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not mkstemp's 0600


class _HalfWriter:
    """A file that writes half of what it is given, then fails (a full disk, mid-write)."""

    def __init__(self, fh):
        self.fh = fh

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def write(self, text):
        self.fh.write(text[: len(text) // 2])
        self.fh.flush()
        raise OSError("disk full (simulated) mid-write")


@pytest.mark.parametrize("where", ["write", "fsync"])
@pytest.mark.parametrize("existing", [None, "old contents"])
def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch, existing, where):
    path = tmp_path / "results.json"
    if existing is not None:
        path.write_text(existing)
    if where == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))
    else:  # everything written, not yet durable

        def fail(fd):
            raise OSError("disk full (simulated) at fsync")

        monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        report.write_atomic(path, json.dumps({"a": list(range(1000))}))
    if existing is None:
        assert not path.exists()
    else:
        assert path.read_text() == existing  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ([] if existing is None else ["results.json"])


def test_write_atomic_cleans_up_on_interrupt(tmp_path, monkeypatch):
    path = tmp_path / "report.md"

    def interrupt(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        report.write_atomic(path, "text")
    assert list(tmp_path.iterdir()) == []
