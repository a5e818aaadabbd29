"""Build the report: run what the store lacks, analyse, draw, render LaTeX, build the PDF, publish atomically.

``build_report(out, preset, store=None, run=True)``:

1. runs the preset's sweeps into the store (default ``<out>/results.db``; only what it lacks), then
   the seeded Monte Carlo the report reads (``reports.montecarlo``; stored as ``mc_results`` rows),
2. reads the store's long-format frame (``ResultsStore.frame()``) and its Monte Carlo results --
   everything after this reads stored rows only and computes nothing but exact theory
   (``run=False``, ``report --no-run``: step 1 is skipped),
3. writes figures, ``report.tex`` and (when latexmk is on PATH) ``report.pdf`` into a temporary
   folder inside ``out`` and moves them into place only when all succeeded. A build that gives
   no PDF (no LaTeX engine, or a LaTeX error) removes any older ``out/report.pdf``, so no stale
   PDF looks current.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from fpe_train.sweeps.checks import check_rows
from fpe_train.sweeps.executors import make_executor
from fpe_train.sweeps.store import ResultsStore, config_hash
from fpe_train.sweeps.sweep import pending_trials, run_sweep
from reports import presets
from reports.assemble import assemble
from reports.compute.run_summary import toolkit_version
from reports.montecarlo import StoredMonteCarlo, required_cases, run_monte_carlo
from reports.render.latex import LatexBuildError, build_pdf, latex_engine, render

NO_LATEX_HINT = (
    "no LaTeX engine (latexmk + pdflatex) on PATH: wrote report.tex; get the PDF with "
    "`apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk` (or scripts/setup.sh) "
    "and `cd {out} && latexmk -pdf report.tex`"
)


@dataclass(frozen=True)
class BuildResult:
    tex: Path
    pdf: Path | None
    figures: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]
    seconds: float
    hint: str | None
    trained: int = 0  # trials trained (or failed) by this call
    reused: int = 0  # trials of the preset's sweeps already in the store


TMP_PREFIX = ".report-build-"  # + "<pid>-<random>": the building process's id, so orphans can be told apart


def prepare_out(out: Path) -> Path:
    """Create ``out`` and a private temporary folder in it; one-line ValueError when it cannot be written.

    Temporary folders left by a build that was killed (its process is gone) are removed first.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_orphans(out)
        return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=out))
    except OSError as exc:
        raise ValueError(f"out={str(out)!r}: cannot write there ({exc.strerror or exc})") from None


def remove_orphans(out: Path) -> list[Path]:
    """Remove ``out/.report-build-*`` folders whose process no longer runs (or that name none); return them."""
    removed = []
    for p in out.glob(f"{TMP_PREFIX}*"):
        pid = p.name[len(TMP_PREFIX) :].split("-")[0]
        if p.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@contextmanager
def terminate_as_exit():
    """While building, SIGTERM raises SystemExit (so ``finally`` removes the temporary folder); restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def stored_trials(preset, store_path: Path) -> int:
    """Distinct finished (config, trial) pairs of the preset's sweeps in the store (read only; 0 without a store).

    A config that two sweeps share counts once (``run_preset``'s "already stored" counts per sweep)."""
    if not store_path.exists():
        return 0
    wanted = {(config_hash(c), t) for s in presets.load_sweeps(preset) for c in s.configs for t in range(c.trials)}
    with ResultsStore(store_path, create=False, readonly=True) as store:
        status = store.trial_status({h for h, _ in wanted})
    return sum(status.get(key) == "done" for key in wanted)


def run_preset(preset, store_path: Path, progress: bool = True, workers: int | None = None) -> list:
    """Run the preset's sweeps into the store (only configurations it lacks).

    One executor serves every sweep: ``local`` (a process pool, one torch thread per worker,
    ``workers`` processes, default all cores) when more than one worker, else ``serial``. With
    ``progress``, one bar with an ETA over every trial the preset still needs sits above each sweep's bar.
    """
    sweeps = presets.load_sweeps(preset)  # parse every file before training anything
    workers = workers or os.cpu_count() or 1
    with ResultsStore(store_path) as store:
        with store.lock():  # name every sweep in the store, also one whose configs other sweeps already ran
            for s in sweeps:
                store.register(s.name, s.size, s.configs, s.path, s.description)
        pending = [s for s in sweeps if any(st.pending for st in store.status([s]))]
        if not pending:  # nothing to train: no process pool
            return [run_sweep(s, store, executor="serial", progress=False) for s in sweeps]
        ex = make_executor("local" if workers > 1 else "serial", workers=workers if workers > 1 else None, threads=1)
        total = pending_trials(sweeps, store)
        try:
            with tqdm(
                total=total,
                unit="trial",
                desc=f"preset {preset.name}",
                file=sys.stderr,
                position=0,
                disable=not progress,
                dynamic_ncols=True,
            ) as overall:
                return [run_sweep(s, store, executor=ex, progress=progress, overall=overall) for s in sweeps]
        finally:
            ex.close()


def load_frame(store_path: Path):
    """The store's long-format DataFrame; one-line ValueError when it is missing or not a results store."""
    if not store_path.exists():
        raise ValueError(f"store={str(store_path)!r}: no such results store (run without --no-run to create it)")
    try:
        with ResultsStore(store_path, create=False, readonly=True) as store:
            return check_rows(store.frame(), f"store={str(store_path)!r}")  # ranges, keys, configs
    except ValueError:
        raise
    except Exception as exc:  # sqlite3.DatabaseError and friends: not our store
        raise ValueError(
            f"store={str(store_path)!r}: not a readable results store ({type(exc).__name__}: {exc})"
        ) from None


HEADED = ("training_figures",)  # figure groups that open with their own heading in the template


def figure_tex(drawn, here: bool = False) -> str:
    """A LaTeX figure environment for a drawn figure; ``here``: placed exactly here (float's [H]), for the first
    figure under a heading, so that the heading never stands alone on a page while its figures float away."""
    return (
        f"\\begin{{figure}}[{'H' if here else 'htbp'}]\\centering\n"
        f"\\includegraphics[width=0.9\\linewidth,height=0.7\\textheight,keepaspectratio]{{figures/{drawn.stem}.pdf}}\n"
        f"\\caption{{{drawn.caption}}}\n\\end{{figure}}\n"
    )


def build_report(
    out, preset="quick", store=None, run: bool = True, progress: bool = True, workers: int | None = None, export=None
) -> BuildResult:
    """Run (unless ``run`` is False), analyse and write the report into ``out``; see the module docstring.

    ``export``: a shipped export (``reports.shipped.open_export``) read instead of a store; nothing runs.
    """
    start = time.perf_counter()
    chosen = preset if isinstance(preset, presets.Preset) else presets.get_preset(preset)
    out = Path(out)
    with terminate_as_exit():
        return _build(out, chosen, store, run, progress, workers, export, start)


def _build(out: Path, chosen, store, run, progress, workers, export, start) -> BuildResult:
    """The body of ``build_report`` (inside ``terminate_as_exit``)."""
    tmp = prepare_out(out)
    try:
        store_path = Path(store) if store is not None else out / "results.db"
        run = run and export is None
        ran = run_preset(chosen, store_path, progress=progress, workers=workers) if run else []
        frame = load_frame(store_path) if export is None else export.frame
        if run:  # the Monte Carlo the report reads, into the store (only what it lacks)
            run_monte_carlo(required_cases(chosen, frame), store_path, progress=progress)
        monte_carlo = StoredMonteCarlo(store_path) if export is None else export.monte_carlo()
        where = str(store_path) if export is None else export.path
        context, drawn, skipped = assemble(frame, chosen, tmp / "figures", store=where, monte_carlo=monte_carlo)
        if export is not None:
            context["notes"] = [*export.notes(), *context.get("notes", [])]
        if monte_carlo.missing:
            note = f"{monte_carlo.missing} Monte Carlo results not in the store (run without --no-run)"
            if export is not None:
                note = f"{monte_carlo.missing} Monte Carlo results not shipped in the export {export.path}"
            skipped = [*skipped, ("monte_carlo", note)]
        context.update(figure_blocks(drawn), version=toolkit_version(), skipped=skipped)
        (tmp / "report.tex").write_text(render("report.tex.j2", **context))
        pdf = None
        hint = None
        if latex_engine():
            try:
                pdf = build_pdf(tmp)
            except LatexBuildError:
                _remove_stale(out)
                _keep_log(tmp, out)
                raise
        else:
            hint = NO_LATEX_HINT.format(out=out)
        result = publish(tmp, out, pdf is not None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - start
    trained = sum(s.done + s.failed for s in ran)
    reused = sum(s.skipped for s in ran) if run else (stored_trials(chosen, Path(store_path)) if export is None else 0)
    return BuildResult(result["tex"], result["pdf"], result["figures"], tuple(skipped), seconds, hint, trained, reused)


def figure_blocks(drawn: dict) -> dict:
    """Template lists of figure environments by section."""
    return {
        key: [figure_tex(d, here=i == 0 and key in HEADED) for i, d in enumerate(items)] for key, items in drawn.items()
    }


def _remove_stale(out: Path) -> None:
    (out / "report.pdf").unlink(missing_ok=True)


def _keep_log(tmp: Path, out: Path) -> None:
    for name in ("report.log", "report.tex"):
        if (tmp / name).exists():
            (tmp / name).replace(out / name.replace("report.", "report.failed."))


def publish(tmp: Path, out: Path, has_pdf: bool) -> dict:
    """Move figures, report.tex, report.pdf and LaTeX's report.log from ``tmp`` into ``out`` (each by an atomic
    rename)."""
    if not has_pdf:
        _remove_stale(out)
        (out / "report.log").unlink(missing_ok=True)
    figures = out / "figures"
    if (tmp / "figures").exists():
        old = tmp / "old-figures"
        if figures.exists():
            figures.replace(old)
        (tmp / "figures").replace(figures)
    for name in ("summary.csv", "summary.md", "report.tex") + (("report.pdf", "report.log") if has_pdf else ()):
        if (tmp / name).exists():
            (tmp / name).replace(out / name)
    for name in ("report.failed.log", "report.failed.tex"):
        (out / name).unlink(missing_ok=True)
    return {
        "tex": out / "report.tex",
        "pdf": out / "report.pdf" if has_pdf else None,
        "figures": tuple(sorted(figures.glob("*"))) if figures.exists() else (),
    }
