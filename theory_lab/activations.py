"""Activation registry with the properties the paper's hypotheses ask about (THEORY.md §2).

Each entry declares: continuous, real analytic, strictly increasing, ``σ' > 0``
everywhere, differentiable, and Assumption 3.2 with its clause ((a) finite limits
with ``μ₊·μ₋ = 0``, (b) exponential decay on the left and linear growth on the
right), and ``lipschitz``, ``sup |σ'|`` over the real line (the forward-error bound of
:mod:`theory_lab.forward_error` uses it; a registered σ without it gets a sampled value). The
test-suite probes every declaration numerically.

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

__all__ = ["Activation", "get", "known", "names", "register"]


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
    lipschitz: float | None = None  # sup |σ'| over the real line (None: not declared; forward_error samples it)

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
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+", name):  # get() reads names of this form only
        raise ValueError(f"`name`={name!r} must be lower-case letters and underscores, e.g. 'my_tanh'.")
    if not callable(factory):
        raise TypeError(f"`factory`={factory!r} is not callable; pass a function returning an Activation.")
    _BASE[name] = factory


def _simple(name, fn, **props):
    register(name, lambda: Activation(name, fn, **props))


_simple("sigmoid", jax.nn.sigmoid, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=True, clause="a",
        note="limits 0 and 1 (Lemma 3.3)", lipschitz=0.25)
_simple("tanh", jnp.tanh, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="limits -1 and 1: μ₊·μ₋ ≠ 0 and not bounded by ρ e^{ρt} on the left", lipschitz=1.0)
_simple("relu", jax.nn.relu, continuous=True, analytic=False, strictly_increasing=False,
        positive_derivative=False, differentiable=False, assumption_3_2=True, clause="b",
        note="zero on the left (Lemma 3.3)", lipschitz=1.0)
_simple("elu", jax.nn.elu, continuous=True, analytic=False, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="tends to -1 at -∞ and is unbounded at +∞", lipschitz=1.0)
_simple("gelu", _gelu, continuous=True, analytic=True, strictly_increasing=False,
        positive_derivative=False, differentiable=True, assumption_3_2=True, clause="b",
        note="decays to 0 exponentially on the left; not monotone", lipschitz=1.1290)
_simple("silu", jax.nn.silu, continuous=True, analytic=True, strictly_increasing=False,
        positive_derivative=False, differentiable=True, assumption_3_2=True, clause="b",
        note="decays to 0 exponentially on the left; not monotone", lipschitz=1.0999)
_simple("identity", lambda t: t, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="unbounded to the left; features stay in a (d+1)-dim affine image", lipschitz=1.0)
_simple("arctan", jnp.arctan, continuous=True, analytic=True, strictly_increasing=True,
        positive_derivative=True, differentiable=True, assumption_3_2=False, clause=None,
        note="limits ±π/2, product ≠ 0", lipschitz=1.0)


def _param(value: float) -> str:
    """``value`` as written in a name: short (``2``, ``0.5``) when that reads back as the same float, else repr,
    so that ``get(act.name)`` is ``act``'s function (``softplus(1.0000001)`` is not ``softplus(1)``)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


_TINY = 2.2250738585072014e-308  # float64's smallest normal number


def _softplus(alpha: float = 1.0) -> Activation:
    # alpha = inf is no function (inf/inf = nan); a subnormal alpha overflows ln(2)/alpha to inf everywhere
    if not (_TINY <= alpha < float("inf")):
        raise ValueError(f"softplus: `alpha`={alpha} must be positive and finite (at least float64's smallest "
                         f"normal number {_TINY:.3e}).")
    return Activation(f"softplus({_param(alpha)})", lambda t: jnp.logaddexp(0.0, alpha * t) / alpha,
                      continuous=True, analytic=True, strictly_increasing=True, positive_derivative=True,
                      differentiable=True, assumption_3_2=True, clause="b",
                      note="σ_α(t) = ln(1+e^{αt})/α (Lemma 3.3)", lipschitz=1.0)


def _leaky(slope: float = 0.01) -> Activation:
    if not 0 < slope < float("inf"):
        raise ValueError(f"leaky_relu: `slope`={slope} must be positive (slope 0 is relu) and finite.")
    identity = slope == 1.0  # max(t, t) = t: analytic and differentiable, still unbounded to the left
    return Activation(f"leaky_relu({_param(slope)})", lambda t: jnp.where(t >= 0, t, slope * t),
                      continuous=True, analytic=identity, strictly_increasing=True, positive_derivative=True,
                      differentiable=identity, assumption_3_2=False, clause=None,
                      note="the identity (slope 1): unbounded to the left" if identity else "unbounded to the left",
                      lipschitz=max(1.0, slope))


register("softplus", _softplus)
register("leaky_relu", _leaky)

_PATTERN = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^)]*)\s*\))?\s*$")
_CACHE: dict[str, Activation] = {}


def known() -> str:
    """The sentence listing the activation names :func:`get` accepts (for error messages)."""
    return f"Known activations: {', '.join(names())}; parametrised as 'softplus(2)', 'leaky_relu(0.1)'."


def get(spec: str | Activation) -> Activation:
    """Return the activation named ``spec`` (e.g. ``"sigmoid"``, ``"softplus(2)"``)."""
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`activation`={spec!r} is a {type(spec).__name__}; expected a name such as 'sigmoid' or "
                        f"'softplus(2)' (one of {', '.join(names())}), or an Activation.")
    if spec in _CACHE:
        return _CACHE[spec]
    match = _PATTERN.match(spec)
    if not match or match.group(1) not in _BASE:
        raise KeyError(f"`activation`={spec!r} is unknown. {known()}")
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
