"""The vocabulary of checks: verdicts, hypotheses, results, the registry and the runner.

A :class:`Check` names the paper item it verifies (``"Theorem 3.5"``) and has a
``run(ctx) -> Result``. Its :class:`Result` carries a :class:`Verdict` (THEORY.md §5),
every hypothesis with its truth value, the margin behind the verdict and the
numerical evidence. Checks are found through the entry-point group
``theory_lab.checks`` (each entry a list of checks, or a callable returning one),
so other installed packages can add theirs; :func:`register` adds one in-process.
The library never imports the checks themselves (they live in ``proofs_checks``).

Example:
    >>> from theory_lab.checking import Check, Hypothesis, Result, Verdict, decide
    >>> def run(ctx):
    ...     hyps = [Hypothesis("2 > 1", True)]
    ...     return Result(decide(hyps, conclusion=True, conclusive=True), hyps, margin=2.0)
    >>> check = Check("demo", "Example", "two is larger than one", run)
    >>> check.run(Context(seed=0)).verdict
    <Verdict.HOLDS: 'holds'>
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
           "theorem_verdict", "converse_verdict", "conclude", "decide", "register", "discover", "run_check",
           "ENTRY_POINT_GROUP"]

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
    """

    verdict: Verdict
    hypotheses: list = field(default_factory=list)
    margin: float | None = None
    evidence: dict = field(default_factory=dict)
    summary: str = ""

    @property
    def hypotheses_met(self) -> bool:
        return all(h.met for h in self.hypotheses)

    def to_dict(self) -> dict:
        return _jsonable({"verdict": self.verdict.value, "hypotheses": [h.to_dict() for h in self.hypotheses],
                          "hypotheses_met": self.hypotheses_met, "margin": self.margin,
                          "evidence": self.evidence, "summary": self.summary})


def decide(hypotheses, conclusion: bool, conclusive: bool) -> Verdict:
    """The verdict rule of THEORY.md §5.

    Hypotheses unmet: not applicable. Otherwise an inconclusive margin gives
    *inconclusive* (never *holds*); a conclusive observation gives holds or fails.
    """
    if not all(h.met for h in hypotheses):
        return Verdict.NOT_APPLICABLE
    if not conclusive:
        return Verdict.INCONCLUSIVE
    return Verdict.HOLDS if conclusion else Verdict.FAILS


@dataclass(frozen=True)
class Observation:
    """One observed instance of a conclusion, decided against a tolerance band.

    ``holds`` says whether the conclusion is observed; ``conclusive`` whether the
    deciding number sits outside the band around its tolerance (so rounding or solver
    error cannot flip ``holds``). ``margin`` is the factor by which the number clears
    the threshold on the side it is on (``> 1`` when it holds, ``< 1`` when violated).
    Conclusiveness never looks at ``holds``: it depends only on the distance to the
    threshold.
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


class Evidence:
    """Accumulates :class:`Observation` s and folds their margins and conclusiveness.

    Example:
        >>> from theory_lab.tolerances import Tolerance
        >>> ev = Evidence()
        >>> tol = Tolerance(1e-10, 10.0, "residual", "rounding")
        >>> ev.at_most("residual", 1e-14, tol).holds, ev.at_least("gap", 5e-10, tol).conclusive
        (True, False)
        >>> ev.holds, ev.conclusive, ev.margin
        (True, False, 5.0)
    """

    def __init__(self):
        self.observations: list[Observation] = []
        self.facts: dict = {}

    def add(self, obs: Observation) -> Observation:
        self.observations.append(obs)
        return obs

    def observe(self, name: str, holds: bool, *, margin: float, conclusive: bool, detail: str = "",
                **extra) -> Observation:
        """An observation decided elsewhere (a :class:`~theory_lab.linalg.RankReport`, an inertia)."""
        return self.add(Observation(name, bool(holds), bool(conclusive), float(margin), detail, **extra))

    def _compare(self, name, value, tol, at_most: bool, detail: str) -> Observation:
        value = float(value)
        if not math.isfinite(value):
            return self.add(Observation(name, False, True, 0.0, detail or f"{name} is {value}", value,
                                        tol.value, tol.name))
        t = tol.value
        if at_most:
            margin = t / value if value > 0 else math.inf
            holds = value <= t
        else:
            margin = value / t if t > 0 else math.inf
            holds = value >= t
        ratio = margin if holds else 1.0 / margin if margin > 0 else math.inf
        conclusive = ratio >= tol.band
        sign = "≤" if at_most else "≥"
        text = detail or f"{name} = {value:.3e} {sign if holds else ('>' if at_most else '<')} {t:.3e} ({tol.name})"
        return self.add(Observation(name, holds, conclusive, margin, text, value, t, tol.name))

    def at_most(self, name: str, value: float, tol, detail: str = "") -> Observation:
        """Observe ``value ≤ tol.value`` (NaN/Inf: a conclusive violation)."""
        return self._compare(name, value, tol, True, detail)

    def at_least(self, name: str, value: float, tol, detail: str = "") -> Observation:
        """Observe ``value ≥ tol.value`` (NaN/Inf: a conclusive violation)."""
        return self._compare(name, value, tol, False, detail)

    def rank(self, name: str, report, expected: int) -> Observation:
        """Observe ``rank == expected`` from a :class:`~theory_lab.linalg.RankReport` (its band decides)."""
        return self.observe(name, report.rank == expected, margin=report.margin, conclusive=report.conclusive,
                            detail=f"{name}: {report} (expected rank {expected})")

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

    def to_dict(self) -> dict:
        return {"observations": [o.to_dict() for o in self.observations], **_jsonable(self.facts)}


def theorem_verdict(hypotheses, evidence: Evidence) -> Verdict:
    """The rule for a theorem's check (THEORY.md §5).

    A hypothesis unmet on the instance: *not applicable*. Else any conclusive violation:
    *fails* (a counterexample or a bug, never hidden by other inconclusive observations).
    Else any observation inside its band: *inconclusive*. Else *holds*.
    """
    if not evidence.observations:
        raise ValueError("a check must observe its conclusion at least once; the Evidence is empty.")
    if not all(h.met for h in hypotheses):
        return Verdict.NOT_APPLICABLE
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
    if not evidence.observations:
        raise ValueError("a converse must observe the conclusion at least once; the Evidence is empty.")
    if not broken:
        raise ValueError("a converse must break at least one hypothesis; `broken` is empty.")
    if not all(h.met for h in kept) or any(h.met for h in broken):
        return Verdict.NOT_APPLICABLE
    if evidence.violations:
        return Verdict.HOLDS
    if evidence.unresolved:
        return Verdict.INCONCLUSIVE
    return Verdict.FAILS


def conclude(claim: str, hypotheses, evidence: Evidence, *, broken=None) -> Result:
    """A :class:`Result` with its verdict and summary generated from the evidence.

    ``claim`` states the conclusion (``"rank F_1 = N"``). With ``broken`` (a list of
    :class:`Hypothesis`) the converse rule applies: ``hypotheses`` are the kept ones and
    the result lists kept and broken hypotheses together.

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
    if verdict is Verdict.NOT_APPLICABLE:
        if broken is not None and any(h.met for h in broken):
            why = "; ".join(f"{h.name} is met ({h.detail})" if h.detail else f"{h.name} is met"
                            for h in broken if h.met)
            text = f"not applicable: the hypothesis to break holds on the instance: {why}"
        else:
            why = "; ".join(f"{h.name}" + (f" ({h.detail})" if h.detail else "") for h in hypotheses if not h.met)
            text = f"not applicable: unmet hypothesis: {why}"
    else:
        if evidence.violations:
            worst = min(evidence.violations, key=lambda o: o.margin)
            part = f"violated: {worst.detail or worst.name}"
            if len(evidence.violations) > 1:
                part += f" (and {len(evidence.violations) - 1} more)"
        elif evidence.unresolved:
            worst = min(evidence.unresolved, key=lambda o: abs(math.log(o.margin)) if o.margin > 0 else 0.0)
            part = f"inside the tolerance band: {worst.detail or worst.name}"
        else:
            worst = min(evidence.observations, key=lambda o: o.margin)
            part = f"observed {len(evidence.observations)}×, closest: {worst.detail or worst.name}"
        prefix = f"converse of {claim}" if broken is not None else claim
        text = f"{verdict.value}: {prefix} — {part}"
    margin = evidence.margin
    return Result(verdict, shown, margin, evidence.to_dict(), text)


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

    def _salt(self, name: str) -> int:
        return zlib.crc32(name.encode()) & 0x7FFFFFFF

    def key(self, name: str):
        import jax

        return jax.random.fold_in(jax.random.key(self.seed), self._salt(name))

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._salt(name)])

    def cached(self, name, build: Callable[[], Any]):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]


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

    def to_dict(self) -> dict:
        out = {"id": self.check.id, "item": self.check.item, "title": self.check.title, "kind": self.check.kind,
               "seconds": round(self.seconds, 3), **self.result.to_dict()}
        if self.error:
            out["error"] = self.error
        return out


def run_check(check: Check, ctx: Context) -> Record:
    """Run one check; an exception becomes an ``error`` verdict with its traceback."""
    start = time.perf_counter()
    try:
        result = check.run(ctx)
        if not isinstance(result, Result):
            raise TypeError(f"check {check.id!r} returned {type(result).__name__}, expected Result")
        error = None
    except Exception as exc:  # a crashing check is reported, never hidden
        result = Result(Verdict.ERROR, summary=f"{type(exc).__name__}: {exc}")
        error = traceback.format_exc()
    return Record(check, result, time.perf_counter() - start, error)
