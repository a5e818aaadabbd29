"""``fpe-theory claims``: the claims ledger (four axes per claim of the paper) from a store or an export.

Reads rows only (nothing is trained); theory entries are exact numbers over the preset's grid. Imports
only click at module level.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path

import click

from reports import presets

SQLITE_MAGIC = b"SQLite format 3\x00"


def source_kind(path: str) -> str:
    """'store' (SQLite), 'export' (a results export, gzipped or not) or 'missing' / 'other', by content."""
    if not os.path.isfile(path):
        return "missing"
    with open(path, "rb") as f:
        head = f.read(16)
    if head == SQLITE_MAGIC:
        return "store"
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                head = g.read(16)
        except OSError:
            return "other"
    return "export" if head.startswith(b"# format=") else "other"


def load_rows(store: str | None, from_export: str | None):
    """(frame, meta, label) from exactly one of a store and an export; a one-line ValueError otherwise."""
    if bool(store) == bool(from_export):
        raise ValueError("claims: give exactly one of --store STORE (SQLite) and --from EXPORT (a results export)")
    if store:
        if source_kind(store) == "export":
            raise ValueError(f"store={store!r}: this is a results export, not a store: use --from {store}")
        from reports.build import load_frame  # keeps pandas, scipy, statsmodels, sympy, tqdm out until used

        return load_frame(Path(store)), {}, store
    if source_kind(from_export) == "store":
        raise ValueError(f"from={from_export!r}: this is a results store (SQLite), not an export: use --store")
    from reports.shipped import open_export  # keeps pandas, scipy, statsmodels out until used

    shipped = open_export(from_export)
    return shipped.frame, shipped.meta, from_export


def ledger_json(verdicts, label: str, preset: str, planned=None) -> dict:
    """The JSON object: counts over the paper's claims, its claims, the checks beyond it (and the plan)."""
    from reports.compute.verdicts import counts  # keeps pandas, scipy, statsmodels out until used

    out = {
        "source": label,
        "preset": preset,
        "counts": counts(verdicts),
        "claims": [v.as_dict() for v in verdicts if v.in_paper],
        "beyond_paper": [v.as_dict() for v in verdicts if not v.in_paper],
    }
    if planned is not None:
        out["plan"] = [p.as_dict() for p in planned]
    return out


@click.command("claims")
@click.option("--store", default=None, type=click.Path(dir_okay=False), help="results store (SQLite) to read")
@click.option(
    "--from",
    "from_export",
    default=None,
    type=click.Path(dir_okay=False),
    help="results export to read (e.g. results/paper.csv.gz), instead of a store",
)
@click.option("--preset", default=None, help="preset whose theory grid T1-T3 use [default: the export's, else quick]")
@click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout (effects in the unit they name)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md"]),
    default="text",
    show_default=True,
    help="md: the verdict table as GitHub-flavoured Markdown",
)
@click.option("--plan", "plan", is_flag=True, help="for undecided or constant-dependent claims: what decides them")
def claims(store, from_export, preset, as_json, fmt, plan) -> None:
    """Each claim of the paper on four axes (direction, size, scope, robustness), from STORE or an export."""
    from reports.compute.ledger import ledger  # keeps pandas, scipy, statsmodels out until used

    if preset:
        presets.get_preset(preset)  # a bad name is one line before any file is read
    frame, meta, label = load_rows(store, from_export)
    name = preset or meta.get("preset") or "quick"
    chosen = presets.get_preset(name)
    verdicts = ledger(frame, chosen)
    planned = None
    if plan:
        from reports.compute.decide_plan import plan_claims  # keeps pandas, scipy, statsmodels out until used

        planned = plan_claims(verdicts, chosen, frame)
    if as_json:
        click.echo(json.dumps(ledger_json(verdicts, label, name, planned), default=_default))
        return
    if plan:
        from reports.compute.decide_plan import format_plan  # keeps pandas, scipy, statsmodels out until used

        click.echo(format_plan(planned))
        return
    from reports.compute.verdicts import counts  # keeps pandas, scipy, statsmodels out until used
    from reports.render.verdicts import format_ledger, markdown_table  # keeps pandas, scipy, statsmodels out until used

    click.echo(markdown_table(verdicts) if fmt == "md" else format_ledger(verdicts))
    n = counts(verdicts)
    click.echo(("\n" if fmt == "md" else "") + "The paper's claims: " + ", ".join(f"{k} {v}" for v, k in n.items()))


def _default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)
