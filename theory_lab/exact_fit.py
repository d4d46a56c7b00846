"""Corollary 3.6: a wide layer fits any ``N`` targets exactly, and what that costs.

* :func:`exact_fit` — ``λ = F_{L−1}ᵀ(F_{L−1}F_{L−1}ᵀ)^{−1} y``, computed from a QR
  factorisation of ``F_{L−1}ᵀ`` (never the Gram inverse); :func:`with_output_layer`
  installs ``λ`` as the output layer.
* :func:`parameter_counts` — ``2N + T_1 l_0`` (one-hidden-layer CNN) vs ``(d+2)N`` (FC).

Example:
    >>> import numpy as np
    >>> from theory_lab.exact_fit import exact_fit
    >>> F = np.triu(np.ones((3, 5)))  # full row rank
    >>> fit = exact_fit(F, np.array([1.0, 2.0, 3.0]))
    >>> bool(np.allclose(F @ fit.lam, [1.0, 2.0, 3.0])), fit.report.rank
    (True, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg as _sla

from theory_lab.arch import Architecture
from theory_lab.linalg import DEFAULT_BAND, RankReport, rank_report
from theory_lab.sampling import with_layer
from theory_lab.validate import is_integer

__all__ = ["ExactFit", "exact_fit", "with_output_layer", "parameter_counts"]


def _check_arch(arch) -> None:
    if not isinstance(arch, Architecture):  # None gave "'NoneType' object has no attribute 'L'"
        raise TypeError(f"`arch`={arch!r:.60} is a {type(arch).__name__}; expected a theory_lab.arch.Architecture.")


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


def _real_targets(a, name: str) -> np.ndarray:
    """``a`` as a float64 array; a complex one is refused (the cast would drop its imaginary part)."""
    a = np.asarray(a)
    if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"`{name}` has dtype {a.dtype}; expected real numbers. Pass a real float64 array "
                        f"(e.g. {name}.real if the imaginary part is zero).")
    return a.astype(np.float64)


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
    if not F.size:  # (0, n) reported an "exact" fit with residual 0; (N, 0) fitted nothing
        raise ValueError(f"`F` has shape {F.shape}; expected at least one sample and one feature (N, n >= 1), "
                         "the features F_{L-1} of the N samples.")
    y = _real_targets(y, "y")
    if y.shape[:1] != F.shape[:1] or y.ndim not in (1, 2):
        raise ValueError(f"`y` has shape {y.shape}; expected ({F.shape[0]},) or ({F.shape[0]}, m) to match "
                         f"F's {F.shape[0]} rows.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"`y` contains NaN or Inf ({int(np.sum(~np.isfinite(y)))} entries); no finite λ fits "
                         "them. Clean the targets first.")
    report = rank_report(F, band=band, name="F")
    if report.full_row_rank and F.shape[1] >= F.shape[0]:
        Q, R = _sla.qr(F.T, mode="economic")
        lam = Q @ _sla.solve_triangular(R, y, trans="T", lower=False)
    else:
        lam = np.linalg.lstsq(F, y, rcond=None)[0]
    # BLAS nrm2 scales as it sums: numpy's norm squares, so ‖y‖ ~ 1e-200 gave residual 0 ("exact") and
    # ‖y‖ ~ 1e200 gave inf / nan
    res = float(_sla.norm(np.ravel(F @ lam - y)))
    ny = float(_sla.norm(np.ravel(y)))
    return ExactFit(lam, res, res / ny if ny > 0 else res, report)


def with_output_layer(arch: Architecture, params, lam) -> dict:
    """``params`` with the output layer set to ``U_L = λ``, ``b_L = 0`` (Corollary 3.6's network)."""
    _check_arch(arch)
    L = arch.L
    lam = _real_targets(lam, "lam")
    lam = lam[:, None] if lam.ndim == 1 else lam
    info = arch.layer(L)
    if lam.shape != (info.l, info.T):
        raise ValueError(f"`lam` has shape {lam.shape}; the output layer expects (n_{L - 1}, m) = {(info.l, info.T)}.")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"`lam` contains NaN or Inf ({int(np.sum(~np.isfinite(lam)))} entries); expected the "
                         "finite λ of exact_fit(F, y).lam.")
    return with_layer(params, L, W=lam, b=np.zeros(info.T))


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
    _check_arch(arch)
    if not is_integer(N) or N < 1:
        raise ValueError(f"`N`={N!r} is not a number of samples; expected an integer >= 1.")
    first = arch.layer(1)
    if not first.has_weights:
        raise ValueError("`arch`: layer 1 must be conv or fully connected to count parameters.")
    T1 = -(-int(N) // first.P)
    return {"N": int(N), "d": arch.d, "P_0": first.P, "l_0": first.l, "T_1": T1,
            "cnn": 2 * int(N) + T1 * first.l, "fully_connected": (arch.d + 2) * int(N),
            "ratio_fc_over_cnn": (arch.d + 2) * int(N) / (2 * int(N) + T1 * first.l)}
