"""The ledger rendered: the verdict table in LaTeX (page 1) and GitHub-flavoured Markdown, the quotable
paragraph, and the plain-text ledger of ``fpe-theory claims``. Reads :class:`reports.compute.verdicts.Verdict`
objects only, the same ones the JSON prints.

>>> signed(3.14159, 1), signed(-0.04, 1)
('+3.1', '0.0')
"""

from __future__ import annotations

import math
import re

from reports.compute.decide_plan import decision_status
from reports.compute.verdict_axes import DIRECTIONS, ROBUST
from reports.compute.verdicts import FAMILY_PAPER, Verdict, counts
from reports.render.latex import escape


def signed(x: float, digits: int = 1) -> str:
    """A signed number with ``digits`` decimals; never '-0.0' (a value that rounds to zero prints unsigned)."""
    if x is None or not math.isfinite(x):
        return "--"
    s = f"{x:+.{digits}f}"
    return s[1:] if float(s) == 0 else s


def _digits(v: Verdict) -> int:
    return 2 if v.unit in ("capacity", "exact / approximation") else 1


def effect_text(v: Verdict, with_level: bool = True) -> str:
    """'+3.2 [-0.5, +6.8] pts (99.4 %)': the effect, its interval at the level the verdict uses, the unit."""
    if v.kind == "none" or not math.isfinite(v.effect):
        return "--"
    if v.kind == "theory":
        return f"{v.effect:.3g} ({v.unit})" if v.unit != "cases short of 1 - eps" else f"{round(v.effect * v.n)}/{v.n}"
    dg = _digits(v)
    lo, hi = v.ci
    ci = f" [{signed(lo, dg)}, {signed(hi, dg)}]" if math.isfinite(lo) else ""
    level = f" ({100 * v.confidence:.3g} %)" if with_level and math.isfinite(v.confidence) else ""
    return f"{signed(v.effect, dg)}{ci} {v.unit}{level}"


def paper_text(v: Verdict) -> str:
    if not math.isfinite(v.paper):
        return "--"
    return f"{v.paper:.3g}" if v.kind == "theory" else signed(v.paper, _digits(v))


def scope_short(v: Verdict) -> str:
    return {"paper's setting": "paper"}.get(v.scope, "stand-in" if v.scope.startswith("stand-in") else "beyond")


def robustness_short(v: Verdict) -> str:
    if v.robustness in (ROBUST, "--"):
        return v.robustness
    names = re.findall(r"(?:^depends on |; )([a-z ]+):", v.robustness)
    return "on " + ", ".join(names)


def _n(v: Verdict) -> str:
    return str(v.n) if v.n else "--"


def _n_of(v: Verdict) -> str:
    return f"{v.n} {v.n_of}" if v.n else "--"


# ----------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(verdicts: list[Verdict]) -> str:
    """The paper's claims, then the checks beyond the paper, as GitHub-flavoured Markdown tables."""
    head = (
        "| id | claim (source) | direction | size | scope | robustness | our effect [interval] | paper | n |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    parts = []
    for title, chosen in (
        ("The paper's claims", [v for v in verdicts if v.in_paper]),
        ("Beyond the paper (not counted among its claims)", [v for v in verdicts if not v.in_paper]),
    ):
        if not chosen:
            continue
        rows = "".join(
            f"| {v.id} | {_md(v.claim)} ({_md(v.source)}) | **{v.direction}** | {v.size} | {_md(scope_short(v))} | "
            f"{_md(robustness_short(v))} | {_md(effect_text(v))} | {paper_text(v)} | {_n_of(v)} |\n"
            for v in chosen
        )
        parts.append(f"**{title}**\n\n{head}{rows}")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- LaTeX

_MATH = {  # escaped text -> LaTeX maths, matched in one pass (longest forms first)
    "(1/alpha)\\textasciicircum{}k": "$(1/\\alpha)^k$",
    "r \\textgreater{} alpha\\textasciicircum{}(k-1) ln(C/eps)": "$r > \\alpha^{k-1}\\ln(C/\\varepsilon)$",
    "alpha\\textasciicircum{}-(2k-1)": "$\\alpha^{-(2k-1)}$",
    "alpha\\textasciicircum{}(k-1) ln(C/eps)": "$\\alpha^{k-1}\\ln(C/\\varepsilon)$",
    "\\textgreater{}=": "$\\ge$",
    "\\textless{}=": "$\\le$",
    "\\textgreater{}": "$>$",
    "1 - eps": "$1-\\varepsilon$",
    "eps = ": "$\\varepsilon$ = ",
    "1-eps": "$1-\\varepsilon$",
    "\\textbar{}cos\\textbar{}": "$|\\cos|$",
    "alpha": "$\\alpha$",
    "\\textasciitilde{}": "$\\approx$",
    "(d/m)\\textasciicircum{}k": "$(d/m)^k$",
    "C(m-k, d-k)/C(m, d)": "$\\binom{m-k}{d-k}/\\binom{m}{d}$",
    "E\\_FPE/E\\_dense": "$E_\\mathrm{FPE}/E_\\mathrm{dense}$",
    "alpha p'": "$\\alpha p'$",
    "rho": "$\\rho$",
    "R\\textasciicircum{}2": "$R^2$",
}
_MATH_RE = re.compile("|".join(re.escape(k) for k in sorted(_MATH, key=len, reverse=True)))


def tex(text) -> str:
    """Escape ``text`` for LaTeX and typeset its formulas (alpha, (1/alpha)^k, >=, |cos|, ...) as maths."""
    return _MATH_RE.sub(lambda m: _MATH[m.group(0)], escape(text))


SIZE_SHORT = {"reproduced": "reproduced", "smaller than reported": "smaller", "larger than reported": "larger"}
MARK = {"stand-in": "$^\\dagger$", "beyond": "", "paper": ""}


UNIT_SHORT = {
    "pts": "",
    "RI pts": "RI",
    "RI pts per doubling": "RI/dbl",
    "RI pts per unit": "RI/unit",
    "capacity": "cap.",
    "exact / approximation": "ratio",
}
ROBUST_SHORT = {
    "fallback effect": "fallback",
    "fallback slope": "slope",
    "fallback correlation": "correlation",
    "equivalence margin": "margin",
    "correction family": "family",
}
LEGEND = (
    "Units: pts unless named; RI = relative-improvement points; RI/dbl per doubling; RI/unit per unit of the "
    "regressor; cap. = feature capacity; ratio = exact / approximation."
)


def _effect_cell(v: Verdict) -> str:
    """The effect and interval with a short unit (none for accuracy points, which the header names)."""
    if v.kind != "test" or not math.isfinite(v.effect):
        text = effect_text(v, with_level=False)
        return text.replace(f"({v.unit})", f"({UNIT_SHORT.get(v.unit, v.unit)})")
    dg = _digits(v)
    lo, hi = v.ci
    ci = f" [{signed(lo, dg)}, {signed(hi, dg)}]" if math.isfinite(lo) else ""
    unit = UNIT_SHORT.get(v.unit, v.unit)
    return f"{signed(v.effect, dg)}{ci}" + (f" {unit}" if unit else "")


def _minus(cell: str) -> str:
    """A minus sign, not a hyphen, before a number."""
    return re.sub(r"(?<![\w$])-(?=\d)", "$-$", cell)


def _robust_cell(v: Verdict) -> str:
    short = robustness_short(v)
    if not short.startswith("on "):
        return short
    return ", ".join(ROBUST_SHORT.get(x, x) for x in short[3:].split(", "))


def latex_table(verdicts: list[Verdict]) -> str:
    """The verdict table (body-size type, ``tabularx`` of the line's width: the claim column takes what the
    others leave and wraps): id (dagger: stand-in data), claim, source, the four axes, our effect with its
    interval at the adjusted level (column 'level', %) beside the paper's number, n."""
    head = ["id", "claim", "source", "direction", "size", "robust", "ours [interval]", "level", "paper", "$n$"]
    lines = [
        "{\\setlength{\\tabcolsep}{3.5pt}\\begin{tabularx}{\\linewidth}{@{}l>{\\raggedright\\arraybackslash}Xllllrrrr@{}}",
        "\\toprule",
        " & ".join(head) + " \\\\",
        "\\midrule",
    ]
    for v in verdicts:
        cells = [
            tex(v.id) + MARK[scope_short(v)],
            tex(v.claim),
            tex(v.source),
            f"\\textbf{{{tex(v.direction)}}}",
            tex(SIZE_SHORT.get(v.size, v.size)),
            tex(_robust_cell(v)),
            _minus(tex(_effect_cell(v))),
            _level(v),
            _minus(tex(paper_text(v))),
            tex(_n(v)),
        ]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabularx}}"]
    return "\n".join(lines) + "\n"


def _level(v: Verdict) -> str:
    """The interval's confidence in %, e.g. '99.4' (Holm-matched: it agrees with the adjusted test)."""
    return f"{100 * v.confidence:.3g}" if v.kind == "test" and math.isfinite(v.confidence) else "--"


def paragraph(verdicts: list[Verdict], smoke: bool = False) -> str:
    """A quotable paragraph (plain text): counts of the paper's claims per direction, the findings by name."""
    paper = [v for v in verdicts if v.in_paper]
    n = counts(verdicts)
    parts = [
        f"Of the {len(paper)} claims of the paper checked here, "
        + ", ".join(f"{n[d]} {'are' if n[d] != 1 else 'is'} {d}" for d in DIRECTIONS)
        + f" (experiments: {FAMILY_PAPER})."
    ]
    for d in ("supported", "contradicted", "no effect detected"):
        ids = [v.id for v in paper if v.direction == d]
        if ids:
            parts.append(f"{d.capitalize()}: {', '.join(ids)}.")
    t3 = next((v for v in paper if v.id == "T3"), None)
    if t3 is not None and t3.direction == "contradicted":
        first = t3.sentence.split(" Short of")[0]
        parts.append(f"The coverage guarantee fails: {first[0].lower() + first[1:]}")
    smaller = [v.id for v in paper if v.size == "smaller than reported"]
    if smaller:
        parts.append(f"Smaller than the paper reports: {', '.join(smaller)}.")
    stand = sorted({v.scope for v in paper if v.scope.startswith("stand-in")})
    if stand:
        ids = [v.id for v in paper if v.scope.startswith("stand-in")]
        parts.append(f"{', '.join(ids)} ran on {stand[0]}: their direction speaks for those data, not the paper's.")
    fragile = [v.id for v in paper if v.robustness not in (ROBUST, "--")]
    if fragile:
        parts.append(f"Hanging on a constant: {', '.join(fragile)}.")
    open_ = [v for v in paper if v.direction == "undecided" and v.kind == "test"]
    if open_:
        parts.append("Still undecided: " + "; ".join(f"{v.id}, {decision_status(v)}" for v in open_) + ".")
    if smoke:
        parts.append("This is a smoke run at the quick preset's reduced sizes, not a replication.")
    return " ".join(parts)


def format_ledger(verdicts: list[Verdict]) -> str:
    """Plain text for the terminal: one block per entry, the paper's claims first."""
    lines = []
    for title, chosen in (
        ("The paper's claims", [v for v in verdicts if v.in_paper]),
        ("Beyond the paper (not counted among its claims)", [v for v in verdicts if not v.in_paper]),
    ):
        if not chosen:
            continue
        lines.append(title)
        for v in chosen:
            lines.append(f"{v.id:<4} {v.direction.upper():<19} {v.claim} ({v.source})")
            lines.append(f"     size {v.size}; scope {v.scope}; robustness {v.robustness}")
            if v.kind == "test":
                lines.append(
                    f"     effect {effect_text(v)}, paper {paper_text(v)}, n={v.n} {v.n_of}, p={v.p:.3g}, "
                    f"adjusted p={v.p_adj:.3g} ({v.family}), power {v.power:.2f}"
                )
            lines.append(f"     {v.sentence}")
    return "\n".join(lines)
