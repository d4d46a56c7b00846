"""Session 31 (s31-c): regression tests for bugs planted in the checks themselves (``proofs_checks/``).

Each bug (tools/plant_bugs.py, ids ``s31c-*``) went unseen by ``verify --strict`` and by the tests of the module it
sits in; each test below feeds the hypothesis an instance on which the right answer is known by inspection (a tied
bias at layer k, a pyramidal network, a gradient with one block zero, a deficient rank)
and asserts the answer. docs/planted_bugs.md, "Session 31 — planted bugs in the checks themselves".
"""

from __future__ import annotations

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks import loss_surface as ls
from proofs_checks import s4_instances as S
from theory_lab.arch import Architecture, Conv, Dense, Output

X = np.random.default_rng(31).standard_normal((20, 6, 1))  # N = 20 samples of length 6


def test_theorem_3_5_reads_the_bias_of_every_layer_up_to_k():
    """s31c-3-5-bias-layer-1: a tied (per-filter) bias at layer k = 2 breaks Theorem 3.5's per-neuron bias; the
    hypothesis read layer 1 only and was met."""
    arch = Architecture((6, 1), (Conv(5, (2,)), Conv(6, (2,), bias="filter"), Output(1)))  # n_2 = 24 ≥ N
    hs = {h.name: h for h in hyp.theorem_3_5(arch, X, 2)[0]}
    bias = hs["layers 1..2: one bias per neuron (b_l ∈ R^n_l)"]
    assert not bias.met and "layer 2: bias=filter" in bias.detail
    assert [n for n, h in hs.items() if not h.met] == [bias.name]  # the tied bias is the only reason


def test_widening_converses_read_pyramidal_from_the_instance():
    """s31c-widening-broken-constant: the converses of Lemma 4.3 / Theorem 4.4 break "pyramidal after layer k";
    the broken hypothesis must be computed on the network (met on a pyramidal one), not a constant ``False``."""
    pyramidal = Architecture((6,), (Dense(12), Dense(6), Output(3)))  # 12 ≥ 6 ≥ 3
    Xd = np.random.default_rng(32).standard_normal((8, 6))
    kept, broken = ls._widening_hypotheses(pyramidal, Xd)
    assert [h.met for h in broken] == [True]
    kept, broken = ls._widening_hypotheses(S.widening(), Xd)  # 3 → 6 widens
    assert [h.met for h in broken] == [False] and "widths" in broken[0].detail


def test_widening_converse_needs_the_whole_gradient_zero_not_only_the_U2_block(monkeypatch):
    """s31c-widening-critical-min: "critical point" is ``max(‖∇Φ‖, ‖∇_{U_2} Φ‖) ≤ tol``. Targets whose residual
    ``R`` has its rows in the null space of ``U_L`` (so ``Δ_L U_Lᵀ = 0`` and ``∇_{U_2} Φ = 0``) but columns *not*
    orthogonal to ``[F_{L-1}, 1]`` leave ``∇_{U_L} Φ = F_{L-1}ᵀ R ≠ 0``: no critical point, so the converse is not
    applicable. With ``min`` the vanishing ``U_2`` block alone made the point "critical"."""
    from theory_lab import loss_surface as LS
    from theory_lab import model
    from theory_lab.checking import Context, Verdict

    def u2_block_only(arch, params, X, scale=1.0, seed=0):
        L, n, m = arch.L, arch.widths[-2], arch.widths[-1]
        FL = np.asarray(model.features(arch, params, X)[L])
        _, _, Vt = np.linalg.svd(np.asarray(model.full_weight_matrix(arch, params, L)))  # U_L (n, m), n < m
        rng = np.random.default_rng(seed)
        return FL - rng.standard_normal((X.shape[0], 2)) @ rng.standard_normal((2, m - n)) @ Vt[n:]
    monkeypatch.setattr(LS, "widening_critical_targets", u2_block_only)
    r = ls._theorem_4_4_widening(Context(0))
    crit = next(h for h in r.hypotheses if h.name == "∇_{U_2} Φ = 0 (critical point)")
    assert not crit.met and r.verdict is Verdict.NOT_APPLICABLE, (crit.detail, r.summary)


def test_zero_loss_hessian_needs_rank_F_equal_N_not_only_a_conclusive_rank(monkeypatch):
    """s31c-zero-loss-frank-or: the hypothesis "rank F_{L-1} = N" was met by a conclusive decision of any rank.
    Given a conclusive report of rank N − 1 the hypothesis is unmet and the check not applicable."""
    import dataclasses

    from proofs_checks import curvature as C
    from theory_lab.checking import Context, Verdict

    real = C.zero_loss_point

    def deficient(ctx):
        arch, ds, params, fitted, frank = real(ctx)
        return arch, ds, params, fitted, dataclasses.replace(frank, rank=frank.rank - 1)
    monkeypatch.setattr(C, "zero_loss_point", deficient)
    r = C._zero_loss(Context(0))
    h = next(h for h in r.hypotheses if h.name.startswith("rank F_"))
    assert not h.met and r.verdict is Verdict.NOT_APPLICABLE, r.summary


def test_bad_critical_point_tests_assumption_4_1_at_its_own_k(monkeypatch):
    """s31c-bad-critical-h41-k-plus-1: the check's evidence is "outside S_k" at the point's k; Assumption 4.1 (what
    makes S_k the set of Theorem 4.5) must be tested at that same k. On the curvature network 4.1 holds at k = 1 and
    at k + 1 = 2 alike (n_2 = 12 = N, pyramidal after), so the verdict cannot tell: the k passed to ``h41`` can."""
    from proofs_checks import curvature as C
    from theory_lab.checking import Context

    seen, real = [], S.h41

    def spy(arch, k, N, prefix=""):
        seen.append(k)
        return real(arch, k, N, prefix)
    monkeypatch.setattr(S, "h41", spy)
    ctx = Context(0)
    k = C.bad_critical_point(ctx)[-1]
    r = C._bad_critical(ctx)
    assert seen == [k] and any(h.name == f"Assumption 4.1 (k = {k})" and h.met for h in r.hypotheses)
    assert f"outside S_{k}" in str(r.evidence)  # the observation is about the same k


def test_every_planted_bug_still_applies(monkeypatch):
    """tools/plant_bugs.py's patches (``theory_lab/`` and, from this session, ``proofs_checks/``) each find their text
    exactly once, so the bug list does not rot silently when a check is edited (what ``--dry-run`` does, in memory)."""
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("plant_bugs", root / "tools" / "plant_bugs.py")
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plant_bugs", tool)  # its dataclasses look their module up by name
    spec.loader.exec_module(tool)
    ids = [b.id for b in tool.BUGS]
    assert len(ids) == len(set(ids))
    assert sum(i.startswith("s31c-") for i in ids) == 21
    for bug in tool.BUGS:
        texts = {}
        for path, old, new in bug.patches:
            text = texts.get(path) or (root / path).read_text()
            assert text.count(old) == 1, (bug.id, path)
            texts[path] = text.replace(old, new)
        if bug.id.startswith("s31c-"):
            assert bug.checks and all(p.startswith("proofs_checks/") for p, _, _ in bug.patches), bug.id
