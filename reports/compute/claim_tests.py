"""Building blocks of the ledger's tests: selections of the paired frame, the scope and data used, one-sample
and between-configuration tests, trends over configurations, "every cell" (intersection-union) and
equivalence (TOST) entries. Each returns a :class:`reports.compute.verdicts.Pending` or the data for one.

Units of analysis: one configuration (the trial, paired with its own dense model); grid and trend claims
(the configuration, each one the mean of its trials); claims comparing configurations (their trials within
strata of equal task and width); "every cell" claims (each cell paired, the claim by intersection-union).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats
from scipy.stats import norm
from statsmodels.stats.power import TTestIndPower, TTestPower

from reports import stats
from reports.compute import config_unit
from reports.compute.frame import in_sweep
from reports.compute.verdict_axes import tost_paired
from reports.compute.verdicts import Against, Constants, Pending, Power

NAN = math.nan
PAPER_SETTING = "paper's setting"
BEYOND = "beyond the paper"
# What the stand-ins hold (reports name the sizes actually used; a config's n_train / n_test only caps them).
STAND_INS = {
    "digits": ("scikit-learn digits 8x8", 1437, 360),
    "mnist1d": ("MNIST-1D", 4000, 1000),
}
PAPER_DATA = "FashionMNIST and CLIP ViT-B/16 embeddings of CIFAR-100 / ImageNet"


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


def missing(claim_id: str, evidence: str, unit: str, scope: str, why: str) -> Pending:
    return Pending(claim_id, evidence, unit, 100.0, "--", 1, scope, missing=why)


def pts_text(x: float) -> str:
    return "--" if not np.isfinite(x) else f"{100 * x:+.1f}"


def ci_text(ci) -> str:
    return f"[{pts_text(ci[0])}, {pts_text(ci[1])}]"


class OneSample:
    """Mean of ``values`` (per-trial paired differences, or configuration means) against 0."""

    def __init__(self, values):
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


def fallback(c: Constants, scale: float = 1.0) -> tuple[float, str, str]:
    return c.fallback_effect * scale, f"smallest effect of interest {100 * c.fallback_effect:g} pts", "fallback effect"


def one_sample_pending(
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


def diff_by_config(rows: pd.DataFrame, a: str, b: str = "dense", value: str = "test_accuracy") -> pd.DataFrame:
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


def positive_share(means) -> str:
    m = np.asarray(means, dtype=float)
    return f"{np.mean(m > 0):.0%} of {len(m)} configs have a positive mean"


def trend(
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
    m = means.dropna(subset=[y, x])
    if len(m) < 3 or m[x].nunique() < 2:
        return missing(claim_id, evidence, unit, scope, f"fewer than three configurations with two values of {x}")
    formula = f"{y} ~ {x}" + (f" + C({strata})" if strata and m[strata].nunique() > 1 else "")
    n_units = int(m[groups].nunique()) if groups else len(m)
    if groups and n_units >= 3:
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


def slope_power(c: Constants, x, resid, m) -> Power:
    power, needed = config_unit.slope_power(c.fallback_slope, resid, x)
    return Power(
        power,
        needed,
        c.fallback_slope,
        f"smallest slope of interest {100 * c.fallback_slope:g} RI pts per doubling",
        "fallback slope",
    )


def correlation_power(c: Constants, x, resid, m) -> Power:
    """Power for |rho| = fallback correlation (Fisher z): Phi(atanh(rho) sqrt(n - 3) - z_{1 - a/2})."""
    n = int(m["config_hash"].nunique()) if "config_hash" in m else len(x)  # configurations, not points
    rho = c.fallback_correlation
    z = math.atanh(rho)
    crit = norm.ppf(1 - stats.LEVEL / 2)
    power = float(norm.cdf(z * math.sqrt(max(n - 3, 0)) - crit)) if n > 3 else NAN
    needed = float(math.ceil(((crit + norm.ppf(stats.POWER_TARGET)) / z) ** 2 + 3))
    # the reference is a correlation, not a slope in the entry's unit: NaN there, the source names it
    return Power(power, needed, NAN, f"correlation |rho| = {rho:g} (a 'strong correlation')", "fallback correlation")


def every_cell(
    claim_id, evidence, scope, rows: pd.DataFrame, cells: list[str], a: str, b: str, paper_sweeps, detail_label
) -> Pending:
    """Intersection-union over cells: each cell's paired a - b; the claim's p = the largest directional p."""
    d = diff_by_config(rows, a, b)
    if d.empty:
        return missing(claim_id, evidence, "pts", scope, f"no rows with both {a} and {b}")
    tests = {k: OneSample(g["diff"]) for k, g in d.groupby(cells)}
    worst_key = max(tests, key=lambda k: tests[k].directional_p(1) if np.isfinite(tests[k].p) else 2.0)
    worst = tests[worst_key]
    p_iut = max(t.directional_p(1) for t in tests.values())
    against = [(k, t) for k, t in tests.items() if t.mean < 0 and np.isfinite(t.p)]
    strongest = min(against, key=lambda kt: kt[1].p) if against else None

    def label(k):
        return ", ".join(f"{c}={v}" for c, v in zip(cells, k if isinstance(k, tuple) else (k,), strict=True))

    details = tuple(
        f"{label(k)}: {pts_text(t.mean)} pts {ci_text(t.ci(stats.CONFIDENCE))}, p={t.p:.2g}, n={t.n}"
        for k, t in tests.items()
    )
    n_pos = sum(t.mean > 0 and t.p < stats.LEVEL for t in tests.values())

    # the intersection's power is that of its weakest cell: the smallest sqrt(n) / sd for the common reference
    weakest = min(
        (t for t in tests.values() if t.n >= 2 and np.isfinite(t.sd)),
        default=worst,
        key=lambda t: math.sqrt(t.n) / t.sd if t.sd > 0 else math.inf,
    )

    def power(c: Constants) -> Power:
        return weakest.power(*fallback(c))

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
        f"{label(worst_key)}, {pts_text(worst.mean)} pts"
        + (
            f"; the strongest loss, {label(strongest[0])}, {pts_text(strongest[1].mean)} pts (p={strongest[1].p:.2g})."
            if strongest
            else "."
        ),
        details=details,
        plan=dict(sweeps=list(paper_sweeps), configs=len(tests)),
    )


def equivalence(claim_id, evidence, unit_of_analysis, scope, values, n_of, sweeps, paper=NAN) -> Pending:
    test = OneSample(values)

    def power(c: Constants) -> Power:
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
        sentence=f"Difference {pts_text(test.mean)} pts over {test.n} {n_of}.",
        plan=dict(sweeps=list(sweeps), configs=1 if n_of == "trials" else test.n),
    )


STRATA = ("task", "clauses", "k", "r", "alpha", "depth")


def between_configs(claim_id, evidence, scope, rows, in_a, column, reference_of, sweeps, compared="") -> Pending:
    """Group a minus group b of ``column`` within strata of equal STRATA fields (OLS with stratum intercepts)."""
    strata = rows[[c for c in STRATA if c in rows.columns and c != compared]].astype(str).agg("|".join, axis=1)
    data = pd.DataFrame({"y": rows[column].to_numpy(float), "a": np.asarray(in_a, float), "s": strata.to_numpy()})
    data = data[data.groupby("s")["a"].transform(lambda g: g.nunique() == 2).astype(bool)].dropna()
    n_a, n_b = int((data["a"] == 1).sum()), int((data["a"] == 0).sum())
    if min(n_a, n_b) < 2:
        return missing(claim_id, evidence, "pts", scope, "fewer than two trials in a group")
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
        sentence=f"Difference {pts_text(float(fit.params['a']))} pts ({n_a} vs {n_b} trials).",
        plan=dict(sweeps=list(sweeps), configs=int(data["s"].nunique()) * 2),
    )
