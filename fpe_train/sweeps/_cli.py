"""``fpe-theory sweep run|status|export``: run sweep files into a results store, watch, export.

Only click is imported at module level; the library is imported inside each command.
Bad input (a malformed sweep file, a missing dataset, a foreign store, an unreachable
scheduler, a busy store) raises ``ValueError``, which ``cli.py`` prints as one line and exit 2.
A sweep in which some trials failed exits 1 after recording them.
"""

from __future__ import annotations

import json
import os
import tomllib

import click

from fpe_train.engine.config import DEVICES
from fpe_train.sweeps.checks import check_rows
from fpe_train.sweeps.eta import duration, format_plan, plan_report, remaining
from fpe_train.sweeps.executors import EXECUTORS, check_connect_timeout, check_scheduler, make_executor, make_security
from fpe_train.sweeps.export import write_export
from fpe_train.sweeps.files import (
    OUTPUT_FORMATS,
    atomic_write,
    check_output,
    output_format,
    spreadsheet_safe,
    store_files,
)
from fpe_train.sweeps.store import ResultsStore, check_store
from fpe_train.sweeps.sweep import (
    check_sweep_data,
    check_sweep_device,
    check_toml_shape,
    find_sweep,
    load_sweep,
    read_header,
    run_sweep,
    shipped_sweeps,
)


def _overrides(pairs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs; VALUE is read as TOML (``4``, ``[2, 4]``, ``"x"``), else taken as a string.

    A path field (``data_path``) takes VALUE as written (``data_path=5`` is the file ``5``); every other
    value is checked against its field by ``TrainConfig`` (``lr=true`` is refused: a boolean is not a number).
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: must look like KEY=VALUE", param_hint="--set")
        check_toml_shape(f"v = {value}", f"--set {key[:40]}")  # bounded work first (nesting, dotted keys)
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except (tomllib.TOMLDecodeError, ValueError):  # also a 4300-digit integer
            parsed = value
        if key in _PATH_FIELDS and not isinstance(parsed, str):
            parsed = value.strip()
        out[key] = parsed
    return out


_PATH_FIELDS = ("data_path",)


@click.group()
def sweep() -> None:
    """Run sweep files (shipped by name, see `sweep list`, or your own .toml) into a resumable results store."""


@sweep.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(as_json):
    """The sweep files shipped with fpe-theory: name, sizes, the paper figure they reproduce."""
    heads = [read_header(path) for path in shipped_sweeps().values()]
    if as_json:  # one object, as every --json
        click.echo(json.dumps({"sweeps": heads}, indent=1))
        return 0
    for h in heads:
        click.echo(f"{h['name']:<20}{','.join(h['sizes']):<14}{h['paper']}")
    return 0


@sweep.command()
@click.argument("file")
@click.option("--store", "store_path", default="results.db", show_default=True, help="SQLite results store.")
@click.option("--size", default="quick", show_default=True, help="Size of the sweep: quick | paper (as the file has).")
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local: process pool here; serial: in this process; dask: a distributed cluster.",
)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address tls://host:port or tcp://host:port (default: a LocalCluster). "
    "Plain tcp:// is unauthenticated: see docs/scaleout.md.",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (local / LocalCluster).")
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="torch/numba/BLAS threads per worker [default: 1]."
)
@click.option("--retry-failed", is_flag=True, help="Run again the trials recorded as failed.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config field (e.g. data_path=x.npz)."
)
@click.option("--connect-timeout", type=float, default=10.0, show_default=True, help="Seconds to reach --scheduler.")
@click.option("--tls-ca-file", default=None, help="CA certificate (PEM) that signed a tls:// scheduler's certificate.")
@click.option("--tls-cert", default=None, help="Client certificate (PEM) for a tls:// scheduler.")
@click.option("--tls-key", default=None, help="Client private key (PEM) for --tls-cert.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar with ETA on stderr.")
def run(file, store_path, size, executor, scheduler, workers, threads, retry_failed, sets, connect_timeout, **opts):
    """Run what the store does not hold yet of the sweep FILE."""
    tls = {k: opts[k] for k in ("tls_ca_file", "tls_cert", "tls_key")}
    check_connect_timeout(connect_timeout)  # every option checked before anything is read or started
    if scheduler is not None:
        check_scheduler(scheduler)
    make_security(scheduler, **{"ca_file": tls["tls_ca_file"], "cert": tls["tls_cert"], "key": tls["tls_key"]})
    if scheduler and scheduler.startswith("tcp://") and not _loopback(scheduler):
        click.echo(
            f"note: {scheduler} is plain TCP: unauthenticated, results come back pickled (docs/scaleout.md)", err=True
        )

    sw = load_sweep(find_sweep(file), size, _overrides(sets))
    if executor != "dask" or scheduler is None:  # the trials run on this machine
        check_sweep_device(sw)
    check_store(store_path)
    if os.path.isfile(store_path) and os.path.getsize(store_path) > 0:  # ours and intact, before anything starts
        ResultsStore(store_path, readonly=True).close()
    check_sweep_data(sw)
    click.echo(
        f"sweep {sw.name} ({sw.size}): {len(sw.configs)} configs, "
        f"{sum(c.trials for c in sw.configs)} trials; executor {executor}; store {store_path}",
        err=True,
    )
    ex = make_executor(executor, scheduler, workers, threads=threads, connect_timeout=connect_timeout, **tls)
    try:
        with ResultsStore(store_path) as store:
            summary = run_sweep(sw, store, executor=ex, progress=opts["progress"], retry_failed=retry_failed)
    finally:
        ex.close()
    note = f", {summary.not_retried} failed earlier (--retry-failed runs them)" if summary.not_retried else ""
    click.echo(
        f"{sw.name} ({sw.size}): {summary.done} trials done, {summary.failed} failed, "
        f"{summary.skipped} already done{note}; {summary.seconds:.1f} s"
    )
    return 1 if summary.failed else 0


@sweep.command()
@click.argument("files", nargs=-1)
@click.option("--store", "store_path", default="results.db", show_default=True, help="SQLite results store.")
@click.option("--size", default="quick", show_default=True, help="Size of the FILES given.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Overrides, as given to `sweep run`.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(files, store_path, size, sets, as_json):
    """Done / failed / pending per sweep: of FILES, or of every sweep the store knows."""
    sweeps = [load_sweep(find_sweep(f), size, _overrides(sets)) for f in files] or None

    with ResultsStore(store_path, create=False, readonly=True) as store:
        rows = store.status(sweeps)
        left = remaining(store, sweeps)  # seconds of one worker, fitted to the store's own run times
    if as_json:  # one object, as every --json
        click.echo(
            json.dumps(
                {
                    "store": store_path,
                    "sweeps": [
                        {**r.__dict__, "pending": r.pending, "remaining_seconds": left.get((r.sweep, r.size))}
                        for r in rows
                    ],
                },
                indent=1,
            )
        )
        return 0
    click.echo(
        f"{'sweep':<22}{'size':<8}{'configs':>8}{'trials':>8}{'done':>8}{'failed':>8}{'pending':>8}{'remaining':>14}"
    )
    for r in rows:
        eta = left.get((r.sweep, r.size))
        click.echo(
            f"{r.sweep:<22}{r.size:<8}{r.configs:>8}{r.trials:>8}{r.done:>8}{r.failed:>8}{r.pending:>8}"
            f"{'?' if eta is None else duration(eta):>14}"
        )
    click.echo(
        "remaining: one worker's time for the pending trials, at the speed of the runs stored so far "
        "(? = none timed yet; `sweep plan` times this machine)"
    )
    return 0


@sweep.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--size", default="quick", show_default=True, help="Size of the FILES: quick | paper (as they have).")
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="cpu",
    show_default=True,
    help="Where the ETA is timed (cuda: needs a GPU here).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes the run will use [default: one per core on cpu, 1 on cuda].",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch threads per worker.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Overrides, as given to `sweep run`.")
@click.option("--no-eta", is_flag=True, help="Counts only: time nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Accepted as by every command; the plan draws no progress bar.",
)
def plan(files, size, device, workers, threads, sets, no_eta, as_json, progress):
    """Without training: configs, trials, batches, model-epochs, FLOPs, memory and an ETA for FILES."""
    sweeps = [load_sweep(find_sweep(f), size, _overrides(sets)) for f in files]
    data = plan_report(sweeps, device, workers, threads, calibrate_eta=not no_eta)
    click.echo(json.dumps(data, indent=1) if as_json else format_plan(data))
    return 0


@sweep.command()
@click.option("--store", "store_path", default="results.db", show_default=True, help="SQLite results store.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "csv.gz", "parquet"]),
    default=None,
    help="Output format [default: from --out's suffix: .csv, .csv.gz (with provenance lines), .parquet/.pq].",
)
@click.option("--out", required=True, help="Output file (written under a temporary name, then renamed into place).")
@click.option("--sweep", "sweep_name", default=None, help="Only this sweep's configs.")
@click.option("--size", default=None, help="Only this size.")
def export(store_path, fmt, out, sweep_name, size):
    """Write one row per (config, trial, variant) of the store to a CSV, gzip CSV or Parquet file."""
    fmt = _export_format(out, fmt, store_path)
    with ResultsStore(store_path, create=False, readonly=True) as store:
        known = store.sweeps()
        _check_selection(store_path, known, sweep_name, size)
        frame = check_rows(store.frame(sweep_name, size), f"store={store_path!r}")  # no tampered row passes on
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("format='parquet': needs pyarrow (pip install 'fpe-theory[parquet]')") from None
    _write_atomically(out, fmt, frame, {"store": os.path.abspath(store_path), "sweep": sweep_name, "size": size})
    click.echo(f"{len(frame)} rows -> {out}")
    return 0


def _export_format(out: str, fmt: str | None, store_path: str) -> str:
    """The format of ``out`` (its suffix; ``--format`` where the suffix names none); a one-line ValueError
    for an output that is the store (any link to it), a folder, a device or FIFO, or a suffix that disagrees."""
    check_output(out, "out", inputs={"store": store_files(store_path)})
    try:
        named = output_format(out, "out")
    except ValueError:
        if fmt is None:
            raise ValueError(
                f"out={out!r}: cannot tell the format from its suffix; use {', '.join(OUTPUT_FORMATS)} or give --format"
            ) from None
        return fmt
    if fmt is not None and fmt != named:
        raise ValueError(f"format={fmt!r}: out={out!r} names format {named!r}; the format follows the suffix")
    return named


def _check_selection(store_path: str, known, sweep_name: str | None, size: str | None) -> None:
    pairs = {(s, z) for s, z, *_ in known}
    if sweep_name is not None and sweep_name not in {s for s, _ in pairs}:
        have = ", ".join(sorted({s for s, _ in pairs})) or "none"
        raise ValueError(f"sweep={sweep_name!r}: no such sweep in store {store_path!r} (it has: {have})")
    if size is not None and not any(z == size and sweep_name in (None, s) for s, z in pairs):
        have = ", ".join(sorted({z for s, z in pairs if sweep_name in (None, s)})) or "none"
        where = f"sweep {sweep_name!r}" if sweep_name else f"store {store_path!r}"
        raise ValueError(f"size={size!r}: no such size in {where} (it has: {have})")


def _write_atomically(out: str, fmt: str, frame, meta: dict) -> None:
    """Write under a temporary name beside ``out``, then ``os.replace``: ``out`` is whole or untouched."""
    if fmt == "csv.gz":
        return _oserror_as_value(out, lambda: write_export(frame, out, meta))

    def table(f) -> None:
        if fmt == "parquet":
            frame.to_parquet(f, index=False)
        else:  # text cells a spreadsheet would run as formulas are quoted (fpe_train.sweeps.files)
            spreadsheet_safe(frame).to_csv(f, index=False)

    _oserror_as_value(out, lambda: atomic_write(out, table))


def _oserror_as_value(out: str, write) -> None:
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"out={out!r}: cannot write ({reason}); nothing was written") from None


def _loopback(address: str) -> bool:
    host = address.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
