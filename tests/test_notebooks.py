"""The marimo notebooks in notebooks/ run headless, at small sizes, and show what their demo shows.

Each notebook is run the way ``python notebooks/NAME.py -- ARGS`` runs it (``app.run()``, the
script entry point), in this process so that compiled functions are shared with the demo tests;
one is also run as a separate script. Needs the ``notebooks`` extra (``requirements-notebooks.lock``).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

marimo = pytest.importorskip("marimo", reason="marimo is not installed: the notebook tests need the `notebooks` "
                             "extra (pip install -r requirements-notebooks.lock); .ci/run installs it")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

CASES = {
    "rank_jump": (["--N", "40", "--draws", "1"], lambda r: r.agrees and r.N == 40),
    "width_threshold": (["--N", "40", "--draws", "1"], lambda r: r.threshold_ok and r.N == 40),
    "critical_points": (["--N", "12", "--width", "1", "--starts", "2"],
                        lambda r: r.wide_in_S_k_zero and r.widths["wide"][1] == 36),
    "spectra": (["--N", "10", "--width", "14"], lambda r: r.agrees and r.at("bad").negative > 0),
    "slices": (["--N", "10", "--width", "14", "--radius", "0.5"],
               lambda r: r.agrees and r.at("narrow minimum").loss > 1),
}


def _run(name, args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(NOTEBOOKS / f"{name}.py"), *args])
    spec = importlib.util.spec_from_file_location(f"notebook_{name}", NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app.run()


def test_every_demo_has_a_notebook():
    from theory_lab.demos import DEMOS

    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == sorted(d.replace("-", "_") for d in DEMOS) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_runs_and_shows_the_result(name, monkeypatch):
    args, science = CASES[name]
    outputs, defs = _run(name, args, monkeypatch)
    assert science(defs["result"]), defs["result"]
    assert {"N", "width", "activation", "seed"} <= set(defs)  # the sliders the lecturer moves
    assert defs["N"].value == int(args[1])


def test_notebook_runs_as_a_script():
    res = subprocess.run([sys.executable, str(NOTEBOOKS / "rank_jump.py"), "--", "--N", "20", "--draws", "1"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
