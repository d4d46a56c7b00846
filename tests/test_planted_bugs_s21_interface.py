"""Planted bugs in the user-facing layer that the rest of the suite let through.

A mutation audit planted one realistic bug at a time in the command line (``cli``, ``commands``),
the compile cache, the presets, the reports and their figures, the hypothesis strategies and the
test helpers, and ran the tests of that module. Each test here kills one or more survivors by
checking a documented behaviour (a documented formula, a message naming the option, a file that
is written whole or not at all, a figure showing the numbers it says it shows), never the
implementation's internals; its docstring names the planted bug. CLI runs stop at a refusal
before any computation (an ``--out`` that is a file is refused last, so a refusal of anything else
means that option's check fired), which keeps this file cheap.
"""

import dataclasses
import json
import os
import re
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
from hypothesis import given, settings
from typer.testing import CliRunner

from theory_lab import activations, compile_cache, evidence_figures, report
from theory_lab import strategies as tls
from theory_lab.arch import Architecture, Conv, Dense, Output, PatchLayer, PatchMaxPool
from theory_lab.checking import Check, Context, Hypothesis, Record, Result, Verdict, run_check
from theory_lab.cli import app
from theory_lab.linalg import rank_report
from theory_lab.testing import matrix_with_singular_values, probe_activation, tree_allclose

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})
ARCH = Architecture((3,), (Dense(4), Output(1)))


def _text(result) -> str:
    return " ".join(result.output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


# ----------------------------------------------------------------------------- testing (the helpers)


def test_default_float32_tolerance_refuses_a_thousand_ulps():
    """Planted bug: the float32 default ``rtol`` loosened from 1e-5 to 1e-3.

    float32's eps is 1.2e-7; a relative error of 1e-4 is ~800 ulps, not rounding, and a comparison
    that accepted it would let a float32-precision bug through every test using the defaults.
    """
    x = np.linspace(1.0, 2.0, 5, dtype=np.float32)
    assert tree_allclose(x * np.float32(1 + 5e-6), x)
    assert not tree_allclose(x * np.float32(1 + 1e-4), x)


def test_rtol_is_relative_to_the_second_argument():
    """Planted bug: the bound used ``rtol·|a|`` instead of the documented ``rtol·|b|``.

    ``|2 − 1| = 1``: within ``0.6·|2|`` but not within ``0.6·|1|``, so the comparison is asymmetric.
    """
    assert not tree_allclose(np.array([2.0]), np.array([1.0]), rtol=0.6, atol=0.0)
    assert tree_allclose(np.array([1.0]), np.array([2.0]), rtol=0.6, atol=0.0)


def test_matrix_with_negative_singular_values_is_refused(rng):
    """Planted bug: the ``s < 0`` check dropped; ``U diag(s) Vᵀ`` then has singular values ``|s|``, not ``s``."""
    with pytest.raises(ValueError, match=r"`s` must be at most min\(3, 4\) = 3 non-negative values"):
        matrix_with_singular_values([1.0, -0.5], (3, 4), rng)


def test_probe_finds_a_constant_activation_constant():
    """Planted bug: ``non_constant`` tested ``ptp ≥ 0`` (always true); a constant σ then passed Assumption 3.2."""
    const = dataclasses.replace(activations.get("sigmoid"), name="constant", fn=lambda t: 0.0 * t + 0.5)
    probe = probe_activation(const)
    assert probe["non_constant"] is False and probe["assumption_3_2"] is False
    assert probe["continuous"] is True and probe["clause_a"] is False


# ----------------------------------------------------------------------------- compile_cache


def test_an_empty_environment_variable_means_unset_and_a_tilde_is_expanded():
    """Planted bugs: ``THEORY_LAB_COMPILE_CACHE=""`` refused as an empty folder instead of meaning unset;
    ``~`` not expanded (a folder literally named ``~`` in the working directory)."""
    env = {compile_cache.ENV: "", "XDG_CACHE_HOME": "/xdg"}
    assert compile_cache.resolve(None, env) == Path("/xdg/theory-lab/jax")
    assert compile_cache.resolve("~/tl-cache", {}) == Path.home() / "tl-cache"
    assert compile_cache.resolve(None, {compile_cache.ENV: "~/tl-env"}) == Path.home() / "tl-env"


def test_enable_reads_the_environment_it_is_given(tmp_path):
    """Planted bug: ``enable(value, env)`` resolved against ``os.environ``, ignoring ``env``."""
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match=r"is a file, not a folder"):
        compile_cache.enable(None, env={compile_cache.ENV: str(f)})


def test_an_unwritable_cache_folder_is_refused(tmp_path, monkeypatch):
    """Planted bug: the writability check dropped (JAX then fails or silently caches nothing).

    Tests may run as root, where permission bits do not bind, so the refusal is simulated.
    """
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path / "ro" else real_access(p, mode))
    with pytest.raises(ValueError, match=r"the compile cache folder '.*ro' is not writable; give a writable folder"):
        compile_cache.enable(str(tmp_path / "ro"), env={})


def test_a_bad_cache_folder_from_the_environment_says_where_it_came_from(tmp_path):
    """Planted bug: the CLI said ``(from $THEORY_LAB_COMPILE_CACHE or the default)`` for an explicit
    ``--compile-cache`` and nothing for the environment variable (the condition inverted)."""
    f = tmp_path / "file"
    f.write_text("x")
    res = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1", compile_cache.ENV: str(f)}).invoke(
        app, ["verify", "--list"])
    assert res.exit_code == 2
    assert "is a file, not a folder" in _text(res) and "(from $THEORY_LAB_COMPILE_CACHE or the default)" in _text(res)
    res = runner.invoke(app, ["--compile-cache", str(f), "verify", "--list"])
    assert res.exit_code == 2 and "is a file, not a folder" in _text(res) and "(from $" not in _text(res)


# ----------------------------------------------------------------------------- report


def test_write_atomic_stages_a_hidden_file_in_the_target_folder(tmp_path, monkeypatch):
    """Planted bug: ``mkstemp`` in the system temp folder; ``os.replace`` across file systems then fails
    (or copies, which is not atomic). The docstring promises a temporary file in the same folder."""
    staged = []
    real_replace = os.replace

    def replace(src, dst):
        staged.append(Path(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "sub" / "results.json"
    report.write_atomic(path, "{}")
    assert len(staged) == 1 and staged[0].parent == path.parent and staged[0].name.startswith(".results.json.")
    assert path.read_text() == "{}" and not staged[0].exists()


def _record(check_id, verdict=Verdict.HOLDS, hypotheses=(), broken=(), datasets=(), kind="check"):
    result = Result(verdict, list(hypotheses), 2.0, {}, f"{verdict.value}: fine", broken=tuple(broken))
    return Record(Check(check_id, "Lemma 0", "t", lambda ctx: result, kind=kind), result, 0.1, None, list(datasets))


def test_results_json_lists_each_data_set_once():
    """Planted bug: the run's ``datasets`` concatenated every record's list, repeating shared data sets."""
    digits = {"name": "digits", "N": 200, "noise": 1e-6, "seed": 0}
    other = {"name": "mnist1d", "N": 200, "noise": 0.0, "seed": 42}
    data = json.loads(report.results_json([_record("a", datasets=[digits]), _record("b", datasets=[digits, other])], 0))
    assert data["datasets"] == [digits, other]
    assert [c["datasets"] for c in data["checks"]] == [[digits], [digits, other]]


def test_hypotheses_met_column_of_a_converse():
    """Planted bugs: report.md's "hypotheses met" showed ``set_up`` (yes for a converse that breaks a
    hypothesis); report.html said "broken on purpose" for a converse whose broken hypothesis is met."""
    set_up = _record("conv-set-up", hypotheses=[Hypothesis("wide", False), Hypothesis("3.1", True)],
                     broken=["wide"], kind="converse")
    not_set_up = _record("conv-not-set-up", Verdict.NOT_APPLICABLE,  # meant to break "wide", but it is met
                         [Hypothesis("wide", True), Hypothesis("3.1", False)], ["wide"], kind="converse")
    md = report.report_markdown([set_up, not_set_up], seed=0)
    assert "| `conv-set-up` | Lemma 0 | converse | no | **holds** |" in md
    page = report.report_html([set_up, not_set_up], seed=0, figures={})
    rows = [row.split("</tr>")[0] for row in page.split('<tr class="check"')[1:]]
    assert "<td>broken on purpose</td>" in rows[0] and "<td>no</td>" in rows[1]


def test_html_tally_counts_and_anchors_are_valid_ids():
    """Planted bugs: the tally counted each verdict once (``= 1``, not ``+ 1``); the anchor kept spaces and
    slashes of a check id, which are not valid in an HTML id and break the row's link."""
    page = report.report_html([_record("a b/c"), _record("d"), _record("e", Verdict.FAILS)], seed=0, figures={})
    assert ">2 holds</span>" in page and ">1 fails</span>" in page
    assert '<details id="check-a_b_c"' in page and '<a href="#check-a_b_c">a b/c</a>' in page


# ----------------------------------------------------------------------------- evidence_figures


def _obs(name, margin, holds=True, conclusive=True):
    return {"name": name, "holds": holds, "conclusive": conclusive, "margin": margin, "tolerance": "x, band 10"}


def test_observation_figure_draws_the_deciding_margins_and_exact_facts(drawn):
    """Planted bugs: the largest margins drawn instead of the smallest (the ones that decide); JSON's
    ``"inf"`` margin of an exact fact read as NaN (or dropped as not finite), so no figure."""
    obs = [_obs(f"m{i}", 10.0 ** i) for i in range(6)]
    assert evidence_figures.observation_figure("c", {"observations": obs}, max_rows=3)[:4] == b"\x89PNG"
    labels = [t.get_text() for t in drawn[-1].axes[0].get_yticklabels()]
    assert sorted(labels) == ["m0", "m1", "m2"]
    png = evidence_figures.observation_figure("c", [{"name": "exact", "holds": True, "conclusive": True,
                                                     "margin": "inf"}])
    assert png is not None and png[:4] == b"\x89PNG"


def test_observation_figure_colours_each_conclusion_differently(drawn):
    """Planted bug: a violated observation coloured as holding (the state read ``conclusive`` for ``holds``)."""
    obs = [_obs("holds", 100.0), _obs("violated", 50.0, holds=False), _obs("unsure", 3.0, conclusive=False)]
    evidence_figures.observation_figure("c", obs)
    bars = {p.get_y() + p.get_height() / 2: p.get_facecolor() for p in drawn[-1].axes[0].patches}
    assert len(bars) == 3 and len(set(bars.values())) == 3


RANK = {"shape": [3, 5], "rank": 3, "sigma_max": 4.0, "tol": 1e-3, "smallest_singular_values": [0.5, 1.0, 4.0]}


def test_rank_figure_draws_singular_values_and_tolerance_over_sigma_max_once_per_matrix(drawn):
    """Planted bugs: singular values or the tolerance line not divided by ``σ_max``; the same matrix
    under two names drawn twice (deduplicated by path instead of by its numbers)."""
    evidence_figures.rank_figure("c", {"F_1": RANK, "again": dict(RANK)})
    ax = drawn[-1].axes[0]
    curves = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(curves) == 1
    np.testing.assert_allclose(curves[0].get_ydata(), [0.125, 0.25, 1.0], rtol=1e-15)
    tol_lines = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(tol_lines) == 1 and tol_lines[0].get_ydata()[0] == pytest.approx(2.5e-4, rel=1e-15)


def test_rank_readers_ignore_partial_reports_and_zero_sigma_max():
    """Planted bugs: a dict with *some* rank keys (``{"rank": 3}``) taken for a rank report (the figure
    then fails on its missing ``sigma_max``); ``σ_max = 0`` divided by (a zero matrix has no scale)."""
    assert evidence_figures.rank_evidence({"F": {"rank": 3, "tol": 0.1}}) == []
    zero = dict(RANK, sigma_max=0.0, smallest_singular_values=[0.0, 0.0, 0.0])
    assert evidence_figures.rank_figure("c", {"F": zero}) is None
    record = run_check(Check("r", "Lemma 0", "t", lambda ctx: Result(Verdict.HOLDS, [], 2.0, {"F": {"rank": 3}})),
                       Context(0))
    assert evidence_figures.evidence_figures(record) == []


# ----------------------------------------------------------------------------- cli (verify)


@pytest.fixture
def local_registry(monkeypatch):
    from theory_lab import checking

    monkeypatch.setattr(checking, "_LOCAL", [])
    return checking._LOCAL


def test_several_check_patterns_select_the_union_and_probes_are_a_kind():
    """Planted bugs: ``--check`` patterns combined with ``all`` (two patterns then match nothing and
    refuse); ``probe`` missing from the kinds ``--kind`` accepts."""
    res = runner.invoke(app, ["verify", "--list", "--check", "lemma-2.5", "--check", "assumption-3.1"])
    assert res.exit_code == 0, res.output
    assert "lemma-2.5" in res.output and "assumption-3.1" in res.output and "width-necessity" not in res.output
    res = runner.invoke(app, ["verify", "--list", "--kind", "probe"])
    assert res.exit_code == 0 and "probe-maxpool" in res.output and "lemma-2.5" not in res.output


def test_verify_passes_its_seed_and_strict_spares_probes(tmp_path, local_registry):
    """Planted bugs: the checks' context built with seed 0 whatever ``--seed`` said; ``--strict`` also
    failing an *inconclusive* probe (a probe measures; only checks and converses are held to a verdict)."""
    local_registry.append(Check("test-s21-seed", "Test item", "reports its seed",
                                lambda ctx: Result(Verdict.HOLDS, [Hypothesis("h", True)], 2.0, {"seed": ctx.seed})))
    local_registry.append(Check("test-s21-probe", "Test item", "an unsure probe", kind="probe",
                                run=lambda ctx: Result(Verdict.INCONCLUSIVE, [Hypothesis("h", True)], 1.5, {})))
    res = runner.invoke(app, ["verify", "--strict", "--seed", "5", "--check", "test-s21-*", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    checks = json.loads((tmp_path / "results.json").read_text())["checks"]
    assert [c["evidence"] for c in checks] == [{"seed": 5}, {}] and checks[1]["verdict"] == "inconclusive"


def test_verify_builds_every_report_before_writing_any(tmp_path, local_registry, monkeypatch):
    """Planted bug: each report written as soon as it was built; a failure building report.html then left a
    new results.json beside the previous report.md (a mixed set)."""
    import theory_lab.cli as cli

    def broken(records, seed):
        raise RuntimeError("report.html failed (simulated)")

    monkeypatch.setattr(cli, "report_html", broken)
    local_registry.append(Check("test-s21-ok", "Test item", "holds", lambda ctx: Result(Verdict.HOLDS)))
    (tmp_path / "report.md").write_text("previous")
    res = runner.invoke(app, ["verify", "--check", "test-s21-ok", "-o", str(tmp_path)])
    assert res.exit_code != 0 and isinstance(res.exception, RuntimeError)
    assert (tmp_path / "report.md").read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["report.md"]


# ----------------------------------------------------------------------------- commands/options


def test_option_validators_at_their_edges(tmp_path):
    """Planted bugs: ``at_least`` refusing its bound (``<=``) or accepting a bool; ``out_dir`` on a file
    saying "cannot be created" instead of asking for a folder; ``out_file`` refusing to replace an
    existing file (it checked the file itself as a folder to write into)."""
    from theory_lab.commands import options

    assert options.at_least(1, 1, "--k") == 1 and options.at_least(0, 0, "--exact-max") == 0
    with pytest.raises(Exception, match=r"True is too small; expected an integer >= 1"):
        options.at_least(True, 1, "--k")
    f = tmp_path / "widths.json"
    f.write_text("old")
    assert options.out_file(f, "--json") == f
    with pytest.raises(Exception, match=r"is a file; give a folder for the outputs"):
        options.out_dir(f)


# ----------------------------------------------------------------------------- commands/spectrum


def _refused(args, tmp_path) -> str:
    """The refusal of a spectrum/demo run whose ``--out`` is a file (refused last, before any work)."""
    taken = tmp_path / "taken"
    taken.write_text("keep")
    res = runner.invoke(app, [*args, "--out", str(taken)])
    assert res.exit_code == 2, res.output
    assert taken.read_text() == "keep"
    return _text(res)


@pytest.mark.parametrize("args", [
    ["spectrum", "--data", "gaussian", "--noise", "0"],  # no noise is what gaussian data have
    ["spectrum", "--exact-max", "0"],  # 0: always estimate the inertia
    ["demo", "rank-jump", "--n", "1797"],  # all the digits
    ["demo", "slices", "--starts", "2"],
    ["demo", "rank-jump", "--n", "20", "--duplicates", "10"],  # N/2
])
def test_options_at_their_allowed_edges_are_accepted(args, tmp_path):
    """Planted bugs: ``--noise 0`` refused with ``--data gaussian`` (``>=`` for ``>``); ``--exact-max 0``
    refused; ``--n 1797`` (every digit), ``--duplicates N/2`` and ``slices --starts`` refused by an
    off-by-one or a missing name. Each option is accepted, so the refusal is the ``--out`` file's."""
    text = _refused(args, tmp_path)
    assert "Invalid value for --out" in text and "is a file; give a folder" in text


def test_spectrum_params_folder_and_model_block_are_named(tmp_path):
    """Planted bugs: a folder given to ``--params`` passed ``exists()`` and failed inside the loader; the
    ``--model`` path's block error said `block` (the library's argument) instead of `--block`."""
    (tmp_path / "p").mkdir()
    res = runner.invoke(app, ["spectrum", "--params", str(tmp_path / "p"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "Invalid value for --params: `--params`=" in _text(res) and "nor an existing .npz file" in _text(res)
    (tmp_path / "tiny.py").write_text("import jax.numpy as jnp\nimport numpy as np\n"
                                      "def factory():\n    X = np.linspace(0, 1, 6).reshape(3, 2)\n"
                                      "    return (lambda p, X: X @ p['w']), {'w': np.ones((2, 1))}, (X, X[:, :1])\n")
    res = runner.invoke(app, ["spectrum", "--model", f"{tmp_path / 'tiny.py'}:factory", "--block", "nope",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "Invalid value for --block: `--block`='nope'" in _text(res), res.output
    assert not (tmp_path / "o").exists()


def test_spectrum_random_point_noise_seed_and_budgets(tmp_path, monkeypatch):
    """Planted bugs: ``--params random`` flattened ``W`` transposed or drew from seed 0; ``--noise`` ignored
    for digits; ``--probes`` and ``--steps`` swapped; ``spectrum.json`` written before the figure was
    built, so a failed figure left a new JSON beside the previous PNG.

    The reported loss is recomputed from the documented law: θ = ``sample_params(arch, default_rng([seed,
    PARAMS_STREAM]))`` flattened (s34: a stream of its own, not the data's ``default_rng(seed)``).
    """
    from theory_lab import data
    from theory_lab import derivatives as D
    from theory_lab.presets import architecture
    from theory_lab.sampling import sample_params

    args = ["spectrum", "--arch", "digits-small", "--n", "4", "--seed", "3", "--noise", "0", "--k", "1",
            "--probes", "2", "--steps", "5", "--trace-matvecs", "6"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "a" / "spectrum.json").read_text())
    assert rep["dataset"] == {"name": "digits", "N": 4, "noise": 0.0, "seed": 3}
    assert (rep["density"]["num_probes"], rep["density"]["num_matvecs_per_probe"]) == (2, 5)
    arch = architecture("digits-small")
    from theory_lab.commands.spectrum import PARAMS_STREAM

    theta, _ = D.flatten(sample_params(arch, np.random.default_rng([3, PARAMS_STREAM])))
    ds = data.digits(4, noise=0.0, seed=3)
    assert rep["loss"] == pytest.approx(float(D.loss(D.objective(arch), theta, ds.X, ds.Y)), rel=1e-12)

    def savefig(self, *a, **k):
        raise OSError("figure failed (simulated)")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "spectrum.json").write_text("previous")
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert res.exit_code != 0 and isinstance(res.exception, OSError)
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["spectrum.json"]
    assert (tmp_path / "b" / "spectrum.json").read_text() == "previous"


# ----------------------------------------------------------------------------- commands/widths


def _cells(output: str, first: str) -> list[str]:
    line = next(x for x in output.splitlines() if x.startswith("│") and x.split("│")[1].strip() == first)
    return [c.strip() for c in line.split("│")[1:-1]]


def test_widths_layer_marks_thresholds_and_paper_numbers():
    """Planted bugs: the layer table compared widths with ImageNet's N for an MNIST network; the ``max``
    mark put on every layer but the widest; the paper's 67,600 printed as "67K" (``n % 100`` for
    ``n % 1000``); the ``n_1≥N`` and ``max≥N`` columns swapped."""
    res = runner.invoke(app, ["widths", "--network", "figure1"])
    assert res.exit_code == 0, res.output
    assert _cells(res.output, "1")[5:] == ["67,600", "yes", "n_1, max"]  # N = 60,000 (MNIST)
    assert _cells(res.output, "3")[5:] == ["2,880", "", ""]
    assert "67,600 / 67,600" in res.output and "67K" not in res.output
    res = runner.invoke(app, ["widths", "--network", "xception"])
    assert res.exit_code == 0, res.output
    assert _cells(res.output, "xception")[5:7] == ["no", "yes"]  # n_1 = 710,432 < N ≤ max = 2,765,952


# ----------------------------------------------------------------------------- commands/demo


def test_demo_passes_draws_on(tmp_path):
    """Planted bug: ``--draws`` ignored (always 3)."""
    res = runner.invoke(app, ["demo", "rank-jump", "--n", "10", "--draws", "1", "--duplicates", "0", "--out",
                              str(tmp_path)])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "rank-jump.json").read_text())
    assert payload["draws"] == 1 and payload["N"] == 10


# ----------------------------------------------------------------------------- presets


def test_presets_have_their_documented_sizes():
    """Planted bugs: ``verify_digits``' default filters 8 → 4 (the ``verify`` network); a preset's conv bias or
    kernel changed; ``verify_mnist1d`` not "40×1 → conv 5 → dense 32 → linear 10". The audit found two
    documented sizes wrong (10,154 and 9,914); the counts below are by hand:
    digits-wide: conv 3×3×8 on 8×8×1, a bias per neuron: 72 + 288; dense 288·32 + 32; output 32·10 + 10 → 9,938.
    mnist1d-cnn: conv 5×8 on 40×1, a bias per filter: 40 + 8; dense 288·32 + 32; output 330 → 9,626.
    """
    from theory_lab import presets

    sizes = {name: presets.architecture(name).num_params for name in presets.ARCHITECTURES}
    assert sizes == {"digits-cnn": 5130, "digits-small": 362, "digits-wide": 72 + 288 + 288 * 32 + 32 + 330,
                     "mnist1d-cnn": 40 + 8 + 288 * 32 + 32 + 330, "digits-curvature": 584}
    assert presets.verify_digits().num_params == 9938 and presets.verify_digits(2).widths[1] == 36 * 2
    assert presets.verify_mnist1d() == Architecture((40, 1), (Conv(8, (5,)), Dense(32), Output(10)))


# ----------------------------------------------------------------------------- strategies, data_strategies


@settings(max_examples=60)
@given(net=tls.networks(n_samples=(3, 5, 7), kinds=("dense",), min_ratio=1.5, after=3, outputs=3))
def test_networks_keep_n_k_at_least_c_n_pyramidal_after_k_and_m_outputs(net):
    """Planted bugs: ``⌊c·N⌋`` for ``⌈c·N⌉`` (``n_k = 4 < 1.5·3``); the layers after ``k`` drawn up to 8 wide
    whatever the previous width (not pyramidal); ``outputs`` ignored (always 1)."""
    widths = net.arch.widths
    assert widths[net.k] >= 1.5 * net.N
    assert all(widths[i] >= widths[i + 1] for i in range(net.k, net.arch.L - 1)), widths
    assert widths[-1] == 3


def test_resolvable_is_capacity_at_least_twice_n():
    """Planted bug: ``resolvable`` compared the capacity with ``N`` instead of the documented ``2N``.

    A dense layer 2 reading 4 units has one patch of 4 directions: capacity ``C(4 + 3, 3) = 35``."""
    thin = Architecture((8,), (Dense(4), Dense(300), Output(1)))
    assert tls.resolvable(tls.Network(thin, 2, 17)) and not tls.resolvable(tls.Network(thin, 2, 18))


@pytest.mark.parametrize("call, match", [
    (lambda: tls.networks(min_ratio=0), r"`min_ratio`=0 must be positive"),
    (lambda: tls.parameters(ARCH, bias_mean=float("nan")), r"`bias_mean`=nan must be finite numbers"),
    (lambda: tls.parameters(ARCH, bias_scales=(float("inf"),)), r"`bias_scales`=\(inf,\) / `bias_mean`=0.0"),
    (lambda: tls.datasets(CONV, 4, laws=("cauchy",)), r"`laws`=\('cauchy',\): each must be one of"),
])
def test_strategy_arguments_are_validated(call, match):
    """Planted bugs: ``min_ratio ≤ 0`` accepted (every layer "wide"); NaN or inf bias means and scales
    accepted (the finiteness check dropped); an unknown data law accepted (then drawn as uniform)."""
    with pytest.raises(ValueError, match=match):
        call()


CONV = Architecture((4, 1), (Conv(2, (3,)), Output(1)))


def test_patchwork_split_of_a_window_three_on_four_inputs():
    """Planted bug: the split's last block required ``start < d − 1`` (``≤`` is right): on 4 inputs with
    windows {0,1,2}, {1,2,3} the split S = {0}, M = {1, 2}, S' = {3} was missed (``None``)."""
    S, M, S2 = tls.patchwork_split(CONV)
    assert (S.tolist(), M.tolist(), S2.tolist()) == ([0], [1, 2], [3])


@settings(max_examples=25)
@given(X=tls.datasets(CONV, 6, assumption_3_1=False, violations="patchwork"))
def test_patchwork_samples_are_distinct_and_cancel(X):
    """Planted bug: the fourth sample built as (e, m, b) instead of (e, m, c), a duplicate of the third.

    The violation is four *distinct* samples with ``x_1 − x_2 − x_3 + x_4 = 0`` (on S, M and S')."""
    flat = X.reshape(6, -1)
    assert len({x.tobytes() for x in flat}) == 6
    found = [(i, j, k, m) for i in range(6) for j in range(6) for k in range(6) for m in range(6)
             if len({i, j, k, m}) == 4 and np.array_equal(flat[i] - flat[j], flat[k] - flat[m])]
    assert found


@settings(max_examples=10)
@given(X=tls.datasets(CONV, 3, assumption_3_1=False, violations="patchwork"))
def test_patchwork_on_three_samples_falls_back_to_a_duplicate(X):
    """Planted bug: the fallback threshold ``N < 4`` became ``N < 3``; three samples then crashed drawing four rows."""
    assert len({x.tobytes() for x in X}) == 2


def test_digit_crops_are_never_blank():
    """Planted bug: the ``separation`` from blank dropped; a 2×2 crop from a digit's corner is blank (plus
    1e-6 noise), which the docstring promises to redraw."""
    X = tls.digit_crops((2, 2, 1), 40, np.random.default_rng(0))
    assert np.linalg.norm(X.reshape(40, -1), axis=1).min() >= 0.1 - 1e-4


# ----------------------------------------------------------------------------- bad input (library fixes)


@pytest.mark.parametrize("make, match", [
    (lambda: Architecture((3.5,), (Output(1),)), r"Architecture: `input_shape`=\(3.5,\) has non-integer size\(s\) "
                                                 r"\[3.5\]; give integer sizes"),
    (lambda: Architecture((True, 2), (Output(1),)), r"`input_shape`=\(True, 2\) has non-integer size\(s\) \[True\]"),
    (lambda: PatchLayer(np.array([0, 1]), 2), r"PatchLayer: `patches` must be a list of index tuples, one per patch"),
    (lambda: PatchLayer(((0.0, 1.0), (1.0, 2.0)), 2), r"PatchLayer: `patches`=0.0 must be an integer \(got float\)"),
    (lambda: PatchLayer(((0, 1),), 2.5), r"PatchLayer: `filters`=2.5 must be an integer \(got float\)"),
    (lambda: PatchMaxPool(((0, 1.5),)), r"PatchMaxPool: `patches`=1.5 must be an integer"),
    (lambda: ARCH.wide_layers(0), r"`N`=0 is not a number of samples; expected an integer >= 1"),
    (lambda: ARCH.wide_layers(2.5), r"`N`=2.5 is not a number of samples"),
    (lambda: ARCH.assumption_4_1(1, -1), r"`N`=-1 is not a number of samples"),
    (lambda: rank_report("abc"), r"`A` is not a numeric matrix \(could not convert string to float: 'abc'\); "
                                 r"pass a 2-D float64 array"),
])
def test_public_constructors_refuse_what_they_would_silently_truncate(make, match):
    """Bad input found by the sweep: float sizes and indices were truncated by ``int()`` (3.5 → 3), a flat
    ``patches`` list failed deep inside with "'numpy.int64' object is not iterable", a sample count
    ``N ≤ 0`` or fractional made every layer "wide", and a non-numeric matrix gave numpy's bare message."""
    with pytest.raises(ValueError, match=match):
        make()
    assert ARCH.wide_layers(np.int64(4)) == (1,) and Architecture(np.array([3]), (Output(1),)).input_shape == (3,)


def test_spectrum_n_beyond_the_data_set_names_n(tmp_path):
    """Bad input: ``--n 5000`` on the 1,797 digits was reported as ``Invalid value for --data: `n`=5000``."""
    res = runner.invoke(app, ["spectrum", "--n", "5000", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "Invalid value for --n: `--n`=5000 for digits: expected an integer in [1, 1797]" in _text(res)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--seed", str(2**70), "--out", "TMP/o"],
     r"Invalid value for --seed: --seed=1180591620717411303424 must be a non-negative integer at most 4294967295"),
    (["--out", "FILE/sub"], r"Invalid value for --out: '.*FILE/sub' cannot be created: '.*FILE' is a file"),
    (["--out", "/proc/theory-lab/out"], r"Invalid value for --out: '/proc/theory-lab/out' cannot be written"),
])
def test_demo_refuses_a_seed_or_out_it_cannot_use_before_running(args, message, tmp_path):
    """Bad input: a seed beyond 2**32 − 1 ran the demo into an OverflowError; an ``--out`` under a file or
    in a read-only place ran the whole demo and then failed to write (FileNotFoundError)."""
    (tmp_path / "FILE").write_text("x")
    args = [a.replace("FILE", str(tmp_path / "FILE")).replace("TMP", str(tmp_path)) for a in args]
    res = runner.invoke(app, ["demo", "rank-jump", "--n", "10", "--draws", "1", *args])
    assert res.exit_code == 2, res.output
    assert re.search(message, _text(res)), _text(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_demo_writes_its_three_files_together(tmp_path, monkeypatch):
    """Library fix: the JSON and PNG were written before the SVG was rendered, so a failed SVG left a new
    JSON and PNG beside the previous SVG (a mixed set)."""
    out = tmp_path / "o"
    res = runner.invoke(app, ["demo", "rank-jump", "--n", "10", "--draws", "1", "--duplicates", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    import theory_lab.demos as demos

    real = demos.render

    def render(fig, fmt="png", **kw):
        if fmt == "svg":
            raise OSError("svg failed (simulated)")
        return real(fig, fmt, **kw)

    monkeypatch.setattr(demos, "render", render)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = runner.invoke(app, ["demo", "rank-jump", "--n", "10", "--draws", "2", "--duplicates", "0", "--out", str(out)])
    assert res.exit_code != 0 and isinstance(res.exception, OSError)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
