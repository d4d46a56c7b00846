"""The saturation rules against identical units of an earlier layer (stop 29, left-overs of the expressivity review).

Truth by construction: units equal in exact arithmetic (same column of ``U_l``, same bias, same inputs) give
equal columns of ``F_l``; a later unit that reads one of them and its twin that reads the other with the same
weight are then equal columns of ``F_k`` too, so ``rank F_k ≤ n_k − 1`` exactly. docs/planted_bugs.md,
"Expressivity left-overs (stop 29)".
"""

from __future__ import annotations

import numpy as np
import pytest

from proofs_checks import hypotheses as hyp
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.evidence import Evidence
from theory_lab.feature_maps import feature_rank, forward_upto
from theory_lab.generic_rank import identical_units
from theory_lab.sampling import sample_params

N = 10


def _twins_behind_a_saturated_layer(twin: bool):
    """Dense 3 → 4 → 10 → 1 softplus, ``N = 10``. Layer 1's weights ×1e3 and biases −1e3 (pre-activations beyond
    ±27 on most entries: float64 shows softplus's asymptote there), layer 2's weights ×1e-3 (moderate). Layer 1's
    unit 3 is identical to its unit 0. ``twin``: layer 2's unit 1 reads layer 1's unit 3 with the weight unit 0
    gives layer 1's unit 0, and nothing else differs, so columns 0 and 1 of F_2 are equal in exact arithmetic."""
    arch = Architecture((3,), (Dense(4, activation="softplus"), Dense(N, activation="softplus"), Output(1)))
    X = np.random.default_rng(0).standard_normal((N, 3))
    p = {name: {key: np.array(a) for key, a in layer.items()} for name, layer in sample_params(arch, 0).items()}
    W1, b1, W2, b2 = p["layer_1"]["W"], p["layer_1"]["b"], p["layer_2"]["W"], p["layer_2"]["b"]
    W1 *= 1e3
    b1 -= 1e3
    W2 *= 1e-3
    W1[:, 3], b1[3] = W1[:, 0], b1[0]
    if twin:
        W2[:, 1], b2[1] = W2[:, 0], b2[0]
        W2[0, 1], W2[3, 1], W2[3, 0] = 0.0, W2[0, 0], 0.0
    return arch, p, X


def test_identical_earlier_units_get_the_same_nudge():
    """Was: layer 1's units 0 and 3 nudged independently, so F_2's columns 0 and 1 came apart and the report said
    'F_2 reaches rank 10 >= 10', unresolved, while rank F_2 ≤ 9 < N in exact arithmetic. Every Theorem 3.5
    hypothesis holds (the instance lies in its null set), so a converse expecting a deficit got inconclusive."""
    arch, p, X = _twins_behind_a_saturated_layer(twin=True)
    assert all(h.met for h in hyp.theorem_3_5(arch, X, 2)[0])
    same = identical_units(p["layer_1"]["W"], p["layer_1"]["b"])
    assert same[0] == same[3] and len(set(same.tolist())) == 3
    fw = forward_upto(arch, p, X, 2)
    G1 = np.asarray(fw.G[1])
    assert np.array_equal(G1[:, 0], G1[:, 3]) and (np.abs(G1) > 27.375).sum() > 20  # saturated, and equal
    r = feature_rank(arch, p, X, 2)
    assert r.rank < N and r.conclusive and r.unresolved == "", r.unresolved
    assert r.below(N) is True and Evidence().rank("F_2", r, N).conclusive


def test_identical_earlier_units_still_let_the_rule_resolve_a_generic_layer():
    """Converse: the same identical units of layer 1 read generically by layer 2 (no twin): the exact rank can be
    N, and the earlier-layer rule still calls the float64 deficit (rank 3) unresolved."""
    arch, p, X = _twins_behind_a_saturated_layer(twin=False)
    r = feature_rank(arch, p, X, 2)
    assert r.rank == 3 and not r.conclusive and r.below(N) is None
    assert r.unresolved.startswith("rounding at earlier layers") and "reaches rank 10 >= 10" in r.unresolved


@pytest.mark.parametrize("activation", ["softplus", "gelu"])
def test_twins_reading_identical_earlier_units_lift_the_rank_once(activation):
    """Layer 1 moderate, layer 2's weights ~1e-3: its units are polynomial to rounding (the layer-k rule). Units 0
    and 1 of layer 2 have different columns of U_2 but read layer 1's identical units 0 and 3 with the same
    weight, so they are equal in exact arithmetic and rank F_2 ≤ 9 < N. Was: counted as two, 'they can reach
    rank 10', unresolved."""
    arch = Architecture((3,), (Dense(4, activation=activation), Dense(N, activation=activation), Output(1)))
    _, p, X = _twins_behind_a_saturated_layer(twin=True)
    p["layer_1"]["W"] *= 1e-3
    p["layer_1"]["b"] += 1e3
    same = identical_units(p["layer_2"]["W"], p["layer_2"]["b"], identical_units(p["layer_1"]["W"], p["layer_1"]["b"]))
    assert same[0] == same[1] and len(set(same.tolist())) == N - 1
    r = feature_rank(arch, p, X, 2)
    assert r.rank == N - 1 and r.conclusive and r.unresolved == "", r.unresolved


def test_identical_inputs_are_merged_in_exact_arithmetic():
    """Rows 0 and 1 of U come from identical inputs: only their sum matters. 1 + 1e-17 and 1 + 0 round to the same
    float64 but differ exactly, so those units are not identical (merging in float64 would make a deficit look
    exact); 0.25 + 0.5 and 0.5 + 0.25 are identical."""
    U = np.array([[1.0, 1.0, 0.25, 0.5], [1e-17, 0.0, 0.5, 0.25], [3.0, 3.0, 2.0, 2.0]])
    same = identical_units(U, np.zeros(4), inputs=np.array([7, 7, 2]))
    assert same[0] != same[1] and same[2] == same[3] and len(set(same.tolist())) == 3
    assert len(set(identical_units(U, np.zeros(4)).tolist())) == 4  # without the merge: all distinct
