"""Reports of a verify run: the table, ``report.md`` and ``results.json``, written atomically.

Example:
    >>> import json, tempfile, pathlib
    >>> from theory_lab.report import write_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_atomic(path, json.dumps({"a": 1}))
    >>> path.read_text()
    '{"a": 1}'
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "format_margin", "environment", "results_json", "report_markdown"]

VERDICT_STYLE = {"holds": "green", "fails": "bold red", "not applicable": "yellow", "inconclusive": "magenta",
                 "measured": "cyan", "error": "bold red"}


def write_atomic(path, text: str | bytes) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the permissions a plain open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_margin(margin) -> str:
    if margin is None:
        return "–"
    if isinstance(margin, str) or margin == float("inf"):
        return "∞"
    return f"{margin:.3g}"


def environment() -> dict:
    import jax
    import numpy

    import theory_lab

    return {"theory_lab": theory_lab.__version__, "jax": jax.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "devices": [str(d) for d in jax.devices()],
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def results_json(records, seed: int) -> str:
    return json.dumps({"seed": seed, "environment": environment(),
                       "checks": [r.to_dict() for r in records]}, indent=2, ensure_ascii=False)


def report_markdown(records, seed: int) -> str:
    env = environment()
    lines = ["# theory-lab verify", "",
             f"seed {seed} · jax {env['jax']} · {env['platform']} · {env['date']}", "",
             "| check | item | kind | hypotheses met | verdict | margin | time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| `{r.check.id}` | {r.check.item} | {r.check.kind} | "
                     f"{'yes' if r.result.hypotheses_met else 'no'} | **{r.result.verdict.value}** | "
                     f"{format_margin(r.result.margin)} | {r.seconds:.2f} |")
    lines.append("")
    for r in records:
        lines += [f"## `{r.check.id}` — {r.check.item}: {r.check.title}", "",
                  f"**{r.result.verdict.value}.** {r.result.summary}", ""]
        for h in r.result.hypotheses:
            lines.append(f"- [{'x' if h.met else ' '}] {h.name}" + (f" — {h.detail}" if h.detail else ""))
        if r.error:
            lines += ["", "```", r.error.rstrip(), "```"]
        lines.append("")
    return "\n".join(lines)
