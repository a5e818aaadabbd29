"""The report's first page: what was run, the verdict table, and a paragraph a reader can quote.

Everything comes from the claims ledger (``reports.claims``) and the stored rows; a quick-preset
report also says it is a smoke run and gives the exact command and planned size of the full run
(counted from ``reports.presets.load_sweeps`` of the ``paper`` preset).
"""

from __future__ import annotations

import math

import pandas as pd

from reports.claims import VERDICTS, Claim, counts
from reports.latex import escape, table

FULL_COMMAND = "fpe-theory report --preset paper --out report-paper --store results-paper.db"


def planned_trials(preset_name: str = "paper") -> tuple[int, int]:
    """(distinct configurations, (config, trial) pairs) a preset's sweeps plan, configs shared by sweeps once."""
    from fpe_train.sweeps.store import config_hash
    from reports.presets import get_preset, load_sweeps

    trials: dict[str, int] = {}
    for sweep in load_sweeps(get_preset(preset_name)):
        for c in sweep.configs:
            h = config_hash(c)
            trials[h] = max(trials.get(h, 0), int(c.trials))
    return len(trials), sum(trials.values())


def _span(values) -> str:
    v = sorted({int(x) for x in values if x is not None and not pd.isna(x)})
    if not v:
        return "--"
    return str(v[0]) if len(v) == 1 else f"{v[0]}--{v[-1]}"


def run_summary(frame: pd.DataFrame) -> dict:
    """Trials per configuration, warm-up / fine-tune epochs, devices, toolkit versions of the finished rows."""
    from reports.analysis import usable

    ok = usable(frame)
    per_config = ok.groupby("config_hash")["trial"].nunique()
    devices = sorted({str(d) for d in ok.get("device", pd.Series(dtype=object)).dropna()})
    versions = sorted({str(v) for v in ok.get("version", pd.Series(dtype=object)).dropna()})
    return dict(
        trials=_span(per_config), warmup=_span(ok["warmup_epochs"]), epochs=_span(ok["epochs"]),
        devices=", ".join(devices) or "--", versions=", ".join(versions) or "--",
        configs=int(ok["config_hash"].nunique()), pairs=int(len(ok.drop_duplicates(["config_hash", "trial"]))),
    )  # fmt: skip


def effect_text(c: Claim) -> str:
    """The effect with its CI in the entry's unit: points for accuracy differences."""
    if c.kind == "none" or not math.isfinite(c.effect):
        return "--"
    lo, hi = c.ci
    if c.unit.startswith(("pts", "RI pts")):  # stored as fractions, shown in points
        ci = f" [{100 * lo:+.1f}, {100 * hi:+.1f}]" if math.isfinite(lo) else ""
        return f"{100 * c.effect:+.1f}{ci} {c.unit}"
    if c.kind == "theory":
        return f"{c.effect:.3g} ({c.unit})"
    ci = f" [{lo:+.3g}, {hi:+.3g}]" if math.isfinite(lo) else ""
    return f"{c.effect:+.3g}{ci} ({c.unit})"


def _num(x, fmt: str) -> str:
    return "--" if x is None or not math.isfinite(x) else format(x, fmt)


def verdict_table(claims: list[Claim]) -> str:
    """One row per claim: id, claim (source), verdict, effect [95 % CI], n, Holm p, power, the sentence."""
    rows = []
    for c in claims:
        rows.append([
            escape(c.id), escape(f"{c.claim} ({c.source})"), f"\\textbf{{{escape(c.verdict)}}}", escape(effect_text(c)),
            str(c.n) if c.n else "--", _num(c.p_adj, ".2g"), _num(c.power, ".0%").replace("%", "\\%"),
            escape(c.sentence),
        ])  # fmt: skip
    head = ["id", "claim (paper)", "verdict", "effect [95\\% CI]", "$n$", "Holm $p$", "power", "in one sentence"]
    return ("{\\scriptsize\\setlength{\\tabcolsep}{3pt}\n"
            + table(head, rows, align="lp{4.8cm}lp{2.7cm}rrrp{11.2cm}") + "}\n")  # fmt: skip


def paragraph(claims: list[Claim], preset_name: str) -> str:
    """A quotable paragraph (plain text, escaped later): counts per verdict and the claims behind each."""
    n = counts(claims)
    parts = [f"Of the {len(claims)} claims of the paper checked here, " +
             ", ".join(f"{n[v]} {'are' if n[v] != 1 else 'is'} {v}" for v in VERDICTS) + "."]  # fmt: skip
    for v in ("supported", "contradicted", "not supported"):
        ids = [c for c in claims if c.verdict == v]
        if ids:
            parts.append(f"{v.capitalize()}: " + "; ".join(f"{c.id} ({c.claim}, {effect_text(c)})" for c in ids) + ".")
    und = [c.id for c in claims if c.verdict == "undecided"]
    if und:
        parts.append(f"Undecided for want of trials or data: {', '.join(und)}.")
    parts.append("Theory verdicts come from exact probabilities; experimental verdicts from paired tests over "
                 "independent trials, Holm-corrected over the ledger.")  # fmt: skip
    if preset_name == "quick":
        parts.append("This is a smoke run at the quick preset's reduced sizes, not a replication.")
    return " ".join(parts)


def context(frame: pd.DataFrame, preset, claims: list[Claim]) -> dict:
    """Template variables of the findings page."""
    smoke = preset.name == "quick"
    planned = planned_trials("paper") if smoke else None
    return dict(
        findings_run=run_summary(frame), verdict_table=verdict_table(claims),
        findings_paragraph=escape(paragraph(claims, preset.name)), smoke=smoke,
        full_command=escape(FULL_COMMAND), planned_configs=planned[0] if planned else None,
        planned_trials=planned[1] if planned else None, verdict_counts=counts(claims),
    )  # fmt: skip
