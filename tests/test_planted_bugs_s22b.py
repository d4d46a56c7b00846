"""Planted bugs in the verdict machinery, and four mutants of the search and the §4 checks left unplanted.

The tenth session planned four mutants it did not run: the search switching from Gauss–Newton to
Newton on ``max`` of the last loss ratios, the Newton model's predicted decrease without its ½,
Theorem 4.4's reverse direction deciding ``S_k`` at SVD rounding for a solver's point, and the
curvature checks' eigenvalue tolerance from ``max(λ)`` instead of ``max|λ|``. A further pass planted
bugs in the verdict machinery (:mod:`theory_lab.checking`, :mod:`theory_lab.evidence`,
:mod:`theory_lab.tolerances`, :mod:`proofs_checks.hypotheses`, the report's tally and ``verify
--strict``). Each test checks a mathematical property or a documented behaviour on a hand-built
instance and names in its docstring the planted bug it catches.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab import critical
from theory_lab import derivatives as D
from theory_lab import tolerances as T
from theory_lab.arch import Architecture, Dense, Output
from theory_lab.checking import Hypothesis, Verdict, conclude
from theory_lab.evidence import Evidence

TOL = T.Tolerance(1.0, 10.0, "unit", "a test's threshold")


# ----------------------------------------------------------------------------- critical: the switch to Newton


def _tiny_search_instance():
    import jax

    from theory_lab import model

    arch = Architecture((3,), (Dense(8), Output(1)))  # P = 41
    X = np.random.default_rng(0).standard_normal((4, 3))
    return arch, model.init(arch, jax.random.key(0)), X, np.ones((4, 1))


def _methods_for(monkeypatch, values):
    """The search's ``method`` when Gauss–Newton reports the loss ``values`` (accepted steps, ``‖∇Φ‖ = 1``)."""
    arch, params, X, Y = _tiny_search_instance()
    it = iter(values)

    def lm(obj, kernel_form, theta, lam, X, Y):
        return {"theta": theta, "lam": lam, "accepted": True, "trials": 1, "value": next(it), "grad_norm": 1.0}

    def newton(obj, mode, theta, lam, X, Y):
        return {"theta": theta, "lam": lam, "accepted": True, "trials": 1, "value": 1.0, "grad_norm": 1.0}
    monkeypatch.setattr(critical, "_lm_iteration", lm)
    monkeypatch.setattr(critical, "_newton_iteration", newton)
    res = critical.find_critical_point(arch, params, X, Y, classify=False, max_iter=len(values))
    return res.method, [h["method"] for h in res.history]


def test_newton_takes_over_only_after_five_settled_gauss_newton_steps(monkeypatch):
    """Planted bug: the switch to Newton on ``max`` of the last five loss ratios instead of ``min``.

    Documented: Newton takes over "once the loss settles (under 5% gain for 5 steps)". Halving the
    loss with one slow step among five is not settled: the search stays Gauss–Newton. Five ratios of
    0.99 are: Newton from the next iteration on (ratios start at the second iteration).
    """
    fast = [1.0, 0.5, 0.25, 0.99 * 0.25, 0.5 * 0.99 * 0.25, 0.25 * 0.99 * 0.25, 0.125 * 0.99 * 0.25]
    assert _methods_for(monkeypatch, fast)[0] == ("gauss-newton",)
    settled = [0.99 ** i for i in range(8)]
    method, per_iteration = _methods_for(monkeypatch, settled)
    assert method == ("gauss-newton", "newton")
    assert per_iteration == ["gauss-newton"] * 6 + ["newton"] * 2


# ----------------------------------------------------------------------------- §4 checks: solver points, eigenvalue scale


def test_theorem_4_4_decides_S_k_of_a_solver_point_at_the_forward_error():
    """Planted bug: Theorem 4.4's ``_reverse`` deciding ``S_k`` at SVD rounding whatever ``solver`` says.

    Two samples ``1e-11`` apart give ``F_1`` a singular value ``σ_4 ≈ 1e-11 σ_1``: ten times above
    SVD rounding, so an exact draw's ``F_1`` has rank ``N = 4`` (in ``S_1``); far below a solver's
    forward error ``1e-8 σ_1``, so a solver's point is conclusively outside ``S_1``.
    """
    from proofs_checks import loss_surface as LSC
    from theory_lab import model
    from theory_lab.linalg import rank_report
    from theory_lab.sampling import sample_params

    arch = Architecture((3,), (Dense(8), Dense(4), Output(2)))
    params = sample_params(arch, np.random.default_rng(1))
    X = np.random.default_rng(2).standard_normal((4, 3))
    X[3] = X[2] + 1e-11 * np.array([1.0, -1.0, 0.5])
    Y = np.random.default_rng(3).standard_normal((4, 2))
    s = rank_report(np.asarray(model.features(arch, params, X)[1])).singular_values
    assert 1e-13 < s[3] / s[0] < 1e-10
    exact = LSC._reverse(Evidence(), "draw", arch, params, X, Y, 1, False)
    solver = LSC._reverse(Evidence(), "search", arch, params, X, Y, 1, True)
    assert exact["in_S_k"] is True and exact["S_k_conclusive"]
    assert solver["in_S_k"] is False and solver["S_k_conclusive"]
    assert any("F_1" in r for r in solver["reasons"])


def test_curvature_eigenvalue_tolerance_scales_with_the_largest_eigenvalue_in_magnitude():
    """Planted bug: the curvature checks' ``_inertia`` taking ``‖H‖₂`` as ``max λ`` instead of ``max |λ|``.

    For ``λ = (−10, 1e-14, 1)`` (``P = 3``) the eigensolver's rounding is ``3 · eps · 10 ≈ 6.7e-15``:
    ``1e-14`` sits inside its band, so the inertia is inconclusive (with ``max λ = 1`` it would be a
    conclusive saddle). A negative definite Hessian is a maximum, with a non-negative tolerance.
    """
    from proofs_checks import curvature as CV

    inertia, tol = CV._inertia({"eig": np.array([-10.0, 1e-14, 1.0]), "P": 3})
    assert tol.value == pytest.approx(3 * T.EPS * 10.0, rel=1e-12, abs=0)  # 6.7e-15: below pytest's default abs=1e-12
    assert not inertia.conclusive
    inertia, tol = CV._inertia({"eig": np.array([-3.0, -2.0, -1.0]), "P": 3})
    assert tol.value == pytest.approx(3 * T.EPS * 3.0, rel=1e-12, abs=0)
    assert inertia.negative == 3 and inertia.conclusive and inertia.kind == "maximum"


def _quartic_net(params, X):
    """Residuals ``(x, y² − 1)``: ``Φ = ½x² + ½(y² − 1)²``; along ``x = 0``, ``Φ' = 2y(y² − 1)``, ``Φ'' = 6y² − 2``."""
    t = params["t"]
    return jnp.stack([t[0], t[1] ** 2 - 1.0])[None, :] * X


@pytest.mark.parametrize("y, lam", [(0.8, 0.3), (0.8, 0.0), (1.5, 0.0)])
def test_newton_gain_ratio_is_taken_against_the_quadratic_model(y, lam):
    """Planted bug: the Newton model's predicted decrease ``−(gᵀδ + δᵀHδ)`` (without the ½).

    The damping update follows the gain ratio ``ρ = (Φ(θ) − Φ(θ + δ)) / (−gᵀδ − ½ δᵀHδ)``: the
    damping of the accepted step is divided by 3 when ``ρ > 0.75``, kept when ``ρ ∈ (0.25, 0.75]``.
    Along ``x = 0`` everything is one-dimensional and computed here by hand: the damping used is
    read off the step (``δ = −g / (H + λ)``, the shift is ``1e-14 · H``), and ``ρ`` from ``Φ`` and
    the model. From ``y = 0.8`` the model overestimates the decrease (``ρ ≈ 0.4–0.6``).
    """
    obj, _ = D.from_model(_quartic_net, {"t": jnp.zeros(2)})
    X, Y = jnp.ones((1, 1)), jnp.zeros((1, 2))
    out = critical._newton_iteration(obj, "minimum", jnp.array([0.0, y]), jnp.asarray(lam), X, Y)
    assert bool(out["accepted"])
    theta = np.asarray(out["theta"])
    assert theta[0] == 0.0
    phi = lambda t: 0.5 * (t * t - 1.0) ** 2
    g, h, step = 2 * y * (y * y - 1), 6 * y * y - 2, float(theta[1]) - y
    used = -g / step - h
    rho = (phi(y) - phi(float(theta[1]))) / -(g * step + 0.5 * h * step ** 2)
    factor = 1 / 3 if rho > 0.75 else (1.0 if rho > 0.25 else 2.0)
    # `used` is read back as a difference of O(10) numbers: at λ = 0 (used ≈ 1e-8, the 1e-14·H shift) that
    # cancellation costs ~1e-6 relative; its rounding bound is the abs term (pytest's default abs=1e-12 hid it)
    cancel = 64 * np.finfo(np.float64).eps * (abs(g / step) + abs(h)) * factor
    assert 0 < used and float(out["lam"]) == pytest.approx(used * factor, rel=1e-6, abs=cancel), (rho, used)
    if y == 0.8:
        assert 0.25 < rho <= 0.75


# ----------------------------------------------------------------------------- checking: summaries


def test_a_converse_not_set_up_names_only_the_kept_hypothesis_it_misses():
    """Planted bug: a converse's *not applicable* summary listing every unmet hypothesis, the broken ones too.

    A converse's broken hypotheses are unmet on purpose; when a *kept* one is unmet, the summary must
    name that one alone (the broken one is as planned and is not why the rule stopped).
    """
    ev = Evidence()
    ev.at_least("σ_min", 1e-14, T.Tolerance(1e-10, 10.0, "test", "rounding"))
    r = conclude("rank F_1 = N", [Hypothesis("distinct samples", False, "gap 0"), Hypothesis("k", True)], ev,
                 broken=[Hypothesis("n_1 ≥ N", False, "n_1 = 10")])
    assert r.verdict is Verdict.NOT_APPLICABLE
    assert r.summary == "not applicable: converse of rank F_1 = N — unmet hypothesis: distinct samples (gap 0)"


# ----------------------------------------------------------------------------- evidence: non-finite values


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_non_finite_value_is_a_conclusive_violation_on_either_side(value):
    """Planted bug: :meth:`Evidence._compare` refusing only NaN (``math.isnan``), so ``+inf`` passed ``at_least``
    and ``−inf`` passed ``at_most`` conclusively. Documented: "NaN or Inf: a conclusive violation"."""
    ev = Evidence()
    for obs in (ev.at_least("gap", value, TOL), ev.at_most("‖r‖", value, TOL)):
        assert (obs.holds, obs.conclusive, obs.margin) == (False, True, 0.0)
    assert conclude("gap > 0", [Hypothesis("h", True)], ev).verdict is Verdict.FAILS


# ----------------------------------------------------------------------------- tolerances


@pytest.mark.parametrize("band", [0.5, 0.0, -10.0])
def test_a_tolerance_band_below_one_is_refused(band):
    """Planted bug: :class:`Tolerance` accepting any positive ``band`` (``> 0`` for ``≥ 1``).

    A band is a factor ``≥ 1`` around the threshold; with ``band < 1`` every value, the threshold
    itself included, would read as conclusive (``margin 1 ≥ 0.5``).
    """
    with pytest.raises(ValueError, match=r"band=.* must be a finite factor >= 1"):
        T.Tolerance(1.0, band, "bad", "a test")
    assert T.Tolerance(1.0, 1.0, "edge", "a test").band == 1.0



def test_the_critical_tolerance_keeps_a_unit_scale_for_targets_below_one():
    """Planted bug: :func:`tolerances.critical_tol` scaled by ``‖Y‖`` without its floor ``max(‖Y‖, 1)``.

    ``‖∇Φ‖ = ‖Jᵀr‖ ≤ ‖J‖ ‖r‖`` with ``r = F_L − Y``: for targets near 0 the residual's scale is not
    ``‖Y‖``. With ``Y = 0`` the bare product is a threshold of 0, against which no rounded gradient
    could ever count as critical; the code keeps ``GTOL_RTOL · ‖J‖₂`` (its docstring states the
    product only). Above ``‖Y‖ = 1`` the threshold is the product.
    """
    assert T.critical_tol(2.0, np.zeros((3, 2))).value == pytest.approx(2e-10, rel=1e-12, abs=0)
    assert T.critical_tol(2.0, np.full((1, 1), 0.5)).value == pytest.approx(2e-10, rel=1e-12, abs=0)
    assert T.critical_tol(2.0, np.full((1, 1), 3.0)).value == pytest.approx(6e-10, rel=1e-12, abs=0)


# ----------------------------------------------------------------------------- verify --strict


def _verify_strict(tmp_path, monkeypatch, kind, verdict):
    from typer.testing import CliRunner

    from theory_lab import checking
    from theory_lab.checking import Check, Result
    from theory_lab.cli import app

    monkeypatch.setattr(checking, "_LOCAL", [])
    checking.register(Check("test-s22b", "Test item", f"a {kind}", kind=kind,
                            run=lambda ctx: Result(verdict, [Hypothesis("h", True)], None, {}, f"{verdict.value}: x")))
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(
        app, ["verify", "--strict", "--check", "test-s22b", "-o", str(tmp_path)])


@pytest.mark.parametrize("verdict", [Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE])
def test_strict_exits_1_on_an_unsettled_converse(tmp_path, monkeypatch, verdict):
    """Planted bug: ``verify --strict`` looking only at ``kind == "check"``, so a converse that says
    *inconclusive* or *not applicable* passed. Documented: "a check or converse (not a probe)"."""
    res = _verify_strict(tmp_path, monkeypatch, "converse", verdict)
    assert res.exit_code == 1, res.output
    assert f"{verdict.value} (--strict): test-s22b" in res.output


# ----------------------------------------------------------------------------- margins and the inconclusive summary


def test_a_rank_past_its_exact_bound_has_an_infinite_margin():
    """Planted bug: :meth:`Evidence.rank` reading singular values past a certified ``rank_bound`` as real.

    Documented: the singular values past an exact-arithmetic bound are exact zeros. With ``σ_3 = 5e-10``
    (five times the tolerance 1e-10) but ``rank ≤ 2`` proved (two equal rows), ``rank ≤ 2`` holds at
    any scale (margin ``inf``), and ``rank == 2`` is decided by ``σ_2 / tol = 1e7`` alone.
    """
    from theory_lab.linalg import RankReport

    r = RankReport((3, 3), np.array([1.0, 1e-3, 5e-10]), 1e-10, 2, 1e7, 10.0, rank_bound=2,
                   certificate="rows 2 and 3 are equal")
    ev = Evidence()
    le, eq = ev.rank("A", r, 2, "<="), ev.rank("A", r, 2)
    assert (le.holds, le.conclusive, le.margin) == (True, True, math.inf)
    assert (eq.holds, eq.conclusive) == (True, True) and eq.margin == pytest.approx(1e7)


def test_an_inconclusive_summary_names_the_observation_nearest_its_threshold():
    """Planted bug: the *inconclusive* summary naming the smallest margin instead of the nearest to 1.

    Two observations inside a band of 10: ``‖r‖ = 5`` (violated by a factor 5, margin 0.2) and
    ``‖s‖ = 1/1.5`` (holds by a factor 1.5). The one nearest to flipping is ``‖s‖``; the verdict's
    margin is still the smallest (0.2).
    """
    ev = Evidence()
    ev.at_most("‖r‖", 5.0, TOL)
    ev.at_most("‖s‖", 1 / 1.5, TOL)
    r = conclude("exact fit", [Hypothesis("h", True)], ev)
    assert r.verdict is Verdict.INCONCLUSIVE and r.margin == pytest.approx(0.2)
    assert r.summary.startswith("inconclusive: exact fit — inside the tolerance band: ‖s‖ = ")
    assert r.summary.endswith("(and 1 more)")
