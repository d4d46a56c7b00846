"""Layer graphs of real CNNs and their shape inference: widths only, no weights.

Real ImageNet networks are not chains: they have parallel branches joined by
concatenation, residual additions and depthwise convolutions. A :class:`Network`
is a directed acyclic graph of named nodes, each an operation on the outputs of
earlier nodes; shape inference gives every node's output shape ``(H, W, C)`` and
width ``H·W·C``. Shapes are computed from the layer parameters, never typed in.

Counting convention (the paper's "width of layer k" is its number of neurons):

* a *layer* is a node that produces neuron values — convolution (also depthwise
  and transposed), pooling, global pooling, fully connected, concatenation (the
  grouped outputs of an inception/fire module's branches) and residual addition;
* element-wise, width-preserving operations (batch norm, ReLU, LRN, dropout) are
  part of the preceding neuron ``σ(affine)`` and are not layers; they may appear
  as :meth:`Builder.elementwise` nodes for fidelity but are never counted;
* zero channels appended by :meth:`Builder.pad_channels` are constants, not
  neurons, so that node is not counted either;
* ``n_1`` is the total width of layer 1: every counted node whose inputs reach
  the network input without passing another counted node (for a chain, the
  first layer; for ENet's initial block, conv and max-pool together);
* ``max_k n_k`` runs over the hidden layers: every counted node except the
  outputs (the classifier logits), as the paper's wide layer ``k ≤ L − 1``.

Example:
    >>> from theory_lab.zoo.graph import Builder
    >>> b = Builder("toy", (32, 32, 3))
    >>> x = b.conv(b.input, 16, 3, padding=1, name="conv1")
    >>> y = b.concat(b.conv(x, 8, 1, name="a"), b.conv(x, 8, 3, padding=1, name="b"), name="cat")
    >>> z = b.add(y, x, name="res")
    >>> out = b.dense(b.global_pool(z, name="gap"), 10, name="fc", output=True)
    >>> net = b.build()
    >>> net.shape("res"), net.n1, net.max_width
    ((32, 32, 16), 16384, (16384, 'conv1'))
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass

from theory_lab.validate import is_integer
from theory_lab.zoo.ops import (
    Add,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Elementwise,
    GlobalPool,
    MaxUnpool,
    Op,
    PadChannels,
    Padding,
    Pads,
    Pool,
    Shape,
    ShapeError,
    check_input_shape,
    check_padding,
    check_pair,
)

__all__ = ["Node", "Layer", "Network", "Builder", "sized"]


@dataclass(frozen=True)
class Node:
    """A named operation applied to the outputs of earlier nodes (``"input"`` is the network input)."""

    name: str
    op: Op
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    """One node's inferred facts: output ``shape`` ``(H, W, C)``, ``width`` ``H·W·C`` and ``depth``.

    ``depth`` counts the layers on the longest path from the input, this one included; ``counted`` is
    False for width-preserving element-wise nodes and zero padding, which are not layers.
    """

    name: str
    kind: str
    detail: str
    inputs: tuple[str, ...]
    shape: Shape
    width: int
    depth: int
    counted: bool
    output: bool


@dataclass(frozen=True)
class Network:
    """A layer graph with inferred shapes. Build it with :class:`Builder`.

    Attributes:
        name: short identifier, e.g. ``"resnet-50"``.
        input_shape: ``(H, W, C)`` of one sample.
        nodes: in topological order (each node's inputs come earlier).
        outputs: names of the output nodes (classifier logits), excluded from ``max_width``.
        title, source: a human title and the reference layout followed.
    """

    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    title: str = ""
    source: str = ""
    layers: tuple[Layer, ...] = dataclasses.field(init=False, repr=False, compare=False)
    _index: dict = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        shape = check_input_shape(self.name, self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        shapes: dict[str, Shape] = {"input": shape}
        depth = {"input": 0}
        layers = []
        outputs = set(self.outputs)
        for node in self.nodes:
            where = f"{node.op.kind} {node.name!r}"
            if node.name in shapes:
                raise ValueError(f"{where}: the name {node.name!r} is already used; give each node a unique name.")
            missing = [i for i in node.inputs if i not in shapes]
            if missing:
                raise ValueError(f"{where}: input(s) {missing} are not defined before it; known so far: "
                                 f"{len(shapes)} nodes. Add inputs before the nodes that read them.")
            shapes[node.name] = out = node.op.infer(where, [shapes[i] for i in node.inputs])
            depth[node.name] = max(depth[i] for i in node.inputs) + int(node.op.counted)
            layers.append(Layer(node.name, node.op.kind, node.op.describe(), node.inputs, out, math.prod(out),
                                depth[node.name], node.op.counted, node.name in outputs))
        unknown = outputs - {n.name for n in self.nodes}
        if unknown or not outputs:
            raise ValueError(f"network {self.name!r}: `outputs`={sorted(unknown) or list(self.outputs)} must name "
                             "at least one existing node (the classifier logits).")
        object.__setattr__(self, "layers", tuple(layers))
        object.__setattr__(self, "_index", {layer.name: layer for layer in layers})

    def _layer(self, name: str) -> Layer:
        if name not in self._index:
            raise ValueError(f"network {self.name!r}: no node named {name!r}. See `.layers` for the names.")
        return self._index[name]

    def shape(self, name: str) -> Shape:
        """Output shape ``(H, W, C)`` of node ``name``."""
        return self.input_shape if name == "input" else self._layer(name).shape

    def width(self, name: str) -> int:
        """Width ``H·W·C`` of node ``name``."""
        return math.prod(self.shape(name))

    @property
    def counted_layers(self) -> tuple[Layer, ...]:
        """The layers in the paper's sense (see the module's counting convention)."""
        return tuple(layer for layer in self.layers if layer.counted)

    @property
    def hidden_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.counted_layers if not layer.output)

    @property
    def d(self) -> int:
        """Input width ``n_0 = H·W·C``."""
        return math.prod(self.input_shape)

    @property
    def first_layer(self) -> tuple[Layer, ...]:
        """Layer 1: the counted nodes at depth 1 (several when the first block is parallel)."""
        return tuple(layer for layer in self.counted_layers if layer.depth == 1)

    @property
    def n1(self) -> int:
        """``n_1``: the total width of layer 1."""
        return sum(layer.width for layer in self.first_layer)

    @property
    def max_width(self) -> tuple[int, str]:
        """``(max_k n_k, name)`` over the hidden layers; the first node in order on ties."""
        best = max(self.hidden_layers, key=lambda layer: layer.width)
        return best.width, best.name

    @property
    def first_conv(self) -> tuple[int, str]:
        """``(width, name)`` of the first convolution."""
        conv = next(layer for layer in self.layers if layer.kind == "conv")
        return conv.width, conv.name


def _check_count(value, name: str, where: str) -> None:
    if not is_integer(value) or value < 1:
        raise ValueError(f"{where}: `{name}`={value!r} must be a positive int.")


class Builder:
    """Add nodes one by one; each method infers the new node's shape at once and returns its name.

    Errors name the node and say what to change. ``build()`` returns the :class:`Network`.
    """

    input = "input"

    def __init__(self, name: str, input_shape, *, title: str = "", source: str = ""):
        self.name, self.title, self.source = name, title, source
        self._input_shape = tuple(input_shape)
        self._nodes: list[Node] = []
        self._shapes: dict[str, Shape] = {"input": check_input_shape(name, self._input_shape)}
        self._ops: dict[str, Op] = {}
        self._outputs: list[str] = []
        self._count = 0

    def shape(self, name: str) -> Shape:
        """Output shape of an already added node."""
        if name not in self._shapes:
            raise ValueError(f"network {self.name!r}: no node named {name!r} yet.")
        return self._shapes[name]

    def _add(self, op: Op, inputs: tuple[str, ...], name: str | None, output: bool = False) -> str:
        self._count += 1
        name = name or f"{op.kind.replace(' ', '_')}{self._count}"
        where = f"{op.kind} {name!r}"
        if name in self._shapes:
            raise ValueError(f"{where}: the name {name!r} is already used; give each node a unique name.")
        missing = [i for i in inputs if i not in self._shapes]
        if missing:
            raise ValueError(f"{where}: input(s) {missing} do not exist yet. Pass names returned by the builder.")
        self._shapes[name] = op.infer(where, [self._shapes[i] for i in inputs])
        self._nodes.append(Node(name, op, inputs))
        self._ops[name] = op
        if output:
            self._outputs.append(name)
        return name

    def conv(self, x: str, filters: int, kernel, stride=1, padding: Padding | int = 0, *, dilation=1,
             groups: int = 1, name: str | None = None, output: bool = False) -> str:
        where = f"conv {name!r}"
        _check_count(filters, "filters", where)
        op = Conv(int(filters), check_pair(kernel, "kernel", where), check_pair(stride, "stride", where), check_padding(padding, where),
                  check_pair(dilation, "dilation", where), groups)
        return self._add(op, (x,), name, output)

    def depthwise(self, x: str, kernel, stride=1, padding: Padding | int = 0, *, name: str | None = None) -> str:
        """Depthwise convolution (one filter per input channel): ``groups = filters = C_in``."""
        channels = self.shape(x)[2]
        return self.conv(x, channels, kernel, stride, padding, groups=channels, name=name)

    def separable(self, x: str, filters: int, kernel, padding: Padding | int = "same", *, name: str) -> str:
        """Depthwise then pointwise (1×1) convolution, two layers ``name/depthwise`` and ``name/pointwise``."""
        return self.conv(self.depthwise(x, kernel, 1, padding, name=f"{name}/depthwise"), filters, 1,
                         name=f"{name}/pointwise")

    def conv_transpose(self, x: str, filters: int, kernel, stride=1, padding: int | Pads = 0, output_padding=0,
                       *, name: str | None = None, output: bool = False) -> str:
        where = f"conv transpose {name!r}"
        _check_count(filters, "filters", where)
        pads = check_padding(padding, where)
        if isinstance(pads, str):
            raise ValueError(f"{where}: `padding` must be explicit (an int or pairs), got {padding!r}.")
        op = ConvTranspose(int(filters), check_pair(kernel, "kernel", where), check_pair(stride, "stride", where), pads,
                           check_pair(output_padding, "output_padding", where, 0))
        return self._add(op, (x,), name, output)

    def _pool(self, kind, x, window, stride, padding, ceil_mode, name):
        where = f"{kind} pool {name!r}"
        window = check_pair(window, "window", where)
        stride = window if stride is None else check_pair(stride, "stride", where)
        return self._add(Pool(kind, window, stride, check_padding(padding, where), ceil_mode), (x,), name)

    def max_pool(self, x: str, window, stride=None, padding: Padding | int = 0, *, ceil_mode: bool = False,
                 name: str | None = None) -> str:
        return self._pool("max", x, window, stride, padding, ceil_mode, name)

    def avg_pool(self, x: str, window, stride=None, padding: Padding | int = 0, *, ceil_mode: bool = False,
                 name: str | None = None) -> str:
        return self._pool("avg", x, window, stride, padding, ceil_mode, name)

    def global_pool(self, x: str, op: str = "avg", *, name: str | None = None, output: bool = False) -> str:
        return self._add(GlobalPool(op), (x,), name, output)

    def dense(self, x: str, units: int, *, name: str | None = None, output: bool = False) -> str:
        _check_count(units, "units", f"dense {name!r}")
        return self._add(Dense(int(units)), (x,), name, output)

    def concat(self, *xs: str, name: str | None = None) -> str:
        return self._add(Concat(), tuple(xs), name)

    def add(self, *xs: str, name: str | None = None) -> str:
        return self._add(Add(), tuple(xs), name)

    def elementwise(self, x: str, op: str, *, name: str | None = None) -> str:
        return self._add(Elementwise(op), (x,), name)

    def pad_channels(self, x: str, channels: int, *, name: str | None = None) -> str:
        return self._add(PadChannels(channels), (x,), name)

    def max_unpool(self, x: str, pool: str, *, name: str | None = None) -> str:
        """Unpool ``x`` with the indices of max pool node ``pool``: output has the pool's input size."""
        op = self._ops.get(pool)
        if not isinstance(op, Pool) or op.op != "max":
            raise ValueError(f"max unpool {name!r}: `pool`={pool!r} must name a max pool node, whose indices "
                             "unpooling reuses.")
        source = next(n for n in self._nodes if n.name == pool).inputs[0]
        return self._add(MaxUnpool(self.shape(source)[:2]), (x, pool), name)

    def build(self) -> Network:
        if not self._outputs:
            raise ValueError(f"network {self.name!r}: no output node; pass output=True to the classifier layer.")
        return Network(self.name, self._input_shape, tuple(self._nodes), tuple(self._outputs), self.title, self.source)


def sized(title, published: int, *, heads: dict[str, str] | None = None):
    """Decorate a layout function that takes ``size``: refuse a size it cannot take, naming ``size``.

    ``title`` is the network's name in messages, or a function of the bound arguments that returns it.
    A ``size`` that is not a positive int (a bool, a float, a string) is refused before anything is
    built; one too small for the layout (a window larger than its input, branches that no longer fit
    together: :class:`~theory_lab.zoo.ops.ShapeError`) is refused naming ``size``, the node that failed and
    the published size. ``heads`` maps a node-name fragment to a way out when that node is what fails
    (e.g. ``{"AuxLogits": "aux=False (...)"}``). Other errors (an unknown config) pass unchanged.

    Example:
        >>> from theory_lab.zoo.classic import resnet
        >>> resnet(50, size=100)
        Traceback (most recent call last):
        ...
        ValueError: ResNet-50: `size`=100 is too small for this layout: avg pool 'pool5': ...
    """
    def wrap(build):
        signature = inspect.signature(build)

        @functools.wraps(build)
        def checked(*args, **kwargs) -> Network:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            size = bound.arguments["size"]
            name = title(bound.arguments) if callable(title) else title
            if not is_integer(size) or size < 1:
                raise ValueError(f"{name}: `size`={size!r} must be a positive int (the input is size×size×3; "
                                 f"the published one is {published}).")
            try:
                return build(*bound.args, **bound.kwargs)
            except ShapeError as err:
                outs = [hint for fragment, hint in (heads or {}).items() if fragment in str(err)]
                raise ValueError(f"{name}: `size`={size} is too small for this layout: {err} Give a larger "
                                 f"`size` ({published} is the published input){' or ' + outs[0] if outs else ''}."
                                 ) from err
        return checked
    return wrap
