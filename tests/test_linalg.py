"""Rank decisions from singular values (never a Gram matrix), with tolerance, margin and conclusiveness."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.linalg import DEFAULT_BAND, certify_rank_bound, rank_report, singular_values
from theory_lab.testing import matrix_with_singular_values

EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("shape, s, rank", [
    ((6, 9), [3.0, 1.0, 0.2, 1e-2], 4),
    ((9, 6), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 6),
    ((5, 5), [2.0], 1),
    ((4, 7), [], 0),
])
def test_prescribed_singular_values(shape, s, rank, rng):
    A = matrix_with_singular_values(s, shape, rng)
    r = rank_report(A)
    assert r.rank == rank and r.shape == shape
    # margin = min(σ_r / tol, tol / σ_{r+1}) from the report's own singular values
    sv = r.singular_values
    above = sv[rank - 1] / r.tol if rank else np.inf
    below = r.tol / sv[rank] if rank < sv.size and sv[rank] > 0 else np.inf
    assert r.margin == pytest.approx(min(above, below), rel=1e-12)
    if rank == min(shape):
        assert r.conclusive
    assert r.full_rank == (rank == min(shape))
    assert r.full_row_rank == (rank == shape[0]) and r.full_column_rank == (rank == shape[1])
    assert r.singular_values.shape == (min(shape),) and r.singular_values.dtype == np.float64
    np.testing.assert_allclose(r.singular_values[:len(s)], s, rtol=1e-12)
    if s:
        assert r.sigma_max == pytest.approx(s[0], rel=1e-12)


def test_tiny_ratios_that_a_gram_matrix_misses(rng):
    """σ_min/σ_max = 1e-11: SVD of A resolves it; the Gram matrix A Aᵀ squares it to 1e-22, below eps."""
    s = np.array([1.0, 0.5, 1e-3, 1e-10, 1e-11])
    A = matrix_with_singular_values(s, (5, 8), rng)
    r = rank_report(A)
    assert r.rank == 5 and r.full_row_rank and r.conclusive
    assert r.ratio == pytest.approx(1e-11, rel=1e-3, abs=0)
    np.testing.assert_allclose(r.singular_values, s, rtol=1e-3)
    gram = A @ A.T
    assert np.linalg.matrix_rank(gram) == 3  # wrong: the true rank is 5
    assert rank_report(gram).rank == 3  # the same tolerance rule cannot rescue the squared spectrum
    # and genuinely rank-deficient: exact zeros beyond rank 3 are seen as such
    B = matrix_with_singular_values(s[:3], (5, 8), rng)
    assert rank_report(B).rank == 3 and rank_report(B).conclusive


def test_default_tolerance(rng):
    A = matrix_with_singular_values([4.0, 1.0, 1e-5], (3, 7), rng)
    r = rank_report(A)
    assert r.tol == r.sigma_max * 7 * EPS
    assert r.band == DEFAULT_BAND


def test_rtol_and_tol(rng):
    A = matrix_with_singular_values([2.0, 1.0, 1e-4, 1e-7], (4, 6), rng)
    r = rank_report(A, rtol=1e-6)
    assert r.tol == pytest.approx(2e-6, rel=1e-12) and r.rank == 3
    assert r.margin == pytest.approx(min(1e-4 / 2e-6, 2e-6 / 1e-7), rel=1e-6)  # = 20
    r = rank_report(A, tol=3e-3)
    assert r.tol == 3e-3 and r.rank == 2
    assert r.margin == pytest.approx(min(1.0 / 3e-3, 3e-3 / 1e-4), rel=1e-6)  # = 30
    assert r.conclusive
    assert rank_report(A, tol=0.0).rank == 4  # every non-zero singular value counts
    with pytest.raises(ValueError, match=r"give `tol` or `rtol`, not both"):
        rank_report(A, tol=1e-3, rtol=1e-3)
    with pytest.raises(ValueError, match=r"`tol`=-1.0 must be a finite non-negative threshold"):
        rank_report(A, tol=-1.0)
    with pytest.raises(ValueError, match=r"`rtol`=nan must be a finite non-negative threshold"):
        rank_report(A, rtol=float("nan"))


def test_margin_and_conclusive(rng):
    # a singular value just above the tolerance: counted, but the decision is not conclusive
    A = matrix_with_singular_values([1.0, 2e-6], (2, 5), rng)
    r = rank_report(A, tol=1e-6)
    assert r.rank == 2 and r.margin == pytest.approx(2.0, rel=1e-6) and not r.conclusive
    # just below: not counted, still not conclusive
    r = rank_report(matrix_with_singular_values([1.0, 0.5e-6], (2, 5), rng), tol=1e-6)
    assert r.rank == 1 and r.margin == pytest.approx(2.0, rel=1e-6) and not r.conclusive
    # a different band changes the conclusion, not the rank
    assert rank_report(A, tol=1e-6, band=1.5).conclusive
    # far on both sides: margin = min(σ_r / tol, tol / σ_{r+1})
    r = rank_report(matrix_with_singular_values([1.0, 1e-3, 1e-9], (3, 3), rng), tol=1e-6)
    assert r.rank == 2 and r.margin == pytest.approx(1e3, rel=1e-5) and r.conclusive


def test_zero_and_empty_matrices():
    r = rank_report(np.zeros((3, 4)))
    assert r.rank == 0 and r.tol == 0.0 and r.margin == np.inf and r.conclusive and r.ratio == 0.0
    r = rank_report(np.zeros((0, 3)))
    assert r.rank == 0 and r.sigma_max == 0.0 and r.sigma_min == 0.0 and r.full_rank


def test_refuses_float32_nan_and_non_matrices():
    with pytest.raises(TypeError, match=r"`A` has dtype float32; rank decisions need float64 \(float32 gets ranks "
                                        r"wrong in both directions\)"):
        rank_report(np.eye(3, dtype=np.float32))
    with pytest.raises(TypeError, match=r"`F_1` has dtype float32"):
        rank_report(jnp.eye(3, dtype=jnp.float32), name="F_1")
    A = np.eye(3)
    A[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"`A` contains NaN or Inf \(1 entries\); rank is undefined"):
        rank_report(A)
    with pytest.raises(ValueError, match=r"`A` must be a 2-D matrix, got shape \(3,\)"):
        rank_report(np.ones(3))
    with pytest.raises(ValueError, match=r"`U` contains NaN or Inf"):
        singular_values(np.full((2, 2), np.inf), name="U")


def test_works_for_F_k_and_U_k(key):
    """A wide conv layer: U_1 of full rank, F_1 of rank N at random weights (jax arrays accepted)."""
    arch = Architecture((5, 1), (Conv(3, (2,), activation="softplus"), Output(1)))
    params = model.init(arch, key)
    U1 = model.full_weight_matrix(arch, params, 1)
    r = rank_report(U1, name="U_1")
    assert r.shape == (5, 12) and r.rank == 5 and r.full_row_rank and r.conclusive
    X = np.random.default_rng(0).standard_normal((6, 5, 1))
    F1 = model.features(arch, params, X)[1]
    r = rank_report(F1, name="F_1")
    assert r.shape == (6, 12) and r.rank == 6 and r.conclusive
    # a repeated sample makes F_1 rank-deficient, and the report says so conclusively
    F1_rep = model.features(arch, params, np.concatenate([X[:5], X[:1]]))[1]
    r = rank_report(F1_rep)
    assert r.rank == 5 and not r.full_row_rank and r.conclusive
    assert jax.tree_util.tree_leaves(r.singular_values)[0].dtype == np.float64


def test_report_serialises():
    r = rank_report(np.diag([3.0, 2.0, 1.0, 0.0]))
    d = r.to_dict(max_values=2)
    assert d["rank"] == 3 and d["smallest_singular_values"] == [0.0, 1.0]
    assert set(d) >= {"shape", "rank", "sigma_max", "sigma_min", "ratio", "tol", "margin", "band", "conclusive"}
    json.dumps(d)
    assert str(r).startswith("rank 3 of 4x4 (σ_max 3.000e+00")


def test_inertia_report_uses_the_rank_margin_rule():
    from theory_lab.linalg import inertia_report

    r = inertia_report(np.array([-1.0, 1e-18, 2.0]))
    assert (r.negative, r.zero, r.positive, r.kind, r.conclusive) == (1, 1, 1, "saddle", True)
    tol = r.tol
    close = inertia_report(np.array([-1.0, 3 * tol, 2.0]), tol=tol)  # 3x the tolerance: inside the band
    assert close.positive == 2 and not close.conclusive and close.margin == pytest.approx(3.0)
    assert inertia_report(np.array([1.0, 2.0])).kind == "minimum"
    with pytest.raises(TypeError, match="float64"):
        inertia_report(np.array([1.0, 2.0], dtype=np.float32))
    with pytest.raises(ValueError, match="band"):
        inertia_report(np.array([1.0]), band=-1)


def test_smooth_decay_through_the_tolerance_is_never_a_conclusive_deficiency():
    """Issue 9: σ falling smoothly past the float64 floor (no gap, no certificate) decides neither way.

    Under CI's draws three Theorem 3.5 instances looked like this (σ from 1e-9 to 1e-16 around a
    tolerance of 1e-10); reading them as rank < N made false counterexamples.
    """
    s = np.logspace(4.0, -16.0, 24)  # a factor ≈ 7.4 between neighbours: no gap anywhere
    A = matrix_with_singular_values(s, (24, 32), np.random.default_rng(5))
    r = rank_report(A, name="F_k")
    assert r.rank < 24 and r.margin < r.band and not r.conclusive
    assert r.rank_bound is None and r.certificate == ""
    assert r.below(24) is None  # inconclusive: neither rank 24 nor rank < 24 is shown
    assert not r.certified_deficient


def test_a_certified_bound_decides_and_a_gap_still_fails():
    s = np.concatenate([np.logspace(0.0, -3.0, 23), [0.0]])  # exact rank 23 of 24: a clear gap
    r = rank_report(matrix_with_singular_values(s, (24, 24), np.random.default_rng(6)))
    assert r.conclusive and r.rank == 23 and r.below(24) is True and r.below(23) is False
    c = certify_rank_bound(r, 23, "rows 0 and 5 equal")
    assert c.rank == 23 and c.conclusive and c.rank_range() == (23, 23)
    assert certify_rank_bound(c, 24, "weaker") is c  # a weaker bound changes nothing
    bigger = certify_rank_bound(r, 20, "rows 0 … 3 equal")
    assert bigger.rank == 20 and bigger.rank_bound == 20 and bigger.rank_range() == (20, 20)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=rf"`bound`={bad!r} must be a non-negative int"):
            certify_rank_bound(r, bad, "x")


def test_a_margin_of_exactly_band_decides_in_rank_range_as_in_conclusive():
    """At both ends of the band (σ = tol · band and σ = tol / band, exact powers of two) the margin equals the
    band, which :attr:`RankReport.conclusive` counts as decided (``>=``); ``rank_range`` agrees (one rank),
    and a value just inside the band leaves two ranks open."""
    r = rank_report(np.diag([1.0, 0.25, 0.015625]), tol=0.0625, band=4.0)
    assert r.rank == 2 and r.margin == 4.0 and r.conclusive and r.rank_range() == (2, 2)
    assert r.at_least(2) == (True, 4.0) and r.below(3) is True
    inside = rank_report(np.diag([1.0, 0.25 * (1 - 2**-20), 0.015625]), tol=0.0625, band=4.0)
    assert not inside.conclusive and inside.rank_range() == (1, 2)
