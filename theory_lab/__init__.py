"""theory-lab: executable checks of Nguyen & Hein's theorems on deep CNNs.

Importing ``theory_lab`` turns on JAX's float64 mode: every rank, eigenvalue and
gradient the library reports is computed in float64.
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from theory_lab import activations, arch, linalg  # noqa: E402
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output, PatchLayer, PatchMaxPool  # noqa: E402
from theory_lab.linalg import rank_report  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Architecture", "Conv", "Dense", "MaxPool", "Output", "PatchLayer", "PatchMaxPool",
           "rank_report", "activations", "arch", "linalg", "__version__"]
