"""Session 34 (helper e): mutation pass over saving/loading points, validation, the verify reports, key
derivation and the command line (tools/plant_bugs.py ``s34e-*``).

Each test checks documented behaviour against an independent reference: a hand-placed NaN, the bytes a
float64 probe takes, the versions the packages report themselves, the contents of a file at the moment it is
replaced, the exit codes the ``verify`` docstring promises, and data regenerated from ``--seed``.
"""

import json
import os

import jax
import numpy as np
import pytest
import scipy.stats
from typer.testing import CliRunner

from theory_lab import checking, keys, report, validate
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Check, Hypothesis, Result, Verdict
from theory_lab.derivatives import layout
from theory_lab.params_io import load_theta

ARCH = Architecture((4, 1), (Conv(2, (2,)), Dense(3), Output(1)))
LAY = layout(ARCH)
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def _leaves(theta):
    return {f"layer_{leaf.k}/{leaf.name}": theta[leaf.start:leaf.stop].reshape(leaf.shape) for leaf in LAY.leaves}


# ----------------------------------------------------------------------------- params_io


def test_a_saved_point_with_nan_or_inf_is_refused_naming_the_first(tmp_path):
    """Leaf by leaf, NaN at flat index 9 and Inf at 12: refused, the message names θ[9] (the first), its leaf and
    index (hand-computed from the layout), and counts both."""
    theta = np.linspace(-1.0, 1.0, LAY.P)
    theta[9], theta[12] = np.nan, np.inf
    leaf = next(lf for lf in LAY.leaves if lf.start <= 9 < lf.stop)
    idx = np.unravel_index(9 - leaf.start, leaf.shape)
    np.savez(tmp_path / "p.npz", **_leaves(theta))
    where = rf"layer_{leaf.k}/{leaf.name}\[{', '.join(str(int(i)) for i in idx)}\]"
    with pytest.raises(ValueError, match=rf"`--params`: θ\[9\] = {where} is nan; 2 of {LAY.P} parameters are NaN "
                                         r"or Inf\. Parameters must be finite"):
        load_theta(tmp_path / "p.npz", LAY, name="--params")


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
def test_a_narrow_point_is_loaded_as_float64(tmp_path, dtype):
    """Ranks and gradients need float64: a float32 / float16 / uint8 point is cast (exactly: every such value is a
    float64) and the note says so."""
    theta = np.arange(LAY.P) % 7
    np.savez(tmp_path / "p.npz", theta=theta.astype(dtype))
    loaded = load_theta(tmp_path / "p.npz", LAY)
    assert loaded.theta.dtype == np.float64
    np.testing.assert_array_equal(loaded.theta, theta.astype(np.float64))
    assert loaded.notes == (f"`theta` has dtype {np.dtype(dtype)}; cast to float64.",)


# ----------------------------------------------------------------------------- validate


def test_validate_predicates_on_bools_and_infinities():
    """The module's documented contract: bools are not integers (``True`` is no count of 1); Inf and −Inf are not
    finite, like NaN."""
    for b in (True, False, np.True_):
        assert validate.is_integer(b) is False and validate.is_real(b) is False
    assert validate.is_integer(np.int8(2)) and validate.is_integer(7)
    for bad in ([1.0, np.inf], [-np.inf], np.array([[0.0, np.nan]])):
        assert validate.all_finite(bad) is False
    assert validate.all_finite(np.zeros((2, 3))) is True and validate.all_finite([]) is True


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_full_weight_matrix_with_inf_is_refused_by_the_library(bad):
    """Through a caller of ``all_finite``: ``forward_with_full_matrix`` refuses a U with one Inf (or NaN) entry,
    naming `U` and its expected shape (an Inf U gave an Inf or NaN output silently)."""
    from theory_lab.loss_surface import forward_with_full_matrix
    from theory_lab.sampling import sample_params

    U = np.ones((ARCH.widths[1], ARCH.widths[2]))
    U[1, 2] = bad
    X = np.random.default_rng(0).standard_normal((3, 4, 1))
    with pytest.raises(ValueError, match=r"`U` has shape \(6, 3\) and NaN/Inf entries; layer 2 needs finite"):
        forward_with_full_matrix(ARCH, sample_params(ARCH, 0), X, 2, U)


# ----------------------------------------------------------------------------- keys


def test_probe_block_counts_eight_bytes_a_float64_entry(monkeypatch):
    """A block of float64 probes takes num·dim·8 bytes: with a memory of 1000·dim·6 bytes, 750 probes fit
    (6 MB) and 800 (6.4 MB) do not; a 4-byte count would let 1500 through."""
    dim = 1000
    monkeypatch.setattr(keys, "_physical_memory", lambda: 1000 * dim * 6)
    keys.check_probe_block(750, dim, "probes")
    for num in (800, 1500):
        with pytest.raises(MemoryError, match=rf"`probes`={num}: {num} probes of dimension {dim} take "):
            keys.check_probe_block(num, dim, "probes")


def test_split_keys_are_distinct_and_reproducible():
    """Distinct purposes get independent keys: the keys of one split differ pairwise (so do their probes), and
    the same key splits the same way again."""
    key = jax.random.key(11)
    data = [np.asarray(jax.random.key_data(k)) for k in keys.split_key(key, 4)]
    again = [np.asarray(jax.random.key_data(k)) for k in keys.split_key(key, 4)]
    assert all(np.array_equal(a, b) for a, b in zip(data, again))
    assert len({tuple(d.tolist()) for d in data}) == 4
    probes = [keys.rademacher(k, (64,)) for k in keys.split_key(key, 4)]
    assert all(not np.array_equal(probes[i], probes[j]) for i in range(4) for j in range(i + 1, 4))


# ----------------------------------------------------------------------------- report


def test_write_all_atomic_replaces_nothing_until_every_copy_is_written(tmp_path, monkeypatch):
    """A failure while the second file's copy is written (fsync: a full disk) leaves BOTH old files as they were."""
    for name in ("results.json", "report.md"):
        (tmp_path / name).write_text(f"old {name}")
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError("disk full (simulated) at the second file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="disk full"):
        report.write_all_atomic({tmp_path / "results.json": "new json", tmp_path / "report.md": "new report"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "results.json"]
    assert [(tmp_path / n).read_text() for n in ("results.json", "report.md")] == ["old results.json",
                                                                                   "old report.md"]


def test_write_atomic_never_touches_the_target_before_the_replace(tmp_path, monkeypatch):
    """Whole or nothing: while the new text is written, the old file is intact (what a crash would leave); the
    replace then swaps in the whole new file."""
    path = tmp_path / "report.md"
    path.write_text("old")
    real_replace, seen = os.replace, []

    def replace(src, dst):
        seen.append((os.path.samefile(src, dst) if os.path.exists(dst) else False, path.read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    report.write_atomic(path, "new " * 100)
    assert seen == [(False, "old")] and path.read_text() == "new " * 100


def test_environment_names_each_package_with_its_own_version():
    import numpy

    env = report.environment()
    assert env["numpy"] == numpy.__version__ and env["jax"] == jax.__version__
    env_json = json.loads(report.results_json([], seed=5))["environment"]
    assert env_json["numpy"] == numpy.__version__ and env_json["jax"] == jax.__version__


# ----------------------------------------------------------------------------- cli verify


@pytest.fixture
def local_registry(monkeypatch):
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def _fixed(verdict, raise_error=False):
    def run(ctx):
        if raise_error:
            raise RuntimeError("crashed on purpose")
        return Result(verdict, [Hypothesis("h", True)], 0.5, {"x": 1.0}, f"deliberately {verdict.value}")
    return run


def test_verify_strict_counts_a_converse_that_does_not_hold(tmp_path, local_registry):
    """cli docstring: with --strict a check OR CONVERSE that says anything but holds exits 1."""
    local_registry.append(Check("s34e-converse", "Test item", "t", _fixed(Verdict.INCONCLUSIVE), kind="converse"))
    res = runner.invoke(app(), ["verify", "--strict", "--check", "s34e-converse", "-o", str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert "inconclusive (--strict): s34e-converse" in res.output


@pytest.mark.parametrize("verdict, crash", [(Verdict.FAILS, False), (None, True)])
def test_verify_a_probe_that_fails_or_crashes_exits_1(tmp_path, local_registry, verdict, crash):
    """cli docstring: probes fail CI only by failing or crashing — but then they do, with or without --strict."""
    local_registry.append(Check("s34e-probe", "Test item", "t", _fixed(verdict, crash), kind="probe"))
    res = runner.invoke(app(), ["verify", "--check", "s34e-probe", "-o", str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert json.loads((tmp_path / "results.json").read_text())["checks"][0]["verdict"] == ("error" if crash else "fails")


def app():
    from theory_lab.cli import app as typer_app

    return typer_app


# ----------------------------------------------------------------------------- cli spectrum


def test_spectrum_follows_seed_for_gaussian_data_and_probes_and_defaults_k_to_5(tmp_path):
    """One small run at --seed 3 on gaussian data, --k not given: the data are data.gaussian(..., seed=3)
    (the loss recomputed from them and the --params random point), the probes' seed is 3, and the documented
    default --k 5 gives 5 eigenpairs at each end."""
    from theory_lab import data
    from theory_lab import derivatives as D
    from theory_lab.commands.spectrum import random_point
    from theory_lab.presets import architecture

    res = runner.invoke(app(), ["spectrum", "--arch", "digits-small", "--data", "gaussian", "--n", "8", "--seed",
                                "3", "--probes", "2", "--steps", "8", "--trace-matvecs", "6", "--exact-max", "0",
                                "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "spectrum.json").read_text())
    arch = architecture("digits-small")
    ds = data.gaussian(8, (8, 8, 1), m=10, seed=3)
    assert rep["dataset"] == ds.provenance
    assert (rep["dataset"]["name"], rep["dataset"]["seed"]) == ("gaussian", 3)
    want = float(D.loss(D.objective(arch), random_point(arch, 3), ds.X, ds.Y))
    assert rep["loss"] == pytest.approx(want, rel=1e-12)
    assert rep["seed"] == 3
    assert len(rep["top"]["values"]) == len(rep["bottom"]["values"]) == 5


def test_random_params_do_not_share_the_data_stream():
    """Library fix (s34): ``--params random`` drew θ from ``default_rng(seed)``, the very stream ``--data gaussian``
    (inputs, labels) and the digits noise draw from. θ's first-layer weights are LeCun-normal truncated to [-2, 2]
    by inverse CDF, so their uniforms are recovered exactly; before, they were the first doubles of
    ``default_rng(seed)`` (to 1e-16), i.e. the same 64-bit words as sample 0's first pixels."""
    import scipy.special

    from theory_lab.commands.spectrum import random_point
    from theory_lab.presets import architecture

    arch = architecture("digits-small")
    l, T = arch.info[0].l, arch.info[0].T
    trunc = scipy.stats.truncnorm(-2, 2).std()  # flax's correction: the truncated law's std
    lo, hi = scipy.special.ndtr(-2.0), scipy.special.ndtr(2.0)
    for seed in (0, 3):
        W1 = random_point(arch, seed)[:l * T]
        u = (scipy.special.ndtr(W1 * np.sqrt(l) * trunc) - lo) / (hi - lo)
        assert np.all((0 < u) & (u < 1))
        data_stream = np.random.default_rng(seed).random(l * T)
        assert np.max(np.abs(u - data_stream)) > 1e-3, "θ reuses the data's random stream"
        # and θ still follows --seed: the same seed gives the same point, another seed another point
        assert np.array_equal(random_point(arch, seed)[:l * T], W1)
    assert not np.array_equal(random_point(arch, 0), random_point(arch, 3))


@pytest.mark.parametrize("raw", [[0.5, 1.7], [0.0, 3.0], [-1, 3], [2**40, 0]])
def test_a_raw_key_that_is_not_two_uint32_words_is_refused(raw):
    """Library fix (s34): ``check_key`` took any array of shape (2,) as a raw key and cast it to uint32 silently, so
    ``[0.5, 1.7]`` drew the probes of key ``[0, 1]`` and ``[0.0, 3.0]`` those of ``PRNGKey(3)``."""
    key = jax.device_put(np.array(raw))
    with pytest.raises(TypeError, match=r"`key`=.* is not a raw key: its two words are uint32 "
                                        r"\(jax.random.PRNGKey\(seed\)\); pass jax.random.key\(seed\)"):
        keys.rademacher(key, (4,))
    ok = jax.random.PRNGKey(3)  # the old-style raw key itself, and its words as non-negative integers, still work
    assert np.array_equal(keys.rademacher(ok, (8,)), keys.rademacher(jax.random.key(3), (8,)))
    assert np.array_equal(keys.rademacher(jax.device_put(np.array([0, 3])), (8,)), keys.rademacher(ok, (8,)))
