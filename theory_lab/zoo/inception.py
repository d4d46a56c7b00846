"""Inception V3, Inception V4 and Xception as layer graphs, at their published 299×299 input.

The papers draw these networks as figures whose padding is not always stated;
the released TensorFlow reference models fix it, and we follow them: tf-slim's
``inception_v3`` / ``inception_v4`` (``VALID`` where marked "V" in the papers'
figures, ``SAME`` elsewhere) and Keras' ``xception`` (``valid`` stem, ``same``
separable convolutions and pools). Node names are the reference scopes.

Separable convolutions are two layers, ``…/depthwise`` (one 3×3 filter per
channel) and ``…/pointwise`` (1×1), since both produce neurons.

Example:
    >>> from theory_lab.zoo.inception import inception_v3, xception
    >>> inception_v3().shape("Mixed_7c")
    (8, 8, 2048)
    >>> xception().shape("block14_sepconv2/pointwise")
    (10, 10, 2048)
"""

from __future__ import annotations

from theory_lab.zoo.graph import Builder, Network, sized

__all__ = ["inception_v3", "inception_v4", "xception"]


_AUX = {"AuxLogits": "aux=False (the auxiliary head's 5×5 pool needs at least a 5×5 grid where the published "
                     "net has 17×17)"}


def _aux_logits(b: Builder, x: str) -> None:
    """Auxiliary classifier on a 17×17 grid: 5×5/3 average pool, 1×1 conv 128, 5×5 conv 768, FC."""
    x = b.avg_pool(x, 5, 3, "valid", name="AuxLogits/AvgPool_1a_5x5")
    x = b.conv(x, 128, 1, name="AuxLogits/Conv2d_1b_1x1")
    x = b.conv(x, 768, b.shape(x)[:2], 1, "valid", name="AuxLogits/Conv2d_2a_5x5")
    b.dense(x, 1000, name="AuxLogits/Logits", output=True)


def _stem_v3_v4(b: Builder) -> str:
    x = b.conv(b.input, 32, 3, 2, "valid", name="Conv2d_1a_3x3")
    x = b.conv(x, 32, 3, 1, "valid", name="Conv2d_2a_3x3")
    return b.conv(x, 64, 3, 1, "same", name="Conv2d_2b_3x3")


def _chain(b: Builder, x: str, prefix: str, convs) -> str:
    """Convolutions ``(filters, kernel, stride, padding)`` one after another, named ``prefix/0, prefix/1, …``."""
    for i, (filters, kernel, stride, padding) in enumerate(convs):
        x = b.conv(x, filters, kernel, stride, padding, name=f"{prefix}/{i}_{kernel[0]}x{kernel[1]}")
    return x


def _pool_branch(b: Builder, x: str, prefix: str, filters: int) -> str:
    return b.conv(b.avg_pool(x, 3, 1, "same", name=f"{prefix}/AvgPool"), filters, 1, name=f"{prefix}/1x1")


@sized("Inception V3", 299, heads=_AUX)
def inception_v3(size: int = 299, *, aux: bool = True) -> Network:
    """Inception V3 (Szegedy et al. 2016, "Rethinking…") in tf-slim's layout, with AuxLogits if ``aux``.

    Stem to 35×35×192; Mixed_5b–5d (35×35), Mixed_6a reduction, Mixed_6b–6e with factorised
    7×7 convolutions (17×17×768), Mixed_7a reduction, Mixed_7b–7c with split 1×3 ‖ 3×1
    branches (8×8×2048); global average pool, FC-1000.
    """
    b = Builder("inception-v3", (size, size, 3), title="Inception V3",
                source="Szegedy et al. 2016 (Rethinking), Table 1; tf-slim inception_v3")
    x = _stem_v3_v4(b)
    x = b.max_pool(x, 3, 2, "valid", name="MaxPool_3a_3x3")
    x = b.conv(x, 80, 1, name="Conv2d_3b_1x1")
    x = b.conv(x, 192, 3, 1, "valid", name="Conv2d_4a_3x3")
    x = b.max_pool(x, 3, 2, "valid", name="MaxPool_5a_3x3")
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = b.concat(
            b.conv(x, 64, 1, name=f"{name}/b0_1x1"),
            _chain(b, x, f"{name}/b1", [(48, (1, 1), 1, "same"), (64, (5, 5), 1, "same")]),
            _chain(b, x, f"{name}/b2", [(64, (1, 1), 1, "same"), (96, (3, 3), 1, "same"), (96, (3, 3), 1, "same")]),
            _pool_branch(b, x, f"{name}/b3", pool_features), name=name)
    x = b.concat(
        b.conv(x, 384, 3, 2, "valid", name="Mixed_6a/b0_3x3"),
        _chain(b, x, "Mixed_6a/b1", [(64, (1, 1), 1, "same"), (96, (3, 3), 1, "same"), (96, (3, 3), 2, "valid")]),
        b.max_pool(x, 3, 2, "valid", name="Mixed_6a/b2_MaxPool"), name="Mixed_6a")
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = b.concat(
            b.conv(x, 192, 1, name=f"{name}/b0_1x1"),
            _chain(b, x, f"{name}/b1", [(c7, (1, 1), 1, "same"), (c7, (1, 7), 1, "same"), (192, (7, 1), 1, "same")]),
            _chain(b, x, f"{name}/b2", [(c7, (1, 1), 1, "same"), (c7, (7, 1), 1, "same"), (c7, (1, 7), 1, "same"),
                                        (c7, (7, 1), 1, "same"), (192, (1, 7), 1, "same")]),
            _pool_branch(b, x, f"{name}/b3", 192), name=name)
    if aux:
        _aux_logits(b, x)
    x = b.concat(
        _chain(b, x, "Mixed_7a/b0", [(192, (1, 1), 1, "same"), (320, (3, 3), 2, "valid")]),
        _chain(b, x, "Mixed_7a/b1", [(192, (1, 1), 1, "same"), (192, (1, 7), 1, "same"), (192, (7, 1), 1, "same"),
                                     (192, (3, 3), 2, "valid")]),
        b.max_pool(x, 3, 2, "valid", name="Mixed_7a/b2_MaxPool"), name="Mixed_7a")
    for name in ("Mixed_7b", "Mixed_7c"):
        b1 = b.conv(x, 384, 1, name=f"{name}/b1_1x1")
        b2 = _chain(b, x, f"{name}/b2", [(448, (1, 1), 1, "same"), (384, (3, 3), 1, "same")])
        x = b.concat(
            b.conv(x, 320, 1, name=f"{name}/b0_1x1"),
            b.concat(b.conv(b1, 384, (1, 3), 1, "same", name=f"{name}/b1_1x3"),
                     b.conv(b1, 384, (3, 1), 1, "same", name=f"{name}/b1_3x1"), name=f"{name}/b1"),
            b.concat(b.conv(b2, 384, (1, 3), 1, "same", name=f"{name}/b2_1x3"),
                     b.conv(b2, 384, (3, 1), 1, "same", name=f"{name}/b2_3x1"), name=f"{name}/b2"),
            _pool_branch(b, x, f"{name}/b3", 192), name=name)
    x = b.global_pool(x, name="AvgPool_1a")
    b.dense(x, 1000, name="Logits", output=True)
    return b.build()


@sized("Inception V4", 299, heads=_AUX)
def inception_v4(size: int = 299, *, aux: bool = True) -> Network:
    """Inception V4 (Szegedy et al. 2017) in tf-slim's layout, with AuxLogits if ``aux``.

    Stem (Fig. 3) to 35×35×384; 4 × Inception-A, Reduction-A (k, l, m, n = 192, 224, 256, 384),
    7 × Inception-B (17×17×1024), Reduction-B, 3 × Inception-C (8×8×1536); average pool, FC-1000.
    """
    b = Builder("inception-v4", (size, size, 3), title="Inception V4",
                source="Szegedy et al. 2017, Figs. 3-9; tf-slim inception_v4")
    x = _stem_v3_v4(b)
    x = b.concat(b.max_pool(x, 3, 2, "valid", name="Mixed_3a/b0_MaxPool"),
                 b.conv(x, 96, 3, 2, "valid", name="Mixed_3a/b1_3x3"), name="Mixed_3a")
    x = b.concat(
        _chain(b, x, "Mixed_4a/b0", [(64, (1, 1), 1, "same"), (96, (3, 3), 1, "valid")]),
        _chain(b, x, "Mixed_4a/b1", [(64, (1, 1), 1, "same"), (64, (1, 7), 1, "same"), (64, (7, 1), 1, "same"),
                                     (96, (3, 3), 1, "valid")]), name="Mixed_4a")
    x = b.concat(b.conv(x, 192, 3, 2, "valid", name="Mixed_5a/b0_3x3"),
                 b.max_pool(x, 3, 2, "valid", name="Mixed_5a/b1_MaxPool"), name="Mixed_5a")
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_5e"):  # Inception-A
        x = b.concat(
            b.conv(x, 96, 1, name=f"{name}/b0_1x1"),
            _chain(b, x, f"{name}/b1", [(64, (1, 1), 1, "same"), (96, (3, 3), 1, "same")]),
            _chain(b, x, f"{name}/b2", [(64, (1, 1), 1, "same"), (96, (3, 3), 1, "same"), (96, (3, 3), 1, "same")]),
            _pool_branch(b, x, f"{name}/b3", 96), name=name)
    x = b.concat(  # Reduction-A
        b.conv(x, 384, 3, 2, "valid", name="Mixed_6a/b0_3x3"),
        _chain(b, x, "Mixed_6a/b1", [(192, (1, 1), 1, "same"), (224, (3, 3), 1, "same"), (256, (3, 3), 2, "valid")]),
        b.max_pool(x, 3, 2, "valid", name="Mixed_6a/b2_MaxPool"), name="Mixed_6a")
    for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_6f", "Mixed_6g", "Mixed_6h"):  # Inception-B
        x = b.concat(
            b.conv(x, 384, 1, name=f"{name}/b0_1x1"),
            _chain(b, x, f"{name}/b1", [(192, (1, 1), 1, "same"), (224, (1, 7), 1, "same"), (256, (7, 1), 1, "same")]),
            _chain(b, x, f"{name}/b2", [(192, (1, 1), 1, "same"), (192, (7, 1), 1, "same"), (224, (1, 7), 1, "same"),
                                        (224, (7, 1), 1, "same"), (256, (1, 7), 1, "same")]),
            _pool_branch(b, x, f"{name}/b3", 128), name=name)
    if aux:
        _aux_logits(b, x)
    x = b.concat(  # Reduction-B
        _chain(b, x, "Mixed_7a/b0", [(192, (1, 1), 1, "same"), (192, (3, 3), 2, "valid")]),
        _chain(b, x, "Mixed_7a/b1", [(256, (1, 1), 1, "same"), (256, (1, 7), 1, "same"), (320, (7, 1), 1, "same"),
                                     (320, (3, 3), 2, "valid")]),
        b.max_pool(x, 3, 2, "valid", name="Mixed_7a/b2_MaxPool"), name="Mixed_7a")
    for name in ("Mixed_7b", "Mixed_7c", "Mixed_7d"):  # Inception-C
        b1 = b.conv(x, 384, 1, name=f"{name}/b1_1x1")
        b2 = _chain(b, x, f"{name}/b2", [(384, (1, 1), 1, "same"), (448, (3, 1), 1, "same"),
                                         (512, (1, 3), 1, "same")])
        x = b.concat(
            b.conv(x, 256, 1, name=f"{name}/b0_1x1"),
            b.concat(b.conv(b1, 256, (1, 3), 1, "same", name=f"{name}/b1_1x3"),
                     b.conv(b1, 256, (3, 1), 1, "same", name=f"{name}/b1_3x1"), name=f"{name}/b1"),
            b.concat(b.conv(b2, 256, (1, 3), 1, "same", name=f"{name}/b2_1x3"),
                     b.conv(b2, 256, (3, 1), 1, "same", name=f"{name}/b2_3x1"), name=f"{name}/b2"),
            _pool_branch(b, x, f"{name}/b3", 256), name=name)
    x = b.global_pool(x, name="AvgPool_1a")
    b.dense(x, 1000, name="Logits", output=True)
    return b.build()


def _xception_block(b: Builder, x: str, block: int, filters: tuple[int, int], *, pool: bool = True) -> str:
    """Entry/exit block: two separable convs, 3×3/2 max pool, plus a strided 1×1 conv shortcut."""
    shortcut = b.conv(x, filters[1], 1, 2, "same", name=f"block{block}_shortcut")
    y = b.separable(x, filters[0], 3, name=f"block{block}_sepconv1")
    y = b.separable(y, filters[1], 3, name=f"block{block}_sepconv2")
    y = b.max_pool(y, 3, 2, "same", name=f"block{block}_pool")
    return b.add(y, shortcut, name=f"block{block}_add")


@sized("Xception", 299)
def xception(size: int = 299) -> Network:
    """Xception (Chollet 2017, Fig. 5) in Keras' layout.

    Entry flow: conv 32 3×3/2, conv 64 3×3 (valid), three residual blocks with separable
    convolutions (128, 256, 728 filters) and strided shortcuts; middle flow: 8 blocks of three
    separable 728 convolutions with identity shortcuts (19×19×728); exit flow: a residual block
    (728, 1024), separable 1536 and 2048 (10×10×2048), global average pool, FC-1000.
    """
    b = Builder("xception", (size, size, 3), title="Xception",
                source="Chollet 2017, Fig. 5; Keras applications xception")
    x = b.conv(b.input, 32, 3, 2, "valid", name="block1_conv1")
    x = b.conv(x, 64, 3, 1, "valid", name="block1_conv2")
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        x = _xception_block(b, x, block, (filters, filters))
    for block in range(5, 13):
        y = x
        for i in (1, 2, 3):
            y = b.separable(y, 728, 3, name=f"block{block}_sepconv{i}")
        x = b.add(y, x, name=f"block{block}_add")
    x = _xception_block(b, x, 13, (728, 1024))
    x = b.separable(x, 1536, 3, name="block14_sepconv1")
    x = b.separable(x, 2048, 3, name="block14_sepconv2")
    x = b.global_pool(x, name="avg_pool")
    b.dense(x, 1000, name="predictions", output=True)
    return b.build()
