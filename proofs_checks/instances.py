"""The embedded default instances ``theory-lab verify`` runs on (nothing downloaded).

Small sigmoid CNNs that are wide at layer 1 (``n_1 ≥ N``) on scikit-learn's digits
with 1e-6 noise (Assumption 3.1 restored) and on locally generated MNIST-1D. The
layer ``k`` a theorem looks at is computed from the widths (the first hidden layer
with ``n_k ≥ N``), never typed in; the hypotheses of each check are then tested on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from theory_lab import data as _data
from theory_lab import presets
from theory_lab.arch import Architecture
from theory_lab.checking import Context

__all__ = ["Instance", "digits_instance", "mnist1d_instance", "default_instances", "wide_layer_of", "N_DEFAULT"]

N_DEFAULT = 200


@dataclass(frozen=True)
class Instance:
    """A network, its data and the wide layer ``k`` the theorems look at."""

    name: str
    arch: Architecture
    data: _data.Dataset
    k: int

    @property
    def N(self) -> int:
        return self.data.N


def wide_layer_of(arch: Architecture, N: int) -> int:
    """The first hidden layer with ``n_k ≥ N``; the last hidden layer when none is wide (the checks'
    width hypothesis then fails on it, and they say *not applicable*)."""
    wide = arch.wide_layers(N)
    return wide[0] if wide else arch.L - 1


def digits_instance(ctx: Context, n: int = N_DEFAULT, *, noise: float = 1e-6, filters: int = 8,
                    activation: str = "sigmoid", bias: str = "neuron") -> Instance:
    """Digits CNN: 8x8x1 → conv 3x3 (``filters``) → dense 32 → linear 10; ``n_1 = 36·filters``."""
    def build():
        ds = _data.digits(n, noise=noise, seed=ctx.seed)
        arch = presets.verify_digits(filters, activation=activation, bias=bias)
        return Instance(f"digits-{n}{'-raw' if noise == 0 else ''}", arch, ds, wide_layer_of(arch, ds.N))
    return ctx.cached(("digits", n, noise, filters, activation, bias), build)


def mnist1d_instance(ctx: Context, n: int = N_DEFAULT, *, filters: int = 8, activation: str = "sigmoid") -> Instance:
    """MNIST-1D CNN: 40x1 → conv 5 (``filters``) → dense 32 → linear 10; ``n_1 = 36·filters``."""
    def build():
        ds = _data.mnist1d(n, seed=42)
        arch = presets.verify_mnist1d(filters, activation=activation)
        return Instance(f"mnist1d-{n}", arch, ds, wide_layer_of(arch, ds.N))
    return ctx.cached(("mnist1d", n, filters, activation), build)


def default_instances(ctx: Context) -> list[Instance]:
    return [digits_instance(ctx), mnist1d_instance(ctx)]
