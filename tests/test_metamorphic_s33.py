"""Session 33 (s33-a): metamorphic invariances. The same mathematical instance, presented differently, must get
the same verdict, the same hypothesis outcomes, the same ranks, and margins equal up to a modelled rounding bound.

Only transformations that are *exact symmetries* of the quantities a decision reads are used:

* **Powers of two.** ``x ↦ 2^a x`` is exact in float64 (no rounding) away from over/underflow, and so is every
  product and sum of such numbers: ``(2^a x)(2^-a w) = x w`` bit for bit, ``Σ 2^a t_i = 2^a Σ t_i``. So
  (i) ``X · 2^a`` with the first layer's ``W_1 · 2^-a`` leaves every pre-activation, and so every ``F_l``, the
  same bits, whatever σ; (ii) the output layer ``(U_L, b_L) · 2^j`` with ``Y · 2^j`` scales ``F_L``, ``F_L − Y``
  by ``2^j`` exactly (σ is not involved after layer ``L−1``): ``Φ`` by ``4^j``, ``∇_{U_{k+1}} Φ`` (``k+1 < L``) by
  ``4^j``, ``U_L``'s singular values by ``2^j``, ``F_k`` not at all; (iii) for ReLU (positively homogeneous),
  ``X · 2^a`` with every bias of layers ``1 … k`` times ``2^a`` scales every ``F_l`` (``l ≤ k``) by ``2^a``;
  (iv) a matrix ``A · 2^a`` has singular values ``2^a σ_i`` exactly in exact arithmetic, and a relative rank rule
  must read the same rank and margin. ``|a|`` moderate (±20, ±60) everywhere; ±500 where the library claims
  scale-safety (``frobenius_norm``, ``singular_values``, the zero-residual rule, Assumption 3.1's distance).
* **Permuting the N samples** (rows of ``X`` and ``Y`` together): ``F_k``'s rows, ``F_L − Y``'s rows and the
  Jacobian's rows permute; singular values, norms, ``Φ`` and ``∇Φ`` are invariant in exact arithmetic and move by
  rounding only (a different order of summation over samples, a permuted matrix handed to LAPACK).
* **Permuting hidden units** of a dense layer ``l`` (columns of ``W_l``, entries of ``b_l``, rows of ``W_{l+1}``):
  ``F_l``'s columns permute, every later layer is the same function; ``U_{l+1}`` permutes rows.

Not used: a scaling of the *whole* Jacobian (no reparametrisation of these networks scales all of ``J`` by one
factor, so ``‖∇Φ‖ ≤ GTOL · ‖J‖‖Y‖`` over all parameters is not covariant under (ii); only the ``∇_{U_{k+1}}`` rule
of Theorem 4.4 is, and that one is tested); ``S_k`` membership at a *solver's* point (its ``U_l`` tolerance is
``FORWARD_RTOL · max(‖U_l‖₂, max|θ|)`` by design: the solver's forward error is modelled relative to all of ``θ``,
so scaling the output layer alone changes the model, not only the presentation: see docs/planted_bugs.md).

Rounding bounds: two backward-stable SVDs of a matrix and of its row/column permutation return singular values
within ``δ = 2 · max(m, n) · eps · σ_1`` of each other (each within ``max(m, n) · eps · σ_1`` of the exact ones,
the SVD rank rule's own tolerance); a margin ``σ_r / tol`` then moves by at most a factor ``1 ± (δ/σ_r + δ/σ_1)``.
docs/planted_bugs.md, "Session 33 — metamorphic invariances".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from proofs_checks import curvature as C
from proofs_checks import expressivity as E
from proofs_checks import loss_surface as PLS
from theory_lab import data, exact_fit, feature_maps, loss_surface, model, tolerances as T
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Evidence
from theory_lab.curvature_report import hessian_report
from theory_lab.linalg import inertia_report, rank_report, singular_values
from theory_lab.sampling import sample_params
from theory_lab.witness import construct_full_rank

EPS = float(np.finfo(np.float64).eps)
MODERATE = (20, -20, 60, -60)
EXTREME = (500, -500)
N = 10

FC = Architecture((5,), (Dense(12), Dense(8), Output(3)))  # k = 1 wide (12 ≥ 10), pyramidal 12 ≥ 8 ≥ 3
CONV = Architecture((6, 1), (Conv(3, (2,)), Dense(6), Output(2)))  # n_1 = 15 ≥ 10
RELU = Architecture((5,), (Dense(8, activation="relu"), Dense(16, activation="relu"), Output(3)))  # k = 2 wide


def _np(params) -> dict:
    return {name: {leaf: np.asarray(v, dtype=np.float64) for leaf, v in layer.items() if v is not None}
            for name, layer in params.items()}


def _scale_layer(params, l: int, a: int, *, bias: bool = True) -> dict:
    """Layer ``l``'s ``W`` (and ``b`` when ``bias``) times ``2^a`` (exact)."""
    out = _np(params)
    out[f"layer_{l}"]["W"] = np.ldexp(out[f"layer_{l}"]["W"], a)
    if bias and "b" in out[f"layer_{l}"]:
        out[f"layer_{l}"]["b"] = np.ldexp(out[f"layer_{l}"]["b"], a)
    return out


def _permute_units(params, l: int, perm) -> dict:
    """Hidden units of dense layer ``l`` permuted: ``W_l``'s columns, ``b_l``, ``W_{l+1}``'s rows."""
    out = _np(params)
    out[f"layer_{l}"]["W"] = out[f"layer_{l}"]["W"][:, perm]
    out[f"layer_{l}"]["b"] = out[f"layer_{l}"]["b"][perm]
    out[f"layer_{l + 1}"]["W"] = out[f"layer_{l + 1}"]["W"][perm, :]
    return out


def _instance(arch, seed: int, m: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, *arch.input_shape))
    return X, rng.standard_normal((N, m)), sample_params(arch, seed)


def _svd_delta(A) -> float:
    s = singular_values(np.asarray(A))
    return 2 * max(np.shape(A)) * EPS * float(s[0])


def _same_report(a, b) -> None:
    """Two rank reports with the same decision and margin, bit for bit."""
    assert (a.rank, a.conclusive, a.unresolved, a.rank_bound) == (b.rank, b.conclusive, b.unresolved, b.rank_bound)
    assert a.margin == b.margin


def _observations(ev: Evidence) -> list:
    return [(o.name.split(" with Φ")[0], o.holds, o.conclusive) for o in ev.observations]


# ----------------------------------------------------------------------------- the rank and inertia rules
@pytest.mark.parametrize("a", MODERATE + EXTREME + (1000,))
def test_rank_report_is_covariant_with_powers_of_two(a):
    """A rank-6 30×20 matrix with one direction at 1e-9 (decided) and a rounding-level tail (below tol): ``2^a A``
    has singular values ``2^a σ_i`` bit for bit, tolerance ``2^a tol``, the same rank and margin. Before session 33
    LAPACK rescaled ``2^±500 A`` by a factor that is no power of two: the margin moved by 6.9%."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 5)) @ rng.standard_normal((5, 20))
    A[:, 0] += 1e-9 * rng.standard_normal(30)
    r0, r = rank_report(A), rank_report(np.ldexp(A, a))
    assert np.array_equal(np.ldexp(r.singular_values, -a), r0.singular_values)
    assert r.tol == np.ldexp(r0.tol, a) and r.rank == r0.rank == 6
    _same_report(r, r0)
    i0, i = inertia_report(np.linspace(-1.0, 2.0, 7)), inertia_report(np.ldexp(np.linspace(-1.0, 2.0, 7), a))
    assert (i.negative, i.zero, i.positive, i.margin) == (i0.negative, i0.zero, i0.positive, i0.margin)


def test_rank_report_is_invariant_under_permutations_up_to_rounding():
    """Rows and columns permuted: singular values within ``δ`` (module docstring), the same rank, and the
    full-rank margin ``σ_r / tol`` within a factor ``1 ± (δ/σ_r + δ/σ_1)``."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 5)) @ rng.standard_normal((5, 20))
    A[:, :3] += 1e-9 * rng.standard_normal((30, 3))
    r0 = rank_report(A)
    r = rank_report(A[rng.permutation(30)][:, rng.permutation(20)])
    delta = _svd_delta(A)
    assert np.max(np.abs(r.singular_values - r0.singular_values)) <= delta
    assert (r.rank, r.conclusive) == (r0.rank, r0.conclusive) == (8, True)
    s_r = r0.singular_values[r0.rank - 1]
    assert r.at_least(8)[1] == pytest.approx(r0.at_least(8)[1], rel=delta / s_r + delta / r0.sigma_max)


# ----------------------------------------------------------------------------- F_k's rank (Theorems 3.4, 3.5)
@pytest.mark.parametrize("arch", [FC, CONV], ids=["fc", "conv"])
@pytest.mark.parametrize("a", MODERATE + EXTREME)
def test_feature_rank_unchanged_when_W1_absorbs_the_data_scale(arch, a):
    """(i): ``X · 2^a``, ``W_1 · 2^-a``: the same ``F_k`` bits, so the same report -- rank, margin, the forward
    error bound (it multiplies ``|F_{l-1}| |W_l|``, the same products), the duplicate-sample certificate."""
    X, _, params = _instance(arch, 2, 2)
    r0 = feature_maps.feature_rank(arch, params, X, 1)
    r = feature_maps.feature_rank(arch, _scale_layer(params, 1, -a, bias=False), np.ldexp(X, a), 1)
    _same_report(r, r0)
    assert r.forward_error == r0.forward_error and r0.rank == N


@pytest.mark.parametrize("a", MODERATE + EXTREME)
def test_feature_rank_of_relu_net_is_homogeneous(a):
    """(iii): ReLU, ``X · 2^a`` and ``b_1, b_2 · 2^a``: ``F_2 · 2^a`` bit for bit; the relative rank rule and the
    forward-error bound (linear in ``|F|`` and ``|b|``) scale with it: the same rank, margin, conclusiveness."""
    X, _, params = _instance(RELU, 3, 3)
    p = _np(params)
    for l in (1, 2):
        p[f"layer_{l}"]["b"] = np.ldexp(p[f"layer_{l}"]["b"], a)
    r0 = feature_maps.feature_rank(RELU, params, X, 2)
    r = feature_maps.feature_rank(RELU, p, np.ldexp(X, a), 2)
    _same_report(r, r0)
    assert r.forward_error == np.ldexp(r0.forward_error, a)


@pytest.mark.parametrize("arch", [FC, CONV], ids=["fc", "conv"])
def test_feature_rank_under_sample_and_unit_permutations(arch):
    """Samples permuted (rows of ``F_1``) and, for the dense net, layer 1's units permuted (columns of ``F_1``):
    the same rank and conclusiveness, singular values within ``δ`` and the margin within its rounding factor."""
    X, _, params = _instance(arch, 4, 2)
    rng = np.random.default_rng(4)
    r0 = feature_maps.feature_rank(arch, params, X, 1)
    F = np.asarray(model.features(arch, params, X)[1])
    delta = _svd_delta(F)
    variants = [(params, X[rng.permutation(N)])]
    if arch is FC:
        variants.append((_permute_units(params, 1, rng.permutation(12)), X))
    for p, Xv in variants:
        r = feature_maps.feature_rank(arch, p, Xv, 1)
        assert (r.rank, r.conclusive, r.unresolved) == (r0.rank, r0.conclusive, r0.unresolved)
        assert np.max(np.abs(r.singular_values - r0.singular_values)) <= delta
        s_r = r0.singular_values[N - 1]
        assert r.margin == pytest.approx(r0.margin, rel=2 * (delta / s_r + delta / r0.sigma_max))


@pytest.mark.parametrize("a", MODERATE + EXTREME)
def test_near_duplicate_deficit_reading_is_invariant(a):
    """A deficit below float64's resolution: samples 3 and 5 differ by ``2^-44`` in one pixel, so ``F_1``'s rank
    reads 9 < N and ``feature_rank`` explains it (near-duplicate samples: *unresolved*, never a verdict). With
    ``X · 2^a``, ``W_1 · 2^-a`` the same bits and the same explanation; with the samples permuted the same rank and
    an explanation naming the same pair (the margin reads a rounding-level σ_10 there: only the decision)."""
    X, _, params = _instance(FC, 2, 2)
    X[5] = X[3] + np.ldexp(1.0, -44) * np.eye(5)[0]
    r0 = feature_maps.feature_rank(FC, params, X, 1)
    assert r0.rank == N - 1 and not r0.conclusive and r0.unresolved.startswith("near-duplicate samples")
    r = feature_maps.feature_rank(FC, _scale_layer(params, 1, -a, bias=False), np.ldexp(X, a), 1)
    _same_report(r, r0)
    perm = np.random.default_rng(19).permutation(N)
    rp = feature_maps.feature_rank(FC, params, X[perm], 1)
    pair = sorted(int(np.flatnonzero(perm == i)[0]) for i in (3, 5))
    assert (rp.rank, rp.conclusive) == (r0.rank, False) and f"samples [{pair[0]}, {pair[1]}]" in rp.unresolved


# ----------------------------------------------------------------------------- Theorem 3.4's witness
@pytest.mark.parametrize("act", ["sigmoid", "relu"])
@pytest.mark.parametrize("a", (20, -20, -60, 500, -500))
def test_witness_is_equivariant_with_the_data_scale(act, a):
    """Theorem 3.4's conclusion (some parameters give ``rank F_k = N``) does not depend on the data's scale: if
    ``θ`` works for ``X``, ``θ`` with ``W_1 · 2^-a`` works for ``X · 2^a`` with the same ``F_k`` bits. The
    construction must then find the same witness: the same ``F_k``, rank and margin. Before session 33 it drew
    layers ``< k`` at a fixed scale with absolute biases: ``X · 2^-60`` raised "ties between samples ... violates
    Assumption 3.1" (it does not), and at ``X · 2^-20`` (ReLU) the margin fell from 3.8e12 to 1.6e7."""
    arch = Architecture((5,), (Dense(8, activation=act), Dense(16, activation=act), Output(3)))
    X = np.random.default_rng(5).standard_normal((12, 5))
    w0 = construct_full_rank(arch, X, 2, key=0)
    w = construct_full_rank(arch, np.ldexp(X, a), 2, key=0)
    assert w0.found and w.found
    assert np.array_equal(w.features, w0.features)
    _same_report(w.report, w0.report)
    # the returned parameters are for the data as given: F_2 recomputed from them, on X · 2^a
    _same_report(feature_maps.feature_rank(arch, w.params, np.ldexp(X, a), 2),
                 feature_maps.feature_rank(arch, w0.params, X, 2))


def test_witness_verdict_under_sample_permutation():
    """Samples permuted: the greedy construction visits them in another order (a different witness), but the
    verdict -- a witness found, rank N, conclusive -- is the theorem's and must not change."""
    arch = Architecture((5,), (Dense(8, activation="relu"), Dense(16, activation="relu"), Output(3)))
    X = np.random.default_rng(6).standard_normal((12, 5))
    for Xv in (X, X[np.random.default_rng(7).permutation(12)]):
        w = construct_full_rank(arch, Xv, 2, key=0)
        assert w.found and w.report.rank == 12 and w.report.conclusive


# ----------------------------------------------------------------------------- S_k, Lemma 4.3, Theorem 4.4
def _reverse(params, X, Y):
    ev = Evidence()
    row = PLS._reverse(ev, "p", FC, params, X, Y, 1, False)
    return ev, row


@pytest.mark.parametrize("j", MODERATE + EXTREME)
def test_theorem_4_4_point_is_covariant_with_target_scale(j):
    """(ii) at Theorem 4.4's (⇐) observation, at a random point (``∇_{U_2} Φ`` above the critical tolerance) and at
    the bad critical point (``U_2 = 0``, ``U_L = 0``, ``b_L = ȳ``: outside ``S_1``): ``Y`` and ``(U_3, b_3)`` times
    ``2^j``. ``‖∇_{U_2} Φ‖`` scales by ``4^j`` and so does its tolerance ``GTOL · (upper/‖r‖) · max(‖Y‖, ‖F_L‖)``;
    ``S_1`` membership reads ``F_1`` (unchanged) and ``U_3``'s own SVD rounding (relative); ``‖r‖`` and the
    zero-residual rule scale by ``2^j``. The same observations, holds, conclusiveness; margins equal, at ±500
    within the rounding of ``‖U_3‖₂`` (numpy's SVD, ``4 eps``) and, at -500, of a tolerance ``≈ 1e-9 · 2^-1000``
    that float64 holds only as a subnormal (spacing ``2^-1074``: the transformation is not exact there)."""
    X, Y, params = _instance(FC, 8, 3)
    bad = loss_surface.bad_critical_point(FC, params, Y, 1)
    for p in (params, bad):
        ev0, row0 = _reverse(p, X, Y)
        ev, row = _reverse(_scale_layer(p, 3, j), X, np.ldexp(Y, j))
        assert _observations(ev) == _observations(ev0)
        assert (row["in_S_k"], row["S_k_conclusive"], row["reasons"]) == (row0["in_S_k"], row0["S_k_conclusive"],
                                                                          row0["reasons"])
        assert row["grad_U_norm"] == np.ldexp(row0["grad_U_norm"], 2 * j)
        assert row["residual_norm"] == np.ldexp(row0["residual_norm"], j)
        for o, o0 in zip(ev.observations, ev0.observations):
            # at j = -500 the gradient's tolerance (1e-9 · 4^j ≈ 1e-310) is subnormal: spacing 2^-1074 absolute
            sub = 2.0 ** -1074 / o.threshold if o.threshold and np.isfinite(o.threshold) else 0.0
            assert o.margin == pytest.approx(o0.margin, rel=0 if abs(j) < 100 else 4 * EPS + sub)
    assert _observations(_reverse(params, X, Y)[0])[0][1:] == (True, True)


def test_theorem_4_4_point_under_sample_and_unit_permutations():
    """Samples permuted; layer 2's units permuted (``U_3``'s rows): ``Φ``, ``‖∇_{U_2} Φ‖`` (whose columns permute
    with layer 2's units), ``F_1``'s rank and ``U_3``'s are invariant up to rounding. The same observations; the
    gradient margin (``‖∇‖ / tol``, both sums of ``N`` terms of one sign pattern) within ``100 · N · eps``
    relative -- far below the band, a modelled bound on reordered float64 sums and products of a few norms."""
    X, Y, params = _instance(FC, 9, 3)
    rng = np.random.default_rng(9)
    perm = rng.permutation(N)
    ev0, row0 = _reverse(params, X, Y)
    for p, Xv, Yv in ((params, X[perm], Y[perm]), (_permute_units(params, 2, rng.permutation(8)), X, Y)):
        ev, row = _reverse(p, Xv, Yv)
        assert _observations(ev) == _observations(ev0) and row["in_S_k"] == row0["in_S_k"]
        assert row["grad_U_norm"] == pytest.approx(row0["grad_U_norm"], rel=100 * N * EPS)
        assert row["loss"] == pytest.approx(row0["loss"], rel=100 * N * EPS)
        for o, o0 in zip(ev.observations, ev0.observations):
            assert o.margin == pytest.approx(o0.margin, rel=100 * N * EPS)


@pytest.mark.parametrize("j", MODERATE + EXTREME)
def test_membership_and_lemma_4_3_covariant_with_output_scale(j):
    """``S_1`` membership of an exact draw (``F_1``'s rank, ``U_3``'s at its own SVD rounding) is unchanged by
    ``(U_3, b_3) · 2^j``: the same member, conclusive, margin (bit for bit at moderate ``j``). Lemma 4.3's bounds
    scale like ``‖∇_{U_2} Φ‖`` (``4^j``: ``σ(U_3)`` and ``‖r‖`` each ``2^j``), so the tightness ratios are equal."""
    X, Y, params = _instance(FC, 10, 3)
    m0, b0 = loss_surface.membership(FC, params, X, 1), loss_surface.gradient_bounds(FC, params, X, Y, 1)
    p = _scale_layer(params, 3, j)
    m, b = loss_surface.membership(FC, p, X, 1), loss_surface.gradient_bounds(FC, p, X, np.ldexp(Y, j), 1)
    assert (m.member, m.conclusive, m.reasons) == (m0.member, m0.conclusive, m0.reasons) == (True, True, ())
    rel = 0 if abs(j) < 100 else 4 * EPS  # numpy's norm(U, 2) at 2^±500 (LAPACK's own rescaling)
    assert m.margin == pytest.approx(m0.margin, rel=rel)
    assert (b.lower_holds, b.upper_holds) == (b0.lower_holds, b0.upper_holds) == (True, True)
    assert b.lower_tightness == pytest.approx(b0.lower_tightness, rel=rel)
    assert b.upper_tightness == pytest.approx(b0.upper_tightness, rel=rel)


# ----------------------------------------------------------------------------- Corollary 3.6, Assumption 3.1
@pytest.mark.parametrize("a, c", [(20, -60), (-60, 20), (500, -500), (-500, 500)])
def test_exact_fit_is_covariant_with_powers_of_two(a, c):
    """``F · 2^a``, ``y · 2^c``: ``λ · 2^(c−a)``, residual ``· 2^c``, relative residual and rank report the same,
    and the fit tolerance ``γ (‖F‖‖λ‖ + ‖y‖)`` scales by ``2^c`` with the residual: the same margin."""
    rng = np.random.default_rng(11)
    F, y = rng.standard_normal((N, 15)), rng.standard_normal(N)
    f0, f = exact_fit.exact_fit(F, y), exact_fit.exact_fit(np.ldexp(F, a), np.ldexp(y, c))
    assert np.array_equal(f.lam, np.ldexp(f0.lam, c - a))
    assert f.residual == np.ldexp(f0.residual, c) and f.relative_residual == f0.relative_residual
    _same_report(f.report, f0.report)
    t0 = T.fit_residual_tol(F.shape, T.frobenius_norm(F), T.frobenius_norm(f0.lam), T.frobenius_norm(y))
    t = T.fit_residual_tol(F.shape, T.frobenius_norm(np.ldexp(F, a)), T.frobenius_norm(f.lam),
                           T.frobenius_norm(np.ldexp(y, c)))
    assert t.value / f.residual == pytest.approx(t0.value / f0.residual, rel=8 * EPS)


@pytest.mark.parametrize("wrong", [False, True], ids=["exact", "lambda-off-1e-6"])
def test_corollary_3_6_fit_verdict_is_covariant_with_target_scale(monkeypatch, wrong):
    """corollary-3.6's observation (``‖f(X) − y‖`` of the network with ``U_L = λ`` against ``fit_residual_tol``):
    ``y · 2^c`` gives ``λ · 2^c``, outputs and residual ``· 2^c`` exactly, and the tolerance ``γ (‖F‖‖λ‖ + ‖y‖)``
    with them: the same verdict and margin, bit for bit, for the exact fit (*holds*) and for a λ off by a relative
    1e-6 (*fails*, margin 1e-7). Before session 33 the check took numpy's norms, which square: at ``y · 2^-500``
    the exact fit's residual read 0 (margin 36 → inf) and at ``y · 2^-520`` the wrong λ's did too: *holds*."""
    arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    rng = np.random.default_rng(15)
    X, y = rng.standard_normal((12, 6, 1)), rng.standard_normal(12)
    params = sample_params(arch, 15)
    F = feature_maps.features_upto(arch, params, X, 1)
    real = exact_fit.exact_fit
    if wrong:
        monkeypatch.setattr(E.exact_fit, "exact_fit", lambda F, y: dataclasses.replace(real(F, y), lam=real(F, y).lam
                                                                                       * (1 + 1e-6)))
    seen = []
    for c in (0, 20, -60, 500, -500, -520):
        ev = Evidence()
        E._observe_fits(ev, arch, params, F, X, {"gaussian": np.ldexp(y, c)})
        (o,) = ev.observations
        seen.append((o.holds, o.conclusive, o.margin))
    assert len(set(seen)) == 1 and seen[0][:2] == (not wrong, True), seen


@pytest.mark.parametrize("a", MODERATE + EXTREME)
def test_assumption_3_1_is_scale_and_order_free(a):
    """Assumption 3.1 compares patches for equality: ``X · 2^a`` and permuted samples give the same outcome, the
    same counts, and the smallest cross-sample distance ``· 2^a`` (its distinct-vector tolerance too)."""
    X = np.random.default_rng(12).standard_normal((N, 6, 1))
    X[3, 2:4, 0] = X[7, 0:2, 0]  # one shared patch: 3.1 fails
    for Xv in (X, X[:, ::-1].copy()):  # a failing and (no shared patch) a holding instance
        r0 = data.check_distinct_patches(CONV, Xv)
        r = data.check_distinct_patches(CONV, np.ldexp(Xv, a))
        rp = data.check_distinct_patches(CONV, Xv[np.random.default_rng(13).permutation(N)])
        for rr in (r, rp):
            assert (rr.holds, rr.shared_patch_values, rr.samples_affected) == (r0.holds, r0.shared_patch_values,
                                                                                r0.samples_affected)
        assert r.min_distance == np.ldexp(r0.min_distance, a) and rp.min_distance == r0.min_distance
    assert not data.check_distinct_patches(CONV, X).holds


# ----------------------------------------------------------------------------- Hessian inertia at zero loss
def _zero_loss_instance(seed: int):
    """A zero-loss point by Corollary 3.6: layer 2 (12 ≥ N units) fitted exactly by the output layer."""
    arch = Architecture((5,), (Dense(6), Dense(12), Output(2)))
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((N, 5)), rng.standard_normal((N, 2))
    params = sample_params(arch, seed)
    F = np.asarray(model.features(arch, params, X)[2])
    fit = exact_fit.exact_fit(F, Y)
    return arch, X, Y, exact_fit.with_output_layer(arch, params, fit.lam)


def _zero_loss_inertia(arch, params, X, Y):
    rep = hessian_report(arch, params, X, Y)
    resid = C._sym_norm(rep["H"] - rep["GN"])
    inertia, _ = C._inertia(rep, extra=resid)
    return rep, inertia


def test_zero_loss_inertia_under_sample_and_unit_permutations():
    """hessian-zero-loss's decision (at least ``P − Nm`` zero eigenvalues, at ``eigen_tol + ‖H − JᵀJ‖``) at a
    zero-loss point, with the samples permuted and with layer 1's units permuted (``H`` then a congruent
    permutation of itself): the same counts and conclusiveness; eigenvalues within ``2 · eigen_tol`` (two
    backward-stable eigensolves plus the Hessian's own rounding, which ``‖H − JᵀJ‖`` bounds)."""
    arch, X, Y, params = _zero_loss_instance(14)
    rep0, i0 = _zero_loss_inertia(arch, params, X, Y)
    rng = np.random.default_rng(14)
    perm = rng.permutation(N)
    assert i0.zero >= rep0["P"] - rep0["Nm"] and i0.conclusive
    for p, Xv, Yv in ((params, X[perm], Y[perm]), (_permute_units(params, 1, rng.permutation(6)), X, Y)):
        rep, i = _zero_loss_inertia(arch, p, Xv, Yv)
        assert (i.negative, i.zero, i.positive, i.conclusive) == (i0.negative, i0.zero, i0.positive, i0.conclusive)
        bound = 2 * (T.eigen_tol(rep0["P"], float(np.max(np.abs(rep0["eig"])))).value
                     + C._sym_norm(rep0["H"] - rep0["GN"]))
        assert np.max(np.abs(rep["eig"] - rep0["eig"])) <= bound


# ----------------------------------------------------------------------------- curvature checks, whole
def _permuted_point(point, rows, cols):
    """A curvature instance ``(arch, X, Y, p, k)`` with samples ``rows`` and classes ``cols`` permuted: the same
    parameters up to the output layer's columns, so the same mathematical point."""
    arch, X, Y, p, k = point
    out = _np(p)
    out[f"layer_{arch.L}"]["W"] = out[f"layer_{arch.L}"]["W"][:, cols]
    out[f"layer_{arch.L}"]["b"] = out[f"layer_{arch.L}"]["b"][cols]
    return arch, np.asarray(X)[rows], np.asarray(Y)[rows][:, cols], out, k


def _summary(result) -> tuple:
    hyps = tuple((h.name, h.met) for h in result.hypotheses)
    obs = tuple((o["name"], o["holds"], o["conclusive"]) for o in result.evidence["observations"])
    return result.verdict, hyps, obs


def _margins(result) -> dict:
    return {o["name"]: float(o["margin"]) for o in result.evidence["observations"]}


@pytest.mark.parametrize("how", ["samples", "classes"])
def test_bad_critical_point_checks_under_permutations(monkeypatch, how):
    """bad-critical-point, its converse, and critical-point-converse (``r = 0`` at a critical point) on the same
    point with the samples, or the classes (``Y``'s columns with ``U_L``'s and ``b_L``'s), permuted: ``J``'s rows
    and ``H``'s summands are reordered, nothing else. The same verdicts, hypotheses, observations; the saddle's
    ``−λ_min(H) / eigen_tol`` within ``2/margin`` (``λ_min`` moves by at most twice the eigensolver rounding that
    ``eigen_tol`` models) plus ``‖H‖``'s own rounding. ``‖∇Φ‖`` there is rounding noise (``b_L = ȳ`` cancels
    ``Σ r``): only its decision is compared."""
    from theory_lab.checking import Context

    real = C.bad_critical_point
    base = {f.__name__: f(Context(seed=0)) for f in (C._bad_critical, C._bad_critical_converse, C._critical_converse)}
    point = real(Context(seed=0))
    n, m = np.shape(point[1])[0], np.shape(point[2])[1]
    rng = np.random.default_rng(16)
    rows, cols = (rng.permutation(n), np.arange(m)) if how == "samples" else (np.arange(n), rng.permutation(m))
    monkeypatch.setattr(C, "bad_critical_point", lambda ctx, **kw: _permuted_point(real(ctx, **kw), rows, cols))
    for name, r0 in base.items():
        r = getattr(C, name)(Context(seed=0))
        assert _summary(r) == _summary(r0), name
    m0, m1 = _margins(base["_bad_critical"]), _margins(C._bad_critical(Context(seed=0)))
    key = "−λ_min(H) (a negative eigenvalue: strict saddle)"
    P = point[0].num_params
    assert m1[key] == pytest.approx(m0[key], rel=2 / m0[key] + 8 * P * EPS)
    assert m1["outside S_1"] == m0["outside S_1"] == np.inf


@pytest.mark.parametrize("how", ["samples", "classes"])
def test_hessian_zero_loss_check_under_permutations(monkeypatch, how):
    """hessian-zero-loss (``H = JᵀJ`` at zero loss, ``rank H = rank J ≤ Nm``, ``≥ P − Nm`` zero eigenvalues) on its
    own zero-loss point with samples or classes permuted (the fitted output layer's columns with ``Y``'s): the
    same verdict, hypotheses, observations and conclusiveness. The margins of the zero-eigenvalue counts read
    rounding-level eigenvalues (``P − Nm`` of them are exact zeros), so only their decisions are compared."""
    import dataclasses as dc

    from theory_lab.checking import Context

    real = C.zero_loss_point
    r0 = C._zero_loss(Context(seed=0))
    arch, ds, _, _, _ = real(Context(seed=0))
    rng = np.random.default_rng(17)
    n, m = ds.N, ds.Y.shape[1]
    rows, cols = (rng.permutation(n), np.arange(m)) if how == "samples" else (np.arange(n), rng.permutation(m))

    def permuted(ctx):
        arch, ds, params, fitted, _ = real(ctx)
        _, X, Y, fit, _ = _permuted_point((arch, ds.X, ds.Y, fitted, 0), rows, cols)
        F = np.asarray(model.features(arch, fit, X)[arch.L - 1])
        return arch, dc.replace(ds, X=X, Y=Y, labels=ds.labels[rows]), params, fit, rank_report(F, name="F")

    monkeypatch.setattr(C, "zero_loss_point", permuted)
    r = C._zero_loss(Context(seed=0))
    assert _summary(r) == _summary(r0)
    assert all(v >= 10 for v in _margins(r).values())


def test_critical_full_row_rank_check_under_permutations(monkeypatch):
    """critical-full-row-rank (a critical point with ``J`` of full row rank has ``r = 0``: the critical tolerance
    ``GTOL·‖J‖₂·max(‖Y‖, ‖F_L‖)``, ``J``'s rank at the solver's tolerance, ``‖r‖`` against the zero-residual rule)
    on the search's own critical point with the samples permuted, then the classes (``Y``'s columns with the output
    layer's): ``J``'s rows are reordered, ``‖J‖₂``, ``‖Y‖``, ``‖F_L‖`` are not. The same verdict, hypotheses and
    observations, ``J``'s rank and its margin within the SVD rounding factor (module docstring). ``‖∇Φ‖ ≈ 1e-14`` and
    ``‖r‖ ≈ 2e-15`` are rounding noise there, so only their decisions are compared."""
    import dataclasses as dc

    from theory_lab.checking import Context

    real = C._found_critical_point
    r0 = C._critical_full_row_rank(Context(seed=0))
    arch, X, Y, res = real(Context(seed=0))
    rng = np.random.default_rng(18)
    for rows, cols in ((rng.permutation(X.shape[0]), np.arange(Y.shape[1])),
                       (np.arange(X.shape[0]), rng.permutation(Y.shape[1]))):
        def permuted(ctx, rows=rows, cols=cols):
            arch, X, Y, res = real(ctx)
            _, Xp, Yp, p, _ = _permuted_point((arch, X, Y, res.params, 1), rows, cols)
            return arch, Xp, Yp, dc.replace(res, params=p)

        monkeypatch.setattr(C, "_found_critical_point", permuted)
        r = C._critical_full_row_rank(Context(seed=0))
        assert _summary(r) == _summary(r0)
        assert r.evidence["rank_J"]["rank"] == r0.evidence["rank_J"]["rank"] == Y.shape[0] * Y.shape[1]
        rJ, rJ0 = r.evidence["rank_J"], r0.evidence["rank_J"]
        assert rJ["conclusive"] and rJ["margin"] >= 10
        # σ_min(J) / (1e-8 σ_max(J)): each σ within δ = 2·max(shape)·eps·σ_max of the unpermuted one
        delta = 2 * max(rJ0["shape"]) * EPS * rJ0["sigma_max"]
        assert rJ["margin"] == pytest.approx(rJ0["margin"], rel=delta / rJ0["sigma_min"] + delta / rJ0["sigma_max"])
