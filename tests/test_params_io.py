"""Saved parameter points (theory_lab.params_io): every bad file refused at load, with the fix."""

import numpy as np
import pytest

from theory_lab.arch import Architecture, Conv, Dense, Output
from theory_lab.derivatives import layout
from theory_lab.params_io import load_theta

ARCH = Architecture((4, 1), (Conv(2, (2,)), Dense(3), Output(1)))
LAY = layout(ARCH)


def _leaves(theta):
    return {f"layer_{leaf.k}/{leaf.name}": theta[leaf.start:leaf.stop].reshape(leaf.shape) for leaf in LAY.leaves}


def test_theta_and_leaves_give_the_same_point(tmp_path):
    theta = np.random.default_rng(0).standard_normal(LAY.P)
    np.savez(tmp_path / "a.npz", theta=theta)
    np.savez(tmp_path / "b.npz", **_leaves(theta))
    a, b = load_theta(tmp_path / "a.npz", LAY), load_theta(tmp_path / "b.npz", LAY)
    np.testing.assert_array_equal(a.theta, theta)
    np.testing.assert_array_equal(b.theta, theta)
    assert a.notes == b.notes == ()


@pytest.mark.parametrize("bad, where", [(np.inf, 5), (np.nan, LAY.P - 1)])
def test_non_finite_values_are_refused_naming_leaf_and_index(tmp_path, bad, where):
    theta = np.ones(LAY.P)
    theta[where] = bad
    np.savez(tmp_path / "p.npz", theta=theta)
    leaf = next(leaf for leaf in LAY.leaves if leaf.start <= where < leaf.stop)
    idx = ", ".join(str(int(i)) for i in np.unravel_index(where - leaf.start, leaf.shape))
    with pytest.raises(ValueError, match=rf"θ\[{where}\] = layer_{leaf.k}/{leaf.name}\[{idx}\] is {bad}; 1 of "
                                         rf"{LAY.P} parameters are NaN or Inf"):
        load_theta(tmp_path / "p.npz", LAY, name="--params")


def test_files_that_are_not_npz_archives(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(LAY.P))
    (tmp_path / "t.txt").write_text("1 2 3\n")
    np.savez(tmp_path / "ok.npz", theta=np.ones(LAY.P))
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"is not an .npz archive \(a .npy array\); make one with "
                                         r"numpy.savez\(path, theta=theta\)"):
        load_theta(tmp_path / "a.npy", LAY)
    with pytest.raises(ValueError, match=r"is not an .npz archive \(not a zip archive\)") as err:
        load_theta(tmp_path / "t.txt", LAY)
    assert "allow_pickle" not in str(err.value)
    with pytest.raises(ValueError, match=r"not an .npz archive numpy can read \(damaged, truncated"):
        load_theta(tmp_path / "cut.npz", LAY)
    with pytest.raises(ValueError, match=r"is not an existing file"):
        load_theta(tmp_path / "missing.npz", LAY)


def test_dtypes_complex_refused_casts_reported(tmp_path):
    np.savez(tmp_path / "c.npz", theta=np.ones(LAY.P) * (1 + 1j))
    with pytest.raises(ValueError, match=r"`theta` is complex \(complex128\); .* imaginary part"):
        load_theta(tmp_path / "c.npz", LAY)
    np.savez(tmp_path / "i.npz", theta=np.arange(LAY.P))
    loaded = load_theta(tmp_path / "i.npz", LAY)
    assert loaded.theta.dtype == np.float64 and loaded.notes == ("`theta` has dtype int64; cast to float64.",)
    np.savez(tmp_path / "s.npz", theta=np.array(["a"] * LAY.P))
    with pytest.raises(ValueError, match=r"`theta` has dtype <U1; expected float64 numbers"):
        load_theta(tmp_path / "s.npz", LAY)


def test_keys_found_vs_expected_and_extra_keys(tmp_path):
    leaves = _leaves(np.zeros(LAY.P))
    np.savez(tmp_path / "x.npz", theta=np.zeros(LAY.P), lr=np.array(0.1))
    assert load_theta(tmp_path / "x.npz", LAY).notes == ("ignored key(s) ['lr']: `theta` holds the whole point.",)
    missing = dict(leaves)
    del missing["layer_2/b"]
    np.savez(tmp_path / "m.npz", **missing)
    with pytest.raises(ValueError, match=r"lacks \['layer_2/b'\]\. Keys found: layer_1/W \(2, 2\), .* Expected "
                                         rf"`theta` \({LAY.P},\) or: layer_1/W \(2, 2\), layer_1/b \(6,\)"):
        load_theta(tmp_path / "m.npz", LAY)
    wrong = dict(leaves, **{"layer_2/W": np.zeros((3, 6))})
    np.savez(tmp_path / "w.npz", **wrong)
    with pytest.raises(ValueError, match=r"`layer_2/W` has shape \(3, 6\); expected \(6, 3\).*transposed"):
        load_theta(tmp_path / "w.npz", LAY)
    np.savez(tmp_path / "t.npz", theta=np.zeros(LAY.P + 1))
    with pytest.raises(ValueError, match=rf"`theta` has shape \({LAY.P + 1},\); this architecture needs \({LAY.P},\)"):
        load_theta(tmp_path / "t.npz", LAY)
