"""Unit tests of theory_lab.rank_probes: diagnose_units, rank_frequency, wilson_interval."""

import numpy as np
import pytest

from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.feature_maps import feature_rank, features_upto
from theory_lab.linalg import rank_report
from theory_lab.rank_probes import diagnose_units, rank_frequency, wilson_interval
from theory_lab.sampling import sample_params


def test_diagnose_units_counts_dead_and_affine_units():
    arch = Architecture((1,), (Dense(4, activation="relu"), Output(1)))
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    # unit 0 dead (always < 0), unit 1 always positive (affine), units 2, 3 change sign
    params = {"layer_1": {"W": np.array([[-1.0, 1.0, 1.0, -1.0]]), "b": np.array([-1.0, 1.0, -2.5, 3.5])},
              "layer_2": {"W": np.zeros((4, 1)), "b": np.zeros(1)}}
    d = diagnose_units(arch, params, X, 1)
    row = d.layers[0]
    assert (row["dead"], row["no_sign_change"], row["positive"], row["negative"]) == (1, 1, 1, 0)
    assert d.causes == ("dead units", "units whose pre-activation never changes sign")
    # 2 sign-changing units + min(1 affine unit, rank [F_0, 1] = 2) = 3 < N = 5
    assert d.bound == 3 and d.explains_deficiency
    assert rank_report(features_upto(arch, params, X, 1)).rank <= d.bound


def test_diagnose_units_bound_is_an_upper_bound(rng):
    arch = Architecture((8, 1), (Conv(2, (3,), activation="relu"), Conv(3, (2,), activation="leaky_relu(0.1)"),
                                 Output(1)))
    X = rng.standard_normal((20, 8, 1))
    for seed in range(6):
        params = sample_params(arch, seed, bias_mean=-0.3 * seed)
        d = diagnose_units(arch, params, X, 2)
        assert feature_rank(arch, params, X, 2).rank <= d.bound
        assert [r["layer"] for r in d.layers] == [1, 2]


def test_diagnose_units_no_bound_for_analytic():
    arch = Architecture((3,), (Dense(5), Output(1)))
    d = diagnose_units(arch, sample_params(arch, 0), np.eye(3), 1)
    assert d.bound is None and not d.explains_deficiency


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(5, 10)
    assert abs(lo - 0.2366) < 1e-4 and abs(hi - 0.7634) < 1e-4
    assert wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="successes=11, trials=10"):
        wilson_interval(11, 10)


def test_rank_frequency_counts(rng):
    arch = Architecture((4,), (Dense(12, activation="relu"), Output(1)))
    X = rng.standard_normal((10, 4))
    dead = rank_frequency(arch, X, 1, draws=3, bias_mean=-40.0, key=1)
    assert (dead.deficient, dead.with_dead, dead.explained, dead.min_rank) == (3, 3, 3, 0)
    assert dead.to_dict()["frequency_deficient"] == 1.0
    wide = rank_frequency(arch.replace(layers=(Dense(12, activation="sigmoid"), Output(1))), X, 1, draws=3, key=1)
    assert (wide.full, wide.deficient, wide.inconclusive) == (3, 0, 0)
    with pytest.raises(ValueError, match="`draws`=0 must be a positive int"):
        rank_frequency(arch, X, 1, draws=0)
