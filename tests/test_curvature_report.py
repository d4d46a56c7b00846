"""The Hessian-at-a-point report: matrix-free numbers vs the dense Hessian, bulk, progress, errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import batching
from theory_lab import curvature_report as C
from theory_lab import derivatives as D
from theory_lab import objective as O
from theory_lab import operators
from theory_lab import presets
from theory_lab.arch import Architecture, Dense, Output

ARCH = Architecture((3,), (Dense(4), Output(2)))


def test_bulk_interval_stops_at_gaps():
    grid = np.linspace(0, 10, 11)
    dens = np.array([0, 1, 5, 9, 4, 0, 0, 0, 3, 0, 0], dtype=float)
    assert C.bulk_interval(grid, dens, level=0.1) == (1.0, 4.0)


def _tanh_net(p, X):
    return jnp.tanh(X @ p["w1"]) @ p["w2"]


def test_spectrum_report_on_a_model_in_batches_matches_the_dense_hessian():
    rng = np.random.default_rng(4)
    params = {"w1": rng.standard_normal((3, 5)), "w2": rng.standard_normal((5, 3))}
    obj, theta = O.from_model(_tanh_net, params, loss="softmax-cross-entropy", reduction="mean")
    X, labels = rng.standard_normal((9, 3)), rng.integers(0, 3, 9)
    seen, results = [], []
    rep = C.spectrum_report(obj, theta, batching.batches(X, labels, 4), k=3, probes=2, steps=12, trace_matvecs=12,
                            progress=lambda stage, done, planned: seen.append((stage, done, planned)),
                            on_result=lambda stage, entries: results.append((stage, entries, seen[-1][0])))
    eig = np.linalg.eigvalsh(np.asarray(D.hessian(obj, theta, X, labels)))
    top = np.asarray(rep["top"]["values"])
    assert all(rep["top"]["converged"])
    np.testing.assert_allclose(top, eig[::-1][:3], rtol=0, atol=1e-10 * np.abs(eig).max())
    assert rep["N"] == 9 and rep["m"] == 3 and rep["num_batches"] == 3 and rep["loss_function"] == "softmax-cross-entropy"
    assert rep["inertia"]["method"] == "exact" and rep["inertia"]["positive"] == int(np.sum(eig > rep["inertia"]["tol"]))
    # progress: products done never decrease, each stage announced in order (and maybe again inside it, as its
    # products are made), the last call says done = planned
    assert [s for i, (s, _, _) in enumerate(seen) if i == 0 or seen[i - 1][0] != s] == [*C.STAGES, "done"]
    assert all(a[1] <= b[1] for a, b in zip(seen, seen[1:])) and seen[-1][1] == seen[-1][2] == rep["products"]["total"]
    # results: each stage's entries, equal to the report's, given when the stage ends (before the next starts)
    assert [s for s, _, _ in results] == list(C.STAGES)
    assert [during for _, _, during in results] == list(C.STAGES)
    for _, entries, _ in results:
        assert entries and all(entries[key] == rep[key] for key in entries)
    assert set().union(*(entries for _, entries, _ in results)) == {"loss", "gradient_norm", "top", "bottom",
                                                                   "density", "trace", "inertia"}


def test_observed_products_are_every_product_made_from_the_host():
    from theory_lab.spectrum import dense_matvec

    A = np.diag([1.0, 2.0, 3.0])
    outer, inner = [], []
    with operators.observe_products(outer.append):
        operators.apply_one(dense_matvec, None, (A,), np.ones(3))
        with operators.observe_products(inner.append):  # nested: both observers see the products
            operators.products(dense_matvec, 3, (A,), np.eye(3)[:2])
            operators.apply_batch(dense_matvec, None, (A,), np.eye(3))
            np.testing.assert_array_equal(np.asarray(operators.dense(dense_matvec, 3, (A,))), A)
    operators.apply_one(dense_matvec, None, (A,), np.ones(3))  # outside: nobody is called
    assert inner == [1, 1, 3, 1, 1, 1] and outer == [1, *inner]


def test_spectrum_report_counts_the_products_it_makes_and_shows_them_within_a_stage(monkeypatch):
    # the products each stage reports as done are the applications actually made (counted from outside), and
    # with a report after every product the bar moves inside a stage without ever going back
    monkeypatch.setattr(C, "PROGRESS_EVERY", 0.0)
    rng = np.random.default_rng(2)
    theta, X, Y = rng.standard_normal(ARCH.num_params), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    seen, counted = [], {}

    def count(n):
        counted[seen[-1][0]] = counted.get(seen[-1][0], 0) + n

    with operators.observe_products(count):
        rep = C.spectrum_report(ARCH, theta, X, Y, k=2, probes=2, steps=8, trace_matvecs=12,
                                progress=lambda stage, done, planned: seen.append((stage, done, planned)))
    made = {stage: n for stage, n in rep["products"]["done"].items() if stage != "loss and gradient"}
    assert counted == made and made["inertia"] == ARCH.num_params  # the exact inertia: one product per column
    assert all(a[1] <= b[1] for a, b in zip(seen, seen[1:])) and seen[-1][1] == rep["products"]["total"]
    first = {}
    for stage, done, _ in seen:
        first.setdefault(stage, done)
    within = [done for stage, done, _ in seen if stage == "SLQ density" and done > first["SLQ density"]]
    assert within and max(within) == first["SLQ density"] + made["SLQ density"]


def test_spectrum_report_refuses_a_non_finite_loss():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(ARCH.num_params)
    X, Y = rng.standard_normal((4, 3)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="the loss at θ is (nan|inf).*not finite"):  # finite θ, overflowing Φ
        C.spectrum_report(ARCH, np.full_like(theta, 1e300), X, Y, k=1, probes=1, steps=4, trace_matvecs=6)
    theta[0] = np.nan  # a NaN θ is refused before the loss (objective.check_theta)
    with pytest.raises(ValueError, match=r"`theta`: θ\[0\] is nan; 1 of 26 parameters are NaN or Inf"):
        C.spectrum_report(ARCH, theta, X, Y, k=1, probes=1, steps=4, trace_matvecs=6)
    with pytest.raises(ValueError, match="`operator`='fisher' is unknown"):
        C.spectrum_report(ARCH, theta, X, Y, operator="fisher")
    theta[0] = 0.0
    with pytest.raises(TypeError, match=r"`on_result`='print' is not callable; pass a function \(or None\)"):
        C.spectrum_report(ARCH, theta, X, Y, on_result="print")
    with pytest.raises(TypeError, match="`progress`=3 is not callable"):
        C.spectrum_report(ARCH, theta, X, Y, progress=3)
    with pytest.raises(TypeError, match="`callback`=0 is not callable; pass a function of the number of products"):
        with operators.observe_products(0):
            pass


def test_hessian_report_and_inertia_use_the_one_inertia_rule():
    rng = np.random.default_rng(1)
    obj = D.objective(ARCH)
    params = obj.layout.unravel(rng.standard_normal(obj.P))
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    rep = C.hessian_report(ARCH, params, X, Y)
    np.testing.assert_allclose(rep["H"], rep["GN"] + np.asarray(D.residual_hessian(obj, rep["theta"], X, Y)),
                               rtol=0, atol=1e-12 * np.abs(rep["H"]).max())
    assert rep["loss"] == pytest.approx(0.5 * rep["r"] @ rep["r"], rel=1e-14, abs=0)
    inert = rep["inertia"]
    assert inert.negative + inert.zero + inert.positive == obj.P and inert.kind == "saddle"  # Φ > 0, random point
    at_point = C.hessian_inertia(ARCH, params, X, Y)
    assert (at_point.negative, at_point.positive) == (inert.negative, inert.positive)
    assert at_point.tol == pytest.approx(1e-9 * np.abs(rep["eig"]).max(), abs=0)


def test_presets_are_one_home_for_named_networks():
    assert presets.verify_digits() == presets.architecture("digits-wide")
    assert presets.curvature_small().num_params == 584
    assert presets.architecture("digits-curvature") == presets.curvature_small()
    with pytest.raises(ValueError, match="`--arch`='vgg' is not a preset"):
        presets.architecture("vgg")
    with pytest.raises(ValueError, match="`--model`='vgg' is not a preset model"):
        presets.model("vgg")


def test_resnet_preset_is_float64_with_fixed_batch_statistics():
    from theory_lab import resnet

    net, variables, (X, labels) = presets.digits_resnet_bn(16, widths=(2, 4))
    obj, theta = O.from_model(net, variables, loss="softmax-cross-entropy")
    assert obj.P == resnet.num_params(variables["params"]) and theta.dtype == np.float64
    assert X.shape == (16, 8, 8, 1) and labels.dtype.kind == "i"
    stats = variables["batch_stats"]["ResidualBlock_0"]["BatchNorm_0"]
    assert stats["mean"].dtype == np.float64 and np.abs(np.asarray(stats["mean"])).max() > 0  # from the data
    assert np.isfinite(float(D.loss(obj, theta, X, labels)))
