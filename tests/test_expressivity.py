"""Tests of theory_lab.expressivity, the public face of §3, and of the registered §3 checks.

The machinery has its own test files, mirroring its modules: test_sampling.py,
test_feature_maps.py, test_rank_probes.py, test_witness.py, test_exact_fit.py.
"""

from theory_lab import exact_fit, expressivity as ex, feature_maps, rank_probes, sampling, witness

_HOMES = {"sample_params": sampling, "as_generator": sampling, "BIAS_LAWS": sampling,
          "feature_rank": feature_maps, "features_upto": feature_maps, "full_weight_matrix": feature_maps,
          "UnitDiagnosis": rank_probes, "diagnose_units": rank_probes, "FrequencyReport": rank_probes,
          "rank_frequency": rank_probes, "wilson_interval": rank_probes, "clopper_pearson_interval": rank_probes,
          "Witness": witness, "construct_full_rank": witness,
          "ExactFit": exact_fit, "exact_fit": exact_fit, "with_output_layer": exact_fit,
          "parameter_counts": exact_fit}


# ----------------------------------------------------------------------------- the public face

def test_public_names_are_the_topic_modules_objects():
    """``from theory_lab.expressivity import X`` gives the very object its topic module defines."""
    assert sorted(ex.__all__) == sorted(_HOMES)
    for name, home in _HOMES.items():
        assert getattr(ex, name) is getattr(home, name), name
        assert name in home.__all__, name


# ----------------------------------------------------------------------------- the registered checks

def test_checks_registered_with_kinds():
    from proofs_checks.expressivity import CHECKS
    from theory_lab.checking import discover

    ids = {c.id for c in discover()}
    assert {c.id for c in CHECKS} <= ids
    assert {c.kind for c in CHECKS} == {"check", "converse", "probe"}
    assert all(c.id.startswith("probe-") == (c.kind == "probe") for c in CHECKS)


def test_cheap_checks_verdicts():
    from proofs_checks.expressivity import CHECKS
    from theory_lab.checking import Context, Verdict

    by_id = {c.id: c for c in CHECKS}
    ctx = Context(seed=0)
    for cid, verdict in (("corollary-3.6", Verdict.HOLDS), ("corollary-3.6-narrow", Verdict.HOLDS),
                         ("theorem-3.4-converse", Verdict.HOLDS), ("probe-tanh", Verdict.MEASURED)):
        result = by_id[cid].run(ctx)
        assert result.verdict == verdict, (cid, result.summary)
    tanh = by_id["probe-tanh"].run(ctx).evidence["rows"][0]
    assert tanh["draws"] == tanh["full_rank"] + tanh["deficient"] + tanh["inconclusive"]
    assert 0.0 <= tanh["ci95"][0] <= tanh["frequency_deficient"] <= tanh["ci95"][1] <= 1.0


def test_theorem_3_5_check_is_inconclusive_inside_the_band(monkeypatch):
    """A draw whose smallest singular value sits inside the tolerance band never gives 'holds'."""
    import proofs_checks.expressivity as pe
    from theory_lab.checking import Context, Verdict

    real = feature_maps.feature_rank
    monkeypatch.setattr(pe.feature_maps, "feature_rank", lambda *a, **kw: real(*a, band=1e30))
    result = pe._theorem_3_5(Context(seed=0), draws=1)
    assert result.verdict == Verdict.INCONCLUSIVE
    draws = [o for o in result.evidence["observations"] if o["name"].startswith("digits-200 sigmoid")]
    assert draws and all(not o["conclusive"] and o["holds"] for o in draws)
    assert result.summary.startswith("inconclusive: rank F_k = N") and "inside the tolerance band" in result.summary
