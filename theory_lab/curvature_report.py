"""The Hessian at a point: one report for the command, the checks, the finder and the benchmarks.

* :func:`spectrum_report` — matrix-free, for any :class:`~theory_lab.objective.Objective`
  (or an :class:`~theory_lab.arch.Architecture`) and data in one batch, in
  :class:`~theory_lab.batching.Batches` or a :class:`~theory_lab.batching.Stream`: loss and gradient, top-``k`` / bottom-``k``
  Lanczos eigenpairs with residuals, the SLQ density, trace estimates (Hutchinson,
  Hutch++, XTrace), the inertia (exact for ``dim ≤ exact_max``, else estimated), the
  *bulk* and the *outliers*. Progress goes to a callback ``progress(stage, done, planned)``
  (products done / planned), and each stage's entries of the report, as soon as the stage
  ends, to ``on_result(stage, entries)``; drawing either is the caller's business (the CLI
  draws a bar and prints each result when it is known).
* :func:`hessian_report` — dense, for small ``P``: ``H``, ``J``, the Gauss–Newton term,
  eigenvalues, gradient, residuals and the inertia.
* :func:`hessian_inertia` — the :class:`~theory_lab.linalg.Inertia` of the dense Hessian
  (the one inertia type and margin rule, :func:`theory_lab.linalg.inertia_report`);
  :func:`critical_inertia` — the same at a solver's point standing for a critical point.

Outliers are converged Lanczos eigenvalues outside the bulk: the interval around the
smoothed density's highest peak on which the density stays above ``BULK_LEVEL`` (1e-4)
times that peak (:func:`bulk_interval`).

Example:
    >>> import numpy as np
    >>> from theory_lab import curvature_report as C
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> arch = Architecture((3,), (Dense(4), Output(2)))
    >>> theta = np.random.default_rng(0).standard_normal(arch.num_params)
    >>> X, Y = np.random.default_rng(1).standard_normal((6, 3)), np.zeros((6, 2))
    >>> rep = C.spectrum_report(arch, theta, X, Y, k=2, probes=2, steps=8, trace_matvecs=12)
    >>> rep["P"], len(rep["top"]["values"]), rep["inertia"]["method"]
    (26, 2, 'exact')
"""

from __future__ import annotations

import math
import time
from typing import Callable

import jax
import numpy as np

from theory_lab import batching
from theory_lab import derivatives as D
from theory_lab import krylov
from theory_lab import operators
from theory_lab import spectrum as S
from theory_lab import tolerances as T
from theory_lab.arch import Architecture
from theory_lab.keys import check_probe_block
from theory_lab.linalg import Inertia, inertia_report
from theory_lab.objective import REDUCTIONS, Objective
from theory_lab.trace import HUTCH_PP_MIN
from theory_lab.validate import all_finite, is_integer, is_real, numeric_array

__all__ = ["BULK_LEVEL", "OPERATORS", "PROGRESS_EVERY", "STAGES", "bulk_interval", "planned_products", "spectrum_report",
           "hessian_report", "hessian_inertia", "critical_inertia"]

BULK_LEVEL = 1e-4
OPERATORS = {"hessian": "hessian", "gauss-newton": "gauss_newton", "residual": "residual"}
STAGES = ("loss and gradient", "Lanczos eigenpairs", "SLQ density", "trace estimates", "inertia")
PROGRESS_EVERY = 0.1
"""Seconds between two progress reports inside a stage (products seen by :func:`theory_lab.operators.observe_products`)."""


def bulk_interval(grid, density, level: float = BULK_LEVEL) -> tuple[float, float]:
    """The interval around the density's highest peak where ``density ≥ level · peak``."""
    grid, density = np.asarray(grid, dtype=np.float64), np.asarray(density, dtype=np.float64)
    if grid.ndim != 1 or not grid.size or density.shape != grid.shape or not np.all(np.isfinite(density)):
        raise ValueError(f"`grid` {grid.shape} and `density` {density.shape}: expected two non-empty 1-D arrays of "
                         "one length, the density finite (Density.grid and Density.density).")
    if not is_real(level) or not 0 <= level <= 1:
        raise ValueError(f"`level`={level!r} must be a fraction of the peak in [0, 1], e.g. {BULK_LEVEL}.")
    i = int(np.argmax(density))
    above = density >= level * density[i]
    lo, hi = i, i
    while lo > 0 and above[lo - 1]:
        lo -= 1
    while hi < len(grid) - 1 and above[hi + 1]:
        hi += 1
    return float(grid[lo]), float(grid[hi])


def planned_products(dim: int, *, k: int = 5, probes: int = 8, steps: int = 64, trace_matvecs: int = 48,
                     exact_max: int = 2000, max_matvecs: int | None = None) -> dict:
    """Operator products each stage of :func:`spectrum_report` plans (Lanczos: its cap; a gradient counts 1).

    A plan is an upper bound: the report's ``products["done"]`` counts the products made (Lanczos stopping
    when its pairs converge, SLQ probes whose Krylov space runs out, XTrace's even number of products)."""
    if not is_integer(dim) or dim < 1:  # dim=0 planned an empty run, a negative k went unnoticed
        raise ValueError(f"`dim`={dim!r} must be an integer >= 1, the operator's dimension P.")
    _check_budgets(k=k, probes=probes, steps=steps, trace_matvecs=trace_matvecs, exact_max=exact_max,
                   **({} if max_matvecs is None else {"max_matvecs": max_matvecs}))
    cap = dim if max_matvecs is None else min(int(max_matvecs), dim)
    return {"loss and gradient": 1, "Lanczos eigenpairs": cap,  # the residuals reuse the Krylov products
            "SLQ density": probes * min(steps, dim), "trace estimates": 3 * _trace_budget(trace_matvecs, dim),
            "inertia": dim if dim <= exact_max else 0}


def _trace_budget(trace_matvecs: int, dim: int) -> int:
    """Products per trace estimator: at most ``dim`` (more add nothing), but never below Hutch++'s minimum
    :data:`HUTCH_PP_MIN` (a block with fewer parameters reached it only after Lanczos and SLQ had run)."""
    return max(min(int(trace_matvecs), dim), HUTCH_PP_MIN)


def _check_budgets(**budgets):
    for name, value in budgets.items():
        least = {"trace_matvecs": HUTCH_PP_MIN, "exact_max": 0}.get(name, 1)
        if not is_integer(value) or value < least:
            raise ValueError(f"`{name}`={value!r} must be an integer >= {least}"
                             f"{' (Hutch++ spends a third on each of its 3 parts, 2 at least)' if least > 1 else ''}"
                             "; it is checked before any product is made.")


def _objective(network, reduction: str | None) -> Objective:
    """An Architecture's objective (``reduction``, default ``"sum"``), or an Objective, whose own reduction a
    different ``reduction`` may not silently replace (``"mean"`` was ignored and reported as ``"sum"``)."""
    if reduction is not None and reduction not in REDUCTIONS:
        raise ValueError(f"`reduction`={reduction!r} is unknown; expected one of {REDUCTIONS}.")
    if isinstance(network, Objective):
        if reduction is not None and reduction != network.reduction:
            raise ValueError(f"`reduction`={reduction!r} but the Objective's reduction is {network.reduction!r}; "
                             "build the Objective with the reduction wanted, and leave `reduction` out.")
        return network
    if isinstance(network, Architecture):
        return D.objective(network, reduction=reduction or "sum")
    raise TypeError(f"`network` must be an Architecture or a derivatives Objective, got {type(network).__name__}.")


def spectrum_report(network, theta, X, Y=None, *, seed: int = 0, operator: str = "hessian", reduction: str | None = None,
                    block=None, k: int = 5, probes: int = 8, steps: int = 64, trace_matvecs: int = 48,
                    exact_max: int = 2000, max_matvecs: int | None = None,
                    progress: Callable[[str, int, int], None] | None = None,
                    on_result: Callable[[str, dict], None] | None = None) -> dict:
    """All numbers of the Hessian (or Gauss–Newton, or residual term) spectrum at θ, as a JSON-ready dict.

    Args:
        network: an :class:`~theory_lab.arch.Architecture` (``reduction`` applies, default ``"sum"``) or an
            Objective (its own reduction; a different ``reduction`` is an error).
        theta: the point ``(P,)`` float64.
        X, Y: the data (``X`` may be a :class:`~theory_lab.batching.Batches` or a
            :class:`~theory_lab.batching.Stream`, then no ``Y``; on CPU each product of
            either is a Python loop over the batches).
        operator: ``"hessian"``, ``"gauss-newton"`` or ``"residual"``.
        block: restrict to a block (layer index, or a parameter subtree's path).
        k, probes, steps, trace_matvecs, exact_max, max_matvecs: the probes' budgets
            (``max_matvecs`` caps Lanczos' depth; default ``dim``).
        progress: called as ``progress(stage, products_done, products_planned)`` before each
            stage, inside a stage as its products are made (at most every :data:`PROGRESS_EVERY`
            seconds; products made from the host, i.e. on CPU), and once at the end (``stage="done"``).
        on_result: called as ``on_result(stage, entries)`` when a stage of :data:`STAGES` ends, with
            the report's entries it computed: ``{"loss", "gradient_norm"}``, ``{"top", "bottom"}``,
            ``{"density"}``, ``{"trace"}``, ``{"inertia"}`` (the same dicts the report returns).

    Raises:
        ValueError: for an unknown operator, or when the loss or gradient at θ is not finite.
    """
    if operator not in OPERATORS:
        raise ValueError(f"`operator`={operator!r} is unknown; choose one of {', '.join(OPERATORS)}.")
    _check_budgets(k=k, probes=probes, steps=steps, trace_matvecs=trace_matvecs, exact_max=exact_max,
                   **({} if max_matvecs is None else {"max_matvecs": max_matvecs}))
    if not is_integer(seed) or not 0 <= seed < 2**32:  # jax.random.key takes any int64; the CLI's range
        raise ValueError(f"`seed`={seed!r} must be an integer in [0, 2**32 - 1]; every probe is drawn from it.")
    for name, fn in (("progress", progress), ("on_result", on_result)):
        if fn is not None and not callable(fn):
            raise TypeError(f"`{name}`={fn!r} is not callable; pass a function (or None), checked before any product.")
    obj = _objective(network, reduction)
    op = D.HessianMatvec(obj, OPERATORS[operator], block)
    dim = op.dim()
    check_probe_block(probes, dim, "probes")  # SLQ draws its probes at once
    data = X if isinstance(X, (batching.Batches, batching.Stream)) else batching.as_batches(np.asarray(X), np.asarray(Y))
    args = (np.asarray(numeric_array(theta, "theta", "; a parameter pytree flattens with "
                                                   "derivatives.flatten(params)[0]")), data)
    keys = krylov.split_key(jax.random.key(seed), 4)  # split on the host: no compiled split and indexing
    k, steps, budget = min(k, dim), min(steps, dim), _trace_budget(trace_matvecs, dim)
    if max_matvecs is not None:  # clamped to dim as the plan has it; below k Lanczos refused it after the gradient
        max_matvecs = min(int(max_matvecs), dim)
        if max_matvecs < k:
            raise ValueError(f"`max_matvecs`={max_matvecs} is below k={k}: Lanczos needs at least k products for k "
                             "eigenpairs. Raise max_matvecs or lower k.")
    plan = planned_products(dim, k=k, probes=probes, steps=steps, trace_matvecs=budget, exact_max=exact_max,
                            max_matvecs=max_matvecs)
    report = progress or (lambda stage, done, planned: None)
    timings, done, parts = {}, 0, {}  # parts: each stage's entries of the report, built once

    def timed(name, fn, used, entries):
        nonlocal done
        planned = done + sum(plan[s] for s in STAGES[STAGES.index(name):])
        report(name, done, planned)
        seen, last = 0, time.perf_counter()

        def made(n):  # products seen as they are made, at most one report per PROGRESS_EVERY seconds
            nonlocal seen, last
            seen += n
            now = time.perf_counter()
            if now - last >= PROGRESS_EVERY:
                report(name, done + min(seen, plan[name]), planned)
                last = now

        t0 = time.perf_counter()
        with operators.observe_products(made):
            out = fn()
        timings[name] = round(time.perf_counter() - t0, 3)
        plan[name] = used(out)
        done += plan[name]
        stage_entries = entries(out)
        parts.update(stage_entries)
        if on_result is not None:
            on_result(name, stage_entries)
        return out

    def value_and_gradient():
        loss, grad = D.value_and_gradient(obj, *args)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing norm is inf, refused just below
            g = np.asarray(grad, dtype=np.float64)  # scaled norm: a gradient below ~1e-154 is not reported as 0
            loss, gnorm = float(loss), T.frobenius_norm(g, "∇Φ") if np.all(np.isfinite(g)) else math.nan
        if not (math.isfinite(loss) and math.isfinite(gnorm)):
            raise ValueError(f"the loss at θ is {loss} and ‖∇Φ‖ = {gnorm}: the network's outputs are not finite "
                             "there. Check the inputs and parameters for NaN/Inf or overflow (smaller weights).")
        return loss, gnorm

    timed("loss and gradient", value_and_gradient, lambda out: 1,
          lambda out: {"loss": out[0], "gradient_norm": out[1]})
    top, bottom = timed("Lanczos eigenpairs", lambda: S.lanczos(op, dim, keys[0], *args, k=k, which="both",
                                                                max_matvecs=max_matvecs),
                        lambda out: out[0].num_matvecs,  # Krylov steps (the residuals reuse them)
                        lambda out: {"top": out[0].to_dict(), "bottom": out[1].to_dict()})
    dens = timed("SLQ density", lambda: S.slq_density(op, dim, keys[1], *args, num_probes=probes, num_matvecs=steps),
                 lambda out: out.num_matvecs,  # a probe whose Krylov space ran out stopped early
                 lambda out: {"density": out.to_dict()})
    timed("trace estimates", lambda: S.trace_estimates(op, dim, keys[2], *args, num_matvecs=budget),
          lambda out: sum(t.num_matvecs for t in out.values()),
          lambda out: {"trace": {name: t.to_dict() for name, t in out.items()}})
    timed("inertia", lambda: S.inertia(op, dim, *args, exact_max=exact_max, density=None if dim <= exact_max else dens),
          lambda out: dim if dim <= exact_max else 0, lambda out: {"inertia": out.to_dict()})
    report("done", done, done)
    bulk = list(bulk_interval(dens.grid, dens.density))
    outliers = [float(v) for pairs in (top, bottom) for v, ok in zip(pairs.values, pairs.converged)
                if ok and not bulk[0] <= v <= bulk[1]]
    N, m = data.N, int(jax.eval_shape(obj.outputs, args[0], batching.example(data).X[0]).shape[1])
    return {"model": _describe(obj), "architecture": None if obj.arch is None else obj.arch.describe(), "P": obj.P, "dim": dim, "operator": operator, "block": block,
            "reduction": obj.reduction, "loss_function": obj.loss.name, "N": N, "m": m,
            "batch_size": data.batch_size, "num_batches": data.num_batches,
            "streamed": isinstance(data, batching.Stream), "seed": seed,
            **parts, "bulk": bulk, "outliers": sorted(outliers), "seconds": timings,
            "products": {"planned": planned_products(dim, k=k, probes=probes, steps=steps, trace_matvecs=budget,
                                                     exact_max=exact_max, max_matvecs=max_matvecs),
                         "done": plan, "total": done}}


def _describe(obj: Objective) -> str:
    if obj.arch is not None:
        return obj.arch.describe()
    blocks = ", ".join(f"{name} ({sl.stop - sl.start})" for name, sl in obj.layout.blocks())
    return f"{type(obj.network).__name__}: {blocks}"


def hessian_report(network, params, X, Y) -> dict:
    """Dense ``H``, ``J``, Gauss–Newton term, eigenvalues, gradient and residuals at a point (small ``P``).

    Args:
        network: an Architecture (then ``params`` is the ``model.init`` pytree; squared loss,
            sum reduction) or an Objective (then ``params`` is θ).
        X, Y: one batch of data.

    Returns:
        ``{"obj", "theta", "H" (P, P), "J" (Nm, P), "GN" (P, P), "eig" (P,) ascending,
        "grad" (P,), "r" (Nm,) (outputs − Y; squared loss), "loss", "P", "Nm", "inertia"}``;
        ``GN = JᵀJ`` for the squared loss with sum reduction, else ``c JᵀΛJ``.
    """
    if isinstance(network, Objective):
        obj, theta = network, network.check_theta(params)
    else:
        obj = _objective(network, "sum")
        theta, _ = D.flatten(params)
    X, Y = np.asarray(X), np.asarray(Y)
    H = np.asarray(D.hessian(obj, theta, X, Y))
    J = np.asarray(D.jacobian(obj, theta, X))
    g = np.asarray(D.gradient(obj, theta, X, Y))
    squared = obj.loss.name == "squared" and obj.loss.fn is None
    r = np.asarray(D.residuals(obj, theta, X, Y)) if squared else np.full(J.shape[0], np.nan)
    GN = J.T @ J if squared and obj.reduction == "sum" else np.asarray(D.gauss_newton(obj, theta, X, Y=Y))
    eig = np.linalg.eigvalsh(H)
    return {"obj": obj, "theta": theta, "H": H, "J": J, "GN": GN, "eig": eig, "grad": g, "r": r,
            "loss": float(D.loss(obj, theta, X, Y)), "P": obj.P, "Nm": J.shape[0], "inertia": inertia_report(eig)}


def hessian_inertia(arch: Architecture, params, X, Y, *, rtol: float = 1e-9, band: float = 10.0,
                    critical: bool = False) -> Inertia:
    """Inertia of the dense Hessian ``∇²Φ (P, P)`` at ``params`` (small ``P``), at a solver's point.

    ``tol = rtol · max|λ|`` (default 1e-9: a point found by a solver carries its forward error, well above
    eigensolver rounding). With ``critical=True`` the point stands for the critical point near it (the inertia
    that :func:`theory_lab.critical.find_critical_point` reports): :func:`critical_inertia`. The margin rule is
    :func:`theory_lab.linalg.inertia_report`'s.
    """
    from theory_lab import loss_surface

    loss_surface.check_targets(arch, X, Y)
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    if critical:
        return critical_inertia(lambda t: D.hessian(obj, t, X, Y), lambda t: D.gradient(obj, t, X, Y), theta,
                                rtol=rtol, band=band)
    H = np.asarray(D.hessian(obj, theta, X, Y))
    return inertia_report(np.linalg.eigvalsh(0.5 * (H + H.T)), rtol=rtol, band=band)


def critical_inertia(hessian: Callable, gradient: Callable, theta, *, rtol: float = 1e-9,
                     band: float = 10.0) -> Inertia:
    """The inertia at a solver's point ``θ (P,)`` standing for the critical point ``θ*`` it approximates.

    A solver's point has ``‖∇Φ(θ)‖ ≤ gtol``, not ``∇Φ = 0``: ``θ*`` lies about a Newton step
    ``δ = −H⁺∇Φ(θ)`` away (``H = ∇²Φ(θ)``; ``H⁺`` keeps the eigenvalues above ``rtol · max|λ|``), and an
    eigenvalue of ``H`` is signed only beyond how much the Hessian changes on the way (Weyl):
    ``tol = max(rtol · max|λ|, ‖D∇²Φ(θ)[δ]‖₂, ‖∇²Φ(θ + δ) − ∇²Φ(θ)‖₂)``.

    * The first-order term: along a flat direction the change is of the size of the eigenvalues
      themselves. ``Φ = (w₁w₂)² + (w₂b₁ + b₂)²``, whose critical points are all global minima, has eigenvalue
      ``−2t²`` at ``w₁ = w₂ = t``: a conclusive "saddle" against ``rtol`` alone (``t = 2e-4``:
      ``‖∇Φ‖ = 2e-11``, margin 40).
    * The change measured at the Newton point catches what the first order misses where ``D³Φ`` vanishes:
      ``Φ = ½x² + ½εy² − y⁴ + gy`` at 0 (``ε = 1e-7``, ``g = 5e-11``) has eigenvalues 1 and 1e-7 and
      ``D³Φ(0) = 0``, so the first order called it a conclusive minimum; yet ``Φ_y > 0`` for all ``y < 0``
      near 0 and the critical point nearby (``y ≈ 2.7e-4``) is a saddle. ``∇²Φ`` changes by ``3e-6`` over
      ``δ = (0, −5e-4)``, so the small eigenvalue is not signed.

    A non-finite Hessian at ``θ + δ`` signs nothing (``tol = max|λ|``, margin 1: inconclusive). At an exact
    critical point ``δ = 0`` and ``tol = rtol · max|λ|``.

    Args:
        hessian: ``t (P,) -> ∇²Φ(t) (P, P)``, float64, differentiable by ``jax.jvp``.
        gradient: ``t (P,) -> ∇Φ(t) (P,)``, float64.
        theta: ``(P,)`` float64, the solver's point.
        rtol, band: as in :func:`hessian_inertia`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> phi = lambda t: 0.5 * t[0] ** 2 + 0.5e-7 * t[1] ** 2 - t[1] ** 4 + 5e-11 * t[1]
        >>> r = critical_inertia(jax.hessian(phi), jax.grad(phi), jnp.zeros(2))
        >>> r.kind, r.tol > 1e-7
        ('degenerate', True)
    """
    theta = jax.numpy.asarray(theta)
    if theta.dtype != np.float64 or theta.ndim != 1:
        raise TypeError(f"`theta` has dtype {theta.dtype} and shape {theta.shape}; expected a float64 vector (P,) "
                        "(turn on jax_enable_x64).")
    if not all_finite(theta):  # a NaN θ gave an Inertia of NaN eigenvalues counted as nothing, silently
        raise ValueError(f"`theta` contains NaN or Inf ({int(np.sum(~np.isfinite(np.asarray(theta))))} of "
                         f"{theta.size} entries); the inertia is taken at a finite point.")
    H = np.asarray(hessian(theta))
    w, Q = np.linalg.eigh(0.5 * (H + H.T))
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    tol = rtol * scale
    gq = Q.T @ np.asarray(gradient(theta))
    keep = np.abs(w) > tol
    delta = Q[:, keep] @ (-gq[keep] / w[keep])
    if np.any(delta):
        step = jax.numpy.asarray(delta)
        first = np.asarray(jax.jvp(hessian, (theta,), (step,))[1])
        moved = np.asarray(hessian(theta + step)) - H
        change = max(float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (M + M.T))))) if np.all(np.isfinite(M))
                     else math.inf for M in (first, moved))
        tol = max(tol, change) if math.isfinite(change) else scale
    return inertia_report(w, tol=tol, band=band)
