"""The ``s33d-*`` planted bugs of tools/plant_bugs.py: benchmark bugs, each caught by tests/test_bench_protocol_s33.py.

Kept apart from that file: ``plant_bugs.py`` runs it in a copy with one bug planted, where this check (every
patch's text found once in the unplanted tree) would fail by construction.
"""

import importlib.util
import sys
from pathlib import Path


def test_s33d_mutants_are_benchmark_bugs_caught_by_the_protocol_tests(monkeypatch):
    """plant_bugs' ``s33d-*`` bugs patch ``benchmarks/`` (each text found once) and name the protocol tests."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("plant_bugs", root / "tools" / "plant_bugs.py")
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plant_bugs", tool)
    spec.loader.exec_module(tool)
    bugs = [b for b in tool.BUGS if b.id.startswith("s33d-")]
    assert len(bugs) >= 4
    for bug in bugs:
        assert bug.tests == ("tests/test_bench_protocol_s33.py",), bug.id
        for path, old, new in bug.patches:
            assert path.startswith("benchmarks/") and old != new, bug.id
            assert (root / path).read_text().count(old) == 1, (bug.id, old)
