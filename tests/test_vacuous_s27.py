"""Session 27: survivors that earlier planted-bug audits left (docs/planted_bugs.md).

1. "A padded max-pool resolved anyway": ``pool_resolved.resolvable`` skips a pool whose
   ``patches`` hold ``-1`` (a zero-padding entry). No public layer builds one (``MaxPool`` windows
   are "valid" only, ``PatchMaxPool`` refuses negative indices; checked below), so the fixture
   hand-builds one by overriding the pool's ``LayerInfo`` in an ``Architecture`` subclass (a
   subclass compares unequal to the plain architecture, so no jit cache is shared with one).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import derivatives as D
from theory_lab import model
from theory_lab import objective
from theory_lab import pool_resolved as PR
from theory_lab.arch import Architecture, Dense, MaxPool, Output, PatchMaxPool

# ----------------------------------------------------------------------------- a padded max-pool

_REAL = ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5))  # the pool as built (valid indices)
_PADDED = ((0, -1), (1, 2), (-1, 3), (3, 4), (4, 5))  # entries 1 and 2 of windows 0 and 2 are padding


@dataclasses.dataclass(frozen=True)
class _PaddedPoolArch(Architecture):
    """Layer 2 is a PatchMaxPool whose patches read zero padding (``-1``), as ``arch.py`` encodes it."""

    @functools.cached_property
    def info(self):
        infos = list(Architecture.info.func(self))
        infos[1] = dataclasses.replace(infos[1], patches=np.array(_PADDED, dtype=np.int64))
        return tuple(infos)


@dataclasses.dataclass(frozen=True)
class _FreshPaddedPoolArch(_PaddedPoolArch):
    """The same network, unequal to ``_PaddedPoolArch``: its objective compiles afresh."""


def _padded_arch():
    return _PaddedPoolArch((3,), (Dense(6, activation="tanh"), PatchMaxPool(_REAL), Dense(3, "tanh"), Output(2)))


def _instance(seed=0, N=6):
    arch = _padded_arch()
    obj = D.objective(arch)
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(rng.standard_normal(obj.P))
    X, Y = jnp.asarray(rng.standard_normal((N, 3))), jnp.asarray(rng.standard_normal((N, 2)))
    return arch, obj, theta, X, Y


def _plain_hessian(arch, obj, theta, X, Y):
    """The reference: ``jax.hessian`` of the loss of the network as it is (``model.CNN``, padding read as 0)."""
    def phi(t):
        F = model.CNN(arch).apply({"params": obj.layout.unravel(t)}, X).F[-1]
        return jnp.sum(obj.loss(F, Y))
    return np.asarray(jax.jit(jax.hessian(phi))(theta))


def test_no_public_max_pool_reads_padding():
    """Why the fixture is hand-built: every MaxPool window is inside its input; PatchMaxPool refuses -1."""
    for shape, window, stride in itertools.chain(
            (((n, 2), (w,), (s,)) for n in range(1, 8) for w in range(1, n + 1) for s in range(1, 4)),
            (((5, 4, 1), (w1, w2), (s1, s2)) for w1 in (1, 2, 3) for w2 in (1, 2, 3) for s1 in (1, 2, 3)
             for s2 in (1, 2))):
        arch = Architecture(shape, (MaxPool(window, stride), Output(1)))
        assert arch.info[0].patches.min() >= 0, (shape, window, stride)
    with pytest.raises(ValueError, match="outside layer 1"):
        Architecture((3,), (Dense(6), PatchMaxPool(_PADDED), Output(1)))
    assert PR.resolvable(Architecture((3,), (Dense(6, activation="tanh"), PatchMaxPool(_REAL), Output(1)))) == (2,)


def test_a_padded_max_pool_is_not_resolved_and_its_hessian_products_are_exact():
    """The padded pool is kept as it is: every Hessian product equals the dense Hessian of the plain
    network to float64 rounding (``1e-12 · max|H|``; measured 2e-16 for the Hessian, 1e-15 for products;
    the planted bug below is off by 17.6 = 0.8 max|H|)."""
    arch, obj, theta, X, Y = _instance()
    G1 = np.tanh(np.asarray(model.forward(arch, obj.layout.unravel(theta), X).G[1]))
    assert np.any((G1[:, 0] < 0) & (G1[:, 5] < 0)) and np.any(G1[:, 0] > 0)  # the padding 0 wins in some windows
    H = _plain_hessian(arch, obj, theta, X, Y)
    tol = 1e-12 * np.abs(H).max()
    np.testing.assert_allclose(np.asarray(D.hessian(obj, theta, X, Y)), H, rtol=0, atol=tol)
    V = jnp.asarray(np.random.default_rng(1).standard_normal((3, obj.P)))
    np.testing.assert_allclose(np.asarray(D.hvp(obj, theta, X, Y, V)), np.asarray(V) @ H, rtol=0, atol=tol * obj.P)
    np.testing.assert_allclose(np.asarray(D.linearize_hvp(obj, theta, X, Y)(V[0])), H @ np.asarray(V[0]),
                               rtol=0, atol=tol * obj.P)
    assert PR.resolvable(arch) == () and PR.selection(arch, obj.layout.unravel(theta), X) == {}  # kept as it is


def test_resolving_the_padded_max_pool_anyway_is_caught(monkeypatch):
    """Planted bug: ``resolvable`` without its padding guard. The resolved form then reads index -1 as
    the last unit of layer 1 instead of the constant 0, so values and Hessian differ from the network's."""
    arch, obj, theta, X, Y = _instance()
    params = obj.layout.unravel(theta)

    def anyway(a):
        return tuple(i.k for p, i in zip(a.info, a.info[1:]) if i.kind == "maxpool" and p.has_weights
                     and p.kind != "output")

    monkeypatch.setattr(PR, "resolvable", anyway)
    M = PR.selection(arch, params, X)
    assert set(M) == {2}
    F_wrong = np.asarray(PR.outputs(arch, params, X, M))
    assert np.abs(F_wrong - np.asarray(model.apply(arch, params, X))).max() > 1e-3

    @jax.jit
    def hessian(t):
        return jax.hessian(lambda s: jnp.sum(obj.loss(PR.outputs(arch, obj.layout.unravel(s), X, M), Y)))(t)

    H = _plain_hessian(arch, obj, theta, X, Y)
    assert np.abs(np.asarray(hessian(theta)) - H).max() > 1e-3 * np.abs(H).max()
    # the objective built with the planted rule (a fresh, unequal architecture: no shared compiled program)
    fresh = _FreshPaddedPoolArch(arch.input_shape, arch.layers)
    obj2 = objective.Objective(objective.ArchNetwork(fresh), obj.layout, obj.reduction, obj.loss)
    assert np.abs(np.asarray(D.hessian(obj2, theta, X, Y)) - H).max() > 1e-3 * np.abs(H).max()


# ----------------------------------------------------------------------------- affine to rounding, not at an asymptote

def test_a_tanh_layer_affine_to_rounding_near_its_biases_is_unresolved():
    """Units affine to rounding *away from* σ's asymptote: tanh with biases in [0.3, 1] and weights ~3e-8, so
    each unit's pre-activations vary by ~1e-7 around its bias and its outputs are ``tanh(b) + tanh'(b)·δ``
    to within the rank tolerance (the δ² term is ~1e-15). Float64 sees rank 3 (span of 1 and X); the
    exact rank is N = 10 (tanh is analytic and affine on no interval). ``_saturated_entries`` frees only
    entries near the asymptote (|x| ≳ 19 for tanh), so only ``_saturation``'s ``affine`` rule explains it.

    Planted bug (left by earlier audits): ``_saturation`` with ``unresolved = constant`` (the affine rule
    dropped) calls this rank-3 deficit conclusive."""
    from theory_lab.feature_maps import feature_rank
    from theory_lab.sampling import sample_params, with_layer

    rng = np.random.default_rng(0)
    arch = Architecture((2,), (Dense(10, activation="tanh"), Output(1)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((10, 2))
    params = with_layer(params, 1, W=rng.standard_normal((2, 10)) * 3e-8, b=rng.uniform(0.3, 1.0, 10))
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 3 and not r.conclusive
    assert "are affine to rounding" in r.unresolved and "saturate" not in r.unresolved
