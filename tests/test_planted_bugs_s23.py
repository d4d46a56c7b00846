"""Every registered check of §2–3 can say *fails*, and unmet hypotheses give *not applicable*.

For each check of the entry points ``s2-foundations`` and ``s3-expressivity`` a realistic
bug is planted in a library function the check relies on (monkeypatched: a rank one too
low, a perturbed λ, tanh declared as satisfying Assumption 3.2, a shape inference that
loses a filter, …) and the check must say *fails* (a converse: the conclusion no longer
fails, so the converse *fails*). Separately, an instance that breaks one of the check's
hypotheses must give *not applicable*, never *fails*. Probes report measured frequencies;
their planted bug must show in their computed hypotheses. A last test asserts that every
registered check id of those sections has its planted bug here.
"""

from __future__ import annotations

import dataclasses
import importlib
from importlib import metadata

import jax
import numpy as np
import pytest

import proofs_checks.expressivity as pe
import proofs_checks.foundations as pf
from proofs_checks import instances
from theory_lab import activations, arch as arch_mod, data, exact_fit, feature_maps, linalg, model, rank_probes
from theory_lab import sampling, tolerances, witness
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.checking import ENTRY_POINT_GROUP, Context, Verdict
from theory_lab.zoo import graph

t1 = importlib.import_module("theory_lab.zoo.table1")

SECTIONS = ("s2-foundations", "s3-expressivity")


def _section_checks() -> dict:
    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name in SECTIONS]
    assert sorted(ep.name for ep in eps) == sorted(SECTIONS)
    return {c.id: c for ep in eps for c in ep.load()}


CHECKS = _section_checks()


@pytest.fixture(autouse=True)
def fast_probes(monkeypatch):
    """Frequencies from one draw: the planted bugs here never depend on how many draws a probe makes."""
    real = rank_probes.rank_frequency
    monkeypatch.setattr(rank_probes, "rank_frequency", lambda *a, draws, **kw: real(*a, draws=1, **kw))


def _run(check_id: str, seed: int = 0):
    return CHECKS[check_id].run(Context(seed))


# ----------------------------------------------------------------------------- the planted bugs

def _declare(monkeypatch, name: str, **changes):
    """The registry declares ``name`` with ``changes`` (e.g. tanh as satisfying Assumption 3.2)."""
    wrong = dataclasses.replace(activations.get(name), **changes)
    monkeypatch.setitem(activations._BASE, name, lambda *args: wrong)
    monkeypatch.setattr(activations, "_CACHE", {})


def _drop_a_rank(monkeypatch):
    """``feature_rank`` reports the rank of ``F_k`` with its smallest singular value set to 0."""
    def dropped(arch, params, X, k, **kw):
        F = feature_maps.features_upto(arch, params, X, k)
        U, s, Vt = np.linalg.svd(F, full_matrices=False)
        s[-1] = 0.0
        return linalg.rank_report((U * s) @ Vt, name=f"F_{k}")
    monkeypatch.setattr(feature_maps, "feature_rank", dropped)


def _always_full_rank(monkeypatch):
    """``feature_rank`` sees features perturbed per sample (a forward pass that mixes in noise)."""
    def noisy(arch, params, X, k, **kw):
        F = feature_maps.features_upto(arch, params, X, k)
        return linalg.rank_report(F + 1e-3 * np.random.default_rng(0).standard_normal(F.shape), name=f"F_{k}")
    monkeypatch.setattr(feature_maps, "feature_rank", noisy)


def _uncover_input_neuron_0(monkeypatch):
    """``U_k`` built with input neuron 0 in no patch (an off-by-one in the patch indices)."""
    real = feature_maps.full_weight_matrix

    def off_by_one(arch, params, k):
        U = np.array(real(arch, params, k))
        U[0, :] = 0.0
        return U
    monkeypatch.setattr(feature_maps, "full_weight_matrix", off_by_one)


def _dense_full_weight_matrix(monkeypatch):
    real = feature_maps.full_weight_matrix
    monkeypatch.setattr(feature_maps, "full_weight_matrix",
                        lambda arch, params, k: np.random.default_rng(k).standard_normal(
                            np.shape(real(arch, params, k))))


def _filter_major_full_weight_matrix(monkeypatch):
    """``feature_maps.full_weight_matrix`` orders U_k's columns t·P + p instead of h = p·T + t."""
    real = feature_maps.full_weight_matrix

    def filter_major(arch, params, k):
        U = real(arch, params, k)
        info = arch.layer(k)
        if info.kind not in ("conv", "patch"):
            return U
        return U.reshape(U.shape[0], info.P, info.T).transpose(0, 2, 1).reshape(U.shape)
    monkeypatch.setattr(feature_maps, "full_weight_matrix", filter_major)


def _bias_vector_dropped(monkeypatch):
    """``model.bias_vector`` returns zeros (the bias left out of ``G_k = F_{k-1} U_k + 1 b_kᵀ``)."""
    real = model.bias_vector
    monkeypatch.setattr(model, "bias_vector", lambda arch, params, k: 0.0 * real(arch, params, k))


def _zero_loss_tol_1e6_too_large(monkeypatch):
    monkeypatch.setattr(tolerances, "ZERO_LOSS_RTOL", 1e-14)


def _rank_tol_100_times_too_large(monkeypatch):
    real = linalg.rank_report

    def loose(A, *, tol=None, rtol=None, **kw):
        if tol is None and rtol is None:
            s = np.linalg.svd(np.asarray(A), compute_uv=False)
            tol = 100 * s[0] * max(np.shape(A)) * np.finfo(np.float64).eps
        return real(A, tol=tol, rtol=rtol, **kw)
    monkeypatch.setattr(linalg, "rank_report", loose)


def _digits_without_noise(monkeypatch):
    real = data.digits
    monkeypatch.setattr(data, "digits", lambda n=None, *, noise=0.0, **kw: real(n, noise=0.0, **kw))


def _patch_check_says_distinct(monkeypatch):
    real = data.check_distinct_patches
    monkeypatch.setattr(data, "check_distinct_patches", lambda arch, X: dataclasses.replace(
        real(arch, X), holds=True, shared_patch_values=0, samples_affected=0))


def _construction_kills_layer_k(monkeypatch):
    """Theorem 3.4's construction returns layer-k biases 1e3 too low: every ReLU unit of layer k is dead."""
    real = witness.construct_full_rank

    def wrong(arch, X, k, **kw):
        w = real(arch, X, k, **kw)
        params = dict(w.params)
        layer = dict(params[f"layer_{k}"])
        layer["b"] = np.asarray(layer["b"]) - 1e3
        params[f"layer_{k}"] = layer
        return dataclasses.replace(w, params=params)
    monkeypatch.setattr(witness, "construct_full_rank", wrong)


def _perturbed_lambda(monkeypatch):
    real = exact_fit.exact_fit

    def perturbed(F, y, **kw):
        fit = real(F, y, **kw)
        noise = np.random.default_rng(1).standard_normal(fit.lam.shape)
        return dataclasses.replace(fit, lam=fit.lam * (1.0 + 1e-3 * noise))
    monkeypatch.setattr(exact_fit, "exact_fit", perturbed)


def _zero_targets(monkeypatch):
    """Targets that every layer fits (y = 0 is in every span): the narrow layer is never exercised."""
    monkeypatch.setattr(pe, "_targets", lambda ctx, ds: {"zero": np.zeros(ds.N)})


@pytest.fixture
def fresh_zoo():
    t1._built.cache_clear()
    t1.table1.cache_clear()
    yield
    t1._built.cache_clear()
    t1.table1.cache_clear()


def _n1_counts_one_node(monkeypatch):
    """``n_1`` counts only the first node of layer 1 (ENet's pooled input channels dropped)."""
    monkeypatch.setattr(graph.Network, "n1", property(lambda self: self.first_layer[0].width))
    t1._built.cache_clear()


def _figure1_with_90_filters(monkeypatch):
    monkeypatch.setattr(arch_mod, "figure1", lambda activation="sigmoid": Architecture((28, 28, 1), (
        Conv(90, (3, 3), activation=activation), arch_mod.MaxPool((2, 2)), Conv(20, (2, 2), activation=activation),
        arch_mod.MaxPool((2, 2)), arch_mod.Dense(100, activation=activation), Output(10))))


PLANTED = {
    "lemma-2.5": _uncover_input_neuron_0,
    "lemma-2.5-converse": _dense_full_weight_matrix,
    "assumption-3.1": _digits_without_noise,
    "assumption-3.1-raw": _patch_check_says_distinct,
    "assumption-3.1-converse": _always_full_rank,
    "activation-registry": lambda mp: _declare(mp, "tanh", assumption_3_2=True, clause="a"),
    "theorem-3.5-default": _drop_a_rank,
    "width-necessity": _drop_a_rank,
    "theorem-3.4": _construction_kills_layer_k,
    "theorem-3.4-converse": _always_full_rank,
    "theorem-3.5": _drop_a_rank,
    "theorem-3.5-converse": _always_full_rank,
    "corollary-3.6": _perturbed_lambda,
    "corollary-3.6-narrow": _zero_targets,
    "table-1": _n1_counts_one_node,
    "figure-1": _figure1_with_90_filters,
    "layer-definition": _filter_major_full_weight_matrix,
    "tolerance-rules": _zero_loss_tol_1e6_too_large,
    "assumption-3.1-predicate": _patch_check_says_distinct,
}


@pytest.mark.parametrize("check_id", sorted(PLANTED))
def test_a_planted_bug_makes_the_check_fail(check_id, monkeypatch, fresh_zoo):
    before = _run(check_id)  # the same check without the bug
    assert before.verdict is Verdict.HOLDS and before.set_up
    PLANTED[check_id](monkeypatch)
    result = _run(check_id)
    assert result.verdict is Verdict.FAILS, result.summary
    assert result.summary.startswith("fails: ")
    if CHECKS[check_id].kind == "check":
        assert result.margin is not None and result.margin < 1 and "violated" in result.summary


def test_more_planted_bugs():
    """A second bug for the checks the paper's numbers rest on."""
    with pytest.MonkeyPatch.context() as mp:  # the zoo's copy of the paper's numbers drifts from THEORY.md
        mp.setitem(t1.PAPER_TABLE1, "ResNet", t1.PaperBound("ResNet", 900_000, 900_000))
        assert _run("table-1").verdict is Verdict.FAILS
    with pytest.MonkeyPatch.context() as mp:  # Corollary 3.6's parameter count off by the output bias
        real = exact_fit.parameter_counts
        mp.setattr(exact_fit, "parameter_counts", lambda a, N: {**real(a, N), "cnn": real(a, N)["cnn"] + 1})
        result = _run("corollary-3.6")
        assert result.verdict is Verdict.FAILS and "parameters" in result.summary
    with pytest.MonkeyPatch.context() as mp:  # relu declared analytic contradicts the probe and THEORY.md
        _declare(mp, "relu", analytic=True)
        assert _run("activation-registry").verdict is Verdict.FAILS
    with pytest.MonkeyPatch.context() as mp:  # the bias left out of F_{k-1} U_k + 1 b_kᵀ
        _bias_vector_dropped(mp)
        result = _run("layer-definition")
        assert result.verdict is Verdict.FAILS and " + 1 b_" in result.summary
    with pytest.MonkeyPatch.context() as mp:  # the critical-point tolerance 1e3x too large
        mp.setattr(tolerances, "GTOL_RTOL", 1e-7)
        result = _run("tolerance-rules")
        assert result.verdict is Verdict.FAILS and "not critical" in result.summary
    with pytest.MonkeyPatch.context() as mp:  # the eigenvalue-sign tolerance 1e6x too large
        real = tolerances.eigen_tol
        mp.setattr(tolerances, "eigen_tol", lambda n, norm: real(n, 1e6 * norm))
        result = _run("tolerance-rules")
        assert result.verdict is Verdict.FAILS and "inertia" in result.summary
    with pytest.MonkeyPatch.context() as mp:  # rank_report's default tolerance 100x too large: not a clean pass
        _rank_tol_100_times_too_large(mp)
        result = _run("tolerance-rules")
        assert result.verdict is Verdict.FAILS and "one home" in result.summary


# ----------------------------------------------------------------------------- unmet hypotheses

def _instances_with(monkeypatch, module, **kwargs):
    """The checks' default instances replaced by digits instances built with ``kwargs``."""
    monkeypatch.setattr(module, "default_instances", lambda ctx: [instances.digits_instance(ctx, **kwargs)])


def _tiny_cases(activation):
    X = np.random.default_rng(0).standard_normal((12, 6, 1))
    return lambda ctx: [(f"tiny {activation}", Architecture((6, 1), (Conv(3, (2,), activation=activation),
                                                                     Output(1))), X, 1)]


def _duplicated_sample(monkeypatch):
    real = pe._corollary_3_6_data

    def duplicated(ctx):
        ds, counts = real(ctx)
        X = np.array(ds.X)
        X[1] = X[0]
        return dataclasses.replace(ds, X=X), counts
    monkeypatch.setattr(pe, "_corollary_3_6_data", duplicated)


def _narrow_layer_made_wide(monkeypatch):
    real = pe._corollary_3_6_data
    monkeypatch.setattr(pe, "_corollary_3_6_data", lambda ctx: (real(ctx)[0], {**real(ctx)[1],
                                                                               "T_1": real(ctx)[1]["T_1"] + 2}))


UNMET = {
    "lemma-2.5": lambda mp: mp.setattr(pf, "default_instances", lambda ctx: [dataclasses.replace(
        instances.digits_instance(ctx), arch=pf._uncovering_arch())]),
    "lemma-2.5-converse": lambda mp: mp.setattr(pf, "_uncovering_arch", lambda: Architecture(
        (8, 8, 1), (Conv(16, (3, 3), activation="sigmoid"), Output(1)))),  # patches cover: 2.4 is met
    "assumption-3.1-raw": lambda mp: mp.setattr(data, "digits", (lambda real: lambda n=None, *, noise=0.0, **kw: real(
        n, noise=0.1 if noise else 0.0, **kw))(data.digits)),  # the "tiny" perturbation is not tiny
    "assumption-3.1-converse": lambda mp: mp.setattr(pf, "digits_instance", lambda ctx, **kw: instances.digits_instance(
        ctx, filters=4)),  # n_k < N
    "theorem-3.5-default": lambda mp: _instances_with(mp, pf, activation="tanh"),
    "width-necessity": lambda mp: _instances_with(mp, pf, activation="tanh"),
    "theorem-3.4": lambda mp: mp.setattr(pe, "_theorem_3_4_cases", _tiny_cases("tanh")),
    "theorem-3.4-converse": lambda mp: _declare(mp, "identity", assumption_3_2=True, clause="b"),
    "theorem-3.5": lambda mp: mp.setattr(pe, "_theorem_3_5_cases", _tiny_cases("relu")),  # not analytic
    "theorem-3.5-converse": lambda mp: _declare(mp, "relu", analytic=True),  # the broken hypothesis is met
    "corollary-3.6": _duplicated_sample,
    "corollary-3.6-narrow": _narrow_layer_made_wide,
    "assumption-3.1-predicate": _digits_without_noise,  # raw digits share patches before any planting
    "layer-definition": lambda mp: mp.setattr(pf.definitions, "_layer_cases", lambda ctx: [
        ("nan input", pf.definitions.odd_conv_arch(), np.full((4, 7, 6, 2), np.nan))]),
}
#: Checks without a hypothesis to break: they check the data, the registry or published widths themselves.
NO_HYPOTHESES = {"assumption-3.1": "checks the data's own Assumption 3.1 (its only hypothesis, finite float64 "
                                   "data, is a precondition of the patch comparison)",
                 "activation-registry": "checks the registry itself", "table-1": "published widths",
                 "tolerance-rules": "checks the tolerance rules on matrices it builds (float64 by construction)",
                 "figure-1": "published widths"}


@pytest.mark.parametrize("check_id", sorted(UNMET))
def test_unmet_hypotheses_give_not_applicable(check_id, monkeypatch):
    UNMET[check_id](monkeypatch)
    result = _run(check_id)
    assert result.verdict is Verdict.NOT_APPLICABLE, result.summary
    assert result.summary.startswith("not applicable: ")
    assert not result.set_up  # a kept hypothesis unmet, or the one a converse breaks met


@pytest.mark.parametrize("check_id", ["theorem-3.5-default", "theorem-3.5"])
def test_draws_rounded_through_float32_are_not_from_a_density(check_id, monkeypatch):
    """``sample_params`` rounding its draws through float32 (a discrete law): Theorem 3.5 does not apply."""
    real = sampling.sample_params
    monkeypatch.setattr(sampling, "sample_params", lambda *a, **kw: jax.tree_util.tree_map(
        lambda w: jax.numpy.asarray(np.asarray(w, np.float32).astype(np.float64)), real(*a, **kw)))
    result = _run(check_id)
    assert result.verdict is Verdict.NOT_APPLICABLE, result.summary
    assert "float32 grid" in result.summary


def test_wide_layers_off_by_one_is_seen(monkeypatch):
    """``Architecture.wide_layers`` asking ``n_k > N``: the instances with ``n_k = N`` lose their wide layer."""
    monkeypatch.setattr(Architecture, "wide_layers", lambda self, N: tuple(
        k for k in range(1, self.L) if self.widths[k] > N))
    result = _run("theorem-3.4")
    assert result.verdict is Verdict.NOT_APPLICABLE and "n_" in result.summary, result.summary


# ----------------------------------------------------------------------------- probes

def _hyp(result, text):
    found = [h for h in result.hypotheses if text in h.name]
    assert found, [h.name for h in result.hypotheses]
    return found


PROBES = {
    "probe-relu": (lambda mp: _declare(mp, "relu", analytic=True), "relu: σ_1..σ_1 real analytic"),
    "probe-tanh": (lambda mp: _declare(mp, "tanh", assumption_3_2=True, clause="a"), "satisfy Assumption 3.2"),
    "probe-tied-bias": (lambda mp: mp.setattr(pe, "_conv_net", (lambda real: lambda f, a, bias="neuron": real(
        f, a))(pe._conv_net)), "one bias per neuron"),
    "probe-raw-digits": (_patch_check_says_distinct, "Assumption 3.1"),
    "probe-maxpool": (lambda mp: _declare(mp, "sigmoid", analytic=False), "real analytic"),
}


@pytest.mark.parametrize("probe_id", sorted(PROBES))
def test_probe_hypotheses_are_computed(probe_id, monkeypatch):
    plant, text = PROBES[probe_id]
    before = _run(probe_id)
    assert before.verdict is Verdict.MEASURED and not before.hypotheses_met
    plant(monkeypatch)
    after = _run(probe_id)
    assert after.verdict is Verdict.MEASURED
    flipped = {h.name: h.met for h in _hyp(after, text)} != {h.name: h.met for h in _hyp(before, text)}
    assert flipped, (text, [(h.name, h.met) for h in after.hypotheses])


# ----------------------------------------------------------------------------- coverage

def test_every_check_of_sections_2_and_3_has_a_planted_bug():
    by_kind = {cid: c.kind for cid, c in CHECKS.items()}
    theorems = {cid for cid, kind in by_kind.items() if kind != "probe"}
    assert theorems == set(PLANTED), sorted(theorems ^ set(PLANTED))
    assert {cid for cid, kind in by_kind.items() if kind == "probe"} == set(PROBES)
    assert theorems == set(UNMET) | set(NO_HYPOTHESES) and not set(UNMET) & set(NO_HYPOTHESES)


def test_a_duplicated_sample_in_the_feature_path_makes_theorem_3_5_fail(monkeypatch):
    """The features are computed on data with sample 1 overwritten by sample 0 (a pipeline bug after the
    hypotheses were checked on the real data): rank F_k ≤ N − 1 is certified by the equal samples, so
    *fails*, conclusively, whatever the singular values next to the tolerance do."""
    real = feature_maps.feature_rank

    def duplicated(arch, params, X, k, **kw):
        X = np.array(X)
        X[1] = X[0]
        return real(arch, params, X, k, **kw)
    monkeypatch.setattr(feature_maps, "feature_rank", duplicated)
    result = _run("theorem-3.5")
    assert result.verdict is Verdict.FAILS, result.summary
    assert result.margin is not None and result.margin < 1
    assert "samples [0, 1] are identical" in str(result.evidence)  # the certificate is reported
