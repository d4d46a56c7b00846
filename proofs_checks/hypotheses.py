"""Hypotheses of the paper's results, each tested on an actual instance.

Every function returns :class:`~theory_lab.checking.Hypothesis` objects with the
evidence in ``detail``, so a check can list exactly what it assumed and whether
the instance met it.
"""

from __future__ import annotations

import numpy as np

from theory_lab import activations as _act
from theory_lab import data as _data
from theory_lab.arch import Architecture
from theory_lab.checking import Hypothesis

__all__ = ["relation", "assumption_3_1", "assumption_2_4", "wide_layer", "narrow_layer", "hidden_layer",
           "layers_conv_or_fc", "activations_3_2", "activations_analytic", "activation_3_2", "per_neuron_bias",
           "last_hidden_layer", "scalar_output", "finite_float64",
           "theorem_3_5", "theorem_3_4", "float64_draws"]


def relation(value: float, bound: float) -> str:
    """``"≤"`` when ``value <= bound``, else ``">"``: a hypothesis' detail states the comparison it found.

    Example:
        >>> relation(1e-12, 1e-9), relation(8.5, 2.8e-9)
        ('≤', '>')
    """
    return "≤" if value <= bound else ">"


def assumption_3_1(arch: Architecture, X) -> tuple[Hypothesis, dict]:
    """Assumption 3.1 on ``X``; not met, with the reason, when ``X`` is not finite float64 data (3.1 compares
    patch values, and :func:`finite_float64` reports that hypothesis next to it instead of an exception)."""
    data = finite_float64(X)
    if not data.met:
        why = f"not evaluated: X is not finite float64 ({data.detail})"
        return Hypothesis("Assumption 3.1 (patches of different samples differ)", data.met, why), \
            {"holds": False, "evaluated": False, "reason": why}
    report = _data.check_distinct_patches(arch, X)
    return Hypothesis("Assumption 3.1 (patches of different samples differ)", report.holds, str(report)), \
        report.to_dict()


def assumption_2_4(arch: Architecture, upto: int) -> Hypothesis:
    """Assumption 2.4 for layers ``1 … upto``; the detail: why each failing layer fails, else every layer's route."""
    report = arch.assumption_2_4(upto)  # the library's predicate, shared with theory_lab.strategies
    return Hypothesis(f"Assumption 2.4 (layers 1..{upto}: some W_k gives U_k full rank)", report.holds,
                      "; ".join(report.reasons or [name for name, _ in report.parts]) or "no conv layer")


def wide_layer(arch: Architecture, k: int, N: int) -> Hypothesis:
    return Hypothesis(f"n_{k} >= N", arch.widths[k] >= N, f"n_{k} = {arch.widths[k]}, N = {N}")


def narrow_layer(arch: Architecture, k: int, N: int) -> Hypothesis:
    return Hypothesis(f"n_{k} < N", arch.widths[k] < N, f"n_{k} = {arch.widths[k]}, N = {N}")


def hidden_layer(arch: Architecture, k: int) -> Hypothesis:
    """``k`` is a hidden layer (``1 ≤ k ≤ L−1``): Theorems 3.4/3.5 are about ``σ_1 … σ_k``, and the output
    layer has none (it is affine, σ_L = identity, which violates Assumption 3.2)."""
    return Hypothesis(f"layer {k} is hidden (1 ≤ k ≤ L−1)", 1 <= k <= arch.L - 1, f"k = {k}, L = {arch.L}")


def last_hidden_layer(arch: Architecture, k: int) -> Hypothesis:
    """``k = L−1``: Corollary 3.6 fits through the features the output layer reads, ``F_{L−1}``."""
    return Hypothesis(f"layer {k} is the last hidden layer (k = L−1)", k == arch.L - 1, f"k = {k}, L = {arch.L}")


def scalar_output(arch: Architecture) -> Hypothesis:
    m = arch.widths[-1]
    return Hypothesis("scalar output (m = 1)", m == 1, f"m = n_L = {m}")


def finite_float64(X, name: str = "X") -> Hypothesis:
    """The data are float64 and finite (what every rank decision here assumes)."""
    X = np.asarray(X)
    bad = int(np.size(X) - np.isfinite(X).sum()) if np.issubdtype(X.dtype, np.number) else np.size(X)
    return Hypothesis(f"{name} is float64 and finite", X.dtype == np.float64 and bad == 0,
                      f"dtype {X.dtype}, shape {X.shape}, {bad} non-finite entries")


def float64_draws(params_list, name: str = "parameters") -> Hypothesis:
    """Random parameters are float64 draws of a law with a density: every array float64 and not all of
    its entries on the float32 grid (a draw rounded through float32 comes from a discrete law)."""
    import jax

    leaves = [np.asarray(a) for p in params_list for a in jax.tree_util.tree_leaves(p)]
    dtypes = sorted({str(a.dtype) for a in leaves})
    on_grid = sum(1 for a in leaves if a.dtype == np.float64 and a.size
                  and np.array_equal(a.astype(np.float32).astype(np.float64), a))
    return Hypothesis(f"{name} drawn in float64 from a density (not on the float32 grid)",
                      dtypes == ["float64"] and on_grid == 0,
                      f"dtypes {dtypes}; {on_grid} of {len(leaves)} arrays exactly float32-representable")


def per_neuron_bias(arch: Architecture, k: int) -> Hypothesis:
    """The paper's bias ``b_l ∈ R^{n_l}`` in every conv layer ``l ≤ k`` (tied biases are measure zero)."""
    tied = [f"layer {i.k}: bias={getattr(i.spec, 'bias', 'neuron')}" for i in arch.info[:k]
            if i.kind in ("conv", "patch") and getattr(i.spec, "bias", "neuron") != "neuron"]
    return Hypothesis(f"layers 1..{k}: one bias per neuron (b_l ∈ R^n_l)", not tied,
                      "; ".join(tied) or "per-neuron biases")


def layers_conv_or_fc(arch: Architecture, k: int, allow_pool_between: bool) -> Hypothesis:
    kinds = [i.kind for i in arch.info[:k]]
    if allow_pool_between:
        ok = kinds[0] != "maxpool" and kinds[-1] != "maxpool"
        text = f"layers 1 and {k} conv or FC (pooling allowed between)"
    else:
        ok = "maxpool" not in kinds
        text = f"layers 1..{k} conv or FC (no max-pooling)"
    return Hypothesis(text, ok, "kinds: " + ", ".join(kinds))


def _acts(arch: Architecture, k: int):
    return [(i.k, _act.get(i.activation)) for i in arch.info[:k] if i.activation is not None]


def activations_3_2(arch: Architecture, k: int) -> Hypothesis:
    acts = _acts(arch, k)
    bad = [f"layer {j}: {a.name}" for j, a in acts if not a.assumption_3_2]
    return Hypothesis(f"σ_1..σ_{k} satisfy Assumption 3.2", not bad,
                      "violated by " + ", ".join(bad) if bad else ", ".join(sorted({a.name for _, a in acts})))


def activations_analytic(arch: Architecture, k: int) -> Hypothesis:
    acts = _acts(arch, k)
    bad = [f"layer {j}: {a.name}" for j, a in acts if not a.analytic]
    return Hypothesis(f"σ_1..σ_{k} real analytic", not bad,
                      "not analytic: " + ", ".join(bad) if bad else "all analytic")


def activation_3_2(name: str) -> Hypothesis:
    """Assumption 3.2 for one activation, as the registry declares it."""
    a = _act.get(name)
    return Hypothesis(f"{a.name} satisfies Assumption 3.2", a.assumption_3_2,
                      f"registry: clause {a.clause}" if a.assumption_3_2 else f"registry: {a.note or 'not covered'}")


def theorem_3_5(arch: Architecture, X, k: int) -> tuple[list[Hypothesis], dict]:
    """Hypotheses of Theorem 3.5 for layer ``k`` on data ``X``."""
    arch.layer(k)  # a ValueError naming `k` unless 1 ≤ k ≤ L
    h31, report = assumption_3_1(arch, X)
    return [finite_float64(X), h31, hidden_layer(arch, k), layers_conv_or_fc(arch, k, False),
            wide_layer(arch, k, X.shape[0]), activations_3_2(arch, k), activations_analytic(arch, k),
            per_neuron_bias(arch, k), assumption_2_4(arch, k)], report


def theorem_3_4(arch: Architecture, X, k: int) -> tuple[list[Hypothesis], dict]:
    """Hypotheses of Theorem 3.4 for layer ``k`` on data ``X`` (ReLU allowed, pooling between)."""
    arch.layer(k)  # a ValueError naming `k` unless 1 ≤ k ≤ L
    h31, report = assumption_3_1(arch, X)
    return [finite_float64(X), h31, hidden_layer(arch, k), layers_conv_or_fc(arch, k, True),
            wide_layer(arch, k, X.shape[0]), activations_3_2(arch, k), per_neuron_bias(arch, k),
            assumption_2_4(arch, k)], report
