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

__all__ = ["Verdict", "Hypothesis", "Result", "Check", "Context", "Record", "decide", "register",
           "discover", "run_check", "ENTRY_POINT_GROUP"]

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
