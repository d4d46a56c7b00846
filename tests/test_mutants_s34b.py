"""Session 34 (helper b): mutation pass over spectrum.py, curvature_report.py and their density / trace plumbing.

Each test checks documented behaviour against an independent reference — numpy's ``eigvalsh`` of an explicit
matrix, a closed form (a linear least-squares model, whose Hessian is ``XᵀX ⊗ I``), a hand count on a diagonal
matrix, or the vectors a recording operator actually received — never the implementation's own output. The
``s34b-*`` mutants in tools/plant_bugs.py are the slips each test is there to catch (docs/planted_bugs.md,
"Session 34 — mutation pass: spectrum, curvature_report").
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import curvature_report as C
from theory_lab import objective as O
from theory_lab import spectrum as S

EPS = float(np.finfo(np.float64).eps)


class _Recording:
    """``matvec(v, A) = A @ v`` that keeps every vector it is applied to (a host callback per product; a vmapped
    batch arrives as rows). Evidence for which probes an estimator actually drew."""

    def __init__(self):
        self.vectors = []

    def _keep(self, v):
        v = np.array(v, dtype=np.float64)
        self.vectors.extend(v if v.ndim == 2 else [v])

    def __call__(self, v, A):
        jax.debug.callback(self._keep, v)
        return A @ v


def _with_eigenvalues(lam, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(lam), len(lam))))
    A = (Q * np.asarray(lam, np.float64)) @ Q.T
    return 0.5 * (A + A.T)


# ----------------------------------------------------------------------------- lanczos: ends, labels, JSON


def test_lanczos_both_ends_are_labelled_ordered_and_reported_as_computed():
    """s34b-eigenpairs-which-swapped, s34b-eigenpairs-dict-tol-norm, s34b-lanczos-stop-any.

    ``A`` with eigenvalues −7 … 3 (the largest modulus at the bottom): the top pairs are the largest eigenvalues
    in descending order and say ``which="top"``, the bottom ones the smallest ascending with ``"bottom"``; every
    pair converged (the run ends when all requested pairs have, before ``dim`` products), each residual is the
    true ``‖Av − λv‖``, and the JSON carries ``norm = max|λ|`` and ``tol = rtol · norm`` under their own names."""
    lam = np.r_[-7.0, -5.0, np.linspace(-1.0, 1.0, 36), 2.5, 3.0]
    A = _with_eigenvalues(lam, seed=3)
    exact = np.linalg.eigvalsh(A)
    top, bottom = S.lanczos(S.dense_matvec, 40, jax.random.key(2), A, k=2, which="both", rtol=1e-10)
    assert (top.which, bottom.which) == ("top", "bottom")
    np.testing.assert_allclose(top.values, exact[::-1][:2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(bottom.values, exact[:2], rtol=0, atol=1e-9)
    for pairs in (top, bottom):
        assert pairs.converged.all() and pairs.num_matvecs < 40
        true = np.linalg.norm(pairs.vectors @ A - pairs.values[:, None] * pairs.vectors, axis=1)
        np.testing.assert_allclose(pairs.residuals, true, rtol=0, atol=100 * EPS * 7.0)
        assert np.all(true <= 1e-10 * 7.0)
        d = pairs.to_dict()
        assert d["which"] == pairs.which
        assert d["norm"] == pytest.approx(7.0, rel=1e-12)  # max|λ|, the bottom end's modulus
        assert d["tol"] == pytest.approx(1e-10 * 7.0, rel=1e-12, abs=0)
        assert d["values"] == pairs.values.tolist() and d["residuals"] == pairs.residuals.tolist()
        assert d["num_matvecs"] == pairs.num_matvecs and d["converged"] == pairs.converged.tolist()


def test_lanczos_keeps_going_until_every_requested_pair_has_converged():
    """s34b-lanczos-stop-any: a run that ends once *one* requested pair's true residual is below tol.

    Documented: the basis is extended until the requested pairs converge or ``max_matvecs`` (default dim) is
    reached, so a pair comes back unconverged only from a run that used the whole budget. At ``rtol = 1e-15``
    (near the residuals' rounding floor) the free estimates of the top 4 fall below tol before every true
    residual does: the mutant stopped at depth 50–53 of 60 with 1–3 pairs unconverged (1.1–2.6 × tol)."""
    rng = np.random.default_rng(7)
    lam = np.r_[20.0, 12.0, 8.0, 1.05, rng.uniform(-1.0, 1.0, 56)]
    Q, _ = np.linalg.qr(np.random.default_rng(8).standard_normal((60, 60)))
    A = 0.5 * ((Q * lam) @ Q.T + ((Q * lam) @ Q.T).T)
    exact = np.linalg.eigvalsh(A)[::-1][:4]
    for seed in range(3):
        top = S.lanczos(S.dense_matvec, 60, jax.random.key(seed), A, k=4, rtol=1e-15)
        assert top.converged.all() or top.depth == 60, (seed, top.depth, top.residuals / top.tol)
        np.testing.assert_array_less(np.abs(top.values - exact), top.residuals + 1e-13)  # Weyl


def test_lanczos_both_ends_have_k_pairs_each_after_a_breakdown():
    """s34b-lanczos-need-k, s34b-lanczos-ends-overlap: with ``2k ≤ dim`` each end of ``which="both"`` has ``k``
    pairs, disjoint, together the spectrum when ``2k = dim``. Rank 3 on dim 12 (eigenvalues 5, 5, 3 and nine 0): the Krylov space runs out
    after 3 steps; ready at k Ritz values instead of 2k, the bottom end came back with 4 pairs, not 6. With
    ``k = 8 > dim/2`` the ends are disjoint: 8 top pairs and the 4 remaining ones at the bottom."""
    rng = np.random.default_rng(11)
    lam = np.r_[5.0, 5.0, 3.0, np.zeros(9)]
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    A = (Q * lam) @ Q.T
    top, bottom = S.lanczos(S.dense_matvec, 12, jax.random.key(3), A, k=6, which="both")
    assert top.values.size == bottom.values.size == 6
    np.testing.assert_allclose(top.values, [5.0, 5.0, 3.0, 0.0, 0.0, 0.0], rtol=0, atol=1e-12 * 5)
    np.testing.assert_allclose(np.sort(np.r_[top.values, bottom.values]), np.sort(lam), rtol=0, atol=1e-12 * 5)
    assert top.converged.all() and bottom.converged.all()
    top, bottom = S.lanczos(S.dense_matvec, 12, jax.random.key(4), A, k=8, which="both")  # 2k > dim: dim − k below
    assert (top.values.size, bottom.values.size) == (8, 4)
    np.testing.assert_allclose(np.sort(np.r_[top.values, bottom.values]), np.sort(lam), rtol=0, atol=1e-12 * 5)


# ----------------------------------------------------------------------------- inertia


def test_exact_inertia_default_threshold_scales_with_the_largest_modulus():
    """s34b-inertia-exact-norm-top: the exact path's default ``tol = dim · eps · max|λ|``.

    A negative definite operator (λ_max = −1e-3 < 0, max|λ| = 8): taking the top eigenvalue as the norm gives a
    negative threshold. Reference: numpy's eigvalsh and the documented rule."""
    lam = np.r_[-8.0, -3.0, -1.0, -1e-3]
    A = _with_eigenvalues(lam, seed=1)
    r = S.inertia(S.dense_matvec, 4, A)
    assert r.method == "exact"
    assert r.tol == pytest.approx(4 * EPS * 8.0, rel=1e-12, abs=0)
    assert (r.negative, r.zero, r.positive) == (4, 0, 0)


def test_exact_inertia_rtol_is_relative_to_the_largest_modulus():
    """s34b-inertia-rtol-absolute: ``rtol`` gives ``tol = rtol · max|λ|``, not ``tol = rtol``.

    Eigenvalues 1000·{−1, 5e-4, 2}: max|λ| = 2000, rtol = 1e-3 → tol = 2, so 0.5 is zero (hand count 1, 1, 1);
    read as absolute (1e-3) it would be positive."""
    A = _with_eigenvalues(1000.0 * np.r_[-1.0, 5e-4, 2.0], seed=2)
    r = S.inertia(S.dense_matvec, 3, A, rtol=1e-3)
    assert r.tol == pytest.approx(2.0, rel=1e-12)
    assert (r.negative, r.zero, r.positive) == (1, 1, 1)


def test_inertia_is_exact_at_dim_equal_to_exact_max():
    """s34b-inertia-exact-max-strict: documented "exact for ``dim ≤ exact_max``" — at equality no key is needed
    and the counts are numpy's."""
    A = np.diag([-2.0, 0.0, 1.0, 3.0])
    r = S.inertia(S.dense_matvec, 4, A, exact_max=4)
    assert r.method == "exact" and (r.negative, r.zero, r.positive) == (1, 1, 2)
    with pytest.raises(ValueError, match="`key` is needed"):  # one below: the estimate, which needs a key
        S.inertia(S.dense_matvec, 4, A, exact_max=3)


def test_slq_inertia_counts_a_node_at_minus_tol_as_zero_only():
    """s34b-inertia-negative-closed: negative is ``λ < −tol``, zero ``|λ| ≤ tol``, positive ``λ > tol``.

    The quadrature measure of ``diag(−1, 0.5, 0.5, 2)`` (what Rademacher probes give on a diagonal matrix:
    weights 1/4, 1/2, 1/4; two exact probes, padded) built by hand so that a node lies exactly at ``−tol = −1``
    (SLQ's own Ritz value came out at −1 + 2e-16). Hand count: 0 negative, 3 zero, 1 positive; the counts sum
    to dim (a node at −tol counted twice made them 5)."""
    from theory_lab.testing import quadrature_measure

    A = np.diag([-1.0, 0.5, 0.5, 2.0])
    dens = quadrature_measure([[-1.0, 0.5, 2.0, 2.0]] * 2, [[0.25, 0.5, 0.25, 0.0]] * 2, depths=[3, 3])
    r = S.inertia(S.dense_matvec, 4, A, density=dens, tol=1.0)
    assert r.method == "slq"
    assert (r.negative, r.zero, r.positive) == (0.0, 3.0, 1.0)
    for count, (lo, hi) in zip((r.negative, r.zero, r.positive), r.bounds):
        assert lo <= count <= hi


def test_slq_inertia_default_threshold_uses_the_largest_modulus():
    """s34b-inertia-slq-norm-top: the estimate's default ``tol = 1e-8 · max(|λ_min|, |λ_max|)`` over the nodes.

    ``diag(−4, 3e-8, 1, 2)``: tol = 4e-8, so 3e-8 is zero (hand count 1, 1, 2); from |λ_max| = 2 alone the tol
    would be 2e-8 and 3e-8 positive."""
    A = np.diag([-4.0, 3e-8, 1.0, 2.0])
    dens = S.slq_density(S.dense_matvec, 4, jax.random.key(4), A, num_probes=2, num_matvecs=4)
    r = S.inertia(S.dense_matvec, 4, A, density=dens)
    assert r.tol == pytest.approx(4e-8, rel=1e-9, abs=0)
    np.testing.assert_allclose([r.negative, r.zero, r.positive], [1.0, 1.0, 2.0], rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- SLQ and trace plumbing


def _rademacher_rows(vectors, dim, scale):
    """The recorded vectors whose entries are all ``±scale`` (the probes), as a ``(n, dim)`` array."""
    rows = [v for v in vectors if v.shape == (dim,) and np.allclose(np.abs(v), scale, rtol=1e-12, atol=0)]
    return np.array(rows).reshape(-1, dim)


def test_slq_runs_one_lanczos_per_independent_probe_and_weights_are_its_exact_quadrature():
    """s34b-slq-one-probe: every probe starts its own Lanczos run.

    A recording operator sees each run's first vector, ``v/‖v‖`` for a Rademacher ``v`` (entries ±1/√dim).
    With 4 probes on dim 8 they are 4 different vectors at this key (one probe reused gives 1), and with
    ``num_matvecs = dim`` (the whole space) each probe's quadrature is exact: nodes the eigenvalues, weights
    ``(q_iᵀ v)²`` for its own start vector (numpy's eigh)."""
    lam = np.array([-3.0, -1.0, 0.5, 1.0, 2.0, 4.0, 6.0, 9.0])
    A = _with_eigenvalues(lam, seed=5)
    w, Q = np.linalg.eigh(A)
    rec = _Recording()
    dens = S.slq_density(rec, 8, jax.random.key(6), A, num_probes=4, num_matvecs=8)
    jax.effects_barrier()
    starts = _rademacher_rows(rec.vectors, 8, 1 / math.sqrt(8))
    assert len({tuple(np.sign(v)) for v in starts}) == 4, "the probes are not 4 different Rademacher vectors"
    expected = sorted(tuple(np.round((Q.T @ v) ** 2, 10)) for v in starts)
    got = []
    for nodes, weights in zip(dens.nodes, dens.weights):
        order = np.argsort(nodes)
        np.testing.assert_allclose(nodes[order], w, rtol=0, atol=1e-10)
        got.append(tuple(np.round(weights[order], 10)))
    assert sorted(got) == expected


def test_trace_estimates_draw_independent_probes():
    """s34b-trace-estimates-key-reuse: Hutchinson, Hutch++ and XTrace get independent keys (documented).

    A recording operator sees Hutchinson's 12 Rademacher probes and Hutch++'s 4 Rademacher sketch vectors;
    with independent keys none of the 16 repeats (or is the negative of another): a repeat has probability
    ~2⁻³⁰ per pair on dim 30."""
    A = _with_eigenvalues(np.linspace(-1.0, 2.0, 30), seed=9)
    rec = _Recording()
    out = S.trace_estimates(rec, 30, jax.random.key(10), A, num_matvecs=12)
    jax.effects_barrier()
    probes = _rademacher_rows(rec.vectors, 30, 1.0)
    assert len(probes) == 12 + 4
    signs = {tuple(v) for v in probes} | {tuple(-v) for v in probes}
    assert len(signs) == 2 * len(probes), "two estimators drew the same probes"
    assert [out[m].num_matvecs for m in ("hutchinson", "hutch++", "xtrace")] == [12, 12, 12]


# ----------------------------------------------------------------------------- the report


def _linear_net(p, X):
    return X @ p["w"]


@functools.cache
def _linear_report():
    """``Φ(W) = ½‖XW − Y‖²`` with ``X (5, 2)``, ``W (2, 2)``: P = 4, Hessian ``XᵀX ⊗ I₂`` (each eigenvalue of
    ``XᵀX`` twice), gradient ``Xᵀ(XW − Y)``: every number of the report has a closed form. Computed once, in the
    first test that asks (not a fixture: a report that raises is then a failure of that test, not an error)."""
    rng = np.random.default_rng(11)
    X, Y, W = rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), rng.standard_normal((2, 2))
    obj, theta = O.from_model(_linear_net, {"w": jnp.asarray(W)})
    rep = C.spectrum_report(obj, theta, X, Y, k=2, probes=2, steps=64, trace_matvecs=6)
    return rep, X, Y, W


def test_spectrum_report_fields_match_the_closed_form_of_a_linear_model():
    """s34b-report-gradnorm-squared, s34b-trace-budget-no-floor, s34b-report-lanczos-double-count.

    P = 4 < Hutch++'s minimum of 6 products: the trace budget is raised to 6 (documented floor), not refused.
    Loss, ‖∇Φ‖, the top/bottom pairs (each eigenvalue of XᵀX twice), the exact XTrace (6 ≥ dim products),
    the inertia and the product counts all against the closed form."""
    rep, X, Y, W = _linear_report()
    R = X @ W - Y
    G = X.T @ R
    a, b = np.linalg.eigvalsh(X.T @ X)[::-1]
    assert (rep["P"], rep["dim"], rep["N"], rep["m"]) == (4, 4, 5, 2)
    assert rep["loss"] == pytest.approx(0.5 * np.sum(R * R), rel=1e-13)
    assert rep["gradient_norm"] == pytest.approx(math.sqrt(np.sum(G * G)), rel=1e-13)
    np.testing.assert_allclose(rep["top"]["values"], [a, a], rtol=1e-10)
    np.testing.assert_allclose(rep["bottom"]["values"], [b, b], rtol=1e-10)
    assert rep["top"]["which"] == "top" and rep["bottom"]["which"] == "bottom"
    assert rep["top"]["norm"] == pytest.approx(a, rel=1e-12)
    xt = rep["trace"]["xtrace"]
    assert abs(xt["estimate"] - 2 * (a + b)) <= xt["stderr"] + 1e-12 * (a + b)
    assert [rep["trace"][m]["num_matvecs"] for m in ("hutchinson", "hutch++", "xtrace")] == [6, 6, 4]
    inert = rep["inertia"]
    assert inert["method"] == "exact" and (inert["negative"], inert["zero"], inert["positive"]) == (0, 0, 4)
    done, planned = rep["products"]["done"], rep["products"]["planned"]
    assert done["Lanczos eigenpairs"] == rep["top"]["num_matvecs"] == rep["top"]["depth"] <= 4
    assert done["SLQ density"] == sum(rep["density"]["depths"]) <= 2 * 4
    assert done["trace estimates"] == 6 + 6 + 4 and done["inertia"] == 4 and done["loss and gradient"] == 1
    assert rep["products"]["total"] == sum(done.values())
    assert all(done[s] <= planned[s] for s in C.STAGES)


def test_planned_products_cap_each_stage_at_what_it_can_make():
    """s34b-planned-slq-unclamped: a probe makes at most ``dim`` Lanczos steps, so the SLQ plan is
    ``probes · min(steps, dim)``; the plan a caller gets before the run is the one the report carries."""
    rep, _, _, _ = _linear_report()
    plan = C.planned_products(4, k=2, probes=2, steps=64, trace_matvecs=6)
    assert plan == {"loss and gradient": 1, "Lanczos eigenpairs": 4, "SLQ density": 2 * 4,
                    "trace estimates": 3 * 6, "inertia": 4}
    assert plan == rep["products"]["planned"]
    assert C.planned_products(10, probes=3, steps=64, trace_matvecs=48, exact_max=9)["SLQ density"] == 30


def test_bulk_interval_keeps_points_at_exactly_the_level():
    """s34b-bulk-strict-level: the bulk is where ``density ≥ level · peak`` (closed): a plateau at the peak is
    inside at level 1, and level 0 takes the whole grid (zeros included)."""
    grid = np.arange(7.0)
    dens = np.array([0.0, 1.0, 2.0, 2.0, 2.0, 1.0, 0.0])
    assert C.bulk_interval(grid, dens, level=1.0) == (2.0, 4.0)
    assert C.bulk_interval(grid, dens, level=0.5) == (1.0, 5.0)
    assert C.bulk_interval(grid, dens, level=0.0) == (0.0, 6.0)


def test_hessian_inertia_uses_the_callers_rtol():
    """s34b-hessian-inertia-rtol-dropped: ``tol = rtol · max|λ|`` of the dense Hessian for the rtol given, and the
    counts are numpy's at that tol (rtol = 0.05 puts several small eigenvalues of this Hessian in the zero band)."""
    from theory_lab import derivatives as D
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((3,), (Dense(4), Output(2)))
    rng = np.random.default_rng(12)
    obj = D.objective(arch)
    theta = rng.standard_normal(obj.P)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    H = np.asarray(D.hessian(obj, theta, X, Y))
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    for rtol in (1e-9, 0.05):
        r = C.hessian_inertia(arch, obj.layout.unravel(theta), X, Y, rtol=rtol)
        tol = rtol * np.abs(lam).max()
        assert r.tol == pytest.approx(tol, rel=1e-12, abs=0)
        assert (r.negative, r.zero, r.positive) == (int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol)),
                                                    int(np.sum(lam > tol)))
    assert r.zero > 0  # rtol = 0.05 does move eigenvalues into the zero band


@pytest.mark.parametrize("arg, value", [("rtol", -0.5), ("rtol", float("nan")), ("rtol", float("inf")),
                                        ("tol", float("inf")), ("tol", "1e-8")])
def test_inertia_refuses_a_threshold_that_is_not_finite_and_non_negative(arg, value):
    """Library fix (session 34): ``spectrum.inertia`` checked ``tol`` only for ``tol < 0``, and ``rtol`` not at all.

    On an SLQ estimate of ``diag(−2, 0.5, 1, 3)`` ``rtol=-0.5`` gave 3 negative, 0 zero and 3 positive (6 of dim 4:
    ``tol = −1.5`` made both open intervals overlap), ``rtol=nan`` gave 0, 0, 0, and ``tol``/``rtol`` = inf called
    everything zero; on the exact path the error named ``tol``=−1.5, not the ``rtol`` passed. Both paths now refuse
    it, naming the argument given."""
    A = np.diag([-2.0, 0.5, 1.0, 3.0])
    dens = S.slq_density(S.dense_matvec, 4, jax.random.key(0), A, num_probes=2, num_matvecs=4)
    for extra in ({"density": dens}, {}):
        with pytest.raises(ValueError, match=rf"`{arg}`={value!r} must be a finite non-negative"):
            S.inertia(S.dense_matvec, 4, A, **{arg: value}, **extra)
    r = S.inertia(S.dense_matvec, 4, A, density=dens, rtol=0.2)  # a valid one: tol = 0.6, hand count 1, 1, 2
    np.testing.assert_allclose([r.negative, r.zero, r.positive], [1.0, 1.0, 2.0], rtol=0, atol=1e-9)
