"""Differential tests (session 33): the library's shapes, patches, ``U_k``, forward pass and the
Assumption 2.4 / 3.1 predicates against deliberately naive numpy references, on layer
configurations the property strategies of :mod:`theory_lab.strategies` do not draw (stride >
kernel, dilation, one-sided / 'SAME' padding with even kernels, 1×1 and rectangular kernels,
pooling with stride ≠ window, overlapping or non-covering explicit patches, a conv right before
the output, deep narrow stacks, every bias variant).

The references below loop over output positions, kernel offsets and patches straight from
THEORY.md §1 (Def. 2.1–2.3) and call none of the library's shape or patch helpers. Conventions
they share with the library (and nothing else): shapes are ``(spatial..., channels)`` flattened
row-major; a conv patch lists its kernel offsets row-major with the channel fastest (so a filter
``W_k (l, T)`` is the kernel ``(k..., C, T)`` flattened); a pooling patch is (position, channel);
``'SAME'`` padding is XLA's (``out = ⌈n/s⌉``, the odd pad on the high side); a padding entry reads 0.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output, PatchLayer, PatchMaxPool
from theory_lab.data import check_distinct_patches
from theory_lab.sampling import sample_params

# --------------------------------------------------------------------------------------------------
# naive references (plain numpy, loops)
# --------------------------------------------------------------------------------------------------

ACT = {
    "sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)),
    "relu": lambda t: np.maximum(t, 0.0),
    "tanh": np.tanh,
}


def ref_pads(n, k, s, d, padding, i):
    """Padding ``(lo, hi)`` and output length along one spatial dim of length ``n``."""
    extent = (k - 1) * d + 1
    if padding == "VALID":
        lo = hi = 0
    elif padding == "SAME":
        out = (n + s - 1) // s
        total = max((out - 1) * s + extent - n, 0)
        lo, hi = total // 2, total - total // 2
    else:
        lo, hi = padding[i]
    out = 0
    while out * s + extent <= n + lo + hi:  # count the window starts that fit, one at a time
        out += 1
    return (lo, hi), out


def ref_layer(shape, spec):
    """``dict(kind, patches (list of lists, -1 = padding), out_shape, n, P, l, T, params)`` of one layer."""
    n_in = int(np.prod(shape))
    if isinstance(spec, Conv):
        spatial, C = shape[:-1], shape[-1]
        geo = [ref_pads(spatial[i], spec.kernel[i], spec.stride[i], spec.dilation[i], spec.padding, i)
               for i in range(len(spatial))]
        outs = [o for _, o in geo]
        patches = []
        for pos in itertools.product(*[range(o) for o in outs]):  # row-major output positions
            patch = []
            for off in itertools.product(*[range(k) for k in spec.kernel]):  # row-major kernel offsets
                coord = [pos[i] * spec.stride[i] - geo[i][0][0] + off[i] * spec.dilation[i] for i in range(len(pos))]
                inside = all(0 <= coord[i] < spatial[i] for i in range(len(pos)))
                flat = 0
                for i in range(len(pos)):
                    flat = flat * spatial[i] + coord[i]
                for c in range(C):
                    patch.append(flat * C + c if inside else -1)
            patches.append(patch)
        T = spec.filters
        n = len(patches) * T
        bias = {"neuron": n, "filter": T, "none": 0}[spec.bias]
        return dict(kind="conv", patches=patches, out_shape=(*outs, T), n=n, P=len(patches),
                    l=len(patches[0]), T=T, params=len(patches[0]) * T + bias)
    if isinstance(spec, PatchLayer):
        patches = [list(p) for p in spec.patches]
        T = spec.filters
        n = len(patches) * T
        bias = {"neuron": n, "filter": T, "none": 0}[spec.bias]
        return dict(kind="patch", patches=patches, out_shape=(len(patches), T), n=n, P=len(patches),
                    l=len(patches[0]), T=T, params=len(patches[0]) * T + bias)
    if isinstance(spec, MaxPool):
        spatial, C = shape[:-1], shape[-1]
        outs = [(spatial[i] - spec.window[i]) // spec.stride[i] + 1 for i in range(len(spatial))]
        patches = []
        for pos in itertools.product(*[range(o) for o in outs]):
            for c in range(C):
                patch = []
                for off in itertools.product(*[range(w) for w in spec.window]):
                    flat = 0
                    for i in range(len(pos)):
                        flat = flat * spatial[i] + pos[i] * spec.stride[i] + off[i]
                    patch.append(flat * C + c)
                patches.append(patch)
        return dict(kind="maxpool", patches=patches, out_shape=(*outs, C), n=len(patches), P=len(patches),
                    l=len(patches[0]), T=0, params=0)
    if isinstance(spec, PatchMaxPool):
        patches = [list(p) for p in spec.patches]
        return dict(kind="maxpool", patches=patches, out_shape=(len(patches), 1), n=len(patches), P=len(patches),
                    l=len(patches[0]), T=0, params=0)
    w = spec.width
    return dict(kind="output" if isinstance(spec, Output) else "dense", patches=[list(range(n_in))],
                out_shape=(w,), n=w, P=1, l=n_in, T=w, params=n_in * w + w)


def ref_layers(input_shape, layers):
    out, shape = [], tuple(input_shape)
    for spec in layers:
        out.append(ref_layer(shape, spec))
        shape = out[-1]["out_shape"]
    return out


def ref_linear(ref, W, f):
    """Pre-activation without bias of a weight layer on one flattened input ``f (n_{k-1},)``: ``(n_k,)``."""
    g = np.zeros(ref["P"] * ref["T"])
    for p, patch in enumerate(ref["patches"]):
        for t in range(ref["T"]):
            acc = 0.0
            for j, idx in enumerate(patch):
                if idx >= 0:
                    acc += W[j, t] * f[idx]
            g[p * ref["T"] + t] = acc
    return g


def ref_forward(refs, layers, params, x):
    """``(f_0(x), …, f_L(x))`` of one sample, loops only."""
    fs = [np.asarray(x, dtype=np.float64).ravel()]
    for k, (ref, spec) in enumerate(zip(refs, layers), start=1):
        f = fs[-1]
        if ref["kind"] == "maxpool":
            fs.append(np.array([max(f[i] for i in patch) for patch in ref["patches"]]))
            continue
        p = params[f"layer_{k}"]
        g = ref_linear(ref, np.asarray(p["W"]), f)
        if "b" in p:
            b = np.asarray(p["b"])
            for h in range(g.size):
                g[h] += b[h] if b.size == g.size else b[h % ref["T"]]
        fs.append(g if ref["kind"] == "output" else ACT[spec.activation](g))
    return fs


def ref_U(ref, W, n_in):
    """``U_k`` as the matrix of the layer's linear part: row ``i`` is the image of the basis vector ``e_i``."""
    return np.stack([ref_linear(ref, W, np.eye(n_in)[i]) for i in range(n_in)])


def ref_assumption_2_4(ref, n_in, seed=0):
    """Largest rank of ``U_k`` over three Gaussian filter draws (the generic rank, with probability one) and
    ``min(n_{k-1}, n_k)``; plus the smallest singular value that decided it, relative to the largest."""
    rng = np.random.default_rng(seed)
    best = (-1, 0.0, 0.0)
    for _ in range(3):
        U = ref_U(ref, rng.standard_normal((ref["l"], ref["T"])), n_in)
        s = np.linalg.svd(U, compute_uv=False)
        if s[0] == 0:  # every patch entry is padding: U_k = 0
            best = max(best, (0, 1.0, 0.0))
            continue
        tol = max(U.shape) * np.finfo(float).eps * s[0]
        r = int(np.sum(s > tol))
        best = max(best, (r, s[r - 1] / s[0] if r else 1.0, s[r] / s[0] if r < s.size else 0.0))
    return best[0], min(n_in, ref["n"]), best[1], best[2]


def ref_assumption_3_1(ref, X):
    """True when no patch of sample ``i`` equals a patch of sample ``j ≠ i`` (padding reads 0)."""
    flat = X.reshape(X.shape[0], -1)
    vals = [[tuple(0.0 if i < 0 else flat[s, i] for i in patch) for patch in ref["patches"]] for s in range(len(X))]
    for i, j in itertools.combinations(range(len(X)), 2):
        for a in vals[i]:
            for b in vals[j]:
                if a == b:
                    return False
    return True


# --------------------------------------------------------------------------------------------------
# a strategy over the configurations strategies.py does not draw
# --------------------------------------------------------------------------------------------------

SHAPES = ((7, 6, 1), (9, 1), (5, 4, 2), (9, 2))


def _padding(draw, dims):
    kind = draw(st.sampled_from(("VALID", "SAME", "one-sided", "explicit")))
    if kind in ("VALID", "SAME"):
        return kind
    if kind == "one-sided":
        return tuple(draw(st.sampled_from(((0, 1), (2, 0), (0, 0)))) for _ in range(dims))
    return tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(dims))


@st.composite
def conv_spec(draw, shape):
    dims = len(shape) - 1
    for _ in range(20):
        kernel = tuple(draw(st.sampled_from((1, 2, 3))) for _ in range(dims))  # 1×1, even, rectangular
        stride = tuple(draw(st.sampled_from((1, 2, 3, 4))) for _ in range(dims))  # stride > kernel too
        dilation = tuple(draw(st.sampled_from((1, 1, 2, 3))) for _ in range(dims))
        padding = _padding(draw, dims)
        spec = Conv(draw(st.integers(1, 3)), kernel, stride=stride, padding=padding, dilation=dilation,
                    activation=draw(st.sampled_from(tuple(ACT))), bias=draw(st.sampled_from(("neuron", "filter", "none"))))
        try:
            Architecture(shape, (spec, Output(1)))
        except ValueError:
            continue
        return spec
    return Conv(1, (1,) * dims)


@st.composite
def patch_spec(draw, n_in):
    l = draw(st.integers(1, min(3, n_in)))
    P = draw(st.integers(1, min(5, n_in)))
    rows = draw(st.lists(st.lists(st.integers(0, n_in - 1), min_size=l, max_size=l, unique=True),
                         min_size=P, max_size=P, unique_by=lambda r: frozenset(r)))
    return rows


@st.composite
def architectures(draw):
    shape = draw(st.sampled_from(SHAPES))
    layers, cur = [], shape
    for depth in range(draw(st.integers(1, 4))):
        n_in = int(np.prod(cur))
        choices = ["patch", "patchpool"] + (["conv", "conv", "pool"] if len(cur) >= 2 else []) \
            + (["dense"] if depth else [])
        kind = draw(st.sampled_from(choices))
        if kind == "conv":
            spec = draw(conv_spec(cur))
        elif kind == "pool":
            dims = len(cur) - 1
            window = tuple(draw(st.integers(1, min(3, cur[i]))) for i in range(dims))
            stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
            spec = MaxPool(window, stride)
        elif kind == "patch":
            spec = PatchLayer(draw(patch_spec(n_in)), draw(st.integers(1, 2)),
                              activation=draw(st.sampled_from(tuple(ACT))),
                              bias=draw(st.sampled_from(("neuron", "filter", "none"))))
        elif kind == "patchpool":
            spec = PatchMaxPool(draw(patch_spec(n_in)))
        else:
            spec = Dense(draw(st.integers(1, 3)), activation=draw(st.sampled_from(tuple(ACT))))
        layers.append(spec)
        cur = Architecture(shape, (*layers, Output(1))).info[-2].out_shape
    return Architecture(shape, (*layers, Output(draw(st.integers(1, 2)))))


def _compare_shapes(arch):
    refs = ref_layers(arch.input_shape, arch.layers)
    widths = [arch.d]
    for info, ref in zip(arch.info, refs):
        where = f"layer {info.k} {info.spec}"
        assert info.kind == ref["kind"], where
        assert info.out_shape == ref["out_shape"], where
        assert (info.n, info.P, info.l, info.T, info.num_params) == \
            (ref["n"], ref["P"], ref["l"], ref["T"], ref["params"]), where
        assert info.patches.tolist() == ref["patches"], where
        used = {i for patch in ref["patches"] for i in patch if i >= 0}
        if info.has_weights and info.kind != "dense" and info.kind != "output":
            assert info.covers_input == (len(used) == widths[-1]), where
            assert info.distinct_patches == (len({frozenset(i for i in p if i >= 0) for p in ref["patches"]})
                                             == len(ref["patches"])), where
        # warnings only for weight layers whose patches miss a neuron or repeat a set (Assumption 2.4's business);
        # a pooling layer's windows may skip neurons without a word
        flagged = info.kind in ("conv", "patch") and (len(used) < widths[-1] or len(
            {frozenset(i for i in p if i >= 0) for p in ref["patches"]}) < len(ref["patches"]))
        assert (len(info.flags) > 0) == flagged, (where, info.flags)
        widths.append(ref["n"])
    assert arch.widths == tuple(widths)
    assert arch.num_params == sum(r["params"] for r in refs)
    return refs


def _compare_numbers(arch, seed):
    refs = ref_layers(arch.input_shape, arch.layers)
    # model.init's law drawn with numpy (sampling.sample_params): model.init compiles an initialiser per architecture
    # (1.1-1.5 s, most of this test's time); its tree and laws are sample_params' (tests/test_sampling.py)
    params = sample_params(arch, seed, bias_law="normal", bias_scale=0.5)
    assert sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(params)) == arch.num_params
    X = np.random.default_rng(seed).standard_normal((2, *arch.input_shape))
    want = [ref_forward(refs, arch.layers, params, x) for x in X]
    for path in ("fast", "patch"):
        got = model.features(arch, params, X, path=path)
        for k in range(arch.L + 1):
            np.testing.assert_allclose(np.asarray(got[k]), np.stack([w[k] for w in want]), rtol=1e-12, atol=1e-12,
                                       err_msg=f"F_{k} ({path}) of {arch}")
    for k, ref in enumerate(refs, start=1):
        if ref["kind"] == "maxpool":
            continue
        W = np.asarray(params[f"layer_{k}"]["W"])
        np.testing.assert_array_equal(np.asarray(model.full_weight_matrix(arch, params, k)),
                                      ref_U(ref, W, arch.widths[k - 1]), err_msg=f"U_{k} of {arch}")
        b = np.asarray(params[f"layer_{k}"].get("b", np.zeros(0)))  # b_k ∈ R^{n_k}, (b_k)_h for h = p·T + t
        want_b = [0.0 if b.size == 0 else b[h] if b.size == ref["n"] else b[h % ref["T"]] for h in range(ref["n"])]
        np.testing.assert_array_equal(np.asarray(model.bias_vector(arch, params, k)), want_b, err_msg=f"b_{k}")


def _compare_2_4(arch):
    refs = ref_layers(arch.input_shape, arch.layers)
    parts = dict(arch.assumption_2_4().parts)
    want = []
    for k, ref in enumerate(refs, start=1):
        if ref["kind"] not in ("conv", "patch"):
            continue
        rank, target, s_kept, s_next = ref_assumption_2_4(ref, arch.widths[k - 1], seed=k)
        # the numerical rank must be clear: the kept and the dropped singular values far from the tolerance
        assert s_kept > 1e-8 and s_next < 1e-12, (arch, k, s_kept, s_next)
        want.append(rank == target)
    assert [holds for _, holds in parts.items()] == want, (arch, parts)


SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@settings(max_examples=100, **SETTINGS)
@given(arch=architectures())
def test_shapes_patches_counts_match_naive_reference(arch):
    _compare_shapes(arch)


@settings(max_examples=40, **SETTINGS)
@given(arch=architectures())
def test_assumption_2_4_matches_generic_rank_of_naive_U(arch):
    _compare_2_4(arch)


@settings(max_examples=10, **SETTINGS)
@given(arch=architectures(), seed=st.integers(0, 2**16))
def test_forward_and_U_match_naive_reference(arch, seed):
    _compare_numbers(arch, seed)


@settings(max_examples=40, **SETTINGS)
@given(arch=architectures(), values=st.sampled_from(((0.0, 1.0), (0.0, 1.0, 2.0), None)), seed=st.integers(0, 99))
def test_assumption_3_1_matches_pairwise_patch_comparison(arch, values, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, *arch.input_shape)) if values is None \
        else rng.choice(values, size=(3, *arch.input_shape))
    ref = ref_layers(arch.input_shape, arch.layers)[0]
    assert check_distinct_patches(arch, X).holds == ref_assumption_3_1(ref, X)


# --------------------------------------------------------------------------------------------------
# hand-picked edge cases (each one a configuration the strategies of theory_lab.strategies never draw)
# --------------------------------------------------------------------------------------------------

EDGE = {
    "stride>kernel 2-D, skips rows": Architecture((7, 6, 1), (Conv(2, (1, 2), stride=(3, 4), bias="filter"), Output(1))),
    "SAME even kernel, stride 2": Architecture((7, 6, 1), (Conv(1, (2, 2), stride=2, padding="SAME"), Output(2))),
    "SAME dilated even kernel 1-D": Architecture((9, 1), (Conv(2, (2,), padding="SAME", dilation=3), Output(1))),
    "one-sided padding, all-padding patch": Architecture((4, 1), (Conv(1, (2,), stride=2, padding=((4, 0),)), Output(1))),
    "1x1 conv, 2 channels, no bias": Architecture((5, 4, 2), (Conv(3, (1, 1), bias="none", activation="relu"),
                                                              Output(1))),
    "pool stride < window then stride > window": Architecture(
        (9, 2), (MaxPool((3,), (1,)), MaxPool((2,), (3,)), Dense(2, activation="tanh"), Output(1))),
    "overlapping non-covering patches, repeated index": Architecture(
        (9, 1), (PatchLayer(((0, 2, 2), (2, 4, 6), (6, 8, 0)), 2, bias="filter"), PatchMaxPool(((0, 1), (1, 5))),
                 Output(1))),
    "conv after patches (patches as a 1-D layer)": Architecture(
        (9, 1), (PatchLayer(((0, 1), (2, 3), (4, 5), (6, 7)), 2), Conv(1, (3,), padding=((0, 1),)), Output(1))),
    "deep narrow stack": Architecture((9, 1), tuple(Conv(1, (2,), activation="tanh") for _ in range(6)) + (Output(1),)),
    "3-D pooling window": Architecture((4, 3, 2, 1), (MaxPool((2, 2, 1), (1, 2, 1)), Dense(2), Output(1))),
}


@pytest.mark.parametrize("name", list(EDGE))
def test_edge_cases_match_naive_reference(name):
    arch = EDGE[name]
    _compare_shapes(arch)
    _compare_numbers(arch, seed=3)
    _compare_2_4(arch)


def test_edge_case_numbers_by_hand():
    """A few of the edge cases' numbers counted by hand from Def. 2.1 (not by the references above)."""
    info = EDGE["stride>kernel 2-D, skips rows"].layer(1)
    # rows 0, 3, 6 and columns {0,1}, {4,5}: 6 patches of length 2; rows 1, 2, 4, 5 and columns 2, 3 unread
    assert (info.P, info.l, info.n, info.num_params, info.covers_input) == (6, 2, 12, 2 * 2 + 2, False)
    info = EDGE["SAME even kernel, stride 2"].layer(1)
    # out ⌈7/2⌉ × ⌈6/2⌉ = 4 × 3; padding (0, 1) rows and (0, 0) columns: the last row of windows reads a pad row
    assert (info.out_shape, info.padding) == ((4, 3, 1), ((0, 1), (0, 0)))
    assert info.patches[-1].tolist() == [40, 41, -1, -1]
    info = EDGE["one-sided padding, all-padding patch"].layer(1)
    assert info.patches.tolist() == [[-1, -1], [-1, -1], [0, 1], [2, 3]]
    assert not EDGE["one-sided padding, all-padding patch"].assumption_2_4().holds  # rank U_1 = 2 < 4
    assert EDGE["deep narrow stack"].widths == (9, 8, 7, 6, 5, 4, 3, 1)
    # 'SAME' kernel 3 on length 2: patches (pad, x0, x1) and (x0, x1, pad) read one set of neurons
    same_set = Architecture((2, 1), (Conv(1, (3,), padding="SAME"), Output(1)))
    _compare_shapes(same_set)
    assert same_set.layer(1).patches.tolist() == [[-1, 0, 1], [0, 1, -1]]
    assert not same_set.layer(1).distinct_patches and "two patches read the same neurons" in same_set.flags[0]


@pytest.mark.parametrize("padding, bad", [(((1.5, 0),), "1.5"), (((True, 0),), "True"), ((("1", 0),), "'1'"),
                                          (((1, 2.0),), "2.0")])
def test_conv_refuses_non_integer_explicit_padding(padding, bad):
    """Regression: int() truncated a padding of 1.5 to 1 (and read True or '1' as 1) without a word."""
    with pytest.raises(ValueError, match=rf"Conv: explicit `padding`=.* has non-integer entry {bad} .*integer \(lo, hi\)"):
        Conv(1, (2,), padding=padding)
    assert Conv(1, (2,), padding=((np.int64(1), 0),)).padding == ((1, 0),)


@pytest.mark.parametrize("build, match", [
    (lambda: Architecture((9,), (Conv(1, (2,)), Output(1))), r"layer 1 \(Conv\): input shape \(9,\) has no channel axis"),
    (lambda: Architecture((7, 6, 1), (Conv(1, (2,)), Output(1))), r"`kernel`=\(2,\) is 1-D but its input has shape"),
    (lambda: Architecture((9, 1), (Conv(1, (4,), dilation=3), Output(1))),
     r"`kernel`=\(4,\) \(extent 10 with dilation 3\) is larger than its padded input 9"),
    (lambda: Architecture((9, 1), (MaxPool((2, 2)), Output(1))), r"layer 1 \(MaxPool\): `window`=\(2, 2\) does not match"),
    (lambda: Architecture((9, 1), (Dense(2), Conv(1, (1,)), Output(1))), r"layer 2 \(Conv\): input shape \(2,\) has no"),
    (lambda: Architecture((9, 1), (PatchLayer(((0, 9),), 1), Output(1))), r"`patches` index 9 is outside layer 0"),
    (lambda: Architecture((9, 1), (PatchMaxPool(((0, 9), (1, 2))), Output(1))),
     r"layer 1 \(PatchMaxPool\): `patches` index 9 is outside layer 0 \(9 neurons\)"),
    (lambda: Architecture((9, 1), (Dense(3), PatchMaxPool(((0, 3),)), Output(1))), r"`patches` index 3 is outside layer 1"),
])
def test_unrepresentable_architectures_are_refused_by_name(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_assumption_3_1_padding_reads_zero():
    """Def. 2.1's zero padding: sample 0's padded first patch (0, 3) equals sample 1's interior patch (0, 3), so
    Assumption 3.1 fails; reading the pad as anything but 0 would call it met."""
    arch = Architecture((3, 1), (Conv(1, (2,), padding=((1, 0),)), Output(1)))
    X = np.array([[3.0, 1.0, 2.0], [0.0, 3.0, 5.0]])[..., None]
    ref = ref_layers(arch.input_shape, arch.layers)[0]
    assert ref_assumption_3_1(ref, X) is False
    report = check_distinct_patches(arch, X)
    assert not report.holds and report.shared_patch_values == 1 and report.example == (0, 1)
    assert check_distinct_patches(arch, np.array([[3.0, 1.0, 2.0], [0.5, 3.0, 5.0]])[..., None]).holds
