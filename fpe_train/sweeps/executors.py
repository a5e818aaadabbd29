"""Where the batches of a sweep run: in the driver, in a local process pool, or on a Dask cluster.

A **job** is one config with the trials the store still needs (``Job``), and a **batch**
(``Batch``) the jobs of one schedule that the engine trains as one padded model batch
(``fpe_train.engine.run.run_batch``; ``fpe_train.engine.batch.batch_jobs`` decides which):
the unit of work. Workers get the configs as plain dicts, run them, and send back plain rows,
one ``JobResult`` per job; they never touch the store: only the driver writes. A failure
inside a batch comes back as data (``error``, or ``trial_errors`` for a trial whose training
diverged), not as an exception.

- ``serial``: in the driver process, one batch after another.
- ``local``: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` context, ``workers``
  processes (default: CPU count), each capped to ``threads`` torch/numba/BLAS threads.
- ``dask``: ``distributed.Client`` on ``scheduler`` (``tcp://host:port``, or ``tls://host:port``
  with certificates), or a ``LocalCluster`` of ``workers`` processes when no scheduler is given
  (docs/scaleout.md). Plain TCP is unauthenticated and results come back pickled: whoever
  reaches the scheduler can run code on the driver.

Same seeds, same rows, whichever executor runs them (tests/test_dask_executors.py checks it).

>>> ex = make_executor("serial")
>>> [r.trials for r in ex.map([])]
[]
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.threads import default_threads, kernel_threads, set_kernel_threads
from fpe_train.sweeps.store import toolkit_version

DEFAULT_RUN = "fpe_train.engine.run:run_config"  # the engine: its jobs are trained as one batch (run_batch)
EXECUTORS = ("serial", "local", "dask")
POLL_SECONDS = 0.05  # how often the Dask driver looks for finished batches (and for a Ctrl-C)
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    """One config and the trials whose rows the driver still needs."""

    config_hash: str
    config: TrainConfig
    trials: tuple[int, ...]

    @property
    def cost(self) -> float:
        """Rough work estimate (for largest-first scheduling): trials x epochs x samples x width x variants."""
        c = self.config
        width = c.r * c.alpha * c.depth
        return c.trials * (c.epochs + c.warmup_epochs) * c.n_train * width * (1 + len(c.splits))


@dataclass(frozen=True)
class Batch:
    """Jobs (configs sharing a schedule) trained as one batch; ``cost`` from the engine's model."""

    jobs: tuple[Job, ...]

    @property
    def config_hash(self) -> str:
        return self.jobs[0].config_hash

    @property
    def trials(self) -> tuple[int, ...]:
        return tuple(t for j in self.jobs for t in j.trials)

    @property
    def cost(self) -> float:
        return sum(j.cost / max(1, j.config.trials) * len(j.trials) for j in self.jobs)


@dataclass(frozen=True)
class JobResult:
    """What a worker sends back for one job: rows by trial (only the job's trials), or the error.

    ``trial_errors``: trials that failed alone (their loss diverged) while the rest of the batch trained;
    ``batch_trials``: trials of the whole batch the job belonged to (the wall time is shared by them).
    """

    job: Job
    rows: dict[int, list[dict]] | None
    error: str | None
    started: float
    finished: float
    host: str
    version: str
    trial_errors: dict[int, str] | None = None
    batch_trials: int = 0

    @property
    def trials(self) -> tuple[int, ...]:
        return self.job.trials


def cap_threads(threads: int | None, env: bool = False) -> None:
    """Cap torch (intra-op) threads and the CPU kernel's threads over models of this process to ``threads``.

    With ``env=True`` (worker processes only) the BLAS/OpenMP/numba environment variables are set
    too; the driver's own environment is never changed, since numba refuses a changed
    NUMBA_NUM_THREADS once its thread pool has started. The kernel's count is kept in
    ``fpe_train.engine.threads`` (numba's cap, ``NUMBA_NUM_THREADS``, applies): setting it imports no numba.
    """
    if not threads:
        return
    if env:
        for name in _THREAD_ENV:
            os.environ[name] = str(threads)
    set_kernel_threads(min(threads, default_threads()))
    if "torch" in sys.modules:  # a torch path in this process: its intra-op threads too
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def resolve(run_fn: str):
    """``"module:attr"`` -> the function (imported where it runs, so workers need only the name)."""
    module, _, attr = run_fn.partition(":")
    return getattr(importlib.import_module(module), attr)


def _describe(exc: BaseException) -> str:
    """``Type: message (at file:line)``, one line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    return " ".join(f"{type(exc).__name__}: {exc}{where}".split())


def lost(batch: Job | Batch, exc: BaseException) -> list[JobResult]:
    """A batch whose worker never answered (a crashed process, a lost Dask worker): failures, as data."""
    now = time.time()
    return [
        JobResult(j, None, f"worker lost: {_describe(exc)}", now, now, "unknown", "unknown") for j in jobs_of(batch)
    ]


def jobs_of(batch: Job | Batch) -> tuple[Job, ...]:
    return batch.jobs if isinstance(batch, Batch) else (batch,)


def run_jobs(batch: Job | Batch, run_fn: str = DEFAULT_RUN, threads: int | None = None) -> list[JobResult]:
    """Run a batch; one ``JobResult`` per job, with the rows of that job's trials. Never raises.

    With the engine (``DEFAULT_RUN``) the jobs train as one batch (``run_batch``), only the trials asked
    for; any other ``run_fn(config) -> rows`` runs job by job and keeps the rows of the job's trials.
    """
    started = time.time()
    jobs = jobs_of(batch)
    n = sum(len(j.trials) for j in jobs)
    if run_fn != DEFAULT_RUN:
        return [_run_job(j, run_fn, threads, len(j.trials)) for j in jobs]
    try:
        cap_threads(threads)
        from fpe_train.engine.cpu import run_any  # the compiled CPU kernel where it applies (no torch), else torch

        configs = [j.config for j in jobs]
        got = run_any([(c, j.trials) for c, j in zip(configs, jobs, strict=True)], on_error="record")
    except Exception as exc:  # a failed run is recorded, not raised (the driver decides)
        error = _describe(exc)
        return [
            JobResult(j, None, error, started, time.time(), socket.gethostname(), toolkit_version(), None, n)
            for j in jobs
        ]
    finished, host, version = time.time(), socket.gethostname(), toolkit_version()
    out = []
    for j, rows, errors in zip(jobs, got.rows, got.failed, strict=True):
        out.append(JobResult(j, rows, None, started, finished, host, version, errors or None, n))
    return out


def _run_job(job: Job, run_fn: str, threads: int | None, n: int) -> JobResult:
    """One job with a plain ``run_fn(config) -> rows`` (all of the config's trials; the job's are kept)."""
    started = time.time()
    try:
        cap_threads(threads)

        result, error = _by_trial(resolve(run_fn)(job.config), job.trials), None
    except Exception as exc:  # a failed run is recorded, not raised (the driver decides)
        result, error = None, _describe(exc)
    return JobResult(job, result, error, started, time.time(), socket.gethostname(), toolkit_version(), None, n)


def _by_trial(rows: list[dict], trials: tuple[int, ...]) -> dict[int, list[dict]]:
    by_trial: dict[int, list[dict]] = {t: [] for t in trials}
    for row in rows:
        if row["trial"] in by_trial:
            by_trial[row["trial"]].append(row)
    missing = [t for t, r in by_trial.items() if not r]
    if missing:
        raise RuntimeError(f"run function returned no rows for trials {missing}")
    return by_trial


class SerialExecutor:
    """Batches one after another in this process (torch threads capped meanwhile, then restored)."""

    name = "serial"

    def __init__(self, run_fn: str = DEFAULT_RUN, threads: int | None = None) -> None:
        self.run_fn, self.threads = run_fn, threads

    def map(self, batches: Iterable[Job | Batch]) -> Iterator[JobResult]:
        before = kernel_threads(), (sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None)
        try:
            for batch in batches:
                yield from run_jobs(batch, self.run_fn, self.threads)
        finally:
            set_kernel_threads(before[0])
            if before[1] is not None:
                sys.modules["torch"].set_num_threads(before[1])

    def close(self) -> None:
        pass


def _init_worker(threads: int | None, parent: int | None = None) -> None:
    """Worker start-up: cap threads; exit when the driver ``parent`` dies (even by SIGKILL)."""
    if parent is not None:
        watch_parent(parent)
    cap_threads(threads, env=True)


def watch_parent(parent: int, every: float = 0.5) -> None:
    """Exit this process as soon as ``parent`` is no longer its parent (it died; we were re-parented).

    A daemon thread polls ``os.getppid()`` every ``every`` seconds (it runs while torch computes a
    long batch). ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that started the
    worker ends, which need not be the driver's end. A pool whose driver was SIGKILLed thus leaves
    no worker behind, and the resource tracker exits once the workers are gone.
    """
    if os.getppid() != parent:  # died before we got here
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=poll, name="fpe-parent-watch", daemon=True).start()


@contextmanager
def children_ignore_ctrl_c():
    """Processes started inside inherit SIGINT ignored (Python keeps an ignored SIGINT ignored at start-up),
    so a Ctrl-C at the terminal reaches the driver alone: it stops the workers, and no worker prints its
    own traceback. The driver's handler is restored on leaving (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _sigint(signal.SIG_IGN):
        yield


@contextmanager
def _sigint(handler):
    """SIGINT handled by ``handler`` inside, the previous handler restored on leaving (main thread only)."""
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def ctrl_c_as_flag():
    """Inside, a Ctrl-C (SIGINT) sets the yielded ``threading.Event`` instead of raising KeyboardInterrupt
    wherever the main thread happens to be; the caller raises it at a point of its own choosing. Raised
    inside a library's lock handling (Dask's ``as_completed`` takes a condition's lock while its event loop
    thread waits to notify it), a KeyboardInterrupt can leave that lock held: the client's loop then hangs
    and closing the client fails after its 60 s timeout. The previous handler is restored on leaving (main
    thread only; elsewhere the event is never set and SIGINT keeps its handler). A process started with SIGINT
    ignored (a job the shell put in the background) keeps ignoring it, as Python does."""
    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield hit
        return
    with _sigint(lambda signum, frame: hit.set()):
        yield hit


class LocalExecutor:
    """A process pool on this machine (spawn context: no inherited torch state)."""

    name = "local"

    def __init__(self, workers: int | None = None, run_fn: str = DEFAULT_RUN, threads: int | None = 1) -> None:
        self.run_fn, self.threads = run_fn, threads
        self.workers = workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads, os.getpid()),
        )

    def map(self, batches: Iterable[Job | Batch]) -> Iterator[JobResult]:
        with children_ignore_ctrl_c():  # workers start on demand, at submit
            futures = {self._pool.submit(run_jobs, b, self.run_fn, self.threads): b for b in batches}
        try:
            for f in as_completed(futures):
                try:
                    yield from f.result()
                except Exception as exc:  # BrokenProcessPool: a worker died (killed, out of memory)
                    yield from lost(futures[f], exc)
        except KeyboardInterrupt:  # Ctrl-C: stop the workers now; what was recorded stays, a rerun resumes
            self._stop()
            raise
        finally:
            for f in futures:
                f.cancel()

    def _stop(self) -> None:
        """Terminate the workers (their batches are lost, not recorded) and shut the pool down without waiting."""
        processes = list(getattr(self._pool, "_processes", {}).values())  # no public handle on the workers
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(5)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A ``distributed`` cluster: ``scheduler`` address, or a LocalCluster of ``workers`` processes."""

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        run_fn: str = DEFAULT_RUN,
        threads: int | None = 1,
        connect_timeout: float = 10.0,
        processes: bool = True,
        security=None,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("executor='dask': needs dask[distributed] (pip install 'fpe-theory[dask]')") from None
        check_connect_timeout(connect_timeout)
        self.run_fn, self.threads, self._cluster = run_fn, threads, None
        if scheduler is None:
            with children_ignore_ctrl_c():
                self._cluster = self._local_cluster(LocalCluster, workers, processes)
            self.client = Client(self._cluster)
        else:
            self.client = _connect(Client, scheduler, connect_timeout, security)

    @staticmethod
    def _local_cluster(LocalCluster, workers, processes):
        return LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=processes,
            host="127.0.0.1",
            protocol="tcp://",
            dashboard_address=None,
        )

    def map(self, batches: Iterable[Job | Batch]) -> Iterator[JobResult]:
        from distributed import as_completed

        futures = {}
        with ctrl_c_as_flag() as ctrl_c:  # Ctrl-C raised here, between polls, never inside Dask's locks
            try:
                for b in batches:  # a fresh key each time: a retried batch must not get the old future's result
                    key = f"fpe-batch-{b.config_hash[:12]}-{uuid.uuid4().hex[:12]}"
                    futures[self.client.submit(_dask_jobs, b, self.run_fn, self.threads, pure=False, key=key)] = b
                ready = as_completed(futures)
                while not ready.is_empty():
                    if ctrl_c.is_set():
                        raise KeyboardInterrupt
                    done = ready.next_batch(block=False)
                    if not done:
                        time.sleep(POLL_SECONDS)
                    for f in done:
                        try:
                            results = f.result()
                        except Exception as exc:  # KilledWorker, a worker lost with its batch, ...
                            results = lost(futures[f], exc)
                        yield from results
                if ctrl_c.is_set():
                    raise KeyboardInterrupt
            except KeyboardInterrupt:  # Ctrl-C: a local cluster is closed at once (close()); a remote one cancels
                if self._cluster is None:
                    self.client.cancel(list(futures))
                futures = {}
                raise
            finally:
                if futures:
                    self.client.cancel(list(futures))

    def close(self) -> None:
        quiet = logging.getLogger("distributed")  # closing after Ctrl-C: no INFO/WARNING lines of the shutdown
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            quiet.setLevel(level)


def _dask_jobs(batch, run_fn: str, threads: int | None) -> list[JobResult]:
    """``run_jobs`` on a Dask worker, whose log says nothing when the driver's Ctrl-C cancels the batch."""
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
    return run_jobs(batch, run_fn, threads)


def check_connect_timeout(timeout) -> float:
    """``timeout`` as a finite number of seconds > 0, else a one-line ValueError."""
    ok = isinstance(timeout, int | float) and not isinstance(timeout, bool) and math.isfinite(timeout) and timeout > 0
    if not ok:
        raise ValueError(f"connect_timeout={timeout!r}: must be a finite number of seconds > 0 (--connect-timeout)")
    return float(timeout)


def make_security(scheduler: str | None, ca_file=None, cert=None, key=None):
    """A ``distributed.Security`` for a ``tls://`` scheduler (None for plain TCP); one-line ValueError on misuse.

    A CA file and a client certificate with its key are required (distributed's TLS is mutual).
    The certificate paths come from the arguments, else from dask config
    (``distributed.comm.tls.ca-file``, ``.client.cert``, ``.client.key``). Plain ``tcp://`` is
    unauthenticated: see docs/scaleout.md.
    """
    given = {"tls_ca_file": ca_file, "tls_cert": cert, "tls_key": key}
    named = [n for n, v in given.items() if v is not None]
    tls = scheduler is not None and scheduler.startswith("tls://")
    if not tls:
        if named:
            raise ValueError(
                f"{named[0]}={given[named[0]]!r}: only with a tls:// scheduler (got scheduler={scheduler!r})"
            )
        return None
    import dask.config
    from distributed.security import Security

    conf = {
        "tls_ca_file": ca_file or dask.config.get("distributed.comm.tls.ca-file", None),
        "tls_cert": cert or dask.config.get("distributed.comm.tls.client.cert", None),
        "tls_key": key or dask.config.get("distributed.comm.tls.client.key", None),
    }
    if conf["tls_ca_file"] is None or conf["tls_cert"] is None:
        raise ValueError(
            f"scheduler={scheduler!r}: a tls:// scheduler needs --tls-ca-file and a client certificate "
            "--tls-cert (with --tls-key unless the key is in the same PEM file), or dask config "
            "distributed.comm.tls.ca-file / .client.cert / .client.key"
        )
    if conf["tls_key"] is None and not _bundled(conf["tls_cert"]):
        raise ValueError(f"tls_cert={conf['tls_cert']!r}: holds no private key; give --tls-key too")
    for name, path in conf.items():
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{name}={path!r}: no such file")
    return Security(
        tls_ca_file=conf["tls_ca_file"],
        tls_client_cert=conf["tls_cert"],
        tls_client_key=conf["tls_key"],
        require_encryption=True,
    )


def _bundled(cert) -> bool:
    """A PEM file holding both certificate and private key (allowed as --tls-cert alone)."""
    try:
        with open(cert, errors="replace") as f:
            return "PRIVATE KEY" in f.read()
    except (OSError, TypeError):
        return False


def check_scheduler(scheduler: str) -> None:
    """``tcp://host:port`` or ``tls://host:port`` with a port in 1..65535; a one-line ValueError at once otherwise."""
    if "://" not in scheduler:
        raise ValueError(f"scheduler={scheduler!r}: must look like tcp://host:port or tls://host:port")
    host, sep, port = scheduler.split("://", 1)[1].rpartition(":")
    if sep and host and port.isdigit() and not 1 <= int(port) <= 65535:
        raise ValueError(f"scheduler={scheduler!r}: port {int(port)} is out of range (1-65535)")


def _connect(Client, scheduler: str, timeout: float, security=None):
    """``Client(scheduler)`` within ``timeout`` seconds, also when something there accepts and never answers.

    distributed's own timeout covers the connection, not every step after it; the client is made in a
    daemon thread and given up (one line) when it is not back in ``timeout`` seconds plus a grace of 2 s.
    """
    check_scheduler(scheduler)
    box: dict = {}

    def make() -> None:
        try:
            box["client"] = Client(scheduler, timeout=f"{timeout}s", security=security)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=make, name="fpe-dask-connect", daemon=True)
    worker.start()
    worker.join(timeout + 2.0)
    if worker.is_alive():
        raise ValueError(
            f"scheduler={scheduler!r}: no Dask scheduler answered within {timeout:g} s "
            "(something accepts connections there but does not speak the Dask protocol)"
        )
    if "client" in box:
        return box["client"]
    try:
        raise box["error"]
    except (OSError, TimeoutError) as exc:
        raise ValueError(
            f"scheduler={scheduler!r}: cannot connect within {timeout:g} s ({type(exc).__name__}: {_short(exc)})"
        ) from None
    except (ValueError, TypeError) as exc:  # distributed: unknown protocol, malformed address, TLS settings
        raise ValueError(f"scheduler={scheduler!r}: {_short(exc)}") from None
    except Exception as exc:  # something else answered there (garbage frames: MemoryError, decode errors, ...)
        raise ValueError(
            f"scheduler={scheduler!r}: no Dask scheduler answered there ({type(exc).__name__}: {_short(exc)})"
        ) from None


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_executor(
    name: str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    run_fn: str = DEFAULT_RUN,
    threads: int | None = None,
    connect_timeout: float = 10.0,
    tls_ca_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
):
    """Build an executor by name; ``threads`` per worker defaults to 1 (tiny models gain nothing from more).

    Every argument is checked before anything starts: a bad one is a one-line ValueError.
    ``tls_*``: certificate files for a ``tls://`` scheduler (see ``make_security``).
    """
    if name not in EXECUTORS:
        raise ValueError(f"executor={name!r}: must be one of {', '.join(EXECUTORS)}")
    if scheduler is not None and name != "dask":
        raise ValueError(f"scheduler={scheduler!r}: only with executor='dask' (got executor={name!r})")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers={workers!r}: must be an integer >= 1")
    if name == "serial" and workers is not None:
        raise ValueError(f"workers={workers}: serial runs in this process; --workers is for local and dask")
    if name == "serial":
        return SerialExecutor(run_fn, threads or 1)
    if name == "local":
        return LocalExecutor(workers, run_fn, threads or 1)
    check_connect_timeout(connect_timeout)
    security = make_security(scheduler, tls_ca_file, tls_cert, tls_key)
    return DaskExecutor(scheduler, workers, run_fn, threads or 1, connect_timeout, security=security)
