"""Section-4 checks added by the planted-bug red team (the other section-4 checks live in
``curvature`` and ``loss_surface``).

* ``bad-critical-point-construction``: :func:`theory_lab.loss_surface.bad_critical_point`
  builds THEORY.md §3's example exactly: ``U_{k+1} = 0``, ``U_L = 0``, ``b_L = ȳ`` (the
  column mean of ``Y``) and every other parameter kept. ``bad-critical-point`` observes
  the point's properties (critical, outside ``S_k``, ``Φ = ½‖Y − 1ȳᵀ‖²``, a strict saddle),
  which other points share too (zeroing ``W_k`` instead of ``W_{k+1}`` gives one), so it
  cannot tell that the point is not the example its claim names; this check can.

Zeros and kept parameters are exact (:meth:`~theory_lab.checking.Evidence.exact`); ``b_L``
against ``ȳ`` is a float64 identity (:data:`theory_lab.tolerances.IDENTITY`).
"""

from __future__ import annotations

import jax
import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks import s4_instances as S
from theory_lab import loss_surface, model
from theory_lab import tolerances as T
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, applicable, conclude

__all__ = ["CHECKS"]


def _cases(ctx: Context):
    """The curvature checks' network and the pyramidal one, each with its digits targets and k = 1."""
    small, pyr = S.digits(ctx, S.N_SMALL), S.digits(ctx, S.N_WIDE)
    return [("small", S.small_arch(), small.Y, 1), ("pyramidal", S.pyramidal(), pyr.Y, 1)]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), np.finfo(float).tiny))


def _construction(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for name, arch, Y, k in _cases(ctx):
        L = arch.L
        hs = [Hypothesis(f"{name}: a hidden layer between k and L (k + 1 < L)", k + 1 < L, f"k = {k}, L = {L}"),
              hyp.finite_float64(Y, f"{name}: Y")]
        hyps += hs
        if not applicable(hs):  # the construction needs k + 1 < L
            continue
        params = S.params(arch, ctx, f"s4-extra/bad/{name}")
        p = loss_surface.bad_critical_point(arch, params, Y, k)
        for l in (k + 1, L):
            U = np.asarray(model.full_weight_matrix(arch, p, l))
            ev.exact(f"{name}: nonzero entries of U_{l}", int(np.count_nonzero(U)), 0)
        ev.at_most(f"{name}: ‖b_L − ȳ‖ / ‖ȳ‖", _rel(p[f"layer_{L}"]["b"], np.mean(Y, axis=0)), T.IDENTITY)
        kept = {(name_l, key) for name_l, layer in params.items() for key in layer} - {
            (f"layer_{k + 1}", "W"), (f"layer_{L}", "W"), (f"layer_{L}", "b")}
        moved = sorted(f"{a}/{b}" for a, b in kept if not np.array_equal(np.asarray(p[a][b]), np.asarray(params[a][b])))
        ev.exact(f"{name}: other parameters changed", len(moved), 0,
                 detail=f"{name}: {len(moved)} of {len(kept)} other parameter arrays changed {moved}")
        ev.facts[name] = {"k": k, "L": L, "kept_arrays": len(kept),
                          "leaves": len(jax.tree_util.tree_leaves(params))}
    return conclude("the bad critical point is THEORY.md's example: U_{k+1} = 0, U_L = 0, b_L = ȳ, the rest kept",
                    hyps, ev)


CHECKS = [
    Check("bad-critical-point-construction", "Outside S_k", "bad_critical_point builds U_{k+1} = 0, U_L = 0, "
          "b_L = ȳ and keeps every other parameter", _construction),
]
