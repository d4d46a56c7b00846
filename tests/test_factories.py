"""Model factories: loaded from a file or a module, and every bad factory refused with the fix."""

import textwrap

import pytest

from theory_lab import factories

HEADER = """
import numpy as np
import jax.numpy as jnp

def apply(p, X):
    return jnp.tanh(X @ p["w"]) @ p["v"]

def params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((3, 4)).astype(dtype), "v": rng.standard_normal((4, 2)).astype(dtype)}

X = np.random.default_rng(1).standard_normal((6, 3))
"""

FACTORIES = {
    "good": "return apply, params(), (X, np.array([0, 1, 1, 0, 1, 0]))",
    "batches": "return apply, params(), [(X[:4], np.ones((4, 2))), (X[4:], np.ones((2, 2)))]",
    "float32": "return apply, params(np.float32), (X, np.zeros(6, int))",
    "mismatch": "return apply, params(), (X, np.zeros(5, int))",
    "not_per_sample": "return apply, params(), (X, np.zeros((6, 2))), lambda F, Y: jnp.sum((F - Y) ** 2)",
    "nan": "return apply, params(), (X * np.nan, np.zeros(6, int))",
    "overflow": "return (lambda p, X: jnp.exp(1e3 * apply(p, X))), params(), (X, np.zeros(6, int))",
    "wrong_shape": "return apply, params(), (X[:, :2], np.zeros(6, int))",
    "not_a_tuple": "return apply",
}


@pytest.fixture(scope="module")
def module_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("factories") / "my_models.py"
    body = "".join(f"\ndef {name}():\n    {line}\n" for name, line in FACTORIES.items())
    path.write_text(textwrap.dedent(HEADER) + body)
    return path


def test_a_factory_gives_objective_point_and_batches(module_file):
    obj, theta, data = factories.load(f"{module_file}:good", batch_size=4)
    assert obj.loss.name == "softmax-cross-entropy" and obj.P == 20 and theta.shape == (20,)
    assert data.N == 6 and data.num_batches == 2 and data.weight.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    obj, _, data = factories.load(f"{module_file}:batches")  # an iterable of batches, float targets
    assert obj.loss.name == "squared" and data.batch_size == 4 and data.N == 6


@pytest.mark.parametrize("name, message", [
    ("float32", r"`--model`=.*:float32': `params\['v'\]` has dtype float32.*param_dtype=jnp.float64"),
    ("mismatch", r"returned X of shape \(6, 3\) and Y of shape \(5,\); expected the same number of samples"),
    ("not_per_sample", r"`loss` returned shape \(\) for 6 samples; expected per-sample losses \(6,\)"),
    ("nan", r"`X` contains NaN or Inf \(18 entries\); clean the data first"),  # refused before the loss (801f2b6)
    ("overflow", r"the loss at the returned parameters is (nan|inf).*not finite"),
    ("wrong_shape", r"`X` of shape \(6, 2\) does not fit the network"),
    ("not_a_tuple", r"returned a function; expected a tuple \(model, params, data\)"),
    ("missing", r"has no callable 'missing'"),
])
def test_bad_factories_are_clear_errors(module_file, name, message):
    with pytest.raises(ValueError, match=message):
        factories.load(f"{module_file}:{name}")


def test_bad_specs_name_the_option():
    with pytest.raises(ValueError, match="`--model`='resnet' is neither a preset"):
        factories.resolve("resnet")
    with pytest.raises(ValueError, match="cannot import 'no_such_pkg.models'"):
        factories.resolve("no_such_pkg.models:factory")
    with pytest.raises(ValueError, match="no file 'nowhere.py'"):
        factories.resolve("nowhere.py:factory")
    assert factories.resolve("digits-resnet").__name__ == "digits_resnet"
