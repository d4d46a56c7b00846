"""theory_lab.spectrum against the dense Hessian (numpy eigvalsh) in float64.

Statistical tests use fixed keys; each states its false-alarm rate (the probability,
over the choice of keys, that a correct estimator fails it).
"""

import functools
import logging
import math

import jax
import numpy as np
import pytest
import scipy.linalg

from theory_lab.testing import CountingMatvec
from theory_lab import data
from theory_lab import derivatives as D
from theory_lab import krylov
from theory_lab import model
from theory_lab import spectrum as S
from theory_lab.arch import Architecture, Conv, Dense, Output

ARCH = Architecture((8, 8, 1), (Conv(2, (3, 3), bias="filter"), Dense(4), Output(10)))
Z_3SIGMA = 3.2905  # two-sided normal quantile for a false-alarm rate of 1e-3


@pytest.fixture(scope="module")
def inst():
    ds = data.digits(24, noise=1e-6, seed=0)
    obj = D.objective(ARCH)
    rng = np.random.default_rng(0)
    lay = obj.layout
    theta = np.concatenate([rng.standard_normal(leaf.size) * (leaf.shape[0] ** -0.5 if leaf.name == "W" else 0.1)
                            for leaf in lay.leaves])
    H = np.asarray(D.hessian(obj, theta, ds.X, ds.Y))
    lam = np.linalg.eigvalsh(H)
    return dict(obj=obj, theta=theta, X=ds.X, Y=ds.Y, H=H, lam=lam, norm=float(np.abs(lam).max()), P=obj.P)


def test_lanczos_top_and_bottom_five_match_dense_hessian(inst):
    op, P, lam, norm = D.HessianMatvec(inst["obj"]), inst["P"], inst["lam"], inst["norm"]
    top, bottom = S.lanczos(op, P, jax.random.key(1), inst["theta"], inst["X"], inst["Y"], k=5, which="both")
    assert top.converged.all() and bottom.converged.all()
    assert top.num_matvecs < P  # the answer did not need a full tridiagonalisation
    np.testing.assert_array_less(np.abs(top.values - lam[::-1][:5]), 1e-10 * norm)
    np.testing.assert_array_less(np.abs(top.values - lam[::-1][:5]) / np.abs(lam[::-1][:5]), 1e-10)
    np.testing.assert_array_less(np.abs(bottom.values - lam[:5]), 1e-10 * norm)
    for pairs in (top, bottom):  # residuals as reported are the true ones
        true_res = np.linalg.norm(pairs.vectors @ inst["H"] - pairs.values[:, None] * pairs.vectors, axis=1)
        # the residuals are 6e-14..3e-11 (2..800 eps·norm) and agree with the dense ones to 0.25 eps·norm;
        # an atol of 1e-13·norm = 1.5e-11 accepted all-zero residuals
        np.testing.assert_allclose(pairs.residuals, true_res, rtol=0, atol=np.finfo(float).eps * norm)
        np.testing.assert_allclose(np.linalg.norm(pairs.vectors, axis=1), 1.0, rtol=1e-12)


def test_converged_flags_are_honest_at_a_shallow_depth():
    rng = np.random.default_rng(3)
    lam = np.concatenate([[10.0, 9.0, 8.5], rng.uniform(-1.0, 1.0, 197)])
    Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = (Q * lam) @ Q.T
    exact = np.sort(lam)[::-1]
    shallow = S.lanczos(S.dense_matvec, 200, jax.random.key(0), A, k=5, num_matvecs=12)
    deep = S.lanczos(S.dense_matvec, 200, jax.random.key(0), A, k=5, max_matvecs=200)
    assert not shallow.converged.all()  # the bulk's edge has not converged in 12 steps
    err = np.abs(shallow.values - exact[:5])
    assert np.all(err[shallow.converged] <= shallow.tol)
    assert np.all(err[~shallow.converged] <= shallow.residuals[~shallow.converged])  # Weyl bound still holds
    assert deep.converged.all() and np.all(np.abs(deep.values - exact[:5]) <= deep.tol)


def _z(estimates, truth):
    e = np.asarray(estimates)
    return (e.mean() - truth) / (e.std(ddof=1) / math.sqrt(e.size))


def test_trace_estimators_are_unbiased(inst):
    """300 independent runs per estimator (keys fold_in(key(2024), i)); |z| ≤ 3.29 each.

    False-alarm rate: 1e-3 per estimator, ≤ 3e-3 for the test (Bonferroni); the
    normal approximation of the mean of 300 runs is accurate here (bounded summands).
    """
    H, P = inst["H"], inst["P"]
    truth = float(np.trace(H))
    runs = {"hutchinson": S.hutchinson, "hutch++": S.hutch_plus_plus, "xtrace": S.xtrace}
    base = jax.random.key(2024)
    for name, fn in runs.items():
        out = [fn(S.dense_matvec, P, jax.random.fold_in(base, i), H, num_matvecs=24) for i in range(300)]
        est = np.array([o.estimate for o in out])
        z = _z(est, truth)
        assert abs(z) <= Z_3SIGMA, f"{name}: z = {z:.2f}"
        if name != "xtrace":  # standard errors are calibrated: mean reported ≈ observed spread
            ratio = np.mean([o.stderr for o in out]) / est.std(ddof=1)
            assert 0.75 <= ratio <= 1.33, f"{name}: stderr ratio {ratio:.2f}"
    # converse: the same test rejects an estimator biased by 5% of the trace
    est = np.array([S.hutch_plus_plus(S.dense_matvec, P, jax.random.fold_in(base, i), H, num_matvecs=24).estimate
                    for i in range(300)])
    assert abs(_z(est + 0.05 * truth, truth)) > Z_3SIGMA


def test_xtrace_equals_matfrees_estimator():
    """The host-driven XTrace is matfree.stochtrace's leave-one-out XTrace (the simple twin), to rounding."""
    from matfree import stochtrace

    from theory_lab.trace import sphere

    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    A = (Q * np.r_[np.linspace(5.0, 1.0, 8), rng.uniform(-0.1, 0.1, 52)]) @ Q.T
    # the same sphere samples on both sides: ours are drawn on the host (no compiled draw), from the law of
    # matfree's sampler_sphere; the test compares the estimators, not the random streams
    sampler = functools.partial(sphere, num=10, dim=60)
    twin = stochtrace.estimator_leave_one_out_mean_and_sem(stochtrace.leave_one_out_xtrace(), sampler)
    for i in range(3):
        key = jax.random.fold_in(jax.random.key(11), i)
        ours = S.xtrace(S.dense_matvec, 60, key, A, num_matvecs=20)
        mean, sem = (float(x) for x in twin(lambda v: A @ v, key))
        assert ours.num_matvecs == 20
        # the bar with ddof = 1 (XTrace's authors), matfree's with ddof = 0: √(10/9) apart (session 33)
        np.testing.assert_allclose([ours.estimate, ours.stderr - ours.rounding], [mean, sem * math.sqrt(10 / 9)],
                                   rtol=1e-12, atol=1e-12 * np.trace(A))
    # rank-deficient samples (A of rank 3 < 10 samples): tr(QᵀAQ), exact, as in matfree
    low = (Q[:, :3] * [3.0, 2.0, 1.0]) @ Q[:, :3].T
    ours = S.xtrace(S.dense_matvec, 60, jax.random.key(12), low, num_matvecs=20)
    np.testing.assert_allclose(ours.estimate, 6.0, rtol=1e-12)


def test_slq_density_is_close_to_the_exact_spectrum(inst):
    """W1 ≤ π(b−a)/(4K) (Gauss quadrature, Jackson) + 3(b−a)/√(2 n_v (P+2)) (probe sampling)."""
    H, P, lam = inst["H"], inst["P"], inst["lam"]
    K, nv = 40, 8
    dens = S.slq_density(S.dense_matvec, P, jax.random.key(5), H, num_probes=nv, num_matvecs=K)
    np.testing.assert_allclose(dens.weights.sum(axis=1), 1.0, rtol=1e-12)
    width = lam[-1] - lam[0]
    assert lam[0] - 1e-10 * width <= dens.lambda_min and dens.lambda_max <= lam[-1] + 1e-10 * width  # interlacing
    assert abs(dens.lambda_max - lam[-1]) <= 1e-8 * width  # the top outlier converges first
    w1 = S.wasserstein1(dens, lam)
    bound = math.pi * width / (4 * K) + 3 * width / math.sqrt(2 * nv * (P + 2))
    assert w1 <= bound, f"W1 = {w1:.3g} > {bound:.3g}"
    assert w1 <= 0.01 * width  # regression guard, far below the a-priori bound (observed ≈ 1e-3 · width)
    print(f"W1 = {w1:.4g} = {w1 / width:.2e} · (λ_max − λ_min); bound {bound:.4g}")
    assert np.trapezoid(dens.density, dens.grid) == pytest.approx(1.0, abs=1e-3)
    ref = S.exact_density(lam, sigma=dens.sigma, grid=dens.grid)  # same smoothing of the exact eigenvalues
    assert np.trapezoid(ref, dens.grid) == pytest.approx(1.0, abs=1e-3)
    l1 = np.trapezoid(np.abs(dens.density - ref), dens.grid)
    print(f"L1(smoothed SLQ, smoothed exact) = {l1:.3f}")
    assert l1 < 0.1  # L1 distance of the smoothed densities (at most 2); observed ≈ 0.03
    for x in (lam[0] / 2, -1e-9, 1e-9, lam[-1] / 4):
        est, lo, hi = dens.cdf(x)
        assert lo <= est <= hi
        truth = np.mean(lam < x)
        assert lo - 0.1 <= truth <= hi + 0.1  # bounds are per probe; the 0.1 allows for probe sampling


def test_wasserstein1_of_simple_measures():
    def point_density(nodes, weights):
        nodes, weights = np.atleast_2d(nodes), np.atleast_2d(weights)
        return S.Density(nodes, weights, 1, np.zeros(1), np.zeros(1), 1.0, nodes.min(), nodes.max())
    assert S.wasserstein1(point_density([0.0], [1.0]), [1.0]) == pytest.approx(1.0)
    assert S.wasserstein1(point_density([0.0, 2.0], [0.5, 0.5]), [0.0, 2.0]) == pytest.approx(0.0)
    assert S.wasserstein1(point_density([0.0, 2.0], [0.5, 0.5]), [1.0, 1.0]) == pytest.approx(1.0)


def test_inertia_exact_and_estimated(inst):
    H, P, lam, norm = inst["H"], inst["P"], inst["lam"], inst["norm"]
    ex = S.inertia(S.dense_matvec, P, H)
    tol = P * np.finfo(float).eps * norm
    counts = (int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol)), int(np.sum(lam > tol)))
    assert (ex.negative, ex.zero, ex.positive) == counts and ex.method == "exact"
    assert ex.zero > 0 and ex.negative > 0 and ex.margin > 10
    est = S.inertia(S.dense_matvec, P, H, key=jax.random.key(6), exact_max=10, num_probes=8, num_matvecs=60)
    assert est.method == "slq"
    assert est.negative + est.zero + est.positive == pytest.approx(P)
    for (lo, hi), true in zip(est.bounds, counts):
        assert lo - 0.1 * P <= true <= hi + 0.1 * P


def test_materialize_and_exact_trace(inst):
    H, P = inst["H"], inst["P"]
    op = D.HessianMatvec(inst["obj"])
    A = np.asarray(S.materialize(op, P, inst["theta"], inst["X"], inst["Y"], batch=50))
    np.testing.assert_allclose(A, H, atol=1e-12 * inst["norm"])
    assert S.trace_exact(S.dense_matvec, P, H) == pytest.approx(np.trace(H), rel=1e-13)
    inside = jax.jit(lambda M: S.materialize(S.dense_matvec, 6, M))(H[:6, :6])  # traced: the lax.map path
    np.testing.assert_allclose(np.asarray(inside), 0.5 * (H[:6, :6] + H[:6, :6].T), rtol=1e-15)


def test_a_hessian_operator_refuses_wrong_arguments_before_any_product():
    """HessianMatvec checks its own arguments (check_operator asks it): no Hessian is traced to find them."""
    from theory_lab import batching

    arch = Architecture((3,), (Dense(2), Output(1)))
    A, key = D.HessianMatvec(D.objective(arch)), jax.random.key(0)
    theta, X, Y = np.zeros(11), np.ones((4, 3)), np.ones((4, 1))
    S.lanczos(A, 11, key, theta, X, Y, k=1)  # right ones pass
    with pytest.raises(ValueError, match=r"`dim`=12 but this operator has size 11 \(P\); pass dim=A.dim\(\)"):
        S.lanczos(A, 12, key, theta, X, Y, k=1)
    block = D.HessianMatvec(D.objective(arch), block=1)
    with pytest.raises(ValueError, match=r"`dim`=11 but this operator has size 8 \(P_k of block 1\)"):
        S.hutchinson(block, 11, key, theta, X, Y)
    with pytest.raises(ValueError, match=r"`theta` has shape \(10,\); expected \(11,\)"):
        S.lanczos(A, 11, key, np.zeros(10), X, Y, k=1)
    with pytest.raises(TypeError, match="float64"):
        S.slq_density(A, 11, key, theta, X.astype(np.float32), Y, num_matvecs=4)
    with pytest.raises(ValueError, match="`Y` is missing"):
        S.lanczos(A, 11, key, theta, X, k=1)
    with pytest.raises(ValueError, match="`Y` must be None when `X` is a Batches"):
        S.lanczos(A, 11, key, theta, batching.batches(X, Y, 2), Y, k=1)
    with pytest.raises(ValueError, match=r"`X` has shape \(4, 2\); expected \(N, 3\)"):
        S.lanczos(A, 11, key, theta, np.ones((4, 2)), Y, k=1)


def test_errors_name_the_argument():
    A = np.eye(4)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`which`='middle' is unknown"):
        S.lanczos(S.dense_matvec, 4, key, A, which="middle")
    with pytest.raises(ValueError, match=r"`k`=5 must be an integer in \[1, dim=4\]"):
        S.lanczos(S.dense_matvec, 4, key, A, k=5)
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        S.lanczos(S.dense_matvec, 4, 0, A, k=1)
    with pytest.raises(TypeError, match="`matvec` must be hashable"):
        S.hutchinson(_Unhashable(), 4, key, A)
    with pytest.raises(ValueError, match=r"maps a float64 \(4,\) vector to"):
        S.hutchinson(lambda v, M: (M @ v)[:2], 4, key, A)
    with pytest.raises(ValueError, match="`num_matvecs`=1 must be an integer >= 2"):
        S.hutchinson(S.dense_matvec, 4, key, A, num_matvecs=1)
    with pytest.raises(ValueError, match=r"`num_matvecs`=9 must be an integer in \[1, dim=4\]"):
        S.slq_density(S.dense_matvec, 4, key, A, num_matvecs=9)
    with pytest.raises(ValueError, match="`key` is needed"):
        S.inertia(S.dense_matvec, 4, A, exact_max=2)


class _Unhashable:
    __hash__ = None

    def __call__(self, v, A):
        return A @ v


# ----------------------------------------------------------------------------- breakdown, extension, counts


def _low_rank(dim=60, seed=11):
    """A PSD operator of rank 6 with a repeated eigenvalue: spectrum {5, 5, 3, 2, 1, 0.5, 0 × (dim − 6)}."""
    rng = np.random.default_rng(seed)
    lam = np.r_[5.0, 5.0, 3.0, 2.0, 1.0, 0.5, np.zeros(dim - 6)]
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (Q * lam) @ Q.T, np.sort(lam)


counting_matvec = CountingMatvec()  # theory_lab.testing: counts the products actually made


def test_lanczos_survives_the_krylov_space_running_out():
    A, lam = _low_rank()
    norm = lam[-1]
    for driver in ("host", "python", "loop"):
        top = S.lanczos(S.dense_matvec, 60, jax.random.key(0), A, k=9, driver=driver)  # k > rank = 6
        np.testing.assert_allclose(top.values, lam[::-1][:9], atol=1e-12 * norm)  # 5, 5 (twice), …, 0, 0, 0
        assert top.converged.all() and top.breakdowns >= 1
        bottom = S.lanczos(S.dense_matvec, 60, jax.random.key(1), A, k=4, which="bottom", driver=driver)
        np.testing.assert_allclose(bottom.values, 0.0, atol=1e-12 * norm)
        assert bottom.converged.all()
    full = S.lanczos(S.dense_matvec, 60, jax.random.key(2), A, k=60)  # k = dim: every eigenvalue, exactly
    np.testing.assert_allclose(full.values, lam[::-1], atol=1e-12 * norm)
    assert full.converged.all()
    V = full.vectors
    np.testing.assert_allclose(V @ V.T, np.eye(60), atol=1e-10)  # orthogonality kept through 54 breakdowns
    with pytest.raises(ValueError, match=r"`k`=61 must be an integer in \[1, dim=60\]"):
        S.lanczos(S.dense_matvec, 60, jax.random.key(0), A, k=61)
    top, bottom = S.lanczos(S.dense_matvec, 60, jax.random.key(3), A, k=40, which="both")  # 2k > dim
    assert top.values.size == 40 and bottom.values.size == 20  # disjoint ends: no pair listed twice
    np.testing.assert_allclose(np.sort(np.r_[top.values, bottom.values]), lam, atol=1e-12 * norm)


def test_slq_density_stays_in_the_spectrum_when_the_krylov_space_runs_out():
    A, lam = _low_rank()
    dens = S.slq_density(S.dense_matvec, 60, jax.random.key(4), A, num_probes=6, num_matvecs=40)
    assert np.all(dens.depths <= 7) and dens.exact.all()  # 5 distinct nonzero eigenvalues and 0, then breakdown
    assert dens.num_matvecs == int(dens.depths.sum())
    assert -1e-12 * lam[-1] <= dens.lambda_min and dens.lambda_max <= lam[-1] * (1 + 1e-12)
    np.testing.assert_allclose(dens.weights.sum(axis=1), 1.0, rtol=1e-12)
    distinct = np.unique(lam)
    live = dens.weights > 0
    assert np.all(np.min(np.abs(dens.nodes[live][:, None] - distinct[None, :]), axis=1) <= 1e-12 * lam[-1])
    inert = S.inertia(S.dense_matvec, 60, A, density=dens)
    assert inert.negative == 0.0 and min(inert.zero, inert.positive) >= 0.0
    assert inert.bounds[0] == (0.0, 0.0)  # no node below −tol on any (exact) probe
    assert inert.zero + inert.positive == pytest.approx(60)
    for count, se, true in zip((inert.zero, inert.positive), inert.stderr[1:], (54, 6)):
        assert abs(count - true) <= 5 * se + 1e-9  # Rademacher probes: the weights are random, the nodes exact
    assert "±" in inert.summary() and "bounds" in inert.summary()
    loop = S.slq_density(S.dense_matvec, 60, jax.random.key(4), A, num_probes=6, num_matvecs=40, driver="loop")
    np.testing.assert_array_equal(loop.depths, dens.depths)  # the jitted-loop driver (accelerators) agrees
    np.testing.assert_allclose(loop.nodes, dens.nodes, atol=1e-12 * lam[-1])
    np.testing.assert_allclose(loop.weights, dens.weights, atol=1e-12)


def test_gauss_newton_of_two_samples_has_no_spurious_spectrum():
    """Issue 9.1: GN at N = 2 has rank ≤ 20 ≪ P = 362; density, ends and inertia stay in [0, λ_max]."""
    ds = data.digits(2, noise=1e-6, seed=0)
    obj = D.objective(ARCH)
    theta = np.asarray(D.flatten(model.init(ARCH, jax.random.key(0)))[0])
    args = (theta, ds.X, ds.Y)
    G = np.asarray(D.gauss_newton(obj, theta, ds.X))
    lam = np.linalg.eigvalsh(G)
    op = D.HessianMatvec(obj, "gauss_newton")
    top, bottom = S.lanczos(op, obj.P, jax.random.key(0), *args, k=5, which="both")
    np.testing.assert_allclose(top.values, lam[::-1][:5], atol=1e-10 * lam[-1])
    np.testing.assert_allclose(bottom.values, 0.0, atol=1e-10 * lam[-1])
    dens = S.slq_density(op, obj.P, jax.random.key(1), *args, num_probes=4, num_matvecs=64)
    assert dens.exact.all()
    assert -1e-10 * lam[-1] <= dens.lambda_min and dens.lambda_max <= lam[-1] * (1 + 1e-10)
    inert = S.inertia(op, obj.P, *args, density=dens)
    assert inert.negative == 0.0 and inert.bounds[0] == (0.0, 0.0)


def test_extending_the_basis_matches_a_fresh_run_and_counts_every_product():
    rng = np.random.default_rng(5)
    lam = np.concatenate([[10.0, 9.0, 8.5, 8.0, 7.9], rng.uniform(-1.0, 1.0, 195)])
    Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = (Q * lam) @ Q.T
    norm = 10.0
    for driver in ("host", "python", "loop"):
        counting_matvec.n = 0
        ext = S.lanczos(counting_matvec, 200, jax.random.key(7), A, k=5, driver=driver)
        jax.effects_barrier()  # host callbacks run asynchronously
        assert ext.num_matvecs == counting_matvec.n == ext.depth  # Krylov steps only: residuals from their products
        assert ext.converged.all()
        # the residuals assembled from the steps' products are the true ones (a fresh product each)
        true = np.linalg.norm(ext.vectors @ A - ext.values[:, None] * ext.vectors, axis=1)
        # residuals 7.8e-14..1.4e-10, agreeing to 5e-16 (0.2 eps·norm); 1e-13·norm accepted 10x the smallest
        np.testing.assert_allclose(ext.residuals, true, rtol=0, atol=np.finfo(float).eps * norm)
        fresh = S.lanczos(S.dense_matvec, 200, jax.random.key(7), A, k=5, num_matvecs=ext.depth, driver=driver)
        np.testing.assert_allclose(ext.values, fresh.values, rtol=0, atol=1e-12 * norm)
        np.testing.assert_allclose(np.abs(np.sum(ext.vectors * fresh.vectors, axis=1)), 1.0, atol=1e-12)
        np.testing.assert_allclose(ext.values, np.sort(lam)[::-1][:5], atol=ext.tol)
        # the smallest depth at which the free estimates say converged, from one long basis
        K = krylov.extend(krylov.start(S.dense_matvec, 200, jax.random.key(7), (A,), driver=driver), 120)
        alpha, beta, _ = K.tridiagonal()
        first = None
        for m in range(5, 120):
            theta, vec = scipy.linalg.eigh_tridiagonal(alpha[:m], beta[:m - 1])
            est = np.abs(beta[m - 1] * vec[-1, -5:])
            if np.all(est <= 1e-10 * np.abs(theta).max()):
                first = m
                break
        assert first is not None and first <= ext.depth <= 1.1 * first
        assert ext.num_matvecs <= 1.1 * first
    counting_matvec.n = 0
    top, bottom = S.lanczos(counting_matvec, 200, jax.random.key(7), A, k=3, which="both")
    jax.effects_barrier()
    assert top.num_matvecs == bottom.num_matvecs == counting_matvec.n == top.depth


@pytest.mark.parametrize("driver", ("host", "python"))
def test_extending_and_checking_compile_nothing_per_depth(caplog, driver):
    """Issue 10 (cold runs): after the first steps, deeper bases, their tridiagonals and residuals reuse
    the programs already compiled (a device slice per depth once compiled a program each)."""
    rng = np.random.default_rng(8)
    A = rng.standard_normal((120, 120))
    A = A + A.T
    K = krylov.start(S.dense_matvec, 120, jax.random.key(3), (A,), keep_products=True, driver=driver)
    K = krylov.extend(K, 3)
    theta, vec, _ = krylov.ritz(K)
    krylov.ritz_residuals(K, vec[:, -2:], theta[-2:])
    with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
        for depth in range(4, 40):
            K = krylov.extend(K, depth)
            theta, vec, _ = krylov.ritz(K)
        krylov.ritz_residuals(K, vec[:, -2:], theta[-2:])
    assert K.depth == 39 and K.capacity == 64
    compiled = [r.getMessage() for r in caplog.records if "compil" in r.getMessage().lower()]
    assert not compiled, compiled


def test_inertia_counts_are_never_negative_and_printed_with_their_error(inst):
    H, P = inst["H"], inst["P"]
    est = S.inertia(S.dense_matvec, P, H, key=jax.random.key(6), exact_max=10, num_probes=8, num_matvecs=60)
    assert min(est.negative, est.zero, est.positive) >= 0.0
    for count, (lo, hi) in zip((est.negative, est.zero, est.positive), est.bounds):
        assert 0.0 <= lo <= count <= hi <= P
    line = est.summary()
    assert line.count("±") == 3 and line.count("bounds") == 3
    ex = S.inertia(S.dense_matvec, P, H)
    assert ex.summary().startswith(f"{ex.negative} negative, {ex.zero} zero, {ex.positive} positive")
    assert "±" not in ex.summary()
    assert ex.to_dict()["summary"] == ex.summary()


def test_host_drawn_probes_are_seeded_independent_and_of_their_law():
    """Issue 10 (cold runs): probes drawn on the host from a key are reproducible, differ between split keys,
    are ±1 (Rademacher) or on the sphere of radius √dim (XTrace), and a non-key is refused."""
    from theory_lab.trace import sphere

    key = jax.random.key(4)
    a, b = krylov.split_key(key, 2)
    again = krylov.split_key(key, 2)
    data = [np.asarray(jax.random.key_data(k)) for k in (a, b, *again)]
    assert np.array_equal(data[0], data[2]) and np.array_equal(data[1], data[3])
    assert not np.array_equal(data[0], data[1])
    R = krylov.rademacher(a, (3, 400))
    assert set(np.unique(R)) == {-1.0, 1.0} and np.array_equal(R, krylov.rademacher(a, (3, 400)))
    assert not np.array_equal(R, krylov.rademacher(b, (3, 400)))
    assert abs(R.mean()) < 4 / math.sqrt(R.size)  # fair signs (4 standard errors)
    X = sphere(b, 4, 50)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), math.sqrt(50), rtol=1e-14)
    raw = np.asarray(jax.random.key_data(key))  # an old-style uint32 key
    assert np.array_equal(krylov.rademacher(jax.device_put(raw), (2, 5)), krylov.rademacher(key, (2, 5)))
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        krylov.key_rng(3)
