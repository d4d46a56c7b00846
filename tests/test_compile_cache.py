"""The CLI's persistent compilation cache: where it goes, how to move it or turn it off.

Runs that turn the cache on happen in subprocesses with their own XDG_CACHE_HOME under
``tmp_path`` (turning it on changes JAX's global config); nothing is written into the
real user cache (conftest sets THEORY_LAB_COMPILE_CACHE=off for in-process runs).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from theory_lab import compile_cache
from theory_lab.cli import app

TINY = ["spectrum", "--arch", "digits-small", "--n", "4", "--k", "1", "--probes", "1", "--steps", "4",
        "--trace-matvecs", "6"]


def test_resolve_order_option_then_environment_then_xdg_then_home():
    env = {"THEORY_LAB_COMPILE_CACHE": "/env/cache", "XDG_CACHE_HOME": "/xdg"}
    assert compile_cache.resolve("/opt/c", env) == Path("/opt/c")
    assert compile_cache.resolve(None, env) == Path("/env/cache")
    assert compile_cache.resolve(None, {"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/theory-lab/jax")
    assert compile_cache.resolve(None, {"XDG_CACHE_HOME": ""}) == Path.home() / ".cache" / "theory-lab" / "jax"
    assert compile_cache.resolve(None, {}) == Path.home() / ".cache" / "theory-lab" / "jax"
    assert compile_cache.resolve("off", env) is None and compile_cache.resolve("OFF", {}) is None
    assert compile_cache.resolve(None, {"THEORY_LAB_COMPILE_CACHE": "off"}) is None
    with pytest.raises(ValueError, match="folder is empty"):
        compile_cache.resolve("  ", {})


def test_tests_never_use_the_user_cache():
    assert os.environ["THEORY_LAB_COMPILE_CACHE"] == "off"
    assert compile_cache.enable() is None


def test_a_file_or_unwritable_folder_is_refused_before_any_work(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    result = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"}).invoke(
        app, ["--compile-cache", str(f), *TINY, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value for --compile-cache" in text and "is a file, not a folder" in text
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="cannot create the compile cache folder"):
        compile_cache.enable(str(f / "sub"))


def _run(args, tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k != "THEORY_LAB_COMPILE_CACHE"}
    environ.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), **env)
    return subprocess.run([sys.executable, "-c", "from theory_lab.cli import app; app()", *args], env=environ,
                          capture_output=True, text=True, timeout=900)


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = CliRunner().invoke(app, ["--compile-cache", "off", "verify", "--list"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "xdg").exists()


def test_the_cli_writes_compiled_programs_to_the_default_folder(tmp_path):
    """One real run in a subprocess: with no option and no variable, programs land under $XDG_CACHE_HOME."""
    default = tmp_path / "xdg" / "theory-lab" / "jax"
    r = _run([*TINY, "--out", str(tmp_path / "o")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert default.is_dir() and any(default.iterdir())
    assert default.stat().st_mode & 0o077 == 0  # private: JAX's cache is trusted code
