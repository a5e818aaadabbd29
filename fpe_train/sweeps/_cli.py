"""``fpe-theory sweep run|status|export``: run sweep files into a results store, watch, export.

Only click is imported at module level; the library is imported inside each command.
Bad input (a malformed sweep file, a missing dataset, a foreign store, an unreachable
scheduler, a busy store) raises ``ValueError``, which ``cli.py`` prints as one line and exit 2.
A sweep in which some trials failed exits 1 after recording them.
"""

from __future__ import annotations

import click


def _overrides(pairs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs; VALUE is read as TOML (``4``, ``[2, 4]``, ``"x"``), else taken as a string."""
    import tomllib

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r}: must look like KEY=VALUE", param_hint="--set")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


@click.group()
def sweep() -> None:
    """Run sweep files (shipped by name, see `sweep list`, or your own .toml) into a resumable results store."""


@sweep.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(as_json):
    """The sweep files shipped with fpe-theory: name, sizes, the paper figure they reproduce."""
    import json

    from fpe_train.sweeps.sweep import read_header, shipped_sweeps

    heads = [read_header(path) for path in shipped_sweeps().values()]
    if as_json:
        click.echo(json.dumps(heads, indent=1))
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
    type=click.Choice(["local", "serial", "dask"]),
    default="local",
    show_default=True,
    help="local: process pool here; serial: in this process; dask: a distributed cluster.",
)
@click.option("--scheduler", default=None, help="Dask scheduler address tcp://host:port (default: a LocalCluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (local / LocalCluster).")
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="torch/numba/BLAS threads per worker [default: 1]."
)
@click.option("--retry-failed", is_flag=True, help="Run again the trials recorded as failed.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config field (e.g. data_path=x.npz)."
)
@click.option("--connect-timeout", type=float, default=10.0, show_default=True, help="Seconds to reach --scheduler.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar with ETA on stderr.")
def run(file, store_path, size, executor, scheduler, workers, threads, retry_failed, sets, connect_timeout, progress):
    """Run what the store does not hold yet of the sweep FILE."""
    from fpe_train.sweeps.executors import make_executor
    from fpe_train.sweeps.store import ResultsStore, check_store
    from fpe_train.sweeps.sweep import check_sweep_data, find_sweep, load_sweep, run_sweep

    sw = load_sweep(find_sweep(file), size, _overrides(sets))
    check_store(store_path)
    check_sweep_data(sw)
    click.echo(
        f"sweep {sw.name} ({sw.size}): {len(sw.configs)} configs, "
        f"{sum(c.trials for c in sw.configs)} trials; executor {executor}; store {store_path}",
        err=True,
    )
    ex = make_executor(executor, scheduler, workers, threads=threads, connect_timeout=connect_timeout)
    try:
        with ResultsStore(store_path) as store:
            summary = run_sweep(sw, store, executor=ex, progress=progress, retry_failed=retry_failed)
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
    import json

    from fpe_train.sweeps.store import ResultsStore
    from fpe_train.sweeps.sweep import find_sweep, load_sweep

    sweeps = [load_sweep(find_sweep(f), size, _overrides(sets)) for f in files] or None
    with ResultsStore(store_path, create=False) as store:
        rows = store.status(sweeps)
    if as_json:
        click.echo(json.dumps([{**r.__dict__, "pending": r.pending} for r in rows], indent=1))
        return 0
    click.echo(f"{'sweep':<22}{'size':<8}{'configs':>8}{'trials':>8}{'done':>8}{'failed':>8}{'pending':>8}")
    for r in rows:
        click.echo(f"{r.sweep:<22}{r.size:<8}{r.configs:>8}{r.trials:>8}{r.done:>8}{r.failed:>8}{r.pending:>8}")
    return 0


@sweep.command()
@click.option("--store", "store_path", default="results.db", show_default=True, help="SQLite results store.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default=None,
    help="Output format [default: from --out's suffix, else csv].",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file.")
@click.option("--sweep", "sweep_name", default=None, help="Only this sweep's configs.")
@click.option("--size", default=None, help="Only this size.")
def export(store_path, fmt, out, sweep_name, size):
    """Write one row per (config, trial, variant) of the store to a CSV or Parquet file."""
    from fpe_train.sweeps.store import ResultsStore

    fmt = fmt or ("parquet" if out.endswith((".parquet", ".pq")) else "csv")
    with ResultsStore(store_path, create=False) as store:
        frame = store.frame(sweep_name, size)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("format='parquet': needs pyarrow (pip install 'fpe-theory[parquet]')") from None
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    click.echo(f"{len(frame)} rows -> {out}")
    return 0
