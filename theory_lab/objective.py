"""The objective ``Φ(θ) = Σ_i c ℓ(f(x_i; θ), y_i)`` of any network on a flat float64 θ.

One type, :class:`Objective`, holds a *network* ``f(params, X) -> outputs (N, m)``, the
:mod:`~theory_lab.layout` of its trainable parameters, a per-sample *loss* ``ℓ`` and the
reduction (``c = 1`` for ``"sum"``, ``1/N`` for ``"mean"``). It is hashable, so every
product in :mod:`theory_lab.derivatives` takes it as a static argument of ``jax.jit``.
Build it from

* a :class:`~theory_lab.arch.Architecture` (theory-lab's chain CNNs, the paper's setting);
* a Flax ``linen`` module and its ``variables``: ``variables["params"]`` are trained;
  every other collection (``batch_stats``, …) is **held fixed** at the given values
  (float32 leaves, Flax's default for batch statistics, are cast to float64 exactly)
  (the Hessian is that of the network in inference mode; pass ``train=False``-style
  keywords through ``apply_kwargs``);
* a Flax ``nnx`` module: its ``nnx.Param`` variables are trained, all other state
  (``BatchStat``, …) is held fixed as it is (call ``module.eval()`` first for inference mode);
* a plain function ``apply(params, X)`` and a params pytree.

Fixed state is closed over (a constant of the compiled program): keep it small (batch
statistics are per-channel vectors). The loss is one of

* ``"squared"`` — ``ℓ = ½‖f − y‖²``, the paper's ``Φ`` (THEORY.md eq. 7); ``y (N, m)``;
* ``"softmax-cross-entropy"`` — ``ℓ = logsumexp(f) − f_y``; ``y`` integer labels ``(N,)``
  or one-hot / probability rows ``(N, m)`` (``ℓ = s·logsumexp(f) − y·f``, ``s = Σ_c y_c``);
  ``∇²_f ℓ = s (diag p − ppᵀ)`` with ``p = softmax f``;
* a callable ``loss(outputs (N, m), targets) -> per-sample losses (N,)``.

Example:
    >>> import numpy as np, jax.numpy as jnp
    >>> from theory_lab import objective as O
    >>> apply = lambda p, X: jnp.tanh(X @ p["w1"]) @ p["w2"]
    >>> params = {"w1": np.ones((3, 4)) / 3, "w2": np.ones((4, 2))}
    >>> obj, theta = O.from_model(apply, params, loss="softmax-cross-entropy")
    >>> obj.P, obj.loss.name, theta.shape
    (20, 'softmax-cross-entropy', (20,))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import batching, model, pool_resolved
from theory_lab.arch import Architecture
from theory_lab.layout import Layout, TreeLayout, layout, require_float64, tree_layout
from theory_lab.validate import numeric_array

__all__ = ["Objective", "Loss", "LOSSES", "REDUCTIONS", "objective", "from_model", "ArchNetwork",
           "LinenNetwork", "NnxNetwork", "FunctionNetwork", "check_data", "check_finite_data", "as_data",
           "streamed"]

REDUCTIONS = ("sum", "mean")
LOSSES = ("squared", "softmax-cross-entropy")


# ----------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class Loss:
    """A per-sample loss ``ℓ(f_i, y_i)``: ``"squared"``, ``"softmax-cross-entropy"`` or a callable."""

    name: str
    fn: Callable | None = None

    def __call__(self, F, Y) -> jax.Array:
        """Per-sample losses ``(N,)`` from outputs ``F (N, m)`` and targets ``Y``."""
        if self.name == "squared":
            R = F - Y
            return 0.5 * jnp.sum(R * R, axis=-1)
        if self.name == "softmax-cross-entropy":
            logz = jax.nn.logsumexp(F, axis=-1)
            if jnp.issubdtype(Y.dtype, jnp.integer):
                return logz - jnp.take_along_axis(F, Y[:, None].astype(jnp.int32), axis=-1)[:, 0]
            return jnp.sum(Y, axis=-1) * logz - jnp.sum(Y * F, axis=-1)
        return self.fn(F, Y)

    def check(self, out: tuple[int, ...], Y, name: str = "Y"):
        """Check targets ``Y`` against outputs of shape ``out = (N, m)`` (and the callable's shape)."""
        N, m = out
        shape, dtype = tuple(np.shape(Y)), np.dtype(Y.dtype)
        if self.name == "squared":
            if shape != (N, m):
                raise ValueError(f"`{name}` has shape {shape}; expected (N, m) = ({N}, {m}), the outputs' shape, "
                                 "for the squared loss.")
            require_float64(Y, name)
        elif self.name == "softmax-cross-entropy":
            if np.issubdtype(dtype, np.integer):
                if shape != (N,):
                    raise ValueError(f"`{name}` has shape {shape}; integer labels for softmax-cross-entropy are "
                                     f"(N,) = ({N},).")
                if not isinstance(Y, jax.core.Tracer) and np.size(Y) and not (0 <= np.min(Y) and np.max(Y) < m):
                    raise ValueError(f"`{name}` has labels in [{np.min(Y)}, {np.max(Y)}]; expected 0 … {m - 1} "
                                     f"for m = {m} outputs.")
            elif shape != (N, m) or dtype != np.float64:
                raise ValueError(f"`{name}` has shape {shape} and dtype {dtype}; softmax-cross-entropy needs integer "
                                 f"labels (N,) = ({N},) or float64 one-hot rows (N, m) = ({N}, {m}).")
        else:
            got = jax.eval_shape(self.fn, jax.ShapeDtypeStruct((N, m), jnp.float64),
                                 jax.ShapeDtypeStruct(shape, dtype))
            if tuple(got.shape) != (N,):
                raise ValueError(f"`loss` returned shape {tuple(got.shape)} for {N} samples; expected per-sample "
                                 f"losses ({N},). Reduce over the output axis only (e.g. jnp.sum(..., axis=-1)), "
                                 "never over samples: the reduction is the objective's `reduction`.")


def _loss(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"`loss`={loss!r} is unknown; expected one of {LOSSES} or a callable "
                             "loss(outputs, targets) -> per-sample losses (N,).")
        return Loss(loss)
    if callable(loss):
        return Loss(getattr(loss, "__name__", "custom"), loss)
    raise TypeError(f"`loss` must be a name in {LOSSES} or a callable, got {type(loss).__name__}.")


# ----------------------------------------------------------------------------- networks


@dataclass(frozen=True)
class ArchNetwork:
    """``F_L (N, m)`` of a chain network; params ``{"layer_k": {"W", "b"}}``."""

    arch: Architecture

    def __call__(self, params, X):
        return model.CNN(self.arch).apply({"params": params}, X).F[-1]

    def near(self, params, X) -> Callable:
        """``(params, X) -> F_L`` equal to this network near ``params`` with the same derivatives there:
        max-pooling resolved at ``params`` (:mod:`theory_lab.pool_resolved`), or the network itself."""
        M = pool_resolved.selection(self.arch, params, X)
        if not M:
            return self
        return lambda p, X: pool_resolved.outputs(self.arch, p, X, M)


@dataclass(frozen=True, eq=False)
class LinenNetwork:
    """A Flax linen module; ``fixed`` (non-trainable collections) held at their values."""

    module: Any
    fixed: Any
    kwargs: tuple = ()

    def __call__(self, params, X):
        return self.module.apply({"params": params, **self.fixed}, X, **dict(self.kwargs))


@dataclass(frozen=True, eq=False)
class NnxNetwork:
    """A Flax nnx module split into ``graphdef``, trained ``nnx.Param`` state and fixed ``rest``."""

    graphdef: Any
    rest: Any

    def __call__(self, params, X):
        from flax import nnx

        return nnx.merge(self.graphdef, params, self.rest)(X)


@dataclass(frozen=True)
class FunctionNetwork:
    """A plain ``apply(params, X) -> outputs (N, m)``."""

    apply: Callable

    def __call__(self, params, X):
        return self.apply(params, X)


# ----------------------------------------------------------------------------- the objective


@dataclass(frozen=True)
class Objective:
    """``Φ(θ) = c Σ_i ℓ(f(x_i; θ), y_i)``: network, flat layout, per-sample loss, reduction (jit-static).

    ``scale(N)`` is ``c`` (1 for ``"sum"``, ``1/N`` for ``"mean"``). Build it with
    :func:`objective` or :func:`from_model`.
    """

    network: Callable
    layout: Layout | TreeLayout
    reduction: str = "sum"
    loss: Loss = Loss("squared")

    @property
    def P(self) -> int:
        return self.layout.P

    @property
    def arch(self) -> Architecture | None:
        """The :class:`~theory_lab.arch.Architecture` for a chain network, else None."""
        return getattr(self.network, "arch", None)

    def scale(self, N: int) -> float:
        return 1.0 if self.reduction == "sum" else 1.0 / N

    def outputs(self, theta, X) -> jax.Array:
        """``f(X; θ) (N, m)`` (traceable)."""
        return self.network(self.layout.unravel(theta), X)

    def outputs_near(self, theta, X) -> Callable:
        """``t -> f(X; t)``, equal to :meth:`outputs` near θ with the same derivatives at θ (traceable).

        For a chain network, max-pooling resolved at θ (:mod:`theory_lab.pool_resolved`): the
        Hessian products at θ then linearise a smaller program. Other networks: :meth:`outputs`.
        """
        near = getattr(self.network, "near", None)
        if near is None:
            return lambda t: self.outputs(t, X)
        net = near(self.layout.unravel(theta), X)
        return lambda t: net(self.layout.unravel(t), X)

    def restrict(self, fn: Callable, theta, block):
        """``(fn restricted to the block, θ_k)``: ``t_k -> fn(θ with its block set to t_k)`` (identity if None)."""
        if block is None:
            return fn, theta
        sl = self.layout.block(block)
        theta = jnp.asarray(theta)  # a numpy θ has no .at (sample_jacobian takes θ unchecked: it is traceable)
        return (lambda theta_k: fn(theta.at[sl].set(theta_k))), theta[sl]

    def check_theta(self, theta) -> jax.Array:
        """θ as a float64 ``(P,)`` array, or a clear error."""
        theta = jnp.asarray(numeric_array(theta, "theta", "; a parameter pytree flattens with "
                                                           "derivatives.flatten(params)[0]"))
        require_float64(theta, "theta")
        if tuple(theta.shape) != (self.P,):
            raise ValueError(f"`theta` has shape {tuple(theta.shape)}; expected ({self.P},) for this model. "
                             "Use derivatives.flatten(params)[0] (or the θ of from_model).")
        if not isinstance(theta, jax.core.Tracer):
            bad = np.flatnonzero(~np.isfinite(np.asarray(theta)))
            if bad.size:  # a NaN θ gave NaN products, or numpy's "must not contain infs or NaNs" after compiling
                raise ValueError(f"`theta`: θ[{bad[0]}] is {float(theta[bad[0]])}; {bad.size} of {self.P} parameters "
                                 "are NaN or Inf. Parameters must be finite: pass the point before the run diverged.")
        return theta

    def residual_targets(self, Y, out: tuple | None = None) -> jax.Array:
        """``Y`` for the squared loss's residuals ``F − Y`` (checked against ``out = (N, m)`` if given), or a clear
        error: for another loss, a missing ``Y``, or a shape that would only broadcast ((N, 1) or (m,))."""
        if self.loss.name != "squared" or self.loss.fn is not None:
            raise ValueError(f"`obj` has the {self.loss.name!r} loss; residuals F_L − Y are the squared loss's. Use "
                             "derivatives.outputs(obj, theta, X) for the outputs.")
        if Y is None:
            raise ValueError("`Y` is missing; pass the targets (N, m) of the samples of `X`.")
        Y = jnp.asarray(numeric_array(Y, "Y"))  # text gave jax's "not a valid JAX array type"
        if out is not None:
            self.loss.check(out, Y)
        return Y

    def check_vector(self, v, block) -> jax.Array:
        """``v`` as float64 ``(P_k,)`` or ``(B, P_k)`` for the block, or a clear error."""
        if v is None:
            raise ValueError("`v` is missing; pass the vector (P,) or vectors (B, P) to multiply.")
        v = jnp.asarray(numeric_array(v, "v"))  # text gave jax's "not a valid JAX array type"
        size = self.block_size(block)
        require_float64(v, "v")
        if v.ndim not in (1, 2) or v.shape[-1] != size:
            where = f"block {block!r}'s P_k = {size}" if block is not None else f"P = {size}"
            raise ValueError(f"`v` has shape {tuple(v.shape)}; expected ({size},) or (B, {size}) for {where}.")
        if not isinstance(v, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(v))):  # a NaN v gave a NaN product
            raise ValueError(f"`v` contains NaN or Inf ({int(jnp.sum(~jnp.isfinite(v)))} entries); the product of a "
                             "non-finite vector is not finite. Multiply finite vectors.")
        return v

    def block_size(self, block) -> int:
        """``P`` (``block=None``) or the size ``P_k`` of a block."""
        if block is None:
            return self.P
        sl = self.layout.block(block)
        return sl.stop - sl.start


def _reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction`={reduction!r} is unknown; expected 'sum' (the paper's Φ = ½‖F_L − Y‖²) "
                         "or 'mean' (divided by N).")
    return reduction


def from_model(network, params=None, *, loss="squared", reduction: str = "sum",
               apply_kwargs: dict | None = None) -> tuple[Objective, jax.Array]:
    """The :class:`Objective` of any supported network and the flat point θ ``(P,)`` of ``params``.

    Args:
        network: an :class:`~theory_lab.arch.Architecture` (``params`` from
            :func:`theory_lab.model.init`), a Flax ``linen`` module (``params`` = its
            ``variables``), a Flax ``nnx`` module (``params`` ignored: read from the module),
            or a callable ``apply(params, X) -> (N, m)``.
        params: the parameter point (see above); float64 leaves.
        loss: ``"squared"``, ``"softmax-cross-entropy"`` or ``loss(outputs, targets) -> (N,)``.
        reduction: ``"sum"`` or ``"mean"``.
        apply_kwargs: keywords for a linen module's ``apply`` (e.g. ``{"train": False}``).

    Returns:
        ``(obj, theta)``.
    """
    reduction, lossfn = _reduction(reduction), _loss(loss)
    if isinstance(network, Architecture):
        lay = layout(network)
        return Objective(ArchNetwork(network), lay, reduction, lossfn), lay.ravel(params)
    if _is_nnx(network):
        from flax import nnx

        graphdef, trained, rest = nnx.split(network, nnx.Param, ...)
        rest = _float64(rest)
        lay = tree_layout(trained)
        return Objective(NnxNetwork(graphdef, rest), lay, reduction, lossfn), lay.ravel(trained)
    if _is_linen(network):
        if not isinstance(params, dict) or "params" not in params:
            raise ValueError(f"`params` for a linen module must be its variables {{'params': …, …}}, got "
                             f"{type(params).__name__}{'' if not isinstance(params, dict) else sorted(params)}.")
        fixed = _float64({name: value for name, value in params.items() if name != "params"})
        lay = tree_layout(params["params"])
        net = LinenNetwork(network, fixed, tuple(sorted((apply_kwargs or {}).items())))
        return Objective(net, lay, reduction, lossfn), lay.ravel(params["params"])
    if callable(network):
        if params is None:
            raise ValueError("`params` is missing: a plain apply(params, X) needs its parameter pytree.")
        lay = tree_layout(params)
        return Objective(FunctionNetwork(network), lay, reduction, lossfn), lay.ravel(params)
    raise TypeError(f"`network` must be an Architecture, a Flax linen or nnx module, or a callable "
                    f"apply(params, X); got {type(network).__name__}.")


def objective(network, params=None, *, loss="squared", reduction: str = "sum",
              apply_kwargs: dict | None = None) -> Objective:
    """The :class:`Objective` alone (see :func:`from_model`; ``params`` not needed for an Architecture)."""
    if isinstance(network, Architecture):
        return Objective(ArchNetwork(network), layout(network), _reduction(reduction), _loss(loss))
    if network is None or isinstance(network, (str, int, float)):
        raise TypeError(f"`arch` must be a theory_lab.arch.Architecture (or a model), got {type(network).__name__}.")
    return from_model(network, params, loss=loss, reduction=reduction, apply_kwargs=apply_kwargs)[0]


def _float64(state):
    """Fixed state with float32 leaves (Flax keeps batch statistics in float32) cast to float64, exactly."""
    def cast(a):
        dtype = getattr(a, "dtype", None)
        return jnp.asarray(a, jnp.float64) if dtype is not None and jnp.dtype(dtype) == jnp.float32 else a
    return jax.tree_util.tree_map(cast, state)


def _is_nnx(network) -> bool:
    try:
        from flax import nnx
    except ImportError:  # pragma: no cover - flax is a base dependency
        return False
    return isinstance(network, nnx.Module)


def _is_linen(network) -> bool:
    import flax.linen as nn

    return isinstance(network, nn.Module)


# ----------------------------------------------------------------------------- argument checks


@functools.lru_cache(maxsize=64)
def _output_shape(obj: Objective, x: jax.ShapeDtypeStruct):
    return jax.eval_shape(lambda t, X: obj.outputs(t, X), jax.ShapeDtypeStruct((obj.P,), jnp.float64), x)


def check_data(obj: Objective, X, Y=None, name: str = "X") -> tuple[int, int]:
    """Validate one batch of inputs (and targets) against the network; return the output shape ``(N, m)``.

    Shapes and dtypes only (tracers pass); the network is traced abstractly once per shape.
    """
    if not isinstance(obj, Objective):  # None gave "'NoneType' object has no attribute 'arch'"
        raise TypeError(f"`obj` must be an Objective (derivatives.objective(arch)), got {type(obj).__name__}.")
    X, Y = numeric_array(X, name), (None if Y is None else numeric_array(Y, "Y"))  # lists: no .shape / .dtype
    if obj.arch is not None:
        model.check_inputs(obj.arch, X, name)
    elif not isinstance(X, jax.core.Tracer) and np.issubdtype(np.dtype(X.dtype), np.floating):
        require_float64(X, name)
    try:
        out = _output_shape(obj, jax.ShapeDtypeStruct(tuple(X.shape), X.dtype))
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` of shape {tuple(X.shape)} does not fit the network: {err}") from None
    N = int(X.shape[0])
    if len(out.shape) != 2 or out.shape[0] != N:
        raise ValueError(f"the network maps `{name}` {tuple(X.shape)} to outputs {tuple(out.shape)}; expected "
                         f"(N, m) with N = {N}. Flatten the outputs per sample in apply (reshape(N, -1)).")
    if out.dtype != jnp.float64:
        raise TypeError(f"the network's outputs are {out.dtype}; expected float64. Build the model with "
                        "param_dtype=jnp.float64 and dtype=jnp.float64 (Flax defaults to float32).")
    if Y is not None:
        obj.loss.check((N, int(out.shape[1])), Y)
    check_finite_data(X, Y, name)
    return N, int(out.shape[1])


def check_finite_data(X, Y=None, name: str = "X") -> None:
    """Refuse NaN/Inf in float inputs ``X`` and targets ``Y`` (tracers and integer arrays pass): they gave
    NaN losses and products, or numpy's bare "must not contain infs or NaNs" after compiling."""
    for label, a in ((name, X), ("Y", Y)):
        a = a if a is None or isinstance(a, jax.core.Tracer) else numeric_array(a, label)  # a list has no .dtype
        if a is None or isinstance(a, jax.core.Tracer) or not np.issubdtype(np.dtype(a.dtype), np.inexact):
            continue
        count = int(np.size(a) - np.count_nonzero(np.isfinite(np.asarray(a))))
        if count:
            raise ValueError(f"`{label}` contains NaN or Inf ({count} entries); clean the data first.")


def _real_samples(b: batching.Batches) -> tuple:
    """``(X, Y)`` of a Batches' real samples, ``(N, …)`` (the rows of weight > 0); traced batches as they are."""
    if any(isinstance(a, jax.core.Tracer) for a in (b.X, b.Y, b.weight)):
        return b.X, b.Y
    real = np.asarray(b.weight).reshape(-1) > 0
    return tuple(np.asarray(a).reshape((-1, *a.shape[2:]))[real] for a in (b.X, b.Y))


def as_data(obj: Objective, X, Y) -> batching.Batches:
    """Validate the data outside jit (shapes and dtypes; tracers pass) and return them as Batches.

    ``X`` a :class:`~theory_lab.batching.Batches` (``Y`` None) or arrays ``X (N, …)``, ``Y``;
    a :class:`~theory_lab.batching.Stream` is refused with a clear error (see :func:`streamed`).
    """
    if not isinstance(obj, Objective):
        raise TypeError(f"`obj` must be an Objective (derivatives.objective(arch)), got {type(obj).__name__}.")
    if isinstance(X, batching.Batches):
        if Y is not None:
            raise ValueError("`Y` must be None when `X` is a Batches (it holds the targets).")
        m = check_data(obj, X.X[0], X.Y[0])[1]
        Xr, Yr = _real_samples(X)
        check_finite_data(Xr, Yr)  # every batch, not only the first; padding not counted twice
        if not any(isinstance(a, jax.core.Tracer) for a in (X.X, X.Y, X.weight)):  # then Yr holds the real rows
            obj.loss.check((int(Yr.shape[0]), m), Yr)  # a label out of range in a later batch gave a NaN loss
        return X
    if isinstance(X, batching.Stream):
        batching.as_batches(X)  # raises the clear error: this routine needs the data whole
    X = jnp.asarray(numeric_array(X, "X"))
    if Y is None:
        raise ValueError("`Y` is missing; pass targets, or the data as X=batching.batches(X, Y, batch_size).")
    Y = jnp.asarray(numeric_array(Y, "Y"))
    check_data(obj, X, Y)
    return batching.as_batches(X, Y)


def streamed(obj: Objective, stream, Y, program: Callable):
    """``c(N) · Σ_chunks program(obj_sum, chunk)`` over one pass of a Stream (or a Batches), in a Python loop.

    ``program(obj, data)`` is one jitted per-batch computation that is linear in the
    reduction's scale ``c`` (loss, gradient, any product); it runs with ``c = 1`` on each
    validated chunk (same shapes every chunk: one compiled program), and the total is
    scaled by ``c(N)`` once ``N`` is known at the end of the pass.
    """
    if Y is not None:
        kind = "Stream" if isinstance(stream, batching.Stream) else "Batches"
        raise ValueError(f"`Y` must be None when `X` is a {kind} (its batches hold the targets).")
    per = replace(obj, reduction="sum")
    if isinstance(stream, batching.Batches):  # every batch checked before any work (a Stream: as it is read)
        as_data(per, stream, None)
    total = batching.stream_sum(lambda chunk: program(per, as_data(per, chunk, None)), stream)
    c = obj.scale(stream.N)
    return total if c == 1.0 else jax.tree_util.tree_map(lambda a: a * c, total)
