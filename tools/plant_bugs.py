"""Plant realistic bugs in the library one at a time and see whether ``theory-lab verify`` catches them.

Not part of the test suite (it runs ``verify`` once per bug: minutes each). Each bug is a
source edit (old text -> new text, each found exactly once) applied to a copy of
``theory_lab/`` and ``proofs_checks/`` in a temporary folder; ``verify --strict`` then runs
in a subprocess with that copy first on ``PYTHONPATH`` (the installed entry points load
``proofs_checks.*`` by module name, so they load the planted copy). A source edit reaches
every ``from x import y`` binding, which a monkeypatch of a module attribute would miss.

A bug counts as *caught* when ``verify --strict`` exits non-zero; the checks that caught it
are those whose verdict differs from the unplanted run at the same seed (``--baseline``,
a ``results.json``) and is not *holds* / *measured*.

A bug outside the library (``benchmarks/``, which ``verify`` never runs) names the test files
that must catch it (``tests=``): ``benchmarks/``, ``tests/`` and ``pyproject.toml`` are copied
too, and ``pytest`` runs those files in the copy; caught when pytest exits 1 (tests failed), by
the tests it lists as failed.

``--restrict`` runs only the checks listed with each bug (those whose code reaches the
planted line, found by reading the call sites); the other checks cannot change verdict.
Without it every registered check runs (the default, as CI does).

Usage::

    python tools/plant_bugs.py --baseline theory-lab-report/results.json --restrict \\
        --results /tmp/planted.jsonl [--only ID ...] [--seed 0]
    python tools/plant_bugs.py --table /tmp/planted.jsonl      # the markdown table
    python tools/plant_bugs.py --dry-run                       # every patch still applies
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory_lab", "proofs_checks")
TEST_TREE = ("benchmarks", "tests")  # copied as well for a bug caught by tests (``Bug.tests``)


@dataclass(frozen=True)
class Bug:
    id: str
    what: str
    patches: tuple  # ((path, old, new), ...)
    checks: tuple = field(default=())  # the checks whose code reaches the planted line (for --restrict)
    tests: tuple = field(default=())  # test files to run instead of verify (a bug in benchmarks/)


def _p(path, old, new):
    return (path, old, new)


# check lists for --restrict. The three critical-point searches (theorem-4.5, corollary-4.6,
# narrow-critical-points) take ~9 of verify's ~12 minutes; they run only for bugs in what they call.
HESSIAN = ("hvp-dense", "lanczos-dense", "hessian-*", "critical-full-row-rank*", "bad-critical-*")
RANKS = ("lemma-2.5*", "assumption-3.1-converse", "theorem-3.5*", "width-necessity", "theorem-3.4*", "corollary-3.6*",
         "tolerance-rules", "lemma-4.2", "hessian-zero-loss*", "bad-critical-point", "critical-full-row-rank*",
         "theorem-4.4", "class-targets-outside-S_k")
H34 = ("theorem-3.4*", "corollary-3.6*", "probe-*")
H35 = ("theorem-3.5*", "assumption-3.1-converse", "probe-*")
S33D = ("tests/test_bench_protocol_s33.py",)  # the tests that catch the s33d-* benchmark bugs
S33F = ("tests/test_width_threshold_rule_s33.py",)  # the width-threshold demo (verify never runs the demos)

S33G = ("tests/test_probe_intervals_s33.py",)  # the tests that catch the s33g-* interval bugs

S33E = ("tests/test_differential_s33.py",)  # the differential tests that catch the s33e-* shape bugs
S38 = ("tests/test_hardening_s38.py",)  # session 38 (lead): size, config, leaf, field, scale, v0 and band guards
S38B = ("tests/test_hardening_s38b.py",)  # session 38 (helper b): sizes, data, exact fit, params_io, reports
S38A = ("tests/test_hardening_s38a.py",)
S39 = ("tests/test_planted_bugs_s26.py",)  # session 39 (lead): the driver and the one-at-a-time choice per backend
S34E = ("tests/test_mutants_s34e.py",)  # session 34 (s34e-*): saving/loading, validation, reports, keys, the CLI

S34C = ("tests/test_mutants_s34c.py",)  # the s34c-* mutants of layers, batching, pool_resolved, jacobians, feature_maps
S34C_ARCH = S34C + ("tests/test_arch.py",)  # ... also caught by the files that caught them before session 34
S34C_BATCHING = S34C + ("tests/test_batching.py",)
S34G = ("tests/test_mutants_s34g.py",)  # session 34 (s34g-*): critical, stopping, witness, exact_fit, saturation

S34A = ("tests/test_mutants_s34a.py",)  # the tests that catch the s34a-* objective/operators mutants
S34A_CE = S34A + ("tests/test_adversarial_s30_derivatives.py",)  # caught before too (s34a-ce-rows-sum-dropped)
S34A_BLOCK = S34A + ("tests/test_objective.py",)  # caught before too (s34a-restrict-adds-block)
S34A_MEAN = S34A + ("tests/test_planted_bugs_s20_models.py",)  # caught before too (s34a-streamed-mean-twice)
S34A_LISTS = S34A + ("tests/test_bad_input_s22b.py",)  # caught before too (s34a-refuse-lists-name-shift)
S34A_STREAM = S34A + ("tests/test_batched_spectra.py",)  # caught before too (s34a-dense-loop-driver)

S34B = ("tests/test_mutants_s34b.py",)  # the tests that catch the s34b-* spectrum / report bugs

S34H = ("tests/test_mutants_s34h.py",)  # session 34 (s34h-*): layout, resnet, presets, evidence, figures, near-dups
S34H_OBJ = S34H + ("tests/test_objective.py",)  # ... also caught before by (s34h-tree-blocks-drop-last-leaf)
S34H_HTML = S34H + ("tests/test_report_html.py",)  # (s34h-band-of-no-exponent)
S34H_NEAR_DOC = S34H + ("theory_lab/near_duplicates.py",)  # the module's doctest (s34h-components-root-not-smallest)
S34H_NEAR = S34H + ("tests/test_near_duplicates.py",)  # (s34h-pairs-equal-samples)

S35D = ("tests/test_mutants_s35d.py",)  # session 35 (s35d-*): gradient_probes, factories, expressivity, sharding, cache


S35C = ("tests/test_mutants_s35c.py",)  # session 35 (s35c-*): strategies, data_strategies, testing helpers
S34D = ("tests/test_mutants_s34d.py",)  # the tests that catch the s34d-* zoo / arch shape-rule bugs
S34F = ("tests/test_mutants_s34f.py",)  # the s34f-* mutants of the checks definitions, s4_extra, instances, widths
S34F_S21 = S34F + ("tests/test_planted_bugs_s21_checks.py",)  # ... also caught before session 34 there
S35A = ("tests/test_mutants_s35a.py",)  # session 35 (s35a-*): the rank-jump and critical-points demos, demos.common


S35B = ("tests/test_mutants_s35b.py",)  # session 35 (s35b-*): the spectra and slices demos and the `demo` command
S35B_SLICES = S35B + ("tests/test_demos_slices.py",)  # caught before too (curvature-point-index, narrow-same-start)
S35B_S30 = S35B + ("tests/test_adversarial_s30_data_demos.py",)  # (s35b-nan-margin-in-json)
S32_OUTPUTS = ("tests/test_bad_input_s32.py",)  # all-or-none output sets (s35b-demo-writes-in-place)


S35F = ("tests/test_mutants_s35f.py",)  # session 35 (s35f-*): critical's damping search and Newton phase, critical_inertia, validate
FORWARD = ("layer-definition", "lemma-2.5*", "theorem-3.4*", "theorem-3.5*", "width-necessity", "corollary-3.6*",
           "backprop-recursion", "lemma-4.2", "lemma-4.3", "hvp-dense", "hessian-zero-loss", "bad-critical-point")


S35E = ("tests/test_mutants_s35e.py",)  # session 35 (s35e-*): zoo enet, inception; commands options, widths
S35E_OPTIONS = S35E + ("tests/test_cli_options.py",)  # caught before too (s35e-options-parent-one-level)


BUGS = [
    Bug("tanh-3.2", "registry declares tanh as satisfying Assumption 3.2 (clause a)",
        (_p("theory_lab/activations.py",
            'positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,\n'
            '        note="limits -1 and 1',
            'positive_derivative=True, differentiable=True, assumption_3_2=True, clause="a",\n'
            '        note="limits -1 and 1'),),
        ("activation-registry", "probe-tanh", "theorem-3.5*")),
    Bug("relu-analytic", "registry declares ReLU real analytic",
        (_p("theory_lab/activations.py", '_simple("relu", jax.nn.relu, continuous=True, analytic=False,',
            '_simple("relu", jax.nn.relu, continuous=True, analytic=True,'),),
        ("activation-registry", "theorem-3.5*", "theorem-3.4*", "corollary-3.6*", "probe-relu")),
    Bug("hvp-gauss-newton", "derivatives.hvp returns the Gauss–Newton product",
        (_p("theory_lab/derivatives.py", 'return _product(obj, "hessian", theta, X, Y, v, block)',
            'return _product(obj, "gauss_newton", theta, X, Y, v, block)'),),
        HESSIAN),
    Bug("linearize-hvp-no-residual", "linearize_hvp drops the residual term (Gauss–Newton only)",
        (_p("theory_lab/derivatives.py", 'return _operator(obj, "hessian", theta, data, block, linearize=True)',
            'return _operator(obj, "gauss_newton", theta, data, block, linearize=True)'),),
        HESSIAN),
    Bug("linearize-hvp-gn-product",
        "linearize_hvp returns the Gauss–Newton product (residual term dropped, no crash)",
        (_p("theory_lab/derivatives.py",
            "return functools.partial(_apply_linear, _linearize_jit(obj, theta, data, block))",
            "return lambda v: gauss_newton_vp(obj, theta, X, v, Y=Y, block=block)"),),
        HESSIAN),
    Bug("lanczos-no-reorth", "Lanczos with the three-term recurrence only (no reorthogonalisation)",
        (_p("theory_lab/krylov.py", "    w, h, w1 = _cgs2(Q, Aq)\n",
            "    near = (jnp.arange(B) >= j - 1) & (jnp.arange(B) <= j)\n"
            "    h = jnp.where(near, Q @ Aq, 0.0)\n"
            "    w = w1 = Aq - Q.T @ h\n"),),
        HESSIAN),
    Bug("lanczos-perturbed-alpha", "Lanczos stores α_j·(1 + 1e-6) in the tridiagonal",
        (_p("theory_lab/krylov.py", "alpha.at[j].set(h[j])", "alpha.at[j].set(h[j] * (1 + 1e-6))"),),
        HESSIAN),
    Bug("rank-tol-100x-large", "rank_report's default tolerance 100x too large",
        (_p("theory_lab/linalg.py", "tol = smax * (rtol if rtol is not None else max(rows, cols) * np.finfo",
            "tol = smax * (rtol if rtol is not None else 100 * max(rows, cols) * np.finfo"),),
        RANKS),
    Bug("rank-tol-100x-small", "rank_report's default tolerance 100x too small",
        (_p("theory_lab/linalg.py", "tol = smax * (rtol if rtol is not None else max(rows, cols) * np.finfo",
            "tol = smax * (rtol if rtol is not None else 0.01 * max(rows, cols) * np.finfo"),),
        RANKS),
    Bug("certificate-on-distinct-data", "feature_maps.duplicate_samples certifies a duplicate in distinct data "
        "(rank F_k <= N - 1 claimed without equal samples)",
        (_p("theory_lab/feature_maps.py", '        return rows.shape[0], ""',
            '        return rows.shape[0] - 1, "samples [0, 1] are identical (planted)"'),),
        RANKS),
    Bug("svd-rank-tol-100x-large", "tolerances.svd_rank_tol 100x too large",
        (_p("theory_lab/tolerances.py", 'return Tolerance(_scale(sigma_max, "sigma_max") * size * EPS, SVD_BAND',
            'return Tolerance(100 * _scale(sigma_max, "sigma_max") * size * EPS, SVD_BAND'),),
        ("tolerance-rules", "class-targets-outside-S_k")),
    Bug("uk-order-jax", "model.weight_map: U_k columns in filter-major order t·P + p (not h = p·T + t)",
        (_p("theory_lab/model.py",
            "cols = np.broadcast_to((np.arange(info.P)[:, None, None] * info.T + np.arange(info.T)), rows.shape)",
            "cols = np.broadcast_to((np.arange(info.P)[:, None, None] + np.arange(info.T) * info.P), rows.shape)"),),
        FORWARD),
    Bug("uk-order-numpy", "generic_rank.weight_matrix (feature_maps.full_weight_matrix): U_k columns in filter-major order",
        (_p("theory_lab/generic_rank.py", "cols = p[:, None] * W.shape[1] + np.arange(W.shape[1])[None, :]",
            "cols = p[:, None] + np.arange(W.shape[1])[None, :] * patches.shape[0]"),),
        FORWARD),
    Bug("uk-kernel-flipped", "generic_rank.weight_matrix (feature_maps.full_weight_matrix): each patch's filter reversed (convolution, "
        "not correlation)",
        (_p("theory_lab/generic_rank.py", "cols.shape), cols), W[j])", "cols.shape), cols), W[::-1][j])"),),
        FORWARD),
    Bug("uk-transposed-jax", "model.weight_map: filters read transposed within a patch (W[::-1])",
        (_p("theory_lab/model.py", "vals = jnp.where(jnp.asarray(idx >= 0)[:, :, None], W[None, :, :], 0.0)",
            "vals = jnp.where(jnp.asarray(idx >= 0)[:, :, None], W[None, ::-1, :], 0.0)"),),
        FORWARD),
    Bug("features-no-bias", "the layer's per-neuron bias is dropped from the pre-activation",
        (_p("theory_lab/model.py", "    return G + (jnp.tile(b, info.P) if b.shape[0] != info.n else b)",
            "    return G + 0 * (jnp.tile(b, info.P) if b.shape[0] != info.n else b)"),),
        FORWARD),
    Bug("backprop-no-dsigma", "backprop recursion Δ_l = Δ_{l+1} U_{l+1}ᵀ (σ' missing)",
        (_p("theory_lab/loss_surface.py", "delta[l] = (delta[l + 1] @ U[l + 1].T) * dact[l]",
            "delta[l] = (delta[l + 1] @ U[l + 1].T)"),),
        ("backprop-recursion", "lemma-4.3*", "theorem-4.4*")),
    Bug("lemma43-drop-dsigma", "Lemma 4.3 lower bound without the ‖σ'(G_l)‖_min factor",
        (_p("theory_lab/loss_surface.py", 'lo *= row["sigma_min_U_next"] * row["dsigma_min"]',
            'lo *= row["sigma_min_U_next"]'),),
        ("lemma-4.3*", "theorem-4.4*")),
    Bug("lemma43-swap-F", "Lemma 4.3: σ_min(F_k) and σ_max(F_k) swapped",
        (_p("theory_lab/loss_surface.py", "lo_naive, hi = float(sF[-1]), float(sF[0])",
            "lo_naive, hi = float(sF[0]), float(sF[-1])"),),
        ("lemma-4.3*", "theorem-4.4*")),
    Bug("exact-fit-FtF", "exact fit λ from the wrong Gram matrix: pinv(FᵀF) Fᵀy",
        (_p("theory_lab/exact_fit.py",
            'Q, R = _sla.qr(F.T, mode="economic")\n'
            '        lam = Q @ _sla.solve_triangular(R, y, trans="T", lower=False)',
            'lam = np.linalg.pinv(F.T @ F) @ (F.T @ y)'),),
        ("corollary-3.6*",)),
    Bug("bad-critical-b0", "bad critical point with b_L = 0 instead of the target mean",
        (_p("theory_lab/loss_surface.py", '"b": jnp.mean(Y, axis=0)}', '"b": jnp.zeros_like(jnp.mean(Y, axis=0))}'),),
        ("bad-critical-*", "critical-full-row-rank-converse", "theorem-4.4")),
    Bug("sk-ignores-U", "S_k membership ignores the U_l (l ≥ k+2) condition",
        (_p("theory_lab/loss_surface.py", "return self.feature_rank_ok and self.weights_ok",
            "return self.feature_rank_ok"),),
        ("lemma-4.2", "theorem-4.4*", "class-targets-outside-S_k", "bad-critical-point")),
    Bug("zero-loss-tol-1e6", "zero-loss tolerance 1e6x too large",
        (_p("theory_lab/tolerances.py", "ZERO_LOSS_RTOL = 1e-20", "ZERO_LOSS_RTOL = 1e-14"),),
        ("tolerance-rules", "hessian-zero-loss*", "bad-critical-*", "critical-full-row-rank*", "theorem-4.4*",
         "class-targets-outside-S_k")),
    Bug("a31-ignores-last-patch", "Assumption 3.1 predicate ignores the last patch of each sample",
        (_p("theory_lab/data.py", "idx = arch.layer(1).patches\n", "idx = arch.layer(1).patches[:-1]\n"),),
        ("assumption-3.1*", "theorem-3.5-default", "theorem-3.4", "lemma-4.2")),
    Bug("widths-off-by-one", "Architecture.widths reports n_k + 1 for hidden layers",
        (_p("theory_lab/arch.py", "return (self.d,) + tuple(i.n for i in self.info)",
            "return (self.d,) + tuple(i.n + (i.k < len(self.info)) for i in self.info)"),),
        ("lemma-2.5*", "theorem-3.5-default", "width-necessity", "figure-1", "layer-definition", "lemma-4.2",
         "backprop-recursion")),
    Bug("wide-layers-strict", "Architecture.wide_layers uses n_k > N (off by one at n_k = N)",
        (_p("theory_lab/arch.py", "return tuple(k for k in range(1, self.L) if self.widths[k] >= N)",
            "return tuple(k for k in range(1, self.L) if self.widths[k] > N)"),),
        ("theorem-3.5-default", "width-necessity", "corollary-3.6*", "theorem-3.4*", "lemma-2.5")),
    Bug("pyramidal-inverted", "Assumption 4.1's pyramidal part tests w[i] > w[i+1] (inverted)",
        (_p("theory_lab/arch.py", "drops = [k + 1 + i for i in range(len(w) - 1) if w[i] < w[i + 1]]",
            "drops = [k + 1 + i for i in range(len(w) - 1) if w[i] > w[i + 1]]"),),
        ("lemma-4.*", "theorem-4.4*", "class-targets-outside-S_k", "bad-critical-point", "backprop-recursion")),
    Bug("critical-early-1e3", "find_critical_point stops at 1e3·gtol",
        (_p("theory_lab/critical.py", "        if gnorm <= gtol if gtol_rtol is None", "        if gnorm <= 1e3 * gtol if gtol_rtol is None"),
         _p("theory_lab/critical.py", "converged = converged and (gnorm <= gtol if",
            "converged = converged and (gnorm <= 1e3 * gtol if")),
        ("theorem-4.4", "theorem-4.5", "class-targets-outside-S_k", "critical-full-row-rank*")),
    Bug("sampling-float32", "sample_params returns float32 arrays",
        (_p("theory_lab/sampling.py", "return jax.device_put(np.asarray(a, dtype=np.float64))",
            "return jax.device_put(np.asarray(a, dtype=np.float32))"),),
        ("lemma-2.5", "theorem-3.5-default", "theorem-3.5", "width-necessity", "layer-definition", "lemma-4.2",
         "hvp-dense", "backprop-recursion")),
    Bug("sampling-float32-rounded", "sample_params rounds draws through float32 (returned as float64)",
        (_p("theory_lab/sampling.py", "return jax.device_put(np.asarray(a, dtype=np.float64))",
            "return jax.device_put(np.asarray(a, dtype=np.float32).astype(np.float64))"),),
        ("lemma-2.5", "theorem-3.5-default", "theorem-3.5", "width-necessity", "layer-definition", "lemma-4.2",
         "hvp-dense", "backprop-recursion")),
    Bug("sk-rank-of-F_k+1", "S_k membership tests rank F_{k+1} instead of F_k",
        (_p("theory_lab/loss_surface.py", "Fk = np.asarray(model.features(arch, params, X)[k] if F_k is None",
            "Fk = np.asarray(model.features(arch, params, X)[k + 1] if F_k is None"),),
        ("lemma-4.2", "theorem-4.4*", "class-targets-outside-S_k", "bad-critical-point")),
    Bug("bad-critical-zeroes-U_k", "bad critical point zeroes W_k instead of W_{k+1}",
        (_p("theory_lab/loss_surface.py",
            'out[f"layer_{k + 1}"] = dict(out[f"layer_{k + 1}"], W=jnp.zeros_like(params[f"layer_{k + 1}"]["W"]))',
            'out[f"layer_{k}"] = dict(out[f"layer_{k}"], W=jnp.zeros_like(params[f"layer_{k}"]["W"]))'),),
        ("bad-critical-*", "critical-full-row-rank-converse", "theorem-4.4")),
    Bug("critical-tol-1e3", "the checks' critical-point tolerance (GTOL_RTOL) 1e3x too large",
        (_p("theory_lab/tolerances.py", "GTOL_RTOL = 1e-10", "GTOL_RTOL = 1e-7"),),
        ("tolerance-rules", "bad-critical-*", "critical-full-row-rank*", "theorem-4.4*", "theorem-4.5",
         "class-targets-outside-S_k")),
    Bug("eigen-tol-1e6", "eigenvalue-sign tolerance 1e6x too large",
        (_p("theory_lab/tolerances.py", 'return Tolerance(_size(n, "n") * EPS * _scale(norm, "norm"), SVD_BAND',
            'return Tolerance(1e6 * _size(n, "n") * EPS * _scale(norm, "norm"), SVD_BAND'),),
        HESSIAN + ("tolerance-rules",)),
    Bug("digits-noise-dropped", "data.digits ignores `noise` (raw digits, Assumption 3.1 broken)",
        (_p("theory_lab/data.py", "    X = _add_noise(X, noise, rng)\n    labels = targets[idx]",
            "    labels = targets[idx]"),),
        ("assumption-3.1*", "theorem-3.5-default", "lemma-4.2", "theorem-3.4")),
    # ---- session 31 (s31-a): a new pass over recently changed, less covered modules ----
    Bug("s31-band-strict", "Evidence: a margin of exactly the band is inconclusive (ratio > band, not >=)",
        (_p("theory_lab/evidence.py", "conclusive = ratio >= tol.band", "conclusive = ratio > tol.band"),),
        ("tolerance-rules",)),
    Bug("s31-rank-no-forward-error", "Evidence.rank ignores the report's forward error (floor = tol)",
        (_p("theory_lab/evidence.py", "floor = max(tol, float(report.forward_error))", "floor = tol"),),
        RANKS),
    Bug("s31-rank-le-off-by-one", "Evidence.rank: the margin of rank <= r read at sigma_r (not sigma_{r+1})",
        (_p("theory_lab/evidence.py", "v = sigma(r + 1)", "v = sigma(r)"),),
        RANKS),
    Bug("s31-instance-own-only", "instance_violations ignores the shared (unprefixed) hypotheses",
        (_p("theory_lab/checking.py", "if all(h.met for h in shared + own):", "if all(h.met for h in own):"),),
        ("theorem-3.4*", "theorem-3.5*", "lemma-2.5*", "corollary-3.6*", "width-necessity", "theorem-4.4*")),
    Bug("s31-converse-nonfinite-inconclusive", "converse_verdict: a NaN in the evidence gives inconclusive, not fails",
        (_p("theory_lab/checking.py", "    if evidence.non_finite:\n        return Verdict.FAILS",
            "    if evidence.non_finite:\n        return Verdict.INCONCLUSIVE"),),
        ("*-converse",)),
    Bug("s31-fe-no-propagation", "feature_error_bound drops the propagated error e_{l-1}|U_l|",
        (_p("theory_lab/forward_error.py", "(_times_abs_u(info, F_prev, W) + b) + _times_abs_u(info, e, W)",
            "(_times_abs_u(info, F_prev, W) + b)"),),
        RANKS),
    Bug("s31-fe-maxpool-min", "feature_error_bound takes the min of the error over a pooling window",
        (_p("theory_lab/forward_error.py", "e[:, info.patches], 0.0).max(axis=2)",
            "e[:, info.patches], 0.0).min(axis=2)"),),
        RANKS + ("probe-maxpool",)),
    Bug("s31-patches-repeats-count", "check_distinct_patches counts a patch repeated inside one sample as shared",
        (_p("theory_lab/data.py", "pairs = np.unique(np.stack([inverse, owner], axis=1), axis=0)",
            "pairs = np.stack([inverse, owner], axis=1)"),),
        ("assumption-3.1*", "theorem-3.5*", "theorem-3.4*", "lemma-4.2", "probe-raw-digits")),
    Bug("s31-patches-prune-inverted", "check_distinct_patches' nearest-pair search prunes the wrong points",
        (_p("theory_lab/data.py", "todo = todo[far < best]", "todo = todo[far > best]"),),
        ("assumption-3.1*", "theorem-3.5*", "theorem-3.4*", "lemma-4.2")),
    Bug("s31-near-dup-all-moved", "near_duplicates: a difference counts only if it moves every unit of G_1",
        (_p("theory_lab/near_duplicates.py", "return np.any(np.abs(D @ U) > bound, axis=1)",
            "return np.all(np.abs(D @ U) > bound, axis=1)"),),
        RANKS),
    Bug("s31-near-dup-radius-no-band", "near_duplicate_rows: pair radius without the report's band",
        (_p("theory_lab/near_duplicates.py", "np.sqrt(2.0) * report.band * report.tol", "np.sqrt(2.0) * report.tol"),),
        RANKS),
    Bug("s31-saturation-uncentered", "saturation: a constant unit tested on F, not on F minus its mean",
        (_p("theory_lab/saturation.py", "constant = varies & (_column_norms(Fc) <= report.tol)",
            "constant = varies & (_column_norms(F) <= report.tol)"),),
        RANKS),
    Bug("s31-generic-rank-uncovered-le", "generic_rank.decide: covered <= target counts as uncovered",
        (_p("theory_lab/generic_rank.py", "    if covered < target:", "    if covered <= target:"),),
        ("assumption-2.4*", "theorem-3.4*", "theorem-3.5*", "lemma-2.5*", "definitions*")),
    Bug("s31-zero-loss-no-square", "zero_loss_tol uses ||Y|| (not ||Y||^2)",
        (_p("theory_lab/tolerances.py", 'ZERO_LOSS_RTOL * 0.5 * _norm(Y, "Y") ** 2', 'ZERO_LOSS_RTOL * 0.5 * _norm(Y, "Y")'),),
        ("tolerance-rules", "hessian-zero-loss*", "bad-critical-*", "critical-full-row-rank*", "theorem-4.4*",
         "class-targets-outside-S_k")),
    Bug("s31-critical-tol-min-scale", "critical_tol scales by min(||Y||, ||F_L||), not max",
        (_p("theory_lab/tolerances.py", 'max(_norm(Y, "Y"), _norm(outputs, "outputs"))',
            'min(_norm(Y, "Y"), _norm(outputs, "outputs"))'),),
        ("tolerance-rules", "bad-critical-*", "critical-full-row-rank*", "theorem-4.4*", "theorem-4.5",
         "corollary-4.6", "narrow-critical-points", "class-targets-outside-S_k")),
    Bug("s31-default-k-first", "critical.default_k picks the first wide layer meeting Assumption 4.1, not the last",
        (_p("theory_lab/critical.py", "        return ok[-1]", "        return ok[0]"),),
        ("theorem-4.4*", "theorem-4.5", "corollary-4.6", "narrow-critical-points", "class-targets-outside-S_k",
         "critical-full-row-rank*")),
    Bug("s31-hutchpp-no-deflation", "Hutch++: the Hutchinson third is not projected off the sketch (Gp = G)",
        (_p("theory_lab/trace.py", "Gp = G - (G @ Q) @ Q.T", "Gp = G"),),
        ("hessian-*",)),
    Bug("s31-slq-weights-unsquared", "SLQ quadrature weights |S[0, i]| (not squared)",
        (_p("theory_lab/density.py", "w = S[0, :] ** 2", "w = np.abs(S[0, :])"),),
        ("hessian-*", "lanczos-dense")),
    Bug("s31-cdf-hi-tight", "Density.cdf's upper Gauss-quadrature bound taken at node j, not j + 1",
        (_p("theory_lab/density.py", "hi = c[rows, np.minimum(j + 1, K)]", "hi = c[rows, np.minimum(j, K)]"),),
        ("hessian-*", "lanczos-dense")),
    Bug("s31-ritz-estimate-first-row", "krylov.ritz: residual estimates |beta_m S[0, i]| (first row, not last)",
        (_p("theory_lab/krylov.py", "np.abs(b_last * S[-1, :])", "np.abs(b_last * S[0, :])"),),
        HESSIAN),
    Bug("s31-ritz-residual-sign", "krylov.ritz_residuals (host): ||A v + theta v|| (sign)",
        (_p("theory_lab/krylov.py", "return V, _norm(AV - theta[:, None] * V, axis=1)\n",
            "return V, _norm(AV + theta[:, None] * V, axis=1)\n"),),
        HESSIAN),
    Bug("s31-fit-T1-floor", "exact_fit.parameter_counts: T_1 = floor(N / P_0), not ceil",
        (_p("theory_lab/exact_fit.py", "T1 = -(-int(N) // first.P)", "T1 = int(N) // first.P"),),
        ("corollary-3.6*", "table-1")),
    Bug("s31-diagnose-no-ones", "rank_probes.diagnose_units: affine units bounded by rank F_{k-1} (bias column dropped)",
        (_p("theory_lab/rank_probes.py", "rank_report(np.concatenate([prev, np.ones((N, 1))], axis=1), name",
            "rank_report(prev, name"),),
        ("probe-*",)),
    Bug("s31-wilson-drops-inconclusive", "rank_frequency's interval ignores the inconclusive draws at its upper end",
        (_p("theory_lab/rank_probes.py", "clopper_pearson_interval(deficient + inconclusive, draws)[1]",
            "clopper_pearson_interval(deficient, draws)[1]"),),
        ("probe-*",)),
    Bug("s31-jacobian-class-major", "sample_jacobian's rows class-major (c N + n), not sample-major (n m + c)",
        (_p("theory_lab/jacobians.py", "    J = jax.vmap(one)(X)\n    return J.reshape(-1, J.shape[-1])",
            "    J = jax.vmap(one)(X)\n    return J.transpose(1, 0, 2).reshape(-1, J.shape[-1])"),),
        HESSIAN + ("hessian-zero-loss*", "theorem-4.4*", "theorem-4.5", "corollary-4.6", "narrow-critical-points")),
    Bug("s31-pool-ties-summed", "pool_resolved: tied window maxima each get weight 1 (not 1/count)",
        (_p("theory_lab/pool_resolved.py", "return tuple(h / count for h in hit)", "return tuple(hit)"),),
        ("probe-maxpool", "hessian-*", "theorem-4.*", "narrow-critical-points")),
    Bug("s31-witness-threshold-at-next", "witness: the threshold at the next sample's value (no gap), not mid-gap",
        (_p("theory_lab/witness.py", "theta = 0.5 * (hi[h] + lo[h])", "theta = lo[h]"),),
        ("theorem-3.4*", "theorem-3.5*", "width-necessity")),
    # session 31 (c): bugs in the checks themselves (proofs_checks/), mostly the shared hypotheses
    Bug("s31c-wide-strict", "hypotheses.wide_layer: n_k > N, not n_k >= N (n_k = N counts as narrow)",
        (_p("proofs_checks/hypotheses.py", 'Hypothesis(f"n_{k} >= N", arch.widths[k] >= N,',
            'Hypothesis(f"n_{k} >= N", arch.widths[k] > N,'),),
        H34 + H35 + ("hessian-zero-loss*",)),
    Bug("s31c-wide-wrong-layer", "hypotheses.wide_layer tests n_{k-1} >= N (the layer before k)",
        (_p("proofs_checks/hypotheses.py", 'Hypothesis(f"n_{k} >= N", arch.widths[k] >= N,',
            'Hypothesis(f"n_{k} >= N", arch.widths[k - 1] >= N,'),),
        H34 + H35 + ("hessian-zero-loss*",)),
    Bug("s31c-narrow-le", "hypotheses.narrow_layer: n_k <= N, not n_k < N",
        (_p("proofs_checks/hypotheses.py", 'Hypothesis(f"n_{k} < N", arch.widths[k] < N,',
            'Hypothesis(f"n_{k} < N", arch.widths[k] <= N,'),),
        ("width-necessity", "corollary-3.6*")),
    Bug("s31c-hidden-includes-output", "hypotheses.hidden_layer accepts k = L (the output layer)",
        (_p("proofs_checks/hypotheses.py", "1 <= k <= arch.L - 1, f\"k = {k}, L = {arch.L}\")",
            "1 <= k <= arch.L, f\"k = {k}, L = {arch.L}\")"),),
        H34 + H35),
    Bug("s31c-pool-last-unchecked", "hypotheses.layers_conv_or_fc (pooling between) checks only layer 1, not layer k",
        (_p("proofs_checks/hypotheses.py", 'ok = kinds[0] != "maxpool" and kinds[-1] != "maxpool"',
            'ok = kinds[0] != "maxpool"'),),
        H34),
    Bug("s31c-acts-k-minus-1", "hypotheses._acts reads σ_1..σ_{k-1} (k off by one): σ_k never checked",
        (_p("proofs_checks/hypotheses.py", "for i in arch.info[:k] if i.activation is not None]",
            "for i in arch.info[:k - 1] if i.activation is not None]"),),
        H34 + H35 + ("lemma-4.2",)),
    Bug("s31c-3-5-N-own-width", "hypotheses.theorem_3_5 compares n_k with n_k (a constant truth), not with N",
        (_p("proofs_checks/hypotheses.py", "wide_layer(arch, k, X.shape[0]), activations_3_2(arch, k), activations_analytic",
            "wide_layer(arch, k, arch.widths[k]), activations_3_2(arch, k), activations_analytic"),),
        H35 + ("width-necessity",)),
    Bug("s31c-3-5-bias-layer-1", "hypotheses.theorem_3_5 checks per-neuron biases of layer 1 only (k -> 1)",
        (_p("proofs_checks/hypotheses.py", "activations_analytic(arch, k),\n            per_neuron_bias(arch, k)",
            "activations_analytic(arch, k),\n            per_neuron_bias(arch, 1)"),),
        H35),
    Bug("s31c-last-hidden-le", "hypotheses.last_hidden_layer: k <= L-1, not k = L-1 (any hidden layer passes)",
        (_p("proofs_checks/hypotheses.py", "k == arch.L - 1, f\"k = {k}, L = {arch.L}\")",
            "k <= arch.L - 1, f\"k = {k}, L = {arch.L}\")"),),
        ("corollary-3.6*",)),
    Bug("s31c-3-5-converse-breaks-3-2", "theorem-3.5-converse claims to break Assumption 3.2 (ReLU meets it), not analyticity",
        (_p("proofs_checks/expressivity.py", "broken = [hyp.activations_analytic(arch, k)]",
            "broken = [hyp.activations_3_2(arch, k)]"),),
        ("theorem-3.5-converse",)),
    Bug("s31c-saddle-direction", "bad-critical-point: −λ_min(H) compared at_most the tolerance (not at_least)",
        (_p("proofs_checks/curvature.py", 'ev.at_least("−λ_min(H) (a negative eigenvalue: strict saddle)"',
            'ev.at_most("−λ_min(H) (a negative eigenvalue: strict saddle)"'),),
        ("bad-critical-point",)),
    Bug("s31c-bad-critical-h41-k-plus-1", "bad-critical-point: Assumption 4.1 tested at k + 1, not k",
        (_p("proofs_checks/curvature.py", "hyps.append(S.h41(arch, k, X.shape[0]))",
            "hyps.append(S.h41(arch, k + 1, X.shape[0]))"),),
        ("bad-critical-point",)),
    Bug("s31c-widening-broken-constant", "widening converses: 'pyramidal after k' reads False, not the instance",
        (_p("proofs_checks/loss_surface.py", 'dict(rep.parts)["pyramidal after layer k"],',
            'False,'),),
        ("lemma-4.3-widening", "theorem-4.4-widening")),
    Bug("s31c-widening-critical-min", "theorem-4.4-widening: 'critical' from min(‖∇Φ‖, ‖∇_U2 Φ‖), not the max",
        (_p("proofs_checks/loss_surface.py", 'Hypothesis("∇_{U_2} Φ = 0 (critical point)", max(g, b.grad_norm)',
            'Hypothesis("∇_{U_2} Φ = 0 (critical point)", min(g, b.grad_norm)'),),
        ("theorem-4.4-widening",)),
    Bug("s31c-zero-loss-frank-or", "hessian-zero-loss: 'rank F_{L-1} = N' met when the rank is N or merely conclusive",
        (_p("proofs_checks/curvature.py", "frank.rank == ds.N and frank.conclusive",
            "frank.rank == ds.N or frank.conclusive"),),
        ("hessian-zero-loss*",)),
    Bug("s31c-figure1-wrong-layer", "figure-1: 'n_1 ≥ N (MNIST)' compares n_2",
        (_p("proofs_checks/widths.py", 'ev.exact("n_1 ≥ N (MNIST)", widths[1], MNIST_N, ">=")',
            'ev.exact("n_1 ≥ N (MNIST)", widths[2], MNIST_N, ">=")'),),
        ("figure-1",)),
    Bug("s31c-wide-layer-of-last", "instances.wide_layer_of picks the last wide hidden layer, not the first",
        (_p("proofs_checks/instances.py", "return wide[0] if wide else arch.L - 1",
            "return wide[-1] if wide else arch.L - 1"),),
        H34 + H35 + ("width-necessity", "assumption-3.1*", "lemma-2.5*")),
    Bug("s31c-3-1-converse-not-duplicated", "assumption-3.1-converse: sample 1 a rescaled copy of sample 0 (3.1 no longer broken)",
        (_p("proofs_checks/foundations.py", "X[1] = X[0]  # two samples equal",
            "X[1] = X[0] * (1 + 1e-6)  # two samples equal"),),
        ("assumption-3.1-converse",)),
    Bug("s31c-class-targets-sigma-max", "s4_instances.class_targets: Z full rank judged from σ_max, not σ_min",
        (_p("proofs_checks/s4_instances.py", "full = s[-1] > T.svd_rank_tol", "full = s[0] > T.svd_rank_tol"),),
        ("lemma-4.2", "theorem-4.*", "corollary-4.6", "class-targets-outside-S_k", "narrow-critical-points")),
    Bug("s31c-critical-by-loss", "s4_instances.observe_critical_point: 'critical' from Φ ≤ tol, not ‖∇Φ‖ ≤ tol",
        (_p("proofs_checks/s4_instances.py", '"critical": res.grad_norm <= crit.value',
            '"critical": res.loss <= crit.value'),),
        ("theorem-4.5", "corollary-4.6", "narrow-critical-points")),
    Bug("s31c-lemma-4-3-admits-reversed", "s4_instances.lemma_4_3_admits: ‖r‖ ≥ r_max admits (direction reversed; "
        "on Φ before session 32)",
        (_p("proofs_checks/s4_instances.py", "return bool(r <= r_max * np.sqrt(T.BOUND.band))",
            "return bool(r >= r_max * np.sqrt(T.BOUND.band))"),),
        ("theorem-4.4", "theorem-4.5", "corollary-4.6", "narrow-critical-points")),
    # session 32 (s32a-*): dropped observations -- a loop that skips its last instance, a sample, a layer or a
    # draw; every comparison still made holds, so the verdict stays *holds* (tests/test_observations_s32.py)
    Bug("s32a-lemma-2.5-converse-two-draws", "lemma-2.5-converse observes 2 of its 3 draws of U_1",
        (_p("proofs_checks/foundations.py", "    for draw in range(3):\n        params = sampling.sample_params(arch,",
            "    for draw in range(2):\n        params = sampling.sample_params(arch,"),),
        ("lemma-2.5-converse",)),
    Bug("s32a-registry-skips-last", "activation-registry compares every registered activation but the last",
        (_p("proofs_checks/foundations.py", "    for name in _registry_names():\n",
            "    for name in _registry_names()[:-1]:\n"),),
        ("activation-registry",)),
    Bug("s32a-width-necessity-first-instance", "width-necessity observes the digits instance only (mnist1d dropped)",
        (_p("proofs_checks/foundations.py",
            '    for inst in default_instances(ctx):\n        params = sampling.sample_params(inst.arch, ctx.key(f"width/',
            '    for inst in default_instances(ctx)[:1]:\n        params = sampling.sample_params(inst.arch, '
            'ctx.key(f"width/'),),
        ("width-necessity",)),
    Bug("s32a-layer-definition-skips-last-layer", "layer-definition compares every layer but the output layer",
        (_p("proofs_checks/definitions.py", "        for info in arch.info:\n            k = info.k\n",
            "        for info in arch.info[:-1]:\n            k = info.k\n"),),
        ("layer-definition",)),
    Bug("s32a-theorem-3.5-first-draw", "theorem-3.5 observes the first draw of each law only (1 of 3)",
        (_p("proofs_checks/expressivity.py", "            for i in range(draws):\n                params = sampling",
            "            for i in range(min(draws, 1)):\n                params = sampling"),),
        ("theorem-3.5",)),
    Bug("s32a-corollary-3.6-first-target", "Corollary 3.6's fits: an early break after the first target",
        (_p("proofs_checks/expressivity.py",
            '        fits[name] = {**fit.to_dict(), "network_residual": res, "tolerance": tol.to_dict()}\n',
            '        fits[name] = {**fit.to_dict(), "network_residual": res, "tolerance": tol.to_dict()}\n'
            '        break\n'),),
        ("corollary-3.6*",)),
    Bug("s32a-backprop-skips-output-layer", "backprop-recursion compares layers 2..L-1 (the output layer dropped)",
        (_p("proofs_checks/loss_surface.py", "        for l in range(2, arch.L + 1):\n            ev.at_most(",
            "        for l in range(2, arch.L):\n            ev.at_most("),),
        ("backprop-recursion",)),
    Bug("s32a-figure-1-pyramidal-stops-short", "figure-1's pyramidal loop stops one layer short (n_{L-1} ≥ n_L unchecked)",
        (_p("proofs_checks/widths.py", "    for k in range(1, net.L):\n", "    for k in range(1, net.L - 1):\n"),),
        ("figure-1",)),
    Bug("s32a-lanczos-skips-last-pair", "lanczos-dense compares 3 of the 4 extreme eigenvalues at each end",
        (_p("proofs_checks/curvature.py", "        for i in range(k):\n            ev.at_most(f\"|λ_",
            "        for i in range(k - 1):\n            ev.at_most(f\"|λ_"),),
        ("lanczos-dense",)),
    Bug("s32a-membership-skips-U_L", "loss_surface.membership (library) checks U_l for l = k+2..L-1 (U_L dropped)",
        (_p("theory_lab/loss_surface.py", "tuple(range(k + 2, arch.L + 1))", "tuple(range(k + 2, arch.L))"),),
        ("lemma-4.2", "theorem-4.4*", "class-targets-outside-S_k", "bad-critical-point", "theorem-4.5",
         "corollary-4.6")),
    # session 32 (s32e-*): the right comparison, the wrong quantity -- a tolerance from the wrong matrix, a rank
    # bound by the wrong dimension, σ_min read as σ_max, N read as a data dimension, a ratio inverted
    Bug("s32e-zero-loss-rankJ-le-P", "hessian-zero-loss: rank J bounded by P (J's column count), not Nm",
        (_p("proofs_checks/curvature.py", 'ev.rank("rank J ≤ Nm", rJ, Nm, "<=")', 'ev.rank("rank J ≤ Nm", rJ, P, "<=")'),),
        ("hessian-zero-loss",)),
    Bug("s32e-zero-loss-rankH-tol-of-J", "hessian-zero-loss: rank H's SVD tolerance from ‖J‖₂, not ‖H‖₂",
        (_p("proofs_checks/curvature.py", 'T.svd_rank_tol(rep["H"].shape, _norm2(rep["H"]))',
            'T.svd_rank_tol(rep["H"].shape, _norm2(rep["J"]))'),),
        ("hessian-zero-loss",)),
    Bug("s32e-inertia-size-Nm", "curvature._inertia: eigenvalue tolerance n·eps·‖H‖ with n = Nm, not P",
        (_p("proofs_checks/curvature.py", 'tol = T.eigen_tol(rep["P"], normH)', 'tol = T.eigen_tol(rep["Nm"], normH)'),),
        ("hessian-zero-loss", "bad-critical-point")),
    Bug("s32e-bad-critical-tol-of-H", "bad-critical-point: the critical tolerance from ‖H‖₂, not ‖J‖₂",
        (_p("proofs_checks/curvature.py", 'T.critical_tol(_norm2(rep["J"]), Y', 'T.critical_tol(_norm2(rep["H"]), Y'),),
        ("bad-critical-point",)),
    Bug("s32e-frr-admit-sigma-max", "critical-full-row-rank: ‖r‖ admitted up to ‖∇Φ‖/σ_max(J), not /σ_min(J)",
        (_p("proofs_checks/curvature.py", "_residual_is_zero(ev, r, g, rJ.sigma_min, Y)",
            "_residual_is_zero(ev, r, g, rJ.sigma_max, Y)"),),
        ("critical-full-row-rank",)),
    Bug("s32e-frr-crit-tol-sigma-min", "critical-full-row-rank: the critical tolerance from σ_min(J), not ‖J‖₂",
        (_p("proofs_checks/curvature.py",
            "crit = T.critical_tol(rJ.sigma_max, Y, outputs=np.asarray(D.outputs(obj, theta, X)))",
            "crit = T.critical_tol(rJ.sigma_min, Y, outputs=np.asarray(D.outputs(obj, theta, X)))"),),
        ("critical-full-row-rank",)),
    Bug("s32e-lanczos-tol-of-GN", "lanczos-dense: tolerance from ‖JᵀJ‖₂ (Gauss–Newton), not ‖H‖₂",
        (_p("proofs_checks/curvature.py", "tol = T.identity_tol(_norm2(H))", "tol = T.identity_tol(_norm2(GN))"),),
        ("lanczos-dense",)),
    Bug("s32e-4.4-crit-tol-lower", "theorem-4.4: ∇_U Φ's tolerance from Lemma 4.3's lower factor, not the upper",
        (_p("proofs_checks/loss_surface.py", "T.critical_tol(b.upper / max(b.residual_norm, 1e-300)",
            "T.critical_tol(b.lower / max(b.residual_norm, 1e-300)"),),
        ("theorem-4.4",)),
    Bug("s32e-lemma-4.3-ratio-inverted", "lemma-4.3: upper/‖∇‖ compared with the bound, not ‖∇‖/upper",
        (_p("proofs_checks/loss_surface.py", "b.grad_norm / b.upper, T.BOUND)", "b.upper / b.grad_norm, T.BOUND)"),),
        ("lemma-4.3",)),
    Bug("s32e-lemma-4.2-Fk-rank-n_k", "lemma-4.2: rank F_k expected n_k (its width), not N",
        (_p("proofs_checks/loss_surface.py", 'ev.rank(f"{name} draw {i}: F_{k}", m.F_k, S.N_WIDE)',
            'ev.rank(f"{name} draw {i}: F_{k}", m.F_k, arch.widths[k])'),),
        ("lemma-4.2",)),
    Bug("s32e-lemma-2.5-rank-rows", "lemma-2.5: U_k's full rank read as n_{k-1} (its rows), not min(n_{k-1}, n_k)",
        (_p("proofs_checks/foundations.py", 'linalg.rank_report(U, name=f"U_{info.k}"), min(U.shape))',
            'linalg.rank_report(U, name=f"U_{info.k}"), U.shape[0])'),),
        ("lemma-2.5",)),
    Bug("s32e-3.1-distinct-tol-width", "assumption-3.1: the distinct-patch tolerance sized by n_1, not the patch length l",
        (_p("proofs_checks/foundations.py", "tols.distinct_tol(scale, arch.layer(1).l)",
            "tols.distinct_tol(scale, arch.layer(1).n)"),),
        ("assumption-3.1*",)),
    Bug("s32e-fit-tol-norm-X", "corollary-3.6: the fit's residual tolerance uses ‖X‖, not ‖F_k‖",
        (_p("proofs_checks/expressivity.py", 'tols.fit_residual_tol(F.shape, tols.frobenius_norm(F, "F"),',
            'tols.fit_residual_tol(F.shape, tols.frobenius_norm(X, "F"),'),),
        ("corollary-3.6*",)),
    Bug("s32e-3.4-wide-N-of-d", "hypotheses.theorem_3_4: n_k compared with X.shape[1] (a data dimension), not N",
        (_p("proofs_checks/hypotheses.py", "wide_layer(arch, k, X.shape[0]), activations_3_2(arch, k), per_neuron_bias",
            "wide_layer(arch, k, X.shape[1]), activations_3_2(arch, k), per_neuron_bias"),),
        H34),
    Bug("s32e-bad-critical-h41-N-of-d", "bad-critical-point: Assumption 4.1 with N = X.shape[1], not X.shape[0]",
        (_p("proofs_checks/curvature.py", "hyps.append(S.h41(arch, k, X.shape[0]))",
            "hyps.append(S.h41(arch, k, X.shape[1]))"),),
        ("bad-critical-point",)),
    Bug("s32e-svd-rank-tol-min-dim", "tolerances.svd_rank_tol: σ_1·min(m, n)·eps, not max(m, n)",
        (_p("theory_lab/tolerances.py", 'size = max(_size(n, "shape") for n in shape)',
            'size = min(_size(n, "shape") for n in shape)'),),
        ("tolerance-rules", "hessian-zero-loss", "class-targets-outside-S_k", "lemma-4.2")),
    Bug("s32e-fit-tol-gamma-min", "tolerances.fit_residual_tol: γ = min(N, n)·eps, not max(N, n)·eps",
        (_p("theory_lab/tolerances.py", "gamma = max(N, n) * EPS", "gamma = min(N, n) * EPS"),),
        ("corollary-3.6*",)),
    Bug("s32e-membership-U-tol-min-dim", "loss_surface.membership: U_l's rank tolerance ‖U‖·min(shape)·eps, not max",
        (_p("theory_lab/loss_surface.py", "* max(A.shape) * np.finfo(np.float64).eps",
            "* min(A.shape) * np.finfo(np.float64).eps"),),
        ("lemma-4.2", "theorem-4.4", "bad-critical-point", "class-targets-outside-S_k")),
    Bug("s32e-table-1-n1-reads-max", "table-1: 'n_1 ≥ the paper's bound' compares max_k n_k (always ≥ n_1)",
        (_p("proofs_checks/widths.py", 'ev.exact(f"{entry.key}: {label} ≥ the paper\'s lower bound", values[q], bounds[q]',
            'ev.exact(f"{entry.key}: {label} ≥ the paper\'s lower bound", values["max"], bounds[q]'),),
        ("table-1",)),
    # session 33 (lead, s33l-*): a solver check that drops a start -- every start still made ends as before, so the
    # verdict stays *holds*; the observation snapshot left these checks out, its ``runs`` record now counts them
    Bug("s33l-narrow-drops-last-start", "narrow-critical-points runs one start fewer per mode",
        (_p("proofs_checks/loss_surface.py", "        for i in range(n):\n            ctx.progress(f\"narrow:",
            "        for i in range(n - 1):\n            ctx.progress(f\"narrow:"),),
        ("narrow-critical-points",)),
    Bug("s33l-class-targets-one-start", "class-targets-outside-S_k runs 1 of its 2 starts per encoding",
        (_p("proofs_checks/loss_surface.py", "        for i in range(2):\n            ctx.progress(f\"class targets:",
            "        for i in range(1):\n            ctx.progress(f\"class targets:"),),
        ("class-targets-outside-S_k",)),
    Bug("s33l-search-all-drops-last", "theorem-4.5 / corollary-4.6: every batch of starts stops one short",
        (_p("proofs_checks/loss_surface.py", "    for i in range(starts):\n",
            "    for i in range(starts - 1):\n"),),
        ("corollary-4.6", "theorem-4.5")),
    # session 33 (s33d-*): the benchmark protocol (benchmarks/, never run by verify; caught by its tests)
    Bug("s33d-rotation-fixed", "protocol.interleave: every round calls the sides in the same order (no rotation)",
        (_p("benchmarks/protocol.py", "order = [labels[i] for i in round_order(len(labels), r)]",
            "order = list(labels)"),), tests=S33D),
    Bug("s34l-slq-no-symmetry-check", "density.slq_density: the first probe's symmetry test is skipped (a "
        "non-symmetric operator gets a density without a word)",
        (_p("theory_lab/density.py", "            check_symmetric(K)\n", "            pass\n"),),
        tests=("tests/test_lead_s34.py",)),
    Bug("s34l-slq-probes-bool", "density.slq_density: num_probes=True read as one probe (isinstance int)",
        (_p("theory_lab/density.py", "    if not is_integer(num_probes) or num_probes < 1:",
            "    if not isinstance(num_probes, (int, np.integer)) or num_probes < 1:"),),
        tests=("tests/test_lead_s34.py",)),
    Bug("s34l-rotation-cyclic", "protocol.round_order: odd numbers of sides get the plain cyclic shift (a runs "
        "before b in 2 of 3 rounds with three sides), the order used before session 34",
        (_p("benchmarks/protocol.py", "    return row[::-1] if r % 2 else row\n",
            "    return [(b + r) % n for b in base]\n"),), tests=S33D),
    Bug("s33d-ratio-of-medians", "protocol.summarize: median_ratio is the ratio of the medians, not the median "
        "of the per-round ratios",
        (_p("benchmarks/protocol.py", '"median_ratio": statistics.median(ratios)',
            '"median_ratio": statistics.median(ts) / statistics.median(times[reference])'),), tests=S33D),
    Bug("s33d-first-call-timed", "protocol.interleave: the untimed first call is counted as a round's time",
        (_p("benchmarks/protocol.py", "history, times = [], {label: [] for label in labels}",
            'history, times = [], {label: [first[label]["wall_s"]] for label in labels}'),), tests=S33D),
    Bug("s33d-cpu-of-parent", "protocol.Worker.call: cpu_s is the parent's process_time around the call, not "
        "the worker's",
        (_p("benchmarks/protocol.py",
            "        idle = None if self._last is None else time.perf_counter() - self._last\n",
            "        idle = None if self._last is None else time.perf_counter() - self._last\n"
            "        c_parent = time.process_time()\n"),
         _p("benchmarks/protocol.py", '        reply["idle_s"] = idle\n',
            '        reply["idle_s"] = idle\n        reply["cpu_s"] = time.process_time() - c_parent\n')), tests=S33D),
    Bug("s33d-error-against-self", "bench_spectrum: each side's eigenvalue error against its own last output, "
        "not the dense reference",
        (_p("benchmarks/bench_spectrum.py", 'max(rel_err(v["values"], ref["top5"]) for v in vals)',
            'max(rel_err(v["values"], vals[-1]["values"]) for v in vals)'),), tests=S33D),
    Bug("s33d-products-of-reference", "bench_spectrum: every side's product count read from the reference side "
        "(PyHessian)",
        (_p("benchmarks/bench_spectrum.py", '"products": [v["products"] for v in vals]',
            '"products": [reply["value"]["products"] for row in res["rounds"] for lab, reply in row '
            'if lab == "pyhessian"]'),), tests=S33D),
    Bug("s33d-section-ratio-of-medians", "bench_spectrum.section: the table's ratio column is ours' median over "
        "the side's median",
        (_p("benchmarks/bench_spectrum.py",
            'f"**{statistics.median(o / b for o, b in zip(ours[\'times_s\'], s[label][\'times_s\'])):.2f}** ("',
            'f"**{ours[\'median_s\'] / s[label][\'median_s\']:.2f}** ("'),), tests=S33D),
    Bug("s33d-cli-cpu-of-self", "bench_cli.run_once: CPU time of this process (RUSAGE_SELF), not of the command",
        (_p("benchmarks/bench_cli.py", "before = resource.getrusage(resource.RUSAGE_CHILDREN)",
            "before = resource.getrusage(resource.RUSAGE_SELF)"),
         _p("benchmarks/bench_cli.py", "after = resource.getrusage(resource.RUSAGE_CHILDREN)",
            "after = resource.getrusage(resource.RUSAGE_SELF)")), tests=S33D),
    Bug("s33d-cli-ratio-inverted", "bench_cli: per-round ratio cold / second, not second / cold",
        (_p("benchmarks/bench_cli.py", "ratios = [s / c for s, c in zip(second, cold)]",
            "ratios = [c / s for s, c in zip(second, cold)]"),), tests=S33D),
    Bug("s33d-critical-ratio-inverted", "bench_critical.section: the ratio column is ours / baseline, not "
        "baseline / ours",
        (_p("benchmarks/bench_critical.py", "b['reached_seconds'] / o['seconds']",
            "o['seconds'] / b['reached_seconds']"),),
        tests=S33D),
    Bug("s33d-reply-pickled-outside-try", "protocol._serve: the reply pickled outside the try (an unpicklable value "
        "kills the worker)",
        (_p("benchmarks/protocol.py",
            '            reply = pickle.dumps({"value": value, "wall_s": wall, "cpu_s": cpu, "load": load})',
            '            reply = {"value": value, "wall_s": wall, "cpu_s": cpu, "load": load}'),
         _p("benchmarks/protocol.py", "        out.write(reply)\n",
            "        out.write(reply if isinstance(reply, bytes) else pickle.dumps(reply))\n")), tests=S33D),

    # session 33 (s33c-*): error bars that cover the truth less often than they say. No verify check reads a
    # trace estimate (checks=(): --restrict runs everything, and nothing changes); the rank probes' Wilson
    # intervals are measurements. tests/test_calibration_s33.py catches each (coverage below its binomial floor).
    Bug("s33c-hutch-stderr-halved", "trace.hutchinson: the sampling standard error halved",
        (_p("theory_lab/trace.py", "return np.mean(q), _sem(q, 1), _gamma(dim + num)",
            "return np.mean(q), 0.5 * _sem(q, 1), _gamma(dim + num)"),)),
    Bug("s33c-xtrace-ddof0", "trace.xtrace: the leave-one-out spread with ddof = 0 (matfree's), not 1 (the authors')",
        (_p("theory_lab/trace.py", "return float(np.mean(est)), _sem(est, 1), 2 * num, rnd",
            "return float(np.mean(est)), _sem(est, 0), 2 * num, rnd"),)),
    Bug("s33c-interval-normal-quantile", "TraceEstimate.interval: the normal quantile (1.96 at 95 %), not Student's t",
        (_p("theory_lab/trace.py", "q = float(scipy.stats.t.ppf(0.5 + 0.5 * float(level), self.dof))",
            "q = float(scipy.stats.norm.ppf(0.5 + 0.5 * float(level)))"),)),
    Bug("s33c-slq-fraction-quadrature-only", "Density.fraction_below: the quadrature's mass at both ends, not its bounds",
        (_p("theory_lab/density.py", "        _, lo, hi = self._probe_cdf(x)\n        q = float(scipy.stats.t.ppf",
            "        lo = hi = self._probe_cdf(x)[0]\n        q = float(scipy.stats.t.ppf"),)),
    Bug("s33c-wilson-z-90", "rank_probes.wilson_interval: default z = 1.645 (a 90 % interval reported as 95 %)",
        (_p("theory_lab/rank_probes.py", "def wilson_interval(successes: int, trials: int, z: float = 1.96)",
            "def wilson_interval(successes: int, trials: int, z: float = 1.645)"),),
        tests=("tests/test_calibration_s33.py",)),  # no check calls wilson_interval since s33-g

    # session 33 (s33f-*): the width-threshold demo's exact fits decided by the solve's rounding (caught by its tests)
    Bug("s33f-band-wrong-way", "width-threshold: an exact fit is zero loss up to band·tol (the band read the wrong "
        "way: nothing is undecided)",
        (_p("theory_lab/demos/_width_threshold.py", "    if r == 0 or r * tol.band <= tol.value:\n",
            "    if r == 0 or r <= tol.value * tol.band:\n"),), tests=S33F),
    Bug("s33f-lambda-left-out", "width-threshold: the exact-fit tolerance without ‖λ‖ (γ(‖F_1‖ + ‖Y‖))",
        (_p("theory_lab/demos/_width_threshold.py", 'tolerances.frobenius_norm(lam, "λ")', "1.0"),), tests=S33F),

    # session 33 (s33g-*): the rank probes' exact (Clopper–Pearson) interval. Each leaves every probe's verdict
    # *measured* (the interval is reported, not judged), so tests/test_probe_intervals_s33.py catches them:
    # coverage below the level at some true frequency, a closed form at the edges, or the probe's reported ci.
    Bug("s33g-cp-alpha-tail", "clopper_pearson_interval: tails of size alpha, not alpha/2 (a 90 % interval as 95 %)",
        (_p("theory_lab/rank_probes.py", "int(trials), 0.5 * (1.0 - float(level))", "int(trials), 1.0 - float(level)"),),
        tests=S33G),
    Bug("s33g-cp-upper-shape", "clopper_pearson_interval: upper end B^-1(1 - alpha/2; x, n - x + 1) (the lower's shape)",
        (_p("theory_lab/rank_probes.py", "float(beta.ppf(1.0 - tail, x + 1, n - x))",
            "float(beta.ppf(1.0 - tail, x, n - x + 1))"),), tests=S33G),
    Bug("s33g-probe-wilson", "rank_frequency: the lower end from Wilson again (0.83 coverage near 0.18/draws)",
        (_p("theory_lab/rank_probes.py", "ci = (clopper_pearson_interval(deficient, draws)[0]",
            "ci = (wilson_interval(deficient, draws)[0]"),), tests=S33G),
    # session 33 (s33a-*): scale and order bugs that keep every verdict at seed 0 and change one when the same
    # instance is presented differently (powers of two, permutations); caught by tests/test_metamorphic_s33.py
    Bug("s33a-rank-tol-absolute", "linalg.rank_report: default tolerance max(m, n)·eps absolute (σ_1 dropped)",
        (_p("theory_lab/linalg.py",
            "tol = smax * (rtol if rtol is not None else max(rows, cols) * np.finfo(np.float64).eps)",
            "tol = smax * rtol if rtol is not None else max(rows, cols) * np.finfo(np.float64).eps"),),
        RANKS),
    Bug("s33a-svd-lapack-rescale", "linalg.singular_values: no power-of-two prescaling (LAPACK's own beyond 1e138)",
        (_p("theory_lab/linalg.py", "e = int(np.frexp(top)[1]) - 1 if top > 0 else 0", "e = 0"),),
        RANKS),
    Bug("s33a-witness-fixed-scale", "witness.construct_full_rank: searches on the data as given (no 2^-e scaling)",
        (_p("theory_lab/witness.py", "    e = int(np.frexp(top)[1]) - 1\n", "    e = 0\n"),),
        H34),
    Bug("s33a-forward-error-squares", "forward_error.feature_error_bound: numpy's norm (squares underflow at 1e-166)",
        (_p("theory_lab/forward_error.py",
            'return frobenius_norm(e, f"forward error bound of F_{k}") if np.all(np.isfinite(e)) else float("inf")',
            "return float(np.linalg.norm(e))"),),
        FORWARD),
    Bug("s33a-fit-residual-squares", "corollary-3.6: the fit residual by numpy's norm (squares underflow)",
        (_p("proofs_checks/expressivity.py", 'res = tols.frobenius_norm(r, "f(X) − y") if',
            "res = float(np.linalg.norm(r)) if"),),
        ("corollary-3.6*",)),
    Bug("s33a-4.4-crit-tol-floor", "theorem-4.4 (⇐): ∇_U Φ's critical tolerance without the outputs (scale floor 1)",
        (_p("proofs_checks/loss_surface.py", "Y,\n                         outputs=model.apply(arch, params, X))",
            "Y)"),),
        ("theorem-4.4", "theorem-4.4-widening")),
    Bug("s33a-membership-U-tol-theta", "loss_surface.membership: an exact draw's U_l tolerance max(‖U_l‖₂, max|θ|)·n·eps",
        (_p("theory_lab/loss_surface.py", "tol=float(np.linalg.norm(A, 2)) * max(A.shape)",
            "tol=max(float(np.linalg.norm(A, 2)), scale) * max(A.shape)"),),
        ("lemma-4.2", "theorem-4.4", "bad-critical-point", "class-targets-outside-S_k")),

    # session 33 (s33e-*): shape conventions of layers the strategies never draw (a conv or pool after explicit
    # patches, an off-by-one bounds check); tests/test_differential_s33.py's naive references catch them, the files that
    # use these layers otherwise (test_arch, test_model, test_pool_resolved, test_planted_bugs_s21_*, ...) do not
    Bug("s33e-patchpool-one-position", "arch: PatchMaxPool's output is 1 position × P channels, not P positions × 1 "
        "(a conv after it reads every pooled neuron in one patch)",
        (_p("theory_lab/arch.py", 'infos.append(LayerInfo(k, "maxpool", spec, shape, (patches.shape[0], 1), '
            'patches.shape[0],',
            'infos.append(LayerInfo(k, "maxpool", spec, shape, (1, patches.shape[0]), patches.shape[0],'),),
        tests=S33E),
    Bug("s33e-patchlayer-out-transposed", "arch: PatchLayer's output shape (T, P), not (P, T) (its neurons are "
        "h = p·T + t: a conv or pool after it mixes filters and patches)",
        (_p("theory_lab/arch.py", "out_shape = (patches.shape[0], T)", "out_shape = (T, patches.shape[0])"),),
        tests=S33E),
    Bug("s33e-patchpool-index-n-accepted", "arch: PatchMaxPool's bounds check lets index n_{k-1} through (> for >=): "
        "an IndexError deep in the patch facts, not the error naming `patches`",
        (_p("theory_lab/arch.py", "            if patches.max() >= n_in or patches.min() < 0:\n"
            "                bad = int(patches.max()) if patches.max() >= n_in else int(patches.min())\n"
            "                raise ValueError(\n                    f\"layer {k} (PatchMaxPool)",
            "            if patches.max() > n_in or patches.min() < 0:\n"
            "                bad = int(patches.max()) if patches.max() >= n_in else int(patches.min())\n"
            "                raise ValueError(\n                    f\"layer {k} (PatchMaxPool)"),),
        tests=S33E),
    # session 34 (s34e-*): mutation pass over params_io, validate, report, keys, commands/ and cli (verify never
    # runs them: each names the test files that catch it, tests/test_mutants_s34e.py first)
    Bug("s34e-params-nonfinite-skipped", "params_io.load_theta: the NaN/Inf check skipped (a diverged point loads)",
        (_p("theory_lab/params_io.py", "    check_finite(theta, layout, name)\n    return LoadedParams(",
            "    return LoadedParams("),),
        tests=S34E + ("tests/test_params_io.py", "tests/test_planted_bugs_s20_models.py")),
    Bug("s34e-params-float32-kept", "params_io: a float32 point kept float32 (cast to the smallest float type), "
        "the note still says float64",
        (_p("theory_lab/params_io.py", "        out = a.astype(np.float64)\n",
            "        out = a.astype(np.promote_types(a.dtype, np.float32))\n"),), tests=S34E),
    Bug("s34e-params-last-nonfinite", "params_io.check_finite: names the last NaN/Inf, not the first",
        (_p("theory_lab/params_io.py", "    i = int(bad[0])\n", "    i = int(bad[-1])\n"),), tests=S34E),
    Bug("s34e-validate-integer-bool", "validate.is_integer: True passes as the integer 1",
        (_p("theory_lab/validate.py",
            "return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))",
            "return isinstance(value, (int, np.integer))"),),
        tests=S34E + ("tests/test_bad_input_s32.py", "tests/test_planted_bugs_s27.py")),
    Bug("s34e-validate-finite-nan-only", "validate.all_finite: tests NaN only (Inf passes)",
        (_p("theory_lab/validate.py", "    return bool(np.all(np.isfinite(np.asarray(a))))",
            "    return not bool(np.any(np.isnan(np.asarray(a))))"),), tests=S34E),
    Bug("s34e-keys-probe-block-float32", "keys.check_probe_block: 4 bytes a probe entry (float32), not 8",
        (_p("theory_lab/keys.py", "need, total = int(num) * int(dim) * 8, _physical_memory()",
            "need, total = int(num) * int(dim) * 4, _physical_memory()"),), tests=S34E),
    Bug("s34e-keys-split-reused", "keys.split_key: every key drawn from key_rng(key, num, 0) (one key for all purposes)",
        (_p("theory_lab/keys.py", "data = key_rng(key, num, i).integers", "data = key_rng(key, num, 0).integers"),),
        tests=S34E + ("tests/test_planted_bugs_s21_numerics.py",)),
    Bug("s34e-report-replace-one-by-one", "report.write_all_atomic: each file replaced as soon as its copy is "
        "written (a failure on the second leaves a new first beside old others)",
        (_p("theory_lab/report.py", "            temps.append((_temp_copy(path, text), path))\n        while temps:",
            "            temps.append((_temp_copy(path, text), path))\n            os.replace(*temps.pop())\n"
            "        while temps:"),), tests=S34E + ("tests/test_bad_input_s32.py",)),
    Bug("s34e-report-write-in-place", "report._temp_copy: writes the target itself (no temporary file)",
        (_p("theory_lab/report.py",
            '    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")',
            "    fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), str(path)"),),
        tests=S34E + ("tests/test_report.py", "tests/test_bad_input_s32.py")),
    Bug("s34e-report-numpy-version", "report.environment: numpy's version taken from jax",
        (_p("theory_lab/report.py", '"numpy": numpy.__version__,', '"numpy": jax.__version__,'),), tests=S34E),
    Bug("s34e-verify-strict-converse-exempt", "verify --strict: a converse's inconclusive / not applicable exits 0 "
        "(only kind 'check' counted)",
        (_p("theory_lab/cli.py", 'or strict and r.check.kind != "probe" and r.result.verdict',
            'or strict and r.check.kind == "check" and r.result.verdict'),),
        tests=S34E + ("tests/test_adversarial_s30_verify.py",)),
    Bug("s34e-verify-failed-probe-exit-0", "verify: a probe that fails or crashes exits 0 (probes left out of the "
        "exit code altogether)",
        (_p("theory_lab/cli.py", "    bad = [r for r in records if r.result.verdict in hard\n"
            '           or strict and r.check.kind != "probe" and r.result.verdict is not checking.Verdict.HOLDS]',
            '    bad = [r for r in records if r.check.kind != "probe" and (r.result.verdict in hard\n'
            "           or strict and r.result.verdict is not checking.Verdict.HOLDS)]"),), tests=S34E),
    Bug("s34e-spectrum-gaussian-seed-ignored", "spectrum --data gaussian: the data drawn with seed 0 whatever --seed",
        (_p("theory_lab/commands/spectrum.py", "data.gaussian(n, arch.input_shape, m=arch.widths[-1], seed=seed)",
            "data.gaussian(n, arch.input_shape, m=arch.widths[-1])"),), tests=S34E),
    Bug("s34e-spectrum-probe-seed-ignored", "spectrum: the probes drawn from seed 0 whatever --seed",
        (_p("theory_lab/commands/spectrum.py", "rep = _run(console, obj, theta, data, name=name, seed=seed,",
            "rep = _run(console, obj, theta, data, name=name, seed=0,"),), tests=S34E),
    Bug("s34e-spectrum-default-k", "spectrum: --k defaults to 3, not the documented 5",
        (_p("theory_lab/commands/spectrum.py", 'k: int = typer.Option(5, "--k", "-k"',
            'k: int = typer.Option(3, "--k", "-k"'),), tests=S34E),


    # session 34 (s34c-*): mutation pass over layers, batching, pool_resolved, jacobians, feature_maps (modules that
    # had no mutant); tests/test_mutants_s34c.py holds the independent references that catch the ones that survived
    Bug("s34c-conv-dilation-from-stride", "layers.Conv: `dilation` filled from `stride` (a copy-paste slip)",
        (_p("theory_lab/layers.py", '_set(self, "dilation", _tuple(self.dilation, "dilation", "Conv", len(kernel)))',
            '_set(self, "dilation", _tuple(self.stride, "dilation", "Conv", len(kernel)))'),), tests=S34C_ARCH),
    Bug("s34c-patchlayer-distinct-as-tuples", "layers.PatchLayer: patches compared as ordered tuples (a permuted "
        "repeat passes as distinct)",
        (_p("theory_lab/layers.py", "            key = frozenset(p)\n", "            key = tuple(p)\n"),), tests=S34C_ARCH),
    Bug("s34c-conv-padding-case-kept", "layers.Conv: 'same' / 'valid' not upper-cased (read as explicit padding)",
        (_p("theory_lab/layers.py", '_set(self, "padding", self.padding.upper())', '_set(self, "padding", self.padding)'),),
        tests=S34C_ARCH),
    Bug("s34c-maxpool-default-stride-one", "layers.MaxPool: default stride 1 (overlapping windows), not the window",
        (_p("theory_lab/layers.py", "stride = window if self.stride is None else self.stride",
            "stride = 1 if self.stride is None else self.stride"),), tests=S34C_ARCH),
    Bug("s34c-chunks-first-weight", "batching.Batches.chunks: every chunk masked by the first batch's weight "
        "(the last batch's padding counted)",
        (_p("theory_lab/batching.py", "self.weight[b:b + 1], self.batch_size)", "self.weight[0:1], self.batch_size)"),),
        tests=S34C_BATCHING),
    Bug("s34c-from-iterable-last-size", "batching.from_iterable: default batch size from the last batch, not the first",
        (_p("theory_lab/batching.py", "size = xs[0].shape[0] if batch_size is None", "size = xs[-1].shape[0] if batch_size is None"),),
        tests=S34C),
    Bug("s34c-stream-pads-zeros", "batching.Stream: a ragged chunk padded with zero inputs, not the last sample "
        "(0 · NaN is NaN where the network is not finite at 0)",
        (_p("theory_lab/batching.py", "x, y = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])",
            "x, y = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])"),), tests=S34C),
    Bug("s34c-sum-over-scan-starts-at-first", "batching.sum_over: the scan's accumulator starts at the first batch's "
        "sum and still scans every batch (batch 0 counted twice under a trace)",
        (_p("theory_lab/batching.py", "zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)",
            "zero = fn(data.X[0], data.Y[0], data.weight[0])"),), tests=S34C_BATCHING),
    Bug("s34c-stream-N-counts-padding", "batching.Stream: N counts the padded chunk size (mean reduction by too many)",
        (_p("theory_lab/batching.py", "n += int(min(self.batch_size, x.shape[0] - start))", "n += self.batch_size"),),
        tests=S34C_BATCHING),
    Bug("s34c-pool-first-path-any-depth", "pool_resolved.selection: the selected-input-patch path for a pool after "
        "any conv (k >= 2), not only the first layer's",
        (_p("theory_lab/pool_resolved.py", "first = k == 2 and", "first = k >= 2 and"),), tests=S34C + ("tests/test_planted_bugs_s21_numerics.py",)),
    Bug("s34c-pool-neuron-bias-first-entry", "pool_resolved: the per-neuron bias of each window's first entry, not "
        "of the selected one",
        (_p("theory_lab/pool_resolved.py", "sum(m * b[info.patches[:, w]] for w, m", "sum(m * b[info.patches[:, 0]] for w, m"),),
        tests=S34C + ("tests/test_pool_resolved.py",)),
    Bug("s34c-jacobian-stream-mask-tiled", "jacobians: a Stream chunk's padding rows masked with np.tile (output-major), "
        "not np.repeat (sample-major)",
        (_p("theory_lab/jacobians.py", "np.repeat(np.asarray(chunk.weight[0]) > 0, m)", "np.tile(np.asarray(chunk.weight[0]) > 0, m)"),),
        tests=S34C + ("tests/test_batched_spectra.py",)),
    Bug("s34c-jacobian-forward-batches-unrefused", "jacobians: forward mode on a Batches of several batches not "
        "refused (only the first batch's rows)",
        (_p("theory_lab/jacobians.py", '        if mode == "forward" and X.num_batches > 1:\n            raise ValueError("`mode`=\'forward\' needs the data in one batch; use mode=\'reverse\' for a Batches.")\n',
            ""),),
        tests=S34C),
    Bug("s34c-features-jvp-swapped", "feature_maps.features_jvp: primal and tangent swapped (J at D along X0)",
        (_p("theory_lab/feature_maps.py", "(X0,), (D,))[1]", "(D,), (X0,))[1]"),), tests=S34C),
    Bug("s34c-layer-index-allows-output", "feature_maps.check_layer_index: k = L (the output layer) accepted",
        (_p("theory_lab/feature_maps.py", "not 1 <= k <= arch.L - 1:  # a bool is refused",
            "not 1 <= k <= arch.L:  # a bool is refused"),), tests=S34C + ("tests/test_feature_maps.py",)),
    Bug("s34c-full-weight-float32", "feature_maps.full_weight_matrix: the filters cast to float32 (U_k rounded)",
        (_p("theory_lab/feature_maps.py", "W.astype(np.float64, copy=False)", "W.astype(np.float32)"),), tests=S34C + ("tests/test_feature_maps.py",)),


    # session 34 (s34a-*): objective.py and operators.py had no mutant; tests= names the files that catch each
    # (tests/test_mutants_s34a.py first, then an existing file that caught it before; see docs/planted_bugs.md
    # "Session 34 — mutation pass: objective.py, operators.py")
    Bug("s34a-check-data-N-dropped", "objective.check_data: outputs (N', m) with N' != N accepted (only the ndim "
        "checked): a network that mixes samples broadcasts F − Y silently",
        (_p("theory_lab/objective.py", "if len(out.shape) != 2 or out.shape[0] != N:", "if len(out.shape) != 2:"),),
        tests=S34A),
    Bug("s34a-label-negative-accepted", "objective.Loss.check: integer labels checked above only (max < m); a "
        "negative label passes and take_along_axis reads another logit",
        (_p("theory_lab/objective.py", "not (0 <= np.min(Y) and np.max(Y) < m)", "not (np.max(Y) < m)"),),
        tests=S34A),
    Bug("s34a-linen-apply-kwargs-dropped", "objective.from_model: a linen module's apply_kwargs not passed to apply",
        (_p("theory_lab/objective.py", "net = LinenNetwork(network, fixed, tuple(sorted((apply_kwargs or {}).items())))",
            "net = LinenNetwork(network, fixed)"),),
        tests=S34A),
    Bug("s34a-streamed-mean-twice", "objective.streamed: each chunk run with the mean objective (c = 1/chunk N), "
        "then the total scaled by 1/N again",
        (_p("theory_lab/objective.py", 'per = replace(obj, reduction="sum")', "per = obj"),),
        tests=S34A_MEAN),
    Bug("s34a-ce-rows-sum-dropped", "objective.Loss: cross-entropy of probability rows without s = Σ_c y_c "
        "(logsumexp(f) − y·f, right only for rows summing to 1)",
        (_p("theory_lab/objective.py", "return jnp.sum(Y, axis=-1) * logz - jnp.sum(Y * F, axis=-1)",
            "return logz - jnp.sum(Y * F, axis=-1)"),),
        tests=S34A_CE),
    Bug("s34a-restrict-adds-block", "objective.restrict: the block added to θ's block (.add) instead of set: "
        "derivatives taken at θ with its block doubled",
        (_p("theory_lab/objective.py", "fn(theta.at[sl].set(theta_k))", "fn(theta.at[sl].add(theta_k))"),),
        tests=S34A_BLOCK),
    Bug("s34a-param-inf-passes", "operators._check_param_values: only NaN counted (an Inf in A passes)",
        (_p("theory_lab/operators.py", "count = int(np.size(a) - np.count_nonzero(np.isfinite(np.asarray(a))))",
            "count = int(np.count_nonzero(np.isnan(np.asarray(a))))"),),
        tests=S34A),
    Bug("s34a-observe-no-finally", "operators.observe_products: the observer reset without try/finally (an "
        "exception in the block leaves it installed)",
        (_p("theory_lab/operators.py", "    try:\n        yield\n    finally:\n        _OBSERVER.reset(token)\n",
            "    yield\n    _OBSERVER.reset(token)\n"),),
        tests=S34A),
    Bug("s34a-dense-mirror-upper", "operators.dense: the upper triangle mirrored instead of (A + Aᵀ)/2 (same for a "
        "symmetric operator, not for a non-symmetric one)",
        (_p("theory_lab/operators.py", "    out += out.T\n    out *= 0.5\n",
            "    out = np.triu(out) + np.triu(out, 1).T\n"),),
        tests=S34A),
    Bug("s34a-dense-loop-driver", "operators.dense: prepared for the loop driver (no host preparation): a Stream's "
        "Hessian is refused",
        (_p("theory_lab/operators.py", 'linear = prepare(matvec, dim, tuple(params), driver="python")',
            'linear = prepare(matvec, dim, tuple(params), driver="loop")'),),
        tests=S34A_STREAM),
    Bug("s34a-refuse-lists-name-shift", "operators._refuse_lists: argument names read from check_arguments[2:] "
        "(the list named as the next argument)",
        (_p("theory_lab/operators.py", "names = list(inspect.signature(check_arguments).parameters)[1:]",
            "names = list(inspect.signature(check_arguments).parameters)[2:]"),),
        tests=S34A_LISTS),

    # session 34 (s34b-*): mutation pass over spectrum.py, curvature_report.py and the density / trace plumbing
    # they use. No verify check reads these numbers except lanczos-dense and the hessian-* checks (which use
    # hessian_report and lanczos' top/bottom with converged pairs); tests/test_mutants_s34b.py catches each
    # against dense numpy, closed forms or a counting / recording operator.
    Bug("s34b-inertia-exact-norm-top", "spectrum.inertia (exact): the default threshold from the top eigenvalue, "
        "not max|λ| (dim·eps·λ_max: negative for a negative definite operator)",
        (_p("theory_lab/spectrum.py", "norm = float(np.max(np.abs(lam)))", "norm = float(lam[-1])"),), tests=S34B),
    Bug("s34b-lanczos-need-k", "lanczos: which='both' is ready once k Ritz values exist (need = k, not min(2k, dim)): "
        "after a breakdown the bottom end comes back short",
        (_p("theory_lab/spectrum.py", 'need = min(2 * k, dim) if which == "both" else k', "need = k"),),
        tests=S34B + ("tests/test_spectrum.py",)),
    Bug("s34b-lanczos-stop-any", "lanczos: the run ends once ANY requested pair's true residual is below tol",
        (_p("theory_lab/spectrum.py", "if last or np.all(res <= tol):", "if last or np.any(res <= tol):"),),
        tests=S34B),
    Bug("s34b-lanczos-ends-overlap", "lanczos: which='both' with 2k > m lists the middle pairs at both ends",
        (_p("theory_lab/spectrum.py", "kb = min(k, m - kt)", "kb = min(k, m)"),), tests=S34B + ("tests/test_spectrum.py",)),
    Bug("s34b-eigenpairs-which-swapped", "lanczos: the top pairs labelled 'bottom' and the bottom ones 'top'",
        (_p("theory_lab/spectrum.py", 'top, bottom = pairs(slice(0, nt), "top"), pairs(slice(nt, None), "bottom")',
            'top, bottom = pairs(slice(0, nt), "bottom"), pairs(slice(nt, None), "top")'),), tests=S34B),
    Bug("s34b-eigenpairs-dict-tol-norm", "Eigenpairs.to_dict: 'tol' and 'norm' swapped in the JSON",
        (_p("theory_lab/spectrum.py", '"tol": self.tol, "norm": self.norm', '"tol": self.norm, "norm": self.tol'),),
        tests=S34B),
    Bug("s34b-inertia-rtol-absolute", "spectrum.inertia (exact): an explicit rtol used as an absolute threshold",
        (_p("theory_lab/spectrum.py", "tol = norm * (rtol if rtol is not None else dim * EPS)",
            "tol = rtol if rtol is not None else norm * dim * EPS"),), tests=S34B),
    Bug("s34b-inertia-exact-max-strict", "spectrum.inertia: exact only for dim < exact_max (documented dim <= exact_max)",
        (_p("theory_lab/spectrum.py", "if density is None and dim <= exact_max:", "if density is None and dim < exact_max:"),),
        tests=S34B),
    Bug("s34b-inertia-negative-closed", "spectrum.inertia (SLQ): the negative count's mass closed at −tol (a node at −tol "
        "counted negative and zero)",
        (_p("theory_lab/spectrum.py", "density.mass(-np.inf, -tol, closed=False)", "density.mass(-np.inf, -tol)"),),
        tests=S34B),
    Bug("s34b-inertia-slq-norm-top", "spectrum.inertia (SLQ): the default threshold from |lambda_max| only, not max|node|",
        (_p("theory_lab/spectrum.py", "norm = max(abs(density.lambda_min), abs(density.lambda_max))",
            "norm = abs(density.lambda_max)"),), tests=S34B),
    Bug("s34b-slq-one-probe", "density._slq_run: every Lanczos run starts from the first probe (probes[0])",
        (_p("theory_lab/density.py", "K = krylov.start(matvec, dim, key, params, probes[p], restart=False,",
            "K = krylov.start(matvec, dim, key, params, probes[0], restart=False,"),), tests=S34B),
    Bug("s34b-trace-estimates-key-reuse", "trace.trace_estimates: Hutch++ drawn from Hutchinson's key (k1, not k2)",
        (_p("theory_lab/trace.py", '"hutch++": hutch_plus_plus(matvec, dim, k2,', '"hutch++": hutch_plus_plus(matvec, dim, k1,'),),
        tests=S34B),
    Bug("s34b-planned-slq-unclamped", "curvature_report.planned_products: SLQ planned probes * steps, steps not capped at dim",
        (_p("theory_lab/curvature_report.py", '"SLQ density": probes * min(steps, dim)', '"SLQ density": probes * steps'),),
        tests=S34B),
    Bug("s34b-trace-budget-no-floor", "curvature_report: the trace budget min(trace_matvecs, dim) without Hutch++'s floor",
        (_p("theory_lab/curvature_report.py", "return max(min(int(trace_matvecs), dim), HUTCH_PP_MIN)",
            "return min(int(trace_matvecs), dim)"),), tests=S34B),
    Bug("s34b-report-gradnorm-squared", "spectrum_report: gradient_norm reported as the squared norm ‖∇Φ‖²",
        (_p("theory_lab/curvature_report.py", 'T.frobenius_norm(g, "∇Φ") if np.all', "float(np.sum(g * g)) if np.all"),),
        tests=S34B),
    Bug("s34b-report-lanczos-double-count", "spectrum_report: Lanczos' products counted once per end (top + bottom)",
        (_p("theory_lab/curvature_report.py", "lambda out: out[0].num_matvecs,",
            "lambda out: out[0].num_matvecs + out[1].num_matvecs,"),), tests=S34B),
    Bug("s34b-hessian-inertia-rtol-dropped", "curvature_report.hessian_inertia: the caller's rtol not passed on (the "
        "rule's own default threshold instead)",
        (_p("theory_lab/curvature_report.py", "return inertia_report(np.linalg.eigvalsh(0.5 * (H + H.T)), rtol=rtol, band=band)",
            "return inertia_report(np.linalg.eigvalsh(0.5 * (H + H.T)), band=band)"),), tests=S34B),
    Bug("s34b-bulk-strict-level", "curvature_report.bulk_interval: density > level·peak (documented >=)",
        (_p("theory_lab/curvature_report.py", "above = density >= level * density[i]", "above = density > level * density[i]"),),
        tests=S34B),


    # session 34 (s34d-*): mutation pass over the zoo (ops, graph, table1, classic) and arch's Assumption 4.1 and
    # patch geometry; tests/test_mutants_s34d.py checks them against hand-computed sizes, the papers' tables and
    # THEORY.md's definitions (docs/planted_bugs.md, "Session 34 — mutation pass: zoo and arch")
    Bug("s34d-ceil-drop-ignores-pad", "zoo ops: ceil-mode pooling drops a last window that starts at or after n "
        "(Caffe/PyTorch: n + pad_lo), so a window starting in the bottom padding's reach is lost",
        (_p("theory_lab/zoo/ops.py", "if ceil_mode and (size - 1) * s >= n + lo:", "if ceil_mode and (size - 1) * s >= n:"),),
        tests=S34D),
    Bug("s34d-window-check-no-pad", "zoo ops: the kernel-too-large check ignores the padding (a 3×3 pad-1 conv "
        "on a 2×2 map refused)",
        (_p("theory_lab/zoo/ops.py", "        if extent > n + lo + hi:\n", "        if extent > n:\n"),),
        tests=S34D),
    Bug("s34d-input-shape-zero", "zoo ops: check_input_shape accepts a zero size (v < 0 for v < 1)",
        (_p("theory_lab/zoo/ops.py", "or v < 1 for v in shape):", "or v < 0 for v in shape):"),),
        tests=S34D),
    Bug("s34d-network-empty-outputs", "zoo graph: a Network with no outputs is accepted (only unknown names refused)",
        (_p("theory_lab/zoo/graph.py", "        if unknown or not outputs:", "        if unknown:"),),
        tests=S34D),
    Bug("s34d-max-width-includes-outputs", "zoo graph: max_k n_k taken over every counted layer, the outputs too",
        (_p("theory_lab/zoo/graph.py", "best = max(self.hidden_layers, key=", "best = max(self.counted_layers, key="),),
        tests=S34D + ("tests/test_zoo.py",)),
    Bug("s34d-max-wide-strict", "zoo table1: max_k n_k >= N read as > N (a layer of exactly N neurons is not wide)",
        (_p("theory_lab/zoo/table1.py", "return self.max_width >= self.N", "return self.max_width > self.N"),),
        tests=S34D),
    Bug("s34d-n1-wide-reads-max", "zoo table1: WidthRow.n1_wide compares max_k n_k (not n_1) with N",
        (_p("theory_lab/zoo/table1.py", "return self.n1 >= self.N", "return self.max_width >= self.N"),),
        tests=S34D),
    Bug("s34d-note-ratio-inverted", "zoo table1: a note's ratio printed as paper / width (not width / paper)",
        (_p("theory_lab/zoo/table1.py", "{values[q] / bounds[q]:.2f}×", "{bounds[q] / values[q]:.2f}×"),),
        tests=S34D + ("tests/test_cli_widths.py",)),
    Bug("s34d-squeezenet-fire6-typo", "zoo classic: SqueezeNet fire6's expand 1×1 typed 128 (Table 1: 192)",
        (_p("theory_lab/zoo/classic.py", "6: (48, 192, 192), 7:", "6: (48, 128, 192), 7:"),),
        tests=S34D),
    Bug("s34d-resnet-basic-stride-on-2b", "zoo classic: a basic ResNet block strides its second 3×3, not the first",
        (_p("theory_lab/zoo/classic.py", "                y = b.conv(x, width, 3, stride, 1, name=f\"{name}/branch2a\")\n"
            "                y = b.conv(y, width, 3, 1, 1, name=f\"{name}/branch2b\")\n            shortcut",
            "                y = b.conv(x, width, 3, 1, 1, name=f\"{name}/branch2a\")\n"
            "                y = b.conv(y, width, 3, stride, 1, name=f\"{name}/branch2b\")\n            shortcut"),),
        tests=S34D),
    Bug("s34d-patches-no-dilation", "arch: conv patches read adjacent neurons, ignoring the dilation (shapes still right)",
        (_p("theory_lab/arch.py", "+ offs[None] * np.array(dilation)", "+ offs[None]"),),
        tests=S34D + ("tests/test_model.py",)),
    Bug("s34d-4-1-pyramid-from-k", "arch: Assumption 4.1's pyramidal part starts at n_k (n_k >= n_{k+1} demanded)",
        (_p("theory_lab/arch.py", "w = self.widths[k + 1:]", "w = self.widths[k:]"),
         _p("theory_lab/arch.py", "drops = [k + 1 + i for i", "drops = [k + i for i"),),
        tests=S34D),
    Bug("s34d-4-1-acts-upto-k", "arch: Assumption 4.1's 'hidden activations satisfy 3.2' checks σ_1..σ_k only",
        (_p("theory_lab/arch.py", "bad = [i.k for i in self.info[:-1] if", "bad = [i.k for i in self.info[:k] if"),),
        tests=S34D + ("tests/test_planted_bugs_s20.py",)),
    Bug("s34d-4-1-pool-after-k-only", "arch: Assumption 4.1's 'no max-pooling' looks only after the wide layer",
        (_p("theory_lab/arch.py", "pools = [i.k for i in self.info if i.kind", "pools = [i.k for i in self.info[k:] if i.kind"),),
        tests=S34D),
    Bug("s34d-4-1-wide-strict", "arch: Assumption 4.1's n_k >= N part tests n_k > N",
        (_p("theory_lab/arch.py", "self.widths[k] >= N,\n", "self.widths[k] > N,\n"),),
        tests=S34D + ("tests/test_planted_bugs_s22.py",)),
    # session 34 (g): critical-point search, the scale-free stopping rule, Theorem 3.4's witness, the exact fit,
    # saturation
    Bug("s34g-crit-adam-ascent", "critical: the Adam warm start adds the negated update (t - u): it climbs Φ",
        (_p("theory_lab/critical.py", "return t + u, s", "return t - u, s"),),
        tests=S34G),
    Bug("s34g-crit-widest-first", "critical.default_k: among equally wide hidden layers (none wide) the first, not the last",
        (_p("theory_lab/critical.py", "key=lambda k: (arch.widths[k], k))", "key=lambda k: (arch.widths[k], -k))"),),
        tests=S34G),
    Bug("s34g-crit-any-step-sign", "critical mode='any': the gradient-map step taken with the wrong sign",
        (_p("theory_lab/critical.py", "dq = -w * gq / (w * w + lam)", "dq = w * gq / (w * w + lam)"),),
        tests=S34G),
    Bug("s34g-crit-wide-first", "critical.default_k: with no layer meeting Assumption 4.1, the first wide layer, not the last",
        (_p("theory_lab/critical.py", "        return wide[-1]", "        return wide[0]"),),
        tests=S34G),
    Bug("s34g-stop-frobenius", "stopping.block_ratios: ‖J_k‖ taken in the Frobenius norm, not the spectral norm",
        (_p("theory_lab/stopping.py", "np.linalg.norm(J[:, block] / top, 2)", 'np.linalg.norm(J[:, block] / top, "fro")'),),
        tests=S34G),
    Bug("s34g-stop-min-scale", "stopping.block_ratios: scaled by min(‖Y‖, ‖F_L‖), not max",
        (_p("theory_lab/stopping.py", 's = max(T.frobenius_norm(Y, "Y"), T.frobenius_norm(outputs, "F_L"))',
            's = min(T.frobenius_norm(Y, "Y"), T.frobenius_norm(outputs, "F_L"))'),),
        tests=S34G),
    Bug("s34g-stop-min-block", "stopping.relative_gradient: the smallest block ratio, not the largest",
        (_p("theory_lab/stopping.py", "return max(block_ratios(obj, theta, X, Y).values())",
            "return min(block_ratios(obj, theta, X, Y).values())"),),
        tests=S34G + ("tests/test_leftovers_s33.py",)),
    Bug("s34g-wit-shift-from-max", "witness: a layer < k shifted by delta - max G (not min G): units still die",
        (_p("theory_lab/witness.py", "shift = delta - G.min(axis=0)", "shift = delta - G.max(axis=0)"),),
        tests=S34G + ("tests/test_planted_bugs_s23_rank.py",)),
    Bug("s34g-wit-alpha-times-half", "witness: saturating σ scaled by c · half-gap, not c / half-gap",
        (_p("theory_lab/witness.py", "alpha = 1.0 if homogeneous else c / half", "alpha = 1.0 if homogeneous else c * half"),),
        tests=S34G + ("tests/test_planted_bugs_s23_rank.py",)),
    Bug("s34g-wit-U-below-k", "witness: U_l rank evidence for l < k only (U_k never checked)",
        (_p("theory_lab/witness.py", "for l in range(1, k + 1) if arch.layer(l).has_weights}",
            "for l in range(1, k) if arch.layer(l).has_weights}"),),
        tests=S34G + ("tests/test_witness.py",)),
    Bug("s34g-fit-solve-untransposed", "exact_fit: λ = Q R⁻¹ y (the triangular solve without its transpose)",
        (_p("theory_lab/exact_fit.py", 'trans="T"', 'trans="N"'),),
        tests=S34G + ("tests/test_exact_fit.py",)),
    Bug("s34g-fit-y-ndim-unchecked", "exact_fit: y of 3 or more dimensions accepted (only its first axis checked)",
        (_p("theory_lab/exact_fit.py", "if y.shape[:1] != F.shape[:1] or y.ndim not in (1, 2):",
            "if y.shape[:1] != F.shape[:1]:"),),
        tests=S34G),
    Bug("s34g-fit-qr-when-deficient", "exact_fit: the QR solve used even when F is rank deficient (no least-squares fallback)",
        (_p("theory_lab/exact_fit.py", "if report.full_row_rank and F.shape[1] >= F.shape[0]:",
            "if F.shape[1] >= F.shape[0]:"),),
        tests=S34G + ("tests/test_exact_fit.py",)),
    Bug("s34g-sat-affine-uncentred-G", "saturation: the affine-to-rounding residual F_c − slope·G (G not centred)",
        (_p("theory_lab/saturation.py", "(_column_norms(Fc - slope * Gc) <= report.tol)",
            "(_column_norms(Fc - slope * G) <= report.tol)"),),
        tests=S34G + ("tests/test_vacuous_s27.py",)),
    Bug("s34g-sat-lift-per-unit", "saturation: identical unresolved units each lift the rank (not once per class)",
        (_p("theory_lab/saturation.py", "lift = np.setdiff1d(same[unresolved], same[~unresolved]).size",
            "lift = int(unresolved.sum())"),),
        tests=S34G + ("tests/test_adversarial_s29_saturation.py",)),

    # session 34 (s34f-*): mutation pass over the checks themselves (proofs_checks definitions, s4_extra, instances,
    # widths). A mutant in a check's reference makes the check fail on the correct library (checks=: verify catches
    # it); a mutant that weakens a check leaves it holding there, and only a test that plants a library bug the
    # weakened check no longer sees can catch it (tests=, tests/test_mutants_s34f.py first)
    Bug("s34f-preact-tied-bias-repeat", "definitions.definition_preactivation: a tied bias b ∈ R^T spread with "
        "np.repeat (filter-major) instead of np.tile (h = (p−1)T + t)",
        (_p("proofs_checks/definitions.py", "G = G + (np.tile(b, info.P) if b.size", "G = G + (np.repeat(b, info.P) if b.size"),),
        ("layer-definition",)),
    Bug("s34f-layerdef-maxpool-kind-typo", "layer-definition: the max-pooling branch tests kind == 'max_pool' (never "
        "true: Definition 2.3 never observed)",
        (_p("proofs_checks/definitions.py", '            if info.kind == "maxpool":\n', '            if info.kind == "max_pool":\n'),),
        tests=S34F + ("tests/test_adversarial_s30_foundations.py",)),
    Bug("s34f-layerdef-fm-twin-from-model", "layer-definition: the feature_maps twin of U_k taken from "
        "model.full_weight_matrix (a copy-paste slip: one twin compared twice)",
        (_p("proofs_checks/definitions.py", '("feature_maps", feature_maps.full_weight_matrix(arch, params, k))',
            '("feature_maps", model.full_weight_matrix(arch, params, k))'),),
        tests=("tests/test_planted_bugs_s21_checks.py",)),
    Bug("s34f-tolrules-crit-bottom-direction", "tolerance-rules: the non-critical residual put along F's bottom "
        "singular direction (Uf[:, -1]), so ‖Fᵀr‖ is σ_min/σ_1 of the intended 30× the tolerance",
        (_p("proofs_checks/definitions.py", "r_off = np.outer(Uf[:, 0], np.ones(", "r_off = np.outer(Uf[:, -1], np.ones("),),
        ("tolerance-rules",)),
    Bug("s34f-tolrules-small-offset-unscaled", "tolerance-rules: at targets scaled by 2^-30 the 3e-9 offset is left "
        "unscaled (a parenthesis slip: the scale-free rule is not tried)",
        (_p("proofs_checks/definitions.py", "0.5 * float(np.sum((small * ((F @ fit.lam - Y) + off)) ** 2)), zero_small)",
            "0.5 * float(np.sum((small * (F @ fit.lam - Y) + off) ** 2)), zero_small)"),),
        tests=S34F + ("tests/test_planted_bugs_s31.py",)),
    Bug("s34f-tolrules-inertia-always-conclusive", "tolerance-rules: the inertia observation conclusive=True (an "
        "eigenvalue inside the tolerance band reads holds, not inconclusive)",
        (_p("proofs_checks/definitions.py", "conclusive=inertia.conclusive,", "conclusive=True,"),),
        tests=S34F),
    Bug("s34f-tolrules-forward-error-layer-1", "tolerance-rules: the forward-error bound compared with the exact "
        "rational pass at layer 1 only (not through max-pooling and the dense layer after it)",
        (_p("proofs_checks/definitions.py", "    for k in (1, 2, 3):\n", "    for k in (1,):\n"),),
        tests=S34F),
    Bug("s34f-pred-plant-in-sample-0", "assumption-3.1-predicate: the shared patch planted inside sample 0 (flat[0, "
        "dst]) instead of sample 1: no two samples share it",
        (_p("proofs_checks/definitions.py", "    flat[1, dst[keep]] = flat[0, src[keep]]", "    flat[0, dst[keep]] = flat[0, src[keep]]"),),
        ("assumption-3.1-predicate",)),
    Bug("s34f-table1-any-documented", "table-1: a documented disagreement of one quantity excuses both (ok when the "
        "entry documents anything)",
        (_p("proofs_checks/widths.py", 'ok = status == "matches" or q in documented', 'ok = status == "matches" or bool(documented)'),),
        tests=S34F),
    Bug("s34f-table1-extra-sizes-compared", "table-1: the rows at other input sizes (docs/table1.md) compared with "
        "the paper's bounds too",
        (_p("proofs_checks/widths.py", "if entry.paper not in THEORY_TABLE1 or entry.key in EXTRA_INPUT_SIZES:",
            "if entry.paper not in THEORY_TABLE1:"),),
        ("table-1",)),
    Bug("s34f-fig1-wide-reads-n0", "figure-1: n_0 (the input, 784) compared with MNIST's N, not n_1",
        (_p("proofs_checks/widths.py", 'ev.exact("n_1 ≥ N (MNIST)", widths[1], MNIST_N, ">=")',
            'ev.exact("n_1 ≥ N (MNIST)", widths[0], MNIST_N, ">=")'),),
        ("figure-1",)),
    Bug("s34f-wide-layer-last", "instances.wide_layer_of: the last wide layer, not the first",
        (_p("proofs_checks/instances.py", "return wide[0] if wide else arch.L - 1", "return wide[-1] if wide else arch.L - 1"),),
        tests=("tests/test_planted_bugs_s21_checks.py",)),
    Bug("s34f-digits-cache-noise-dropped", "instances.digits_instance: the cache key leaves out the noise (the raw "
        "and the perturbed digits instance collide in one context)",
        (_p("proofs_checks/instances.py", 'return ctx.cached(("digits", n, noise, filters, activation, bias), build)',
            'return ctx.cached(("digits", n, filters, activation, bias), build)'),),
        tests=S34F_S21),
    Bug("s34f-digits-seed-ignored", "instances.digits_instance: the digits' noise drawn with seed 0 whatever the "
        "context's seed",
        (_p("proofs_checks/instances.py", "ds = _data.digits(n, noise=noise, seed=ctx.seed)",
            "ds = _data.digits(n, noise=noise, seed=0)"),),
        tests=S34F),
    Bug("s34f-s4extra-U_L-unchecked", "bad-critical-point-construction: U_{k+1} = 0 checked, U_L = 0 not",
        (_p("proofs_checks/s4_extra.py", "for l in (k + 1, L):", "for l in (k + 1,):"),),
        tests=S34F_S21),
    Bug("s34f-s4extra-kept-skips-b_k+1", "bad-critical-point-construction: b_{k+1} left out of the parameters that "
        "must be kept (a construction that zeroes it passes)",
        (_p("proofs_checks/s4_extra.py", '(f"layer_{k + 1}", "W"), (f"layer_{L}", "W"), (f"layer_{L}", "b")}',
            '(f"layer_{k + 1}", "W"), (f"layer_{k + 1}", "b"), (f"layer_{L}", "W"), (f"layer_{L}", "b")}'),),
        tests=S34F_S21),

    # session 34 (s34h-*): layout, resnet, presets, evidence, evidence_figures, near_duplicates
    Bug("s34h-tree-blocks-drop-last-leaf", "layout: TreeLayout.blocks ends a merged subtree before its last leaf",
        (_p("theory_lab/layout.py", "out[-1] = (head, slice(out[-1][1].start, int(starts[i + 1])))",
            "out[-1] = (head, slice(out[-1][1].start, int(starts[i])))"),),
        tests=S34H_OBJ),
    Bug("s34h-tree-ravel-no-float64", "layout: TreeLayout.ravel accepts float32 leaves (its dtype check dropped)",
        (_p("theory_lab/layout.py", "            require_float64(jnp.asarray(a), f\"params[{_path(keys)!r}]\")\n", ""),),
        tests=S34H),
    Bug("s34h-bn-stats-per-position", "resnet: BatchNorm's training statistics over the batch axis only (per pixel)",
        (_p("theory_lab/resnet.py", "axes = tuple(range(x.ndim - 1))", "axes = (0,)"),),
        tests=S34H),
    Bug("s34h-resnet-bias-init-zero", "resnet: convolution biases initialised to 0 (documented N(0, 0.1^2))",
        (_p("theory_lab/resnet.py", "use_bias=use_bias, bias_init=nn.initializers.normal(0.1), **F64)",
            "use_bias=use_bias, **F64)"),),
        tests=S34H),
    Bug("s34h-mnist1d-dense-activation", "presets: verify_mnist1d's dense layer ignores `activation`",
        (_p("theory_lab/presets.py", "Dense(32, activation=activation),\n                                  Output(10)))",
            "Dense(32),\n                                  Output(10)))"),),
        tests=S34H),
    Bug("s34h-at-least-negative-margin", "evidence: at_least of a negative value against a positive threshold "
        "gives a negative margin (inconclusive), not 0 (a conclusive violation)",
        (_p("theory_lab/evidence.py", "margin = value / t if value > 0 else 0.0", "margin = value / t"),),
        tests=S34H),
    Bug("s34h-rank-range-short", "evidence: rank conclusiveness looks at ranks lo .. hi-1 (the highest allowed rank "
        "skipped)", (_p("theory_lab/evidence.py", "for r in range(lo, hi + 1))", "for r in range(lo, hi))"),),
        tests=S34H),
    Bug("s34h-observe-tie-refused", "evidence: observe refuses a margin of exactly 1 that holds (a tie)",
        (_p("theory_lab/evidence.py", "(margin < 1 if holds else margin > 1)", "(margin <= 1 if holds else margin > 1)"),),
        tests=S34H),
    Bug("s34h-rank-figure-x-from-0", "evidence_figures: rank_figure draws sigma_min at x = 0 (the axis says 1)",
        (_p("theory_lab/evidence_figures.py", "x = np.arange(1, s.size + 1)", "x = np.arange(s.size)"),),
        tests=S34H),
    Bug("s34h-band-of-no-exponent", "evidence_figures: band_of reads only digits and dots (band 1e+06 read as 1)",
        (_p("theory_lab/evidence_figures.py", 'r"band\\s*([0-9.eE+-]+)"', 'r"band\\s*([0-9.]+)"'),),
        tests=S34H_HTML),
    Bug("s34h-norms-underflow", "near_duplicates: _norms squares rows directly (1e-170 rows have norm 0)",
        (_p("theory_lab/near_duplicates.py", "return top * np.linalg.norm(A / np.where(top > 0, top, 1.0)[:, None], axis=1)",
            "return np.linalg.norm(A, axis=1)"),),
        tests=S34H),
    Bug("s34h-components-root-not-smallest", "near_duplicates: union-find links a's root under b's (the representative "
        "is not the group's smallest index)",
        (_p("theory_lab/near_duplicates.py", "parent[max(a, b)] = min(a, b)", "parent[a] = b"),),
        tests=S34H_NEAR_DOC),
    Bug("s34h-pairs-equal-samples", "near_duplicates: equal rows of equal samples linked as a pair",
        (_p("theory_lab/near_duplicates.py", "if a != b and not np.array_equal(rows[a], rows[b])}", "if a != b}"),),
        tests=S34H_NEAR),
    # session 35 (s35e-*): mutation pass over zoo/enet, zoo/inception (Inception V3/V4, Xception), commands/options
    # and commands/widths; tests/test_mutants_s35e.py checks them against the papers' layer tables, the reference
    # releases (tf-slim, Keras, ENet's Torch code) and the commands' documented output
    Bug("s35e-enet-decoder-internal-half", "zoo enet: decoder bottlenecks project to output/2 channels, not output/4",
        (_p("theory_lab/zoo/enet.py",
            '    internal = out // 4\n    y = b.conv(x, internal, 1, name=f"{name}/projection")',
            '    internal = out // 2\n    y = b.conv(x, internal, 1, name=f"{name}/projection")'),),
        tests=S35E),
    Bug("s35e-enet-size-check-and", "zoo enet: the divisible-by-8 check refuses only when both sizes fail (`and`)",
        (_p("theory_lab/zoo/enet.py", "if height % 8 or width % 8:", "if height % 8 and width % 8:"),),
        tests=S35E),
    Bug("s35e-enet-tag-height-first", "zoo enet: a non-default size named enet-HxW (enet-512x1024), not W×H",
        (_p("theory_lab/zoo/enet.py", 'f"-{width}x{height}"', 'f"-{height}x{width}"'),),
        tests=S35E),
    Bug("s35e-enet-final-fullconv-3x3", "zoo enet: the final full convolution copied from the decoder's 3×3/2 "
        "(pad 1, output padding 1; same 512×512 output) instead of 2×2/2",
        (_p("theory_lab/zoo/enet.py", 'b.conv_transpose(x, classes, 2, 2, name="fullconv", output=True)',
            'b.conv_transpose(x, classes, 3, 2, 1, 1, name="fullconv", output=True)'),),
        tests=S35E),
    Bug("s35e-v3-mixed5-b1-64", "zoo inception: Inception V3 Mixed_5b–5d's 5×5 branch reduces to 64 channels "
        "(tf-slim: 48)",
        (_p("theory_lab/zoo/inception.py", '[(48, (1, 1), 1, "same"), (64, (5, 5), 1, "same")]',
            '[(64, (1, 1), 1, "same"), (64, (5, 5), 1, "same")]'),),
        tests=S35E),
    Bug("s35e-v3-mixed7-b2-384", "zoo inception: Inception V3 Mixed_7b/7c's double-3×3 branch starts with 384 "
        "(tf-slim: 448)",
        (_p("theory_lab/zoo/inception.py", '[(448, (1, 1), 1, "same"), (384, (3, 3), 1, "same")]',
            '[(384, (1, 1), 1, "same"), (384, (3, 3), 1, "same")]'),),
        tests=S35E),
    Bug("s35e-v4-reduction-a-l-192", "zoo inception: Inception V4 Reduction-A's l = 192 (Szegedy et al. 2017, "
        "Table 1: 224)",
        (_p("theory_lab/zoo/inception.py", '(224, (3, 3), 1, "same"), (256, (3, 3), 2, "valid")',
            '(192, (3, 3), 1, "same"), (256, (3, 3), 2, "valid")'),),
        tests=S35E),
    Bug("s35e-pool-branch-max", "zoo inception: the inception modules' pool branch max-pools (the papers: average)",
        (_p("theory_lab/zoo/inception.py", 'b.conv(b.avg_pool(x, 3, 1, "same"', 'b.conv(b.max_pool(x, 3, 1, "same"'),),
        tests=S35E),
    Bug("s35e-v4-aux-default-off", "zoo inception: inception_v4 builds without its auxiliary head by default",
        (_p("theory_lab/zoo/inception.py", "def inception_v4(size: int = 299, *, aux: bool = True)",
            "def inception_v4(size: int = 299, *, aux: bool = False)"),),
        tests=S35E),
    Bug("s35e-xception-exit-1024", "zoo inception: Xception's block14_sepconv1 keeps 1024 filters (Fig. 5: 1536)",
        (_p("theory_lab/zoo/inception.py", 'b.separable(x, 1536, 3, name="block14_sepconv1")',
            'b.separable(x, 1024, 3, name="block14_sepconv1")'),),
        tests=S35E),
    Bug("s35e-xception-pool-2x2", "zoo inception: Xception's block pools 2×2/2 SAME (Fig. 5: 3×3/2; same sizes)",
        (_p("theory_lab/zoo/inception.py", 'y = b.max_pool(y, 3, 2, "same", name=f"block{block}_pool")',
            'y = b.max_pool(y, 2, 2, "same", name=f"block{block}_pool")'),),
        tests=S35E),
    Bug("s35e-options-parent-one-level", "commands options: the writable-folder probe climbs one missing level only "
        "(--out a/b/c under an existing folder refused as 'a file')",
        (_p("theory_lab/commands/options.py", "    while not parent.exists():\n        if parent.parent == parent:\n"
            "            break\n        parent = parent.parent\n",
            "    if not parent.exists():\n        parent = parent.parent\n"),),
        tests=S35E_OPTIONS),
    Bug("s35e-widths-numbers-count-padding", "widths --network: the '#' column counts the rows that are not layers "
        "(numbers skip after each zero-padding row)",
        (_p("theory_lab/commands/widths.py", "    for layer in net.layers:\n        marks =",
            "    for layer in net.layers:\n        k += 1\n        marks ="),
         _p("theory_lab/commands/widths.py", "        k += 1\n        table.add_row(str(k)",
            "        table.add_row(str(k)")),
        tests=S35E),
    Bug("s35e-widths-json-max-is-n1", "widths --json: the network's max_width written as n_1",
        (_p("theory_lab/commands/widths.py", '"max_width": net.max_width[0], "max_at"',
            '"max_width": net.n1, "max_at"'),),
        tests=S35E),
    Bug("s35e-widths-json-paper-swapped", "widths --json: paper_table1's n1 and max swapped",
        (_p("theory_lab/commands/widths.py", '"n1": v.n1, "max": v.max_width}', '"n1": v.max_width, "max": v.n1}'),),
        tests=S35E),

    Bug("s35d-attain-aliases-params", "gradient_probes: attaining_point writes W_{k+1}, b_{k+1} into the caller's "
        "params (no copy)",
        (_p("theory_lab/gradient_probes.py", "out = jax.tree_util.tree_map(lambda a: a, params)", "out = params"),),
        tests=S35D),
    Bug("s35d-attain-left-thin-svd", "gradient_probes: attaining_point's u from a thin SVD of F_k (no left null "
        "vector when N > n_k: the lower bound 0 is not attained)",
        (_p("theory_lab/gradient_probes.py", "P, _, _ = np.linalg.svd(np.asarray(F[k]), full_matrices=True)",
            "P, _, _ = np.linalg.svd(np.asarray(F[k]), full_matrices=False)"),),
        tests=S35D),
    Bug("s35d-attain-right-thin-svd", "gradient_probes: attaining_point's v from a thin SVD of U_L (no null vector "
        "when n_{L-1} < m: the lower bound 0 is not attained)",
        (_p("theory_lab/gradient_probes.py", "model.full_weight_matrix(arch, out, L)), full_matrices=True)",
            "model.full_weight_matrix(arch, out, L)), full_matrices=False)"),),
        tests=S35D),
    Bug("s35d-pool-check-from-k", "gradient_probes: _check_k looks for max-pooling from layer k (info[k-1:]), "
        "refusing a pooling layer k although only layers k+1 .. L must be conv or dense",
        (_p("theory_lab/gradient_probes.py", 'pools = [i.k for i in arch.info[k:] if i.kind == "maxpool"]',
            'pools = [i.k for i in arch.info[k - 1:] if i.kind == "maxpool"]'),),
        tests=S35D),
    Bug("s35d-search-lr-zero-accepted", "gradient_probes: small_gradient_search accepts lr = 0 (a search that "
        "never moves)",
        (_p("theory_lab/gradient_probes.py", "or not (np.isfinite(lr) and lr > 0):",  # session 38a: after is_real
            "or not (np.isfinite(lr) and lr >= 0):"),),
        tests=S35D),
    Bug("s35d-resolve-cwd-left-on-path", "factories: resolve leaves the working directory on sys.path after importing "
        "PKG.MODULE",
        (_p("theory_lab/factories.py", "            finally:\n                if added:\n                    "
            "sys.path.remove(cwd)\n", "            finally:\n                pass\n"),),
        tests=S35D),
    Bug("s35d-resolve-first-colon", "factories: resolve splits the spec at its first ':' (a folder with a ':' "
        "in its name breaks path/file.py:FACTORY)",
        (_p("theory_lab/factories.py", 'module_name, sep, name = str(spec).rpartition(":")',
            'module_name, sep, name = str(spec).partition(":")'),),
        tests=S35D),
    Bug("s35d-factory-loss-overrides-option", "factories: a factory's own loss callable wins over an explicit "
        "`loss` (--loss ignored)",
        (_p("theory_lab/factories.py", "    if loss is None:\n        loss = out[3] if len(out) == 4 else (",
            "    if loss is None or len(out) == 4:\n        loss = out[3] if len(out) == 4 else ("),),
        tests=S35D),
    Bug("s35d-reduction-ignored", "factories: load drops `reduction` (always the sum)",
        (_p("theory_lab/factories.py", "from_model(model, params, loss=loss, reduction=reduction)",
            "from_model(model, params, loss=loss)"),),
        tests=S35D),
    Bug("s35d-generator-not-kept", "factories: a factory's generator of batches is not kept as a list (its one "
        "pass spent, or refused, before any product)",
        (_p("theory_lab/factories.py", "        data = list(data)\n", "        pass\n"),),
        tests=S35D),
    Bug("s35d-shard-suggestion-off", "sharding: shard_samples' error suggests N + N mod n_dev instead of the next "
        "multiple of n_dev",
        (_p("theory_lab/sharding.py", "or {N + n_dev - N % n_dev} samples", "or {N + N % n_dev} samples"),),
        tests=S35D),
    Bug("s35d-cache-access-read-only", "compile_cache: enable checks the folder is readable (R_OK), not writable",
        (_p("theory_lab/compile_cache.py", "os.access(path, os.W_OK | os.X_OK)", "os.access(path, os.R_OK | os.X_OK)"),),
        tests=S35D),
    Bug("s35d-cache-empty-option-means-unset", "compile_cache: resolve reads an empty --compile-cache '' as not "
        "given (falls back to the variable / default instead of refusing it)",
        (_p("theory_lab/compile_cache.py", "    if value is None:\n        value = env.get(ENV) or None",
            "    if not value:\n        value = env.get(ENV) or None"),),
        tests=S35D),
    Bug("s35d-cache-min-compile-time-dropped", "compile_cache: enable leaves JAX's 1 s minimum compile time (fast "
        "programs are never written)",
        (_p("theory_lab/compile_cache.py",
            '    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)\n', ""),),
        tests=S35D),
    Bug("s35d-expressivity-jax-weight-matrix", "expressivity: full_weight_matrix re-exported from model (the jax "
        "twin) instead of feature_maps",
        (_p("theory_lab/expressivity.py",
            "from theory_lab.feature_maps import feature_rank, features_upto, full_weight_matrix\n",
            "from theory_lab.feature_maps import feature_rank, features_upto\nfrom theory_lab.model import "
            "full_weight_matrix\n"),),
        tests=("tests/test_expressivity.py",)),


    # session 35 (s35a-*): mutation pass over the teaching demos rank-jump, critical-points and demos.common (verify
    # never runs the demos: tests=, tests/test_mutants_s35a.py first, then the files that caught a mutant before)
    Bug("s35a-digit-count-off-by-one", "demos.common: digit_count refuses N = 1797, the last bundled digit (>= for >)",
        (_p("theory_lab/demos/common.py", "if n > TOTAL_DIGITS:", "if n >= TOTAL_DIGITS:"),),
        tests=S35A),
    Bug("s35a-render-dpi-dropped", "demos.common: render ignores dpi (the PNG at the figure's own 100 dpi)",
        (_p("theory_lab/demos/common.py", "fig.savefig(buf, format=fmt, dpi=dpi, metadata=",
            "fig.savefig(buf, format=fmt, metadata="),),
        tests=S35A),
    Bug("s35a-render-svg-dated", "demos.common: render leaves matplotlib's date in the SVG (same numbers, new file)",
        (_p("theory_lab/demos/common.py", 'metadata={"Date": None} if fmt == "svg" else None)', "metadata=None)"),),
        tests=S35A),
    Bug("s35a-residual-norm-float32", "demos.common: residual_norm subtracts in float32",
        (_p("theory_lab/demos/common.py", "np.asarray(outputs, np.float64) - np.asarray(Y, np.float64)",
            "np.asarray(outputs, np.float32) - np.asarray(Y, np.float32)"),),
        tests=S35A),
    Bug("s35a-rj-top-floor", "rank-jump: default_filters' widest T rounded down (the sweep stops short of 2N)",
        (_p("theory_lab/demos/_rank_jump.py", "top = max(2, math.ceil(max_ratio * N / PATCHES))",
            "top = max(2, int(max_ratio * N / PATCHES))"),),
        tests=S35A),
    Bug("s35a-rj-key-by-position", "rank-jump: draws keyed by the width's position in the sweep, not by T",
        (_p("theory_lab/demos/_rank_jump.py", "jax.random.fold_in(jax.random.fold_in(root, T), j)",
            "jax.random.fold_in(jax.random.fold_in(root, done), j)"),),
        tests=S35A),
    Bug("s35a-rj-duplicates-from-noisy", "rank-jump: the duplicates series built from the noisy digits, not the raw",
        (_p("theory_lab/demos/_rank_jump.py", "duplicate_digits(raw.X, duplicates)", "duplicate_digits(noisy.X, duplicates)"),),
        tests=S35A),
    Bug("s35a-rj-bound-strict", "rank-jump: without Theorem 3.5 the bound is rank < min(n_1, distinct) (strict)",
        (_p("theory_lab/demos/_rank_jump.py", "return p.rank <= p.expected", "return p.rank < p.expected"),),
        tests=S35A),
    Bug("s35a-rj-figure-plots-expected", "rank-jump: the figure's left panel plots the predicted rank, not the measured",
        (_p("theory_lab/demos/_rank_jump.py", "left.scatter(x, [p.rank for p in pts]", "left.scatter(x, [p.expected for p in pts]"),),
        tests=S35A),
    Bug("s35a-rj-tolerance-line-absolute", "rank-jump: the figure's tolerance line is tol, not tol/σ_max (axis σ_min/σ_max)",
        (_p("theory_lab/demos/_rank_jump.py", "p.tol / p.sigma_max if p.sigma_max > 0 else np.nan",
            "p.tol if p.sigma_max > 0 else np.nan"),),
        tests=S35A),
    Bug("s35a-cp-wide-T-off-by-one", "critical-points: the wide net's T = N // 36 + 1 (one filter too many at N = 36·T)",
        (_p("theory_lab/demos/_critical_points.py", "T = math.ceil(N / 36) if filters is None",
            "T = N // 36 + 1 if filters is None"),),
        tests=S35A),
    Bug("s35a-cp-explanation-min-residual", "critical-points: the explanation's bound 'all with ‖r‖/‖Y‖ ≤ x' quotes the "
        "smallest residual",
        (_p("theory_lab/demos/_critical_points.py", "max(p.relative_residual for p in inside)",
            "min(p.relative_residual for p in inside)"),),
        tests=S35A),
    Bug("s35a-cp-band-top-dropped", "critical-points: the figure's undecided band stops at the zero-loss line",
        (_p("theory_lab/demos/_critical_points.py", 'ZERO_RESIDUAL_RTOL * ZERO_RESIDUAL_BAND, color="0.85"',
            'ZERO_RESIDUAL_RTOL, color="0.85"'),),
        tests=S35A),
    Bug("s35a-cp-fill-swapped", "critical-points: markers in S_1 hollow and outside S_1 filled (legend says the reverse)",
        (_p("theory_lab/demos/_critical_points.py", 'facecolors=color if inside else "none"',
            'facecolors="none" if inside else color'),),
        tests=S35A),
    Bug("s35a-cp-title-strict", "critical-points: the figure's title calls n_1 = N narrow ('<')",
        (_p("theory_lab/demos/_critical_points.py", "'≥' if w[1] >= result.N else '<'", "'≥' if w[1] > result.N else '<'"),),
        tests=S35A),
    Bug("s35a-cp-progress-from-zero", "critical-points: progress counts runs from 0 (never reports total of total)",
        (_p("theory_lab/demos/_critical_points.py", "for done, (net, mode, i) in enumerate(plan, 1):",
            "for done, (net, mode, i) in enumerate(plan):"),),
        tests=S35A),

    # session 35 (helper b): the spectra and slices demos, the `demo` command
    Bug("s35b-grid-sign", "slices: loss_on_grid evaluates Φ(θ − coords @ V) (every slice and the plane mirrored)",
        (_p("theory_lab/demos/_slices.py", "theta + c @ V", "theta - c @ V"),),
        tests=S35B),
    Bug("s35b-random-not-unit", "slices: the random direction left unnormalised (‖v‖ ≈ √P, not 1)",
        (_p("theory_lab/demos/_slices.py", "rnd / np.linalg.norm(rnd)", "rnd"),),
        tests=S35B),
    Bug("s35b-curvature-point-index", "slices: each slice's curvature is curv[i] (the point's index), not curv[d]",
        (_p("theory_lab/demos/_slices.py", "curv[d]))", "curv[i]))"),),
        tests=S35B_SLICES),
    Bug("s35b-narrow-data-seed", "slices: the narrow net's digits drawn with seed 0 whatever `seed`",
        (_p("theory_lab/demos/_slices.py", "ds = data.digits(N, noise=NOISE, seed=seed)",
            "ds = data.digits(N, noise=NOISE, seed=0)"),),
        tests=S35B),
    Bug("s35b-narrow-same-start", "slices: every narrow-net start drawn from the same key (retries are one start)",
        (_p("theory_lab/demos/_slices.py", "np.random.default_rng([seed, 1, 0, i])",
            "np.random.default_rng([seed, 1, 0])"),),
        tests=S35B_SLICES),
    Bug("s35b-narrow-accepts-degenerate", "slices: the narrow net's point accepted when it is not a saddle "
        "(a degenerate point passes as a strict minimum)",
        (_p("theory_lab/demos/_slices.py", 'if res.kind == "minimum" and res.inertia.conclusive:',
            'if res.kind != "saddle" and res.inertia.conclusive:'),),
        tests=S35B),
    Bug("s35b-slq-stairs-per-probe", "spectra figure: SLQ counts not divided by num_probes (num_probes × P in all)",
        (_p("theory_lab/demos/_spectra.py", "weights=d.weights.ravel() * result.P / d.num_probes",
            "weights=d.weights.ravel() * result.P"),),
        tests=S35B),
    Bug("s35b-nan-margin-in-json", "spectra: an SLQ point's NaN margin left in the payload (not JSON)",
        (_p("theory_lab/demos/_spectra.py",
            '        elif out["margin"] is not None and math.isnan(out["margin"]):  # SLQ: no margin; NaN is not JSON\n'
            '            out["margin"] = None\n', ""),),
        tests=S35B_S30),
    Bug("s35b-relative-loss-unsquared", "spectra/slices: landmarks' relative_loss is ‖r‖/‖Y‖, not its square",
        (_p("theory_lab/demos/_spectra.py", '"relative_loss": relative ** 2,', '"relative_loss": relative,'),),
        tests=S35B),
    Bug("s35b-table-lambda-min-last", "demo spectra: the table's λ_min column shows the largest exact eigenvalue",
        (_p("theory_lab/commands/demo.py", "float(s.eigenvalues[0])", "float(s.eigenvalues[-1])"),),
        tests=S35B),
    Bug("s35b-spectra-seed-dropped", "demo spectra: --seed not passed on (always seed 0)",
        (_p("theory_lab/commands/demo.py", "result = demos.spectra(n, seed=seed, progress=progress)",
            "result = demos.spectra(n, progress=progress)"),),
        tests=S35B),
    Bug("s35b-slices-starts-ignored", "demo slices: --starts ignored (always 12)",
        (_p("theory_lab/commands/demo.py", "starts=12 if starts is None else starts", "starts=12"),),
        tests=S35B),
    Bug("s35b-starts-max-off-by-one", "demo: --starts 1000 (the documented maximum) refused",
        (_p("theory_lab/commands/demo.py", "starts is not None and starts > MAX_REPEATS",
            "starts is not None and starts >= MAX_REPEATS"),),
        tests=S35B),
    Bug("s35b-seed-max-off-by-one", "demo: --seed 2**32 − 1 (the documented maximum) refused",
        (_p("theory_lab/commands/demo.py", "if not 0 <= seed <= SEED_MAX:", "if not 0 <= seed < SEED_MAX:"),),
        tests=S35B),
    Bug("s35b-demo-writes-in-place", "demo: the three files written one by one in place (not all or none)",
        (_p("theory_lab/commands/demo.py",
            "write_outputs({out / file_name: content for file_name, content in files.items()})",
            '[(out.mkdir(parents=True, exist_ok=True), (out / f).write_bytes(c if isinstance(c, bytes) else '
            'c.encode("utf-8"))) for f, c in files.items()]'),),
        tests=S32_OUTPUTS),


    # session 35 (s35c-*): strategies.py, data_strategies.py and testing.py had no mutant; slips there mostly NARROW
    # what is drawn, and every property test still passes (docs/planted_bugs.md "Session 35 — mutation pass:
    # strategies, data_strategies, testing")
    Bug("s35c-wide-edge-never", "strategies.networks: the wide target is ⌊c·N⌋ + 1 (`>` for `≥`): the documented "
        "edge n_k = ⌈c·N⌉ (n_k = N at c = 1) is never drawn",
        (_p("theory_lab/strategies.py", "target = int(math.ceil(min_ratio * N)) + int(math.ceil(step * N))",
            "target = int(math.floor(min_ratio * N)) + 1 + int(math.ceil(step * N))"),),
        tests=S35C),
    Bug("s35c-after-one-short", "strategies.networks: at most `after` − 1 dense layers drawn between k and the output",
        (_p("theory_lab/strategies.py", "for _ in range(draw(st.integers(0, after))):",
            "for _ in range(draw(st.integers(0, after - 1))):"),),
        tests=S35C),
    Bug("s35c-stride-one-draw", "strategies._conv: one stride drawn for every axis (a 2-D conv is never strided "
        "(1, 2) or (2, 1))",
        (_p("theory_lab/strategies.py", "    stride = tuple(draw(st.sampled_from((1, 2))) if n > 2 else 1 for n in spatial)",
            "    s = draw(st.sampled_from((1, 2)))\n    stride = tuple(s if n > 2 else 1 for n in spatial)"),),
        tests=S35C),
    Bug("s35c-no-dense-before-conv-k", "strategies.networks: a conv network never draws a dense layer before k (the "
        "conv-then-dense family, where layer k is dense, is gone)",
        (_p("theory_lab/strategies.py", 'extra = ["dense"] if not pooling else', 'extra = [] if not pooling else'),),
        tests=S35C),
    Bug("s35c-resolvable-no-patch-length", "strategies.resolvable: a patch's directions not capped by its length l "
        "(only by its receptive field and the narrowest layer)",
        (_p("theory_lab/strategies.py", "dims = np.minimum(np.minimum(per_patch.sum(axis=1), idx.shape[1]), e)",
            "dims = np.minimum(per_patch.sum(axis=1), e)"),),
        tests=S35C),
    Bug("s35c-resolvable-tile-channels", "strategies.resolvable: a conv layer's receptive fields laid out channel-major "
        "(np.tile) while neurons are position-major ((p−1)T + t)",
        (_p("theory_lab/strategies.py", "np.repeat(per_patch, info.T, axis=0)", "np.tile(per_patch, (info.T, 1))"),),
        tests=S35C),
    Bug("s35c-bias-scale-first", "strategies.parameters: the first bias scale always used (the menu ignored)",
        (_p("theory_lab/strategies.py", "bias_scale=draw(st.sampled_from(scales))", "bias_scale=scales[0]"),),
        tests=S35C),
    Bug("s35c-setups-bias-mean-dropped", "strategies.setups: `bias_mean` not passed to parameters (biases centred "
        "at 0 whatever was asked)",
        (_p("theory_lab/strategies.py",
            "params = draw(parameters(net.arch, laws=laws, bias_laws=bias_laws, bias_mean=bias_mean))",
            "params = draw(parameters(net.arch, laws=laws, bias_laws=bias_laws))"),),
        tests=S35C),
    Bug("s35c-shared-patch-same-position", "data_strategies: shared_patch copies a patch to the same position of "
        "another sample (p = q, one draw reused): cross-position repeats never drawn",
        (_p("theory_lab/data_strategies.py", "p, q = rng.choice(full, 2, replace=full.size < 2)",
            "p = q = rng.choice(full)"),),
        tests=S35C),
    Bug("s35c-digits-upscale-floor", "data_strategies.digit_crops: the 8×8 images upscaled by ⌊size/8⌋ (a 9…15-wide "
        "2-D crop is larger than the image)",
        (_p("theory_lab/data_strategies.py", "f = max(1, -(-max(spatial) // 8))", "f = max(1, max(spatial) // 8)"),),
        tests=S35C),
    Bug("s35c-msv-negative-accepted", "testing.matrix_with_singular_values: negative singular values accepted "
        "(A has |s| as singular values)",
        (_p("theory_lab/testing.py", "if s.ndim != 1 or s.size > min(m, n) or np.any(s < 0):",
            "if s.ndim != 1 or s.size > min(m, n):"),),
        tests=S35C),
    Bug("s35c-allclose-rtol-of-a", "testing.tree_allclose: the relative tolerance taken of |a| (documented: |b|)",
        (_p("theory_lab/testing.py", "bound = atol + rtol * np.abs(b)", "bound = atol + rtol * np.abs(a)"),),
        tests=S35C),
    Bug("s35c-complex64-tols", "testing.tolerances: complex64 (itemsize 8 bytes) gets float64's tight tolerances",
        (_p("theory_lab/testing.py", "np.float64 if dtype.itemsize >= 16 else np.float32",
            "np.float64 if dtype.itemsize >= 8 else np.float32"),),
        tests=S35C),
    Bug("s35c-smooth-orders-short", "testing.probe_activation: derivatives up to order 2 only (a jump in the third "
        "derivative missed, so a C² spline passes as analytic)",
        (_p("theory_lab/testing.py", "    for _ in range(orders):\n        fs.append(jax.grad(fs[-1]))",
            "    for _ in range(orders - 1):\n        fs.append(jax.grad(fs[-1]))"),),
        tests=S35C),
    Bug("s35c-clause-none-unchecked", "testing.declaration_disagreements: Assumption 3.2 declared without a clause "
        "not reported",
        (_p("theory_lab/testing.py",
            '    if act.clause is None and act.assumption_3_2:\n'
            '        out.append(f"{act.name}: Assumption 3.2 declared without a clause")\n', ""),),
        tests=S35C),

    # session 35 (f): the critical-point search's damping ladder, gain-ratio test and Newton phase, the inertia's
    # Newton step, validate's predicates
    Bug("s35f-crit-newton-step-sign", "critical: the damped Newton step (mode minimum) taken with the wrong sign",
        (_p("theory_lab/critical.py", "            dq = -gq / d\n", "            dq = gq / d\n"),), tests=S35F),
    Bug("s35f-crit-newton-shift-sign", "critical: Newton's convexifying shift uses +min(w) (a negative eigenvalue "
        "is left unshifted)",
        (_p("theory_lab/critical.py", "shift = jnp.maximum(0.0, -jnp.min(w))", "shift = jnp.maximum(0.0, jnp.min(w))"),), tests=S35F),
    Bug("s35f-crit-accept-flat-or", "critical._accept: a smaller gradient accepts a step whatever the merit did "
        "(flat | smaller for flat & smaller)",
        (_p("theory_lab/critical.py", "(flat & (gnorm_c < gnorm))", "(flat | (gnorm_c < gnorm))"),), tests=S35F),
    Bug("s35f-crit-accept-pred-unchecked", "critical._accept: pred > 0 not required (a predicted rise over an actual "
        "rise passes as ρ > 0)",
        (_p("theory_lab/critical.py", "& (pred > 0) & ", "& "),), tests=S35F),
    Bug("s35f-crit-best-first-accepted", "critical._search: the first accepted step of a rung wins, not the lowest merit",
        (_p("theory_lab/critical.py", "best = jnp.argmin(jnp.where(oks, merits, jnp.inf))", "best = jnp.argmax(oks)"),), tests=S35F),
    Bug("s35f-crit-best-ignores-refusal", "critical._search: the lowest merit of a rung wins even when refused",
        (_p("theory_lab/critical.py", "best = jnp.argmin(jnp.where(oks, merits, jnp.inf))", "best = jnp.argmin(merits)"),), tests=S35F),
    Bug("s35f-crit-ladder-trials-one", "critical._search: a rung counts one trial, not three (thirty rungs, λ to 1e90)",
        (_p("theory_lab/critical.py", '"trials": s["trials"] + ladder.size', '"trials": s["trials"] + 1'),), tests=S35F),
    Bug("s35f-crit-ladder-rung-le", "critical._search: rungs while trials <= _MAX_TRIALS (an eleventh rung)",
        (_p("theory_lab/critical.py", '(s["trials"] < _MAX_TRIALS)', '(s["trials"] <= _MAX_TRIALS)'),), tests=S35F),
    Bug("s35f-crit-rung-1e2", "critical: rungs 1e2 apart, not 1e3 (λ only up to 1e18 times its start)",
        (_p("theory_lab/critical.py", "_RUNG = 1e3\n", "_RUNG = 1e2\n"),), tests=S35F),
    Bug("s35f-crit-damping-inverted", "critical._search: λ doubled after a very good step and cut to a third after "
        "a poor one",
        (_p("theory_lab/critical.py", "jnp.where(rho > 0.75, 1.0 / 3.0, jnp.where(rho > 0.25, 1.0, 2.0))",
            "jnp.where(rho > 0.75, 2.0, jnp.where(rho > 0.25, 1.0, 1.0 / 3.0))"),), tests=S35F),
    Bug("s35f-crit-settle-off-by-one", "critical: Newton after six settled ratios, not five (len > _SETTLE)",
        (_p("theory_lab/critical.py", "len(ratios) >= _SETTLE", "len(ratios) > _SETTLE"),), tests=S35F),
    Bug("s35f-crit-settle-any", "critical: Newton once any of the last five loss ratios exceeds 0.95 (max for min)",
        (_p("theory_lab/critical.py", "min(ratios[-_SETTLE:]) > 0.95", "max(ratios[-_SETTLE:]) > 0.95"),),
        tests=S35F),
    Bug("s35f-inertia-pinv-positive-only", "critical_inertia: H⁺ keeps the eigenvalues above +tol only (w > tol, "
        "no abs): no Newton step along negative curvature",
        (_p("theory_lab/curvature_report.py", "keep = np.abs(w) > tol", "keep = w > tol"),), tests=S35F),
    Bug("s35f-inertia-newton-sign", "critical_inertia: the Newton step δ = +H⁺∇Φ",
        (_p("theory_lab/curvature_report.py", "delta = Q[:, keep] @ (-gq[keep] / w[keep])",
            "delta = Q[:, keep] @ (gq[keep] / w[keep])"),),
        tests=S35F + ("tests/test_critical_inertia_s31.py",)),
    Bug("s35f-validate-integer-float", "validate.is_integer: a float passes (3.0 is an integer)",
        (_p("theory_lab/validate.py", "return isinstance(value, (int, np.integer)) and",
            "return isinstance(value, (int, float, np.integer)) and"),),
        tests=S35F),
    Bug("s35f-validate-real-bool", "validate.is_real: True passes as the number 1",
        (_p("theory_lab/validate.py",
            "return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))",
            "return isinstance(value, (int, float, np.integer, np.floating))"),), tests=S35F),
    Bug("s35f-validate-real-complex", "validate.is_real: any numpy number passes (np.complex128)",
        (_p("theory_lab/validate.py", "isinstance(value, (int, float, np.integer, np.floating))",
            "isinstance(value, (int, float, np.number))"),),
        tests=S35F),
    Bug("s35f-validate-finite-neg-inf", "validate.all_finite: a < inf test (NaN and +Inf caught, -Inf passes)",
        (_p("theory_lab/validate.py", "    return bool(np.all(np.isfinite(np.asarray(a))))",
            "    return bool(np.all(np.asarray(a) < np.inf))"),), tests=S35F),
    Bug("s35f-validate-numeric-bool-refused", "validate.numeric_array: bool arrays refused (a custom loss's binary "
        "targets with them)",
        (_p("theory_lab/validate.py", 'if arr.dtype.kind not in "biufc":', 'if arr.dtype.kind not in "iufc":'),),
        tests=S35F),
    Bug("s35l-noise-bool-read-as-one", "options.non_negative: True read as the noise level 1.0 (the bool guard dropped)",
        (_p("theory_lab/commands/options.py", 'number = float("nan") if isinstance(value, bool) else float(value)',
            "number = float(value)"),), tests=("tests/test_lead_s35.py",)),
    Bug("s35l-inception-size-unchecked", "zoo.inception: size not checked first (True read as 1; a small size "
        "fails deep in the graph naming a kernel, not size)",
        (_p("theory_lab/zoo/graph.py", "            if not is_integer(size) or size < 1:",  # session 38: the guard
            "            if False:"),                                                     # moved to graph.sized
         _p("theory_lab/zoo/graph.py", "            except ShapeError as err:",
            "            except ZeroDivisionError as err:"),), tests=("tests/test_lead_s35.py",)),
    # Session 38 (lead): the guards of tests/test_hardening_s38.py, each dropped or weakened.
    Bug("s38-zoo-size-type-unchecked", "zoo.graph.sized: a bool or float size read as a number (the type guard dropped)",
        (_p("theory_lab/zoo/graph.py", "            if not is_integer(size) or size < 1:",
            "            if size < 1:"),), tests=S38),
    Bug("s38-window-error-not-a-shape-error", "zoo.ops: a window larger than its input raises a plain ValueError, so "
        "sized never names size",
        (_p("theory_lab/zoo/ops.py", "            raise ShapeError(\n                f\"{where}: `kernel`",
            "            raise ValueError(\n                f\"{where}: `kernel`"),), tests=S38),
    Bug("s38-vgg-config-unhashable", "zoo.vgg: a list config reaches the dict lookup (unhashable type: 'list')",
        (_p("theory_lab/zoo/classic.py", "if not isinstance(config, str) or config not in VGG_CONFIGS:",
            "if config not in VGG_CONFIGS:"),), tests=S38),
    Bug("s38-resnet-float-depth", "zoo.resnet: depth 50.0 builds 'resnet-50.0' (the int guard dropped)",
        (_p("theory_lab/zoo/classic.py", "if not is_integer(depth) or depth not in RESNET_BLOCKS:",
            "if depth not in RESNET_BLOCKS:"),), tests=S38),
    Bug("s38-conv10-pad-unchecked", "zoo.squeezenet: conv10_pad not checked (conv10's padding blamed instead)",
        (_p("theory_lab/zoo/classic.py", "if not is_integer(conv10_pad) or conv10_pad < 0:", "if False:"),), tests=S38),
    Bug("s38-flatten-float32-promoted", "layout: one float32 leaf promoted to float64 by the concatenation",
        (_p("theory_lab/layout.py", "            require_float64(a, f\"params['layer_{leaf.k}']['{leaf.name}']\")",
            "            pass"),), tests=S38),
    Bug("s38-flatten-leaf-not-array", "layout: a list or None leaf crashes with AttributeError",
        (_p("theory_lab/layout.py", '            if not hasattr(a, "shape") or not hasattr(a, "dtype"):',
            "            if False:"),), tests=S38),
    Bug("s38-run-check-types-unchecked", "checking.run_check: a text verdict or margin is not reported as a wrong type",
        (_p("theory_lab/checking.py", "wrong = _wrong_type(result) or _contradiction(result)",
            "wrong = _contradiction(result)"),), tests=S38),
    Bug("s38-sample-scale-bool", "sampling.sample_params: scale=True read as 1.0",
        (_p("theory_lab/sampling.py", "        if not is_real_scalar(value):", "        if value is None:"),), tests=S38),
    Bug("s38-krylov-v0-unchecked", "krylov.start: a zero or NaN v0 normalised to NaN without a word",
        (_p("theory_lab/krylov.py", "else start_vector(v0, dim)", "else np.asarray(v0, np.float64)"),), tests=S38),
    Bug("s38-inertia-band-bool", "linalg.inertia_report: band=True accepted as the factor 1",
        (_p("theory_lab/linalg.py", "if not (is_real_scalar(band) and np.isfinite(band) and band >= 1):",
            "if not (np.isfinite(band) and band >= 1):"),), tests=S38),
    Bug("s38-tolerance-band-bool", "tolerances.Tolerance: band=True accepted as the factor 1",
        (_p("theory_lab/tolerances.py", "if not (is_real_scalar(self.band) and np.isfinite(self.band)",
            "if not (np.isfinite(self.band)"),), tests=S38),
    Bug("s38b-layer-size-none", "layers: Conv(2, None) fails with 'NoneType' object is not iterable (guard dropped)",
        (_p("theory_lab/layers.py", 'if value is None or isinstance(value, (dict, set, frozenset)) or not hasattr(value, "__iter__"):',
            "if False:"),), tests=S38B),
    Bug("s38b-gaussian-n-none", "data.gaussian: n=None read as 10**9 samples",
        (_p("theory_lab/data.py", "    if n is None:  # _check_n reads None", "    if False:  # _check_n reads None"),),
        tests=S38B),
    Bug("s38b-distinct-patches-size-only", "data.check_distinct_patches: X of the right size but another shape accepted",
        (_p("theory_lab/data.py", "X.shape[1:] not in (tuple(arch.input_shape), (arch.d,))", "X[0].size != arch.d"),),
        tests=S38B),
    Bug("s38b-exact-fit-empty-F", "exact_fit: an empty F reports an exact fit",
        (_p("theory_lab/exact_fit.py", "    if not F.size:", "    if False:"),), tests=S38B),
    Bug("s38b-exact-fit-arch-unchecked", "exact_fit: parameter_counts/with_output_layer(None) raise AttributeError",
        (_p("theory_lab/exact_fit.py", "    if not isinstance(arch, Architecture):", "    if False:"),), tests=S38B),
    Bug("s38b-default-k-arch-unchecked", "critical.default_k(None) raises AttributeError",
        (_p("theory_lab/critical.py", "    if not isinstance(arch, Architecture):  # None gave", "    if False:  # None gave"),),
        tests=S38B),
    Bug("s38b-classify-truthy", "critical.find_critical_point: classify='no' read as True",
        (_p("theory_lab/critical.py", "if classify is not None and not isinstance(classify, (bool, np.bool_)):",
            "if False:"),), tests=S38B),
    Bug("s38b-load-theta-layout-unchecked", "params_io.load_theta: an Architecture for the layout raises AttributeError",
        (_p("theory_lab/params_io.py", "    _check_layout(layout)\n    path = Path(path)", "    path = Path(path)"),),
        tests=S38B),
    Bug("s38b-check-finite-text", "params_io.check_finite: None or text fails inside numpy's isfinite",
        (_p("theory_lab/params_io.py", 'theta = np.asarray(numeric_array(theta, "theta"))', "theta = np.asarray(theta)"),),
        tests=S38B),
    Bug("s38b-check-finite-shape", "params_io.check_finite: a (1, P) theta searched as flat",
        (_p("theory_lab/params_io.py", "if theta.shape != (layout.P,):  # a (1, P)", "if False:  # a (1, P)"),), tests=S38B),
    Bug("s38b-write-all-non-dict", "report.write_all_atomic: a list of pairs raises AttributeError",
        (_p("theory_lab/report.py", "    if not isinstance(files, dict):", "    if False:"),), tests=S38B),
    Bug("s38b-report-seed-unchecked", "report: seed 1.5 shown as 1, None fails inside int()",
        (_p("theory_lab/report.py", "    if not is_integer(seed):", "    if False:"),), tests=S38B),
    Bug("s38b-check-data-obj-unchecked", "objective.check_data(None, X) raises AttributeError",
        (_p("theory_lab/objective.py", "    if not isinstance(obj, Objective):  # None gave", "    if False:  # None gave"),),
        tests=S38B),
    Bug("s38b-check-data-lists", "objective.check_data: list X/Y raise AttributeError, text fails late",
        (_p("theory_lab/objective.py", '    X, Y = numeric_array(X, name), (None if Y is None else numeric_array(Y, "Y"))',
            "    pass"),), tests=S38B),
    Bug("s38b-check-finite-data-lists", "objective.check_finite_data: a list raises AttributeError",
        (_p("theory_lab/objective.py", "a = a if a is None or isinstance(a, jax.core.Tracer) else numeric_array(a, label)",
            "a = a"),), tests=S38B),
    Bug("s38b-check-vector-text", "Objective.check_vector: text fails inside jnp.asarray",
        (_p("theory_lab/objective.py", 'v = jnp.asarray(numeric_array(v, "v"))', "v = jnp.asarray(v)"),), tests=S38B),
    Bug("s38b-residual-targets-text", "Objective.residual_targets: text fails inside jnp.asarray",
        (_p("theory_lab/objective.py", 'Y = jnp.asarray(numeric_array(Y, "Y"))  # text gave', "Y = jnp.asarray(Y)  # text gave"),),
        tests=S38B),
    # Session 38 (helper a): the guards of tests/test_hardening_s38a.py, each dropped or weakened.
    Bug("s38a-operator-dim-bool", "operators.check_operator: dim=True read as 1 (the old isinstance-int guard)",
        (_p("theory_lab/operators.py", "    if not is_integer(dim) or dim < 1:  # True passed",
            "    if not isinstance(dim, (int, np.integer)) or dim < 1:  # True passed"),), tests=S38A),
    Bug("s38a-products-dim-unchecked", "operators.products: dim not checked (True blamed V's shape)",
        (_p("theory_lab/operators.py", "driver, dim = driver_for() if driver is None else driver, _check_dim(dim)",
            "driver, dim = driver_for() if driver is None else driver, dim"),), tests=S38A),
    Bug("s38a-dense-dim-unchecked", "operators.dense: dim read with int() (2.5 ran, None a bare TypeError)",
        (_p("theory_lab/operators.py", "    dim = _check_dim(dim)\n", "    dim = int(dim)\n"),), tests=S38A),
    Bug("s38a-products-V-dtype", "operators.products: a float32 or bool V promoted silently",
        (_p("theory_lab/operators.py", "    if V.dtype != np.float64:  # a float32", "    if False:  # a float32"),),
        tests=S38A),
    Bug("s38a-products-V-empty-nan", "operators.products: an empty V fails in numpy's stack, a NaN V gives NaN",
        (_p("theory_lab/operators.py", "if np.shape(V)[:1] == (0,) or not all_finite(V):", "if False:"),), tests=S38A),
    Bug("s38a-lanczos-depth-float", "spectrum.lanczos: num_matvecs=4.0 and max_matvecs=5.5 truncated by int()",
        (_p("theory_lab/spectrum.py", "        if value is not None and not is_integer(value):",
            "        if False:"),), tests=S38A),
    Bug("s38a-inertia-exact-max", "spectrum.inertia: exact_max not checked (True, 2.5, -1 read as numbers)",
        (_p("theory_lab/spectrum.py", "    if not is_integer(exact_max) or exact_max < 0:", "    if False:"),),
        tests=S38A),
    Bug("s38a-inertia-density-type", "spectrum.inertia: density=3 fails with an AttributeError",
        (_p("theory_lab/spectrum.py", "    if density is not None and not isinstance(density, Density):",
            "    if False:"),), tests=S38A),
    Bug("s38a-lanczos-nan-unnamed", "spectrum.lanczos: a NaN operator ends in scipy's bare 'infs or NaNs' error",
        (_p("theory_lab/spectrum.py", '        check_finite(K, "lanczos")', "        pass"),), tests=S38A),
    Bug("s38a-slq-nan-unnamed", "density.slq_density: a NaN operator ends in scipy's bare 'infs or NaNs' error",
        (_p("theory_lab/density.py", '        check_finite(K, "slq_density")', "        pass"),), tests=S38A),
    Bug("s38a-trace-nan-silent", "trace: a NaN operator gives a NaN estimate without a word",
        (_p("theory_lab/trace.py", 'def _finite(est, method: str = ""):',
            'def _finite(est, method: str = ""):\n    return est'),), tests=S38A),
    Bug("s38a-check-symmetric-none", "density.check_symmetric: None fails with an AttributeError",
        (_p("theory_lab/density.py", "    if not isinstance(K, krylov.Krylov):", "    if False:"),), tests=S38A),
    Bug("s38a-density-point-bool", "Density.mass/cdf/fraction_below: True read as 1.0, text a ufunc error",
        (_p("theory_lab/density.py", "    if not is_real_scalar(x) or np.isnan(x) or (np.isinf(x) and not infinite):",
            "    if x is None or np.isnan(x) or (np.isinf(x) and not infinite):"),), tests=S38A),
    Bug("s38a-density-closed-unchecked", "Density.mass: closed='no' read as True",
        (_p("theory_lab/density.py", "        if not isinstance(closed, (bool, np.bool_)):", "        if False:"),),
        tests=S38A),
    Bug("s38a-quantile-range-unchecked", "Density.quantile: q=1.5 or NaN answered with an end node",
        (_p("theory_lab/density.py", "        if not is_real_scalar(q) or not 0.0 <= q <= 1.0:",
            "        if not is_real_scalar(q):"),), tests=S38A),
    Bug("s38a-real-vector-float32", "density.exact_density/wasserstein1: None read as NaN, bools as 1/0, float32 "
        "promoted",
        (_p("theory_lab/density.py", '    a = float64_values(a, name, f" ({hint})")',
            "    a = np.asarray(a, dtype=np.float64)"),), tests=S38A),
    Bug("s38a-batches-none-shape", "batching.batches: X=None reported as shape ()",
        (_p("theory_lab/batching.py", 'X, Y = np.asarray(numeric_array(X, "X")), np.asarray(numeric_array(Y, "Y"))',
            "X, Y = np.asarray(X), np.asarray(Y)"),), tests=S38A),
    Bug("s38a-as-batches-none", "batching.as_batches: X=None fails inside jnp.asarray",
        (_p("theory_lab/batching.py", 'X, Y = jnp.asarray(numeric_array(X, "X")), jnp.asarray(numeric_array(Y, "Y"))',
            "X, Y = jnp.asarray(X), jnp.asarray(Y)"),), tests=S38A),
    Bug("s38a-from-iterable-none", "batching.from_iterable: None fails with 'not iterable'",
        (_p("theory_lab/batching.py",
            "    if not isinstance(pairs, Iterable) or isinstance(pairs, (str, bytes, np.ndarray, jax.Array)):",
            "    if False:"),), tests=S38A),
    Bug("s38a-sum-over-array", "batching.sum_over/map_over: an array fails with an AttributeError",
        (_p("theory_lab/batching.py", "    if not isinstance(data, Batches):  # an array", "    if False:  # an array"),),
        tests=S38A),
    Bug("s38a-batch-size-unchecked", "batching.batch_size: memory, factor and N not checked (unread on CPU)",
        (_p("theory_lab/batching.py", '    for arg, value in (("N", N), ("memory", memory), ("factor", factor)):',
            "    for arg, value in ():"),), tests=S38A),
    Bug("s38a-map-basis-unchecked", "batching.map_basis: batch=True or 0 accepted, 2.0 fails in lax.map",
        (_p("theory_lab/batching.py", '    for arg, value in (("size", size), ("batch", batch)):',
            "    for arg, value in ():"),), tests=S38A),
    Bug("s38a-objective-type", "jacobians/stopping: an Architecture for obj fails with an AttributeError",
        (_p("theory_lab/jacobians.py", "    if not isinstance(obj, Objective):", "    if False:"),), tests=S38A),
    Bug("s38a-sample-jacobian-theta32", "jacobians.sample_jacobian: a float32 θ gives a float32 J",
        (_p("theory_lab/jacobians.py", "    theta = obj.check_theta(theta)  # a float32", "    theta = theta  # a float32"),),
        tests=S38A),
    Bug("s38a-sample-jacobian-X-unchecked", "jacobians.sample_jacobian: a misshapen X fails in dot_general",
        (_p("theory_lab/jacobians.py", '        check_data(obj, jnp.asarray(numeric_array(X, "X")))', "        pass"),),
        tests=S38A),
    Bug("s38a-jacobian-X-none", "jacobians.jacobian: X=None fails inside jnp.asarray",
        (_p("theory_lab/jacobians.py", '        X = jnp.asarray(numeric_array(X, "X"))', "        X = jnp.asarray(X)"),),
        tests=S38A),
    Bug("s38a-attaining-level-bool", "gradient_probes.attaining_point: level=True read as 1.0, text a ufunc error",
        (_p("theory_lab/gradient_probes.py", "if not (is_real(level) and is_real(scale) and np.isfinite(level)",
            "if not (np.isfinite(level)"),), tests=S38A),
    Bug("s38a-small-gradient-lr-bool", "gradient_probes.small_gradient_search: lr=True read as 1.0",
        (_p("theory_lab/gradient_probes.py", "    if not is_real(lr) or not (np.isfinite(lr) and lr > 0):",
            "    if not (np.isfinite(lr) and lr > 0):"),), tests=S38A),
    Bug("s38a-wilson-counts-float", "rank_probes.wilson_interval: successes=True or 2.5 read as a count",
        (_p("theory_lab/rank_probes.py", "if not is_integer(trials) or trials <= 0 or not is_integer(successes) or "
            "not 0 <= successes <= trials:  # True: 1", "if trials <= 0 or not 0 <= successes <= trials:"),),
        tests=S38A),
    Bug("s38a-rank-frequency-X-none", "rank_probes.rank_frequency: X=None fails as 'tuple index out of range'",
        (_p("theory_lab/rank_probes.py", '    check_inputs(arch, numeric_array(X, "X"))', "    pass"),), tests=S38A),
    Bug("s38a-witness-alphas-text", "witness.construct_full_rank: alphas ('10', '40') fail late dividing",
        (_p("theory_lab/witness.py", "or not all(is_real(a) for a in alphas):",
            "or any(isinstance(a, bool) for a in alphas):"),), tests=S38A),
    Bug("s38a-witness-attempts-numpy", "witness.construct_full_rank: attempts=np.int64(2) refused",
        (_p("theory_lab/witness.py", "    if not is_integer(attempts) or attempts < 1:",
            "    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:"),), tests=S38A),
    Bug("s38a-n-in-bool", "generic_rank: n_in=True or 3.0 fails inside numpy",
        (_p("theory_lab/generic_rank.py", "    if not is_integer(n_in) or n_in < 1:", "    if False:"),), tests=S38A),
    Bug("s38a-patches-unchecked", "generic_rank: float or out-of-range patches not refused",
        (_p("theory_lab/generic_rank.py", '    if patches.ndim != 2 or patches.dtype.kind not in "iu" or patches.size '
            "and not -1 <= patches.min() <= \\\n            patches.max() < n_in:", "    if False:"),), tests=S38A),
    Bug("s38a-weight-matrix-W-shape", "generic_rank.weight_matrix: a misshapen W fails indexing",
        (_p("theory_lab/generic_rank.py", "    if W.ndim != 2 or W.shape[0] != patches.shape[1]:", "    if False:"),),
        tests=S38A),
    Bug("s38a-decide-T-bool", "generic_rank.decide: T=True read as one filter, covers='yes' as True",
        (_p("theory_lab/generic_rank.py", "    if not is_integer(k) or k < 1 or not is_integer(T) or T < 1 or "
            "not isinstance(covers, (bool, np.bool_)):", "    if False:"),), tests=S38A),
    Bug("s38a-identical-units-nan", "generic_rank.identical_units: NaN entries make every unit distinct",
        (_p("theory_lab/generic_rank.py", "    if U.ndim != 2 or b.shape != U.shape[1:] or not (np.all(np.isfinite(U)) "
            "and np.all(np.isfinite(b))):", "    if U.ndim != 2 or b.shape != U.shape[1:]:"),), tests=S38A),
    Bug("s38a-identical-units-float32", "generic_rank.identical_units: float32 U promoted silently",
        (_p("theory_lab/generic_rank.py", '    U, b = float64_values(U, "U") + 0.0, float64_values(b, "b") + 0.0',
            "    U, b = np.asarray(U, dtype=np.float64) + 0.0, np.asarray(b, dtype=np.float64) + 0.0"),), tests=S38A),
    Bug("s38a-near-duplicates-float32", "near_duplicates.near_duplicate_pairs: a float32 F promoted silently",
        (_p("theory_lab/near_duplicates.py", '    F = float64_values(F, "F") + 0.0',
            "    F = np.asarray(F, dtype=np.float64) + 0.0"),), tests=S38A),
    Bug("s38a-near-duplicates-empty", "near_duplicates.near_duplicate_pairs: no samples fails reshaping",
        (_p("theory_lab/near_duplicates.py", "or F.shape[0] == 0:  # N = 0", "or False:  # N = 0"),), tests=S38A),
    Bug("s38a-rank-arguments-k-bool", "forward_error.check_rank_arguments: k=True read as layer 1",
        (_p("theory_lab/forward_error.py", "    if not is_integer(k) or not 1 <= k <= arch.L - 1:",
            "    if not 1 <= k <= arch.L - 1:"),), tests=S38A),
    Bug("s38a-rank-arguments-report", "forward_error.check_rank_arguments: report=None fails with an AttributeError",
        (_p("theory_lab/forward_error.py", "    if report is not _UNSET and not isinstance(report, RankReport):",
            "    if False:"),), tests=S38A),
    Bug("s38a-rank-arguments-target", "forward_error.check_rank_arguments: target=True or 2.5 read as a rank",
        (_p("theory_lab/forward_error.py", "    if target is not _UNSET and (not is_integer(target) or target < 0):",
            "    if target is not _UNSET and target < 0:"),), tests=S38A),
    Bug("s38a-rank-arguments-fw", "forward_error.check_rank_arguments: fw=None fails with an AttributeError",
        (_p("theory_lab/forward_error.py", '    if fw is not _UNSET and not (hasattr(fw, "F")',
            '    if False and not (hasattr(fw, "F")'),), tests=S38A),
    Bug("s38a-forward-error-note-target", "forward_error.forward_error_note: target=True printed as σ_True, 0 read "
        "σ of the last index",
        (_p("theory_lab/forward_error.py", "    if not isinstance(report, RankReport) or not is_integer(k) or k < 1 or "
            "not is_integer(target) \\\n            or not 1 <= target <= report.singular_values.size:", "    if False:"),),
        tests=S38A),
    Bug("s38a-forward-error-note-bound", "forward_error.forward_error_note: bound=True printed as 1, NaN as 'nan'",
        (_p("theory_lab/forward_error.py", "    if not is_real_scalar(bound) or not 0 <= bound < np.inf:",
            "    if False:"),), tests=S38A),
    Bug("s38a-duplicate-samples-float32", "feature_maps.duplicate_samples: None, bool or float32 X read as numbers",
        (_p("theory_lab/feature_maps.py", '    X = float64_values(X, "X")  # None',
            "    X = np.asarray(X, dtype=np.float64)  # None"),), tests=S38A),
    Bug("s38a-duplicate-samples-empty", "feature_maps.duplicate_samples: no samples fails reshaping",
        (_p("theory_lab/feature_maps.py", "    if X.ndim < 1 or X.shape[0] == 0:", "    if X.ndim < 1:"),), tests=S38A),
    Bug("s38a-full-weight-matrix-params", "feature_maps.full_weight_matrix: params=None fails with 'not iterable'",
        (_p("theory_lab/feature_maps.py", "    if not isinstance(params, dict):  # None", "    if False:  # None"),),
        tests=S38A),
    Bug("s38a-full-weight-matrix-float32", "feature_maps.full_weight_matrix: a float32 W gives a float32 U_k",
        (_p("theory_lab/feature_maps.py", "        W = float64_values(W, f\"params['layer_{k}']['W']\")",
            "        W = W"),), tests=S38A),
    Bug("s38a-forward-upto-k", "feature_maps.forward_upto: k=True runs layer 1, 1.0 is refused as '`k`=2.0'",
        (_p("theory_lab/feature_maps.py", "    k = check_layer_index(arch, k, need_weights=False)  # True ran",
            "    pass  # True ran"),), tests=S38A),
    Bug("s38a-forward-upto-X-none", "feature_maps.forward_upto: X=None reported as dtype object",
        (_p("theory_lab/feature_maps.py", '    _model.check_inputs(arch, numeric_array(X, "X"))  # None',
            "    _model.check_inputs(arch, X)  # None"),), tests=S38A),
    Bug("s38a-float64-values-float32", "validate.float64_values: float32 arrays promoted silently",
        (_p("theory_lab/validate.py", '    if arr.dtype == np.bool_ or arr.dtype.kind in "fc" and arr.dtype != np.float64:',
            "    if arr.dtype == np.bool_:"),), tests=S38A),
    Bug("s39-gpu-loop-driver", "operators.DRIVERS: the GPU back on the loop driver (1.6x slower on an H200 at P = 5,130)",
        (_p("theory_lab/operators.py", 'DRIVERS = {"cpu": "host", "gpu": "host"}', 'DRIVERS = {"cpu": "host"}'),),
        tests=S39),
    Bug("s39-gpu-products-one-at-a-time", "operators.ONE_AT_A_TIME: the GPU makes many products one per call "
        "(the dense Hessian 155x slower on an H200)",
        (_p("theory_lab/operators.py", 'ONE_AT_A_TIME = ("cpu",)', 'ONE_AT_A_TIME = ("cpu", "gpu")'),), tests=S39),
    Bug("s39-products-default-from-the-driver", "operators.products: with no driver, the row-by-row choice read "
        "from an explicit driver only (CPU products batched)",
        (_p("theory_lab/operators.py", "row_by_row = one_at_a_time() if driver is None else driver in PYTHON_DRIVEN",
            "row_by_row = driver in PYTHON_DRIVEN"),), tests=S39),
    Bug("s39-materialize-from-the-driver", "spectrum.materialize: the one-column-per-call choice read from the "
        "Lanczos driver again (the GPU's dense Hessian one column per call)",
        (_p("theory_lab/spectrum.py", "if krylov.one_at_a_time() and not traced:",
            "if krylov.driver_for() in krylov.PYTHON_DRIVEN and not traced:"),), tests=S39),
]


def _apply(tree: Path, bug: Bug) -> None:
    for path, old, new in bug.patches:
        f = tree / path
        text = f.read_text()
        n = text.count(old)
        if n != 1:
            raise RuntimeError(f"bug {bug.id}: {path} contains the text to replace {n} times (expected once); "
                               "the library changed: update the patch.")
        f.write_text(text.replace(old, new))


def _copy(dest: Path, bug: Bug | None = None) -> None:
    for pkg in PACKAGES + (TEST_TREE if bug is not None and bug.tests else ()):
        shutil.rmtree(dest / pkg, ignore_errors=True)
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if bug is not None and bug.tests:
        shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _run_tests(bug: Bug, tree: Path, timeout: float) -> dict:
    """pytest on ``bug.tests`` in the planted copy: caught when it exits 1, by the tests it lists as failed."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *bug.tests]
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, timeout=timeout)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = None, "timed out"
    failed = sorted({line.split()[1].split("::")[-1] for line in out.splitlines() if line.startswith("FAILED ")})
    return {"rc": rc, "caught": rc == 1, "caught_by": failed, "tail": out[-800:]}


def _verdicts(results_json: Path) -> dict:
    if not results_json.exists():
        return {}
    return {r["id"]: r["verdict"] for r in json.loads(results_json.read_text())["checks"]}


def run_bug(bug: Bug, seed: int, baseline: dict, restrict: bool, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"plant-{bug.id}-") as tmp:
        tree = Path(tmp)
        _copy(tree, bug)
        _apply(tree, bug)
        if bug.tests:
            start = time.time()
            got = _run_tests(bug, tree, timeout)
            return {"id": bug.id, "what": bug.what, "seed": seed, "rc": got["rc"], "caught": got["caught"],
                    "caught_by": got["caught_by"], "changed": {}, "ran": list(bug.tests), "verdicts": {},
                    "seconds": round(time.time() - start, 1), "tail": got["tail"]}
        out = tree / "report"
        cmd = [sys.executable, "-c", "from theory_lab.cli import app; app()", "verify", "--strict", "--seed",
               str(seed), "--out", str(out)]
        if restrict and bug.checks:
            for c in bug.checks:
                cmd += ["--check", c]
        env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        start = time.time()
        try:
            proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout)
            rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        except subprocess.TimeoutExpired:
            rc, tail = None, "timed out"
        verdicts = _verdicts(out / "results.json")
    changed = {cid: [baseline.get(cid), v] for cid, v in verdicts.items() if baseline.get(cid) != v}
    caught_by = sorted(cid for cid, (_, v) in changed.items() if v not in ("holds", "measured"))
    ran = sorted(verdicts) if (restrict and bug.checks) else "all"
    return {"id": bug.id, "what": bug.what, "seed": seed, "rc": rc, "caught": rc not in (0, None),
            "caught_by": caught_by, "changed": changed, "ran": ran, "verdicts": verdicts,
            "seconds": round(time.time() - start, 1),
            "tail": tail[-800:]}


#: checks added by the planted-bug red team, and verdicts that come from hypotheses it strengthened:
#: what main's verify saw before is the rest (the table's last column)
NEW_CHECKS = {"layer-definition", "tolerance-rules", "assumption-3.1-predicate", "bad-critical-point-construction"}
STRENGTHENED = {"wide-layers-strict": {"theorem-3.4"},
                "sampling-float32-rounded": {"theorem-3.5", "theorem-3.5-default"}}


def table(rows: list[dict]) -> str:
    """One row per bug (the last run of each id wins), in :data:`BUGS` order."""
    last = {r["id"]: r for r in rows}
    order = [b.id for b in BUGS if b.id in last] + [i for i in last if i not in {b.id for b in BUGS}]
    lines = ["| bug | what | exit | caught by (verdict now) | checks run | seen without the new checks |",
             "|---|---|---|---|---|---|"]
    tests_of = {b.id: b.tests for b in BUGS}
    for i in order:
        r = last[i]
        if tests_of.get(i):  # caught by tests, not by verify's checks
            by = ", ".join(f"`{c}` (failed)" for c in r["caught_by"]) or "—"
            lines.append(f"| `{i}` | {r['what']} | {r['rc']} | {by} | pytest {', '.join(tests_of[i])} | – |")
            continue
        by = ", ".join(f"`{c}` ({r['changed'][c][1]})" for c in r["caught_by"]) or "—"
        ran = "all" if r["ran"] == "all" else f"{len(r['ran'])} (`--check`)"
        old = [c for c in r["caught_by"] if c not in NEW_CHECKS | STRENGTHENED.get(i, set())]
        lines.append(f"| `{i}` | {r['what']} | {r['rc']} | {by} | {ran} | {'yes' if old else '**no**'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="bug ids to plant (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline", type=Path, help="results.json of the unplanted verify at the same seed")
    ap.add_argument("--results", type=Path, default=Path("planted-bugs.jsonl"), help="one JSON line per bug (appended)")
    ap.add_argument("--restrict", action="store_true", help="run only the checks each bug lists (see module doc)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--dry-run", action="store_true", help="only check that every patch applies")
    ap.add_argument("--table", type=Path, help="print the markdown table of a results file and exit")
    ap.add_argument("--more", type=Path, nargs="*", default=[], help="later results files for --table (rerun ids win)")
    args = ap.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for f in [args.table, *args.more] for line in f.read_text().splitlines()
                if line.strip()]
        print(table(rows))
        return 0
    by_id = {b.id: b for b in BUGS}
    bugs = [by_id[i] for i in args.only if i in by_id] if args.only else list(BUGS)  # in the order given
    unknown = set(args.only or ()) - {b.id for b in BUGS}
    if unknown:
        ap.error(f"unknown bug ids {sorted(unknown)}; known: {', '.join(b.id for b in BUGS)}")
    if args.dry_run:
        with tempfile.TemporaryDirectory() as tmp:
            for b in bugs:
                _copy(Path(tmp), b)
                _apply(Path(tmp), b)
                print(f"ok {b.id}")
        return 0
    baseline = _verdicts(args.baseline) if args.baseline else {}
    for b in bugs:
        row = run_bug(b, args.seed, baseline, args.restrict, args.timeout)
        with args.results.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{b.id}: exit {row['rc']}, caught by {row['caught_by'] or '—'} ({row['seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
