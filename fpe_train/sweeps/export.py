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
>>> rows = pd.DataFrame({"config_hash": ["h", "h"], "trial": [0, 1], "variant": ["dense", "dense"],
...                      "test_accuracy": [0.5, 0.75], "test_curve": [[0.5, 0.75], None]})
>>> _ = write_export(rows, path, {"device": "cpu"})
>>> frame, meta = read_export(path)
>>> (frame["test_curve"][0], meta["device"], meta["rows"])
([0.5, 0.75], 'cpu', '2')
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import time
import zlib

from fpe_train.sweeps.checks import check_columns, check_monte_carlo, check_rows
from fpe_train.sweeps.files import atomic_write, check_input, spreadsheet_safe, spreadsheet_value
from fpe_train.sweeps.store import SCHEMA_VERSION, ResultsStore, toolkit_version

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
    rows = spreadsheet_safe(body).to_csv(index=False, lineterminator="\n").encode("utf-8")
    full["body_sha256"] = hashlib.sha256(rows).hexdigest()

    def write(raw) -> None:
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.endswith(".gz") else raw
        stream.write("".join(f"# {key}={value}\n" for key, value in full.items()).encode("utf-8"))
        stream.write(rows)
        if stream is not raw:
            stream.close()  # leaves ``raw`` open: atomic_write syncs and closes it

    atomic_write(path, write)
    return {k: str(v) for k, v in full.items()}


MAX_BODY_BYTES = 256 << 20  # the CSV part, decompressed (the paper's export: 2 MB)
MAX_META_BYTES = 16 << 20  # one ``# key=value`` line (the Monte Carlo line of the paper's export: 70 kB)
MAX_FIELD_BYTES = 1 << 20  # one cell
_SQLITE_MAGIC = b"SQLite format 3\x00"


def read_meta(path) -> dict:
    """The ``# key=value`` lines at the top of an export, checked (see :func:`read_export`)."""
    return _read(os.fspath(path), frame=False)[1]


def read_export(path, where: str = "from"):
    """``(frame, meta)`` of an export, every part checked before use; a one-line ValueError for any fault.

    Refused: a missing file, a folder, FIFO or device (never opened), a results store (use ``--store``), another
    format, format version or store schema, a body (decompressed) over ``MAX_BODY_BYTES``, a header line
    over ``MAX_META_BYTES``, a cell over ``MAX_FIELD_BYTES``, a body whose sha256 or row count is not the
    header's (``body_sha256``, ``rows``: a cut or edited file), a row with too few or too many cells, and
    rows or Monte Carlo results that fail ``fpe_train.sweeps.checks``.
    """
    return _read(os.fspath(path), frame=True, param=where)


def _read(path: str, frame: bool, param: str = "from"):
    if not check_input(path, param):
        raise ValueError(f"{param}={path!r}: no such export file")
    where = f"{param}={path!r}"
    try:
        meta, body = _read_parts(path, where, frame)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"{where}: not a readable export ({type(exc).__name__}: {exc})") from None
    _check_meta(path, meta, SCHEMA_VERSION, param)
    if meta.get("monte_carlo"):
        try:
            records = json.loads(meta["monte_carlo"])
        except ValueError as exc:
            raise ValueError(f"{where}: header line monte_carlo is not JSON ({exc})") from None
        check_monte_carlo(records, where)
    if not frame:
        return None, meta
    digest = hashlib.sha256(body).hexdigest()
    if meta.get("body_sha256") != digest:
        what = "has no body_sha256 line" if "body_sha256" not in meta else "body_sha256 does not match its rows"
        raise ValueError(f"{where}: the header {what} (a cut or edited file); export it again from its store")
    df = _parse_body(body, where)
    if str(len(df)) != meta.get("rows"):
        raise ValueError(f"{where}: holds {len(df)} rows, its header says rows={meta.get('rows')} (truncated?)")
    check_rows(df, where)
    return df, meta


def _read_parts(path: str, where: str, body: bool) -> tuple[dict, bytes]:
    """The header lines (decoded) and the body (bytes), each read with a cap."""
    with open(path, "rb") as raw:
        magic = raw.read(16)
        raw.seek(0)
        if magic.startswith(_SQLITE_MAGIC):
            raise ValueError(f"{where}: is a results store (SQLite), not an export; read it with --store")
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if magic[:2] == b"\x1f\x8b" else raw
        meta, line = {}, stream.readline(MAX_META_BYTES + 1)
        while line.startswith(b"# "):
            if len(line) > MAX_META_BYTES:
                raise ValueError(f"{where}: a header line is longer than {MAX_META_BYTES >> 20} MiB")
            text = _decode(line, where, "a header line")
            key, sep, value = text[2:].rstrip("\n").partition("=")
            if sep:
                meta[key] = value
            line = stream.readline(MAX_META_BYTES + 1)
        if meta.get("format") != FORMAT or not body:
            return meta, b""
        rest = line + stream.read(MAX_BODY_BYTES + 1 - len(line))
        if len(rest) > MAX_BODY_BYTES:
            raise ValueError(f"{where}: the rows are larger than {MAX_BODY_BYTES >> 20} MiB (decompressed)")
        return meta, rest


def _decode(raw: bytes, where: str, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: {what} is not UTF-8 text (byte {exc.start})") from None


def _parse_body(body: bytes, where: str):
    """The CSV part as a DataFrame: every row as wide as the header, every cell within ``MAX_FIELD_BYTES``."""
    import pandas as pd

    text = _decode(body, where, "the CSV part")
    old = csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        rows = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(rows, None)
        if not header:
            raise ValueError(f"{where}: the CSV part is empty")
        check_columns(header, where)
        for i, row in enumerate(rows, 1):
            if len(row) != len(header):
                raise ValueError(f"{where}: row {i} has {len(row)} cells, the header {len(header)} (cut or edited)")
    except csv.Error as exc:
        raise ValueError(f"{where}: the CSV part is unreadable ({exc}; a cell may exceed 1 MiB)") from None
    finally:
        csv.field_size_limit(old)
    try:
        df = pd.read_csv(io.StringIO(text), low_memory=False, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"{where}: the CSV part is unreadable ({' '.join(str(exc).split())})") from None
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(spreadsheet_value)
            if df[col].astype(str).str.startswith(JSON_PREFIX).any():
                df[col] = df[col].astype(object).map(lambda v, c=col: _uncell(v, where, c))
    return df


def _uncell(v, where: str = "export", col: str = "?"):
    if isinstance(v, str) and v.startswith(JSON_PREFIX):
        try:
            return json.loads(v[len(JSON_PREFIX) :])
        except ValueError:
            raise ValueError(f"{where}: column {col}: a json: cell is not JSON ({v[:40]!r}...)") from None
    return v


def _check_meta(path: str, meta: dict, schema: int, param: str = "from") -> None:
    if meta.get("format") != FORMAT:
        raise ValueError(f"{param}={path!r}: not an fpe-theory results export (format={meta.get('format')!r})")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ValueError(
            f"{param}={path!r}: export format version {meta.get('format_version')}; this fpe-theory reads "
            f"version {FORMAT_VERSION}"
        )
    if meta.get("schema_version") != str(schema):
        raise ValueError(
            f"{param}={path!r}: written from a results store of schema version {meta.get('schema_version')}; "
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
    with ResultsStore(store_path, create=False, readonly=True) as store:
        frame = check_rows(store.frame(), f"store={os.fspath(store_path)!r}")
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
