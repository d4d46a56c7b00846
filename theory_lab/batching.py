"""A data set of ``N`` samples in fixed-size batches: stacked, padded, masked.

Every sum over samples in :mod:`theory_lab.derivatives` (loss, gradient, every
matrix-vector product) runs over a :class:`Batches`: ``num_batches`` batches of
``batch_size`` samples, the last one padded with copies of the last real sample and
masked out by a zero weight, so one compiled step serves every batch (no recompile
for a ragged last batch) and no sample is dropped. The batches are visited by
``lax.scan``, so the network's activations (the memory that grows with the batch)
are held for one batch at a time; only the inputs themselves, ``N × d`` numbers,
are held whole.

* :func:`batches` ``(X, Y, batch_size)`` — from arrays.
* :func:`from_iterable` ``(pairs, batch_size=None)`` — from any iterable of ``(x, y)``
  batches (a generator, a data loader); re-cut into equal batches.
* :func:`as_batches` ``(X, Y)`` — a :class:`Batches` passes through; arrays become one
  unpadded batch (the unbatched computation).
* :func:`sum_over`, :func:`map_over` — ``Σ_b fn(batch_b)`` and the per-sample results
  concatenated without the padding (traceable).
* :func:`batch_size`, :func:`map_basis` — the other batching: how many operator products
  to run at once (vmapped), and columns ``A e_i`` stacked that many at a time.

Example:
    >>> import numpy as np
    >>> from theory_lab import batching
    >>> data = batching.batches(np.arange(10.0).reshape(5, 2), np.ones((5, 1)), 2)
    >>> data.X.shape, data.weight.tolist(), data.N
    ((3, 2, 2), [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]], 5)
    >>> float(batching.sum_over(lambda x, y, w: (w[:, None] * x).sum(), data))
    45.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Batches", "batches", "from_iterable", "as_batches", "sum_over", "map_over", "batch_size", "map_basis",
           "DEFAULT_MEMORY"]

DEFAULT_MEMORY = 1 << 29  # bytes for products run at once (512 MiB)


@dataclass(frozen=True)
class Batches:
    """``num_batches`` batches of ``batch_size`` samples (a pytree; ``N`` is static).

    Attributes:
        X: inputs ``(num_batches, batch_size, *input_shape)``.
        Y: targets ``(num_batches, batch_size, *target_shape)``.
        weight: ``(num_batches, batch_size)`` float64, 1 for a real sample, 0 for padding.
        N: the number of real samples.
    """

    X: jax.Array
    Y: jax.Array
    weight: jax.Array
    N: int

    @property
    def num_batches(self) -> int:
        return int(self.X.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.X.shape[1])


jax.tree_util.register_dataclass(Batches, data_fields=["X", "Y", "weight"], meta_fields=["N"])


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}`={value!r} must be a positive integer number of samples per batch.")
    return int(value)


def batches(X, Y, batch_size: int) -> Batches:
    """Cut ``X (N, …)``, ``Y (N, …)`` into ``⌈N / batch_size⌉`` batches, the last padded and masked.

    The padding repeats the last sample (a zero input could make a network's output
    NaN, and ``0 · NaN`` is NaN); its weight is 0, so it adds exactly nothing.
    """
    batch_size = _positive(batch_size, "batch_size")
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim < 1 or Y.ndim < 1 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"`X` has shape {X.shape} and `Y` has shape {Y.shape}; expected the same number of samples "
                         "N along the first axis.")
    N = int(X.shape[0])
    if N == 0:
        raise ValueError("`X` has no samples; pass at least one.")
    B = min(batch_size, N)
    nb = math.ceil(N / B)
    pad = nb * B - N

    def cut(A):
        A = np.concatenate([A, np.repeat(A[-1:], pad, axis=0)]) if pad else A
        return jnp.asarray(A.reshape((nb, B) + A.shape[1:]))

    weight = np.ones(nb * B)
    weight[N:] = 0.0
    return Batches(cut(X), cut(Y), jnp.asarray(weight.reshape(nb, B)), N)


def from_iterable(pairs: Iterable, batch_size: int | None = None) -> Batches:
    """A :class:`Batches` from any iterable of ``(x, y)`` batches (arrays with a leading sample axis).

    The batches are concatenated in order and re-cut into ``batch_size`` samples each
    (default: the size of the first batch), the last padded and masked.
    """
    xs, ys = [], []
    for i, pair in enumerate(pairs):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"`pairs` item {i} is a {type(pair).__name__}; expected an (x, y) pair of arrays.") from None
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"`pairs` item {i}: x has shape {x.shape} and y has shape {y.shape}; expected the "
                             "same number of samples along the first axis.")
        if xs and (x.shape[1:] != xs[0].shape[1:] or y.shape[1:] != ys[0].shape[1:]):
            raise ValueError(f"`pairs` item {i}: sample shapes {x.shape[1:]}, {y.shape[1:]} differ from the first "
                             f"batch's {xs[0].shape[1:]}, {ys[0].shape[1:]}.")
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("`pairs` yielded no batches; pass an iterable of (x, y) arrays.")
    size = xs[0].shape[0] if batch_size is None else batch_size
    return batches(np.concatenate(xs), np.concatenate(ys), size)


def as_batches(X, Y=None) -> Batches:
    """``X`` if it is a :class:`Batches` (then ``Y`` must be None); else ``(X, Y)`` as one batch."""
    if isinstance(X, Batches):
        if Y is not None:
            raise ValueError("`Y` must be None when `X` is a Batches (it holds the targets).")
        return X
    if Y is None:
        raise ValueError("`Y` is missing; pass targets (N, …), or data as batching.batches(X, Y, batch_size).")
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    return Batches(X[None], Y[None], jnp.ones((1, X.shape[0]), jnp.float64), int(X.shape[0]))


def sum_over(fn: Callable, data: Batches):
    """``Σ_b fn(X_b, Y_b, weight_b)`` over the batches (a pytree of sums); traceable.

    ``fn`` must weight each sample by ``weight`` so that padding adds nothing. One batch
    is computed directly; several are visited by ``lax.scan`` (one batch's activations
    alive at a time).
    """
    if data.num_batches == 1:
        return fn(data.X[0], data.Y[0], data.weight[0])
    shapes = jax.eval_shape(fn, data.X[0], data.Y[0], data.weight[0])
    zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def body(acc, batch):
        return jax.tree_util.tree_map(jnp.add, acc, fn(*batch)), None

    return jax.lax.scan(body, zero, (data.X, data.Y, data.weight))[0]


def map_over(fn: Callable, data: Batches) -> jax.Array:
    """``fn(X_b) (batch_size, …)`` for every batch, concatenated to ``(N, …)`` (padding dropped)."""
    if data.num_batches == 1:
        out = fn(data.X[0])
    else:
        out = jax.lax.map(fn, data.X)
        out = out.reshape((-1,) + out.shape[2:])
    return out[:data.N]


# ----------------------------------------------------------------------------- products at once


def batch_size(obj, N: int, memory: int = DEFAULT_MEMORY, *, factor: int = 6,
               backend: str | None = None) -> int:
    """How many products (HVP / JVP / VJP) to run at once (vmapped) when stacking many.

    On CPU the answer is 1: XLA's CPU kernels run a vmapped batch of products slower
    per product than one at a time (measured 1.6× slower on the digits CNN, the batch
    no longer fits in cache). Elsewhere it is as many as fit in ``memory`` bytes: one
    product keeps about ``factor`` float64 copies of every layer's features ``(N, n_k)``
    (for a model other than a chain network, 1024 activations per sample are assumed)
    plus a few ``(P,)`` vectors; the answer is at least 1.
    """
    backend = jax.default_backend() if backend is None else backend
    if backend == "cpu":
        return 1
    width = sum(obj.arch.widths) if obj.arch is not None else 1024
    per = 8 * (factor * N * width + 4 * obj.P)
    return int(max(1, memory // max(per, 1)))


def map_basis(fn, size: int, batch: int, dtype=jnp.float64):
    """Stack ``fn(e_i)`` for ``i < size`` (standard basis), ``batch`` at a time, without forming I."""
    def column(i):
        return fn(jax.nn.one_hot(i, size, dtype=dtype))
    return jax.lax.map(column, jnp.arange(size), batch_size=min(batch, size))
