"""Data-parallel layout: the sample axis split over devices.

Everything that sums over samples (features, Gram matrices, loss, gradients,
Hessian-vector products) is a jitted function of ``(params, X)``, so placing ``X``
with :func:`shard_samples` is all it takes: XLA partitions the computation and
inserts the reductions. On one device this is a no-op.

Example:
    >>> import numpy as np
    >>> from theory_lab.sharding import sample_mesh, shard_samples
    >>> X = shard_samples(np.zeros((8, 3)))
    >>> X.shape, X.sharding.mesh.axis_names
    ((8, 3), ('samples',))
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["sample_mesh", "shard_samples", "replicate"]

AXIS = "samples"


def sample_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"samples"`` over ``devices`` (default: all local devices)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("`devices` is empty; pass at least one jax device.")
    return Mesh(np.array(devices), (AXIS,))


def shard_samples(X, mesh: Mesh | None = None) -> jax.Array:
    """Place ``X (N, ...)`` with its first (sample) axis split over the mesh.

    ``N`` must be a multiple of the number of devices.
    """
    mesh = sample_mesh() if mesh is None else mesh
    n_dev = mesh.devices.size
    N = int(np.shape(X)[0])
    if N % n_dev:
        raise ValueError(
            f"`X` has N = {N} samples, not a multiple of the {n_dev} devices in the mesh. "
            f"Use N = {N - N % n_dev} or {N + n_dev - N % n_dev} samples, or a mesh over fewer devices."
        )
    spec = PartitionSpec(AXIS, *([None] * (np.ndim(X) - 1)))
    return jax.device_put(X, NamedSharding(mesh, spec))


def replicate(tree, mesh: Mesh | None = None):
    """Replicate a pytree (e.g. parameters) on every device of the mesh."""
    mesh = sample_mesh() if mesh is None else mesh
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
