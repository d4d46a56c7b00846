"""The loss surface in the paper's variables (THEORY.md §3, from ``S_k`` on).

* :func:`loss` — ``Φ = ½ ‖F_L − Y‖_F²``.
* :func:`forward_with_full_matrix` — the network with layer ``j``'s filters ``W_j`` replaced by its full matrix ``U_j``.
* :func:`grad_full_matrix` — ``∇_{U_j} Φ (n_{j-1}, n_j)`` for a conv or dense layer (for a dense layer ``∇_{W_j} Φ``);
  :func:`pullback` maps it to the filter gradient ``M_jᵀ(∇_{U_j} Φ) = ∇_{W_j} Φ``.
* :func:`backprop` — ``Δ_L = F_L − Y``, ``Δ_l = (Δ_{l+1} U_{l+1}ᵀ) ∘ σ_l'(G_l)``,
  ``∇_{U_l} Φ = F_{l−1}ᵀ Δ_l``, ``∇_{b_l} Φ = Δ_lᵀ 1``.
* :func:`gradient_bounds` — both bounds of Lemma 4.3 with every factor.
* :func:`membership` — whether parameters lie in ``S_k``, with rank reports.
* :func:`bad_critical_point` — the critical point outside ``S_k`` with ``Φ > 0``.
* :func:`widening_critical_targets` — targets making given parameters a critical point with ``Φ > 0``
  *inside* ``S_k`` when the output layer widens (``n_{L-1} < m``), the converse of the pyramidal condition.

Points built to probe Lemma 4.3 and Theorem 4.4 live in :mod:`theory_lab.gradient_probes`.

Lemma 4.3's ``σ_min`` is read as the operator lower bound ``inf_{‖x‖=1} ‖A x‖`` of the map the proof uses
(``x ↦ F_kᵀ x`` on ``R^N``, ``z ↦ U_{l+1} z`` on ``R^{n_{l+1}}``): under the pyramidal condition the smallest
singular value; ``0`` when a layer widens after ``k`` (the lower bound is then vacuous).
:attr:`GradientBounds.lower_naive` keeps the smallest *nonzero-dimension* singular value instead, the
reading that breaks (see the converse checks).

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import model, loss_surface
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
    >>> params = model.init(arch, jax.random.key(0))
    >>> X = np.random.default_rng(0).standard_normal((5, 3)); Y = np.eye(2)[[0, 1, 0, 1, 1]]
    >>> b = loss_surface.gradient_bounds(arch, params, X, Y, k=1)
    >>> bool(b.lower <= b.grad_norm <= b.upper), b.holds
    (True, True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import activations as _act, feature_maps, forward_error, model, tolerances as _tol
from theory_lab.arch import Architecture
from theory_lab.linalg import RankReport, rank_report
from theory_lab.validate import all_finite, is_integer

__all__ = ["loss", "check_targets", "forward_with_full_matrix", "grad_full_matrix", "pullback", "backprop",
           "Backprop", "GradientBounds", "gradient_bounds", "operator_lower_bound", "Membership", "membership",
           "bad_critical_point", "widening_critical_targets", "ROUNDING"]

#: Relative tolerance of "up to rounding" comparisons (a few thousand float64 ulps).
ROUNDING = float(1e3 * np.finfo(np.float64).eps)


def check_targets(arch: Architecture, X, Y, name: str = "Y"):
    """Validate targets ``Y (N, m)``: float64, ``N`` rows as ``X``, ``m = n_L`` columns."""
    model.check_inputs(arch, X)
    dtype = np.dtype(getattr(Y, "dtype", np.float64))
    if dtype != np.float64:
        raise TypeError(f"`{name}` has dtype {dtype}; theory-lab computes in float64. "
                        f"Pass {name}.astype(numpy.float64).")
    shape = tuple(np.shape(Y))
    N, m = np.shape(X)[0], arch.widths[-1]
    if shape != (N, m):
        raise ValueError(f"`{name}` has shape {shape}; expected (N, m) = ({N}, {m}): one row per sample of X "
                         f"and one column per output of the network.")
    if not isinstance(Y, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(Y)))):
        raise ValueError(f"`{name}` contains NaN or Inf; clean the targets first.")


def _act_and_derivative(name: str, G):
    act = _act.get(name)
    F, dF = jax.jvp(act, (G,), (jnp.ones_like(G),))
    return F, dF


def _layer(arch: Architecture, params, l: int, F_prev, U=None):
    """Layer ``l`` on ``F_{l-1} (N, n_{l-1})``: returns ``(F_l, G_l)`` (``G_l`` is None for pooling)."""
    info = arch.layer(l)
    if info.kind == "maxpool":
        idx = info.patches
        padded = jnp.concatenate([F_prev, jnp.full((F_prev.shape[0], 1), -jnp.inf)], axis=1)
        return jnp.max(padded[:, np.where(idx < 0, F_prev.shape[1], idx)], axis=-1), None
    U = model.full_weight_matrix(arch, params, l) if U is None else U
    G = F_prev @ U + model.bias_vector(arch, params, l)
    return (G if info.kind == "output" else _act.get(info.activation)(G)), G


def _check_weight_layer(arch: Architecture, j, name: str = "j"):
    if not is_integer(j) or not 1 <= j <= arch.L:  # True is not layer 1
        raise ValueError(f"`{name}`={j!r} is not a layer of this network; expected an integer in [1, {arch.L}].")
    if not arch.layer(int(j)).has_weights:
        raise ValueError(f"`{name}`={j}: layer {j} is {arch.layer(int(j)).kind} and has no full weight matrix U_{j}; "
                         "choose a conv or fully connected layer.")


def forward_with_full_matrix(arch: Architecture, params, X, j: int, U) -> jax.Array:
    """Network output ``F_L (N, m)`` with layer ``j`` computed as ``F_{j-1} U + 1 b_jᵀ``.

    ``U`` has shape ``(n_{j-1}, n_j)`` and need not be of the form ``M_j(W)``; with
    ``U = M_j(W_j)`` this is the ordinary network.
    """
    _check_weight_layer(arch, j)
    shape = (arch.widths[j - 1], arch.widths[j])
    if tuple(np.shape(U)) != shape or not all_finite(U):  # a NaN U gave a NaN F_L, silently
        raise ValueError(f"`U` has shape {tuple(np.shape(U))}{'' if all_finite(U) else ' and NaN/Inf entries'}; "
                         f"layer {j} needs finite (n_{j-1}, n_{j}) = {shape}.")
    F = model.features(arch, params, X)[j - 1]
    F, _ = _layer(arch, params, j, F, U)
    for l in range(j + 1, arch.L + 1):
        F, _ = _layer(arch, params, l, F)
    return F


def loss(arch: Architecture, params, X, Y) -> jax.Array:
    """``Φ = ½ ‖F_L − Y‖_F²`` (a float64 scalar)."""
    check_targets(arch, X, Y)  # a Y of another width broadcast silently to a wrong Φ
    R = model.apply(arch, params, X) - jnp.asarray(Y)
    return 0.5 * jnp.sum(R * R)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _grad_full_matrix(arch, params, X, Y, j):
    U = model.full_weight_matrix(arch, params, j)

    def phi(U):
        R = forward_with_full_matrix(arch, params, X, j, U) - Y
        return 0.5 * jnp.sum(R * R)

    return jax.grad(phi)(U)


def grad_full_matrix(arch: Architecture, params, X, Y, j: int) -> jax.Array:
    """``∇_{U_j} Φ`` of shape ``(n_{j-1}, n_j)`` by autodiff through the re-parametrised network.

    For a dense or output layer this is ``∇_{W_j} Φ``; for a conv layer the filter
    gradient is ``pullback(arch, j, ∇_{U_j} Φ)``.

    Example:
        >>> import jax, numpy as np
        >>> from theory_lab import model
        >>> from theory_lab.arch import Architecture, Conv, Output
        >>> arch = Architecture((5, 1), (Conv(2, (3,)), Output(1)))
        >>> params = model.init(arch, jax.random.key(0))
        >>> X, Y = np.ones((2, 5, 1)), np.zeros((2, 1))
        >>> grad_full_matrix(arch, params, X, Y, 1).shape
        (5, 6)
    """
    check_targets(arch, X, Y)
    _check_weight_layer(arch, j)
    return _grad_full_matrix(arch, params, jnp.asarray(X), jnp.asarray(Y), int(j))


def pullback(arch: Architecture, j: int, G_U) -> jax.Array:
    """``M_jᵀ(G_U)``: a gradient in ``U_j (n_{j-1}, n_j)`` pulled back to the filters ``(l_{j-1}, T_j)``."""
    _check_weight_layer(arch, j)
    info = arch.layer(j)
    shape = (arch.widths[j - 1], arch.widths[j])
    if tuple(np.shape(G_U)) != shape:
        raise ValueError(f"`G_U` has shape {tuple(np.shape(G_U))}; layer {j} needs (n_{j-1}, n_{j}) = {shape}.")
    W0 = jnp.zeros((info.l, info.T))
    _, vjp = jax.vjp(lambda W: model.weight_map(arch, j, W), W0)
    return vjp(jnp.asarray(G_U))[0]


@dataclass(frozen=True)
class Backprop:
    """The recursion of THEORY.md §3 for layers ``k+1 … L``.

    ``delta[l]`` is ``Δ_l (N, n_l)``; ``grad_U[l] = F_{l−1}ᵀ Δ_l``; ``grad_b[l] = Δ_lᵀ 1``.
    ``F`` and ``G`` are the forward pass's features and pre-activations, ``U`` the full
    matrices of layers ``k+1 … L``.
    """

    k: int
    delta: dict
    grad_U: dict
    grad_b: dict
    F: tuple = field(repr=False)
    G: tuple = field(repr=False)
    U: dict = field(repr=False)
    act_derivative: dict = field(repr=False)


def _check_tail(arch: Architecture, k: int):
    if not is_integer(k) or not 1 <= k <= arch.L - 1:
        raise ValueError(f"`k`={k!r} must be a hidden layer, an integer in [1, {arch.L - 1}].")
    pools = [i.k for i in arch.info[k:] if i.kind == "maxpool"]
    if pools:
        raise ValueError(f"`k`={k}: layers {pools} after k are max-pooling; the recursion of THEORY.md §3 needs "
                         "conv or dense layers from k+1 to L (Assumption 4.1). "
                         "Choose a k after the last pooling layer.")


@functools.partial(jax.jit, static_argnums=(0, 4))
def _backprop(arch, params, X, Y, k):
    fw = model.forward(arch, params, X)
    L = arch.L
    U = {l: model.full_weight_matrix(arch, params, l) for l in range(k + 1, L + 1)}
    dact = {l: _act_and_derivative(arch.layer(l).activation, fw.G[l])[1] for l in range(k + 1, L)}
    delta = {L: fw.F[L] - Y}
    for l in range(L - 1, k, -1):
        delta[l] = (delta[l + 1] @ U[l + 1].T) * dact[l]
    grad_U = {l: fw.F[l - 1].T @ delta[l] for l in range(k + 1, L + 1)}
    grad_b = {l: jnp.sum(delta[l], axis=0) for l in range(k + 1, L + 1)}
    return delta, grad_U, grad_b, fw.F, fw.G, U, dact


def backprop(arch: Architecture, params, X, Y, k: int) -> Backprop:
    """``Δ_l`` and the gradients in ``U_l, b_l`` for ``l = k+1 … L`` by the explicit recursion.

    ``X (N, ...)``, ``Y (N, m)``; layers ``k+1 … L`` must be conv or dense.
    """
    check_targets(arch, X, Y)
    _check_tail(arch, k)
    delta, grad_U, grad_b, F, G, U, dact = _backprop(arch, params, jnp.asarray(X), jnp.asarray(Y), int(k))
    return Backprop(int(k), delta, grad_U, grad_b, F, G, U, dact)


def operator_lower_bound(A) -> float:
    """``inf_{‖x‖=1} ‖A x‖`` for ``A (rows, cols)``: ``σ_cols(A)`` if ``rows ≥ cols``, else ``0``."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.size == 0 or not np.all(np.isfinite(A)):
        what = "NaN or Inf entries" if A.ndim == 2 and A.size else f"shape {A.shape}"
        raise ValueError(f"`A` has {what}; expected a non-empty finite matrix (rows, cols), e.g. F_k or U_l "
                         "(reshape a vector v to v[:, None]).")
    if A.shape[0] < A.shape[1]:
        return 0.0
    return float(np.linalg.svd(A, compute_uv=False)[-1])


@dataclass(frozen=True)
class GradientBounds:
    """Lemma 4.3 at one parameter, with every factor.

    ``lower = σ_min(F_k) Π_{l=k+1}^{L−1} σ_min(U_{l+1}) ‖σ_l'(G_l)‖_min · ‖F_L − Y‖_F`` with
    ``σ_min`` the operator lower bound (0 when a map cannot be injective),
    ``upper`` the same with ``σ_max`` and ``‖·‖_max``; ``lower_naive`` uses the smallest
    of the ``min(rows, cols)`` singular values instead (equal to ``lower`` under 4.1).
    ``tol`` is the rounding allowance ``ROUNDING · upper``.
    """

    k: int
    grad_norm: float
    residual_norm: float
    lower: float
    upper: float
    lower_naive: float
    tol: float
    factors: dict

    @property
    def lower_holds(self) -> bool:
        return bool(self.lower <= self.grad_norm + self.tol)

    @property
    def upper_holds(self) -> bool:
        return bool(self.grad_norm <= self.upper + self.tol)

    @property
    def holds(self) -> bool:
        return self.lower_holds and self.upper_holds

    @property
    def lower_tightness(self) -> float:
        """``lower / ‖∇_{U_{k+1}} Φ‖`` (≤ 1 when the bound holds)."""
        return self.lower / self.grad_norm if self.grad_norm > 0 else float("inf")

    @property
    def upper_tightness(self) -> float:
        """``‖∇_{U_{k+1}} Φ‖ / upper`` (≤ 1 when the bound holds)."""
        return self.grad_norm / self.upper if self.upper > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"k": self.k, "grad_norm": self.grad_norm, "residual_norm": self.residual_norm,
                "lower": self.lower, "upper": self.upper, "lower_naive": self.lower_naive, "tol": self.tol,
                "lower_holds": self.lower_holds, "upper_holds": self.upper_holds,
                "lower_tightness": self.lower_tightness, "upper_tightness": self.upper_tightness,
                "factors": self.factors}


def gradient_bounds(arch: Architecture, params, X, Y, k: int, *, grad=None) -> GradientBounds:
    """Both bounds of Lemma 4.3 on ``‖∇_{U_{k+1}} Φ‖_F`` and the true norm.

    The gradient is taken by autodiff (:func:`grad_full_matrix`) unless ``grad`` is given.
    Hypotheses of the lemma (Assumption 4.1) are *not* enforced here, so the converse
    can be measured; see ``Architecture.assumption_4_1``.
    """
    bp = backprop(arch, params, X, Y, k)
    L, shape = arch.L, (arch.widths[k], arch.widths[k + 1])
    if grad is not None and (tuple(np.shape(grad)) != shape or not all_finite(grad)):  # any array's norm was taken
        raise ValueError(f"`grad` has shape {tuple(np.shape(grad))}{'' if all_finite(grad) else ' and NaN/Inf'}; "
                         f"expected ∇_U_{k + 1} Φ of shape (n_{k}, n_{k + 1}) = {shape}, finite, as "
                         f"grad_full_matrix(arch, params, X, Y, {k + 1}) returns.")
    G = grad_full_matrix(arch, params, X, Y, k + 1) if grad is None else grad
    grad_norm, res, Fk = _tol.frobenius_norm(G, "grad"), _tol.frobenius_norm(bp.delta[L], "F_L − Y"), np.asarray(bp.F[k])
    sF = np.linalg.svd(Fk, compute_uv=False)
    lo_naive, hi = float(sF[-1]), float(sF[0])
    lo = lo_naive if Fk.shape[1] >= Fk.shape[0] else 0.0  # operator_lower_bound(F_kᵀ)
    factors = {"sigma_min_F_k": lo, "sigma_max_F_k": hi, "sigma_min_F_k_naive": lo_naive, "layers": []}
    for l in range(k + 1, L):
        Ul, d = np.asarray(bp.U[l + 1]), np.abs(np.asarray(bp.act_derivative[l]))
        s = np.linalg.svd(Ul, compute_uv=False)
        row = {"l": l, "sigma_min_U_next": float(s[-1]) if Ul.shape[0] >= Ul.shape[1] else 0.0,
               "sigma_min_U_next_naive": float(s[-1]), "sigma_max_U_next": float(s[0]),
               "dsigma_min": float(d.min()), "dsigma_max": float(d.max()), "shape_U_next": list(Ul.shape)}
        factors["layers"].append(row)
        lo *= row["sigma_min_U_next"] * row["dsigma_min"]
        lo_naive *= row["sigma_min_U_next_naive"] * row["dsigma_min"]
        hi *= row["sigma_max_U_next"] * row["dsigma_max"]
    upper = hi * res
    return GradientBounds(k, grad_norm, res, lo * res, upper, lo_naive * res, ROUNDING * max(upper, grad_norm), factors)


@dataclass(frozen=True)
class Membership:
    """Whether parameters lie in ``S_k``: ``rank F_k = N`` and ``U_l`` full rank for ``l ∈ [k+2, L]``.

    Each condition is decided by the one singular value that settles it (:meth:`RankReport.at_least`:
    ``σ_N(F_k)``, ``σ_min(U_l)``); ``conclusive`` when one condition fails conclusively (``S_k`` needs
    them all) or all hold conclusively, and ``margin`` is that decision's margin.
    """

    k: int
    N: int
    F_k: RankReport
    U: dict

    @property
    def feature_rank_ok(self) -> bool:
        return self.F_k.rank == self.N

    @property
    def weights_ok(self) -> bool:
        return all(r.full_rank for r in self.U.values())

    @property
    def member(self) -> bool:
        return self.feature_rank_ok and self.weights_ok

    def _decisions(self) -> list[tuple[bool, float, float]]:
        return [(*r.at_least(n), r.band) for r, n in [(self.F_k, self.N), *((r, min(r.shape)) for r in self.U.values())]]

    @property
    def conclusive(self) -> bool:
        d = self._decisions()
        return any(not met and m >= band for met, m, band in d) or all(m >= band for _, m, band in d)

    @property
    def margin(self) -> float:
        d = self._decisions()
        return max([m for met, m, band in d if not met and m >= band], default=min(m for _, m, _ in d))

    @property
    def reasons(self) -> tuple[str, ...]:
        out = []
        if not self.feature_rank_ok:
            out.append(f"rank F_{self.k} = {self.F_k.rank} < N = {self.N}")
        out += [f"U_{l} rank {r.rank} < {min(r.shape)}" for l, r in self.U.items() if not r.full_rank]
        return tuple(out)

    def __bool__(self) -> bool:
        return self.member

    def to_dict(self) -> dict:
        return {"k": self.k, "N": self.N, "member": self.member, "conclusive": self.conclusive,
                "reasons": list(self.reasons), "F_k": self.F_k.to_dict(),
                "U": {str(l): r.to_dict() for l, r in self.U.items()}}

    def __str__(self) -> str:
        state = "in S_k" if self.member else "outside S_k (" + "; ".join(self.reasons) + ")"
        return f"k={self.k}: {state}; F_{self.k}: {self.F_k}" + ("" if self.conclusive else " [inconclusive]")


@functools.partial(jax.jit, static_argnums=(0, 2))
def _full_matrices(arch, params, layers):
    return {l: model.full_weight_matrix(arch, params, l) for l in layers}


def membership(arch: Architecture, params, X, k: int, *, F_k=None, forward_rtol: float | None = None) -> Membership:
    """``S_k`` membership with the rank report of ``F_k`` and of each ``U_l``, ``l ∈ [k+2, L]``.

    For exactly drawn parameters (``forward_rtol=None``), ``F_k``'s rank uses SVD rounding,
    ``σ_1 · max(N, n_k) · eps`` (:func:`theory_lab.tolerances.svd_rank_tol`), and each
    ``U_l``'s is its own SVD rounding, ``max(n_{l-1}, n_l) · eps · σ_1(U_l)``: ``U_l`` is stored entry by entry
    (no arithmetic mixes it with other layers), so its backward error is relative to itself and its rank, like
    the exact rank, does not change when the layer is scaled (``2^-530`` below the others: full rank as unscaled).
    For the output of an iterative solver pass ``forward_rtol`` (e.g. :data:`theory_lab.tolerances.FORWARD_RTOL`):
    every rank is then decided at ``forward_rtol · σ_1`` (:func:`theory_lab.tolerances.solver_rank_tol`; for
    ``U_l``, ``forward_rtol · max(σ_1(U_l), max|θ|)``), the forward error such a point carries: its distance to
    the critical point it stands for perturbs all of ``θ``, so a ``U_l`` that close to 0 is not resolved. A full
    rank of ``F_k`` must also clear the forward pass's own rounding (:func:`theory_lab.forward_error.certify_full_rank`).
    """
    model.check_inputs(arch, X)
    _check_tail(arch, k)
    if forward_rtol is not None and not (0 < forward_rtol < 1):
        raise ValueError(f"`forward_rtol`={forward_rtol!r} must lie in (0, 1), e.g. tolerances.FORWARD_RTOL = 1e-8.")
    mats = {l: np.asarray(U) for l, U in _full_matrices(arch, params, tuple(range(k + 2, arch.L + 1))).items()}
    # exact draw: each U_l's own SVD rounding (scale-free); solver's point: its forward error, relative to all of θ
    scale = max(float(np.max(np.abs(np.asarray(a)))) for a in jax.tree_util.tree_leaves(params))
    U = {l: rank_report(A, tol=float(np.linalg.norm(A, 2)) * max(A.shape) * np.finfo(np.float64).eps
                        if forward_rtol is None else max(float(np.linalg.norm(A, 2)), scale) * forward_rtol,
                        name=f"U_{l}") for l, A in mats.items()}
    if forward_rtol is None and F_k is None:  # an exact draw: feature_rank's rules (a deficit below float64 is
        F_rep = feature_maps.feature_rank(arch, params, X, k)  # unresolved, not a verdict)
    else:
        Fk = np.asarray(model.features(arch, params, X)[k] if F_k is None else F_k)
        tol = None if forward_rtol is None else _tol.solver_rank_tol(float(np.linalg.norm(Fk, 2)) if Fk.size else 0.0,
                                                                     forward_rtol).value
        F_rep = forward_error.certify_full_rank(rank_report(Fk, tol=tol, name=f"F_{k}"), arch, params,
                                                feature_maps.forward_upto(arch, params, X, k), k, Fk.shape[0])
    return Membership(int(k), int(np.shape(X)[0]), F_rep, U)


def bad_critical_point(arch: Architecture, params, Y, k: int) -> dict:
    """THEORY.md §3's critical point outside ``S_k``: ``W_{k+1} = 0``, ``W_L = 0``, ``b_L = ȳ``.

    The other parameters are kept. Needs ``k + 1 < L`` (else ``U_{k+1} = U_L`` and the
    point is the least-squares fit of a constant). At this point every ``F_l`` with
    ``l > k`` has identical rows, the gradient vanishes and ``Φ = ½‖Y − 1ȳᵀ‖²``.
    """
    _check_tail(arch, k)
    if k + 1 >= arch.L:
        raise ValueError(f"`k`={k}: the bad critical point needs a hidden layer between k and L "
                         f"(k + 1 < L = {arch.L}); choose k <= {arch.L - 2}.")
    Y = jnp.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] != arch.widths[-1]:
        raise ValueError(f"`Y` has shape {Y.shape}; expected (N, {arch.widths[-1]}).")
    out = jax.tree_util.tree_map(lambda a: a, params)
    out[f"layer_{k + 1}"] = dict(out[f"layer_{k + 1}"], W=jnp.zeros_like(params[f"layer_{k + 1}"]["W"]))
    out[f"layer_{arch.L}"] = {"W": jnp.zeros_like(params[f"layer_{arch.L}"]["W"]), "b": jnp.mean(Y, axis=0)}
    return out


def widening_critical_targets(arch: Architecture, params, X, *, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """Targets ``Y`` at which ``params`` is a critical point with ``Φ > 0``, for a widening output.

    Needs ``n_{L-1} < m`` (the pyramidal condition broken at the last layer) and
    ``N > n_{L-1} + 1``. With ``R = A B``, where the columns of ``A (N, j)`` are orthogonal
    to ``[F_{L-1}, 1]`` and the rows of ``B (j, m)`` lie in the null space of ``U_L``
    (``U_L Bᵀ = 0``, which exists only because ``U_L`` is ``n_{L-1} × m`` with
    ``n_{L-1} < m``), set ``Y = F_L − R``. Then ``Δ_L = R``, ``Δ_L U_Lᵀ = 0`` kills every
    gradient before layer ``L``, ``∇_{U_L} Φ = F_{L-1}ᵀ R = 0``, ``∇_{b_L} Φ = Rᵀ1 = 0``,
    while ``Φ = ½‖R‖² > 0``. Random ``A, B`` come from ``seed``; ``‖R‖_F = scale``.

    Returns:
        ``Y (N, m)`` float64.
    """
    model.check_inputs(arch, X)
    L, m, n = arch.L, arch.widths[-1], arch.widths[-2]
    N = int(np.shape(X)[0])
    if n >= m:
        raise ValueError(f"`arch`: the output layer does not widen (n_{L - 1} = {n} >= m = {m}); these targets "
                         "exist only when n_{L-1} < m. Use a network whose last hidden layer is narrower than m.")
    if N <= n + 1:
        raise ValueError(f"`X` has N = {N} samples; the construction needs N > n_{L - 1} + 1 = {n + 1}.")
    F = model.features(arch, params, X)
    FL, Fprev = np.asarray(F[L]), np.asarray(F[L - 1])
    U = np.asarray(model.full_weight_matrix(arch, params, L))
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(np.concatenate([Fprev, np.ones((N, 1))], axis=1), mode="complete")
    A = Q[:, n + 1:] @ rng.standard_normal((N - n - 1, 2))
    _, _, Vt = np.linalg.svd(U)  # rows n.. of Vt span the null space of U (x -> U x)
    B = rng.standard_normal((2, m - n)) @ Vt[n:]
    R = A @ B
    R *= scale / np.linalg.norm(R)
    return FL - R

