"""Page 1 of the report and the page after it, as LaTeX blocks, from the ledger's verdicts.

Page 1 holds what was run (preset, trials, epochs, device, data used with the stand-ins named, toolkit
version), the verdict table of the paper's claims (id and source, the four axes, our effect with its
interval beside the paper's number, n) and a paragraph a reader can quote. Page 2 holds how to read it:
the verdict rule, the families of tests, the definitions, the checks beyond the paper and each entry's
sentence. Reads :class:`reports.compute.verdicts.Verdict` objects, the ones ``claims --json`` prints.
"""

from __future__ import annotations

import pandas as pd

from reports.compute.claim_tests import data_used
from reports.compute.run_summary import RunSummary
from reports.compute.verdicts import FAMILY_BEYOND, FAMILY_PAPER, counts
from reports.render.verdicts import LEGEND, latex_table, paragraph, tex

FULL_COMMAND = "fpe-theory report --preset paper --out report-paper --store results-paper.db"


def _span(values) -> str:
    v = sorted(values)
    if not v:
        return "--"
    return str(v[0]) if len(v) == 1 else f"{v[0]}--{v[-1]}"


def smoke_note(planned: tuple[int, int] | None) -> str:
    """For a quick-preset report (``planned``: the paper preset's configs and pairs): a smoke run; else ''."""
    if planned is None:
        return ""
    configs, pairs = planned
    return (
        "\\textbf{This is a smoke run.} The quick preset trains few trials for few epochs on small data sets: "
        "its verdicts rest on that, many are \\emph{undecided}, and its effects need not match the paper's sizes. "
        f"The full run is \\texttt{{{tex(FULL_COMMAND)}}}: {configs} configurations and {pairs} planned "
        "(configuration, trial) pairs."
    )


def page_one(
    verdicts,
    run: RunSummary,
    frame: pd.DataFrame | None,
    preset: str,
    version: str,
    planned: tuple[int, int] | None = None,
) -> str:
    """The LaTeX of page 1 (what was run, the verdict table, the paragraph); body-size type."""
    data = "; ".join(data_used(frame)) or "--"
    paper = [v for v in verdicts if v.in_paper]
    lines = [
        "\\section*{Which of the paper's claims hold}",
        "\\addcontentsline{toc}{section}{Which of the paper's claims hold}",
        f"\\textbf{{What was run.}} Preset \\texttt{{{tex(preset)}}}: {run.configs} configurations, "
        f"{run.pairs} (configuration, trial) pairs, {tex(_span(run.trials))} trials per configuration; warm-up "
        f"{tex(_span(run.warmup))} and fine-tune {tex(_span(run.epochs))} epochs; device "
        f"{tex(', '.join(run.devices) or '--')}; fpe-theory {tex(version)} (rows by "
        f"{tex(', '.join(run.versions) or '--')}). Data: {tex(data)}.",
    ]
    if planned is not None:
        lines += ["", smoke_note(planned)]
    lines += [
        "",
        "\\noindent " + latex_table(paper).rstrip("\n"),
        "",
        _dagger(paper),
        "",
        f"\\paragraph{{In one paragraph.}} {tex(paragraph(verdicts, smoke=planned is not None))}",
        "",
        "\\smallskip\\noindent How to read this table, the families of tests and the checks beyond the paper: "
        "next page.",
    ]
    return "\n".join(lines) + "\n"


def _dagger(paper) -> str:
    stand = sorted({v.scope for v in paper if v.scope.startswith("stand-in")})
    if not stand:
        return ""
    return (
        "\\noindent "
        + tex(LEGEND)
        + " $^\\dagger$ "
        + tex(stand[0][0].upper() + stand[0][1:])
        + "; size is not compared there."
    )


RULE = (
    "\\textbf{Direction} (multiplicity-adjusted): \\emph{supported} --- adjusted $p<0.05$ in the claimed direction; "
    "\\emph{contradicted} --- adjusted $p<0.05$ against it; \\emph{no effect detected} --- not significant, with "
    "$\\ge 80\\%$ power for the effect the claim is powered for (the paper's number where it prints one, else the "
    "smallest effect of interest in the claim's unit); \\emph{undecided} --- not significant and underpowered. "
    "``About equal'' claims by two one-sided tests (TOST) against the equivalence margin; ``every cell'' claims "
    "by the intersection-union test. \\textbf{Size}: the paper's number against our interval of the same statistic "
    "(\\emph{reproduced} inside it, else smaller / larger than reported); not compared on stand-in data. "
    "\\textbf{Scope}: the paper's setting, stand-in data (named above), or beyond the paper. "
    "\\textbf{Robust}: the direction survives the plausible range of every constant it uses (fallback effect "
    "1--3 pts, equivalence margin 0.5--2 pts, fallback slope, correlation, the correction family); else the "
    "constant is named. \\textbf{Intervals} are printed at the level the adjusted test uses, "
    "$1-0.05\\,p/\\tilde p$ (column ``level''), so an interval excludes 0 exactly when the verdict is significant. "
    "Theory entries (T) come from exact probabilities, judged in the regime the paper states (large $m$ and $d$)."
)


def page_two(verdicts) -> str:
    """How to read page 1: the rule, the families, the checks beyond the paper, and every entry's sentence."""
    beyond = [v for v in verdicts if not v.in_paper]
    n = counts(verdicts, paper_only=False)
    lines = [
        "\\section*{How the verdicts are reached}",
        RULE,
        "",
        f"\\textbf{{Families.}} {tex(FAMILY_PAPER)}: E1a--E9 (one test each). {tex(FAMILY_BEYOND)}: "
        + ", ".join(tex(v.id) for v in beyond)
        + ". The report's comparison table (every configuration and split) is a third family, stated there. "
        + f"Over the whole ledger: {', '.join(f'{k} {tex(d)}' for d, k in n.items())}.",
    ]
    if beyond:
        lines += [
            "",
            "\\paragraph{Beyond the paper} (checks the paper does not make; not counted among its claims)",
            "",
            "\\noindent " + latex_table(beyond).rstrip("\n"),
        ]
    lines += ["", "\\paragraph{Each entry in one sentence.}", "\\begin{description}"]
    for v in verdicts:
        quote = f" Quoted: ``{tex(v.quote)}''." if v.quote else ""
        lines.append(
            f"\\item[{tex(v.id)}] {tex(v.sentence)} \\emph{{Test:}} {tex(v.evidence)}; unit "
            f"{tex(v.unit_of_analysis)}; robustness {tex(v.robustness)}.{quote}"
        )
    lines.append("\\end{description}")
    return "\n".join(lines) + "\n"
