"""theory_lab.krylov's step drivers against a naive numpy twin of the same recurrence (float64).

The CPU driver (``"host"``: the product jitted, the state and its update in numpy), the older CPU
driver (``"python"``: the product, then the update program, one flag read per step) and the
jitted-loop driver (``"loop"``) must build the same basis as a
plain numpy Lanczos with classical Gram–Schmidt twice, the same breakdown rule and the same
restart vectors: ``alpha``, ``beta`` and ``Q`` to 1e-12, the same depth, breakdowns and product count.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.testing import CountingMatvec
from theory_lab import krylov
from theory_lab.spectrum import dense_matvec

DRIVERS = ("host", "python", "loop")


def _cgs2(Q, w):  # as theory_lab.krylov._cgs2
    h = Q @ w
    w1 = w - Q.T @ h
    h2 = Q @ w1
    return w1 - Q.T @ h2, h + h2, w1


def lanczos_twin(A, q0, key, steps, restart):
    """The recurrence of :mod:`theory_lab.krylov` in numpy: ``(alpha, beta, Q rows, breakdowns)``."""
    dim = A.shape[0]
    Q, alpha, beta, scale, breakdowns = [q0 / np.linalg.norm(q0)], [], [], 0.0, 0
    for j in range(steps):
        Aq = A @ Q[j]
        w, h, w1 = _cgs2(np.array(Q), Aq)
        b = np.linalg.norm(w)
        scale = max(scale, np.linalg.norm(Aq))
        full = j + 1 >= dim
        broke = b <= krylov.BREAKDOWN_RTOL * scale or b < 0.5 * np.linalg.norm(w1) or full
        alpha.append(h[j])
        beta.append(0.0 if broke else b)
        breakdowns += broke
        if full or (broke and not restart):
            break
        if broke:  # restart from normal(fold_in(key, j)) made orthogonal to Q
            r = np.asarray(jax.random.normal(jax.random.fold_in(key, j), (dim,), jnp.float64))
            r = _cgs2(np.array(Q), _cgs2(np.array(Q), r)[0])[0]
            Q.append(r / np.linalg.norm(r))
        else:
            Q.append(w / b)
    return np.array(alpha), np.array(beta), np.array(Q[:len(alpha)]), breakdowns


counting_matvec = CountingMatvec()  # theory_lab.testing: counts the products actually made


def _low_rank(dim=40):
    rng = np.random.default_rng(11)
    lam = np.zeros(dim)
    lam[:6] = [5.0, 5.0, 4.0, 3.0, 2.0, 1.0]  # rank 6, one eigenvalue twice
    V, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (V * lam) @ V.T


def _random_symmetric(dim=80):
    rng = np.random.default_rng(12)
    A = rng.standard_normal((dim, dim))
    return (A + A.T) / 2


CASES = {  # name: (matrix, depths to extend to in turn, restart)
    "docstring rank 3": (np.diag([3.0, 3.0, 1.0, 0.0, 0.0]), (2, 5), True),
    "rank 6, restarts": (_low_rank(), (3, 9, 25), True),
    "rank 6, quadrature stops": (_low_rank(), (4, 30), False),
    "full rank": (_random_symmetric(), (1, 17, 30), True),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("driver", DRIVERS)
def test_drivers_build_the_twin_basis_and_count_every_product(name, driver):
    A, depths, restart = CASES[name]
    dim, norm = A.shape[0], float(np.abs(np.linalg.eigvalsh(A)).max())
    key = jax.random.key(5)
    counting_matvec.n = 0
    K = krylov.start(counting_matvec, dim, key, (A,), restart=restart, driver=driver, keep_products=True)
    q0 = np.asarray(K.state[0])[0]
    for depth in depths:  # extended in pieces, as spectrum.lanczos does
        K = krylov.extend(K, depth)
    jax.effects_barrier()  # host callbacks run asynchronously
    alpha, beta, Q, breakdowns = lanczos_twin(A, q0, K.key, depths[-1], restart)
    m = alpha.size
    assert (breakdowns > 0) == (name != "full rank")  # the low-rank cases do exercise breakdowns
    assert K.depth == m and K.num_matvecs == m == counting_matvec.n and K.breakdowns == breakdowns
    a, b, _ = K.tridiagonal()
    np.testing.assert_allclose(a, alpha, rtol=0, atol=1e-12 * norm)
    np.testing.assert_allclose(np.r_[b, K.tridiagonal()[2]], beta, rtol=0, atol=1e-12 * norm)
    np.testing.assert_array_equal(np.r_[b, K.tridiagonal()[2]] == 0.0, beta == 0.0)  # the same breakdowns
    np.testing.assert_allclose(np.asarray(K.state[0])[:m], Q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(K.state[8])[:m], Q @ A, rtol=0, atol=1e-12 * norm)  # kept products
    if not restart and breakdowns:
        assert K.done and m < depths[-1]  # a quadrature basis stops at its breakdown: no product beyond it


def test_the_drivers_agree_step_for_step():
    A = _low_rank()
    out = []
    for driver in DRIVERS:
        K = krylov.extend(krylov.start(dense_matvec, 40, jax.random.key(9), (A,), driver=driver), 20)
        out.append((*K.tridiagonal(), np.asarray(K.state[0])))
    for other in out[1:]:
        for x, y in zip(out[0], other):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-12 * 5.0)


class _HostMade:
    """``A @ v`` whose products are made on the host (``host_prepare``: a plain callable), counted."""

    n = 0

    def __call__(self, v, A):
        return A @ v

    def __hash__(self):
        return 0

    def __eq__(self, other):
        return isinstance(other, _HostMade)

    def host_prepare(self, A):
        A = np.asarray(A)

        def product(v):
            _HostMade.n += 1
            return jax.device_put(A @ np.asarray(v))
        return product


@pytest.mark.parametrize("driver", ("host", "python"))
def test_python_driven_drivers_take_products_made_on_the_host(driver):
    """A :class:`~theory_lab.operators.HostProduct` (looped data on CPU) drives both Python-driven drivers:
    the twin's basis, and one call of the host product per step."""
    A, depths, restart = CASES["rank 6, restarts"]
    key, op = jax.random.key(5), _HostMade()
    linear = krylov.prepare(op, A.shape[0], (A,), driver=driver)
    assert isinstance(linear, krylov.HostProduct)
    _HostMade.n = 0
    K = krylov.start(op, A.shape[0], key, (A,), restart=restart, driver=driver, linear=linear, keep_products=True)
    for depth in depths:
        K = krylov.extend(K, depth)
    alpha, beta, Q, breakdowns = lanczos_twin(A, np.asarray(K.state[0])[0], K.key, depths[-1], restart)
    assert K.num_matvecs == alpha.size == _HostMade.n and K.breakdowns == breakdowns > 0
    np.testing.assert_allclose(K.tridiagonal()[0], alpha, rtol=0, atol=1e-12 * 5.0)
    np.testing.assert_allclose(np.asarray(K.state[8])[:alpha.size], Q @ A, rtol=0, atol=1e-12 * 5.0)
