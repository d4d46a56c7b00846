"""Checks of the loss-surface results (THEORY.md §3 from ``S_k`` on; paper §4).

* Lemma 4.3: both gradient bounds at random parameters; converse: a layer that widens
  after ``k`` makes the lower bound vacuous (and its naive reading false).
* Theorem 4.4: on ``S_k``, ``Φ = 0`` iff ``∇_{U_{k+1}} Φ = 0``, at zero-loss and non-zero-loss
  points; converse: with a widening layer, a point of ``S_k`` with ``∇Φ = 0`` and ``Φ > 0``.
* Theorem 4.5 / Corollary 4.6: critical points found from random starts on wide networks
  with classification targets are global minima (``Φ`` at rounding level).
* Lemma 4.2 probe: how often random parameters fall outside ``S_k``.
* Converses: the bad critical point outside ``S_k`` (a strict saddle), and critical points
  with ``Φ > 0`` on a narrow network (``n_k < N``), found and classified.

The instances are small (``N`` = 8 to 40) so that all of them together run in seconds;
``benchmarks/bench_critical.py`` runs the finder at scale.
"""

from __future__ import annotations

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks.instances import digits_instance
from theory_lab import critical, loss_surface, model
from theory_lab import data as _data
from theory_lab import derivatives as D
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, decide
from theory_lab.linalg import rank_report
from theory_lab.sampling import sample_params

__all__ = ["CHECKS", "ZERO_LOSS_RTOL"]

N_WIDE = 20
N_NARROW = 40
STARTS = 6  # random starts per class encoding for Theorem 4.5
#: ``Φ`` counts as zero when ``Φ ≤ ZERO_LOSS_RTOL · ½‖Y‖²`` (relative residual ≤ 1e-8).
ZERO_LOSS_RTOL = 1e-16
GTOL = 1e-10


# ----------------------------------------------------------------------------- instances

def _digits(ctx: Context, N: int):
    return ctx.cached(("loss-surface-digits", N), lambda: _data.digits(N, noise=1e-6, seed=ctx.seed))


def _pyramidal() -> Architecture:
    """Wide at k = 1 (n_1 = 72), layer 2 dense and narrower than N = 20: 72 ≥ 10 ≥ 10."""
    return Architecture((8, 8, 1), (Conv(2, (3, 3)), Dense(10), Output(10)))


def _wide_last() -> Architecture:
    """Wide at k = 1 (n_1 = 36) and k = 2 (n_2 = 24 ≥ N = 20); the output layer k + 1 = 3 is dense."""
    return Architecture((8, 8, 1), (Conv(1, (3, 3)), Dense(24), Output(10)))


def _narrow() -> Architecture:
    """n_1 = 4 < N = 40: conv 3x3, stride 3, one filter, then the linear output."""
    return Architecture((8, 8, 1), (Conv(1, (3, 3), stride=3), Output(10)))


def _widening() -> Architecture:
    """Wide at k = 1 (n_1 = 12 ≥ N = 8), then 3 → 6: the output layer widens (not pyramidal)."""
    return Architecture((6,), (Dense(12), Dense(3), Output(6)))


def _params(arch: Architecture, ctx: Context, name: str) -> dict:
    """Random parameters (LeCun-normal weights, N(0, 0.1²) biases) drawn with numpy: no compilation."""
    return sample_params(arch, ctx.rng(name))


def _encodings(ctx: Context) -> dict:
    Z = ctx.rng("loss-surface/Z").standard_normal((10, 10))
    return {"identity": np.eye(10), "random": Z}


def _zero_tol(Y) -> float:
    return ZERO_LOSS_RTOL * 0.5 * float(np.sum(np.asarray(Y) ** 2))


def _h41(arch: Architecture, k: int, N: int, prefix: str = "") -> Hypothesis:
    rep = arch.assumption_4_1(k, N)
    return Hypothesis(f"{prefix}Assumption 4.1 (k = {k})", rep.holds, "; ".join(rep.reasons) or "all parts hold")


def _h31(arch: Architecture, X, prefix: str = "") -> Hypothesis:
    h, _ = hyp.assumption_3_1(arch, X)
    return Hypothesis(prefix + h.name, h.met, h.detail)


# ----------------------------------------------------------------------------- Lemma 4.3

def _lemma_4_3(ctx: Context) -> Result:
    ds = _digits(ctx, N_WIDE)
    rows, hyps, ok, margins = [], [], True, []
    for name, arch, k in (("pyramidal", _pyramidal(), 1), ("wide-last", _wide_last(), 1),
                          ("wide-last", _wide_last(), 2)):
        hyps.append(_h41(arch, k, N_WIDE, f"{name}: "))
        for i in range(3):
            params = _params(arch, ctx, f"lemma-4.3/{name}/{i}")
            b = loss_surface.gradient_bounds(arch, params, ds.X, ds.Y, k)
            ok &= b.holds
            margins.append(min(b.grad_norm / b.lower, b.upper / b.grad_norm))
            rows.append({"instance": name, "k": k, "draw": i, "grad_norm": b.grad_norm, "lower": b.lower,
                         "upper": b.upper, "lower/grad": b.lower_tightness, "grad/upper": b.upper_tightness,
                         "holds": b.holds})
    hyps.append(_h31(_pyramidal(), ds.X))
    margin = min(margins)
    tight = [r["lower/grad"] for r in rows], [r["grad/upper"] for r in rows]
    return Result(decide(hyps, ok, margin > 1 + 1e-9), hyps, margin, {"points": rows},
                  f"{len(rows)} random points: lower ≤ ‖∇_U Φ‖ ≤ upper; lower/‖∇‖ in "
                  f"[{min(tight[0]):.1e}, {max(tight[0]):.1e}], ‖∇‖/upper in "
                  f"[{min(tight[1]):.1e}, {max(tight[1]):.1e}]")


def _widening_point(ctx: Context):
    def build():
        arch = _widening()
        X = ctx.rng("widening/X").standard_normal((8, 6))
        params = _params(arch, ctx, "widening/params")
        Y = loss_surface.widening_critical_targets(arch, params, X, scale=1.0, seed=ctx.seed)
        return arch, X, Y, params
    return ctx.cached("loss-surface-widening", build)


def _widening_evidence(arch, X, Y, params):
    k = 1
    b = loss_surface.gradient_bounds(arch, params, X, Y, k)
    bp = loss_surface.backprop(arch, params, X, Y, k)
    obj = D.objective(arch)
    g = np.asarray(D.gradient(obj, obj.layout.ravel(params), X, Y))
    member = loss_surface.membership(arch, params, X, k)
    delta_L = np.asarray(bp.delta[arch.L])
    U_L = np.asarray(bp.U[arch.L])
    return b, member, {
        "assumption_4_1": arch.assumption_4_1(k, X.shape[0]).to_dict(),
        "loss": 0.5 * float(np.sum(delta_L ** 2)), "full_gradient_norm": float(np.linalg.norm(g)),
        "grad_U_k+1_norm": b.grad_norm, "lower_bound": b.lower, "lower_bound_naive": b.lower_naive,
        "upper_bound": b.upper, "tol": b.tol,
        "where_it_fails": {"‖Δ_L U_Lᵀ‖": float(np.linalg.norm(delta_L @ U_L.T)),
                           "σ_min_naive(U_L)·‖Δ_L‖": float(np.linalg.svd(U_L, compute_uv=False)[-1]
                                                          * np.linalg.norm(delta_L)),
                           "U_L shape": list(U_L.shape)},
        "membership": member.to_dict()}


def _lemma_4_3_widening(ctx: Context) -> Result:
    arch, X, Y, params = _widening_point(ctx)
    b, member, ev = _widening_evidence(arch, X, Y, params)
    rep = arch.assumption_4_1(1, X.shape[0])
    broken = [name for name, okp in rep.parts if not okp]
    hyps = [Hypothesis("only the pyramidal part of Assumption 4.1 is broken", broken == ["pyramidal after layer k"],
                       f"failing parts: {broken}")]
    vacuous = b.lower == 0.0
    naive_false = b.lower_naive > b.grad_norm + b.tol
    shown = vacuous and naive_false
    margin = b.lower_naive / max(b.grad_norm + b.tol, np.finfo(float).tiny)
    return Result(Verdict.HOLDS if (shown and hyps[0].met) else Verdict.FAILS, hyps, margin, ev,
                  f"widening output (3 → 6): the lower bound is {b.lower:g} (vacuous); its naive reading "
                  f"{b.lower_naive:.3e} exceeds ‖∇_U Φ‖ = {b.grad_norm:.1e} at a point with Φ = {ev['loss']:.3g}")


# ----------------------------------------------------------------------------- Theorem 4.4

def _zero_loss_point(ctx: Context):
    """A zero-loss point of the wide-last network on Gaussian targets (no class structure)."""
    def build():
        ds = _digits(ctx, N_WIDE)
        arch = _wide_last()
        Y = ctx.rng("theorem-4.4/Y").standard_normal((N_WIDE, 10))
        res = critical.find_critical_point(arch, _params(arch, ctx, "theorem-4.4/start"), ds.X, Y, k=1,
                                           classify=False, max_iter=300)
        return arch, ds, Y, res
    return ctx.cached("loss-surface-zero-loss", build)


def _theorem_4_4(ctx: Context) -> Result:
    arch, ds, Y, res = _zero_loss_point(ctx)
    k, N = 1, N_WIDE
    hyps = [_h31(arch, ds.X), _h41(arch, k, N)]
    tol_phi = _zero_tol(Y)
    points, ok, conclusive, margins = [], True, True, []
    # zero-loss point (⇒): Φ = 0 there, and the gradient in U_{k+1} vanishes
    b = loss_surface.gradient_bounds(arch, res.params, ds.X, Y, k)
    m = res.membership
    c = b.lower / b.residual_norm if b.residual_norm > 0 else float("nan")
    certified = 0.5 * (b.grad_norm / c) ** 2 if c > 0 else float("inf")  # Lemma 4.3: ‖F_L−Y‖ ≤ ‖∇_U‖/c
    # (⇒) Φ = 0 gives ∇_U Φ = 0; (⇐) Lemma 4.3 turns the small ∇_U Φ into a bound on Φ itself
    zero = res.converged and res.loss <= tol_phi and b.grad_norm <= GTOL and certified <= tol_phi
    ok &= zero and m.member
    conclusive &= m.conclusive
    margins.append(tol_phi / max(res.loss, 1e-300))
    points.append({"kind": "zero-loss (found)", "converged": res.converged, "loss": res.loss,
                   "grad_U_norm": b.grad_norm, "in_S_k": m.member, "S_k_conclusive": m.conclusive,
                   "lemma_4_3_factor": c, "loss_certified_by_gradient": certified, "reasons": list(m.reasons)})
    # non-zero-loss points (⇐, contrapositive): Φ > 0 forces ‖∇_U Φ‖ ≥ c ‖F_L − Y‖ > 0
    for i in range(3):
        params = _params(arch, ctx, f"theorem-4.4/random/{i}")
        m = loss_surface.membership(arch, params, ds.X, k)
        b = loss_surface.gradient_bounds(arch, params, ds.X, Y, k)
        nonzero = b.lower > b.tol and b.grad_norm >= b.lower - b.tol
        ok &= m.member and nonzero
        conclusive &= m.conclusive
        margins.append(b.lower / b.tol)
        points.append({"kind": "random (Φ > 0)", "loss": 0.5 * b.residual_norm ** 2, "grad_U_norm": b.grad_norm,
                       "lower_bound": b.lower, "in_S_k": m.member, "S_k_conclusive": m.conclusive})
    margin = min(margins)
    return Result(decide(hyps, ok, conclusive), hyps, margin, {"points": points, "zero_loss_tol": tol_phi},
                  f"in S_1: Φ = {points[0]['loss']:.1e} with ‖∇_U Φ‖ = {points[0]['grad_U_norm']:.1e} (which "
                  f"certifies Φ ≤ {points[0]['loss_certified_by_gradient']:.1e}); "
                  f"3 points with Φ > 0 have ‖∇_U Φ‖ ≥ {min(p.get('lower_bound', np.inf) for p in points):.2e} > 0")


def _theorem_4_4_widening(ctx: Context) -> Result:
    arch, X, Y, params = _widening_point(ctx)
    b, member, ev = _widening_evidence(arch, X, Y, params)
    rep = arch.assumption_4_1(1, X.shape[0])
    broken = [name for name, okp in rep.parts if not okp]
    hyps = [Hypothesis("only the pyramidal part of Assumption 4.1 is broken", broken == ["pyramidal after layer k"],
                       f"failing parts: {broken}"),
            Hypothesis("the point lies in S_1 (conclusively)", member.member and member.conclusive, str(member))]
    scale = max(1.0, b.upper)
    shown = ev["loss"] > 0.1 and b.grad_norm <= 1e-12 * scale and ev["full_gradient_norm"] <= 1e-12 * scale
    margin = ev["loss"] / max(b.grad_norm, 1e-300)
    return Result(Verdict.HOLDS if (shown and all(h.met for h in hyps)) else Verdict.FAILS, hyps, margin, ev,
                  f"widening output: a critical point in S_1 with ∇Φ = {ev['full_gradient_norm']:.1e} but "
                  f"Φ = {ev['loss']:.3g}; the step ‖Δ_L U_Lᵀ‖ ≥ σ_min‖Δ_L‖ fails "
                  f"({ev['where_it_fails']['‖Δ_L U_Lᵀ‖']:.1e} < "
                  f"{ev['where_it_fails']['σ_min_naive(U_L)·‖Δ_L‖']:.2e})")


# ----------------------------------------------------------------------------- Theorem 4.5

def _search_summary(res, Y, tol_phi) -> dict:
    return {"converged": res.converged, "loss": res.loss, "grad_norm": res.grad_norm, "iterations": res.iterations,
            "seconds": round(res.seconds, 3), "in_S_k": res.in_S_k, "zero_loss": res.loss <= tol_phi,
            "S_k_conclusive": res.membership.conclusive, "reasons": list(res.membership.reasons)}


def _theorem_4_5(ctx: Context) -> Result:
    ds = _digits(ctx, N_WIDE)
    arch = _wide_last()
    hyps = [_h31(arch, ds.X)]
    for k in (1, 2):
        hyps.append(_h41(arch, k, N_WIDE, "wide-last: "))
        hyps.append(Hypothesis(f"layer k+1 = {k + 1} fully connected", arch.layer(k + 1).kind in ("dense", "output"),
                               arch.layer(k + 1).kind))
    runs, ok, conclusive, losses, count = {}, True, True, [], {"runs": 0, "converged": 0, "in_S_1": 0,
                                                                  "in_S_2": 0, "zero_loss": 0}
    for enc, Z in _encodings(ctx).items():
        z = rank_report(Z, name="Z")
        hyps.append(Hypothesis(f"class encoding {enc} full rank", z.full_rank and z.conclusive, str(z)))
        Y = ds.Y @ Z
        tol_phi = _zero_tol(Y)
        for i in range(STARTS):
            ctx.progress(f"theorem-4.5: {enc} start {i + 1}/{STARTS}")
            res = critical.find_critical_point(arch, _params(arch, ctx, f"theorem-4.5/{enc}/{i}"), ds.X, Y,
                                               k=2, classify=False, max_iter=300)
            m1 = loss_surface.membership(arch, res.params, ds.X, 1)
            row = _search_summary(res, Y, tol_phi)
            row["in_S_1"] = m1.member
            runs[f"{enc}/{i}"] = row
            count["runs"] += 1
            if not res.converged:
                continue
            count["converged"] += 1
            losses.append(res.loss)
            count["in_S_2"] += res.in_S_k
            count["in_S_1"] += m1.member
            count["zero_loss"] += row["zero_loss"]
            conclusive &= res.membership.conclusive and m1.conclusive
            if res.in_S_k or m1.member:
                ok &= row["zero_loss"]
    ok &= count["in_S_2"] > 0
    tol_phi = min(_zero_tol(ds.Y @ Z) for Z in _encodings(ctx).values())
    margin = tol_phi / max(max(losses, default=0.0), 1e-300)
    dist = {"min": min(losses, default=None), "median": float(np.median(losses)) if losses else None,
            "max": max(losses, default=None), "values": sorted(losses)}
    return Result(decide(hyps, ok, conclusive), hyps, margin,
                  {"counts": count, "final_losses": dist, "runs": runs, "zero_loss_rtol": ZERO_LOSS_RTOL,
                   "note": "S_k for a pyramidal k with n_{L-1} < N excludes zero-loss points of class targets: "
                           "Y Z⁻¹1 = 1 and [F_{L-1}, 1] of full column rank force U_L Z⁻¹1 = 0 "
                           "(probe class-targets-outside-S_k); here n_{L-1} = 24 ≥ N."},
                  f"{count['converged']}/{count['runs']} starts converged to ‖∇Φ‖ ≤ {GTOL:g}; "
                  f"{count['in_S_2']} in S_2, {count['in_S_1']} in S_1; all with Φ ≤ {dist['max']:.1e}")


def _class_targets_outside(ctx: Context) -> Result:
    """Pyramidal net with n_{L-1} = 10 < N = 20: zero-loss points of class targets are outside S_1.

    With ``v = Z⁻¹1``, ``Y v = 1``. Write ``A = [F_{L-1}, 1]`` and ``z = (U_L v, b_Lᵀv − 1)``;
    then ``A z = (F_L − Y) v``, so ``‖U_L v‖ ≤ ‖(F_L − Y) v‖ / σ_min(A)``. When ``A`` has full
    column rank (``n_{L-1} + 1 ≤ N``), ``Φ → 0`` forces ``U_L v → 0``: ``U_L`` (``n_{L-1} × m``,
    ``n_{L-1} ≥ m``) tends to a rank-deficient matrix and the global minima lie outside
    ``S_1``. Points at ``‖∇Φ‖ ≤ 1e-10`` sit at distance ``O(‖F_L − Y‖)`` from that boundary.
    Theorem 4.5 is not contradicted (it speaks only of critical points in ``S_k``).
    """
    ds = _digits(ctx, N_WIDE)
    arch, k = _pyramidal(), 1
    hyps = [_h41(arch, k, N_WIDE), _h31(arch, ds.X)]
    rows, bound_ok, conv = [], True, 0
    for enc, Z in _encodings(ctx).items():
        Y = ds.Y @ Z
        v = np.linalg.solve(Z, np.ones(10))
        for i in range(2):
            ctx.progress(f"class targets: {enc} start {i + 1}/2")
            res = critical.find_critical_point(arch, _params(arch, ctx, f"outside/{enc}/{i}"), ds.X, Y, k=k,
                                               classify=False, max_iter=300)
            Fs = model.features(arch, res.params, ds.X)
            U_L = np.asarray(model.full_weight_matrix(arch, res.params, arch.L))
            A = np.concatenate([np.asarray(Fs[arch.L - 1]), np.ones((N_WIDE, 1))], axis=1)
            a = rank_report(A, name="[F_{L-1}, 1]")
            Uv = float(np.linalg.norm(U_L @ v))
            bound = float(np.linalg.norm((np.asarray(Fs[arch.L]) - Y) @ v)) / a.sigma_min
            row = _search_summary(res, Y, _zero_tol(Y))
            row.update({"encoding": enc, "‖U_L Z⁻¹1‖": Uv, "bound ‖(F_L−Y)Z⁻¹1‖/σ_min(A)": bound,
                        "sigma_min_U_L": float(np.linalg.svd(U_L, compute_uv=False)[-1]),
                        "A_full_column_rank": a.full_column_rank and a.conclusive})
            rows.append(row)
            if res.converged:
                conv += 1
                bound_ok &= Uv <= bound * (1 + 1e-6) + 1e-15 and row["A_full_column_rank"]
    worst = max((r["bound ‖(F_L−Y)Z⁻¹1‖/σ_min(A)"] for r in rows if r["converged"]), default=float("nan"))
    return Result(Verdict.MEASURED, hyps, None, {"runs": rows, "converged": conv, "bound_holds": bool(bound_ok),
                                                "largest_bound": worst},
                  f"n_{{L-1}} = 10 < N = 20: {conv}/{len(rows)} converged to Φ ≈ 0 with ‖U_L Z⁻¹1‖ ≤ "
                  f"{worst:.1e} → 0: global minima of class targets lie on the boundary of S_1, not in it")


# ----------------------------------------------------------------------------- Lemma 4.2 probe

def _lemma_4_2(ctx: Context) -> Result:
    default = digits_instance(ctx)
    cases = [("pyramidal", _pyramidal(), _digits(ctx, N_WIDE).X, 1), ("wide-last", _wide_last(),
             _digits(ctx, N_WIDE).X, 2), (default.name, default.arch, default.data.X, default.k)]
    hyps, evidence, outside, total, margins = [], {}, 0, 0, []
    for name, arch, X, k in cases:
        hyps.append(_h41(arch, k, X.shape[0], f"{name}: "))
        rows = []
        for i in range(8 if name != default.name else 4):
            m = loss_surface.membership(arch, _params(arch, ctx, f"lemma-4.2/{name}/{i}"), X, k)
            outside += not m.member
            total += 1
            margins.append(min([m.F_k.margin] + [r.margin for r in m.U.values()]))
            rows.append({"member": m.member, "conclusive": m.conclusive, "F_k_sigma_min": m.F_k.sigma_min,
                         "F_k_margin": m.F_k.margin, "reasons": list(m.reasons)})
        evidence[name] = rows
    evidence["outside"] = outside
    evidence["draws"] = total
    return Result(Verdict.MEASURED, hyps, min(margins), evidence,
                  f"{outside} of {total} random parameters outside S_k (expected 0); smallest rank margin "
                  f"{min(margins):.3g}")


# ----------------------------------------------------------------------------- converses

def _bad_critical_point(ctx: Context) -> Result:
    ds = _digits(ctx, N_WIDE)
    arch, k, Y = _wide_last(), 1, ds.Y
    params = loss_surface.bad_critical_point(arch, _params(arch, ctx, "bad-critical-point"), Y, k)
    obj = D.objective(arch)
    theta = obj.layout.ravel(params)
    value, g = D.value_and_gradient(obj, theta, ds.X, Y)
    value, gnorm = float(value), float(np.linalg.norm(np.asarray(g)))
    expected = 0.5 * float(np.sum((Y - Y.mean(axis=0)) ** 2))
    member = loss_surface.membership(arch, params, ds.X, k)
    inertia = critical.hessian_inertia(arch, params, ds.X, Y)
    hyps = [Hypothesis("U_{k+1} = 0, U_L = 0, b_L = ȳ (outside S_k)", not member.member, "; ".join(member.reasons)),
            _h41(arch, k, N_WIDE)]
    critical_ok = gnorm <= 1e-12 * max(1.0, expected)
    shown = critical_ok and abs(value - expected) <= 1e-12 * expected and value > 0 and inertia.kind == "saddle"
    verdict = Verdict.HOLDS if shown and inertia.conclusive else (Verdict.INCONCLUSIVE if shown else Verdict.FAILS)
    return Result(verdict if all(h.met for h in hyps) else Verdict.NOT_APPLICABLE, hyps, inertia.margin,
                  {"loss": value, "expected_loss": expected, "grad_norm": gnorm, "inertia": inertia.to_dict(),
                   "membership": member.to_dict()},
                  f"‖∇Φ‖ = {gnorm:.1e}, Φ = {value:.4f} = ½‖Y − 1ȳᵀ‖²; Hessian has {inertia.negative} negative "
                  f"eigenvalues (min {inertia.min_eigenvalue:.2e}): a strict saddle")


def _narrow_check(ctx: Context) -> Result:
    ds = _digits(ctx, N_NARROW)
    arch, Y = _narrow(), ds.Y
    k = 1
    hyps = [Hypothesis("every hidden layer narrower than N (width hypothesis deliberately broken)",
                       all(w < N_NARROW for w in arch.widths[1:-1]), f"widths {arch.widths}, N = {N_NARROW}"),
            _h31(arch, ds.X)]
    tol_phi = _zero_tol(Y)
    found, runs = [], []
    for mode, n in (("minimum", 12), ("any", 2)):
        for i in range(n):
            ctx.progress(f"narrow: {mode} start {i + 1}/{n}")
            res = critical.find_critical_point(arch, _params(arch, ctx, f"narrow/{mode}/{i}"), ds.X, Y,
                                               mode=mode, k=k, max_iter=60)
            row = {"mode": mode, "converged": res.converged, "kind": res.kind, "loss": res.loss,
                   "grad_norm": res.grad_norm, "iterations": res.iterations, "parameter_norm": res.parameter_norm,
                   "inertia": None if res.inertia is None else res.inertia.to_dict(), "message": res.message}
            runs.append(row)
            if res.converged and res.loss > tol_phi and res.inertia is not None and res.inertia.conclusive \
                    and res.kind in ("minimum", "saddle"):
                found.append(row)
    counts = {kind: sum(r["kind"] == kind for r in runs) for kind in ("minimum", "saddle", "degenerate",
                                                                      "not converged", "maximum")}
    shown = len(found) > 0
    margin = min((r["loss"] / tol_phi for r in found), default=None)
    values = ", ".join(f"{r['loss']:.3f}" for r in found)
    return Result(Verdict.HOLDS if shown else Verdict.INCONCLUSIVE, hyps, margin,
                  {"counts": counts, "critical_points_with_positive_loss": found, "runs": runs},
                  f"n_1 = 4 < N = 40: {len(found)} critical points with Φ > 0 classified "
                  f"({sum(r['kind'] == 'minimum' for r in found)} local minimum/minima, "
                  f"{sum(r['kind'] == 'saddle' for r in found)} saddles; losses "
                  f"{values}); "
                  f"{counts['not converged']} runs did not converge")


CHECKS = [
    Check("lemma-4.3", "Lemma 4.3", "both bounds on ‖∇_{U_{k+1}} Φ‖ hold at random parameters", _lemma_4_3),
    Check("lemma-4.3-widening", "Lemma 4.3", "converse: a widening layer after k makes the lower bound vacuous",
          _lemma_4_3_widening, kind="converse"),
    Check("theorem-4.4", "Theorem 4.4", "on S_k, Φ = 0 iff ∇_{U_{k+1}} Φ = 0 (zero and non-zero loss points)",
          _theorem_4_4),
    Check("theorem-4.4-widening", "Theorem 4.4", "converse: widening after k, a critical point in S_k with Φ > 0",
          _theorem_4_4_widening, kind="converse"),
    Check("theorem-4.5", "Theorem 4.5", "critical points from random starts on wide nets are global minima",
          _theorem_4_5),
    Check("class-targets-outside-S_k", "Theorem 4.5", "pyramidal net with n_{L-1} < N: zero-loss points of class "
          "targets lie outside S_k", _class_targets_outside, kind="probe"),
    Check("lemma-4.2", "Lemma 4.2", "how often random parameters fall outside S_k", _lemma_4_2, kind="probe"),
    Check("bad-critical-point-outside-S_k", "Outside S_k",
          "converse: U_{k+1} = 0, U_L = 0, b_L = ȳ is a strict saddle with Φ > 0",
          _bad_critical_point, kind="converse"),
    Check("narrow-critical-points", "Theorem 4.5", "converse: a narrow net has critical points with Φ > 0",
          _narrow_check, kind="converse"),
]
