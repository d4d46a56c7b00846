"""The rank-jump demo: its numbers obey rank F_1 = min(n_1, distinct samples); the `demo` command for every demo."""

import json
import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from theory_lab.cli import app
from theory_lab.commands.demo import demo
from theory_lab import demos
from theory_lab.demos import (PATCHES, default_filters, duplicate_digits, rank_jump, rank_jump_explanation,
                              rank_jump_figure, render)

N = 60  # filters 1..4: n_1 = 36, 72, 108, 144 crosses N between T = 1 and T = 2


@pytest.fixture(scope="module")
def result():
    return rank_jump(N, draws=2, seed=0)


def test_default_filters_cross_N():
    for n in (20, 60, 200, 216, 500):
        Ts = default_filters(n)
        n1 = [PATCHES * t for t in Ts]
        assert any(w < n for w in n1) or n <= PATCHES
        assert any(w >= n for w in n1)
        assert max(n1) >= 2 * n - PATCHES  # reaches about 2N
    assert 6 in default_filters(216)  # n_1 = N exactly is on the sweep


def test_noisy_rank_is_min_n1_N_conclusively(result):
    noisy = result.select("noisy")
    assert result.assumption_3_1["noisy"] is True
    assert {p.T for p in noisy} == set(default_filters(N)) and len(noisy) == 2 * len(default_filters(N))
    for p in noisy:
        assert p.rank == min(p.n1, N), p
        assert p.conclusive and p.margin >= 10, p
        assert p.sigma_min > p.tol  # every singular value counted sits above the tolerance


def test_duplicated_digits_saturate_below_N(result):
    """Converse: with D repeated samples (3.1 violated) no width gives rank N; it stops at N - D."""
    D = N // 10
    dup = result.select("duplicates")
    assert result.assumption_3_1["duplicates"] is False and result.distinct["duplicates"] == N - D
    widest = [p for p in dup if p.T == max(result.filters)]
    assert all(p.n1 >= N for p in widest)
    for p in dup:
        assert p.rank == min(p.n1, N - D) and p.conclusive, p
    for p in widest:
        assert p.rank == N - D < N
        assert p.ratio < p.tol / p.sigma_max  # the lost directions sit below the tolerance


def test_raw_digits_violate_3_1_but_stay_distinct(result):
    """Raw digits break 3.1 through repeated blank patches, yet their samples are distinct: rank N."""
    assert result.assumption_3_1["raw"] is False and result.distinct["raw"] == N
    assert all(p.rank == min(p.n1, N) for p in result.select("raw"))
    assert result.agrees


def test_same_parameters_across_series_and_seeds(result):
    again = rank_jump(N, filters=(1,), draws=2, seed=0, duplicates=0)
    first = [p for p in result.points if p.T == 1 and p.series == "noisy"]
    assert [p.sigma_max for p in again.select("noisy")] == [p.sigma_max for p in first]
    assert again.series == ("noisy", "raw")
    other = rank_jump(N, filters=(1,), draws=1, seed=1, duplicates=0)
    assert other.select("noisy")[0].sigma_max != first[0].sigma_max


def test_duplicate_digits():
    X = np.arange(12.0).reshape(6, 2)
    Y = duplicate_digits(X, 3)
    np.testing.assert_array_equal(Y[3:], X[:3])
    np.testing.assert_array_equal(Y[:3], X[:3])
    with pytest.raises(ValueError, match=r"`duplicates`=4 must be an integer in \[0, N/2\]"):
        duplicate_digits(X, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"N": 0}, r"`N`=0 must be a positive integer"),
    ({"N": 5000}, r"`N`=5000 exceeds the 1797 bundled digits"),
    ({"N": 10, "draws": 0}, r"`draws`=0 must be a positive integer"),
    ({"N": 10, "seed": -1}, r"`seed`=-1 must be a non-negative integer"),
    ({"N": 10, "filters": (0,)}, r"`filters`=0 must be a positive integer"),
    ({"N": 10, "filters": ()}, r"`filters` is empty"),
])
def test_bad_arguments(kwargs, match):
    n = kwargs.pop("N")
    with pytest.raises(ValueError, match=match):
        rank_jump(n, **kwargs)


def test_figure_png_svg_and_explanation(result):
    fig = rank_jump_figure(result)
    axes = fig.get_axes()
    assert [ax.get_xlabel() for ax in axes] == ["width n₁ = 36·T"] * 2
    assert axes[0].get_ylabel() == "rank F₁" and axes[0].get_legend() is not None
    assert any(line.get_xdata()[0] == N for line in axes[0].get_lines())  # the n_1 = N line
    png = render(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    svg = render(rank_jump_figure(result), "svg")
    assert svg[:5] == b"<?xml" and svg == render(rank_jump_figure(result), "svg")  # no date: same numbers, same file
    text = rank_jump_explanation(result)
    assert "Theorem 3.5" in text and f"from n_1 = 72 on (N = {N})" in text and "conclusively" in text
    with pytest.raises(ValueError, match=r"`fmt`='pdf' is unknown"):
        render(fig, "pdf")


def test_package_keeps_the_old_names():
    assert demos.rank_jump is rank_jump and demos.DEMOS == ("rank-jump", "width-threshold", "critical-points",
                                                              "spectra", "slices")


def test_progress_is_called_per_width():
    calls = []
    rank_jump(N, filters=(1, 2), draws=1, duplicates=0, progress=lambda *a: calls.append(a))
    assert calls == [(1, 2, "rank-jump: n_1 = 36"), (2, 2, "rank-jump: n_1 = 72")]


def test_cli_writes_png_svg_and_json(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "rank-jump", "--n", str(N), "--draws", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rank noisy" in res.output and "conclusively" in res.output and "agree with the prediction" in res.output
    assert (out / "rank-jump.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "rank-jump.svg").read_bytes()[:5] == b"<?xml"
    payload = json.loads((out / "rank-jump.json").read_text())
    assert payload["N"] == N and payload["agrees"] is True and payload["n1"] == [36, 72, 108, 144]
    assert payload["explanation"].startswith("Theorem 3.5") and payload["seconds"] > 0
    assert {p["series"] for p in payload["points"]} == {"noisy", "raw", "duplicates"}
    # issue 9.11: the data each series ran on, reproducibly
    digits = {"name": "digits", "N": N, "seed": 0}
    assert payload["datasets"]["noisy"] == dict(digits, noise=1e-6)
    assert payload["datasets"]["raw"] == dict(digits, noise=0.0)
    assert payload["datasets"]["duplicates"] == dict(digits, noise=0.0, duplicated=f"last {N // 10} samples = first {N // 10}")
    assert not list(out.glob(".*.tmp"))  # atomic writes left no temporary file


@pytest.mark.parametrize("args, match", [
    (["demo", "nope"], r"unknown demo 'nope'; valid names: rank-jump, width-threshold, critical-points, spectra, "
                       r"slices"),
    (["demo", "rank-jump", "--n", "0"], r"--n=0 must be a number of digits in \[1, 1797\] for rank-jump"),
    (["demo", "rank-jump", "--n", "-3"], r"--n=-3 must be a number of digits"),
    (["demo", "spectra", "--n", "500"], r"--n=500 must be a number of samples in \[1, 100\] for spectra, e.g. --n 20"),
    (["demo", "rank-jump", "--draws", "0"], r"--draws=0 must be at least 1"),
    (["demo", "spectra", "--draws", "2"], r"--draws applies to rank-jump and width-threshold, not spectra"),
    (["demo", "critical-points", "--starts", "0"], r"--starts=0 must be at least 1"),
    (["demo", "width-threshold", "--starts", "3"], r"--starts applies to critical-points and slices"),
    (["demo", "slices", "--seed", "-1"], r"--seed=-1 must be a non-negative integer"),
    (["demo", "rank-jump", "--n", "20", "--duplicates", "11"], r"--duplicates=11 must be in \[0, N/2\]"),
    (["demo", "slices", "--duplicates", "1"], r"applies to rank-jump only"),
])
def test_cli_bad_arguments(args, match, tmp_path):
    res = CliRunner().invoke(app, args + ["--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    text = " ".join(res.output.replace("│", " ").split())
    assert re.search(match, text), res.output
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_file_as_out(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = CliRunner().invoke(app, ["demo", "rank-jump", "--n", "10", "--out", str(f)])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "is a file; give a folder" in text, res.output


@pytest.mark.parametrize("name, n, draws, match", [
    ("nope", 10, 1, r"unknown demo 'nope'; valid names: rank-jump"),
    ("rank-jump", 0, 1, r"--n=0 must be a number of digits in \[1, 1797\]"),
    ("rank-jump", 10, -1, r"--draws=-1 must be at least 1"),
])
def test_demo_command_raises_bad_parameter(name, n, draws, match, tmp_path):
    with pytest.raises(typer.BadParameter, match=match):
        demo(name, n=n, draws=draws, starts=None, seed=0, duplicates=None, out=tmp_path / "o")


@pytest.mark.parametrize("name, args, key", [
    ("width-threshold", ["--n", "40", "--draws", "1"], "threshold_ok"),
    ("spectra", ["--n", "10"], "agrees"),
])
def test_cli_other_demos_write_their_files(name, args, key, tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["demo", name, *args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads((out / f"{name}.json").read_text())
    assert payload["demo"] == name and payload[key] is True and payload["item"] in payload["explanation"]
    assert payload["datasets"] == [{"name": "digits", "N": int(args[1]), "noise": 1e-6, "seed": 0}]  # issue 9.11
    assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and (out / f"{name}.svg").stat().st_size > 10_000
    assert "agree with the prediction" in res.output
