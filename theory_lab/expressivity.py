"""Expressivity (THEORY.md §3): rank of ``F_k``, Theorem 3.4's witness, Corollary 3.6's exact fit.

* :func:`sample_params` — parameters from an absolutely continuous law, drawn from an
  explicit key with numpy (no jit compile per architecture, unlike :func:`model.init`,
  whose laws and pytree it mirrors).
* :func:`feature_rank` — rank evidence of ``F_k`` for given parameters and data;
  :func:`features_upto` computes ``F_k`` from layers ``1 … k`` only (cheap to compile);
  :func:`full_weight_matrix` builds ``U_k`` with numpy.
* :func:`diagnose_units` — the known causes of rank loss: dead units (a column of
  ``F_l`` identically zero) and units whose pre-activation never changes sign over the
  data (for a piecewise linear ``σ`` such a unit is affine on the data).
* :func:`construct_full_rank` — Theorem 3.4's existence made constructive: parameters of
  layers ``1 … k`` with ``rank F_k = N`` and every ``U_l`` of full rank, with evidence.
* :func:`exact_fit` — Corollary 3.6's ``λ = F_{L−1}ᵀ(F_{L−1}F_{L−1}ᵀ)^{−1} y``, computed from
  a QR factorisation of ``F_{L−1}ᵀ`` (never the Gram inverse).
  :func:`with_output_layer` installs ``λ`` as the output layer.
* :func:`parameter_counts` — ``2N + T_1 l_0`` (one-hidden-layer CNN) vs ``(d+2)N`` (FC).
* :func:`rank_frequency` — how often random parameters lose rank, with the causes seen;
  :func:`wilson_interval` — the confidence interval of such a frequency.

The construction (Theorem 3.4). Layers ``1 … k−1`` get random filters; a unit whose
activation is not strictly increasing everywhere (ReLU, GELU, SiLU) gets its bias shifted so
that its pre-activation is positive on every sample, where ``σ`` is strictly increasing and
nothing dies. At layer ``k`` the filters stay random and the per-neuron biases are placed
greedily: pick the unused neuron whose two largest values over the samples not yet
assigned are furthest apart, give the top sample that neuron, put the threshold between
the two values, remove the sample, repeat ``N`` times. Each assigned neuron is "off" (on
the side where ``σ`` tends to 0) for every sample assigned after it, so the ``N × N``
submatrix of ``F_k`` is triangular with a non-zero diagonal: exactly for ReLU, in the limit
of a large weight scale ``α`` for saturating ``σ``. Everything is then verified on the
actual network with :func:`~theory_lab.linalg.rank_report`; a failed attempt is retried
with fresh random filters (a seeded search), and the result says how many attempts it took.

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> from theory_lab import expressivity as ex
    >>> arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((12, 6, 1))
    >>> w = ex.construct_full_rank(arch, X, 1, key=0)
    >>> w.found, w.report.rank, w.report.conclusive
    (True, 12, True)
    >>> fit = ex.exact_fit(w.features, np.arange(12.0))
    >>> fit.relative_residual < 1e-10
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg as _sla
from scipy import special as _special

from theory_lab import activations as _act
from theory_lab import model as _model
from theory_lab.arch import Architecture, Output
from theory_lab.linalg import DEFAULT_BAND, RankReport, rank_report

__all__ = ["sample_params", "as_generator", "feature_rank", "features_upto", "full_weight_matrix", "UnitDiagnosis", "diagnose_units",
           "Witness", "construct_full_rank", "ExactFit", "exact_fit", "with_output_layer",
           "parameter_counts", "wilson_interval", "FrequencyReport", "rank_frequency", "BIAS_LAWS"]

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
    return np.random.default_rng(data.astype(np.uint32).ravel().tolist())


def _to_device(a: np.ndarray) -> jax.Array:
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
        if not np.isfinite(value) or (name != "bias_mean" and value < 0):
            raise ValueError(f"`{name}`={value!r} must be a finite{' non-negative' if name != 'bias_mean' else ''} "
                             "number.")
    rng = as_generator(key)
    params = {}
    for info in arch.info:
        if not info.has_weights:
            continue
        layer = {"W": _to_device(_weights(rng, law, (info.l, info.T), float(scale)))}
        size = _bias_size(info)
        if size is not None:
            layer["b"] = _to_device(_bias(rng, bias_law, size, float(bias_scale), float(bias_mean)))
        params[f"layer_{info.k}"] = layer
    return params


def _check_k(arch: Architecture, k, N: int | None = None, *, need_weights: bool = True) -> int:
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= arch.L - 1:
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
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> feature_rank(arch, sample_params(arch, 1), X, 1).rank
        5
    """
    k = _check_k(arch, k, need_weights=False)
    return rank_report(features_upto(arch, params, X, k), band=band, name=f"F_{k}")


@functools.lru_cache(maxsize=512)
def _truncated(arch: Architecture, k: int) -> Architecture:
    return Architecture(arch.input_shape, tuple(arch.layers[:k]) + (Output(1),))


def _apply(arch, params, X):
    return _model.CNN(arch).apply({"params": params}, X)


# Each new architecture is a new compilation; on CPU, XLA's backend optimisation level 0
# halves its cost, and these small forward passes do not need the optimised code.
_forward_cpu = jax.jit(_apply, static_argnums=0, compiler_options={"xla_backend_optimization_level": 0})
_forward_other = jax.jit(_apply, static_argnums=0)


def _forward_upto(arch: Architecture, params, X, k: int):
    """Forward of layers ``1 … k`` only (a truncated copy of ``arch`` with a dummy output)."""
    _model.check_inputs(arch, X)
    small = _truncated(arch, k)
    sub = {name: p for name, p in params.items() if int(name.split("_")[1]) <= k}
    # numpy zeros: an eager jnp.zeros would compile a broadcast for every new width
    sub[f"layer_{k + 1}"] = {"W": np.zeros((small.layer(k + 1).l, 1)), "b": np.zeros(1)}
    forward = _forward_cpu if jax.default_backend() == "cpu" else _forward_other
    return forward(small, sub, X if isinstance(X, jax.Array) else _to_device(np.asarray(X)))


def features_upto(arch: Architecture, params, X, k: int) -> np.ndarray:
    """``F_k`` as a numpy array ``(N, n_k)``, computing only layers ``1 … k``.

    The same module as :func:`model.features` (agreeing to rounding, which the tests
    check), but the layers after ``k`` are left out and, on CPU, XLA compiles it at
    backend optimisation level 0: each new architecture compiles in about half the time.
    """
    k = _check_k(arch, k, need_weights=False)
    return np.asarray(_forward_upto(arch, params, X, k).F[k])


@dataclass(frozen=True)
class UnitDiagnosis:
    """Dead units and units whose pre-activation never changes sign, layer by layer.

    Attributes:
        layers: per layer ``l ≤ k`` with an activation: ``{"layer", "activation", "n", "dead",
            "constant", "no_sign_change", "positive", "negative", "piecewise_linear"}`` — ``dead``:
            column of ``F_l`` identically zero; ``constant``: a non-zero constant column;
            ``no_sign_change``: ``G_l`` strictly positive or strictly negative on all samples
            (``positive`` / ``negative`` split it; ReLU units with ``G_l ≤ 0`` count as dead).
        bound: for a piecewise linear ``σ_k``, the rank bound these causes imply:
            (units of layer ``k`` that are neither dead nor affine on the data) +
            ``min(#affine units, rank [F_{k−1}, 1])``; ``None`` otherwise.
        N: number of samples.
    """

    layers: tuple
    bound: int | None
    N: int

    @property
    def causes(self) -> tuple[str, ...]:
        """Which causes occurred anywhere in layers ``1 … k``."""
        out = []
        if any(r["dead"] for r in self.layers):
            out.append("dead units")
        if any(r["no_sign_change"] for r in self.layers):
            out.append("units whose pre-activation never changes sign")
        return tuple(out)

    @property
    def explains_deficiency(self) -> bool:
        """True when dead and affine units alone force ``rank F_k < N``."""
        return self.bound is not None and self.bound < self.N

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "bound": self.bound, "N": self.N, "causes": list(self.causes),
                "explains_deficiency": self.explains_deficiency}


_PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")


def _is_piecewise_linear(name: str) -> bool:
    return name.split("(")[0].strip() in _PIECEWISE_LINEAR


def diagnose_units(arch: Architecture, params, X, k: int) -> UnitDiagnosis:
    """Count the causes of rank loss in layers ``1 … k`` at ``params`` on ``X``.

    Returns:
        :class:`UnitDiagnosis`.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(8, activation="relu"), Output(1)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> d = diagnose_units(arch, sample_params(arch, 1, bias_mean=-50.0), X, 1)
        >>> d.layers[0]["dead"], d.bound, d.explains_deficiency
        (8, 0, True)
    """
    k = _check_k(arch, k, need_weights=False)
    fwd = _forward_upto(arch, params, X, k)
    N = int(np.shape(X)[0])
    rows = []
    for info in arch.info[:k]:
        if info.activation is None:
            continue
        G, F = np.asarray(fwd.G[info.k]), np.asarray(fwd.F[info.k])
        dead = np.all(F == 0.0, axis=0)
        constant = np.all(F == F[:1], axis=0) & ~dead
        pos, neg = np.all(G > 0, axis=0), np.all(G < 0, axis=0)
        relu_like = info.activation == "relu"
        nsc = (pos | neg) & ~dead if relu_like else (pos | neg)
        rows.append({"layer": info.k, "activation": info.activation, "n": info.n, "dead": int(dead.sum()),
                     "constant": int(constant.sum()), "no_sign_change": int(nsc.sum()),
                     "positive": int((pos & ~dead).sum()), "negative": int((neg & ~dead).sum()),
                     "piecewise_linear": _is_piecewise_linear(info.activation)})
    bound = None
    last = arch.layer(k)
    if last.activation is not None and _is_piecewise_linear(last.activation):
        G, F = np.asarray(fwd.G[k]), np.asarray(fwd.F[k])
        dead = np.all(F == 0.0, axis=0)
        if last.activation == "identity":
            affine = np.ones(G.shape[1], bool)
        else:
            affine = (np.all(G >= 0, axis=0) | np.all(G <= 0, axis=0)) & ~dead
        prev = np.asarray(fwd.F[k - 1])
        r_prev = rank_report(np.concatenate([prev, np.ones((N, 1))], axis=1), name=f"[F_{k - 1}, 1]").rank
        bound = int((~dead & ~affine).sum() + min(int(affine.sum()), r_prev))
    return UnitDiagnosis(tuple(rows), bound, N)


@dataclass(frozen=True)
class Witness:
    """Parameters found for Theorem 3.4, with the evidence that they work.

    Attributes:
        params: the full parameter pytree (layers ``> k`` random, from :func:`sample_params`).
        k: the wide layer.
        report: rank evidence of ``F_k`` at ``params``.
        U_reports: ``{l: RankReport of U_l}`` for every weight layer ``l ≤ k``.
        features: ``F_k`` as a numpy array ``(N, n_k)``.
        attempts: how many random filter draws the search used.
        alpha: weight scale used at layer ``k``.
        min_gap: the smallest gap between a sample's value and the next value at its neuron
            (the threshold sits in the middle), in pre-activation units.
        method: one sentence on what was done.
        log: per attempt ``{"attempt", "alpha", "rank", "margin", "conclusive"}``.
        order: ``(N,)`` samples in the order they were assigned a neuron.
        neurons: ``(N,)`` the neuron of layer ``k`` each of them got; for ReLU the submatrix
            ``features[order][:, neurons]`` is upper triangular with a positive diagonal.
    """

    params: dict = field(repr=False)
    k: int
    report: RankReport
    U_reports: dict
    features: np.ndarray = field(repr=False)
    attempts: int
    alpha: float
    min_gap: float
    method: str
    log: tuple = ()
    order: np.ndarray = field(default=None, repr=False)
    neurons: np.ndarray = field(default=None, repr=False)

    @property
    def found(self) -> bool:
        """``rank F_k = N`` and every ``U_l`` full rank, all conclusively."""
        return (self.report.rank == self.report.shape[0] and self.report.conclusive
                and all(r.full_rank and r.conclusive for r in self.U_reports.values()))

    def to_dict(self) -> dict:
        return {"k": self.k, "found": self.found, "F_k": self.report.to_dict(),
                "U": {f"U_{l}": r.to_dict(max_values=2) for l, r in self.U_reports.items()},
                "attempts": self.attempts, "alpha": self.alpha, "min_gap": self.min_gap,
                "method": self.method, "log": list(self.log)}


def _off_sign(name: str) -> float:
    """+1 if ``σ(t) → 0`` as ``t → −∞`` (ReLU, sigmoid, softplus, …), −1 if it does at ``+∞``."""
    sigma = _act.get(name)
    lo, hi = abs(float(sigma(jnp.float64(-40.0)))), abs(float(sigma(jnp.float64(40.0))))
    return 1.0 if lo <= hi else -1.0


def _homogeneous(name: str) -> bool:
    return name.split("(")[0].strip() in ("relu", "leaky_relu", "identity")


def _greedy_thresholds(A: np.ndarray):
    """Triangular assignment of samples to neurons (see the module docstring).

    Args:
        A: ``(N, n)`` pre-activations without bias (already signed so that "off" is low).

    Returns:
        ``(neurons, thresholds, gaps, samples)``, each ``(N,)``: at step ``s`` sample
        ``samples[s]`` gets neuron ``neurons[s]`` with threshold ``thresholds[s]`` in the middle
        of a gap ``gaps[s]`` to the next value among the samples still unassigned; ``None``
        when ties between samples block every free neuron.
    """
    N, n = A.shape
    order = np.argsort(-A, axis=0, kind="stable")  # (N, n): samples by value, per neuron
    removed = np.zeros(N, bool)
    used = np.zeros(n, bool)
    top = np.zeros(n, np.int64)
    cols = np.arange(n)
    neurons, thresholds, gaps, samples = [], [], [], []
    for _ in range(N):
        while True:  # advance each pointer past removed samples (amortised O(N n))
            stale = removed[order[top, cols]]
            if not stale.any():
                break
            top[stale] += 1
        second = top + 1
        while True:
            ok = second < N
            stale = np.zeros(n, bool)
            stale[ok] = removed[order[second[ok], cols[ok]]]
            if not stale.any():
                break
            second[stale] += 1
        hi = A[order[top, cols], cols]
        has_second = second < N
        lo = np.where(has_second, A[order[np.minimum(second, N - 1), cols], cols], -np.inf)
        gap = np.where(used, -np.inf, hi - lo)
        h = int(np.argmax(gap))
        g = float(gap[h])
        if not g > 0:
            return None
        i = int(order[top[h], h])
        if np.isfinite(g):
            theta = 0.5 * (hi[h] + lo[h])
        else:  # the last sample: any threshold below its value
            g = float(np.max(np.abs(A[:, h]))) + 1.0
            theta = hi[h] - 0.5 * g
        neurons.append(h)
        thresholds.append(theta)
        gaps.append(g)
        samples.append(i)
        used[h] = True
        removed[i] = True
    return np.array(neurons), np.array(thresholds), np.array(gaps), np.array(samples)


def full_weight_matrix(arch: Architecture, params, k: int) -> np.ndarray:
    """``U_k = M_k(W_k)`` as a numpy array ``(n_{k-1}, n_k)`` (same as :func:`model.full_weight_matrix`).

    Built with numpy indexing, so it costs no jit compilation per shape.
    """
    info = arch.layer(k)
    if not info.has_weights or f"layer_{k}" not in params:
        raise ValueError(f"`k`={k}: layer {k} is {info.kind} and has no weights; U_k exists for conv and fully "
                         "connected layers only.")
    W = np.asarray(params[f"layer_{k}"]["W"])
    if info.kind in ("dense", "output"):
        return W
    idx = info.patches  # (P, l); -1 marks zero padding
    U = np.zeros((arch.widths[k - 1], info.n))
    p, j = np.nonzero(idx >= 0)
    cols = p[:, None] * info.T + np.arange(info.T)[None, :]
    np.add.at(U, (np.broadcast_to(idx[p, j][:, None], cols.shape), cols), W[j])
    return U


def _set_layer(params, k: int, W=None, b=None):
    out = dict(params)
    layer = dict(out[f"layer_{k}"])
    if W is not None:
        layer["W"] = _to_device(np.asarray(W))
    if b is not None:
        layer["b"] = _to_device(np.asarray(b))
    out[f"layer_{k}"] = layer
    return out


def _shift_positive(arch: Architecture, params, X, l: int, k: int, delta: float):
    """Biases of layer ``l`` shifted so every pre-activation is ``≥ delta`` on the data."""
    info = arch.layer(l)
    G = np.asarray(_forward_upto(arch, params, X, k).G[l])
    b = np.asarray(params[f"layer_{l}"].get("b", np.zeros(0)))
    if b.size == 0:
        return params
    if b.shape[0] == info.n:
        shift = delta - G.min(axis=0)
    else:  # per-filter bias: one shift per filter over all patches
        shift = delta - G.reshape(G.shape[0], info.P, info.T).min(axis=(0, 1))
    return _set_layer(params, l, b=b + np.maximum(shift, 0.0))


def construct_full_rank(arch: Architecture, X, k: int, *, key=0, attempts: int = 5,
                        alphas: tuple[float, ...] = (10.0, 40.0), band: float = DEFAULT_BAND,
                        law: str = "lecun_normal") -> Witness:
    """Parameters with ``rank F_k = N`` and full-rank ``U_1 … U_k`` (Theorem 3.4), verified.

    Follows the proof idea (see the module docstring): random filters, biases of layers
    ``< k`` shifted into the region where ``σ`` is strictly increasing, per-neuron biases of
    layer ``k`` placed between sorted projections so that ``N`` columns of ``F_k`` form a
    triangular matrix. Retries with fresh filters up to ``attempts`` times and, for
    saturating ``σ``, tries each weight scale in ``alphas``. It never claims success: read
    :attr:`Witness.found` and the rank evidence.

    Args:
        arch: the network; layer ``k`` must be conv or fully connected with per-neuron bias
            (the paper's ``b_k ∈ R^{n_k}``) and ``n_k ≥ N``.
        X: data ``(N, *input_shape)``, float64.
        k: the wide layer.
        key: seed of the search (``jax.random`` key, int or ``Generator``).
        attempts: random filter draws to try.
        alphas: weight scales for layer ``k``, as multiples of ``1 / (smallest half-gap)``;
            unused for positively homogeneous ``σ`` (ReLU), where the scale does not matter.
        band: conclusiveness band of the rank decisions.
        law: weight law of the random filters.

    Returns:
        :class:`Witness` (the last attempt's if none succeeded).
    """
    _model.check_inputs(arch, X)
    k = _check_k(arch, k)
    info = arch.layer(k)
    N = int(np.shape(X)[0])
    if info.n < N:
        raise ValueError(f"`k`={k}: n_{k} = {info.n} < N = {N}; Theorem 3.4 needs a wide layer (n_k >= N). "
                         "Add filters to layer k or use fewer samples.")
    if info.kind in ("conv", "patch") and getattr(info.spec, "bias", "neuron") != "neuron":
        raise ValueError(f"`k`={k}: layer {k} has bias={info.spec.bias!r}; the construction places one bias per "
                         "neuron (the paper's b_k ∈ R^n_k). Use bias='neuron' for the wide layer.")
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"`attempts`={attempts!r} must be a positive int.")
    rng = as_generator(key)
    sign = _off_sign(info.activation)
    homogeneous = _homogeneous(info.activation)
    log, witness = [], None
    for attempt in range(1, attempts + 1):
        params = sample_params(arch, rng, law=law)
        for l in range(1, k):
            li = arch.layer(l)
            if li.has_weights and not _act.get(li.activation).strictly_increasing:
                params = _shift_positive(arch, params, X, l, k, delta=0.1)
        G = np.asarray(_forward_upto(arch, params, X, k).G[k])
        b_old = np.asarray(_model.bias_vector(arch, params, k))
        A = sign * (G - b_old)  # (N, n_k): sign·⟨w^t, f_{k-1}^p(x_i)⟩
        picked = _greedy_thresholds(A)
        if picked is None:
            log.append({"attempt": attempt, "alpha": None, "rank": None, "margin": None, "conclusive": False,
                        "note": "ties between samples at every free neuron"})
            continue
        neurons, thetas, gaps, order = picked
        # unassigned neurons: threshold at their median value (alive, not all on)
        theta = np.median(A, axis=0)
        theta[neurons] = thetas
        W = np.asarray(params[f"layer_{k}"]["W"])
        half = 0.5 * float(gaps.min())
        for c in ((1.0,) if homogeneous else alphas):
            alpha = 1.0 if homogeneous else c / half
            cand = _set_layer(params, k, W=sign * alpha * W, b=-alpha * theta)
            F = features_upto(arch, cand, X, k)
            rep = rank_report(F, band=band, name=f"F_{k}")
            U = {l: rank_report(full_weight_matrix(arch, cand, l), band=band, name=f"U_{l}")
                 for l in range(1, k + 1) if arch.layer(l).has_weights}
            log.append({"attempt": attempt, "alpha": alpha, "rank": rep.rank, "margin": rep.margin,
                        "conclusive": rep.conclusive})
            method = ("random filters; biases of layers < k shifted so pre-activations are positive where σ is "
                      "not increasing; layer-k biases placed greedily between sorted projections so N columns "
                      f"of F_k are triangular (σ off side {'-' if sign > 0 else '+'}∞, α = {alpha:.3g})")
            witness = Witness(cand, k, rep, U, F, attempt, float(alpha), float(gaps.min()), method, tuple(log),
                              order, neurons)
            if witness.found:
                return witness
    if witness is None:
        raise RuntimeError(f"construct_full_rank: every one of {attempts} attempts hit ties between samples "
                           f"at all free neurons of layer {k}; the data likely violates Assumption 3.1 "
                           "(duplicate samples or patches). Check it with data.check_distinct_patches.")
    return witness


@dataclass(frozen=True)
class ExactFit:
    """Corollary 3.6's fit ``F λ = y`` with its evidence.

    Attributes:
        lam: ``λ`` of shape ``(n, )`` or ``(n, m)``: the minimum-norm solution
            ``Fᵀ(FFᵀ)^{−1} y`` when ``F`` has full row rank.
        residual: ``‖Fλ − y‖``; relative_residual: divided by ``‖y‖``.
        report: rank evidence of ``F``.
    """

    lam: np.ndarray = field(repr=False)
    residual: float
    relative_residual: float
    report: RankReport

    def to_dict(self) -> dict:
        return {"residual": self.residual, "relative_residual": self.relative_residual,
                "lambda_norm": float(np.linalg.norm(self.lam)), "F": self.report.to_dict(max_values=3)}


def exact_fit(F, y, *, band: float = DEFAULT_BAND) -> ExactFit:
    """``λ = Fᵀ(FFᵀ)^{−1} y`` (Corollary 3.6) via QR of ``Fᵀ``, never forming ``FFᵀ``.

    With ``Fᵀ = QR`` (``Q`` ``n × N``, ``R`` upper triangular), ``FFᵀ = RᵀR`` and
    ``λ = Q R^{−ᵀ} y``: one triangular solve, backward stable. If ``F`` is not of full row
    rank (by :func:`rank_report`), the SVD-based least-squares solution is returned
    instead and the residual shows what is left.

    Args:
        F: ``(N, n)`` float64 with ``n ≥ N`` for an exact fit.
        y: ``(N,)`` or ``(N, m)`` targets.

    Example:
        >>> import numpy as np
        >>> F = np.random.default_rng(0).standard_normal((4, 9))
        >>> fit = exact_fit(F, np.array([1.0, -2.0, 3.0, 0.5]))
        >>> fit.lam.shape, fit.relative_residual < 1e-12
        ((9,), True)
    """
    F = np.asarray(F)
    if F.dtype != np.float64 or F.ndim != 2:
        raise ValueError(f"`F` must be a float64 matrix (N, n); got dtype {F.dtype}, shape {F.shape}.")
    y = np.asarray(y, dtype=np.float64)
    if y.shape[:1] != F.shape[:1] or y.ndim not in (1, 2):
        raise ValueError(f"`y` has shape {y.shape}; expected ({F.shape[0]},) or ({F.shape[0]}, m) to match "
                         f"F's {F.shape[0]} rows.")
    report = rank_report(F, band=band, name="F")
    if report.full_row_rank and F.shape[1] >= F.shape[0]:
        Q, R = _sla.qr(F.T, mode="economic")
        lam = Q @ _sla.solve_triangular(R, y, trans="T", lower=False)
    else:
        lam = np.linalg.lstsq(F, y, rcond=None)[0]
    res = float(np.linalg.norm(F @ lam - y))
    ny = float(np.linalg.norm(y))
    return ExactFit(lam, res, res / ny if ny > 0 else res, report)


def with_output_layer(arch: Architecture, params, lam) -> dict:
    """``params`` with the output layer set to ``U_L = λ``, ``b_L = 0`` (Corollary 3.6's network)."""
    L = arch.L
    lam = np.asarray(lam, dtype=np.float64)
    lam = lam[:, None] if lam.ndim == 1 else lam
    info = arch.layer(L)
    if lam.shape != (info.l, info.T):
        raise ValueError(f"`lam` has shape {lam.shape}; the output layer expects (n_{L - 1}, m) = {(info.l, info.T)}.")
    return _set_layer(params, L, W=lam, b=np.zeros(info.T))


def parameter_counts(arch: Architecture, N: int) -> dict:
    """Corollary 3.6's parameter counts for ``N`` samples with ``arch``'s input and first layer.

    ``T_1 = ⌈N / P_0⌉`` filters make a one-hidden-layer CNN wide enough; the paper counts
    ``2N + T_1 l_0`` parameters (``T_1 l_0`` filter weights, ``N`` biases, ``N`` output
    weights) against ``(d + 2)N`` for a fully connected net with ``N`` hidden units.

    Example:
        >>> from theory_lab.arch import Architecture, Conv, Output
        >>> c = parameter_counts(Architecture((8, 8, 1), (Conv(6, (3, 3)), Output(1))), 200)
        >>> c["T_1"], c["cnn"], c["fully_connected"]
        (6, 454, 13200)
    """
    first = arch.layer(1)
    if not first.has_weights:
        raise ValueError("`arch`: layer 1 must be conv or fully connected to count parameters.")
    T1 = -(-int(N) // first.P)
    return {"N": int(N), "d": arch.d, "P_0": first.P, "l_0": first.l, "T_1": T1,
            "cnn": 2 * int(N) + T1 * first.l, "fully_connected": (arch.d + 2) * int(N),
            "ratio_fc_over_cnn": (arch.d + 2) * int(N) / (2 * int(N) + T1 * first.l)}


@dataclass(frozen=True)
class FrequencyReport:
    """How often random parameters give ``rank F_k < N``, with the causes seen.

    Attributes:
        draws: parameter draws made.
        full: draws with ``rank F_k = N``, conclusively.
        deficient: draws with ``rank F_k < N``, conclusively.
        inconclusive: draws whose rank decision sat inside the tolerance band.
        ci: 95 % Wilson interval of ``deficient / draws``.
        min_margin: smallest rank margin over the draws.
        min_rank: smallest rank seen.
        with_dead: draws with at least one dead unit in layers ``1 … k``.
        with_no_sign_change: draws with a unit whose pre-activation never changed sign.
        explained: deficient draws whose dead / affine units alone force ``rank < N``.
        setting: the law and architecture facts, for the report.
    """

    draws: int
    full: int
    deficient: int
    inconclusive: int
    ci: tuple
    min_margin: float
    min_rank: int
    with_dead: int
    with_no_sign_change: int
    explained: int
    setting: dict

    @property
    def frequency(self) -> float:
        return self.deficient / self.draws

    def to_dict(self) -> dict:
        return {**self.setting, "draws": self.draws, "full_rank": self.full, "deficient": self.deficient,
                "inconclusive": self.inconclusive, "frequency_deficient": self.frequency,
                "ci95": list(self.ci), "min_margin": self.min_margin, "min_rank": self.min_rank,
                "draws_with_dead_units": self.with_dead, "draws_with_no_sign_change": self.with_no_sign_change,
                "deficient_explained_by_dead_or_affine_units": self.explained}


def rank_frequency(arch: Architecture, X, k: int, *, draws: int, key=0, law: str = "lecun_normal",
                   bias_law: str = "normal", scale: float = 1.0, bias_scale: float = 0.1,
                   bias_mean: float = 0.0, band: float = DEFAULT_BAND) -> FrequencyReport:
    """Draw ``draws`` parameters (:func:`sample_params`) and count ``rank F_k < N``.

    A measurement, not a verdict: use it outside a theorem's hypotheses (ReLU, tanh,
    tied biases, data violating 3.1, pooling). Each draw is also run through
    :func:`diagnose_units`.

    Example:
        >>> import numpy as np
        >>> from theory_lab.arch import Architecture, Dense, Output
        >>> arch = Architecture((3,), (Dense(6, activation="relu"), Output(1)))
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> r = rank_frequency(arch, X, 1, draws=4, bias_mean=-30.0)
        >>> r.deficient, r.with_dead, r.explained
        (4, 4, 4)
    """
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"`draws`={draws!r} must be a positive int.")
    k = _check_k(arch, k, need_weights=False)
    rng = as_generator(key)
    N = int(np.shape(X)[0])
    full = deficient = inconclusive = dead = nsc = explained = 0
    margins, ranks = [], []
    for _ in range(draws):
        params = sample_params(arch, rng, law=law, bias_law=bias_law, scale=scale, bias_scale=bias_scale,
                               bias_mean=bias_mean)
        rep = feature_rank(arch, params, X, k, band=band)
        diag = diagnose_units(arch, params, X, k)
        margins.append(rep.margin)
        ranks.append(rep.rank)
        dead += any(row["dead"] for row in diag.layers)
        nsc += any(row["no_sign_change"] for row in diag.layers)
        if not rep.conclusive:
            inconclusive += 1
        elif rep.rank == N:
            full += 1
        else:
            deficient += 1
            explained += diag.explains_deficiency
    info = arch.layer(k)
    setting = {"activation": info.activation, "bias": getattr(info.spec, "bias", "neuron"), "N": N, "n_k": info.n,
               "n_k_over_N": info.n / N, "law": law, "bias_law": bias_law, "bias_scale": bias_scale,
               "bias_mean": bias_mean}
    return FrequencyReport(draws, full, deficient, inconclusive, wilson_interval(deficient, draws),
                           float(min(margins)), int(min(ranks)), dead, nsc, explained, setting)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial frequency (default 95 %).

    Example:
        >>> lo, hi = wilson_interval(0, 20)
        >>> lo, round(hi, 3)
        (0.0, 0.161)
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0; got successes={successes}, "
                         f"trials={trials}.")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
