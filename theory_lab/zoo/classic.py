"""VGG, ResNet, GoogLeNet and SqueezeNet as layer graphs, from their published layouts.

Each function returns a :class:`~theory_lab.zoo.graph.Network` at the input size
the reference model was released with; pass ``size`` to change it. Conventions
that the papers leave open follow the released reference models (named in each
``source``): Caffe's ceil-mode pooling for GoogLeNet and SqueezeNet, the stride
on the first 1×1 convolution of a ResNet bottleneck (the authors' Caffe models),
projection shortcuts only where the shape changes (the paper's option B).

Example:
    >>> from theory_lab.zoo.classic import resnet, googlenet
    >>> net = resnet(50)
    >>> net.shape("res5c"), net.n1
    ((7, 7, 2048), 802816)
    >>> googlenet().shape("inception_3a/output")
    (28, 28, 256)
"""

from __future__ import annotations

from theory_lab.validate import is_integer
from theory_lab.zoo.graph import Builder, Network, sized

__all__ = ["VGG_CONFIGS", "vgg", "resnet", "RESNET_BLOCKS", "googlenet", "squeezenet"]

# Simonyan & Zisserman (2015), Table 1: conv widths per block, "M" = 2×2 max pool; (1, c) = a 1×1 conv (config C).
VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (1, 256), "M", 512, 512, (1, 512), "M", 512, 512, (1, 512), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_VGG_DEPTH = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}


@sized(lambda args: f"VGG-{args['config']}", 224)
def vgg(config: str = "D", size: int = 224, *, lrn: bool = False) -> Network:
    """VGG configuration ``"A"``–``"E"`` (A-LRN: ``config="A", lrn=True``) at ``size``×``size``×3.

    3×3 convolutions with padding 1 (1×1 in config C), 2×2/2 max pools, then FC-4096, FC-4096, FC-1000.
    """
    if not isinstance(config, str) or config not in VGG_CONFIGS:
        raise ValueError(f"vgg: `config`={config!r} is unknown; choose one of {sorted(VGG_CONFIGS)}.")
    if lrn and config != "A":
        raise ValueError(f"vgg: `lrn`=True exists only for config 'A' (A-LRN), got config={config!r}.")
    name = f"vgg-{config.lower()}" + ("-lrn" if lrn else "")
    b = Builder(name, (size, size, 3), title=f"VGG-{config}{'-LRN' if lrn else ''} ({_VGG_DEPTH[config]} layers)",
                source="Simonyan & Zisserman 2015, Table 1")
    x, block, index = b.input, 1, 1
    for item in VGG_CONFIGS[config]:
        if item == "M":
            x = b.max_pool(x, 2, 2, name=f"pool{block}")
            block, index = block + 1, 1
            continue
        kernel, filters = (1, item[1]) if isinstance(item, tuple) else (3, item)
        x = b.conv(x, filters, kernel, 1, kernel // 2, name=f"conv{block}_{index}")
        if lrn and block == 1 and index == 1:
            x = b.elementwise(x, "LRN", name="norm1")
        index += 1
    x = b.dense(x, 4096, name="fc6")
    x = b.dense(x, 4096, name="fc7")
    b.dense(x, 1000, name="fc8", output=True)
    return b.build()


# He et al. (2016), Table 1: blocks per stage conv2_x … conv5_x, and whether blocks are bottlenecks.
RESNET_BLOCKS = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False), 50: ((3, 4, 6, 3), True),
                 101: ((3, 4, 23, 3), True), 152: ((3, 8, 36, 3), True)}


def _block_names(stage: int, count: int) -> list[str]:
    # The authors' Caffe models: res4a, res4b, … for short stages; res4a, res4b1, res4b2, … for long ones.
    if count <= 6:
        return [f"res{stage}{chr(ord('a') + i)}" for i in range(count)]
    return [f"res{stage}a"] + [f"res{stage}b{i}" for i in range(1, count)]


@sized(lambda args: f"ResNet-{args['depth']}", 224)
def resnet(depth: int = 50, size: int = 224) -> Network:
    """ResNet-``depth`` (18, 34, 50, 101, 152) at ``size``×``size``×3.

    conv1 7×7/2 pad 3, max pool 3×3/2 pad 1, four stages of basic (3×3, 3×3) or bottleneck
    (1×1, 3×3, 1×1 with 4× expansion) blocks, each summed with its shortcut; global average
    pool 7×7, FC-1000. Stages 3–5 halve the spatial size in their first block (stride 2 on the
    first conv: the 1×1 of a bottleneck, as in the authors' Caffe models).
    """
    if not is_integer(depth) or depth not in RESNET_BLOCKS:
        raise ValueError(f"resnet: `depth`={depth!r} is not a published ResNet; choose one of {sorted(RESNET_BLOCKS)}.")
    blocks, bottleneck = RESNET_BLOCKS[depth]
    b = Builder(f"resnet-{depth}", (size, size, 3), title=f"ResNet-{depth}",
                source="He et al. 2016, Table 1; Caffe release (KaimingHe/deep-residual-networks)")
    x = b.conv(b.input, 64, 7, 2, 3, name="conv1")
    x = b.max_pool(x, 3, 2, 1, name="pool1")
    for stage, count in enumerate(blocks, start=2):
        width = 64 * 2 ** (stage - 2)
        out = width * 4 if bottleneck else width
        for i, name in enumerate(_block_names(stage, count)):
            stride = 2 if i == 0 and stage > 2 else 1
            if bottleneck:
                y = b.conv(x, width, 1, stride, name=f"{name}/branch2a")
                y = b.conv(y, width, 3, 1, 1, name=f"{name}/branch2b")
                y = b.conv(y, out, 1, name=f"{name}/branch2c")
            else:
                y = b.conv(x, width, 3, stride, 1, name=f"{name}/branch2a")
                y = b.conv(y, width, 3, 1, 1, name=f"{name}/branch2b")
            shortcut = x
            if b.shape(x)[2] != out or stride != 1:
                shortcut = b.conv(x, out, 1, stride, name=f"{name}/branch1")
            x = b.add(y, shortcut, name=name)
    x = b.avg_pool(x, 7, 1, name="pool5")
    b.dense(x, 1000, name="fc1000", output=True)
    return b.build()


# Szegedy et al. (2015), Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _googlenet_aux(b: Builder, x: str, name: str) -> None:
    x = b.avg_pool(x, 5, 3, ceil_mode=True, name=f"{name}/ave_pool")
    x = b.conv(x, 128, 1, name=f"{name}/conv")
    x = b.dense(x, 1024, name=f"{name}/fc")
    b.dense(x, 1000, name=f"{name}/classifier", output=True)


@sized("GoogLeNet", 224)  # no aux=False way out: where the auxiliary heads fail, pool5 fails as well
def googlenet(size: int = 224, *, aux: bool = True) -> Network:
    """GoogLeNet (Inception v1) at ``size``×``size``×3, with its two auxiliary classifiers if ``aux``.

    Nine inception modules 3a–5b of four branches (1×1; 1×1→3×3; 1×1→5×5; 3×3 max pool→1×1)
    concatenated; max pools 3×3/2 in Caffe's ceil mode (floor mode would give 55×55 after pool1).
    """
    b = Builder("googlenet", (size, size, 3), title="GoogLeNet (Inception v1)",
                source="Szegedy et al. 2015, Table 1; Caffe bvlc_googlenet (ceil-mode pooling)")
    x = b.conv(b.input, 64, 7, 2, 3, name="conv1/7x7_s2")
    x = b.max_pool(x, 3, 2, ceil_mode=True, name="pool1/3x3_s2")
    x = b.elementwise(x, "LRN", name="pool1/norm1")
    x = b.conv(x, 64, 1, name="conv2/3x3_reduce")
    x = b.conv(x, 192, 3, 1, 1, name="conv2/3x3")
    x = b.elementwise(x, "LRN", name="conv2/norm2")
    x = b.max_pool(x, 3, 2, ceil_mode=True, name="pool2/3x3_s2")
    for module, (c1, r3, c3, r5, c5, proj) in GOOGLENET_MODULES.items():
        if module in ("4a", "5a"):
            x = b.max_pool(x, 3, 2, ceil_mode=True, name=f"pool{module[0]}/3x3_s2")
        p = f"inception_{module}"
        branches = [
            b.conv(x, c1, 1, name=f"{p}/1x1"),
            b.conv(b.conv(x, r3, 1, name=f"{p}/3x3_reduce"), c3, 3, 1, 1, name=f"{p}/3x3"),
            b.conv(b.conv(x, r5, 1, name=f"{p}/5x5_reduce"), c5, 5, 1, 2, name=f"{p}/5x5"),
            b.conv(b.max_pool(x, 3, 1, 1, ceil_mode=True, name=f"{p}/pool"), proj, 1, name=f"{p}/pool_proj"),
        ]
        x = b.concat(*branches, name=f"{p}/output")
        if aux and module in ("4a", "4d"):
            _googlenet_aux(b, x, "loss1" if module == "4a" else "loss2")
    x = b.avg_pool(x, 7, 1, name="pool5/7x7_s1")
    b.dense(x, 1000, name="loss3/classifier", output=True)
    return b.build()


# Iandola et al. (2016), Table 1 and the v1.0 Caffe release: (squeeze 1×1, expand 1×1, expand 3×3).
SQUEEZENET_FIRES = {2: (16, 64, 64), 3: (16, 64, 64), 4: (32, 128, 128), 5: (32, 128, 128),
                    6: (48, 192, 192), 7: (48, 192, 192), 8: (64, 256, 256), 9: (64, 256, 256)}


@sized("SqueezeNet v1.0", 227)
def squeezenet(size: int = 227, *, conv10_pad: int = 1) -> Network:
    """SqueezeNet v1.0 at ``size``×``size``×3 (the Caffe release: 227, and conv10 with ``pad: 1``).

    conv1 96×7×7/2, max pools 3×3/2 (Caffe ceil mode) after conv1, fire4 and fire8, fire modules
    2–9 (squeeze 1×1, then expand 1×1 ‖ expand 3×3 concatenated), conv10 1×1 with 1000 filters,
    global average pool as the output. torchvision's port: ``size=224, conv10_pad=0``.
    """
    if not is_integer(conv10_pad) or conv10_pad < 0:
        raise ValueError(f"squeezenet: `conv10_pad`={conv10_pad!r} must be a non-negative int (1 in the Caffe "
                         "release, 0 in torchvision's port).")
    b = Builder("squeezenet-1.0" if (size, conv10_pad) == (227, 1) else f"squeezenet-1.0-{size}",
                (size, size, 3), title="SqueezeNet v1.0",
                source="Iandola et al. 2016, Table 1; Caffe release SqueezeNet_v1.0/deploy.prototxt")
    x = b.conv(b.input, 96, 7, 2, name="conv1")
    x = b.max_pool(x, 3, 2, ceil_mode=True, name="pool1")
    for fire, (s1, e1, e3) in SQUEEZENET_FIRES.items():
        p = f"fire{fire}"
        s = b.conv(x, s1, 1, name=f"{p}/squeeze1x1")
        x = b.concat(b.conv(s, e1, 1, name=f"{p}/expand1x1"), b.conv(s, e3, 3, 1, 1, name=f"{p}/expand3x3"),
                     name=f"{p}/concat")
        if fire in (4, 8):
            x = b.max_pool(x, 3, 2, ceil_mode=True, name=f"pool{fire}")
    x = b.conv(x, 1000, 1, 1, conv10_pad, name="conv10")
    b.global_pool(x, name="pool10", output=True)
    return b.build()
