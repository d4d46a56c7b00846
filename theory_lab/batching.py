"""A data set of ``N`` samples in fixed-size batches: stacked, padded, masked.

Every sum over samples in :mod:`theory_lab.derivatives` (loss, gradient, every
matrix-vector product) runs over a :class:`Batches`: ``num_batches`` batches of
``batch_size`` samples, the last one padded with copies of the last real sample and
masked out by a zero weight, so one compiled step serves every batch (no recompile
for a ragged last batch) and no sample is dropped. The batches are visited one at a
time — by a Python loop over one jitted per-batch program on CPU outside a trace
(:func:`looped`), else by ``lax.scan`` — so the network's activations (the memory that
grows with the batch) are held for one batch at a time; the inputs themselves, ``N × d``
numbers, are held whole. Data that do not fit in memory at once come as a
:class:`Stream` instead: a re-iterable source of ``(x, y)`` batches visited from Python,
one batch in memory at a time, every batch padded to one shape and masked (one compiled
per-batch program).

* :func:`batches` ``(X, Y, batch_size)`` — from arrays.
* :func:`from_iterable` ``(pairs, batch_size=None)`` — from any iterable of ``(x, y)``
  batches (a generator, a data loader); re-cut into equal batches.
* :class:`Stream` ``(source, batch_size=None)`` — a re-iterable source (a callable
  returning a fresh iterator, a list of batches; a generator serves one pass), and
  :func:`stream_sum` ``(fn, stream)`` — ``Σ_b fn(batch_b)`` by one jitted call per batch.
* :func:`looped` — whether sums over some data run as that Python loop; :func:`example` —
  one batch with the shapes of every batch; :func:`refuse_stream` — the clear error of a
  routine that needs the data whole.
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
from typing import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab.validate import is_integer, numeric_array

__all__ = ["Batches", "batches", "from_iterable", "Stream", "stream_sum", "looped", "example", "refuse_stream",
           "as_batches", "sum_over", "map_over", "batch_size", "products_at_once", "map_basis", "DEFAULT_MEMORY"]

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

    def chunks(self) -> Iterator["Batches"]:
        """The batches one at a time, each a one-batch :class:`Batches` (``N`` = ``batch_size``;
        the weight masks the padding), for a Python loop over one compiled per-batch program."""
        for b in range(self.num_batches):
            yield Batches(self.X[b:b + 1], self.Y[b:b + 1], self.weight[b:b + 1], self.batch_size)


jax.tree_util.register_dataclass(Batches, data_fields=["X", "Y", "weight"], meta_fields=["N"])


def _positive(value, name: str) -> int:
    if not is_integer(value) or value < 1:
        raise ValueError(f"`{name}`={value!r} must be a positive integer number of samples per batch.")
    return int(value)


def batches(X, Y, batch_size: int) -> Batches:
    """Cut ``X (N, …)``, ``Y (N, …)`` into ``⌈N / batch_size⌉`` batches, the last padded and masked.

    The padding repeats the last sample (a zero input could make a network's output
    NaN, and ``0 · NaN`` is NaN); its weight is 0, so it adds exactly nothing.
    """
    batch_size = _positive(batch_size, "batch_size")
    X, Y = np.asarray(numeric_array(X, "X")), np.asarray(numeric_array(Y, "Y"))  # None read as shape ()
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
    if not isinstance(pairs, Iterable) or isinstance(pairs, (str, bytes, np.ndarray, jax.Array)):
        raise TypeError(f"`pairs` is a {type(pairs).__name__}; expected an iterable of (x, y) batches. For arrays use "
                        "batching.batches(X, Y, batch_size).")
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
    refuse_stream(X, "this routine")
    if isinstance(X, Batches):
        if Y is not None:
            raise ValueError("`Y` must be None when `X` is a Batches (it holds the targets).")
        return X
    if Y is None:
        raise ValueError("`Y` is missing; pass targets (N, …), or data as batching.batches(X, Y, batch_size).")
    X, Y = jnp.asarray(numeric_array(X, "X")), jnp.asarray(numeric_array(Y, "Y"))
    return Batches(X[None], Y[None], jnp.ones((1, X.shape[0]), jnp.float64), int(X.shape[0]))


def _need_batches(data) -> None:
    if not isinstance(data, Batches):  # an array gave "'numpy.ndarray' object has no attribute 'num_batches'"
        raise TypeError(f"`data` is a {type(data).__name__}; expected a batching.Batches (batching.as_batches(X, Y) "
                        "for arrays).")


def sum_over(fn: Callable, data: Batches):
    """``Σ_b fn(X_b, Y_b, weight_b)`` over the batches (a pytree of sums); traceable.

    ``fn`` must weight each sample by ``weight`` so that padding adds nothing. One batch
    is computed directly; several are visited by ``lax.scan`` (one batch's activations
    alive at a time).
    """
    _need_batches(data)
    if data.num_batches == 1:
        return fn(data.X[0], data.Y[0], data.weight[0])
    shapes = jax.eval_shape(fn, data.X[0], data.Y[0], data.weight[0])
    zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def body(acc, batch):
        return jax.tree_util.tree_map(jnp.add, acc, fn(*batch)), None

    return jax.lax.scan(body, zero, (data.X, data.Y, data.weight))[0]


def map_over(fn: Callable, data: Batches) -> jax.Array:
    """``fn(X_b) (batch_size, …)`` for every batch, concatenated to ``(N, …)`` (padding dropped)."""
    _need_batches(data)
    if data.num_batches == 1:
        out = fn(data.X[0])
    else:
        out = jax.lax.map(fn, data.X)
        out = out.reshape((-1,) + out.shape[2:])
    return out[:data.N]


# ----------------------------------------------------------------------------- streamed data


class Stream:
    """A data set streamed from a re-iterable source of ``(x, y)`` batches, one batch in memory at a time.

    ``source`` is a callable returning a fresh iterable of ``(x, y)`` pairs (arrays with a
    leading sample axis), or a re-iterable collection of them (a list of batches). A
    one-shot iterator (a generator object) is accepted for a single pass and refused on
    the second, since it cannot replay the data. Each pair is cut into chunks of
    ``batch_size`` samples (default: the first batch's size) and every chunk is padded to
    ``batch_size`` with copies of its last sample, weight 0 (see :func:`batches`), so one
    compiled program serves every chunk: no recompile, no sample dropped. Every pass must
    yield the same sample shapes and dtypes, and the same number of samples ``N``.

    Attributes:
        batch_size: samples per chunk (``None`` until the first batch is seen if not given).
        N: the number of samples of the last complete pass (``None`` before one).
        num_batches: the chunks of the last complete pass (``None`` before one).

    Example:
        >>> import numpy as np
        >>> from theory_lab import batching
        >>> X, Y = np.arange(10.0).reshape(5, 2), np.ones((5, 1))
        >>> data = batching.Stream(lambda: ((X[i:i + 2], Y[i:i + 2]) for i in range(0, 5, 2)))
        >>> [(b.X.shape, b.weight.tolist()) for b in data.chunks()][-1]
        ((1, 2, 2), [[1.0, 0.0]])
        >>> float(batching.stream_sum(lambda b: (b.weight[0][:, None] * b.X[0]).sum(), data)), data.N
        (45.0, 5)
    """

    def __init__(self, source, batch_size: int | None = None):
        if isinstance(source, (Batches, Stream, np.ndarray, jax.Array, str, bytes)):
            raise TypeError(f"`source` is a {type(source).__name__}; expected a callable returning an iterable of "
                            "(x, y) batches, or a list of (x, y) batches. For arrays use batching.batches(X, Y, "
                            "batch_size).")
        if not callable(source) and not isinstance(source, Iterable):
            raise TypeError(f"`source` is a {type(source).__name__}; expected a callable returning an iterable of "
                            "(x, y) batches, or a re-iterable collection of (x, y) batches.")
        self.source = source
        self.one_shot = not callable(source) and iter(source) is source
        self.batch_size = None if batch_size is None else _positive(batch_size, "batch_size")
        self.N: int | None = None
        self.num_batches: int | None = None
        self._first: Batches | None = None
        self._spec = None
        self._passes = 0

    def _pairs(self) -> Iterator:
        if self.one_shot and self._passes:
            raise ValueError("`source` is a one-shot iterator (e.g. a generator object) and was consumed by an "
                             "earlier pass; loss, gradient and every product each need a pass over the data. Pass "
                             "a callable returning a fresh iterator (Stream(lambda: make_batches())) or a list of "
                             "batches.")
        self._passes += 1
        pairs = self.source() if callable(self.source) else self.source
        try:
            return iter(pairs)
        except TypeError:
            raise TypeError(f"`source` returned a {type(pairs).__name__}; expected an iterable of (x, y) "
                            "batches.") from None

    def _check(self, i: int, pair) -> tuple[np.ndarray, np.ndarray]:
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(f"`source` item {i} is a {type(pair).__name__}; expected an (x, y) pair of "
                             "arrays.") from None
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"`source` item {i}: x has shape {x.shape} and y has shape {y.shape}; expected the "
                             "same number (≥ 1) of samples along the first axis.")
        spec = (x.shape[1:], x.dtype, y.shape[1:], y.dtype)
        if self._spec is None:
            self._spec = spec
        elif spec != self._spec:
            raise ValueError(f"`source` item {i}: samples of shape {spec[0]} ({spec[1]}) with targets {spec[2]} "
                             f"({spec[3]}) differ from the earlier batches' {self._spec[0]} ({self._spec[1]}) "
                             f"with {self._spec[2]} ({self._spec[3]}); every batch must have the same sample "
                             "shapes and dtypes (one compiled program).")
        if self.batch_size is None:
            self.batch_size = int(x.shape[0])
        return x, y

    def chunks(self) -> Iterator[Batches]:
        """One pass: a one-batch :class:`Batches` of ``batch_size`` samples per chunk (``N`` = ``batch_size``;
        the weight masks the padding). Sets :attr:`N` at the end of the pass."""
        n = chunks = 0
        i = -1
        for i, pair in enumerate(self._pairs()):
            x, y = self._check(i, pair)
            for start in range(0, x.shape[0], self.batch_size):
                stop = start + self.batch_size
                n += int(min(self.batch_size, x.shape[0] - start))
                chunk = _pad_to(x[start:stop], y[start:stop], self.batch_size)
                if self._first is None:
                    self._first = chunk
                chunks += 1
                yield chunk
        if i < 0:
            raise ValueError("`source` yielded no batches; pass at least one (x, y) batch.")
        if self.N is not None and n != self.N:
            raise ValueError(f"`source` yielded N = {n} samples in this pass and N = {self.N} in an earlier one; "
                             "every pass must yield the same data.")
        self.N, self.num_batches = n, chunks

    def example(self) -> Batches:
        """The first chunk (one batch, padded to ``batch_size``): the shapes and dtypes of every chunk.

        Kept from the first pass; before any pass the source's first batch is read (a callable source
        is called once more). A one-shot iterator not yet read is refused: reading it would spend
        its one pass.
        """
        if self._first is None:
            if self.one_shot:
                raise ValueError("`source` is a one-shot iterator (e.g. a generator object): it serves one pass, "
                                 "and this routine makes one pass per product. Pass a callable returning a fresh "
                                 "iterator (Stream(lambda: make_batches())) or a list of batches.")
            chunks = self.chunks()
            try:
                next(chunks)
            finally:
                chunks.close()
        return self._first


def _pad_to(x, y, size: int) -> Batches:
    """``x, y`` (at most ``size`` samples) as one batch of ``size``: the last sample repeated, weight 0."""
    n, pad = x.shape[0], size - x.shape[0]
    weight = np.zeros((1, size))
    weight[0, :n] = 1.0
    if pad:
        x, y = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]), np.concatenate([y, np.repeat(y[-1:], pad, axis=0)])
    return Batches(jnp.asarray(x[None]), jnp.asarray(y[None]), jnp.asarray(weight), size)


def stream_sum(fn: Callable, stream: Stream | Batches):
    """``Σ_b fn(chunk_b)`` over one pass of ``stream`` (a pytree), accumulated in a Python loop.

    ``stream`` is a :class:`Stream` or a :class:`Batches` (its batches one at a time). ``fn``
    takes a one-batch :class:`Batches` (call one jitted program in it) and must weight each
    sample by the chunk's weight so that padding adds nothing. The sum is forced after each
    chunk, so at most one chunk's inputs and work are alive at a time.
    """
    if not isinstance(stream, (Stream, Batches)):
        raise TypeError(f"`stream` must be a batching.Stream or Batches, got {type(stream).__name__}.")
    total = None
    for chunk in stream.chunks():
        out = fn(chunk)
        total = out if total is None else jax.tree_util.tree_map(jnp.add, total, out)
        if not any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(total)):
            total = jax.block_until_ready(total)
    return total


def example(data) -> Batches:
    """One batch of ``data`` (a :class:`Stream` or a :class:`Batches`) with the shapes and dtypes of every batch.

    For shape checks (e.g. tracing an operator abstractly); a Stream's is its first chunk
    (:meth:`Stream.example`), a Batches' its first batch.

    Example:
        >>> import numpy as np
        >>> from theory_lab import batching
        >>> X, Y = np.zeros((5, 2)), np.ones((5, 1))
        >>> batching.example(batching.Stream([(X[:3], Y[:3]), (X[3:], Y[3:])])).X.shape
        (1, 3, 2)
    """
    if isinstance(data, Stream):
        return data.example()
    if isinstance(data, Batches):
        return next(data.chunks())
    raise TypeError(f"`data` must be a batching.Stream or Batches, got {type(data).__name__}.")


def refuse_stream(tree, routine: str = "this routine") -> None:
    """Raise a clear ``TypeError`` if ``tree`` (any pytree, e.g. an operator's params) holds a :class:`Stream`.

    For the routines that need the data whole, inside one jitted program (``lax.scan`` over
    batches): a Stream is visited from Python one batch at a time. ``routine`` names the caller.
    """
    if any(isinstance(leaf, Stream) for leaf in jax.tree_util.tree_leaves(tree)):
        raise TypeError(f"the data are a batching.Stream, visited from Python one batch at a time; {routine} runs "
                        "in one jitted program and needs them whole (arrays or batching.batches(X, Y, size)). With "
                        "a Stream use derivatives.loss / gradient / hvp / gauss_newton_vp / residual_vp / hessian / "
                        "jacobian(mode='reverse'), and the spectral routines (spectrum.lanczos, slq_density, trace "
                        "estimates, materialize) on CPU with a Python-driven driver (the default driver='host', or "
                        "driver='python'; batch=None).")


def looped(data, *arrays) -> bool:
    """Whether sums over ``data`` run as a Python loop of one jitted per-batch program.

    Always for a :class:`Stream`. For a :class:`Batches` of several batches on the CPU
    backend when nothing is traced (``data`` and ``arrays`` concrete): XLA's CPU backend ran
    the ResNet preset's per-batch HVP 11–34× slower inside ``lax.scan`` than dispatched on
    its own (``benchmarks/RESULTS.md``, issue 11), with the same memory as the loop.
    Elsewhere, and under a trace, :func:`sum_over` (``lax.scan``).
    """
    if isinstance(data, Stream):
        return True
    if not isinstance(data, Batches) or data.num_batches == 1 or jax.default_backend() != "cpu":
        return False
    return not any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves((data, arrays)))


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
    for arg, value in (("N", N), ("memory", memory), ("factor", factor)):  # unread on CPU, "x" failed elsewhere
        if not is_integer(value) or value < (0 if arg == "memory" else 1):  # memory=0: one product at a time
            need = "a non-negative integer (bytes)" if arg == "memory" else "a positive integer"
            raise ValueError(f"`{arg}`={value!r} must be {need}.")
    backend = jax.default_backend() if backend is None else backend
    if backend == "cpu":
        return 1
    width = sum(obj.arch.widths) if obj.arch is not None else 1024
    per = 8 * (factor * N * width + 4 * obj.P)
    return int(max(1, memory // max(per, 1)))


def products_at_once(obj, N: int, memory: int = DEFAULT_MEMORY, batch: int | None = None) -> int:
    """An explicit ``batch`` (products run at once) checked, or :func:`batch_size`'s choice when ``None``."""
    if batch is None:
        return batch_size(obj, N, memory)
    if not is_integer(batch) or batch < 1:
        raise ValueError(f"`batch`={batch!r} must be a positive integer (products run at once), or None for auto.")
    return int(batch)


def map_basis(fn, size: int, batch: int, dtype=jnp.float64):
    """Stack ``fn(e_i)`` for ``i < size`` (standard basis), ``batch`` at a time, without forming I."""
    for arg, value in (("size", size), ("batch", batch)):  # batch=True ran one at a time, 2.0 failed in lax.map
        if not is_integer(value) or value < 1:
            raise ValueError(f"`{arg}`={value!r} must be a positive integer.")
    def column(i):
        return fn(jax.nn.one_hot(i, size, dtype=dtype))
    return jax.lax.map(column, jnp.arange(size), batch_size=min(batch, size))
