"""Bring your own model to `theory-lab spectrum`: a model factory.

    theory-lab spectrum --model examples/own_model.py:factory --loss softmax-cross-entropy --batch-size 128

A factory takes no arguments and returns ``(model, params, data)``:

* ``model``: a Flax linen module (``params`` = its ``variables``; collections other than
  ``"params"``, e.g. ``batch_stats``, are held fixed), a Flax nnx module (``params`` = None;
  its ``nnx.Param`` are trained, other state held fixed), or a plain ``apply(params, X)``;
* ``params``: float64 parameters (Flax needs ``param_dtype=jnp.float64``);
* ``data``: ``(X, Y)`` arrays (``Y`` integer labels for cross-entropy, or float targets of
  the outputs' shape), or any iterable of ``(x, y)`` batches.

Optionally a fourth item: a per-sample loss ``loss(outputs, targets) -> (N,)``, used
instead of ``--loss``.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from theory_lab import data

F64 = dict(param_dtype=jnp.float64, dtype=jnp.float64)


class SmallCNN(nn.Module):
    """conv 3×3 (8) → tanh → dense 32 → tanh → dense 10 logits."""

    @nn.compact
    def __call__(self, x):
        h = jnp.tanh(nn.Conv(8, (3, 3), padding="VALID", **F64)(x))
        h = jnp.tanh(nn.Dense(32, **F64)(h.reshape(h.shape[0], -1)))
        return nn.Dense(10, **F64)(h)


def factory(n: int = 256):
    """A small linen CNN on the first ``n`` digits, with integer labels."""
    ds = data.digits(n)
    model = SmallCNN()
    variables = model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1), jnp.float64))
    return model, variables, (ds.X, ds.labels)
