"""Session 38: bad input to the zoo's published layouts and to ``layout.flatten`` is refused naming the argument.

Before: ``resnet(50, size=100)`` failed naming ``pool5``'s kernel, ``resnet(50.0)`` built a network named
``resnet-50.0``, ``vgg(["D"])`` raised ``unhashable type: 'list'``, ``squeezenet(conv10_pad=-1)`` blamed conv10's
``padding``; ``layout.flatten`` crashed with ``AttributeError`` on a list or ``None`` leaf and silently promoted
a float32 leaf to float64.
"""

import re

import jax
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


# ---------------------------------------------------------------- run_check, sample_params, krylov.start, band

from theory_lab import krylov, linalg, sampling  # noqa: E402
from theory_lab.arch import Architecture, Conv, Output  # noqa: E402
from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, run_check  # noqa: E402
from theory_lab.spectrum import dense_matvec  # noqa: E402
from theory_lab.tolerances import Tolerance  # noqa: E402

MET = [Hypothesis("h", True)]


@pytest.mark.parametrize("result, field", [
    (Result("holds", MET, 2.0, {}, "holds: x"), r"`verdict`='holds' is a str; expected a Verdict"),
    (Result(Verdict.HOLDS, MET, "2.0", {}, "holds: x"), r"`margin`='2.0' is a str; expected a real number"),
    (Result(Verdict.HOLDS, MET, True, {}, "holds: x"), r"`margin`=True is a bool; expected a real number"),
    (Result(Verdict.HOLDS, MET, 2.0, {}, None), r"`summary`=None is a NoneType; expected a str"),
    (Result(Verdict.HOLDS, MET, 2.0, [1], "holds: x"), r"`evidence`=\[1\] is a list; expected a dict"),
    (Result(Verdict.HOLDS, ["h"], 2.0, {}, "holds: x"), r"`hypotheses`=\['h'\] is a list; expected a list of Hyp"),
    (Result(Verdict.HOLDS, MET, 2.0, {}, "holds: x", broken=[1]), r"`broken`=\[1\] is a list; expected a tuple"),
])
def test_run_check_reports_a_field_of_the_wrong_type_as_an_error_naming_it(result, field):
    record = run_check(Check("t", "T", "t", lambda ctx: result), Context(0))
    assert record.result.verdict is Verdict.ERROR
    assert re.search(r"returned a result that cannot be reported: " + field, record.result.summary), \
        record.result.summary


@pytest.mark.parametrize("margin", [2.0, 2, np.float64(2.0), np.asarray(2.0), None])
def test_run_check_keeps_a_well_typed_result(margin):
    result = Result(Verdict.HOLDS, MET, margin, {"n": 1}, "holds: x")
    assert run_check(Check("t", "T", "t", lambda ctx: result), Context(0)).result is result


ARCH = Architecture((6, 6, 1), (Conv(4, (3, 3)), Output(2)))


@pytest.mark.parametrize("name", ["scale", "bias_scale", "bias_mean"])
@pytest.mark.parametrize("value", [True, "1", None])
def test_sample_params_refuses_a_scale_that_is_not_a_number(name, value):
    with pytest.raises(TypeError, match=rf"^`{name}`={re.escape(repr(value))} is a \w+; expected a real number"):
        sampling.sample_params(ARCH, 0, **{name: value})
    assert sampling.sample_params(ARCH, 0, **{name: np.float64(0.5)})["layer_1"]["W"].shape == (9, 4)


A6 = np.diag(np.arange(1.0, 7.0))


@pytest.mark.parametrize("v0, match", [
    (np.zeros(6), r"^`v0` has only zeros; a start vector must be finite and non-zero"),
    (np.array([1.0, np.nan, 1, 1, 1, 1]), r"^`v0` has non-finite entries"),
    (np.full(6, np.inf), r"^`v0` has non-finite entries"),
    (np.ones(5), r"^`v0` has shape \(5,\); expected \(6,\)"),
    (np.ones((6, 1)), r"^`v0` has shape \(6, 1\); expected \(6,\)"),
])
def test_krylov_start_refuses_a_start_vector_it_cannot_normalise(v0, match):
    with pytest.raises(ValueError, match=match):
        krylov.start(dense_matvec, 6, jax.random.key(0), (A6,), v0)


def test_krylov_start_refuses_text_and_takes_a_good_v0_unchanged_in_direction():
    with pytest.raises(TypeError, match=r"^`v0`='abc' is a str, not an array of numbers"):
        krylov.start(dense_matvec, 6, jax.random.key(0), (A6,), "abc")
    K = krylov.extend(krylov.start(dense_matvec, 6, jax.random.key(0), (A6,), [1, 1, 1, 1, 1, 1]), 6)
    np.testing.assert_allclose(np.sort(krylov.ritz(K)[0]), np.arange(1.0, 7.0), rtol=1e-12)


@pytest.mark.parametrize("band", [True, "2", None, 0.5, np.inf])
def test_inertia_and_tolerance_refuse_a_band_that_is_not_a_finite_factor(band):
    with pytest.raises(ValueError, match=rf"^`band`={re.escape(repr(band))} must be a finite factor >= 1"):
        linalg.inertia_report(np.array([1.0, 2.0]), band=band)
    with pytest.raises(ValueError, match=rf"^Tolerance 'x': band={re.escape(repr(band))} must be a finite factor"):
        Tolerance(1e-8, band, "x", "y")


def test_tolerance_refuses_a_bool_or_text_value_and_takes_numpy_and_jax_scalars():
    for value in (True, "1e-8"):
        with pytest.raises(ValueError, match=rf"^Tolerance 'x': value={re.escape(repr(value))} must be finite"):
            Tolerance(value, 10.0, "x", "y")
    assert Tolerance(np.float64(1e-8), np.float64(10.0), "x", "y").band == 10.0
    assert float(Tolerance(jax.numpy.float64(1e-8), 2, "x", "y").value) == 1e-8


def test_digits_noise_takes_a_numpy_or_jax_scalar_and_refuses_a_bool():
    from theory_lab import data

    want = data.digits(20, noise=0.1, seed=3).X
    for noise in (np.float64(0.1), jax.numpy.float64(0.1), np.asarray(0.1)):  # refused before, "finite non-negative"
        np.testing.assert_array_equal(data.digits(20, noise=noise, seed=3).X, want)
    for noise in (True, "0.1", np.asarray([0.1])):
        with pytest.raises(ValueError, match=r"^`noise`=.* must be a finite non-negative standard deviation"):
            data.digits(20, noise=noise)
