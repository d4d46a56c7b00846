"""`theory-lab widths` through typer's CliRunner."""

import json

from typer.testing import CliRunner

from theory_lab.cli import app
from theory_lab.zoo import entries

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def test_widths_is_registered():
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0 and "widths" in result.output


def test_widths_prints_the_table_with_flagged_disagreements():
    result = runner.invoke(app, ["widths"], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1,281,167" in out and "3,211,264" in out and "1,382,976" in out and "2,765,952" in out
    for e in entries():
        assert e.key in out
    assert "no, loose [2]" in out and "no, below [1]" in out
    assert "[2] xception: max = 2,765,952 is 3.95× the paper's 700K" in out


def test_widths_one_network_and_json(tmp_path):
    path = tmp_path / "out" / "widths.json"
    result = runner.invoke(app, ["widths", "--network", "ResNet50", "--json", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "res5c" in result.output and "7×7×2048" in result.output
    data = json.loads(path.read_text())
    assert data["N_imagenet"] == 1_281_167
    assert [r["key"] for r in data["networks"]] == ["resnet-50"]
    layers = {x["name"]: x for x in data["network"]["layers"]}
    assert layers["res5c"]["shape"] == [7, 7, 2048] and layers["conv1"]["width"] == 802_816
    assert data["network"]["max_at"] == "conv1"
    assert [p.name for p in path.parent.iterdir()] == ["widths.json"]  # no temporary file left behind


def test_widths_json_has_every_row(tmp_path):
    path = tmp_path / "t.json"
    assert runner.invoke(app, ["widths", "--json", str(path)], env=WIDE).exit_code == 0
    data = json.loads(path.read_text())
    assert len(data["networks"]) == len(entries())
    row = next(r for r in data["networks"] if r["key"] == "squeezenet-1.0-224")
    assert row["status"] == "below" and row["n1"] == 1_140_576 and row["paper_n1"] == 1_180_000
    assert "network" not in data


def test_widths_unknown_network_is_a_usage_error():
    result = runner.invoke(app, ["widths", "--network", "alexnet"], env=WIDE)
    assert result.exit_code == 2
    assert "alexnet" in result.output and "unknown" in result.output
