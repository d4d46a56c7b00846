"""The Lanczos process behind :mod:`theory_lab.spectrum`: extendable, breakdown-aware, counted.

A :class:`Krylov` basis ``Q = [q_0 … q_m]`` of a symmetric operator is built one
product at a time with full reorthogonalisation (classical Gram–Schmidt, twice), and
can be *extended*: :func:`extend` continues the recurrence from where it stopped, so
no product is ever thrown away. After ``m`` steps

    A Q_m = Q_m T_m + β_m q_m e_mᵀ  (to rounding),

with ``T_m`` tridiagonal (``alpha`` on the diagonal, ``beta`` off it).

**Breakdown.** When the Krylov space runs out — an invariant subspace, e.g. an
operator of rank ``r`` after ``r + 1`` steps — the new residual is rounding noise.
Normalising it (as plain Lanczos does) fills ``T`` with meaningless entries whose Ritz
values can lie far outside the spectrum. A step *breaks down* when

* ``β ≤ BREAKDOWN_RTOL · s``, ``s`` the largest ``‖A q_i‖`` so far (a lower bound on
  ``‖A‖₂``), or
* the second Gram–Schmidt pass removed more than half of what the first left (the
  "twice is enough" test of Kahan and Parlett: the residual was numerically inside
  ``span Q``, orthogonality would be lost).

On breakdown ``β`` is recorded as exactly 0 — ``T`` becomes block diagonal and the
Ritz values found so far are eigenvalues — and the process either stops (``restart=False``,
used by quadrature: the probe's spectral measure is then known exactly) or *deflates*:
it continues from a random vector orthogonal to ``Q`` (drawn from ``fold_in(key, j)``),
which finds further eigenvalues and the multiplicities a single Krylov space cannot see.
After ``dim`` steps the basis is complete and the process stops.

**Drivers and products.** Each step is one product plus ``O(m · dim)`` of
reorthogonalisation (``m`` the filled rows on the host, all ``B`` allocated rows on the
device). How a product is prepared and made — in its own program on CPU, inside one jitted
loop elsewhere (``driver="loop"``), or on the host for looped data — is
:mod:`theory_lab.operators`. On CPU (``driver="host"``) the state ``Q``, ``T`` and the kept
products live in numpy: each product is read back as it comes and orthogonalised by numpy
against the filled rows only, so the tridiagonal is on the host and nothing is read from the
device but the products; ``driver="python"`` keeps the state on the device (a second program
per step over all ``B`` allocated rows, one flag read per step). The drivers compute the same
numbers to rounding.

**Residuals without products.** With ``keep_products=True`` the basis keeps each ``A q_i``;
a Ritz pair's true residual is then ``‖(AQ)s − θQs‖/‖Qs‖`` (:func:`ritz_residuals`), exact
to the rounding of one product because ``A`` is linear, so confirming convergence costs no
operator application.

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import krylov
    >>> from theory_lab.spectrum import dense_matvec
    >>> A = np.diag([3.0, 3.0, 1.0, 0.0, 0.0])          # rank 3, eigenvalue 3 twice
    >>> K = krylov.start(dense_matvec, 5, jax.random.key(0), (A,))
    >>> K = krylov.extend(K, 5)
    >>> K.depth, K.num_matvecs, K.breakdowns             # the space ran out twice
    (5, 5, 2)
    >>> np.round(np.sort(krylov.ritz(K)[0]), 12).tolist()
    [0.0, 0.0, 1.0, 3.0, 3.0]
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from theory_lab.keys import check_key, key_rng, rademacher, split_key  # noqa: F401  (re-exported)
from theory_lab.operators import (  # noqa: F401  (re-exported: their home is operators)
    DRIVERS, ONE_AT_A_TIME, PYTHON_DRIVEN,
    HostProduct,
    apply_batch,
    apply_one,
    as_function,
    bind,
    check_operator,
    dense,
    driver_for, one_at_a_time,
    prepare,
    products,
    stack_rows,
)
from theory_lab.validate import start_vector

__all__ = ["HostProduct", "bind", "check_operator", "check_key", "key_rng", "split_key", "rademacher", "MIN_CAPACITY", "Krylov", "prepare", "start", "extend", "ritz", "ritz_vectors", "ritz_residuals", "asymmetry", "apply_many", "products", "dense", "BREAKDOWN_RTOL", "DRIVERS",
           "ONE_AT_A_TIME", "PYTHON_DRIVEN", "driver_for", "one_at_a_time"]

BREAKDOWN_RTOL = 1e-12


# Plain norms in [_SAFE_LO, _SAFE_HI] are exact to rounding: no square overflows (every |x_i| <= ‖x‖ < 1e150),
# and squares that underflow are below 1e-308, i.e. 1e-28 of ‖x‖² >= 1e-280.
_SAFE_LO, _SAFE_HI = 1e-140, 1e150


def _norm(x, axis=None, keepdims=False, xp=np):
    """``‖x‖₂`` without overflow or underflow: ``x`` scaled by a power of two near its largest entry first.

    ``sqrt(Σ x²)`` (numpy's and jax's vector norm) is 0 for a vector below ~1e-154 and inf above ~1e154:
    an operator of that size then "broke down" at every step and its Ritz pairs got residual 0 (flagged
    converged) or inf. Scaling by a power of two is exact, so in between the result is the plain norm's.
    ``xp`` is ``numpy`` or ``jax.numpy`` (inside the device drivers' programs). With numpy (the CPU
    driver's every step) the plain norm is returned as it is when it lies in ``[1e-140, 1e150]``: the
    same bits, without the scaling's extra passes."""
    if xp is np:
        with np.errstate(over="ignore", under="ignore"):  # an overflowing sum is taken again, scaled
            plain = np.linalg.norm(x, axis=axis, keepdims=keepdims)
        if np.all((plain >= _SAFE_LO) & (plain <= _SAFE_HI)):
            return plain
    m = xp.max(xp.abs(x), axis=axis, keepdims=True)
    ok = (m > 0) & (m < xp.inf)
    s = xp.where(ok, xp.ldexp(xp.ones_like(m), xp.frexp(xp.where(ok, m, 1.0))[1]), 1.0)
    n = xp.linalg.norm(x / s, axis=axis, keepdims=True) * s
    return n if keepdims else (n.reshape(()) if axis is None else xp.squeeze(n, axis=axis))


@dataclass(frozen=True)
class Krylov:
    """A Lanczos basis and its tridiagonal, with the bookkeeping to extend it.

    Attributes:
        matvec, params: the operator ``matvec(v, *params)``.
        linear: the operator prepared at ``params`` (a pytree ``v -> A v``, or a :class:`HostProduct`),
            or ``None``.
        key: key for the restart vectors.
        state: ``(Q (B, dim), alpha (B,), beta (B,), j, scale, done, count, breakdowns, AQ, q)``, device
            arrays (numpy arrays and Python scalars for the ``"host"`` driver, updated in place):
            ``AQ (B, dim)`` holds the products ``A q_i`` already made (``None`` when not kept) and
            ``q (dim,)`` is the next vector to multiply.
        restart: deflate on breakdown (``True``) or stop (``False``).
        driver: ``"host"``, ``"python"`` or ``"loop"``.
    """

    matvec: Any
    params: tuple
    linear: Any
    key: Any
    state: tuple
    restart: bool
    driver: str

    @property
    def dim(self) -> int:
        return int(self.state[0].shape[1])

    @property
    def capacity(self) -> int:
        return int(self.state[0].shape[0])

    @property
    def depth(self) -> int:
        """Steps taken (rows of ``T``)."""
        return int(self.state[3])

    @property
    def done(self) -> bool:
        """No further step possible: basis complete, or a breakdown without restart."""
        return bool(self.state[5])

    @property
    def num_matvecs(self) -> int:
        """Operator applications made so far (one per step)."""
        return int(self.state[6])

    @property
    def breakdowns(self) -> int:
        return int(self.state[7])

    def tridiagonal(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(alpha (m,), beta (m−1,), β_m)`` of ``T_m``; ``β_m`` couples ``q_m`` (0 after a breakdown)."""
        m = self.depth
        # copies (the host driver's buffers are written in place by later steps), sliced on the host
        alpha, beta = np.array(self.state[1])[:m], np.array(self.state[2])[:m]
        return alpha, beta[:-1] if m else beta, float(beta[m - 1]) if m else 0.0


def _cgs2(Q, w):
    """``w (dim,)`` orthogonalised against the rows of ``Q (B, dim)`` twice: ``(w₂, h₁ + h₂ (B,), w₁)``.
    Numpy in, numpy out (the host driver, over the filled rows only); jax arrays inside the device drivers."""
    h = Q @ w
    w1 = w - Q.T @ h
    h2 = Q @ w1
    return w1 - Q.T @ h2, h + h2, w1


def _fresh(key, j, Q):
    """A unit vector orthogonal to ``Q``'s rows, from ``normal(fold_in(key, j))``: the restart after step ``j``."""
    r = jax.random.normal(jax.random.fold_in(key, j), (Q.shape[1],), jnp.float64)
    r = _cgs2(Q, r)[0]
    r = _cgs2(Q, r)[0]
    return r / _norm(r, xp=jnp)


def _update(key, restart, st, Aq, *, inline_restart: bool):
    """Orthogonalise ``Aq = A q_j`` against ``Q``, record ``α_j, β_j`` and the next vector (or a breakdown).

    Returns the new state and whether a restart is due (a breakdown with ``restart`` before the basis
    is complete). With ``inline_restart`` the restart vector is drawn here (a ``lax.cond``); otherwise
    the next vector is left 0 and the caller applies :func:`_restart_jit` (the rare case compiles only
    when it happens, and the step's program stays small: the draw inside it added ~0.8 s of compilation
    per capacity).
    """
    Q, alpha, beta, j, scale, done, count, nbreak, AQ, _ = st
    B, dim = Q.shape
    w, h, w1 = _cgs2(Q, Aq)
    b = _norm(w, xp=jnp)
    s = jnp.maximum(scale, _norm(Aq, xp=jnp))
    full = j + 1 >= dim
    broke = (b <= BREAKDOWN_RTOL * s) | (b < 0.5 * _norm(w1, xp=jnp)) | full
    restart = jnp.asarray(restart)
    due = broke & restart & ~full

    def follow(_):
        return jnp.where(broke, 0.0, w / jnp.where(broke, 1.0, b))

    nxt = jax.lax.cond(due, lambda _: _fresh(key, j, Q), follow, None) if inline_restart else follow(None)
    Q2 = Q.at[jnp.minimum(j + 1, B - 1)].set(jnp.where(j + 1 < B, nxt, Q[B - 1]))
    stop = full | (broke & ~restart)
    AQ2 = None if AQ is None else AQ.at[j].set(Aq)
    return (Q2, alpha.at[j].set(h[j]), beta.at[j].set(jnp.where(broke, 0.0, b)), j + 1, s, stop,
            count + 1, nbreak + broke.astype(nbreak.dtype), AQ2, nxt), due


def _step(apply, key, restart, st):
    return jax.lax.cond(st[5], lambda st: st,
                        lambda st: _update(key, restart, st, apply(st[9]), inline_restart=True)[0], st)


@functools.partial(jax.jit, donate_argnums=(2,))
def _update_jit(key, restart, st, Aq):
    """The CPU driver's update after a product: the new state and one flag, "stop or restart" (a breakdown).

    ``restart`` is traced and kept products are written by :func:`_keep`: Lanczos and quadrature share
    one update program per capacity. The single flag is the one value the driver reads per step.
    """
    st, due = _update(key, restart, st, Aq, inline_restart=False)
    return st, due | st[5]


@functools.partial(jax.jit, donate_argnums=(0,))
def _keep(AQ, j, Aq):
    """Row ``j − 1`` of the kept products set to ``Aq`` (``j`` the depth after the step)."""
    return AQ.at[j - 1].set(Aq)


@functools.partial(jax.jit, donate_argnums=(1,))
def _restart_jit(key, st):
    Q, *rest, q = st
    j = st[3]  # steps taken; the breakdown happened at step j − 1
    r = _fresh(key, j - 1, Q)
    B = Q.shape[0]
    Q = Q.at[jnp.minimum(j, B - 1)].set(jnp.where(j < B, r, Q[B - 1]))
    return (Q, *rest, r)


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(5,))
def _loop_steps(matvec, restart, linear, params, key, st, n):
    apply = as_function(matvec, linear, params)
    return jax.lax.fori_loop(0, n, lambda i, s: _step(apply, key, restart, s), st)


def _extend_host(K: Krylov, n: int) -> tuple:
    """``n`` steps of the host driver: each product one jitted call (or a :class:`HostProduct`), read back
    with ``np.asarray``; the update of :func:`_update` in numpy on the host state (``Q, AQ (B, dim)``,
    ``alpha, beta (B,)`` written in place), returned as the new :attr:`Krylov.state`."""
    Q, alpha, beta, j, scale, done, count, nbreak, AQ, q = K.state
    B, dim = Q.shape
    for _ in range(n):
        Aq = np.asarray(apply_one(K.matvec, K.linear, K.params, q))
        w, h, w1 = _cgs2(Q[: j + 1], Aq)
        b = float(_norm(w))
        scale = max(scale, float(_norm(Aq)))
        full = j + 1 >= dim
        broke = bool(b <= BREAKDOWN_RTOL * scale or b < 0.5 * _norm(w1) or full)
        alpha[j], beta[j] = h[j], 0.0 if broke else b
        if AQ is not None:
            AQ[j] = Aq
        count, nbreak, done = count + 1, nbreak + broke, full or (broke and not K.restart)
        if done:
            q = np.zeros(dim)
        elif broke:  # the restart vector normal(fold_in(key, j)), drawn by jax as the device drivers do
            r = np.asarray(jax.random.normal(jax.random.fold_in(K.key, j), (dim,), jnp.float64))
            r = _cgs2(Q[: j + 1], _cgs2(Q[: j + 1], r)[0])[0]
            q = r / _norm(r)
        else:
            q = w / b
        j += 1
        if j < B:
            Q[j] = q
        if done:
            break
    return Q, alpha, beta, j, scale, done, count, nbreak, AQ, q


MIN_CAPACITY = 64


def _capacity(rows: int, dim: int) -> int:
    # at least 64 rows: each capacity compiles its own step program, and 64 covers most top-k runs
    # (128 rows, one program for Lanczos and quadrature, flipped a rank-deficient test case by rounding:
    # the stopping test of a Krylov basis is not robust to the reorthogonalisation's summation order)
    return min(dim + 1, max(MIN_CAPACITY, 1 << math.ceil(math.log2(max(rows, 1)))))


_UNSET = object()


def start(matvec, dim: int, key, params: tuple, v0=None, *, restart: bool = True, capacity: int = 64,
          driver: str | None = None, linear=_UNSET, keep_products: bool = False) -> Krylov:
    """An empty Krylov basis from ``v0`` (default ``normal(split(key)[0], (dim,))``), ready to :func:`extend`.

    The operator is prepared here once (``matvec.prepare``, unless ``linear`` from :func:`prepare`
    is given); no product is made yet. ``capacity`` rows are allocated (grown by doubling).
    With ``keep_products`` every product ``A q_i`` is kept (``B × dim`` more memory), so that
    :func:`ritz_residuals` can give Ritz pairs' true residuals without further products.
    :func:`extend` consumes the basis it extends (its buffers are reused).
    """
    driver = driver_for() if driver is None else driver
    if driver not in ("host", "python", "loop"):
        raise ValueError(f"`driver`={driver!r} is unknown; expected 'host', 'python' or 'loop'.")
    key = check_key(key)
    # ``normal(k0)`` kept on the device (two small compiles): Lanczos' results depend on the start
    # vector (e.g. whether a rank-deficient operator's zero multiplicity shows before the ends
    # converge), and the tests pin this one. The empty state is built on the host and copied once:
    # device-side norms and scatters each compiled a small program per shape.
    k0, k1 = jax.random.split(key)
    v0 = np.asarray(jax.random.normal(k0, (dim,), jnp.float64), np.float64) if v0 is None else start_vector(v0, dim)
    B = _capacity(capacity, dim)
    q0 = v0 / _norm(v0)
    Q = np.zeros((B, dim))
    Q[0] = q0
    AQ = np.zeros((B, dim)) if keep_products else None
    if driver == "host":
        state = (Q, np.zeros(B), np.zeros(B), 0, 0.0, False, 0, 0, AQ, q0)
    else:
        put = jax.device_put
        state = (put(Q), put(np.zeros(B)), put(np.zeros(B)), put(np.int32(0)), put(np.float64(0.0)),
                 put(np.bool_(False)), put(np.int32(0)), put(np.int32(0)), None if AQ is None else put(AQ), put(q0))
    if linear is _UNSET:
        linear = prepare(matvec, int(dim), tuple(params), driver=driver)
    if isinstance(linear, HostProduct) and driver not in PYTHON_DRIVEN:
        raise ValueError(f"`linear` is a HostProduct (products made on the host) but `driver`={driver!r}; it needs "
                         "driver='python' or 'host'. Prepare with krylov.prepare(..., driver=driver).")
    return Krylov(matvec, tuple(params), linear, k1, state, bool(restart), driver)


def _grow(K: Krylov, rows: int) -> Krylov:
    B = _capacity(rows, K.dim)
    if B <= K.capacity:
        return K
    Q, alpha, beta, *rest, AQ, q = K.state
    pad, xp = B - K.capacity, np if K.driver == "host" else jnp
    AQ = None if AQ is None else xp.pad(AQ, ((0, pad), (0, 0)))
    state = (xp.pad(Q, ((0, pad), (0, 0))), xp.pad(alpha, (0, pad)), xp.pad(beta, (0, pad)), *rest, AQ, q)
    return replace(K, state=state)


def extend(K: Krylov, depth: int) -> Krylov:
    """Continue the recurrence until ``depth`` steps (or until :attr:`Krylov.done`); keeps every row."""
    depth = min(int(depth), K.dim)
    if depth <= K.depth or K.done:
        return K
    K = _grow(K, depth + 1)
    st = K.state
    n = depth - K.depth
    if K.driver == "host":
        st = _extend_host(K, n)
    elif K.driver == "loop":
        st = _loop_steps(K.matvec, K.restart, K.linear, K.params, K.key, st, jnp.int32(n))
    else:
        restart = jax.device_put(np.bool_(K.restart))
        for _ in range(n):
            # the product alone in its own program: inside a cond or loop XLA's CPU backend ran it ~4x slower
            Aq = apply_one(K.matvec, K.linear, K.params, st[9])
            AQ = st[8]
            st, flag = _update_jit(K.key, restart, st[:8] + (None, st[9]), Aq)
            if AQ is not None:
                st = st[:8] + (_keep(AQ, st[3], Aq), st[9])
            # one read per step, dispatched after the kept product: a breakdown is rare, but the next
            # product must not be made before a restart (or after a stop)
            if bool(flag):
                if bool(st[5]):
                    break  # basis complete, or (quadrature) the probe's measure is exact
                st = _restart_jit(K.key, st)
    return replace(K, state=st)


def ritz(K: Krylov) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ritz values ``θ (m,)`` ascending, eigenvectors ``S (m, m)`` of ``T_m``, and the free residual
    estimates ``|β_m S[m−1, i]| (m,)`` (exact residuals of the Ritz pairs to rounding)."""
    alpha, beta, b_last = K.tridiagonal()
    if alpha.size == 1:
        return alpha.copy(), np.ones((1, 1)), np.array([abs(b_last)])
    theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta, lapack_driver="stemr")
    return theta, S, np.abs(b_last * S[-1, :])


@jax.jit
def _combine(Q, S):
    V = S.T @ Q[: S.shape[0]]
    return V / _norm(V, axis=1, keepdims=True, xp=jnp)


def ritz_vectors(K: Krylov, S_cols: np.ndarray) -> jax.Array:
    """Unit Ritz vectors ``(k, dim)`` for the columns ``S_cols (m, k)`` of :func:`ritz`'s ``S`` (numpy for the
    host driver)."""
    S_cols = np.asarray(S_cols, np.float64)
    m = S_cols.shape[0]
    if K.driver == "host":
        V = S_cols.T @ K.state[0][:m]
        return V / _norm(V, axis=1, keepdims=True)
    Spad = np.zeros((K.capacity, S_cols.shape[1]))
    Spad[:m] = S_cols
    return _combine(K.state[0], jnp.asarray(Spad))


@jax.jit
def _combine_products(Q, AQ, S, theta):
    V, AV = S.T @ Q[: S.shape[0]], S.T @ AQ[: S.shape[0]]
    n = _norm(V, axis=1, keepdims=True, xp=jnp)
    V, AV = V / n, AV / n
    return V, _norm(AV - theta[:, None] * V, axis=1, xp=jnp)


def ritz_residuals(K: Krylov, S_cols: np.ndarray, theta: np.ndarray) -> tuple[jax.Array, jax.Array]:
    """Unit Ritz vectors ``v_i = Q s_i/‖Q s_i‖ (k, dim)`` and their true residuals ``‖A v_i − θ_i v_i‖ (k,)``.

    ``A v_i`` is assembled from the products already made, ``(AQ) s_i/‖Q s_i‖``: the operator
    is linear, so this is the product ``A v_i`` up to the rounding of one product, whatever
    the state of ``Q``'s orthogonality (it is not the free estimate ``|β_m s_mi|``, which
    assumes the three-term relation). Needs a basis started with ``keep_products=True``;
    costs no operator application. Numpy arrays for the host driver (whose basis is in numpy).
    """
    AQ = K.state[8]
    if AQ is None:
        raise ValueError("this Krylov basis keeps no products; start it with keep_products=True to get residuals "
                         "without new products.")
    S_cols = np.asarray(S_cols, np.float64)
    if K.driver == "host":  # in numpy, as the basis was built: nothing copied to the device
        m, theta = S_cols.shape[0], np.asarray(theta, np.float64)
        V, AV = S_cols.T @ K.state[0][:m], S_cols.T @ AQ[:m]
        n = _norm(V, axis=1, keepdims=True)
        V, AV = V / n, AV / n
        return V, _norm(AV - theta[:, None] * V, axis=1)
    Spad = np.zeros((K.capacity, S_cols.shape[1]))
    Spad[: S_cols.shape[0]] = S_cols
    return _combine_products(K.state[0], AQ, jnp.asarray(Spad), jnp.asarray(theta, jnp.float64))


def asymmetry(K: Krylov) -> float:
    """``‖M − Mᵀ‖_F / ‖AQ‖_F`` for the projection ``M = Q A Qᵀ (m, m)`` built from the kept products ``AQ``: rounding
    (``~ m · eps``) for a symmetric operator, O(1) for a non-symmetric one; no operator application."""
    if K.state[8] is None:
        raise ValueError("this Krylov basis keeps no products; start it with keep_products=True.")
    Q, AQ = (np.asarray(a[: K.depth], np.float64) for a in (K.state[0], K.state[8]))
    top = float(_norm(AQ))
    return float(_norm(Q @ AQ.T - AQ @ Q.T)) / top if top > 0 else 0.0


def apply_many(K: Krylov, V) -> jax.Array:
    """``A v`` for each row of ``V (k, dim)``: one product each (one at a time on CPU, batched elsewhere)."""
    if K.driver in PYTHON_DRIVEN or isinstance(K.linear, HostProduct):
        return stack_rows([apply_one(K.matvec, K.linear, K.params, v) for v in np.asarray(V)])
    return apply_batch(K.matvec, K.linear, K.params, V)
