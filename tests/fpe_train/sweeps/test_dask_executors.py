"""serial, local (process pool) and dask (a real LocalCluster on loopback) give the same rows."""

import dataclasses
import os

import pytest

from fpe_train.sweeps.executors import DaskExecutor, Job, LocalExecutor, SerialExecutor, make_executor
from fpe_train.sweeps.store import ResultsStore, config_hash
from fpe_train.sweeps.sweep import Sweep, run_sweep

pytest.importorskip("distributed")
FLOATS = ("test_accuracy", "train_accuracy", "capacity", "cosine", "abs_cosine")  # compared within 1e-6


def tiny_configs():
    from fpe_train.engine.config import TrainConfig

    base = dict(
        clauses=3,
        k=2,
        splits=("random", "clause"),
        trials=2,
        warmup_epochs=2,
        epochs=2,
        n_train=64,
        n_test=32,
        batch_size=32,
        device="cpu",
    )
    return [TrainConfig(r=n, seed=s, **base) for n, s in ((2, 0), (3, 1), (2, 5))]


def jobs():
    return [Job(config_hash(c), c, tuple(range(c.trials))) for c in tiny_configs()]


def strip(results):
    """{(hash, trial): rows without the wall time} from JobResults."""
    out = {}
    for res in results:
        assert res.error is None, res.error
        for t, rows in res.rows.items():
            out[(res.job.config_hash, t)] = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    return out


def die_or_run(config):
    """run_config, except that seed 99 kills the worker process outright."""
    if config.seed == 99:
        os._exit(3)
    from fpe_train.engine.run import run_config

    return run_config(config)


def test_serial_local_and_dask_give_the_same_rows(tmp_path):
    serial = strip(SerialExecutor(threads=1).map(jobs()))
    assert len(serial) == 6
    # one spawned process: enough to cross a process border; the last job kills it
    local = LocalExecutor(workers=1, threads=1, run_fn=f"{__name__}:die_or_run")
    deadly = Job("dead", dataclasses.replace(jobs()[0].config, seed=99), (0, 1))
    try:
        results = list(local.map([*jobs(), deadly]))
    finally:
        local.close()
    (lost,) = [r for r in results if r.job.config_hash == "dead"]
    assert lost.rows is None and lost.error.startswith("worker lost: BrokenProcessPool")
    assert strip(r for r in results if r is not lost) == serial


def test_dask_on_a_loopback_cluster_gives_the_same_rows(tmp_path):
    from distributed import LocalCluster

    serial = strip(SerialExecutor(threads=1).map(jobs()))
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        ex = make_executor("dask", scheduler=cluster.scheduler_address, threads=1)
        try:
            assert strip(ex.map(jobs())) == serial
            threads = ex.client.run(lambda: __import__("torch").get_num_threads())
            assert list(threads.values()) == [1]  # capped in the worker process
            sweep = Sweep("tiny", "quick", tuple(tiny_configs()), "tiny.toml")  # through run_sweep into a store
            with ResultsStore(tmp_path / "r.db") as store:
                summary = run_sweep(sweep, store, executor=ex, progress=False)
                f = store.frame()
        finally:
            ex.close()
    assert (summary.done, summary.failed) == (6, 0)
    got = {(r.config_hash, r.trial, r.variant): r.test_accuracy for r in f.itertuples()}
    assert got == {(h, t, r["variant"]): r["test_accuracy"] for (h, t), rows in serial.items() for r in rows}
    own = DaskExecutor(workers=1, threads=1, processes=False)  # `--executor dask` alone: its own LocalCluster
    try:
        assert strip(own.map(jobs()[:1])) == {k: v for k, v in serial.items() if k[0] == jobs()[0].config_hash}
    finally:
        own.close()


def test_unreachable_scheduler_is_one_line_error():
    with pytest.raises(ValueError, match=r"scheduler='tcp://127.0.0.1:9': cannot connect within 1 s") as err:
        make_executor("dask", scheduler="tcp://127.0.0.1:9", connect_timeout=1)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="must look like tcp://host:port"):
        make_executor("dask", scheduler="127.0.0.1:9")
    with pytest.raises(ValueError, match="only with executor='dask'"):
        make_executor("local", scheduler="tcp://127.0.0.1:9")


def test_a_batch_gives_each_trial_its_alone_rows_on_every_executor():
    """Configs of one schedule in one Batch (trials subsets too) = each (config, trial) trained alone (E = 1)."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.engine.run import run_batch
    from fpe_train.sweeps.executors import Batch

    base = dict(
        k=2,
        splits=("random", "clause"),
        trials=3,
        warmup_epochs=2,
        epochs=2,
        n_train=64,
        n_test=32,
        batch_size=32,
        device="cpu",
    )
    configs = [TrainConfig(clauses=3, r=2, **base), TrainConfig(clauses=4, r=3, alpha=4, lr=3e-3, **base)]
    jobs = (
        Job(config_hash(configs[0]), configs[0], (0, 2)),
        Job(config_hash(configs[1]), configs[1], (1,)),
    )
    alone = {}
    for c, j in zip(configs, jobs, strict=True):
        for t in j.trials:
            (rows,) = run_batch([(c, (t,))]).rows[0].values()  # E = 1 in the warm-up
            alone[(j.config_hash, t)] = rows
    batch = Batch(jobs)
    local = LocalExecutor(workers=1, threads=1)
    dask = DaskExecutor(workers=1, threads=1, processes=False)
    try:
        for ex in (SerialExecutor(threads=1), local, dask):
            got = strip(ex.map([batch]))
            assert got.keys() == alone.keys()
            for key, rows in got.items():
                for a, b in zip(rows, alone[key], strict=True):
                    assert {k: v for k, v in a.items() if k not in ("seconds", *FLOATS)} == {
                        k: v for k, v in b.items() if k not in ("seconds", *FLOATS)
                    }
                    assert all(a[k] == pytest.approx(b[k], abs=1e-6) for k in FLOATS)
    finally:
        local.close()
        dask.close()
