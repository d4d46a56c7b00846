"""Assumption 2.4 decided exactly: the generic rank of a conv layer's ``U_k = M_k(W_k)``.

Assumption 2.4 asks that some filters ``W_k`` give ``U_k ∈ R^{n_{k-1}×n_k}`` full rank
``r* = min(n_{k-1}, n_k)``. Patches that cover layer ``k−1`` and are distinct sets are
neither necessary nor sufficient: Conv(1, (1,), stride 2) on (4, 1) misses two neurons
and meets it, while Conv(2, (2, 2)) on (5, 5, 1) covers with distinct patches and fails
it (``x_ij = α^i β^j`` with ``(α, β)`` a common root of the two filters' polynomials
``Σ w_ab α^a β^b`` is in the kernel of ``U_1ᵀ``: rank 23 < 25). Since ``U_k``'s entries are
linear in ``W_k``, its ``r*×r*`` minors are polynomials of degree ``r*`` in ``W_k``: the
largest rank over all ``W_k`` is the rank at a generic ``W_k``, and one ``W_k`` of full rank
is a witness. This module looks for one without rounding: at integer filters ``W`` drawn
uniformly from ``[0, p)`` it computes ``rank(U_k mod p)`` by Gaussian elimination over
the prime field ``F_p``. Every vanishing minor over ``Z`` vanishes mod ``p``, so

    rank(U_k mod p) ≤ rank_Q U_k(W) ≤ generic rank of U_k,

and ``rank(U_k mod p) = r*`` certifies the assumption. A shorter rank at two independent
draws (two primes) says "unmet"; by Schwartz–Zippel a full-rank generic ``U_k`` shows up
short at one draw with probability at most ``r*/p`` (provided the integer coefficients of
some nonzero ``r*×r*`` minor are not all divisible by ``p``), so the verdict is wrong
with probability at most ``(r*/p_1)(r*/p_2)``. Draws come from the fixed :data:`SEED`.

Before that, two exact shortcuts. Met: patches cover layer ``k−1`` and ``T_k ≥ l_{k-1}``
(filters ``e_1 … e_l`` copy every patch entry, so ``U_k`` has full row rank ``n_{k-1} = r*``).
Unmet for every ``W_k``: fewer covered neurons than ``r*`` (an uncovered neuron's row of
``U_k`` is zero). Otherwise ``U_k`` with more than :data:`MAX_ENTRIES` entries is not
decided (reported unmet, with the reason).

Example (Conv(1, (1,), stride 2) on (4, 1): patches {0}, {2}; U_1 = w [e_0, e_2]):
    >>> import numpy as np
    >>> d = decide(1, np.array([[0], [2]]), n_in=4, T=1, covers=False)
    >>> d.holds, d.route, d.rank, d.target
    (True, 'exact', 2, 2)
    >>> rank_mod_p(np.array([[1, 2], [2, 4]]), PRIMES[0]), rank_mod_p(np.array([[1, 2], [3, 4]]), 2)
    (1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from theory_lab.validate import float64_values, is_integer, numeric_array

__all__ = ["PRIMES", "SEED", "MAX_ENTRIES", "rank_mod_p", "weight_matrix", "identical_units", "FullRankDecision", "decide"]

PRIMES = (2_147_483_629, 2_147_483_587)
"""One prime per draw, each below ``2^31`` so a product of two residues fits in int64."""

SEED = 24
"""Seed of the integer filter draws (``np.random.default_rng(SEED)``): the same architecture, the same report."""

MAX_ENTRIES = 4_000_000
"""Largest ``n_{k-1} · n_k`` whose exact rank is computed (about 0.6 s for a conv layer at the limit here)."""


def rank_mod_p(A, p: int) -> int:
    """Rank of the integer matrix ``A`` over the field ``F_p`` (``p`` a prime below ``2^31``).

    Gaussian elimination with exact residues in int64: each step updates only the rows with a
    nonzero entry in the pivot column and the columns where the pivot row is nonzero, so a
    sparse ``U_k`` costs about its fill-in. The pivot's inverse is ``a^{p−2} mod p`` (Fermat).

    Args:
        A: integer array ``(rows, cols)``; entries of any sign (reduced mod ``p`` first).
        p: a prime ``< 2^31``.

    Returns:
        ``rank_{F_p}(A)``, at most ``rank_Q(A)``.
    """
    A = np.asarray(A)
    if A.ndim != 2 or not np.issubdtype(A.dtype, np.integer):
        raise ValueError(f"`A` must be a 2-D integer array, got shape {A.shape} and dtype {A.dtype}.")
    if not is_integer(p) or not 2 <= p < 2**31 or not _is_prime(int(p)):
        raise ValueError(f"`p`={p!r} must be a prime in [2, 2^31): elimination needs a field (every nonzero residue "
                         "invertible) and products of residues must fit in int64; e.g. generic_rank.PRIMES[0].")
    A = np.mod(A.astype(np.int64), p)
    if A.shape[0] < A.shape[1]:
        A = A.T  # the loop runs over the shorter side: the rank is at most its length
    A = np.ascontiguousarray(A[np.any(A != 0, axis=1)])
    rank = 0
    for c in range(A.shape[1]):
        if rank == A.shape[0]:
            break
        nz = np.flatnonzero(A[rank:, c])
        if nz.size == 0:
            continue
        piv = rank + int(nz[0])
        if piv != rank:
            A[[rank, piv]] = A[[piv, rank]]
        row = A[rank, c:] * pow(int(A[rank, c]), p - 2, p) % p  # pivot 1
        A[rank, c:] = row
        rows = rank + 1 + np.flatnonzero(A[rank + 1:, c])
        if rows.size:
            cols = np.flatnonzero(row)
            block = np.ix_(rows, c + cols)
            A[block] = (A[block] - A[rows, c][:, None] * row[cols][None, :] % p) % p
        rank += 1
    return rank


def _is_prime(n: int) -> bool:
    """Deterministic Miller–Rabin for ``n < 3.4e14`` (bases 2, 3, 5, 7, 11, 13, 17)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17)
    if n in small:
        return True
    if any(n % q == 0 for q in small):
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def weight_matrix(patches: np.ndarray, n_in: int, W: np.ndarray) -> np.ndarray:
    """``U_k = M_k(W)`` ``(n_{k-1}, P·T)`` from a layer's patch indices, in W's dtype (int64 for exact work).

    Column ``h = p·T + t`` (0-based) is filter ``t`` applied to patch ``p``; ``-1`` in
    ``patches`` marks zero padding; a neuron read twice by one patch gets the sum. The builder
    :func:`theory_lab.feature_maps.full_weight_matrix` calls (tests compare it with the jax twin).

    Args:
        patches: int array ``(P, l)`` of indices into the flattened layer ``k−1``.
        n_in: ``n_{k-1}``.
        W: filters ``(l, T)``.
    """
    patches, W = _check_patches(patches, n_in), np.asarray(numeric_array(W, "W"))
    if W.ndim != 2 or W.shape[0] != patches.shape[1]:  # None failed as "tuple index out of range"
        raise ValueError(f"`W` has shape {W.shape}; expected filters (l, T) with l = {patches.shape[1]}, the patch "
                         "size.")
    U = np.zeros((n_in, patches.shape[0] * W.shape[1]), W.dtype)
    p, j = np.nonzero(patches >= 0)
    cols = p[:, None] * W.shape[1] + np.arange(W.shape[1])[None, :]
    np.add.at(U, (np.broadcast_to(patches[p, j][:, None], cols.shape), cols), W[j])
    return U


def _check_patches(patches, n_in) -> np.ndarray:
    """``patches`` as an int ``(P, l)`` array indexing ``n_in`` neurons (-1 for padding), ``n_in`` a positive int; a
    bool or float ``n_in`` failed inside numpy ("an integer is required"), None patches with an AttributeError."""
    if not is_integer(n_in) or n_in < 1:
        raise ValueError(f"`n_in`={n_in!r} must be a positive integer, n_(k-1), the width of the layer below.")
    patches = np.asarray(numeric_array(patches, "patches"))
    if patches.ndim != 2 or patches.dtype.kind not in "iu" or patches.size and not -1 <= patches.min() <= \
            patches.max() < n_in:
        raise ValueError(f"`patches` must be an int array (P, l) of indices in [-1, n_in) = [-1, {n_in}) (-1: "
                         f"padding), got shape {patches.shape} and dtype {patches.dtype}; use LayerInfo.patches.")
    return patches


def identical_units(U, b, inputs=None) -> np.ndarray:
    """Per unit of layer ``k``, the index of its class of identical units: equal columns of ``U_k`` ``(n_{k-1}, n_k)``
    and equal biases ``b`` ``(n_k,)`` (compared exactly). Identical units give equal columns of ``F_k`` at
    every input, in exact arithmetic, so together they can lift a rank by one at most.

    ``inputs`` ``(n_{k-1},)``: the classes of layer ``k−1``'s own identical units (this function at layer
    ``k−1``). Units of layer ``k−1`` in one class are equal columns of ``F_{k-1}``, so only the sum of their
    rows of ``U_k`` matters: two units of layer ``k`` are identical when their biases, their entries in the
    other rows and those sums agree. The sums are compared in exact rational arithmetic (float64 sums in
    different orders can round apart, or together).

    Example:
        >>> identical_units(np.array([[1.0, 2.0, 1.0]]), np.array([0.5, 0.5, 0.5])).tolist()
        [0, 1, 0]
        >>> U = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])  # inputs 0 and 1 identical: the columns agree
        >>> identical_units(U, np.zeros(2), inputs=np.array([0, 0, 1])).tolist()
        [0, 0]
    """
    U, b = float64_values(U, "U") + 0.0, float64_values(b, "b") + 0.0
    if U.ndim != 2 or b.shape != U.shape[1:] or not (np.all(np.isfinite(U)) and np.all(np.isfinite(b))):
        # a misshapen b failed in numpy's vstack; NaN entries made every unit distinct without a word
        raise ValueError(f"`U` {U.shape} and `b` {b.shape}: expected a finite U_k (n_(k-1), n_k) and finite biases "
                         "(n_k,), one per unit (a per-filter bias repeated per position).")
    labels, counts = (None, None) if inputs is None else np.unique(np.ravel(inputs), return_counts=True)
    if inputs is None or counts.max(initial=1) == 1:
        return np.ravel(np.unique(np.vstack([U, b[None, :]]).T, axis=0, return_inverse=True)[1])
    inputs = np.ravel(inputs)
    single = np.isin(inputs, labels[counts == 1])
    groups = [np.flatnonzero(inputs == g) for g in labels[counts > 1]]
    keys, out = {}, np.empty(U.shape[1], dtype=np.int64)
    for u in range(U.shape[1]):
        sums = tuple(sum((Fraction(float(v)) for v in U[rows, u]), Fraction(0)) for rows in groups)
        key = (U[single, u].tobytes(), float(b[u]), sums)
        out[u] = keys.setdefault(key, len(keys))
    return out


@dataclass(frozen=True)
class FullRankDecision:
    """Assumption 2.4 for conv layer ``k``: whether some ``W_k`` gives ``U_k`` full rank, and how it was decided.

    ``route`` is ``"identity filters"`` (patches cover and ``T_k ≥ l_{k-1}``: full rank), ``"uncovered"``
    (fewer covered neurons than ``target``: rank-deficient for every ``W_k``), ``"exact"`` (rank mod a
    prime at seeded integer filters) or ``"too large"`` (not decided). ``rank`` is the best rank found
    (for ``"uncovered"``, its bound); ``target = min(n_{k-1}, n_k)``.
    """

    k: int
    holds: bool
    route: str
    target: int
    rank: int | None = None
    primes: tuple[int, ...] = ()
    why: str = ""

    @property
    def part(self) -> str:
        target = f"min(n_{self.k - 1}, n_{self.k}) = {self.target}"
        how = {"identity filters": f"patches cover layer {self.k - 1} and T_{self.k} ≥ l_{self.k - 1}",
               "uncovered": f"rank ≤ {self.rank} covered neurons < {target}",
               "exact": f"rank {self.rank} {'=' if self.holds else '<'} {target} mod p = "
                        f"{', '.join(map(str, self.primes))} at seeded integer filters",
               "too large": "not decided, U_k is too large for the exact test"}[self.route]
        return f"layer {self.k}: some W_{self.k} gives U_{self.k} full rank ({self.route}: {how})"

    @property
    def reason(self) -> str:
        return "" if self.holds else f"layer {self.k}: {self.why}"


def decide(k: int, patches: np.ndarray, n_in: int, T: int, covers: bool) -> FullRankDecision:
    """Assumption 2.4 for conv (or patch) layer ``k`` with patch indices ``patches`` ``(P, l)`` and ``T`` filters.

    Args:
        k: the layer's index (for the report).
        patches: int array ``(P_{k-1}, l_{k-1})``; ``-1`` marks zero padding.
        n_in: ``n_{k-1}``.
        T: ``T_k``, so ``n_k = P_{k-1} · T_k``.
        covers: every neuron of layer ``k−1`` is in some patch (``LayerInfo.covers_input``).

    Returns:
        :class:`FullRankDecision`.
    """
    patches = _check_patches(patches, n_in)
    if not is_integer(k) or k < 1 or not is_integer(T) or T < 1 or not isinstance(covers, (bool, np.bool_)):
        # T=True was one filter, T=2.0 failed in numpy, covers="yes" was truthy
        raise ValueError(f"`k`={k!r} and `T`={T!r} must be positive integers (the layer and its filters) and "
                         f"`covers`={covers!r} a bool (LayerInfo.covers_input).")
    (P, l), n_out = patches.shape, patches.shape[0] * T
    target = min(n_in, n_out)
    if covers and T >= l:
        return FullRankDecision(k, True, "identity filters", target, target)
    covered = int(np.unique(patches[patches >= 0]).size)
    sizes = f"min(n_{k - 1}, n_{k}) = min({n_in}, {n_out}) = {target}"
    if covered < target:
        return FullRankDecision(k, False, "uncovered", target, covered, why=(
            f"only {covered} of layer {k - 1}'s {n_in} neurons are in a patch, so rank U_{k} ≤ {covered} < "
            f"{sizes} for every W_{k} (exact)"))
    if n_in * n_out > MAX_ENTRIES:
        return FullRankDecision(k, False, "too large", target, why=(
            f"Assumption 2.4 not decided: the cheap certificate does not apply (patches "
            f"{'cover' if covers else 'do not cover'} layer {k - 1}, T_{k} = {T} {'≥' if T >= l else '<'} "
            f"l_{k - 1} = {l}), and U_{k} has {n_in} × {n_out} = {n_in * n_out} entries, more than the exact "
            f"test's limit theory_lab.generic_rank.MAX_ENTRIES = {MAX_ENTRIES}"))
    rng = np.random.default_rng(SEED)
    ranks = []
    for p in PRIMES:
        W = rng.integers(0, p, size=(l, T), dtype=np.int64)
        ranks.append(rank_mod_p(weight_matrix(patches, n_in, W) % p, p))
        if ranks[-1] == target:
            return FullRankDecision(k, True, "exact", target, target, (p,))
    chance = float(np.prod([target / p for p in PRIMES]))
    return FullRankDecision(k, False, "exact", target, max(ranks), PRIMES, why=(
        f"U_{k} has rank {' and '.join(map(str, ranks))} (one per draw) < {sizes} modulo p = "
        f"{' and '.join(map(str, PRIMES))} at two seeded integer filter draws; the chance that its generic rank "
        f"is full nonetheless is ≤ {chance:.1e} (Schwartz–Zippel, ≤ {target}/p per draw)"))
