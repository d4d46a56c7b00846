"""Reports of a verify run: the table, ``report.md``, ``report.html`` and ``results.json``, written atomically.

``report.html`` (:func:`report_html`) is one self-contained page: inline CSS, figures as
base64 data URIs, no external file, script or font, so it opens offline. It has the table with
verdict colours, one folded ``<details>`` section per check (hypotheses, evidence, traceback)
that opens on click, and the figures of its evidence (:func:`theory_lab.evidence_figures.evidence_figures`:
every observation's margin against its band, rank reports' singular values against their tolerance).

Example:
    >>> import json, tempfile, pathlib
    >>> from theory_lab.report import write_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_atomic(path, json.dumps({"a": 1}))
    >>> path.read_text()
    '{"a": 1}'
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import platform
import tempfile
from pathlib import Path

from theory_lab.evidence import jsonable
from theory_lab.validate import is_integer

__all__ = ["write_atomic", "write_all_atomic", "format_margin", "environment", "results_json", "report_markdown", "report_html",
           "VERDICT_STYLE", "VERDICT_COLOR"]

VERDICT_STYLE = {"holds": "green", "fails": "bold red", "not applicable": "yellow", "inconclusive": "magenta",
                 "measured": "cyan", "error": "bold red"}
#: Background colours of the verdict cells in ``report.html`` (the terminal's hues, readable on white).
VERDICT_COLOR = {"holds": "#c8ecc9", "fails": "#f6b3b3", "not applicable": "#fbeeb0", "inconclusive": "#ecc8ec",
                 "measured": "#c6e8f0", "error": "#e08080"}


def _temp_copy(path: Path, text) -> str:
    """A temporary file next to ``path`` holding ``text`` (UTF-8 if a str), synced, with a plain open()'s
    permissions; removed again if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # text as UTF-8 whatever the locale: under LANG=C the JSON's Φ, σ, ≥ raised UnicodeEncodeError after the work
        with os.fdopen(fd, "wb") as fh:
            fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the permissions a plain open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def _check_target(path, text) -> Path:
    path = Path(path)
    if path.is_dir():  # os.replace's "[Errno 21] Is a directory" came after the file was written
        raise IsADirectoryError(f"`path`={str(path)!r} is a folder; give a file name inside it.")
    if not isinstance(text, (str, bytes)):  # None gave "'NoneType' object has no attribute 'encode'"
        raise TypeError(f"`text` for {path.name} is a {type(text).__name__}; expected str or bytes.")
    return path


def write_atomic(path, text: str | bytes) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then ``os.replace``; text as UTF-8."""
    write_all_atomic({path: text})


def write_all_atomic(files: dict) -> None:
    """Write a set of files ``{path: str | bytes}`` whole or not at all: every temporary copy is written first
    (a full disk or an encoding error leaves every old file as it was, none half-replaced), then each is moved
    in place by ``os.replace``. Before, ``verify`` wrote ``results.json`` before ``report.md``: a failure on the
    second left a new JSON next to the old report."""
    if not isinstance(files, dict):  # a list of pairs or None gave "'list' object has no attribute 'items'"
        raise TypeError(f"`files` is a {type(files).__name__}; expected a dict {{path: str or bytes}}.")
    targets = [(_check_target(path, text), text) for path, text in files.items()]
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in targets:
            temps.append((_temp_copy(path, text), path))
        while temps:
            tmp, path = temps[0]
            os.replace(tmp, path)
            temps.pop(0)
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


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


def _check_seed(seed) -> int:
    """The run's seed as the reports show it: report_html's int() turned 1.5 into 1, None or text into a TypeError."""
    if not is_integer(seed):
        raise TypeError(f"`seed`={seed!r} is a {type(seed).__name__}; expected the run's integer seed, e.g. 0.")
    return int(seed)


def results_json(records, seed: int) -> str:
    """The run as JSON: the seed, the environment, every data set the checks ran on (name, N, noise,
    seed; each record also lists its own) and the records."""
    seed, datasets = _check_seed(seed), []
    for r in records:
        datasets += [d for d in jsonable(list(r.datasets)) if d not in datasets]
    # allow_nan=False: never a bare NaN or Infinity, which strict JSON readers refuse (jsonable writes them as text)
    return json.dumps({"seed": seed, "environment": environment(), "datasets": datasets,
                       "checks": [r.to_dict() for r in records]}, indent=2, ensure_ascii=False, allow_nan=False)


def _claim(result) -> str:
    """The summary without its leading verdict (``conclude`` starts it with ``"holds: "``), shown after it."""
    lead = f"{result.verdict.value}: "
    return result.summary[len(lead):] if result.summary.startswith(lead) else result.summary


def report_markdown(records, seed: int) -> str:
    seed, env = _check_seed(seed), environment()
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
                  f"**{r.result.verdict.value}.** {_claim(r.result)}", ""]
        for h in r.result.hypotheses:
            lines.append(f"- [{'x' if h.met else ' '}] {h.name}" + (f" — {h.detail}" if h.detail else ""))
        if r.error:
            lines += ["", "```", r.error.rstrip(), "```"]
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report.html

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.95em} th,td{border:1px solid #ccc;padding:.3em .5em;
text-align:left} th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
td.verdict{font-weight:600;white-space:nowrap} tr:hover td{filter:brightness(.97)}
details{border:1px solid #ccc;border-radius:6px;margin:.6em 0;padding:.3em .8em}
details[open]{background:#fafafa} summary{cursor:pointer;font-weight:600}
.badge{display:inline-block;padding:0 .5em;border-radius:4px;font-weight:600}
pre{background:#f4f4f4;padding:.6em;overflow-x:auto;max-height:32em;font-size:.85em}
ul.hyp{list-style:none;padding-left:.5em} .met{color:#1a7f1a} .unmet{color:#b00020} .broken{color:#a05a00}
img{max-width:100%;height:auto;border:1px solid #ddd}
"""

# Opening a check's section when its link in the table is followed.
_JS = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));var d=id&&document.getElementById(id);
if(d&&d.tagName==='DETAILS'){d.open=true;}}
window.addEventListener('hashchange',openTarget);window.addEventListener('DOMContentLoaded',openTarget);
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _met(result) -> str:
    """The table's "hypotheses met" cell: a converse that breaks its hypotheses as planned says so."""
    if result.hypotheses_met:
        return "yes"
    return "broken on purpose" if result.broken and result.set_up else "no"


def _anchor(check_id: str) -> str:
    return "check-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in check_id)


def report_html(records, seed: int, figures: dict | None = None) -> str:
    """The verify report as one self-contained HTML page.

    Args:
        records: :class:`theory_lab.checking.Record` s, in table order.
        seed: the run's seed.
        figures: ``{check id: [PNG bytes, …]}``; default
            :func:`theory_lab.evidence_figures.evidence_figures` of each record.

    Example:
        >>> from theory_lab.checking import Check, Context, Hypothesis, Result, Verdict, run_check
        >>> rec = run_check(Check("x", "Lemma 0", "t", lambda ctx: Result(Verdict.HOLDS, [Hypothesis("h", True)],
        ...                       2.0, {"n": 1}, "fine")), Context(0))
        >>> page = report_html([rec], seed=0, figures={})
        >>> page.startswith("<!DOCTYPE html>"), page.count('<tr class="check"'), "<details" in page
        (True, 1, True)
    """
    seed, env = _check_seed(seed), environment()
    if figures is None:
        from theory_lab.evidence_figures import evidence_figures

        figures = {r.check.id: evidence_figures(r) for r in records}
    counts = {}
    for r in records:
        counts[r.result.verdict.value] = counts.get(r.result.verdict.value, 0) + 1
    tally = " · ".join(f'<span class="badge" style="background:{VERDICT_COLOR[v]}">{n} {_e(v)}</span>'
                       for v, n in counts.items())
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>theory-lab verify (seed {int(seed)})</title>", f"<style>{_CSS}</style>",
           f"<script>{_JS}</script></head><body>",
           "<h1>theory-lab verify</h1>",
           f'<p class="meta">seed {int(seed)} · theory-lab {_e(env["theory_lab"])} · jax {_e(env["jax"])} · '
           f'{_e(env["platform"])} · {_e(env["date"])}</p>',
           f"<p>{len(records)} checks: {tally}. Click a check (or its row's link) to open its evidence.</p>",
           '<table id="checks"><thead><tr><th>check</th><th>item</th><th>kind</th><th>hypotheses met</th>'
           "<th>verdict</th><th>margin</th><th>time (s)</th></tr></thead><tbody>"]
    for r in records:
        v = r.result.verdict.value
        out.append(f'<tr class="check" data-verdict="{_e(v)}"><td><a href="#{_anchor(r.check.id)}">'
                   f"{_e(r.check.id)}</a></td><td>{_e(r.check.item)}</td><td>{_e(r.check.kind)}</td>"
                   f"<td>{_met(r.result)}</td>"
                   f'<td class="verdict" style="background:{VERDICT_COLOR.get(v, "#fff")}">{_e(v)}</td>'
                   f'<td class="num">{_e(format_margin(r.result.margin))}</td><td class="num">{r.seconds:.2f}</td></tr>')
    out.append("</tbody></table><h2>Checks</h2>")
    for r in records:
        d = r.result.to_dict()
        v = d["verdict"]
        out.append(f'<details id="{_anchor(r.check.id)}" class="evidence"><summary>'
                   f'<span class="badge" style="background:{VERDICT_COLOR.get(v, "#fff")}">{_e(v)}</span> '
                   f"<code>{_e(r.check.id)}</code> — {_e(r.check.item)}: {_e(r.check.title)}</summary>")
        out.append(f"<p><b>{_e(v)}.</b> {_e(_claim(r.result))}</p>")
        if r.result.hypotheses:
            out.append('<ul class="hyp">')
            for h in r.result.hypotheses:
                if h.name in r.result.broken:
                    mark, cls, note = ("⊘", "broken", " (broken on purpose: a converse)") if not h.met else \
                        ("✓", "unmet", " (meant to be broken, but met: the instance is not set up)")
                else:
                    mark, cls, note = ("✓", "met", "") if h.met else ("✗", "unmet", "")
                out.append(f'<li class="{cls}">{mark} {_e(h.name)}{note}' +
                           (f" — {_e(h.detail)}" if h.detail else "") + "</li>")
            out.append("</ul>")
        pngs = figures.get(r.check.id) or []
        for i, png in enumerate([pngs] if isinstance(pngs, bytes) else pngs, 1):
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<p><img alt="figure {i} of {_e(r.check.id)}" src="data:image/png;base64,{data}"></p>')
        out.append(f"<p>margin {_e(format_margin(r.result.margin))} · {r.seconds:.2f} s</p>")
        out.append(f"<pre class=\"json\">{_e(json.dumps(d['evidence'], indent=2, ensure_ascii=False))}</pre>")
        if r.error:
            out.append(f'<pre class="error">{_e(r.error.rstrip())}</pre>')
        out.append("</details>")
    out.append("</body></html>")
    return "\n".join(out)
