"""Operations of a layer graph and their shape rules: ``(H, W, C)`` in, ``(H, W, C)`` out.

Each operation is a frozen dataclass with a ``kind``, whether it is ``counted``
as a layer (see :mod:`theory_lab.zoo.graph` for the convention), ``infer`` (the
output shape from the input shapes, or a ``ValueError`` that names the node and
says what to change) and ``describe`` (a short text for tables).

Sliding windows follow the frameworks the reference models were released in:
explicit padding (Caffe, PyTorch, Torch), ``"same"`` and ``"valid"`` with
TensorFlow's rule, and Caffe's ``ceil_mode`` for pooling.

Example:
    >>> from theory_lab.zoo.ops import Conv, Pool
    >>> Conv(64, (7, 7), (2, 2), ((3, 3), (3, 3))).infer("conv1", [(224, 224, 3)])
    (112, 112, 64)
    >>> Pool("max", (3, 3), (2, 2), ceil_mode=True).infer("pool1", [(112, 112, 64)])
    (56, 56, 64)
    >>> Pool("max", (3, 3), (2, 2)).infer("pool1", [(112, 112, 64)])
    (55, 55, 64)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from theory_lab.validate import is_integer


class ShapeError(ValueError):
    """Shape inference failed: the node's input is too small, or its inputs' shapes do not fit together.

    A ``ValueError``; :func:`theory_lab.zoo.graph.sized` turns it into an error that names ``size`` when a
    published layout is built at an input size it cannot take.
    """

__all__ = ["ShapeError", "Conv", "ConvTranspose", "Pool", "GlobalPool", "Dense", "Concat", "Add", "Elementwise",
           "PadChannels", "MaxUnpool", "Op", "Shape", "Padding", "Pads", "check_pair", "check_padding",
           "check_input_shape"]

Shape = tuple[int, int, int]
Pads = tuple[tuple[int, int], tuple[int, int]]
Padding = Union[str, Pads]
_AXES = ("H", "W")


def check_pair(value, name: str, where: str, minimum: int = 1) -> tuple[int, int]:
    """``value`` (an int or a pair) as ``(H, W)`` ints ``>= minimum``; a ValueError naming ``where`` and ``name`` otherwise."""
    try:  # a bool is not a size (``True`` would pass as 1)
        pair = (value, value) if isinstance(value, int) or is_integer(value) else tuple(value)
    except TypeError:
        pair = (value,)
    if len(pair) != 2 or any(not is_integer(v) or v < minimum for v in pair):
        raise ValueError(f"{where}: `{name}`={value!r} must be an int >= {minimum} or a pair of them (H, W), "
                         f"e.g. {name}={max(minimum, 1)}.")
    return int(pair[0]), int(pair[1])


def check_padding(value, where: str) -> Padding:
    """``"valid"``, ``"same"`` (TensorFlow's rule), an int, ``(ph, pw)`` or ``((top, bottom), (left, right))``."""
    if isinstance(value, str):
        if value.lower() not in ("valid", "same"):
            raise ValueError(f"{where}: `padding`={value!r} is unknown; expected 'valid', 'same', an int, "
                             "(ph, pw) or ((top, bottom), (left, right)).")
        return value.lower()
    pairs = (value, value) if isinstance(value, int) or is_integer(value) else value
    try:
        pads = tuple((p, p) if isinstance(p, int) or is_integer(p) else tuple(p) for p in pairs)
        ok = len(pads) == 2 and all(len(p) == 2 and all(is_integer(v) and v >= 0 for v in p) for p in pads)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{where}: `padding`={value!r} must be non-negative: an int, (ph, pw) or "
                         "((top, bottom), (left, right)).")
    return tuple((int(lo), int(hi)) for lo, hi in pads)


def _resolve(padding: Padding, n: int, extent: int, stride: int, axis: int) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "same":  # TensorFlow: out = ceil(n / s), extra padding at the end
        total = max((-(-n // stride) - 1) * stride + extent - n, 0)
        return total // 2, total - total // 2
    return padding[axis]


def _window(where: str, shape: Shape, kernel, stride, padding: Padding, dilation=(1, 1),
            ceil_mode: bool = False) -> tuple[int, int]:
    """Output size of a sliding window (convolution or pooling) along H and W."""
    out = []
    for axis in range(2):
        n, k, s, d = shape[axis], kernel[axis], stride[axis], dilation[axis]
        extent = d * (k - 1) + 1
        lo, hi = _resolve(padding, n, extent, s, axis)
        if extent > n + lo + hi:
            raise ShapeError(
                f"{where}: `kernel`={tuple(kernel)} (extent {extent} along {_AXES[axis]}, dilation {d}) is larger "
                f"than its padded input {n + lo + hi} (input shape {shape}, padding ({lo}, {hi})). "
                "Use a smaller kernel, more padding, or a larger input.")
        span = n + lo + hi - extent
        size = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (size - 1) * s >= n + lo:  # Caffe/PyTorch: the last window must start inside the input
            size -= 1
        out.append(size)
    return out[0], out[1]


def check_input_shape(name: str, shape) -> Shape:
    """``shape`` as ``(H, W, C)`` positive ints; a ValueError naming the network ``name`` otherwise."""
    shape = tuple(shape)
    if len(shape) != 3 or any(not is_integer(v) or v < 1 for v in shape):
        raise ValueError(f"network {name!r}: `input_shape`={shape!r} must be (H, W, C) with positive ints, "
                         "e.g. (224, 224, 3).")
    return tuple(int(v) for v in shape)


def _one(where: str, shapes: list[Shape]) -> Shape:
    if len(shapes) != 1:
        raise ValueError(f"{where}: takes exactly one input, got {len(shapes)}. Pass one node name.")
    return shapes[0]


@dataclass(frozen=True)
class Conv:
    """Convolution with ``filters`` output channels; ``groups == C_in == filters`` is depthwise.

    ``padding``: ``"valid"``, ``"same"`` (TensorFlow's rule) or explicit per side.
    """

    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: Padding = "valid"
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kind = "conv"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        shape = _one(where, shapes)
        if not is_integer(self.groups) or self.groups < 1:
            raise ValueError(f"{where}: `groups`={self.groups!r} must be a positive int (1 for a full convolution).")
        if shape[2] % self.groups or self.filters % self.groups:
            raise ValueError(f"{where}: `groups`={self.groups} must divide the input channels ({shape[2]}) and "
                             f"`filters` ({self.filters}). For a depthwise conv use groups = input channels.")
        return (*_window(where, shape, self.kernel, self.stride, self.padding, self.dilation), self.filters)

    def describe(self) -> str:
        k, s = "×".join(map(str, self.kernel)), _dims(self.stride)
        depthwise = " depthwise" if self.groups > 1 and self.groups == self.filters else (
            f" groups={self.groups}" if self.groups > 1 else "")
        dil = f" dilation {self.dilation[0]}" if self.dilation != (1, 1) else ""
        return f"{k}/{s}{depthwise}{dil} {_describe_padding(self.padding)}, {self.filters}"


@dataclass(frozen=True)
class ConvTranspose:
    """Transposed ("full") convolution: ``out = (n − 1)s − pad_lo − pad_hi + d(k − 1) + output_padding + 1``."""

    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: Pads = ((0, 0), (0, 0))
    output_padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    kind = "conv transpose"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        shape = _one(where, shapes)
        out = []
        for axis in range(2):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise ValueError(f"{where}: `output_padding`={tuple(self.output_padding)} must be smaller than the "
                                 f"stride {tuple(self.stride)} or the dilation {tuple(self.dilation)} along "
                                 f"{_AXES[axis]} (it only picks one of the sizes a strided convolution maps to the "
                                 "same input size, as in PyTorch). Use a smaller output_padding.")
            lo, hi = self.padding[axis]
            size = ((shape[axis] - 1) * self.stride[axis] - lo - hi + self.dilation[axis] * (self.kernel[axis] - 1)
                    + self.output_padding[axis] + 1)
            if size <= 0:
                raise ShapeError(f"{where}: output size {size} along {_AXES[axis]} is not positive (input {shape}, "
                                 f"padding {self.padding}). Use less padding.")
            out.append(size)
        return (out[0], out[1], self.filters)

    def describe(self) -> str:
        k, s = "×".join(map(str, self.kernel)), _dims(self.stride)
        return f"{k}/{s} transposed {_describe_padding(self.padding)}, {self.filters}"


@dataclass(frozen=True)
class Pool:
    """Max or average pooling per channel; ``ceil_mode`` as in Caffe (and PyTorch's ``ceil_mode=True``)."""

    op: str
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: Padding = "valid"
    ceil_mode: bool = False
    counted = True

    @property
    def kind(self) -> str:
        return f"{self.op} pool"

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        shape = _one(where, shapes)
        return (*_window(where, shape, self.window, self.stride, self.padding, ceil_mode=self.ceil_mode), shape[2])

    def describe(self) -> str:
        k, s = "×".join(map(str, self.window)), _dims(self.stride)
        return f"{k}/{s} {_describe_padding(self.padding)}" + (" ceil" if self.ceil_mode else "")


@dataclass(frozen=True)
class GlobalPool:
    """Pooling over the whole spatial extent: ``(H, W, C) → (1, 1, C)``."""

    op: str = "avg"
    counted = True

    @property
    def kind(self) -> str:
        return f"global {self.op} pool"

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        return (1, 1, _one(where, shapes)[2])

    def describe(self) -> str:
        return "whole map"


@dataclass(frozen=True)
class Dense:
    """Fully connected layer on the flattened input: ``(H, W, C) → (1, 1, units)``."""

    units: int
    kind = "dense"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        _one(where, shapes)
        return (1, 1, self.units)

    def describe(self) -> str:
        return f"{self.units} units"


@dataclass(frozen=True)
class Concat:
    """Channel concatenation of branches that share their spatial size."""

    kind = "concat"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        if len(shapes) < 2:
            raise ValueError(f"{where}: concatenation needs at least two inputs, got {len(shapes)}.")
        if len({s[:2] for s in shapes}) != 1:
            raise ShapeError(f"{where}: inputs must share their spatial size (H, W) to be concatenated along "
                             f"channels, got {', '.join(map(str, shapes))}. Pad, pool or stride the branches "
                             "to one size.")
        return (shapes[0][0], shapes[0][1], sum(s[2] for s in shapes))

    def describe(self) -> str:
        return "channels"


@dataclass(frozen=True)
class Add:
    """Element-wise sum of inputs of one shape (a residual connection)."""

    kind = "add"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        if len(shapes) < 2:
            raise ValueError(f"{where}: addition needs at least two inputs, got {len(shapes)}.")
        if len(set(shapes)) != 1:
            what = "channel" if len({s[:2] for s in shapes}) == 1 else "shape"
            raise ShapeError(f"{where}: inputs must have equal shapes, got {', '.join(map(str, shapes))} "
                             f"({what} mismatch). Project the shortcut with a 1×1 conv (strided if the "
                             "spatial size differs) to the other branch's shape.")
        return shapes[0]

    def describe(self) -> str:
        return "sum"


@dataclass(frozen=True)
class Elementwise:
    """A width-preserving element-wise operation (batch norm, ReLU, LRN, dropout); not a layer."""

    op: str
    kind = "elementwise"
    counted = False

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        return _one(where, shapes)

    def describe(self) -> str:
        return self.op


@dataclass(frozen=True)
class PadChannels:
    """Append zero channels up to ``channels`` (ENet's shortcut); constants, not neurons: not a layer."""

    channels: int
    kind = "pad channels"
    counted = False

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        shape = _one(where, shapes)
        if not is_integer(self.channels):
            raise ValueError(f"{where}: `channels`={self.channels!r} must be an int.")
        if self.channels < shape[2]:
            raise ValueError(f"{where}: `channels`={self.channels} is below the input's {shape[2]} channels; "
                             "zero padding can only add channels.")
        return (shape[0], shape[1], self.channels)

    def describe(self) -> str:
        return f"zeros to {self.channels}"


@dataclass(frozen=True)
class MaxUnpool:
    """Max unpooling with the indices of an earlier max pool: inputs ``(x, pool)``, output the pool's input size."""

    size: tuple[int, int]
    kind = "max unpool"
    counted = True

    def infer(self, where: str, shapes: list[Shape]) -> Shape:
        if len(shapes) != 2:
            raise ValueError(f"{where}: unpooling takes (x, pool), got {len(shapes)} inputs.")
        x, pooled = shapes
        if x != pooled:
            raise ValueError(f"{where}: input {x} must have the shape of the pooled map {pooled} whose indices "
                             "it reuses. Project x to that shape first.")
        return (self.size[0], self.size[1], x[2])

    def describe(self) -> str:
        return f"to {self.size[0]}×{self.size[1]}"


Op = Union[Conv, ConvTranspose, Pool, GlobalPool, Dense, Concat, Add, Elementwise, PadChannels, MaxUnpool]


def _dims(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def _describe_padding(padding) -> str:
    if isinstance(padding, str):
        return padding
    (t, b), (l, r) = padding
    if t == b == l == r:
        return f"pad {t}"
    return f"pad {t},{b},{l},{r}"

