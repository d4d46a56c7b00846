"""Planted bugs on the curvature side that the rest of the suite let through (second pass, 2026-12-01).

Audited: ``krylov``, ``spectrum``, ``density``, ``trace``, ``operators``, ``curvature_report``,
``gradient_probes``, ``derivatives``, ``objective``, ``batching``, ``pool_resolved``. One realistic bug at
a time was planted in a copy of the library and the tests exercising that module ran (``-x``, one
worker, with the module's doctests). 71 mutants ran against the existing suite: 40 killed, 31 survived.
Of the survivors, 28 are killed by the tests below, each re-run with its bug planted (fails) and
without it (passes); 1 was superseded by a library fix (the Lanczos plan ``cap + k``: the plan is now
the cap, pinned below); 1 is equivalent (Lanczos' "twice is enough" breakdown test, which can only fire
below the ``1e-12 · s`` threshold that already stops the step); 1 is left (a max-pool reading padding
resolved anyway: no fixture has a padded pool).

Library fixes found on the way, with tests here: ``spectrum_report`` counted ``probes · steps`` SLQ
products and ``3 · budget`` trace products as *done* (a probe whose Krylov space runs out stops early;
XTrace makes an even number), and planned Lanczos' cap plus ``2k`` residual products that are never made;
``xtrace`` reported ``2 · samples`` products where it materialised the operator from ``dim`` of them.

Each test checks a closed form, a dense reference, a counting operator or a hand-built instance, and
names in its docstring the bug it catches.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.testing import CountingMatvec, quadrature_measure
from theory_lab import batching, model
from theory_lab import curvature_report as C
from theory_lab import derivatives as D
from theory_lab import gradient_probes as GP
from theory_lab import loss_surface as LS
from theory_lab import spectrum as S
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.sampling import sample_params


_measure = quadrature_measure  # a hand-built quadrature measure: rows are probes


# ----------------------------------------------------------------------------- krylov / lanczos


def test_lanczos_of_the_zero_operator_breaks_down_at_once_and_finds_zeros():
    """Planted bug: the breakdown test ``β ≤ 1e-12 · s`` made strict (``β < 1e-12 · s``).

    For ``A = 0`` every product is 0, so ``β = s = 0``: only ``≤`` sees the breakdown; ``<``
    normalises the zero residual (0/0) and the run ends in NaN.
    """
    top = S.lanczos(S.dense_matvec, 6, jax.random.key(0), np.zeros((6, 6)), k=2)
    np.testing.assert_array_equal(top.values, [0.0, 0.0])
    assert top.converged.all() and top.breakdowns >= 1


def test_lanczos_finds_every_copy_of_a_fourfold_eigenvalue():
    """Planted bugs: a restart block counted as "settled" when it adds nothing above the *largest* earlier
    value (not the ``k``-th), and the mirror for the bottom end.

    ``diag(3, 3, 3, 3, 0, 0, 0, 0)``: every Krylov space sees one direction of each eigenspace and runs
    out after 2 steps, so each restart block finds one more 3. The top 4 are ``3, 3, 3, 3``; the
    wrong rule stops after the third block with ``3, 3, 3, 0``.
    """
    A = np.diag([3.0] * 4 + [0.0] * 4)
    top = S.lanczos(S.dense_matvec, 8, jax.random.key(1), A, k=4)
    np.testing.assert_allclose(top.values, [3.0] * 4, atol=1e-12)
    bottom = S.lanczos(S.dense_matvec, 8, jax.random.key(2), -A, k=4, which="bottom")
    np.testing.assert_allclose(bottom.values, [-3.0] * 4, atol=1e-12)


def test_lanczos_norm_and_tolerance_come_from_the_largest_modulus():
    """Planted bug: ``norm`` taken from the top Ritz value only, not ``max |θ|``.

    For ``A = −diag(1 … 20)`` the largest ``|λ|`` is 20 (the bottom end); ``norm`` is documented as
    the largest ``|Ritz value|`` and ``tol = rtol · norm``.
    """
    A = -np.diag(np.arange(1.0, 21.0))
    top = S.lanczos(S.dense_matvec, 20, jax.random.key(3), A, k=2, rtol=1e-10)
    np.testing.assert_allclose(top.values, [-1.0, -2.0], atol=1e-9)
    assert top.norm == pytest.approx(20.0, rel=1e-12)
    assert top.tol == pytest.approx(1e-10 * 20.0, rel=1e-12, abs=0)


def test_materialize_with_a_batch_is_the_symmetric_part():
    """Planted bug: the ``lax.map`` path of ``materialize`` returning the columns without ``(A + Aᵀ)/2``."""
    A = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(S.materialize(S.dense_matvec, 3, A, batch=2), 0.5 * (A + A.T), rtol=0, atol=0)
    np.testing.assert_allclose(S.materialize(S.dense_matvec, 3, A), 0.5 * (A + A.T), rtol=0, atol=0)


def test_slq_inertia_default_threshold_is_1e_minus_8_of_the_largest_node():
    """Planted bug: the SLQ inertia's default ``rtol`` 1e-6 instead of the documented 1e-8.

    An eigenvalue at ``1e-7 · ‖A‖`` is positive at 1e-8 and would be counted as zero at 1e-6.
    """
    A = np.diag([-2.0, 4e-7, 1.0, 4.0])
    d = S.slq_density(S.dense_matvec, 4, jax.random.key(4), A, num_probes=2, num_matvecs=4)
    r = S.inertia(S.dense_matvec, 4, A, density=d)
    assert r.tol == pytest.approx(1e-8 * 4.0, rel=1e-12, abs=0)
    assert (r.negative, r.zero, r.positive) == pytest.approx((1.0, 0.0, 3.0), abs=1e-9)


# ----------------------------------------------------------------------------- density


def test_slq_nodes_of_a_positive_definite_operator_stay_positive_after_a_breakdown():
    """Planted bug: a broken-down probe padded with nodes at 0 (weight 0) instead of its largest node.

    ``diag(1, 1, 2, 2, 3, 3)`` has 3 distinct eigenvalues: every probe breaks down after 3 steps of 5,
    and every node, padding included, must lie in ``[1, 3]``.
    """
    A = np.diag([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    d = S.slq_density(S.dense_matvec, 6, jax.random.key(5), A, num_probes=2, num_matvecs=5)
    assert d.depths.tolist() == [3, 3]
    assert np.all(d.nodes >= 1.0 - 1e-12) and np.all(d.nodes <= 3.0 + 1e-12)
    assert d.lambda_min == pytest.approx(1.0, abs=1e-12) and d.lambda_max == pytest.approx(3.0, abs=1e-12)


def test_density_mass_is_closed_and_its_error_is_the_sample_standard_error():
    """Planted bugs: ``mass`` with an open lower end on a closed interval; its standard error with ``ddof=0``.

    Two probes: all mass at 1, and half at 1, half at 2. ``[1, 1.5]`` holds 1 and 0.5 of them:
    mean 0.75, sample std ``0.5/√2``, standard error ``0.5/√2/√2 = 0.25``.
    """
    d = _measure([[1.0, 2.0], [1.0, 2.0]], [[1.0, 0.0], [0.5, 0.5]])
    assert d.mass(1.0, 1.5) == pytest.approx((0.75, 0.25), abs=1e-15)
    assert d.mass(1.0, 2.0, closed=False) == pytest.approx((0.0, 0.0), abs=1e-15)
    assert d.mass(1.0, 2.0) == pytest.approx((1.0, 0.0), abs=1e-15)


def test_quantile_of_several_probes_averages_them():
    """Planted bug: the quantile's weights not divided by the number of probes (each row sums to 1).

    Probes at {1} and {3}: the average measure has half its mass at 1, so its median is 1 and its
    0.75-quantile 3; without the division the first node alone reaches every ``q ≤ 1``.
    """
    d = _measure([[1.0], [3.0]], [[1.0], [1.0]])
    assert d.quantile(0.5) == 1.0 and d.quantile(0.75) == 3.0


def test_smoothed_density_integrates_to_one_with_the_documented_defaults():
    """Planted bugs: the Gaussian kernel without its ``1/√(2π)``; the density not averaged over probes; the
    default width not ``(λ_max − λ_min)/200``.

    The smoothed density of a probability measure integrates to 1 over a grid reaching 3σ past the ends
    (up to the Gaussian tails beyond, 1.3e-3 at most); ``exact_density`` of one eigenvalue is the normal pdf.
    """
    A = np.diag(np.arange(-4.0, 6.0))  # λ_max − λ_min = 9 > |λ_max|: the width is the range's
    d = S.slq_density(S.dense_matvec, 10, jax.random.key(6), A, num_probes=3, num_matvecs=10)
    assert d.sigma == pytest.approx((d.lambda_max - d.lambda_min) / 200, rel=1e-12)
    integral = np.trapezoid(d.density, d.grid)
    assert 1 - 3e-3 <= integral <= 1 + 1e-9
    g = np.array([-1.0, 0.0, 0.5])
    ref = np.exp(-0.5 * (g / 0.5) ** 2) / (0.5 * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(S.exact_density([0.0], sigma=0.5, grid=g), ref, rtol=1e-14)


# ----------------------------------------------------------------------------- trace


def test_hutchinson_standard_error_is_the_sample_standard_deviation_over_root_n():
    """Planted bugs: Hutchinson's standard error with ``ddof=0``, or divided by ``n`` instead of ``√n``.

    For ``A = [[0, 1], [1, 0]]`` every Rademacher quadratic form is ``2 v₁v₂ = ±2``, so with mean
    ``m`` the sample variance is ``n (4 − m²)/(n − 1)`` and the standard error ``√((4 − m²)/(n − 1))``,
    whatever the draws.
    """
    A = np.array([[0.0, 1.0], [1.0, 0.0]])
    for seed, n in ((7, 10), (8, 5)):
        est = S.hutchinson(S.dense_matvec, 2, jax.random.key(seed), A, num_matvecs=n)
        assert abs(est.estimate) < 2  # both signs drawn: the error is not 0
        assert est.stderr == pytest.approx(math.sqrt((4 - est.estimate**2) / (n - 1)), rel=1e-12)


def test_hutch_plus_plus_is_exact_when_the_sketch_spans_the_range():
    """Planted bugs: Hutch++ without deflating its Hutchinson probes (``G`` for ``(I − QQᵀ)G``), or without
    the sketch's exact part ``tr(QᵀAQ)``.

    ``A`` of rank 2 and a sketch of 3 columns: ``Q`` spans ``range(A)``, so ``tr(QᵀAQ) = tr A`` and the
    deflated probes see ``(I − QQᵀ)A(I − QQᵀ) = 0``: the estimate is exact with standard error 0.
    """
    rng = np.random.default_rng(9)
    U = np.linalg.qr(rng.standard_normal((12, 2)))[0]
    A = (U * [3.0, 1.5]) @ U.T
    est = S.hutch_plus_plus(S.dense_matvec, 12, jax.random.key(10), A, num_matvecs=9)
    assert est.estimate == pytest.approx(4.5, abs=1e-12)
    assert est.stderr == pytest.approx(0.0, abs=1e-12)


def test_hutch_plus_plus_standard_error_matches_the_spread_of_its_estimates():
    """Planted bug: Hutch++'s standard error divided by ``√s`` (the sketch's size) instead of ``√g`` (its
    Hutchinson probes); with 8 products ``s = 2``, ``g = 4``, so the error is √2 too large.

    Given the sketch ``Q`` the estimate is ``tr(QᵀAQ) + mean(q)``, unbiased for ``tr A`` (``E[q | Q]`` is the
    trace of the deflated operator), so ``Var(estimate) = E[Var(q | Q)] / g = E[stderr²]``. Over 300 seeded
    runs the mean ``stderr²`` must match the estimates' variance (ratio 1.00 here; the wrong error gives 2).
    """
    rng = np.random.default_rng(19)
    U = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    A = (U * np.linspace(-1.0, 2.0, 10)) @ U.T
    runs = [S.hutch_plus_plus(S.dense_matvec, 10, jax.random.fold_in(jax.random.key(20), i), A, num_matvecs=8)
            for i in range(300)]
    est, se = np.array([r.estimate for r in runs]), np.array([r.stderr for r in runs])
    assert abs(est.mean() - np.trace(A)) <= 4 * est.std() / math.sqrt(est.size)
    assert 0.75 <= np.mean(se**2) / np.var(est, ddof=1) <= 1.35


def test_xtrace_with_as_many_products_as_the_dimension_is_exact():
    """Planted bug: XTrace's exact branch taken only for ``2·num > dim`` (not ``≥``).

    With ``num_matvecs = dim`` the samples span the space; XTrace (and matfree) then return the trace
    of the materialised operator with standard error 0.
    """
    rng = np.random.default_rng(11)
    B = rng.standard_normal((8, 8))
    A = B + B.T
    est = S.xtrace(S.dense_matvec, 8, jax.random.key(12), A, num_matvecs=8)
    assert est.estimate == pytest.approx(np.trace(A), abs=1e-12)
    assert est.stderr == est.rounding  # no sampling error: the bar is the diagonal sum's rounding alone
    assert est.rounding <= 8 * np.finfo(np.float64).eps * np.sum(np.abs(np.diag(A))) * 1.01


def test_xtrace_of_a_full_rank_operator_is_not_its_sketch_trace():
    """Planted bug: the rank-deficiency test ``< num`` as ``≤ num`` (every sketch called rank-deficient).

    For ``A = diag(linspace(1, 2, 40))`` and 4 samples, ``tr(QᵀAQ) ≤ 8`` while ``tr A = 60``: an estimator
    that returns the sketch's trace alone is off by 50+, far outside any honest standard error.
    """
    A = np.diag(np.linspace(1.0, 2.0, 40))
    est = S.xtrace(S.dense_matvec, 40, jax.random.key(13), A, num_matvecs=8)
    assert est.stderr > 0
    assert abs(est.estimate - 60.0) <= max(6 * est.stderr, 1e-9) and abs(est.estimate - 60.0) < 6


# ----------------------------------------------------------------------------- derivatives on looped data


def _looped_instance():
    """A small chain network, 7 samples in batches of 3 (3, 3, 1 + 2 padded): looped on CPU."""
    arch = Architecture((3,), (Dense(4), Output(2)))
    rng = np.random.default_rng(14)
    obj = D.objective(arch, reduction="mean")
    theta = rng.standard_normal(obj.P)
    X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    return obj, theta, X, Y, batching.batches(X, Y, 3), rng


@pytest.mark.parametrize("kind", ["gauss_newton", "residual"])
def test_a_block_operator_on_batches_is_its_own_kind_and_block(kind):
    """Planted bugs: ``HessianMatvec.host_prepare`` (the product of looped data) making the Hessian product
    whatever the operator's ``kind``, or dropping its ``block``.

    The spectral routines' product on several batches must equal the dense matrix of that kind and
    block on the data in one batch: ``c J_kᵀJ_k`` (Gauss–Newton) or ``∇²Φ_kk − c J_kᵀJ_k`` (residual).
    """
    obj, theta, X, Y, data, rng = _looped_instance()
    op = D.HessianMatvec(obj, kind, block=1)  # layer 1: its residual term is not 0
    dense = (D.gauss_newton(obj, theta, X, Y=Y, block=1) if kind == "gauss_newton"
             else D.residual_hessian(obj, theta, X, Y, block=1))
    u = rng.standard_normal(op.dim())
    assert batching.looped(data, theta)
    product = op.host_prepare(theta, data)(u)
    np.testing.assert_allclose(product, np.asarray(dense) @ u, rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(S.materialize(op, op.dim(), theta, data), dense, rtol=1e-12,
                               atol=1e-12 * np.abs(dense).max())


def test_linearized_hvp_of_a_stream_keeps_its_block():
    """Planted bug: ``linearize_hvp`` of a Stream (each product one pass of ``hvp``) dropping ``block``."""
    obj, theta, X, Y, _, rng = _looped_instance()
    stream = batching.Stream(lambda: ((X[i:i + 3], Y[i:i + 3]) for i in range(0, 7, 3)))
    H22 = np.asarray(D.hessian(obj, theta, X, Y, block=2))
    u = rng.standard_normal(H22.shape[0])
    np.testing.assert_allclose(D.linearize_hvp(obj, theta, stream, block=2)(u), H22 @ u, rtol=1e-12,
                               atol=1e-12 * np.abs(H22).max())


# ----------------------------------------------------------------------------- gradient probes


def test_small_gradient_search_starts_from_the_ratio_at_the_given_point():
    """Planted bug: ``ratio_start`` read from the Adam trace one step late (``trace[1]``).

    ``ratio_start`` is ``ρ = ‖∇_{U_{k+1}} Φ‖ / ‖F_L − Y‖`` at the parameters passed in: Lemma 4.3's
    ``grad_norm / residual_norm`` there.
    """
    arch = Architecture((3,), (Dense(5), Dense(4), Output(2)))
    rng = np.random.default_rng(15)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    p0 = sample_params(arch, 15)
    s = GP.small_gradient_search(arch, p0, X, Y, 1, steps=3, lr=0.1)
    b = LS.gradient_bounds(arch, p0, X, Y, 1)
    assert s.ratio_start == pytest.approx(b.grad_norm / b.residual_norm, rel=1e-10)
    assert s.history[0] == s.ratio_start and s.ratio != pytest.approx(s.ratio_start, rel=1e-6)


def test_a_pool_right_after_k_is_refused_by_the_gradient_probes():
    """Planted bug: the max-pooling check of ``k`` started one layer late (``info[k + 1:]``), so a pool at
    layer ``k + 1`` passed although Lemma 4.3 needs conv or dense layers from ``k + 1`` to ``L``."""
    arch = Architecture((4, 4, 1), (Conv(2, (2, 2)), MaxPool((3, 3)), Dense(3), Output(2)))
    X = np.random.default_rng(16).standard_normal((3, 4, 4, 1))
    Y = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"`k`=1: layers \[2\] after k are max-pooling"):
        GP.small_gradient_search(arch, sample_params(arch, 16), X, Y, 1, steps=1)


def test_attaining_point_sets_every_pre_activation_of_layer_k_plus_1_to_level():
    """Planted bug: ``level`` ignored (``b_{k+1}`` always 0.5). The construction is ``W_{k+1} = 0``,
    ``b_{k+1} = level · 1``, so ``G_{k+1} = level`` on every sample and unit (and the bound is attained)."""
    arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
    X = np.random.default_rng(17).standard_normal((5, 3))
    p, Y = GP.attaining_point(arch, sample_params(arch, 17), X, 1, bound="upper", level=-1.25)
    np.testing.assert_array_equal(p["layer_2"]["b"], np.full(4, -1.25))
    G2 = np.asarray(model.preactivations(arch, p, X)[2])
    np.testing.assert_allclose(G2, -1.25, rtol=0, atol=1e-15)
    b = LS.gradient_bounds(arch, p, X, Y, 1)
    assert b.grad_norm == pytest.approx(b.upper, rel=1e-12)


def test_attaining_point_refuses_a_zero_scale():
    """Planted bug: ``scale > 0`` loosened to ``scale >= 0``. At ``scale = 0`` the targets are the outputs,
    ``Φ = 0`` and both bounds are 0: nothing is attained, so the construction must refuse it."""
    arch = Architecture((3,), (Dense(6), Dense(4), Output(2)))
    X = np.random.default_rng(17).standard_normal((5, 3))
    with pytest.raises(ValueError, match=r"`scale`=0.0 a finite positive one"):
        GP.attaining_point(arch, sample_params(arch, 17), X, 1, scale=0.0)


# ----------------------------------------------------------------------------- products counted


counting_matvec = CountingMatvec()  # theory_lab.testing: counts the products actually made


@pytest.mark.parametrize("method, dim, budget", [("hutchinson", 10, 7), ("hutch++", 10, 11), ("xtrace", 10, 7),
                                                 ("xtrace", 6, 8)])
def test_every_trace_estimate_reports_the_products_it_made(method, dim, budget):
    """Library fix (this audit): XTrace reported ``2 · samples`` products also where it materialised the operator
    from ``dim < 2 · samples`` products (``dim = 6``, budget 8: 6 made, 8 reported); an odd budget makes
    ``budget − 1``. Each estimate's ``num_matvecs`` is checked against a counting operator."""
    A = np.diag(np.arange(1.0, dim + 1.0))
    fn = {"hutchinson": S.hutchinson, "hutch++": S.hutch_plus_plus, "xtrace": S.xtrace}[method]
    counting_matvec.n = 0
    est = fn(counting_matvec, dim, jax.random.key(18), A, num_matvecs=budget)
    jax.effects_barrier()
    assert est.num_matvecs == counting_matvec.n <= budget


def _report_instance():
    arch = Architecture((3,), (Dense(4), Output(2)))
    rng = np.random.default_rng(0)
    return arch, rng.standard_normal(arch.num_params), rng.standard_normal((2, 3)), rng.standard_normal((2, 2))


def test_spectrum_report_counts_the_products_made_not_the_budget():
    """Library fix (this audit): the report counted ``probes · steps`` SLQ products and ``3 · budget`` trace
    products as done, and planned Lanczos' cap plus ``2k`` residual products that are never made.

    The Gauss–Newton matrix of 2 samples and 2 outputs has rank ≤ 4 ≪ P = 26, so every SLQ probe's Krylov
    space runs out after at most 5 of its 8 steps; XTrace spends an even number of a budget of 13.
    """
    arch, theta, X, Y = _report_instance()
    rep = C.spectrum_report(arch, theta, X, Y, operator="gauss-newton", k=2, probes=2, steps=8, trace_matvecs=13)
    done, planned = rep["products"]["done"], rep["products"]["planned"]
    depths = rep["density"]["depths"]
    assert max(depths) <= 5 and done["SLQ density"] == sum(depths) == rep["density"]["num_matvecs"]
    assert done["trace estimates"] == sum(t["num_matvecs"] for t in rep["trace"].values()) == 13 + 13 + 12
    assert planned["Lanczos eigenpairs"] == rep["dim"] == 26  # the cap: residuals reuse the Krylov products
    assert done["Lanczos eigenpairs"] == rep["top"]["num_matvecs"] <= planned["Lanczos eigenpairs"]
    assert rep["products"]["total"] == sum(done.values())


def test_outliers_are_converged_eigenvalues_only():
    """Planted bug: outliers taken from every Lanczos value outside the bulk, converged or not.

    With Lanczos capped at 6 products of a 26-parameter Hessian no pair converges, and their Ritz values lie
    outside the bulk; an outlier is documented as a *converged* eigenvalue outside the bulk, so there is none.
    """
    arch, theta, X, Y = _report_instance()
    rep = C.spectrum_report(arch, theta, X, Y, k=3, probes=2, steps=6, trace_matvecs=12, max_matvecs=6)
    values = rep["top"]["values"] + rep["bottom"]["values"]
    assert not any(rep["top"]["converged"] + rep["bottom"]["converged"])
    assert any(not rep["bulk"][0] <= v <= rep["bulk"][1] for v in values)
    assert rep["outliers"] == []


def _sqrt_net(params, X):
    return jnp.sqrt(jnp.abs(X @ params["w"]))


def test_spectrum_report_refuses_a_finite_loss_with_a_non_finite_gradient():
    """Planted bug: the report refusing only when the loss *and* the gradient are non-finite (``or`` for ``and``).

    ``f = √|Xw|`` at ``w = 0``: the loss ``½‖Y‖²`` is finite, its gradient is not (``√`` at 0).
    """
    obj, theta = D.from_model(_sqrt_net, {"w": np.zeros((3, 2))})
    X, Y = np.ones((4, 3)), np.ones((4, 2))
    loss, grad = D.value_and_gradient(obj, theta, X, Y)
    assert np.isfinite(float(loss)) and not np.all(np.isfinite(np.asarray(grad)))
    with pytest.raises(ValueError, match=r"the loss at θ is 4.0 and ‖∇Φ‖ = (nan|inf)"):
        C.spectrum_report(obj, theta, X, Y, k=1, probes=1, steps=2, trace_matvecs=6)


def test_an_operator_of_size_zero_is_refused():
    """Planted bug: ``check_operator`` accepting ``dim = 0`` (``dim < 0`` for ``dim < 1``): an empty operator
    has no spectrum, and Lanczos' start vector would be 0/0."""
    from theory_lab import operators

    with pytest.raises(ValueError, match=r"`dim`=0 must be a positive integer \(the operator's size\)"):
        operators.check_operator(S.dense_matvec, 0, (np.zeros((0, 0)),))


# ----------------------------------------------------------------------------- batching


def test_products_at_once_off_cpu_fit_the_memory_in_bytes():
    """Planted bug: the memory model of a product counted in float64 *entries*, not bytes (the factor 8 dropped),
    so 8× too many products were run at once on an accelerator.

    One product keeps ``factor = 6`` float64 copies of every layer's features ``(N, n_k)`` and 4 vectors
    ``(P,)``: ``8 (6 N Σ n_k + 4P)`` bytes. Memory for 5 products and a little more gives 5; less than one gives 1.
    """
    arch = Architecture((3,), (Dense(4), Output(2)))
    obj = D.objective(arch)
    N = 10
    per = 8 * (6 * N * sum(arch.widths) + 4 * obj.P)
    assert batching.batch_size(obj, N, 5 * per + 7, backend="gpu") == 5
    assert batching.batch_size(obj, N, per - 1, backend="gpu") == 1
    assert batching.batch_size(obj, N, 5 * per, backend="cpu") == 1


def test_zero_products_at_once_is_refused_by_name():
    """Planted bug: ``products_at_once`` accepting ``batch=0`` (``batch < 0`` for ``batch < 1``): zero products
    at once cannot stack a matrix; the dense Hessian must refuse it before any work, naming ``batch``."""
    arch = Architecture((3,), (Dense(4), Output(2)))
    obj = D.objective(arch)
    with pytest.raises(ValueError, match=r"`batch`=0 must be a positive integer \(products run at once\)"):
        batching.products_at_once(obj, 5, batch=0)
    with pytest.raises(ValueError, match=r"`batch`=0 must be a positive integer \(products run at once\)"):
        D.hessian(obj, np.zeros(obj.P), np.ones((5, 3)), np.ones((5, 2)), batch=0)
    assert batching.products_at_once(obj, 5, batch=3) == 3


def test_a_negative_label_is_refused():
    """Planted bug: the label range check without its lower end (``max(Y) < m`` only), so label −1 was taken by
    ``take_along_axis`` as the last class (numpy's negative index), silently."""
    obj, theta = D.from_model(lambda p, X: X @ p["w"], {"w": np.ones((2, 3))}, loss="softmax-cross-entropy")
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"`Y` has labels in \[-1, 1\]; expected 0 … 2 for m = 3 outputs"):
        D.loss(obj, theta, X, np.array([-1, 0, 1]))
    assert np.isfinite(float(D.loss(obj, theta, X, np.array([2, 0, 1]))))


def test_a_nan_in_a_later_batch_is_refused_before_the_linearisation():
    """Planted bug: ``as_data`` checking only the first batch of a Batches for NaN/Inf (its shapes come from
    the first batch; finiteness must be every batch's). ``linearize_hvp`` linearises all batches at once, so a
    NaN in the last batch would make every product NaN."""
    obj, theta, X, Y, _, _ = _looped_instance()
    X = X.copy()
    X[-1, 0] = np.nan  # sample 7: the third batch, whose padding repeats it; counted once, as the user wrote it
    with pytest.raises(ValueError, match=r"`X` contains NaN or Inf \(1 entries\)"):
        D.linearize_hvp(obj, theta, batching.batches(X, Y, 3))


def test_cross_entropy_of_probability_rows_is_minus_sum_y_log_softmax():
    """Planted bug: the cross-entropy of target rows taken as ``logsumexp(f) − y·f``, which is
    ``−Σ_j y_j log softmax(f)_j`` only for rows summing to 1. A zero row (a masked sample) has loss 0, and a
    row ``2 e_0`` twice the loss of ``e_0``."""
    obj, theta = D.from_model(lambda p, X: X @ p["w"], {"w": np.arange(6.0).reshape(2, 3) / 5},
                              loss="softmax-cross-entropy")
    X = np.array([[1.0, -0.5], [0.3, 2.0]])
    F = X @ (np.arange(6.0).reshape(2, 3) / 5)
    logp = F - np.log(np.sum(np.exp(F), axis=1, keepdims=True))
    Y = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    assert float(D.loss(obj, theta, X, Y)) == pytest.approx(-np.sum(Y * logp), rel=1e-13)
