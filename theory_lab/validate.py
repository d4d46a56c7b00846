"""Predicates the argument checks share: an integer that is not a bool, a real number that is not a bool, an
array whose entries are all finite.

``bool`` is a subclass of ``int`` in Python, so ``isinstance(True, int)`` holds and ``True`` would pass
as a count of 1 or a tolerance of 1.0. Each caller keeps its own message (argument, value, what was
expected); only the type test lives here.

Example:
    >>> import numpy as np
    >>> from theory_lab.validate import is_integer, is_real
    >>> is_integer(3), is_integer(np.int64(3)), is_integer(True), is_integer(3.0)
    (True, True, False, False)
    >>> is_real(0.5), is_real(2), is_real(np.float64(1.0)), is_real(np.True_), is_real("1")
    (True, True, True, False, False)
    >>> from theory_lab.validate import all_finite
    >>> all_finite(np.ones(3)), all_finite([1.0, np.nan]), all_finite(np.array([np.inf]))
    (True, False, False)
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["is_integer", "is_real", "all_finite"]


def is_integer(value) -> bool:
    """True for Python and numpy integers; False for bools and anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """True for Python and numpy integers and floats; False for bools, complex numbers, strings and the rest."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def all_finite(a) -> bool:
    """True when every entry of the array ``a`` is finite; True for a traced array (decided where it is concrete)."""
    if isinstance(a, jax.core.Tracer):
        return True
    return bool(np.all(np.isfinite(np.asarray(a))))
