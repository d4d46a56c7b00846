"""What each check observed on the default ``verify`` run at seed 0, against a committed snapshot.

A check records every comparison it makes as an :class:`~theory_lab.evidence.Observation`.
A bug that drops one (a loop over layers that stops one short, a ``[:-1]`` on a list of
instances, an early ``break``, one draw of three) leaves every comparison still made
holding, so the verdict stays *holds*. This tool keeps, per check, the number of
observations and their names (each name carries its instance prefix, ``"digits-200: U_1"``)
and compares them with ``tests/data/observations_seed0.json``
(tests/test_observations_s32.py does the same inside the suite).

What is recorded is deterministic at a fixed seed: names are built from the instance, the
layer, the draw index and constants in the code, never from a computed number, except
where :data:`PREFIX_ONLY` says so (there the name's instance prefix, before ``": "``, is
kept and the count stays exact). Checks whose *set* of observations depends on where an
iterative solver ends are left out (:data:`EXCLUDED`, each with its reason): a snapshot of
them would change with float noise, not with a bug. What those checks *start* does not: each
reports one row per solver run (``evidence["runs"]``, ended or not), and the snapshot's ``runs``
keeps their names and count, so a loop that drops a start is caught there too. Probes report
measured frequencies and observe nothing.

Usage::

    python tools/observations.py                 # run the checks at seed 0, compare, exit 1 on a difference
    python tools/observations.py --write         # refresh the snapshot after an intended change
    python tools/observations.py --results theory-lab-report/results.json   # compare a verify run's results
                                                  # (seed 0) instead of running the checks again
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "data" / "observations_seed0.json"
SEED = 0
REFRESH = "python tools/observations.py --write"

#: checks left out of the snapshot, with the reason
EXCLUDED = {
    "theorem-4.5": "which critical-point searches converge decides whether a start is observed (in S_k, outside "
                   "S_k, membership in its band) or only reported as not converged: set by the solver's last "
                   "iterates, not by the code's loops",
    "corollary-4.6": "as theorem-4.5: its observations are the searches that reached a critical point "
                     "(4 at seed 0, 5 or 6 at other seeds)",
    "narrow-critical-points": "observes only the starts that converge (9 at seed 0, 3 to 11 at other seeds)",
    "class-targets-outside-S_k": "observes only the starts that reach zero loss, each named by its membership "
                                 "outcome and its loss (3 or 4 observations by seed)",
}

#: checks whose observation names carry a computed number or an outcome: only the instance prefix is kept
PREFIX_ONLY = {
    "theorem-4.4": "a point whose ∇_{U_{k+1}} Φ vanishes is named with its Φ (e.g. 'Φ = 7.615e+01'); which "
                   "branch a point takes depends on the gradient, the point itself does not",
}


def _name(check_id: str, name: str) -> str:
    return name.split(": ", 1)[0] if check_id in PREFIX_ONLY else name


def observed(check_id: str, names) -> dict:
    """The record of one check: ``{"count": n, "names": sorted names}`` (repeats kept)."""
    names = sorted(_name(check_id, n) for n in names)
    return {"count": len(names), "names": names}


def _run_names(runs) -> list[str]:
    """Names of a check's solver runs: the keys of a ``{name: row}`` dict, else each row's ``run`` (or its
    ``mode``) with its position in the list."""
    if isinstance(runs, dict):
        return list(runs)
    return [str(r.get("run", f"{r.get('mode', 'run')} #{i}")) if isinstance(r, dict) else f"run #{i}"
            for i, r in enumerate(runs)]


def runs_from_results(results: dict) -> dict:
    """The record of every :data:`EXCLUDED` check's solver runs in a ``results.json``: ``{id: {"count", "names"}}``."""
    return {c["id"]: observed(c["id"], _run_names((c.get("evidence") or {}).get("runs") or []))
            for c in results["checks"] if c["id"] in EXCLUDED}


def from_results(results: dict) -> dict:
    """The record of every check in a ``results.json`` (the dict ``verify`` writes)."""
    out = {}
    for c in results["checks"]:
        if c.get("kind") == "probe" or c["id"] in EXCLUDED:
            continue
        # a check that errors (or stops at *not applicable* before observing) has none: all of them read as lost
        obs = (c.get("evidence") or {}).get("observations") or []
        out[c["id"]] = observed(c["id"], [o["name"] for o in obs])
    return out


def from_records(records) -> dict:
    """The record of ``theory_lab.checking.Record`` s (``run_check``'s results), probes and :data:`EXCLUDED` left out."""
    return from_results({"checks": [r.to_dict() for r in records]})


def runs_from_records(records) -> dict:
    """:func:`runs_from_results` of ``theory_lab.checking.Record`` s."""
    return runs_from_results({"checks": [r.to_dict() for r in records]})


def selected(checks):
    """The checks the snapshot covers: every registered check but probes and :data:`EXCLUDED`."""
    return [c for c in checks if c.kind != "probe" and c.id not in EXCLUDED]


def run(seed: int = SEED, ids=None) -> tuple[dict, dict]:
    """Run every check but probes (or those in ``ids``) in one context at ``seed``, as ``verify`` does; the record
    of the covered checks' observations and of the :data:`EXCLUDED` checks' runs."""
    from theory_lab.checking import Context, discover, run_check

    ctx = Context(seed)
    records = [run_check(c, ctx) for c in discover() if c.kind != "probe" and (ids is None or c.id in ids)]
    return from_records(records), runs_from_records(records)


def load(path: Path = SNAPSHOT) -> dict:
    """The committed snapshot's ``checks`` (``{id: {"count", "names"}}``)."""
    return json.loads(Path(path).read_text())["checks"]


def load_runs(path: Path = SNAPSHOT) -> dict:
    """The committed snapshot's ``runs`` of the :data:`EXCLUDED` checks (``{id: {"count", "names"}}``)."""
    return json.loads(Path(path).read_text())["runs"]


def write(checks: dict, runs: dict, path: Path = SNAPSHOT) -> None:
    doc = {"about": f"what each check observed at seed {SEED} (tools/observations.py); refresh with: {REFRESH}",
           "seed": SEED, "excluded": EXCLUDED, "prefix_only": PREFIX_ONLY, "checks": dict(sorted(checks.items())),
           "runs": dict(sorted(runs.items()))}
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def diff(expected: dict, actual: dict, *, partial: bool = False, what: str = "observations") -> list[str]:
    """One line per difference: a check that lost or gained observations (which ones), or is new or gone.

    ``partial``: ``actual`` covers some checks only (those not in it are not reported gone). ``what`` names the
    entries in the lines (``"runs"`` for :func:`runs_from_results`' records).
    """
    lines = []
    for cid in sorted(set(expected) | set(actual)):
        if cid not in actual:
            if not partial:
                lines.append(f"{cid}: in the snapshot ({expected[cid]['count']} {what}) but not run")
            continue
        if cid not in expected:
            lines.append(f"{cid}: new check with {actual[cid]['count']} {what}, not in the snapshot")
            continue
        want, got = Counter(expected[cid]["names"]), Counter(actual[cid]["names"])
        lost, gained = sorted((want - got).elements()), sorted((got - want).elements())
        if lost or gained:
            head = f"{cid}: {expected[cid]['count']} {what} in the snapshot, {actual[cid]['count']} now"
            lines.append(head + "".join(f"\n    lost: {n!r}" for n in lost) +
                         "".join(f"\n    gained: {n!r}" for n in gained))
    return lines


def message(lines) -> str:
    return ("the checks' observations differ from the snapshot at seed 0 (tests/data/observations_seed0.json):\n" +
            "\n".join(lines) + f"\nA lost observation is a comparison no longer made (a loop stopping short, a "
            f"dropped instance): fix the check. If the change is intended, refresh with `{REFRESH}` and commit.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="run the checks and write the snapshot")
    ap.add_argument("--results", type=Path, help="compare this results.json (a verify run at seed 0) instead")
    args = ap.parse_args(argv)
    if args.results is not None:
        if args.write:
            ap.error("--write runs the checks itself; do not pass --results with it.")
        if not args.results.is_file():
            ap.error(f"--results {args.results}: no such file; pass the results.json that "
                     "`theory-lab verify --seed 0 -o DIR` wrote (DIR/results.json).")
        results = json.loads(args.results.read_text())
        if results.get("seed") != SEED:
            ap.error(f"--results {args.results}: seed {results.get('seed')!r}, the snapshot is at seed {SEED}; "
                     f"run `theory-lab verify --seed {SEED}`.")
        (actual, runs), partial = (from_results(results), runs_from_results(results)), True
    else:
        import jax

        jax.config.update("jax_enable_x64", True)
        (actual, runs), partial = run(), False
    if args.write:
        write(actual, runs)
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {len(actual)} checks, "
              f"{sum(r['count'] for r in actual.values())} observations; runs of {len(runs)} solver checks")
        return 0
    lines = diff(load(), actual, partial=partial) + diff(load_runs(), runs, partial=partial, what="runs")
    if lines:
        print(message(lines), file=sys.stderr)
        return 1
    print(f"observations match the snapshot: {len(actual)} checks, {sum(r['count'] for r in actual.values())} "
          "observations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
