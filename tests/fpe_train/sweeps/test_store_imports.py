"""Reading a results store needs pandas, not torch or numba (a fresh interpreter, checked via sys.modules)."""

import subprocess
import sys

SCRIPT = """
import sys
from fpe_train.sweeps.store import ResultsStore
with ResultsStore(sys.argv[1]) as s:
    e = [0.5, 0.25, 0.0, 1.0]  # estimate, stderr, ci_low, ci_high: the shape monte_carlo() checks
    record = {q: e for q in ("p_all_covered", "expected_covered", "expected_collisions", "neurons_cover_ge1",
                             "neurons_cover_ge2")}
    s.put_monte_carlo("k", dict(m=4, k=2, alpha=2, family="random", r=1, trials=1, seed=0), record)
with ResultsStore(sys.argv[1], create=False) as s:
    frame, mc = s.frame(), s.monte_carlo()
print(len(frame.columns), len(mc), sorted(m for m in ("torch", "numba", "llvmlite") if m in sys.modules))
"""


def test_reading_a_store_imports_no_torch(tmp_path):
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "r.db")], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    n_columns, n_mc, heavy = res.stdout.split(maxsplit=2)
    assert int(n_columns) > 20 and int(n_mc) == 1 and heavy.strip() == "[]"


STATUS = """
import sys
import cli
sys.argv = ["fpe-theory", "sweep", "status", "--store", sys.argv[1], "--json"]
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in ("torch", "numba", "llvmlite") if m in sys.modules), file=sys.stderr)
"""


def test_sweep_status_with_its_remaining_estimate_imports_no_torch(tmp_path):
    """`sweep status` (counts and the remaining-time estimate from the plan's shapes) reads, never trains."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.engine.rows import ROW_FIELDS
    from fpe_train.sweeps.store import ResultsStore, RunRecord, config_hash

    config = TrainConfig(clauses=2, k=2, r=2, splits=("random",), trials=3, depth=2)
    with ResultsStore(tmp_path / "r.db") as s:
        s.register("tiny", "quick", [config])
        rows = [
            {**dict.fromkeys(ROW_FIELDS), "trial": 0, "variant": v, "test_accuracy": 0.5, "seconds": 0.5}
            for v in ("dense", "random")
        ]
        s.record(RunRecord(config_hash(config), 0, "done", seed=0, metrics=rows, seconds=1.0))  # timed: an estimate
    res = subprocess.run(
        [sys.executable, "-c", STATUS, str(tmp_path / "r.db")], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert '"pending": 2' in res.stdout and '"remaining_seconds": null' not in res.stdout
    assert res.stderr.strip().splitlines()[-1] == "[]"
