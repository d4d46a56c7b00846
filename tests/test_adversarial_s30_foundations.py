"""Session 30, adversarial review of the foundations: Assumption 3.1's predicate, the layer
definitions and shape inference, the activation probes (Assumption 3.2), widths.

Each instance has its truth known by construction or from an independent brute-force
reference written here (explicit loops, exact rational arithmetic).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from theory_lab import data
from theory_lab.arch import Architecture, Conv, Output


def _brute_min_distance(arch, X) -> float:
    """Smallest Euclidean distance between layer-1 patches of different samples, by explicit loops in exact
    rational arithmetic (square root taken last, in float64 of a scaled Fraction)."""
    N = X.shape[0]
    flat = X.reshape(N, -1)
    idx = arch.layer(1).patches
    patches = [[tuple(Fraction(float(flat[i, j])) if j >= 0 else Fraction(0) for j in row) for row in idx]
               for i in range(N)]
    best = None
    for i in range(N):
        for j in range(i + 1, N):
            for a in patches[i]:
                for b in patches[j]:
                    d2 = sum((u - v) ** 2 for u, v in zip(a, b))
                    best = d2 if best is None or d2 < best else best
    if best == 0:
        return 0.0
    # sqrt of a Fraction far outside float64's range: split off a power of 4
    e = (best.numerator.bit_length() - best.denominator.bit_length()) // 2
    return math.ldexp(math.sqrt(float(best / Fraction(4) ** e if e >= 0 else best * Fraction(4) ** -e)), e)


# --------------------------------------------------------------------------- Assumption 3.1 at extreme scales

_A31_ARCH = Architecture((6, 1), (Conv(2, (3,)), Output(1)))
_A31_X = np.random.default_rng(0).standard_normal((5, 6, 1))


@pytest.mark.parametrize("scale", [1.0, 2.0 ** -600, 1e-170, 1e-300, 2.0 ** 540, 1e160, 1e300])
def test_assumption_3_1_distance_at_extreme_scales(scale):
    """Distinct patches at 1e-170 read "holds, smallest distance 0" (the squares underflowed), which the
    assumption-3.1 check turned into a conclusive *fails*; at 1e160 the squares overflowed and the
    nearest-neighbour loop crashed with an IndexError. The distance must match the exact one at every scale."""
    X = _A31_X * scale
    rep = data.check_distinct_patches(_A31_ARCH, X)
    want = _brute_min_distance(_A31_ARCH, X)
    assert rep.holds and rep.shared_patch_values == 0
    assert want > 0
    assert rep.min_distance == pytest.approx(want, rel=1e-12, abs=0)


def test_assumption_3_1_distance_one_ulp_apart_among_huge_values():
    """Two patches of different samples one ulp apart, next to entries of 1e300: the distance is one ulp
    of the differing entry (its square underflows even after scaling by the largest entry)."""
    X = np.random.default_rng(1).standard_normal((4, 6, 1))
    X[0, 0, 0] = 1e300
    X[2, 3:6, 0] = X[1, 3:6, 0]
    X[2, 5, 0] = np.nextafter(X[1, 5, 0], np.inf)
    rep = data.check_distinct_patches(_A31_ARCH, X)
    want = _brute_min_distance(_A31_ARCH, X)
    assert rep.holds and want == float(np.spacing(X[1, 5, 0]))
    assert rep.min_distance == pytest.approx(want, rel=1e-12, abs=0)


def test_assumption_3_1_check_at_tiny_scale_is_not_a_failure():
    """The assumption-3.1 observation on data scaled by 1e-170 (3.1 met by a wide margin) holds, as at scale 1."""
    from proofs_checks.foundations import _observe_3_1
    from theory_lab.checking import Evidence

    for scale in (1.0, 1e-170):
        ev = Evidence()
        _observe_3_1(ev, "x", _A31_ARCH, _A31_X * scale)
        assert all(o.holds and o.conclusive for o in ev.observations), (scale, ev.observations)


def test_assumption_3_1_distance_against_brute_force():
    """Near-duplicate patches (1e-15 relative), padding, strides and a sample whose 64 nearest patches are all
    its own (the search's brute-force fallback): the reported distance is the exact smallest one."""
    rng = np.random.default_rng(2)
    cases = [(Architecture((7, 1), (Conv(2, (3,), stride=2, padding="SAME"), Output(1))), (6, 7, 1)),
             (Architecture((4, 4, 2), (Conv(3, (2, 2), padding=((1, 0), (0, 1))), Output(1))), (4, 4, 4, 2)),
             (Architecture((80, 1), (Conv(1, (2,)), Output(1))), (2, 80, 1))]
    for arch, shape in cases:
        X = rng.standard_normal(shape)
        if shape[0] == 2:  # sample 0: 79 patches within 1e-4 of each other, sample 1 far away
            X[0] = np.arange(80.0).reshape(80, 1) * 1e-6
            X[1] += 100.0
        else:  # sample 1 := sample 0 moved by 1e-15 relative
            X[1] = X[0] * (1 + 1e-15 * rng.standard_normal(X[0].shape))
        rep = data.check_distinct_patches(arch, X)
        want = _brute_min_distance(arch, X)
        assert rep.holds == (want > 0)
        assert rep.min_distance == pytest.approx(want, rel=1e-12, abs=0), (arch, rep.min_distance, want)


# --------------------------------------------------------------------------- activation probes (Assumption 3.2)

def _user_activation(name, fn, **declared):
    import dataclasses

    from theory_lab import activations

    return dataclasses.replace(activations.get("sigmoid"), name=name, fn=fn, **{"lipschitz": None, **declared})


def test_probe_is_scale_invariant_near_the_3_2_boundary():
    """Multiplying σ by a constant changes none of its properties. ``1e-13·tanh`` (limits ±1e-13: 3.2 fails)
    was measured to meet clause (a) (|μ₊μ₋| = 1e-26 ≤ 1e-12), as was ``sigmoid + 1e-13`` (μ₋ = 1e-13 exactly,
    resolved by float64), so their correct declarations read as disagreements; ``1e6·sigmoid`` was measured
    discontinuous, not differentiable and not smooth, so sigmoid's declarations read wrong for it."""
    import jax
    import jax.numpy as jnp

    from theory_lab.testing import declaration_disagreements

    not_32 = dict(assumption_3_2=False, clause=None)
    cases = [_user_activation("tiny tanh", lambda t: 1e-13 * jnp.tanh(t), **not_32),
             _user_activation("sigmoid + 1e-13", lambda t: jax.nn.sigmoid(t) + 1e-13, **not_32),
             _user_activation("1e6 sigmoid", lambda t: 1e6 * jax.nn.sigmoid(t)),
             _user_activation("1e-300 sigmoid", lambda t: 1e-300 * jax.nn.sigmoid(t))]
    for act in cases:
        assert declaration_disagreements(act) == [], act.name
    # the converse: the same functions declared to meet 3.2 (clause a) are caught
    for act in cases[:2]:
        wrong = _user_activation(act.name, act.fn, assumption_3_2=True, clause="a")
        assert any("assumption_3_2" in p for p in declaration_disagreements(wrong)), act.name


def test_probe_clause_a_allows_a_limit_still_converging():
    """``σ = 1/(1 − t)`` on the left (→ 0 like 1/|t|, σ(−2e8) = 5e-9) and sigmoid-like on the right meets
    clause (a) (μ₋ = 0, μ₊ = 1): the probe reads the tail's convergence, not a fixed 1e-12."""
    import jax.numpy as jnp

    from theory_lab.testing import probe_activation

    act = _user_activation("slow", lambda t: jnp.where(t < 0, 1 / (1 - t), 2 - 1 / (1 + t)), analytic=False)
    assert probe_activation(act)["clause_a"] is True


# --------------------------------------------------------------------------- layer-definition: Definition 2.3

def _pool_case(ctx):
    from proofs_checks import definitions

    return [("max-pooling", definitions.pooling_arch(), ctx.rng("pool").standard_normal((6, 6, 6, 2)))]


def _run_layer_definition(monkeypatch):
    from proofs_checks import definitions
    from theory_lab import model
    from theory_lab.checking import Context

    monkeypatch.setattr(definitions, "_layer_cases", _pool_case)
    model._forward.clear_cache()
    try:
        return definitions._layer_definition(Context(0))
    finally:
        model._forward.clear_cache()


def test_layer_definition_checks_max_pooling_against_definition_2_3(monkeypatch):
    """No check compared a max-pooling layer with Definition 2.3: the forward pass pools by a reshape when the
    windows tile and by ``reduce_window`` when they overlap, and a pool with height and width swapped (same
    shapes, same values, wrong positions) changed no verdict of ``layer-definition`` (whose cases had no pool)
    and no rank. Now it *fails* on the plant, naming the pool's F_k (``verify`` runs the case unplanted: holds)."""
    from theory_lab import model
    from theory_lab.checking import Verdict

    real = model.maxpool

    def swapped(info, F, path="fast"):
        if getattr(info.spec, "stride", None) != getattr(info.spec, "window", ()):
            return real(info, F, path)
        x = F.reshape((F.shape[0],) + info.in_shape).transpose(0, 2, 1, 3)  # H and W swapped (square input)
        return real(info, x.reshape(F.shape[0], -1), path)

    monkeypatch.setattr(model, "maxpool", swapped)
    r = _run_layer_definition(monkeypatch)
    assert r.verdict is Verdict.FAILS, r.summary
    bad = {o["name"] for o in r.evidence["observations"] if not o["holds"]}
    assert bad == {"max-pooling: F_3 vs Definition 2.3 (max over each patch of F_2)"}


# --------------------------------------------------------------------------- tolerance-rules: the distinct-vector rule

@pytest.mark.parametrize("factor", [1e-3, 1e3])
def test_tolerance_rules_fail_on_a_wrong_distinct_vector_tolerance(monkeypatch, factor):
    """``tolerances.distinct_tol`` (the band of assumption-3.1's patch distances) was in no check but
    assumption-3.1, whose default data sit 1e9 beyond it: 1000× too small (1e-18 apart read as conclusively
    distinct) or 1000× too large changed no verdict. ``tolerance-rules`` now fails on either."""
    from proofs_checks import definitions
    from theory_lab import tolerances
    from theory_lab.checking import Context, Verdict

    real = tolerances.distinct_tol
    monkeypatch.setattr(tolerances, "distinct_tol", lambda scale, length: tolerances.Tolerance(
        factor * real(scale, length).value, 10.0, "distinct float64 vectors", "planted"))
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    bad = {o["name"] for o in r.evidence["observations"] if not o["holds"]}
    assert bad == {"length-400 vectors one rounding apart in their largest entry" if factor < 1 else
                   "length-400 vectors 30 × sqrt(l)·eps·scale apart"}


# --------------------------------------------------------------------------- ranks of matrices near float64's range

def test_rank_report_refuses_singular_values_beyond_float64():
    """A finite rank-5 matrix with entries ~1e308 has σ_1 > 1.8e308: LAPACK returned inf singular values, the
    tolerance became inf and ``rank_report`` said rank 0, *conclusive* (margin inf). Its rank is that of a
    power-of-two scaling, exact in float64: the error says so; at 1e300 the rank is read as usual."""
    from theory_lab import linalg

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 5)) @ rng.standard_normal((5, 40))
    assert linalg.rank_report(A * 1e300).rank == 5
    with pytest.raises(ValueError, match=r"`U_1` \(30×40, largest entry 1\.317e\+308\) has singular values beyond "
                                         r"float64's range .*numpy\.ldexp\(U_1, -64\)"):
        linalg.rank_report(A * 1e307, name="U_1")
    r = linalg.rank_report(np.ldexp(A * 1e307, -64))
    assert r.rank == 5 and r.conclusive


# --------------------------------------------------------------------------- near-duplicate samples at tiny scale

@pytest.mark.parametrize("exponent", [0, -520])
def test_near_duplicates_at_tiny_feature_scale(exponent):
    """Dense 3 → 12 ReLU, N = 10, sample 7 one ulp from sample 3 (exact F_1 of rank 10, stop 28). ReLU is
    homogeneous: layer 1 scaled by 2^-520 (exact) scales F_1 by 2^-520 and changes no rank. There the JVP
    rows (~1e-173) had norms that underflowed to 0, the pair was dropped, and the deficit (rank 9) was
    *conclusive*: a false rank F_1 < N. Now unresolved at both scales. Converse: the same samples with
    the differing pixel unread (zero weights) stay a conclusive deficit at both scales."""
    import jax

    from theory_lab import feature_maps, sampling
    from theory_lab.arch import Dense

    arch = Architecture((3,), (Dense(12, activation="relu"), Output(1)))
    X = np.random.default_rng(0).standard_normal((10, 3))
    X[7] = X[3]
    X[7, 2] = np.nextafter(X[3, 2], np.inf)
    params = jax.tree_util.tree_map(np.asarray, sampling.sample_params(arch, 1))
    params["layer_1"] = {name: np.ldexp(a, exponent) for name, a in params["layer_1"].items()}
    r = feature_maps.feature_rank(arch, params, X, 1)
    assert r.rank == 9 and not r.conclusive and "samples [3, 7]" in r.unresolved
    unread = dict(params, layer_1=dict(params["layer_1"], W=params["layer_1"]["W"].copy()))
    unread["layer_1"]["W"][2] = 0.0
    r = feature_maps.feature_rank(arch, unread, X, 1)
    assert r.rank < 10 and r.conclusive, r.unresolved


# --------------------------------------------------------------------------- softplus(α) with a tiny α (Theorem 3.5's σ)

@pytest.mark.parametrize("alpha", [1e-8, 1e-300])
def test_softplus_with_tiny_alpha_is_not_a_conclusive_deficit(alpha):
    """softplus(α) is analytic and meets 3.2 for every α > 0; Dense 3 → 12, N = 10 meets every Theorem 3.5
    hypothesis. In float64 its outputs ln2/α + G/2 + αG²/8 + … lose every term below eps·ln2/α: at α = 1e-8
    F_1 reads as affine in x (rank 4), at α = 1e-300 as constant (rank 1), both *conclusive*. The reference
    ``F_1 − ln2/α = log1p(expm1(αG)/2)/α`` (no cancellation) has rank 10 at α = 1e-8, so rank F_1 ≥ 9.
    Two causes: ``affine_everywhere`` sampled σ on [−3, 3], where softplus(1e-8) is affine to 1e-12 of its
    size, so the affine-to-rounding rule was switched off; and at features ~7e299 the centred column norms
    overflowed, so no unit read as constant. Now the deficit is unresolved."""
    from theory_lab import activations, feature_maps, model, sampling, saturation
    from theory_lab.arch import Dense

    act = f"softplus({alpha:g})"
    assert not saturation.affine_everywhere(act)
    arch = Architecture((3,), (Dense(12, activation=act), Output(1)))
    X = np.random.default_rng(0).standard_normal((10, 3))
    params = sampling.sample_params(arch, 1)
    G = np.asarray(model.forward(arch, params, X).G[1])
    shifted = np.log1p(np.expm1(alpha * G) / 2) / alpha
    if alpha == 1e-8:
        s = np.linalg.svd(shifted, compute_uv=False)
        assert s[9] > 1e3 * 12 * np.finfo(float).eps * s[0]  # rank 10, far above rounding
    r = feature_maps.feature_rank(arch, params, X, 1)
    assert activations.get(act).analytic and activations.get(act).assumption_3_2
    assert r.rank < 10 and not r.conclusive and r.unresolved, (r.rank, r.margin)


def test_assumption_3_1_bad_arch_and_patches_near_max_float():
    """``check_distinct_patches(None, X)`` was an AttributeError (``'NoneType' object has no attribute 'd'``);
    patches at ±max float are 3.1-distinct at a distance beyond float64 (inf), without an overflow warning."""
    import warnings

    with pytest.raises(TypeError, match=r"`arch` is a NoneType; expected a theory_lab.arch.Architecture"):
        data.check_distinct_patches(None, _A31_X)
    big = np.finfo(np.float64).max
    X = np.stack([np.full((6, 1), big), np.full((6, 1), -big)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = data.check_distinct_patches(_A31_ARCH, X)
    assert rep.holds and rep.min_distance == np.inf


def test_activation_registry_fails_on_a_lipschitz_constant_below_a_slope(monkeypatch):
    """The declared ``sup |σ'|`` sets the forward-error bound every full-rank reading must clear, yet no check
    compared it with σ: sigmoid declared 0.025 (10× too small: the bound is then no bound) changed no verdict.
    ``activation-registry`` now fails on it, naming the constant and the slope; the registry as it is holds."""
    import dataclasses

    from proofs_checks import foundations
    from theory_lab import activations
    from theory_lab.checking import Context, Verdict

    wrong = dataclasses.replace(activations.get("sigmoid"), lipschitz=0.025)
    monkeypatch.setitem(activations._BASE, "sigmoid", lambda *args: wrong)
    monkeypatch.setattr(activations, "_CACHE", {})
    r = foundations._activation_registry(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    bad = [o["detail"] for o in r.evidence["observations"] if not o["holds"]]
    assert bad == ["sigmoid: sigmoid: `lipschitz` declared 0.025, but |σ'| reaches 0.25"]


def test_probe_clause_b_refuses_superlinear_growth():
    """Clause (b) asks ``|σ(t)| ≤ ρ3 t + ρ4``. ``softplus(t)·log(1 + softplus(t))`` (~ t log t) and
    ``softplus(t)^1.05`` grow faster than any line, and violate 3.2 (no finite limit at +∞ either). The
    right-tail test added 1.0 to ``|σ|/(1+t)``, a slack that depends on σ's size: probed at its own size
    (normalised), both passed. On a log scale (1.5×), both fail; ReLU, softplus, GELU, SiLU still pass."""
    import jax
    import jax.numpy as jnp

    from theory_lab import activations
    from theory_lab.testing import probe_activation

    grows = {"t log t": lambda t: jax.nn.softplus(t) * jnp.log1p(jax.nn.softplus(t)),
             "t^1.05": lambda t: jax.nn.softplus(t) ** 1.05}
    for name, fn in grows.items():
        p = probe_activation(_user_activation(name, fn, assumption_3_2=False, clause=None))
        assert not p["clause_b"] and not p["assumption_3_2"], name
    for name in ("relu", "softplus(1)", "gelu", "silu"):
        assert probe_activation(activations.get(name))["clause_b"], name
