"""Activation registry with the properties the paper's hypotheses ask about (THEORY.md §2).

Each entry declares: continuous, real analytic, strictly increasing, ``σ' > 0``
everywhere, differentiable, and Assumption 3.2 with its clause ((a) finite limits
with ``μ₊·μ₋ = 0``, (b) exponential decay on the left and linear growth on the
right). The test-suite probes every declaration numerically.

Parametrised activations are named with their parameter: ``"softplus(2)"``,
``"leaky_relu(0.1)"``.

Example:
    >>> from theory_lab import activations
    >>> act = activations.get("softplus(2)")
    >>> act.assumption_3_2, act.clause, act.analytic
    (True, 'b', True)
    >>> float(act(0.0))  # ln(2)/2
    0.34657359027997264
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["Activation", "get", "names", "register"]


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable
    continuous: bool
    analytic: bool
    strictly_increasing: bool
    positive_derivative: bool
    differentiable: bool
    assumption_3_2: bool
    clause: str | None  # "a", "b" or None
    note: str = ""

    def __call__(self, t):
        return self.fn(t)

    def properties(self) -> dict:
        return {k: getattr(self, k) for k in (
            "continuous", "analytic", "strictly_increasing", "positive_derivative",
            "differentiable", "assumption_3_2", "clause")}


def _gelu(t):
    return jax.nn.gelu(t, approximate=False)


_BASE: dict[str, Callable[..., Activation]] = {}


def register(name: str, factory: Callable[..., Activation]) -> None:
    """Add an activation factory; ``factory(*params)`` returns an :class:`Activation`."""
    _BASE[name] = factory


def _simple(name, fn, **props):
    register(name, lambda: Activation(name, fn, **props))


_simple("sigmoid", jax.nn.sigmoid, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=True, clause="a",
        note="limits 0 and 1 (Lemma 3.3)")
_simple("tanh", jnp.tanh, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="limits -1 and 1: μ₊·μ₋ ≠ 0 and not bounded by ρ e^{ρt} on the left")
_simple("relu", jax.nn.relu, continuous=True, analytic=False, strictly_increasing=False,
        positive_derivative=False, differentiable=False, assumption_3_2=True, clause="b",
        note="zero on the left (Lemma 3.3)")
_simple("elu", jax.nn.elu, continuous=True, analytic=False, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="tends to -1 at -∞ and is unbounded at +∞")
_simple("gelu", _gelu, continuous=True, analytic=True, strictly_increasing=False,
        positive_derivative=False, differentiable=True, assumption_3_2=True, clause="b",
        note="decays to 0 exponentially on the left; not monotone")
_simple("silu", jax.nn.silu, continuous=True, analytic=True, strictly_increasing=False,
        positive_derivative=False, differentiable=True, assumption_3_2=True, clause="b",
        note="decays to 0 exponentially on the left; not monotone")
_simple("identity", lambda t: t, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="unbounded to the left; features stay in a (d+1)-dim affine image")
_simple("arctan", jnp.arctan, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="limits ±π/2, product ≠ 0")


def _softplus(alpha: float = 1.0) -> Activation:
    if not alpha > 0:
        raise ValueError(f"softplus: `alpha`={alpha} must be positive.")
    return Activation(f"softplus({alpha:g})", lambda t: jnp.logaddexp(0.0, alpha * t) / alpha,
                      continuous=True, analytic=True, strictly_increasing=True, positive_derivative=True,
                      differentiable=True, assumption_3_2=True, clause="b",
                      note="σ_α(t) = ln(1+e^{αt})/α (Lemma 3.3)")


def _leaky(slope: float = 0.01) -> Activation:
    if not slope > 0:
        raise ValueError(f"leaky_relu: `slope`={slope} must be positive (slope 0 is relu).")
    return Activation(f"leaky_relu({slope:g})", lambda t: jnp.where(t >= 0, t, slope * t),
                      continuous=True, analytic=False, strictly_increasing=True, positive_derivative=True,
                      differentiable=False, assumption_3_2=False, clause=None,
                      note="unbounded to the left")


register("softplus", _softplus)
register("leaky_relu", _leaky)

_PATTERN = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^)]*)\s*\))?\s*$")
_CACHE: dict[str, Activation] = {}


def get(spec: str | Activation) -> Activation:
    """Return the activation named ``spec`` (e.g. ``"sigmoid"``, ``"softplus(2)"``)."""
    if isinstance(spec, Activation):
        return spec
    if spec in _CACHE:
        return _CACHE[spec]
    match = _PATTERN.match(str(spec))
    if not match or match.group(1) not in _BASE:
        raise KeyError(f"Known activations: {', '.join(names())}; parametrised as 'softplus(2)', "
                       "'leaky_relu(0.1)'.")
    try:
        args = [float(a) for a in match.group(2).split(",")] if match.group(2) else []
        act = _BASE[match.group(1)](*args)
    except (TypeError, ValueError) as err:
        raise ValueError(f"activation {spec!r} has invalid parameters ({str(err).rstrip('.')}). Parameters are "
                         "numbers, e.g. 'softplus(2)', "
                         "'leaky_relu(0.1)'; unparametrised names take none, e.g. 'sigmoid'.") from None
    _CACHE[spec] = act
    return act


def names() -> list[str]:
    return sorted(_BASE)
