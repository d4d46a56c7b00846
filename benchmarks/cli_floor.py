"""The floor under a cached ``theory-lab`` run: what no cache of compiled *or traced* programs removes.

Run as a subprocess by ``bench_cli.py --floor``: it runs one ``theory-lab`` command three times in
this one process (the CLI's own Typer app, ``standalone_mode=False``). The first run imports what the
command imports and traces and compiles its programs; the later runs find every program traced and
compiled in memory, so they do only the work a perfect cache could not skip — the products, the host
code, the figure and the files. Every line printed is time-stamped; the modules loaded by the time the
first result (``top-…``) is printed, and by the end, are written out so that the caller can time a
fresh interpreter importing exactly those (the import floor). Floor = import floor + the last warm run.

It writes one JSON object to the file named by ``--json``::

    {"warm": [{"wall_s": …, "first_result_s": …}, …], "modules_first": [...], "modules_all": [...]}

Example (from the repository root, the project venv)::

    .venv/bin/python benchmarks/cli_floor.py --json /tmp/floor.json -- spectrum --arch digits-cnn --out /tmp/o
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

FIRST = "top-"


class _Stamped(io.TextIOBase):
    """A stdout that time-stamps each completed line and snapshots ``sys.modules`` at the first result."""

    def __init__(self, t0: float):
        self.t0, self.buf, self.lines, self.modules_first = t0, "", [], None

    def writable(self):
        return True

    def write(self, s):
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.lines.append((time.perf_counter() - self.t0, line))
            if self.modules_first is None and line.startswith(FIRST):
                self.modules_first = sorted(sys.modules)
        return len(s)


def _importable(names):
    """Top-level and dotted module names that a fresh interpreter can import by name (no ``__main__``)."""
    return [n for n in names if n != "__main__" and not n.startswith("_frozen") and sys.modules.get(n) is not None
            and getattr(sys.modules[n], "__spec__", None) is not None]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the theory-lab arguments, after --")
    ns = ap.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    before = set(sys.modules)
    from theory_lab.cli import app

    runs, modules_first = [], None
    real = sys.stdout
    for _ in range(ns.runs):
        t0 = time.perf_counter()
        sys.stdout = out = _Stamped(t0)
        try:
            app(args=args, standalone_mode=False)
        finally:
            sys.stdout = real
        wall = time.perf_counter() - t0
        first = next((t for t, text in out.lines if text.startswith(FIRST)), None)
        if first is None:
            raise SystemExit(f"no line starting {FIRST!r} in the output of {args}:\n"
                             + "\n".join(text for _, text in out.lines))
        runs.append({"wall_s": round(wall, 3), "first_result_s": round(first, 3)})
        if modules_first is None:
            modules_first = out.modules_first
    loaded = [n for n in sorted(sys.modules) if n not in before]
    result = {"warm": runs[1:], "first_run": runs[0],
              "modules_first": _importable([n for n in modules_first if n not in before]),
              "modules_all": _importable(loaded)}
    ns.json.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
