"""One benchmark protocol for every comparison in ``benchmarks/``: warm workers, interleaved rounds.

The development machine has 2 cores shared by several people, so a time measured once
says more about the neighbours than about the code. Every comparison therefore runs as:

1. **Each side in its own warm worker process** (:class:`Worker`): a fresh Python that
   imports one *side module* and answers calls over a pipe. The side's environment is set
   before its imports (torch gets ``OMP_WAIT_POLICY=PASSIVE`` so that its OpenMP threads
   sleep instead of spinning against the other process; both get
   ``OPENBLAS_NUM_THREADS=1``). A first call per task (compilation, caches) is made and
   reported separately, never timed with the rounds.
2. **Rounds** (:func:`interleave`, at least 5): in each round every side is called once,
   in an order that changes from round to round (:func:`round_order`, a Williams design: over
   a full cycle every side takes every position, and every side runs before and right after
   every other side, equally often), so slow phases of the machine's load and the state a
   call leaves behind hit all sides alike. Each call records how long its worker had sat idle (on the development VM
   an idle process runs its next call slower); ``warm_each=True`` precedes every timed call by
   the same call untimed, so that every side is timed warm.
3. **Evidence per call**: wall time, the CPU time the worker actually received
   (``time.process_time`` of the worker, all its threads) and the 1-minute load average
   just before the call; per side the min and median; per round the ratio of each side's
   time to the reference side's; and whatever the task returns (operator applications,
   eigenvalues), from which the caller computes errors against a dense reference.

Run a side module by hand: ``python benchmarks/protocol.py --serve benchmarks/side_torch.py``
reads pickled ``(function, args, kwargs)`` on stdin and writes pickled replies on stdout.

Example (two trivial sides in this same file's process-free helper):
    >>> r = summarize({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 6.0]}, reference="b")
    >>> r["a"]["median_s"], r["a"]["ratios"], r["a"]["median_ratio"]
    (2.0, [0.5, 1.0, 0.5], 0.5)
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Worker", "interleave", "summarize", "machine", "load_average", "torch_env", "BASE_ENV", "TORCH_ENV",
           "TORCH_ENV_ONE_THREAD"]

BASE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
# torch's intra-op threads: both cores, sleeping (not spinning) while idle
TORCH_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE",
             "PYTHONUNBUFFERED": "1"}
# one intra-op thread: nothing to wake or spin. On the AMD EPYC VM of 2026-12-02 a PyHessian product of the
# digits CNN took 70-77 ms with TORCH_ENV against 13-14 ms with this (12.5 ms with 2 spinning threads,
# which would steal the other side's core between calls): each of the float64 convolution backward's many
# small parallel regions paid a sleeping thread's wake-up there. Where that holds, this is torch's best fair
# setting.
TORCH_ENV_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torch_env(threads: int) -> dict:
    """The torch worker's environment: ``threads`` = 2 is :data:`TORCH_ENV`, 1 :data:`TORCH_ENV_ONE_THREAD`."""
    if threads not in (1, 2):
        raise ValueError(f"`threads`={threads!r}: choose 1 or 2 (the machine has 2 cores).")
    return TORCH_ENV if threads == 2 else TORCH_ENV_ONE_THREAD


def load_average() -> float:
    return os.getloadavg()[0]


def machine() -> dict:
    """CPU, cores, OS, Python, the date and the load averages, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="minutes"),
            "load_average": list(os.getloadavg())}


class Worker:
    """A warm worker process serving one side module (``path`` to a ``.py`` file)."""

    def __init__(self, name: str, path: str | Path, *, env: dict | None = None, python: str | None = None):
        self.name = name
        if not Path(path).is_file():
            raise FileNotFoundError(f"`path`={str(path)!r} (worker {name!r}): no such side module; expected a .py "
                                    "file defining the tasks to call, e.g. benchmarks/side_theory_lab.py.")
        environ = dict(os.environ)
        environ.update(BASE_ENV if env is None else env)
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                              environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen([python or sys.executable, str(Path(__file__).resolve()), "--serve",
                                      str(Path(path).resolve())], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=environ)
        self._last = None  # perf_counter when the previous reply arrived

    def call(self, fn: str, *args, **kwargs) -> dict:
        """Run ``fn(*args, **kwargs)`` in the worker: ``{"value", "wall_s", "cpu_s", "load", "idle_s"}``.

        ``idle_s`` is how long the worker sat idle before this call (since its previous reply; ``None`` for
        the first call): on the development VM a process idle for a few tenths of a second or more runs its
        next call markedly slower (``benchmarks/idle_penalty.py``), so the gap is evidence for every timed call.
        """
        idle = None if self._last is None else time.perf_counter() - self._last
        if self.proc.stdin.closed:
            raise RuntimeError(f"worker {self.name}: called {fn} after close(); make a new Worker.")
        try:
            pickle.dump((fn, args, kwargs), self.proc.stdin)
            self.proc.stdin.flush()
        except BrokenPipeError:  # it died before this call (its side module failed to import, or an earlier exit)
            raise RuntimeError(f"worker {self.name} had died before {fn} (exit code {self.proc.wait()}; "
                               "its traceback is on stderr)") from None
        try:
            reply = pickle.load(self.proc.stdout)
        except EOFError:
            raise RuntimeError(f"worker {self.name} died during {fn} (exit code {self.proc.wait()}; "
                               "its traceback is on stderr)") from None
        self._last = time.perf_counter()
        if "error" in reply:
            raise RuntimeError(f"worker {self.name}: {fn} failed:\n{reply['error']}")
        reply["idle_s"] = idle
        return reply

    def close(self, timeout: float = 60.0):
        """End the worker: close its input, wait ``timeout`` seconds for it to exit, then kill it.

        Returns its exit code (negative: killed by that signal). Safe to call twice.
        """
        if not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:  # it had died with unread input
                pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def peak_rss_growth(fn) -> dict:
    """Peak resident memory above the start while ``fn()`` runs, sampled every millisecond (Linux ``/proc``).

    Freed heap is handed back to the system first (``malloc_trim``), so growth shows as growth. Used by
    both sides of a comparison (it imports only the standard library). Returns
    ``{"rss_base_bytes", "rss_peak_delta_bytes"}``.
    """
    import ctypes
    import threading

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    base, peak, stop = _rss(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        fn()
    finally:
        stop.set()
        thread.join()
    return {"rss_base_bytes": base, "rss_peak_delta_bytes": max(peak[0] - base, 0)}


def _serve(path: str):
    import importlib.util
    import traceback

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the side's own prints go to stderr; stdout carries the replies
    sys.stdout = sys.stderr
    spec = importlib.util.spec_from_file_location("side", path)
    side = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(side)
    stdin = sys.stdin.buffer
    while True:
        try:
            fn, args, kwargs = pickle.load(stdin)
        except EOFError:
            return
        load = load_average()
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            value = getattr(side, fn)(*args, **kwargs)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            # pickled here, so that a value that cannot be pickled is an error reply, not a dead worker
            reply = pickle.dumps({"value": value, "wall_s": wall, "cpu_s": cpu, "load": load})
        except Exception:  # noqa: BLE001 - reported to the caller with its traceback
            reply = pickle.dumps({"error": traceback.format_exc()})
        out.write(reply)
        out.flush()


def summarize(times: dict[str, list[float]], reference: str) -> dict:
    """Per side: min, median, and the per-round ratio to ``reference`` with its median."""
    out = {}
    for name, ts in times.items():
        ratios = [t / r for t, r in zip(ts, times[reference])]
        out[name] = {"times_s": ts, "min_s": min(ts), "median_s": statistics.median(ts), "ratios": ratios,
                     "median_ratio": statistics.median(ratios), "min_ratio_of_mins": min(ts) / min(times[reference])}
    return out


def round_order(n: int, r: int) -> list[int]:
    """The order (indices into the ``n`` sides) of round ``r``: a Williams design.

    A plain cyclic shift puts every side in every position, but with three sides ``a`` runs before
    ``b`` in two rounds of three (abc, bca, cab), so a side that slows its successor (a worker
    that heats the cache, a wake-up penalty) favours one ratio. Here the base sequence
    ``0, 1, n−1, 2, n−2, …`` is shifted by one each cycle; for even ``n`` the ``n`` shifts already
    balance every ordered pair of neighbours, for odd ``n`` each shift is followed by its reverse
    (a cycle of ``2n`` rounds). Over a full cycle every side is in every position, before every
    other side in half of the rounds, and right before every other side equally often. With
    rounds not a multiple of the cycle the balance is as close as the count allows.

    >>> [round_order(2, r) for r in range(4)]
    [[0, 1], [1, 0], [0, 1], [1, 0]]
    >>> [round_order(3, r) for r in range(6)]
    [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]]
    """
    if n < 1 or r < 0:
        raise ValueError(f"`n`={n} sides and round `r`={r}: need n ≥ 1 and r ≥ 0.")
    base, low, high = [0], 1, n - 1
    while len(base) < n:
        base.append(low)
        low += 1
        if len(base) < n:
            base.append(high)
            high -= 1
    if n % 2 == 0:
        return [(b + r) % n for b in base]
    row = [(b + r // 2) % n for b in base]
    return row[::-1] if r % 2 else row


def interleave(calls: dict[str, tuple], *, rounds: int = 5, reference: str, log=None, min_rounds: int = 5,
               warm_each: bool = False) -> dict:
    """Time ``calls = {label: (worker, fn, args)}`` over ``rounds`` rounds in :func:`round_order` (after one
    warm-up each).

    ``min_rounds`` lowers the protocol's minimum of 5 only for a run too slow for 5 rounds,
    which must then say so next to its numbers. With ``warm_each`` every timed call is preceded, in the
    same slot of the rotation, by the same call made untimed in the same worker: each side is then timed
    right after its own work, never after idling while the other sides ran (which on the development VM
    adds 0.04–0.21 s to a call after 0.3–2.3 s of idling, see ``benchmarks/idle_penalty.py``); the
    untimed calls' times are kept as ``"warmups"``. Returns ``{"first": {label: reply}, "rounds": [[(label, reply), …], …], "summary": summarize(…),
    "cpu_share": {label: median cpu_s / wall_s}, "load": {label: [load before each call]},
    "idle": {label: [seconds idle before each timed call]}, "warmups": {label: [untimed seconds]}}``.
    """
    if rounds < min(5, min_rounds) or rounds < 1:
        raise ValueError(f"`rounds`={rounds} must be at least {max(min(5, min_rounds), 1)} (the protocol's minimum "
                         "is 5; lower it with `min_rounds` only for a run too slow for 5, and say so).")
    labels = list(calls)
    if reference not in calls:  # checked before any call, not after the rounds
        raise ValueError(f"`reference`={reference!r} is not one of the calls {labels}; name the side the ratios "
                         "are taken against.")
    first = {}
    for label in labels:
        worker, fn, args = calls[label]
        first[label] = worker.call(fn, *args)
        if log:
            log(f"{label}: first call {first[label]['wall_s']:.3f} s")
    history, times = [], {label: [] for label in labels}
    cpu, load = {label: [] for label in labels}, {label: [] for label in labels}
    idle, warmups = {label: [] for label in labels}, {label: [] for label in labels}
    for r in range(rounds):
        order = [labels[i] for i in round_order(len(labels), r)]
        row = []
        for label in order:
            worker, fn, args = calls[label]
            if warm_each:
                warmups[label].append(worker.call(fn, *args)["wall_s"])
            reply = worker.call(fn, *args)
            idle[label].append(reply["idle_s"])
            row.append((label, reply))
            times[label].append(reply["wall_s"])
            cpu[label].append(reply["cpu_s"] / reply["wall_s"])
            load[label].append(reply["load"])
        history.append(row)
        if log:
            log(f"round {r + 1}: " + ", ".join(f"{label} {reply['wall_s']:.3f} s" for label, reply in row))
    return {"first": first, "rounds": history, "summary": summarize(times, reference),
            "cpu_share": {label: statistics.median(v) for label, v in cpu.items()}, "load": load, "idle": idle,
            "warmups": warmups if warm_each else None}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
    else:
        print(__doc__)
