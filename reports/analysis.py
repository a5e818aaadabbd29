"""Statistics on stored rows: relative improvement, fold changes, Welch t-tests, SEM, OLS.

Definitions (paper, Fig. 3 caption and docs/interfaces.md): for each (config, trial),
relative improvement RI = FPE test accuracy / dense test accuracy of the same trial;
capacity and cosine fold changes are FPE / dense of the same trial likewise. Per
configuration and variant: mean, SEM = s/sqrt(n), and a Welch t-test of FPE vs dense
test accuracies (``scipy.stats.ttest_ind(equal_var=False)``), starred at p < 0.05.
Regressions (Fig. 4c) are statsmodels OLS of RI on a fold change, with an intercept.

>>> import pandas as pd
>>> rows = [dict(config_hash="h", trial=t, variant=v, test_accuracy=a, capacity=1.0, cosine=0.5)
...         for t in range(2) for v, a in (("dense", 0.5), ("random", 0.6))]
>>> round(float(paired(pd.DataFrame(rows)).relative_improvement.iloc[0]), 3)
1.2
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Columns that describe a configuration (kept beside per-configuration statistics when present).
CONFIG_COLUMNS = (
    "sweep", "task", "clauses", "k", "r", "alpha", "depth", "warmup_epochs", "epochs", "trials",
    "rewire_every", "splits", "n_train", "n_test",
)  # fmt: skip
REQUIRED_COLUMNS = ("config_hash", "trial", "variant", "test_accuracy")
METRICS = ("test_accuracy", "capacity", "cosine", "abs_cosine", "nonzero_params")
BASELINES = ("dense", "dense_warmup")  # dense readings: warm-up + continued training, and after warm-up only
VARIANT_METRICS = (
    "test_accuracy", "capacity", "cosine", "abs_cosine", "nonzero_params", "mask_covered", "mask_collisions",
    "learned_covered", "learned_collisions", "mask_all_covered", "learned_all_covered", "seconds",
)  # fmt: skip


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
    out["relative_improvement"] = out["test_accuracy"] / out["test_accuracy_dense"]
    for name in ("capacity", "cosine"):
        if name in metrics:
            num = pd.to_numeric(out[name], errors="coerce")
            den = pd.to_numeric(out[f"{name}_dense"], errors="coerce")
            out[f"{name}_fold"] = num / den.where(den != 0)
    return out.reset_index(drop=True)


def sem(values) -> float:
    """Standard error of the mean, s / sqrt(n) with ddof=1; NaN when n < 2."""
    from fpe_train.engine.summary import stat  # the one SEM of the toolkit (the train CLI prints the same)

    x = pd.to_numeric(pd.Series(values), errors="coerce").dropna().tolist()
    s = stat(x)["sem"]
    return math.nan if s is None else float(s)


def welch(a, b) -> tuple[float, float]:
    """Welch's t-test of a vs b: (t, p); NaN when either side has < 2 values or no variance."""
    from scipy import stats

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.ttest_ind(a, b, equal_var=False)
    return float(res.statistic), float(res.pvalue)


def star(p: float, level: float = 0.05) -> str:
    """The paper's mark: '*' when p < 0.05."""
    return "*" if isinstance(p, float) and not math.isnan(p) and p < level else ""


def summarize(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per (config, variant): n, means and SEMs of accuracies, RI and folds; Welch t and p (FPE vs dense)."""
    rows = []
    for (h, variant), g in pairs.groupby(["config_hash", "variant"], sort=False):
        t, p = welch(g["test_accuracy"], g["test_accuracy_dense"])
        row = {"config_hash": h, "variant": variant, **_config_values(g), "n": len(g)}
        for name in ("test_accuracy", "test_accuracy_dense", "relative_improvement", "capacity_fold", "cosine_fold"):
            if name in g.columns:
                x = pd.to_numeric(g[name], errors="coerce")
                row[f"{name}_mean"] = float(x.mean())
                row[f"{name}_sem"] = sem(x)
        row.update(t=t, p=p, star=star(p))
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["config_hash", "variant", *CONFIG_COLUMNS, "n"])


def variant_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (config, variant) over all finished rows: n, mean/SEM accuracy, mean/SD capacity and cosine, mask stats."""
    ok = usable(frame)
    rows = []
    for (h, variant), g in ok.groupby(["config_hash", "variant"], sort=False):
        row = {"config_hash": h, "variant": variant, **_config_values(g), "n": len(g)}
        for name in VARIANT_METRICS:
            if name in g.columns:
                x = pd.to_numeric(g[name], errors="coerce").dropna()
                row[f"{name}_mean"] = float(x.mean()) if len(x) else math.nan
                row[f"{name}_sd"] = float(x.std(ddof=1)) if len(x) >= 2 else math.nan
                row[f"{name}_sem"] = sem(x)
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["config_hash", "variant", *CONFIG_COLUMNS, "n"])


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


def regress(data: pd.DataFrame, x: str, y: str = "relative_improvement", label: str = "", alpha: float = 0.05):
    """statsmodels OLS of ``y`` on ``x`` (with intercept); None with < 3 points or constant x."""
    import statsmodels.api as sm

    d = data[[x, y]].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
    if len(d) < 3 or d[x].nunique() < 2:
        return None
    res = sm.OLS(d[y].to_numpy(float), sm.add_constant(d[x].to_numpy(float))).fit()
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
    )


def regressions(pairs: pd.DataFrame, group: tuple[str, ...] = ("variant", "alpha")) -> list[Regression]:
    """Fig. 4c: RI on capacity fold and on cosine fold, per (variant, alpha) and pooled."""
    out = []
    for x in ("capacity_fold", "cosine_fold"):
        if x not in pairs.columns:
            continue
        groups = [g for g in group if g in pairs.columns]
        for key, g in pairs.groupby(groups, sort=True) if groups else []:
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{n}={v}" if n != "variant" else str(v) for n, v in zip(groups, key, strict=True))
            fit = regress(g, x, label=label)
            if fit is not None:
                out.append(fit)
        fit = regress(pairs, x, label="all pooled")
        if fit is not None:
            out.append(fit)
    return out
