"""Random keys and probes drawn on the host: every random draw from an explicit ``jax.random`` key.

:func:`check_key` refuses anything but a key; :func:`key_rng` turns a key (and tags) into a
numpy ``Generator``, so probes are drawn without compiling a program per shape;
:func:`split_key` derives keys the same way; :func:`rademacher` draws ±1 probes, after
:func:`check_probe_block` has refused a block of probes larger than the machine's memory.

Example:
    >>> import jax
    >>> from theory_lab.keys import rademacher
    >>> v = rademacher(jax.random.key(0), (4,))
    >>> sorted(set(v.tolist())) <= [-1.0, 1.0], bool((v == rademacher(jax.random.key(0), (4,))).all())
    (True, True)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_key", "key_rng", "split_key", "rademacher", "check_probe_block"]


def check_key(key, name="key"):
    """The key itself, or a TypeError naming the argument: every random probe comes from an explicit key."""
    if not isinstance(key, jax.Array) or not (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape == (2,)):
        raise TypeError(f"`{name}` must be a jax.random key (jax.random.key(seed)), got {type(key).__name__}; "
                        "every random probe comes from an explicit key.")
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and not isinstance(key, jax.core.Tracer):
        # a raw key is two uint32 words: [0.5, 1.7] drew key [0, 1]'s probes and [-1, 3] those of [2**32 - 1, 3]
        raw = np.asarray(key)
        if raw.dtype.kind not in "iu" or np.any(raw < 0) or np.any(raw > 0xFFFFFFFF):
            raise TypeError(f"`{name}`={raw.tolist()!r} (dtype {raw.dtype}) is not a raw key: its two words are "
                            "uint32 (jax.random.PRNGKey(seed)); pass jax.random.key(seed).")
    return key


def _key_data(key) -> np.ndarray:
    key = check_key(key)
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.asarray(data, dtype=np.uint32).ravel()


def key_rng(key, *tags: int) -> np.random.Generator:
    """A numpy ``Generator`` seeded by a ``jax.random`` key's raw data (and ``tags``), for host-side probes.

    Probes drawn with numpy compile nothing: a ``jax.random`` draw is a program compiled per
    shape (0.2–0.9 s each on 2 cores, a tenth of a cold CLI run for six of them). The same key
    and tags always give the same stream; different tags give independent streams.

    Example:
        >>> import jax
        >>> from theory_lab import krylov
        >>> a = krylov.key_rng(jax.random.key(0), 1).standard_normal(3)
        >>> bool((a == krylov.key_rng(jax.random.key(0), 1).standard_normal(3)).all())
        True
    """
    return np.random.default_rng([*_key_data(key).tolist(), *(int(t) for t in tags)])


def split_key(key, num: int) -> list:
    """``num`` independent keys from ``key``, derived on the host (no compiled ``jax.random.split``).

    Each new key's raw data is drawn from :func:`key_rng` ``(key, num, i)``; typed keys keep
    their implementation.
    """
    key = check_key(key)
    if isinstance(num, (bool, np.bool_)) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"`num`={num!r} must be a non-negative integer number of keys.")  # -1 gave [] silently
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    out = []
    for i in range(int(num)):
        data = key_rng(key, num, i).integers(0, 2**32, _key_data(key).shape, dtype=np.uint32)
        out.append(jax.random.wrap_key_data(data, impl=jax.random.key_impl(key)) if typed
                   else jax.device_put(data))
    return out


def rademacher(key, shape) -> np.ndarray:
    """±1 float64 entries of ``shape``, drawn on the host from :func:`key_rng` ``(key)``."""
    return key_rng(key).integers(0, 2, shape).astype(np.float64) * 2.0 - 1.0


def _physical_memory() -> int | None:
    try:
        import os
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not every platform reports it
        return None


def check_probe_block(num: int, dim: int, name: str, example: int = 8) -> None:
    """Refuse ``num`` float64 probes of length ``dim`` drawn at once when they alone exceed the physical memory.

    Numpy would raise a bare ``MemoryError`` (or, with overcommit, start swapping) deep inside the draw;
    this names the argument, the size needed and a count that fits. Counts that fit are never refused.
    """
    need, total = int(num) * int(dim) * 8, _physical_memory()
    if total is not None and need > total:
        raise MemoryError(f"`{name}`={num!r}: {num} probes of dimension {dim} take {need / 2**30:.3g} GiB as "
                          f"float64, more than this machine's {total / 2**30:.3g} GiB of memory; use fewer, e.g. "
                          f"{name}={example}.")
