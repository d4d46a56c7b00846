"""ENet (Paszke et al. 2016) as a layer graph, for segmentation at its published input sizes.

ENet's Table 1 gives output sizes "for an example input of 512 × 512"; its
experiments use 1024×512 (Cityscapes) and 480×360 (CamVid). The layout follows
the authors' Torch release (``e-lab/ENet-training``): an initial block (3×3/2
conv with 13 filters ‖ 2×2/2 max pool of the input, concatenated to 16
channels), then bottlenecks whose main branch is a 1×1 (2×2/2 when downsampling)
projection to ``output/4`` channels, a 3×3 / dilated 3×3 / asymmetric 5×1→1×5
conv, and a 1×1 expansion, added to a shortcut (max pool and zero channels when
downsampling; 1×1 conv and max unpooling with the encoder's indices when
upsampling); a final 2×2/2 transposed conv gives per-pixel class scores.

Example:
    >>> from theory_lab.zoo.enet import enet
    >>> net = enet()
    >>> net.shape("initial"), net.n1
    ((256, 256, 16), 1048576)
    >>> net.shape("fullconv")
    (512, 512, 19)
"""

from __future__ import annotations

from theory_lab.validate import is_integer
from theory_lab.zoo.graph import Builder, Network

__all__ = ["enet", "ENET_STAGE_2"]

# Bottlenecks 2.1–2.8 (and 3.1–3.8): ("regular", None), ("dilated", rate) or ("asymmetric", kernel).
ENET_STAGE_2 = (("regular", None), ("dilated", 2), ("asymmetric", 5), ("dilated", 4),
                ("regular", None), ("dilated", 8), ("asymmetric", 5), ("dilated", 16))


def _encoder_bottleneck(b: Builder, x: str, name: str, out: int, kind: str = "regular", arg=None,
                        downsample: bool = False) -> tuple[str, str | None]:
    """Returns the block's output and, when downsampling, its max pool (whose indices the decoder reuses)."""
    internal = out // 4
    stride = 2 if downsample else 1
    y = b.conv(x, internal, stride, stride, name=f"{name}/projection")
    if kind == "regular":
        y = b.conv(y, internal, 3, 1, 1, name=f"{name}/conv")
    elif kind == "dilated":
        y = b.conv(y, internal, 3, 1, arg, dilation=arg, name=f"{name}/conv")
    else:
        y = b.conv(y, internal, (arg, 1), 1, ((arg // 2, arg // 2), (0, 0)), name=f"{name}/conv_{arg}x1")
        y = b.conv(y, internal, (1, arg), 1, ((0, 0), (arg // 2, arg // 2)), name=f"{name}/conv_1x{arg}")
    y = b.conv(y, out, 1, name=f"{name}/expansion")
    shortcut, pool = x, None
    if downsample:
        shortcut = pool = b.max_pool(x, 2, 2, name=f"{name}/pool")
    if b.shape(shortcut)[2] != out:
        shortcut = b.pad_channels(shortcut, out, name=f"{name}/pad")
    return b.add(y, shortcut, name=name), pool


def _decoder_bottleneck(b: Builder, x: str, name: str, out: int, pool: str | None = None) -> str:
    internal = out // 4
    y = b.conv(x, internal, 1, name=f"{name}/projection")
    if pool is None:
        y = b.conv(y, internal, 3, 1, 1, name=f"{name}/conv")
    else:
        y = b.conv_transpose(y, internal, 3, 2, 1, 1, name=f"{name}/fullconv")
    y = b.conv(y, out, 1, name=f"{name}/expansion")
    shortcut = x
    if pool is not None or b.shape(x)[2] != out:
        shortcut = b.conv(x, out, 1, name=f"{name}/shortcut")
        if pool is not None:
            shortcut = b.max_unpool(shortcut, pool, name=f"{name}/unpool")
    return b.add(y, shortcut, name=name)


def enet(height: int = 512, width: int = 512, *, classes: int = 19) -> Network:
    """ENet at ``height``×``width``×3 with ``classes`` output channels (Cityscapes: 19).

    Both sizes must be divisible by 8 (three halvings, undone by the decoder).
    """
    for arg, value in (("height", height), ("width", width), ("classes", classes)):
        if not is_integer(value) or value < 1:  # the builder's errors named `input_shape` or `filters`
            raise ValueError(f"enet: `{arg}`={value!r} must be a positive int, e.g. enet(512, 1024, "
                             "classes=19) for Cityscapes.")
    if height % 8 or width % 8:
        raise ValueError(f"enet: input {height}×{width} must have both sizes divisible by 8 (three 2×2 poolings "
                         "undone by unpooling), e.g. 512×512 or 360×480.")
    tag = "" if (height, width) == (512, 512) else f"-{width}x{height}"
    b = Builder(f"enet{tag}", (height, width, 3), title="ENet",
                source="Paszke et al. 2016, Table 1; Torch release e-lab/ENet-training")
    x = b.concat(b.conv(b.input, 13, 3, 2, 1, name="initial/conv"), b.max_pool(b.input, 2, 2, name="initial/pool"),
                 name="initial")
    x, pool1 = _encoder_bottleneck(b, x, "bottleneck1.0", 64, downsample=True)
    for i in range(1, 5):
        x, _ = _encoder_bottleneck(b, x, f"bottleneck1.{i}", 64)
    x, pool2 = _encoder_bottleneck(b, x, "bottleneck2.0", 128, downsample=True)
    for stage in (2, 3):
        for i, (kind, arg) in enumerate(ENET_STAGE_2, start=1):
            x, _ = _encoder_bottleneck(b, x, f"bottleneck{stage}.{i}", 128, kind, arg)
    x = _decoder_bottleneck(b, x, "bottleneck4.0", 64, pool=pool2)
    x = _decoder_bottleneck(b, x, "bottleneck4.1", 64)
    x = _decoder_bottleneck(b, x, "bottleneck4.2", 64)
    x = _decoder_bottleneck(b, x, "bottleneck5.0", 16, pool=pool1)
    x = _decoder_bottleneck(b, x, "bottleneck5.1", 16)
    b.conv_transpose(x, classes, 2, 2, name="fullconv", output=True)
    return b.build()
