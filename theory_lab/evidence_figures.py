"""Figures of a check's evidence, for ``report.html``: what the numbers behind a verdict look like.

* :func:`observation_figure` — every :class:`~theory_lab.checking.Observation`'s margin (the
  factor by which its number clears the threshold) on a log axis, against 1 (the threshold) and
  the observation's band (read from its tolerance, e.g. ``"SVD rank, band 10"``): bars beyond
  the band are conclusive; colours say holds / violated / inconclusive.
* :func:`rank_figure` — each rank report's smallest singular values over ``σ_max`` against its
  tolerance ``tol / σ_max``.

Both read the JSON form of the evidence (``Result.to_dict()["evidence"]``), so they draw
exactly what ``results.json`` holds.

Example:
    >>> rank_evidence({"a": {"rank": 2, "tol": 1e-12, "sigma_max": 3.0, "smallest_singular_values": [1.0]},
    ...                "b": [1, 2]})[0][0]
    'a'
    >>> band_of("SVD rank, band 10"), band_of("exact")
    (10.0, None)
"""

from __future__ import annotations

import io
import math
import re

__all__ = ["evidence_figures", "observation_figure", "rank_figure", "rank_evidence", "observations", "band_of"]

_RANK_KEYS = {"smallest_singular_values", "tol", "sigma_max", "rank"}
_OBS_KEYS = {"name", "holds", "conclusive", "margin"}
_COLORS = {"holds": "#2e9e3e", "violated": "#c62828", "inconclusive": "#b04ab0"}


def band_of(tolerance: str) -> float | None:
    """The band factor written in an observation's tolerance text (``"…, band 10"``), if any."""
    m = re.search(r"band\s*([0-9.eE+-]+)", str(tolerance))
    try:
        return float(m.group(1)) if m else None
    except ValueError:
        return None


def rank_evidence(evidence, path: str = "") -> list[tuple[str, dict]]:
    """Every rank report (a dict with ``smallest_singular_values``, ``tol``, ``sigma_max``, ``rank``) in
    a check's JSON evidence, with its path, in document order."""
    found = []
    if isinstance(evidence, dict):
        if _RANK_KEYS <= set(evidence):
            return [(path or "evidence", evidence)]
        for key, value in evidence.items():
            found += rank_evidence(value, f"{path}/{key}" if path else str(key))
    elif isinstance(evidence, list):
        for i, value in enumerate(evidence):
            label = value.get("instance") if isinstance(value, dict) else None
            found += rank_evidence(value, f"{path}[{label if label else i}]")
    return found


def observations(evidence) -> list[dict]:
    """Every observation (a dict with ``name``, ``holds``, ``conclusive``, ``margin``) in the evidence."""
    found = []
    if isinstance(evidence, dict):
        if _OBS_KEYS <= set(evidence):
            return [evidence]
        for value in evidence.values():
            found += observations(value)
    elif isinstance(evidence, list):
        for value in evidence:
            found += observations(value)
    return found


def _margin(value) -> float:
    if isinstance(value, str):  # JSON writes inf as "inf"
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan if value is None else float(value)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _figure(height: float, legend_rows: int, left: float = 0.1):
    """A figure with fixed margins (a verify report draws dozens: no layout engine, which costs half
    the drawing time) and room below the axes for ``legend_rows`` rows of legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, height))
    FigureCanvasAgg(fig)
    bottom = (0.75 + 0.22 * legend_rows) / height
    fig.subplots_adjust(left=left, right=0.97, top=1 - 0.35 / height, bottom=bottom)
    return fig


def observation_figure(check_id: str, evidence, *, max_rows: int = 24) -> bytes | None:
    """PNG: each observation's margin (log axis) vs the threshold 1 and its band; ``None`` if there is none.

    With more than ``max_rows`` observations the smallest margins are drawn (the ones that decide).
    """
    obs = [(o, _margin(o["margin"])) for o in observations(evidence)]
    obs = [(o, m) for o, m in obs if not math.isnan(m)]
    if not obs:
        return None
    import matplotlib
    import numpy as np

    shown = sorted(obs, key=lambda om: om[1])[:max_rows] if len(obs) > max_rows else obs
    finite = [m for _, m in shown if 0 < m < math.inf]
    hi = max(finite + [10.0]) * 30
    lo = min(finite + [0.1]) / 30
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with matplotlib.rc_context({"font.size": 10}):
        labels = [str(o["name"])[:48] + ("…" if len(str(o["name"])) > 48 else "") for o, _ in shown]
        fig = _figure(1.9 + 0.28 * len(shown), 2, left=min(0.5, 0.03 + 0.0105 * max(map(len, labels))))
        ax = fig.subplots()
        y = np.arange(len(shown))[::-1]
        for yi, (o, m) in zip(y, shown):
            state = "inconclusive" if not o["conclusive"] else ("holds" if o["holds"] else "violated")
            if 0 < m < math.inf:
                ax.barh(yi, m - lo, left=lo, color=_COLORS[state], height=0.6)  # ends at m
            else:  # exact facts: no number to draw, a marker at the edge
                x = hi if m == math.inf else lo * 2
                ax.plot([x], [yi], ">" if m == math.inf else "<", color=_COLORS[state], ms=9)
                ax.text(x, yi, " ∞ (exact)" if m == math.inf else " 0 (exact)", va="center", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi * 8)
        ax.axvline(1.0, color="k", lw=1.2)
        bands = sorted({b for o, _ in shown if (b := band_of(o.get("tolerance", ""))) and b > 1})
        for b in bands:
            ax.axvline(b, color="k", ls=":", lw=1.2)
        handles = [Patch(color=c, label=f"conclusion {k}" if k != "inconclusive" else k) for k, c in _COLORS.items()]
        handles.append(Line2D([], [], color="k", lw=1.2, label="threshold (margin 1)"))
        handles += [Line2D([], [], color="k", ls=":", lw=1.2, label=f"band ×{b:g}: conclusive beyond") for b in bands]
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(shown) - 0.3)
        ax.set_xlabel("margin (log): factor by which the number clears its threshold")
        title = f"{check_id}: {len(obs)} observations" + (f" ({len(shown)} smallest margins shown)"
                                                          if len(shown) < len(obs) else "")
        ax.set_title(title)
        fig.legend(handles=handles, loc="lower center", ncols=3, fontsize=9, frameon=False)
        return _png(fig)


def rank_figure(check_id: str, evidence, *, max_reports: int = 8) -> bytes | None:
    """PNG: each rank report's smallest singular values over ``σ_max`` (markers) and its tolerance
    (dotted, same colour); ``None`` if the evidence has no rank report. The same matrix reported
    under several names is drawn once."""
    merged: dict = {}
    for path, r in rank_evidence(evidence):
        if isinstance(r["sigma_max"], (int, float)) and r["sigma_max"] > 0 and r["smallest_singular_values"]:
            key = (tuple(r["smallest_singular_values"]), r["tol"])
            merged.setdefault(key, ([], r))[0].append(path)
    usable = [(" = ".join(paths[:2]) + (" = …" if len(paths) > 2 else ""), r) for paths, r in merged.values()]
    usable = usable[:max_reports]
    if not usable:
        return None
    import matplotlib
    import matplotlib.ticker
    import numpy as np

    with matplotlib.rc_context({"font.size": 10}):
        fig = _figure(3.6 + 0.22 * len(usable), len(usable), left=0.11)
        ax = fig.subplots()
        colors = matplotlib.colormaps["tab10"].colors
        for i, (path, r) in enumerate(usable):
            s = np.asarray(r["smallest_singular_values"], dtype=float) / float(r["sigma_max"])
            color = colors[i % len(colors)]
            x = np.arange(1, s.size + 1)
            of = min(r["shape"]) if "shape" in r else "?"
            ax.semilogy(x, np.maximum(s, 1e-300), "o-", color=color, ms=4, lw=1,
                        label=f"{path[:70]}: rank {r['rank']} of {of}")
            ax.axhline(float(r["tol"]) / float(r["sigma_max"]), color=color, ls=":", lw=1.2)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("i-th smallest singular value (1 = σ_min)")
        ax.set_ylabel("σ_i / σ_max")
        ax.set_title(f"{check_id}: rank evidence (dotted: tolerance / σ_max)")
        fig.legend(loc="lower center", fontsize=8.5, frameon=False)
        return _png(fig)


def evidence_figures(record) -> list[bytes]:
    """The figures of a :class:`~theory_lab.checking.Record`'s evidence (possibly none): the
    observations' margins, else (evidence without observations) its rank reports."""
    evidence = record.result.to_dict()["evidence"]
    png = observation_figure(record.check.id, evidence)
    png = rank_figure(record.check.id, evidence) if png is None else png
    return [] if png is None else [png]
