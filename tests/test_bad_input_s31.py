"""Bad input found by the lead in stop 31: each test failed on the code before it."""

from __future__ import annotations

import jax
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Dense, Output

ARCH = Architecture((3,), (Dense(50), Output(1)))


@pytest.mark.parametrize("kwargs, match", [
    ({"law": "normal", "scale": 1e308}, r"`scale`=1e\+308 overflows float64: layer_1/W has non-finite draws"),
    ({"bias_scale": 1e308}, r"`bias_scale`=1e\+308 overflows float64: layer_1/b has non-finite draws"),
])
def test_model_init_refuses_spreads_that_overflow(kwargs, match):
    """``model.init(scale=1e308)`` passed the finite-spread check and returned ±inf weights silently (stop 30 left
    it; ``sample_params`` already refused the same)."""
    with pytest.raises(ValueError, match=match):
        model.init(ARCH, jax.random.key(0), **kwargs)


def test_model_init_large_finite_spread_still_works():
    params = model.init(ARCH, jax.random.key(0), law="normal", scale=1e100)
    assert all(bool(jax.numpy.all(jax.numpy.isfinite(a))) for a in jax.tree_util.tree_leaves(params))


def test_critical_tolerance_at_tiny_and_huge_scales():
    """``tolerances._norm`` squared the entries: at 1e-170 the norms of targets and outputs underflowed to 0 and
    ``critical_tol`` fell back to the scale 1, a tolerance 1e170 times too large (any small gradient was
    "critical"); at 1e160 they overflowed and the tolerance was refused as ``value=inf``. Scaled, the rule is
    the same at every scale."""
    import numpy as np

    from theory_lab import tolerances as T

    ref = T.critical_tol(2.0, np.full((4, 1), 3.0), outputs=np.full((4, 1), 6.0)).value
    for s in (1e-170, 1e-100, 1e100, 1e160):
        got = T.critical_tol(2.0, np.full((4, 1), 3.0 * s), outputs=np.full((4, 1), 6.0 * s)).value
        assert got == pytest.approx(ref * s, rel=1e-14, abs=0), s
    with pytest.raises(ValueError, match=r"`Y` has norm beyond float64 \(largest entry 1e\+308\)"):
        T.critical_tol(1.0, np.full((4, 1), 1e308))
