"""Sharded and unsharded results agree (run on 4 forced host devices in a subprocess)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
from theory_lab.sharding import sample_mesh, shard_samples

SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    import theory_lab
    from theory_lab import model, data
    from theory_lab.arch import Architecture, Conv, Dense, Output
    from theory_lab.sharding import shard_samples, replicate
    assert len(jax.devices()) == 4, jax.devices()
    arch = Architecture((8, 8, 1), (Conv(4, (3, 3)), Dense(8), Output(10)))
    params = model.init(arch, jax.random.key(0))
    ds = data.digits(64, noise=1e-6)
    Xs = shard_samples(ds.X)
    assert len(Xs.sharding.device_set) == 4
    F = model.features(arch, params, ds.X)
    Fs = model.features(arch, replicate(params), Xs)
    err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(F, Fs))
    loss = lambda p, X, Y: 0.5 * jax.numpy.sum((model.apply(arch, p, X) - Y) ** 2)
    g = jax.grad(loss)(params, ds.X, ds.Y)
    gs = jax.grad(loss)(replicate(params), Xs, shard_samples(ds.Y))
    gerr = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(gs)))
    print(err, gerr)
    assert err <= 1e-12 and gerr <= 1e-11, (err, gerr)
    try:
        shard_samples(np.zeros((5, 2)))
    except ValueError as exc:
        assert "not a multiple of the 4 devices" in str(exc), exc
    else:
        raise AssertionError("5 samples on 4 devices were accepted")
""")


def test_sharded_equals_unsharded():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_single_device_is_noop():
    X = shard_samples(np.arange(6.0).reshape(3, 2), sample_mesh(sample_mesh().devices.ravel()[:1]))
    np.testing.assert_array_equal(np.asarray(X), np.arange(6.0).reshape(3, 2))
