"""The vocabulary of checks: verdicts, hypotheses, results, the registry and the runner.

A :class:`Check` names the paper item it verifies (``"Theorem 3.5"``) and has a
``run(ctx) -> Result``. Its :class:`Result` carries a :class:`Verdict` (THEORY.md §5),
every hypothesis with its truth value, the margin behind the verdict and the
numerical evidence. Checks are found through the entry-point group
``theory_lab.checks`` (each entry a list of checks, or a callable returning one),
so other installed packages can add theirs; :func:`register` adds one in-process.
The library never imports the checks themselves (they live in ``proofs_checks``).

A check observes its conclusion into an :class:`Evidence` (each observation decided
against a named tolerance, :mod:`theory_lab.tolerances`, whose band models the real
error of the number) and lets :func:`conclude` turn hypotheses and evidence into the
verdict, margin and summary: :func:`theorem_verdict` for a result under its hypotheses,
:func:`converse_verdict` for a converse (a hypothesis broken, the conclusion shown to fail).

Example:
    >>> from theory_lab.checking import Check, Evidence, Hypothesis, conclude
    >>> def run(ctx):
    ...     ev = Evidence()
    ...     ev.exact("n_1", 216, 200, ">=")
    ...     return conclude("the layer is wide", [Hypothesis("N = 200", True)], ev)
    >>> check = Check("demo", "Example", "a wide layer", run)
    >>> result = check.run(Context(seed=0))
    >>> result.verdict.value, result.summary
    ('holds', 'holds: the layer is wide — observed 1×, closest: n_1 = 216 >= 200: yes')
"""

from __future__ import annotations

import enum
import math
import time
import traceback
import zlib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import numpy as np

__all__ = ["Verdict", "Hypothesis", "Result", "Check", "Context", "Record", "Observation", "Evidence",
           "theorem_verdict", "converse_verdict", "conclude", "applicable", "register", "discover",
           "run_check", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "theory_lab.checks"


class Verdict(str, enum.Enum):
    """Outcome of a check (THEORY.md §5); probes report ``measured`` frequencies instead."""

    HOLDS = "holds"
    FAILS = "fails"
    NOT_APPLICABLE = "not applicable"
    INCONCLUSIVE = "inconclusive"
    MEASURED = "measured"
    ERROR = "error"


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of a result, tested on the actual instance."""

    name: str
    met: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "met": bool(self.met), "detail": self.detail}

    def prefixed(self, prefix: str) -> "Hypothesis":
        """The same hypothesis named ``"{prefix}: {name}"`` (one instance among several)."""
        return Hypothesis(f"{prefix}: {self.name}", self.met, self.detail)


def _jsonable(x: Any):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "to_dict"):
        return _jsonable(x.to_dict())
    if isinstance(x, (np.ndarray,)) or type(x).__module__.startswith("jax"):
        return _jsonable(np.asarray(x).tolist())
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


@dataclass
class Result:
    """What a check found.

    Attributes:
        verdict: the :class:`Verdict`.
        hypotheses: each hypothesis and whether the instance meets it.
        margin: the factor by which the deciding quantity clears its tolerance
            (``> 1`` clears it; ``None`` where no single number decides).
        evidence: the numbers behind the verdict (JSON-serialisable after conversion).
        summary: one sentence for the report.
        broken: names of the hypotheses a converse breaks on purpose (listed in
            ``hypotheses`` too); empty for a theorem's check.
    """

    verdict: Verdict
    hypotheses: list = field(default_factory=list)
    margin: float | None = None
    evidence: dict = field(default_factory=dict)
    summary: str = ""
    broken: tuple = ()

    @property
    def hypotheses_met(self) -> bool:
        """Every listed hypothesis met (a converse lists the ones it breaks, so this is False for it)."""
        return all(h.met for h in self.hypotheses)

    @property
    def set_up(self) -> bool:
        """The instance is as the rule needs it: every hypothesis met, except a converse's broken
        ones, which are unmet (a verdict other than *not applicable* needs this)."""
        return all(h.met != (h.name in self.broken) for h in self.hypotheses)

    def to_dict(self) -> dict:
        out = {"verdict": self.verdict.value, "hypotheses": [h.to_dict() for h in self.hypotheses],
               "hypotheses_met": self.hypotheses_met, "set_up": self.set_up, "margin": self.margin,
               "evidence": self.evidence, "summary": self.summary}
        if self.broken:
            out["broken"] = list(self.broken)
        return _jsonable(out)


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

    def to_dict(self) -> dict:
        return _jsonable({"name": self.name, "holds": bool(self.holds), "conclusive": bool(self.conclusive),
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
        """An observation decided elsewhere (an inertia); ``margin > 1`` exactly when it holds."""
        return self.add(Observation(name, bool(holds), bool(conclusive), float(margin), detail, **extra))

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
            return sigma(r) / tol if tol > 0 else (math.inf if sigma(r) > 0 else 0.0)

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
        return {"observations": [o.to_dict() for o in self.observations], **_jsonable(self.facts)}


def theorem_verdict(hypotheses, evidence: Evidence) -> Verdict:
    """The rule for a theorem's check (THEORY.md §5).

    A hypothesis unmet on the instance: *not applicable* (the conclusion need not have been
    observed: a check may stop before work that its hypotheses make meaningless). Else any
    conclusive violation: *fails* (a counterexample or a bug, never hidden by other
    inconclusive observations). Else any observation inside its band: *inconclusive*.
    Else *holds*.
    """
    if not all(h.met for h in hypotheses):
        return Verdict.NOT_APPLICABLE
    if not evidence.observations:
        raise ValueError("a check must observe its conclusion at least once; the Evidence is empty.")
    if evidence.violations:
        return Verdict.FAILS
    if evidence.unresolved:
        return Verdict.INCONCLUSIVE
    return Verdict.HOLDS


def converse_verdict(kept, broken, evidence: Evidence) -> Verdict:
    """The rule for a converse: break a hypothesis, show the conclusion can then fail.

    ``kept``: hypotheses the instance must still meet; ``broken``: the hypotheses the
    converse breaks, each computed on the instance (``met`` must be False). ``evidence``
    observes the theorem's *conclusion*. If a kept hypothesis is unmet or a broken one
    is in fact met: *not applicable*. A conclusive violation of the conclusion: *holds*
    (the converse is shown). Every observation conclusively satisfying it: *fails*.
    Otherwise *inconclusive*.
    """
    if not broken:
        raise ValueError("a converse must break at least one hypothesis; `broken` is empty.")
    if not all(h.met for h in kept) or any(h.met for h in broken):
        return Verdict.NOT_APPLICABLE
    if not evidence.observations:
        raise ValueError("a converse must observe the conclusion at least once; the Evidence is empty.")
    if evidence.violations:
        return Verdict.HOLDS
    if evidence.unresolved:
        return Verdict.INCONCLUSIVE
    return Verdict.FAILS


def _closest(observations):
    return min(observations, key=lambda o: abs(math.log(o.margin)) if 0 < o.margin < math.inf else math.inf)


def conclude(claim: str, hypotheses, evidence: Evidence, *, broken=None) -> Result:
    """A :class:`Result` with its verdict, margin and summary generated from the evidence.

    ``claim`` states the conclusion (``"rank F_1 = N"``). With ``broken`` (a list of
    :class:`Hypothesis`) the converse rule applies: ``hypotheses`` are the kept ones and
    the result lists kept and broken hypotheses together. The margin is the evidence's
    smallest (the observation closest to flipping, ``< 1`` when violated) for a theorem,
    and the strongest violation's factor (``> 1`` when shown) for a converse.

    Example:
        >>> from theory_lab.tolerances import Tolerance
        >>> ev = Evidence(); _ = ev.at_most("‖r‖", 3.0, Tolerance(1e-8, 10.0, "fit", "rounding"))
        >>> r = conclude("exact fit", [Hypothesis("n_1 ≥ N", True)], ev)
        >>> r.verdict.value, r.summary
        ('fails', 'fails: exact fit — violated: ‖r‖ = 3.000e+00 > 1.000e-08 (fit)')
    """
    hypotheses = list(hypotheses)
    if broken is None:
        verdict, shown = theorem_verdict(hypotheses, evidence), hypotheses
    else:
        broken = list(broken)
        verdict, shown = converse_verdict(hypotheses, broken, evidence), hypotheses + broken
    prefix = f"converse of {claim}" if broken is not None else claim
    if verdict is Verdict.NOT_APPLICABLE:
        if broken is not None and any(h.met for h in broken):
            why = "; ".join(f"{h.name} is met ({h.detail})" if h.detail else f"{h.name} is met"
                            for h in broken if h.met)
            text = f"not applicable: {prefix} — the hypothesis to break holds on the instance: {why}"
        else:
            why = "; ".join(f"{h.name}" + (f" ({h.detail})" if h.detail else "") for h in hypotheses if not h.met)
            text = f"not applicable: {prefix} — unmet hypothesis: {why}"
    else:
        if evidence.violations:
            worst = min(evidence.violations, key=lambda o: o.margin)
            part = f"violated: {worst.detail or worst.name}"
            if len(evidence.violations) > 1:
                part += f" (and {len(evidence.violations) - 1} more)"
        elif evidence.unresolved:
            worst = _closest(evidence.unresolved)
            part = f"inside the tolerance band: {worst.detail or worst.name}"
            if len(evidence.unresolved) > 1:
                part += f" (and {len(evidence.unresolved) - 1} more)"
        else:
            worst = min(evidence.observations, key=lambda o: o.margin)
            part = f"observed {len(evidence.observations)}×, closest: {worst.detail or worst.name}"
        text = f"{verdict.value}: {prefix} — {part}"
    margin = evidence.margin if broken is None else evidence.violation_margin
    names = tuple(h.name for h in broken) if broken is not None else ()
    return Result(verdict, shown, margin, evidence.to_dict(), text, names)


def applicable(hypotheses, broken=()) -> bool:
    """Whether the rule can get past *not applicable*: every hypothesis met, every broken one unmet.

    A check calls it before work that unmet hypotheses make meaningless (or impossible:
    Theorem 3.4's construction needs distinct samples) and then :func:`conclude` s at once.
    """
    return all(h.met for h in hypotheses) and not any(h.met for h in broken)


@dataclass(frozen=True)
class Check:
    """A registered check.

    Attributes:
        id: unique, short, kebab-case (``"theorem-3.5"``); selects it on the command line.
        item: the THEORY.md item it verifies (``"Theorem 3.5"``).
        title: one line.
        run: ``run(ctx: Context) -> Result``.
        kind: ``"check"`` (a result under its hypotheses), ``"converse"`` (a hypothesis
            broken, the conclusion shown to fail) or ``"probe"`` (a measured frequency).
    """

    id: str
    item: str
    title: str
    run: Callable[["Context"], Result]
    kind: str = "check"


class Context:
    """What a check run shares: the seed, derived keys and a cache of built instances.

    ``key(name)`` and ``rng(name)`` derive independent, reproducible streams from the
    run's seed and a name, so each check's randomness does not depend on which other
    checks ran.
    """

    def __init__(self, seed: int = 0, *, progress: Callable[[str], None] | None = None):
        self.seed = int(seed)
        self._cache: dict = {}
        self.progress = progress or (lambda message: None)
        #: provenance (``Dataset.provenance``) of every data set handed out by :meth:`cached` since
        #: :func:`run_check` last reset it: which data a check ran on, for its record
        self.datasets: list[dict] = []

    def _salt(self, name: str) -> int:
        return zlib.crc32(name.encode()) & 0x7FFFFFFF

    def key(self, name: str):
        import jax

        return jax.random.fold_in(jax.random.key(self.seed), self._salt(name))

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._salt(name)])

    def cached(self, name, build: Callable[[], Any]):
        """``build()`` once per ``name``; a data set (or an instance holding one in ``.data``) is noted
        in :attr:`datasets`."""
        if name not in self._cache:
            self._cache[name] = build()
        value = self._cache[name]
        found = getattr(value, "provenance", None) or getattr(getattr(value, "data", None), "provenance", None)
        if isinstance(found, dict) and found not in self.datasets:
            self.datasets.append(found)
        return value


_LOCAL: list[Check] = []


def register(check: Check) -> Check:
    """Register a check in this process (entry points are the installed-package route)."""
    _LOCAL.append(check)
    return check


def discover() -> list[Check]:
    """All checks: from the ``theory_lab.checks`` entry points, then :func:`register`-ed ones."""
    found: list[Check] = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        obj = ep.load()
        found.extend(obj() if callable(obj) else obj)
    found.extend(_LOCAL)
    ids = [c.id for c in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"check ids {dupes} are registered twice; give each check a unique `id`.")
    return found


@dataclass
class Record:
    """A check and its result, timed."""

    check: Check
    result: Result
    seconds: float
    error: str | None = None
    datasets: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {"id": self.check.id, "item": self.check.item, "title": self.check.title, "kind": self.check.kind,
               "seconds": round(self.seconds, 3), "datasets": list(self.datasets), **self.result.to_dict()}
        if self.error:
            out["error"] = self.error
        return out


def run_check(check: Check, ctx: Context) -> Record:
    """Run one check; an exception becomes an ``error`` verdict with its traceback."""
    start = time.perf_counter()
    ctx.datasets = []
    try:
        result = check.run(ctx)
        if not isinstance(result, Result):
            raise TypeError(f"check {check.id!r} returned {type(result).__name__}, expected Result")
        error = None
    except Exception as exc:  # a crashing check is reported, never hidden
        result = Result(Verdict.ERROR, summary=f"{type(exc).__name__}: {exc}")
        error = traceback.format_exc()
    return Record(check, result, time.perf_counter() - start, error, list(ctx.datasets))
