"""A small ResNet-style Flax (linen) network in float64: residual blocks of 3×3 convolutions.

``stem`` (3×3 conv, ReLU) → one :class:`ResidualBlock` per entry of ``widths`` (the first
block of a wider stage has stride 2 and a 1×1 projection on the skip path) → global
average pooling → dense ``num_classes``. Optional batch normalisation after every
convolution of a block, in **inference mode** (running statistics, never updated by
``apply``): the network is then a fixed function of its trainable parameters, whose
Hessian is what the curvature probes measure. Padding is explicit (1 on each side of
a 3×3 convolution), so the same network written in another framework (PyTorch's
``padding=1``) computes the same numbers.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from theory_lab import resnet
    >>> net = resnet.ResNet(widths=(4, 8), num_classes=3)
    >>> variables = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    >>> net.apply(variables, jnp.ones((2, 8, 8, 1))).shape, resnet.num_params(variables["params"])
    ((2, 3), 1275)
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ResNet", "ResidualBlock", "BatchNorm", "num_params"]

F64 = dict(param_dtype=jnp.float64, dtype=jnp.float64)
PAD = ((1, 1), (1, 1))


def _conv(features: int, kernel: int, stride: int, use_bias: bool):
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=PAD if kernel == 3 else "VALID",
                   use_bias=use_bias, bias_init=nn.initializers.normal(0.1), **F64)


class BatchNorm(nn.Module):
    """Batch normalisation over all axes but the last, with float64 statistics (flax's keeps them in float32).

    ``(x − mean) / √(var + epsilon) · scale + bias``; ``mean``/``var`` (collection ``batch_stats``) are the
    running statistics, replaced by the batch's own when ``use_running_average`` is False (momentum 0).
    Variable names are flax's, so a parameter tree keeps its paths.
    """

    use_running_average: bool = True
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x):
        shape = (x.shape[-1],)
        mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(shape, jnp.float64))
        var = self.variable("batch_stats", "var", lambda: jnp.ones(shape, jnp.float64))
        scale = self.param("scale", nn.initializers.ones, shape, jnp.float64)
        bias = self.param("bias", nn.initializers.zeros, shape, jnp.float64)
        if not self.use_running_average:
            axes = tuple(range(x.ndim - 1))
            mu, sigma2 = jnp.mean(x, axis=axes), jnp.var(x, axis=axes)
            if not self.is_initializing():
                mean.value, var.value = mu, sigma2
        else:
            mu, sigma2 = mean.value, var.value
        return (x - mu) * jax.lax.rsqrt(sigma2 + self.epsilon) * scale + bias


class ResidualBlock(nn.Module):
    """``relu(x' + conv(relu(conv(x))))`` (with BN after each conv if ``batch_norm``); ``x'`` is
    ``x`` or its 1×1 projection when the width or the stride changes."""

    features: int
    stride: int = 1
    batch_norm: bool = False
    train: bool = False

    @nn.compact
    def __call__(self, x):
        def norm(h):
            if not self.batch_norm:
                return h
            return BatchNorm(use_running_average=not self.train)(h)

        h = nn.relu(norm(_conv(self.features, 3, self.stride, not self.batch_norm)(x)))
        h = norm(_conv(self.features, 3, 1, not self.batch_norm)(h))
        if x.shape[-1] != self.features or self.stride != 1:
            x = _conv(self.features, 1, self.stride, False)(x)
        return nn.relu(x + h)


class ResNet(nn.Module):
    """Stem, residual blocks of ``widths``, global average pooling, dense ``num_classes`` (logits).

    Attributes:
        widths: channels of each residual block; a block wider than its input strides by 2.
        num_classes: outputs ``m``.
        batch_norm: batch normalisation after every block convolution (inference mode unless ``train``).
        train: batch statistics from the batch (only to compute running statistics once).
    """

    widths: Sequence[int] = (32, 64, 64)
    num_classes: int = 10
    batch_norm: bool = False
    train: bool = False

    @nn.compact
    def __call__(self, x):
        widths = tuple(self.widths) if isinstance(self.widths, (tuple, list)) else ()
        if not widths or not all(_positive_int(w) for w in widths):
            raise ValueError(f"ResNet: `widths`={self.widths!r} must be a non-empty tuple of positive integers (the "
                             "channels of each residual block), e.g. (32, 64, 64).")
        if not _positive_int(self.num_classes):
            raise ValueError(f"ResNet: `num_classes`={self.num_classes!r} must be a positive integer, e.g. 10.")
        h = nn.relu(_conv(self.widths[0], 3, 1, True)(x))
        for features in self.widths:
            stride = 2 if features > h.shape[-1] else 1
            h = ResidualBlock(features, stride, self.batch_norm, self.train)(h)
        return nn.Dense(self.num_classes, **F64)(jnp.mean(h, axis=(1, 2)))


def _positive_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def num_params(params) -> int:
    """Number of scalars in a parameter pytree."""
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params)))
