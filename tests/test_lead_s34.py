"""Session 34 (lead): a bool is not a layer index or a step count anywhere in the loss-surface API.

``isinstance(True, int)`` holds in Python, so ``k=True`` used to be read as layer 1 and ``steps=True`` as one
Adam step, silently. Each function now refuses it, naming the argument (``validate.is_integer``).
"""

import numpy as np
import pytest

from theory_lab import gradient_probes, loss_surface
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.sampling import sample_params

ARCH = Architecture((3,), (Dense(4, "tanh"), Dense(3, "tanh"), Output(2)))
X = np.random.default_rng(0).standard_normal((5, 3))
Y = np.random.default_rng(1).standard_normal((5, 2))
PARAMS = sample_params(ARCH, 0)


@pytest.mark.parametrize("flag", [True, np.bool_(True)])
def test_loss_surface_refuses_a_bool_layer(flag):
    U = np.zeros((ARCH.widths[0], ARCH.widths[1]))
    with pytest.raises(ValueError, match=r"`j`=.*True.* is not a layer of this network"):
        loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, flag, U)
    with pytest.raises(ValueError, match=r"`k`=.*True.* must be a hidden layer"):
        loss_surface.backprop(ARCH, PARAMS, X, Y, flag)
    with pytest.raises(ValueError, match=r"`k`=.*True.* must be a hidden layer"):
        gradient_probes.attaining_point(ARCH, PARAMS, X, flag)


def test_small_gradient_search_refuses_a_bool_step_count():
    with pytest.raises(ValueError, match=r"`steps`=True must be a positive integer"):
        gradient_probes.small_gradient_search(ARCH, PARAMS, X, Y, 1, steps=True)


def test_the_same_calls_accept_numpy_integers():
    """The refusal is of bools, not of numpy integers (which ``isinstance(.., int)`` alone would refuse)."""
    U = np.zeros((ARCH.widths[0], ARCH.widths[1]))
    F_np = loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, np.int64(1), U)
    F_py = loss_surface.forward_with_full_matrix(ARCH, PARAMS, X, 1, U)
    np.testing.assert_array_equal(np.asarray(F_np), np.asarray(F_py))
    b_np = loss_surface.backprop(ARCH, PARAMS, X, Y, np.int32(1))
    b_py = loss_surface.backprop(ARCH, PARAMS, X, Y, 1)
    np.testing.assert_array_equal(np.asarray(b_np.grad_U[ARCH.L]), np.asarray(b_py.grad_U[ARCH.L]))
