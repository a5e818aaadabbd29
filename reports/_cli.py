"""``fpe-theory report``: run what the store lacks, then build report.tex / report.pdf from stored rows.

Imports only click at module level; the report machinery is imported inside the command.
"""

from __future__ import annotations

import click


@click.command("report")
@click.option(
    "--preset", default="quick", show_default=True, help="quick (< 5 min on 2 cores) or paper (the paper's sizes)"
)
@click.option("--out", "out", default="report", show_default=True, type=click.Path(file_okay=False),
              help="output folder: report.tex, report.pdf, figures/, summary.csv (results.db by default)")  # fmt: skip
@click.option(
    "--store", default=None, type=click.Path(dir_okay=False), help="results store to use (default <out>/results.db)"
)
@click.option("--no-run", is_flag=True, help="build from the store only: train and simulate nothing new")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="training processes (default: all cores)")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars on stderr.")
def report(preset: str, out: str, store: str | None, no_run: bool, workers: int | None, progress: bool) -> None:
    """Theory, Monte Carlo and trained networks side by side, as report.tex and report.pdf in OUT."""
    from reports.build import build_report
    from reports.latex import LatexBuildError

    try:
        res = build_report(out, preset=preset, store=store, run=not no_run, progress=progress, workers=workers)
    except LatexBuildError as exc:
        click.echo(f"Error: {exc}", err=True)
        for line in exc.excerpt:
            click.echo(f"  {line}", err=True)
        raise SystemExit(2) from None
    for name, note in res.skipped:
        click.echo(f"skipped figure {name}: {note}", err=True)
    click.echo(f"trained {res.trained} trials ({res.reused} already stored); wrote {res.tex}"
               + (f" and {res.pdf}" if res.pdf else "") + f" in {res.seconds:.1f} s")  # fmt: skip
    if res.hint:
        click.echo(res.hint)
