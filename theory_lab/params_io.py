"""Parameter points from ``.npz`` files, validated before any work: :func:`load_theta`.

A saved point is an ``.npz`` archive (``numpy.savez``) holding either

* ``theta`` — the flat float64 vector ``θ (P,)`` of :func:`theory_lab.derivatives.flatten`, or
* one array per leaf, named ``layer_k/W`` ``(l_{k-1}, T_k)`` and ``layer_k/b``
  (``(n_k,)`` per-neuron bias, ``(T_k,)`` per-filter bias), ``k`` counting every layer
  from 1 (a max-pooling layer has a number but no arrays).

Everything is checked at load: the archive itself (not ``.npy``, text or truncated), the
keys found against those expected, shapes, dtypes (complex refused; integer and float32
cast to float64 and said so), and finiteness (the first NaN/Inf named by leaf and index).

Example:
    >>> import numpy as np, tempfile, os
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.derivatives import layout
    >>> lay = layout(Architecture((3,), (Dense(2), Output(1))))
    >>> path = os.path.join(tempfile.mkdtemp(), "point.npz")
    >>> np.savez(path, theta=np.arange(lay.P, dtype=np.float32))
    >>> loaded = load_theta(path, lay)
    >>> loaded.theta.dtype, loaded.theta.shape, loaded.notes
    (dtype('float64'), (11,), ('`theta` has dtype float32; cast to float64.',))
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory_lab.validate import numeric_array

__all__ = ["LoadedParams", "load_theta", "check_finite", "HOW_TO_SAVE"]

HOW_TO_SAVE = ("make one with numpy.savez(path, theta=theta) (theta: the flat float64 vector of "
               "theory_lab.derivatives.flatten) or numpy.savez(path, **{'layer_1/W': W1, 'layer_1/b': b1, …})")


@dataclass(frozen=True)
class LoadedParams:
    """A validated point: ``theta (P,)`` float64, the keys read, and notes (casts, ignored keys)."""

    theta: np.ndarray
    keys: tuple[str, ...]
    notes: tuple[str, ...]


def _expected(layout) -> dict:
    return {f"layer_{leaf.k}/{leaf.name}": leaf for leaf in layout.leaves}


def _as_float64(a: np.ndarray, key: str, name: str, notes: list) -> np.ndarray:
    kind = a.dtype.kind
    if kind == "c":
        raise ValueError(f"`{name}`: `{key}` is complex ({a.dtype}); parameters are real, and casting would drop "
                         "the imaginary part. Save the real parameters (np.real(theta)) if that is what you meant.")
    if kind not in "iuf":
        raise ValueError(f"`{name}`: `{key}` has dtype {a.dtype}; expected float64 numbers.")
    if a.dtype != np.float64:
        notes.append(f"`{key}` has dtype {a.dtype}; cast to float64.")
    with np.errstate(over="ignore"):
        out = a.astype(np.float64)
    if kind == "f" and not np.all(np.isfinite(out)) and np.all(np.isfinite(a)):  # finite long doubles beyond 1.8e308
        raise ValueError(f"`{name}`: `{key}` ({a.dtype}) holds finite values beyond float64's range (largest "
                         f"|entry| {np.format_float_scientific(np.max(np.abs(a)), precision=3)}); parameters are float64. Rescale or save float64 values.")
    return out


def _check_layout(layout) -> None:
    if not (hasattr(layout, "leaves") and hasattr(layout, "P")):  # an Architecture or None: AttributeError
        raise TypeError(f"`layout` is a {type(layout).__name__}; expected the parameter layout of the "
                        "architecture: pass theory_lab.derivatives.layout(arch).")


def check_finite(theta, layout, name: str = "params") -> None:
    """Refuse NaN/Inf in ``theta (P,)``, naming the first one by flat index and by leaf and index."""
    _check_layout(layout)
    theta = np.asarray(numeric_array(theta, "theta"))  # None or text gave numpy's "ufunc 'isfinite' not supported"
    if theta.shape != (layout.P,):  # a (1, P) θ was searched as flat, its NaN reported as "[nan]"
        raise ValueError(f"`{name}`: θ has shape {theta.shape}; this architecture needs ({layout.P},).")
    bad = np.flatnonzero(~np.isfinite(theta))
    if not bad.size:
        return
    i = int(bad[0])
    where = ""
    for leaf in layout.leaves:
        if leaf.start <= i < leaf.stop:
            idx = np.unravel_index(i - leaf.start, leaf.shape)
            where = f" = layer_{leaf.k}/{leaf.name}[{', '.join(str(int(j)) for j in idx)}]"
    raise ValueError(f"`{name}`: θ[{i}]{where} is {theta[i]}; {bad.size} of {theta.size} parameters are NaN or "
                     "Inf. Parameters must be finite: save the point before the run diverged.")


def load_theta(path, layout, *, name: str = "params") -> LoadedParams:
    """Read and validate a saved point for ``layout`` (:func:`theory_lab.derivatives.layout`).

    Args:
        path: an ``.npz`` file (see the module docstring for its keys).
        layout: the architecture's parameter layout.
        name: the argument's name in messages (the CLI passes ``--params``).

    Returns:
        :class:`LoadedParams` with ``theta (P,)`` float64.

    Raises:
        ValueError: not an ``.npz`` archive, keys or shapes that do not match, complex or
            non-numeric arrays, NaN or Inf; the message says which key and index, and how to fix it.
    """
    if not isinstance(path, (str, os.PathLike)):  # None gave pathlib's "expected str, bytes or os.PathLike"
        raise TypeError(f"`{name}`={path!r} is a {type(path).__name__}; expected the path of an .npz file "
                        f"(str or pathlib.Path); {HOW_TO_SAVE}.")
    _check_layout(layout)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"`{name}`={str(path)!r} is not an existing file; {HOW_TO_SAVE}.")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":  # PK\x05\x06 opens a zip with no members: numpy.savez(path) with no arrays
        what = ("a .npy array" if magic.startswith(b"\x93NUM") else
                "an empty archive: it holds no arrays" if magic == b"PK\x05\x06" else "not a zip archive")
        raise ValueError(f"`{name}`={str(path)!r} is not an .npz archive ({what}); {HOW_TO_SAVE}.")
    notes: list[str] = []
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # our handle: closed on any error
            raw = {key: z[key] for key in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
        raise ValueError(f"`{name}`={str(path)!r} is not an .npz archive numpy can read (damaged, truncated or "
                         f"holding pickled objects: {str(err).splitlines()[0]}); {HOW_TO_SAVE}.") from None
    damaged = sorted(key for key, value in raw.items() if isinstance(value, bytes))  # numpy's fallback for a non-.npy member
    if damaged:
        raise ValueError(f"`{name}`={str(path)!r}: member(s) {damaged} of the archive are not .npy arrays (damaged, or "
                         f"not written by numpy.savez); {HOW_TO_SAVE}.")
    arrays = {key: np.asarray(value) for key, value in raw.items()}
    expected = _expected(layout)
    if "theta" in arrays:
        extra = sorted(set(arrays) - {"theta"})
        if extra:
            notes.append(f"ignored key(s) {extra}: `theta` holds the whole point.")
        theta = _as_float64(arrays["theta"], "theta", name, notes)
        if theta.shape != (layout.P,):
            raise ValueError(f"`{name}`: `theta` has shape {theta.shape}; this architecture needs ({layout.P},). "
                             "Was the point saved for another architecture?")
        used = ("theta",)
    else:
        missing = [key for key in expected if key not in arrays]
        if missing:
            found = ", ".join(f"{k} {arrays[k].shape}" for k in sorted(arrays)) or "none"
            want = ", ".join(f"{k} {leaf.shape}" for k, leaf in expected.items())
            raise ValueError(f"`{name}`: {str(path)!r} lacks {missing}. Keys found: {found}. Expected `theta` "
                             f"({layout.P},) or: {want}.")
        extra = sorted(set(arrays) - set(expected))
        if extra:
            notes.append(f"ignored key(s) {extra}: not parameters of this architecture.")
        parts = []
        for key, leaf in expected.items():
            a = _as_float64(arrays[key], key, name, notes)
            if a.shape != leaf.shape:
                raise ValueError(f"`{name}`: `{key}` has shape {a.shape}; expected {leaf.shape}. Was the point saved "
                                 "for another architecture (or W transposed: rows index the patch, columns the "
                                 "filters)?")
            parts.append(a.ravel())
        theta = np.concatenate(parts) if parts else np.zeros(0)
        used = tuple(expected)
    check_finite(theta, layout, name)
    return LoadedParams(theta, used, tuple(notes))
