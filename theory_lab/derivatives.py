"""Derivatives of the loss Φ on a flat float64 parameter vector θ ∈ R^P.

The paper's loss (THEORY.md §1, eq. 7) is ``Φ(θ) = ½ ‖F_L(θ) − Y‖_F²``
(``reduction="sum"``, the default). ``reduction="mean"`` divides by the number of
samples ``N`` (``Φ = ½ Σ_i ‖f(x_i) − y_i‖² / N``); it is never chosen silently.
Write ``c`` for that scale (1 or 1/N), ``r = vec(F_L − Y) ∈ R^{Nm}`` for the
residuals (row-major: entry ``i·m + j`` is sample ``i``, output ``j``) and
``J = ∂r/∂θ ∈ R^{Nm×P}`` for the output Jacobian. Then

* ``∇Φ = c Jᵀ r``,
* ``∇²Φ = c JᵀJ + c Σ_a r_a ∇²r_a`` (Gauss–Newton term + residual term),

so at a zero-loss point ``∇²Φ = c JᵀJ``.

Public API (``obj`` is an :class:`Objective`; every function is jitted with
``obj`` static and ``θ, X, Y, v`` as arguments, never closed over):

* :func:`flatten` ``(params)`` — ``(θ, unravel)``, θ float64 ``(P,)``
* :func:`layout` ``(arch)`` — :class:`Layout`: where each leaf/layer sits in θ
* :func:`objective` ``(arch, …)`` — :class:`Objective` (arch, layout, reduction)
* :func:`loss` — ``Φ`` (scalar)
* :func:`outputs`, :func:`residuals` — ``F_L (N, m)``, ``r (Nm,)``
* :func:`gradient`, :func:`value_and_gradient` — ``∇Φ (P,)``
* :func:`jacobian` — ``J (Nm, P)``; forward mode when ``P ≤ Nm``
* :func:`hvp` — ``∇²Φ v`` by forward-over-reverse; ``v`` ``(P,)`` or ``(B, P)``
* :func:`linearize_hvp` — the linearised HVP at θ, reusable: ``lin(v) = ∇²Φ v``
* :func:`hessian` — dense ``∇²Φ (P, P)`` from stacked HVPs (``batch`` at a time)
* :func:`gauss_newton_vp`, :func:`gauss_newton` — ``c JᵀJ v`` (matrix-free), ``c JᵀJ`` (dense)
* :func:`residual_vp`, :func:`residual_hessian` — ``(∇²Φ − c JᵀJ) v``, dense residual term
* :class:`HessianMatvec` — a hashable ``(v, θ, X, Y) -> Av`` for :mod:`theory_lab.spectrum`
* :func:`batch_size` — products per batch: 1 on CPU, memory-bound elsewhere

Every derivative (gradient, Jacobian, HVPs, dense matrices, :class:`HessianMatvec`)
also takes ``block=k`` (a layer index with weights): then ``θ``'s other entries are
held fixed and everything is restricted to layer ``k``'s parameters
``θ_k = θ[layout.block(k)]``: ``v`` and the results have ``P_k`` entries (``J_k`` is
``(Nm, P_k)``, ``H_kk`` is ``(P_k, P_k)``).

Flat order: layers by ``k`` ascending, within a layer ``W`` (row-major
``(l_{k-1}, T_k)``) then ``b``; so each layer is one contiguous block.

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import derivatives as D, model
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> arch = Architecture((4, 4, 1), (Conv(2, (3, 3), bias="filter"), Output(2)))
    >>> theta, unravel = D.flatten(model.init(arch, jax.random.key(0)))
    >>> obj = D.objective(arch)
    >>> X = np.linspace(0, 1, 3 * 16).reshape(3, 4, 4, 1); Y = np.eye(2)[[0, 1, 0]]
    >>> theta.shape, D.jacobian(obj, theta, X).shape
    ((38,), (6, 38))
    >>> H = D.hessian(obj, theta, X, Y)
    >>> bool(np.allclose(H @ np.ones(38), D.hvp(obj, theta, X, Y, np.ones(38))))
    True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import model
from theory_lab.arch import Architecture

__all__ = ["Leaf", "Layout", "Objective", "HessianMatvec", "layout", "flatten", "objective", "loss", "outputs",
           "residuals", "gradient", "value_and_gradient", "jacobian", "hvp", "linearize_hvp", "hessian",
           "gauss_newton_vp", "gauss_newton", "residual_vp", "residual_hessian", "batch_size",
           "DEFAULT_MEMORY"]

DEFAULT_MEMORY = 1 << 29  # bytes for batched products (512 MiB)
REDUCTIONS = ("sum", "mean")


# ----------------------------------------------------------------------------- layout


class Leaf(NamedTuple):
    """One parameter array: layer ``k``, name ``"W"``/``"b"``, shape, offset in θ."""

    k: int
    name: str
    shape: tuple[int, ...]
    start: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Layout:
    """Where every parameter array sits in the flat vector θ (hashable, so jit-static).

    Attributes:
        leaves: the :class:`Leaf` entries in flat order.
    """

    leaves: tuple[Leaf, ...]

    @property
    def P(self) -> int:
        """Number of parameters."""
        return self.leaves[-1].stop if self.leaves else 0

    @property
    def layers(self) -> tuple[int, ...]:
        """Layer indices ``k`` that have parameters, ascending."""
        return tuple(sorted({leaf.k for leaf in self.leaves}))

    def block(self, k: int) -> slice:
        """The slice of θ holding layer ``k``'s parameters (``W_k`` then ``b_k``)."""
        mine = [leaf for leaf in self.leaves if leaf.k == k]
        if not mine:
            raise ValueError(f"`block`={k!r} is not a layer with parameters; expected one of {self.layers}.")
        return slice(mine[0].start, mine[-1].stop)

    def blocks(self) -> tuple[tuple[int, slice], ...]:
        """``((k, slice), …)`` for every layer with parameters."""
        return tuple((k, self.block(k)) for k in self.layers)

    def unravel(self, theta) -> dict:
        """θ ``(P,)`` → ``{"layer_k": {"W": …, "b": …}}`` (works on tracers)."""
        out: dict = {}
        for leaf in self.leaves:
            out.setdefault(f"layer_{leaf.k}", {})[leaf.name] = theta[leaf.start:leaf.stop].reshape(leaf.shape)
        return out

    def ravel(self, params) -> jax.Array:
        """``params`` → θ ``(P,)`` float64, checking every shape against the layout."""
        parts = []
        for leaf in self.leaves:
            try:
                a = params[f"layer_{leaf.k}"][leaf.name]
            except (KeyError, TypeError):
                raise ValueError(f"`params` has no entry layer_{leaf.k}/{leaf.name}; expected the pytree of "
                                 "model.init for this architecture.") from None
            if tuple(a.shape) != leaf.shape:
                raise ValueError(f"`params` layer_{leaf.k}/{leaf.name} has shape {tuple(a.shape)}; expected "
                                 f"{leaf.shape}. Were the parameters made for another architecture?")
            parts.append(jnp.ravel(a))
        theta = jnp.concatenate(parts) if parts else jnp.zeros(0)
        _check_dtype(theta, "params")
        return theta


def _check_dtype(a, name: str):
    if jnp.dtype(a.dtype) != jnp.float64:
        raise TypeError(f"`{name}` has dtype {a.dtype}; derivatives are computed in float64. "
                        f"Cast it with {name}.astype(numpy.float64) (and enable jax_enable_x64).")


def layout(arch: Architecture) -> Layout:
    """The flat layout of ``model.init(arch, key)``'s parameters (no arrays are built)."""
    leaves, start = [], 0
    for info in arch.info:
        if not info.has_weights:
            continue
        shapes = [("W", (info.l, info.T))]
        bias = getattr(info.spec, "bias", "neuron")
        if info.kind in ("conv", "patch") and bias == "filter":
            shapes.append(("b", (info.T,)))
        elif bias != "none":
            shapes.append(("b", (info.n,)))
        for name, shape in shapes:
            leaves.append(Leaf(info.k, name, shape, start))
            start += int(np.prod(shape))
    return Layout(tuple(leaves))


_LAYER = re.compile(r"^layer_(\d+)$")


def flatten(params) -> tuple[jax.Array, Callable[[jax.Array], dict]]:
    """Flatten a parameter pytree into θ ``(P,)`` float64 and return the inverse map.

    Args:
        params: ``{"layer_k": {"W": ..., "b": ...}}`` as made by :func:`theory_lab.model.init`.

    Returns:
        ``(theta, unravel)`` with ``unravel(theta) == params`` (exactly, as arrays).
    """
    if not isinstance(params, dict) or not params:
        raise ValueError(f"`params` must be a non-empty dict {{'layer_k': {{'W', 'b'}}}}, got {type(params).__name__}.")
    leaves, start = [], 0
    for name in sorted(params, key=lambda s: int(_LAYER.match(s).group(1)) if _LAYER.match(s) else -1):
        m = _LAYER.match(name)
        if m is None:
            raise ValueError(f"`params` key {name!r} is not of the form 'layer_k'; pass model.init's pytree.")
        for leaf_name in sorted(params[name]):
            shape = tuple(int(s) for s in np.shape(params[name][leaf_name]))
            leaves.append(Leaf(int(m.group(1)), leaf_name, shape, start))
            start += int(np.prod(shape))
    lay = Layout(tuple(leaves))
    return lay.ravel(params), lay.unravel


# ----------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class Objective:
    """The loss Φ of a network: architecture, flat layout and reduction (hashable, jit-static).

    Build it with :func:`objective`. ``scale(N)`` is ``c`` (1 for ``"sum"``, ``1/N`` for ``"mean"``).
    """

    arch: Architecture
    layout: Layout
    reduction: str = "sum"

    @property
    def P(self) -> int:
        return self.layout.P

    def scale(self, N: int) -> float:
        return 1.0 if self.reduction == "sum" else 1.0 / N


def objective(arch: Architecture, *, reduction: str = "sum") -> Objective:
    """The loss ``Φ = ½‖F_L − Y‖²`` (``"sum"``) or its per-sample mean (``"mean"``) for ``arch``."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"`arch` must be a theory_lab.arch.Architecture, got {type(arch).__name__}.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction`={reduction!r} is unknown; expected 'sum' (the paper's Φ = ½‖F_L − Y‖²) "
                         "or 'mean' (divided by N).")
    return Objective(arch, layout(arch), reduction)


def _check(obj: Objective, theta, X=None, Y=None, v=None, block=None):
    """Validate arguments outside jit (shapes and dtypes only, so tracers pass)."""
    if not isinstance(obj, Objective):
        raise TypeError(f"`obj` must be an Objective (derivatives.objective(arch)), got {type(obj).__name__}.")
    _check_dtype(theta, "theta")
    if tuple(theta.shape) != (obj.P,):
        raise ValueError(f"`theta` has shape {tuple(theta.shape)}; expected ({obj.P},) for this architecture. "
                         "Use derivatives.flatten(params)[0].")
    if X is not None:
        model.check_inputs(obj.arch, X)
    if Y is not None:
        _check_dtype(Y, "Y")
        m = obj.arch.widths[-1]
        if tuple(Y.shape) != (X.shape[0], m):
            raise ValueError(f"`Y` has shape {tuple(Y.shape)}; expected (N, m) = ({X.shape[0]}, {m}).")
    size = obj.P
    if block is not None:
        size = obj.layout.block(block).stop - obj.layout.block(block).start
    if v is not None:
        _check_dtype(v, "v")
        if v.ndim not in (1, 2) or v.shape[-1] != size:
            where = f"layer {block}'s P_k = {size}" if block is not None else f"P = {size}"
            raise ValueError(f"`v` has shape {tuple(v.shape)}; expected ({size},) or (B, {size}) for {where}.")


def _asarray(*arrays):
    return tuple(None if a is None else jnp.asarray(a) for a in arrays)


def _restrict(obj: Objective, fn, theta, block):
    """``fn`` of θ → the same function of θ_k with the other entries of θ held at their values."""
    if block is None:
        return fn, theta
    sl = obj.layout.block(block)

    def restricted(theta_k):
        return fn(theta.at[sl].set(theta_k))

    return restricted, theta[sl]


def _outputs(obj: Objective, theta, X):
    params = obj.layout.unravel(theta)
    return model.CNN(obj.arch).apply({"params": params}, X).F[-1]


def _loss(obj, theta, X, Y):
    R = _outputs(obj, theta, X) - Y
    return 0.5 * obj.scale(X.shape[0]) * jnp.sum(R * R)


def _grad_fn(obj, X, Y, theta, block):
    fn, x0 = _restrict(obj, lambda t: _loss(obj, t, X, Y), theta, block)
    return jax.grad(fn), x0


@functools.partial(jax.jit, static_argnums=0)
def _loss_jit(obj, theta, X, Y):
    return _loss(obj, theta, X, Y)


def loss(obj: Objective, theta, X, Y) -> jax.Array:
    """``Φ(θ) = ½ c ‖F_L − Y‖²`` (scalar). ``X (N, *input_shape)``, ``Y (N, m)``."""
    theta, X, Y = _asarray(theta, X, Y)
    _check(obj, theta, X, Y)
    return _loss_jit(obj, theta, X, Y)


@functools.partial(jax.jit, static_argnums=0)
def _outputs_jit(obj, theta, X):
    return _outputs(obj, theta, X)


def outputs(obj: Objective, theta, X) -> jax.Array:
    """``F_L (N, m)`` at θ."""
    theta, X = _asarray(theta, X)
    _check(obj, theta, X)
    return _outputs_jit(obj, theta, X)


def residuals(obj: Objective, theta, X, Y) -> jax.Array:
    """``r = vec(F_L − Y) (Nm,)``, row-major (entry ``i·m + j``)."""
    return (outputs(obj, theta, X) - jnp.asarray(Y)).reshape(-1)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _value_and_grad_jit(obj, theta, X, Y, block):
    fn, x0 = _restrict(obj, lambda t: _loss(obj, t, X, Y), theta, block)
    return jax.value_and_grad(fn)(x0)


def value_and_gradient(obj: Objective, theta, X, Y, *, block: int | None = None):
    """``(Φ, ∇Φ)``; ``∇Φ`` is ``(P,)`` (or ``(P_k,)`` with ``block=k``)."""
    theta, X, Y = _asarray(theta, X, Y)
    _check(obj, theta, X, Y, block=block)
    return _value_and_grad_jit(obj, theta, X, Y, block)


def gradient(obj: Objective, theta, X, Y, *, block: int | None = None) -> jax.Array:
    """``∇Φ = c Jᵀ r`` of shape ``(P,)`` (or ``(P_k,)`` with ``block=k``)."""
    return value_and_gradient(obj, theta, X, Y, block=block)[1]


# ----------------------------------------------------------------------------- batching


def batch_size(obj: Objective, N: int, memory: int = DEFAULT_MEMORY, *, factor: int = 6,
               backend: str | None = None) -> int:
    """How many products (HVP / JVP / VJP) to run at once (vmapped) when stacking many.

    On CPU the answer is 1: XLA's CPU kernels run a vmapped batch of products slower
    per product than one at a time (measured 1.6× slower on the digits CNN, the batch
    no longer fits in cache). Elsewhere it is as many as fit in ``memory`` bytes: one
    product keeps about ``factor`` float64 copies of every layer's features ``(N, n_k)``
    plus a few ``(P,)`` vectors; the answer is at least 1.
    """
    backend = jax.default_backend() if backend is None else backend
    if backend == "cpu":
        return 1
    per = 8 * (factor * N * sum(obj.arch.widths) + 4 * obj.P)
    return int(max(1, memory // max(per, 1)))


def _batch(obj, N, memory, batch):
    if batch is None:
        return batch_size(obj, N, memory)
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"`batch`={batch!r} must be a positive integer (products run at once), or None for auto.")
    return int(batch)


def _map_basis(fn, size: int, batch: int, dtype=jnp.float64):
    """Stack ``fn(e_i)`` for ``i < size`` (standard basis), ``batch`` at a time, without forming I."""
    def column(i):
        return fn(jax.nn.one_hot(i, size, dtype=dtype))
    return jax.lax.map(column, jnp.arange(size), batch_size=min(batch, size))


# ----------------------------------------------------------------------------- Jacobian


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5))
def _jacobian_jit(obj, theta, X, mode, batch, block):
    fn, x0 = _restrict(obj, lambda t: _outputs(obj, t, X).reshape(-1), theta, block)
    if mode == "forward":
        _, f_jvp = jax.linearize(fn, x0)
        return _map_basis(f_jvp, x0.shape[0], batch).T
    return sample_jacobian(obj, theta, X, block)


def sample_jacobian(obj: Objective, theta, X, block: int | None = None) -> jax.Array:
    """Reverse-mode ``J (Nm, P)`` one sample at a time; traceable (usable inside ``jit``).

    Row block ``i`` depends on sample ``i`` only (no layer mixes samples), so ``m``
    reverse passes through one sample each, vmapped over samples, replace ``N·m``
    reverse passes through the whole batch: ``N`` times less work.
    """
    def one(x):
        fn, x0 = _restrict(obj, lambda t: _outputs(obj, t, x[None]).reshape(-1), theta, block)
        return jax.jacrev(fn)(x0)

    J = jax.vmap(one)(X)
    return J.reshape(-1, J.shape[-1])


def jacobian(obj: Objective, theta, X, *, mode: str = "auto", memory: int = DEFAULT_MEMORY,
             batch: int | None = None, block: int | None = None) -> jax.Array:
    """Output Jacobian ``J = ∂ vec(F_L) / ∂θ`` of shape ``(Nm, P)`` (``(Nm, P_k)`` with ``block=k``).

    ``mode="auto"`` uses forward mode (one JVP per column) when ``P ≤ Nm`` and reverse
    mode otherwise (``m`` VJPs per sample, vmapped over samples: :func:`sample_jacobian`);
    forward mode runs ``batch`` products at once (default :func:`batch_size` under
    ``memory`` bytes).
    """
    theta, X = _asarray(theta, X)
    _check(obj, theta, X, block=block)
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"`mode`={mode!r} is unknown; expected 'auto', 'forward' or 'reverse'.")
    P = obj.P if block is None else obj.layout.block(block).stop - obj.layout.block(block).start
    Nm = X.shape[0] * obj.arch.widths[-1]
    if mode == "auto":
        mode = "forward" if P <= Nm else "reverse"
    return _jacobian_jit(obj, theta, X, mode, _batch(obj, X.shape[0], memory, batch), block)


# ----------------------------------------------------------------------------- Hessian products


def _hvp_core(obj, theta, X, Y, v, block):
    g, x0 = _grad_fn(obj, X, Y, theta, block)
    one = lambda u: jax.jvp(g, (x0,), (u,))[1]  # noqa: E731  forward-over-reverse
    return jax.vmap(one)(v) if v.ndim == 2 else one(v)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _hvp_jit(obj, theta, X, Y, v, block):
    return _hvp_core(obj, theta, X, Y, v, block)


def hvp(obj: Objective, theta, X, Y, v, *, block: int | None = None) -> jax.Array:
    """Hessian-vector product ``∇²Φ v`` by forward-over-reverse (one JVP of the gradient).

    ``v`` is ``(P,)`` or a batch ``(B, P)`` (then ``(B, P)`` out). With ``block=k``:
    ``H_kk v_k`` with ``v_k`` of length ``P_k``.
    """
    theta, X, Y, v = _asarray(theta, X, Y, v)
    _check(obj, theta, X, Y, v, block)
    return _hvp_jit(obj, theta, X, Y, v, block)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _linearize_jit(obj, theta, X, Y, block):
    g, x0 = _grad_fn(obj, X, Y, theta, block)
    return jax.linearize(g, x0)[1]


@jax.jit
def _apply_linear(lin, v):
    return jax.vmap(lin)(v) if v.ndim == 2 else lin(v)


def linearize_hvp(obj: Objective, theta, X, Y, *, block: int | None = None) -> Callable[[jax.Array], jax.Array]:
    """Linearise the gradient at θ once; return ``v -> ∇²Φ v`` (``v`` ``(P,)`` or ``(B, P)``).

    The forward and backward passes at θ run once; each product then costs only
    the tangent sweep (compiled once per architecture and shape). Inside your own
    ``jax.jit``, the same is ``jax.linearize(jax.grad(...), θ)``; see
    :meth:`HessianMatvec.prepare`.
    """
    theta, X, Y = _asarray(theta, X, Y)
    _check(obj, theta, X, Y, block=block)
    lin = _linearize_jit(obj, theta, X, Y, block)
    return functools.partial(_apply_linear, lin)


def _gn_core(obj, theta, X, v, block):
    fn, x0 = _restrict(obj, lambda t: _outputs(obj, t, X).reshape(-1), theta, block)
    _, f_jvp = jax.linearize(fn, x0)
    f_vjp = jax.linear_transpose(f_jvp, x0)
    c = obj.scale(X.shape[0])
    one = lambda u: c * f_vjp(f_jvp(u))[0]  # noqa: E731
    return jax.vmap(one)(v) if v.ndim == 2 else one(v)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _gn_jit(obj, theta, X, v, block):
    return _gn_core(obj, theta, X, v, block)


def gauss_newton_vp(obj: Objective, theta, X, v, *, block: int | None = None) -> jax.Array:
    """Gauss–Newton product ``c Jᵀ(J v)`` without forming ``J``; ``v`` ``(P,)`` or ``(B, P)``."""
    theta, X, v = _asarray(theta, X, v)
    _check(obj, theta, X, v=v, block=block)
    return _gn_jit(obj, theta, X, v, block)


def _residual_core(obj, theta, X, Y, v, block):
    # ∇²_θ (c r̄ᵀ f(θ)) with r̄ = r(θ) frozen: exactly c Σ_a r_a ∇²f_a, zero when r = 0.
    rbar = jax.lax.stop_gradient(_outputs(obj, theta, X) - Y)
    c = obj.scale(X.shape[0])
    fn, x0 = _restrict(obj, lambda t: c * jnp.sum(rbar * _outputs(obj, t, X)), theta, block)
    g = jax.grad(fn)
    one = lambda u: jax.jvp(g, (x0,), (u,))[1]  # noqa: E731
    return jax.vmap(one)(v) if v.ndim == 2 else one(v)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _residual_jit(obj, theta, X, Y, v, block):
    return _residual_core(obj, theta, X, Y, v, block)


def residual_vp(obj: Objective, theta, X, Y, v, *, block: int | None = None) -> jax.Array:
    """Residual term ``(∇²Φ − c JᵀJ) v = c Σ_a r_a ∇²r_a v``, computed directly (no cancellation)."""
    theta, X, Y, v = _asarray(theta, X, Y, v)
    _check(obj, theta, X, Y, v, block)
    return _residual_jit(obj, theta, X, Y, v, block)


# ----------------------------------------------------------------------------- dense matrices

_KINDS = ("hessian", "gauss_newton", "residual")


def _prepared(obj, kind, theta, X, Y, block):
    """``v -> A v`` for one of the three operators, with the work at θ done once (inside jit)."""
    if kind == "hessian":
        g, x0 = _grad_fn(obj, X, Y, theta, block)
        return jax.linearize(g, x0)[1]
    if kind == "gauss_newton":
        fn, x0 = _restrict(obj, lambda t: _outputs(obj, t, X).reshape(-1), theta, block)
        _, f_jvp = jax.linearize(fn, x0)
        f_vjp = jax.linear_transpose(f_jvp, x0)
        c = obj.scale(X.shape[0])
        return lambda u: c * f_vjp(f_jvp(u))[0]
    rbar = jax.lax.stop_gradient(_outputs(obj, theta, X) - Y)
    c = obj.scale(X.shape[0])
    fn, x0 = _restrict(obj, lambda t: c * jnp.sum(rbar * _outputs(obj, t, X)), theta, block)
    return jax.linearize(jax.grad(fn), x0)[1]


@functools.partial(jax.jit, static_argnums=(0, 1, 5, 6))
def _dense_jit(obj, kind, theta, X, Y, batch, block):
    apply = _prepared(obj, kind, theta, X, Y, block)
    size = theta.shape[0] if block is None else obj.layout.block(block).stop - obj.layout.block(block).start
    A = _map_basis(apply, size, batch)
    return 0.5 * (A + A.T)


def _dense(obj, kind, theta, X, Y, memory, batch, block):
    theta, X, Y = _asarray(theta, X, Y)
    _check(obj, theta, X, Y, block=block)
    return _dense_jit(obj, kind, theta, X, Y, _batch(obj, X.shape[0], memory, batch), block)


def hessian(obj: Objective, theta, X, Y, *, memory: int = DEFAULT_MEMORY, batch: int | None = None,
            block: int | None = None) -> jax.Array:
    """Dense Hessian ``∇²Φ (P, P)`` (``H_kk`` with ``block=k``) from batched HVPs.

    The gradient is linearised once; columns ``H e_i`` are computed ``batch`` at a time
    (default :func:`batch_size`: 1 on CPU, as many as fit in ``memory`` bytes elsewhere).
    The result is symmetrised, ``(A + Aᵀ)/2`` (the two halves agree to rounding).
    """
    return _dense(obj, "hessian", theta, X, Y, memory, batch, block)


def gauss_newton(obj: Objective, theta, X, *, memory: int = DEFAULT_MEMORY, batch: int | None = None,
                 block: int | None = None) -> jax.Array:
    """Dense Gauss–Newton matrix ``c JᵀJ (P, P)`` (``c J_kᵀJ_k`` with ``block=k``)."""
    X = jnp.asarray(X)
    Y = jnp.zeros((X.shape[0], obj.arch.widths[-1]))
    return _dense(obj, "gauss_newton", theta, X, Y, memory, batch, block)


def residual_hessian(obj: Objective, theta, X, Y, *, memory: int = DEFAULT_MEMORY, batch: int | None = None,
                     block: int | None = None) -> jax.Array:
    """Dense residual term ``∇²Φ − c JᵀJ = c Σ_a r_a ∇²r_a (P, P)``."""
    return _dense(obj, "residual", theta, X, Y, memory, batch, block)


# ----------------------------------------------------------------------------- operators for spectra


@dataclass(frozen=True)
class HessianMatvec:
    """A hashable symmetric operator ``(v, θ, X, Y) -> A v`` for :mod:`theory_lab.spectrum`.

    ``kind`` is ``"hessian"`` (``∇²Φ``), ``"gauss_newton"`` (``c JᵀJ``) or ``"residual"``
    (their difference); ``block=k`` restricts to layer ``k`` (then ``θ`` is still the
    full vector and ``v`` has ``P_k`` entries). Because it is hashable, jitted spectral
    routines take it as a static argument and ``(θ, X, Y)`` as arguments.
    :meth:`prepare` does the work at θ once (linearisation) and returns ``v -> A v``.

    Example:
        >>> import jax, numpy as np
        >>> from theory_lab import derivatives as D
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> obj = D.objective(Architecture((3,), (Dense(2), Output(1))))
        >>> A = D.HessianMatvec(obj)
        >>> A.dim(), A(np.ones(11), np.zeros(11), np.ones((4, 3)), np.ones((4, 1))).shape
        (11, (11,))
    """

    obj: Objective
    kind: str = "hessian"
    block: int | None = None

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"`kind`={self.kind!r} is unknown; expected one of {_KINDS}.")
        if self.block is not None:
            self.obj.layout.block(self.block)

    def dim(self) -> int:
        """Size of the operator: ``P`` or ``P_k``."""
        if self.block is None:
            return self.obj.P
        sl = self.obj.layout.block(self.block)
        return sl.stop - sl.start

    def prepare(self, theta, X, Y) -> Callable:
        """``v -> A v`` with the forward/backward pass at θ done once (call inside jit)."""
        return _prepared(self.obj, self.kind, theta, X, Y, self.block)

    def __call__(self, v, theta, X, Y):
        if self.kind == "hessian":
            return _hvp_core(self.obj, theta, X, Y, v, self.block)
        if self.kind == "gauss_newton":
            return _gn_core(self.obj, theta, X, v, self.block)
        return _residual_core(self.obj, theta, X, Y, v, self.block)
