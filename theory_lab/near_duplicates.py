"""Near-duplicate samples: rows of ``F_k`` that differ in exact arithmetic by less than float64 resolves.

Two distinct samples ``x_i ≠ x_j`` closer than the rounding of the forward pass (one ulp apart,
or ``1e-13``) give rows of ``F_k`` that are equal to within the rank tolerance, while their exact
rows differ: the SVD then reports a rank deficit that is an artefact. :func:`feature_rank
<theory_lab.feature_maps.feature_rank>` asks :func:`near_duplicate_rows` whether that explains a
deficit.

The test is an exact row operation to first order. ``rank [… f(x_i); f(x_j) …] = rank [… f(x_i);
f(x_j) − f(x_i) …]``, and the difference is computed without cancellation as the directional
derivative ``J_f · (x_j − x_i)`` (a JVP, averaged over both ends: the trapezoid rule, exact up to
``O(‖x_j − x_i‖³)``). Each such row is scaled to the size of the others (scaling a row keeps the
rank) and the rank is read again. If it reaches the target, the deficit is not evidence of a
deficient ``F_k``.

A pair is counted only when its exact rows can differ: the difference of the layer-1
pre-activations ``(x_j − x_i) U_1`` exceeds its own rounding bound (pixels that no patch reads, or
a difference in the kernel of ``U_1``, give equal rows in exact arithmetic too), and the JVP is not
zero (dead ReLU units pass no difference on, exactly). A pair whose exact rows are equal but whose
JVP is rounding noise can only make the deficit *unresolved*, never certify a rank.

A group of three or more near-duplicate samples (a cluster a few ulps wide) has first-order rows
``J Δ_i`` that span at most ``rank J`` directions; its exact rows differ at second and higher order
too. Where some σ up to layer ``k`` is not affine those terms are non-zero and below rounding, so the
rows of such a group are set free (the features at generic points) before the rank is read; an affine network keeps
its first-order rows, which are exact there.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.feature_maps import feature_rank
    >>> from theory_lab.sampling import sample_params
    >>> arch = Architecture((3,), (Dense(12, activation="sigmoid"), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((10, 3))
    >>> X[1] = X[0]; X[1, 2] = np.nextafter(X[0, 2], np.inf)  # one ulp from sample 0
    >>> r = feature_rank(arch, sample_params(arch, 1), X, 1)
    >>> r.rank, r.conclusive, "samples [0, 1]" in r.unresolved
    (9, False, True)
"""

from __future__ import annotations

import numpy as np

from theory_lab import feature_maps as _fm
from theory_lab.forward_error import check_rank_arguments
from theory_lab.linalg import RankReport, rank_report
from theory_lab.saturation import affine_everywhere
from theory_lab.validate import float64_values, is_real

__all__ = ["near_duplicate_pairs", "near_duplicate_rows"]

_EPS = float(np.finfo(np.float64).eps)


def _norms(A) -> np.ndarray:
    """Euclidean norms of the rows of ``A (m, n)`` without underflow in the squares (rows of size 1e-170 have
    norms of size 1e-170, not 0): each row is divided by its largest entry first."""
    A = np.abs(np.asarray(A, dtype=np.float64))
    top = A.max(axis=1, initial=0.0)
    return top * np.linalg.norm(A / np.where(top > 0, top, 1.0)[:, None], axis=1)


def near_duplicate_pairs(F, X, radius: float) -> list[tuple[int, int]]:
    """Pairs ``i < j`` of distinct samples (``X[i] ≠ X[j]``) whose rows of ``F`` are within ``radius``: enough
    pairs to connect every such sample to its group, not every pair.

    Equal rows are linked to the first of them (a star: dead ReLU units can make hundreds of rows zero, and
    all their pairs would cost ``O(N²)``). The distinct rows are sorted by a fixed random projection
    (``|u·(f_i − f_j)| ≤ ‖f_i − f_j‖``), so only neighbours in that order are compared: ``O(N log N)`` for
    generic data.

    Args:
        F: ``(N, n)`` float64.
        X: ``(N, ...)`` the samples the rows come from.
        radius: the largest Euclidean distance between rows that counts.

    Example:
        >>> import numpy as np
        >>> F = np.array([[0.0, 1.0], [0.0, 1.0 + 1e-17], [2.0, 0.0]])
        >>> near_duplicate_pairs(F, np.array([[0.0], [1e-17], [1.0]]), 1e-15)
        [(0, 1)]
    """
    F = float64_values(F, "F") + 0.0  # + 0.0: -0.0 becomes 0.0; a float32 F was promoted silently
    if F.ndim != 2 or np.shape(X)[:1] != F.shape[:1] or F.shape[0] == 0:  # N = 0 failed reshaping  # X of other rows was reshaped to F's, pairing wrong samples
        raise ValueError(f"`F` has shape {F.shape} and `X` {np.shape(X)}; expected F (N, n) and X (N, ...) for the "
                         "same N samples (N >= 1).")
    if not is_real(radius) or not 0 <= radius < np.inf:
        raise ValueError(f"`radius`={radius!r} must be a finite distance >= 0.")
    if not np.all(np.isfinite(F)):  # NaN rows are never near anything: their pairs were dropped silently
        raise ValueError(f"`F` contains NaN or Inf ({int(F.size - np.count_nonzero(np.isfinite(F)))} entries); "
                         "near-duplicate rows are looked for among finite features.")
    rows = np.asarray(X, dtype=np.float64).reshape(F.shape[0], -1) + 0.0
    _, first, inverse = np.unique(F, axis=0, return_index=True, return_inverse=True)
    leader = first[np.ravel(inverse)]
    pairs = {(int(a), int(b)) for b, a in enumerate(leader) if a != b and not np.array_equal(rows[a], rows[b])}
    if radius > 0:
        u = np.random.default_rng(0).standard_normal(F.shape[1])
        u /= np.linalg.norm(u)
        p = F @ u
        reach = radius + 4 * F.shape[1] * _EPS * float((np.abs(F) @ np.abs(u)).max(initial=0.0))
        order = first[np.argsort(p[first], kind="stable")]
        for a, i in enumerate(order):
            for j in order[a + 1:]:
                if p[j] - p[i] > reach:
                    break
                if _norms((F[i] - F[j])[None])[0] <= radius and not np.array_equal(rows[i], rows[j]):
                    pairs.add((int(min(i, j)), int(max(i, j))))
    return sorted(pairs)


def near_duplicate_rows(arch, params, X, F, k: int, report: RankReport, target: int) -> str:
    """Why the deficit ``report.rank < target`` of ``F_k`` may come from near-duplicate samples ("" if not).

    Args:
        arch, params, X: the network and the samples ``(N, *input_shape)``.
        F: ``F_k`` ``(N, n_k)`` as computed.
        k: the layer.
        report: the rank evidence of ``F``.
        target: the rank that full rank means here (``min(N, n_k)``, capped by equal samples).
    """
    k = check_rank_arguments(arch, k, report, target)
    X = np.asarray(X, dtype=np.float64)
    pairs = near_duplicate_pairs(F, X, np.sqrt(2.0) * report.band * report.tol)
    if not pairs:
        return ""
    rep = _components(F.shape[0], pairs)
    members = [m for m in range(F.shape[0]) if rep[m] != m]
    D = X[members] - X[[rep[m] for m in members]]
    moved = _first_layer_moves(arch, params, D)
    if not moved.any():
        return ""
    members = [m for m, ok in zip(members, moved) if ok]
    D, X0, X1 = D[moved], X[[rep[m] for m in members]], X[members]
    delta = 0.5 * (_fm.features_jvp(arch, params, X0, D, k) + _fm.features_jvp(arch, params, X1, D, k))
    size = _norms(delta)
    keep = size > 0
    if not keep.any():
        return ""
    G = np.array(F, copy=True)
    scale = float(_norms(F).max()) or 1.0  # the rows' own size: a floor would drown tiny rows
    for m, d, s in zip(np.asarray(members)[keep], delta[keep], size[keep]):
        G[m] = d * (scale / s)
    reach = first = rank_report(G, name=f"F_{k}").rank
    higher = ""
    if first < target:
        reach, higher = _higher_order(arch, params, X, k, G, rep, np.asarray(members)[keep])
        if reach < target:
            return ""
    shown = [(rep[m], m) for m in np.asarray(members)[keep]][:4]
    how = (f"with those rows replaced by them (a row operation) F_{k} reaches rank {reach} >= {target}" if not higher
           else f"with those rows replaced by them (a row operation) F_{k} reaches rank {first} only, but {higher}; "
                f"with their rows free F_{k} reaches rank {reach} >= {target}")
    return (f"near-duplicate samples, tolerance {report.tol:.1e}: samples "
            + "; ".join(f"[{a}, {b}]" for a, b in shown)
            + (f" (and {int(keep.sum()) - 4} more)" if keep.sum() > 4 else "")
            + f" are distinct, but their rows of F_{k} are equal to within the tolerance; their exact differences "
            f"(directional derivatives J·(x_j − x_i), at most {float(size[keep].max()):.1e}) are not zero, and {how}, "
            f"so the missing rank {target - report.rank} is below float64 resolution")


def _higher_order(arch, params, X, k: int, G, rep, freed) -> tuple[int, str]:
    """The rank when rows of groups of ≥ 3 near-duplicate samples are free, and why they may be.

    In a group ``x_0, x_0 + Δ_1, …, x_0 + Δ_m`` the first-order rows ``J Δ_i`` span at most ``rank J``
    directions; the exact rows differ also at second and higher order (``½ Δ_iᵀ ∇²f Δ_i``), far below
    rounding. Where some σ of layers ``1 … k`` is not affine those terms are not zero, so the rows of such a
    group are known only up to terms float64 cannot show: they are set free. Free means the features at
    other, generic points (the samples moved by random amounts of the data's spread, of its largest entry
    and of 1, the best rank of the three: data of size 1e-150 next to biases of size 0.1 give features that
    float64 cannot tell apart at the data's own scale), not random vectors:
    the rows must keep the relations that hold between the columns as functions (two units equal in exact
    arithmetic give equal columns at every input, so no choice of samples lifts the rank past them), and the
    largest rank over the points is attained generically. An affine network (every σ the identity) keeps
    its first-order rows: they are exact there. Returns ``(rank, note)``; ``(rank of G, "")`` when nothing
    is freed.
    """
    per_group = np.bincount([rep[m] for m in freed], minlength=len(rep))  # distinct samples beside the first
    big = [m for m in freed if per_group[rep[m]] >= 2]
    nonlinear = [info.k for info in arch.info[:k]
                 if info.activation is not None and not affine_everywhere(info.activation)]
    if not big or not nonlinear:
        return rank_report(G, name=f"F_{k}").rank, ""
    reach, rng = 0, np.random.default_rng(0)
    for spread in sorted({float(np.std(X)), float(np.abs(X).max()), 1.0} - {0.0}):
        Z = np.array(X, copy=True)  # the same shape as X: the forward pass is already compiled for it
        Z[big] = X[big] + rng.standard_normal(X[big].shape) * spread
        H = np.array(G, copy=True)
        H[big] = _fm.features_upto(arch, params, Z, k)[big]
        reach = max(reach, rank_report(H, name=f"F_{k}").rank)
    groups = sorted({rep[m] for m in big})
    return reach, (
        f"{len(groups)} group(s) of ≥ 3 near-duplicate samples (first samples {groups[:4]}) differ also at second "
        f"and higher order, which the non-affine σ of layer(s) {nonlinear} makes non-zero and float64 cannot show")


def _components(N: int, pairs) -> list[int]:
    """Union-find over ``pairs``: each sample's representative (the smallest index of its group)."""
    parent = list(range(N))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = find(i), find(j)
        parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(N)]


def _first_layer_moves(arch, params, D) -> np.ndarray:
    """Per row of ``D = x_j − x_i``: does ``D U_1`` exceed its rounding bound (so the exact ``G_1`` rows differ)?

    A first layer without weights (max-pooling) passes any difference on: every row counts.
    """
    D = D.reshape(D.shape[0], -1)
    if not arch.layer(1).has_weights:
        return np.any(D != 0, axis=1)
    U = _fm.full_weight_matrix(arch, params, 1)
    bound = 2.0 * (arch.layer(1).l + 1) * _EPS * (np.abs(D) @ np.abs(U))
    return np.any(np.abs(D @ U) > bound, axis=1)
