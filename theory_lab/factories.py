"""Model factories: ``PKG.MODULE:FACTORY`` (or ``path/file.py:FACTORY``, or a preset name) → objective, θ, data.

A factory takes no arguments and returns ``(model, params, data)`` or
``(model, params, data, loss)``: see :func:`theory_lab.objective.from_model` for ``model``
and ``params``; ``data`` is ``(X, Y)`` arrays (cut into a :class:`~theory_lab.batching.Batches`
of ``batch_size``), any iterable of ``(x, y)`` batches (streamed as they come, never
concatenated: a :class:`~theory_lab.batching.Stream`, re-cut into chunks of ``batch_size``
if given), a Batches or a Stream; the optional ``loss`` is a per-sample callable. :func:`load` checks everything before any
work and raises ``ValueError`` naming the factory, the value and the fix (the CLI turns
it into ``Invalid value for --model``).

Example:
    >>> from theory_lab import factories
    >>> obj, theta, data = factories.load("examples/own_model.py:factory", batch_size=100)
    >>> obj.loss.name, data.N, data.num_batches, theta.shape
    ('softmax-cross-entropy', 256, 3, (9658,))
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from theory_lab import batching, presets

__all__ = ["resolve", "load"]


def resolve(spec: str) -> Callable:
    """The factory named by ``spec``: a preset (:data:`theory_lab.presets.MODELS`), ``pkg.module:name``
    (importable, the working directory included) or ``path/to/file.py:name``."""
    if spec in presets.MODELS:
        return presets.MODELS[spec]
    module_name, sep, name = str(spec).rpartition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"`--model`={spec!r} is neither a preset ({', '.join(presets.MODELS)}) nor of the form "
                         "PKG.MODULE:FACTORY or path/to/file.py:FACTORY.")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"`--model`={spec!r}: no file {module_name!r}.")
            loader = importlib.util.spec_from_file_location(f"theory_lab_factory_{path.stem}", path)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            cwd = str(Path.cwd())
            added = cwd not in sys.path
            if added:
                sys.path.insert(0, cwd)
            try:
                module = importlib.import_module(module_name)
            finally:
                if added:
                    sys.path.remove(cwd)
    except ImportError as err:
        raise ValueError(f"`--model`={spec!r}: cannot import {module_name!r} ({err}); check the module path, or "
                         "give a file as path/to/file.py:FACTORY.") from None
    except Exception as err:  # the module's own code failed while it was imported (a SyntaxError, a raise)
        raise ValueError(f"`--model`={spec!r}: importing {module_name!r} raised {type(err).__name__}: {err}. Fix "
                         "the module (import it in Python to see the traceback).") from err
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f"`--model`={spec!r}: {module_name!r} has no callable {name!r}.")
    return factory


def _data(spec, data, batch_size):
    if isinstance(data, (batching.Batches, batching.Stream)):
        return data
    if isinstance(data, tuple) and len(data) == 2 and all(hasattr(a, "shape") for a in data):
        X, Y = np.asarray(data[0]), np.asarray(data[1])
        if X.ndim < 1 or Y.ndim < 1 or X.shape[0] != Y.shape[0]:
            raise ValueError(f"`--model`={spec!r} returned X of shape {X.shape} and Y of shape {Y.shape}; expected "
                             "the same number of samples N along the first axis.")
        return batching.batches(X, Y, batch_size or X.shape[0])
    if isinstance(data, Iterator) and not callable(data):
        # a one-shot iterator (a generator) serves one pass, and every product needs one: its batches are
        # kept as they come (a list), still neither concatenated nor copied
        data = list(data)
    try:
        return batching.Stream(data, batch_size)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`--model`={spec!r}: its data must be (X, Y) arrays or an iterable of (x, y) batches; "
                         f"{err}") from None


def load(spec: str, *, loss: str | None = None, reduction: str = "sum", batch_size: int | None = None):
    """``(objective, θ, data)`` from a model factory, every argument checked before any work.

    ``data`` is a :class:`~theory_lab.batching.Batches` (arrays) or a
    :class:`~theory_lab.batching.Stream` (an iterable of batches, see the module docstring).

    Args:
        spec: see :func:`resolve`.
        loss: ``"squared"`` or ``"softmax-cross-entropy"``; default: the factory's own loss
            callable if it returns one, else cross-entropy for integer targets and squared
            otherwise.
        reduction: ``"sum"`` or ``"mean"``.
        batch_size: samples per batch (default: one batch for arrays, the first batch's size for
            an iterable).

    Raises:
        ValueError: a bad factory, float32 parameters, mismatched shapes, a loss that is
            not per-sample, non-finite outputs (each message names ``--model`` and the fix).
    """
    from theory_lab import derivatives as D
    from theory_lab.objective import check_data, from_model

    factory = resolve(spec)
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise ValueError(f"`--model`={spec!r}: the factory needs arguments {inspect.signature(factory)}; a factory "
                         "is called with none. Wrap it: def factory(): return make(...).") from None
    except ValueError:  # no signature to read (some builtins): the call below says what is wrong
        pass
    try:
        out = factory()
    except Exception as err:
        raise ValueError(f"`--model`={spec!r}: the factory raised {type(err).__name__}: {err}. Call it in Python "
                         "to see the traceback.") from err
    if not isinstance(out, tuple) or len(out) not in (3, 4):
        raise ValueError(f"`--model`={spec!r} returned a {type(out).__name__}; expected a tuple (model, params, "
                         "data) or (model, params, data, loss).")
    model, params, data = out[:3]
    data = _data(spec, data, batch_size)
    try:
        first = batching.example(data)  # a Stream's first batch (read once; the shapes of every batch)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`--model`={spec!r}: its data must be (X, Y) arrays or an iterable of (x, y) batches; "
                         f"{err}") from None
    if loss is None:
        loss = out[3] if len(out) == 4 else ("softmax-cross-entropy" if np.issubdtype(np.dtype(first.Y.dtype),
                                                                                      np.integer) else "squared")
    try:
        obj, theta = from_model(model, params, loss=loss, reduction=reduction)
        check_data(obj, first.X[0], first.Y[0])
        value = float(D.loss(obj, theta, data))  # a Stream's every batch checked on this first pass
    except (TypeError, ValueError) as err:
        raise ValueError(f"`--model`={spec!r}: {err}") from None
    if not math.isfinite(value):
        raise ValueError(f"`--model`={spec!r}: the loss at the returned parameters is {value}: the network's outputs "
                         "are not finite. Check the inputs and parameters for NaN/Inf, or scale the weights down.")
    return obj, theta, data
