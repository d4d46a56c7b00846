"""JAX's persistent compilation cache for the command line: compile once per machine.

Every ``theory-lab`` run compiles the same programs (the network, its gradient, the
Hessian-vector product, each Lanczos step) for the same shapes; on the 2-core
development machine that is most of a first result's time. With the cache on, XLA's
executables are written to disk and the next run with the same shapes loads them.

Where the cache lives, first match wins:

1. the ``--compile-cache`` option of ``theory-lab`` (a folder, or ``off``);
2. the environment variable ``THEORY_LAB_COMPILE_CACHE`` (a folder, or ``off``);
3. ``$XDG_CACHE_HOME/theory-lab/jax`` (default ``~/.cache/theory-lab/jax``).

The folder is created with mode 0700: JAX treats its cache as trusted code, so it must
not be writable by other users. The library itself never turns the cache on; only
the command line does (:func:`enable`, called from the ``theory-lab`` callback).

Example:
    >>> from pathlib import Path
    >>> from theory_lab import compile_cache
    >>> compile_cache.resolve("off") is None
    True
    >>> compile_cache.resolve(None, env={"THEORY_LAB_COMPILE_CACHE": "/tmp/tl"})
    PosixPath('/tmp/tl')
    >>> compile_cache.resolve(None, env={"XDG_CACHE_HOME": "/x"})
    PosixPath('/x/theory-lab/jax')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["ENV", "OFF", "MIN_COMPILE_SECONDS", "default_dir", "resolve", "enable"]

ENV = "THEORY_LAB_COMPILE_CACHE"
OFF = "off"
# Every program is written, however fast it compiled: `verify` compiles ~340 programs, 265 of
# them in < 0.1 s each (30 ms on average, 7.8 s in all), and reading one back takes 3-8 ms.
# With a 0.1 s threshold its second run was 33-37 s; with none, 25-30 s (2.9 MB, 337 entries).
MIN_COMPILE_SECONDS = 0.0


def default_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/theory-lab/jax``, or ``~/.cache/theory-lab/jax`` when it is unset or empty."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "theory-lab" / "jax"


def resolve(value: str | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder for an option ``value`` (``None`` when not given), or ``None`` when off."""
    env = os.environ if env is None else env
    if value is None:
        value = env.get(ENV) or None
    if value is None:
        return default_dir(env)
    if value.strip().lower() == OFF:
        return None
    if not value.strip():
        raise ValueError(f"the compile cache folder is empty; give a folder or '{OFF}' (or unset {ENV}).")
    return Path(value).expanduser()


def enable(value: str | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on at the resolved folder; return it (``None``: off).

    Raises:
        ValueError: the folder cannot be created or written (names the path and the fix).
    """
    path = resolve(value, env)
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} is a file, not a folder; give a folder for compiled programs, or "
                         f"'{OFF}'.")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as err:
        raise ValueError(f"cannot create the compile cache folder {str(path)!r} ({err.strerror}); give a "
                         f"writable folder, or '{OFF}'.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"the compile cache folder {str(path)!r} is not writable; give a writable folder, "
                         f"or '{OFF}'.")
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
