"""Adversarial review of the expressivity side (stop 29): instances whose truth is known by construction.

Each test failed on the code before the fix it documents (docs/planted_bugs.md, "Expressivity,
adversarial review (stop 29)").
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from proofs_checks import hypotheses as hyp
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.evidence import Evidence
from theory_lab.feature_maps import feature_rank, forward_upto
from theory_lab.forward_error import feature_error_bound
from theory_lab.linalg import rank_report, with_forward_error
from theory_lab.sampling import sample_params

N = 10


def _cancelling(activation: str, big: float = 1e8, seed: int = 0):
    """Dense 3 → 10 → 1; pixel 2 is 1 on every sample. Unit 9 is unit 8 plus ``big`` on that pixel and minus
    ``big`` in its bias: dyadic numbers, so unit 9's pre-activation equals unit 8's in exact arithmetic
    (rank F_1 ≤ 9 < N), while float64 computes it with an error of about ``eps · big``."""
    arch = Architecture((3,), (Dense(N, activation=activation), Output(1)))
    X = np.random.default_rng(seed).standard_normal((N, 3))
    X[:, 2] = 1.0
    p = sample_params(arch, 1)
    W, b = np.array(p["layer_1"]["W"]), np.array(p["layer_1"]["b"])
    W[2, 8], b[8] = 0.375, -0.125
    W[:, 9] = W[:, 8]
    W[2, 9], b[9] = big + 0.375, -big - 0.125
    assert W[2, 9] - big == W[2, 8] and b[9] + big == b[8]  # exact: the two units agree in exact arithmetic
    return arch, {**p, "layer_1": {"W": W, "b": b}}, X


def test_cancellation_gives_no_conclusive_full_rank():
    """Was: rank 10 of 10, conclusive, margin 7.3e4, while columns 8 and 9 of F_1 are equal in exact arithmetic."""
    arch, params, X = _cancelling("sigmoid")
    hs, _ = hyp.theorem_3_5(arch, X, 1)
    assert all(h.met for h in hs)  # every hypothesis of Theorem 3.5 is met on this instance
    r = feature_rank(arch, params, X, 1)
    assert r.rank == N and r.singular_values[-1] > 1e3 * r.tol  # float64 alone sees full rank
    assert not r.conclusive and "forward rounding" in r.unresolved
    assert r.forward_error > r.singular_values[-1]
    ob = Evidence().rank("F_1", r, N)
    assert not ob.conclusive  # Theorem 3.5's check would have said holds


@pytest.mark.parametrize("activation", ["sigmoid", "softplus"])
def test_without_cancellation_the_exact_deficit_stays_conclusive(activation):
    """Converse: units 8 and 9 equal without the ±1e8 (big = 0) are equal columns in float64 too."""
    arch, params, X = _cancelling(activation, big=0.0)
    r = feature_rank(arch, params, X, 1)
    assert r.rank == N - 1 and r.conclusive
    assert Evidence().rank("F_1", r, N).conclusive


def test_generic_draw_stays_conclusive_with_a_small_forward_error():
    arch = Architecture((3,), (Dense(N, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(2).standard_normal((N, 3))
    r = feature_rank(arch, sample_params(arch, 3), X, 1)
    assert r.rank == N and r.conclusive and 0 < r.forward_error < r.tol


def test_the_bound_bounds_the_exact_error():
    """Identity activation: the exact F_1 = X W + b in rational arithmetic, against float64 and the bound."""
    arch, params, X = _cancelling("identity")
    fw = forward_upto(arch, params, X, 1)
    W, b = np.asarray(params["layer_1"]["W"]), np.asarray(params["layer_1"]["b"])
    exact = np.array([[float(sum(Fraction(X[i, a]) * Fraction(W[a, u]) for a in range(3)) + Fraction(b[u]))
                       for u in range(N)] for i in range(N)])
    err = np.linalg.norm(np.asarray(fw.F[1]) - exact, 2)
    bound = feature_error_bound(arch, params, fw, 1)
    assert 1e-10 < err <= bound < 1e3 * err  # a real error (cancellation), bounded, and not absurdly loose


def test_with_forward_error_margin_and_range():
    r = rank_report(np.diag([1.0, 1e-6]))
    assert r.conclusive and r.rank_range() == (2, 2)
    far = with_forward_error(r, 1e-9, "x")
    assert far.conclusive and not far.unresolved and far.rank_range() == (2, 2)
    near = with_forward_error(r, 1e-6, "cancellation")
    assert not near.conclusive and near.unresolved == "cancellation" and near.rank_range() == (1, 2)
    with pytest.raises(ValueError, match="`bound`=-1.0 must be a finite non-negative"):
        with_forward_error(r, -1.0)


def _cluster(seed_params: int, equal_units: bool):
    """Dense 3 → 10 sigmoid, samples 1 and 2 one and three ulps from sample 0 (a group of three)."""
    arch = Architecture((3,), (Dense(N, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3))
    for j, m in ((1, 1), (2, 3)):
        X[j] = X[0]
        X[j, j] = X[0, j] + m * np.spacing(X[0, j])
    p = sample_params(arch, seed_params)
    if equal_units:  # unit 9 = unit 8: equal columns of F_1 at every input, so rank F_1 ≤ 9 exactly
        W, b = np.array(p["layer_1"]["W"]), np.array(p["layer_1"]["b"])
        W[:, 9], b[9] = W[:, 8], b[8]
        p = {**p, "layer_1": {"W": W, "b": b}}
    return arch, p, X


def test_freed_cluster_rows_keep_equal_units_equal():
    """Was: the cluster's rows set to random vectors broke the equality of columns 8 and 9 and the report said
    'with their rows free F_1 reaches rank 10', unresolved, while rank F_1 ≤ 9 < N in exact arithmetic."""
    arch, p, X = _cluster(1, equal_units=True)
    r = feature_rank(arch, p, X, 1)
    assert r.rank < N and r.conclusive and not r.unresolved
    assert Evidence().rank("F_1", r, N).conclusive


def test_freed_cluster_rows_still_resolve_generic_units():
    """Converse: the same cluster with generic units stays unresolved (its exact rank can be N). The branch that
    frees rows with generic units is pinned by tests/test_near_duplicates.py (ten samples within 4 ulps)."""
    arch, p, X = _cluster(1, equal_units=False)
    r = feature_rank(arch, p, X, 1)
    assert r.rank < N and not r.conclusive and "near-duplicate samples" in r.unresolved


@pytest.mark.parametrize("b9, unresolved", [(-60.0, False), (-61.0, True)])
def test_saturated_identical_units_lift_the_rank_once(b9, unresolved):
    """Units 8 and 9 saturated (sigmoid at ~−60: outputs ~1e-26). Identical (b9 = b8): equal columns at every
    input, rank F_1 ≤ 9 < N exactly; was 'they can reach rank 10', unresolved. Different biases: unresolved."""
    arch = Architecture((3,), (Dense(N, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3))
    p = sample_params(arch, 1)
    W, b = np.array(p["layer_1"]["W"]), np.array(p["layer_1"]["b"])
    W[:, 9], b[8], b[9] = W[:, 8], -60.0, b9
    r = feature_rank(arch, {**p, "layer_1": {"W": W, "b": b}}, X, 1)
    assert r.rank == N - 2 and r.conclusive is not unresolved and bool(r.unresolved) is unresolved


def test_saturated_entries_keep_identical_units_identical():
    """The entry-wise rule (GELU beyond about ±7 shows its asymptote) fills identical units identically."""
    arch = Architecture((3,), (Dense(N, activation="gelu"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3))
    X[:5, 0] += 40.0  # half the samples push units 8, 9 far right (GELU(t) = t there), half near 0
    p = sample_params(arch, 1)
    W, b = np.array(p["layer_1"]["W"]), np.array(p["layer_1"]["b"])
    W[:, 8], b[8] = [1.0, 0.0, 0.0], 0.0
    W[:, 9], b[9] = W[:, 8], b[8]
    r = feature_rank(arch, {**p, "layer_1": {"W": W, "b": b}}, X, 1)
    assert r.rank < N and r.conclusive, r.unresolved


def test_tiny_data_scale_stays_unresolved():
    """Data of size 1e-150 beside biases ~0.1: every row of F_1 is equal in float64 (rank 1), the exact rank is
    N (sigmoid, generic). The freed rows must be taken where float64 resolves them (points moved by 1 as well as
    by the data's own spread), or the deficit turns conclusive: a false Theorem 3.5 fails."""
    arch = Architecture((3,), (Dense(N, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3)) * 1e-150
    r = feature_rank(arch, sample_params(arch, 1), X, 1)
    assert r.rank == 1 and not r.conclusive and "near-duplicate samples" in r.unresolved
