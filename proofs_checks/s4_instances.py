"""Instances and shared evidence of the section-4 checks (``loss_surface``, ``curvature``).

Small networks so that every section-4 check together runs in seconds, each with the
hypothesis it is built to meet or break (computed on the instance by the checks):

* :func:`pyramidal` — wide at ``k = 1`` (``n_1 = 72``), then ``10 ≥ 10``: ``n_{L-1} < N = 20``.
* :func:`wide_last` — wide at ``k = 1`` and ``k = 2`` (``n_2 = 24 ≥ N = 20``).
* :func:`tiny_conv`, :func:`tiny_fc` — ``P ≤ 150``, ``N = 8``: dense Hessians are cheap, so the
  any-index (saddle-seeking) search of :func:`theory_lab.critical.find_critical_point` runs.
* :func:`narrow` — every hidden layer narrower than ``N = 40``.
* :func:`widening` — wide at ``k = 1``, then ``3 → 6``: the output layer widens.
* :func:`small_arch` — the curvature checks' network (``P = 584``, ``N = 12``).

Parameters come from :func:`theory_lab.sampling.sample_params` (LeCun-normal weights,
``N(0, 0.1²)`` biases: a law with a density), each draw from a named stream of the run's seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from proofs_checks import hypotheses as hyp
from theory_lab import data as _data
from theory_lab import derivatives as D
from theory_lab import loss_surface, presets
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Context, Evidence, Hypothesis
from theory_lab.sampling import sample_params

__all__ = ["N_WIDE", "N_NARROW", "N_TINY", "N_SMALL", "digits", "tiny_data", "pyramidal", "wide_last", "tiny_conv",
           "tiny_fc", "narrow", "widening", "small_arch", "params", "encodings", "h41", "h31", "critical_tol",
           "observe_critical_point", "membership_margin", "class_targets", "lemma_4_3_admits"]

N_WIDE, N_NARROW, N_TINY, N_SMALL = 20, 40, 8, 12


def digits(ctx: Context, N: int):
    """The first ``N`` digits with 1e-6 noise (Assumption 3.1 restored), seeded by the run."""
    return ctx.cached(("s4-digits", N), lambda: _data.digits(N, noise=1e-6, seed=ctx.seed))


def tiny_data(ctx: Context, arch: Architecture):
    """``N = 8`` Gaussian inputs for ``arch`` and class targets ``Y = e_{i mod 3}`` (three classes)."""
    def build():
        X = ctx.rng(f"s4-tiny/{arch.input_shape}").standard_normal((N_TINY, *arch.input_shape))
        return X, np.eye(3)[np.arange(N_TINY) % 3]
    return ctx.cached(("s4-tiny", arch.input_shape), build)


def pyramidal() -> Architecture:
    """Wide at k = 1 (n_1 = 72), layer 2 dense and narrower than N = 20: 72 ≥ 10 ≥ 10."""
    return Architecture((8, 8, 1), (Conv(2, (3, 3)), Dense(10), Output(10)))


def wide_last() -> Architecture:
    """Wide at k = 1 (n_1 = 36) and k = 2 (n_2 = 24 ≥ N = 20); the output layer k + 1 = 3 is dense."""
    return Architecture((8, 8, 1), (Conv(1, (3, 3)), Dense(24), Output(10)))


def tiny_conv() -> Architecture:
    """4x4 input, conv 2x2 (n_1 = 9 ≥ N = 8), dense 8 (n_2 = 8 = N), 3 outputs: P = 120."""
    return Architecture((4, 4, 1), (Conv(1, (2, 2)), Dense(8), Output(3)))


def tiny_fc() -> Architecture:
    """Fully connected 5 → 8 → 8 → 3 (Corollary 4.6's setting with N = 8): P = 147."""
    return Architecture((5,), (Dense(8), Dense(8), Output(3)))


def narrow() -> Architecture:
    """n_1 = 4 < N = 40: conv 3x3, stride 3, one filter, then the linear output."""
    return Architecture((8, 8, 1), (Conv(1, (3, 3), stride=3), Output(10)))


def widening() -> Architecture:
    """Wide at k = 1 (n_1 = 12 ≥ N = 8), then 3 → 6: the output layer widens (not pyramidal)."""
    return Architecture((6,), (Dense(12), Dense(3), Output(6)))


def small_arch() -> Architecture:
    """The curvature checks' network, :func:`theory_lab.presets.curvature_small` (``P = 584``, ``N = 12``).

    Conv 3x3 (1 filter, tied bias) → dense 12 → linear 10: wide at ``k = 1`` (``n_1 = 36 ≥ N``)
    for the bad critical point, and at the last hidden layer (``n_2 = 12 = N``) for
    Corollary 3.6's exact fit.
    """
    return presets.curvature_small(N_SMALL)


def params(arch: Architecture, ctx: Context, name: str, **law) -> dict:
    """Parameters from :func:`theory_lab.sampling.sample_params`, drawn from the stream ``name``."""
    return sample_params(arch, ctx.rng(name), **law)


def encodings(ctx: Context) -> dict:
    """Class encodings ``Z (10, 10)``: the identity and a Gaussian matrix (full rank almost surely)."""
    return {"identity": np.eye(10), "random": ctx.rng("loss-surface/Z").standard_normal((10, 10))}


def h41(arch: Architecture, k: int, N: int, prefix: str = "") -> Hypothesis:
    rep = arch.assumption_4_1(k, N)
    return Hypothesis(f"{prefix}Assumption 4.1 (k = {k})", rep.holds, "; ".join(rep.reasons) or "all parts hold")


def h31(arch: Architecture, X, prefix: str = "") -> Hypothesis:
    h, _ = hyp.assumption_3_1(arch, X)
    return Hypothesis(prefix + h.name, h.met, h.detail)


def class_targets(Y, Z=None, name: str = "Y") -> Hypothesis:
    """``Y``'s rows are rows of a full-rank ``Z`` (one class each): ``Y Z⁻¹`` is one-hot."""
    Y = np.asarray(Y)
    Z = np.eye(Y.shape[1]) if Z is None else np.asarray(Z)
    s = np.linalg.svd(Z, compute_uv=False)
    full = s[-1] > T.svd_rank_tol(Z.shape, s[0]).value * T.SVD_BAND
    onehot = np.linalg.solve(Z.T, Y.T).T if full else np.full_like(Y, np.nan)
    ok = bool(full and np.allclose(np.sort(onehot, axis=1)[:, :-1], 0, atol=1e-10)
              and np.allclose(onehot.max(axis=1), 1, rtol=0.0, atol=1e-10))
    return Hypothesis(f"class targets ({name} = rows of a full-rank Z)", ok,
                      f"σ_min(Z)/σ_max(Z) = {s[-1] / s[0]:.2e}; Y Z⁻¹ one-hot: {ok}")


def critical_tol(arch: Architecture, params, X, Y) -> T.Tolerance:
    """The project's one definition of *critical*, ``‖∇Φ‖ ≤ 1e-10 ‖J‖₂ max(‖Y‖, ‖F_L‖)`` (:func:`tolerances.critical_tol`)."""
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    J = np.asarray(D.jacobian(obj, theta, X))
    return T.critical_tol(float(np.linalg.norm(J, 2)), Y, outputs=np.asarray(D.outputs(obj, theta, X)))


def lemma_4_3_admits(b: loss_surface.GradientBounds, loss: float | None = None, *,
                     residual_norm: float | None = None) -> tuple[bool, float]:
    """Whether Lemma 4.3 lets a point with ``b``'s ``‖∇_{U_{k+1}} Φ‖`` have loss ``loss``; returns ``(admits, Φ_max)``.

    Lemma 4.3 gives ``‖∇_{U_{k+1}} Φ‖ ≥ c ‖F_L − Y‖`` at every parameter, ``c = σ_min(F_k) Π σ_min(U_{l+1})
    ‖σ_l'(G_l)‖_min``, so ``Φ ≤ Φ_max = ½((‖∇_{U_{k+1}} Φ‖ + δ) / c)²`` (``δ`` = ``b.tol``, the gradient's rounding).
    In ``S_k`` ``c > 0``, but nothing bounds it away from 0 (saturated units, near-duplicate samples): a point
    below the critical tolerance with ``Φ ≤ Φ_max`` may be no critical point at all, and ``Φ > 0`` there
    refutes nothing. Only ``Φ > Φ_max`` (beyond :data:`tolerances.BOUND`) contradicts the lemma the theorems rest on.

    Pass ``residual_norm`` (``‖F_L − Y‖``) instead of ``loss`` where it is known: the comparison is then made on
    the norm, ``‖r‖ ≤ r_max √band`` with ``r_max = (‖∇‖ + δ) / c`` (the same decision as ``Φ ≤ Φ_max · band``),
    so nothing is squared into subnormals when ``r`` is tiny (below ~1e-154).
    """
    if (loss is None) == (residual_norm is None):
        raise ValueError(f"lemma_4_3_admits: pass exactly one of `loss`={loss!r} and `residual_norm`={residual_norm!r} "
                         "(Φ, or ‖F_L − Y‖ where it is known).")
    c = b.factors["sigma_min_F_k"]
    for row in b.factors["layers"]:
        c *= row["sigma_min_U_next"] * row["dsigma_min"]
    r_max = (b.grad_norm + b.tol) / c if c > 0 else np.inf
    r = float(np.sqrt(2.0 * loss)) if residual_norm is None else float(residual_norm)
    return bool(r <= r_max * np.sqrt(T.BOUND.band)), float(0.5 * r_max ** 2)


def membership_margin(m: loss_surface.Membership) -> float:
    """The margin of ``m``'s decision (:attr:`theory_lab.loss_surface.Membership.margin`)."""
    return m.margin


def observe_critical_point(ev: Evidence, name: str, arch: Architecture, res, X, Y, k: int) -> dict:
    """Theorem 4.5's conclusion at one search result: a critical point in ``S_k`` has ``Φ = 0``.

    Critical means ``‖∇Φ‖ ≤`` :func:`critical_tol`; membership of the solver's point is
    decided at the solver's forward error (:data:`tolerances.FORWARD_RTOL`). A critical
    point conclusively outside ``S_k`` is reported (the theorem says nothing there); one
    inside is observed against the zero-loss tolerance, on the search's ``‖F_L − Y‖``
    (``res.residual_norm``) against :func:`tolerances.zero_residual_tol` (the decision
    ``Φ ≤ zero_loss_tol`` makes, with nothing squared into subnormals); ``‖r‖`` above it is inconclusive where
    :func:`lemma_4_3_admits` it (below the critical tolerance is not yet critical); a point that is not
    critical is reported as not converged, never dropped. Returns the row for the evidence.
    """
    crit = critical_tol(arch, res.params, X, Y)
    m = loss_surface.membership(arch, res.params, X, k, forward_rtol=T.FORWARD_RTOL)
    zero = T.zero_residual_tol(Y)
    r = float(res.residual_norm)
    row = {"loss": res.loss, "residual_norm": r, "zero_residual_tol": zero.value, "grad_norm": res.grad_norm,
           "critical_tol": crit.value, "iterations": res.iterations,
           "search_converged": res.converged, "kind": res.kind, "in_S_k": m.member,
           "S_k_conclusive": m.conclusive, "S_k_margin": membership_margin(m), "reasons": list(m.reasons),
           "critical": res.grad_norm <= crit.value}
    if not row["critical"]:
        row["status"] = "not converged (not a critical point)"
        return row
    if m.member and m.conclusive:
        admits = False
        if r > zero.value:  # Lemma 4.3 decides whether the gradient below the tolerance refutes ‖r‖ > 0
            b = loss_surface.gradient_bounds(arch, res.params, X, Y, k)
            if arch.layer(k + 1).kind in ("dense", "output"):  # ∇_{U_{k+1}} Φ is part of ∇Φ: the search's norm bounds it
                b = dataclasses.replace(b, grad_norm=min(b.grad_norm, res.grad_norm))
            admits, row["lemma_4_3_phi_max"] = lemma_4_3_admits(b, residual_norm=r)
            row["lemma_4_3_r_max"] = float(np.sqrt(2.0 * row["lemma_4_3_phi_max"]))
        if admits:  # no counterexample: a point this close to critical may not be critical (tiny c)
            ev.observe(f"‖F_L − Y‖ at {name} (in S_{k})", False, margin=zero.value / r, conclusive=False,
                       detail=f"{name}: ‖F_L − Y‖ = {r:.3e} > {zero.value:.1e} at ‖∇Φ‖ ≤ the critical tolerance, "
                              f"but Lemma 4.3 admits ‖F_L − Y‖ ≤ {row['lemma_4_3_r_max']:.3e} at this ‖∇_U Φ‖")
        else:
            ev.at_most(f"‖F_L − Y‖ at {name} (in S_{k})", r, zero)
        row["status"] = "in S_k"
    elif m.conclusive:
        ev.observe(f"{name} outside S_{k}", True, margin=max(membership_margin(m), 1.0), conclusive=True,
                   detail=f"{name}: critical, ‖F_L − Y‖ = {r:.3e}, outside S_{k} ({'; '.join(m.reasons)})")
        row["status"] = "outside S_k"
    else:
        probe = Evidence().at_most("‖F_L − Y‖", r, zero)
        ev.observe(f"‖F_L − Y‖ at {name} (S_{k} membership inside its band)", probe.holds,
                   margin=probe.margin, conclusive=probe.holds and probe.conclusive,
                   detail=f"{name}: ‖F_L − Y‖ = {r:.3e}; {m}")
        row["status"] = "S_k membership inconclusive"
    return row
