"""Statistics on stored rows: paired differences, relative improvement, fold changes, Holm, cluster-robust OLS.

Definitions (paper, Fig. 3 caption and docs/interfaces.md): for each (config, trial),
relative improvement RI = FPE test accuracy / dense test accuracy of the same trial;
capacity fold change is FPE / dense of the same trial likewise; cosine similarity is
compared as a difference FPE - dense (signed and |cos|), never as a ratio of near-zero means.
Per configuration and variant: n, means and SEM = s/sqrt(n) over trials, the paired
difference FPE - dense with its 95 % t-interval, the paired t-test
(``scipy.stats.ttest_rel``) and Wilcoxon signed-rank test, the fraction of trials improved,
Holm-adjusted p over every comparison of the table (``reports.stats.holm``) and a marker
that says the direction (gain / loss) at adjusted p < 0.05 (docs/statistics.md).
Regressions (Fig. 4c) are statsmodels OLS of RI on capacity fold / |cos| difference, one
point per FPE model, standard errors clustered by dense trial (``cov_type="cluster"``).

>>> import pandas as pd
>>> rows = [dict(config_hash="h", trial=t, variant=v, test_accuracy=a, capacity=1.0, cosine=0.5)
...         for t in range(2) for v, a in (("dense", 0.5), ("random", 0.6))]
>>> round(float(paired(pd.DataFrame(rows)).relative_improvement.iloc[0]), 3)
1.2
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fpe_train.engine.summary import stat  # the one SEM of the toolkit (the train CLI prints the same)
from reports import paper_numbers, stats

# Columns that describe a configuration (kept beside per-configuration statistics when present).
CONFIG_COLUMNS = (
    "sweep",
    "task",
    "clauses",
    "k",
    "r",
    "alpha",
    "depth",
    "warmup_epochs",
    "epochs",
    "trials",
    "rewire_every",
    "rewire_fraction",
    "splits",
    "n_train",
    "n_test",
)
REQUIRED_COLUMNS = ("config_hash", "trial", "variant", "test_accuracy")
METRICS = ("test_accuracy", "capacity", "cosine", "abs_cosine", "nonzero_params")
FALLBACK_EFFECT = 0.02  # effect (accuracy, 2 points) used for power where the paper prints no number
BASELINES = ("dense", "dense_warmup", "dense_fresh")  # dense readings: warm-up + continued training (its Adam
# state kept), after warm-up only, and continued with a fresh Adam at the split (as the FPE forks)
VARIANT_METRICS = (
    "test_accuracy",
    "capacity",
    "cosine",
    "abs_cosine",
    "nonzero_params",
    "mask_covered",
    "mask_collisions",
    "learned_covered",
    "learned_collisions",
    "mask_all_covered",
    "learned_all_covered",
    "seconds",
)


def check_frame(frame: pd.DataFrame, where: str = "store") -> pd.DataFrame:
    """Raise a one-line ValueError if ``frame`` is empty or lacks the long-format columns."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: incompatible results (missing columns {', '.join(missing)})")
    if usable(frame).empty:
        raise ValueError(f"{where}: no finished result rows (empty store: run sweeps first, or drop --no-run)")
    return frame


def in_sweep(table: pd.DataFrame, names) -> pd.Series:
    """Rows whose ``sweep`` (names joined by ',' when a config belongs to several) includes one of ``names``."""
    wanted = set(names)
    return table["sweep"].apply(lambda s: isinstance(s, str) and bool(wanted & set(s.split(","))))


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that finished: a test accuracy, no error, status ok/done when a status is stored."""
    keep = frame["test_accuracy"].notna()
    if "error" in frame.columns:
        keep &= frame["error"].isna() | (frame["error"].astype(str) == "")
    if "status" in frame.columns:
        keep &= frame["status"].isna() | frame["status"].isin(["ok", "done", "finished", "success"])
    return frame[keep]


def _config_values(g: pd.DataFrame) -> dict:
    """The configuration columns of a group's first row (None where the store lacks the column)."""
    return {c: (g[c].iloc[0] if c in g.columns else None) for c in CONFIG_COLUMNS}


def paired(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (config, trial, FPE variant) with its dense partner: RI and fold changes."""
    ok = usable(frame)
    keys = ["config_hash", "trial"]
    metrics = [c for c in METRICS if c in ok.columns]
    dense = ok[ok["variant"] == "dense"][keys + metrics].drop_duplicates(keys)
    fpe = ok[~ok["variant"].isin(BASELINES)]
    out = fpe.merge(dense, on=keys, suffixes=("", "_dense"))
    warm = ok[ok["variant"] == "dense_warmup"][[*keys, "test_accuracy"]].drop_duplicates(keys)
    out = out.merge(warm.rename(columns={"test_accuracy": "test_accuracy_dense_warmup"}), on=keys, how="left")
    fresh = ok[ok["variant"] == "dense_fresh"][[*keys, "test_accuracy"]].drop_duplicates(keys)
    out = out.merge(fresh.rename(columns={"test_accuracy": "test_accuracy_dense_fresh"}), on=keys, how="left")
    dense = pd.to_numeric(out["test_accuracy_dense"], errors="coerce")
    out["relative_improvement"] = out["test_accuracy"] / dense.where(dense > 0)  # over 0 % dense: undefined (NaN)
    for name in ("capacity", "cosine"):
        if name in metrics:
            num = pd.to_numeric(out[name], errors="coerce")
            den = pd.to_numeric(out[f"{name}_dense"], errors="coerce")
            out[f"{name}_fold"] = num / den.where(den != 0)
    for name in ("cosine", "abs_cosine"):
        if name in metrics:
            out[f"{name}_diff"] = pd.to_numeric(out[name], errors="coerce") - pd.to_numeric(
                out[f"{name}_dense"], errors="coerce"
            )
    out["cluster"] = out["config_hash"].astype(str) + ":" + out["trial"].astype(str)  # the dense trial
    return out.reset_index(drop=True)


def sem(values) -> float:
    """Standard error of the mean, s / sqrt(n) with ddof=1; NaN when n < 2."""
    try:
        a = np.asarray(values, dtype=float)  # a numeric column: no pandas round trip (16,000 calls a report)
    except (TypeError, ValueError):
        a = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    x = a[~np.isnan(a)].tolist()
    s = stat(x)["sem"]
    return math.nan if s is None else float(s)


SUMMARY_METRICS = (
    "test_accuracy",
    "test_accuracy_dense",
    "relative_improvement",
    "capacity_fold",
    "cosine_diff",
    "abs_cosine_diff",
)


def reference_effect(g: pd.DataFrame) -> float:
    """The paper's effect for a comparison, in accuracy (fraction), for power (docs/statistics.md).

    Boolean: the case study's RI of that split (random 12.7 %, clause 26.3 %) x our dense mean;
    vision: Table A5's random RI (14.9 %) x our dense mean; otherwise ``FALLBACK_EFFECT``.
    """
    variant = g["variant"].iloc[0]
    dense = float(pd.to_numeric(g["test_accuracy_dense"], errors="coerce").mean())
    task = g["task"].iloc[0] if "task" in g else "boolean"
    if task == "boolean" and variant in paper_numbers.CASE_STUDY:
        return (paper_numbers.CASE_STUDY[variant].value / paper_numbers.CASE_STUDY["dense"].value - 1) * dense
    if task != "boolean" and variant in ("random", "gram", "structured_2_4"):
        return paper_numbers.TABLE_A5["random_ri"].value * dense
    return FALLBACK_EFFECT


def summarize(pairs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per (config, variant): n, means/SEMs, the paired effect (t and BCa CIs, paired t, Wilcoxon), Holm, marker."""
    rows = []
    for (h, variant), g in pairs.groupby(["config_hash", "variant"], sort=False):
        e = stats.paired_effect(g["test_accuracy"], g["test_accuracy_dense"], seed=seed, reference=reference_effect(g))
        row = {"config_hash": h, "variant": variant, **_config_values(g), "n": len(g)}
        for name in SUMMARY_METRICS:
            if name in g.columns:
                x = pd.to_numeric(g[name], errors="coerce")
                row[f"{name}_mean"] = float(x.mean())
                row[f"{name}_sem"] = sem(x)
        row.update(
            diff=e.mean_diff,
            diff_lo=e.t_ci[0],
            diff_hi=e.t_ci[1],
            bca_lo=e.bca_ci[0],
            bca_hi=e.bca_ci[1],
            t=e.t,
            p=e.p,
            wilcoxon_p=e.wilcoxon_p,
            frac_improved=e.frac_improved,
            ri_pct=e.ri_pct,
            ri_lo=e.ri_ci[0],
            ri_hi=e.ri_ci[1],
            reference=e.reference,
            power=e.power,
            n_needed=e.n_needed,
        )
        rows.append(row)
    out = pd.DataFrame(rows, columns=None if rows else ["config_hash", "variant", *CONFIG_COLUMNS, "n", "p"])
    out["p_holm"] = stats.holm(out["p"]) if len(out) else pd.Series(dtype=float)
    out["star"] = [stats.marker(pa, d) for pa, d in zip(out["p_holm"], out.get("diff", []), strict=False)]
    return out


def variant_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (config, variant) over all finished rows: n, mean/SEM accuracy, mean/SD capacity and cosine, mask stats."""
    ok = usable(frame)
    columns = {
        name: pd.to_numeric(ok[name], errors="coerce").to_numpy(dtype=float)
        for name in VARIANT_METRICS
        if name in ok.columns
    }
    rows = []
    for (h, variant), where in ok.groupby(["config_hash", "variant"], sort=False).indices.items():
        g = ok.iloc[where[:1]]
        row = {"config_hash": h, "variant": variant, **_config_values(g), "n": len(where)}
        for name, column in columns.items():
            x = column[where]
            x = x[~np.isnan(x)]
            row[f"{name}_mean"], row[f"{name}_sd"] = _mean_sd(x)
            row[f"{name}_sem"] = sem(x)
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["config_hash", "variant", *CONFIG_COLUMNS, "n"])


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    """Mean and sample SD (ddof=1) of ``x`` in pandas' own arithmetic (``Series.mean``, ``Series.std``: the sum
    over n, the summed squared deviations over n - 1); NaN for no values (the SD for fewer than two)."""
    n = len(x)
    if n == 0:
        return math.nan, math.nan
    mean = x.sum() / n
    return float(mean), float(np.sqrt(((x - mean) ** 2).sum() / (n - 1))) if n >= 2 else math.nan


REGRESSORS = ("capacity_fold", "abs_cosine_diff")  # Fig. 4c's x axes (cosine as a difference, not a ratio)


@dataclass(frozen=True)
class Regression:
    """An OLS fit y = const + slope * x; every number read from the statsmodels results."""

    label: str
    x: str
    y: str
    nobs: int
    const: float
    slope: float
    const_ci: tuple[float, float]
    slope_ci: tuple[float, float]
    slope_p: float
    rsquared: float
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    clusters: int = 0  # dense-trial clusters of the robust standard errors (0: plain OLS errors)


def regress(data: pd.DataFrame, x: str, y: str = "relative_improvement", label: str = "", alpha: float = 0.05):
    """statsmodels OLS of ``y`` on ``x`` (with intercept); None with < 3 points or constant x.

    With a ``cluster`` column (the dense trial, from ``paired``) and >= 3 clusters the standard errors
    are cluster-robust (``cov_type="cluster"``, t with G-1 degrees of freedom), else the plain OLS ones.
    """
    cols = [x, y]
    d = data[cols].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    if "cluster" in data:
        d["cluster"] = data["cluster"]
    d = d.dropna()
    if len(d) < 3 or d[x].nunique() < 2:
        return None
    res, clusters = stats.ols(d[y], d[x], d["cluster"] if "cluster" in d else None)
    ci = np.asarray(res.conf_int(alpha=alpha))  # (2, 2): rows const, slope
    return Regression(
        label=label,
        x=x,
        y=y,
        nobs=int(res.nobs),
        const=float(res.params[0]),
        slope=float(res.params[1]),
        const_ci=(float(ci[0, 0]), float(ci[0, 1])),
        slope_ci=(float(ci[1, 0]), float(ci[1, 1])),
        slope_p=float(res.pvalues[1]),
        rsquared=float(res.rsquared),
        xs=tuple(d[x].to_numpy(float)),
        ys=tuple(d[y].to_numpy(float)),
        clusters=clusters,
    )


RI_PCT = "relative_improvement_pct"  # (RI - 1) x 100: relative improvement in %, the report's one unit for it


def regressions(pairs: pd.DataFrame, group: tuple[str, ...] = ("variant", "alpha")) -> list[Regression]:
    """Fig. 4c: relative improvement (RI - 1, in %) on capacity fold and on the |cos| difference, per (variant,
    alpha) and pooled: intercept in %, slope in % per unit of x."""
    if "relative_improvement" in pairs.columns:
        pairs = pairs.assign(**{RI_PCT: 100 * (pd.to_numeric(pairs["relative_improvement"], errors="coerce") - 1)})
    out = []
    for x in REGRESSORS:
        if x not in pairs.columns:
            continue
        groups = [g for g in group if g in pairs.columns]
        for key, g in pairs.groupby(groups, sort=True) if groups else []:
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{n}={v}" if n != "variant" else str(v) for n, v in zip(groups, key, strict=True))
            fit = regress(g, x, y=RI_PCT, label=label)
            if fit is not None:
                out.append(fit)
        fit = regress(pairs, x, y=RI_PCT, label="all pooled")
        if fit is not None:
            out.append(fit)
    return out
