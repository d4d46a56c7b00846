"""theory_lab.pool_resolved: the pool-resolved network has the network's values and Hessian at θ₀.

The Hessian products of ``derivatives`` linearise the pool-resolved form (``Objective.outputs_near``);
here they are held to the plain network's products (``jax.hessian`` of ``model.apply``, and
``derivatives.hvp``, which differentiates the network as it is) on fixed and drawn architectures,
with ties, padding and pools that mix channels. A planted wrong selection must be caught.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory_lab import data, model, objective
from theory_lab import derivatives as D
from theory_lab import pool_resolved as PR
from theory_lab.arch import (
    Architecture,
    Conv,
    Dense,
    MaxPool,
    Output,
    PatchLayer,
    PatchMaxPool,
)
from theory_lab.strategies import networks

CASES = {
    # the benchmark's shape: first conv, tiling pool (the selected-input-patch path), filter bias
    "first-conv-tiling": Architecture((6, 6, 1), (Conv(3, (3, 3), bias="filter"), MaxPool((2, 2)), Dense(4),
                                                  Output(2))),
    # per-neuron bias on the selected-patch path, zero padding in the conv's patches
    "first-conv-padded-neuron-bias": Architecture((5, 5, 2), (Conv(2, (3, 3), padding="SAME"), MaxPool((2, 2)),
                                                              Output(3))),
    # overlapping windows (gather path), second conv before the pool (not the first layer), 1-D
    "deep-overlapping-1d": Architecture((9, 2), (Conv(3, (2,), activation="softplus"),
                                                 Conv(2, (2,), activation="tanh", bias="none"),
                                                 MaxPool((3,), (1,)), Dense(3, activation="softplus"), Output(2))),
    # a pool whose windows mix filters: resolved, but not on the selected-patch path
    "patch-pool-mixing": Architecture((5, 1), (PatchLayer(((0, 1), (1, 2), (3, 4), (4, 0)), 2, activation="softplus"),
                                               PatchMaxPool(((0, 1), (2, 3), (5, 6), (6, 7))), Dense(3, "gelu"),
                                               Output(1))),
    # a pool after a fully connected layer: the general selection path
    "dense-then-pool": Architecture((6,), (Dense(6, activation="softplus"), PatchMaxPool(((0, 1, 2), (3, 4, 5),
                                                                                        (1, 3, 5))),
                                           Output(2))),
    # a large first kernel (l_0 = 25 > 4 n_1 / n_2): the conv at every position, then the selection
    "first-conv-large-kernel": Architecture((10, 10, 1), (Conv(2, (5, 5)), MaxPool((2, 2)), Output(2))),
    # relu is not strictly increasing: the pool is kept as it is
    "relu-kept": Architecture((6, 6, 1), (Conv(2, (3, 3), activation="relu"), MaxPool((2, 2)), Output(2))),
}


def _plain(arch):
    """The same objective with the network as it is (no pool resolution): the reference."""
    obj = D.objective(arch)
    plain, _ = objective.from_model(lambda p, X: model.CNN(arch).apply({"params": p}, X).F[-1],
                                    obj.layout.unravel(np.zeros(obj.P)))
    return obj, plain


def _instance(arch, N, seed, X=None):
    rng = np.random.default_rng(seed)
    obj, plain = _plain(arch)
    theta = jnp.asarray(rng.standard_normal(obj.P) * 0.7)
    X = rng.standard_normal((N, *arch.input_shape)) if X is None else X
    Y = rng.standard_normal((N, arch.info[-1].n))
    return obj, plain, theta, jnp.asarray(X), jnp.asarray(Y)


# Session 35: selection and outputs run as one compiled program per architecture (θ and X as arguments). Run eagerly,
# they compiled each of their ~35 primitives on its own for every case (~10 s of each case's ~25 s on a loaded CI
# machine); both are traceable, and the objective calls them under jit itself.
_selection = jax.jit(PR.selection, static_argnums=0)
_outputs = jax.jit(PR.outputs, static_argnums=0)


@functools.partial(jax.jit, static_argnums=0)
def _resolved(obj, theta, X):
    """``(params, M, F_L)``: θ's parameter pytree, its selections (:func:`PR.selection`) and the pool-resolved outputs."""
    params = obj.layout.unravel(theta)
    M = PR.selection(obj.arch, params, X)
    return params, M, PR.outputs(obj.arch, params, X, M)


def _hessian(obj, theta, X, Y):
    # one compiled program (X, Y as arguments): jax.hessian run eagerly compiles every primitive on its own
    f = jax.jit(jax.hessian(lambda t, X, Y: jnp.sum(obj.loss(obj.outputs(t, X), Y))))
    return np.asarray(f(theta, X, Y))


def test_resolvable_pools():
    assert PR.resolvable(CASES["first-conv-tiling"]) == (2,)
    assert PR.resolvable(CASES["deep-overlapping-1d"]) == (3,)
    assert PR.resolvable(CASES["patch-pool-mixing"]) == (2,)
    assert PR.resolvable(CASES["dense-then-pool"]) == (2,)
    assert PR.resolvable(CASES["relu-kept"]) == ()
    X = np.zeros((2, 10, 10, 1))
    arch = CASES["first-conv-large-kernel"]
    params = D.objective(arch).layout.unravel(np.ones(arch.num_params))
    assert PR.resolvable(arch) == (2,) and _selection(arch, params, X)[2][1] is None
    arch = CASES["first-conv-tiling"]
    params = D.objective(arch).layout.unravel(np.ones(arch.num_params))
    assert _selection(arch, params, np.zeros((2, 6, 6, 1)))[2][1].shape == (9, 2, 12)
    assert PR.resolvable(Architecture((6, 6, 1), (MaxPool((2, 2)), Dense(2), Output(1)))) == ()


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_hessian_equal_the_plain_network(name):
    arch = CASES[name]
    obj, plain, theta, X, Y = _instance(arch, 6, 0)
    params, _, F = _resolved(obj, theta, X)
    np.testing.assert_allclose(F, model.apply(arch, params, X), rtol=1e-13, atol=1e-14)
    H = _hessian(plain, theta, X, Y)
    scale = np.abs(H).max()
    np.testing.assert_allclose(D.hessian(obj, theta, X, Y), H, rtol=0, atol=1e-12 * scale)  # linearised products
    GN = D.gauss_newton(obj, theta, X, Y=Y)
    J = np.asarray(jax.jit(jax.jacrev(lambda t, X: plain.outputs(t, X).reshape(-1)))(theta, X))
    np.testing.assert_allclose(GN, J.T @ J, rtol=0, atol=1e-12 * np.abs(J.T @ J).max())


def test_ties_follow_jax_max_convention_on_blank_digits():
    """Raw digits (no noise) have blank windows: every entry of a window ties. The resolved Hessian is
    JAX's own derivative of ``jnp.max`` (ties averaged), equal to the plain network's."""
    arch = Architecture((8, 8, 1), (Conv(2, (3, 3), bias="filter"), MaxPool((2, 2)), Dense(3), Output(10)))
    ds = data.digits(8)
    obj, plain, theta, X, Y = _instance(arch, 8, 3, X=ds.X)
    M = np.asarray(_resolved(obj, theta, X)[1][2][0])
    assert np.any((M > 0) & (M < 1)), "this instance must have tied windows"
    H = _hessian(plain, theta, X, Y)
    np.testing.assert_allclose(D.hessian(obj, theta, X, Y), H, rtol=0, atol=1e-12 * np.abs(H).max())


def test_a_wrong_selection_is_caught():
    """Planted bug: take the second-largest entry of each window. Values and Hessian then differ."""
    arch = CASES["first-conv-tiling"]
    obj, plain, theta, X, Y = _instance(arch, 6, 0)
    params, sel, _ = _resolved(obj, theta, X)
    M, Xk = sel[2]
    wrong = {2: (M[1:] + M[:1], None)}  # each window's weight moved to the next entry
    F_wrong = _outputs(arch, params, X, wrong)
    assert np.abs(np.asarray(F_wrong) - np.asarray(model.apply(arch, params, X))).max() > 1e-3

    @jax.jit
    def hessian(t, sel, X, Y):
        return jax.hessian(lambda s: jnp.sum(obj.loss(PR.outputs(arch, obj.layout.unravel(s), X, sel), Y)))(t)

    H_wrong = np.asarray(hessian(theta, wrong, X, Y))
    H = _hessian(plain, theta, X, Y)
    assert np.abs(H_wrong - H).max() > 1e-3 * np.abs(H).max()
    H_right = np.asarray(hessian(theta, {2: (M, Xk)}, X, Y))
    np.testing.assert_allclose(H_right, H, rtol=0, atol=1e-12 * np.abs(H).max())


@settings(max_examples=6, deadline=None)
@given(net=networks(n_samples=(6,), kinds=("conv1d", "conv2d"), max_depth=3, pooling=True,
                    biases=("neuron", "filter", "none"), input_shapes={"conv1d": ((8, 1),), "conv2d": ((6, 6, 1),)}),
       seed=st.integers(0, 2**16))
def test_drawn_pooling_networks_have_the_plain_hessian_products(net, seed):
    arch = net.arch
    obj, plain, theta, X, Y = _instance(arch, net.N, seed)
    v = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(obj.P))
    ref = np.asarray(D.hvp(plain, theta, X, Y, v))
    got = np.asarray(D.linearize_hvp(obj, theta, X, Y)(v))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11 * max(np.abs(ref).max(), 1e-300))
