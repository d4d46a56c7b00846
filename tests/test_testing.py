"""The test helpers are themselves tested: a tolerance helper that ignored rtol would make every test meaningless."""

import numpy as np
import pytest

from theory_lab.testing import (
    assert_tree_allclose,
    finite_difference_grad,
    matrix_with_singular_values,
    tolerances,
    tree_allclose,
)


def test_tolerances_depend_on_dtype():
    r64, a64 = tolerances(np.float64)
    r32, a32 = tolerances(np.float32)
    assert r64 < r32 and a64 < a32
    assert tolerances(np.int64) == (0.0, 0.0)
    assert tolerances(np.complex128) == tolerances(np.float64)


def test_rtol_is_respected():
    b = np.array([1.0, 100.0])
    assert tree_allclose(b * (1 + 0.9e-6), b, rtol=1e-6, atol=0.0)
    assert not tree_allclose(b * (1 + 1.1e-6), b, rtol=1e-6, atol=0.0)
    # relative to |b|: an error of 5e-5 is fine at 100 with rtol 1e-6, not at 1
    assert tree_allclose(np.array([100.0 + 5e-5]), np.array([100.0]), rtol=1e-6, atol=0.0)
    assert not tree_allclose(np.array([1.0 + 5e-5]), np.array([1.0]), rtol=1e-6, atol=0.0)


def test_atol_is_respected():
    assert tree_allclose(np.array([1e-9]), np.array([0.0]), rtol=0.0, atol=2e-9)
    assert not tree_allclose(np.array([3e-9]), np.array([0.0]), rtol=0.0, atol=2e-9)


def test_default_tolerances_follow_each_leaf_dtype():
    x64 = np.ones(3)
    x32 = np.ones(3, np.float32)
    assert tree_allclose(x32 + np.float32(2e-6), x32)  # inside float32 defaults
    assert not tree_allclose(x64 + 2e-6, x64)  # outside float64 defaults
    assert tree_allclose(x64 + 1e-13, x64)


def test_structure_shape_dtype_and_nan_mismatches():
    a = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    assert tree_allclose(a, {"W": np.zeros((2, 3)), "b": np.zeros(3)})
    assert not tree_allclose(a, {"W": np.zeros((2, 3))})
    assert not tree_allclose(a, {"W": np.zeros((3, 2)), "b": np.zeros(3)})
    assert not tree_allclose(a, {"W": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)})
    nan = np.array([np.nan])
    assert not tree_allclose(nan, nan)
    assert tree_allclose(np.array([1, 2]), np.array([1, 2]))
    assert not tree_allclose(np.array([1, 2]), np.array([1, 3]))


def test_assert_tree_allclose_names_the_leaf():
    a = {"layer_1": {"W": np.zeros(4)}}
    b = {"layer_1": {"W": np.array([0.0, 0.0, 1.0, 0.0])}}
    with pytest.raises(AssertionError, match=r"'layer_1'.*'W'.*1 of 4 entries differ.*worst at \(2,\)"):
        assert_tree_allclose(a, b, err_msg="params")
    assert_tree_allclose(a, a)


def test_finite_difference_grad_matches_analytic_and_is_second_order():
    def f(x):
        return np.sum(np.sin(x) * x**2)

    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    np.testing.assert_allclose(finite_difference_grad(f, x), exact, rtol=0, atol=1e-8)
    # central differences: halving h divides the error by about 4
    e1 = np.max(np.abs(finite_difference_grad(f, x, h=1e-2) - exact))
    e2 = np.max(np.abs(finite_difference_grad(f, x, h=5e-3) - exact))
    assert 3.0 < e1 / e2 < 5.0


def test_matrix_with_singular_values(rng):
    s = np.array([5.0, 1.0, 1e-3, 1e-12])
    A = matrix_with_singular_values(s, (6, 4), rng)
    assert A.shape == (6, 4) and A.dtype == np.float64
    np.testing.assert_allclose(np.linalg.svd(A, compute_uv=False), s, rtol=1e-3, atol=1e-14)
    B = matrix_with_singular_values([2.0, 1.0], (3, 5), rng)  # rank 2 with exact zeros beyond
    sv = np.linalg.svd(B, compute_uv=False)
    np.testing.assert_allclose(sv[:2], [2.0, 1.0], rtol=1e-12)
    assert sv[2] < 1e-14
    with pytest.raises(ValueError, match=r"`s` must be at most min\(3, 5\) = 3 non-negative"):
        matrix_with_singular_values([1.0, 1.0, 1.0, 1.0], (3, 5), rng)
