"""Assumption 2.4 decided exactly (theory_lab.generic_rank), each claim checked apart from it by float64 SVD."""

import itertools

import numpy as np
import pytest

from proofs_checks import hypotheses as hyp
from proofs_checks.foundations import _uncovering_arch
from theory_lab import feature_maps, generic_rank, linalg
from theory_lab.arch import Architecture, Conv, Output, PatchLayer


def _svd(arch, k, rng):
    """``rank_report`` of ``U_k`` at a random normal ``W_k`` (the numerical twin of the exact decision)."""
    info = arch.layer(k)
    W = rng.normal(size=(info.l, info.T))
    return linalg.rank_report(feature_maps.full_weight_matrix(arch, {f"layer_{k}": {"W": W}}, k), name=f"U_{k}")


def _one_conv(shape, spec):
    return Architecture(shape, (spec, Output(1)))


# ---- (a) the sufficient condition fails, the assumption holds ------------------------------------------


def test_stride_2_one_by_one_conv_misses_pixels_yet_meets_assumption_2_4(rng):
    arch = _one_conv((4, 1), Conv(1, (1,), stride=2))
    assert not arch.layer(1).covers_input and arch.flags
    report = arch.assumption_2_4()
    assert report.holds and report.reasons == ()
    d = arch.layer(1).full_rank
    assert (d.route, d.rank, d.target, d.primes) == ("exact", 2, 2, (generic_rank.PRIMES[0],))
    assert report.parts[0][0] == ("layer 1: some W_1 gives U_1 full rank (exact: rank 2 = min(n_0, n_1) = 2 "
                                  "mod p = 2147483629 at seeded integer filters)")
    assert hyp.assumption_2_4(arch, 1).met
    svd = _svd(arch, 1, rng)
    assert svd.full_rank and svd.conclusive, svd.singular_values


# ---- (b) planted bug: U_k rank deficient for every W_k --------------------------------------------------


def test_an_uncovered_neuron_with_n_k_at_least_n_k_minus_1_is_unmet_for_every_filter(rng):
    """Conv(16, (3, 3), stride 3) on 8x8: rows and columns 6, 7 are in no patch, so 28 rows of U_1 are zero."""
    arch = _uncovering_arch()
    report = arch.assumption_2_4()
    assert not report.holds
    assert report.reasons == ("layer 1: only 36 of layer 0's 64 neurons are in a patch, so rank U_1 ≤ 36 < "
                              "min(n_0, n_1) = min(64, 64) = 64 for every W_1 (exact)",)
    assert arch.layer(1).full_rank.route == "uncovered"
    assert hyp.assumption_2_4(arch, 1).met is False
    svd = _svd(arch, 1, rng)
    assert svd.rank == 36 and svd.conclusive, svd.singular_values


# ---- (c) repeated patches: short generic rank, or full -------------------------------------------------

DEAD = _one_conv((4, 1), Conv(1, (2,), stride=2, padding=((4, 0),)))  # windows at -4, -2 read only padding
PAD_2 = _one_conv((4, 1), Conv(2, (3,), stride=2, padding=((6, 1),)))  # two all-padding windows, T = 2 < l = 3
TWIN = _one_conv((2, 1), Conv(1, (3,), padding="SAME"))  # both windows read {0, 1}: U = [[w1, w0], [w2, w1]]


def test_two_all_padding_windows_make_the_generic_rank_short(rng):
    """P T − 2T = 2 < n_0 = 4 = n_1: the two zero columns leave rank 2 at every W_1; every neuron is read."""
    info = DEAD.layer(1)
    assert info.covers_input and not info.distinct_patches and info.patches.tolist()[:2] == [[-1, -1]] * 2
    report = DEAD.assumption_2_4()
    d = info.full_rank
    assert not report.holds and (d.route, d.rank, d.target, d.primes) == ("exact", 2, 4, generic_rank.PRIMES)
    assert report.reasons == ("layer 1: U_1 has rank 2 and 2 (one per draw) < min(n_0, n_1) = min(4, 4) = 4 modulo "
                              "p = 2147483629 and 2147483587 at two seeded integer filter draws; the chance that its "
                              "generic rank is full nonetheless is ≤ 3.5e-18 (Schwartz–Zippel, ≤ 4/p per draw)",)
    svd = _svd(DEAD, 1, rng)
    assert svd.rank == 2 and svd.conclusive, svd.singular_values


@pytest.mark.parametrize("arch", [PAD_2, TWIN], ids=["all-padding windows, T=2", "SAME twin windows"])
def test_repeated_patches_with_a_full_generic_rank_meet_assumption_2_4(arch, rng):
    assert not arch.layer(1).distinct_patches
    d = arch.layer(1).full_rank
    assert arch.assumption_2_4().holds and d.route == "exact" and d.rank == d.target
    svd = _svd(arch, 1, rng)
    assert svd.full_rank and svd.conclusive, svd.singular_values


@pytest.mark.parametrize("T, full", [(2, False), (3, True)])
def test_covering_distinct_patches_do_not_suffice(T, full, rng):
    """Conv(T, (2, 2)) on 5x5: for T = 2 the two filters' bilinear polynomials w(α, β) = Σ w_ab α^a β^b share two
    roots, and each gives x_ij = α^i β^j with U_1ᵀ x = 0: rank 23 < 25 = min(25, 32) for every W_1. T = 3: full."""
    arch = _one_conv((5, 5, 1), Conv(T, (2, 2)))
    info = arch.layer(1)
    assert info.covers_input and info.distinct_patches and arch.flags == ()
    d = info.full_rank
    assert (d.holds, d.route, d.rank, d.target) == (full, "exact", 23 if T == 2 else 25, 25)
    svd = _svd(arch, 1, rng)
    assert svd.rank == d.rank and svd.conclusive, svd.singular_values


# ---- (d) agreement with float64 SVD over a sweep of conv layers -----------------------------------------

SHAPES = {1: ((7, 1), (6, 2)), 2: ((5, 5, 1), (4, 3, 2))}
SWEEP = [(shape, Conv(T, (kk,) * dims, stride=(s,) * dims, padding=pad))
         for dims, shapes in SHAPES.items() for shape in shapes
         for kk, s, pad, T in itertools.product((1, 2, 3), (1, 2, 3), ("VALID", "SAME"), (1, 2))]


def test_exact_route_agrees_with_float64_svd_rank_over_a_sweep(rng):
    """The rank mod p at one seeded integer draw equals the SVD rank at a random normal draw (both generic), and
    the decision (whatever its route; the exact route forced too) equals the SVD's full-rank decision, wherever
    the SVD's margin is conclusive. Both outcomes must occur, or the sweep tests nothing."""
    outcomes, compared = set(), 0
    for shape, spec in SWEEP:
        arch = _one_conv(shape, spec)
        info, svd = arch.layer(1), _svd(arch, 1, rng)
        if not svd.conclusive:
            continue
        compared += 1
        W = np.random.default_rng(generic_rank.SEED).integers(0, generic_rank.PRIMES[0], size=(info.l, info.T))
        U = generic_rank.weight_matrix(info.patches, arch.widths[0], W)
        case = (shape, spec, svd.singular_values)
        assert generic_rank.rank_mod_p(U, generic_rank.PRIMES[0]) == svd.rank, case
        assert arch.assumption_2_4().holds == svd.full_rank, case
        forced = generic_rank.decide(1, info.patches, arch.widths[0], info.T, covers=False)
        assert forced.holds == svd.full_rank and forced.route in ("exact", "uncovered"), case
        outcomes.add(svd.full_rank)
    assert outcomes == {True, False} and compared >= 0.9 * len(SWEEP), (outcomes, compared, len(SWEEP))


def test_weight_matrix_is_feature_maps_full_weight_matrix():
    """The integer builder puts every filter entry where feature_maps' float builder does (padding, repeats)."""
    for arch in (PAD_2, TWIN, _one_conv((5, 5, 2), Conv(3, (3, 3), stride=2, padding="SAME")),
                 Architecture((4, 1), (PatchLayer(((0, 0, 1), (2, 3, 1)), 2), Output(1)))):
        info = arch.layer(1)
        W = np.arange(1, info.l * info.T + 1, dtype=np.int64).reshape(info.l, info.T)
        want = feature_maps.full_weight_matrix(arch, {"layer_1": {"W": W.astype(np.float64)}}, 1)
        got = generic_rank.weight_matrix(info.patches, arch.widths[0], W)
        assert got.dtype == np.int64 and np.array_equal(got, want)


def test_rank_mod_p_is_the_rational_rank_of_random_low_rank_integer_matrices(rng):
    for m, n, r in ((6, 9, 4), (9, 6, 6), (12, 12, 11), (30, 20, 7), (5, 5, 0)):
        A = rng.integers(-9, 10, size=(m, r)) @ rng.integers(-9, 10, size=(r, n))
        assert generic_rank.rank_mod_p(A, generic_rank.PRIMES[1]) == np.linalg.matrix_rank(A.astype(float)), (m, n, r)


def test_rank_mod_p_counts_over_the_field_and_refuses_bad_input():
    assert generic_rank.rank_mod_p(np.array([[1, 1], [1, 4]]), 3) == 1  # det 3 ≡ 0 mod 3, rank 2 over Q
    assert generic_rank.rank_mod_p(np.array([[1, 1], [1, 4]]), 5) == 2
    with pytest.raises(ValueError, match="`A` must be a 2-D integer array, got shape \\(2, 2\\) and dtype float64"):
        generic_rank.rank_mod_p(np.eye(2), 5)
    with pytest.raises(ValueError, match="`p`=2147483648 must be a prime in \\[2, 2\\^31\\)"):
        generic_rank.rank_mod_p(np.eye(2, dtype=int), 2**31)


# ---- (e) the size guard says so -------------------------------------------------------------------------


def test_a_layer_too_large_for_the_exact_test_is_unmet_with_the_reason(monkeypatch):
    monkeypatch.setattr(generic_rank, "MAX_ENTRIES", 7)
    report = _one_conv((4, 1), Conv(1, (1,), stride=2)).assumption_2_4()
    assert not report.holds
    assert report.reasons == ("layer 1: Assumption 2.4 not decided: the cheap certificate does not apply (patches "
                              "do not cover layer 0, T_1 = 1 ≥ l_0 = 1), and U_1 has 4 × 2 = 8 entries, more than the "
                              "exact test's limit theory_lab.generic_rank.MAX_ENTRIES = 7",)
    assert report.parts[0] == ("layer 1: some W_1 gives U_1 full rank (too large: not decided, U_k is too large for "
                               "the exact test)", False)
    # the guard is for the exact route only: the certificate (cover, T_k ≥ l_{k-1}) and the structural bound still decide
    monkeypatch.setattr(generic_rank, "MAX_ENTRIES", 0)
    assert _one_conv((4, 1), Conv(2, (2,))).layer(1).full_rank.route == "identity filters"
    assert _uncovering_arch().layer(1).full_rank.route == "uncovered"


# ---- (f) reproducible ----------------------------------------------------------------------------------


def test_the_same_architecture_gives_the_same_report(monkeypatch):
    """With tiny primes a draw is short of full rank with a sizeable chance (det w_1² − w_0 w_2 ≡ 0), so
    unseeded draws would give different reports; the seeded ones must not."""
    for arch in (DEAD, TWIN, _uncovering_arch()):
        assert Architecture(arch.input_shape, arch.layers).assumption_2_4() == arch.assumption_2_4()
    monkeypatch.setattr(generic_rank, "PRIMES", (2, 3))
    reports = {Architecture(TWIN.input_shape, TWIN.layers).assumption_2_4() for _ in range(8)}
    assert len(reports) == 1, reports


@pytest.mark.parametrize("p", [4, 2_147_483_647 * 2, 1, 2**31 + 11, 2.0, 2_147_483_627])
def test_rank_mod_p_refuses_a_modulus_that_is_not_a_prime_below_2_31(p):
    """A composite modulus is no field (2 has no inverse mod 4): the rank would be wrong, so it is refused."""
    from theory_lab.generic_rank import rank_mod_p

    with pytest.raises(ValueError, match=r"`p`=.* must be a prime in \[2, 2\^31\)"):
        rank_mod_p(np.array([[1, 2], [3, 4]]), p)


def test_the_primes_used_are_prime():
    from theory_lab.generic_rank import PRIMES, _is_prime

    assert all(_is_prime(p) for p in PRIMES)
    assert [n for n in range(60) if _is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59]
