"""Named tolerances: one home for every threshold a verdict is decided against.

Each tolerance says what error it models, so that a check's *inconclusive* comes from
a band around a number's real uncertainty (THEORY.md §5), never from its conclusion.
A :class:`Tolerance` is a threshold plus a multiplicative ``band``: an observed value
strictly within a factor ``band`` of the threshold (on either side) cannot be told apart
from it and is *inconclusive*; a margin of exactly ``band`` decides.

Rules (documented per source of error):

* **SVD rounding** (:func:`svd_rank_tol`): a matrix stored in float64 has singular
  values perturbed by about ``σ_1 · max(m, n) · eps``; band :data:`SVD_BAND` = 10.
* **Solver forward error** (:func:`solver_rank_tol`): a matrix built from an iterative
  solver's output (parameters where ``‖∇Φ‖ ≤ gtol``) carries the solver's forward error
  into every entry; its rank is decided at ``σ_1 · FORWARD_RTOL`` (1e-8), band 10.
* **Zero loss** (:func:`zero_loss_tol`): ``Φ`` counts as zero when
  ``Φ ≤ ZERO_LOSS_RTOL · ½‖Y‖²`` (1e-20: squared residuals at ~1e-10 of the targets),
  band 100 (a factor 10 on the residual norm). :func:`zero_residual_tol` is the same rule on ``‖F_L − Y‖``
  (``≤ 1e-10 ‖Y‖``, band 10), for residuals whose square would leave float64's normal range.
* **Critical point** (:func:`critical_tol`): ``‖∇Φ‖ ≤ GTOL_RTOL · scale`` where
  ``scale = ‖J‖₂ · ‖Y‖`` bounds ``‖Jᵀ r‖`` (1e-10 relative), band 10.
* **Floating-point identities** (:data:`IDENTITY_RTOL`): two float64 computations of
  the same quantity (autodiff vs a recursion, HVP vs a dense Hessian column) agree to
  a few hundred eps relative; threshold 1e-10, band 100.
* **Bound slack** (:data:`BOUND_RTOL`): an inequality ``a ≤ b`` between float64
  products of norms holds up to relative rounding ~1e-12; the ratio ``a / b`` is
  compared with 1 at band ``1 + BOUND_RTOL`` (1e-9).
* **Eigenvalue signs** (:func:`eigen_tol`): an eigenvalue of a dense symmetric float64
  matrix is exact to ``n · eps · ‖A‖₂``; band 10 (shared with the rank rule).
* **Exact-fit residual** (:func:`fit_residual_tol`): ``‖Fλ − y‖`` of a backward-stable
  solve (Householder QR of ``Fᵀ`` and a triangular solve, Corollary 3.6), evaluated again
  in float64 through the network, is of order ``γ · (‖F‖_F ‖λ‖ + ‖y‖)`` with
  ``γ = max(N, n) · eps``, the scale of the SVD rank rule (QR's worst-case constant
  ``N·n`` is pessimistic by orders of magnitude); band 10. On the default instances the
  residuals sit 10³–10⁴ below it, while ``λ`` off by a relative 1e-6 lands 10²–10³ above.
* **Distinct float64 vectors** (:func:`distinct_tol`): two length-``l`` float64 vectors
  with entries of size ``≤ scale`` that differ by less than ``sqrt(l) · eps · scale``
  could have been made equal (or unequal) by one rounding of their inputs; band 10.
  Assumption 3.1 is about exact equality of patches; this band says when a distance
  between patches of different samples is too small for float64 to tell.
* **Exact quantities** (widths, counts, parameter numbers) have no tolerance:
  :meth:`theory_lab.checking.Evidence.exact` compares integers, always conclusively.

Example:
    >>> from theory_lab import tolerances as T
    >>> t = T.zero_loss_tol([[1.0, 0.0], [0.0, 1.0]])
    >>> float(f"{t.value:.3g}"), t.band
    (1e-20, 100.0)
    >>> T.BOUND.value, T.BOUND.band > 1
    (1.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory_lab.validate import is_integer, is_real_scalar

__all__ = ["Tolerance", "EPS", "SVD_BAND", "FORWARD_RTOL", "ZERO_LOSS_RTOL", "GTOL_RTOL", "IDENTITY_RTOL",
           "BOUND_RTOL", "BOUND", "IDENTITY", "frobenius_norm", "svd_rank_tol", "solver_rank_tol", "zero_loss_tol",
           "zero_residual_tol", "critical_tol", "eigen_tol", "identity_tol", "fit_residual_tol", "distinct_tol"]

EPS = float(np.finfo(np.float64).eps)
SVD_BAND = 10.0
FORWARD_RTOL = 1e-8
ZERO_LOSS_RTOL = 1e-20
GTOL_RTOL = 1e-10
IDENTITY_RTOL = 1e-10
BOUND_RTOL = 1e-9


@dataclass(frozen=True)
class Tolerance:
    """A threshold, the band of values that cannot be told apart from it, and why.

    Attributes:
        value: the threshold (in the units of the compared quantity).
        band: factor ``≥ 1``; a value strictly inside ``(value / band, value · band)`` is inconclusive (at
            either end the margin equals ``band``, which decides: every verdict compares ``margin >= band``).
        name: short name shown in evidence (``"zero loss"``).
        models: the error source it models (``"SVD rounding"``, ``"solver forward error"``).
    """

    value: float
    band: float
    name: str
    models: str

    def __post_init__(self):
        if not (is_real_scalar(self.value) and np.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"Tolerance {self.name!r}: value={self.value!r} must be finite and non-negative.")
        if not (is_real_scalar(self.band) and np.isfinite(self.band) and self.band >= 1):
            raise ValueError(f"Tolerance {self.name!r}: band={self.band!r} must be a finite factor >= 1.")

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "band": self.band, "models": self.models}


BOUND = Tolerance(1.0, 1.0 + BOUND_RTOL, "bound ratio", "relative rounding of products of float64 norms")


def frobenius_norm(A, name: str = "A") -> float:
    """``‖A‖_F`` (any shape, float64) without under- or overflow: the entries are scaled by the largest ``|a_ij|``
    before squaring, so the result scales exactly with ``A`` over the whole float64 range.

    Squares of entries below ~1e-154 underflow (XLA flushes them to 0; numpy loses digits in subnormals) and
    beyond ~1e154 overflow: ``jnp.linalg.norm`` of a residual at ``2^-530`` is 0, this is not.

    Raises ``TypeError``/``ValueError`` naming ``name`` for non-numeric input, NaN/Inf, or a norm beyond float64.

    Example:
        >>> f"{frobenius_norm([[3e-200, 4e-200]]):.1e}", f"{frobenius_norm([[3e200, 4e200]]):.1e}"
        ('5.0e-200', '5.0e+200')
    """
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` is a {type(A).__name__}; expected an array of real numbers.") from None
    if not np.all(np.isfinite(A)):
        raise ValueError(f"`{name}` contains NaN or Inf; a tolerance is a finite number (and so is a norm). "
                         "Clean the data first.")
    # scaled by the largest entry: squares of entries beyond ~1e154 overflowed (a tolerance of inf, refused late)
    # and below ~1e-154 underflowed (a norm of 0 made `critical_tol` fall back to the scale 1)
    top = float(np.max(np.abs(A))) if A.size else 0.0
    if top == 0.0:
        return 0.0
    norm = top * float(np.linalg.norm(A / top))
    if not math.isfinite(norm):
        raise ValueError(f"`{name}` has norm beyond float64 (largest entry {top:.3g}); rescale it (e.g. the targets "
                         "and the output layer together) below ~1e300.")
    return norm


_norm = frobenius_norm


def _scale(value, name: str) -> float:
    """A finite non-negative number (a norm, a singular value, a relative tolerance), named when it is not."""
    try:  # numpy and 0-d jax scalars too; not a bool or a string
        number = math.nan if isinstance(value, (bool, np.bool_, str)) or np.ndim(value) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 <= number < math.inf:
        raise ValueError(f"`{name}`={value!r} must be a finite non-negative number (a norm or scale).")
    return number


def _size(value, name: str) -> int:
    if not is_integer(value) or value < 0:
        raise ValueError(f"`{name}`={value!r} must be a non-negative integer (a dimension).")
    return int(value)


def svd_rank_tol(shape, sigma_max: float) -> Tolerance:
    """``σ_1 · max(m, n) · eps`` for a matrix of ``shape`` stored in float64 (band 10)."""
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(f"`shape`={shape!r} must be the matrix's shape, a tuple (m, n).")
    size = max(_size(n, "shape") for n in shape)
    return Tolerance(_scale(sigma_max, "sigma_max") * size * EPS, SVD_BAND, "SVD rank", "SVD rounding")


def solver_rank_tol(sigma_max: float, forward_rtol: float = FORWARD_RTOL) -> Tolerance:
    """``σ_1 · forward_rtol`` for a matrix built from an iterative solver's output (band 10)."""
    return Tolerance(_scale(sigma_max, "sigma_max") * _scale(forward_rtol, "forward_rtol"), SVD_BAND, "solver rank",
                     "solver forward error")


def zero_loss_tol(Y) -> Tolerance:
    """``Φ`` is zero when ``Φ ≤ ZERO_LOSS_RTOL · ½‖Y‖_F²`` (band 100 on Φ, i.e. 10 on ‖r‖)."""
    return Tolerance(ZERO_LOSS_RTOL * 0.5 * _norm(Y, "Y") ** 2, 100.0, "zero loss",
                     "residuals at 1e-10 of the targets (solver and rounding)")


def zero_residual_tol(Y) -> Tolerance:
    """``‖F_L − Y‖_F`` is zero when ``≤ sqrt(ZERO_LOSS_RTOL) · ‖Y‖_F`` (band 10): :func:`zero_loss_tol` on the norm.

    ``½‖r‖² ≤ R · ½‖Y‖²  ⇔  ‖r‖ ≤ √R ‖Y‖`` and a factor 100 on ``Φ`` is a factor 10 on ``‖r‖``: the same decision,
    but nothing is squared, so it stays exact where ``Φ`` and its tolerance would be subnormal (``‖Y‖ ~ 2^-500``).
    """
    return Tolerance(math.sqrt(ZERO_LOSS_RTOL) * _norm(Y, "Y"), 10.0, "zero loss (on ‖F_L − Y‖)",
                     "residuals at 1e-10 of the targets (solver and rounding)")


def critical_tol(jacobian_norm: float, Y, outputs=None) -> Tolerance:
    """``‖∇Φ‖`` is zero when ``≤ GTOL_RTOL · ‖J‖₂ · s`` (``‖Jᵀr‖ ≤ ‖J‖‖r‖``; band 10).

    ``s`` is the scale of the residual ``r = F_L − Y``: ``max(‖Y‖, ‖F_L‖)`` when the network's
    ``outputs`` ``F_L`` are given (``‖r‖ ≤ 2s``, and both terms round at ``eps · s``), so the rule is the
    same at every scale of the targets: targets ``1e-12 · e_c`` and outputs ~1e-12 are not critical
    unless ``Jᵀr`` is small against ``‖J‖ · 1e-12``. (Both zero: ``r = 0`` and ``∇Φ = 0`` exactly; ``s = 1``.)
    Without ``outputs``, ``s = max(‖Y‖, 1)``: a floor that keeps the threshold positive for ``Y = 0``
    but calls any point critical whose outputs and targets are far below 1 -- pass ``outputs``.

    Example:
        >>> import numpy as np
        >>> f"{critical_tol(2.0, np.full((1, 1), 3.0)).value:.0e}"
        '6e-10'
        >>> f"{critical_tol(2.0, np.full((1, 1), 1e-12), outputs=np.full((1, 1), 2e-12)).value:.0e}"
        '4e-22'
    """
    scale = max(_norm(Y, "Y"), 1.0) if outputs is None else (max(_norm(Y, "Y"), _norm(outputs, "outputs")) or 1.0)
    return Tolerance(GTOL_RTOL * _scale(jacobian_norm, "jacobian_norm") * scale, SVD_BAND, "critical point",
                     "gradient rounding and solver stopping rule, relative to ‖J‖ max(‖Y‖, ‖F_L‖)"
                     if outputs is not None else "gradient rounding and solver stopping rule, relative to ‖J‖‖Y‖")


def eigen_tol(n: int, norm: float) -> Tolerance:
    """An eigenvalue of a dense symmetric ``n × n`` float64 matrix is zero within ``n · eps · ‖A‖₂``."""
    return Tolerance(_size(n, "n") * EPS * _scale(norm, "norm"), SVD_BAND, "eigenvalue sign",
                     "symmetric eigensolver rounding")


def identity_tol(scale: float = 1.0) -> Tolerance:
    """Two float64 routes to the same quantity agree to ``IDENTITY_RTOL · scale`` (band 100)."""
    return Tolerance(IDENTITY_RTOL * _scale(scale, "scale"), 100.0, "float64 identity",
                     "rounding of two computation routes")


IDENTITY = identity_tol(1.0)


def fit_residual_tol(shape, F_norm: float, lam_norm: float, y_norm: float = 0.0) -> Tolerance:
    """``γ (‖F‖_F ‖λ‖ + ‖y‖)``, ``γ = max(N, n)·eps``: the rounding left by a backward-stable solve (band 10).

    Args:
        shape: ``(N, n)`` of ``F``.
        F_norm: ``‖F‖_F``; lam_norm: ``‖λ‖_F``; y_norm: ``‖y‖_F``.

    Example:
        >>> t = fit_residual_tol((200, 216), 10.0, 3.0)
        >>> f"{t.value:.2e}", t.band
        ('1.44e-12', 10.0)
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"`shape`={shape!r} must be F's shape, a pair (N, n).")
    N, n = (_size(v, "shape") for v in shape)
    gamma = max(N, n) * EPS
    F_norm, lam_norm, y_norm = _scale(F_norm, "F_norm"), _scale(lam_norm, "lam_norm"), _scale(y_norm, "y_norm")
    return Tolerance(gamma * (F_norm * lam_norm + y_norm), SVD_BAND, "exact-fit residual",
                     "backward error of a QR solve and the product's rounding, at max(N, n)·eps")


def distinct_tol(scale: float, length: int) -> Tolerance:
    """``sqrt(length) · eps · scale``: the distance below which float64 rounding could merge two vectors (band 10)."""
    return Tolerance(float(np.sqrt(_size(length, "length"))) * EPS * _scale(scale, "scale"), SVD_BAND,
                     "distinct float64 vectors",
                     "one rounding of entries of size ≤ scale")
