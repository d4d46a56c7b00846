"""How far ``F_k`` as computed in float64 can be from the exact ``F_k``: a bound for full-rank claims.

The SVD rank rule (:func:`theory_lab.linalg.rank_report`) reads ``rank F_k`` off the singular
values of the *computed* matrix ``F̂_k``, at a tolerance ``σ_1 · max(N, n_k) · eps`` that covers
the rounding of a matrix whose entries are each computed to a few ulps of their own size. A
forward pass with cancellation breaks that premise: a weight ``1e8`` on a constant pixel and a
bias ``−1e8`` give a pre-activation of size ~1 computed with an error of ~1e-8. Two units equal
in exact arithmetic (so ``rank F_k < N`` exactly) then differ by ~1e-9 in float64 and the SVD
reports full rank with a margin of 7e4. By Weyl's inequality ``σ_r(F_k) ≥ σ_r(F̂_k) − ‖F̂_k − F_k‖₂``,
so ``rank F_k ≥ r`` is certified only when ``σ_r(F̂_k)`` clears the forward error.

:func:`feature_error_bound` propagates the standard worst-case bound through layers ``1 … k``
(Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1: a sum of ``n`` terms is computed
with an error of at most ``n · eps`` times the sum of their absolute values):

    |Ĝ_l − G_l| ≤ (l_{l-1} + 1) · eps · (|F̂_{l-1}| |U_l| + |b_l|) + e_{l-1} |U_l|
    e_l = Lip(σ_l) · |Ĝ_l − G_l| + 4 · eps · |F̂_l|          (σ evaluated to a few ulps)
    e_l = max of e_{l-1} over the pooling window             (max-pooling is exact)

with ``e_0 = 0`` (the data are what they are) and ``Lip(σ) = max |σ'|`` on a grid (cached per
activation). It returns ``‖e_k‖_F ≥ ‖F̂_k − F_k‖₂``. Only full-rank *claims* use it: a deficit is
not made inconclusive by it, since the worst-case bound is far above the typical rounding that
the SVD tolerance already models (the rules for saturation and near-duplicates judge deficits).

Example (dense 2 → 3 identity, no cancellation: the bound is a few ulps of ``‖F‖``):
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.feature_maps import forward_upto
    >>> from theory_lab.sampling import sample_params
    >>> arch = Architecture((2,), (Dense(3, activation="identity"), Output(1)))
    >>> params, X = sample_params(arch, 0), np.ones((4, 2))
    >>> e = feature_error_bound(arch, params, forward_upto(arch, params, X, 1), 1)
    >>> 0 < e < 1e-14
    True
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import activations as _act
from theory_lab.linalg import RankReport, with_forward_error
from theory_lab.tolerances import frobenius_norm
from theory_lab.validate import is_integer, is_real_scalar

__all__ = ["feature_error_bound", "forward_error_note", "certify_full_rank", "lipschitz"]

_EPS = float(np.finfo(np.float64).eps)


@functools.lru_cache(maxsize=64)
def lipschitz(name: str) -> float:
    """``sup |σ'|`` for ``σ = name``: the activation's declared constant (every built-in one declares it; e.g.
    softplus(α) has slope ``sigmoid(αt)``, which reaches 1 only far out for small α), else ``max |σ'(t)|`` sampled
    on ``t ∈ [−64, 64]`` (step 1/256) and at ``±1e3, ±1e6``, times 1.01 (a registered σ without a declared constant:
    a sample, not a proof; ``inf`` where a slope is not finite).

    Example:
        >>> lipschitz("sigmoid"), lipschitz("softplus(1e-7)"), lipschitz("leaky_relu(5)")
        (0.25, 1.0, 5.0)
    """
    act = _act.get(name)
    if act.lipschitz is not None:
        return float(act.lipschitz)
    t = jnp.concatenate([jnp.arange(-64.0, 64.0, 1.0 / 256), jnp.array([-1e6, -1e3, 1e3, 1e6])])
    slopes = np.abs(np.asarray(jax.vmap(jax.grad(lambda s: act(s)))(t), dtype=np.float64))
    return 1.01 * float(np.max(np.where(np.isfinite(slopes), slopes, np.inf)))


_UNSET = object()


def check_rank_arguments(arch, k, report=_UNSET, target=_UNSET, fw=_UNSET) -> int:
    """``k`` as an int after checking the arguments the rank explanations share, each named in its error: ``k`` a
    hidden layer (True was read as layer 1, 1.0 failed indexing a tuple), ``report`` a RankReport, ``target`` an
    int rank ``>= 0`` (2.5 failed indexing, True was σ_True), ``fw`` a forward pass through ``k``."""
    if not is_integer(k) or not 1 <= k <= arch.L - 1:
        raise ValueError(f"`k`={k!r} is not a hidden layer; expected an integer in [1, {arch.L - 1}].")
    if report is not _UNSET and not isinstance(report, RankReport):
        raise TypeError(f"`report` is a {type(report).__name__}; expected the RankReport of F_{k} "
                        "(linalg.rank_report).")
    if target is not _UNSET and (not is_integer(target) or target < 0):
        raise ValueError(f"`target`={target!r} must be a non-negative integer rank (min(N, n_{k}), or fewer distinct "
                         "samples).")
    if fw is not _UNSET and not (hasattr(fw, "F") and hasattr(fw, "G") and len(fw.F) > k):
        raise TypeError(f"`fw` is a {type(fw).__name__}; expected feature_maps.forward_upto(arch, params, X, k) "
                        f"with F_0 … F_{k}.")
    return int(k)


def feature_error_bound(arch, params, fw, k: int) -> float:
    """A bound on ``‖F̂_k − F_k‖₂`` (Frobenius norm of an entrywise bound) for the forward pass ``fw``.

    Args:
        arch, params: the network.
        fw: :func:`theory_lab.feature_maps.forward_upto` ``(arch, params, X, k)``: ``F̂_l``, ``Ĝ_l``, ``l ≤ k``.
        k: the layer.

    Returns:
        ``‖e_k‖_F`` (see the module docstring); ``inf`` when an activation's slope is not finite.
    """
    k = check_rank_arguments(arch, k, fw=fw)
    N = int(np.shape(fw.F[0])[0])
    e = np.zeros((N, int(np.prod(np.shape(fw.F[0])[1:]))))
    for l in range(1, k + 1):
        info = arch.layer(l)
        if info.kind == "maxpool":
            e = np.where(info.patches >= 0, e[:, info.patches], 0.0).max(axis=2)
            continue
        layer = params[f"layer_{l}"]
        W = np.abs(np.asarray(layer["W"], dtype=np.float64))
        F_prev = np.abs(np.asarray(fw.F[l - 1], dtype=np.float64).reshape(N, -1))
        b = np.abs(np.asarray(layer["b"], dtype=np.float64)) if layer.get("b") is not None else np.zeros(1)
        b = np.tile(b, info.n // b.size) if b.size in (1, info.T) and b.size != info.n else b
        g_err = (info.l + 1) * _EPS * (_times_abs_u(info, F_prev, W) + b) + _times_abs_u(info, e, W)
        F_l = np.abs(np.asarray(fw.F[l], dtype=np.float64))
        e = lipschitz(info.activation) * g_err + 4 * _EPS * F_l if info.activation else g_err
    # scaled by its largest entry (frobenius_norm): numpy's norm squared entries of ~1e-166 into 0, so at a data
    # scale of 2^-500 (ReLU) the bound vanished and a full-rank reading went uncertified by the forward error
    return frobenius_norm(e, f"forward error bound of F_{k}") if np.all(np.isfinite(e)) else float("inf")


def certify_full_rank(report: RankReport, arch, params, fw, k: int, target: int) -> RankReport:
    """``report`` (the rank of ``F_k`` ``(N, n_k)`` as computed by ``fw``) with a full-rank reading, ``rank ≥ target >
    0``, held to :func:`feature_error_bound` (:func:`theory_lab.linalg.with_forward_error`); other readings as they are.

    ``fw`` is :func:`theory_lab.feature_maps.forward_upto` ``(arch, params, X, k)``. Every full-rank claim of a
    computed ``F_k`` goes through here (``feature_rank``, ``S_k`` membership at a solver's tolerance).
    """
    k = check_rank_arguments(arch, k, report, target, fw)
    if not report.rank >= target > 0:
        return report
    bound = feature_error_bound(arch, params, fw, k)
    if not np.isfinite(bound):  # an activation without a finite slope bound: nothing certifies the reading
        return dataclasses.replace(report, margin=min(report.margin, 1.0), unresolved=report.unresolved or (
            f"forward rounding of F_{k}: no finite bound on ‖F̂_{k} − F_{k}‖₂ (an activation of layers 1..{k} has no "
            f"finite slope bound), so rank {target} is not certified in exact arithmetic"))
    return with_forward_error(report, bound, forward_error_note(k, report, bound, target))


def forward_error_note(k: int, report, bound: float, target: int) -> str:
    """Why a full-rank reading of ``F_k`` is not resolved: ``σ_target`` against the forward error ``bound``."""
    if not isinstance(report, RankReport) or not is_integer(k) or k < 1 or not is_integer(target) \
            or not 1 <= target <= report.singular_values.size:  # k=True gave "F_True", target 0 σ_0 (the last)
        raise ValueError(f"`k`={k!r}, `target`={target!r}, `report` a {type(report).__name__}: expected a layer "
                         "k >= 1, a rank target >= 1 within the report's singular values, and a RankReport.")
    if not is_real_scalar(bound) or not 0 <= bound < np.inf:  # True read as 1, NaN printed as "≤ nan"
        raise ValueError(f"`bound`={bound!r} must be a finite non-negative number (feature_error_bound's).")
    sigma = float(report.singular_values[target - 1])
    return (f"forward rounding of F_{k}: ‖F̂_{k} − F_{k}‖₂ ≤ {bound:.1e} (worst-case bound through layers 1..{k}; "
            f"cancellation in the pre-activations), and σ_{target} = {sigma:.1e} does not exceed it by the "
            f"band's factor {report.band:g}, so rank {target} is not certified in exact arithmetic (Weyl)")


def _times_abs_u(info, A, W_abs) -> np.ndarray:
    """``A |U_l|`` ``(N, n_l)`` from ``A`` ``(N, n_{l-1})`` and ``|W_l|``, in numpy (no compilation per shape).

    A neuron that one patch reads twice would give ``|w_a + w_b| ≤ |w_a| + |w_b|``: still a bound."""
    if info.kind in ("dense", "output"):
        return A @ W_abs
    padded = np.concatenate([A, np.zeros((A.shape[0], 1))], axis=1)
    cols = np.where(info.patches >= 0, info.patches, A.shape[1])  # (P, l); padding reads the zero column
    return np.einsum("npl,lt->npt", padded[:, cols], W_abs).reshape(A.shape[0], -1)
