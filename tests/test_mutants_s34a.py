"""Session 34 mutation pass on :mod:`theory_lab.objective` and :mod:`theory_lab.operators`.

Each test kills mutants ``s34a-*`` of ``tools/plant_bugs.py`` that the rest of the suite let through
(named in its docstring), against a reference independent of the library: the loss and gradient of
a one-hidden-layer tanh network written out in numpy, the closed-form Hessian of its last layer,
``jax.hessian`` / ``jax.jacfwd`` of the network written here (not through the library's objective), the
identity ``H = JᵀΛJ + Σ_i r_i ∇²f_i`` and the Gauss–Newton matrix being symmetric PSD.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching, operators
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab.spectrum import dense_matvec

N, D_IN, HID, M = 5, 3, 4, 2


def net(params, X):
    """``tanh(X W1) W2``: ``X (N, D_IN)`` -> ``(N, M)``."""
    return jnp.tanh(X @ params["w1"]) @ params["w2"]


def _point(seed):
    rng = np.random.default_rng(seed)
    params = {"w1": rng.standard_normal((D_IN, HID)), "w2": rng.standard_normal((HID, M))}
    return params, rng.standard_normal((N, D_IN)), rng


def _hidden(params, X):
    return np.tanh(X @ params["w1"])


def _squared_grads(params, X, Y):
    """``(½‖F − Y‖², ∂/∂W1, ∂/∂W2)`` of ``F = tanh(X W1) W2``, by hand in numpy."""
    H = _hidden(params, X)
    R = H @ params["w2"] - Y
    return 0.5 * np.sum(R * R), X.T @ ((R @ params["w2"].T) * (1.0 - H * H)), H.T @ R


def _stream(X, Y, sizes=(2, 2, 1)):
    """A Stream over the samples in chunks of ``sizes`` (a list: re-iterable)."""
    cuts = np.cumsum((0,) + sizes)
    return batching.Stream([(X[a:b], Y[a:b]) for a, b in zip(cuts[:-1], cuts[1:])])


# ----------------------------------------------------------------------------- objective: data checks


def test_outputs_that_mix_the_samples_are_refused():
    """Mutant s34a-check-data-N-dropped: ``check_data`` checking only that the outputs are 2-D. A network that
    sums over the samples maps ``(5, 3)`` to ``(1, 2)``; ``F − Y`` would broadcast to ``(5, 2)`` silently."""
    params, X, rng = _point(0)
    pooled = O.objective(lambda p, X: net(p, X.sum(axis=0, keepdims=True)), params)
    theta = pooled.layout.ravel(params)
    Y = rng.standard_normal((N, M))
    match = r"maps `X` \(5, 3\) to outputs \(1, 2\); expected \(N, m\) with N = 5"
    with pytest.raises(ValueError, match=match):
        O.check_data(pooled, X, Y)
    with pytest.raises(ValueError, match=match):
        D.loss(pooled, theta, X, Y)


@pytest.mark.parametrize("labels, low, high", [([0, -1, 1, 0, 1], -1, 1), ([-2, 0, 0, 1, 1], -2, 1)])
def test_negative_labels_are_refused(labels, low, high):
    """Mutant s34a-label-negative-accepted: the label check ``0 <= min(Y) and max(Y) < m`` losing its lower
    half. Label −1 is no class of m = 2 outputs (``take_along_axis`` would read the last logit, or NaN); it
    must be refused in arrays and in a later batch of a Batches alike."""
    params, X, _ = _point(1)
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy")
    labels = np.array(labels)
    match = rf"`Y` has labels in \[{low}, {high}\]; expected 0 … 1 for m = 2 outputs"
    with pytest.raises(ValueError, match=match):
        D.loss(obj, theta, X, labels)
    order = np.argsort(labels < 0, kind="stable")  # the negative label last: in the third batch of 2
    with pytest.raises(ValueError, match=match):
        D.loss(obj, theta, batching.batches(X[order], labels[order], 2))


# ----------------------------------------------------------------------------- objective: losses and reductions


class _Doubled(nn.Module):
    """``(X W + b)``, times 2 when called with ``double=True`` (a keyword like ``train=False``)."""

    @nn.compact
    def __call__(self, x, double: bool = False):
        y = nn.Dense(M, param_dtype=jnp.float64, dtype=jnp.float64)(x)
        return 2.0 * y if double else y


def test_apply_kwargs_of_a_linen_model_reach_its_apply():
    """Mutant s34a-linen-apply-kwargs-dropped: ``from_model``'s ``apply_kwargs`` not passed to ``apply``.
    Φ = ½‖c (XW + b) − Y‖², c = 2 with ``double=True``, 1 without, written out in numpy."""
    _, X, rng = _point(2)
    Y = rng.standard_normal((N, M))
    variables = _Doubled().init(jax.random.key(0), jnp.zeros((1, D_IN)))
    W, b = (np.asarray(variables["params"]["Dense_0"][k]) for k in ("kernel", "bias"))
    for kwargs, c in (({"double": True}, 2.0), ({"double": False}, 1.0), (None, 1.0)):
        obj, theta = O.from_model(_Doubled(), variables, apply_kwargs=kwargs)
        R = c * (X @ W + b) - Y
        assert float(D.loss(obj, theta, X, Y)) == pytest.approx(0.5 * np.sum(R * R), rel=1e-13)


def test_mean_over_a_stream_divides_by_N_once():
    """Mutant s34a-streamed-mean-twice: each chunk of a Stream run with the ``"mean"`` objective (``1/chunk``)
    and the total divided by N again. Loss and gradient vs the closed forms ``½Σ‖r_i‖²/N`` and ``Jᵀr/N``."""
    params, X, rng = _point(3)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params, reduction="mean")
    phi, g1, g2 = _squared_grads(params, X, Y)
    value, grad = D.value_and_gradient(obj, theta, _stream(X, Y))
    assert float(value) == pytest.approx(phi / N, rel=1e-13)
    grad = obj.layout.unravel(grad)
    np.testing.assert_allclose(grad["w1"], g1 / N, rtol=1e-12, atol=1e-14 * np.abs(g1).max())
    np.testing.assert_allclose(grad["w2"], g2 / N, rtol=1e-12, atol=1e-14 * np.abs(g2).max())


# probability rows: sums 1 (two), 2, 0 and 2 (an unnormalised one-hot, a zero row)
ROWS = np.array([[0.3, 0.7], [2.0, 0.0], [0.5, 0.5], [0.0, 0.0], [1.0, 1.0]])


def test_cross_entropy_of_rows_is_s_logsumexp_minus_y_dot_f_and_its_gauss_newton_is_s_softmax_curvature():
    """Mutant s34a-ce-rows-sum-dropped: ``ℓ = logsumexp(f) − y·f`` (the ``s = Σ_c y_c`` dropped; right only for
    rows summing to 1). The loss in numpy; the Gauss–Newton matrix ``Jᵀ Λ J`` with ``Λ_i = s_i (diag p − ppᵀ)``
    and ``J`` from ``jax.jacfwd`` of the network written here: symmetric PSD, and GN + residual term = H,
    H from ``jax.hessian`` of Φ written here."""
    params, X, _ = _point(4)
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy")
    F = np.tanh(X @ params["w1"]) @ params["w2"]
    logz = np.log(np.exp(F).sum(axis=1))
    s = ROWS.sum(axis=1)
    want = np.sum(s * logz - np.sum(ROWS * F, axis=1))
    assert float(D.loss(obj, theta, X, ROWS)) == pytest.approx(want, rel=1e-13)

    unravel = obj.layout.unravel
    # references jitted: run eagerly, jax.jacfwd / jax.hessian compile every primitive on its own
    J = np.asarray(jax.jit(jax.jacfwd(lambda t: net(unravel(t), X).reshape(-1)))(theta))  # (N·M, P)
    p = np.exp(F - logz[:, None])
    Lam = np.zeros((N * M, N * M))
    for i in range(N):
        Lam[i * M:(i + 1) * M, i * M:(i + 1) * M] = s[i] * (np.diag(p[i]) - np.outer(p[i], p[i]))
    G = J.T @ Lam @ J
    GN = np.asarray(D.gauss_newton(obj, theta, X, Y=ROWS))
    tol = 1e-12 * np.abs(G).max()
    np.testing.assert_allclose(GN, G, rtol=0, atol=tol)
    assert np.abs(GN - GN.T).max() <= tol and np.linalg.eigvalsh(GN).min() >= -obj.P * tol

    def phi(t):
        Ft = net(unravel(t), X)
        return jnp.sum(s * jax.nn.logsumexp(Ft, axis=1) - jnp.sum(ROWS * Ft, axis=1))

    H = np.asarray(jax.jit(jax.hessian(phi))(theta))
    np.testing.assert_allclose(GN + np.asarray(D.residual_hessian(obj, theta, X, ROWS)), H, rtol=0,
                               atol=1e-12 * np.abs(H).max())


def test_a_block_is_differentiated_at_theta():
    """Mutant s34a-restrict-adds-block: :meth:`Objective.restrict` adding the block to θ's (``.at[].add``) instead of
    setting it, so block derivatives are taken at θ with that block doubled. For ``W2`` the squared loss is
    quadratic: gradient ``Hᵀ R`` and Hessian ``HᵀH ⊗ I_M`` (row-major ``W2``), ``H = tanh(X W1)``."""
    params, X, rng = _point(5)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params)
    _, _, g2 = _squared_grads(params, X, Y)
    Hh = _hidden(params, X)
    grad = np.asarray(D.gradient(obj, theta, X, Y, block="w2"))
    np.testing.assert_allclose(grad, g2.reshape(-1), rtol=1e-12, atol=1e-14 * np.abs(g2).max())
    hess = np.asarray(D.hessian(obj, theta, X, Y, block="w2"))
    want = np.kron(Hh.T @ Hh, np.eye(M))
    np.testing.assert_allclose(hess, want, rtol=0, atol=1e-12 * np.abs(want).max())


# ----------------------------------------------------------------------------- operators


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_operator_params_with_an_inf_are_refused(bad):
    """Mutant s34a-param-inf-passes: ``_check_param_values`` counting only NaN. An Inf in ``A`` makes
    Inf/NaN products; documented: NaN *or Inf* params are refused before any product."""
    A = np.diag([1.0, 2.0, 3.0])
    A[0, 2] = bad
    with pytest.raises(ValueError, match=r"`params\[0\]` \(passed to `matvec`\) contains NaN or Inf \(1 of 9 entries\)"):
        operators.check_operator(dense_matvec, 3, (A,))


def test_an_exception_inside_observe_products_removes_the_observer():
    """Mutant s34a-observe-no-finally: the observer reset after ``yield`` without ``try/finally``. An error raised
    inside the block must not leave the callback watching products made afterwards."""
    A = np.diag([1.0, 2.0, 3.0])
    made = []
    with pytest.raises(RuntimeError, match="stop"):
        with operators.observe_products(made.append):
            operators.apply_one(dense_matvec, None, (A,), np.ones(3))
            raise RuntimeError("stop")
    operators.apply_one(dense_matvec, None, (A,), np.ones(3))
    assert made == [1]


def test_dense_of_a_non_symmetric_operator_is_its_symmetric_part():
    """Mutant s34a-dense-mirror-upper: :func:`operators.dense` mirroring the upper triangle instead of returning
    ``(A + Aᵀ)/2`` (its documented result; the same only for a symmetric A)."""
    A = np.array([[1.0, 2.0, -3.0], [0.5, 4.0, 1.0], [7.0, -1.0, 2.0]])
    np.testing.assert_allclose(np.asarray(operators.dense(dense_matvec, 3, (A,))), 0.5 * (A + A.T), rtol=0,
                               atol=1e-15)


def _phi_squared(t, unravel, X, Y):
    R = net(unravel(t), X) - Y
    return 0.5 * jnp.sum(R * R)


def test_dense_and_products_of_a_stream_hessian_equal_the_whole_data_hessian():
    """Mutant s34a-dense-loop-driver: :func:`operators.dense` preparing for the loop driver, which refuses a Stream
    (its products must be the host preparation's Python loop over chunks). H from ``jax.hessian`` of Φ written
    here on all the samples at once; GN = JᵀJ (``jax.jacfwd``), symmetric PSD; H − GN = Σ_i r_i ∇²f_i."""
    params, X, rng = _point(6)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params)
    unravel = obj.layout.unravel
    H = np.asarray(jax.jit(jax.hessian(lambda t: _phi_squared(t, unravel, X, Y)))(theta))
    tol = 1e-12 * np.abs(H).max()
    stream = _stream(X, Y)
    np.testing.assert_allclose(np.asarray(operators.dense(D.HessianMatvec(obj), obj.P, (theta, stream))), H,
                               rtol=0, atol=tol)
    V = rng.standard_normal((2, obj.P))
    np.testing.assert_allclose(np.asarray(operators.products(D.HessianMatvec(obj), obj.P, (theta, stream), V)),
                               V @ H, rtol=0, atol=tol * obj.P)

    J = np.asarray(jax.jit(jax.jacfwd(lambda t: net(unravel(t), X).reshape(-1)))(theta))
    GN = np.asarray(operators.dense(D.HessianMatvec(obj, "gauss_newton"), obj.P, (theta, stream)))
    np.testing.assert_allclose(GN, J.T @ J, rtol=0, atol=tol)
    assert np.linalg.eigvalsh(GN).min() >= -obj.P * tol
    r = (np.tanh(X @ params["w1"]) @ params["w2"] - Y).reshape(-1)
    curv = np.asarray(jax.jit(jax.hessian(lambda t: jnp.dot(net(unravel(t), X).reshape(-1), r)))(theta))
    residual = np.asarray(operators.dense(D.HessianMatvec(obj, "residual"), obj.P, (theta, X, Y)))
    np.testing.assert_allclose(residual, curv, rtol=0, atol=tol)
    np.testing.assert_allclose(GN + residual, H, rtol=0, atol=tol)


@pytest.mark.parametrize("position, name", [(0, "theta"), (1, "X"), (2, "Y")])
def test_a_list_argument_is_named_by_its_own_name(position, name):
    """Mutant s34a-refuse-lists-name-shift: ``_refuse_lists`` reading the names one place off (a list ``X`` named
    ``Y``). Each argument of ``HessianMatvec.check_arguments(dim, theta, X, Y)`` passed as a list is named."""
    params, X, rng = _point(7)
    obj, theta = O.from_model(net, params)
    args = [np.asarray(theta), X, rng.standard_normal((N, M))]
    args[position] = args[position].tolist()
    with pytest.raises(TypeError, match=rf"`{name}` is a Python list; HessianMatvec takes arrays"):
        operators.check_operator(D.HessianMatvec(obj), obj.P, tuple(args))


@pytest.mark.parametrize("V, shape", [(np.ones(3), r"\(3,\)"), (np.ones((2, 4)), r"\(2, 4\)"),
                                      (np.ones((1, 3, 1)), r"\(1, 3, 1\)")])
def test_products_refuse_vectors_that_are_not_rows_of_the_operators_size(V, shape):
    """Found reading :func:`operators.products`: a 1-D ``V`` (one vector) died inside the matvec with jax's "matmul
    input operand 1 must have ndim at least 1"; now refused by name with the fix. Rows ``(n, 3)`` still work."""
    A = np.diag([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=rf"`V` has shape {shape}; expected \(n, 3\), one vector of the operator's "
                                         r"size dim = 3 per row\. For one vector v pass V = v\[None\]"):
        operators.products(dense_matvec, 3, (A,), V)
    np.testing.assert_array_equal(np.asarray(operators.products(dense_matvec, 3, (A,), np.ones(3)[None])),
                                  [[1.0, 2.0, 3.0]])
