"""Session 32's bad-input audit (``tools/bad_input_audit.py``): each test holds one case it found unclear, late or
silent, now refused at the entry point naming the argument and value; and "written whole or not at all" for every
set of files the CLI writes (a failure on the second file left a new first file next to old ones)."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab import curvature_report, data, derivatives as D, model, near_duplicates, params_io, report
from theory_lab import spectrum as S, trace
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.cli import app
from theory_lab.validate import numeric_array

ARCH = Architecture((3,), (Dense(4), Output(2)))
PARAMS = model.init(ARCH, jax.random.key(0))
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 2))
OBJ = D.objective(ARCH)
THETA = np.asarray(D.flatten(PARAMS)[0])
A = np.diag(np.arange(1.0, 7.0))
KEY = jax.random.key(0)


def _nan(a):
    a = np.array(a, dtype=np.float64, copy=True)
    a.flat[0] = np.nan
    return a


# ----------------------------------------------------------------------------- library entry points


@pytest.mark.parametrize("fn", [model.apply, model.features, model.forward, model.preactivations])
def test_model_refuses_an_arch_that_is_not_an_architecture(fn):
    """Before: AttributeError: 'str' object has no attribute 'input_shape' from inside check_inputs."""
    with pytest.raises(TypeError, match=r"`arch`='digits-small' is a str; expected a theory_lab\.arch\.Architecture.*"
                                        r"presets\.architecture\('digits-small'\)"):
        fn("digits-small", PARAMS, X)


def test_model_init_refuses_an_arch_that_is_not_an_architecture():
    with pytest.raises(TypeError, match=r"`arch`=42 is a int; expected a theory_lab\.arch\.Architecture"):
        model.init(42, KEY)


def test_params_with_a_layer_the_architecture_lacks_are_refused():
    """Before: ``layer_9`` (params of a deeper network) was ignored and the output computed silently."""
    params = {**PARAMS, "layer_9": PARAMS["layer_1"]}
    with pytest.raises(ValueError, match=r"`params` has layer_9, which is not a weighted layer of this architecture "
                                         r"\(its layers with weights: layer_1, layer_2\)"):
        model.apply(ARCH, params, X)


def test_a_bool_layer_index_is_refused():
    """Before: ``weight_map(arch, True, W)`` built U_1 (True == 1)."""
    with pytest.raises(ValueError, match=r"`k`=True is not a layer of this network; expected an integer in \[1, 2\]"):
        model.weight_map(ARCH, True, np.ones((3, 4)))


@pytest.mark.parametrize("where, value, match", [
    ("theta", "abc", r"`theta`='abc' is a str, not an array of numbers; pass a numpy or jax array of float64; a "
                     r"parameter pytree flattens with derivatives\.flatten\(params\)\[0\]"),
    ("theta", None, r"`theta`=None is a NoneType, not an array of numbers"),
    ("theta", PARAMS, r"`theta`=\{'layer_1'.* is a dict, not an array of numbers.*derivatives\.flatten"),
    ("X", "abc", r"`X`='abc' is a str, not an array of numbers"),
    ("X", None, r"`X`=None is a NoneType, not an array of numbers"),
    ("Y", "abc", r"`Y`='abc' is a str, not an array of numbers"),
    ("Y", [["a", "b"]] * 6, r"`Y`=\[\['a', 'b'\].* is an array of dtype <U1, not of numbers"),
])
def test_derivatives_refuse_strings_none_and_dicts_by_name(where, value, match):
    """Before: jax's "Value 'abc' with dtype <U3 is not a valid JAX array type" or "None is not a valid value for
    jnp.array" from inside ``jnp.asarray``."""
    args = {"theta": THETA, "X": X, "Y": Y, where: value}
    with pytest.raises(TypeError, match=match):
        D.loss(OBJ, args["theta"], args["X"], args["Y"])


def test_spectrum_report_refuses_a_parameter_pytree_for_theta():
    """Before: jax's "Error interpreting argument to stage as a JAX value" after the operator was built."""
    with pytest.raises(TypeError, match=r"`theta`=.* is a dict, not an array of numbers.*derivatives\.flatten"):
        curvature_report.spectrum_report(ARCH, PARAMS, X, Y, k=1, probes=1, steps=2, trace_matvecs=6)


@pytest.mark.parametrize("run", [
    lambda A: trace.hutchinson(S.dense_matvec, 6, KEY, A),
    lambda A: trace.xtrace(S.dense_matvec, 6, KEY, A),
    lambda A: trace.hutch_plus_plus(S.dense_matvec, 6, KEY, A),
    lambda A: S.slq_density(S.dense_matvec, 6, KEY, A, num_probes=2, num_matvecs=4),
    lambda A: S.lanczos(S.dense_matvec, 6, KEY, A, k=1),
], ids=["hutchinson", "xtrace", "hutch++", "slq", "lanczos"])
def test_spectral_routines_refuse_non_finite_and_float32_operator_params(run):
    """Before: a NaN in ``A`` gave Hutchinson's and XTrace's estimate=nan silently and Lanczos' late "non-finite
    Ritz values ... Check the inputs"; a float32 ``A`` was used as it was (float64 products of a float32 matrix)."""
    with pytest.raises(ValueError, match=r"`params\[0\]` \(passed to `matvec`\) contains NaN or Inf \(1 of 36 "
                                         r"entries\)"):
        run(_nan(A))
    with pytest.raises(TypeError, match=r"`params\[0\]` \(the arrays after the key, passed to `matvec`\) has dtype "
                                        r"float32; the spectral routines compute in float64"):
        run(A.astype(np.float32))
    run(A)  # the float64, finite matrix still runs


@pytest.mark.parametrize("num, dim, match", [
    (0, 4, r"`num`=0 must be an integer >= 1 \(rows of the probe block\)"),
    (2, 0, r"`dim`=0 must be an integer >= 1 \(length of the probe block\)"),
    (2.0, 4, r"`num`=2\.0 must be an integer >= 1"),
])
def test_sphere_refuses_empty_probe_blocks(num, dim, match):
    """Before: dim=0 divided 0 by 0 (a RuntimeWarning and rows of NaN), num=0 an empty block."""
    with pytest.raises(ValueError, match=match):
        trace.sphere(KEY, num, dim)


@pytest.mark.parametrize("args, kwargs, match", [
    ((0,), {}, r"`dim`=0 must be an integer >= 1, the operator's dimension P"),
    ((10,), {"k": -1}, r"`k`=-1 must be an integer >= 1"),
    ((10,), {"probes": 0}, r"`probes`=0 must be an integer >= 1"),
])
def test_planned_products_checks_its_budgets(args, kwargs, match):
    """Before: a plan of zero or negative products was returned."""
    with pytest.raises(ValueError, match=match):
        curvature_report.planned_products(*args, **kwargs)


def test_critical_inertia_refuses_a_nan_point():
    """Before: a NaN θ gave an Inertia (−0, 0:0, +0)-like count of NaN eigenvalues, silently."""
    import jax.numpy as jnp

    phi = lambda t: jnp.sum(t ** 2)  # noqa: E731
    with pytest.raises(ValueError, match=r"`theta` contains NaN or Inf \(1 of 2 entries\)"):
        curvature_report.critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.array([np.nan, 0.0]))


def test_near_duplicate_pairs_refuses_nan_features():
    """Before: NaN rows were never near anything: their pairs dropped, an empty list returned."""
    with pytest.raises(ValueError, match=r"`F` contains NaN or Inf \(1 entries\)"):
        near_duplicates.near_duplicate_pairs(_nan(X), X, 0.1)


def test_load_theta_refuses_a_path_that_is_not_a_path():
    """Before: pathlib's "expected str, bytes or os.PathLike object, not NoneType"."""
    with pytest.raises(TypeError, match=r"`params`=None is a NoneType; expected the path of an \.npz file"):
        params_io.load_theta(None, D.layout(ARCH))


def test_numeric_array_passes_numbers_and_names_the_rest():
    assert numeric_array([1, 2], "x").dtype == np.int64 and numeric_array(X, "x") is not None
    with pytest.raises(TypeError, match=r"`w` cannot be read as an array of numbers"):
        numeric_array([[1.0], [1.0, 2.0]], "w")


def test_write_atomic_refuses_a_folder_and_text_that_is_not_text(tmp_path):
    """Before: IsADirectoryError from os.replace after the file was written; None gave AttributeError 'encode'."""
    with pytest.raises(IsADirectoryError, match=r"`path`=.* is a folder; give a file name inside it"):
        report.write_atomic(tmp_path, "x")
    with pytest.raises(TypeError, match=r"`text` for x\.md is a NoneType; expected str or bytes"):
        report.write_atomic(tmp_path / "x.md", None)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- written whole or not at all


class _FailOnSecond:
    """``os.fdopen`` whose second file writes half its bytes, then fails (a full disk)."""

    def __init__(self, monkeypatch, fail_at=2):
        self.calls, self.fail_at, self.real = 0, fail_at, os.fdopen
        monkeypatch.setattr(os, "fdopen", self)

    def __call__(self, fd, mode="r", *args, **kwargs):
        self.calls += 1
        fh = self.real(fd, mode, *args, **kwargs)
        if self.calls != self.fail_at:
            return fh
        real_write = fh.write

        def write(data):
            real_write(data[: len(data) // 2])
            fh.flush()
            raise OSError(28, "No space left on device")

        fh.write = write
        return fh


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_write_all_atomic_keeps_the_old_set_when_the_second_file_fails(tmp_path, monkeypatch):
    old = {"a.json": b"old a", "b.md": b"old b", "c.html": b"old c"}
    for name, content in old.items():
        (tmp_path / name).write_bytes(content)
    _FailOnSecond(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        report.write_all_atomic({tmp_path / name: "new " * 1000 for name in old})
    assert _snapshot(tmp_path) == old  # no file replaced, no hidden temporary left


def test_write_all_atomic_writes_nothing_new_when_a_replace_fails(tmp_path, monkeypatch):
    """An interrupt between two replaces: temporaries not yet moved are removed."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        report.write_all_atomic({tmp_path / "a": "A", tmp_path / "b": "B", tmp_path / "c": "C"})
    assert _snapshot(tmp_path) == {"a": b"A"}  # one whole new file, no partial one, no temporaries


SMALL = ["--arch", "digits-small", "--n", "8", "--k", "1", "--probes", "1", "--steps", "4", "--trace-matvecs", "6"]


@pytest.mark.parametrize("args", [
    ["verify", "--check", "lemma-2.5"],
    ["demo", "rank-jump", "--n", "10", "--draws", "1"],
    ["spectrum", *SMALL],
    ["widths", "--network", "vgg-a"],
], ids=["verify", "demo", "spectrum", "widths"])
def test_cli_output_sets_are_written_whole_or_not_at_all(tmp_path, monkeypatch, args):
    """Before: verify wrote results.json, then report.md, then report.html, each replaced in turn: a full disk on
    the second left the new JSON next to the old report (demo: json/png/svg, spectrum: json/png), and the OSError
    was a Python traceback. Now every temporary is written before any file is replaced; the error is one line."""
    out = tmp_path / "out"
    where = ["--json", str(out / "widths.json")] if args[0] == "widths" else ["--out", str(out)]
    if args[0] == "widths":
        out.mkdir()
    runner = CliRunner()
    first = runner.invoke(app, args + where, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    assert before and all(before.values())
    _FailOnSecond(monkeypatch, fail_at=1 if args[0] == "widths" else 2)
    again = runner.invoke(app, args + where, env={"COLUMNS": "200"})
    text = " ".join(again.output.split())
    assert again.exit_code == 1, again.output
    assert "Traceback" not in again.output and "could not write" in text and "No space left on device" in text
    assert "the previous files there are unchanged" in text
    assert _snapshot(out) == before  # every old file byte for byte, no partial or hidden file


# ----------------------------------------------------------------------------- CLI: one line, no traceback


@pytest.mark.parametrize("args, option", [
    (["widths", "--json", "{file}/w.json"], "--json"),
    (["spectrum", "--out", "{file}/sub"], "--out"),
    (["verify", "--check", "lemma-2.5", "--out", "{file}/sub"], "--out"),
])
def test_cli_output_under_a_file_is_an_option_error(tmp_path, args, option):
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = CliRunner().invoke(app, [a.format(file=afile) for a in args], env={"COLUMNS": "250"})
    text = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"Invalid value for {option}" in text and "is a file, not a folder" in text


def test_data_loaders_are_unchanged_for_good_input():
    """The new checks do not refuse what worked: a list X, an int-free float64 batch."""
    ds = data.gaussian(4, (3,), m=2, seed=0)
    assert np.isfinite(float(D.loss(OBJ, THETA, ds.X.tolist(), ds.Y)))


def _log_matvec(v, A):
    """Finite params, NaN products: log of the negative entries of ``A``."""
    return jax.numpy.log(A) @ v


def test_an_operator_that_makes_nan_from_finite_params_still_meets_the_dense_check():
    """The up-front params check does not replace the check of the products (stop 29's message)."""
    bad = A.copy()
    bad[0, 1] = bad[1, 0] = -1.0
    with pytest.raises(ValueError, match=r"`matvec` gave NaN or Inf in \d+ of 36 entries of the dense operator"):
        S.trace_exact(_log_matvec, 6, bad)
