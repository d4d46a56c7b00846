"""Planted bugs the rest of the suite let through in the any-model support: losses, batches, saved points.

A mutation audit planted one realistic bug at a time in :mod:`theory_lab.objective`,
:mod:`theory_lab.batching`, :mod:`theory_lab.params_io`, :mod:`theory_lab.factories`,
:mod:`theory_lab.operators`, :mod:`theory_lab.gradient_probes` and :mod:`theory_lab.curvature_report` and ran
the tests of that module. These tests kill the mutants that survived. Each one compares against
a closed form written out here, a direct full-batch computation, or a rejected bad input; the
planted bug each one catches is named in its docstring.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.derivatives import layout
from theory_lab.params_io import load_theta

N, D_IN, M = 5, 3, 2


def net(params, X):
    return jnp.tanh(X @ params["w1"]) @ params["w2"]


def _point(seed=0):
    rng = np.random.default_rng(seed)
    params = {"w1": rng.standard_normal((D_IN, 4)), "w2": rng.standard_normal((4, M))}
    return params, rng.standard_normal((N, D_IN)), rng


def _outputs(params, X):
    return np.tanh(X @ params["w1"]) @ params["w2"]


# ----------------------------------------------------------------------------- losses and reductions


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_squared_loss_is_half_the_squared_residual_scaled_by_the_reduction(reduction):
    """Planted bugs: the squared loss without its ½ (ℓ = ‖f − y‖²), and ``"mean"`` not dividing by N.

    ``Φ = c · ½ Σ_i ‖f(x_i) − y_i‖²`` with ``c = 1`` or ``1/N``, written out in numpy; the batched
    sum (batches of 2, the last padded) must give the same number.
    """
    params, X, rng = _point(1)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params, reduction=reduction)
    R = _outputs(params, X) - Y
    want = 0.5 * np.sum(R * R) * (1.0 if reduction == "sum" else 1.0 / N)
    assert float(D.loss(obj, theta, X, Y)) == pytest.approx(want, rel=1e-13)
    assert float(D.loss(obj, theta, batching.batches(X, Y, 2))) == pytest.approx(want, rel=1e-13)


def test_softmax_cross_entropy_is_logsumexp_minus_the_true_logit():
    """Planted bugs in the cross-entropy: a wrong logit taken, or one-hot rows weighted differently from labels.

    ``ℓ_i = log Σ_j exp f_ij − f_{i y_i}`` in numpy; integer labels and their one-hot rows agree.
    """
    params, X, rng = _point(2)
    labels = rng.integers(0, M, N)
    F = _outputs(params, X)
    want = np.sum(np.log(np.exp(F).sum(axis=1)) - F[np.arange(N), labels])
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy")
    assert float(D.loss(obj, theta, X, labels)) == pytest.approx(want, rel=1e-13)
    assert float(D.loss(obj, theta, X, np.eye(M)[labels])) == pytest.approx(want, rel=1e-13)


# ----------------------------------------------------------------------------- rejected inputs


def test_a_label_equal_to_the_number_of_outputs_is_refused():
    """Planted bug: the label range check ``max(Y) < m`` loosened to ``max(Y) <= m`` (label m accepted).

    With ``m = 2`` outputs the label 2 does not exist; ``take_along_axis`` would silently clamp it.
    """
    params, X, _ = _point(3)
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy")
    with pytest.raises(ValueError, match=r"`Y` has labels in \[0, 2\]; expected 0 … 1 for m = 2"):
        D.loss(obj, theta, X, np.array([0, 1, 2, 0, 1]))


def test_float32_targets_and_inputs_are_refused_for_a_plain_model():
    """Planted bugs: the float64 checks on squared-loss targets ``Y``, on a non-chain model's inputs and on
    cross-entropy's one-hot rows removed.

    Strict promotion would otherwise decide the dtype inside the network, or float32 data would
    silently cost eight digits.
    """
    params, X, rng = _point(4)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params)
    with pytest.raises(TypeError, match=r"`Y` has dtype float32; derivatives are computed in float64"):
        O.check_data(obj, X, Y.astype(np.float32))
    with pytest.raises(TypeError, match=r"`X` has dtype float32; derivatives are computed in float64"):
        O.check_data(obj, X.astype(np.float32), Y)
    ce = O.objective(net, params, loss="softmax-cross-entropy")
    with pytest.raises(ValueError, match=r"dtype float32; softmax-cross-entropy needs integer labels .* or float64"):
        O.check_data(ce, X, np.eye(M, dtype=np.float32)[[0, 1, 1, 0, 1]])


class _Shifted(nn.Module):
    """A float64 Dense layer plus a fixed per-output shift kept in a float32 collection (like batch statistics)."""

    @nn.compact
    def __call__(self, x):
        shift = self.variable("stats", "shift", lambda: jnp.zeros(M, jnp.float32))
        return nn.Dense(M, param_dtype=jnp.float64, dtype=jnp.float64)(x) * jnp.exp(shift.value)


def test_float32_fixed_collections_of_a_linen_model_are_cast_exactly():
    """Planted bug: float32 fixed collections (Flax keeps batch statistics in float32) not cast to float64.

    Under strict promotion the float32 state would meet float64 activations; cast exactly, the loss
    equals ``½‖(XW + b) · exp(s) − Y‖²`` written out in float64.
    """
    params, X, rng = _point(5)
    Y = rng.standard_normal((N, M))
    with jax.numpy_dtype_promotion("standard"):  # init itself meets the float32 default
        variables = _Shifted().init(jax.random.key(0), jnp.zeros((1, D_IN)))
    shift = rng.standard_normal(M).astype(np.float32)
    obj, theta = O.from_model(_Shifted(), {"params": variables["params"], "stats": {"shift": jnp.asarray(shift)}})
    dense = variables["params"]["Dense_0"]
    R = (X @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"])) * np.exp(shift.astype(np.float64)) - Y
    assert float(D.loss(obj, theta, X, Y)) == pytest.approx(0.5 * np.sum(R * R), rel=1e-13)


# ----------------------------------------------------------------------------- batches and streams


def test_every_batch_size_sums_each_sample_exactly_once():
    """Planted bugs: the padding's zero weight off by one (a padded copy counted, or the last real sample dropped),
    the last partial batch dropped or counted twice.

    For every batch size 1 … N the weights sum to N and the batched mean loss equals the full-batch one.
    """
    params, X, rng = _point(6)
    Y = rng.standard_normal((N, M))
    obj, theta = O.from_model(net, params, reduction="mean")
    full = float(D.loss(obj, theta, X, Y))
    for size in range(1, N + 1):
        data = batching.batches(X, Y, size)
        assert float(np.sum(data.weight)) == N
        assert float(D.loss(obj, theta, data)) == pytest.approx(full, rel=1e-13)


def test_empty_data_are_refused_with_a_clear_error():
    """Planted bug: the ``N == 0`` check of :func:`batching.batches` removed (an empty data set then fails deep
    inside with a ZeroDivisionError instead of naming the problem)."""
    with pytest.raises(ValueError, match=r"`X` has no samples; pass at least one"):
        batching.batches(np.zeros((0, D_IN)), np.zeros((0, M)), 2)


def test_batched_outputs_drop_the_padding():
    """Planted bug: :func:`batching.map_over` keeping the padded rows (outputs ``(nb · B, m)`` instead of ``(N, m)``)."""
    params, X, rng = _point(7)
    obj, theta = O.from_model(net, params)
    F = np.asarray(D.outputs(obj, theta, batching.batches(X, rng.standard_normal((N, M)), 2)))
    np.testing.assert_allclose(F, _outputs(params, X), rtol=1e-13, atol=1e-15)


def test_from_iterable_keeps_every_batch():
    """Planted bug: :func:`batching.from_iterable` dropping the last (ragged) batch of the iterable."""
    params, X, rng = _point(8)
    Y = rng.standard_normal((N, M))
    data = batching.from_iterable([(X[:2], Y[:2]), (X[2:4], Y[2:4]), (X[4:], Y[4:])])
    assert data.N == N
    obj, theta = O.from_model(net, params)
    assert float(D.loss(obj, theta, data)) == pytest.approx(float(D.loss(obj, theta, X, Y)), rel=1e-13)


# ----------------------------------------------------------------------------- saved points

ARCH = Architecture((4, 1), (Conv(2, (2,)), Dense(3), Output(1)))
LAY = layout(ARCH)


def test_a_non_finite_value_at_a_leaf_boundary_is_named_in_its_own_leaf(tmp_path):
    """Planted bug: the leaf lookup of the first NaN off by one (``start < i <= stop``): θ at a leaf's first
    index named as one past the end of the previous leaf.
    """
    for leaf in LAY.leaves:
        theta = np.ones(LAY.P)
        theta[leaf.start] = np.nan
        np.savez(tmp_path / "p.npz", theta=theta)
        idx = ", ".join("0" for _ in leaf.shape)
        with pytest.raises(ValueError, match=rf"θ\[{leaf.start}\] = layer_{leaf.k}/{leaf.name}\[{idx}\] is nan"):
            load_theta(tmp_path / "p.npz", LAY)


# ----------------------------------------------------------------------------- operators and the curvature report


def test_dense_operator_is_the_symmetric_part_of_its_columns():
    """Planted bug: :func:`operators.dense` forgetting the ½ of ``(A + Aᵀ)/2`` (the matrix doubled)."""
    from theory_lab import operators
    from theory_lab.spectrum import dense_matvec

    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(operators.dense(dense_matvec, 3, (A,))), A)


def test_bulk_interval_reaches_both_ends_of_the_grid():
    """Planted bug: :func:`curvature_report.bulk_interval`'s walk stopping one point short of the grid's end.

    A density at or above the level up to the last (or from the first) grid point has its bulk there.
    """
    from theory_lab.curvature_report import bulk_interval

    grid = np.linspace(0.0, 1.0, 5)
    assert bulk_interval(grid, np.array([0.0, 0.0, 1.0, 1.0, 1.0])) == (0.5, 1.0)
    assert bulk_interval(grid, np.array([1.0, 1.0, 1.0, 0.0, 0.0])) == (0.0, 0.5)


def test_hessian_report_gauss_newton_term_carries_the_mean_reduction():
    """Planted bug: :func:`curvature_report.hessian_report` taking ``GN = JᵀJ`` for the squared loss whatever the
    reduction (the ``1/N`` of ``"mean"`` lost).

    For a linear model the residual term vanishes, so ``GN = H = XᵀX / N`` (one output).
    """
    from theory_lab.curvature_report import hessian_report

    rng = np.random.default_rng(9)
    X, Y = rng.standard_normal((N, D_IN)), rng.standard_normal((N, 1))
    obj, theta = O.from_model(lambda p, X: X @ p["w"], {"w": rng.standard_normal((D_IN, 1))}, reduction="mean")
    rep = hessian_report(obj, theta, X, Y)
    np.testing.assert_allclose(rep["GN"], X.T @ X / N, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rep["H"], X.T @ X / N, rtol=1e-12, atol=1e-15)
