"""``F_k`` and ``U_k``, cheap to compile: :func:`features_upto`, :func:`feature_rank`, :func:`full_weight_matrix`.

Searches over many random architectures (Theorem 3.4's construction, rank frequencies,
property tests) pay mostly for compilation. Here ``F_k`` comes from a forward pass of
layers ``1 … k`` only, compiled on CPU at XLA backend optimisation level 0, and
``U_k = M_k(W_k)`` is built with numpy indexing, which compiles nothing.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Conv, Dense, Output
    >>> from theory_lab.feature_maps import feature_rank, features_upto, full_weight_matrix
    >>> from theory_lab.sampling import sample_params
    >>> conv = Architecture((5, 1), (Conv(3, (2,)), Output(1)))  # n_0 = 5, n_1 = 4 · 3
    >>> full_weight_matrix(conv, sample_params(conv, 0), 1).shape
    (5, 12)
    >>> arch = Architecture((3,), (Dense(8), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> params = sample_params(arch, 1)
    >>> features_upto(arch, params, X, 1).shape, feature_rank(arch, params, X, 1).rank
    ((5, 8), 5)
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

from theory_lab import activations as _act
from theory_lab import forward_error
from theory_lab import generic_rank
from theory_lab import model as _model
from theory_lab.arch import Architecture, Output
from theory_lab.linalg import DEFAULT_BAND, RankReport, certify_rank_bound, rank_report, with_forward_error
from theory_lab.sampling import to_device

__all__ = ["feature_rank", "features_upto", "features_jvp", "affine_everywhere", "forward_upto", "full_weight_matrix", "duplicate_samples",
           "check_layer_index"]

def check_layer_index(arch: Architecture, k, N: int | None = None, *, need_weights: bool = True) -> int:
    """``k`` as an int if it names a hidden layer ``1 … L−1`` (with weights, unless ``need_weights=False``).

    Raises a ValueError naming ``k``, the value and the allowed range otherwise.

    Example:
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> check_layer_index(Architecture((3,), (Dense(4), Output(1))), 1)
        1
    """
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= arch.L - 1:
        raise ValueError(f"`k`={k!r} is not a hidden layer; expected an integer in [1, {arch.L - 1}].")
    if need_weights and not arch.layer(int(k)).has_weights:
        raise ValueError(f"`k`={k}: layer {k} is {arch.layer(int(k)).kind}; F_k must come from a conv or "
                         "fully connected layer here.")
    return int(k)


def feature_rank(arch: Architecture, params, X, k: int, *, band: float = DEFAULT_BAND) -> RankReport:
    """Rank evidence of ``F_k`` (``N × n_k``) at ``params`` on ``X``.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(8), Output(1)))
        >>> from theory_lab.sampling import sample_params
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> feature_rank(arch, sample_params(arch, 1), X, 1).rank
        5
    """
    k = check_layer_index(arch, k, need_weights=False)
    fw = forward_upto(arch, params, X, k)
    F = np.asarray(fw.F[k])
    report = rank_report(F, band=band, name=f"F_{k}")
    bound, certificate = duplicate_samples(X)
    if bound < min(F.shape):
        report = certify_rank_bound(report, bound, certificate)
    target, why = min(min(F.shape), bound), ""
    if report.rank < target and fw.G[k] is not None:
        same = generic_rank.identical_units(full_weight_matrix(arch, params, k), _model.bias_vector(arch, params, k))
        why = _saturation(arch, k, F, np.asarray(fw.G[k]), report, _varies(arch, params, fw, k), same)
        if not why and k > 1:
            why = _earlier_saturation(arch, params, fw, k, report, target)
    if report.rank < target and not why:
        from theory_lab.near_duplicates import near_duplicate_rows  # it builds on this module

        why = near_duplicate_rows(arch, params, X, F, k, report, target)
    if report.rank >= target > 0:  # a full-rank claim must clear the forward pass's own error (cancellation)
        bound = forward_error.feature_error_bound(arch, params, fw, k)
        report = with_forward_error(report, bound, forward_error.forward_error_note(k, report, bound, target))
    if why:
        report = dataclasses.replace(report, unresolved=why)
    return report


def duplicate_samples(X) -> tuple[int, str]:
    """The number of distinct samples of ``X`` ``(N, ...)`` and, if some repeat, which ones.

    Equal samples give equal rows of every ``F_k`` in exact arithmetic (``F_k`` is a function of
    the sample), so ``rank F_k ≤`` the number of distinct samples: a certificate of rank
    deficiency that no SVD can give (:func:`theory_lab.linalg.certify_rank_bound`). Samples are
    compared by value (``-0.0 == 0.0``), not to within a tolerance.

    Returns:
        ``(distinct, certificate)``; ``certificate`` names the groups of equal samples (``""`` if none).

    Example:
        >>> import numpy as np
        >>> X = np.arange(12.0).reshape(4, 3); X[3] = X[1]
        >>> duplicate_samples(X)
        (3, 'samples [1, 3] are identical, so rows [1, 3] of F_k are equal in exact arithmetic')
    """
    rows = np.asarray(X, dtype=np.float64).reshape(np.shape(X)[0], -1) + 0.0  # + 0.0: -0.0 becomes 0.0
    _, first, inverse, counts = np.unique(rows, axis=0, return_index=True, return_inverse=True, return_counts=True)
    if counts.max(initial=1) == 1:
        return rows.shape[0], ""
    inverse = np.ravel(inverse)
    groups = [np.nonzero(inverse == g)[0].tolist() for g in np.argsort(first) if counts[g] > 1]
    shown = "; ".join(f"samples {g} are identical, so rows {g} of F_k are equal in exact arithmetic"
                      for g in groups[:4])
    more = f" (and {len(groups) - 4} more groups)" if len(groups) > 4 else ""
    return int(counts.size), shown + more


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
    scale = F_prev @ np.abs(full_weight_matrix(arch, params, l))
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
    (``same``: equal columns of ``U_k`` and equal biases) count once. If that
    reaches ``min(N, n_k)`` the deficiency is not evidence against full rank. A dead ReLU unit is
    constant in exact arithmetic and never counts. A unit may also saturate on some samples only:
    :func:`_saturated_entries` asks the same question entry by entry.
    """
    act = _act.get(arch.layer(k).activation) if arch.layer(k).activation else None
    if act is None or not (act.analytic or act.strictly_increasing):
        return ""  # e.g. ReLU: a dead unit is constant in exact arithmetic too
    Gc, Fc = G - G.mean(axis=0), F - F.mean(axis=0)
    constant = varies & (np.linalg.norm(Fc, axis=0) <= report.tol)
    affine = np.zeros_like(constant)
    if act.analytic and not affine_everywhere(act.name):
        slope = (Gc * Fc).sum(axis=0) / np.where(varies, (Gc * Gc).sum(axis=0), 1.0)
        affine = varies & ~constant & (np.linalg.norm(Fc - slope * Gc, axis=0) <= report.tol)
    polynomial = np.zeros_like(constant)
    if act.analytic and not _polynomial_everywhere(act.name, _POLY_DEGREE):
        polynomial = varies & ~constant & ~affine & _polynomial_to(G, F, report.tol, _POLY_DEGREE)
    unresolved = constant | affine | polynomial
    target = min(F.shape) if report.rank_bound is None else min(min(F.shape), report.rank_bound)
    if report.rank >= target:
        return ""
    distinct = len(np.unique(G, axis=0))
    rest = rank_report(F[:, ~unresolved], tol=report.tol, name=f"F_{k}").rank if (~unresolved).any() else 0
    reach = min(rest + np.unique(same[unresolved]).size, distinct)  # identical units lift the rank once
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
        out[u] = np.linalg.norm(f - V @ coef) <= tol
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
    free = np.broadcast_to(units_free, G.shape) | asymptotic
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


def _earlier_saturation(arch: Architecture, params, fw, k: int, report: RankReport, target: int) -> str:
    """Why a rank deficiency of ``F_k`` may come from rounding at an earlier layer ("" if it does not).

    An analytic, non-affine ``σ_l`` (``l < k``) within the rank tolerance of ``F_l`` of its affine
    asymptote (softplus below about −37 is 0 to within it; GELU beyond about ±7) shows the
    asymptote's value, while the exact values differ between samples (an analytic σ is affine on
    no interval). The next layer adds those entries to terms of order ``‖F_l‖``, so the differences
    are lost there, and rows of ``F_k`` that are distinct in exact arithmetic come out equal to
    rounding: the deficit is then an artefact. To tell, those entries of every such layer
    ``l ≤ k`` are moved by a random :data:`_NUDGE` of the layer's scale (generic values: the largest
    rank is attained generically) and the network is carried on to ``F_k``. If the rank then
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
        free &= _varies(arch, params, fw, l)
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
    F = F + masks[first] * rng.standard_normal(F.shape) * _NUDGE * max(np.abs(F).max(), 1.0)
    for l in range(first + 1, k + 1):
        info = arch.layer(l)
        if info.kind == "maxpool":
            F = np.asarray(_model.maxpool(info, F))
            continue
        layer = params[f"layer_{l}"]
        G = _model.preactivation(info, F, np.asarray(layer["W"]), None if "b" not in layer else np.asarray(layer["b"]))
        F = np.asarray(_act.get(info.activation)(G))
        if l in masks:
            F = F + masks[l] * rng.standard_normal(F.shape) * _NUDGE * max(np.abs(F).max(), 1.0)
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
    everywhere), e.g. a registered ``t ↦ t²``: its outputs are then exactly polynomial, not to rounding."""
    t = np.linspace(-3.0, 3.0, 13)
    y = np.asarray(_act.get(name)(t), dtype=np.float64)
    fit = np.polyval(np.polyfit(t, y, degree), t)
    return bool(np.abs(y - fit).max() <= 1e-12 * (1.0 + np.abs(y).max()))


@functools.lru_cache(maxsize=512)
def _truncated(arch: Architecture, k: int) -> Architecture:
    return Architecture(arch.input_shape, tuple(arch.layers[:k]) + (Output(1),))


def _apply(arch, params, X):
    return _model.CNN(arch).apply({"params": params}, X)


# Each new architecture is a new compilation; on CPU, XLA's backend optimisation level 0
# halves its cost, and these small forward passes do not need the optimised code.
_forward_cpu = jax.jit(_apply, static_argnums=0, compiler_options={"xla_backend_optimization_level": 0})
_forward_other = jax.jit(_apply, static_argnums=0)


def _upto(arch: Architecture, params, k: int):
    """The truncated copy of ``arch`` (layers ``1 … k`` and a dummy output) and its parameters."""
    small = _truncated(arch, k)
    sub = {name: p for name, p in params.items() if int(name.split("_")[1]) <= k}
    # numpy zeros: an eager jnp.zeros would compile a broadcast for every new width
    sub[f"layer_{k + 1}"] = {"W": np.zeros((small.layer(k + 1).l, 1)), "b": np.zeros(1)}
    return small, sub


def forward_upto(arch: Architecture, params, X, k: int):
    """Forward of layers ``1 … k`` only (a truncated copy of ``arch`` with a dummy output)."""
    _model.check_inputs(arch, X)
    _model.check_params(params, arch=arch, upto=k)
    small, sub = _upto(arch, params, k)
    forward = _forward_cpu if jax.default_backend() == "cpu" else _forward_other
    return forward(small, sub, X if isinstance(X, jax.Array) else to_device(np.asarray(X)))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _tangent(small: Architecture, params, X0, D, k: int):
    return jax.jvp(lambda Z: _apply(small, params, Z).F[k], (X0,), (D,))[1]


def features_jvp(arch: Architecture, params, X0, D, k: int) -> np.ndarray:
    """``J_{f_k}(x_i) · d_i`` for each row: the directional derivative of ``F_k`` ``(N, n_k)`` at ``X0`` along ``D``.

    ``X0`` and ``D`` are ``(N, *input_shape)``; only layers ``1 … k`` are computed. Used where the
    difference of two rows of ``F_k`` is below float64 resolution (:mod:`theory_lab.near_duplicates`).

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> from theory_lab.sampling import sample_params
        >>> arch = Architecture((3,), (Dense(4, activation="identity"), Output(1)))
        >>> params = sample_params(arch, 0)
        >>> X0, D = np.zeros((2, 3)), np.eye(3)[:2]
        >>> np.allclose(features_jvp(arch, params, X0, D, 1), np.asarray(params["layer_1"]["W"])[:2])
        True
    """
    k = check_layer_index(arch, k, need_weights=False)
    _model.check_inputs(arch, X0, "X0")
    _model.check_inputs(arch, D, "D")
    if np.shape(X0) != np.shape(D):
        raise ValueError(f"`D` has shape {np.shape(D)}; expected the shape of `X0`, {np.shape(X0)} (one direction "
                         "per sample).")
    _model.check_params(params, arch=arch, upto=k)
    small, sub = _upto(arch, params, k)
    shape = (-1,) + tuple(arch.input_shape)
    X0, D = (np.reshape(np.asarray(a, np.float64), shape) for a in (X0, D))
    out = _tangent(small, sub, X0, D, k)
    return np.asarray(out).reshape(np.shape(X0)[0], -1)


def features_upto(arch: Architecture, params, X, k: int) -> np.ndarray:
    """``F_k`` as a numpy array ``(N, n_k)``, computing only layers ``1 … k``.

    The same module as :func:`model.features` (agreeing to rounding, which the tests
    check), but the layers after ``k`` are left out and, on CPU, XLA compiles it at
    backend optimisation level 0: each new architecture compiles in about half the time.
    """
    k = check_layer_index(arch, k, need_weights=False)
    return np.asarray(forward_upto(arch, params, X, k).F[k])


def full_weight_matrix(arch: Architecture, params, k: int) -> np.ndarray:
    """``U_k = M_k(W_k)`` as a numpy array ``(n_{k-1}, n_k)`` (same as :func:`model.full_weight_matrix`).

    Built with numpy indexing, so it costs no jit compilation per shape. A deliberate
    twin of :func:`theory_lab.model.full_weight_matrix`, not a duplicate to remove: the
    jax version runs eager ``jnp`` ops (``where``, ``zeros``, a scatter-add), each compiled
    for every new shape. Measured on CPU (8 new conv architectures, 16 ``U_k``): about
    9.5 s for the jax version against about 1 ms here, and 30–45 ms against 1.5 ms once
    compiled. :func:`~theory_lab.witness.construct_full_rank` builds every ``U_l`` of each
    candidate, often for a new architecture, so it uses this one. The tests check that
    both agree exactly; use the jax version where ``U_k`` must be traced (``grad``, ``jit``).
    """
    info = arch.layer(k)
    if not info.has_weights or f"layer_{k}" not in params:
        raise ValueError(f"`k`={k}: layer {k} is {info.kind} and has no weights; U_k exists for conv and fully "
                         "connected layers only.")
    W = np.asarray(params[f"layer_{k}"]["W"])
    if not np.all(np.isfinite(W)):  # NaN filters gave NaN columns of U_k, silently
        raise ValueError(f"`params`: layer_{k}/W contains NaN or Inf ({int(np.sum(~np.isfinite(W)))} entries); "
                         "U_k is built from finite filters only.")
    if info.kind in ("dense", "output"):
        return W
    return generic_rank.weight_matrix(info.patches, arch.widths[k - 1], W.astype(np.float64, copy=False))
