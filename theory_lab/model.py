"""Flax layers built from an :class:`~theory_lab.arch.Architecture`, as pure functions.

Parameters are a plain float64 pytree ``{"layer_k": {"W": (l_{k-1}, T_k), "b": ...}}``
with the paper's filter matrix ``W_k = [w^1 … w^T]`` (rows index a patch entry in
the order the patch lists it). ``b`` is ``(n_k,)`` for per-neuron bias, ``(T_k,)``
for per-filter bias, absent for ``bias="none"``; max-pooling layers have no entry.

* :func:`init` ``(arch, key) -> params``
* :func:`apply` ``(arch, params, X) -> F_L`` of shape ``(N, m)``
* :func:`features` ``(arch, params, X) -> (F_0, …, F_L)``, each ``(N, n_k)``
* :func:`preactivations` ``-> (G_0=None, G_1, …, G_L)`` (``None`` for pooling layers)
* :func:`full_weight_matrix` ``(arch, params, k) -> U_k`` of shape ``(n_{k-1}, n_k)``

Two equal paths compute a layer: ``"fast"`` (``lax.conv_general_dilated`` and
``reduce_window``) and ``"patch"`` (gather the paper's patches, multiply by ``W``);
the tests hold them equal to 1e-12.

Example:
    >>> import jax
    >>> from theory_lab import model
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> arch = Architecture((6, 6, 1), (Conv(4, (3, 3)), Output(2)))
    >>> params = model.init(arch, jax.random.key(0))
    >>> X = jax.random.normal(jax.random.key(1), (5, 6, 6, 1))
    >>> [F.shape for F in model.features(arch, params, X)]
    [(5, 36), (5, 64), (5, 2)]
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from theory_lab import activations as _act
from theory_lab.arch import Architecture, LayerInfo
from theory_lab.layout import layout as _layout
from theory_lab.layout import require_float64

__all__ = ["init", "apply", "features", "preactivations", "forward", "full_weight_matrix",
           "weight_map", "CNN", "LAWS", "check_inputs", "preactivation", "maxpool", "bias_size"]

LAWS = ("lecun_normal", "lecun_uniform", "glorot_normal", "he_normal", "normal", "uniform")


def _require_x64():
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "theory-lab needs float64, but jax_enable_x64 is off. Import theory_lab before creating "
            "arrays, or call jax.config.update('jax_enable_x64', True) at start-up."
        )


def _weight_init(law: str, scale: float):
    if law == "lecun_normal":
        return nn.initializers.lecun_normal()
    if law == "lecun_uniform":
        return nn.initializers.lecun_uniform()
    if law == "glorot_normal":
        return nn.initializers.glorot_normal()
    if law == "he_normal":
        return nn.initializers.he_normal()
    if law == "normal":
        return nn.initializers.normal(scale)
    if law == "uniform":
        return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -scale, scale)
    raise ValueError(f"`law`={law!r} is unknown; choose one of {LAWS}.")


def _bias_init(law: str, scale: float):
    if law == "zeros":
        return nn.initializers.zeros
    if law == "normal":
        return nn.initializers.normal(scale)
    if law == "uniform":
        return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -scale, scale)
    raise ValueError(f"`bias_law`={law!r} is unknown; choose 'normal', 'uniform' or 'zeros'.")


def _gather(F, patches: np.ndarray):
    """Patches of a flattened layer: ``(N, n) -> (N, P, l)``; index -1 reads a constant 0."""
    padded = jnp.concatenate([F, jnp.zeros((F.shape[0], 1), F.dtype)], axis=1)
    return padded[:, np.where(patches < 0, F.shape[1], patches)]


class _WeightLayer(nn.Module):
    """Conv (Def. 2.1) or fully connected (Def. 2.2) layer; returns the pre-activation ``G_k``."""

    info: LayerInfo
    law: str = "lecun_normal"
    bias_law: str = "normal"
    scale: float = 1.0
    bias_scale: float = 0.1
    path: str = "fast"
    param_dtype: jnp.dtype = jnp.float64

    @nn.compact
    def __call__(self, F):
        if jnp.dtype(self.param_dtype) != jnp.float64:
            raise TypeError(f"`param_dtype`={self.param_dtype} must be float64: theory-lab decides ranks in "
                            "float64 and Flax would silently create float32 parameters.")
        info = self.info
        W = self._param("W", _weight_init(self.law, self.scale), (info.l, info.T))
        size = bias_size(info)
        b = None if size is None else self._param("b", _bias_init(self.bias_law, self.bias_scale), (size,))
        return preactivation(info, F, W, b, self.path)

    def _param(self, name: str, init, shape: tuple):
        # On `apply` Flax's `param` re-traces the initializer under `eval_shape` only to compare shapes:
        # 6-25 ms per leaf per trace, a quarter of tracing the Hessian operator. Compare the shapes here.
        if not self.has_variable("params", name):
            return self.param(name, init, shape, self.param_dtype)
        value = self.get_variable("params", name)
        if tuple(np.shape(value)) != tuple(shape):
            raise ValueError(f"`params`: layer_{self.info.k}/{name} has shape {tuple(np.shape(value))}; expected "
                             f"{tuple(shape)}. Were the parameters made for another architecture?")
        return value


def bias_size(info: LayerInfo) -> int | None:
    """Length of layer ``info``'s bias ``b``: ``T_k`` (per filter), ``n_k`` (per neuron) or ``None``."""
    bias = getattr(info.spec, "bias", "neuron")
    if bias == "none":
        return None
    return info.T if info.kind in ("conv", "patch") and bias == "filter" else info.n


def preactivation(info: LayerInfo, F, W, b, path: str = "fast"):
    """``G_k = F_{k-1} U_k + 1 bᵀ`` of weight layer ``info`` from ``F_{k-1} (N, n_{k-1})``: ``(N, n_k)``.

    ``W (l_{k-1}, T_k)``; ``b`` per filter ``(T_k,)``, per neuron ``(n_k,)`` or ``None``.
    """
    if info.kind in ("dense", "output"):
        G = F @ W
    elif info.kind == "conv" and path == "fast":
        G = _conv_fast(info, F, W)
    else:
        G = jnp.einsum("npl,lt->npt", _gather(F, info.patches), W).reshape(F.shape[0], -1)
    if b is None:
        return G
    return G + (jnp.tile(b, info.P) if b.shape[0] != info.n else b)


def _conv_fast(info: LayerInfo, F, W):
    spec = info.spec
    dims = len(spec.kernel)
    x = F.reshape((F.shape[0],) + info.in_shape)
    rhs = W.reshape(spec.kernel + (info.in_shape[-1], info.T))
    dn = ("NWC", "WIO", "NWC") if dims == 1 else ("NHWC", "HWIO", "NHWC")
    y = jax.lax.conv_general_dilated(x, rhs, spec.stride, info.padding, rhs_dilation=spec.dilation,
                                     dimension_numbers=dn, precision=jax.lax.Precision.HIGHEST)
    return y.reshape(F.shape[0], -1)


def maxpool(info: LayerInfo, F, path: str = "fast"):
    """Max-pooling layer ``info`` on ``F_{k-1} (N, n_{k-1})``: ``F_k (N, n_k)``."""
    spec = info.spec
    if path == "fast" and hasattr(spec, "window"):
        x = F.reshape((F.shape[0],) + info.in_shape)
        spatial = info.in_shape[:-1]
        if spec.stride == spec.window and all(n % w == 0 for n, w in zip(spatial, spec.window)):
            # Non-overlapping windows that tile the input: a reshape and a max. Same values as
            # reduce_window, but its second derivatives are exact float64 on GPU (reduce_window's
            # use reduced precision there) and about 2x cheaper on CPU.
            shape = (F.shape[0],) + tuple(d for n, w in zip(spatial, spec.window) for d in (n // w, w)) \
                + (info.in_shape[-1],)
            y = jnp.max(x.reshape(shape), axis=tuple(range(2, 2 * len(spatial) + 1, 2)))
            return y.reshape(F.shape[0], -1)
        y = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, *spec.window, 1), (1, *spec.stride, 1), "VALID")
        return y.reshape(F.shape[0], -1)
    return jnp.max(_gather(F, info.patches), axis=-1)


class Forward(NamedTuple):
    """``F = (F_0, …, F_L)`` and ``G = (None, G_1, …, G_L)``, each ``(N, n_k)``."""

    F: tuple
    G: tuple


class CNN(nn.Module):
    """The whole chain network as one Flax module (``__call__`` returns :class:`Forward`)."""

    arch: Architecture
    law: str = "lecun_normal"
    bias_law: str = "normal"
    scale: float = 1.0
    bias_scale: float = 0.1
    path: str = "fast"
    param_dtype: jnp.dtype = jnp.float64

    @nn.compact
    def __call__(self, X):
        F = X.reshape(X.shape[0], -1)
        Fs, Gs = [F], [None]
        for info in self.arch.info:
            if info.kind == "maxpool":
                F, G = maxpool(info, F, self.path), None
            else:
                G = _WeightLayer(info, self.law, self.bias_law, self.scale, self.bias_scale, self.path,
                                 self.param_dtype, name=f"layer_{info.k}")(F)
                F = G if info.kind == "output" else _act.get(info.activation)(G)
            Fs.append(F)
            Gs.append(G)
        return Forward(tuple(Fs), tuple(Gs))


def _check_arch(arch):
    """A name or anything else where an Architecture goes raised ``AttributeError: 'str' object has no attribute
    'input_shape'`` from inside the forward pass."""
    if not isinstance(arch, Architecture):
        hint = (f" For a named network use theory_lab.arch.named({arch!r}) or theory_lab.presets.architecture"
                f"({arch!r})." if isinstance(arch, str) else "")
        raise TypeError(f"`arch`={arch!r:.60} is a {type(arch).__name__}; expected a theory_lab.arch.Architecture, "
                        f"e.g. Architecture((3,), (Dense(4), Output(1))).{hint}")


def check_inputs(arch: Architecture, X, name: str = "X"):
    """Validate ``X`` against ``arch``: float64, finite, ``(N, *input_shape)`` or ``(N, d)``."""
    _check_arch(arch)
    dtype = np.dtype(X.dtype) if hasattr(X, "dtype") else np.asarray(X).dtype  # lists of ints are int64
    if dtype != np.float64:
        raise TypeError(f"`{name}` has dtype {dtype}; theory-lab computes in float64. "
                        f"Pass {name}.astype(numpy.float64).")
    shape = tuple(np.shape(X))
    if len(shape) < 2 or (shape[1:] != arch.input_shape and shape[1:] != (arch.d,)):
        raise ValueError(f"`{name}` has shape {shape}; expected (N, {', '.join(map(str, arch.input_shape))}) "
                         f"or (N, {arch.d}) for input_shape {arch.input_shape}.")
    if shape[0] == 0:
        raise ValueError(f"`{name}` has no samples (shape {shape}).")
    if not isinstance(X, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(X)))):
        raise ValueError(f"`{name}` contains NaN or Inf; clean the data first.")


def _check_init_arguments(key, scale, bias_scale):
    """Refuse what flax would reject late (a seed or None for ``key``) or accept silently (a NaN, negative or
    infinite spread, which gives NaN/Inf or sign-flipped parameters)."""
    typed = hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if not hasattr(key, "dtype") or not ((typed and np.shape(key) == ()) or (not typed and np.shape(key) == (2,))):
        raise TypeError(f"`key`={key!r} is not a jax.random key; expected jax.random.key(seed). For an int seed "
                        "use jax.random.key(seed), or theory_lab.sampling.sample_params(arch, seed); of "
                        "jax.random.split(key, n), pass one key.")
    for name, value, default in (("scale", scale, 1.0), ("bias_scale", bias_scale, 0.1)):
        try:
            number = float(value) if not isinstance(value, (bool, str)) else np.nan
        except (TypeError, ValueError):
            number = np.nan
        if not np.isfinite(number) or number < 0:
            raise ValueError(f"`{name}`={value!r} must be a finite non-negative number (the spread of the "
                             f"{'weight' if name == 'scale' else 'bias'} law); the default is {name}={default}.")


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _init(arch, law, bias_law, scale, bias_scale, key):
    X = jnp.zeros((1,) + arch.input_shape, jnp.float64)
    return CNN(arch, law, bias_law, scale, bias_scale).init(key, X)["params"]


def init(arch: Architecture, key, *, law: str = "lecun_normal", bias_law: str = "normal",
         scale: float = 1.0, bias_scale: float = 0.1) -> dict:
    """Draw float64 parameters for ``arch`` from an absolutely continuous law.

    Args:
        arch: the network.
        key: a ``jax.random`` key; the same key gives the same parameters.
        law: weight law, one of :data:`LAWS` (``"normal"``/``"uniform"`` use ``scale``).
        bias_law: ``"normal"`` (default, std ``bias_scale``), ``"uniform"`` or ``"zeros"``.
            The paper's "almost every parameter" results concern weights *and* biases.

    Returns:
        ``{"layer_k": {"W": (l_{k-1}, T_k), "b": (n_k,) or (T_k,)}}`` in float64.
    """
    _require_x64()
    _check_arch(arch)
    if law not in LAWS:
        raise ValueError(f"`law`={law!r} is unknown; choose one of {LAWS}.")
    _bias_init(bias_law, bias_scale)
    _check_init_arguments(key, scale, bias_scale)
    params = dict(_init(arch, law, bias_law, float(scale), float(bias_scale), key))
    bad = [jax.tree_util.keystr(p) for p, a in jax.tree_util.tree_leaves_with_path(params) if a.dtype != jnp.float64]
    if bad:
        raise TypeError(f"parameters {bad} are not float64; this is a bug in theory-lab's float64 guard.")
    for path, a in jax.tree_util.tree_leaves_with_path(params):  # a finite spread can still draw ±inf
        if not bool(jnp.all(jnp.isfinite(a))):
            name = jax.tree_util.keystr(path, simple=True, separator="/")
            arg, value = ("bias_scale", bias_scale) if name.endswith("/b") else ("scale", scale)
            raise ValueError(f"`{arg}`={value!r} overflows float64: {name} has non-finite draws; give a spread "
                             "whose draws stay finite (well below 1e308).")
    return params


@functools.partial(jax.jit, static_argnums=(0, 3))
def _forward(arch, params, X, path):
    return CNN(arch, path=path).apply({"params": params}, X)


def check_params(params, name: str = "params", arch: Architecture | None = None, upto: int | None = None):
    """Validate a parameter pytree: every leaf float64 (float32 leaves gave a raw lax error) and, given
    ``arch``, every array of layers ``1 … upto`` (default all) present, of its shape and finite (a missing or
    mis-shaped leaf gave flax's scope errors, a NaN one NaN outputs). Keys of layers beyond ``upto`` are
    ignored; a key that names no weighted layer of ``arch`` is refused (params of another network)."""
    try:
        leaves = jax.tree_util.tree_leaves_with_path(params)
    except Exception:  # pragma: no cover - not a pytree at all
        raise TypeError(f"`{name}` is not a parameter pytree; pass model.init(arch, key) or its like.") from None
    bad = [(jax.tree_util.keystr(p), np.dtype(a.dtype)) for p, a in leaves
           if hasattr(a, "dtype") and np.dtype(a.dtype) != np.float64]
    if bad:
        where = ", ".join(f"{p} ({d})" for p, d in bad[:4])
        raise TypeError(f"`{name}` has leaves that are not float64: {where}; theory-lab computes in float64. "
                        f"Cast them: jax.tree_util.tree_map(lambda a: numpy.asarray(a, numpy.float64), {name}).")
    if arch is None:
        return
    _check_arch(arch)
    want = [leaf for leaf in _layout(arch).leaves if upto is None or leaf.k <= upto]
    if not isinstance(params, Mapping):
        raise TypeError(f"`{name}` is a {type(params).__name__}; expected the dict {{'layer_k': {{'W': …, 'b': …}}}} "
                        "of model.init(arch, key).")
    known = {f"layer_{leaf.k}" for leaf in _layout(arch).leaves}
    extra = sorted(set(map(str, params)) - known)
    if extra:  # a layer_9 in params of a 2-layer network was ignored: params of a deeper network ran silently
        raise ValueError(f"`{name}` has {', '.join(extra)}, which {'is' if len(extra) == 1 else 'are'} not a weighted "
                         f"layer of this architecture (its layers with weights: {', '.join(sorted(known))}); were "
                         "the parameters made for another network? Pass model.init(arch, key) for this arch.")
    for leaf in want:
        key = f"layer_{leaf.k}/{leaf.name}"
        a = params.get(f"layer_{leaf.k}", {}).get(leaf.name)
        if a is None or not hasattr(a, "shape"):
            what = "lacks" if a is None else f"has a {type(a).__name__}, not an array, at"
            raise ValueError(f"`{name}` {what} {key}; expected the pytree of model.init(arch, key): "
                             + ", ".join(f"layer_{w.k}/{w.name} {w.shape}" for w in want) + ".")
        if tuple(a.shape) != leaf.shape:
            raise ValueError(f"`{name}`: {key} has shape {tuple(a.shape)}; expected {leaf.shape}. Were the "
                             "parameters made for another architecture (or W transposed: rows index the patch)?")
        if not isinstance(a, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(a)))):
            raise ValueError(f"`{name}`: {key} contains NaN or Inf; parameters must be finite.")


def forward(arch: Architecture, params, X, *, path: str = "fast") -> Forward:
    """All features and pre-activations (see :class:`Forward`)."""
    _require_x64()
    if path not in ("fast", "patch"):
        raise ValueError(f"`path`={path!r} is unknown; choose 'fast' or 'patch'.")
    check_inputs(arch, X)
    check_params(params, arch=arch)
    return _forward(arch, params, X if isinstance(X, jax.Array) else jax.device_put(np.asarray(X)), path)


def features(arch: Architecture, params, X, *, path: str = "fast") -> tuple:
    """Feature matrices ``(F_0, …, F_L)``, ``F_k`` of shape ``(N, n_k)``."""
    return forward(arch, params, X, path=path).F


def preactivations(arch: Architecture, params, X, *, path: str = "fast") -> tuple:
    """Pre-activations ``(None, G_1, …, G_L)``; ``G_k = F_{k-1} U_k + 1 b_kᵀ`` (``None`` for pooling)."""
    return forward(arch, params, X, path=path).G


def apply(arch: Architecture, params, X) -> jax.Array:
    """Network output ``F_L`` of shape ``(N, m)``. Pure and jittable in ``(params, X)``."""
    return forward(arch, params, X).F[-1]


def weight_map(arch: Architecture, k: int, W) -> jax.Array:
    """The linear map ``M_k``: filters ``W_k (l_{k-1}, T_k)`` to ``U_k (n_{k-1}, n_k)``."""
    info = arch.layer(k)
    if not info.has_weights:
        raise ValueError(f"`k`={k}: layer {k} is {info.kind} and has no weights; U_k exists for conv and "
                         "fully connected layers only.")
    W = jnp.asarray(W)
    if W.shape != (info.l, info.T):
        raise ValueError(f"`W` has shape {W.shape}; layer {k} expects (l_{k-1}, T_{k}) = {(info.l, info.T)}.")
    if not isinstance(W, jax.core.Tracer):  # a float32 W gave a float32 U_k, a NaN W a NaN U_k, silently
        require_float64(W, "W")
        if not bool(jnp.all(jnp.isfinite(W))):
            raise ValueError(f"`W` (layer {k}) contains NaN or Inf ({int(jnp.sum(~jnp.isfinite(W)))} entries); "
                             "U_k is built from finite filters only.")
    if info.kind in ("dense", "output"):
        return W
    n_in = arch.widths[k - 1]
    idx = info.patches  # (P, l)
    rows = np.broadcast_to(np.where(idx < 0, 0, idx)[:, :, None], idx.shape + (info.T,))
    cols = np.broadcast_to((np.arange(info.P)[:, None, None] * info.T + np.arange(info.T)), rows.shape)
    vals = jnp.where(jnp.asarray(idx >= 0)[:, :, None], W[None, :, :], 0.0)
    U = jnp.zeros((n_in, info.n), W.dtype)
    return U.at[rows, cols].add(vals)


def full_weight_matrix(arch: Architecture, params, k: int) -> jax.Array:
    """``U_k = M_k(W_k)`` of shape ``(n_{k-1}, n_k)`` for a conv or fully connected layer ``k``."""
    arch.layer(k)
    if f"layer_{k}" not in params:
        raise ValueError(f"`k`={k}: layer {k} ({arch.layer(k).kind}) has no weights; choose a conv or dense layer.")
    return weight_map(arch, k, params[f"layer_{k}"]["W"])


def bias_vector(arch: Architecture, params, k: int) -> jax.Array:
    """The per-neuron bias ``b_k ∈ R^{n_k}`` (tied biases expanded, zeros for ``bias='none'``)."""
    info = arch.layer(k)
    p = params.get(f"layer_{k}", {})
    if "b" not in p:
        return jnp.zeros(info.n)
    b = p["b"]
    return jnp.tile(b, info.P) if b.shape[0] != info.n else b
