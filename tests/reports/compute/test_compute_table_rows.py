"""The tables' aggregates (reports.compute.table_rows) against plain loops over hand-built variant tables."""

from statistics import mean

import pandas as pd
import pytest

from reports.compute import table_rows


def _vtable() -> pd.DataFrame:
    rows = []
    for h, clauses, trials in (("a", 8, 5), ("b", 16, 3)):
        for variant, n in (("dense", trials), ("dense_warmup", trials), ("clause", trials), ("random", trials - 1)):
            cap = clauses / 4 + (variant == "clause")
            rows.append(
                dict(
                    config_hash=h,
                    sweep="table_a1_a2",
                    task="boolean",
                    clauses=clauses,
                    k=4,
                    r=8,
                    alpha=2,
                    depth=1,
                    variant=variant,
                    n=n,
                    capacity_mean=cap,
                    capacity_sd=0.1 * clauses,
                )
            )
    return pd.DataFrame(rows)


def test_config_overview_has_each_config_once_with_its_variants_and_most_trials():
    v = _vtable()
    got = table_rows.config_overview(v).set_index("config_hash")
    assert list(got.index) == ["a", "b"]
    for h in ("a", "b"):
        mine = v[v["config_hash"] == h]
        assert got.loc[h, "variants"] == tuple(mine["variant"])
        assert got.loc[h, "trials"] == max(mine["n"])
        assert got.loc[h, "clauses"] == mine["clauses"].iloc[0]


def test_metric_cells_average_over_configs_of_one_m_and_alpha():
    v = _vtable()
    v = pd.concat([v, v.assign(config_hash=v["config_hash"] + "2", capacity_mean=v["capacity_mean"] + 1)])
    cells = table_rows.metric_cells(v, "capacity")
    assert list(cells["m"]) == [32, 64] and list(cells["alpha"]) == [2, 2]
    for _, c in cells.iterrows():
        for variant in ("dense", "clause", "random"):
            sel = v[(v["clauses"] * v["k"] == c["m"]) & (v["variant"] == variant)]
            assert c[f"{variant}_mean"] == pytest.approx(mean(sel["capacity_mean"]))
            assert c[f"{variant}_sd"] == pytest.approx(mean(sel["capacity_sd"]))
    assert table_rows.metric_cells(v, "no_such_metric").empty
