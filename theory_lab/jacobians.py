"""Output Jacobians ``J = ∂ vec(F_L) / ∂θ (Nm, P)`` of an objective's network, on any data.

Rows are row-major in the outputs (row ``i·m + j`` is sample ``i``, output ``j``), as in
:mod:`theory_lab.derivatives` (which re-exports both functions).

* :func:`sample_jacobian` — reverse mode one sample at a time (vmapped); traceable.
* :func:`jacobian` — forward mode (one JVP per column) or reverse mode, on arrays, a
  :class:`~theory_lab.batching.Batches` (reverse, batch by batch) or a
  :class:`~theory_lab.batching.Stream` (reverse, one jitted program per chunk from Python,
  padding rows dropped).

Example:
    >>> import numpy as np
    >>> from theory_lab import batching, derivatives as D, jacobians
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> obj = D.objective(Architecture((3,), (Dense(2), Output(2))))
    >>> theta, X = np.linspace(-1, 1, obj.P), np.linspace(0, 1, 15).reshape(5, 3)
    >>> J = jacobians.jacobian(obj, theta, X)
    >>> J.shape
    (10, 14)
    >>> stream = batching.Stream([(X[:3], np.zeros((3, 2))), (X[3:], np.zeros((2, 2)))], batch_size=2)
    >>> bool(np.allclose(jacobians.jacobian(obj, theta, stream), J))
    True
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import batching
from theory_lab.batching import DEFAULT_MEMORY, Batches, Stream, map_basis, products_at_once
from theory_lab.objective import Objective, check_data
from theory_lab.validate import numeric_array

__all__ = ["sample_jacobian", "jacobian"]


def check_objective(obj, name: str = "obj") -> None:
    """A TypeError naming ``name`` unless ``obj`` is an :class:`~theory_lab.objective.Objective` (an Architecture or
    None gave an AttributeError such as "no attribute 'check_theta'")."""
    if not isinstance(obj, Objective):
        raise TypeError(f"`{name}` is a {type(obj).__name__}; expected an Objective: derivatives.objective(arch) for "
                        "an Architecture, derivatives.from_model(...) for a Flax model.")


def sample_jacobian(obj: Objective, theta, X, block=None) -> jax.Array:
    """Reverse-mode ``J (Nm, P)`` one sample at a time; traceable (usable inside ``jit``).

    Row block ``i`` depends on sample ``i`` only (no layer mixes samples; batch norm in
    inference mode does not either), so ``m`` reverse passes through one sample each,
    vmapped over samples, replace ``N·m`` reverse passes through the whole batch.
    """
    check_objective(obj)
    theta = obj.check_theta(theta)  # a float32 θ gave a float32 J without a word
    if not isinstance(X, jax.core.Tracer):  # traced inside jit: checked by the caller
        check_data(obj, jnp.asarray(numeric_array(X, "X")))  # a misshapen X failed in dot_general

    def one(x):
        fn, x0 = obj.restrict(lambda t: obj.outputs(t, x[None]).reshape(-1), theta, block)
        return jax.jacrev(fn)(x0)

    J = jax.vmap(one)(X)
    return J.reshape(-1, J.shape[-1])


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5))
def _jacobian_jit(obj, theta, data, mode, batch, block):
    if mode == "forward":
        X = data.X[0]
        fn, x0 = obj.restrict(lambda t: obj.outputs(t, X).reshape(-1), theta, block)
        _, f_jvp = jax.linearize(fn, x0)
        return map_basis(f_jvp, x0.shape[0], batch).T
    J = batching.map_over(lambda X: sample_jacobian(obj, theta, X, block).reshape(X.shape[0], -1,
                                                                                  obj.block_size(block)), data)
    return J.reshape(-1, J.shape[-1])


def jacobian(obj: Objective, theta, X, *, mode: str = "auto", memory: int = DEFAULT_MEMORY,
             batch: int | None = None, block=None) -> jax.Array:
    """Output Jacobian ``J = ∂ vec(F_L) / ∂θ`` of shape ``(Nm, P)`` (``(Nm, P_k)`` with ``block``).

    ``mode="auto"`` uses forward mode (one JVP per column) when ``P ≤ Nm`` and reverse
    mode otherwise (``m`` VJPs per sample, vmapped over samples: :func:`sample_jacobian`);
    forward mode runs ``batch`` products at once (default :func:`~theory_lab.batching.batch_size`
    under ``memory`` bytes). For a Batches, reverse mode batch by batch; for a Stream,
    reverse mode chunk by chunk (``J`` itself, ``Nm × P`` numbers, is held whole).
    """
    check_objective(obj)
    theta = obj.check_theta(theta)
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"`mode`={mode!r} is unknown; expected 'auto', 'forward' or 'reverse'.")
    if isinstance(X, Stream):
        if mode == "forward":
            raise ValueError("`mode`='forward' needs the data in one batch; use mode='reverse' (or 'auto') for a "
                             "Stream.")
        return _streamed_jacobian(obj, theta, X, memory, batch, block)
    if isinstance(X, Batches):
        N, m = check_data(obj, X.X[0])
        data, N = X, X.N
        if mode == "forward" and X.num_batches > 1:
            raise ValueError("`mode`='forward' needs the data in one batch; use mode='reverse' for a Batches.")
    else:
        X = jnp.asarray(numeric_array(X, "X"))  # None and text failed inside jnp.asarray
        N, m = check_data(obj, X)
        data = batching.as_batches(X, jnp.zeros((N,)))
    P = obj.block_size(block)
    if mode == "auto":
        mode = "forward" if P <= N * m and data.num_batches == 1 else "reverse"
    return _jacobian_jit(obj, theta, data, mode, products_at_once(obj, N, memory, batch), block)


def _streamed_jacobian(obj, theta, stream, memory, batch, block):
    """Reverse mode chunk by chunk (one compiled program), padding rows dropped, stacked on the host."""
    parts = []
    for chunk in stream.chunks():
        n, m = check_data(obj, chunk.X[0], chunk.Y[0])
        J = _jacobian_jit(obj, theta, chunk, "reverse", products_at_once(obj, n, memory, batch), block)
        parts.append(np.asarray(J)[np.repeat(np.asarray(chunk.weight[0]) > 0, m)])
    return jnp.asarray(np.concatenate(parts))
