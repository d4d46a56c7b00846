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

from theory_lab.evidence import Evidence, Observation, jsonable
from theory_lab.validate import is_real_scalar

__all__ = ["Verdict", "Hypothesis", "Result", "Check", "Context", "Record", "Observation", "Evidence",
           "theorem_verdict", "converse_verdict", "instance_violations", "conclude", "applicable", "register",
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

    def prefixed(self, prefix: str) -> "Hypothesis":
        """The same hypothesis named ``"{prefix}: {name}"`` (one instance among several)."""
        return Hypothesis(f"{prefix}: {self.name}", self.met, self.detail)


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
        return jsonable(out)


def _scoped(prefixes, items):
    return [x for x in items if any(x.name.startswith(p) for p in prefixes)]


def instance_violations(hypotheses, evidence: Evidence, instances=()) -> list[Observation]:
    """Conclusive violations on an instance that meets every hypothesis it is held to.

    A check that runs several instances names each one's hypotheses and observations
    ``"{instance}: …"`` (:meth:`Hypothesis.prefixed`); an unprefixed hypothesis holds every
    instance to it. A counterexample on such an instance is one, whatever another instance
    breaks: that instance's *not applicable* must not hide it.
    """
    found = []
    shared = [h for h in hypotheses if not _scoped([f"{p}: " for p in instances], [h])]
    for p in instances:
        own = _scoped([f"{p}: "], hypotheses)
        if all(h.met for h in shared + own):
            found += _scoped([f"{p}: "], evidence.violations)
    return found


def theorem_verdict(hypotheses, evidence: Evidence, instances=()) -> Verdict:
    """The rule for a theorem's check (THEORY.md §5).

    A hypothesis unmet on the instance: *not applicable* (the conclusion need not have been
    observed: a check may stop before work that its hypotheses make meaningless), unless
    ``instances`` names the check's instances and one that meets all of its hypotheses shows
    a conclusive violation (:func:`instance_violations`): *fails*. Else any
    conclusive violation: *fails* (a counterexample or a bug, never hidden by other
    inconclusive observations). Else any observation inside its band: *inconclusive*.
    Else *holds*.
    """
    if not all(h.met for h in hypotheses):
        return Verdict.FAILS if instance_violations(hypotheses, evidence, instances) else Verdict.NOT_APPLICABLE
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
    is in fact met: *not applicable*. A NaN or infinite number (:attr:`Evidence.non_finite`)
    shows nothing about the conclusion: *fails* (the converse is not shown, and a bug is never
    hidden, as in :func:`theorem_verdict`). A conclusive violation of the conclusion: *holds*
    (the converse is shown). Every observation conclusively satisfying it: *fails*.
    Otherwise *inconclusive*.
    """
    if not broken:
        raise ValueError("a converse must break at least one hypothesis; `broken` is empty.")
    if not all(h.met for h in kept) or any(h.met for h in broken):
        return Verdict.NOT_APPLICABLE
    if not evidence.observations:
        raise ValueError("a converse must observe the conclusion at least once; the Evidence is empty.")
    if evidence.non_finite:
        return Verdict.FAILS
    if evidence.violations:
        return Verdict.HOLDS
    if evidence.unresolved:
        return Verdict.INCONCLUSIVE
    return Verdict.FAILS


def _closest(observations):
    return min(observations, key=lambda o: abs(math.log(o.margin)) if 0 < o.margin < math.inf else math.inf)


def conclude(claim: str, hypotheses, evidence: Evidence, *, broken=None, instances=()) -> Result:
    """A :class:`Result` with its verdict, margin and summary generated from the evidence.

    ``claim`` states the conclusion (``"rank F_1 = N"``). With ``broken`` (a list of
    :class:`Hypothesis`) the converse rule applies: ``hypotheses`` are the kept ones and
    the result lists kept and broken hypotheses together. ``instances``: the names that
    prefix a several-instance check's hypotheses and observations (:func:`theorem_verdict`).
    The margin is the evidence's smallest (the observation closest to flipping, ``< 1``
    when violated) for a theorem, and the strongest violation's factor (``> 1`` when
    shown; ``0`` when a number is not finite) for a converse.

    Example:
        >>> from theory_lab.tolerances import Tolerance
        >>> ev = Evidence(); _ = ev.at_most("‖r‖", 3.0, Tolerance(1e-8, 10.0, "fit", "rounding"))
        >>> r = conclude("exact fit", [Hypothesis("n_1 ≥ N", True)], ev)
        >>> r.verdict.value, r.summary
        ('fails', 'fails: exact fit — violated: ‖r‖ = 3.000e+00 > 1.000e-08 (fit)')
    """
    hypotheses = list(hypotheses)
    if broken is None:
        verdict, shown = theorem_verdict(hypotheses, evidence, instances), hypotheses
    else:
        broken = list(broken)
        verdict, shown = converse_verdict(hypotheses, broken, evidence), hypotheses + broken
    prefix = f"converse of {claim}" if broken is not None else claim
    if verdict is Verdict.NOT_APPLICABLE:  # every reason: a kept hypothesis unmet and a broken one met
        parts = []
        if broken is not None and any(h.met for h in broken):
            parts.append("the hypothesis to break holds on the instance: " + "; ".join(
                f"{h.name} is met ({h.detail})" if h.detail else f"{h.name} is met" for h in broken if h.met))
        if not all(h.met for h in hypotheses):
            parts.append("unmet hypothesis: " + "; ".join(
                f"{h.name}" + (f" ({h.detail})" if h.detail else "") for h in hypotheses if not h.met))
        text = f"not applicable: {prefix} — " + "; and ".join(parts)
    elif broken is not None and evidence.non_finite:
        worst = evidence.non_finite[0]
        text = (f"{verdict.value}: {prefix} — not shown: a number that is not finite shows nothing about the "
                f"conclusion: {worst.detail or worst.name}")
    else:
        met = all(h.met for h in hypotheses)  # else an instance meeting its own hypotheses fails (`instances`)
        violations = evidence.violations if met or broken is not None else \
            instance_violations(hypotheses, evidence, instances)
        if violations:
            worst = min(violations, key=lambda o: o.margin)
            part = f"violated: {worst.detail or worst.name}"
            if len(violations) > 1:
                part += f" (and {len(violations) - 1} more)"
            if not met and broken is None:
                part += "; not applicable to the other instances: unmet " + \
                    "; ".join(h.name for h in hypotheses if not h.met)
        elif evidence.unresolved:
            worst = _closest(evidence.unresolved)
            part = f"inside the tolerance band: {worst.detail or worst.name}"
            if len(evidence.unresolved) > 1:
                part += f" (and {len(evidence.unresolved) - 1} more)"
        else:
            worst = min(evidence.observations, key=lambda o: o.margin)
            part = f"observed {len(evidence.observations)}×, closest: {worst.detail or worst.name}"
        text = f"{verdict.value}: {prefix} — {part}"
    margin = evidence.margin if broken is None else (0.0 if evidence.non_finite else evidence.violation_margin)
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
               "seconds": round(self.seconds, 3), "datasets": jsonable(list(self.datasets)), **self.result.to_dict()}
        if self.error:
            out["error"] = self.error
        return out


def _not_json(x, path: str) -> str | None:
    """Where ``x`` (already :func:`jsonable`) holds something JSON cannot write, or ``None``."""
    if isinstance(x, dict):
        return next((p for k, v in x.items() if (p := _not_json(v, f"{path}[{k!r}]"))), None)
    if isinstance(x, list):
        return next((p for i, v in enumerate(x) if (p := _not_json(v, f"{path}[{i}]"))), None)
    if x is None or isinstance(x, (str, bool, int)) or isinstance(x, float) and math.isfinite(x):
        return None
    return f"{path} is {type(x).__name__} {x!r:.80}"


def _wrong_type(result: Result) -> str | None:
    """The first field of ``result`` that is not of its documented type, named, or ``None``.

    Without it a text verdict (``"holds"``, which compares equal to :attr:`Verdict.HOLDS`) failed later with an
    ``AttributeError`` that named no field, and a text margin went into the report as text.
    """
    fields = [("verdict", isinstance(result.verdict, Verdict), "a Verdict (e.g. Verdict.HOLDS)"),
              ("margin", result.margin is None or is_real_scalar(result.margin), "a real number or None"),
              ("summary", isinstance(result.summary, str), "a str"),
              ("evidence", isinstance(result.evidence, dict), "a dict"),
              ("hypotheses", isinstance(result.hypotheses, (list, tuple))
               and all(isinstance(h, Hypothesis) for h in result.hypotheses), "a list of Hypothesis"),
              ("broken", isinstance(result.broken, (list, tuple)) and all(isinstance(b, str) for b in result.broken),
               "a tuple of hypothesis names")]
    for name, ok, expected in fields:
        if not ok:
            value = getattr(result, name)
            return f"`{name}`={value!r:.120} is a {type(value).__name__}; expected {expected}"
    return None


def _contradiction(result: Result) -> str | None:
    """What a result states against itself or the rule (THEORY.md §5), or ``None``."""
    v = result.verdict
    if v in (Verdict.HOLDS, Verdict.FAILS, Verdict.INCONCLUSIVE) and not result.set_up:
        unmet = [h.name for h in result.hypotheses if h.met == (h.name in result.broken)]
        return f"verdict {v.value!r} with hypotheses not as the rule needs them ({'; '.join(unmet)}): not applicable"
    said = next((w for w in Verdict if result.summary.startswith(f"{w.value}:")), v)
    if said is not v:
        return f"verdict {v.value!r} but the summary says {said.value!r}: {result.summary[:120]!r}"
    return None


def run_check(check: Check, ctx: Context) -> Record:
    """Run one check; an exception (``SystemExit`` too, not ``KeyboardInterrupt``) becomes an ``error`` verdict
    with its traceback.

    So does a result that contradicts itself (a verdict other than *not applicable* with a
    hypothesis unmet, a summary that names another verdict) or that JSON cannot hold (an object,
    a complex number): ``results.json`` is then still written, with every other check in it.
    """
    start = time.perf_counter()
    ctx.datasets = []
    try:
        result = check.run(ctx)
        if not isinstance(result, Result):
            raise TypeError(f"check {check.id!r} returned {type(result).__name__}, expected Result")
        wrong = _wrong_type(result) or _contradiction(result) or _not_json(result.to_dict(), "result")
        if wrong:
            raise ValueError(f"check {check.id!r} returned a result that cannot be reported: {wrong}")
        error = None
    except (Exception, SystemExit) as exc:  # a crashing check is reported, never hidden; Ctrl-C still stops the run
        # sys.exit(0) inside a check would otherwise end the whole run with its code (0: CI passes) and no report
        why = f"the check called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else exc
        result = Result(Verdict.ERROR, summary=f"{type(exc).__name__}: {why}")
        error = traceback.format_exc()
    datasets = jsonable(list(ctx.datasets))
    if _not_json(datasets, "datasets"):  # provenance JSON cannot write: kept as text
        datasets = [repr(d) for d in ctx.datasets]
    return Record(check, result, time.perf_counter() - start, error, datasets)
