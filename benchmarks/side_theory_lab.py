"""theory-lab's side of the curvature comparisons (served by ``benchmarks/protocol.py``).

The digits CNN of ``theory-lab spectrum --arch digits-cnn`` at a saved point (``theta``,
``X``, ``Y`` in an ``.npz``); every task returns plain numbers (blocked before the clock stops).
"""

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from theory_lab import derivatives as D  # noqa: E402
from theory_lab import spectrum as S  # noqa: E402
from theory_lab.presets import architecture  # noqa: E402

RTOL = 1e-10
STATE: dict = {}


def setup(path: str) -> dict:
    z = np.load(path)
    obj = D.objective(architecture("digits-cnn"))
    theta, X, Y = jnp.asarray(z["theta"]), jnp.asarray(z["X"]), jnp.asarray(z["Y"])
    STATE.update(obj=obj, theta=theta, X=X, Y=Y, op=D.HessianMatvec(obj))
    return {"P": obj.P, "loss": float(D.loss(obj, theta, X, Y)),
            "gradient_norm": float(jnp.linalg.norm(D.gradient(obj, theta, X, Y))),
            "jax": jax.__version__, "backend": jax.default_backend()}


def top5() -> dict:
    s = STATE
    r = S.lanczos(s["op"], s["obj"].P, jax.random.key(2), s["theta"], s["X"], s["Y"], k=5, which="top", rtol=RTOL)
    return {"values": r.values.tolist(), "products": r.num_matvecs, "depth": r.depth,
            "converged": bool(r.converged.all()), "max_residual": float(r.residuals.max())}


def gradient() -> None:
    s = STATE
    np.asarray(D.gradient(s["obj"], s["theta"], s["X"], s["Y"]))


def dense() -> dict:
    s = STATE
    H = np.asarray(D.hessian(s["obj"], s["theta"], s["X"], s["Y"]))
    s["H"] = H
    return {"trace": float(np.trace(H)), "frobenius": float(np.linalg.norm(H))}


def reference() -> dict:
    """Eigenvalues of the last dense Hessian (``numpy.linalg.eigvalsh``)."""
    lam = np.linalg.eigvalsh(STATE["H"])
    return {"top5": lam[::-1][:5].tolist(), "min": float(lam[0]), "max_abs": float(np.abs(lam).max())}
