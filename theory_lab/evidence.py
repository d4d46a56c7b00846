"""Evidence: a check's observations, each decided against a named tolerance.

An :class:`Observation` is one number compared with its threshold (or one integer with
its expected value): whether it holds, whether the comparison is conclusive (outside the
tolerance's band, :mod:`theory_lab.tolerances`), its margin and a line of text. An
:class:`Evidence` collects a check's observations and facts;
:func:`theory_lab.checking.conclude` turns it, with the hypotheses, into a verdict.

Example:
    >>> from theory_lab.evidence import Evidence
    >>> ev = Evidence()
    >>> ev.exact("n_1", 216, 200, ">=").holds, ev.holds, ev.conclusive
    (True, True, True)
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Observation", "Evidence", "jsonable"]


def jsonable(x: Any):
    """``x`` as plain JSON types: dicts, lists, bools, ints, floats (non-finite ones as strings).

    Arrays become nested lists, enums their values, objects with ``to_dict`` their dict.

    Example:
        >>> import numpy as np
        >>> jsonable({"s": np.array([1.0, np.inf]), 2: np.int64(3)})
        {'s': [1.0, 'inf'], '2': 3}
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "to_dict"):
        return jsonable(x.to_dict())
    if isinstance(x, (np.ndarray,)) or type(x).__module__.startswith("jax"):
        return jsonable(np.asarray(x).tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if isinstance(x, enum.Enum):
        return x.value
    return x


@dataclass(frozen=True)
class Observation:
    """One observed instance of a conclusion, decided against a tolerance band.

    ``holds`` says whether the conclusion is observed; ``conclusive`` whether the
    deciding number sits outside the band around its tolerance (so the error that the
    tolerance models cannot flip ``holds``). ``margin`` is the factor by which the number
    clears the threshold on the side it is on: ``> 1`` when it holds, ``< 1`` when it is
    violated (``inf`` / ``0`` for exact facts). Conclusiveness never looks at ``holds``:
    it depends only on the distance to the threshold.
    """

    name: str
    holds: bool
    conclusive: bool
    margin: float
    detail: str = ""
    value: float | None = None
    threshold: float | None = None
    tolerance: str = ""

    @property
    def finite(self) -> bool:
        """The deciding number is finite (an exact count, a rank or a decision made elsewhere always is)."""
        try:
            return self.value is None or math.isfinite(float(self.value))
        except (TypeError, ValueError, OverflowError):  # not a float (a huge int is finite)
            return True

    def to_dict(self) -> dict:
        return jsonable({"name": self.name, "holds": bool(self.holds), "conclusive": bool(self.conclusive),
                          "margin": self.margin, "value": self.value, "threshold": self.threshold,
                          "tolerance": self.tolerance, "detail": self.detail})


_RELATIONS = {"==": lambda a, b: a == b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
              "<": lambda a, b: a < b, ">": lambda a, b: a > b}


class Evidence:
    """Accumulates :class:`Observation` s and folds their margins and conclusiveness.

    Each way of observing names the error its band models:

    * :meth:`at_most` / :meth:`at_least` — a float against a
      :class:`~theory_lab.tolerances.Tolerance` (the tolerance says what error it models:
      SVD rounding, a solver's forward error, a bound's slack, …); inside
      ``[value / band, value · band]``: inconclusive. NaN or Inf: a conclusive violation.
    * :meth:`rank` — a rank relation (``rank == r``, ``≤``, ``≥``, ``<``, ``>``) from a
      :class:`~theory_lab.linalg.RankReport`: every singular value within the report's band
      of its tolerance (SVD rounding of the stored matrix) may count either way; the
      observation is conclusive when the relation has the same truth for every rank those
      singular values allow, and for every rank up to ``min(shape)`` when the report is
      ``unresolved`` (saturated units below float64 resolution).
    * :meth:`exact` — integers (widths, counts, parameter numbers): no rounding, no band,
      always conclusive.
    * :meth:`observe` — a decision made elsewhere with its own band (an inertia).

    Example:
        >>> from theory_lab.tolerances import Tolerance
        >>> ev = Evidence()
        >>> tol = Tolerance(1e-10, 10.0, "residual", "rounding")
        >>> ev.at_most("residual", 1e-14, tol).holds, ev.at_least("gap", 5e-10, tol).conclusive
        (True, False)
        >>> ev.holds, ev.conclusive, ev.margin
        (True, False, 5.0)
        >>> ev.exact("n_1", 216, 200, ">=").margin
        inf
    """

    def __init__(self):
        self.observations: list[Observation] = []
        self.facts: dict = {}

    def add(self, obs: Observation) -> Observation:
        self.observations.append(obs)
        return obs

    def observe(self, name: str, holds: bool, *, margin: float, conclusive: bool, detail: str = "",
                **extra) -> Observation:
        """An observation decided elsewhere (an inertia); ``margin > 1`` exactly when it holds (``1`` at a tie).

        A margin that contradicts ``holds`` (or is NaN) is refused: the verdict and its margin would disagree.
        """
        margin = float(margin)
        if math.isnan(margin) or (margin < 1 if holds else margin > 1):
            raise ValueError(f"observation {name!r}: holds={bool(holds)} with margin={margin!r}; the margin is the "
                             "factor by which the number clears its threshold, >= 1 when it holds and <= 1 when it "
                             "is violated. Pass the margin of the side the number is on.")
        return self.add(Observation(name, bool(holds), bool(conclusive), margin, detail, **extra))

    def _compare(self, name, value, tol, at_most: bool, detail: str) -> Observation:
        value = float(value)
        t = float(tol.value)
        sign = "≤" if at_most else "≥"
        if not math.isfinite(value):
            return self.add(Observation(name, False, True, 0.0, detail or f"{name} is {value} (not {sign} {t:.3e})",
                                        value, t, tol.name))
        if at_most:
            holds = value <= t
            margin = t / value if value > 0 else math.inf  # value ≤ 0 ≤ t: holds at any scale
        else:
            holds = value >= t
            if t > 0:
                margin = value / t if value > 0 else 0.0  # value ≤ 0 < t: violated at any scale
            else:
                margin = math.inf if holds else 0.0  # a threshold of 0 has no band
        ratio = margin if holds else (1.0 / margin if margin > 0 else math.inf)
        conclusive = ratio >= tol.band
        text = detail or f"{name} = {value:.3e} {sign if holds else ('>' if at_most else '<')} {t:.3e} ({tol.name})"
        return self.add(Observation(name, holds, conclusive, margin, text, value, t, tol.name))

    def at_most(self, name: str, value: float, tol, detail: str = "") -> Observation:
        """Observe ``value ≤ tol.value`` (NaN/Inf: a conclusive violation)."""
        return self._compare(name, value, tol, True, detail)

    def at_least(self, name: str, value: float, tol, detail: str = "") -> Observation:
        """Observe ``value ≥ tol.value`` (NaN/Inf: a conclusive violation)."""
        return self._compare(name, value, tol, False, detail)

    def rank(self, name: str, report, expected: int, relation: str = "==") -> Observation:
        """Observe ``rank <relation> expected`` from a :class:`~theory_lab.linalg.RankReport`.

        The margin is how far the singular value that decides the relation sits from the
        tolerance, as a factor (``σ_r / tol`` for ``rank ≥ r``, ``tol / σ_{r+1}`` for
        ``rank ≤ r``, the smaller of both for ``==``); ``> 1`` exactly when the relation
        holds. Conclusive when every rank allowed by the band (singular values in
        ``[tol / band, tol · band]`` counted either way) gives the same answer.

        Example:
            >>> import numpy as np
            >>> from theory_lab.linalg import rank_report
            >>> r = rank_report(np.diag([1.0, 1e-3, 1e-17]))  # rank 2 of 3
            >>> ev = Evidence()
            >>> ev.rank("A", r, 3).holds, ev.rank("A", r, 3, "<").holds, ev.observations[-1].conclusive
            (False, True, True)
        """
        if relation not in _RELATIONS:
            raise ValueError(f"`relation`={relation!r} is unknown; choose one of {sorted(_RELATIONS)}.")
        expected = int(expected)
        rel = _RELATIONS[relation]
        s, tol, band = np.asarray(report.singular_values, dtype=np.float64), float(report.tol), float(report.band)
        holds = bool(rel(report.rank, expected))
        lo, hi = report.rank_range()  # the ranks the band (and an exact rank bound) allows
        conclusive = all(bool(rel(r, expected)) == holds for r in range(lo, hi + 1))
        bound = s.size if report.rank_bound is None else min(s.size, report.rank_bound)

        def sigma(i):  # i-th singular value, 1-based; absent ones and those past a certified bound are exact zeros
            return float(s[i - 1]) if 1 <= i <= bound else 0.0

        def ge(r):  # rank ≥ r  ⟺  σ_r > tol
            if r <= 0:
                return math.inf
            floor = max(tol, float(report.forward_error))  # a forward error the SVD tolerance does not model
            return sigma(r) / floor if floor > 0 else (math.inf if sigma(r) > 0 else 0.0)

        def le(r):  # rank ≤ r  ⟺  σ_{r+1} ≤ tol
            v = sigma(r + 1)
            return tol / v if v > 0 else math.inf

        margin = {"==": lambda: min(ge(expected), le(expected)), ">=": lambda: ge(expected),
                  ">": lambda: ge(expected + 1), "<=": lambda: le(expected),
                  "<": lambda: le(expected - 1)}[relation]()
        if margin > 1 and not holds or margin < 1 and holds:  # ties exactly at tol
            margin = 1.0
        why = f"; {report.unresolved}" if report.unresolved else ""
        if report.certificate:
            why += f"; rank <= {report.rank_bound} in exact arithmetic: {report.certificate}"
        detail = f"{name}: {report} (rank {relation} {expected}: {'yes' if holds else 'no'}{why})"
        return self.add(Observation(name, holds, conclusive, float(margin), detail, float(report.rank),
                                    float(expected), f"SVD rank, band {band:g}"))

    def exact(self, name: str, value: int, expected: int, relation: str = "==", detail: str = "") -> Observation:
        """Observe an exact integer relation (widths, counts): always conclusive, margin ``inf`` or ``0``."""
        if relation not in _RELATIONS:
            raise ValueError(f"`relation`={relation!r} is unknown; choose one of {sorted(_RELATIONS)}.")
        holds = bool(_RELATIONS[relation](value, expected))
        text = detail or f"{name} = {value} {relation} {expected}: {'yes' if holds else 'no'}"
        return self.add(Observation(name, holds, True, math.inf if holds else 0.0, text, value, expected, "exact"))

    @property
    def holds(self) -> bool:
        return all(o.holds for o in self.observations)

    @property
    def conclusive(self) -> bool:
        return all(o.conclusive for o in self.observations)

    @property
    def violations(self) -> list[Observation]:
        """Conclusive observations where the conclusion does not hold."""
        return [o for o in self.observations if o.conclusive and not o.holds]

    @property
    def non_finite(self) -> list[Observation]:
        """Observations whose number is NaN or ±Inf: a conclusive violation of a theorem's conclusion (a bug
        is never hidden), but no evidence that a converse's conclusion fails
        (:func:`~theory_lab.checking.converse_verdict`)."""
        return [o for o in self.observations if not o.finite]

    @property
    def unresolved(self) -> list[Observation]:
        return [o for o in self.observations if not o.conclusive]

    @property
    def margin(self) -> float | None:
        """The smallest margin (the observation closest to flipping), ``None`` when empty."""
        return min((o.margin for o in self.observations), default=None)

    @property
    def violation_margin(self) -> float | None:
        """The factor of the strongest violation (``1 / margin``, largest over observations; a
        converse's margin: ``> 1`` when the conclusion is violated somewhere), ``None`` when empty."""
        return max((1.0 / o.margin if o.margin > 0 else math.inf for o in self.observations), default=None)

    def to_dict(self) -> dict:
        return {"observations": [o.to_dict() for o in self.observations], **jsonable(self.facts)}
