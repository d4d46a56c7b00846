"""Property tests of §3 over random architectures, data and parameters (theory_lab.strategies).

* Theorem 3.5 on at least 200 distinct random architectures: ``rank F_k = N`` with margin; at most 1 %
  inconclusive on one fixed (derandomized) draw, each reported by name; at any other seed every draw is
  checked (no counterexample, hypotheses met) and its inconclusive cases are printed, not bounded (a rate is
  judged on a fixed sample: hypothesis clusters its draws, see ``test_theorem_3_5_on_200_random_architectures``).
* Converses, each of which must find failures of ``rank F_k = N`` once a hypothesis is broken:
  a narrow layer; Assumption 3.1 defeated by duplicated samples or a patchwork of
  duplicated patches; the identity activation (``rank F_k ≤ d + 1``); ReLU with strongly
  negative biases. Each converse also runs with its breaking setting removed, where the
  failures disappear (or, for ReLU, become rarer).

Counts are printed (``pytest -s``) so that the notes can quote them.

Float64 saturation. Where a real analytic activation is driven far into its tails, its float64
value *is* its asymptote (GELU(t) rounds to t beyond t ≈ 8.3, sigmoid(t) to 1 beyond 36.7), so the
computed network is piecewise affine there, like ReLU, and ``F_k`` can have singular values far below
float64's resolution although its exact rank is ``N``. A conclusive float64 deficit on such a draw
is not a counterexample: where a run must find none, it is tallied as *unresolved in float64* with
the inconclusive cases (same 1 % bound, each printed), never as a pass.
"""

import functools
from pathlib import Path

import numpy as np
from hypothesis import assume, given, settings

from proofs_checks import hypotheses as hyp
from theory_lab import activations
from theory_lab import expressivity as ex
from theory_lab import strategies as tls
from theory_lab.feature_maps import forward_upto

SATURATED = Path(__file__).parent / "data" / "theorem_3_5_float64_saturated.npz"


@functools.lru_cache(maxsize=None)
def float64_saturation(name: str) -> float:
    """The smallest ``T`` (grid step 1/8) from which ``σ`` is affine to the last bit in float64 on the right:
    every second difference ``σ(t+1) − 2σ(t) + σ(t−1)``, ``t ≥ T``, is exactly 0 (``inf`` if none up to 200)."""
    t = np.arange(0.0, 200.0, 0.125)
    fn = activations.get(name)
    second = np.asarray(fn(t + 1.0)) - 2.0 * np.asarray(fn(t)) + np.asarray(fn(t - 1.0))
    curved = np.flatnonzero(second != 0.0)
    if not curved.size:
        return 0.0
    return float(t[curved[-1] + 1]) if curved[-1] + 1 < t.size else float("inf")


def saturated_layers(arch, params, X, k: int) -> list[str]:
    """Layers ``l ≤ k`` with a real analytic activation and a pre-activation ``|G_l| ≥`` its float64 saturation."""
    fwd = forward_upto(arch, params, X, k)
    out = []
    for info in arch.info[:k]:
        if info.activation is None or not activations.get(info.activation).analytic:
            continue
        G, T = float(np.max(np.abs(np.asarray(fwd.G[info.k])))), float64_saturation(info.activation)
        if G >= T:
            out.append(f"layer {info.k} ({info.activation}): max |G| = {G:.3g} >= {T:g}")
    return out

SMALL_D = {"conv1d": ((12, 1), (9, 2)), "dense": ((5,), (8,))}  # d <= 18 < N - 1 for N = 24


def _run(strategy, examples: int, on_example=None, distinct: bool = False, unresolved: bool = False,
         fixed: bool = False):
    """Run ``strategy`` for ``examples`` examples; count conclusive ``rank F_k < N`` and the rest.

    ``fixed``: a derandomized draw (the same examples whatever ``--hypothesis-seed`` or profile), for counts
    that state a frequency rather than a property of each draw.

    ``distinct``: every example counted is a new architecture (repeats are rejected with
    ``assume``), so the number of distinct architectures is the number of examples by construction.
    Inconclusive results are kept by name in ``tally["inconclusive_cases"]``. ``unresolved``: a
    conclusive deficit on a draw saturated in float64 (:func:`saturated_layers`) is tallied as
    inconclusive (its case names the saturated layers), not as a failure.
    """
    tally = {"examples": 0, "failures": 0, "inconclusive": 0, "unexplained": 0, "archs": set(),
             "failing_archs": set(), "inconclusive_cases": []}

    @settings(max_examples=examples, **({"derandomize": True, "database": None} if fixed else {}))
    @given(setup=strategy)
    def check(setup):
        net, X, params = setup
        if distinct:
            assume(net.arch not in tally["archs"])
        r = ex.feature_rank(net.arch, params, X, net.k)
        if on_example is not None:  # before the tally: a failing example replays through the assume above
            on_example(net, X, params, r)
        tally["examples"] += 1
        tally["archs"].add(net.arch)
        # rank F_k < N in exact arithmetic: a clear gap at the tolerance, or a certificate (equal samples);
        # a spectrum decaying smoothly through the tolerance decides neither way
        below = r.below(net.N)
        saturated = saturated_layers(net.arch, params, X, net.k) if unresolved and below else []
        if saturated:
            tally["inconclusive"] += 1
            tally["inconclusive_cases"].append(f"unresolved in float64: {net.arch.layers} on {net.arch.input_shape}, "
                                               f"k={net.k}, N={net.N}: {r}; saturated {saturated}")
        elif below is None:
            tally["inconclusive"] += 1
            # the library names no float64 limit (saturation, near duplicates, forward error) for it
            tally["unexplained"] += not r.unresolved
            tally["inconclusive_cases"].append(f"{net.arch.layers} on {net.arch.input_shape}, k={net.k}, "
                                               f"N={net.N}: {r} {r.unresolved}")
        elif below:
            tally["failures"] += 1
            tally["failing_archs"].add(net.arch)

    check()
    tally["archs"], tally["failing_archs"] = len(tally["archs"]), len(tally["failing_archs"])
    return tally


def _report(name, tally):
    print(f"\n[{name}] examples {tally['examples']}, distinct architectures {tally['archs']}, "
          f"rank F_k < N (conclusive) {tally['failures']} in {tally['failing_archs']} architectures, "
          f"inconclusive {tally['inconclusive']} (unexplained {tally.get('unexplained', 0)})")
    for case in tally["inconclusive_cases"]:
        print(f"  inconclusive: {case}")


def _theorem_3_5_per_draw(net, X, params, r):
    """What Theorem 3.5 promises for one draw: its hypotheses hold, and float64 never certifies ``rank F_k < N``
    unless the draw is saturated in float64 (then it is tallied as unresolved). Inconclusive is allowed."""
    hs, _ = hyp.theorem_3_5(net.arch, X, net.k)
    assert all(h.met for h in hs), [h for h in hs if not h.met]
    assert r.below(net.N) is not True or saturated_layers(net.arch, params, X, net.k), \
        f"counterexample to Theorem 3.5? {net} {r}"


def test_theorem_3_5_on_200_random_architectures():
    """Theorem 3.5 on 210 distinct architectures, twice: a fixed draw and, unless the profile is derandomized
    (then the two coincide), a draw at the profile's seed.

    The 1 % bound on inconclusive decisions is a *frequency* of the strategy (``strategies.resolvable`` is
    "measured to keep inconclusive rank decisions under 1 %"), so it is judged on the fixed draw, as
    ``test_networks_cover_every_kind`` judges its frequencies. At other seeds it is not a property of the draw:
    hypothesis mutates an example it found into neighbours, so one family float64 cannot decide fills several
    of the 210 slots. At ``--hypothesis-seed=1000003`` three draws were inconclusive (1.4 %), all one family —
    1×1 conv (GELU) → Dense(35, GELU) → Dense(256, SiLU or GELU), ``k = 3``, ``N = 256``, unscaled normal
    weights — which is undecidable at most parameters (``tests/test_seeds_s31.py``), while 800 independent
    draws of ``setups()`` (``tools/strategy_distribution.py --ranks --seed 31``) gave 0 inconclusive. Every
    draw at every seed must still be free of counterexamples and meet the hypotheses; its inconclusive cases
    are printed."""
    tally = _run(tls.setups(), 210, _theorem_3_5_per_draw, distinct=True, unresolved=True, fixed=True)
    _report("Theorem 3.5, fixed draw", tally)
    assert tally["failures"] == 0
    assert tally["archs"] == tally["examples"] >= 200  # distinct by construction
    assert tally["inconclusive"] <= 0.01 * tally["examples"], "\n".join(tally["inconclusive_cases"])
    if settings.default.derandomize:
        return  # the profile's draw is the fixed draw above
    tally = _run(tls.setups(), 210, _theorem_3_5_per_draw, distinct=True, unresolved=True)
    _report("Theorem 3.5, this seed's draw", tally)
    assert tally["failures"] == 0
    assert tally["archs"] == tally["examples"] >= 200
    # an inconclusive decision the library cannot attribute to a float64 limit is a tolerance-model question,
    # not the strategy's weight scale: those stay under 1 % at every seed
    assert tally["unexplained"] <= 0.01 * tally["examples"], "\n".join(tally["inconclusive_cases"])


def test_converse_narrow_layer():
    broken = _run(tls.setups(narrow=True), 40)
    control = _run(tls.setups(narrow=False), 25, unresolved=True)
    _report("narrow layer (n_k < N)", broken)
    _report("narrow layer, control n_k >= N", control)
    assert broken["failures"] == broken["examples"] > 0  # rank F_k <= n_k < N, always
    assert control["failures"] == 0


def test_converse_assumption_3_1_defeated():
    dup = _run(tls.setups(assumption_3_1=False, violations=("duplicate_sample",)), 30)
    patch = _run(tls.setups(assumption_3_1=False, violations=("patchwork",), kinds=("conv1d", "conv2d"),
                            max_depth=1), 30)
    conv_first = {"failures": 0}

    def layer_one(net, X, params, r):  # a dense layer 1 has one patch: datasets() duplicates a sample there
        conv_first["failures"] += bool(r.below(net.N)) and net.arch.layer(1).kind == "conv"

    shared = _run(tls.setups(assumption_3_1=False, violations=("shared_patch",), kinds=("conv1d", "conv2d")), 20,
                  layer_one)
    control = _run(tls.setups(assumption_3_1=True, kinds=("conv1d", "conv2d"), max_depth=1), 25, unresolved=True)
    _report("3.1 defeated: duplicated sample", dup)
    _report("3.1 defeated: patchwork of duplicated patches (k = 1)", patch)
    _report("3.1 violated: one shared patch (no rank loss forced)", shared)
    print(f"  of which with a conv layer 1 (a real shared patch, not a duplicate): {conv_first['failures']}")
    _report("3.1 control: generic data", control)
    assert dup["failures"] == dup["examples"] > 0  # two equal rows
    assert patch["failures"] > 0
    assert control["failures"] == 0


def test_converse_identity_activation():
    seen = {"over_d_plus_1": 0}

    def cap(net, X, params, r):
        seen["over_d_plus_1"] += r.rank > net.arch.d + 1

    broken = _run(tls.setups(activations=("identity",), input_shapes=SMALL_D, kinds=("conv1d", "dense"),
                             n_samples=24), 30, cap)
    control = _run(tls.setups(activations=("sigmoid",), input_shapes=SMALL_D, kinds=("conv1d", "dense"),
                              n_samples=24), 25, unresolved=True)
    _report("identity activation", broken)
    _report("identity activation, control sigmoid", control)
    assert seen["over_d_plus_1"] == 0  # F_k is an affine image of X: rank <= d + 1
    assert broken["failures"] == broken["examples"] > 0
    assert control["failures"] == 0


def test_converse_relu_strongly_negative_bias():
    causes = {"explained": 0, "dead": 0}

    def diagnose(net, X, params, r):
        d = ex.diagnose_units(net.arch, params, X, net.k)
        causes["dead"] += "dead units" in d.causes
        causes["explained"] += r.rank < net.N and d.explains_deficiency

    broken = _run(tls.setups(activations=("relu",), bias_mean=(-5.0, -10.0), bias_laws=("normal",)), 30, diagnose)
    control = _run(tls.setups(activations=("relu",), bias_mean=0.0, bias_laws=("normal",)), 30)
    _report("ReLU, bias mean -5 / -10", broken)
    print(f"  draws with dead units {causes['dead']}, deficiencies explained by dead/affine units "
          f"{causes['explained']}")
    _report("ReLU, control bias mean 0", control)
    assert broken["failures"] > 0
    assert control["failures"] < broken["failures"]


def test_feature_rank_never_exceeds_width():
    """Width necessity: rank F_k <= min(N, n_k) on narrow and wide draws alike."""
    def bound(net, X, params, r):
        assert r.rank <= min(net.N, net.n_k)

    tally = _run(tls.setups(narrow=True, activations=("relu", "sigmoid", "tanh"), n_samples=16), 15, bound)
    assert tally["examples"] == 15


def test_float64_saturation_thresholds():
    """GELU rounds to ``t`` from about 8.3 on, sigmoid to 1 and SiLU to ``t`` from about 36.7, softplus to ``t``
    from about 33.3 (its correction e^{−t} falls below half an ulp of ``t``); the threshold adds one for the
    second difference's reach. ReLU is affine to the last bit from 1 on (the kink at 0 is inside the stencil)."""
    assert 8.0 < float64_saturation("gelu") < 10.0
    assert 33.0 < float64_saturation("softplus") < 36.0
    for name in ("sigmoid", "silu"):
        assert 36.0 < float64_saturation(name) < 39.0, name
    assert float64_saturation("relu") == 1.0


def test_a_saturated_analytic_network_loses_float64_rank_but_is_not_a_counterexample():
    """The instance a mutation run's example database kept (s21): dense 5 → 11 softplus → 12 softplus → 24 GELU,
    ``N = 24``, normal weights. Every hypothesis of Theorem 3.5 holds and float64 says rank 21, conclusively;
    at 1,500 digits (mpmath, the same float64 inputs and weights) the four smallest singular values are
    8.4e-75, 1.5e-39, 4.4e-14 and 9.0e-9: the exact rank is 24. GELU's pre-activations reach 29.5 and −47.4,
    where GELU rounds to ``t`` and to 0. No unit saturates on every sample, so the unit-by-unit diagnosis does
    not see it; entry by entry, 283 of the 576 entries of ``F_3`` lie where GELU is within the tolerance of its
    asymptote, and with them free the rank reaches 24. So ``feature_rank`` reports the deficiency as below
    float64 resolution (inconclusive), not as a counterexample, and a planted bug that ignored saturation
    must fail here."""
    from theory_lab.arch import Architecture, Dense, Output

    arch = Architecture((5,), (Dense(11, activation="softplus"), Dense(12, activation="softplus"),
                               Dense(24, activation="gelu"), Output(1)))
    with np.load(SATURATED) as z:
        X = z["X"]
        params = {f"layer_{l}": {"W": z[f"layer_{l}/W"], "b": z[f"layer_{l}/b"]} for l in range(1, 5)}
    hs, _ = hyp.theorem_3_5(arch, X, 3)
    assert all(h.met for h in hs), [h for h in hs if not h.met]
    r = ex.feature_rank(arch, params, X, 3)
    assert r.rank == 21 and r.margin >= r.band          # float64 alone would call this a counterexample ...
    assert r.below(24) is None and not r.conclusive      # ... the saturated entries explain it
    assert r.unresolved.startswith("layer 3 (gelu)") and "283 entries in 22 unit(s)" in r.unresolved
    assert "the rank reaches 24 >= 24, so the missing rank 3 is below float64 resolution" in r.unresolved
    sat = saturated_layers(arch, params, X, 3)
    assert len(sat) == 1 and sat[0].startswith("layer 3 (gelu)")
