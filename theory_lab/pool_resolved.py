"""Max-pooling resolved at a point: the chain network with each max replaced by θ₀'s choice.

At θ₀ a max-pooling unit passes on the largest entry of its window. Near θ₀, while that
entry stays the largest, the network equals its *pool-resolved* form: the pool is a fixed
selection ``M`` of θ₀'s maxima, and the activation of the layer before the pool is applied
*after* the selection, to the ``n_k`` selected pre-activations only::

    F_k = σ(Σ_w M_w ⊙ G_{k-1, w})        instead of        F_k = max_w σ(G_{k-1, w})

Both have the same value and derivatives of every order at θ₀, so the Hessian products of
:mod:`theory_lab.derivatives` linearise this form: the activation's derivatives and their
residuals are kept for the pooled units only, which makes a product of the digits CNN
about 40 % cheaper on a CPU (``benchmarks/RESULTS.md``).

Ties. Where entries of a window are equal at θ₀ the max is not differentiable; ``M`` then
averages them, JAX's own convention for ``jnp.max``. Values and gradients then equal the plain
network's; Hessian products equal them (to rounding) when the tied entries also have equal
gradients, as for identical input patches (the blank windows of the digits). A tie of entries
with different gradients is a kink where neither form's second derivative is the Hessian: the
resolved form gives ``σ''·(Σ_w M_w ∇G_w)(Σ_w M_w ∇G_w)ᵀ``, JAX's ``Σ_w M_w σ''·∇G_w ∇G_wᵀ``.

A pool is resolved when it reads no padding and the layer before it is a weight layer whose
activation is strictly increasing (so the largest entry before and after the activation is
the same one, ties included); other pools are kept as they are (:func:`resolvable`).

Example:
    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from theory_lab import model, pool_resolved
    >>> from theory_lab.arch import Architecture, Conv, MaxPool, Output
    >>> arch = Architecture((6, 6, 1), (Conv(2, (3, 3)), MaxPool((2, 2)), Output(3)))
    >>> params = model.init(arch, jax.random.key(0))
    >>> X = jax.random.normal(jax.random.key(1), (4, 6, 6, 1))
    >>> pool_resolved.resolvable(arch)
    (2,)
    >>> M = pool_resolved.selection(arch, params, X)       # θ₀'s maxima, per resolved pool
    >>> F = pool_resolved.outputs(arch, params, X, M)
    >>> bool(np.allclose(F, model.apply(arch, params, X), rtol=1e-14, atol=0))
    True
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import activations, model
from theory_lab.arch import Architecture, LayerInfo

__all__ = ["resolvable", "selection", "outputs"]


def resolvable(arch: Architecture) -> tuple[int, ...]:
    """Indices ``k`` of the max-pooling layers that :func:`outputs` resolves (see the module docstring)."""
    infos = arch.info
    out = []
    for prev, info in zip(infos, infos[1:]):
        if info.kind != "maxpool" or not prev.has_weights or prev.kind == "output":
            continue
        if prev.activation is None or not activations.get(prev.activation).strictly_increasing:
            continue
        if np.any(info.patches < 0):
            continue
        out.append(info.k)
    return tuple(out)


def _tile_slices(info: LayerInfo) -> tuple | None:
    """For a pool whose windows tile its input: the window entries as reshape slices, in ``patches`` order."""
    spec = info.spec
    spatial = info.in_shape[:-1]
    if not (hasattr(spec, "window") and spec.stride == spec.window
            and all(n % w == 0 for n, w in zip(spatial, spec.window))):
        return None
    shape = tuple(d for n, w in zip(spatial, spec.window) for d in (n // w, w)) + (info.in_shape[-1],)
    grid = np.arange(int(np.prod(info.in_shape))).reshape(shape)
    slices = []
    for offset in np.ndindex(*spec.window):
        sl = (slice(None),) + tuple(x for o in offset for x in (slice(None), o)) + (slice(None),)
        slices.append(sl)
    order = np.stack([grid[sl[1:]].reshape(-1) for sl in slices], axis=1)
    return (shape, tuple(slices)) if np.array_equal(order, info.patches) else None


def _entries(info: LayerInfo, G) -> list:
    """The window entries of ``G (N, n_{k-1})`` for every pooled unit: ``window`` arrays ``(N, n_k)``."""
    N = G.shape[0]
    tiles = _tile_slices(info)
    if tiles is not None:
        shape, slices = tiles
        Gt = G.reshape((N,) + shape)
        return [Gt[sl].reshape(N, -1) for sl in slices]
    return [G[:, info.patches[:, w]] for w in range(info.patches.shape[1])]


def _weights(info: LayerInfo, F) -> tuple:
    """``M``: per window entry, 1 at the window's largest entry of ``F_{k-1}``, averaged over ties
    (as ``jnp.max``); ``window`` arrays ``(N, n_k)``."""
    Fw = _entries(info, F)
    top = functools.reduce(jnp.maximum, Fw)
    hit = [(e == top).astype(F.dtype) for e in Fw]
    count = sum(hit[1:], hit[0])
    return tuple(h / count for h in hit)


def _select(info: LayerInfo, G, M):
    Gw = _entries(info, G)
    return sum((m * g for m, g in zip(M[1:], Gw[1:])), M[0] * Gw[0])


def _shared_filter(prev: LayerInfo, info: LayerInfo) -> np.ndarray | None:
    """The filter ``t_j`` of each pooled unit ``j`` when every entry of its window is a unit of filter ``t_j``."""
    if prev.kind not in ("conv", "patch"):
        return None
    t = info.patches % prev.T  # units of a conv layer are (patch p, filter t), t fastest
    return t[:, 0] if np.all(t == t[:, :1]) else None


def _patches_fit(prev: LayerInfo, info: LayerInfo) -> bool:
    """Whether the selected input patches (``l_0 · n_k`` per sample) are at most 4 conv outputs
    (``n_1``) in size: the plain linearisation keeps about that many arrays of the conv's size, so
    large kernels (``l_0 ≫ window``) evaluate the conv at every position instead (less memory)."""
    return prev.l * info.n <= 4 * prev.n


def _input_patches(arch: Architecture, k: int, X, M):
    """For a pool ``k`` right after a first conv layer: ``Σ_w M_w ⊙`` (the input patch of window entry ``w``),
    ``(l_0, N, n_k)``: the selected pre-activations are then ``G_sel = Σ_l X_sel[l] W[l, t_j] + b``."""
    prev, info = arch.layer(k - 1), arch.layer(k)
    F0 = X.reshape(X.shape[0], -1)
    N, T = F0.shape[0], prev.T
    Fp = jnp.concatenate([F0, jnp.zeros((N, 1), F0.dtype)], axis=1)
    P = np.where(prev.patches < 0, F0.shape[1], prev.patches)  # (P, l), -1 reads a constant 0
    pos = info.patches // T  # (n_k, window): the patch of each window entry
    if info.n % T == 0 and np.all(pos.reshape(-1, T, pos.shape[1]) == pos[::T][:, None]):
        # channel-wise windows (MaxPool): gather each window's patches once, not once per filter
        terms = (M[w].reshape(N, -1, T)[..., None] * Fp[:, P[pos[::T, w]]][:, :, None] for w in range(len(M)))
    else:
        terms = (M[w][..., None] * Fp[:, P[pos[:, w]]] for w in range(len(M)))
    return jnp.moveaxis(functools.reduce(jnp.add, terms).reshape(N, info.n, -1), 2, 0)


def selection(arch: Architecture, params, X) -> dict:
    """``{k: (M_k, X_k)}`` for every resolved pool ``k``, taken at θ₀ = ``params`` (constants: no gradient).

    ``M_k`` holds θ₀'s maxima: per window entry ``w`` an ``(N, n_k)`` weight (1 where entry ``w``
    is the largest, ``1/c`` on a tie of ``c``, else 0). ``X_k`` is ``None``, or, for a pool right
    after a first conv layer (its input ``X`` does not depend on θ), the selected input patches
    ``(l_0, N, n_k)``: the conv is then evaluated at the ``n_k`` selected units only.
    Traceable; ``X (N, *input_shape)`` or ``(N, d)``.
    """
    keep = resolvable(arch)
    if not keep:
        return {}
    F = jax.lax.stop_gradient(model.CNN(arch).apply({"params": params}, X).F)
    out = {}
    for k in keep:
        prev, info = arch.layer(k - 1), arch.layer(k)
        M = _weights(info, F[k - 1])
        first = k == 2 and _shared_filter(prev, info) is not None and _patches_fit(prev, info)
        out[k] = (M, jax.lax.stop_gradient(_input_patches(arch, k, X, M)) if first else None)
    return out


def _selected_first(prev: LayerInfo, info: LayerInfo, p, M, Xk):
    t = _shared_filter(prev, info)
    Wt = p["W"][:, t]  # (l, n_k)
    G = functools.reduce(jnp.add, (Xk[i] * Wt[i] for i in range(Xk.shape[0])))  # unrolled: XLA's CPU
    # backend vectorises these elementwise terms; a sum over a short last axis ran ~3x slower
    b = p.get("b")
    if b is None:
        return G
    if b.shape[0] != prev.n:
        return G + b[t]
    return G + sum(m * b[info.patches[:, w]] for w, m in enumerate(M))


def outputs(arch: Architecture, params, X, M: dict) -> jax.Array:
    """``F_L (N, m)`` of the pool-resolved network with selections ``M`` (from :func:`selection`).

    Equal to :func:`theory_lab.model.apply` at the point where ``M`` was taken, with the same
    derivatives there; traceable and differentiable in ``params``.
    """
    infos = arch.info
    F = X.reshape(X.shape[0], -1)
    G = act = None
    for i, info in enumerate(infos):
        if info.kind == "maxpool":
            if info.k not in M:
                F = model.maxpool(info, F)
            elif M[info.k][1] is not None:
                prev = infos[i - 1]
                F = act(_selected_first(prev, info, params[f"layer_{prev.k}"], *M[info.k]))
            else:
                F = act(_select(info, G, M[info.k][0]))
            continue
        nxt = infos[i + 1] if i + 1 < len(infos) else None
        act = None if info.kind == "output" else activations.get(info.activation)
        if nxt is not None and nxt.k in M and M[nxt.k][1] is not None:
            continue  # evaluated at the selected units by the pool
        p = params[f"layer_{info.k}"]
        G = model.preactivation(info, F, p["W"], p.get("b"))
        if info.kind == "output":
            F = G
            continue
        F = None if nxt is not None and nxt.k in M else act(G)
    return F
