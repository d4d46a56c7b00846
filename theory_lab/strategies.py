"""Hypothesis strategies for testing expressivity results (and your own conjectures).

Three building blocks, each a ``hypothesis`` strategy:

* :func:`networks` — a chain :class:`~theory_lab.arch.Architecture` with a chosen layer
  ``k`` that is wide (``n_k ≥ c·N``) or deliberately narrow (``n_k < N``); 1-D or 2-D
  convolutions (kernel, stride, padding, dilation), max-pooling between layers 1 and
  ``k`` if asked, or dense stacks. Draws a :class:`Network` ``(arch, k, N)``.
* :func:`datasets` — float64 inputs ``(N, *input_shape)`` that satisfy Assumption 3.1
  (generic continuous draws) or violate it on purpose: a duplicated sample, one patch
  copied between two samples, or a "patchwork" of four samples whose layer-1 patches
  repeat so that ``f(x_1) − f(x_2) − f(x_3) + f(x_4) = 0`` for *every* parameter.
* :func:`parameters` — a parameter pytree from an absolutely continuous law (LeCun
  normal, uniform, Gaussian, …; biases Gaussian or uniform, optionally shifted).

Shapes come from small menus (:data:`INPUT_SHAPES`, :data:`SAMPLE_SIZES`), and only a
few layer sizes occur, so that runs stay short. Every distinct architecture is still
a new jit compilation of the forward pass (about 0.1 s on a CPU).

Example — a conjecture tested in a few lines (here: Theorem 3.5 for softplus)::

    from hypothesis import given, settings
    import numpy as np
    from theory_lab import strategies as tls
    from theory_lab.expressivity import feature_rank

    @settings(max_examples=50, deadline=None)
    @given(setup=tls.setups(activations=("softplus",)))
    def test_softplus_features_independent(setup):
        net, X, params = setup
        report = feature_rank(net.arch, params, X, net.k)
        # a rank below N certified or with a clear gap would be a counterexample; inconclusive is not
        assert report.below(net.N) is not True, report

A run of the strategies alone (no JAX work), as doctest:

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, deadline=None, database=None)
    ... @given(net=networks(min_ratio=1.5))
    ... def test_wide(net):
    ...     assert net.arch.widths[net.k] >= 1.5 * net.N
    >>> test_wide()
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover
    raise ImportError("theory_lab.strategies needs the `hypothesis` package: pip install 'theory-lab[test]'") from err

from theory_lab import activations as _act
from theory_lab import model as _model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.data_strategies import (
    DATA_LAWS,
    DIGIT_NOISE,
    VIOLATIONS,
    datasets,
    digit_crops,
    menu,
    patchwork_split,
)
from theory_lab.expressivity import BIAS_LAWS, sample_params
from theory_lab.validate import is_integer, is_real

__all__ = ["Network", "networks", "datasets", "parameters", "setups", "patchwork_split",
           "digit_crops", "resolvable", "INPUT_SHAPES", "SAMPLE_SIZES", "WIDTH_STEPS", "DATA_LAWS", "DIGIT_NOISE", "ANALYTIC_3_2", "VIOLATIONS"]

INPUT_SHAPES = {"conv1d": ((12, 1), (9, 2)), "conv2d": ((6, 6, 1), (5, 5, 2)), "dense": ((5,), (8,))}
"""Input shapes (without the sample axis) each kind of network is drawn on."""

SAMPLE_SIZES = (16, 16, 24, 24, 48, 96, 256)
"""Default menu of sample counts ``N`` (repeats weight the small, cheap ones)."""

ANALYTIC_3_2 = ("sigmoid", "softplus", "gelu", "silu")
"""Real analytic activations that satisfy Assumption 3.2 (Theorem 3.5's hypotheses)."""



@dataclass(frozen=True)
class Network:
    """A drawn network: ``arch``, the layer ``k`` under test and the sample count ``N``."""

    arch: Architecture
    k: int
    N: int

    @property
    def n_k(self) -> int:
        return self.arch.widths[self.k]


def _validate_activations(acts) -> tuple:
    acts = menu(acts, "activations")
    for a in acts:
        try:
            _act.get(a)
        except KeyError:
            raise ValueError(f"`activations` contains {a!r}, which is unknown. {_act.known()}") from None
    return acts


def _shape_of(input_shape, layers) -> tuple:
    if not layers:
        return tuple(input_shape)
    return Architecture(input_shape, tuple(layers) + (Output(1),)).info[-2].out_shape


@st.composite
def _conv(draw, shape, activations, biases, filters=None):
    spatial = shape[:-1]
    padding = draw(st.sampled_from(("VALID", "SAME")))
    kernel, dilation = [], []
    for n in spatial:
        kk = draw(st.integers(1, 3 if padding == "SAME" else max(1, min(3, n))))
        dil = draw(st.sampled_from((1, 2))) if kk > 1 else 1
        if padding == "VALID" and (kk - 1) * dil + 1 > n:
            dil = 1
        kernel.append(kk)
        dilation.append(dil)
    stride = tuple(draw(st.sampled_from((1, 2))) if n > 2 else 1 for n in spatial)
    T = filters if filters is not None else draw(st.integers(1, 3))
    spec = Conv(T, tuple(kernel), stride, padding, tuple(dilation), activation=draw(st.sampled_from(activations)),
                bias=draw(st.sampled_from(biases)))
    # stay inside THEORY.md §1's patches (they cover their input and are distinct: no flags) and keep Assumption
    # 2.4 (the predicate the checks use): contiguous windows first, then 1x1 windows, which always meet both
    for fallback in (spec, Conv(T, spec.kernel, 1, padding, 1, spec.activation, spec.bias),
                     Conv(T, (1,) * len(spatial), 1, "VALID", 1, spec.activation, spec.bias)):
        arch = Architecture(shape, (fallback, Output(1)))
        if not arch.flags and arch.assumption_2_4().holds:
            return fallback
    raise AssertionError(f"no conv layer meeting Assumption 2.4 on {shape}")  # pragma: no cover


def _conv_positions(spec: Conv, shape) -> int:
    return int(np.prod(_shape_of(shape, [spec])[:-1]))


def networks(*, n_samples=SAMPLE_SIZES, kinds=("conv1d", "conv2d", "dense"), max_depth: int = 3,
             activations=ANALYTIC_3_2, pooling: bool = False, min_ratio: float = 1.0, narrow: bool = False,
             biases=("neuron",), input_shapes=None, after: int = 1, outputs: int = 1) -> st.SearchStrategy:
    """Draw a chain network whose layer ``k`` is wide (or narrow), with ``k`` drawn in ``1..max_depth``.

    Args:
        n_samples: ``N`` or a menu of them.
        kinds: ``"conv1d"``, ``"conv2d"`` and/or ``"dense"`` (a stack of fully connected layers).
        max_depth: the largest position ``k`` of the wide layer.
        activations: menu of activation names, drawn per layer.
        pooling: draw at least one max-pooling layer strictly between layers 1 and ``k``, so
            ``k ≥ 3`` and only conv kinds (Theorem 3.4's setting; Theorem 3.5 excludes them).
        min_ratio: ``c`` in ``n_k ≥ c·N`` (ignored when ``narrow``).
        narrow: draw ``n_k < N`` instead (for the converse of the width condition).
        biases: menu of conv bias modes for conv layers (``"neuron"``, ``"filter"``, ``"none"``).
        input_shapes: override :data:`INPUT_SHAPES` — a dict ``kind -> shapes`` or one tuple of
            shapes used for every kind (2-D shapes for conv1d, 3-D for conv2d, any for dense).
        after: up to this many dense layers between ``k`` and the output (pyramidal).
        outputs: width ``m`` of the output layer.

    Returns:
        a :class:`Network`; ``arch`` is always valid, layer ``k`` is conv wherever the shape
        allows it (dense otherwise, or when a narrow target is below the conv's patch count), layers ``1 … k`` contain pooling exactly when
        ``pooling``, layer 1 is never pooling, and every conv layer meets Assumption 2.4
        (:meth:`~theory_lab.arch.Architecture.assumption_2_4`, the predicate the checks use).
    """
    Ns = menu(n_samples, "n_samples")
    if not all(is_integer(n) and n >= 2 for n in Ns):  # int(2.5) drew N = 2 silently
        raise ValueError(f"`n_samples`={n_samples!r}: every N must be >= 2 and an integer.")
    Ns = tuple(int(n) for n in Ns)
    kinds = menu(kinds, "kinds")
    bad = [k for k in kinds if k not in INPUT_SHAPES]
    if bad:
        raise ValueError(f"`kinds` contains {bad}; choose from {tuple(INPUT_SHAPES)}.")
    acts = _validate_activations(activations)
    biases = menu(biases, "biases")
    if any(b not in ("neuron", "filter", "none") for b in biases):
        raise ValueError(f"`biases`={biases}: each must be 'neuron', 'filter' or 'none'.")
    for name, value, lo in (("max_depth", max_depth, 1), ("after", after, 0), ("outputs", outputs, 1)):
        if not is_integer(value) or value < lo:
            raise ValueError(f"`{name}`={value!r} must be an int >= {lo}.")
    if not (narrow or (is_real(min_ratio) and 0 < min_ratio < math.inf)):  # inf overflowed inside the draw
        raise ValueError(f"`min_ratio`={min_ratio!r} must be positive and finite, e.g. 1.5.")
    shapes = {}
    for kind in kinds:
        if input_shapes is None:
            shapes[kind] = INPUT_SHAPES[kind]
        elif isinstance(input_shapes, dict):
            shapes[kind] = tuple(tuple(s) for s in input_shapes.get(kind, INPUT_SHAPES[kind]))
        else:
            want = {"conv1d": 2, "conv2d": 3}.get(kind)
            shapes[kind] = tuple(tuple(s) for s in input_shapes if want is None or len(s) == want)
        if not shapes[kind]:
            raise ValueError(f"`input_shapes`={input_shapes} has no shape usable for kind {kind!r} "
                             "(conv1d needs (length, channels), conv2d (height, width, channels)).")
    if pooling:
        kinds = tuple(kind for kind in kinds if kind != "dense")
        if not kinds or max_depth < 3:
            raise ValueError(f"`pooling`=True draws a max-pooling layer strictly between layers 1 and k, so it needs "
                             f"a conv kind and `max_depth` >= 3; got kinds={kinds or ('dense',)}, "
                             f"max_depth={max_depth}.")
    # the same predicate the checks use (Architecture.assumption_2_4); met by construction, kept as a guard
    return _networks(Ns, kinds, shapes, int(max_depth), acts, pooling, float(min_ratio), narrow, biases, int(after),
                     int(outputs)).filter(lambda net: net.arch.assumption_2_4().holds and resolvable(net))


def resolvable(net: Network, degree: int = 3) -> bool:
    """Whether float64 can be expected to resolve ``rank F_k = N`` on generic data (a sampling rule, not a theorem).

    A unit of layer ``k`` is an analytic function of its patch of layer ``k − 1``, and that patch
    carries at most ``e_p`` directions: its length ``l``, the number of input entries it
    depends on (its receptive field: after 1×1 convs, one pixel however many channels), and
    the narrowest layer before ``k``. Taylor terms of degree ``> degree`` are so small that,
    over many samples, the singular values of ``F_k`` past about ``Σ_p C(e_p + degree, degree)``
    fall below float64 resolution even where the exact rank is ``N`` (e.g. 96 samples through
    1×1 convs). Such draws would test float64, not the theorem, so :func:`networks` keeps only
    draws with that capacity ``≥ 2N`` (a factor 2 of slack, measured to keep inconclusive rank
    decisions under 1 %: ``tools/strategy_distribution.py --ranks``).

    Example:
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> thin = Architecture((8,), (Dense(4), Dense(300), Output(1)))  # 4 directions, C(7, 3) = 35
        >>> resolvable(Network(thin, 2, 16)), resolvable(Network(thin, 2, 256))
        (True, False)
    """
    arch, k = net.arch, net.k
    field = np.eye(arch.d, dtype=bool)  # field[j, i]: neuron j of the current layer depends on input i
    for info in arch.info[:k]:
        idx = info.patches  # (P, l) into the previous layer; -1 is padding
        per_patch = np.zeros((idx.shape[0], arch.d), dtype=bool)
        for col in idx.T:
            per_patch |= np.where((col >= 0)[:, None], field[np.maximum(col, 0)], False)
        if info.k == k:
            break
        field = per_patch if info.kind == "maxpool" else np.repeat(per_patch, info.T, axis=0)
    e = min(arch.widths[:k])
    dims = np.minimum(np.minimum(per_patch.sum(axis=1), idx.shape[1]), e)
    return sum(math.comb(int(m) + degree, degree) for m in dims) >= 2 * net.N


WIDTH_STEPS = (0.0, 0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)
"""Extra ``n_k / N`` drawn above ``min_ratio``: 0 is the edge ``n_k = ⌈c·N⌉`` (exactly ``N`` for a dense
layer at ``c = 1``); with ``c = 1`` the drawn ``n_k / N`` runs from 1 to about 4."""


@st.composite
def _networks(draw, Ns, kinds, shapes, max_depth, acts, pooling, min_ratio, narrow, biases, after, outputs):
    N = int(draw(st.sampled_from(Ns)))
    kind = draw(st.sampled_from(kinds))
    input_shape = tuple(draw(st.sampled_from(shapes[kind])))
    k = draw(st.integers(3 if pooling else 1, max_depth))
    pool_at = draw(st.integers(2, k - 1)) if pooling else None  # pooling=True: at least one, by construction
    layers: list = []
    shape = input_shape
    for pos in range(1, k):
        spatial = len(shape) >= 2 and kind != "dense"
        if not spatial:
            choice = "dense"
        elif pos == pool_at:
            choice = "pool"
        else:
            extra = ["dense"] if not pooling else (["pool"] if pos > 1 else [])  # pooling: keep the shape spatial
            options = ["conv"] * 5 + extra
            choice = draw(st.sampled_from(options))
        if choice == "conv":
            spec = draw(_conv(shape, acts, biases))
        elif choice == "pool":
            window = tuple(2 if n >= 2 else 1 for n in shape[:-1])
            spec = MaxPool(window, tuple(draw(st.sampled_from((1, 2))) for _ in window))
        else:
            spec = Dense(draw(st.integers(4, max(12, N // 4))), activation=draw(st.sampled_from(acts)))
        layers.append(spec)
        shape = _shape_of(input_shape, layers)
    # the layer under test: conv whenever the shape allows it
    if narrow:
        target = draw(st.integers(max(1, N // 4), N - 1))
    else:
        step = draw(st.sampled_from(WIDTH_STEPS))
        target = int(math.ceil(min_ratio * N)) + int(math.ceil(step * N))
        if step:
            target += draw(st.integers(0, max(1, N // 8)))
    wide = None
    if len(shape) >= 2 and kind != "dense":
        probe = draw(_conv(shape, acts, biases, filters=1))
        P = _conv_positions(probe, shape)
        T = (target // P) if narrow else -(-target // P)
        if T >= 1:
            wide = Conv(T, probe.kernel, probe.stride, probe.padding, probe.dilation, probe.activation, probe.bias)
    if wide is None:
        wide = Dense(target, activation=draw(st.sampled_from(acts)))
    layers.append(wide)
    width = int(np.prod(_shape_of(input_shape, layers)))
    for _ in range(draw(st.integers(0, after))):
        # pyramidal down to the output: at most the width before (a narrow n_k may be 1), at least m
        hi = max(outputs, min(width, 8))
        width = draw(st.integers(min(max(outputs, 2), hi), hi))
        layers.append(Dense(width, activation=draw(st.sampled_from(acts))))
    layers.append(Output(outputs))
    return Network(Architecture(input_shape, tuple(layers)), k, N)


def parameters(arch: Architecture, *, laws=("lecun_normal", "uniform", "normal"),
               bias_laws=("normal", "uniform"), bias_scales=(0.1, 1.0), bias_mean=0.0) -> st.SearchStrategy:
    """Draw a parameter pytree for ``arch`` (see :func:`theory_lab.expressivity.sample_params`).

    Args:
        laws: weight laws to choose from (:data:`theory_lab.model.LAWS`).
        bias_laws: bias laws to choose from (``"normal"``, ``"uniform"``, ``"zeros"``).
        bias_scales: menu of bias spreads.
        bias_mean: a number or a menu: added to every bias.
    """
    laws, bias_laws = menu(laws, "laws"), menu(bias_laws, "bias_laws")
    if any(law not in _model.LAWS for law in laws):
        raise ValueError(f"`laws`={laws}: each must be one of {_model.LAWS}.")
    if any(b not in BIAS_LAWS for b in bias_laws):
        raise ValueError(f"`bias_laws`={bias_laws}: each must be one of {BIAS_LAWS}.")
    means = tuple(float(m) for m in menu(bias_mean, "bias_mean"))
    scales = tuple(float(v) for v in menu(bias_scales, "bias_scales"))
    if not means or any(not np.isfinite(v) for v in means + scales) or any(v < 0 for v in scales):
        raise ValueError(f"`bias_scales`={bias_scales!r} / `bias_mean`={bias_mean!r} must be finite numbers "
                         "(scales non-negative).")
    return _parameters(arch, laws, bias_laws, scales, means)


@st.composite
def _parameters(draw, arch, laws, bias_laws, scales, means):
    return sample_params(arch, draw(st.integers(0, 2**32 - 1)), law=draw(st.sampled_from(laws)),
                         bias_law=draw(st.sampled_from(bias_laws)), bias_scale=draw(st.sampled_from(scales)),
                         bias_mean=draw(st.sampled_from(means)))


def setups(*, assumption_3_1: bool = True, violations=VIOLATIONS, laws=("lecun_normal", "uniform", "normal"),
           bias_laws=("normal", "uniform"), bias_mean=0.0, data_laws=DATA_LAWS, **network_kwargs) -> st.SearchStrategy:
    """Draw ``(network, X, params)`` together; other keyword arguments go to :func:`networks`.

    ``X`` comes from :func:`datasets` (``assumption_3_1``, ``violations``, ``data_laws``) and
    ``params`` from :func:`parameters` (``laws``, ``bias_laws``, ``bias_mean``). Every draw meets
    the hypotheses it promises, tested with the checks' own predicates: Assumption 2.4 on every
    conv layer, Assumption 3.1 on ``X`` when ``assumption_3_1``, ``n_k ≥ c·N`` (or ``< N`` when narrow).
    """
    nets = networks(**network_kwargs)
    probe = Architecture((4, 1), (Conv(1, (2,)), Output(1)))  # validate the other arguments now
    datasets(probe, 2, assumption_3_1=assumption_3_1, violations=violations, laws=data_laws)
    parameters(probe, laws=laws, bias_laws=bias_laws, bias_mean=bias_mean)

    @st.composite
    def _setups(draw):
        net = draw(nets)
        X = draw(datasets(net.arch, net.N, assumption_3_1=assumption_3_1, violations=violations, laws=data_laws))
        params = draw(parameters(net.arch, laws=laws, bias_laws=bias_laws, bias_mean=bias_mean))
        return net, X, params

    return _setups()
