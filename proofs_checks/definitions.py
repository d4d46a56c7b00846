"""Checks of what every other check stands on: the layer definitions and the numerical rules.

* ``layer-definition``: the forward pass against Definitions 2.1/2.2 computed here from
  the patches, filters and per-neuron biases (``G_k[:, h] = ⟨w^t, f_{k-1}^p⟩ + (b_k)_h``,
  ``h = (p−1)T_k + t``), a max-pooling layer against Definition 2.3 (``F_k[:, p]`` the
  largest entry of patch ``p`` of ``F_{k−1}``; windows that overlap and windows that tile,
  which the forward pass computes by two different routes),
  against ``F_{k−1} U_k + 1 b_kᵀ`` with both full-weight-matrix
  twins (:func:`theory_lab.model.full_weight_matrix`, :func:`theory_lab.feature_maps.full_weight_matrix`),
  ``F_k = σ_k(G_k)``, and the truncated forward every rank check uses
  (:func:`theory_lab.feature_maps.features_upto`). A wrong patch order, a transposed or
  flipped filter, or a dropped bias changes no rank, so no rank check can see it; this can.
* ``tolerance-rules``: the named tolerances sit between the rounding they model and the
  errors they must resolve (THEORY.md §5): an exactly rank-``r`` float64 product reads as
  rank ``r`` beyond the band; a singular value 30× the SVD tolerance counts, beyond the
  band; ``rank_report``'s default threshold is :func:`theory_lab.tolerances.svd_rank_tol`
  (one home); an exact fit's ``Φ`` (rounding only) is zero beyond the band, and ``Φ`` of
  a fit left at a relative residual 3e-9 (30× the modelled 1e-10) is not, at the targets' scale and at
  2^-30 of it (the rule is scale-free); likewise the
  critical-point tolerance: ``‖Fᵀr‖`` at the exact fit is critical, at a residual ``3e-9 ‖Y‖``
  along ``F``'s top singular direction it is not, and a least-squares minimum whose outputs are 1e-9 of
  the targets is critical (the rule's scale is the residual's); an eigenvalue 30× the eigenvalue-sign
  tolerance counts as positive beyond the band; two vectors one rounding apart are within the
  distinct-vector tolerance (Assumption 3.1's distances), two ``30 · sqrt(l)·eps·scale`` apart beyond it.
  The forward-error bound that full-rank claims of computed ``F_k`` must clear covers the actual error
  (against exact rational arithmetic) of a cancelling forward pass at every layer, through max-pooling.
* ``assumption-3.1-predicate``: the Assumption 3.1 predicate
  (:func:`theory_lab.data.check_distinct_patches`) finds one shared patch planted at every
  patch position of the default data (the same position and another one), so a predicate
  that skips a patch cannot certify 3.1; and its smallest distance between patches of different
  samples (3.1's margin) is the brute-force minimum, on that data and on patches in tight clusters.
  Samples that repeat a patch value inside themselves only (constant samples) do not break 3.1.

Every observation is decided against a named tolerance (:mod:`theory_lab.tolerances`) or
is exact, and the verdict comes from :func:`theory_lab.checking.conclude`.
"""

from __future__ import annotations

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks.instances import default_instances
from theory_lab import activations, exact_fit, feature_maps, linalg, model, sampling
from theory_lab import data as _data
from theory_lab import testing as probes
from theory_lab import tolerances as tols
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, conclude

__all__ = ["CHECKS", "definition_preactivation", "definition_maxpool", "odd_conv_arch", "pooling_arch"]

#: samples of each default instance pushed through the layer definitions (the same shapes as the other checks)
LAYER_N = 200


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), np.finfo(float).tiny))


def odd_conv_arch() -> Architecture:
    """A 2-D conv with stride, SAME padding and dilation, then a tied-bias conv, a dense and the output."""
    return Architecture((7, 6, 2), (Conv(3, (3, 2), stride=(2, 1), padding="SAME", dilation=(1, 2)),
                                    Conv(2, (2, 2), bias="filter"), Dense(5), Output(3)))


def pooling_arch() -> Architecture:
    """Conv, max-pooling with overlapping windows (stride 1), max-pooling whose windows tile, output."""
    return Architecture((6, 6, 2), (Conv(3, (2, 2)), MaxPool((2, 2), stride=1), MaxPool((2, 2)), Output(2)))


def definition_maxpool(arch: Architecture, F_prev, k: int) -> np.ndarray:
    """``F_k (N, n_k)`` by Definition 2.3: ``F_k[:, p]`` is the largest entry of patch ``p`` of ``F_{k−1}`` (numpy)."""
    return np.asarray(F_prev, dtype=np.float64)[:, arch.layer(k).patches].max(axis=-1)


def definition_preactivation(arch: Architecture, params, F_prev, k: int) -> np.ndarray:
    """``G_k (N, n_k)`` by Definition 2.1/2.2 from the patches, filters and biases (numpy, no ``U_k``).

    ``G_k[:, (p−1)T + t] = ⟨w^t, f_{k−1}^p⟩ + (b_k)_{(p−1)T+t}``; a patch index ``−1`` (zero
    padding) reads 0; a tied bias ``b ∈ R^T`` is the same for every patch.
    """
    info = arch.layer(k)
    p = params[f"layer_{k}"]
    W = np.asarray(p["W"], dtype=np.float64)
    F_prev = np.asarray(F_prev, dtype=np.float64)
    N = F_prev.shape[0]
    if info.kind in ("dense", "output"):
        G = F_prev @ W
    else:
        padded = np.concatenate([F_prev, np.zeros((N, 1))], axis=1)
        patches = padded[:, np.where(info.patches < 0, F_prev.shape[1], info.patches)]  # (N, P, l)
        G = np.einsum("npl,lt->npt", patches, W).reshape(N, info.P * info.T)
    if "b" in p:
        b = np.asarray(p["b"], dtype=np.float64)
        G = G + (np.tile(b, info.P) if b.size != G.shape[1] else b)
    return G


def _layer_cases(ctx: Context):
    cases = [(inst.name, inst.arch, np.asarray(inst.data.X)[:LAYER_N]) for inst in default_instances(ctx)]
    arch = odd_conv_arch()
    cases.append(("strided SAME dilated conv", arch, ctx.rng("layer-definition/X").standard_normal((24, 7, 6, 2))))
    cases.append(("max-pooling", pooling_arch(), ctx.rng("layer-definition/pool").standard_normal((24, 6, 6, 2))))
    return cases


def _layer_definition(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for name, arch, X in _layer_cases(ctx):
        hyps.append(hyp.finite_float64(X, f"{name}: X"))
        if not hyps[-1].met:  # a forward pass of non-finite data decides nothing
            continue
        params = sampling.sample_params(arch, ctx.key(f"layer-definition/{name}"), bias_scale=0.5)
        fw = model.forward(arch, params, X)
        for info in arch.info:
            k = info.k
            if info.kind == "maxpool":
                ev.at_most(f"{name}: F_{k} vs Definition 2.3 (max over each patch of F_{k - 1})",
                           _rel(fw.F[k], definition_maxpool(arch, fw.F[k - 1], k)), tols.IDENTITY)
            if not info.has_weights:
                continue
            G = np.asarray(fw.G[k])
            ev.at_most(f"{name}: G_{k} vs Definition 2.{1 if info.kind in ('conv', 'patch') else 2}",
                       _rel(G, definition_preactivation(arch, params, fw.F[k - 1], k)), tols.IDENTITY)
            F_prev = np.asarray(fw.F[k - 1])
            b = np.asarray(model.bias_vector(arch, params, k))
            for twin, U in (("model", model.full_weight_matrix(arch, params, k)),
                            ("feature_maps", feature_maps.full_weight_matrix(arch, params, k))):
                U = np.asarray(U)
                ok = U.shape == (arch.widths[k - 1], arch.widths[k])
                ev.exact(f"{name}: U_{k} ({twin}) has shape (n_{k - 1}, n_{k})", int(ok), 1,
                         detail=f"{name}: U_{k} ({twin}) shape {U.shape}, "
                                f"(n_{k - 1}, n_{k}) = {(arch.widths[k - 1], arch.widths[k])}")
                if ok:
                    ev.at_most(f"{name}: G_{k} vs F_{k - 1} U_{k} + 1 b_{k}ᵀ ({twin}.full_weight_matrix)",
                               _rel(F_prev @ U + b, G), tols.IDENTITY)
            if info.kind != "output":
                act = activations.get(info.activation)
                ev.at_most(f"{name}: F_{k} vs σ_{k}(G_{k})", _rel(fw.F[k], np.asarray(act(G))), tols.IDENTITY)
                ev.at_most(f"{name}: features_upto F_{k} vs the forward pass",
                           _rel(feature_maps.features_upto(arch, params, X, k), fw.F[k]), tols.IDENTITY)
    return conclude("the forward pass, U_k and F_k agree with Definitions 2.1–2.3 (patch order h = (p−1)T + t)",
                    hyps, ev)


# --------------------------------------------------------------------------- tolerance rules

RANK_SHAPE, RANK_R = (200, 216), 150
#: length of the vectors the distinct-vector tolerance (Assumption 3.1's distances) is tried on
DISTINCT_L = 400


def _exact_forward(arch: Architecture, params, X) -> list:
    """``F_l`` of every layer in exact rational arithmetic (dense layers with identity σ, max-pooling), from the
    float64 inputs and parameters as stored: the reference the forward-error bound must cover."""
    from fractions import Fraction

    F = [[[Fraction(float(v)) for v in row] for row in np.asarray(X, dtype=np.float64)]]
    for info in arch.info:
        if info.kind == "maxpool":
            F.append([[max(row[j] for j in patch) for patch in info.patches] for row in F[-1]])
            continue
        W = [[Fraction(float(v)) for v in r] for r in np.asarray(params[f"layer_{info.k}"]["W"])]
        b = [Fraction(float(v)) for v in np.asarray(params[f"layer_{info.k}"]["b"])]
        F.append([[sum((row[i] * W[i][j] for i in range(len(row))), Fraction(0)) + b[j] for j in range(len(b))]
                  for row in F[-1]])
    return F


def _observe_forward_error(ev: Evidence, rng) -> None:
    """The forward-error bound (:func:`theory_lab.forward_error.feature_error_bound`) covers the actual error of a
    cancelling forward pass at every layer: unit 0 of a dense identity layer is ``w x_0 + 2^27 x_1 − 2^27`` with
    ``x_1 = 1`` (exactly ``w x_0``, computed with an error ~``eps · 2^27``), a max-pooling layer passes it on (unit
    1 is far below), a dense layer copies it. The error is measured against exact rational arithmetic."""
    from fractions import Fraction

    from theory_lab.forward_error import feature_error_bound
    from theory_lab.layers import PatchMaxPool

    big = 2.0**27
    arch = Architecture((2,), (Dense(2, activation="identity"), PatchMaxPool(((0, 1),)),
                               Dense(1, activation="identity"), Output(1)))
    X = np.column_stack([rng.uniform(1.0, 2.0, 6), np.ones(6)])
    params = {"layer_1": {"W": np.array([[0.7 + rng.uniform(), 0.25], [big, 0.0]]), "b": np.array([-big, -64.0])},
              "layer_3": {"W": np.array([[1.0]]), "b": np.array([0.0])},
              "layer_4": {"W": np.array([[1.0]]), "b": np.array([0.0])}}
    exact, fw = _exact_forward(arch, params, X), feature_maps.forward_upto(arch, params, X, 3)
    for k in (1, 2, 3):
        err = float(np.linalg.norm([float(Fraction(float(a)) - e) for ra, re in zip(np.asarray(fw.F[k]), exact[k])
                                    for a, e in zip(ra, re)]))
        bound = feature_error_bound(arch, params, fw, k)
        ev.at_most(f"‖F̂_{k} − F_{k}‖ (exact rational pass) / feature_error_bound, cancelling net", err / bound,
                   tols.BOUND, detail=f"layer {k}: actual forward error {err:.2e} vs the bound {bound:.2e}")


def _tolerance_rules(ctx: Context) -> Result:
    rng = ctx.rng("tolerance-rules")
    ev = Evidence()
    m, n = RANK_SHAPE
    # an exactly rank-r matrix stored in float64: only rounding above σ_r
    A = rng.standard_normal((m, RANK_R)) @ rng.standard_normal((RANK_R, n))
    rep = linalg.rank_report(A, name="B C")
    ev.rank(f"float64 product B C of rank {RANK_R} (rounding only beyond σ_{RANK_R})", rep, RANK_R)
    svd_tol = tols.svd_rank_tol(A.shape, rep.sigma_max)
    ev.at_most("rank_report's default tolerance vs tolerances.svd_rank_tol (one home)", _rel(rep.tol, svd_tol.value),
               tols.IDENTITY)
    # a singular value 30x the SVD tolerance is resolved by float64 (its error is ~eps σ_1) and must count
    unit = max(RANK_SHAPE) * np.finfo(np.float64).eps  # svd_rank_tol / σ_1
    s = np.concatenate([np.ones(RANK_R - 1), [30.0 * unit]])
    B = probes.matrix_with_singular_values(s, RANK_SHAPE, rng)
    ev.rank(f"σ_{RANK_R} = 30 × the SVD tolerance", linalg.rank_report(B, name="U diag(s) Vᵀ"), RANK_R)
    # zero loss: an exact fit is zero up to rounding; a relative residual 3e-9 is not zero
    F = rng.standard_normal((40, 60))
    Y = rng.standard_normal((40, 3))
    fit = exact_fit.exact_fit(F, Y)
    zero = tols.zero_loss_tol(Y)
    phi = 0.5 * float(np.sum((F @ fit.lam - Y) ** 2))
    ev.at_most("Φ of an exact fit (rounding only)", phi, zero)
    off = rng.standard_normal(Y.shape)
    off *= 3e-9 * np.linalg.norm(Y) / np.linalg.norm(off)
    phi_off = 0.5 * float(np.sum(((F @ fit.lam - Y) + off) ** 2))
    ev.at_least("Φ of a fit left at relative residual 3e-9 (not zero loss)", phi_off, zero)
    # the rule is the same at every scale of the targets: both again with Y, λ and the residual scaled by 2^-30
    # (exactly), where Φ scales by 2^-60
    small = 2.0**-30
    zero_small = tols.zero_loss_tol(small * Y)
    ev.at_most("Φ of an exact fit, targets scaled by 2^-30 (rounding only)",
               0.5 * float(np.sum((F @ (small * fit.lam) - small * Y) ** 2)), zero_small)
    ev.at_least("Φ of a fit left at relative residual 3e-9, targets scaled by 2^-30 (not zero loss)",
                0.5 * float(np.sum((small * ((F @ fit.lam - Y) + off)) ** 2)), zero_small)
    # critical: for Φ(λ) = ½‖Fλ − Y‖² (J = F), ∇Φ = Fᵀr. At the exact fit r is rounding: critical;
    # r = 3e-9 ‖Y‖ along F's top left singular vector gives ‖∇Φ‖ = 30× the modelled error: not critical
    Uf, sf, _ = np.linalg.svd(F, full_matrices=False)
    crit = tols.critical_tol(float(sf[0]), Y, outputs=F @ fit.lam)
    ev.at_most("‖Fᵀ r‖ at the exact fit (rounding only)", float(np.linalg.norm(F.T @ (F @ fit.lam - Y))), crit)
    r_off = np.outer(Uf[:, 0], np.ones(Y.shape[1]))
    r_off *= 3e-9 * max(float(np.linalg.norm(Y)), 1.0) / np.linalg.norm(r_off)
    ev.at_least("‖Fᵀ r‖ at a residual 3e-9 ‖Y‖ along F's top direction (not critical)",
                float(np.linalg.norm(F.T @ r_off)), crit)
    # a least-squares minimum (critical, Φ > 0) whose outputs are 1e-9 of the targets: the gradient is rounding of
    # the residual's size ‖Y‖, so the rule's scale is max(‖Y‖, ‖F_L‖) = ‖Y‖, not the outputs' size
    Ft = rng.standard_normal((60, 40))
    G = rng.standard_normal((60, 3))
    Yt = G - Ft @ np.linalg.lstsq(Ft, G, rcond=None)[0] + 1e-9 * Ft @ rng.standard_normal((40, 3))
    lam_t = np.linalg.lstsq(Ft, Yt, rcond=None)[0]
    crit_t = tols.critical_tol(float(np.linalg.norm(Ft, 2)), Yt, outputs=Ft @ lam_t)
    ev.at_most("‖Fᵀ r‖ at a least-squares minimum whose outputs are 1e-9 of the targets (critical)",
               float(np.linalg.norm(Ft.T @ (Ft @ lam_t - Yt))), crit_t)
    # eigenvalue signs: a symmetric matrix with 60 unit eigenvalues, one 30x the eigensolver tolerance, 39 zeros
    n_eig = 100
    lam = np.concatenate([np.ones(60), [30.0 * n_eig * np.finfo(np.float64).eps], np.zeros(n_eig - 61)])
    Qe = probes.matrix_with_singular_values(np.ones(n_eig), (n_eig, n_eig), rng)
    eig = np.linalg.eigvalsh((Qe * lam) @ Qe.T)
    etol = tols.eigen_tol(n_eig, float(np.max(np.abs(eig))))
    inertia = linalg.inertia_report(eig, tol=etol.value, band=etol.band)
    ok = (inertia.negative, inertia.zero, inertia.positive) == (0, n_eig - 61, 61)
    ev.observe("inertia (0, 39, 61) with λ_61 = 30× the eigenvalue tolerance", ok,
               margin=inertia.margin if ok else 1 / max(inertia.margin, 1.0), conclusive=inertia.conclusive,
               detail=f"{inertia} (expected (−0, 0:39, +61))")
    # distinct vectors (Assumption 3.1's distance): one rounding of the largest entry of a length-400 vector is
    # within the tolerance; a distance 30× the modelled sqrt(l)·eps·scale is resolved
    v = rng.standard_normal(DISTINCT_L)
    v[0] = 1.5 * float(np.max(np.abs(v)))
    w = v.copy()
    w[0] = np.nextafter(v[0], np.inf)
    dtol = tols.distinct_tol(float(np.max(np.abs(w))), DISTINCT_L)
    ev.at_most(f"length-{DISTINCT_L} vectors one rounding apart in their largest entry", float(np.linalg.norm(w - v)),
               dtol)
    far = 30.0 * np.sqrt(DISTINCT_L) * np.finfo(np.float64).eps * float(np.max(np.abs(v)))
    ev.at_least(f"length-{DISTINCT_L} vectors 30 × sqrt(l)·eps·scale apart", far, dtol)
    _observe_forward_error(ev, rng)
    ev.facts.update(rank_tol=rep.tol, svd_rank_tol=svd_tol.to_dict(), zero_loss_tol=zero.to_dict(),
                    distinct_tol=dtol.to_dict(),
                    exact_fit_phi=phi, perturbed_phi=phi_off, critical_tol=crit.to_dict())
    hyps = [Hypothesis("float64 arithmetic", A.dtype == np.float64 and F.dtype == np.float64, str(A.dtype))]
    return conclude("tolerances sit between the rounding they model and the errors they must resolve", hyps, ev)


# --------------------------------------------------------------------------- Assumption 3.1 predicate

#: samples of each default instance the predicate is tried on (its logic does not depend on N)
PREDICATE_N = 40

def _plant(X: np.ndarray, idx: np.ndarray, p: int, q: int) -> np.ndarray:
    """``X`` with sample 1's patch ``p`` set to sample 0's patch ``q`` (same padding pattern)."""
    X2 = np.array(X)
    flat = X2.reshape(X2.shape[0], -1)
    src, dst = idx[q], idx[p]
    keep = dst >= 0
    flat[1, dst[keep]] = flat[0, src[keep]]
    return X2


def _brute_min_cross(arch: Architecture, X) -> float:
    """The smallest Euclidean distance between layer-1 patches of different samples, over all pairs (slow path)."""
    idx = arch.layer(1).patches
    flat = np.concatenate([X.reshape(X.shape[0], -1), np.zeros((X.shape[0], 1))], axis=1)
    rows = flat[:, np.where(idx < 0, arch.d, idx)]  # (N, P, l)
    return float(min(np.linalg.norm(rows[i][:, None, :] - rows[i + 1:].reshape(-1, idx.shape[1])[None], axis=2).min()
                     for i in range(X.shape[0] - 1)))


def _clustered_patches(rng) -> tuple[Architecture, np.ndarray]:
    """Four samples of 10 disjoint patches of length 2: samples 0 and 1 are tight clusters 0.05 apart (their
    nearest pair hides behind each point's same-sample neighbours), samples 2 and 3 an easier pair 0.1 apart."""
    X = np.zeros((4, 10, 2))
    X[0] = 1e-3 * rng.standard_normal((10, 2))
    X[1] = [0.05, 0.0] + 1e-3 * rng.standard_normal((10, 2))
    X[2] = np.column_stack([5.0 + np.arange(10), np.full(10, 5.0)])
    X[3] = X[2] + [0.0, 0.1]
    return Architecture((20, 1), (Conv(1, (2,), stride=2), Output(1))), X.reshape(4, 20, 1)


def _observe_min_distance(ev: Evidence, name: str, arch: Architecture, X) -> None:
    found, brute = _data.check_distinct_patches(arch, X).min_distance, _brute_min_cross(arch, X)
    ev.at_most(f"{name}: smallest cross-sample patch distance vs brute force", _rel(found, brute), tols.IDENTITY,
               detail=f"{name}: the predicate's smallest distance between patches of different samples {found:.6e}, "
                      f"brute force over all pairs {brute:.6e}")


def _assumption_3_1_predicate(ctx: Context) -> Result:
    ev, hyps = Evidence(), []
    for inst in default_instances(ctx):
        X = np.asarray(inst.data.X)[:PREDICATE_N]
        base = _data.check_distinct_patches(inst.arch, X)
        hyps += [hyp.finite_float64(X, f"{inst.name}: X"),
                 Hypothesis(f"{inst.name}: no patch shared before planting", base.holds, str(base))]
        idx = inst.arch.layer(1).patches
        P = idx.shape[0]
        missed = []
        for p in range(P):
            same_pad = [q for q in range(P) if q != p and np.array_equal(idx[q] < 0, idx[p] < 0)]
            for q in [p] + same_pad[:1]:
                rep = _data.check_distinct_patches(inst.arch, _plant(X, idx, p, q))
                if rep.holds or rep.shared_patch_values < 1:
                    missed.append((p, q))
        tried = P + sum(1 for p in range(P) if any(q != p and np.array_equal(idx[q] < 0, idx[p] < 0)
                                                   for q in range(P)))
        ev.exact(f"{inst.name}: planted shared patches the predicate missed", len(missed), 0,
                 detail=f"{inst.name}: {len(missed)} of {tried} planted shared patches missed"
                        + (f" (sample 1 patch p = sample 0 patch q at (p, q) = {missed[:5]})" if missed else ""))
        ev.facts[inst.name] = {"patches": P, "planted": tried, "missed": missed}
        _observe_min_distance(ev, inst.name, inst.arch, X)
        # each sample constant, a different constant each: every sample repeats its patches, no two samples share one
        flat = np.broadcast_to(np.linspace(1.0, 2.0, X.shape[0])[:, None], (X.shape[0], inst.arch.d))
        rep = _data.check_distinct_patches(inst.arch, flat.reshape(X.shape).copy())
        ev.exact(f"{inst.name}: patch values shared between constant samples (distinct constants)",
                 rep.shared_patch_values, 0, detail=f"{inst.name}, samples constant at distinct values: {rep}")
    _observe_min_distance(ev, "clustered patches", *_clustered_patches(ctx.rng("assumption-3.1-predicate")))
    return conclude("the Assumption 3.1 predicate finds a shared patch at every patch position", hyps, ev)


CHECKS = [
    Check("layer-definition", "Def. 2.1–2.3", "forward pass, U_k (both twins) and F_k against the layer definitions",
          _layer_definition),
    Check("tolerance-rules", "§5 numerics", "rank and zero-loss tolerances between rounding and resolved errors",
          _tolerance_rules),
    Check("assumption-3.1-predicate", "Assumption 3.1", "the 3.1 predicate finds a shared patch planted at any "
          "position, and the nearest pair", _assumption_3_1_predicate),
]
