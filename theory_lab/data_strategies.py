"""Hypothesis strategies for data sets: Assumption 3.1 kept, or broken on purpose.

:func:`datasets` draws float64 inputs for a given architecture: generic continuous draws
(Gaussian, uniform, image-like :func:`digit_crops`) on which Assumption 3.1 holds, or
draws that break it in one of :data:`VIOLATIONS`. :mod:`theory_lab.strategies` combines
them with networks and parameters.

Example:
    >>> from hypothesis import given, settings
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> arch = Architecture((6, 1), (Conv(2, (3,)), Output(1)))
    >>> @settings(max_examples=5, deadline=None, database=None)
    ... @given(X=datasets(arch, 4, assumption_3_1=False, violations="duplicate_sample"))
    ... def test_rows_repeat(X):
    ...     assert len({x.tobytes() for x in X}) < 4
    >>> test_rows_repeat()
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover
    raise ImportError("theory_lab.data_strategies needs the `hypothesis` package: pip install 'theory-lab[test]'") from err

from theory_lab.arch import Architecture
from theory_lab.data import check_distinct_patches
from theory_lab.validate import is_integer

__all__ = ["datasets", "digit_crops", "patchwork_split", "menu", "VIOLATIONS", "DATA_LAWS", "DIGIT_NOISE"]

VIOLATIONS = ("duplicate_sample", "shared_patch", "patchwork")
"""Ways :func:`datasets` breaks Assumption 3.1."""

DATA_LAWS = ("normal", "uniform", "digits")
"""Laws of :func:`datasets`: Gaussian, uniform on ``[-1, 1]``, image-like digit crops."""


def menu(value, name: str) -> tuple:
    """A strategy argument as a non-empty tuple of choices (a single value becomes a 1-tuple).

    Example:
        >>> menu("normal", "laws"), menu((1, 2), "sizes"), menu(0.5, "bias_scales")
        (('normal',), (1, 2), (0.5,))
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or getattr(value, "ndim", 1) == 0:
        value = (value,)  # one choice: "normal", 16, 0.5, np.float32(1)
    value = tuple(value)
    if not value:
        raise ValueError(f"`{name}` is empty; give at least one choice.")
    return value


def patchwork_split(arch: Architecture) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Split the flattened input into ``S``, ``M``, ``S'`` so that no layer-1 patch meets both ``S`` and ``S'``.

    Returns index arrays ``(S, M, S')`` (all non-empty except possibly ``M``), or ``None``
    when layer 1 reads everything at once (fully connected) and no split exists.

    Example:
        >>> from theory_lab.arch import Architecture, Conv, Output
        >>> S, M, S2 = patchwork_split(Architecture((6, 1), (Conv(1, (3,)), Output(1))))
        >>> S.tolist(), M.tolist(), S2.tolist()
        ([0], [1, 2], [3, 4, 5])
    """
    idx = arch.layer(1).patches
    d = arch.d
    lo = np.where(idx >= 0, idx, d).min(axis=1)
    hi = np.where(idx >= 0, idx, -1).max(axis=1)
    for s_end in range(1, d):
        start = int(hi[lo < s_end].max()) + 1 if np.any(lo < s_end) else s_end
        if start <= d - 1:
            return np.arange(s_end), np.arange(s_end, start), np.arange(start, d)
    return None


def _violate(X, arch: Architecture, how: str, rng: np.random.Generator):
    N = X.shape[0]
    flat = X.reshape(N, -1)
    if how == "patchwork":
        split = patchwork_split(arch)
        if split is None or N < 4:
            how = "duplicate_sample"
        else:
            S, _, S2 = split
            rows = rng.choice(N, 4, replace=False)
            a, e = flat[rows[0], S].copy(), flat[rows[2], S].copy()
            b, c = flat[rows[0], S2].copy(), flat[rows[1], S2].copy()
            middle = np.setdiff1d(np.arange(flat.shape[1]), np.concatenate([S, S2]))
            for r in rows[1:]:
                flat[r, middle] = flat[rows[0], middle]
            flat[rows[0], S], flat[rows[0], S2] = a, b
            flat[rows[1], S], flat[rows[1], S2] = a, c
            flat[rows[2], S], flat[rows[2], S2] = e, b
            flat[rows[3], S], flat[rows[3], S2] = e, c
            return flat.reshape(X.shape), how
    if how == "shared_patch":
        idx = arch.layer(1).patches
        full = np.nonzero(np.all(idx >= 0, axis=1))[0]
        if idx.shape[0] == 1 or full.size == 0:
            how = "duplicate_sample"
        else:
            i, j = rng.choice(N, 2, replace=False)
            p, q = rng.choice(full, 2, replace=full.size < 2)
            flat[j, idx[q]] = flat[i, idx[p]]
            return flat.reshape(X.shape), how
    i, j = rng.choice(N, 2, replace=False)
    flat[j] = flat[i]
    return flat.reshape(X.shape), "duplicate_sample"


def datasets(arch: Architecture, n_samples: int, *, assumption_3_1: bool = True,
             violations=VIOLATIONS, laws=DATA_LAWS) -> st.SearchStrategy:
    """Draw float64 inputs ``(n_samples, *arch.input_shape)``.

    Args:
        arch: the network (its layer-1 patches decide what Assumption 3.1 means).
        n_samples: ``N``.
        assumption_3_1: ``True`` draws generic continuous data (3.1 holds with probability
            one); ``False`` breaks it in one of ``violations``:
            ``"duplicate_sample"`` (``x_j = x_i``), ``"shared_patch"`` (``x_j^q = x_i^p`` for one
            pair of patches) or ``"patchwork"`` (four samples ``(a,m,b), (a,m,c), (e,m,b), (e,m,c)``
            on input blocks ``S, M, S'`` from :func:`patchwork_split`, so
            ``F_1`` has ``rank < N`` at every parameter). Where a violation cannot be built
            (fully connected layer 1, ``N < 4``), a duplicated sample is used instead.
        laws: entry laws to draw from: ``"normal"``, ``"uniform"`` (on ``[-1, 1]``) or ``"digits"``
            (image-like: :func:`digit_crops`, blank regions plus 1e-6 noise).

    With ``assumption_3_1`` the draw is kept only if Assumption 3.1 holds on it
    (:func:`theory_lab.data.check_distinct_patches`, the predicate the checks use).
    """
    if not isinstance(arch, Architecture):
        raise TypeError(f"`arch` has type {type(arch).__name__}; pass a theory_lab.arch.Architecture "
                        "(e.g. net.arch from networks()).")
    if not is_integer(n_samples) or n_samples < 2:
        raise ValueError(f"`n_samples`={n_samples!r} must be an int >= 2.")
    violations = menu(violations, "violations")
    if any(v not in VIOLATIONS for v in violations):
        raise ValueError(f"`violations`={violations}: each must be one of {VIOLATIONS}.")
    laws = menu(laws, "laws")
    if any(law not in DATA_LAWS for law in laws):
        raise ValueError(f"`laws`={laws}: each must be one of {DATA_LAWS}.")
    drawn = _datasets(arch, int(n_samples), bool(assumption_3_1), violations, laws)
    return drawn.filter(lambda X: check_distinct_patches(arch, X).holds) if assumption_3_1 else drawn


@st.composite
def _datasets(draw, arch, n_samples, assumption_3_1, violations, laws):
    seed = draw(st.integers(0, 2**32 - 1))
    law = draw(st.sampled_from(laws))
    rng = np.random.default_rng(seed)
    shape = (n_samples,) + arch.input_shape
    if law == "digits":
        X = digit_crops(arch.input_shape, n_samples, rng)
    else:
        X = rng.standard_normal(shape) if law == "normal" else rng.uniform(-1.0, 1.0, shape)
    if not assumption_3_1:
        X, _ = _violate(X, arch, draw(st.sampled_from(violations)), rng)
    return X


DIGIT_NOISE = 1e-6
"""Standard deviation of the noise on :func:`digit_crops` (it restores Assumption 3.1 on blank patches)."""


@functools.lru_cache(maxsize=1)
def _digit_images() -> np.ndarray:
    from theory_lab.data import digits

    return digits().X[..., 0]  # (1797, 8, 8) in [0, 1], bundled with scikit-learn


def digit_crops(input_shape, n_samples: int, rng, *, separation: float = 0.1) -> np.ndarray:
    """Image-like inputs ``(n_samples, *input_shape)``: crops of scikit-learn's digits, blank regions kept.

    Each sample is a different digit; each channel a crop at its own offset (2-D shapes: a
    ``h × w`` window; every other shape: consecutive pixels of the row-major image), plus
    :data:`DIGIT_NOISE` Gaussian noise, so blank patches repeat across samples up to that
    noise. A crop closer than ``separation`` (Euclidean, pixels in ``[0, 1]``) to an earlier
    sample, or to blank, is redrawn, so whole samples stay apart.

    Example:
        >>> X = digit_crops((6, 6, 1), 16, np.random.default_rng(0))
        >>> X.shape, bool(np.all((X > -1e-4) & (X < 1 + 1e-4)))
        ((16, 6, 6, 1), True)
    """
    images = _digit_images()
    spatial, C = (tuple(input_shape[:-1]), input_shape[-1]) if len(input_shape) >= 2 else ((), 1)
    if len(spatial) == 2:
        f = max(1, -(-max(spatial) // 8))
        images = np.kron(images, np.ones((f, f))) if f > 1 else images
    flat = images.reshape(images.shape[0], -1)
    # consecutive pixels for every shape but 2-D windows (3-D spatial shapes gave a span of 0: a bare reshape error)
    span = int(np.prod(input_shape)) if not spatial else (0 if len(spatial) == 2 else int(np.prod(spatial)))
    if span > flat.shape[1]:
        flat = np.tile(flat, (1, -(-span // flat.shape[1])))
    order = rng.permutation(images.shape[0])
    out, used = [], 0
    for _ in range(n_samples):
        for _attempt in range(64):
            img = order[used % order.size]
            used += 1
            if len(spatial) == 2:
                h, w = spatial
                chans = []
                for _c in range(C):
                    r, q = rng.integers(0, images.shape[1] - h + 1), rng.integers(0, images.shape[2] - w + 1)
                    chans.append(images[img, r:r + h, q:q + w])
                x = np.stack(chans, axis=-1)
            else:
                cols = [flat[img, o:o + span] for o in rng.integers(0, flat.shape[1] - span + 1, C)]
                x = np.stack(cols, axis=-1).reshape(input_shape)
            if np.linalg.norm(x) >= separation and all(np.linalg.norm(x - y) >= separation for y in out):
                break
        out.append(x)
    X = np.asarray(out, dtype=np.float64)
    return X + DIGIT_NOISE * rng.standard_normal(X.shape)
