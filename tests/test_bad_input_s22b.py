"""Session 22's second bad-input sweep: the defects the first fuzzing pass found and left, each refused up front.

Each test holds one defect: an entry point that answered wrong types, NaN/Inf, impossible sizes or tolerances
with a bare numpy/jax/flax error, a late crash, or a silent wrong result.
"""

import jax
import numpy as np
import pytest

from theory_lab import model
from theory_lab.arch import Architecture, Dense, Output

ARCH = Architecture((3,), (Dense(4), Output(1)))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"key": 0}, TypeError, r"`key`=0 is not a jax.random key; expected jax.random.key\(seed\)"),
    ({"key": None}, TypeError, r"`key`=None is not a jax.random key"),
    ({"scale": float("nan")}, ValueError, r"`scale`=nan must be a finite non-negative number"),
    ({"scale": -1.0}, ValueError, r"`scale`=-1.0 must be a finite non-negative number"),
    ({"scale": float("inf")}, ValueError, r"`scale`=inf must be a finite non-negative number"),
    ({"bias_scale": float("nan")}, ValueError, r"`bias_scale`=nan must be a finite non-negative number .* "
                                               r"the default is bias_scale=0.1"),
])
def test_model_init_refuses_seeds_and_meaningless_spreads(kwargs, error, match):
    """Before: flax's InvalidRngError for an int or None key; NaN, negative or infinite spreads accepted (NaN/Inf
    biases, or a spread silently ignored by the default LeCun law)."""
    kwargs = {"key": jax.random.key(0), **kwargs}
    with pytest.raises(error, match=match):
        model.init(ARCH, kwargs.pop("key"), **kwargs)
