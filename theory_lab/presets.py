"""Named small networks: one home for every network the checks, commands, demos and benchmarks use.

Chain networks in the paper's form (:class:`~theory_lab.arch.Architecture`), by name
(:data:`ARCHITECTURES`, :func:`architecture`) or by builder with their knobs
(:func:`verify_digits`, :func:`verify_mnist1d`, :func:`curvature_small`), and real-network
*model factories* (:data:`MODELS`): functions returning ``(network, variables, (X, Y))``,
the form ``theory-lab spectrum --model PKG.MODULE:FACTORY`` expects
(:func:`digits_resnet`, :func:`digits_resnet_bn`).

Example:
    >>> from theory_lab import presets
    >>> presets.architecture("digits-small").num_params, presets.verify_digits() == presets.architecture("digits-wide")
    (362, True)
"""

from __future__ import annotations

from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output

__all__ = ["ARCHITECTURES", "MODELS", "architecture", "verify_digits", "verify_mnist1d", "curvature_small",
           "digits_resnet", "digits_resnet_bn", "model"]


def verify_digits(filters: int = 8, *, activation: str = "sigmoid", bias: str = "neuron") -> Architecture:
    """The ``verify`` digits network: 8×8×1 → conv 3×3 (``filters``) → dense 32 → linear 10.

    Wide at layer 1 (``n_1 = 36 · filters``); ``P = 9,938`` with the defaults.
    """
    return Architecture((8, 8, 1), (Conv(filters, (3, 3), activation=activation, bias=bias),
                                    Dense(32, activation=activation), Output(10)))


def verify_mnist1d(filters: int = 8, *, activation: str = "sigmoid") -> Architecture:
    """The ``verify`` MNIST-1D network: 40×1 → conv 5 (``filters``) → dense 32 → linear 10."""
    return Architecture((40, 1), (Conv(filters, (5,), activation=activation), Dense(32, activation=activation),
                                  Output(10)))


def curvature_small(n: int = 12) -> Architecture:
    """Conv 3×3 (1 filter, tied bias) → dense ``n`` → linear 10 (``P = 584`` for ``n = 12``).

    Wide at ``k = 1`` (``n_1 = 36 ≥ N``) and, for ``N = n`` samples, at the last hidden layer
    (Corollary 3.6's exact fit): the curvature checks' network, small enough for dense Hessians.
    """
    return Architecture((8, 8, 1), (Conv(1, (3, 3), bias="filter"), Dense(n), Output(10)))


def _architectures() -> dict:
    return {
        # the spectrum benchmark network: P = 5,130
        "digits-cnn": Architecture((8, 8, 1), (Conv(16, (3, 3), bias="filter"), MaxPool((2, 2)), Dense(32),
                                               Output(10))),
        # a quick one: P = 362
        "digits-small": Architecture((8, 8, 1), (Conv(2, (3, 3), bias="filter"), Dense(4), Output(10))),
        # the verify instance's network (per-neuron conv bias, wide at layer 1): P = 9,938
        "digits-wide": verify_digits(),
        # MNIST-1D: P = 9,626
        "mnist1d-cnn": Architecture((40, 1), (Conv(8, (5,), bias="filter"), Dense(32), Output(10))),
        # the curvature checks' network: P = 584
        "digits-curvature": curvature_small(),
    }


ARCHITECTURES = ("digits-cnn", "digits-small", "digits-wide", "mnist1d-cnn", "digits-curvature")


def architecture(name: str) -> Architecture:
    """The :class:`~theory_lab.arch.Architecture` of a named preset (one of :data:`ARCHITECTURES`)."""
    table = _architectures()
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"`--arch`={name!r} is not a preset; choose one of {', '.join(ARCHITECTURES)}.")
    return table[name]


# ----------------------------------------------------------------------------- real networks


def digits_resnet(n: int = 1797, *, widths: tuple = (32, 64, 64), batch_norm: bool = False, seed: int = 0):
    """A ResNet-style network (:class:`theory_lab.resnet.ResNet`) on scikit-learn's digits, float64.

    ``P = 150,794`` with the default widths. With ``batch_norm`` the running statistics
    are those of the ``n`` samples (one pass in training mode, momentum 0) and the
    network is then used in inference mode. Biases are ``N(0, 0.1²)`` so no ReLU sits
    exactly on its kink at the blank pixels.

    Args:
        n: samples, the first ``n`` of the 1,797 digits.
        widths: channels of the residual blocks.
        batch_norm: batch normalisation (inference mode).
        seed: the parameters' ``jax.random`` seed.

    Returns:
        ``(network, variables, (X (n, 8, 8, 1), labels (n,) int))``: a model factory's output.
    """
    import jax
    import jax.numpy as jnp

    from theory_lab import data, resnet

    ds = data.digits(n)
    net = resnet.ResNet(widths=tuple(widths), batch_norm=batch_norm)
    variables = net.init(jax.random.key(seed), jnp.zeros((1, 8, 8, 1), jnp.float64))
    if batch_norm:  # the running statistics of one training pass over the data
        _, stats = net.clone(train=True).apply(variables, jnp.asarray(ds.X), mutable=["batch_stats"])
        variables = {"params": variables["params"], "batch_stats": stats["batch_stats"]}
    return net, variables, (ds.X, ds.labels.astype(int))


def digits_resnet_bn(n: int = 1797, *, widths: tuple = (32, 64, 64), seed: int = 0):
    """:func:`digits_resnet` with batch normalisation (inference mode)."""
    return digits_resnet(n, widths=widths, batch_norm=True, seed=seed)


MODELS = {"digits-resnet": digits_resnet, "digits-resnet-bn": digits_resnet_bn}


def model(name: str, **kwargs):
    """The output of the named model factory (one of :data:`MODELS`)."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"`--model`={name!r} is not a preset model; choose one of {', '.join(MODELS)} or give "
                         "PKG.MODULE:FACTORY.")
    return MODELS[name](**kwargs)
