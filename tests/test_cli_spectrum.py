"""`theory-lab spectrum` through typer's CliRunner (one small run, one saved point, bad input)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab import data
from theory_lab import derivatives as D
from theory_lab.cli import app
from theory_lab.presets import architecture as preset

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
SMALL = ["--arch", "digits-small", "--n", "16", "--k", "3", "--probes", "2", "--steps", "16", "--trace-matvecs", "12"]


def test_spectrum_is_registered():
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0 and "spectrum" in result.output


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spectrum")
    arch = preset("digits-small")
    theta = np.random.default_rng(1).standard_normal(arch.num_params) * 0.3
    np.savez(folder / "point.npz", theta=theta)
    result = runner.invoke(app, ["spectrum", *SMALL, "--params", str(folder / "point.npz"), "--out",
                                 str(folder / "out")], env=WIDE)
    return folder, theta, result


def test_spectrum_writes_json_and_png_from_a_saved_point(saved_run):
    folder, theta, result = saved_run
    assert result.exit_code == 0, result.output
    assert "top-3" in result.output and "inertia (exact" in result.output
    # each result is printed when its stage ends: the eigenpairs before the traces, the header first
    lines = result.output.splitlines()
    order = [next(i for i, line in enumerate(lines) if line.startswith(start))
             for start in ("digits-small on digits (N = 16), hessian, P = 362", "Φ = ", "top-3: ", "bottom-3: ",
                           "trace (hutchinson)", "inertia (exact", "outliers: ")]
    assert order == sorted(order)
    rep = json.loads((folder / "out" / "spectrum.json").read_text())
    assert (folder / "out" / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ds = data.digits(16, noise=1e-6, seed=0)
    arch = preset("digits-small")
    assert rep["loss"] == pytest.approx(float(D.loss(D.objective(arch), theta, ds.X, ds.Y)), rel=1e-12)
    assert rep["P"] == 362 and len(rep["top"]["values"]) == 3 and rep["inertia"]["method"] == "exact"
    assert rep["dataset"] == {"name": "digits", "N": 16, "noise": 1e-6, "seed": 0}  # Dataset.provenance
    inert = rep["inertia"]
    assert inert["negative"] + inert["zero"] + inert["positive"] == 362
    assert set(rep["trace"]) == {"hutchinson", "hutch++", "xtrace"}
    assert rep["bulk"][0] <= rep["bulk"][1]
    assert all(not rep["bulk"][0] <= v <= rep["bulk"][1] for v in rep["outliers"])
    # the same point given leaf by leaf gives the same numbers
    params = D.layout(arch).unravel(theta)
    np.savez(folder / "leaves.npz", **{f"{layer}/{leaf}": np.asarray(a) for layer, leaves in params.items()
                                       for leaf, a in leaves.items()})
    again = runner.invoke(app, ["spectrum", *SMALL, "--params", str(folder / "leaves.npz"), "--out",
                                str(folder / "out2")], env=WIDE)
    assert again.exit_code == 0, again.output
    rep2 = json.loads((folder / "out2" / "spectrum.json").read_text())
    assert rep2["top"]["values"] == rep["top"]["values"]

def test_spectrum_prints_each_trace_with_its_95_interval_and_dof(saved_run):
    """The printed trace line carries the Student-t 95 % interval of the JSON, and that interval is
    t_{dof, 0.975}·(stderr − rounding) + rounding around the estimate, recomputed here with scipy."""
    import scipy.stats

    folder, _, result = saved_run
    rep = json.loads((folder / "out" / "spectrum.json").read_text())
    lines = {line.split(":")[0]: line for line in result.output.splitlines() if line.startswith("trace (")}
    assert set(lines) == {f"trace ({name})" for name in rep["trace"]}
    for name, t in rep["trace"].items():
        line = lines[f"trace ({name})"]
        assert f"{t['estimate']:.6g} ± {t['stderr']:.2g}" in line
        if t["dof"] >= 1:
            half = scipy.stats.t.ppf(0.975, t["dof"]) * (t["stderr"] - t["rounding"]) + t["rounding"]
            assert t["interval95"] == pytest.approx([t["estimate"] - half, t["estimate"] + half], rel=1e-12)
            low, high = t["interval95"]
            assert f"95 %: [{low:.6g}, {high:.6g}], Student-t, {t['dof']} dof" in line
            assert ("read it as ≈ 80 %" in line) == (name == "xtrace")  # its documented under-coverage
        else:
            assert "rounding only" in line


@pytest.mark.parametrize("args, message", [
    (["--arch", "vgg"], "`--arch`='vgg' is not a preset"),
    (["--arch", "digits-small", "--data", "mnist1d", "--n", "8"], "has inputs of shape (40, 1)"),
    (["--arch", "digits-small", "--data", "imagenet"], "`--data`='imagenet' is unknown"),
    (["--arch", "digits-small", "--params", "missing.npz"], "neither 'random' nor an existing .npz"),
    (["--arch", "digits-small", "--operator", "fisher"], "Invalid value for --operator: 'fisher' is not one of"),
    (["--arch", "digits-small", "--block", "7"], "Invalid value for --block: `--block`=7 is not a layer with"),
    (["--arch", "digits-small", "--block", "conv"], "`--block`='conv' is not a layer index"),
    (["--arch", "digits-small", "--loss", "hinge"], "Invalid value for --loss: 'hinge' is not one of"),
    (["--arch", "digits-small", "--batch-size", "0"], "Invalid value for --batch-size: 0 is too small"),
    (["--model", "nowhere.py:factory"], "Invalid value for --model"),
])
def test_spectrum_bad_input_is_a_clear_error(args, message, tmp_path):
    result = runner.invoke(app, ["spectrum", *args, "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


FACTORY = """
import numpy as np
import jax.numpy as jnp

def apply(p, X):
    return jnp.tanh(X @ p["w"]) @ p["v"]

def factory(dtype=np.float64):
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)).astype(dtype), "v": rng.standard_normal((4, 3)).astype(dtype)}
    X = rng.standard_normal((12, 3))
    return apply, params, (X, rng.integers(0, 3, 12))

def float32():
    return factory(np.float32)
"""


def test_model_factory_path_writes_json_and_png_in_batches(tmp_path):
    (tmp_path / "tiny.py").write_text(FACTORY)
    args = ["spectrum", "--model", f"{tmp_path / 'tiny.py'}:factory", "--batch-size", "5", "--k", "2", "--probes",
            "2", "--steps", "8", "--trace-matvecs", "12", "--block", "v", "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "out" / "spectrum.json").read_text())
    assert (tmp_path / "out" / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rep["P"] == 24 and rep["dim"] == 12 and rep["N"] == 12 and rep["num_batches"] == 3
    assert rep["loss_function"] == "softmax-cross-entropy" and rep["products"]["total"] > 0
    bad = runner.invoke(app, ["spectrum", "--model", f"{tmp_path / 'tiny.py'}:float32", "--out", str(tmp_path)],
                        env=WIDE)
    assert bad.exit_code == 2 and "Invalid value for --model" in bad.output and "float32" in bad.output


STREAMED = """
import numpy as np
import jax.numpy as jnp

PASSES = []

def apply(p, X):
    return jnp.tanh(X @ p["w"]) @ p["v"]

class Batches:
    '''A data loader: each pass yields batches of 5, 5, 2 (re-iterable) and is counted.'''

    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __iter__(self):
        PASSES.append(1)
        return ((self.X[i:i + 5], self.Y[i:i + 5]) for i in range(0, len(self.X), 5))

def factory():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)), "v": rng.standard_normal((4, 3))}
    X = rng.standard_normal((12, 3))
    return apply, params, Batches(X, rng.integers(0, 3, 12))
"""


def test_model_factory_batches_are_streamed_not_concatenated(tmp_path, monkeypatch):
    from theory_lab import batching

    (tmp_path / "tiny_stream_factory.py").write_text(STREAMED)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(batching, "from_iterable", None)  # concatenating the batches would fail here
    import tiny_stream_factory

    args = ["spectrum", "--model", "tiny_stream_factory:factory", "--batch-size", "4", "--k", "2", "--probes", "2",
            "--steps", "8", "--trace-matvecs", "12", "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "out" / "spectrum.json").read_text())
    assert (tmp_path / "out" / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # batches of 5, 5, 2 re-cut into chunks of 4: 4 + 1, 4 + 1, 2 (padded), every sample counted once
    assert rep["streamed"] and rep["N"] == 12 and rep["batch_size"] == 4 and rep["num_batches"] == 5
    # the loader was iterated once per product (plus the checks), never gathered into one array
    assert len(tiny_stream_factory.PASSES) > rep["products"]["total"]


def test_mnist1d_data_do_not_follow_seed_but_digits_noise_does():
    """``--seed``'s help says what it seeds: MNIST-1D is generated with its seed 42 whatever ``--seed``
    (as ``verify`` does); the digits noise follows ``--seed``."""
    from theory_lab.commands.spectrum import _dataset

    m1d = preset("mnist1d-cnn")
    a, b = _dataset("mnist1d", 16, m1d, 0, 1e-3), _dataset("mnist1d", 16, m1d, 5, 1e-3)
    assert np.array_equal(a.X, b.X) and a.provenance["seed"] == 42
    dig = preset("digits-small")
    assert not np.array_equal(_dataset("digits", 16, dig, 0).X, _dataset("digits", 16, dig, 5).X)
