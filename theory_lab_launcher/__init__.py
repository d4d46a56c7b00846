"""The ``theory-lab`` console entry point: Ctrl-C handled from the first instant.

Importing anything from ``theory_lab`` imports JAX first (``theory_lab/__init__.py`` turns on
float64), which takes a second or two; a Ctrl-C then used to end in Python's traceback. This
package imports only the standard library, installs the SIGINT handler, and only then imports
:mod:`theory_lab.cli` and runs its ``main``, which behaves as before. It lives outside
``theory_lab`` because no module inside that package can run before its ``__init__``.

A wrapper that must know when the handler is in place sets ``THEORY_LAB_READY_FILE`` to a path:
it is created here, as soon as the handler is installed (and again by ``theory_lab.cli.main``).
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["INTERRUPTED", "interrupted", "install", "main"]

INTERRUPTED = "interrupted; the previous report is unchanged"


def interrupted(signum, frame):  # pragma: no cover - exercised by a subprocess test
    """Ctrl-C: one line, exit 130, and no interpreter shutdown (XLA's threads crashed it: exit 139).

    Reports are written whole or not at all (``write_atomic``), so leaving at once keeps the previous one.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe must not turn an interrupt into a traceback
            pass
    os.write(2, f"\n{INTERRUPTED}\n".encode())
    os._exit(130)


def install() -> None:
    """Install :func:`interrupted` for SIGINT (unless ignored: a background job keeps ignoring Ctrl-C),
    then create ``THEORY_LAB_READY_FILE`` if it is set."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, interrupted)
    ready = os.environ.get("THEORY_LAB_READY_FILE")
    if ready:
        open(ready, "a").close()


def main():  # pragma: no cover - exercised by a subprocess test
    """``theory-lab``: the handler first, then the imports (JAX, the CLI), then :func:`theory_lab.cli.main`."""
    install()
    from theory_lab.cli import main as cli_main

    cli_main()
