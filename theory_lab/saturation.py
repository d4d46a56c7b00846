"""Rank deficits of ``F_k`` below float64 resolution: saturated, affine- or polynomial-to-rounding units.

A rank deficit of ``F_k`` (``N × n_k``) read by the SVD is evidence against full rank only if float64 could
have seen the missing directions. It could not where an analytic ``σ`` is computed at pre-activations where
float64 shows its asymptote, an affine or a low-degree polynomial function of the pre-activation, while the
exact values still bend (an analytic σ is none of these on an interval unless it is one everywhere), at
layer ``k`` (unit by unit, :func:`_saturation`; entry by entry, :func:`_saturated_entries`) or at an earlier
layer whose lost differences make rows of ``F_k`` equal (:func:`_earlier_saturation`). :func:`explain_deficit`
asks these in turn and returns why the deficit is *unresolved* (``""`` when it is not): the largest rank the
unresolved columns or entries can reach, with every relation that holds in exact arithmetic kept (equal
pre-activation rows, identical units), must reach the target. ReLU and other non-analytic σ are never
freed: where they are constant or affine they are so exactly.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.feature_maps import forward_upto
    >>> from theory_lab.linalg import rank_report
    >>> from theory_lab.saturation import explain_deficit
    >>> arch = Architecture((3,), (Dense(6, activation="gelu"), Output(1)))
    >>> rng = np.random.default_rng(0)
    >>> X, W, b = rng.uniform(-1, 1, (6, 3)), rng.standard_normal((3, 6)), rng.standard_normal(6)
    >>> W[:, 0], b[0] = 0.1 / 3, -9.0  # unit 0: gelu(t) ~ 1e-18 for t near -9, constant to rounding
    >>> params = {"layer_1": {"W": W, "b": b}, "layer_2": {"W": np.zeros((6, 1)), "b": np.zeros(1)}}
    >>> fw = forward_upto(arch, params, X, 1)  # fw.F[1], fw.G[1]: (N, n_1) = (6, 6)
    >>> report = rank_report(np.asarray(fw.F[1]), name="F_1")
    >>> report.rank  # float64 sees rank 5 of 6
    5
    >>> explain_deficit(arch, params, fw, 1, report, 6).split(":")[1].strip()
    '1 unit(s) saturate (outputs constant to within the tolerance)'
"""

from __future__ import annotations

import functools

import numpy as np

from theory_lab import activations as _act
from theory_lab import feature_maps as _fm
from theory_lab import forward_error, generic_rank
from theory_lab import model as _model
from theory_lab.arch import Architecture
from theory_lab.linalg import RankReport, rank_report

__all__ = ["explain_deficit", "affine_everywhere"]


def explain_deficit(arch: Architecture, params, fw, k: int, report: RankReport, target: int) -> str:
    """Why the deficit ``report.rank < target`` of ``F_k`` may be below float64 resolution ("" if it is not).

    Args:
        arch, params: the network; layer ``k`` is a conv or fully connected layer (``fw.G[k]`` is not None).
        fw: :func:`theory_lab.feature_maps.forward_upto` ``(arch, params, X, k)``: ``F_l``, ``G_l`` ``(N, n_l)``.
        report: the rank report of ``F_k`` ``(N, n_k)`` (its ``tol`` is the tolerance the rules use).
        target: the rank a full-rank claim needs, ``min(N, n_k)`` or less (distinct samples).

    Returns:
        The reason, naming the layers, units and the rank they can reach; ``""`` if no rule explains it.
    """
    k = forward_error.check_rank_arguments(arch, k, report, target, fw)
    F, G = np.asarray(fw.F[k]), np.asarray(fw.G[k])
    classes = _unit_classes(arch, params, k)
    why = _saturation(arch, k, F, G, report, _varies(arch, params, fw, k), classes[k])
    if not why and k > 1:
        why = _earlier_saturation(arch, params, fw, k, report, target, classes)
    return why


def _unit_classes(arch: Architecture, params, k: int) -> dict[int, np.ndarray]:
    """Per layer ``l ≤ k``, the classes ``(n_l,)`` of units equal in exact arithmetic at every input.

    :func:`theory_lab.generic_rank.identical_units` with layer ``l−1``'s classes, so a unit that reads one of
    two identical units and its twin that reads the other with the same weight are identical too. A
    max-pooling layer's units count as distinct: that can only leave a deficit unresolved, never conclusive.
    """
    classes, prev = {}, None
    for l in range(1, k + 1):
        info = arch.layer(l)
        if info.has_weights:
            prev = generic_rank.identical_units(_fm.full_weight_matrix(arch, params, l),
                                                _model.bias_vector(arch, params, l), prev)
        else:
            prev = np.arange(info.n)
        classes[l] = prev
    return classes


def _column_norms(A) -> np.ndarray:
    """Euclidean norms of the columns of ``A (N, n)`` without overflow or underflow in the squares (features
    ~7e299, softplus(1e-300), have centred columns ~1e284, whose squares overflowed to ``inf``)."""
    A = np.abs(np.asarray(A, dtype=np.float64))
    top = A.max(axis=0, initial=0.0)
    return top * np.linalg.norm(A / np.where(top > 0, top, 1.0), axis=0)


def _by_class(mask: np.ndarray, same: np.ndarray) -> np.ndarray:
    """``mask`` ``(N, n)`` with each unit's column replaced by the union over its class ``same`` ``(n,)``: an entry
    free in one of identical units is free in all (they are the same number in exact arithmetic)."""
    union = np.zeros((mask.shape[0], int(same.max(initial=0)) + 1), dtype=bool)
    for u, c in enumerate(same):
        union[:, c] |= mask[:, u]
    return union[:, same]


def _varies(arch: Architecture, params, fw, l: int) -> np.ndarray:
    """Per unit of weight layer ``l``: do its pre-activations differ between samples by more than their rounding?

    ``G_l = F_{l-1} U_l + 1 bᵀ`` is computed with an error of at most about ``(l_{l-1} + 2) · eps`` times
    ``|F_{l-1}| |U_l| + |b|`` per entry (a dot product of length ``l_{l-1}``, plus the bias and the rounding
    of ``F_{l-1}`` itself). A unit whose pre-activations spread by more than twice that bound varies in exact
    arithmetic too, however small the spread is *relative to* ``G``: inputs 1e-10 apart, or weights 1e-10
    with biases ~1, give pre-activations that vary by ~1e-10 around ~1, and their outputs are then affine
    to rounding (the exact features are not). A spread within the bound may be rounding alone (a unit whose
    exact pre-activation is constant): such a unit is never counted as unresolved.
    """
    info = arch.layer(l)
    G, F_prev = np.asarray(fw.G[l]), np.abs(np.asarray(fw.F[l - 1]))
    layer = params[f"layer_{l}"]
    scale = F_prev @ np.abs(_fm.full_weight_matrix(arch, params, l))
    if "b" in layer and layer["b"] is not None:
        b = np.abs(np.asarray(layer["b"]))
        scale = scale + (np.tile(b, info.P) if b.shape[0] != info.n else b)
    err = (info.l + 2) * np.finfo(np.float64).eps * scale.max(axis=0)
    return (G.max(axis=0) - G.min(axis=0)) > 2.0 * err


def _saturation(arch: Architecture, k: int, F, G, report: RankReport, varies: np.ndarray, same: np.ndarray) -> str:
    """Why a rank deficiency of ``F_k`` may be below float64 resolution ("" if it is not).

    A unit is *unresolved* when its pre-activation clearly varies over the samples while
    float64 cannot see ``σ`` bend on them: its outputs are constant to within the rank
    tolerance (saturated: GELU at −11 is ~1e-27) or, for an analytic ``σ`` that is not affine,
    an affine function of the pre-activation to within it (GELU(x) = x in float64 for
    x > ~8.3), or — for an analytic σ that is not a polynomial of degree ≤ :data:`_POLY_DEGREE` —
    a polynomial of degree ≤ :data:`_POLY_DEGREE` in it to within it (tanh near its bias when
    the pre-activations vary by ~1e-6: the cubic term is ~1e-18). Their exact outputs still differ
    from those values (a σ constant on no interval — analytic or strictly increasing — and an
    analytic σ that is not a polynomial of degree d is one on no interval), so
    their columns are known only up to rounding. They can lift the rank to at most
    ``rank(F_k without them) + #unresolved``, and never above the number of distinct rows of
    ``G_k`` (equal pre-activations give equal features in exact arithmetic too), and identical units
    (``same``: :func:`_unit_classes`) count once, and not at all beside a resolved twin. If that
    reaches ``min(N, n_k)`` the deficiency is not evidence against full rank. A dead ReLU unit is
    constant in exact arithmetic and never counts. A unit may also saturate on some samples only:
    :func:`_saturated_entries` asks the same question entry by entry.
    """
    act = _act.get(arch.layer(k).activation) if arch.layer(k).activation else None
    if act is None or not (act.analytic or act.strictly_increasing):
        return ""  # e.g. ReLU: a dead unit is constant in exact arithmetic too
    Gc, Fc = G - G.mean(axis=0), F - F.mean(axis=0)
    constant = varies & (_column_norms(Fc) <= report.tol)
    affine = np.zeros_like(constant)
    if act.analytic and not affine_everywhere(act.name):
        slope = (Gc * Fc).sum(axis=0) / np.where(varies, (Gc * Gc).sum(axis=0), 1.0)
        affine = varies & ~constant & (_column_norms(Fc - slope * Gc) <= report.tol)
    polynomial = np.zeros_like(constant)
    if act.analytic and not _polynomial_everywhere(act.name, _POLY_DEGREE):
        polynomial = varies & ~constant & ~affine & _polynomial_to(G, F, report.tol, _POLY_DEGREE)
    unresolved = constant | affine | polynomial
    target = min(F.shape) if report.rank_bound is None else min(min(F.shape), report.rank_bound)
    if report.rank >= target:
        return ""
    distinct = len(np.unique(G, axis=0))
    rest = rank_report(F[:, ~unresolved], tol=report.tol, name=f"F_{k}").rank if (~unresolved).any() else 0
    lift = np.setdiff1d(same[unresolved], same[~unresolved]).size  # identical units lift the rank once
    reach = min(rest + lift, distinct)
    if not unresolved.any() or reach < target:
        return _saturated_entries(act, k, F, G, report, target, distinct, unresolved, same) if act.analytic else ""
    kinds = []
    for name, mask in (("saturate (outputs constant to within the tolerance)", constant),
                       ("are affine to rounding (outputs an affine function of the pre-activation to within "
                        "the tolerance)", affine),
                       (f"are polynomial to rounding (outputs a polynomial of degree ≤ {_POLY_DEGREE} in the "
                        "pre-activation to within the tolerance)", polynomial)):
        if mask.any():
            kinds.append(f"{int(mask.sum())} unit(s) {name}: units {np.nonzero(mask)[0][:8].tolist()}")
    return (f"layer {k} ({act.name}), tolerance {report.tol:.1e}: " + "; ".join(kinds) + ". Their pre-activations "
            f"vary over the samples, so their exact outputs are not what float64 shows; with the other units "
            f"(rank {rest}) they can reach rank {reach} >= {target}, so the missing rank "
            f"{target - report.rank} is below float64 resolution")


# The largest degree of the polynomial-to-rounding rule of :func:`_saturation`. Each degree needs more distinct
# pre-activation values than coefficients (a polynomial of degree d interpolates any d + 1 of them), so a unit
# counts only with at least d + 3 of them.
_POLY_DEGREE = 3


def _polynomial_to(G, F, tol: float, degree: int) -> np.ndarray:
    """Per unit: are its outputs ``F[:, u]`` a polynomial of degree ≤ ``degree`` in ``G[:, u]`` to within ``tol``?

    Least squares on the pre-activations centred and scaled to [-1, 1] (a well-conditioned basis up to
    degree 3), with at least ``degree + 3`` distinct values per unit.
    """
    out = np.zeros(G.shape[1], dtype=bool)
    for u in range(G.shape[1]):
        g, f = G[:, u], F[:, u]
        t = g - g.mean()
        spread = np.abs(t).max()
        if spread == 0 or len(np.unique(g)) < degree + 3:
            continue
        V = np.vander(t / spread, degree + 1)
        coef = np.linalg.lstsq(V, f, rcond=None)[0]
        out[u] = _column_norms((f - V @ coef)[:, None])[0] <= tol
    return out


def _saturated_entries(act, k: int, F, G, report: RankReport, target: int, distinct: int, units_free, same) -> str:
    """The same question entry by entry: a unit may saturate on some samples only.

    Where an analytic, non-affine ``σ`` lies within the rank tolerance of its affine asymptote
    for every pre-activation beyond ``t`` (GELU beyond about ±7 at a tolerance of 1e-12),
    float64 shows the asymptote's value, while the exact value differs (an analytic σ is
    affine on no interval). Those entries of ``F_k`` are known only to below the tolerance.
    With them free (random values: the largest rank a completion reaches is attained
    generically), if the rank reaches ``min(N, n_k)`` the deficiency is not evidence
    against full rank. A deficiency that survives any values of those entries stays. The units
    found unresolved as a whole (``units_free``) are free too.
    """
    if affine_everywhere(act.name):
        return ""
    asymptotic, bounds = _asymptotic_entries(act.name, G, report.tol)
    free = _by_class(np.broadcast_to(units_free, G.shape) | asymptotic, same)
    if not free.any():
        return ""
    noise = np.random.default_rng(0).standard_normal(F.shape)[:, same]  # identical units stay identical
    filled = np.where(free, noise * max(np.abs(F).max(), 1.0), F)
    reach = min(rank_report(filled, tol=report.tol, name=f"F_{k}").rank, distinct)
    if reach < target:
        return ""
    units = np.nonzero(free.any(axis=0))[0]
    return (f"layer {k} ({act.name}), tolerance {report.tol:.1e}: {int(free.sum())} entries in {units.size} "
            f"unit(s) (units {units[:8].tolist()}) have pre-activations {' or '.join(bounds)}, where σ is within "
            f"the tolerance of its affine asymptote, so float64 shows the asymptote, not σ; with those entries "
            f"free the rank reaches {reach} >= {target}, so the missing rank {target - report.rank} is below "
            "float64 resolution")


def _asymptotic_entries(name: str, G, tol: float) -> tuple[np.ndarray, list[str]]:
    """Entries of ``G`` where ``σ = name`` is within ``tol`` of its affine asymptote, and the bounds in words."""
    free = np.zeros(np.shape(G), dtype=bool)
    bounds = []
    for side, (grid, dev) in zip((1.0, -1.0), _asymptote_deviation(name)):
        over = np.flatnonzero(dev > tol)
        if over.size and over[-1] + 1 >= grid.size:
            continue  # not within the tolerance of an affine function on this side of the grid
        start = grid[over[-1] + 1] if over.size else 0.0
        free |= side * G >= start
        bounds.append(f"{'≥' if side > 0 else '≤'} {side * start:g}")
    return free, bounds


# Free entries of an earlier layer are moved by this fraction of the layer's largest |entry| (at least 1):
# enough to show above the rank tolerance of F_k, small enough not to change the network's regime.
_NUDGE = 1e-3


def _earlier_saturation(arch: Architecture, params, fw, k: int, report: RankReport, target: int,
                        classes: dict[int, np.ndarray]) -> str:
    """Why a rank deficiency of ``F_k`` may come from rounding at an earlier layer ("" if it does not).

    An analytic, non-affine ``σ_l`` (``l < k``) within the rank tolerance of ``F_l`` of its affine
    asymptote (softplus below about −37 is 0 to within it; GELU beyond about ±7) shows the
    asymptote's value, while the exact values differ between samples (an analytic σ is affine on
    no interval). The next layer adds those entries to terms of order ``‖F_l‖``, so the differences
    are lost there, and rows of ``F_k`` that are distinct in exact arithmetic come out equal to
    rounding: the deficit is then an artefact. To tell, those entries of every such layer
    ``l ≤ k`` are moved by a random :data:`_NUDGE` of the layer's scale (generic values: the largest
    rank is attained generically; identical units, :func:`_unit_classes`, get the same move, since
    they are the same number in exact arithmetic) and the network is carried on to ``F_k``. If the rank then
    reaches the target (capped by the distinct rows of ``G_l`` up to the first such layer, which
    the exact network keeps equal too), the deficiency is not evidence against full rank. A
    deficiency that survives stays. Non-analytic σ (ReLU, ELU) are not freed: where they are
    constant or affine they are so exactly.
    """
    masks, notes = {}, []
    for l in range(1, k + 1):
        info = arch.layer(l)
        act = _act.get(info.activation) if info.activation else None
        if act is None or not act.analytic or affine_everywhere(act.name):
            continue
        F_l, G_l = np.asarray(fw.F[l]), np.asarray(fw.G[l])
        tol = report.tol if l == k else rank_report(F_l, name=f"F_{l}").tol
        free, bounds = _asymptotic_entries(act.name, G_l, tol)
        free = _by_class(free & _varies(arch, params, fw, l), classes[l])
        if free.any():
            masks[l] = free
            notes.append(f"layer {l} ({act.name}): {int(free.sum())} entries with pre-activations "
                         f"{' or '.join(bounds)} (within {tol:.1e} of σ's asymptote)")
    first = min(masks, default=k)
    if first >= k:
        return ""
    distinct = min(len(np.unique(np.asarray(fw.G[l]), axis=0)) for l in range(1, first + 1)
                   if fw.G[l] is not None)
    rng = np.random.default_rng(0)
    F = np.asarray(fw.F[first])
    F = F + masks[first] * rng.standard_normal(F.shape)[:, classes[first]] * _NUDGE * max(np.abs(F).max(), 1.0)
    for l in range(first + 1, k + 1):
        info = arch.layer(l)
        if info.kind == "maxpool":
            F = np.asarray(_model.maxpool(info, F))
            continue
        layer = params[f"layer_{l}"]
        G = _model.preactivation(info, F, np.asarray(layer["W"]), None if "b" not in layer else np.asarray(layer["b"]))
        F = np.asarray(_act.get(info.activation)(G))
        if l in masks:
            F = F + masks[l] * rng.standard_normal(F.shape)[:, classes[l]] * _NUDGE * max(np.abs(F).max(), 1.0)
    reach = min(rank_report(F, tol=report.tol, name=f"F_{k}").rank, distinct)
    if reach < target:
        return ""
    return (f"rounding at earlier layers, tolerance {report.tol:.1e}: " + "; ".join(notes) + ". There float64 "
            f"shows σ's asymptote, not σ, so differences between samples are lost before layer {k}; with those "
            f"entries moved slightly (generic values) F_{k} reaches rank {reach} >= {target}, so the missing "
            f"rank {target - report.rank} is below float64 resolution")


@functools.lru_cache(maxsize=64)
def _asymptote_deviation(name: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per side (right, left): the grid ``|t| = 0, 1/8, …, 1000`` and ``|σ(t) − a(t)|`` there, ``a`` the
    line through ``σ(±500)`` and ``σ(±1000)`` (a side where those are not finite gets an all-``inf`` row)."""
    fn = _act.get(name)
    grid = np.arange(0.0, 1000.0, 0.125)
    out = []
    for sign in (1.0, -1.0):
        t = sign * grid
        y = np.asarray(fn(np.concatenate([t, [sign * 500.0, sign * 1000.0]])), dtype=np.float64)
        (v1, v2), y = y[-2:], y[:-2]
        slope = (v2 - v1) / (sign * 500.0)
        dev = np.abs(y - (v2 + slope * (t - sign * 1000.0)))
        out.append((grid, np.where(np.isfinite(dev), dev, np.inf)))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def affine_everywhere(name: str) -> bool:
    """True when σ is affine (the identity): an analytic σ affine on an interval is affine everywhere."""
    return _polynomial_everywhere(name, 1)


@functools.lru_cache(maxsize=64)
def _polynomial_everywhere(name: str, degree: int) -> bool:
    """True when σ is a polynomial of degree ≤ ``degree`` (an analytic σ that is one on an interval is one
    everywhere), e.g. a registered ``t ↦ t²``: its outputs are then exactly polynomial, not to rounding.

    Sampled on ``[−s, s]`` for ``s = 3, 300, …, 3·10³⁰⁰`` (13 points each, windows with a non-finite value
    skipped): a σ that bends only at a scale of its own is no polynomial (softplus(1e-8) is affine to 1e-12 of
    its size ln2/α on ``[−3, 3]``, and bends at ``|t| ~ 1e8``).
    """
    unit = np.linspace(-1.0, 1.0, 13)
    tops = 3.0 * 10.0 ** np.arange(0, 301, 2)
    with np.errstate(all="ignore"):
        ys = np.asarray(_act.get(name)(np.outer(tops, unit)), dtype=np.float64)
        for y in ys[np.all(np.isfinite(ys), axis=1)]:  # a polynomial in t is one of the same degree in t/s
            fit = np.polyval(np.polyfit(unit, y, degree), unit)
            if not np.abs(y - fit).max() <= 1e-12 * (1.0 + np.abs(y).max()):
                return False
    return True

