"""Session 35 (helper d): mutation pass over gradient_probes, factories, expressivity, sharding, compile_cache.

Each test checks documented behaviour against an independent reference: Lemma 4.3's bounds in
closed form from singular values of a hand-computed ``F_k`` and of ``U_L`` with the gradient from
``jax.grad`` of a hand-written float64 network (checked by a central finite difference); losses of a
model factory computed by hand with numpy; ``F_k`` built by hand for a dense and a 1-D conv layer;
sharded results against unsharded ones on three forced CPU devices; the compile cache's documented
folder rules in fresh processes. The ``s35d-*`` mutants in ``tools/plant_bugs.py`` name this file.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import compile_cache, derivatives as D, expressivity as ex, factories
from theory_lab import gradient_probes as GP
from theory_lab import loss_surface as LS
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.sampling import sample_params

# ----------------------------------------------------------------------------- gradient probes

# F_1 (6, 2): N > n_1, so F_1ᵀ has a null vector; U_L (4, 2) is injective
LEFT = (Architecture((3,), (Dense(2, "tanh"), Dense(4, "tanh"), Output(2))), 6)
# F_1 (4, 5) of full row rank; U_L (2, 3): n_{L-1} < m, so U_L has a null vector
RIGHT = (Architecture((3,), (Dense(5, "tanh"), Dense(2, "tanh"), Output(3))), 4)


def _np(params) -> dict:
    return {name: {k: np.asarray(v, np.float64) for k, v in layer.items()} for name, layer in params.items()}


def _forward(params, X, L, xp=np):
    """``F_0 … F_L`` of a dense tanh network with a linear output layer: ``F_l = tanh(F_{l-1} W_l + b_l)``."""
    F = [X]
    for l in range(1, L + 1):
        G = F[-1] @ params[f"layer_{l}"]["W"] + params[f"layer_{l}"]["b"]
        F.append(G if l == L else xp.tanh(G))
    return F


def _grad_W(params, X, Y, j, L):
    """``∇_{W_j} Φ``, ``Φ = ½‖F_L − Y‖²``, by ``jax.grad`` of :func:`_forward` (not the library's network)."""
    def phi(W):
        p = {**params, f"layer_{j}": {**params[f"layer_{j}"], "W": W}}
        R = _forward(p, jnp.asarray(X), L, jnp)[-1] - Y
        return 0.5 * jnp.sum(R * R)

    W = jnp.asarray(params[f"layer_{j}"]["W"])
    g = np.asarray(jax.grad(phi)(W))
    # the reference itself checked by a central difference along a fixed direction
    E = np.random.default_rng(0).standard_normal(W.shape)
    h = 1e-6
    fd = (float(phi(W + h * E)) - float(phi(W - h * E))) / (2 * h)
    assert fd == pytest.approx(float(np.sum(g * E)), rel=1e-6, abs=1e-9 * (1 + float(phi(W))))
    return g


@pytest.mark.parametrize("case", [LEFT, RIGHT], ids=["N>n_k", "n_L-1<m"])
@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_attaining_point_gives_the_closed_form_of_each_bound(case, bound):
    """At ``W_{k+1} = 0, b_{k+1} = level``, ``Y = F_L − scale·u vᵀ``: ``∇_{U_{k+1}}Φ = σ'(level)·scale·(F_kᵀu)(U_L v)ᵀ``,
    of norm ``σ'(level)·scale·σ_max(F_k)·σ_max(U_L)`` (upper) or ``σ'(level)·scale·σ_min(F_k)·σ_min(U_L)`` (lower),
    where ``σ_min(F_k) = 0`` when ``N > n_k`` (a left null vector ``u``) and ``σ_min(U_L) = 0`` when
    ``n_{L-1} < m`` (a null vector ``v``). Mutants s35d-attain-left-thin-svd / -right-thin-svd took ``u``, ``v``
    from thin SVDs: the smallest *non-zero* singular pair, so the lower bound 0 was not attained."""
    arch, N = case
    k, L, level, scale = 1, arch.L, 0.4, 1.5
    X = np.random.default_rng(11).standard_normal((N, 3))
    p, Y = GP.attaining_point(arch, sample_params(arch, 11), X, k, bound=bound, level=level, scale=scale)
    p = _np(p)
    F = _forward(p, X, L)
    s_F = np.linalg.svd(F[k], compute_uv=False)
    s_U = np.linalg.svd(p[f"layer_{L}"]["W"], compute_uv=False)
    dsig = 1.0 - np.tanh(level) ** 2
    upper = dsig * scale * s_F[0] * s_U[0]
    if bound == "upper":
        expected = upper
    else:
        n_k, (n_last, m) = F[k].shape[1], p[f"layer_{L}"]["W"].shape
        expected = dsig * scale * (s_F[-1] if N <= n_k else 0.0) * (s_U[-1] if n_last >= m else 0.0)
        assert expected == 0.0  # both cases are chosen so that the lower bound is 0
    g = _grad_W(p, X, Y, k + 1, L)
    assert np.linalg.norm(g) == pytest.approx(expected, rel=1e-10, abs=1e-12 * upper)
    # the residual is scale·u vᵀ: rank one, of norm scale
    s_R = np.linalg.svd(F[L] - Y, compute_uv=False)
    assert s_R[0] == pytest.approx(scale, rel=1e-12) and s_R[1:].max(initial=0.0) <= 1e-12 * scale


def test_attaining_point_leaves_the_callers_parameters_alone():
    """Mutant s35d-attain-aliases-params: the point was built in the caller's dict, so ``W_{k+1}`` and
    ``b_{k+1}`` of the parameters passed in were overwritten (``W = 0``, ``b = level``)."""
    arch, N = RIGHT
    params = sample_params(arch, 12)
    before = _np(params)
    X = np.random.default_rng(12).standard_normal((N, 3))
    out, _ = GP.attaining_point(arch, params, X, 1, level=0.7)
    for name, layer in before.items():
        for key, value in layer.items():
            np.testing.assert_array_equal(np.asarray(params[name][key]), value, err_msg=f"{name}.{key}")
    np.testing.assert_array_equal(np.asarray(out["layer_2"]["W"]), 0.0)
    np.testing.assert_array_equal(np.asarray(out["layer_2"]["b"]), 0.7)


def test_a_pooling_layer_k_is_accepted_when_the_layers_after_it_are_dense():
    """Lemma 4.3 needs conv or dense layers from ``k+1`` to ``L``; ``k`` itself may be max-pooling.
    Mutant s35d-pool-check-from-k looked from layer ``k`` on and refused it."""
    arch = Architecture((4, 4, 1), (Conv(2, (2, 2)), MaxPool((3, 3)), Dense(3, "tanh"), Output(2)))
    X = np.random.default_rng(13).standard_normal((3, 4, 4, 1))
    p, Y = GP.attaining_point(arch, sample_params(arch, 13), X, 2, bound="upper", level=0.2, scale=0.5)
    F2 = ex.features_upto(arch, p, X, 2)  # (3, 2): the pooled features
    expected = (1 - np.tanh(0.2) ** 2) * 0.5 * np.linalg.norm(F2, 2) * np.linalg.norm(np.asarray(p["layer_4"]["W"]), 2)
    g = np.asarray(LS.grad_full_matrix(arch, p, X, Y, 3))
    assert np.linalg.norm(g) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match=r"`k`=1: layers \[2\] after k are max-pooling"):
        GP.attaining_point(arch, p, X, 1)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_small_gradient_search_refuses_a_learning_rate_that_is_not_positive(lr):
    """Mutant s35d-search-lr-zero-accepted: ``lr = 0`` accepted, a search that never moves."""
    arch, N = RIGHT
    X = np.random.default_rng(14).standard_normal((N, 3))
    Y = np.zeros((N, 3))
    with pytest.raises(ValueError, match=rf"`lr`={lr!r} must be a positive finite learning rate"):
        GP.small_gradient_search(arch, sample_params(arch, 14), X, Y, 1, steps=2, lr=lr)


# ----------------------------------------------------------------------------- factories

MODELS = """
import numpy as np
import jax.numpy as jnp

def apply(p, X):
    return jnp.tanh(X @ p["w"] + p["c"]) @ p["v"] + p["d"]

def params():
    rng = np.random.default_rng(5)
    return {"w": rng.standard_normal((3, 4)), "c": rng.standard_normal(4), "v": rng.standard_normal((4, 2)),
            "d": rng.standard_normal(2)}

X = np.random.default_rng(6).standard_normal((6, 3))
Y = np.random.default_rng(7).standard_normal((6, 2))

def arrays():
    return apply, params(), (X, Y)

def own_loss():
    return apply, params(), (X, Y), lambda F, T: jnp.sum(jnp.abs(F - T), axis=1)

def generator():
    return apply, params(), ((X[i:i + 2], Y[i:i + 2]) for i in range(0, 6, 2))
"""


def _reference():
    """The factory module run as plain Python, then its network by hand with numpy."""
    ns: dict = {}
    exec(MODELS, ns)
    p, X, Y = ns["params"](), ns["X"], ns["Y"]
    F = np.tanh(X @ p["w"] + p["c"]) @ p["v"] + p["d"]
    return {"P": 3 * 4 + 4 + 4 * 2 + 2, "sum": 0.5 * float(np.sum((F - Y) ** 2)), "l1": float(np.sum(np.abs(F - Y)))}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path = tmp_path_factory.mktemp("s35d") / "s35d_models.py"
    path.write_text(MODELS)
    return path


def test_a_factory_loss_by_hand_with_either_reduction(models):
    """Mutant s35d-reduction-ignored: ``reduction='mean'`` dropped (always the sum)."""
    ref = _reference()
    obj, theta, data = factories.load(f"{models}:arrays")
    assert obj.P == ref["P"] and theta.shape == (ref["P"],) and obj.loss.name == "squared"
    assert data.N == 6 and data.num_batches == 1  # default: one batch for arrays
    assert float(D.loss(obj, theta, data)) == pytest.approx(ref["sum"], rel=1e-12)
    obj, theta, data = factories.load(f"{models}:arrays", reduction="mean")
    assert float(D.loss(obj, theta, data)) == pytest.approx(ref["sum"] / 6, rel=1e-12)


def test_an_explicit_loss_wins_over_the_factorys_own(models):
    """The factory's loss is the default only (``load`` docstring). Mutant s35d-factory-loss-overrides-option:
    the factory's callable won over an explicit ``loss`` (``--loss`` ignored)."""
    ref = _reference()
    obj, theta, data = factories.load(f"{models}:own_loss")
    assert float(D.loss(obj, theta, data)) == pytest.approx(ref["l1"], rel=1e-12)
    obj, theta, data = factories.load(f"{models}:own_loss", loss="squared")
    assert obj.loss.name == "squared"
    assert float(D.loss(obj, theta, data)) == pytest.approx(ref["sum"], rel=1e-12)


def test_a_factory_may_return_a_generator_of_batches(models):
    """A one-shot iterator is kept as it comes (a list), so every product gets its pass. Mutant
    s35d-generator-not-kept: the generator went to the Stream as is and ``load`` refused it."""
    ref = _reference()
    obj, theta, data = factories.load(f"{models}:generator")
    assert data.N == 6 and data.batch_size == 2
    for _ in range(2):  # two passes, the same sum
        assert float(D.loss(obj, theta, data)) == pytest.approx(ref["sum"], rel=1e-12)


def test_resolve_restores_sys_path(tmp_path, monkeypatch):
    """``PKG.MODULE:FACTORY`` is imported with the working directory on ``sys.path`` for the import only.
    Mutant s35d-resolve-cwd-left-on-path: the folder stayed on ``sys.path`` (shadowing later imports)."""
    (tmp_path / "s35d_cwd_models.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "s35d_cwd_models", raising=False)
    assert str(tmp_path) not in sys.path
    before = list(sys.path)
    try:
        assert factories.resolve("s35d_cwd_models:arrays").__name__ == "arrays"
        assert sys.path == before
    finally:
        sys.modules.pop("s35d_cwd_models", None)


def test_resolve_splits_at_the_last_colon(tmp_path):
    """``path/to/file.py:FACTORY``: the factory is after the *last* ``:``, so a folder may contain one.
    Mutant s35d-resolve-first-colon split at the first."""
    folder = tmp_path / "run:1"
    folder.mkdir()
    (folder / "m.py").write_text(MODELS)
    assert factories.resolve(f"{folder / 'm.py'}:own_loss").__name__ == "own_loss"


# ----------------------------------------------------------------------------- expressivity


def test_features_upto_is_the_hand_built_feature_matrix():
    """``F_1`` of a 1-D conv layer (``b_1 ∈ R^{n_1}``, columns ``p·T + t`` for patch ``p`` and filter ``t``)
    and ``F_2`` of a dense layer after it, built with numpy loops."""
    arch = Architecture((6, 1), (Conv(2, (3,), activation="tanh"), Dense(3, "tanh"), Output(1)))
    params = _np(sample_params(arch, 15))
    X = np.random.default_rng(15).standard_normal((5, 6, 1))
    W1, b1 = params["layer_1"]["W"], params["layer_1"]["b"]  # (3, 2), (8,)
    F1 = np.zeros((5, 8))
    for p in range(4):
        for t in range(2):
            F1[:, p * 2 + t] = np.tanh(sum(X[:, p + j, 0] * W1[j, t] for j in range(3)) + b1[p * 2 + t])
    F2 = np.tanh(F1 @ params["layer_2"]["W"] + params["layer_2"]["b"])
    np.testing.assert_allclose(ex.features_upto(arch, params, X, 1), F1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(ex.features_upto(arch, params, X, 2), F2, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- sharding

SHARDED = textwrap.dedent("""
    import jax, numpy as np
    from theory_lab import model
    from theory_lab.arch import Architecture, Dense, Output
    from theory_lab.sampling import sample_params
    from theory_lab.sharding import replicate, sample_mesh, shard_samples
    assert len(jax.devices()) == 3 and sample_mesh().devices.size == 3, jax.devices()
    arch = Architecture((4,), (Dense(5, "tanh"), Dense(3, "tanh"), Output(2)))
    params = sample_params(arch, 0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    Xs, ps = shard_samples(X), replicate(params)
    rows = sorted((s.index[0].start, s.index[0].stop, s.data.shape) for s in Xs.addressable_shards)
    assert rows == [(0, 2, (2, 4)), (2, 4, (2, 4)), (4, 6, (2, 4))], rows
    assert all(a.sharding.is_fully_replicated for a in jax.tree.leaves(ps))
    F, Fs = model.features(arch, params, X), model.features(arch, ps, Xs)
    err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(F, Fs))
    loss = lambda p, X, Y: 0.5 * jax.numpy.sum((model.apply(arch, p, X) - Y) ** 2)
    g, gs = jax.grad(loss)(params, X, Y), jax.grad(loss)(ps, Xs, shard_samples(Y))
    gerr = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(a)))))
               for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(gs)))
    assert err <= 1e-12 and gerr <= 1e-12, (err, gerr)
    for N, lo, hi in ((5, 3, 6), (7, 6, 9), (10, 9, 12)):
        try:
            shard_samples(np.zeros((N, 2)))
        except ValueError as exc:
            want = f"`X` has N = {N} samples, not a multiple of the 3 devices in the mesh. Use N = {lo} or {hi} samples"
            assert want in str(exc), str(exc)
        else:
            raise AssertionError(f"{N} samples on 3 devices were accepted")
    print("ok", err, gerr)
""")


def test_sharded_equals_unsharded_on_three_devices_and_the_refusal_suggests_the_neighbouring_multiples():
    """Three forced CPU devices (a count that is not a power of two). Mutant s35d-shard-suggestion-off:
    the message suggested ``N + N mod n_dev`` (7 for N = 5) instead of the next multiple (6)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=3", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-3000:]


# ----------------------------------------------------------------------------- compile cache

CACHE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from theory_lab import compile_cache
    value, folder = sys.argv[1], Path(sys.argv[2])
    got = compile_cache.enable(value)
    assert got == (None if value == "off" else folder), got
    import jax, jax.numpy as jnp
    jax.jit(lambda x: jnp.sin(x) * 3.0 + x)(jnp.arange(5.0)).block_until_ready()  # compiles in milliseconds
    print("ok")
""")


def _cache_run(value: str, folder: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != compile_cache.ENV}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", CACHE, value, str(folder)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-3000:]


def test_every_program_is_written_however_fast_it_compiled(tmp_path):
    """``MIN_COMPILE_SECONDS = 0``: a program compiled in milliseconds is written too, into a private folder.
    Mutant s35d-cache-min-compile-time-dropped: JAX's default 1 s threshold stayed, nothing was written."""
    folder = tmp_path / "cache" / "jax"
    _cache_run(str(folder), folder, tmp_path)
    assert folder.is_dir() and len(list(folder.iterdir())) >= 1
    assert folder.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "xdg").exists()  # the option wins over the default folder


def test_off_writes_nothing_even_when_programs_compile(tmp_path):
    folder = tmp_path / "cache"
    _cache_run("off", folder, tmp_path)
    assert not folder.exists() and not (tmp_path / "xdg").exists()


def test_a_folder_that_is_readable_but_not_writable_is_refused(tmp_path, monkeypatch):
    """Tests may run as root, where permission bits do not bind, so ``os.access`` is simulated: the folder
    grants read and search but not write. Mutant s35d-cache-access-read-only asked for R_OK."""
    folder = tmp_path / "ro"
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: (not mode & os.W_OK) if Path(p) == folder else real(p, mode))
    with pytest.raises(ValueError, match=r"the compile cache folder '.*ro' is not writable; give a writable folder"):
        compile_cache.enable(str(folder), env={})


def test_an_empty_option_is_refused_not_read_as_unset():
    """``--compile-cache ''`` is an option given empty, refused; only the *variable* set empty means unset.
    Mutant s35d-cache-empty-option-means-unset fell back to the variable / the default folder."""
    for env in ({compile_cache.ENV: "/env/cache"}, {"XDG_CACHE_HOME": "/xdg"}, {}):
        with pytest.raises(ValueError, match="the compile cache folder is empty; give a folder or 'off'"):
            compile_cache.resolve("", env)
    assert compile_cache.resolve(None, {compile_cache.ENV: "", "XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/theory-lab/jax")
