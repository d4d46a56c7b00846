"""Planted bugs in the teaching demos that the demo tests let through.

A mutation audit planted one realistic bug at a time in ``theory_lab/demos`` (the verdicts
``agrees`` / ``threshold_ok``, the prediction ``min(n_1, distinct samples)``, the tolerances,
the seeding contracts, the JSON payloads) and ran the demo tests. These tests kill the mutants
that survived. Most build a demo's result dataclass by hand, so the verdict is known from the
documented rule alone; the few that run a demo use tiny arguments. The planted bug each test
catches is named in its docstring.
"""

import json
import math
import types

import numpy as np
import pytest

from theory_lab.demos import common
from theory_lab.demos._critical_points import CriticalPoint, CriticalPoints
from theory_lab.demos._rank_jump import RankJump, RankPoint, default_filters, rank_jump
from theory_lab.demos._slices import PointSlices, Slice, Slices, slices
from theory_lab.demos._spectra import PointSpectrum, Spectra
from theory_lab.demos._width_threshold import FitPoint, WidthThreshold, width_threshold


# ----------------------------------------------------------------------------- common


def test_zero_loss_threshold_is_the_documented_1e_minus_10_relative_residual():
    """Planted bug: the demos' zero-loss threshold loosened (it was ``Φ ≤ 1e-16 · ½‖Y‖²`` until session 33).

    The documented rule is the library's ``‖F_L − Y‖ ≤ 1e-10 ‖Y‖`` with band 10: a residual of
    1e-7 ‖Y‖ (relative loss 1e-14) is not a zero loss; one of 1e-12 ‖Y‖ (1e-24) is; 1e-10 ‖Y‖ is undecided.
    """
    assert common.ZERO_RESIDUAL_RTOL == pytest.approx(1e-10, rel=1e-12, abs=0)  # below default abs=1e-12
    assert _crit("wide", relative_loss=1e-14).zero_loss is False
    assert _crit("wide", relative_loss=1e-24).zero_loss is True
    assert _crit("wide", relative_loss=1e-20).zero_loss is None


# ----------------------------------------------------------------------------- rank-jump


def _rank_point(series="noisy", *, n1=36, rank=20, expected=20, conclusive=True, margin=100.0):
    return RankPoint(series, n1 // 36, n1, 0, rank, expected, 1.0, 0.1, 0.1, 1e-14, margin, conclusive)


def _rank_jump(*points, N=20):
    return RankJump(N, (1,), 1, 0, 0, "sigmoid", {"noisy": True}, {"noisy": N}, tuple(points))


@pytest.mark.parametrize("points, agrees", [
    ((_rank_point(), _rank_point(n1=72)), True),
    ((_rank_point(), _rank_point(n1=72, rank=19)), False),  # one rank below its prediction
    ((_rank_point(), _rank_point(n1=72, conclusive=False)), False),  # one decision inside the band
])
def test_rank_jump_agrees_needs_every_rank_equal_and_conclusive(points, agrees):
    """Planted bugs: ``agrees`` with ``any`` for ``all``, without ``and p.conclusive``, or hard-coded
    True in the JSON payload. One wrong or inconclusive rank must refute the demo."""
    r = _rank_jump(*points)
    assert r.agrees is agrees
    assert r.to_dict()["agrees"] is agrees


def test_rank_point_json_writes_an_infinite_margin_as_a_string():
    """Planted bug: the margin ``inf`` left as a float, which strict JSON cannot hold."""
    d = _rank_point(margin=float("inf")).to_dict()
    assert d["margin"] == "inf"
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("N", [37, 73, 200, 500, 1000, 1797])
def test_default_filters_hold_both_neighbours_of_the_jump(N):
    """Planted bugs: the first ``T`` with ``36·T ≥ N`` computed as ``N // 36``, or the last ``T`` below
    it dropped. The sweep must show the rank just below ``N`` and at or above it."""
    Ts = default_filters(N)
    first = math.ceil(N / 36)
    assert first in Ts and 36 * first >= N
    assert first - 1 in Ts and 36 * (first - 1) < N


@pytest.fixture(scope="module")
def small_jump():
    return rank_jump(20, filters=(1, 2), draws=2, seed=3)


def test_rank_jump_payload_and_prediction_on_a_small_sweep(small_jump):
    """Planted bugs: the default ``duplicates`` not ``N // 10``; the points out of the documented order
    (series, ``T``, draw); the prediction not ``min(n_1, distinct samples)``; the payload's ``n1`` or
    ``distinct_samples`` not the run's."""
    r = small_jump
    assert r.duplicates == 2 and r.distinct == {"noisy": 20, "raw": 20, "duplicates": 18}
    keys = [(p.series, p.T, p.draw) for p in r.points]
    assert keys == [(s, t, j) for s in ("noisy", "raw", "duplicates") for t in (1, 2) for j in (0, 1)]
    for p in r.points:
        assert p.expected == min(p.n1, r.distinct[p.series])
        assert p.rank == p.expected and p.conclusive
    d = r.to_dict()
    assert d["n1"] == [36, 72] and d["distinct_samples"] == r.distinct and d["agrees"] is True


def test_rank_jump_draws_follow_the_documented_keys(small_jump):
    """Planted bugs: every draw with the key of draw 0; the noise drawn from seed 0 whatever ``seed``.

    The docstring promises draw ``j`` at width ``T`` uses ``fold_in(fold_in(key(seed), T), j)`` and
    the noise comes from ``seed``: rebuilding ``F_1`` from that contract gives the same σ_max.
    """
    import jax

    from theory_lab import data, model
    from theory_lab.arch import Architecture, Conv, Output
    from theory_lab.linalg import rank_report
    from theory_lab.sampling import sample_params

    X = data.digits(20, noise=1e-6, seed=3).X
    arch = Architecture((8, 8, 1), (Conv(1, (3, 3)), Output(10)))
    noisy = [p for p in small_jump.select("noisy") if p.T == 1]
    for j, p in enumerate(noisy):
        params = sample_params(arch, jax.random.fold_in(jax.random.fold_in(jax.random.key(3), 1), j))
        ref = rank_report(np.asarray(model.features(arch, params, X)[1]))
        assert p.sigma_max == pytest.approx(ref.sigma_max, rel=1e-12)
    assert noisy[0].sigma_max != noisy[1].sigma_max


def test_rank_jump_band_decides_conclusiveness():
    """Planted bug: the ``band`` argument ignored (the default 10 always used). A band no margin can
    reach makes every decision inconclusive, so the demo cannot agree."""
    r = rank_jump(20, filters=(1,), draws=1, seed=3, duplicates=0, band=1e300)
    assert r.points and not any(p.conclusive for p in r.points)
    assert r.agrees is False


# ----------------------------------------------------------------------------- width-threshold


def _fit(n1, *, rank=20, loss=0.0, error=0.0, conclusive=True, labels="random"):
    rel = loss / 10.0
    return FitPoint(labels, n1 // 36, n1, 0, loss, rel, error, rank, 0.1, conclusive,
                    common.zero_residual(rel ** 0.5, [[1.0]])[1], rel ** 0.5)


@pytest.mark.parametrize("point, ok", [
    (_fit(20), True),
    (_fit(20, loss=1.0), False),  # n_1 = N exactly, full rank, Φ > 0: Corollary 3.6 refuted
    (_fit(40, error=0.05), False),  # zero loss cannot leave a training error
    (_fit(40, loss=1e-6), False),  # zero error but Φ > 0
    (_fit(40, loss=1.0, conclusive=False), True),  # an inconclusive rank is not rank N: no prediction
    (_fit(40, loss=1.0, rank=19), True),  # rank < N: the corollary does not apply
    (_fit(19, loss=1.0), True),  # n_1 < N: no prediction
])
def test_threshold_ok_follows_the_documented_rule(point, ok):
    """Planted bugs: ``n_1 > N`` for ``n_1 ≥ N``; the loss or the error dropped from the verdict; the
    conclusiveness filter dropped; ``threshold_ok`` hard-coded True in the JSON payload."""
    r = WidthThreshold(20, (1,), 1, 0, "sigmoid", (_fit(40), point))
    assert r.threshold_ok is ok
    assert r.to_dict()["threshold_ok"] is ok


@pytest.fixture(scope="module")
def small_threshold():
    return width_threshold(60, filters=(1, 2), draws=2, seed=0)


def test_width_threshold_numbers_on_a_small_sweep(small_threshold):
    """Planted bugs: ``relative_loss`` divided by ``‖Y‖²`` instead of ``½‖Y‖²``; ``zero_loss`` decided at
    another threshold; the training error not the fraction of misclassified samples; every draw of
    the conv layer with the parameters of draw 0; ``conclusive`` hard-coded True.

    With one-hot targets ``½‖Y‖² = N/2``; the error is a multiple of ``1/N``.
    """
    r, N = small_threshold, 60
    for p in r.points:
        assert p.relative_loss == pytest.approx(p.loss / (N / 2), rel=1e-12, abs=0)  # zero-loss points are ~1e-27
        assert p.relative_residual ** 2 == pytest.approx(p.relative_loss, rel=1e-12, abs=0)
        # s33-f: decided by the exact-fit residual's tolerance on this fit (band 10), not 1e-10‖Y‖
        assert p.residual_ratio == pytest.approx(p.relative_residual * np.sqrt(N) / p.tolerance, rel=1e-12, abs=0)
        assert p.zero_loss is (True if p.residual_ratio <= 0.1 else False if p.residual_ratio >= 10 else None)
        assert 0 <= p.error <= 1 and p.error * N == pytest.approx(round(p.error * N), abs=1e-9)
        assert p.conclusive and p.rank == min(p.n1, N)
    narrow = [p for p in r.select("random") if p.n1 < N]
    assert all(0 < p.error < 1 for p in narrow)  # random labels: some right, some wrong
    true_narrow = [p for p in r.select("true") if p.n1 < N]
    assert true_narrow[0].loss != true_narrow[1].loss  # two draws of the conv layer, two losses
    assert r.threshold_ok


# ----------------------------------------------------------------------------- critical-points


def _crit(network, *, kind="minimum", relative_loss=0.0, loss=None, in_S_k=True, conclusive=True, converged=True):
    loss = relative_loss if loss is None else loss
    return CriticalPoint(network, "minimum", 0, converged, kind, loss, relative_loss, 0.0, 0, 0, 5, conclusive,
                         in_S_k, 1, 0.0, relative_loss ** 0.5)


def _crits(*points):
    return CriticalPoints(4, {}, 0, "sigmoid", 1, 0, points)


@pytest.mark.parametrize("extra, agrees", [
    (_crit("wide", relative_loss=0.3, converged=False, kind="not converged"), True),  # not a critical point
    (_crit("wide", relative_loss=0.3, in_S_k=False, kind="saddle"), True),  # outside S_1 the theorem is silent
    (_crit("wide", relative_loss=0.3), False),  # in S_1 with Φ > 0: Theorem 4.5 refuted
])
def test_wide_half_counts_only_converged_points_in_S_1(extra, agrees):
    """Planted bugs: unconverged runs counted as critical points (``select`` ignoring ``converged``),
    or the ``in_S_k`` filter dropped."""
    r = _crits(_crit("wide"), extra, _crit("narrow", relative_loss=0.3))
    assert r.agrees is agrees and r.to_dict()["agrees"] is agrees


@pytest.mark.parametrize("narrow, bad", [
    (_crit("narrow", relative_loss=0.3), 1),
    (_crit("narrow", relative_loss=0.3, conclusive=False), 0),  # inertia inside the band: not shown strict
    (_crit("narrow", relative_loss=0.3, kind="degenerate"), 0),  # a zero eigenvalue: not a strict minimum
    (_crit("narrow", relative_loss=0.3, kind="saddle"), 0),
])
def test_narrow_bad_minima_are_strict_conclusive_minima(narrow, bad):
    """Planted bugs: ``narrow_bad_minima`` without ``p.conclusive``, or any non-saddle kind counted; the
    payload's ``narrow_bad_minima`` counting every narrow point; ``agrees`` in the payload without the
    narrow half."""
    r = _crits(_crit("wide"), narrow, _crit("narrow", relative_loss=0.3, kind="saddle"))
    assert len(r.narrow_bad_minima) == bad
    d = r.to_dict()
    assert d["narrow_bad_minima"] == bad and d["agrees"] is (bad > 0)


def test_critical_point_zero_loss_is_relative():
    """Planted bug: ``zero_loss`` compared the absolute ``Φ`` (not the relative residual) with the threshold.
    (Session 33: the rule is ``‖F_L − Y‖/‖Y‖ ≤ 1e-10``, band 10; relative losses 1e-24 / 1e-16 are residuals
    1e-12 / 1e-8.)"""
    assert _crit("wide", loss=1e-15, relative_loss=1e-24).zero_loss is True
    assert _crit("wide", loss=1e-30, relative_loss=1e-16).zero_loss is False


# ----------------------------------------------------------------------------- spectra


def _spectrum(point, *, negative=0, zero=90, positive=10, margin=100.0):
    density = types.SimpleNamespace(nodes=np.zeros((1, 2)), weights=np.full((1, 2), 0.5), lambda_min=-1.0,
                                    lambda_max=1.0)
    loss = 0.0 if point == "minimum" else 1.0  # the bad point is bad: Φ > 0 (a premise since session 30)
    return PointSpectrum(point, loss, 0.0, negative, zero, positive, 1e-10, margin, "exact", (1.0,), (-1.0,),
                         (0.0, 0.0), (True, True), density)


@pytest.mark.parametrize("minimum, bad, converged, agrees", [
    (_spectrum("minimum", zero=90), _spectrum("bad", negative=3, zero=87), True, True),  # zeros exactly P − Nm
    (_spectrum("minimum", zero=89, positive=11), _spectrum("bad", negative=3, zero=87), True, False),
    (_spectrum("minimum", negative=1, zero=90, positive=9), _spectrum("bad", negative=3, zero=87), True, False),
    (_spectrum("minimum"), _spectrum("bad", negative=0), True, False),  # the bad point must be a saddle
    (_spectrum("minimum"), _spectrum("bad", negative=3, zero=87), False, False),  # no minimum was found
    (_spectrum("minimum"), _spectrum("bad", negative=3, zero=87), "Φ > 0", False),  # a minimum, but not at Φ = 0
])
def test_spectra_agrees_follows_the_documented_rule(minimum, bad, converged, agrees):
    """Planted bugs: ``zero > P − Nm`` for ``≥``; ``negative ≤ 1`` at the minimum; ``b.negative ≥ 0``;
    the search's convergence dropped; ``agrees`` hard-coded True in the payload. And (lead, s21) the
    prediction rests on ``∇²Φ = JᵀJ`` at ``Φ = 0``: a converged search that stopped at ``Φ > 0`` does not agree."""
    search = {"converged": bool(converged), "zero_loss": converged is True}
    r = Spectra(10, 100, 10, (64, 36, 10), 0, "sigmoid", search, (minimum, bad))
    assert r.agrees is agrees
    d = r.to_dict()
    assert d["agrees"] is agrees
    json.dumps(d, allow_nan=False)


def test_point_spectrum_json_writes_an_infinite_margin_as_a_string():
    """Planted bug: the margin ``inf`` left as a float, which strict JSON cannot hold."""
    d = _spectrum("minimum", margin=float("inf")).to_dict()
    assert d["margin"] == "inf"


# ----------------------------------------------------------------------------- slices


def _slice(direction, low, loss=1.0):
    t = np.array([-1.0, 0.0, 1.0])
    return Slice(direction, t, np.array([low, loss, loss + 1.0]), 1.0)


def _point_slices(name, *, loss=1.0, tol=0.25, lows=(2.0, 2.0, 2.0), plane_low=2.0):
    rows = tuple(_slice(d, low, loss) for d, low in zip(("top", "bottom", "random"), lows))
    plane = np.full((3, 3), loss + 1.0)
    plane[1, 1], plane[0, 0] = loss, plane_low
    return PointSlices(name, "wide", loss, 0.0, "minimum", rows, plane, tol)


def test_rises_and_descends_at_the_tolerance_edge():
    """Planted bugs: ``rises_everywhere`` with ``>`` for ``≥`` or without the 2-D plane; ``descends`` with
    ``≤`` for ``<``. A value exactly ``Φ − tol`` is rounding, neither a descent nor a failure to rise."""
    edge = _point_slices("wide minimum", lows=(0.75, 0.75, 0.75), plane_low=0.75)  # 1.0 − 0.25 exactly
    assert edge.rises_everywhere and not edge.descends("bottom")
    assert not _point_slices("wide minimum", plane_low=0.5).rises_everywhere  # only the plane goes down
    assert _point_slices("bad point", lows=(2.0, 0.5, 2.0)).descends("bottom")


@pytest.mark.parametrize("narrow_lows, bad_lows, agrees", [
    ((2.0, 2.0, 2.0), (2.0, 0.5, 2.0), True),
    ((2.0, 0.5, 2.0), (2.0, 0.5, 2.0), False),  # the narrow minimum descends: not a minimum
    ((2.0, 2.0, 2.0), (2.0, 2.0, 0.5), False),  # the bad point descends, but not along its bottom eigenvector
])
def test_slices_agrees_needs_every_minimum_and_the_bottom_direction(narrow_lows, bad_lows, agrees):
    """Planted bugs: ``agrees`` checking only the wide minimum; the bad point tested along the random
    direction; ``agrees`` hard-coded True in the payload."""
    pts = (_point_slices("wide minimum"), _point_slices("bad point", lows=bad_lows),
           _point_slices("narrow minimum", lows=narrow_lows))
    r = Slices(10, 40, 0, 1.0, 3, 3, pts, search={"converged": True, "zero_loss": True})
    assert r.agrees is agrees and r.to_dict()["agrees"] is agrees


@pytest.mark.parametrize("kwargs, match", [
    ({"grid": 1}, r"`grid`=1 and `grid2d`=31 must be odd and at least 3"),
    ({"grid2d": 1}, r"`grid`=41 and `grid2d`=1 must be odd and at least 3"),
    ({"radius": float("inf")}, r"`radius`=inf must be a positive finite number"),
    ({"radius": float("nan")}, r"`radius`=nan must be a positive finite number"),
])
def test_slices_refuses_degenerate_grids_and_radii(kwargs, match):
    """Planted bugs: the ``grid < 3`` check dropped (one point is no slice); the finiteness check of
    ``radius`` dropped. Both are refused before any computation."""
    with pytest.raises(ValueError, match=match):
        slices(10, **kwargs)


# ----------------------------------------------------------------------------- tiny real runs


# test_critical_points_relative_loss_is_over_half_the_target_norm: in tests/test_demos_critical_points.py since
# session 35, on that file's run of the demo (a run here with N = 10 cost ~12 s of CI, mostly compilation).


def test_spectra_is_exact_when_P_equals_exact_max():
    """Planted bug: ``P < exact_max`` for ``P ≤ exact_max``: at ``P = exact_max`` the documented dense
    path must be taken (every eigenvalue, method ``exact``); ``Nm`` is ``N · m`` with ``m = 10``."""
    from theory_lab import derivatives as D
    from theory_lab.demos import spectra, wide_architecture

    P = D.objective(wide_architecture(3)).P
    r = spectra(3, num_probes=2, num_matvecs=8, k=1, exact_max=P)
    assert r.P == P and r.Nm == 30
    for s in r.spectra:
        assert s.method == "exact" and s.eigenvalues is not None and len(s.eigenvalues) == P
        assert s.negative + s.zero + s.positive == P


# test_slices_plane_axes_and_tolerance_on_a_small_run: in tests/test_demos_slices.py since session 35, on that file's
# run of the demo (the same wide net, N = 10, seed 0; a second run here cost ~20 s of CI).


def test_narrow_minimum_must_be_conclusively_strict(monkeypatch):
    """Planted bug: the narrow net's point accepted as soon as its kind is ``"minimum"``, without the
    inertia's conclusive margin. The documented rule (and the error) ask for all Hessian eigenvalues
    *conclusively* > 0; a search that ends in an inconclusive minimum must be passed over."""
    from theory_lab import critical
    from theory_lab.demos import _slices

    fake = types.SimpleNamespace(kind="minimum", inertia=types.SimpleNamespace(conclusive=False), params={})
    monkeypatch.setattr(critical, "find_critical_point", lambda *a, **k: fake)
    with pytest.raises(RuntimeError, match=r"none of 2 starts on the narrow net reached a strict local minimum"):
        _slices._narrow_minimum(40, 0, "sigmoid", 2)


# ----------------------------------------------------------------------------- vacuous verdicts (lead, s21)


def test_width_threshold_with_no_wide_full_rank_fit_tests_nothing():
    """A sweep with no fit at ``n_1 ≥ N`` and conclusive rank ``N`` cannot confirm the prediction: ``threshold_ok``
    is False and the explanation says the prediction was not tested (it said "as predicted" before)."""
    from theory_lab.demos import width_threshold_explanation

    r = WidthThreshold(20, (1,), 1, 0, "sigmoid", (_fit(19, loss=1.0), _fit(40, loss=1.0, rank=19)))
    assert r.tested() == [] and r.threshold_ok is False and r.to_dict()["threshold_ok"] is False
    assert "NOT tested" in width_threshold_explanation(r)


def test_critical_points_with_no_wide_point_in_S_1_do_not_agree():
    """With no converged wide critical point in ``S_1`` Theorem 4.5 was not tested: ``agrees`` is False even
    when the narrow net has its bad minimum (it was True before, vacuously)."""
    r = _crits(_crit("wide", in_S_k=False, relative_loss=0.3, kind="saddle"), _crit("narrow", relative_loss=0.3))
    assert r.wide_in_S_k_zero and len(r.narrow_bad_minima) == 1
    assert r.agrees is False and r.to_dict()["agrees"] is False


@pytest.mark.parametrize("narrow_N, match", [(0, r"`narrow_N`=0"), (5000, r"`narrow_N`=5000 exceeds the 1797")])
def test_slices_refuses_a_bad_narrow_N_before_searching(narrow_N, match, monkeypatch):
    """A bad ``narrow_N`` is refused before the wide net's (expensive) search, not after it."""
    from theory_lab.demos import _spectra

    def search(*args, **kwargs):
        raise AssertionError("the wide net's search ran before narrow_N was checked")

    monkeypatch.setattr(_spectra, "landmarks", search)
    with pytest.raises(ValueError, match=match):
        slices(4, narrow_N=narrow_N)
