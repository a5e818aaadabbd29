"""Experiments planned from power: which claims, what decides them, how many trials, and the cost."""

import math
from dataclasses import replace

from reports.compute.decide_plan import BUDGET, plan_claims
from reports.compute.verdicts import Verdict
from reports.presets import get_preset

QUICK = get_preset("quick")


def _v(id_="E1a", direction="undecided", n=5, needed=40.0, n_of="trials", robustness="robust", sweeps=("case_study",)):
    return Verdict(
        id=id_,
        name=id_,
        claim="c",
        source="s",
        quote="q",
        in_paper=True,
        evidence="paired x - y",
        unit="pts",
        unit_of_analysis="trial",
        direction=direction,
        size="--",
        scope="paper's setting",
        robustness=robustness,
        effect=1.0,
        ci=(-1.0, 3.0),
        confidence=0.95,
        n=n,
        n_of=n_of,
        p=0.2,
        p_adj=0.4,
        power=0.3,
        n_needed=needed,
        reference=10.0,
        reference_source="the paper's difference",
        plan=dict(sweeps=list(sweeps)),
    )


def test_an_underpowered_trial_claim_is_planned_with_its_cost_from_the_planner():
    from fpe_train.sweeps.plan import config_counts
    from reports.presets import load_sweeps

    (p,) = plan_claims([_v()], QUICK)
    assert p.status == "planned" and p.trials_per_config == 40
    configs = [c for s in load_sweeps(QUICK) if s.name == "case_study" for c in s.configs]
    assert p.configs == len(configs) and p.extra_trials == 40 * len(configs)  # nothing stored yet
    assert p.model_epochs == sum(config_counts(replace(c, trials=40)).model_epochs for c in configs)
    assert math.isnan(p.eta_seconds)  # no timed rows: no ETA


def test_decided_robust_claims_are_not_planned_and_big_ones_are_undecidable():
    assert plan_claims([_v(direction="supported")], QUICK) == []
    (big,) = plan_claims([_v(needed=math.inf)], QUICK)
    assert big.status.startswith(f"undecidable at this budget (needs more than {BUDGET}")
    (grid,) = plan_claims([_v(n_of="configs", n=12, needed=148.0)], QUICK)
    assert grid.status.startswith("more configurations: 148 needed, 12 stored")


def test_a_verdict_hanging_on_a_constant_is_planned_at_its_most_demanding_value():
    v = _v(direction="no effect detected", n=10, needed=8.0, robustness="depends on fallback effect: ...")
    v = replace(v, plan=dict(v.plan, strictest=dict(constant="fallback effect", value="1 pts", effect=1.0, needed=34)))
    (p,) = plan_claims([v], QUICK)
    assert (p.status, p.trials_per_config, p.effect) == ("planned", 34, 1.0)
