"""Curvature at special points (THEORY.md §3 "bad critical points" and §4), against dense Hessians.

* ``hessian-zero-loss``: at a zero-loss point (the output layer fitted exactly through a
  wide last hidden layer, Corollary 3.6's construction) ``∇²Φ = JᵀJ`` to rounding,
  ``rank ∇²Φ = rank J ≤ Nm`` and at least ``P − Nm`` eigenvalues are zero.
  Converse: at the same network before the fit (``Φ > 0``) the residual term is not
  negligible and ``∇²Φ`` has negative eigenvalues.
* ``bad-critical-point``: ``U_{k+1} = 0``, ``U_L = 0``, ``b_L = ȳ`` has zero gradient,
  ``Φ = ½‖Y − 1ȳᵀ‖² > 0`` and a negative Hessian eigenvalue (a strict saddle).
  Converse: with constant targets (every ``y_i = ȳ``) the same point is a global minimum
  (``Φ = 0``, ``∇²Φ ⪰ 0``).
* ``critical-full-row-rank``: a critical point where ``J`` has full row rank has ``r = 0``
  (``‖r‖ ≤ ‖∇Φ‖ / σ_min(J)``), at a critical point found by Levenberg–Marquardt.
  Converse: at the bad critical point ``J`` is rank deficient and ``r ≠ 0``.

One small instance (:func:`small_arch`, ``P = 584``, ``N = 12`` digits with 1e-6 noise) so
that the dense Hessian from :func:`theory_lab.derivatives.hessian` is the reference.
"""

from __future__ import annotations

import numpy as np

from proofs_checks import hypotheses as hyp
from theory_lab import data as _data
from theory_lab import derivatives as D
from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, decide
from theory_lab.linalg import rank_report

__all__ = ["CHECKS", "small_arch", "random_params", "zero_loss_point", "bad_critical_point", "hessian_report"]

N_SMALL = 12
EPS = float(np.finfo(np.float64).eps)
H_TOL = 1e-10  # ‖∇²Φ − JᵀJ‖₂ / ‖∇²Φ‖₂ at a zero-loss point


def _digits(ctx: Context, n: int = N_SMALL):
    return ctx.cached(("curvature-digits", n), lambda: _data.digits(n, noise=1e-6, seed=ctx.seed))


def small_arch() -> Architecture:
    """Conv 3x3 (1 filter, tied bias) → dense 12 → linear 10 (``P = 584``).

    Wide at ``k = 1`` (``n_1 = 36 ≥ N``) for the bad critical point, and wide at the last
    hidden layer (``n_2 = 12 = N``) for Corollary 3.6's exact fit. One architecture for all
    checks here, so every derivative compiles once.
    """
    return Architecture((8, 8, 1), (Conv(1, (3, 3), bias="filter"), Dense(N_SMALL), Output(10)))


def random_params(arch: Architecture, rng: np.random.Generator) -> dict:
    """Weights ``N(0, 1/l_{k-1})``, biases ``N(0, 0.1²)`` (an absolutely continuous law, drawn in NumPy)."""
    lay = D.layout(arch)
    theta = np.concatenate([rng.standard_normal(leaf.size) * (1 / np.sqrt(leaf.shape[0]) if leaf.name == "W" else 0.1)
                            for leaf in lay.leaves])
    return lay.unravel(theta)


def _set_layer(params, k, W=None, b=None):
    out = {name: dict(leaves) for name, leaves in params.items()}
    if W is not None:
        out[f"layer_{k}"]["W"] = W
    if b is not None:
        out[f"layer_{k}"]["b"] = b
    return out


def zero_loss_point(ctx: Context):
    """Random lower layers; output layer fitted exactly: ``[F_{L−1}, 1] λ = Y`` by least squares (SVD)."""
    def build():
        ds = _digits(ctx)
        arch = small_arch()
        params = random_params(arch, ctx.rng("curvature/zero-loss"))
        F = np.asarray(model.features(arch, params, ds.X)[arch.L - 1])
        A = np.concatenate([F, np.ones((ds.N, 1))], axis=1)
        lam, *_ = np.linalg.lstsq(A, ds.Y, rcond=None)  # minimum-norm solution via SVD, no Gram inverse
        fitted = _set_layer(params, arch.L, W=lam[:-1], b=lam[-1])
        return arch, ds, params, fitted, rank_report(F, name=f"F_{arch.L - 1}")
    return ctx.cached("curvature/zero-loss-point", build)


def bad_critical_point(ctx: Context, *, constant_targets: bool = False):
    """THEORY.md §3: ``U_{k+1} = 0``, ``U_L = 0``, ``b_L`` = column mean of ``Y`` (other layers random)."""
    def build():
        ds = _digits(ctx)
        arch = small_arch()
        Y = np.repeat(ds.Y.mean(0, keepdims=True), ds.N, axis=0) if constant_targets else ds.Y
        params = random_params(arch, ctx.rng("curvature/bad-critical"))
        k = 1
        p = _set_layer(params, k + 1, W=np.zeros((arch.layer(k + 1).l, arch.layer(k + 1).T)))
        p = _set_layer(p, arch.L, W=np.zeros((arch.layer(arch.L).l, arch.layer(arch.L).T)), b=Y.mean(0))
        return arch, ds.X, Y, p, k
    return ctx.cached(("curvature/bad-critical-point", constant_targets), build)


def hessian_report(arch, params, X, Y) -> dict:
    """Dense ``H``, ``J``, ``JᵀJ``, eigenvalues, gradient and residuals at ``params`` (sum reduction)."""
    obj = D.objective(arch)
    theta, _ = D.flatten(params)
    X, Y = np.asarray(X), np.asarray(Y)
    H = np.asarray(D.hessian(obj, theta, X, Y))
    J = np.asarray(D.jacobian(obj, theta, X))
    g = np.asarray(D.gradient(obj, theta, X, Y))
    r = np.asarray(D.residuals(obj, theta, X, Y))
    return {"obj": obj, "theta": theta, "H": H, "J": J, "GN": J.T @ J, "eig": np.linalg.eigvalsh(H),
            "grad": g, "r": r, "loss": 0.5 * float(r @ r), "P": obj.P, "Nm": r.size}


def _spectral_norm_sym(A: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvalsh(A)))) if A.size else 0.0


def _zero_loss(ctx: Context) -> Result:
    arch, ds, _, fitted, frank = zero_loss_point(ctx)
    rep = ctx.cached("curvature/zero-loss-hessian", lambda: hessian_report(arch, fitted, ds.X, ds.Y))
    P, Nm, H, eig = rep["P"], rep["Nm"], rep["H"], rep["eig"]
    normH = float(np.max(np.abs(eig)))
    h31, _ = hyp.assumption_3_1(arch, ds.X)
    loss_tol = 1e-20 * max(1.0, float(np.sum(ds.Y ** 2)))
    hyps = [h31, hyp.wide_layer(arch, arch.L - 1, ds.N),
            Hypothesis(f"rank F_{arch.L - 1} = N (Corollary 3.6's fit exists)", frank.rank == ds.N and frank.conclusive,
                       str(frank)),
            Hypothesis("zero loss reached", rep["loss"] <= loss_tol, f"Φ = {rep['loss']:.3e} (≤ {loss_tol:.1e})")]
    gap = _spectral_norm_sym(H - rep["GN"]) / normH
    rH = rank_report(H, name="H")
    rJ = rank_report(rep["J"], name="J")
    zero_tol = rH.tol
    zeros = int(np.sum(np.abs(eig) <= zero_tol))
    ok = gap <= H_TOL and rH.rank == rJ.rank <= Nm and zeros >= P - Nm
    margin = min(H_TOL / max(gap, 1e-300), rH.margin, rJ.margin)
    conclusive = rH.conclusive and rJ.conclusive and (gap <= H_TOL / 10 or gap >= 10 * H_TOL)
    evidence = {"P": P, "Nm": Nm, "loss": rep["loss"], "relative_gap_H_minus_JtJ": gap, "tolerance": H_TOL,
                "norm_H": normH, "rank_H": rH.to_dict(), "rank_J": rJ.to_dict(), "zero_eigenvalues": zeros,
                "zero_eigenvalue_tol": zero_tol, "required_zero_eigenvalues": P - Nm,
                "smallest_nonzero_abs_eigenvalue": float(np.sort(np.abs(eig))[zeros]) if zeros < P else 0.0}
    return Result(decide(hyps, ok, conclusive), hyps, margin, evidence,
                  f"‖H − JᵀJ‖/‖H‖ = {gap:.2e}; rank H = rank J = {rJ.rank} ≤ Nm = {Nm}; "
                  f"{zeros} zero eigenvalues ≥ P − Nm = {P - Nm}")


def _zero_loss_converse(ctx: Context) -> Result:
    arch, ds, params, _, _ = zero_loss_point(ctx)
    rep = ctx.cached("curvature/random-hessian", lambda: hessian_report(arch, params, ds.X, ds.Y))
    eig, H = rep["eig"], rep["H"]
    normH = float(np.max(np.abs(eig)))
    gap = _spectral_norm_sym(H - rep["GN"]) / normH
    neg_tol = rep["P"] * EPS * normH
    hyps = [Hypothesis("zero loss (deliberately broken: output layer left random)", True,
                       f"Φ = {rep['loss']:.3e} > 0")]
    shown = gap > 10 * H_TOL and eig[0] < -neg_tol
    return Result(Verdict.HOLDS if shown else Verdict.FAILS, hyps, gap / H_TOL,
                  {"loss": rep["loss"], "relative_gap_H_minus_JtJ": gap, "lambda_min": float(eig[0]),
                   "negative_tol": neg_tol, "negative_eigenvalues": int(np.sum(eig < -neg_tol))},
                  f"with Φ = {rep['loss']:.3g} > 0: ‖H − JᵀJ‖/‖H‖ = {gap:.3g}, λ_min = {eig[0]:.3g} < 0")


def _bad_point_evidence(ctx: Context, constant_targets: bool):
    arch, X, Y, p, k = bad_critical_point(ctx, constant_targets=constant_targets)
    rep = ctx.cached(("curvature/bad-hessian", constant_targets), lambda: hessian_report(arch, p, X, Y))
    eig = rep["eig"]
    normH = max(float(np.max(np.abs(eig))), 1e-300)
    scale = max(float(np.linalg.norm(rep["J"], 2)) * float(np.linalg.norm(Y)), 1e-300)
    grad_tol = 1e3 * EPS * scale  # ∇Φ = Jᵀr: rounding is a few eps · ‖J‖ ‖r‖
    predicted = 0.5 * float(np.sum((Y - Y.mean(0)) ** 2))
    return arch, X, Y, k, rep, {
        "grad_norm": float(np.linalg.norm(rep["grad"])), "grad_tol": grad_tol, "loss": rep["loss"],
        "loss_predicted": predicted, "lambda_min": float(eig[0]), "lambda_max": float(eig[-1]),
        "negative_tol": rep["P"] * EPS * normH, "negative_eigenvalues": int(np.sum(eig < -rep["P"] * EPS * normH))}


def _bad_critical(ctx: Context) -> Result:
    arch, X, Y, k, rep, ev = _bad_point_evidence(ctx, False)
    U = np.asarray(model.full_weight_matrix(arch, D.layout(arch).unravel(rep["theta"]), k + 1))
    hyps = [Hypothesis(f"U_{k + 1} = 0, U_L = 0, b_L = ȳ (outside S_{k})", not U.any(),
                       f"U_{k + 1} has rank 0 < {min(U.shape)}"),
            Hypothesis("targets not constant (Y ≠ 1ȳᵀ)", ev["loss_predicted"] > 0,
                       f"½‖Y − 1ȳᵀ‖² = {ev['loss_predicted']:.4g}")]
    loss_ok = abs(ev["loss"] - ev["loss_predicted"]) <= 1e-12 * ev["loss_predicted"] and ev["loss"] > 0
    ok = ev["grad_norm"] <= ev["grad_tol"] and loss_ok and ev["lambda_min"] < -ev["negative_tol"]
    margin = min(ev["grad_tol"] / max(ev["grad_norm"], 1e-300), -ev["lambda_min"] / ev["negative_tol"])
    return Result(decide(hyps, ok, margin >= 10), hyps, margin, ev,
                  f"‖∇Φ‖ = {ev['grad_norm']:.1e}, Φ = {ev['loss']:.4g} > 0, λ_min = {ev['lambda_min']:.3g} "
                  f"({ev['negative_eigenvalues']} negative eigenvalues): a strict saddle")


def _bad_critical_converse(ctx: Context) -> Result:
    _, _, _, _, _, ev = _bad_point_evidence(ctx, True)
    hyps = [Hypothesis("targets not constant (deliberately broken: every y_i = ȳ)", True, "Y = 1ȳᵀ")]
    shown = ev["grad_norm"] <= ev["grad_tol"] and ev["loss"] <= 1e-25 and ev["lambda_min"] >= -ev["negative_tol"]
    return Result(Verdict.HOLDS if shown else Verdict.FAILS, hyps, None, ev,
                  f"with constant targets the same point has Φ = {ev['loss']:.1e} and λ_min = "
                  f"{ev['lambda_min']:.1e} ≥ −{ev['negative_tol']:.1e}: a global minimum, not a saddle")


def _gauss_newton_critical_point(ctx: Context):
    """From random parameters, Levenberg–Marquardt steps to a critical point of Φ.

    Each step is ``δ = V diag(s / (s² + μ)) Uᵀ r`` from the SVD ``J = U diag(s) Vᵀ``
    (no Gram matrix is inverted); ``μ`` shrinks after a decrease of Φ and grows otherwise.
    Stops when ``‖∇Φ‖ ≤ 1e3 · eps · ‖J‖₂ ‖Y‖`` or after 40 steps.
    """
    def build():
        ds = _digits(ctx)
        arch = small_arch()
        obj = D.objective(arch)
        theta, _ = D.flatten(random_params(arch, ctx.rng("curvature/critical")))
        X, Y = ds.X, ds.Y
        r = np.asarray(D.residuals(obj, theta, X, Y))
        mu, steps = 1.0, 0
        for steps in range(1, 41):
            U, s, Vt = np.linalg.svd(np.asarray(D.jacobian(obj, theta, X)), full_matrices=False)
            trial = theta - Vt.T @ ((s / (s * s + mu)) * (U.T @ r))
            r_trial = np.asarray(D.residuals(obj, trial, X, Y))
            if r_trial @ r_trial < r @ r:
                theta, r, mu = trial, r_trial, mu / 3
            else:
                mu *= 4
            if float(np.linalg.norm(D.gradient(obj, theta, X, Y))) <= 1e3 * EPS * s[0] * np.linalg.norm(Y):
                break
        return arch, obj, theta, X, Y, steps
    return ctx.cached("curvature/lm-critical", build)


def _critical_full_row_rank(ctx: Context) -> Result:
    arch, obj, theta, X, Y, steps = _gauss_newton_critical_point(ctx)
    J = np.asarray(D.jacobian(obj, theta, X))
    g = float(np.linalg.norm(D.gradient(obj, theta, X, Y)))
    r = float(np.linalg.norm(D.residuals(obj, theta, X, Y)))
    rJ = rank_report(J, name="J")
    grad_tol = 1e3 * EPS * rJ.sigma_max * float(np.linalg.norm(Y))
    r_tol = 1e-10 * float(np.linalg.norm(Y))
    hyps = [Hypothesis("critical point: ‖∇Φ‖ ≤ tol", g <= grad_tol,
                       f"‖∇Φ‖ = {g:.2e}, tol {grad_tol:.1e}, after {steps} Levenberg–Marquardt steps"),
            Hypothesis("J has full row rank", rJ.full_row_rank, str(rJ))]
    bound = g / rJ.sigma_min if rJ.sigma_min > 0 else np.inf
    ok = r <= r_tol and r <= bound * (1 + 1e-6) + 1e-300
    margin = min(r_tol / max(r, 1e-300), rJ.margin)
    return Result(decide(hyps, ok, rJ.conclusive), hyps, margin,
                  {"residual_norm": r, "residual_tol": r_tol, "bound_grad_over_sigma_min": bound,
                   "grad_norm": g, "rank_J": rJ.to_dict(), "levenberg_marquardt_steps": steps},
                  f"‖r‖ = {r:.2e} ≤ ‖∇Φ‖/σ_min(J) = {bound:.2e}; "
                  f"J {rJ.shape[0]}×{rJ.shape[1]} of full row rank")


def _critical_converse(ctx: Context) -> Result:
    arch, X, Y, k, rep, ev = _bad_point_evidence(ctx, False)
    rJ = rank_report(rep["J"], name="J")
    r = float(np.linalg.norm(rep["r"]))
    hyps = [Hypothesis("J has full row rank (deliberately broken: U_{k+1} = 0, U_L = 0)", True, str(rJ))]
    shown = (not rJ.full_row_rank) and rJ.conclusive and ev["grad_norm"] <= ev["grad_tol"] and r > 1e-3
    return Result(Verdict.HOLDS if shown else Verdict.FAILS, hyps, rJ.margin,
                  {"rank_J": rJ.to_dict(), "residual_norm": r, "grad_norm": ev["grad_norm"]},
                  f"critical (‖∇Φ‖ = {ev['grad_norm']:.1e}) with rank J = {rJ.rank} < Nm = {rJ.shape[0]} "
                  f"and ‖r‖ = {r:.3g} ≠ 0")


CHECKS = [
    Check("hessian-zero-loss", "§4 zero-loss Hessian", "at a zero-loss point H = JᵀJ, rank H = rank J ≤ Nm, "
          "≥ P − Nm zero eigenvalues", _zero_loss),
    Check("hessian-zero-loss-converse", "§4 zero-loss Hessian", "converse: with Φ > 0, H ≠ JᵀJ and H has "
          "negative eigenvalues", _zero_loss_converse, kind="converse"),
    Check("bad-critical-point", "§3 bad critical points", "U_{k+1} = 0, U_L = 0, b_L = ȳ: zero gradient, "
          "Φ > 0, a negative Hessian eigenvalue", _bad_critical),
    Check("bad-critical-point-converse", "§3 bad critical points", "converse: with constant targets the same "
          "point is a global minimum", _bad_critical_converse, kind="converse"),
    Check("critical-full-row-rank", "§4 critical points", "a critical point with J of full row rank has r = 0",
          _critical_full_row_rank),
    Check("critical-full-row-rank-converse", "§4 critical points", "converse: at a critical point with J "
          "rank deficient, r ≠ 0", _critical_converse, kind="converse"),
]
