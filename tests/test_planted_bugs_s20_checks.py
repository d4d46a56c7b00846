"""Planted bugs in the checks and the verdict machinery that the rest of the suite let through.

A second mutation audit planted one realistic bug at a time in ``proofs_checks`` (hypotheses
computed wrongly or stated as constants, off-by-one layer ranges, converses whose broken
hypothesis is not computed, thresholds made 100× looser, undecided ``S_k`` membership counted
as evidence) and in the verdict machinery (:mod:`theory_lab.checking`'s rules and summaries,
the reports' "hypotheses met" column, ``theory-lab verify --strict``), and ran the tests of that
module. The tests here kill the mutants that survived. Each one feeds a hand-built instance,
hand-built evidence or a wrong quantity (a monkeypatched library function) whose verdict is
known from the paper's hypotheses and THEORY.md §5's verdict rules; the planted bug each one
catches is named in its docstring.
"""

import numpy as np
import pytest
from typer.testing import CliRunner

from proofs_checks import hypotheses as hyp
from theory_lab import checking
from theory_lab.arch import Architecture, Conv, MaxPool, Output
from theory_lab.checking import Check, Hypothesis, Result, Verdict, conclude
from theory_lab.cli import app
from theory_lab.evidence import Evidence
from theory_lab.tolerances import Tolerance

TOL = Tolerance(1e-10, 10.0, "test", "rounding")
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def local_registry(monkeypatch):
    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


# ----------------------------------------------------------------------------- theorem rule (checking)


def test_a_theorem_with_one_of_several_hypotheses_unmet_is_not_applicable():
    """Planted bug: ``theorem_verdict`` asked for *any* hypothesis met instead of *all*.

    Theorem 3.5 on an instance with ``n_k < N`` but every other hypothesis met does not apply: a rank
    deficiency there is no counterexample, so the verdict is *not applicable*, never *fails*.
    """
    ev = Evidence()
    ev.exact("rank F_1", 150, 200)  # conclusively below N
    hyps = [Hypothesis("Assumption 3.1", True), Hypothesis("n_1 ≥ N", False, "n_1 = 150, N = 200"),
            Hypothesis("σ analytic", True)]
    r = conclude("rank F_1 = N", hyps, ev)
    assert r.verdict is Verdict.NOT_APPLICABLE
    assert r.summary == "not applicable: rank F_1 = N — unmet hypothesis: n_1 ≥ N (n_1 = 150, N = 200)"


def test_applicable_needs_every_hypothesis_met():
    """Planted bug: ``applicable`` asked for *any* hypothesis met instead of *all*.

    Checks call it to skip work that an unmet hypothesis makes meaningless or impossible (Theorem 3.4's
    construction needs distinct samples); one unmet hypothesis among met ones must stop them.
    """
    met, unmet = Hypothesis("met", True), Hypothesis("unmet", False)
    assert checking.applicable([met, met]) and checking.applicable([met], broken=[unmet, unmet])
    assert not checking.applicable([met, unmet]) and not checking.applicable([unmet, met])
    assert not checking.applicable([met], broken=[unmet, met])


# ----------------------------------------------------------------------------- summaries (checking)


def test_the_summary_of_a_failing_check_names_its_strongest_violation():
    """Planted bug: ``conclude``'s summary picked the *mildest* violation (``max`` margin) to quote.

    The summary must quote the observation that decides the verdict most strongly, the one whose
    margin is the result's margin: here ``‖r‖ = 1`` (a factor 1e10 over tol), not ``2e-9``.
    """
    ev = Evidence()
    ev.at_most("mild", 2e-9, TOL), ev.at_most("strong", 1.0, TOL), ev.at_most("fine", 1e-14, TOL)
    r = conclude("exact fit", [Hypothesis("n ≥ N", True)], ev)
    assert r.verdict is Verdict.FAILS and r.margin == pytest.approx(1e-10, abs=0)
    assert r.summary.startswith("fails: exact fit — violated: strong = 1.000e+00 > 1.000e-10 (test)")
    assert r.summary.endswith("(and 1 more)")


# ----------------------------------------------------------------------------- reports


def _converse_records():
    """Three converses: set up (the hypothesis to break is unmet, the kept one met), a kept hypothesis
    unmet, and the hypothesis to break met (the last two are not set up)."""
    from theory_lab.checking import Context, run_check

    def converse(kept, broken):
        ev = Evidence()
        ev.exact("rank F_1", 150, 200)
        return conclude("rank F_1 = N", [Hypothesis("kept", kept)], ev, broken=[Hypothesis("n_1 ≥ N", broken)])
    cases = {"set-up": (True, False), "kept-unmet": (False, False), "broken-met": (True, True)}
    checks = [Check(cid, "Item", cid, lambda ctx, c=c: converse(*c), kind="converse") for cid, c in cases.items()]
    return [run_check(c, Context(0)) for c in checks]


def test_reports_say_broken_on_purpose_only_for_a_converse_that_is_set_up():
    """Planted bugs: report.html's "hypotheses met" cell said "broken on purpose" for any converse with
    an unmet hypothesis (not only one that is set up); report.md's "hypotheses met" column showed
    ``set_up`` instead of whether the hypotheses are met.

    A converse with a *kept* hypothesis unmet is not set up: nothing was broken on purpose (html: no).
    A set-up converse has its broken hypothesis unmet, so not every hypothesis is met (md: no), while
    one whose hypothesis to break holds has every hypothesis met (md and html: yes).
    """
    from theory_lab import report

    records = _converse_records()
    assert [r.result.verdict for r in records] == [Verdict.HOLDS, Verdict.NOT_APPLICABLE, Verdict.NOT_APPLICABLE]
    md = report.report_markdown(records, seed=0)
    assert "| `set-up` | Item | converse | no | **holds** |" in md
    assert "| `kept-unmet` | Item | converse | no | **not applicable** |" in md
    assert "| `broken-met` | Item | converse | yes | **not applicable** |" in md
    page = report.report_html(records, seed=0, figures={})
    cells = {r.check.id: page.split(f">{r.check.id}</a></td>", 1)[1].split("</td>", 3)[2] for r in records}
    assert cells == {"set-up": "<td>broken on purpose", "kept-unmet": "<td>no", "broken-met": "<td>yes"}


# ----------------------------------------------------------------------------- hypotheses (proofs_checks.hypotheses)

X = np.random.default_rng(20).standard_normal((20, 6, 1))


def test_theorem_3_4_needs_layer_k_itself_conv_or_fully_connected():
    """Planted bug: ``layers_conv_or_fc(..., allow_pool_between=True)`` checked layer 1 only, not layer k.

    Theorem 3.4 allows max-pooling *between* layers 1 and k; layer k itself must be convolutional
    or fully connected. Asked about k = 2, a pooling layer, the hypothesis is unmet.
    """
    pooled = Architecture((6, 1), (Conv(4, (2,)), MaxPool((2,)), Conv(20, (1,)), Output(1)))
    h34 = {h.name: h.met for h in hyp.theorem_3_4(pooled, X, 2)[0]}
    assert h34["layers 1 and 2 conv or FC (pooling allowed between)"] is False
    assert hyp.layers_conv_or_fc(pooled, 3, True).met and not hyp.layers_conv_or_fc(pooled, 3, False).met


def _two_convs(activation2="sigmoid", bias2="neuron", stride2=1):
    """Conv 2 (4 filters) → conv 2 (8 filters) → scalar output on length-6 inputs: n_1 = 20."""
    return Architecture((6, 1), (Conv(4, (2,), activation="sigmoid"),
                                 Conv(8, (2,), stride=stride2, activation=activation2, bias=bias2), Output(1)))


def test_hypotheses_of_layer_k_read_layer_k_itself():
    """Planted bugs: off-by-one layer ranges (``info[:k - 1]``) in the per-layer hypotheses.

    Theorem 3.5 at layer k = 2 assumes σ_1, σ_2 real analytic and a bias per neuron in layers 1
    and 2. A ReLU or a tied bias at layer 2 itself breaks them; at k = 1 they are met.
    """
    relu2, tied2 = _two_convs(activation2="relu"), _two_convs(bias2="filter")
    assert not hyp.activations_analytic(relu2, 2).met and "layer 2: relu" in hyp.activations_analytic(relu2, 2).detail
    assert hyp.activations_analytic(relu2, 1).met and hyp.activations_3_2(relu2, 2).met
    assert not hyp.per_neuron_bias(tied2, 2).met and hyp.per_neuron_bias(tied2, 1).met
    names = {h.name: h.met for h in hyp.theorem_3_5(relu2, X, 2)[0]}
    assert names["σ_1..σ_2 real analytic"] is False


def test_theorem_3_5_asks_assumption_2_4_up_to_layer_k():
    """Planted bug: ``theorem_3_5`` / ``theorem_3_4`` computed Assumption 2.4 for layer 1 only.

    A 1-wide kernel at stride 2 reads positions 0, 2, 4 of layer 1's five: 12 of n_1 = 20 neurons, so
    rank U_2 ≤ 12 < 20 = min(n_1, n_2 = 24) for every W_2. Assumption 2.4 fails at layer 2 (Lemma 2.5's
    full rank of U_2 is lost), so both theorems' hypotheses at k = 2 are unmet. (Stride 2 with a 2-wide
    kernel, which misses only the last position, keeps it: n_2 = 16 and U_2 has generic rank 16.)
    """
    arch = Architecture((6, 1), (Conv(4, (2,), activation="sigmoid"), Conv(8, (1,), stride=2), Output(1)))
    assert hyp.assumption_2_4(_two_convs(stride2=2), 2).met
    for theorem in (hyp.theorem_3_5, hyp.theorem_3_4):
        h24 = [h for h in theorem(arch, X, 2)[0] if h.name.startswith("Assumption 2.4")]
        assert len(h24) == 1 and h24[0].met is False and "layers 1..2" in h24[0].name
    assert [h.met for h in hyp.theorem_3_5(arch, X, 1)[0] if h.name.startswith("Assumption 2.4")] == [True]


def test_one_array_on_the_float32_grid_is_not_a_float64_draw(rng):
    """Planted bug: ``float64_draws`` accepted parameters unless *every* array sat on the float32 grid.

    One weight array rounded through float32 comes from a discrete law: the parameters as a whole do
    not come from a density, so Theorem 3.5's "random parameters" hypothesis is unmet.
    """
    params = {"layer_1": {"W": rng.standard_normal((2, 4)), "b": rng.standard_normal(4)},
              "layer_2": {"W": rng.standard_normal((4, 1)), "b": rng.standard_normal(1)}}
    assert hyp.float64_draws([params]).met
    params["layer_2"]["W"] = params["layer_2"]["W"].astype(np.float32).astype(np.float64)
    h = hyp.float64_draws([params])
    assert not h.met and "1 of 4 arrays" in h.detail


def test_class_targets_are_rows_of_Z_not_multiples_of_them(rng):
    """Planted bug: ``class_targets`` dropped its check that ``Y Z⁻¹``'s nonzero entry is 1.

    Theorem 4.5's targets are class encodings: each row of ``Y`` *is* a row of ``Z``. Targets
    ``2 e_i`` (or ``2 e_i Z``) are multiples of rows, not class targets, and ``0`` is none at all.
    """
    from proofs_checks import s4_instances as S

    onehot = np.eye(3)[np.arange(6) % 3]
    Z = rng.standard_normal((3, 3))
    assert S.class_targets(onehot).met and S.class_targets(onehot @ Z, Z).met
    assert not S.class_targets(2 * onehot).met and not S.class_targets(2 * onehot @ Z, Z).met
    assert not S.class_targets(np.zeros((6, 3))).met


# ----------------------------------------------------------------------------- Corollary 3.6 (expressivity)


def test_an_output_thirty_times_the_solves_rounding_off_its_targets_is_no_exact_fit(monkeypatch):
    """Planted bug: ``corollary-3.6`` judged ``‖f(X) − y‖`` against a tolerance 100× too loose.

    The fitting network's output must equal ``y`` up to the rounding of a backward-stable solve
    (``fit_residual_tol``, band 10). A solve that fits ``y + e`` with ``‖e‖ = 30 ·`` that tolerance
    leaves the output conclusively off its targets: every residual observation fails, margin 1/30.
    """
    from proofs_checks import expressivity as pe
    from theory_lab import exact_fit
    from theory_lab import tolerances as T
    from theory_lab.checking import Context

    real = exact_fit.exact_fit

    def off_by_30_tol(F, y, **kwargs):
        fit = real(F, y, **kwargs)
        tol = T.fit_residual_tol(F.shape, np.linalg.norm(F), np.linalg.norm(fit.lam), np.linalg.norm(y)).value
        e = np.random.default_rng(3).standard_normal(np.shape(y))
        return real(F, y + 30 * tol * e / np.linalg.norm(e), **kwargs)
    monkeypatch.setattr(exact_fit, "exact_fit", off_by_30_tol)
    r = pe._corollary_3_6(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    obs = [o for o in r.evidence["observations"] if o["name"].startswith("‖f(X) − y‖")]
    assert len(obs) == 3 and all(not o["holds"] and o["conclusive"] for o in obs)
    assert [o["margin"] for o in obs] == pytest.approx([1 / 30] * 3, rel=1e-3)


# ----------------------------------------------------------------------------- Theorem 4.5's observation (s4_instances)


def test_a_critical_point_with_positive_loss_and_undecided_membership_is_not_evidence(monkeypatch):
    """Planted bug: ``observe_critical_point`` counted a point whose ``S_k`` membership is inside its
    band as *outside* ``S_k`` (``elif m.conclusive`` → ``else``), i.e. as agreeing with Theorem 4.5.

    A critical point with ``Φ = 1`` whose ``F_k`` has ``σ_N = tol / 3`` (rank ``N`` or ``N − 1``
    after rounding) may lie in ``S_k``, where the theorem forbids ``Φ > 0``: inconclusive, not holds.
    """
    import dataclasses
    import types

    from proofs_checks import s4_instances as S
    from theory_lab import loss_surface as LS
    from theory_lab.checking import Context
    from theory_lab.linalg import rank_report

    arch, ctx = S.tiny_fc(), Context(0)
    X, Y = S.tiny_data(ctx, arch)
    params = S.params(arch, ctx, "s20-checks/undecided")
    real = LS.membership

    def undecided(*args, **kwargs):
        m = real(*args, **kwargs)
        return dataclasses.replace(m, F_k=rank_report(np.diag([1.0] * (S.N_TINY - 1) + [1e-10 / 3]), tol=1e-10))
    monkeypatch.setattr(LS, "membership", undecided)
    res = types.SimpleNamespace(params=params, loss=1.0, residual_norm=np.sqrt(2.0), grad_norm=0.0, iterations=0,
                                converged=True, kind="saddle")
    ev = Evidence()
    row = S.observe_critical_point(ev, "undecided", arch, res, X, Y, 2)
    assert row["critical"] and not row["S_k_conclusive"]
    r = conclude("every critical point found in S_k has Φ = 0", [Hypothesis("h", True)], ev)
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary


def _member_but_undecided(monkeypatch, N):
    """``membership`` reporting every ``U_l`` of full rank and ``rank F_k = N`` with ``σ_N = 3 tol``:
    inside ``S_k`` as computed, but inside the SVD band, so rounding could put the point outside."""
    import dataclasses

    from theory_lab import loss_surface as LS
    from theory_lab.linalg import rank_report

    real = LS.membership

    def undecided(*args, **kwargs):
        m = real(*args, **kwargs)
        return dataclasses.replace(m, F_k=rank_report(np.diag([1.0] * (N - 1) + [3e-10]), tol=1e-10),
                                   U={l: rank_report(np.eye(3), name=f"U_{l}") for l in m.U})
    monkeypatch.setattr(LS, "membership", undecided)


def test_theorem_4_4_reverse_with_undecided_membership_is_no_counterexample(monkeypatch):
    """Planted bug: Theorem 4.4's (⇐) observation was declared conclusive whenever ``Φ > 0`` was, ignoring
    whether ``S_k`` membership was decided.

    At the bad critical point ``∇_{U_2} Φ = 0`` and ``Φ > 0``; that refutes the theorem only if the
    point lies in ``S_1``. With membership inside its band the observation is inconclusive, never *fails*.
    """
    from proofs_checks import loss_surface as LSC
    from proofs_checks import s4_instances as S
    from theory_lab import loss_surface as LS
    from theory_lab.checking import Context

    ctx = Context(0)
    arch, X = S.wide_last(), S.digits(ctx, S.N_WIDE).X
    Y = ctx.rng("s20-checks/Y").standard_normal((S.N_WIDE, 10))
    bad = LS.bad_critical_point(arch, S.params(arch, ctx, "s20-checks/bad"), Y, 1)
    _member_but_undecided(monkeypatch, S.N_WIDE)
    ev = Evidence()
    row = LSC._reverse(ev, "undecided", arch, bad, X, Y, 1, False)
    assert row["grad_U_norm"] == 0.0 and row["loss"] > 1 and row["in_S_k"] and not row["S_k_conclusive"]
    r = conclude("on S_k, Φ = 0 ⇔ ∇_{U_{k+1}} Φ = 0", [Hypothesis("h", True)], ev)
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary


def test_narrow_converse_never_counts_a_start_that_did_not_converge(monkeypatch):
    """Planted bug: ``narrow-critical-points`` observed ``Φ`` at every start, critical or not.

    The converse claims *critical points* with ``Φ > 0``; a start left at ``‖∇Φ‖ = 1`` is no
    critical point, so with no converged start nothing is shown: inconclusive, not holds.
    """
    import types

    from proofs_checks import loss_surface as LSC
    from theory_lab import critical
    from theory_lab.checking import Context

    monkeypatch.setattr(LSC, "NARROW_STARTS", (("minimum", 1),))
    monkeypatch.setattr(critical, "find_critical_point", lambda arch, params, X, Y, **kw: types.SimpleNamespace(
        params=params, loss=5.0, residual_norm=np.sqrt(10.0), grad_norm=1.0, kind="not converged", iterations=1,
        parameter_norm=1.0))
    r = LSC._narrow_check(Context(0))
    assert r.verdict is Verdict.INCONCLUSIVE and "no start converged" in r.summary, r.summary


def test_the_full_row_rank_check_at_a_non_critical_point_is_not_applicable(monkeypatch):
    """Planted bug: ``critical-full-row-rank`` stated its hypothesis "critical point" as ``True``.

    The result (a critical point with ``J`` of full row rank has ``r = 0``) says nothing at a random
    point: ``Φ > 0`` there is no counterexample, so the verdict is *not applicable*, not *fails*.
    """
    import types

    from proofs_checks import curvature as C
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Context

    def random_point(ctx):
        ds, arch = S.digits(ctx, S.N_SMALL), S.small_arch()
        return arch, ds.X, ds.Y, types.SimpleNamespace(params=S.params(arch, ctx, "s20-checks/random"),
                                                       message="a random point")
    monkeypatch.setattr(C, "_found_critical_point", random_point)
    r = C._critical_full_row_rank(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "unmet hypothesis: critical point" in r.summary


def test_a_gradient_five_times_above_lemma_4_3s_upper_bound_is_a_violation_at_every_point(monkeypatch):
    """Planted bug: ``lemma-4.3`` compared ``‖∇‖ / upper`` against a threshold 100× too loose.

    Lemma 4.3 says ``‖∇_{U_{k+1}} Φ‖ ≤ upper``. Fed ``‖∇‖ = 5 · upper`` at every point (bounds and
    their factors untouched), each of the nine ``‖∇‖/upper`` observations must be a conclusive
    violation by the factor 5 (margin 0.2), whatever else the check observes.
    """
    import dataclasses

    from proofs_checks import loss_surface as LSC
    from theory_lab import loss_surface as LS
    from theory_lab.checking import Context

    real = LS.gradient_bounds

    def above_upper(*args, **kwargs):
        b = real(*args, **kwargs)
        return dataclasses.replace(b, grad_norm=5 * b.upper)
    monkeypatch.setattr(LS, "gradient_bounds", above_upper)
    r = LSC._lemma_4_3(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    obs = [o for o in r.evidence["observations"] if o["name"].endswith("‖∇‖/upper")]
    assert len(obs) == 9
    assert all(not o["holds"] and o["conclusive"] and o["margin"] == pytest.approx(0.2) for o in obs)


# ----------------------------------------------------------------------------- converses: the broken hypothesis


def test_the_narrow_converse_on_a_wide_network_is_not_applicable(monkeypatch):
    """Planted bugs: ``narrow-critical-points`` stated its broken hypothesis (no layer ``n_k ≥ N``) as a
    constant ``False`` instead of computing it from the widths, or computed it as ``n_k > N``.

    Given a network with ``n_1 = 4 · 10 = 40 = N`` (the boundary: ``n_k ≥ N``, not ``n_k > N``) the
    hypothesis to break holds: the converse is not set up and must say *not applicable* (a
    positive-loss critical point would prove nothing).
    """
    from proofs_checks import loss_surface as LSC
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Context

    monkeypatch.setattr(S, "narrow", lambda: Architecture((8, 8, 1), (Conv(10, (3, 3), stride=3), Output(10))))
    monkeypatch.setattr(LSC, "NARROW_STARTS", (("minimum", 1),))  # keeps a mutant's search short
    r = LSC._narrow_check(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE and not r.set_up
    assert "some hidden layer has n_k ≥ N is met (widths (64, 40, 10), N = 40)" in r.summary


# ----------------------------------------------------------------------------- kept hypotheses computed on the point


def test_the_widening_converse_at_a_non_critical_point_is_not_applicable(monkeypatch):
    """Planted bug: ``theorem-4.4-widening`` stated its kept hypothesis "∇_{U_2} Φ = 0" as ``True``.

    With targets that do not make the point critical (Gaussian ``Y``), ``Φ > 0`` there shows nothing
    about Theorem 4.4: the converse needs a *critical* point in ``S_1`` with ``Φ > 0``.
    """
    from proofs_checks import loss_surface as LSC
    from theory_lab import loss_surface as LS
    from theory_lab.checking import Context

    def gaussian(arch, params, X, scale=1.0, seed=0):
        return np.random.default_rng(seed).standard_normal((X.shape[0], arch.widths[-1]))
    monkeypatch.setattr(LS, "widening_critical_targets", gaussian)
    r = LSC._theorem_4_4_widening(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "unmet hypothesis: ∇_{U_2} Φ = 0 (critical point)" in r.summary
    crit = next(h for h in r.hypotheses if h.name == "∇_{U_2} Φ = 0 (critical point)")
    assert " > " in crit.detail and " ≤ " not in crit.detail, crit.detail  # the detail states what was found


def test_the_zero_loss_hessian_check_away_from_zero_loss_is_not_applicable(monkeypatch):
    """Planted bug: ``hessian-zero-loss`` stated its hypothesis "zero loss" as ``True``.

    Given the unfitted network (``Φ ≈ 21``) the residual term of ``∇²Φ`` is present, so ``H ≠ JᵀJ``
    is no counterexample: the result's hypothesis is unmet and the verdict *not applicable*, not *fails*.
    """
    from proofs_checks import curvature as C
    from theory_lab.checking import Context

    real = C.zero_loss_point

    def unfitted(ctx):
        arch, ds, params, _, frank = real(ctx)
        return arch, ds, params, params, frank
    monkeypatch.setattr(C, "zero_loss_point", unfitted)
    r = C._zero_loss(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "unmet hypothesis: zero loss" in r.summary
    zero = next(h for h in r.hypotheses if h.name == "zero loss")
    assert "(>" in zero.detail and "≤" not in zero.detail, zero.detail


def test_the_construction_check_sees_U_k_plus_1_left_nonzero(monkeypatch):
    """Planted bug: ``bad-critical-point-construction`` counted the nonzero entries of ``U_L`` only,
    not of ``U_{k+1}``.

    THEORY.md §3's point has ``U_{k+1} = 0`` *and* ``U_L = 0``. A construction that keeps ``W_{k+1}``
    as drawn (and changes nothing else) is not that point: the check must fail.
    """
    from proofs_checks import s4_extra
    from theory_lab import loss_surface as LS
    from theory_lab.checking import Context

    real = LS.bad_critical_point

    def keeps_W_k_plus_1(arch, params, Y, k):
        p = real(arch, params, Y, k)
        p[f"layer_{k + 1}"] = dict(p[f"layer_{k + 1}"], W=params[f"layer_{k + 1}"]["W"])
        return p
    monkeypatch.setattr(LS, "bad_critical_point", keeps_W_k_plus_1)
    r = s4_extra.CHECKS[0].run(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "nonzero entries of U_2" in r.summary


# ----------------------------------------------------------------------------- Table 1 (widths)


def test_table_1_fails_when_a_width_is_far_above_the_papers_rounded_number(monkeypatch):
    """Planted bug: ``table-1``'s "within the paper's rounding, or documented" observation was always true.

    The paper's numbers are lower bounds *rounded down*: a computed ``max_k n_k`` twice the paper's
    number is not its rounding, so an undocumented one (VGG's) must make the check fail.
    """
    import dataclasses

    from proofs_checks import widths as W
    from theory_lab.checking import Context

    real = W._table1.compare
    monkeypatch.setattr(W._table1, "compare", lambda entry: dataclasses.replace(
        real(entry), max_width=2 * real(entry).max_width))
    r = W._table_1(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "max_k n_k = 6,422,528 loose the paper's 3,000,000" in r.summary


# ----------------------------------------------------------------------------- exit status (cli verify --strict)


@pytest.mark.parametrize("verdict", [Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE])
def test_strict_counts_a_converse_that_is_not_set_up_or_undecided(tmp_path, local_registry, verdict):
    """Planted bug: ``--strict`` looked only at ``kind == "check"``, letting converses through.

    ``--strict`` exempts probes alone: a converse that says *not applicable* (its hypothesis to break
    holds on the built-in instance) or *inconclusive* is a bug on the built-in instances too.
    """
    summary = f"{verdict.value}: converse of a claim"
    hyps = [Hypothesis("kept", True), Hypothesis("broken", verdict is Verdict.NOT_APPLICABLE)]  # met: not set up
    result = Result(verdict, hyps, None, {}, summary, ("broken",))
    local_registry.append(Check("test-soft-converse", "Test item", "a converse", kind="converse",
                                run=lambda ctx: result))
    plain = runner.invoke(app, ["verify", "--check", "test-soft-converse", "-o", str(tmp_path)])
    assert plain.exit_code == 0, plain.output
    strict = runner.invoke(app, ["verify", "--strict", "--check", "test-soft-converse", "-o", str(tmp_path)])
    assert strict.exit_code == 1, strict.output
    assert f"{verdict.value} (--strict): test-soft-converse" in strict.output
