"""Planted bugs in the §2–3 checks that the rest of the suite let through (s21 audit).

A mutation audit planted one realistic bug at a time in ``proofs_checks.expressivity``,
``foundations``, ``definitions``, ``widths``, ``instances``, ``s4_instances`` and ``s4_extra``
and ran the tests of each module. The tests here kill the mutants that survived. Each feeds
a check a hand-built instance (monkeypatched into the check's instance list) whose verdict is
known from the paper's hypotheses and THEORY.md §5's rules, or a wrong quantity whose verdict
is known; the planted bug each one catches is named in its docstring.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import proofs_checks.expressivity as pe
import proofs_checks.foundations as pf
from proofs_checks import instances
from theory_lab import data, feature_maps, rank_probes, sampling
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Conv, Output
from theory_lab.checking import Context, Verdict

X12 = np.random.default_rng(21).standard_normal((12, 6, 1))  # N = 12 Gaussian samples: Assumption 3.1 holds


def _two_relu_convs() -> Architecture:
    """Conv 2 (4 filters, n_1 = 20) → conv 2 (3 filters, n_2 = 12 = N) → scalar output: U_2 is (20, 12)."""
    return Architecture((6, 1), (Conv(4, (2,), activation="relu"), Conv(3, (2,), activation="relu"), Output(1)))


def _instance(arch: Architecture, X, name: str = "tiny") -> instances.Instance:
    ds = data.Dataset(name, np.asarray(X, dtype=np.float64), np.eye(2)[np.arange(len(X)) % 2],
                      np.arange(len(X)) % 2)
    return instances.Instance(name, arch, ds, instances.wide_layer_of(arch, len(X)))


# ----------------------------------------------------------------------------- theorem-3.4 (expressivity)


def test_theorem_3_4_observes_every_U_l_up_to_layer_k_at_its_full_rank(monkeypatch):
    """Planted bugs: ``_observe_witness`` looped over ``range(1, k)`` (``U_k`` never observed), and
    expected ``rank U_l = n_{l−1}`` (``U.shape[0]``) instead of ``min(n_{l−1}, n_l)``.

    On a ReLU net with ``k = 2`` and a narrowing ``U_2`` (20 × 12), the construction gives
    ``rank F_2 = N`` and both ``U_l`` of full rank ``min`` of their shape: *holds*. With ``U_k``
    built with its first row zero (input neuron 0 of layer 2 in no patch), ``U_2`` has rank 11 < 12:
    *fails*, and the violated observation is ``U_2``.
    """
    monkeypatch.setattr(pe, "_theorem_3_4_cases", lambda ctx: [("tiny", _two_relu_convs(), X12, 2)])
    r = pe._theorem_3_4(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    names = [o["name"] for o in r.evidence["observations"]]
    assert names == ["tiny: F_2", "tiny: U_1", "tiny: U_2"]
    real = feature_maps.full_weight_matrix

    def zero_row_at_layer_2(arch, params, l):
        U = np.array(real(arch, params, l))
        if l == 2:
            U[:, 0] = 0.0
        return U
    monkeypatch.setattr(feature_maps, "full_weight_matrix", zero_row_at_layer_2)
    r = pe._theorem_3_4(Context(0))
    assert r.verdict is Verdict.FAILS and "U_2" in r.summary, r.summary


# ----------------------------------------------------------------------------- theorem-3.5-converse


def test_theorem_3_5_converse_draws_biases_of_mean_minus_half(monkeypatch):
    """Planted bug: the converse drew its ReLU biases from ``N(0, 0.1²)`` instead of ``N(−0.5, 0.1²)``.

    The check documents its instance: Gaussian biases of mean −0.5, under which ReLU units die. The
    216 biases of every draw the check observes have a mean within 0.05 of −0.5 (7 standard errors of 0.1 / √216).
    """
    seen = []
    real = feature_maps.feature_rank

    def record(arch, params, X, k, **kw):
        seen.append(np.asarray(params["layer_1"]["b"]))
        return real(arch, params, X, k, **kw)
    monkeypatch.setattr(feature_maps, "feature_rank", record)
    r = pe._theorem_3_5_converse(Context(0), draws=1)
    assert r.verdict is Verdict.HOLDS, r.summary
    assert len(seen) == 1 and seen[0].size == 216
    assert abs(float(seen[0].mean()) + 0.5) < 0.05


# ----------------------------------------------------------------------------- corollary-3.6


def test_corollary_3_6_on_a_network_with_two_outputs_is_not_applicable(monkeypatch):
    """Planted bug: ``corollary-3.6`` stated its scalar-output hypothesis as the literal ``True``.

    Corollary 3.6 fits a scalar target per sample through one output unit. The same check built with
    two output units (``pe.Output`` monkeypatched) does not meet the hypothesis: *not applicable*.
    """
    monkeypatch.setattr(pe, "Output", lambda m: Output(2))
    r = pe._corollary_3_6(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "scalar output (m = 1) (m = n_L = 2)" in r.summary


# ----------------------------------------------------------------------------- probe-relu


def test_probe_relu_causes_add_up_the_rows(monkeypatch):
    """Planted bug: the probe's cause tally swapped dead units and units without a sign change.

    The summary's counts are sums over the measured rows: dead units, no sign change, deficient
    draws and those explained by dead or affine units, each under its own name.
    """
    real = rank_probes.rank_frequency
    monkeypatch.setattr(rank_probes, "rank_frequency", lambda *a, draws, **kw: real(*a, draws=1, **kw))
    r = pe._probe_relu(Context(0))
    rows = r.evidence["rows"]
    want = {"dead units": sum(x["draws_with_dead_units"] for x in rows),
            "no sign change": sum(x["draws_with_no_sign_change"] for x in rows),
            "deficient explained by dead/affine units": sum(x["deficient_explained_by_dead_or_affine_units"]
                                                             for x in rows),
            "deficient": sum(x["deficient"] for x in rows)}
    assert want["dead units"] != want["no sign change"]  # the instance tells the two causes apart
    assert r.evidence["causes_over_all_draws"] == want
    assert (f"dead units in {want['dead units']} draws, units whose pre-activation never changes sign in "
            f"{want['no sign change']}") in r.summary


# ----------------------------------------------------------------------------- lemma-2.5 (foundations)


def test_lemma_2_5_full_rank_of_a_narrowing_conv_is_rank_n_k(monkeypatch):
    """Planted bug: ``lemma-2.5`` expected ``rank U_k = n_{k−1}`` (``U.shape[0]``), not ``min(n_{k−1}, n_k)``.

    A 2×2 conv at stride 2 with 2 filters on 8×8 covers every input neuron (Assumption 2.4) and has
    ``U_1`` of shape (64, 32): full rank is 32, and Lemma 2.5 holds.
    """
    arch = Architecture((8, 8, 1), (Conv(2, (2, 2), stride=2, activation="sigmoid"), Output(1)))
    monkeypatch.setattr(pf, "default_instances", lambda ctx: [dataclasses.replace(
        instances.digits_instance(ctx), arch=arch)])
    r = pf._lemma_2_5(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    assert "rank 32 of 64x32" in r.summary


def test_lemma_2_5_converse_needs_n_1_at_least_n_0(monkeypatch):
    """Planted bug: the converse's kept hypothesis ``n_1 ≥ n_0`` was the literal ``True``.

    With 4 1x1 filters at stride 3 (``n_1 = 36 < n_0 = 64``), Assumption 2.4 is broken (9 neurons read,
    rank U_1 ≤ 9 < 36) but "full rank" means rank n_1, not n_0: the converse's instance does not show
    what it claims to (missed inputs cost rank n_0), so *not applicable*, naming the unmet n_1 ≥ n_0.
    """
    monkeypatch.setattr(pf, "_uncovering_arch", lambda: Architecture(
        (8, 8, 1), (Conv(4, (1, 1), stride=3, activation="sigmoid"), Output(1))))
    r = pf._lemma_2_5_converse(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "n_0 = 64, n_1 = 36" in r.summary


# ----------------------------------------------------------------------------- assumption-3.1 (foundations)


def test_patches_closer_than_rounding_of_large_data_fail_assumption_3_1(monkeypatch):
    """Planted bugs: ``_observe_3_1`` dropped its distance observation, or measured the distance
    against ``distinct_tol(1, l)`` instead of the data's scale.

    Data of scale ~3e3 where sample 1's first patch is sample 0's first patch (entries 0.5, −0.25)
    moved by ``distinct_tol(scale, l) / 30``: no patch value is shared exactly, but the two patches
    are 30× closer than one rounding of the data's largest entries, so 3.1 *fails* conclusively.
    """
    X = 1e3 * np.array(X12)
    scale = float(np.max(np.abs(X)))
    arch = Architecture((6, 1), (Conv(3, (2,), activation="sigmoid"), Output(1)))
    delta = T.distinct_tol(scale, 2).value / 30
    X[0, :2, 0] = [0.5, -0.25]  # small entries: their float64 spacing resolves delta
    X[1, :2, 0] = X[0, :2, 0] + delta / np.sqrt(2)
    monkeypatch.setattr(pf, "default_instances", lambda ctx: [_instance(arch, X)])
    r = pf._assumption_3_1(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "smallest distance between patches" in r.summary
    assert r.margin == pytest.approx(1 / 30, rel=0.05)


def test_assumption_3_1_raw_needs_a_tiny_perturbation(monkeypatch):
    """Planted bug: ``assumption-3.1-raw`` accepted a perturbation up to 1e-1 of the data's scale (not 1e-5).

    Noise of standard deviation 1e-3 on digits of scale 16 moves pixels by about 3e-4 of the scale:
    not "the same images, perturbed by at most 1e-5", so *not applicable*.
    """
    real = data.digits
    monkeypatch.setattr(data, "digits", lambda n=None, *, noise=0.0, **kw: real(n, noise=1e-3 if noise else 0.0,
                                                                                 **kw))
    r = pf._assumption_3_1_raw(Context(0))
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    assert "perturbed by at most 1e-5" in r.summary


# ----------------------------------------------------------------------------- activation-registry


def test_activation_registry_compares_the_registry_with_theory(monkeypatch):
    """Planted bug: the registry check compared THEORY.md's Assumption 3.2 classification with itself.

    Told (wrongly) that THEORY.md lists tanh as satisfying 3.2 while the registry does not, the check
    must report the disagreement: *fails*, naming tanh's Assumption 3.2.
    """
    monkeypatch.setattr(pf, "_registry_names", lambda: ["tanh"])
    assert pf._activation_registry(Context(0)).verdict is Verdict.HOLDS
    monkeypatch.setitem(pf.THEORY_3_2, "tanh", (True, True))
    r = pf._activation_registry(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "tanh: registry says 3.2 False, THEORY.md says True" in r.summary


# ----------------------------------------------------------------------------- width-necessity


def test_width_necessity_skips_layers_without_weights(monkeypatch):
    """Planted bug: ``width-necessity`` observed every narrow layer, pooling layers included.

    Conv (n_1 = 15 ≥ N) → conv 2 filters (n_2 = 6 < N = 12) → max-pool (n_3 = 2) → output: Theorem 3.5
    applied to layer 2's ``n_2``-sample subsets gives ``rank F_2 = 6``, *holds*; the pooling layer has
    no weights and is no layer of Theorem 3.5 (observing it makes the check *not applicable*).
    """
    from theory_lab.arch import MaxPool

    arch = Architecture((6, 1), (Conv(3, (2,), activation="sigmoid"), Conv(2, (3,), activation="sigmoid"),
                                 MaxPool((2,)), Output(1)))
    assert arch.widths[1:4] == (15, 6, 2)
    monkeypatch.setattr(pf, "default_instances", lambda ctx: [_instance(arch, X12)])
    r = pf._width_necessity(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    assert [o["name"] for o in r.evidence["observations"]] == ["tiny: F_2 (n_2 = 6 < N = 12)"]


def test_width_necessity_without_a_narrow_layer_says_so(monkeypatch):
    """Planted bug: ``width-necessity`` dropped its error when no instance has a narrow layer.

    A check that observes nothing proves nothing: on instances whose every hidden layer is wide it
    raises a ValueError that says what to add, rather than concluding from no evidence.
    """
    arch = Architecture((6, 1), (Conv(3, (2,), activation="sigmoid"), Output(1)))
    monkeypatch.setattr(pf, "default_instances", lambda ctx: [_instance(arch, X12)])
    with pytest.raises(ValueError, match="no default instance has a narrow hidden layer with weights"):
        pf._width_necessity(Context(0))


# ----------------------------------------------------------------------------- layer-definition (definitions)


def _tanh_relu_case(ctx):
    """Conv (tanh, n_1 = 15) → dense 4 (ReLU) → scalar output on the N = 12 Gaussian samples."""
    from theory_lab.arch import Dense

    arch = Architecture((6, 1), (Conv(3, (2,), activation="tanh"), Dense(4, activation="relu"), Output(1)))
    return [("tanh-relu", arch, X12)]


def test_layer_definition_applies_each_layers_own_activation(monkeypatch):
    """Planted bug: ``layer-definition`` compared ``F_k`` with ``sigmoid(G_k)`` whatever ``σ_k`` is.

    On a tanh conv followed by a ReLU dense layer, the forward pass is the definitions: *holds*.
    """
    monkeypatch.setattr(pf.definitions, "_layer_cases", _tanh_relu_case)
    r = pf.definitions._layer_definition(Context(0))
    assert r.verdict is Verdict.HOLDS, r.summary
    names = [o["name"] for o in r.evidence["observations"]]
    assert "tanh-relu: F_2 vs σ_2(G_2)" in names and "tanh-relu: features_upto F_2 vs the forward pass" in names


def test_layer_definition_says_fails_for_a_wrongly_shaped_U_k(monkeypatch):
    """Planted bug: ``layer-definition`` skipped its shape check of ``U_k`` (``ok = True``).

    ``feature_maps.full_weight_matrix`` returning ``U_kᵀ`` (shape ``(n_k, n_{k−1})``) is a wrong
    ``U_k``: the check says *fails* on its shape observation, it does not crash in ``F_{k−1} U_k``.
    """
    monkeypatch.setattr(pf.definitions, "_layer_cases", _tanh_relu_case)
    real = feature_maps.full_weight_matrix
    monkeypatch.setattr(feature_maps, "full_weight_matrix", lambda arch, params, k: real(arch, params, k).T)
    r = pf.definitions._layer_definition(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    bad = [o["name"] for o in r.evidence["observations"] if not o["holds"]]
    assert bad == [f"tanh-relu: U_{k} (feature_maps) has shape (n_{k - 1}, n_{k})" for k in (1, 2, 3)]


def test_layer_definition_checks_the_dense_layers_activation(monkeypatch):
    """Planted bug: ``layer-definition`` compared ``F_k`` with ``σ_k(G_k)`` on convolutional layers only.

    A forward pass whose dense layer forgets its ReLU (``F_2 = G_2``) disagrees with Definition 2.2's
    ``F_2 = σ_2(G_2)``: *fails*, naming ``F_2``.
    """
    from theory_lab import model

    monkeypatch.setattr(pf.definitions, "_layer_cases", _tanh_relu_case)
    real = model.forward

    def no_dense_relu(arch, params, X, **kw):
        fw = real(arch, params, X, **kw)
        return model.Forward(fw.F[:2] + (fw.G[2],) + fw.F[3:], fw.G)
    monkeypatch.setattr(model, "forward", no_dense_relu)
    r = pf.definitions._layer_definition(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    bad = {o["name"] for o in r.evidence["observations"] if not o["holds"]}
    assert "tanh-relu: F_2 vs σ_2(G_2)" in bad


def test_layer_definition_checks_the_truncated_forward(monkeypatch):
    """Planted bug: ``layer-definition`` dropped its comparison of ``features_upto`` with the forward pass.

    ``features_upto`` (the truncated forward every rank check uses) returning ``F_k`` with two samples
    swapped gives the same rank but wrong features: *fails*, naming ``features_upto``.
    """
    monkeypatch.setattr(pf.definitions, "_layer_cases", _tanh_relu_case)
    real = feature_maps.features_upto
    monkeypatch.setattr(feature_maps, "features_upto", lambda arch, params, X, k: real(arch, params, X, k)[
        [1, 0, *range(2, len(X))]])
    r = pf.definitions._layer_definition(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    bad = {o["name"] for o in r.evidence["observations"] if not o["holds"]}
    assert bad == {f"tanh-relu: features_upto F_{k} vs the forward pass" for k in (1, 2)}


# ----------------------------------------------------------------------------- assumption-3.1-predicate (definitions)


_REAL_PREDICATE = data.check_distinct_patches


def _same_position_only(arch, X):
    """A 3.1 predicate that compares patch p of one sample with patch p of the others only (a real bug:
    3.1 asks ``x_i^p ≠ x_j^q`` for every p, q)."""
    rep = _REAL_PREDICATE(arch, X)
    X = np.asarray(X)
    N = X.shape[0]
    flat = np.concatenate([X.reshape(N, -1), np.zeros((N, 1))], axis=1)
    idx = arch.layer(1).patches
    patches = flat[:, np.where(idx < 0, arch.d, idx)]
    shared = sum(N - np.unique(patches[:, p], axis=0).shape[0] for p in range(idx.shape[0]))
    return dataclasses.replace(rep, holds=shared == 0, shared_patch_values=int(shared))


def test_the_3_1_predicate_check_plants_patches_at_other_positions(monkeypatch):
    """Planted bug: ``assumption-3.1-predicate`` planted sample 0's patch p only at sample 1's patch p.

    A predicate that compares patches at the same position only misses ``x_1^p = x_0^q`` with
    ``q ≠ p``; the check plants those too, so it *fails* on that predicate.
    """
    monkeypatch.setattr(data, "check_distinct_patches", _same_position_only)
    r = pf.definitions._assumption_3_1_predicate(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "planted shared patches missed" in r.summary


def test_the_3_1_predicate_check_reads_the_verdict_not_only_the_count(monkeypatch):
    """Planted bug: ``assumption-3.1-predicate`` counted a plant as found from ``shared_patch_values``
    alone, not from the predicate's ``holds``.

    A predicate that counts the shared values right but says ``holds = True`` certifies 3.1 on data
    that violate it: *fails*.
    """
    real = data.check_distinct_patches
    monkeypatch.setattr(data, "check_distinct_patches", lambda arch, X: dataclasses.replace(real(arch, X),
                                                                                            holds=True))
    r = pf.definitions._assumption_3_1_predicate(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "planted shared patches missed" in r.summary


# ----------------------------------------------------------------------------- tolerance-rules (definitions)


def test_tolerance_rules_resolve_an_svd_tolerance_1000_times_too_large(monkeypatch):
    """Planted bug: ``tolerance-rules`` put its resolved singular value at 3000× the SVD tolerance, not 30×.

    An SVD rank tolerance 1000× too large everywhere (``svd_rank_tol`` and ``rank_report``'s default
    agreeing, so "one home" holds) counts ``σ_150 = 30 tol`` as rounding: rank 149, conclusively,
    so *fails*.
    """
    from theory_lab import linalg

    real_tol, real_rank = T.svd_rank_tol, linalg.rank_report
    monkeypatch.setattr(T, "svd_rank_tol", lambda shape, smax: dataclasses.replace(
        real_tol(shape, smax), value=1000 * real_tol(shape, smax).value))

    def loose(A, *, tol=None, rtol=None, **kw):
        if tol is None and rtol is None:
            rtol = 1000 * max(np.shape(A)) * np.finfo(np.float64).eps
        return real_rank(A, tol=tol, rtol=rtol, **kw)
    monkeypatch.setattr(linalg, "rank_report", loose)
    r = pf.definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "σ_150 = 30 × the SVD tolerance" in r.summary


def test_tolerance_rules_resolve_an_eigenvalue_tolerance_1000_times_too_large(monkeypatch):
    """Planted bug: ``tolerance-rules`` put its resolved eigenvalue at 3000× the eigenvalue tolerance, not 30×.

    An eigenvalue-sign tolerance 1000× too large counts ``λ_61 = 30 tol`` as zero, conclusively: *fails*.
    """
    real = T.eigen_tol
    monkeypatch.setattr(T, "eigen_tol", lambda n, norm: real(n, 1000 * norm))
    r = pf.definitions._tolerance_rules(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "inertia" in r.summary


# ----------------------------------------------------------------------------- table-1 (widths)


def test_table_1_pins_vgg_first_layer_to_224_224_64(monkeypatch):
    """Planted bug: ``table-1`` dropped its observation ``n_1 = 224·224·64`` for VGG.

    A shape inference that loses one row of VGG's first feature map (``223·224·64``) still exceeds
    the paper's rounded 3,000,000 within its rounding; only THEORY.md's exact ``224·224·64`` sees it.
    """
    import importlib

    from theory_lab.zoo import graph

    t1 = importlib.import_module("theory_lab.zoo.table1")
    real = graph.Network.n1
    monkeypatch.setattr(graph.Network, "n1", property(
        lambda self: real.fget(self) - (224 * 64 if self.name.startswith("vgg") else 0)))
    t1._built.cache_clear()
    t1.table1.cache_clear()
    try:
        r = pe.widths._table_1(Context(0))
    finally:
        t1._built.cache_clear()
        t1.table1.cache_clear()
    assert r.verdict is Verdict.FAILS, r.summary
    bad = {o["name"] for o in r.evidence["observations"] if not o["holds"]}
    assert bad and all(name.endswith(": n_1 = 224·224·64") for name in bad), bad


# ----------------------------------------------------------------------------- instances


def test_wide_layer_of_is_the_first_wide_layer_else_the_last_hidden_one():
    """Planted bugs: ``wide_layer_of`` returned the *last* wide layer, or layer 1 when none is wide.

    Theorems 3.4/3.5 look at the first hidden layer with ``n_k ≥ N``; without one, the last hidden
    layer (whose width hypothesis then fails, so the checks say *not applicable*).
    """
    arch = Architecture((6, 1), (Conv(3, (2,)), Conv(4, (2,)), Conv(1, (2,)), Output(1)))
    assert arch.widths[1:4] == (15, 16, 3)
    assert instances.wide_layer_of(arch, 12) == 1
    assert instances.wide_layer_of(arch, 16) == 2
    assert instances.wide_layer_of(arch, 17) == 3


def test_instances_are_cached_per_activation():
    """Planted bugs: the instance cache keys left out the activation: asking for a tanh instance after
    the sigmoid one returned the sigmoid network."""
    ctx = Context(0)
    for build in (instances.digits_instance, instances.mnist1d_instance):
        sig, tanh = build(ctx), build(ctx, activation="tanh")
        assert sig.arch.layer(1).activation == "sigmoid" and tanh.arch.layer(1).activation == "tanh"


# ----------------------------------------------------------------------------- figure-1 (widths)


def test_figure_1_counts_its_layers(monkeypatch):
    """Planted bug: ``figure-1`` dropped its layer count and compared widths with ``zip`` only.

    Figure 1's CNN with one more dense layer of 10 units has THEORY.md's widths as a prefix, is wide
    at layer 1 and pyramidal, but it is not Figure 1's network: *fails* on ``L``.
    """
    from theory_lab import arch as arch_mod

    real = arch_mod.figure1

    def one_more_layer(activation="sigmoid"):
        net = real(activation)
        return Architecture(net.input_shape, (*net.layers[:-1], arch_mod.Dense(10, activation=activation),
                                              net.layers[-1]))
    monkeypatch.setattr(arch_mod, "figure1", one_more_layer)
    r = pe.widths._figure_1(Context(0))
    assert r.verdict is Verdict.FAILS, r.summary
    assert "number of layers L" in r.summary


# ----------------------------------------------------------------------------- s4_instances


def test_class_targets_are_exact_rows_of_a_full_rank_Z():
    """Planted bugs: ``class_targets`` took any ``Z`` as full rank, or compared ``Y Z⁻¹`` with one-hot
    rows at ``atol = 1e-3`` instead of 1e-10.

    A singular ``Z`` encodes no classes (unmet, not a crash); rows ``(1 + 1e-6) e_i`` or ``e_i`` with a
    1e-6 entry elsewhere are not class encodings (unmet); exact one-hot rows are (met).
    """
    from proofs_checks import s4_instances as S

    onehot = np.eye(3)[np.arange(6) % 3]
    assert S.class_targets(onehot).met
    singular = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert not S.class_targets(onehot[:, :3], singular).met
    assert not S.class_targets((1 + 1e-6) * onehot).met
    off = onehot.copy()
    off[0, 1] = 1e-6
    assert not S.class_targets(off).met


def test_critical_tol_uses_the_spectral_norm_of_the_jacobian():
    """Planted bug: ``critical_tol`` used ``‖J‖_F`` instead of ``‖J‖₂`` (the definition of *critical*).

    ``J`` of the tiny fully connected net's outputs with respect to its parameters, by forward-mode
    differentiation of :func:`model.apply` here; ``critical_tol = 1e-10 ‖J‖₂ max(‖Y‖, ‖F_L‖)`` (session 28:
    the residual's scale, the network's outputs, replaced the floor of 1).
    """
    import jax

    from proofs_checks import s4_instances as S
    from theory_lab import model

    arch = S.tiny_fc()
    X = np.random.default_rng(5).standard_normal((8, 5))
    Y = np.eye(3)[np.arange(8) % 3]
    params = sampling.sample_params(arch, np.random.default_rng(6))
    leaves, tree = jax.tree_util.tree_flatten(params)
    sizes = [np.size(l) for l in leaves]

    def out(theta):
        parts = np.split(np.arange(theta.size), np.cumsum(sizes)[:-1])
        ps = jax.tree_util.tree_unflatten(tree, [theta[i].reshape(np.shape(l)) for i, l in zip(parts, leaves)])
        return model.apply(arch, ps, X).ravel()
    theta = np.concatenate([np.ravel(np.asarray(l)) for l in leaves])
    J = np.asarray(jax.jacfwd(out)(jax.numpy.asarray(theta)))
    want = 1e-10 * np.linalg.norm(J, 2) * max(np.linalg.norm(Y), np.linalg.norm(out(theta)))
    assert S.critical_tol(arch, params, X, Y).value == pytest.approx(want, rel=1e-8, abs=0)


def _tiny_critical_setting(monkeypatch, member: bool):
    """The tiny FC net and data; ``membership`` reports ``F_k`` with ``σ_N = tol / 3`` or ``3 tol``
    (inside the SVD band) and every ``U_l`` of full rank, i.e. *undecided*, computed as inside
    (``member``) or outside ``S_k``."""
    import types

    from proofs_checks import s4_instances as S
    from theory_lab import linalg
    from theory_lab import loss_surface as LS

    arch, ctx = S.tiny_fc(), Context(0)
    X, Y = S.tiny_data(ctx, arch)
    params = S.params(arch, ctx, "s21-checks/tiny")
    real = LS.membership
    last = 3e-10 if member else 1e-10 / 3

    def undecided(*args, **kwargs):
        m = real(*args, **kwargs)
        return dataclasses.replace(m, F_k=linalg.rank_report(np.diag([1.0] * (S.N_TINY - 1) + [last]), tol=1e-10),
                                   U={l: linalg.rank_report(np.eye(3), name=f"U_{l}") for l in m.U})
    monkeypatch.setattr(LS, "membership", undecided)
    res = types.SimpleNamespace(params=params, loss=1.0, residual_norm=np.sqrt(2.0), grad_norm=0.0, iterations=0,
                                converged=True, kind="saddle")
    return arch, X, Y, res


def test_a_critical_point_computed_inside_S_k_but_undecided_is_no_violation(monkeypatch):
    """Planted bug: ``observe_critical_point`` judged ``Φ`` against zero loss for any point computed in
    ``S_k`` (``if m.member``), whether or not membership was decided.

    A critical point with ``Φ = 1`` whose ``rank F_k = N`` rests on ``σ_N = 3 tol`` (inside the band)
    may lie outside ``S_k``, where Theorem 4.5 allows ``Φ > 0``: inconclusive, not *fails*.
    """
    from proofs_checks import s4_instances as S
    from theory_lab.checking import Hypothesis, conclude
    from theory_lab.evidence import Evidence

    arch, X, Y, res = _tiny_critical_setting(monkeypatch, member=True)
    ev = Evidence()
    row = S.observe_critical_point(ev, "undecided", arch, res, X, Y, 2)
    assert row["critical"] and row["in_S_k"] and not row["S_k_conclusive"]
    assert row["status"] == "S_k membership inconclusive"
    r = conclude("every critical point found in S_k has Φ = 0", [Hypothesis("h", True)], ev)
    assert r.verdict is Verdict.INCONCLUSIVE, r.summary


def test_a_gradient_five_times_the_critical_tolerance_is_not_critical(monkeypatch):
    """Planted bug: ``observe_critical_point`` called a point critical at ``‖∇Φ‖ ≤ 10 ·`` the tolerance.

    *Critical* is ``‖∇Φ‖ ≤ critical_tol``; a search result 5× above it is not a critical point:
    reported as not converged and never observed.
    """
    from proofs_checks import s4_instances as S
    from theory_lab.evidence import Evidence

    arch, X, Y, res = _tiny_critical_setting(monkeypatch, member=True)
    res.grad_norm = 5 * S.critical_tol(arch, res.params, X, Y).value
    ev = Evidence()
    row = S.observe_critical_point(ev, "five times", arch, res, X, Y, 2)
    assert not row["critical"] and row["status"] == "not converged (not a critical point)"
    assert not ev.observations


def test_membership_margin_is_the_smallest_of_F_k_and_every_U_l():
    """Planted bug: ``membership_margin`` read ``F_k``'s margin only, not the ``U_l``'s.

    A point whose ``F_k`` has a large margin but one ``U_l`` close to its rank tolerance is only as
    far from the boundary of ``S_k`` as that ``U_l``.
    """
    from proofs_checks import s4_instances as S
    from theory_lab import linalg, loss_surface

    F = linalg.rank_report(np.eye(4), tol=1e-10)  # margin 1e10
    U = {1: linalg.rank_report(np.diag([1.0, 5e-10]), tol=1e-10), 2: linalg.rank_report(np.eye(2), tol=1e-10)}
    m = loss_surface.Membership(1, 4, F, U)  # every condition met: as far from the boundary as the closest
    assert m.member and not m.conclusive
    assert S.membership_margin(m) == pytest.approx(min(F.margin, U[1].margin, U[2].margin))
    assert S.membership_margin(m) == pytest.approx(U[1].margin) and U[1].margin < F.margin


def test_h31_is_computed_on_the_data():
    """Planted bug: ``s4_instances.h31`` (Assumption 3.1 for the section-4 checks) returned ``met = True``.

    With sample 1 a copy of sample 0 every patch of sample 1 is shared: 3.1 is unmet; on the distinct
    Gaussian samples it is met. The prefix names the instance.
    """
    from proofs_checks import s4_instances as S

    arch = Architecture((6, 1), (Conv(3, (2,), activation="sigmoid"), Output(1)))
    dup = np.array(X12)
    dup[1] = dup[0]
    assert S.h31(arch, X12, "tiny: ").met
    h = S.h31(arch, dup, "tiny: ")
    assert not h.met and h.name.startswith("tiny: Assumption 3.1")

def test_s4_digits_follow_the_runs_seed():
    """Planted bug: the section-4 digits drew their 1e-6 noise from seed 0 instead of the run's seed.

    Every random draw flows from the run's seed: ``digits(Context(s), N)`` is ``data.digits(N,
    noise=1e-6, seed=s)``, so seeds 0 and 1 give different noise.
    """
    from proofs_checks import s4_instances as S

    a, b = S.digits(Context(0), S.N_SMALL).X, S.digits(Context(1), S.N_SMALL).X
    np.testing.assert_array_equal(b, data.digits(S.N_SMALL, noise=1e-6, seed=1).X)
    assert not np.array_equal(a, b)


# ----------------------------------------------------------------- bad-critical-point-construction (s4_extra)


def _construction_with(monkeypatch, change):
    from proofs_checks import s4_extra
    from theory_lab import loss_surface as LS

    real = LS.bad_critical_point

    def wrong(arch, params, Y, k, **kw):
        p = {name: dict(layer) for name, layer in real(arch, params, Y, k, **kw).items()}
        change(p, arch.L, k)
        return p
    monkeypatch.setattr(LS, "bad_critical_point", wrong)
    return s4_extra._construction(Context(0))


@pytest.mark.parametrize("change, seen", [
    (lambda p, L, k: p[f"layer_{L}"].update(W=np.asarray(p[f"layer_{L}"]["W"]) + 1e-3), "U_3"),
    (lambda p, L, k: p[f"layer_{k + 1}"].update(b=0.0 * np.asarray(p[f"layer_{k + 1}"]["b"])), "['layer_2/b']"),
    (lambda p, L, k: p["layer_1"].update(W=np.asarray(p["layer_1"]["W"]) * (1 + 1e-9)), "['layer_1/W']"),
], ids=["U_L left nonzero", "b_k+1 zeroed", "W_1 moved by 1e-9"])
def test_the_construction_check_sees_each_departure_from_the_example(change, seen, monkeypatch):
    """Planted bugs: ``bad-critical-point-construction`` observed ``U_{k+1}`` only (not ``U_L``), counted
    ``b_{k+1}`` among the parameters the example changes, or compared kept parameters at ``atol 1e-3``.

    THEORY.md §3's example sets ``U_{k+1} = 0``, ``U_L = 0``, ``b_L = ȳ`` and keeps every other
    parameter exactly: a point with ``U_L ≠ 0``, with ``b_{k+1}`` zeroed, or with ``W_1`` moved by a
    relative 1e-9 is not that example: *fails*.
    """
    r = _construction_with(monkeypatch, change)
    assert r.verdict is Verdict.FAILS, r.summary
    assert seen in r.summary
