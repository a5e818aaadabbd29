"""Shipped results: a store's rows as one (gzip) CSV file with its provenance, read back without a store.

Format: ``# key=value`` lines first, then the CSV of the store's long-format frame
(``ResultsStore.frame()``, one row per (config, trial, variant)); ``.csv.gz`` is gzip-compressed.
Metadata keys: ``format`` (= ``FORMAT``), ``format_version`` (= ``FORMAT_VERSION``),
``schema_version`` (the store's ``SCHEMA_VERSION``), ``toolkit_version``, ``git_commit``, ``device``,
``date`` (UTC, ISO 8601), ``wall_seconds``, ``rows``, ``sweeps_complete`` and ``sweeps_incomplete``
(comma-separated ``name:size``), ``monte_carlo`` (the store's Monte Carlo results, one line of JSON),
plus any other key the writer passes (``preset``, ``store``, ...). Cells holding lists or dicts
(``test_curve``) are written as JSON and read back as lists.

A file is written beside its target under a temporary name and renamed into place, so a reader never
sees half a file and a failed write leaves nothing behind. :func:`read_export` refuses, in one line,
a file of another format, format version or store schema.

>>> import os, tempfile, pandas as pd
>>> path = os.path.join(tempfile.mkdtemp(), "rows.csv.gz")
>>> _ = write_export(pd.DataFrame({"trial": [0, 1], "test_curve": [[0.5, 0.75], None]}), path, {"device": "cpu"})
>>> frame, meta = read_export(path)
>>> (frame["test_curve"][0], meta["device"], meta["rows"])
([0.5, 0.75], 'cpu', '2')
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tempfile
import time

FORMAT = "fpe-theory results export"
FORMAT_VERSION = 1
JSON_PREFIX = "json:"  # a cell that held a list or dict


def git_commit(folder: str | None = None) -> str:
    """The checkout's commit (``+dirty`` when tracked files changed), or ``unknown`` outside git."""
    folder = folder or os.path.dirname(os.path.abspath(__file__))
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=folder, capture_output=True, text=True, timeout=10)  # noqa: E731
        head = run("rev-parse", "HEAD")
        if head.returncode:
            return "unknown"
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def base_meta() -> dict:
    """Format, schema, toolkit version, commit and date of an export written now."""
    from fpe_train.sweeps.store import SCHEMA_VERSION, toolkit_version

    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "schema_version": str(SCHEMA_VERSION),
        "toolkit_version": toolkit_version(),
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cell(v):
    if isinstance(v, list | dict | tuple):
        return JSON_PREFIX + json.dumps(list(v) if isinstance(v, tuple) else v)
    return v


def atomic_write(path: str, write) -> None:
    """``write(binary_file)`` into a temporary file beside ``path``, then ``os.replace``: readers see the old
    file or the whole new one, never a part; on any error the temporary file is removed and the old file kept.
    The new file gets an ordinary new file's mode (``0o666`` less the umask; ``mkstemp`` makes ``0o600``)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_export(frame, path, meta: dict | None = None) -> dict:
    """Write ``frame`` with ``# key=value`` metadata to ``path`` (gzip when it ends ``.gz``); the metadata.

    ``meta`` adds to (or overrides, except ``format``, ``format_version``, ``schema_version`` and
    ``rows``) :func:`base_meta`. Keys must be words; values one line.
    """
    path = os.fspath(path)
    base = base_meta()
    full = {**base, **{k: v for k, v in (meta or {}).items() if v is not None}}
    full.update({k: base[k] for k in ("format", "format_version", "schema_version")}, rows=str(len(frame)))
    for key, value in full.items():
        if not str(key).isidentifier() or "\n" in str(value):
            raise ValueError(f"meta[{key!r}]={value!r}: keys must be identifiers and values one line")
    body = frame.copy()
    for col in body.columns:
        if body[col].dtype == object:
            body[col] = body[col].map(_cell)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"path={path!r}: folder {folder!r} does not exist")

    def write(raw) -> None:
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.endswith(".gz") else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        for key, value in full.items():
            text.write(f"# {key}={value}\n")
        body.to_csv(text, index=False)
        text.flush()
        text.detach()  # leave ``raw`` open: atomic_write syncs and closes it
        if stream is not raw:
            stream.close()

    atomic_write(path, write)
    return {k: str(v) for k, v in full.items()}


def _open_text(path: str):
    with open(path, "rb") as f:
        magic = f.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def read_meta(path) -> dict:
    """The ``# key=value`` lines at the top of an export, checked (see :func:`read_export`)."""
    return _read(os.fspath(path), frame=False)[1]


def read_export(path):
    """``(frame, meta)`` of an export; one-line ValueError for a missing file or another format/version/schema."""
    return _read(os.fspath(path), frame=True)


def _read(path: str, frame: bool):
    import pandas as pd

    from fpe_train.sweeps.store import SCHEMA_VERSION

    if not os.path.isfile(path):
        raise ValueError(f"from={path!r}: no such export file")
    try:
        with _open_text(path) as text:
            meta, line = {}, text.readline()
            while line.startswith("# "):
                key, sep, value = line[2:].rstrip("\n").partition("=")
                if sep:
                    meta[key] = value
                line = text.readline()
            _check_meta(path, meta, SCHEMA_VERSION)
            if not frame:
                return None, meta
            rest = line + text.read()
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise ValueError(f"from={path!r}: not a readable export ({type(exc).__name__}: {exc})") from None
    try:
        df = pd.read_csv(io.StringIO(rest), low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"from={path!r}: the CSV part is unreadable ({' '.join(str(exc).split())})") from None
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            if df[col].astype(str).str.startswith(JSON_PREFIX).any():
                df[col] = df[col].astype(object).map(_uncell)
    if str(len(df)) != meta.get("rows", str(len(df))):
        raise ValueError(f"from={path!r}: holds {len(df)} rows, its header says rows={meta['rows']} (truncated?)")
    return df, meta


def _uncell(v):
    if isinstance(v, str) and v.startswith(JSON_PREFIX):
        return json.loads(v[len(JSON_PREFIX) :])
    return v


def _check_meta(path: str, meta: dict, schema: int) -> None:
    if meta.get("format") != FORMAT:
        raise ValueError(f"from={path!r}: not an fpe-theory results export (format={meta.get('format')!r})")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ValueError(
            f"from={path!r}: export format version {meta.get('format_version')}; this fpe-theory reads "
            f"version {FORMAT_VERSION}"
        )
    if meta.get("schema_version") != str(schema):
        raise ValueError(
            f"from={path!r}: written from a results store of schema version {meta.get('schema_version')}; "
            f"this fpe-theory reads schema version {schema}"
        )


def split_names(value: str | None) -> list[str]:
    """``"fig3a:paper,fig3c:paper"`` -> ``["fig3a:paper", "fig3c:paper"]`` (empty for none)."""
    return [s for s in (value or "").split(",") if s]


def export_store(store_path, path, sweeps=None, meta: dict | None = None) -> dict:
    """Export a store's rows (of ``sweeps``, loaded ``Sweep`` objects, or all it knows) with its provenance.

    Adds ``device`` (the devices the rows ran on), ``train_seconds`` (the runs' own seconds, summed over
    rows), the sweeps complete (every trial done) and incomplete, and ``monte_carlo`` (the store's
    Monte Carlo results as one line of JSON, so a report needs no store). ``meta`` adds or overrides
    keys (e.g. ``wall_seconds``, ``preset``).
    """
    from fpe_train.sweeps.store import ResultsStore

    with ResultsStore(store_path, create=False, readonly=True) as store:
        frame = store.frame()
        status = store.status(sweeps)
        mc = store.monte_carlo() if hasattr(store, "monte_carlo") else {}
    if sweeps is not None:
        keep = {(s.name, s.size) for s in sweeps}
        names = frame["sweep"].fillna("").astype(str).str.split(",")
        sizes = frame["size"].fillna("").astype(str).str.split(",")
        mask = [any((n, z) in keep for n in ns for z in zs) for ns, zs in zip(names, sizes, strict=True)]
        frame = frame[mask]
    devices = sorted({d for d in frame["device"] if isinstance(d, str)}) if "device" in frame else []
    seconds = frame["seconds"].astype(float).sum() if "seconds" in frame and len(frame) else 0.0
    auto = {
        "device": ",".join(devices) or "unknown",
        "train_seconds": f"{seconds:.1f}",
        "sweeps_complete": ",".join(f"{s.sweep}:{s.size}" for s in status if s.done == s.trials),
        "sweeps_incomplete": ",".join(f"{s.sweep}:{s.size}" for s in status if s.done < s.trials),
        "monte_carlo": json.dumps(mc, separators=(",", ":")),
    }
    return write_export(frame.reset_index(drop=True), path, {**auto, **(meta or {})})
