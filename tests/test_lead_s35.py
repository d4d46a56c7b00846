"""Session 35 (lead): a size the Inception/Xception layouts cannot take is refused naming ``size``; ``--noise``
refuses a bool.

Before: ``inception_v3(50)`` failed deep in the graph naming the auxiliary pool's kernel, ``inception_v3(True)``
blamed ``input_shape`` after reading True as 1, and ``options.non_negative(True, …)`` returned 1.0.
"""

import pytest
import typer

from theory_lab.commands import options
from theory_lab.zoo.inception import inception_v3, inception_v4, xception


@pytest.mark.parametrize("build, title", [(inception_v3, "Inception V3"), (inception_v4, "Inception V4"),
                                          (xception, "Xception")])
@pytest.mark.parametrize("size", [0, -3, True, 2.5, 299.0, "299"])
def test_a_size_that_is_not_a_positive_int_is_refused_naming_size(build, title, size):
    with pytest.raises(ValueError, match=rf"^{title}: `size`={size!r} must be a positive int"):
        build(size)


@pytest.mark.parametrize("build, size", [(inception_v3, 50), (inception_v3, 74), (inception_v4, 50)])
def test_too_small_for_the_auxiliary_head_names_size_and_the_way_out(build, size):
    with pytest.raises(ValueError, match=rf"`size`={size} is too small for this layout: .*AuxLogits.*or aux=False"):
        build(size)


def test_too_small_without_the_auxiliary_head_does_not_suggest_dropping_it():
    with pytest.raises(ValueError, match=r"`size`=50 is too small for this layout: conv 'Mixed_7a") as err:
        inception_v3(50, aux=False)
    assert "aux=False" not in str(err.value)
    with pytest.raises(ValueError, match=r"^Xception: `size`=1 is too small for this layout: conv 'block1_conv1'"):
        xception(1)


def test_sizes_the_layouts_take_still_build_with_the_published_shapes():
    assert inception_v3().shape("Mixed_7c") == (8, 8, 2048)
    assert inception_v4(aux=False).shape("input")[:2] == (299, 299)
    assert xception(20).shape("block14_sepconv2/pointwise")[-1] == 2048  # no minimum is documented for Xception
    assert inception_v3.__doc__.startswith("Inception V3")  # the wrapper keeps the documented function


@pytest.mark.parametrize("value", [True, False])
def test_noise_option_refuses_a_bool(value):
    with pytest.raises(typer.BadParameter, match=rf"{value!r} is not a finite non-negative number"):
        options.non_negative(value, "--noise")
    assert options.non_negative(0, "--noise") == 0.0 and options.non_negative(1e-6, "--noise") == 1e-6
