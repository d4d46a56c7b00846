"""Data sets (nothing downloaded) and the Assumption 3.1 test on actual data."""

import itertools
import urllib.request

import numpy as np
import pytest

from theory_lab import data
from theory_lab.arch import Architecture, Conv, Output

DIGITS_ARCH = Architecture((8, 8, 1), (Conv(2, (3, 3)), Output(10)))


@pytest.fixture(scope="module")
def all_digits():
    return data.digits()


def test_digits_scaled_with_one_hot_targets(all_digits):
    ds = all_digits
    assert ds.name == "digits" and ds.N == 1797
    assert ds.X.shape == (1797, 8, 8, 1) and ds.X.dtype == np.float64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.Y.shape == (1797, 10) and ds.Y.dtype == np.float64
    assert np.array_equal(ds.Y.sum(axis=1), np.ones(1797)) and np.array_equal(ds.Y.argmax(axis=1), ds.labels)


def test_digits_subsets_noise_and_shuffle(all_digits):
    sub = data.digits(50)
    assert sub.X.shape == (50, 8, 8, 1) and sub.Y.shape == (50, 10)
    assert np.array_equal(sub.X, all_digits.X[:50])
    a, b, c = data.digits(20, noise=1e-3, seed=1), data.digits(20, noise=1e-3, seed=1), data.digits(20, noise=1e-3, seed=2)
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)
    assert 0 < np.abs(a.X - sub.X[:20]).max() < 1e-2
    assert a.meta == {"noise": 1e-3, "seed": 1, "shuffle": False}
    s1, s2 = data.digits(30, shuffle=True, seed=3), data.digits(30, shuffle=True, seed=3)
    assert np.array_equal(s1.X, s2.X) and not np.array_equal(s1.X, sub.X[:30])


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    import requests

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_mnist1d_generated_locally_and_deterministic(monkeypatch):
    _no_network(monkeypatch)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = data.mnist1d(120)
    assert np.array_equal(np.random.get_state()[1], before)  # numpy's global state untouched
    b = data.mnist1d(120)
    assert a.X.shape == (120, 40, 1) and a.X.dtype == np.float64 and a.Y.shape == (120, 10)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.X, data.mnist1d(120, seed=7).X)
    noisy = data.mnist1d(120, noise=1e-6)
    assert 0 < np.abs(noisy.X - a.X).max() < 1e-4


def test_gaussian():
    ds = data.gaussian(30, (5, 2), m=3, seed=4)
    assert ds.X.shape == (30, 5, 2) and ds.Y.shape == (30, 3) and set(ds.labels) <= {0, 1, 2}
    assert np.array_equal(ds.X, data.gaussian(30, (5, 2), m=3, seed=4).X)
    assert not np.array_equal(ds.X, data.gaussian(30, (5, 2), m=3, seed=5).X)


def test_one_hot():
    assert data.one_hot([2, 0]).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert data.one_hot([1], 4).dtype == np.float64


@pytest.mark.parametrize("call, match", [
    (lambda: data.digits(0), r"`n`=0 for digits: expected an integer in \[1, 1797\]"),
    (lambda: data.digits(1798), r"`n`=1798 for digits"),
    (lambda: data.digits(2.5), r"`n`=2.5 for digits"),
    (lambda: data.digits(5, noise=-1.0), r"`noise`=-1.0 must be a finite non-negative standard deviation"),
    (lambda: data.digits(5, noise=float("nan")), r"`noise`=nan must be"),
    (lambda: data.mnist1d(0), r"`n`=0 for mnist1d"),
    (lambda: data.gaussian(-3, (2,)), r"`n`=-3 for gaussian"),
    (lambda: data.gaussian(3, (2,), m=0), r"`m`=0 for gaussian: expected a positive integer number of classes"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- Assumption 3.1 -----------------------------------------------------------------------------------


def test_raw_digits_violate_3_1_and_tiny_noise_restores_it(all_digits):
    raw = data.check_distinct_patches(DIGITS_ARCH, all_digits.X)
    assert not raw.holds and raw.num_samples == 1797 and (raw.num_patches, raw.patch_length) == (36, 9)
    assert raw.shared_patch_values > 0 and raw.samples_affected > 1 and raw.min_distance == 0.0
    i, j = raw.example  # a witness: two different samples sharing a patch value
    assert i != j
    P = all_digits.X.reshape(1797, -1)[:, DIGITS_ARCH.layer(1).patches]
    assert any(np.array_equal(p, q) for p in P[i] for q in P[j])
    noisy = data.check_distinct_patches(DIGITS_ARCH, data.digits(noise=1e-6, seed=0).X)
    assert noisy.holds and noisy.shared_patch_values == 0 and noisy.samples_affected == 0
    assert 0 < noisy.min_distance < 1e-4 and noisy.example is None


def test_counts_on_a_hand_made_example():
    arch = Architecture((4, 1), (Conv(1, (2,)), Output(1)))
    X = np.array([[0, 0, 1, 2],   # patches (0,0) (0,1) (1,2)
                  [5, 0, 0, 7],   # (5,0) (0,0) (0,7)       shares (0,0) with sample 0
                  [9, 9, 9, 9],   # (9,9) three times       repeats only inside itself
                  [1, 2, 5, 0]],  # (1,2) (2,5) (5,0)       shares (1,2) with 0 and (5,0) with 1
                 dtype=np.float64)[:, :, None]
    r = data.check_distinct_patches(arch, X)
    assert not r.holds and r.shared_patch_values == 3 and r.samples_affected == 3 and r.min_distance == 0.0
    assert r.to_dict()["samples_affected"] == 3 and "3 of 4 samples affected" in str(r)
    # zero padding is part of the patch: SAME-padded edges of (0, …) and (…, 0) samples collide
    same = Architecture((3, 1), (Conv(1, (2,), padding="SAME"), Output(1)))
    # patches (x0, x1), (x1, x2), (x2, pad): sample 0's last is (0, 0), sample 1's first is (0, 0)
    r = data.check_distinct_patches(same, np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 4.0]])[:, :, None])
    assert not r.holds and r.shared_patch_values == 1 and r.samples_affected == 2
    r = data.check_distinct_patches(arch, X[2:3])
    assert r.holds and r.min_distance == np.inf  # one sample: 3.1 holds vacuously


def _brute_min_distance(arch, X):
    idx = arch.layer(1).patches
    flat = np.concatenate([X.reshape(X.shape[0], -1), np.zeros((X.shape[0], 1))], axis=1)
    P = flat[:, np.where(idx < 0, flat.shape[1] - 1, idx)]
    return min(np.linalg.norm(P[i][:, None] - P[j][None], axis=-1).min()
               for i, j in itertools.combinations(range(X.shape[0]), 2))


def test_min_distance_matches_brute_force(rng):
    arch = Architecture((6, 2), (Conv(1, (3,), padding="SAME"), Output(1)))
    X = rng.standard_normal((7, 6, 2))
    r = data.check_distinct_patches(arch, X)
    assert r.holds and r.min_distance == pytest.approx(_brute_min_distance(arch, X), rel=1e-12)
    # clustered samples: each sample's 80 patches crowd together, so a patch's nearest 64 neighbours
    # often belong to its own sample and the search must look further
    long = Architecture((81, 1), (Conv(1, (2,)), Output(1)))
    Xc = np.arange(3)[:, None, None] * 10.0 + 1e-3 * rng.standard_normal((3, 81, 1))
    r = data.check_distinct_patches(long, Xc)
    assert r.holds and r.min_distance == pytest.approx(_brute_min_distance(long, Xc), rel=1e-12)


def test_check_distinct_patches_errors():
    arch = Architecture((4, 1), (Conv(1, (2,)), Output(1)))
    with pytest.raises(TypeError, match=r"`X` has dtype float32; pass float64 data"):
        data.check_distinct_patches(arch, np.zeros((2, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"`X` has shape \(2, 5, 1\); expected \(N, \*\(4, 1\)\)"):
        data.check_distinct_patches(arch, np.zeros((2, 5, 1)))
    X = np.zeros((2, 4, 1))
    X[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`X` contains NaN or Inf \(1 entries\)"):
        data.check_distinct_patches(arch, X)


def test_digits_read_without_sklearn_equal_load_digits(all_digits):
    """The table read from the bundled csv (no scikit-learn import) is load_digits' data and target."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    assert np.array_equal(all_digits.X.reshape(1797, 64) * 16.0, raw.data)
    assert np.array_equal(all_digits.labels, raw.target)
