"""Every product on a Flax linen model, an nnx model and a plain function vs jax.hessian / jax.jacobian."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab.testing import finite_difference_grad

N, D_IN, H_DIM, M = 4, 3, 3, 2
F64 = dict(param_dtype=jnp.float64, dtype=jnp.float64)


class LinenNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(H_DIM, **F64)(x)
        h = nn.BatchNorm(use_running_average=True, **F64)(h)
        return nn.Dense(M, **F64)(jnp.tanh(h))


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(D_IN, H_DIM, rngs=rngs, **F64)
        self.out = nnx.Linear(H_DIM, M, rngs=rngs, **F64)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


def plain(params, X):
    return jnp.tanh(X @ params["hidden"]["w"] + params["hidden"]["b"]) @ params["out"]["w"]


def logistic(F, Y):
    """A custom per-sample loss: Σ_j log(1 + exp(−y_j f_j)), y = ±1."""
    return jnp.sum(jnp.logaddexp(0.0, -Y * F), axis=-1)


def _model(kind, rng):
    if kind == "linen":
        with jax.numpy_dtype_promotion("standard"):  # flax makes batch statistics float32
            variables = LinenNet().init(jax.random.key(0), jnp.zeros((1, D_IN)))
        stats = {"BatchNorm_0": {"mean": jnp.asarray(rng.standard_normal(H_DIM)) * 0.1,
                                 "var": jnp.asarray(1.0 + rng.random(H_DIM))}}
        return LinenNet(), {"params": variables["params"], "batch_stats": stats}
    if kind == "nnx":
        return NnxNet(nnx.Rngs(0)), None
    params = {"hidden": {"w": rng.standard_normal((D_IN, H_DIM)), "b": rng.standard_normal(H_DIM) * 0.1},
              "out": {"w": rng.standard_normal((H_DIM, M))}}
    return plain, params


def _targets(loss, rng):
    if loss == "softmax-cross-entropy":
        return np.array([0, 1, 1, 0])
    if loss == "squared":
        return rng.standard_normal((N, M))
    return np.sign(rng.standard_normal((N, M)))


CASES = [("linen", "softmax-cross-entropy"), ("nnx", "softmax-cross-entropy"), ("nnx", logistic),
         ("plain", "squared"), ("plain", "softmax-cross-entropy")]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{getattr(c[1], '__name__', c[1])}")
def case(request):
    kind, loss = request.param
    rng = np.random.default_rng(3)
    network, params = _model(kind, rng)
    obj, theta = O.from_model(network, params, loss=loss)
    X, Y = rng.standard_normal((N, D_IN)), _targets(loss, rng)
    per_sample = O.Loss(loss) if isinstance(loss, str) else O.Loss("logistic", loss)

    # the simplest path: Φ(θ) written out, differentiated by jax.hessian / jax.jacobian; each compiled as
    # one program (X, Y as arguments): run eagerly, jax.hessian compiles every primitive on its own
    def outputs(t, X):
        return obj.network(obj.layout.unravel(t), X)

    def phi(t, X, Y):
        return jnp.sum(per_sample(outputs(t, X), Y))

    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    J = np.asarray(jax.jit(jax.jacobian(lambda t, X: outputs(t, X).reshape(-1)))(theta, Xj))
    F = jax.jit(outputs)(theta, Xj)
    Lam = jax.jit(jax.vmap(jax.hessian(lambda f, y: per_sample(f[None], y[None])[0])))(F, Yj)
    Lam = np.asarray(jax.scipy.linalg.block_diag(*Lam))
    return dict(obj=obj, theta=theta, X=X, Y=Y, H=np.asarray(jax.jit(jax.hessian(phi))(theta, Xj, Yj)),
                g=np.asarray(jax.jit(jax.grad(phi))(theta, Xj, Yj)), phi=float(jax.jit(phi)(theta, Xj, Yj)),
                G=J.T @ Lam @ J, rng=rng)


def test_loss_gradient_and_hessian_products_match_jax(case):
    obj, theta, X, Y, H = case["obj"], case["theta"], case["X"], case["Y"], case["H"]
    scale = np.abs(H).max()
    assert float(D.loss(obj, theta, X, Y)) == pytest.approx(case["phi"], rel=1e-13)
    np.testing.assert_allclose(D.gradient(obj, theta, X, Y), case["g"], rtol=0, atol=1e-13 * np.abs(case["g"]).max())
    V = case["rng"].standard_normal((2, obj.P))
    np.testing.assert_allclose(D.hvp(obj, theta, X, Y, V), V @ H, rtol=0, atol=1e-12 * scale * obj.P)
    np.testing.assert_allclose(D.linearize_hvp(obj, theta, X, Y)(V[0]), H @ V[0], rtol=0, atol=1e-12 * scale * obj.P)
    np.testing.assert_allclose(D.hessian(obj, theta, X, Y), H, rtol=0, atol=1e-12 * scale)


def test_gauss_newton_and_residual_term_match_JtLJ(case):
    obj, theta, X, Y, H, G = case["obj"], case["theta"], case["X"], case["Y"], case["H"], case["G"]
    tol = 1e-12 * np.abs(H).max()
    GN = np.asarray(D.gauss_newton(obj, theta, X, Y=Y))
    np.testing.assert_allclose(GN, G, rtol=0, atol=tol)
    np.testing.assert_allclose(GN + np.asarray(D.residual_hessian(obj, theta, X, Y)), H, rtol=0, atol=tol)
    v = case["rng"].standard_normal(obj.P)
    np.testing.assert_allclose(D.gauss_newton_vp(obj, theta, X, v, Y=Y), G @ v, rtol=0, atol=tol * obj.P)
    np.testing.assert_allclose(D.residual_vp(obj, theta, X, Y, v), (H - G) @ v, rtol=0, atol=tol * obj.P)
    assert np.abs(H - G).max() > 1e-3 * np.abs(H).max()  # a nonlinear network: the residual term is there


def test_block_is_a_named_subtree_and_the_operator_agrees(case):
    obj, theta, X, Y, H = case["obj"], case["theta"], case["X"], case["Y"], case["H"]
    name, sl = obj.layout.blocks()[-1]
    tol = 1e-12 * np.abs(H).max()
    np.testing.assert_allclose(D.hessian(obj, theta, X, Y, block=name), H[sl, sl], rtol=0, atol=tol)
    np.testing.assert_allclose(D.gradient(obj, theta, X, Y, block=name), case["g"][sl], rtol=0,
                               atol=1e-13 * np.abs(case["g"]).max())
    v = jnp.asarray(case["rng"].standard_normal(obj.P))
    ops = [D.HessianMatvec(obj, kind) for kind in D.KINDS]
    both = jax.jit(lambda *a: [(op(*a), op.prepare(*a[1:])(a[0])) for op in ops])(v, theta, X, Y)
    for direct, prepared in both:
        np.testing.assert_allclose(direct, prepared, rtol=0, atol=tol * obj.P)
    np.testing.assert_allclose(both[0][0], H @ v, rtol=0, atol=tol * obj.P)
    np.testing.assert_allclose(both[1][0] + both[2][0], H @ v, rtol=0, atol=tol * obj.P)


def test_gradient_matches_finite_differences_on_a_linen_model():
    rng = np.random.default_rng(5)
    network, variables = _model("linen", rng)
    obj, theta = O.from_model(network, variables, loss="softmax-cross-entropy")
    X, Y = rng.standard_normal((N, D_IN)), np.array([1, 0, 0, 1])
    g = np.asarray(D.gradient(obj, theta, X, Y))
    fd = finite_difference_grad(lambda t: float(D.loss(obj, jnp.asarray(t), X, Y)), np.asarray(theta), h=1e-5)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8 * np.abs(g).max())


def test_cross_entropy_ggn_is_symmetric_psd_and_the_hessian_of_a_linear_model():
    rng = np.random.default_rng(7)
    params = {"w": rng.standard_normal((D_IN, M)), "b": rng.standard_normal(M)}
    obj, theta = O.from_model(lambda p, X: X @ p["w"] + p["b"], params, loss="softmax-cross-entropy")
    X, Y = rng.standard_normal((N, D_IN)), np.eye(M)[[0, 1, 1, 0]]  # one-hot rows
    G = np.asarray(D.gauss_newton(obj, theta, X))
    H = np.asarray(D.hessian(obj, theta, X, Y))
    tol = 1e-13 * np.abs(H).max()
    assert np.abs(G - G.T).max() <= tol
    assert np.linalg.eigvalsh(G).min() >= -obj.P * np.finfo(float).eps * np.abs(G).max()
    np.testing.assert_allclose(G, H, rtol=0, atol=tol)  # f linear in θ: no residual term
    assert np.abs(np.asarray(D.residual_hessian(obj, theta, X, Y))).max() <= tol


def test_nnx_batch_stats_are_held_fixed_and_documented():
    class WithStats(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(D_IN, M, rngs=rngs, **F64)
            self.bn = nnx.BatchNorm(M, use_running_average=True, rngs=rngs, **F64)

        def __call__(self, x):
            return self.bn(self.lin(x))

    module = WithStats(nnx.Rngs(1))
    obj, theta = O.from_model(module, loss="squared")
    assert obj.P == D_IN * M + M + 2 * M  # kernel, bias, BN scale and bias; mean/var are not trained
    assert [name for name, _ in obj.layout.blocks()] == ["bn", "lin"]
    assert obj.layout.paths == ("bn/bias", "bn/scale", "lin/bias", "lin/kernel")
    X = np.random.default_rng(2).standard_normal((N, D_IN))
    F = np.asarray(D.outputs(obj, theta, X))  # float32 statistics were cast to float64 exactly
    lin = np.asarray(X @ module.lin.kernel[...] + module.lin.bias[...])
    np.testing.assert_allclose(F, (lin - 0.0) / np.sqrt(1.0 + module.bn.epsilon), rtol=1e-14)


def test_errors_name_the_argument_value_and_fix():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match=r"`params\['bias'\]` has dtype float32.*param_dtype=jnp.float64"):
        O.from_model(nn.Dense(2), nn.Dense(2).init(jax.random.key(0), jnp.zeros((1, 3), jnp.float32)))
    network, params = _model("plain", rng)
    with pytest.raises(ValueError, match=r"`loss` returned shape \(\) for 4 samples; expected per-sample"):
        D.loss(O.objective(network, params, loss=lambda F, Y: jnp.sum(F - Y)), O.from_model(network, params)[1],
               rng.standard_normal((N, D_IN)), np.zeros((N, M)))
    obj, theta = O.from_model(network, params, loss="softmax-cross-entropy")
    X = rng.standard_normal((N, D_IN))
    with pytest.raises(ValueError, match=r"`Y` has shape \(4, 1\); integer labels .* are \(N,\) = \(4,\)"):
        D.loss(obj, theta, X, np.zeros((N, 1), int))
    with pytest.raises(ValueError, match=r"`Y` has labels in \[0, 5\]; expected 0 … 1"):
        D.loss(obj, theta, X, np.array([0, 5, 1, 1]))
    with pytest.raises(ValueError, match=r"`X` of shape \(4, 5\) does not fit the network"):
        D.loss(obj, theta, rng.standard_normal((N, 5)), np.zeros(N, int))
    with pytest.raises(ValueError, match="`loss`='hinge' is unknown"):
        O.objective(network, params, loss="hinge")
    with pytest.raises(ValueError, match="`block`='conv' is not a subtree.*'hidden', 'out'"):
        D.hessian(obj, theta, X, np.zeros(N, int), block="conv")
    with pytest.raises(ValueError, match=r"maps `X` \(4, 3\) to outputs \(4, 2, 1\); expected \(N, m\)"):
        D.loss(O.objective(lambda p, X: plain(p, X)[..., None], params), theta, X, np.zeros((N, M)))
