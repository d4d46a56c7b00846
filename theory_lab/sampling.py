"""Parameters drawn with numpy: the laws of :func:`model.init`, without a compile.

:func:`theory_lab.model.init` jit-compiles an initialiser for every architecture.
:func:`sample_params` draws the same pytree, shapes and laws (flax's LeCun, Glorot and He
laws, truncated normals on ``[-2, 2]``; the ``"normal"`` / ``"uniform"`` laws; the bias laws
:data:`BIAS_LAWS`) with numpy, from a stream seeded by an explicit key
(:func:`as_generator`), so a search over many random architectures pays no compilation
for its parameters.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> from theory_lab.sampling import sample_params
    >>> arch = Architecture((3,), (Dense(4), Output(1)))
    >>> p = sample_params(arch, 0, bias_law="zeros")
    >>> sorted(p), p["layer_1"]["W"].shape, np.asarray(p["layer_1"]["b"]).tolist()
    (['layer_1', 'layer_2'], (3, 4), [0.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special as _special

from theory_lab import model as _model
from theory_lab.arch import Architecture
from theory_lab.validate import is_integer, is_real_scalar

__all__ = ["BIAS_LAWS", "as_generator", "sample_params", "with_layer", "to_device"]

BIAS_LAWS = ("normal", "uniform", "zeros")
_TRUNC = 0.87962566103423978  # std of a standard normal truncated to [-2, 2], as in flax


def as_generator(key) -> np.random.Generator:
    """A numpy ``Generator`` from a ``jax.random`` key, an int seed or a ``Generator``.

    The same key always gives the same stream (the key's raw data seeds it).
    """
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"`key`={key} must be a non-negative int seed, a jax.random key or a Generator.")
        return np.random.default_rng(int(key))
    try:
        data = np.asarray(jax.random.key_data(key)) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) \
            else np.asarray(key)
    except AttributeError:
        raise TypeError(f"`key` has type {type(key).__name__}; expected a jax.random key, an int seed "
                        "or a numpy Generator.") from None
    # a raw key holds non-negative integers (uint32); casting 1.5 or -1 would seed silently with 1 or 2**32 - 1
    if data.dtype.kind == "i" and np.any(data < 0):
        raise ValueError(f"`key` holds negative entries ({data.ravel()[:4].tolist()}); a raw key is non-negative "
                         "uint32 words: pass jax.random.key(seed) or a non-negative int seed.")
    if data.dtype.kind not in "iu" or data.size == 0:
        raise TypeError(f"`key` is an array of dtype {data.dtype} and shape {data.shape}; expected a jax.random "
                        "key (jax.random.key(seed)), a raw uint32 key, a non-negative int seed or a numpy Generator.")
    return np.random.default_rng(data.astype(np.uint32).ravel().tolist())


def to_device(a: np.ndarray) -> jax.Array:
    """A float64 device copy of ``a`` (any shape), without compiling anything."""
    # device_put, not jnp.asarray: the latter compiles a small program for every new shape
    return jax.device_put(np.asarray(a, dtype=np.float64))


def _weights(rng, law: str, shape, scale: float) -> np.ndarray:
    fan_in, fan_out = shape
    if law in ("lecun_normal", "glorot_normal", "he_normal"):
        var = {"lecun_normal": 1.0 / fan_in, "glorot_normal": 2.0 / (fan_in + fan_out),
               "he_normal": 2.0 / fan_in}[law]
        lo, hi = _special.ndtr(-2.0), _special.ndtr(2.0)
        z = _special.ndtri(rng.uniform(lo, hi, shape))  # standard normal truncated to [-2, 2]
        return z * (math.sqrt(var) / _TRUNC)
    if law == "lecun_uniform":
        a = math.sqrt(3.0 / fan_in)
        return rng.uniform(-a, a, shape)
    if law == "normal":
        return scale * rng.standard_normal(shape)
    if law == "uniform":
        return rng.uniform(-scale, scale, shape)
    raise ValueError(f"`law`={law!r} is unknown; choose one of {_model.LAWS}.")


def _bias(rng, law: str, n: int, scale: float, mean: float) -> np.ndarray:
    if law == "normal":
        return mean + scale * rng.standard_normal(n)
    if law == "uniform":
        return mean + rng.uniform(-scale, scale, n)
    if law == "zeros":
        return np.full(n, float(mean))
    raise ValueError(f"`bias_law`={law!r} is unknown; choose one of {BIAS_LAWS}.")


def _bias_size(info) -> int | None:
    bias = getattr(info.spec, "bias", "neuron")
    if bias == "none":
        return None
    return info.T if (bias == "filter" and info.kind in ("conv", "patch")) else info.n


def sample_params(arch: Architecture, key, *, law: str = "lecun_normal", bias_law: str = "normal",
                  scale: float = 1.0, bias_scale: float = 0.1, bias_mean: float = 0.0) -> dict:
    """Parameters for ``arch`` from an absolutely continuous law, without compiling anything.

    Same pytree, shapes and laws as :func:`theory_lab.model.init` (flax's LeCun, Glorot
    and He laws are truncated normals on ``[-2, 2]``), drawn with numpy from a stream
    seeded by ``key``; the values differ from ``model.init``'s, the law does not.

    Args:
        arch: the network.
        key: a ``jax.random`` key, an int seed or a numpy ``Generator``.
        law: weight law, one of :data:`theory_lab.model.LAWS`.
        bias_law: ``"normal"`` (std ``bias_scale``), ``"uniform"`` (on ``±bias_scale``) or
            ``"zeros"``.
        scale: scale of the ``"normal"`` / ``"uniform"`` weight laws.
        bias_scale: spread of the bias law.
        bias_mean: added to every bias (e.g. ``-3`` for strongly negative ReLU biases).

    Returns:
        ``{"layer_k": {"W": (l_{k-1}, T_k), "b": (n_k,) or (T_k,)}}`` of float64 jax arrays.

    Example:
        >>> from theory_lab.arch import Architecture, Conv, Output
        >>> arch = Architecture((6, 6, 1), (Conv(4, (3, 3)), Output(2)))
        >>> p = sample_params(arch, 0, law="uniform", scale=0.5)
        >>> p["layer_1"]["W"].shape, p["layer_1"]["b"].shape, float(abs(p["layer_1"]["W"]).max()) <= 0.5
        ((9, 4), (64,), True)
    """
    if law not in _model.LAWS:
        raise ValueError(f"`law`={law!r} is unknown; choose one of {_model.LAWS}.")
    if bias_law not in BIAS_LAWS:
        raise ValueError(f"`bias_law`={bias_law!r} is unknown; choose one of {BIAS_LAWS}.")
    for name, value in (("scale", scale), ("bias_scale", bias_scale), ("bias_mean", bias_mean)):
        if not is_real_scalar(value):
            raise TypeError(f"`{name}`={value!r} is a {type(value).__name__}; expected a real number (a bool or "
                            "text is not a scale).")
        if not np.isfinite(value) or (name != "bias_mean" and value < 0):
            raise ValueError(f"`{name}`={value!r} must be a finite{' non-negative' if name != 'bias_mean' else ''} "
                             "number.")
    rng = as_generator(key)
    params = {}
    for info in arch.info:
        if not info.has_weights:
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below, by name
            W = _weights(rng, law, (info.l, info.T), float(scale))
            size = _bias_size(info)
            b = None if size is None else _bias(rng, bias_law, size, float(bias_scale), float(bias_mean))
        for leaf, a, blame in (("W", W, f"`scale`={scale!r}"),
                               ("b", b, f"`bias_scale`={bias_scale!r} / `bias_mean`={bias_mean!r}")):
            if a is not None and not np.all(np.isfinite(a)):  # 1e308 · z overflowed to ±inf, silently
                raise ValueError(f"{blame} overflows float64: layer_{info.k}/{leaf} has non-finite draws. Give a "
                                 "scale below ~1e300.")
        layer = {"W": to_device(W)} if b is None else {"W": to_device(W), "b": to_device(b)}
        params[f"layer_{info.k}"] = layer
    return params


# Used by the construction and the exact fit to install a layer without touching the rest.
def with_layer(params, k: int, W=None, b=None):
    """A copy of ``params`` with layer ``k``'s ``W`` and/or ``b`` replaced (float64 device arrays); ``params`` is unchanged."""
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` is a {type(params).__name__}; expected the dict of sample_params(arch, key).")
    name = f"layer_{k}"
    if not is_integer(k) or name not in params:
        raise ValueError(f"`k`={k!r} is not the index of a layer with parameters; `params` has "
                         f"{sorted(params, key=str)}, so expected an integer k with layer_k among them.")
    out = dict(params)
    layer = dict(out[name])
    for leaf, value in (("W", W), ("b", b)):
        if value is not None:
            layer[leaf] = to_device(_replacement(layer, name, leaf, value))
    out[name] = layer
    return out


def _replacement(layer: dict, name: str, leaf: str, value) -> np.ndarray:
    """``value`` checked against the leaf it replaces: same shape, real and finite (a wrong shape or a NaN was
    installed silently, to fail or give NaN far from here)."""
    if leaf not in layer:
        raise ValueError(f"`{leaf}`: {name} has no {leaf} (a layer built with bias='none'); pass {leaf}=None.")
    a = np.asarray(value)
    if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"`{leaf}` has dtype {a.dtype}; expected real float64 numbers for {name}/{leaf}.")
    want = tuple(np.shape(layer[leaf]))
    if a.shape != want:
        raise ValueError(f"`{leaf}` has shape {a.shape}; expected {want}, the shape of {name}/{leaf} it replaces.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{leaf}` contains NaN or Inf ({int(a.size - np.count_nonzero(np.isfinite(a)))} "
                         f"entries); {name}/{leaf} must be finite.")
    return a
