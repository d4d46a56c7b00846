"""How many products block Lanczos needs for the top five at a recorded point (a simulation on the dense Hessian).

Block Lanczos with block size ``b`` (full reorthogonalisation twice, Rayleigh–Ritz on the whole basis) from
``b`` normal start vectors (numpy seeds 0, 1, 2), stopped by the same rule as ``spectrum.lanczos``: every
residual estimate ``‖R S_last‖`` of the top ``k = 5`` Ritz pairs at most ``1e-10 · max|θ|``. Prints, per ``b``
and seed, the products spent, the largest true residual over the tolerance, and the largest relative error
of the five values against ``numpy.linalg.eigh``. ``b = 1`` is ordinary Lanczos.

Run: ``python benchmarks/block_lanczos_sim.py critical`` (a point made by ``bench_spectrum.py``, cached in
``/tmp/theory-lab-bench-points``; the dense Hessian, P = 5,130, takes about a minute).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
from theory_lab import derivatives as D  # noqa: E402
from theory_lab.presets import architecture  # noqa: E402


def block_lanczos(H, top, b: int, seed: int, rtol: float = 1e-10, max_products: int = 200):
    """Products, true residual / tolerance and relative error of the top ``len(top)`` pairs."""
    P, k = H.shape[0], len(top)
    Q = [np.linalg.qr(np.random.default_rng(seed).standard_normal((P, b)))[0]]
    AQ, products = [], 0
    while products < max_products:
        W = H @ Q[-1]
        products += b
        AQ.append(W)
        basis, kept = np.hstack(Q), np.hstack(AQ)
        for _ in range(2):
            W = W - basis @ (basis.T @ W)
        Qn, R = np.linalg.qr(W)
        T = basis.T @ kept
        theta, S = np.linalg.eigh((T + T.T) / 2)
        idx = np.argsort(theta)[::-1][:k]
        tol = rtol * np.max(np.abs(theta))
        if basis.shape[1] >= k and np.all(np.linalg.norm(R @ S[-b:, idx], axis=0) <= tol):
            true = np.linalg.norm(kept @ S[:, idx] - basis @ S[:, idx] * theta[idx], axis=0)
            return products, float(true.max() / tol), float(np.max(np.abs(theta[idx] - top) / np.abs(top)))
        Q.append(Qn)
    return products, float("nan"), float("nan")


def main(name: str):
    z = np.load(f"/tmp/theory-lab-bench-points/{name}.npz")
    obj = D.objective(architecture("digits-cnn"))
    H = np.asarray(D.hessian(obj, jnp.asarray(z["theta"]), jnp.asarray(z["X"]), jnp.asarray(z["Y"])))
    H = (H + H.T) / 2
    top = np.linalg.eigvalsh(H)[::-1][:5]
    print(f"{name}: top five {top}")
    for b in (1, 2, 3, 4, 5, 6, 8, 10, 12):
        runs = [block_lanczos(H, top, b, seed) for seed in range(3)]
        print(f"b = {b:2d}: " + ", ".join(f"{p} products (residual/tol {r:.2g}, error {e:.1e})" for p, r, e in runs))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "critical")
