"""The report's first page: what was run, the verdict table, and a paragraph a reader can quote.

Everything comes from the claims ledger (``reports.compute.claims``) and the run summary
(``reports.compute.run_summary``); a quick-preset report also says it is a smoke run and gives the
exact command and planned size of the full run (``run_summary.planned_trials`` of the ``paper`` preset).
"""

from __future__ import annotations

import math

from reports.compute.claims import VERDICTS, Claim, counts
from reports.compute.run_summary import RunSummary
from reports.render.latex import escape, table

FULL_COMMAND = "fpe-theory report --preset paper --out report-paper --store results-paper.db"


def _span(values) -> str:
    """'--' for none, 'a' for one value, 'a--b' for the smallest and the largest."""
    if not values:
        return "--"
    return str(values[0]) if len(values) == 1 else f"{values[0]}--{values[-1]}"


def run_cells(run: RunSummary) -> dict:
    """The run summary as the template's text: spans of trials and epochs, devices and versions joined."""
    return dict(
        trials=_span(run.trials), warmup=_span(run.warmup), epochs=_span(run.epochs),
        devices=", ".join(run.devices) or "--", versions=", ".join(run.versions) or "--",
        configs=run.configs, pairs=run.pairs,
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


def context(run: RunSummary, preset_name: str, claims: list[Claim], planned: tuple[int, int] | None) -> dict:
    """Template variables of the findings page; ``planned``: the full run's (configs, trials) for a smoke run."""
    return dict(
        findings_run=run_cells(run), verdict_table=verdict_table(claims),
        findings_paragraph=escape(paragraph(claims, preset_name)), smoke=preset_name == "quick",
        full_command=escape(FULL_COMMAND), planned_configs=planned[0] if planned else None,
        planned_trials=planned[1] if planned else None, verdict_counts=counts(claims),
    )  # fmt: skip
