"""Points and searches that probe Lemma 4.3 and Theorem 4.4 (THEORY.md §3).

* :func:`attaining_point` — parameters and targets at which one of Lemma 4.3's bounds
  holds with equality, so a wrong factor in either bound shows as a mismatch.
* :func:`small_gradient_search` — a direct search for small
  ``ρ = ‖∇_{U_{k+1}} Φ‖ / ‖F_L − Y‖`` (Theorem 4.4's reverse direction: inside ``S_k``,
  Lemma 4.3 keeps ``ρ`` away from 0).

Example:
    >>> import numpy as np
    >>> from theory_lab import gradient_probes, loss_surface
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.sampling import sample_params
    >>> arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> p, Y = gradient_probes.attaining_point(arch, sample_params(arch, 0), X, 1, bound="lower")
    >>> b = loss_surface.gradient_bounds(arch, p, X, Y, 1)
    >>> abs(b.grad_norm / b.lower - 1) < 1e-12
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import model
from theory_lab.arch import Architecture
from theory_lab.loss_surface import check_targets, forward_with_full_matrix, gradient_bounds  # noqa: F401 (docstring example)
from theory_lab.validate import is_integer, is_real

__all__ = ["attaining_point", "small_gradient_search", "SmallGradientSearch"]


def _check_k(arch: Architecture, k):
    if not is_integer(k) or not 1 <= k <= arch.L - 1:  # True is not layer 1
        raise ValueError(f"`k`={k!r} must be a hidden layer, an integer in [1, {arch.L - 1}].")
    pools = [i.k for i in arch.info[k:] if i.kind == "maxpool"]
    if pools:
        raise ValueError(f"`k`={k}: layers {pools} after k are max-pooling; Lemma 4.3 needs conv or dense layers "
                         "from k+1 to L (Assumption 4.1). Choose a k after the last pooling layer.")


def attaining_point(arch: Architecture, params, X, k: int, *, bound: str = "upper", level: float = 0.5,
                    scale: float = 1.0) -> tuple[dict, np.ndarray]:
    """Parameters and targets at which Lemma 4.3's ``bound`` holds with equality.

    Needs one hidden layer after ``k`` (``L = k + 2``), fully connected with a bias per
    neuron. Set ``W_{k+1} = 0`` and ``b_{k+1} = level · 1``: every pre-activation of layer
    ``k+1`` equals ``level``, so ``‖σ'(G_{k+1})‖_min = ‖σ'(G_{k+1})‖_max = σ'(level)``. With
    ``u`` a left singular vector of ``F_k (N, n_k)`` and ``v`` a right singular vector of
    ``U_L (n_{L-1}, m)`` — the largest for ``"upper"``, the smallest (or a null vector when
    the map cannot be injective) for ``"lower"`` — set ``Y = F_L − scale · u vᵀ``. Then
    ``Δ_L = scale · u vᵀ`` and ``∇_{U_{k+1}} Φ = σ'(level) · scale · (F_kᵀ u)(U_L v)ᵀ``, whose
    norm is exactly the bound. The layers up to ``k`` and ``U_L, b_L`` are kept.

    Returns:
        ``(params, Y)`` with ``Y (N, m)`` float64.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> from theory_lab.sampling import sample_params
        >>> arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> p, Y = attaining_point(arch, sample_params(arch, 0), X, 1, bound="upper")
        >>> b = gradient_bounds(arch, p, X, Y, 1)
        >>> abs(b.grad_norm / b.upper - 1) < 1e-12
        True
    """
    model.check_inputs(arch, X)
    _check_k(arch, k)
    if bound not in ("upper", "lower"):
        raise ValueError(f"`bound`={bound!r} is unknown; choose 'upper' or 'lower'.")
    if arch.L != k + 2 or arch.layer(k + 1).kind != "dense":
        raise ValueError(f"`k`={k}: the construction needs exactly one fully connected hidden layer after k "
                         f"(L = k + 2), got L = {arch.L} and layer {k + 1} of kind {arch.layer(k + 1).kind}.")
    if not (is_real(level) and is_real(scale) and np.isfinite(level) and np.isfinite(scale) and scale > 0):
        # True was read as 1.0, text failed in numpy's isfinite
        raise ValueError(f"`level`={level!r} must be a finite real number and `scale`={scale!r} a finite positive "
                         "one (a bool or text is not a number).")
    j, L = k + 1, arch.L
    out = jax.tree_util.tree_map(lambda a: a, params)
    out[f"layer_{j}"] = {"W": jnp.zeros_like(params[f"layer_{j}"]["W"]),
                         "b": jnp.full((arch.widths[j],), float(level))}
    F = model.features(arch, out, X)
    P, _, _ = np.linalg.svd(np.asarray(F[k]), full_matrices=True)
    _, _, Vt = np.linalg.svd(np.asarray(model.full_weight_matrix(arch, out, L)), full_matrices=True)
    i = 0 if bound == "upper" else -1
    Y = np.asarray(F[L]) - float(scale) * np.outer(P[:, i], Vt[i])
    return out, Y


@dataclass(frozen=True)
class SmallGradientSearch:
    """A search for small ``ρ = ‖∇_{U_{k+1}} Φ‖_F / ‖F_L − Y‖_F`` (Theorem 4.4, reverse direction).

    ``ratio_start``/``ratio`` are ``ρ`` at the start and the end; ``loss`` is ``Φ`` at the
    end; ``history`` holds ``ρ`` every ``steps // 10`` steps.
    """

    params: dict = field(repr=False)
    k: int
    steps: int
    ratio_start: float
    ratio: float
    loss: float
    history: tuple = ()

    def to_dict(self) -> dict:
        return {"k": self.k, "steps": self.steps, "ratio_start": self.ratio_start, "ratio": self.ratio,
                "loss": self.loss, "history": list(self.history)}


def _log_ratio(arch, k, p, X, Y):
    U = model.full_weight_matrix(arch, p, k + 1)

    def phi(U):
        R = forward_with_full_matrix(arch, p, X, k + 1, U) - Y
        return 0.5 * jnp.sum(R * R)

    value, g = jax.value_and_grad(phi)(U)
    return 0.5 * (jnp.log(jnp.sum(g * g)) - jnp.log(2.0 * value)), value


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _ratio_search(arch, params, X, Y, k, steps, lr):
    import optax

    opt = optax.adam(lr)
    grad = jax.value_and_grad(lambda p: _log_ratio(arch, k, p, X, Y)[0])

    def body(carry, _):
        p, s = carry
        value, g = grad(p)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), value

    (p, _), trace = jax.lax.scan(body, (params, opt.init(params)), None, length=steps)
    return p, trace, _log_ratio(arch, k, p, X, Y)


def small_gradient_search(arch: Architecture, params, X, Y, k: int, *, steps: int = 200,
                          lr: float = 1e-2) -> SmallGradientSearch:
    """Minimise ``log ρ``, ``ρ = ‖∇_{U_{k+1}} Φ‖ / ‖F_L − Y‖``, by ``steps`` Adam steps from ``params``.

    ``ρ`` is scale-free in the residual, so the search cannot make the gradient small by
    fitting the data (``Φ → 0``): it looks for points where ``∇_{U_{k+1}} Φ`` vanishes while
    ``Φ > 0``. Inside ``S_k`` Lemma 4.3 bounds ``ρ`` below by a positive factor, so
    Theorem 4.4 says small ``ρ`` can only be found near the boundary of ``S_k``.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> from theory_lab.sampling import sample_params
        >>> arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3)); Y = np.eye(2)[[0, 1, 0, 1, 1]]
        >>> s = small_gradient_search(arch, sample_params(arch, 0), X, Y, 1, steps=20)
        >>> s.ratio < s.ratio_start
        True
    """
    check_targets(arch, X, Y)
    _check_k(arch, k)
    if not is_integer(steps) or steps < 1:
        raise ValueError(f"`steps`={steps!r} must be a positive integer number of Adam steps.")
    if not is_real(lr) or not (np.isfinite(lr) and lr > 0):  # lr=True was 1.0, "0.01" failed in numpy's isfinite
        raise ValueError(f"`lr`={lr!r} must be a positive finite learning rate, e.g. 1e-2.")
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats with int32 step counts
        p, trace, (log_rho, value) = _ratio_search(arch, params, jnp.asarray(X), jnp.asarray(Y), int(k), int(steps),
                                                   jnp.asarray(float(lr)))
    trace = np.exp(np.asarray(trace))
    every = max(1, int(steps) // 10)
    return SmallGradientSearch(p, int(k), int(steps), float(trace[0]), float(np.exp(float(log_rho))),
                               float(value), tuple(float(t) for t in trace[::every]))
