"""Checks and probes of §3 (expressivity): Theorems 3.4 and 3.5, Corollary 3.6, and beyond.

* ``theorem-3.4`` — ReLU networks (one with max-pooling between layers 1 and ``k``) where
  random parameters lose rank: the proof's construction gives ``rank F_k = N`` with every
  ``U_l`` of full rank. ``theorem-3.4-converse``: identity activation (3.2 broken) caps the
  rank at ``d + 1 < N`` whatever the parameters.
* ``theorem-3.5`` — several absolutely continuous laws (LeCun normal, uniform, Gaussian,
  Glorot; Gaussian and uniform biases) on two analytic networks: ``rank F_k = N`` at every
  draw, smallest margin reported; a draw inside the tolerance band makes it inconclusive.
* ``corollary-3.6`` — arbitrary targets fitted exactly through the wide last hidden layer,
  with parameter counts; ``corollary-3.6-narrow`` shows a narrow layer cannot.
* Probes (measured frequencies with 95 % Wilson intervals, never pass/fail): ReLU and
  leaky ReLU against bias and width, tanh, tied bias, raw digits, max-pooling.

Everything runs on small instances (N ≤ 216) so the section stays within its time budget.
"""

from __future__ import annotations

import functools

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks.instances import N_DEFAULT, digits_instance, mnist1d_instance
from theory_lab import data as _data
from theory_lab import expressivity as ex
from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, decide

__all__ = ["CHECKS"]

PROBE_N = 100


def _digits(ctx: Context, n: int, noise: float = 1e-6):
    if n == N_DEFAULT and noise == 1e-6:  # the default instance's data, shared with the other sections
        return digits_instance(ctx).data
    return ctx.cached(("expressivity/digits", n, noise), lambda: _data.digits(n, noise=noise, seed=ctx.seed))


def _mnist1d(ctx: Context):
    return mnist1d_instance(ctx).data


def _prefixed(name: str, hyps) -> list[Hypothesis]:
    return [Hypothesis(f"{name}: {h.name}", h.met, h.detail) for h in hyps]


def _param_summary(params, upto: int) -> dict:
    out = {}
    for l in range(1, upto + 1):
        p = params.get(f"layer_{l}")
        if p is None:
            continue
        W = np.asarray(p["W"])
        row = {"W_shape": list(W.shape), "W_fro": float(np.linalg.norm(W))}
        if "b" in p:
            b = np.asarray(p["b"])
            row.update(b_min=float(b.min()), b_max=float(b.max()))
        out[f"layer_{l}"] = row
    return out


def _one_blas_thread(run):
    """Run a check with one BLAS thread (restored afterwards).

    These checks take many SVDs of matrices of a few hundred rows, which gain nothing from
    BLAS threads; on a loaded machine OpenBLAS's spinning threads made them ~10x slower.
    """
    @functools.wraps(run)
    def wrapped(ctx):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover (installed with scikit-learn)
            return run(ctx)
        with threadpool_limits(limits=1, user_api="blas"):
            return run(ctx)
    return wrapped


# --------------------------------------------------------------------------- Theorem 3.4

def _theorem_3_4_cases(ctx: Context):
    X = _digits(ctx, 216).X
    return [
        ("digits-216 relu, n_1 = N", Architecture((8, 8, 1), (Conv(6, (3, 3), activation="relu"),
                                                               Dense(32, activation="relu"), Output(10))), X, 1),
        ("digits-216 relu conv-pool-conv, n_3 = N", Architecture((8, 8, 1), (
            Conv(4, (3, 3), activation="relu"), MaxPool((2, 2)),
            Conv(24, (2, 2), padding="SAME", activation="relu"), Output(10))), X, 3),
    ]


def _theorem_3_4(ctx: Context) -> Result:
    hyps, evidence, margins = [], {}, []
    conclusion, conclusive = True, True
    for name, arch, X, k in _theorem_3_4_cases(ctx):
        ctx.progress(f"theorem-3.4: {name}")
        hs, _ = hyp.theorem_3_4(arch, X, k)
        hyps += _prefixed(name, hs)
        baseline = ex.rank_frequency(arch, X, k, draws=5, key=ctx.key(f"theorem-3.4/random/{name}"))
        w = ex.construct_full_rank(arch, X, k, key=ctx.key(f"theorem-3.4/search/{name}"))
        N = X.shape[0]
        conclusion &= w.report.rank == N and all(r.full_rank for r in w.U_reports.values())
        conclusive &= w.report.conclusive and all(r.conclusive for r in w.U_reports.values())
        margins += [w.report.margin] + [r.margin for r in w.U_reports.values()]
        evidence[name] = {"witness": w.to_dict(), "parameters": _param_summary(w.params, k),
                          "random_parameters": baseline.to_dict()}
    margin = min(margins)
    fails = {n: f"{e['random_parameters']['deficient']}/{e['random_parameters']['draws']}"
             for n, e in evidence.items()}
    return Result(decide(hyps, conclusion, conclusive), hyps, margin, evidence,
                  f"constructed parameters give rank F_k = N and full-rank U_l on {len(evidence)} ReLU networks "
                  f"(random parameters rank-deficient in {fails}); smallest margin {margin:.3g}")


def _theorem_3_4_converse(ctx: Context) -> Result:
    ds = _digits(ctx, 200)
    arch = Architecture((8, 8, 1), (Conv(6, (3, 3), activation="identity"), Output(1)))
    N, d = ds.N, arch.d
    w = ex.construct_full_rank(arch, ds.X, 1, key=ctx.key("theorem-3.4-converse"), attempts=2)
    r = w.report
    hyps = [Hypothesis("σ = identity (Assumption 3.2 deliberately broken)", True, "unbounded to the left"),
            hyp.wide_layer(arch, 1, N), Hypothesis("N > d + 1", N > d + 1, f"N = {N}, d + 1 = {d + 1}")]
    shown = r.rank <= d + 1 < N
    verdict = decide(hyps, shown, r.conclusive)
    return Result(verdict, hyps, r.margin, {"F_1": r.to_dict(), "d_plus_1": d + 1, "attempts": w.attempts},
                  f"identity activation: the construction reaches rank {r.rank} <= d + 1 = {d + 1} < N = {N}")


# --------------------------------------------------------------------------- Theorem 3.5

LAWS_3_5 = (
    ("lecun_normal", "normal", 1.0, 0.1),
    ("uniform", "uniform", 1.0, 1.0),
    ("normal", "normal", 1.0, 1.0),
    ("glorot_normal", "uniform", 1.0, 0.5),
)


def _theorem_3_5_cases(ctx: Context):
    digits = _digits(ctx, 200)
    mnist = _mnist1d(ctx)
    return [
        ("digits-200 sigmoid", Architecture((8, 8, 1), (Conv(8, (3, 3)), Dense(32), Output(10))), digits.X, 1),
        ("mnist1d-200 softplus, wide at layer 2", Architecture((40, 1), (
            Conv(4, (5,), activation="softplus"), Conv(6, (3,), activation="softplus"),
            Dense(16, activation="softplus"), Output(10))), mnist.X, 2),
    ]


def _theorem_3_5(ctx: Context, draws: int = 3) -> Result:
    hyps, evidence, margins = [], {}, []
    conclusion, conclusive = True, True
    for name, arch, X, k in _theorem_3_5_cases(ctx):
        ctx.progress(f"theorem-3.5: {name}")
        hs, _ = hyp.theorem_3_5(arch, X, k)
        hyps += _prefixed(name, hs)
        rows = []
        for law, bias_law, scale, bias_scale in LAWS_3_5:
            rng = ctx.rng(f"theorem-3.5/{name}/{law}/{bias_law}")
            for i in range(draws):
                params = ex.sample_params(arch, rng, law=law, bias_law=bias_law, scale=scale, bias_scale=bias_scale)
                r = ex.feature_rank(arch, params, X, k)
                conclusion &= r.rank == X.shape[0]
                conclusive &= r.conclusive
                margins.append(r.margin)
                rows.append({"law": law, "bias_law": bias_law, "bias_scale": bias_scale, "draw": i, "rank": r.rank,
                             "sigma_min": r.sigma_min, "tol": r.tol, "margin": r.margin,
                             "conclusive": r.conclusive})
        evidence[name] = {"N": X.shape[0], "k": k, "n_k": arch.widths[k], "draws": rows}
    margin = min(margins)
    n = sum(len(e["draws"]) for e in evidence.values())
    return Result(decide(hyps, conclusion, conclusive), hyps, margin,
                  {**evidence, "sampler": "theory_lab.expressivity.sample_params (the laws of model.init)"},
                  f"rank F_k = N at all {n} draws from {len(LAWS_3_5)} laws on {len(evidence)} analytic networks; "
                  f"smallest margin {margin:.3g}")


# --------------------------------------------------------------------------- Corollary 3.6

def _targets(ctx: Context, ds) -> dict:
    rng = ctx.rng("corollary-3.6/targets")
    return {"gaussian": rng.standard_normal(ds.N), "random ±1": rng.choice([-1.0, 1.0], ds.N),
            "digit labels": ds.labels.astype(np.float64)}


def _corollary_3_6(ctx: Context, tol: float = 1e-8) -> Result:
    ds = _digits(ctx, 200)
    N = ds.N
    counts = ex.parameter_counts(Architecture((8, 8, 1), (Conv(1, (3, 3)), Output(1))), N)
    arch = Architecture((8, 8, 1), (Conv(counts["T_1"], (3, 3), activation="relu"), Output(1)))
    k = arch.L - 1
    hs, _ = hyp.theorem_3_4(arch, ds.X, k)
    hyps = hs + [Hypothesis("scalar output, k = L - 1", arch.widths[-1] == 1, f"L = {arch.L}, m = {arch.widths[-1]}")]
    w = ex.construct_full_rank(arch, ds.X, k, key=ctx.key("corollary-3.6"))
    fits, worst = {}, 0.0
    for name, y in _targets(ctx, ds).items():
        fit = ex.exact_fit(w.features, y)
        out = np.asarray(model.apply(arch, ex.with_output_layer(arch, w.params, fit.lam), ds.X))[:, 0]
        net_res = float(np.linalg.norm(out - y) / np.linalg.norm(y))
        worst = max(worst, fit.relative_residual, net_res)
        fits[name] = {**fit.to_dict(), "network_relative_residual": net_res}
    conclusion = worst <= tol
    margin = tol / worst if worst > 0 else float("inf")
    counts_instance = {**counts, "this_network": arch.num_params, "n_1": arch.widths[1]}
    evidence = {"fits": fits, "tolerance": tol, "F_{L-1}": w.report.to_dict(), "parameter_counts": counts_instance,
                "method": "λ from QR of F_{L-1}ᵀ and one triangular solve (no Gram inverse); "
                          "F_{L-1} from Theorem 3.4's construction (ReLU)"}
    return Result(decide(hyps, conclusion, w.report.conclusive and margin >= 1.0), hyps, margin, evidence,
                  f"{len(fits)} target vectors fitted exactly (worst relative residual {worst:.2e} <= {tol:g}); "
                  f"parameters: CNN 2N + T_1 l_0 = {counts['cnn']} vs FC (d+2)N = {counts['fully_connected']}")


def _corollary_3_6_narrow(ctx: Context, tol: float = 1e-8) -> Result:
    ds = _digits(ctx, 200)
    arch = Architecture((8, 8, 1), (Conv(4, (3, 3)), Output(1)))
    params = ex.sample_params(arch, ctx.key("corollary-3.6-narrow"))
    F = ex.features_upto(arch, params, ds.X, 1)
    fits = {name: ex.exact_fit(F, y) for name, y in _targets(ctx, ds).items()}
    best = min(f.relative_residual for f in fits.values())
    hyps = [Hypothesis("n_{L-1} < N (width hypothesis deliberately broken)", True,
                       f"n_1 = {arch.widths[1]}, N = {ds.N}")]
    shown = best > tol
    return Result(Verdict.HOLDS if shown else Verdict.FAILS, hyps, best / tol,
                  {"tolerance": tol, **{name: f.to_dict() for name, f in fits.items()}},
                  f"narrow last hidden layer: the best least-squares fit leaves relative residual {best:.3f} "
                  f"(an exact fit means <= {tol:g})")


# --------------------------------------------------------------------------- probes

def _probe_result(rows: list, hyps: list, summary: str, extra: dict | None = None) -> Result:
    return Result(Verdict.MEASURED, hyps, None, {"rows": [r.to_dict() for r in rows], **(extra or {})}, summary)


def _fmt(r: ex.FrequencyReport) -> str:
    lo, hi = r.ci
    return f"{r.deficient}/{r.draws} [{lo:.2f}, {hi:.2f}]"


def _conv_net(filters: int, activation: str, bias: str = "neuron") -> Architecture:
    return Architecture((8, 8, 1), (Conv(filters, (3, 3), activation=activation, bias=bias), Output(1)))


def _probe_relu(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows = []
    for act in ("relu", "leaky_relu(0.1)"):
        for filters in (3, 6, 12):
            arch = _conv_net(filters, act)
            for mean in (0.0, -0.5, -1.0):
                ctx.progress(f"probe-relu: {act} T={filters} bias {mean}")
                rows.append(ex.rank_frequency(arch, ds.X, 1, draws=draws, bias_mean=mean,
                                              key=ctx.key(f"probe-relu/{act}/{filters}/{mean}")))
    hyps = [Hypothesis("σ analytic (outside Theorem 3.5)", False, "relu, leaky relu are not analytic"),
            Hypothesis("Assumption 3.1 on the data", hyp.assumption_3_1(_conv_net(3, "relu"), ds.X)[0].met)]
    text = "; ".join(f"{r.setting['activation']} n/N={r.setting['n_k_over_N']:.2f} b̄={r.setting['bias_mean']:g}: "
                     f"{_fmt(r)}" for r in rows)
    causes = {"dead units": sum(r.with_dead for r in rows),
              "no sign change": sum(r.with_no_sign_change for r in rows),
              "deficient explained by dead/affine units": sum(r.explained for r in rows),
              "deficient": sum(r.deficient for r in rows)}
    return _probe_result(rows, hyps, f"rank F_1 < N (count/draws [95% CI]): {text}. Causes: {causes['deficient']} "
                         f"deficient draws, {causes['deficient explained by dead/affine units']} of them forced by dead "
                         f"or affine units alone; dead units in {causes['dead units']} draws, units whose "
                         f"pre-activation never changes sign in {causes['no sign change']}",
                         {"causes_over_all_draws": causes})


def _probe_tanh(ctx: Context, draws: int = 20) -> Result:
    ds = _digits(ctx, PROBE_N)
    arch = _conv_net(3, "tanh")
    r = ex.rank_frequency(arch, ds.X, 1, draws=draws, key=ctx.key("probe-tanh"))
    hyps = [Hypothesis("σ satisfies Assumption 3.2", False, "tanh: limits -1 and 1"),
            Hypothesis("σ analytic", True, "tanh")]
    return _probe_result([r], hyps, f"tanh, n_1/N = {r.setting['n_k_over_N']:.2f}: rank F_1 < N in {_fmt(r)}")


def _probe_tied_bias(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows = []
    for act in ("sigmoid", "relu"):
        for bias in ("neuron", "filter"):
            ctx.progress(f"probe-tied-bias: {act} {bias}")
            rows.append(ex.rank_frequency(_conv_net(3, act, bias), ds.X, 1, draws=draws,
                                          key=ctx.key(f"probe-tied/{act}/{bias}")))
    hyps = [Hypothesis("per-neuron bias (the paper's b_k ∈ R^n_k)", False,
                       "tied biases are a measure-zero subset: Theorem 3.5 does not transfer")]
    text = "; ".join(f"{r.setting['activation']} {r.setting['bias']}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, hyps, f"rank F_1 < N, per-neuron vs tied bias: {text}")


def _probe_raw_digits(ctx: Context, draws: int = 15) -> Result:
    rows, reports = [], {}
    for noise in (0.0, 1e-6):
        ds = _digits(ctx, PROBE_N, noise)
        reports[f"noise={noise:g}"] = hyp.assumption_3_1(_conv_net(3, "sigmoid"), ds.X)[1]
        for act in ("sigmoid", "relu"):
            r = ex.rank_frequency(_conv_net(3, act), ds.X, 1, draws=draws, key=ctx.key(f"probe-raw/{act}/{noise}"))
            r.setting["noise"] = noise
            rows.append(r)
    hyps = [Hypothesis("Assumption 3.1 on raw digits", reports["noise=0"]["holds"],
                       f"{reports['noise=0']['shared_patch_values']} patch values shared between samples")]
    text = "; ".join(f"{r.setting['activation']} noise {r.setting['noise']:g}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, hyps, f"rank F_1 < N, raw digits vs 1e-6 noise: {text}", {"assumption_3_1": reports})


def _probe_maxpool(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows = []
    for act in ("sigmoid", "relu"):
        arch = Architecture((8, 8, 1), (Conv(4, (3, 3), activation=act), MaxPool((2, 2), 1),
                                        Conv(7, (2, 2), activation=act), Output(1)))
        rows.append(ex.rank_frequency(arch, ds.X, 3, draws=draws, key=ctx.key(f"probe-maxpool/{act}")))
    hyps = [Hypothesis("no max-pooling in layers 1..k (Theorem 3.5)", False, "max-pooling at layer 2; allowed by 3.4")]
    text = "; ".join(f"{r.setting['activation']} n_3/N={r.setting['n_k_over_N']:.2f}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, hyps, f"rank F_3 < N with max-pooling before the wide layer: {text}")


CHECKS = [
    Check("theorem-3.4", "Theorem 3.4", "constructed parameters give rank F_k = N and full-rank U_l (ReLU, pooling)",
          _one_blas_thread(_theorem_3_4)),
    Check("theorem-3.4-converse", "Theorem 3.4", "converse: identity activation caps rank F_k at d + 1 < N",
          _one_blas_thread(_theorem_3_4_converse), kind="converse"),
    Check("theorem-3.5", "Theorem 3.5", "rank F_k = N for draws from several absolutely continuous laws",
          _one_blas_thread(_theorem_3_5)),
    Check("corollary-3.6", "Corollary 3.6", "arbitrary targets fitted exactly through the wide last hidden layer",
          _one_blas_thread(_corollary_3_6)),
    Check("corollary-3.6-narrow", "Corollary 3.6", "converse: a narrow last hidden layer cannot fit random targets",
          _one_blas_thread(_corollary_3_6_narrow), kind="converse"),
    Check("probe-relu", "Theorem 3.5 (open for ReLU)", "how often ReLU / leaky ReLU lose rank, by bias and width",
          _one_blas_thread(_probe_relu), kind="probe"),
    Check("probe-tanh", "Assumption 3.2", "tanh (analytic, outside 3.2): frequency of rank F_k < N",
          _one_blas_thread(_probe_tanh), kind="probe"),
    Check("probe-tied-bias", "Theorem 3.5", "per-filter (tied) vs per-neuron bias: frequency of rank F_k < N",
          _one_blas_thread(_probe_tied_bias), kind="probe"),
    Check("probe-raw-digits", "Assumption 3.1", "raw digits (3.1 violated) vs 1e-6 noise: frequency of rank F_k < N",
          _one_blas_thread(_probe_raw_digits), kind="probe"),
    Check("probe-maxpool", "Theorem 3.4 vs 3.5", "max-pooling before the wide layer: frequency of rank F_k < N",
          _one_blas_thread(_probe_maxpool), kind="probe"),
]
