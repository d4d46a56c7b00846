"""Spectral routines on data in batches and streams: the host-made product equals the one-batch numbers.

On CPU a :class:`~theory_lab.batching.Batches` of several batches and a
:class:`~theory_lab.batching.Stream` give each product as a Python loop over one jitted
per-batch program (:meth:`derivatives.HessianMatvec.host_prepare`, :mod:`theory_lab.krylov`).
Lanczos, SLQ, the trace estimators and the dense matrices must then give the one-batch
results to 1e-12 (relative) with the same number of products.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching, krylov
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab import spectrum as S
from theory_lab.arch import Architecture, Dense, Output

N, D_IN, M, B = 7, 3, 3, 3  # the shapes of test_batching: batches of 3, 3, 1 + 2 padded
CPU = jax.default_backend() == "cpu"


def net(params, X):
    return jnp.tanh(X @ params["w1"]) @ params["w2"] + params["b"]


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rtol * max(np.abs(b).max(), 1e-300), np.abs(a - b).max() / np.abs(b).max()


class Passes:
    """A re-iterable source of ``(x, y)`` batches of 3 that counts its passes (one per product)."""

    def __init__(self, X, Y, drop_last=False):
        self.pairs = [(X[i:i + 3], Y[i:i + 3]) for i in range(0, len(X), 3)]
        if drop_last:
            self.pairs = self.pairs[:-1]
        self.n = 0

    def __call__(self):
        self.n += 1
        return iter(self.pairs)


def _function_model():
    rng = np.random.default_rng(11)
    params = {"w1": rng.standard_normal((D_IN, 4)), "w2": rng.standard_normal((4, M)), "b": rng.standard_normal(M)}
    obj, theta = O.from_model(net, params, loss="softmax-cross-entropy", reduction="mean")
    return obj, theta, rng.standard_normal((N, D_IN)), rng.integers(0, M, N)


def _chain_model():
    rng = np.random.default_rng(2)
    obj = D.objective(Architecture((D_IN,), (Dense(4), Output(M))))
    return obj, rng.standard_normal(obj.P), rng.standard_normal((N, D_IN)), rng.standard_normal((N, M))


@pytest.fixture(scope="module", params=["function", "chain"])
def inst(request):
    return _function_model() if request.param == "function" else _chain_model()


def _runs(obj, theta, data):
    op = D.HessianMatvec(obj)
    top = S.lanczos(op, obj.P, jax.random.key(0), theta, data, k=3, which="top")
    dens = S.slq_density(op, obj.P, jax.random.key(1), theta, data, num_probes=2, num_matvecs=8)
    hpp = S.hutch_plus_plus(op, obj.P, jax.random.key(2), theta, data, num_matvecs=12)
    return top, dens, hpp


def test_spectra_of_batches_and_streams_equal_one_batch(inst):
    obj, theta, X, Y = inst
    op = D.HessianMatvec(obj)
    one = batching.as_batches(X, Y)
    source = Passes(X, Y)
    stream = batching.Stream(source, batch_size=2)  # chunks of 2: 2, 1+pad, 2, 1+pad, 1+pad
    several = batching.batches(X, Y, B)
    # the hook is used exactly when the data are looped: several batches or a stream on CPU, not one batch
    assert krylov.prepare(op, obj.P, (theta, one)).__class__ is not krylov.HostProduct
    assert isinstance(krylov.prepare(op, obj.P, (theta, several), driver="python"), krylov.HostProduct) == CPU
    assert not isinstance(krylov.prepare(op, obj.P, (theta, several), driver="loop"), krylov.HostProduct)
    ref_top, ref_dens, ref_hpp = _runs(obj, theta, one)
    assert ref_top.converged.all()
    for data in (several, stream):
        source.n = 0
        top, dens, hpp = _runs(obj, theta, data)
        _close(top.values, ref_top.values)
        _close(np.abs(np.sum(top.vectors * ref_top.vectors, axis=1)), np.ones(3))
        assert top.converged.all() and top.num_matvecs == ref_top.num_matvecs and top.depth == ref_top.depth
        _close(dens.nodes, ref_dens.nodes)
        _close(dens.weights, ref_dens.weights)
        _close(dens.density, ref_dens.density)
        _close([hpp.estimate, hpp.stderr], [ref_hpp.estimate, ref_hpp.stderr])
        if data is stream:  # one pass of the source per product made, and its first batch read once for shapes
            assert source.n == 1 + top.num_matvecs + int(dens.depths.sum()) + hpp.num_matvecs
            assert stream.N == N and stream.num_batches == 5
    _close(S.materialize(op, obj.P, theta, stream), S.materialize(op, obj.P, theta, one))


def test_dense_matrices_and_jacobian_of_a_stream(inst):
    obj, theta, X, Y = inst
    stream = batching.Stream(Passes(X, Y), batch_size=2)
    _close(D.hessian(obj, theta, stream), D.hessian(obj, theta, X, Y))
    _close(D.gauss_newton(obj, theta, stream), D.gauss_newton(obj, theta, X))
    _close(D.jacobian(obj, theta, stream), D.jacobian(obj, theta, X, mode="reverse"))
    _close(S.xtrace(D.HessianMatvec(obj), obj.P, jax.random.key(3), theta, stream, num_matvecs=8).estimate,
           S.xtrace(D.HessianMatvec(obj), obj.P, jax.random.key(3), theta, X, Y, num_matvecs=8).estimate)


def test_a_dropped_last_batch_would_be_caught():
    obj, theta, X, Y = _function_model()
    ref = S.lanczos(D.HessianMatvec(obj), obj.P, jax.random.key(0), theta, X, Y, k=3)
    # the ragged last batch (1 sample, padded to 3) is in the sum: batches of 3 equal the one batch ...
    whole = S.lanczos(D.HessianMatvec(obj), obj.P, jax.random.key(0), theta, batching.batches(X, Y, B), k=3)
    _close(whole.values, ref.values)
    # ... and a source that loses it gives other eigenvalues, far outside the comparison's 1e-12
    short = batching.Stream(Passes(X, Y, drop_last=True), batch_size=2)
    lost = S.lanczos(D.HessianMatvec(obj), obj.P, jax.random.key(0), theta, short, k=3)
    assert short.N == N - 1
    assert np.abs(lost.values - ref.values).max() > 1e-6 * np.abs(ref.values).max()


def test_what_cannot_take_a_stream_says_so():
    obj, theta, X, Y = _function_model()
    op = D.HessianMatvec(obj)
    stream = batching.Stream(Passes(X, Y), batch_size=2)
    with pytest.raises(TypeError, match=r"the data are a batching.Stream.*driver='loop'.*driver='python'"):
        S.lanczos(op, obj.P, jax.random.key(0), theta, stream, k=2, driver="loop")
    with pytest.raises(TypeError, match=r"the data are a batching.Stream.*materialize with `batch`=4"):
        S.materialize(op, obj.P, theta, stream, batch=4)
    with pytest.raises(TypeError, match=r"the data are a batching.Stream.*the dense matrix with `batch`=2"):
        D.hessian(obj, theta, stream, batch=2)
    with pytest.raises(ValueError, match=r"`mode`='forward' needs the data in one batch; .* for a Stream"):
        D.jacobian(obj, theta, stream, mode="forward")
    with pytest.raises(ValueError, match=r"`Y` must be None when `X` is a Stream"):
        op.host_prepare(theta, stream, Y)
    once = batching.Stream(pair for pair in Passes(X, Y)())
    with pytest.raises(ValueError, match=r"`source` is a one-shot iterator .* one pass per product"):
        S.lanczos(op, obj.P, jax.random.key(0), theta, once, k=2)
    with pytest.raises(ValueError, match="`linear` is a HostProduct .* needs driver='python'"):
        krylov.start(op, obj.P, jax.random.key(0), (theta, stream), driver="loop",
                     linear=krylov.prepare(op, obj.P, (theta, stream), driver="python"))
