"""Checks and probes of §3 (expressivity): Theorems 3.4 and 3.5, Corollary 3.6, and beyond.

* ``theorem-3.4`` — ReLU networks (one with max-pooling between layers 1 and ``k``) where
  random parameters lose rank: the proof's construction (:mod:`theory_lab.witness`) gives
  parameters at which ``rank F_k = N`` and every ``U_l`` has full rank, recomputed here
  from those parameters. ``theorem-3.4-converse``: the same construction with the identity
  activation (Assumption 3.2 broken, read from the registry) cannot reach ``rank F_k = N``.
* ``theorem-3.5`` — several absolutely continuous laws (LeCun normal, uniform, Gaussian,
  Glorot; Gaussian and uniform biases) on two analytic networks: ``rank F_k = N`` at every
  draw; a draw inside the SVD band makes it inconclusive, a conclusive deficiency fails.
  ``theorem-3.5-converse``: ReLU (3.2 met, analyticity broken) on a wide layer loses rank
  at random parameters from a density (Gaussian biases of mean −0.5).
* ``corollary-3.6`` — targets fitted exactly by the network whose output layer is
  ``λ = F_{L−1}ᵀ(F_{L−1}F_{L−1}ᵀ)^{−1} y`` (:func:`theory_lab.exact_fit.exact_fit`), the
  residual of the network's own output judged against the rounding of a backward-stable
  solve; the fitting CNN's parameter count against ``2N + T_1 l_0``.
  ``corollary-3.6-narrow``: the same pipeline with ``n_{L−1} < N`` (width broken) leaves a
  residual far above that tolerance.
* :mod:`proofs_checks.widths`: Table 1 and Figure 1.
* Probes (measured frequencies with exact 95 % Clopper–Pearson intervals, *measured*): ReLU and
  leaky ReLU against bias and width, tanh, tied bias, raw digits, max-pooling; their
  hypotheses (Theorem 3.5's, computed on each probed network) show which one is broken.
  A row whose network and data meet all of them (per-neuron sigmoid on noisy digits in
  ``probe-tied-bias`` and ``probe-raw-digits``) is a control inside the theorem: a
  conclusively deficient draw there makes the probe *fail*.

Everything runs on small instances (N ≤ 216) so the section stays within its time budget.
"""

from __future__ import annotations

import functools

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks import widths
from proofs_checks.instances import N_DEFAULT, digits_instance, mnist1d_instance, wide_layer_of
from theory_lab import data as _data
from theory_lab import exact_fit, feature_maps, linalg, model, presets, rank_probes, sampling, witness
from theory_lab import tolerances as tols
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, Verdict, applicable, conclude

__all__ = ["CHECKS"]

PROBE_N = 100


def _digits(ctx: Context, n: int, noise: float = 1e-6):
    if n == N_DEFAULT and noise == 1e-6:  # the default instance's data, shared with the other sections
        return digits_instance(ctx).data
    return ctx.cached(("expressivity/digits", n, noise), lambda: _data.digits(n, noise=noise, seed=ctx.seed))


def _mnist1d(ctx: Context):
    return mnist1d_instance(ctx).data


def _prefixed(name: str, hyps) -> list[Hypothesis]:
    return [h.prefixed(name) for h in hyps]


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
    """Both networks have ``n_k = N`` exactly at their wide layer ``k``, computed from the widths."""
    X = _digits(ctx, 216).X
    nets = [
        ("digits-216 relu, n_1 = N", presets.verify_digits(6, activation="relu")),
        ("digits-216 relu conv-pool-conv, n_3 = N", Architecture((8, 8, 1), (
            Conv(4, (3, 3), activation="relu"), MaxPool((2, 2)),
            Conv(24, (2, 2), padding="SAME", activation="relu"), Output(10)))),
    ]
    return [(name, arch, X, wide_layer_of(arch, X.shape[0])) for name, arch in nets]


def _observe_witness(ev: Evidence, name: str, arch: Architecture, params, X, k: int) -> None:
    """Theorem 3.4's conclusion at ``params``, recomputed from them (not read from the search)."""
    ev.rank(f"{name}: F_{k}", feature_maps.feature_rank(arch, params, X, k), np.shape(X)[0])
    for l in range(1, k + 1):
        if arch.layer(l).has_weights:
            U = feature_maps.full_weight_matrix(arch, params, l)
            ev.rank(f"{name}: U_{l}", linalg.rank_report(U, name=f"U_{l}"), min(U.shape))


def _theorem_3_4(ctx: Context) -> Result:
    hyps, ev, cases = [], Evidence(), _theorem_3_4_cases(ctx)
    for name, arch, X, k in cases:
        ctx.progress(f"theorem-3.4: {name}")
        hs, _ = hyp.theorem_3_4(arch, X, k)
        hyps += _prefixed(name, hs)
        if not applicable(hs):  # the construction needs distinct samples and a wide layer
            continue
        baseline = rank_probes.rank_frequency(arch, X, k, draws=5, key=ctx.key(f"theorem-3.4/random/{name}"))
        w = witness.construct_full_rank(arch, X, k, key=ctx.key(f"theorem-3.4/search/{name}"))
        _observe_witness(ev, name, arch, w.params, X, k)
        ev.facts[name] = {"witness": w.to_dict(), "parameters": _param_summary(w.params, k),
                          "random_parameters": baseline.to_dict()}
    return conclude("the proof's construction gives rank F_k = N with every U_l of full rank", hyps, ev,
                    instances=[case[0] for case in cases])


def _theorem_3_4_converse(ctx: Context) -> Result:
    ds = _digits(ctx, 200)
    arch = Architecture((8, 8, 1), (Conv(6, (3, 3), activation="identity"), Output(1)))
    k = 1
    hs, _ = hyp.theorem_3_4(arch, ds.X, k)
    broken = [hyp.activations_3_2(arch, k)]
    kept = [h for h in hs if h.name != broken[0].name]
    ev, claim = Evidence(), "the proof's construction gives rank F_k = N (Theorem 3.4)"
    if not applicable(kept):  # the construction needs distinct samples and a wide layer
        return conclude(claim, kept, ev, broken=broken)
    w = witness.construct_full_rank(arch, ds.X, k, key=ctx.key("theorem-3.4-converse"), attempts=2)
    ev.rank(f"F_{k} at the construction's parameters", feature_maps.feature_rank(arch, w.params, ds.X, k), ds.N)
    ev.facts.update({"d_plus_1": arch.d + 1, "attempts": w.attempts, "witness": w.to_dict()})
    return conclude(claim, kept, ev, broken=broken)


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
        ("digits-200 sigmoid", presets.verify_digits(), digits.X, 1),
        ("mnist1d-200 softplus, wide at layer 2", Architecture((40, 1), (
            Conv(4, (5,), activation="softplus"), Conv(6, (3,), activation="softplus"),
            Dense(16, activation="softplus"), Output(10))), mnist.X, 2),
    ]


def _theorem_3_5(ctx: Context, draws: int = 3) -> Result:
    hyps, ev, cases = [], Evidence(), _theorem_3_5_cases(ctx)
    for name, arch, X, k in cases:
        ctx.progress(f"theorem-3.5: {name}")
        hs, _ = hyp.theorem_3_5(arch, X, k)
        hyps += _prefixed(name, hs)
        if not applicable(hs):  # non-finite data or an output layer k: a rank decides nothing (or cannot be taken)
            continue
        drawn = []
        for law, bias_law, scale, bias_scale in LAWS_3_5:
            rng = ctx.rng(f"theorem-3.5/{name}/{law}/{bias_law}")
            for i in range(draws):
                params = sampling.sample_params(arch, rng, law=law, bias_law=bias_law, scale=scale,
                                                bias_scale=bias_scale)
                drawn.append(params)
                ev.rank(f"{name}: F_{k}, {law} weights, {bias_law} biases (scale {bias_scale:g}), draw {i}",
                        feature_maps.feature_rank(arch, params, X, k), np.shape(X)[0])
        hyps.append(hyp.float64_draws(drawn, f"{name}: the {len(drawn)} draws"))
    ev.facts["sampler"] = "theory_lab.sampling.sample_params (the laws of model.init)"
    return conclude("rank F_k = N at draws from absolutely continuous laws", hyps, ev,
                    instances=[case[0] for case in cases])


def _theorem_3_5_converse(ctx: Context, draws: int = 3) -> Result:
    ds = _digits(ctx, 200)
    arch = Architecture((8, 8, 1), (Conv(6, (3, 3), activation="relu"), Output(10)))  # n_1 = 216 ≥ N
    k = 1
    hs, _ = hyp.theorem_3_5(arch, ds.X, k)
    broken = [hyp.activations_analytic(arch, k)]
    kept = [h for h in hs if h.name != broken[0].name]
    ev, claim = Evidence(), "rank F_k = N at draws from an absolutely continuous law (Theorem 3.5)"
    if not applicable(kept):
        return conclude(claim, kept, ev, broken=broken)
    rng = ctx.rng("theorem-3.5-converse")
    for i in range(draws):  # Gaussian biases of mean −0.5: a density, under which ReLU units die
        params = sampling.sample_params(arch, rng, bias_mean=-0.5)
        ev.rank(f"F_{k}, lecun_normal weights, normal(−0.5, 0.1) biases, draw {i}",
                feature_maps.feature_rank(arch, params, ds.X, k), ds.N)
    return conclude(claim, kept, ev, broken=broken)


# --------------------------------------------------------------------------- Corollary 3.6

def _targets(ctx: Context, ds) -> dict:
    rng = ctx.rng("corollary-3.6/targets")
    return {"gaussian": rng.standard_normal(ds.N), "random ±1": rng.choice([-1.0, 1.0], ds.N),
            "digit labels": ds.labels.astype(np.float64)}


def _observe_fits(ev: Evidence, arch: Architecture, params, F: np.ndarray, X, targets: dict) -> dict:
    """Fit each target with Corollary 3.6's λ and judge the network's own output against the solve's rounding."""
    fits = {}
    for name, y in targets.items():
        fit = exact_fit.exact_fit(F, y)
        out = np.asarray(model.apply(arch, exact_fit.with_output_layer(arch, params, fit.lam), X))[:, 0]
        # norms scaled by the largest entry (frobenius_norm): numpy's squared a residual at y·2^-520 to 0, and a λ
        # off by 1e-6 then fitted "exactly"
        r = out - y  # a NaN/Inf output is observed as not finite (fails), not raised as a bad argument
        res = tols.frobenius_norm(r, "f(X) − y") if np.all(np.isfinite(r)) else float("nan")
        tol = tols.fit_residual_tol(F.shape, tols.frobenius_norm(F, "F"), tols.frobenius_norm(fit.lam, "λ"),
                                    tols.frobenius_norm(y, "y"))
        ev.at_most(f"‖f(X) − y‖ ({name} targets)", res, tol)
        fits[name] = {**fit.to_dict(), "network_residual": res, "tolerance": tol.to_dict()}
    return fits


def _observe_corollary_3_6(ev: Evidence, arch: Architecture, params, X, k: int, targets: dict) -> None:
    """Corollary 3.6's premise, ``rank F_k = N`` read as every other check reads it (:func:`feature_maps.feature_rank`:
    the forward-error bound on a full-rank claim, the saturation and near-duplicate rules on a deficit), then the
    fits through ``F_k`` ``(N, n_k)``."""
    ev.rank(f"F_{k} (Theorem 3.4's construction)", feature_maps.feature_rank(arch, params, X, k), np.shape(X)[0])
    ev.facts["fits"] = _observe_fits(ev, arch, params, feature_maps.features_upto(arch, params, X, k), X, targets)


def _corollary_3_6_data(ctx: Context):
    ds = _digits(ctx, 216)
    counts = exact_fit.parameter_counts(Architecture((8, 8, 1), (Conv(1, (3, 3)), Output(1))), ds.N)
    return ds, counts


def _corollary_3_6(ctx: Context) -> Result:
    ds, counts = _corollary_3_6_data(ctx)
    arch = Architecture((8, 8, 1), (Conv(counts["T_1"], (3, 3), activation="relu"), Output(1)))
    k = wide_layer_of(arch, ds.N)  # the last hidden layer, n_1 = N exactly
    hs, _ = hyp.theorem_3_4(arch, ds.X, k)
    targets = _targets(ctx, ds)
    hyps = hs + [hyp.last_hidden_layer(arch, k), hyp.scalar_output(arch)] + [
        hyp.finite_float64(y, f"{name} targets") for name, y in targets.items()]
    ev, claim = Evidence(), "every target fitted exactly through the wide last hidden layer"
    if not applicable(hyps):
        return conclude(claim, hyps, ev)
    w = witness.construct_full_rank(arch, ds.X, k, key=ctx.key("corollary-3.6"))
    _observe_corollary_3_6(ev, arch, w.params, ds.X, k, targets)
    # the paper's count: T_1 l_0 filter weights, n_1 = N biases, N output weights (b_L = 0 is not used)
    used = arch.num_params - arch.widths[-1]
    ev.exact("parameters of the fitting CNN (output bias unused)", used, counts["cnn"],
             detail=f"the fitting CNN uses {used} parameters; 2N + T_1 l_0 = {counts['cnn']}")
    ev.exact("2N + T_1 l_0 < (d + 2) N", counts["cnn"], counts["fully_connected"], "<",
             detail=f"CNN 2N + T_1 l_0 = {counts['cnn']} vs FC (d + 2) N = {counts['fully_connected']}")
    # T_1 = ⌈N / P_0⌉, the fewest filters with P_0 T_1 ≥ N, at this N and at N − 1 (P_0 = 36 divides N = 216)
    first = arch.layer(1)
    for n in (ds.N, ds.N - 1):
        t1 = exact_fit.parameter_counts(arch, n)["T_1"]
        least = next(t for t in range(1, n + 1) if first.P * t >= n)
        ev.exact(f"T_1 for N = {n}", t1, least, detail=f"parameter_counts' T_1 = {t1} for N = {n}, P_0 = {first.P}; "
                 f"the fewest filters with P_0 T_1 ≥ N: {least}")
    ev.facts["parameter_counts"] = {**counts, "this_network": arch.num_params, "n_1": arch.widths[1]}
    ev.facts["method"] = ("λ from QR of F_{L-1}ᵀ and one triangular solve (no Gram inverse); "
                          "F_{L-1} from Theorem 3.4's construction (ReLU); residual of the network's own output")
    return conclude(claim, hyps, ev)


def _corollary_3_6_narrow(ctx: Context) -> Result:
    ds, counts = _corollary_3_6_data(ctx)
    arch = Architecture((8, 8, 1), (Conv(counts["T_1"] - 2, (3, 3), activation="relu"), Output(1)))
    k = arch.L - 1
    hs, _ = hyp.theorem_3_4(arch, ds.X, k)
    broken = [hyp.wide_layer(arch, k, ds.N)]
    targets = _targets(ctx, ds)
    kept = [h for h in hs if h.name != broken[0].name] + [hyp.last_hidden_layer(arch, k), hyp.scalar_output(arch)]
    kept += [hyp.finite_float64(y, f"{name} targets") for name, y in targets.items()]
    ev, claim = Evidence(), "every target fitted exactly through the last hidden layer (Corollary 3.6)"
    if not applicable(kept, broken):
        return conclude(claim, kept, ev, broken=broken)
    params = sampling.sample_params(arch, ctx.key("corollary-3.6-narrow"))
    F = feature_maps.features_upto(arch, params, ds.X, k)
    ev.facts["fits"] = _observe_fits(ev, arch, params, F, ds.X, targets)
    return conclude(claim, kept, ev, broken=broken)


# --------------------------------------------------------------------------- probes

def _row_label(r: rank_probes.FrequencyReport) -> str:
    s = r.setting
    noise = f" noise {s['noise']:g}" if "noise" in s else ""
    return f"{s['activation']} {s['bias']} bias, n_k/N={s['n_k_over_N']:.2f}, b̄={s['bias_mean']:g}{noise}"


def _probe_result(rows: list, cases: list, hyps: list, summary: str, extra: dict | None = None) -> Result:
    """A probe's measurement (*measured*), unless a row is a control inside Theorem 3.5.

    ``cases``: each row's ``(arch, X, k)``. A row whose network and data meet every hypothesis of
    Theorem 3.5 (computed here, as for the theorem's own check) measures the theorem itself: a
    conclusively deficient draw there is a counterexample or a bug, so the probe *fails*.
    """
    evidence = {"rows": [r.to_dict() for r in rows], "interval": f"95 % {rank_probes.CI_METHOD}, coverage >= 95 % "
                "at every true frequency; from deficient to deficient + inconclusive", **(extra or {})}
    inside = []
    for r, (arch, X, k) in zip(rows, cases, strict=True):
        hs = hyp.theorem_3_5(arch, X, k)[0]
        if all(h.met for h in hs):
            inside.append((_row_label(r), hs, r))
    evidence["inside_theorem_3_5"] = [{"row": label, "deficient": r.deficient, "draws": r.draws}
                                      for label, _, r in inside]
    lost = [(label, hs, r) for label, hs, r in inside if r.deficient]
    if lost:
        text = "; ".join(f"{label}: rank F_k < N in {_fmt(r)}" for label, _, r in lost)
        return Result(Verdict.FAILS, [h for label, hs, _ in lost for h in _prefixed(label, hs)], 0.0, evidence,
                      f"fails: a row meeting every hypothesis of Theorem 3.5 lost rank conclusively — {text}")
    return Result(Verdict.MEASURED, hyps, None, evidence, f"{summary} (95 % intervals: {rank_probes.CI_METHOD})")


def _fmt(r: rank_probes.FrequencyReport) -> str:
    """``deficient/draws [95 % CI]`` (Clopper–Pearson, :data:`rank_probes.CI_METHOD`), with the inconclusive draws
    (which the interval spans) named."""
    lo, hi = r.ci
    unsure = f" (+{r.inconclusive} inconclusive)" if r.inconclusive else ""
    return f"{r.deficient}/{r.draws}{unsure} [{lo:.2f}, {hi:.2f}]"


def _conv_net(filters: int, activation: str, bias: str = "neuron") -> Architecture:
    return Architecture((8, 8, 1), (Conv(filters, (3, 3), activation=activation, bias=bias), Output(1)))


def _probe_relu(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows, cases = [], []
    for act in ("relu", "leaky_relu(0.1)"):
        for filters in (3, 6, 12):
            arch = _conv_net(filters, act)
            for mean in (0.0, -0.5, -1.0):
                ctx.progress(f"probe-relu: {act} T={filters} bias {mean}")
                cases.append((arch, ds.X, 1))
                rows.append(rank_probes.rank_frequency(arch, ds.X, 1, draws=draws, bias_mean=mean,
                                              key=ctx.key(f"probe-relu/{act}/{filters}/{mean}")))
    hyps = [h for act in ("relu", "leaky_relu(0.1)")
            for h in _prefixed(act, hyp.theorem_3_5(_conv_net(3, act), ds.X, 1)[0])]
    text = "; ".join(f"{r.setting['activation']} n/N={r.setting['n_k_over_N']:.2f} b̄={r.setting['bias_mean']:g}: "
                     f"{_fmt(r)}" for r in rows)
    causes = {"dead units": sum(r.with_dead for r in rows),
              "no sign change": sum(r.with_no_sign_change for r in rows),
              "deficient explained by dead/affine units": sum(r.explained for r in rows),
              "deficient": sum(r.deficient for r in rows)}
    return _probe_result(rows, cases, hyps, f"rank F_1 < N (count/draws [95% CI]): {text}. Causes: {causes['deficient']} "
                         f"deficient draws, {causes['deficient explained by dead/affine units']} of them forced by dead "
                         f"or affine units alone; dead units in {causes['dead units']} draws, units whose "
                         f"pre-activation never changes sign in {causes['no sign change']}",
                         {"causes_over_all_draws": causes})


def _probe_tanh(ctx: Context, draws: int = 20) -> Result:
    ds = _digits(ctx, PROBE_N)
    arch = _conv_net(3, "tanh")
    r = rank_probes.rank_frequency(arch, ds.X, 1, draws=draws, key=ctx.key("probe-tanh"))
    hyps = hyp.theorem_3_5(arch, ds.X, 1)[0]
    return _probe_result([r], [(arch, ds.X, 1)], hyps, f"tanh, n_1/N = {r.setting['n_k_over_N']:.2f}: rank F_1 < N in {_fmt(r)}")


def _probe_tied_bias(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows, cases = [], []
    for act in ("sigmoid", "relu"):
        for bias in ("neuron", "filter"):
            ctx.progress(f"probe-tied-bias: {act} {bias}")
            cases.append((_conv_net(3, act, bias), ds.X, 1))
            rows.append(rank_probes.rank_frequency(cases[-1][0], ds.X, 1, draws=draws,
                                          key=ctx.key(f"probe-tied/{act}/{bias}")))
    # tied biases are a measure-zero subset of the paper's parameters: Theorem 3.5 does not transfer
    hyps = _prefixed("sigmoid, tied bias", hyp.theorem_3_5(_conv_net(3, "sigmoid", "filter"), ds.X, 1)[0])
    text = "; ".join(f"{r.setting['activation']} {r.setting['bias']}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, cases, hyps, f"rank F_1 < N, per-neuron vs tied bias: {text}")


def _probe_raw_digits(ctx: Context, draws: int = 15) -> Result:
    rows, cases, reports = [], [], {}
    for noise in (0.0, 1e-6):
        ds = _digits(ctx, PROBE_N, noise)
        reports[f"noise={noise:g}"] = hyp.assumption_3_1(_conv_net(3, "sigmoid"), ds.X)[1]
        for act in ("sigmoid", "relu"):
            r = rank_probes.rank_frequency(_conv_net(3, act), ds.X, 1, draws=draws,
                                           key=ctx.key(f"probe-raw/{act}/{noise}"))
            r.setting["noise"] = noise
            rows.append(r)
            cases.append((_conv_net(3, act), ds.X, 1))
    hyps = _prefixed("sigmoid, raw digits", hyp.theorem_3_5(_conv_net(3, "sigmoid"), _digits(ctx, PROBE_N, 0.0).X,
                                                            1)[0])
    text = "; ".join(f"{r.setting['activation']} noise {r.setting['noise']:g}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, cases, hyps, f"rank F_1 < N, raw digits vs 1e-6 noise: {text}",
                         {"assumption_3_1": reports})


def _probe_maxpool(ctx: Context, draws: int = 15) -> Result:
    ds = _digits(ctx, PROBE_N)
    rows, cases, hyps = [], [], []
    for act in ("sigmoid", "relu"):
        arch = Architecture((8, 8, 1), (Conv(4, (3, 3), activation=act), MaxPool((2, 2), 1),
                                        Conv(7, (2, 2), activation=act), Output(1)))
        rows.append(rank_probes.rank_frequency(arch, ds.X, 3, draws=draws, key=ctx.key(f"probe-maxpool/{act}")))
        cases.append((arch, ds.X, 3))
        if act == "sigmoid":  # Theorem 3.5's hypotheses; 3.4 allows the pooling layer
            hyps = _prefixed("sigmoid", hyp.theorem_3_5(arch, ds.X, 3)[0])
    text = "; ".join(f"{r.setting['activation']} n_3/N={r.setting['n_k_over_N']:.2f}: {_fmt(r)}" for r in rows)
    return _probe_result(rows, cases, hyps, f"rank F_3 < N with max-pooling before the wide layer: {text}")


CHECKS = [
    Check("theorem-3.4", "Theorem 3.4", "constructed parameters give rank F_k = N and full-rank U_l (ReLU, pooling)",
          _one_blas_thread(_theorem_3_4)),
    Check("theorem-3.4-converse", "Theorem 3.4", "converse: identity activation caps rank F_k at d + 1 < N",
          _one_blas_thread(_theorem_3_4_converse), kind="converse"),
    Check("theorem-3.5", "Theorem 3.5", "rank F_k = N for draws from several absolutely continuous laws",
          _one_blas_thread(_theorem_3_5)),
    Check("theorem-3.5-converse", "Theorem 3.5", "converse: ReLU (not analytic) loses rank F_k = N at random "
          "parameters from a density", _one_blas_thread(_theorem_3_5_converse), kind="converse"),
    Check("corollary-3.6", "Corollary 3.6", "arbitrary targets fitted exactly through the wide last hidden layer",
          _one_blas_thread(_corollary_3_6)),
    Check("corollary-3.6-narrow", "Corollary 3.6", "converse: a narrow last hidden layer cannot fit random targets",
          _one_blas_thread(_corollary_3_6_narrow), kind="converse"),
    *widths.CHECKS,
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
