"""run_sweep: runs only what the store lacks, records failures, retries on request; real engine end to end."""

import sqlite3

import pytest

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.run import run_config
from fpe_train.sweeps.store import ResultsStore, config_hash
from fpe_train.sweeps.sweep import load_sweep, run_sweep

CALLS = []  # configs the fake run function saw (in-process, serial executor)
BROKEN = {3}  # neurons for which the fake run fails


def fake_run(config):
    """A stand-in for run_config: rows that are a plain function of the config; fails for BROKEN widths."""
    CALLS.append(config)
    if config.r in BROKEN:
        raise RuntimeError(f"boom at r={config.r}")
    return [
        {
            "trial": t,
            "seed": config.seed,
            "variant": v,
            "test_accuracy": config.r / 100 + t / 1000,
            "device": "cpu",
        }
        for t in range(config.trials)
        for v in config.variants
    ]


FAKE = f"{__name__}:fake_run"
SWEEP = """
[base]
clauses = 2
k = 2
splits = ["random"]
trials = 2
[grid]
r = [2, 3, 4]
"""


@pytest.fixture
def sweep(tmp_path):
    p = tmp_path / "demo.toml"
    p.write_text(SWEEP)
    CALLS.clear()
    BROKEN.clear()
    BROKEN.add(3)
    return load_sweep(p, "quick")


def test_resume_skips_finished_and_records_failures(tmp_path, sweep):
    with ResultsStore(tmp_path / "r.db") as store:
        first = run_sweep(sweep, store, progress=False, run_fn=FAKE)
        assert (first.done, first.failed, first.skipped) == (4, 2, 0)
        assert sorted(c.r for c in CALLS) == [2, 3, 4]
        (st,) = store.status()
        assert (st.done, st.failed, st.pending) == (4, 2, 0)
        f = store.frame()
        assert set(f.loc[f.status == "failed", "error"]) == {"RuntimeError: boom at r=3 (at test_sweep_run.py:20)"}
        CALLS.clear()
        again = run_sweep(sweep, store, progress=False, run_fn=FAKE)
        assert (again.done, again.failed, again.skipped, again.not_retried) == (0, 0, 4, 2) and CALLS == []
        BROKEN.clear()
        retry = run_sweep(sweep, store, progress=False, run_fn=FAKE, retry_failed=True)
        assert (retry.done, retry.failed, retry.skipped) == (2, 0, 4) and [c.r for c in CALLS] == [3]
        f = store.frame()
    assert len(f) == 3 * 2 * 2 and set(f.status) == {"done"}
    expected = {(n, t): n / 100 + t / 1000 for n in (2, 3, 4) for t in (0, 1)}
    assert {(r.r, r.trial): r.test_accuracy for r in f.itertuples()} == expected


def test_missing_trial_of_a_config_is_run_alone(tmp_path, sweep):
    path = tmp_path / "r.db"
    BROKEN.clear()
    with ResultsStore(path) as store:
        run_sweep(sweep, store, progress=False, run_fn=FAKE)
    h = config_hash(sweep.configs[1])
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM runs WHERE config_hash = ? AND trial = 1", (h,))
    con.close()
    CALLS.clear()
    with ResultsStore(path) as store:
        summary = run_sweep(sweep, store, progress=False, run_fn=FAKE)
        assert (summary.done, summary.skipped) == (1, 5) and [c.r for c in CALLS] == [3]
        assert len(store.frame()) == 12


def test_bad_executor_and_busy_store(tmp_path, sweep):
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(ValueError, match="executor='gpu'"):
            run_sweep(sweep, store, executor="gpu", progress=False, run_fn=FAKE)
        with ResultsStore(tmp_path / "r.db") as other, other.lock():
            with pytest.raises(ValueError, match="busy"):
                run_sweep(sweep, store, progress=False, run_fn=FAKE)
        assert store.status() == []  # nothing registered, nothing written


def test_real_engine_end_to_end(tmp_path):
    text = """
[base]
splits = ["random"]
trials = 2
warmup_epochs = 2
epochs = 2
n_train = 80
n_test = 40
batch_size = 40
device = "cpu"
[[grid.data]]
task = "boolean"
clauses = 3
k = 2
r = 2
[[grid.data]]
task = "digits"
r = 3
splits = ["random", "gram"]
"""
    p = tmp_path / "e2e.toml"
    p.write_text(text)
    sw = load_sweep(p, "quick")
    with ResultsStore(tmp_path / "r.db") as store:
        summary = run_sweep(sw, store, progress=False)
        f = store.frame()
    assert (summary.done, summary.failed) == (4, 0)
    assert len(f) == 2 * 3 + 2 * 4 and set(f.status)  # variants + dense_warmup == {"done"}
    direct = run_config(
        TrainConfig(
            task="boolean",
            clauses=3,
            k=2,
            r=2,
            splits=("random",),
            trials=2,
            warmup_epochs=2,
            epochs=2,
            n_train=80,
            n_test=40,
            batch_size=40,
            device="cpu",
        )
    )
    stored = f[f.task == "boolean"].sort_values(["trial", "variant"])
    for row in direct:
        got = stored[(stored.trial == row["trial"]) & (stored.variant == row["variant"])].iloc[0]
        for key in ("test_accuracy", "train_accuracy", "nonzero_params", "capacity", "cosine", "mask_collisions"):
            assert got[key] == row[key], key
    assert f.loc[f.task == "digits", "mask_covered"].isna().all()  # coverage does not apply to vision


class Counter:
    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


def test_overall_progress_counts_each_pending_trial_once(tmp_path, sweep):
    """Two sweeps sharing configs: the overall bar's total is the distinct pending (config, trial) pairs, and
    every trial recorded (done or failed) moves it once."""
    from fpe_train.sweeps.sweep import pending_trials

    other = load_sweep(write_other(tmp_path), "quick")  # r = 2 (shared) and r = 5 (new), 2 trials each
    with ResultsStore(tmp_path / "r.db") as store:
        expected = len({(config_hash(c), t) for s in (sweep, other) for c in s.configs for t in range(c.trials)})
        assert pending_trials([sweep, other], store) == expected == 8
        bar = Counter()
        for s in (sweep, other):
            run_sweep(s, store, executor="serial", progress=False, run_fn=FAKE, overall=bar)
        assert bar.n == expected  # r = 3 fails: a recorded failure is progress too
        assert pending_trials([sweep, other], store) == 0


def write_other(tmp_path):
    p = tmp_path / "other.toml"
    p.write_text(SWEEP.replace("r = [2, 3, 4]", "r = [2, 5]"))
    return p
