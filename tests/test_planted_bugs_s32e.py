"""Session 32 (s32-e): the right comparison, the wrong quantity under the right name.

Each bug (tools/plant_bugs.py, ids ``s32e-*``) keeps every observation and its name but feeds the comparison a
wrong number: a tolerance from the wrong matrix (``‖H‖`` for ``‖J‖``, ``‖JᵀJ‖`` for ``‖H‖``, ``‖X‖`` for
``‖F_k‖``), σ_max where σ_min is meant, a rank bounded by the wrong dimension, N read from ``X.shape[1]``, ``n_1``
read as ``max_k n_k``. At seed 0 ``verify --strict`` still says *holds* (the observation snapshot of
tests/test_observations_s32.py too: names and counts are unchanged). Each test below either feeds the check a wrong
quantity and sees it fail, or pins the deciding number against an independent computation (an SVD of a Jacobian
taken here, Lemma 4.3's factors recomputed by ``_independent_bounds``, a least-squares solve).
docs/planted_bugs.md, "Session 32 — the wrong quantity under the right name".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from proofs_checks import curvature as C
from proofs_checks import expressivity as E
from proofs_checks import foundations as F
from proofs_checks import hypotheses as hyp
from proofs_checks import loss_surface as ls
from proofs_checks import s4_instances as S
from proofs_checks import widths as W
from theory_lab import derivatives as D
from theory_lab import feature_maps, model, sampling
from theory_lab import loss_surface as LS
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Context, Evidence, Verdict
from theory_lab.linalg import rank_report

EPS = np.finfo(np.float64).eps


def _obs(result, name):
    found = [o for o in result.evidence["observations"] if o["name"] == name]
    assert len(found) == 1, [o["name"] for o in result.evidence["observations"]]
    return found[0]


def _recorder(monkeypatch, module, name):
    """Replace ``module.name`` by a wrapper that records each call's arguments."""
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, wrapper)
    return calls


# ----------------------------------------------------------------------------- curvature.py

def test_zero_loss_bounds_rank_J_by_Nm_not_by_P(monkeypatch):
    """s32e-zero-loss-rankJ-le-P: ``rank J ≤ Nm`` compared with ``P`` (J's column count, always ≥ its rank) can
    never fail. Fed a report whose ``Nm`` is one below J's rank, the observation must be a conclusive violation."""
    real = C.hessian_report

    def short_Nm(arch, params, X, Y):
        rep = real(arch, params, X, Y)
        return dict(rep, Nm=rank_report(rep["J"], name="J").rank - 1)
    monkeypatch.setattr(C, "hessian_report", short_Nm)
    r = C._zero_loss(Context(0))
    o = _obs(r, "rank J ≤ Nm")
    assert not o["holds"] and o["conclusive"], o["detail"]
    assert r.verdict is Verdict.FAILS


def test_inertia_tolerance_is_sized_by_P_the_matrix_order():
    """s32e-inertia-size-Nm: the eigenvalue tolerance of a dense symmetric ``P × P`` eigensolve is
    ``P · eps · ‖H‖``; sized by ``Nm`` (rows of J) a rounding-level eigenvalue −10 eps of a 200 × 200 H reads as a
    negative eigenvalue."""
    eig = np.r_[-10 * EPS, np.ones(199)]
    inertia, tol = C._inertia({"eig": eig, "P": 200, "Nm": 2})
    assert tol.value == pytest.approx(200 * EPS, rel=1e-15, abs=0)
    assert (inertia.negative, inertia.zero, inertia.positive) == (0, 1, 199) and inertia.conclusive, inertia


def test_bad_critical_point_reads_the_jacobian_norm_and_N(monkeypatch):
    """s32e-bad-critical-tol-of-H, s32e-bad-critical-h41-N-of-d: the critical tolerance is
    ``GTOL_RTOL · ‖J‖₂ · s`` with ``‖J‖₂`` of the Jacobian (taken here, not from hessian_report), not ``‖H‖₂``;
    Assumption 4.1 is tested with ``N = X.shape[0]``, the number of samples."""
    crit = _recorder(monkeypatch, T, "critical_tol")
    h41 = _recorder(monkeypatch, S, "h41")
    ctx = Context(0)
    r = C._bad_critical(ctx)
    arch, X, Y, p, k = C.bad_critical_point(ctx)
    obj = D.objective(arch)
    J = np.asarray(D.jacobian(obj, obj.layout.ravel(p), X))
    normJ = float(np.linalg.svd(J, compute_uv=False)[0])
    assert len(crit) == 1 and crit[0][0][0] == pytest.approx(normJ, rel=1e-10, abs=0)
    want = T.critical_tol(normJ, Y, outputs=np.asarray(model.apply(arch, p, X))).value
    assert _obs(r, "‖∇Φ‖")["threshold"] == pytest.approx(want, rel=1e-10, abs=0)
    assert [c[0][1:3] for c in h41] == [(k, X.shape[0])]


def test_critical_full_row_rank_reads_sigma_max_and_sigma_min_of_J(monkeypatch):
    """s32e-frr-crit-tol-sigma-min, s32e-frr-admit-sigma-max: the critical tolerance scales with ``σ_max(J)``
    (``‖Jᵀr‖ ≤ ‖J‖‖r‖``) and ``‖r‖`` is admitted up to ``‖∇Φ‖ / σ_min(J)`` (``‖Jᵀr‖ ≥ σ_min‖r‖`` for J of full row
    rank). Both against the singular values of the Jacobian taken here."""
    crit = _recorder(monkeypatch, T, "critical_tol")
    admit = _recorder(monkeypatch, C, "_residual_is_zero")
    ctx = Context(0)
    C._critical_full_row_rank(ctx)
    arch, X, Y, res = C._found_critical_point(ctx)
    obj = D.objective(arch)
    s = np.linalg.svd(np.asarray(D.jacobian(obj, obj.layout.ravel(res.params), X)), compute_uv=False)
    assert len(crit) == 1 and crit[0][0][0] == pytest.approx(s[0], rel=1e-8, abs=0)
    assert len(admit) == 1 and admit[0][0][3] == pytest.approx(s[-1], rel=1e-6, abs=0)  # J is (Nm, P), Nm < P


def test_lanczos_tolerance_from_the_full_hessian(monkeypatch):
    """s32e-lanczos-tol-of-GN: Lanczos' eigenvalues are compared with the dense ``H``'s at ``IDENTITY_RTOL ·
    ‖H‖₂``, not at the Gauss–Newton part's norm ``‖JᵀJ‖₂`` (the point has ``Φ > 0``: they differ)."""
    calls = _recorder(monkeypatch, T, "identity_tol")
    ctx = Context(0)
    C._lanczos_dense(ctx)
    H, GN = C.reference_hessian(ctx)[4:6]
    normH = float(np.max(np.abs(np.linalg.eigvalsh(H))))
    assert abs(np.linalg.norm(GN, 2) / normH - 1) > 1e-4  # told apart (9.5e-4 at seed 0: a small point, Φ > 0)
    assert [c[0][0] for c in calls] == [pytest.approx(normH, rel=1e-12, abs=0)]


# ----------------------------------------------------------------------------- loss_surface.py

def test_theorem_4_4_gradient_tolerance_from_the_upper_factor(monkeypatch):
    """s32e-4.4-crit-tol-lower: at the zero-loss point ``‖∇_U Φ‖ ≤ c_up ‖r‖`` (Lemma 4.3's upper factor), so the
    critical tolerance takes ``‖J‖`` as ``c_up``; the lower factor (orders of magnitude smaller) under-states it.
    Pinned against the upper factor recomputed by ``_independent_bounds`` (its own SVDs and σ')."""
    ctx = Context(0)
    r = ls._theorem_4_4(ctx)
    arch, ds, Y, res = ls._zero_loss_point(ctx)
    k = 1
    lo, hi = ls._independent_bounds(arch, res.params, ds.X, Y, k)
    rn = T.frobenius_norm(np.asarray(model.apply(arch, res.params, ds.X)) - Y, "r")
    assert hi / lo > 100  # the two factors are told apart
    want = T.critical_tol(hi / rn, Y, outputs=model.apply(arch, res.params, ds.X)).value
    assert _obs(r, "‖∇_U Φ‖ at the zero-loss point")["threshold"] == pytest.approx(want, rel=1e-8, abs=0)


def test_membership_U_tolerance_uses_the_larger_dimension():
    """s32e-membership-U-tol-min-dim: U_l's rank is decided at ``‖U_l‖₂ · max(shape) · eps`` (SVD rounding of an
    ``m × n`` matrix; per matrix since s32-d), not ``min(shape)``; a non-square ``U_3`` (6 × 3) tells them apart."""
    arch = Architecture((4,), (Dense(8), Dense(6), Output(3)))  # k = 1: U_3 is 6 × 3
    X = np.random.default_rng(320).standard_normal((5, 4))
    params = sampling.sample_params(arch, np.random.default_rng(321))
    m = LS.membership(arch, params, X, 1)
    U = np.asarray(model.full_weight_matrix(arch, params, 3))
    assert U.shape == (6, 3)
    want = float(np.linalg.svd(U, compute_uv=False)[0]) * 6 * EPS
    assert m.U[3].tol == pytest.approx(want, rel=1e-12, abs=0)


# ----------------------------------------------------------------------------- foundations.py

def test_assumption_3_1_distance_tolerance_sized_by_the_patch_length():
    """s32e-3.1-distinct-tol-width: patches of length ``l`` one rounding apart are ``√l · eps · scale`` apart;
    sized by ``n_1 = P · T`` (19,900 here) two samples whose patches all differ by 20 ulps in every entry would read
    as merged. Their distance, ``20 √l eps``, holds conclusively at the patch length."""
    arch = Architecture((200, 1), (Conv(100, (2,)), Output(1)))  # l = 2, n_1 = 199 · 100
    x0 = np.random.default_rng(322).uniform(0.5, 0.9, 200)
    X = np.stack([x0, x0 + 20 * EPS])[:, :, None]
    ev = Evidence()
    F._observe_3_1(ev, "ulps", arch, X)
    o = [o for o in ev.observations if o.name.endswith("smallest distance between patches of different samples")]
    assert len(o) == 1 and o[0].holds and o[0].conclusive, o[0].detail
    assert o[0].threshold == pytest.approx(np.sqrt(2) * EPS * np.max(np.abs(X)), rel=1e-12, abs=0)


# ----------------------------------------------------------------------------- expressivity.py

def test_corollary_3_6_fit_tolerance_from_the_features():
    """s32e-fit-tol-norm-X: the fit's residual tolerance is ``γ (‖F_k‖ ‖λ‖ + ‖y‖)``; ``λ`` from a least-squares
    solve here, ``F_k`` from the forward pass (‖X‖ ≠ ‖F_k‖: the input scaled by 100)."""
    arch = Architecture((3,), (Dense(10), Output(1)))
    X = 100 * np.random.default_rng(323).standard_normal((8, 3))
    params = sampling.sample_params(arch, np.random.default_rng(324))
    Fk = np.asarray(feature_maps.features_upto(arch, params, X, 1))
    y = np.random.default_rng(325).standard_normal(8)
    fits = E._observe_fits(Evidence(), arch, params, Fk, X, {"g": y})
    lam = np.linalg.lstsq(Fk, y, rcond=None)[0]
    want = T.fit_residual_tol(Fk.shape, np.linalg.norm(Fk), np.linalg.norm(lam), np.linalg.norm(y)).value
    assert fits["g"]["tolerance"]["value"] == pytest.approx(want, rel=1e-6, abs=0)


# ----------------------------------------------------------------------------- hypotheses.py, widths.py

def test_theorem_3_4_compares_n_k_with_the_number_of_samples():
    """s32e-3.4-wide-N-of-d: ``n_k ≥ N`` with ``N = X.shape[0]``; ``X.shape[1]`` (the input length 6) admits the
    narrow layer ``n_1 = 15 < N = 20``."""
    X = np.random.default_rng(326).standard_normal((20, 6, 1))
    arch = Architecture((6, 1), (Conv(3, (2,)), Output(1)))  # n_1 = 5 · 3 = 15
    hs = {h.name: h for h in hyp.theorem_3_4(arch, X, 1)[0]}
    assert not hs["n_1 >= N"].met and "N = 20" in hs["n_1 >= N"].detail


def test_table_1_compares_n_1_itself_with_the_paper(monkeypatch):
    """s32e-table-1-n1-reads-max: fed a row whose ``n_1`` is one below the paper's bound, the observation
    "n_1 ≥ the paper's lower bound" must be violated (``max_k n_k`` still clears it)."""
    real = W._table1.compare
    hit = {}

    def low_n1(entry):
        row = real(entry)
        if not hit and entry.paper in W.THEORY_TABLE1 and entry.key not in W.EXTRA_INPUT_SIZES:
            hit["key"] = entry.key
            return dataclasses.replace(row, n1=W.THEORY_TABLE1[entry.paper][0] - 1)
        return row
    monkeypatch.setattr(W._table1, "compare", low_n1)
    r = W._table_1(Context(0))
    o = _obs(r, f"{hit['key']}: n_1 ≥ the paper's lower bound")
    assert not o["holds"] and r.verdict is Verdict.FAILS
