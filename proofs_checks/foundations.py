"""Checks on the paper's setting (§2) and the first expressivity facts (§3).

* Lemma 2.5: ``U_k`` is of full rank at random filters.
* Assumption 3.1 on the data in use, and its converse on raw digits.
* Theorem 3.5 on the default instances: ``rank F_k = N`` at random parameters.
* Width necessity: a layer narrower than ``N`` has ``rank F_k < N``.
"""

from __future__ import annotations

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks.instances import default_instances, digits_instance
from theory_lab import model
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, decide
from theory_lab.feature_maps import feature_rank
from theory_lab.linalg import rank_report

__all__ = ["CHECKS"]


def _lemma_2_5(ctx: Context) -> Result:
    rows, hyps, margins, ok = [], [], [], True
    for inst in default_instances(ctx):
        params = model.init(inst.arch, ctx.key(f"lemma-2.5/{inst.name}"))
        for info in inst.arch.info:
            if info.kind not in ("conv", "patch"):
                continue
            hyps.append(hyp.assumption_2_4(inst.arch, info.k))
            r = rank_report(np.asarray(model.full_weight_matrix(inst.arch, params, info.k)), name=f"U_{info.k}")
            ok &= r.full_rank
            margins.append(r.margin)
            rows.append({"instance": inst.name, "layer": info.k, **r.to_dict()})
    margin = min(margins)
    verdict = decide(hyps, ok, margin >= rows[0]["band"])
    return Result(verdict, hyps, margin, {"U_k": rows},
                  f"{len(rows)} conv layers: U_k full rank at random filters (smallest margin {margin:.3g})")


def _assumption_3_1(ctx: Context) -> Result:
    evidence, ok, hyps = {}, True, []
    for inst in default_instances(ctx):
        h, report = hyp.assumption_3_1(inst.arch, inst.data.X)
        evidence[inst.name] = report
        ok &= h.met
        hyps.append(Hypothesis(f"{inst.name}: data is float64 and finite", True, f"N = {inst.N}"))
    margin = min(r["min_distance"] for r in evidence.values())
    verdict = Verdict.HOLDS if ok else Verdict.FAILS
    return Result(verdict, hyps, None, evidence,
                  f"default data: no patch shared between samples; smallest distance {margin:.3e}")


def _assumption_3_1_raw(ctx: Context) -> Result:
    raw = digits_instance(ctx, noise=0.0)
    noisy = digits_instance(ctx)
    h_raw, rep_raw = hyp.assumption_3_1(raw.arch, raw.data.X)
    h_noisy, rep_noisy = hyp.assumption_3_1(noisy.arch, noisy.data.X)
    hyps = [Hypothesis("raw digits (no noise)", True, "hypothesis deliberately broken: blank patches repeat")]
    shown = (not h_raw.met) and h_noisy.met
    return Result(Verdict.HOLDS if shown else Verdict.FAILS, hyps, None, {"raw": rep_raw, "noise_1e-6": rep_noisy},
                  f"raw digits share {rep_raw['shared_patch_values']} patch values across "
                  f"{rep_raw['samples_affected']} samples; 1e-6 noise restores 3.1")


def _theorem_3_5(ctx: Context) -> Result:
    hyps, evidence, margins, ok, conclusive = [], {}, [], True, True
    for inst in default_instances(ctx):
        hs, _ = hyp.theorem_3_5(inst.arch, inst.data.X, inst.k)
        hyps += [Hypothesis(f"{inst.name}: {h.name}", h.met, h.detail) for h in hs]
        params = model.init(inst.arch, ctx.key(f"theorem-3.5/{inst.name}"))
        r = feature_rank(inst.arch, params, inst.data.X, inst.k)  # saturation-aware rank evidence
        evidence[inst.name] = r.to_dict()
        ok &= r.rank == inst.N
        conclusive &= r.conclusive
        margins.append(r.margin)
    margin = min(margins)
    return Result(decide(hyps, ok, conclusive), hyps, margin, evidence,
                  f"rank F_k = N on {len(evidence)} default instances (smallest margin {margin:.3g})")


def _width_necessity(ctx: Context) -> Result:
    evidence, ok, conclusive, hyps, margins = {}, True, True, [], []
    for inst in default_instances(ctx):
        params = model.init(inst.arch, ctx.key(f"width/{inst.name}"))
        Fs = model.features(inst.arch, params, inst.data.X)
        for k in range(1, inst.arch.L):
            n_k = inst.arch.widths[k]
            if n_k >= inst.N:
                continue
            hyps.append(Hypothesis(f"{inst.name}: n_{k} < N", True, f"n_{k} = {n_k}, N = {inst.N}"))
            r = rank_report(np.asarray(Fs[k]), name=f"F_{k}")
            ok &= r.rank <= n_k < inst.N
            conclusive &= r.conclusive
            margins.append(r.margin)
            evidence[f"{inst.name}/F_{k}"] = r.to_dict()
    margin = min(margins)
    return Result(decide(hyps, ok, conclusive), hyps, margin, evidence,
                  f"{len(evidence)} narrow layers: rank F_k <= n_k < N")


CHECKS = [
    Check("lemma-2.5", "Lemma 2.5", "U_k has full rank at random filters", _lemma_2_5),
    Check("assumption-3.1", "Assumption 3.1", "patches of different samples differ on the data in use",
          _assumption_3_1),
    Check("assumption-3.1-raw", "Assumption 3.1", "converse: raw digits violate 3.1; 1e-6 noise restores it",
          _assumption_3_1_raw, kind="converse"),
    Check("theorem-3.5-default", "Theorem 3.5", "rank F_k = N at random parameters on the default instances",
          _theorem_3_5),
    Check("width-necessity", "Width necessity", "a layer narrower than N has rank F_k < N", _width_necessity),
]
