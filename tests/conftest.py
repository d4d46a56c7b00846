"""One place that sets the numerics for every test.

float64 on, strict dtype promotion, warnings as errors (pyproject), derandomized
hypothesis profiles, and a seeded key fixture that prints its seed.
"""

import os
import types

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

_APPROX = pytest.approx


def _approx_without_a_silent_floor(expected, rel=None, abs=None, nan_ok=False):
    """``pytest.approx`` that refuses the silent floor: without ``abs=``, pytest accepts any error up to 1e-12,
    so a comparison of numbers of size ≤ 1e-10 (tolerances, residuals, subnormals) passed whatever the value
    (session 32 found four such vacuous tests). Give ``abs=`` (0, or a bound that models the real error)."""
    if abs is None:
        try:
            a = np.abs(np.asarray(expected, dtype=np.float64))
            small = a[np.isfinite(a) & (a > 0) & (a <= 1e-10)]
        except (TypeError, ValueError):
            small = ()
        if len(small):
            raise AssertionError(f"pytest.approx({expected!r}) without abs=: its default abs=1e-12 accepts any "
                                 f"value near {float(min(small)):.3g}; pass abs=0 or a bound on the real error.")
    return _APPROX(expected, rel=rel, abs=abs, nan_ok=nan_ok)


pytest.approx = _approx_without_a_silent_floor

_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
# tools/seed_sweep.sh: random draws from an explicit --hypothesis-seed, nothing kept between runs
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


class Seed0Records(dict):
    """Each registered check's :class:`~theory_lab.checking.Record` at seed 0, all run in one context as
    ``verify --seed 0`` runs them; a check runs the first time its id is looked up, once per session."""

    def __init__(self):
        super().__init__()
        from theory_lab.checking import Context, discover

        self.checks = {c.id: c for c in discover()}
        self.context = Context(seed=0)

    def __missing__(self, check_id):
        from theory_lab.checking import run_check

        self[check_id] = record = run_check(self.checks[check_id], self.context)
        return record


@pytest.fixture(scope="session")
def seed0_records():
    """The shared seed-0 run of the checks (:class:`Seed0Records`): a file that looks its checks up here pays for
    them once per session with every other file that does (tests/test_observations_s32.py runs all of them)."""
    return Seed0Records()


def _import_every_library_module():
    """Import every module of ``theory_lab`` and ``proofs_checks`` before any test runs.

    Hypothesis mixes the literal constants of every local module in ``sys.modules`` into its
    draws, so the derandomized draws of a property test depend on which modules happen to be
    loaded when it runs. With all of them loaded first, they depend on the test alone: not on
    the order, not on ``-k``, not on how ``pytest-xdist`` shares the files between workers.
    """
    import importlib
    import pkgutil

    import proofs_checks

    for package in (theory_lab, proofs_checks):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)


_import_every_library_module()


def _draws_from_hypothesis(item) -> bool:
    """The item's file imports from hypothesis (as ``tools/seed_sweep.sh`` selects them), or it is
    a docstring example that runs ``@given``."""
    module = getattr(item, "module", None)
    if module is not None and any(getattr(value, "__module__", "").startswith("hypothesis")
                                  for value in vars(module).values()):
        return True
    dtest = getattr(item, "dtest", None)  # a docstring example that runs @given
    return dtest is not None and any("given(" in ex.source for ex in dtest.examples)


_DRAWING_MODULES = ("hypothesis", "theory_lab.strategies", "theory_lab.data_strategies")


def _refers_to_hypothesis(fn, module, seen) -> bool:
    """Whether ``fn``'s code (inner functions included) names anything from hypothesis or the strategy
    modules, directly or through a function of its own test module (``_run`` applying ``@given``)."""
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for name in names:
        value = vars(module).get(name)
        origin = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) else \
            getattr(value, "__module__", None) or ""
        if origin.startswith(_DRAWING_MODULES):
            return True
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__ and \
                _refers_to_hypothesis(value, module, seen):
            return True
    return False


def _explores(item) -> bool:
    """Whether a random ``--hypothesis-seed`` can change what ``item`` runs: a ``@given`` test, a test or
    fixture of its module that names hypothesis or the strategy modules (through its own module's helpers
    too), or a docstring example. Anything else runs identically in the derandomized pass."""
    fn, module = getattr(item, "obj", None), getattr(item, "module", None)
    if module is None or fn is None:
        return True  # docstring examples and anything unusual: kept
    if getattr(fn, "is_hypothesis_test", False):
        return True
    funcs = [fn] + [d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs
                    if getattr(d.func, "__module__", None) == module.__name__]
    return any(_refers_to_hypothesis(f, module, set()) for f in funcs)


def pytest_collection_modifyitems(session, config, items):
    """Files with property tests first (stable otherwise), so that no lazily imported local module
    (a notebook, a user's model file written by a test) is loaded before any property test runs.

    Under ``HYPOTHESIS_PROFILE=explore`` (``tools/seed_sweep.sh``'s passes over the property-test files at
    random seeds, after the derandomized suite ran everything) only the tests a new seed can change are run;
    the others would repeat the derandomized run exactly. They are reported as deselected."""
    first = {item.path for item in items if _draws_from_hypothesis(item)}
    items.sort(key=lambda item: item.path not in first)
    if os.environ.get("HYPOTHESIS_PROFILE") == "explore":
        same = [item for item in items if not _explores(item)]
        if same:
            config.hook.pytest_deselected(items=same)
            items[:] = [item for item in items if _explores(item)]


def _least_squares_fit():
    """``3 → 6 → 5 → 2`` sigmoid net, ``N = 4``: ``X (4, 3)``, ``Y (4, 2)`` from ``default_rng(0)``, parameters from
    ``default_rng(1)``, output layer ``[U_3; b_3]`` fitted to ``Y`` by least squares on ``[F_2, 1]`` (``n_2 = 5 ≥ N``:
    the residual is at rounding level).

    Returns a namespace with ``arch``, ``X``, ``Y``, ``params`` (the draw), ``F`` (``F_2 (4, 5)`` at the draw),
    ``fitted`` (the draw with the fitted output layer) and ``rng`` (``default_rng(0)`` after drawing ``X`` and ``Y``,
    for callers that draw more from the same stream).
    """
    import types

    import jax.numpy as jnp

    from theory_lab import model
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(6), Dense(5), Output(2)))
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    params = sample_params(arch, np.random.default_rng(1))
    F = np.asarray(model.features(arch, params, X)[2])
    lam = np.linalg.lstsq(np.concatenate([F, np.ones((4, 1))], axis=1), Y, rcond=None)[0]
    fitted = dict(params, layer_3={"W": jnp.asarray(lam[:-1]), "b": jnp.asarray(lam[-1])})
    return types.SimpleNamespace(arch=arch, X=X, Y=Y, params=params, F=F, fitted=fitted, rng=rng)


@pytest.fixture
def least_squares_fit():
    """The factory :func:`_least_squares_fit` (each call draws afresh): the set-up shared by test_norms_s32.py and
    test_adversarial_s29_section4.py (session 33 factored their copies)."""
    return _least_squares_fit


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures saved while the test runs (``Figure.savefig`` wrapped, the PNG still made), to read
    back what a figure shows from its artists."""
    import matplotlib.figure

    figures = []
    real = matplotlib.figure.Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return figures
