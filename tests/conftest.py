"""One place that sets the numerics for every test.

float64 on, strict dtype promotion, warnings as errors (pyproject), derandomized
hypothesis profiles, and a seeded key fixture that prints its seed.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small SVDs on a busy 2-core machine
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["THEORY_LAB_COMPILE_CACHE"] = "off"  # tests never write into the user's compile cache

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

import theory_lab  # noqa: E402,F401  (x64 on at import too)

_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
# CI's second step: random draws from an explicit --hypothesis-seed, nothing kept between runs
settings.register_profile("explore", database=None, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SEED = int(os.environ.get("THEORY_LAB_TEST_SEED", "0"))


@pytest.fixture
def key(request):
    """A ``jax.random`` key from ``THEORY_LAB_TEST_SEED`` (default 0), folded with the test name."""
    import zlib

    salt = zlib.crc32(request.node.nodeid.encode()) & 0x7FFFFFFF
    print(f"key fixture: seed={SEED}, salt={salt}")
    return jax.random.fold_in(jax.random.key(SEED), salt)


@pytest.fixture
def rng(request):
    import zlib

    return np.random.default_rng([SEED, zlib.crc32(request.node.nodeid.encode()) & 0x7FFFFFFF])
