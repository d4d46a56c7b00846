"""Stop 27, adversarial review of the hypotheses (proofs_checks.hypotheses and the predicates it calls).

Each test failed on the code before this stop (the xfail states what is still wrong)."""

import numpy as np
import pytest

from proofs_checks import expressivity as pe
from proofs_checks import hypotheses as hyp
from theory_lab import activations
from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.checking import Context, Verdict, applicable

T = np.linspace(-3.0, 3.0, 13)


@pytest.mark.parametrize("spec", ["softplus(inf)", "softplus(1e309)", "softplus(1e-320)", "leaky_relu(inf)"])
def test_non_finite_or_subnormal_parameters_are_refused(spec):
    """softplus(inf) was registered as analytic with clause (b) while its values were nan (inf/inf);
    leaky_relu(inf) as continuous while it is -inf on t < 0; softplus(1e-320) is ln(2)/1e-320 = inf everywhere."""
    with pytest.raises(ValueError, match="must be positive.*finite"):
        activations.get(spec)


def test_leaky_relu_with_slope_1_is_the_identity_hence_analytic():
    """leaky_relu(1)(t) = t for every t: analytic and differentiable (the registry said neither); still not 3.2."""
    a = activations.get("leaky_relu(1)")
    assert np.array_equal(np.asarray(a(T)), T)
    assert a.analytic and a.differentiable and a.strictly_increasing and not a.assumption_3_2
    b = activations.get("leaky_relu(0.5)")
    assert not b.analytic and not b.differentiable  # a kink at 0 for any slope ≠ 1


def test_a_parametrised_name_reads_back_as_the_same_function():
    """softplus(1.0000001) was named "softplus(1)" (format g): get(act.name) was another function."""
    for spec in ("softplus(1.0000001)", "leaky_relu(0.12345678)", "softplus(2)", "softplus(0.5)"):
        a = activations.get(spec)
        assert np.array_equal(np.asarray(activations.get(a.name)(T)), np.asarray(a(T))), (spec, a.name)
    assert activations.get("softplus(2)").name == "softplus(2)"


def _narrow_then_wide_output():
    return Architecture((3,), (Dense(1, activation="sigmoid"), Output(5)))


def test_theorem_hypotheses_are_not_met_at_the_output_layer():
    """k = L: F_L = F_{L-1} U_L + 1 b_Lᵀ with F_{L-1} ∈ R^{5×1}, so rank F_L ≤ 2 < N = 5 at every parameter,
    yet every hypothesis of Theorems 3.4/3.5 was reported met (the output layer's identity σ_L was skipped)."""
    arch = _narrow_then_wide_output()
    X = np.random.default_rng(1).standard_normal((5, 3))
    for theorem in (hyp.theorem_3_5, hyp.theorem_3_4):
        hs = {h.name: h.met for h in theorem(arch, X, 2)[0]}
        assert hs.pop("layer 2 is hidden (1 ≤ k ≤ L−1)") is False and all(hs.values()), hs
        assert all(h.met for h in theorem(arch, X, 1)[0]) is False  # n_1 = 1 < 5, the honest reason at k = 1
        with pytest.raises(ValueError, match="`k`=0"):  # theorem_3_4 raised an IndexError
            theorem(arch, X, 0)


@pytest.mark.parametrize("bad", ["nan", "float32", "int64"])
def test_non_finite_or_non_float64_data_make_the_hypotheses_unmet_not_an_exception(bad):
    """finite_float64(X) is Theorem 3.5's first hypothesis, but assumption_3_1 raised before it could be unmet."""
    arch = Architecture((3,), (Dense(5, activation="sigmoid"), Output(1)))
    X = np.random.default_rng(1).standard_normal((5, 3))
    X = {"nan": np.vstack([X[:4], [[np.nan, 0.0, 1.0]]]), "float32": X.astype(np.float32),
         "int64": np.arange(15).reshape(5, 3)}[bad]
    for theorem in (hyp.theorem_3_5, hyp.theorem_3_4):
        hs, report = theorem(arch, X, 1)
        unmet = [h.name for h in hs if not h.met]
        assert unmet == ["X is float64 and finite", "Assumption 3.1 (patches of different samples differ)"], unmet
        assert not applicable(hs) and report["evaluated"] is False


def test_theorem_3_5_check_is_not_applicable_for_an_output_layer_or_nan_data(monkeypatch):
    X = np.random.default_rng(1).standard_normal((5, 3))
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    cases = [("k = L", _narrow_then_wide_output(), X, 2),
             ("nan data", Architecture((3,), (Dense(5, activation="sigmoid"), Output(1))), Xnan, 1)]
    monkeypatch.setattr(pe, "_theorem_3_5_cases", lambda ctx: cases)
    r = pe._theorem_3_5(Context(0), draws=1)
    assert r.verdict is Verdict.NOT_APPLICABLE, r.summary
    unmet = [h["name"] for h in r.to_dict()["hypotheses"] if not h["met"]]
    assert "k = L: layer 2 is hidden (1 ≤ k ≤ L−1)" in unmet, unmet
    assert "nan data: X is float64 and finite" in unmet, unmet


def test_assumption_2_4_holds_when_some_filter_gives_a_full_rank_U():
    """Conv(1, (1,), stride 2) on (4, 1): patches {0}, {2} miss pixels 1 and 3, but U_1 = w [e_0, e_2] ∈ R^{4×2}
    has rank 2 = min(4, 2) for every w ≠ 0, so Assumption 2.4 holds."""
    arch = Architecture((4, 1), (Conv(1, (1,), stride=(2,), activation="sigmoid"), Output(1)))
    assert hyp.assumption_2_4(arch, 1).met
