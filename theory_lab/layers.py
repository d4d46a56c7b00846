"""The paper's layer specs (Defs. 2.1–2.3): frozen, hashable, validated on construction.

A layer spec says what a layer *is* (its filters, kernel, stride, padding, activation,
bias); :class:`theory_lab.arch.Architecture` infers what it *does* on a given input
shape (widths, patches, parameter counts). Every field is checked here, so an impossible
layer fails where it is written, with the argument, the value and a fix.

Example:
    >>> from theory_lab.layers import Conv, Dense
    >>> Conv(16, (3, 3)).stride, Dense(32).activation
    ((1, 1), 'sigmoid')
    >>> Conv(16, (3, 3), stride=0)
    Traceback (most recent call last):
    ...
    ValueError: Conv: `stride` must be positive, got (0, 0). Use sizes >= 1, e.g. stride=(1, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from theory_lab import activations as _act
from theory_lab.validate import is_integer

__all__ = ["Conv", "PatchLayer", "MaxPool", "PatchMaxPool", "Dense", "Output", "Layer", "Padding"]

Padding = Union[str, tuple]


def _integer(value, name: str, layer: str) -> int:
    """An int (numpy ints too); refuses bools and floats, which ``int()`` would silently truncate."""
    if not is_integer(value):
        raise ValueError(f"{layer}: `{name}`={value!r} must be an integer (got {type(value).__name__}); "
                         f"e.g. {name}=2.")
    return int(value)


def _tuple(value, name: str, layer: str, dims: int | None = None) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer, bool, float)):
        value = (_integer(value, name, layer),) * (dims or 1)
    if value is None or isinstance(value, (dict, set, frozenset)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{layer}: `{name}`={value!r} is a {type(value).__name__}; expected an integer or a tuple "
                         f"of integers, one per spatial dimension, e.g. {name}=(3, 3).")  # None: "not iterable"
    value = tuple(_integer(v, name, layer) for v in value)
    if any(v <= 0 for v in value):
        raise ValueError(
            f"{layer}: `{name}` must be positive, got {value}. "
            f"Use sizes >= 1, e.g. {name}={(1,) * len(value)}."
        )
    return value


def _index_rows(patches, layer: str) -> tuple[tuple[int, ...], ...]:
    """``patches`` as tuples of integer indices: one row per patch (a flat list or float indices are refused)."""
    try:
        rows = [list(p) for p in patches]
    except TypeError:
        raise ValueError(f"{layer}: `patches` must be a list of index tuples, one per patch (e.g. [(0, 1), (1, 2)]); "
                         f"got {patches!r}.") from None
    return tuple(tuple(_integer(i, "patches", layer) for i in p) for p in rows)


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _check_activation(obj, layer: str):
    try:
        _act.get(obj.activation)
    except KeyError:
        raise ValueError(f"{layer}: `activation`={obj.activation!r} is unknown. {_act.known()}") from None
    except ValueError as err:
        raise ValueError(f"{layer}: `activation`={obj.activation!r} is invalid: {err}") from None


def _same_length(value: tuple, name: str, layer: str, kernel_name: str, dims: int):
    if len(value) != dims:
        raise ValueError(
            f"{layer}: `{name}`={value} has {len(value)} entries but `{kernel_name}` has {dims}; "
            f"give one {name} per spatial dimension, e.g. {name}={(1,) * dims}."
        )


@dataclass(frozen=True)
class Conv:
    """Convolutional layer (Def. 2.1) with ``filters`` = ``T_k``.

    ``kernel``, ``stride`` and ``dilation`` have one entry per spatial dimension
    (1-D or 2-D); ``padding`` is ``"VALID"``, ``"SAME"`` or explicit
    ``((lo, hi), ...)``. ``bias`` is ``"neuron"`` (``b_k ∈ R^{n_k}``, the paper's
    choice), ``"filter"`` (``b ∈ R^{T_k}``, as in common libraries) or ``"none"``.
    """

    filters: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...] | int = 1
    padding: Padding = "VALID"
    dilation: tuple[int, ...] | int = 1
    activation: str = "sigmoid"
    bias: str = "neuron"

    def __post_init__(self):
        kernel = _tuple(self.kernel, "kernel", "Conv")
        if len(kernel) not in (1, 2):
            raise ValueError(f"Conv: `kernel` must have 1 or 2 entries (1-D or 2-D), got {kernel}.")
        _set(self, "kernel", kernel)
        _set(self, "stride", _tuple(self.stride, "stride", "Conv", len(kernel)))
        _set(self, "dilation", _tuple(self.dilation, "dilation", "Conv", len(kernel)))
        _same_length(self.stride, "stride", "Conv", "kernel", len(kernel))
        _same_length(self.dilation, "dilation", "Conv", "kernel", len(kernel))
        if _integer(self.filters, "filters", "Conv") <= 0:
            raise ValueError(f"Conv: `filters` must be positive, got {self.filters}. Use filters >= 1.")
        _set(self, "filters", int(self.filters))
        if isinstance(self.padding, str):
            if self.padding.upper() not in ("VALID", "SAME"):
                raise ValueError(
                    f"Conv: `padding`={self.padding!r} is unknown; expected 'VALID', 'SAME' "
                    "or explicit ((lo, hi), ...) per spatial dimension."
                )
            _set(self, "padding", self.padding.upper())
        else:
            try:
                pad = tuple((int(lo), int(hi)) for lo, hi in self.padding)
            except (TypeError, ValueError):
                pad = None
            bad = [v for p in self.padding for v in p] if pad is not None else []
            bad = [v for v in bad if not is_integer(v)]
            if bad:  # int() truncated 1.5 to 1 and read True and '1' as 1, silently
                raise ValueError(
                    f"Conv: explicit `padding`={self.padding!r} has non-integer entry {bad[0]!r} "
                    f"({type(bad[0]).__name__}); give integer (lo, hi) pairs, e.g. padding={((1, 1),) * len(kernel)}."
                )
            if pad is None or len(pad) != len(kernel) or any(v < 0 for p in pad for v in p):
                raise ValueError(
                    f"Conv: explicit `padding`={self.padding!r} needs one non-negative (lo, hi) "
                    f"pair per spatial dimension ({len(kernel)})."
                )
            _set(self, "padding", pad)
        if self.bias not in ("neuron", "filter", "none"):
            raise ValueError(
                f"Conv: `bias`={self.bias!r} is unknown; expected 'neuron' (the paper's b_k ∈ R^n_k), "
                "'filter' (one per filter) or 'none'."
            )
        _check_activation(self, "Conv")


@dataclass(frozen=True)
class PatchLayer:
    """The paper's general convolutional layer (Def. 2.1) on explicit patches.

    ``patches`` lists, for each patch ``p``, the indices of the previous layer's
    (flattened) neurons it reads; all patches have the same length ``l_{k-1}``
    and no two may be equal. The layer's output has shape ``(P, filters)``.
    """

    patches: tuple[tuple[int, ...], ...]
    filters: int
    activation: str = "sigmoid"
    bias: str = "neuron"

    def __post_init__(self):
        patches = _index_rows(self.patches, "PatchLayer")
        if not patches or len({len(p) for p in patches}) != 1 or len(patches[0]) == 0:
            raise ValueError(
                "PatchLayer: `patches` must be a non-empty list of index tuples of one common "
                f"non-zero length, got lengths {sorted({len(p) for p in patches})}."
            )
        seen = {}
        for i, p in enumerate(patches):
            key = frozenset(p)
            if key in seen:
                raise ValueError(
                    f"PatchLayer: `patches` {seen[key]} and {i} are the same set {sorted(key)}; "
                    "Def. 2.1 needs distinct patches. Remove the repeat."
                )
            seen[key] = i
        _set(self, "patches", patches)
        if _integer(self.filters, "filters", "PatchLayer") <= 0:
            raise ValueError(f"PatchLayer: `filters` must be positive, got {self.filters}. Use filters >= 1.")
        if self.bias not in ("neuron", "filter", "none"):
            raise ValueError(f"PatchLayer: `bias`={self.bias!r} is unknown; expected 'neuron', 'filter' or 'none'.")
        _check_activation(self, "PatchLayer")


@dataclass(frozen=True)
class MaxPool:
    """Max-pooling (Def. 2.3) over spatial windows, separately per channel."""

    window: tuple[int, ...]
    stride: tuple[int, ...] | int | None = None

    def __post_init__(self):
        window = _tuple(self.window, "window", "MaxPool")
        _set(self, "window", window)
        stride = window if self.stride is None else self.stride
        _set(self, "stride", _tuple(stride, "stride", "MaxPool", len(window)))
        _same_length(self.stride, "stride", "MaxPool", "window", len(window))


@dataclass(frozen=True)
class PatchMaxPool:
    """Max-pooling (Def. 2.3) over explicit patches of the flattened previous layer."""

    patches: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        patches = _index_rows(self.patches, "PatchMaxPool")
        if not patches or len({len(p) for p in patches}) != 1 or len(patches[0]) == 0:
            raise ValueError("PatchMaxPool: `patches` must be non-empty index tuples of one common length.")
        seen = {}
        for i, p in enumerate(patches):
            if frozenset(p) in seen:
                raise ValueError(
                    f"PatchMaxPool: `patches` {seen[frozenset(p)]} and {i} are the same set {sorted(set(p))}; "
                    "Def. 2.3 needs distinct patches. Remove the repeat."
                )
            seen[frozenset(p)] = i
        _set(self, "patches", patches)


@dataclass(frozen=True)
class Dense:
    """Fully connected hidden layer (Def. 2.2): ``f_k = σ(W_kᵀ f_{k-1} + b_k)``."""

    width: int
    activation: str = "sigmoid"

    def __post_init__(self):
        if _integer(self.width, "width", "Dense") <= 0:
            raise ValueError(f"Dense: `width` must be positive, got {self.width}. Use width >= 1.")
        _set(self, "width", int(self.width))
        _check_activation(self, "Dense")


@dataclass(frozen=True)
class Output:
    """Linear, fully connected output layer ``F_L = F_{L-1} U_L + 1 b_Lᵀ`` (must be last)."""

    width: int

    def __post_init__(self):
        if _integer(self.width, "width", "Output") <= 0:
            raise ValueError(f"Output: `width` must be positive, got {self.width}. Use width >= 1.")
        _set(self, "width", int(self.width))


Layer = Union[Conv, PatchLayer, MaxPool, PatchMaxPool, Dense, Output]
