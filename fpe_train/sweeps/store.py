"""The results store: one SQLite file (WAL mode) that sweeps resume from and reports read.

Tables (schema version ``SCHEMA_VERSION``; the file also carries SQLite's
``application_id`` = ``APPLICATION_ID`` and ``user_version`` = ``SCHEMA_VERSION`` in its
header, and a ``meta`` table with ``application`` = ``APPLICATION``):

- ``configs(config_hash, config)``: the config as canonical JSON;
- ``runs(config_hash, trial, status, seed, metrics, error, seconds, started, finished, device, host,
  version)``, primary key ``(config_hash, trial)``: one row per finished (``done``) or failed
  (``failed``) trial; ``metrics`` is the JSON list of the engine's per-variant rows of that trial;
- ``sweeps(sweep, size, config_hash, trials)`` and ``sweep_info(sweep, size, path, description)``:
  which configs a sweep holds, so ``status`` works from the store alone.
- ``mc_results(key, m, k, alpha, family, r, trials, seed, result, seconds, version)``: one Monte Carlo
  result per (problem, family, r, trials, seed), ``result`` its JSON (``reports.montecarlo``), so a
  report reads its simulations from the store like its training rows.

The config hash is ``sha256`` of the canonical JSON (sorted keys, no spaces) of the fields of
``TrainConfig.to_dict()`` whose value differs from the field's default, salted with
``HASH_VERSION``. So a field added to ``TrainConfig`` later (with a default that keeps the old
behaviour) leaves every stored hash valid; changing the *meaning* of an existing default must bump
``HASH_VERSION``. ``trials`` does not count (``HASH_EXCLUDES``): trial t of a config has its
own random streams (``fpe_train.engine.run.seed_entropy``, spawn key t), so its row does not depend
on how many trials were asked; a config asked with 10 trials reuses trials 0-4 of a 5-trial run
and trains only 5-9. The ``configs`` table keeps the largest trial count asked. ``device``
counts: a result is reused only for a config that asked for that device.

Only the driver process writes. Each finished (config, trial) is committed in its own
transaction, and a done row is never overwritten, so a driver killed at any moment loses no
finished row and a restart duplicates none. One driver at a time: ``lock()`` takes an
exclusive ``flock`` on the store file itself, so the lock is keyed by the file's identity (device
and inode: a hard link, a symlink or another spelling of the path takes the same lock), and one on
``<real path>.lock``, which names the holder (released by the kernel when the process dies, the file
removed by ``unlock()``); a second driver gets a one-line ``ValueError`` naming the holder's pid.

An existing file is opened read-only and checked (header, meta, tables, ``PRAGMA quick_check``)
before it is reopened for writing: a file that is not ours, or is damaged, is refused in one
line and never changed. ``ResultsStore(path, readonly=True)`` reads a store in a read-only
file or folder.

>>> import tempfile, os
>>> with ResultsStore(os.path.join(tempfile.mkdtemp(), "r.db")) as s:
...     s.status()
[]
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import importlib.metadata
import json
import os
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.rows import ROW_FIELDS
from fpe_train.sweeps.checks import check_monte_carlo
from fpe_train.sweeps.files import check_input

APPLICATION = "fpe-theory results store"
APPLICATION_ID = 0x46504554  # "FPET", in the SQLite header at byte 68
SCHEMA_VERSION = 2  # SQLite user_version, header byte 60; 2: independent trials (per-trial random streams)
HASH_VERSION = 3  # bump when a TrainConfig default changes meaning (invalidates every stored hash); 3: per-trial data
HASH_EXCLUDES = ("trials",)  # fields that never enter the config hash
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE configs (config_hash TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE runs (
    config_hash TEXT NOT NULL, trial INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    seed INTEGER, metrics TEXT, error TEXT, seconds REAL, started REAL, finished REAL,
    device TEXT, host TEXT, version TEXT,
    PRIMARY KEY (config_hash, trial)
);
CREATE TABLE sweeps (
    sweep TEXT NOT NULL, size TEXT NOT NULL, config_hash TEXT NOT NULL, trials INTEGER NOT NULL,
    position INTEGER NOT NULL, PRIMARY KEY (sweep, size, config_hash)
);
CREATE TABLE sweep_info (sweep TEXT NOT NULL, size TEXT NOT NULL, path TEXT, description TEXT,
    PRIMARY KEY (sweep, size));
CREATE TABLE mc_results (
    key TEXT PRIMARY KEY, m INTEGER NOT NULL, k INTEGER NOT NULL, alpha INTEGER NOT NULL, family TEXT NOT NULL,
    r INTEGER NOT NULL, trials INTEGER NOT NULL, seed INTEGER NOT NULL, result TEXT NOT NULL, seconds REAL,
    version TEXT
);
"""


_TABLES = ("meta", "configs", "runs", "sweeps", "sweep_info")  # a store without any of these is damaged


def _open_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection that cannot change a byte of the file, nor switch its journal mode.

    Without a ``-wal`` file beside it (no writer has it open, nothing uncheckpointed) the file is
    opened ``immutable=1``: no ``-shm``/``-wal`` files appear next to a foreign file, and a store
    in a read-only folder reads fine. Otherwise it is opened ``mode=ro``.
    """
    uri = "file:" + urllib.parse.quote(os.fsencode(os.path.abspath(path))) + "?mode=ro"  # bytes: any file name
    if not os.path.exists(path + "-wal"):
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        if _damaged(exc):
            raise ValueError(_damaged_message(path, exc)) from None
        raise ValueError(f"store={path!r}: cannot open for reading ({exc})") from None
    return conn


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.realpath(path)), os.W_OK)


def _damaged(exc: BaseException) -> bool:
    return any(w in str(exc) for w in ("malformed", "corrupt", "disk image", "not a database"))


def _damaged_message(path: str, what) -> str:
    what = " ".join(str(what).split())
    return (
        f"store={path!r}: damaged results store ({what}); it is left as it is: copy what SQLite can still "
        f"read with `sqlite3 {path} .recover | sqlite3 recovered.db`, or use another --store"
    )


def toolkit_version() -> str:
    """The installed fpe-theory version ("unknown" when not installed)."""
    try:
        return importlib.metadata.version("fpe-theory")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def canonical_json(d: dict) -> str:
    """Sorted keys, no spaces: the same dict always gives the same text."""
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def config_dict(config) -> dict:
    """A config (``TrainConfig`` or a plain dict) as a JSON-able dict (tuples as lists)."""
    if isinstance(config, dict):
        return json.loads(canonical_json(config))
    d = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    return json.loads(canonical_json(d))


def config_defaults() -> dict:
    """``TrainConfig()`` as a JSON-able dict: the default of every field."""
    return config_dict(TrainConfig())


def config_hash(config) -> str:
    """sha256 (hex) of ``HASH_VERSION`` + the canonical JSON of the non-default fields (see module doc)."""
    defaults = config_defaults()
    key = {
        k: v
        for k, v in config_dict(config).items()
        if k not in HASH_EXCLUDES and (k not in defaults or defaults[k] != v)
    }
    return hashlib.sha256(f"fpe-config-v{HASH_VERSION}:{canonical_json(key)}".encode()).hexdigest()


@dataclass(frozen=True)
class SweepStatus:
    """Counts of (config, trial) pairs of one sweep size: done, failed, pending (= neither)."""

    sweep: str
    size: str
    configs: int
    trials: int
    done: int
    failed: int

    @property
    def pending(self) -> int:
        return self.trials - self.done - self.failed


@dataclass(frozen=True)
class RunRecord:
    """What the driver writes for one (config, trial)."""

    config_hash: str
    trial: int
    status: str  # "done" | "failed"
    seed: int | None = None
    metrics: list | None = None  # the engine's per-variant rows of this trial
    error: str | None = None
    seconds: float | None = None
    started: float | None = None
    finished: float | None = None
    device: str | None = None
    host: str | None = None
    version: str | None = None


class ResultsStore:
    """The SQLite results store at ``path`` (created when missing unless ``create=False``)."""

    def __init__(self, path, create: bool = True, readonly: bool = False) -> None:
        """Open (or create) the store; a file that is not ours, or damaged, is refused without a byte changed.

        An existing file is first opened read-only (``mode=ro``) and checked (header, meta, tables,
        ``PRAGMA quick_check``); only a store proven ours and intact is reopened for writing. With
        ``readonly=True`` it stays read-only (status, export, reports): this works on a read-only
        file or folder too.
        """
        self.path = os.fspath(path)
        self.readonly = readonly
        self._lock_file = None
        self._identity_lock = None  # an fd on the store file, flock'ed while driving; closed with the store

        check_input(self.path, "store")  # a folder, FIFO or device: refused without opening it
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if not exists and (not create or readonly):
            what = "empty file, not a results store" if os.path.exists(self.path) else "no such results store"
            raise ValueError(f"store={self.path!r}: {what}")
        if exists:
            check_store(self.path)
            journal = self.path + "-journal"  # a hot journal (a driver killed mid-write) needs a writer to roll back
            hot = not readonly and os.path.exists(journal) and os.path.getsize(journal) > 0
            self._conn = self._open_writable() if hot else _open_readonly(self.path)
            try:
                if not (hot and self._empty()):  # rolled back to nothing: created afresh below
                    self._check_meta()
                    self._check_intact()
            except BaseException:
                self._conn.close()
                raise
            if readonly:
                if _writable(self.path):  # ours and intact: read through an ordinary connection (sees a live driver)
                    self._conn.close()
                    self._conn = sqlite3.connect(os.fsencode(self.path), isolation_level=None, timeout=30)
                    self._conn.execute("PRAGMA query_only = 1")
                return
            self._conn.close()
        new_file = not os.path.exists(self.path)
        self._conn = self._open_writable()
        try:
            if self._empty():  # new, or killed while being created (the hot journal rolled it back to nothing)
                self._create()
            self._conn.execute("PRAGMA journal_mode=WAL")  # only ever on a store of ours (checked above, or new)
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL: safe against a killed process
            if not exists:
                self._check_meta()
        except BaseException:  # e.g. a full disk: leave no half-made store behind
            self._conn.close()
            if new_file:
                for leftover in ("", "-journal", "-wal", "-shm"):
                    if os.path.exists(self.path + leftover):
                        os.unlink(self.path + leftover)
            raise

    def _open_writable(self) -> sqlite3.Connection:
        """A read-write connection; one-line ValueError when the file or its folder cannot be written."""
        folder = os.path.dirname(os.path.realpath(self.path))  # SQLite keeps -wal/-shm beside the real file
        if not os.path.isdir(folder):
            raise ValueError(f"store={self.path!r}: folder {folder!r} does not exist")
        for what, where in (("folder", folder), ("file", self.path)):
            if os.path.exists(where) and not os.access(where, os.W_OK):
                raise ValueError(
                    f"store={self.path!r}: read-only {what} {where!r}: cannot write results here "
                    "(reading works: sweep status, sweep export, report --no-run); use another --store"
                )
        try:
            conn = sqlite3.connect(os.fsencode(self.path), isolation_level=None, timeout=30)
            conn.execute("BEGIN IMMEDIATE")  # proves the file can be written (read-only file systems, locks)
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise ValueError(f"store={self.path!r}: cannot write results here ({exc})") from None
        return conn

    # ------------------------------------------------------------ lifecycle

    def _empty(self) -> bool:
        return self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def _create(self) -> None:
        """Header pragmas, tables and meta in one transaction (rollback-journal mode: straight into the file).

        A driver killed half-way leaves a hot journal that rolls the file back to empty; a second
        creator waiting on the write lock finds the tables made and does nothing.
        """
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if self._empty():
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        c.execute(statement)
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                meta = {
                    "application": APPLICATION,
                    "schema_version": str(SCHEMA_VERSION),
                    "created_by": toolkit_version(),
                    "created": created,
                }
                c.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:  # a failed COMMIT (full disk) may have rolled back already
                c.execute("ROLLBACK")
            raise

    def _check_meta(self) -> None:
        try:
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                raise ValueError(_damaged_message(self.path, exc)) from None
            raise ValueError(f"store={self.path!r}: not an fpe-theory results store ({exc})") from None
        if meta.get("application") != APPLICATION or meta.get("schema_version") != str(SCHEMA_VERSION):
            raise ValueError(
                f"store={self.path!r}: meta table says {meta.get('application')!r} schema "
                f"{meta.get('schema_version')}; expected {APPLICATION!r} schema {SCHEMA_VERSION}"
            )

    def _check_intact(self) -> None:
        """Every table of the schema present, and ``PRAGMA quick_check`` ok (a truncated or corrupted file fails)."""
        try:
            tables = {name for (name,) in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = [t for t in _TABLES if t not in tables]
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            raise ValueError(_damaged_message(self.path, exc)) from None
        if missing:
            raise ValueError(
                f"store={self.path!r}: damaged results store: table(s) {', '.join(missing)} missing; "
                "it is left as it is: use another --store"
            )
        if problems != ["ok"]:
            raise ValueError(_damaged_message(self.path, problems[0]))

    def close(self) -> None:
        self.unlock()
        self._conn.close()
        if self._identity_lock is not None:  # closed after SQLite's own descriptor: closing a descriptor of
            os.close(self._identity_lock)  # a file drops every POSIX lock this process holds on it
            self._identity_lock = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ driver lock

    @contextmanager
    def lock(self):
        """Exclusive driver lock (see ``acquire``); a second driver gets ValueError at once."""
        self.acquire()
        try:
            yield self
        finally:
            self.unlock()

    def acquire(self) -> None:
        """Take the driver lock: ``flock`` on ``<real path>.lock``, the store's path with symlinks resolved.

        So two spellings of one store (a symlink, ``./``, ``..``) take the same lock. The lock file
        is removed again by ``unlock()``; a lock file that was replaced or removed between opening
        and locking it is opened afresh, so two drivers never both hold one.
        """
        if self.readonly:
            raise ValueError(f"store={self.path!r}: opened read-only; a sweep driver needs it writable")
        if self._lock_file is not None:
            raise ValueError(f"store={self.path!r}: this driver holds the lock already")
        lock_path = os.path.realpath(self.path) + ".lock"
        self._lock_identity(lock_path)
        try:
            self._lock_holder_file(lock_path)
        except BaseException:
            fcntl.flock(self._identity_lock, fcntl.LOCK_UN)
            raise

    def _lock_identity(self, lock_path: str) -> None:
        """``flock`` on the store file: one lock per (device, inode), whatever path or link reaches it."""
        if self._identity_lock is None:
            self._identity_lock = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(self._identity_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                with open(lock_path) as f:
                    holder = f.read(200).strip() or "unknown"
            except OSError:
                holder = "unknown: it reached this file through another link"
            raise ValueError(
                f"store={self.path!r}: busy: another sweep driver ({holder}) holds it; "
                "wait for it to finish or use another --store"
            ) from None

    def _lock_holder_file(self, lock_path: str) -> None:
        """``flock`` on ``<real path>.lock`` and the holder's pid and host written into it."""
        for _ in range(100):
            f = open(lock_path, "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise ValueError(
                    f"store={self.path!r}: busy: another sweep driver ({holder}) holds it; "
                    "wait for it to finish or use another --store"
                ) from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()  # the holder removed it as we opened it: lock the new one
        else:
            raise ValueError(f"store={self.path!r}: lock file {lock_path!r} keeps changing; is another driver looping?")
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}")
        f.flush()
        self._lock_file, self._lock_path = f, lock_path

    def unlock(self) -> None:
        """Release the driver lock and remove its file (removed while held, so no other driver can own it)."""
        if self._lock_file is not None:
            try:
                os.unlink(self._lock_path)
            except FileNotFoundError:
                pass
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
            fcntl.flock(self._identity_lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------ writing (driver only)

    def register(
        self, sweep: str, size: str, configs: Sequence, path: str | None = None, description: str | None = None
    ) -> list[str]:
        """Record the configs of a sweep size (idempotent, one transaction); returns their hashes."""
        dicts = [config_dict(c) for c in configs]
        hashes = [config_hash(d) for d in dicts]
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(  # one row per hash; the largest trial count asked of it wins
                "INSERT INTO configs VALUES (?, ?) ON CONFLICT (config_hash) DO UPDATE SET config = excluded.config "
                "WHERE json_extract(excluded.config, '$.trials') > json_extract(configs.config, '$.trials')",
                [(h, canonical_json(d)) for h, d in zip(hashes, dicts, strict=True)],
            )
            c.executemany(
                "INSERT OR IGNORE INTO sweeps VALUES (?, ?, ?, ?, ?)",
                [(sweep, size, h, d["trials"], i) for i, (h, d) in enumerate(zip(hashes, dicts, strict=True))],
            )
            c.execute("INSERT OR REPLACE INTO sweep_info VALUES (?, ?, ?, ?)", (sweep, size, path, description))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return hashes

    def record(self, rec: RunRecord) -> bool:
        """Write one (config, trial) in its own transaction; never overwrites a done row. True if written."""
        values = dataclasses.astuple(rec)
        values = values[:4] + (None if rec.metrics is None else json.dumps(rec.metrics),) + values[5:]
        cur = self._conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (config_hash, trial) DO UPDATE "
            "SET status=excluded.status, seed=excluded.seed, metrics=excluded.metrics, error=excluded.error, "
            "seconds=excluded.seconds, started=excluded.started, finished=excluded.finished, "
            "device=excluded.device, host=excluded.host, version=excluded.version WHERE runs.status != 'done'",
            values,
        )
        return cur.rowcount > 0

    def put_monte_carlo(self, key: str, fields: dict, result: dict, seconds: float | None = None) -> bool:
        """Store one Monte Carlo result under ``key`` (``fields``: m, k, alpha, family, r, trials, seed).

        A stored key is never overwritten (same key, same seeded numbers). True if written.
        """
        names = ("m", "k", "alpha", "family", "r", "trials", "seed")
        cur = self._conn.execute(
            "INSERT INTO mc_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, *(fields[n] for n in names), json.dumps(result), seconds, toolkit_version()),
        )
        return cur.rowcount > 0

    def monte_carlo(self, keys: Iterable[str] | None = None) -> dict[str, dict]:
        """key -> stored Monte Carlo result (the JSON given to ``put_monte_carlo``), all or those of ``keys``."""
        wanted = None if keys is None else set(keys)
        records, fields = {}, {}
        names = ("m", "k", "alpha", "family", "r", "trials", "seed")
        for key, res, *values in self._conn.execute(
            f"SELECT key, result, {', '.join(names)} FROM mc_results ORDER BY rowid"
        ):
            if wanted is None or key in wanted:
                try:
                    records[key] = json.loads(res)
                except (TypeError, ValueError):
                    raise ValueError(f"store={self.path!r}: mc_results[{key[:16]!r}]: result is not JSON") from None
                fields[key] = dict(zip(names, values, strict=True))
        return check_monte_carlo(records, f"store={self.path!r}", fields)

    # ------------------------------------------------------------ reading

    def trial_status(self, hashes: Iterable[str]) -> dict[tuple[str, int], str]:
        """(config_hash, trial) -> "done" | "failed" for the given hashes (missing = pending)."""
        out = {}
        hashes = list(hashes)
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            marks = ",".join("?" * len(part))
            for h, t, s in self._conn.execute(
                f"SELECT config_hash, trial, status FROM runs WHERE config_hash IN ({marks})", part
            ):
                out[(h, t)] = s
        return out

    def status(self, sweeps: Sequence | None = None) -> list[SweepStatus]:
        """Done / failed / pending per sweep size: of the given ``Sweep`` objects, or of what the store knows."""
        if sweeps is None:
            by_sweep = {}
            for sweep, size, h, trials in self._conn.execute(
                "SELECT sweep, size, config_hash, trials FROM sweeps ORDER BY sweep, size, position"
            ):
                by_sweep.setdefault((sweep, size), []).append((h, trials))
        else:
            by_sweep = {(s.name, s.size): [(config_hash(c), c.trials) for c in s.configs] for s in sweeps}
        out = []
        for (sweep, size), configs in by_sweep.items():
            status = self.trial_status(h for h, _ in configs)
            counts = {"done": 0, "failed": 0}
            for h, trials in configs:
                for t in range(trials):
                    if (h, t) in status:
                        counts[status[(h, t)]] += 1
            out.append(SweepStatus(sweep, size, len(configs), sum(t for _, t in configs), **counts))
        return out

    def frame(self, sweep: str | None = None, size: str | None = None):
        """Long format: one row per (config hash, trial, variant); see docs/interfaces.md.

        Columns: every config field (tuples/lists as JSON strings), ``config_hash``, ``sweep``,
        ``size`` (names joined by "," when a config belongs to several), the engine's row fields,
        ``status``, ``error``, ``version``. A failed trial is one row with ``variant`` None.
        ``seed`` and ``device`` are both config fields and row fields: the row's value wins (the
        device actually used, e.g. "cpu" for a config's "auto").
        With ``sweep`` (and ``size``) only that sweep's configs, trials < its trial count.
        """
        import pandas as pd

        sweeps_of = self._sweeps_of(sweep, size)
        fields, row_fields, defaults = _config_fields(), _row_fields(), config_defaults()
        records = []
        query = (
            "SELECT r.config_hash, r.trial, r.status, r.seed, r.metrics, r.error, r.version, c.config "
            "FROM runs r JOIN configs c USING (config_hash) ORDER BY r.rowid"
        )
        for h, trial, status, seed, metrics, error, version, cfg in self._conn.execute(query):
            if (sweep is not None or size is not None) and h not in sweeps_of:
                continue
            names = sweeps_of.get(h, ((), ()))
            stored = {**defaults, **self._json(cfg, dict, "configs", h, None)}  # a field added since: its default
            base = {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in stored.items()}
            base.update(config_hash=h, sweep=",".join(names[0]) or None, size=",".join(names[1]) or None)
            tail = {"status": status, "error": error, "version": version}
            rows = self._json(metrics, list, "runs", h, trial) if metrics else None
            for r in rows or [{"trial": trial, "seed": seed, "variant": None}]:
                if not isinstance(r, dict):
                    raise ValueError(
                        f"store={self.path!r}: runs (config_hash={h[:12]}..., trial={trial}): "
                        "metrics must be a list of objects (an edited store?)"
                    )
                records.append({**dict.fromkeys(row_fields), **base, **r, **tail})
        columns = list(
            dict.fromkeys([*fields, "config_hash", "sweep", "size", *row_fields, "status", "error", "version"])
        )
        frame = pd.DataFrame.from_records(records)
        for col in columns:
            if col not in frame:
                frame[col] = pd.Series(dtype=object)
        return frame[columns + [c for c in frame.columns if c not in columns]]

    def _json(self, text, kind, table: str, h, trial):
        """A JSON cell of ``table`` as ``kind``; a one-line ValueError naming the store, table and row."""
        where = f"config_hash={str(h)[:12]}..." + ("" if trial is None else f", trial={trial}")
        try:
            value = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"store={self.path!r}: {table} ({where}): not JSON ({exc}; an edited store?)") from None
        if not isinstance(value, kind):
            raise ValueError(f"store={self.path!r}: {table} ({where}): must be a JSON {kind.__name__}")
        return value

    def _sweeps_of(self, sweep, size) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Config hash -> (the sweeps, the sizes) it is registered under, within ``sweep`` and ``size`` if given."""
        names: dict[str, tuple[set, set]] = {}
        for s, z, h in self._conn.execute("SELECT sweep, size, config_hash FROM sweeps"):
            if (sweep is None or s == sweep) and (size is None or z == size):
                a, b = names.setdefault(h, (set(), set()))
                a.add(s)
                b.add(z)
        return {h: (tuple(sorted(a)), tuple(sorted(b))) for h, (a, b) in names.items()}

    def sweeps(self) -> list[tuple[str, str, str | None, str | None]]:
        """(sweep, size, path, description) of every registered sweep size."""
        return list(self._conn.execute("SELECT sweep, size, path, description FROM sweep_info ORDER BY sweep, size"))


def check_store(path) -> None:
    """Raise a one-line ValueError unless ``path`` is absent, empty, or a store of ours at our schema.

    Reads the 100-byte SQLite header only; never writes.
    """
    path = os.fspath(path)
    if not check_input(path, "store"):  # absent; a folder, FIFO or device is refused without opening it
        return
    with open(path, "rb") as f:
        header = f.read(100)
    if not header:
        return
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        export = header.startswith((b"\x1f\x8b", b"# format=fpe-theory results export"))
        hint = "; it looks like an export: read it with --from (report) instead" if export else ""
        raise ValueError(f"store={path!r}: not an fpe-theory results store (not an SQLite database){hint}")
    app_id = int.from_bytes(header[68:72], "big")
    user_version = int.from_bytes(header[60:64], "big")
    if app_id != APPLICATION_ID:
        raise ValueError(f"store={path!r}: not an fpe-theory results store (SQLite application_id={app_id:#x})")
    if user_version != SCHEMA_VERSION:
        raise ValueError(
            f"store={path!r}: schema version {user_version}; this fpe-theory "
            f"({toolkit_version()}) reads schema version {SCHEMA_VERSION}"
        )


def _config_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _row_fields() -> list[str]:
    return list(ROW_FIELDS)
