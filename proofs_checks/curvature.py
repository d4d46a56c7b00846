"""Curvature at special points (THEORY.md §3 "bad critical points" and §4), and the second-order machinery.

* ``hessian-zero-loss``: at a zero-loss point (the output layer fitted exactly through a
  wide last hidden layer, Corollary 3.6's construction) ``∇²Φ = JᵀJ`` to rounding,
  ``rank ∇²Φ = rank J ≤ Nm`` and at least ``P − Nm`` eigenvalues are zero. Converse: the
  same network before the fit (``Φ > 0``): ``∇²Φ ≠ JᵀJ``.
* ``bad-critical-point``: ``U_{k+1} = 0``, ``U_L = 0``, ``b_L = ȳ`` (built by
  :func:`theory_lab.loss_surface.bad_critical_point`) lies outside ``S_k``, has zero
  gradient, ``Φ = ½‖Y − 1ȳᵀ‖² > 0`` and a negative Hessian eigenvalue (a strict saddle).
  Converse: with constant targets the same point has ``Φ = 0``.
* ``critical-full-row-rank``: a critical point where ``J`` has full row rank has ``r = 0``
  (``‖r‖ ≤ ‖∇Φ‖ / σ_min(J)``), at a point found by :func:`theory_lab.critical.find_critical_point`.
  Converse: at the bad critical point ``J`` is rank deficient and ``r ≠ 0``.
* ``hvp-dense`` / ``lanczos-dense``: :func:`theory_lab.derivatives.hvp`, ``linearize_hvp`` and
  :func:`theory_lab.spectrum.lanczos` (its Ritz values and the residuals it reports) against a dense Hessian
  from ``jax.hessian`` of the
  loss written here (independent of :mod:`theory_lab.derivatives`), at a point with ``Φ > 0``
  where the residual term separates ``∇²Φ`` from ``JᵀJ``.

Dense Hessians, Jacobians and gradients at a point come from
:func:`theory_lab.curvature_report.hessian_report`; inertia from
:func:`theory_lab.linalg.inertia_report` at the eigensolver tolerance :func:`theory_lab.tolerances.eigen_tol`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks import s4_instances as S
from theory_lab import critical, loss_surface, model, spectrum
from theory_lab import derivatives as D
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, conclude
from theory_lab.curvature_report import hessian_report
from theory_lab.linalg import inertia_report, rank_report
from theory_lab.sampling import sample_params

__all__ = ["CHECKS", "zero_loss_point", "bad_critical_point", "reference_hessian", "hvp_arch"]


#: samples of the zero-loss instance: fewer than ``n_2 = 12``, so ``F_2 (N × 12)`` is a wide random matrix whose
#: smallest singular value stays away from 0. With ``N = n_2`` (square) it is near 0 at some seeds; the fitted
#: output weights then grow like ``1/σ_min(F_2)``, ``cond(∇²Φ) = cond(J)²`` passes ``1/(P·eps)`` and float64
#: cannot decide ``rank ∇²Φ`` (inconclusive at 4 of 22 seeds before this; 0 of 41 with ``N = 8``, smallest margin 307).
N_FIT = S.N_TINY


def zero_loss_point(ctx: Context):
    """Random lower layers; output layer fitted exactly: ``[F_{L−1}, 1] λ = Y`` by least squares (SVD),
    on the first :data:`N_FIT` digits."""
    def build():
        ds = S.digits(ctx, N_FIT)
        arch = S.small_arch()
        params = S.params(arch, ctx, "curvature/zero-loss")
        F = np.asarray(model.features(arch, params, ds.X)[arch.L - 1])
        A = np.concatenate([F, np.ones((ds.N, 1))], axis=1)
        lam, *_ = np.linalg.lstsq(A, ds.Y, rcond=None)  # minimum-norm solution via SVD, no Gram inverse
        fitted = dict(params, **{f"layer_{arch.L}": {"W": jnp.asarray(lam[:-1]), "b": jnp.asarray(lam[-1])}})
        return arch, ds, params, fitted, rank_report(F, name=f"F_{arch.L - 1}")
    return ctx.cached("curvature/zero-loss-point", build)


def bad_critical_point(ctx: Context, *, constant_targets: bool = False):
    """THEORY.md §3's point from :func:`theory_lab.loss_surface.bad_critical_point` on :func:`small_arch`."""
    def build():
        ds = S.digits(ctx, S.N_SMALL)
        arch, k = S.small_arch(), 1
        Y = np.repeat(ds.Y.mean(0, keepdims=True), ds.N, axis=0) if constant_targets else ds.Y
        p = loss_surface.bad_critical_point(arch, S.params(arch, ctx, "curvature/bad-critical"), Y, k)
        return arch, ds.X, Y, p, k
    return ctx.cached(("curvature/bad-critical-point", constant_targets), build)


def _norm2(A) -> float:
    return float(np.linalg.norm(A, 2)) if np.size(A) else 0.0


def _fro(v) -> float:
    """``‖v‖_F`` scaled (:func:`tolerances.frobenius_norm`: a gradient below ~1e-154 is not 0); NaN if not finite."""
    v = np.asarray(v, dtype=np.float64)
    return T.frobenius_norm(v) if np.all(np.isfinite(v)) else float("nan")


def _outputs(rep: dict, Y) -> np.ndarray:
    """``F_L`` (flattened) from a :func:`hessian_report`'s residual ``r = F_L − Y``: the critical tolerance's scale."""
    return np.asarray(Y, dtype=np.float64).ravel() + np.asarray(rep["r"])


def _sym_norm(A) -> float:
    """``‖A‖₂`` of a symmetric matrix from its eigenvalues (cheaper than an SVD)."""
    return float(np.max(np.abs(np.linalg.eigvalsh(A)))) if np.size(A) else 0.0


def _inertia(rep, extra: float = 0.0):
    """Exact inertia at the eigensolver tolerance, plus ``extra`` (a known perturbation's norm)."""
    normH = float(np.max(np.abs(rep["eig"])))
    tol = T.eigen_tol(rep["P"], normH)
    return inertia_report(rep["eig"], tol=tol.value + extra, band=tol.band), tol


def _zero_loss(ctx: Context) -> Result:
    arch, ds, _, fitted, frank = zero_loss_point(ctx)
    rep = ctx.cached("curvature/zero-loss-hessian", lambda: hessian_report(arch, fitted, ds.X, ds.Y))
    P, Nm = rep["P"], rep["Nm"]
    h31, _ = hyp.assumption_3_1(arch, ds.X)
    zero, r = T.zero_residual_tol(ds.Y), _fro(rep["r"])  # zero loss on ‖r‖ (⇔ Φ ≤ zero_loss_tol), nothing squared
    hyps = [h31, hyp.wide_layer(arch, arch.L - 1, ds.N),
            Hypothesis(f"rank F_{arch.L - 1} = N (Corollary 3.6's fit exists)", frank.rank == ds.N and frank.conclusive,
                       str(frank)),
            Hypothesis("zero loss", r <= zero.value,
                       f"‖r‖ = {r:.3e} ({hyp.relation(r, zero.value)} {zero.value:.1e}); Φ = {rep['loss']:.3e}")]
    ev = Evidence()
    resid = _sym_norm(rep["H"] - rep["GN"])  # the residual term Σ r_a ∇²f_a: "zero loss" is a tolerance, not Φ = 0
    ev.at_most("‖H − JᵀJ‖₂ / ‖H‖₂", resid / float(np.max(np.abs(rep["eig"]))), T.IDENTITY)
    rJ = rank_report(rep["J"], name="J")
    # H's singular values and eigenvalues lie within ‖H − JᵀJ‖₂ of JᵀJ's (Weyl): that distance joins the rounding
    rH = rank_report(rep["H"], tol=T.svd_rank_tol(rep["H"].shape, _norm2(rep["H"])).value + resid, name="H")
    ev.rank("rank J ≤ Nm", rJ, Nm, "<=")
    ev.rank("rank H = rank J", rH, rJ.rank)
    inertia, tol = _inertia(rep, extra=resid)
    ev.observe(f"at least P − Nm = {P - Nm} zero eigenvalues", inertia.zero >= P - Nm,
               margin=inertia.margin if inertia.zero >= P - Nm else 1 / max(inertia.margin, 1.0),
               conclusive=inertia.conclusive, detail=str(inertia))
    ev.facts.update(P=P, Nm=Nm, loss=rep["loss"], inertia=inertia.to_dict())
    return conclude("at zero loss H = JᵀJ, rank H = rank J ≤ Nm, ≥ P − Nm zero eigenvalues", hyps, ev)


def _zero_loss_converse(ctx: Context) -> Result:
    arch, ds, params, _, _ = zero_loss_point(ctx)
    rep = ctx.cached("curvature/random-hessian", lambda: hessian_report(arch, params, ds.X, ds.Y))
    zero, r = T.zero_residual_tol(ds.Y), _fro(rep["r"])
    broken = [Hypothesis("zero loss (broken: output layer left random)", r <= zero.value,
                         f"‖r‖ = {r:.3e} ({hyp.relation(r, zero.value)} {zero.value:.1e}); Φ = {rep['loss']:.3e}")]
    ev = Evidence()
    ev.at_most("‖H − JᵀJ‖₂ / ‖H‖₂", _sym_norm(rep["H"] - rep["GN"]) / float(np.max(np.abs(rep["eig"]))),
               T.IDENTITY)
    return conclude("H = JᵀJ", [hyp.wide_layer(arch, arch.L - 1, ds.N)], ev, broken=broken)


def _bad_hypotheses(arch, X, Y, k):
    spread = 0.5 * float(np.sum((Y - Y.mean(0)) ** 2))
    dev = _fro(np.asarray(Y, dtype=np.float64) - np.asarray(Y, dtype=np.float64).mean(0))  # ‖Y − 1ȳᵀ‖, scaled
    return [Hypothesis("targets not constant (Y ≠ 1ȳᵀ)", dev > T.zero_residual_tol(Y).value,
                       f"‖Y − 1ȳᵀ‖ = {dev:.4g} (½‖Y − 1ȳᵀ‖² = {spread:.4g})"),
            Hypothesis("a hidden layer between k and L (k + 1 < L)", k + 1 < arch.L, f"k = {k}, L = {arch.L}")], spread


def _bad_critical(ctx: Context) -> Result:
    arch, X, Y, p, k = bad_critical_point(ctx)
    rep = ctx.cached(("curvature/bad-hessian", False), lambda: hessian_report(arch, p, X, Y))
    hyps, spread = _bad_hypotheses(arch, X, Y, k)
    hyps.append(S.h41(arch, k, X.shape[0]))
    m = loss_surface.membership(arch, p, X, k)
    ev = Evidence()
    ev.observe(f"outside S_{k}", not m.member, margin=max(S.membership_margin(m), 1.0) if not m.member else 0.5,
               conclusive=m.conclusive, detail=str(m))
    ev.at_most("‖∇Φ‖", _fro(rep["grad"]), T.critical_tol(_norm2(rep["J"]), Y, outputs=_outputs(rep, Y)))
    ev.at_most("|Φ − ½‖Y − 1ȳᵀ‖²| / Φ", abs(rep["loss"] - spread) / max(spread, 1e-300), T.IDENTITY)
    inertia, tol = _inertia(rep)
    ev.at_least("−λ_min(H) (a negative eigenvalue: strict saddle)", -inertia.min_eigenvalue, tol)
    ev.facts.update(loss=rep["loss"], inertia=inertia.to_dict(), membership=m.to_dict())
    return conclude("a critical point outside S_k with Φ = ½‖Y − 1ȳᵀ‖² > 0, a strict saddle", hyps, ev)


def _bad_critical_converse(ctx: Context) -> Result:
    arch, X, Y, p, k = bad_critical_point(ctx, constant_targets=True)
    rep = ctx.cached(("curvature/bad-hessian", True), lambda: hessian_report(arch, p, X, Y))
    hyps, _ = _bad_hypotheses(arch, X, Y, k)
    ev = Evidence()
    ev.at_least("‖r‖ (> 0 at a bad critical point)", _fro(rep["r"]), T.zero_residual_tol(np.asarray(Y)))
    return conclude("Φ > 0 at U_{k+1} = 0, U_L = 0, b_L = ȳ", hyps[1:], ev, broken=hyps[:1])


def _found_critical_point(ctx: Context):
    """A critical point of ``small_arch`` from a random start, found by the library's search."""
    def build():
        ds = S.digits(ctx, S.N_SMALL)
        arch = S.small_arch()
        res = critical.find_critical_point(arch, S.params(arch, ctx, "curvature/critical"), ds.X, ds.Y, k=1,
                                           classify=False, max_iter=100, gtol=1e-13)
        return arch, ds.X, ds.Y, res
    return ctx.cached("curvature/found-critical", build)


def _residual_is_zero(ev: Evidence, r: float, g: float, sigma_min: float, Y) -> None:
    """Observe ``r = 0`` at a critical point: ``‖r‖`` (scalar) against :func:`tolerances.zero_residual_tol`.

    Below the critical tolerance is not yet critical: ``‖∇Φ‖ ≥ σ_min(J)‖r‖`` admits ``‖r‖ ≤ ‖∇Φ‖/σ_min``, and
    ``r ≠ 0`` inside that is explained by ``∇Φ ≠ 0`` (inconclusive). Decided on ``‖r‖``, not ``Φ = ½‖r‖²``: the
    same decision (``Φ ≤ zero_loss_tol ⇔ ‖r‖ ≤ zero_residual_tol``), with nothing squared into subnormals.
    """
    zero = T.zero_residual_tol(Y)
    r_max = g / sigma_min if sigma_min > 0 else 0.0
    if r > zero.value and sigma_min > 0 and r <= r_max * np.sqrt(T.BOUND.band):
        ev.observe("‖r‖", False, margin=zero.value / r, conclusive=False,
                   detail=f"‖r‖ = {r:.3e} > {zero.value:.1e} (zero loss), but ‖∇Φ‖ = {g:.2e} admits ‖r‖ ≤ "
                          f"‖∇Φ‖/σ_min(J) = {r_max:.3e}: the point may not be critical")
    else:
        ev.at_most("‖r‖", r, zero, detail=f"‖r‖ = {r:.3e} {'≤' if r <= zero.value else '>'} {zero.value:.3e} "
                                          f"({zero.name}; Φ = ½‖r‖² = {0.5 * r * r:.3e})")


def _critical_full_row_rank(ctx: Context) -> Result:
    arch, X, Y, res = _found_critical_point(ctx)
    obj = D.objective(arch)
    theta = obj.layout.ravel(res.params)
    J = np.asarray(D.jacobian(obj, theta, X))
    g, r = _fro(D.gradient(obj, theta, X, Y)), _fro(D.residuals(obj, theta, X, Y))  # scaled: exact below ~1e-154
    rJ = rank_report(J, tol=T.solver_rank_tol(_norm2(J)).value, name="J")
    crit = T.critical_tol(rJ.sigma_max, Y, outputs=np.asarray(D.outputs(obj, theta, X)))
    hyps = [Hypothesis("critical point", g <= crit.value, f"‖∇Φ‖ = {g:.2e} {hyp.relation(g, crit.value)} {crit.value:.1e}: {res.message}"),
            Hypothesis("J has full row rank (solver forward-error tolerance)", rJ.full_row_rank and rJ.conclusive,
                       str(rJ))]
    ev = Evidence()
    ev.at_most("‖r‖ σ_min(J) / ‖∇Φ‖", r * rJ.sigma_min / g if g > 0 else (0.0 if r == 0 else np.inf), T.BOUND)
    _residual_is_zero(ev, r, g, rJ.sigma_min, Y)
    ev.facts.update(residual_norm=r, grad_norm=g, rank_J=rJ.to_dict(), search=res.message)
    return conclude("a critical point with J of full row rank has r = 0", hyps, ev)


def _critical_converse(ctx: Context) -> Result:
    arch, X, Y, p, k = bad_critical_point(ctx)
    rep = ctx.cached(("curvature/bad-hessian", False), lambda: hessian_report(arch, p, X, Y))
    rJ = rank_report(rep["J"], name="J")
    g = _fro(rep["grad"])
    crit = T.critical_tol(rJ.sigma_max, Y, outputs=_outputs(rep, Y))
    kept = [Hypothesis("critical point", g <= crit.value, f"‖∇Φ‖ = {g:.2e} {hyp.relation(g, crit.value)} {crit.value:.1e}")]
    broken = [Hypothesis("J has full row rank (broken at U_{k+1} = 0, U_L = 0)", rJ.full_row_rank, str(rJ))]
    ev = Evidence()
    ev.at_most("‖r‖", _fro(rep["r"]), T.zero_residual_tol(Y))  # ⇔ Φ ≤ zero_loss_tol, nothing squared
    return conclude("r = 0 at a critical point", kept, ev, broken=broken)


# ----------------------------------------------------------------------------- HVP and Lanczos vs dense


def hvp_arch() -> Architecture:
    """Dense 6 → 6 → 4 → 3 sigmoid net (``P = 85``): small enough for ``jax.hessian`` of the loss."""
    return Architecture((6,), (Dense(6), Dense(4), Output(3)))


def _phi(arch, theta, X, Y):
    p = D.layout(arch).unravel(theta)
    R = model.apply(arch, p, X) - Y
    return 0.5 * jnp.sum(R * R)


@functools.partial(jax.jit, static_argnums=0)
def _reference(arch, theta, X, Y):
    """``∇²Φ`` and ``JᵀJ`` by ``jax.hessian`` / ``jax.jacfwd`` of the loss written here."""
    H = jax.hessian(lambda t: _phi(arch, t, X, Y))(theta)
    J = jax.jacfwd(lambda t: model.apply(arch, D.layout(arch).unravel(t), X).reshape(-1))(theta)
    return H, J.T @ J


def reference_hessian(ctx: Context):
    """A point with ``Φ > 0`` of :func:`hvp_arch` on 10 Gaussian samples and its dense references."""
    def build():
        arch = hvp_arch()
        rng = ctx.rng("curvature/hvp")
        X, Y = rng.standard_normal((10, 6)), rng.standard_normal((10, 3))
        theta = D.layout(arch).ravel(sample_params(arch, rng, law="normal", scale=1.5))
        H, GN = (np.asarray(a) for a in _reference(arch, theta, jnp.asarray(X), jnp.asarray(Y)))
        return arch, X, Y, theta, H, GN
    return ctx.cached("curvature/hvp-reference", build)


def _separates(H, GN) -> Hypothesis:
    gap = _norm2(H - GN) / _norm2(H)
    return Hypothesis("the instance separates ∇²Φ from JᵀJ (‖H − JᵀJ‖/‖H‖ ≥ 1e-2)", gap >= 1e-2, f"{gap:.3g}")


def _hvp_dense(ctx: Context) -> Result:
    arch, X, Y, theta, H, GN = reference_hessian(ctx)
    obj = D.objective(arch)
    V = ctx.rng("curvature/hvp/V").standard_normal((3, obj.P))
    ref = V @ H
    scale = _norm2(H) * float(np.linalg.norm(V))
    ev = Evidence()
    ev.at_most("‖hvp(V) − H V‖ / (‖H‖ ‖V‖)", float(np.linalg.norm(np.asarray(D.hvp(obj, theta, X, Y, V)) - ref)) / scale,
               T.IDENTITY)
    lin = D.linearize_hvp(obj, theta, X, Y)
    ev.at_most("‖linearize_hvp(V) − H V‖ / (‖H‖ ‖V‖)", float(np.linalg.norm(np.asarray(lin(V)) - ref)) / scale,
               T.IDENTITY)
    ev.at_most("‖hessian − H‖₂ / ‖H‖₂", _norm2(np.asarray(D.hessian(obj, theta, X, Y)) - H) / _norm2(H), T.IDENTITY)
    return conclude("Hessian-vector products equal the dense ∇²Φ", [_separates(H, GN)], ev)


def _lanczos_dense(ctx: Context) -> Result:
    arch, X, Y, theta, H, GN = reference_hessian(ctx)
    obj = D.objective(arch)
    eig = np.linalg.eigvalsh(H)
    k = 4
    top, bottom = spectrum.lanczos(D.HessianMatvec(obj), obj.P, ctx.key("curvature/lanczos"), theta, X, Y, k=k,
                                   which="both", num_matvecs=obj.P)
    tol = T.identity_tol(_norm2(H))
    ev = Evidence()
    for name, pairs, exact in (("top", top, eig[::-1][:k]), ("bottom", bottom, eig[:k])):
        for i in range(k):
            ev.at_most(f"|λ_{name}{i + 1} − dense|", abs(float(pairs.values[i]) - float(exact[i])), tol)
        V = np.asarray(pairs.vectors)
        ev.at_most(f"‖VᵀV − I‖ ({name} Ritz vectors)", float(np.linalg.norm(V @ V.T - np.eye(k))), T.IDENTITY)
        # the residuals it reports (from its own products) against ‖H v − λ v‖ with the dense H
        true = np.linalg.norm(V @ H - np.asarray(pairs.values)[:, None] * V, axis=1)
        ev.at_most(f"max |reported − dense| Ritz residual ({name})",
                   float(np.max(np.abs(np.asarray(pairs.residuals) - true))), tol)
    hyps = [_separates(H, GN), Hypothesis("top and bottom eigenvalues distinct (gap > 1e-6 ‖H‖)",
                                          bool(np.min(np.diff(eig[:k + 1])) > 1e-6 * _norm2(H)
                                               and np.min(np.diff(eig[-k - 1:])) > 1e-6 * _norm2(H)),
                                          f"λ = {eig[:k].round(4).tolist()} … {eig[-k:].round(4).tolist()}")]
    ev.facts.update(dense_top=eig[::-1][:k], dense_bottom=eig[:k])
    return conclude("Lanczos' extreme Ritz pairs equal the dense eigenvalues, orthonormal, with their true residuals", hyps, ev)


CHECKS = [
    Check("hessian-zero-loss", "§4 zero-loss Hessian", "at a zero-loss point H = JᵀJ, rank H = rank J ≤ Nm, "
          "≥ P − Nm zero eigenvalues", _zero_loss),
    Check("hessian-zero-loss-converse", "§4 zero-loss Hessian", "converse: with Φ > 0, H ≠ JᵀJ",
          _zero_loss_converse, kind="converse"),
    Check("bad-critical-point", "Outside S_k", "U_{k+1} = 0, U_L = 0, b_L = ȳ: outside S_k, zero gradient, "
          "Φ = ½‖Y − 1ȳᵀ‖² > 0, a strict saddle", _bad_critical),
    Check("bad-critical-point-converse", "Outside S_k", "converse: with constant targets the same point has Φ = 0",
          _bad_critical_converse, kind="converse"),
    Check("critical-full-row-rank", "§4 critical points", "a critical point with J of full row rank has r = 0",
          _critical_full_row_rank),
    Check("critical-full-row-rank-converse", "§4 critical points", "converse: at a critical point with J "
          "rank deficient, r ≠ 0", _critical_converse, kind="converse"),
    Check("hvp-dense", "§4 Hessian machinery", "hvp, linearize_hvp and hessian equal jax.hessian of the loss",
          _hvp_dense),
    Check("lanczos-dense", "§4 Hessian machinery", "Lanczos' extreme eigenpairs equal the dense spectrum",
          _lanczos_dense),
]
