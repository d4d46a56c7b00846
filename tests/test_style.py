"""House rules from STYLE.md that a reader should not have to police by hand."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory_lab", "proofs_checks")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def cross_module_private_uses(path: Path) -> list[str]:
    """``from pkg.mod import _x`` and ``mod._x`` (``mod`` an imported project module) in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name) \
                and node.value.id in modules:
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_rule_is_seen(tmp_path):
    """The test itself can fail: a planted cross-module private import is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from theory_lab.sampling import _weights\nfrom theory_lab import krylov\nkrylov._prepare\n")
    assert cross_module_private_uses(bad) == ["line 1: from theory_lab.sampling import _weights",
                                              "line 3: krylov._prepare"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_helper_imported_across_modules(path):
    assert cross_module_private_uses(path) == [], "make the helper public (documented, in __all__) or keep it local"


MAX_LINES = 470  # STYLE.md: small modules, one topic each (~450 lines)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.name} has {n} lines; split it by topic (one home per concept) below {MAX_LINES}"
