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
