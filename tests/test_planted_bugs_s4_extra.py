"""``proofs_checks.s4_extra``: each check fails on a planted bug and says *not applicable* when unmet."""

from importlib import metadata

import jax.numpy as jnp
import pytest

from proofs_checks import s4_extra
from proofs_checks import s4_instances as S
from theory_lab import loss_surface as LS
from theory_lab.checking import ENTRY_POINT_GROUP, Context, Verdict


def _run(check_id: str, seed: int = 0):
    checks = {c.id: c for c in s4_extra.CHECKS}
    return checks[check_id].run(Context(seed))


def test_registered_under_the_s4_extra_entry_point():
    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "s4-extra"]
    assert len(eps) == 1 and {c.id for c in eps[0].load()} == {c.id for c in s4_extra.CHECKS}


def _zeroes_W_k(mp):
    """The construction zeroes ``W_k`` instead of ``W_{k+1}`` (the point is still critical, outside S_k)."""
    real = LS.bad_critical_point

    def wrong(arch, params, Y, k):
        p = real(arch, params, Y, k)
        p[f"layer_{k + 1}"] = dict(p[f"layer_{k + 1}"], W=params[f"layer_{k + 1}"]["W"])
        p[f"layer_{k}"] = dict(p[f"layer_{k}"], W=jnp.zeros_like(params[f"layer_{k}"]["W"]))
        return p
    mp.setattr(LS, "bad_critical_point", wrong)


def _b_L_zero(mp):
    real = LS.bad_critical_point

    def wrong(arch, params, Y, k):
        p = real(arch, params, Y, k)
        p[f"layer_{arch.L}"] = dict(p[f"layer_{arch.L}"], b=jnp.zeros(arch.widths[-1]))
        return p
    mp.setattr(LS, "bad_critical_point", wrong)


@pytest.mark.parametrize("plant", [_zeroes_W_k, _b_L_zero])
def test_a_planted_bug_makes_the_construction_check_fail(plant, monkeypatch):
    before = _run("bad-critical-point-construction")
    assert before.verdict is Verdict.HOLDS and before.set_up
    plant(monkeypatch)
    result = _run("bad-critical-point-construction")
    assert result.verdict is Verdict.FAILS and result.summary.startswith("fails: "), result.summary
    assert result.margin is not None and result.margin < 1 and "violated" in result.summary


def test_no_layer_between_k_and_L_gives_not_applicable(monkeypatch):
    monkeypatch.setattr(s4_extra, "_cases", lambda ctx: [("k + 1 = L", S.pyramidal(), S.digits(ctx, S.N_WIDE).Y, 2)])
    result = _run("bad-critical-point-construction")
    assert result.verdict is Verdict.NOT_APPLICABLE and "k + 1 < L" in result.summary, result.summary
