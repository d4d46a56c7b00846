"""Session 34 mutation pass over the checks themselves: ``proofs_checks`` definitions, s4_extra, instances, widths.

A slip in a check that weakens it (an observation never made, a case never tried, a verdict read as conclusive)
leaves the check holding on the correct library, so ``verify`` cannot see it. Each test here plants a realistic
bug in the LIBRARY that only the intact check sees, and asserts the check's documented verdict (*fails*, or
*inconclusive* inside a tolerance band); each names the ``s34f-*`` mutant of ``tools/plant_bugs.py`` it kills.
References are independent of the check: Definition 2.3 (max, not mean, over a window), THEORY.md §3's bad
critical point (``U_L = 0``, every other parameter but ``U_{k+1}``, ``U_L``, ``b_L`` kept), docs/table1.md
(a documented disagreement excuses that quantity only), the tolerance band's definition, and the data loader.
"""

from __future__ import annotations

import dataclasses
import importlib

import jax.numpy as jnp
import numpy as np
import pytest

from proofs_checks import definitions, instances, s4_extra, widths
from theory_lab import data as _data
from theory_lab import forward_error, model
from theory_lab import loss_surface as LS
from theory_lab import tolerances as tols
from theory_lab.arch import Architecture, Conv, MaxPool, Output
from theory_lab.checking import Context, Verdict

t1 = importlib.import_module("theory_lab.zoo.table1")


def _violated(r) -> set:
    return {o["name"] for o in r.evidence["observations"] if not o["holds"]}


# ----------------------------------------------------------------------------- layer-definition


def test_layer_definition_sees_average_pooling(monkeypatch):
    """s34f-layerdef-maxpool-kind-typo: a max-pooling layer that averages its window (consistently, in the forward
    pass and the truncated forward alike) changes no U_k, G_k = F_{k−1} U_k + 1 bᵀ or σ; only Definition 2.3
    (``F_k[:, p]`` the LARGEST entry of patch p) sees it: *fails* on that observation."""
    # an architecture no other test uses: the jitted forward passes compile it here, with the planted pooling
    arch = Architecture((5, 5, 1), (Conv(2, (2, 2)), MaxPool((2, 2), stride=1), Output(2)))
    X = np.random.default_rng(34).standard_normal((7, 5, 5, 1))
    monkeypatch.setattr(model, "maxpool", lambda info, F, path="fast": jnp.mean(F[:, info.patches], axis=-1))
    monkeypatch.setattr(definitions, "_layer_cases", lambda ctx: [("average pooling", arch, X)])
    r = definitions._layer_definition(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert _violated(r) == {"average pooling: F_2 vs Definition 2.3 (max over each patch of F_1)"}


# ----------------------------------------------------------------------------- tolerance-rules


def test_tolerance_rules_see_an_absolute_floor_on_the_zero_loss_tolerance(monkeypatch):
    """s34f-tolrules-small-offset-unscaled: ``zero_loss_tol`` floored at an absolute 1e-30 (a floor "for zero
    targets") is not scale-free: at targets scaled by 2^-30 (‖Y‖² ~ 1e-16), ``ZERO_LOSS_RTOL · ½‖Y‖²`` ~ 1e-37 and a
    residual of relative size 3e-9 (``Φ`` ~ 1e-34) reads as zero loss. The check tries the scaled targets with
    the residual scaled too: *fails* there, and only there."""
    real = tols.zero_loss_tol
    monkeypatch.setattr(tols, "zero_loss_tol", lambda Y: dataclasses.replace(real(Y), value=max(real(Y).value, 1e-30)))
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert _violated(r) == {"Φ of a fit left at relative residual 3e-9, targets scaled by 2^-30 (not zero loss)"}


def test_tolerance_rules_inertia_inside_the_band_is_inconclusive(monkeypatch):
    """s34f-tolrules-inertia-always-conclusive: an eigenvalue tolerance 10× too large puts λ_61 (30× the modelled
    tolerance) at 3× the planted one, inside the band 10: the inertia still counts 61 positives, but the reading is
    not conclusive, so the check says *inconclusive* (never *holds* on a reading the band does not decide)."""
    real = tols.eigen_tol
    monkeypatch.setattr(tols, "eigen_tol", lambda n, norm: real(n, 10.0 * norm))
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary
    obs = {o["name"]: o for o in r.evidence["observations"]}
    inertia = obs["inertia (0, 39, 61) with λ_61 = 30× the eigenvalue tolerance"]
    assert inertia["holds"] and not inertia["conclusive"]
    assert sum(not o["conclusive"] for o in obs.values()) == 1


def test_tolerance_rules_see_a_forward_error_bound_lost_after_layer_1(monkeypatch):
    """s34f-tolrules-forward-error-layer-1: a forward-error bound that loses the error carried through max-pooling
    (1000× too small past layer 1; the cancelling layer 1's error ~eps·2^27 passes through the pool and the dense
    layer unchanged) is right at layer 1 only. The check compares the bound with the exact rational pass at
    layers 1, 2 (max-pooling) and 3: *fails* at 2 and 3."""
    real = forward_error.feature_error_bound
    monkeypatch.setattr(forward_error, "feature_error_bound",
                        lambda arch, params, fw, k: real(arch, params, fw, k) * (1.0 if k == 1 else 1e-3))
    r = definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert _violated(r) == {f"‖F̂_{k} − F_{k}‖ (exact rational pass) / feature_error_bound, cancelling net"
                            for k in (2, 3)}


# ----------------------------------------------------------------------------- table-1


@pytest.fixture
def fresh_table1():
    t1._built.cache_clear()
    t1.table1.cache_clear()
    yield
    t1._built.cache_clear()
    t1.table1.cache_clear()


def test_table_1_a_documented_max_does_not_excuse_n_1(monkeypatch, fresh_table1):
    """s34f-table1-any-documented: Xception documents its ``max_k n_k`` disagreement only (docs/table1.md). A shape
    inference that reports Xception's widest layer as ``n_1`` (2,765,952, ~4× the paper's 700K: loose) is an
    undocumented ``n_1`` disagreement: *fails* on Xception's ``n_1`` alone."""
    from theory_lab.zoo import graph

    real = graph.Network.n1
    monkeypatch.setattr(graph.Network, "n1", property(
        lambda self: self.max_width[0] if self.name.startswith("xception") else real.fget(self)))
    r = widths._table_1(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert r.evidence["rows"]["xception"]["n1"] == 2_765_952  # the block-2 separable convs, 147·147·128
    assert _violated(r) == {"xception: n_1 within the paper's rounding, or documented"}


# ----------------------------------------------------------------------------- instances


def test_raw_and_perturbed_digits_instances_are_different_data():
    """s34f-digits-cache-noise-dropped, s34f-digits-seed-ignored: in one context (as ``verify`` runs Assumption 3.1
    on the perturbed digits and 3.1-raw on the raw ones), each instance carries the data the loader gives for its
    own noise, drawn at the context's seed (3: a mutant that draws at seed 0 is invisible at verify's seed 0)."""
    for first, second in ((1e-6, 0.0), (0.0, 1e-6)):
        ctx = Context(3)
        a, b = instances.digits_instance(ctx, noise=first), instances.digits_instance(ctx, noise=second)
        for inst, noise in ((a, first), (b, second)):
            want = _data.digits(instances.N_DEFAULT, noise=noise, seed=3)
            np.testing.assert_array_equal(np.asarray(inst.data.X), np.asarray(want.X))
            assert inst.name.endswith("-raw") == (noise == 0)


# ----------------------------------------------------------------------------- bad-critical-point-construction


def _planted_construction(monkeypatch, change):
    real = LS.bad_critical_point

    def wrong(arch, params, Y, k):
        p = real(arch, params, Y, k)
        change(arch, params, p, k)
        return p
    monkeypatch.setattr(LS, "bad_critical_point", wrong)


def test_construction_sees_U_L_left_nonzero(monkeypatch):
    """s34f-s4extra-U_L-unchecked: a construction that keeps ``W_L`` (``U_L ≠ 0``; ``U_{k+1} = 0`` and ``b_L = ȳ``
    as THEORY.md says) is not the example: *fails* on the nonzero entries of ``U_L``, in both cases."""
    def keep_W_L(arch, params, p, k):
        p[f"layer_{arch.L}"] = dict(p[f"layer_{arch.L}"], W=params[f"layer_{arch.L}"]["W"])
    _planted_construction(monkeypatch, keep_W_L)
    r = s4_extra._construction(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    L = {"small": 3, "pyramidal": 3}
    assert _violated(r) == {f"{name}: nonzero entries of U_{L[name]}" for name in L}


def test_construction_sees_b_k_plus_1_zeroed(monkeypatch):
    """s34f-s4extra-kept-skips-b_k+1: THEORY.md's example sets ``U_{k+1}``, ``U_L`` and ``b_L`` only; a construction
    that also zeroes ``b_{k+1}`` changes a parameter that must be kept: *fails* on the kept parameters."""
    def zero_b(arch, params, p, k):
        p[f"layer_{k + 1}"] = dict(p[f"layer_{k + 1}"], b=jnp.zeros_like(params[f"layer_{k + 1}"]["b"]))
    _planted_construction(monkeypatch, zero_b)
    r = s4_extra._construction(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert _violated(r) == {"small: other parameters changed", "pyramidal: other parameters changed"}
