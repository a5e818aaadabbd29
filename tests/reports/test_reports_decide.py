"""``reports.decide``: the plan file round-trips, and a config chosen by two claims is trained to the larger count."""

import math
from pathlib import Path

import pytest

from reports.compute.decide_plan import PlannedClaim
from reports.decide import merged_targets, read_plan, write_plan


def _claim(id_, targets, status="planned", needed=40.0, eta=12.5):
    return PlannedClaim(
        id=id_,
        claim="c",
        direction="undecided",
        robustness="robust",
        comparison="x - y",
        effect=10.0,
        unit="pts",
        effect_source="the paper's difference",
        per="trials",
        n_now=5,
        n_needed=needed,
        status=status,
        sweeps=tuple(sorted({s for s, _, _ in targets})),
        configs=len(targets),
        trials_per_config=max((n for _, _, n in targets), default=0),
        targets=tuple(targets),
        eta_seconds=eta,
    )


def test_a_config_chosen_by_two_claims_gets_the_larger_count_and_unplanned_claims_add_nothing():
    a = _claim("E1a", [("case_study", "h1", 40), ("fig3a", "h2", 40)])
    b = _claim("E6a", [("fig3a", "h2", 123), ("fig3a", "h3", 123)])
    c = _claim("E8", [("fig3a", "h4", 9000)], status="undecidable at this budget (needs more than 10000 trials)")
    want = {}
    for p in (a, b):  # the larger of the claims' counts, by a plain loop
        for s, h, n in p.targets:
            want[h] = (want.get(h, (s, 0))[0], max(want.get(h, (s, 0))[1], n))
    assert merged_targets([a, b, c]) == want == {"h1": ("case_study", 40), "h2": ("fig3a", 123), "h3": ("fig3a", 123)}
    assert merged_targets([b, a]) == want  # order of the claims does not matter


def test_the_plan_file_round_trips_with_infinite_needs_and_missing_etas(tmp_path: Path):
    store = tmp_path / "r.db"
    planned = [
        _claim("E1a", [("case_study", "h1", 40)]),
        _claim(
            "E7b", [], status="undecidable at this budget (needs more than 10000 trials)", needed=math.inf, eta=math.nan
        ),
    ]
    head = dict(preset="quick", store=str(store.resolve()), planned_at="2026-01-01T00:00:00Z", rows=12)
    write_plan(tmp_path / "decide_plan.json", head, planned)
    got_head, got = read_plan(tmp_path / "decide_plan.json", "quick", store)
    assert got_head == head
    assert got[0] == planned[0]
    assert got[1].n_needed == math.inf and math.isnan(got[1].eta_seconds)
    assert got[1] == PlannedClaim(**{**planned[1].__dict__, "eta_seconds": got[1].eta_seconds})
    with pytest.raises(ValueError, match="planned for preset 'quick', not 'paper'"):
        read_plan(tmp_path / "decide_plan.json", "paper", store)
