"""Session 33 (s33-g): the rank probes' interval is Clopper–Pearson's, with coverage ≥ its level at every ``p``.

Wilson's interval (:func:`theory_lab.rank_probes.wilson_interval`, kept as API) covers 95 % on average over the
true frequency but 0.83 near ``p ≈ 0.18/n`` — where the probes' "0 of n" results sit (tests/test_calibration_s33.py).
:func:`~theory_lab.rank_probes.clopper_pearson_interval` inverts two one-sided binomial tests of size ``α/2``; its
coverage is checked here by exact binomial sums (no sampling), on a fine grid of ``p`` and several ``n``.
docs/planted_bugs.md, "Session 33 — exact intervals for the rank probes"; mutants ``s33g-*`` in tools/plant_bugs.py.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.stats import binom

from theory_lab import rank_probes
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.rank_probes import CI_METHOD, clopper_pearson_interval, rank_frequency, wilson_interval

GRID = np.linspace(0.0005, 0.9995, 2000)


def _coverage(trials: int, grid: np.ndarray, level: float = 0.95, interval=clopper_pearson_interval) -> np.ndarray:
    """Exact coverage at each true frequency of ``grid``: ``Σ_x P(X = x) [lo(x) ≤ p ≤ hi(x)]``, ``X ~ Bin(n, p)``."""
    x = np.arange(trials + 1)
    cis = np.array([interval(int(k), trials, level) for k in x])
    inside = (cis[:, :1] <= grid[None, :]) & (grid[None, :] <= cis[:, 1:])
    return np.sum(binom.pmf(x[:, None], trials, grid[None, :]) * inside, axis=0)


@pytest.mark.parametrize("trials", [1, 5, 15, 24, 100])
def test_coverage_is_at_least_the_level_at_every_true_frequency(trials):
    """≥ 95 % at each of 2000 frequencies (plus the worst spot of Wilson, 0.18/n), where Wilson dips to 0.83."""
    grid = np.sort(np.r_[GRID, 0.18 / trials, 1 - 0.18 / trials])
    cov = _coverage(trials, grid)
    assert cov.min() >= 0.95 - 1e-12, (trials, grid[np.argmin(cov)], cov.min())
    if trials >= 5:  # conservative, not trivial ((0, 1) would cover everything); at n = 1 it is (0, .975) or (.025, 1)
        assert cov.mean() <= 0.995  # measured 0.990, 0.980, 0.975, 0.965 at n = 5, 15, 24, 100
        wilson = _coverage(trials, grid, 1.96, lambda x, n, z: wilson_interval(x, n, z))
        assert wilson.min() < 0.9 < cov.min()


@pytest.mark.parametrize("level", [0.8, 0.9, 0.99])
def test_coverage_holds_at_other_levels(level):
    for trials in (7, 20):
        assert _coverage(trials, GRID, level).min() >= level - 1e-12


@pytest.mark.parametrize("trials", [1, 3, 15, 20, 100])
def test_the_edges_have_their_closed_forms(trials):
    """0 of n: (0, 1 − (α/2)^{1/n}); n of n: ((α/2)^{1/n}, 1); 1 of n: lower 1 − (1 − α/2)^{1/n}."""
    a2 = 0.025
    assert clopper_pearson_interval(0, trials) == (0.0, pytest.approx(1 - a2 ** (1 / trials), rel=1e-12))
    assert clopper_pearson_interval(trials, trials) == (pytest.approx(a2 ** (1 / trials), rel=1e-12), 1.0)
    assert clopper_pearson_interval(1, trials)[0] == pytest.approx(1 - (1 - a2) ** (1 / trials), rel=1e-10)
    if trials > 1:  # n − 1 of n: upper (1 − α/2)^{1/n} by symmetry
        assert clopper_pearson_interval(trials - 1, trials)[1] == pytest.approx((1 - a2) ** (1 / trials), rel=1e-10)


def test_known_values_and_symmetry():
    """5 of 10: (0.1871, 0.8129) (the tabulated exact interval); 0 of 20 upper 0.1684 (Wilson: 0.1611)."""
    lo, hi = clopper_pearson_interval(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-6) and hi == pytest.approx(0.812914, abs=1e-6)
    assert clopper_pearson_interval(0, 20)[1] == pytest.approx(0.168433, abs=1e-6)
    for n in (4, 15):
        for x in range(n + 1):
            lo, hi = clopper_pearson_interval(x, n)
            lo2, hi2 = clopper_pearson_interval(n - x, n)
            assert lo == pytest.approx(1 - hi2, abs=1e-12) and hi == pytest.approx(1 - lo2, abs=1e-12)


@pytest.mark.parametrize("trials", [5, 24])
def test_monotone_in_successes_and_nested_in_level(trials):
    """Both ends strictly increase with the count; the estimate x/n lies inside; a higher level holds a lower one."""
    cis = np.array([clopper_pearson_interval(x, trials) for x in range(trials + 1)])
    assert np.all(np.diff(cis[:, 0]) > 0) and np.all(np.diff(cis[:, 1]) > 0)
    assert np.all(cis[:, 0] <= np.arange(trials + 1) / trials) and np.all(np.arange(trials + 1) / trials <= cis[:, 1])
    for x in range(trials + 1):
        narrow, wide = clopper_pearson_interval(x, trials, 0.9), clopper_pearson_interval(x, trials, 0.99)
        assert wide[0] <= cis[x, 0] <= narrow[0] and narrow[1] <= cis[x, 1] <= wide[1]
        assert 0.0 <= wide[0] and wide[1] <= 1.0


@pytest.mark.parametrize("args, match", [
    ((0, 0), r"need 0 <= successes <= trials and trials > 0, both ints; got successes=0, trials=0"),
    ((5, 3), r"got successes=5, trials=3\. Pass the counts"),
    ((-1, 3), r"got successes=-1, trials=3"),
    ((1.5, 3), r"got successes=1\.5, trials=3"),
    ((True, 3), r"got successes=True, trials=3"),
    ((1, 3, 95), r"`level`=95 must be a confidence level strictly between 0 and 1; e\.g\. level=0\.95"),
    ((1, 3, 1.0), r"`level`=1\.0 must be a confidence level"),
    ((1, 3, float("nan")), r"`level`=nan must be a confidence level"),
])
def test_bad_input_is_refused_with_the_argument_named(args, match):
    with pytest.raises(ValueError, match=match):
        clopper_pearson_interval(*args)


def test_numpy_integers_are_counts():
    assert clopper_pearson_interval(np.int64(2), np.int32(10)) == clopper_pearson_interval(2, 10)


# ----------------------------------------------------------------------------- the probes report it

ARCH = Architecture((3,), (Dense(6, activation="relu"), Output(1)))
X = np.random.default_rng(0).standard_normal((5, 3))


def test_a_decided_probe_reports_the_exact_interval_and_names_it():
    r = rank_frequency(ARCH, X, 1, draws=4, bias_mean=-30.0)  # every unit dead: 4 of 4 deficient
    assert (r.deficient, r.inconclusive) == (4, 0)
    assert r.ci == clopper_pearson_interval(4, 4) == (pytest.approx(0.025 ** 0.25, rel=1e-12), 1.0)
    assert r.to_dict()["ci95_method"] == CI_METHOD == "Clopper-Pearson (exact)"
    none = rank_frequency(ARCH, X, 1, draws=20, bias_mean=30.0)  # every unit alive and affine: 0 of 20?
    assert none.ci == clopper_pearson_interval(none.deficient, 20)
    assert none.ci != wilson_interval(none.deficient, 20)


def test_inconclusive_draws_widen_the_exact_interval(monkeypatch):
    """An unresolved draw may be either: the interval runs from CP's lower end at ``deficient`` to its upper end
    at ``deficient + inconclusive``, so it contains the exact interval of every count they allow."""
    real = rank_probes.feature_rank
    calls = iter(range(100))

    def some_unresolved(*args, **kwargs):
        rep = real(*args, **kwargs)
        return dataclasses.replace(rep, unresolved="test") if next(calls) % 2 else rep

    monkeypatch.setattr(rank_probes, "feature_rank", some_unresolved)
    r = rank_frequency(ARCH, X, 1, draws=6, bias_mean=-30.0)
    assert (r.deficient, r.inconclusive) == (3, 3)
    assert r.ci == (clopper_pearson_interval(3, 6)[0], clopper_pearson_interval(6, 6)[1])
    for d in range(3, 7):
        lo, hi = clopper_pearson_interval(d, 6)
        assert r.ci[0] <= lo and hi <= r.ci[1]


def test_a_probe_names_the_interval_in_its_evidence_and_summary(monkeypatch):
    from proofs_checks import expressivity
    from theory_lab.checking import Context

    monkeypatch.setattr(rank_probes, "rank_frequency",
                        lambda *a, draws, **kw: rank_frequency(ARCH, X, 1, draws=3, bias_mean=-30.0))
    res = expressivity._probe_tanh(Context(0), draws=3)
    assert res.evidence["interval"].startswith("95 % Clopper-Pearson (exact)")
    assert res.evidence["rows"][0]["ci95_method"] == CI_METHOD
    assert res.summary.endswith("(95 % intervals: Clopper-Pearson (exact))")
    lo = 0.025 ** (1 / 3)
    assert f"3/3 [{lo:.2f}, 1.00]" in res.summary and math.isclose(res.evidence["rows"][0]["ci95"][0], lo)
