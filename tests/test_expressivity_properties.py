"""Property tests of §3 over random architectures, data and parameters (theory_lab.strategies).

* Theorem 3.5 on at least 200 distinct random architectures: ``rank F_k = N`` with margin; at most 1 %
  inconclusive, each reported by name.
* Converses, each of which must find failures of ``rank F_k = N`` once a hypothesis is broken:
  a narrow layer; Assumption 3.1 defeated by duplicated samples or a patchwork of
  duplicated patches; the identity activation (``rank F_k ≤ d + 1``); ReLU with strongly
  negative biases. Each converse also runs with its breaking setting removed, where the
  failures disappear (or, for ReLU, become rarer).

Counts are printed (``pytest -s``) so that the notes can quote them.
"""

from hypothesis import assume, given, settings

from proofs_checks import hypotheses as hyp
from theory_lab import expressivity as ex
from theory_lab import strategies as tls

SMALL_D = {"conv1d": ((12, 1), (9, 2)), "dense": ((5,), (8,))}  # d <= 18 < N - 1 for N = 24


def _run(strategy, examples: int, on_example=None, distinct: bool = False):
    """Run ``strategy`` for ``examples`` examples; count conclusive ``rank F_k < N`` and the rest.

    ``distinct``: every example counted is a new architecture (repeats are rejected with
    ``assume``), so the number of distinct architectures is the number of examples by construction.
    Inconclusive results are kept by name in ``tally["inconclusive_cases"]``.
    """
    tally = {"examples": 0, "failures": 0, "inconclusive": 0, "archs": set(), "failing_archs": set(),
             "inconclusive_cases": []}

    @settings(max_examples=examples)
    @given(setup=strategy)
    def check(setup):
        net, X, params = setup
        if distinct:
            assume(net.arch not in tally["archs"])
        r = ex.feature_rank(net.arch, params, X, net.k)
        tally["examples"] += 1
        tally["archs"].add(net.arch)
        if on_example is not None:
            on_example(net, X, params, r)
        # rank F_k < N in exact arithmetic: a clear gap at the tolerance, or a certificate (equal samples);
        # a spectrum decaying smoothly through the tolerance decides neither way
        below = r.below(net.N)
        if below is None:
            tally["inconclusive"] += 1
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
          f"inconclusive {tally['inconclusive']}")
    for case in tally["inconclusive_cases"]:
        print(f"  inconclusive: {case}")


def test_theorem_3_5_on_200_random_architectures():
    def hypotheses_met(net, X, params, r):
        hs, _ = hyp.theorem_3_5(net.arch, X, net.k)
        assert all(h.met for h in hs), [h for h in hs if not h.met]
        assert r.below(net.N) is not True, f"counterexample to Theorem 3.5? {net} {r}"

    tally = _run(tls.setups(), 210, hypotheses_met, distinct=True)
    _report("Theorem 3.5", tally)
    assert tally["failures"] == 0
    assert tally["archs"] == tally["examples"] >= 200  # distinct by construction
    assert tally["inconclusive"] <= 0.01 * tally["examples"], "\n".join(tally["inconclusive_cases"])


def test_converse_narrow_layer():
    broken = _run(tls.setups(narrow=True), 40)
    control = _run(tls.setups(narrow=False), 25)
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
    control = _run(tls.setups(assumption_3_1=True, kinds=("conv1d", "conv2d"), max_depth=1), 25)
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
                              n_samples=24), 25)
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
