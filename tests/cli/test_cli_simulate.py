"""The ``simulate`` command: table, JSON shape, z-scores, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import assert_one_line_error


def test_table_shows_exact_and_monte_carlo_side_by_side(invoke):
    code, out, _ = invoke(
        ["simulate", "--m", "16", "--k", "2", "--alpha", "2", "--r", "2", "--trials", "5000", "--seed", "1"]
    )
    assert code == 0, out
    assert "family random" in out and "expected_collisions" in out and "FLAG" in out
    assert "collisions per trial:" in out
    assert "trials=5000 seed=1" in out


def test_json_has_required_keys_and_families_all_notes_undefined(invoke):
    args = ["--m", "16", "--k", "2", "--alpha", "4", "--r", "3", "--trials", "4000", "--json"]
    code, out, _ = invoke(["simulate", *args, "--threads", "1"])
    assert code == 0, out
    data = json.loads(out)
    assert data["trials"] == 4000 and data["seed"] == 0 and data["seconds"] >= 0
    assert (data["m"], data["k"], data["alpha"], data["r"], data["threads"]) == (16, 2, 4, 3, 1)
    assert set(data["families"]) == {"overlap", "random", "clause"}
    assert "structured_2_4" in data["undefined"] and "alpha=2" in data["undefined"]["structured_2_4"]
    for fam in data["families"].values():
        for q in ("p_all_covered", "expected_covered", "expected_collisions"):
            row = fam[q]
            assert set(row) >= {"exact", "estimate", "stderr", "ci_low", "ci_high", "z", "flag"}
            assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
            assert abs(row["z"]) < 4.5
        assert fam["neurons_cover_ge1"]["exact"] is None and fam["neurons_cover_ge2"]["estimate"] >= 0
        assert sum(fam["collision_histogram"]) == 4000
    # same seed, same numbers (seconds aside)
    again = json.loads(invoke(["simulate", *args, "--threads", "2"]).stdout)
    assert again["families"] == {
        k: v | {"seconds": again["families"][k]["seconds"]} for k, v in data["families"].items()
    }


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--trials", "0"], "trials=0"),
        (["--family", "bogus"], "family='bogus'"),
        (["--alpha", "4", "--family", "structured_2_4"], "alpha=4"),
        (["--m", "12", "--k", "4", "--alpha", "2", "--family", "clause"], "alpha=2"),
        (["--m", "10", "--k", "4"], "k=4"),
        (["--alpha", "1"], "alpha=1"),
        (["--r", "0"], "r=0"),
        (["--seed", "-3"], "seed=-3"),
        (["--threads", "0", "--trials", "10"], "threads=0"),
        (["--m", "x"], "'--m'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle):
    proc = subprocess.run([sys.executable, "cli.py", "simulate", *args], capture_output=True, text=True)
    assert_one_line_error(proc, needle)


def test_wide_collision_distribution_is_summarised_by_quantiles(invoke):
    code, out, _ = invoke(["simulate", "--m", "128", "--k", "2", "--alpha", "2", "--r", "2", "--trials", "3000"])
    assert code == 0, out
    line = [x for x in out.splitlines() if x.startswith("collisions per trial:")][0]
    assert "median" in line and "95%" in line and "histogram in --json" in line


def test_an_estimate_of_zero_gets_the_exact_interval_from_zero(invoke):
    """No trial covers every clause: the interval is [0, exact upper bound], never one that excludes 0."""
    from scipy.stats import binomtest

    code, out, _ = invoke(["simulate", "--family", "random", "--trials", "2000", "--threads", "1", "--json"])
    assert code == 0, out
    row = json.loads(out)["families"]["random"]["p_all_covered"]
    assert row["estimate"] == 0.0 and row["ci_low"] == 0.0
    assert row["ci_high"] == pytest.approx(binomtest(0, 2000).proportion_ci(method="exact").high, rel=1e-9)
