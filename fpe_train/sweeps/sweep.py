"""Sweep files: a grid over ``TrainConfig`` in TOML, and the driver that runs what a store lacks.

Format (experiments/README.md has the full story; every shipped file is an example)::

    [sweep]
    name = "fig3a"                    # default: the file's stem
    paper = "Figure 3a"               # what it reproduces (free text)
    description = "..."               # free text

    [base]                            # fixed TrainConfig fields
    task = "boolean"
    clauses = 8

    [grid]                            # axes; configs = their product, first axis slowest
    r = [4, 8, 16]
    alpha = [2, 4]
    schedule = [{warmup_epochs = 5, epochs = 45}, {warmup_epochs = 25, epochs = 25}]
                                      # ^ a name that is no field + a list of tables: a coupled axis

    [sizes.quick]                     # overrides of [base] for --size quick ...
    epochs = 30
    [sizes.quick.grid]                # ... and of [grid] (replaces or adds axes)
    r = [4, 8]

Precedence, last wins: ``[base]``, then the axes (``[sizes.S.grid]`` replaces a ``[grid]`` axis
of the same name, or adds one), then the ``[sizes.S]`` scalars, then ``--set`` overrides. A
scalar that sets a field of an axis pins that field in every config (a plain axis over it
collapses to one value; a coupled axis keeps its other fields); duplicate configs are dropped.
A plain field may not be both in [base] and [grid]. Every generated config
is validated by ``TrainConfig``; a malformed file, an unknown key or a bad value raises a
one-line ``ValueError`` naming the file and line.

Shipped sweep files (``fpe_train/sweeps/experiments/*.toml``, package data) are found by name:

>>> s = load_sweep(find_sweep("case_study"), "quick")
>>> (s.name, len(s.configs) >= 1, "fig3a" in shipped_sweeps())
('case_study', True, True)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib.resources import as_file, files

from fpe_train.engine.batch import batch_jobs, bucket_cost
from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.executors import DEFAULT_RUN, Batch, Job, make_executor
from fpe_train.sweeps.files import check_input
from fpe_train.sweeps.store import RunRecord, config_hash

SWEEP_KEYS = ("name", "description", "paper")
EXPERIMENTS = "experiments"  # package-data folder of the shipped sweep files
TOP_KEYS = ("sweep", "base", "grid", "sizes")
DEFAULT_SIZE = "quick"  # the size of a file without [sizes]
MAX_CONFIGS = 100_000  # grid points of one sweep (the product of its axes)
MAX_TRIALS = 1_000_000  # trials of one sweep, summed over its configs


@dataclass(frozen=True)
class Sweep:
    """A sweep file at one size: its configs, in grid order."""

    name: str
    size: str
    configs: tuple
    path: str
    description: str = ""
    paper: str = ""
    sizes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepSummary:
    """Trials run now (``done``, ``failed``), already finished (``skipped``), failed earlier and left."""

    done: int
    skipped: int
    failed: int
    seconds: float
    not_retried: int = 0


# ---------------------------------------------------------------- finding


def shipped_sweeps() -> dict[str, str]:
    """Name -> path of every sweep file shipped with the package (``importlib.resources``)."""
    folder = files("fpe_train.sweeps") / EXPERIMENTS
    with as_file(folder) as real:  # a real folder for an installed wheel or a checkout
        return {p.stem: os.fspath(p) for p in sorted(real.glob("*.toml"))}


def find_sweep(name_or_path) -> str:
    """A path to a sweep file: an existing file as given, else a shipped sweep of that name.

    ``case_study`` and ``case_study.toml`` both name the shipped file; anything else is a ValueError
    listing the shipped names.
    """
    text = os.fspath(name_or_path)
    if check_input(text, "sweep"):  # a folder, FIFO or device: refused without opening it
        return text
    shipped = shipped_sweeps()
    stem = text[:-5] if text.endswith(".toml") else text
    if stem in shipped and os.sep not in stem:
        return shipped[stem]
    raise ValueError(f"sweep={text!r}: no such file and no shipped sweep of that name; shipped: {', '.join(shipped)}")


def read_header(path) -> dict:
    """``{name, paper, description, sizes, path}`` of a sweep file, without expanding its grid."""
    path = os.fspath(path)
    doc, _ = _read_toml(path)
    head = doc.get("sweep", {})
    name = head.get("name", os.path.splitext(os.path.basename(path))[0])
    sizes = sorted(doc.get("sizes", {}))
    return {
        "name": name,
        "paper": str(head.get("paper", "")),
        "description": str(head.get("description", "")).strip(),
        "sizes": sizes,
        "path": path,
    }


# ---------------------------------------------------------------- parsing


def load_sweep(path, size: str = "quick", overrides: dict | None = None, config_cls=None) -> Sweep:
    """Parse the sweep file at ``path`` for ``size``; ``overrides`` (field -> value) win over everything."""
    config_cls = TrainConfig if config_cls is None else config_cls
    path = os.fspath(path)
    doc, text = _read_toml(path)
    where = _Locator(path, text)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    _check_keys(doc, TOP_KEYS, where, "")
    head = _table(doc, "sweep", where)
    _check_keys(head, SWEEP_KEYS, where, "sweep")
    base, grid, sizes = _table(doc, "base", where), _table(doc, "grid", where), _table(doc, "sizes", where)
    _check_keys(base, fields, where, "base")
    both = set(base) & set(grid)
    if both:
        key = sorted(both)[0]
        raise ValueError(where.at(key, "grid", f"{key}: both in [base] and [grid]; keep one"))
    if sizes and size not in sizes:
        raise ValueError(f"{path}: size={size!r}: this sweep has sizes {', '.join(sizes)}")
    if not sizes and size != DEFAULT_SIZE:
        raise ValueError(
            f"{path}: size={size!r}: this sweep has no [sizes]; leave --size out (it runs as {DEFAULT_SIZE!r})"
        )
    layer = _table(sizes, size, where, f"sizes.{size}") if sizes else {}
    layer_grid = _table(layer, "grid", where, f"sizes.{size}.grid")
    _check_keys({k: v for k, v in layer.items() if k != "grid"}, fields, where, f"sizes.{size}")
    axes = _axes({**grid}, fields, where, "grid")
    axes.update(_axes(layer_grid, fields, where, f"sizes.{size}.grid"))
    _check_axis_overlap(axes, where)
    _check_keys(overrides or {}, fields, where, "--set")
    late = {**{k: v for k, v in layer.items() if k != "grid"}, **(overrides or {})}
    configs = _expand(base, axes, late, config_cls, where, fields, set(overrides or ()))
    name = head.get("name", os.path.splitext(os.path.basename(path))[0])
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(where.at("name", "sweep", f"name={name!r}: use letters, digits, _ . -"))
    return Sweep(
        name, size, configs, path, str(head.get("description", "")).strip(), str(head.get("paper", "")), tuple(sizes)
    )


MAX_TOML_BYTES = 1 << 20  # a sweep file (the shipped ones: under 4 kB)
MAX_TOML_DEPTH = 16  # nested arrays and inline tables
MAX_KEY_PARTS = 16  # parts of a dotted key (a.b.c is 3)
MAX_BARE = 1000  # characters of one bare key or value outside quotes (a number, a date, a key)
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def check_toml_shape(text: str, where: str) -> None:
    """Bounded work before parsing: nesting depth, dotted-key parts and bare-token length, one pass.

    Refuses in one line (``where:line: ...``) what the TOML parser would answer with a RecursionError, a
    quadratic walk or a 4300-digit integer error. Strings and comments are skipped as TOML defines them.
    """
    i, n, line, depth, parts, bare = 0, len(text), 1, 0, 1, 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            line, parts, bare = line + 1, 1, 0
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch in "\"'":
            i, line = _skip_string(text, i, line, where)
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_TOML_DEPTH:
                raise ValueError(f"{where}:{line}: nested deeper than {MAX_TOML_DEPTH} arrays or inline tables")
            parts, bare = 1, 0
        elif ch in "]}":
            depth, parts, bare = max(0, depth - 1), 1, 0
        elif ch == ".":
            parts, bare = parts + 1, 0
            if parts > MAX_KEY_PARTS:
                raise ValueError(f"{where}:{line}: a dotted key of more than {MAX_KEY_PARTS} parts")
        elif ch in _BARE:
            bare += 1
            if bare > MAX_BARE:
                raise ValueError(f"{where}:{line}: a bare key or value longer than {MAX_BARE} characters")
        elif ch not in " \t":
            parts, bare = 1, 0
        i += 1


def _skip_string(text: str, i: int, line: int, where: str) -> tuple[int, int]:
    """The index after the string starting at ``i`` (basic, literal, or their multi-line forms) and the line."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    close = quote * 3 if triple else quote
    j = i + len(close)
    while j < len(text):
        c = text[j]
        if c == "\\" and quote == '"':
            j += 2
            continue
        if c == "\n":
            if not triple:
                return j, line  # an unterminated string: the parser reports it
            line += 1
        if text.startswith(close, j):
            j += len(close)
            while triple and j < len(text) and text[j] == quote:  # up to two quotes may end a triple string
                j += 1
            return j, line
        j += 1
    return j, line


def _read_toml(path: str) -> tuple[dict, str]:
    """The parsed document and its text; a syntax error becomes ``path:line: malformed TOML: ...``."""
    check_input(path, "sweep")  # a FIFO or device: refused without opening it
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"sweep={path!r}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_TOML_BYTES:
        raise ValueError(f"sweep={path!r}: larger than {MAX_TOML_BYTES >> 20} MiB; not a sweep file")
    text = raw.decode("utf-8", errors="replace")
    check_toml_shape(text, path)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = at.group(1) if at else len(text.splitlines()) or 1  # "at end of document": the last line
        raise ValueError(f"{path}:{line}: malformed TOML: {exc}") from None


def _axes(grid: dict, fields: set, where, table: str) -> dict[str, list[dict]]:
    """Each axis as a list of {field: value} settings (a plain axis sets one field)."""
    axes = {}
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(where.at(name, table, f"{name}={values!r}: a grid axis must be a non-empty list"))
        if all(isinstance(v, dict) for v in values):
            if name in fields:
                raise ValueError(where.at(name, table, f"{name}: a field's axis takes values, not tables"))
            for v in values:
                _check_keys(v, fields, where, table)
            axes[name] = [dict(v) for v in values]
        elif name not in fields:
            raise ValueError(
                where.at(
                    name,
                    table,
                    f"{name}: unknown key in [{table}] (not a TrainConfig field; "
                    "a coupled axis needs a list of tables)",
                )
            )
        else:
            axes[name] = [{name: v} for v in values]
    return axes


def _axis_fields(values: list[dict]) -> set:
    return set().union(*(v.keys() for v in values))


def _check_axis_overlap(axes: dict, where) -> None:
    seen: dict[str, str] = {}
    for name, values in axes.items():
        for f in _axis_fields(values):
            if f in seen:
                raise ValueError(where.at(name, "grid", f"{f}: set by two grid axes ({seen[f]}, {name})"))
            seen[f] = name


def _expand(base: dict, axes: dict, late: dict, config_cls, where, fields: set, from_set: set = frozenset()) -> tuple:
    """Product of the axes over ``base``; ``late`` (size scalars, overrides) set last; duplicates dropped."""
    points = math.prod(len(v) for v in axes.values())
    if points > MAX_CONFIGS:
        sizes = " x ".join(f"{name}={len(v)}" for name, v in axes.items())
        raise ValueError(f"{where.path}: grid: {sizes} = {points} configs; a sweep may have at most {MAX_CONFIGS}")
    configs, seen, trials = [], set(), 0
    for combo in itertools.product(*axes.values()):
        settings = dict(base)
        for setting in combo:
            settings.update(setting)
        settings.update(late)
        try:
            config = config_cls.from_dict(settings)
        except (ValueError, TypeError) as exc:
            key = re.match(r"\s*'?(\w+)", str(exc))
            key = key.group(1) if key else ""
            key = key if key in fields else next((f for f in sorted(fields) if key and f.startswith(key)), key)
            if key in from_set:  # the value came from the command line, not from a line of the file
                raise ValueError(f"{where.path}: --set {exc}") from None
            raise ValueError(where.at(key, None, str(exc))) from None
        if config not in seen:
            seen.add(config)
            configs.append(config)
            trials += config.trials
    if trials > MAX_TRIALS:
        raise ValueError(
            f"{where.path}: trials: {len(configs)} configs hold {trials} trials; a sweep may have at most {MAX_TRIALS}"
        )
    return tuple(configs)


def _table(doc: dict, key: str, where, name: str | None = None) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(where.at(key, None, f"{name or key}: must be a table [{name or key}]"))
    return value


def _check_keys(d: dict, allowed, where, table: str) -> None:
    for key in d:
        if key not in allowed:
            place = f"[{table}]" if table and not table.startswith("-") else table or "the top level"
            raise ValueError(
                where.at(
                    key,
                    table,
                    f"{key}: unknown key in {place}" + ("" if table in ("", "sweep") else " (not a TrainConfig field)"),
                )
            )


class _Locator:
    """Finds the line of a key in the file text (tomllib reports lines for syntax errors only)."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def at(self, key: str, table: str | None, message: str) -> str:
        line = self.line(key, table)
        return f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}"

    def line(self, key: str, table: str | None) -> int | None:
        if not key:
            return None
        pattern = re.compile(rf"(^|[{{,\s]){re.escape(key)}\s*=|^\s*\[+\s*{re.escape(key)}\s*\]")
        current, fallback = "", None
        for i, text in enumerate(self.lines, 1):
            text = text.split("#", 1)[0]
            header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", text)
            if header:
                current = header.group(1).replace(" ", "")
            if pattern.search(text):
                if table is None or current == table or (table == "" and not current):
                    return i
                fallback = fallback or i
        return fallback


# ---------------------------------------------------------------- running


def check_sweep_data(sweep: Sweep) -> None:
    """Check the data of every config before the first trial (files, contents, classes in each subsample).

    A file is read once (``check_dataset`` keeps the last two); each distinct subsample is checked once.
    """
    from fpe_train.engine.datasets import VISION_TASKS, check_dataset  # keeps numpy out until used

    seen = set()
    for c in sweep.configs:
        key = (c.task, c.data_path, c.n_train, c.n_test, c.seed)
        if c.task in VISION_TASKS and key not in seen:
            seen.add(key)
            check_dataset(c)


def check_sweep_device(sweep: Sweep) -> None:
    """Refuse (one line, before any store is made) configs asking for ``device = "cuda"`` where no GPU is."""
    wanted = [c for c in sweep.configs if c.device == "cuda"]
    if not wanted:
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            f"{sweep.path}: device='cuda' ({len(wanted)} of {len(sweep.configs)} configs): no CUDA GPU is available "
            "here; use --set device=cpu (or auto), or --executor dask with GPU workers"
        )


def pending_batches(sweep: Sweep, store, retry_failed: bool = False, workers: int = 1):
    """(batches to run, trials already done, trials failed earlier and not retried).

    The trials a store lacks, one job per config, are put into batches (``fpe_train.engine.batch.batch_jobs``:
    configs of one schedule, shape buckets, memory), at least ``workers`` of them where trials allow,
    each a ``Batch`` of ``Job``s; largest first.
    """
    hashes = [config_hash(c) for c in sweep.configs]
    status = store.trial_status(hashes)
    jobs, done, left = [], 0, 0
    for config, h in zip(sweep.configs, hashes, strict=True):
        todo = []
        for t in range(config.trials):
            s = status.get((h, t))
            done += s == "done"
            left += s == "failed" and not retry_failed
            if s is None or (s == "failed" and retry_failed):
                todo.append(t)
        if todo:
            jobs.append((config, tuple(todo)))
    hash_of = {id(c): h for c, h in zip(sweep.configs, hashes, strict=True)}
    batched = batch_jobs(jobs, device=None, min_batches=workers)
    batched.sort(key=lambda b: -bucket_cost([(c, len(t)) for c, t in b]))  # largest first: a short tail
    batches = [Batch(tuple(Job(hash_of[id(c)], c, t) for c, t in b)) for b in batched]
    return batches, done, left


def run_sweep(
    sweep: Sweep,
    store,
    executor="serial",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    threads: int | None = None,
    run_fn: str | None = None,
    overall=None,
) -> SweepSummary:
    """Run the trials of ``sweep`` that ``store`` lacks; write each finished trial as it arrives.

    ``overall``: a progress bar across several sweeps (anything with ``update(n)``, e.g. ``tqdm``), told of
    every trial this sweep records, beside the sweep's own bar.

    ``executor`` is a name (``serial | local | dask``) or an executor object from
    ``fpe_train.sweeps.executors``. Datasets are checked and the executor is started before anything
    is written; the store is locked against a second driver for the whole run.
    """
    t0 = time.perf_counter()
    check_sweep_data(sweep)
    owned = isinstance(executor, str)
    with store.lock():
        parallel = 1 if executor == "serial" else (workers or os.cpu_count() or 1)
        batches, skipped, left = pending_batches(sweep, store, retry_failed, getattr(executor, "workers", parallel))
        if not batches:
            store.register(sweep.name, sweep.size, sweep.configs, sweep.path, sweep.description)
            return SweepSummary(0, skipped, 0, time.perf_counter() - t0, left)
        ex = make_executor(executor, scheduler, workers, run_fn or DEFAULT_RUN, threads) if owned else executor
        try:
            store.register(sweep.name, sweep.size, sweep.configs, sweep.path, sweep.description)
            done, failed = _drive(ex, batches, store, progress, sweep.name, overall)
        finally:
            if owned:
                ex.close()
    return SweepSummary(done, skipped, failed, time.perf_counter() - t0, left)


def pending_trials(sweeps, store) -> int:
    """(config, trial) pairs of ``sweeps`` the store holds no row for, each counted once (sweeps share configs)."""
    wanted = {}
    for s in sweeps:
        for c in s.configs:
            h = config_hash(c)
            wanted[h] = max(wanted.get(h, 0), c.trials)
    status = store.trial_status(wanted)
    return sum((h, t) not in status for h, n in wanted.items() for t in range(n))


def _drive(ex, batches, store, progress: bool, name: str, overall=None) -> tuple[int, int]:
    from tqdm import tqdm

    done = failed = 0
    total = sum(len(b.trials) for b in batches)
    with tqdm(total=total, unit="trial", desc=name, file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        for res in ex.map(batches):
            seconds = (res.finished - res.started) / max(1, res.batch_trials or len(res.trials))
            for t in res.trials:
                rows = None if res.rows is None else res.rows.get(t)
                error = res.error or (res.trial_errors or {}).get(t)
                rec = RunRecord(
                    res.job.config_hash,
                    t,
                    "done" if rows else "failed",
                    seed=res.job.config.seed,
                    metrics=rows,
                    error=error,
                    seconds=seconds,
                    started=res.started,
                    finished=res.finished,
                    device=rows[0].get("device") if rows else None,
                    host=res.host,
                    version=res.version,
                )
                store.record(rec)
                done, failed = done + bool(rows), failed + (not rows)
                bar.update(1)
                if overall is not None:
                    overall.update(1)
            if failed:
                bar.set_postfix(failed=failed)
    return done, failed
