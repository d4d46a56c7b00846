"""Session 30: the derivative machinery under non-default settings, against independent references.

The references are a hand-written forward pass of a tiny dense net (no theory_lab code) and
``jax.hessian`` / ``jax.jacfwd`` of it, with ``Λ = diag p − ppᵀ`` written out for softmax
cross-entropy. The first tests pin what was found right (losses, reductions, blocks, batches,
product counts); the others failed on the code before the session's fixes.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching, critical, curvature_report, model, operators
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output

ARCH = Architecture((3,), (Dense(4, activation="tanh"), Dense(3, activation="sigmoid"), Output(2)))
SIZES = ((3, 4), (4, 3), (3, 2))
N = 7


def _forward(t, X):
    """The network of ARCH written out: θ = [W_1, b_1, W_2, b_2, W_3, b_3], each W row-major."""
    out, o = [], 0
    for a, b in SIZES:
        out.append((t[o:o + a * b].reshape(a, b), t[o + a * b:o + a * b + b]))
        o += a * b + b
    (W1, b1), (W2, b2), (W3, b3) = out
    return jax.nn.sigmoid(jnp.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(ARCH.num_params), rng.standard_normal((N, 3)), rng.integers(0, 2, N),
            rng.standard_normal((N, 2)))


def _close(a, b, rtol=1e-13):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= rtol * np.max(np.abs(b)), np.max(np.abs(a - b))


@jax.jit
def _jacobian(theta, X):
    return jax.jacfwd(lambda t: _forward(t, X).reshape(-1))(theta)


def _references(theta, X, labels):
    """Φ, ∇Φ, ∇²Φ and c JᵀΛJ of the mean softmax cross-entropy, from the written-out network."""
    def phi(t):
        F = _forward(t, X)
        return jnp.mean(jax.nn.logsumexp(F, axis=1) - F[jnp.arange(N), labels])

    F = np.asarray(jax.jit(_forward)(theta, X))
    J = np.asarray(_jacobian(theta, X))
    p = np.exp(F - F.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    Lam = np.zeros((2 * N, 2 * N))
    for i in range(N):
        Lam[2 * i:2 * i + 2, 2 * i:2 * i + 2] = np.diag(p[i]) - np.outer(p[i], p[i])
    H = np.asarray(jax.jit(jax.hessian(phi))(theta))
    return jax.jit(phi)(theta), jax.jit(jax.grad(phi))(theta), H, J.T @ Lam @ J / N


@functools.lru_cache(maxsize=1)
def _cross_entropy_case():
    theta, X, labels, _ = _data()
    return theta, X, labels, D.objective(ARCH, loss="softmax-cross-entropy", reduction="mean"), \
        _references(theta, X, labels)


def test_cross_entropy_mean_on_batches_matches_the_written_out_network():
    """Loss, gradient, Hessian and Gauss–Newton products of the mean cross-entropy on 3 batches of 3 (the last
    padded) equal the reference's."""
    theta, X, labels, obj, (phi, grad, H, GN) = _cross_entropy_case()
    data = batching.batches(X, labels, 3)
    v = np.linspace(-1, 1, obj.P)
    _close(D.loss(obj, theta, data), phi)
    _close(D.gradient(obj, theta, data), grad)
    _close(D.hvp(obj, theta, data, v=v), H @ v)
    _close(D.gauss_newton_vp(obj, theta, data, v), GN @ v)


def test_cross_entropy_block_is_the_sub_block_of_the_full_hessian():
    """Layer 2's dense Hessian block and residual-term product are the sub-block of the reference's matrices."""
    theta, X, labels, obj, (_, _, H, GN) = _cross_entropy_case()
    sl = obj.layout.block(2)
    v = np.linspace(-1, 1, sl.stop - sl.start)
    _close(D.hessian(obj, theta, X, labels, block=2), H[sl, sl])
    _close(D.residual_vp(obj, theta, X, labels, v, block=2), (H - GN)[sl, sl] @ v, rtol=1e-12)


def test_spectrum_report_counts_every_product_it_makes():
    """The report's product total is the number of operator products made (each call of the per-batch
    product counted, vectors of a block counted one by one) plus the gradient, counted as 1."""
    theta, X, _, Y = _data(1)
    obj = D.objective(ARCH, reduction="mean")
    made = []
    with operators.observe_products(made.append):
        rep = curvature_report.spectrum_report(obj, theta, batching.batches(X, Y, 4), operator="gauss-newton",
                                               block=1, k=2, probes=2, steps=5, trace_matvecs=12)
    assert rep["products"]["total"] == sum(made) + 1
    assert rep["products"]["done"]["inertia"] == rep["dim"] == 16


def test_custom_loss_gauss_newton_takes_the_targets_of_a_batches_or_stream():
    """Was: "`Y` is needed … pass Y=… (or the data as a Batches)" for data given as a Batches, which refuses Y."""
    theta, X, _, Y = _data(2)

    def half_squares(F, T):
        return 0.5 * jnp.sum((F - T) ** 2, axis=-1)

    obj = D.objective(ARCH, loss=half_squares)
    J = np.asarray(_jacobian(theta, X))
    _close(D.gauss_newton(obj, theta, batching.batches(X, Y, 3)), J.T @ J)
    v = np.linspace(-1, 1, obj.P)
    stream = batching.Stream([(X[:4], Y[:4]), (X[4:], Y[4:])], batch_size=3)
    _close(D.gauss_newton_vp(obj, theta, stream, v), J.T @ (J @ v))
    with pytest.raises(ValueError, match="`Y` is needed"):
        D.gauss_newton_vp(obj, theta, X, v)


def test_labels_of_every_batch_are_checked_before_any_work():
    """A label out of range in the last batch gave a NaN loss where the batches are summed by lax.scan (off CPU,
    or under a trace), and on CPU an error only once the earlier batches had been computed."""
    theta, X, labels, _ = _data(3)
    obj = D.objective(ARCH, loss="softmax-cross-entropy")
    labels[-1] = 5
    data = batching.batches(X, labels, 3)
    with pytest.raises(ValueError, match=r"`Y` has labels in \[0, 5\]; expected 0 … 1"):
        O.as_data(obj, data, None)
    with pytest.raises(ValueError, match=r"`Y` has labels in \[0, 5\]"):
        D.loss(obj, theta, data)


def test_residuals_refuse_targets_that_only_broadcast():
    """``residuals`` took ``Y (N, 1)`` and ``Y (m,)`` and broadcast them against ``F_L (N, m)``: wrong residuals."""
    theta, X, labels, Y = _data(4)
    obj = D.objective(ARCH)
    _close(D.residuals(obj, theta, X, Y), (np.asarray(_forward(theta, X)) - Y).reshape(-1))
    with pytest.raises(ValueError, match=r"`Y` has shape \(7, 1\); expected \(N, m\) = \(7, 2\)"):
        D.residuals(obj, theta, X, Y[:, :1])
    with pytest.raises(ValueError, match=r"`Y` has shape \(2,\); expected \(N, m\) = \(7, 2\)"):
        D.residuals(obj, theta, X, Y[0])
    with pytest.raises(ValueError, match="`Y` is missing"):
        D.residuals(obj, theta, X, None)
    with pytest.raises(ValueError, match="'softmax-cross-entropy' loss; residuals F_L − Y are the squared loss's"):
        D.residuals(D.objective(ARCH, loss="softmax-cross-entropy"), theta, X, labels)


def test_sample_jacobian_of_a_block_takes_a_numpy_theta():
    """Was: AttributeError "'numpy.ndarray' object has no attribute 'at'"."""
    theta, X, _, _ = _data(5)
    obj = D.objective(ARCH)
    J = np.asarray(_jacobian(theta, X))
    sl = obj.layout.block(3)
    _close(D.sample_jacobian(obj, theta, X, block=3), J[:, sl])


@pytest.mark.parametrize("block", [True, 1.0])
def test_a_layer_block_is_an_integer(block):
    """``block=True`` and ``block=1.0`` were read as layer 1."""
    theta, X, _, Y = _data(6)
    with pytest.raises(ValueError, match=rf"`block`={block!r} is not a layer with parameters; expected one of"):
        D.gradient(D.objective(ARCH), theta, X, Y, block=block)


def test_spectrum_report_refuses_a_reduction_its_objective_does_not_have():
    """``reduction="mean"`` beside an Objective of the sum was ignored (the report said "sum"); "avg" was accepted."""
    theta, X, _, Y = _data(7)
    budgets = dict(k=1, probes=1, steps=3, trace_matvecs=6)
    with pytest.raises(ValueError, match="`reduction`='mean' but the Objective's reduction is 'sum'"):
        curvature_report.spectrum_report(D.objective(ARCH), theta, X, Y, reduction="mean", **budgets)
    with pytest.raises(ValueError, match="`reduction`='avg' is unknown"):
        curvature_report.spectrum_report(ARCH, theta, X, Y, reduction="avg", **budgets)
    rep = curvature_report.spectrum_report(ARCH, theta, X, Y, reduction="mean", **budgets)
    assert rep["reduction"] == "mean"


def test_spectrum_report_checks_max_matvecs_before_any_product():
    """``max_matvecs`` below ``k`` was refused by Lanczos after the gradient had been computed and reported, and one
    above ``dim`` (which the plan clamps, as it does ``k`` and ``steps``) was refused there too."""
    theta, X, _, Y = _data(8)
    budgets = dict(k=3, probes=1, steps=3, trace_matvecs=6, exact_max=0)
    stages = []
    with pytest.raises(ValueError, match="`max_matvecs`=2 is below k=3"):
        curvature_report.spectrum_report(ARCH, theta, X, Y, max_matvecs=2, on_result=lambda s, e: stages.append(s),
                                         **budgets)
    assert stages == []
    with pytest.raises(ValueError, match=r"`max_matvecs`=0 must be an integer >= 1"):
        curvature_report.spectrum_report(ARCH, theta, X, Y, max_matvecs=0, **budgets)
    rep = curvature_report.spectrum_report(ARCH, theta, X, Y, block=3, max_matvecs=10**6, **budgets)
    assert rep["products"]["planned"]["Lanczos eigenpairs"] == rep["dim"] == 8
    assert rep["products"]["done"]["Lanczos eigenpairs"] <= 8


def test_cross_entropy_gauss_newton_of_rows_not_summing_to_one_needs_their_targets():
    """``Λ = s (diag p − ppᵀ)`` with ``s`` the row sum: with ``Y`` given, GN + residual = H; without it (the
    docstring promised independence of the targets) GN is that of rows summing to 1, here half the truth."""
    theta, X, _, _ = _data(9)
    obj = D.objective(ARCH, loss="softmax-cross-entropy")
    Y = 2.0 * np.eye(2)[[0, 1, 1, 0, 1, 0, 0]]
    v = np.linspace(-1, 1, obj.P)
    gn = D.gauss_newton_vp(obj, theta, X, v, Y=Y)
    _close(gn + D.residual_vp(obj, theta, X, Y, v), D.hvp(obj, theta, X, Y, v), rtol=1e-12)
    _close(D.gauss_newton_vp(obj, theta, X, v), 0.5 * gn)


POOLED = Architecture((6, 6, 1), (Conv(1, (3, 3)), MaxPool((2, 2)), Output(2)))


def test_critical_point_search_before_a_pool_reports_no_membership_instead_of_failing_after_it():
    """Conv (wide, n_1 = 16 ≥ N) → max-pool → output: ``default_k`` took k = 1 and the membership report refused it
    (pooling after k) once the whole search had run; S_k is defined at no layer here, so no membership."""
    X = np.random.default_rng(10).standard_normal((6, 6, 6, 1))
    Y = np.random.default_rng(11).standard_normal((6, 2))
    res = critical.find_critical_point(POOLED, model.init(POOLED, jax.random.key(0)), X, Y, max_iter=2,
                                       classify=False)
    assert res.membership is None and res.in_S_k is None and res.to_dict()["membership"] is None
    with pytest.raises(ValueError, match="no hidden conv or dense layer after its last max-pooling layer"):
        critical.default_k(POOLED, 6)
    after = Architecture((6, 6, 1), (Conv(1, (3, 3)), MaxPool((2, 2)), Dense(3), Output(2)))
    assert critical.default_k(after, 6) == 3  # was 1, the wide layer before the pool


@pytest.mark.parametrize("k", [5, 1, 2.0])
def test_critical_point_search_refuses_a_wrong_k_before_searching(k):
    """``k`` out of range, or with pooling after it, was refused by the membership report after the search."""
    X = np.random.default_rng(12).standard_normal((6, 6, 6, 1))
    Y = np.random.default_rng(13).standard_normal((6, 2))
    calls = []
    with pytest.raises(ValueError, match=rf"`k`={k!r} is not a hidden layer with only conv or dense layers after it"):
        critical.find_critical_point(POOLED, model.init(POOLED, jax.random.key(0)), X, Y, k=k, max_iter=2,
                                     callback=calls.append)
    assert calls == []
