"""Sub-commands of ``theory-lab`` besides ``verify``, one module each.

Each module defines ``register(app)`` that adds its command(s) to the Typer app.
"""

from __future__ import annotations

import importlib

__all__ = ["register_all", "MODULES"]

MODULES = ("widths", "spectrum", "demo")


def register_all(app) -> None:
    for name in MODULES:
        importlib.import_module(f"theory_lab.commands.{name}").register(app)
