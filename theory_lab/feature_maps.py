"""``F_k`` and ``U_k``, cheap to compile: :func:`features_upto`, :func:`feature_rank`, :func:`full_weight_matrix`.

Searches over many random architectures (Theorem 3.4's construction, rank frequencies,
property tests) pay mostly for compilation. Here ``F_k`` comes from a forward pass of
layers ``1 … k`` only, compiled on CPU at XLA backend optimisation level 0, and
``U_k = M_k(W_k)`` is built with numpy indexing, which compiles nothing.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Conv, Dense, Output
    >>> from theory_lab.feature_maps import feature_rank, features_upto, full_weight_matrix
    >>> from theory_lab.sampling import sample_params
    >>> conv = Architecture((5, 1), (Conv(3, (2,)), Output(1)))  # n_0 = 5, n_1 = 4 · 3
    >>> full_weight_matrix(conv, sample_params(conv, 0), 1).shape
    (5, 12)
    >>> arch = Architecture((3,), (Dense(8), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> params = sample_params(arch, 1)
    >>> features_upto(arch, params, X, 1).shape, feature_rank(arch, params, X, 1).rank
    ((5, 8), 5)
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

from theory_lab import forward_error
from theory_lab import generic_rank
from theory_lab import model as _model
from theory_lab.arch import Architecture, Output
from theory_lab.linalg import DEFAULT_BAND, RankReport, certify_rank_bound, rank_report
from theory_lab.sampling import to_device
from theory_lab.validate import float64_values, is_integer, numeric_array

__all__ = ["feature_rank", "features_upto", "features_jvp", "forward_upto", "full_weight_matrix", "duplicate_samples",
           "check_layer_index"]

def check_layer_index(arch: Architecture, k, N: int | None = None, *, need_weights: bool = True) -> int:
    """``k`` as an int if it names a hidden layer ``1 … L−1`` (with weights, unless ``need_weights=False``).

    Raises a ValueError naming ``k``, the value and the allowed range otherwise.

    Example:
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> check_layer_index(Architecture((3,), (Dense(4), Output(1))), 1)
        1
    """
    if not is_integer(k) or not 1 <= k <= arch.L - 1:  # a bool is refused, not read as layer 1
        raise ValueError(f"`k`={k!r} is not a hidden layer; expected an integer in [1, {arch.L - 1}].")
    if need_weights and not arch.layer(int(k)).has_weights:
        raise ValueError(f"`k`={k}: layer {k} is {arch.layer(int(k)).kind}; F_k must come from a conv or "
                         "fully connected layer here.")
    return int(k)


def feature_rank(arch: Architecture, params, X, k: int, *, band: float = DEFAULT_BAND) -> RankReport:
    """Rank evidence of ``F_k`` (``N × n_k``) at ``params`` on ``X``.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(8), Output(1)))
        >>> from theory_lab.sampling import sample_params
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> feature_rank(arch, sample_params(arch, 1), X, 1).rank
        5
    """
    k = check_layer_index(arch, k, need_weights=False)
    fw = forward_upto(arch, params, X, k)
    F = np.asarray(fw.F[k])
    report = rank_report(F, band=band, name=f"F_{k}")
    bound, certificate = duplicate_samples(X)
    if bound < min(F.shape):
        report = certify_rank_bound(report, bound, certificate)
    target, why = min(min(F.shape), bound), ""
    if report.rank < target and fw.G[k] is not None:
        from theory_lab.saturation import explain_deficit  # it builds on this module

        why = explain_deficit(arch, params, fw, k, report, target)
    if report.rank < target and not why:
        from theory_lab.near_duplicates import near_duplicate_rows  # it builds on this module

        why = near_duplicate_rows(arch, params, X, F, k, report, target)
    # a full-rank claim must clear the forward pass's own error (cancellation)
    report = forward_error.certify_full_rank(report, arch, params, fw, k, target)
    if why:
        report = dataclasses.replace(report, unresolved=why)
    return report


def duplicate_samples(X) -> tuple[int, str]:
    """The number of distinct samples of ``X`` ``(N, ...)`` and, if some repeat, which ones.

    Equal samples give equal rows of every ``F_k`` in exact arithmetic (``F_k`` is a function of
    the sample), so ``rank F_k ≤`` the number of distinct samples: a certificate of rank
    deficiency that no SVD can give (:func:`theory_lab.linalg.certify_rank_bound`). Samples are
    compared by value (``-0.0 == 0.0``), not to within a tolerance.

    Returns:
        ``(distinct, certificate)``; ``certificate`` names the groups of equal samples (``""`` if none).

    Example:
        >>> import numpy as np
        >>> X = np.arange(12.0).reshape(4, 3); X[3] = X[1]
        >>> duplicate_samples(X)
        (3, 'samples [1, 3] are identical, so rows [1, 3] of F_k are equal in exact arithmetic')
    """
    X = float64_values(X, "X")  # None failed as "tuple index out of range", bools compared as 0/1
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"`X` has shape {X.shape}; expected samples (N, ...) with N >= 1.")
    rows = X.reshape(X.shape[0], -1) + 0.0  # + 0.0: -0.0 becomes 0.0
    _, first, inverse, counts = np.unique(rows, axis=0, return_index=True, return_inverse=True, return_counts=True)
    if counts.max(initial=1) == 1:
        return rows.shape[0], ""
    inverse = np.ravel(inverse)
    groups = [np.nonzero(inverse == g)[0].tolist() for g in np.argsort(first) if counts[g] > 1]
    shown = "; ".join(f"samples {g} are identical, so rows {g} of F_k are equal in exact arithmetic"
                      for g in groups[:4])
    more = f" (and {len(groups) - 4} more groups)" if len(groups) > 4 else ""
    return int(counts.size), shown + more


@functools.lru_cache(maxsize=512)
def _truncated(arch: Architecture, k: int) -> Architecture:
    return Architecture(arch.input_shape, tuple(arch.layers[:k]) + (Output(1),))


def _apply(arch, params, X):
    return _model.CNN(arch).apply({"params": params}, X)


# Each new architecture is a new compilation; on CPU, XLA's backend optimisation level 0
# halves its cost, and these small forward passes do not need the optimised code.
_forward_cpu = jax.jit(_apply, static_argnums=0, compiler_options={"xla_backend_optimization_level": 0})
_forward_other = jax.jit(_apply, static_argnums=0)


def _upto(arch: Architecture, params, k: int):
    """The truncated copy of ``arch`` (layers ``1 … k`` and a dummy output) and its parameters."""
    small = _truncated(arch, k)
    sub = {name: p for name, p in params.items() if int(name.split("_")[1]) <= k}
    # numpy zeros: an eager jnp.zeros would compile a broadcast for every new width
    sub[f"layer_{k + 1}"] = {"W": np.zeros((small.layer(k + 1).l, 1)), "b": np.zeros(1)}
    return small, sub


def forward_upto(arch: Architecture, params, X, k: int):
    """Forward of layers ``1 … k`` only (a truncated copy of ``arch`` with a dummy output)."""
    k = check_layer_index(arch, k, need_weights=False)  # True ran layer 1, 1.0 was refused as "`k`=2.0"
    _model.check_inputs(arch, numeric_array(X, "X"))  # None was "`X` has dtype object"
    _model.check_params(params, arch=arch, upto=k)
    small, sub = _upto(arch, params, k)
    forward = _forward_cpu if jax.default_backend() == "cpu" else _forward_other
    return forward(small, sub, X if isinstance(X, jax.Array) else to_device(np.asarray(X)))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _tangent(small: Architecture, params, X0, D, k: int):
    return jax.jvp(lambda Z: _apply(small, params, Z).F[k], (X0,), (D,))[1]


def features_jvp(arch: Architecture, params, X0, D, k: int) -> np.ndarray:
    """``J_{f_k}(x_i) · d_i`` for each row: the directional derivative of ``F_k`` ``(N, n_k)`` at ``X0`` along ``D``.

    ``X0`` and ``D`` are ``(N, *input_shape)``; only layers ``1 … k`` are computed. Used where the
    difference of two rows of ``F_k`` is below float64 resolution (:mod:`theory_lab.near_duplicates`).

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> from theory_lab.sampling import sample_params
        >>> arch = Architecture((3,), (Dense(4, activation="identity"), Output(1)))
        >>> params = sample_params(arch, 0)
        >>> X0, D = np.zeros((2, 3)), np.eye(3)[:2]
        >>> np.allclose(features_jvp(arch, params, X0, D, 1), np.asarray(params["layer_1"]["W"])[:2])
        True
    """
    k = check_layer_index(arch, k, need_weights=False)
    _model.check_inputs(arch, X0, "X0")
    _model.check_inputs(arch, D, "D")
    if np.shape(X0) != np.shape(D):
        raise ValueError(f"`D` has shape {np.shape(D)}; expected the shape of `X0`, {np.shape(X0)} (one direction "
                         "per sample).")
    _model.check_params(params, arch=arch, upto=k)
    small, sub = _upto(arch, params, k)
    shape = (-1,) + tuple(arch.input_shape)
    X0, D = (np.reshape(np.asarray(a, np.float64), shape) for a in (X0, D))
    out = _tangent(small, sub, X0, D, k)
    return np.asarray(out).reshape(np.shape(X0)[0], -1)


def features_upto(arch: Architecture, params, X, k: int) -> np.ndarray:
    """``F_k`` as a numpy array ``(N, n_k)``, computing only layers ``1 … k``.

    The same module as :func:`model.features` (agreeing to rounding, which the tests
    check), but the layers after ``k`` are left out and, on CPU, XLA compiles it at
    backend optimisation level 0: each new architecture compiles in about half the time.
    """
    k = check_layer_index(arch, k, need_weights=False)
    return np.asarray(forward_upto(arch, params, X, k).F[k])


def full_weight_matrix(arch: Architecture, params, k: int) -> np.ndarray:
    """``U_k = M_k(W_k)`` as a numpy array ``(n_{k-1}, n_k)`` (same as :func:`model.full_weight_matrix`).

    Built with numpy indexing, so it costs no jit compilation per shape. A deliberate
    twin of :func:`theory_lab.model.full_weight_matrix`, not a duplicate to remove: the
    jax version runs eager ``jnp`` ops (``where``, ``zeros``, a scatter-add), each compiled
    for every new shape. Measured on CPU (8 new conv architectures, 16 ``U_k``): about
    9.5 s for the jax version against about 1 ms here, and 30–45 ms against 1.5 ms once
    compiled. :func:`~theory_lab.witness.construct_full_rank` builds every ``U_l`` of each
    candidate, often for a new architecture, so it uses this one. The tests check that
    both agree exactly; use the jax version where ``U_k`` must be traced (``grad``, ``jit``).
    """
    info = arch.layer(k)
    if not isinstance(params, dict):  # None gave "argument of type 'NoneType' is not iterable"
        raise TypeError(f"`params` is a {type(params).__name__}; expected the dict {{'layer_k': {{'W': …, 'b': …}}}} of "
                        "sample_params(arch, key).")
    if not info.has_weights or f"layer_{k}" not in params:
        raise ValueError(f"`k`={k}: layer {k} is {info.kind} and has no weights; U_k exists for conv and fully "
                         "connected layers only.")
    W = np.asarray(params[f"layer_{k}"]["W"])
    if W.dtype.kind not in "iu":  # integer filters stay exact; a float32 W gave a float32 U_k without a word
        W = float64_values(W, f"params['layer_{k}']['W']")
    if not np.all(np.isfinite(W)):  # NaN filters gave NaN columns of U_k, silently
        raise ValueError(f"`params`: layer_{k}/W contains NaN or Inf ({int(np.sum(~np.isfinite(W)))} entries); "
                         "U_k is built from finite filters only.")
    if info.kind in ("dense", "output"):
        return W
    return generic_rank.weight_matrix(info.patches, arch.widths[k - 1], W.astype(np.float64, copy=False))
