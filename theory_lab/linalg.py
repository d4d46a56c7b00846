"""Rank decisions in float64 with their evidence (singular values, tolerance, margin).

Ranks are decided from singular values computed by SVD of the matrix itself: the
Gram matrix ``A Aᵀ`` squares the condition number and cannot resolve
``σ_min/σ_max`` below about ``1e-8``.

The *margin* of a decision is how far the singular values next to the tolerance
sit from it, as a factor: ``min(σ_r / tol, tol / σ_{r+1})`` (an absent side counts
as infinite). A margin below ``band`` (default 10) means rounding could move a
singular value across the tolerance; :attr:`RankReport.conclusive` is then False
and checks must say *inconclusive*.

Example:
    >>> import numpy as np
    >>> from theory_lab.linalg import rank_report
    >>> r = rank_report(np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 1.0]]))
    >>> r.rank, r.full_column_rank, r.conclusive
    (2, True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from theory_lab.validate import is_integer, is_real, is_real_scalar

__all__ = ["RankReport", "rank_report", "certify_rank_bound", "with_forward_error", "singular_values", "Inertia", "inertia_report", "DEFAULT_BAND"]

DEFAULT_BAND = 10.0


@dataclass(frozen=True)
class RankReport:
    """Evidence for a numerical rank decision.

    Attributes:
        shape: ``(rows, cols)`` of the matrix.
        singular_values: all singular values, descending, float64 ``(min(rows, cols),)``.
        tol: the threshold; singular values ``> tol`` count.
        rank: number of singular values above ``tol``.
        margin: ``min(σ_r / tol, tol / σ_{r+1})``; ``inf`` when no singular value is near.
        band: a decision is conclusive when ``margin >= band``.
        unresolved: non-empty when the caller knows the decision sits below what float64 can
            resolve (e.g. a saturated unit, see :func:`theory_lab.feature_maps.feature_rank`);
            the report is then not conclusive whatever its margin.
        rank_bound: an upper bound on the rank *in exact arithmetic*, proved by the matrix's
            construction rather than read off its singular values (e.g. two equal samples give two
            equal rows of ``F_k``); ``None`` when there is none. See :func:`certify_rank_bound`.
        certificate: what proves ``rank_bound`` (which rows coincide); ``""`` when there is none.
        forward_error: a bound on ``‖computed − exact‖₂`` for a matrix computed with an error the SVD
            tolerance does not model (cancellation in a forward pass); by Weyl's inequality a singular
            value certifies rank only above ``max(tol, forward_error)`` (:func:`with_forward_error`).
    """

    shape: tuple[int, int]
    singular_values: np.ndarray
    tol: float
    rank: int
    margin: float
    band: float
    unresolved: str = ""
    rank_bound: int | None = None
    certificate: str = ""
    forward_error: float = 0.0

    @property
    def floor(self) -> float:
        """``max(tol, forward_error)``: what a singular value must exceed to certify rank in exact arithmetic."""
        return max(self.tol, self.forward_error)

    @property
    def full_rank(self) -> bool:
        return self.rank == min(self.shape)

    @property
    def full_row_rank(self) -> bool:
        return self.rank == self.shape[0]

    @property
    def full_column_rank(self) -> bool:
        return self.rank == self.shape[1]

    @property
    def sigma_max(self) -> float:
        return float(self.singular_values[0]) if self.singular_values.size else 0.0

    @property
    def sigma_min(self) -> float:
        return float(self.singular_values[-1]) if self.singular_values.size else 0.0

    @property
    def ratio(self) -> float:
        """``σ_min / σ_max`` (0 for a zero matrix)."""
        return self.sigma_min / self.sigma_max if self.sigma_max > 0 else 0.0

    @property
    def conclusive(self) -> bool:
        """Margin at least ``band`` and no known float64 resolution limit (see ``unresolved``)."""
        return self.margin >= self.band and not self.unresolved

    @property
    def certified_deficient(self) -> bool:
        """True when ``rank_bound < min(shape)``: rank deficient in exact arithmetic, whatever the SVD shows."""
        return self.rank_bound is not None and self.rank_bound < min(self.shape)

    def at_least(self, n: int) -> tuple[bool, float]:
        """Decide ``rank ≥ n`` from ``σ_n`` alone: ``(met, margin)``, the margin ``σ_n / tol`` when met and
        ``tol / σ_n`` when not; conclusive when ``margin >= band``, whatever the other singular values do.

        ``(False, inf)`` when the shape or ``rank_bound`` rules ``n`` out; a report marked ``unresolved``
        (float64 cannot resolve it) gives margin at most 1 either way, as :attr:`conclusive` does.

        Example:
            >>> r = rank_report(np.diag([1.0, 1e-9, 3e-16, 1e-30]))  # tol ≈ 8.9e-16: rank 2, margin 3
            >>> r.conclusive, r.at_least(4)[0], r.at_least(4)[1] > r.band, r.at_least(2)[1] > r.band
            (False, False, True, True)
        """
        s = self.singular_values
        if n > s.size or (self.rank_bound is not None and self.rank_bound < n):
            return False, math.inf
        if n < 1:
            return True, math.inf
        sigma = float(s[n - 1])
        met = sigma > self.tol
        if met:
            margin = sigma / self.floor if self.floor > 0 else math.inf
        else:
            margin = self.tol / sigma if sigma > 0 else math.inf
        return met, min(margin, 1.0) if self.unresolved else margin

    def below(self, n: int) -> bool | None:
        """Decide ``rank < n`` in exact arithmetic: True, False, or ``None`` (inconclusive).

        True when the shape or a certificate bounds the rank below ``n`` (``min(rows, cols) < n``
        or ``rank_bound < n``: exact whatever the singular values), or when the numerical rank is
        conclusive (a clear gap at the tolerance, see :attr:`conclusive`) and below ``n``; False
        when it is conclusive and at least ``n``. Otherwise ``None``: a
        spectrum that decays smoothly through the tolerance, without a certificate, can be read
        as rank ``n`` or below in float64, so it is never a conclusive deficiency.

        Example:
            >>> import numpy as np
            >>> gap = rank_report(np.diag([1.0, 1e-3, 1e-20]))
            >>> gap.below(3), gap.below(2)
            (True, False)
            >>> smooth = rank_report(np.diag([1.0, 1e-14, 1e-15, 1e-16]))  # no gap at tol ≈ 8.9e-16
            >>> smooth.below(4) is None, certify_rank_bound(smooth, 3, "rows 0, 3 equal").below(4)
            (True, True)
        """
        if min(self.shape) < n or (self.rank_bound is not None and self.rank_bound < n):
            return True
        if not self.conclusive:
            return None
        return self.rank < n

    def rank_range(self) -> tuple[int, int]:
        """The ranks the evidence allows, ``(low, high)``: singular values strictly within a factor ``band``
        of ``tol`` may count either way (at a factor of exactly ``band`` the margin decides, as in
        :attr:`conclusive`); ``high`` is ``min(shape)`` when ``unresolved``, and never above ``rank_bound``."""
        s, tol, band = self.singular_values, self.tol, self.band
        lo = int(np.sum(s >= self.floor * band)) if self.floor > 0 else self.rank
        hi = int(np.sum(s > tol / band)) if tol > 0 else self.rank
        if self.unresolved:
            hi = max(hi, min(self.shape))
        if self.rank_bound is not None:
            lo, hi = min(lo, self.rank_bound), min(hi, self.rank_bound)
        return lo, hi

    def to_dict(self, max_values: int = 8) -> dict:
        s = self.singular_values
        return {
            "shape": list(self.shape), "rank": self.rank, "full_row_rank": self.full_row_rank,
            "full_column_rank": self.full_column_rank, "sigma_max": self.sigma_max,
            "sigma_min": self.sigma_min, "ratio": self.ratio, "tol": self.tol,
            "margin": self.margin, "band": self.band, "conclusive": self.conclusive,
            "unresolved": self.unresolved, "rank_bound": self.rank_bound, "certificate": self.certificate,
            "forward_error": self.forward_error,
            "smallest_singular_values": s[-max_values:][::-1].tolist(),
        }

    def __str__(self) -> str:
        bound = f", rank <= {self.rank_bound} certified" if self.rank_bound is not None else ""
        return (f"rank {self.rank} of {self.shape[0]}x{self.shape[1]} (σ_max {self.sigma_max:.3e}, "
                f"σ_min {self.sigma_min:.3e}, tol {self.tol:.3e}, margin {self.margin:.3g}{bound})")


def _as_float64(A, name: str) -> np.ndarray:
    dtype = getattr(A, "dtype", None)
    if dtype is not None and np.dtype(dtype) != np.float64:
        raise TypeError(
            f"`{name}` has dtype {np.dtype(dtype)}; rank decisions need float64 (float32 gets ranks "
            f"wrong in both directions). Build it in float64 (jax.config.update('jax_enable_x64', True)) "
            f"or pass np.asarray({name}, dtype=np.float64) if it was float64 data to begin with."
        )
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` is not a numeric matrix ({err}); pass a 2-D float64 array.") from None
    if A.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D matrix, got shape {A.shape}. Reshape it to (rows, cols).")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"`{name}` contains NaN or Inf ({int((~np.isfinite(A)).sum())} entries); "
                         "rank is undefined. Check the inputs that produced it.")
    return A


def singular_values(A, name: str = "A") -> np.ndarray:
    """All singular values of ``A`` (float64, descending) by LAPACK's divide-and-conquer SVD."""
    A = _as_float64(A, name)
    if A.size == 0:
        return np.zeros(0)
    # LAPACK's dgesdd rescales a matrix whose largest entry lies outside ~[1e-138, 1e138] by a factor that is no
    # power of two: 2^±500 · A then had singular values (and a margin 7% off) other than 2^±500 times A's. Scaled
    # here by a power of two (exact) to max |a| ∈ [1, 2), the result is exactly covariant with such scalings.
    top = float(np.max(np.abs(A)))
    e = int(np.frexp(top)[1]) - 1 if top > 0 else 0
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.ldexp(np.linalg.svd(np.ldexp(A, -e), compute_uv=False), e)
    if not np.all(np.isfinite(s)):  # σ_1 beyond float64: inf singular values gave an inf tolerance and rank 0
        raise ValueError(f"`{name}` ({np.shape(A)[0]}×{np.shape(A)[1]}, largest entry {float(np.abs(A).max()):.3e}) "
                         "has singular values beyond float64's range (σ_1 > 1.8e308); its rank is that of "
                         f"{name} scaled by a power of two (exact): pass numpy.ldexp({name}, -64).")
    return s


def rank_report(A, *, tol: float | None = None, rtol: float | None = None,
                band: float = DEFAULT_BAND, name: str = "A") -> RankReport:
    """Numerical rank of a float64 matrix with its evidence.

    Args:
        A: matrix ``(rows, cols)``, float64 (float32 is refused).
        tol: absolute threshold. Default ``σ_1 · max(rows, cols) · eps``.
        rtol: relative threshold (``tol = rtol · σ_1``); exclusive with ``tol``.
        band: a decision is conclusive when its margin is at least ``band``.
        name: the argument's name, used in error messages.

    Returns:
        :class:`RankReport`.
    """
    if tol is not None and rtol is not None:
        raise ValueError("give `tol` or `rtol`, not both.")
    if not is_real(band) or not (
            1 <= band < np.inf):
        raise ValueError(f"`band`={band!r} must be a finite factor >= 1 (a margin below it is inconclusive); "
                         f"the default is {DEFAULT_BAND:g}.")
    for arg, value in (("tol", tol), ("rtol", rtol)):
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        if value is not None and not (number and value >= 0 and np.isfinite(value)):
            raise ValueError(f"`{arg}`={value!r} must be a finite non-negative threshold; omit it for the "
                             "default σ_1 · max(rows, cols) · eps.")
    s = singular_values(A, name)
    rows, cols = np.shape(A)
    smax = float(s[0]) if s.size else 0.0
    if tol is None:
        tol = smax * (rtol if rtol is not None else max(rows, cols) * np.finfo(np.float64).eps)
    if smax == 0:  # zero matrix: every singular value is exactly 0
        return RankReport((rows, cols), s, float(tol), 0, np.inf, band)
    rank = int(np.sum(s > tol))
    # an explicit tol=0 counts every non-zero singular value; the margin then has no finite side
    above = s[rank - 1] / tol if rank > 0 and tol > 0 else np.inf
    below = tol / s[rank] if rank < s.size and s[rank] > 0 else np.inf
    return RankReport((rows, cols), s, float(tol), rank, float(min(above, below)), band)


def with_forward_error(report: RankReport, bound: float, why: str = "") -> RankReport:
    """``report`` for a matrix computed with error ``‖computed − exact‖₂ ≤ bound``: the counted singular values
    must clear ``max(tol, bound)``, so the margin on that side becomes ``σ_rank / max(tol, bound)``; ``why``
    (say where the error comes from; a generic reason when empty) goes to ``unresolved`` when that margin is
    below the band, so such a reading is never conclusive.

    Example:
        >>> r = with_forward_error(rank_report(np.diag([1.0, 1e-9])), 1e-9, "cancellation")
        >>> r.rank, r.conclusive, r.rank_range()
        (2, False, (1, 2))
    """
    if not (is_real(bound) and 0 <= bound < np.inf):
        raise ValueError(f"`bound`={bound!r} must be a finite non-negative error bound.")
    out = replace(report, forward_error=float(bound))
    if report.rank > 0 and out.floor > report.tol:
        above = float(report.singular_values[report.rank - 1]) / out.floor
        out = replace(out, margin=min(report.margin, above))
        if above < report.band and not report.unresolved:  # the reading is not certified: always say why
            out = replace(out, unresolved=why or (f"σ_{report.rank} = {report.singular_values[report.rank - 1]:.1e} "
                                                  f"does not clear the forward error {bound:.1e} by the band's "
                                                  f"factor {report.band:g}"))
    return out


def certify_rank_bound(report: RankReport, bound: int, certificate: str) -> RankReport:
    """``report`` with an exact upper bound on the rank, proved outside the SVD (e.g. equal rows).

    The singular values past ``bound`` are exact zeros: the rank becomes ``min(rank, bound)``
    and the margin is recomputed with ``σ_{bound+1} = 0`` (so a value just above the tolerance
    past the bound no longer makes the decision inconclusive). Values up to ``bound`` keep
    their band: which rank at most ``bound`` it is can still be inconclusive.

    Args:
        report: the SVD's evidence.
        bound: an integer ``>= 0``; ``rank ≤ bound`` in exact arithmetic.
        certificate: what proves it, for the report (e.g. ``"samples 0 and 23 are identical"``).

    Example:
        >>> import numpy as np
        >>> A = np.array([[1.0, 2.0], [1.0, 2.0 + 1e-15]])  # the second row rounds away from the first
        >>> r = certify_rank_bound(rank_report(A), 1, "rows 0 and 1 equal before rounding")
        >>> r.rank, r.conclusive, r.below(2)
        (1, True, True)
    """
    if not is_integer(bound) or bound < 0:
        raise ValueError(f"`bound`={bound!r} must be a non-negative int (an exact upper bound on the rank).")
    bound = int(bound)
    if report.rank_bound is not None and report.rank_bound <= bound:
        return report
    s, tol = report.singular_values, report.tol
    rank = min(report.rank, bound)
    if s.size == 0 or report.sigma_max == 0:
        margin = report.margin
    else:
        above = s[rank - 1] / tol if rank > 0 and tol > 0 else np.inf
        below = tol / s[rank] if rank < min(s.size, bound) and s[rank] > 0 else np.inf
        margin = float(min(above, below))
    return replace(report, rank=rank, margin=margin, rank_bound=bound, certificate=certificate)


def _band_margin(magnitudes: np.ndarray, tol: float) -> float:
    """``min(smallest value above tol / tol, tol / largest value at or below tol)`` (the rank rule)."""
    above, below = magnitudes[magnitudes > tol], magnitudes[magnitudes <= tol]
    up = float(above.min() / tol) if above.size and tol > 0 else math.inf
    down = float(tol / below.max()) if below.size and below.max() > 0 else math.inf
    return min(up, down)


@dataclass(frozen=True)
class Inertia:
    """Counts of eigenvalues ``< −tol``, in ``[−tol, tol]`` and ``> tol``, with the evidence.

    The one inertia type of the library. ``method="exact"``: counts from all eigenvalues
    of a dense symmetric matrix; ``margin`` is the rank rule applied to ``|λ|``
    (:func:`rank_report`): how far the eigenvalues next to ``±tol`` sit from it, as a
    factor, and the decision is conclusive when ``margin ≥ band``. ``method="slq"``:
    ``dim ×`` a quadrature's mass (float counts) with standard errors ``stderr`` and
    Chebyshev–Markov–Stieltjes ``bounds`` (``(low, high)`` per count). Those bounds hold for the
    probes' quadrature measure, whose weights ``|⟨v, u_i⟩|²/‖v‖²`` are random, not ``1/dim``: they
    bound the *estimate*, not the eigenvalue counts (``I₁₀ ⊗ [[0, 1], [1, 0]]`` with two Rademacher
    probes: bounds pinned on 9 negative / 11 positive, the truth 10 / 10). An SLQ inertia is
    therefore never conclusive; :attr:`pinned` says whether the bounds pin each estimated count
    to one integer.

    Attributes:
        negative, zero, positive: the counts.
        tol: the threshold for "zero".
        margin, band: the margin rule (see above).
        method: ``"exact"`` or ``"slq"``.
        min_eigenvalue, max_eigenvalue: the extreme eigenvalues (Ritz values for SLQ).
        smallest_abs: the six smallest ``|λ|`` (exact only).
    """

    negative: float
    zero: float
    positive: float
    tol: float
    margin: float = math.inf
    band: float = DEFAULT_BAND
    method: str = "exact"
    min_eigenvalue: float = math.nan
    max_eigenvalue: float = math.nan
    smallest_abs: tuple = ()
    stderr: tuple = (0.0, 0.0, 0.0)
    bounds: tuple | None = None
    eigenvalues: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def conclusive(self) -> bool:
        """Exact: ``margin >= band``. SLQ: never (a sampled estimate; see the class docstring)."""
        return self.method == "exact" and self.margin >= self.band

    @property
    def pinned(self) -> bool:
        """SLQ: the quadrature bounds pin each estimated count to one integer (a statement about the
        probes' measure, not the eigenvalues); exact: :attr:`conclusive`."""
        if self.method == "exact":
            return self.conclusive
        if self.bounds is None:
            return False
        return all(math.ceil(lo - 1e-9) == math.floor(hi + 1e-9) for lo, hi in self.bounds)

    @property
    def kind(self) -> str:
        """``"minimum"`` (all positive), ``"saddle"`` (negative and positive), ``"maximum"``
        (all negative) or ``"degenerate"`` (no negative, some zero: second order cannot decide)."""
        if self.negative > 0 and self.positive > 0:
            return "saddle"
        if self.negative > 0 and not self.zero:
            return "maximum"
        if self.zero or self.negative:
            return "degenerate"
        return "minimum"

    def summary(self) -> str:
        """One line: exact counts, or each estimate ± its standard error with its bounds."""
        names = ("negative", "zero", "positive")
        if self.method == "exact":
            counts = ", ".join(f"{int(getattr(self, n))} {n}" for n in names)
            return f"{counts} (tol {self.tol:.2g}, margin {self.margin:.3g})"
        parts = [f"{n} ≈ {getattr(self, n):.1f} ± {se:.1f} (quadrature bounds {lo:.1f}…{hi:.1f})"
                 for n, se, (lo, hi) in zip(names, self.stderr, self.bounds or ((math.nan,) * 2,) * 3)]
        # neither part bounds the counts: "zero ≈ 0.0 ± 0.0" was printed for 10 exact zeros (no node within tol)
        return "; ".join(parts) + (f" (SLQ estimate of {round(self.negative + self.zero + self.positive)} "
                                   f"eigenvalues, tol {self.tol:.2g}; errors are the spread over probes, quadrature "
                                   "limits hold for the probes' measure: neither limits the counts)")

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "kind": self.kind, "negative": self.negative, "zero": self.zero, "positive": self.positive,
                "tol": self.tol, "margin": self.margin, "band": self.band, "conclusive": self.conclusive,
                "pinned": self.pinned,
                "method": self.method, "min_eigenvalue": self.min_eigenvalue,
                "max_eigenvalue": self.max_eigenvalue, "smallest_abs": list(self.smallest_abs),
                "stderr": list(self.stderr), "bounds": None if self.bounds is None else [list(b) for b in self.bounds]}

    def __str__(self) -> str:
        return (f"inertia (−{self.negative:g}, 0:{self.zero:g}, +{self.positive:g}) at tol {self.tol:.2e}, "
                f"margin {self.margin:.3g} ({self.kind})")


def inertia_report(eigenvalues, *, tol: float | None = None, rtol: float | None = None,
                   band: float = DEFAULT_BAND, name: str = "eigenvalues") -> Inertia:
    """:class:`Inertia` from all eigenvalues of a symmetric float64 matrix.

    Args:
        eigenvalues: ``(n,)`` float64.
        tol: absolute threshold; default ``n · eps · max|λ|`` (eigensolver rounding).
        rtol: relative threshold (``tol = rtol · max|λ|``), e.g. at a solver's output point
            whose forward error exceeds rounding; exclusive with ``tol``.
        band: conclusive when the margin is at least ``band``.

    Example:
        >>> import numpy as np
        >>> r = inertia_report(np.array([-2.0, 1e-17, 3.0]))
        >>> (r.negative, r.zero, r.positive), r.kind, r.conclusive
        ((1, 1, 1), 'saddle', True)
    """
    if tol is not None and rtol is not None:
        raise ValueError("give `tol` or `rtol`, not both.")
    for arg, value in (("tol", tol), ("rtol", rtol)):
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        if value is not None and not (number and value >= 0 and np.isfinite(value)):
            raise ValueError(f"`{arg}`={value!r} must be a finite non-negative threshold; omit it for the "
                             "default n · eps · max|λ|.")
    if not (is_real_scalar(band) and np.isfinite(band) and band >= 1):
        raise ValueError(f"`band`={band!r} must be a finite factor >= 1 (default {DEFAULT_BAND}).")
    w = np.asarray(eigenvalues)
    if w.dtype != np.float64:
        raise TypeError(f"`{name}` has dtype {w.dtype}; inertia needs float64 eigenvalues.")
    if w.ndim != 1 or not np.all(np.isfinite(w)):
        raise ValueError(f"`{name}` must be a finite 1-D array, got shape {w.shape} with "
                         f"{int((~np.isfinite(w)).sum())} non-finite entries.")
    w = np.sort(w)
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    if tol is None:
        tol = scale * (rtol if rtol is not None else w.size * np.finfo(np.float64).eps)
    a = np.abs(w)
    neg, pos = int(np.sum(w < -tol)), int(np.sum(w > tol))
    return Inertia(neg, w.size - neg - pos, pos, float(tol), _band_margin(a, tol), float(band), "exact",
                   float(w[0]) if w.size else math.nan, float(w[-1]) if w.size else math.nan,
                   tuple(np.sort(a)[:6].tolist()), eigenvalues=w)
