"""Session 35 (helper b): mutation pass over the spectra and slices demos and the ``theory-lab demo`` command.

Each test kills planted mutants (``tools/plant_bugs.py``, ids ``s35b-*``, named in the docstrings) that the demo
tests let through, against an independent reference: the loss recomputed at ``θ + t·d`` row by row,
``numpy.linalg.eigvalsh`` of a dense Hessian, the Rayleigh-quotient bounds of a unit direction, the digits drawn
with the documented seed, SLQ weights that sum to one per probe, the command run through typer's CliRunner.

Where the critical-point search is not what is tested, :func:`theory_lab.critical.find_critical_point` is replaced
by a stub that returns its start: a whole demo then runs in seconds on a tiny network (``N = 3`` digits), and every
statement checked (Rayleigh bounds, eigenvalues, counts, the seed) holds at any point, critical or not.
"""

import json
import math
import re
import types

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from theory_lab import critical, data
from theory_lab import derivatives as D
from theory_lab import demos
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.cli import app
from theory_lab.commands.demo import MAX_REPEATS
from theory_lab.commands.options import SEED_MAX
from theory_lab.demos import PointSlices, PointSpectrum, Slice, Slices, Spectra, landmarks, loss_on_grid, slices
from theory_lab.demos import _slices

N = 3  # wide_architecture(3): P = 384; the smallest wide net of the demos
SEED = 5


def _text(res) -> str:
    return " ".join(res.output.replace("│", " ").split())


def _finder(kinds=None, calls=None, residual=1.0):
    """A stand-in for ``critical.find_critical_point``: returns its start, with the ``kinds`` given in turn."""
    calls = [] if calls is None else calls

    def find(arch, params, X, Y, **kwargs):
        calls.append((params, np.asarray(X), kwargs))
        kind = "minimum" if kinds is None else kinds[len(calls) - 1]
        return types.SimpleNamespace(params=params, converged=True, kind=kind,
                                     inertia=types.SimpleNamespace(conclusive=True), loss=0.5 * residual ** 2,
                                     grad_norm=0.0, iterations=0, residual_norm=residual, message="stub", in_S_k=True)
    return find


def _dense_spectrum(lm, key):
    """Eigenvalues and eigenvectors of the dense ``∇²Φ`` at ``lm.params[key]`` (numpy ``eigh``), and θ."""
    obj = D.objective(lm.arch)
    theta = np.asarray(obj.layout.ravel(lm.params[key]))
    H = np.asarray(D.hessian(obj, theta, lm.X, lm.Y))
    lam, U = np.linalg.eigh(0.5 * (H + H.T))
    assert np.allclose(lam, np.linalg.eigvalsh(H), rtol=0, atol=1e-12 * np.abs(lam).max())
    return obj, theta, lam, U


# ----------------------------------------------------------------------------- loss_on_grid


def test_loss_on_grid_is_the_loss_at_theta_plus_coords_times_directions():
    """s35b-grid-sign: ``Φ(θ − c V)`` for ``Φ(θ + c V)``. Every slice and the plane were mirrored, which no
    demo test sees (a minimum rises both ways, the quadratic model is even in ``t``). Reference: the library's
    loss at ``θ + Σ_k c_k V_k`` built by hand, one row at a time."""
    arch = Architecture((3,), (Dense(4), Output(2)))
    obj = D.objective(arch)
    rng = np.random.default_rng(35)
    theta, V = rng.standard_normal(obj.P), rng.standard_normal((2, obj.P))
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    coords = np.array([[0.0, 0.0], [0.5, 0.0], [-0.5, 0.0], [0.3, -0.7], [1.0, 2.0]])
    got = np.asarray(loss_on_grid(obj, theta, V, coords, X, Y))
    ref = np.array([float(D.loss(obj, theta + c[0] * V[0] + c[1] * V[1], X, Y)) for c in coords])
    assert got.shape == (5,) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert abs(ref[1] - ref[2]) > 1e-3 * ref[0]  # the direction is not even: t and −t differ


# ----------------------------------------------------------------------------- the narrow net's point


def _leaves(params) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree_util.tree_leaves(params)])


def test_narrow_minimum_takes_the_first_strict_minimum_of_distinct_seeded_starts(monkeypatch):
    """s35b-narrow-data-seed (the narrow net's digits drawn with seed 0), s35b-narrow-same-start (every start the
    same draw, so ``starts`` retries one point), s35b-narrow-accepts-degenerate (a degenerate point taken for a
    strict minimum). The documented rule: the first of ``starts`` random starts that the finder certifies as a
    strict (``kind == "minimum"``, conclusive) minimum, on ``data.digits(N, noise=1e-6, seed=seed)``."""
    calls = []
    monkeypatch.setattr(critical, "find_critical_point", _finder(("saddle", "degenerate", "minimum", "minimum"), calls))
    arch, ds, res = _slices._narrow_minimum(6, 2, "sigmoid", 4)
    assert len(calls) == 3 and res.kind == "minimum" and res.params is calls[2][0]
    ref = data.digits(6, noise=1e-6, seed=2)
    np.testing.assert_array_equal(ds.X, ref.X)
    np.testing.assert_array_equal(calls[0][1], ref.X)
    assert ds.provenance["seed"] == 2
    starts = [_leaves(c[0]) for c in calls]
    assert all(not np.array_equal(starts[i], starts[j]) for i in range(3) for j in range(i))
    assert arch.widths[1] == 4  # n_1 = 4 < N: the narrow net


# ----------------------------------------------------------------------------- landmarks' search report


def test_landmarks_relative_loss_is_phi_over_half_the_target_norm(monkeypatch):
    """s35b-relative-loss-unsquared: the report's ``relative_loss`` was ``‖r‖/‖Y‖`` instead of
    ``Φ/(½‖Y‖²) = (‖r‖/‖Y‖)²``. One-hot targets on 4 digits: ``½‖Y‖² = 2``."""
    monkeypatch.setattr(critical, "find_critical_point", _finder(residual=1e-3 * 2.0))  # ‖Y‖ = 2
    lm = landmarks(4, seed=1)
    assert 0.5 * float(np.sum(lm.Y ** 2)) == 2.0
    s = lm.search
    assert s["relative_residual"] == pytest.approx(1e-3, rel=1e-12, abs=0)
    assert s["relative_loss"] == pytest.approx(s["loss"] / 2.0, rel=1e-12, abs=0)
    assert s["zero_loss"] is False


# ----------------------------------------------------------------------------- spectra: JSON of an SLQ point


def test_slq_point_has_no_nan_margin_in_json():
    """s35b-nan-margin-in-json: an SLQ inertia has margin NaN (no exact eigenvalues, so no distance to the
    tolerance); the payload must hold ``null`` (strict JSON has no NaN) and the point decides nothing."""
    density = types.SimpleNamespace(nodes=np.zeros((1, 2)), weights=np.full((1, 2), 0.5), lambda_min=-1.0,
                                    lambda_max=1.0)
    points = tuple(PointSpectrum(name, loss, 0.0, neg, 90.0, 10.0, 1e-10, math.nan, "slq", (1.0,), (-1.0,),
                                 (0.0, 0.0), (True, True), density) for name, loss, neg in (("minimum", 0.0, 0.0),
                                                                                           ("bad", 1.0, 3.0)))
    assert points[0].to_dict()["margin"] is None and not points[0].decided
    r = Spectra(10, 100, 10, (64, 36, 10), 0, "sigmoid", {"converged": True, "zero_loss": True}, points)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert [p["margin"] for p in d["points"]] == [None, None] and d["decided"] is False and d["agrees"] is False


# ----------------------------------------------------------------------------- demo: limits at their edges


@pytest.mark.parametrize("args", [
    ["critical-points", "--starts", str(MAX_REPEATS)],
    ["slices", "--seed", str(SEED_MAX)],
], ids=["starts-max", "seed-max"])
def test_demo_accepts_counts_and_seeds_at_their_maximum(args, tmp_path):
    """s35b-starts-max-off-by-one, s35b-seed-max-off-by-one: ``--starts 1000`` and ``--seed 2**32 − 1`` (the
    documented maxima) refused by ``>=`` for ``>``. Accepted, so the refusal is the ``--out`` file's (exit 2,
    before any work)."""
    taken = tmp_path / "taken"
    taken.write_text("keep")
    res = CliRunner().invoke(app, ["demo", *args, "--out", str(taken)])
    assert res.exit_code == 2 and "Invalid value for --out" in _text(res), _text(res)
    assert taken.read_text() == "keep"


@pytest.mark.parametrize("args, match", [
    (["critical-points", "--starts", str(MAX_REPEATS + 1)], r"--starts=1001 is more than 1000 starts per network"),
    (["slices", "--seed", str(SEED_MAX + 1)], r"--seed=4294967296 must be a non-negative integer at most 4294967295"),
], ids=["starts-max+1", "seed-max+1"])
def test_demo_refuses_counts_and_seeds_just_past_their_maximum(args, match, tmp_path):
    res = CliRunner().invoke(app, ["demo", *args, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and re.search(match, _text(res)), _text(res)
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- library fix: spectra(exact_max=…)


@pytest.mark.parametrize("exact_max", ["all", None, -1, 2.5, True])
def test_spectra_refuses_an_exact_max_that_is_not_a_count_before_searching(exact_max, monkeypatch):
    """Bad input (fixed in session 35): ``spectra(exact_max="all")`` ran the wide net's search, then failed on
    ``P <= exact_max`` with a bare TypeError; ``-1`` or ``2.5`` passed silently. Refused first, naming the
    argument, now."""
    from theory_lab.demos import _spectra

    def search(*args, **kwargs):
        raise AssertionError("the wide net's search ran before exact_max was checked")

    monkeypatch.setattr(_spectra, "landmarks", search)
    with pytest.raises(ValueError, match=r"`exact_max`=.* must be a non-negative integer .*0: SLQ estimates only"):
        demos.spectra(N, exact_max=exact_max)


# ----------------------------------------------------------------------------- demo slices (CLI, stub demo)


def _fake_slices(n, *, seed, starts, progress=None):
    t = np.array([-1.0, 0.0, 1.0])
    rows = tuple(Slice(d, t, np.array([2.0, 1.0, 2.0]), 2.0) for d in ("top", "bottom", "random"))
    plane = np.full((3, 3), 2.0)
    plane[1, 1] = 1.0
    pts = tuple(PointSlices(name, net, 1.0, 0.0, "minimum", rows, plane, 1e-12)
                for name, net in (("wide minimum", "wide"), ("bad point", "wide"), ("narrow minimum", "narrow")))
    return Slices(n, 5, seed, 1.0, 3, 3, pts, search={"converged": True, "zero_loss": True})


def test_demo_slices_passes_starts_and_seed_on(tmp_path, monkeypatch):
    """s35b-slices-starts-ignored: ``--starts`` dropped (always 12). The demo function is replaced by one that
    records what the command passed and returns a hand-built result."""
    calls = []

    def fake(n, **kwargs):
        calls.append((n, kwargs))
        return _fake_slices(n, **kwargs)

    monkeypatch.setattr(demos, "slices", fake)
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["demo", "slices", "--n", "7", "--starts", "3", "--seed", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [(n, kw["seed"], kw["starts"]) for n, kw in calls] == [(7, 4, 3)]
    assert json.loads((out / "slices.json").read_text())["seed"] == 4
    assert sorted(p.name for p in out.iterdir()) == ["slices.json", "slices.png", "slices.svg"]


# ----------------------------------------------------------------------------- slices (stubbed searches)


@pytest.fixture(scope="module")
def stub_slices():
    """``slices`` with the searches stubbed (the points are their seeded starts), and the same wide landmarks."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(critical, "find_critical_point", _finder())
        result = slices(N, narrow_N=5, seed=SEED, grid=5, grid2d=3, radius=0.5, starts=1)
        lm = landmarks(N, seed=SEED)
    return result, lm


def test_slice_curvatures_lie_between_the_extreme_eigenvalues(stub_slices):
    """s35b-random-not-unit (the random direction not normalised), s35b-curvature-point-index (each slice given
    the point's curvature). For a unit ``v``, ``λ_min ≤ vᵀ∇²Φ v ≤ λ_max`` (Rayleigh), with equality along the
    top eigenvector; the extremes from numpy's ``eigvalsh`` of the dense Hessian."""
    result, lm = stub_slices
    for name, key in (("wide minimum", "minimum"), ("bad point", "bad")):
        _, _, lam, _ = _dense_spectrum(lm, key)
        p, slack = result.at(name), 1e-9 * np.abs(lam).max()
        for s in p.slices:
            assert lam[0] - slack <= s.curvature <= lam[-1] + slack, (name, s.direction, s.curvature, lam[[0, -1]])
        assert p.along("top").curvature == pytest.approx(lam[-1], rel=1e-8)
        assert p.along("bottom").curvature < p.along("random").curvature < p.along("top").curvature


def test_top_slice_is_the_loss_along_the_top_eigenvector(stub_slices):
    """The 1-D top slice is ``Φ(θ + t u)`` with ``u`` numpy's top eigenvector of the dense Hessian (up to its
    sign), recomputed by hand with the library's loss; the centre is ``Φ(θ)``."""
    result, lm = stub_slices
    obj, theta, lam, U = _dense_spectrum(lm, "minimum")
    assert lam[-1] - lam[-2] > 1e-3 * lam[-1]  # a simple top eigenvalue: u is defined up to its sign
    s, p = result.at("wide minimum").along("top"), result.at("wide minimum")
    np.testing.assert_allclose(s.t, np.linspace(-0.5, 0.5, 5), rtol=0, atol=0)
    refs = [np.array([float(D.loss(obj, theta + sign * t * U[:, -1], lm.X, lm.Y)) for t in s.t]) for sign in (1, -1)]
    assert min(np.max(np.abs(s.values - r) / r) for r in refs) <= 1e-7
    assert s.values[2] == pytest.approx(p.loss, rel=1e-12)


# ----------------------------------------------------------------------------- demo spectra (CLI, stubbed search)


@pytest.fixture(scope="module")
def spectra_cli(tmp_path_factory):
    """``theory-lab demo spectra --n 3 --seed 5`` with the search stubbed and small SLQ/Lanczos counts; the
    arguments the command passed, the figure it drew, its output and files, and the same landmarks."""
    out = tmp_path_factory.mktemp("spectra") / "o"
    calls, figs = [], []
    real_spectra, real_figure = demos.spectra, demos.spectra_figure

    def small(n, **kwargs):
        calls.append((n, kwargs))
        return real_spectra(n, num_probes=2, num_matvecs=8, k=1, **kwargs)

    def figure(result):
        figs.append(real_figure(result))
        return figs[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(critical, "find_critical_point", _finder())
        mp.setattr(demos, "spectra", small)
        mp.setattr(demos, "spectra_figure", figure)
        res = CliRunner().invoke(app, ["demo", "spectra", "--n", str(N), "--seed", str(SEED), "--out", str(out)])
        lm = landmarks(N, seed=SEED)
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "spectra.json").read_text())
    return types.SimpleNamespace(res=res, out=out, calls=calls, figs=figs, lm=lm, payload=payload)


def test_demo_spectra_passes_the_seed_on(spectra_cli):
    """s35b-spectra-seed-dropped: ``--seed`` not passed to the demo (its numbers were seed 0's)."""
    c = spectra_cli
    assert [(n, kw.get("seed")) for n, kw in c.calls] == [(N, SEED)]
    assert c.payload["seed"] == SEED and c.payload["datasets"] == [{"name": "digits", "N": N, "noise": 1e-6,
                                                                   "seed": SEED}]
    assert sorted(p.name for p in c.out.iterdir()) == ["spectra.json", "spectra.png", "spectra.svg"]


def _table_row(output: str, point: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in re.split("[│┃]", line)]
        if len(cells) > 2 and cells[1] == point:
            return cells[1:-1]
    raise AssertionError(f"no table row for {point!r} in:\n{output}")


def test_demo_spectra_eigenvalues_and_table_match_dense_eigvalsh(spectra_cli):
    """s35b-table-lambda-min-last: the table's λ_min column showed the largest eigenvalue. Reference: numpy's
    ``eigvalsh`` of the dense Hessian at each point (``P = 384 ≤ exact_max``: every eigenvalue is in the JSON)."""
    c = spectra_cli
    header = _table_row(c.res.output, "point")
    assert header[6:8] == ["λ_min", "λ_max"]
    for point, key in (("minimum", "minimum"), ("bad", "bad")):
        _, _, lam, _ = _dense_spectrum(c.lm, key)
        p = next(q for q in c.payload["points"] if q["point"] == point)
        assert p["method"] == "exact" and len(p["eigenvalues"]) == c.payload["P"] == lam.size
        np.testing.assert_allclose(p["eigenvalues"], lam, rtol=0, atol=1e-10 * np.abs(lam).max())
        row, noise = _table_row(c.res.output, point), 1e-9 * np.abs(lam).max()  # printed to 3 digits
        assert float(row[6]) == pytest.approx(lam[0], rel=5e-3, abs=noise), row
        assert float(row[7]) == pytest.approx(lam[-1], rel=5e-3, abs=noise), row
        assert lam[-1] - lam[0] > 0.1 * np.abs(lam).max()  # the two columns are told apart


def test_spectra_figure_slq_counts_add_up_to_P(spectra_cli):
    """s35b-slq-stairs-per-probe: the SLQ steps drawn ``num_probes`` times too high. Each probe's quadrature
    weights sum to 1 and every node lies in ``[λ_min, λ_max]`` inside the bins, so the counts per bin add up
    to ``P`` (the exact bars too, when every eigenvalue is inside the bins)."""
    from matplotlib.patches import StepPatch

    c = spectra_cli
    (fig,) = c.figs
    for ax in fig.get_axes():
        (steps,) = [a for a in ax.patches if isinstance(a, StepPatch)]
        assert float(np.sum(steps.get_data().values)) == pytest.approx(c.payload["P"], rel=1e-9)
