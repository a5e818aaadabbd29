"""The paper's experimental claims (and the checks beyond it) as tests on the stored rows.

Each builder takes the paired frame (``reports.compute.frame.paired``: one row per (config, trial, FPE
variant) with its dense partner) and returns a :class:`reports.compute.verdicts.Pending`. Units of analysis:

- one configuration (case study, 2:4 vs random): the trial, paired with its own dense model;
- grid and trend claims (Boolean grid, Fig. 4c, vision widths, depth, capacity): the configuration, each
  one the mean of its trials (one-sample t over configuration means; OLS over them for trends);
- claims comparing configurations (split timing, rewiring): configurations' trials within strata of equal
  task and width (OLS with stratum intercepts);
- "every cell" claims (every alpha, every task and width): each cell paired, the claim by the
  intersection-union test (p = the largest directional p of the cells).

Every builder uses the same dense arm: ``dense``, the dense model trained for warm-up + fine-tune epochs,
as long as the FPE models (docs/statistics.md says why).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports import paper_numbers, stats
from reports.compute import config_unit
from reports.compute.frame import in_sweep
from reports.compute.verdicts import Against, Constants, Pending, Power

NAN = math.nan
PAPER_SETTING = "paper's setting"
BEYOND = "beyond the paper"
# What the stand-ins hold (reports name the sizes actually used; a config's n_train / n_test only caps them).
STAND_INS = {
    "digits": ("scikit-learn digits 8x8", 1437, 360),
    "mnist1d": ("MNIST-1D", 4000, 1000),
}
CASE_TRIALS = paper_numbers.PAPER_TRIALS["case"]  # the paper's trials per case-study number
PAPER_DATA = "FashionMNIST and CLIP ViT-B/16 embeddings of CIFAR-100 / ImageNet"


# ----------------------------------------------------------------------------- selections


def sweep(pairs: pd.DataFrame, names) -> pd.DataFrame:
    return pairs[in_sweep(pairs, names)] if not pairs.empty else pairs


def boolean(pairs: pd.DataFrame) -> pd.DataFrame:
    b = pairs[pairs["task"] == "boolean"]
    b = b[b["depth"].fillna(1) == 1] if "depth" in b else b
    return b[b["rewire_every"].fillna(0) == 0] if "rewire_every" in b else b


def _sizes(g: pd.DataFrame, n_train: int, n_test: int) -> tuple[int, int]:
    """Train / test sizes the rows used: the recorded ``n_*_used`` where present, else the config's cap of the
    data's own sizes (``n_train`` / ``n_test`` of the data)."""
    out = []
    for used, cap, full in (("n_train_used", "n_train", n_train), ("n_test_used", "n_test", n_test)):
        recorded = pd.to_numeric(g[used], errors="coerce").max() if used in g else math.nan
        if np.isfinite(recorded):
            out.append(int(recorded))
            continue
        capped = pd.to_numeric(g[cap], errors="coerce").max() if cap in g else math.nan
        out.append(int(min(full, capped)) if np.isfinite(capped) else full)
    return out[0], out[1]


def scope_of(frame: pd.DataFrame) -> str:
    """The paper's setting for Boolean rows; stand-in data named with the sizes actually used."""
    tasks = sorted(set(frame["task"].dropna())) if "task" in frame and len(frame) else []
    stand = [t for t in tasks if t in STAND_INS]
    if not stand:
        return PAPER_SETTING
    parts = []
    for t in stand:
        name, n_train, n_test = STAND_INS[t]
        tr, te = _sizes(frame[frame["task"] == t], n_train, n_test)
        parts.append(f"{name} ({tr:,} train / {te:,} test)")
    return f"stand-in data: {', '.join(parts)} for {PAPER_DATA}"


def data_used(frame: pd.DataFrame | None) -> list[str]:
    """Per task (or recorded ``dataset``) in the rows: its name and the train / test sizes actually used."""
    if frame is None or not len(frame) or "task" not in frame:
        return []
    out = []
    for task, g in frame.groupby("task", sort=True):
        if task in STAND_INS:
            name, n_train, n_test = STAND_INS[task]
            tr, te = _sizes(g, n_train, n_test)
            out.append(f"{name} ({tr:,} train / {te:,} test; stand-in)")
            continue
        names = sorted(set(g["dataset"].dropna().astype(str))) if "dataset" in g else []
        tr, te = _sizes(g, 10**12, 10**12)
        label = "Boolean DNF" if task == "boolean" else (", ".join(names) or str(task))
        out.append(f"{label} ({tr:,} train / {te:,} test samples)")
    return out


def _missing(claim_id: str, evidence: str, unit: str, scope: str, why: str) -> Pending:
    return Pending(claim_id, evidence, unit, 100.0, "--", 1, scope, missing=why)


def _pts(x: float) -> str:
    return "--" if not np.isfinite(x) else f"{100 * x:+.1f}"


def _ci(ci) -> str:
    return f"[{_pts(ci[0])}, {_pts(ci[1])}]"


# ----------------------------------------------------------------------------- building blocks


class OneSample:
    """Mean of ``values`` (per-trial paired differences, or configuration means) against 0."""

    def __init__(self, values):
        from scipy import stats as scipy_stats

        a = np.asarray(values, dtype=float)
        self.x = a[np.isfinite(a)]
        self.n = len(self.x)
        self.mean = float(self.x.mean()) if self.n else NAN
        self.sd = float(self.x.std(ddof=1)) if self.n >= 2 else NAN
        self.p = NAN
        if self.n >= 2 and self.sd > 0:
            self.p = float(scipy_stats.ttest_1samp(self.x, 0.0).pvalue)
        elif self.n >= 2 and self.mean != 0:
            self.p = 0.0

    def ci(self, confidence: float) -> tuple[float, float]:
        return stats.t_interval(self.x, confidence)

    def power(self, reference: float, source: str, constant: str = "") -> Power:
        return Power(
            stats.power_at(reference, self.sd, self.n),
            stats.trials_needed(reference, self.sd),
            reference,
            source,
            constant,
        )

    def directional_p(self, claimed: int) -> float:
        if not np.isfinite(self.p):
            return NAN
        return self.p if np.sign(self.mean) == claimed else 1.0


def _fallback(c: Constants, scale: float = 1.0) -> tuple[float, str, str]:
    return c.fallback_effect * scale, f"smallest effect of interest {100 * c.fallback_effect:g} pts", "fallback effect"


def _one_sample_pending(
    claim_id,
    evidence,
    unit_of_analysis,
    scope,
    test: OneSample,
    claimed,
    power_of,
    n_of="trials",
    unit="pts",
    scale=100.0,
    **extra,
) -> Pending:
    return Pending(
        claim_id,
        evidence,
        unit,
        scale,
        unit_of_analysis,
        claimed,
        scope,
        effect=test.mean,
        n=test.n,
        n_of=n_of,
        p_of=lambda c: test.p,
        ci_of=test.ci,
        power_of=power_of,
        **extra,
    )


def _diff_by_config(rows: pd.DataFrame, a: str, b: str = "dense", value: str = "test_accuracy") -> pd.DataFrame:
    """Per (config, trial) the difference a - b (b = 'dense' reads the dense partner column)."""
    if b == "dense":
        g = rows[rows["variant"] == a]
        return g.assign(diff=g[value] - g[f"{value}_dense"])
    w = rows[rows["variant"].isin([a, b])].pivot_table(
        index=["config_hash", "trial"], columns="variant", values=value, aggfunc="first"
    )
    if not {a, b} <= set(w.columns):
        return pd.DataFrame(columns=["config_hash", "trial", "diff"])
    w = w.dropna(subset=[a, b])
    keep = rows.drop_duplicates(["config_hash", "trial"]).set_index(["config_hash", "trial"])
    out = w.assign(diff=w[a] - w[b]).join(keep.drop(columns=[c for c in w.columns if c in keep], errors="ignore"))
    return out.reset_index()


def _positive_share(means) -> str:
    m = np.asarray(means, dtype=float)
    return f"{np.mean(m > 0):.0%} of {len(m)} configs have a positive mean"


# ----------------------------------------------------------------------------- E1: the case study


def case_study(pairs: pd.DataFrame, split: str) -> Pending:
    """E1a/E1b: one configuration, trials paired with their dense model; the paper's difference as reference."""
    claim_id = "E1a" if split == "random" else "E1b"
    evidence = f"paired {split} - dense per trial (case study config); expected best-of-{CASE_TRIALS} beside"
    c = sweep(pairs, ["case_study"])
    g = c[c["variant"] == split]
    if g.empty:
        return _missing(claim_id, evidence, "pts", PAPER_SETTING, "case_study not stored")
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
    return _one_sample_pending(
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


# ----------------------------------------------------------------------------- E2/E3: the Boolean grid


def _grid(pairs: pd.DataFrame) -> pd.DataFrame:
    return boolean(sweep(pairs, ["fig3a", "fig3b", "fig3c"]))


def grid_gain(pairs: pd.DataFrame, split: str) -> Pending:
    """E2a/E2b: the mean over configurations of each configuration's mean gain (configuration as unit)."""
    claim_id = "E2a" if split == "random" else "E2b"
    evidence = f"{split} - dense: one-sample t over configuration means (Boolean grid, Fig. 3a-c)"
    d = _diff_by_config(_grid(pairs), split)
    if d.empty:
        return _missing(claim_id, evidence, "pts", PAPER_SETTING, "no fig3a/fig3b/fig3c rows")
    means = config_unit.config_means(d, "diff")["diff"]
    test = OneSample(means)
    return _one_sample_pending(
        claim_id,
        evidence,
        "configuration (mean of its trials)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(*_fallback(c)),
        n_of="configs",
        sentence=f"Mean gain {_pts(test.mean)} pts over {test.n} configs; {_positive_share(means)}.",
        plan=dict(sweeps=["fig3a", "fig3b", "fig3c"], configs=test.n),
    )


def clause_beats_random(pairs: pd.DataFrame) -> Pending:
    """E3: clause - random within trial, configuration means over the grid."""
    evidence = "clause - random within trial: one-sample t over configuration means (Boolean grid)"
    d = _diff_by_config(_grid(pairs), "clause", "random")
    if d.empty:
        return _missing("E3", evidence, "pts", PAPER_SETTING, "no grid trial with both splits")
    means = config_unit.config_means(d, "diff")["diff"]
    test = OneSample(means)
    return _one_sample_pending(
        "E3",
        evidence,
        "configuration (mean of its trials)",
        PAPER_SETTING,
        test,
        1,
        lambda c: test.power(*_fallback(c)),
        n_of="configs",
        sentence=f"Clause - random {_pts(test.mean)} pts over {test.n} configs; {_positive_share(means)}.",
        plan=dict(sweeps=["fig3a", "fig3b", "fig3c"], configs=test.n),
    )


def _trend(
    claim_id,
    evidence,
    scope,
    means: pd.DataFrame,
    y: str,
    x: str,
    claimed: int,
    unit: str,
    scale: float,
    power_of,
    sweeps,
    strata=None,
    what="",
    groups=None,
) -> Pending:
    """OLS of configuration means ``y`` on ``x`` (plus stratum intercepts); the slope decides. With ``groups``
    (several points per configuration, e.g. its two splits) statsmodels MixedLM with a random intercept per
    configuration instead, so a configuration's points are not counted as independent."""
    import statsmodels.formula.api as smf

    m = means.dropna(subset=[y, x])
    if len(m) < 3 or m[x].nunique() < 2:
        return _missing(claim_id, evidence, unit, scope, f"fewer than three configurations with two values of {x}")
    formula = f"{y} ~ {x}" + (f" + C({strata})" if strata and m[strata].nunique() > 1 else "")
    n_units = int(m[groups].nunique()) if groups else len(m)
    if groups and n_units >= 3:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # boundary / convergence notes of a near-zero group variance
            fit = smf.mixedlm(formula, m, groups=m[groups]).fit(reml=True)
        fitted = "MixedLM, random intercept per configuration"
    else:
        fit = smf.ols(formula, m).fit()
        fitted = f"R^2 {fit.rsquared:.2f}"
    slope, p = float(fit.params[x]), float(fit.pvalues[x])
    resid = math.sqrt(fit.scale)

    def ci(conf: float) -> tuple[float, float]:
        lo, hi = fit.conf_int(alpha=1 - conf).loc[x]
        return float(lo), float(hi)

    sentence = f"Slope {slope * scale:+.3g} {unit} over {n_units} configs ({len(m)} points){what}, {fitted}."
    return Pending(
        claim_id,
        evidence,
        unit,
        scale,
        "configuration (mean of its trials)",
        claimed,
        scope,
        effect=slope,
        n=n_units,
        n_of="configs",
        p_of=lambda c: p,
        ci_of=ci,
        power_of=lambda c: power_of(c, m[x], resid, m),
        sentence=sentence,
        plan=dict(sweeps=list(sweeps), configs=len(m)),
    )


def _slope_power(c: Constants, x, resid, m) -> Power:
    power, needed = config_unit.slope_power(c.fallback_slope, resid, x)
    return Power(
        power,
        needed,
        c.fallback_slope,
        f"smallest slope of interest {100 * c.fallback_slope:g} RI pts per doubling",
        "fallback slope",
    )


def _correlation_power(c: Constants, x, resid, m) -> Power:
    """Power for |rho| = fallback correlation (Fisher z): Phi(atanh(rho) sqrt(n - 3) - z_{1 - a/2})."""
    from scipy.stats import norm

    n = int(m["config_hash"].nunique()) if "config_hash" in m else len(x)  # configurations, not points
    rho = c.fallback_correlation
    z = math.atanh(rho)
    crit = norm.ppf(1 - stats.LEVEL / 2)
    power = float(norm.cdf(z * math.sqrt(max(n - 3, 0)) - crit)) if n > 3 else NAN
    needed = float(math.ceil(((crit + norm.ppf(stats.POWER_TARGET)) / z) ** 2 + 3))
    # the reference is a correlation, not a slope in the entry's unit: NaN there, the source names it
    return Power(power, needed, NAN, f"correlation |rho| = {rho:g} (a 'strong correlation')", "fallback correlation")


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
        return _missing(claim_id, evidence, "RI pts per doubling", PAPER_SETTING, "no Boolean grid rows")
    means = config_unit.config_means(g, "ri", [axis, "alpha"]).assign(lx=lambda d: np.log2(d[axis].astype(float)))
    return _trend(
        claim_id,
        evidence,
        PAPER_SETTING,
        means,
        "ri",
        "lx",
        claimed,
        "RI pts per doubling",
        100.0,
        _slope_power,
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
        return _missing(claim_id, evidence, "RI pts per unit", PAPER_SETTING, "no neuron-scan rows with the metric")
    g = g.assign(ri=g["test_accuracy"] / g["test_accuracy_dense"] - 1)
    # each (config, split) is its own point: the clause and random splits of one config are two FPE models
    means = g.groupby(["config_hash", "variant"]).agg(ri=("ri", "mean"), x=(metric, "mean")).reset_index()
    return _trend(
        claim_id,
        evidence,
        PAPER_SETTING,
        means,
        "ri",
        "x",
        claimed,
        "RI pts per unit",
        100.0,
        _correlation_power,
        ["fig3a"],
        groups="config_hash",
    )


# ----------------------------------------------------------------------------- every cell (E5a, E6a)


def every_cell(
    claim_id, evidence, scope, rows: pd.DataFrame, cells: list[str], a: str, b: str, paper_sweeps, detail_label
) -> Pending:
    """Intersection-union over cells: each cell's paired a - b; the claim's p = the largest directional p."""
    d = _diff_by_config(rows, a, b)
    if d.empty:
        return _missing(claim_id, evidence, "pts", scope, f"no rows with both {a} and {b}")
    tests = {k: OneSample(g["diff"]) for k, g in d.groupby(cells)}
    worst_key = max(tests, key=lambda k: tests[k].directional_p(1) if np.isfinite(tests[k].p) else 2.0)
    worst = tests[worst_key]
    p_iut = max(t.directional_p(1) for t in tests.values())
    against = [(k, t) for k, t in tests.items() if t.mean < 0 and np.isfinite(t.p)]
    strongest = min(against, key=lambda kt: kt[1].p) if against else None

    def label(k):
        return ", ".join(f"{c}={v}" for c, v in zip(cells, k if isinstance(k, tuple) else (k,), strict=True))

    details = tuple(
        f"{label(k)}: {_pts(t.mean)} pts {_ci(t.ci(stats.CONFIDENCE))}, p={t.p:.2g}, n={t.n}" for k, t in tests.items()
    )
    n_pos = sum(t.mean > 0 and t.p < stats.LEVEL for t in tests.values())

    # the intersection's power is that of its weakest cell: the smallest sqrt(n) / sd for the common reference
    weakest = min(
        (t for t in tests.values() if t.n >= 2 and np.isfinite(t.sd)),
        default=worst,
        key=lambda t: math.sqrt(t.n) / t.sd if t.sd > 0 else math.inf,
    )

    def power(c: Constants) -> Power:
        return weakest.power(*_fallback(c))

    return Pending(
        claim_id,
        evidence,
        "pts",
        100.0,
        "trial (paired) within each cell; the claim by intersection-union",
        1,
        scope,
        effect=worst.mean,
        n=worst.n,
        n_of=f"trials (cell {label(worst_key)})",
        p_of=lambda c: p_iut,
        ci_of=worst.ci,
        power_of=power,
        against=None
        if strongest is None
        else Against(strongest[1].p, strongest[1].mean, len(tests), strongest[1].ci, label(strongest[0])),
        sentence=f"{n_pos} of {len(tests)} cells ({detail_label}) gain significantly (raw p); the weakest, "
        f"{label(worst_key)}, {_pts(worst.mean)} pts"
        + (
            f"; the strongest loss, {label(strongest[0])}, {_pts(strongest[1].mean)} pts (p={strongest[1].p:.2g})."
            if strongest
            else "."
        ),
        details=details,
        plan=dict(sweeps=list(paper_sweeps), configs=len(tests)),
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
        d = _diff_by_config(a, "random")
        per = [f"alpha={int(al)}, r={int(r)}: {_pts(g['diff'].mean())} pts" for (al, r), g in d.groupby(["alpha", "r"])]
        p.details = p.details + ("all widths, tasks pooled: " + "; ".join(per),)
    return p


# ----------------------------------------------------------------------------- the rest of the vision claims


def vision_gram_about_random(pairs: pd.DataFrame) -> Pending:
    """E5b: gram - random within trial, configuration means; TOST at the equivalence margin."""
    v = sweep(pairs, ["fig5_vision"])
    evidence = "gram - random within trial: TOST over configuration means (Fig. 5 configs)"
    d = _diff_by_config(v, "gram", "random")
    if d.empty:
        return _missing("E5b", evidence, "pts", scope_of(v), "fig5_vision with gram and random not stored")
    means = config_unit.config_means(d, "diff")["diff"]
    return _equivalence(
        "E5b", evidence, "configuration (mean of its trials)", scope_of(v), means, "configs", ["fig5_vision"]
    )


def _equivalence(claim_id, evidence, unit_of_analysis, scope, values, n_of, sweeps, paper=NAN) -> Pending:
    from reports.compute.verdict_axes import tost_paired

    test = OneSample(values)

    def power(c: Constants) -> Power:
        from statsmodels.stats.power import TTestPower

        if not (np.isfinite(test.sd) and test.sd > 0 and test.n >= 2):
            return Power(source=f"equivalence margin {100 * c.equivalence_margin:g} pts", constant="")
        # TOST power at the observed difference delta: both one-sided tests must reject,
        # power ~ P(lower rejects) + P(upper rejects) - 1 (noncentral t, TTestPower); 0 when |delta| >= margin
        m, delta = c.equivalence_margin, abs(test.mean)
        if delta >= m:
            return Power(0.0, math.inf, m, f"equivalence margin {100 * m:g} pts at our difference", "")

        def tost(n):
            one = TTestPower()
            lo = one.power((m - delta) / test.sd, nobs=n, alpha=stats.LEVEL, alternative="larger")
            hi = one.power((m + delta) / test.sd, nobs=n, alpha=stats.LEVEL, alternative="larger")
            return max(0.0, float(lo + hi - 1))

        pw = tost(test.n)
        need = stats._smallest_n(tost, stats.POWER_TARGET)
        return Power(pw, need, m, f"equivalence margin {100 * m:g} pts at our difference", "")

    return Pending(
        claim_id,
        evidence,
        "pts",
        100.0,
        unit_of_analysis,
        0,
        scope,
        effect=test.mean,
        n=test.n,
        n_of=n_of,
        p_of=lambda c: tost_paired(test.x, c.equivalence_margin)[0],
        ci_of=test.ci,
        power_of=power,
        paper=paper,
        sentence=f"Difference {_pts(test.mean)} pts over {test.n} {n_of}.",
        plan=dict(sweeps=list(sweeps), configs=1 if n_of == "trials" else test.n),
    )


def vision_gain_trend(pairs: pd.DataFrame) -> Pending:
    """E5c: configuration-mean RI of the random split on log2 width, with task x alpha intercepts."""
    v = sweep(pairs, ["fig5_vision"])
    v = v[v["variant"] == "random"].assign(ri=lambda d: d["test_accuracy"] / d["test_accuracy_dense"] - 1)
    evidence = "OLS of configuration-mean RI (random split) on log2 width, task x alpha intercepts (Fig. 5)"
    if v.empty:
        return _missing("E5c", evidence, "RI pts per doubling", scope_of(v), "fig5_vision not stored")
    means = config_unit.config_means(v, "ri", ["r", "alpha", "task"]).assign(
        lx=lambda d: np.log2(d["r"].astype(float)), s=lambda d: d["task"].astype(str) + "|" + d["alpha"].astype(str)
    )
    return _trend(
        "E5c",
        evidence,
        scope_of(v),
        means,
        "ri",
        "lx",
        -1,
        "RI pts per doubling",
        100.0,
        _slope_power,
        ["fig5_vision"],
        strata="s",
    )


STRATA = ("task", "clauses", "k", "r", "alpha", "depth")


def _between_configs(claim_id, evidence, scope, rows, in_a, column, reference_of, sweeps, compared="") -> Pending:
    """Group a minus group b of ``column`` within strata of equal STRATA fields (OLS with stratum intercepts)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.power import TTestIndPower

    strata = rows[[c for c in STRATA if c in rows.columns and c != compared]].astype(str).agg("|".join, axis=1)
    data = pd.DataFrame({"y": rows[column].to_numpy(float), "a": np.asarray(in_a, float), "s": strata.to_numpy()})
    data = data[data.groupby("s")["a"].transform(lambda g: g.nunique() == 2).astype(bool)].dropna()
    n_a, n_b = int((data["a"] == 1).sum()), int((data["a"] == 0).sum())
    if min(n_a, n_b) < 2:
        return _missing(claim_id, evidence, "pts", scope, "fewer than two trials in a group")
    fit = smf.ols("y ~ C(s) + a" if data["s"].nunique() > 1 else "y ~ a", data).fit()
    sd = math.sqrt(fit.scale)

    def ci(conf):
        lo, hi = fit.conf_int(alpha=1 - conf).loc["a"]
        return float(lo), float(hi)

    def power(c: Constants) -> Power:
        ref, src, const = reference_of(c)
        es, ana = abs(ref) / sd, TTestIndPower()
        pw = float(ana.power(es, nobs1=min(n_a, n_b), alpha=stats.LEVEL, ratio=1.0))
        need = stats._smallest_n(lambda n: ana.power(es, nobs1=n, alpha=stats.LEVEL, ratio=1.0), stats.POWER_TARGET)
        return Power(pw, need, ref, src, const)

    p = float(fit.pvalues["a"])
    return Pending(
        claim_id,
        evidence,
        "pts",
        100.0,
        "trial, between configurations within strata (task, width)",
        1,
        scope,
        effect=float(fit.params["a"]),
        n=min(n_a, n_b),
        n_of="trials per group",
        p_of=lambda c: p,
        ci_of=ci,
        power_of=power,
        sentence=f"Difference {_pts(float(fit.params['a']))} pts ({n_a} vs {n_b} trials).",
        plan=dict(sweeps=list(sweeps), configs=int(data["s"].nunique()) * 2),
    )


def early_split_beats_late(pairs: pd.DataFrame) -> Pending:
    s = sweep(pairs, ["fig6b_split_timing"])
    s = s[s["variant"] == "random"] if not s.empty else s
    evidence = "random FPE accuracy, earliest minus latest split epoch (same total), within task and width"
    if s.empty or s["warmup_epochs"].nunique() < 2:
        return _missing("E6b", evidence, "pts", scope_of(s), "fig6b_split_timing with two split epochs not stored")
    early, late = s["warmup_epochs"].min(), s["warmup_epochs"].max()
    rows = s[s["warmup_epochs"].isin([early, late])]
    out = _between_configs(
        "E6b",
        evidence + f" ({int(early)} vs {int(late)})",
        scope_of(s),
        rows,
        rows["warmup_epochs"] == early,
        "test_accuracy",
        _fallback,
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
        return _missing("E7a", evidence, "pts", scope_of(d), "table_a3_depth not stored")
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
        return test.power(*_fallback(c))

    return _one_sample_pending(
        "E7a",
        evidence,
        "configuration (mean of its trials)",
        scope_of(d),
        test,
        1,
        power,
        n_of="configs",
        sentence=f"Mean gain {_pts(test.mean)} pts over {test.n} configs; {_positive_share(means)}.",
        plan=dict(sweeps=["table_a3_depth"], configs=test.n),
    )


def structured_about_random(pairs: pd.DataFrame) -> Pending:
    """E7b: 2:4 - random within trial (one config per task): TOST at the margin, trials as units."""
    t = sweep(pairs, ["table_a5_2_4"])
    evidence = "2:4 - random within trial (Table A5 config); TOST at the equivalence margin"
    d = _diff_by_config(t, "structured_2_4", "random")
    if d.empty:
        return _missing("E7b", evidence, "pts", scope_of(t), "table_a5_2_4 not stored")
    return _equivalence(
        "E7b", evidence, "trial (paired within its config)", scope_of(t), d["diff"], "trials", ["table_a5_2_4"]
    )


def rewiring_beats_one_shot(pairs: pd.DataFrame) -> Pending:
    rw = sweep(pairs, ["rewiring"])
    rw = rw[rw["variant"] == "random"] if not rw.empty else rw
    evidence = "rewired - one-shot random FPE accuracy, within task and width"
    on = rw["rewire_every"].fillna(0) > 0 if not rw.empty else pd.Series(dtype=bool)
    if rw.empty or on.all() or not on.any():
        return _missing("E7c", evidence, "pts", scope_of(rw), "rewiring sweep with and without rewiring not stored")
    gains = [paper_numbers.REWIRING_GAIN[h].value for h in rw.loc[on, "r"].unique() if h in paper_numbers.REWIRING_GAIN]
    ref = float(np.mean(gains)) if gains else NAN

    def reference(c: Constants):
        return (ref, "Section A.7's gain over one-shot FPE", "") if np.isfinite(ref) else _fallback(c)

    return _between_configs("E7c", evidence, scope_of(rw), rw, on, "test_accuracy", reference, ["rewiring"])


def capacity_gain(pairs: pd.DataFrame) -> Pending:
    """E9: random capacity - dense capacity per configuration (8 neurons), configuration means; Table A1 beside."""
    t = boolean(sweep(pairs, ["table_a1_a2"]))
    t = t[(t["variant"] == "random") & (t["r"] == 8)] if not t.empty else t
    evidence = "random - dense feature capacity: one-sample t over configuration means (8 neurons, Table A1)"
    if t.empty or "capacity" not in t:
        return _missing("E9", evidence, "capacity", PAPER_SETTING, "table_a1_a2 not stored")
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
    sentence = (
        f"Capacity gain {test.mean:+.2f} over {test.n} configs (alpha 2 and 4); {_positive_share(means['diff'])}."
    )
    pend = _one_sample_pending(
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
            f"{_positive_share(means['diff'])}."
        )
    return pend


# ----------------------------------------------------------------------------- beyond the paper


def alpha_sweet_spot(pairs: pd.DataFrame) -> Pending:
    """B1: the best interior alpha beats both ends (RI, within task and width; intersection-union)."""
    a = sweep(pairs, ["fig6ad_alpha"])
    a = a[a["variant"] == "random"] if not a.empty else a
    evidence = "RI: best interior alpha minus each end alpha, within task and width; p = max (intersection-union)"
    if a.empty or a["alpha"].nunique() < 3:
        return _missing("B1", evidence, "RI pts", BEYOND, "fig6ad_alpha with three alphas not stored")
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
            _between_configs(
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
        d = _diff_by_config(c, "random", ctrl)
        if not d.empty:
            tests[ctrl] = OneSample(d["diff"])
    if not tests:
        return _missing("B2", evidence, "pts", BEYOND, "controls sweep not stored")
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
        power_of=lambda c_: t.power(*_fallback(c_)),
        sentence="; ".join(f"random - {k} {_pts(x.mean)} pts {_ci(x.ci(stats.CONFIDENCE))}" for k, x in tests.items())
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
    return _one_sample_pending(
        "B3",
        f"paired {names[0]} - dense within trial, every stored config",
        "trial (paired)",
        BEYOND,
        test,
        1,
        lambda c: test.power(*_fallback(c)),
        sentence=f"Fresh Adam at the split minus dense continued {_pts(test.mean)} pts.",
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
