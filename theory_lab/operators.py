"""Symmetric operators given only ``v -> A v``: checked, prepared once, applied.

An operator is a hashable ``matvec(v, *params) -> A v`` (a module-level function or a
frozen dataclass such as :class:`theory_lab.derivatives.HessianMatvec`), with arrays in
``params``. :func:`check_operator` refuses a wrong one before any work; :func:`prepare`
does the work at ``params`` once (e.g. a linearisation); :func:`apply_one`,
:func:`products` and :func:`dense` make products. :mod:`theory_lab.krylov` builds its
Lanczos bases on them.

**Drivers.** Inside a jitted loop (``lax.fori_loop``) XLA's CPU backend ran a
linearised Hessian-vector product 5–6× slower than the same product dispatched on its
own (and ~4x slower inside a ``lax.cond``; measured on the digits CNN, see
``benchmarks/RESULTS.md``), so on CPU each product is its own jitted call driven from
Python (:data:`PYTHON_DRIVEN`): with ``driver="host"`` (the CPU default) the Krylov state
lives in numpy and each product is read back at once, the orthogonalisation done by numpy
on the filled rows; with ``driver="python"`` the state stays on the device and a second
program orthogonalises (a breakdown's restart vector is a third, compiled only when one
happens), with one flag read per step. Elsewhere (``driver="loop"``) a block of steps runs
in one jitted loop. The drivers compute the same numbers (to rounding). :data:`DRIVERS`
holds the choice per backend: ``"host"`` on CPU and on GPU (on an H200 the loop driver's steps
took 1.6× as long at P = 5,130), ``"loop"`` elsewhere. Products of many vectors at once
(:func:`products`, dense matrices) go one per call only on CPU (:data:`ONE_AT_A_TIME`). Every
product on CPU (Lanczos steps, :func:`products`, :func:`theory_lab.krylov.apply_many`) goes through one compiled
program per operator.

**Products made on the host.** An operator may also have ``host_prepare(*params)``,
returning a plain Python callable ``v -> A v`` — or ``None`` when its products are best
made inside one program. :class:`derivatives.HessianMatvec <theory_lab.derivatives.HessianMatvec>`
returns one when its data are *looped* (:func:`theory_lab.batching.looped`: a
:class:`~theory_lab.batching.Stream`, or several batches on CPU outside a trace): each
product is then a Python loop over one compiled per-batch program (inside the product's
program, ``lax.scan`` over the batches ran 11–34× slower on CPU). The Python-driven drivers
(:func:`prepare` with ``driver="host"`` or ``"python"``) ask for it first and wrap it as a
:class:`HostProduct`; every product of :func:`theory_lab.krylov.extend`, :func:`products`,
:func:`theory_lab.krylov.apply_many` and :func:`dense` is then that call. The ``loop`` driver and operators
without it are unchanged; a :class:`~theory_lab.batching.Stream` there is a clear error.

**Watching products.** Inside ``with observe_products(callback):`` every product made from the host
(:func:`apply_one`, :func:`apply_batch`, :func:`products`, :func:`dense`, and so every Lanczos step of the
``"host"`` and ``"python"`` drivers) calls ``callback(n)`` once dispatched, ``n`` the products made; nested
observers all see them. Products inside a jitted loop (``driver="loop"``) are not seen one by one.

Example:
    >>> import numpy as np
    >>> from theory_lab import operators
    >>> from theory_lab.spectrum import dense_matvec
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> operators.check_operator(dense_matvec, 2, (A,))
    >>> np.asarray(operators.products(dense_matvec, 2, (A,), np.eye(2))).tolist()
    [[2.0, 1.0], [1.0, 3.0]]
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import batching
from theory_lab.validate import all_finite, is_integer, numeric_array

__all__ = ["DRIVERS", "ONE_AT_A_TIME", "PYTHON_DRIVEN", "driver_for", "one_at_a_time", "bind", "check_operator", "HostProduct", "prepare", "as_function",
           "apply_one", "apply_batch", "products", "dense", "stack_rows", "observe_products"]

_OBSERVER: contextvars.ContextVar = contextvars.ContextVar("theory_lab_product_observer", default=None)


@contextlib.contextmanager
def observe_products(callback: Callable[[int], None]) -> Iterator[None]:
    """Call ``callback(n)`` after each ``n`` products made from the host inside the ``with`` block.

    For progress bars and for counting applications; an observer already active (an outer ``with``) is
    called too. Products inside a jitted loop (``driver="loop"``) are not seen one by one.

    Example:
        >>> import numpy as np
        >>> from theory_lab import operators
        >>> from theory_lab.spectrum import dense_matvec
        >>> made = []
        >>> with operators.observe_products(made.append):
        ...     _ = operators.products(dense_matvec, 2, (np.eye(2),), np.eye(2))
        >>> made
        [1, 1]
    """
    if not callable(callback):
        raise TypeError(f"`callback`={callback!r} is not callable; pass a function of the number of products made, "
                        "e.g. list.append.")
    outer = _OBSERVER.get()

    def both(n: int) -> None:
        callback(n)
        if outer is not None:
            outer(n)

    token = _OBSERVER.set(both)
    try:
        yield
    finally:
        _OBSERVER.reset(token)


def _made(n: int) -> None:
    observer = _OBSERVER.get()
    if observer is not None:
        observer(n)

_UNSET = object()


#: backend -> Lanczos step driver; any other backend: "loop". On an H200 (session 39, digits CNN, P = 5,130) a
#: top-5 run took 49 / 91 / 77 ms with host / python / loop; at P = 150,794 all three were within 6 %.
DRIVERS = {"cpu": "host", "gpu": "host"}

#: backends where :func:`products` and :func:`theory_lab.spectrum.materialize` make one product per call (vmapped
#: batches elsewhere: on the H200 the dense Hessian took 0.034 s in batches of 64 against 5.3 s one at a time)
ONE_AT_A_TIME = ("cpu",)

PYTHON_DRIVEN = ("host", "python")  # drivers making each product in its own call from Python


_DEFAULT_DRIVER = "loop"


def driver_for(backend: str | None = None) -> str:
    """The step driver used on ``backend`` (default: JAX's default backend)."""
    return DRIVERS.get(jax.default_backend() if backend is None else backend, _DEFAULT_DRIVER)


def one_at_a_time(backend: str | None = None) -> bool:
    """Whether products of many vectors are made one per call on ``backend`` (default: JAX's default backend)."""
    return (jax.default_backend() if backend is None else backend) in ONE_AT_A_TIME


def bind(matvec, params) -> Callable:
    """``v -> A v``: ``matvec.prepare(*params)`` when the operator has it, else ``matvec(v, *params)`` (traceable)."""
    prepare = getattr(matvec, "prepare", None)
    if prepare is not None:
        return prepare(*params)
    return lambda v: matvec(v, *params)


@functools.lru_cache(maxsize=64)
def _output_shape(matvec, dim, tree, specs):
    # tracing a Hessian's preparation costs ~0.3 s: once per operator and parameter shapes
    v = jax.ShapeDtypeStruct((dim,), jnp.float64)
    params = jax.tree_util.tree_unflatten(tree, [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in specs])
    return jax.eval_shape(lambda u, *p: bind(matvec, p)(u), v, *params)


def check_operator(matvec, dim, params, name="matvec"):
    """Refuse a matvec that is not callable, not hashable, or does not map float64 ``(dim,)`` to ``(dim,)``.

    An operator with ``check_arguments(dim, *params)`` (e.g. :class:`derivatives.HessianMatvec
    <theory_lab.derivatives.HessianMatvec>`) checks them itself; any other is traced abstractly once per
    operator and parameter shapes, and its output shape read.
    """
    if not callable(matvec):
        raise TypeError(f"`{name}` must be a callable matvec(v, *params) -> A v, got {type(matvec).__name__}.")
    try:
        hash(matvec)
    except TypeError:
        raise TypeError(f"`{name}` must be hashable (it is a static argument of jit); use a module-level function "
                        "or a frozen dataclass such as derivatives.HessianMatvec, and pass arrays as params.") from None
    _check_dim(dim)
    check_arguments = getattr(matvec, "check_arguments", None)
    if check_arguments is not None:  # the operator knows its shapes (HessianMatvec): no abstract trace
        _refuse_lists(matvec, check_arguments, params)
        check_arguments(int(dim), *params)
        return
    # a Stream is checked through its first chunk: every chunk has its shapes
    params = jax.tree_util.tree_map(lambda a: batching.example(a) if isinstance(a, batching.Stream) else a,
                                    params, is_leaf=lambda a: isinstance(a, batching.Stream))
    leaves, tree = jax.tree_util.tree_flatten(params)
    _check_param_values(params, name)
    specs = tuple((np.shape(x), jnp.result_type(x)) for x in leaves)
    try:
        out = _output_shape(matvec, int(dim), tree, specs)
    except (TypeError, ValueError, IndexError) as err:  # jax's dot_general / broadcasting errors from the trace
        shapes = ", ".join(_describe(p) for p in params) or "none"
        raise ValueError(f"`{name}` cannot be applied to a float64 ({dim},) vector with params of shapes "
                         f"({shapes}) ({str(err).splitlines()[0].rstrip('.')}); check that `dim`={dim} is the "
                         "operator's size and that params are the arrays it expects.") from err
    if out.shape != (dim,) or out.dtype != jnp.float64:
        raise ValueError(f"`{name}` maps a float64 ({dim},) vector to {out.dtype}{tuple(out.shape)}; expected "
                         f"float64 ({dim},). Check `dim` and `params`.")


def _check_dim(dim) -> int:
    if not is_integer(dim) or dim < 1:  # True passed as an int and failed in the trace as a (1,) vector
        raise ValueError(f"`dim`={dim!r} must be a positive integer (the operator's size).")
    return int(dim)


def _check_param_values(params, name) -> None:
    """Float params of a custom matvec must be float64 and finite: a float32 ``A`` gave float64 products of a
    float32 matrix and NaN/Inf ones NaN traces (Hutchinson, XTrace) silently or Lanczos' late "non-finite Ritz
    values"."""
    for path, a in jax.tree_util.tree_flatten_with_path(params)[0]:
        if isinstance(a, jax.core.Tracer) or not hasattr(a, "dtype") or not jnp.issubdtype(a.dtype, jnp.inexact):
            continue
        where = f"params{jax.tree_util.keystr(path)}"
        if jnp.dtype(a.dtype) != jnp.float64:
            raise TypeError(f"`{where}` (the arrays after the key, passed to `{name}`) has dtype {a.dtype}; the "
                            f"spectral routines compute in float64. Pass it as numpy.asarray(a, numpy.float64).")
        count = int(np.size(a) - np.count_nonzero(np.isfinite(np.asarray(a))))
        if count:
            raise ValueError(f"`{where}` (passed to `{name}`) contains NaN or Inf ({count} of {np.size(a)} "
                             "entries); the operator's products would not be finite. Pass finite arrays.")


def _describe(param) -> str:
    if isinstance(param, (list, tuple)):
        return f"a {type(param).__name__} (a pytree of its items: pass numpy.asarray(...) for one array)"
    return str(tuple(np.shape(param))) if hasattr(param, "shape") else type(param).__name__


def _refuse_lists(matvec, check_arguments, params):
    """A list or tuple among an operator's array arguments is a pytree of scalars to jit, not an array: refuse it
    by its name in ``check_arguments(dim, ...)`` (a list X gave an AttributeError deep in the checks)."""
    names = list(inspect.signature(check_arguments).parameters)[1:]
    for i, param in enumerate(params):
        if isinstance(param, (list, tuple)):
            name = names[i] if i < len(names) else f"params[{i}]"
            raise TypeError(f"`{name}` is a Python {type(param).__name__}; {type(matvec).__name__} "
                            f"takes arrays. Pass numpy.asarray({name}, dtype=numpy.float64).")


class HostProduct:
    """An operator prepared on the host: ``v -> A v`` a plain Python callable (from ``host_prepare``).

    Not a pytree and never traced: each product is ``fn(v)``, which may run several jitted
    programs (e.g. one per batch of data). Made by :func:`prepare` for the Python-driven drivers
    (:data:`PYTHON_DRIVEN`).
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, v) -> jax.Array:
        return self.fn(v)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _prepare(matvec, dim, params):
    prepare = getattr(matvec, "prepare", None)
    if prepare is None:
        return None  # products bind ``params`` at each step: nothing to precompute
    f = prepare(*params)
    if isinstance(f, jax.tree_util.Partial):
        return f
    # make the prepared operator a pytree that can leave this jit: its linearisation is itself
    return jax.linearize(f, jnp.zeros((dim,), jnp.float64))[1]


def as_function(matvec, linear, params):
    return linear if linear is not None else (lambda v: matvec(v, *params))


def prepare(matvec, dim: int, params: tuple, *, driver: str | None = None):
    """The operator prepared at ``params`` once, for ``driver`` (default per backend); pass it to
    :func:`start` (same driver) or :func:`products` as ``linear`` to share the preparation.

    For a Python-driven driver (``"host"``, ``"python"``), ``matvec.host_prepare(*params)`` first if the
    operator has it and it returns a callable (a :class:`HostProduct`); otherwise ``matvec.prepare`` inside a jit (a
    pytree), or ``None`` for an operator without preparation. Params holding a
    :class:`~theory_lab.batching.Stream` need the host preparation: without it, a clear error.
    """
    params, driver = tuple(params), driver_for() if driver is None else driver
    if driver in PYTHON_DRIVEN:
        host_prepare = getattr(matvec, "host_prepare", None)
        fn = None if host_prepare is None else host_prepare(*params)
        if fn is not None:
            return HostProduct(fn)
    batching.refuse_stream(params, f"driver={driver!r}")
    return _prepare(matvec, int(dim), params)


@functools.partial(jax.jit, static_argnums=(0,))
def _apply_one_jit(matvec, linear, params, v):
    return as_function(matvec, linear, params)(v)


def apply_one(matvec, linear, params, v):
    if isinstance(linear, HostProduct):
        out = linear(v)
    else:
        # a prepared operator needs no params: not passing them spares a host-to-device copy per product
        # when they are numpy arrays (the command line's), and their flattening at every dispatch
        out = _apply_one_jit(matvec, linear, () if linear is not None else params, v)
    _made(1)
    return out


@functools.partial(jax.jit, static_argnums=(0,))
def _apply_batch_jit(matvec, linear, params, V):
    return jax.vmap(as_function(matvec, linear, params))(V)


def apply_batch(matvec, linear, params, V):
    """``A v`` for each row of ``V (n, dim)`` in one vmapped program."""
    out = _apply_batch_jit(matvec, linear, params, V)
    _made(int(V.shape[0]))
    return out


@functools.partial(jax.jit, static_argnums=(0, 1))
def _unit_product(matvec, dim, linear, params, i):
    return as_function(matvec, linear, params)(jax.nn.one_hot(i, dim, dtype=jnp.float64))


def dense(matvec, dim: int, params: tuple, *, linear=_UNSET) -> jax.Array:
    """``(A + Aᵀ)/2`` from the ``dim`` products ``A e_i``, each its own jitted call (the CPU path).

    On XLA's CPU backend a product inside ``lax.map`` (a loop) ran ~4x slower than
    dispatched alone, and a vmapped batch of products slower still per product. Columns
    are copied to the host as they come (the next product is already dispatched).
    """
    dim = _check_dim(dim)
    if linear is _UNSET:
        linear = prepare(matvec, dim, tuple(params), driver="python")
    out = np.empty((dim, dim))
    pending = None
    for i in range(dim + 1):
        if i == dim:
            nxt = None
        elif isinstance(linear, HostProduct):
            nxt = apply_one(matvec, linear, (), _unit(dim, i))
        else:
            nxt = _unit_product(matvec, dim, linear, tuple(params), jnp.int32(i))
            _made(1)
        if pending is not None:
            out[i - 1] = np.asarray(pending)
        pending = nxt
    out += out.T
    out *= 0.5
    return jnp.asarray(out)


def _unit(dim: int, i: int) -> np.ndarray:
    e = np.zeros(dim)
    e[i] = 1.0
    return e


def products(matvec, dim: int, params: tuple, V, *, linear=_UNSET, driver: str | None = None) -> jax.Array:
    """``A v`` for each row of ``V (n, dim)``, prepared once: one product per row with ``driver="host"`` or
    ``"python"`` (jitted, or a :class:`HostProduct`), one vmapped batch with ``"loop"``; by default one per row
    on CPU (:func:`one_at_a_time`), batched elsewhere."""
    row_by_row = one_at_a_time() if driver is None else driver in PYTHON_DRIVEN
    driver, dim = driver_for() if driver is None else driver, _check_dim(dim)
    V = numeric_array(V, "V")
    if V.dtype != np.float64:  # a float32 or bool V was promoted silently
        raise TypeError(f"`V` has dtype {V.dtype}; expected float64 vectors (n, {dim}). Pass "
                        "numpy.asarray(V, numpy.float64).")
    if np.shape(V)[:1] == (0,) or not all_finite(V):  # no rows: numpy's "need at least one array to stack"
        raise ValueError(f"`V` has {'no rows' if np.shape(V)[:1] == (0,) else 'NaN or Inf entries'}; expected a "
                         f"finite (n, {dim}) array with n >= 1, one vector to multiply per row.")
    if len(np.shape(V)) != 2 or np.shape(V)[1] != int(dim):  # a 1-D V died in the matvec ("matmul ... ndim 0")
        raise ValueError(f"`V` has shape {tuple(np.shape(V))}; expected (n, {int(dim)}), one vector of the operator's "
                         f"size dim = {int(dim)} per row. For one vector v pass V = v[None].")
    if linear is _UNSET:
        linear = prepare(matvec, int(dim), tuple(params), driver=driver)
    if row_by_row or isinstance(linear, HostProduct):
        # rows taken on the host: iterating a device array compiles an unstack program per shape
        return stack_rows([apply_one(matvec, linear, tuple(params), v) for v in np.asarray(V)])
    return apply_batch(matvec, linear, tuple(params), V)


def stack_rows(rows) -> jax.Array:
    # stacked on the host and copied once: jnp.stack compiles a program per number of rows
    return jax.device_put(np.stack([np.asarray(r) for r in rows]))
