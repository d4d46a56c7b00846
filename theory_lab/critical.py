"""Critical points of ``Φ`` in float64: find them, classify them, never fake them.

:func:`find_critical_point` runs from a start point until ``‖∇Φ‖ ≤ gtol`` (default
``1e-10``; absolute, or the scale-free per-layer ``gtol_rtol`` of :mod:`theory_lab.stopping`) with second-order
steps, and returns a :class:`Search` that records the loss,
gradient norm, iterations, time, ``S_k`` membership and, for small ``P``, the Hessian
inertia. A run that stops before ``gtol`` has ``converged = False`` and kind
``"not converged"``: it is never classified or reported as a critical point.

Modes:

* ``"minimum"`` — Levenberg–Marquardt on the residuals ``r = vec(F_L − Y)`` with the
  exact Jacobian ``J (Nm, P)`` (taken one sample at a time). The damped step
  ``δ = −(JᵀJ + λI)⁻¹Jᵀr`` is computed in the smaller of its two equal forms: the kernel
  form ``δ = −Jᵀ(JJᵀ + λI)⁻¹r`` (``Nm × Nm``) when ``Nm ≤ P``, the parameter form
  otherwise. The Gram matrix is diagonalised once per iteration, so a whole ladder of
  damping values is tried for the price of matrix-vector products, and each step
  carries Transtrum–Sethna geodesic acceleration. Near a zero-loss point this is
  Gauss–Newton and converges quadratically. Where the residual stays large (narrow
  networks) Gauss–Newton is only linear: once the loss settles (under 5% gain for 5
  steps) and ``P ≤ dense_limit``, the search switches to damped Newton on the exact
  Hessian (eigenvalues shifted to keep the model convex).
* ``"any"`` — critical points of any index, saddles included: Levenberg–Marquardt on
  the gradient map, i.e. ``½‖∇Φ‖²`` driven to zero with Jacobian ``H``:
  ``δ = −(H² + μI)⁻¹ H ∇Φ`` (dense Hessian, ``P ≤ dense_limit``).

Why a hand-written loop rather than a solver library: optax has no Levenberg–Marquardt
or Gauss–Newton solver, and general least-squares solvers (optimistix, jaxopt) damp
in parameter space (``P × P`` or a QR of ``(Nm + P) × P``), about ``(P/Nm)²`` times the
cost of the kernel form for the wide networks this module is for (``P ≈ 10⁴``,
``Nm ≈ 10³``). Each iteration is one jitted XLA call (the λ search inside it is a
``lax.while_loop`` over ``lax.map``-ed trials); the Python loop around it only tests convergence, records and
reports progress. An optional first-order warm start uses ``optax.adam``.

Example:
    >>> import jax, numpy as np
    >>> from theory_lab import model, critical
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> arch = Architecture((3,), (Dense(8), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((4, 3)); Y = np.ones((4, 1))
    >>> res = critical.find_critical_point(arch, model.init(arch, jax.random.key(0)), X, Y)
    >>> res.converged, res.grad_norm <= 1e-10, res.kind
    (True, True, 'degenerate')
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import derivatives as D
from theory_lab import loss_surface, stopping
from theory_lab import tolerances as T
from theory_lab.arch import Architecture
from theory_lab.curvature_report import hessian_inertia
from theory_lab.linalg import Inertia
from theory_lab.params_io import check_finite
from theory_lab.validate import is_integer, is_real

__all__ = ["Search", "find_critical_point", "default_k", "MODES"]

MODES = ("minimum", "any")


# ----------------------------------------------------------------------------- derivatives

def _residual(obj, theta, X, Y):
    return D.residuals(obj, theta, X, Y)


def _sample_jacobian(obj, theta, X):
    """Output Jacobian ``J (N·m, P)`` inside the jitted iteration (see :func:`D.sample_jacobian`)."""
    return D.sample_jacobian(obj, theta, X)


def _phi(obj, theta, X, Y):
    return D.loss(obj, theta, X, Y)


# ----------------------------------------------------------------------------- one iteration each

_MAX_TRIALS = 30  # ten rungs: λ up to 1e27 times its start
_ACCEPT = 1e-4
_GEODESIC = 0.75
_LADDER = (1e-3, 1e-1, 1.0)
_RUNG = 1e3
_SETTLE = 5


@functools.partial(jax.jit, static_argnums=(0, 1))
def _lm_iteration(obj, kernel_form, theta, lam, X, Y):
    """One Levenberg–Marquardt iteration on the residuals (see module docstring).

    The Gram matrix (``JJᵀ`` or ``JᵀJ``) is diagonalised once, so every damping trial is a
    few matrix-vector products.
    """
    r = _residual(obj, theta, X, Y)
    J = _sample_jacobian(obj, theta, X)
    g = J.T @ r
    value = 0.5 * jnp.dot(r, r)
    w, V = jnp.linalg.eigh(J @ J.T if kernel_form else J.T @ J)
    w = jnp.maximum(w, 0.0)
    scale = jnp.max(w)

    def solve(lam, v):
        # (JᵀJ + λI)⁻¹ Jᵀ v in the chosen form
        if kernel_form:
            return J.T @ (V @ ((V.T @ v) / (w + lam)))
        return V @ ((V.T @ (J.T @ v)) / (w + lam))

    def res(t):
        return _residual(obj, t, X, Y)

    def trial(lam):
        delta = -solve(lam, r)
        Jd = J @ delta
        pred = -jnp.dot(r, Jd) - 0.5 * jnp.dot(Jd, Jd)
        # geodesic acceleration (Transtrum & Sethna 2012): a second-order correction along the
        # residual's curvature, kept only while it is small next to the step
        rdd = jax.jvp(lambda t: jax.jvp(res, (t,), (delta,))[1], (theta,), (delta,))[1]
        acc = -solve(lam, rdd)
        small = 2 * jnp.linalg.norm(acc) <= _GEODESIC * jnp.linalg.norm(delta)
        theta_c = theta + delta + 0.5 * acc
        rc, vjp = jax.vjp(res, theta_c)
        gc = vjp(rc)[0]
        return theta_c, jnp.where(small, 0.5 * jnp.dot(rc, rc), jnp.inf), pred, jnp.linalg.norm(gc)

    lam = jnp.where(lam > 0, lam, 1e-3 * scale)
    lam = jnp.maximum(lam, 1e-15 * scale)
    return _search(theta, value, jnp.linalg.norm(g), trial, lam)


def _accept(merit, gnorm, merit_c, pred, gnorm_c):
    """Gain-ratio test; when the merit change is at rounding level, a smaller gradient decides."""
    rho = (merit - merit_c) / pred
    flat = jnp.abs(merit - merit_c) <= 64 * jnp.finfo(jnp.float64).eps * jnp.abs(merit)
    ok = jnp.isfinite(merit_c) & jnp.isfinite(pred) & (pred > 0) & ((rho > _ACCEPT) | (flat & (gnorm_c < gnorm)))
    return ok, jnp.where(flat, 0.5, rho)


def _search(theta, merit, gnorm, trial, lam):
    """Damping search over rungs of the ladder ``lam · _LADDER`` (trials are cheap next to the
    Jacobian or Hessian, so a whole rung is tried and the lowest merit among its accepted
    steps wins); while no step of a rung is accepted, the next rung is ``_RUNG`` times higher.

    ``trial(λ) -> (θ_c, merit_c, pred, ‖∇Φ(θ_c)‖)``. A step is accepted by :func:`_accept` (gain ratio
    ``ρ = (merit − merit_c) / pred > _ACCEPT`` with ``pred > 0``). After an accepted step the next ``λ`` is the
    winner's ``λ/3`` when ``ρ > 0.75``, ``λ`` when ``ρ > 0.25``, ``2λ`` otherwise; after ``_MAX_TRIALS``
    trials (ten rungs) with none accepted, ``θ`` is returned unchanged with the next rung's base as ``λ``."""
    ladder = jnp.asarray(_LADDER)

    def body(s):
        lams = s["base"] * ladder
        thetas, merits, preds, gnorms = jax.lax.map(trial, lams)
        oks, rhos = _accept(merit, gnorm, merits, preds, gnorms)
        best = jnp.argmin(jnp.where(oks, merits, jnp.inf))
        return {"ok": jnp.any(oks), "trials": s["trials"] + ladder.size, "base": s["base"] * _RUNG,
                "theta": thetas[best], "lam": lams[best], "rho": rhos[best]}

    init = {"ok": jnp.array(False), "trials": jnp.array(0), "base": lam, "theta": theta, "lam": lam,
            "rho": jnp.zeros((), jnp.float64)}
    s = jax.lax.while_loop(lambda s: (~s["ok"]) & (s["trials"] < _MAX_TRIALS), body, init)
    rho = s["rho"]
    lam_next = s["lam"] * jnp.where(rho > 0.75, 1.0 / 3.0, jnp.where(rho > 0.25, 1.0, 2.0))
    return {"theta": jnp.where(s["ok"], s["theta"], theta), "lam": jnp.where(s["ok"], lam_next, s["base"]),
            "accepted": s["ok"], "trials": s["trials"], "value": merit, "grad_norm": gnorm}


@functools.partial(jax.jit, static_argnums=(0, 1))
def _newton_iteration(obj, mode, theta, lam, X, Y):
    """One damped Newton (``mode="minimum"``) or gradient-map LM (``mode="any"``) iteration."""
    value, g = D.value_and_gradient(obj, theta, X, Y)
    w, Q = jnp.linalg.eigh(D.hessian(obj, theta, X, Y))
    gq = Q.T @ g
    wmax = jnp.max(jnp.abs(w))
    if mode == "minimum":
        shift = jnp.maximum(0.0, -jnp.min(w)) * (1 + 1e-6) + 1e-14 * wmax

        def trial(lam):
            d = w + shift + lam
            dq = -gq / d
            pred = -(jnp.dot(gq, dq) + 0.5 * jnp.dot(w * dq, dq))
            theta_c = theta + Q @ dq
            value_c, gc = D.value_and_gradient(obj, theta_c, X, Y)
            return theta_c, value_c, pred, jnp.linalg.norm(gc)

        merit = value
        lam = jnp.where(lam > 0, lam, 1e-6 * wmax)
    else:
        def trial(lam):
            dq = -w * gq / (w * w + lam)
            res = gq * lam / (w * w + lam)
            pred = 0.5 * jnp.dot(gq, gq) - 0.5 * jnp.dot(res, res)
            theta_c = theta + Q @ dq
            gc = D.gradient(obj, theta_c, X, Y)
            return theta_c, 0.5 * jnp.dot(gc, gc), pred, jnp.linalg.norm(gc)

        merit = 0.5 * jnp.dot(g, g)
        lam = jnp.where(lam > 0, lam, 1e-3 * wmax * wmax)
    out = _search(theta, merit, jnp.linalg.norm(g), trial, lam)
    out["value"] = value
    return out


# ----------------------------------------------------------------------------- results

@dataclass
class Search:
    """A critical-point search: where it ended and what that point is.

    ``kind`` is the Hessian classification (``"minimum"``, ``"saddle"``, ``"maximum"``,
    ``"degenerate"``) of a converged point, ``"unclassified"`` when ``P`` is too large for
    the dense Hessian, and ``"not converged"`` when ``‖∇Φ‖ > gtol``: such a point is not
    a critical point. ``parameter_norm`` is ``‖θ‖₂``: a very large one with a degenerate
    Hessian usually means saturated units (an infimum at infinity), not a finite critical point.
    ``membership`` is the point's ``S_k`` membership with every rank decided at
    :data:`~theory_lab.tolerances.FORWARD_RTOL`: the point is a solver's output, not an exact draw.
    ``residual_norm`` is ``‖F_L − Y‖_F`` at ``params``, scaled (:func:`~theory_lab.tolerances.frobenius_norm`:
    exact where ``loss = ½‖F_L − Y‖²`` underflows, below ~1e-154); zero loss is decided on it against
    :func:`~theory_lab.tolerances.zero_residual_tol`. ``loss`` is kept for display.
    """

    params: dict = field(repr=False)
    converged: bool
    mode: str
    loss: float
    grad_norm: float
    gtol: float
    iterations: int
    seconds: float
    message: str
    method: tuple = ()
    membership: loss_surface.Membership | None = field(default=None, repr=False)
    inertia: Inertia | None = None
    history: list = field(default_factory=list, repr=False)
    parameter_norm: float = float("nan")
    residual_norm: float = float("nan")
    gtol_rtol: float | None = None  # the scale-free rule's rtol when the search used it (then ``gtol`` is None)
    relative_grad: float = float("nan")  # :func:`theory_lab.stopping.relative_gradient` at ``params`` (that rule only)

    @property
    def kind(self) -> str:
        if not self.converged:
            return "not converged"
        return "unclassified" if self.inertia is None else self.inertia.kind

    @property
    def in_S_k(self) -> bool | None:
        return None if self.membership is None else self.membership.member

    def to_dict(self) -> dict:
        return {"converged": self.converged, "kind": self.kind, "mode": self.mode, "loss": self.loss,
                "residual_norm": self.residual_norm,
                "grad_norm": self.grad_norm, "gtol": self.gtol, "gtol_rtol": self.gtol_rtol,
                "relative_grad": self.relative_grad, "iterations": self.iterations,
                "seconds": self.seconds, "message": self.message, "method": list(self.method),
                "in_S_k": self.in_S_k, "parameter_norm": self.parameter_norm,
                "membership": None if self.membership is None else self.membership.to_dict(),
                "inertia": None if self.inertia is None else self.inertia.to_dict()}


def default_k(arch: Architecture, N: int) -> int:
    """The layer ``S_k`` is taken at, among the layers with no max-pooling after them (``S_k``'s recursion needs
    conv or dense layers ``k+1 … L``): the last wide layer meeting Assumption 4.1, else the last such wide layer,
    else the widest hidden conv or dense layer (last among equals)."""
    if not isinstance(arch, Architecture):  # None gave "'NoneType' object has no attribute 'L'"
        raise TypeError(f"`arch`={arch!r:.60} is a {type(arch).__name__}; expected a theory_lab.arch.Architecture.")
    k = _pick_k(arch, N)
    if k is None:
        raise ValueError("the network has no hidden conv or dense layer after its last max-pooling layer, so S_k is "
                         "undefined; pass `k`.")
    return k


def _tail_layers(arch: Architecture) -> list[int]:
    """Hidden layers ``k`` with no max-pooling among layers ``k+1 … L``: those where ``S_k`` is defined."""
    return [k for k in range(1, arch.L) if all(arch.layer(j).kind != "maxpool" for j in range(k + 1, arch.L + 1))]


def _pick_k(arch: Architecture, N: int) -> int | None:
    tail = _tail_layers(arch)
    wide = [k for k in arch.wide_layers(N) if k in tail]  # one before a pool was refused after the search
    ok = [k for k in wide if arch.assumption_4_1(k, N)]
    if ok:
        return ok[-1]
    if wide:
        return wide[-1]
    hidden = [k for k in tail if arch.layer(k).kind != "maxpool"]
    return max(hidden, key=lambda k: (arch.widths[k], k)) if hidden else None


def _check_k(arch: Architecture, k) -> int:
    """A given ``k`` checked before the search (a wrong one was refused by the membership report after it)."""
    tail = _tail_layers(arch)
    if not is_integer(k) or int(k) not in tail:
        raise ValueError(f"`k`={k!r} is not a hidden layer with only conv or dense layers after it, where S_k is "
                         f"defined; expected one of {tail}.")
    return int(k)


# ----------------------------------------------------------------------------- the driver

@functools.partial(jax.jit, static_argnums=(0, 1))
def _adam(obj, steps, theta, X, Y, lr):
    import optax

    opt = optax.adam(lr)

    def body(_, carry):
        t, s = carry
        g = D.gradient(obj, t, X, Y)
        u, s = opt.update(g, s, t)
        return t + u, s

    return jax.lax.fori_loop(0, steps, body, (theta, opt.init(theta)))[0]


def find_critical_point(arch: Architecture, params, X, Y, *, mode: str = "minimum", gtol: float | None = None,
                        gtol_rtol: float | None = None,
                        max_iter: int = 200, max_seconds: float | None = None, warm_start: int = 0,
                        warm_lr: float = 1e-2, k: int | None = None, classify: bool | None = None,
                        dense_limit: int = 3000, callback: Callable[[dict], None] | None = None) -> Search:
    """Search for a critical point of ``Φ`` from ``params``.

    Args:
        arch: the network (no max-pooling needed; any architecture works).
        params: start point (pytree from :func:`theory_lab.model.init`).
        X: inputs ``(N, *input_shape)``, float64. Y: targets ``(N, m)``, float64.
        mode: ``"minimum"`` (descent; Gauss–Newton then Newton) or ``"any"`` (any index).
        gtol: success when ``‖∇Φ‖₂ ≤ gtol`` (the gradient in all parameters; absolute, default 1e-10 unless
            ``gtol_rtol`` is given).
        gtol_rtol: instead of ``gtol``, the scale-free rule of :mod:`theory_lab.stopping`: success when every
            layer's ``‖∇_l Φ‖ ≤ gtol_rtol · ‖J_l‖₂ · max(‖Y‖, ‖F_L‖)`` (the same at every exact rescaling of the
            output layer and the targets; one dense Jacobian per iteration). Pass one of the two.
        max_iter, max_seconds: stop there; the result then says ``converged=False``.
        warm_start: number of ``optax.adam(warm_lr)`` steps before the second-order phase.
        k: layer of ``S_k`` for the membership report (default :func:`default_k`; no report when every
            hidden conv or dense layer has max-pooling after it).
        classify: compute the dense Hessian's inertia at a converged point
            (default: when ``P ≤ dense_limit``).
        dense_limit: largest ``P`` for which dense Hessians are formed.
        callback: called after every iteration with ``{"iteration", "method", "loss",
            "grad_norm", "lambda", "trials", "seconds"}`` (and ``max_iter``): the hook for
            progress display, which is the caller's (the CLI's) business.

    Returns:
        :class:`Search`.
    """
    loss_surface.check_targets(arch, X, Y)
    if mode not in MODES:
        raise ValueError(f"`mode`={mode!r} is unknown; choose one of {MODES}.")
    if gtol is not None and gtol_rtol is not None:
        raise ValueError(f"`gtol`={gtol!r} and `gtol_rtol`={gtol_rtol!r}: pass one stopping rule, the absolute gtol "
                         "or the scale-free gtol_rtol.")
    for name, value in (("gtol", gtol), ("gtol_rtol", gtol_rtol)):
        if value is not None and not (is_real(value) and value > 0 and math.isfinite(value)):
            raise ValueError(f"`{name}`={value!r} must be a positive finite number, e.g. 1e-10.")
    gtol = 1e-10 if gtol is None and gtol_rtol is None else gtol
    target = f"gtol = {gtol:g}" if gtol_rtol is None else f"gtol_rtol = {gtol_rtol:g}"
    miss = f"> {target}" if gtol_rtol is None else f"({target} not met)"  # absolute: the old messages
    if not is_integer(max_iter) or max_iter < 1:
        raise ValueError(f"`max_iter`={max_iter!r} must be a positive integer.")
    if not is_integer(warm_start) or warm_start < 0:
        raise ValueError(f"`warm_start`={warm_start!r} must be a non-negative number of Adam steps.")
    if max_seconds is not None and not (is_real(max_seconds) and 0 <= max_seconds < math.inf):
        raise ValueError(f"`max_seconds`={max_seconds!r} must be a finite number >= 0, or None for no time limit.")
    if not (is_real(warm_lr) and 0 < warm_lr < math.inf):  # NaN gave "SVD did not converge"; < 0 climbed Φ
        raise ValueError(f"`warm_lr`={warm_lr!r} must be a positive finite Adam step size, e.g. 0.01.")
    if callback is not None and not callable(callback):  # called only after the first iteration's work
        raise TypeError(f"`callback`={callback!r} is not callable; pass a function of the iteration's dict, or None.")
    if classify is not None and not isinstance(classify, (bool, np.bool_)):  # classify="no" was truthy
        raise ValueError(f"`classify`={classify!r} must be True, False or None (inertia when P <= dense_limit).")
    if not is_integer(dense_limit) or dense_limit < 0:
        raise ValueError(f"`dense_limit`={dense_limit!r} must be a non-negative integer: the largest P for which "
                         "dense Hessians are formed (default 3000).")
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    check_finite(theta, obj.layout, "params")  # issue 9.10: NaN/Inf gave "SVD did not converge" later
    for name, value in (("X", X), ("Y", Y)):
        if not np.all(np.isfinite(np.asarray(value))):
            raise ValueError(f"`{name}` contains NaN or Inf; the search needs finite data.")
    P = obj.P
    if mode == "any" and P > dense_limit:
        raise ValueError(f"`mode`='any' forms the dense Hessian, but P = {P} > `dense_limit`={dense_limit}. "
                         "Use a smaller network, raise dense_limit if memory allows (P² float64), or mode='minimum'.")
    N = int(np.shape(X)[0])
    k = _pick_k(arch, N) if k is None else _check_k(arch, k)  # None: no S_k (a pool before the output)
    X = jnp.asarray(X)
    Y = jnp.asarray(Y)
    Nm = int(Y.size)
    start = time.perf_counter()
    if warm_start:
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats with int32 step counts
            theta = _adam(obj, int(warm_start), theta, X, Y, jnp.asarray(float(warm_lr)))
    method = "gauss-newton" if mode == "minimum" else "gradient-map"
    methods = [f"adam x{warm_start}"] if warm_start else []
    methods.append(method)
    lam = jnp.zeros((), jnp.float64)
    history, ratios, converged, message = [], [], False, ""
    prev_value = None
    it = 0
    for it in range(1, max_iter + 1):
        if method == "gauss-newton":
            out = _lm_iteration(obj, Nm <= P, theta, lam, X, Y)
        else:
            out = _newton_iteration(obj, "minimum" if method == "newton" else "any",
                                    theta, lam, X, Y)
        value, gnorm = float(out["value"]), float(out["grad_norm"])
        info = {"iteration": it, "max_iter": max_iter, "method": method, "loss": value, "grad_norm": gnorm,
                "lambda": float(out["lam"]), "trials": int(out["trials"]),
                "seconds": time.perf_counter() - start}
        history.append(info)
        if callback is not None:
            callback(info)
        if not math.isfinite(gnorm):
            message = f"gradient became non-finite at iteration {it}"
            break
        rel = math.nan if gtol_rtol is None else stopping.relative_gradient(obj, theta, X, Y)
        if gnorm <= gtol if gtol_rtol is None else rel <= gtol_rtol:
            converged, message = True, (f"‖∇Φ‖ = {gnorm:.3e} ≤ {target}" if gtol_rtol is None else
                                        f"‖∇Φ‖ = {gnorm:.3e}, relative {rel:.3e} ≤ {target}") + f" after {it - 1} steps"
            break
        if max_seconds is not None and info["seconds"] > max_seconds:
            message = f"time limit {max_seconds:g} s reached with ‖∇Φ‖ = {gnorm:.3e} {miss}"
            break
        if not bool(out["accepted"]):
            message = (f"{method} stalled at iteration {it}: no step in {_MAX_TRIALS} damping trials "
                       f"reduces the merit (‖∇Φ‖ = {gnorm:.3e}, λ = {float(out['lam']):.3e})")
            break
        theta, lam = out["theta"], out["lam"]
        if prev_value is not None and prev_value > 0:
            ratios.append(value / prev_value)
        prev_value = value
        # Gauss–Newton is linear when the residual does not vanish: the loss then settles
        # (less than 5% gain per step) while the gradient is still large. Newton is
        # quadratic there, and affordable when the dense Hessian is.
        if method == "gauss-newton" and P <= dense_limit and len(ratios) >= _SETTLE and \
                min(ratios[-_SETTLE:]) > 0.95:
            method, lam, ratios = "newton", jnp.zeros((), jnp.float64), []
            methods.append(method)
    else:
        message = None  # issue 9.10: composed below with the gradient at the final point, not the last-but-one
    value, grad = D.value_and_gradient(obj, theta, X, Y)
    grad = np.asarray(grad, dtype=np.float64)  # ‖∇Φ‖ scaled (exact below ~1e-154, where squares flush to 0)
    value, gnorm = float(value), T.frobenius_norm(grad, "∇Φ") if np.all(np.isfinite(grad)) else math.nan
    resid = np.asarray(_residual(obj, theta, X, Y), dtype=np.float64)  # ‖F_L − Y‖ scaled, as ‖∇Φ‖
    rnorm = T.frobenius_norm(resid, "F_L − Y") if np.all(np.isfinite(resid)) else math.nan
    if message is None:
        message = f"{max_iter} iterations without reaching {target} (‖∇Φ‖ = {gnorm:.3e})"
    rel = math.nan if gtol_rtol is None else stopping.relative_gradient(obj, theta, X, Y)
    converged = converged and (gnorm <= gtol if gtol_rtol is None else rel <= gtol_rtol)
    if not converged and not message:
        message = f"‖∇Φ‖ = {gnorm:.3e} {miss}"
    seconds = time.perf_counter() - start
    final = obj.layout.unravel(theta)
    # a solver's output carries a forward error: ranks at FORWARD_RTOL, as `membership` asks of such points
    member = None if k is None else loss_surface.membership(arch, final, X, k, forward_rtol=T.FORWARD_RTOL)
    classify = (P <= dense_limit) if classify is None else classify
    inertia = hessian_inertia(arch, final, X, Y, critical=True) if (converged and classify) else None
    return Search(final, converged, mode, value, gnorm, gtol, it, seconds, message, tuple(methods), member,
                  inertia, history, float(jnp.linalg.norm(theta)), rnorm, gtol_rtol, rel)
