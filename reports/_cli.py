"""``fpe-theory report``: run what the store lacks, then build report.tex / report.pdf from stored rows.

Imports only click at module level; the report machinery is imported inside the command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from fpe_train.sweeps.calibrate import UNSTEADY, resolve_plan_device
from fpe_train.sweeps.eta import default_workers, duration, format_plan, plan_report
from fpe_train.sweeps.export import export_store
from fpe_train.sweeps.files import check_input, check_output, output_format, store_files
from reports import decide, presets
from reports.decide import as_json
from reports.render.latex import LatexBuildError


@click.command("report")
@click.option(
    "--preset", default="quick", show_default=True, help="quick (< 5 min on 2 cores) or paper (the paper's sizes)"
)
@click.option(
    "--out",
    "out",
    default="report",
    show_default=True,
    type=click.Path(file_okay=False),
    help="output folder: report.tex/.pdf, figures/, summary.csv/.md (results.db by default)",
)
@click.option(
    "--store", default=None, type=click.Path(dir_okay=False), help="results store to use (default <out>/results.db)"
)
@click.option("--no-run", is_flag=True, help="build from the store only: train and simulate nothing new")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="training processes (default: all cores)")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars on stderr.")
@click.option(
    "--plan",
    "show_plan",
    is_flag=True,
    help="print the plan (configs, trials, batches, model-epochs, FLOPs, ETA timed here); train nothing",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="with --plan: where the ETA is timed (cuda needs a GPU here)",
)
@click.option(
    "--from",
    "from_export",
    default=None,
    type=click.Path(dir_okay=False),
    help="build from a shipped export (e.g. results/paper.csv.gz) instead of a store: nothing is trained",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: what the report did (or the plan)")
@click.option(
    "--export",
    "export_to",
    default=None,
    type=click.Path(dir_okay=False),
    help="after the build, ship the preset's rows as an export (e.g. results/paper.csv.gz) for --from",
)
@click.option(
    "--decide",
    is_flag=True,
    help="plan from the store's rows which trials decide the open claims (out/decide_plan.json, fixed once), "
    "train exactly those, then build the report",
)
def report(
    preset: str,
    out: str,
    store: str | None,
    no_run: bool,
    workers: int | None,
    progress: bool,
    show_plan: bool,
    device: str,
    from_export: str | None,
    as_json: bool,
    export_to: str | None,
    decide: bool,
) -> None:
    """Theory, Monte Carlo and trained networks side by side, as report.tex and report.pdf in OUT."""
    from reports.build import build_report  # keeps pandas, scipy, statsmodels, sympy, tqdm out until used

    decided = None
    if decide:
        refused = (
            ("--from", from_export, "an export cannot be trained into; give --store"),
            ("--no-run", no_run, "--decide trains the planned trials"),
            ("--plan", show_plan, "--plan trains nothing; `fpe-theory claims --plan` shows what --decide runs"),
        )
        decided = _decide(preset, Path(out), store, workers, progress, as_json, refused)
        no_run = True  # the report is rebuilt from the store: nothing beyond the planned trials is trained
    if show_plan:
        return _plan(preset, workers, device, as_json)
    if from_export and (store or export_to):
        other = f"store={store!r}" if store else f"export={export_to!r}"
        raise ValueError(f"from={from_export!r} and {other}: --from builds from an export alone")
    _check_paths(out, store, from_export, export_to)
    source = _source(from_export)
    if source is not None and click.get_current_context().get_parameter_source("preset").name == "DEFAULT":
        preset = source.meta.get("preset") or preset  # the preset the export was made with
    try:
        res = build_report(
            out, preset=preset, store=store, run=not no_run, progress=progress, workers=workers, export=source
        )
    except LatexBuildError as exc:
        click.echo(f"Error: {exc}", err=True)
        for line in exc.excerpt:
            click.echo(f"  {line}", err=True)
        raise SystemExit(2) from None
    if export_to:
        note = None if decided is None else {"decide_plan": _decide_note(decided[0])}
        _export(export_to, preset, store or str(Path(out) / "results.db"), res.seconds, note)
    if as_json:
        return _summary(res, preset, store if source is None else source.path, decided)
    for name, note in res.skipped:
        click.echo(f"skipped figure {name}: {note}", err=True)
    did = (
        f"read the rows of {source.path}"
        if source is not None
        else f"trained {res.trained} trials ({res.reused} already stored)"
    )
    if decided is not None:
        got = decided[1]
        did = f"trained {got.done} planned trials ({got.done + got.skipped} now stored in the planned configs)"
    click.echo(f"{did}; wrote {res.tex}" + (f" and {res.pdf}" if res.pdf else "") + f" in {res.seconds:.1f} s")
    if res.hint:
        click.echo(res.hint)


def _decide(preset: str, out: Path, store: str | None, workers, progress: bool, as_json: bool, refused):
    """``--decide``: the fixed plan (``reports.decide``), printed, then its trials trained; (Decision, Trained).
    ``refused``: (flag, given, why) of the flags that cannot go with it."""
    for flag, given, why in refused:
        if given:
            raise ValueError(f"--decide with {flag}: {why}")
    store_path = Path(store) if store is not None else out / "results.db"
    decision = decide.prepare(presets.get_preset(preset), out, store_path)
    if not as_json:
        click.echo(decide.describe(decision))
    trained = decide.train(decision, store_path, workers, progress)
    if not as_json:
        click.echo(decide.summary_line(decision, trained))
    return decision, trained


def _decide_note(decision) -> str:
    """One line of export provenance: when the decide plan was fixed, from what, and what it trained."""
    ran = [p.id for p in decision.planned if p.status == "planned"]
    configs = sum(len(s.configs) for s in decision.sweeps)
    return (
        f"fixed {decision.planned_at} from {decision.rows} stored trials; planned {', '.join(ran) or 'none'} "
        f"in {configs} configs"
    )


def _plan(preset: str, workers: int | None, device: str, as_json: bool) -> int:
    """``--plan``: the preset's sweeps counted and timed (``fpe_train.sweeps.eta``); nothing is trained."""
    chosen = presets.get_preset(preset)
    workers = workers or default_workers(resolve_plan_device(device))
    # one process pool for every sweep when more than one worker (``build.run_preset``), else this process
    data = plan_report(presets.load_sweeps(chosen), device, workers, starts="once" if workers > 1 else "none")
    tail = chosen.report_seconds
    if tail is not None and "eta_seconds" in data["total"]:
        data["report_seconds"] = tail
        data["eta_with_report_seconds"] = data["total"]["eta_seconds"] + tail
        spread = data["calibration"].get("spread", 1.0)
        data["eta_slow_with_report_seconds"] = data["total"]["eta_slow_seconds"] + tail * spread
    if as_json:
        click.echo(json.dumps({"preset": preset, **data}, indent=1))
        return 0
    text = f"preset {preset}\n{format_plan(data)}"
    if "report_seconds" in data:
        text += (
            f"\nthen the report (Monte Carlo, statistics, figures, PDF): about {duration(tail)}, measured on "
            f"2 cores, not timed here; with it: {duration(data['eta_with_report_seconds'])}"
            + (
                f" (at the pace of the slower repeats: {duration(data['eta_slow_with_report_seconds'])})"
                if data["calibration"].get("spread", 1.0) >= UNSTEADY
                else ""
            )
        )
    click.echo(text)
    return 0


def _export(path: str, preset: str, store: str, seconds: float, more: dict | None = None) -> None:
    """``--export``: the store's rows of the preset's sweeps, with provenance (``fpe_train.sweeps.export``)."""
    meta = export_store(
        store,
        path,
        presets.load_sweeps(presets.get_preset(preset)),
        {"preset": preset, "wall_seconds": f"{seconds:.1f}", **(more or {})},
    )
    note = f"; incomplete: {meta['sweeps_incomplete']}" if meta["sweeps_incomplete"] else ""
    click.echo(f"exported {meta['rows']} rows -> {path}{note}", err=True)


REPORT_FILES = ("summary.csv", "report.tex", "report.pdf", "report.failed.log", "report.failed.tex")
EXPORT_FORMATS = {".csv": "csv", ".csv.gz": "csv.gz"}  # an export carries its provenance lines: CSV only


def _check_paths(out: str, store: str | None, from_export: str | None, export_to: str | None) -> None:
    """Before anything runs: no file the report writes (its own files, ``--export``) is any file it reads
    (the store, ``--from``; links included), none is a device or FIFO, every folder is writable
    (``fpe_train.sweeps.files``)."""
    if from_export is not None:
        check_input(from_export, "from")
        inputs = {"from": [from_export]}
    else:
        store_path = store or os.path.join(out, "results.db")
        check_input(store_path, "store")
        inputs = {"store": store_files(store_path)}
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out={out!r}: is a file, not a folder; the report writes a folder of files")
    figures = os.path.realpath(os.path.join(out, "figures"))
    for name, paths in inputs.items():
        if any(os.path.realpath(p).startswith(figures + os.sep) for p in paths):
            raise ValueError(
                f"{name}={paths[0]!r}: lies in {os.path.join(out, 'figures')!r}, which the report replaces"
            )
    if os.path.isdir(out):
        for name in REPORT_FILES:
            check_output(os.path.join(out, name), "out", inputs)
    if export_to is None:
        return
    output_format(export_to, "export", EXPORT_FORMATS)
    mine = {"out": [os.path.join(out, name) for name in REPORT_FILES]}
    if not os.path.isdir(out) and os.path.dirname(os.path.abspath(export_to)) == os.path.abspath(out):
        return  # into the report's folder, made by the build: nothing there to overwrite yet
    check_output(export_to, "export", {**inputs, **mine})


def _source(path: str | None):
    if path is None:
        return None
    from reports.shipped import open_export  # keeps pandas, scipy, statsmodels out until used

    return open_export(path)


def _summary(res, preset: str, source, decided=None) -> int:
    """``--json``: what the report did, as one JSON object on stdout (with ``decide`` after ``--decide``)."""
    data = dict(
        preset=preset,
        source=None if source is None else str(source),
        tex=str(res.tex),
        pdf=None if res.pdf is None else str(res.pdf),
        figures=[str(f) for f in res.figures],
        skipped=[{"name": n, "note": t} for n, t in res.skipped],
        trained=res.trained,
        reused=res.reused,
        seconds=res.seconds,
        hint=res.hint,
    )
    if decided is not None:
        data["decide"] = as_json(*decided)
    click.echo(json.dumps(data, indent=1))
    return 0
