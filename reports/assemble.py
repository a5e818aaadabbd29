"""Assemble the report: the computing layer's data (``reports.compute``) handed to the rendering layer
(``reports.render``) -> the template context, the drawn figures and the skipped ones.

Everything here reads the stored frame and the stored Monte Carlo results, or computes exact theory.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fpe_train.sweeps.files import spreadsheet_safe
from reports.compute import theory
from reports.compute.frame import check_frame, paired, regressions, summarize, usable, variant_table
from reports.compute.ledger import ledger
from reports.compute.paper_comparison import paper_rows
from reports.compute.run_summary import planned_trials, run_summary, toolkit_version
from reports.compute.selection import FIGURE_SWEEPS, regression_pairs
from reports.compute.table_rows import config_overview, cosine_difference_rows, metric_cells
from reports.render import figures, findings, formulas, tables
from reports.render.verdicts import markdown_table


def _theory(preset, folder: Path, monte_carlo=None):
    grid = theory.approximation_grid(preset.grid_m, preset.grid_k, preset.grid_alpha)
    rmin = theory.r_min_table(preset.r_min_problems, eps_values=(0.05, 0.01))
    drawn = [figures.fig_theory_ratios(grid, folder), figures.fig_r_min(rmin, folder)]
    mc_rows = theory.monte_carlo_table(
        preset.mc_cases, mc_trials=preset.mc_trials, seed=preset.seed, simulate=monte_carlo
    )
    theory_tables = dict(
        formulas=formulas.formulas(),
        grid_table=tables.grid_table(grid[grid["k"].isin((2, 4))]),
        r_min_table=tables.r_min_latex(rmin),
        mc_table=tables.mc_table(mc_rows),
    )
    return theory_tables, drawn


def _training_figures(summary, vtable, regs, rows, folder: Path):
    neurons = dict(axis="r", sweeps=FIGURE_SWEEPS["r"], fixed={"task": "boolean"})
    clauses = dict(axis="clauses", sweeps=FIGURE_SWEEPS["clauses"], fixed={"task": "boolean", "r": 8})
    training = [
        figures.fig_scan(
            summary,
            vtable,
            folder,
            "fig3a",
            caption="Relative improvement (\\%, top) and test "
            "accuracy (\\%) per nonzero parameter (bottom) vs neurons (Boolean, paper Fig.~3a).",
            **neurons,
        ),
        figures.fig_scan(
            summary,
            vtable,
            folder,
            "fig3b",
            caption="Relative improvement (\\%, top) and test "
            "accuracy (\\%) per nonzero parameter (bottom) vs clauses (Boolean, paper Fig.~3b).",
            **clauses,
        ),
        figures.fig_heatmap(summary, folder),
        figures.fig_folds(
            summary,
            folder,
            "fig4a",
            caption="Feature capacity fold change FPE / dense "
            "(top) and the {cos} difference FPE $-$ dense (bottom) vs neurons (paper Fig.~4a, which "
            "shows a cosine fold change: a ratio of near-zero means).",
            **neurons,
        ),
        figures.fig_folds(
            summary,
            folder,
            "fig4b",
            caption="Feature capacity fold change FPE / dense "
            "(top) and the {cos} difference FPE $-$ dense (bottom) vs clauses (paper Fig.~4b, which "
            "shows a cosine fold change: a ratio of near-zero means).",
            **clauses,
        ),
        figures.fig_vision(summary, vtable, folder),
        figures.fig_alpha(summary, vtable, folder),
        figures.fig_curves(rows, vtable, folder),
    ]
    return training, [figures.fig_regressions(regs, folder)]


def assemble(frame: pd.DataFrame, preset, folder: Path, store: str, monte_carlo=None):
    """(template context, drawn figures by section, skipped (name, note) list).

    ``monte_carlo``: where Monte Carlo results come from, with ``simulations.simulate``'s signature
    (``reports.montecarlo.StoredMonteCarlo``; None simulates live).
    """
    check_frame(frame, where=f"store={store!r}")
    folder.mkdir(parents=True, exist_ok=True)
    pairs = paired(frame)
    summary = summarize(pairs)
    vtable = variant_table(frame)
    regs = regressions(regression_pairs(pairs)) if not pairs.empty else []
    theory_tables, theory_figs = _theory(preset, folder, monte_carlo)
    pred = theory.prediction_table(vtable, mc_trials=preset.mc_trials, seed=preset.seed, simulate=monte_carlo)
    pred_figs = [figures.fig_predicted_collisions(pred, folder)]
    training_figs, reg_figs = _training_figures(summary, vtable, regs, usable(frame), folder)
    if not summary.empty:
        spreadsheet_safe(summary).to_csv(folder.parent / "summary.csv", index=False)  # formulas quoted as text
    by_section = dict(
        theory_figures=theory_figs,
        prediction_figures=pred_figs,
        training_figures=training_figs,
        regression_figures=reg_figs,
    )
    drawn = {k: [f for f in v if isinstance(f, figures.Drawn)] for k, v in by_section.items()}
    skipped = [(f.name, f.note) for v in by_section.values() for f in v if isinstance(f, figures.Skipped)]
    ok = usable(frame)
    context = dict(
        preset=preset.name,
        store=store,
        seed=preset.seed,
        mc_trials=preset.mc_trials,
        n_rows=len(ok),
        n_configs=ok["config_hash"].nunique(),
        sweeps=", ".join(sorted({n for s in ok["sweep"].dropna() for n in str(s).split(",")})) or "--",
        notes=_notes(frame, ok),
        config_table=tables.config_table(config_overview(vtable)),
        prediction_table=tables.prediction_latex(pred) if not pred.empty else "",
        pruning_summary=tables.pruning_summary(theory.pruning_moves(pred)),
        accuracy_table=tables.accuracy_table(vtable),
        improvement_table=tables.improvement_table(summary) if not summary.empty else "",
        capacity_table=tables.metric_table(metric_cells(vtable, "capacity")),
        cosine_table=tables.metric_table(metric_cells(vtable, "cosine")),
        cosine_diff_table=tables.cosine_difference_table(cosine_difference_rows(summary)),
        regression_table=tables.regression_table(regs) if regs else "",
        paper_table=tables.paper_vs_ours(paper_rows(vtable, summary, pairs)),
        **theory_tables,
    )
    context.update(findings_context(frame, preset, folder))
    return context, drawn, skipped


def findings_context(frame: pd.DataFrame, preset, folder: Path | None = None) -> dict:
    """Page 1 and the page after it: the claims ledger (``reports.compute.ledger``) rendered by
    ``reports.render.findings``; the same verdicts as GitHub Markdown in ``summary.md`` beside the report."""
    verdicts = ledger(frame, preset)
    if folder is not None:
        (folder.parent / "summary.md").write_text(markdown_table(verdicts) + "\n")
    planned = planned_trials("paper") if preset.name == "quick" else None
    return dict(
        page_one=findings.page_one(verdicts, run_summary(frame), frame, preset.name, toolkit_version(), planned),
        page_two=findings.page_two(verdicts),
    )


def _notes(frame: pd.DataFrame, ok: pd.DataFrame) -> list[str]:
    notes = []
    if len(ok) < len(frame):
        notes.append(f"{len(frame) - len(ok)} stored rows are unfinished or failed and are left out.")
    return notes
