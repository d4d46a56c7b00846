"""Architecture specs in the paper's form (THEORY.md §1, Defs. 2.1–2.3).

A network is an input shape and a chain of frozen, hashable layer specs. The
:class:`Architecture` infers every layer's shape and the paper's quantities:
the width ``n_k``, the number of patches ``P_{k-1}`` and patch length
``l_{k-1}`` that layer ``k`` reads, its filters ``T_k`` and its parameter count.

Shapes are ``(spatial..., channels)`` with row-major flattening, so a conv
layer's neuron ``h = (p−1)T_k + t`` is output position ``p`` (row-major) and
filter ``t``, exactly the paper's order.

Example:
    >>> from theory_lab.arch import Architecture, Conv, Dense, Output
    >>> arch = Architecture((8, 8, 1), (Conv(16, (3, 3)), Dense(32), Output(10)))
    >>> arch.widths
    (64, 576, 32, 10)
    >>> arch.wide_layers(500)
    (1,)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from theory_lab import activations as _act
from theory_lab import generic_rank
from theory_lab.layers import (  # noqa: F401  (re-exported: their home is layers)
    Conv,
    Dense,
    Layer,
    MaxPool,
    Output,
    PatchLayer,
    PatchMaxPool,
)
from theory_lab.validate import is_integer

__all__ = [
    "Conv",
    "PatchLayer",
    "MaxPool",
    "PatchMaxPool",
    "Dense",
    "Output",
    "Architecture",
    "LayerInfo",
    "AssumptionReport",
    "figure1",
    "named",
]


@dataclass(frozen=True)
class LayerInfo:
    """Shape facts of layer ``k`` in the paper's symbols.

    ``patches`` is an int array ``(P_{k-1}, l_{k-1})`` of indices into the flattened
    layer ``k-1``; ``-1`` marks a zero-padding entry.
    """

    k: int
    kind: str
    spec: object
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    n: int
    P: int
    l: int
    T: int
    num_params: int
    activation: str | None
    patches: np.ndarray = field(repr=False, compare=False)
    covers_input: bool = True
    distinct_patches: bool = True
    padding: tuple = ()

    @property
    def has_weights(self) -> bool:
        return self.kind in ("conv", "patch", "dense", "output")

    @property
    def flags(self) -> tuple[str, ...]:
        """Warnings: patches miss a neuron of layer ``k−1`` or repeat a set (outside THEORY.md §1's patches).

        Legal layers; whether Assumption 2.4 holds is :attr:`full_rank`'s question (neither flag settles it).
        """
        out = []
        if self.has_weights and not self.covers_input:
            out.append(f"layer {self.k}: patches do not cover layer {self.k - 1}; Assumption 2.4 depends on "
                       f"U_{self.k}'s generic rank")
        if self.has_weights and not self.distinct_patches:
            out.append(f"layer {self.k}: two patches read the same neurons; Assumption 2.4 depends on "
                       f"U_{self.k}'s generic rank")
        return tuple(out)

    @functools.cached_property
    def full_rank(self) -> generic_rank.FullRankDecision | None:
        """Assumption 2.4 for this conv or patch layer (some ``W_k`` gives ``U_k`` full rank), decided once;
        ``None`` for other layers. See :func:`theory_lab.generic_rank.decide`."""
        if self.kind not in ("conv", "patch"):
            return None
        return generic_rank.decide(self.k, self.patches, int(np.prod(self.in_shape)), self.T, self.covers_input)


@dataclass(frozen=True)
class AssumptionReport:
    """Whether an assumption holds, with each part and the reason for any failure."""

    name: str
    holds: bool
    parts: tuple[tuple[str, bool], ...]
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.holds

    def to_dict(self) -> dict:
        return {"name": self.name, "holds": self.holds, "parts": dict(self.parts), "reasons": list(self.reasons)}


def _conv_geometry(spec: Conv, in_shape, k: int):
    spatial, channels = in_shape[:-1], in_shape[-1]
    dims = len(spec.kernel)
    if len(spatial) != dims:
        raise ValueError(
            f"layer {k} (Conv): `kernel`={spec.kernel} is {dims}-D but its input has shape {in_shape} "
            f"({len(spatial)} spatial dims). Give the kernel one entry per spatial dim, or reshape "
            "the input to (length, channels) / (height, width, channels)."
        )
    outs, pads = [], []
    for i in range(dims):
        n, kk, s, dil = spatial[i], spec.kernel[i], spec.stride[i], spec.dilation[i]
        ke = (kk - 1) * dil + 1
        if spec.padding == "VALID":
            lo = hi = 0
        elif spec.padding == "SAME":
            out = -(-n // s)
            total = max((out - 1) * s + ke - n, 0)
            lo, hi = total // 2, total - total // 2
        else:
            lo, hi = spec.padding[i]
        if ke > n + lo + hi:
            raise ValueError(
                f"layer {k} (Conv): `kernel`={spec.kernel} (extent {ke} with dilation {dil}) is larger "
                f"than its padded input {n + lo + hi} along dim {i} (input shape {in_shape}). "
                "Use a smaller kernel, padding='SAME', or a larger input."
            )
        outs.append((n + lo + hi - ke) // s + 1)
        pads.append((lo, hi))
    return tuple(outs), tuple(pads), channels


def _window_patches(spatial, channels, window, stride, dilation, pads, outs, per_channel: bool):
    """Index array of windows over a row-major ``(spatial..., C)`` layer; -1 marks padding."""
    dims = len(spatial)
    grids = np.meshgrid(*[np.arange(o) for o in outs], indexing="ij")
    out_pos = np.stack([g.ravel() for g in grids], axis=1)  # (P_sp, dims)
    kgrids = np.meshgrid(*[np.arange(w) for w in window], indexing="ij")
    offs = np.stack([g.ravel() for g in kgrids], axis=1)  # (K, dims)
    pos = out_pos[:, None, :] * np.array(stride) - np.array([p[0] for p in pads]) + offs[None] * np.array(dilation)
    valid = np.all((pos >= 0) & (pos < np.array(spatial)), axis=-1)  # (P_sp, K)
    flat_sp = np.ravel_multi_index(tuple(np.clip(pos, 0, np.array(spatial) - 1)[..., i] for i in range(dims)), spatial)
    ch = np.arange(channels)
    if per_channel:  # pooling: patch (position, c) holds the window in channel c
        idx = flat_sp[:, None, :] * channels + ch[None, :, None]  # (P_sp, C, K)
        idx = np.where(valid[:, None, :], idx, -1)
        return idx.reshape(-1, idx.shape[-1])
    idx = flat_sp[:, :, None] * channels + ch[None, None, :]  # (P_sp, K, C)
    idx = np.where(valid[:, :, None], idx, -1)
    return idx.reshape(idx.shape[0], -1)


def _patch_facts(patches: np.ndarray, n_in: int) -> tuple[bool, bool]:
    used = np.zeros(n_in, bool)
    used[patches[patches >= 0]] = True
    sets = {frozenset(row[row >= 0].tolist()) for row in patches}
    return bool(used.all()), len(sets) == patches.shape[0]


def _infer(input_shape, layers) -> tuple[LayerInfo, ...]:
    infos = []
    shape = tuple(input_shape)
    L = len(layers)
    for k, spec in enumerate(layers, start=1):
        n_in = int(np.prod(shape))
        if isinstance(spec, Output) and k != L:
            raise ValueError(
                f"layer {k} (Output): the linear output layer must be last, but {L - k} layer(s) follow it. "
                "Move Output to the end, or use Dense for a hidden layer."
            )
        if isinstance(spec, Conv):
            if len(shape) < 2:
                raise ValueError(
                    f"layer {k} (Conv): input shape {shape} has no channel axis; a conv layer needs "
                    "(length, channels) or (height, width, channels). Put convolutions before dense layers."
                )
            outs, pads, ch = _conv_geometry(spec, shape, k)
            patches = _window_patches(shape[:-1], ch, spec.kernel, spec.stride, spec.dilation, pads, outs, False)
            T = spec.filters
            out_shape = (*outs, T)
            n = int(np.prod(out_shape))
            bias = {"neuron": n, "filter": T, "none": 0}[spec.bias]
            cov, dist = _patch_facts(patches, n_in)
            infos.append(LayerInfo(k, "conv", spec, shape, out_shape, n, patches.shape[0], patches.shape[1], T,
                                   patches.shape[1] * T + bias, spec.activation, patches, cov, dist, pads))
        elif isinstance(spec, PatchLayer):
            patches = np.array(spec.patches, dtype=np.int64)
            if patches.max() >= n_in or patches.min() < 0:
                bad = int(patches.max()) if patches.max() >= n_in else int(patches.min())
                raise ValueError(
                    f"layer {k} (PatchLayer): `patches` index {bad} is outside layer {k - 1}, "
                    f"which has {n_in} neurons. Use indices in [0, {n_in - 1}]."
                )
            T = spec.filters
            out_shape = (patches.shape[0], T)
            n = patches.shape[0] * T
            bias = {"neuron": n, "filter": T, "none": 0}[spec.bias]
            cov, dist = _patch_facts(patches, n_in)
            infos.append(LayerInfo(k, "patch", spec, shape, out_shape, n, patches.shape[0], patches.shape[1], T,
                                   patches.shape[1] * T + bias, spec.activation, patches, cov, dist))
        elif isinstance(spec, MaxPool):
            if len(shape) < 2 or len(spec.window) != len(shape) - 1:
                raise ValueError(
                    f"layer {k} (MaxPool): `window`={spec.window} does not match input shape {shape}; "
                    "give one window entry per spatial dim."
                )
            outs = []
            for i, (n_i, w, s) in enumerate(zip(shape[:-1], spec.window, spec.stride)):
                if w > n_i:
                    raise ValueError(
                        f"layer {k} (MaxPool): `window`={spec.window} is larger than its input {shape} "
                        f"along dim {i}. Use a smaller window."
                    )
                outs.append((n_i - w) // s + 1)
            patches = _window_patches(shape[:-1], shape[-1], spec.window, spec.stride,
                                      (1,) * len(outs), tuple((0, 0) for _ in outs), outs, True)
            out_shape = (*outs, shape[-1])
            cov, dist = _patch_facts(patches, n_in)
            infos.append(LayerInfo(k, "maxpool", spec, shape, out_shape, int(np.prod(out_shape)),
                                   patches.shape[0], patches.shape[1], 0, 0, None, patches, cov, dist))
        elif isinstance(spec, PatchMaxPool):
            patches = np.array(spec.patches, dtype=np.int64)
            if patches.max() >= n_in or patches.min() < 0:
                bad = int(patches.max()) if patches.max() >= n_in else int(patches.min())
                raise ValueError(
                    f"layer {k} (PatchMaxPool): `patches` index {bad} is outside layer {k - 1} "
                    f"({n_in} neurons). Use indices in [0, {n_in - 1}]."
                )
            cov, dist = _patch_facts(patches, n_in)
            infos.append(LayerInfo(k, "maxpool", spec, shape, (patches.shape[0], 1), patches.shape[0],
                                   patches.shape[0], patches.shape[1], 0, 0, None, patches, cov, dist))
        elif isinstance(spec, (Dense, Output)):
            w = spec.width
            patches = np.arange(n_in)[None, :]
            kind = "output" if isinstance(spec, Output) else "dense"
            act = None if kind == "output" else spec.activation
            infos.append(LayerInfo(k, kind, spec, shape, (w,), w, 1, n_in, w, n_in * w + w, act, patches))
        else:
            raise ValueError(f"layer {k}: unknown layer spec {spec!r}; use Conv, PatchLayer, MaxPool, "
                             "PatchMaxPool, Dense or Output.")
        shape = infos[-1].out_shape
    return tuple(infos)


def _sample_count(N) -> int:
    """``N``, a number of samples: an integer ``≥ 1`` (a bool, float or ``N ≤ 0`` would compare silently)."""
    if not is_integer(N) or N < 1:
        raise ValueError(f"`N`={N!r} is not a number of samples; expected an integer >= 1.")
    return int(N)


def _size(spec):
    return getattr(spec, "width", getattr(spec, "filters", type(spec).__name__))


@dataclass(frozen=True)
class Architecture:
    """A chain network: ``input_shape`` (without the sample axis) and ``layers``.

    Layer ``k`` (1-based, as in the paper) is ``layers[k-1]``; ``L = len(layers)``.
    """

    input_shape: tuple[int, ...]
    layers: tuple

    def __post_init__(self):
        raw = tuple(np.atleast_1d(np.asarray(self.input_shape, dtype=object)))
        bad = [s for s in raw if not is_integer(s)]
        if bad:
            raise ValueError(f"Architecture: `input_shape`={self.input_shape!r} has non-integer size(s) {bad}; "
                             "give integer sizes of one sample, e.g. (8, 8, 1).")
        shape = tuple(int(s) for s in raw)
        if not shape or any(s <= 0 for s in shape):
            raise ValueError(
                f"Architecture: `input_shape` must be non-empty positive sizes, got {self.input_shape}. "
                "Give the shape of one sample, e.g. (8, 8, 1)."
            )
        object.__setattr__(self, "input_shape", shape)
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, Iterable):
            raise TypeError(f"Architecture: `layers`={self.layers!r} is not a sequence of layers; expected e.g. "
                            "(Conv(4, (3, 3)), Dense(8), Output(1)).")
        layers = tuple(self.layers)
        if not layers:
            raise ValueError("Architecture: `layers` is empty; add at least an Output layer.")
        if not isinstance(layers[-1], Output):
            raise ValueError(
                f"Architecture: the last layer must be Output (linear, fully connected), got "
                f"{type(layers[-1]).__name__}. Append Output(m)."
            )
        object.__setattr__(self, "layers", layers)
        try:
            _infer(shape, layers)  # validate eagerly; cached below
        except MemoryError as err:  # each layer's patch indices are an int64 array (a dense layer: one per input)
            raise MemoryError(f"Architecture: the layer sizes {[_size(spec) for spec in layers]} on input "
                              f"{shape} cannot be represented on this machine ({str(err).rstrip('.')}): theory-lab "
                              "stores each layer's patch indices as int64 arrays and every weight matrix densely "
                              "in float64. Use smaller widths.") from None

    @functools.cached_property
    def info(self) -> tuple[LayerInfo, ...]:
        """``info[k-1]`` describes layer ``k``."""
        return _infer(self.input_shape, self.layers)

    def __getstate__(self):
        return {"input_shape": self.input_shape, "layers": self.layers}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @property
    def L(self) -> int:
        return len(self.layers)

    @property
    def d(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_0, n_1, …, n_L)`` with ``n_0 = d``."""
        return (self.d,) + tuple(i.n for i in self.info)

    def width(self, k: int) -> int:
        return self.widths[self._k(k, allow_zero=True)]

    def layer(self, k: int) -> LayerInfo:
        return self.info[self._k(k) - 1]

    @property
    def num_params(self) -> int:
        return sum(i.num_params for i in self.info)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f for i in self.info for f in i.flags)

    def _k(self, k: int, allow_zero: bool = False) -> int:
        lo = 0 if allow_zero else 1
        if not is_integer(k) or not lo <= k <= self.L:  # k=True was layer 1
            raise ValueError(f"`k`={k!r} is not a layer of this network; expected an integer in [{lo}, {self.L}].")
        return int(k)

    def assumption_2_4(self, upto: int | None = None) -> AssumptionReport:
        """Assumption 2.4 for layers ``1 … upto`` (default all): every conv layer admits some ``W_k`` with
        ``U_k = M_k(W_k)`` of full rank ``min(n_{k-1}, n_k)``.

        Each conv or patch layer is one part, decided by the cheapest exact route
        (:func:`theory_lab.generic_rank.decide`): patches that cover their input with
        ``T_k ≥ l_{k-1}`` (met); fewer covered neurons than ``min(n_{k-1}, n_k)`` (unmet for
        every ``W_k``); else ``rank U_k`` modulo a prime at seeded integer filters. A layer too
        large for the last is reported unmet, with the reason. Covering, distinct patches do
        not suffice (Conv(2, (2, 2)) on (5, 5, 1): rank 23 < 25 for every ``W_1``). Part names
        carry the route and its numbers; ``reasons`` say why each failing layer fails.

        Example:
            >>> miss = Architecture((4, 1), (Conv(1, (1,), stride=2), Output(1)))  # U_1 = w [e_0, e_2]
            >>> miss.flags != (), miss.assumption_2_4().holds
            (True, True)
            >>> dead = Architecture((4, 1), (Conv(1, (2,), stride=2, padding=((4, 0),)), Output(1)))
            >>> dead.assumption_2_4().holds  # two windows lie in the padding: rank U_1 = 2 < 4
            False
            >>> Architecture((5, 5, 1), (Conv(2, (2, 2)), Output(1))).assumption_2_4().parts[0][1]
            False
        """
        upto = self.L if upto is None else self._k(upto)
        decisions = [info.full_rank for info in self.info[:upto] if info.full_rank is not None]
        return AssumptionReport("Assumption 2.4", all(d.holds for d in decisions),
                                tuple((d.part, d.holds) for d in decisions),
                                tuple(d.reason for d in decisions if not d.holds))

    def wide_layers(self, N: int) -> tuple[int, ...]:
        """Hidden layers ``k`` (``1 ≤ k ≤ L−1``) with ``n_k ≥ N``."""
        N = _sample_count(N)
        return tuple(k for k in range(1, self.L) if self.widths[k] >= N)

    def assumption_4_1(self, k: int, N: int) -> AssumptionReport:
        """Assumption 4.1 for wide layer ``k`` and ``N`` samples, part by part."""
        k, N = self._k(k), _sample_count(N)
        parts, reasons = [], []

        def part(name, ok, why):
            parts.append((name, bool(ok)))
            if not ok:
                reasons.append(why)

        pools = [i.k for i in self.info if i.kind == "maxpool"]
        part("no max-pooling", not pools, f"max-pooling at layer(s) {pools}")
        part("output layer fully connected", isinstance(self.layers[-1], Output), "last layer is not Output")
        part("k is hidden", 1 <= k <= self.L - 1, f"k={k} is not a hidden layer (1..{self.L - 1})")
        part(f"n_k >= N (n_{k}={self.widths[k]}, N={N})", self.widths[k] >= N,
             f"n_{k} = {self.widths[k]} < N = {N}")
        bad = [i.k for i in self.info[:-1] if i.activation is not None and not _act.get(i.activation).assumption_3_2]
        part("hidden activations satisfy 3.2", not bad, f"activation of layer(s) {bad} violates Assumption 3.2")
        mono = [i.k for i in self.info[k:-1] if i.activation is not None and not (
            _act.get(i.activation).strictly_increasing and _act.get(i.activation).differentiable)]
        part("σ_{k+1..L-1} strictly monotone and differentiable", not mono,
             f"activation of layer(s) {mono} is not strictly monotone and differentiable")
        w = self.widths[k + 1:]
        drops = [k + 1 + i for i in range(len(w) - 1) if w[i] < w[i + 1]]
        part("pyramidal after layer k", not drops,
             "widths grow after the wide layer at layer(s) " + ", ".join(f"{j}→{j + 1}" for j in drops))
        return AssumptionReport("Assumption 4.1", not reasons, tuple(parts), tuple(reasons))

    def describe(self) -> str:
        rows = [f"input {self.input_shape}: n_0 = {self.d}"]
        for i in self.info:
            extra = f", P={i.P}, l={i.l}, T={i.T}" if i.has_weights or i.kind == "maxpool" else ""
            rows.append(f"layer {i.k} {i.kind:7s} out {i.out_shape}: n_{i.k} = {i.n}{extra}, params {i.num_params}")
        return "\n".join(rows)

    def replace(self, **changes) -> "Architecture":
        return dataclasses.replace(self, **changes)


def figure1(activation: str = "sigmoid") -> Architecture:
    """The paper's Figure 1 MNIST network: widths 784, 67600, 16900, 2880, 720, 100, 10."""
    return Architecture(
        (28, 28, 1),
        (
            Conv(100, (3, 3), activation=activation),
            MaxPool((2, 2)),
            Conv(20, (2, 2), activation=activation),
            MaxPool((2, 2)),
            Dense(100, activation=activation),
            Output(10),
        ),
    )


_NAMED = {"figure1": figure1}


def named(name: str, **kwargs) -> Architecture:
    """Look up a named architecture (``"figure1"``)."""
    if name not in _NAMED:
        raise ValueError(f"`name`={name!r} is not a named architecture; choose one of {sorted(_NAMED)}.")
    return _NAMED[name](**kwargs)
