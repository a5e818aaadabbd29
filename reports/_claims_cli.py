"""``fpe-theory claims``: the claims ledger (verdict per claim of the paper) from a results store.

Reads the store only (nothing is trained); theory entries are exact numbers over the preset's grid.
Imports only click at module level.
"""

from __future__ import annotations

import json
import math

import click


def _num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "--"
    return f"{x:.{digits}g}"


def format_ledger(claims) -> str:
    """The ledger as plain text: one block per claim."""
    from reports.render.findings import effect_text

    lines = []
    for c in claims:
        lines.append(f"{c.id:<4} {c.verdict.upper():<14} {c.claim} ({c.source})")
        if c.kind not in ("theory", "none"):
            lines.append(f"     effect {effect_text(c)}, n={c.n}, p={_num(c.p)}, Holm p={_num(c.p_adj)}, "
                         f"power {_num(c.power, 2)}")  # fmt: skip
        lines.append(f"     {c.sentence}")
    return "\n".join(lines)


@click.command("claims")
@click.option("--store", required=True, type=click.Path(dir_okay=False), help="results store (SQLite) to read")
@click.option("--preset", default="quick", show_default=True, help="preset whose theory grid T1-T3 use")
@click.option("--seed", default=0, show_default=True, type=int, help="bootstrap seed")
@click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout")
def claims(store: str, preset: str, seed: int, as_json: bool) -> None:
    """Each claim of the paper with a one-word verdict, its effect, CI, n and power, from STORE."""
    from pathlib import Path

    from reports.build import load_frame
    from reports.compute.claims import counts, ledger
    from reports.presets import get_preset

    chosen = get_preset(preset)
    frame = load_frame(Path(store))
    result = ledger(frame, chosen, seed=seed)
    if as_json:
        click.echo(json.dumps({"store": store, "preset": preset, "counts": counts(result),
                               "claims": [c.as_dict() for c in result]}, default=str))  # fmt: skip
        return
    click.echo(format_ledger(result))
    click.echo(", ".join(f"{n} {v}" for v, n in counts(result).items()))
