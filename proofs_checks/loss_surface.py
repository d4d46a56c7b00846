"""Checks of the loss-surface results (THEORY.md §3 from ``S_k`` on; paper §4).

* ``backprop-recursion``: the recursion behind Lemma 4.3 against autodiff.
* ``lemma-4.2``: random parameters (a law with a density) lie in ``S_k``.
* ``lemma-4.3``: both bounds at random points, each bound against an independent
  recomputation of its factors, and each attained with equality on a constructed point;
  converse ``lemma-4.3-widening``: a widening layer after ``k`` breaks the lower bound.
* ``theorem-4.4``: ``Φ = 0 ⇒ ∇_{U_{k+1}} Φ = 0`` at a zero-loss point; the reverse direction
  at random points, at the bad critical point and at the ends of a direct search for small
  ``‖∇_{U_{k+1}} Φ‖ / ‖F_L − Y‖``; converse ``theorem-4.4-widening``.
* ``theorem-4.5`` / ``corollary-4.6``: critical points found by the descent and by the
  any-index (saddle-seeking) search are global minima when they lie in ``S_k``; every
  start is reported. Converse ``narrow-critical-points``: no wide layer, ``Φ > 0``.
* ``class-targets-outside-S_k``: zero-loss points of class targets with ``n_{L-1} < N`` lie
  outside ``S_k`` unless ``[F_{L-1}, 1]`` loses rank; both kinds are counted.

Zero loss is :func:`theory_lab.tolerances.zero_loss_tol`'s rule, decided everywhere on ``‖F_L − Y‖`` against
:func:`~theory_lab.tolerances.zero_residual_tol` (Lemma 4.3's ``residual_norm``, or a search's
``Search.residual_norm``: nothing squared into subnormals), critical is
:func:`proofs_checks.s4_instances.critical_tol`; ranks of solver output are decided at the
solver's forward error (:data:`theory_lab.tolerances.FORWARD_RTOL`).
"""

from __future__ import annotations

import jax
import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks import s4_instances as S
from theory_lab import activations as _act
from theory_lab import critical, gradient_probes, loss_surface, model
from theory_lab import derivatives as D
from theory_lab import tolerances as T
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, applicable, conclude
from theory_lab.linalg import rank_report

__all__ = ["CHECKS", "STARTS"]

STARTS = 6  # random starts per class encoding for Theorem 4.5 (descent)
ANY_STARTS = 4  # any-index starts per tiny network
SEARCH_STARTS, SEARCH_STEPS = 3, 200  # direct search for small ∇_{U_{k+1}} Φ
NARROW_STARTS = (("minimum", 12), ("any", 2))  # (mode, starts) on the narrow network
# The any-index search converges slowly along the flat directions of degenerate saddles: stopped
# at ‖∇Φ‖ ≤ 1e-10 its point can still sit 1e-8 off the saddle, right at the solver rank
# tolerance (FORWARD_RTOL), so S_k membership would be undecidable. It runs on to 1e-14.
GTOL_ANY = 1e-14
# ... and it needs the iterations for that: at seed 107 a start along such a valley had ‖∇Φ‖ = 8.6e-10 (below
# critical_tol) after 100 iterations with σ_min(F_1) = 5.8e-4 and its S_k membership inside the band; it reaches
# 1e-14 after ~1000, at σ_min(F_1) = 7e-10: conclusively outside S_1. A converged search stops early. (Theorem
# 4.5's tiny conv net only: no such start was seen in Corollary 4.6's in 40 seeds, and there its unconverged starts
# are what a 1e6-times loose critical tolerance turns into false critical points, tests/test_planted_bugs_s4.py.)
ANY_MAX_ITER = 1500
#: descent searches (Theorem 4.5, Corollary 4.6, the class-targets check) stop at ``‖∇Φ‖ ≤ GTOL_ZERO``: Gauss–Newton
#: then drives ``Φ`` of a zero-loss point to its float64 floor. At the default 1e-10 a point stopped at Φ = 6.9e-22,
#: inside zero loss's band (corollary-4.6, seed 204), and one at Φ = 2.6e-22 left ``U_L Z⁻¹1 = 0`` unresolved
#: (``σ_min(U_L)`` = 1.9e-8, inside the membership band; class-targets, seed 113).
GTOL_ZERO = 1e-13


def _rel(a, b) -> float:
    """``‖a − b‖ / ‖b‖`` with scaled norms (exact at 2^±500; NaN for non-finite input: a conclusive violation)."""
    b = np.asarray(b, dtype=np.float64)
    d = np.asarray(a, dtype=np.float64) - b
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(b))):
        return float("nan")
    return T.frobenius_norm(d) / max(T.frobenius_norm(b), np.finfo(float).tiny)


# ----------------------------------------------------------------------------- backprop

def _backprop(ctx: Context) -> Result:
    """``Δ_l``'s recursion (``theory_lab.loss_surface.backprop``) against autodiff (``derivatives.gradient``).

    Layers ``k+1 … L`` of both networks are fully connected, where ``∇_{U_l} Φ = ∇_{W_l} Φ``.
    """
    ds = S.digits(ctx, S.N_WIDE)
    ev, hyps = Evidence(), []
    for name, arch in (("pyramidal", S.pyramidal()), ("wide-last", S.wide_last())):
        hyps += [S.h41(arch, 1, S.N_WIDE, f"{name}: "),
                 Hypothesis(f"{name}: layers 2..L fully connected", all(arch.layer(l).kind in ("dense", "output")
                                                                         for l in range(2, arch.L + 1)))]
        params = S.params(arch, ctx, f"backprop/{name}")
        Y = ctx.rng(f"backprop/{name}/Y").standard_normal(ds.Y.shape)
        bp = loss_surface.backprop(arch, params, ds.X, Y, 1)
        obj = D.objective(arch)
        auto = obj.layout.unravel(D.gradient(obj, obj.layout.ravel(params), ds.X, Y))
        for l in range(2, arch.L + 1):
            ev.at_most(f"{name}: ∇_U_{l} recursion vs autodiff", _rel(bp.grad_U[l], auto[f"layer_{l}"]["W"]),
                       T.IDENTITY)
            ev.at_most(f"{name}: ∇_b_{l} recursion vs autodiff", _rel(bp.grad_b[l], auto[f"layer_{l}"]["b"]),
                       T.IDENTITY)
    return conclude("Δ_l recursion = autodiff (relative difference)", hyps, ev)


# ----------------------------------------------------------------------------- Lemma 4.2

def _lemma_4_2(ctx: Context) -> Result:
    cases = [("pyramidal", S.pyramidal(), 1), ("wide-last", S.wide_last(), 2)]
    X = S.digits(ctx, S.N_WIDE).X
    law = {"law": "lecun_normal", "bias_law": "normal", "bias_scale": 0.1}
    ev, hyps = Evidence(), [S.h31(cases[0][1], X)]
    for name, arch, k in cases:
        hyps += [S.h41(arch, k, S.N_WIDE, f"{name}: "), hyp.activations_analytic(arch, k).prefixed(name)]
        for i in range(6):
            m = loss_surface.membership(arch, S.params(arch, ctx, f"lemma-4.2/{name}/{i}", **law), X, k)
            ev.rank(f"{name} draw {i}: F_{k}", m.F_k, S.N_WIDE)
            for l, r in m.U.items():
                ev.rank(f"{name} draw {i}: U_{l}", r, min(r.shape))
    # every weight law of theory_lab.model.LAWS has a density; biases need a non-degenerate law
    dense = law["law"] in model.LAWS and law["bias_law"] in ("normal", "uniform") and law["bias_scale"] > 0
    hyps.append(Hypothesis("parameter law has a density", dense, f"theory_lab.sampling.sample_params({law})"))
    return conclude("random parameters lie in S_k", hyps, ev)


# ----------------------------------------------------------------------------- Lemma 4.3

def _independent_bounds(arch, params, X, Y, k) -> tuple[float, float]:
    """Lemma 4.3's two bounds from the forward pass, SVDs and σ' taken here (not the library's)."""
    fw = model.forward(arch, params, X)
    r = T.frobenius_norm(np.asarray(fw.F[arch.L]) - Y, "F_L − Y")
    s = np.linalg.svd(np.asarray(fw.F[k]), compute_uv=False)
    lo = s[-1] if fw.F[k].shape[1] >= fw.F[k].shape[0] else 0.0
    hi = s[0]
    for l in range(k + 1, arch.L):
        U = np.asarray(model.full_weight_matrix(arch, params, l + 1))
        su = np.linalg.svd(U, compute_uv=False)
        act = _act.get(arch.layer(l).activation)
        G = np.asarray(fw.G[l]).ravel()
        d = np.abs(np.asarray(jax.vmap(jax.grad(act.fn))(G)))
        lo *= (su[-1] if U.shape[0] >= U.shape[1] else 0.0) * d.min()
        hi *= su[0] * d.max()
    return float(lo * r), float(hi * r)


def _lemma_4_3(ctx: Context) -> Result:
    ds = S.digits(ctx, S.N_WIDE)
    ev, hyps, rows = Evidence(), [S.h31(S.pyramidal(), ds.X)], []
    for name, arch, k in (("pyramidal", S.pyramidal(), 1), ("wide-last", S.wide_last(), 1),
                          ("wide-last", S.wide_last(), 2)):
        hyps.append(S.h41(arch, k, S.N_WIDE, f"{name}: "))
        for i in range(3):
            label = f"{name} k={k} draw {i}"
            params = S.params(arch, ctx, f"lemma-4.3/{name}/{i}")
            b = loss_surface.gradient_bounds(arch, params, ds.X, ds.Y, k)
            ev.at_most(f"{label}: lower/‖∇‖", b.lower / b.grad_norm, T.BOUND)
            ev.at_most(f"{label}: ‖∇‖/upper", b.grad_norm / b.upper, T.BOUND)
            lo, hi = _independent_bounds(arch, params, ds.X, ds.Y, k)
            ev.at_most(f"{label}: lower vs its factors recomputed", _rel(b.lower, lo), T.IDENTITY)
            ev.at_most(f"{label}: upper vs its factors recomputed", _rel(b.upper, hi), T.IDENTITY)
            rows.append({"point": label, **{key: b.to_dict()[key] for key in ("grad_norm", "lower", "upper",
                                                                              "lower_tightness", "upper_tightness")}})
        if k + 2 == arch.L:  # each bound attained with equality (gradient_probes.attaining_point)
            for bound in ("upper", "lower"):
                p, Y = gradient_probes.attaining_point(arch, S.params(arch, ctx, f"lemma-4.3/attain/{name}"), ds.X, k,
                                                    bound=bound)
                b = loss_surface.gradient_bounds(arch, p, ds.X, Y, k)
                value = getattr(b, bound)
                ev.at_most(f"{name} k={k}: |‖∇‖ − {bound}| / {bound} where attained", _rel(b.grad_norm, value),
                           T.IDENTITY)
                rows.append({"point": f"{name} k={k} attaining the {bound} bound", "grad_norm": b.grad_norm,
                             bound: value})
    ev.facts["points"] = rows
    return conclude("lower ≤ ‖∇_{U_{k+1}} Φ‖ ≤ upper, each factor as stated, both attained", hyps, ev)


def _widening_point(ctx: Context):
    def build():
        arch = S.widening()
        X = ctx.rng("widening/X").standard_normal((8, 6))
        params = S.params(arch, ctx, "widening/params")
        Y = loss_surface.widening_critical_targets(arch, params, X, scale=1.0, seed=ctx.seed)
        return arch, X, Y, params
    return ctx.cached("loss-surface-widening", build)


def _widening_hypotheses(arch, X):
    rep = arch.assumption_4_1(1, X.shape[0])
    kept = [Hypothesis(f"Assumption 4.1: {part}", ok) for part, ok in rep.parts if part != "pyramidal after layer k"]
    broken = [Hypothesis("Assumption 4.1: pyramidal after layer k", dict(rep.parts)["pyramidal after layer k"],
                         f"widths {arch.widths}")]
    return kept + [S.h31(arch, X)], broken


def _lemma_4_3_widening(ctx: Context) -> Result:
    arch, X, Y, params = _widening_point(ctx)
    kept, broken = _widening_hypotheses(arch, X)
    b = loss_surface.gradient_bounds(arch, params, X, Y, 1)
    ev = Evidence()
    ev.at_most("σ_min-reading of the lower bound / ‖∇_{U_2} Φ‖", b.lower_naive / max(b.grad_norm, 1e-300), T.BOUND)
    ev.facts.update(bounds=b.to_dict())
    return conclude("lower ≤ ‖∇_{U_{k+1}} Φ‖ with σ_min the smallest singular value", kept, ev, broken=broken)


# ----------------------------------------------------------------------------- Theorem 4.4

def _zero_loss_point(ctx: Context):
    """A zero-loss point of the wide-last network on Gaussian targets (descent search)."""
    def build():
        ds = S.digits(ctx, S.N_WIDE)
        arch = S.wide_last()
        Y = ctx.rng("theorem-4.4/Y").standard_normal((S.N_WIDE, 10))
        res = critical.find_critical_point(arch, S.params(arch, ctx, "theorem-4.4/start"), ds.X, Y, k=1,
                                           classify=False, max_iter=300, gtol=1e-12)
        return arch, ds, Y, res
    return ctx.cached("loss-surface-zero-loss", build)


def _reverse(ev: Evidence, label: str, arch, params, X, Y, k: int, solver: bool) -> dict:
    """Theorem 4.4 (⇐) at one point: ``∇_{U_{k+1}} Φ = 0`` and ``Φ > 0`` must not meet inside ``S_k``.

    ``∇_{U_{k+1}} Φ`` is zero when below the critical tolerance for the Jacobian of the map
    ``U_{k+1} ↦ F_L``, whose norm Lemma 4.3's upper factor bounds (``upper / ‖F_L − Y‖``).
    """
    b = loss_surface.gradient_bounds(arch, params, X, Y, k)
    tol = T.critical_tol(b.upper / b.residual_norm if b.residual_norm > 0 else 0.0, Y,
                         outputs=model.apply(arch, params, X))
    m = loss_surface.membership(arch, params, X, k, forward_rtol=T.FORWARD_RTOL if solver else None)
    loss = 0.5 * b.residual_norm ** 2
    row = {"point": label, "loss": loss, "residual_norm": b.residual_norm, "grad_U_norm": b.grad_norm, "zero_tol": tol.value, "in_S_k": m.member,
           "S_k_conclusive": m.conclusive, "reasons": list(m.reasons), "lower_factor": b.lower / b.residual_norm if b.residual_norm > 0 else 0.0}
    if b.grad_norm > tol.value:
        ev.at_least(f"{label}: ‖∇_U_{k + 1} Φ‖", b.grad_norm, tol)
    else:  # the gradient in U_{k+1} vanishes: then Φ = 0 or the point lies outside S_k
        # on ‖F_L − Y‖, not Φ = ½‖r‖²: the same decision, and nothing squared into subnormals at tiny scales
        nonzero = Evidence().at_least("‖F_L − Y‖", b.residual_norm, T.zero_residual_tol(Y))
        holds = not (m.member and nonzero.holds)
        admits, row["lemma_4_3_phi_max"] = S.lemma_4_3_admits(b, residual_norm=b.residual_norm)  # tiny c
        ev.observe(f"{label}: ∇_U_{k + 1} Φ = 0 with Φ = {loss:.3e}", holds,
                   margin=max(S.membership_margin(m), 1.0) if holds else 1.0 / max(S.membership_margin(m), 1.0),
                   conclusive=m.conclusive and nonzero.conclusive and (holds or not admits),
                   detail=f"{label}: Φ = {loss:.3e}, ‖F_L − Y‖ = {b.residual_norm:.3e} "
                          f"(Lemma 4.3 admits Φ ≤ {row['lemma_4_3_phi_max']:.3e}), {m}")
    return row


def _theorem_4_4(ctx: Context) -> Result:
    arch, ds, k = S.wide_last(), S.digits(ctx, S.N_WIDE), 1
    hyps = [S.h31(arch, ds.X), S.h41(arch, k, S.N_WIDE)]
    ev, rows = Evidence(), []
    claim = "on S_k, Φ = 0 ⇔ ∇_{U_{k+1}} Φ = 0"
    if not applicable(hyps):  # no search on an instance the theorem does not cover
        return conclude(claim, hyps, ev)
    arch, ds, Y, res = _zero_loss_point(ctx)
    # (⇒) at a zero-loss point ∇_U Φ vanishes; Lemma 4.3 turns the small gradient back into Φ ≤ ½(‖∇_U‖/c)²
    b = loss_surface.gradient_bounds(arch, res.params, ds.X, Y, k)
    m = loss_surface.membership(arch, res.params, ds.X, k, forward_rtol=T.FORWARD_RTOL)
    c = b.lower / b.residual_norm if b.residual_norm > 0 else 0.0
    ev.at_most("‖F_L − Y‖ at the zero-loss point", b.residual_norm, T.zero_residual_tol(Y))  # ⇔ Φ ≤ zero_loss_tol
    ev.at_most("‖∇_U Φ‖ at the zero-loss point", b.grad_norm,
               T.critical_tol(b.upper / max(b.residual_norm, 1e-300), Y, outputs=model.apply(arch, res.params, ds.X)))
    ev.rank("zero-loss point: F_1 (in S_1)", m.F_k, S.N_WIDE)
    # reported, not decided: its distance to the zero-loss tolerance is the solver's last gradient
    # over Lemma 4.3's (loose) factor, not a property of the theorem
    certified = 0.5 * (b.grad_norm / c) ** 2 if c > 0 else np.inf
    rows.append({"point": "zero-loss (descent)", "loss": res.loss, "grad_U_norm": b.grad_norm, "in_S_k": m.member,
                 "lemma_4_3_factor": c, "loss_certified_by_grad_U": certified})
    # (⇐) random points, the bad critical point, and the ends of a search for small ‖∇_U Φ‖ / ‖F_L − Y‖
    for i in range(3):
        rows.append(_reverse(ev, f"random {i}", arch, S.params(arch, ctx, f"theorem-4.4/random/{i}"), ds.X, Y, k,
                             False))
    bad = loss_surface.bad_critical_point(arch, S.params(arch, ctx, "theorem-4.4/bad"), Y, k)
    rows.append(_reverse(ev, "bad critical point", arch, bad, ds.X, Y, k, False))
    for i in range(SEARCH_STARTS):
        ctx.progress(f"theorem-4.4: search {i + 1}/{SEARCH_STARTS}")
        s = gradient_probes.small_gradient_search(arch, S.params(arch, ctx, f"theorem-4.4/search/{i}"), ds.X, Y, k,
                                               steps=SEARCH_STEPS)
        row = _reverse(ev, f"search {i}", arch, s.params, ds.X, Y, k, True)
        rows.append({**row, "search": s.to_dict()})
    ev.facts["points"] = rows
    return conclude(claim, hyps, ev)


def _theorem_4_4_widening(ctx: Context) -> Result:
    arch, X, Y, params = _widening_point(ctx)
    kept, broken = _widening_hypotheses(arch, X)
    m = loss_surface.membership(arch, params, X, 1)
    b = loss_surface.gradient_bounds(arch, params, X, Y, 1)
    obj = D.objective(arch)
    g = T.frobenius_norm(D.gradient(obj, obj.layout.ravel(params), X, Y), "∇Φ")  # scaled: no underflow to 0
    crit = S.critical_tol(arch, params, X, Y)
    kept += [Hypothesis("the point lies in S_1", m.member and m.conclusive, str(m)),
             Hypothesis("∇_{U_2} Φ = 0 (critical point)", max(g, b.grad_norm) <= crit.value,
                        f"‖∇Φ‖ = {g:.2e}, ‖∇_U_2 Φ‖ = {b.grad_norm:.2e} "
                        f"{hyp.relation(max(g, b.grad_norm), crit.value)} {crit.value:.2e}")]
    ev = Evidence()
    ev.at_most("‖F_L − Y‖", b.residual_norm, T.zero_residual_tol(Y))  # ⇔ Φ ≤ zero_loss_tol, nothing squared
    return conclude("∇_{U_{k+1}} Φ = 0 ⇒ Φ = 0 on S_k", kept, ev, broken=broken)


# ----------------------------------------------------------------------------- Theorem 4.5, Corollary 4.6

def _search_all(ctx, ev, label, arch, X, Y, k, mode, starts, counts, rows, max_iter=100):
    for i in range(starts):
        ctx.progress(f"{label}: {mode} start {i + 1}/{starts}")
        res = critical.find_critical_point(arch, S.params(arch, ctx, f"{label}/{mode}/{i}"), X, Y, k=k, mode=mode,
                                           classify=False, max_iter=max_iter,
                                           gtol=GTOL_ANY if mode == "any" else GTOL_ZERO)
        row = S.observe_critical_point(ev, f"{label} {mode} {i}", arch, res, X, Y, k)
        rows[f"{label}/{mode}/{i}"] = row
        counts[row["status"]] = counts.get(row["status"], 0) + 1


def _with_counts(result: Result, counts: dict) -> Result:
    """Append how every start ended (none dropped) to the generated summary."""
    result.summary += f"; {sum(counts.values())} starts: " + ", ".join(f"{n} {status}" for status, n in
                                                                      sorted(counts.items()))
    return result


def _theorem_4_5(ctx: Context) -> Result:
    ds = S.digits(ctx, S.N_WIDE)
    arch, tiny = S.wide_last(), S.tiny_conv()
    Xt, Yt = S.tiny_data(ctx, tiny)
    hyps = [S.h31(arch, ds.X, "wide-last: "), S.h31(tiny, Xt, "tiny-conv: "), S.class_targets(Yt, name="tiny Y")]
    for name, a, N, k in (("wide-last", arch, S.N_WIDE, 2), ("tiny-conv", tiny, S.N_TINY, 1)):
        hyps += [S.h41(a, k, N, f"{name}: "),
                 Hypothesis(f"{name}: layer k+1 = {k + 1} fully connected", a.layer(k + 1).kind in ("dense", "output"),
                            a.layer(k + 1).kind)]
    ev, counts, rows = Evidence(), {}, {}
    hyps += [S.class_targets(ds.Y @ Z, Z, f"Y·Z ({enc})") for enc, Z in S.encodings(ctx).items()]
    if not applicable(hyps):
        return conclude("every critical point found in S_k has Φ = 0", hyps, ev)
    for enc, Z in S.encodings(ctx).items():
        _search_all(ctx, ev, f"theorem-4.5/{enc}", arch, ds.X, ds.Y @ Z, 2, "minimum", STARTS, counts, rows, 300)
    _search_all(ctx, ev, "theorem-4.5/tiny", tiny, Xt, Yt, 1, "any", ANY_STARTS, counts, rows, ANY_MAX_ITER)
    ev.facts.update(counts=counts, runs=rows)
    return _with_counts(conclude("every critical point found in S_k has Φ = 0", hyps, ev), counts)


def _corollary_4_6(ctx: Context) -> Result:
    arch = S.tiny_fc()
    X, Y = S.tiny_data(ctx, arch)
    gap = min(np.linalg.norm(X[i] - X[j]) for i in range(len(X)) for j in range(i))
    hyps = [Hypothesis("fully connected network", all(i.kind in ("dense", "output") for i in arch.info),
                       ", ".join(i.kind for i in arch.info)),
            Hypothesis("distinct samples", gap > 0, f"smallest distance between samples {gap:.3g}"),
            S.h41(arch, 2, S.N_TINY), S.class_targets(Y)]
    ev, counts, rows = Evidence(), {}, {}
    if not applicable(hyps):
        return conclude("every critical point found in S_k has Φ = 0 (fully connected)", hyps, ev)
    _search_all(ctx, ev, "corollary-4.6", arch, X, Y, 2, "minimum", ANY_STARTS, counts, rows)
    _search_all(ctx, ev, "corollary-4.6", arch, X, Y, 2, "any", ANY_STARTS, counts, rows)
    ev.facts.update(counts=counts, runs=rows)
    return _with_counts(conclude("every critical point found in S_k has Φ = 0 (fully connected)", hyps, ev), counts)


def _ratio(num: float, den: float) -> float:
    """``num / den`` for a reported bound; ``inf`` (or 0 for ``0 / 0``) when ``σ_min`` is exactly 0."""
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


def _class_targets_outside(ctx: Context) -> Result:
    """Pyramidal net with ``n_{L-1} = 10 < N = 20``: where do zero-loss points of class targets lie?

    With ``v = Z⁻¹1``, ``Y v = 1``. Write ``A = [F_{L-1}, 1]`` and ``z = (U_L v, b_Lᵀv − 1)``;
    then ``A z = (F_L − Y) v``, so ``‖U_L v‖ ≤ ‖(F_L − Y) v‖ / σ_min(A)``. When ``A`` has full
    column rank, ``Φ → 0`` forces ``U_L v → 0``: ``U_L`` is rank deficient and the point lies
    outside ``S_1``. When ``A`` loses rank the point can lie inside. The check observes that
    every zero-loss point is outside ``S_1`` or has ``A`` rank deficient, and counts both.
    """
    ds = S.digits(ctx, S.N_WIDE)
    arch, k, n = S.pyramidal(), 1, S.pyramidal().widths[-2]
    hyps = [S.h41(arch, k, S.N_WIDE), S.h31(arch, ds.X),
            Hypothesis("n_{L-1} + 1 ≤ N ([F_{L-1}, 1] can have full column rank)", n + 1 <= S.N_WIDE,
                       f"n_{arch.L - 1} = {n}, N = {S.N_WIDE}")]
    ev, rows = Evidence(), []
    counts = {"runs": 0, "zero_loss": 0, "inside_S_k": 0, "outside_S_k": 0, "A_rank_deficient": 0}
    claim = "each zero-loss point lies outside S_1 or has [F_{L-1}, 1] rank deficient"
    hyps += [S.class_targets(ds.Y @ Z, Z, f"Y·Z ({enc})") for enc, Z in S.encodings(ctx).items()]
    if not applicable(hyps):
        return conclude(claim, hyps, ev)
    for enc, Z in S.encodings(ctx).items():
        Y = ds.Y @ Z
        v = np.linalg.solve(Z, np.ones(10))
        for i in range(2):
            ctx.progress(f"class targets: {enc} start {i + 1}/2")
            res = critical.find_critical_point(arch, S.params(arch, ctx, f"outside/{enc}/{i}"), ds.X, Y, k=k,
                                               classify=False, max_iter=300, gtol=GTOL_ZERO)
            Fs = model.features(arch, res.params, ds.X)
            U_L = np.asarray(model.full_weight_matrix(arch, res.params, arch.L))
            A = np.concatenate([np.asarray(Fs[arch.L - 1]), np.ones((S.N_WIDE, 1))], axis=1)
            a = rank_report(A, tol=T.solver_rank_tol(float(np.linalg.norm(A, 2))).value, name="[F_{L-1}, 1]")
            m = loss_surface.membership(arch, res.params, ds.X, k, forward_rtol=T.FORWARD_RTOL)
            counts["runs"] += 1
            row = {"run": f"{enc}/{i}", "loss": res.loss, "residual_norm": res.residual_norm,
                   "grad_norm": res.grad_norm, "in_S_k": m.member,
                   "S_k_conclusive": m.conclusive, "reasons": list(m.reasons), "sigma_min_A": a.sigma_min,
                   "A_rank": a.rank, "A_margin": a.margin, "‖U_L Z⁻¹1‖": float(np.linalg.norm(U_L @ v)),
                   "bound ‖(F_L−Y)Z⁻¹1‖/σ_min(A)": _ratio(float(np.linalg.norm((np.asarray(Fs[arch.L]) - Y) @ v)),
                                                          a.sigma_min),
                   "sigma_min_U_L": float(np.linalg.svd(U_L, compute_uv=False)[-1])}
            rows.append(row)
            # zero loss on ‖F_L − Y‖ (the decision of Φ ≤ zero_loss_tol, nothing squared into subnormals)
            zero = Evidence().at_most("‖F_L − Y‖", res.residual_norm, T.zero_residual_tol(Y))
            if not (zero.holds and zero.conclusive):
                row["status"] = "not at zero loss"
                continue
            counts["zero_loss"] += 1
            counts["inside_S_k" if m.member else "outside_S_k"] += 1
            counts["A_rank_deficient"] += not a.full_column_rank
            if m.member:  # inside S_1: then A must have lost rank
                ev.rank(f"{enc}/{i} (in S_1, ‖F_L − Y‖ = {res.residual_norm:.1e}): [F_{{L-1}}, 1]", a, n + 1, "<")
                row["status"] = "inside S_k, [F_{L-1}, 1] rank deficient" if not a.full_column_rank else "inside S_k"
            else:
                ev.observe(f"{enc}/{i} outside S_1", True, margin=max(S.membership_margin(m), 1.0),
                           conclusive=m.conclusive, detail=f"{enc}/{i}: ‖F_L − Y‖ = {res.residual_norm:.1e}, {m}")
                row["status"] = "outside S_k"
    if not counts["zero_loss"]:
        ev.observe("zero-loss points reached", False, margin=1.0, conclusive=False,
                   detail="no start reached zero loss: nothing to classify")
    ev.facts.update(counts=counts, runs=rows,
                    premise="Y Z⁻¹1 = 1 and n_{L-1} + 1 ≤ N: a zero-loss point has U_L Z⁻¹1 = 0 (outside S_k) "
                            "unless [F_{L-1}, 1] is rank deficient")
    result = conclude(claim, hyps, ev)
    result.summary += (f"; {counts['zero_loss']}/{counts['runs']} at zero loss: {counts['outside_S_k']} outside S_1, "
                       f"{counts['inside_S_k']} inside ([F_{{L-1}}, 1] rank deficient at {counts['A_rank_deficient']})")
    return result


def _narrow_check(ctx: Context) -> Result:
    ds = S.digits(ctx, S.N_NARROW)
    arch, Y = S.narrow(), ds.Y
    kept = [S.h31(arch, ds.X), S.class_targets(Y)]
    broken = [Hypothesis("some hidden layer has n_k ≥ N", bool(arch.wide_layers(S.N_NARROW)),
                         f"widths {arch.widths}, N = {S.N_NARROW}")]
    ev, runs = Evidence(), []
    zero = T.zero_residual_tol(Y)  # Φ = 0 decided on ‖F_L − Y‖ (the same decision as Φ ≤ zero_loss_tol)
    claim = "every critical point is a global minimum with Φ = 0"
    if not applicable(kept, broken):
        return conclude(claim, kept, ev, broken=broken)
    for mode, n in NARROW_STARTS:
        for i in range(n):
            ctx.progress(f"narrow: {mode} start {i + 1}/{n}")
            res = critical.find_critical_point(arch, S.params(arch, ctx, f"narrow/{mode}/{i}"), ds.X, Y,
                                               mode=mode, k=1, max_iter=60)
            crit = S.critical_tol(arch, res.params, ds.X, Y)
            row = {"mode": mode, "loss": res.loss, "residual_norm": res.residual_norm, "grad_norm": res.grad_norm,
                   "critical_tol": crit.value,
                   "kind": res.kind, "iterations": res.iterations, "parameter_norm": res.parameter_norm,
                   "critical": res.grad_norm <= crit.value}
            runs.append(row)
            if row["critical"]:
                ev.at_most(f"‖F_L − Y‖ at {mode} {i} ({res.kind})", res.residual_norm, zero)
    if not ev.observations:
        ev.observe("critical points found", False, margin=1.0, conclusive=False, detail="no start converged")
    ev.facts.update(runs=runs, not_converged=sum(not r["critical"] for r in runs))
    return conclude(claim, kept, ev, broken=broken)


CHECKS = [
    Check("backprop-recursion", "Backpropagation under 4.1", "Δ_l recursion and ∇_U, ∇_b agree with autodiff",
          _backprop),
    Check("lemma-4.2", "Lemma 4.2", "random parameters (with a density) lie in S_k", _lemma_4_2),
    Check("lemma-4.3", "Lemma 4.3", "both bounds on ‖∇_{U_{k+1}} Φ‖: hold, factors recomputed, attained", _lemma_4_3),
    Check("lemma-4.3-widening", "Lemma 4.3", "converse: a widening layer after k breaks the lower bound",
          _lemma_4_3_widening, kind="converse"),
    Check("theorem-4.4", "Theorem 4.4", "on S_k, Φ = 0 iff ∇_{U_{k+1}} Φ = 0 (incl. a search for small ∇_U Φ)",
          _theorem_4_4),
    Check("theorem-4.4-widening", "Theorem 4.4", "converse: widening after k, a critical point in S_k with Φ > 0",
          _theorem_4_4_widening, kind="converse"),
    Check("theorem-4.5", "Theorem 4.5", "critical points (descent and any-index search) in S_k are global minima",
          _theorem_4_5),
    Check("corollary-4.6", "Corollary 4.6", "fully connected, distinct samples: critical points in S_k have Φ = 0",
          _corollary_4_6),
    Check("class-targets-outside-S_k", "Zero loss vs S_k", "zero-loss points of class targets (n_{L-1} < N): outside "
          "S_k or [F_{L-1}, 1] rank deficient, counted", _class_targets_outside),
    Check("narrow-critical-points", "Theorem 4.5", "converse: a narrow net has critical points with Φ > 0",
          _narrow_check, kind="converse"),
]
