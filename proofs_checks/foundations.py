"""Checks on the paper's setting (§2) and the first expressivity facts (§3).

* ``lemma-2.5``: ``U_k`` has full rank at random filters (Assumption 2.4 computed per
  layer); ``lemma-2.5-converse``: patches that do not cover their input (2.4 broken) leave
  ``U_k`` rank deficient.
* ``assumption-3.1``: the default data meet 3.1 (no shared patch value, smallest distance
  between patches of different samples beyond float64 rounding); ``assumption-3.1-raw``:
  THEORY.md's claim that raw digits violate it and 1e-6 noise restores it;
  ``assumption-3.1-converse``: a duplicated sample (3.1 broken) makes ``rank F_k = N`` fail.
* ``activation-registry``: every declared activation property against numerical probes
  (the declared ``sup |σ'|`` the forward-error bound uses included), and the registry against
  THEORY.md's classification (Assumption 3.2, Lemma 3.3).
* ``theorem-3.5-default``: ``rank F_k = N`` at random parameters on the default instances.
* :mod:`proofs_checks.definitions`: the layer definitions and the tolerance rules every
  check stands on, and the Assumption 3.1 predicate against planted shared patches.
* ``width-necessity``: a layer narrower than ``N`` has ``rank F_k = n_k < N`` at random
  parameters (Theorem 3.5 applied to ``n_k``-sample subsets): width is the only limit.

Every hypothesis is computed on the instance (:mod:`proofs_checks.hypotheses`), every
observation decided against a named tolerance (:mod:`theory_lab.tolerances`), and the
verdict and summary come from :func:`theory_lab.checking.conclude`.
"""

from __future__ import annotations

import numpy as np

from proofs_checks import definitions
from proofs_checks import hypotheses as hyp
from proofs_checks.instances import default_instances, digits_instance
from theory_lab import activations, feature_maps, linalg, sampling
from theory_lab import data as _data
from theory_lab import testing as probes
from theory_lab import tolerances as tols
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, applicable, conclude

__all__ = ["CHECKS", "THEORY_3_2", "REGISTRY_PROBED"]


# --------------------------------------------------------------------------- Lemma 2.5

def _lemma_2_5(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for inst in default_instances(ctx):
        params = sampling.sample_params(inst.arch, ctx.key(f"lemma-2.5/{inst.name}"))
        for info in inst.arch.info:
            if info.kind not in ("conv", "patch"):
                continue
            hyps.append(hyp.assumption_2_4(inst.arch, info.k).prefixed(f"{inst.name} layer {info.k}"))
            U = feature_maps.full_weight_matrix(inst.arch, params, info.k)
            ev.rank(f"{inst.name}: U_{info.k}", linalg.rank_report(U, name=f"U_{info.k}"), min(U.shape))
    return conclude("U_k has full rank at random filters", hyps, ev)


def _uncovering_arch() -> Architecture:
    # 3x3 filters at stride 3 on 8x8: rows and columns 6, 7 of the image are in no patch
    return Architecture((8, 8, 1), (Conv(16, (3, 3), stride=3, activation="sigmoid"), Output(1)))


def _lemma_2_5_converse(ctx: Context) -> Result:
    arch = _uncovering_arch()
    info = arch.layer(1)
    kept = [Hypothesis("layer 1 is convolutional", info.kind in ("conv", "patch"), f"kind {info.kind}"),
            Hypothesis("n_1 ≥ n_0 (full rank means rank n_0)", arch.widths[1] >= arch.widths[0],
                       f"n_0 = {arch.widths[0]}, n_1 = {arch.widths[1]}")]
    ev = Evidence()
    for draw in range(3):
        params = sampling.sample_params(arch, ctx.key(f"lemma-2.5-converse/{draw}"))
        U = feature_maps.full_weight_matrix(arch, params, 1)
        ev.rank(f"U_1 (draw {draw})", linalg.rank_report(U, name="U_1"), min(U.shape))
    return conclude("U_k has full rank at random filters", kept, ev, broken=[hyp.assumption_2_4(arch, 1)])


# --------------------------------------------------------------------------- Assumption 3.1

def _observe_3_1(ev: Evidence, name: str, arch: Architecture, X) -> dict:
    report = _data.check_distinct_patches(arch, X)
    ev.exact(f"{name}: patch values shared between samples", report.shared_patch_values, 0)
    scale = float(np.max(np.abs(X))) if np.size(X) else 0.0
    if report.shared_patch_values == 0:
        ev.at_least(f"{name}: smallest distance between patches of different samples", report.min_distance,
                    tols.distinct_tol(scale, arch.layer(1).l))
    return report.to_dict()


def _assumption_3_1(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for inst in default_instances(ctx):
        hyps.append(hyp.finite_float64(inst.data.X).prefixed(inst.name))
        ev.facts[inst.name] = _observe_3_1(ev, inst.name, inst.arch, inst.data.X)
    return conclude("Assumption 3.1 on the default data (no patch shared between samples)", hyps, ev)


def _assumption_3_1_raw(ctx: Context) -> Result:
    raw, noisy = digits_instance(ctx, noise=0.0), digits_instance(ctx)
    Xr, Xn = np.asarray(raw.data.X), np.asarray(noisy.data.X)
    change = float(np.max(np.abs(Xn - Xr))) / max(float(np.max(np.abs(Xr))), 1e-300)
    hyps = [hyp.finite_float64(Xr, "raw digits"),
            Hypothesis("the same images, perturbed by at most 1e-5 of their scale", Xr.shape == Xn.shape
                       and change <= 1e-5, f"max |X_noisy − X_raw| / max |X_raw| = {change:.2e}")]
    ev = Evidence()
    rep_raw = _data.check_distinct_patches(raw.arch, Xr)
    ev.exact("raw digits: patch values shared between samples", rep_raw.shared_patch_values, 0, ">")
    ev.facts["raw"] = rep_raw.to_dict()
    ev.facts["noise_1e-6"] = _observe_3_1(ev, "digits + 1e-6 noise", noisy.arch, Xn)
    return conclude("real images violate 3.1 (blank patches repeat); a tiny perturbation restores it", hyps, ev)


def _assumption_3_1_converse(ctx: Context) -> Result:
    inst = digits_instance(ctx)
    X = np.array(inst.data.X)
    X[1] = X[0]  # two samples equal: every patch of sample 1 is a patch of sample 0
    k = inst.k
    hs, _ = hyp.theorem_3_5(inst.arch, X, k)
    broken = [hyp.assumption_3_1(inst.arch, X)[0]]
    kept = [h for h in hs if h.name != broken[0].name]
    ev = Evidence()
    claim = f"rank F_{k} = N at random parameters (Theorem 3.5)"
    if not applicable(kept, broken):
        return conclude(claim, kept, ev, broken=broken)
    for draw in range(2):
        params = sampling.sample_params(inst.arch, ctx.key(f"assumption-3.1-converse/{draw}"))
        ev.rank(f"F_{k} (draw {draw})", feature_maps.feature_rank(inst.arch, params, X, k), inst.N)
    return conclude(claim, kept, ev, broken=broken)


# --------------------------------------------------------------------------- Assumption 3.2 (registry)

#: THEORY.md §2: (satisfies Assumption 3.2, real analytic); ``None`` where THEORY.md is silent.
THEORY_3_2 = {"sigmoid": (True, True), "relu": (True, False), "softplus": (True, True), "gelu": (True, True),
              "silu": (True, True), "tanh": (False, True), "elu": (False, None), "leaky_relu": (False, False),
              "identity": (False, None)}
#: The registry entries probed: every name, parametrised ones at a few parameters.
REGISTRY_PROBED = ("softplus(1)", "softplus(2)", "leaky_relu(0.01)", "leaky_relu(0.1)")


def _registry_names() -> list[str]:
    """Every registered activation (parametrised ones at their default and at :data:`REGISTRY_PROBED`)."""
    return sorted({activations.get(name).name for name in activations.names()} | set(REGISTRY_PROBED))


def _activation_registry(ctx: Context) -> Result:
    ev = Evidence()
    for name in _registry_names():
        act = activations.get(name)
        measured = probes.probe_activation(act)
        wrong = probes.declaration_disagreements(act, measured)
        ev.observe(f"{name}: declarations vs probes", not wrong, margin=np.inf if not wrong else 0.0,
                   conclusive=True, detail=f"{name}: " + ("; ".join(wrong) if wrong else
                                                          f"all {len(act.properties())} declarations agree"))
        ev.facts[name] = {"declared": act.properties(), "measured": measured}
        base = name.split("(")[0]
        if base in THEORY_3_2:
            want_32, want_analytic = THEORY_3_2[base]
            ev.exact(f"{name}: Assumption 3.2 as THEORY.md §2 says", int(act.assumption_3_2), int(want_32),
                     detail=f"{name}: registry says 3.2 {act.assumption_3_2}, THEORY.md says {want_32}")
            if want_analytic is not None:
                ev.exact(f"{name}: real analytic as THEORY.md §2 says", int(act.analytic), int(want_analytic),
                         detail=f"{name}: registry says analytic {act.analytic}, THEORY.md says {want_analytic}")
    return conclude("the activation registry agrees with numerical probes and THEORY.md §2", [], ev)


# --------------------------------------------------------------------------- Theorem 3.5 and width

def _theorem_3_5_default(ctx: Context) -> Result:
    ev, hyps, instances = Evidence(), [], default_instances(ctx)
    for inst in instances:
        hs, _ = hyp.theorem_3_5(inst.arch, inst.data.X, inst.k)
        params = sampling.sample_params(inst.arch, ctx.key(f"theorem-3.5/{inst.name}"))
        hyps += [h.prefixed(inst.name) for h in hs + [hyp.float64_draws([params])]]
        ev.rank(f"{inst.name}: F_{inst.k}", feature_maps.feature_rank(inst.arch, params, inst.data.X, inst.k),
                inst.N)
    return conclude("rank F_k = N at random parameters", hyps, ev, instances=[inst.name for inst in instances])


def _width_necessity(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for inst in default_instances(ctx):
        params = sampling.sample_params(inst.arch, ctx.key(f"width/{inst.name}"))
        for k in range(1, inst.arch.L):
            if inst.arch.widths[k] >= inst.N or not inst.arch.layer(k).has_weights:
                continue
            hs, _ = hyp.theorem_3_5(inst.arch, inst.data.X, k)
            hs = [hyp.narrow_layer(inst.arch, k, inst.N) if h.name == f"n_{k} >= N" else h for h in hs]
            hyps += [h.prefixed(f"{inst.name} layer {k}") for h in hs]
            n_k = inst.arch.widths[k]
            ev.rank(f"{inst.name}: F_{k} (n_{k} = {n_k} < N = {inst.N})",
                    feature_maps.feature_rank(inst.arch, params, inst.data.X, k), n_k)
    if not ev.observations:
        raise ValueError("width-necessity: no default instance has a narrow hidden layer with weights; "
                         "add one (e.g. a dense layer with fewer units than samples).")
    return conclude("rank F_k = n_k < N on layers narrower than N (width is the only limit)", hyps, ev)


CHECKS = [
    Check("lemma-2.5", "Lemma 2.5", "U_k has full rank at random filters", _lemma_2_5),
    Check("lemma-2.5-converse", "Lemma 2.5", "converse: patches that miss input neurons (2.4 broken) leave U_k "
          "rank deficient", _lemma_2_5_converse, kind="converse"),
    Check("assumption-3.1", "Assumption 3.1", "patches of different samples differ on the data in use",
          _assumption_3_1),
    Check("assumption-3.1-raw", "Assumption 3.1", "raw digits violate 3.1; 1e-6 noise restores it",
          _assumption_3_1_raw),
    Check("assumption-3.1-converse", "Assumption 3.1", "converse: a duplicated sample (3.1 broken) makes "
          "rank F_k < N", _assumption_3_1_converse, kind="converse"),
    Check("activation-registry", "Assumption 3.2", "declared activation properties agree with numerical probes "
          "and THEORY.md", _activation_registry),
    Check("theorem-3.5-default", "Theorem 3.5", "rank F_k = N at random parameters on the default instances",
          _theorem_3_5_default),
    Check("width-necessity", "Width necessity", "a layer narrower than N has rank F_k = n_k < N",
          _width_necessity),
    *definitions.CHECKS,
]
