"""Every bad option is refused up front (exit 2, `Invalid value for --OPTION`), nothing is written or replaced."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab.cli import INTERRUPTED, app
from theory_lab.commands import options
from theory_lab.presets import architecture as preset

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _text(result) -> str:
    return " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "Invalid value for --seed: -1 is not a seed; expected an integer in [0, 4294967295]"),
    (["--seed", str(2**64)], "Invalid value for --seed: 18446744073709551616 is not a seed"),
    (["--k", "0"], "Invalid value for --k: 0 is too small; expected an integer >= 1"),
    (["--probes", "0"], "Invalid value for --probes: 0 is too small"),
    (["--steps", "0"], "Invalid value for --steps: 0 is too small"),
    (["--trace-matvecs", "0"], "Invalid value for --trace-matvecs: 0 is too small"),
    (["--n", "0"], "Invalid value for --n: 0 is too small; expected an integer >= 1 (number of samples N)"),
    (["--reduction", "median"], "Invalid value for --reduction: 'median' is not one of sum, mean"),
    (["--noise", "-1e-6"], "Invalid value for --noise: -1e-06 is not a finite non-negative number"),
    (["--noise", "1e-3", "--data", "gaussian"], "Invalid value for --noise: --data gaussian takes no noise"),
])
def test_spectrum_options_are_refused_before_any_work(args, message, tmp_path):
    start = time.perf_counter()
    result = runner.invoke(app, ["spectrum", *args, "--out", str(tmp_path / "out")], env=WIDE)
    assert result.exit_code == 2 and message in _text(result), result.output
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - start < 60  # a generous bound: the point is no 30 s computation first


def test_spectrum_out_that_cannot_be_written_is_refused(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    result = runner.invoke(app, ["spectrum", "--out", str(taken)], env=WIDE)
    assert result.exit_code == 2 and "Invalid value for --out:" in _text(result) and "is a file" in _text(result)
    assert taken.read_text() == "keep me"
    result = runner.invoke(app, ["spectrum", "--out", str(taken / "sub")], env=WIDE)
    assert result.exit_code == 2 and "is a file, not a folder" in _text(result)
    result = runner.invoke(app, ["spectrum", "--out", "/proc/theory-lab/out"], env=WIDE)
    assert result.exit_code == 2 and "cannot be written" in _text(result)


def test_spectrum_params_file_errors_name_the_option(tmp_path):
    arch = preset("digits-small")
    theta = np.zeros(arch.num_params)
    theta[3] = np.inf
    np.savez(tmp_path / "inf.npz", theta=theta)
    np.save(tmp_path / "a.npy", theta)
    for path, message in ((tmp_path / "inf.npz", "θ[3] = layer_1/W[1, 1] is inf"),
                          (tmp_path / "a.npy", "is not an .npz archive (a .npy array); make one with numpy.savez")):
        result = runner.invoke(app, ["spectrum", "--params", str(path), "--out", str(tmp_path / "o")], env=WIDE)
        assert result.exit_code == 2 and "Invalid value for --params:" in _text(result) and message in _text(result)
    assert not (tmp_path / "o").exists()


def test_verify_bad_seed_keeps_the_previous_report(tmp_path):
    (tmp_path / "report.md").write_text("previous")
    result = runner.invoke(app, ["verify", "--seed", "-1", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "Invalid value for --seed" in _text(result)
    assert (tmp_path / "report.md").read_text() == "previous" and not (tmp_path / "results.json").exists()


def test_widths_json_folder_is_refused_before_printing(tmp_path):
    result = runner.invoke(app, ["widths", "--json", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "Invalid value for --json:" in _text(result) and "is a folder" in _text(result)
    assert "VGG" not in result.output  # nothing printed before the refusal


def test_option_validators():
    assert options.seed(0) == 0 and options.seed(options.SEED_MAX) == options.SEED_MAX
    for bad in (True, 1.5, -1, 2**32):
        with pytest.raises(Exception, match="is not a seed"):
            options.seed(bad)
    assert options.non_negative(0, "--noise") == 0.0
    for bad in (float("nan"), float("inf"), "x"):
        with pytest.raises(Exception, match="not a finite non-negative number"):
            options.non_negative(bad, "--noise")


ENTRIES = {"cli": "from theory_lab.cli import main; main()",
           "launcher": "from theory_lab_launcher import main; main()"}  # the `theory-lab` script's entry point


@pytest.mark.parametrize("entry, delay", [("launcher", 0.0), ("launcher", 0.3), ("cli", 0.0), ("cli", 1.5),
                                          ("cli", 4.0)])
def test_ctrl_c_exits_130_with_one_line_and_keeps_the_report(tmp_path, entry, delay):
    """Issue 9.9: SIGINT while verify runs ended in a segfault (139) at interpreter shutdown, and during the
    first ~2 s (importing JAX) in Python's traceback.

    ``delay`` counts from the moment the handler is in place (the ready file): the launcher installs it
    before importing JAX, so 0 s and 0.3 s interrupt the imports; with ``theory_lab.cli.main`` (imports
    done), 0 s interrupts the start of the first check, 1.5 s and 4 s checks running XLA code with its threads.
    """
    (tmp_path / "report.md").write_text("previous")
    ready = tmp_path / "ready"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", COLUMNS="120", THEORY_LAB_READY_FILE=str(ready))
    # Ctrl-C as in a terminal: a test run started as a background job (`cmd &` in a script) passes SIGINT on
    # as ignored, and the CLI rightly keeps ignoring it then (see the launcher). The child restores Python's
    # own handler first (not preexec_fn: a fork after JAX started its threads warns, an error here).
    code = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); " + ENTRIES[entry]
    proc = subprocess.Popen([sys.executable, "-c", code, "verify", "--out",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 300
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), "the CLI never installed its Ctrl-C handler"
        time.sleep(delay)
        if proc.poll() is not None:  # finished (or failed) before the signal: nothing to test at this delay
            out, err = proc.communicate()
            pytest.skip(f"verify ended before {delay} s (exit {proc.returncode})")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:  # never leave a running child behind (its Popen would warn in a later test)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (proc.returncode, err.decode()[-2000:])
    assert err.decode().strip().splitlines()[-1] == INTERRUPTED and "Traceback" not in err.decode()
    assert (tmp_path / "report.md").read_text() == "previous" and not (tmp_path / "results.json").exists()
