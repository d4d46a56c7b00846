"""Session 30, adversarial review of the data, the strategies, sampling and the demos.

Each test failed on the library before its fix (checked by stashing the library change):
legal strategy arguments that crashed inside hypothesis, a demo whose prediction ignored
the theorem's hypotheses on σ, a demo whose points were named by literals, text files that
could not be written under an ASCII locale, and raw keys seeded silently from floats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_lab import strategies as tls
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.data_strategies import menu
from theory_lab.demos._rank_jump import RankJump, RankPoint, rank_jump, rank_jump_explanation
from theory_lab.demos._slices import PointSlices, Slice, Slices, _kind, slices_explanation
from theory_lab.sampling import as_generator

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- strategies


@FAST
@given(net=tls.networks(n_samples=(4, 6), narrow=True, after=2, kinds=("dense", "conv1d"), max_depth=2))
def test_narrow_networks_with_layers_after_k_are_drawn(net):
    """``networks(narrow=True, after=…)`` at small N: a narrow layer of width 1 (N // 4 = 1) made the layers
    after k draw ``integers(2, 1)``, a hypothesis InvalidArgument on legal arguments. Every draw is narrow
    and pyramidal from layer k + 1 to the output."""
    widths = net.arch.widths
    assert widths[net.k] < net.N
    after = widths[net.k + 1:]
    assert all(a >= b for a, b in zip(after, after[1:])) and widths[-1] == 1


@FAST
@given(data=st.data())
def test_parameters_take_a_single_float_as_a_menu(data):
    """``menu`` wrapped only int and str scalars: ``parameters(bias_scales=0.5)`` raised "'float' object is not
    iterable", and a numpy ``bias_mean`` scalar other than float64 failed the same way."""
    arch = Architecture((3,), (Dense(2), Output(1)))
    params = data.draw(tls.parameters(arch, bias_laws="zeros", bias_scales=0.5, bias_mean=np.float32(1.5)))
    assert np.asarray(params["layer_1"]["b"]).tolist() == [1.5, 1.5]


def test_menu_keeps_iterables_and_wraps_scalars():
    assert menu(0.5, "x") == (0.5,) and menu(np.float32(2), "x") == (np.float32(2),)
    assert menu({3}, "x") == (3,) and menu([0.1, 1.0], "x") == (0.1, 1.0) and menu("normal", "x") == ("normal",)
    with pytest.raises(ValueError, match=r"`bias_scales` is empty"):
        menu((), "bias_scales")


# ----------------------------------------------------------------------------- files


def test_write_atomic_writes_utf8_under_an_ascii_locale(tmp_path):
    """Every demo JSON holds Φ, σ and ≥; under ``LC_ALL=C`` without UTF-8 mode ``write_atomic`` opened its file
    in the locale's ASCII and raised UnicodeEncodeError after the whole demo had run."""
    target = tmp_path / "out.json"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from theory_lab.report import write_atomic; "
            "write_atomic(sys.argv[2], '\\u03a6 \\u2265 \\u03c3')")
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="ascii")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), str(target)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert target.read_bytes() == "Φ ≥ σ".encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left behind


# ----------------------------------------------------------------------------- sampling keys


@pytest.mark.parametrize("key, error, match", [
    (np.float64(1.5), TypeError, r"`key` is an array of dtype float64 and shape \(\)"),
    (np.array([1.0, 2.0]), TypeError, r"dtype float64 and shape \(2,\)"),
    (np.array([], dtype=np.uint32), TypeError, r"shape \(0,\)"),
    (np.array([-1, 3]), ValueError, r"`key` holds negative entries \(\[-1, 3\]\)"),
])
def test_raw_keys_that_are_not_uint32_words_are_refused(key, error, match):
    """``as_generator(np.float64(1.5))`` seeded the same stream as ``1`` (and ``-1`` as ``2**32 - 1``): a
    reproducibility trap. A raw key must hold non-negative integers."""
    with pytest.raises(error, match=match):
        as_generator(key)


def test_raw_keys_still_seed_the_documented_stream():
    import jax

    a = as_generator(jax.random.key(4)).standard_normal(3)
    assert np.array_equal(a, as_generator(jax.random.PRNGKey(4)).standard_normal(3))
    assert np.array_equal(as_generator(np.uint32(7)).standard_normal(3), as_generator(7).standard_normal(3))


# ----------------------------------------------------------------------------- rank-jump


def test_rank_jump_predicts_only_the_bound_where_theorem_3_5_does_not_apply():
    """σ = identity is analytic but breaks Assumption 3.2: ``rank F_1 ≤ d + 1 = 65`` at every width. The demo
    still predicted ``min(n_1, N) = 80`` and said "the numbers do NOT agree", calling identity "an analytic
    conv layer" that Theorem 3.5 covers. Only ``rank ≤ min(n_1, distinct)`` is a prediction there."""
    r = rank_jump(80, filters=(1, 3), draws=1, seed=0, duplicates=0, activation="identity")
    assert not r.theorem_3_5
    assert max(p.rank for p in r.points) <= 65 < 80 == r.points[-1].expected
    assert r.agrees and r.to_dict()["theorem_3_5_applies"] is False
    text = rank_jump_explanation(r)
    assert "Theorem 3.5 makes no prediction" in text and "analytic conv layer" not in text


def _point(rank, expected=36, conclusive=True):
    return RankPoint("noisy", 1, 36, 0, rank, expected, 1.0, 0.1, 0.1, 1e-14, 100.0, conclusive)


@pytest.mark.parametrize("activation, rank, conclusive, agrees", [
    ("relu", 30, False, True),  # below the bound: ReLU's dead units are allowed
    ("relu", 37, True, False),  # above min(n_1, distinct): impossible, a wrong number
    ("sigmoid", 35, True, False),  # Theorem 3.5 applies: equality required
    ("sigmoid", 36, False, False),
])
def test_rank_jump_verdict_follows_the_activation(activation, rank, conclusive, agrees):
    r = RankJump(36, (1,), 1, 0, 0, activation, {"noisy": True}, {"noisy": 36}, (_point(rank, conclusive=conclusive),))
    assert r.agrees is agrees and r.to_dict()["agrees"] is agrees


# ----------------------------------------------------------------------------- slices


def _rising(name, loss=0.0):
    t = np.array([-1.0, 0.0, 1.0])
    rows = tuple(Slice(d, t, np.array([loss + 1.0, loss, loss + 1.0]), 2.0) for d in ("top", "bottom", "random"))
    return PointSlices(name, "wide", loss, 0.0, "minimum", rows, np.full((3, 3), loss + 1.0), 1e-12)


def _descending_bottom():
    t = np.array([-1.0, 0.0, 1.0])
    rows = (Slice("top", t, np.array([4.0, 3.0, 4.0]), 2.0), Slice("bottom", t, np.array([2.0, 3.0, 2.0]), -2.0),
            Slice("random", t, np.array([4.0, 3.0, 4.0]), 2.0))
    return PointSlices("bad point", "wide", 3.0, 0.0, "saddle", rows, np.full((3, 3), 3.0), 1e-12)


@pytest.mark.parametrize("search, agrees", [
    ({"converged": True, "zero_loss": True, "relative_loss": 1e-30}, True),
    ({"converged": False, "zero_loss": False, "relative_loss": 3e-9}, False),  # the finder stopped early
    ({"converged": True, "zero_loss": False, "relative_loss": 1e-3}, False),  # a critical point with Φ > 0
    ({}, False),  # no evidence at all
])
def test_slices_agrees_needs_the_wide_minimum_found(search, agrees):
    """The wide point was named "minimum (Φ = 0)" by a literal and ``agrees`` never read the finder's report:
    a point the search left at Φ/(½‖Y‖²) = 3e-9 whose three slices rise "agreed" with Theorem 4.5."""
    pts = (_rising("wide minimum"), _descending_bottom(), _rising("narrow minimum", 2.0))
    r = Slices(10, 40, 0, 1.0, 3, 3, pts, search=search)
    assert r.agrees is agrees and r.to_dict()["agrees"] is agrees
    kind = _kind(pts[0], search)
    assert (kind == "minimum (Φ = 0)") is agrees
    if not agrees:
        assert "NOT as predicted" in slices_explanation(r) and "is global" not in slices_explanation(r)


def test_slices_name_the_bad_point_a_saddle_only_when_it_descends():
    assert _kind(_descending_bottom(), {}) == "saddle (bad point)"
    flat = dataclass_replace(_rising("bad point", 3.0))
    assert _kind(flat, {}) == "bad critical point, no descent seen"


def dataclass_replace(p, **changes):
    import dataclasses

    return dataclasses.replace(p, **(changes or {"point": "bad point"}))


# ----------------------------------------------------------------------------- data


@FAST
@given(data=st.data())
def test_digit_crops_fill_inputs_with_three_spatial_axes(data):
    """A dense net on ``(4, 4, 4, 1)`` inputs is legal, and ``datasets(laws="digits")`` drew crops of length 0
    for it: "cannot reshape array of size 0 into shape (4,4,4,1)". Such shapes now take consecutive pixels."""
    from theory_lab import data as tl_data
    from theory_lab.data_strategies import datasets

    arch = Architecture((4, 4, 4, 1), (Dense(3), Output(1)))
    X = data.draw(datasets(arch, 5, laws="digits"))
    assert X.shape == (5, 4, 4, 4, 1) and X.dtype == np.float64
    assert tl_data.check_distinct_patches(arch, X).holds


@pytest.mark.parametrize("call, match", [
    (lambda d: d.digits(5, shuffle="no"), r"`shuffle`='no' for digits: expected True or False"),
    (lambda d: d.gaussian(5, (3,), m=True), r"`m`=True for gaussian: expected a positive integer"),
])
def test_data_refuses_truthy_stand_ins(call, match):
    """``digits(shuffle="no")`` shuffled (a non-empty string is truthy) and ``gaussian(m=True)`` drew one class."""
    from theory_lab import data as tl_data

    with pytest.raises(ValueError, match=match):
        call(tl_data)


# ----------------------------------------------------------------------------- params_io


def _layout():
    from theory_lab.layout import layout

    return layout(Architecture((3,), (Dense(2), Output(1))))


def test_a_damaged_archive_member_is_named_as_such(tmp_path):
    """numpy hands back the raw bytes of a member that is not an ``.npy`` array; ``load_theta`` then said
    "`theta` has dtype |S7; expected float64 numbers", as if the user had saved strings."""
    import zipfile

    from theory_lab.params_io import load_theta

    path = tmp_path / "point.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("theta.npy", b"garbage")
    with pytest.raises(ValueError, match=r"member\(s\) \['theta'\] of the archive are not \.npy arrays"):
        load_theta(path, _layout())


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="long double is float64 here")
def test_long_doubles_beyond_float64_are_not_called_a_diverged_run(tmp_path):
    """A finite float128 entry of 1e400 became inf in the cast, and the message said the point was NaN/Inf
    and to "save the point before the run diverged"."""
    from theory_lab.params_io import load_theta

    theta = np.ones(_layout().P, dtype=np.longdouble)
    theta[3] = np.longdouble("1e400")
    np.savez(tmp_path / "point.npz", theta=theta)
    with pytest.raises(ValueError, match=r"holds finite values beyond float64's range \(largest \|entry\| 1\.e\+400\)"):
        load_theta(tmp_path / "point.npz", _layout())


def test_saved_points_round_trip_bit_for_bit(tmp_path):
    """Per-leaf and flat archives, Fortran order, big-endian and compressed: θ comes back bit-identical."""
    from theory_lab.layout import layout
    from theory_lab.arch import Conv, MaxPool
    from theory_lab.params_io import load_theta
    from theory_lab.sampling import sample_params

    arch = Architecture((6, 6, 2), (Conv(3, (3, 3), bias="filter"), MaxPool((2, 2)), Conv(2, (2, 2), bias="none"),
                                    Dense(5), Output(2)))
    lay, params = layout(arch), sample_params(arch, 1)
    theta = np.asarray(lay.ravel(params))
    np.savez(tmp_path / "a.npz", **{f"{k}/{n}": np.asfortranarray(v) for k in params for n, v in params[k].items()})
    np.savez(tmp_path / "b.npz", theta=theta.astype(">f8"))
    np.savez_compressed(tmp_path / "c.npz", theta=theta)
    for name in ("a", "b", "c"):
        assert np.array_equal(load_theta(tmp_path / f"{name}.npz", lay).theta, theta)


# ----------------------------------------------------------------------------- output folders


@pytest.mark.parametrize("args, taken", [
    (["demo", "rank-jump", "--n", "10", "--draws", "1"], "rank-jump.png"),
    (["spectrum", "--n", "4"], "spectrum.png"),
    (["verify", "--check", "lemma-2.5"], "report.md"),
])
def test_an_output_name_taken_by_a_folder_is_refused_before_any_work(tmp_path, args, taken):
    """``demo rank-jump -o out`` with a folder ``out/rank-jump.png`` ran the demo, replaced ``rank-jump.json``,
    then died with IsADirectoryError on the PNG (a traceback, and a half-updated set). Refused up front now."""
    from typer.testing import CliRunner

    from theory_lab.cli import app

    (tmp_path / taken).mkdir()
    res = CliRunner().invoke(app, args + ["--out", str(tmp_path)])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2, res.output
    assert f"holds folder(s) named {taken}, where the output files go" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken]  # nothing written


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 2.5}, r"`n_samples`=2\.5: every N must be >= 2 and an integer"),
    ({"min_ratio": float("inf")}, r"`min_ratio`=inf must be positive and finite"),
])
def test_networks_refuse_sizes_that_were_truncated_or_overflowed(kwargs, match):
    """``n_samples=2.5`` drew N = 2 (``int(2.5)``); ``min_ratio=inf`` passed and overflowed in ``math.ceil``
    inside the first draw."""
    with pytest.raises(ValueError, match=match):
        tls.networks(**kwargs)


@FAST
@given(net=tls.networks(n_samples=np.int64(16), max_depth=np.int64(2), after=np.int64(1), kinds="dense"))
def test_networks_take_numpy_integers(net):
    assert net.N == 16 and 1 <= net.k <= 2


# ----------------------------------------------------------------------------- spectra


def _spectrum(point, *, negative=0, zero=90, positive=10, margin=100.0, method="exact"):
    import types

    from theory_lab.demos._spectra import PointSpectrum

    density = types.SimpleNamespace(nodes=np.zeros((1, 2)), weights=np.full((1, 2), 0.5), lambda_min=-1.0,
                                    lambda_max=1.0)
    return PointSpectrum(point, 0.0 if point == "minimum" else 1.0, 0.0, negative, zero, positive, 1e-10, margin,
                         method, (1.0,), (-1.0,), (0.0, 0.0), (True, True), density)


@pytest.mark.parametrize("minimum, bad, agrees, decided", [
    (_spectrum("minimum"), _spectrum("bad", negative=3, zero=87), True, True),
    # SLQ on the same point: 90.01 "zeros" against P − Nm = 90 is an estimate, not a count
    (_spectrum("minimum", zero=90.01, positive=9.99, margin=float("nan"), method="slq"),
     _spectrum("bad", negative=3.2, zero=86.8, margin=float("nan"), method="slq"), False, False),
    (_spectrum("minimum", margin=1.5), _spectrum("bad", negative=3, zero=87), False, False),  # inside the band
    (_spectrum("minimum", zero=89, positive=11), _spectrum("bad", negative=3, zero=87), False, True),
])
def test_spectra_agree_only_on_exact_conclusive_counts(minimum, bad, agrees, decided):
    """The prediction (≥ P − Nm zeros, none negative, a negative eigenvalue at the bad point) was read off SLQ
    estimates: spectra(8, seed=1, exact_max=100) "agreed" on an estimated 539.009 zeros against P − Nm = 539,
    a margin far inside SLQ's noise, and an inertia inside its tolerance band agreed as well."""
    from theory_lab.demos._spectra import Spectra, spectra_explanation

    r = Spectra(10, 100, 10, (64, 36, 10), 0, "sigmoid", {"converged": True, "zero_loss": True}, (minimum, bad))
    assert r.agrees is agrees and r.decided is decided
    assert r.to_dict()["agrees"] is agrees and r.to_dict()["decided"] is decided
    json.dumps(r.to_dict(), allow_nan=False)  # an SLQ margin (NaN) was written as the non-JSON token NaN
    if not decided:
        assert spectra_explanation(r).endswith("Not decided: the counts are SLQ estimates or inside the tolerance "
                                               "band (exact_max >= P counts them).")


# ----------------------------------------------------------------------------- critical points


def test_critical_points_refuse_a_narrow_net_that_is_not_narrow(tmp_path):
    """At N = 3 the "narrow" net (n_1 = 4) is wide: its critical points were in S_1 at Φ = 0, as Theorem 4.5
    says, the explanation printed "n_1 = 4 < N" and the demo reported "do NOT agree" for lack of bad minima.
    Refused before any work now, in the library, in slices' narrow_N and in the CLI."""
    from typer.testing import CliRunner

    from theory_lab.cli import app
    from theory_lab.demos import critical_points, slices

    with pytest.raises(ValueError, match=r"`N`=3: the narrow net has n_1 = 4 >= N, so it is not narrow"):
        critical_points(3, starts=1, saddle_starts=0)
    with pytest.raises(ValueError, match=r"`narrow_N`=4: the narrow net has n_1 = 4 >= N"):
        slices(4, narrow_N=4)
    res = CliRunner().invoke(app, ["demo", "critical-points", "--n", "4", "--out", str(tmp_path / "o")])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--n=4 must be a number of samples in [5, 200] for critical-points" in text
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"law": "normal", "scale": 1e308}, r"`scale`=1e\+308 overflows float64: layer_1/W has non-finite draws"),
    ({"bias_scale": 1e308}, r"`bias_scale`=1e\+308 / `bias_mean`=0\.0 overflows float64: layer_1/b"),
])
def test_sample_params_refuse_scales_that_overflow(kwargs, match):
    """``scale=1e308`` is finite, so it passed the check, and ``1e308 · z`` gave ±inf weights silently (NaN
    features downstream)."""
    from theory_lab.sampling import sample_params

    with pytest.raises(ValueError, match=match):
        sample_params(Architecture((3,), (Dense(50), Output(1))), 0, **kwargs)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1.0, 1e154, 1e200, 1e300])
def test_assumption_3_1_distance_at_any_scale(scale):
    """``check_distinct_patches`` on finite data of size ≥ ~1e154 raised IndexError (the k-d tree's squared
    distances overflowed and it answered "no neighbour"); at 1e-200 it reported a smallest distance of 0 beside
    "3.1 holds" (they underflowed). The distance is now exact at every scale."""
    from theory_lab import data as tl_data

    arch = Architecture((3,), (Dense(4), Output(1)))
    X = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 0.0]]) * scale
    rep = tl_data.check_distinct_patches(arch, X)
    assert rep.holds and rep.min_distance == pytest.approx(scale, rel=1e-15, abs=0)


def test_assumption_3_1_distance_between_mixed_scales():
    from theory_lab import data as tl_data

    arch = Architecture((3,), (Dense(4), Output(1)))
    X = np.array([[1e200, 0.0, 0.0], [1e200, 1e-200, 0.0], [0.0, 3.0, 0.0]])
    assert tl_data.check_distinct_patches(arch, X).min_distance == pytest.approx(1e-200, rel=1e-15, abs=0)


# ----------------------------------------------------------------------------- exact fit


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
@pytest.mark.parametrize("m", [None, 3])
def test_exact_fit_residual_at_any_target_scale(scale, m):
    """``exact_fit`` measured ``‖Fλ − y‖`` with numpy's norm, which squares: targets of size 1e-200 got residual
    0 and relative residual 0 ("exact" by underflow, the true value is ~5e-16); 1e200 gave inf and nan. The
    residual is the fit's evidence (Corollary 3.6), so it must not depend on the units of ``y``."""
    from theory_lab.exact_fit import exact_fit

    rng = np.random.default_rng(0)
    F = rng.standard_normal((4, 9))
    y = rng.standard_normal(4 if m is None else (4, m))
    fit = exact_fit(F, y * scale)
    assert 0 < fit.relative_residual < 1e-14 and np.isfinite(fit.residual)
    # at 1e-300 the residual (~2e-315) is subnormal: its spacing is 4.9e-324, so each of the two sides is rounded
    # to that grid (~3e-9 relative here); pytest's default abs=1e-12 had made this comparison vacuous
    tiny = 4 * np.finfo(np.float64).smallest_subnormal
    assert fit.residual == pytest.approx(scale * fit.relative_residual * np.linalg.norm(y), rel=1e-12, abs=tiny)


def test_a_bad_point_that_fits_the_data_decides_nothing():
    """With one sample ``Y = 1ȳᵀ``: the "bad" point ``U_2 = U_3 = 0, b_3 = ȳ`` is a global minimum (Φ = 0).
    ``spectra(1)`` said "NOT as predicted" for lack of a negative eigenvalue, and slices would have asked it to
    descend below 0. Its premise (Φ > 0) is checked now: not decided."""
    from theory_lab.demos._spectra import Spectra, spectra_explanation

    bad = dataclass_replace(_spectrum("bad", negative=0, zero=90), loss=0.0)
    r = Spectra(1, 100, 10, (64, 36, 10), 0, "sigmoid", {"converged": True, "zero_loss": True},
                (_spectrum("minimum"), bad))
    assert not r.decided and not r.agrees
    assert "Not decided: the bad point fits the data (Φ = 0)" in spectra_explanation(r)
    flat = dataclass_replace(_rising("bad point", 0.0))
    s = Slices(1, 40, 0, 1.0, 3, 3, (_rising("wide minimum"), flat, _rising("narrow minimum", 2.0)),
               search={"converged": True, "zero_loss": True})
    assert not s.decided and not s.agrees and s.to_dict()["decided"] is False
    assert _kind(flat, {}) == "U_2 = U_3 = 0 fits the data (Φ = 0): not a bad point"
