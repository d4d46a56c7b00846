"""A scale-free stopping rule for critical-point searches (:func:`relative_gradient`).

``find_critical_point``'s ``gtol`` is absolute: ``‖∇Φ‖ ≤ gtol``. Under an exact rescaling of a network and its
targets the gradient scales and that rule does not: with the output layer ``(U_L, b_L)`` and ``Y`` times ``s``,
``F_L`` and ``r = F_L − Y`` are exactly ``s`` times theirs, ``∇_{U_L} Φ = F_{L-1}ᵀ r`` scales by ``s`` and every
hidden block ``∇_l Φ`` by ``s²`` (``r`` and ``U_L`` both enter), so a random start at ``s = 2^-250`` has
``‖∇Φ‖ ~ 1e-75 ≤ 1e-10``: "converged" without a step.

The library's criticality tolerance (:func:`theory_lab.tolerances.critical_tol`) is relative: ``‖∇Φ‖ ≤
1e-10 ‖J‖₂ max(‖Y‖, ‖F_L‖)``, from ``∇Φ = Jᵀ r`` and ``‖Jᵀ r‖ ≤ ‖J‖₂ ‖r‖``. Taken per layer block, the same bound
``‖∇_l Φ‖ = ‖J_lᵀ r‖ ≤ ‖J_l‖₂ ‖r‖`` is exactly invariant: ``J_{U_L}`` is unchanged and ``J_l`` scales by ``s`` for a
hidden ``l``, so ``‖∇_l Φ‖ / (‖J_l‖₂ · max(‖Y‖, ‖F_L‖))`` is the same number at every ``s`` (for ReLU also under the
layer-wise rescaling ``W_l → aW_l, W_{l+1} → W_{l+1}/a``, where ``∇_l`` and ``J_l`` both scale by ``1/a``). Each block
below ``rtol`` means ``‖∇Φ‖ ≤ rtol · sqrt(B) · ‖J‖₂ max(‖Y‖, ‖F_L‖)`` for ``B`` blocks (``‖J_l‖₂ ≤ ‖J‖₂``): the
global rule at ``rtol·sqrt(B)``. It costs one dense Jacobian and one SVD per block, so a search uses it only on
request (``gtol_rtol``).

Example:
    >>> import numpy as np
    >>> from theory_lab import derivatives as D
    >>> from theory_lab.arch import Architecture, Dense, Output
    >>> obj = D.objective(Architecture((3,), (Dense(4), Output(2))))
    >>> theta, X = np.linspace(-1, 1, obj.P), np.linspace(0, 1, 15).reshape(5, 3)
    >>> Y = np.ones((5, 2))
    >>> s = 2.0 ** -250; out = obj.layout.block(2); theta_s = theta.copy(); theta_s[out] *= s
    >>> relative_gradient(obj, theta_s, X, s * Y) == relative_gradient(obj, theta, X, Y)
    True
"""

from __future__ import annotations

import math

import numpy as np

from theory_lab import derivatives as D
from theory_lab import tolerances as T
from theory_lab.jacobians import check_objective

__all__ = ["block_ratios", "relative_gradient"]


def block_ratios(obj, theta, X, Y) -> dict:
    """``{k: ‖∇_k Φ‖ / (‖J_k‖₂ · max(‖Y‖, ‖F_L‖))}`` for every layer ``k`` with parameters (scaled norms).

    ``0`` where the gradient block is exactly 0 (``J_k = 0`` too, e.g. hidden layers behind ``U_L = 0``), ``inf``
    where it is not but the scale is 0. Shapes: ``theta (P,)``, ``X (N, ...)``, ``Y (N, m)``.
    """
    check_objective(obj)
    theta = obj.check_theta(theta)
    grad = np.asarray(D.gradient(obj, theta, X, Y), np.float64)
    J = np.asarray(D.jacobian(obj, theta, X), np.float64)
    outputs = np.asarray(D.outputs(obj, theta, X), np.float64)
    s = max(T.frobenius_norm(Y, "Y"), T.frobenius_norm(outputs, "F_L"))
    out = {}
    for k, block in obj.layout.blocks():
        g = T.frobenius_norm(grad[block], "∇Φ")
        top = float(np.max(np.abs(J[:, block]))) if J[:, block].size else 0.0
        scale = top * float(np.linalg.norm(J[:, block] / top, 2)) * s if top > 0 else 0.0
        out[k] = 0.0 if g == 0 else (g / scale if scale > 0 else math.inf)
    return out


def relative_gradient(obj, theta, X, Y) -> float:
    """``max_k`` of :func:`block_ratios`: the point is critical to ``rtol`` when this is ``≤ rtol``."""
    return max(block_ratios(obj, theta, X, Y).values())
