"""Page 1 of the report and the page after it, as LaTeX blocks, from the ledger's verdicts.

Page 1 holds what was run (preset, trials, epochs, device, data used with the stand-ins named, toolkit
version), the verdict table of the paper's claims (id and source, the four axes, our effect with its
interval beside the paper's number, n) and a paragraph a reader can quote. Page 2 holds how to read it:
the verdict rule, the families of tests, the definitions, the checks beyond the paper and each entry's
sentence. Reads :class:`reports.verdicts.Verdict` objects, the ones ``claims --json`` prints.
"""

from __future__ import annotations

import pandas as pd

from reports.verdict_claims import data_used
from reports.verdict_render import LEGEND, latex_table, paragraph, tex
from reports.verdicts import FAMILY_BEYOND, FAMILY_PAPER, counts


def _span(values) -> str:
    v = sorted({int(x) for x in values if x is not None and not pd.isna(x)})
    if not v:
        return "--"
    return str(v[0]) if len(v) == 1 else f"{v[0]}--{v[-1]}"


def run_summary(frame: pd.DataFrame | None) -> dict:
    """Trials per configuration, warm-up / fine-tune epochs, devices, toolkit versions, data of the rows."""
    from reports.analysis import usable

    if frame is None or not len(frame):
        return dict(trials="--", warmup="--", epochs="--", devices="--", versions="--", configs=0, pairs=0, data="--")
    ok = usable(frame)
    per_config = ok.groupby("config_hash")["trial"].nunique()
    devices = sorted({str(d) for d in ok.get("device", pd.Series(dtype=object)).dropna()})
    versions = sorted({str(v) for v in ok.get("version", pd.Series(dtype=object)).dropna()})
    return dict(
        trials=_span(per_config),
        warmup=_span(ok["warmup_epochs"]) if "warmup_epochs" in ok else "--",
        epochs=_span(ok["epochs"]) if "epochs" in ok else "--",
        devices=", ".join(devices) or "--",
        versions=", ".join(versions) or "--",
        configs=int(ok["config_hash"].nunique()),
        pairs=int(len(ok.drop_duplicates(["config_hash", "trial"]))),
        data="; ".join(data_used(ok)) or "--",
    )


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


def smoke_note(preset_name: str) -> str:
    """For the quick preset: it is a smoke run, and the full run's command and size; else ''."""
    if preset_name != "quick":
        return ""
    configs, pairs = planned_trials("paper")
    return (
        "\\textbf{This is a smoke run.} The quick preset trains few trials for few epochs on small data sets: "
        "its verdicts rest on that, many are \\emph{undecided}, and its effects need not match the paper's sizes. "
        f"The full run is \\texttt{{{tex(FULL_COMMAND)}}}: {configs} configurations and {pairs} planned "
        "(configuration, trial) pairs."
    )


def page_one(verdicts, frame: pd.DataFrame | None, preset: str, version: str, smoke_note: str = "") -> str:
    """The LaTeX of page 1 (what was run, the verdict table, the paragraph); body-size type."""
    run = run_summary(frame)
    paper = [v for v in verdicts if v.in_paper]
    lines = [
        "\\section*{Which of the paper's claims hold}",
        "\\addcontentsline{toc}{section}{Which of the paper's claims hold}",
        f"\\textbf{{What was run.}} Preset \\texttt{{{tex(preset)}}}: {run['configs']} configurations, "
        f"{run['pairs']} (configuration, trial) pairs, {tex(run['trials'])} trials per configuration; warm-up "
        f"{tex(run['warmup'])} and fine-tune {tex(run['epochs'])} epochs; device {tex(run['devices'])}; "
        f"fpe-theory {tex(version)} (rows by {tex(run['versions'])}). Data: {tex(run['data'])}.",
    ]
    if smoke_note:
        lines += ["", smoke_note]
    lines += [
        "",
        "\\noindent " + latex_table(paper).rstrip("\n"),
        "",
        _dagger(paper),
        "",
        f"\\paragraph{{In one paragraph.}} {tex(paragraph(verdicts, smoke=preset == 'quick'))}",
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
        lines += ["", "\\paragraph{Beyond the paper} (checks the paper does not make; not counted among its claims)",
                  "", "\\noindent " + latex_table(beyond).rstrip("\n")]  # fmt: skip
    lines += ["", "\\paragraph{Each entry in one sentence.}", "\\begin{description}"]
    for v in verdicts:
        quote = f" Quoted: ``{tex(v.quote)}''." if v.quote else ""
        lines.append(f"\\item[{tex(v.id)}] {tex(v.sentence)} \\emph{{Test:}} {tex(v.evidence)}; unit "
                     f"{tex(v.unit_of_analysis)}; robustness {tex(v.robustness)}.{quote}")  # fmt: skip
    lines.append("\\end{description}")
    return "\n".join(lines) + "\n"
