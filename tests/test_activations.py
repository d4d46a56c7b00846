"""Every declared activation property is probed numerically; a wrong declaration fails."""

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import activations
from theory_lab.arch import Conv
from theory_lab.testing import declaration_disagreements, probe_activation

REGISTERED = ["sigmoid", "tanh", "relu", "elu", "gelu", "silu", "identity", "arctan",
              "softplus(1)", "softplus(2)", "softplus(0.5)", "leaky_relu(0.01)", "leaky_relu(0.1)"]


def test_registry_has_the_issue_list():
    assert {"sigmoid", "tanh", "softplus", "relu", "leaky_relu", "elu", "gelu", "silu", "identity",
            "arctan"} <= set(activations.names())


@functools.lru_cache(maxsize=None)
def _probe(name):
    return probe_activation(activations.get(name))


@pytest.mark.parametrize("name", REGISTERED)
def test_declarations_agree_with_probes(name):
    """Continuity, smoothness (analytic ⇒ finite, jump-free derivatives of order ≤ 3 via jax.grad),
    differentiability, monotonicity, σ' > 0 and Assumption 3.2 with its clause, each measured."""
    act = activations.get(name)
    assert declaration_disagreements(act, _probe(name)) == []


def test_theory_md_classification():
    """THEORY.md §2: which activations satisfy 3.2, by which clause, and which are analytic."""
    table = {name: (activations.get(name).assumption_3_2, activations.get(name).clause,
                    activations.get(name).analytic) for name in REGISTERED}
    assert table["sigmoid"] == (True, "a", True)
    for name in ("relu",):
        assert table[name] == (True, "b", False)
    for name in ("softplus(1)", "softplus(2)", "gelu", "silu"):
        assert table[name] == (True, "b", True)
    for name in ("tanh", "identity", "arctan"):
        assert table[name] == (False, None, True)
    for name in ("elu", "leaky_relu(0.01)"):
        assert table[name] == (False, None, False)


def test_witnesses_for_failing_assumption_3_2():
    """Numerical witnesses behind the 'not covered' list of THEORY.md §2."""
    far = jnp.array([-1e8, 1e8])
    lo, hi = np.asarray(jnp.tanh(far))
    assert lo == -1.0 and hi == 1.0 and lo * hi == -1.0  # finite limits, product ≠ 0
    lo, hi = np.asarray(jnp.arctan(far))
    assert np.isclose(lo * hi, -(np.pi / 2) ** 2)
    leaky = activations.get("leaky_relu(0.1)")
    assert float(leaky(-1e8)) == -1e7  # unbounded to the left: no ρ1 e^{ρ2 t} bound
    assert float(activations.get("identity")(-1e8)) == -1e8
    elu = activations.get("elu")
    assert float(elu(-1e3)) == -1.0  # tends to -1, so |σ| e^{-ρ2 t} → ∞ for every ρ2 > 0
    assert float(elu(1e8)) == 1e8  # and no finite limit on the right
    for name in ("tanh", "arctan", "elu", "identity", "leaky_relu(0.1)"):
        p = _probe(name)
        assert not p["clause_a"] and not p["clause_b"] and not p["assumption_3_2"], name


def test_covered_ones_decay_exponentially_on_the_left():
    t = -np.geomspace(1.0, 700.0, 50)
    for name in ("relu", "sigmoid", "softplus(1)", "gelu", "silu"):
        v = np.abs(np.asarray(activations.get(name)(jnp.asarray(t))))
        assert np.all(v * np.exp(-0.5 * t) <= 2.0), name  # |σ(t)| ≤ 2 e^{0.5 t}


def _misdeclared(name, **changes):
    return dataclasses.replace(activations.get(name), name=f"misdeclared {name}", **changes)


@pytest.mark.parametrize(
    "act, field",
    [
        (_misdeclared("tanh", assumption_3_2=True, clause="a"), "assumption_3_2"),
        (_misdeclared("leaky_relu(0.1)", assumption_3_2=True, clause="b"), "assumption_3_2"),
        (_misdeclared("relu", analytic=True), "analytic"),
        (_misdeclared("sigmoid", analytic=False), "analytic"),
        (_misdeclared("gelu", strictly_increasing=True), "strictly_increasing"),
        (_misdeclared("relu", positive_derivative=True), "positive_derivative"),
        (_misdeclared("relu", differentiable=True), "differentiable"),
        (_misdeclared("softplus(1)", clause="a"), "clause (a)"),
        (activations.Activation("step", lambda t: jnp.where(t >= 0, 1.0, 0.0), continuous=True, analytic=False,
                                strictly_increasing=False, positive_derivative=False, differentiable=False,
                                assumption_3_2=False, clause=None), "continuous"),
    ],
    ids=lambda x: x if isinstance(x, str) else x.name,
)
def test_a_wrong_declaration_is_caught(act, field):
    problems = declaration_disagreements(act)
    assert any(field in p for p in problems), problems


def test_get_parses_parameters_and_caches():
    a = activations.get("softplus(2)")
    assert a is activations.get("softplus(2)") and a.name == "softplus(2)"
    assert float(a(0.0)) == pytest.approx(np.log(2) / 2, rel=1e-15)
    assert float(activations.get("leaky_relu(0.1)")(-2.0)) == pytest.approx(-0.2, rel=1e-15)
    assert activations.get(a) is a
    assert a.properties()["clause"] == "b"


def test_get_errors():
    with pytest.raises(KeyError, match=r"Known activations: .*sigmoid.*'softplus\(2\)'"):
        activations.get("swish")
    with pytest.raises(ValueError, match=r"'softplus\(0\)' has invalid parameters .*`alpha`=0.0 must be positive"):
        activations.get("softplus(0)")
    with pytest.raises(ValueError, match=r"'leaky_relu\(-1\)' has invalid parameters .*`slope`=-1.0"):
        activations.get("leaky_relu(-1)")
    with pytest.raises(ValueError, match=r"'sigmoid\(2\)' has invalid parameters.*unparametrised names take none"):
        activations.get("sigmoid(2)")
    with pytest.raises(ValueError, match=r"'softplus\(x\)' has invalid parameters"):
        activations.get("softplus(x)")
    with pytest.raises(ValueError, match=r"Conv: `activation`='softplus\(0\)' is invalid"):
        Conv(2, (3,), activation="softplus(0)")


def test_register_adds_a_factory():
    act = activations.Activation("cube_test", lambda t: t**3, continuous=True, analytic=True,
                                 strictly_increasing=True, positive_derivative=False, differentiable=True,
                                 assumption_3_2=False, clause=None)
    activations.register("cube_test", lambda: act)
    try:
        assert activations.get("cube_test") is act
        assert declaration_disagreements(act) == []  # σ'(0) = 0: strictly increasing without σ' > 0
    finally:
        activations._BASE.pop("cube_test")
        activations._CACHE.pop("cube_test", None)
