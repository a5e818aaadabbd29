"""The paper's experimental claims (and the checks beyond it) as tests on the stored rows.

Each builder takes the paired frame (``reports.compute.frame.paired``: one row per (config, trial, FPE
variant) with its dense partner) and returns a :class:`reports.compute.verdicts.Pending`, built from the
blocks of ``reports.compute.claim_tests`` (which say the unit of analysis of each kind of test).

Every builder uses the same dense arm: ``dense``, the dense model trained for warm-up + fine-tune epochs,
as long as the FPE models (docs/statistics.md says why).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports import paper_numbers, stats
from reports.compute import config_unit
from reports.compute.claim_tests import (
    BEYOND,
    PAPER_SETTING,
    OneSample,
    between_configs,
    boolean,
    ci_text,
    correlation_power,
    diff_by_config,
    equivalence,
    every_cell,
    fallback,
    missing,
    one_sample_pending,
    positive_share,
    pts_text,
    scope_of,
    slope_power,
    sweep,
    trend,
)
from reports.compute.verdicts import Constants, Pending, Power

NAN = math.nan
CASE_TRIALS = paper_numbers.PAPER_TRIALS["case"]  # the paper's trials per case-study number


def case_study(pairs: pd.DataFrame, split: str) -> Pending:
    """E1a/E1b: one configuration, trials paired with their dense model; the paper's difference as reference."""
    claim_id = "E1a" if split == "random" else "E1b"
    evidence = f"paired {split} - dense per trial (case study config); expected best-of-{CASE_TRIALS} beside"
    c = sweep(pairs, ["case_study"])
    g = c[c["variant"] == split]
    if g.empty:
        return missing(claim_id, evidence, "pts", PAPER_SETTING, "case_study not stored")
    test = OneSample(g["test_accuracy"] - g["test_accuracy_dense"])
    paper = paper_numbers.CASE_STUDY[split].value - paper_numbers.CASE_STUDY["dense"].value
    best = stats.expected_best(g["test_accuracy"], CASE_TRIALS)
    best_d = stats.expected_best(g["test_accuracy_dense"], CASE_TRIALS)
    sentence = (
        f"Ours {split} {100 * g['test_accuracy'].mean():.1f} % vs dense "
        f"{100 * g['test_accuracy_dense'].mean():.1f} % (expected best of {CASE_TRIALS}: "
        f"{100 * best:.1f} vs {100 * best_d:.1f}); the paper {100 * paper_numbers.CASE_STUDY[split].value:.1f} vs "
        f"{100 * paper_numbers.CASE_STUDY['dense'].value:.1f}."
    )
    return one_sample_pending(
        claim_id,
        evidence,
        "trial (paired with its dense model)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(paper, "the paper's difference"),
        paper=paper,
        paper_statistic="one number per arm (the paper does not say whether a mean or a best of its 5 trials)",
        sentence=sentence,
        plan=dict(sweeps=["case_study"], configs=1),
    )


def _grid(pairs: pd.DataFrame) -> pd.DataFrame:
    return boolean(sweep(pairs, ["fig3a", "fig3b", "fig3c"]))


def grid_gain(pairs: pd.DataFrame, split: str) -> Pending:
    """E2a/E2b: the mean over configurations of each configuration's mean gain (configuration as unit)."""
    claim_id = "E2a" if split == "random" else "E2b"
    evidence = f"{split} - dense: one-sample t over configuration means (Boolean grid, Fig. 3a-c)"
    d = diff_by_config(_grid(pairs), split)
    if d.empty:
        return missing(claim_id, evidence, "pts", PAPER_SETTING, "no fig3a/fig3b/fig3c rows")
    means = config_unit.config_means(d, "diff")["diff"]
    test = OneSample(means)
    return one_sample_pending(
        claim_id,
        evidence,
        "configuration (mean of its trials)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(*fallback(c)),
        n_of="configs",
        sentence=f"Mean gain {pts_text(test.mean)} pts over {test.n} configs; {positive_share(means)}.",
        plan=dict(sweeps=["fig3a", "fig3b", "fig3c"], configs=test.n),
    )


def clause_beats_random(pairs: pd.DataFrame) -> Pending:
    """E3: clause - random within trial, configuration means over the grid."""
    evidence = "clause - random within trial: one-sample t over configuration means (Boolean grid)"
    d = diff_by_config(_grid(pairs), "clause", "random")
    if d.empty:
        return missing("E3", evidence, "pts", PAPER_SETTING, "no grid trial with both splits")
    means = config_unit.config_means(d, "diff")["diff"]
    test = OneSample(means)
    return one_sample_pending(
        "E3",
        evidence,
        "configuration (mean of its trials)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(*fallback(c)),
        n_of="configs",
        sentence=f"Clause - random {pts_text(test.mean)} pts over {test.n} configs; {positive_share(means)}.",
        plan=dict(sweeps=["fig3a", "fig3b", "fig3c"], configs=test.n),
    )


def gain_trend(pairs: pd.DataFrame, axis: str) -> Pending:
    """E2c (gain falls with r, 8 clauses) / E2d (gain rises with clauses up to 16, 8 neurons): random split."""
    claim_id, claimed = ("E2c", -1) if axis == "r" else ("E2d", 1)
    g = _grid(pairs)
    g = g[(g["clauses"] == 8)] if axis == "r" else g[(g["r"] == 8) & (g["clauses"] <= 16)]
    g = g[g["variant"] == "random"].assign(ri=lambda d: d["test_accuracy"] / d["test_accuracy_dense"] - 1)
    evidence = f"OLS of configuration-mean RI (random split) on log2 {axis}, alpha intercepts; " + (
        "8 clauses" if axis == "r" else "8 neurons, clauses <= 16 (the paper: gains rise, then plateau)"
    )
    if g.empty:
        return missing(claim_id, evidence, "RI pts per doubling", PAPER_SETTING, "no Boolean grid rows")
    means = config_unit.config_means(g, "ri", [axis, "alpha"]).assign(lx=lambda d: np.log2(d[axis].astype(float)))
    return trend(
        claim_id,
        evidence,
        PAPER_SETTING,
        means,
        "ri",
        "lx",
        claimed,
        "RI pts per doubling",
        100.0,
        slope_power,
        ["fig3a"] if axis == "r" else ["fig3b"],
        strata="alpha",
    )


def interference_trend(pairs: pd.DataFrame, metric: str) -> Pending:
    """E4a/E4b (Fig. 4c): configuration-mean RI on configuration-mean capacity fold / |cos| difference."""
    claim_id, claimed, label = (
        ("E4a", 1, "capacity fold change") if metric == "capacity_fold" else ("E4b", -1, "|cos| difference FPE - dense")
    )
    evidence = (
        f"MixedLM of (configuration, split)-mean RI on the mean {label}, random intercept per "
        "configuration (neuron scan, Fig. 4c)"
    )
    g = boolean(sweep(pairs, ["fig3a"]))
    g = g[g["variant"].isin(["random", "clause"])] if not g.empty else g
    if g.empty or metric not in g:
        return missing(claim_id, evidence, "RI pts per unit", PAPER_SETTING, "no neuron-scan rows with the metric")
    g = g.assign(ri=g["test_accuracy"] / g["test_accuracy_dense"] - 1)
    # each (config, split) is its own point: the clause and random splits of one config are two FPE models
    means = g.groupby(["config_hash", "variant"]).agg(ri=("ri", "mean"), x=(metric, "mean")).reset_index()
    return trend(
        claim_id,
        evidence,
        PAPER_SETTING,
        means,
        "ri",
        "x",
        claimed,
        "RI pts per unit",
        100.0,
        correlation_power,
        ["fig3a"],
        groups="config_hash",
    )


def vision_gram_beats_dense(pairs: pd.DataFrame) -> Pending:
    v = sweep(pairs, ["fig5_vision"])
    v = v[v["task"] != "boolean"] if not v.empty else v
    return every_cell(
        "E5a",
        "paired gram - dense in every (task, alpha, width) of Fig. 5; intersection-union",
        scope_of(v),
        v,
        ["task", "alpha", "r"],
        "gram",
        "dense",
        ["fig5_vision"],
        "task x alpha x width",
    )


def every_alpha_gains(pairs: pd.DataFrame) -> Pending:
    """E6a (Fig. 6d): random - dense at the smallest width, every alpha (and task); intersection-union."""
    a = sweep(pairs, ["fig6ad_alpha"])
    a = a[a["rewire_every"].fillna(0) == 0] if not a.empty and "rewire_every" in a else a
    small = a[a["r"] == a["r"].min()] if not a.empty else a
    p = every_cell(
        "E6a",
        "paired random - dense at the smallest width, every (task, alpha); intersection-union",
        scope_of(a),
        small,
        ["task", "alpha"],
        "random",
        "dense",
        ["fig6ad_alpha"],
        "task x alpha",
    )
    if not small.empty and not p.missing:
        p.plan["only"] = {"r": int(small["r"].min())}
    if not a.empty and not p.missing:  # per alpha and width, for the details
        d = diff_by_config(a, "random")
        per = [
            f"alpha={int(al)}, r={int(r)}: {pts_text(g['diff'].mean())} pts" for (al, r), g in d.groupby(["alpha", "r"])
        ]
        p.details = p.details + ("all widths, tasks pooled: " + "; ".join(per),)
    return p


def vision_gram_about_random(pairs: pd.DataFrame) -> Pending:
    """E5b: gram - random within trial, configuration means; TOST at the equivalence margin."""
    v = sweep(pairs, ["fig5_vision"])
    evidence = "gram - random within trial: TOST over configuration means (Fig. 5 configs)"
    d = diff_by_config(v, "gram", "random")
    if d.empty:
        return missing("E5b", evidence, "pts", scope_of(v), "fig5_vision with gram and random not stored")
    means = config_unit.config_means(d, "diff")["diff"]
    return equivalence(
        "E5b", evidence, "configuration (mean of its trials)", scope_of(v), means, "configs", ["fig5_vision"]
    )


def vision_gain_trend(pairs: pd.DataFrame) -> Pending:
    """E5c: configuration-mean RI of the random split on log2 width, with task x alpha intercepts."""
    v = sweep(pairs, ["fig5_vision"])
    v = v[v["variant"] == "random"].assign(ri=lambda d: d["test_accuracy"] / d["test_accuracy_dense"] - 1)
    evidence = "OLS of configuration-mean RI (random split) on log2 width, task x alpha intercepts (Fig. 5)"
    if v.empty:
        return missing("E5c", evidence, "RI pts per doubling", scope_of(v), "fig5_vision not stored")
    means = config_unit.config_means(v, "ri", ["r", "alpha", "task"]).assign(
        lx=lambda d: np.log2(d["r"].astype(float)), s=lambda d: d["task"].astype(str) + "|" + d["alpha"].astype(str)
    )
    return trend(
        "E5c",
        evidence,
        scope_of(v),
        means,
        "ri",
        "lx",
        -1,
        "RI pts per doubling",
        100.0,
        slope_power,
        ["fig5_vision"],
        strata="s",
    )


def early_split_beats_late(pairs: pd.DataFrame) -> Pending:
    s = sweep(pairs, ["fig6b_split_timing"])
    s = s[s["variant"] == "random"] if not s.empty else s
    evidence = "random FPE accuracy, earliest minus latest split epoch (same total), within task and width"
    if s.empty or s["warmup_epochs"].nunique() < 2:
        return missing("E6b", evidence, "pts", scope_of(s), "fig6b_split_timing with two split epochs not stored")
    early, late = s["warmup_epochs"].min(), s["warmup_epochs"].max()
    rows = s[s["warmup_epochs"].isin([early, late])]
    out = between_configs(
        "E6b",
        evidence + f" ({int(early)} vs {int(late)})",
        scope_of(s),
        rows,
        rows["warmup_epochs"] == early,
        "test_accuracy",
        fallback,
        ["fig6b_split_timing"],
    )
    if not out.missing:
        out.plan["only"] = {"warmup_epochs": [int(early), int(late)]}
    return out


def deeper_mlps(pairs: pd.DataFrame) -> Pending:
    """E7a: random - dense over the depth sweep, configuration means; Table A3's RI x our dense as reference."""
    d = sweep(pairs, ["table_a3_depth"])
    d = d[(d["variant"] == "random") & (d["rewire_every"].fillna(0) == 0)] if not d.empty else d
    evidence = "random - dense: one-sample t over configuration means (depth x width, Table A3)"
    if d.empty:
        return missing("E7a", evidence, "pts", scope_of(d), "table_a3_depth not stored")
    means = config_unit.config_means(
        d.assign(diff=d["test_accuracy"] - d["test_accuracy_dense"]), "diff", ["depth", "r", "test_accuracy_dense"]
    )["diff"]
    test = OneSample(means)
    refs = [
        paper_numbers.TABLE_A3.get((int(x.depth) + 1, int(x.r))) for x in d.drop_duplicates("config_hash").itertuples()
    ]
    ri = float(np.nanmean([q.value for q in refs if q])) if any(refs) else NAN
    dense = float(d["test_accuracy_dense"].mean())
    ref = min(ri * dense, 1 - dense) if np.isfinite(ri) else NAN

    def power(c: Constants) -> Power:
        if np.isfinite(ref):
            return test.power(ref, "Table A3's mean RI x our dense mean, capped at 100 % accuracy")
        return test.power(*fallback(c))

    return one_sample_pending(
        "E7a",
        evidence,
        "configuration (mean of its trials)",
        scope_of(d),
        test,
        1,
        power,
        n_of="configs",
        sentence=f"Mean gain {pts_text(test.mean)} pts over {test.n} configs; {positive_share(means)}.",
        plan=dict(sweeps=["table_a3_depth"], configs=test.n),
    )


def structured_about_random(pairs: pd.DataFrame) -> Pending:
    """E7b: 2:4 - random within trial (one config per task): TOST at the margin, trials as units."""
    t = sweep(pairs, ["table_a5_2_4"])
    evidence = "2:4 - random within trial (Table A5 config); TOST at the equivalence margin"
    d = diff_by_config(t, "structured_2_4", "random")
    if d.empty:
        return missing("E7b", evidence, "pts", scope_of(t), "table_a5_2_4 not stored")
    return equivalence(
        "E7b", evidence, "trial (paired within its config)", scope_of(t), d["diff"], "trials", ["table_a5_2_4"]
    )


def rewiring_beats_one_shot(pairs: pd.DataFrame) -> Pending:
    rw = sweep(pairs, ["rewiring"])
    rw = rw[rw["variant"] == "random"] if not rw.empty else rw
    evidence = "rewired - one-shot random FPE accuracy, within task and width"
    on = rw["rewire_every"].fillna(0) > 0 if not rw.empty else pd.Series(dtype=bool)
    if rw.empty or on.all() or not on.any():
        return missing("E7c", evidence, "pts", scope_of(rw), "rewiring sweep with and without rewiring not stored")
    gains = [paper_numbers.REWIRING_GAIN[h].value for h in rw.loc[on, "r"].unique() if h in paper_numbers.REWIRING_GAIN]
    ref = float(np.mean(gains)) if gains else NAN

    def reference(c: Constants):
        return (ref, "Section A.7's gain over one-shot FPE", "") if np.isfinite(ref) else fallback(c)

    return between_configs("E7c", evidence, scope_of(rw), rw, on, "test_accuracy", reference, ["rewiring"])


def capacity_gain(pairs: pd.DataFrame) -> Pending:
    """E9: random capacity - dense capacity per configuration (8 neurons), configuration means; Table A1 beside."""
    t = boolean(sweep(pairs, ["table_a1_a2"]))
    t = t[(t["variant"] == "random") & (t["r"] == 8)] if not t.empty else t
    evidence = "random - dense feature capacity: one-sample t over configuration means (8 neurons, Table A1)"
    if t.empty or "capacity" not in t:
        return missing("E9", evidence, "capacity", PAPER_SETTING, "table_a1_a2 not stored")
    t = t.assign(diff=t["capacity"] - t["capacity_dense"], m=t["clauses"] * t["k"])
    means = config_unit.config_means(t, "diff", ["m", "alpha"])
    test = OneSample(means["diff"])
    ms = sorted({int(m) for m in means["m"]} & {m for m, _ in paper_numbers.TABLE_A1})
    paper = (
        float(
            np.mean(
                [paper_numbers.TABLE_A1[(m, "random")].value - paper_numbers.TABLE_A1[(m, "dense")].value for m in ms]
            )
        )
        if ms
        else NAN
    )
    two = means[(means["alpha"] == 2) & means["m"].isin(ms)]
    same = OneSample(two["diff"]) if len(two) >= 2 else None
    paper_ref = paper if np.isfinite(paper) else 1.0
    sentence = f"Capacity gain {test.mean:+.2f} over {test.n} configs (alpha 2 and 4); {positive_share(means['diff'])}."
    pend = one_sample_pending(
        "E9",
        evidence,
        "configuration (mean of its trials)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(paper_ref, "Table A1's mean random - dense gain"),
        n_of="configs",
        unit="capacity",
        scale=1.0,
        sentence=sentence,
        plan=dict(sweeps=["table_a1_a2"], configs=test.n),
    )
    if same is not None and np.isfinite(paper):  # the size: the same m values, alpha = 2 (the paper's setting)
        pend.paper = paper
        pend.paper_statistic = f"Table A1 mean over m in {ms} of (random - dense), 5 trials each"
        pend.effect, pend.n, pend.ci_of = same.mean, same.n, same.ci
        pend.p_of = lambda c: same.p
        pend.power_of = lambda c: same.power(paper, "Table A1's mean random - dense gain")
        pend.evidence += f"; alpha=2 at the paper's m ({', '.join(map(str, ms))}) decides"
        pend.sentence = (
            f"At alpha=2 and the paper's m: gain {same.mean:+.2f} over {same.n} configs against the "
            f"paper's {paper:+.2f}; all {test.n} configs (alpha 2 and 4): {test.mean:+.2f}, "
            f"{positive_share(means['diff'])}."
        )
    return pend


def alpha_sweet_spot(pairs: pd.DataFrame) -> Pending:
    """B1: the best interior alpha beats both ends (RI, within task and width; intersection-union)."""
    a = sweep(pairs, ["fig6ad_alpha"])
    a = a[a["variant"] == "random"] if not a.empty else a
    evidence = "RI: best interior alpha minus each end alpha, within task and width; p = max (intersection-union)"
    if a.empty or a["alpha"].nunique() < 3:
        return missing("B1", evidence, "RI pts", BEYOND, "fig6ad_alpha with three alphas not stored")
    a = a.assign(ri=a["test_accuracy"] / a["test_accuracy_dense"] - 1)
    alphas = sorted(a["alpha"].unique())
    mid = max(alphas[1:-1], key=lambda x: a.loc[a["alpha"] == x, "ri"].mean())
    dense = float(a["test_accuracy_dense"].mean())

    def ri_fallback(c: Constants):
        return (
            c.fallback_effect / dense,
            f"smallest effect {100 * c.fallback_effect:g} pts / our dense mean",
            "fallback effect",
        )

    ends = []
    for end in (alphas[0], alphas[-1]):
        rows = a[a["alpha"].isin([mid, end])]
        ends.append(
            between_configs(
                "B1",
                evidence,
                BEYOND,
                rows,
                rows["alpha"] == mid,
                "ri",
                ri_fallback,
                ["fig6ad_alpha"],
                compared="alpha",
            )
        )
    if any(e.missing for e in ends):
        return ends[0] if ends[0].missing else ends[1]
    p_ends = [e.p_of for e in ends]
    worse = max(ends, key=lambda e: e.p_of(Constants()))
    out = worse
    out.unit, out.p_of = "RI pts", (lambda c: max(p(c) for p in p_ends))
    out.sentence = (
        "Mean RI by alpha: "
        + ", ".join(f"{int(x)}: {100 * a.loc[a['alpha'] == x, 'ri'].mean():+.1f} %" for x in alphas)
        + f"; alpha={int(mid)} minus the weaker end {100 * worse.effect:+.1f} RI pts."
    )
    return out


def not_sparsity_or_dropout(pairs: pd.DataFrame) -> Pending:
    """B2: random FPE beats each control within trial; the claim by intersection-union; power of the deciding one."""
    c = sweep(pairs, ["controls"])
    evidence = "paired random FPE - overlap and - DropConnect within trial; p = the larger (intersection-union)"
    tests = {}
    for ctrl in ("overlap", "dropconnect"):
        d = diff_by_config(c, "random", ctrl)
        if not d.empty:
            tests[ctrl] = OneSample(d["diff"])
    if not tests:
        return missing("B2", evidence, "pts", BEYOND, "controls sweep not stored")
    deciding = max(tests, key=lambda k: tests[k].directional_p(1) if np.isfinite(tests[k].p) else 2.0)
    t = tests[deciding]
    return Pending(
        "B2",
        evidence + f"; decided by vs {deciding}",
        "pts",
        100.0,
        "trial (paired)",
        1,
        BEYOND,
        effect=t.mean,
        n=t.n,
        p_of=lambda c_: max(x.directional_p(1) for x in tests.values()),
        ci_of=t.ci,
        power_of=lambda c_: t.power(*fallback(c_)),
        sentence="; ".join(
            f"random - {k} {pts_text(x.mean)} pts {ci_text(x.ci(stats.CONFIDENCE))}" for k, x in tests.items()
        )
        + ".",
        plan=dict(sweeps=["controls"], configs=int(c["config_hash"].nunique())),
    )


def fresh_adam_dense(pairs: pd.DataFrame, frame: pd.DataFrame | None) -> Pending | None:
    """B3: the Adam-state asymmetry, dense continued with a fresh Adam minus dense continued; None if not stored."""
    if frame is None or "variant" not in frame:
        return None
    names = sorted(v for v in frame["variant"].dropna().unique() if str(v).startswith("dense_fresh"))
    if not names:
        return None
    ok = frame[frame["variant"].isin(["dense", names[0]])]
    w = ok.pivot_table(index=["config_hash", "trial"], columns="variant", values="test_accuracy", aggfunc="first")
    w = w.dropna()
    test = OneSample(w[names[0]] - w["dense"])
    return one_sample_pending(
        "B3",
        f"paired {names[0]} - dense within trial, every stored config",
        "trial (paired)",
        BEYOND,
        test,
        1,
        lambda c: test.power(*fallback(c)),
        sentence=f"Fresh Adam at the split minus dense continued {pts_text(test.mean)} pts.",
    )


def pending_claims(pairs: pd.DataFrame, frame: pd.DataFrame | None = None) -> list[Pending]:
    """The paper's experimental claims, then the checks beyond it, in ledger order."""
    out = [
        case_study(pairs, "random"),
        case_study(pairs, "clause"),
        grid_gain(pairs, "random"),
        grid_gain(pairs, "clause"),
        gain_trend(pairs, "r"),
        gain_trend(pairs, "clauses"),
        clause_beats_random(pairs),
        interference_trend(pairs, "capacity_fold"),
        interference_trend(pairs, "abs_cosine_diff"),
        vision_gram_beats_dense(pairs),
        vision_gram_about_random(pairs),
        vision_gain_trend(pairs),
        every_alpha_gains(pairs),
        early_split_beats_late(pairs),
        deeper_mlps(pairs),
        structured_about_random(pairs),
        rewiring_beats_one_shot(pairs),
        capacity_gain(pairs),
        alpha_sweet_spot(pairs),
        not_sparsity_or_dropout(pairs),
    ]
    fresh = fresh_adam_dense(pairs, frame)
    return out + ([fresh] if fresh is not None else [])
