"""The paper's Table 1 recomputed: ``n_1`` and ``max_k n_k`` of real CNNs beside ``N`` and the paper's bounds.

Nguyen & Hein's Table 1 lists, for each network family, lower bounds on the
width ``n_1`` of the first layer and on ``max_k n_k``, to argue that real CNNs
have a layer wider than ImageNet's ``N = 1,281,167`` training images. Here the
widths come from shape inference on each published layout (:mod:`theory_lab.zoo`)
and every disagreement with the paper is flagged:

* ``matches``: the paper's number is this width rounded down: the width is at least
  the number and less than 10 % above it (3,211,264 for 3000K is 7 % above; the
  paper's other numbers are 0.2–6.4 % below their widths);
* ``loose``: the paper's number is a valid lower bound but not this width;
* ``below``: the computed width is smaller than the paper's "lower bound".

Figure 1's MNIST network (:func:`theory_lab.arch.figure1`) is included, compared
with MNIST's ``N = 60,000`` and the widths printed in the paper.

Example:
    >>> from theory_lab.zoo.table1 import table1
    >>> row = next(r for r in table1() if r.key == "googlenet")
    >>> row.n1, row.max_width, row.agrees
    (802816, 802816, True)
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Callable

from theory_lab import arch as _arch
from theory_lab.zoo import classic, enet, inception
from theory_lab.zoo.graph import Builder, Network

__all__ = ["IMAGENET_N", "MNIST_N", "PaperBound", "PAPER_TABLE1", "Entry", "entries", "entry", "network_names",
           "network", "from_architecture", "WidthRow", "compare", "table1", "agreement", "ROUNDING"]

IMAGENET_N = 1_281_167  # ILSVRC-2012 training images
MNIST_N = 60_000


@dataclass(frozen=True)
class PaperBound:
    """A row of the paper's Table 1 (or Figure 1): its label and its numbers for ``n_1`` and ``max_k n_k``."""

    label: str
    n1: int
    max_width: int


PAPER_TABLE1 = {
    "VGG": PaperBound("VGG(A–E)", 3_000_000, 3_000_000),
    "InceptionV3": PaperBound("InceptionV3", 700_000, 1_300_000),
    "InceptionV4": PaperBound("InceptionV4", 700_000, 1_300_000),
    "SqueezeNet": PaperBound("SqueezeNet", 1_180_000, 1_180_000),
    "ENet": PaperBound("ENet", 1_000_000, 1_000_000),
    "GoogLeNet": PaperBound("GoogLeNet", 800_000, 800_000),
    "ResNet": PaperBound("ResNet", 800_000, 800_000),
    "Xception": PaperBound("Xception", 700_000, 700_000),
    "Figure1": PaperBound("Figure 1", 67_600, 67_600),
}


@dataclass(frozen=True)
class Entry:
    """A network of the table: ``key`` (for ``--network``), its builder, its paper row and data set.

    ``why`` explains, per quantity (``"n1"``, ``"max"``), a disagreement that the comparison finds;
    it is shown only if the computed status is not ``matches``.
    """

    key: str
    build: Callable[[], Network]
    paper: str
    dataset: str = "ImageNet"
    N: int = IMAGENET_N
    variant: str = ""
    why: tuple[tuple[str, str], ...] = ()


def from_architecture(architecture: _arch.Architecture, name: str = "architecture") -> Network:
    """The zoo graph of a 2-D chain :class:`~theory_lab.arch.Architecture` (Conv, MaxPool, Dense, Output).

    Shapes are then inferred twice, independently, by ``arch`` and by the zoo; they must agree.

    Example:
        >>> from theory_lab.arch import figure1
        >>> [l.width for l in from_architecture(figure1()).counted_layers]
        [67600, 16900, 2880, 720, 100, 10]
    """
    if not isinstance(architecture, _arch.Architecture):
        raise TypeError(f"`architecture` is a {type(architecture).__name__}; expected a theory_lab.arch.Architecture.")
    shape = architecture.input_shape
    if len(shape) != 3:
        raise ValueError(f"from_architecture: input shape {shape} is not (H, W, C); only 2-D networks convert.")
    b = Builder(name, shape, title="Figure 1 (MNIST)" if name == "figure1" else name, source="theory_lab.arch")
    x = b.input
    for k, (spec, info) in enumerate(zip(architecture.layers, architecture.info), start=1):
        if isinstance(spec, _arch.Conv):
            x = b.conv(x, spec.filters, spec.kernel, spec.stride, info.padding, dilation=spec.dilation,
                       name=f"layer{k}")
        elif isinstance(spec, _arch.MaxPool):
            x = b.max_pool(x, spec.window, spec.stride, name=f"layer{k}")
        elif isinstance(spec, (_arch.Dense, _arch.Output)):
            x = b.dense(x, info.n, name=f"layer{k}", output=isinstance(spec, _arch.Output))
        else:
            raise ValueError(f"from_architecture: layer {k} is a {type(spec).__name__}, which has no grid geometry; "
                             "only Conv, MaxPool, Dense and Output convert.")
    return b.build()


_ENET_SIZE = ("n1", "at 1024×512 every width doubles; the paper's numbers are those of ENet's 512×512 Table 1")
_ENTRIES = (
    *(Entry(f"vgg-{c.lower()}", functools.partial(classic.vgg, c), "VGG") for c in "AB"),
    Entry("vgg-a-lrn", functools.partial(classic.vgg, "A", lrn=True), "VGG", variant="LRN is element-wise"),
    *(Entry(f"vgg-{c.lower()}", functools.partial(classic.vgg, c), "VGG") for c in "CDE"),
    Entry("googlenet", classic.googlenet, "GoogLeNet"),
    Entry("inception-v3", inception.inception_v3, "InceptionV3"),
    Entry("inception-v4", inception.inception_v4, "InceptionV4"),
    *(Entry(f"resnet-{d}", functools.partial(classic.resnet, d), "ResNet") for d in sorted(classic.RESNET_BLOCKS)),
    Entry("squeezenet-1.0", classic.squeezenet, "SqueezeNet"),
    Entry("squeezenet-1.0-224", functools.partial(classic.squeezenet, 224, conv10_pad=0), "SqueezeNet",
          variant="torchvision port at 224",
          why=(("n1", "the paper's 1180K is conv1 at the Caffe release's 227×227 input (111×111×96 = 1,182,816); "
                      "at 224 conv1 is 109×109×96 = 1,140,576, and conv1 is also the widest layer"),)),
    Entry("xception", inception.xception, "Xception",
          why=(("max", "the paper's 700K equals n_1 (block1_conv1, 149×149×32 = 710,432), as if only the first "
                       "layer had been counted; block1_conv2 (147×147×64 = 1,382,976) and the block2 separable "
                       "convs (147×147×128 = 2,765,952) are wider"),)),
    Entry("enet", enet.enet, "ENet", variant="ENet's Table 1 size"),
    Entry("enet-1024x512", functools.partial(enet.enet, 512, 1024), "ENet",
          variant="Cityscapes size", why=(_ENET_SIZE,)),
    Entry("enet-480x360", functools.partial(enet.enet, 360, 480), "ENet",
          variant="CamVid size",
          why=(("n1", "at 480×360 the initial block is 180×240×16 = 691,200; the paper's numbers are those of "
                      "ENet's 512×512 Table 1"),)),
    Entry("figure1", lambda: from_architecture(_arch.figure1(), "figure1"), "Figure1", dataset="MNIST", N=MNIST_N,
          variant="widths from theory_lab.arch"),
)
_ALIASES = {"vgg11": "vgg-a", "vgg13": "vgg-b", "vgg16": "vgg-d", "vgg19": "vgg-e", "squeezenet": "squeezenet-1.0",
            "inceptionv1": "googlenet"}


def entries() -> tuple[Entry, ...]:
    """Every network of the table, in the paper's order of families."""
    return _ENTRIES


def network_names() -> tuple[str, ...]:
    return tuple(e.key for e in _ENTRIES)


def _normal(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"`name`={name!r} is a {type(name).__name__}; expected a network name such as 'resnet-50' "
                        f"(one of {', '.join(network_names())}).")
    return re.sub(r"[^a-z0-9.]", "", name.lower())


def entry(name: str) -> Entry:
    """The :class:`Entry` called ``name`` (case and punctuation ignored; aliases such as ``vgg16``)."""
    wanted = _normal(name)
    wanted = _normal(_ALIASES.get(wanted, wanted))
    for e in _ENTRIES:
        if _normal(e.key) == wanted:
            return e
    raise ValueError(f"`network`={name!r} is unknown; choose one of {', '.join(network_names())} "
                     f"(aliases: {', '.join(sorted(_ALIASES))}).")


def network(name: str) -> Network:
    """The :class:`Network` called ``name`` (case and punctuation ignored: ``"ResNet50"`` is ``"resnet-50"``)."""
    return _built(entry(name).key)


@functools.cache
def _built(key: str) -> Network:
    return entry(key).build()


ROUNDING = 0.10  # the paper rounds down: its numbers are 0.2 %–7 % below the widths they stand for


def agreement(computed: int, paper: int) -> str:
    """``"matches"`` if ``paper ≤ computed < (1 + ROUNDING)·paper``, ``"loose"`` if above that, else ``"below"``.

    Example:
        >>> agreement(3_211_264, 3_000_000), agreement(2_765_952, 700_000), agreement(1_140_576, 1_180_000)
        ('matches', 'loose', 'below')
    """
    if computed < paper:
        return "below"
    # exact: in floats (1 + 0.1)·700,000 is 770,000.0000000001, and 770,000 (10 % above) would match
    return "matches" if computed < (1 + Fraction(ROUNDING).limit_denominator()) * paper else "loose"


@dataclass(frozen=True)
class WidthRow:
    """One row of the table: the computed widths, the comparisons, the paper's numbers and a note."""

    key: str
    title: str
    input_shape: tuple[int, int, int]
    n1: int
    n1_at: str
    max_width: int
    max_at: str
    dataset: str
    N: int
    paper: str
    paper_n1: int
    paper_max: int
    n1_status: str
    max_status: str
    note: str
    variant: str = ""

    @property
    def n1_wide(self) -> bool:
        """``n_1 ≥ N``."""
        return self.n1 >= self.N

    @property
    def max_wide(self) -> bool:
        """``max_k n_k ≥ N``."""
        return self.max_width >= self.N

    @property
    def agrees(self) -> bool:
        return self.n1_status == self.max_status == "matches"

    @property
    def status(self) -> str:
        """The worse of the two: ``"matches"``, ``"loose"`` or ``"below"``."""
        order = ("matches", "loose", "below")
        return max(self.n1_status, self.max_status, key=order.index)

    def to_dict(self) -> dict:
        return {**asdict(self), "n1_ge_N": self.n1_wide, "max_ge_N": self.max_wide, "agrees": self.agrees,
                "status": self.status}


def _fmt(n: int) -> str:
    return f"{n:,}"


def _note(entry: Entry, statuses: dict[str, str], values: dict[str, int], paper: PaperBound) -> str:
    why = dict(entry.why)
    bounds = {"n1": paper.n1, "max": paper.max_width}
    wrong = [q for q in ("n1", "max") if statuses[q] != "matches"]
    if len(wrong) == 2 and values["n1"] == values["max"] and bounds["n1"] == bounds["max"]:
        groups = [("n_1 = max", "n1")]  # one layer is both: say it once
    else:
        groups = [({"n1": "n_1", "max": "max"}[q], q) for q in wrong]
    parts = []
    for label, q in groups:
        verdict = ("bound holds, but is not this width" if statuses[q] == "loose"
                   else "BELOW the paper's lower bound")
        parts.append(f"{label} = {_fmt(values[q])} is {values[q] / bounds[q]:.2f}× the paper's "
                     f"{bounds[q] // 1000}K ({verdict}): {why.get(q, 'unexplained')}.")
    return " ".join(parts)


def compare(entry: Entry) -> WidthRow:
    """Compute one row: shape inference on ``entry``'s network and the comparison with the paper."""
    net = _built(entry.key)
    paper = PAPER_TABLE1[entry.paper]
    max_width, max_at = net.max_width
    values = {"n1": net.n1, "max": max_width}
    statuses = {"n1": agreement(net.n1, paper.n1), "max": agreement(max_width, paper.max_width)}
    first = " ‖ ".join(layer.name for layer in net.first_layer)
    return WidthRow(entry.key, net.title, net.input_shape, net.n1, first,
                    max_width, max_at, entry.dataset, entry.N, paper.label, paper.n1, paper.max_width,
                    statuses["n1"], statuses["max"], _note(entry, statuses, values, paper), entry.variant)


@functools.cache
def table1() -> tuple[WidthRow, ...]:
    """Every row of the recomputed Table 1 (and Figure 1), in :func:`entries` order."""
    return tuple(compare(e) for e in _ENTRIES)

