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
    >>> from theory_lab.validate import numeric_array
    >>> numeric_array([1.0, 2.0], "x").dtype
    dtype('float64')
    >>> numeric_array("abc", "X")
    Traceback (most recent call last):
    ...
    TypeError: `X`='abc' is a str, not an array of numbers; pass a numpy or jax array of float64.
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["is_integer", "is_real", "is_real_scalar", "all_finite", "numeric_array", "float64_values", "start_vector"]


def is_integer(value) -> bool:
    """True for Python and numpy integers; False for bools and anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """True for Python and numpy integers and floats; False for bools, complex numbers, strings and the rest."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_real_scalar(value) -> bool:
    """:func:`is_real`, or a 0-d numpy/jax array of integers or floats (``jnp.float64(2.0)``); False for bools."""
    if is_real(value):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(value, "shape", None) == () and dtype is not None and np.dtype(dtype).kind in "iuf"


def all_finite(a) -> bool:
    """True when every entry of the array ``a`` is finite; True for a traced array (decided where it is concrete)."""
    if isinstance(a, jax.core.Tracer):
        return True
    return bool(np.all(np.isfinite(np.asarray(a))))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def numeric_array(a, name: str, hint: str = ""):
    """``a`` as an array of numbers (jax arrays and tracers unchanged, the rest through ``numpy.asarray``), or a
    ``TypeError`` naming ``name`` and the value for None, strings, dicts and arrays of strings or objects (jax's
    own errors for them came from deep inside ``jnp.asarray``). ``hint`` ends the message (e.g. how to flatten).

    Bool arrays pass: they are 0/1 data where the user's own code reads them (a custom loss's binary targets, a
    custom model's binary inputs; :func:`theory_lab.exact_fit.exact_fit` takes a bool ``y`` too). Where the library
    computes with the array itself it needs float64 and says so naming the argument (``theta``, ``X`` of an
    Architecture, ``Y`` of the squared and softmax-cross-entropy losses)."""
    if isinstance(a, (jax.Array, jax.core.Tracer)):
        return a
    if a is None or isinstance(a, (str, bytes, dict)):
        raise TypeError(f"`{name}`={_short(a)} is a {type(a).__name__}, not an array of numbers; pass a numpy or "
                        f"jax array of float64{hint}.")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as err:  # ragged lists
        raise TypeError(f"`{name}` cannot be read as an array of numbers ({err}); pass a numpy or jax array of "
                        f"float64{hint}.") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"`{name}`={_short(a)} is an array of dtype {arr.dtype}, not of numbers; pass a numpy or jax "
                        f"array of float64{hint}.")
    return arr


def float64_values(a, name: str, hint: str = "") -> np.ndarray:
    """``a`` as a float64 numpy array, or a ``TypeError`` naming ``name`` for what :func:`numeric_array` refuses and
    for bool, float16/32 and complex arrays: where the library computes with the values themselves, True read as
    1.0 and a float32 array promoted silently carried float32 rounding into float64 results. Integer arrays pass
    (their values are exact). ``hint`` ends the message.

    Example:
        >>> float64_values([1, 2], "x").dtype
        dtype('float64')
        >>> float64_values(np.ones(2, np.float32), "F")
        Traceback (most recent call last):
        ...
        TypeError: `F` has dtype float32; expected real numbers in float64. Pass numpy.asarray(F, numpy.float64).
    """
    arr = np.asarray(numeric_array(a, name, hint))
    if arr.dtype == np.bool_ or arr.dtype.kind in "fc" and arr.dtype != np.float64:
        raise TypeError(f"`{name}` has dtype {arr.dtype}; expected real numbers in float64{hint}. Pass "
                        f"numpy.asarray({name}, numpy.float64).")
    return arr.astype(np.float64, copy=False)


def start_vector(v0, dim: int, name: str = "v0") -> np.ndarray:
    """``v0`` as a float64 ``(dim,)`` numpy vector that can be normalised, or an error naming ``name``.

    A zero or non-finite start vector made every Krylov vector NaN without a word; a wrongly shaped one failed
    inside the first product.
    """
    v = np.asarray(numeric_array(v0, name))
    if v.shape != (dim,):
        raise ValueError(f"`{name}` has shape {v.shape}; expected ({dim},), one entry per parameter (the operator's "
                         "dimension).")
    if not np.all(np.isfinite(v)) or not np.any(v):
        what = "non-finite entries" if not np.all(np.isfinite(v)) else "only zeros"
        raise ValueError(f"`{name}` has {what}; a start vector must be finite and non-zero (omit it for a random "
                         "normal one drawn from `key`).")
    return v.astype(np.float64)
