"""Theory commands of the ``fpe-theory`` CLI: ``coverage``, ``collisions``, ``formulas``.

Only click and the standard library are imported at module level; ``fpe_theory`` (light)
is imported inside the commands and sympy only by ``formulas``. Bad input raises
ValueError / click errors, which ``cli.py`` prints as one line ``Error: ...`` (exit 2).
"""

from __future__ import annotations

import json

import click

from fpe_theory.families import ALIASES, FAMILIES, canonical_family
from fpe_theory.symbolic import latex_forms, plain_forms
from fpe_theory.tables import collisions_report, coverage_report, format_collisions, format_coverage


def _families(ctx, param, values):
    return tuple(canonical_family(v) for v in values)


def _family_choice() -> click.Choice:
    return click.Choice([*FAMILIES, *ALIASES])


FAMILY_CHOICE = _family_choice()


def _problem_options(fn):
    fn = click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")(fn)
    fn = click.option(
        "--exact",
        is_flag=True,
        help="Also give every exact fraction as a string 'a/b' in --json (they can run to thousands of digits).",
    )(fn)
    fn = click.option(
        "--family",
        "families",
        type=FAMILY_CHOICE,
        multiple=True,
        callback=_families,
        help="Restrict to these families; repeat for several (aliases: partition = random, independent = overlap).",
    )(fn)
    fn = click.option("--r", "r", type=int, default=None, help="Dense neurons = FPE parents (default 1,2,4,...,256).")(
        fn
    )
    fn = click.option("--alpha", type=int, default=4, show_default=True, help="Expansion factor alpha.")(fn)
    fn = click.option("--k", type=int, default=4, show_default=True, help="Literals per clause.")(fn)
    fn = click.option("--m", type=int, default=128, show_default=True, help="Inputs (Boolean literals).")(fn)
    return fn


@click.command()
@_problem_options
@click.option("--eps", type=float, default=None, help="Tolerance: add the minimal r with P(all covered) >= 1-eps.")
@click.option(
    "--max-seconds",
    type=float,
    default=10.0,
    show_default=True,
    help="Skip (with a note and exact bounds) exact all-covered probabilities and r_min estimated to take longer.",
)
def coverage(m, k, alpha, r, families, exact, as_json, eps, max_seconds):
    """Exact clause coverage of each mask family beside the paper's approximations (A.5).

    Answers within about --max-seconds: what is estimated to take longer is skipped with a note,
    and union bounds whose exact fractions would have millions of digits come from logarithms.
    """
    report = coverage_report(m, k, alpha, r, families, eps, max_seconds, exact=exact or not as_json)
    click.echo(json.dumps(report) if as_json else format_coverage(report))


@click.command()
@_problem_options
def collisions(m, k, alpha, r, families, exact, as_json):
    """Expected collisions of FPE vs dense, exact ratio beside the paper's alpha^-(2k-1) (closed forms)."""
    report = collisions_report(m, k, alpha, r, families, exact=exact or not as_json)
    click.echo(json.dumps(report) if as_json else format_collisions(report))


@click.command()
@click.option("--latex", is_flag=True, help="Print LaTeX instead of plain sympy text.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
def formulas(latex, as_json):
    """Closed forms of p, p' and alpha p' and their large-m expansions (sympy)."""
    forms = latex_forms() if latex else plain_forms()
    if as_json:
        click.echo(json.dumps({"format": "latex" if latex else "plain", "forms": forms}))
        return
    for name, text in forms.items():
        click.echo(f"{name:26s} {text}")
