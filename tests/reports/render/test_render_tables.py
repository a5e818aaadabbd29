"""reports.render.tables against numbers recomputed here (brute force, numpy)."""

import itertools

import numpy as np
import pandas as pd

from reports.compute import frame, table_rows, theory
from reports.compute.paper_comparison import paper_rows
from reports.render import tables


def _case_frame(trials=7, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(trials):
        for v, base in (("dense", 0.75), ("dense_warmup", 0.72), ("random", 0.80), ("clause", 0.9)):
            rows.append(
                dict(
                    config_hash="c",
                    trial=t,
                    variant=v,
                    test_accuracy=base + 0.03 * rng.standard_normal(),
                    sweep="case_study",
                    task="boolean",
                    clauses=8,
                    k=4,
                    r=8,
                    alpha=2,
                    depth=1,
                    warmup_epochs=10,
                    epochs=10,
                    rewire_every=0,
                    status="done",
                    error=None,
                )
            )
    return pd.DataFrame(rows)


def test_paper_table_has_expected_best_of_five_by_brute_force():
    f = _case_frame()
    pairs = frame.paired(f)
    text = tables.paper_vs_ours(paper_rows(frame.variant_table(f), frame.summarize(pairs), pairs))
    for v in ("random", "clause", "dense"):
        x = f[f.variant == v].test_accuracy.to_numpy()
        best = np.mean([max(c) for c in itertools.combinations(x, 5)])
        line = next(line for line in text.splitlines() if line.startswith(f"case study, {v} "))
        cells = [c.strip() for c in line.rstrip("\\ ").split("&")]
        assert cells[3] == f"{100 * x.mean():.1f}\\%" and cells[4] == f"{100 * best:.1f}\\%" and cells[5] == "5"
    assert "case study, dense after warm-up only" in text


def test_paper_table_best_of_t_needs_t_trials():
    f = _case_frame(trials=3)
    pairs = frame.paired(f)
    text = tables.paper_vs_ours(paper_rows(frame.variant_table(f), frame.summarize(pairs), pairs))
    line = next(line for line in text.splitlines() if line.startswith("case study, random "))
    assert [c.strip() for c in line.split("&")][4] == "--"


def test_improvement_rows_show_every_distinguishing_field():
    f = pd.concat([_case_frame(), _case_frame(seed=1).assign(config_hash="d", rewire_every=10, rewire_fraction=0.2)])
    s = frame.summarize(frame.paired(f))
    body = [line for line in tables.improvement_table(s).splitlines() if "&" in line and "sweep" not in line]
    firsts = {tuple(c.strip() for c in line.split("&")[:9]) for line in body}
    assert len(firsts) == len(body)  # no two rows look alike in their configuration cells
    assert any("10/0.20" in line for line in body)


def test_pruning_summary_says_how_much_pruning_moves_each_quantity():
    pred = pd.DataFrame(
        dict(
            exact_covered=[4.0, 8.0, 2.0],
            mask_covered=[3.0, 8.0, 2.5],
            exact_collisions=[1.0, 2.0, 0.5],
            mask_collisions=[0.5, 1.0, 0.5],
            exact_all_covered=[0.9, 0.5, 0.99],
            mask_all_covered=[0.8, 0.5, 1.0],
        )
    )
    text = tables.pruning_summary(theory.pruning_moves(pred))
    cov = np.median([(3 - 4) / 4, 0.0, (2.5 - 2) / 2])  # 0 %: printed without a sign
    col = np.median([-0.5, -0.5, 0.0])  # -50 %
    assert cov == 0 and "expected covered clauses by 0\\%" in text and "range -25\\% to +25\\%" in text
    assert f"expected collisions by {100 * col:+.0f}" in text
    assert "P(all covered) by 0.000 (median; range -0.100 to +0.010)" in text
    pred = theory.with_moves(pred)
    table = tables.prediction_latex(
        pred.assign(
            sweep="s",
            clauses=8,
            k=4,
            r=8,
            alpha=2,
            variant="random",
            n=5,
            mc_all_covered=0.9,
            mc_collisions=1.0,
            mask_collisions_se=0.1,
            learned_all_covered=1.0,
            learned_collisions=0.2,
            learned_collisions_se=0.05,
            dense_collisions=224,
        )
    )
    assert "-25\\%" in table and "-50\\%" in table and "224" in table


def test_cosine_difference_table_is_a_per_trial_difference():
    rng = np.random.default_rng(2)
    rows = []
    for t in range(5):
        for v, c in (("dense", 0.05), ("random", -0.02)):
            cos = c + 0.05 * rng.standard_normal()
            rows.append(
                dict(
                    config_hash="a",
                    trial=t,
                    variant=v,
                    test_accuracy=0.8,
                    cosine=cos,
                    abs_cosine=abs(cos),
                    sweep="table_a1_a2",
                    task="boolean",
                    clauses=8,
                    k=4,
                    r=8,
                    alpha=2,
                    depth=1,
                    status="done",
                    error=None,
                )
            )
    f = pd.DataFrame(rows)
    text = tables.cosine_difference_table(table_rows.cosine_difference_rows(frame.summarize(frame.paired(f))))
    d = f[f.variant == "random"].cosine.to_numpy() - f[f.variant == "dense"].cosine.to_numpy()
    a = f[f.variant == "random"].abs_cosine.to_numpy() - f[f.variant == "dense"].abs_cosine.to_numpy()
    for x in (d, a):
        assert f"{x.mean():.3f} $\\pm$ {x.std(ddof=1) / np.sqrt(5):.3f}" in text
