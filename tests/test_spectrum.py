"""theory_lab.spectrum against the dense Hessian (numpy eigvalsh) in float64.

Statistical tests use fixed keys; each states its false-alarm rate (the probability,
over the choice of keys, that a correct estimator fails it).
"""

import math

import jax
import numpy as np
import pytest

from theory_lab import data
from theory_lab import derivatives as D
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
        np.testing.assert_allclose(pairs.residuals, true_res, rtol=0.5, atol=1e-13 * norm)
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
