"""Theorem 3.4 made constructive: parameters with ``rank F_k = N``, found and verified.

:func:`construct_full_rank` returns a :class:`Witness`: parameters of layers ``1 … k``
with ``rank F_k = N`` and every ``U_l`` of full rank, with the evidence.

The construction. Layers ``1 … k−1`` get random filters; a unit whose
activation is not strictly increasing everywhere (ReLU, GELU, SiLU) gets its bias shifted so
that its pre-activation is positive on every sample, where ``σ`` is strictly increasing and
nothing dies. At layer ``k`` the filters stay random and the per-neuron biases are placed
greedily: pick the unused neuron whose two largest values over the samples not yet
assigned are furthest apart, give the top sample that neuron, put the threshold between
the two values, remove the sample, repeat ``N`` times. Each assigned neuron is "off" (on
the side where ``σ`` tends to 0) for every sample assigned after it, so the ``N × N``
submatrix of ``F_k`` is triangular with a non-zero diagonal: exactly for ReLU, in the limit
of a large weight scale ``α`` for saturating ``σ``. Everything is then verified on the
actual network with :func:`~theory_lab.linalg.rank_report`; a failed attempt is retried
with fresh random filters (a seeded search), and the result says how many attempts it took.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> from theory_lab.witness import construct_full_rank
    >>> arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((12, 6, 1))
    >>> w = construct_full_rank(arch, X, 1, key=0)
    >>> w.found, w.report.rank, w.attempts
    (True, 12, 1)
    >>> T = w.features[w.order][:, w.neurons]  # triangular for ReLU
    >>> bool(np.all(np.tril(T, -1) == 0.0) and np.all(np.diag(T) > 0))
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from theory_lab import activations as _act
from theory_lab import model as _model
from theory_lab.arch import Architecture
from theory_lab.feature_maps import check_layer_index, forward_upto, features_upto, full_weight_matrix
from theory_lab.linalg import DEFAULT_BAND, RankReport, rank_report
from theory_lab.sampling import with_layer, as_generator, sample_params
from theory_lab.validate import is_integer, is_real

__all__ = ["Witness", "construct_full_rank"]

@dataclass(frozen=True)
class Witness:
    """Parameters found for Theorem 3.4, with the evidence that they work.

    Attributes:
        params: the full parameter pytree (layers ``> k`` random, from :func:`sample_params`).
        k: the wide layer.
        report: rank evidence of ``F_k`` at ``params``.
        U_reports: ``{l: RankReport of U_l}`` for every weight layer ``l ≤ k``.
        features: ``F_k`` as a numpy array ``(N, n_k)``.
        attempts: how many random filter draws the search used.
        alpha: weight scale used at layer ``k``.
        min_gap: the smallest gap between a sample's value and the next value at its neuron
            (the threshold sits in the middle), in pre-activation units.
        method: one sentence on what was done.
        log: per attempt ``{"attempt", "alpha", "rank", "margin", "conclusive"}``.
        order: ``(N,)`` samples in the order they were assigned a neuron.
        neurons: ``(N,)`` the neuron of layer ``k`` each of them got; for ReLU the submatrix
            ``features[order][:, neurons]`` is upper triangular with a positive diagonal.
    """

    params: dict = field(repr=False)
    k: int
    report: RankReport
    U_reports: dict
    features: np.ndarray = field(repr=False)
    attempts: int
    alpha: float
    min_gap: float
    method: str
    log: tuple = ()
    order: np.ndarray = field(default=None, repr=False)
    neurons: np.ndarray = field(default=None, repr=False)

    @property
    def found(self) -> bool:
        """``rank F_k = N`` and every ``U_l`` full rank, all conclusively."""
        return (self.report.rank == self.report.shape[0] and self.report.conclusive
                and all(r.full_rank and r.conclusive for r in self.U_reports.values()))

    def to_dict(self) -> dict:
        return {"k": self.k, "found": self.found, "F_k": self.report.to_dict(),
                "U": {f"U_{l}": r.to_dict(max_values=2) for l, r in self.U_reports.items()},
                "attempts": self.attempts, "alpha": self.alpha, "min_gap": self.min_gap,
                "method": self.method, "log": list(self.log)}


def _off_sign(name: str) -> float:
    """+1 if ``σ(t) → 0`` as ``t → −∞`` (ReLU, sigmoid, softplus, …), −1 if it does at ``+∞``."""
    sigma = _act.get(name)
    lo, hi = abs(float(sigma(jnp.float64(-40.0)))), abs(float(sigma(jnp.float64(40.0))))
    return 1.0 if lo <= hi else -1.0


def _homogeneous(name: str) -> bool:
    return name.split("(")[0].strip() in ("relu", "leaky_relu", "identity")


def _greedy_thresholds(A: np.ndarray):
    """Triangular assignment of samples to neurons (see the module docstring).

    Args:
        A: ``(N, n)`` pre-activations without bias (already signed so that "off" is low).

    Returns:
        ``(neurons, thresholds, gaps, samples)``, each ``(N,)``: at step ``s`` sample
        ``samples[s]`` gets neuron ``neurons[s]`` with threshold ``thresholds[s]`` in the middle
        of a gap ``gaps[s]`` to the next value among the samples still unassigned; ``None``
        when ties between samples block every free neuron.
    """
    N, n = A.shape
    order = np.argsort(-A, axis=0, kind="stable")  # (N, n): samples by value, per neuron
    removed = np.zeros(N, bool)
    used = np.zeros(n, bool)
    top = np.zeros(n, np.int64)
    cols = np.arange(n)
    neurons, thresholds, gaps, samples = [], [], [], []
    for _ in range(N):
        while True:  # advance each pointer past removed samples (amortised O(N n))
            stale = removed[order[top, cols]]
            if not stale.any():
                break
            top[stale] += 1
        second = top + 1
        while True:
            ok = second < N
            stale = np.zeros(n, bool)
            stale[ok] = removed[order[second[ok], cols[ok]]]
            if not stale.any():
                break
            second[stale] += 1
        hi = A[order[top, cols], cols]
        has_second = second < N
        lo = np.where(has_second, A[order[np.minimum(second, N - 1), cols], cols], -np.inf)
        gap = np.where(used, -np.inf, hi - lo)
        h = int(np.argmax(gap))
        g = float(gap[h])
        if not g > 0:
            return None
        i = int(order[top[h], h])
        if np.isfinite(g):
            theta = 0.5 * (hi[h] + lo[h])
        else:  # the last sample: any threshold below its value
            g = float(np.max(np.abs(A[:, h]))) + 1.0
            theta = hi[h] - 0.5 * g
        neurons.append(h)
        thresholds.append(theta)
        gaps.append(g)
        samples.append(i)
        used[h] = True
        removed[i] = True
    return np.array(neurons), np.array(thresholds), np.array(gaps), np.array(samples)


def _shift_positive(arch: Architecture, params, X, l: int, k: int, delta: float):
    """Biases of layer ``l`` shifted so every pre-activation is ``≥ delta`` on the data."""
    info = arch.layer(l)
    G = np.asarray(forward_upto(arch, params, X, k).G[l])
    b = np.asarray(params[f"layer_{l}"].get("b", np.zeros(0)))
    if b.size == 0:
        return params
    if b.shape[0] == info.n:
        shift = delta - G.min(axis=0)
    else:  # per-filter bias: one shift per filter over all patches
        shift = delta - G.reshape(G.shape[0], info.P, info.T).min(axis=(0, 1))
    return with_layer(params, l, b=b + np.maximum(shift, 0.0))


def _unit_scale(arch: Architecture, X, k: int) -> tuple[np.ndarray, int, int]:
    """``(X · 2^-e, e, first)``: the data scaled by a power of two (exact) so that ``max |x| ∈ [1, 2)``, and the
    first weight layer ``first ≤ k`` (only max-pooling before it, which commutes with the scaling), whose ``W``
    takes the ``2^-e`` back. The construction draws filters and biases at a fixed scale and shifts biases by an
    absolute ``delta``: on the data as given, ``X · 2^-60`` drowned every sample's information in the biases'
    rounding (layers ``< k``) and ended in "ties between samples" for data that satisfy Assumption 3.1, though
    Theorem 3.4's conclusion does not depend on the data's scale. ``e = 0`` when no layer can absorb it."""
    X = np.asarray(X, dtype=np.float64)
    weighted = [l for l in range(1, k + 1) if arch.layer(l).has_weights]
    top = float(np.max(np.abs(X))) if X.size else 0.0
    if not weighted or top == 0 or any(arch.layer(l).kind != "maxpool" for l in range(1, weighted[0])):
        return X, 0, 0
    e = int(np.frexp(top)[1]) - 1
    return np.ldexp(X, -e), e, weighted[0]


def construct_full_rank(arch: Architecture, X, k: int, *, key=0, attempts: int = 5,
                        alphas: tuple[float, ...] = (10.0, 40.0), band: float = DEFAULT_BAND,
                        law: str = "lecun_normal") -> Witness:
    """Parameters with ``rank F_k = N`` and full-rank ``U_1 … U_k`` (Theorem 3.4), verified.

    Follows the proof idea (see the module docstring): random filters, biases of layers
    ``< k`` shifted into the region where ``σ`` is strictly increasing, per-neuron biases of
    layer ``k`` placed between sorted projections so that ``N`` columns of ``F_k`` form a
    triangular matrix. Retries with fresh filters up to ``attempts`` times and, for
    saturating ``σ``, tries each weight scale in ``alphas``. It never claims success: read
    :attr:`Witness.found` and the rank evidence.

    Args:
        arch: the network; layer ``k`` must be conv or fully connected with per-neuron bias
            (the paper's ``b_k ∈ R^{n_k}``) and ``n_k ≥ N``.
        X: data ``(N, *input_shape)``, float64.
        k: the wide layer.
        key: seed of the search (``jax.random`` key, int or ``Generator``).
        attempts: random filter draws to try.
        alphas: weight scales for layer ``k``, as multiples of ``1 / (smallest half-gap)``;
            unused for positively homogeneous ``σ`` (ReLU), where the scale does not matter.
        band: conclusiveness band of the rank decisions.
        law: weight law of the random filters.

    Returns:
        :class:`Witness` (the last attempt's if none succeeded).
    """
    _model.check_inputs(arch, X)
    k = check_layer_index(arch, k)
    info = arch.layer(k)
    N = int(np.shape(X)[0])
    if info.n < N:
        raise ValueError(f"`k`={k}: n_{k} = {info.n} < N = {N}; Theorem 3.4 needs a wide layer (n_k >= N). "
                         "Add filters to layer k or use fewer samples.")
    if info.kind in ("conv", "patch") and getattr(info.spec, "bias", "neuron") != "neuron":
        raise ValueError(f"`k`={k}: layer {k} has bias={info.spec.bias!r}; the construction places one bias per "
                         "neuron (the paper's b_k ∈ R^n_k). Use bias='neuron' for the wide layer.")
    if not is_integer(attempts) or attempts < 1:  # np.int64(5) was refused
        raise ValueError(f"`attempts`={attempts!r} must be a positive int.")
    try:  # ("10", "40") read as numbers here then failed dividing; np.True_ read as 1.0
        scales = [float(a) for a in alphas] if not isinstance(alphas, (str, bool)) else None
    except (TypeError, ValueError):
        scales = None
    if not scales or not all(a > 0 and np.isfinite(a) for a in scales) or not all(is_real(a) for a in alphas):
        raise ValueError(f"`alphas`={alphas!r} must be a non-empty tuple of positive finite weight scales "
                         "(multiples of 1 / the smallest half-gap), e.g. (10.0, 40.0).")
    rng = as_generator(key)
    X0 = X
    X, e, first = _unit_scale(arch, X, k)  # X·2^-e (exact), undone on the first weight layer's W below
    sign = _off_sign(info.activation)
    homogeneous = _homogeneous(info.activation)
    log, witness = [], None
    for attempt in range(1, attempts + 1):
        params = sample_params(arch, rng, law=law)
        for l in range(1, k):
            li = arch.layer(l)
            if li.has_weights and not _act.get(li.activation).strictly_increasing:
                params = _shift_positive(arch, params, X, l, k, delta=0.1)
        G = np.asarray(forward_upto(arch, params, X, k).G[k])
        b_old = np.asarray(_model.bias_vector(arch, params, k))
        A = sign * (G - b_old)  # (N, n_k): sign·⟨w^t, f_{k-1}^p(x_i)⟩
        picked = _greedy_thresholds(A)
        if picked is None:
            log.append({"attempt": attempt, "alpha": None, "rank": None, "margin": None, "conclusive": False,
                        "note": "ties between samples at every free neuron"})
            continue
        neurons, thetas, gaps, order = picked
        # unassigned neurons: threshold at their median value (alive, not all on)
        theta = np.median(A, axis=0)
        theta[neurons] = thetas
        W = np.asarray(params[f"layer_{k}"]["W"])
        half = 0.5 * float(gaps.min())
        for c in ((1.0,) if homogeneous else alphas):
            alpha = 1.0 if homogeneous else c / half
            cand = with_layer(params, k, W=alpha * W, b=-sign * alpha * theta)  # pre-activation sign·α·(A − θ)
            min_gap = float(gaps.min())
            if e:  # the parameters for the data as given: the same G_l, F_l bits (x·w is exact under 2^±e), so
                # the gaps and α (relative to the drawn filters, W_first taken as drawn times 2^-e) stand as found
                cand = with_layer(cand, first, W=np.ldexp(np.asarray(cand[f"layer_{first}"]["W"]), -e))
            F = features_upto(arch, cand, X0, k)
            rep = rank_report(F, band=band, name=f"F_{k}")
            U = {l: rank_report(full_weight_matrix(arch, cand, l), band=band, name=f"U_{l}")
                 for l in range(1, k + 1) if arch.layer(l).has_weights}
            log.append({"attempt": attempt, "alpha": alpha, "rank": rep.rank, "margin": rep.margin,
                        "conclusive": rep.conclusive})
            method = ("random filters; biases of layers < k shifted so pre-activations are positive where σ is "
                      "not increasing; layer-k biases placed greedily between sorted projections so N columns "
                      f"of F_k are triangular (σ off side {'-' if sign > 0 else '+'}∞, α = {alpha:.3g})")
            witness = Witness(cand, k, rep, U, F, attempt, float(alpha), min_gap, method, tuple(log),
                              order, neurons)
            if witness.found:
                return witness
    if witness is None:
        raise RuntimeError(f"construct_full_rank: every one of {attempts} attempts hit ties between samples "
                           f"at all free neurons of layer {k}; the data likely violates Assumption 3.1 "
                           "(duplicate samples or patches). Check it with data.check_distinct_patches.")
    return witness
