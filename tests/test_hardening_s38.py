"""Session 38: bad input to the zoo's published layouts and to ``layout.flatten`` is refused naming the argument.

Before: ``resnet(50, size=100)`` failed naming ``pool5``'s kernel, ``resnet(50.0)`` built a network named
``resnet-50.0``, ``vgg(["D"])`` raised ``unhashable type: 'list'``, ``squeezenet(conv10_pad=-1)`` blamed conv10's
``padding``; ``layout.flatten`` crashed with ``AttributeError`` on a list or ``None`` leaf and silently promoted
a float32 leaf to float64.
"""

import re

import numpy as np
import pytest

from theory_lab import layout
from theory_lab.zoo.classic import googlenet, resnet, squeezenet, vgg
from theory_lab.zoo.graph import Builder, sized
from theory_lab.zoo.ops import ShapeError

BUILDS = [(lambda size: vgg("D", size), "VGG-D", 224), (lambda size: resnet(50, size), "ResNet-50", 224),
          (lambda size: googlenet(size), "GoogLeNet", 224), (lambda size: squeezenet(size), "SqueezeNet v1.0", 227)]


@pytest.mark.parametrize("build, title, published", BUILDS)
@pytest.mark.parametrize("size", [0, -3, True, 2.5, 224.0, "224", None])
def test_a_size_that_is_not_a_positive_int_is_refused_naming_size(build, title, published, size):
    with pytest.raises(ValueError, match=rf"^{title}: `size`={re.escape(repr(size))} must be a positive int .*published one is "
                                         rf"{published}"):
        build(size)


@pytest.mark.parametrize("build, title, published", BUILDS)
def test_too_small_names_size_the_failing_node_and_the_published_size(build, title, published):
    with pytest.raises(ValueError, match=rf"^{title}: `size`=20 is too small for this layout: .*pool.* Give a "
                                         rf"larger `size` \({published} is the published input\)\.$") as err:
        build(20)
    assert isinstance(err.value.__cause__, ShapeError)
    assert "aux=False" not in str(err.value)  # GoogLeNet's pool5 fails too where its auxiliary heads do


def test_the_published_sizes_and_near_minimal_ones_still_build():
    assert resnet(50).shape("res5c") == (7, 7, 2048) and resnet(18, 193).shape("pool5")[:2] == (1, 1)
    assert vgg("E", 32).shape("pool5")[:2] == (1, 1) and squeezenet(224, conv10_pad=0).shape("conv10")[:2] == (13, 13)
    assert googlenet().shape("inception_3a/output") == (28, 28, 256)
    with pytest.raises(ValueError, match=r"^ResNet-18: `size`=192 is too small"):
        resnet(18, 192)
    with pytest.raises(ValueError, match=r"^VGG-E: `size`=31 is too small"):
        vgg("E", 31)


@pytest.mark.parametrize("config", [["D"], "d", 4, None])
def test_vgg_refuses_an_unknown_config_naming_it(config):
    with pytest.raises(ValueError, match=rf"^vgg: `config`={re.escape(repr(config))} is unknown"):
        vgg(config)


@pytest.mark.parametrize("depth", [50.0, True, 51, "50"])
def test_resnet_refuses_a_depth_that_is_not_a_published_int(depth):
    with pytest.raises(ValueError, match=rf"^resnet: `depth`={re.escape(repr(depth))} is not a published ResNet"):
        resnet(depth)


@pytest.mark.parametrize("pad", [-1, 1.5, True, "1"])
def test_squeezenet_refuses_a_bad_conv10_pad_naming_it(pad):
    with pytest.raises(ValueError, match=rf"^squeezenet: `conv10_pad`={re.escape(repr(pad))} must be a non-negative int"):
        squeezenet(conv10_pad=pad)


def test_sized_passes_other_errors_unchanged_and_offers_a_heads_way_out():
    @sized("Toy", 8, heads={"head": "drop=True (the head's pool needs a 4×4 grid)"})
    def toy(size: int = 8, *, other: int = 1):
        if other < 1:
            raise ValueError("toy: `other` must be positive.")
        b = Builder("toy", (size, size, 1))
        x = b.max_pool(b.conv(b.input, 2, 3, name="body"), 4, name="head/pool")
        b.dense(x, 3, name="fc", output=True)
        return b.build()

    assert toy().shape("head/pool") == (1, 1, 2)
    with pytest.raises(ValueError, match=r"^toy: `other` must be positive\.$"):
        toy(other=0)
    with pytest.raises(ValueError, match=r"^Toy: `size`=5 is too small .*head/pool.* or drop=True \(the head"):
        toy(5)
    with pytest.raises(ValueError, match=r"^Toy: `size`=2 is too small .*'body'") as err:
        toy(2)
    assert "drop=True" not in str(err.value)


W, B = np.ones((3, 2)), np.zeros(3)


@pytest.mark.parametrize("b, kind", [([0.0, 0.0, 0.0], "list"), ("abc", "str"), (None, "NoneType")])
def test_flatten_refuses_a_leaf_that_is_not_an_array_naming_it(b, kind):
    with pytest.raises(TypeError, match=rf"^`params` layer_1/b is a {kind}, not an array"):
        layout.flatten({"layer_1": {"W": W, "b": b}})


@pytest.mark.parametrize("entry", [[W, B], {}, W])
def test_flatten_refuses_a_layer_entry_that_is_not_a_dict(entry):
    with pytest.raises(TypeError, match=r"^`params` entry 'layer_1' is a \w+; expected a non-empty dict"):
        layout.flatten({"layer_1": entry})


def test_flatten_refuses_one_float32_leaf_instead_of_promoting_it():
    with pytest.raises(TypeError, match=r"^`params\['layer_1'\]\['W'\]` has dtype float32"):
        layout.flatten({"layer_1": {"W": W.astype(np.float32), "b": B}})
    theta, unravel = layout.flatten({"layer_1": {"W": W, "b": B}})
    assert theta.dtype == np.float64 and theta.shape == (9,)
    np.testing.assert_array_equal(unravel(theta)["layer_1"]["W"], W)
