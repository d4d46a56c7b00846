"""Derivatives of an objective ``Φ(θ) = c Σ_i ℓ(f(x_i; θ), y_i)`` on a flat float64 θ ∈ R^P.

The objective (:class:`~theory_lab.objective.Objective`) is any network with a per-sample
loss; for theory-lab's chain CNNs with the squared loss it is the paper's
``Φ(θ) = ½ ‖F_L(θ) − Y‖_F²`` (THEORY.md §1, eq. 7; ``reduction="sum"``, the default;
``"mean"`` divides by ``N``). Write ``c`` for that scale, ``f = vec F ∈ R^{Nm}`` for the
outputs (row-major: entry ``i·m + j`` is sample ``i``, output ``j``), ``J = ∂f/∂θ``
``(Nm, P)`` and ``Λ = ∇²_f Σ_i ℓ_i`` (block diagonal: ``I`` for squared loss, ``s_i (diag p_i − p_i p_iᵀ)``
for softmax cross-entropy, ``s_i = Σ_c y_ic``: 1 for labels and probability rows). Then

* ``∇Φ = c Jᵀ ∇_f ℓ`` (``= c Jᵀ r`` for the squared loss, ``r = f − vec Y``),
* ``∇²Φ = c JᵀΛJ + c Σ_a (∂ℓ/∂f_a) ∇²f_a`` (generalised Gauss–Newton + residual term).

**Each operator written once.** ``"hessian"`` and ``"residual"`` are the Hessian at θ of
a scalar ``S`` (:func:`_batch_scalar`): ``S = Φ``, and ``S = c ḡᵀ f(t)`` with
``ḡ = ∇_f ℓ`` frozen at θ (``∇²S = c Σ_a ḡ_a ∇²f_a``). Their product with ``v`` is the
derivative of ``∇S`` along ``v``: forward-over-reverse (``jax.jvp`` of the gradient;
memory of one product) or linearised once (``jax.linearize``; each product is then
only the tangent sweep). ``"gauss_newton"`` is ``Jᵀ(Λ(J v))`` from the network's
linearisation and its transpose (:func:`_gauss_newton_batch`). Every public function
and :class:`HessianMatvec` go through one routine, :func:`_operator`.

**Data** are ``(X, Y)`` arrays (one batch) or a :class:`~theory_lab.batching.Batches`
(``X=batching.batches(X, Y, size)``, ``Y`` omitted): sums over samples are then
accumulated batch by batch (``lax.scan``), the last batch padded and masked. Data too
large to hold come as a :class:`~theory_lab.batching.Stream` (``Y`` omitted): loss,
gradient, outputs and every product then run one jitted per-batch program per chunk,
summed in Python (:func:`~theory_lab.objective.streamed`; the reduction's ``c`` applied to
the total). On CPU a Batches of several batches is summed by the same Python loop outside a
trace (:func:`~theory_lab.batching.looped`); :meth:`HessianMatvec.host_prepare` gives the
spectral routines that loop as their product, and the dense matrices of a Stream are ``P``
such products.

Every function is jitted with the Objective static and ``θ``, the data and ``v`` as
arguments (never closed over); :func:`batch_size` (products run at once) is re-exported
from :mod:`theory_lab.batching`, :func:`jacobian` and :func:`sample_jacobian` from :mod:`theory_lab.jacobians`.

Every derivative also takes ``block=``: a layer index ``k`` (chain networks) or the path of a parameter
subtree (``"Conv_0"``; any pytree); θ's other entries are held fixed, ``v`` and the results have ``P_k`` entries.

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
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import batching
from theory_lab.batching import DEFAULT_MEMORY, Batches, Stream, batch_size, map_basis
from theory_lab.jacobians import jacobian, sample_jacobian
from theory_lab.layout import Leaf, Layout, flatten, layout
from theory_lab.objective import Objective, as_data, check_data, from_model, objective, streamed

__all__ = ["Leaf", "Layout", "Objective", "HessianMatvec", "Batches", "layout", "flatten", "objective",
           "Stream", "from_model", "loss", "outputs", "residuals", "gradient", "value_and_gradient", "jacobian",
           "sample_jacobian", "hvp", "linearize_hvp", "hessian", "gauss_newton_vp", "gauss_newton", "residual_vp",
           "residual_hessian", "batch_size", "KINDS", "DEFAULT_MEMORY"]

KINDS = ("hessian", "gauss_newton", "residual")


# ----------------------------------------------------------------------------- arguments


def _default_targets(obj: Objective, X):
    """Targets for the Gauss–Newton term, which does not depend on them for the built-in losses."""
    if isinstance(X, (Batches, Stream)):  # their batches hold the targets, a custom loss's included
        return None
    if obj.loss.fn is not None:
        raise ValueError("`Y` is needed: the Gauss–Newton term of a custom loss may depend on the targets; "
                         "pass Y=… (or the data as a Batches).")
    N = int(np.shape(X)[0])
    if obj.loss.name == "softmax-cross-entropy":
        return jnp.zeros((N,), jnp.int32)
    return jnp.zeros((N, check_data(obj, jnp.asarray(X))[1]), jnp.float64)


def _apply(A, v):
    return jax.vmap(A)(v) if v.ndim == 2 else A(v)


# ----------------------------------------------------------------------------- the one rule


def _batch_scalar(obj: Objective, kind: str, theta, X, Y, w, near: bool = False) -> Callable:
    """``S_b(t)`` on one batch (``w`` per-sample weights, ``c`` included): Hessian at θ = operator ``kind``.

    ``near``: the network as :meth:`Objective.outputs_near` (max-pooling resolved at θ: the same
    derivatives at θ, a smaller program to linearise); otherwise as it is (values, gradients).
    """
    f = obj.outputs_near(theta, X) if near else (lambda t: obj.outputs(t, X))

    def weighted(F):
        return jnp.sum(w * obj.loss(F, Y))

    if kind == "hessian":
        return lambda t: weighted(f(t))
    if kind == "residual":
        gbar = jax.lax.stop_gradient(jax.grad(weighted)(f(theta)))
        return lambda t: jnp.sum(gbar * f(t))
    raise ValueError(f"`kind`={kind!r} is unknown; expected one of {KINDS}.")


def _summed(obj, kind, theta, data: Batches, block, transform, near: bool = False):
    """``(t_k -> Σ_b transform(S_b restricted to the block)(t_k), x0)``, e.g. the gradient map."""
    c = obj.scale(data.N)

    def total(t):
        def one(X, Y, weight):
            fn, _ = obj.restrict(_batch_scalar(obj, kind, theta, X, Y, c * weight, near), theta, block)
            return transform(fn)(t)
        return batching.sum_over(one, data)

    return total, obj.restrict(lambda t: t, theta, block)[1]


def _gauss_newton_batch(obj, theta, X, Y, w, block, near: bool = False) -> Callable:
    """``u -> J_bᵀ Λ_b J_b u`` on one batch (``w`` weights with ``c``): the network linearised at θ once.

    ``near`` as in :func:`_batch_scalar`: worth it when the linearisation serves many products.
    """
    fn, x0 = obj.restrict(obj.outputs_near(theta, X) if near else (lambda t: obj.outputs(t, X)), theta, block)
    f0, f_jvp = jax.linearize(fn, x0)
    f_vjp = jax.linear_transpose(f_jvp, x0)
    lam = jax.linearize(jax.grad(lambda F: jnp.sum(w * obj.loss(F, Y))), f0)[1]
    return lambda u: f_vjp(lam(f_jvp(u)))[0]


def _operator(obj, kind, theta, data, block, linearize: bool) -> Callable:
    """``v -> A v`` for ``kind`` at θ: the work at θ done once (``linearize``) or per call."""
    if kind == "gauss_newton":
        c = obj.scale(data.N)
        if linearize and data.num_batches == 1:
            return _gauss_newton_batch(obj, theta, data.X[0], data.Y[0], c * data.weight[0], block, near=True)
        return lambda u: batching.sum_over(lambda X, Y, w: _gauss_newton_batch(obj, theta, X, Y, c * w, block)(u),
                                           data)
    # max-pooling resolved at θ when the work at θ is done once for many products
    grad_map, x0 = _summed(obj, kind, theta, data, block, jax.grad, near=linearize)
    if linearize:
        return jax.linearize(grad_map, x0)[1]
    return lambda u: jax.jvp(grad_map, (x0,), (u,))[1]


# ----------------------------------------------------------------------------- loss and gradient


@functools.partial(jax.jit, static_argnums=(0, 3))
def _value_and_grad_jit(obj, theta, data, block):
    fn, x0 = _summed(obj, "hessian", theta, data, block, jax.value_and_grad)
    return fn(x0)


@functools.partial(jax.jit, static_argnums=0)
def _loss_jit(obj, theta, data):
    c = obj.scale(data.N)
    return batching.sum_over(lambda X, Y, w: _batch_scalar(obj, "hessian", theta, X, Y, c * w)(theta), data)


def loss(obj: Objective, theta, X, Y=None) -> jax.Array:
    """``Φ(θ) = c Σ_i ℓ(f(x_i), y_i)`` (scalar). ``X (N, …)``, ``Y`` targets; or ``X`` a Batches or Stream."""
    theta = obj.check_theta(theta)
    if batching.looped(X, theta):
        return streamed(obj, X, Y, lambda o, d: _loss_jit(o, theta, d))
    return _loss_jit(obj, theta, as_data(obj, X, Y))


@functools.partial(jax.jit, static_argnums=0)
def _outputs_jit(obj, theta, data):
    return batching.map_over(lambda X: obj.outputs(theta, X), data)


def outputs(obj: Objective, theta, X) -> jax.Array:
    """``F_L (N, m)`` at θ (``X`` an array or a Batches)."""
    theta = obj.check_theta(theta)
    if isinstance(X, Stream):
        parts = []
        for chunk in X.chunks():
            check_data(obj, chunk.X[0])
            parts.append(np.asarray(_outputs_jit(obj, theta, chunk))[np.asarray(chunk.weight[0]) > 0])
        return jnp.asarray(np.concatenate(parts))
    if isinstance(X, Batches):
        check_data(obj, X.X[0])
        return _outputs_jit(obj, theta, X)
    X = jnp.asarray(X)
    check_data(obj, X)
    return _outputs_jit(obj, theta, batching.as_batches(X, jnp.zeros((X.shape[0],))))


def residuals(obj: Objective, theta, X, Y) -> jax.Array:
    """``r = vec(F_L − Y) (Nm,)``, row-major (entry ``i·m + j``): the squared loss's, ``Y (N, m)``, no broadcast."""
    obj.residual_targets(Y)  # the loss and a missing Y, before a pass over the data
    F = outputs(obj, theta, X)
    return (F - obj.residual_targets(Y, tuple(F.shape))).reshape(-1)


def value_and_gradient(obj: Objective, theta, X, Y=None, *, block=None):
    """``(Φ, ∇Φ)``; ``∇Φ`` is ``(P,)`` (or ``(P_k,)`` with ``block``)."""
    theta = obj.check_theta(theta)
    obj.block_size(block)
    if batching.looped(X, theta):
        return streamed(obj, X, Y, lambda o, d: _value_and_grad_jit(o, theta, d, block))
    return _value_and_grad_jit(obj, theta, as_data(obj, X, Y), block)


def gradient(obj: Objective, theta, X, Y=None, *, block=None) -> jax.Array:
    """``∇Φ = c Jᵀ ∇_f ℓ`` of shape ``(P,)`` (or ``(P_k,)`` with ``block``)."""
    return value_and_gradient(obj, theta, X, Y, block=block)[1]


# ----------------------------------------------------------------------------- Hessian products


@functools.partial(jax.jit, static_argnums=(0, 1, 5))
def _product_jit(obj, kind, theta, data, v, block):
    return _apply(_operator(obj, kind, theta, data, block, linearize=False), v)


def _product(obj, kind, theta, X, Y, v, block):
    theta = obj.check_theta(theta)
    v = obj.check_vector(v, block)
    if batching.looped(X, theta, v):
        return streamed(obj, X, Y, lambda o, d: _product_jit(o, kind, theta, d, v, block))
    return _product_jit(obj, kind, theta, as_data(obj, X, Y), v, block)


def hvp(obj: Objective, theta, X, Y=None, v=None, *, block=None) -> jax.Array:
    """Hessian-vector product ``∇²Φ v`` by forward-over-reverse (one JVP of the gradient).

    ``v`` is ``(P,)`` or a batch ``(B, P)`` (then ``(B, P)`` out). With ``block``:
    ``H_kk v_k`` with ``v_k`` of length ``P_k``. With a Batches or Stream: ``hvp(obj, θ, data, v=v)``.
    """
    return _product(obj, "hessian", theta, X, Y, v, block)


def gauss_newton_vp(obj: Objective, theta, X, v, *, Y=None, block=None) -> jax.Array:
    """Generalised Gauss–Newton product ``c JᵀΛJ v`` without forming ``J``; ``v`` ``(P,)`` or ``(B, P)``.

    ``Λ`` does not depend on the targets for the built-in losses (cross-entropy: rows summing to 1), so ``Y`` is
    optional there; without it rows of other sums ``s_i`` get ``s_i = 1``. Needed for a custom loss.
    """
    if Y is None:
        Y = _default_targets(obj, X)
    return _product(obj, "gauss_newton", theta, X, Y, v, block)


def residual_vp(obj: Objective, theta, X, Y=None, v=None, *, block=None) -> jax.Array:
    """Residual term ``(∇²Φ − c JᵀΛJ) v = c Σ_a (∂ℓ/∂f_a) ∇²f_a v``, computed directly (no cancellation)."""
    return _product(obj, "residual", theta, X, Y, v, block)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _linearize_jit(obj, theta, data, block):
    return _operator(obj, "hessian", theta, data, block, linearize=True)


@jax.jit
def _apply_linear(lin, v):
    return _apply(lin, v)


def linearize_hvp(obj: Objective, theta, X, Y=None, *, block=None) -> Callable[[jax.Array], jax.Array]:
    """Linearise the gradient at θ once; return ``v -> ∇²Φ v`` (``v`` ``(P,)`` or ``(B, P)``).

    The forward and backward passes at θ run once; each product then costs only the
    tangent sweep (compiled once per model and shape). It stores every batch's
    linearisation, so its memory grows with ``N``; :func:`hvp` keeps one batch's. For a
    Stream nothing can be stored: each product is :func:`hvp` (one pass over the data).
    """
    if isinstance(X, Stream):
        obj.check_theta(theta)
        return lambda v: hvp(obj, theta, X, Y, v, block=block)
    theta = obj.check_theta(theta)
    data = as_data(obj, X, Y)
    obj.block_size(block)
    return functools.partial(_apply_linear, _linearize_jit(obj, theta, data, block))


# ----------------------------------------------------------------------------- dense matrices


@functools.partial(jax.jit, static_argnums=(0, 1, 4, 5))
def _dense_jit(obj, kind, theta, data, batch, block):
    A = map_basis(_operator(obj, kind, theta, data, block, linearize=True), obj.block_size(block), batch)
    return 0.5 * (A + A.T)


def _dense(obj, kind, theta, X, Y, memory, batch, block):
    theta = obj.check_theta(theta)
    if isinstance(X, Stream):
        if Y is not None:
            raise ValueError("`Y` must be None when `X` is a Stream (its batches hold the targets).")
        data = X
    else:
        data = as_data(obj, X, Y)
    obj.block_size(block)
    traced = any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((theta, data)))
    # lax.map ran each product ~4x slower on CPU (issue 10); under a jit (the finder's Newton step) it must stay.
    # On CPU each column is one product: for looped data (a Stream, several batches) a Python loop over batches
    if batch is None and jax.default_backend() == "cpu" and not traced:
        from theory_lab import spectrum

        return spectrum.materialize(HessianMatvec(obj, kind, block), obj.block_size(block), theta, data)
    batching.refuse_stream(data, f"the dense matrix with `batch`={batch!r} (products stacked by lax.map) or off CPU")
    return _dense_jit(obj, kind, theta, data, batching.products_at_once(obj, data.N, memory, batch), block)


def hessian(obj: Objective, theta, X, Y=None, *, memory: int = DEFAULT_MEMORY, batch: int | None = None,
            block=None) -> jax.Array:
    """Dense Hessian ``∇²Φ (P, P)`` (``H_kk`` with ``block``) from batched HVPs.

    The gradient is linearised once; columns ``H e_i`` are computed ``batch`` at a time
    (default :func:`batch_size`: 1 on CPU, as many as fit in ``memory`` bytes elsewhere).
    The result is symmetrised, ``(A + Aᵀ)/2`` (the two halves agree to rounding).
    """
    return _dense(obj, "hessian", theta, X, Y, memory, batch, block)


def gauss_newton(obj: Objective, theta, X, *, Y=None, memory: int = DEFAULT_MEMORY, batch: int | None = None,
                 block=None) -> jax.Array:
    """Dense generalised Gauss–Newton matrix ``c JᵀΛJ (P, P)`` (``c J_kᵀΛJ_k`` with ``block``)."""
    if Y is None:
        Y = _default_targets(obj, X)
    return _dense(obj, "gauss_newton", theta, X, Y, memory, batch, block)


def residual_hessian(obj: Objective, theta, X, Y=None, *, memory: int = DEFAULT_MEMORY, batch: int | None = None,
                     block=None) -> jax.Array:
    """Dense residual term ``∇²Φ − c JᵀΛJ = c Σ_a (∂ℓ/∂f_a) ∇²f_a (P, P)``."""
    return _dense(obj, "residual", theta, X, Y, memory, batch, block)


# ----------------------------------------------------------------------------- operators for spectra


@dataclass(frozen=True)
class HessianMatvec:
    """A hashable symmetric operator ``(v, θ, X, Y) -> A v`` for :mod:`theory_lab.spectrum`.

    ``kind`` is ``"hessian"`` (``∇²Φ``), ``"gauss_newton"`` (``c JᵀΛJ``) or ``"residual"``
    (their difference); ``block`` restricts to a block (then ``θ`` is still the full
    vector and ``v`` has ``P_k`` entries). ``X`` may be a Batches (``Y`` then omitted).
    Because it is hashable, jitted spectral routines take it as a static argument and
    ``(θ, X, Y)`` as arguments. :meth:`prepare` does the work at θ once (linearisation;
    with several batches it keeps one batch's memory and recomputes instead).
    :meth:`host_prepare` makes each product a Python loop over the batches instead, when the
    data are looped (a Stream, or several batches on CPU): the spectral routines' python
    driver uses it (:mod:`theory_lab.krylov`), so ``X`` may then be a Stream.

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
    block: object = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"`kind`={self.kind!r} is unknown; expected one of {KINDS}.")
        self.obj.block_size(self.block)

    def dim(self) -> int:
        """Size of the operator: ``P`` or ``P_k``."""
        return self.obj.block_size(self.block)

    def prepare(self, theta, X, Y=None) -> Callable:
        """``v -> A v`` with the work at θ done once (call inside jit).

        With several batches the product is recomputed batch by batch instead (memory of one
        batch), returned as a ``jax.tree_util.Partial`` so that callers keep it as it is.
        """
        data = batching.as_batches(X, Y)
        if data.num_batches > 1:
            return jax.tree_util.Partial(self._direct, theta, data)
        return _operator(self.obj, self.kind, theta, data, self.block, linearize=True)

    def host_prepare(self, theta, X, Y=None) -> Callable | None:
        """``v -> A v`` as a plain Python callable looping over the batches, or ``None``.

        When the data are looped (:func:`theory_lab.batching.looped`: a Stream, or a Batches of
        several batches on CPU, nothing traced), each product is one jitted per-batch product
        per batch, summed in Python (as :func:`hvp` on such data): one batch's memory, and the
        speed of the product dispatched on its own. Otherwise ``None``: :meth:`prepare` inside
        the caller's jit. Arguments are checked here, before any product.

        Example:
            >>> import numpy as np
            >>> from theory_lab import batching, derivatives as D
            >>> from theory_lab.arch import Architecture, Dense, Output
            >>> obj = D.objective(Architecture((3,), (Dense(2), Output(1))))
            >>> A = D.HessianMatvec(obj)
            >>> X, Y = np.ones((5, 3)), np.ones((5, 1))
            >>> A.host_prepare(np.zeros(11), X, Y) is None          # one batch: prepared inside jit
            True
            >>> Av = A.host_prepare(np.zeros(11), batching.batches(X, Y, 2))(np.ones(11))
            >>> bool(np.allclose(Av, A(np.ones(11), np.zeros(11), X, Y)))
            True
        """
        if not batching.looped(X, theta):
            return None
        theta = self.obj.check_theta(theta)
        self._check_data(X, Y)
        return functools.partial(_product, self.obj, self.kind, theta, X, None, block=self.block)

    def check_arguments(self, dim: int, theta, X, Y=None) -> None:
        """Refuse wrong arguments of a product, as :func:`theory_lab.operators.check_operator` asks.

        ``dim`` must be :meth:`dim`, θ float64 ``(P,)`` and the data fit the network (a forward
        pass traced abstractly); nothing of the Hessian is traced: tracing its preparation once
        more, only to read the output shape, cost 0.3–0.4 s per command-line run.

        Example:
            >>> import numpy as np
            >>> from theory_lab import derivatives as D
            >>> from theory_lab.arch import Architecture, Dense, Output
            >>> A = D.HessianMatvec(D.objective(Architecture((3,), (Dense(2), Output(1)))))
            >>> A.check_arguments(11, np.zeros(11), np.ones((4, 3)), np.ones((4, 1)))
            >>> A.check_arguments(12, np.zeros(11), np.ones((4, 3)), np.ones((4, 1)))
            Traceback (most recent call last):
            ...
            ValueError: `dim`=12 but this operator has size 11 (P); pass dim=A.dim().
        """
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) != self.dim():
            where = "P" if self.block is None else f"P_k of block {self.block!r}"
            raise ValueError(f"`dim`={dim!r} but this operator has size {self.dim()} ({where}); pass dim=A.dim().")
        self.obj.check_theta(theta)
        self._check_data(X, Y)

    def _check_data(self, X, Y) -> None:
        """Shapes and dtypes of a product's data against the network: arrays ``X, Y``, or a Batches or
        Stream (``Y`` None) through its first batch."""
        if isinstance(X, (Batches, Stream)):
            if Y is not None:
                raise ValueError(f"`Y` must be None when `X` is a {type(X).__name__} (its batches hold the targets).")
            first = X if isinstance(X, Batches) else batching.example(X)  # a Stream's chunks: checked as read
            as_data(self.obj, first, None)  # shapes from the first batch, finiteness of every one
            return
        if Y is None:
            raise ValueError("`Y` is missing; pass targets (N, …), or data as batching.batches(X, Y, batch_size).")
        check_data(self.obj, X, Y)

    def _direct(self, theta, data, v):
        return self(v, theta, data)

    def __call__(self, v, theta, X, Y=None):
        return _apply(_operator(self.obj, self.kind, theta, batching.as_batches(X, Y), self.block, False), v)
