"""Session 27, adversarial review of the rank verdicts (``feature_rank``): networks that meet every hypothesis of
Theorem 3.5 (analytic σ satisfying Assumption 3.2, distinct samples, ``n_1 >= N``, per-neuron biases) where
float64 gives a clear rank gap although the exact rank is ``N``. Each exact answer was computed independently:
the float64 inputs and parameters were read exactly into mpmath (80 digits), the features recomputed there
and their singular values taken with ``mpmath.svd_r`` (rounding at 80 digits is ~1e-79, far below every σ quoted).
"""

from __future__ import annotations

import numpy as np
import pytest

from theory_lab.arch import Architecture, Dense, Output
from theory_lab.feature_maps import feature_rank, forward_upto
from theory_lab.sampling import sample_params, with_layer


def _close_inputs(eps: float):
    """Dense 3 → 12 sigmoid, N = 10 samples ``x0 + eps · z_i`` (distinct: Assumption 3.1 holds)."""
    rng = np.random.default_rng(0)
    arch = Architecture((3,), (Dense(12, activation="sigmoid"), Output(1)))
    x0 = rng.standard_normal(3)
    return arch, sample_params(arch, 1), x0 + eps * rng.standard_normal((10, 3))


def _tiny_weights(scale: float):
    """Dense 2 → 10 sigmoid, N = 10, weights ~``scale``, biases in [0.3, 1]."""
    rng = np.random.default_rng(0)
    arch = Architecture((2,), (Dense(10, activation="sigmoid"), Output(1)))
    params = sample_params(arch, rng)
    X = rng.standard_normal((10, 2))
    return arch, with_layer(params, 1, W=rng.standard_normal((2, 10)) * scale, b=rng.uniform(0.3, 1.0, 10)), X


@pytest.mark.parametrize("instance", [
    # exact singular values (mpmath, 80 digits): 5.86, 2.0e-10, 5.6e-11, 5.0e-11, 5.1e-22, 2.3e-22, 1.3e-22,
    # 6.4e-23, 2.0e-23, 6.4e-25: exact rank 10; float64 sees only the affine part (rank 4)
    pytest.param(lambda: _close_inputs(1e-10), id="inputs-1e-10-apart"),
    # exact: 6.78, 2.5e-10, 2.0e-10, 4.8e-21, 3.3e-21, 1.9e-21, 6.4e-32, 2.0e-32, 8.2e-33, 1.8e-33: exact rank 10
    pytest.param(lambda: _tiny_weights(1e-10), id="weights-1e-10"),
])
def test_pre_activations_varying_by_1e_10_leave_the_deficit_unresolved(instance):
    """Pre-activations spread by ~1e-10 around ~1: sigmoid is affine on them to rounding, so float64 F_1 has rank
    d + 1 with a clear gap. The units' pre-activations were not counted as *varying* (the old test asked for a
    spread above 1e-8 relative to |G|), so the deficit was conclusive: a false Theorem 3.5 *fails*. A spread is
    real when it exceeds the rounding error of computing G, however small it is relative to G."""
    arch, params, X = instance()
    r = feature_rank(arch, params, X, 1)
    assert r.rank < 10 and r.margin >= r.band  # the spectrum alone: a clear gap
    assert not r.conclusive and r.below(10) is None
    assert "affine to rounding" in r.unresolved


def _constant_by_rounding_only():
    """Dense 4 → 10 sigmoid, N = n_1 = 10. Units 0 and 1 have weights (1, 1, −1, 0) and (2, 2, −2, 0) on inputs
    (s, t_i + 1, t_i, z_i): their exact pre-activations s + 1 + b_0 and 2(s + 1) + b_1 are the same on every sample
    (t_i + 1 is exact in float64), but float64 rounds s + (t_i + 1) differently per sample (spread 4.4e-16)."""
    rng = np.random.default_rng(3)
    t = np.round(rng.uniform(2, 4, 10) * 2**49) / 2**49
    s = 0.3 + rng.uniform(0, 1e-3)
    X = np.stack([np.full(10, s), t + 1.0, t, rng.standard_normal(10)], axis=1)
    assert np.all(X[:, 1] - 1.0 == X[:, 2])
    W, b = rng.standard_normal((4, 10)), rng.uniform(-0.5, 0.5, 10)
    W[:, 0], W[:, 1] = (1.0, 1.0, -1.0, 0.0), (2.0, 2.0, -2.0, 0.0)
    arch = Architecture((4,), (Dense(10, activation="sigmoid"), Output(1)))
    return arch, with_layer(sample_params(arch, 0), 1, W=W, b=b), X


def test_a_unit_whose_pre_activation_varies_by_rounding_only_stays_a_conclusive_deficit():
    """The converse: units 0 and 1 give two constant columns in exact arithmetic, so rank F_1 <= 9 < N (exact
    singular values, mpmath 80 digits: ..., 5.1e-3, 2.6e-3, 5.1e-4, 1.1e-4, 1.0e-5, 2.5e-81: rank 9). Their
    float64 pre-activations spread by rounding only (within the error bound of the dot product), so they are
    not unresolved and the deficit stays conclusive. Fails if any non-zero spread counts as varying."""
    arch, params, X = _constant_by_rounding_only()
    G = np.asarray(forward_upto(arch, params, X, 1).G[1])
    assert 0 < np.ptp(G[:, 0]) < 1e-15  # rounding noise on an exactly constant pre-activation
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 9 and r.conclusive and r.unresolved == "" and r.below(10) is True


def _near_duplicate(gap: float | None):
    """Dense 3 → 12 sigmoid, N = 10 generic samples, except that sample 1 is sample 0 moved by ``gap · z`` (``None``:
    its last coordinate moved by one ulp). Distinct: Assumption 3.1 holds, exactly as the library tests it."""
    rng = np.random.default_rng(0)
    arch = Architecture((3,), (Dense(12, activation="sigmoid"), Output(1)))
    X = rng.standard_normal((10, 3))
    if gap is None:
        X[1] = X[0]
        X[1, 2] = np.nextafter(X[0, 2], np.inf)
    else:
        X[1] = X[0] + gap * rng.standard_normal(3)
    return arch, sample_params(arch, 1), X


@pytest.mark.parametrize("gap", [None, 1e-13], ids=["one-ulp", "1e-13"])
def test_near_duplicate_samples_leave_the_deficit_unresolved(gap):
    """Exact singular values (mpmath, 80 digits): 5.36, 1.69, 0.756, 0.479, 0.0641, 0.0351, 8.5e-3, 3.9e-3,
    1.3e-3, then σ_10 = 6.3e-19 (one ulp) or 3.2e-16 (1e-13 apart; float64 gives 4.1e-16, tolerance 1.4e-14):
    exact rank 10 = N, so Theorem 3.5's conclusion holds here; σ_10 is below float64's reach. The library says
    rank 9 conclusively (margin 152, 35) before session 28: a false *fails*. Now the near-duplicate rule
    (:mod:`theory_lab.near_duplicates`) leaves it unresolved."""
    arch, params, X = _near_duplicate(gap)
    r = feature_rank(arch, params, X, 1)
    assert r.rank == 9 and r.margin >= r.band
    assert r.below(10) is None and "near-duplicate samples" in r.unresolved and "[0, 1]" in r.unresolved
